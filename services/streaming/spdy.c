/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SPDY/3 frame codec (spdy.h). The checks mirror what makes moby/spdystream's ReadFrame fail
 * (its reader is the peer: anything it rejects ends the connection), plus bounds on header
 * blocks that spdystream does not set. zlib does the header compression.
 */
#include "services/streaming/spdy.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h> /* strcasecmp */
#include <zlib.h>

#include "lib/util.h"

struct berth_spdy_decoder {
    z_stream zs;
    bool failed; /* a -1 was returned: the inflate state is no longer trusted */
    size_t max_data;
    uint8_t *inflated; /* BERTH_SPDY_MAX_HEADER_INFLATE + 1 bytes, allocated at first use */
    /* The last header frame's pairs: names and values are copied into arena with their NULs. */
    struct berth_spdy_header headers[BERTH_SPDY_MAX_HEADERS];
    char *arena;
    size_t arena_cap;
};

struct berth_spdy_encoder {
    z_stream zs;
    struct berth_buf raw;  /* the uncompressed block being built */
    struct berth_buf comp; /* its compressed bytes */
};

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void append32(struct berth_buf *b, uint32_t v)
{
    uint8_t w[4];

    put32(w, v);
    berth_buf_append(b, w, 4);
}

/* ---- decoding ---- */

struct berth_spdy_decoder *berth_spdy_decoder_new(void)
{
    struct berth_spdy_decoder *d = berth_xcalloc(1, sizeof(*d));

    d->max_data = BERTH_SPDY_MAX_DATA;
    if (inflateInit(&d->zs) != Z_OK)
        abort(); /* only Z_MEM_ERROR or a zlib version mismatch can get here */
    return d;
}

void berth_spdy_decoder_free(struct berth_spdy_decoder *d)
{
    if (!d)
        return;
    inflateEnd(&d->zs);
    free(d->inflated);
    free(d->arena);
    free(d);
}

void berth_spdy_decoder_set_max_data(struct berth_spdy_decoder *d, size_t max)
{
    d->max_data = max < BERTH_SPDY_MAX_DATA ? max : BERTH_SPDY_MAX_DATA;
}

static int fail(struct berth_spdy_decoder *d, struct berth_err **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct berth_spdy_decoder *d, struct berth_err **err, const char *fmt, ...)
{
    va_list ap;
    _cleanup_free_ char *msg = NULL;

    d->failed = true;
    va_start(ap, fmt);
    msg = berth_strdup_vprintf(fmt, ap);
    va_end(ap);
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "%s", msg);
}

/* Inflates exactly one frame's compressed block into d->inflated; *out_len gets the size. */
static int inflate_block(struct berth_spdy_decoder *d, const uint8_t *in, size_t n, size_t *out_len,
                         struct berth_err **err)
{
    /* One byte over the limit so that reaching it means "too much". */
    const size_t room = BERTH_SPDY_MAX_HEADER_INFLATE + 1;

    if (!d->inflated)
        d->inflated = berth_xmalloc(room);
    d->zs.next_in = (Bytef *)in;
    d->zs.avail_in = (uInt)n;
    d->zs.next_out = d->inflated;
    d->zs.avail_out = (uInt)room;
    while (d->zs.avail_in > 0) {
        int r = inflate(&d->zs, Z_SYNC_FLUSH);
        if (r == Z_NEED_DICT) {
            /* Checks the DICTID in the zlib header against the dictionary's Adler-32. */
            if (inflateSetDictionary(&d->zs, berth_spdy_dictionary, BERTH_SPDY_DICTIONARY_LEN) !=
                Z_OK)
                return fail(d, err, "header block wants a dictionary other than SPDY/3's");
            continue;
        }
        if (d->zs.avail_out == 0)
            return fail(d, err, "header block inflates to more than %d bytes",
                        BERTH_SPDY_MAX_HEADER_INFLATE);
        if (r == Z_STREAM_END)
            /* The peer finished its stream: no later block could be read. */
            return fail(d, err, "header block ends the zlib stream");
        if (r != Z_OK)
            return fail(d, err, "header block does not inflate: %s",
                        d->zs.msg ? d->zs.msg : "zlib error");
    }
    /* With the input used up and room left, everything the input holds is out: the sender's
     * Z_SYNC_FLUSH ends each block on a byte boundary. */
    *out_len = room - d->zs.avail_out;
    return 0;
}

/* Parses an inflated block (u32 count, then u32-length-prefixed name and value per pair) into
 * d->headers, copying the strings into d->arena. */
