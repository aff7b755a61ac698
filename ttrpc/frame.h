/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc framing (containerd/ttrpc PROTOCOL.md): a 10-byte header (u32 BE payload length, u32 BE
 * stream id, u8 message type, u8 flags) followed by at most 4 MiB of payload. Pure code, no I/O:
 * an output buffer frames are appended to, and an incremental reader fed with whatever bytes
 * the socket produced, so unit tests can reach every malformed case.
 */
#ifndef BERTH_TTRPC_FRAME_H
#define BERTH_TTRPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define BERTH_TTRPC_HEADER_LEN  10
#define BERTH_TTRPC_MAX_PAYLOAD (4u << 20)

enum berth_ttrpc_type {
    BERTH_TTRPC_REQUEST = 1,  /* opens a stream; payload is a ttrpc.Request */
    BERTH_TTRPC_RESPONSE = 2, /* final message of a stream; payload is a ttrpc.Response */
    BERTH_TTRPC_DATA = 3,     /* stream data (streaming RPCs) */
};

/* Flags, from the receiver's point of view ("remote" is the sender). */
#define BERTH_TTRPC_FLAG_REMOTE_CLOSED 0x1 /* sender sends no more data on this stream */
#define BERTH_TTRPC_FLAG_REMOTE_OPEN   0x2 /* request: sender still streams data after it */
#define BERTH_TTRPC_FLAG_NO_DATA       0x4 /* data frame without a message (close only) */

struct berth_ttrpc_header {
    uint32_t length;
    uint32_t stream_id;
    uint8_t type;
    uint8_t flags;
};

void berth_ttrpc_header_encode(const struct berth_ttrpc_header *h,
                               uint8_t out[BERTH_TTRPC_HEADER_LEN]);
void berth_ttrpc_header_decode(const uint8_t in[BERTH_TTRPC_HEADER_LEN],
                               struct berth_ttrpc_header *h);

/* Bytes waiting to be written: data[off, len) is unsent. Owns data. */
struct berth_ttrpc_wbuf {
    uint8_t *data;
    size_t off, len, cap;
};
static inline size_t berth_ttrpc_wbuf_pending(const struct berth_ttrpc_wbuf *b)
{
    return b->len - b->off;
}
/* Marks n pending bytes as sent. */
void berth_ttrpc_wbuf_consume(struct berth_ttrpc_wbuf *b, size_t n);
void berth_ttrpc_wbuf_clear(struct berth_ttrpc_wbuf *b);

/* Appends one frame. RESOURCE_EXHAUSTED (nothing appended) if len exceeds 4 MiB. */
int berth_ttrpc_frame_append(struct berth_ttrpc_wbuf *b, uint32_t stream_id, uint8_t type,
                             uint8_t flags, const void *payload, size_t len,
                             struct berth_err **err);

/* One received frame. payload (hdr.length bytes, NULL when empty) is owned by whoever got it
 * from berth_ttrpc_reader_feed and is released with berth_ttrpc_frame_clear. */
struct berth_ttrpc_frame {
    struct berth_ttrpc_header hdr;
    uint8_t *payload;
};
void berth_ttrpc_frame_clear(struct berth_ttrpc_frame *f);

/* Incremental frame reader. Zero-initialise (or berth_ttrpc_reader_clear) before use. */
struct berth_ttrpc_reader {
    uint8_t hdr_buf[BERTH_TTRPC_HEADER_LEN];
    size_t hdr_have;
    struct berth_ttrpc_header hdr;
    uint8_t *payload; /* hdr.length bytes being filled */
    size_t have;      /* payload bytes received so far */
    size_t skip;      /* bytes of a rejected frame still to throw away */
    bool in_payload;
};
void berth_ttrpc_reader_clear(struct berth_ttrpc_reader *r);
/* True while a frame is partially received (EOF now would truncate it). */
bool berth_ttrpc_reader_partial(const struct berth_ttrpc_reader *r);

/*
 * Consumes bytes from data[0, len) until one frame completes or the input runs out; *used gets
 * the number of bytes consumed (call again with the rest). Returns:
 *   1  a frame completed: *out holds it (caller owns out->payload);
 *   0  all input consumed, no complete frame yet;
 *  -1  a frame was rejected; out->hdr holds its header (out->payload is NULL) so the caller can
 *      answer on that stream. The reader stays in sync (it skips the rejected payload):
 *      RESOURCE_EXHAUSTED  length above 4 MiB (detected as soon as the header is in);
 *      INVALID_ARGUMENT    unknown message type (after its payload has been skipped).
 * Stream-id rules depend on the role; see berth_ttrpc_check_from_client.
 */
int berth_ttrpc_reader_feed(struct berth_ttrpc_reader *r, const uint8_t *data, size_t len,
                            size_t *used, struct berth_ttrpc_frame *out, struct berth_err **err);

/* Server-side stream-id rules for a frame received from a client: ids must be odd (so never
 * 0), and a request must open a new stream with an id above *last_request_id, which is then
 * advanced. INVALID_ARGUMENT with containerd's wording otherwise. */
int berth_ttrpc_check_from_client(const struct berth_ttrpc_header *h, uint32_t *last_request_id,
                                  struct berth_err **err);

#endif
