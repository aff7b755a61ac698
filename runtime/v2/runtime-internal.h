/* SPDX-License-Identifier: Apache-2.0 */
/* runtime/v2 internals shared by the manager, the bundle helpers and the shim launcher. */
#ifndef BERTH_RUNTIME_V2_INTERNAL_H
#define BERTH_RUNTIME_V2_INTERNAL_H

#include <pthread.h>

#include "runtime/v2/runtime.h"
#include "ttrpc/client.h"

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

/* Creates <bundle> (parents 0711, itself 0700) with config.json, rootfs/ and the log FIFO.
 * ALREADY_EXISTS if it exists. */
int berth_rt_bundle_create(const char *bundle, const void *spec, size_t len,
                           struct berth_err **err);
/* Unmounts <bundle>/rootfs if mounted, then removes the tree. Best effort. */
void berth_rt_bundle_remove(const char *bundle);
/* Reads a small file of the bundle, trimmed; NULL if absent. */
char *berth_rt_bundle_read(const char *bundle, const char *name);
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
