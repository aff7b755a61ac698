/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CreateContainer (containerd.md §8.2): the whole ContainerConfig turned into a spec by the
 * composable options of runtime/oci, then the record, snapshot and status checkpoint. The
 * image is never pulled here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/mountdir.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/util.h"
#include "metadata/snapshots.h"
#include "runtime/oci/opts.h"
#include "services/cri/cri-internal.h"
#include "services/cri/events.h"
#include "services/cri/record.h"
#include "snapshots/mount.h"

/* "SIGTERM", "TERM", "15" -> number; 0 when unknown. */
uint32_t cri_signal_parse(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"HUP", SIGHUP},     {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
                {"USR1", SIGUSR1},   {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"STOP", SIGSTOP},
                {"WINCH", SIGWINCH}, {"PWR", SIGPWR},   {"CONT", SIGCONT}};
    char *end;
    long v;

    if (!s || !*s)
        return 0;
    v = strtol(s, &end, 10);
    if (*end == 0)
        return v > 0 && v <= 64 ? (uint32_t)v : 0;
    if (strncasecmp(s, "SIG", 3) == 0) /* any case, as moby's ParseSignal */
        s += 3;
    for (size_t i = 0; i < BERTH_N(sigs); i++)
        if (strcasecmp(s, sigs[i].name) == 0)
            return (uint32_t)sigs[i].sig;
    return 0;
}

/* A NULL-terminated array borrowing the n strings of a protobuf repeated field (those are not
 * NULL-terminated); NULL stays NULL so "not sent" is kept apart from "empty". Free the array
 * only. */
static const char **strv(char **v, size_t n)
{
    const char **r;

    if (!v)
        return NULL;
    r = berth_xcalloc(n + 1, sizeof(*r));
    for (size_t i = 0; i < n; i++)
        r[i] = v[i];
    return r;
}

/* The deprecated seccomp_profile_path spelling older kubelets send. */
static const char *cri_old_seccomp_path(const Runtime__V1__LinuxContainerSecurityContext *sc)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    return sc ? sc->seccomp_profile_path : NULL;
#pragma GCC diagnostic pop
}

/* A Device's host path (or a directory walked under it) is the client's choice, so the I/O
 * errors that only say something about that path are the client's too: one it may not read
 * (EACCES, as for /proc/<pid>/fdinfo) or that does not resolve (a symlink loop, a too long
 * name) is not a daemon failure (INTERNAL), which berth_oci_with_device reports them as. */
static void device_err_classify(struct berth_err *e)
{
    if (e->code != BERTH_E_INTERNAL)
        return;
    switch (e->sys_errno) {
    case EACCES:
    case EPERM:
        e->code = BERTH_E_FAILED_PRECONDITION;
        break;
    case ELOOP:
    case ENAMETOOLONG:
        e->code = BERTH_E_INVALID_ARGUMENT;
        break;
    default:
        break;
    }
}

/* The host paths of the sandbox files a container gets unless its config mounts them. */
static bool mounted_by_config(const Runtime__V1__ContainerConfig *cfg, const char *dst)
{
    for (size_t i = 0; i < cfg->n_mounts; i++)
        if (strcmp(cfg->mounts[i]->container_path, dst) == 0)
            return true;
    return false;
}

static int with_sandbox_files(struct berth_cri *c, json_t *spec, struct cri_sandbox *s,
                              const Runtime__V1__ContainerConfig *cfg, bool ro,
                              struct berth_err **err)
{
    _cleanup_free_ char *root = cri_sandbox_root(c, s->id);
    _cleanup_free_ char *state = cri_sandbox_state(c, s->id);
    static const char *const files[] = {"hostname", "hosts", "resolv.conf"};

