/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metrics registry and the text exposition renderer (metrics.h). Series live in a linked
 * list per family (render order) plus a hash table (lookup by label values at creation);
 * both only grow, under the registry's lock, so a pointer handed out stays valid and updates
 * never lock.
 */
#include "lib/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/util.h"

#define MAX_BOUNDS 64

const double berth_metrics_default_buckets[11] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

struct series {
    char **values; /* one per label name, owned */
    uint64_t hash;
    union {
        struct berth_counter c;
        struct berth_gauge g;
        struct berth_histogram h;
    } u;
    struct series *next;      /* render order */
    struct series *hash_next; /* same hash bucket */
};

struct berth_metrics_family {
    struct berth_metrics *m; /* the registry: its lock guards the series lists */
    enum berth_metric_type type;
    char *name, *help;
    char **labels; /* owned, n_labels of them */
    size_t n_labels;
    double *bounds; /* histograms */
    size_t n_bounds;
    struct series *head, *tail;
    struct series **buckets; /* hash table of series, n_buckets a power of two */
    size_t n_buckets, n_series;
    struct berth_buf scraped; /* sample lines collectors added (guarded by scrape_mu) */
    struct berth_metrics_family *next;
};

struct collector {
    berth_metrics_collect_fn fn;
    void *arg;
    struct collector *next;
};

struct berth_metrics {
    pthread_mutex_t mu;        /* families and series lists */
    pthread_mutex_t scrape_mu; /* one scrape at a time: collectors and scraped buffers */
    struct berth_metrics_family *head, *tail;
    struct collector *collectors, *collectors_tail;
};

struct berth_metrics_scrape {
    struct berth_metrics *m;
};

struct berth_metrics *berth_metrics_new(void)
{
    struct berth_metrics *m = berth_xcalloc(1, sizeof(*m));

    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->scrape_mu, NULL);
    return m;
}

static void series_free(struct berth_metrics_family *f, struct series *s)
{
    for (size_t i = 0; i < f->n_labels; i++)
        free(s->values[i]);
    free(s->values);
    if (f->type == BERTH_METRIC_HISTOGRAM)
        free(s->u.h.counts);
    free(s);
}

void berth_metrics_free(struct berth_metrics *m)
{
    if (!m)
        return;
    for (struct berth_metrics_family *f = m->head, *fn; f; f = fn) {
        fn = f->next;
        for (struct series *s = f->head, *sn; s; s = sn) {
            sn = s->next;
            series_free(f, s);
        }
        for (size_t i = 0; i < f->n_labels; i++)
            free(f->labels[i]);
        free(f->labels);
        free(f->bounds);
        free(f->buckets);
        free(f->name);
        free(f->help);
        berth_buf_clear(&f->scraped);
        free(f);
    }
    for (struct collector *c = m->collectors, *cn; c; c = cn) {
        cn = c->next;
        free(c);
    }
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->scrape_mu);
    free(m);
}

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s)
        return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int check_labels(enum berth_metric_type type, const char *name, const char *const *labels,
                        size_t n, struct berth_err **err)
{
    for (size_t i = 0; i < n; i++) {
        if (!valid_name(labels[i], false) || berth_str_has_prefix(labels[i], "__"))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "metric \"%s\": label name \"%s\" is not valid", name, labels[i]);
        if (type == BERTH_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "metric \"%s\": a histogram cannot have a label \"le\"", name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                     "metric \"%s\": label \"%s\" repeated", name, labels[i]);
    }
    return 0;
}

static int check_bounds(const char *name, const double *b, size_t n, struct berth_err **err)
{
    if (n == 0 || n > MAX_BOUNDS)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "metric \"%s\": %zu buckets (1 to %d allowed)", name, n, MAX_BOUNDS);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(b[i]) || (i > 0 && !(b[i] > b[i - 1])))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "metric \"%s\": bucket bounds must be finite and ascending", name);
    }
    return 0;
}

