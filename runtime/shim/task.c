/* SPDX-License-Identifier: Apache-2.0 */
/* containerd.task.v2.Task handlers: decode (done by the ttrpc server) -> check the process
 * table -> run the OCI runtime -> answer and publish the task event. Wait is the one call
 * answered later (deferred until the loop reaps the process). */
#define BERTH_LOG_SUBSYS "shim.task"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h> /* TIOCSWINSZ */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "api/events/task.pb-c.h"
#include "api/runtime/runc/options/oci.pb-c.h"
#include "api/runtime/task/v2/shim.pb-c.h"
#include "api/timestamp.h"
#include "lib/log.h"
#include "runtime/shim/shim-internal.h"
#include "runtime/shim/shim.h"
#include "snapshots/snapshotter.h" /* berth_mount_all / berth_unmount */

#define TASK_PREFIX(x) Containerd__Task__V2__##x

static struct shim *S(struct berth_ttrpc_ctx *ctx)
{
    return ctx->app;
}

/* The init process (exec_id empty) or an exec of the shim's task. NOT_FOUND otherwise. */
static int lookup(struct shim *s, const char *id, const char *exec_id, struct shim_proc **out,
                  struct berth_err **err)
{
    struct shim_proc *p;

    if (strcmp(id, s->id) != 0 || !shim_init(s))
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "task \"%s\" not found", id);
    p = shim_proc_find(s, exec_id);
    if (!p)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "process \"%s\" not found", exec_id);
    *out = p;
    return 0;
}

static struct shim_proc *proc_new(const char *exec_id, const char *in, const char *out,
                                  const char *errp, bool terminal)
{
    struct shim_proc *p = berth_xcalloc(1, sizeof(*p));

    p->exec_id = exec_id && *exec_id ? berth_xstrdup(exec_id) : NULL;
    p->stdin_uri = berth_xstrdup(in ? in : "");
    p->stdout_uri = berth_xstrdup(out ? out : "");
    p->stderr_uri = berth_xstrdup(errp ? errp : "");
    p->terminal = terminal;
    p->in_fifo = (struct shim_fd){.kind = FD_STDIN, .fd = -1};
    p->console = (struct shim_fd){.kind = FD_CONSOLE, .fd = -1};
    p->log_out = (struct shim_fd){.kind = FD_LOG_OUT, .fd = -1};
    p->log_err = (struct shim_fd){.kind = FD_LOG_ERR, .fd = -1};
    p->in_pipe = (struct shim_fd){.kind = FD_STDIN_PIPE, .fd = -1};
    p->console_out = (struct shim_fd){.kind = FD_CONSOLE_OUT, .fd = -1};
    return p;
}

static void proc_unlink(struct shim *s, struct shim_proc *p)
{
    for (struct shim_proc **pp = &s->procs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    shim_log_drain(s, p);
    shim_unwatch(s, &p->in_fifo);
    shim_unwatch(s, &p->in_pipe);
    shim_unwatch(s, &p->console);
    shim_unwatch(s, &p->console_out);
    shim_unwatch(s, &p->log_out);
    shim_unwatch(s, &p->log_err);
    shim_proc_free(p);
}

static int read_pid(const char *path, pid_t *pid, struct berth_err **err)
{
    char buf[32] = {0};
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0 || (*pid = atoi(buf)) <= 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "read pid file \"%s\"", path);
    return 0;
}

/* A listening console socket next to the shim socket; runc connects and sends the master. */
static int console_socket(struct shim *s, char *path, size_t len, int *fd, struct berth_err **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    static unsigned seq;

    if (snprintf(path, len, "%s.c%u", s->socket_path, seq++) >= (int)sizeof(sa.sun_path))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "console socket path too long");
    strcpy(sa.sun_path, path);
    unlink(path);
    *fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*fd < 0 || bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(*fd, 1) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "console socket \"%s\"", path);
    return 0;
}

