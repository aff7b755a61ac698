/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/metrics/endpoint.c: the address syntax, GET /v1/metrics, the error
 * answers (400, 404, 405), oversized heads, and clients that are slow or silent while
 * another scrapes. */
#include "tests/unit/helpers/berth_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util.h"
#include "services/metrics/metrics.h"

struct fx {
    struct berth_metrics *reg;
    struct berth_metrics_endpoint *ep;
    int port;
};

static int setup(void **state)
{
    struct fx *f = berth_xcalloc(1, sizeof(*f));
    struct berth_metrics_family *fam = NULL;
    struct berth_err *err = NULL;

    f->reg = berth_metrics_new();
    assert_ok(berth_metrics_family_add(f->reg, BERTH_METRIC_GAUGE, "up", "Up.", NULL, NULL, 0, &fam,
                                       &err),
              &err);
    berth_gauge_set(berth_metrics_gauge(fam, NULL), 1);
    /* a short read timeout: the slow-client tests wait for it */
    assert_ok(berth_metrics_endpoint_start("127.0.0.1:0", f->reg, 400, &f->ep, &err), &err);
    f->port = berth_metrics_endpoint_port(f->ep);
    assert_true(f->port > 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    berth_metrics_endpoint_stop(f->ep);
    berth_metrics_free(f->reg);
    free(f);
    return 0;
}

static int dial(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Reads until EOF or timeout_ms; returns what came (owned by the caller). */
static char *read_all(int fd, int timeout_ms)
{
    struct berth_buf b = BERTH_BUF_INIT;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char *s;

    while (poll(&p, 1, timeout_ms) > 0) {
        uint8_t *dst = berth_buf_reserve(&b, 4096);
        ssize_t n = read(fd, dst, 4096);
        if (n <= 0)
            break;
        berth_buf_commit(&b, (size_t)n);
    }
    /* an empty buffer has no storage to copy from */
    s = berth_buf_pending(&b)
            ? berth_xstrndup((const char *)berth_buf_head(&b), berth_buf_pending(&b))
            : berth_xstrdup("");
    berth_buf_clear(&b);
    return s;
}

static char *exchange(int port, const char *req)
{
    int fd = dial(port);
    char *resp;

    assert_int_equal(berth_write_all(fd, req, strlen(req)), 0);
    resp = read_all(fd, 3000);
    close(fd);
    return resp;
}

static void test_endpoint_get_metrics(void **state)
{
    struct fx *f = *state;
    _cleanup_free_ char *r =
        exchange(f->port, "GET /v1/metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
    static const char body[] = "# HELP up Up.\n# TYPE up gauge\nup 1\n";
    char want[128];

    assert_true(berth_str_has_prefix(r, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", strlen(body));
    assert_non_null(strstr(r, want));
    assert_string_equal(strstr(r, "\r\n\r\n") + 4, body);
    /* a query string is ignored, as Go's mux does */
    free(r);
    r = exchange(f->port, "GET /v1/metrics?x=1 HTTP/1.0\r\n\r\n");
    assert_true(berth_str_has_prefix(r, "HTTP/1.1 200 OK\r\n"));
}

static void test_endpoint_errors(void **state)
{
    struct fx *f = *state;
    char *r;
    _cleanup_free_ char *big = NULL;

    r = exchange(f->port, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_true(berth_str_has_prefix(r, "HTTP/1.1 404 Not Found\r\n"));
    free(r);
    r = exchange(f->port, "GET /v1/metricsx HTTP/1.1\r\n\r\n");
    assert_true(berth_str_has_prefix(r, "HTTP/1.1 404 Not Found\r\n"));
    free(r);
    r = exchange(f->port, "POST /v1/metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_true(berth_str_has_prefix(r, "HTTP/1.1 405 Method Not Allowed\r\n"));
    assert_non_null(strstr(r, "\r\nAllow: GET\r\n"));
    free(r);
    r = exchange(f->port, "\x16\x03\x01 garbage\r\n\r\n");
    assert_true(berth_str_has_prefix(r, "HTTP/1.1 400 Bad Request\r\n"));
    free(r);
    /* a head past the limit, sent without its end: answered 400 at once, not after a wait */
    big = berth_xmalloc(BERTH_METRICS_MAX_HEAD + 100);
    memset(big, 'a', BERTH_METRICS_MAX_HEAD + 99);
    memcpy(big, "GET /v1/metrics HTTP/1.1\r\nX: ", 29);
    big[BERTH_METRICS_MAX_HEAD + 99] = '\0';
    r = exchange(f->port, big);
    assert_true(berth_str_has_prefix(r, "HTTP/1.1 400 Bad Request\r\n"));
    free(r);
}

static void test_endpoint_slow_client_does_not_block_another(void **state)
{
    struct fx *f = *state;
    int slow = dial(f->port), silent = dial(f->port);
    int64_t t0;
    _cleanup_free_ char *r = NULL, *rest = NULL;

    /* half a head, then nothing: slowloris */
    assert_int_equal(berth_write_all(slow, "GET /v1/metrics HTTP/1.1\r\nHost:", 31), 0);
    t0 = berth_mono_ns();
    r = exchange(f->port, "GET /v1/metrics HTTP/1.1\r\n\r\n");
    assert_true(berth_str_has_prefix(r, "HTTP/1.1 200 OK\r\n"));
    assert_true(berth_mono_ns() - t0 < 300 * 1000000LL); /* not after the slow one's timeout */
    /* both are closed after the read timeout, without an answer */
    rest = read_all(slow, 3000);
    assert_string_equal(rest, "");
    free(rest);
    rest = read_all(silent, 3000);
    assert_string_equal(rest, "");
    assert_true(berth_mono_ns() - t0 < 2000 * 1000000LL);
    close(slow);
    close(silent);
}

static void test_endpoint_connection_cap(void **state)
{
    struct fx *f = *state;
    int fds[BERTH_METRICS_MAX_CONNS + 1];
    _cleanup_free_ char *r = NULL, *over = NULL;

    for (int i = 0; i < BERTH_METRICS_MAX_CONNS; i++)
        fds[i] = dial(f->port);
    usleep(100 * 1000);
    /* one too many is closed at once */
    fds[BERTH_METRICS_MAX_CONNS] = dial(f->port);
    over = read_all(fds[BERTH_METRICS_MAX_CONNS], 300);
    assert_string_equal(over, "");
    for (int i = 0; i <= BERTH_METRICS_MAX_CONNS; i++)
        close(fds[i]);
    usleep(100 * 1000);
    r = exchange(f->port, "GET /v1/metrics HTTP/1.1\r\n\r\n");
    assert_true(berth_str_has_prefix(r, "HTTP/1.1 200 OK\r\n"));
}

static void test_endpoint_address_parse(void **state)
{
    struct berth_err *err = NULL;
    char *host, *port;

    (void)state;
    assert_ok(berth_metrics_address_parse("127.0.0.1:1338", &host, &port, &err), &err);
    assert_string_equal(host, "127.0.0.1");
    assert_string_equal(port, "1338");
    free(host);
    free(port);
    assert_ok(berth_metrics_address_parse("[::1]:9100", &host, &port, &err), &err);
    assert_string_equal(host, "::1");
    free(host);
    free(port);
    assert_ok(berth_metrics_address_parse(":1338", &host, NULL, &err), &err);
    assert_string_equal(host, "");
    free(host);
    static const char *const bad[] = {"",      "1338",   "h:",   "h:x1",     "h:70000",
                                      "::1:9", "[::1:9", "[]:9", "h:123456", NULL};
    for (size_t i = 0; bad[i]; i++) {
        assert_int_equal(berth_metrics_address_parse(bad[i], NULL, NULL, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        berth_err_free(&err);
    }
}

static void test_endpoint_start_bad_address(void **state)
{
    struct berth_metrics_endpoint *ep = NULL;
    struct berth_err *err = NULL;
    struct fx *f = *state;
    char addr[64];

    assert_int_equal(berth_metrics_endpoint_start("nope", f->reg, 0, &ep, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_err_free(&err);
    /* the port is taken */
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
    assert_int_equal(berth_metrics_endpoint_start(addr, f->reg, 0, &ep, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    berth_err_free(&err);
    assert_null(ep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_endpoint_get_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_slow_client_does_not_block_another, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_connection_cap, setup, teardown),
        cmocka_unit_test(test_endpoint_address_parse),
        cmocka_unit_test_setup_teardown(test_endpoint_start_bad_address, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
