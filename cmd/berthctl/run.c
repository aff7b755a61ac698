/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl run: ctr run's client-side flow. Image record -> manifest -> config (the image walk
 * over Content.Read), Snapshots.Prepare(ID, top chain ID), an OCI spec from runtime/oci,
 * Containers.Create, then Tasks.Create with FIFOs berthctl copies to and from its own
 * terminal, Start, Wait; the exit status becomes berthctl's. Shared task I/O helpers live here too
 * (tasks.c uses them).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "api/runtime/runc/options/oci.pb-c.h"
#include "api/services/containers/v1/containers.pb-c.h"
#include "api/services/leases/v1/leases.pb-c.h"
#include "api/services/snapshots/v1/snapshots.pb-c.h"
#include "api/services/tasks/v1/tasks.pb-c.h"
#include "cmd/berthctl/berthctl-internal.h"
#include "cmd/berthctl/run-internal.h"
#include "google/protobuf/empty.pb-c.h"
#include "images/walk.h"
#include "runtime/oci/spec.h"
#include "snapshots/snapshotter.h"

#define T_SVC    "/containerd.services.tasks.v1.Tasks/"
#define SPEC_URL "types.containerd.io/opencontainers/runtime-spec/1/Spec"

/* ---- FIFO I/O ---- */

void berthctl_io_init(struct berthctl_io *io)
{
    memset(io, 0, sizeof(*io));
    io->in_fd = io->out_fd = io->err_fd = -1;
    io->wake[0] = io->wake[1] = -1;
}

int berthctl_io_create(struct berthctl_io *io, const char *id, bool tty, struct berth_err **err)
{
    char rnd[17];
    unsigned char raw[8];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd < 0 || read(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw)) {
        if (fd >= 0)
            close(fd);
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "read /dev/urandom");
    }
    close(fd);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(rnd + 2 * i, 3, "%02x", raw[i]);
    io->tty = tty;
    mkdir("/run/berth", 0711);
    mkdir(BERTHCTL_FIFO_ROOT, 0700);
    io->dir = berth_strdup_printf(BERTHCTL_FIFO_ROOT "/%s", rnd);
    if (mkdir(io->dir, 0700) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "create \"%s\"", io->dir);
    io->stdin_path = berth_strdup_printf("%s/%s-stdin", io->dir, id);
    io->stdout_path = berth_strdup_printf("%s/%s-stdout", io->dir, id);
    io->stderr_path = tty ? berth_xstrdup("") : berth_strdup_printf("%s/%s-stderr", io->dir, id);
    if (mkfifo(io->stdin_path, 0700) < 0 || mkfifo(io->stdout_path, 0700) < 0 ||
        (!tty && mkfifo(io->stderr_path, 0700) < 0))
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "create fifos in \"%s\"", io->dir);
    /* O_RDWR: opening never blocks and the shim finds a peer whenever it opens its side. */
    io->in_fd = open(io->stdin_path, O_RDWR | O_CLOEXEC);
    io->out_fd = open(io->stdout_path, O_RDWR | O_CLOEXEC);
    if (!tty)
        io->err_fd = open(io->stderr_path, O_RDWR | O_CLOEXEC);
    if (io->in_fd < 0 || io->out_fd < 0 || (!tty && io->err_fd < 0))
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open fifos in \"%s\"", io->dir);
    return 0;
}

/* Copies a non-blocking FIFO to its destination: waits in poll() for data or the wake pipe;
 * once woken, reads what is left until EAGAIN (the FIFO is ours O_RDWR, so it never reports
 * EOF) and stops. Nothing read is ever dropped. */