static void close_fds(int fds[3])
{
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static int apply_options(struct shim *s, const Google__Protobuf__Any *any, struct berth_err **err)
{
    Containerd__Runc__V1__Options *o;
    const char *env = getenv("BERTH_SHIM_RUNTIME");

    if (env && *env) {
        free(s->runtime);
        s->runtime = berth_xstrdup(env);
    }
    if (!any || !any->value.len)
        return 0;
    if (strcmp(any->type_url, "containerd.runc.v1.Options") != 0 &&
        !berth_str_has_prefix(any->type_url, "type.googleapis.com/containerd.runc.v1.Options"))
        return 0; /* other runtimes' options: nothing for us */
    o = containerd__runc__v1__options__unpack(NULL, any->value.len, any->value.data);
    if (!o)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "decode containerd.runc.v1.Options");
    if (o->binary_name && *o->binary_name) {
        free(s->runtime);
        s->runtime = berth_xstrdup(o->binary_name);
    }
    if (o->root && *o->root) {
        free(s->runc_root);
        s->runc_root = berth_strdup_printf("%s/%s", o->root, s->ns);
    }
    containerd__runc__v1__options__free_unpacked(o, NULL);
    return 0;
}

/* The Create options as given (a packed Any) live in the bundle, so that `berth-shim delete`
 * after a crash drives the same runtime binary with the same root. */
#define OPTIONS_FILE "options.pb"
#define OPTIONS_MAX  (64 * 1024)

static int save_options(struct shim *s, const Google__Protobuf__Any *any, struct berth_err **err)
{
    _cleanup_free_ char *path = NULL;
    _cleanup_free_ uint8_t *buf = NULL;
    _cleanup_close_ int fd = -1;
    size_t len;

    if (!any || !any->value.len)
        return 0;
    path = berth_strdup_printf("%s/" OPTIONS_FILE, s->bundle);
    len = google__protobuf__any__get_packed_size(any);
    buf = berth_xmalloc(len);
    google__protobuf__any__pack(any, buf);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "create \"%s\"", path);
    if (berth_write_all(fd, buf, len) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "write \"%s\"", path);
    return 0;
}

int shim_load_options(struct shim *s, struct berth_err **err)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/" OPTIONS_FILE, s->bundle);
    _cleanup_free_ uint8_t *buf = NULL;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    Google__Protobuf__Any *any;
    ssize_t n;
    int ret;

    if (fd < 0)
        return errno == ENOENT ? 0
                               : berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s\"", path);
    buf = berth_xmalloc(OPTIONS_MAX);
    n = read(fd, buf, OPTIONS_MAX);
    if (n < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "read \"%s\"", path);
    any = google__protobuf__any__unpack(NULL, (size_t)n, buf);
    if (!any)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "malformed \"%s\"", path);
    ret = apply_options(s, any, err);
    google__protobuf__any__free_unpacked(any, NULL);
    return ret;
}

static int task_state(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(StateRequest) *req = (const void *)in;
    TASK_PREFIX(StateResponse) r = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    struct shim *s = S(ctx);
    struct shim_proc *p;

    if (lookup(s, req->id, req->exec_id, &p, err) < 0)
        return -1;
    r.id = (char *)s->id;
    r.bundle = s->bundle;
    r.pid = (uint32_t)p->pid;
    r.status = (Containerd__V1__Types__Status)p->status;
    r.stdin = p->stdin_uri;
    r.stdout = p->stdout_uri;
    r.stderr = p->stderr_uri;
    r.terminal = p->terminal;
    r.exec_id = p->exec_id ? p->exec_id : "";
    if (p->exited) {
        r.exit_status = p->exit_status;
        berth_pb_ts_set(&ts, p->exited_ns);
        r.exited_at = &ts;
    }
    berth_ttrpc_pack(out, &r.base);
    return 0;
}

