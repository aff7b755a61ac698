/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-process event exchange. Services publish after their write commits; subscribers
 * (Events.Subscribe streams) each get a bounded queue filled at publish time, so a publisher
 * never waits for a subscriber: one that falls a whole queue behind is dropped. Subscribers see
 * every namespace unless their filters say otherwise (containerd semantics). An envelope is
 * packed once and shared by reference between subscribers. Each subscriber matches its filter
 * on its own thread as it takes envelopes off its queue, so a costly filter slows only it; its
 * queue holds every event, matching or not.
 */
#ifndef BERTH_SERVICES_EVENTS_EXCHANGE_H
#define BERTH_SERVICES_EVENTS_EXCHANGE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "api/types/event.pb-c.h"
#include "lib/err.h"
#include "lib/filters.h"
#include "lib/util.h"

struct berth_events;     /* opaque exchange */
struct berth_events_sub; /* opaque subscription */

#define BERTH_EVENTS_QUEUE_DEFAULT 1024

struct berth_events *berth_events_new(void);
/* No subscription may be left. NULL-safe. */
void berth_events_free(struct berth_events *ex);
/* Wakes every subscriber with UNAVAILABLE and refuses new ones (daemon shutdown). */
void berth_events_close(struct berth_events *ex);

/* Checks an event topic: starts with '/', at least one component, each an identifier.
 * INVALID_ARGUMENT naming the topic. */
int berth_events_validate_topic(const char *topic, struct berth_err **err);

/* Publishes payload under topic in namespace ns, stamped now. The Any's type URL is the bare
 * full message name (containerd's typeurl convention). Never blocks on subscribers. */
void berth_events_publish(struct berth_events *ex, const char *ns, const char *topic,
                          const ProtobufCMessage *payload);
/* Publishes a ready envelope (Events.Publish/Forward) as it is. Its payload is decoded through
 * the API registry for event.<field> filters when its type is known and it passes
 * berth_pb_check; otherwise (unknown type, malformed, a NUL byte or invalid UTF-8 in a string)
 * it has no fields for filters, like containerd's undecodable payloads. NULL ex: no-op. */
void berth_events_forward(struct berth_events *ex, const Containerd__Types__Envelope *env);

/* Subscribes with an optional filter (ownership passes to the subscription on success) and a
 * queue of queue_len envelopes (0 = default). UNAVAILABLE after berth_events_close. The filter
 * is matched only by the berth_events_sub_next caller; a stop set on it with
 * berth_filter_set_stop ends a costly match early. */
int berth_events_subscribe(struct berth_events *ex, struct berth_filter *filter, size_t queue_len,
                           struct berth_events_sub **out, struct berth_err **err);
/* Waits up to timeout_ms for the next envelope that matches the subscription's filter. Returns
 * 1 with *out holding the packed containerd.types.Envelope (owned by the caller), 0 on timeout
 * or once the filter was stopped, -1 with RESOURCE_EXHAUSTED when the subscriber was dropped
 * for falling behind, or UNAVAILABLE when the exchange closed. Call it from one thread at a
 * time per subscription. */
int berth_events_sub_next(struct berth_events_sub *s, int timeout_ms, struct berth_bytes *out,
                          struct berth_err **err);
void berth_events_unsubscribe(struct berth_events_sub *s); /* NULL-safe */

/* Counters for tests and logs. delivered counts envelopes queued to subscribers, before their
 * filters. */
struct berth_events_stats {
    uint64_t published, delivered, dropped_subscribers;
    size_t subscribers;
};
void berth_events_stats(struct berth_events *ex, struct berth_events_stats *out);

#endif
