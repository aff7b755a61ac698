/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-line-per-event logging to stderr (journald picks it up under systemd). Each file that
 * logs defines BERTH_LOG_SUBSYS before including this header. Only the edges log: the server
 * loop, main() and the shim loop; library code returns errors instead.
 */
#ifndef BERTH_LIB_LOG_H
#define BERTH_LIB_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum berth_log_level {
    BERTH_LOG_TRACE,
    BERTH_LOG_DEBUG,
    BERTH_LOG_INFO,
    BERTH_LOG_WARN,
    BERTH_LOG_ERROR,
    BERTH_LOG_FATAL,
};

/* Parses "trace|debug|info|warn|warning|error|fatal"; returns -1 when unknown. */
int berth_log_level_parse(const char *s);
void berth_log_set_level(enum berth_log_level lvl);
bool berth_log_enabled(enum berth_log_level lvl);
/* Room for a log timestamp, NUL included: "2024-02-29T10:00:00.123456Z" (27 bytes) for years
 * 1000..9999, up to 37 for the years an int64 of seconds reaches. */
#define BERTH_LOG_TIME_MAX 40
/* Formats sec/nsec (since the epoch) as the UTC log timestamp with microseconds, the way
 * gmtime_r + strftime("%Y-%m-%dT%H:%M:%S") + ".%06ldZ" would. Pure arithmetic (no time zone
 * state: keeps tzfile parsing out of berth-shim). Like strftime's %Y, the year is not zero-padded
 * and negative years (before 1 AD, proleptic Gregorian) get a '-'. nsec must be in [0, 1e9). */
void berth_log_format_time(int64_t sec, long nsec, char buf[BERTH_LOG_TIME_MAX]);
void berth_log_write(enum berth_log_level lvl, const char *subsys, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#ifndef BERTH_LOG_SUBSYS
#define BERTH_LOG_SUBSYS "berth"
#endif

#define log_trace(...)          berth_log_write(BERTH_LOG_TRACE, BERTH_LOG_SUBSYS, 0, __VA_ARGS__)
#define log_debug(...)          berth_log_write(BERTH_LOG_DEBUG, BERTH_LOG_SUBSYS, 0, __VA_ARGS__)
#define log_info(...)           berth_log_write(BERTH_LOG_INFO, BERTH_LOG_SUBSYS, 0, __VA_ARGS__)
#define log_warn(...)           berth_log_write(BERTH_LOG_WARN, BERTH_LOG_SUBSYS, 0, __VA_ARGS__)
#define log_error(...)          berth_log_write(BERTH_LOG_ERROR, BERTH_LOG_SUBSYS, 0, __VA_ARGS__)
#define log_warn_errno(e, ...)  berth_log_write(BERTH_LOG_WARN, BERTH_LOG_SUBSYS, (e), __VA_ARGS__)
#define log_error_errno(e, ...) berth_log_write(BERTH_LOG_ERROR, BERTH_LOG_SUBSYS, (e), __VA_ARGS__)

#endif