/* Starts init (runc create) or an exec (runc exec --detach) with p's stdio. */
static int spawn(struct shim *s, struct shim_proc *p, struct berth_err **err)
{
    char pidfile[4096], csock[128];
    _cleanup_close_ int cfd = -1;
    int fds[3] = {-1, -1, -1}, ret;

    if (shim_stdio_open(s, p, fds, err) < 0) {
        close_fds(fds);
        return -1;
    }
    if (p->terminal && console_socket(s, csock, sizeof(csock), &cfd, err) < 0) {
        close_fds(fds);
        return -1;
    }
    if (!p->exec_id) {
        snprintf(pidfile, sizeof(pidfile), "%s/init.pid", s->bundle);
        if (p->terminal)
            ret = shim_runc(s, fds, NULL, err, "create", "--bundle", s->bundle, "--pid-file",
                            pidfile, "--console-socket", csock, s->id, NULL);
        else
            ret = shim_runc(s, fds, NULL, err, "create", "--bundle", s->bundle, "--pid-file",
                            pidfile, s->id, NULL);
    } else {
        snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", s->bundle, p->exec_id);
        if (p->terminal)
            ret = shim_runc(s, fds, NULL, err, "exec", "--process", p->spec_path, "--detach",
                            "--pid-file", pidfile, "--console-socket", csock, s->id, NULL);
        else
            ret = shim_runc(s, fds, NULL, err, "exec", "--process", p->spec_path, "--detach",
                            "--pid-file", pidfile, s->id, NULL);
    }
    close_fds(fds);
    if (ret == 0 && p->terminal)
        ret = shim_console_recv(s, p, cfd, err);
    if (p->terminal)
        unlink(csock);
    if (ret == 0)
        ret = read_pid(pidfile, &p->pid, err);
    if (p->exec_id)
        unlink(pidfile);
    if (ret < 0)
        shim_stdin_close(s, p);
    return ret;
}

/* A previous task of the same id may still be in its background `runc delete` (its shim
 * answers Delete first): give it up to 2 s to remove its runc state before `runc create`
 * (which would otherwise fail with "already exists" or share a dying cgroup). */
static void wait_runc_state_gone(struct shim *s)
{
    char path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", s->runc_root, s->id);
    for (int i = 0; i < 200 && stat(path, &st) == 0; i++)
        usleep(10000);
}

static int task_create(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                       struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(CreateTaskRequest) *req = (const void *)in;
    TASK_PREFIX(CreateTaskResponse) r = CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
    Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
    Containerd__Events__TaskIO tio = CONTAINERD__EVENTS__TASK_IO__INIT;
    struct shim *s = S(ctx);
    struct shim_proc *p;
    char rootfs[4096];

    if (strcmp(req->id, s->id) != 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "task \"%s\" does not belong to shim \"%s\"", req->id, s->id);
    if (shim_init(s))
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "task \"%s\" already exists", req->id);
    if (req->checkpoint && *req->checkpoint)
        return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0, "restore from checkpoint");
    if (apply_options(s, req->options, err) < 0 || save_options(s, req->options, err) < 0)
        return -1;
    snprintf(rootfs, sizeof(rootfs), "%s/rootfs", s->bundle);
    if (req->n_rootfs > 0) {
        _cleanup_free_ struct berth_mount *m = NULL;
        size_t n = req->n_rootfs;
        int ret;
        berth_mounts_from_pb(req->rootfs, n, &m);
        mkdir(rootfs, 0711);
        ret = berth_mount_all(m, n, rootfs, err);
        berth_mounts_free(steal_ptr(m), n);
        if (ret < 0)
            return berth_err_wrap(err, "mount rootfs");
        s->rootfs_mounted = true;
    }
    wait_runc_state_gone(s);
    p = proc_new(NULL, req->stdin, req->stdout, req->stderr, req->terminal);
    p->status = SHIM_CREATED;
    if (spawn(s, p, err) < 0) {
        _cleanup_err_ struct berth_err *e2 = NULL;
        shim_attach_close(s);
        shim_proc_free(p);
        if (s->rootfs_mounted && berth_unmount(rootfs, &e2) == 0)
            s->rootfs_mounted = false;
        return -1;
    }
    p->next = s->procs;
    s->procs = p;
    log_info("created task %s pid %d", s->id, (int)p->pid);

    ev.container_id = (char *)s->id;
    ev.bundle = s->bundle;
    ev.n_rootfs = req->n_rootfs;
    ev.rootfs = req->rootfs;
    tio.stdin = p->stdin_uri;
    tio.stdout = p->stdout_uri;
    tio.stderr = p->stderr_uri;
    tio.terminal = p->terminal;
    ev.io = &tio;
    ev.checkpoint = req->checkpoint;
    ev.pid = (uint32_t)p->pid;
    shim_events_publish(s, "/tasks/create", &ev.base);
    r.pid = (uint32_t)p->pid;
    berth_ttrpc_pack(out, &r.base);
    return 0;
}

