/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRI Exec, Attach and PortForward: each validates as containerd does and answers a one-time
 * URL of the streaming server (services/streaming), which calls back here when the client
 * comes: an exec through the shim with FIFOs berthd holds, an attach through the shim's
 * attach socket (runtime/shim/attach.h), a port-forward by a socket made inside the pod's
 * network namespace.
 */
#define BERTH_LOG_SUBSYS "cri"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "runtime/shim/attach.h"
#include "runtime/v2/runtime.h"
#include "services/cri/cri-internal.h"
#include "services/streaming/stream.h"

#define DIAL_TIMEOUT_MS 5000
/* FIFO buffers raised to this for exec output (fewer wake-ups per MiB); best effort. */
#define EXEC_PIPE_SIZE (1 << 20)

/* A running container (reference) or FAILED_PRECONDITION naming its state. */
static int running_container(struct berth_cri *c, const char *id, struct cri_container **out,
                             struct berth_err **err)
{
    struct cri_container *k;
    Runtime__V1__ContainerState st;

    if (cri_container_get(c, id, &k, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    st = cri_ctr_state(&k->st);
    pthread_mutex_unlock(&c->mu);
    if (st != RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING) {
        /* the state's name as the CRI spells it, from the generated enum */
        berth_err_set(
            err, BERTH_E_FAILED_PRECONDITION, 0, "container \"%s\" is in %s state", k->id,
            protobuf_c_enum_descriptor_get_value(&runtime__v1__container_state__descriptor, st)
                ->name);
        cri_container_put(c, k);
        return -1;
    }
    *out = k;
    return 0;
}

/* ---- the backend ---- */

struct cri_stream_proc {
    struct cri_container *k;
    struct berth_rt_task *t;
    char *exec_id; /* NULL: the container's own process (attach) */
    char *paths[3];
    bool started;
};

static void proc_free(struct berth_cri *c, struct cri_stream_proc *p)
{
    berth_rt_task_put(p->t);
    cri_container_put(c, p->k);
    cri_exec_fifos_remove(p->paths);
    free(p->exec_id);
    free(p);
}

static int be_exec_start(void *udata, const struct berth_stream_request *req, const char *exec_id,
                         struct berth_stream_io *io, struct berth_err **err)
{
    struct berth_cri *c = udata;
    struct cri_stream_proc *p = berth_xcalloc(1, sizeof(*p));
    _cleanup_free_ char *proc = NULL;
    const bool want[3] = {req->in, req->out, req->err && !req->tty};
    int fds[3] = {-1, -1, -1};
    uint32_t pid;

    if (running_container(c, req->id, &p->k, err) < 0)
        goto fail;
    p->exec_id = berth_xstrdup(exec_id);
    if (!(proc = cri_exec_process(c, p->k, req->cmd, berth_strv_len(req->cmd), req->tty, req->width,
                                  req->height, err)) ||
        berth_rt_task_get(c->svc->runtime, CRI_NS, p->k->id, &p->t, err) < 0 ||
        cri_exec_fifos(c, p->k->id, exec_id, want, p->paths, err) < 0)
        goto fail;
    /* Our ends first: stdin read-write (opening never blocks, and the shim reads EOF only when
     * we close it), outputs read-only (EOF once the process and its children are gone). */
    for (int i = 0; i < 3; i++) {
        if (!p->paths[i])
            continue;
        fds[i] = open(p->paths[i], (i == 0 ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
        if (fds[i] < 0) {
            berth_err_set(err, BERTH_E_INTERNAL, errno, "open exec FIFO \"%s\"", p->paths[i]);
            goto fail;
        }
        if (i > 0)
            (void)fcntl(fds[i], F_SETPIPE_SZ, EXEC_PIPE_SIZE);
    }
    {
        struct berth_rt_exec_opts eo = {.exec_id = exec_id,
                                        .spec = proc,
                                        .spec_len = strlen(proc),
                                        .io = {.stdin_path = p->paths[0] ? p->paths[0] : "",
                                               .stdout_path = p->paths[1] ? p->paths[1] : "",
                                               .stderr_path = p->paths[2] ? p->paths[2] : "",
                                               .terminal = req->tty}};
        if (berth_rt_task_exec(c->svc->runtime, p->t, &eo, err) < 0)
            goto fail;
    }
    p->started = true; /* created: from here on release deletes it */
    if (berth_rt_task_start(c->svc->runtime, p->t, exec_id, &pid, err) < 0)
        goto fail;
    log_debug("ns=%s container=%s exec=%s started (pid %u, stream)", CRI_NS, p->k->id, exec_id,
              pid);
    io->in_fd = fds[0];
    io->out_fd = fds[1];
    io->err_fd = fds[2];
    io->handle = p;
    return 0;
fail:
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (p->started) {
        _cleanup_err_ struct berth_err *e = NULL;
        (void)berth_rt_task_delete_process(c->svc->runtime, p->t, exec_id, NULL, NULL, NULL, &e);
    }
    proc_free(c, p);
    return -1;
}

static int be_exec_state(void *udata, void *handle, uint32_t *status, struct berth_err **err)
{
    struct berth_cri *c = udata;
    struct cri_stream_proc *p = handle;
    struct berth_rt_state st = {0};
    int r;

    if (berth_rt_task_state(c->svc->runtime, p->t, p->exec_id, &st, err) < 0)
        return -1;
    r = st.status == 3 /* STOPPED */;
    *status = st.exit_status;
    berth_rt_state_clear(&st);
    return r;
}

static int be_attach_open(void *udata, const struct berth_stream_request *req,
                          struct berth_stream_io *io, struct berth_err **err)
{
    struct berth_cri *c = udata;
    struct cri_stream_proc *p = berth_xcalloc(1, sizeof(*p));

    if (running_container(c, req->id, &p->k, err) < 0 ||
        berth_rt_task_get(c->svc->runtime, CRI_NS, p->k->id, &p->t, err) < 0 ||
        berth_rt_task_attach(c->svc->runtime, p->t, &io->attach_fd, err) < 0) {
        proc_free(c, p);
        return -1;
    }
    io->stdin_open = p->k->config->stdin;
    io->stdin_once = p->k->config->stdin_once;
    io->handle = p;
    log_debug("ns=%s container=%s attached", CRI_NS, p->k->id);
    return 0;
}

static int be_resize(void *udata, void *handle, uint16_t w, uint16_t h, struct berth_err **err)
{
    struct berth_cri *c = udata;
    struct cri_stream_proc *p = handle;

    return berth_rt_task_resize_pty(c->svc->runtime, p->t, p->exec_id, w, h, err);
}

static void be_release(void *udata, void *handle, bool kill)
{
    struct berth_cri *c = udata;
    struct cri_stream_proc *p = handle;
    _cleanup_err_ struct berth_err *e = NULL;

    if (p->exec_id && p->started) {
        if (kill) {
            uint32_t status;
            int64_t at;
            if (berth_rt_task_kill(c->svc->runtime, p->t, p->exec_id, SIGKILL, false, &e) == 0)
                (void)berth_rt_task_wait(c->svc->runtime, p->t, p->exec_id, &status, &at, &e);
            berth_err_free(&e);
        }
        if (berth_rt_task_delete_process(c->svc->runtime, p->t, p->exec_id, NULL, NULL, NULL, &e) <
                0 &&
            e->code != BERTH_E_NOT_FOUND)
            log_warn("ns=%s container=%s exec=%s delete: %s", CRI_NS, p->k->id, p->exec_id, e->msg);
    }
    proc_free(c, p);
}

struct dial {
    const char *netns; /* NULL: this (the host's) namespace */
    uint16_t port;
    int fd, err_no;
    const char *step;
};

static int dial_one(int family, uint16_t port, int *err_no)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    int fd, e = 0;
    socklen_t el = sizeof(e);
    struct pollfd pf;

    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        sl = sizeof(*a);
    }
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err_no = errno;
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        *err_no = errno;
        close(fd);
        return -1;
    }
    pf = (struct pollfd){.fd = fd, .events = POLLOUT};
    if (poll(&pf, 1, DIAL_TIMEOUT_MS) <= 0) {
        *err_no = ETIMEDOUT;
        close(fd);
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0) {
        *err_no = e ? e : errno;
        close(fd);
        return -1;
    }
    return fd;
}

/* On its own short-lived thread: setns changes the calling thread's namespace, and this thread
 * ends with it. A socket keeps the namespace it was made in. */
static void *dial_thread(void *arg)
{
    struct dial *d = arg;
    int e4 = 0, e6 = 0;

    if (d->netns) {
        int ns = open(d->netns, O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
            d->err_no = errno;
            d->step = "enter the network namespace";
            if (ns >= 0)
                close(ns);
            return NULL;
        }
        close(ns);
    }
    d->fd = dial_one(AF_INET, d->port, &e4);
    if (d->fd < 0)
        d->fd = dial_one(AF_INET6, d->port, &e6);
    if (d->fd < 0) {
        d->err_no = e4 ? e4 : e6;
        d->step = "connect";
    }
    return NULL;
}

static int be_port_dial(void *udata, const char *sandbox_id, uint16_t port, int *fd,
                        struct berth_err **err)
{
    struct berth_cri *c = udata;
    struct cri_sandbox *s;
    _cleanup_free_ char *netns = NULL;
    struct dial d = {.port = port, .fd = -1};
    pthread_t th;
    bool ready;