int berth_metrics_family_add(struct berth_metrics *m, enum berth_metric_type type, const char *name,
                             const char *help, const char *const *label_names, const double *bounds,
                             size_t n_bounds, struct berth_metrics_family **out,
                             struct berth_err **err)
{
    struct berth_metrics_family *f;
    size_t n_labels = 0;

    *out = NULL;
    if (!valid_name(name, true))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "metric name \"%s\" is not valid",
                             name ? name : "");
    if (type == BERTH_METRIC_COUNTER && !has_suffix(name, "_total"))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "counter \"%s\" must end in \"_total\"", name);
    while (label_names && label_names[n_labels])
        n_labels++;
    if (check_labels(type, name, label_names, n_labels, err) < 0)
        return -1;
    if (type == BERTH_METRIC_HISTOGRAM) {
        if (!bounds) {
            bounds = berth_metrics_default_buckets;
            n_bounds = BERTH_N(berth_metrics_default_buckets);
        }
        if (check_bounds(name, bounds, n_bounds, err) < 0)
            return -1;
    }
    pthread_mutex_lock(&m->mu);
    for (f = m->head; f; f = f->next) {
        if (strcmp(f->name, name) == 0) {
            pthread_mutex_unlock(&m->mu);
            return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "metric \"%s\" already exists",
                                 name);
        }
    }
    f = berth_xcalloc(1, sizeof(*f));
    f->m = m;
    f->type = type;
    f->name = berth_xstrdup(name);
    f->help = berth_xstrdup(help ? help : "");
    f->n_labels = n_labels;
    f->labels = berth_xcalloc(n_labels + 1, sizeof(char *));
    for (size_t i = 0; i < n_labels; i++)
        f->labels[i] = berth_xstrdup(label_names[i]);
    if (type == BERTH_METRIC_HISTOGRAM) {
        f->bounds = berth_xmalloc(n_bounds * sizeof(double));
        memcpy(f->bounds, bounds, n_bounds * sizeof(double));
        f->n_bounds = n_bounds;
    }
    if (m->tail)
        m->tail->next = f;
    else
        m->head = f;
    m->tail = f;
    pthread_mutex_unlock(&m->mu);
    *out = f;
    return 0;
}

static uint64_t values_hash(const char *const *v, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)v[i]; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL; /* separator: ("ab","c") != ("a","bc") */
    }
    return h;
}

static bool same_values(const struct series *s, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], v[i]) != 0)
            return false;
    return true;
}

static void hash_insert(struct berth_metrics_family *f, struct series *s)
{
    size_t i = (size_t)s->hash & (f->n_buckets - 1);

    s->hash_next = f->buckets[i];
    f->buckets[i] = s;
}

/* Finds or makes the series; caller holds m->mu. */
static struct series *series_get(struct berth_metrics_family *f, const char *const *v)
{
    uint64_t h = values_hash(v, f->n_labels);
    struct series *s;

    if (f->n_buckets) {
        for (s = f->buckets[(size_t)h & (f->n_buckets - 1)]; s; s = s->hash_next)
            if (s->hash == h && same_values(s, v, f->n_labels))
                return s;
    }
    if (f->n_series >= f->n_buckets) {
        size_t n = f->n_buckets ? f->n_buckets * 2 : 16;
        free(f->buckets);
        f->buckets = berth_xcalloc(n, sizeof(*f->buckets));
        f->n_buckets = n;
        for (s = f->head; s; s = s->next)
            hash_insert(f, s);
    }
    s = berth_xcalloc(1, sizeof(*s));
    s->hash = h;
    s->values = berth_xcalloc(f->n_labels + 1, sizeof(char *));
    for (size_t i = 0; i < f->n_labels; i++)
        s->values[i] = berth_xstrdup(v[i]);
    if (f->type == BERTH_METRIC_HISTOGRAM) {
        s->u.h.bounds = f->bounds;
        s->u.h.n_bounds = f->n_bounds;
        s->u.h.counts = berth_xcalloc(f->n_bounds + 1, sizeof(*s->u.h.counts));
    }
    hash_insert(f, s);
    if (f->tail)
        f->tail->next = s;
    else
        f->head = s;
    f->tail = s;
    f->n_series++;
    return s;
}

