/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tasks service (containerd.services.tasks.v1): a thin adapter over the runtime manager
 * (runtime/v2). Create reads the container record (spec, runtime, snapshot) and hands it to
 * the manager; every other call maps to the same-named shim call (containerd 1.6
 * services/tasks/local.go). The shims publish the task events themselves.
 */
#include <string.h>

#include "api/pbcheck.h" /* task options are client bytes the shim decodes */
#include "api/registry.h"
#include "api/runtime/task/v2/shim.pb-c.h"
#include "api/services/tasks/v1/tasks.pb-c.h"
#include "api/timestamp.h"
#include "google/protobuf/empty.pb-c.h"
#include "lib/filters.h"
#include "lib/ident.h"
#include "metadata/containers.h"
#include "metadata/snapshots.h"
#include "runtime/v2/runtime.h"
#include "services/services.h"

#define CALL_TIMEOUT_MS 0 /* shim calls follow the client's deadline only */

static struct berth_rt *rt_of(struct berth_svc_ctx *ctx, struct berth_err **err)
{
    struct berth_rt *rt = berth_svc_app(ctx)->runtime;
    if (!rt)
        berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "no runtime loaded");
    return rt;
}

static int reply_empty(struct berth_bytes *out)
{
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    berth_svc_pack(out, &empty.base);
    return 0;
}

/* Looks up the task of container id; NOT_FOUND for no task. */
static struct berth_rt_task *task_of(struct berth_svc_ctx *ctx, const char *id,
                                     struct berth_err **err)
{
    struct berth_rt *rt = rt_of(ctx, err);
    struct berth_rt_task *t = NULL;

    if (!rt)
        return NULL;
    if (!id || !*id) {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "container id must not be empty");
        return NULL;
    }
    if (berth_rt_task_get(rt, ctx->ns, id, &t, err) < 0)
        return NULL;
    return t;
}
DEFINE_CLEANUP(struct berth_rt_task *, berth_rt_task_put)

/* A shim call with an Empty answer. */
static int simple_call(struct berth_svc_ctx *ctx, const char *id, const char *method,
                       ProtobufCMessage *req, struct berth_bytes *out, struct berth_err **err)
{
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, id, err);

    if (!t || berth_rt_task_call(berth_svc_app(ctx)->runtime, t, method, req, NULL, NULL,
                                 CALL_TIMEOUT_MS, err) < 0)
        return -1;
    return reply_empty(out);
}

static int rootfs_of(struct berth_svc_ctx *ctx, const struct berth_container *c,
                     struct berth_mount **m, size_t *n, struct berth_err **err)
{
    struct berth_snapshotter *sn;

    if (!c->snapshot_key || !*c->snapshot_key)
        return 0;
    if (berth_snap_registry_get(berth_svc_app(ctx)->snapshotters, c->snapshotter, &sn, err) < 0 ||
        berth_meta_snapshots_mounts(berth_svc_app(ctx)->db, sn, ctx->ns, c->snapshot_key, m, n,
                                    err) < 0)
        return berth_err_wrap(err, "rootfs of container \"%s\"", c->id);
    return 0;
}

/* The shim decodes the options (containerd.runc.v1.Options) with protobuf-c, which would cut
 * binary_name or root at a NUL byte and accept invalid UTF-8: check them as Go's protobuf
 * would. Types the API registry does not know are other runtimes' business and pass as they
 * are, as containerd passes them. INVALID_ARGUMENT naming the field. */
static int check_options(const Google__Protobuf__Any *opts, const char *what,
                         struct berth_err **err)
{
    const ProtobufCMessageDescriptor *d;

    if (!opts || !opts->type_url || !(d = berth_api_find_message(opts->type_url)))
        return 0;
    if (berth_pb_check(d, opts->value.data, opts->value.len, err) < 0)
        return berth_err_wrap(err, "%s (%s)", what, d->name);
    return 0;
}

