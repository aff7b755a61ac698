/* SPDX-License-Identifier: Apache-2.0 */
/* The one table from berth error classes to gRPC status codes, and containerd's message
 * convention: the class text ends the message ("container \"x\": not found"), which ctr strips
 * and re-adds when it turns the status back into an error. */
#include <stdbool.h>
#include <string.h>

#include "lib/status.h"
#include "lib/util.h"

static const struct {
    enum berth_grpc_code code;
    bool suffix; /* containerd appends the class text for these */
} table[BERTH_E__MAX] = {
    [BERTH_E_OK] = {BERTH_GRPC_OK, false},
    [BERTH_E_INTERNAL] = {BERTH_GRPC_UNKNOWN, false},
    [BERTH_E_NOT_FOUND] = {BERTH_GRPC_NOT_FOUND, true},
    [BERTH_E_ALREADY_EXISTS] = {BERTH_GRPC_ALREADY_EXISTS, true},
    [BERTH_E_INVALID_ARGUMENT] = {BERTH_GRPC_INVALID_ARGUMENT, true},
    [BERTH_E_FAILED_PRECONDITION] = {BERTH_GRPC_FAILED_PRECONDITION, true},
    [BERTH_E_UNAVAILABLE] = {BERTH_GRPC_UNAVAILABLE, true},
    [BERTH_E_RESOURCE_EXHAUSTED] = {BERTH_GRPC_RESOURCE_EXHAUSTED, false},
    [BERTH_E_NOT_IMPLEMENTED] = {BERTH_GRPC_UNIMPLEMENTED, false},
    [BERTH_E_CANCELED] = {BERTH_GRPC_CANCELLED, false},
    [BERTH_E_DEADLINE_EXCEEDED] = {BERTH_GRPC_DEADLINE_EXCEEDED, false},
    [BERTH_E_OUT_OF_RANGE] = {BERTH_GRPC_OUT_OF_RANGE, false},
    [BERTH_E_DATA_LOSS] = {BERTH_GRPC_DATA_LOSS, false},
    [BERTH_E_PERMISSION_DENIED] = {BERTH_GRPC_PERMISSION_DENIED, false},
};

const char *berth_grpc_code_name(int grpc_code)
{
    static const char *const names[BERTH_GRPC_N_CODES] = {
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    };

    if (grpc_code < 0 || grpc_code >= BERTH_GRPC_N_CODES)
        return "Unknown";
    return names[grpc_code];
}

int berth_errc_to_grpc(enum berth_errc code)
{
    if ((int)code < 0 || code >= BERTH_E__MAX)
        return BERTH_GRPC_UNKNOWN;
    return table[code].code;
}

enum berth_errc berth_grpc_to_errc(int grpc_code)
{
    /* UNKNOWN and INTERNAL both come back as INTERNAL, so search rather than invert. */
    if (grpc_code == BERTH_GRPC_UNKNOWN)
        return BERTH_E_INTERNAL;
    for (int i = 0; i < BERTH_E__MAX; i++)
        if ((int)table[i].code == grpc_code)
            return (enum berth_errc)i;
    return BERTH_E_INTERNAL;
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
