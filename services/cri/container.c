/* SPDX-License-Identifier: Apache-2.0 */
/*
 * StartContainer, StopContainer, RemoveContainer, ContainerStatus, ListContainers,
 * UpdateContainerResources, ReopenContainerLog (containerd.md §8.3-8.7).
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/fs.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/oci/opts.h"
#include "runtime/shim/attach.h" /* the stdin URIs; header only */
#include "runtime/v2/runtime.h"
#include "services/cri/cri-internal.h"
#include "services/cri/events.h"
#include "services/cri/record.h"

static const char *phase_name(enum cri_ctr_phase p)
{
    static const char *const names[] = {"created", "running", "exited", "unknown"};
    return names[p];
}

/* The shim writes the CRI log itself (runtime/shim/crilog.c). */
static char *log_uri(const struct berth_cri *c, const char *path)
{
    return berth_strdup_printf("crilog://%s?max_line_size=%lld", path, (long long)c->max_log_line);
}

static void start_failed(struct berth_cri *c, struct cri_container *k, const struct berth_err *e)
{
    _cleanup_err_ struct berth_err *se = NULL;
    struct cri_ctr_status copy;

    pthread_mutex_lock(&c->mu);
    k->starting = false;
    k->st.finished_ns = berth_now_ns();
    k->st.exit_code = 128;
    free(k->st.reason);
    free(k->st.message);
    k->st.reason = berth_xstrdup("StartError");
    k->st.message = berth_xstrdup(e->msg);
    copy = k->st;
    pthread_cond_broadcast(&k->exited);
    pthread_mutex_unlock(&c->mu);
    if (cri_ctr_status_save(c, k->id, &copy, &se) < 0)
        log_error("ns=%s container=%s: %s", CRI_NS, k->id, se->msg);
}

CRI_RPC(cri_start_container)
{
    const Runtime__V1__StartContainerRequest *req = (const void *)in;
    Runtime__V1__StartContainerResponse resp = RUNTIME__V1__START_CONTAINER_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_container *k = NULL;
    struct cri_sandbox *s = NULL;
    const struct berth_cri_runtime *rt;
    struct berth_rt_io io = {0};
    _cleanup_free_ char *uri = NULL;
    struct cri_ctr_status copy;
    enum cri_ctr_phase ph;
    bool ready, pending;
    uint32_t pid = 0, pstatus;
    int64_t pat;
    int ret = -1;

    if (!c || cri_container_get(c, req->container_id, &k, err) < 0)
        return -1;
    pthread_mutex_lock(&k->op);
    if (cri_sandbox_get(c, k->sandbox_id, &s, err) < 0)
        goto out;
    pthread_mutex_lock(&c->mu);
    ph = cri_ctr_phase(&k->st);
    ready = s->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
    if (ph == CTR_CREATED && !k->removing && ready)
        k->starting = true;
    pthread_mutex_unlock(&c->mu);
    if (ph != CTR_CREATED || k->removing) {
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "container \"%s\" is %s, not created",
                      k->id, k->removing ? "being removed" : phase_name(ph));
        goto out;
    }
    if (!ready) {
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                      "pod sandbox \"%s\" of container \"%s\" is not ready", s->id, k->id);
        goto out;
    }
    if (cri_runtime_find(c, s->runtime_handler, &rt, err) < 0)
        goto fail;
    if (k->log_path) {
        _cleanup_free_ char *dir = berth_xstrdup(k->log_path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = 0;
            if (berth_mkdir_p(dir, 0755, 0755, err) < 0)
                goto fail;
        }
        uri = log_uri(c, k->log_path);
        io.stdout_path = uri;
        io.stderr_path = k->config->tty ? "" : uri;
        /* CRI Attach feeds stdin through the shim's attach socket, which exists only with a
         * CRI log: without a log path the process gets no stdin, as before. */
        if (k->config->stdin)
            io.stdin_path = k->config->stdin_once ? BERTH_SHIM_ATTACH_STDIN_ONCE_URI
                                                  : BERTH_SHIM_ATTACH_STDIN_URI;
    }
    io.terminal = k->config->tty;
    if (cri_task_create_start(c, k->id, rt, &io, &pid, err) < 0)
        goto fail;
    pthread_mutex_lock(&c->mu);
    k->starting = false;
    k->st.pid = pid;
    k->st.started_ns = berth_now_ns();
    copy = k->st;
    pending = k->pending_exit;
    pstatus = k->pending_status;
    pat = k->pending_at;
    k->pending_exit = false;
    pthread_mutex_unlock(&c->mu);
    {
        _cleanup_err_ struct berth_err *se = NULL;
        copy.reason = copy.message = NULL;
        if (cri_ctr_status_save(c, k->id, &copy, &se) < 0)
            log_error("ns=%s container=%s: %s", CRI_NS, k->id, se->msg);
    }
    log_info("ns=%s container=%s started pid=%u", CRI_NS, k->id, pid);
    cri_event_container(c, k, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT);
    if (pending) /* it exited before we recorded the start */
        cri_container_exited(c, k, pstatus, pat, pstatus == 0 ? "Completed" : "Error");
    berth_svc_pack(out, &resp.base);
    ret = 0;
    goto out;