static int tasks_create(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__CreateTaskRequest *req = (const void *)in;
    Containerd__Services__Tasks__V1__CreateTaskResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_RESPONSE__INIT;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_container_freep) struct berth_container *c = NULL;
    struct berth_rt *rt;
    struct berth_rt_create_opts o = {0};
    struct berth_mount *mounts = NULL;
    Google__Protobuf__Any opts_pb;
    size_t n_mounts = 0;
    uint32_t pid = 0;
    int ret;

    if (req->checkpoint)
        return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0,
                             "checkpoint restore is not supported");
    if (check_options(req->options, "task options", err) < 0)
        return -1;
    if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0 ||
        berth_meta_containers_get(txn, ctx->ns, req->container_id, &c, err) < 0)
        return -1;
    berth_meta_txn_abort(steal_ptr(txn));
    /* Without task options the container's runtime options go to the shim: they came in
     * through Containers.Create, which stores them unchecked (as containerd does). */
    if (!req->options &&
        check_options(berth_any_to_pb(&c->runtime_options, &opts_pb), "runtime options", err) < 0)
        return berth_err_wrap(err, "container \"%s\"", c->id);
    if (!(rt = rt_of(ctx, err)))
        return -1;
    if (!c->spec.present || c->spec.value.len == 0)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "container \"%s\" has no spec",
                             c->id);
    if (req->n_rootfs > 0)
        berth_mounts_from_pb(req->rootfs, req->n_rootfs, &mounts);
    else if (rootfs_of(ctx, c, &mounts, &n_mounts, err) < 0)
        return -1;
    if (req->n_rootfs > 0)
        n_mounts = req->n_rootfs;

    o.ns = ctx->ns;
    o.id = c->id;
    o.runtime = c->runtime_name;
    o.runtime_path = req->runtime_path;
    o.spec = c->spec.value.data;
    o.spec_len = c->spec.value.len;
    o.rootfs = mounts;
    o.n_rootfs = n_mounts;
    o.stdin_path = req->stdin;
    o.stdout_path = req->stdout;
    o.stderr_path = req->stderr;
    o.terminal = req->terminal;
    o.options = req->options ? req->options : berth_any_to_pb(&c->runtime_options, &opts_pb);
    ret = berth_rt_task_create(rt, &o, &pid, err);
    berth_mounts_free(mounts, n_mounts);
    if (ret < 0)
        return -1;
    resp.container_id = c->id;
    resp.pid = pid;
    berth_svc_pack(out, &resp.base);
    return 0;
}

static int tasks_start(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                       struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__StartRequest *req = (const void *)in;
    Containerd__Services__Tasks__V1__StartResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__START_RESPONSE__INIT;
    Containerd__Task__V2__StartRequest sreq = CONTAINERD__TASK__V2__START_REQUEST__INIT;
    Containerd__Task__V2__StartResponse *sresp = NULL;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);

    if (!t)
        return -1;
    sreq.id = req->container_id;
    sreq.exec_id = req->exec_id;
    if (berth_rt_task_call(berth_svc_app(ctx)->runtime, t, "Start", &sreq.base,
                           &containerd__task__v2__start_response__descriptor,
                           (ProtobufCMessage **)&sresp, CALL_TIMEOUT_MS, err) < 0)
        return -1;
    resp.pid = sresp->pid;
    protobuf_c_message_free_unpacked(&sresp->base, NULL);
    berth_svc_pack(out, &resp.base);
    return 0;
}

static int reply_delete(const char *id, uint32_t pid, uint32_t status, int64_t at,
                        struct berth_bytes *out)
{
    Containerd__Services__Tasks__V1__DeleteResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__DELETE_RESPONSE__INIT;
    Google__Protobuf__Timestamp ts;

    resp.id = (char *)id;
    resp.pid = pid;
    resp.exit_status = status;
    resp.exited_at = berth_pb_ts_or_null(&ts, at);
    berth_svc_pack(out, &resp.base);
    return 0;
}

static int tasks_delete(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__DeleteTaskRequest *req = (const void *)in;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);
    uint32_t pid = 0, status = 0;
    int64_t at = 0;

    if (!t) {
        /* No task, but maybe what a crash mid-create left (a bundle, a shim without a task):
         * clear that, then answer NOT_FOUND all the same. */
        if ((*err)->code == BERTH_E_NOT_FOUND)
            berth_rt_task_reap(berth_svc_app(ctx)->runtime, ctx->ns, req->container_id);
        return -1;
    }
    if (berth_rt_task_delete(berth_svc_app(ctx)->runtime, t, &pid, &status, &at, err) < 0)
        return -1;
    return reply_delete(req->container_id, pid, status, at, out);
}

