/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/1.1 part of the CRI streaming server: parsing the one request head a streaming
 * connection starts with (an upgrade to SPDY/3.1 or WebSocket), Kubernetes' protocol
 * negotiation, and writing the response head as Go's net/http does. Pure byte code over
 * lib/buf.h; no sockets.
 */
#ifndef BERTH_SERVICES_STREAMING_HTTP_H
#define BERTH_SERVICES_STREAMING_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

#include "lib/buf.h"
#include "lib/err.h"

struct berth_http_request {  /* owns every field */
    char *method;            /* "GET", "POST", ... */
    char *path;              /* request target as sent, e.g. "/exec/Ab3_x-9Q" */
    char **stream_protocols; /* every X-Stream-Protocol-Version entry, each header line split
                                on commas and trimmed, in order; NULL-terminated, never NULL */
    bool connection_upgrade; /* a Connection header has the token "upgrade" (any case) */
    char *upgrade;           /* Upgrade header value as sent; NULL when absent */
    char *ws_key;            /* Sec-WebSocket-Key; NULL when absent */
    char *ws_version;        /* Sec-WebSocket-Version; NULL when absent */
    char **ws_protocols;     /* Sec-WebSocket-Protocol entries, split and trimmed; never NULL */
    int64_t content_length;  /* -1 when absent */
};

/* Parses one HTTP/1.1 (or 1.0) request head ending in CRLF CRLF (bare LF line ends
 * accepted) from buf. Returns the bytes of the head (> 0) and fills *req (clear it with
 * berth_http_request_clear); 0 when the blank line has not arrived and len <= max_head;
 * -1 with err INVALID_ARGUMENT for a malformed request line or header line, a head longer than
 * max_head, "Transfer-Encoding" present, or an HTTP version other than 1.0/1.1. Header names
 * case-insensitive; header values trimmed of spaces/tabs; obsolete line folding rejected.
 * Also -1 for a Content-Length that is not a decimal number, or two that differ (Go's
 * net/http rejects both). Empty entries of comma-separated lists are skipped. Upgrade and the
 * Sec-WebSocket-Key/Version fields keep their first line. *req is overwritten (a request it
 * held is not freed); on 0 and -1 it is left cleared. */
ssize_t berth_http_request_parse(const uint8_t *buf, size_t len, size_t max_head,
                                 struct berth_http_request *req, struct berth_err **err);
void berth_http_request_clear(struct berth_http_request *req); /* NULL-safe fields */
/* Whether the comma-separated list p[0..len) has an element equal to token, ignoring case and
 * the spaces and tabs around elements (HTTP's #token lists: Connection, Upgrade). */
bool berth_http_has_token(const char *p, size_t len, const char *token);
/* The first entry of `client` that `server` (NULL-terminated) also lists (exact match), or
 * NULL: Kubernetes' httpstream.Handshake rule. Returns server's string (equal to client's),
 * so the result lives as long as `server` does. */
const char *berth_http_negotiate(char *const *client, const char *const *server);
/* Appends a whole response to out: "HTTP/1.1 <status> <reason>\r\n", each extra header line
 * of `headers` (NULL-terminated "Name: value" strings, may be NULL), and, when body != NULL,
 * "Content-Type: text/plain; charset=utf-8", "X-Content-Type-Options: nosniff",
 * "Content-Length: <n>" and the body; when body == NULL, no Content-Length and no body (the
 * 101 case). Reason phrases as Go writes them (101 Switching Protocols, 200 OK, 400 Bad
 * Request, 403 Forbidden, 404 Not Found, 405 Method Not Allowed, 500 Internal Server Error,
 * 503 Service Unavailable; any other status: "status code <n>", as Go does). */
void berth_http_response(struct berth_buf *out, int status, const char *const *headers,
                         const char *body);

#endif
