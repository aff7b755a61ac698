/* SPDX-License-Identifier: Apache-2.0 */
/* Store damage for tests (see lmdb_raw.h). */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "tests/unit/helpers/lmdb_raw.h"

void berth_test_lmdb_put(const char *dir, const char *key, const void *val, size_t len)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};
    int rc;

    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_mapsize(env, 64 << 20)) != 0 ||
        (rc = mdb_env_open(env, dir, 0, 0600)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0 || (rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
        fail_msg("raw put of \"%s\" in \"%s\": %s", key, dir, mdb_strerror(rc));
    if ((rc = mdb_txn_commit(txn)) != 0)
        fail_msg("raw commit in \"%s\": %s", dir, mdb_strerror(rc));
    mdb_env_close(env);
}

void berth_test_truncate_half(const char *dir)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/data.mdb", dir);
    struct stat sb;

    if (stat(path, &sb) < 0 || truncate(path, (sb.st_size / 2) & ~(off_t)4095) < 0)
        fail_msg("truncate \"%s\": %s", path, strerror(errno));
}

bool berth_test_tmpfs_mount(const char *dir, size_t size)
{
    _cleanup_free_ char *opts = berth_strdup_printf("size=%zu,mode=0700", size);

    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return false;
    return mount("tmpfs", dir, "tmpfs", 0, opts) == 0;
}

void berth_test_tmpfs_umount(const char *dir)
{
    if (dir)
        (void)umount2(dir, MNT_DETACH);
}

void berth_test_corrupt_seen_cb(void *arg, const char *key)
{
    struct berth_test_corrupt_seen *s = arg;

    s->n++;
    snprintf(s->last, sizeof(s->last), "%s", key);
}