static void *copy_out(void *arg)
{
    struct berthctl_copier *c = arg;
    char buf[32768];
    bool woken = false;

    for (;;) {
        ssize_t r = read(c->src, buf, sizeof(buf));
        if (r > 0) {
            if (berth_write_all(c->dst, buf, (size_t)r) < 0)
                return NULL;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 || errno != EAGAIN || woken || c->wake < 0)
            return NULL;
        struct pollfd pf[2] = {{.fd = c->src, .events = POLLIN}, {.fd = c->wake, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            return NULL;
        /* The wake pipe is never read: it stays readable for every copier. */
        if (pf[1].revents)
            woken = true;
    }
}

static void *copy_in(void *arg)
{
    struct berthctl_io *io = arg;
    char buf[8192];

    for (;;) {
        ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (write(io->in_fd, buf, (size_t)r) < 0)
            break;
    }
    /* Our O_RDWR descriptor was the last writer: closing it gives the process EOF. */
    io->stdin_eof = true;
    close(steal_fd(io->in_fd));
    if (io->on_stdin_eof)
        io->on_stdin_eof(io->on_stdin_eof_arg);
    return NULL;
}

int berthctl_io_open(struct berthctl_io *io, const char *in, const char *out, const char *err_path,
                     bool tty, struct berth_err **err)
{
    io->tty = tty;
    io->stdin_path = berth_xstrdup(in ? in : "");
    io->stdout_path = berth_xstrdup(out ? out : "");
    io->stderr_path = berth_xstrdup(err_path ? err_path : "");
    /* The paths are the task's: io_clear must not unlink them. */
    if (*io->stdin_path) {
        /* Non-blocking open: ENXIO when the shim no longer reads stdin (a writer-only open
         * would otherwise block); the copies themselves block. */
        io->in_fd = open(io->stdin_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (io->in_fd >= 0)
            fcntl(io->in_fd, F_SETFL, 0);
        else if (errno != ENXIO)
            return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                                 "open stdin fifo \"%s\"", io->stdin_path);
    }
    if (*io->stdout_path && (io->out_fd = open(io->stdout_path, O_RDWR | O_CLOEXEC)) < 0)
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                             "open stdout fifo \"%s\"", io->stdout_path);
    if (*io->stderr_path && (io->err_fd = open(io->stderr_path, O_RDWR | O_CLOEXEC)) < 0)
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                             "open stderr fifo \"%s\"", io->stderr_path);
    return 0;
}

/* The holder: a writer on the stdin FIFO until its reader (the shim) is gone. Tells the
 * parent through ready once its writer is open. */
_Noreturn static void stdin_holder(const char *path, int ready)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    struct pollfd pf = {.fd = fd, .events = 0};

    setsid();
    if (write(ready, "", 1) < 0 || fd < 0)
        _exit(0);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    for (int i = 3; i < 1024; i++)
        if (i != fd)
            close(i);
    /* A write end reports POLLERR once no reader is left. */
    while (poll(&pf, 1, -1) >= 0 && !(pf.revents & (POLLERR | POLLHUP | POLLNVAL)))
        ;
    _exit(0);
}

int berthctl_io_detach(struct berthctl_io *io, struct berth_err **err)
{
    int ready[2];
    pid_t pid;
    char c;

    if (!io->stdin_path || !*io->stdin_path)
        goto close_fds;
    if (pipe2(ready, O_CLOEXEC) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "pipe");
    pid = fork();
    if (pid < 0) {
        close(ready[0]);
        close(ready[1]);
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "fork stdin holder");
    }
    if (pid == 0) {
        /* Double fork: the holder is nobody's zombie. */
        berthctl_signals_child();
        close(ready[0]);
        if (fork() == 0)
            stdin_holder(io->stdin_path, ready[1]);
        _exit(0);
    }
    close(ready[1]);
    waitpid(pid, NULL, 0);
    /* Our O_RDWR writer may only go once the holder's is open (else the shim sees EOF). */
    while (read(ready[0], &c, 1) < 0 && errno == EINTR)
        ;
    close(ready[0]);
close_fds:
    /* The FIFOs now belong to the task. */
    berthctl_io_forget(io);
    return 0;
}

void berthctl_io_forget(struct berthctl_io *io)
{
    free(io->dir);
    free(io->stdin_path);
    free(io->stdout_path);
    free(io->stderr_path);
    io->dir = io->stdin_path = io->stdout_path = io->stderr_path = NULL;
    berthctl_io_clear(io);
}