/* True while the init process (our child: the shim is its subreaper) has not exited. */
static bool init_alive(pid_t pid)
{
    siginfo_t si = {0};

    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
}

/* Does what `runc start` (runc 1.1) does for a created container: read the exec FIFO that
 * the blocked `runc init` writes "0" to, until EOF (init execs the process, which closes its
 * side), then remove the FIFO. Returns 1 when the FIFO is missing (or the runtime is not
 * runc): the caller runs `<runtime> start`. Never blocks for long: the FIFO is opened
 * non-blocking (which lets init's blocking writer open complete) and polled while init lives. */
static int start_via_fifo(struct shim *s, pid_t pid, struct berth_err **err)
{
    const char *base = strrchr(s->runtime, '/');
    char path[4096], buf[64];
    _cleanup_close_ int fd = -1;
    size_t got = 0;

    if (strcmp(base ? base + 1 : s->runtime, "runc") != 0)
        return 1;
    snprintf(path, sizeof(path), "%s/%s/exec.fifo", s->runc_root, s->id);
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 1;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        /* 0 before any byte: no writer has opened the FIFO yet (init still blocked in open,
         * or dead); after data: init exec'd. */
        if (n == 0 && got > 0)
            break;
        if (n < 0 && errno != EAGAIN)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "read \"%s\"", path);
        if (!init_alive(pid))
            return berth_err_set(err, BERTH_E_INTERNAL, 0,
                                 "start task \"%s\": container process is already dead", s->id);
        if (poll(&pf, 1, 100) < 0 && errno != EINTR)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "poll \"%s\"", path);
        /* POLLHUP without data: a writer came and went without writing. */
        if ((pf.revents & POLLHUP) && !(pf.revents & POLLIN) && got == 0)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                 "task \"%s\" cannot be started (already running)", s->id);
    }
    unlink(path);
    return 0;
}

static int task_start(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(StartRequest) *req = (const void *)in;
    TASK_PREFIX(StartResponse) r = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
    struct shim *s = S(ctx);
    struct shim_proc *p;

    if (lookup(s, req->id, req->exec_id, &p, err) < 0)
        return -1;
    if (p->status != SHIM_CREATED)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "process \"%s\" cannot be started (already started)",
                             p->exec_id ? p->exec_id : s->id);
    if (!p->exec_id) {
        Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
        if (shim_init(s)->exited)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "task \"%s\" exited", s->id);
        int rc = start_via_fifo(s, p->pid, err);
        if (rc < 0 ||
            (rc > 0 && shim_runc(s, (int[3]){-1, -1, -1}, NULL, err, "start", s->id, NULL) < 0))
            return -1;
        p->status = SHIM_RUNNING;
        ev.container_id = (char *)s->id;
        ev.pid = (uint32_t)p->pid;
        shim_events_publish(s, "/tasks/start", &ev.base);
    } else {
        Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
        if (spawn(s, p, err) < 0)
            return -1;
        p->status = SHIM_RUNNING;
        ev.container_id = (char *)s->id;
        ev.exec_id = p->exec_id;
        ev.pid = (uint32_t)p->pid;
        shim_events_publish(s, "/tasks/exec-started", &ev.base);
    }
    r.pid = (uint32_t)p->pid;
    berth_ttrpc_pack(out, &r.base);
    return 0;
}

