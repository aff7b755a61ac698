/* SPDX-License-Identifier: Apache-2.0 */
/* Event exchange (see exchange.h). One mutex guards the subscriber list and every queue; the
 * work done under it is a filter match and a pointer push per subscriber. */
#define BERTH_LOG_SUBSYS "events"

#include "services/events/exchange.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/registry.h"
#include "google/protobuf/any.pb-c.h"
#include "lib/ident.h"
#include "lib/log.h"

/* One published envelope, shared by the queues holding it. */
struct item {
    atomic_int refs;
    struct berth_bytes packed;
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
    if (atomic_fetch_sub(&it->refs, 1) == 1) {
        berth_bytes_clear(&it->packed);
        free(it);
    }
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
    const char *ns, *topic;
    const ProtobufCMessage *payload; /* may be NULL */
    char scratch[32];
};

static const char *envelope_field(void *obj, const char *const *path, size_t n, bool *present)
{
    struct match_obj *m = obj;
    const ProtobufCFieldDescriptor *fd;
    const char *base;

    *present = false;
    if (n == 1 && strcmp(path[0], "namespace") == 0) {
        *present = m->ns && *m->ns;
        return m->ns;
    }
    if (n == 1 && strcmp(path[0], "topic") == 0) {
        *present = m->topic && *m->topic;
        return m->topic;
    }
    if (n != 2 || strcmp(path[0], "event") != 0 || !m->payload)
        return NULL;
    fd = protobuf_c_message_descriptor_get_field_by_name(m->payload->descriptor, path[1]);
    if (!fd || fd->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    base = (const char *)m->payload + fd->offset;
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

/* Hands one packed envelope to every matching subscriber; consumes the caller's reference. */
static void deliver(struct berth_events *ex, struct item *it, struct match_obj *m)
{
    pthread_mutex_lock(&ex->mu);
    ex->stats.published++;
    for (struct berth_events_sub *s = ex->subs; s; s = s->next) {
        if (s->dropped || !berth_filter_match(s->filter, envelope_field, m))
            continue;
        if (s->len == s->cap) {
            /* Never wait for a reader: cut it loose instead. */
            s->dropped = true;
            ex->stats.dropped_subscribers++;
            log_warn("dropping a subscriber %zu events behind (topic %s ns %s)", s->len, m->topic,
                     m->ns);
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

static struct item *pack_envelope(const Containerd__Types__Envelope *env)
{
    struct item *it = berth_xcalloc(1, sizeof(*it));

    atomic_store(&it->refs, 1);
    it->packed.len = protobuf_c_message_get_packed_size(&env->base);
    it->packed.data = berth_xmalloc(it->packed.len);
    protobuf_c_message_pack(&env->base, it->packed.data);
    return it;
}

void berth_events_publish(struct berth_events *ex, const char *ns, const char *topic,
                          const ProtobufCMessage *payload)
{
    Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    struct match_obj m = {.ns = ns, .topic = topic, .payload = payload};
    _cleanup_free_ uint8_t *buf = NULL;
    struct timespec now;

    if (!ex)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    ts.seconds = now.tv_sec;
    ts.nanos = (int32_t)now.tv_nsec;
    any.type_url = (char *)payload->descriptor->name;
    any.value.len = protobuf_c_message_get_packed_size(payload);
    buf = berth_xmalloc(any.value.len);
    protobuf_c_message_pack(payload, buf);
    any.value.data = buf;
    env.timestamp = &ts;
    env.namespace_ = (char *)ns;
    env.topic = (char *)topic;
    env.event = &any;
    deliver(ex, pack_envelope(&env), &m);
}

void berth_events_forward(struct berth_events *ex, const Containerd__Types__Envelope *env)
{
    struct match_obj m = {.ns = env->namespace_, .topic = env->topic};
    const ProtobufCMessageDescriptor *d = NULL;
    ProtobufCMessage *payload = NULL;

    if (env->event) {
        d = berth_api_find_message(env->event->type_url);
        if (d)
            payload =
                protobuf_c_message_unpack(d, NULL, env->event->value.len, env->event->value.data);
    }
    m.payload = payload;
    deliver(ex, pack_envelope(env), &m);
    if (payload)
        protobuf_c_message_free_unpacked(payload, NULL);
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

int berth_events_sub_next(struct berth_events_sub *s, int timeout_ms, struct berth_bytes *out,
                          struct berth_err **err)
{
    struct berth_events *ex = s->ex;
    struct timespec until;
    struct item *it;

    out->data = NULL;
    out->len = 0;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
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
    out->data = berth_xmalloc(it->packed.len ? it->packed.len : 1);
    memcpy(out->data, it->packed.data, it->packed.len);
    out->len = it->packed.len;
    item_unref(it);
    return 1;
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
