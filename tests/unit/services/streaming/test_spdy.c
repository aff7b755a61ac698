/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/streaming/spdy.c and spdy-dict.c: round trips, frames captured from
 * client-go/spdystream (docs in /work/shared/reference/streaming.md §3), a Go-like level-9 zlib
 * stream, split input and malformed frames. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/sha256.h"
#include "lib/util.h"
#include "services/streaming/spdy.h"

DEFINE_CLEANUP(struct berth_spdy_decoder *, berth_spdy_decoder_free)
DEFINE_CLEANUP(struct berth_spdy_encoder *, berth_spdy_encoder_free)
#define _cleanup_dec_ _cleanup_(berth_spdy_decoder_freep)
#define _cleanup_enc_ _cleanup_(berth_spdy_encoder_freep)
#define _cleanup_buf_ _cleanup_(berth_buf_clear)

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends a u32-length-prefixed string to a raw header block. */
static void raw_str(struct berth_buf *b, const char *s, size_t n)
{
    uint8_t w[4];

    put32(w, (uint32_t)n);
    berth_buf_append(b, w, 4);
    berth_buf_append(b, s, n);
}

static void raw32(struct berth_buf *b, uint32_t v)
{
    uint8_t w[4];

    put32(w, v);
    berth_buf_append(b, w, 4);
}

/* A zlib stream as Go's compress/zlib writes it for spdystream: level 9, the SPDY dictionary,
 * one Z_SYNC_FLUSH per block. */
