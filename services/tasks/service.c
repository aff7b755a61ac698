/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tasks service (containerd.services.tasks.v1): a thin adapter over the runtime manager's
 * typed task calls (runtime/v2/runtime.h; Create from the container record, runtime/v2/
 * record.h), as containerd 1.6 services/tasks/local.go is over its runtime. Here: decode,
 * validate, convert to and from the plain C of the runtime API. The shims publish the task
 * events themselves.
 */
#include <string.h>

#include "api/services/tasks/v1/tasks.pb-c.h"
#include "api/timestamp.h"
#include "google/protobuf/empty.pb-c.h"
#include "lib/filters.h"
#include "lib/ident.h"
#include "metadata/record.h" /* berth_labels_from_pb */
#include "runtime/v2/record.h"
#include "runtime/v2/runtime.h"
#include "services/services.h"

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

static int tasks_create(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__CreateTaskRequest *req = (const void *)in;
    Containerd__Services__Tasks__V1__CreateTaskResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_RESPONSE__INIT;
    struct berth_services *app = berth_svc_app(ctx);
    struct berth_rt_record_create o = {0};
    struct berth_mount *mounts = NULL;
    uint32_t pid = 0;
    int ret;

    if (req->checkpoint)
        return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0,
                             "checkpoint restore is not supported");
    if (req->n_rootfs > 0)
        berth_mounts_from_pb(req->rootfs, req->n_rootfs, &mounts);
    o.ns = ctx->ns;
    o.id = req->container_id;
    o.io.stdin_path = req->stdin;
    o.io.stdout_path = req->stdout;
    o.io.stderr_path = req->stderr;
    o.io.terminal = req->terminal;
    o.runtime_path = req->runtime_path;
    o.options = req->options;
    o.rootfs = mounts;
    o.n_rootfs = req->n_rootfs;
    /* A NULL runtime is reported after the argument and record checks (UNAVAILABLE). */
    ret = berth_rt_task_create_from_record(app->runtime, app->db, app->snapshotters, &o, &pid, err);
    berth_mounts_free(mounts, req->n_rootfs);
    if (ret < 0)
        return -1;
    resp.container_id = req->container_id;
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
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);
    uint32_t pid = 0;

    if (!t || berth_rt_task_start(berth_svc_app(ctx)->runtime, t, req->exec_id, &pid, err) < 0)
        return -1;
    resp.pid = pid;
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
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = NULL;
    uint32_t pid = 0, status = 0;
    int64_t at = 0;

    if (!req->exec_id || !*req->exec_id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "exec id must not be empty");
    t = task_of(ctx, req->container_id, err);
    if (!t || berth_rt_task_delete_process(berth_svc_app(ctx)->runtime, t, req->exec_id, &pid,
                                           &status, &at, err) < 0)
        return -1;
    return reply_delete(req->exec_id, pid, status, at, out);
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
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = NULL;

    /* A bad signal is INVALID_ARGUMENT even for a missing task. */
    if (berth_rt_signal_validate(req->signal, err) < 0)
        return -1;
    t = task_of(ctx, req->container_id, err);
    if (!t || berth_rt_task_kill(berth_svc_app(ctx)->runtime, t, req->exec_id, req->signal,
                                 req->all, err) < 0)
        return -1;
    return reply_empty(out);
}

static int tasks_exec(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__ExecProcessRequest *req = (const void *)in;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = NULL;
    struct berth_rt_exec_opts o = {0};

    /* Checked before the task is looked up, as the runtime API checks them again after. */
    if (!req->exec_id || !*req->exec_id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "exec id must not be empty");
    if (berth_ident_validate(req->exec_id, err) < 0)
        return berth_err_wrap(err, "exec id");
    if (!req->spec)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "exec \"%s\": missing process spec",
                             req->exec_id);
    t = task_of(ctx, req->container_id, err);
    if (!t)
        return -1;
    o.exec_id = req->exec_id;
    /* The client's Any goes to the shim as it came: its type URL with its bytes. */
    o.spec = req->spec->value.data ? (const void *)req->spec->value.data : "";
    o.spec_len = req->spec->value.len;
    o.spec_type = req->spec->type_url;
    o.io.stdin_path = req->stdin;
    o.io.stdout_path = req->stdout;
    o.io.stderr_path = req->stderr;
    o.io.terminal = req->terminal;
    if (berth_rt_task_exec(berth_svc_app(ctx)->runtime, t, &o, err) < 0)
        return -1;
    return reply_empty(out);
}

