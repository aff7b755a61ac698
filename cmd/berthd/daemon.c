/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthd's life cycle. Signals are blocked before any thread exists (grpc threads inherit the
 * mask) and taken synchronously with sigwait on the main thread. The root is guarded by an
 * flock so two daemons never share a store, and a live socket is never stolen.
 */
#define BERTH_LOG_SUBSYS "berthd"

#include "cmd/berthd/daemon.h"

#include <dirent.h> /* start-up removal of snapshot temp dirs */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "images/import.h"
#include "lib/log.h"
#include "lib/util.h"
#include "metadata/db.h"
#include "metadata/gc_scheduler.h"
#include "services/services.h"
#include "runtime/v2/runtime.h"

static int mkdir_p(const char *path, mode_t mode, struct berth_err **err)
{
    _cleanup_free_ char *p = berth_xstrdup(path);

    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "create directory \"%s\"", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "create directory \"%s\"", p);
    return 0;
}

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
static void forward_event_cb(void *arg, const Containerd__Types__Envelope *env)
{
    berth_events_forward(arg, env);
}

static int prepare_dirs(const struct berthd_config *cfg, struct berth_err **err)
{
    _cleanup_free_ char *sockdir = berth_xstrdup(socket_file(cfg->address));
    char *slash = strrchr(sockdir, '/');

    if (mkdir_p(cfg->root, 0711, err) < 0 || mkdir_p(cfg->state, 0711, err) < 0)
        return -1;
    if (slash && slash != sockdir) {
        *slash = '\0';
        if (mkdir_p(sockdir, 0711, err) < 0)
            return -1;
    }
    return 0;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
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
            if (!berth_str_has_prefix(de->d_name, "new-"))
                continue;
            path = berth_strdup_printf("%s/%s", dir, de->d_name);
            if (nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS) < 0)
                log_warn_errno(errno, "remove leftover \"%s\"", path);
            else
                log_info("removed leftover \"%s\"", path);
        }
        closedir(d);
    }
}

