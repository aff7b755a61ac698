/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/metrics.c: registration rules, exact rendering, escaping, histogram buckets,
 * collectors and concurrent updates. */
#include "tests/unit/helpers/berth_test.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics.h"
#include "lib/util.h"

/* Renders m as a NUL-terminated string owned by the caller. */
static char *render(struct berth_metrics *m)
{
    struct berth_buf b = BERTH_BUF_INIT;
    char *s;

    berth_metrics_render(m, &b);
    /* an empty buffer has no storage to copy from */
    s = berth_buf_pending(&b)
            ? berth_xstrndup((const char *)berth_buf_head(&b), berth_buf_pending(&b))
            : berth_xstrdup("");
    berth_buf_clear(&b);
    return s;
}

static struct berth_metrics_family *add(struct berth_metrics *m, enum berth_metric_type t,
                                        const char *name, const char *help,
                                        const char *const *labels, const double *b, size_t nb)
{
    struct berth_metrics_family *f = NULL;
    struct berth_err *err = NULL;

    assert_int_equal(berth_metrics_family_add(m, t, name, help, labels, b, nb, &f, &err), 0);
    assert_non_null(f);
    return f;
}

static void test_metrics_render_counter_gauge_exact(void **state)
{
    struct berth_metrics *m = berth_metrics_new();
    static const char *const labels[] = {"method", "code", NULL};
    struct berth_metrics_family *c, *g;
    _cleanup_free_ char *out = NULL;

    (void)state;
    c = add(m, BERTH_METRIC_COUNTER, "calls_total", "Calls handled.", labels, NULL, 0);
    g = add(m, BERTH_METRIC_GAUGE, "tasks_running", "Running tasks.", NULL, NULL, 0);
    berth_counter_add(berth_metrics_counter(c, (const char *const[]){"Get", "OK"}), 3);
    berth_counter_inc(berth_metrics_counter(c, (const char *const[]){"Get", "NotFound"}));
    /* the same label values give the same series */
    berth_counter_inc(berth_metrics_counter(c, (const char *const[]){"Get", "OK"}));
    berth_gauge_set(berth_metrics_gauge(g, NULL), 7);
    berth_gauge_add(berth_metrics_gauge(g, NULL), -2);
    out = render(m);
    assert_string_equal(out, "# HELP calls_total Calls handled.\n"
                             "# TYPE calls_total counter\n"
                             "calls_total{method=\"Get\",code=\"OK\"} 4\n"
                             "calls_total{method=\"Get\",code=\"NotFound\"} 1\n"
                             "# HELP tasks_running Running tasks.\n"
                             "# TYPE tasks_running gauge\n"
                             "tasks_running 5\n");
    berth_metrics_free(m);
}

static void test_metrics_render_escapes_label_values_and_help(void **state)
{
    struct berth_metrics *m = berth_metrics_new();
    static const char *const labels[] = {"v", NULL};
    struct berth_metrics_family *c;
    _cleanup_free_ char *out = NULL;

    (void)state;
    c = add(m, BERTH_METRIC_COUNTER, "x_total", "a \\ b\nc \"q\"", labels, NULL, 0);
    berth_counter_inc(berth_metrics_counter(c, (const char *const[]){"a\\b\"c\nd"}));
    out = render(m);
    /* HELP: backslash and LF escaped, quotes as they are; label values: all three */
    assert_string_equal(out, "# HELP x_total a \\\\ b\\nc \"q\"\n"
                             "# TYPE x_total counter\n"
                             "x_total{v=\"a\\\\b\\\"c\\nd\"} 1\n");
    berth_metrics_free(m);
}

