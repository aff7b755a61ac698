/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.1 request heads and response heads for the streaming server (http.h). Only what an
 * upgrade request needs: no bodies, no chunked encoding (a request that announces one is
 * refused, so no body bytes can be mistaken for SPDY frames).
 */
#include "services/streaming/http.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h> /* strcasecmp, strncasecmp */

#include "lib/util.h"

/* A line of the head: [p, p + n) without its CR LF or LF. */
struct line {
    const char *p;
    size_t n;
};

/* RFC 9110 tchar: the characters of methods and header names. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)p[i]))
            return false;
    return true;
}

static void trim(const char **p, size_t *n)
{
    while (*n > 0 && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* Appends s to the NULL-terminated vector *v holding *n entries (takes s). */
static void strv_push(char ***v, size_t *n, char *s)
{
    *v = berth_xrealloc(*v, (*n + 2) * sizeof(**v));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

/* Splits a header value on commas, trims each entry and appends the non-empty ones. */
static void split_list(char ***v, size_t *n, const char *p, size_t len)
{
    for (;;) {
        const char *comma = memchr(p, ',', len);
        size_t k = comma ? (size_t)(comma - p) : len;
        const char *e = p;
        size_t en = k;

        trim(&e, &en);
        if (en > 0)
            strv_push(v, n, berth_xstrndup(e, en));
        if (!comma)
            break;
        p = comma + 1;
        len -= k + 1;
    }
}

bool berth_http_has_token(const char *p, size_t len, const char *token)
{
    size_t tl = strlen(token);

    for (;;) {
        const char *comma = memchr(p, ',', len);
        size_t k = comma ? (size_t)(comma - p) : len;
        const char *e = p;
        size_t en = k;

        trim(&e, &en);
        if (en == tl && strncasecmp(e, token, tl) == 0)
            return true;
        if (!comma)
            return false;
        p = comma + 1;
        len -= k + 1;
    }
}

/* Finds the end of the head: the byte after the blank line, or 0 when it is not in buf[0..n). */
static size_t head_end(const uint8_t *buf, size_t n)
{
    size_t start = 0;

    for (size_t i = 0; i < n; i++) {
        if (buf[i] != '\n')
            continue;
        if (i == start || (i == start + 1 && buf[start] == '\r'))
            return i + 1;
        start = i + 1;
    }
    return 0;
}

static int parse_request_line(struct line l, struct berth_http_request *req, struct berth_err **err)
{
    const char *sp1 = memchr(l.p, ' ', l.n), *sp2, *ver;
    size_t vn;

    if (!sp1)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "malformed HTTP request line");
    sp2 = memchr(sp1 + 1, ' ', l.n - (size_t)(sp1 + 1 - l.p));
    if (!sp2 || !is_token(l.p, (size_t)(sp1 - l.p)) || sp2 == sp1 + 1)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "malformed HTTP request line");
    for (const char *c = sp1 + 1; c < sp2; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "malformed HTTP request target");
    ver = sp2 + 1;
    vn = l.n - (size_t)(ver - l.p);
    if (!(vn == 8 && (memcmp(ver, "HTTP/1.1", 8) == 0 || memcmp(ver, "HTTP/1.0", 8) == 0)))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "unsupported HTTP version \"%.*s\"",
                             (int)(vn > 16 ? 16 : vn), ver);
    req->method = berth_xstrndup(l.p, (size_t)(sp1 - l.p));
    req->path = berth_xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    return 0;
}

static int parse_content_length(const char *p, size_t n, int64_t *out, struct berth_err **err)
{
    int64_t v = 0;

    if (n == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "empty Content-Length");
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || v > (INT64_MAX - 9) / 10)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "bad Content-Length \"%.*s\"",
                                 (int)(n > 32 ? 32 : n), p);
        v = v * 10 + (p[i] - '0');
    }
    if (*out >= 0 && *out != v)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "two different Content-Length headers");
    *out = v;
    return 0;
}

static int parse_header(struct line l, struct berth_http_request *req, size_t *n_sp, size_t *n_wp,
                        struct berth_err **err)
{
    const char *colon, *v;
    size_t nn, vn;

    if (l.p[0] == ' ' || l.p[0] == '\t')
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "obsolete line folding in HTTP header");
    colon = memchr(l.p, ':', l.n);
    nn = colon ? (size_t)(colon - l.p) : 0;
    if (!colon || !is_token(l.p, nn))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "malformed HTTP header line");
    v = colon + 1;
    vn = l.n - nn - 1;
    trim(&v, &vn);
    for (size_t i = 0; i < vn; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < ' ' && c != '\t') || c == 0x7f)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "invalid character in HTTP header \"%.*s\"", (int)nn, l.p);
    }

