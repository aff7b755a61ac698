/* SPDX-License-Identifier: Apache-2.0 */
/* The one table from berth error classes to gRPC status codes, and containerd's message
 * convention: the class text ends the message ("container \"x\": not found"), which ctr strips
 * and re-adds when it turns the status back into an error. */
#include <grpc/status.h> /* grpc_status_code values only */
#include <string.h>

#include "services/server/server.h"

static const struct {
    grpc_status_code code;
    bool suffix; /* containerd appends the class text for these */
} table[BERTH_E__MAX] = {
    [BERTH_E_OK] = {GRPC_STATUS_OK, false},
    [BERTH_E_INTERNAL] = {GRPC_STATUS_UNKNOWN, false},
    [BERTH_E_NOT_FOUND] = {GRPC_STATUS_NOT_FOUND, true},
    [BERTH_E_ALREADY_EXISTS] = {GRPC_STATUS_ALREADY_EXISTS, true},
    [BERTH_E_INVALID_ARGUMENT] = {GRPC_STATUS_INVALID_ARGUMENT, true},
    [BERTH_E_FAILED_PRECONDITION] = {GRPC_STATUS_FAILED_PRECONDITION, true},
    [BERTH_E_UNAVAILABLE] = {GRPC_STATUS_UNAVAILABLE, true},
    [BERTH_E_RESOURCE_EXHAUSTED] = {GRPC_STATUS_RESOURCE_EXHAUSTED, false},
    [BERTH_E_NOT_IMPLEMENTED] = {GRPC_STATUS_UNIMPLEMENTED, false},
    [BERTH_E_CANCELED] = {GRPC_STATUS_CANCELLED, false},
    [BERTH_E_DEADLINE_EXCEEDED] = {GRPC_STATUS_DEADLINE_EXCEEDED, false},
    [BERTH_E_OUT_OF_RANGE] = {GRPC_STATUS_OUT_OF_RANGE, false},
    [BERTH_E_DATA_LOSS] = {GRPC_STATUS_DATA_LOSS, false},
    [BERTH_E_PERMISSION_DENIED] = {GRPC_STATUS_PERMISSION_DENIED, false},
};

int berth_errc_to_grpc(enum berth_errc code)
{
    if ((int)code < 0 || code >= BERTH_E__MAX)
        return GRPC_STATUS_UNKNOWN;
    return table[code].code;
}

char *berth_err_status_message(const struct berth_err *e)
{
    const char *text;
    size_t ml, tl;

    if ((int)e->code < 0 || e->code >= BERTH_E__MAX || !table[e->code].suffix)
        return berth_xstrdup(e->msg);
    text = berth_errc_text(e->code);
    ml = strlen(e->msg);
    tl = strlen(text);
    if (ml >= tl && strcmp(e->msg + ml - tl, text) == 0)
        return berth_xstrdup(e->msg);
    return berth_strdup_printf("%s: %s", e->msg, text);
}
