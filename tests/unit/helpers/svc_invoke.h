/* SPDX-License-Identifier: Apache-2.0 */
/* Calls a unary RPC of the real service registry over a meta_env store, without a socket
 * (berth_server_invoke: header checks, decode, handler). */
#ifndef BERTH_TEST_SVC_INVOKE_H
#define BERTH_TEST_SVC_INVOKE_H

#include <protobuf-c/protobuf-c.h>

#include "api/services/containers/v1/containers.pb-c.h"
#include "lib/util.h"
#include "tests/unit/helpers/meta_fixture.h"

/* Packs req (NULL: empty body) and invokes path with ns as the containerd-namespace header
 * (NULL: none). On success *out holds the packed response (berth_bytes_clear it). */
int svc_invoke(struct meta_env *env, const char *path, const char *ns, const ProtobufCMessage *req,
               struct berth_bytes *out, struct berth_err **err);

struct berth_services;
/* As svc_invoke, with a caller-built app (e.g. carrying .snapshotters or .content). */
int svc_invoke_app(struct berth_services *app, const char *path, const char *ns,
                   const ProtobufCMessage *req, struct berth_bytes *out, struct berth_err **err);

/* A Containers/Create request as ctr sends it for a container: id, image "img", runtime
 * io.containerd.runc.v2, an empty JSON spec. Everything lives in the struct, so it must outlive
 * the request's use; tests set more fields (labels, runtime options) on req before using it. */
struct svc_container_req {
    Containerd__Services__Containers__V1__CreateContainerRequest req;
    Containerd__Services__Containers__V1__Container c;
    Containerd__Services__Containers__V1__Container__Runtime rt;
    Google__Protobuf__Any spec;
};
void svc_container_req_init(struct svc_container_req *b, const char *id);

#endif
