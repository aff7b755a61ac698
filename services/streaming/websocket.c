/* SPDX-License-Identifier: Apache-2.0 */
#include "services/streaming/websocket.h"

#include <stdlib.h>
#include <string.h>

#include "lib/sha1.h"
#include "lib/util.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

char *berth_ws_accept(const char *key)
{
    _cleanup_free_ char *in = berth_strdup_printf("%s%s", key, WS_GUID);
    uint8_t d[BERTH_SHA1_LEN];

    berth_sha1(in, strlen(in), d);
    return berth_base64(d, sizeof(d));
}

ssize_t berth_ws_decode(uint8_t *buf, size_t len, size_t max, struct berth_ws_frame *f,
                        struct berth_err **err)
{
    size_t hdr = 2;
    uint64_t n;
    uint8_t op;
    const uint8_t *mask;

    if (len < 2)
        return 0;
    op = buf[0] & 0x0f;
    if (buf[0] & 0x70)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "WebSocket frame with reserved bits 0x%02x", buf[0] & 0x70);
    if (op != BERTH_WS_CONTINUATION && op != BERTH_WS_TEXT && op != BERTH_WS_BINARY &&
        op != BERTH_WS_CLOSE && op != BERTH_WS_PING && op != BERTH_WS_PONG)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "WebSocket opcode %u unknown", op);
    if (!(buf[1] & 0x80))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "unmasked WebSocket frame from a client");
    n = buf[1] & 0x7f;
    if (op >= BERTH_WS_CLOSE && (!(buf[0] & 0x80) || n > 125))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "WebSocket control frame %u fragmented or longer than 125 bytes", op);
    if (n == 126) {
        if (len < 4)
            return 0;
        n = (uint64_t)buf[2] << 8 | buf[3];
        hdr = 4;
    } else if (n == 127) {
        if (len < 10)
            return 0;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | buf[2 + i];
        if (n >> 63)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "WebSocket length with the top bit set");
        hdr = 10;
    }
    if (n > max)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "WebSocket frame of %llu bytes is over the %zu allowed",
                             (unsigned long long)n, max);
    if (len < hdr + 4 + n)
        return 0;
    mask = buf + hdr;
    f->fin = (buf[0] & 0x80) != 0;
    f->opcode = (enum berth_ws_opcode)op;
    f->payload = buf + hdr + 4;
    f->len = (size_t)n;
    for (size_t i = 0; i < f->len; i++)
        f->payload[i] ^= mask[i & 3];
    return (ssize_t)(hdr + 4 + n);
}

static void put_header(struct berth_buf *out, uint8_t b0, bool masked, uint64_t n)
{
    uint8_t h[10];
    size_t hl = 2;

    h[0] = b0;
    if (n < 126) {
        h[1] = (uint8_t)n;
    } else if (n <= 0xffff) {
        h[1] = 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)(n >> (56 - 8 * i));
        hl = 10;
    }
    if (masked)
        h[1] |= 0x80;
    berth_buf_append(out, h, hl);
}

void berth_ws_encode(struct berth_buf *out, enum berth_ws_opcode opcode, const void *prefix,
                     size_t prefix_len, const void *p, size_t len)
{
    put_header(out, (uint8_t)(0x80 | opcode), false, (uint64_t)prefix_len + len);
    berth_buf_append(out, prefix, prefix_len);
    berth_buf_append(out, p, len);
}

void berth_ws_encode_masked(struct berth_buf *out, enum berth_ws_opcode opcode, bool fin,
                            const void *p, size_t len, const uint8_t mask[4])
{
    const uint8_t *b = p;
    uint8_t *d;

    put_header(out, (uint8_t)((fin ? 0x80 : 0) | opcode), true, len);
    berth_buf_append(out, mask, 4);
    d = berth_buf_reserve(out, len ? len : 1);
    for (size_t i = 0; i < len; i++)
        d[i] = b[i] ^ mask[i & 3];
    berth_buf_commit(out, len);
}
