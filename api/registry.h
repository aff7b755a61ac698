// SPDX-License-Identifier: Apache-2.0
// Lookup tables over the protobuf-c descriptors generated from api/*.proto:
// the containerd gRPC services berthd serves, and the message types that travel
// inside google.protobuf.Any (event payloads, runc options, shared types), keyed by
// their bare fully-qualified name (the containerd typeurl convention).
#ifndef BERTH_API_REGISTRY_H
#define BERTH_API_REGISTRY_H

#include <protobuf-c/protobuf-c.h>

// NULL-terminated list of every containerd.services.*.v1 gRPC service descriptor
// (ttrpc and CRI services are not included).
extern const ProtobufCServiceDescriptor *const berth_api_services[];

// Descriptor for a fully-qualified message name such as "containerd.events.TaskExit"
// or "containerd.runc.v1.Options"; a leading '/' or "type.googleapis.com/"-style
// prefix is ignored. Returns NULL when the name is unknown.
const ProtobufCMessageDescriptor *berth_api_find_message(const char *full_name);

#endif
