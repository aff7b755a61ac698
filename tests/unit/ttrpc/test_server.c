/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for ttrpc/server.c: the connection state machine driven by hand over a
 * socketpair (no threads): dispatch, metadata/deadline, error statuses, every malformed-frame
 * case, deferred replies, EOF. Frames on the "client" end are written and read raw. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/runtime/task/v2/shim.pb-c.h" /* ConnectRequest/ConnectResponse as test messages */
#include "api/ttrpc/ttrpc.pb-c.h"
#include "lib/status.h"
#include "ttrpc/frame.h"
#include "ttrpc/server.h"

#define SVC "berth.test.v1.Test"

struct app {
    struct berth_ttrpc_pending *held;
    int wakes;
};

struct fx {
    struct app app;
    struct berth_ttrpc_server *srv;
    struct berth_ttrpc_conn *conn;
    int peer; /* the client end, blocking */
};

static int echo_cb(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *msg,
                   struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Task__V2__ConnectRequest *req = (const void *)msg;
    Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

    resp.shim_pid = 42;
    resp.version = req->id;
    berth_ttrpc_pack(out, &resp.base);
    return 0;
}

/* Reports what the ctx saw: version = namespace, task_pid = 1 if a deadline was set. */
static int meta_cb(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *msg,
                   struct berth_bytes *out, struct berth_err **err)
{
    Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
    const char *x = berth_ttrpc_ctx_metadata(ctx, "x-extra");

    resp.version = (char *)(ctx->ns ? ctx->ns : "");
    resp.task_pid = ctx->deadline_mono_ns > berth_mono_ns() ? 1 : 0;
    resp.shim_pid = x && strcmp(x, "yes") == 0 ? 7 : 0;
    berth_ttrpc_pack(out, &resp.base);
    return 0;
}

static int fail_cb(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *msg,
                   struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Task__V2__ConnectRequest *req = (const void *)msg;
    return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "task \"%s\"", req->id);
}

static int defer_cb(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *msg,
                    struct berth_bytes *out, struct berth_err **err)
{
    struct app *app = ctx->app;

    berth_ttrpc_pending_free(app->held); /* one slot: an older call is never answered */
    app->held = berth_ttrpc_ctx_defer(ctx);
    return 0;
}

/* Defers, answers through the handle before returning, then returns 0 (id "ok"), -1 (id
 * "fail"), or drops the handle and returns -1 (id "drop"). */
static int defer_now_cb(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *msg,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Task__V2__ConnectRequest *req = (const void *)msg;
    Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
    struct berth_ttrpc_pending *p = berth_ttrpc_ctx_defer(ctx);

    if (strcmp(req->id, "drop") == 0) {
        berth_ttrpc_pending_free(p);
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "dropped");
    }
    resp.version = "early";
    berth_ttrpc_pending_reply_msg(p, &resp.base);
    if (strcmp(req->id, "fail") == 0)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "after the reply");
    berth_ttrpc_pack(out, &resp.base); /* ignored: the call is answered */
    return 0;
}

static const struct berth_ttrpc_method methods[] = {
    {"Echo", &containerd__task__v2__connect_request__descriptor, echo_cb},
    {"Meta", &containerd__task__v2__connect_request__descriptor, meta_cb},
    {"Fail", &containerd__task__v2__connect_request__descriptor, fail_cb},
    {"Defer", &containerd__task__v2__connect_request__descriptor, defer_cb},
    {"DeferNow", &containerd__task__v2__connect_request__descriptor, defer_now_cb},
};
static const struct berth_ttrpc_service svc = {SVC, methods, BERTH_N(methods)};
static const struct berth_ttrpc_service *const svcs[] = {&svc};

static void wake_cb(struct berth_ttrpc_conn *conn, void *udata)
{
    struct app *app = udata;
    app->wakes++;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct berth_err *err = NULL;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    fx->srv = berth_ttrpc_server_new(svcs, BERTH_N(svcs), &fx->app);
    berth_ttrpc_server_set_wake(fx->srv, wake_cb);
    if (berth_ttrpc_conn_new(fx->srv, sv[0], &fx->conn, &err) < 0)
        return -1;
    berth_ttrpc_conn_set_udata(fx->conn, &fx->app);
    fx->peer = sv[1];
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    berth_ttrpc_pending_free(fx->app.held);
    berth_ttrpc_conn_close(fx->conn);
    berth_ttrpc_server_free(fx->srv);
    if (fx->peer >= 0)
        close(fx->peer);
    free(fx);
    return 0;
}

