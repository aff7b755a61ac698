/* SPDX-License-Identifier: Apache-2.0 */
/* StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox (containerd.md §8.9). */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "lib/log.h"
#include "lib/util.h"
#include "runtime/v2/runtime.h"
#include "services/cri/cri-internal.h"
#include "services/cri/events.h"
#include "services/cri/record.h"

/* The member containers of sandbox id (references). */
static void members(struct berth_cri *c, const char *id, struct cri_container ***out, size_t *n)
{
    struct cri_container **all;
    size_t na, k = 0;

    cri_containers_list(c, &all, &na);
    for (size_t i = 0; i < na; i++) {
        if (strcmp(all[i]->sandbox_id, id) == 0)
            all[k++] = all[i];
        else
            cri_container_put(c, all[i]);
    }
    *out = all;
    *n = k;
}

/* Kills the pause task and waits for it, then marks the sandbox not ready. */
static int stop_task(struct berth_cri *c, struct cri_sandbox *s, struct berth_err **err)
{
    struct berth_rt_task *t = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    int ret;

    if (berth_rt_task_get(c->svc->runtime, CRI_NS, s->id, &t, &e) < 0) {
        if (e->code != BERTH_E_NOT_FOUND) {
            *err = steal_ptr(e);
            return -1;
        }
        cri_sandbox_exited(c, s);
        return 0;
    }
    ret = cri_task_kill_wait(c, t, err);
    berth_rt_task_put(t);
    if (ret < 0)
        return berth_err_wrap(err, "stop sandbox \"%s\"", s->id);
    cri_sandbox_exited(c, s);
    return 0;
}