void berthctl_io_start(struct berthctl_io *io)
{
    bool threads = pipe2(io->wake, O_CLOEXEC) == 0;

    io->c_out =
        (struct berthctl_copier){.src = io->out_fd, .dst = STDOUT_FILENO, .wake = io->wake[0]};
    io->c_err =
        (struct berthctl_copier){.src = io->err_fd, .dst = STDERR_FILENO, .wake = io->wake[0]};
    /* Our own read side kept the FIFO open; the shim holds the write side from now on.
     * Without a wake pipe (out of descriptors) the output is copied at io_finish only. */
    if (io->out_fd >= 0) {
        fcntl(io->out_fd, F_SETFL, O_NONBLOCK);
        if (threads)
            pthread_create(&io->t_out, NULL, copy_out, &io->c_out);
    }
    if (io->err_fd >= 0) {
        fcntl(io->err_fd, F_SETFL, O_NONBLOCK);
        if (threads)
            pthread_create(&io->t_err, NULL, copy_out, &io->c_err);
    }
    pthread_create(&io->t_in, NULL, copy_in, io);
    pthread_detach(io->t_in);
    io->started = true;
}

/* After the process exited (its output is all in the FIFOs by now: the process writes them
 * itself, the shim drains a terminal before reporting the exit): wake the copiers, which
 * drain without blocking and stop; join them. */
void berthctl_io_finish(struct berthctl_io *io)
{
    if (!io->started)
        return;
    if (io->wake[1] < 0) {
        /* No copier threads: wake is -1, so copy_out stops at the first EAGAIN. */
        if (io->out_fd >= 0)
            copy_out(&io->c_out);
        if (io->err_fd >= 0)
            copy_out(&io->c_err);
        io->started = false;
        return;
    }
    while (write(io->wake[1], "", 1) < 0 && errno == EINTR)
        ;
    if (io->out_fd >= 0)
        pthread_join(io->t_out, NULL);
    if (io->err_fd >= 0)
        pthread_join(io->t_err, NULL);
    close(io->wake[0]);
    close(io->wake[1]);
    io->wake[0] = io->wake[1] = -1;
    io->started = false;
}

void berthctl_io_clear(struct berthctl_io *io)
{
    if (io->in_fd >= 0)
        close(io->in_fd);
    if (io->out_fd >= 0)
        close(io->out_fd);
    if (io->err_fd >= 0)
        close(io->err_fd);
    if (io->stdin_path)
        unlink(io->stdin_path);
    if (io->stdout_path)
        unlink(io->stdout_path);
    if (io->stderr_path && *io->stderr_path)
        unlink(io->stderr_path);
    if (io->dir)
        rmdir(io->dir);
    free(io->dir);
    free(io->stdin_path);
    free(io->stdout_path);
    free(io->stderr_path);
    berthctl_io_init(io);
}

/* ---- terminal ---- */

bool berthctl_term_size(unsigned *width, unsigned *height)
{
    struct winsize ws;

    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0 || ws.ws_row == 0)
        return false;
    *width = ws.ws_col;
    *height = ws.ws_row;
    return true;
}

void berthctl_resize(struct berthctl *ctl, const char *id, const char *exec_id)
{
    Containerd__Services__Tasks__V1__ResizePtyRequest req =
        CONTAINERD__SERVICES__TASKS__V1__RESIZE_PTY_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    unsigned w, h;

    if (!berthctl_term_size(&w, &h))
        return;
    req.container_id = (char *)id;
    req.exec_id = (char *)(exec_id ? exec_id : "");
    req.width = w;
    req.height = h;
    berth_client_unary(ctl->client, T_SVC "ResizePty", &req.base,
                       &google__protobuf__empty__descriptor, &resp, &e);
}

/* ---- task calls ---- */

