/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for metadata/content.c over a real store: blob records, filters, update paths,
 * ingest records and namespace deletion. */
#include "tests/unit/helpers/meta_fixture.h"

#include <string.h>

#include "lib/filters.h"
#include "lib/util.h"
#include "metadata/content.h"
#include "metadata/namespaces.h"

#define D1 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define D2 "sha256:0000000000000000000000000000000000000000000000000000000000000001"

enum kind { PUT, DEL, UPDATE, INGEST_PUT, INGEST_DEL, NS_DELETE };

struct op {
    enum kind kind;
    const char *ns;
    struct berth_content_info *info;
    char *const *paths;
    size_t n_paths;
    struct berth_content_info *out;
    struct berth_content_ingest *ingest;
};

static int op_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct op *o = arg;

    switch (o->kind) {
    case PUT:
        return berth_meta_content_put(txn, o->ns, o->info, err);
    case DEL:
        return berth_meta_content_delete(txn, o->ns, o->info->digest, err);
    case UPDATE:
        berth_content_info_free(o->out);
        o->out = NULL;
        return berth_meta_content_update(txn, o->ns, o->info, o->paths, o->n_paths, &o->out, err);
    case INGEST_PUT:
        return berth_meta_content_ingest_put(txn, o->ns, o->ingest, err);
    case INGEST_DEL:
        return berth_meta_content_ingest_delete(txn, o->ns, o->ingest->ref, err);
    default:
        return berth_meta_namespaces_delete(txn, o->ns, err);
    }
}

static int put(struct meta_env *env, const char *ns, const char *digest, int64_t size,
               const char *k, const char *v, struct berth_err **err)
{
    struct berth_content_info info = {.digest = (char *)digest, .size = size};
    struct op o = {.kind = PUT, .ns = ns, .info = &info};
    int ret;

    if (k)
        berth_labels_set(&info.labels, k, v);
    ret = berth_meta_update(env->db, op_cb, &o, err);
    berth_labels_clear(&info.labels);
    return ret;
}

static struct berth_content_info *get(struct meta_env *env, const char *ns, const char *digest,
                                      struct berth_err **err)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_content_info *i = NULL;

    if (berth_meta_txn_begin_read(env->db, &txn, err) < 0)
        return NULL;
    if (berth_meta_content_get(txn, ns, digest, &i, err) < 0)
        return NULL;
    return i;
}

