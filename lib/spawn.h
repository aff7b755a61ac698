/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting a helper program from the multi-threaded daemon (CNI plugins, shims). One copy of
 * the child set-up the callers each had after a fork(): posix_spawn, which glibc runs as
 * clone(CLONE_VM|CLONE_VFORK), so berthd's page tables are never copied (a fork of a daemon
 * with tens of MiB mapped cost more than the rest of a pod start's daemon work).
 */
#ifndef BERTH_LIB_SPAWN_H
#define BERTH_LIB_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/err.h"

struct berth_spawn_opts {
    const char *cwd;           /* NULL: the daemon's */
    int fd_in, fd_out, fd_err; /* the child's 0, 1, 2 (must be >= 3) */
    bool new_pgroup;           /* the child leads a process group of its own (kill(-pid)) */
};

/* Starts path with argv and envp. The child has fds 0-2 from o and no other descriptor, an
 * empty signal mask and SIGPIPE at its default action (exec resets the handled ones). *pid on
 * success; -1 with INTERNAL naming path when it cannot start, err->sys_errno being the exec's errno
 * (ETXTBSY, ENOENT,
 * ...). */
int berth_spawn(const char *path, char *const *argv, char *const *envp,
                const struct berth_spawn_opts *o, pid_t *pid, struct berth_err **err);

#endif
