/* SPDX-License-Identifier: Apache-2.0 */
/* GetContainerEvents fan-out (see events.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"
#include "services/cri/cri-internal.h"
#include "services/cri/events.h"

#define SUB_QUEUE_MAX 1024

struct sub {
    struct sub *next;
    struct berth_bytes *q; /* ring of SUB_QUEUE_MAX */
    size_t head, n;
    bool dropped;
};

struct cri_event_hub {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct sub *subs;
    bool closed;
};

struct cri_event_hub *cri_event_hub_new(void)
{
    struct cri_event_hub *h = berth_xcalloc(1, sizeof(*h));
    pthread_condattr_t ca;

    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    return h;
}

void cri_event_hub_free(struct cri_event_hub *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->closed = true;
    pthread_cond_broadcast(&h->cond);
    /* Streams still inside cri_events_stream unlink their own subscription before returning;
     * berthd frees the CRI only after the server stopped, so none is left here. */
    pthread_mutex_unlock(&h->mu);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static void hub_publish(struct cri_event_hub *h, const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = berth_xmalloc(len ? len : 1);

    protobuf_c_message_pack(msg, buf);
    pthread_mutex_lock(&h->mu);
    for (struct sub *s = h->subs; s; s = s->next) {
        struct berth_bytes *slot;
        if (s->dropped)
            continue;
        if (s->n == SUB_QUEUE_MAX) {
            s->dropped = true;
            continue;
        }
        slot = &s->q[(s->head + s->n++) % SUB_QUEUE_MAX];
        slot->data = berth_xmalloc(len ? len : 1);
        memcpy(slot->data, buf, len);
        slot->len = len;
    }
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
    free(buf);
}

void cri_event_container(struct berth_cri *c, struct cri_container *k,
                         Runtime__V1__ContainerEventType type)
{
    Runtime__V1__ContainerEventResponse ev = RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT;
    Runtime__V1__ContainerStatus *cs = NULL;
    Runtime__V1__PodSandboxStatus *ps = NULL;
    struct cri_sandbox *s = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    if (!c->hub)
        return;
    pthread_mutex_lock(&c->hub->mu);
    if (!c->hub->subs) { /* nobody listens: build nothing */
        pthread_mutex_unlock(&c->hub->mu);
        return;
    }
    pthread_mutex_unlock(&c->hub->mu);
    ev.container_id = k->id;
    ev.container_event_type = type;
    ev.created_at = berth_now_ns();
    if (cri_sandbox_get(c, k->sandbox_id, &s, &e) == 0)
        ps = cri_sandbox_status_new(c, s);
    if (type != RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT)
        cs = cri_container_status_new(c, k);
    ev.pod_sandbox_status = ps;
    if (cs) {
        ev.containers_statuses = &cs;
        ev.n_containers_statuses = 1;
    }
    hub_publish(c->hub, &ev.base);
    if (cs)
        protobuf_c_message_free_unpacked(&cs->base, NULL);
    if (ps)
        protobuf_c_message_free_unpacked(&ps->base, NULL);
    cri_sandbox_put(c, s);
}

static void sub_unlink(struct cri_event_hub *h, struct sub *s)
{
    for (struct sub **p = &h->subs; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    for (size_t i = 0; i < s->n; i++)
        berth_bytes_clear(&s->q[(s->head + i) % SUB_QUEUE_MAX]);
    free(s->q);
    free(s);
}

int cri_events_stream(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_stream *st, struct berth_err **err)
{
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_event_hub *h;
    struct sub *s;
    int ret = 0;

    (void)in;
    if (!c)
        return -1;
    h = c->hub;
    s = berth_xcalloc(1, sizeof(*s));
    s->q = berth_xcalloc(SUB_QUEUE_MAX, sizeof(*s->q));
    pthread_mutex_lock(&h->mu);
    s->next = h->subs;
    h->subs = s;
    while (ret == 0) {
        struct berth_bytes b;
        struct timespec ts;

        if (h->closed) {
            ret = berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "berthd is stopping");
            break;
        }
        if (s->dropped) {
            ret = berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0,
                                "container events subscriber fell %d events behind", SUB_QUEUE_MAX);
            break;
        }
        if (s->n == 0) {
            pthread_mutex_unlock(&h->mu);
            if (berth_svc_ctx_done(ctx)) {
                pthread_mutex_lock(&h->mu);
                ret = berth_err_set(err, BERTH_E_CANCELED, 0, "client went away");
                break;
            }
            pthread_mutex_lock(&h->mu);
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            if (s->n == 0 && !h->closed)
                pthread_cond_timedwait(&h->cond, &h->mu, &ts);
            continue;
        }
        b = s->q[s->head];
        s->head = (s->head + 1) % SUB_QUEUE_MAX;
        s->n--;
        pthread_mutex_unlock(&h->mu);
        ret = berth_stream_send_bytes(st, b.data, b.len, err);
        berth_bytes_clear(&b);
        pthread_mutex_lock(&h->mu);
    }
    sub_unlink(h, s);
    pthread_mutex_unlock(&h->mu);
    return ret;
}