int berthd_run(const struct berthd_config *cfg)
{
    _cleanup_err_ struct berth_err *err = NULL;
    _cleanup_close_ int lock_fd = -1;
    _cleanup_free_ char *metadir = NULL, *contentdir = NULL;
    struct berth_meta_db *db = NULL;
    struct berth_content_store *content = NULL;
    struct berth_snap_registry *snaps = NULL;
    struct berth_server *srv = NULL;
    struct berth_events *events = NULL;
    struct berth_rt *rt = NULL;
    struct berth_rt_opts ropts = {0};
    struct berth_gc_scheduler *gc = NULL;
    struct berth_snapshotter *gc_snaps[2];
    struct berth_gc_backends gc_be = {0};
    struct berth_gc_sched_opts gc_opts;
    struct berth_meta_opts mopts = {0};
    struct berth_server_opts sopts = {0};
    struct berth_services app = {0};
    const struct berth_service *const *svcs;
    size_t n_svcs = berth_services_all(&svcs);
    sigset_t set;
    int sig, code = 1;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (prepare_dirs(cfg, &err) < 0 || lock_root(cfg->root, &lock_fd, &err) < 0 ||
        check_socket_free(socket_file(cfg->address), &err) < 0)
        goto out;

    metadir = berth_strdup_printf("%s/metadata", cfg->root);
    mopts.map_size = (size_t)cfg->map_size_mb << 20;
    mopts.max_batch = (size_t)cfg->max_batch;
    if (berth_meta_db_open(metadir, &mopts, &db, &err) < 0)
        goto out;
    contentdir = berth_strdup_printf("%s/content", cfg->root);
    if (berth_content_store_open(contentdir, &content, &err) < 0)
        goto out;
    app.db = db;
    app.content = content;
    {
        size_t released = 0;
        if (berth_image_leases_release_stale(db, &released, &err) < 0)
            goto out;
        if (released)
            log_info("released %zu lease(s) of imports a previous berthd did not finish", released);
    }
    remove_snapshot_temp_dirs(cfg->root);
    if (berth_snap_registry_open(cfg->root, &snaps, &err) < 0)
        goto out;
    app.snapshotters = snaps;
    if (berth_snap_registry_init_err(snaps, BERTH_SNAP_DEFAULT))
        log_warn("snapshotter %s not loaded: %s", BERTH_SNAP_DEFAULT,
                 berth_snap_registry_init_err(snaps, BERTH_SNAP_DEFAULT)->msg);
    app.root = cfg->root;
    app.state = cfg->state;
    app.events = events = berth_events_new();
    ropts.state = cfg->state;
    ropts.address = socket_file(cfg->address);
    ropts.default_runtime = cfg->default_runtime;
    ropts.oci_binary = cfg->runtime_binary;
    ropts.on_event = forward_event_cb;
    ropts.event_arg = events;
    if (berth_rt_new(&ropts, &rt, &err) < 0 || berth_rt_start(rt, &err) < 0)
        goto out;
    app.runtime = rt;

    /* GC: its first pass (startup_delay_ms) also frees what a crash left half-made: backend
     * snapshots and blobs no record names, ingests without a record (docs/gc.md). */
    gc_be.content = content;
    gc_be.snapshotters = gc_snaps;
    for (size_t i = 0; i < 2; i++) {
        static const char *const names[] = {"overlayfs", "native"};
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_snap_registry_get(snaps, names[i], &gc_snaps[gc_be.n_snapshotters], &e) == 0)
            gc_be.n_snapshotters++;
    }
    gc_opts.pause_threshold = cfg->gc_pause_threshold;
    gc_opts.deletion_threshold = cfg->gc_deletion_threshold;
    gc_opts.mutation_threshold = cfg->gc_mutation_threshold;
    gc_opts.schedule_delay_ms = cfg->gc_schedule_delay_ms;
    gc_opts.startup_delay_ms = cfg->gc_startup_delay_ms;
    if (berth_gc_scheduler_start(db, &gc_be, &gc_opts, &gc, &err) < 0)
        goto out;
    app.gc = gc;

    sopts.address = cfg->address;
    sopts.cq_threads = (unsigned)cfg->cq_threads;
    sopts.worker_threads = (unsigned)cfg->worker_threads;
    sopts.grace_ms = cfg->grace_ms ? cfg->grace_ms : 1;
    sopts.socket_gid = cfg->gid < 0 ? (unsigned)-1 : (unsigned)cfg->gid;
    if (berth_server_new(&sopts, svcs, n_svcs, &app, &srv, &err) < 0 ||
        berth_server_start(srv, &err) < 0)
        goto out;

    log_info("serving root=%s state=%s address=%s uuid=%s pid=%d", cfg->root, cfg->state,
             socket_file(cfg->address), berth_meta_db_uuid(db), (int)getpid());
    sd_notifyf(0, "READY=1\nSTATUS=serving on %s\nMAINPID=%d", socket_file(cfg->address),
               (int)getpid());

    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("SIGHUP ignored: restart berthd to apply configuration changes");
            continue;
        }
        break;
    }
    log_info("received %s, stopping", strsignal(sig));
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
    berth_server_shutdown(srv);
    berth_events_close(events); /* ends Subscribe streams now rather than after the grace */
    berth_server_wait(srv);
    code = 0;

out:
    if (err)
        log_error("%s", err->msg);
    berth_server_free(srv);
    berth_gc_scheduler_stop(gc); /* no calls left: nothing writes any more */
    berth_rt_free(rt);           /* shims keep running; a restart reattaches */
    berth_events_free(events);
    berth_content_store_close(content);
    berth_snap_registry_close(snaps);
    berth_meta_db_close(db);
    if (code == 0)
        log_info("stopped");
    return code;
}
