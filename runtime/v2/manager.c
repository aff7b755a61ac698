/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The task table and the shim life cycle (containerd 1.6 runtime/v2/manager.go + shim.go):
 * create = bundle + `start` + ttrpc dial + Task.Create; a shim that is gone has its `delete`
 * run, its bundle removed and stays in the table as a stopped task until Tasks.Delete.
 * Reattaching after a restart, and clearing what a crash mid-create left, is restore.c. Also
 * serves the events endpoint shims forward to, and drains their log FIFOs to our stderr.
 */
#define BERTH_LOG_SUBSYS "runtime"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/events/task.pb-c.h"
#include "api/runtime/task/v2/shim.pb-c.h"
#include "api/services/ttrpc/events/v1/events.pb-c.h"
#include "api/timestamp.h"
#include "api/types/task/task.pb-c.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/v2/runtime-internal.h"
#include "ttrpc/server.h"

/* ---- table ---- */

static void task_free(struct berth_rt_task *t)
{
    berth_ttrpc_client_close(t->client);
    if (t->log_fd >= 0)
        close(t->log_fd);
    pthread_mutex_destroy(&t->lock);
    free(t->ns);
    free(t->id);
    free(t->bundle);
    free(t->binary);
    free(t);
}

struct berth_rt_task *berth_rt_task_alloc(struct berth_rt *rt, const char *ns, const char *id)
{
    struct berth_rt_task *t = berth_xcalloc(1, sizeof(*t));

    t->refs = 1;
    t->ns = berth_xstrdup(ns);
    t->id = berth_xstrdup(id);
    t->bundle = berth_rt_bundle_path(rt->state, ns, id);
    t->log_fd = -1;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

static struct berth_rt_task *find_locked(struct berth_rt *rt, const char *ns, const char *id)
{
    for (struct berth_rt_task *t = rt->tasks; t; t = t->next)
        if (strcmp(t->ns, ns) == 0 && strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

void berth_rt_task_unlink(struct berth_rt *rt, struct berth_rt_task *t)
{
    bool found = false;

    pthread_mutex_lock(&rt->lock);
    for (struct berth_rt_task **p = &rt->tasks; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&rt->lock);
    /* Drops the table's reference; the caller still holds one, so t stays valid. */
    if (found)
        berth_rt_task_put(t);
}

void berth_rt_task_put(struct berth_rt_task *t)
{
    bool last;

    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    last = --t->refs == 0;
    pthread_mutex_unlock(&t->lock);
    if (last)
        task_free(t);
}

void berth_rt_tasks_put(struct berth_rt_task **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        berth_rt_task_put(v[i]);
    free(v);
}

const char *berth_rt_task_id(const struct berth_rt_task *t)
{
    return t->id;
}

const char *berth_rt_task_ns(const struct berth_rt_task *t)
{
    return t->ns;
}

const char *berth_rt_task_bundle(const struct berth_rt_task *t)
{
    return t->bundle;
}

/* Caller holds t->lock. */
static bool task_live_locked(const struct berth_rt_task *t)
{
    return !t->dead && t->client && t->pid != 0 && t->exited_ns == 0;
}

bool berth_rt_task_live(struct berth_rt_task *t)
{
    bool live;

    pthread_mutex_lock(&t->lock);
    live = task_live_locked(t);
    pthread_mutex_unlock(&t->lock);
    return live;
}

void berth_rt_counts(struct berth_rt *rt, struct berth_rt_counts *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&rt->lock);
    for (struct berth_rt_task *t = rt->tasks; t; t = t->next) {
        if (t->creating)
            continue;
        out->tasks++;
        pthread_mutex_lock(&t->lock);
        if (t->client && !t->dead)
            out->shims++;
        if (task_live_locked(t))
            out->live++;
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&rt->lock);
}

void berth_rt_task_ref(struct berth_rt_task *t)
{
    pthread_mutex_lock(&t->lock);
    t->refs++;
    pthread_mutex_unlock(&t->lock);
}

struct berth_rt_task *berth_rt_table_add(struct berth_rt *rt, struct berth_rt_task *t)
{
    struct berth_rt_task *other;

