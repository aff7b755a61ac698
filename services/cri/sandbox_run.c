/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RunPodSandbox (containerd.md §8.1): name reserved, sandbox image, files, shm, network, spec,
 * record + snapshot, pause task. Each step is undone when a later one fails.
 */
#include <errno.h>
#include <signal.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/oci/opts.h"
#include "runtime/v2/record.h"
#include "runtime/v2/runtime.h"
#include "services/cri/cri-internal.h"
#include "services/cri/record.h"

static bool ns_node(const Runtime__V1__NamespaceOption *o, int which)
{
    if (!o)
        return false;
    switch (which) {
    case 0:
        return o->network == RUNTIME__V1__NAMESPACE_MODE__NODE;
    case 1:
        return o->pid == RUNTIME__V1__NAMESPACE_MODE__NODE;
    default:
        return o->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE;
    }
}

const Runtime__V1__NamespaceOption *cri_pod_ns_options(const Runtime__V1__PodSandboxConfig *cfg)
{
    if (cfg->linux && cfg->linux->security_context)
        return cfg->linux->security_context->namespace_options;
    return NULL;
}

bool cri_pod_host_network(const Runtime__V1__PodSandboxConfig *cfg)
{
    return ns_node(cri_pod_ns_options(cfg), 0);
}

bool cri_pod_host_pid(const Runtime__V1__PodSandboxConfig *cfg)
{
    return ns_node(cri_pod_ns_options(cfg), 1);
}

bool cri_pod_host_ipc(const Runtime__V1__PodSandboxConfig *cfg)
{
    return ns_node(cri_pod_ns_options(cfg), 2);
}

static int check_config(const Runtime__V1__PodSandboxConfig *cfg, struct berth_err **err)
{
    const Runtime__V1__PodSandboxMetadata *md;

    if (!cfg)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "pod sandbox config is required");
    md = cfg->metadata;
    if (!md || !md->name || !*md->name)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "pod sandbox metadata must have a name");
    if (!md->namespace_ || !*md->namespace_)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "pod sandbox \"%s\" metadata must have a namespace", md->name);
    if (!md->uid || !*md->uid)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "pod sandbox \"%s\" metadata must have a uid", md->name);
    if (strchr(md->name, '/') || strchr(md->namespace_, '/') || strchr(md->uid, '/'))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "pod sandbox name, namespace and uid must not contain '/'");
    return 0;
}

/* /etc/resolv.conf from DNSConfig, or the host's. */
static char *resolv_conf(const Runtime__V1__DNSConfig *d)
{
    size_t cap = 256, len = 0;
    char *s;

    if (!d || (!d->n_servers && !d->n_searches && !d->n_options)) {
        char *host = NULL;
        if (berth_read_file("/etc/resolv.conf", 1 << 20, &host, NULL, NULL) < 0)
            return berth_xstrdup("");
        return host;
    }
    s = berth_xmalloc(cap);
    s[0] = 0;
#define APPEND(...)                                                                                \
    do {                                                                                           \
        int n_ = snprintf(NULL, 0, __VA_ARGS__);                                                   \
        while (len + (size_t)n_ + 1 > cap)                                                         \
            s = berth_xrealloc(s, cap *= 2);                                                       \
        len += (size_t)snprintf(s + len, cap - len, __VA_ARGS__);                                  \
    } while (0)
    if (d->n_searches) {
        APPEND("search");
        for (size_t i = 0; i < d->n_searches; i++)
            APPEND(" %s", d->searches[i]);
        APPEND("\n");
    }
    for (size_t i = 0; i < d->n_servers; i++)
        APPEND("nameserver %s\n", d->servers[i]);
    if (d->n_options) {
        APPEND("options");
        for (size_t i = 0; i < d->n_options; i++)
            APPEND(" %s", d->options[i]);
        APPEND("\n");
    }
#undef APPEND
    return s;
}

static int write_file(const char *dir, const char *name, const char *text, struct berth_err **err)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", dir, name);

    return berth_write_file_atomic(path, text, strlen(text), 0644, err);
}

