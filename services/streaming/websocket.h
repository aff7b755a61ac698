/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WebSocket (RFC 6455) as the streaming server needs it: the handshake's accept key, client
 * frames decoded (masked, possibly fragmented) and server frames encoded (unmasked). The
 * channel protocols on top (channel.k8s.io: a channel byte first; base64.channel.k8s.io: an
 * ASCII digit and base64) are the server's business (server.c). Pure: no I/O, no logging.
 */
#ifndef BERTH_SERVICES_STREAMING_WEBSOCKET_H
#define BERTH_SERVICES_STREAMING_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "lib/err.h"

enum berth_ws_opcode {
    BERTH_WS_CONTINUATION = 0,
    BERTH_WS_TEXT = 1,
    BERTH_WS_BINARY = 2,
    BERTH_WS_CLOSE = 8,
    BERTH_WS_PING = 9,
    BERTH_WS_PONG = 10,
};

struct berth_ws_frame {
    bool fin;
    enum berth_ws_opcode opcode;
    uint8_t *payload; /* unmasked in place, inside the buffer given to decode */
    size_t len;
};

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key + RFC GUID)).
 * Caller-owned. */
char *berth_ws_accept(const char *key);

/* Decodes the first frame of buf[0..len) as a server reads it, unmasking its payload in
 * place. Returns the bytes it took (> 0), 0 when the frame is not whole yet, -1 with err
 * INVALID_ARGUMENT for a frame after which the connection must close: reserved bits set, an
 * unknown opcode, an unmasked frame (clients must mask), a control frame that is fragmented
 * or longer than 125 bytes, a 64-bit length with the top bit set, a payload over max. */
ssize_t berth_ws_decode(uint8_t *buf, size_t len, size_t max, struct berth_ws_frame *f,
                        struct berth_err **err);

/* Appends one unmasked, final frame (a server's): opcode, then prefix_len bytes of prefix
 * (may be 0) and len bytes of p as one payload. */
void berth_ws_encode(struct berth_buf *out, enum berth_ws_opcode opcode, const void *prefix,
                     size_t prefix_len, const void *p, size_t len);
/* A client's frame, masked with mask (for tests and tools). */
void berth_ws_encode_masked(struct berth_buf *out, enum berth_ws_opcode opcode, bool fin,
                            const void *p, size_t len, const uint8_t mask[4]);

#endif
