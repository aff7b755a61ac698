/* SPDX-License-Identifier: Apache-2.0 */
/* Fixture for metadata tests: a temp dir with a freshly opened store. */
#ifndef BERTH_TEST_META_FIXTURE_H
#define BERTH_TEST_META_FIXTURE_H

#include "metadata/db.h"
#include "tests/unit/helpers/berth_test.h"

struct meta_env {
    struct berth_test_env *tmp;
    char *dir; /* <tmp>/metadata */
    struct berth_meta_db *db;
};

int meta_setup(void **state);
int meta_teardown(void **state);
/* Closes and reopens env->db (same files). */
void meta_reopen(struct meta_env *env);
/* Closes env->db, puts key = val with raw LMDB calls (no validation, no encoding: for
 * injecting damage) and reopens it. */
void meta_raw_put(struct meta_env *env, const char *key, const void *val, size_t len);

#endif