static struct series *series_of(struct berth_metrics_family *f, enum berth_metric_type type,
                                const char *const *v)
{
    struct series *s;

    if (!f || f->type != type || (f->n_labels && !v))
        return NULL;
    pthread_mutex_lock(&f->m->mu);
    s = series_get(f, v);
    pthread_mutex_unlock(&f->m->mu);
    return s;
}

struct berth_counter *berth_metrics_counter(struct berth_metrics_family *f,
                                            const char *const *label_values)
{
    struct series *s = series_of(f, BERTH_METRIC_COUNTER, label_values);
    return s ? &s->u.c : NULL;
}

struct berth_gauge *berth_metrics_gauge(struct berth_metrics_family *f,
                                        const char *const *label_values)
{
    struct series *s = series_of(f, BERTH_METRIC_GAUGE, label_values);
    return s ? &s->u.g : NULL;
}

struct berth_histogram *berth_metrics_histogram(struct berth_metrics_family *f,
                                                const char *const *label_values)
{
    struct series *s = series_of(f, BERTH_METRIC_HISTOGRAM, label_values);
    return s ? &s->u.h : NULL;
}

void berth_metrics_collector_add(struct berth_metrics *m, berth_metrics_collect_fn fn, void *arg)
{
    struct collector *c = berth_xcalloc(1, sizeof(*c));

    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&m->scrape_mu);
    if (m->collectors_tail)
        m->collectors_tail->next = c;
    else
        m->collectors = c;
    m->collectors_tail = c;
    pthread_mutex_unlock(&m->scrape_mu);
}

char *berth_metrics_format_double(double v, char out[32])
{
    if (isnan(v))
        return strcpy(out, "NaN");
    if (isinf(v))
        return strcpy(out, v > 0 ? "+Inf" : "-Inf");
    /* Integral values as integers (counts, bytes): what Go's FormatFloat(v, 'g', -1) writes
     * below 1e21, without an exponent. */
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, 32, "%.0f", v);
        return out;
    }
    /* The shortest %g that reads back as the same double, as Go's 'g' with precision -1. */
    for (int p = 1; p <= 17; p++) {
        snprintf(out, 32, "%.*g", p, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return out;
}

static void append_str(struct berth_buf *b, const char *s)
{
    berth_buf_append(b, s, strlen(s));
}

/* Label values: backslash, double quote and line feed escaped. HELP text (quote == false):
 * backslash and line feed only. */
static void append_escaped(struct berth_buf *b, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            append_str(b, "\\\\");
        else if (*s == '\n')
            append_str(b, "\\n");
        else if (quote && *s == '"')
            append_str(b, "\\\"");
        else
            berth_buf_append(b, s, 1);
    }
}

/* name+suffix{labels,extra_name="extra"} value LF */
static void append_sample(struct berth_buf *b, const struct berth_metrics_family *f,
                          const char *suffix, char *const *values, const char *extra_name,
                          const char *extra, const char *value)
{
    bool any = f->n_labels > 0 || extra_name;

    append_str(b, f->name);
    append_str(b, suffix);
    if (any) {
        berth_buf_append(b, "{", 1);
        for (size_t i = 0; i < f->n_labels; i++) {
            if (i)
                berth_buf_append(b, ",", 1);
            append_str(b, f->labels[i]);
            append_str(b, "=\"");
            append_escaped(b, values[i], true);
            berth_buf_append(b, "\"", 1);
        }
        if (extra_name) {
            if (f->n_labels)
                berth_buf_append(b, ",", 1);
            append_str(b, extra_name);
            append_str(b, "=\"");
            append_escaped(b, extra, true);
            berth_buf_append(b, "\"", 1);
        }
        berth_buf_append(b, "}", 1);
    }
    berth_buf_append(b, " ", 1);
    append_str(b, value);
    berth_buf_append(b, "\n", 1);
}

