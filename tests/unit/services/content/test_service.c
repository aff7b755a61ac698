/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/content/service.c: the unary RPCs through the real dispatcher. */
#include "tests/unit/helpers/meta_fixture.h"

#include <stdio.h>
#include <string.h>

#include "api/services/content/v1/content.pb-c.h"
#include "content/store.h"
#include "lib/sha256.h"
#include "metadata/content.h"
#include "services/services.h"
#include "tests/unit/services/svc_deadline.h"

#define SVC "/containerd.services.content.v1.Content/"

struct env {
    struct meta_env *meta;
    struct berth_content_store *store;
    char digest[72];
};

static int put_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    return berth_meta_content_put(txn, "ns1", arg, err);
}

static int setup(void **state)
{
    struct env *e = berth_xcalloc(1, sizeof(*e));
    struct berth_content_writer *w = NULL;
    struct berth_err *err = NULL;
    _cleanup_free_ char *dir = NULL, *digest = NULL;
    struct berth_content_info info = {0};

    if (meta_setup(state) < 0)
        return -1;
    e->meta = *state;
    dir = berth_strdup_printf("%s/content", e->meta->tmp->dir);
    assert_ok(berth_content_store_open(dir, &e->store, &err), &err);
    /* one committed blob recorded in ns1, one open ingest "ns1/open" */
    assert_ok(berth_content_writer_open(e->store, "ns1/blob", 0, NULL, &w, &err), &err);
    assert_ok(berth_content_writer_write(w, 0, "payload", 7, &err), &err);
    assert_ok(berth_content_writer_commit(w, 7, NULL, &digest, &err), &err);
    snprintf(e->digest, sizeof(e->digest), "%s", digest);
    info.digest = digest;
    info.size = 7;
    assert_ok(berth_meta_update(e->meta->db, put_cb, &info, &err), &err);
    assert_ok(berth_content_writer_open(e->store, "ns1/open", 10, NULL, &w, &err), &err);
    assert_ok(berth_content_writer_write(w, 0, "abc", 3, &err), &err);
    berth_content_writer_close(w);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    berth_content_store_close(e->store);
    *state = e->meta;
    free(e);
    return meta_teardown(state);
}

static int call(struct env *e, const char *method, const char *ns, const ProtobufCMessage *req,
                struct berth_bytes *out, struct berth_err **err)
{
    const struct berth_service *const *svcs;
    size_t n = berth_services_all(&svcs);
    struct berth_services app = {.db = e->meta->db, .content = e->store};
    struct berth_bytes in = {0};
    int ret;

    berth_svc_pack(&in, req);
    ret = berth_server_invoke(svcs, n, method, ns, in.data, in.len, &app, out, err);
    berth_bytes_clear(&in);
    return ret;
}

