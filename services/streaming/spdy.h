/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SPDY/3.1 framing as moby/spdystream (client-go's SPDY stack) speaks it, for the CRI streaming
 * server: a decoder and an encoder per connection, each holding that direction's zlib stream
 * (primed with the SPDY/3 dictionary, never reset). Pure byte codec: no sockets, no streams,
 * no flow control (spdystream has none). Depends on zlib and lib/buf.h for output.
 */
#ifndef BERTH_SERVICES_STREAMING_SPDY_H
#define BERTH_SERVICES_STREAMING_SPDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

#include "lib/buf.h"
#include "lib/err.h"

#define BERTH_SPDY_VERSION 3
enum berth_spdy_type {
    BERTH_SPDY_DATA = 0, /* not a control type: a data frame */
    BERTH_SPDY_SYN_STREAM = 1,
    BERTH_SPDY_SYN_REPLY = 2,
    BERTH_SPDY_RST_STREAM = 3,
    BERTH_SPDY_SETTINGS = 4,
    BERTH_SPDY_PING = 6,
    BERTH_SPDY_GOAWAY = 7,
    BERTH_SPDY_HEADERS = 8,
    BERTH_SPDY_WINDOW_UPDATE = 9,
};
#define BERTH_SPDY_FLAG_FIN            0x01
#define BERTH_SPDY_FLAG_UNIDIRECTIONAL 0x02
enum berth_spdy_rst_status {
    BERTH_SPDY_PROTOCOL_ERROR = 1,
    BERTH_SPDY_INVALID_STREAM = 2,
    BERTH_SPDY_REFUSED_STREAM = 3,
    BERTH_SPDY_UNSUPPORTED_VERSION = 4,
    BERTH_SPDY_CANCEL = 5,
    BERTH_SPDY_INTERNAL_ERROR = 6,
    BERTH_SPDY_FLOW_CONTROL_ERROR = 7,
    BERTH_SPDY_STREAM_IN_USE = 8,
    BERTH_SPDY_STREAM_ALREADY_CLOSED = 9,
};
#define BERTH_SPDY_MAX_DATA      0xffffffu /* 24-bit length */
#define BERTH_SPDY_MAX_STREAM_ID 0x7fffffffu
/* Limits on a received header block (spdystream has none; these bound a hostile peer). */
#define BERTH_SPDY_MAX_HEADERS        256
#define BERTH_SPDY_MAX_HEADER_INFLATE 65536

/* The SPDY/3 header dictionary (spdy-dict.c): 1423 bytes, Adler-32 0xe3c6a7c2. */
#define BERTH_SPDY_DICTIONARY_LEN 1423
extern const uint8_t berth_spdy_dictionary[BERTH_SPDY_DICTIONARY_LEN];

struct berth_spdy_header {
    char *name;       /* lowercased, NUL-terminated */
    char *value;      /* NUL-terminated; may hold inner NULs (joined values): see value_len */
    size_t value_len; /* encoders: 0 means strlen(value) (value NULL: empty) */
};

struct berth_spdy_frame {
    enum berth_spdy_type type;
    uint8_t flags;
    uint32_t stream_id;  /* DATA, SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE */
    uint32_t assoc_id;   /* SYN_STREAM */
    uint8_t priority;    /* SYN_STREAM, 0..7 */
    uint32_t status;     /* RST_STREAM, GOAWAY */
    uint32_t id;         /* PING id, GOAWAY last-good stream id, WINDOW_UPDATE delta */
    const uint8_t *data; /* DATA payload: points into the buffer given to decode */
    size_t len;          /* DATA payload length */
    const struct berth_spdy_header *headers; /* SYN_STREAM/SYN_REPLY/HEADERS; owned by the
                                                decoder, valid until the next decode */
    size_t n_headers;
};

/* One per connection: holds the inflate stream. Aborts on OOM. */
struct berth_spdy_decoder;
struct berth_spdy_decoder *berth_spdy_decoder_new(void);
void berth_spdy_decoder_free(struct berth_spdy_decoder *d); /* NULL-safe */
/* Decodes the first frame of buf[0..len). Returns the bytes it took (> 0) and fills *f;
 * 0 when buf does not yet hold a whole frame (nothing consumed; call again with more);
 * -1 with err (INVALID_ARGUMENT, message naming what was wrong) for a frame after which the
 * connection cannot continue: version not 3, unknown control type, a length that does not
 * fit the type, RST_STREAM with status 0 or stream id 0, PING with flags or id 0, GOAWAY or
 * WINDOW_UPDATE of length != 8 or with flags, SETTINGS whose count does not match its length,
 * stream id 0 on a stream frame, a header block that does not inflate (with the dictionary)
 * or does not parse (truncated, counts beyond the block, more than 256 pairs, an empty name,
 * more than 64 KiB inflated), DATA longer than the decoder's max data (default
 * BERTH_SPDY_MAX_DATA). The inflate stream is shared by all frames of the connection and fed
 * exactly each frame's block (never reset). After -1 the decoder must not be used again.
 * Errors a frame header alone shows (version, type, length, DATA too long) come as soon as
 * the 8 header bytes are in, without waiting for the payload. Stream ids and WINDOW_UPDATE
 * deltas are given with their reserved top bit cleared; SETTINGS entries are checked but not
 * returned (spdystream ignores them); names are lowercased. */
ssize_t berth_spdy_decode(struct berth_spdy_decoder *d, const uint8_t *buf, size_t len,
                          struct berth_spdy_frame *f, struct berth_err **err);
/* The largest DATA payload accepted (BERTH_SPDY_MAX_DATA by default; larger values are that). */
void berth_spdy_decoder_set_max_data(struct berth_spdy_decoder *d, size_t max);

/* Finds a header by name (case-insensitive); NULL when absent. The first of duplicates. */
const struct berth_spdy_header *berth_spdy_frame_header(const struct berth_spdy_frame *f,
                                                        const char *name);

/* One per connection: holds the deflate stream (with dictionary, Z_SYNC_FLUSH after each
 * block). Aborts on OOM. */
struct berth_spdy_encoder;
struct berth_spdy_encoder *berth_spdy_encoder_new(void);
void berth_spdy_encoder_free(struct berth_spdy_encoder *e); /* NULL-safe */
/* Each appends one whole frame to out. Names are written lowercased. h may be NULL when n is
 * 0: the block is then the count 0 alone (the server's empty SYN_REPLY). Stream ids are
 * masked to 31 bits. Encoders never fail; they abort on a zlib internal error or on a frame
 * that cannot be represented (a compressed block or DATA payload over 2^24-1 bytes). */
void berth_spdy_encode_syn_stream(struct berth_spdy_encoder *e, struct berth_buf *out,
                                  uint32_t stream_id, uint32_t assoc_id, uint8_t priority,
                                  uint8_t flags, const struct berth_spdy_header *h, size_t n);
void berth_spdy_encode_syn_reply(struct berth_spdy_encoder *e, struct berth_buf *out,
                                 uint32_t stream_id, uint8_t flags,
                                 const struct berth_spdy_header *h, size_t n);
void berth_spdy_encode_headers(struct berth_spdy_encoder *e, struct berth_buf *out,
                               uint32_t stream_id, uint8_t flags, const struct berth_spdy_header *h,
                               size_t n);
void berth_spdy_encode_rst_stream(struct berth_buf *out, uint32_t stream_id, uint32_t status);
void berth_spdy_encode_ping(struct berth_buf *out, uint32_t id);
void berth_spdy_encode_goaway(struct berth_buf *out, uint32_t last_good, uint32_t status);
/* ids_flags[i] is the entry's first word as sent (flags:8 id:24). For tests. */
void berth_spdy_encode_settings(struct berth_buf *out, const uint32_t *ids_flags,
                                const uint32_t *values, size_t n);
void berth_spdy_encode_window_update(struct berth_buf *out, uint32_t stream_id, uint32_t delta);
/* DATA: the 8-byte header alone (for writev of a payload held elsewhere), or header+payload.
 * len must be <= BERTH_SPDY_MAX_DATA (callers chunk, e.g. at 32 KiB). */
void berth_spdy_data_header(uint8_t hdr[8], uint32_t stream_id, uint8_t flags, uint32_t len);
void berth_spdy_encode_data(struct berth_buf *out, uint32_t stream_id, uint8_t flags,
                            const void *data, size_t len);

#endif
