/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reattaching to shims after a restart (containerd runtime/v2 shim_load.go loadShims) and
 * clearing what a daemon that died while creating a task left behind: a shim that answers it
 * holds no task is shut down and its bundle removed (containerd 1.7 "cleaning leaked shim
 * process", containerd#6860), a bundle whose task was never created is removed, and a task
 * whose shim died stays as a stopped task. Builds on the table helpers of manager.c.
 */
#define BERTH_LOG_SUBSYS "runtime"

#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "api/runtime/task/v2/shim.pb-c.h"
#include "lib/ident.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/v2/runtime-internal.h"

enum probe { PROBE_TASK, PROBE_NO_TASK, PROBE_UNREACHABLE };

/*
 * Asks a shim whether it holds ns/id's task. Without one, Connect answers task pid 0 (berth-shim
 * and containerd-shim-runc-v2 alike) and State NOT_FOUND ("task not found", "container not
 * created"); State decides, as Pids does for containerd. A State that fails otherwise (a
 * timeout) counts as holding the task: keeping a shim is the safe side. *err is set for
 * PROBE_UNREACHABLE only.
 */
static enum probe shim_probe(struct berth_ttrpc_client *c, const char *ns, const char *id,
                             uint32_t *task_pid, struct berth_err **err)
{
    Containerd__Task__V2__ConnectRequest creq = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
    Containerd__Task__V2__ConnectResponse *cresp = NULL;
    Containerd__Task__V2__StateRequest sreq = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
    Containerd__Task__V2__StateResponse *sresp = NULL;
    _cleanup_err_ struct berth_err *serr = NULL;

    *task_pid = 0;
    creq.id = (char *)id;
    if (berth_ttrpc_client_call(c, BERTH_RT_TASK_SERVICE, "Connect", &creq.base,
                                &containerd__task__v2__connect_response__descriptor,
                                (ProtobufCMessage **)&cresp, BERTH_RT_CONNECT_TIMEOUT_MS, ns,
                                err) < 0)
        return PROBE_UNREACHABLE;
    *task_pid = cresp->task_pid;
    protobuf_c_message_free_unpacked(&cresp->base, NULL);
    if (*task_pid)
        return PROBE_TASK;
    sreq.id = (char *)id;
    sreq.exec_id = (char *)"";
    if (berth_ttrpc_client_call(c, BERTH_RT_TASK_SERVICE, "State", &sreq.base,
                                &containerd__task__v2__state_response__descriptor,
                                (ProtobufCMessage **)&sresp, BERTH_RT_STATE_TIMEOUT_MS, ns,
                                &serr) == 0) {
        *task_pid = sresp->pid;
        protobuf_c_message_free_unpacked(&sresp->base, NULL);
        return PROBE_TASK;
    }
    if (serr->code == BERTH_E_NOT_FOUND)
        return PROBE_NO_TASK;
    if (serr->code == BERTH_E_UNAVAILABLE) {
        *err = steal_ptr(serr);
        return PROBE_UNREACHABLE;
    }
    return PROBE_TASK;
}

/* The shim exits while answering (runc-v2) or once its last connection closes (berth-shim), so
 * a lost connection is a normal answer. A shim serving other tasks too just stays. */
static void shim_shutdown(struct berth_ttrpc_client *c, const struct berth_rt_task *t)
{
    Containerd__Task__V2__ShutdownRequest req = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
    _cleanup_err_ struct berth_err *err = NULL;

    req.id = t->id;
    berth_ttrpc_client_call(c, BERTH_RT_TASK_SERVICE, "Shutdown", &req.base, NULL, NULL,
                            BERTH_RT_SHUTDOWN_TIMEOUT_MS, t->ns, &err);
}

/* Runs the shim's `delete` (it removes the runc state a Create cut short may leave: runc-v2
 * cancels Create, midway through `runc create`, when the daemon's connection drops), then
 * removes the bundle. */
static void bundle_clear(struct berth_rt *rt, struct berth_rt_task *t)
{
    uint32_t pid, status;
    int64_t at;

    berth_rt_shim_delete(rt, t->binary, t->ns, t->id, t->bundle, &pid, &status, &at);
    berth_rt_log_detach(rt, t);
    berth_rt_bundle_remove(t->bundle);
}

static void log_orphan(const struct berth_rt_task *t)
{
    log_warn("task %s/%s: its shim holds no task (the daemon stopped before Create finished): "
             "shim shut down, bundle removed",
             t->ns, t->id);
}

enum berth_rt_recovered berth_rt_task_recover(struct berth_rt *rt, struct berth_rt_task *t)
{
    _cleanup_err_ struct berth_err *err = NULL;
    _cleanup_free_ char *addr = NULL;
    _cleanup_free_ char *init_pid = NULL;
    enum probe pr = PROBE_UNREACHABLE;
    uint32_t task_pid = 0;

    t->binary = berth_rt_bundle_read(t->bundle, "shim-binary-path");
    addr = berth_rt_bundle_read(t->bundle, "address");
    berth_rt_log_attach(rt, t);
    if ((!addr || !*addr) && t->binary && *t->binary) {
        /* `start` may have forked the shim without writing the address yet (berth-shim writes
         * it after the fork). Asked again, it answers the running shim's address (both shims
         * reuse a socket that accepts), or starts a fresh shim that holds no task either. */
        free(steal_ptr(addr));
        if (berth_rt_shim_start(rt, t->binary, t->ns, t->id, t->bundle, NULL, &addr, &err) < 0)
            berth_err_free(&err);
    }
    if (addr && *addr && berth_ttrpc_client_dial(addr, 0, &t->client, &err) == 0)
        pr = shim_probe(t->client, t->ns, t->id, &task_pid, &err);
    if (pr == PROBE_TASK) {
        t->pid = task_pid;
        log_info("reattached to task %s/%s (pid %u)", t->ns, t->id, task_pid);
        return BERTH_RT_RECOVERED_LIVE;
    }
    if (pr == PROBE_NO_TASK) {
        shim_shutdown(t->client, t);
        berth_ttrpc_client_close(steal_ptr(t->client)); /* berth-shim waits for this */
        bundle_clear(rt, t);
        free(steal_ptr(t->binary));
        log_orphan(t);
        return BERTH_RT_RECOVERED_GONE;
    }
    /* The shim writes init.pid when it creates the task: without it there is no task whose
     * exit could be reported, only a bundle to remove. */
    init_pid = berth_rt_bundle_read(t->bundle, "init.pid");
    if (!init_pid || !*init_pid) {
        berth_ttrpc_client_close(steal_ptr(t->client));
        bundle_clear(rt, t);
        free(steal_ptr(t->binary));
        log_warn("task %s/%s: no shim and no task (the daemon stopped while creating it): bundle "
                 "removed",
                 t->ns, t->id);
        return BERTH_RT_RECOVERED_GONE;
    }
    log_warn("task %s/%s: shim unreachable (%s)", t->ns, t->id, err ? err->msg : "no address");
    berth_rt_task_mark_dead(rt, t);
    return BERTH_RT_RECOVERED_STOPPED;
}

bool berth_rt_task_reap_orphan(struct berth_rt *rt, struct berth_rt_task *t)
{
    _cleanup_err_ struct berth_err *err = NULL;
    struct berth_ttrpc_client *c;
    uint32_t task_pid;
    bool creating, claimed;

    pthread_mutex_lock(&rt->lock);
    creating = t->creating;
    pthread_mutex_unlock(&rt->lock);
    c = berth_rt_task_client(t);
    if (creating || !c || shim_probe(c, t->ns, t->id, &task_pid, &err) != PROBE_NO_TASK)
        return false;
    /* One caller cleans up; to everyone still holding t it is a stopped task from here on. The
     * connection closes with the last reference, and berth-shim leaves then. */
    pthread_mutex_lock(&t->lock);
    claimed = !t->dead;
    t->dead = true;
    pthread_mutex_unlock(&t->lock);
    if (!claimed)
        return false;
    shim_shutdown(c, t);
    bundle_clear(rt, t);
    berth_rt_task_unlink(rt, t);
    log_orphan(t);
    return true;
}

/* Recovers a fresh entry put in the table as creating: drops it when nothing held a task. */
static void adopt(struct berth_rt *rt, struct berth_rt_task *t)
{
    if (berth_rt_task_recover(rt, t) == BERTH_RT_RECOVERED_GONE)
        berth_rt_task_unlink(rt, t);
    else
        berth_rt_task_publish(rt, t);
}

void berth_rt_task_reap(struct berth_rt *rt, const char *ns, const char *id)
{
    _cleanup_err_ struct berth_err *err = NULL;
    struct berth_rt_task *t, *other;

    /* The ids name a directory that may get removed: nothing like "../x" gets that far. */
    if (berth_ident_validate(ns, &err) < 0 || berth_ident_validate(id, &err) < 0)
        return;
    t = berth_rt_task_alloc(rt, ns, id);
    /* Every leftover has a bundle; a stopped entry's is gone already. */
    t->creating = true;
    if (access(t->bundle, F_OK) == 0) {
        other = berth_rt_table_add(rt, t);
        if (other) {
            berth_rt_task_reap_orphan(rt, other);
            berth_rt_task_put(other);
        } else {
            adopt(rt, t);
        }
    }
    berth_rt_task_put(t);
}

static void restore_one(struct berth_rt *rt, const char *ns, const char *id)
{
    struct berth_rt_task *t = berth_rt_task_alloc(rt, ns, id), *other;

    /* In the table while it is recovered, so exits the shim forwards meanwhile are noted. */
    t->creating = true;
    other = berth_rt_table_add(rt, t);
    if (other)
        berth_rt_task_put(other); /* cannot happen: one bundle per ns/id */
    else
        adopt(rt, t);
    berth_rt_task_put(t);
}

void berth_rt_restore(struct berth_rt *rt)
{
    _cleanup_free_ char *tasks = berth_strdup_printf("%s/tasks", rt->state);
    DIR *nsd = opendir(tasks);
    struct dirent *nse;

    if (!nsd)
        return;
    while ((nse = readdir(nsd))) {
        _cleanup_free_ char *nsdir = NULL;
        DIR *idd;
        struct dirent *ide;

        if (nse->d_name[0] == '.')
            continue;
        nsdir = berth_strdup_printf("%s/%s", tasks, nse->d_name);
        idd = opendir(nsdir);
        if (!idd)
            continue;
        while ((ide = readdir(idd))) {
            _cleanup_free_ char *b = NULL;
            if (strcmp(ide->d_name, ".") == 0 || strcmp(ide->d_name, "..") == 0)
                continue;
            b = berth_strdup_printf("%s/%s", nsdir, ide->d_name);
            if (ide->d_name[0] == '.') { /* a removal that did not finish */
                berth_rt_bundle_remove(b);
                continue;
            }
            restore_one(rt, nse->d_name, ide->d_name);
        }
        closedir(idd);
        rmdir(nsdir); /* fails unless every bundle of the namespace is gone */
    }
    closedir(nsd);
}
