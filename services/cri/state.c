/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Start-up: sandboxes and containers rebuilt from k8s.io's container records (kind label and
 * metadata extension), container status checkpoints and the tasks the runtime manager
 * reattached to. An exit that happened while berthd was down is recorded now, with its code.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "metadata/containers.h"
#include "runtime/v2/runtime.h"
#include "services/cri/cri-internal.h"
#include "services/cri/record.h"

static json_t *ext_json(const struct berth_container *rec, const char *name)
{
    const struct berth_any *a = berth_container_ext_get(rec, name);
    json_t *o, *m;

    if (!a || !a->present)
        return NULL;
    o = json_loadb((const char *)a->value.data, a->value.len, 0, NULL);
    m = o ? json_object_get(o, "Metadata") : NULL;
    if (m)
        json_incref(m);
    json_decref(o);
    return m;
}

static char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? berth_xstrdup(s) : NULL;
}

/* The task's state: 1 running (pid set), 0 stopped (status/at set), -1 no task. */
static int task_state(struct berth_cri *c, const char *id, uint32_t *pid, uint32_t *status,
                      int64_t *at)
{
    struct berth_rt_task *t = NULL;
    struct berth_rt_state st = {0};
    _cleanup_err_ struct berth_err *e = NULL;
    int ret = -1;

    if (berth_rt_task_get(c->svc->runtime, CRI_NS, id, &t, &e) < 0)
        return -1;
    if (berth_rt_task_state(c->svc->runtime, t, NULL, &st, &e) == 0) {
        if (st.status == 3 /* STOPPED */) {
            *status = st.exit_status;
            *at = st.exited_ns;
            ret = 0;
        } else {
            *pid = st.pid;
            ret = 1;
        }
    }
    berth_rt_state_clear(&st);
    berth_rt_task_put(t);
    return ret;
}

static void recover_sandbox(struct berth_cri *c, const struct berth_container *rec)
{
    json_t *m = ext_json(rec, CRI_EXT_SANDBOX);
    struct cri_sandbox *s;
    _cleanup_free_ char *cfg = NULL;
    uint32_t pid = 0, status;
    int64_t at;
    json_t *ips;
    int ts;

    if (!m) {
        log_warn("ns=%s sandbox=%s has no readable metadata: skipped", CRI_NS, rec->id);
        return;
    }
    s = cri_sandbox_new();
    s->id = berth_xstrdup(rec->id);
    s->name = jstr(m, "Name");
    cfg = jstr(m, "Config");
    s->config = (Runtime__V1__PodSandboxConfig *)cri_msg_from_b64(
        &runtime__v1__pod_sandbox_config__descriptor, cfg);
    s->netns_path = jstr(m, "NetNSPath");
    s->ip = jstr(m, "IP");
    s->runtime_handler = jstr(m, "RuntimeHandler");
    if (!s->runtime_handler)
        s->runtime_handler = berth_xstrdup(c->default_runtime);
    s->cni_result = jstr(m, "CNIResult");
    s->created_ns = json_integer_value(json_object_get(m, "CreatedAt"));
    if (!s->created_ns)
        s->created_ns = rec->created_ns;
    ips = json_object_get(m, "AdditionalIPs");
    if (json_array_size(ips)) {
        s->extra_ips = berth_xcalloc(json_array_size(ips) + 1, sizeof(char *));
        for (size_t i = 0; i < json_array_size(ips); i++)
            s->extra_ips[i] = berth_xstrdup(json_string_value(json_array_get(ips, i)) ?: "");
    }
    json_decref(m);
    if (!s->name || !s->config || !s->config->metadata) {
        log_warn("ns=%s sandbox=%s has malformed metadata: skipped", CRI_NS, rec->id);
        cri_sandbox_put(c, s);
        return;
    }
    ts = task_state(c, s->id, &pid, &status, &at);
    if (ts == 1) {
        s->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
        s->pid = pid;
    }
    cri_sandbox_add(c, s);
    if (cri_name_reserve(c, s->name, s->id, NULL) < 0)
        log_warn("ns=%s sandbox=%s name %s taken twice", CRI_NS, s->id, s->name);
    if (ts == 0)
        cri_sandbox_exited(c, s); /* deletes the dead task */
    log_info("ns=%s sandbox=%s recovered (%s)", CRI_NS, s->id, ts == 1 ? "ready" : "not ready");
    cri_sandbox_put(c, s);
}

