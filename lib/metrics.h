/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus metrics: a registry of families (counter, gauge, histogram) with fixed label
 * names, series created once (at start-up, or the first time a label set is seen) and updated
 * lock-free with C11 atomics, scrape-time collectors for what is costly to keep current
 * (cgroups, /proc), and a renderer to the text exposition format 0.0.4. Only counts: the
 * registry never logs and holds no socket; the daemon decides what to serve and where.
 */
#ifndef BERTH_LIB_METRICS_H
#define BERTH_LIB_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h> /* memcpy: a double's bits in an atomic word */

#include "lib/buf.h"
#include "lib/err.h"

enum berth_metric_type {
    BERTH_METRIC_COUNTER,
    BERTH_METRIC_GAUGE,
    BERTH_METRIC_HISTOGRAM,
};

/* One series. Callers keep the pointer the registry hands out and update through the inline
 * functions below, which take NULL (metrics off) as a no-op and never allocate or lock. */
struct berth_counter {
    atomic_uint_least64_t v;
};
struct berth_gauge {
    atomic_int_least64_t v;
};
struct berth_histogram {
    const double *bounds;           /* the family's upper bounds, ascending; +Inf implied */
    size_t n_bounds;                /* counts has n_bounds + 1 entries (the last: above all) */
    atomic_uint_least64_t *counts;  /* per bucket, not cumulative (the renderer sums) */
    atomic_uint_least64_t sum_bits; /* the sum of observations, a double's bits */
};

static inline void berth_counter_add(struct berth_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}
static inline void berth_counter_inc(struct berth_counter *c)
{
    berth_counter_add(c, 1);
}
static inline void berth_gauge_set(struct berth_gauge *g, int64_t v)
{
    if (g)
        atomic_store_explicit(&g->v, v, memory_order_relaxed);
}
static inline void berth_gauge_add(struct berth_gauge *g, int64_t d)
{
    if (g)
        atomic_fetch_add_explicit(&g->v, d, memory_order_relaxed);
}
static inline void berth_histogram_observe(struct berth_histogram *h, double v)
{
    uint64_t old, new_bits;
    double sum;
    size_t i = 0;

    if (!h)
        return;
    /* A dozen bounds: a linear scan beats a binary search's branches. NaN lands in +Inf. */
    while (i < h->n_bounds && !(v <= h->bounds[i]))
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
    do {
        memcpy(&sum, &old, sizeof(sum));
        sum += v;
        memcpy(&new_bits, &sum, sizeof(sum));
    } while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old, new_bits,
                                                    memory_order_relaxed, memory_order_relaxed));
}

/* Prometheus' default buckets (client_golang DefBuckets): .005 .01 .025 .05 .1 .25 .5 1 2.5
 * 5 10 seconds. */
extern const double berth_metrics_default_buckets[11];

struct berth_metrics;        /* opaque: the registry */
struct berth_metrics_family; /* opaque: one metric name, owned by the registry */
struct berth_metrics_scrape; /* opaque: one scrape in progress, handed to collectors */

/* Creates an empty registry (aborts on OOM). Free with berth_metrics_free. */
struct berth_metrics *berth_metrics_new(void);
/* Frees the registry, its families and every series handed out (NULL-safe): nothing may
 * update a series afterwards. */
void berth_metrics_free(struct berth_metrics *m);

/* Adds a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]* and, for counters, end in "_total";
 * label_names (NULL-terminated, may be NULL for none) must match [a-zA-Z_][a-zA-Z0-9_]*,
 * not start with "__", not repeat and, for histograms, not be "le". bounds (histograms only;
 * NULL = berth_metrics_default_buckets) must be finite and strictly ascending, at most 64.
 * help is any text (escaped when rendered). Strings are copied. INVALID_ARGUMENT for a bad
 * name, label or bounds; ALREADY_EXISTS when the name is taken. *out is owned by m (valid
 * until berth_metrics_free). Families render in the order they were added. */
int berth_metrics_family_add(struct berth_metrics *m, enum berth_metric_type type, const char *name,
                             const char *help, const char *const *label_names, const double *bounds,
                             size_t n_bounds, struct berth_metrics_family **out,
                             struct berth_err **err);

/* The series of f with these label values (one per label name, any bytes but NUL; NULL when
 * the family has no labels), created on first use and returned again after; owned by the
 * registry. NULL when f is NULL or of another type (so a disabled family stays a no-op).
 * Takes the registry's lock: call it once and keep the pointer, not per update. */
struct berth_counter *berth_metrics_counter(struct berth_metrics_family *f,
                                            const char *const *label_values);
struct berth_gauge *berth_metrics_gauge(struct berth_metrics_family *f,
                                        const char *const *label_values);
struct berth_histogram *berth_metrics_histogram(struct berth_metrics_family *f,
                                                const char *const *label_values);

/* A collector runs at each scrape, before rendering, and adds samples of counter or gauge
 * families with berth_metrics_scrape_sample. It must not add families or series. Scrapes are
 * serialised: collectors never run concurrently. arg is borrowed. */
typedef void (*berth_metrics_collect_fn)(void *arg, struct berth_metrics_scrape *s);
void berth_metrics_collector_add(struct berth_metrics *m, berth_metrics_collect_fn fn, void *arg);

/* One sample of f (counter or gauge; ignored otherwise, and when f is NULL) for this scrape.
 * label_values as for berth_metrics_counter. Samples render after f's own series, in the order
 * added; the collector must not repeat a label set. */
void berth_metrics_scrape_sample(struct berth_metrics_scrape *s, struct berth_metrics_family *f,
                                 const char *const *label_values, double v);

/* Runs the collectors and appends the text exposition (format 0.0.4) to out: for each family
 * with at least one series or sample, "# HELP", "# TYPE", then its samples; histograms as
 * cumulative _bucket{le="..."} lines ending in le="+Inf", then _sum and _count. Label values
 * escaped (\\, \", \n), HELP text escaped (\\, \n). Safe while other threads update series. */
void berth_metrics_render(struct berth_metrics *m, struct berth_buf *out);

/* Formats v as the exposition format writes floats (shortest text that reads back as v;
 * "+Inf", "-Inf", "NaN"). out must hold 32 bytes. Returns out. */
char *berth_metrics_format_double(double v, char out[32]);

#endif
