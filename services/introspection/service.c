/* SPDX-License-Identifier: Apache-2.0 */
/* Introspection service: the plugins berthd is made of (in containerd's plugin vocabulary, so
 * `ctr plugins ls` reads naturally) and the server's identity. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/services/introspection/v1/introspection.pb-c.h"
#include "lib/filters.h"
#include "services/services.h"

struct plugin_info {
    const char *type, *id;
    const char *requires[4];
};

/* What this build really provides; later issues add content, snapshots, runtime, CRI. */
static const struct plugin_info plugins[] = {
    {"io.containerd.metadata.v1", "lmdb", {NULL}},
    {"io.containerd.lease.v1", "manager", {"io.containerd.metadata.v1"}},
    {"io.containerd.service.v1", "containers-service", {"io.containerd.metadata.v1"}},
    {"io.containerd.service.v1", "content-service", {"io.containerd.metadata.v1"}},
    {"io.containerd.service.v1", "namespaces-service", {"io.containerd.metadata.v1"}},
    {"io.containerd.service.v1", "introspection-service", {NULL}},
    {"io.containerd.event.v1", "exchange", {NULL}},
    {"io.containerd.content.v1", "content", {NULL}},
    {"io.containerd.grpc.v1", "containers", {"io.containerd.service.v1"}},
    {"io.containerd.grpc.v1", "content", {"io.containerd.service.v1"}},
    {"io.containerd.grpc.v1", "events", {"io.containerd.event.v1"}},
    {"io.containerd.grpc.v1", "introspection", {"io.containerd.service.v1"}},
    {"io.containerd.grpc.v1", "leases", {"io.containerd.lease.v1"}},
    {"io.containerd.grpc.v1", "namespaces", {"io.containerd.service.v1"}},
    {"io.containerd.grpc.v1", "snapshots", {"io.containerd.service.v1"}},
    {"io.containerd.snapshotter.v1", "native", {NULL}},
    {"io.containerd.snapshotter.v1", "overlayfs", {NULL}},
    {"io.containerd.service.v1", "snapshots-service", {"io.containerd.metadata.v1"}},
    {"io.containerd.grpc.v1", "version", {NULL}},
    {"io.containerd.service.v1", "images-service", {"io.containerd.metadata.v1"}},
    {"io.containerd.service.v1", "diff-service", {"io.containerd.differ.v1"}},
    {"io.containerd.differ.v1", "walking", {"io.containerd.metadata.v1"}},
    {"io.containerd.grpc.v1", "images", {"io.containerd.service.v1"}},
    {"io.containerd.grpc.v1", "diff", {"io.containerd.service.v1"}},
    {"io.containerd.runtime.v2", "task", {"io.containerd.event.v1", "io.containerd.metadata.v1"}},
    {"io.containerd.service.v1", "tasks-service", {"io.containerd.runtime.v2"}},
    {"io.containerd.grpc.v1", "tasks", {"io.containerd.service.v1"}},
    {"io.containerd.gc.v1", "scheduler", {"io.containerd.metadata.v1"}},
    {"io.berth.grpc.v1", "gc", {"io.containerd.gc.v1"}},
};

static const char *plugin_field(void *obj, const char *const *path, size_t n, bool *present)
{
    const struct plugin_info *p = obj;

    *present = false;
    if (n != 1)
        return NULL;
    if (strcmp(path[0], "type") == 0) {
        *present = true;
        return p->type;
    }
    if (strcmp(path[0], "id") == 0) {
        *present = true;
        return p->id;
    }
    return NULL;
}

static int introspection_plugins(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                                 struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Introspection__V1__PluginsRequest *req = (const void *)in;
    Containerd__Services__Introspection__V1__PluginsResponse resp =
        CONTAINERD__SERVICES__INTROSPECTION__V1__PLUGINS_RESPONSE__INIT;
    Containerd__Services__Introspection__V1__Plugin pbs[BERTH_N(plugins)];
    Containerd__Services__Introspection__V1__Plugin *ptrs[BERTH_N(plugins)];
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    size_t n = 0;

    if (berth_filter_parse((const char *const *)req->filters, req->n_filters, &f, err) < 0)
        return -1;
    berth_svc_filter_watch(f, ctx);
    for (size_t i = 0; i < BERTH_N(plugins); i++) {
        const struct plugin_info *p = &plugins[i];
        if (!berth_filter_match(f, plugin_field, (void *)p))
            continue;
        containerd__services__introspection__v1__plugin__init(&pbs[n]);
        pbs[n].type = (char *)p->type;
        pbs[n].id = (char *)p->id;
        while (pbs[n].n_requires < BERTH_N(p->requires) && p->requires[pbs[n].n_requires])
            pbs[n].n_requires++;
        pbs[n].requires = (char **)p->requires;
        ptrs[n] = &pbs[n];
        n++;
    }
    if (berth_svc_filter_check(f, ctx, "plugins", err) < 0)
        return -1;
    resp.n_plugins = n;
    resp.plugins = ptrs;
    berth_svc_pack(out, &resp.base);
    return 0;
}

static int introspection_server(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                                struct berth_bytes *out, struct berth_err **err)
{
    Containerd__Services__Introspection__V1__ServerResponse resp =
        CONTAINERD__SERVICES__INTROSPECTION__V1__SERVER_RESPONSE__INIT;
    struct stat st;

    resp.uuid = (char *)berth_meta_db_uuid(berth_svc_app(ctx)->db);
    resp.pid = (uint64_t)getpid();
    if (stat("/proc/self/ns/pid", &st) == 0)
        resp.pidns = (uint64_t)st.st_ino;
    berth_svc_pack(out, &resp.base);
    return 0;
}

static const struct berth_method methods[] = {
    /* Not on the completion-queue thread: the request may carry any number of costly `~=`
     * filters, each matched against every plugin. */
    {"Plugins", BERTH_UNARY, BERTH_NS_OPTIONAL, .nonblocking = true, .listing = true,
     .unary = introspection_plugins},
    {"Server", BERTH_UNARY, BERTH_NS_OPTIONAL, .nonblocking = true, .unary = introspection_server},
};

const struct berth_service berth_svc_introspection = {
    &containerd__services__introspection__v1__introspection__descriptor, methods, BERTH_N(methods)};