static void recover_container(struct berth_cri *c, const struct berth_container *rec)
{
    json_t *m = ext_json(rec, CRI_EXT_CONTAINER);
    struct cri_container *k;
    _cleanup_free_ char *cfg = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    uint32_t pid = 0, status = 0;
    int64_t at = 0;
    int ts;

    if (!m) {
        log_warn("ns=%s container=%s has no readable metadata: skipped", CRI_NS, rec->id);
        return;
    }
    k = cri_container_new();
    k->id = berth_xstrdup(rec->id);
    k->name = jstr(m, "Name");
    k->sandbox_id = jstr(m, "SandboxID");
    cfg = jstr(m, "Config");
    k->config = (Runtime__V1__ContainerConfig *)cri_msg_from_b64(
        &runtime__v1__container_config__descriptor, cfg);
    k->image_ref = jstr(m, "ImageRef");
    k->image_name = jstr(m, "ImageName");
    k->log_path = jstr(m, "LogPath");
    k->stop_signal = (uint32_t)json_integer_value(json_object_get(m, "StopSignal"));
    k->cgroups_path = jstr(m, "CgroupsPath");
    json_decref(m);
    if (!k->name || !k->sandbox_id || !k->config || !k->config->metadata || !k->config->image ||
        !k->image_ref) {
        log_warn("ns=%s container=%s has malformed metadata: skipped", CRI_NS, rec->id);
        cri_container_put(c, k);
        return;
    }
    if (cri_ctr_status_load(c, k->id, &k->st, &e) < 0) {
        log_warn("ns=%s container=%s: %s; its state is unknown", CRI_NS, k->id, e->msg);
        k->st.created_ns = rec->created_ns;
        k->st.unknown = true;
    }
    ts = task_state(c, k->id, &pid, &status, &at);
    cri_container_add(c, k);
    if (cri_name_reserve(c, k->name, k->id, NULL) < 0)
        log_warn("ns=%s container=%s name %s taken twice", CRI_NS, k->id, k->name);
    if (ts == 1) {
        pthread_mutex_lock(&c->mu);
        k->st.pid = pid;
        if (!k->st.started_ns)
            k->st.started_ns = rec->updated_ns ? rec->updated_ns : berth_now_ns();
        k->st.unknown = false;
        pthread_mutex_unlock(&c->mu);
    } else if (ts == 0) {
        if (!k->st.started_ns) /* a start cut short: the task never ran as far as we know */
            k->st.started_ns = at ? at : berth_now_ns();
        cri_container_exited(c, k, status, at, status == 0 ? "Completed" : "Error");
    } else if (cri_ctr_phase(&k->st) == CTR_RUNNING || k->st.unknown) {
        if (!k->st.started_ns)
            k->st.started_ns = k->st.created_ns;
        cri_container_exited(c, k, 255, 0, "Unknown");
    }
    log_info("ns=%s container=%s recovered", CRI_NS, k->id);
    cri_container_put(c, k);
}

int cri_state_recover(struct berth_cri *c, struct berth_err **err)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_container **v = NULL;
    size_t n = 0;

    if (berth_meta_txn_begin_read(c->svc->db, &txn, err) < 0 ||
        berth_meta_containers_list(txn, CRI_NS, NULL, &v, &n, err) < 0)
        return -1;
    berth_meta_txn_abort(steal_ptr(txn));
    for (size_t i = 0; i < n; i++) {
        const char *kind = berth_labels_get(&v[i]->labels, CRI_LABEL_KIND);
        if (kind && strcmp(kind, CRI_KIND_SANDBOX) == 0)
            recover_sandbox(c, v[i]);
    }
    for (size_t i = 0; i < n; i++) {
        const char *kind = berth_labels_get(&v[i]->labels, CRI_LABEL_KIND);
        if (kind && strcmp(kind, CRI_KIND_CONTAINER) == 0)
            recover_container(c, v[i]);
    }
    berth_containers_free(v, n);
    return 0;
}
