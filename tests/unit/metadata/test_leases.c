/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for metadata/leases.c (and the lease part of namespace deletion) over a real store. */
#include "tests/unit/helpers/meta_fixture.h"

#include <stdio.h>
#include <string.h>

#include "lib/filters.h"
#include "lib/util.h"
#include "metadata/leases.h"
#include "metadata/namespaces.h"

#define DGST  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DGST2 "sha256:0000000000000000000000000000000000000000000000000000000000000001"

enum op_kind { CREATE, DELETE, ADD_RES, DEL_RES, ATTACH, DETACH, NS_DELETE };

struct op {
    enum op_kind kind;
    const char *ns, *id, *type, *rid;
    struct berth_lease *lease;
};

static int op_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct op *o = arg;

    switch (o->kind) {
    case CREATE:
        return berth_meta_leases_create(txn, o->ns, o->lease, err);
    case DELETE:
        return berth_meta_leases_delete(txn, o->ns, o->id, err);
    case ADD_RES:
        return berth_meta_leases_add_resource(txn, o->ns, o->id, o->type, o->rid, err);
    case DEL_RES:
        return berth_meta_leases_delete_resource(txn, o->ns, o->id, o->type, o->rid, err);
    case ATTACH:
        return berth_meta_leases_attach(txn, o->ns, o->id, o->type, o->rid, err);
    case DETACH:
        return berth_meta_leases_detach(txn, o->ns, o->id, o->type, o->rid, err);
    default:
        return berth_meta_namespaces_delete(txn, o->ns, err);
    }
}

static int run(struct meta_env *env, enum op_kind kind, const char *ns, const char *id,
               const char *type, const char *rid, struct berth_err **err)
{
    struct op o = {.kind = kind, .ns = ns, .id = id, .type = type, .rid = rid};
    return berth_meta_update(env->db, op_cb, &o, err);
}

static int create(struct meta_env *env, const char *ns, const char *id, const char *k,
                  const char *v, struct berth_err **err)
{
    _cleanup_(berth_lease_freep) struct berth_lease *l = berth_lease_new();
    struct op o = {.kind = CREATE, .ns = ns};

    l->id = berth_xstrdup(id);
    if (k)
        berth_labels_set(&l->labels, k, v);
    o.lease = l;
    return berth_meta_update(env->db, op_cb, &o, err);
}

static struct berth_lease *get(struct meta_env *env, const char *ns, const char *id,
                               struct berth_err **err)
{
    struct berth_meta_txn *txn = NULL;
    struct berth_lease *l = NULL;

    assert_ok(berth_meta_txn_begin_read(env->db, &txn, err), err);
    berth_meta_leases_get(txn, ns, id, &l, err);
    berth_meta_txn_abort(txn);
    return l;
}

/* Lists ns with one filter string (NULL: all) and returns the ids joined with ','. */
static char *list_ids(struct meta_env *env, const char *ns, const char *filter)
{
    struct berth_err *err = NULL;
    struct berth_meta_txn *txn = NULL;
    struct berth_filter *f = NULL;
    struct berth_lease **v = NULL;
    char buf[512] = "";
    size_t n = 0;

    if (filter)
        assert_ok(berth_filter_parse(&filter, 1, &f, &err), &err);
    assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
    assert_ok(berth_meta_leases_list(txn, ns, f, &v, &n, &err), &err);
    berth_meta_txn_abort(txn);
    for (size_t i = 0; i < n; i++) {
        strncat(buf, i ? "," : "", sizeof(buf) - strlen(buf) - 1);
        strncat(buf, v[i]->id, sizeof(buf) - strlen(buf) - 1);
    }
    berth_leases_free(v, n);
    berth_filter_free(f);
    return berth_xstrdup(buf);
}

/* Resources of a lease as "type=id;..." in listing order. */
static char *list_res(struct meta_env *env, const char *ns, const char *id, struct berth_err **err)
{
    struct berth_meta_txn *txn = NULL;
    struct berth_lease_resource *v = NULL;
    char buf[1024] = "";
    size_t n = 0;
    int ret;

    assert_ok(berth_meta_txn_begin_read(env->db, &txn, err), err);
    ret = berth_meta_leases_list_resources(txn, ns, id, &v, &n, err);
    berth_meta_txn_abort(txn);
    if (ret < 0)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char one[300];
        snprintf(one, sizeof(one), "%s%s=%s", i ? ";" : "", v[i].type, v[i].id);
        strncat(buf, one, sizeof(buf) - strlen(buf) - 1);
    }
    berth_lease_resources_free(v, n);
    return berth_xstrdup(buf);
}

