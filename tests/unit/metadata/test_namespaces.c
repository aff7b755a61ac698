/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for metadata/namespaces.c: listing with labels past a record that cannot be decoded. */
#include "tests/unit/helpers/meta_fixture.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "metadata/namespaces.h"
#include "tests/unit/helpers/lmdb_raw.h"

struct ns_op {
    const char *name;
    const struct berth_labels *labels;
};

static int create_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct ns_op *o = arg;
    return berth_meta_namespaces_create(txn, o->name, o->labels, err);
}

static void create(struct meta_env *env, const char *name, const char *k, const char *v)
{
    struct berth_labels l = {0};
    struct ns_op o = {.name = name, .labels = &l};
    struct berth_err *err = NULL;

    if (k)
        berth_labels_set(&l, k, v);
    assert_ok(berth_meta_update(env->db, create_cb, &o, &err), &err);
    berth_labels_clear(&l);
}

static void test_namespaces_list_labels_sorted_with_labels(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_meta_txn *txn = NULL;
    struct berth_namespace *v = NULL;
    size_t n = 9;

    assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
    assert_ok(berth_meta_namespaces_list_labels(txn, &v, &n, &err), &err);
    berth_meta_txn_abort(txn);
    assert_int_equal(n, 0);
    assert_null(v);

    create(env, "n2", NULL, NULL);
    create(env, "n1", "a", "1");
    assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
    assert_ok(berth_meta_namespaces_list_labels(txn, &v, &n, &err), &err);
    berth_meta_txn_abort(txn);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "n1");
    assert_string_equal(berth_labels_get(&v[0].labels, "a"), "1");
    assert_string_equal(v[1].name, "n2");
    assert_int_equal(v[1].labels.n, 0);
    berth_namespaces_free(v, n);
}

static void test_namespaces_list_labels_skips_and_reports_a_corrupt_record(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_meta_txn *txn = NULL;
    struct berth_namespace *v = NULL;
    struct berth_labels got = {0};
    struct berth_test_corrupt_seen seen = {0};
    char **names = NULL;
    size_t n = 0;

    create(env, "n0", NULL, NULL);
    create(env, "n1", NULL, NULL);
    create(env, "n2", "k", "v");
    meta_raw_put(env, "ns/n1", BERTH_TEST_GARBAGE, BERTH_TEST_GARBAGE_LEN);
    berth_meta_db_set_corrupt_hook(env->db, berth_test_corrupt_seen_cb, &seen);

    assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
    /* Before: the service listed names and then failed on the get of n1 (DATA_LOSS). */
    assert_ok(berth_meta_namespaces_list_labels(txn, &v, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "n0");
    assert_string_equal(v[1].name, "n2");
    assert_string_equal(berth_labels_get(&v[1].labels, "k"), "v");
    berth_namespaces_free(v, n);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.last, "ns/n1");
    assert_int_equal(berth_meta_db_corrupt_skips(env->db), 1);

    /* The names alone still include it (the GC must see every namespace), and a get of it
     * names the damage. */
    assert_ok(berth_meta_namespaces_list(txn, &names, &err), &err);
    assert_int_equal(berth_strv_len(names), 3);
    berth_strv_free(names);
    assert_int_equal(berth_meta_namespaces_get(txn, "n1", &got, &err), -1);
    assert_err_code(err, BERTH_E_DATA_LOSS);
    berth_meta_txn_abort(txn);
    berth_meta_db_set_corrupt_hook(env->db, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_namespaces_list_labels_sorted_with_labels, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(
            test_namespaces_list_labels_skips_and_reports_a_corrupt_record, meta_setup,
            meta_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