static int task_delete(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                       struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(DeleteRequest) *req = (const void *)in;
    TASK_PREFIX(DeleteResponse) r = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    struct shim *s = S(ctx);
    struct shim_proc *p;

    if (lookup(s, req->id, req->exec_id, &p, err) < 0)
        return -1;
    if (!p->exec_id) {
        Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
        char path[4096];
        /* A created-but-never-started init is killed by runc delete --force. */
        if (p->status != SHIM_CREATED && !p->exited)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                 "task \"%s\" must be stopped before deletion", s->id);
        bool all_exited = p->exited;
        for (struct shim_proc *q = s->procs; q; q = q->next)
            if (q != p && !q->exited && q->pid > 0) {
                kill(q->pid, SIGKILL);
                all_exited = false;
            }
        /* Every process is gone: answer once the rootfs is unmounted and let runc delete
         * (cgroup and state removal) run in the background; Shutdown waits for it. */
        if (!all_exited &&
            shim_runc(s, (int[3]){-1, -1, -1}, NULL, err, "delete", "--force", s->id, NULL) < 0)
            return -1;
        snprintf(path, sizeof(path), "%s/rootfs", s->bundle);
        if (s->rootfs_mounted) {
            if (berth_unmount(path, err) < 0)
                return -1;
            s->rootfs_mounted = false;
        }
        if (all_exited &&
            shim_runc_spawn(s, &s->bg_delete, err, "delete", "--force", s->id, NULL) < 0) {
            log_warn("%s", (*err)->msg);
            berth_err_free(err);
            s->bg_delete = 0;
            if (shim_runc(s, (int[3]){-1, -1, -1}, NULL, err, "delete", "--force", s->id, NULL) < 0)
                return -1;
        }
        if (!p->exited) {
            p->exited = true;
            p->exit_status = 128 + SIGKILL;
            p->exited_ns = berth_now_ns();
        }
        snprintf(path, sizeof(path), "%s/exit", s->bundle);
        unlink(path);
        ev.container_id = (char *)s->id;
        ev.pid = (uint32_t)p->pid;
        ev.exit_status = p->exit_status;
        berth_pb_ts_set(&ts, p->exited_ns);
        ev.exited_at = &ts;
        shim_events_publish(s, "/tasks/delete", &ev.base);
    } else if (!p->exited && p->status != SHIM_CREATED) {
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "process \"%s\" must be stopped before deletion", p->exec_id);
    }
    r.pid = (uint32_t)p->pid;
    r.exit_status = p->exit_status;
    berth_pb_ts_set(&ts, p->exited_ns ? p->exited_ns : berth_now_ns());
    r.exited_at = &ts;
    berth_ttrpc_pack(out, &r.base);
    if (!p->exec_id) {
        /* Everything goes with the init process, its attach socket too. */
        while (s->procs)
            proc_unlink(s, s->procs);
        shim_attach_close(s);
    } else {
        proc_unlink(s, p);
    }
    return 0;
}

static int task_pids(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                     struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(PidsRequest) *req = (const void *)in;
    TASK_PREFIX(PidsResponse) r = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
    _cleanup_free_ Containerd__V1__Types__ProcessInfo *infos = NULL;
    _cleanup_free_ Containerd__V1__Types__ProcessInfo **ptrs = NULL;
    _cleanup_free_ uint32_t *pids = NULL;
    struct shim *s = S(ctx);
    struct shim_proc *p;
    size_t n = 0;

    if (lookup(s, req->id, "", &p, err) < 0)
        return -1;
    if (!p->exited && shim_cgroup_pids(p->pid, &pids, &n, err) < 0)
        return -1;
    infos = berth_xcalloc(n + 1, sizeof(*infos));
    ptrs = berth_xcalloc(n + 1, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        containerd__v1__types__process_info__init(&infos[i]);
        infos[i].pid = pids[i];
        ptrs[i] = &infos[i];
    }
    r.n_processes = n;
    r.processes = ptrs;
    berth_ttrpc_pack(out, &r.base);
    return 0;
}

