/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small basics every module uses: cleanup attributes (crun/lxc style), ownership-moving
 * macros, allocation that aborts on OOM, byte buffers and wall-clock time.
 */
#ifndef BERTH_LIB_UTIL_H
#define BERTH_LIB_UTIL_H

#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h> /* struct timespec, clockid_t */
#include <stdlib.h>
#include <unistd.h>

#include "lib/err.h"

#define BERTH_N(a) (sizeof(a) / sizeof((a)[0]))

#define _cleanup_(f)    __attribute__((cleanup(f)))
#define _cleanup_free_  _cleanup_(berth_freep)
#define _cleanup_close_ _cleanup_(berth_closep)
#define _cleanup_err_   _cleanup_(berth_err_free)
#define _cleanup_strv_  _cleanup_(berth_strv_freep)

#define DEFINE_CLEANUP(T, fn)                                                                      \
    static inline void fn##p(T *p)                                                                 \
    {                                                                                              \
        if (*p)                                                                                    \
            fn(*p);                                                                                \
    }
#define DEFINE_PB_CLEANUP(T, name)                                                                 \
    static inline void name(T **p)                                                                 \
    {                                                                                              \
        if (*p)                                                                                    \
            protobuf_c_message_free_unpacked(&(*p)->base, NULL);                                   \
    }

#define steal_ptr(p)                                                                               \
    ({                                                                                             \
        __typeof__(p) _t = (p);                                                                    \
        (p) = NULL;                                                                                \
        _t;                                                                                        \
    })
#define steal_fd(fd)                                                                               \
    ({                                                                                             \
        int _t = (fd);                                                                             \
        (fd) = -1;                                                                                 \
        _t;                                                                                        \
    })

static inline void berth_freep(void *p)
{
    free(*(void **)p);
}
static inline void berth_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Appends item to the growable array v holding n elements in room for cap (v, n and cap are
 * lvalues; the room doubles, starting at 16). Aborts on OOM like berth_xrealloc. */
#define berth_vec_push(v, n, cap, item)                                                            \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            (v) = berth_xrealloc((v), (cap) * sizeof(*(v)));                                       \
        }                                                                                          \
        (v)[(n)++] = (item);                                                                       \
    } while (0)

void *berth_xmalloc(size_t n);
void *berth_xcalloc(size_t n, size_t size);
void *berth_xrealloc(void *p, size_t n);
char *berth_xstrdup(const char *s);
char *berth_xstrndup(const char *s, size_t n);
/* write(2) until all of buf is out (EINTR retried). 0, or -1 with errno (EIO for a write that
 * took nothing). */
int berth_write_all(int fd, const void *buf, size_t len);
char *berth_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with a va_list (aborts on allocation failure). */
char *berth_strdup_vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Standard base64 (RFC 4648, with padding) of data; caller-owned. */
char *berth_base64(const void *data, size_t len);
/* Decodes standard padded base64 into *out (NUL-terminated, *len bytes without it); caller
 * frees. -1 for anything else (wrong length, bad character, data after padding). */
int berth_base64_decode(const char *s, unsigned char **out, size_t *len);

/* NULL-terminated string vectors. */
void berth_strv_free(char **v);
static inline void berth_strv_freep(char ***v)
{
    berth_strv_free(*v);
}
size_t berth_strv_len(char *const *v);

/* A byte buffer that owns its data (data may be NULL when len is 0). */
struct berth_bytes {
    uint8_t *data;
    size_t len;
};
void berth_bytes_clear(struct berth_bytes *b);

/* Parses a Go duration ("300ms", "1.5s", "5m", "1h30m"; units ns us µs μs ms s m h) into *ns
 * as Go's time.ParseDuration does (same grammar, same integer arithmetic), except that a sign
 * is refused. Returns -1 for anything else, or past INT64_MAX ns. */
int berth_duration_parse(const char *s, int64_t *ns);

/* Fills buf with n bytes from the kernel's CSPRNG (getrandom), retrying short reads and EINTR.
 * Aborts if the kernel refuses (no getrandom: older than 3.17), which nothing can recover. */
void berth_random(void *buf, size_t n);
/* n random bytes as 2n lower-case hex characters and a NUL into out (2n + 1 bytes). */
void berth_random_hex(char *out, size_t n);

/* Wall-clock time in nanoseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t berth_now_ns(void);
/* Monotonic clock in nanoseconds. */
int64_t berth_mono_ns(void);
/* The time ms milliseconds from now on `clock` (CLOCK_REALTIME, CLOCK_MONOTONIC), as the
 * absolute deadline pthread_cond_timedwait takes. */
struct timespec berth_timespec_in(clockid_t clock, int64_t ms);

bool berth_str_has_prefix(const char *s, const char *prefix);

#endif