static void test_content_put_get_delete(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_content_info *i;
    struct berth_content_info key = {.digest = D1};
    struct op o = {.kind = DEL, .ns = "ns1", .info = &key};
    int64_t created;

    assert_ok(put(env, "ns1", D1, 42, "a", "b", &err), &err);
    i = get(env, "ns1", D1, &err);
    assert_non_null(i);
    assert_int_equal(i->size, 42);
    assert_string_equal(berth_labels_get(&i->labels, "a"), "b");
    created = i->created_ns;
    assert_true(created > 0);
    berth_content_info_free(i);
    /* namespaced: another namespace does not see it */
    assert_null(get(env, "ns2", D1, &err));
    assert_err_code(err, BERTH_E_NOT_FOUND);
    /* replace keeps created */
    assert_ok(put(env, "ns1", D1, 42, NULL, NULL, &err), &err);
    i = get(env, "ns1", D1, &err);
    assert_int_equal(i->created_ns, created);
    assert_int_equal(i->labels.n, 0);
    berth_content_info_free(i);
    /* namespace with a blob cannot be deleted */
    {
        struct op nd = {.kind = NS_DELETE, .ns = "ns1"};
        assert_int_equal(berth_meta_update(env->db, op_cb, &nd, &err), -1);
        assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    }
    assert_ok(berth_meta_update(env->db, op_cb, &o, &err), &err);
    assert_int_equal(berth_meta_update(env->db, op_cb, &o, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_content_put_rejects_bad_input(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    _cleanup_free_ char *big = berth_xmalloc(5000);

    memset(big, 'v', 4999);
    big[4999] = '\0';
    assert_int_equal(put(env, "ns1", "sha256:nothex", 1, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(put(env, "ns1", D1, -1, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(put(env, "ns1", D1, 1, "k", big, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_null(get(env, "ns1", D1, &err));
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_content_update_paths(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_content_info info = {.digest = D1};
    char *p1[] = {"labels.containerd.io/gc.ref.snapshot.overlayfs"};
    char *p2[] = {"labels.a"};
    char *p3[] = {"size"};
    struct op o = {.kind = UPDATE, .ns = "ns1", .info = &info};

    assert_ok(put(env, "ns1", D1, 1, "a", "1", &err), &err);
    berth_labels_set(&info.labels, "containerd.io/gc.ref.snapshot.overlayfs", "sha256:x");
    o.paths = p1;
    o.n_paths = 1;
    assert_ok(berth_meta_update(env->db, op_cb, &o, &err), &err);
    assert_string_equal(berth_labels_get(&o.out->labels, "containerd.io/gc.ref.snapshot.overlayfs"),
                        "sha256:x");
    assert_string_equal(berth_labels_get(&o.out->labels, "a"), "1");
    /* labels.a absent from info: removed */
    o.paths = p2;
    assert_ok(berth_meta_update(env->db, op_cb, &o, &err), &err);
    assert_null(berth_labels_get(&o.out->labels, "a"));
    assert_int_equal(o.out->labels.n, 1);
    /* unknown path */
    o.paths = p3;
    assert_int_equal(berth_meta_update(env->db, op_cb, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* no paths: replace all labels */
    berth_labels_clear(&info.labels);
    berth_labels_set(&info.labels, "z", "9");
    o.n_paths = 0;
    assert_ok(berth_meta_update(env->db, op_cb, &o, &err), &err);
    assert_int_equal(o.out->labels.n, 1);
    assert_string_equal(berth_labels_get(&o.out->labels, "z"), "9");
    /* missing digest */
    info.digest = D2;
    assert_int_equal(berth_meta_update(env->db, op_cb, &o, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_labels_clear(&info.labels);
    berth_content_info_free(o.out);
}

static void test_content_list_filters(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_filter *f = NULL;
    struct berth_content_info **v = NULL;
    size_t n = 0;
    const char *q1[] = {"labels.\"containerd.io/uncompressed\"==sha256:abc"};
    const char *q2[] = {"digest==" D2};
    bool ref = false;

    assert_ok(put(env, "ns1", D1, 1, "containerd.io/uncompressed", "sha256:abc", &err), &err);
    assert_ok(put(env, "ns1", D2, 2, "other", "x", &err), &err);
    assert_ok(put(env, "ns2", D2, 2, NULL, NULL, &err), &err);
    assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
    assert_ok(berth_meta_content_list(txn, "ns1", NULL, &v, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(v[0]->digest, D2); /* sorted: "sha256:0..." < "sha256:e..." */
    berth_content_infos_free(v, n);
    assert_ok(berth_filter_parse(q1, 1, &f, &err), &err);
    assert_ok(berth_meta_content_list(txn, "ns1", f, &v, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_string_equal(v[0]->digest, D1);
    berth_content_infos_free(v, n);
    berth_filter_free(f);
    assert_ok(berth_filter_parse(q2, 1, &f, &err), &err);
    assert_ok(berth_meta_content_list(txn, "ns1", f, &v, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_int_equal(v[0]->size, 2);
    berth_content_infos_free(v, n);
    berth_filter_free(f);
    assert_ok(berth_meta_content_referenced(txn, D2, &ref, &err), &err);
    assert_true(ref);
}

static void test_content_ingest_records(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_content_ingest in = {.ref = "index-sha256:abc/x", .expires_ns = 77};
    struct op o = {.kind = INGEST_PUT, .ns = "ns1", .ingest = &in};
    struct berth_content_ingest **v = NULL, *got = NULL;
    size_t n = 0;

    assert_ok(berth_meta_update(env->db, op_cb, &o, &err), &err);
    {
        _cleanup_txn_ struct berth_meta_txn *txn = NULL;
        assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
        assert_ok(berth_meta_content_ingest_get(txn, "ns1", in.ref, &got, &err), &err);
        assert_int_equal(got->expires_ns, 77);
        berth_content_ingest_free(got);
        assert_ok(berth_meta_content_ingest_list(txn, "ns1", &v, &n, &err), &err);
        assert_int_equal(n, 1);
        assert_string_equal(v[0]->ref, in.ref);
        berth_content_ingests_free(v, n);
    }
    /* ingests do not block namespace deletion and go with it */
    {
        struct op nd = {.kind = NS_DELETE, .ns = "ns1"};
        _cleanup_txn_ struct berth_meta_txn *txn = NULL;
        assert_ok(berth_meta_update(env->db, op_cb, &nd, &err), &err);
        assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
        assert_ok(berth_meta_content_ingest_list(txn, NULL, &v, &n, &err), &err);
        assert_int_equal(n, 0);
        berth_content_ingests_free(v, n);
    }
    o.kind = INGEST_DEL;
    assert_int_equal(berth_meta_update(env->db, op_cb, &o, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

#define T(f) cmocka_unit_test_setup_teardown(f, meta_setup, meta_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_content_put_get_delete), T(test_content_put_rejects_bad_input),
        T(test_content_update_paths),   T(test_content_list_filters),
        T(test_content_ingest_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
