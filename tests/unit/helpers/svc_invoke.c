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