static int parse_block(struct berth_spdy_decoder *d, const uint8_t *p, size_t n,
                       struct berth_spdy_frame *f, struct berth_err **err)
{
    size_t off = 4, a = 0;
    uint32_t count;

    if (n < 4)
        return fail(d, err, "header block truncated: %zu bytes, no pair count", n);
    count = get32(p);
    if (count > BERTH_SPDY_MAX_HEADERS)
        return fail(d, err, "header block has %" PRIu32 " pairs (more than %d)", count,
                    BERTH_SPDY_MAX_HEADERS);
    /* Strings plus a NUL each never exceed the block's size. */
    if (d->arena_cap < n) {
        free(d->arena);
        d->arena = berth_xmalloc(n);
        d->arena_cap = n;
    }
    for (uint32_t i = 0; i < count; i++) {
        struct berth_spdy_header *h = &d->headers[i];
        uint32_t nlen, vlen;

        if (n - off < 4)
            return fail(d, err, "header block truncated in pair %" PRIu32, i);
        nlen = get32(p + off);
        off += 4;
        if (nlen == 0)
            return fail(d, err, "header block pair %" PRIu32 " has an empty name", i);
        if (nlen > n - off)
            return fail(d, err,
                        "header block pair %" PRIu32 " name length %" PRIu32 " runs past the block",
                        i, nlen);
        h->name = d->arena + a;
        for (uint32_t k = 0; k < nlen; k++) {
            uint8_t c = p[off + k];
            d->arena[a++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        }
        d->arena[a++] = '\0';
        off += nlen;
        if (n - off < 4)
            return fail(d, err, "header block truncated in pair %" PRIu32, i);
        vlen = get32(p + off);
        off += 4;
        if (vlen > n - off)
            return fail(d, err,
                        "header block pair %" PRIu32 " value length %" PRIu32
                        " runs past the block",
                        i, vlen);
        h->value = d->arena + a;
        h->value_len = vlen;
        memcpy(d->arena + a, p + off, vlen);
        a += vlen;
        d->arena[a++] = '\0';
        off += vlen;
    }
    /* Extra bytes would be read by spdystream as the start of the next block: a desync. */
    if (off != n)
        return fail(d, err, "header block has %zu bytes after its last pair", n - off);
    f->headers = d->headers;
    f->n_headers = count;
    return 0;
}

static int decode_block(struct berth_spdy_decoder *d, const uint8_t *in, size_t n,
                        struct berth_spdy_frame *f, struct berth_err **err)
{
    size_t out_len = 0;

