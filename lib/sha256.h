/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-256 (FIPS 180-4), streaming, no dependencies. Used by the content store to verify
 * blobs against their digests. The context is a plain struct so it can be saved and resumed.
 */
#ifndef BERTH_LIB_SHA256_H
#define BERTH_LIB_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct berth_sha256 {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    uint8_t buf[64];
    size_t n; /* bytes pending in buf */
};

/* Starts a new hash. */
void berth_sha256_init(struct berth_sha256 *c);
/* Hashes len more bytes of data (data may be NULL when len is 0). */
void berth_sha256_update(struct berth_sha256 *c, const void *data, size_t len);
/* Finishes the hash into out; c must be re-initialised before reuse. */
void berth_sha256_final(struct berth_sha256 *c, uint8_t out[32]);
/* Finishes the hash and writes "sha256:<64 lower-case hex>" (71 chars + NUL) into buf. */
void berth_sha256_digest_str(struct berth_sha256 *c, char buf[72]);
/* One-shot helper: "sha256:<hex>" of data into buf. */
void berth_sha256_digest_buf(const void *data, size_t len, char buf[72]);

#endif
