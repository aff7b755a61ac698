/* SPDX-License-Identifier: Apache-2.0 */
/* Daemon life cycle: directories, the root lock, the store, the server, signals, sd_notify. */
#ifndef BERTH_CMD_BERTHD_DAEMON_H
#define BERTH_CMD_BERTHD_DAEMON_H

#include "cmd/berthd/config.h"

/* Runs berthd until SIGTERM/SIGINT; returns the process exit code. */
int berthd_run(const struct berthd_config *cfg);

#endif
