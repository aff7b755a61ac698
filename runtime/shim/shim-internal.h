/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared state of the long-lived shim: one struct shim owned by the epoll loop (loop.c), the
 * processes it supervises (init + execs), the Task service handlers (task.c), runc invocation
 * (runc.c), cgroup reading (cgroup.c) and the asynchronous event publisher (events.c).
 */
#ifndef BERTH_RUNTIME_SHIM_INTERNAL_H
#define BERTH_RUNTIME_SHIM_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "runtime/shim/attach.h"
#include "runtime/shim/crilog.h"
#include "ttrpc/frame.h"
#include "ttrpc/server.h"

enum shim_status {
    SHIM_CREATED = 1, /* containerd.v1.types.Status values */
    SHIM_RUNNING = 2,
    SHIM_STOPPED = 3,
    SHIM_PAUSED = 4,
};

/* Loop-registered fd owners share this header so epoll data.ptr can be dispatched. */
enum shim_fd_kind {
    FD_LISTEN,
    FD_SIGNAL,
    FD_CONN,
    FD_EVENTS,
    FD_TIMER,
    FD_STDIN,
    FD_STDIN_PIPE,
    FD_CONSOLE,
    FD_CONSOLE_OUT,
    FD_LOG_OUT,
    FD_LOG_ERR,
    FD_ATTACH_LISTEN,
    FD_ATTACH_CLIENT,
    FD_ATTACH_TIMER,
};
struct shim_fd {
    enum shim_fd_kind kind;
    int fd;
    uint32_t events;
};

struct shim_proc {
    struct shim_proc *next;
    char *exec_id; /* NULL for the init process */
    pid_t pid;
    enum shim_status status;
    char *stdin_uri, *stdout_uri, *stderr_uri;
    bool terminal;
    bool exited;
    uint32_t exit_status;
    int64_t exited_ns;
    char *spec_path; /* exec: the process JSON runc exec reads */
    /* stdin copy: FIFO -> pipe (the process reads the pipe's other end) or pty master. What
     * the destination has no room for waits in in_pend, and the source is not read until it
     * is written (EPOLLOUT on the destination): nothing is dropped. */
    struct shim_fd in_fifo;
    struct shim_fd in_pipe; /* kind FD_STDIN_PIPE, non-blocking write end */
    struct berth_buf in_pend;
    bool in_close_pending; /* CloseIO came while in_pend held bytes: close once written */
    bool in_ended;         /* the destination failed: later stdin bytes are discarded */
    /* terminal: pty master copied to/from the stdout/stdin FIFOs. */
    struct shim_fd console;
    bool console_eof;           /* the master read EOF/EIO: every slave holder is gone */
    struct shim_fd console_out; /* kind FD_CONSOLE_OUT: stdout FIFO (O_RDWR) of the output */
    struct berth_buf out_pend;  /* output console_out had no room for; the master waits */
    /* CRI log (crilog:// stdout, init only): the process writes pipes (or the pty master,
     * for a terminal) that the loop copies into the log. */
    struct berth_shim_crilog *crilog;
    struct shim_fd log_out, log_err; /* read ends of the stdout/stderr pipes */
    uint64_t log_drops_told;         /* dropped lines already reported in the shim log */
    int64_t log_drops_told_ns;       /* monotonic time of that report */
    struct berth_ttrpc_pending **waiters;
    size_t n_waiters;
};

/* Queued event for Events.Forward: a packed ttrpc.Request payload. */
struct shim_event {
    struct shim_event *next;
    uint32_t stream_id; /* 0 while not sent on the current connection */
    int tries;
    struct berth_bytes req;
};

struct shim_events {
    char *address;        /* TTRPC_ADDRESS path; NULL: events are dropped */
    struct shim_fd sock;  /* kind FD_EVENTS, fd -1 when disconnected */
    struct shim_fd timer; /* kind FD_TIMER: reconnect backoff */
    struct shim_event *head, **tail;
    size_t n;
    uint32_t next_id;
    struct berth_ttrpc_wbuf out;
    struct berth_ttrpc_reader rd;
    int backoff_ms;
};

struct conn_slot;
struct shim_attach;

struct shim {
    const char *ns, *id; /* borrowed from argv */
    char *bundle;
    char *runtime;   /* "runc" unless options.binary_name or $BERTH_SHIM_RUNTIME says otherwise */
    char *runc_root; /* --root for the runtime */
    char socket_path[128];
    int ep;
    struct shim_fd listen, sig;
    struct berth_ttrpc_server *srv;
    struct shim_proc *procs; /* init first once created */
    bool rootfs_mounted;
    bool shutdown;
    pid_t bg_delete; /* `runc delete --force` run after Delete answered; 0: none (reap clears) */
    int n_conns;
    struct conn_slot *conns; /* every open connection (loop.c) */
    struct shim_events ev;
    struct shim_attach *att;         /* the init process's attach socket; NULL: none */
    struct shim_attach *att_retired; /* closed during this loop batch (attachsrv.c) */
};

/* loop.c */
void shim_watch(struct shim *s, struct shim_fd *f, uint32_t events);
void shim_unwatch(struct shim *s, struct shim_fd *f);
struct shim_proc *shim_proc_find(struct shim *s, const char *exec_id);
struct shim_proc *shim_init(struct shim *s);
void shim_proc_free(struct shim_proc *p);
/* Opens the stdio of a process about to be started by runc: fds[0..2] for runc's 0/1/2
 * (closed by the caller) and, for stdin, the copy pipe recorded in p. */
