/* SPDX-License-Identifier: Apache-2.0 */
/* Log sink: "time level subsys message" on one line, written with a single write(2) so lines
 * from concurrent threads never interleave. */
#include "lib/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/err.h"

static _Atomic int current_level = BERTH_LOG_INFO;

static const char *const names[] = {"trace", "debug", "info", "warn", "error", "fatal"};

int berth_log_level_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcasecmp(s, "warning") == 0)
        return BERTH_LOG_WARN;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

void berth_log_set_level(enum berth_log_level lvl)
{
    atomic_store(&current_level, (int)lvl);
}

bool berth_log_enabled(enum berth_log_level lvl)
{
    return (int)lvl >= atomic_load(&current_level);
}

static const char hex[] = "0123456789abcdef";

/* One write(2): lines from concurrent threads never interleave. */
static void write_all(const char *buf, size_t len)
{
    if (write(STDERR_FILENO, buf, len) < 0) {
        /* nowhere left to report it */
    }
}

/* Writes v as exactly width decimal digits (zero-padded) at p; returns p + width. */
static char *put_digits(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

void berth_log_format_time(int64_t sec, long nsec, char buf[BERTH_LOG_TIME_MAX])
{
    int64_t days = sec / 86400, rem = sec % 86400, era, y;
    unsigned doe, yoe, doy, mp, d, m;
    uint64_t uy;
    int ny;
    char *p = buf;

    if (rem < 0) {
        rem += 86400;
        days--;
    }
    /* civil_from_days (H. Hinnant): eras of 400 years starting on 0000-03-01. */
    days += 719468;
    era = (days >= 0 ? days : days - 146096) / 146097;
    doe = (unsigned)(days - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = (int64_t)yoe + era * 400 + (m <= 2);
    /* %Y as glibc's strftime prints it: no zero padding, a '-' before years BC */
    if (y < 0)
        *p++ = '-';
    uy = y < 0 ? -(uint64_t)y : (uint64_t)y;
    ny = 1;
    for (uint64_t t = uy; t >= 10; t /= 10)
        ny++;
    p = put_digits(p, uy, ny);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, (uint64_t)(rem / 3600), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t)(rem / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t)(rem % 60), 2);
    *p++ = '.';
    p = put_digits(p, (uint64_t)(nsec / 1000) % 1000000, 6);
    *p++ = 'Z';
    *p = '\0';
}

void berth_log_write(enum berth_log_level lvl, const char *subsys, int errnum, const char *fmt, ...)
{
    char line[4096];
    struct timespec ts;
    size_t off;
    int n;
    va_list ap;

    if (!berth_log_enabled(lvl))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    berth_log_format_time(ts.tv_sec, ts.tv_nsec, line);
    off = strlen(line);
    n = snprintf(line + off, sizeof(line) - off, " %-5s %s: ", names[lvl], subsys);
    if (n > 0)
        off += (size_t)n;
    va_start(ap, fmt);
    n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
    va_end(ap);
    if (n > 0)
        off = off + (size_t)n < sizeof(line) ? off + (size_t)n : sizeof(line) - 1;
    if (errnum && off < sizeof(line) - 1) {
        n = snprintf(line + off, sizeof(line) - off, ": %s", berth_strerror(errnum));
        if (n > 0)
            off = off + (size_t)n < sizeof(line) ? off + (size_t)n : sizeof(line) - 1;
    }
    if (off >= sizeof(line) - 1)
        off = sizeof(line) - 2;
    /* One event per line, and nothing a client sent can drive a terminal: control bytes are
     * written as \xNN (a newline included). The escaped copy lives on the heap, and only when
     * there is something to escape: the shim's stack stays small (RSS). */
    size_t n_ctl = 0;
    for (size_t i = 0; i < off; i++)
        n_ctl += (unsigned char)line[i] < 0x20 || line[i] == 0x7f;
    if (n_ctl == 0) {
        line[off++] = '\n'; /* off <= sizeof(line) - 2 */
        write_all(line, off);
        return;
    }
    char *out = malloc(off + 3 * n_ctl + 1);
    size_t o = 0;
    if (!out) { /* keep the line, lose the byte values */
        for (size_t i = 0; i < off; i++)
            if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
                line[i] = '?';
        line[off++] = '\n';
        write_all(line, off);
        return;
    }
    for (size_t i = 0; i < off; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (ch < 0x20 || ch == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 0xf];
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o++] = '\n';
    write_all(out, o);
    free(out);
}