/* hostname, hosts and resolv.conf under the sandbox's root dir; shm under its state dir. */
static int sandbox_files(struct berth_cri *c, struct cri_sandbox *s, struct berth_err **err)
{
    _cleanup_free_ char *root = cri_sandbox_root(c, s->id);
    _cleanup_free_ char *state = cri_sandbox_state(c, s->id);
    _cleanup_free_ char *hosts = NULL, *resolv = NULL, *hn = NULL, *shm = NULL;
    char node[256] = "";

    if (berth_mkdir_p(root, 0711, 0711, err) < 0 || berth_mkdir_p(state, 0711, 0711, err) < 0)
        return -1;
    if (s->config->hostname && *s->config->hostname)
        hn = berth_strdup_printf("%s\n", s->config->hostname);
    else {
        gethostname(node, sizeof(node) - 1);
        hn = berth_strdup_printf("%s\n", node);
    }
    if (berth_read_file("/etc/hosts", 1 << 20, &hosts, NULL, NULL) < 0)
        hosts = berth_xstrdup("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    resolv = resolv_conf(s->config->dns_config);
    if (write_file(root, "hostname", hn, err) < 0 || write_file(root, "hosts", hosts, err) < 0 ||
        write_file(root, "resolv.conf", resolv, err) < 0)
        return -1;
    if (cri_pod_host_ipc(s->config))
        return 0;
    shm = berth_strdup_printf("%s/shm", state);
    if (berth_mkdir_p(shm, 0711, 0700, err) < 0)
        return -1;
    if (mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "mount shm of sandbox \"%s\"", s->id);
    return 0;
}

/* Undoes sandbox_files: shm unmounted, both dirs removed. */
void cri_sandbox_files_remove(struct berth_cri *c, const char *id)
{
    _cleanup_free_ char *root = cri_sandbox_root(c, id);
    _cleanup_free_ char *state = cri_sandbox_state(c, id);
    _cleanup_free_ char *shm = berth_strdup_printf("%s/shm", state);
    _cleanup_err_ struct berth_err *e = NULL, *e2 = NULL;

    if (umount2(shm, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        log_warn("ns=%s sandbox=%s unmount shm: %s", CRI_NS, id, berth_strerror(errno));
    if (berth_rmrf(state, &e) < 0)
        log_warn("ns=%s sandbox=%s: %s", CRI_NS, id, e->msg);
    if (berth_rmrf(root, &e2) < 0)
        log_warn("ns=%s sandbox=%s: %s", CRI_NS, id, e2->msg);
}

char *cri_cgroups_path(const char *parent, const char *id, bool systemd)
{
    if (systemd) {
        /* runc's systemd form: slice:prefix:name */
        const char *slice = parent && *parent ? parent : "system.slice";
        const char *base = strrchr(slice, '/');
        return berth_strdup_printf("%s:cri-containerd:%s", base ? base + 1 : slice, id);
    }
    if (parent && *parent)
        return berth_strdup_printf("%s/%s", parent, id);
    return berth_strdup_printf("/%s/%s", CRI_NS, id);
}

/* Applies the CRI's seccomp choice: runtime/default, unconfined, localhost/<path>, and the
 * deprecated profile-path spellings. Unset: unconfined (containerd's default). */
int cri_apply_seccomp(json_t *spec, const Runtime__V1__SecurityProfile *p, const char *old_path,
                      bool privileged, struct berth_err **err)
{
    if (privileged)
        return berth_oci_with_seccomp_unconfined(spec, err);
    if (p) {
        switch (p->profile_type) {
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault:
            return berth_oci_with_seccomp_default(spec, err);
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost:
            if (!p->localhost_ref || p->localhost_ref[0] != '/')
                return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                     "seccomp localhost profile \"%s\" must be an absolute path",
                                     p->localhost_ref ? p->localhost_ref : "");
            return berth_oci_with_seccomp_file(spec, p->localhost_ref, err);
        default:
            return berth_oci_with_seccomp_unconfined(spec, err);
        }
    }
    if (old_path && *old_path) {
        if (strcmp(old_path, "runtime/default") == 0 || strcmp(old_path, "docker/default") == 0)
            return berth_oci_with_seccomp_default(spec, err);
        if (strcmp(old_path, "unconfined") == 0)
            return berth_oci_with_seccomp_unconfined(spec, err);
        if (berth_str_has_prefix(old_path, "localhost/"))
            return berth_oci_with_seccomp_file(spec, old_path + 9, err);
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "seccomp profile \"%s\" is unknown",
                             old_path);
    }
    return berth_oci_with_seccomp_unconfined(spec, err);
}

static const char *cri_old_seccomp_path(const Runtime__V1__LinuxSandboxSecurityContext *sc)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    return sc ? sc->seccomp_profile_path : NULL;
#pragma GCC diagnostic pop
}

