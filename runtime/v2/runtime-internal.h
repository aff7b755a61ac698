/* SPDX-License-Identifier: Apache-2.0 */
/* runtime/v2 internals shared by the manager, the bundle helpers and the shim launcher. */
#ifndef BERTH_RUNTIME_V2_INTERNAL_H
#define BERTH_RUNTIME_V2_INTERNAL_H

#include <pthread.h>

#include "runtime/v2/runtime.h"
#include "ttrpc/client.h"

/* Shim call bounds (containerd's io.containerd.timeout.shim.load/.shutdown are 5 s and 3 s). */
#define BERTH_RT_CONNECT_TIMEOUT_MS  5000
#define BERTH_RT_SHUTDOWN_TIMEOUT_MS 3000
#define BERTH_RT_STATE_TIMEOUT_MS    2000

struct berth_rt_task {
    struct berth_rt_task *next;
    int refs; /* guarded by lock */
    char *ns, *id, *bundle, *binary;
    pthread_mutex_t lock;              /* guards what follows */
    struct berth_ttrpc_client *client; /* NULL once the shim is dead (or while creating) */
    bool creating;
    bool dead;
    uint32_t pid, exit_status;
    int64_t exited_ns;
    int log_fd;
};

struct berth_rt {
    char *state, *address, *daemon_path, *bin_dir, *default_runtime;
    char *oci_binary; /* NULL: the shim's default (runc) */
    berth_rt_event_fn on_event;
    void *event_arg;
    pthread_mutex_t lock;
    struct berth_rt_task *tasks;
    int listen_fd, stop_fd, log_epfd;
    pthread_t events_thread, log_thread;
    bool events_started, log_started;
    struct berth_ttrpc_server *srv;
};

/* ---- the task table (manager.c) ---- */

/*
 * Calls containerd.task.v2.Task/<method> on the task's shim (see berth_ttrpc_client_call).
 * FAILED_PRECONDITION "task is stopped" when the shim is gone; a lost connection turns the
 * task into a dead one (shim `delete` run, TaskExit published) and returns UNAVAILABLE. Errors
 * are wrapped as "task \"<id>\": <method>". Outside runtime/v2 use the typed calls (task.c).
 */
int berth_rt_task_call(struct berth_rt *rt, struct berth_rt_task *t, const char *method,
                       const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                       ProtobufCMessage **resp, int64_t timeout_ms, struct berth_err **err);

/* A fresh entry for ns/id (one reference, bundle path set, not in the table). */
struct berth_rt_task *berth_rt_task_alloc(struct berth_rt *rt, const char *ns, const char *id);
void berth_rt_task_ref(struct berth_rt_task *t);
/* Adds t (the table takes a reference) unless ns/id is taken: then returns the entry that holds
 * it, with a reference for the caller. NULL when t was added. */
struct berth_rt_task *berth_rt_table_add(struct berth_rt *rt, struct berth_rt_task *t);
/* Drops t from the table (and the table's reference) if it is there. */
void berth_rt_task_unlink(struct berth_rt *rt, struct berth_rt_task *t);
/* Makes an entry added with creating set visible to get and list. */
void berth_rt_task_publish(struct berth_rt *rt, struct berth_rt_task *t);
/* t's ttrpc client, borrowed until t is freed; NULL once the shim is known dead. */
struct berth_ttrpc_client *berth_rt_task_client(struct berth_rt_task *t);
/* The shim is gone: runs its `delete`, removes the bundle and keeps t as a stopped task
 * (TaskExit published unless the exit is known already). */
void berth_rt_task_mark_dead(struct berth_rt *rt, struct berth_rt_task *t);
/* Copies the bundle's log FIFO (the shim's stderr) to berthd's stderr, and stops doing so. */
void berth_rt_log_attach(struct berth_rt *rt, struct berth_rt_task *t);
void berth_rt_log_detach(struct berth_rt *rt, struct berth_rt_task *t);

/* ---- restore and leftovers (restore.c) ---- */

enum berth_rt_recovered {
    BERTH_RT_RECOVERED_GONE,    /* nothing held a task: shim shut down, bundle removed */
    BERTH_RT_RECOVERED_LIVE,    /* a shim answers for the task: t is connected to it */
    BERTH_RT_RECOVERED_STOPPED, /* the task existed but its shim is gone: t is a dead entry */
};
/* Reattaches t (in the table with creating set, nothing else filled in) to what its bundle
 * holds. A shim that answers without a task and a bundle whose task was never created are
 * cleaned away (GONE): t is then as berth_rt_task_alloc left it. Logs what it found. */
enum berth_rt_recovered berth_rt_task_recover(struct berth_rt *rt, struct berth_rt_task *t);
/* When t's shim answers that it holds no task (Connect's task pid 0, State NOT_FOUND): shuts it
 * down, runs its `delete`, removes the bundle and the entry, and returns true. False for a task
 * the shim holds, a dead or creating entry, or a shim that does not answer. */
bool berth_rt_task_reap_orphan(struct berth_rt *rt, struct berth_rt_task *t);
/* Reattaches every bundle under <state>/tasks (berth_rt_start). */
void berth_rt_restore(struct berth_rt *rt);

/* ---- bundles and shim binaries ---- */

/* Creates <bundle> (parents 0711, itself 0700) with config.json, rootfs/ and the log FIFO.
 * ALREADY_EXISTS if it exists. */
int berth_rt_bundle_create(const char *bundle, const void *spec, size_t len,
                           struct berth_err **err);
/* Writes a small file into the bundle. */
int berth_rt_bundle_write(const char *bundle, const char *name, const char *data,
                          struct berth_err **err);

/* Runs `<binary> -namespace NS -id ID -address A -publish-binary D start` in bundle with
 * options on stdin; *addr_out = trimmed combined output. */
int berth_rt_shim_start(const struct berth_rt *rt, const char *binary, const char *ns,
                        const char *id, const char *bundle, const Google__Protobuf__Any *options,
                        char **addr_out, struct berth_err **err);
/* Runs `<binary> ... -bundle B delete`; fills exit status and time from its DeleteResponse
 * (137 and now / 255 and now when it printed nothing usable). Never fails. */
void berth_rt_shim_delete(const struct berth_rt *rt, const char *binary, const char *ns,
                          const char *id, const char *bundle, uint32_t *pid, uint32_t *exit_status,
                          int64_t *exited_ns);

#endif