    if (cri_sandbox_get(c, sandbox_id, &s, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    ready = s->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
    netns = s->netns_path ? berth_xstrdup(s->netns_path) : NULL;
    pthread_mutex_unlock(&c->mu);
    cri_sandbox_put(c, s);
    if (!ready)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "sandbox container is not running");
    d.netns = netns;
    if (pthread_create(&th, NULL, dial_thread, &d) != 0)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "port-forward thread");
    pthread_join(th, NULL);
    if (d.fd < 0)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, d.err_no,
                             "failed to execute portforward in network namespace \"%s\": %s to "
                             "localhost:%u",
                             netns ? netns : "host", d.step, port);
    *fd = d.fd;
    return 0;
}

int cri_stream_start(struct berth_cri *c, struct berth_err **err)
{
    struct berth_stream_opts o = {
        .address = c->stream_address,
        .port = c->stream_port,
        .idle_timeout_ms = c->stream_idle_ms,
        .backend = {.udata = c,
                    .exec_start = be_exec_start,
                    .exec_state = be_exec_state,
                    .attach_open = be_attach_open,
                    .resize = be_resize,
                    .release = be_release,
                    .port_dial = be_port_dial},
    };

    struct berth_stream_server *srv;

    if (berth_stream_server_start(&o, &srv, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    c->stream = srv;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void cri_stream_stop(struct berth_cri *c)
{
    struct berth_stream_server *srv;

    pthread_mutex_lock(&c->mu); /* berth_cri_task_event reads it under c->mu */
    srv = c->stream;
    c->stream = NULL;
    pthread_mutex_unlock(&c->mu);
    berth_stream_server_free(srv);
}

/* ---- the RPCs ---- */

static int stream_url(struct berth_cri *c, struct berth_stream_request *r, char **url,
                      struct berth_err **err)
{
    if (!c->stream) { /* set once at start-up, before the CRI serves */
        berth_stream_request_free(r);
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "the streaming server is not running");
    }
    return berth_stream_server_url(c->stream, r, url, err);
}

/* containerd's validateExecRequest / validateAttachRequest. */
static int check_streams(const char *id, bool tty, bool in, bool out, bool errs,
                         struct berth_err **err)
{
    if (!id || !*id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "missing required container_id");
    if (tty && errs)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "tty and stderr cannot both be true");
    if (!in && !out && !errs)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "one of stdin, stdout, or stderr must be set");
    return 0;
}