    pthread_mutex_lock(&rt->lock);
    other = find_locked(rt, t->ns, t->id);
    berth_rt_task_ref(other ? other : t);
    if (!other) {
        t->next = rt->tasks;
        rt->tasks = t;
    }
    pthread_mutex_unlock(&rt->lock);
    return other;
}

void berth_rt_task_publish(struct berth_rt *rt, struct berth_rt_task *t)
{
    pthread_mutex_lock(&rt->lock);
    t->creating = false;
    pthread_mutex_unlock(&rt->lock);
}

int berth_rt_task_get(struct berth_rt *rt, const char *ns, const char *id,
                      struct berth_rt_task **out, struct berth_err **err)
{
    struct berth_rt_task *t;

    *out = NULL;
    pthread_mutex_lock(&rt->lock);
    t = find_locked(rt, ns, id);
    if (t && t->creating)
        t = NULL;
    if (t)
        berth_rt_task_ref(t);
    pthread_mutex_unlock(&rt->lock);
    if (!t)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "task \"%s\" not found", id);
    *out = t;
    return 0;
}

static int cmp_task(const void *a, const void *b)
{
    return strcmp((*(struct berth_rt_task *const *)a)->id, (*(struct berth_rt_task *const *)b)->id);
}

void berth_rt_task_list(struct berth_rt *rt, const char *ns, struct berth_rt_task ***out, size_t *n)
{
    size_t cnt = 0, i = 0;

    pthread_mutex_lock(&rt->lock);
    for (struct berth_rt_task *t = rt->tasks; t; t = t->next)
        cnt++;
    *out = berth_xcalloc(cnt + 1, sizeof(**out));
    for (struct berth_rt_task *t = rt->tasks; t; t = t->next) {
        if (t->creating || (ns && strcmp(t->ns, ns) != 0))
            continue;
        berth_rt_task_ref(t);
        (*out)[i++] = t;
    }
    pthread_mutex_unlock(&rt->lock);
    qsort(*out, i, sizeof(**out), cmp_task);
    *n = i;
}

/* ---- events ---- */

static void emit(struct berth_rt *rt, const char *ns, const char *topic, const char *type_url,
                 const ProtobufCMessage *msg)
{
    Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    Google__Protobuf__Timestamp ts;
    _cleanup_free_ uint8_t *buf = NULL;

    if (!rt->on_event)
        return;
    buf = berth_xmalloc(protobuf_c_message_get_packed_size(msg) + 1);
    any.type_url = (char *)type_url;
    any.value.len = protobuf_c_message_pack(msg, buf);
    any.value.data = buf;
    env.timestamp = berth_pb_ts_set(&ts, berth_now_ns());
    env.namespace_ = (char *)ns;
    env.topic = (char *)topic;
    env.event = &any;
    rt->on_event(rt->event_arg, &env);
}

static void emit_exit(struct berth_rt *rt, const struct berth_rt_task *t)
{
    Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
    Google__Protobuf__Timestamp ts;

    ev.container_id = t->id;
    ev.id = t->id;
    ev.pid = t->pid;
    ev.exit_status = t->exit_status;
    ev.exited_at = berth_pb_ts_set(&ts, t->exited_ns);
    emit(rt, t->ns, "/tasks/exit", "containerd.events.TaskExit", &ev.base);
}

static void emit_delete(struct berth_rt *rt, const struct berth_rt_task *t)
{
    Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
    Google__Protobuf__Timestamp ts;

    ev.container_id = t->id;
    ev.pid = t->pid;
    ev.exit_status = t->exit_status;
    ev.exited_at = berth_pb_ts_set(&ts, t->exited_ns);
    emit(rt, t->ns, "/tasks/delete", "containerd.events.TaskDelete", &ev.base);
}

/* Records an init exit the shim told us about (keeps Get/Wait right if the shim dies later). */
static void note_exit(struct berth_rt *rt, const Containerd__Types__Envelope *env)
{
    Containerd__Events__TaskExit *ev;
    struct berth_rt_task *t;

    if (!env->event || !env->namespace_ || strcmp(env->topic, "/tasks/exit") != 0)
        return;
    ev = containerd__events__task_exit__unpack(NULL, env->event->value.len, env->event->value.data);
    if (!ev)
        return;
    if (ev->container_id && ev->id && strcmp(ev->container_id, ev->id) == 0) {
        pthread_mutex_lock(&rt->lock);
        t = find_locked(rt, env->namespace_, ev->container_id);
        if (t) {
            pthread_mutex_lock(&t->lock);
            t->exit_status = ev->exit_status;
            t->exited_ns =
                berth_pb_ts_ns(ev->exited_at) ? berth_pb_ts_ns(ev->exited_at) : berth_now_ns();
            pthread_mutex_unlock(&t->lock);
        }
        pthread_mutex_unlock(&rt->lock);
    }
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

static int events_forward(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Events__Ttrpc__V1__ForwardRequest *req = (const void *)in;
    struct berth_rt *rt = ctx->app;

    (void)out;
    if (!req->envelope || !req->envelope->topic)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "forward: missing envelope");
    note_exit(rt, req->envelope);
    if (rt->on_event)
        rt->on_event(rt->event_arg, req->envelope);
    return 0;
}

static const struct berth_ttrpc_method events_methods[] = {
    {"Forward", &containerd__services__events__ttrpc__v1__forward_request__descriptor,
     events_forward},
};
static const struct berth_ttrpc_service events_service = {
    "containerd.services.events.ttrpc.v1.Events", events_methods, BERTH_N(events_methods)};
static const struct berth_ttrpc_service *const rt_services[] = {&events_service};

static void *events_main(void *arg)
{
    struct berth_rt *rt = arg;
    _cleanup_err_ struct berth_err *err = NULL;

    if (berth_ttrpc_server_serve(rt->srv, rt->listen_fd, rt->stop_fd, &err) < 0)
        log_error("events endpoint: %s", err->msg);
    return NULL;
}

/* ---- shim logs ---- */

static void *log_main(void *arg)
{
    struct berth_rt *rt = arg;
    struct epoll_event evs[16];
    char buf[8192];

    for (;;) {
        int n = epoll_wait(rt->log_epfd, evs, BERTH_N(evs), -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NULL;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == rt->stop_fd)
                return NULL;
            /* The lock keeps a task from closing the fd under us. */
            pthread_mutex_lock(&rt->lock);
            ssize_t r = read(evs[i].data.fd, buf, sizeof(buf));
            pthread_mutex_unlock(&rt->lock);
            if (r > 0 && write(STDERR_FILENO, buf, (size_t)r) < 0) {
                /* nowhere to report it */
            }
        }
    }
}

