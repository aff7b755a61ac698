/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blocking ttrpc client over a unix socket (berthd -> shim Task API, shim -> berthd
 * Events.Forward). Thread-safe: any number of threads may call at once; each call gets its own
 * odd, increasing stream id and a reader thread routes responses back by stream id, so calls
 * overlap on the wire instead of queueing behind each other.
 */
#ifndef BERTH_TTRPC_CLIENT_H
#define BERTH_TTRPC_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/util.h"

struct berth_ttrpc_client; /* opaque */

/* Connects to path ("/run/x.sock", "unix:///run/x.sock", "unix:/run/x.sock"; a leading '@'
 * names an abstract socket), retrying while the socket is missing or refuses connections for
 * up to timeout_ms (0 = one attempt). UNAVAILABLE if it can't connect, INVALID_ARGUMENT for a
 * bad address. *out is owned by the caller (berth_ttrpc_client_close). */
int berth_ttrpc_client_dial(const char *path, int64_t timeout_ms, struct berth_ttrpc_client **out,
                            struct berth_err **err);

/* One metadata entry sent with a call. */
struct berth_ttrpc_md {
    const char *key, *value;
};

/*
 * Calls service/method with an already packed request. timeout_ms > 0 bounds the whole call
 * (sent to the server as timeout_nano; DEADLINE_EXCEEDED when it passes); 0 waits forever.
 * ns, if non-NULL, travels as containerd-namespace-ttrpc metadata, before md[0, n_md).
 * On success resp (if non-NULL) holds the response payload, owned by the caller. Errors: the
 * class mapped from the response Status code (message = the status message), UNAVAILABLE when
 * the connection is or gets lost, RESOURCE_EXHAUSTED for a request above 4 MiB.
 */
int berth_ttrpc_client_call_bytes(struct berth_ttrpc_client *c, const char *service,
                                  const char *method, const void *req, size_t req_len,
                                  struct berth_bytes *resp, int64_t timeout_ms, const char *ns,
                                  const struct berth_ttrpc_md *md, size_t n_md,
                                  struct berth_err **err);

/* Same with protobuf-c messages: packs req; unpacks the response as resp_desc into *resp
 * (owned by the caller, free with protobuf_c_message_free_unpacked). resp_desc may be NULL to
 * ignore the payload (google.protobuf.Empty), then *resp is left NULL. INTERNAL if the response
 * doesn't decode. */
int berth_ttrpc_client_call(struct berth_ttrpc_client *c, const char *service, const char *method,
                            const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                            int64_t timeout_ms, const char *ns, struct berth_err **err);

/* Closes the connection: calls still waiting fail with UNAVAILABLE; then waits for them to
 * leave, joins the reader thread and frees c. NULL-safe. */
void berth_ttrpc_client_close(struct berth_ttrpc_client *c);

#endif
