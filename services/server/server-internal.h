/* SPDX-License-Identifier: Apache-2.0 */
/* Pieces of dispatch shared by the transport (server.c) and berth_server_invoke. */
#ifndef BERTH_SERVICES_SERVER_INTERNAL_H
#define BERTH_SERVICES_SERVER_INTERNAL_H

#include "services/server/server.h"

bool berth_server_knows_service(const struct berth_service *const *svcs, size_t n,
                                const char *path);
/* NOT_IMPLEMENTED with grpc-go's wording ("unknown service X" / "unknown method M for
 * service X"); always returns -1. */
int berth_server_unknown_method(const struct berth_service *const *svcs, size_t n, const char *path,
                                struct berth_err **err);
/* FAILED_PRECONDITION for a missing namespace, INVALID_ARGUMENT for a bad one. */
int berth_server_check_ns(const struct berth_method *m, const char *ns, struct berth_err **err);
/* INVALID_ARGUMENT when body is not a valid desc message. */
int berth_server_decode(const ProtobufCMessageDescriptor *desc, const void *body, size_t len,
                        ProtobufCMessage **out, struct berth_err **err);

#endif
