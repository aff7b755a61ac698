/* SPDX-License-Identifier: Apache-2.0 */
/* The error object (see err.h). Allocation failure aborts: there is no sane recovery. */
#include "lib/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static const struct {
    const char *name, *text;
} classes[BERTH_E__MAX] = {
    [BERTH_E_OK] = {"OK", "ok"},
    [BERTH_E_INTERNAL] = {"INTERNAL", "internal"},
    [BERTH_E_NOT_FOUND] = {"NOT_FOUND", "not found"},
    [BERTH_E_ALREADY_EXISTS] = {"ALREADY_EXISTS", "already exists"},
    [BERTH_E_INVALID_ARGUMENT] = {"INVALID_ARGUMENT", "invalid argument"},
    [BERTH_E_FAILED_PRECONDITION] = {"FAILED_PRECONDITION", "failed precondition"},
    [BERTH_E_UNAVAILABLE] = {"UNAVAILABLE", "unavailable"},
    [BERTH_E_RESOURCE_EXHAUSTED] = {"RESOURCE_EXHAUSTED", "resource exhausted"},
    [BERTH_E_NOT_IMPLEMENTED] = {"NOT_IMPLEMENTED", "not implemented"},
    [BERTH_E_CANCELED] = {"CANCELED", "context canceled"},
    [BERTH_E_DEADLINE_EXCEEDED] = {"DEADLINE_EXCEEDED", "context deadline exceeded"},
    [BERTH_E_OUT_OF_RANGE] = {"OUT_OF_RANGE", "out of range"},
    [BERTH_E_DATA_LOSS] = {"DATA_LOSS", "data loss"},
    [BERTH_E_PERMISSION_DENIED] = {"PERMISSION_DENIED", "permission denied"},
};

const char *berth_strerror(int errnum)
{
    static _Thread_local char unknown[sizeof("errno -2147483648")];
    const char *desc = strerrordesc_np(errnum);

    if (desc)
        return desc;
    snprintf(unknown, sizeof(unknown), "errno %d", errnum);
    return unknown;
}

const char *berth_errc_text(enum berth_errc code)
{
    if ((int)code < 0 || code >= BERTH_E__MAX)
        return "unknown";
    return classes[code].text;
}

const char *berth_errc_name(enum berth_errc code)
{
    if ((int)code < 0 || code >= BERTH_E__MAX)
        return "UNKNOWN";
    return classes[code].name;
}

int berth_err_set(struct berth_err **err, enum berth_errc code, int sys_errno, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;
    struct berth_err *e;

    if (!err || *err)
        return -1; /* keep the first (innermost) error */
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    if (sys_errno) {
        char *full = berth_strdup_printf("%s: %s", msg, berth_strerror(sys_errno));
        free(msg);
        msg = full;
    }
    e = berth_xmalloc(sizeof(*e));
    e->code = code;
    e->sys_errno = sys_errno;
    e->msg = msg;
    *err = e;
    return -1;
}

int berth_err_wrap(struct berth_err **err, const char *fmt, ...)
{
    va_list ap;
    char *prefix = NULL, *msg;

    if (!err || !*err)
        return -1;
    va_start(ap, fmt);
    if (vasprintf(&prefix, fmt, ap) < 0)
        abort();
    va_end(ap);
    msg = berth_strdup_printf("%s: %s", prefix, (*err)->msg);
    free(prefix);
    free((*err)->msg);
    (*err)->msg = msg;
    return -1;
}

void berth_err_free(struct berth_err **err)
{
    if (!err || !*err)
        return;
    free((*err)->msg);
    free(*err);
    *err = NULL;
}

struct berth_err *berth_err_dup(const struct berth_err *e)
{
    struct berth_err *d;

    if (!e)
        return NULL;
    d = berth_xmalloc(sizeof(*d));
    d->code = e->code;
    d->sys_errno = e->sys_errno;
    d->msg = berth_xstrdup(e->msg);
    return d;
}
