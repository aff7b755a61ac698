/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl metrics: scrapes berthd's Prometheus endpoint ([metrics] address; over HTTP with
 * libcurl, not the socket) and prints a short summary: uptime, memory, threads, descriptors,
 * gRPC calls and errors by code, the busiest methods with p50/p99 from their handling
 * histograms, tasks and shims, group commits, GC passes and pauses, pulls.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"

#define DEFAULT_METRICS_ADDRESS "127.0.0.1:1338"
#define MAX_BUCKETS             64
#define TOP_METHODS             5

/* One parsed sample: borrowed pointers into the scraped text, which is edited in place. */
struct sample {
    const char *name, *labels; /* labels: the text between the braces, "" if none */
    double v;
};

struct scrape {
    struct sample *s;
    size_t n, cap;
};

static size_t curl_write_cb(char *p, size_t size, size_t n, void *arg)
{
    berth_buf_append(arg, p, size * n);
    return size * n;
}

static int fetch(const char *address, struct berth_buf *out, struct berth_err **err)
{
    _cleanup_free_ char *url = berth_strdup_printf("http://%s/v1/metrics", address);
    char cerr[CURL_ERROR_SIZE] = "";
    CURL *c = curl_easy_init();
    CURLcode rc;
    long code = 0;

    if (!c)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "curl_easy_init failed");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0,
                             "scrape %s: %s (is [metrics] address set in berthd's config?)", url,
                             *cerr ? cerr : curl_easy_strerror(rc));
    if (code != 200)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "scrape %s: HTTP status %ld", url, code);
    berth_buf_append(out, "", 1); /* NUL-terminated from here on */
    return 0;
}

/* Splits the exposition into samples, in place. Comment lines are skipped. */
static void parse(char *text, struct scrape *sc)
{
    for (char *line = text, *next; line && *line; line = next) {
        char *sp, *brace;
        struct sample s = {0};

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (*line == '#' || !(sp = strrchr(line, ' ')))
            continue;
        *sp = '\0';
        s.v = strtod(sp + 1, NULL);
        s.name = line;
        s.labels = "";
        brace = strchr(line, '{');
        if (brace) {
            char *end = strrchr(brace, '}');
            *brace = '\0';
            if (end)
                *end = '\0';
            s.labels = brace + 1;
        }
        if (sc->n == sc->cap) {
            sc->cap = sc->cap ? sc->cap * 2 : 1024;
            sc->s = berth_xrealloc(sc->s, sc->cap * sizeof(*sc->s));
        }
        sc->s[sc->n++] = s;
    }
}

/* The value of label name in a labels string (copied into out); "" when absent. */
static const char *label(const char *labels, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = labels;

    *out = '\0';
    while ((p = strstr(p, name))) {
        if ((p == labels || p[-1] == ',') && strncmp(p + nl, "=\"", 2) == 0) {
            size_t i = 0;
            p += nl + 2;
            while (*p && *p != '"' && i + 1 < cap) {
                if (*p == '\\' && p[1])
                    p++;
                out[i++] = *p++;
            }
            out[i] = '\0';
            break;
        }
        p += nl;
    }
    return out;
}

/* Sum of every sample of name whose labels contain `match` (NULL: all). */
static double sum(const struct scrape *sc, const char *name, const char *match)
{
    double t = 0;

    for (size_t i = 0; i < sc->n; i++)
        if (strcmp(sc->s[i].name, name) == 0 && (!match || strstr(sc->s[i].labels, match)))
            t += sc->s[i].v;
    return t;
}

static bool has(const struct scrape *sc, const char *name)
{
    for (size_t i = 0; i < sc->n; i++)
        if (strcmp(sc->s[i].name, name) == 0)
            return true;
    return false;
}

/* histogram_quantile over the buckets of family `base` whose labels start with `prefix`
 * (the series' labels before le); NAN without observations. */
static double quantile(const struct scrape *sc, const char *base, const char *prefix, double q)
{
    _cleanup_free_ char *bucket = berth_strdup_printf("%s_bucket", base);
    double le[MAX_BUCKETS], cum[MAX_BUCKETS], rank, lo = 0, prev = 0;
    size_t n = 0, pl = strlen(prefix);
    char v[64];

    for (size_t i = 0; i < sc->n && n < MAX_BUCKETS; i++) {
        if (strcmp(sc->s[i].name, bucket) != 0 || strncmp(sc->s[i].labels, prefix, pl) != 0)
            continue;
        label(sc->s[i].labels, "le", v, sizeof(v));
        le[n] = strcmp(v, "+Inf") == 0 ? INFINITY : strtod(v, NULL);
        cum[n++] = sc->s[i].v;
    }
    if (n == 0 || cum[n - 1] == 0)
        return NAN;
    rank = q * cum[n - 1];
    for (size_t i = 0; i < n; i++) {
        if (cum[i] >= rank) {
            if (isinf(le[i]))
                return lo; /* above the highest bound: the bound, as Prometheus answers */
            return lo + (le[i] - lo) * (cum[i] - prev > 0 ? (rank - prev) / (cum[i] - prev) : 1);
        }
        lo = le[i];
        prev = cum[i];
    }
    return lo;
}

