/* SPDX-License-Identifier: Apache-2.0 */
/* Task plumbing shared by run.c, tasks.c and containers.c: FIFO I/O, terminal, task calls. */
#ifndef BERTH_CMD_BERTHCTL_RUN_INTERNAL_H
#define BERTH_CMD_BERTHCTL_RUN_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cmd/berthctl/berthctl-internal.h"

#define BERTHCTL_FIFO_ROOT "/run/berth/fifo"

/* Client-side FIFOs under BERTHCTL_FIFO_ROOT/<rand>/ and the threads copying them. */
struct berthctl_io {
    char *dir, *stdin_path, *stdout_path, *stderr_path;
    int in_fd, out_fd, err_fd;
    /* Copier of one output FIFO: src -> dst until woken through wake (then drains src). */
    struct berthctl_copier {
        int src, dst, wake;
    } c_out, c_err;
    int wake[2]; /* written once by io_finish: the copiers drain and stop */
    bool tty, started;
    volatile bool stdin_eof;
    pthread_t t_in, t_out, t_err;
    /* Called (from the stdin thread) once berthctl's stdin ends; NULL: nothing. */
    void (*on_stdin_eof)(void *arg);
    void *on_stdin_eof_arg;
};
void berthctl_io_init(struct berthctl_io *io);
/* Makes the FIFOs for process id (no stderr FIFO with a tty). INTERNAL on I/O errors. */
int berthctl_io_create(struct berthctl_io *io, const char *id, bool tty, struct berth_err **err);
/* Opens the existing FIFOs of a task (attach): stdin for writing (skipped when the shim no
 * longer reads it), stdout/stderr (empty: none) for reading. Release with berthctl_io_forget
 * (not io_clear, which would unlink them). NOT_FOUND when a FIFO is gone. */
int berthctl_io_open(struct berthctl_io *io, const char *in, const char *out, const char *err_path,
                     bool tty, struct berth_err **err);
/* For a detached task created with io: forks a holder that keeps a writer on the stdin FIFO
 * (the process must not see EOF when berthctl exits; `tasks attach` feeds it later) until the
 * shim closes its side, then closes berthctl's descriptors without removing the FIFOs.
 * INTERNAL when the fork fails. */
int berthctl_io_detach(struct berthctl_io *io, struct berth_err **err);
/* Closes io's descriptors and frees it without removing the FIFOs; io is re-initialised. */
void berthctl_io_forget(struct berthctl_io *io);
void berthctl_io_start(struct berthctl_io *io);
void berthctl_io_finish(struct berthctl_io *io);
/* Closes and removes everything; leaves io re-initialised. */
void berthctl_io_clear(struct berthctl_io *io);

void berthctl_resize(struct berthctl *ctl, const char *id, const char *exec_id);
/* stdin's terminal size: true with both above 0, else false. */
bool berthctl_term_size(unsigned *width, unsigned *height);
/* The container's spec.process (a new reference), as ctr exec starts from; a default one
 * (root, /, PATH) when the spec has none. NULL with *err when the container is missing. */
json_t *berthctl_container_process(struct berthctl *ctl, const char *id, struct berth_err **err);

/* signals.c (see there). Called from main() before any other thread exists. */
void berthctl_signals_init(void);
/* In a forked child: the signals back to normal (the signal thread is not there). */
void berthctl_signals_child(void);
/* While a foreground task runs: resize it on SIGWINCH (tty) or forward the other signals to it
 * (no tty). ctl NULL: follow nothing. */
void berthctl_signals_follow(struct berthctl *ctl, const char *id, const char *exec_id, bool tty);
/* Puts stdin's terminal in raw mode (0) or does nothing (-1, not a terminal); restore undoes
 * it, and so does a signal that ends berthctl. */
int berthctl_term_raw(void);
void berthctl_term_restore(void);

int berthctl_task_create(struct berthctl *ctl, const char *id, const struct berthctl_io *io,
                         struct berth_err **err);
int berthctl_task_start(struct berthctl *ctl, const char *id, const char *exec_id,
                        struct berth_err **err);
int berthctl_task_wait(struct berthctl *ctl, const char *id, const char *exec_id, uint32_t *status,
                       struct berth_err **err);
int berthctl_task_delete(struct berthctl *ctl, const char *id, struct berth_err **err);
/* Tasks/<method> with an Empty response. */
int berthctl_task_simple(struct berthctl *ctl, const char *method, const ProtobufCMessage *req,
                         struct berth_err **err);
/* I/O + Start + Wait for a created task or exec (raw terminal with io->tty). */
int berthctl_task_attach_run(struct berthctl *ctl, const char *id, const char *exec_id,
                             struct berthctl_io *io, uint32_t *status, struct berth_err **err);

/* run / containers create options. Strings borrow argv. */
struct berthctl_run_opts {
    bool rm, tty, detach, net_host, seccomp, privileged;
    const char **env, **mounts; /* NULL-terminated, arrays owned */
    size_t n_env, n_mounts;
    const char *runtime, *runc_binary, *user, *cwd, *snapshotter, *image, *id;
    const char *const *args;
    double cpus;
    int64_t memory_limit;
};
void berthctl_run_opts_clear(struct berthctl_run_opts *o);
int berthctl_run_parse(struct berthctl *ctl, int argc, char **argv, bool run,
                       struct berthctl_run_opts *o, struct berth_err **err);
/* Image -> snapshot (Prepare ID on the top chain ID) -> spec -> Containers.Create. NOT_FOUND
 * with an "import or unpack it first" hint when the image is not unpacked. */
int berthctl_container_create(struct berthctl *ctl, const struct berthctl_run_opts *o,
                              struct berth_err **err);
/* Best effort: snapshot + container record. */
void berthctl_container_remove(struct berthctl *ctl, const char *snapshotter, const char *id);

#endif