void berth_rt_log_attach(struct berth_rt *rt, struct berth_rt_task *t)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/log", t->bundle);
    struct epoll_event ev = {.events = EPOLLIN};

    /* O_RDWR: the FIFO never reports EOF while shims come and go. */
    t->log_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (t->log_fd < 0 || rt->log_epfd < 0)
        return;
    ev.data.fd = t->log_fd;
    epoll_ctl(rt->log_epfd, EPOLL_CTL_ADD, t->log_fd, &ev);
}

void berth_rt_log_detach(struct berth_rt *rt, struct berth_rt_task *t)
{
    pthread_mutex_lock(&rt->lock);
    if (t->log_fd >= 0) {
        if (rt->log_epfd >= 0)
            epoll_ctl(rt->log_epfd, EPOLL_CTL_DEL, t->log_fd, NULL);
        close(t->log_fd);
        t->log_fd = -1;
    }
    pthread_mutex_unlock(&rt->lock);
}

/* ---- dead shims ---- */

/* The shim is gone: run its `delete`, drop the bundle and keep t as a stopped task. */
void berth_rt_task_mark_dead(struct berth_rt *rt, struct berth_rt_task *t)
{
    uint32_t pid, status;
    int64_t at;
    bool had_exit;

    pthread_mutex_lock(&t->lock);
    if (t->dead) {
        pthread_mutex_unlock(&t->lock);
        return;
    }
    t->dead = true;
    pthread_mutex_unlock(&t->lock);
    log_warn("shim of task %s/%s is gone: cleaning up dead shim", t->ns, t->id);
    berth_rt_shim_delete(rt, t->binary, t->ns, t->id, t->bundle, &pid, &status, &at);
    berth_rt_log_detach(rt, t);
    berth_rt_bundle_remove(t->bundle);
    pthread_mutex_lock(&t->lock);
    had_exit = t->exited_ns != 0;
    if (!had_exit) {
        t->exit_status = status;
        t->exited_ns = at;
    }
    pthread_mutex_unlock(&t->lock);
    if (!had_exit)
        emit_exit(rt, t);
}