int berthctl_task_wait(struct berthctl *ctl, const char *id, const char *exec_id, uint32_t *status,
                       struct berth_err **err)
{
    Containerd__Services__Tasks__V1__WaitRequest req =
        CONTAINERD__SERVICES__TASKS__V1__WAIT_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;

    req.container_id = (char *)id;
    req.exec_id = (char *)(exec_id ? exec_id : "");
    berth_client_set_timeout(ctl->client, 0);
    if (berth_client_unary(ctl->client, T_SVC "Wait", &req.base,
                           &containerd__services__tasks__v1__wait_response__descriptor, &resp,
                           err) < 0)
        return -1;
    *status = ((Containerd__Services__Tasks__V1__WaitResponse *)resp)->exit_status;
    return 0;
}

int berthctl_task_simple(struct berthctl *ctl, const char *method, const ProtobufCMessage *req,
                         struct berth_err **err)
{
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    _cleanup_free_ char *path = berth_strdup_printf(T_SVC "%s", method);

    return berth_client_unary(ctl->client, path, req, &google__protobuf__empty__descriptor, &resp,
                              err);
}

int berthctl_task_start(struct berthctl *ctl, const char *id, const char *exec_id,
                        struct berth_err **err)
{
    Containerd__Services__Tasks__V1__StartRequest req =
        CONTAINERD__SERVICES__TASKS__V1__START_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;

    req.container_id = (char *)id;
    req.exec_id = (char *)(exec_id ? exec_id : "");
    return berth_client_unary(ctl->client, T_SVC "Start", &req.base,
                              &containerd__services__tasks__v1__start_response__descriptor, &resp,
                              err);
}

int berthctl_task_delete(struct berthctl *ctl, const char *id, struct berth_err **err)
{
    Containerd__Services__Tasks__V1__DeleteTaskRequest req =
        CONTAINERD__SERVICES__TASKS__V1__DELETE_TASK_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;

    req.container_id = (char *)id;
    return berth_client_unary(ctl->client, T_SVC "Delete", &req.base,
                              &containerd__services__tasks__v1__delete_response__descriptor, &resp,
                              err);
}

/* Creates the task of container id with io (NULL: no stdio). */
int berthctl_task_create(struct berthctl *ctl, const char *id, const struct berthctl_io *io,
                         struct berth_err **err)
{
    Containerd__Services__Tasks__V1__CreateTaskRequest req =
        CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;

    req.container_id = (char *)id;
    if (io) {
        req.stdin = io->stdin_path;
        req.stdout = io->stdout_path;
        req.stderr = io->stderr_path;
        req.terminal = io->tty;
    }
    return berth_client_unary(ctl->client, T_SVC "Create", &req.base,
                              &containerd__services__tasks__v1__create_task_response__descriptor,
                              &resp, err);
}

/* Runs the created task in the foreground: I/O, Start, Wait; returns its exit status. */
int berthctl_task_attach_run(struct berthctl *ctl, const char *id, const char *exec_id,
                             struct berthctl_io *io, uint32_t *status, struct berth_err **err)
{
    int ret;

    if (io->tty)
        berthctl_term_raw();
    berthctl_signals_follow(ctl, id, exec_id, io->tty);
    berthctl_io_start(io);
    /* An init process's console exists from Create: size it before the process runs (as ctr
     * does). An exec's console comes with its Start, so it is sized (again) after that. */
    if (io->tty && !exec_id)
        berthctl_resize(ctl, id, exec_id);
    ret = berthctl_task_start(ctl, id, exec_id, err);
    if (ret == 0) {
        if (io->tty)
            berthctl_resize(ctl, id, exec_id);
        ret = berthctl_task_wait(ctl, id, exec_id, status, err);
    }
    berthctl_signals_follow(NULL, NULL, NULL, false);
    berthctl_io_finish(io);
    berthctl_term_restore();
    return ret;
}

/* ---- run / containers create ---- */

void berthctl_run_opts_clear(struct berthctl_run_opts *o)
{
    free(o->env);
    free(o->mounts);
    memset(o, 0, sizeof(*o));
}

