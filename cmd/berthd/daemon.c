/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthd's life cycle, in stages: open the stores, start the runtime, the GC, the server and
 * the self-check, then wait for a signal and tear down in reverse. Signals are blocked before
 * any thread exists (grpc threads inherit the mask) and taken synchronously with sigwait on the
 * main thread. The root is guarded by an flock so two daemons never share a store, and a live
 * socket is never stolen.
 */
#define BERTH_LOG_SUBSYS "berthd"

#include "cmd/berthd/daemon.h"

#include <dirent.h> /* start-up removal of snapshot temp dirs */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cmd/berthd/health.h"
#include "images/import.h"
#include "images/pull.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/util.h"
#include "metadata/db.h"
#include "metadata/gc_scheduler.h"
#include "services/cri/cri.h"
#include "services/metrics/metrics.h"
#include "services/services.h"
#include "runtime/v2/runtime.h"

static const char *socket_file(const char *address)
{
    if (berth_str_has_prefix(address, "unix://"))
        return address + 7;
    if (berth_str_has_prefix(address, "unix:"))
        return address + 5;
    return address;
}

/* Refuses to take over a socket another server is still answering on. */
static int check_socket_free(const char *path, struct berth_err **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    _cleanup_close_ int fd = -1;

    if (strlen(path) >= sizeof(sa.sun_path))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "socket path \"%s\" is too long",
                             path);
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "socket \"%s\" is in use by another server", path);
    return 0;
}

static int lock_root(const char *root, int *fd_out, struct berth_err **err)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/berthd.lock", root);
    _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    char pid[32];
    int n;

    if (fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open lock \"%s\"", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                 "root \"%s\" is in use by another berthd", root);
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "lock \"%s\"", path);
    }
    n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || write(fd, pid, (size_t)n) != n)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "write lock \"%s\"", path);
    *fd_out = steal_fd(fd);
    return 0;
}

/* Shims' forwarded events (and the runtime's synthetic ones) go to the exchange. */
/* mkdir -p, then insists on a directory: a regular file named as the state dir used to pass
 * here and fail only at the first task. */
static int ensure_dir(const char *key, const char *path, struct berth_err **err)
{
    struct stat sb;

    if (berth_mkdir_p(path, 0755, 0711, err) < 0)
        return berth_err_wrap(err, "%s", key);
    if (stat(path, &sb) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "%s \"%s\"", key, path);
    if (!S_ISDIR(sb.st_mode))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "%s \"%s\" is not a directory", key,
                             path);
    return 0;
}

static int prepare_dirs(const struct berthd_config *cfg, struct berth_err **err)
{
    _cleanup_free_ char *sockdir = berth_xstrdup(socket_file(cfg->address));
    char *slash = strrchr(sockdir, '/');

    if (ensure_dir("root", cfg->root, err) < 0 || ensure_dir("state", cfg->state, err) < 0)
        return -1;
    if (slash && slash != sockdir) {
        *slash = '\0';
        if (ensure_dir("socket directory", sockdir, err) < 0)
            return -1;
    }
    return 0;
}

/* The soft open-file limit up to the hard one: every connection, ingest, shim and runc call
 * takes descriptors, and running out used to cost the socket for good. The connection limit
 * is derived from what is set here. */
static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        log_warn_errno(errno, "raise the open-file limit to %llu", (unsigned long long)rl.rlim_max);
}

/* Records that no longer decode are skipped by reads and left for fsck; say so once a
 * minute with a count, from whichever thread met one. */
struct corrupt_log {
    struct berth_meta_db *db;
    pthread_mutex_t mu;
    int64_t next;
    uint64_t logged;
};

static void corrupt_log_cb(void *arg, const char *key)
{
    struct corrupt_log *c = arg;
    int64_t now = berth_mono_ns();

    pthread_mutex_lock(&c->mu);
    if (now >= c->next) {
        uint64_t total = berth_meta_db_corrupt_skips(c->db);
        log_warn("%" PRIu64 " read(s) skipped records that cannot be decoded (latest \"%s\"); they "
                 "stay in place and GC leaves their namespace unswept",
                 total - c->logged, key);
        c->logged = total;
        c->next = now + 60 * 1000000000LL;
    }
    pthread_mutex_unlock(&c->mu);
}

