/* SPDX-License-Identifier: Apache-2.0 */
/* ttrpc frame codec: header encode/decode, an append-only output buffer and the incremental
 * reader that turns arbitrary read() chunks into frames. No I/O here. */
#include <string.h>

#include "lib/util.h"
#include "ttrpc/frame.h"

void berth_ttrpc_header_encode(const struct berth_ttrpc_header *h,
                               uint8_t out[BERTH_TTRPC_HEADER_LEN])
{
    out[0] = (uint8_t)(h->length >> 24);
    out[1] = (uint8_t)(h->length >> 16);
    out[2] = (uint8_t)(h->length >> 8);
    out[3] = (uint8_t)h->length;
    out[4] = (uint8_t)(h->stream_id >> 24);
    out[5] = (uint8_t)(h->stream_id >> 16);
    out[6] = (uint8_t)(h->stream_id >> 8);
    out[7] = (uint8_t)h->stream_id;
    out[8] = h->type;
    out[9] = h->flags;
}

void berth_ttrpc_header_decode(const uint8_t in[BERTH_TTRPC_HEADER_LEN],
                               struct berth_ttrpc_header *h)
{
    h->length = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
    h->stream_id = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
    h->type = in[8];
    h->flags = in[9];
}

void berth_ttrpc_wbuf_consume(struct berth_ttrpc_wbuf *b, size_t n)
{
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

void berth_ttrpc_wbuf_clear(struct berth_ttrpc_wbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

int berth_ttrpc_frame_append(struct berth_ttrpc_wbuf *b, uint32_t stream_id, uint8_t type,
                             uint8_t flags, const void *payload, size_t len, struct berth_err **err)
{
    struct berth_ttrpc_header h = {(uint32_t)len, stream_id, type, flags};
    size_t need;

    if (len > BERTH_TTRPC_MAX_PAYLOAD)
        return berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0,
                             "message length %zu exceeds maximum message size of %u", len,
                             BERTH_TTRPC_MAX_PAYLOAD);
    /* Reclaim the sent prefix before growing, so a busy connection doesn't creep upwards. */
    if (b->off > 0 && b->off >= b->len / 2) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    need = b->len + BERTH_TTRPC_HEADER_LEN + len;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need)
            cap *= 2;
        b->data = berth_xrealloc(b->data, cap);
        b->cap = cap;
    }
    berth_ttrpc_header_encode(&h, b->data + b->len);
    if (len)
        memcpy(b->data + b->len + BERTH_TTRPC_HEADER_LEN, payload, len);
    b->len = need;
    return 0;
}

void berth_ttrpc_frame_clear(struct berth_ttrpc_frame *f)
{
    free(f->payload);
    f->payload = NULL;
}

void berth_ttrpc_reader_clear(struct berth_ttrpc_reader *r)
{
    free(r->payload);
    memset(r, 0, sizeof(*r));
}

bool berth_ttrpc_reader_partial(const struct berth_ttrpc_reader *r)
{
    return r->hdr_have > 0 || r->in_payload || r->skip > 0;
}

static bool known_type(uint8_t t)
{
    return t == BERTH_TTRPC_REQUEST || t == BERTH_TTRPC_RESPONSE || t == BERTH_TTRPC_DATA;
}

int berth_ttrpc_reader_feed(struct berth_ttrpc_reader *r, const uint8_t *data, size_t len,
                            size_t *used, struct berth_ttrpc_frame *out, struct berth_err **err)
{
    size_t pos = 0, n;

    out->payload = NULL;
    while (pos < len) {
        if (r->skip > 0) {
            n = len - pos < r->skip ? len - pos : r->skip;
            r->skip -= n;
            pos += n;
            if (r->skip == 0 && !known_type(r->hdr.type)) {
                /* Reported only now, so the caller sees it after the bytes are gone. */
                out->hdr = r->hdr;
                *used = pos;
                return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                     "unknown message type 0x%02x on stream %u", r->hdr.type,
                                     r->hdr.stream_id);
            }
            continue;
        }
        if (!r->in_payload) {
            n = BERTH_TTRPC_HEADER_LEN - r->hdr_have;
            if (n > len - pos)
                n = len - pos;
            memcpy(r->hdr_buf + r->hdr_have, data + pos, n);
            r->hdr_have += n;
            pos += n;
            if (r->hdr_have < BERTH_TTRPC_HEADER_LEN)
                break;
            r->hdr_have = 0;
            berth_ttrpc_header_decode(r->hdr_buf, &r->hdr);
            if (r->hdr.length > BERTH_TTRPC_MAX_PAYLOAD) {
                /* Like containerd: throw the payload away and fail only this stream. */
                r->skip = r->hdr.length;
                out->hdr = r->hdr;
                *used = pos;
                return berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0,
                                     "message length %u exceed maximum message size of %u",
                                     r->hdr.length, BERTH_TTRPC_MAX_PAYLOAD);
            }
            if (!known_type(r->hdr.type)) {
                r->skip = r->hdr.length;
                if (r->skip > 0)
                    continue;
                out->hdr = r->hdr;
                *used = pos;
                return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                     "unknown message type 0x%02x on stream %u", r->hdr.type,
                                     r->hdr.stream_id);
            }
            r->in_payload = true;
            r->have = 0;
            r->payload = r->hdr.length ? berth_xmalloc(r->hdr.length) : NULL;
        }
        n = r->hdr.length - r->have;
        if (n > len - pos)
            n = len - pos;
        if (n)
            memcpy(r->payload + r->have, data + pos, n);
        r->have += n;
        pos += n;
        if (r->have == r->hdr.length)
            break;
    }
    /* A zero-length frame completes the moment its header is in, even with no bytes left. */
    if (r->in_payload && r->have == r->hdr.length) {
        out->hdr = r->hdr;
        out->payload = steal_ptr(r->payload);
        r->in_payload = false;
        r->have = 0;
        *used = pos;
        return 1;
    }
    *used = pos;
    return 0;
}

int berth_ttrpc_check_from_client(const struct berth_ttrpc_header *h, uint32_t *last_request_id,
                                  struct berth_err **err)
{
    if (h->stream_id % 2 != 1)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "StreamID must be odd for client initiated streams");
    if (h->type == BERTH_TTRPC_REQUEST) {
        if (h->stream_id <= *last_request_id)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "StreamID cannot be re-used and must increment");
        *last_request_id = h->stream_id;
    }
    return 0;
}