fail:
    start_failed(c, k, *err);
out:
    pthread_mutex_unlock(&k->op);
    cri_sandbox_put(c, s);
    cri_container_put(c, k);
    return ret;
}

/* Waits up to ms for k's exit; every second (and at the end) asks the task directly, in case
 * its exit event never comes. 0 once exited, 1 on timeout. */
static int wait_exit(struct berth_cri *c, struct cri_container *k, int64_t ms)
{
    int64_t deadline = berth_mono_ns() + ms * 1000000;

    for (;;) {
        struct berth_rt_task *t = NULL;
        struct berth_rt_state st = {0};
        _cleanup_err_ struct berth_err *e = NULL;
        struct timespec ts;
        int64_t left = deadline - berth_mono_ns(), slice;
        bool done;

        pthread_mutex_lock(&c->mu);
        slice = left < 1000000000 ? left : 1000000000;
        if (!k->st.finished_ns && slice > 0) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += slice / 1000000000;
            ts.tv_nsec += slice % 1000000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&k->exited, &c->mu, &ts);
        }
        done = k->st.finished_ns != 0;
        pthread_mutex_unlock(&c->mu);
        if (done)
            return 0;
        if (berth_rt_task_get(c->svc->runtime, CRI_NS, k->id, &t, &e) < 0) {
            if (e->code == BERTH_E_NOT_FOUND) {
                cri_container_exited(c, k, 255, 0, "Unknown");
                return 0;
            }
        } else if (berth_rt_task_state(c->svc->runtime, t, NULL, &st, &e) == 0 &&
                   st.status == 3 /* STOPPED */) {
            berth_rt_task_put(t);
            cri_container_exited(c, k, st.exit_status, st.exited_ns,
                                 st.exit_status == 0 ? "Completed" : "Error");
            berth_rt_state_clear(&st);
            return 0;
        }
        berth_rt_state_clear(&st);
        berth_rt_task_put(t);
        if (berth_mono_ns() >= deadline)
            return 1;
    }
}

static int signal_task(struct berth_cri *c, struct cri_container *k, uint32_t sig, bool all,
                       struct berth_err **err)
{
    struct berth_rt_task *t = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    int ret = 0;

    if (berth_rt_task_get(c->svc->runtime, CRI_NS, k->id, &t, &e) < 0)
        return 0; /* gone: wait_exit records it */
    if (berth_rt_task_kill(c->svc->runtime, t, NULL, sig, all, &e) < 0 &&
        e->code != BERTH_E_NOT_FOUND && e->code != BERTH_E_FAILED_PRECONDITION) {
        *err = steal_ptr(e);
        ret = berth_err_wrap(err, "signal %u to container \"%s\"", sig, k->id);
    }
    berth_rt_task_put(t);
    return ret;
}

