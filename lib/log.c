/* SPDX-License-Identifier: Apache-2.0 */
/* Log sink: "time level subsys message" on one line, written with a single write(2) so lines
 * from concurrent threads never interleave. */
#include "lib/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

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

void berth_log_write(enum berth_log_level lvl, const char *subsys, int errnum, const char *fmt, ...)
{
    char line[4096];
    struct timespec ts;
    struct tm tm;
    size_t off;
    int n;
    va_list ap;

    if (!berth_log_enabled(lvl))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line + off, sizeof(line) - off, ".%06ldZ %-5s %s: ", ts.tv_nsec / 1000, names[lvl],
                 subsys);
    if (n > 0)
        off += (size_t)n;
    va_start(ap, fmt);
    n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
    va_end(ap);
    if (n > 0)
        off = off + (size_t)n < sizeof(line) ? off + (size_t)n : sizeof(line) - 1;
    if (errnum && off < sizeof(line) - 1) {
        n = snprintf(line + off, sizeof(line) - off, ": %s", strerror(errnum));
        if (n > 0)
            off = off + (size_t)n < sizeof(line) ? off + (size_t)n : sizeof(line) - 1;
    }
    if (off >= sizeof(line) - 1)
        off = sizeof(line) - 2;
    /* One event per line, and nothing a client sent can drive a terminal: control bytes are
     * written as \xNN (a newline included). */
    {
        char out[sizeof(line) * 4 + 2];
        size_t o = 0;
        for (size_t i = 0; i < off; i++) {
            unsigned char ch = (unsigned char)line[i];
            if (ch < 0x20 || ch == 0x7f)
                o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", ch);
            else
                out[o++] = (char)ch;
        }
        out[o++] = '\n';
        if (write(STDERR_FILENO, out, o) < 0) {
            /* nowhere left to report it */
        }
    }
}
