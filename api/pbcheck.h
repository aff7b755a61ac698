/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks untrusted protobuf bytes against a message descriptor before protobuf-c unpacks them.
 * protobuf-c hands proto3 strings over as NUL-terminated char *, so "ab\0cd" would silently
 * become "ab"; Go's protobuf (containerd) refuses proto3 strings that are not valid UTF-8; and
 * protobuf-c's unpack recurses without a depth limit. Walks the wire format itself (the unpacked
 * message has lost the string lengths). Needs only the generated descriptors and lib/err.
 */
#ifndef BERTH_API_PBCHECK_H
#define BERTH_API_PBCHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "lib/err.h"

/* Deepest message nesting accepted: the top-level message is depth 0. Our request types are
 * not recursive, so real requests stay far below; the limit matters for recursive types and
 * keeps protobuf-c's unbounded recursion away from hostile input. */
#define BERTH_PB_MAX_DEPTH 100

/* 0 when data (len bytes; NULL is fine when len is 0) is a well-formed desc message in which
 * every string field at any depth (nested messages, repeated fields, map keys and values) is
 * valid UTF-8 without NUL bytes. Otherwise -1 with INVALID_ARGUMENT:
 *  - malformed wire data (truncated or overlong varint, length past the end, field number 0,
 *    wire types 3/4 (groups, which proto3 never produces), 6 and 7);
 *  - messages nested deeper than BERTH_PB_MAX_DEPTH;
 *  - a string with a NUL byte or invalid UTF-8 (overlong forms, surrogates, code points past
 *    U+10FFFF, truncated sequences): the message names the field ("container.id",
 *    "container.labels[\"k\"]", "args[2]") and shows the value escaped and truncated.
 * Unknown fields and fields whose wire type does not match their declared type are skipped
 * unchecked (protobuf-c decides about the latter). Allocates nothing unless it fails. */
int berth_pb_check(const ProtobufCMessageDescriptor *desc, const void *data, size_t len,
                   struct berth_err **err);

#endif