static int sandbox_spec(struct berth_cri *c, struct cri_sandbox *s,
                        const struct cri_image_info *img, const struct berth_cri_runtime *rt,
                        json_t **out, struct berth_err **err)
{
    const Runtime__V1__PodSandboxConfig *cfg = s->config;
    const Runtime__V1__LinuxSandboxSecurityContext *sc =
        cfg->linux ? cfg->linux->security_context : NULL;
    json_t *spec = berth_oci_default_spec(CRI_NS, s->id);
    _cleanup_free_ char *root = cri_sandbox_root(c, s->id);
    _cleanup_free_ char *state = cri_sandbox_state(c, s->id);
    _cleanup_free_ char *shm = berth_strdup_printf("%s/shm", state);
    _cleanup_free_ char *resolv = berth_strdup_printf("%s/resolv.conf", root);
    _cleanup_free_ char *cg = NULL;
    struct berth_labels ann, sysctls;
    struct berth_oci_resources res;
    static const char *const ro_bind[] = {"rbind", "ro", "nosuid", "nodev", "noexec", NULL};
    int ret = -1;

    berth_labels_init(&ann);
    berth_labels_init(&sysctls);
    if (berth_oci_with_image_config(spec, img->config, err) < 0)
        goto out;
    if (!json_array_size(json_object_get(json_object_get(spec, "process"), "args"))) {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                      "sandbox image \"%s\" has no entrypoint or command", img->id);
        goto out;
    }
    if (berth_oci_without_mount(spec, "/run", err) < 0 ||
        berth_oci_with_rlimits_cleared(spec, err) < 0 ||
        berth_oci_without_apparmor(spec, err) < 0 ||
        berth_oci_with_readonly_rootfs(spec, true, err) < 0)
        goto out;
    if (!cri_pod_host_network(cfg)) {
        if (cfg->hostname && *cfg->hostname &&
            berth_oci_with_hostname(spec, cfg->hostname, err) < 0)
            goto out;
        if (berth_oci_with_namespace(spec, "network", s->netns_path, err) < 0)
            goto out;
    } else if (berth_oci_without_namespace(spec, "network", err) < 0 ||
               berth_oci_without_namespace(spec, "uts", err) < 0) {
        goto out;
    }
    if (cri_pod_host_pid(cfg) && berth_oci_without_namespace(spec, "pid", err) < 0)
        goto out;
    if (cri_pod_host_ipc(cfg)) {
        if (berth_oci_without_namespace(spec, "ipc", err) < 0)
            goto out;
        free(shm);
        shm = berth_xstrdup("/dev/shm");
    }
    {
        struct berth_oci_mount m1 = {
            .dst = "/dev/shm", .src = shm, .type = "bind", .options = ro_bind};
        struct berth_oci_mount m2 = {
            .dst = "/etc/resolv.conf", .src = resolv, .type = "bind", .options = ro_bind};
        if (berth_oci_with_mount(spec, &m1, err) < 0 || berth_oci_with_mount(spec, &m2, err) < 0)
            goto out;
    }
    if (cfg->linux)
        cri_labels_from_map(&sysctls, cfg->linux->n_sysctls,
                            (ProtobufCMessage *const *)cfg->linux->sysctls);
    if (!cri_pod_host_network(cfg)) {
        if (c->unprivileged_ports &&
            !berth_labels_get(&sysctls, "net.ipv4.ip_unprivileged_port_start"))
            berth_labels_set(&sysctls, "net.ipv4.ip_unprivileged_port_start", "0");
        if (c->unprivileged_icmp && !berth_labels_get(&sysctls, "net.ipv4.ping_group_range"))
            berth_labels_set(&sysctls, "net.ipv4.ping_group_range", "0 2147483647");
    }
    if (sysctls.n && berth_oci_with_sysctls(spec, &sysctls, err) < 0)
        goto out;
    cg = cri_cgroups_path(cfg->linux ? cfg->linux->cgroup_parent : NULL, s->id, rt->systemd_cgroup);
    if (berth_oci_with_cgroups_path(spec, cg, err) < 0)
        goto out;
    memset(&res, 0, sizeof(res));
    res.cpu_shares = 2;
    res.oom_score_adj = -998 < c->oom_score_adj_min ? c->oom_score_adj_min : -998;
    if (berth_oci_with_resources(spec, &res, err) < 0)
        goto out;
    /* User: run_as_user/group of the pod, else the image's. */
    if (sc && sc->run_as_user) {
        if (berth_oci_with_uid_gid(spec, NULL, sc->run_as_user->value,
                                   sc->run_as_group ? sc->run_as_group->value : -1, err) < 0)
            goto out;
    } else if (sc && sc->run_as_group) {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                      "pod sandbox \"%s\": run_as_group requires run_as_user", s->name);
        goto out;
    } else if (img->config && img->config->user && *img->config->user &&
               berth_oci_with_user(spec, NULL, img->config->user, err) < 0) {
        goto out;
    }
    if (sc && sc->n_supplemental_groups &&
        berth_oci_with_additional_gids(spec, sc->supplemental_groups, sc->n_supplemental_groups,
                                       err) < 0)
        goto out;
    if (sc && sc->privileged && berth_oci_with_privileged(spec, err) < 0)
        goto out;
    if (cri_apply_seccomp(spec, sc ? sc->seccomp : NULL, cri_old_seccomp_path(sc),
                          sc && sc->privileged, err) < 0)
        goto out;
    berth_labels_set(&ann, CRI_ANN_CONTAINER_TYPE, "sandbox");
    berth_labels_set(&ann, CRI_ANN_SANDBOX_ID, s->id);
    berth_labels_set(&ann, CRI_ANN_SANDBOX_NAME, cfg->metadata->name);
    berth_labels_set(&ann, CRI_ANN_SANDBOX_NAMESPACE, cfg->metadata->namespace_);
    berth_labels_set(&ann, CRI_ANN_SANDBOX_UID, cfg->metadata->uid);
    if (cfg->log_directory && *cfg->log_directory)
        berth_labels_set(&ann, CRI_ANN_SANDBOX_LOG_DIR, cfg->log_directory);
    if (berth_oci_with_annotations(spec, &ann, err) < 0)
        goto out;
    *out = spec;
    spec = NULL;
    ret = 0;