static int pause_resume(struct berth_ttrpc_ctx *ctx, const char *id, bool pause,
                        struct berth_err **err)
{
    struct shim *s = S(ctx);
    struct shim_proc *p;

    if (lookup(s, id, "", &p, err) < 0)
        return -1;
    if (p->status != (pause ? SHIM_RUNNING : SHIM_PAUSED) || p->exited)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "task \"%s\" is not %s", id,
                             pause ? "running" : "paused");
    if (shim_runc(s, (int[3]){-1, -1, -1}, NULL, err, pause ? "pause" : "resume", s->id, NULL) < 0)
        return -1;
    p->status = pause ? SHIM_PAUSED : SHIM_RUNNING;
    if (pause) {
        Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
        ev.container_id = (char *)s->id;
        shim_events_publish(s, "/tasks/paused", &ev.base);
    } else {
        Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;
        ev.container_id = (char *)s->id;
        shim_events_publish(s, "/tasks/resumed", &ev.base);
    }
    return 0;
}

static int task_pause(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    return pause_resume(ctx, ((const TASK_PREFIX(PauseRequest) *)(const void *)in)->id, true, err);
}

static int task_resume(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                       struct berth_bytes *out, struct berth_err **err)
{
    return pause_resume(ctx, ((const TASK_PREFIX(ResumeRequest) *)(const void *)in)->id, false,
                        err);
}

static int task_checkpoint(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                           struct berth_bytes *out, struct berth_err **err)
{
    return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0, "checkpoint is not supported");
}

static int task_kill(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                     struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(KillRequest) *req = (const void *)in;
    struct shim *s = S(ctx);
    struct shim_proc *p;
    char sig[16];

    if (lookup(s, req->id, req->exec_id, &p, err) < 0)
        return -1;
    if (req->signal == 0 || req->signal >= 65)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid signal %u", req->signal);
    if (p->exited && !req->all)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "process already finished");
    if (p->exec_id) {
        if (p->pid <= 0)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "process \"%s\" not started",
                                 p->exec_id);
        if (kill(p->pid, (int)req->signal) < 0)
            return berth_err_set(err, errno == ESRCH ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                                 "kill process \"%s\"", p->exec_id);
        return 0;
    }
    snprintf(sig, sizeof(sig), "%u", req->signal);
    if (req->all)
        return shim_runc(s, (int[3]){-1, -1, -1}, NULL, err, "kill", "--all", s->id, sig, NULL);
    return shim_runc(s, (int[3]){-1, -1, -1}, NULL, err, "kill", s->id, sig, NULL);
}

static int task_exec(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                     struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(ExecProcessRequest) *req = (const void *)in;
    Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
    struct shim *s = S(ctx);
    struct shim_proc *init, *p;
    _cleanup_close_ int fd = -1;
    enum berth_shim_io_kind k;
    const char *path;
    char spec[4096];

    if (lookup(s, req->id, "", &init, err) < 0)
        return -1;
    if (!req->exec_id || !*req->exec_id || strchr(req->exec_id, '/'))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid exec id \"%s\"",
                             req->exec_id ? req->exec_id : "");
    if (shim_proc_find(s, req->exec_id))
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "id %s: already exists", req->exec_id);
    if (init->exited)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "task \"%s\" has exited", s->id);
    if (!req->spec || !req->spec->value.len)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "exec \"%s\" has no process spec",
                             req->exec_id);
    for (int i = 0; i < 3; i++) {
        const char *uri = i == 0 ? req->stdin : i == 1 ? req->stdout : req->stderr;
        if (berth_shim_io_parse(uri, &k, &path, err) < 0)
            return -1;
        /* CRI exec output goes back to the caller, never into the container's log. */
        if (k == BERTH_SHIM_IO_CRILOG)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "exec \"%s\": a CRI log is only for the init process",
                                 req->exec_id);
        /* CRI exec has its own stdin FIFO; attach joins the init process only. */
        if (k == BERTH_SHIM_IO_ATTACH)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "exec \"%s\": \"%s\" is only for the init process's stdin",
                                 req->exec_id, uri);
    }
    snprintf(spec, sizeof(spec), "%s/exec-%s.json", s->bundle, req->exec_id);
    fd = open(spec, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 ||
        write(fd, req->spec->value.data, req->spec->value.len) != (ssize_t)req->spec->value.len)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "write \"%s\"", spec);
    p = proc_new(req->exec_id, req->stdin, req->stdout, req->stderr, req->terminal);
    p->spec_path = berth_xstrdup(spec);
    p->status = SHIM_CREATED;
    p->next = init->next; /* init stays first */
    init->next = p;
    ev.container_id = (char *)s->id;
    ev.exec_id = p->exec_id;
    shim_events_publish(s, "/tasks/exec-added", &ev.base);
    return 0;
}

