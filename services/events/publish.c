/* SPDX-License-Identifier: Apache-2.0 */
/* Event payloads for namespace and container changes, in containerd's types and topics. */
#include "services/events/publish.h"

#include <string.h>

#include "api/events/container.pb-c.h"
#include "api/events/image.pb-c.h"
#include "api/events/namespace.pb-c.h"
#include "metadata/record.h"

void berth_publish_namespace(const struct berth_svc_ctx *ctx, const char *topic, const char *name,
                             const struct berth_labels *labels)
{
    struct berth_events *ex = berth_svc_app(ctx)->events;
    _cleanup_free_ void **entries = NULL;
    struct berth_labels none = {0};

    if (!ex)
        return;
    if (!labels)
        labels = &none;
    if (strcmp(topic, "/namespaces/delete") == 0) {
        Containerd__Events__NamespaceDelete ev = CONTAINERD__EVENTS__NAMESPACE_DELETE__INIT;
        ev.name = (char *)name;
        berth_events_publish(ex, name, topic, &ev.base);
    } else if (strcmp(topic, "/namespaces/create") == 0) {
        Containerd__Events__NamespaceCreate ev = CONTAINERD__EVENTS__NAMESPACE_CREATE__INIT;
        ev.name = (char *)name;
        berth_labels_to_pb(labels, &containerd__events__namespace_create__labels_entry__descriptor,
                           &entries, &ev.n_labels);
        ev.labels = (Containerd__Events__NamespaceCreate__LabelsEntry **)entries;
        berth_events_publish(ex, name, topic, &ev.base);
    } else {
        Containerd__Events__NamespaceUpdate ev = CONTAINERD__EVENTS__NAMESPACE_UPDATE__INIT;
        ev.name = (char *)name;
        berth_labels_to_pb(labels, &containerd__events__namespace_update__labels_entry__descriptor,
                           &entries, &ev.n_labels);
        ev.labels = (Containerd__Events__NamespaceUpdate__LabelsEntry **)entries;
        berth_events_publish(ex, name, topic, &ev.base);
    }
}

void berth_publish_container(const struct berth_svc_ctx *ctx, const char *topic,
                             const struct berth_container *c)
{
    struct berth_events *ex = berth_svc_app(ctx)->events;
    _cleanup_free_ void **entries = NULL;

    if (!ex)
        return;
    if (strcmp(topic, "/containers/create") == 0) {
        Containerd__Events__ContainerCreate ev = CONTAINERD__EVENTS__CONTAINER_CREATE__INIT;
        Containerd__Events__ContainerCreate__Runtime rt =
            CONTAINERD__EVENTS__CONTAINER_CREATE__RUNTIME__INIT;
        Google__Protobuf__Any opts;
        ev.id = c->id;
        ev.image = c->image ? c->image : (char *)"";
        rt.name = c->runtime_name ? c->runtime_name : (char *)"";
        rt.options = berth_any_to_pb(&c->runtime_options, &opts);
        ev.runtime = &rt;
        berth_events_publish(ex, ctx->ns, topic, &ev.base);
    } else if (strcmp(topic, "/containers/update") == 0) {
        Containerd__Events__ContainerUpdate ev = CONTAINERD__EVENTS__CONTAINER_UPDATE__INIT;
        ev.id = c->id;
        ev.image = c->image ? c->image : (char *)"";
        ev.snapshot_key = c->snapshot_key ? c->snapshot_key : (char *)"";
        berth_labels_to_pb(&c->labels,
                           &containerd__events__container_update__labels_entry__descriptor,
                           &entries, &ev.n_labels);
        ev.labels = (Containerd__Events__ContainerUpdate__LabelsEntry **)entries;
        berth_events_publish(ex, ctx->ns, topic, &ev.base);
    } else {
        Containerd__Events__ContainerDelete ev = CONTAINERD__EVENTS__CONTAINER_DELETE__INIT;
        ev.id = c->id;
        berth_events_publish(ex, ctx->ns, topic, &ev.base);
    }
}

void berth_publish_image(const struct berth_svc_ctx *ctx, const char *topic,
                         const struct berth_image *im)
{
    struct berth_events *ex = berth_svc_app(ctx)->events;
    _cleanup_free_ void **entries = NULL;

    if (!ex)
        return;
    if (strcmp(topic, "/images/delete") == 0) {
        Containerd__Services__Images__V1__ImageDelete ev =
            CONTAINERD__SERVICES__IMAGES__V1__IMAGE_DELETE__INIT;
        ev.name = im->name;
        berth_events_publish(ex, ctx->ns, topic, &ev.base);
    } else if (strcmp(topic, "/images/create") == 0) {
        Containerd__Services__Images__V1__ImageCreate ev =
            CONTAINERD__SERVICES__IMAGES__V1__IMAGE_CREATE__INIT;
        ev.name = im->name;
        berth_labels_to_pb(
            &im->labels, &containerd__services__images__v1__image_create__labels_entry__descriptor,
            &entries, &ev.n_labels);
        ev.labels = (Containerd__Services__Images__V1__ImageCreate__LabelsEntry **)entries;
        berth_events_publish(ex, ctx->ns, topic, &ev.base);
    } else {
        Containerd__Services__Images__V1__ImageUpdate ev =
            CONTAINERD__SERVICES__IMAGES__V1__IMAGE_UPDATE__INIT;
        ev.name = im->name;
        berth_labels_to_pb(
            &im->labels, &containerd__services__images__v1__image_update__labels_entry__descriptor,
            &entries, &ev.n_labels);
        ev.labels = (Containerd__Services__Images__V1__ImageUpdate__LabelsEntry **)entries;
        berth_events_publish(ex, ctx->ns, topic, &ev.base);
    }
}
