/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/health/health.c: Check answers SERVING for the server and every service
 * berthd registers, NOT_SERVING once berthd stops, NOT_FOUND for an unknown service. */
#include "tests/unit/helpers/berth_test.h"

#include <stdlib.h>
#include <string.h>

#include "api/grpc/health/v1/health.pb-c.h"
#include "client/client.h"
#include "lib/fs.h"
#include "lib/util.h"
#include "tests/unit/services/svc_deadline.h"

#define CHECK_PATH "/grpc.health.v1.Health/Check"

static int check(struct berth_services *app, const char *service, int *status,
                 struct berth_err **err)
{
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    Grpc__Health__V1__HealthCheckResponse *resp;
    struct berth_bytes out = {0};

    req.service = (char *)service;
    if (svc_call_deadline(app, CHECK_PATH, NULL, &req.base, 0, &out, err) < 0)
        return -1;
    resp = grpc__health__v1__health_check_response__unpack(NULL, out.len, out.data);
    assert_non_null(resp);
    *status = resp->status;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    berth_bytes_clear(&out);
    return 0;
}

static void test_health_check(void **state)
{
    struct berth_services app = {0};
    struct berth_err *err = NULL;
    int st = -1;

    (void)state;
    assert_ok(check(&app, "", &st, &err), &err);
    assert_int_equal(st, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    assert_ok(check(&app, "containerd.services.tasks.v1.Tasks", &st, &err), &err);
    assert_int_equal(st, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    assert_ok(check(&app, "runtime.v1.RuntimeService", &st, &err), &err);
    assert_int_equal(st, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    assert_int_equal(check(&app, "no.such.Service", &st, &err), -1);
    assert_non_null(strstr(err->msg, "no.such.Service"));
    assert_err_code(err, BERTH_E_NOT_FOUND);
    app.stopping = true;
    assert_ok(check(&app, "", &st, &err), &err);
    assert_int_equal(st, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
}

struct watch_seen {
    struct berth_services *app;
    int status[8];
    int n;
};

static int on_watch(const ProtobufCMessage *msg, void *arg)
{
    const Grpc__Health__V1__HealthCheckResponse *r = (const void *)msg;
    struct watch_seen *w = arg;

    if (w->n < 8)
        w->status[w->n++] = r->status;
    /* berthd starts to stop: the stream must say so, then end */
    __atomic_store_n(&w->app->stopping, true, __ATOMIC_RELEASE);
    return 0;
}

/* Watch over a real server: SERVING first, NOT_SERVING once berthd stops, then the end. */
static void test_health_watch(void **state)
{
    char dir[] = "/tmp/berth-health.XXXXXX";
    struct berth_services app = {0};
    struct berth_server_opts opts = {
        .worker_threads = 2, .grace_ms = 2000, .socket_gid = (unsigned)-1};
    const struct berth_service *const *svcs;
    size_t n = berth_services_all(&svcs);
    struct berth_server *srv = NULL;
    struct berth_client *cl = NULL;
    struct berth_err *err = NULL;
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    struct watch_seen w = {.app = &app};
    _cleanup_free_ char *sock = NULL;

    (void)state;
    assert_non_null(mkdtemp(dir));
    sock = berth_strdup_printf("%s/s.sock", dir);
    opts.address = sock;
    assert_ok(berth_server_new(&opts, svcs, n, &app, &srv, &err), &err);
    assert_ok(berth_server_start(srv, &err), &err);
    assert_ok(berth_client_open(sock, NULL, 10000, &cl, &err), &err);
    assert_ok(berth_client_server_stream(cl, "/grpc.health.v1.Health/Watch", &req.base,
                                         &grpc__health__v1__health_check_response__descriptor,
                                         on_watch, &w, &err),
              &err);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.status[0], GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    assert_int_equal(w.status[1],
                     GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
    berth_client_close(cl);
    berth_server_shutdown(srv);
    berth_server_wait(srv);
    berth_server_free(srv);
    assert_ok(berth_rmrf(dir, &err), &err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_check),
        cmocka_unit_test(test_health_watch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