static void go_deflate_init(z_stream *zs)
{
    memset(zs, 0, sizeof(*zs));
    assert_int_equal(deflateInit2(zs, 9, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    assert_int_equal(deflateSetDictionary(zs, berth_spdy_dictionary, BERTH_SPDY_DICTIONARY_LEN),
                     Z_OK);
}

static void go_deflate_block(z_stream *zs, const void *in, size_t n, struct berth_buf *out)
{
    size_t room = n + n / 2 + 256;
    uint8_t *p = berth_buf_reserve(out, room);

    zs->next_in = (Bytef *)in;
    zs->avail_in = (uInt)n;
    zs->next_out = p;
    zs->avail_out = (uInt)room;
    assert_int_equal(deflate(zs, Z_SYNC_FLUSH), Z_OK);
    assert_int_equal(zs->avail_in, 0);
    assert_true(zs->avail_out > 0);
    berth_buf_commit(out, room - zs->avail_out);
}

/* Appends a control frame header. */
static void ctrl_hdr(struct berth_buf *b, uint16_t version, uint16_t type, uint8_t flags,
                     uint32_t length)
{
    uint8_t h[8];

    put32(h, 0x80000000u | (uint32_t)version << 16 | type);
    put32(h + 4, (uint32_t)flags << 24 | length);
    berth_buf_append(b, h, 8);
}

/* A SYN_REPLY for stream 1 whose header block is raw (compressed with a fresh Go-like stream). */
static void syn_reply_with_raw_block(struct berth_buf *frame, const struct berth_buf *raw)
{
    _cleanup_buf_ struct berth_buf comp = BERTH_BUF_INIT;
    z_stream zs;

    go_deflate_init(&zs);
    go_deflate_block(&zs, berth_buf_head(raw), berth_buf_pending(raw), &comp);
    deflateEnd(&zs);
    ctrl_hdr(frame, 3, BERTH_SPDY_SYN_REPLY, 0, (uint32_t)(4 + berth_buf_pending(&comp)));
    raw32(frame, 1);
    berth_buf_append(frame, berth_buf_head(&comp), berth_buf_pending(&comp));
}

static void assert_header(const struct berth_spdy_frame *f, const char *name, const char *value)
{
    const struct berth_spdy_header *h = berth_spdy_frame_header(f, name);

    assert_non_null(h);
    assert_string_equal(h->value, value);
    assert_int_equal(h->value_len, strlen(value));
}

/* Decodes exactly one whole frame from b (consuming it) and asserts success. */
static void decode_one(struct berth_spdy_decoder *d, struct berth_buf *b,
                       struct berth_spdy_frame *f, enum berth_spdy_type type)
{
    _cleanup_err_ struct berth_err *err = NULL;
    ssize_t r = berth_spdy_decode(d, berth_buf_head(b), berth_buf_pending(b), f, &err);

    if (r < 0)
        fail_msg("decode: %s", err->msg);
    assert_true(r > 0);
    assert_int_equal(f->type, type);
    berth_buf_consume(b, (size_t)r);
}

static void test_spdy_dictionary_length_and_hashes(void **state)
{
    struct berth_sha256 c;
    char digest[72];

    (void)state;
    assert_int_equal(sizeof(berth_spdy_dictionary), 1423);
    assert_int_equal(adler32(1, berth_spdy_dictionary, sizeof(berth_spdy_dictionary)), 0xE3C6A7C2u);
    berth_sha256_init(&c);
    berth_sha256_update(&c, berth_spdy_dictionary, sizeof(berth_spdy_dictionary));
    berth_sha256_digest_str(&c, digest);
    assert_string_equal(digest,
                        "sha256:51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02");
    assert_memory_equal(berth_spdy_dictionary, "\0\0\0\7options\0\0\0\4head", 19);
    assert_memory_equal(berth_spdy_dictionary + 1423 - 7, ",enq=0.", 7);
}

static void test_spdy_roundtrip_every_frame_type(void **state)
{
    _cleanup_enc_ struct berth_spdy_encoder *e = berth_spdy_encoder_new();
    _cleanup_dec_ struct berth_spdy_decoder *d = berth_spdy_decoder_new();
    _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
    struct berth_spdy_header syn_h[] = {{"streamtype", "error", 0}, {"port", "8080", 4}};
    struct berth_spdy_header hdr_h[] = {{"x-joined", "a\0bc", 4}};
    const uint32_t ids[] = {0x01000004u, 7}, vals[] = {65536, 0};
    struct berth_spdy_frame f;
    uint8_t dh[8];

    (void)state;
    berth_spdy_encode_syn_stream(e, &b, 1, 0, 3, BERTH_SPDY_FLAG_FIN, syn_h, 2);
    berth_spdy_encode_syn_stream(e, &b, 3, 1, 7, BERTH_SPDY_FLAG_UNIDIRECTIONAL, NULL, 0);
    berth_spdy_encode_syn_reply(e, &b, 1, 0, NULL, 0);
    berth_spdy_encode_headers(e, &b, 3, BERTH_SPDY_FLAG_FIN, hdr_h, 1);
    berth_spdy_encode_rst_stream(&b, 5, BERTH_SPDY_CANCEL);
    berth_spdy_encode_settings(&b, ids, vals, 2);
    berth_spdy_encode_ping(&b, 7);
    berth_spdy_encode_goaway(&b, 9, 2);
    berth_spdy_encode_window_update(&b, 0, 0x80001000u);
    berth_spdy_encode_data(&b, 3, BERTH_SPDY_FLAG_FIN, "hello", 5);
    berth_spdy_encode_data(&b, 0x7fffffffu, 0, NULL, 0);

    decode_one(d, &b, &f, BERTH_SPDY_SYN_STREAM);
    assert_int_equal(f.stream_id, 1);
    assert_int_equal(f.assoc_id, 0);
    assert_int_equal(f.priority, 3);
    assert_int_equal(f.flags, BERTH_SPDY_FLAG_FIN);
    assert_int_equal(f.n_headers, 2);
    assert_string_equal(f.headers[0].name, "streamtype");
    assert_header(&f, "streamtype", "error");
    assert_header(&f, "port", "8080");

    decode_one(d, &b, &f, BERTH_SPDY_SYN_STREAM);
    assert_int_equal(f.stream_id, 3);
    assert_int_equal(f.assoc_id, 1);
    assert_int_equal(f.priority, 7);
    assert_int_equal(f.flags, BERTH_SPDY_FLAG_UNIDIRECTIONAL);
    assert_int_equal(f.n_headers, 0);

    decode_one(d, &b, &f, BERTH_SPDY_SYN_REPLY);
    assert_int_equal(f.stream_id, 1);
    assert_int_equal(f.flags, 0);
    assert_int_equal(f.n_headers, 0);

    decode_one(d, &b, &f, BERTH_SPDY_HEADERS);
    assert_int_equal(f.stream_id, 3);
    assert_int_equal(f.flags, BERTH_SPDY_FLAG_FIN);
    assert_int_equal(f.n_headers, 1);
    assert_int_equal(f.headers[0].value_len, 4);
    assert_memory_equal(f.headers[0].value, "a\0bc", 5);

    decode_one(d, &b, &f, BERTH_SPDY_RST_STREAM);
    assert_int_equal(f.stream_id, 5);
    assert_int_equal(f.status, BERTH_SPDY_CANCEL);

    decode_one(d, &b, &f, BERTH_SPDY_SETTINGS);

    decode_one(d, &b, &f, BERTH_SPDY_PING);
    assert_int_equal(f.id, 7);

    decode_one(d, &b, &f, BERTH_SPDY_GOAWAY);
    assert_int_equal(f.id, 9);
    assert_int_equal(f.status, 2);

    decode_one(d, &b, &f, BERTH_SPDY_WINDOW_UPDATE);
    assert_int_equal(f.stream_id, 0);
    assert_int_equal(f.id, 0x1000); /* the reserved bit is dropped */

    decode_one(d, &b, &f, BERTH_SPDY_DATA);
    assert_int_equal(f.stream_id, 3);
    assert_int_equal(f.flags, BERTH_SPDY_FLAG_FIN);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.data, "hello", 5);

    decode_one(d, &b, &f, BERTH_SPDY_DATA);
    assert_int_equal(f.stream_id, 0x7fffffffu);
    assert_int_equal(f.len, 0);
    assert_int_equal(berth_buf_pending(&b), 0);

    /* data_header is encode_data's first 8 bytes: the half-close of §3. */
    berth_spdy_data_header(dh, 3, BERTH_SPDY_FLAG_FIN, 0);
    assert_memory_equal(dh, "\0\0\0\3\1\0\0\0", 8);
    berth_spdy_encode_data(&b, 3, BERTH_SPDY_FLAG_FIN, NULL, 0);
    assert_memory_equal(berth_buf_head(&b), dh, 8);
}

static void test_spdy_fixed_frames_bytes(void **state)
{
    _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
    static const uint8_t want[] = {
        0x80, 3, 0, 3, 0, 0, 0, 8, 0,   0,   0,   1,   0, 0, 0, 5, /* RST 1 CANCEL */
        0x80, 3, 0, 7, 0, 0, 0, 8, 0,   0,   0,   5,   0, 0, 0, 0, /* GOAWAY 5 OK */
        0x80, 3, 0, 6, 0, 0, 0, 4, 0,   0,   0,   1,               /* PING 1 */
        0x80, 3, 0, 9, 0, 0, 0, 8, 0,   0,   0,   3,   0, 1, 0, 0, /* WINDOW_UPDATE 3 +65536 */
        0,    0, 0, 5, 0, 0, 0, 4, 'o', 'o', 'p', 's',             /* DATA 5 "oops" */
    };

    (void)state;
    berth_spdy_encode_rst_stream(&b, 1, BERTH_SPDY_CANCEL);
    berth_spdy_encode_goaway(&b, 5, 0);
    berth_spdy_encode_ping(&b, 1);
    berth_spdy_encode_window_update(&b, 3, 65536);
    berth_spdy_encode_data(&b, 5, 0, "oops", 4);
    assert_int_equal(berth_buf_pending(&b), sizeof(want));
    assert_memory_equal(berth_buf_head(&b), want, sizeof(want));
}

/* Header frames through one encoder/decoder pair: each block continues the same zlib streams,
 * so only the first carries the zlib header and a fresh decoder cannot read a later one. */
static void test_spdy_header_frames_share_zlib_state(void **state)
{
    _cleanup_enc_ struct berth_spdy_encoder *e = berth_spdy_encoder_new();
    _cleanup_dec_ struct berth_spdy_decoder *d = berth_spdy_decoder_new();
    _cleanup_dec_ struct berth_spdy_decoder *fresh = berth_spdy_decoder_new();
    _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
    _cleanup_err_ struct berth_err *err = NULL;
    struct berth_spdy_frame f;

    (void)state;
    for (uint32_t i = 0; i < 60; i++) {
        char port[16], rid[16];
        struct berth_spdy_header h[] = {
            {"streamType", i % 2 ? "data" : "error", 0}, {"port", port, 0}, {"requestID", rid, 0}};

        snprintf(port, sizeof(port), "%u", 8000 + i / 2);
        snprintf(rid, sizeof(rid), "%u", i / 2);
        berth_spdy_encode_syn_stream(e, &b, 2 * i + 1, 0, 0, 0, h, 3);
        if (i == 0)
            assert_memory_equal(berth_buf_head(&b) + 18, "\x78\xf9\xe3\xc6\xa7\xc2", 6);
        if (i == 1) {
            /* the second block alone has no zlib header: a fresh decoder fails */
            size_t n = berth_buf_pending(&b);
            struct berth_spdy_frame g;
            ssize_t first = 0;
            _cleanup_dec_ struct berth_spdy_decoder *tmp = berth_spdy_decoder_new();

            first = berth_spdy_decode(tmp, berth_buf_head(&b), n, &g, &err);
            assert_true(first > 0);
            assert_int_equal(
                berth_spdy_decode(fresh, berth_buf_head(&b) + first, n - (size_t)first, &g, &err),
                -1);
            assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        }
        berth_spdy_encode_syn_reply(e, &b, 2 * i + 1, 0, NULL, 0);
    }
    for (uint32_t i = 0; i < 60; i++) {
        char port[16], rid[16];

        snprintf(port, sizeof(port), "%u", 8000 + i / 2);
        snprintf(rid, sizeof(rid), "%u", i / 2);
        decode_one(d, &b, &f, BERTH_SPDY_SYN_STREAM);
        assert_int_equal(f.stream_id, 2 * i + 1);
        assert_int_equal(f.n_headers, 3);
        assert_header(&f, "streamtype", i % 2 ? "data" : "error");
        assert_header(&f, "port", port);
        assert_header(&f, "requestid", rid);
        decode_one(d, &b, &f, BERTH_SPDY_SYN_REPLY);
        assert_int_equal(f.stream_id, 2 * i + 1);
        assert_int_equal(f.n_headers, 0);
    }
    assert_int_equal(berth_buf_pending(&b), 0);
}

/* The server SYN_REPLYs of §3's wire example (Go's deflate), through one decoder. */
static void test_spdy_decode_captured_syn_replies(void **state)
{
    static const uint8_t wire[] =
        {
            0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
            0x00, 0x01, 0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x62, 0x60,
            0x60, 0x60, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, /* SYN_REPLY 1 */
            0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00,
            0x00, 0x03, 0x02, 0x61, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, /* SYN_REPLY 3 */
            0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00,
            0x00, 0x05, 0x02, 0x61, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, /* SYN_REPLY 5 */
        };
    _cleanup_dec_ struct berth_spdy_decoder *d = berth_spdy_decoder_new();
    _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
    struct berth_spdy_frame f;

    (void)state;
    berth_buf_append(&b, wire, sizeof(wire));
    decode_one(d, &b, &f, BERTH_SPDY_SYN_REPLY);
    assert_int_equal(f.stream_id, 1);
    assert_int_equal(f.n_headers, 0);
    assert_int_equal(berth_buf_pending(&b), sizeof(wire) - 28);
    decode_one(d, &b, &f, BERTH_SPDY_SYN_REPLY);
    assert_int_equal(f.stream_id, 3);
    assert_int_equal(f.n_headers, 0);
    decode_one(d, &b, &f, BERTH_SPDY_SYN_REPLY);
    assert_int_equal(f.stream_id, 5);
    assert_int_equal(berth_buf_pending(&b), 0);
}

/* The other server frames of §3's wire example. */
static void test_spdy_decode_captured_data_rst_goaway(void **state)
{
    static const uint8_t wire[] = {
        0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05, 'h',  'e',  'l',  'l',
        'o',  0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x00,                   /* FIN 3 */
        0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, /* RST 1 */
        0x00, 0x00, 0x00, 0x05,                                                 /* CANCEL */
        0x80, 0x03, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x05, /* GOAWAY 5 */
        0x00, 0x00, 0x00, 0x00,
    };
    _cleanup_dec_ struct berth_spdy_decoder *d = berth_spdy_decoder_new();
    _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
    struct berth_spdy_frame f;

    (void)state;
    berth_buf_append(&b, wire, sizeof(wire));
    decode_one(d, &b, &f, BERTH_SPDY_DATA);
    assert_int_equal(f.stream_id, 3);
    assert_int_equal(f.flags, 0);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.data, "hello", 5);
    decode_one(d, &b, &f, BERTH_SPDY_DATA);
    assert_int_equal(f.stream_id, 3);
    assert_int_equal(f.flags, BERTH_SPDY_FLAG_FIN);
    assert_int_equal(f.len, 0);
    decode_one(d, &b, &f, BERTH_SPDY_RST_STREAM);
    assert_int_equal(f.stream_id, 1);
    assert_int_equal(f.status, BERTH_SPDY_CANCEL);
    decode_one(d, &b, &f, BERTH_SPDY_GOAWAY);
    assert_int_equal(f.id, 5);
    assert_int_equal(f.status, 0);
    assert_int_equal(berth_buf_pending(&b), 0);
}

