/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Start-up: sandboxes and containers rebuilt from k8s.io's container records (kind label and
 * metadata extension), container status checkpoints and the tasks the runtime manager
 * reattached to. An exit that happened while berthd was down is recorded now, with its code.
 * Before that, what a crash left of a sandbox or container that never got its record (dirs, a
 * pod netns and what CNI ADD made in it) is removed.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fs.h"
#include "lib/log.h"
#include "lib/strset.h"
#include "lib/util.h"
#include "metadata/containers.h"
#include "runtime/cni/netns.h"
#include "runtime/v2/runtime.h"
#include "services/cri/cri-internal.h"
#include "services/cri/record.h"

/* The "Metadata" object (a new reference) of a metadata extension's JSON, as
 * cri_sandbox_meta_json and cri_container_meta_json write it; NULL if unreadable. */
static json_t *meta_parse(const void *buf, size_t len)
{
    json_t *o = json_loadb(buf, len, 0, NULL), *m;

    m = o ? json_object_get(o, "Metadata") : NULL;
    if (m)
        json_incref(m);
    json_decref(o);
    return m;
}

static json_t *ext_json(const struct berth_container *rec, const char *name)
{
    const struct berth_any *a = berth_container_ext_get(rec, name);

    if (!a || !a->present)
        return NULL;
    return meta_parse(a->value.data, a->value.len);
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

/* A sandbox rebuilt from its metadata m (consumed); NULL (and a warning) when m lacks what
 * every use of a sandbox needs. */
static struct cri_sandbox *sandbox_from_meta(struct berth_cri *c, const char *id, json_t *m,
                                             int64_t created_ns)
{
    struct cri_sandbox *s = cri_sandbox_new();
    _cleanup_free_ char *cfg = NULL;
    json_t *ips;

    s->id = berth_xstrdup(id);
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
        s->created_ns = created_ns;
    ips = json_object_get(m, "AdditionalIPs");
    if (json_array_size(ips)) {
        s->extra_ips = berth_xcalloc(json_array_size(ips) + 1, sizeof(char *));
        for (size_t i = 0; i < json_array_size(ips); i++)
            s->extra_ips[i] = berth_xstrdup(json_string_value(json_array_get(ips, i)) ?: "");
    }
    json_decref(m);
    if (!s->name || !s->config || !s->config->metadata) {
        log_warn("ns=%s sandbox=%s has malformed metadata: skipped", CRI_NS, id);
        cri_sandbox_put(c, s);
        return NULL;
    }
    return s;
}

static void recover_sandbox(struct berth_cri *c, const struct berth_container *rec)
{
    json_t *m = ext_json(rec, CRI_EXT_SANDBOX);
    struct cri_sandbox *s;
    uint32_t pid = 0, status;
    int64_t at;
    int ts;

    if (!m) {
        log_warn("ns=%s sandbox=%s has no readable metadata: skipped", CRI_NS, rec->id);
        return;
    }
    if (!(s = sandbox_from_meta(c, rec->id, m, rec->created_ns)))
        return;
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

/* Undoes what a crash left of sandbox id, which has no record: its network, when the intent
 * written before its netns is there (CNI DEL, then the netns), and its dirs. A failed CNI DEL
 * keeps everything for the next start-up to try again; its netns goes into *keep. */
static void sweep_sandbox(struct berth_cri *c, const char *id, struct berth_strset *keep)
{
    _cleanup_free_ char *state = cri_sandbox_state(c, id);
    _cleanup_free_ char *intent = berth_strdup_printf("%s/" CRI_NETWORK_INTENT, state);
    _cleanup_free_ char *buf = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    struct cri_sandbox *s = NULL;
    size_t len;
    json_t *m;

    if (berth_read_file(intent, 1 << 20, &buf, &len, NULL) == 0 && (m = meta_parse(buf, len)))
        s = sandbox_from_meta(c, id, m, 0);
    if (s && s->netns_path) {
        (void)cri_cni_ready(c, NULL); /* loads the CNI config DEL needs, if it can */
        if (cri_network_teardown(c, s, &e) < 0) {
            log_warn("ns=%s sandbox=%s left by a crash: %s; kept for the next start", CRI_NS, id,
                     e->msg);
            berth_strset_add(keep, s->netns_path);
            cri_sandbox_put(c, s);
            return;
        }
    }
    cri_sandbox_files_remove(c, id);
    log_info("ns=%s sandbox=%s left by a crash before its record: removed%s", CRI_NS, id,
             s && s->netns_path ? " with its network" : "");
    if (s)
        cri_sandbox_put(c, s);
}

/* The entries of dir not in ids, one callback each. */
static void sweep_dir(struct berth_cri *c, const char *dir, const struct berth_strset *ids,
                      void (*fn)(struct berth_cri *c, const char *dir, const char *name, void *arg),
                      void *arg)
{
    struct dirent *de;
    DIR *d = opendir(dir);

    if (!d) {
        if (errno != ENOENT)
            log_warn("cri: start-up sweep of %s: %s", dir, berth_strerror(errno));
        return;
    }
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || berth_strset_has(ids, de->d_name))
            continue;
        fn(c, dir, de->d_name, arg);
    }
    closedir(d);
}

