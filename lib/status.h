/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC status codes and the one table between them and berth error classes, shared by the
 * gRPC transport (services/server, client/) and ttrpc (ttrpc/), which carries the same
 * google.rpc.Status codes. Pure functions: no grpc or protobuf dependency.
 */
#ifndef BERTH_LIB_STATUS_H
#define BERTH_LIB_STATUS_H

#include "lib/err.h"

/* Wire values of google.rpc.Code (identical to grpc_status_code). */
enum berth_grpc_code {
    BERTH_GRPC_OK = 0,
    BERTH_GRPC_CANCELLED = 1,
    BERTH_GRPC_UNKNOWN = 2,
    BERTH_GRPC_INVALID_ARGUMENT = 3,
    BERTH_GRPC_DEADLINE_EXCEEDED = 4,
    BERTH_GRPC_NOT_FOUND = 5,
    BERTH_GRPC_ALREADY_EXISTS = 6,
    BERTH_GRPC_PERMISSION_DENIED = 7,
    BERTH_GRPC_RESOURCE_EXHAUSTED = 8,
    BERTH_GRPC_FAILED_PRECONDITION = 9,
    BERTH_GRPC_ABORTED = 10,
    BERTH_GRPC_OUT_OF_RANGE = 11,
    BERTH_GRPC_UNIMPLEMENTED = 12,
    BERTH_GRPC_INTERNAL = 13,
    BERTH_GRPC_UNAVAILABLE = 14,
    BERTH_GRPC_DATA_LOSS = 15,
    BERTH_GRPC_UNAUTHENTICATED = 16,
};

#define BERTH_GRPC_N_CODES 17

/* The code's name as Go's codes.Code.String() spells it ("OK", "Canceled", "NotFound", ...),
 * the grpc_code label of go-grpc-prometheus; "Unknown" for a value out of range. Static. */
const char *berth_grpc_code_name(int grpc_code);
/* Maps an error class to a gRPC status code; unknown classes give UNKNOWN. */
int berth_errc_to_grpc(enum berth_errc code);
/* Maps a gRPC status code back to an error class as containerd's errgrpc does (by code only);
 * codes without a class (UNKNOWN, INTERNAL, ABORTED, out of range...) give BERTH_E_INTERNAL. */
enum berth_errc berth_grpc_to_errc(int grpc_code);
/* The status message for an error: its text, ending in ": <class text>" as containerd's do.
 * Returns a malloc'ed string owned by the caller. */
char *berth_err_status_message(const struct berth_err *e);

#endif
