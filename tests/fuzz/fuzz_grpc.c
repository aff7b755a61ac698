/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: request decoding of every gRPC method berthd serves, through berthd's own path
 * (berth_server_decode in services/server/dispatch.c: the api/pbcheck.c wire check, then
 * protobuf-c): every containerd.services.*.v1 method (api/registry.c) and every CRI
 * runtime.v1 RuntimeService and ImageService method. Input: two bytes (little endian) picking
 * the method, modulo their number, then the request bytes. A decoded request is packed again
 * and must pass the same check and decode (what protobuf-c accepted it must give back).
 * Handlers are not run here (they need a daemon's stores and runtime); their validation is
 * exercised by the unit and integration tests. Set BERTH_FUZZ_GRPC_LIST=1 to print the
 * method table (index and path) and exit, for writing seeds.
 */
#include "tests/fuzz/fuzz.h"

#include <unistd.h>

#include "api/cri/runtime/v1/api.pb-c.h"
#include "api/registry.h"
#include "services/server/server-internal.h" /* berth_server_decode */

struct method {
    const char *service, *name;
    const ProtobufCMessageDescriptor *input;
};

static struct method *methods;
static size_t n_methods;

static void add_service(const ProtobufCServiceDescriptor *s)
{
    for (unsigned i = 0; i < s->n_methods; i++) {
        methods = realloc(methods, (n_methods + 1) * sizeof(*methods));
        FUZZ_CHECK(methods != NULL);
        methods[n_methods++] = (struct method){s->name, s->methods[i].name, s->methods[i].input};
    }
}

static void init(void)
{
    for (size_t i = 0; berth_api_services[i]; i++)
        add_service(berth_api_services[i]);
    add_service(&runtime__v1__runtime_service__descriptor);
    add_service(&runtime__v1__image_service__descriptor);
    FUZZ_CHECK(n_methods > 0);
    if (getenv("BERTH_FUZZ_GRPC_LIST")) {
        for (size_t i = 0; i < n_methods; i++)
            printf("%zu /%s/%s %s\n", i, methods[i].service, methods[i].name,
                   methods[i].input->name);
        fflush(stdout);
        _exit(0); /* libFuzzer reports exit() from the target as a finding */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ProtobufCMessage *req = NULL, *again = NULL;
    struct berth_err *err = NULL;
    const struct method *m;
    uint8_t *packed;
    size_t len;

    if (!methods)
        init();
    if (size < 2)
        return 0;
    m = &methods[(data[0] | (size_t)data[1] << 8) % n_methods];
    if (berth_server_decode(m->input, data + 2, size - 2, &req, &err) < 0) {
        FUZZ_CHECK(req == NULL && err->code == BERTH_E_INVALID_ARGUMENT);
        fuzz_err_consume(&err);
        return 0;
    }
    len = protobuf_c_message_get_packed_size(req);
    packed = malloc(len ? len : 1);
    FUZZ_CHECK(packed && protobuf_c_message_pack(req, packed) == len);
    if (berth_server_decode(m->input, packed, len, &again, &err) < 0) {
        fprintf(stderr, "/%s/%s: repacked request refused: %s\n", m->service, m->name, err->msg);
        FUZZ_CHECK(!"a decoded request does not decode again once packed");
    }
    protobuf_c_message_free_unpacked(again, NULL);
    protobuf_c_message_free_unpacked(req, NULL);
    free(packed);
    return 0;
}
