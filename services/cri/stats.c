/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats: read by berthd
 * from cgroupfs, /proc/<pid>/net/dev and the writable layer's directory (runtime/stats), with
 * no call to any shim.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "metadata/snapshots.h"
#include "runtime/stats/stats.h"
#include "services/cri/cri-internal.h"

#define CG_ROOT "/sys/fs/cgroup"

/* One container's stats, the messages held together. */
struct ctr_pb {
    Runtime__V1__ContainerStats st;
    Runtime__V1__ContainerAttributes attr;
    Runtime__V1__CpuUsage cpu;
    Runtime__V1__MemoryUsage mem;
    Runtime__V1__FilesystemUsage fs;
    Runtime__V1__FilesystemIdentifier fsid;
    Runtime__V1__UInt64Value cpu_total, ws, avail, usage, rss, pf, mpf, used, inodes;
    char *mountpoint;
};

static void u64(Runtime__V1__UInt64Value *v, uint64_t x)
{
    *v = (Runtime__V1__UInt64Value)RUNTIME__V1__UINT64_VALUE__INIT;
    v->value = x;
}

static enum berth_cg_mode cg_mode(void)
{
    static enum berth_cg_mode mode;
    static bool known;

    if (!known) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_cg_detect(CG_ROOT, &mode, &e) < 0)
            mode = BERTH_CG_V1;
        known = true;
    }
    return mode;
}

/* Defined below; the image filesystem shares the writable layers' refresh period. */
#define FS_USAGE_MAX_AGE_NS (10 * 1000000000LL)

void cri_fs_usage(struct berth_cri *c, const char *path, uint64_t *bytes, uint64_t *inodes)
{
    _cleanup_err_ struct berth_err *e = NULL;
    int64_t now = berth_mono_ns();

    pthread_mutex_lock(&c->mu);
    if (c->imagefs_at && now - c->imagefs_at < FS_USAGE_MAX_AGE_NS) {
        *bytes = c->imagefs_bytes;
        *inodes = c->imagefs_inodes;
        pthread_mutex_unlock(&c->mu);
        return;
    }
    pthread_mutex_unlock(&c->mu);
    *bytes = *inodes = 0;
    if (berth_dir_usage(path, bytes, inodes, &e) < 0)
        log_debug("usage of \"%s\": %s", path, e->msg);
    pthread_mutex_lock(&c->mu);
    c->imagefs_bytes = *bytes;
    c->imagefs_inodes = *inodes;
    c->imagefs_at = now;
    pthread_mutex_unlock(&c->mu);
}

/* FS_USAGE_MAX_AGE_NS: how long a measured usage is reported before the tree is walked again:
 * a walk costs a du, and kubelet asks every 10 s or so (containerd refreshes its snapshot
 * usage on a timer too). */

/* The writable layer: the snapshot's usage as the snapshotter reports it, cached. */
static void writable_layer(struct berth_cri *c, struct cri_container *k, uint64_t *bytes,
                           uint64_t *inodes)
{
    struct berth_snapshotter *sn;
    struct berth_snap_usage u = {0};
    _cleanup_err_ struct berth_err *e = NULL;
    int64_t now = berth_mono_ns();

    pthread_mutex_lock(&c->mu);
    if (k->fs_at && now - k->fs_at < FS_USAGE_MAX_AGE_NS) {
        *bytes = k->fs_bytes;
        *inodes = k->fs_inodes;
        pthread_mutex_unlock(&c->mu);
        return;
    }
    pthread_mutex_unlock(&c->mu);
    *bytes = *inodes = 0;
    if (berth_snap_registry_get(c->svc->snapshotters, c->snapshotter, &sn, &e) == 0 &&
        berth_meta_snapshots_usage(c->svc->db, sn, CRI_NS, k->id, &u, &e) == 0) {
        *bytes = (uint64_t)u.size;
        *inodes = (uint64_t)u.inodes;
    }
    pthread_mutex_lock(&c->mu);
    k->fs_bytes = *bytes;
    k->fs_inodes = *inodes;
    k->fs_at = now;
    pthread_mutex_unlock(&c->mu);
}

