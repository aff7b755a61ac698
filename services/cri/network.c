/* SPDX-License-Identifier: Apache-2.0 */
/* Pod networking: the CNI configuration, pod netns and CNI ADD/DEL (runtime/cni). */
#include <stdlib.h>
#include <string.h>

#include "lib/fs.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/cni/cni.h"
#include "runtime/cni/netns.h"
#include "services/cri/cri-internal.h"

void cri_cni_reload(struct berth_cri *c)
{
    struct berth_cni_opts o = {.conf_dir = c->cni_conf_dir,
                               .bin_dir = c->cni_bin_dir,
                               .cache_dir = c->cni_cache_dir,
                               .max_conf_num = 1};
    _cleanup_err_ struct berth_err *e = NULL;
    struct berth_cni *n = NULL;

    pthread_rwlock_rdlock(&c->cni_lock);
    if (c->cni && berth_cni_ready(c->cni)) {
        pthread_rwlock_unlock(&c->cni_lock);
        return;
    }
    pthread_rwlock_unlock(&c->cni_lock);
    if (berth_cni_load(&o, &n, &e) < 0) {
        log_warn("cri: CNI: %s", e->msg);
        return;
    }
    pthread_rwlock_wrlock(&c->cni_lock);
    if (berth_cni_ready(n) || !c->cni) {
        if (berth_cni_ready(n))
            log_info("cri: pod network \"%s\" loaded from %s", berth_cni_network_name(n),
                     c->cni_conf_dir);
        berth_cni_free(c->cni);
        c->cni = steal_ptr(n);
    }
    pthread_rwlock_unlock(&c->cni_lock);
    berth_cni_free(n);
}

void cri_cni_free(struct berth_cri *c)
{
    berth_cni_free(c->cni);
    c->cni = NULL;
}

bool cri_cni_ready(struct berth_cri *c, char **msg)
{
    bool ready;

    cri_cni_reload(c);
    pthread_rwlock_rdlock(&c->cni_lock);
    ready = c->cni && berth_cni_ready(c->cni);
    if (msg)
        *msg = ready ? NULL
                     : berth_xstrdup(c->cni ? berth_cni_status_message(c->cni)
                                            : "cni config not loaded");
    pthread_rwlock_unlock(&c->cni_lock);
    return ready;
}

static const char *proto_name(Runtime__V1__Protocol p)
{
    switch (p) {
    case RUNTIME__V1__PROTOCOL__UDP:
        return "udp";
    case RUNTIME__V1__PROTOCOL__SCTP:
        return "sctp";
    default:
        return "tcp";
    }
}

/* The attachment of s (ports and dns from its config); strings borrowed from s. */
struct attach_holder {
    struct berth_cni_attach a;
    struct berth_cni_port *ports;
    struct berth_cni_dns dns;
    const char **dnsv; /* NULL-terminated copies of the three lists, one allocation */
    char *args;
};

static void attach_fill(struct cri_sandbox *s, struct attach_holder *h)
{
    const Runtime__V1__PodSandboxConfig *cfg = s->config;
    const Runtime__V1__PodSandboxMetadata *md = cfg->metadata;

    memset(h, 0, sizeof(*h));
    h->args = berth_strdup_printf("IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;"
                                  "K8S_POD_INFRA_CONTAINER_ID=%s;K8S_POD_UID=%s",
                                  md->namespace_, md->name, s->id, md->uid);
    h->a.id = s->id;
    h->a.netns_path = s->netns_path;
    h->a.ifname = "eth0";
    h->a.args = h->args;
    h->ports = berth_xcalloc(cfg->n_port_mappings + 1, sizeof(*h->ports));
    for (size_t i = 0; i < cfg->n_port_mappings; i++) {
        const Runtime__V1__PortMapping *pm = cfg->port_mappings[i];
        /* A mapping without a host port asks for nothing (containerd skips it). */
        if (pm->host_port <= 0)
            continue;
        h->ports[h->a.n_ports++] =
            (struct berth_cni_port){.protocol = proto_name(pm->protocol),
                                    .container_port = pm->container_port,
                                    .host_port = pm->host_port,
                                    .host_ip = pm->host_ip && *pm->host_ip ? pm->host_ip : NULL};
    }
    h->a.ports = h->ports;
    if (cfg->dns_config) {
        const Runtime__V1__DNSConfig *d = cfg->dns_config;
        const char **v = berth_xcalloc(d->n_servers + d->n_searches + d->n_options + 3, sizeof(*v));
        h->dnsv = v;
        h->dns.servers = v;
        for (size_t i = 0; i < d->n_servers; i++)
            *v++ = d->servers[i];
        v++;
        h->dns.searches = v;
        for (size_t i = 0; i < d->n_searches; i++)
            *v++ = d->searches[i];
        v++;
        h->dns.options = v;
        for (size_t i = 0; i < d->n_options; i++)
            *v++ = d->options[i];
        h->a.dns = &h->dns;
    }
}

