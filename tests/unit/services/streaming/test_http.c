/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/streaming/http.c: client-go's upgrade requests (streaming.md §2), list
 * splitting, split and oversized heads, malformed heads, negotiation and Go's response bytes. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "lib/util.h"
#include "services/streaming/http.h"

#define _cleanup_req_ _cleanup_(berth_http_request_clear)
#define _cleanup_buf_ _cleanup_(berth_buf_clear)

/* client-go's exec upgrade request, byte for byte. */
static const char exec_req[] = "POST /exec/Ab3_x-9Q HTTP/1.1\r\n"
                               "Host: 127.0.0.1:38411\r\n"
                               "User-Agent: Go-http-client/1.1\r\n"
                               "Content-Length: 0\r\n"
                               "Connection: Upgrade\r\n"
                               "Upgrade: SPDY/3.1\r\n"
                               "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                               "X-Stream-Protocol-Version: v3.channel.k8s.io\r\n"
                               "X-Stream-Protocol-Version: v2.channel.k8s.io\r\n"
                               "X-Stream-Protocol-Version: channel.k8s.io\r\n"
                               "\r\n";

static const char pf_req[] = "POST /portforward/zz-_0aB1 HTTP/1.1\r\n"
                             "Host: 127.0.0.1:38411\r\n"
                             "User-Agent: Go-http-client/1.1\r\n"
                             "Content-Length: 0\r\n"
                             "Connection: Upgrade\r\n"
                             "Upgrade: SPDY/3.1\r\n"
                             "X-Stream-Protocol-Version: portforward.k8s.io\r\n"
                             "\r\n";

static ssize_t parse(const char *s, size_t max_head, struct berth_http_request *req,
                     struct berth_err **err)
{
    return berth_http_request_parse((const uint8_t *)s, strlen(s), max_head, req, err);
}

static void assert_strv(char *const *v, const char *const *want)
{
    size_t i = 0;

    assert_non_null(v);
    for (; want[i]; i++) {
        assert_non_null(v[i]);
        assert_string_equal(v[i], want[i]);
    }
    assert_null(v[i]);
}

static void expect_bad(const char *s, size_t max_head)
{
    struct berth_http_request req;
    struct berth_err *err = NULL;

    if (parse(s, max_head, &req, &err) != -1)
        fail_msg("parsed: %s", s);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* left cleared: nothing to free, nothing half-filled */
    assert_null(req.method);
    assert_null(req.path);
    assert_null(req.stream_protocols);
    assert_null(req.upgrade);
    assert_int_equal(req.content_length, -1);
}

static void test_http_parse_client_go_exec_request(void **state)
{
    _cleanup_req_ struct berth_http_request req = {0};
    _cleanup_err_ struct berth_err *err = NULL;
    static const char *const want[] = {"v4.channel.k8s.io", "v3.channel.k8s.io",
                                       "v2.channel.k8s.io", "channel.k8s.io", NULL};
    static const char *const none[] = {NULL};
    char with_frame[sizeof(exec_req) + 8];

    (void)state;
    assert_int_equal(parse(exec_req, 8192, &req, &err), strlen(exec_req));
    assert_null(err);
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.path, "/exec/Ab3_x-9Q");
    assert_strv(req.stream_protocols, want);
    assert_true(req.connection_upgrade);
    assert_string_equal(req.upgrade, "SPDY/3.1");
    assert_null(req.ws_key);
    assert_null(req.ws_version);
    assert_strv(req.ws_protocols, none);
    assert_int_equal(req.content_length, 0);
    berth_http_request_clear(&req);

    /* A client's first SPDY frame right behind the head is not part of it. */
    memcpy(with_frame, exec_req, strlen(exec_req));
    memcpy(with_frame + strlen(exec_req), "\x80\x03\x00\x01\x00\x00\x00\x29", 8);
    assert_int_equal(
        berth_http_request_parse((const uint8_t *)with_frame, sizeof(with_frame), 8192, &req, &err),
        strlen(exec_req));
    assert_strv(req.stream_protocols, want);
}

