/* SPDX-License-Identifier: Apache-2.0 */
/* Container records <-> containerd.services.containers.v1.Container. */
#ifndef BERTH_SERVICES_CONTAINERS_CONVERT_H
#define BERTH_SERVICES_CONTAINERS_CONVERT_H

#include "api/services/containers/v1/containers.pb-c.h"
#include "metadata/containers.h"

typedef Containerd__Services__Containers__V1__Container container_pb;

/* A Container message borrowing every string and byte array from a record; clear it with
 * container_out_clear (which frees only what this struct allocated). */
struct container_out {
    container_pb pb;
    Containerd__Services__Containers__V1__Container__Runtime rt;
    Google__Protobuf__Any spec, opts;
    Google__Protobuf__Timestamp created, updated;
    void **labels;
    Containerd__Services__Containers__V1__Container__ExtensionsEntry *ents, **entp;
    Google__Protobuf__Any *anys;
};
void container_out_init(struct container_out *o, const struct berth_container *c);
void container_out_clear(struct container_out *o);

/* A new record copied from the wire message (timestamps are ignored: the store sets them). */
struct berth_container *container_from_pb(const container_pb *pb);

#endif