/* An exec's or attach's URL for running container id (cmd: the exec's, NULL for attach). */
static int container_url(struct berth_cri *c, enum berth_stream_kind kind, const char *id,
                         char *const *cmd, size_t n_cmd, bool tty, bool in, bool out, bool errs,
                         char **url, struct berth_err **err)
{
    struct cri_container *k;
    struct berth_stream_request *r;

    if (check_streams(id, tty, in, out, errs, err) < 0)
        return -1;
    if (kind == BERTH_STREAM_EXEC && n_cmd == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "exec in container \"%s\": empty command", id);
    if (running_container(c, id, &k, err) < 0)
        return -1;
    r = berth_xcalloc(1, sizeof(*r));
    r->kind = kind;
    r->id = berth_xstrdup(k->id);
    if (kind == BERTH_STREAM_EXEC) {
        r->cmd = berth_xcalloc(n_cmd + 1, sizeof(char *));
        for (size_t i = 0; i < n_cmd; i++)
            r->cmd[i] = berth_xstrdup(cmd[i]);
    }
    r->tty = tty;
    r->in = in;
    r->out = out;
    r->err = errs;
    cri_container_put(c, k);
    return stream_url(c, r, url, err);
}

CRI_RPC(cri_exec)
{
    const Runtime__V1__ExecRequest *req = (const void *)in;
    Runtime__V1__ExecResponse resp = RUNTIME__V1__EXEC_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    _cleanup_free_ char *url = NULL;

    if (!c || container_url(c, BERTH_STREAM_EXEC, req->container_id, req->cmd, req->n_cmd, req->tty,
                            req->stdin, req->stdout, req->stderr, &url, err) < 0)
        return -1;
    resp.url = url;
    berth_svc_pack(out, &resp.base);
    return 0;
}

