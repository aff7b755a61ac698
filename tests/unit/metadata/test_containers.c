/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for metadata/containers.c and metadata/namespaces.c over a real LMDB store. */
#include "tests/unit/helpers/meta_fixture.h"

#include <stdio.h>
#include <string.h>

#include "lib/filters.h"
#include "lib/util.h"
#include "metadata/containers.h"
#include "metadata/namespaces.h"
#include "tests/unit/helpers/lmdb_raw.h"

struct op {
    int kind; /* 0 create, 1 update, 2 delete, 3 ns create, 4 ns update, 5 ns delete */
    const char *ns;
    struct berth_container *c;
    char *const *paths;
    size_t n_paths;
    struct berth_container *result;
    struct berth_labels *labels;
};

static int op_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct op *o = arg;

    switch (o->kind) {
    case 0:
        return berth_meta_containers_create(txn, o->ns, o->c, err);
    case 1:
        return berth_meta_containers_update(txn, o->ns, o->c, o->paths, o->n_paths, &o->result,
                                            err);
    case 2:
        return berth_meta_containers_delete(txn, o->ns, o->c->id, err);
    case 3:
        return berth_meta_namespaces_create(txn, o->ns, o->labels, err);
    case 4:
        return berth_meta_namespaces_update(txn, o->ns, o->labels, o->paths, o->n_paths, err);
    default:
        return berth_meta_namespaces_delete(txn, o->ns, err);
    }
}

static int run(struct meta_env *env, struct op *o, struct berth_err **err)
{
    return berth_meta_update(env->db, op_cb, o, err);
}

static struct berth_container *make(const char *id)
{
    struct berth_container *c = berth_container_new();
    static const uint8_t spec[] = "{\"ociVersion\":\"1.0.2\"}";

    c->id = berth_xstrdup(id);
    c->image = berth_xstrdup("docker.io/library/busybox:latest");
    c->runtime_name = berth_xstrdup("io.containerd.berth.v1");
    c->spec.present = true;
    c->spec.type_url = berth_xstrdup("types.containerd.io/opencontainers/runtime-spec/1/Spec");
    c->spec.value.data = berth_xmalloc(sizeof(spec) - 1);
    memcpy(c->spec.value.data, spec, sizeof(spec) - 1);
    c->spec.value.len = sizeof(spec) - 1;
    /* present with an empty value, as ctr sends runc options */
    c->runtime_options.present = true;
    c->runtime_options.type_url = berth_xstrdup("containerd.runc.v1.Options");
    berth_labels_set(&c->labels, "k0", "v0");
    return c;
}

static struct berth_container *get(struct meta_env *env, const char *ns, const char *id,
                                   struct berth_err **err)
{
    struct berth_meta_txn *txn = NULL;
    struct berth_container *c = NULL;

    assert_ok(berth_meta_txn_begin_read(env->db, &txn, err), err);
    berth_meta_containers_get(txn, ns, id, &c, err);
    berth_meta_txn_abort(txn);
    return c;
}

static void test_containers_create_get_roundtrip(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_container *c = make("web"), *got;
    struct op o = {.kind = 0, .ns = "default", .c = c};

    assert_ok(run(env, &o, &err), &err);
    got = get(env, "default", "web", &err);
    assert_non_null(got);
    assert_string_equal(got->image, c->image);
    assert_true(got->spec.present);
    assert_int_equal(got->spec.value.len, c->spec.value.len);
    assert_memory_equal(got->spec.value.data, c->spec.value.data, c->spec.value.len);
    assert_true(got->runtime_options.present);
    assert_int_equal(got->runtime_options.value.len, 0);
    assert_string_equal(berth_labels_get(&got->labels, "k0"), "v0");
    assert_true(got->created_ns > 0);
    assert_int_equal(got->created_ns, got->updated_ns);
    berth_container_free(got);
    berth_container_free(c);
}

static void test_containers_create_duplicate_is_already_exists(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_container *c = make("dup");
    struct op o = {.kind = 0, .ns = "default", .c = c};

    assert_ok(run(env, &o, &err), &err);
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    berth_container_free(c);
}