static void fmt_seconds(double s, char *out, size_t cap)
{
    if (isnan(s))
        snprintf(out, cap, "-");
    else if (s < 0.001)
        snprintf(out, cap, "%.0fus", s * 1e6);
    else if (s < 1)
        snprintf(out, cap, "%.1fms", s * 1e3);
    else
        snprintf(out, cap, "%.2fs", s);
}

static void fmt_bytes(double b, char *out, size_t cap)
{
    if (b >= 1 << 30)
        snprintf(out, cap, "%.1f GiB", b / (1 << 30));
    else if (b >= 1 << 20)
        snprintf(out, cap, "%.1f MiB", b / (1 << 20));
    else if (b >= 1 << 10)
        snprintf(out, cap, "%.1f KiB", b / (1 << 10));
    else
        snprintf(out, cap, "%.0f B", b);
}

static void fmt_duration(double s, char *out, size_t cap)
{
    long long t = (long long)s;

    if (t >= 86400)
        snprintf(out, cap, "%lldd%lldh%lldm", t / 86400, t % 86400 / 3600, t % 3600 / 60);
    else if (t >= 3600)
        snprintf(out, cap, "%lldh%lldm%llds", t / 3600, t % 3600 / 60, t % 60);
    else if (t >= 60)
        snprintf(out, cap, "%lldm%llds", t / 60, t % 60);
    else
        snprintf(out, cap, "%llds", t);
}

struct method {
    char name[320];   /* service/method */
    char prefix[512]; /* the labels before le in its histogram */
    double calls;
};

