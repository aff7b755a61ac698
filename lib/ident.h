/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd identifier rules (namespaces, container/task ids, event topic parts): 1-76
 * characters, alphanumeric runs joined by single '.', '_' or '-'. Pure string checks, no deps
 * beyond lib/err.
 */
#ifndef BERTH_LIB_IDENT_H
#define BERTH_LIB_IDENT_H

#include "lib/err.h"

/* Longest identifier containerd accepts. */
#define BERTH_IDENT_MAX_LEN 76

/* Checks id against ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$ and the length limit. Returns 0,
 * or -1 with BERTH_E_INVALID_ARGUMENT (empty, too long, or bad characters/separators). A NULL id
 * counts as empty. */
int berth_ident_validate(const char *id, struct berth_err **err);

#endif
