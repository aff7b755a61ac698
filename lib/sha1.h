/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-1 (FIPS 180-4), only for protocols that name it: the WebSocket handshake's
 * Sec-WebSocket-Accept (RFC 6455 §4.2.2). Never for content addressing or anything where
 * collisions matter.
 */
#ifndef BERTH_LIB_SHA1_H
#define BERTH_LIB_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define BERTH_SHA1_LEN 20

/* The digest of data[0..len) into out. */
void berth_sha1(const void *data, size_t len, uint8_t out[BERTH_SHA1_LEN]);

#endif