int cri_container_stop(struct berth_cri *c, struct cri_container *k, int64_t timeout_s,
                       struct berth_err **err)
{
    enum cri_ctr_phase ph;
    bool first;

    pthread_mutex_lock(&c->mu);
    ph = cri_ctr_phase(&k->st);
    first = !k->stop_sent;
    pthread_mutex_unlock(&c->mu);
    if (ph != CTR_RUNNING && ph != CTR_UNKNOWN)
        return 0;
    if (timeout_s > 0) {
        uint32_t sig = k->stop_signal ? k->stop_signal : SIGTERM;
        /* The stop signal goes once; later stops go on waiting and then kill. */
        if (first) {
            pthread_mutex_lock(&c->mu);
            k->stop_sent = true;
            pthread_mutex_unlock(&c->mu);
            if (signal_task(c, k, sig, false, err) < 0)
                return -1;
        }
        if (wait_exit(c, k, timeout_s * 1000) == 0)
            goto stopped;
    }
    if (signal_task(c, k, SIGKILL, true, err) < 0)
        return -1;
    if (wait_exit(c, k, 30000) != 0)
        return berth_err_set(err, BERTH_E_DEADLINE_EXCEEDED, 0,
                             "container \"%s\" did not exit 30 s after SIGKILL", k->id);
stopped:
    log_info("ns=%s container=%s stopped", CRI_NS, k->id);
    return 0;
}

CRI_RPC(cri_stop_container)
{
    const Runtime__V1__StopContainerRequest *req = (const void *)in;
    Runtime__V1__StopContainerResponse resp = RUNTIME__V1__STOP_CONTAINER_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_container *k = NULL;
    int ret;

    if (!c || cri_container_get(c, req->container_id, &k, err) < 0)
        return -1;
    ret = cri_container_stop(c, k, req->timeout, err);
    cri_container_put(c, k);
    if (ret < 0)
        return -1;
    berth_svc_pack(out, &resp.base);
    return 0;
}

