/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berth-shim: a containerd runtime v2 shim (containerd.task.v2.Task over ttrpc) driving runc.
 * This header holds the pure parts (command line, socket path convention, stdio URIs, the
 * persisted exit file) plus the entry points cmd/berth-shim/main.c wires up. No threads:
 * the long-lived shim is one epoll loop (loop.c).
 */
#ifndef BERTH_RUNTIME_SHIM_H
#define BERTH_RUNTIME_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Command line, as containerd 1.6 passes it (Go flag syntax: -flag value, -flag=value,
 * --flag; bool flags only as -flag or -flag=true|false). Strings are borrowed from argv. */
struct berth_shim_args {
    const char *ns;             /* -namespace */
    const char *id;             /* -id */
    const char *address;        /* -address: the daemon's gRPC socket */
    const char *publish_binary; /* -publish-binary */
    const char *bundle;         /* -bundle (delete); defaults to the cwd */
    const char *socket;         /* -socket (accepted, unused) */
    const char *action;         /* "start", "delete" or NULL (serve) */
    bool debug;                 /* -debug */
    bool version;               /* -v / -version */
};

/* Parses argv[1..argc). INVALID_ARGUMENT for an unknown flag, a flag without its value, an
 * unknown action or extra arguments; -namespace and -id are required except for -v. */
int berth_shim_args_parse(int argc, char *const *argv, struct berth_shim_args *out,
                          struct berth_err **err);

/* Where the runtime state lives for a bundle: if the bundle is
 * <state>/io.containerd.runtime.v2.task/<ns>/<id> (containerd's and berthd's layout), <state>;
 * otherwise "/run/berth". Written into buf (size len); INVALID_ARGUMENT if it doesn't fit. */
int berth_shim_state_dir(const char *bundle, char *buf, size_t len, struct berth_err **err);

/* The shim socket path: <state>/s/<first 32 hex digits of sha256(address "/" ns "/" id)>.
 * INVALID_ARGUMENT if the result doesn't fit in a sockaddr_un path (107 bytes) or buf. */
int berth_shim_socket_path(const char *state, const char *address, const char *ns, const char *id,
                           char *buf, size_t len, struct berth_err **err);

/* A stdio endpoint of CreateTaskRequest/ExecProcessRequest. */
enum berth_shim_io_kind {
    BERTH_SHIM_IO_NONE,   /* "" */
    BERTH_SHIM_IO_FIFO,   /* a bare path or fifo:// path: a FIFO the client opened */
    BERTH_SHIM_IO_FILE,   /* file:///path: appended to */
    BERTH_SHIM_IO_CRILOG, /* crilog:///path[?max_line_size=N]: the shim writes a CRI log */
    BERTH_SHIM_IO_ATTACH, /* attach://...: stdin from attach clients (attach.h) */
};
/* Parses uri; *path is borrowed from uri. For CRILOG *path is the rest of the uri (path and
 * query, still escaped: berth_shim_crilog_uri_parse decodes it); for ATTACH the whole uri
 * (berth_shim_attach_uri_parse checks it). NOT_IMPLEMENTED for binary://
 * and other schemes, INVALID_ARGUMENT for a relative path. */
int berth_shim_io_parse(const char *uri, enum berth_shim_io_kind *kind, const char **path,
                        struct berth_err **err);

/* The exit file <bundle>/exit: "<status> <exited_at unix ns>\n", written atomically
 * (temp file + rename) when the init process is reaped, so `delete` and a reconnecting
 * daemon see the real status. */
int berth_shim_exit_write(const char *bundle, uint32_t status, int64_t exited_ns,
                          struct berth_err **err);
/* NOT_FOUND if there is no exit file, INVALID_ARGUMENT if it is malformed. */
int berth_shim_exit_read(const char *bundle, uint32_t *status, int64_t *exited_ns,
                         struct berth_err **err);

/* Exit status the way containerd reports it: the code, or 128 + signal. */
uint32_t berth_shim_wait_status(int wstatus);

/* `start`: publishes the shim for args (cwd = bundle) and prints its address on stdout.
 * Returns the process exit code. */
int berth_shim_cmd_start(const struct berth_shim_args *args);
/* `delete`: cleans up after a dead shim and prints a packed DeleteResponse. */
int berth_shim_cmd_delete(const struct berth_shim_args *args);

#endif