CRI_RPC(cri_attach)
{
    const Runtime__V1__AttachRequest *req = (const void *)in;
    Runtime__V1__AttachResponse resp = RUNTIME__V1__ATTACH_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    _cleanup_free_ char *url = NULL;

    if (!c || container_url(c, BERTH_STREAM_ATTACH, req->container_id, NULL, 0, req->tty,
                            req->stdin, req->stdout, req->stderr, &url, err) < 0)
        return -1;
    resp.url = url;
    berth_svc_pack(out, &resp.base);
    return 0;
}

CRI_RPC(cri_port_forward)
{
    const Runtime__V1__PortForwardRequest *req = (const void *)in;
    Runtime__V1__PortForwardResponse resp = RUNTIME__V1__PORT_FORWARD_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_sandbox *s;
    struct berth_stream_request *r;
    _cleanup_free_ char *url = NULL;
    bool ready;

    if (!c)
        return -1;
    if (!req->pod_sandbox_id || !*req->pod_sandbox_id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "missing required pod_sandbox_id");
    for (size_t i = 0; i < req->n_port; i++)
        if (req->port[i] <= 0 || req->port[i] > 65535)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid port %d", req->port[i]);
    if (cri_sandbox_get(c, req->pod_sandbox_id, &s, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    ready = s->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
    pthread_mutex_unlock(&c->mu);
    if (!ready) {
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                      "sandbox container \"%s\" is not running", s->id);
        cri_sandbox_put(c, s);
        return -1;
    }
    r = berth_xcalloc(1, sizeof(*r));
    r->kind = BERTH_STREAM_PORTFORWARD;
    r->id = berth_xstrdup(s->id);
    if (req->n_port) {
        r->ports = berth_xcalloc(req->n_port, sizeof(*r->ports));
        for (size_t i = 0; i < req->n_port; i++)
            r->ports[i] = (uint16_t)req->port[i];
        r->n_ports = req->n_port;
    }
    cri_sandbox_put(c, s);
    if (stream_url(c, r, &url, err) < 0)
        return -1;
    resp.url = url;
    berth_svc_pack(out, &resp.base);
    return 0;
}
