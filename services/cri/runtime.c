/* SPDX-License-Identifier: Apache-2.0 */
/* Version, Status, UpdateRuntimeConfig, and the RuntimeService method table. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "services/cri/cri-internal.h"
#include "services/metrics/metrics.h" /* enum berth_cri_op */

static int version(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
                   struct berth_err **err)
{
    Runtime__V1__VersionResponse resp = RUNTIME__V1__VERSION_RESPONSE__INIT;

    (void)ctx;
    (void)in;
    (void)err;
    resp.version = "0.1.0"; /* the kubelet runtime API version field, as containerd answers */
    resp.runtime_name = "berth";
    resp.runtime_version = BERTH_VERSION;
    resp.runtime_api_version = "v1";
    berth_svc_pack(out, &resp.base);
    return 0;
}

static int status(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
                  struct berth_err **err)
{
    const Runtime__V1__StatusRequest *req = (const void *)in;
    Runtime__V1__StatusResponse resp = RUNTIME__V1__STATUS_RESPONSE__INIT;
    Runtime__V1__RuntimeStatus st = RUNTIME__V1__RUNTIME_STATUS__INIT;
    Runtime__V1__RuntimeCondition rc = RUNTIME__V1__RUNTIME_CONDITION__INIT;
    Runtime__V1__RuntimeCondition nc = RUNTIME__V1__RUNTIME_CONDITION__INIT;
    Runtime__V1__RuntimeCondition *conds[2] = {&rc, &nc};
    struct cri_info inf;
    Runtime__V1__RuntimeHandler *hs = NULL, **hp = NULL;
    Runtime__V1__RuntimeHandlerFeatures feat = RUNTIME__V1__RUNTIME_HANDLER_FEATURES__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    _cleanup_free_ char *msg = NULL, *info = NULL;
    bool ready;

    if (!c)
        return -1;
    ready = cri_cni_ready(c, &msg);
    rc.type = "RuntimeReady";
    rc.status = true;
    nc.type = "NetworkReady";
    nc.status = ready;
    if (!ready) {
        nc.reason = "NetworkPluginNotReady";
        nc.message = msg;
    }
    st.conditions = conds;
    st.n_conditions = 2;
    resp.status = &st;
    hs = berth_xcalloc(c->n_runtimes, sizeof(*hs));
    hp = berth_xcalloc(c->n_runtimes, sizeof(*hp));
    for (size_t i = 0; i < c->n_runtimes; i++) {
        hs[i] = (Runtime__V1__RuntimeHandler)RUNTIME__V1__RUNTIME_HANDLER__INIT;
        hs[i].name = (char *)c->runtimes[i].name;
        hs[i].features = &feat;
        hp[i] = &hs[i];
    }
    resp.runtime_handlers = hp;
    resp.n_runtime_handlers = c->n_runtimes;
    if (req->verbose) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}", "sandboxImage",
                              c->own_pause ? CRI_PAUSE_IMAGE : c->sandbox_image, "snapshotter",
                              c->snapshotter, "defaultRuntimeName", c->default_runtime,
                              "cniConfDir", c->cni_conf_dir, "oomScoreAdjMin", c->oom_score_adj_min,
                              "cniBinDir", c->cni_bin_dir);
        info = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        cri_info_fill(&inf, &runtime__v1__status_response__info_entry__descriptor, "config", info);
        resp.info = (void *)inf.ents;
        resp.n_info = 1;
    }
    berth_svc_pack(out, &resp.base);
    free(hs);
    free(hp);
    return 0;
}

static int update_runtime_config(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                                 struct berth_bytes *out, struct berth_err **err)
{
    Runtime__V1__UpdateRuntimeConfigResponse resp =
        RUNTIME__V1__UPDATE_RUNTIME_CONFIG_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);

    (void)in;
    if (!c)
        return -1;
    /* kubelet sends the pod CIDR; CNI configurations carry their own ranges (containerd only
     * uses it to fill a config template, which berth does not have). */
    berth_svc_pack(out, &resp.base);
    return 0;
}

static int unimplemented(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    (void)in;
    (void)out;
    return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0, "%s is not implemented yet", ctx->method);
}

CRI_TIMED(cri_run_pod_sandbox, BERTH_CRI_OP_SANDBOX_RUN)
CRI_TIMED(cri_stop_pod_sandbox, BERTH_CRI_OP_SANDBOX_STOP)
CRI_TIMED(cri_remove_pod_sandbox, BERTH_CRI_OP_SANDBOX_REMOVE)
CRI_TIMED(cri_list_pod_sandbox, BERTH_CRI_OP_SANDBOX_LIST)
CRI_TIMED(cri_create_container, BERTH_CRI_OP_CTR_CREATE)
CRI_TIMED(cri_start_container, BERTH_CRI_OP_CTR_START)
CRI_TIMED(cri_stop_container, BERTH_CRI_OP_CTR_STOP)
CRI_TIMED(cri_remove_container, BERTH_CRI_OP_CTR_REMOVE)
CRI_TIMED(cri_list_containers, BERTH_CRI_OP_CTR_LIST)
CRI_TIMED(cri_exec_sync, BERTH_CRI_OP_EXEC_SYNC)

#define U(name, fn)                                                                                \
    {                                                                                              \
        name, BERTH_UNARY, BERTH_NS_OPTIONAL, .unary = fn                                          \
    }
/* A listing with a CRI filter (cheap: ids, state, labels), kept off the writers' pool all the
 * same, as every filtered listing is. */
#define L(name, fn)                                                                                \
    {                                                                                              \
        name, BERTH_UNARY, BERTH_NS_OPTIONAL, .listing = true, .unary = fn                         \
    }
static const struct berth_method methods[] = {
    {"Version", BERTH_UNARY, BERTH_NS_OPTIONAL, .nonblocking = true, .unary = version},
    U("Status", status),
    U("UpdateRuntimeConfig", update_runtime_config),
    U("RunPodSandbox", cri_run_pod_sandbox_timed),
    U("StopPodSandbox", cri_stop_pod_sandbox_timed),
    U("RemovePodSandbox", cri_remove_pod_sandbox_timed),
    U("PodSandboxStatus", cri_pod_sandbox_status),
    L("ListPodSandbox", cri_list_pod_sandbox_timed),
    U("CreateContainer", cri_create_container_timed),
    U("StartContainer", cri_start_container_timed),
    U("StopContainer", cri_stop_container_timed),
    U("RemoveContainer", cri_remove_container_timed),
    L("ListContainers", cri_list_containers_timed),
    U("ContainerStatus", cri_container_status),
    U("UpdateContainerResources", cri_update_container_resources),
    U("ReopenContainerLog", cri_reopen_container_log),
    U("ExecSync", cri_exec_sync_timed),
    U("Exec", cri_exec),
    U("Attach", cri_attach),
    U("PortForward", cri_port_forward),
    U("ContainerStats", cri_container_stats),
    L("ListContainerStats", cri_list_container_stats),
    U("PodSandboxStats", cri_pod_sandbox_stats),
    L("ListPodSandboxStats", cri_list_pod_sandbox_stats),
    U("CheckpointContainer", unimplemented),
    {"GetContainerEvents", BERTH_SERVER_STREAM, BERTH_NS_OPTIONAL,
     .server_stream = cri_events_stream},
};

const struct berth_service berth_svc_cri_runtime = {&runtime__v1__runtime_service__descriptor,
                                                    methods, BERTH_N(methods)};
