/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GetContainerEvents: container created/started/stopped/deleted events fanned out to every
 * subscriber (kubelet's evented PLEG). A subscriber that falls 1024 events behind is dropped
 * (its stream ends with RESOURCE_EXHAUSTED and kubelet resubscribes after a relist).
 */
#ifndef BERTH_SERVICES_CRI_EVENTS_H
#define BERTH_SERVICES_CRI_EVENTS_H

#include "api/cri/runtime/v1/api.pb-c.h"

struct berth_cri;
struct cri_container;
struct cri_event_hub;

struct cri_event_hub *cri_event_hub_new(void);
/* Ends every subscription (its stream returns) and frees; NULL-safe. */
void cri_event_hub_free(struct cri_event_hub *h);
/* Publishes an event for k with the sandbox's and k's current status. Never blocks. */
void cri_event_container(struct berth_cri *c, struct cri_container *k,
                         Runtime__V1__ContainerEventType type);

#endif
