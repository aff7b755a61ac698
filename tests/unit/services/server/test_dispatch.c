/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/server dispatch (berth_server_invoke: no socket) and the error table,
 * over the real services and a real store. */
#include "tests/unit/helpers/svc_invoke.h"

#include <grpc/status.h>
#include <string.h>

#include "api/services/containers/v1/containers.pb-c.h"
#include "api/services/version/v1/version.pb-c.h"
#include "lib/util.h"
#include "services/services.h"

#define GET    "/containerd.services.containers.v1.Containers/Get"
#define CREATE "/containerd.services.containers.v1.Containers/Create"

static void test_invoke_version(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_bytes out = {0};
    Containerd__Services__Version__V1__VersionResponse *resp;

    assert_ok(
        svc_invoke(env, "/containerd.services.version.v1.Version/Version", NULL, NULL, &out, &err),
        &err);
    resp = containerd__services__version__v1__version_response__unpack(NULL, out.len, out.data);
    assert_non_null(resp);
    assert_string_equal(resp->version, BERTH_VERSION);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    berth_bytes_clear(&out);
}

static void test_invoke_namespace_header_rules(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_bytes out = {0};
    Containerd__Services__Containers__V1__GetContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;

    req.id = "c1";
    assert_int_equal(svc_invoke(env, GET, NULL, &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(svc_invoke(env, GET, "", &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(svc_invoke(env, GET, "bad..ns", &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(svc_invoke(env, GET, "default", &req.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_invoke_garbage_body_is_invalid_argument(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_bytes out = {0};
    const struct berth_service *const *svcs;
    size_t n = berth_services_all(&svcs);
    struct berth_services app = {.db = env->db};
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0a};

    assert_int_equal(
        berth_server_invoke(svcs, n, GET, "default", garbage, sizeof(garbage), &app, &out, &err),
        -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_invoke_unknown_is_not_implemented(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_bytes out = {0};

    assert_int_equal(svc_invoke(env, "/containerd.services.containers.v1.Containers/Nope",
                                "default", NULL, &out, &err),
                     -1);
    assert_non_null(strstr(err->msg, "unknown method Nope"));
    assert_err_code(err, BERTH_E_NOT_IMPLEMENTED);
    assert_int_equal(svc_invoke(env, "/no.such.Service/Call", "default", NULL, &out, &err), -1);
    assert_non_null(strstr(err->msg, "unknown service no.such.Service"));
    assert_err_code(err, BERTH_E_NOT_IMPLEMENTED);
    /* Tasks without a runtime manager loaded (as in this fixture) */
    assert_int_equal(
        svc_invoke(env, "/containerd.services.tasks.v1.Tasks/List", "default", NULL, &out, &err),
        -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
}

static void test_invoke_create_then_get_keeps_spec_bytes(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_bytes out = {0};
    Containerd__Services__Containers__V1__CreateContainerRequest creq =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    Containerd__Services__Containers__V1__Container c =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    Containerd__Services__Containers__V1__Container__Runtime rt =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT, opts = GOOGLE__PROTOBUF__ANY__INIT;
    Google__Protobuf__Timestamp zero = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Containerd__Services__Containers__V1__GetContainerRequest greq =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    Containerd__Services__Containers__V1__GetContainerResponse *gresp;
    static uint8_t json[] = "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"]}}";

    spec.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
    spec.value.data = json;
    spec.value.len = sizeof(json) - 1;
    opts.type_url = "containerd.runc.v1.Options";
    rt.name = "io.containerd.runc.v2";
    rt.options = &opts;
    zero.seconds = -62135596800LL; /* what ctr sends for "unset"; the server ignores it */
    c.id = "c1";
    c.runtime = &rt;
    c.spec = &spec;
    c.created_at = &zero;
    creq.container = &c;
    assert_ok(svc_invoke(env, CREATE, "default", &creq.base, &out, &err), &err);
    berth_bytes_clear(&out);
    assert_int_equal(svc_invoke(env, CREATE, "default", &creq.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);

    greq.id = "c1";
    assert_ok(svc_invoke(env, GET, "default", &greq.base, &out, &err), &err);
    gresp = containerd__services__containers__v1__get_container_response__unpack(NULL, out.len,
                                                                                 out.data);
    assert_non_null(gresp);
    assert_non_null(gresp->container->spec);
    assert_int_equal(gresp->container->spec->value.len, spec.value.len);
    assert_memory_equal(gresp->container->spec->value.data, json, spec.value.len);
    assert_string_equal(gresp->container->spec->type_url, spec.type_url);
    assert_non_null(gresp->container->runtime->options);
    assert_string_equal(gresp->container->runtime->options->type_url, opts.type_url);
    assert_true(gresp->container->created_at->seconds > 1700000000);
    protobuf_c_message_free_unpacked(&gresp->base, NULL);
    berth_bytes_clear(&out);
}

static void test_status_table_and_messages(void **state)
{
    struct berth_err *e = NULL;
    char *m;

    assert_int_equal(berth_errc_to_grpc(BERTH_E_NOT_FOUND), GRPC_STATUS_NOT_FOUND);
    assert_int_equal(berth_errc_to_grpc(BERTH_E_INVALID_ARGUMENT), GRPC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(berth_errc_to_grpc(BERTH_E_FAILED_PRECONDITION),
                     GRPC_STATUS_FAILED_PRECONDITION);
    assert_int_equal(berth_errc_to_grpc(BERTH_E_NOT_IMPLEMENTED), GRPC_STATUS_UNIMPLEMENTED);
    assert_int_equal(berth_errc_to_grpc(BERTH_E_INTERNAL), GRPC_STATUS_UNKNOWN);
    berth_err_set(&e, BERTH_E_NOT_FOUND, 0, "container \"x\"");
    m = berth_err_status_message(e);
    assert_string_equal(m, "container \"x\": not found");
    free(m);
    berth_err_free(&e);
    berth_err_set(&e, BERTH_E_NOT_FOUND, 0, "already suffixed: not found");
    m = berth_err_status_message(e);
    assert_string_equal(m, "already suffixed: not found");
    free(m);
    berth_err_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invoke_version, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_invoke_namespace_header_rules, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_invoke_garbage_body_is_invalid_argument, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_invoke_unknown_is_not_implemented, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_invoke_create_then_get_keeps_spec_bytes, meta_setup,
                                        meta_teardown),
        cmocka_unit_test(test_status_table_and_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