static int tasks_delete_process(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                                struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__DeleteProcessRequest *req = (const void *)in;
    Containerd__Task__V2__DeleteRequest sreq = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
    Containerd__Task__V2__DeleteResponse *sresp = NULL;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = NULL;

    if (!req->exec_id || !*req->exec_id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "exec id must not be empty");
    t = task_of(ctx, req->container_id, err);
    if (!t)
        return -1;
    sreq.id = req->container_id;
    sreq.exec_id = req->exec_id;
    if (berth_rt_task_call(berth_svc_app(ctx)->runtime, t, "Delete", &sreq.base,
                           &containerd__task__v2__delete_response__descriptor,
                           (ProtobufCMessage **)&sresp, CALL_TIMEOUT_MS, err) < 0)
        return -1;
    reply_delete(req->exec_id, sresp->pid, sresp->exit_status, berth_pb_ts_ns(sresp->exited_at),
                 out);
    protobuf_c_message_free_unpacked(&sresp->base, NULL);
    return 0;
}

/* Fills a Process borrowing from st; ts is its timestamp storage. */
static void process_pb(Containerd__V1__Types__Process *p, const char *id,
                       const struct berth_rt_state *st, Google__Protobuf__Timestamp *ts)
{
    containerd__v1__types__process__init(p);
    p->id = (char *)id;
    p->pid = st->pid;
    p->status = (Containerd__V1__Types__Status)st->status;
    p->stdin = st->stdin_path;
    p->stdout = st->stdout_path;
    p->stderr = st->stderr_path;
    p->terminal = st->terminal;
    p->exit_status = st->exit_status;
    p->exited_at = berth_pb_ts_or_null(ts, st->exited_ns);
}

static int tasks_get(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
                     struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__GetRequest *req = (const void *)in;
    Containerd__Services__Tasks__V1__GetResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__GET_RESPONSE__INIT;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);
    struct berth_rt_state st;
    Containerd__V1__Types__Process p;
    Google__Protobuf__Timestamp ts;
    bool exec = req->exec_id && *req->exec_id;

    if (!t || berth_rt_task_state(berth_svc_app(ctx)->runtime, t, req->exec_id, &st, err) < 0)
        return -1;
    process_pb(&p, exec ? req->exec_id : req->container_id, &st, &ts);
    resp.process = &p;
    berth_svc_pack(out, &resp.base);
    berth_rt_state_clear(&st);
    return 0;
}

static const char *task_field(void *obj, const char *const *path, size_t n, bool *present)
{
    *present = n == 1 && (strcmp(path[0], "id") == 0 || strcmp(path[0], "container_id") == 0);
    return *present ? berth_rt_task_id(obj) : NULL;
}

static int tasks_list(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__ListTasksRequest *req = (const void *)in;
    Containerd__Services__Tasks__V1__ListTasksResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__LIST_TASKS_RESPONSE__INIT;
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    struct berth_rt *rt = rt_of(ctx, err);
    struct berth_rt_task **v = NULL;
    struct berth_rt_state *st;
    Containerd__V1__Types__Process *ps, **pp;
    Google__Protobuf__Timestamp *ts;
    size_t n = 0, k = 0;
    int ret;

    if (!rt)
        return -1;
    if (req->filter && *req->filter &&
        berth_filter_parse((const char *const *)&req->filter, 1, &f, err) < 0)
        return -1;
    berth_svc_filter_watch(f, ctx);
    berth_rt_task_list(rt, ctx->ns, &v, &n);
    st = berth_xcalloc(n + 1, sizeof(*st));
    ps = berth_xcalloc(n + 1, sizeof(*ps));
    pp = berth_xcalloc(n + 1, sizeof(*pp));
    ts = berth_xcalloc(n + 1, sizeof(*ts));
    for (size_t i = 0; i < n; i++) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (f && !berth_filter_match(f, task_field, v[i]))
            continue;
        /* A task whose shim does not answer in time is left out, as containerd does. */
        if (berth_rt_task_state(rt, v[i], NULL, &st[k], &e) < 0)
            continue;
        process_pb(&ps[k], berth_rt_task_id(v[i]), &st[k], &ts[k]);
        pp[k] = &ps[k];
        k++;
    }
    ret = berth_svc_filter_check(f, ctx, "tasks", err);
    if (ret == 0) {
        resp.tasks = pp;
        resp.n_tasks = k;
        berth_svc_pack(out, &resp.base);
    }
    for (size_t i = 0; i < k; i++)
        berth_rt_state_clear(&st[i]);
    free(st);
    free(ps);
    free(pp);
    free(ts);
    berth_rt_tasks_put(v, n);
    return ret;
}

