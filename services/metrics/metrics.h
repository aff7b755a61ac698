/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthd's Prometheus metrics ([metrics] address): one registry (lib/metrics.h) holding the
 * families of every subsystem, the scrape-time collectors (process, task table, per-container
 * cgroups) and the HTTP endpoint serving GET /v1/metrics. The gRPC families are registered by
 * the server itself (services/server, go-grpc-prometheus names); the stores, GC and puller
 * count into series handed to them here, so lib code never sees this module.
 */
#ifndef BERTH_SERVICES_METRICS_METRICS_H
#define BERTH_SERVICES_METRICS_METRICS_H

#include <stdbool.h>

#include "images/pull.h"
#include "lib/err.h"
#include "lib/metrics.h"
#include "metadata/gc_scheduler.h"

struct berth_rt;

/* CRI operations timed as containerd's CRI times them (containerd_cri_<op>_seconds, successful
 * operations only; failures show in grpc_server_handled_total). */
enum berth_cri_op {
    BERTH_CRI_OP_SANDBOX_RUN,    /* containerd_cri_sandbox_runtime_create_seconds{runtime} */
    BERTH_CRI_OP_SANDBOX_STOP,   /* containerd_cri_sandbox_runtime_stop_seconds{runtime} */
    BERTH_CRI_OP_SANDBOX_REMOVE, /* containerd_cri_sandbox_remove_seconds{runtime} */
    BERTH_CRI_OP_SANDBOX_LIST,   /* containerd_cri_sandbox_list_seconds */
    BERTH_CRI_OP_CTR_CREATE,     /* containerd_cri_container_create_seconds{runtime} */
    BERTH_CRI_OP_CTR_START,      /* containerd_cri_container_start_seconds{runtime} */
    BERTH_CRI_OP_CTR_STOP,       /* containerd_cri_container_stop_seconds{runtime} */
    BERTH_CRI_OP_CTR_REMOVE,     /* containerd_cri_container_remove_seconds{runtime} */
    BERTH_CRI_OP_CTR_LIST,       /* containerd_cri_container_list_seconds */
    BERTH_CRI_OP_IMAGE_PULL,     /* berth_cri_image_pull_seconds (containerd has none) */
    BERTH_CRI_OP_EXEC_SYNC,      /* berth_cri_exec_sync_seconds{runtime} (containerd has none) */
    BERTH_CRI_OP__N,
};

struct berth_svc_metrics {
    struct berth_metrics *reg; /* owned */
    bool grpc_histogram;       /* [metrics] grpc_histogram: the server's handling histogram */
    /* series handed to the subsystems (borrowed from reg) */
    struct berth_histogram *commit_batch, *commit_seconds; /* metadata group commit */
    struct berth_gc_metrics gc;
    struct berth_pull_metrics pull;
    /* everything below is private to metrics.c */
    struct berth_metrics_family *cri[BERTH_CRI_OP__N];
    struct berth_rt *rt; /* borrowed; NULL until berth_svc_metrics_set_runtime */
    int cg_mode;         /* enum berth_cg_mode; -1: no cgroup file system found */
    const char *cg_root; /* "/sys/fs/cgroup" */
    struct berth_metrics_family *proc[7], *tasks[3], *cg[8];
};

/* Makes the registry and every family but the gRPC ones (the server registers those). The
 * cgroup layout is detected once here. *out owned by the caller (berth_svc_metrics_free). */
int berth_svc_metrics_new(bool grpc_histogram, struct berth_svc_metrics **out,
                          struct berth_err **err);
/* From now on scrapes walk rt's task table (tasks, shims, per-container cgroups). rt is
 * borrowed: call berth_svc_metrics_set_runtime(m, NULL) before freeing it. */
void berth_svc_metrics_set_runtime(struct berth_svc_metrics *m, struct berth_rt *rt);
void berth_svc_metrics_free(struct berth_svc_metrics *m); /* NULL-safe */

/* Records one successful CRI operation that started at start_mono_ns (berth_mono_ns). runtime
 * is the runtime handler ("" or NULL for the families without the label). NULL m: no-op. */
void berth_svc_metrics_cri(struct berth_svc_metrics *m, enum berth_cri_op op, const char *runtime,
                           int64_t start_mono_ns);

/* ---- the HTTP endpoint (endpoint.c) ---- */

struct berth_metrics_endpoint;

/* Splits a [metrics] address "host:port" ("[v6]:port" for IPv6; host may be empty for all
 * addresses) and checks the port (1..65535). INVALID_ARGUMENT naming the value. *host and
 * *port owned by the caller on success (either out may be NULL). */
int berth_metrics_address_parse(const char *address, char **host, char **port,
                                struct berth_err **err);

/* Limits of the endpoint: a request head must arrive whole within the read timeout and fit in
 * the head limit; past the connection limit new connections are closed at once. */
#define BERTH_METRICS_MAX_CONNS  16
#define BERTH_METRICS_MAX_HEAD   8192
#define BERTH_METRICS_TIMEOUT_MS 5000

/* Binds address (berth_metrics_address_parse) and starts the one thread serving GET
 * /v1/metrics from reg (borrowed; must outlive the endpoint) over HTTP/1.1, one request per
 * connection: 404 for another path, 405 for another method, 400 for a malformed or oversized
 * head. timeout_ms 0 = BERTH_METRICS_TIMEOUT_MS. INVALID_ARGUMENT for a bad address,
 * UNAVAILABLE naming it when it cannot be bound. *out owned by the caller. */
int berth_metrics_endpoint_start(const char *address, struct berth_metrics *reg, int64_t timeout_ms,
                                 struct berth_metrics_endpoint **out, struct berth_err **err);
/* The port bound (useful when the address asked for port 0 in tests). */
int berth_metrics_endpoint_port(const struct berth_metrics_endpoint *e);
/* Stops the thread, closes every connection and frees. NULL-safe. */
void berth_metrics_endpoint_stop(struct berth_metrics_endpoint *e);

#endif
