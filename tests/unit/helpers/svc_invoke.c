/* SPDX-License-Identifier: Apache-2.0 */
/* Unary RPC helper for service tests (see svc_invoke.h). */
#include "tests/unit/helpers/svc_invoke.h"

#include "services/services.h"

int svc_invoke_app(struct berth_services *app, const char *path, const char *ns,
                   const ProtobufCMessage *req, struct berth_bytes *out, struct berth_err **err)
{
    const struct berth_service *const *svcs;
    size_t n = berth_services_all(&svcs);
    struct berth_bytes in = {0};
    int ret;

    if (req)
        berth_svc_pack(&in, req);
    ret = berth_server_invoke(svcs, n, path, ns, in.data, in.len, app, out, err);
    berth_bytes_clear(&in);
    return ret;
}

int svc_invoke(struct meta_env *env, const char *path, const char *ns, const ProtobufCMessage *req,
               struct berth_bytes *out, struct berth_err **err)
{
    struct berth_services app = {.db = env->db};

    return svc_invoke_app(&app, path, ns, req, out, err);
}

void svc_container_req_init(struct svc_container_req *b, const char *id)
{
    static uint8_t json[] = "{}";

    *b = (struct svc_container_req){
        .req = CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT,
        .c = CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT,
        .rt = CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT,
        .spec = GOOGLE__PROTOBUF__ANY__INIT,
    };
    b->spec.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
    b->spec.value.data = json;
    b->spec.value.len = 2;
    b->rt.name = "io.containerd.runc.v2";
    b->c.id = (char *)id;
    b->c.image = "img";
    b->c.runtime = &b->rt;
    b->c.spec = &b->spec;
    b->req.container = &b->c;
}
