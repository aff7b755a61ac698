/* SPDX-License-Identifier: Apache-2.0 */
/* For service tests: calls a method's handler straight from the real registry with a chosen
 * deadline (berth_server_invoke gives none), so a test can see what a listing does when its
 * call has ended. ctx->call is NULL, so only the deadline counts (berth_svc_ctx_done). */
#ifndef BERTH_TEST_SVC_DEADLINE_H
#define BERTH_TEST_SVC_DEADLINE_H

#include "tests/unit/helpers/berth_test.h"

#include "services/services.h"

/* A CLOCK_MONOTONIC deadline that has already passed (0 would mean "none"). */
#define SVC_DEADLINE_PASSED 1

/* Runs path's handler on req (not packed: handlers take the decoded message) with ns as the
 * namespace and the given deadline. A unary method answers into *out (cleared first); a server
 * stream runs without a stream, so req must be one whose answer sends nothing. */
static inline int svc_call_deadline(struct berth_services *app, const char *path, const char *ns,
                                    const ProtobufCMessage *req, int64_t deadline_mono_ns,
                                    struct berth_bytes *out, struct berth_err **err)
{
    const struct berth_service *const *svcs;
    size_t n = berth_services_all(&svcs);
    const struct berth_method *m = berth_server_find(svcs, n, path, NULL);
    struct berth_svc_ctx ctx = {
        .method = path, .ns = ns, .deadline_mono_ns = deadline_mono_ns, .app = app};

    out->data = NULL;
    out->len = 0;
    assert_non_null(m);
    if (m->kind == BERTH_UNARY)
        return m->unary(&ctx, req, out, err);
    assert_int_equal(m->kind, BERTH_SERVER_STREAM);
    return m->server_stream(&ctx, req, NULL, err);
}

#endif
