/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRI operation latencies (services/metrics): the RuntimeService and ImageService tables call
 * the handlers through these wrappers, which time each successful operation as containerd's
 * CRI does, labelled with the runtime handler of the pod it concerns.
 */
#include <string.h>

#include "services/cri/cri-internal.h"
#include "services/metrics/metrics.h"

/* A string field of a request by name ("pod_sandbox_id", "container_id"); NULL if absent. */
static const char *req_str(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        m ? protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name) : NULL;

    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return *(const char *const *)((const char *)m + f->offset);
}

/* The runtime handler of a pod, or of a container's pod, copied ("" when unknown). Looked up
 * before the call: a removal leaves nothing to look up after it. */
static char *handler_of(struct berth_cri *c, const char *sandbox_id, const char *container_id)
{
    char *out = NULL;

    if (!c)
        return berth_xstrdup("");
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; container_id && !sandbox_id && i < c->n_containers; i++)
        if (strcmp(c->containers[i]->id, container_id) == 0)
            sandbox_id = c->containers[i]->sandbox_id;
    for (size_t i = 0; sandbox_id && !out && i < c->n_sandboxes; i++)
        if (strcmp(c->sandboxes[i]->id, sandbox_id) == 0 && c->sandboxes[i]->runtime_handler)
            out = berth_xstrdup(c->sandboxes[i]->runtime_handler);
    pthread_mutex_unlock(&c->mu);
    return out ? out : berth_xstrdup("");
}

int cri_timed(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
              struct berth_err **err, berth_unary_fn fn, int op)
{
    struct berth_svc_metrics *m = berth_svc_app(ctx)->metrics;
    struct berth_cri *c = berth_svc_app(ctx)->cri;
    _cleanup_free_ char *rt = NULL;
    int64_t t0;
    int ret;

    if (!m)
        return fn(ctx, in, out, err);
    if (op == BERTH_CRI_OP_SANDBOX_RUN) {
        const char *h = req_str(in, "runtime_handler");
        rt = berth_xstrdup(h && *h ? h : c ? c->default_runtime : "");
    } else {
        rt = handler_of(c, req_str(in, "pod_sandbox_id"), req_str(in, "container_id"));
    }
    t0 = berth_mono_ns();
    ret = fn(ctx, in, out, err);
    if (ret == 0)
        berth_svc_metrics_cri(m, (enum berth_cri_op)op, rt, t0);
    return ret;
}