static int task_resize_pty(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                           struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(ResizePtyRequest) *req = (const void *)in;
    struct winsize ws = {.ws_row = (unsigned short)req->height,
                         .ws_col = (unsigned short)req->width};
    struct shim_proc *p;

    if (lookup(S(ctx), req->id, req->exec_id, &p, err) < 0)
        return -1;
    if (p->console.fd < 0)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "process has no terminal");
    if (ioctl(p->console.fd, TIOCSWINSZ, &ws) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "resize terminal");
    return 0;
}

static int task_close_io(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(CloseIORequest) *req = (const void *)in;
    struct shim_proc *p;

    if (lookup(S(ctx), req->id, req->exec_id, &p, err) < 0)
        return -1;
    if (req->stdin)
        shim_stdin_close(S(ctx), p);
    return 0;
}

/* True when the Update carries BERTH_SHIM_CRILOG_REOPEN_ANNOTATION = "1". */
static bool wants_log_reopen(const TASK_PREFIX(UpdateTaskRequest) * req)
{
    for (size_t i = 0; i < req->n_annotations; i++)
        if (req->annotations[i]->key &&
            !strcmp(req->annotations[i]->key, BERTH_SHIM_CRILOG_REOPEN_ANNOTATION))
            return req->annotations[i]->value && !strcmp(req->annotations[i]->value, "1");
    return false;
}

/* Resources go to `runc update`; the log-reopen annotation (berthd's ReopenContainerLog,
 * usually without resources) reopens the init process's CRI log first. */
static int task_update(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                       struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(UpdateTaskRequest) *req = (const void *)in;
    struct shim *s = S(ctx);
    struct shim_proc *p;
    _cleanup_close_ int fd = -1;
    char path[4096];
    bool reopen = wants_log_reopen(req);
    int ret;

    if (lookup(s, req->id, "", &p, err) < 0)
        return -1;
    if (reopen && shim_log_reopen(s, p, err) < 0)
        return berth_err_wrap(err, "reopen log of task \"%s\"", s->id);
    if (!req->resources || !req->resources->value.len) {
        if (reopen)
            return 0;
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "update without resources");
    }
    snprintf(path, sizeof(path), "%s/update.json", s->bundle);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, req->resources->value.data, req->resources->value.len) !=
                      (ssize_t)req->resources->value.len)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "write \"%s\"", path);
    ret = shim_runc(s, (int[3]){-1, -1, -1}, NULL, err, "update", "--resources", path, s->id, NULL);
    unlink(path);
    return ret;
}

static void pack_wait(struct shim_proc *p, struct berth_bytes *out)
{
    TASK_PREFIX(WaitResponse) r = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

    r.exit_status = p->exit_status;
    berth_pb_ts_set(&ts, p->exited_ns);
    r.exited_at = &ts;
    berth_ttrpc_pack(out, &r.base);
}