static void test_metrics_render_histogram_cumulative_buckets(void **state)
{
    struct berth_metrics *m = berth_metrics_new();
    static const char *const labels[] = {"op", NULL};
    static const double bounds[] = {0.5, 1, 2.5};
    struct berth_metrics_family *f;
    struct berth_histogram *h;
    _cleanup_free_ char *out = NULL;

    (void)state;
    f = add(m, BERTH_METRIC_HISTOGRAM, "op_seconds", "Op time.", labels, bounds, 3);
    h = berth_metrics_histogram(f, (const char *const[]){"pull"});
    berth_histogram_observe(h, 0.25);
    berth_histogram_observe(h, 0.5); /* le is inclusive */
    berth_histogram_observe(h, 2);
    berth_histogram_observe(h, 100);
    out = render(m);
    assert_string_equal(out, "# HELP op_seconds Op time.\n"
                             "# TYPE op_seconds histogram\n"
                             "op_seconds_bucket{op=\"pull\",le=\"0.5\"} 2\n"
                             "op_seconds_bucket{op=\"pull\",le=\"1\"} 2\n"
                             "op_seconds_bucket{op=\"pull\",le=\"2.5\"} 3\n"
                             "op_seconds_bucket{op=\"pull\",le=\"+Inf\"} 4\n"
                             "op_seconds_sum{op=\"pull\"} 102.75\n"
                             "op_seconds_count{op=\"pull\"} 4\n");
    berth_metrics_free(m);
}

static void test_metrics_default_buckets_render_as_go(void **state)
{
    struct berth_metrics *m = berth_metrics_new();
    struct berth_metrics_family *f;
    _cleanup_free_ char *out = NULL;

    (void)state;
    f = add(m, BERTH_METRIC_HISTOGRAM, "t_seconds", "T.", NULL, NULL, 0);
    berth_histogram_observe(berth_metrics_histogram(f, NULL), 0.003);
    out = render(m);
    assert_non_null(strstr(out, "t_seconds_bucket{le=\"0.005\"} 1\n"
                                "t_seconds_bucket{le=\"0.01\"} 1\n"
                                "t_seconds_bucket{le=\"0.025\"} 1\n"
                                "t_seconds_bucket{le=\"0.05\"} 1\n"
                                "t_seconds_bucket{le=\"0.1\"} 1\n"
                                "t_seconds_bucket{le=\"0.25\"} 1\n"
                                "t_seconds_bucket{le=\"0.5\"} 1\n"
                                "t_seconds_bucket{le=\"1\"} 1\n"
                                "t_seconds_bucket{le=\"2.5\"} 1\n"
                                "t_seconds_bucket{le=\"5\"} 1\n"
                                "t_seconds_bucket{le=\"10\"} 1\n"
                                "t_seconds_bucket{le=\"+Inf\"} 1\n"
                                "t_seconds_sum 0.003\n"
                                "t_seconds_count 1\n"));
    berth_metrics_free(m);
}