static void attach_clear(struct attach_holder *h)
{
    free(h->dnsv);
    free(h->ports);
    free(h->args);
}

int cri_netns_create(struct berth_cri *c, struct cri_sandbox *s, struct berth_err **err)
{
    _cleanup_free_ char *state = cri_sandbox_state(c, s->id), *intent = NULL;
    _cleanup_free_ char *intent_path = NULL, *path = NULL;
    char *msg = NULL;
    char name[64], id[65];

    if (!cri_cni_ready(c, &msg)) {
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "pod network is not ready: %s", msg);
        free(msg);
        return -1;
    }
    cri_new_id(id);
    snprintf(name, sizeof(name), "cni-%.8s-%.4s-%.4s-%.4s-%.12s", id, id + 8, id + 12, id + 16,
             id + 20);
    s->netns_path = berth_strdup_printf("%s/%s", c->netns_dir, name);
    /* The sandbox's record comes later (its spec names the netns), so a crash from here on
     * would leave a netns, and after CNI ADD an IP lease, veth and port rules, that nothing
     * names. What start-up needs to undo them goes to the sandbox's state dir first. */
    pthread_mutex_lock(&c->mu);
    intent = cri_sandbox_meta_json(s);
    pthread_mutex_unlock(&c->mu);
    intent_path = berth_strdup_printf("%s/" CRI_NETWORK_INTENT, state);
    if (berth_write_file_atomic(intent_path, intent, strlen(intent), 0600, err) < 0 ||
        berth_netns_create(c->netns_dir, name, &path, err) < 0) {
        free(steal_ptr(s->netns_path));
        return berth_err_wrap(err, "network namespace of sandbox \"%s\"", s->id);
    }
    return 0;
}

int cri_cni_attach(struct berth_cri *c, struct cri_sandbox *s, struct berth_err **err)
{
    struct attach_holder h;
    struct berth_cni_result res = {0};
    int ret;

    attach_fill(s, &h);
    pthread_rwlock_rdlock(&c->cni_lock);
    ret = berth_cni_add(c->cni, &h.a, &res, err);
    pthread_rwlock_unlock(&c->cni_lock);
    attach_clear(&h);
    if (ret < 0)
        return berth_err_wrap(err, "network of sandbox \"%s\"", s->id);
    pthread_mutex_lock(&c->mu);
    s->ip = steal_ptr(res.ip);
    if (res.n_extra_ips) {
        s->extra_ips = berth_xcalloc(res.n_extra_ips + 1, sizeof(char *));
        for (size_t i = 0; i < res.n_extra_ips; i++)
            s->extra_ips[i] = steal_ptr(res.extra_ips[i]);
    }
    s->cni_result = steal_ptr(res.raw_json);
    pthread_mutex_unlock(&c->mu);
    berth_cni_result_clear(&res);
    log_info("ns=%s sandbox=%s network %s ip=%s", CRI_NS, s->id, s->netns_path,
             s->ip ? s->ip : "-");
    return 0;
}

int cri_netns_remove(struct berth_cri *c, struct cri_sandbox *s, struct berth_err **err)
{
    (void)c;
    if (s->netns_path && berth_netns_remove(s->netns_path, err) < 0)
        return berth_err_wrap(err, "network namespace of sandbox \"%s\"", s->id);
    return 0;
}

int cri_network_teardown(struct berth_cri *c, struct cri_sandbox *s, struct berth_err **err)
{
    struct attach_holder h;
    int ret;

    if (!s->netns_path)
        return 0;
    attach_fill(s, &h);
    pthread_rwlock_rdlock(&c->cni_lock);
    ret = c->cni ? berth_cni_del(c->cni, &h.a, err) : 0;
    pthread_rwlock_unlock(&c->cni_lock);
    attach_clear(&h);
    if (ret < 0)
        return berth_err_wrap(err, "network teardown of sandbox \"%s\"", s->id);
    if (berth_netns_remove(s->netns_path, err) < 0)
        return berth_err_wrap(err, "network namespace of sandbox \"%s\"", s->id);
    return 0;
}
