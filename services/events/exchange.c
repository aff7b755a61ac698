/* SPDX-License-Identifier: Apache-2.0 */
/* Event exchange (see exchange.h). One mutex guards the subscriber list and every queue; the
 * work done under it is a pointer push per subscriber. Filters are matched by each subscriber
 * on its own thread as it takes envelopes off its queue: a `~=` filter can cost milliseconds
 * per event (more on a big published payload), and that cost must stay with whoever asked for
 * it rather than hold every publisher, i.e. every write RPC, behind the mutex. (containerd
 * matches in its broadcaster goroutine, which publishers wait for.) */
#define BERTH_LOG_SUBSYS "events"

#include "services/events/exchange.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/pbcheck.h" /* event payloads are client bytes */
#include "api/registry.h"
#include "google/protobuf/any.pb-c.h"
#include "lib/ident.h"
#include "lib/log.h"

/* One published envelope, shared by the queues holding it; immutable once queued apart from
 * the lazily decoded payload. */
struct item {
    atomic_int refs;
    struct berth_bytes packed; /* the containerd.types.Envelope as sent */
    char *ns, *topic;
    const ProtobufCMessageDescriptor *desc; /* payload type; NULL when unknown */
    struct berth_bytes value;               /* payload bytes, decoded on first event.* lookup */
    _Atomic(ProtobufCMessage *) payload;
    atomic_bool opaque; /* the payload did not decode: it has no fields */
};

struct berth_events_sub {
    struct berth_events *ex;
    struct berth_filter *filter;
    struct item **ring;
    size_t cap, head, len;
    bool dropped;
    pthread_cond_t cv;
    struct berth_events_sub *next;
};

struct berth_events {
    pthread_mutex_t mu;
    struct berth_events_sub *subs;
    bool closed;
    struct berth_events_stats stats;
};

static void item_unref(struct item *it)
{
    ProtobufCMessage *p;

    if (atomic_fetch_sub(&it->refs, 1) != 1)
        return;
    p = atomic_load(&it->payload);
    if (p)
        protobuf_c_message_free_unpacked(p, NULL);
    berth_bytes_clear(&it->packed);
    berth_bytes_clear(&it->value);
    free(it->ns);
    free(it->topic);
    free(it);
}

/* The decoded payload, or NULL when its type is unknown or it does not decode. Like
 * containerd, which decodes only for event.<field> filters and then treats a payload Go's
 * protobuf refuses as having no fields, an undecodable payload is forwarded as it came and is
 * opaque to filters. berth_pb_check goes first: protobuf-c would cut "ab\0cd" to "ab", accept
 * invalid UTF-8 (which Go refuses) and recurse without a depth limit. Several subscriber
 * threads may ask at once: the first decode stored wins. */
static const ProtobufCMessage *item_payload(struct item *it)
{
    ProtobufCMessage *p = atomic_load(&it->payload), *none = NULL;
    struct berth_err *e = NULL;

    if (p || !it->desc || atomic_load(&it->opaque))
        return p;
    if (berth_pb_check(it->desc, it->value.data, it->value.len, &e) < 0 ||
        !(p = protobuf_c_message_unpack(it->desc, NULL, it->value.len, it->value.data))) {
        berth_err_free(&e);
        atomic_store(&it->opaque, true);
        return NULL;
    }
    if (!atomic_compare_exchange_strong(&it->payload, &none, p)) {
        protobuf_c_message_free_unpacked(p, NULL);
        p = none;
    }
    return p;
}

struct berth_events *berth_events_new(void)
{
    struct berth_events *ex = berth_xcalloc(1, sizeof(*ex));
    pthread_mutex_init(&ex->mu, NULL);
    return ex;
}

void berth_events_free(struct berth_events *ex)
{
    if (!ex)
        return;
    pthread_mutex_destroy(&ex->mu);
    free(ex);
}

void berth_events_close(struct berth_events *ex)
{
    pthread_mutex_lock(&ex->mu);
    ex->closed = true;
    for (struct berth_events_sub *s = ex->subs; s; s = s->next)
        pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&ex->mu);
}

int berth_events_validate_topic(const char *topic, struct berth_err **err)
{
    _cleanup_free_ char *copy = NULL;
    char *save = NULL;
    int n = 0;

    if (!topic || topic[0] != '/' || !topic[1])
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "event topic \"%s\" must start with '/' and name a component",
                             topic ? topic : "");
    copy = berth_xstrdup(topic + 1);
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save), n++)
        if (berth_ident_validate(c, err) < 0)
            return berth_err_wrap(err, "event topic \"%s\"", topic);
    /* strtok folds "//" and a trailing '/': those are empty components */
    if (strstr(topic, "//") || topic[strlen(topic) - 1] == '/' || n == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "event topic \"%s\" has an empty component", topic);
    return 0;
}