static int tasks_resize_pty(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                            struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__ResizePtyRequest *req = (const void *)in;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);

    if (!t || berth_rt_task_resize_pty(berth_svc_app(ctx)->runtime, t, req->exec_id, req->width,
                                       req->height, err) < 0)
        return -1;
    return reply_empty(out);
}

static int tasks_close_io(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__CloseIORequest *req = (const void *)in;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);

    if (!t ||
        berth_rt_task_close_io(berth_svc_app(ctx)->runtime, t, req->exec_id, req->stdin, err) < 0)
        return -1;
    return reply_empty(out);
}

static int tasks_pause(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                       struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__PauseTaskRequest *req = (const void *)in;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);

    if (!t || berth_rt_task_pause(berth_svc_app(ctx)->runtime, t, err) < 0)
        return -1;
    return reply_empty(out);
}

static int tasks_resume(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__ResumeTaskRequest *req = (const void *)in;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);

    if (!t || berth_rt_task_resume(berth_svc_app(ctx)->runtime, t, err) < 0)
        return -1;
    return reply_empty(out);
}

static int tasks_list_pids(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                           struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Tasks__V1__ListPidsRequest *req = (const void *)in;
    Containerd__Services__Tasks__V1__ListPidsResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__LIST_PIDS_RESPONSE__INIT;
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);
    _cleanup_free_ Containerd__V1__Types__ProcessInfo *infos = NULL;
    _cleanup_free_ Containerd__V1__Types__ProcessInfo **ptrs = NULL;
    struct berth_rt_pid *pids = NULL;
    size_t n = 0;

    if (!t || berth_rt_task_pids(berth_svc_app(ctx)->runtime, t, &pids, &n, err) < 0)
        return -1;
    infos = berth_xcalloc(n + 1, sizeof(*infos));
    ptrs = berth_xcalloc(n + 1, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        containerd__v1__types__process_info__init(&infos[i]);
        infos[i].pid = pids[i].pid;
        infos[i].info = pids[i].info; /* borrowed until the pack below */
        ptrs[i] = &infos[i];
    }
    resp.processes = ptrs;
    resp.n_processes = n;
    berth_svc_pack(out, &resp.base);
    berth_rt_pids_free(pids, n);
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
    _cleanup_(berth_rt_task_putp) struct berth_rt_task *t = task_of(ctx, req->container_id, err);
    struct berth_labels annotations = {0};
    int ret;

    if (!t)
        return -1;
    berth_labels_from_pb(&annotations, (void *const *)req->annotations, req->n_annotations);
    ret = berth_rt_task_update(berth_svc_app(ctx)->runtime, t, req->resources, &annotations, err);
    berth_labels_clear(&annotations);
    if (ret < 0)
        return -1;
    return reply_empty(out);
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
    Google__Protobuf__Any **stats;
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
        _cleanup_err_ struct berth_err *e = NULL;

        if (!berth_filter_match(f, task_field, v[i]))
            continue;
        /* A task whose shim does not answer in time is left out, as containerd does. */
        if (berth_rt_task_stats(rt, v[i], &stats[k], &e) < 0)
            continue;
        containerd__types__metric__init(&ms[k]);
        ms[k].timestamp = &now;
        ms[k].id = (char *)berth_rt_task_id(v[i]);
        ms[k].data = stats[k];
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
        if (stats[i])
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