static void test_http_parse_port_forward_request(void **state)
{
    _cleanup_req_ struct berth_http_request req = {0};
    _cleanup_err_ struct berth_err *err = NULL;
    static const char *const want[] = {"portforward.k8s.io", NULL};

    (void)state;
    assert_int_equal(parse(pf_req, 8192, &req, &err), strlen(pf_req));
    assert_string_equal(req.path, "/portforward/zz-_0aB1");
    assert_strv(req.stream_protocols, want);
    assert_true(req.connection_upgrade);
}

static void test_http_parse_comma_separated_values(void **state)
{
    _cleanup_req_ struct berth_http_request req = {0};
    _cleanup_err_ struct berth_err *err = NULL;
    static const char *const sp[] = {"v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io",
                                     NULL};
    static const char *const wp[] = {"v4.channel.k8s.io", "base64.channel.k8s.io", NULL};
    static const char *const none[] = {NULL};
    const char *s = "GET /attach/abcdefgh HTTP/1.1\r\n"
                    "X-Stream-Protocol-Version: v5.channel.k8s.io,\tv4.channel.k8s.io ,\r\n"
                    "X-Stream-Protocol-Version:channel.k8s.io\r\n"
                    "Connection: keep-alive, Upgrade\r\n"
                    "Upgrade: websocket\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Protocol: v4.channel.k8s.io, base64.channel.k8s.io\r\n"
                    "\r\n";

    (void)state;
    assert_int_equal(parse(s, 8192, &req, &err), strlen(s));
    assert_string_equal(req.method, "GET");
    assert_strv(req.stream_protocols, sp);
    assert_strv(req.ws_protocols, wp);
    assert_true(req.connection_upgrade);
    assert_string_equal(req.upgrade, "websocket");
    assert_string_equal(req.ws_key, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_string_equal(req.ws_version, "13");
    assert_int_equal(req.content_length, -1);
    berth_http_request_clear(&req);

    /* "upgrade" must be a whole token; no version header leaves an empty list */
    s = "POST /exec/x HTTP/1.1\r\nConnection: keep-alive, upgraded\r\n"
        "Connection: close\r\n\r\n";
    assert_int_equal(parse(s, 8192, &req, &err), strlen(s));
    assert_false(req.connection_upgrade);
    assert_strv(req.stream_protocols, none);
    assert_null(req.upgrade);
}

static void test_http_parse_names_case_insensitive(void **state)
{
    _cleanup_req_ struct berth_http_request req = {0};
    _cleanup_err_ struct berth_err *err = NULL;
    static const char *const sp[] = {"v4.channel.k8s.io", "channel.k8s.io", NULL};
    static const char *const wp[] = {"channel.k8s.io", NULL};
    const char *s = "POST /exec/x HTTP/1.0\r\n"
                    "x-stream-protocol-version: v4.channel.k8s.io\r\n"
                    "X-STREAM-PROTOCOL-VERSION: channel.k8s.io\r\n"
                    "CONNECTION: UPGRADE\r\n"
                    "uPgRaDe:   spdy/3.1  \r\n"
                    "sec-websocket-key: k\r\n"
                    "SEC-WEBSOCKET-VERSION: 13\r\n"
                    "sec-WebSocket-protocol: channel.k8s.io\r\n"
                    "content-LENGTH: 12\r\n"
                    "\r\n";

    (void)state;
    assert_int_equal(parse(s, 8192, &req, &err), strlen(s));
    assert_strv(req.stream_protocols, sp);
    assert_strv(req.ws_protocols, wp);
    assert_true(req.connection_upgrade);
    assert_string_equal(req.upgrade, "spdy/3.1");
    assert_string_equal(req.ws_key, "k");
    assert_string_equal(req.ws_version, "13");
    assert_int_equal(req.content_length, 12);
}

static void test_http_parse_bare_lf(void **state)
{
    _cleanup_req_ struct berth_http_request req = {0};
    _cleanup_err_ struct berth_err *err = NULL;
    static const char *const sp[] = {"v4.channel.k8s.io", NULL};
    const char *s = "POST /exec/x HTTP/1.1\n"
                    "Connection: Upgrade\n"
                    "Upgrade: SPDY/3.1\r\n"
                    "X-Stream-Protocol-Version: v4.channel.k8s.io\n"
                    "\n"
                    "\x80\x03";

    (void)state;
    assert_int_equal(parse(s, 8192, &req, &err), strlen(s) - 2);
    assert_string_equal(req.path, "/exec/x");
    assert_strv(req.stream_protocols, sp);
    assert_string_equal(req.upgrade, "SPDY/3.1");
    assert_true(req.connection_upgrade);
    berth_http_request_clear(&req);
    s = "GET / HTTP/1.1\r\n\n";
    assert_int_equal(parse(s, 8192, &req, &err), strlen(s));
    assert_string_equal(req.path, "/");
}

/* Every prefix of a head is "not yet"; the whole parses. */
static void test_http_parse_incomplete_at_every_split(void **state)
{
    const char *heads[] = {exec_req, pf_req, "GET /x HTTP/1.1\n\n"};

    (void)state;
    for (size_t h = 0; h < BERTH_N(heads); h++) {
        size_t n = strlen(heads[h]);
        for (size_t k = 0; k < n; k++) {
            struct berth_http_request req;
            struct berth_err *err = NULL;

            assert_int_equal(
                berth_http_request_parse((const uint8_t *)heads[h], k, 8192, &req, &err), 0);
            assert_null(err);
            assert_null(req.method);
            assert_null(req.stream_protocols);
            berth_http_request_clear(&req);
        }
        {
            _cleanup_req_ struct berth_http_request req = {0};
            struct berth_err *err = NULL;

            assert_int_equal(parse(heads[h], 8192, &req, &err), n);
            assert_null(err);
        }
    }
}

static void test_http_parse_head_too_long(void **state)
{
    struct berth_http_request req;
    struct berth_err *err = NULL;
    size_t n = strlen(exec_req);

    (void)state;
    /* exactly max_head is fine, one byte less is too long */
    assert_int_equal(parse(exec_req, n, &req, &err), n);
    berth_http_request_clear(&req);
    expect_bad(exec_req, n - 1);
    /* an unfinished head: "not yet" while within max_head, then too long */
    assert_int_equal(berth_http_request_parse((const uint8_t *)exec_req, 100, 100, &req, &err), 0);
    assert_null(err);
    assert_int_equal(berth_http_request_parse((const uint8_t *)exec_req, 101, 100, &req, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_http_request_clear(&req);
}

static void test_http_parse_bad_request_line(void **state)
{
    (void)state;
    expect_bad("\r\n\r\n", 8192);
    expect_bad("GET\r\n\r\n", 8192);
    expect_bad("GET /x\r\n\r\n", 8192);
    expect_bad("GET  /x HTTP/1.1\r\n\r\n", 8192);
    expect_bad(" GET /x HTTP/1.1\r\n\r\n", 8192);
    expect_bad("G(T /x HTTP/1.1\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1 \r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1 extra\r\n\r\n", 8192);
    expect_bad("GET /x\x01y HTTP/1.1\r\n\r\n", 8192);
    expect_bad("GET /x http/1.1\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/2.0\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.2\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/0.9\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1\rX\r\n\r\n", 8192);
}

static void test_http_parse_bad_header_lines(void **state)
{
    (void)state;
    expect_bad("GET /x HTTP/1.1\r\nNoColon\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1\r\n: v\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1\r\nName : v\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1\r\nNa(me: v\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1\r\nUpgrade: a\r\n b\r\n\r\n", 8192);  /* obs-fold */
    expect_bad("GET /x HTTP/1.1\r\nUpgrade: a\r\n\tb\r\n\r\n", 8192); /* obs-fold */
    expect_bad("GET /x HTTP/1.1\r\nUpgrade: a\rb\r\n\r\n", 8192);     /* bare CR */
    expect_bad("GET /x HTTP/1.1\r\nUpgrade: a\x01\r\n\r\n", 8192);    /* control */
    expect_bad("GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1\r\nContent-Length:\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 8192);
    expect_bad("GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 8192);
}

static void test_http_negotiate(void **state)
{
    static const char *const exec_server[] = {"v4.channel.k8s.io", "v3.channel.k8s.io",
                                              "v2.channel.k8s.io", "channel.k8s.io", NULL};
    static const char *const pf_server[] = {"portforward.k8s.io", NULL};
    char *newer[] = {"v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", NULL};
    char *old[] = {"channel.k8s.io", "v2.channel.k8s.io", NULL};
    char *none[] = {NULL};

    (void)state;
    assert_string_equal(berth_http_negotiate(newer, exec_server), "v4.channel.k8s.io");
    /* the client's order wins */
    assert_string_equal(berth_http_negotiate(old, exec_server), "channel.k8s.io");
    assert_null(berth_http_negotiate(newer, pf_server));
    assert_null(berth_http_negotiate(none, exec_server));
}

static void test_http_response_101_as_go_writes_it(void **state)
{
    _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
    static const char *const hdrs[] = {"Connection: Upgrade", "Upgrade: SPDY/3.1",
                                       "X-Stream-Protocol-Version: v4.channel.k8s.io", NULL};
    static const char want[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                               "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
                               "v4.channel.k8s.io\r\n\r\n";

    (void)state;
    berth_http_response(&out, 101, hdrs, NULL);
    assert_int_equal(berth_buf_pending(&out), strlen(want));
    assert_memory_equal(berth_buf_head(&out), want, strlen(want));
}

static void test_http_response_errors_with_body(void **state)
{
    _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
    static const char *const hdrs[] = {"X-Accepted-Stream-Protocol-Versions: portforward.k8s.io",
                                       NULL};
    static const char want404[] = "HTTP/1.1 404 Not Found\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "X-Content-Type-Options: nosniff\r\n"
                                  "Content-Length: 19\r\n"
                                  "\r\n"
                                  "404 page not found\n";
    static const char want403[] = "HTTP/1.1 403 Forbidden\r\n"
                                  "X-Accepted-Stream-Protocol-Versions: portforward.k8s.io\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "X-Content-Type-Options: nosniff\r\n"
                                  "Content-Length: 0\r\n"
                                  "\r\n";
    static const char want200[] = "HTTP/1.1 200 OK\r\n\r\n";
    static const char want_other[] = "HTTP/1.1 418 status code 418\r\n\r\n";

    (void)state;
    berth_http_response(&out, 404, NULL, "404 page not found\n");
    assert_int_equal(berth_buf_pending(&out), strlen(want404));
    assert_memory_equal(berth_buf_head(&out), want404, strlen(want404));
    berth_buf_clear(&out);
    berth_http_response(&out, 403, hdrs, "");
    assert_int_equal(berth_buf_pending(&out), strlen(want403));
    assert_memory_equal(berth_buf_head(&out), want403, strlen(want403));
    berth_buf_clear(&out);
    berth_http_response(&out, 200, NULL, NULL);
    assert_int_equal(berth_buf_pending(&out), strlen(want200));
    assert_memory_equal(berth_buf_head(&out), want200, strlen(want200));
    berth_buf_clear(&out);
    berth_http_response(&out, 418, NULL, NULL);
    assert_int_equal(berth_buf_pending(&out), strlen(want_other));
    assert_memory_equal(berth_buf_head(&out), want_other, strlen(want_other));

    /* each reason phrase as Go's StatusText */
    {
        static const struct {
            int status;
            const char *line;
        } reasons[] = {
            {400, "HTTP/1.1 400 Bad Request\r\n"},
            {405, "HTTP/1.1 405 Method Not Allowed\r\n"},
            {500, "HTTP/1.1 500 Internal Server Error\r\n"},
            {503, "HTTP/1.1 503 Service Unavailable\r\n"},
        };
        for (size_t i = 0; i < BERTH_N(reasons); i++) {
            berth_buf_clear(&out);
            berth_http_response(&out, reasons[i].status, NULL, "x");
            assert_memory_equal(berth_buf_head(&out), reasons[i].line, strlen(reasons[i].line));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_parse_client_go_exec_request),
        cmocka_unit_test(test_http_parse_port_forward_request),
        cmocka_unit_test(test_http_parse_comma_separated_values),
        cmocka_unit_test(test_http_parse_names_case_insensitive),
        cmocka_unit_test(test_http_parse_bare_lf),
        cmocka_unit_test(test_http_parse_incomplete_at_every_split),
        cmocka_unit_test(test_http_parse_head_too_long),
        cmocka_unit_test(test_http_parse_bad_request_line),
        cmocka_unit_test(test_http_parse_bad_header_lines),
        cmocka_unit_test(test_http_negotiate),
        cmocka_unit_test(test_http_response_101_as_go_writes_it),
        cmocka_unit_test(test_http_response_errors_with_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