int berthctl_run_parse(struct berthctl *ctl, int argc, char **argv, bool run,
                       struct berthctl_run_opts *o, struct berth_err **err)
{
    static const struct option opts[] = {{"rm", no_argument, NULL, 'R'},
                                         {"tty", no_argument, NULL, 't'},
                                         {"detach", no_argument, NULL, 'd'},
                                         {"env", required_argument, NULL, 'e'},
                                         {"mount", required_argument, NULL, 'm'},
                                         {"net-host", no_argument, NULL, 'N'},
                                         {"runtime", required_argument, NULL, 'r'},
                                         {"cpus", required_argument, NULL, 'C'},
                                         {"memory-limit", required_argument, NULL, 'M'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"cwd", required_argument, NULL, 'w'},
                                         {"seccomp", no_argument, NULL, 'S'},
                                         {"privileged", no_argument, NULL, 'P'},
                                         {"snapshotter", required_argument, NULL, 's'},
                                         {"runc-binary", required_argument, NULL, 'B'},
                                         {0}};
    char *end;
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:tde:m:r:u:w:", opts, NULL)) != -1) {
        switch (c) {
        case 'R':
            o->rm = true;
            break;
        case 't':
            o->tty = true;
            break;
        case 'd':
            o->detach = true;
            break;
        case 'e':
            o->env = berth_xrealloc(o->env, (o->n_env + 2) * sizeof(char *));
            o->env[o->n_env++] = optarg;
            o->env[o->n_env] = NULL;
            break;
        case 'm':
            o->mounts = berth_xrealloc(o->mounts, (o->n_mounts + 2) * sizeof(char *));
            o->mounts[o->n_mounts++] = optarg;
            o->mounts[o->n_mounts] = NULL;
            break;
        case 'N':
            o->net_host = true;
            break;
        case 'r':
            o->runtime = optarg;
            break;
        case 'C':
            errno = 0;
            o->cpus = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o->cpus > 0 && o->cpus <= 1e6))
                return berthctl_usage(ctl, err, "--cpus \"%s\": want a number of CPUs above 0",
                                      optarg);
            break;
        case 'M':
            errno = 0;
            o->memory_limit = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end || o->memory_limit <= 0)
                return berthctl_usage(ctl, err, "--memory-limit \"%s\": want a byte count above 0",
                                      optarg);
            break;
        case 'B':
            if (!*optarg)
                return berthctl_usage(ctl, err, "--runc-binary needs a name or path");
            o->runc_binary = optarg;
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'w':
            o->cwd = optarg;
            break;
        case 'S':
            o->seccomp = true;
            break;
        case 'P':
            o->privileged = true;
            break;
        case 's':
            o->snapshotter = optarg;
            break;
        default:
            return berthctl_bad_option(ctl, c, argv, err);
        }
    }
    if (argc - optind < 2)
        return berthctl_usage(ctl, err, "%s needs IMAGE and ID", run ? "run" : "create");
    o->image = argv[optind];
    o->id = argv[optind + 1];
    o->args = (const char *const *)(argv + optind + 2);
    if (!*o->args)
        o->args = NULL;
    if (!o->snapshotter)
        o->snapshotter = "overlayfs";
    if (!o->runtime)
        o->runtime = "io.containerd.berth.v1";
    return 0;
}

static bool user_is_numeric(const char *u)
{
    for (; u && *u; u++)
        if ((*u < '0' || *u > '9') && *u != ':')
            return false;
    return true;
}

static void snapshot_remove(struct berthctl *ctl, const char *sn, const char *key)
{
    Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    req.snapshotter = (char *)sn;
    req.key = (char *)key;
    berth_client_unary(ctl->client, "/containerd.services.snapshots.v1.Snapshots/Remove", &req.base,
                       &google__protobuf__empty__descriptor, &resp, &e);
}