void berth_metrics_scrape_sample(struct berth_metrics_scrape *s, struct berth_metrics_family *f,
                                 const char *const *label_values, double v)
{
    char num[32];

    (void)s; /* the scrape lock is held by berth_metrics_render, which made s */
    if (!f || f->type == BERTH_METRIC_HISTOGRAM || (f->n_labels && !label_values))
        return;
    append_sample(&f->scraped, f, "", (char *const *)label_values, NULL, NULL,
                  berth_metrics_format_double(v, num));
}

static void render_series(struct berth_buf *out, const struct berth_metrics_family *f,
                          const struct series *s)
{
    char num[32], le[32];
    uint64_t cum = 0;
    double sum;
    uint64_t bits;

    switch (f->type) {
    case BERTH_METRIC_COUNTER:
        snprintf(num, sizeof(num), "%llu",
                 (unsigned long long)atomic_load_explicit(&s->u.c.v, memory_order_relaxed));
        append_sample(out, f, "", s->values, NULL, NULL, num);
        break;
    case BERTH_METRIC_GAUGE:
        snprintf(num, sizeof(num), "%lld",
                 (long long)atomic_load_explicit(&s->u.g.v, memory_order_relaxed));
        append_sample(out, f, "", s->values, NULL, NULL, num);
        break;
    case BERTH_METRIC_HISTOGRAM:
        /* The count is the sum of the buckets read here, so +Inf and _count always agree
         * even while observations land between the reads. */
        for (size_t i = 0; i <= f->n_bounds; i++) {
            cum += atomic_load_explicit(&s->u.h.counts[i], memory_order_relaxed);
            snprintf(num, sizeof(num), "%llu", (unsigned long long)cum);
            if (i < f->n_bounds)
                berth_metrics_format_double(f->bounds[i], le);
            else
                strcpy(le, "+Inf");
            append_sample(out, f, "_bucket", s->values, "le", le, num);
        }
        bits = atomic_load_explicit(&s->u.h.sum_bits, memory_order_relaxed);
        memcpy(&sum, &bits, sizeof(sum));
        append_sample(out, f, "_sum", s->values, NULL, NULL, berth_metrics_format_double(sum, num));
        snprintf(num, sizeof(num), "%llu", (unsigned long long)cum);
        append_sample(out, f, "_count", s->values, NULL, NULL, num);
        break;
    }
}

static const char *type_name(enum berth_metric_type t)
{
    return t == BERTH_METRIC_COUNTER ? "counter" : t == BERTH_METRIC_GAUGE ? "gauge" : "histogram";
}

void berth_metrics_render(struct berth_metrics *m, struct berth_buf *out)
{
    struct berth_metrics_scrape scrape = {m};

    pthread_mutex_lock(&m->scrape_mu);
    for (struct collector *c = m->collectors; c; c = c->next)
        c->fn(c->arg, &scrape);
    pthread_mutex_lock(&m->mu);
    for (struct berth_metrics_family *f = m->head; f; f = f->next) {
        if (!f->head && !berth_buf_pending(&f->scraped))
            continue;
        append_str(out, "# HELP ");
        append_str(out, f->name);
        berth_buf_append(out, " ", 1);
        append_escaped(out, f->help, false);
        append_str(out, "\n# TYPE ");
        append_str(out, f->name);
        berth_buf_append(out, " ", 1);
        append_str(out, type_name(f->type));
        berth_buf_append(out, "\n", 1);
        for (const struct series *s = f->head; s; s = s->next)
            render_series(out, f, s);
        if (berth_buf_pending(&f->scraped))
            berth_buf_append(out, berth_buf_head(&f->scraped), berth_buf_pending(&f->scraped));
        berth_buf_clear(&f->scraped);
    }
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_unlock(&m->scrape_mu);
}