/* What filters see: namespace, topic, event.<field> of the decoded payload. */
struct match_obj {
    struct item *it;
    char scratch[32];
};

static const char *envelope_field(void *obj, const char *const *path, size_t n, bool *present)
{
    struct match_obj *m = obj;
    const ProtobufCFieldDescriptor *fd;
    const ProtobufCMessage *payload;
    const char *base;

    *present = false;
    if (n == 1 && strcmp(path[0], "namespace") == 0) {
        *present = m->it->ns && *m->it->ns;
        return m->it->ns;
    }
    if (n == 1 && strcmp(path[0], "topic") == 0) {
        *present = m->it->topic && *m->it->topic;
        return m->it->topic;
    }
    if (n != 2 || strcmp(path[0], "event") != 0 || !(payload = item_payload(m->it)))
        return NULL;
    fd = protobuf_c_message_descriptor_get_field_by_name(payload->descriptor, path[1]);
    if (!fd || fd->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    base = (const char *)payload + fd->offset;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)base;
        *present = s && *s;
        return s;
    }
    case PROTOBUF_C_TYPE_UINT32:
        snprintf(m->scratch, sizeof(m->scratch), "%" PRIu32, *(const uint32_t *)base);
        break;
    case PROTOBUF_C_TYPE_INT32:
        snprintf(m->scratch, sizeof(m->scratch), "%" PRId32, *(const int32_t *)base);
        break;
    case PROTOBUF_C_TYPE_UINT64:
        snprintf(m->scratch, sizeof(m->scratch), "%" PRIu64, *(const uint64_t *)base);
        break;
    case PROTOBUF_C_TYPE_INT64:
        snprintf(m->scratch, sizeof(m->scratch), "%" PRId64, *(const int64_t *)base);
        break;
    default:
        return NULL;
    }
    *present = true;
    return m->scratch;
}

/* Queues one envelope for every subscriber (each filters on its own thread); consumes the
 * caller's reference. */
static void deliver(struct berth_events *ex, struct item *it)
{
    pthread_mutex_lock(&ex->mu);
    ex->stats.published++;
    for (struct berth_events_sub *s = ex->subs; s; s = s->next) {
        if (s->dropped)
            continue;
        if (s->len == s->cap) {
            /* Never wait for a reader: cut it loose instead. */
            s->dropped = true;
            ex->stats.dropped_subscribers++;
            log_warn("dropping a subscriber %zu events behind (topic %s ns %s)", s->len, it->topic,
                     it->ns ? it->ns : "");
            pthread_cond_signal(&s->cv);
            continue;
        }
        atomic_fetch_add(&it->refs, 1);
        s->ring[(s->head + s->len) % s->cap] = it;
        s->len++;
        ex->stats.delivered++;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&ex->mu);
    item_unref(it);
}

/* An item for env, its payload of type desc (may be NULL) to be decoded from value (taken
 * over). */
static struct item *item_new(const Containerd__Types__Envelope *env,
                             const ProtobufCMessageDescriptor *desc, struct berth_bytes value)
{
    struct item *it = berth_xcalloc(1, sizeof(*it));

    atomic_store(&it->refs, 1);
    it->packed.len = protobuf_c_message_get_packed_size(&env->base);
    it->packed.data = berth_xmalloc(it->packed.len ? it->packed.len : 1);
    protobuf_c_message_pack(&env->base, it->packed.data);
    it->ns = env->namespace_ ? berth_xstrdup(env->namespace_) : NULL;
    it->topic = env->topic ? berth_xstrdup(env->topic) : NULL;
    it->desc = desc;
    it->value = value;
    return it;
}

void berth_events_publish(struct berth_events *ex, const char *ns, const char *topic,
                          const ProtobufCMessage *payload)
{
    Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    struct berth_bytes value = {0};
    struct timespec now;

    if (!ex)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    ts.seconds = now.tv_sec;
    ts.nanos = (int32_t)now.tv_nsec;
    any.type_url = (char *)payload->descriptor->name;
    value.len = protobuf_c_message_get_packed_size(payload);
    value.data = berth_xmalloc(value.len ? value.len : 1);
    protobuf_c_message_pack(payload, value.data);
    any.value.len = value.len;
    any.value.data = value.data;
    env.timestamp = &ts;
    env.namespace_ = (char *)ns;
    env.topic = (char *)topic;
    env.event = &any;
    deliver(ex, item_new(&env, payload->descriptor, value));
}