void berthctl_container_remove(struct berthctl *ctl, const char *sn, const char *id)
{
    Containerd__Services__Containers__V1__DeleteContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    snapshot_remove(ctl, sn, id);
    req.id = (char *)id;
    berth_client_unary(ctl->client, "/containerd.services.containers.v1.Containers/Delete",
                       &req.base, &google__protobuf__empty__descriptor, &resp, &e);
}

/* Spec for o: resolving a user name needs the rootfs, mounted on a temp dir for the call. */
static int build_spec(struct berthctl *ctl, const struct berthctl_run_opts *o,
                      const struct berth_image_config *img, Containerd__Types__Mount **pm,
                      size_t n_pm, char **json, struct berth_err **err)
{
    struct berth_oci_opts so = {0};
    const char *user = o->user ? o->user : img ? img->user : NULL;
    char tmp[] = "/tmp/berthctl-rootfs.XXXXXX";
    struct berth_mount *m = NULL;
    bool mounted = false;
    json_t *spec = NULL;
    int ret;

    (void)ctl;
    so.ns = ctl->ns;
    so.id = o->id;
    so.image = img;
    so.args = o->args;
    so.env = (const char *const *)o->env;
    so.cwd = o->cwd;
    so.user = o->user;
    so.mounts = (const char *const *)o->mounts;
    so.tty = o->tty;
    if (o->tty && !berthctl_term_size(&so.console_width, &so.console_height))
        so.console_width = so.console_height = 0;
    so.net_host = o->net_host;
    so.privileged = o->privileged;
    so.seccomp = o->seccomp;
    so.default_devices = true;
    so.cpus = o->cpus;
    so.memory_limit = o->memory_limit;
    if (user && *user && !user_is_numeric(user) && n_pm > 0) {
        if (!mkdtemp(tmp))
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "mkdtemp");
        berth_mounts_from_pb(pm, n_pm, &m);
        if (berth_mount_all(m, n_pm, tmp, err) < 0) {
            berth_mounts_free(m, n_pm);
            rmdir(tmp);
            return berth_err_wrap(err, "mount rootfs to resolve user \"%s\"", user);
        }
        mounted = true;
        so.rootfs_dir = tmp;
    }
    ret = berth_oci_spec_build(&so, &spec, err);
    if (mounted) {
        _cleanup_err_ struct berth_err *e = NULL;
        berth_unmount(tmp, &e);
        rmdir(tmp);
        berth_mounts_free(m, n_pm);
    }
    if (ret < 0)
        return -1;
    *json = berth_oci_spec_dump(spec);
    json_decref(spec);
    return 0;
}

/* A short-lived lease (gc.expire in 1 h, as ctr's default) so GC keeps the new snapshot until
 * the container record references it. */