    if (inflate_block(d, in, n, &out_len, err) < 0)
        return -1;
    return parse_block(d, d->inflated, out_len, f, err);
}

static const char *type_name(enum berth_spdy_type t)
{
    switch (t) {
    case BERTH_SPDY_SYN_STREAM:
        return "SYN_STREAM";
    case BERTH_SPDY_SYN_REPLY:
        return "SYN_REPLY";
    case BERTH_SPDY_RST_STREAM:
        return "RST_STREAM";
    case BERTH_SPDY_SETTINGS:
        return "SETTINGS";
    case BERTH_SPDY_PING:
        return "PING";
    case BERTH_SPDY_GOAWAY:
        return "GOAWAY";
    case BERTH_SPDY_HEADERS:
        return "HEADERS";
    case BERTH_SPDY_WINDOW_UPDATE:
        return "WINDOW_UPDATE";
    default:
        return "DATA";
    }
}

/* Checks what the 8-byte control header alone shows: the type and whether the length fits it. */
static int check_control_header(struct berth_spdy_decoder *d, uint32_t version, uint32_t type,
                                uint8_t flags, uint32_t length, struct berth_err **err)
{
    if (version != BERTH_SPDY_VERSION)
        return fail(d, err, "control frame version %" PRIu32 ", want 3", version);
    switch (type) {
    case BERTH_SPDY_SYN_STREAM:
        if (length < 10)
            return fail(d, err, "SYN_STREAM length %" PRIu32 " below 10", length);
        return 0;
    case BERTH_SPDY_SYN_REPLY:
    case BERTH_SPDY_HEADERS:
        if (length < 4)
            return fail(d, err, "%s length %" PRIu32 " below 4", type_name(type), length);
        return 0;
    case BERTH_SPDY_RST_STREAM:
        if (length != 8)
            return fail(d, err, "RST_STREAM length %" PRIu32 ", want 8", length);
        return 0;
    case BERTH_SPDY_SETTINGS:
        if (length < 4 || (length - 4) % 8 != 0)
            return fail(d, err, "SETTINGS length %" PRIu32 " is not 4 + 8 per entry", length);
        return 0;
    case BERTH_SPDY_PING:
        if (length != 4)
            return fail(d, err, "PING length %" PRIu32 ", want 4", length);
        if (flags != 0)
            return fail(d, err, "PING with flags 0x%02x", flags);
        return 0;
    case BERTH_SPDY_GOAWAY:
    case BERTH_SPDY_WINDOW_UPDATE:
        if (length != 8)
            return fail(d, err, "%s length %" PRIu32 ", want 8", type_name(type), length);
        if (flags != 0)
            return fail(d, err, "%s with flags 0x%02x", type_name(type), flags);
        return 0;
    default:
        return fail(d, err, "unknown control frame type %" PRIu32, type);
    }
}

static int decode_control(struct berth_spdy_decoder *d, const uint8_t *p, uint32_t length,
                          struct berth_spdy_frame *f, struct berth_err **err)
{
    switch (f->type) {
    case BERTH_SPDY_SYN_STREAM:
        f->stream_id = get32(p) & BERTH_SPDY_MAX_STREAM_ID;
        f->assoc_id = get32(p + 4) & BERTH_SPDY_MAX_STREAM_ID;
        f->priority = p[8] >> 5; /* p[9] is the SPDY/3 credential slot, unused */
        if (f->stream_id == 0)
            return fail(d, err, "SYN_STREAM with stream id 0");
        return decode_block(d, p + 10, length - 10, f, err);
    case BERTH_SPDY_SYN_REPLY:
    case BERTH_SPDY_HEADERS:
        f->stream_id = get32(p) & BERTH_SPDY_MAX_STREAM_ID;
        if (f->stream_id == 0)
            return fail(d, err, "%s with stream id 0", type_name(f->type));
        return decode_block(d, p + 4, length - 4, f, err);
    case BERTH_SPDY_RST_STREAM:
        f->stream_id = get32(p) & BERTH_SPDY_MAX_STREAM_ID;
        f->status = get32(p + 4);
        if (f->stream_id == 0)
            return fail(d, err, "RST_STREAM with stream id 0");
        if (f->status == 0)
            return fail(d, err, "RST_STREAM with status 0");
        return 0;
    case BERTH_SPDY_SETTINGS:
        if (get32(p) != (length - 4) / 8)
            return fail(d, err, "SETTINGS count %" PRIu32 " does not match length %" PRIu32,
                        get32(p), length);
        return 0;
    case BERTH_SPDY_PING:
        f->id = get32(p);
        if (f->id == 0)
            return fail(d, err, "PING with id 0");
        return 0;
    case BERTH_SPDY_GOAWAY:
        f->id = get32(p) & BERTH_SPDY_MAX_STREAM_ID;
        f->status = get32(p + 4);
        return 0;
    case BERTH_SPDY_WINDOW_UPDATE:
        /* Stream 0 is SPDY/3.1's session window: allowed. */
        f->stream_id = get32(p) & BERTH_SPDY_MAX_STREAM_ID;
        f->id = get32(p + 4) & 0x7fffffffu;
        return 0;
    default:
        return fail(d, err, "unknown control frame type %u", (unsigned)f->type);
    }
}

ssize_t berth_spdy_decode(struct berth_spdy_decoder *d, const uint8_t *buf, size_t len,
                          struct berth_spdy_frame *f, struct berth_err **err)
{
    uint32_t w1, length;
    uint8_t flags;

    memset(f, 0, sizeof(*f));
    if (d->failed)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "spdy decoder used after a fatal error");
    if (len < 8)
        return 0;
    w1 = get32(buf);
    flags = buf[4];
    length = get32(buf + 4) & 0xffffffu;
    f->flags = flags;
    if (w1 & 0x80000000u) {
        uint32_t type = w1 & 0xffffu;

        if (check_control_header(d, (w1 >> 16) & 0x7fffu, type, flags, length, err) < 0)
            return -1;
        if (len - 8 < length)
            return 0;
        f->type = (enum berth_spdy_type)type;
        if (decode_control(d, buf + 8, length, f, err) < 0) {
            /* f must not point at headers a failed parse left half-filled */
            f->headers = NULL;
            f->n_headers = 0;
            return -1;
        }
        return (ssize_t)(8 + length);
    }
    f->type = BERTH_SPDY_DATA;
    f->stream_id = w1;
    if (f->stream_id == 0)
        return fail(d, err, "DATA frame with stream id 0");
    if (length > d->max_data)
        return fail(d, err, "DATA frame of %" PRIu32 " bytes (more than %zu)", length, d->max_data);
    if (len - 8 < length)
        return 0;
    f->data = buf + 8;
    f->len = length;
    return (ssize_t)(8 + length);
}

