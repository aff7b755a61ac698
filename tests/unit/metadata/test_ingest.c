/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for metadata/ingest.c over a real store and a real content store in the test's temp
 * dir: shared writers across namespaces, createAndCopy, leases, concurrency, abort, GC. */
#include "tests/unit/helpers/meta_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lib/sha256.h"
#include "lib/util.h"
#include "metadata/content.h"
#include "metadata/gc.h"
#include "metadata/ingest.h"
#include "metadata/leases.h"

#define BLOB "shared bytes of a layer"

struct env {
    struct meta_env *meta;
    struct berth_content_store *cs;
};

static int setup(void **state)
{
    struct env *e = berth_xcalloc(1, sizeof(*e));
    struct berth_err *err = NULL;
    _cleanup_free_ char *cdir = NULL;

    if (meta_setup((void **)&e->meta) < 0)
        return -1;
    cdir = berth_strdup_printf("%s/content", e->meta->tmp->dir);
    if (berth_content_store_open(cdir, &e->cs, &err) < 0) {
        print_error("open content store: %s\n", err->msg);
        berth_err_free(&err);
        return -1;
    }
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    berth_content_store_close(e->cs);
    meta_teardown((void **)&e->meta);
    free(e);
    return 0;
}

/* ---- helpers ---- */

static struct berth_meta_ingest *open_w(struct env *e, const char *ns, const char *lease,
                                        const char *ref, int64_t total, const char *expected)
{
    struct berth_meta_ingest_opts o = {
        .ns = ns, .lease = lease, .ref = ref, .total = total, .expected = expected};
    struct berth_meta_ingest *w = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_meta_ingest_open(e->meta->db, e->cs, &o, &w, &err), &err);
    return w;
}

/* Ingests data into ns through a full writer; returns the digest (caller frees). */
static char *put_blob(struct env *e, const char *ns, const char *lease, const char *ref,
                      const char *data)
{
    struct berth_meta_ingest *w = open_w(e, ns, lease, ref, 0, NULL);
    struct berth_err *err = NULL;
    char *digest = NULL;

    assert_false(berth_meta_ingest_is_shared(w));
    assert_ok(berth_meta_ingest_write(w, 0, data, strlen(data), &err), &err);
    assert_ok(berth_meta_ingest_commit(w, (int64_t)strlen(data), NULL, NULL, &digest, NULL, &err),
              &err);
    return digest;
}

static struct berth_content_info *record(struct env *e, const char *ns, const char *digest)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_content_info *i = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    if (berth_meta_content_get(txn, ns, digest, &i, &err) < 0) {
        assert_err_code(err, BERTH_E_NOT_FOUND);
        berth_err_free(&err);
    }
    return i;
}

static struct berth_content_ingest *ingest_record(struct env *e, const char *ns, const char *ref)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_content_ingest *i = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    if (berth_meta_content_ingest_get(txn, ns, ref, &i, &err) < 0) {
        assert_err_code(err, BERTH_E_NOT_FOUND);
        berth_err_free(&err);
    }
    return i;
}

static int lease_create_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    const char *const *a = arg;
    _cleanup_(berth_lease_freep) struct berth_lease *l = berth_lease_new();

    l->id = berth_xstrdup(a[1]);
    return berth_meta_leases_create(txn, a[0], l, err);
}

static void lease_create(struct env *e, const char *ns, const char *id)
{
    const char *a[2] = {ns, id};
    struct berth_err *err = NULL;

    assert_ok(berth_meta_update(e->meta->db, lease_create_cb, a, &err), &err);
}

/* The lease's resources as "type:id" lines, in the store's order. */
static char *lease_res(struct env *e, const char *ns, const char *id)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_lease_resource *r = NULL;
    struct berth_err *err = NULL;
    size_t n = 0;
    char *out = berth_xstrdup("");

    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    assert_ok(berth_meta_leases_list_resources(txn, ns, id, &r, &n, &err), &err);
    for (size_t i = 0; i < n; i++) {
        char *next = berth_strdup_printf("%s%s:%s\n", out, r[i].type, r[i].id);
        free(out);
        out = next;
    }
    berth_lease_resources_free(r, n);
    return out;
}