/* A SYN_STREAM from our encoder, names given in any case, comes out lowercased. */
static void test_spdy_syn_stream_names_lowercased(void **state)
{
    _cleanup_enc_ struct berth_spdy_encoder *e = berth_spdy_encoder_new();
    _cleanup_dec_ struct berth_spdy_decoder *d = berth_spdy_decoder_new();
    _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
    struct berth_spdy_header h[] = {
        {"requestID", "0", 0}, {"PORT", "80", 0}, {"StreamType", "data", 0}};
    struct berth_spdy_frame f;

    uint8_t raw[256];
    static const uint8_t want_raw[] = "\0\0\0\3"
                                      "\0\0\0\x09requestid\0\0\0\0010"
                                      "\0\0\0\4port\0\0\0\00280"
                                      "\0\0\0\x0astreamtype\0\0\0\4data";
    z_stream zs;

    (void)state;
    berth_spdy_encode_syn_stream(e, &b, 3, 0, 0, 0, h, 3);
    /* The names are lowercased on the wire (SPDY/3 wants lowercase names), not only by our
     * decoder: inflate the block by hand. */
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit(&zs), Z_OK);
    zs.next_in = (Bytef *)berth_buf_head(&b) + 18;
    zs.avail_in = (uInt)(berth_buf_pending(&b) - 18);
    zs.next_out = raw;
    zs.avail_out = sizeof(raw);
    assert_int_equal(inflate(&zs, Z_SYNC_FLUSH), Z_NEED_DICT);
    assert_int_equal(inflateSetDictionary(&zs, berth_spdy_dictionary, BERTH_SPDY_DICTIONARY_LEN),
                     Z_OK);
    assert_int_equal(inflate(&zs, Z_SYNC_FLUSH), Z_OK);
    assert_int_equal(zs.avail_in, 0);
    assert_int_equal(sizeof(raw) - zs.avail_out, sizeof(want_raw) - 1);
    assert_memory_equal(raw, want_raw, sizeof(want_raw) - 1);
    inflateEnd(&zs);
    decode_one(d, &b, &f, BERTH_SPDY_SYN_STREAM);
    assert_int_equal(f.n_headers, 3);
    assert_string_equal(f.headers[0].name, "requestid");
    assert_string_equal(f.headers[1].name, "port");
    assert_string_equal(f.headers[2].name, "streamtype");
    assert_header(&f, "STREAMTYPE", "data");
    assert_header(&f, "requestId", "0");
    assert_null(berth_spdy_frame_header(&f, "stream"));
    assert_null(berth_spdy_frame_header(&f, "streamtype2"));
}