const struct berth_spdy_header *berth_spdy_frame_header(const struct berth_spdy_frame *f,
                                                        const char *name)
{
    for (size_t i = 0; i < f->n_headers; i++)
        if (strcasecmp(f->headers[i].name, name) == 0)
            return &f->headers[i];
    return NULL;
}

/* ---- encoding ---- */

struct berth_spdy_encoder *berth_spdy_encoder_new(void)
{
    struct berth_spdy_encoder *e = berth_xcalloc(1, sizeof(*e));

    /* Level 9 as Go's spdystream, so the stream starts 78 f9 like the captured ones. */
    if (deflateInit2(&e->zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK ||
        deflateSetDictionary(&e->zs, berth_spdy_dictionary, BERTH_SPDY_DICTIONARY_LEN) != Z_OK)
        abort();
    return e;
}

void berth_spdy_encoder_free(struct berth_spdy_encoder *e)
{
    if (!e)
        return;
    deflateEnd(&e->zs);
    berth_buf_clear(&e->raw);
    berth_buf_clear(&e->comp);
    free(e);
}

/* Builds and compresses one header block into e->comp (its pending bytes). */
static void compress_block(struct berth_spdy_encoder *e, const struct berth_spdy_header *h,
                           size_t n)
{
    berth_buf_consume(&e->raw, berth_buf_pending(&e->raw));
    berth_buf_consume(&e->comp, berth_buf_pending(&e->comp));
    if (n > UINT32_MAX)
        abort();
    append32(&e->raw, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        size_t nlen = strlen(h[i].name);
        size_t vlen = h[i].value_len;
        uint8_t *p;

        if (vlen == 0 && h[i].value)
            vlen = strlen(h[i].value);
        if (nlen > UINT32_MAX || vlen > UINT32_MAX)
            abort();
        append32(&e->raw, (uint32_t)nlen);
        p = berth_buf_reserve(&e->raw, nlen);
        for (size_t k = 0; k < nlen; k++) {
            char c = h[i].name[k];
            p[k] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        }
        berth_buf_commit(&e->raw, nlen);
        append32(&e->raw, (uint32_t)vlen);
        berth_buf_append(&e->raw, h[i].value, vlen);
    }

    e->zs.next_in = (Bytef *)berth_buf_head(&e->raw);
    e->zs.avail_in = (uInt)berth_buf_pending(&e->raw);
    for (;;) {
        /* deflateBound does not cover flushes; grow until a call leaves room unused. */
        size_t room = berth_buf_pending(&e->raw) + 64;
        uint8_t *p = berth_buf_reserve(&e->comp, room);
        int r;

        e->zs.next_out = p;
        e->zs.avail_out = (uInt)room;
        r = deflate(&e->zs, Z_SYNC_FLUSH);
        if (r != Z_OK && r != Z_BUF_ERROR)
            abort(); /* Z_STREAM_ERROR: the state is corrupt */
        berth_buf_commit(&e->comp, room - e->zs.avail_out);
        if (e->zs.avail_out > 0 && e->zs.avail_in == 0)
            break;
    }
    if (berth_buf_pending(&e->comp) > BERTH_SPDY_MAX_DATA - 10)
        abort();
}

static void control_header(uint8_t hdr[8], enum berth_spdy_type type, uint8_t flags,
                           uint32_t length)
{
    put32(hdr, 0x80000000u | (uint32_t)BERTH_SPDY_VERSION << 16 | (uint32_t)type);
    put32(hdr + 4, (uint32_t)flags << 24 | (length & 0xffffffu));
}

static void encode_header_frame(struct berth_spdy_encoder *e, struct berth_buf *out,
                                enum berth_spdy_type type, uint8_t flags, const uint8_t *fixed,
                                size_t fixed_len, const struct berth_spdy_header *h, size_t n)
{
    uint8_t hdr[8];

    compress_block(e, h, n);
    control_header(hdr, type, flags, (uint32_t)(fixed_len + berth_buf_pending(&e->comp)));
    berth_buf_append(out, hdr, 8);
    berth_buf_append(out, fixed, fixed_len);
    berth_buf_append(out, berth_buf_head(&e->comp), berth_buf_pending(&e->comp));
}

void berth_spdy_encode_syn_stream(struct berth_spdy_encoder *e, struct berth_buf *out,
                                  uint32_t stream_id, uint32_t assoc_id, uint8_t priority,
                                  uint8_t flags, const struct berth_spdy_header *h, size_t n)
{
    uint8_t fixed[10];

    put32(fixed, stream_id & BERTH_SPDY_MAX_STREAM_ID);
    put32(fixed + 4, assoc_id & BERTH_SPDY_MAX_STREAM_ID);
    fixed[8] = (uint8_t)((priority & 7) << 5);
    fixed[9] = 0;
    encode_header_frame(e, out, BERTH_SPDY_SYN_STREAM, flags, fixed, sizeof(fixed), h, n);
}

void berth_spdy_encode_syn_reply(struct berth_spdy_encoder *e, struct berth_buf *out,
                                 uint32_t stream_id, uint8_t flags,
                                 const struct berth_spdy_header *h, size_t n)
{
    uint8_t fixed[4];

    put32(fixed, stream_id & BERTH_SPDY_MAX_STREAM_ID);
    encode_header_frame(e, out, BERTH_SPDY_SYN_REPLY, flags, fixed, sizeof(fixed), h, n);
}

void berth_spdy_encode_headers(struct berth_spdy_encoder *e, struct berth_buf *out,
                               uint32_t stream_id, uint8_t flags, const struct berth_spdy_header *h,
                               size_t n)
{
    uint8_t fixed[4];

    put32(fixed, stream_id & BERTH_SPDY_MAX_STREAM_ID);
    encode_header_frame(e, out, BERTH_SPDY_HEADERS, flags, fixed, sizeof(fixed), h, n);
}

/* A control frame whose payload is two words. */
static void encode_2words(struct berth_buf *out, enum berth_spdy_type type, uint32_t a, uint32_t b)
{
    uint8_t f[16];

    control_header(f, type, 0, 8);
    put32(f + 8, a);
    put32(f + 12, b);
    berth_buf_append(out, f, sizeof(f));
}

void berth_spdy_encode_rst_stream(struct berth_buf *out, uint32_t stream_id, uint32_t status)
{
    encode_2words(out, BERTH_SPDY_RST_STREAM, stream_id & BERTH_SPDY_MAX_STREAM_ID, status);
}

void berth_spdy_encode_goaway(struct berth_buf *out, uint32_t last_good, uint32_t status)
{
    encode_2words(out, BERTH_SPDY_GOAWAY, last_good & BERTH_SPDY_MAX_STREAM_ID, status);
}

void berth_spdy_encode_window_update(struct berth_buf *out, uint32_t stream_id, uint32_t delta)
{
    encode_2words(out, BERTH_SPDY_WINDOW_UPDATE, stream_id & BERTH_SPDY_MAX_STREAM_ID,
                  delta & 0x7fffffffu);
}

void berth_spdy_encode_ping(struct berth_buf *out, uint32_t id)
{
    uint8_t f[12];

    control_header(f, BERTH_SPDY_PING, 0, 4);
    put32(f + 8, id);
    berth_buf_append(out, f, sizeof(f));
}

void berth_spdy_encode_settings(struct berth_buf *out, const uint32_t *ids_flags,
                                const uint32_t *values, size_t n)
{
    uint8_t hdr[8];

    if (n > (BERTH_SPDY_MAX_DATA - 4) / 8)
        abort();
    control_header(hdr, BERTH_SPDY_SETTINGS, 0, (uint32_t)(4 + 8 * n));
    berth_buf_append(out, hdr, 8);
    append32(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        append32(out, ids_flags[i]);
        append32(out, values[i]);
    }
}

void berth_spdy_data_header(uint8_t hdr[8], uint32_t stream_id, uint8_t flags, uint32_t len)
{
    if (len > BERTH_SPDY_MAX_DATA)
        abort();
    put32(hdr, stream_id & BERTH_SPDY_MAX_STREAM_ID);
    put32(hdr + 4, (uint32_t)flags << 24 | len);
}

void berth_spdy_encode_data(struct berth_buf *out, uint32_t stream_id, uint8_t flags,
                            const void *data, size_t len)
{
    uint8_t hdr[8];

    if (len > BERTH_SPDY_MAX_DATA)
        abort();
    berth_spdy_data_header(hdr, stream_id, flags, (uint32_t)len);
    berth_buf_append(out, hdr, 8);
    berth_buf_append(out, data, len);
}
