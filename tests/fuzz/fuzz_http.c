/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the HTTP/1.1 request head parser of the CRI streaming server
 * (services/streaming/http.c) and the protocol negotiation run on what it parsed. The parse
 * must give the same answer whether the head arrives whole or cut at any point (0 = wait). */
#include "tests/fuzz/fuzz.h"

#include "services/streaming/http.h"

#define MAX_HEAD 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const server_protos[] = {"v4.channel.k8s.io", "v3.channel.k8s.io",
                                                "channel.k8s.io", NULL};
    struct berth_http_request req = {0};
    struct berth_err *err = NULL;
    ssize_t n;

    n = berth_http_request_parse(data, size, MAX_HEAD, &req, &err);
    if (n < 0) {
        FUZZ_CHECK(err->code == BERTH_E_INVALID_ARGUMENT);
        fuzz_err_consume(&err);
        return 0;
    }
    if (n == 0)
        return 0;
    FUZZ_CHECK((size_t)n <= size && req.method && req.path && req.stream_protocols &&
               req.ws_protocols);
    (void)berth_http_negotiate(req.stream_protocols, server_protos);
    (void)berth_http_negotiate(req.ws_protocols, server_protos);
    if (req.upgrade)
        (void)berth_http_has_token(req.upgrade, strlen(req.upgrade), "spdy/3.1");
    berth_http_request_clear(&req);
    /* Any strict prefix of a complete head is "not yet". */
    for (size_t cut = 0; cut < (size_t)n; cut += 1 + cut / 4) {
        struct berth_http_request part = {0};
        ssize_t m = berth_http_request_parse(data, cut, MAX_HEAD, &part, &err);
        if (m != 0) {
            fprintf(stderr, "prefix of %zu of a %zd-byte head: %zd\n", cut, n, m);
            FUZZ_CHECK(!"a prefix of a valid head did not wait for more");
        }
    }
    return 0;
}