    for (size_t i = 0; i < BERTH_N(files); i++) {
        _cleanup_free_ char *dst = berth_strdup_printf("/etc/%s", files[i]);
        _cleanup_free_ char *src = berth_strdup_printf("%s/%s", root, files[i]);
        struct berth_oci_bind b = {.host_path = src, .container_path = dst, .readonly = ro};
        if (mounted_by_config(cfg, dst))
            continue;
        if (berth_oci_with_bind(spec, &b, err) < 0)
            return -1;
    }
    if (!mounted_by_config(cfg, "/dev/shm")) {
        _cleanup_free_ char *shm = cri_pod_host_ipc(s->config)
                                       ? berth_xstrdup("/dev/shm")
                                       : berth_strdup_printf("%s/shm", state);
        struct berth_oci_bind b = {.host_path = shm, .container_path = "/dev/shm"};
        if (berth_oci_with_bind(spec, &b, err) < 0)
            return -1;
    }
    return 0;
}

static int with_namespaces(json_t *spec, struct berth_cri *c, struct cri_sandbox *s,
                           const Runtime__V1__NamespaceOption *o, struct berth_err **err)
{
    char path[64];
    uint32_t pid;

    pthread_mutex_lock(&c->mu);
    pid = s->pid;
    pthread_mutex_unlock(&c->mu);
    if (cri_pod_host_network(s->config)) {
        if (berth_oci_without_namespace(spec, "network", err) < 0 ||
            berth_oci_without_namespace(spec, "uts", err) < 0)
            return -1;
    } else {
        snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
        if (berth_oci_with_namespace(spec, "network", path, err) < 0)
            return -1;
        snprintf(path, sizeof(path), "/proc/%u/ns/uts", pid);
        if (berth_oci_with_namespace(spec, "uts", path, err) < 0)
            return -1;
    }
    if (cri_pod_host_ipc(s->config)) {
        if (berth_oci_without_namespace(spec, "ipc", err) < 0)
            return -1;
    } else {
        snprintf(path, sizeof(path), "/proc/%u/ns/ipc", pid);
        if (berth_oci_with_namespace(spec, "ipc", path, err) < 0)
            return -1;
    }
    switch (o ? o->pid : RUNTIME__V1__NAMESPACE_MODE__CONTAINER) {
    case RUNTIME__V1__NAMESPACE_MODE__NODE:
        return berth_oci_without_namespace(spec, "pid", err);
    case RUNTIME__V1__NAMESPACE_MODE__POD:
        snprintf(path, sizeof(path), "/proc/%u/ns/pid", pid);
        return berth_oci_with_namespace(spec, "pid", path, err);
    case RUNTIME__V1__NAMESPACE_MODE__TARGET: {
        struct cri_container *t = NULL;
        uint32_t tpid;
        if (cri_container_get(c, o->target_id, &t, err) < 0)
            return berth_err_wrap(err, "pid namespace target");
        pthread_mutex_lock(&c->mu);
        tpid = cri_ctr_phase(&t->st) == CTR_RUNNING ? t->st.pid : 0;
        pthread_mutex_unlock(&c->mu);
        cri_container_put(c, t);
        if (!tpid)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                 "pid namespace target \"%s\" is not running", o->target_id);
        snprintf(path, sizeof(path), "/proc/%u/ns/pid", tpid);
        return berth_oci_with_namespace(spec, "pid", path, err);
    }
    default:
        return 0; /* a pid namespace of its own (the default spec has one) */
    }
}

/* Copies the tree at src (a directory) into the directory dst: directories, regular files and
 * symlinks with their modes and owners (what containerd's copyExistingContents keeps); other
 * file types are skipped. Never follows a symlink; errors name the path. */
