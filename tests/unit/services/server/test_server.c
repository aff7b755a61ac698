/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/server/server.c: the real transport on a temp unix socket, driven by the
 * berth client library (unary, server streaming, concurrency, errors on the wire, shutdown). */
#include "tests/unit/helpers/meta_fixture.h"

#include <grpc/status.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "api/services/containers/v1/containers.pb-c.h"
#include "client/client.h"
#include "google/protobuf/empty.pb-c.h"
#include "lib/util.h"
#include "services/services.h"

#define CTR "/containerd.services.containers.v1.Containers/"

struct srv_env {
    struct meta_env *meta;
    struct berth_services app;
    struct berth_server *srv;
    char *sock;
};

static int srv_setup(void **state)
{
    struct srv_env *env = berth_xcalloc(1, sizeof(*env));
    struct berth_server_opts opts = {
        .worker_threads = 8, .grace_ms = 2000, .socket_gid = (unsigned)-1};
    const struct berth_service *const *svcs;
    size_t n = berth_services_all(&svcs);
    struct berth_err *err = NULL;
    void *meta = NULL;

    if (meta_setup(&meta) < 0)
        return -1;
    env->meta = meta;
    env->app.db = env->meta->db;
    env->sock = berth_strdup_printf("%s/test.sock", env->meta->tmp->dir);
    opts.address = env->sock;
    if (berth_server_new(&opts, svcs, n, &env->app, &env->srv, &err) < 0 ||
        berth_server_start(env->srv, &err) < 0) {
        print_error("server: %s\n", err->msg);
        return -1;
    }
    *state = env;
    return 0;
}

static int srv_teardown(void **state)
{
    struct srv_env *env = *state;
    void *meta = env->meta;

    berth_server_shutdown(env->srv);
    berth_server_wait(env->srv);
    berth_server_free(env->srv);
    meta_teardown(&meta);
    free(env->sock);
    free(env);
    return 0;
}

static int create(struct berth_client *cl, const char *id, struct berth_err **err)
{
    Containerd__Services__Containers__V1__CreateContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    Containerd__Services__Containers__V1__Container c =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    Containerd__Services__Containers__V1__Container__Runtime rt =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT;
    ProtobufCMessage *resp = NULL;
    static uint8_t json[] = "{}";

    spec.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
    spec.value.data = json;
    spec.value.len = 2;
    rt.name = "io.containerd.berth.v1";
    c.id = (char *)id;
    c.runtime = &rt;
    c.spec = &spec;
    req.container = &c;
    if (berth_client_unary(
            cl, CTR "Create", &req.base,
            &containerd__services__containers__v1__create_container_response__descriptor, &resp,
            err) < 0)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static void test_server_socket_mode_is_0660(void **state)
{
    struct srv_env *env = *state;
    struct stat st;

    assert_int_equal(stat(env->sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);
}

struct worker {
    const char *sock;
    int idx, ok;
};

static void *worker_main(void *p)
{
    struct worker *w = p;
    struct berth_client *cl = NULL;
    struct berth_err *err = NULL;

    if (berth_client_open(w->sock, "default", 10000, &cl, &err) < 0) {
        berth_err_free(&err);
        return NULL;
    }
    for (int i = 0; i < 25; i++) {
        char id[32];
        snprintf(id, sizeof(id), "c-%d-%d", w->idx, i);
        if (create(cl, id, &err) == 0)
            w->ok++;
        berth_err_free(&err);
    }
    berth_client_close(cl);
    return NULL;
}

static int count_cb(const ProtobufCMessage *msg, void *arg)
{
    const Containerd__Services__Containers__V1__ListContainerMessage *m = (const void *)msg;
    if (m->container && m->container->id)
        (*(int *)arg)++;
    return 0;
}

static void test_server_concurrent_creates_then_stream(void **state)
{
    struct srv_env *env = *state;
    struct worker w[8];
    pthread_t t[8];
    struct berth_client *cl = NULL;
    struct berth_err *err = NULL;
    Containerd__Services__Containers__V1__ListContainersRequest lreq =
        CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
    int seen = 0;

    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){.sock = env->sock, .idx = i};
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, 25);
    }
    assert_ok(berth_client_open(env->sock, "default", 10000, &cl, &err), &err);
    assert_ok(berth_client_server_stream(
                  cl, CTR "ListStream", &lreq.base,
                  &containerd__services__containers__v1__list_container_message__descriptor,
                  count_cb, &seen, &err),
              &err);
    assert_int_equal(seen, 200);
    /* the same over the wire: duplicate, missing namespace, garbage body, unknown method */
    assert_int_equal(create(cl, "c-0-0", &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    berth_client_set_namespace(cl, NULL);
    assert_int_equal(create(cl, "nons", &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    berth_client_set_namespace(cl, "default");
    {
        struct berth_bytes resp = {0};
        int code = -1;
        char *details = NULL;
        static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0a};
        assert_ok(berth_client_unary_raw(cl, CTR "Get", garbage, sizeof(garbage), &resp, &code,
                                         &details, &err),
                  &err);
        assert_int_equal(code, GRPC_STATUS_INVALID_ARGUMENT);
        free(details);
        details = NULL;
        assert_ok(
            berth_client_unary_raw(cl, CTR "Frobnicate", NULL, 0, &resp, &code, &details, &err),
            &err);
        assert_int_equal(code, GRPC_STATUS_UNIMPLEMENTED);
        assert_non_null(strstr(details, "unknown method Frobnicate"));
        free(details);
        berth_bytes_clear(&resp);
    }
    berth_client_close(cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_socket_mode_is_0660, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_server_concurrent_creates_then_stream, srv_setup,
                                        srv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
