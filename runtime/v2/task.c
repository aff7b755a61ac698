/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The typed task calls: each builds one containerd.task.v2 request from plain C arguments,
 * sends it with berth_rt_task_call and turns the reply back into plain C, so neither the Tasks
 * service nor the CRI handles shim messages. The life cycle calls (create, state, wait,
 * delete) live with the task table in manager.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "api/runtime/task/v2/shim.pb-c.h"
#include "api/timestamp.h"
#include "lib/ident.h"
#include "lib/util.h"
#include "runtime/shim/attach.h" /* the socket's name and address; header only */
#include "runtime/v2/runtime-internal.h"

/* The shim reads an absent string as "": send "" rather than rely on NULL packing as empty. */
static char *str_or_empty(const char *s)
{
    return (char *)(s ? s : "");
}

int berth_rt_task_start(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                        uint32_t *pid, struct berth_err **err)
{
    Containerd__Task__V2__StartRequest req = CONTAINERD__TASK__V2__START_REQUEST__INIT;
    Containerd__Task__V2__StartResponse *resp = NULL;

    *pid = 0;
    req.id = t->id;
    req.exec_id = str_or_empty(exec_id);
    if (berth_rt_task_call(rt, t, "Start", &req.base,
                           &containerd__task__v2__start_response__descriptor,
                           (ProtobufCMessage **)&resp, 0, err) < 0)
        return -1;
    *pid = resp->pid;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int berth_rt_task_kill(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                       uint32_t signal, bool all, struct berth_err **err)
{
    Containerd__Task__V2__KillRequest req = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;

    if (berth_rt_signal_validate(signal, err) < 0)
        return -1;
    req.id = t->id;
    req.exec_id = str_or_empty(exec_id);
    req.signal = signal;
    req.all = all;
    return berth_rt_task_call(rt, t, "Kill", &req.base, NULL, NULL, 0, err);
}

/* An exec id is an identifier, so it can name a FIFO or a state directory in the shim. */
static int exec_id_check(const char *exec_id, struct berth_err **err)
{
    if (!exec_id || !*exec_id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "exec id must not be empty");
    if (berth_ident_validate(exec_id, err) < 0)
        return berth_err_wrap(err, "exec id");
    return 0;
}

int berth_rt_task_exec(struct berth_rt *rt, struct berth_rt_task *t,
                       const struct berth_rt_exec_opts *o, struct berth_err **err)
{
    Containerd__Task__V2__ExecProcessRequest req = CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
    Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT;

    if (exec_id_check(o->exec_id, err) < 0)
        return -1;
    if (!o->spec)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "exec \"%s\": missing process spec",
                             o->exec_id);
    spec.type_url = (char *)(o->spec_type ? o->spec_type : BERTH_RT_PROCESS_SPEC_TYPE);
    spec.value.data = (uint8_t *)o->spec;
    spec.value.len = o->spec_len;
    req.id = t->id;
    req.exec_id = (char *)o->exec_id;
    req.terminal = o->io.terminal;
    req.stdin = str_or_empty(o->io.stdin_path);
    req.stdout = str_or_empty(o->io.stdout_path);
    req.stderr = str_or_empty(o->io.stderr_path);
    req.spec = &spec;
    return berth_rt_task_call(rt, t, "Exec", &req.base, NULL, NULL, 0, err);
}

int berth_rt_task_delete_process(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                                 uint32_t *pid, uint32_t *exit_status, int64_t *exited_ns,
                                 struct berth_err **err)
{
    Containerd__Task__V2__DeleteRequest req = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
    Containerd__Task__V2__DeleteResponse *resp = NULL;

    /* An empty exec id would make the shim delete the init process and leave the table entry
     * and the shim behind: that is berth_rt_task_delete's job. */
    if (!exec_id || !*exec_id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "exec id must not be empty");
    req.id = t->id;
    req.exec_id = (char *)exec_id;
    if (berth_rt_task_call(rt, t, "Delete", &req.base,
                           &containerd__task__v2__delete_response__descriptor,
                           (ProtobufCMessage **)&resp, 0, err) < 0)
        return -1;
    if (pid)
        *pid = resp->pid;
    if (exit_status)
        *exit_status = resp->exit_status;
    if (exited_ns)
        *exited_ns = berth_pb_ts_ns(resp->exited_at);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int berth_rt_task_pause(struct berth_rt *rt, struct berth_rt_task *t, struct berth_err **err)
{
    Containerd__Task__V2__PauseRequest req = CONTAINERD__TASK__V2__PAUSE_REQUEST__INIT;

    req.id = t->id;
    return berth_rt_task_call(rt, t, "Pause", &req.base, NULL, NULL, 0, err);
}

int berth_rt_task_resume(struct berth_rt *rt, struct berth_rt_task *t, struct berth_err **err)
{
    Containerd__Task__V2__ResumeRequest req = CONTAINERD__TASK__V2__RESUME_REQUEST__INIT;

    req.id = t->id;
    return berth_rt_task_call(rt, t, "Resume", &req.base, NULL, NULL, 0, err);
}

int berth_rt_task_resize_pty(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                             uint32_t width, uint32_t height, struct berth_err **err)
{
    Containerd__Task__V2__ResizePtyRequest req = CONTAINERD__TASK__V2__RESIZE_PTY_REQUEST__INIT;

    req.id = t->id;
    req.exec_id = str_or_empty(exec_id);
    req.width = width;
    req.height = height;
    return berth_rt_task_call(rt, t, "ResizePty", &req.base, NULL, NULL, 0, err);
}

int berth_rt_task_close_io(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                           bool close_stdin, struct berth_err **err)
{
    Containerd__Task__V2__CloseIORequest req = CONTAINERD__TASK__V2__CLOSE_IOREQUEST__INIT;

    req.id = t->id;
    req.exec_id = str_or_empty(exec_id);
    req.stdin = close_stdin;
    return berth_rt_task_call(rt, t, "CloseIO", &req.base, NULL, NULL, 0, err);
}

int berth_rt_task_attach(struct berth_rt *rt, struct berth_rt_task *t, int *fd,
                         struct berth_err **err)
{
    _cleanup_close_ int dirfd = -1, sock = -1;
    struct sockaddr_un sa;
    bool dead;

