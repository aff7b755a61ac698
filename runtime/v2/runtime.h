/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim v2 runtime manager (containerd 1.6 runtime/v2): resolves runtime names to shim
 * binaries, writes bundles under <state>/tasks/<ns>/<id>/, spawns shims with the `start`
 * protocol, keeps a table of live tasks (one ttrpc client per shim), reattaches to shims after
 * a restart and serves containerd.services.events.ttrpc.v1.Events/Forward on
 * <grpc address>.ttrpc. Its task calls are typed (plain C in and out, task.c): the Tasks service
 * and the CRI drive it the same way, and only runtime/v2 builds containerd.task.v2 messages.
 * Knows nothing about gRPC services or metadata: a task from a container record is record.h.
 */
#ifndef BERTH_RUNTIME_V2_RUNTIME_H
#define BERTH_RUNTIME_V2_RUNTIME_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/types/event.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "lib/err.h"
#include "lib/labels.h"
#include "snapshots/snapshotter.h" /* struct berth_mount */

#define BERTH_RT_DEFAULT_RUNTIME "io.containerd.berth.v1"
#define BERTH_RT_TASK_SERVICE    "containerd.task.v2.Task"

struct berth_rt;      /* opaque manager */
struct berth_rt_task; /* opaque, reference counted table entry */

/* Receives every event shims forward, and the synthetic ones the manager makes for dead shims
 * (env borrowed for the call). May be called from any manager thread. */
typedef void (*berth_rt_event_fn)(void *arg, const Containerd__Types__Envelope *env);

struct berth_rt_opts {
    const char *state;           /* bundles live in <state>/tasks */
    const char *address;         /* gRPC socket path handed to shims (-address) */
    const char *daemon_path;     /* -publish-binary; NULL: /proc/self/exe */
    const char *bin_dir;         /* first place to look for berth-shim; NULL: daemon's dir */
    const char *default_runtime; /* NULL: BERTH_RT_DEFAULT_RUNTIME */
    const char *oci_binary;      /* berth-shim's OCI runtime when options name none; NULL: runc */
    berth_rt_event_fn on_event;  /* may be NULL */
    void *event_arg;
};

/* Creates the manager (copies opts). Starts no thread. *out owned by the caller. */
int berth_rt_new(const struct berth_rt_opts *opts, struct berth_rt **out, struct berth_err **err);
/* Listens on <address>.ttrpc, starts the events and shim-log threads and reattaches to the
 * shims whose bundles survive under <state>/tasks (dead ones are cleaned up and kept as
 * stopped tasks; a shim holding no task is shut down and a bundle whose task was never
 * created removed, with no entry left). INTERNAL on socket/thread errors. */
int berth_rt_start(struct berth_rt *rt, struct berth_err **err);
/* Stops the threads and drops every connection (shims keep running). NULL-safe. */
void berth_rt_free(struct berth_rt *rt);
const char *berth_rt_default_runtime(const struct berth_rt *rt);

/* "io.containerd.<name>.<version>" -> "containerd-shim-<name>-<version>"; *out owned by the
 * caller. INVALID_ARGUMENT for any other shape. */
int berth_rt_binary_name(const char *runtime, char **out, struct berth_err **err);
/* Full path of the shim for runtime: an absolute runtime name as is; io.containerd.berth.v1
 * as <bin_dir>/berth-shim when present; otherwise the binary name searched in bin_dir (if
 * non-NULL) and then $PATH. NOT_FOUND when no executable exists, INVALID_ARGUMENT for a bad
 * name. *out owned by the caller. */
/* An OCI runtime binary name (looked up in $PATH) or absolute path: INVALID_ARGUMENT naming it
 * when it is neither. */
int berth_rt_oci_binary_check(const char *name, struct berth_err **err);
int berth_rt_binary_resolve(const char *runtime, const char *bin_dir, char **out,
                            struct berth_err **err);
/* "<state>/tasks/<ns>/<id>"; caller frees. */
char *berth_rt_bundle_path(const char *state, const char *ns, const char *id);
/* Unmounts <bundle>/rootfs if mounted, then removes the tree (renamed to a dot name first, so
 * a half-removed bundle is never reattached). Best effort. Also fsck's repair of a bundle. */
void berth_rt_bundle_remove(const char *bundle);
/* Reads a small file of the bundle, trimmed; NULL if absent (caller frees). */
char *berth_rt_bundle_read(const char *bundle, const char *name);
/* INVALID_ARGUMENT unless 1 <= sig <= 64. */
int berth_rt_signal_validate(uint32_t sig, struct berth_err **err);

struct berth_rt_create_opts { /* all borrowed */
    const char *ns, *id;
    const char *runtime;      /* NULL/"": the default runtime */
    const char *runtime_path; /* optional explicit shim binary */
    const void *spec;         /* config.json bytes */
    size_t spec_len;
    const struct berth_mount *rootfs;
    size_t n_rootfs;
    const char *stdin_path, *stdout_path, *stderr_path;
    bool terminal;
    const Google__Protobuf__Any *options; /* written to the shim's stdin and sent to Create */
};