static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        assert_true(k > 0);
        b += k;
        n -= (size_t)k;
    }
}

static void send_raw(struct fx *fx, uint32_t id, uint8_t type, uint8_t flags, const void *p,
                     size_t n)
{
    struct berth_ttrpc_wbuf b = {0};
    struct berth_err *err = NULL;

    assert_ok(berth_ttrpc_frame_append(&b, id, type, flags, p, n, &err), &err);
    write_all(fx->peer, b.data, b.len);
    berth_ttrpc_wbuf_clear(&b);
}

/* Sends a Request for SVC/method with a ConnectRequest{id} payload. */
static void send_call(struct fx *fx, uint32_t id, const char *service, const char *method,
                      const char *req_id, const char *ns, int64_t timeout_nano)
{
    Containerd__Task__V2__ConnectRequest in = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
    Ttrpc__Request r = TTRPC__REQUEST__INIT;
    Ttrpc__KeyValue kv[2] = {TTRPC__KEY_VALUE__INIT, TTRPC__KEY_VALUE__INIT};
    Ttrpc__KeyValue *kvp[2] = {&kv[0], &kv[1]};
    struct berth_bytes p = {0}, rb = {0};

    in.id = (char *)req_id;
    berth_ttrpc_pack(&p, &in.base);
    r.service = (char *)service;
    r.method = (char *)method;
    r.payload.data = p.data;
    r.payload.len = p.len;
    r.timeout_nano = timeout_nano;
    if (ns) {
        kv[0].key = "x-extra";
        kv[0].value = "yes";
        kv[1].key = BERTH_TTRPC_NS_KEY;
        kv[1].value = (char *)ns;
        r.metadata = kvp;
        r.n_metadata = 2;
    }
    berth_ttrpc_pack(&rb, &r.base);
    send_raw(fx, id, BERTH_TTRPC_REQUEST, 0, rb.data, rb.len);
    berth_bytes_clear(&p);
    berth_bytes_clear(&rb);
}

static void pump(struct fx *fx)
{
    struct berth_err *err = NULL;
    assert_ok(berth_ttrpc_conn_on_readable(fx->conn, &err), &err);
}