static void test_content_info_namespaced(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_bytes out = {0};
    Containerd__Services__Content__V1__InfoRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__INFO_REQUEST__INIT;
    Containerd__Services__Content__V1__InfoResponse *resp;

    req.digest = e->digest;
    assert_ok(call(e, SVC "Info", "ns1", &req.base, &out, &err), &err);
    resp = containerd__services__content__v1__info_response__unpack(NULL, out.len, out.data);
    assert_non_null(resp);
    assert_int_equal(resp->info->size, 7);
    assert_string_equal(resp->info->digest, e->digest);
    assert_non_null(resp->info->created_at);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    berth_bytes_clear(&out);
    assert_int_equal(call(e, SVC "Info", "ns2", &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(call(e, SVC "Info", NULL, &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    req.digest = "sha256:xyz";
    assert_int_equal(call(e, SVC "Info", "ns1", &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_content_update_labels(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_bytes out = {0};
    Containerd__Services__Content__V1__UpdateRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__UPDATE_REQUEST__INIT;
    Containerd__Services__Content__V1__Info info = CONTAINERD__SERVICES__CONTENT__V1__INFO__INIT;
    Containerd__Services__Content__V1__Info__LabelsEntry l =
        CONTAINERD__SERVICES__CONTENT__V1__INFO__LABELS_ENTRY__INIT;
    Containerd__Services__Content__V1__Info__LabelsEntry *lp[] = {&l};
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[] = {"labels.containerd.io/uncompressed"}, *bad[] = {"size"};
    Containerd__Services__Content__V1__UpdateResponse *resp;
    _cleanup_free_ char *big = berth_xcalloc(1, 5000);

    l.key = "containerd.io/uncompressed";
    l.value = "sha256:abc";
    info.digest = e->digest;
    info.labels = lp;
    info.n_labels = 1;
    mask.paths = paths;
    mask.n_paths = 1;
    req.info = &info;
    req.update_mask = &mask;
    assert_ok(call(e, SVC "Update", "ns1", &req.base, &out, &err), &err);
    resp = containerd__services__content__v1__update_response__unpack(NULL, out.len, out.data);
    assert_int_equal(resp->info->n_labels, 1);
    assert_string_equal(resp->info->labels[0]->key, "containerd.io/uncompressed");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    berth_bytes_clear(&out);
    mask.paths = bad;
    assert_int_equal(call(e, SVC "Update", "ns1", &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    memset(big, 'x', 4999);
    l.value = big;
    mask.paths = paths;
    assert_int_equal(call(e, SVC "Update", "ns1", &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    l.value = "v";
    assert_int_equal(call(e, SVC "Update", "ns2", &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_content_delete_keeps_blob_file(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_bytes out = {0};
    Containerd__Services__Content__V1__DeleteContentRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__DELETE_CONTENT_REQUEST__INIT;
    int64_t size;

    req.digest = e->digest;
    assert_int_equal(call(e, SVC "Delete", "ns2", &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_ok(call(e, SVC "Delete", "ns1", &req.base, &out, &err), &err);
    berth_bytes_clear(&out);
    assert_int_equal(call(e, SVC "Delete", "ns1", &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    /* metadata only: the file stays for GC */
    assert_ok(berth_content_blob_stat(e->store, e->digest, &size, &err), &err);
}

static void test_content_status_list_abort(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_bytes out = {0};
    Containerd__Services__Content__V1__StatusRequest sreq =
        CONTAINERD__SERVICES__CONTENT__V1__STATUS_REQUEST__INIT;
    Containerd__Services__Content__V1__ListStatusesRequest lreq =
        CONTAINERD__SERVICES__CONTENT__V1__LIST_STATUSES_REQUEST__INIT;
    Containerd__Services__Content__V1__AbortRequest areq =
        CONTAINERD__SERVICES__CONTENT__V1__ABORT_REQUEST__INIT;
    Containerd__Services__Content__V1__StatusResponse *sresp;
    Containerd__Services__Content__V1__ListStatusesResponse *lresp;
    char *f_ok[] = {"ref==open"}, *f_none[] = {"ref==other"};

    sreq.ref = "open";
    assert_ok(call(e, SVC "Status", "ns1", &sreq.base, &out, &err), &err);
    sresp = containerd__services__content__v1__status_response__unpack(NULL, out.len, out.data);
    assert_string_equal(sresp->status->ref, "open");
    assert_int_equal(sresp->status->offset, 3);
    assert_int_equal(sresp->status->total, 10);
    protobuf_c_message_free_unpacked(&sresp->base, NULL);
    berth_bytes_clear(&out);
    assert_int_equal(call(e, SVC "Status", "ns2", &sreq.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);

    lreq.filters = f_ok;
    lreq.n_filters = 1;
    assert_ok(call(e, SVC "ListStatuses", "ns1", &lreq.base, &out, &err), &err);
    lresp =
        containerd__services__content__v1__list_statuses_response__unpack(NULL, out.len, out.data);
    assert_int_equal(lresp->n_statuses, 1);
    protobuf_c_message_free_unpacked(&lresp->base, NULL);
    berth_bytes_clear(&out);
    lreq.filters = f_none;
    assert_ok(call(e, SVC "ListStatuses", "ns1", &lreq.base, &out, &err), &err);
    lresp =
        containerd__services__content__v1__list_statuses_response__unpack(NULL, out.len, out.data);
    assert_int_equal(lresp->n_statuses, 0);
    protobuf_c_message_free_unpacked(&lresp->base, NULL);
    berth_bytes_clear(&out);
    lreq.n_filters = 0;
    assert_ok(call(e, SVC "ListStatuses", "ns2", &lreq.base, &out, &err), &err);
    lresp =
        containerd__services__content__v1__list_statuses_response__unpack(NULL, out.len, out.data);
    assert_int_equal(lresp->n_statuses, 0);
    protobuf_c_message_free_unpacked(&lresp->base, NULL);
    berth_bytes_clear(&out);

    areq.ref = "open";
    assert_int_equal(call(e, SVC "Abort", "ns2", &areq.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_ok(call(e, SVC "Abort", "ns1", &areq.base, &out, &err), &err);
    berth_bytes_clear(&out);
    assert_int_equal(call(e, SVC "Status", "ns1", &sreq.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    areq.ref = "";
    assert_int_equal(call(e, SVC "Abort", "ns1", &areq.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

/* List (a stream) and ListStatuses with a filter end with their call. */
static void test_content_lists_with_filter_end_with_the_deadline(void **state)
{
    struct env *e = *state;
    struct berth_services app = {.db = e->meta->db, .content = e->store};
    Containerd__Services__Content__V1__ListContentRequest creq =
        CONTAINERD__SERVICES__CONTENT__V1__LIST_CONTENT_REQUEST__INIT;
    Containerd__Services__Content__V1__ListStatusesRequest sreq =
        CONTAINERD__SERVICES__CONTENT__V1__LIST_STATUSES_REQUEST__INIT;
    char *f_none[] = {"digest~=^nothing"}, *f_ref[] = {"ref~=^op"};
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;

    /* nothing matches, so the stream sends nothing, however it ends */
    creq.filters = f_none;
    creq.n_filters = 1;
    assert_ok(svc_call_deadline(&app, SVC "List", "ns1", &creq.base, 0, &out, &err), &err);
    assert_int_equal(
        svc_call_deadline(&app, SVC "List", "ns1", &creq.base, SVC_DEADLINE_PASSED, &out, &err),
        -1);
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);

    sreq.filters = f_ref;
    sreq.n_filters = 1;
    assert_ok(svc_call_deadline(&app, SVC "ListStatuses", "ns1", &sreq.base, 0, &out, &err), &err);
    berth_bytes_clear(&out);
    assert_int_equal(svc_call_deadline(&app, SVC "ListStatuses", "ns1", &sreq.base,
                                       SVC_DEADLINE_PASSED, &out, &err),
                     -1);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "deadline exceeded while listing ingests"));
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_content_info_namespaced),
        T(test_content_update_labels),
        T(test_content_delete_keeps_blob_file),
        T(test_content_status_list_abort),
        T(test_content_lists_with_filter_end_with_the_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
