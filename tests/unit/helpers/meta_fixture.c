/* SPDX-License-Identifier: Apache-2.0 */
/* Metadata store fixture (see meta_fixture.h). */
#include "tests/unit/helpers/meta_fixture.h"

#include "lib/util.h"
#include "tests/unit/helpers/lmdb_raw.h"

int meta_setup(void **state)
{
    struct meta_env *env = berth_xcalloc(1, sizeof(*env));
    struct berth_err *err = NULL;
    void *tmp = NULL;
    struct berth_meta_opts opts = {.map_size = 64 << 20};

    if (berth_test_setup_tmpdir(&tmp) < 0)
        return -1;
    env->tmp = tmp;
    env->dir = berth_strdup_printf("%s/metadata", env->tmp->dir);
    if (berth_meta_db_open(env->dir, &opts, &env->db, &err) < 0) {
        print_error("open store: %s\n", err->msg);
        berth_err_free(&err);
        return -1;
    }
    *state = env;
    return 0;
}

void meta_reopen(struct meta_env *env)
{
    struct berth_err *err = NULL;
    struct berth_meta_opts opts = {.map_size = 64 << 20};

    berth_meta_db_close(env->db);
    env->db = NULL;
    if (berth_meta_db_open(env->dir, &opts, &env->db, &err) < 0)
        fail_msg("reopen store: %s", err->msg);
}

void meta_raw_put(struct meta_env *env, const char *key, const void *val, size_t len)
{
    berth_meta_db_close(env->db);
    env->db = NULL;
    berth_test_lmdb_put(env->dir, key, val, len);
    meta_reopen(env);
}

int meta_teardown(void **state)
{
    struct meta_env *env = *state;
    void *tmp;

    if (!env)
        return 0;
    berth_meta_db_close(env->db);
    tmp = env->tmp;
    berth_test_teardown_tmpdir(&tmp);
    free(env->dir);
    free(env);
    *state = NULL;
    return 0;
}
