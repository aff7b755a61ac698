/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error object shared by every module: a class (mapped 1:1 to a gRPC status code at the
 * server edge), an optional errno and a message chain. Functions that can fail take
 * `struct berth_err **err` last, return -1 (or NULL) and set *err only on failure.
 */
#ifndef BERTH_LIB_ERR_H
#define BERTH_LIB_ERR_H

#include <stdarg.h>

enum berth_errc {
    BERTH_E_OK = 0,
    BERTH_E_INTERNAL = 1, /* gRPC UNKNOWN/INTERNAL */
    BERTH_E_NOT_FOUND,
    BERTH_E_ALREADY_EXISTS,
    BERTH_E_INVALID_ARGUMENT,
    BERTH_E_FAILED_PRECONDITION,
    BERTH_E_UNAVAILABLE,
    BERTH_E_RESOURCE_EXHAUSTED,
    BERTH_E_NOT_IMPLEMENTED,
    BERTH_E_CANCELED,
    BERTH_E_DEADLINE_EXCEEDED,
    BERTH_E_OUT_OF_RANGE,
    BERTH_E_DATA_LOSS,
    BERTH_E_PERMISSION_DENIED,
    BERTH_E__MAX
};

struct berth_err {
    enum berth_errc code;
    int sys_errno; /* 0 when no errno applies */
    char *msg;     /* never NULL once set */
};

/* The English description of errnum ("No such file or directory"), as strerror(3) gives it in
 * the C locale, or "errno <N>" for a value glibc doesn't know. Use it instead of strerror: it
 * never loads locale/gettext state (that machinery alone costs berth-shim ~100 KiB). The
 * string is static, or thread-local for the fallback (valid until the thread's next call). */
const char *berth_strerror(int errnum);

/* Sets *err (if err is non-NULL and *err is NULL) and returns -1. A non-zero sys_errno appends
 * ": <berth_strerror>" to the message. */
int berth_err_set(struct berth_err **err, enum berth_errc code, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefixes "<fmt>: " to an existing error's message; returns -1. No-op if *err is NULL. */
int berth_err_wrap(struct berth_err **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* NULL-safe; resets *err to NULL. */
void berth_err_free(struct berth_err **err);
/* The containerd class text ("not found", "invalid argument", ...) for a code. */
const char *berth_errc_text(enum berth_errc code);
/* Stable upper-case name ("NOT_FOUND") for logs and tests. */
const char *berth_errc_name(enum berth_errc code);
/* Copies an error (used when one failure fans out to several callers). */
struct berth_err *berth_err_dup(const struct berth_err *e);

#endif
