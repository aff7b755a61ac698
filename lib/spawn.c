/* SPDX-License-Identifier: Apache-2.0 */
/* posix_spawn with the child set-up berth's helpers need (see spawn.h). */
#include "lib/spawn.h"

#include <signal.h>
#include <spawn.h>

int berth_spawn(const char *path, char *const *argv, char *const *envp,
                const struct berth_spawn_opts *o, pid_t *pid, struct berth_err **err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dfl;
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    int rc;

    sigemptyset(&none);
    /* exec resets handled signals itself; ignored ones stay ignored: berthd ignores SIGPIPE. */
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    if (o->new_pgroup) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(&attr, 0);
    }
    posix_spawnattr_setflags(&attr, flags);
    posix_spawn_file_actions_init(&fa);
    if (o->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    posix_spawn_file_actions_adddup2(&fa, o->fd_in, 0);
    posix_spawn_file_actions_adddup2(&fa, o->fd_out, 1);
    posix_spawn_file_actions_adddup2(&fa, o->fd_err, 2);
    /* Nothing else of berthd's (LMDB, sockets, a descriptor a library opened without
     * O_CLOEXEC) may outlive it in a child. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return berth_err_set(err, BERTH_E_INTERNAL, rc, "start \"%s\"", path);
    return 0;
}