struct berthd {
    const struct berthd_config *cfg;
    int lock_fd;
    struct berth_meta_db *db;
    struct corrupt_log clog;
    struct berth_content_store *content;
    struct berth_snap_registry *snaps;
    struct berth_events *events;
    struct berth_rt *rt;
    struct berth_gc_scheduler *gc;
    struct berth_snapshotter *gc_snaps[2];
    struct berth_gc_backends gc_be;
    struct berth_image_stores pull_stores;
    struct berth_puller *puller;
    struct berth_cri *cri;
    struct berth_server *srv;
    struct berthd_health *health;
    struct berth_svc_metrics *metrics; /* NULL: [metrics] address is empty */
    struct berth_metrics_endpoint *metrics_http;
    struct berth_services app;
};

static void forward_event_cb(void *arg, const Containerd__Types__Envelope *env)
{
    struct berthd *d = arg;

    berth_events_forward(d->events, env);
    berth_cri_task_event(__atomic_load_n(&d->cri, __ATOMIC_ACQUIRE), env);
}

/* A snapshot backend populates "new-*" temp dirs outside its store and leaves recent ones to
 * creations in flight. At start-up nothing is in flight, so every one is a crash leftover (the
 * first GC pass takes the rest: backend snapshots and blobs no record names). */
static void remove_snapshot_temp_dirs(const char *root)
{
    static const char *const backends[] = {"overlayfs", "native"};

    for (size_t i = 0; i < BERTH_N(backends); i++) {
        _cleanup_free_ char *dir =
            berth_strdup_printf("%s/snapshots/%s/snapshots", root, backends[i]);
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
            continue;
        while ((de = readdir(d))) {
            _cleanup_free_ char *path = NULL;
            _cleanup_err_ struct berth_err *e = NULL;
            if (!berth_str_has_prefix(de->d_name, "new-"))
                continue;
            path = berth_strdup_printf("%s/%s", dir, de->d_name);
            if (berth_rmrf(path, &e) < 0)
                log_warn("remove leftover: %s", e->msg);
            else
                log_info("removed leftover \"%s\"", path);
        }
        closedir(d);
    }
}

static int open_stores(struct berthd *d, struct berth_err **err)
{
    const struct berthd_config *cfg = d->cfg;
    _cleanup_free_ char *metadir = berth_strdup_printf("%s/metadata", cfg->root);
    _cleanup_free_ char *contentdir = berth_strdup_printf("%s/content", cfg->root);
    struct berth_meta_opts mopts = {0};
    size_t released = 0;

    mopts.map_size = (size_t)cfg->map_size_mb << 20;
    mopts.max_batch = (size_t)cfg->max_batch;
    if (d->metrics) {
        mopts.batch_size = d->metrics->commit_batch;
        mopts.commit_seconds = d->metrics->commit_seconds;
    }
    if (berth_meta_db_open(metadir, &mopts, &d->db, err) < 0)
        return -1;
    d->clog.db = d->db;
    berth_meta_db_set_corrupt_hook(d->db, corrupt_log_cb, &d->clog);
    if (berth_content_store_open(contentdir, &d->content, err) < 0)
        return -1;
    d->app.db = d->db;
    d->app.content = d->content;
    if (berth_image_leases_release_stale(d->db, &released, err) < 0)
        return -1;
    if (released)
        log_info("released %zu lease(s) of imports a previous berthd did not finish", released);
    remove_snapshot_temp_dirs(cfg->root);
    if (berth_snap_registry_open(cfg->root, &d->snaps, err) < 0)
        return -1;
    d->app.snapshotters = d->snaps;
    if (berth_snap_registry_init_err(d->snaps, BERTH_SNAP_DEFAULT))
        log_warn("snapshotter %s not loaded: %s", BERTH_SNAP_DEFAULT,
                 berth_snap_registry_init_err(d->snaps, BERTH_SNAP_DEFAULT)->msg);
    d->app.root = cfg->root;
    d->app.state = cfg->state;
    return 0;
}

