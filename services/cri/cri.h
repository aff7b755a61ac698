/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubernetes CRI (runtime.v1 RuntimeService and ImageService), served on berthd's socket
 * beside the containerd API and calling the same C interfaces in process. Every CRI object is
 * a record in containerd namespace k8s.io with containerd's CRI labels and extensions, so the
 * in-memory state is rebuilt from records and shims at start-up (state.c).
 */
#ifndef BERTH_SERVICES_CRI_CRI_H
#define BERTH_SERVICES_CRI_CRI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/types/event.pb-c.h"
#include "lib/err.h"

#define BERTH_CRI_NAMESPACE "k8s.io"

struct berth_services;
struct berth_cri;

/* A runtime handler ([cri.runtimes.<name>]); strings borrowed from the config. */
struct berth_cri_runtime {
    const char *name;
    const char *runtime_type; /* "" / NULL: the daemon's default runtime */
    const char *runtime_path; /* optional explicit shim binary */
    const char *binary_name;  /* containerd.runc.v1.Options BinaryName; "" = none */
    const char *root;         /* Options.Root */
    bool systemd_cgroup;      /* Options.SystemdCgroup */
};

struct berth_cri_opts {        /* all borrowed for berth_cri_new (copied) */
    const char *root;          /* <root>/io.containerd.grpc.v1.cri holds per-object dirs */
    const char *state;         /* <state>/io.containerd.grpc.v1.cri, netns under <state>/netns */
    const char *bin_dir;       /* where berth-pause lives (the daemon's dir) */
    const char *sandbox_image; /* "" / NULL: berth's pause image */
    const char *snapshotter;
    const char *default_runtime; /* handler name; "runc" is built in */
    const struct berth_cri_runtime *runtimes;
    size_t n_runtimes;
    int64_t max_log_line; /* <= 0: lines are never split */
    bool unprivileged_ports, unprivileged_icmp;
    const char *cni_conf_dir, *cni_bin_dir;
    /* The streaming server (Exec, Attach, PortForward URLs): IP literal ("" = 127.0.0.1),
     * port (0: a free one) and idle timeout (<= 0: 4 h). */
    const char *stream_address;
    uint16_t stream_port;
    int64_t stream_idle_timeout_ms;
};

/* Creates the CRI over the daemon's services (borrowed; must outlive it). Starts nothing.
 * *out owned by the caller (berth_cri_free). INVALID_ARGUMENT for a bad handler table. */
int berth_cri_new(struct berth_services *svc, const struct berth_cri_opts *o,
                  struct berth_cri **out, struct berth_err **err);
/* Creates berth's pause image in k8s.io (no registry), loads the CNI configuration, rebuilds
 * sandboxes and containers from records and shims (exits during a downtime are recorded) and
 * starts the exit-handling thread. Errors of the stores. */
int berth_cri_start(struct berth_cri *c, struct berth_err **err);
/* Every envelope the runtime manager forwards: task exits of k8s.io are queued for the CRI's
 * exit thread. Never blocks. NULL c: no-op. */
void berth_cri_task_event(struct berth_cri *c, const Containerd__Types__Envelope *env);
/* Stops the exit thread and frees (shims, netns and records stay). NULL-safe. */
void berth_cri_free(struct berth_cri *c);

#endif