static int copy_tree(int sfd, int dfd, const char *what, struct berth_err **err)
{
    DIR *d = fdopendir(dup(sfd));
    struct dirent *de;
    int ret = 0;

    if (!d)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "read volume source %s", what);
    while (ret == 0 && (de = readdir(d))) {
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int s2, d2;
            if (mkdirat(dfd, de->d_name, st.st_mode & 07777) < 0 && errno != EEXIST) {
                ret = berth_err_set(err, BERTH_E_INTERNAL, errno, "volume %s/%s", what, de->d_name);
                break;
            }
            s2 = openat(sfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            d2 = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s2 >= 0 && d2 >= 0) {
                ret = copy_tree(s2, d2, what, err);
                (void)fchown(d2, st.st_uid, st.st_gid);
                (void)fchmod(d2, st.st_mode & 07777);
            }
            if (s2 >= 0)
                close(s2);
            if (d2 >= 0)
                close(d2);
        } else if (S_ISREG(st.st_mode)) {
            int in = openat(sfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            int o = openat(dfd, de->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           st.st_mode & 07777);
            char buf[65536];
            ssize_t n = 0;
            while (in >= 0 && o >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
                if (berth_write_all(o, buf, (size_t)n) < 0) {
                    n = -1;
                    break;
                }
            if (in < 0 || o < 0 || n < 0)
                ret = berth_err_set(err, BERTH_E_INTERNAL, errno, "volume %s/%s", what, de->d_name);
            else {
                (void)fchown(o, st.st_uid, st.st_gid);
                (void)fchmod(o, st.st_mode & 07777);
            }
            if (in >= 0)
                close(in);
            if (o >= 0)
                close(o);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlinkat(sfd, de->d_name, target, sizeof(target) - 1);
            if (n >= 0) {
                target[n] = 0;
                if (symlinkat(target, dfd, de->d_name) == 0)
                    (void)fchownat(dfd, de->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
            }
        }
    }
    closedir(d);
    return ret;
}

/* The image's volumes (config.Volumes) the config does not mount itself: a host directory
 * each, under the container's root dir, filled with what the image has at that path, and
 * bind-mounted read-write (containerd's WithVolumes). rootfs: the image view, or NULL. */
static int with_volumes(struct berth_cri *c, json_t *spec, const struct cri_image_info *img,
                        const Runtime__V1__ContainerConfig *cfg, const char *id, const char *rootfs,
                        struct berth_err **err)
{
    _cleanup_free_ char *croot = cri_container_root(c, id);

    for (size_t i = 0; img->config && img->config->volumes && img->config->volumes[i]; i++) {
        const char *dst = img->config->volumes[i];
        _cleanup_free_ char *host = NULL;
        char rnd[65];
        int sfd, dfd;

        if (dst[0] != '/' || mounted_by_config(cfg, dst))
            continue;
        cri_new_id(rnd);
        rnd[16] = 0;
        host = berth_strdup_printf("%s/volumes/%s", croot, rnd);
        if (berth_mkdir_p(host, 0711, 0755, err) < 0)
            return -1;
        if (rootfs) {
            _cleanup_free_ char *src = berth_strdup_printf("%s%s", rootfs, dst);
            sfd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            dfd = open(host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sfd >= 0 && dfd >= 0 && copy_tree(sfd, dfd, dst, err) < 0) {
                close(sfd);
                close(dfd);
                return -1;
            }
            if (sfd >= 0)
                close(sfd);
            if (dfd >= 0)
                close(dfd);
        }
        {
            struct berth_oci_bind b = {.host_path = host, .container_path = dst};
            if (berth_oci_with_bind(spec, &b, err) < 0)
                return -1;
        }
    }
    return 0;
}

/* What needs the image's files: users and groups resolved against its /etc/passwd and
 * /etc/group, and its volumes' contents. A read-only view of the image's top snapshot is
 * mounted for the call (containerd mounts one too). */
static int with_image_files(struct berth_cri *c, json_t *spec, const struct cri_image_info *img,
                            const Runtime__V1__ContainerConfig *cfg, const char *id,
                            const Runtime__V1__LinuxContainerSecurityContext *sc,
                            struct berth_err **err)
{
    _cleanup_free_ char *key = berth_strdup_printf("cri-user-view-%s", id);
    _cleanup_free_ char *tmp = berth_strdup_printf("%s/tmpmounts", c->state_dir);
    struct berth_snapshotter *sn;
    struct berth_mount *m = NULL;
    struct berth_mountdir d = {0};
    _cleanup_free_ char *user = NULL;
    size_t n = 0;
    int ret = -1;

    if (sc && sc->run_as_group && !sc->run_as_user &&
        !(sc->run_as_username && *sc->run_as_username))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "run_as_group is set but neither run_as_user nor run_as_username");
    if (sc && sc->run_as_user)
        user = sc->run_as_group
                   ? berth_strdup_printf("%lld:%lld", (long long)sc->run_as_user->value,
                                         (long long)sc->run_as_group->value)
                   : berth_strdup_printf("%lld", (long long)sc->run_as_user->value);
    else if (sc && sc->run_as_username && *sc->run_as_username)
        user = sc->run_as_group ? berth_strdup_printf("%s:%lld", sc->run_as_username,
                                                      (long long)sc->run_as_group->value)
                                : berth_xstrdup(sc->run_as_username);
    else if (img->config && img->config->user && *img->config->user)
        user = berth_xstrdup(img->config->user);
    if (!img->top_chain_id) {
        ret = berth_oci_with_user(spec, NULL, user ? user : "0", err);
        if (ret == 0)
            ret = with_volumes(c, spec, img, cfg, id, NULL, err);
        goto groups;
    }
    if (berth_mkdir_p(tmp, 0711, 0700, err) < 0 ||
        berth_snap_registry_get(c->svc->snapshotters, c->snapshotter, &sn, err) < 0 ||
        berth_meta_snapshots_create(c->svc->db, sn, CRI_NS, NULL, BERTH_SNAP_VIEW, key,
                                    img->top_chain_id, NULL, &m, &n, err) < 0)
        return -1;
    if (berth_image_mountdir_resolve(m, n, c->state_dir, "user", BERTH_MOUNTDIR_READONLY, &d,
                                     err) == 0) {
        ret = berth_oci_with_user(spec, d.dir, user ? user : "0", err);
        if (ret == 0)
            ret = with_volumes(c, spec, img, cfg, id, d.dir, err);
        berth_image_mountdir_release(&d);
    }
    berth_mounts_free(m, n);
    {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_meta_snapshots_remove(c->svc->db, sn, CRI_NS, NULL, key, &e) < 0)
            log_warn("ns=%s container=%s remove view: %s", CRI_NS, id, e->msg);
    }