static void ctr_fill(struct berth_cri *c, struct cri_container *k, struct ctr_pb *p)
{
    struct berth_cg_stats cs = {0};
    _cleanup_err_ struct berth_err *e = NULL;
    uint64_t b, i;
    bool running;

    pthread_mutex_lock(&c->mu);
    running = cri_ctr_phase(&k->st) == CTR_RUNNING;
    pthread_mutex_unlock(&c->mu);
    memset(p, 0, sizeof(*p));
    p->st = (Runtime__V1__ContainerStats)RUNTIME__V1__CONTAINER_STATS__INIT;
    p->attr = (Runtime__V1__ContainerAttributes)RUNTIME__V1__CONTAINER_ATTRIBUTES__INIT;
    p->attr.id = k->id;
    p->attr.metadata = k->config->metadata;
    p->attr.labels = (void *)k->config->labels;
    p->attr.n_labels = k->config->n_labels;
    p->attr.annotations = (void *)k->config->annotations;
    p->attr.n_annotations = k->config->n_annotations;
    p->st.attributes = &p->attr;
    if (k->cgroups_path && running &&
        berth_cg_stats_read(CG_ROOT, cg_mode(), k->cgroups_path, &cs, &e) == 0) {
        if (cs.has_cpu) {
            p->cpu = (Runtime__V1__CpuUsage)RUNTIME__V1__CPU_USAGE__INIT;
            p->cpu.timestamp = cs.timestamp_ns;
            u64(&p->cpu_total, cs.cpu_usage_ns);
            p->cpu.usage_core_nano_seconds = &p->cpu_total;
            p->st.cpu = &p->cpu;
        }
        if (cs.has_mem) {
            p->mem = (Runtime__V1__MemoryUsage)RUNTIME__V1__MEMORY_USAGE__INIT;
            p->mem.timestamp = cs.timestamp_ns;
            u64(&p->ws, cs.mem_working_set);
            u64(&p->avail, cs.mem_available);
            u64(&p->usage, cs.mem_usage);
            u64(&p->rss, cs.mem_rss);
            u64(&p->pf, cs.page_faults);
            u64(&p->mpf, cs.major_page_faults);
            p->mem.working_set_bytes = &p->ws;
            p->mem.available_bytes = &p->avail;
            p->mem.usage_bytes = &p->usage;
            p->mem.rss_bytes = &p->rss;
            p->mem.page_faults = &p->pf;
            p->mem.major_page_faults = &p->mpf;
            p->st.memory = &p->mem;
        }
    }
    writable_layer(c, k, &b, &i);
    p->fs = (Runtime__V1__FilesystemUsage)RUNTIME__V1__FILESYSTEM_USAGE__INIT;
    p->fsid = (Runtime__V1__FilesystemIdentifier)RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT;
    p->mountpoint = berth_strdup_printf("%s/snapshots/%s", c->svc->root, c->snapshotter);
    p->fsid.mountpoint = p->mountpoint;
    p->fs.timestamp = berth_now_ns();
    p->fs.fs_id = &p->fsid;
    u64(&p->used, b);
    u64(&p->inodes, i);
    p->fs.used_bytes = &p->used;
    p->fs.inodes_used = &p->inodes;
    p->st.writable_layer = &p->fs;
}

CRI_RPC(cri_container_stats)
{
    const Runtime__V1__ContainerStatsRequest *req = (const void *)in;
    Runtime__V1__ContainerStatsResponse resp = RUNTIME__V1__CONTAINER_STATS_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_container *k = NULL;
    struct ctr_pb p;

    if (!c || cri_container_get(c, req->container_id, &k, err) < 0)
        return -1;
    ctr_fill(c, k, &p);
    resp.stats = &p.st;
    berth_svc_pack(out, &resp.base);
    free(p.mountpoint);
    cri_container_put(c, k);
    return 0;
}

CRI_RPC(cri_list_container_stats)
{
    const Runtime__V1__ListContainerStatsRequest *req = (const void *)in;
    const Runtime__V1__ContainerStatsFilter *f = req->filter;
    Runtime__V1__ListContainerStatsResponse resp = RUNTIME__V1__LIST_CONTAINER_STATS_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_container **v;
    struct ctr_pb *ps;
    _cleanup_free_ char *want = NULL, *want_sb = NULL;
    size_t n, k = 0;

    if (!c)
        return -1;
    if (f && !cri_ctr_filter_prepare(c, f->id, f->pod_sandbox_id, &want, &want_sb)) {
        berth_svc_pack(out, &resp.base);
        return 0;
    }
    cri_containers_list(c, &v, &n);
    ps = berth_xcalloc(n ? n : 1, sizeof(*ps));
    resp.stats = berth_xcalloc(n ? n : 1, sizeof(*resp.stats));
    for (size_t i = 0; i < n; i++) {
        if (f && !cri_ctr_filter_match(v[i], want, want_sb, f->n_label_selector,
                                       (ProtobufCMessage *const *)f->label_selector))
            continue;
        ctr_fill(c, v[i], &ps[k]);
        resp.stats[k] = &ps[k].st;
        k++;
    }
    resp.n_stats = k;
    berth_svc_pack(out, &resp.base);
    for (size_t i = 0; i < k; i++)
        free(ps[i].mountpoint);
    free(ps);
    free(resp.stats);
    cri_containers_put(c, v, n);
    return 0;
}

