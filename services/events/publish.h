/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers the services use to publish containerd's events after a write commits. */
#ifndef BERTH_SERVICES_EVENTS_PUBLISH_H
#define BERTH_SERVICES_EVENTS_PUBLISH_H

#include "lib/labels.h"
#include "metadata/containers.h"
#include "metadata/images.h"
#include "services/services.h"

/* /namespaces/create, /namespaces/update (with the labels now stored), /namespaces/delete */
void berth_publish_namespace(const struct berth_svc_ctx *ctx, const char *topic, const char *name,
                             const struct berth_labels *labels);
/* /containers/create (ContainerCreate), /containers/update (ContainerUpdate),
 * /containers/delete (ContainerDelete: only c->id is read) */
void berth_publish_container(const struct berth_svc_ctx *ctx, const char *topic,
                             const struct berth_container *c);

/* /images/create (ImageCreate), /images/update (ImageUpdate), /images/delete (ImageDelete:
 * only im->name is read); payloads in package containerd.services.images.v1. */
void berth_publish_image(const struct berth_svc_ctx *ctx, const char *topic,
                         const struct berth_image *im);

#endif
