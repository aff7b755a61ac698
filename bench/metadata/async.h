/* SPDX-License-Identifier: Apache-2.0 */
/* Open-loop-free async driver for berth-bench-metadata: one thread, one completion queue,
 * calls kept outstanding at all times. It measures what a daemon can serve when the client's
 * own cost per call is small (the blocking client spends a thread, a completion queue and a
 * context switch per call, which on a 2-core machine competes with the daemon for the same
 * CPUs). Two shapes: one channel with `inflight` calls of one method (bench_async_run), and
 * many clients of one call each, every client on its own connection, the caller choosing each
 * call (bench_async_drive, the mixed load of bench/load.sh). */
#ifndef BERTH_BENCH_METADATA_ASYNC_H
#define BERTH_BENCH_METADATA_ASYNC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Builds the request for call number n (packed into *out, malloc'd). */
typedef void (*bench_async_req_fn)(uint64_t n, void *arg, uint8_t **out, size_t *len);

struct bench_async_result {
    uint64_t ops, errors;
    uint64_t *lat_ns; /* malloc'd, ops + errors entries */
    size_t n_lat;
};

/* Runs until deadline_mono_ns (CLOCK_MONOTONIC), then waits for the calls in flight. */
int bench_async_run(const char *target, const char *ns, const char *method, int inflight,
                    int64_t deadline_mono_ns, bench_async_req_fn make, void *arg,
                    struct bench_async_result *res, struct berth_err **err);

/* A call as bench_async_drive's caller chooses it. */
struct bench_async_call {
    const char *method; /* full path; borrowed, must outlive the run (a literal) */
    uint8_t *body;      /* packed request, malloc'd; the driver frees it */
    size_t len;
    int kind; /* the caller's label for the call, handed back to the done callback */
};

/* Chooses client `client`'s next call (only once its previous one is done). */
typedef void (*bench_async_next_fn)(int client, void *arg, struct bench_async_call *out);
/* A call ended: its gRPC status, or -1 when it could not be made or ended locally. */
typedef void (*bench_async_done_fn)(int client, int kind, int grpc_status, int64_t lat_ns,
                                    void *arg);

struct bench_async_opts {
    const char *target, *ns; /* gRPC target; containerd-namespace header (NULL: none) */
    int clients;             /* closed-loop clients, one call outstanding each */
    bool own_connections;    /* a connection per client (else all share one channel) */
    int64_t call_timeout_ms; /* deadline of each call (0: none) */
    int64_t deadline_mono_ns;
};

/* Runs o->clients clients until the deadline, then waits for the calls in flight. Fails
 * (BERTH_E_DEADLINE_EXCEEDED) only when no call completes for 60 s. */
int bench_async_drive(const struct bench_async_opts *o, bench_async_next_fn next,
                      bench_async_done_fn done, void *arg, struct berth_err **err);

/* Latency tables, shared by the generators: a qsort comparator for uint64_t, and the
 * nearest-rank percentile p (0-1) of n sorted values (0 when n is 0). */
int bench_cmp_u64(const void *a, const void *b);
uint64_t bench_percentile(const uint64_t *v, size_t n, double p);

#endif