static void test_metrics_family_add_rejects_bad_names(void **state)
{
    struct berth_metrics *m = berth_metrics_new();
    struct berth_metrics_family *f;
    struct berth_err *err = NULL;
    static const double down[] = {1, 0.5};
    static const char *const bad_label[] = {"__x", NULL};
    static const char *const le[] = {"le", NULL};
    static const char *const twice[] = {"a", "a", NULL};

    (void)state;
    assert_int_equal(
        berth_metrics_family_add(m, BERTH_METRIC_GAUGE, "9x", "", NULL, NULL, 0, &f, &err), -1);
    assert_int_equal(err->code, BERTH_E_INVALID_ARGUMENT);
    berth_err_free(&err);
    assert_int_equal(
        berth_metrics_family_add(m, BERTH_METRIC_GAUGE, "a-b", "", NULL, NULL, 0, &f, &err), -1);
    berth_err_free(&err);
    /* counters end in _total */
    assert_int_equal(
        berth_metrics_family_add(m, BERTH_METRIC_COUNTER, "calls", "", NULL, NULL, 0, &f, &err),
        -1);
    assert_int_equal(err->code, BERTH_E_INVALID_ARGUMENT);
    berth_err_free(&err);
    assert_int_equal(
        berth_metrics_family_add(m, BERTH_METRIC_GAUGE, "g", "", bad_label, NULL, 0, &f, &err), -1);
    berth_err_free(&err);
    assert_int_equal(
        berth_metrics_family_add(m, BERTH_METRIC_GAUGE, "g", "", twice, NULL, 0, &f, &err), -1);
    berth_err_free(&err);
    assert_int_equal(
        berth_metrics_family_add(m, BERTH_METRIC_HISTOGRAM, "h", "", le, NULL, 0, &f, &err), -1);
    berth_err_free(&err);
    assert_int_equal(
        berth_metrics_family_add(m, BERTH_METRIC_HISTOGRAM, "h", "", NULL, down, 2, &f, &err), -1);
    assert_int_equal(err->code, BERTH_E_INVALID_ARGUMENT);
    berth_err_free(&err);
    assert_int_equal(
        berth_metrics_family_add(m, BERTH_METRIC_GAUGE, "ns:g", "", NULL, NULL, 0, &f, &err), 0);
    assert_int_equal(
        berth_metrics_family_add(m, BERTH_METRIC_COUNTER, "ns:g", "", NULL, NULL, 0, &f, &err), -1);
    assert_int_equal(err->code, BERTH_E_INVALID_ARGUMENT); /* not _total: checked first */
    berth_err_free(&err);
    assert_int_equal(
        berth_metrics_family_add(m, BERTH_METRIC_GAUGE, "ns:g", "", NULL, NULL, 0, &f, &err), -1);
    assert_int_equal(err->code, BERTH_E_ALREADY_EXISTS);
    berth_err_free(&err);
    berth_metrics_free(m);
}

static void test_metrics_series_of_other_type_is_null(void **state)
{
    struct berth_metrics *m = berth_metrics_new();
    struct berth_metrics_family *g;
    _cleanup_free_ char *out = NULL;

    (void)state;
    g = add(m, BERTH_METRIC_GAUGE, "g", "G.", NULL, NULL, 0);
    assert_null(berth_metrics_counter(g, NULL));
    assert_null(berth_metrics_histogram(g, NULL));
    assert_null(berth_metrics_counter(NULL, NULL));
    /* NULL series are no-ops */
    berth_counter_inc(NULL);
    berth_gauge_set(NULL, 1);
    berth_histogram_observe(NULL, 1);
    /* a family with no series and no samples is left out */
    out = render(m);
    assert_string_equal(out, "");
    berth_metrics_free(m);
}

struct coll {
    struct berth_metrics_family *f;
    int runs;
};

static void collect_cb(void *arg, struct berth_metrics_scrape *s)
{
    struct coll *c = arg;

    c->runs++;
    berth_metrics_scrape_sample(s, c->f, (const char *const[]){"c1"}, 1.5);
    berth_metrics_scrape_sample(s, c->f, (const char *const[]){"c2"}, (double)c->runs);
}

static void test_metrics_collector_samples_each_scrape(void **state)
{
    struct berth_metrics *m = berth_metrics_new();
    static const char *const labels[] = {"id", NULL};
    struct coll c = {0};
    _cleanup_free_ char *one = NULL, *two = NULL;

    (void)state;
    c.f = add(m, BERTH_METRIC_GAUGE, "mem_bytes", "Memory.", labels, NULL, 0);
    berth_metrics_collector_add(m, collect_cb, &c);
    one = render(m);
    two = render(m);
    assert_string_equal(one, "# HELP mem_bytes Memory.\n"
                             "# TYPE mem_bytes gauge\n"
                             "mem_bytes{id=\"c1\"} 1.5\n"
                             "mem_bytes{id=\"c2\"} 1\n");
    /* samples do not pile up across scrapes */
    assert_string_equal(two, "# HELP mem_bytes Memory.\n"
                             "# TYPE mem_bytes gauge\n"
                             "mem_bytes{id=\"c1\"} 1.5\n"
                             "mem_bytes{id=\"c2\"} 2\n");
    berth_metrics_free(m);
}