/* ---- calls ---- */

struct berth_ttrpc_client *berth_rt_task_client(struct berth_rt_task *t)
{
    /* Borrowed: the client lives until the task is freed (close happens in task_free). */
    struct berth_ttrpc_client *c;

    pthread_mutex_lock(&t->lock);
    c = t->dead ? NULL : t->client;
    pthread_mutex_unlock(&t->lock);
    return c;
}

int berth_rt_task_call(struct berth_rt *rt, struct berth_rt_task *t, const char *method,
                       const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                       ProtobufCMessage **resp, int64_t timeout_ms, struct berth_err **err)
{
    struct berth_ttrpc_client *c = berth_rt_task_client(t);

    if (resp)
        *resp = NULL;
    if (!c)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "task \"%s\" is stopped: its "
                             "shim is gone",
                             t->id);
    if (berth_ttrpc_client_call(c, BERTH_RT_TASK_SERVICE, method, req, resp_desc, resp, timeout_ms,
                                t->ns, err) < 0) {
        if ((*err)->code == BERTH_E_UNAVAILABLE)
            berth_rt_task_mark_dead(rt, t);
        return berth_err_wrap(err, "task \"%s\": %s", t->id, method);
    }
    return 0;
}

void berth_rt_state_clear(struct berth_rt_state *s)
{
    free(s->stdin_path);
    free(s->stdout_path);
    free(s->stderr_path);
    memset(s, 0, sizeof(*s));
}

static bool task_dead(struct berth_rt_task *t)
{
    bool d;
    pthread_mutex_lock(&t->lock);
    d = t->dead;
    pthread_mutex_unlock(&t->lock);
    return d;
}

static void dead_state(struct berth_rt_task *t, struct berth_rt_state *out)
{
    pthread_mutex_lock(&t->lock);
    out->pid = t->pid;
    out->status = CONTAINERD__V1__TYPES__STATUS__STOPPED;
    out->exit_status = t->exit_status;
    out->exited_ns = t->exited_ns;
    pthread_mutex_unlock(&t->lock);
    out->stdin_path = berth_xstrdup("");
    out->stdout_path = berth_xstrdup("");
    out->stderr_path = berth_xstrdup("");
}

int berth_rt_task_state(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                        struct berth_rt_state *out, struct berth_err **err)
{
    Containerd__Task__V2__StateRequest req = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
    Containerd__Task__V2__StateResponse *resp = NULL;
    bool exec = exec_id && *exec_id;

    memset(out, 0, sizeof(*out));
    req.id = t->id;
    req.exec_id = (char *)(exec ? exec_id : "");
    if (!task_dead(t) &&
        berth_rt_task_call(rt, t, "State", &req.base,
                           &containerd__task__v2__state_response__descriptor,
                           (ProtobufCMessage **)&resp, BERTH_RT_STATE_TIMEOUT_MS, err) < 0 &&
        !task_dead(t))
        return -1;
    if (!resp) {
        berth_err_free(err);
        if (exec)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "process \"%s\" not found", exec_id);
        dead_state(t, out);
        return 0;
    }
    out->pid = resp->pid;
    out->status = (int)resp->status;
    out->stdin_path = berth_xstrdup(resp->stdin ? resp->stdin : "");
    out->stdout_path = berth_xstrdup(resp->stdout ? resp->stdout : "");
    out->stderr_path = berth_xstrdup(resp->stderr ? resp->stderr : "");
    out->terminal = resp->terminal;
    out->exit_status = resp->exit_status;
    out->exited_ns = berth_pb_ts_ns(resp->exited_at);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int berth_rt_task_wait(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                       uint32_t *exit_status, int64_t *exited_ns, struct berth_err **err)
{
    Containerd__Task__V2__WaitRequest req = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
    Containerd__Task__V2__WaitResponse *resp = NULL;
    bool exec = exec_id && *exec_id;

    req.id = t->id;
    req.exec_id = (char *)(exec ? exec_id : "");
    if (!task_dead(t) &&
        berth_rt_task_call(rt, t, "Wait", &req.base,
                           &containerd__task__v2__wait_response__descriptor,
                           (ProtobufCMessage **)&resp, 0, err) < 0 &&
        !task_dead(t))
        return -1;
    if (!resp) {
        berth_err_free(err);
        if (exec)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "process \"%s\" not found", exec_id);
        pthread_mutex_lock(&t->lock);
        *exit_status = t->exit_status;
        *exited_ns = t->exited_ns;
        pthread_mutex_unlock(&t->lock);
        return 0;
    }
    *exit_status = resp->exit_status;
    *exited_ns = berth_pb_ts_ns(resp->exited_at);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* Shuts the shim down and forgets it: bundle removed, entry unlinked. */