/* One sandbox's stats: the pod cgroup (parent of the pause cgroup), its network, members. */
struct pod_pb {
    Runtime__V1__PodSandboxStats st;
    Runtime__V1__PodSandboxAttributes attr;
    Runtime__V1__LinuxPodSandboxStats lx;
    Runtime__V1__CpuUsage cpu;
    Runtime__V1__MemoryUsage mem;
    Runtime__V1__NetworkUsage net;
    Runtime__V1__NetworkInterfaceUsage *ifs;
    Runtime__V1__NetworkInterfaceUsage **ifp;
    Runtime__V1__UInt64Value *vals; /* 4 per interface */
    Runtime__V1__UInt64Value cpu_total, ws, usage, rss;
    struct berth_net_stats *ns;
    size_t n_ns;
    struct ctr_pb *ctrs;
    Runtime__V1__ContainerStats **ctrp;
    size_t n_ctrs;
};

static void pod_fill(struct berth_cri *c, struct cri_sandbox *s, struct cri_container **v, size_t n,
                     struct pod_pb *p)
{
    _cleanup_free_ char *cg = NULL;
    struct berth_cg_stats cs = {0};
    _cleanup_err_ struct berth_err *e = NULL, *e2 = NULL;
    bool ready;
    uint32_t pid;

    pthread_mutex_lock(&c->mu);
    ready = s->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
    pid = s->pid;
    pthread_mutex_unlock(&c->mu);
    memset(p, 0, sizeof(*p));
    p->st = (Runtime__V1__PodSandboxStats)RUNTIME__V1__POD_SANDBOX_STATS__INIT;
    p->attr = (Runtime__V1__PodSandboxAttributes)RUNTIME__V1__POD_SANDBOX_ATTRIBUTES__INIT;
    p->lx = (Runtime__V1__LinuxPodSandboxStats)RUNTIME__V1__LINUX_POD_SANDBOX_STATS__INIT;
    p->attr.id = s->id;
    p->attr.metadata = s->config->metadata;
    p->attr.labels = (void *)s->config->labels;
    p->attr.n_labels = s->config->n_labels;
    p->attr.annotations = (void *)s->config->annotations;
    p->attr.n_annotations = s->config->n_annotations;
    p->st.attributes = &p->attr;
    p->st.linux = &p->lx;
    /* The pod's cgroup is the parent given by kubelet; without one, the pause cgroup. */
    if (s->config->linux && s->config->linux->cgroup_parent && *s->config->linux->cgroup_parent)
        cg = berth_xstrdup(s->config->linux->cgroup_parent);
    else
        cg = cri_cgroups_path(NULL, s->id, false);
    if (ready && berth_cg_stats_read(CG_ROOT, cg_mode(), cg, &cs, &e) == 0) {
        if (cs.has_cpu) {
            p->cpu = (Runtime__V1__CpuUsage)RUNTIME__V1__CPU_USAGE__INIT;
            p->cpu.timestamp = cs.timestamp_ns;
            u64(&p->cpu_total, cs.cpu_usage_ns);
            p->cpu.usage_core_nano_seconds = &p->cpu_total;
            p->lx.cpu = &p->cpu;
        }
        if (cs.has_mem) {
            p->mem = (Runtime__V1__MemoryUsage)RUNTIME__V1__MEMORY_USAGE__INIT;
            p->mem.timestamp = cs.timestamp_ns;
            u64(&p->ws, cs.mem_working_set);
            u64(&p->usage, cs.mem_usage);
            u64(&p->rss, cs.mem_rss);
            p->mem.working_set_bytes = &p->ws;
            p->mem.usage_bytes = &p->usage;
            p->mem.rss_bytes = &p->rss;
            p->lx.memory = &p->mem;
        }
    }
    if (ready && pid && !cri_pod_host_network(s->config) &&
        berth_net_stats_read_pid((pid_t)pid, &p->ns, &p->n_ns, &e2) == 0 && p->n_ns) {
        p->net = (Runtime__V1__NetworkUsage)RUNTIME__V1__NETWORK_USAGE__INIT;
        p->net.timestamp = berth_now_ns();
        p->ifs = berth_xcalloc(p->n_ns, sizeof(*p->ifs));
        p->ifp = berth_xcalloc(p->n_ns, sizeof(*p->ifp));
        p->vals = berth_xcalloc(p->n_ns * 4, sizeof(*p->vals));
        for (size_t i = 0; i < p->n_ns; i++) {
            Runtime__V1__NetworkInterfaceUsage *u = &p->ifs[i];
            *u = (Runtime__V1__NetworkInterfaceUsage)RUNTIME__V1__NETWORK_INTERFACE_USAGE__INIT;
            u->name = p->ns[i].name;
            u64(&p->vals[4 * i], p->ns[i].rx_bytes);
            u64(&p->vals[4 * i + 1], p->ns[i].rx_errors);
            u64(&p->vals[4 * i + 2], p->ns[i].tx_bytes);
            u64(&p->vals[4 * i + 3], p->ns[i].tx_errors);
            u->rx_bytes = &p->vals[4 * i];
            u->rx_errors = &p->vals[4 * i + 1];
            u->tx_bytes = &p->vals[4 * i + 2];
            u->tx_errors = &p->vals[4 * i + 3];
            p->ifp[i] = u;
            if (strcmp(u->name, "eth0") == 0)
                p->net.default_interface = u;
        }
        p->net.interfaces = p->ifp;
        p->net.n_interfaces = p->n_ns;
        p->lx.network = &p->net;
    }
    p->ctrs = berth_xcalloc(n ? n : 1, sizeof(*p->ctrs));
    p->ctrp = berth_xcalloc(n ? n : 1, sizeof(*p->ctrp));
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i]->sandbox_id, s->id) != 0)
            continue;
        ctr_fill(c, v[i], &p->ctrs[p->n_ctrs]);
        p->ctrp[p->n_ctrs] = &p->ctrs[p->n_ctrs].st;
        p->n_ctrs++;
    }
    p->lx.containers = p->ctrp;
    p->lx.n_containers = p->n_ctrs;
}