out:
    json_decref(spec);
    berth_labels_clear(&ann);
    berth_labels_clear(&sysctls);
    return ret;
}

char *cri_sandbox_meta_json(const struct cri_sandbox *s)
{
    _cleanup_free_ char *cfg = cri_msg_b64(&s->config->base);
    json_t *ips = json_array(), *o;
    char *text;

    for (size_t i = 0; s->extra_ips && s->extra_ips[i]; i++)
        json_array_append_new(ips, json_string(s->extra_ips[i]));
    o = json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:I}}", "Version", "v1", "Metadata",
                  "ID", s->id, "Name", s->name, "Config", cfg, "NetNSPath",
                  s->netns_path ? s->netns_path : "", "IP", s->ip ? s->ip : "", "AdditionalIPs",
                  ips, "RuntimeHandler", s->runtime_handler, "CNIResult",
                  s->cni_result ? s->cni_result : "", "CreatedAt", (json_int_t)s->created_ns);
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static int start_task(struct berth_cri *c, const char *id, const struct berth_cri_runtime *rt,
                      const struct berth_rt_io *io, uint32_t *pid, struct berth_err **err)
{
    struct berth_rt_record_create rc = {.ns = CRI_NS, .id = id, .runtime_path = rt->runtime_path};
    struct berth_rt_task *t = NULL;
    int ret;

    if (io)
        rc.io = *io;
    if (berth_rt_task_create_from_record(c->svc->runtime, c->svc->db, c->svc->snapshotters, &rc,
                                         pid, err) < 0)
        return -1;
    if (berth_rt_task_get(c->svc->runtime, CRI_NS, id, &t, err) < 0)
        return -1;
    ret = berth_rt_task_start(c->svc->runtime, t, NULL, pid, err);
    if (ret < 0) {
        _cleanup_err_ struct berth_err *e = NULL;
        /* the shim deletes only a stopped process: wait for the kill to take */
        (void)cri_task_kill_wait(c, t, &e);
        berth_err_free(&e);
        (void)berth_rt_task_delete(c->svc->runtime, t, NULL, NULL, NULL, &e);
    }
    berth_rt_task_put(t);
    return ret;
}