static int start_runtime(struct berthd *d, struct berth_err **err)
{
    struct berth_rt_opts ropts = {0};

    d->app.events = d->events = berth_events_new();
    ropts.state = d->cfg->state;
    ropts.address = socket_file(d->cfg->address);
    ropts.default_runtime = d->cfg->default_runtime;
    ropts.oci_binary = d->cfg->runtime_binary;
    ropts.on_event = forward_event_cb;
    ropts.event_arg = d;
    if (berth_rt_new(&ropts, &d->rt, err) < 0 || berth_rt_start(d->rt, err) < 0)
        return -1;
    d->app.runtime = d->rt;
    berth_svc_metrics_set_runtime(d->metrics, d->rt);
    return 0;
}

/* GC: its first pass (startup_delay_ms) also frees what a crash left half-made: backend
 * snapshots and blobs no record names, ingests without a record (docs/gc.md). */
static int start_gc(struct berthd *d, struct berth_err **err)
{
    static const char *const names[] = {"overlayfs", "native"};
    const struct berthd_config *cfg = d->cfg;
    struct berth_gc_sched_opts gc_opts;

    d->gc_be.content = d->content;
    d->gc_be.snapshotters = d->gc_snaps;
    for (size_t i = 0; i < BERTH_N(names); i++) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_snap_registry_get(d->snaps, names[i], &d->gc_snaps[d->gc_be.n_snapshotters],
                                    &e) == 0)
            d->gc_be.n_snapshotters++;
    }
    gc_opts.pause_threshold = cfg->gc_pause_threshold;
    gc_opts.deletion_threshold = cfg->gc_deletion_threshold;
    gc_opts.mutation_threshold = cfg->gc_mutation_threshold;
    gc_opts.schedule_delay_ms = cfg->gc_schedule_delay_ms;
    gc_opts.startup_delay_ms = cfg->gc_startup_delay_ms;
    gc_opts.metrics = d->metrics ? &d->metrics->gc : NULL;
    if (berth_gc_scheduler_start(d->db, &d->gc_be, &gc_opts, &d->gc, err) < 0)
        return -1;
    d->app.gc = d->gc;
    return 0;
}

/* The registry client and puller (images/pull.h) behind Transfer.Pull. */
static int start_puller(struct berthd *d, struct berth_err **err)
{
    const struct berthd_config *cfg = d->cfg;
    struct berth_puller_opts po = {.config_path = cfg->registry_config_path,
                                   .max_concurrent_downloads = (unsigned)cfg->max_downloads,
                                   .metrics = d->metrics ? &d->metrics->pull : NULL};

    (void)berth_duration_parse(cfg->pull_progress_timeout, &po.progress_timeout_ns);
    d->pull_stores.db = d->db;
    d->pull_stores.content = d->content;
    d->pull_stores.snapshotters = d->snaps;
    d->pull_stores.tmp_dir = cfg->state;
    if (berth_puller_new(&d->pull_stores, &po, &d->puller, err) < 0)
        return -1;
    d->app.puller = d->puller;
    return 0;
}

