/* SPDX-License-Identifier: Apache-2.0 */
/* The mixed load of berth-bench-metadata (--op mixed, bench/load.sh): many closed-loop
 * clients, each on its own connection with one call out at a time, issuing a weighted mix of
 * containerd API calls (containers Get/List/Update/Create/Delete, a Get of a missing id,
 * namespaces, version, images, tasks, content and snapshot lookups, lease Create/Delete)
 * through the async driver. Works against any daemon speaking the containerd API. */
#ifndef BERTH_BENCH_METADATA_MIXED_H
#define BERTH_BENCH_METADATA_MIXED_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

struct bench_mixed_opts {
    const char *address, *ns, *label;
    const char *id_prefix; /* unique per run: ids of everything the run makes */
    int clients;
    double duration_s;
    int preload;             /* containers made first (Get/List/Update targets); >= 10 */
    int64_t call_timeout_ms; /* deadline of each call */
    bool one_connection;     /* all clients on one connection instead of one each */
};

/*
 * Preloads, runs the mix for o->duration_s, removes what it made, and prints one key=value
 * line per call kind (calls, p50/p99/max latency, the gRPC codes seen, how many were not the
 * kind's expected code) and a "kind=all" line. Returns 0 when every call ended with its
 * expected code, 1 when some did not, -1 with *err set when the run could not be made
 * (connect, preload, a stall of 60 s).
 */
int bench_mixed_run(const struct bench_mixed_opts *o, struct berth_err **err);

#endif
