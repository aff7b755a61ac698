/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-line-per-event logging to stderr (journald picks it up under systemd). Each file that
 * logs defines BERTH_LOG_SUBSYS before including this header. Only the edges log: the server
 * loop, main() and the shim loop; library code returns errors instead.
 */
#ifndef BERTH_LIB_LOG_H
#define BERTH_LIB_LOG_H

#include <stdbool.h>

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