void berth_events_forward(struct berth_events *ex, const Containerd__Types__Envelope *env)
{
    const ProtobufCMessageDescriptor *d = NULL;
    struct berth_bytes value = {0};

    if (!ex)
        return;
    if (env->event) {
        d = berth_api_find_message(env->event->type_url);
        if (d && env->event->value.len) {
            value.data = berth_xmalloc(env->event->value.len);
            memcpy(value.data, env->event->value.data, env->event->value.len);
            value.len = env->event->value.len;
        }
    }
    deliver(ex, item_new(env, d, value));
}

int berth_events_subscribe(struct berth_events *ex, struct berth_filter *filter, size_t queue_len,
                           struct berth_events_sub **out, struct berth_err **err)
{
    struct berth_events_sub *s;

    *out = NULL;
    s = berth_xcalloc(1, sizeof(*s));
    s->ex = ex;
    s->filter = filter;
    s->cap = queue_len ? queue_len : BERTH_EVENTS_QUEUE_DEFAULT;
    s->ring = berth_xcalloc(s->cap, sizeof(*s->ring));
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_lock(&ex->mu);
    if (ex->closed) {
        pthread_mutex_unlock(&ex->mu);
        s->filter = NULL; /* stays with the caller on failure */
        berth_events_unsubscribe(s);
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "event exchange is shutting down");
    }
    s->next = ex->subs;
    ex->subs = s;
    ex->stats.subscribers++;
    pthread_mutex_unlock(&ex->mu);
    *out = s;
    return 0;
}

static bool timespec_passed(const struct timespec *until)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > until->tv_sec ||
           (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec);
}

int berth_events_sub_next(struct berth_events_sub *s, int timeout_ms, struct berth_bytes *out,
                          struct berth_err **err)
{
    struct berth_events *ex = s->ex;
    struct timespec until;

    out->data = NULL;
    out->len = 0;
    until = berth_timespec_in(CLOCK_REALTIME, timeout_ms);
    for (;;) {
        struct match_obj m = {0};
        struct item *it;
        bool match;

        pthread_mutex_lock(&ex->mu);
        while (!s->len && !s->dropped && !ex->closed) {
            if (pthread_cond_timedwait(&s->cv, &ex->mu, &until) == ETIMEDOUT)
                break;
        }
        if (s->dropped) {
            pthread_mutex_unlock(&ex->mu);
            return berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0,
                                 "subscriber fell %zu events behind and was dropped", s->cap);
        }
        if (!s->len) {
            bool closed = ex->closed;
            pthread_mutex_unlock(&ex->mu);
            if (closed)
                return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "server is shutting down");
            return 0;
        }
        it = s->ring[s->head];
        s->head = (s->head + 1) % s->cap;
        s->len--;
        pthread_mutex_unlock(&ex->mu);

        /* Outside the lock: publishers keep queueing while this subscriber's filter runs. */
        m.it = it;
        match = berth_filter_match(s->filter, envelope_field, &m);
        if (match) {
            out->data = berth_xmalloc(it->packed.len ? it->packed.len : 1);
            memcpy(out->data, it->packed.data, it->packed.len);
            out->len = it->packed.len;
        }
        item_unref(it);
        if (match)
            return 1;
        /* A stopped filter (berth_filter_set_stop) matches nothing any more; a costly one
         * over a long queue must still hand back control when the time is up. */
        if (berth_filter_stopped(s->filter) || timespec_passed(&until))
            return 0;
    }
}

void berth_events_unsubscribe(struct berth_events_sub *s)
{
    struct berth_events *ex;

    if (!s)
        return;
    ex = s->ex;
    pthread_mutex_lock(&ex->mu);
    for (struct berth_events_sub **p = &ex->subs; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            ex->stats.subscribers--;
            break;
        }
    }
    pthread_mutex_unlock(&ex->mu);
    while (s->len) {
        item_unref(s->ring[s->head]);
        s->head = (s->head + 1) % s->cap;
        s->len--;
    }
    pthread_cond_destroy(&s->cv);
    berth_filter_free(s->filter);
    free(s->ring);
    free(s);
}

void berth_events_stats(struct berth_events *ex, struct berth_events_stats *out)
{
    pthread_mutex_lock(&ex->mu);
    *out = ex->stats;
    pthread_mutex_unlock(&ex->mu);
}