static void sweep_sandbox_cb(struct berth_cri *c, const char *dir, const char *name, void *arg)
{
    (void)dir;
    sweep_sandbox(c, name, arg);
}

/* A container's dirs made before its record (CreateContainer) */
static void sweep_container_cb(struct berth_cri *c, const char *dir, const char *name, void *arg)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", dir, name);
    _cleanup_err_ struct berth_err *e = NULL;

    (void)c, (void)arg;
    if (berth_rmrf(path, &e) < 0)
        log_warn("ns=%s container=%s left by a crash: %s", CRI_NS, name, e->msg);
    else
        log_info("ns=%s container=%s left by a crash before its record: %s removed", CRI_NS, name,
                 path);
}

static void sweep_netns_cb(struct berth_cri *c, const char *dir, const char *name, void *arg)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", dir, name);
    _cleanup_err_ struct berth_err *e = NULL;

    (void)c;
    if (berth_strset_has(arg, path))
        return;
    if (berth_netns_remove(path, &e) < 0)
        log_warn("cri: netns %s named by no sandbox: %s", path, e->msg);
    else
        log_info("cri: netns %s named by no sandbox: removed", path);
}

/* What a crash left between a sandbox's or container's first file and its record (their dirs,
 * and a sandbox's netns with what CNI ADD made in it), then every netns no sandbox names. */
static void sweep(struct berth_cri *c, struct berth_container **v, size_t n)
{
    struct berth_strset sandboxes = {0}, containers = {0}, netns = {0};
    static const char *const kinds[] = {"sandboxes", "containers"};

    for (size_t i = 0; i < n; i++) {
        const char *kind = berth_labels_get(&v[i]->labels, CRI_LABEL_KIND);
        json_t *m;
        if (kind && strcmp(kind, CRI_KIND_SANDBOX) == 0) {
            berth_strset_add(&sandboxes, v[i]->id);
            if ((m = ext_json(v[i], CRI_EXT_SANDBOX))) {
                const char *p = json_string_value(json_object_get(m, "NetNSPath"));
                if (p && *p)
                    berth_strset_add(&netns, p);
                json_decref(m);
            }
        } else if (kind && strcmp(kind, CRI_KIND_CONTAINER) == 0) {
            berth_strset_add(&containers, v[i]->id);
        }
    }
    for (size_t k = 0; k < 2; k++) {
        const char *base[] = {c->state_dir, c->root_dir};
        for (size_t b = 0; b < 2; b++) {
            _cleanup_free_ char *dir = berth_strdup_printf("%s/%s", base[b], kinds[k]);
            if (k == 0)
                sweep_dir(c, dir, &sandboxes, sweep_sandbox_cb, &netns);
            else
                sweep_dir(c, dir, &containers, sweep_container_cb, NULL);
        }
    }
    sweep_dir(c, c->netns_dir, &(struct berth_strset){0}, sweep_netns_cb, &netns);
    berth_strset_clear(&sandboxes);
    berth_strset_clear(&containers);
    berth_strset_clear(&netns);
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
    sweep(c, v, n);
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
