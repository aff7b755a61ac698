/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Synchronous gRPC client for berthd (and containerd) over the gRPC C core. One client holds one
 * channel; every call gets its own pluck completion queue, so concurrent calls from several
 * threads on one client are safe. Used by berthctl and by the benchmark load generators.
 * Depends on lib/ (errors), grpc core and protobuf-c; knows nothing about the API protos.
 */
#ifndef BERTH_CLIENT_CLIENT_H
#define BERTH_CLIENT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "lib/err.h"
#include "lib/util.h"

/* Maximum message size in both directions, as containerd (16 MiB). */
#define BERTH_CLIENT_MAX_MSG (16 << 20)

struct berth_client; /* opaque */

/*
 * Opens a client for `address`: a path ("/run/berth/berthd.sock", "./x.sock"), "unix:/path",
 * "unix:///path", "unix-abstract:name" or "@name" (abstract socket). No connection is made
 * here; the first call connects, and a missing or refusing socket fails that call fast with
 * BERTH_E_UNAVAILABLE. `ns` (may be NULL) is sent as the containerd-namespace header.
 * `timeout_ms` is the deadline of each call (0 = none). Calls grpc_init() (refcounted).
 * BERTH_E_INVALID_ARGUMENT for an empty address. On success *out is owned by the caller and
 * released with berth_client_close().
 */
int berth_client_open(const char *address, const char *ns, int64_t timeout_ms,
                      struct berth_client **out, struct berth_err **err);
/* NULL-safe. No call may be in flight. Calls grpc_shutdown(). */
void berth_client_close(struct berth_client *c);

/* The namespace header for later calls (copied; NULL: send none). Thread-safe. */
void berth_client_set_namespace(struct berth_client *c, const char *ns);
/* The containerd-lease header for later calls (copied; NULL: send none). Thread-safe. */
void berth_client_set_lease(struct berth_client *c, const char *lease);
/* Per-call deadline for later calls in milliseconds (0 = none). Thread-safe. */
void berth_client_set_timeout(struct berth_client *c, int64_t timeout_ms);
/* The gRPC target string the client dials (e.g. "unix:/run/berth/berthd.sock"); borrowed. */
const char *berth_client_target(const struct berth_client *c);

/*
 * Unary call by full method path ("/containerd.services.containers.v1.Containers/Get"). `req`
 * is packed as the request body. On success *resp is an unpacked `resp_desc` message owned by
 * the caller (free with protobuf_c_message_free_unpacked). On a non-OK status the error class
 * is mapped from the gRPC code (see berth_client_errc()) and the message is the status details;
 * a connection failure is BERTH_E_UNAVAILABLE naming the address. A body that doesn't decode
 * as `resp_desc` is BERTH_E_INTERNAL.
 */
int berth_client_unary(struct berth_client *c, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                       struct berth_err **err);

/* Called once per received stream message; `msg` is borrowed and freed when the callback
 * returns. Return non-zero to stop: the call is cancelled and the stream call returns 0. */
typedef int (*berth_client_stream_fn)(const ProtobufCMessage *msg, void *arg);

/* Server-streaming call: sends `req`, then invokes cb for every response message until the
 * server ends the stream. Errors as berth_client_unary(); cb may already have run. */
int berth_client_server_stream(struct berth_client *c, const char *method,
                               const ProtobufCMessage *req,
                               const ProtobufCMessageDescriptor *resp_desc,
                               berth_client_stream_fn cb, void *arg, struct berth_err **err);

/*
 * Raw unary call for tests: sends `body` (len bytes, may be 0) as the request message. Returns
 * 0 whenever the call completed, whatever its status: *grpc_status gets the gRPC code, *details
 * the status details (malloc'd, caller frees; may be NULL) and *resp the response body (owned
 * by the caller, cleared with berth_bytes_clear; empty when the server sent none). Returns -1
 * only for local failures (BERTH_E_INTERNAL).
 */
int berth_client_unary_raw(struct berth_client *c, const char *method, const void *body, size_t len,
                           struct berth_bytes *resp, int *grpc_status, char **details,
                           struct berth_err **err);

/*
 * Bidirectional streaming call (Content.Write): open, then alternate send/recv, then close.
 * One message in flight each way at a time. _recv sets *out NULL at the end of the server's
 * stream and then returns the call's status as an error (0 if OK); *out is owned by the
 * caller. _close half-closes and waits for the status. _free cancels an unfinished call.
 */
struct berth_client_bidi;
int berth_client_bidi_open(struct berth_client *c, const char *method,
                           struct berth_client_bidi **out, struct berth_err **err);
int berth_client_bidi_send(struct berth_client_bidi *b, const ProtobufCMessage *msg,
                           struct berth_err **err);
int berth_client_bidi_recv(struct berth_client_bidi *b, const ProtobufCMessageDescriptor *desc,
                           ProtobufCMessage **out, struct berth_err **err);
int berth_client_bidi_close(struct berth_client_bidi *b, struct berth_err **err);
/* Half-closes only (client streaming: then _recv the reply, then _close for the status). */
int berth_client_bidi_close_send(struct berth_client_bidi *b, struct berth_err **err);
void berth_client_bidi_free(struct berth_client_bidi *b); /* NULL-safe */
DEFINE_CLEANUP(struct berth_client_bidi *, berth_client_bidi_free)

/* Maps a gRPC status code to an error class (OK maps to BERTH_E_OK, unknown codes to
 * BERTH_E_INTERNAL). */
enum berth_errc berth_client_errc(int grpc_status);

/* Builds the gRPC target for an address as accepted by berth_client_open(). Returns a malloc'd
 * string, or NULL with BERTH_E_INVALID_ARGUMENT for an empty address. */
char *berth_client_target_for(const char *address, struct berth_err **err);

#endif