int shim_stdio_open(struct shim *s, struct shim_proc *p, int fds[3], struct berth_err **err);
/* After runc created a terminal process: receives the pty master from the console socket. */
int shim_console_recv(struct shim *s, struct shim_proc *p, int sock, struct berth_err **err);
/* CloseIO(stdin): the process reads EOF once the bytes already taken from its stdin source
 * are written (a terminal gets EOT after them instead). */
void shim_stdin_close(struct shim *s, struct shim_proc *p);
/* Writes buf to p's stdin (pipe or pty master); what finds no room waits in p->in_pend and
 * the stdin sources are not read until it is written. Discarded when p's stdin is gone. */
void shim_stdin_write(struct shim *s, struct shim_proc *p, const uint8_t *buf, size_t len);
/* Sets the epoll interest of p's stdio fds from its state (pending bytes, paused output). */
void shim_proc_rewatch(struct shim *s, struct shim_proc *p);
/* Copies what p's CRI log pipes (or terminal) still hold into the log, before its exit is
 * reported or p is freed. */
void shim_log_drain(struct shim *s, struct shim_proc *p);
/* Reopens p's CRI log (Update with BERTH_SHIM_CRILOG_REOPEN_ANNOTATION). FAILED_PRECONDITION
 * when p has none. */
int shim_log_reopen(struct shim *s, struct shim_proc *p, struct berth_err **err);

/* attachsrv.c: the attach socket (attach.h) of an init process whose stdout is a CRI log. */
/* Listens on <bundle>/attach (0600, replacing a stale one) before init starts; init's stdin
 * URI (attach:// or not) says whether client stdin reaches it. INVALID_ARGUMENT for a bad
 * attach:// URI, INTERNAL for socket errors. */
int shim_attach_open(struct shim *s, struct shim_proc *init, struct berth_err **err);
/* Drops every client, closes and unlinks the socket (Delete, shim exit). No-op without one. */
void shim_attach_close(struct shim *s);
/* Queues a chunk of init's output (type STDOUT or STDERR) for every client. */
void shim_attach_output(struct shim *s, enum berth_shim_attach_type type, const uint8_t *buf,
                        size_t len);
/* True while some client's queue is over the high-water mark: init's output is not read. */
bool shim_attach_blocked(const struct shim *s);
/* Sets the clients' epoll interest again (init's stdin became ready or busy). */
void shim_attach_rewatch(struct shim *s);
/* init's output ended: flushes the queues (at most ~1 s) and closes every client; later
 * connections are closed at once. */
void shim_attach_end(struct shim *s);
void shim_attach_on_event(struct shim *s, struct shim_fd *f, uint32_t events);
/* Frees what was closed during the loop's last batch of events. */
void shim_attach_gc(struct shim *s);

/* Runs the loop on listen_fd until Shutdown; returns the exit code. */
int berth_shim_serve(struct shim *s, int listen_fd);

/* task.c */
extern const struct berth_ttrpc_service shim_task_service;
/* Resolves pending Waits of p (which has exited) and publishes TaskExit. */
void shim_proc_exited(struct shim *s, struct shim_proc *p);
/* Applies the runtime options Create saved in the bundle (none saved: nothing to do). */
int shim_load_options(struct shim *s, struct berth_err **err);

/* runc.c: runs `<runtime> --root R --log <bundle>/log.json --log-format json args...`
 * synchronously with stdio fds (-1: /dev/null). out (may be NULL) gets stdout when
 * stdio[1] is -1. INTERNAL with runc's last logged error on failure. */
int shim_runc(struct shim *s, const int stdio[3], struct berth_bytes *out, struct berth_err **err,
              const char *arg0, ...) __attribute__((sentinel));

/* runc.c: starts `<runtime> --root R --log /dev/null args...` (stdio /dev/null) without
 * waiting; the loop reaps it. INTERNAL when the fork fails. */
int shim_runc_spawn(struct shim *s, pid_t *pid, struct berth_err **err, const char *arg0, ...)
    __attribute__((sentinel));

/* cgroup.c: the init process's pids (from its cgroup) and stats as an Any. */
int shim_cgroup_pids(pid_t pid, uint32_t **pids, size_t *n, struct berth_err **err);
int shim_cgroup_stats(pid_t pid, struct berth_bytes *value, const char **type_url,
                      struct berth_err **err);
/* The stats of the cgroup listed in proc_cgroup (a /proc/<pid>/cgroup file) under root
 * (normally /sys/fs/cgroup): io.containerd.cgroups.v2.Metrics when unified (root is a
 * cgroup2 mount), else io.containerd.cgroups.v1.Metrics from the v1 memory, cpu(acct) and
 * pids hierarchies. Missing files leave their fields 0; NOT_FOUND when proc_cgroup names
 * none of those cgroups. value gets the packed message, *type_url a static string. */
int shim_cgroup_stats_at(const char *root, bool unified, const char *proc_cgroup,
                         struct berth_bytes *value, const char **type_url, struct berth_err **err);

/* events.c */
void shim_events_init(struct shim *s, const char *address);
/* Queues topic/msg (type_url = the message's bare full name) for Events.Forward. */
void shim_events_publish(struct shim *s, const char *topic, const ProtobufCMessage *msg);
void shim_events_on_io(struct shim *s, uint32_t events);
void shim_events_on_timer(struct shim *s);
/* Tries to deliver what is queued within timeout_ms (at shutdown). */
void shim_events_drain(struct shim *s, int timeout_ms);

#endif