static int delete_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    const char *const *a = arg;
    return berth_meta_content_delete(txn, a[0], a[1], err);
}

static bool has_file(struct env *e, const char *digest)
{
    struct berth_err *err = NULL;
    bool ok = berth_content_blob_stat(e->cs, digest, NULL, &err) == 0;
    berth_err_free(&err);
    return ok;
}

/* ---- tests ---- */

/* Namespace b opens with a digest only namespace a holds: a shared writer, whose status shows
 * the whole blob and whose commit records it in b without data (containerd's shared policy). */
static void test_ingest_open_shared_status_commit_without_data(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *d = put_blob(e, "a", NULL, "ra", BLOB);
    _cleanup_free_ char *got = NULL;
    _cleanup_(berth_content_info_freep) struct berth_content_info *info = NULL;
    _cleanup_(berth_content_ingest_freep) struct berth_content_ingest *in = NULL;
    struct berth_labels labels = {0};
    struct berth_content_status st;
    struct berth_meta_ingest *w;
    struct berth_err *err = NULL;
    bool existed = true;
    char digest[72];

    w = open_w(e, "b", NULL, "rb", 0, d);
    assert_true(berth_meta_ingest_is_shared(w));
    assert_ok(berth_meta_ingest_status(w, &st, &err), &err);
    assert_int_equal(st.offset, (int64_t)strlen(BLOB));
    assert_int_equal(st.total, (int64_t)strlen(BLOB));
    assert_string_equal(st.expected, d);
    assert_true(st.started_ns > 0 && st.updated_ns == st.started_ns);
    berth_content_status_clear(&st);
    berth_meta_ingest_digest(w, digest);
    assert_string_equal(digest, d);
    /* the ingest record names the blob (the GC keeps it); no backend ingest exists */
    in = ingest_record(e, "b", "rb");
    assert_non_null(in);
    assert_string_equal(in->expected, d);
    assert_true(in->expires_ns > berth_now_ns());
    assert_int_equal(berth_content_ingest_status(e->cs, "b/rb", &st, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_err_free(&err);
    /* an empty write at the current offset changes nothing */
    assert_ok(berth_meta_ingest_write(w, (int64_t)strlen(BLOB), "", 0, &err), &err);
    assert_true(berth_meta_ingest_is_shared(w));
    /* a wrong size is a failed precondition and keeps the writer */
    assert_int_equal(berth_meta_ingest_commit(w, 3, NULL, NULL, &got, NULL, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    berth_err_free(&err);

    berth_labels_set(&labels, "k", "v");
    assert_ok(berth_meta_ingest_commit(w, 0, d, &labels, &got, &existed, &err), &err);
    berth_labels_clear(&labels);
    assert_false(existed);
    assert_string_equal(got, d);
    info = record(e, "b", d);
    assert_non_null(info);
    assert_int_equal(info->size, (int64_t)strlen(BLOB));
    assert_string_equal(berth_labels_get(&info->labels, "k"), "v");
    berth_content_ingest_free(in);
    in = ingest_record(e, "b", "rb");
    assert_null(in);
}

/* A shared writer appended to copies the blob first (createAndCopy), then goes on; offset 0
 * starts it over without a copy. */
static void test_ingest_shared_write_copies_blob(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *d = put_blob(e, "a", NULL, "ra", BLOB);
    _cleanup_free_ char *got = NULL, *got2 = NULL;
    _cleanup_(berth_content_info_freep) struct berth_content_info *info = NULL;
    struct berth_meta_ingest *w;
    struct berth_err *err = NULL;
    struct berth_content_status st;
    char want[72], want2[72], digest[72];
    int64_t n = (int64_t)strlen(BLOB);

    berth_sha256_digest_buf(BLOB "+tail", strlen(BLOB "+tail"), want);
    w = open_w(e, "b", NULL, "append", 0, d);
    assert_true(berth_meta_ingest_is_shared(w));
    assert_int_equal(berth_meta_ingest_write(w, 3, "x", 1, &err), -1);
    assert_err_code(err, BERTH_E_OUT_OF_RANGE);
    berth_err_free(&err);
    assert_ok(berth_meta_ingest_write(w, n, "+tail", 5, &err), &err);
    assert_false(berth_meta_ingest_is_shared(w));
    berth_meta_ingest_digest(w, digest);
    assert_string_equal(digest, want);
    assert_ok(berth_meta_ingest_status(w, &st, &err), &err);
    assert_int_equal(st.offset, n + 5);
    berth_content_status_clear(&st);
    assert_ok(berth_meta_ingest_commit(w, n + 5, want, NULL, &got, NULL, &err), &err);
    assert_string_equal(got, want);
    info = record(e, "b", want);
    assert_non_null(info);
    assert_int_equal(info->size, n + 5);
    berth_content_info_free(info);
    info = record(e, "b", d); /* the source blob was copied, not recorded */
    assert_null(info);

    berth_sha256_digest_buf("new", 3, want2);
    w = open_w(e, "b", NULL, "restart", 0, d);
    assert_ok(berth_meta_ingest_write(w, 0, "new", 3, &err), &err);
    assert_ok(berth_meta_ingest_commit(w, 3, NULL, NULL, &got2, NULL, &err), &err);
    assert_string_equal(got2, want2);
}

/* A namespace that holds the digest gets ALREADY_EXISTS at open, the lease holding the blob;
 * a commit of bytes the namespace holds is ALREADY_EXISTS too and consumes the writer. */
static void test_ingest_open_own_namespace_already_exists(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *d = put_blob(e, "a", NULL, "ra", BLOB);
    _cleanup_free_ char *res = NULL, *got = NULL;
    struct berth_meta_ingest_opts o = {.ns = "a", .lease = "l1", .ref = "again", .expected = d};
    struct berth_meta_ingest *w = NULL;
    struct berth_err *err = NULL;
    bool existed = false;

    lease_create(e, "a", "l1");
    assert_int_equal(berth_meta_ingest_open(e->meta->db, e->cs, &o, &w, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    berth_err_free(&err);
    assert_null(w);
    res = lease_res(e, "a", "l1");
    {
        _cleanup_free_ char *want = berth_strdup_printf("content:%s\n", d);
        assert_string_equal(res, want);
    }
    /* no ingest was recorded */
    assert_null(ingest_record(e, "a", "again"));

    /* same bytes without expected: written, then ALREADY_EXISTS at commit */
    w = open_w(e, "a", NULL, "dup", 0, NULL);
    assert_ok(berth_meta_ingest_write(w, 0, BLOB, strlen(BLOB), &err), &err);
    assert_int_equal(berth_meta_ingest_commit(w, 0, NULL, NULL, &got, &existed, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    berth_err_free(&err);
    assert_true(existed);
    assert_string_equal(got, d);
    assert_null(ingest_record(e, "a", "dup"));
}

/* The lease holds the ingest while it is open and the blob after the commit; an un-leased or
 * keep_expiry ingest expires; a missing lease fails the open and leaves nothing behind. */
static void test_ingest_lease_attach_detach(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *res = NULL, *got = NULL, *want = NULL;
    _cleanup_(berth_content_ingest_freep) struct berth_content_ingest *in = NULL;
    struct berth_meta_ingest_opts o = {.ns = "n", .lease = "nope", .ref = "r"};
    struct berth_meta_ingest *w = NULL;
    struct berth_content_status st;
    struct berth_err *err = NULL;

    assert_int_equal(berth_meta_ingest_open(e->meta->db, e->cs, &o, &w, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_err_free(&err);
    assert_int_equal(berth_content_ingest_status(e->cs, "n/r", &st, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_err_free(&err);

    lease_create(e, "n", "l");
    w = open_w(e, "n", "l", "r", 0, NULL);
    res = lease_res(e, "n", "l");
    assert_string_equal(res, "ingests:r\n");
    in = ingest_record(e, "n", "r");
    assert_int_equal(in->expires_ns, 0);
    assert_ok(berth_content_ingest_status(e->cs, "n/r", &st, &err), &err);
    assert_int_equal(st.expires_ns, 0);
    berth_content_status_clear(&st);
    assert_ok(berth_meta_ingest_write(w, 0, "leased", 6, &err), &err);
    assert_ok(berth_meta_ingest_commit(w, 0, NULL, NULL, &got, NULL, &err), &err);
    free(res);
    res = lease_res(e, "n", "l");
    want = berth_strdup_printf("content:%s\n", got);
    assert_string_equal(res, want);

    /* keep_expiry: held by the lease and expiring all the same */
    o.lease = "l";
    o.ref = "keep";
    o.keep_expiry = true;
    assert_ok(berth_meta_ingest_open(e->meta->db, e->cs, &o, &w, &err), &err);
    berth_content_ingest_free(in);
    in = ingest_record(e, "n", "keep");
    assert_true(in->expires_ns > berth_now_ns());
    assert_ok(berth_content_ingest_status(e->cs, "n/keep", &st, &err), &err);
    assert_true(st.expires_ns > berth_now_ns());
    berth_content_status_clear(&st);
    free(res);
    res = lease_res(e, "n", "l");
    free(want);
    want = berth_strdup_printf("content:%s\ningests:keep\n", got);
    assert_string_equal(res, want);
    berth_meta_ingest_close(w);
}

struct worker {
    struct env *e;
    int id;
    char *digest;
    int ret;
};

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct berth_meta_ingest_opts o = {.ns = "conc", .lease = "cl"};
    struct berth_meta_ingest *w = NULL;
    struct berth_err *err = NULL;
    char ref[32], data[4096];
    int64_t off = 0;

    snprintf(ref, sizeof(ref), "ref-%d", wk->id);
    memset(data, 'a' + wk->id, sizeof(data));
    o.ref = ref;
    wk->ret = berth_meta_ingest_open(wk->e->meta->db, wk->e->cs, &o, &w, &err);
    for (int i = 0; i < 16 && wk->ret == 0; i++, off += (int64_t)sizeof(data))
        wk->ret = berth_meta_ingest_write(w, off, data, sizeof(data), &err);
    if (wk->ret == 0)
        wk->ret = berth_meta_ingest_commit(w, off, NULL, NULL, &wk->digest, NULL, &err);
    else
        berth_meta_ingest_close(w);
    berth_err_free(&err);
    return NULL;
}

/* Writers on different refs run at once; a second writer on a busy ref is UNAVAILABLE. */
static void test_ingest_concurrent_writers(void **state)
{
    struct env *e = *state;
    struct worker wk[6];
    pthread_t t[6];
    struct berth_meta_ingest_opts o = {.ns = "conc", .ref = "busy"};
    struct berth_meta_ingest *w, *w2 = NULL;
    struct berth_err *err = NULL;
    _cleanup_free_ char *res = NULL;

    lease_create(e, "conc", "cl");
    for (int i = 0; i < 6; i++) {
        wk[i] = (struct worker){.e = e, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &wk[i]), 0);
    }
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    res = lease_res(e, "conc", "cl");
    for (int i = 0; i < 6; i++) {
        _cleanup_(berth_content_info_freep) struct berth_content_info *info = NULL;
        assert_int_equal(wk[i].ret, 0);
        info = record(e, "conc", wk[i].digest);
        assert_non_null(info);
        assert_int_equal(info->size, 16 * 4096);
        assert_non_null(strstr(res, wk[i].digest));
        free(wk[i].digest);
    }
    assert_null(strstr(res, "ingests:"));

    w = open_w(e, "conc", NULL, "busy", 0, NULL);
    assert_int_equal(berth_meta_ingest_open(e->meta->db, e->cs, &o, &w2, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    berth_err_free(&err);
    berth_meta_ingest_close(w);
}

/* Abort drops the backend ingest, the record and the lease's hold; a shared ingest has only a
 * record; an unknown ref is NOT_FOUND. */
static void test_ingest_abort(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *d = put_blob(e, "a", NULL, "ra", BLOB);
    _cleanup_free_ char *res = NULL;
    struct berth_content_status st;
    struct berth_meta_ingest *w;
    struct berth_err *err = NULL;

    lease_create(e, "n", "l");
    w = open_w(e, "n", "l", "part", 0, NULL);
    assert_ok(berth_meta_ingest_write(w, 0, "half", 4, &err), &err);
    /* busy while a writer holds it */
    assert_int_equal(berth_meta_ingest_abort(e->meta->db, e->cs, "n", "l", "part", &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    berth_err_free(&err);
    berth_meta_ingest_close(w);
    assert_ok(berth_content_ingest_status(e->cs, "n/part", &st, &err), &err);
    assert_int_equal(st.offset, 4); /* close keeps it for a resume */
    berth_content_status_clear(&st);
    assert_ok(berth_meta_ingest_abort(e->meta->db, e->cs, "n", "l", "part", &err), &err);
    assert_int_equal(berth_content_ingest_status(e->cs, "n/part", &st, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_err_free(&err);
    assert_null(ingest_record(e, "n", "part"));
    res = lease_res(e, "n", "l");
    assert_string_equal(res, "");

    w = open_w(e, "n", "l", "sh", 0, d);
    assert_true(berth_meta_ingest_is_shared(w));
    berth_meta_ingest_close(w);
    assert_ok(berth_meta_ingest_abort(e->meta->db, e->cs, "n", "l", "sh", &err), &err);
    assert_null(ingest_record(e, "n", "sh"));

    assert_int_equal(berth_meta_ingest_abort(e->meta->db, e->cs, "n", "l", "sh", &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_err_free(&err);
}

/* While a shared ingest is open its blob survives a GC pass even when the namespace that had
 * it deleted its record; the commit then records it. */
static void test_ingest_shared_blob_survives_gc(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *d = put_blob(e, "a", NULL, "ra", BLOB);
    _cleanup_free_ char *got = NULL;
    struct berth_gc_backends be = {.content = e->cs};
    struct berth_gc_stats stats;
    struct berth_meta_ingest *w;
    struct berth_err *err = NULL;
    const char *del[2] = {"a", d};

    w = open_w(e, "b", NULL, "rb", 0, d);
    assert_ok(berth_meta_update(e->meta->db, delete_cb, del, &err), &err);
    assert_ok(berth_meta_gc_run(e->meta->db, &be, berth_now_ns(), &stats, &err), &err);
    assert_true(has_file(e, d));
    assert_ok(berth_meta_ingest_commit(w, 0, NULL, NULL, &got, NULL, &err), &err);
    assert_string_equal(got, d);

    /* once the ingest is gone and nothing names the blob, the GC takes it */
    del[0] = "b";
    assert_ok(berth_meta_update(e->meta->db, delete_cb, del, &err), &err);
    assert_ok(berth_meta_gc_run(e->meta->db, &be, berth_now_ns(), &stats, &err), &err);
    assert_false(has_file(e, d));
}

/* adopt records a blob the store has (import's skip path); a wrong size or a missing blob
 * fail. */
static void test_content_adopt(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *d = put_blob(e, "a", NULL, "ra", BLOB);
    _cleanup_free_ char *res = NULL, *want = NULL;
    _cleanup_(berth_content_info_freep) struct berth_content_info *info = NULL;
    struct berth_err *err = NULL;
    char missing[72];

    lease_create(e, "c", "l");
    assert_int_equal(berth_meta_content_adopt(e->meta->db, e->cs, "c", "l", d, 3, NULL, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    berth_err_free(&err);
    berth_sha256_digest_buf("absent", 6, missing);
    assert_int_equal(berth_meta_content_adopt(e->meta->db, e->cs, "c", "l", missing, 0, NULL, &err),
                     -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_err_free(&err);
    assert_ok(berth_meta_content_adopt(e->meta->db, e->cs, "c", "l", d, (int64_t)strlen(BLOB), NULL,
                                       &err),
              &err);
    info = record(e, "c", d);
    assert_non_null(info);
    assert_int_equal(info->size, (int64_t)strlen(BLOB));
    res = lease_res(e, "c", "l");
    want = berth_strdup_printf("content:%s\n", d);
    assert_string_equal(res, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ingest_open_shared_status_commit_without_data, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ingest_shared_write_copies_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_open_own_namespace_already_exists, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ingest_lease_attach_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_shared_blob_survives_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_adopt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