/* The CRI (services/cri): pause image, CNI, state rebuilt from records and shims. */
static int start_cri(struct berthd *d, struct berth_err **err)
{
    const struct berthd_config *cfg = d->cfg;
    struct berth_cri_runtime *rts = NULL;
    struct berth_cri_opts o = {0};
    _cleanup_free_ char *self = NULL, *dir = NULL;
    struct berth_cri *cri = NULL;
    int ret;

    if (!cfg->cri_enabled)
        return 0;
    self = realpath("/proc/self/exe", NULL);
    dir = self ? berth_xstrdup(self) : berth_xstrdup("/usr/bin/berthd");
    *strrchr(dir, '/') = 0;
    rts = berth_xcalloc(cfg->n_cri_runtimes + 1, sizeof(*rts));
    for (size_t i = 0; i < cfg->n_cri_runtimes; i++) {
        const struct berthd_cri_runtime *r = &cfg->cri_runtimes[i];
        rts[i] = (struct berth_cri_runtime){.name = r->name,
                                            .runtime_type = r->runtime_type,
                                            .runtime_path = r->runtime_path,
                                            .binary_name = r->binary_name,
                                            .root = r->root,
                                            .systemd_cgroup = r->systemd_cgroup};
    }
    o.root = cfg->root;
    o.state = cfg->state;
    o.bin_dir = dir;
    o.sandbox_image = cfg->cri_sandbox_image;
    o.snapshotter = cfg->cri_snapshotter;
    o.default_runtime = cfg->cri_default_runtime;
    o.runtimes = rts;
    o.n_runtimes = cfg->n_cri_runtimes;
    o.max_log_line = cfg->cri_max_log_line;
    o.unprivileged_ports = cfg->cri_unprivileged_ports;
    o.unprivileged_icmp = cfg->cri_unprivileged_icmp;
    o.cni_conf_dir = cfg->cri_cni_conf_dir;
    o.cni_bin_dir = cfg->cri_cni_bin_dir;
    o.stream_address = cfg->cri_stream_address;
    o.stream_port = (uint16_t)berthd_config_stream_port(cfg);
    {
        int64_t ns = 0;
        (void)berth_duration_parse(cfg->cri_stream_idle_timeout, &ns); /* validated */
        o.stream_idle_timeout_ms = ns / 1000000;
    }
    ret = berth_cri_new(&d->app, &o, &cri, err);
    free(rts);
    if (ret < 0)
        return -1;
    d->app.cri = cri;
    /* Exits forwarded from now on are queued for the CRI, so none falls between the state
     * it rebuilds and the exit thread it starts. */
    __atomic_store_n(&d->cri, cri, __ATOMIC_RELEASE);
    if (berth_cri_start(cri, err) < 0)
        return berth_err_wrap(err, "cri");
    return 0;
}

static int start_server(struct berthd *d, struct berth_err **err)
{
    const struct berthd_config *cfg = d->cfg;
    const struct berth_service *const *svcs;
    size_t n_svcs = berth_services_all(&svcs);
    struct berth_server_opts sopts = {0};

    sopts.address = cfg->address;
    sopts.cq_threads = (unsigned)cfg->cq_threads;
    sopts.worker_threads = (unsigned)cfg->worker_threads;
    sopts.listing_threads = (unsigned)cfg->listing_threads;
    sopts.grace_ms = cfg->grace_ms ? cfg->grace_ms : 1;
    sopts.socket_gid = cfg->gid < 0 ? (unsigned)-1 : (unsigned)cfg->gid;
    sopts.max_connections = (unsigned)cfg->max_connections;
    sopts.max_streams_per_conn = (unsigned)cfg->max_streams_per_conn;
    sopts.max_stream_calls = (unsigned)cfg->max_stream_calls;
    sopts.max_calls = (unsigned)cfg->max_calls;
    sopts.preface_timeout_ms = cfg->preface_timeout_ms;
    sopts.request_timeout_ms = cfg->request_timeout_ms;
    sopts.idle_timeout_ms = cfg->idle_timeout_ms;
    sopts.keepalive_ms = cfg->keepalive_ms;
    sopts.keepalive_timeout_ms = cfg->keepalive_timeout_ms;
    if (d->metrics) {
        sopts.metrics = d->metrics->reg;
        sopts.metrics_histogram = d->metrics->grpc_histogram;
    }
    if (berth_server_new(&sopts, svcs, n_svcs, &d->app, &d->srv, err) < 0 ||
        berth_server_start(d->srv, err) < 0)
        return -1;
    berthd_health_new(socket_file(cfg->address), cfg->self_check_ms, &d->health);
    return 0;
}

/* [metrics]: the registry first (every subsystem started after it counts into it), the
 * endpoint last (start_metrics_endpoint), once there is something to serve. */
static int start_metrics(struct berthd *d, struct berth_err **err)
{
    if (!*d->cfg->metrics_address)
        return 0;
    if (berth_svc_metrics_new(d->cfg->metrics_grpc_histogram, &d->metrics, err) < 0)
        return berth_err_wrap(err, "metrics");
    d->app.metrics = d->metrics;
    return 0;
}

