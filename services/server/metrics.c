/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gRPC server's Prometheus families, named and labelled as go-grpc-prometheus names them
 * (what containerd serves): every method of every registered service gets its series at start,
 * as grpc_prometheus.Register pre-initialises them, so scrapes list methods never called and a
 * call only does relaxed atomic adds on series it already holds.
 */
#include <stdio.h>
#include <stdlib.h>

#include "services/server/server-internal.h"

static const char *type_label(enum berth_method_kind k)
{
    switch (k) {
    case BERTH_UNARY:
        return "unary";
    case BERTH_SERVER_STREAM:
        return "server_stream";
    case BERTH_BIDI_STREAM:
        break;
    }
    /* containerd's client-streaming RPCs (Content.Write) are declared bidi in the proto */
    return "bidi_stream";
}

int berth_server_metrics_init(struct berth_server *srv, struct berth_metrics *m, bool histogram,
                              struct berth_err **err)
{
    static const char *const labels[] = {"grpc_type", "grpc_service", "grpc_method", NULL};
    static const char *const code_labels[] = {"grpc_type", "grpc_service", "grpc_method",
                                              "grpc_code", NULL};
    struct berth_metrics_family *started, *handled, *recv, *sent, *seconds = NULL;
    size_t n = 0, k = 0;

    if (berth_metrics_family_add(m, BERTH_METRIC_COUNTER, "grpc_server_started_total",
                                 "Total number of RPCs started on the server.", labels, NULL, 0,
                                 &started, err) < 0 ||
        berth_metrics_family_add(m, BERTH_METRIC_COUNTER, "grpc_server_handled_total",
                                 "Total number of RPCs completed on the server, regardless of "
                                 "success or failure.",
                                 code_labels, NULL, 0, &handled, err) < 0 ||
        berth_metrics_family_add(m, BERTH_METRIC_COUNTER, "grpc_server_msg_received_total",
                                 "Total number of RPC stream messages received on the server.",
                                 labels, NULL, 0, &recv, err) < 0 ||
        berth_metrics_family_add(m, BERTH_METRIC_COUNTER, "grpc_server_msg_sent_total",
                                 "Total number of gRPC stream messages sent by the server.", labels,
                                 NULL, 0, &sent, err) < 0)
        return -1;
    if (histogram &&
        berth_metrics_family_add(m, BERTH_METRIC_HISTOGRAM, "grpc_server_handling_seconds",
                                 "Histogram of response latency (seconds) of gRPC that had been "
                                 "application-level handled by the server.",
                                 labels, NULL, 0, &seconds, err) < 0)
        return -1;
    srv->mm_base = berth_xcalloc(srv->n_svcs + 1, sizeof(size_t));
    for (size_t i = 0; i < srv->n_svcs; i++) {
        srv->mm_base[i] = n;
        n += srv->svcs[i]->n_methods;
    }
    srv->mm_base[srv->n_svcs] = n;
    srv->mm = berth_xcalloc(n ? n : 1, sizeof(*srv->mm));
    for (size_t i = 0; i < srv->n_svcs; i++) {
        const struct berth_service *s = srv->svcs[i];
        for (size_t j = 0; j < s->n_methods; j++, k++) {
            const char *v[] = {type_label(s->methods[j].kind), s->desc->name, s->methods[j].name,
                               NULL, NULL};
            struct method_metrics *mm = &srv->mm[k];
            mm->started = berth_metrics_counter(started, v);
            mm->received = berth_metrics_counter(recv, v);
            mm->sent = berth_metrics_counter(sent, v);
            mm->seconds = berth_metrics_histogram(seconds, v);
            for (int c = 0; c < BERTH_GRPC_N_CODES; c++) {
                v[3] = berth_grpc_code_name(c);
                mm->handled[c] = berth_metrics_counter(handled, v);
            }
        }
    }
    return 0;
}

struct method_metrics *berth_server_method_metrics(const struct berth_server *srv,
                                                   const struct berth_method *m)
{
    if (!srv->mm || !m)
        return NULL;
    /* A pointer range per service: a dozen compares, no string lookup. */
    for (size_t i = 0; i < srv->n_svcs; i++) {
        const struct berth_service *s = srv->svcs[i];
        if (m >= s->methods && m < s->methods + s->n_methods)
            return &srv->mm[srv->mm_base[i] + (size_t)(m - s->methods)];
    }
    return NULL;
}

void berth_server_metrics_handled(struct berth_call *c, int grpc_code)
{
    struct method_metrics *mm = c->mm;

    if (!mm)
        return;
    c->mm = NULL; /* once per call */
    if (grpc_code < 0 || grpc_code >= BERTH_GRPC_N_CODES)
        grpc_code = BERTH_GRPC_UNKNOWN;
    berth_counter_inc(mm->handled[grpc_code]);
    if (mm->seconds)
        berth_histogram_observe(mm->seconds, (double)(berth_mono_ns() - c->started) / 1e9);
}
