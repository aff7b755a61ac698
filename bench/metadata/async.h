/* SPDX-License-Identifier: Apache-2.0 */
/* Open-loop-free async driver for berth-bench-metadata: one thread, one channel, one
 * completion queue, `inflight` unary calls outstanding at all times. It measures what a daemon
 * can serve when the client's own cost per call is small (the blocking client spends a thread,
 * a completion queue and a context switch per call, which on a 2-core machine competes with
 * the daemon for the same CPUs). */
#ifndef BERTH_BENCH_METADATA_ASYNC_H
#define BERTH_BENCH_METADATA_ASYNC_H

#include <protobuf-c/protobuf-c.h>
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

#endif