static char *lease_begin(struct berthctl *ctl)
{
    Containerd__Services__Leases__V1__CreateRequest req =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
    Containerd__Services__Leases__V1__CreateRequest__LabelsEntry l =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__LABELS_ENTRY__INIT;
    Containerd__Services__Leases__V1__CreateRequest__LabelsEntry *lp = &l;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    char expire[64], id[64];
    time_t t = time(NULL) + 3600;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(expire, sizeof(expire), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(id, sizeof(id), "berthctl-%ld-%d", (long)time(NULL), (int)getpid());
    l.key = (char *)"containerd.io/gc.expire";
    l.value = expire;
    req.id = id;
    req.labels = &lp;
    req.n_labels = 1;
    if (berth_client_unary(ctl->client, "/containerd.services.leases.v1.Leases/Create", &req.base,
                           &containerd__services__leases__v1__create_response__descriptor, &resp,
                           &e) < 0)
        return NULL;
    berth_client_set_lease(ctl->client, id);
    return berth_xstrdup(id);
}

static void lease_end(struct berthctl *ctl, char *id)
{
    Containerd__Services__Leases__V1__DeleteRequest req =
        CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    if (!id)
        return;
    req.id = id;
    berth_client_unary(ctl->client, "/containerd.services.leases.v1.Leases/Delete", &req.base,
                       &google__protobuf__empty__descriptor, &resp, &e);
    berth_client_set_lease(ctl->client, NULL);
    free(id);
}

static int container_create(struct berthctl *ctl, const struct berthctl_run_opts *o,
                            struct berth_err **err);

/* Leases.Delete of run's lease, issued from a thread so that it overlaps Tasks.Create (the
 * client is safe for concurrent calls); joined before run returns. */
struct lease_end_async {
    struct berthctl *ctl;
    char *id;
    pthread_t t;
    bool running;
};

static void *lease_end_main(void *arg)
{
    struct lease_end_async *a = arg;

    lease_end(a->ctl, steal_ptr(a->id));
    return NULL;
}

static void lease_end_start(struct lease_end_async *a, struct berthctl *ctl, char *id)
{
    *a = (struct lease_end_async){.ctl = ctl, .id = id};
    if (!id)
        return;
    /* Later calls (Tasks.Create...) must not carry the lease that is going away. */
    berth_client_set_lease(ctl->client, NULL);
    if (pthread_create(&a->t, NULL, lease_end_main, a) == 0)
        a->running = true;
    else
        lease_end(ctl, steal_ptr(a->id));
}

static void lease_end_join(struct lease_end_async *a)
{
    if (a->running)
        pthread_join(a->t, NULL);
    a->running = false;
}

int berthctl_container_create(struct berthctl *ctl, const struct berthctl_run_opts *o,
                              struct berth_err **err)
{
    char *lease = lease_begin(ctl);
    int ret = container_create(ctl, o, err);

    lease_end(ctl, lease);
    return ret;
}

static int container_create(struct berthctl *ctl, const struct berthctl_run_opts *o,
                            struct berth_err **err)
{
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest prep =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
    Containerd__Services__Containers__V1__CreateContainerRequest creq =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    Containerd__Services__Containers__V1__Container c =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    Containerd__Services__Containers__V1__Container__Runtime rt =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    Google__Protobuf__Any spec_any = GOOGLE__PROTOBUF__ANY__INIT;
    Google__Protobuf__Any opts_any = GOOGLE__PROTOBUF__ANY__INIT;
    Containerd__Runc__V1__Options runc_opts = CONTAINERD__RUNC__V1__OPTIONS__INIT;
    _cleanup_free_ uint8_t *opts_buf = NULL;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *presp = NULL;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *cresp = NULL;
    _cleanup_(berth_image_walk_clear) struct berth_image_walk w = {0};
    _cleanup_free_ char *json = NULL;
    Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *pr;
    const char *top = NULL;

    if (berthctl_image_walk(ctl, o->image, NULL, &w, err) < 0)
        return -1;
    if (w.manifest->n_layers)
        top = w.chain_ids[w.manifest->n_layers - 1];
    prep.snapshotter = (char *)o->snapshotter;
    prep.key = (char *)o->id;
    prep.parent = (char *)(top ? top : "");
    if (berth_client_unary(
            ctl->client, "/containerd.services.snapshots.v1.Snapshots/Prepare", &prep.base,
            &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, &presp,
            err) < 0) {
        if ((*err)->code == BERTH_E_NOT_FOUND && top) {
            berth_err_free(err);
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0,
                                 "image \"%s\" is not unpacked in snapshotter \"%s\" (snapshot "
                                 "%s missing): import or unpack it first",
                                 o->image, o->snapshotter, top);
        }
        return berth_err_wrap(err, "prepare snapshot \"%s\"", o->id);
    }
    pr = (void *)presp;
    if (build_spec(ctl, o, w.config, pr->mounts, pr->n_mounts, &json, err) < 0) {
        snapshot_remove(ctl, o->snapshotter, o->id);
        return -1;
    }
    spec_any.type_url = (char *)SPEC_URL;
    spec_any.value.data = (uint8_t *)json;
    spec_any.value.len = strlen(json);
    rt.name = (char *)o->runtime;
    if (o->runc_binary) {
        /* the OCI runtime binary for runc.v2 and berth-shim alike (ctr's --runc-binary) */
        runc_opts.binary_name = (char *)o->runc_binary;
        opts_any.type_url = (char *)"containerd.runc.v1.Options";
        opts_any.value.len = containerd__runc__v1__options__get_packed_size(&runc_opts);
        opts_any.value.data = opts_buf = berth_xmalloc(opts_any.value.len);
        containerd__runc__v1__options__pack(&runc_opts, opts_buf);
        rt.options = &opts_any;
    } else if (strcmp(o->runtime, "io.containerd.runc.v2") == 0) {
        /* ctr always sends runc options, present with an empty value */
        opts_any.type_url = (char *)"containerd.runc.v1.Options";
        rt.options = &opts_any;
    }
    c.id = (char *)o->id;
    c.image = (char *)o->image;
    c.runtime = &rt;
    c.spec = &spec_any;
    c.snapshotter = (char *)o->snapshotter;
    c.snapshot_key = (char *)o->id;
    creq.container = &c;
    if (berth_client_unary(
            ctl->client, "/containerd.services.containers.v1.Containers/Create", &creq.base,
            &containerd__services__containers__v1__create_container_response__descriptor, &cresp,
            err) < 0) {
        snapshot_remove(ctl, o->snapshotter, o->id);
        return berth_err_wrap(err, "create container \"%s\"", o->id);
    }
    return 0;
}