/* A client-side stream as Go's zlib at level 9 writes it (names as a non-Go peer might send
 * them, mixed case), two blocks continuing one stream. */
static void test_spdy_decode_go_level9_stream(void **state)
{
    _cleanup_dec_ struct berth_spdy_decoder *d = berth_spdy_decoder_new();
    _cleanup_buf_ struct berth_buf wire = BERTH_BUF_INIT;
    struct berth_spdy_frame f;
    z_stream zs;

    (void)state;
    go_deflate_init(&zs);
    for (uint32_t id = 1; id <= 3; id += 2) {
        _cleanup_buf_ struct berth_buf raw = BERTH_BUF_INIT;
        _cleanup_buf_ struct berth_buf comp = BERTH_BUF_INIT;
        const char *type = id == 1 ? "error" : "stdout";
        uint8_t fixed[10] = {0, 0, 0, (uint8_t)id, 0, 0, 0, 0, 0x20, 0};

        raw32(&raw, 2);
        raw_str(&raw, "streamType", 10);
        raw_str(&raw, type, strlen(type));
        raw_str(&raw, "X-Multi", 7);
        raw_str(&raw, "a\0b", 3);
        go_deflate_block(&zs, berth_buf_head(&raw), berth_buf_pending(&raw), &comp);
        if (id == 1)
            assert_memory_equal(berth_buf_head(&comp), "\x78\xf9\xe3\xc6\xa7\xc2", 6);
        assert_memory_equal(berth_buf_head(&comp) + berth_buf_pending(&comp) - 4, "\0\0\xff\xff",
                            4);
        ctrl_hdr(&wire, 3, BERTH_SPDY_SYN_STREAM, 0, (uint32_t)(10 + berth_buf_pending(&comp)));
        berth_buf_append(&wire, fixed, sizeof(fixed));
        berth_buf_append(&wire, berth_buf_head(&comp), berth_buf_pending(&comp));
    }
    deflateEnd(&zs);
    for (uint32_t id = 1; id <= 3; id += 2) {
        decode_one(d, &wire, &f, BERTH_SPDY_SYN_STREAM);
        assert_int_equal(f.stream_id, id);
        assert_int_equal(f.priority, 1);
        assert_string_equal(f.headers[0].name, "streamtype");
        assert_header(&f, "streamtype", id == 1 ? "error" : "stdout");
        assert_string_equal(f.headers[1].name, "x-multi");
        assert_int_equal(f.headers[1].value_len, 3);
        assert_memory_equal(f.headers[1].value, "a\0b", 4);
    }
}