static int task_wait(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                     struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(WaitRequest) *req = (const void *)in;
    struct shim_proc *p;

    if (lookup(S(ctx), req->id, req->exec_id, &p, err) < 0)
        return -1;
    if (p->exited) {
        pack_wait(p, out);
        return 0;
    }
    p->waiters = berth_xrealloc(p->waiters, (p->n_waiters + 1) * sizeof(*p->waiters));
    p->waiters[p->n_waiters++] = berth_ttrpc_ctx_defer(ctx);
    return 0;
}

void shim_proc_exited(struct shim *s, struct shim_proc *p)
{
    Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    struct berth_bytes b = {0};

    log_info("process %s pid %d exited with %u", p->exec_id ? p->exec_id : s->id, (int)p->pid,
             p->exit_status);
    if (!p->exec_id) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_shim_exit_write(s->bundle, p->exit_status, p->exited_ns, &e) < 0)
            log_warn("%s", e->msg);
    }
    ev.container_id = (char *)s->id;
    ev.id = p->exec_id ? p->exec_id : (char *)s->id;
    ev.pid = (uint32_t)p->pid;
    ev.exit_status = p->exit_status;
    berth_pb_ts_set(&ts, p->exited_ns);
    ev.exited_at = &ts;
    shim_events_publish(s, "/tasks/exit", &ev.base);
    pack_wait(p, &b);
    for (size_t i = 0; i < p->n_waiters; i++)
        berth_ttrpc_pending_reply(p->waiters[i], b.data, b.len, NULL);
    p->n_waiters = 0;
    berth_bytes_clear(&b);
}

static int task_stats(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const TASK_PREFIX(StatsRequest) *req = (const void *)in;
    TASK_PREFIX(StatsResponse) r = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    struct berth_bytes value = {0};
    const char *type_url = NULL;
    struct shim_proc *p;

    if (lookup(S(ctx), req->id, "", &p, err) < 0)
        return -1;
    if (p->exited)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "task \"%s\" has exited", req->id);
    if (shim_cgroup_stats(p->pid, &value, &type_url, err) < 0)
        return -1;
    any.type_url = (char *)type_url;
    any.value.data = value.data;
    any.value.len = value.len;
    r.stats = &any;
    berth_ttrpc_pack(out, &r.base);
    berth_bytes_clear(&value);
    return 0;
}

static int task_connect(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    TASK_PREFIX(ConnectResponse) r = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
    struct shim_proc *init = shim_init(S(ctx));

    r.shim_pid = (uint32_t)getpid();
    r.task_pid = init ? (uint32_t)init->pid : 0;
    r.version = "berth-shim " BERTH_VERSION;
    berth_ttrpc_pack(out, &r.base);
    return 0;
}

static int task_shutdown(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    struct shim *s = S(ctx);

    /* Like containerd's shim: stay while a task is left (the daemon deletes it first). */
    if (shim_init(s))
        return 0;
    s->shutdown = true;
    return 0;
}

#define M(name, type, fn)                                                                          \
    {                                                                                              \
        name, &containerd__task__v2__##type##__descriptor, fn                                      \
    }
static const struct berth_ttrpc_method methods[] = {
    M("State", state_request, task_state),
    M("Create", create_task_request, task_create),
    M("Start", start_request, task_start),
    M("Delete", delete_request, task_delete),
    M("Pids", pids_request, task_pids),
    M("Pause", pause_request, task_pause),
    M("Resume", resume_request, task_resume),
    M("Checkpoint", checkpoint_task_request, task_checkpoint),
    M("Kill", kill_request, task_kill),
    M("Exec", exec_process_request, task_exec),
    M("ResizePty", resize_pty_request, task_resize_pty),
    M("CloseIO", close_iorequest, task_close_io),
    M("Update", update_task_request, task_update),
    M("Wait", wait_request, task_wait),
    M("Stats", stats_request, task_stats),
    M("Connect", connect_request, task_connect),
    M("Shutdown", shutdown_request, task_shutdown),
};
const struct berth_ttrpc_service shim_task_service = {"containerd.task.v2.Task", methods,
                                                      BERTH_N(methods)};