int cri_task_create_start(struct berth_cri *c, const char *id, const struct berth_cri_runtime *rt,
                          const struct berth_rt_io *io, uint32_t *pid, struct berth_err **err)
{
    return start_task(c, id, rt, io, pid, err);
}

/* The sandbox image, pulled when absent (berth's own is always present). */
static int sandbox_image(struct berth_cri *c, struct cri_image_info **img, struct berth_err **err)
{
    const char *ref = c->own_pause ? CRI_PAUSE_IMAGE : c->sandbox_image;
    _cleanup_err_ struct berth_err *e = NULL;

    if (cri_image_resolve(c, ref, img, &e) == 0)
        return 0;
    if (e->code != BERTH_E_NOT_FOUND || c->own_pause) {
        *err = steal_ptr(e);
        return -1;
    }
    if (cri_image_pull(c, ref, NULL, NULL, NULL, NULL, err) < 0)
        return berth_err_wrap(err, "sandbox image");
    return cri_image_resolve(c, ref, img, err);
}

/* CNI ADD runs on a thread of its own while the pause task is made: the plugins need only
 * the netns, and they take about as long as the shim and runc do. */
struct cni_job {
    struct berth_cri *c;
    struct cri_sandbox *s;
    struct berth_err *err;
    int ret;
};

static void *cni_job_run(void *arg)
{
    struct cni_job *j = arg;

    j->ret = cri_cni_attach(j->c, j->s, &j->err);
    return NULL;
}

/* Kills and deletes the pause task a failed RunPodSandbox started. */
static void task_undo(struct berth_cri *c, const char *id)
{
    struct berth_rt_task *t = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_rt_task_get(c->svc->runtime, CRI_NS, id, &t, &e) < 0)
        return;
    (void)cri_task_kill_wait(c, t, &e);
    berth_err_free(&e);
    if (berth_rt_task_delete(c->svc->runtime, t, NULL, NULL, NULL, &e) < 0)
        log_warn("ns=%s sandbox=%s undo task: %s", CRI_NS, id, e->msg);
    berth_rt_task_put(t);
}