/* Every prefix of every frame is "not yet" (0, no error), then the whole frame decodes. */
static void test_spdy_decode_incomplete_at_every_split(void **state)
{
    _cleanup_enc_ struct berth_spdy_encoder *e = berth_spdy_encoder_new();
    _cleanup_dec_ struct berth_spdy_decoder *d = berth_spdy_decoder_new();
    _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
    struct berth_spdy_header h[] = {{"streamtype", "stdin", 0}};
    const uint32_t ids[] = {4}, vals[] = {1};
    static const enum berth_spdy_type types[] = {
        BERTH_SPDY_SYN_STREAM, BERTH_SPDY_SYN_REPLY, BERTH_SPDY_HEADERS,       BERTH_SPDY_DATA,
        BERTH_SPDY_RST_STREAM, BERTH_SPDY_SETTINGS,  BERTH_SPDY_WINDOW_UPDATE, BERTH_SPDY_PING,
        BERTH_SPDY_GOAWAY,     BERTH_SPDY_SYN_STREAM};
    size_t k = 0;

    (void)state;
    berth_spdy_encode_syn_stream(e, &b, 1, 0, 0, 0, h, 1);
    berth_spdy_encode_syn_reply(e, &b, 1, 0, NULL, 0);
    berth_spdy_encode_headers(e, &b, 1, 0, h, 1);
    berth_spdy_encode_data(&b, 1, 0, "0123456789", 10);
    berth_spdy_encode_rst_stream(&b, 1, BERTH_SPDY_CANCEL);
    berth_spdy_encode_settings(&b, ids, vals, 1);
    berth_spdy_encode_window_update(&b, 1, 10);
    berth_spdy_encode_ping(&b, 1);
    berth_spdy_encode_goaway(&b, 1, 0);
    berth_spdy_encode_syn_stream(e, &b, 3, 0, 0, 0, h, 1);
    while (berth_buf_pending(&b) > 0) {
        struct berth_spdy_frame f;
        struct berth_err *err = NULL;
        const uint8_t *p = berth_buf_head(&b);
        ssize_t whole = 0;

        /* the frame's size, from its header */
        whole = 8 + (ssize_t)((uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7]);
        for (size_t n = 0; n < (size_t)whole; n++) {
            assert_int_equal(berth_spdy_decode(d, p, n, &f, &err), 0);
            assert_null(err);
        }
        assert_int_equal(berth_spdy_decode(d, p, berth_buf_pending(&b), &f, &err), whole);
        assert_null(err);
        assert_int_equal(f.type, types[k++]);
        if (f.type == BERTH_SPDY_SYN_STREAM || f.type == BERTH_SPDY_HEADERS)
            assert_header(&f, "streamtype", "stdin");
        berth_buf_consume(&b, (size_t)whole);
    }
    assert_int_equal(k, BERTH_N(types));
}

/* Decodes frame (a fresh decoder) and expects -1 INVALID_ARGUMENT with a message; the decoder
 * then refuses to go on. */