static int tasks_kill(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__KillRequest *req = (const void *)in;
    Containerd__Task__V2__KillRequest sreq = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;

    if (berth_rt_signal_validate(req->signal, err) < 0)
        return -1;
    sreq.id = req->container_id;
    sreq.exec_id = req->exec_id;
    sreq.signal = req->signal;
    sreq.all = req->all;
    return simple_call(ctx, req->container_id, "Kill", &sreq.base, out, err);
}

static int tasks_exec(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__ExecProcessRequest *req = (const void *)in;
    Containerd__Task__V2__ExecProcessRequest sreq =
        CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;

    if (!req->exec_id || !*req->exec_id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "exec id must not be empty");
    if (berth_ident_validate(req->exec_id, err) < 0)
        return berth_err_wrap(err, "exec id");
    if (!req->spec)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "exec \"%s\": missing process spec",
                             req->exec_id);
    sreq.id = req->container_id;
    sreq.exec_id = req->exec_id;
    sreq.terminal = req->terminal;
    sreq.stdin = req->stdin;
    sreq.stdout = req->stdout;
    sreq.stderr = req->stderr;
    sreq.spec = req->spec;
    return simple_call(ctx, req->container_id, "Exec", &sreq.base, out, err);
}

static int tasks_resize_pty(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                            struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__ResizePtyRequest *req = (const void *)in;
    Containerd__Task__V2__ResizePtyRequest sreq = CONTAINERD__TASK__V2__RESIZE_PTY_REQUEST__INIT;

    sreq.id = req->container_id;
    sreq.exec_id = req->exec_id;
    sreq.width = req->width;
    sreq.height = req->height;
    return simple_call(ctx, req->container_id, "ResizePty", &sreq.base, out, err);
}

static int tasks_close_io(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__CloseIORequest *req = (const void *)in;
    Containerd__Task__V2__CloseIORequest sreq = CONTAINERD__TASK__V2__CLOSE_IOREQUEST__INIT;

    sreq.id = req->container_id;
    sreq.exec_id = req->exec_id;
    sreq.stdin = req->stdin;
    return simple_call(ctx, req->container_id, "CloseIO", &sreq.base, out, err);
}

static int tasks_pause(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                       struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__PauseTaskRequest *req = (const void *)in;
    Containerd__Task__V2__PauseRequest sreq = CONTAINERD__TASK__V2__PAUSE_REQUEST__INIT;

    sreq.id = req->container_id;
    return simple_call(ctx, req->container_id, "Pause", &sreq.base, out, err);
}

static int tasks_resume(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__ResumeTaskRequest *req = (const void *)in;
    Containerd__Task__V2__ResumeRequest sreq = CONTAINERD__TASK__V2__RESUME_REQUEST__INIT;

    sreq.id = req->container_id;
    return simple_call(ctx, req->container_id, "Resume", &sreq.base, out, err);
}

static int tasks_list_pids(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                           struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__ListPidsRequest *req = (const void *)in;
    Containerd__Services__Tasks__V1__ListPidsResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__LIST_PIDS_RESPONSE__INIT;
    Containerd__Task__V2__PidsRequest sreq = CONTAINERD__TASK__V2__PIDS_REQUEST__INIT;
    Containerd__Task__V2__PidsResponse *sresp = NULL;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);

    if (!t)
        return -1;
    sreq.id = req->container_id;
    if (berth_rt_task_call(berth_svc_app(ctx)->runtime, t, "Pids", &sreq.base,
                           &containerd__task__v2__pids_response__descriptor,
                           (ProtobufCMessage **)&sresp, CALL_TIMEOUT_MS, err) < 0)
        return -1;
    /* Same field layout: pass the shim's process list through. */
    resp.processes = sresp->processes;
    resp.n_processes = sresp->n_processes;
    berth_svc_pack(out, &resp.base);
    protobuf_c_message_free_unpacked(&sresp->base, NULL);
    return 0;
}

static int tasks_checkpoint(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                            struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__CheckpointTaskRequest *req = (const void *)in;

    (void)ctx;
    (void)out;
    return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0,
                         "checkpoint of task \"%s\" is not "
                         "supported",
                         req->container_id);
}

static int tasks_update(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__UpdateTaskRequest *req = (const void *)in;
    Containerd__Task__V2__UpdateTaskRequest sreq = CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;

    sreq.id = req->container_id;
    sreq.resources = req->resources;
    /* Both map entry types are {key=1, value=2} strings. */
    sreq.annotations =
        (Containerd__Task__V2__UpdateTaskRequest__AnnotationsEntry **)req->annotations;
    sreq.n_annotations = req->n_annotations;
    return simple_call(ctx, req->container_id, "Update", &sreq.base, out, err);
}

