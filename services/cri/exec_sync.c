/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ExecSync (containerd.md §8.6): the container's process spec with other args, run through the
 * shim's Exec with FIFOs berthd reads itself; each stream kept up to 16 MiB (the rest read and
 * dropped, as containerd does); a timeout kills the exec and answers DEADLINE_EXCEEDED.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/v2/runtime.h"
#include "services/cri/cri-internal.h"
#include "services/cri/record.h"

#define EXEC_OUTPUT_MAX (16 << 20)

struct capture {
    int fd;
    struct berth_bytes buf;
    size_t cap;
    bool eof;
};

/* Reads what is there; false once EOF. */
static void capture_read(struct capture *cp)
{
    char tmp[65536];

    for (;;) {
        ssize_t n = read(cp->fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return; /* EAGAIN */
        if (n == 0) {
            cp->eof = true;
            return;
        }
        if (cp->buf.len < EXEC_OUTPUT_MAX) {
            size_t keep = (size_t)n;
            if (keep > EXEC_OUTPUT_MAX - cp->buf.len)
                keep = EXEC_OUTPUT_MAX - cp->buf.len;
            if (cp->buf.len + keep > cp->cap) {
                cp->cap = (cp->buf.len + keep) * 2;
                cp->buf.data = berth_xrealloc(cp->buf.data, cp->cap);
            }
            memcpy(cp->buf.data + cp->buf.len, tmp, keep);
            cp->buf.len += keep;
        }
    }
}

/* The container's process object with args replaced (and a terminal for tty: TERM=xterm
 * unless the container sets TERM, as containerd does); NULL + err when the record is gone. */
char *cri_exec_process(struct berth_cri *c, struct cri_container *k, char *const *cmd, size_t n_cmd,
                       bool tty, uint16_t width, uint16_t height, struct berth_err **err)
{
    json_t *spec, *proc, *args, *env;
    char *text;

    if (!(spec = cri_record_spec(c, k->id, NULL, err)))
        return NULL;
    proc = json_object_get(spec, "process");
    if (!proc) {
        json_decref(spec);
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "container \"%s\" has no process spec",
                      k->id);
        return NULL;
    }
    args = json_array();
    for (size_t i = 0; i < n_cmd; i++)
        json_array_append_new(args, json_string(cmd[i]));
    json_object_set_new(proc, "args", args);
    json_object_set_new(proc, "terminal", json_boolean(tty));
    json_object_del(proc, "consoleSize");
    if (tty) {
        bool has_term = false;
        size_t i;
        json_t *v;
        env = json_object_get(proc, "env");
        if (!json_is_array(env)) {
            env = json_array();
            json_object_set_new(proc, "env", env);
        }
        json_array_foreach(env, i, v)
        {
            if (json_is_string(v) && !strncmp(json_string_value(v), "TERM=", 5))
                has_term = true;
        }
        if (!has_term)
            json_array_append_new(env, json_string("TERM=xterm"));
        if (width && height)
            json_object_set_new(proc, "consoleSize",
                                json_pack("{s:i,s:i}", "height", height, "width", width));
    }
    text = json_dumps(proc, JSON_COMPACT);
    json_decref(spec);
    return text;
}

int cri_exec_fifos(struct berth_cri *c, const char *container_id, const char *exec_id,
                   const bool want[3], char *paths[3], struct berth_err **err)
{
    static const char *const names[3] = {"stdin", "stdout", "stderr"};
    _cleanup_free_ char *st = cri_container_state(c, container_id);
    _cleanup_free_ char *dir = berth_strdup_printf("%s/io", st);

    paths[0] = paths[1] = paths[2] = NULL;
    if (berth_mkdir_p(dir, 0711, 0700, err) < 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (!want[i])
            continue;
        paths[i] = berth_strdup_printf("%s/%s-%s", dir, exec_id, names[i]);
        if (mkfifo(paths[i], 0600) < 0) {
            berth_err_set(err, BERTH_E_INTERNAL, errno, "exec FIFO \"%s\"", paths[i]);
            cri_exec_fifos_remove(paths);
            return -1;
        }
    }
    return 0;
}

void cri_exec_fifos_remove(char *paths[3])
{
    for (int i = 0; i < 3; i++) {
        if (paths[i])
            unlink(paths[i]);
        free(paths[i]);
        paths[i] = NULL;
    }
}

