/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthd's self-check: a Version/Version call on the daemon's own socket over a fresh
 * connection every interval, so a socket that stopped accepting, a stuck transport or a frozen
 * completion queue is noticed. Under systemd with WatchdogSec= it feeds the watchdog
 * (WATCHDOG=1) only after a check succeeded, so systemd restarts a daemon that is up but no
 * longer serves (containers keep running; a restart reattaches them). No thread of its own:
 * the main thread runs the checks between signals (berthd_health_due_ms, berthd_health_run).
 */
#ifndef BERTH_CMD_BERTHD_HEALTH_H
#define BERTH_CMD_BERTHD_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

struct berthd_health; /* opaque */

/* Plans checks of `socket_path` every interval_ms (0: only as often as the watchdog needs;
 * with neither, *out is NULL and nothing is ever due). The first check is due at once. Never
 * fails (aborts on OOM). */
void berthd_health_new(const char *socket_path, int64_t interval_ms, struct berthd_health **out);
void berthd_health_free(struct berthd_health *h); /* NULL-safe */

/* Milliseconds until the next check is due (0: now); -1 for NULL (no checks). */
int64_t berthd_health_due_ms(const struct berthd_health *h);
/* Runs one check (blocking up to min(interval, 10 s)), logs a failure once a minute and a
 * recovery once, feeds the watchdog on success, and plans the next check. */
void berthd_health_run(struct berthd_health *h);

/* One check: a Version call over a new connection with timeout_ms. 0 when it answered. */
int berthd_health_check(const char *socket_path, int64_t timeout_ms, struct berth_err **err);

#endif