static void shim_finish(struct berth_rt *rt, struct berth_rt_task *t)
{
    Containerd__Task__V2__ShutdownRequest req = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
    struct berth_ttrpc_client *c = berth_rt_task_client(t);
    _cleanup_err_ struct berth_err *err = NULL;

    if (c) {
        req.id = t->id;
        /* The shim exits while answering, so a lost connection is the normal outcome. */
        berth_ttrpc_client_call(c, BERTH_RT_TASK_SERVICE, "Shutdown", &req.base, NULL, NULL,
                                BERTH_RT_SHUTDOWN_TIMEOUT_MS, t->ns, &err);
    }
    berth_rt_log_detach(rt, t);
    berth_rt_bundle_remove(t->bundle);
    berth_rt_task_unlink(rt, t);
}

int berth_rt_task_delete(struct berth_rt *rt, struct berth_rt_task *t, uint32_t *pid,
                         uint32_t *exit_status, int64_t *exited_ns, struct berth_err **err)
{
    Containerd__Task__V2__DeleteRequest req = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
    Containerd__Task__V2__DeleteResponse *resp = NULL;
    uint32_t p, st;
    int64_t at;

    req.id = t->id;
    req.exec_id = (char *)"";
    if (!task_dead(t) &&
        berth_rt_task_call(rt, t, "Delete", &req.base,
                           &containerd__task__v2__delete_response__descriptor,
                           (ProtobufCMessage **)&resp, 0, err) < 0 &&
        !task_dead(t)) {
        /* The shim holds no task (its daemon stopped before Create finished): as containerd
         * does, shut it down and remove the bundle all the same, and answer NOT_FOUND. */
        if ((*err)->code == BERTH_E_NOT_FOUND)
            berth_rt_task_reap_orphan(rt, t);
        return -1;
    }
    if (resp) {
        p = resp->pid;
        st = resp->exit_status;
        at = berth_pb_ts_ns(resp->exited_at);
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    } else {
        berth_err_free(err);
        pthread_mutex_lock(&t->lock);
        p = t->pid;
        st = t->exit_status;
        at = t->exited_ns;
        pthread_mutex_unlock(&t->lock);
        emit_delete(rt, t); /* a live shim publishes its own TaskDelete */
    }
    shim_finish(rt, t);
    if (pid)
        *pid = p;
    if (exit_status)
        *exit_status = st;
    if (exited_ns)
        *exited_ns = at;
    return 0;
}

/* ---- create ---- */

/* Puts t (creating) into the table. ALREADY_EXISTS when ns/id has an entry, unless that entry's
 * shim answers that it holds no task: then it is cleaned away and t takes the id. */
static int reserve(struct berth_rt *rt, struct berth_rt_task *t, struct berth_err **err)
{
    for (int i = 0; i < 2; i++) {
        struct berth_rt_task *other = berth_rt_table_add(rt, t);
        bool reaped;

        if (!other)
            return 0;
        reaped = i == 0 && berth_rt_task_reap_orphan(rt, other);
        berth_rt_task_put(other);
        if (!reaped)
            break;
    }
    return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "task \"%s\" already exists", t->id);
}