/* Writes the bundle, spawns the shim and sends Task.Create. ALREADY_EXISTS if ns/id has a
 * task (leftovers of a create a daemon crash cut short do not count: they are cleared as by
 * berth_rt_task_reap); the shim's error class otherwise. On failure nothing is left: the shim is
 * shut down (and its `delete` run), the rootfs unmounted and the bundle removed. *pid = the init
 * pid. */
int berth_rt_task_create(struct berth_rt *rt, const struct berth_rt_create_opts *o, uint32_t *pid,
                         struct berth_err **err);
/* NOT_FOUND ("task \"id\" not found") when ns/id has no task. *out holds a reference. */
int berth_rt_task_get(struct berth_rt *rt, const char *ns, const char *id,
                      struct berth_rt_task **out, struct berth_err **err);
/* Every task of ns (references), sorted by id; free with berth_rt_tasks_put. */
void berth_rt_task_list(struct berth_rt *rt, const char *ns, struct berth_rt_task ***out,
                        size_t *n);
void berth_rt_tasks_put(struct berth_rt_task **v, size_t n);
void berth_rt_task_put(struct berth_rt_task *t); /* NULL-safe */
const char *berth_rt_task_id(const struct berth_rt_task *t);
const char *berth_rt_task_ns(const struct berth_rt_task *t);
const char *berth_rt_task_bundle(const struct berth_rt_task *t); /* <state>/tasks/<ns>/<id> */
/* Whether t's init process had not exited when last seen: its shim is connected, the process
 * created and no exit recorded. No shim call (metrics walk every task at each scrape). */
bool berth_rt_task_live(struct berth_rt_task *t);

/* The task table at a glance, for metrics: entries (tasks being created left out), shims
 * connected, and tasks whose init process has not exited (berth_rt_task_live). No shim call. */
struct berth_rt_counts {
    size_t tasks, shims, live;
};
void berth_rt_counts(struct berth_rt *rt, struct berth_rt_counts *out);

/* A process state as Tasks.Get reports it. Strings owned by the struct. */
struct berth_rt_state {
    uint32_t pid;
    int status; /* containerd.v1.types.Status */
    char *stdin_path, *stdout_path, *stderr_path;
    bool terminal;
    uint32_t exit_status;
    int64_t exited_ns; /* 0: not exited */
};
void berth_rt_state_clear(struct berth_rt_state *s);
/* State of the init (exec_id NULL/"") or an exec process: asks the shim, or answers STOPPED
 * with the recorded exit for a dead shim. Errors as berth_rt_task_call. */
int berth_rt_task_state(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                        struct berth_rt_state *out, struct berth_err **err);
/* Blocks until the process exits (at once if it has); a dead shim answers its recorded exit. */
int berth_rt_task_wait(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                       uint32_t *exit_status, int64_t *exited_ns, struct berth_err **err);
/* Deletes the init process (the shim refuses a running one: FAILED_PRECONDITION), shuts the
 * shim down, removes the bundle and the table entry. Outputs may be NULL. A shim that holds
 * no task (NOT_FOUND) is shut down and its bundle and entry removed all the same. */
int berth_rt_task_delete(struct berth_rt *rt, struct berth_rt_task *t, uint32_t *pid,
                         uint32_t *exit_status, int64_t *exited_ns, struct berth_err **err);

/*
 * The typed task calls (task.c): one function per containerd.task.v2.Task call, plain C in and
 * out, for the Tasks service and the CRI alike. All borrow their arguments. exec_id NULL or ""
 * names the init process where a call accepts it. Unless said otherwise they fail with
 * NOT_FOUND (no such process), FAILED_PRECONDITION ("task is stopped": the shim is gone, or a
 * state the shim refuses, e.g. pausing a stopped task), UNAVAILABLE (the connection broke: the
 * task became a dead one, its shim `delete` run and TaskExit published) or the shim's own error
 * class, wrapped as "task \"<id>\": <Method>: ...". Calls wait as long as the shim takes (the
 * caller's deadline is the transport's business), except Stats.
 */

/* Where a process's stdio goes: FIFO or file paths (NULL/"": none), as the shim opens them. */
struct berth_rt_io {
    const char *stdin_path, *stdout_path, *stderr_path;
    bool terminal;
};

/* Starts the init or an exec process; *pid its pid (0 on failure). */
int berth_rt_task_start(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                        uint32_t *pid, struct berth_err **err);
/* Sends signal to the init or an exec process (all: every process of the container).
 * INVALID_ARGUMENT unless 1 <= signal <= 64, before any call. */
int berth_rt_task_kill(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                       uint32_t signal, bool all, struct berth_err **err);

#define BERTH_RT_PROCESS_SPEC_TYPE "types.containerd.io/opencontainers/runtime-spec/1/Process"