static int start_metrics_endpoint(struct berthd *d, struct berth_err **err)
{
    if (!d->metrics)
        return 0;
    if (berth_metrics_endpoint_start(d->cfg->metrics_address, d->metrics->reg, 0, &d->metrics_http,
                                     err) < 0)
        return -1;
    log_info("serving metrics at http://%s/v1/metrics", d->cfg->metrics_address);
    return 0;
}

static void berthd_teardown(struct berthd *d)
{
    berth_metrics_endpoint_stop(d->metrics_http);
    berth_svc_metrics_set_runtime(d->metrics, NULL);
    berthd_health_free(d->health);
    berth_server_free(d->srv);
    __atomic_store_n(&d->cri, NULL, __ATOMIC_RELEASE);
    berth_cri_free(d->app.cri);
    berth_puller_free(d->puller);   /* no calls left: no pull runs */
    berth_gc_scheduler_stop(d->gc); /* no calls left: nothing writes any more */
    berth_rt_free(d->rt);           /* shims keep running; a restart reattaches */
    berth_events_free(d->events);
    berth_content_store_close(d->content);
    berth_snap_registry_close(d->snaps);
    if (d->db)
        berth_meta_db_set_corrupt_hook(d->db, NULL, NULL);
    berth_meta_db_close(d->db);
    pthread_mutex_destroy(&d->clog.mu);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    berth_svc_metrics_free(d->metrics); /* nothing counts any more */
}

int berthd_run(const struct berthd_config *cfg)
{
    _cleanup_err_ struct berth_err *err = NULL;
    struct berthd d = {.cfg = cfg, .lock_fd = -1};
    struct berth_server_stats st;
    sigset_t set;
    int sig, code = 1;

    pthread_mutex_init(&d.clog.mu, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();

    if (prepare_dirs(cfg, &err) < 0 || lock_root(cfg->root, &d.lock_fd, &err) < 0 ||
        check_socket_free(socket_file(cfg->address), &err) < 0 || start_metrics(&d, &err) < 0 ||
        open_stores(&d, &err) < 0 || start_runtime(&d, &err) < 0 || start_gc(&d, &err) < 0 ||
        start_puller(&d, &err) < 0 || start_cri(&d, &err) < 0 || start_server(&d, &err) < 0 ||
        start_metrics_endpoint(&d, &err) < 0)
        goto out;

    berth_server_stats(d.srv, &st);
    log_info("serving root=%s state=%s address=%s uuid=%s pid=%d max_connections=%zu", cfg->root,
             cfg->state, socket_file(cfg->address), berth_meta_db_uuid(d.db), (int)getpid(),
             st.conns_max);
    sd_notifyf(0, "READY=1\nSTATUS=serving on %s\nMAINPID=%d", socket_file(cfg->address),
               (int)getpid());

    for (;;) {
        /* The self-check runs here between signals: a check holds a signal back for at most
         * its timeout (10 s), and only while the server does not answer. */
        int64_t due = berthd_health_due_ms(d.health);
        if (due == 0) {
            berthd_health_run(d.health);
            continue;
        }
        if (due < 0) {
            if (sigwait(&set, &sig) != 0)
                continue;
        } else {
            struct timespec ts = {.tv_sec = due / 1000, .tv_nsec = (due % 1000) * 1000000L};
            sig = sigtimedwait(&set, NULL, &ts);
            if (sig < 0)
                continue; /* EAGAIN: a check is due; EINTR */
        }
        if (sig == SIGHUP) {
            log_info("SIGHUP ignored: restart berthd to apply configuration changes");
            continue;
        }
        break;
    }
    log_info("received %s, stopping", strsignal(sig));
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
    __atomic_store_n(&d.app.stopping, true, __ATOMIC_RELEASE); /* Health: NOT_SERVING */
    berth_server_shutdown(d.srv);
    berth_events_close(d.events); /* ends Subscribe streams now rather than after the grace */
    berth_puller_stop(d.puller);  /* and pulls, detached ones included */
    berth_server_wait(d.srv);
    code = 0;

out:
    if (err)
        log_error("%s", err->msg);
    berthd_teardown(&d);
    if (code == 0)
        log_info("stopped");
    return code;
}