int berth_rt_task_create(struct berth_rt *rt, const struct berth_rt_create_opts *o, uint32_t *pid,
                         struct berth_err **err)
{
    Containerd__Task__V2__CreateTaskRequest req = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
    Containerd__Task__V2__CreateTaskResponse *resp = NULL;
    _cleanup_free_ Containerd__Types__Mount **pbs = NULL;
    _cleanup_free_ char *addr = NULL;
    const char *runtime = o->runtime && *o->runtime ? o->runtime : rt->default_runtime;
    struct berth_rt_task *t;
    bool bundle_made = false;

    *pid = 0;
    t = berth_rt_task_alloc(rt, o->ns, o->id);
    t->creating = true;
    if (reserve(rt, t, err) < 0) {
        berth_rt_task_put(t);
        return -1;
    }
    /* A bundle with no entry is what a daemon stopped while creating this task left: clean it
     * away, unless it still holds a task (then that one is the task that exists). */
    if (access(t->bundle, F_OK) == 0 && berth_rt_task_recover(rt, t) != BERTH_RT_RECOVERED_GONE) {
        berth_rt_task_publish(rt, t);
        berth_rt_task_put(t);
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "task \"%s\" already exists", o->id);
    }

    if (o->runtime_path && *o->runtime_path) {
        if (berth_rt_binary_resolve(o->runtime_path, NULL, &t->binary, err) < 0)
            goto fail;
    } else if (berth_rt_binary_resolve(runtime, rt->bin_dir, &t->binary, err) < 0) {
        goto fail;
    }
    /* shim-binary-path before `start`: a restart after a crash in between can then still ask
     * the shim binary for the address of a shim that started (berth_rt_task_recover). */
    if (berth_rt_bundle_create(t->bundle, o->spec, o->spec_len, err) < 0)
        goto fail;
    bundle_made = true;
    if (berth_rt_bundle_write(t->bundle, "shim-binary-path", t->binary, err) < 0)
        goto fail;
    bundle_made = true;
    berth_rt_log_attach(rt, t);
    if (berth_rt_shim_start(rt, t->binary, o->ns, o->id, t->bundle, o->options, &addr, err) < 0)
        goto fail;
    if (berth_ttrpc_client_dial(addr, BERTH_RT_CONNECT_TIMEOUT_MS, &t->client, err) < 0)
        goto fail_shim;

    req.id = (char *)o->id;
    req.bundle = t->bundle;
    berth_mounts_to_pb(o->rootfs, o->n_rootfs, &pbs);
    req.rootfs = pbs;
    req.n_rootfs = o->n_rootfs;
    req.terminal = o->terminal;
    req.stdin = (char *)(o->stdin_path ? o->stdin_path : "");
    req.stdout = (char *)(o->stdout_path ? o->stdout_path : "");
    req.stderr = (char *)(o->stderr_path ? o->stderr_path : "");
    req.options = (Google__Protobuf__Any *)o->options;
    if (berth_ttrpc_client_call(t->client, BERTH_RT_TASK_SERVICE, "Create", &req.base,
                                &containerd__task__v2__create_task_response__descriptor,
                                (ProtobufCMessage **)&resp, 0, o->ns, err) < 0)
        goto fail_shim;
    t->pid = resp->pid;
    *pid = resp->pid;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    berth_rt_task_publish(rt, t);
    berth_rt_task_put(t);
    return 0;

fail_shim : {
    uint32_t p, st;
    int64_t at;
    struct berth_ttrpc_client *c = steal_ptr(t->client);
    Containerd__Task__V2__ShutdownRequest sreq = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
    _cleanup_err_ struct berth_err *ignored = NULL;

    if (c) {
        sreq.id = (char *)o->id;
        sreq.now = true;
        berth_ttrpc_client_call(c, BERTH_RT_TASK_SERVICE, "Shutdown", &sreq.base, NULL, NULL,
                                BERTH_RT_SHUTDOWN_TIMEOUT_MS, o->ns, &ignored);
        berth_ttrpc_client_close(c);
    }
    /* `delete` removes whatever runc state and rootfs mount the failed Create left. */
    berth_rt_shim_delete(rt, t->binary, o->ns, o->id, t->bundle, &p, &st, &at);
}
fail:
    berth_rt_log_detach(rt, t);
    if (bundle_made)
        berth_rt_bundle_remove(t->bundle);
    berth_rt_task_unlink(rt, t);
    berth_rt_task_put(t);
    return berth_err_wrap(err, "create task \"%s\"", o->id);
}