static void test_leases_create_get_roundtrip(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    _cleanup_(berth_lease_freep) struct berth_lease *l = NULL;
    struct berth_labels ns_labels = {0};
    struct berth_meta_txn *txn = NULL;
    int64_t before = berth_now_ns();

    assert_ok(create(env, "ns1", "1700000000000000000-AbC_", "a", "b", &err), &err);
    l = get(env, "ns1", "1700000000000000000-AbC_", &err);
    assert_non_null(l);
    assert_string_equal(l->id, "1700000000000000000-AbC_");
    assert_string_equal(berth_labels_get(&l->labels, "a"), "b");
    assert_true(l->created_ns >= before && l->created_ns <= berth_now_ns());
    /* the namespace was created implicitly */
    assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
    assert_ok(berth_meta_namespaces_get(txn, "ns1", &ns_labels, &err), &err);
    berth_meta_txn_abort(txn);
    berth_labels_clear(&ns_labels);
}

static void test_leases_create_duplicate_is_already_exists(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;

    assert_ok(create(env, "default", "l1", NULL, NULL, &err), &err);
    assert_int_equal(create(env, "default", "l1", NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    /* the same id in another namespace is another lease */
    assert_ok(create(env, "other", "l1", NULL, NULL, &err), &err);
}

static void test_leases_ids_rejected(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    char long_id[BERTH_LEASE_ID_MAX + 2];
    static const char *const bad[] = {"", "a/b", "a b", "tab\tid", "\x7f", "caf\xc3\xa9"};

    for (size_t i = 0; i < BERTH_N(bad); i++) {
        assert_int_equal(create(env, "default", bad[i], NULL, NULL, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_int_equal(create(env, "default", long_id, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    long_id[BERTH_LEASE_ID_MAX] = '\0'; /* exactly the limit is fine */
    assert_ok(create(env, "default", long_id, NULL, NULL, &err), &err);
    /* not identifiers, but fine: what ctr and image pulls generate */
    assert_ok(create(env, "default", "123-_-x=", NULL, NULL, &err), &err);
    assert_int_equal(create(env, "default", "extract-1 2", NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* lookups validate too */
    assert_null(get(env, "default", "a/b", &err));
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(run(env, DELETE, "default", "a/b", NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_leases_create_empty_label_key_is_invalid(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;

    assert_int_equal(create(env, "default", "l1", "", "v", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_leases_list_and_filter(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    char *s;

    assert_ok(create(env, "default", "b", "team", "x", &err), &err);
    assert_ok(create(env, "default", "a", "containerd.io/gc.expire", "2024-01-01T00:00:00Z", &err),
              &err);
    assert_ok(create(env, "default", "c", NULL, NULL, &err), &err);
    assert_ok(create(env, "other", "d", NULL, NULL, &err), &err);
    s = list_ids(env, "default", NULL);
    assert_string_equal(s, "a,b,c");
    free(s);
    s = list_ids(env, "default", "id==b");
    assert_string_equal(s, "b");
    free(s);
    s = list_ids(env, "default", "labels.team==x");
    assert_string_equal(s, "b");
    free(s);
    s = list_ids(env, "default", "labels.\"containerd.io/gc.expire\"");
    assert_string_equal(s, "a");
    free(s);
    s = list_ids(env, "default", "id~=^[ab]$,labels.team!=x");
    assert_string_equal(s, "a");
    free(s);
    s = list_ids(env, "empty", NULL);
    assert_string_equal(s, "");
    free(s);
}

static void test_leases_delete_missing_is_not_found(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;

    assert_int_equal(run(env, DELETE, "default", "nope", NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_ok(create(env, "default", "l1", NULL, NULL, &err), &err);
    assert_ok(run(env, DELETE, "default", "l1", NULL, NULL, &err), &err);
    assert_null(get(env, "default", "l1", &err));
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(run(env, DELETE, "default", "l1", NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_leases_resources_add_list_remove(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    char *s;

    assert_ok(create(env, "default", "l1", NULL, NULL, &err), &err);
    assert_ok(create(env, "default", "l10", NULL, NULL, &err), &err); /* prefix neighbour */
    assert_ok(run(env, ADD_RES, "default", "l1", "snapshots/overlayfs", "extract-1 sha256:x", &err),
              &err);
    assert_ok(run(env, ADD_RES, "default", "l1", "ingests", "tar-a/b/c", &err), &err);
    assert_ok(run(env, ADD_RES, "default", "l1", "content", DGST, &err), &err);
    assert_ok(run(env, ADD_RES, "default", "l1", "content", DGST, &err), &err); /* idempotent */
    assert_ok(run(env, ADD_RES, "default", "l1", "snapshots/native", "k/with/slashes", &err), &err);
    assert_ok(run(env, ADD_RES, "default", "l10", "content", DGST2, &err), &err);
    s = list_res(env, "default", "l1", &err);
    assert_non_null(s);
    /* containerd's order: content, ingests, snapshots by snapshotter */
    assert_string_equal(s, "content=" DGST ";ingests=tar-a/b/c;snapshots/native=k/with/slashes;"
                           "snapshots/overlayfs=extract-1 sha256:x");
    free(s);
    assert_ok(run(env, DEL_RES, "default", "l1", "ingests", "tar-a/b/c", &err), &err);
    assert_ok(run(env, DEL_RES, "default", "l1", "ingests", "never-added", &err), &err);
    assert_ok(run(env, DEL_RES, "default", "l1", "snapshots/native", "k/with/slashes", &err), &err);
    s = list_res(env, "default", "l1", &err);
    assert_string_equal(s, "content=" DGST ";snapshots/overlayfs=extract-1 sha256:x");
    free(s);
    s = list_res(env, "default", "l10", &err);
    assert_string_equal(s, "content=" DGST2);
    free(s);
}

static void test_leases_resources_missing_lease_is_not_found(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;

    assert_int_equal(run(env, ADD_RES, "default", "nope", "content", DGST, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    /* the lease is checked before the resource, as containerd does */
    assert_int_equal(run(env, ADD_RES, "default", "nope", "images", "x", &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(run(env, DEL_RES, "default", "nope", "content", DGST, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_null(list_res(env, "default", "nope", &err));
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_leases_resources_bad_types_and_digests(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    static const struct {
        const char *type, *id;
        enum berth_errc code;
    } cases[] = {
        {"images", "docker.io/library/busybox:latest", BERTH_E_NOT_IMPLEMENTED},
        {"", "x", BERTH_E_NOT_IMPLEMENTED},
        {"containers", "c1", BERTH_E_NOT_IMPLEMENTED},
        {"contents", DGST, BERTH_E_NOT_IMPLEMENTED},
        {"content/x", DGST, BERTH_E_INVALID_ARGUMENT},
        {"ingests/x", "ref", BERTH_E_INVALID_ARGUMENT},
        {"snapshots", "k", BERTH_E_INVALID_ARGUMENT},
        {"snapshots/", "k", BERTH_E_INVALID_ARGUMENT},
        {"snapshots/a/b", "k", BERTH_E_INVALID_ARGUMENT},
        {"content", "sha256:abc", BERTH_E_INVALID_ARGUMENT},
        {"content", "not-a-digest", BERTH_E_INVALID_ARGUMENT},
        {"content", "md5:d41d8cd98f00b204e9800998ecf8427e", BERTH_E_INVALID_ARGUMENT},
        {"content", "", BERTH_E_INVALID_ARGUMENT},
        {"ingests", "", BERTH_E_INVALID_ARGUMENT},
    };
    char *s;

    assert_ok(create(env, "default", "l1", NULL, NULL, &err), &err);
    for (size_t i = 0; i < BERTH_N(cases); i++) {
        if (run(env, ADD_RES, "default", "l1", cases[i].type, cases[i].id, &err) == 0)
            fail_msg("add %s=%s succeeded", cases[i].type, cases[i].id);
        if (err->code != cases[i].code)
            fail_msg("add %s=%s: %s", cases[i].type, cases[i].id, err->msg);
        berth_err_free(&err);
        assert_int_equal(run(env, DEL_RES, "default", "l1", cases[i].type, cases[i].id, &err), -1);
        assert_err_code(err, cases[i].code);
    }
    s = list_res(env, "default", "l1", &err);
    assert_string_equal(s, "");
    free(s);
}

static void test_leases_delete_removes_resources(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    char *s;

    assert_ok(create(env, "default", "l1", NULL, NULL, &err), &err);
    assert_ok(run(env, ADD_RES, "default", "l1", "content", DGST, &err), &err);
    assert_ok(run(env, ADD_RES, "default", "l1", "snapshots/overlayfs", "k", &err), &err);
    assert_ok(run(env, DELETE, "default", "l1", NULL, NULL, &err), &err);
    /* a new lease with the same id starts empty */
    assert_ok(create(env, "default", "l1", NULL, NULL, &err), &err);
    s = list_res(env, "default", "l1", &err);
    assert_string_equal(s, "");
    free(s);
}

static void test_leases_attach_header_path(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    char *s;

    /* no header: nothing to do */
    assert_ok(run(env, ATTACH, "default", NULL, "content", DGST, &err), &err);
    assert_ok(run(env, ATTACH, "default", "", "content", DGST, &err), &err);
    /* a header naming a missing lease fails the write */
    assert_int_equal(run(env, ATTACH, "default", "ghost", "content", DGST, &err), -1);
    assert_non_null(strstr(err->msg, "does not exist"));
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_ok(create(env, "default", "l1", NULL, NULL, &err), &err);
    assert_ok(run(env, ATTACH, "default", "l1", "ingests", "ref-1", &err), &err);
    assert_ok(run(env, ATTACH, "default", "l1", "snapshots/overlayfs", "snap", &err), &err);
    assert_int_equal(run(env, ATTACH, "default", "l1", "content", "bad", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    s = list_res(env, "default", "l1", &err);
    assert_string_equal(s, "ingests=ref-1;snapshots/overlayfs=snap");
    free(s);
    /* detach tolerates everything missing */
    assert_ok(run(env, DETACH, "default", "l1", "ingests", "ref-1", &err), &err);
    assert_ok(run(env, DETACH, "default", "l1", "ingests", "ref-1", &err), &err);
    assert_ok(run(env, DETACH, "default", "ghost", "ingests", "ref-1", &err), &err);
    assert_ok(run(env, DETACH, "default", NULL, "ingests", "ref-1", &err), &err);
    s = list_res(env, "default", "l1", &err);
    assert_string_equal(s, "snapshots/overlayfs=snap");
    free(s);
}

static void test_leases_expired(void **state)
{
    struct berth_lease l = {0};
    int64_t t = 1700000000LL * 1000000000LL; /* 2023-11-14T22:13:20Z */

    (void)state;
    assert_false(berth_lease_expired(&l, t)); /* no label: never */
    berth_labels_set(&l.labels, BERTH_LABEL_GC_EXPIRE, "2023-11-14T22:13:20Z");
    assert_false(berth_lease_expired(&l, t)); /* at the instant: not yet (Go's After) */
    assert_true(berth_lease_expired(&l, t + 1));
    berth_labels_set(&l.labels, BERTH_LABEL_GC_EXPIRE, "2023-11-15T00:13:20+02:00");
    assert_false(berth_lease_expired(&l, t));
    assert_true(berth_lease_expired(&l, t + 1));
    berth_labels_set(&l.labels, BERTH_LABEL_GC_EXPIRE, "2023-11-14T17:13:20.5-05:00");
    assert_false(berth_lease_expired(&l, t + 500000000));
    assert_true(berth_lease_expired(&l, t + 500000001));
    /* unparseable: containerd ignores the label and keeps the lease */
    berth_labels_set(&l.labels, BERTH_LABEL_GC_EXPIRE, "yesterday");
    assert_false(berth_lease_expired(&l, INT64_MAX));
    berth_labels_set(&l.labels, BERTH_LABEL_GC_EXPIRE, "2000-01-01t00:00:00z");
    assert_false(berth_lease_expired(&l, t));
    berth_labels_clear(&l.labels);
}

static void test_leases_namespace_delete_removes_leases(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    char *s;

    assert_ok(create(env, "gone", "l1", NULL, NULL, &err), &err);
    assert_ok(run(env, ADD_RES, "gone", "l1", "content", DGST, &err), &err);
    assert_ok(create(env, "gone", "l2", NULL, NULL, &err), &err);
    assert_ok(create(env, "gone2", "l1", NULL, NULL, &err), &err); /* prefix neighbour ns */
    assert_ok(run(env, ADD_RES, "gone2", "l1", "content", DGST, &err), &err);
    /* leases don't block the namespace's deletion */
    assert_ok(run(env, NS_DELETE, "gone", NULL, NULL, NULL, &err), &err);
    s = list_ids(env, "gone", NULL);
    assert_string_equal(s, "");
    free(s);
    /* recreating the namespace brings nothing back */
    assert_ok(create(env, "gone", "l1", NULL, NULL, &err), &err);
    s = list_res(env, "gone", "l1", &err);
    assert_string_equal(s, "");
    free(s);
    s = list_res(env, "gone2", "l1", &err);
    assert_string_equal(s, "content=" DGST);
    free(s);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, meta_setup, meta_teardown)
    const struct CMUnitTest tests[] = {
        T(test_leases_create_get_roundtrip),
        T(test_leases_create_duplicate_is_already_exists),
        T(test_leases_ids_rejected),
        T(test_leases_create_empty_label_key_is_invalid),
        T(test_leases_list_and_filter),
        T(test_leases_delete_missing_is_not_found),
        T(test_leases_resources_add_list_remove),
        T(test_leases_resources_missing_lease_is_not_found),
        T(test_leases_resources_bad_types_and_digests),
        T(test_leases_delete_removes_resources),
        T(test_leases_attach_header_path),
        cmocka_unit_test(test_leases_expired),
        T(test_leases_namespace_delete_removes_leases),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