#define NAME_IS(s) (nn == sizeof(s) - 1 && strncasecmp(l.p, s, nn) == 0)
    if (NAME_IS("X-Stream-Protocol-Version")) {
        split_list(&req->stream_protocols, n_sp, v, vn);
    } else if (NAME_IS("Sec-WebSocket-Protocol")) {
        split_list(&req->ws_protocols, n_wp, v, vn);
    } else if (NAME_IS("Connection")) {
        req->connection_upgrade = req->connection_upgrade || berth_http_has_token(v, vn, "upgrade");
    } else if (NAME_IS("Upgrade")) {
        if (!req->upgrade)
            req->upgrade = berth_xstrndup(v, vn);
    } else if (NAME_IS("Sec-WebSocket-Key")) {
        if (!req->ws_key)
            req->ws_key = berth_xstrndup(v, vn);
    } else if (NAME_IS("Sec-WebSocket-Version")) {
        if (!req->ws_version)
            req->ws_version = berth_xstrndup(v, vn);
    } else if (NAME_IS("Content-Length")) {
        return parse_content_length(v, vn, &req->content_length, err);
    } else if (NAME_IS("Transfer-Encoding")) {
        /* A body we would not read would be taken for the upgraded protocol's bytes. */
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "Transfer-Encoding in an upgrade request");
    }
#undef NAME_IS
    return 0;
}

static void request_reset(struct berth_http_request *req)
{
    memset(req, 0, sizeof(*req));
    req->content_length = -1;
}

ssize_t berth_http_request_parse(const uint8_t *buf, size_t len, size_t max_head,
                                 struct berth_http_request *req, struct berth_err **err)
{
    size_t end = head_end(buf, len < max_head ? len : max_head);
    size_t off = 0, n_sp = 0, n_wp = 0;
    bool first = true;

    request_reset(req);
    if (end == 0) {
        if (len > max_head)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "HTTP request head longer than %zu bytes", max_head);
        return 0;
    }
    req->stream_protocols = berth_xcalloc(1, sizeof(char *));
    req->ws_protocols = berth_xcalloc(1, sizeof(char *));
    for (;;) {
        const char *p = (const char *)buf + off;
        const char *nl = memchr(p, '\n', end - off);
        struct line l = {p, (size_t)(nl - p)};
        int r;

        off += l.n + 1;
        if (l.n > 0 && l.p[l.n - 1] == '\r')
            l.n--;
        if (l.n == 0 && !first)
            break; /* the blank line: head_end made sure it is the last one */
        if (first)
            r = l.n == 0
                    ? berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "empty HTTP request line")
                    : parse_request_line(l, req, err);
        else
            r = parse_header(l, req, &n_sp, &n_wp, err);
        if (r < 0) {
            berth_http_request_clear(req);
            return -1;
        }
        first = false;
    }
    return (ssize_t)end;
}

void berth_http_request_clear(struct berth_http_request *req)
{
    free(req->method);
    free(req->path);
    berth_strv_free(req->stream_protocols);
    free(req->upgrade);
    free(req->ws_key);
    free(req->ws_version);
    berth_strv_free(req->ws_protocols);
    request_reset(req);
}

const char *berth_http_negotiate(char *const *client, const char *const *server)
{
    for (size_t i = 0; client && client[i]; i++)
        for (size_t j = 0; server && server[j]; j++)
            if (strcmp(client[i], server[j]) == 0)
                return server[j];
    return NULL;
}

static const char *reason(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return NULL;
    }
}

static void append_str(struct berth_buf *out, const char *s)
{
    berth_buf_append(out, s, strlen(s));
}

void berth_http_response(struct berth_buf *out, int status, const char *const *headers,
                         const char *body)
{
    char line[64];
    const char *r = reason(status);

    if (r)
        snprintf(line, sizeof(line), "HTTP/1.1 %03d %s\r\n", status, r);
    else
        snprintf(line, sizeof(line), "HTTP/1.1 %03d status code %d\r\n", status, status);
    append_str(out, line);
    for (size_t i = 0; headers && headers[i]; i++) {
        append_str(out, headers[i]);
        append_str(out, "\r\n");
    }
    if (body) {
        append_str(out, "Content-Type: text/plain; charset=utf-8\r\n"
                        "X-Content-Type-Options: nosniff\r\n");
        snprintf(line, sizeof(line), "Content-Length: %zu\r\n", strlen(body));
        append_str(out, line);
    }
    append_str(out, "\r\n");
    if (body)
        append_str(out, body);
}
