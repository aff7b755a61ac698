/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthd's self-check: a thread that calls Version/Version on the daemon's own socket over a
 * fresh connection every interval, so a socket that stopped accepting, a stuck transport or a
 * frozen completion queue is noticed. Under systemd with WatchdogSec= it feeds the watchdog
 * (WATCHDOG=1) only after a check succeeded, so systemd restarts a daemon that is up but no
 * longer serves (containers keep running; a restart reattaches them).
 */
#ifndef BERTH_CMD_BERTHD_HEALTH_H
#define BERTH_CMD_BERTHD_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

struct berthd_health; /* opaque */

/* Starts checking `socket_path` every interval_ms (0: only as often as the watchdog needs;
 * with neither, nothing starts and *out is NULL). */
int berthd_health_start(const char *socket_path, int64_t interval_ms, struct berthd_health **out,
                        struct berth_err **err);
/* Stops and joins the thread. NULL-safe. */
void berthd_health_stop(struct berthd_health *h);

/* One check: a Version call over a new connection with timeout_ms. 0 when it answered. */
int berthd_health_check(const char *socket_path, int64_t timeout_ms, struct berth_err **err);

#endif
