/* SPDX-License-Identifier: Apache-2.0 */
/* Version service: the daemon's version and revision. */
#include "api/services/version/v1/version.pb-c.h"
#include "services/services.h"

#ifndef BERTH_REVISION
#define BERTH_REVISION "berth"
#endif

static int version_version(struct berth_svc_ctx *ctx, const ProtobufCMessage *req,
                           struct berth_bytes *out, struct berth_err **err)
{
    Containerd__Services__Version__V1__VersionResponse resp =
        CONTAINERD__SERVICES__VERSION__V1__VERSION_RESPONSE__INIT;

    resp.version = (char *)BERTH_VERSION;
    resp.revision = (char *)BERTH_REVISION;
    berth_svc_pack(out, &resp.base);
    return 0;
}

static const struct berth_method methods[] = {
    {"Version", BERTH_UNARY, BERTH_NS_OPTIONAL, .nonblocking = true, .unary = version_version},
};

const struct berth_service berth_svc_version = {
    &containerd__services__version__v1__version__descriptor, methods, BERTH_N(methods)};
