/* SPDX-License-Identifier: Apache-2.0 */
/* Ties a listing's filter to its call (see services.h): a stopped filter matches nothing, so
 * the listing runs out quickly and the handler answers with the reason instead. */
#include "lib/filters.h"
#include "services/services.h"

static bool call_done_cb(void *arg)
{
    return berth_svc_ctx_done(arg);
}

void berth_svc_filter_watch(struct berth_filter *f, const struct berth_svc_ctx *ctx)
{
    berth_filter_set_stop(f, call_done_cb, (void *)ctx);
}

int berth_svc_filter_check(const struct berth_filter *f, const struct berth_svc_ctx *ctx,
                           const char *what, struct berth_err **err)
{
    if (!berth_filter_stopped(f))
        return 0;
    /* ctx_done does not say which it was; a passed deadline is the one we can see here. */
    if (ctx->deadline_mono_ns && berth_mono_ns() >= ctx->deadline_mono_ns)
        return berth_err_set(err, BERTH_E_DEADLINE_EXCEEDED, 0,
                             "deadline exceeded while listing %s", what);
    return berth_err_set(err, BERTH_E_CANCELED, 0, "call cancelled while listing %s", what);
}