/* ---- manager ---- */

int berth_rt_new(const struct berth_rt_opts *opts, struct berth_rt **out, struct berth_err **err)
{
    struct berth_rt *rt;
    char exe[PATH_MAX];
    ssize_t n;

    *out = NULL;
    if (!opts->state || !opts->address)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "runtime: state and address "
                             "are required");
    if (opts->oci_binary && *opts->oci_binary &&
        berth_rt_oci_binary_check(opts->oci_binary, err) < 0)
        return berth_err_wrap(err, "[runtime] binary_name");
    rt = berth_xcalloc(1, sizeof(*rt));
    rt->state = berth_xstrdup(opts->state);
    rt->address = berth_xstrdup(opts->address);
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    rt->daemon_path = berth_xstrdup(opts->daemon_path ? opts->daemon_path : exe);
    if (opts->bin_dir) {
        rt->bin_dir = berth_xstrdup(opts->bin_dir);
    } else {
        _cleanup_free_ char *copy = berth_xstrdup(rt->daemon_path);
        rt->bin_dir = berth_xstrdup(dirname(copy));
    }
    rt->default_runtime =
        berth_xstrdup(opts->default_runtime && *opts->default_runtime ? opts->default_runtime
                                                                      : BERTH_RT_DEFAULT_RUNTIME);
    if (opts->oci_binary && *opts->oci_binary)
        rt->oci_binary = berth_xstrdup(opts->oci_binary);
    rt->on_event = opts->on_event;
    rt->event_arg = opts->event_arg;
    pthread_mutex_init(&rt->lock, NULL);
    rt->listen_fd = rt->stop_fd = rt->log_epfd = -1;
    *out = rt;
    return 0;
}

const char *berth_rt_default_runtime(const struct berth_rt *rt)
{
    return rt->default_runtime;
}

int berth_rt_start(struct berth_rt *rt, struct berth_err **err)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s.ttrpc", rt->address);
    struct epoll_event ev = {.events = EPOLLIN};

    rt->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    rt->log_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (rt->stop_fd < 0 || rt->log_epfd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "runtime: eventfd/epoll");
    ev.data.fd = rt->stop_fd;
    epoll_ctl(rt->log_epfd, EPOLL_CTL_ADD, rt->stop_fd, &ev);
    if (berth_ttrpc_server_listen(path, &rt->listen_fd, err) < 0)
        return berth_err_wrap(err, "runtime: events endpoint");
    rt->srv = berth_ttrpc_server_new(rt_services, BERTH_N(rt_services), rt);
    if (pthread_create(&rt->events_thread, NULL, events_main, rt) != 0)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "runtime: start events thread");
    rt->events_started = true;
    if (pthread_create(&rt->log_thread, NULL, log_main, rt) != 0)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "runtime: start log thread");
    rt->log_started = true;
    berth_rt_restore(rt);
    return 0;
}

void berth_rt_free(struct berth_rt *rt)
{
    uint64_t one = 1;

    if (!rt)
        return;
    if (rt->stop_fd >= 0 && write(rt->stop_fd, &one, sizeof(one)) < 0) {
        /* cannot happen with an eventfd below its maximum */
    }
    if (rt->events_started)
        pthread_join(rt->events_thread, NULL);
    if (rt->log_started)
        pthread_join(rt->log_thread, NULL);
    while (rt->tasks) {
        struct berth_rt_task *t = rt->tasks;
        rt->tasks = t->next;
        berth_rt_task_put(t);
    }
    berth_ttrpc_server_free(rt->srv);
    if (rt->listen_fd >= 0) {
        _cleanup_free_ char *path = berth_strdup_printf("%s.ttrpc", rt->address);
        close(rt->listen_fd);
        unlink(path);
    }
    if (rt->stop_fd >= 0)
        close(rt->stop_fd);
    if (rt->log_epfd >= 0)
        close(rt->log_epfd);
    pthread_mutex_destroy(&rt->lock);
    free(rt->state);
    free(rt->address);
    free(rt->daemon_path);
    free(rt->bin_dir);
    free(rt->default_runtime);
    free(rt->oci_binary);
    free(rt);
}