static int tasks_metrics(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__MetricsRequest *req = (const void *)in;
    Containerd__Services__Tasks__V1__MetricsResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__METRICS_RESPONSE__INIT;
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    struct berth_rt *rt = rt_of(ctx, err);
    struct berth_rt_task **v = NULL;
    Containerd__Task__V2__StatsResponse **stats;
    Containerd__Types__Metric *ms, **mp;
    Google__Protobuf__Timestamp now;
    size_t n = 0, k = 0;
    int ret;

    if (!rt)
        return -1;
    if (berth_filter_parse((const char *const *)req->filters, req->n_filters, &f, err) < 0)
        return -1;
    berth_svc_filter_watch(f, ctx);
    berth_rt_task_list(rt, ctx->ns, &v, &n);
    stats = berth_xcalloc(n + 1, sizeof(*stats));
    ms = berth_xcalloc(n + 1, sizeof(*ms));
    mp = berth_xcalloc(n + 1, sizeof(*mp));
    berth_pb_ts_or_null(&now, berth_now_ns());
    for (size_t i = 0; i < n; i++) {
        Containerd__Task__V2__StatsRequest sreq = CONTAINERD__TASK__V2__STATS_REQUEST__INIT;
        _cleanup_err_ struct berth_err *e = NULL;

        if (!berth_filter_match(f, task_field, v[i]))
            continue;
        sreq.id = (char *)berth_rt_task_id(v[i]);
        if (berth_rt_task_call(rt, v[i], "Stats", &sreq.base,
                               &containerd__task__v2__stats_response__descriptor,
                               (ProtobufCMessage **)&stats[k], 2000, &e) < 0)
            continue;
        containerd__types__metric__init(&ms[k]);
        ms[k].timestamp = &now;
        ms[k].id = sreq.id;
        ms[k].data = stats[k]->stats;
        mp[k] = &ms[k];
        k++;
    }
    ret = berth_svc_filter_check(f, ctx, "task metrics", err);
    if (ret == 0) {
        resp.metrics = mp;
        resp.n_metrics = k;
        berth_svc_pack(out, &resp.base);
    }
    for (size_t i = 0; i < k; i++)
        protobuf_c_message_free_unpacked(&stats[i]->base, NULL);
    free(stats);
    free(ms);
    free(mp);
    berth_rt_tasks_put(v, n);
    return ret;
}

/* Wait blocks until the process exits, so it is served as a one-message server stream: that
 * gives it a thread of its own instead of holding a worker (same bytes on the wire as unary). */
static int tasks_wait(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_stream *st, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__WaitRequest *req = (const void *)in;
    Containerd__Services__Tasks__V1__WaitResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__WAIT_RESPONSE__INIT;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);
    Google__Protobuf__Timestamp ts;
    uint32_t status = 0;
    int64_t at = 0;

    if (!t ||
        berth_rt_task_wait(berth_svc_app(ctx)->runtime, t, req->exec_id, &status, &at, err) < 0)
        return -1;
    resp.exit_status = status;
    resp.exited_at = berth_pb_ts_or_null(&ts, at);
    return berth_stream_send(st, &resp.base, err);
}

static const struct berth_method methods[] = {
    {"Create", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_create},
    {"Start", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_start},
    {"Delete", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_delete},
    {"DeleteProcess", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_delete_process},
    {"Get", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_get},
    {"List", BERTH_UNARY, BERTH_NS_REQUIRED, .listing = true, .unary = tasks_list},
    {"Kill", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_kill},
    {"Exec", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_exec},
    {"ResizePty", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_resize_pty},
    {"CloseIO", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_close_io},
    {"Pause", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_pause},
    {"Resume", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_resume},
    {"ListPids", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_list_pids},
    {"Checkpoint", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_checkpoint},
    {"Update", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = tasks_update},
    {"Metrics", BERTH_UNARY, BERTH_NS_REQUIRED, .listing = true, .unary = tasks_metrics},
    {"Wait", BERTH_SERVER_STREAM, BERTH_NS_REQUIRED, .server_stream = tasks_wait},
};

const struct berth_service berth_svc_tasks = {&containerd__services__tasks__v1__tasks__descriptor,
                                              methods, BERTH_N(methods)};