static int sandbox_stop(struct berth_cri *c, struct cri_sandbox *s, struct berth_err **err)
{
    struct cri_container **v;
    _cleanup_free_ char *state = cri_sandbox_state(c, s->id);
    _cleanup_free_ char *shm = berth_strdup_printf("%s/shm", state);
    size_t n;
    int ret = 0;

    members(c, s->id, &v, &n);
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = cri_container_stop(c, v[i], 0, err);
    cri_containers_put(c, v, n);
    if (ret < 0)
        return -1;
    if (stop_task(c, s, err) < 0)
        return -1;
    if (umount2(shm, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        log_warn("ns=%s sandbox=%s unmount shm: %s", CRI_NS, s->id, berth_strerror(errno));
    if (cri_network_teardown(c, s, err) < 0)
        return -1;
    log_info("ns=%s sandbox=%s stopped", CRI_NS, s->id);
    return 0;
}

CRI_RPC(cri_stop_pod_sandbox)
{
    const Runtime__V1__StopPodSandboxRequest *req = (const void *)in;
    Runtime__V1__StopPodSandboxResponse resp = RUNTIME__V1__STOP_POD_SANDBOX_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_sandbox *s = NULL;
    int ret;

    if (!c || cri_sandbox_get(c, req->pod_sandbox_id, &s, err) < 0)
        return -1;
    pthread_mutex_lock(&s->op);
    ret = sandbox_stop(c, s, err);
    pthread_mutex_unlock(&s->op);
    cri_sandbox_put(c, s);
    if (ret < 0)
        return -1;
    berth_svc_pack(out, &resp.base);
    return 0;
}

CRI_RPC(cri_remove_pod_sandbox)
{
    const Runtime__V1__RemovePodSandboxRequest *req = (const void *)in;
    Runtime__V1__RemovePodSandboxResponse resp = RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_sandbox *s = NULL;
    struct cri_container **v;
    _cleanup_err_ struct berth_err *e = NULL;
    size_t n;
    int ret = 0;

    if (!c)
        return -1;
    if (cri_sandbox_get(c, req->pod_sandbox_id, &s, &e) < 0) {
        if (e->code != BERTH_E_NOT_FOUND) {
            *err = steal_ptr(e);
            return -1;
        }
        berth_svc_pack(out, &resp.base); /* already gone */
        return 0;
    }
    pthread_mutex_lock(&s->op);
    if (!s->removed) {
        ret = sandbox_stop(c, s, err);
        members(c, s->id, &v, &n);
        for (size_t i = 0; i < n && ret == 0; i++)
            ret = cri_container_remove(c, v[i], err);
        cri_containers_put(c, v, n);
        if (ret == 0)
            ret = cri_record_delete(c, s->id, err);
        if (ret == 0) {
            cri_sandbox_files_remove(c, s->id);
            cri_name_release(c, s->name);
            s->removed = true;
            cri_sandbox_drop(c, s);
            log_info("ns=%s sandbox=%s removed", CRI_NS, s->id);
        }
    }
    pthread_mutex_unlock(&s->op);
    cri_sandbox_put(c, s);
    if (ret < 0)
        return -1;
    berth_svc_pack(out, &resp.base);
    return 0;
}

/* Map entries of a config map, re-used as they are (same layout for every map type). */
#define MAP(dst, n_dst, src, n_src)                                                                \
    do {                                                                                           \
        (dst) = (void *)(src);                                                                     \
        (n_dst) = (n_src);                                                                         \
    } while (0)

static char *sandbox_info(struct berth_cri *c, struct cri_sandbox *s)
{
    _cleanup_err_ struct berth_err *e = NULL;
    _cleanup_free_ char *runtime = NULL;
    json_t *o, *spec = cri_record_spec(c, s->id, &runtime, &e);
    char *text;

    pthread_mutex_lock(&c->mu);
    o = json_pack("{s:I,s:s,s:b,s:s,s:s,s:s,s:s,s:s}", "pid", (json_int_t)s->pid, "processStatus",
                  s->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY ? "running" : "deleted",
                  "netNamespaceClosed", s->netns_path == NULL, "image",
                  c->own_pause ? CRI_PAUSE_IMAGE : c->sandbox_image, "snapshotKey", s->id,
                  "snapshotter", c->snapshotter, "runtimeHandler", s->runtime_handler,
                  "runtimeType", runtime ? runtime : "");
    pthread_mutex_unlock(&c->mu);
    if (s->cni_result && *s->cni_result) {
        json_t *r = json_loads(s->cni_result, 0, NULL);
        if (r)
            json_object_set_new(o, "cniResult", r);
    }
    json_object_set_new(o, "runtimeSpec", spec ? spec : json_object());
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

Runtime__V1__PodSandboxStatus *cri_sandbox_status_new(struct berth_cri *c, struct cri_sandbox *s)
{
    Runtime__V1__PodSandboxStatus st = RUNTIME__V1__POD_SANDBOX_STATUS__INIT;
    Runtime__V1__PodSandboxNetworkStatus net = RUNTIME__V1__POD_SANDBOX_NETWORK_STATUS__INIT;
    Runtime__V1__LinuxPodSandboxStatus lx = RUNTIME__V1__LINUX_POD_SANDBOX_STATUS__INIT;
    Runtime__V1__Namespace nsp = RUNTIME__V1__NAMESPACE__INIT;
    Runtime__V1__NamespaceOption nso = RUNTIME__V1__NAMESPACE_OPTION__INIT;
    Runtime__V1__PodIP ips[16], *ipp[16];
    const Runtime__V1__NamespaceOption *o = cri_pod_ns_options(s->config);
    size_t n = 0;
    Runtime__V1__PodSandboxStatus *copy;

    pthread_mutex_lock(&c->mu);
    st.id = s->id;
    st.metadata = s->config->metadata;
    st.state = s->state;
    st.created_at = s->created_ns;
    net.ip = s->ip ? s->ip : "";
    for (size_t i = 0; s->extra_ips && s->extra_ips[i] && n < 16; i++, n++) {
        ips[n] = (Runtime__V1__PodIP)RUNTIME__V1__POD_IP__INIT;
        ips[n].ip = s->extra_ips[i];
        ipp[n] = &ips[n];
    }
    net.additional_ips = ipp;
    net.n_additional_ips = n;
    st.network = &net;
    if (o) {
        nso.network = o->network;
        nso.pid = o->pid;
        nso.ipc = o->ipc;
    }
    nsp.options = &nso;
    lx.namespaces = &nsp;
    st.linux = &lx;
    MAP(st.labels, st.n_labels, s->config->labels, s->config->n_labels);
    MAP(st.annotations, st.n_annotations, s->config->annotations, s->config->n_annotations);
    st.runtime_handler = s->runtime_handler;
    copy = (Runtime__V1__PodSandboxStatus *)cri_msg_dup(&st.base);
    pthread_mutex_unlock(&c->mu);
    return copy;
}

CRI_RPC(cri_pod_sandbox_status)
{
    const Runtime__V1__PodSandboxStatusRequest *req = (const void *)in;
    Runtime__V1__PodSandboxStatusResponse resp = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
    struct cri_info inf;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_sandbox *s = NULL;
    _cleanup_free_ char *info = NULL;

    if (!c || cri_sandbox_get(c, req->pod_sandbox_id, &s, err) < 0)
        return -1;
    resp.status = cri_sandbox_status_new(c, s);
    if (req->verbose) {
        info = sandbox_info(c, s);
        cri_info_fill(&inf, &runtime__v1__pod_sandbox_status_response__info_entry__descriptor,
                      "info", info);
        resp.info = (void *)inf.ents;
        resp.n_info = 1;
    }
    berth_svc_pack(out, &resp.base);
    protobuf_c_message_free_unpacked(&resp.status->base, NULL);
    cri_sandbox_put(c, s);
    return 0;
}

/* Every pair of the selector is among the labels. */
bool cri_labels_select(size_t n_sel, ProtobufCMessage *const *sel, size_t n_labels,
                       ProtobufCMessage *const *labels)
{
    for (size_t i = 0; i < n_sel; i++) {
        const struct berth_pb_strmap_entry *w = (const void *)sel[i];
        bool hit = false;
        for (size_t j = 0; j < n_labels && !hit; j++) {
            const struct berth_pb_strmap_entry *l = (const void *)labels[j];
            hit = strcmp(l->key, w->key) == 0 && strcmp(l->value, w->value) == 0;
        }
        if (!hit)
            return false;
    }
    return true;
}

CRI_RPC(cri_list_pod_sandbox)
{
    const Runtime__V1__ListPodSandboxRequest *req = (const void *)in;
    const Runtime__V1__PodSandboxFilter *f = req->filter;
    Runtime__V1__ListPodSandboxResponse resp = RUNTIME__V1__LIST_POD_SANDBOX_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_sandbox **v;
    Runtime__V1__PodSandbox *items;
    _cleanup_free_ char *want = NULL;
    size_t n, k = 0;

    if (!c)
        return -1;
    if (f && f->id && *f->id && !(want = cri_sandbox_resolve(c, f->id))) {
        berth_svc_pack(out, &resp.base);
        return 0;
    }
    cri_sandboxes_list(c, &v, &n);
    items = berth_xcalloc(n ? n : 1, sizeof(*items));
    resp.items = berth_xcalloc(n ? n : 1, sizeof(*resp.items));
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        struct cri_sandbox *s = v[i];
        Runtime__V1__PodSandbox *p = &items[k];
        if (want && strcmp(s->id, want) != 0)
            continue;
        if (f && f->state && f->state->state != s->state)
            continue;
        if (f &&
            !cri_labels_select(f->n_label_selector, (ProtobufCMessage *const *)f->label_selector,
                               s->config->n_labels, (ProtobufCMessage *const *)s->config->labels))
            continue;
        *p = (Runtime__V1__PodSandbox)RUNTIME__V1__POD_SANDBOX__INIT;
        p->id = s->id;
        p->metadata = s->config->metadata;
        p->state = s->state;
        p->created_at = s->created_ns;
        MAP(p->labels, p->n_labels, s->config->labels, s->config->n_labels);
        MAP(p->annotations, p->n_annotations, s->config->annotations, s->config->n_annotations);
        p->runtime_handler = s->runtime_handler;
        resp.items[k++] = p;
    }
    resp.n_items = k;
    berth_svc_pack(out, &resp.base);
    pthread_mutex_unlock(&c->mu);
    free(items);
    free(resp.items);
    cri_sandboxes_put(c, v, n);
    return 0;
}