static bool peer_readable(struct fx *fx)
{
    struct pollfd p = {.fd = fx->peer, .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

/* Reads one frame from the peer (which must be a Response) and decodes it. */
static Ttrpc__Response *read_response(struct fx *fx, uint32_t want_id)
{
    uint8_t hdr[BERTH_TTRPC_HEADER_LEN];
    struct berth_ttrpc_header h;
    uint8_t *p;
    Ttrpc__Response *resp;
    size_t got = 0;

    assert_true(peer_readable(fx));
    while (got < sizeof(hdr)) {
        ssize_t k = read(fx->peer, hdr + got, sizeof(hdr) - got);
        assert_true(k > 0);
        got += (size_t)k;
    }
    berth_ttrpc_header_decode(hdr, &h);
    assert_int_equal(h.type, BERTH_TTRPC_RESPONSE);
    assert_int_equal(h.stream_id, want_id);
    assert_int_equal(h.flags, 0);
    p = malloc(h.length + 1);
    for (got = 0; got < h.length;) {
        ssize_t k = read(fx->peer, p + got, h.length - got);
        assert_true(k > 0);
        got += (size_t)k;
    }
    resp = ttrpc__response__unpack(NULL, h.length, p);
    free(p);
    assert_non_null(resp);
    assert_non_null(resp->status);
    return resp;
}

static void expect_status(struct fx *fx, uint32_t id, int code)
{
    Ttrpc__Response *r = read_response(fx, id);
    assert_int_equal(r->status->code, code);
    ttrpc__response__free_unpacked(r, NULL);
}

static Containerd__Task__V2__ConnectResponse *expect_ok(struct fx *fx, uint32_t id)
{
    Ttrpc__Response *r = read_response(fx, id);
    Containerd__Task__V2__ConnectResponse *c;

    assert_int_equal(r->status->code, 0);
    c = containerd__task__v2__connect_response__unpack(NULL, r->payload.len, r->payload.data);
    assert_non_null(c);
    ttrpc__response__free_unpacked(r, NULL);
    return c;
}

static void test_conn_unary_call_answers_with_payload(void **state)
{
    struct fx *fx = *state;
    Containerd__Task__V2__ConnectResponse *c;

    send_call(fx, 1, SVC, "Echo", "probe", NULL, 0);
    pump(fx);
    c = expect_ok(fx, 1);
    assert_int_equal(c->shim_pid, 42);
    assert_string_equal(c->version, "probe");
    containerd__task__v2__connect_response__free_unpacked(c, NULL);
    assert_false(berth_ttrpc_conn_wants_write(fx->conn));
}

static void test_conn_metadata_namespace_and_deadline_reach_handler(void **state)
{
    struct fx *fx = *state;
    Containerd__Task__V2__ConnectResponse *c;

    send_call(fx, 1, SVC, "Meta", "x", "k8s.io", 5000000000LL);
    send_call(fx, 3, SVC, "Meta", "x", NULL, 0);
    pump(fx);
    c = expect_ok(fx, 1);
    assert_string_equal(c->version, "k8s.io");
    assert_int_equal(c->task_pid, 1);
    assert_int_equal(c->shim_pid, 7);
    containerd__task__v2__connect_response__free_unpacked(c, NULL);
    c = expect_ok(fx, 3);
    assert_string_equal(c->version, "");
    assert_int_equal(c->task_pid, 0);
    containerd__task__v2__connect_response__free_unpacked(c, NULL);
}

static void test_conn_unknown_service_and_method_are_unimplemented(void **state)
{
    struct fx *fx = *state;
    Ttrpc__Response *r;

    send_call(fx, 1, "no.such.Service", "Echo", "x", NULL, 0);
    send_call(fx, 3, SVC, "Nope", "x", NULL, 0);
    pump(fx);
    r = read_response(fx, 1);
    assert_int_equal(r->status->code, BERTH_GRPC_UNIMPLEMENTED);
    assert_string_equal(r->status->message, "service no.such.Service");
    ttrpc__response__free_unpacked(r, NULL);
    r = read_response(fx, 3);
    assert_int_equal(r->status->code, BERTH_GRPC_UNIMPLEMENTED);
    assert_string_equal(r->status->message, "method Nope");
    ttrpc__response__free_unpacked(r, NULL);
}

static void test_conn_handler_error_maps_to_status(void **state)
{
    struct fx *fx = *state;
    Ttrpc__Response *r;

    send_call(fx, 1, SVC, "Fail", "t1", NULL, 0);
    pump(fx);
    r = read_response(fx, 1);
    assert_int_equal(r->status->code, BERTH_GRPC_NOT_FOUND);
    assert_string_equal(r->status->message, "task \"t1\": not found");
    assert_int_equal(r->payload.len, 0);
    ttrpc__response__free_unpacked(r, NULL);
}

static void test_conn_bad_stream_ids_are_invalid_argument(void **state)
{
    struct fx *fx = *state;

    send_call(fx, 2, SVC, "Echo", "x", NULL, 0); /* even */
    send_call(fx, 0, SVC, "Echo", "x", NULL, 0); /* zero */
    send_call(fx, 5, SVC, "Echo", "x", NULL, 0); /* fine */
    send_call(fx, 5, SVC, "Echo", "x", NULL, 0); /* re-used */
    send_call(fx, 3, SVC, "Echo", "x", NULL, 0); /* backwards */
    pump(fx);
    expect_status(fx, 2, BERTH_GRPC_INVALID_ARGUMENT);
    expect_status(fx, 0, BERTH_GRPC_INVALID_ARGUMENT);
    expect_status(fx, 5, BERTH_GRPC_OK);
    expect_status(fx, 5, BERTH_GRPC_INVALID_ARGUMENT);
    expect_status(fx, 3, BERTH_GRPC_INVALID_ARGUMENT);
    assert_false(peer_readable(fx));
}

static void test_conn_garbage_payloads_get_error_status(void **state)
{
    struct fx *fx = *state;
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    Ttrpc__Request r = TTRPC__REQUEST__INIT;
    struct berth_bytes rb = {0};

    /* Not a ttrpc.Request at all. */
    send_raw(fx, 1, BERTH_TTRPC_REQUEST, 0, junk, sizeof(junk));
    /* A valid Request whose payload isn't a ConnectRequest. */
    r.service = SVC;
    r.method = "Echo";
    r.payload.data = (uint8_t *)junk;
    r.payload.len = sizeof(junk);
    berth_ttrpc_pack(&rb, &r.base);
    send_raw(fx, 3, BERTH_TTRPC_REQUEST, 0, rb.data, rb.len);
    berth_bytes_clear(&rb);
    pump(fx);
    expect_status(fx, 1, BERTH_GRPC_INVALID_ARGUMENT);
    expect_status(fx, 3, BERTH_GRPC_INTERNAL);
}

static void test_conn_empty_request_frame_is_unimplemented(void **state)
{
    struct fx *fx = *state;

    /* Zero-length payload decodes as an empty Request: no service. */
    send_raw(fx, 1, BERTH_TTRPC_REQUEST, 0, NULL, 0);
    pump(fx);
    expect_status(fx, 1, BERTH_GRPC_UNIMPLEMENTED);
}

static void test_conn_oversize_frame_is_resource_exhausted_then_continues(void **state)
{
    struct fx *fx = *state;
    struct berth_ttrpc_header h = {BERTH_TTRPC_MAX_PAYLOAD + 100, 1, BERTH_TTRPC_REQUEST, 0};
    uint8_t hdr[BERTH_TTRPC_HEADER_LEN];
    uint8_t *junk = calloc(1, 65536);
    size_t left = h.length;
    Containerd__Task__V2__ConnectResponse *c;
    int fl = fcntl(fx->peer, F_GETFL);

    berth_ttrpc_header_encode(&h, hdr);
    write_all(fx->peer, hdr, sizeof(hdr));
    pump(fx);
    expect_status(fx, 1, BERTH_GRPC_RESOURCE_EXHAUSTED);
    /* The oversized payload still has to be drained without tearing the connection down. */
    fcntl(fx->peer, F_SETFL, fl | O_NONBLOCK);
    while (left > 0) {
        ssize_t k = write(fx->peer, junk, left < 65536 ? left : 65536);
        if (k < 0) {
            assert_true(errno == EAGAIN);
            pump(fx);
            continue;
        }
        left -= (size_t)k;
    }
    fcntl(fx->peer, F_SETFL, fl);
    pump(fx);
    send_call(fx, 3, SVC, "Echo", "after", NULL, 0);
    pump(fx);
    c = expect_ok(fx, 3);
    assert_string_equal(c->version, "after");
    containerd__task__v2__connect_response__free_unpacked(c, NULL);
    free(junk);
}

static void test_conn_unknown_type_ignored_data_frame_rejected(void **state)
{
    struct fx *fx = *state;

    send_raw(fx, 1, 0x09, 0, "??", 2);
    send_raw(fx, 3, BERTH_TTRPC_DATA, BERTH_TTRPC_FLAG_REMOTE_CLOSED, "d", 1);
    send_raw(fx, 5, BERTH_TTRPC_RESPONSE, 0, NULL, 0); /* nonsense from a client: ignored */
    send_call(fx, 7, SVC, "Echo", "x", NULL, 0);
    pump(fx);
    expect_status(fx, 3, BERTH_GRPC_INVALID_ARGUMENT);
    expect_status(fx, 7, BERTH_GRPC_OK);
    assert_false(peer_readable(fx));
}

static void test_conn_pipelined_requests_answered_in_order(void **state)
{
    struct fx *fx = *state;

    for (uint32_t id = 1; id < 200; id += 2)
        send_call(fx, id, SVC, "Echo", "p", NULL, 0);
    pump(fx);
    for (uint32_t id = 1; id < 200; id += 2)
        expect_status(fx, id, BERTH_GRPC_OK);
}

static void test_conn_deferred_reply_arrives_later(void **state)
{
    struct fx *fx = *state;
    Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
    Containerd__Task__V2__ConnectResponse *c;
    struct berth_err *e = NULL;

    send_call(fx, 1, SVC, "Defer", "x", NULL, 0);
    send_call(fx, 3, SVC, "Defer", "y", NULL, 0);
    pump(fx);
    assert_false(peer_readable(fx));
    assert_non_null(fx->app.held);
    assert_ptr_equal(berth_ttrpc_pending_conn(fx->app.held), fx->conn);
    /* Only the second one is still held (the test keeps one slot); answer it. */
    resp.version = "later";
    berth_ttrpc_pending_reply_msg(fx->app.held, &resp.base);
    fx->app.held = NULL;
    c = expect_ok(fx, 3);
    assert_string_equal(c->version, "later");
    containerd__task__v2__connect_response__free_unpacked(c, NULL);

    send_call(fx, 5, SVC, "Defer", "z", NULL, 0);
    pump(fx);
    berth_err_set(&e, BERTH_E_FAILED_PRECONDITION, 0, "not yet");
    berth_ttrpc_pending_reply(fx->app.held, NULL, 0, e);
    fx->app.held = NULL;
    berth_err_free(&e);
    expect_status(fx, 5, BERTH_GRPC_FAILED_PRECONDITION);
    assert_int_equal(fx->app.wakes, 0); /* everything fitted in the socket at once */
}

/* A handler that replies through its handle before it returns, then fails or succeeds, or
 * drops its handle and fails: exactly one answer per call, and no use of the freed handle
 * (ASan). */
static void test_conn_deferred_reply_before_return_answers_once(void **state)
{
    struct fx *fx = *state;
    Containerd__Task__V2__ConnectResponse *c;

    send_call(fx, 1, SVC, "DeferNow", "ok", NULL, 0);
    send_call(fx, 3, SVC, "DeferNow", "fail", NULL, 0);
    send_call(fx, 5, SVC, "DeferNow", "drop", NULL, 0);
    pump(fx);
    c = expect_ok(fx, 1);
    assert_string_equal(c->version, "early");
    containerd__task__v2__connect_response__free_unpacked(c, NULL);
    c = expect_ok(fx, 3);
    assert_string_equal(c->version, "early");
    containerd__task__v2__connect_response__free_unpacked(c, NULL);
    expect_status(fx, 5, BERTH_GRPC_NOT_FOUND);
    assert_false(peer_readable(fx));
}

static void test_conn_deferred_reply_after_close_is_dropped(void **state)
{
    struct fx *fx = *state;
    struct berth_ttrpc_pending *p;

    send_call(fx, 1, SVC, "Defer", "x", NULL, 0);
    pump(fx);
    p = steal_ptr(fx->app.held);
    berth_ttrpc_conn_close(fx->conn);
    fx->conn = NULL;
    berth_ttrpc_pending_reply(p, "abc", 3, NULL); /* no crash, no leak (ASan) */
}

static void test_conn_eof_is_unavailable(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    uint8_t half[4] = {0, 0, 0, 1};

    write_all(fx->peer, half, sizeof(half)); /* short header, then the peer goes away */
    close(fx->peer);
    fx->peer = -1;
    /* The first call may stop after the short read; EOF shows on the next one at the latest. */
    if (berth_ttrpc_conn_on_readable(fx->conn, &err) == 0)
        assert_int_equal(berth_ttrpc_conn_on_readable(fx->conn, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
}

static void test_conn_write_to_closed_peer_fails(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    int rc;

    send_call(fx, 1, SVC, "Echo", "x", NULL, 0);
    shutdown(fx->peer, SHUT_RD);
    close(fx->peer);
    fx->peer = -1;
    rc = berth_ttrpc_conn_on_readable(fx->conn, &err);
    /* Either the request is read and the write fails, or EOF comes first: never a crash. */
    if (rc == 0)
        rc = berth_ttrpc_conn_on_readable(fx->conn, &err);
    assert_int_equal(rc, -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conn_unary_call_answers_with_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_metadata_namespace_and_deadline_reach_handler,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_unknown_service_and_method_are_unimplemented,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_handler_error_maps_to_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_bad_stream_ids_are_invalid_argument, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_garbage_payloads_get_error_status, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_empty_request_frame_is_unimplemented, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_conn_oversize_frame_is_resource_exhausted_then_continues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_unknown_type_ignored_data_frame_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_pipelined_requests_answered_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_deferred_reply_arrives_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_deferred_reply_before_return_answers_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_deferred_reply_after_close_is_dropped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conn_eof_is_unavailable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_write_to_closed_peer_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
