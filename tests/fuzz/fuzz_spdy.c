/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the SPDY/3.1 decoder of the CRI streaming server (services/streaming/spdy.c),
 * header blocks inflated through one zlib stream per connection. The input is the byte stream
 * a client sends; frames are decoded until the decoder needs more bytes or refuses one. Every
 * header block decoded is encoded again (our encoder) and must decode to the same headers. */
#include "tests/fuzz/fuzz.h"

#include "services/streaming/spdy.h"

static void roundtrip(struct berth_spdy_encoder *e, struct berth_spdy_decoder *d,
                      const struct berth_spdy_frame *f)
{
    struct berth_buf out = {0};
    struct berth_spdy_frame g;
    struct berth_err *err = NULL;
    ssize_t n;

    switch (f->type) {
    case BERTH_SPDY_SYN_STREAM:
        berth_spdy_encode_syn_stream(e, &out, f->stream_id, f->assoc_id, f->priority, f->flags,
                                     f->headers, f->n_headers);
        break;
    case BERTH_SPDY_SYN_REPLY:
        berth_spdy_encode_syn_reply(e, &out, f->stream_id, f->flags, f->headers, f->n_headers);
        break;
    default:
        berth_spdy_encode_headers(e, &out, f->stream_id, f->flags, f->headers, f->n_headers);
        break;
    }
    n = berth_spdy_decode(d, berth_buf_head(&out), berth_buf_pending(&out), &g, &err);
    if (n < 0)
        fprintf(stderr, "re-encoded frame refused: %s\n", err->msg);
    FUZZ_CHECK(n == (ssize_t)berth_buf_pending(&out));
    FUZZ_CHECK(g.type == f->type && g.stream_id == f->stream_id && g.n_headers == f->n_headers);
    for (size_t i = 0; i < g.n_headers; i++) {
        FUZZ_CHECK(strcmp(g.headers[i].name, f->headers[i].name) == 0);
        FUZZ_CHECK(g.headers[i].value_len == f->headers[i].value_len);
        FUZZ_CHECK(memcmp(g.headers[i].value, f->headers[i].value, g.headers[i].value_len) == 0);
    }
    berth_buf_clear(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berth_spdy_decoder *d = berth_spdy_decoder_new();
    struct berth_spdy_decoder *d2 = berth_spdy_decoder_new();
    struct berth_spdy_encoder *e = berth_spdy_encoder_new();
    struct berth_err *err = NULL;
    size_t pos = 0;

    while (pos < size) {
        struct berth_spdy_frame f;
        ssize_t n = berth_spdy_decode(d, data + pos, size - pos, &f, &err);
        if (n < 0) {
            FUZZ_CHECK(err->code == BERTH_E_INVALID_ARGUMENT);
            fuzz_err_consume(&err);
            break;
        }
        if (n == 0)
            break;
        FUZZ_CHECK((size_t)n <= size - pos);
        if (f.type == BERTH_SPDY_DATA) {
            FUZZ_CHECK(f.data + f.len <= data + size && f.stream_id != 0);
        } else if (f.type == BERTH_SPDY_SYN_STREAM || f.type == BERTH_SPDY_SYN_REPLY ||
                   f.type == BERTH_SPDY_HEADERS) {
            FUZZ_CHECK(f.n_headers <= BERTH_SPDY_MAX_HEADERS);
            for (size_t i = 0; i < f.n_headers; i++)
                FUZZ_CHECK(*f.headers[i].name &&
                           berth_spdy_frame_header(&f, f.headers[i].name) != NULL);
            roundtrip(e, d2, &f);
        }
        pos += (size_t)n;
    }
    berth_spdy_encoder_free(e);
    berth_spdy_decoder_free(d2);
    berth_spdy_decoder_free(d);
    return 0;
}
