/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/server dispatch (berth_server_invoke: no socket) and the error table,
 * over the real services and a real store. */
#include "tests/unit/helpers/svc_invoke.h"

#include <grpc/status.h>
#include <string.h>

#include "api/services/containers/v1/containers.pb-c.h"
#include "api/services/content/v1/content.pb-c.h"
#include "api/services/version/v1/version.pb-c.h"
#include "lib/util.h"
#include "services/server/server-internal.h" /* berth_server_decode, as streams use it */
#include "services/services.h"

#define GET    "/containerd.services.containers.v1.Containers/Get"
#define CREATE "/containerd.services.containers.v1.Containers/Create"
#define DELETE "/containerd.services.containers.v1.Containers/Delete"
#define LIST   "/containerd.services.containers.v1.Containers/List"

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

/* Packs msg and turns the one '#' in it into a NUL byte (protobuf-c packs C strings, so a NUL
 * cannot be put in directly). */
static void pack_with_nul(const ProtobufCMessage *msg, struct berth_bytes *out)
{
    uint8_t *hash;

    berth_svc_pack(out, msg);
    hash = memchr(out->data, '#', out->len);
    assert_non_null(hash);
    *hash = '\0';
    assert_null(memchr(hash + 1, '#', out->len - (size_t)(hash + 1 - (uint8_t *)out->data)));
}

static int invoke_raw(struct meta_env *env, const char *path, const struct berth_bytes *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const struct berth_service *const *svcs;
    size_t n = berth_services_all(&svcs);
    struct berth_services app = {.db = env->db};

    return berth_server_invoke(svcs, n, path, "default", in->data, in->len, &app, out, err);
}

/* How many containers the default namespace holds. */
static size_t count_containers(struct meta_env *env)
{
    struct berth_err *err = NULL;
    struct berth_bytes out = {0};
    Containerd__Services__Containers__V1__ListContainersRequest lreq =
        CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
    Containerd__Services__Containers__V1__ListContainersResponse *lresp;
    size_t n;

    assert_ok(svc_invoke(env, LIST, "default", &lreq.base, &out, &err), &err);
    lresp = containerd__services__containers__v1__list_containers_response__unpack(NULL, out.len,
                                                                                   out.data);
    assert_non_null(lresp);
    n = lresp->n_containers;
    protobuf_c_message_free_unpacked(&lresp->base, NULL);
    berth_bytes_clear(&out);
    return n;
}

static void create_container(struct meta_env *env, const char *id, struct berth_bytes *packed,
                             struct berth_err **err, int want)
{
    struct svc_container_req b;
    struct berth_bytes out = {0};

    svc_container_req_init(&b, id);
    if (strchr(id, '#'))
        pack_with_nul(&b.req.base, packed);
    else
        berth_svc_pack(packed, &b.req.base);
    assert_int_equal(invoke_raw(env, CREATE, packed, &out, err), want);
    berth_bytes_clear(&out);
    berth_bytes_clear(packed);
}

static void test_invoke_create_with_nul_in_id_is_invalid_argument(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_bytes in = {0}, out = {0};
    Containerd__Services__Containers__V1__GetContainerRequest greq =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;

    /* protobuf-c alone would unpack this as id "ab" and create that */
    create_container(env, "ab#cd", &in, &err, -1);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "container.id"));
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(count_containers(env), 0);
    greq.id = "ab";
    assert_int_equal(svc_invoke(env, GET, "default", &greq.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_invoke_get_delete_with_nul_do_not_reach_the_prefix(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_bytes in = {0}, out = {0};
    Containerd__Services__Containers__V1__GetContainerRequest greq =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    Containerd__Services__Containers__V1__DeleteContainerRequest dreq =
        CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;

    create_container(env, "ab", &in, &err, 0);
    assert_null(err);
    greq.id = "ab#zz";
    pack_with_nul(&greq.base, &in);
    assert_int_equal(invoke_raw(env, GET, &in, &out, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_null(out.data);
    berth_bytes_clear(&in);
    dreq.id = "ab#zz";
    pack_with_nul(&dreq.base, &in);
    assert_int_equal(invoke_raw(env, DELETE, &in, &out, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_bytes_clear(&in);
    assert_int_equal(count_containers(env), 1);
    greq.id = "ab";
    assert_ok(svc_invoke(env, GET, "default", &greq.base, &out, &err), &err);
    berth_bytes_clear(&out);
}

/* Streaming calls decode each message with berth_server_decode: a content Write whose ref or
 * expected digest holds a NUL (or invalid UTF-8) never reaches the handler. */
static void test_decode_stream_message_with_nul_is_invalid_argument(void **state)
{
    struct berth_err *err = NULL;
    struct berth_bytes in = {0};
    ProtobufCMessage *msg = NULL;
    Containerd__Services__Content__V1__WriteContentRequest w =
        CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_REQUEST__INIT;
    const ProtobufCMessageDescriptor *d =
        &containerd__services__content__v1__write_content_request__descriptor;

    (void)state;
    w.ref = "ref#x";
    pack_with_nul(&w.base, &in);
    assert_int_equal(berth_server_decode(d, in.data, in.len, &msg, &err), -1);
    assert_null(msg);
    assert_non_null(strstr(err->msg, "field ref:"));
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_bytes_clear(&in);
    w.ref = "ref";
    w.expected = "sha256:#";
    pack_with_nul(&w.base, &in);
    assert_int_equal(berth_server_decode(d, in.data, in.len, &msg, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_bytes_clear(&in);
    w.expected = "sha256:\xc0\xaf";
    berth_svc_pack(&in, &w.base);
    assert_int_equal(berth_server_decode(d, in.data, in.len, &msg, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_bytes_clear(&in);
    /* The same message, clean, decodes. */
    w.expected = "sha256:abc";
    berth_svc_pack(&in, &w.base);
    assert_ok(berth_server_decode(d, in.data, in.len, &msg, &err), &err);
    assert_non_null(msg);
    protobuf_c_message_free_unpacked(msg, NULL);
    berth_bytes_clear(&in);
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
        cmocka_unit_test_setup_teardown(test_invoke_create_with_nul_in_id_is_invalid_argument,
                                        meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_invoke_get_delete_with_nul_do_not_reach_the_prefix,
                                        meta_setup, meta_teardown),
        cmocka_unit_test(test_decode_stream_message_with_nul_is_invalid_argument),
        cmocka_unit_test(test_status_table_and_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