static void pod_clear(struct pod_pb *p)
{
    for (size_t i = 0; i < p->n_ctrs; i++)
        free(p->ctrs[i].mountpoint);
    free(p->ctrs);
    free(p->ctrp);
    free(p->ifs);
    free(p->ifp);
    free(p->vals);
    berth_net_stats_free(p->ns, p->n_ns);
}

CRI_RPC(cri_pod_sandbox_stats)
{
    const Runtime__V1__PodSandboxStatsRequest *req = (const void *)in;
    Runtime__V1__PodSandboxStatsResponse resp = RUNTIME__V1__POD_SANDBOX_STATS_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_sandbox *s = NULL;
    struct cri_container **v;
    struct pod_pb p;
    size_t n;

    if (!c || cri_sandbox_get(c, req->pod_sandbox_id, &s, err) < 0)
        return -1;
    cri_containers_list(c, &v, &n);
    pod_fill(c, s, v, n, &p);
    resp.stats = &p.st;
    berth_svc_pack(out, &resp.base);
    pod_clear(&p);
    cri_containers_put(c, v, n);
    cri_sandbox_put(c, s);
    return 0;
}

CRI_RPC(cri_list_pod_sandbox_stats)
{
    const Runtime__V1__ListPodSandboxStatsRequest *req = (const void *)in;
    const Runtime__V1__PodSandboxStatsFilter *f = req->filter;
    Runtime__V1__ListPodSandboxStatsResponse resp =
        RUNTIME__V1__LIST_POD_SANDBOX_STATS_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_sandbox **sv;
    struct cri_container **v;
    struct pod_pb *ps;
    _cleanup_free_ char *want = NULL;
    size_t ns, n, k = 0;

    if (!c)
        return -1;
    if (f && f->id && *f->id && !(want = cri_sandbox_resolve(c, f->id))) {
        berth_svc_pack(out, &resp.base);
        return 0;
    }
    cri_sandboxes_list(c, &sv, &ns);
    cri_containers_list(c, &v, &n);
    ps = berth_xcalloc(ns ? ns : 1, sizeof(*ps));
    resp.stats = berth_xcalloc(ns ? ns : 1, sizeof(*resp.stats));
    for (size_t i = 0; i < ns; i++) {
        if (want && strcmp(sv[i]->id, want) != 0)
            continue;
        if (f && !cri_labels_select(
                     f->n_label_selector, (ProtobufCMessage *const *)f->label_selector,
                     sv[i]->config->n_labels, (ProtobufCMessage *const *)sv[i]->config->labels))
            continue;
        pod_fill(c, sv[i], v, n, &ps[k]);
        resp.stats[k] = &ps[k].st;
        k++;
    }
    resp.n_stats = k;
    berth_svc_pack(out, &resp.base);
    for (size_t i = 0; i < k; i++)
        pod_clear(&ps[i]);
    free(ps);
    free(resp.stats);
    cri_containers_put(c, v, n);
    cri_sandboxes_put(c, sv, ns);
    return 0;
}