int cri_container_remove(struct berth_cri *c, struct cri_container *k, struct berth_err **err)
{
    _cleanup_free_ char *root = cri_container_root(c, k->id);
    _cleanup_free_ char *state = cri_container_state(c, k->id);
    _cleanup_err_ struct berth_err *e = NULL, *e2 = NULL;

    pthread_mutex_lock(&c->mu);
    if (k->removing || k->starting) {
        bool starting = k->starting;
        pthread_mutex_unlock(&c->mu);
        if (starting)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                 "container \"%s\" is starting", k->id);
        return 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (cri_container_stop(c, k, 0, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    k->removing = true;
    pthread_mutex_unlock(&c->mu);
    if (cri_record_delete(c, k->id, err) < 0) {
        pthread_mutex_lock(&c->mu);
        k->removing = false;
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    if (berth_rmrf(state, &e) < 0 || berth_rmrf(root, &e2) < 0)
        log_warn("ns=%s container=%s: %s", CRI_NS, k->id, (e ? e : e2)->msg);
    cri_name_release(c, k->name);
    cri_container_drop(c, k);
    log_info("ns=%s container=%s removed", CRI_NS, k->id);
    cri_event_container(c, k, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT);
    return 0;
}

CRI_RPC(cri_remove_container)
{
    const Runtime__V1__RemoveContainerRequest *req = (const void *)in;
    Runtime__V1__RemoveContainerResponse resp = RUNTIME__V1__REMOVE_CONTAINER_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_container *k = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    int ret;

    if (!c)
        return -1;
    if (cri_container_get(c, req->container_id, &k, &e) < 0) {
        if (e->code != BERTH_E_NOT_FOUND) {
            *err = steal_ptr(e);
            return -1;
        }
        berth_svc_pack(out, &resp.base); /* already gone */
        return 0;
    }
    pthread_mutex_lock(&k->op);
    ret = cri_container_remove(c, k, err);
    pthread_mutex_unlock(&k->op);
    cri_container_put(c, k);
    if (ret < 0)
        return -1;
    berth_svc_pack(out, &resp.base);
    return 0;
}

/* ---- status ---- */

static const char *exit_reason(const struct cri_ctr_status *st)
{
    if (st->reason && *st->reason)
        return st->reason;
    if (!st->finished_ns)
        return "";
    return st->exit_code == 0 ? "Completed" : "Error";
}

#define MAP(dst, n_dst, src, n_src)                                                                \
    do {                                                                                           \
        (dst) = (void *)(src);                                                                     \
        (n_dst) = (n_src);                                                                         \
    } while (0)

Runtime__V1__ContainerStatus *cri_container_status_new(struct berth_cri *c, struct cri_container *k)
{
    Runtime__V1__ContainerStatus st = RUNTIME__V1__CONTAINER_STATUS__INIT;
    Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
    Runtime__V1__ContainerResources res = RUNTIME__V1__CONTAINER_RESOURCES__INIT;
    Runtime__V1__ContainerStatus *copy;
    enum cri_ctr_phase ph;

    pthread_mutex_lock(&c->mu);
    ph = cri_ctr_phase(&k->st);
    st.id = k->id;
    st.metadata = k->config->metadata;
    st.state = cri_ctr_state(&k->st);
    st.created_at = k->st.created_ns;
    if (ph == CTR_RUNNING || ph == CTR_EXITED || ph == CTR_UNKNOWN)
        st.started_at = k->st.started_ns;
    if (ph == CTR_EXITED || ph == CTR_UNKNOWN) {
        st.finished_at = k->st.finished_ns;
        st.exit_code = k->st.exit_code;
    }
    spec.image = k->config->image->image;
    st.image = &spec;
    st.image_ref = k->image_ref;
    st.image_id = k->image_ref;
    st.reason = (char *)exit_reason(&k->st);
    st.message = k->st.message ? k->st.message : "";
    MAP(st.labels, st.n_labels, k->config->labels, k->config->n_labels);
    MAP(st.annotations, st.n_annotations, k->config->annotations, k->config->n_annotations);
    MAP(st.mounts, st.n_mounts, k->config->mounts, k->config->n_mounts);
    st.log_path = k->log_path ? k->log_path : "";
    if (k->config->linux && k->config->linux->resources) {
        res.linux = k->config->linux->resources;
        st.resources = &res;
    }
    copy = (Runtime__V1__ContainerStatus *)cri_msg_dup(&st.base);
    pthread_mutex_unlock(&c->mu);
    return copy;
}

static char *container_info(struct berth_cri *c, struct cri_container *k)
{
    _cleanup_err_ struct berth_err *e = NULL;
    _cleanup_free_ char *runtime = NULL;
    json_t *o, *spec = cri_record_spec(c, k->id, &runtime, &e);
    char *text;

    pthread_mutex_lock(&c->mu);
    o = json_pack("{s:s,s:I,s:b,s:s,s:s,s:s}", "sandboxID", k->sandbox_id, "pid",
                  (json_int_t)k->st.pid, "removing", k->removing, "snapshotKey", k->id,
                  "snapshotter", c->snapshotter, "runtimeType", runtime ? runtime : "");
    pthread_mutex_unlock(&c->mu);
    json_object_set_new(o, "runtimeSpec", spec ? spec : json_object());
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

CRI_RPC(cri_container_status)
{
    const Runtime__V1__ContainerStatusRequest *req = (const void *)in;
    Runtime__V1__ContainerStatusResponse resp = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
    struct cri_info inf;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_container *k = NULL;
    _cleanup_free_ char *info = NULL;

    if (!c || cri_container_get(c, req->container_id, &k, err) < 0)
        return -1;
    resp.status = cri_container_status_new(c, k);
    if (req->verbose) {
        info = container_info(c, k);
        cri_info_fill(&inf, &runtime__v1__container_status_response__info_entry__descriptor, "info",
                      info);
        resp.info = (void *)inf.ents;
        resp.n_info = 1;
    }
    berth_svc_pack(out, &resp.base);
    protobuf_c_message_free_unpacked(&resp.status->base, NULL);
    cri_container_put(c, k);
    return 0;
}

bool cri_ctr_filter_prepare(struct berth_cri *c, const char *id, const char *sandbox_id,
                            char **want, char **want_sb)
{
    *want = *want_sb = NULL;
    if (id && *id && !(*want = cri_container_resolve(c, id)))
        return false;
    if (sandbox_id && *sandbox_id && !(*want_sb = cri_sandbox_resolve(c, sandbox_id))) {
        free(*want);
        *want = NULL;
        return false;
    }
    return true;
}

bool cri_ctr_filter_match(const struct cri_container *k, const char *want, const char *want_sb,
                          size_t n_sel, ProtobufCMessage *const *sel)
{
    return (!want || strcmp(k->id, want) == 0) &&
           (!want_sb || strcmp(k->sandbox_id, want_sb) == 0) &&
           cri_labels_select(n_sel, sel, k->config->n_labels,
                             (ProtobufCMessage *const *)k->config->labels);
}

CRI_RPC(cri_list_containers)
{
    const Runtime__V1__ListContainersRequest *req = (const void *)in;
    const Runtime__V1__ContainerFilter *f = req->filter;
    Runtime__V1__ListContainersResponse resp = RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_container **v;
    Runtime__V1__Container *items;
    Runtime__V1__ImageSpec *specs;
    _cleanup_free_ char *want = NULL, *want_sb = NULL;
    size_t n, k = 0;

    if (!c)
        return -1;
    if (f && !cri_ctr_filter_prepare(c, f->id, f->pod_sandbox_id, &want, &want_sb)) {
        berth_svc_pack(out, &resp.base);
        return 0;
    }
    cri_containers_list(c, &v, &n);
    items = berth_xcalloc(n ? n : 1, sizeof(*items));
    specs = berth_xcalloc(n ? n : 1, sizeof(*specs));
    resp.containers = berth_xcalloc(n ? n : 1, sizeof(*resp.containers));
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        struct cri_container *x = v[i];
        Runtime__V1__Container *p = &items[k];
        if (want && strcmp(x->id, want) != 0)
            continue;
        if (want_sb && strcmp(x->sandbox_id, want_sb) != 0)
            continue;
        if (f && f->state && f->state->state != cri_ctr_state(&x->st))
            continue;
        if (f &&
            !cri_labels_select(f->n_label_selector, (ProtobufCMessage *const *)f->label_selector,
                               x->config->n_labels, (ProtobufCMessage *const *)x->config->labels))
            continue;
        *p = (Runtime__V1__Container)RUNTIME__V1__CONTAINER__INIT;
        specs[k] = (Runtime__V1__ImageSpec)RUNTIME__V1__IMAGE_SPEC__INIT;
        specs[k].image = x->config->image->image;
        p->id = x->id;
        p->pod_sandbox_id = x->sandbox_id;
        p->metadata = x->config->metadata;
        p->image = &specs[k];
        p->image_ref = x->image_ref;
        p->image_id = x->image_ref;
        p->state = cri_ctr_state(&x->st);
        p->created_at = x->st.created_ns;
        MAP(p->labels, p->n_labels, x->config->labels, x->config->n_labels);
        MAP(p->annotations, p->n_annotations, x->config->annotations, x->config->n_annotations);
        resp.containers[k++] = p;
    }
    resp.n_containers = k;
    berth_svc_pack(out, &resp.base);
    pthread_mutex_unlock(&c->mu);
    free(items);
    free(specs);
    free(resp.containers);
    cri_containers_put(c, v, n);
    return 0;
}

/* The running task of k: FAILED_PRECONDITION when k is not running. */
static int running_task(struct berth_cri *c, struct cri_container *k, struct berth_rt_task **t,
                        struct berth_err **err)
{
    enum cri_ctr_phase ph;

    pthread_mutex_lock(&c->mu);
    ph = cri_ctr_phase(&k->st);
    pthread_mutex_unlock(&c->mu);
    if (ph != CTR_RUNNING)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "container \"%s\" is %s, not running", k->id, phase_name(ph));
    return berth_rt_task_get(c->svc->runtime, CRI_NS, k->id, t, err);
}

CRI_RPC(cri_update_container_resources)
{
    const Runtime__V1__UpdateContainerResourcesRequest *req = (const void *)in;
    Runtime__V1__UpdateContainerResourcesResponse resp =
        RUNTIME__V1__UPDATE_CONTAINER_RESOURCES_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_container *k = NULL;
    struct berth_rt_task *t = NULL;
    struct berth_oci_resources res;
    struct cri_hugepages hp = {0};
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    json_t *j = NULL;
    char *text = NULL;
    enum cri_ctr_phase ph;
    int ret = -1;

    if (!c || cri_container_get(c, req->container_id, &k, err) < 0)
        return -1;
    pthread_mutex_lock(&k->op);
    pthread_mutex_lock(&c->mu);
    ph = cri_ctr_phase(&k->st);
    pthread_mutex_unlock(&c->mu);
    if (ph == CTR_EXITED || ph == CTR_UNKNOWN) {
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "container \"%s\" is %s", k->id,
                      phase_name(ph));
        goto out;
    }
    if (req->linux) {
        cri_resources_from_pb(req->linux, &res, &hp);
        if (res.oom_score_adj != INT64_MIN && res.oom_score_adj < c->oom_score_adj_min)
            res.oom_score_adj = c->oom_score_adj_min;
        if (ph == CTR_RUNNING) {
            if (!(j = berth_oci_resources_json(&res, err)))
                goto out;
            text = json_dumps(j, JSON_COMPACT);
            any.type_url = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
            any.value.data = (uint8_t *)text;
            any.value.len = strlen(text);
            if (running_task(c, k, &t, err) < 0 ||
                berth_rt_task_update(c->svc->runtime, t, &any, NULL, err) < 0)
                goto out;
        }
        /* Keep what the status reports in step. */
        pthread_mutex_lock(&c->mu);
        if (!k->config->linux) {
            Runtime__V1__LinuxContainerConfig lc = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
            k->config->linux = (void *)cri_msg_dup(&lc.base);
        }
        if (k->config->linux->resources)
            protobuf_c_message_free_unpacked(&k->config->linux->resources->base, NULL);
        k->config->linux->resources = (void *)cri_msg_dup(&req->linux->base);
        pthread_mutex_unlock(&c->mu);
        {
            _cleanup_free_ char *meta = cri_container_meta_json(k);
            if (cri_record_set_ext(c, k->id, CRI_EXT_CONTAINER, CRI_TYPE_CONTAINER_META, meta,
                                   err) < 0)
                goto out;
        }
    }
    berth_svc_pack(out, &resp.base);
    ret = 0;
out:
    pthread_mutex_unlock(&k->op);
    berth_labels_clear(&hp.unified);
    json_decref(j);
    free(text);
    berth_rt_task_put(t);
    cri_container_put(c, k);
    return ret;
}

CRI_RPC(cri_reopen_container_log)
{
    const Runtime__V1__ReopenContainerLogRequest *req = (const void *)in;
    Runtime__V1__ReopenContainerLogResponse resp = RUNTIME__V1__REOPEN_CONTAINER_LOG_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_container *k = NULL;
    struct berth_rt_task *t = NULL;
    struct berth_labels ann;
    int ret = -1;

    if (!c || cri_container_get(c, req->container_id, &k, err) < 0)
        return -1;
    berth_labels_init(&ann);
    berth_labels_set(&ann, "io.berth.log.reopen", "1");
    if (!k->log_path)
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "container \"%s\" has no log", k->id);
    else if (running_task(c, k, &t, err) == 0 &&
             berth_rt_task_update(c->svc->runtime, t, NULL, &ann, err) == 0)
        ret = 0;
    berth_labels_clear(&ann);
    berth_rt_task_put(t);
    cri_container_put(c, k);
    if (ret < 0)
        return -1;
    berth_svc_pack(out, &resp.base);
    return 0;
}