    (void)rt;
    *fd = -1;
    pthread_mutex_lock(&t->lock);
    dead = t->dead;
    pthread_mutex_unlock(&t->lock);
    /* The bundle path is longer than sun_path allows: connect through its /proc/self/fd link
     * (no chdir in a daemon with threads). */
    dirfd = dead ? -1 : open(t->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
    sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "attach socket");
    /* A non-blocking connect to a unix socket completes at once or fails (EAGAIN: backlog
     * full), it never stays in progress. */
    if (dirfd < 0 ||
        connect(sock, (struct sockaddr *)&sa, berth_shim_attach_sockaddr(dirfd, &sa)) < 0) {
        /* no socket: a foreign shim, no CRI log, or the task (or its shim) is gone */
        if (dead || errno == ENOENT || errno == ECONNREFUSED)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, dead ? 0 : errno,
                                 "container \"%s\" has no attach socket", t->id);
        return berth_err_set(err, errno == EAGAIN ? BERTH_E_UNAVAILABLE : BERTH_E_INTERNAL, errno,
                             "connect to the attach socket of container \"%s\"", t->id);
    }
    *fd = steal_fd(sock);
    return 0;
}

int berth_rt_task_update(struct berth_rt *rt, struct berth_rt_task *t,
                         const Google__Protobuf__Any *resources,
                         const struct berth_labels *annotations, struct berth_err **err)
{
    Containerd__Task__V2__UpdateTaskRequest req = CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;
    _cleanup_free_ Containerd__Task__V2__UpdateTaskRequest__AnnotationsEntry *entries = NULL;
    _cleanup_free_ Containerd__Task__V2__UpdateTaskRequest__AnnotationsEntry **ptrs = NULL;
    size_t n = annotations ? annotations->n : 0;

    /* The entries borrow the label strings: they outlive the call. */
    entries = berth_xcalloc(n + 1, sizeof(*entries));
    ptrs = berth_xcalloc(n + 1, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        containerd__task__v2__update_task_request__annotations_entry__init(&entries[i]);
        entries[i].key = annotations->keys[i];
        entries[i].value = annotations->vals[i];
        ptrs[i] = &entries[i];
    }
    req.id = t->id;
    req.resources = (Google__Protobuf__Any *)resources;
    req.annotations = ptrs;
    req.n_annotations = n;
    return berth_rt_task_call(rt, t, "Update", &req.base, NULL, NULL, 0, err);
}

void berth_rt_pids_free(struct berth_rt_pid *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        if (v[i].info)
            protobuf_c_message_free_unpacked(&v[i].info->base, NULL);
    free(v);
}

int berth_rt_task_pids(struct berth_rt *rt, struct berth_rt_task *t, struct berth_rt_pid **out,
                       size_t *n_out, struct berth_err **err)
{
    Containerd__Task__V2__PidsRequest req = CONTAINERD__TASK__V2__PIDS_REQUEST__INIT;
    Containerd__Task__V2__PidsResponse *resp = NULL;
    struct berth_rt_pid *v;

    *out = NULL;
    *n_out = 0;
    req.id = t->id;
    if (berth_rt_task_call(rt, t, "Pids", &req.base,
                           &containerd__task__v2__pids_response__descriptor,
                           (ProtobufCMessage **)&resp, 0, err) < 0)
        return -1;
    v = berth_xcalloc(resp->n_processes + 1, sizeof(*v));
    for (size_t i = 0; i < resp->n_processes; i++) {
        v[i].pid = resp->processes[i]->pid;
        /* Unpacked sub-messages are separate allocations: take the info over as it is. */
        v[i].info = steal_ptr(resp->processes[i]->info);
    }
    *n_out = resp->n_processes;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    *out = v;
    return 0;
}

int berth_rt_task_stats(struct berth_rt *rt, struct berth_rt_task *t, Google__Protobuf__Any **out,
                        struct berth_err **err)
{
    Containerd__Task__V2__StatsRequest req = CONTAINERD__TASK__V2__STATS_REQUEST__INIT;
    Containerd__Task__V2__StatsResponse *resp = NULL;

    *out = NULL;
    req.id = t->id;
    if (berth_rt_task_call(rt, t, "Stats", &req.base,
                           &containerd__task__v2__stats_response__descriptor,
                           (ProtobufCMessage **)&resp, BERTH_RT_STATS_TIMEOUT_MS, err) < 0)
        return -1;
    *out = steal_ptr(resp->stats);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}