static void test_metrics_format_double(void **state)
{
    char b[32];

    (void)state;
    assert_string_equal(berth_metrics_format_double(0, b), "0");
    assert_string_equal(berth_metrics_format_double(0.1, b), "0.1");
    assert_string_equal(berth_metrics_format_double(1.0 / 3, b), "0.3333333333333333");
    assert_string_equal(berth_metrics_format_double(123456789, b), "123456789");
    assert_string_equal(berth_metrics_format_double(-2.5, b), "-2.5");
    assert_string_equal(berth_metrics_format_double(INFINITY, b), "+Inf");
    assert_string_equal(berth_metrics_format_double(-INFINITY, b), "-Inf");
    assert_string_equal(berth_metrics_format_double(NAN, b), "NaN");
    assert_true(strtod(berth_metrics_format_double(1e300, b), NULL) == 1e300);
}

#define THREADS 4
#define PER     100000

struct hammer {
    struct berth_counter *c;
    struct berth_histogram *h;
};

static void *hammer_main(void *arg)
{
    struct hammer *hm = arg;

    for (int i = 0; i < PER; i++) {
        berth_counter_inc(hm->c);
        berth_histogram_observe(hm->h, (i % 4) * 0.5); /* 0, .5, 1, 1.5 */
    }
    return NULL;
}

static void *render_main(void *arg)
{
    struct berth_metrics *m = arg;

    for (int i = 0; i < 50; i++) {
        char *s = render(m);
        free(s);
    }
    return NULL;
}

static void test_metrics_concurrent_updates_are_not_lost(void **state)
{
    struct berth_metrics *m = berth_metrics_new();
    static const double bounds[] = {0.5, 1};
    struct berth_metrics_family *c, *h;
    struct hammer hm;
    pthread_t t[THREADS + 1];
    _cleanup_free_ char *out = NULL;
    char want[256];

    (void)state;
    c = add(m, BERTH_METRIC_COUNTER, "n_total", "N.", NULL, NULL, 0);
    h = add(m, BERTH_METRIC_HISTOGRAM, "v", "V.", NULL, bounds, 2);
    hm.c = berth_metrics_counter(c, NULL);
    hm.h = berth_metrics_histogram(h, NULL);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &hm), 0);
    /* scrapes while the updates run */
    assert_int_equal(pthread_create(&t[THREADS], NULL, render_main, m), 0);
    for (int i = 0; i <= THREADS; i++)
        pthread_join(t[i], NULL);
    out = render(m);
    snprintf(want, sizeof(want),
             "n_total %d\n"
             "# HELP v V.\n# TYPE v histogram\n"
             "v_bucket{le=\"0.5\"} %d\nv_bucket{le=\"1\"} %d\nv_bucket{le=\"+Inf\"} %d\n"
             "v_sum %d\nv_count %d\n",
             THREADS * PER, THREADS * PER / 2, THREADS * PER * 3 / 4, THREADS * PER,
             THREADS * PER * 3 / 4, THREADS * PER);
    assert_non_null(strstr(out, want));
    berth_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_render_counter_gauge_exact),
        cmocka_unit_test(test_metrics_render_escapes_label_values_and_help),
        cmocka_unit_test(test_metrics_render_histogram_cumulative_buckets),
        cmocka_unit_test(test_metrics_default_buckets_render_as_go),
        cmocka_unit_test(test_metrics_family_add_rejects_bad_names),
        cmocka_unit_test(test_metrics_series_of_other_type_is_null),
        cmocka_unit_test(test_metrics_collector_samples_each_scrape),
        cmocka_unit_test(test_metrics_format_double),
        cmocka_unit_test(test_metrics_concurrent_updates_are_not_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