static void test_containers_create_invalid_is_invalid_argument(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    static const char *bad_ids[] = {"", "-a", "a..b", "a_", "has space", "sl/ash"};
    char big[5000];

    for (size_t i = 0; i < BERTH_N(bad_ids); i++) {
        struct berth_container *c = make("x");
        struct op o = {.kind = 0, .ns = "default", .c = c};
        free(c->id);
        c->id = berth_xstrdup(bad_ids[i]);
        assert_int_equal(run(env, &o, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        berth_container_free(c);
    }
    {
        struct berth_container *c = make("nort");
        struct op o = {.kind = 0, .ns = "default", .c = c};
        free(steal_ptr(c->runtime_name));
        assert_int_equal(run(env, &o, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        berth_container_free(c);
    }
    {
        struct berth_container *c = make("nospec");
        struct op o = {.kind = 0, .ns = "default", .c = c};
        berth_any_clear(&c->spec);
        assert_int_equal(run(env, &o, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        berth_container_free(c);
    }
    {
        struct berth_container *c = make("snapkey");
        struct op o = {.kind = 0, .ns = "default", .c = c};
        c->snapshot_key = berth_xstrdup("snapkey");
        assert_int_equal(run(env, &o, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        berth_container_free(c);
    }
    {
        struct berth_container *c = make("biglabel");
        struct op o = {.kind = 0, .ns = "default", .c = c};
        memset(big, 'v', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        berth_labels_set(&c->labels, "big", big);
        assert_int_equal(run(env, &o, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        berth_container_free(c);
    }
    {
        struct berth_container *c = make("badns");
        struct op o = {.kind = 0, .ns = "bad..ns", .c = c};
        assert_int_equal(run(env, &o, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        berth_container_free(c);
    }
    /* nothing was written, not even the namespace */
    {
        struct berth_meta_txn *txn = NULL;
        char **names = NULL;
        assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
        assert_ok(berth_meta_namespaces_list(txn, &names, &err), &err);
        assert_null(names[0]);
        berth_strv_free(names);
        berth_meta_txn_abort(txn);
    }
}

static void test_containers_update_fieldpaths(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_container *c = make("upd"), *req = make("upd");
    struct op o = {.kind = 0, .ns = "default", .c = c};
    char *paths[] = {"labels.k1", "labels.k0"};
    char *bad[] = {"runtime"};
    int64_t created;

    assert_ok(run(env, &o, &err), &err);
    created = c->created_ns;
    berth_labels_set(&req->labels, "k1", "v1");
    berth_labels_del(&req->labels, "k0");
    free(req->image);
    req->image = berth_xstrdup("ignored/not-in-mask");
    o = (struct op){.kind = 1, .ns = "default", .c = req, .paths = paths, .n_paths = 2};
    assert_ok(run(env, &o, &err), &err);
    assert_non_null(o.result);
    assert_string_equal(berth_labels_get(&o.result->labels, "k1"), "v1");
    assert_null(berth_labels_get(&o.result->labels, "k0"));
    assert_string_equal(o.result->image, "docker.io/library/busybox:latest");
    assert_int_equal(o.result->created_ns, created);
    assert_true(o.result->updated_ns >= created);
    berth_container_free(o.result);

    o = (struct op){.kind = 1, .ns = "default", .c = req, .paths = bad, .n_paths = 1};
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);

    /* empty mask: runtime name must not change */
    free(req->runtime_name);
    req->runtime_name = berth_xstrdup("io.containerd.runc.v2");
    o = (struct op){.kind = 1, .ns = "default", .c = req};
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);

    /* missing container */
    free(req->id);
    req->id = berth_xstrdup("nope");
    o = (struct op){.kind = 1, .ns = "default", .c = req, .paths = paths, .n_paths = 1};
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_container_free(req);
    berth_container_free(c);
}

static void test_containers_list_filters_and_namespaces(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    const char *ids[] = {"a1", "a2", "b1"};
    struct berth_filter *f = NULL;
    const char *filters[] = {"labels.k0==v0,id~=^a", "id==b1"};
    struct berth_meta_txn *txn = NULL;
    struct berth_container **v = NULL;
    size_t n = 0;

    for (size_t i = 0; i < BERTH_N(ids); i++) {
        struct berth_container *c = make(ids[i]);
        struct op o = {.kind = 0, .ns = i < 2 ? "one" : "two", .c = c};
        if (i == 1)
            berth_labels_set(&c->labels, "k0", "other");
        assert_ok(run(env, &o, &err), &err);
        berth_container_free(c);
    }
    assert_ok(berth_filter_parse(filters, 1, &f, &err), &err);
    assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
    assert_ok(berth_meta_containers_list(txn, "one", f, &v, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_string_equal(v[0]->id, "a1");
    berth_containers_free(v, n);
    berth_filter_free(f);
    assert_ok(berth_filter_parse(filters, 2, &f, &err), &err);
    assert_ok(berth_meta_containers_list(txn, "two", f, &v, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_string_equal(v[0]->id, "b1");
    berth_containers_free(v, n);
    assert_ok(berth_meta_containers_list(txn, "one", NULL, &v, &n, &err), &err);
    assert_int_equal(n, 2);
    berth_containers_free(v, n);
    berth_filter_free(f);
    berth_meta_txn_abort(txn);
}

static void test_namespaces_lifecycle(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_labels l = {0}, got = {0};
    struct berth_container *c = make("c1");
    struct op o;
    char *paths[] = {"labels.b"};
    char *bad[] = {"name"};
    struct berth_meta_txn *txn = NULL;

    berth_labels_set(&l, "a", "1");
    o = (struct op){.kind = 3, .ns = "n1", .labels = &l};
    assert_ok(run(env, &o, &err), &err);
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);

    berth_labels_set(&l, "b", "2");
    o = (struct op){.kind = 4, .ns = "n1", .labels = &l, .paths = paths, .n_paths = 1};
    assert_ok(run(env, &o, &err), &err);
    o = (struct op){.kind = 4, .ns = "n1", .labels = &l, .paths = bad, .n_paths = 1};
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);

    assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
    assert_ok(berth_meta_namespaces_get(txn, "n1", &got, &err), &err);
    assert_string_equal(berth_labels_get(&got, "a"), "1");
    assert_string_equal(berth_labels_get(&got, "b"), "2");
    assert_int_equal(berth_meta_namespaces_get(txn, "ghost", &got, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_meta_txn_abort(txn);

    /* a container in it blocks deletion */
    o = (struct op){.kind = 0, .ns = "n1", .c = c};
    assert_ok(run(env, &o, &err), &err);
    o = (struct op){.kind = 5, .ns = "n1"};
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    o = (struct op){.kind = 2, .ns = "n1", .c = c};
    assert_ok(run(env, &o, &err), &err);
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    o = (struct op){.kind = 5, .ns = "n1"};
    assert_ok(run(env, &o, &err), &err);
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);

    berth_labels_clear(&l);
    berth_labels_clear(&got);
    berth_container_free(c);
}

static void test_containers_list_skips_and_reports_a_corrupt_record(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_container *c = NULL, **v = NULL;
    struct berth_meta_txn *txn = NULL;
    struct berth_test_corrupt_seen seen = {0};
    size_t n = 0;
    struct op o;

    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "c%d", i);
        c = make(id);
        o = (struct op){.kind = 0, .ns = "n1", .c = c};
        assert_ok(run(env, &o, &err), &err);
        berth_container_free(c);
    }
    /* garbage where c1's value was */
    meta_raw_put(env, "c/n1/c1", BERTH_TEST_GARBAGE, BERTH_TEST_GARBAGE_LEN);
    berth_meta_db_set_corrupt_hook(env->db, berth_test_corrupt_seen_cb, &seen);

    /* Before: the whole listing failed with INTERNAL. */
    assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
    assert_ok(berth_meta_containers_list(txn, "n1", NULL, &v, &n, &err), &err);
    berth_meta_txn_abort(txn);
    assert_int_equal(n, 2);
    assert_string_equal(v[0]->id, "c0");
    assert_string_equal(v[1]->id, "c2");
    berth_containers_free(v, n);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.last, "c/n1/c1");
    assert_int_equal(berth_meta_db_corrupt_skips(env->db), 1);

    /* A get of exactly that record names it. */
    assert_null(get(env, "n1", "c1", &err));
    assert_non_null(strstr(err->msg, "c/n1/c1"));
    assert_err_code(err, BERTH_E_DATA_LOSS);
    c = get(env, "n1", "c2", &err);
    assert_non_null(c);
    berth_container_free(c);

    /* It stays in place, and delete still removes it. */
    c = make("c1");
    o = (struct op){.kind = 2, .ns = "n1", .c = c};
    assert_ok(run(env, &o, &err), &err);
    berth_container_free(c);
    berth_meta_db_set_corrupt_hook(env->db, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_containers_create_get_roundtrip, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_containers_create_duplicate_is_already_exists,
                                        meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_containers_create_invalid_is_invalid_argument,
                                        meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_containers_update_fieldpaths, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_containers_list_filters_and_namespaces, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_namespaces_lifecycle, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_containers_list_skips_and_reports_a_corrupt_record,
                                        meta_setup, meta_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