CRI_RPC(cri_exec_sync)
{
    const Runtime__V1__ExecSyncRequest *req = (const void *)in;
    Runtime__V1__ExecSyncResponse resp = RUNTIME__V1__EXEC_SYNC_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_container *k = NULL;
    struct berth_rt_task *t = NULL;
    struct capture cap[2] = {{.fd = -1}, {.fd = -1}};
    _cleanup_free_ char *proc = NULL;
    char *paths[3] = {NULL, NULL, NULL};
    static const bool want[3] = {false, true, true};
    char exec_id[65];
    bool started = false, timed_out = false, exited = false;
    int64_t deadline = 0;
    uint32_t pid, status = 0;
    int64_t at;
    enum cri_ctr_phase ph;
    int ret = -1;

    if (!c || cri_container_get(c, req->container_id, &k, err) < 0)
        return -1;
    if (req->n_cmd == 0) {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "exec in container \"%s\": empty command",
                      k->id);
        goto out;
    }
    pthread_mutex_lock(&c->mu);
    ph = cri_ctr_phase(&k->st);
    pthread_mutex_unlock(&c->mu);
    if (ph != CTR_RUNNING) {
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "container \"%s\" is not running",
                      k->id);
        goto out;
    }
    if (!(proc = cri_exec_process(c, k, req->cmd, req->n_cmd, false, 0, 0, err)) ||
        berth_rt_task_get(c->svc->runtime, CRI_NS, k->id, &t, err) < 0)
        goto out;
    cri_new_id(exec_id);
    exec_id[32] = 0; /* shorter ids keep the FIFO paths short */
    if (cri_exec_fifos(c, k->id, exec_id, want, paths, err) < 0)
        goto out;
    cap[0].fd = open(paths[1], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    cap[1].fd = open(paths[2], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (cap[0].fd < 0 || cap[1].fd < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "open exec FIFOs");
        goto out;
    }
    {
        struct berth_rt_exec_opts eo = {
            .exec_id = exec_id,
            .spec = proc,
            .spec_len = strlen(proc),
            .io = {.stdin_path = "", .stdout_path = paths[1], .stderr_path = paths[2]}};
        if (berth_rt_task_exec(c->svc->runtime, t, &eo, err) < 0)
            goto out;
        started = true;
        if (berth_rt_task_start(c->svc->runtime, t, exec_id, &pid, err) < 0)
            goto out;
    }
    if (req->timeout > 0)
        deadline = berth_mono_ns() + req->timeout * 1000000000LL;
    /* Until both streams end, or the exec ended and its streams drained (a daemonized child
     * may hold them open forever). */
    while (!(cap[0].eof && cap[1].eof)) {
        struct pollfd pf[2];
        int np = 0, r;
        for (int i = 0; i < 2; i++)
            if (!cap[i].eof)
                pf[np++] = (struct pollfd){.fd = cap[i].fd, .events = POLLIN};
        r = poll(pf, (nfds_t)np, 100);
        for (int i = 0; i < 2; i++)
            if (!cap[i].eof)
                capture_read(&cap[i]);
        if (r == 0) {
            struct berth_rt_state st = {0};
            _cleanup_err_ struct berth_err *e = NULL;
            if (deadline && berth_mono_ns() >= deadline) {
                timed_out = true;
                break;
            }
            if (exited)
                break; /* drained after the exit */
            if (berth_rt_task_state(c->svc->runtime, t, exec_id, &st, &e) == 0 &&
                st.status == 3 /* STOPPED */)
                exited = true;
            berth_rt_state_clear(&st);
        }
    }
    if (timed_out) {
        _cleanup_err_ struct berth_err *e = NULL;
        (void)berth_rt_task_kill(c->svc->runtime, t, exec_id, SIGKILL, false, &e);
        berth_err_free(&e);
        (void)berth_rt_task_wait(c->svc->runtime, t, exec_id, &status, &at, &e);
        berth_err_set(err, BERTH_E_DEADLINE_EXCEEDED, 0,
                      "command in container \"%s\" timed out after %llds", k->id,
                      (long long)req->timeout);
        goto out;
    }
    if (berth_rt_task_wait(c->svc->runtime, t, exec_id, &status, &at, err) < 0)
        goto out;
    resp.stdout.data = cap[0].buf.data;
    resp.stdout.len = cap[0].buf.len;
    resp.stderr.data = cap[1].buf.data;
    resp.stderr.len = cap[1].buf.len;
    resp.exit_code = (int32_t)status;
    berth_svc_pack(out, &resp.base);
    ret = 0;
out:
    if (started) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_rt_task_delete_process(c->svc->runtime, t, exec_id, NULL, NULL, NULL, &e) < 0 &&
            e->code != BERTH_E_NOT_FOUND)
            log_warn("ns=%s container=%s exec=%s delete: %s", CRI_NS, k->id, exec_id, e->msg);
    }
    for (int i = 0; i < 2; i++) {
        if (cap[i].fd >= 0)
            close(cap[i].fd);
        berth_bytes_clear(&cap[i].buf);
    }
    cri_exec_fifos_remove(paths);
    berth_rt_task_put(t);
    cri_container_put(c, k);
    return ret;
}
