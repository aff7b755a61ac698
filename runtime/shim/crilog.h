/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CRI container log the shim writes itself (kubelet reads it; containerd's
 * pkg/cri/io/logger.go format): "<RFC3339Nano local time> <stdout|stderr> <F|P> <bytes>\n".
 * The loop (loop.c) feeds it what it reads from the process's pipes or pty master; this file
 * only splits, stamps and writes, so it is tested without a process. Depends on lib only.
 */
#ifndef BERTH_RUNTIME_SHIM_CRILOG_H
#define BERTH_RUNTIME_SHIM_CRILOG_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* The stdout (and stderr) URI of CreateTaskRequest that selects the CRI log:
 * crilog:///abs/path/0.log[?max_line_size=N]. */
#define BERTH_SHIM_CRILOG_SCHEME "crilog://"
/* Update annotation (value "1") that makes the shim reopen the init process's log after
 * kubelet renamed it for rotation (CRI ReopenContainerLog). */
#define BERTH_SHIM_CRILOG_REOPEN_ANNOTATION "io.berth.log.reopen"
/* containerd's max_container_log_line_size default. */
#define BERTH_SHIM_CRILOG_DEFAULT_MAX_LINE 16384

enum berth_shim_crilog_stream {
    BERTH_SHIM_CRILOG_STDOUT = 0,
    BERTH_SHIM_CRILOG_STDERR = 1,
};

/* One open log; the two streams keep their own partial line. */
struct berth_shim_crilog;

/* Wall clock in ns since the epoch; tests substitute a fixed one. */
typedef int64_t (*berth_shim_crilog_clock_fn)(void);

/* Write failures since the log was opened (the data is dropped, never retried). */
struct berth_shim_crilog_drops {
    uint64_t lines, bytes;
    int last_errno; /* errno of the latest failure, 0 if none */
};

/* Parses a crilog:// URI: *path (caller-owned, percent-escapes decoded) and *max_line_size
 * (BERTH_SHIM_CRILOG_DEFAULT_MAX_LINE when absent; <= 0 disables splitting). Unknown query
 * keys are ignored. INVALID_ARGUMENT for another scheme, a relative path, a host part, a bad
 * escape or a max_line_size that is not a decimal integer. *path is set only on success. */
int berth_shim_crilog_uri_parse(const char *uri, char **path, int64_t *max_line_size,
                                struct berth_err **err);

/* The URI for path and max_line_size (percent-escaping '%', '?', '#' and bytes outside
 * printable ASCII), caller-owned. For the daemon building CreateTaskRequest. */
char *berth_shim_crilog_uri(const char *path, int64_t max_line_size);

/* Opens (creating 0640, appending) the log at path, its missing parent directories 0755.
 * RESOURCE_EXHAUSTED when the disk is full, INTERNAL otherwise. *out is caller-owned (free
 * with berth_shim_crilog_close) and set only on success. */
int berth_shim_crilog_open(const char *path, int64_t max_line_size, struct berth_shim_crilog **out,
                           struct berth_err **err);

/* A log writing to fd (borrowed: never closed, never reopened), for tests. */
struct berth_shim_crilog *berth_shim_crilog_new_fd(int fd, int64_t max_line_size);

/* Closes the log (NULL-safe). Pending partial lines are dropped: flush first. */
void berth_shim_crilog_close(struct berth_shim_crilog *l);

void berth_shim_crilog_set_clock(struct berth_shim_crilog *l, berth_shim_crilog_clock_fn clock);

/* Writes every line completed by buf (len bytes read from stream) with one timestamp taken
 * now: F lines without their "\n" (nor a "\r" before it), P chunks of max_line_size bytes
 * while a line is longer. The rest waits for more bytes. Never fails: a write error drops the
 * line and counts it (berth_shim_crilog_drops). */
void berth_shim_crilog_feed(struct berth_shim_crilog *l, enum berth_shim_crilog_stream stream,
                            const void *buf, size_t len);

/* End of stream: a pending partial line is written as P. */
void berth_shim_crilog_flush(struct berth_shim_crilog *l, enum berth_shim_crilog_stream stream);

/* Opens the path again (kubelet renamed the old file) and writes there from now on; pending
 * partial lines are kept. On failure the old file stays in use. FAILED_PRECONDITION for a log
 * made by berth_shim_crilog_new_fd; otherwise as berth_shim_crilog_open. */
int berth_shim_crilog_reopen(struct berth_shim_crilog *l, struct berth_err **err);

const char *berth_shim_crilog_path(const struct berth_shim_crilog *l); /* NULL for new_fd */
void berth_shim_crilog_get_drops(const struct berth_shim_crilog *l,
                                 struct berth_shim_crilog_drops *out);

/* Room for a timestamp, NUL included: "2006-01-02T15:04:05.999999999+07:00" is 35 bytes. */
#define BERTH_SHIM_CRILOG_TS_MAX 48
/* Formats ns like Go's time.Now().Format(time.RFC3339Nano) in the local time zone (TZ):
 * fraction without trailing zeros (none for a whole second), zone "Z" or "+hh:mm". Returns the
 * length. */
size_t berth_shim_crilog_timestamp(int64_t ns, char buf[BERTH_SHIM_CRILOG_TS_MAX]);

#endif