int cri_run_pod_sandbox(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Runtime__V1__RunPodSandboxRequest *req = (const void *)in;
    Runtime__V1__RunPodSandboxResponse resp = RUNTIME__V1__RUN_POD_SANDBOX_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    const struct berth_cri_runtime *rt;
    struct cri_image_info *img;
    struct cri_sandbox *s;
    struct berth_labels labels;
    json_t *spec = NULL;
    _cleanup_free_ char *meta = NULL;
    char id[65];
    bool files = false, net = false, record = false, named = false, task = false;
    struct cni_job job = {0};
    pthread_t cni_thread;
    bool cni_running = false, attached = false;
    int ret = -1;

    if (!c)
        return -1;
    if (check_config(req->config, err) < 0 ||
        cri_runtime_find(c, req->runtime_handler, &rt, err) < 0)
        return -1;
    cri_new_id(id);
    s = cri_sandbox_new();
    s->id = berth_xstrdup(id);
    s->config = (Runtime__V1__PodSandboxConfig *)cri_msg_dup(&req->config->base);
    s->name = berth_strdup_printf("%s_%s_%s_%u", s->config->metadata->name,
                                  s->config->metadata->namespace_, s->config->metadata->uid,
                                  s->config->metadata->attempt);
    s->runtime_handler = berth_xstrdup(rt->name);
    s->created_ns = berth_now_ns();
    berth_labels_init(&labels);
    if (cri_name_reserve(c, s->name, s->id, err) < 0)
        goto fail;
    named = true;
    if (sandbox_image(c, &img, err) < 0)
        goto fail;
    if (!img->top_chain_id) {
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "sandbox image \"%s\" has no layers",
                      img->id);
        goto fail;
    }
    if (sandbox_files(c, s, err) < 0)
        goto fail;
    files = true;
    if (!cri_pod_host_network(s->config)) {
        if (cri_netns_create(c, s, err) < 0)
            goto fail;
        net = true;
        job = (struct cni_job){.c = c, .s = s};
        if (pthread_create(&cni_thread, NULL, cni_job_run, &job) == 0)
            cni_running = true;
        else if (cri_cni_attach(c, s, err) < 0) /* no thread: in line */
            goto fail;
        else
            attached = true;
    }
    if (sandbox_spec(c, s, img, rt, &spec, err) < 0)
        goto fail;
    cri_labels_from_map(&labels, s->config->n_labels, (ProtobufCMessage *const *)s->config->labels);
    pthread_mutex_lock(&c->mu);
    meta = cri_sandbox_meta_json(s);
    pthread_mutex_unlock(&c->mu);
    {
        struct cri_record r = {.id = s->id,
                               .kind = CRI_KIND_SANDBOX,
                               .image_name = c->own_pause ? CRI_PAUSE_IMAGE : c->sandbox_image,
                               .parent_snapshot = img->top_chain_id,
                               .spec = spec,
                               .runtime = rt,
                               .labels = &labels,
                               .ext_name = CRI_EXT_SANDBOX,
                               .ext_type = CRI_TYPE_SANDBOX_META,
                               .ext_json = meta};
        if (cri_record_create(c, &r, err) < 0)
            goto fail;
    }
    record = true;
    if (start_task(c, s->id, rt, NULL, &s->pid, err) < 0)
        goto fail;
    task = true;
    if (cni_running) {
        pthread_join(cni_thread, NULL);
        cni_running = false;
        if (job.ret < 0) {
            *err = steal_ptr(job.err);
            goto fail;
        }
        attached = true;
    }
    if (net) { /* the record learns the pod's IPs now (recovery reads them there) */
        free(meta);
        pthread_mutex_lock(&c->mu);
        meta = cri_sandbox_meta_json(s);
        pthread_mutex_unlock(&c->mu);
        if (cri_record_set_ext(c, s->id, CRI_EXT_SANDBOX, CRI_TYPE_SANDBOX_META, meta, err) < 0)
            goto fail;
    }
    s->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
    cri_sandbox_add(c, s);
    log_info("ns=%s sandbox=%s name=%s started pid=%u", CRI_NS, s->id, s->name, s->pid);
    resp.pod_sandbox_id = s->id;
    berth_svc_pack(out, &resp.base);
    ret = 0;
    goto done;

fail : {
    _cleanup_err_ struct berth_err *e = NULL, *e2 = NULL;
    if (cni_running) {
        pthread_join(cni_thread, NULL);
        attached = job.ret == 0;
    }
    berth_err_free(&job.err);
    if (task)
        task_undo(c, s->id);
    if (record && cri_record_delete(c, s->id, &e) < 0)
        log_warn("ns=%s sandbox=%s undo: %s", CRI_NS, s->id, e->msg);
    /* A failed ADD undid itself: only the netns is left to go. */
    if (net && (attached ? cri_network_teardown(c, s, &e2) : cri_netns_remove(c, s, &e2)) < 0)
        log_warn("ns=%s sandbox=%s undo: %s", CRI_NS, s->id, e2->msg);
    if (files)
        cri_sandbox_files_remove(c, s->id);
    if (named)
        cri_name_release(c, s->name);
}
done:
    json_decref(spec);
    berth_labels_clear(&labels);
    cri_sandbox_put(c, s);
    return ret;
}