static void expect_malformed(const struct berth_buf *frame, size_t max_data, const char *what)
{
    _cleanup_dec_ struct berth_spdy_decoder *d = berth_spdy_decoder_new();
    struct berth_err *err = NULL;
    struct berth_spdy_frame f;
    ssize_t r;

    if (max_data)
        berth_spdy_decoder_set_max_data(d, max_data);
    r = berth_spdy_decode(d, berth_buf_head(frame), berth_buf_pending(frame), &f, &err);
    if (r != -1)
        fail_msg("%s: decode returned %zd, want -1", what, r);
    assert_non_null(err);
    assert_non_null(err->msg);
    assert_true(strlen(err->msg) > 0);
    assert_null(f.headers);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(
        berth_spdy_decode(d, berth_buf_head(frame), berth_buf_pending(frame), &f, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

/* A control frame: version 3 unless given, payload words. */
static void expect_bad_ctrl(uint16_t version, uint16_t type, uint8_t flags, uint32_t length,
                            const uint32_t *words, size_t n, const char *what)
{
    _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;

    ctrl_hdr(&b, version, type, flags, length);
    for (size_t i = 0; i < n; i++)
        raw32(&b, words[i]);
    expect_malformed(&b, 0, what);
}

static void test_spdy_decode_malformed_control_frames(void **state)
{
    const uint32_t w2[] = {1, 5}, zero2[] = {0, 0}, w1[] = {1}, w0[] = {0};
    const uint32_t id0_st[] = {0, 5}, id_st0[] = {1, 0};
    const uint32_t settings_bad[] = {2, 4, 1};

    (void)state;
    expect_bad_ctrl(2, BERTH_SPDY_RST_STREAM, 0, 8, w2, 2, "version 2");
    expect_bad_ctrl(0x7fff, BERTH_SPDY_PING, 0, 4, w1, 1, "version 0x7fff");
    expect_bad_ctrl(3, 10, 0, 8, w2, 2, "CREDENTIAL (type 10)");
    expect_bad_ctrl(3, 5, 0, 0, NULL, 0, "NOOP (type 5)");
    expect_bad_ctrl(3, 0, 0, 8, w2, 2, "control type 0");
    expect_bad_ctrl(3, 0xffff, 0, 0, NULL, 0, "control type 0xffff");
    /* lengths that do not fit the type */
    expect_bad_ctrl(3, BERTH_SPDY_RST_STREAM, 0, 4, w1, 1, "RST length 4");
    expect_bad_ctrl(3, BERTH_SPDY_RST_STREAM, 0, 12, settings_bad, 3, "RST length 12");
    expect_bad_ctrl(3, BERTH_SPDY_PING, 0, 8, w2, 2, "PING length 8");
    expect_bad_ctrl(3, BERTH_SPDY_SYN_STREAM, 0, 8, w2, 2, "SYN_STREAM length 8");
    expect_bad_ctrl(3, BERTH_SPDY_SYN_REPLY, 0, 0, NULL, 0, "SYN_REPLY length 0");
    expect_bad_ctrl(3, BERTH_SPDY_HEADERS, 0, 2, NULL, 0, "HEADERS length 2");
    expect_bad_ctrl(3, BERTH_SPDY_SETTINGS, 0, 0, NULL, 0, "SETTINGS length 0");
    expect_bad_ctrl(3, BERTH_SPDY_SETTINGS, 0, 8, w2, 2, "SETTINGS length 8");
    /* RST_STREAM */
    expect_bad_ctrl(3, BERTH_SPDY_RST_STREAM, 0, 8, id_st0, 2, "RST status 0");
    expect_bad_ctrl(3, BERTH_SPDY_RST_STREAM, 0, 8, id0_st, 2, "RST stream 0");
    /* PING */
    expect_bad_ctrl(3, BERTH_SPDY_PING, 1, 4, w1, 1, "PING with flags");
    expect_bad_ctrl(3, BERTH_SPDY_PING, 0, 4, w0, 1, "PING id 0");
    /* GOAWAY, WINDOW_UPDATE */
    expect_bad_ctrl(3, BERTH_SPDY_GOAWAY, 0, 4, w1, 1, "GOAWAY length 4");
    expect_bad_ctrl(3, BERTH_SPDY_GOAWAY, 0, 12, settings_bad, 3, "GOAWAY length 12");
    expect_bad_ctrl(3, BERTH_SPDY_GOAWAY, 1, 8, zero2, 2, "GOAWAY with flags");
    expect_bad_ctrl(3, BERTH_SPDY_WINDOW_UPDATE, 0, 4, w1, 1, "WINDOW_UPDATE length 4");
    expect_bad_ctrl(3, BERTH_SPDY_WINDOW_UPDATE, 0x80, 8, w2, 2, "WINDOW_UPDATE with flags");
    /* SETTINGS whose count disagrees with its length */
    expect_bad_ctrl(3, BERTH_SPDY_SETTINGS, 0, 12, settings_bad, 3, "SETTINGS count 2 in 1");
    expect_bad_ctrl(3, BERTH_SPDY_SETTINGS, 0, 4, w1, 1, "SETTINGS count 1 in 0");
}

static void test_spdy_decode_stream_id_zero(void **state)
{
    _cleanup_enc_ struct berth_spdy_encoder *e = berth_spdy_encoder_new();
    _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;

    (void)state;
    berth_spdy_encode_data(&b, 0, 0, "x", 1);
    expect_malformed(&b, 0, "DATA stream 0");
    berth_buf_clear(&b);
    berth_spdy_encode_data(&b, 0x80000000u, BERTH_SPDY_FLAG_FIN, NULL, 0);
    expect_malformed(&b, 0, "DATA stream 0 (masked)");
    berth_buf_clear(&b);
    berth_spdy_encode_syn_stream(e, &b, 0, 0, 0, 0, NULL, 0);
    expect_malformed(&b, 0, "SYN_STREAM stream 0");
    berth_buf_clear(&b);
    berth_spdy_encode_syn_reply(e, &b, 0, 0, NULL, 0);
    expect_malformed(&b, 0, "SYN_REPLY stream 0");
    berth_buf_clear(&b);
    berth_spdy_encode_headers(e, &b, 0, 0, NULL, 0);
    expect_malformed(&b, 0, "HEADERS stream 0");
}

static void test_spdy_decode_data_over_max(void **state)
{
    _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
    _cleanup_dec_ struct berth_spdy_decoder *d = berth_spdy_decoder_new();
    static const uint8_t big[8] = {0, 0, 0, 1, 0, 0xff, 0xff, 0xff};
    struct berth_spdy_frame f;
    struct berth_err *err = NULL;

    (void)state;
    /* By default 2^24-1 is allowed: only the header is here, so "not yet". */
    assert_int_equal(berth_spdy_decode(d, big, sizeof(big), &f, &err), 0);
    assert_null(err);
    /* With a lower max the header alone is enough to refuse. */
    berth_buf_append(&b, big, sizeof(big));
    expect_malformed(&b, 16 << 10, "DATA 2^24-1 over max 16 KiB");
    berth_buf_clear(&b);
    berth_spdy_encode_data(&b, 1, 0, "0123456789", 10);
    expect_malformed(&b, 9, "DATA 10 over max 9");
}

/* Header blocks that compress fine but do not parse, or do not inflate. */
static void test_spdy_decode_malformed_header_blocks(void **state)
{
    _cleanup_buf_ struct berth_buf raw = BERTH_BUF_INIT;
    _cleanup_buf_ struct berth_buf frame = BERTH_BUF_INIT;
    char *bomb = NULL;

#define CASE(what, build)                                                                          \
    do {                                                                                           \
        berth_buf_clear(&raw);                                                                     \
        berth_buf_clear(&frame);                                                                   \
        build;                                                                                     \
        syn_reply_with_raw_block(&frame, &raw);                                                    \
        expect_malformed(&frame, 0, what);                                                         \
    } while (0)

    (void)state;
    CASE("empty block", (void)0);
    CASE("count cut short", berth_buf_append(&raw, "\0\0", 2));
    CASE("count 2, one pair", (raw32(&raw, 2), raw_str(&raw, "a", 1), raw_str(&raw, "b", 1)));
    CASE("pair cut in value length",
         (raw32(&raw, 1), raw_str(&raw, "a", 1), berth_buf_append(&raw, "\0", 1)));
    CASE("name length past the block",
         (raw32(&raw, 1), raw32(&raw, 1000), berth_buf_append(&raw, "abc", 3)));
    CASE("value length past the block",
         (raw32(&raw, 1), raw_str(&raw, "a", 1), raw32(&raw, 0xffffffffu)));
    CASE("count 0xffffffff", raw32(&raw, 0xffffffffu));
    CASE("257 pairs", ({
             raw32(&raw, 257);
             for (int i = 0; i < 257; i++) {
                 raw_str(&raw, "n", 1);
                 raw_str(&raw, "v", 1);
             }
         }));
    CASE("empty name", (raw32(&raw, 1), raw_str(&raw, "", 0), raw_str(&raw, "v", 1)));
    CASE("bytes after the last pair",
         (raw32(&raw, 1), raw_str(&raw, "a", 1), raw_str(&raw, "b", 1), raw32(&raw, 0)));
    /* A 100 KiB value compresses to a few hundred bytes: refused once past 64 KiB. */
    bomb = calloc(100 << 10, 1);
    assert_non_null(bomb);
    CASE("inflates past 64 KiB",
         (raw32(&raw, 1), raw_str(&raw, "a", 1), raw_str(&raw, bomb, 100 << 10)));
    assert_true(berth_buf_pending(&frame) < 1024);
    /* Exactly 64 KiB inflated is still fine. */
    {
        _cleanup_dec_ struct berth_spdy_decoder *d = berth_spdy_decoder_new();
        struct berth_spdy_frame f;

        berth_buf_clear(&raw);
        berth_buf_clear(&frame);
        raw32(&raw, 1);
        raw_str(&raw, "a", 1);
        raw_str(&raw, bomb, 65536 - 4 - 4 - 1 - 4);
        assert_int_equal(berth_buf_pending(&raw), 65536);
        syn_reply_with_raw_block(&frame, &raw);
        decode_one(d, &frame, &f, BERTH_SPDY_SYN_REPLY);
        assert_int_equal(f.headers[0].value_len, 65536 - 13);
    }
    free(bomb);
#undef CASE

    /* Bytes that are not a zlib stream, and a stream primed with another dictionary. */
    {
        z_stream zs;
        static const uint8_t other_dict[] = "not the spdy dictionary";
        uint8_t raw4[4] = {0, 0, 0, 0};
        _cleanup_buf_ struct berth_buf comp = BERTH_BUF_INIT;

        berth_buf_clear(&frame);
        ctrl_hdr(&frame, 3, BERTH_SPDY_SYN_REPLY, 0, 4 + 8);
        raw32(&frame, 1);
        berth_buf_append(&frame, "\x12\x34\x56\x78\x9a\xbc\xde\xf0", 8);
        expect_malformed(&frame, 0, "not zlib");

        memset(&zs, 0, sizeof(zs));
        assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
        assert_int_equal(deflateSetDictionary(&zs, other_dict, sizeof(other_dict)), Z_OK);
        go_deflate_block(&zs, raw4, 4, &comp);
        deflateEnd(&zs);
        berth_buf_clear(&frame);
        ctrl_hdr(&frame, 3, BERTH_SPDY_SYN_REPLY, 0, (uint32_t)(4 + berth_buf_pending(&comp)));
        raw32(&frame, 1);
        berth_buf_append(&frame, berth_buf_head(&comp), berth_buf_pending(&comp));
        expect_malformed(&frame, 0, "other dictionary");

        /* A finished zlib stream (Z_FINISH): no later block could follow. */
        berth_buf_clear(&comp);
        memset(&zs, 0, sizeof(zs));
        go_deflate_init(&zs);
        {
            uint8_t *p = berth_buf_reserve(&comp, 256);
            zs.next_in = raw4;
            zs.avail_in = 4;
            zs.next_out = p;
            zs.avail_out = 256;
            assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
            berth_buf_commit(&comp, 256 - zs.avail_out);
        }
        deflateEnd(&zs);
        berth_buf_clear(&frame);
        ctrl_hdr(&frame, 3, BERTH_SPDY_SYN_REPLY, 0, (uint32_t)(4 + berth_buf_pending(&comp)));
        raw32(&frame, 1);
        berth_buf_append(&frame, berth_buf_head(&comp), berth_buf_pending(&comp));
        expect_malformed(&frame, 0, "finished zlib stream");
    }
}

/* Random bytes, and valid frames with random corruption, never crash (run under ASan). */
static void test_spdy_decode_garbage_never_crashes(void **state)
{
    _cleanup_enc_ struct berth_spdy_encoder *e = berth_spdy_encoder_new();
    _cleanup_buf_ struct berth_buf valid = BERTH_BUF_INIT;
    struct berth_spdy_header h[] = {{"streamtype", "data", 0}, {"port", "80", 0}};
    uint8_t buf[4096];
    unsigned seed = 12345;

    (void)state;
    berth_spdy_encode_syn_stream(e, &valid, 1, 0, 0, 0, h, 2);
    berth_spdy_encode_syn_stream(e, &valid, 3, 0, 0, 0, h, 2);
    berth_spdy_encode_ping(&valid, 1);
    berth_spdy_encode_data(&valid, 3, 0, "abc", 3);
    for (int iter = 0; iter < 20000; iter++) {
        _cleanup_dec_ struct berth_spdy_decoder *d = berth_spdy_decoder_new();
        size_t len;

        if (iter % 2 == 0) {
            len = (size_t)rand_r(&seed) % sizeof(buf);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rand_r(&seed);
            if (iter % 4 == 0 && len >= 8) {
                /* a plausible control header so the payload checks run */
                buf[0] = 0x80;
                buf[1] = 3;
                buf[2] = 0;
                buf[3] = (uint8_t)(rand_r(&seed) % 11);
                buf[5] = (uint8_t)((len - 8) >> 16);
                buf[6] = (uint8_t)((len - 8) >> 8);
                buf[7] = (uint8_t)(len - 8);
            }
        } else {
            len = berth_buf_pending(&valid);
            memcpy(buf, berth_buf_head(&valid), len);
            for (int k = rand_r(&seed) % 4; k >= 0; k--)
                buf[(size_t)rand_r(&seed) % len] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
            len -= (size_t)rand_r(&seed) % 3;
        }
        for (size_t off = 0; off < len;) {
            struct berth_spdy_frame f;
            struct berth_err *err = NULL;
            ssize_t r = berth_spdy_decode(d, buf + off, len - off, &f, &err);

            if (r <= 0) {
                assert_true(r == 0 ? err == NULL : err != NULL);
                berth_err_free(&err);
                break;
            }
            assert_true((size_t)r <= len - off);
            for (size_t i = 0; i < f.n_headers; i++) {
                assert_true(strlen(f.headers[i].name) > 0);
                assert_int_equal(f.headers[i].value[f.headers[i].value_len], '\0');
            }
            off += (size_t)r;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spdy_dictionary_length_and_hashes),
        cmocka_unit_test(test_spdy_roundtrip_every_frame_type),
        cmocka_unit_test(test_spdy_fixed_frames_bytes),
        cmocka_unit_test(test_spdy_header_frames_share_zlib_state),
        cmocka_unit_test(test_spdy_decode_captured_syn_replies),
        cmocka_unit_test(test_spdy_decode_captured_data_rst_goaway),
        cmocka_unit_test(test_spdy_syn_stream_names_lowercased),
        cmocka_unit_test(test_spdy_decode_go_level9_stream),
        cmocka_unit_test(test_spdy_decode_incomplete_at_every_split),
        cmocka_unit_test(test_spdy_decode_malformed_control_frames),
        cmocka_unit_test(test_spdy_decode_stream_id_zero),
        cmocka_unit_test(test_spdy_decode_data_over_max),
        cmocka_unit_test(test_spdy_decode_malformed_header_blocks),
        cmocka_unit_test(test_spdy_decode_garbage_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