groups:
    if (ret == 0 && sc && sc->n_supplemental_groups)
        ret = berth_oci_with_additional_gids(spec, sc->supplemental_groups,
                                             sc->n_supplemental_groups, err);
    return ret;
}

void cri_resources_from_pb(const Runtime__V1__LinuxContainerResources *r,
                           struct berth_oci_resources *o, struct cri_hugepages *hp)
{
    memset(o, 0, sizeof(*o));
    o->oom_score_adj = INT64_MIN;
    if (!r)
        return;
    o->cpu_period = r->cpu_period;
    o->cpu_quota = r->cpu_quota;
    o->cpu_shares = r->cpu_shares;
    o->memory_limit = r->memory_limit_in_bytes;
    o->memory_swap_limit = r->memory_swap_limit_in_bytes;
    o->oom_score_adj = r->oom_score_adj;
    o->cpuset_cpus = r->cpuset_cpus && *r->cpuset_cpus ? r->cpuset_cpus : NULL;
    o->cpuset_mems = r->cpuset_mems && *r->cpuset_mems ? r->cpuset_mems : NULL;
    hp->n = r->n_hugepage_limits < 8 ? r->n_hugepage_limits : 8;
    for (size_t i = 0; i < hp->n; i++) {
        hp->v[i].page_size = r->hugepage_limits[i]->page_size;
        hp->v[i].limit = r->hugepage_limits[i]->limit;
    }
    o->hugepages = hp->v;
    o->n_hugepages = hp->n;
    berth_labels_init(&hp->unified);
    cri_labels_from_map(&hp->unified, r->n_unified, (ProtobufCMessage *const *)r->unified);
    o->unified = hp->unified.n ? &hp->unified : NULL;
}

