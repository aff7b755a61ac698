/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content digests "<algorithm>:<hex>" as go-digest's Parse accepts them for the algorithms
 * containerd links in: sha256 (64 hex), sha384 (96 hex), sha512 (128 hex), lower-case hex only.
 * Pure string checks, no deps beyond lib/err.
 */
#ifndef BERTH_LIB_DIGEST_H
#define BERTH_LIB_DIGEST_H

#include "lib/err.h"

/* 0, or -1 with BERTH_E_INVALID_ARGUMENT naming the value (missing ':', unsupported algorithm,
 * wrong length or non-hex characters). NULL counts as empty. */
int berth_digest_validate(const char *s, struct berth_err **err);

#endif