static int cmp_method(const void *a, const void *b)
{
    double x = ((const struct method *)a)->calls, y = ((const struct method *)b)->calls;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void print_grpc(FILE *f, const struct scrape *sc)
{
    static const char *const codes[] = {
        "Canceled",           "Unknown",       "InvalidArgument",  "DeadlineExceeded",
        "NotFound",           "AlreadyExists", "PermissionDenied", "ResourceExhausted",
        "FailedPrecondition", "Aborted",       "OutOfRange",       "Unimplemented",
        "Internal",           "Unavailable",   "DataLoss",         "Unauthenticated"};
    double total = sum(sc, "grpc_server_handled_total", NULL);
    double ok = sum(sc, "grpc_server_handled_total", "grpc_code=\"OK\"");
    _cleanup_free_ struct method *ms = NULL;
    size_t n = 0;
    const char *sep = " (";

    fprintf(f, "grpc calls     %.0f handled, %.0f errors", total, total - ok);
    for (size_t i = 0; i < BERTH_N(codes); i++) {
        char m[64];
        double c;
        snprintf(m, sizeof(m), "grpc_code=\"%s\"", codes[i]);
        c = sum(sc, "grpc_server_handled_total", m);
        if (c > 0) {
            fprintf(f, "%s%s %.0f", sep, codes[i], c);
            sep = ", ";
        }
    }
    fprintf(f, "%s\n", *sep == ',' ? ")" : "");
    /* Per method: the started counter has one series per method. */
    ms = berth_xcalloc(sc->n + 1, sizeof(*ms));
    for (size_t i = 0; i < sc->n; i++) {
        const struct sample *s = &sc->s[i];
        char svc[200], meth[100], type[32];
        if (strcmp(s->name, "grpc_server_started_total") != 0 || s->v <= 0)
            continue;
        label(s->labels, "grpc_service", svc, sizeof(svc));
        label(s->labels, "grpc_method", meth, sizeof(meth));
        label(s->labels, "grpc_type", type, sizeof(type));
        snprintf(ms[n].name, sizeof(ms[n].name), "%s/%s", svc, meth);
        snprintf(ms[n].prefix, sizeof(ms[n].prefix), "%s", s->labels);
        ms[n++].calls = s->v;
    }
    qsort(ms, n, sizeof(*ms), cmp_method);
    if (n)
        fprintf(f, "top methods    %-60s %8s %9s %9s\n", "", "calls", "p50", "p99");
    for (size_t i = 0; i < n && i < TOP_METHODS; i++) {
        char p50[32], p99[32];
        fmt_seconds(quantile(sc, "grpc_server_handling_seconds", ms[i].prefix, 0.5), p50,
                    sizeof(p50));
        fmt_seconds(quantile(sc, "grpc_server_handling_seconds", ms[i].prefix, 0.99), p99,
                    sizeof(p99));
        fprintf(f, "  %-73s %8.0f %9s %9s\n", ms[i].name, ms[i].calls, p50, p99);
    }
}

static void summarise(FILE *f, const char *address, const struct scrape *sc)
{
    char a[64], b[64];
    double commits = sum(sc, "berth_metadata_commit_batch_size_count", NULL);
    double passes = sum(sc, "berth_gc_pause_seconds_count", NULL);

    fprintf(f, "metrics        http://%s/v1/metrics\n", address);
    fmt_duration((double)time(NULL) - sum(sc, "process_start_time_seconds", NULL), a, sizeof(a));
    fprintf(f, "uptime         %s\n", a);
    fmt_bytes(sum(sc, "process_resident_memory_bytes", NULL), a, sizeof(a));
    fprintf(f, "process        RSS %s, %.0f threads, %.0f/%.0f fds, CPU %.2fs\n", a,
            sum(sc, "process_threads", NULL), sum(sc, "process_open_fds", NULL),
            sum(sc, "process_max_fds", NULL), sum(sc, "process_cpu_seconds_total", NULL));
    print_grpc(f, sc);
    fprintf(f, "tasks          %.0f running, %.0f in the table, %.0f shims\n",
            sum(sc, "berth_tasks_running", NULL), sum(sc, "berth_tasks", NULL),
            sum(sc, "berth_shims_running", NULL));
    fmt_seconds(commits ? sum(sc, "berth_metadata_commit_seconds_sum", NULL) / commits : NAN, a,
                sizeof(a));
    fmt_seconds(quantile(sc, "berth_metadata_commit_seconds", "", 0.99), b, sizeof(b));
    fprintf(f, "metadata       %.0f commits, mean batch %.2f, commit mean %s p99 %s\n", commits,
            commits ? sum(sc, "berth_metadata_commit_batch_size_sum", NULL) / commits : 0.0, a, b);
    fmt_seconds(passes ? sum(sc, "berth_gc_pause_seconds_sum", NULL) / passes : NAN, a, sizeof(a));
    fmt_seconds(quantile(sc, "berth_gc_pause_seconds", "", 1.0), b, sizeof(b));
    fprintf(f, "gc             %.0f passes (%.0f failed), pause mean %s max %s, %.0f removed\n",
            sum(sc, "berth_gc_passes_total", NULL),
            sum(sc, "berth_gc_passes_total", "result=\"error\""), a, b,
            sum(sc, "berth_gc_removed_total", NULL));
    fmt_bytes(sum(sc, "berth_pull_bytes_total", NULL), a, sizeof(a));
    fmt_seconds(quantile(sc, "berth_pull_seconds", "", 0.5), b, sizeof(b));
    fprintf(f, "pulls          %.0f ok, %.0f failed, %s fetched, p50 %s\n",
            sum(sc, "berth_pulls_total", "result=\"ok\""),
            sum(sc, "berth_pulls_total", "result=\"error\""), a, b);
    if (!has(sc, "grpc_server_handling_seconds_count"))
        fprintf(f, "(no grpc_server_handling_seconds: [metrics] grpc_histogram = false)\n");
}

static int metrics_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    const char *address = getenv("BERTH_METRICS_ADDRESS");
    struct berth_buf body = BERTH_BUF_INIT;
    struct scrape sc = {0};
    bool raw = false;
    int ret;

    if (!address || !*address)
        address = DEFAULT_METRICS_ADDRESS;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--metrics-address") == 0 && i + 1 < argc)
            address = argv[++i];
        else if (berth_str_has_prefix(argv[i], "--metrics-address="))
            address = argv[i] + strlen("--metrics-address=");
        else if (strcmp(argv[i], "--raw") == 0)
            raw = true;
        else
            return berthctl_usage(ctl, err, "unknown argument \"%s\"", argv[i]);
    }
    ret = fetch(address, &body, err);
    if (ret == 0 && raw)
        fputs((const char *)berth_buf_head(&body), ctl->out);
    else if (ret == 0) {
        parse((char *)body.data + body.off, &sc);
        summarise(ctl->out, address, &sc);
    }
    free(sc.s);
    berth_buf_clear(&body);
    return ret;
}

const struct berthctl_noun berthctl_metrics_noun = {
    .name = "metrics",
    .summary = "summarise berthd's Prometheus metrics",
    .usage =
        "usage: berthctl metrics [--metrics-address HOST:PORT] [--raw]\n"
        "\n"
        "Scrapes http://HOST:PORT/v1/metrics (berthd's [metrics] address; env\n"
        "BERTH_METRICS_ADDRESS, default " DEFAULT_METRICS_ADDRESS ") and prints uptime, memory,\n"
        "threads, descriptors, gRPC calls and errors by code, the busiest methods with\n"
        "p50/p99, tasks and shims, group commits, GC passes and pauses, and pulls.\n"
        "  --raw    print the exposition as scraped\n",
    .run = metrics_run,
};