int cri_container_spec(struct berth_cri *c, struct cri_sandbox *s, const char *id,
                       const Runtime__V1__ContainerConfig *cfg, const struct cri_image_info *img,
                       const struct berth_cri_runtime *rt, char **cgroups, json_t **out,
                       struct berth_err **err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc =
        cfg->linux ? cfg->linux->security_context : NULL;
    const Runtime__V1__LinuxSandboxSecurityContext *psc =
        s->config->linux ? s->config->linux->security_context : NULL;
    json_t *spec = berth_oci_default_spec(CRI_NS, id);
    struct berth_labels ann;
    struct berth_oci_resources res;
    struct cri_hugepages hp = {0};
    char **env = NULL;
    size_t n_env = 0;
    bool privileged = sc && sc->privileged;
    int ret = -1;

    berth_labels_init(&ann);
    if (privileged && !(psc && psc->privileged)) {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                      "no privileged container allowed in sandbox \"%s\"", s->id);
        goto out;
    }
    {
        _cleanup_free_ const char **cmd = strv(cfg->command, cfg->n_command);
        _cleanup_free_ const char **args = strv(cfg->args, cfg->n_args);
        if (berth_oci_with_image_config(spec, img->config, err) < 0 ||
            berth_oci_with_cri_args(spec, img->config, cmd, args, err) < 0)
            goto out;
    }
    /* HOSTNAME, then the config's envs over the image's. */
    env = berth_xcalloc(cfg->n_envs + 2, sizeof(*env));
    {
        char node[256] = "";
        const char *hn = s->config->hostname;
        if (!hn || !*hn) {
            gethostname(node, sizeof(node) - 1);
            hn = node;
        }
        env[n_env++] = berth_strdup_printf("HOSTNAME=%s", hn);
    }
    for (size_t i = 0; i < cfg->n_envs; i++)
        env[n_env++] = berth_strdup_printf("%s=%s", cfg->envs[i]->key, cfg->envs[i]->value);
    if (berth_oci_with_env(spec, (const char *const *)env, err) < 0)
        goto out;
    if (cfg->working_dir && *cfg->working_dir &&
        berth_oci_with_cwd(spec, cfg->working_dir, err) < 0)
        goto out;
    if (berth_oci_with_tty(spec, cfg->tty, err) < 0 ||
        berth_oci_without_mount(spec, "/run", err) < 0 ||
        berth_oci_with_rlimits_cleared(spec, err) < 0 ||
        berth_oci_without_apparmor(spec, err) < 0 ||
        berth_oci_with_no_new_privs(spec, sc && sc->no_new_privs, err) < 0)
        goto out;
    for (size_t i = 0; i < cfg->n_mounts; i++) {
        const Runtime__V1__Mount *m = cfg->mounts[i];
        struct berth_oci_bind b = {.host_path = m->host_path,
                                   .container_path = m->container_path,
                                   .readonly = m->readonly,
                                   .propagation = (int)m->propagation};
        if (!m->container_path || m->container_path[0] != '/') {
            berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                          "mount container path \"%s\" must be absolute",
                          m->container_path ? m->container_path : "");
            goto out;
        }
        if (berth_oci_with_bind(spec, &b, err) < 0)
            goto out;
    }
    if (with_sandbox_files(c, spec, s, cfg, sc && sc->readonly_rootfs, err) < 0)
        goto out;
    if (privileged) {
        if (berth_oci_with_privileged(spec, err) < 0)
            goto out;
    } else {
        const Runtime__V1__Capability *cp = sc ? sc->capabilities : NULL;
        _cleanup_free_ const char **add =
            cp ? strv(cp->add_capabilities, cp->n_add_capabilities) : NULL;
        _cleanup_free_ const char **drop =
            cp ? strv(cp->drop_capabilities, cp->n_drop_capabilities) : NULL;
        _cleanup_free_ const char **masked = sc ? strv(sc->masked_paths, sc->n_masked_paths) : NULL;
        _cleanup_free_ const char **ro = sc ? strv(sc->readonly_paths, sc->n_readonly_paths) : NULL;
        if (cp && berth_oci_with_capabilities(spec, add, drop, err) < 0)
            goto out;
        if (berth_oci_with_masked_paths(spec, masked, err) < 0 ||
            berth_oci_with_readonly_paths(spec, ro, err) < 0)
            goto out;
    }
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const Runtime__V1__Device *d = cfg->devices[i];
        if (berth_oci_with_device(spec, d->host_path, d->container_path,
                                  d->permissions && *d->permissions ? d->permissions : "rwm",
                                  err) < 0) {
            device_err_classify(*err);
            goto out;
        }
    }
    if (sc && sc->readonly_rootfs && berth_oci_with_readonly_rootfs(spec, true, err) < 0)
        goto out;
    cri_resources_from_pb(cfg->linux ? cfg->linux->resources : NULL, &res, &hp);
    if (res.oom_score_adj != INT64_MIN && res.oom_score_adj < c->oom_score_adj_min)
        res.oom_score_adj = c->oom_score_adj_min;
    if (berth_oci_with_resources(spec, &res, err) < 0)
        goto out;
    *cgroups = cri_cgroups_path(s->config->linux ? s->config->linux->cgroup_parent : NULL, id,
                                rt->systemd_cgroup);
    if (berth_oci_with_cgroups_path(spec, *cgroups, err) < 0)
        goto out;
    if (with_namespaces(spec, c, s, sc ? sc->namespace_options : NULL, err) < 0)
        goto out;
    if (cri_apply_seccomp(spec, sc ? sc->seccomp : NULL, cri_old_seccomp_path(sc), privileged,
                          err) < 0)
        goto out;
    if (with_image_files(c, spec, img, cfg, id, sc, err) < 0)
        goto out;
    cri_labels_from_map(&ann, cfg->n_annotations, (ProtobufCMessage *const *)cfg->annotations);
    berth_labels_set(&ann, CRI_ANN_CONTAINER_TYPE, "container");
    berth_labels_set(&ann, CRI_ANN_SANDBOX_ID, s->id);
    berth_labels_set(&ann, CRI_ANN_SANDBOX_NAME, s->config->metadata->name);
    berth_labels_set(&ann, CRI_ANN_SANDBOX_NAMESPACE, s->config->metadata->namespace_);
    berth_labels_set(&ann, CRI_ANN_SANDBOX_UID, s->config->metadata->uid);
    berth_labels_set(&ann, CRI_ANN_CONTAINER_NAME, cfg->metadata->name);
    berth_labels_set(&ann, CRI_ANN_IMAGE_NAME, cfg->image->image);
    if (berth_oci_with_annotations(spec, &ann, err) < 0)
        goto out;
    *out = spec;
    spec = NULL;
    ret = 0;