static int run_main(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(berthctl_run_opts_clear) struct berthctl_run_opts o = {0};
    struct lease_end_async lease_end;
    struct berthctl_io io;
    uint32_t status = 0;
    char *lease;
    int ret;

    berthctl_io_init(&io);
    if (berthctl_run_parse(ctl, argc, argv, true, &o, err) < 0)
        return -1;
    /* As berthctl_container_create, but the lease goes while the task is being created. */
    lease = lease_begin(ctl);
    ret = container_create(ctl, &o, err);
    lease_end_start(&lease_end, ctl, lease);
    if (ret < 0) {
        lease_end_join(&lease_end);
        return -1;
    }
    if (o.detach) {
        /* FIFOs that outlive us, so `tasks attach` (or ctr t attach) can connect later. */
        if (berthctl_io_create(&io, o.id, o.tty, err) < 0 ||
            berthctl_task_create(ctl, o.id, &io, err) < 0 || berthctl_io_detach(&io, err) < 0 ||
            berthctl_task_start(ctl, o.id, NULL, err) < 0)
            goto fail;
        lease_end_join(&lease_end);
        return 0;
    }
    if (berthctl_io_create(&io, o.id, o.tty, err) < 0 ||
        berthctl_task_create(ctl, o.id, &io, err) < 0)
        goto fail;
    ret = berthctl_task_attach_run(ctl, o.id, NULL, &io, &status, err);
    berthctl_io_clear(&io);
    lease_end_join(&lease_end);
    if (ret < 0)
        return -1;
    if (o.rm) {
        _cleanup_err_ struct berth_err *e = NULL;
        berthctl_task_delete(ctl, o.id, &e);
        berthctl_container_remove(ctl, o.snapshotter, o.id);
    }
    ctl->exit_code = (int)status;
    return 0;
fail:
    berthctl_io_clear(&io);
    lease_end_join(&lease_end);
    if (o.rm) {
        _cleanup_err_ struct berth_err *e = NULL;
        berthctl_task_delete(ctl, o.id, &e);
        berthctl_container_remove(ctl, o.snapshotter, o.id);
    }
    return -1;
}

const struct berthctl_noun berthctl_run_noun = {
    "run", NULL, "run a container from an image",
    "berthctl run [--rm] [-t] [-d] [--env K=V]... [--mount type=bind,src=,dst=,options=]\n"
    "    [--net-host] [--runtime R] [--cpus N] [--memory-limit BYTES] [--user U] [--cwd D]\n"
    "    [--seccomp] [--privileged] [--snapshotter S] [--runc-binary runc|crun|PATH]\n"
    "    IMAGE ID [CMD...]\n",
    run_main};