struct berth_rt_exec_opts { /* all borrowed */
    const char *exec_id;    /* required: an identifier (lib/ident.h) */
    const void *spec;       /* OCI process JSON; required */
    size_t spec_len;
    const char *spec_type; /* type URL sent with it; NULL: BERTH_RT_PROCESS_SPEC_TYPE */
    struct berth_rt_io io;
};
/* Adds exec process o->exec_id to the task (created, not started: berth_rt_task_start runs
 * it). INVALID_ARGUMENT for an empty or malformed exec id or no spec (before any call);
 * ALREADY_EXISTS if the id is taken. */
int berth_rt_task_exec(struct berth_rt *rt, struct berth_rt_task *t,
                       const struct berth_rt_exec_opts *o, struct berth_err **err);
/* Deletes exec process exec_id (the init goes with berth_rt_task_delete): INVALID_ARGUMENT for
 * an empty exec_id; FAILED_PRECONDITION while it runs. Outputs may be NULL: its pid, exit
 * status and exit time (ns since the epoch). */
int berth_rt_task_delete_process(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                                 uint32_t *pid, uint32_t *exit_status, int64_t *exited_ns,
                                 struct berth_err **err);
/* Freezes / thaws every process of the task (cgroup freezer). */
int berth_rt_task_pause(struct berth_rt *rt, struct berth_rt_task *t, struct berth_err **err);
int berth_rt_task_resume(struct berth_rt *rt, struct berth_rt_task *t, struct berth_err **err);
/* Resizes the terminal of the init or an exec process. */
int berth_rt_task_resize_pty(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                             uint32_t width, uint32_t height, struct berth_err **err);
/* Closes the stdin of the init or an exec process (close_stdin false: the shim does nothing;
 * sent all the same, as containerd does). */
int berth_rt_task_close_io(struct berth_rt *rt, struct berth_rt_task *t, const char *exec_id,
                           bool close_stdin, struct berth_err **err);

/* Connects to the attach socket of the task's init process (berth-shim's <bundle>/attach,
 * runtime/shim/attach.h: SOCK_SEQPACKET packets of a type byte and up to 32 KiB). The shim
 * listens there only while the init's stdout is a CRI log. *fd (SOCK_NONBLOCK, SOCK_CLOEXEC)
 * is owned by the caller on success, -1 otherwise. FAILED_PRECONDITION ("container \"<id>\"
 * has no attach socket") when there is none (a foreign shim, no CRI log, the task or its shim
 * gone); UNAVAILABLE when the shim's backlog is full; INTERNAL otherwise. Sends no call. */
int berth_rt_task_attach(struct berth_rt *rt, struct berth_rt_task *t, int *fd,
                         struct berth_err **err);

#define BERTH_RT_LINUX_RESOURCES_TYPE                                                              \
    "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"

/* Updates the task's resources: resources is the OCI LinuxResources JSON under
 * BERTH_RT_LINUX_RESOURCES_TYPE, or whatever Any a client sent (passed as is; NULL: none).
 * annotations (NULL: none) go along as the request's annotations map. */
int berth_rt_task_update(struct berth_rt *rt, struct berth_rt_task *t,
                         const Google__Protobuf__Any *resources,
                         const struct berth_labels *annotations, struct berth_err **err);

/* One process of the task as the shim lists it. */
struct berth_rt_pid {
    uint32_t pid;
    /* Owned; NULL: none. The runc shims send a containerd.runc.v1.ProcessDetails naming the
     * exec id of each exec process. */
    Google__Protobuf__Any *info;
};
/* Frees v[0..n) and v. NULL-safe. */
void berth_rt_pids_free(struct berth_rt_pid *v, size_t n);
/* The task's processes. *out (n_out entries; free with berth_rt_pids_free) is owned by the
 * caller on success. */
int berth_rt_task_pids(struct berth_rt *rt, struct berth_rt_task *t, struct berth_rt_pid **out,
                       size_t *n_out, struct berth_err **err);

/* The shim's cgroup statistics (io.containerd.cgroups.v1.Metrics or .v2.Metrics). Bounded by
 * BERTH_RT_STATS_TIMEOUT_MS: DEADLINE_EXCEEDED for a shim that does not answer in time. *out
 * (NULL when the shim sent none) is owned by the caller on success: free it with
 * protobuf_c_message_free_unpacked(&(*out)->base, NULL). */
#define BERTH_RT_STATS_TIMEOUT_MS 2000
int berth_rt_task_stats(struct berth_rt *rt, struct berth_rt_task *t, Google__Protobuf__Any **out,
                        struct berth_err **err);

/* Clears what a daemon that stopped while creating ns/id's task left, when that is all there
 * is: an entry whose shim answers that it holds no task (shim shut down, `delete` run, bundle
 * and entry removed), or a bundle with no entry (reattached if it holds a task, else removed
 * with its shim). A task that exists, running or stopped, and a create in progress are left
 * alone. Never fails. */
void berth_rt_task_reap(struct berth_rt *rt, const char *ns, const char *id);

#endif