out:
    json_decref(spec);
    berth_labels_clear(&ann);
    berth_labels_clear(&hp.unified);
    berth_strv_free(env);
    return ret;
}

char *cri_container_meta_json(const struct cri_container *k)
{
    _cleanup_free_ char *cfg = cri_msg_b64(&k->config->base);
    json_t *o = json_pack(
        "{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s}}", "Version", "v1", "Metadata", "ID", k->id,
        "Name", k->name, "SandboxID", k->sandbox_id, "Config", cfg, "ImageRef", k->image_ref,
        "ImageName", k->image_name ? k->image_name : "", "LogPath", k->log_path ? k->log_path : "",
        "StopSignal", (int)k->stop_signal, "CgroupsPath", k->cgroups_path ? k->cgroups_path : "");
    char *text = json_dumps(o, JSON_COMPACT);

    json_decref(o);
    return text;
}

CRI_RPC(cri_create_container)
{
    const Runtime__V1__CreateContainerRequest *req = (const void *)in;
    Runtime__V1__CreateContainerResponse resp = RUNTIME__V1__CREATE_CONTAINER_RESPONSE__INIT;
    const Runtime__V1__ContainerConfig *cfg = req->config;
    struct berth_cri *c = cri_of(ctx, err);
    const struct berth_cri_runtime *rt;
    struct cri_sandbox *s = NULL;
    struct cri_container *k = NULL;
    struct cri_image_info *img;
    struct berth_labels labels;
    json_t *spec = NULL;
    _cleanup_free_ char *meta = NULL, *croot = NULL, *cstate = NULL;
    char id[65];
    bool named = false, record = false, dirs = false;
    int ret = -1;

    if (!c)
        return -1;
    if (!cfg || !cfg->metadata || !cfg->metadata->name || !*cfg->metadata->name)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "container config must have metadata with a name");
    if (!cfg->image || !cfg->image->image || !*cfg->image->image)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "container \"%s\" config must name an image", cfg->metadata->name);
    if (cri_sandbox_get(c, req->pod_sandbox_id, &s, err) < 0)
        return -1;
    berth_labels_init(&labels);
    pthread_mutex_lock(&c->mu);
    if (s->state != RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY) {
        pthread_mutex_unlock(&c->mu);
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "pod sandbox \"%s\" is not ready",
                      s->id);
        goto done;
    }
    pthread_mutex_unlock(&c->mu);
    if (cri_runtime_find(c, s->runtime_handler, &rt, err) < 0)
        goto done;
    if (cri_image_resolve(c, cfg->image->image, &img, err) < 0)
        goto done;
    cri_new_id(id);
    k = cri_container_new();
    k->id = berth_xstrdup(id);
    k->sandbox_id = berth_xstrdup(s->id);
    k->config = (Runtime__V1__ContainerConfig *)cri_msg_dup(&cfg->base);
    k->name = berth_strdup_printf("%s_%s_%s_%s_%u", cfg->metadata->name, s->config->metadata->name,
                                  s->config->metadata->namespace_, s->config->metadata->uid,
                                  cfg->metadata->attempt);
    k->image_ref = berth_xstrdup(img->id);
    k->image_name = berth_xstrdup(cfg->image->image);
    k->stop_signal = img->config ? cri_signal_parse(img->config->stop_signal) : 0;
    if (s->config->log_directory && *s->config->log_directory && cfg->log_path && *cfg->log_path)
        k->log_path = berth_strdup_printf("%s/%s", s->config->log_directory, cfg->log_path);
    if (cri_name_reserve(c, k->name, k->id, err) < 0)
        goto fail;
    named = true;
    croot = cri_container_root(c, id);
    cstate = cri_container_state(c, id);
    if (berth_mkdir_p(croot, 0711, 0711, err) < 0 || berth_mkdir_p(cstate, 0711, 0711, err) < 0)
        goto fail;
    dirs = true;
    if (cri_container_spec(c, s, id, cfg, img, rt, &k->cgroups_path, &spec, err) < 0)
        goto fail;
    /* Labels: the image's, then the config's (the CRI's win). */
    if (img->config)
        berth_labels_copy(&labels, &img->config->labels);
    for (size_t i = 0; i < cfg->n_labels; i++)
        berth_labels_set(&labels, cfg->labels[i]->key, cfg->labels[i]->value);
    meta = cri_container_meta_json(k);
    {
        struct cri_record r = {.id = id,
                               .kind = CRI_KIND_CONTAINER,
                               .sandbox_id = s->id,
                               .image_name = img->id,
                               .parent_snapshot = img->top_chain_id,
                               .spec = spec,
                               .runtime = rt,
                               .labels = &labels,
                               .ext_name = CRI_EXT_CONTAINER,
                               .ext_type = CRI_TYPE_CONTAINER_META,
                               .ext_json = meta};
        if (cri_record_create(c, &r, err) < 0)
            goto fail;
    }
    record = true;
    k->st.created_ns = berth_now_ns();
    if (cri_ctr_status_save(c, id, &k->st, err) < 0)
        goto fail;
    cri_container_add(c, k);
    log_info("ns=%s container=%s name=%s sandbox=%s created", CRI_NS, k->id, k->name, s->id);
    cri_event_container(c, k, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_CREATED_EVENT);
    resp.container_id = k->id;
    berth_svc_pack(out, &resp.base);
    ret = 0;
    goto done;
fail : {
    _cleanup_err_ struct berth_err *e = NULL, *e2 = NULL, *e3 = NULL;
    if (record && cri_record_delete(c, id, &e) < 0)
        log_warn("ns=%s container=%s undo: %s", CRI_NS, id, e->msg);
    if (dirs && (berth_rmrf(cstate, &e2) < 0 || berth_rmrf(croot, &e3) < 0))
        log_warn("ns=%s container=%s undo: %s", CRI_NS, id, (e2 ? e2 : e3)->msg);
    if (named)
        cri_name_release(c, k->name);
}
done:
    json_decref(spec);
    berth_labels_clear(&labels);
    cri_container_put(c, k);
    cri_sandbox_put(c, s);
    return ret;
}
