/* SPDX-License-Identifier: Apache-2.0 */
/* Damage for tests of damaged stores: raw LMDB writes behind the store's back, truncated
 * files, and a small tmpfs to fill up. */
#ifndef BERTH_TEST_LMDB_RAW_H
#define BERTH_TEST_LMDB_RAW_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes no berth record decodes from (field 31 with wire type 7). */
#define BERTH_TEST_GARBAGE     "\xff\xff\xff\xff\xff\xff"
#define BERTH_TEST_GARBAGE_LEN 6

/* Puts key = val into the unnamed database of the LMDB environment in dir, which nothing may
 * have open. Fails the test on error. */
void berth_test_lmdb_put(const char *dir, const char *key, const void *val, size_t len);
/* Cuts dir/data.mdb to half its size (whole pages kept, as a real truncation could). */
void berth_test_truncate_half(const char *dir);
/* Mounts a tmpfs of size bytes on dir (created). False if that is not possible here (not
 * root): the caller skips. */
bool berth_test_tmpfs_mount(const char *dir, size_t size);
/* Lazily unmounts dir; NULL-safe. */
void berth_test_tmpfs_umount(const char *dir);

/* A corrupt-record hook (metadata/db.h) that counts reports and keeps the last key. */
struct berth_test_corrupt_seen {
    int n;
    char last[64];
};
void berth_test_corrupt_seen_cb(void *arg, const char *key);

#endif
