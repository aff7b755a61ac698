/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: WebSocket client frames (services/streaming/websocket.c) decoded as the
 * streaming server does, in a loop over the input; each decoded frame is encoded again as a
 * client would (masked) and must decode to the same opcode, fin and payload. */
#include "tests/fuzz/fuzz.h"

#include "services/streaming/websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t *buf = malloc(size ? size : 1);
    struct berth_err *err = NULL;
    size_t pos = 0;
    char *key = fuzz_str(data, size < 64 ? size : 64), *accept;

    if (size)
        memcpy(buf, data, size); /* decode unmasks in place */
    while (pos < size) {
        struct berth_ws_frame f, g;
        struct berth_buf out = {0};
        ssize_t n = berth_ws_decode(buf + pos, size - pos, 1 << 20, &f, &err);
        if (n < 0) {
            FUZZ_CHECK(err->code == BERTH_E_INVALID_ARGUMENT);
            fuzz_err_consume(&err);
            break;
        }
        if (n == 0)
            break;
        FUZZ_CHECK((size_t)n <= size - pos && f.payload + f.len <= buf + pos + (size_t)n);
        berth_ws_encode_masked(&out, f.opcode, f.fin, f.payload, f.len, mask);
        FUZZ_CHECK(berth_ws_decode(out.data + out.off, berth_buf_pending(&out), 1 << 20, &g,
                                   &err) == (ssize_t)berth_buf_pending(&out));
        FUZZ_CHECK(g.opcode == f.opcode && g.fin == f.fin && g.len == f.len &&
                   memcmp(g.payload, f.payload, f.len) == 0);
        berth_buf_clear(&out);
        pos += (size_t)n;
    }
    /* The handshake key is whatever the client sent. */
    accept = berth_ws_accept(key);
    FUZZ_CHECK(strlen(accept) == 28); /* base64 of 20 bytes */
    free(accept);
    free(key);
    free(buf);
    return 0;
}
