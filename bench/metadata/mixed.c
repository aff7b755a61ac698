/* SPDX-License-Identifier: Apache-2.0 */
/* The mixed load (see mixed.h): the call mix, per-client state (a Create is followed by the
 * Delete of what it made), per-kind latencies and gRPC codes, and the preload and cleanup
 * done with the blocking client. */
#include "bench/metadata/mixed.h"

#include <grpc/grpc.h> /* GRPC_STATUS_OK */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/services/containers/v1/containers.pb-c.h"
#include "api/services/content/v1/content.pb-c.h"
#include "api/services/images/v1/images.pb-c.h"
#include "api/services/leases/v1/leases.pb-c.h"
#include "api/services/namespaces/v1/namespace.pb-c.h"
#include "api/services/snapshots/v1/snapshots.pb-c.h"
#include "api/services/tasks/v1/tasks.pb-c.h"
#include "bench/metadata/async.h"
#include "client/client.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "lib/status.h" /* berth_grpc_code_name */
#include "lib/util.h"

#define CTRS           "/containerd.services.containers.v1.Containers/"
#define PICK_LABEL     "bench.berth.dev/pick" /* preloaded record i carries i % 10 */
#define TOUCH_LABEL    "bench.berth.dev/touched"
#define N_CODES        (BERTH_GRPC_N_CODES + 1) /* the last counts local failures (-1) */
#define MISSING_DIGEST "sha256:0000000000000000000000000000000000000000000000000000000000000000"

enum kind {
    K_GET,
    K_GET_MISSING,
    K_LIST_FILTERED,
    K_UPDATE,
    K_CREATE,
    K_DELETE, /* follows each successful Create of the client */
    K_NS_LIST,
    K_VERSION,
    K_IMAGES_LIST,
    K_TASKS_LIST,
    K_CONTENT_INFO_MISSING,
    K_SNAPSHOT_STAT_MISSING,
    K_LEASE_CREATE,
    K_LEASE_DELETE, /* follows each successful lease Create */
    N_KINDS
};

static const struct {
    const char *name, *method;
    int weight; /* share of the calls a client chooses freely */
    int expect; /* the gRPC code the call should end with */
} kinds[N_KINDS] = {
    [K_GET] = {"containers.Get", CTRS "Get", 25, GRPC_STATUS_OK},
    [K_GET_MISSING] = {"containers.Get(missing)", CTRS "Get", 5, GRPC_STATUS_NOT_FOUND},
    [K_LIST_FILTERED] = {"containers.List(filter)", CTRS "List", 8, GRPC_STATUS_OK},
    [K_UPDATE] = {"containers.Update", CTRS "Update", 8, GRPC_STATUS_OK},
    [K_CREATE] = {"containers.Create", CTRS "Create", 10, GRPC_STATUS_OK},
    [K_DELETE] = {"containers.Delete", CTRS "Delete", 0, GRPC_STATUS_OK},
    [K_NS_LIST] = {"namespaces.List", "/containerd.services.namespaces.v1.Namespaces/List", 4,
                   GRPC_STATUS_OK},
    [K_VERSION] = {"version.Version", "/containerd.services.version.v1.Version/Version", 4,
                   GRPC_STATUS_OK},
    [K_IMAGES_LIST] = {"images.List", "/containerd.services.images.v1.Images/List", 4,
                       GRPC_STATUS_OK},
    [K_TASKS_LIST] = {"tasks.List", "/containerd.services.tasks.v1.Tasks/List", 4, GRPC_STATUS_OK},
    [K_CONTENT_INFO_MISSING] = {"content.Info(missing)",
                                "/containerd.services.content.v1.Content/Info", 4,
                                GRPC_STATUS_NOT_FOUND},
    [K_SNAPSHOT_STAT_MISSING] = {"snapshots.Stat(missing)",
                                 "/containerd.services.snapshots.v1.Snapshots/Stat", 4,
                                 GRPC_STATUS_NOT_FOUND},
    [K_LEASE_CREATE] = {"leases.Create", "/containerd.services.leases.v1.Leases/Create", 4,
                        GRPC_STATUS_OK},
    [K_LEASE_DELETE] = {"leases.Delete", "/containerd.services.leases.v1.Leases/Delete", 0,
                        GRPC_STATUS_OK},
};

struct kind_stats {
    uint64_t *lat; /* ns, every call that got an answer */
    size_t n, cap;
    uint64_t codes[N_CODES];
};

struct client_state {
    uint32_t rng;
    uint64_t seq;
    enum kind pending; /* K_DELETE or K_LEASE_DELETE of `id`, else N_KINDS */
    enum kind last;
    char id[96];
};

struct mixed {
    const struct bench_mixed_opts *o;
    struct client_state *cl;
    struct kind_stats st[N_KINDS];
    int weight_total;
    /* the record template Create and the preload send */
    Containerd__Services__Containers__V1__Container__LabelsEntry label_run, label_pick;
    Containerd__Services__Containers__V1__Container__LabelsEntry *labels[1];
    Containerd__Services__Containers__V1__Container__Runtime runtime;
    Google__Protobuf__Any spec;
};

/* ~1.5 KB, the size of a runc spec for `busybox sh`; stored and returned, opaque to both */
static const char spec_json[] =
    "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
    "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"cwd\":\"/"
    "\",\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_"
    "FOWNER\",\"CAP_MKNOD\",\"CAP_NET_RAW\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_"
    "SETPCAP\",\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\",\"CAP_AUDIT_WRITE\"]},"
    "\"noNewPrivileges\":true},\"root\":{\"path\":\"rootfs\"},\"hostname\":\"bench\",\"mounts\":[{"
    "\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\",\"options\":[\"nosuid\","
    "\"noexec\",\"nodev\"]},{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
    "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},{\"destination\":\"/"
    "dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\",\"noexec\",\"nodev\","
    "\"mode=1777\",\"size=65536k\"]},{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":"
    "\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]}],\"linux\":{\"resources\":{"
    "\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},\"cgroupsPath\":\"/default/bench\","
    "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},"
    "{\"type\":\"network\"}],\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\","
    "\"/proc/keys\",\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/"
    "sched_debug\",\"/sys/firmware\",\"/proc/scsi\"],\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\","
    "\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]}}";

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void pack(const ProtobufCMessage *m, struct bench_async_call *out)
{
    out->len = protobuf_c_message_get_packed_size(m);
    out->body = berth_xmalloc(out->len ? out->len : 1);
    protobuf_c_message_pack(m, out->body);
}

/* The container record of id; pick >= 0 adds the PICK_LABEL the filtered List looks for. */
static void container_init(struct mixed *m, Containerd__Services__Containers__V1__Container *c,
                           const char *id)
{
    *c = (Containerd__Services__Containers__V1__Container)
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    c->id = (char *)id;
    c->n_labels = 1;
    c->labels = m->labels;
    c->image = (char *)"docker.io/library/busybox:latest";
    c->runtime = &m->runtime;
    c->spec = &m->spec;
}

static void preload_id(const struct mixed *m, int i, char *buf, size_t len)
{
    snprintf(buf, len, "%s-pre-%d", m->o->id_prefix, i);
}

static enum kind choose(struct mixed *m, struct client_state *c)
{
    int r;

    if (c->pending != N_KINDS)
        return c->pending;
    r = (int)(xorshift32(&c->rng) % (uint32_t)m->weight_total);
    for (int k = 0; k < N_KINDS; k++) {
        if (r < kinds[k].weight)
            return (enum kind)k;
        r -= kinds[k].weight;
    }
    return K_GET;
}

static void next_cb(int client, void *arg, struct bench_async_call *out)
{
    struct mixed *m = arg;
    struct client_state *c = &m->cl[client];
    enum kind k = choose(m, c);
    char id[96], filter[128], touched[24];

    c->last = k;
    out->kind = (int)k;
    out->method = kinds[k].method;
    preload_id(m, (int)(xorshift32(&c->rng) % (uint32_t)m->o->preload), id, sizeof(id));
    switch (k) {
    case K_GET:
    case K_GET_MISSING: {
        Containerd__Services__Containers__V1__GetContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;

        if (k == K_GET_MISSING)
            snprintf(id, sizeof(id), "%s-missing-%d", m->o->id_prefix, client);
        req.id = id;
        pack(&req.base, out);
        break;
    }
    case K_LIST_FILTERED: {
        Containerd__Services__Containers__V1__ListContainersRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
        char *filters[1] = {filter};

        /* a tenth of the preloaded records: ~15 KB of answer */
        snprintf(filter, sizeof(filter), "labels.\"" PICK_LABEL "\"==%u", xorshift32(&c->rng) % 10);
        req.n_filters = 1;
        req.filters = filters;
        pack(&req.base, out);
        break;
    }
    case K_UPDATE: {
        Containerd__Services__Containers__V1__UpdateContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__UPDATE_CONTAINER_REQUEST__INIT;
        Containerd__Services__Containers__V1__Container rec =
            CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
        Containerd__Services__Containers__V1__Container__LabelsEntry l =
            CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__LABELS_ENTRY__INIT;
        Containerd__Services__Containers__V1__Container__LabelsEntry *ls[1] = {&l};
        Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
        char *paths[1] = {(char *)"labels." TOUCH_LABEL};

        snprintf(touched, sizeof(touched), "%" PRIu64, c->seq++);
        l.key = (char *)TOUCH_LABEL;
        l.value = touched;
        rec.id = id;
        rec.n_labels = 1;
        rec.labels = ls;
        mask.n_paths = 1;
        mask.paths = paths;
        req.container = &rec;
        req.update_mask = &mask;
        pack(&req.base, out);
        break;
    }
    case K_CREATE: {
        Containerd__Services__Containers__V1__CreateContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
        Containerd__Services__Containers__V1__Container rec;

        snprintf(c->id, sizeof(c->id), "%s-c%d-%" PRIu64, m->o->id_prefix, client, c->seq++);
        container_init(m, &rec, c->id);
        req.container = &rec;
        pack(&req.base, out);
        break;
    }
    case K_DELETE: {
        Containerd__Services__Containers__V1__DeleteContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;

        req.id = c->id;
        pack(&req.base, out);
        break;
    }
    case K_NS_LIST: {
        Containerd__Services__Namespaces__V1__ListNamespacesRequest req =
            CONTAINERD__SERVICES__NAMESPACES__V1__LIST_NAMESPACES_REQUEST__INIT;

        pack(&req.base, out);
        break;
    }
    case K_VERSION:
        out->body = berth_xmalloc(1); /* google.protobuf.Empty: no bytes */
        out->len = 0;
        break;
    case K_IMAGES_LIST: {
        Containerd__Services__Images__V1__ListImagesRequest req =
            CONTAINERD__SERVICES__IMAGES__V1__LIST_IMAGES_REQUEST__INIT;

        pack(&req.base, out);
        break;
    }
    case K_TASKS_LIST: {
        Containerd__Services__Tasks__V1__ListTasksRequest req =
            CONTAINERD__SERVICES__TASKS__V1__LIST_TASKS_REQUEST__INIT;

        pack(&req.base, out);
        break;
    }
    case K_CONTENT_INFO_MISSING: {
        Containerd__Services__Content__V1__InfoRequest req =
            CONTAINERD__SERVICES__CONTENT__V1__INFO_REQUEST__INIT;

        req.digest = (char *)MISSING_DIGEST;
        pack(&req.base, out);
        break;
    }
    case K_SNAPSHOT_STAT_MISSING: {
        Containerd__Services__Snapshots__V1__StatSnapshotRequest req =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;

        req.snapshotter = (char *)"overlayfs";
        snprintf(id, sizeof(id), "%s-missing-%d", m->o->id_prefix, client);
        req.key = id;
        pack(&req.base, out);
        break;
    }
    case K_LEASE_CREATE: {
        Containerd__Services__Leases__V1__CreateRequest req =
            CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;

        snprintf(c->id, sizeof(c->id), "%s-l%d-%" PRIu64, m->o->id_prefix, client, c->seq++);
        req.id = c->id;
        pack(&req.base, out);
        break;
    }
    case K_LEASE_DELETE: {
        Containerd__Services__Leases__V1__DeleteRequest req =
            CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;

        req.id = c->id;
        pack(&req.base, out);
        break;
    }
    case N_KINDS:
        abort();
    }
}

static void done_cb(int client, int kind, int grpc_status, int64_t lat_ns, void *arg)
{
    struct mixed *m = arg;
    struct client_state *c = &m->cl[client];
    struct kind_stats *s = &m->st[kind];
    int code = grpc_status >= 0 && grpc_status < BERTH_GRPC_N_CODES ? grpc_status : N_CODES - 1;

    s->codes[code]++;
    if (lat_ns > 0)
        berth_vec_push(s->lat, s->n, s->cap, (uint64_t)lat_ns);
    /* a made record is removed by the client's next call; a failed Delete is not retried (the
     * cleanup removes it) */
    if (kind == K_CREATE && grpc_status == GRPC_STATUS_OK)
        c->pending = K_DELETE;
    else if (kind == K_LEASE_CREATE && grpc_status == GRPC_STATUS_OK)
        c->pending = K_LEASE_DELETE;
    else if (kind == K_DELETE || kind == K_LEASE_DELETE)
        c->pending = N_KINDS;
}

static const char *code_name(int code)
{
    return code == N_CODES - 1 ? "local" : berth_grpc_code_name(code);
}

/* Prints the per-kind lines and the total; returns the number of unexpected codes. */
static uint64_t report(struct mixed *m, double secs)
{
    const struct bench_mixed_opts *o = m->o;
    uint64_t unexpected_all = 0, expected_err_all = 0, calls_all = 0;
    size_t n_all = 0, k_all = 0;
    uint64_t *all;

    for (int k = 0; k < N_KINDS; k++)
        n_all += m->st[k].n;
    all = berth_xmalloc((n_all ? n_all : 1) * sizeof(*all));
    for (int k = 0; k < N_KINDS; k++) {
        struct kind_stats *s = &m->st[k];
        uint64_t calls = 0, unexpected = 0;
        char codes[512];
        size_t off = 0;

        for (int c = 0; c < N_CODES; c++) {
            if (!s->codes[c])
                continue;
            calls += s->codes[c];
            if (c != kinds[k].expect)
                unexpected += s->codes[c];
            else if (c != GRPC_STATUS_OK)
                expected_err_all += s->codes[c];
            off += (size_t)snprintf(codes + off, sizeof(codes) - off, "%s%s:%" PRIu64,
                                    off ? "," : "", code_name(c), s->codes[c]);
        }
        if (!off)
            snprintf(codes, sizeof(codes), "-");
        if (s->n) { /* a kind that never ran has no buffer */
            memcpy(all + k_all, s->lat, s->n * sizeof(*all));
            k_all += s->n;
            qsort(s->lat, s->n, sizeof(*s->lat), bench_cmp_u64);
        }
        printf("label=%s op=mixed kind=%s clients=%d calls=%" PRIu64 " p50_us=%" PRIu64
               " p99_us=%" PRIu64 " max_us=%" PRIu64 " expect=%s codes=%s unexpected=%" PRIu64 "\n",
               o->label, kinds[k].name, o->clients, calls,
               bench_percentile(s->lat, s->n, 0.50) / 1000,
               bench_percentile(s->lat, s->n, 0.99) / 1000, s->n ? s->lat[s->n - 1] / 1000 : 0,
               code_name(kinds[k].expect), codes, unexpected);
        calls_all += calls;
        unexpected_all += unexpected;
    }
    qsort(all, n_all, sizeof(*all), bench_cmp_u64);
    printf("label=%s op=mixed kind=all clients=%d connections=%d calls=%" PRIu64
           " secs=%.2f calls_per_s=%.0f p50_us=%" PRIu64 " p99_us=%" PRIu64 " max_us=%" PRIu64
           " expected_errors=%" PRIu64 " unexpected=%" PRIu64 "\n",
           o->label, o->clients, o->one_connection ? 1 : o->clients, calls_all, secs,
           secs > 0 ? (double)calls_all / secs : 0, bench_percentile(all, n_all, 0.50) / 1000,
           bench_percentile(all, n_all, 0.99) / 1000, n_all ? all[n_all - 1] / 1000 : 0,
           expected_err_all, unexpected_all);
    fflush(stdout);
    free(all);
    return unexpected_all;
}

/* Blocking calls outside the timed run: preload (fail fast) and cleanup (best effort). */
static int preload(struct mixed *m, struct berth_client *cl, struct berth_err **err)
{
    char id[96], pick[4];

    for (int i = 0; i < m->o->preload; i++) {
        Containerd__Services__Containers__V1__CreateContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
        Containerd__Services__Containers__V1__Container rec;
        Containerd__Services__Containers__V1__Container__LabelsEntry *ls[2] = {&m->label_run,
                                                                               &m->label_pick};
        ProtobufCMessage *resp = NULL;

        preload_id(m, i, id, sizeof(id));
        snprintf(pick, sizeof(pick), "%d", i % 10);
        m->label_pick.value = pick;
        container_init(m, &rec, id);
        rec.n_labels = 2;
        rec.labels = ls;
        req.container = &rec;
        if (berth_client_unary(
                cl, CTRS "Create", &req.base,
                &containerd__services__containers__v1__create_container_response__descriptor, &resp,
                err) < 0)
            return berth_err_wrap(err, "preload \"%s\"", id);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return 0;
}

static void delete_quietly(struct berth_client *cl, const char *method, const ProtobufCMessage *req)
{
    _cleanup_err_ struct berth_err *e = NULL;
    ProtobufCMessage *resp = NULL;

    if (berth_client_unary(cl, method, req, &google__protobuf__empty__descriptor, &resp, &e) == 0)
        protobuf_c_message_free_unpacked(resp, NULL);
}

static void cleanup(struct mixed *m, struct berth_client *cl, int preloaded)
{
    char id[96];

    for (int i = 0; i < preloaded; i++) {
        Containerd__Services__Containers__V1__DeleteContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;

        preload_id(m, i, id, sizeof(id));
        req.id = id;
        delete_quietly(cl, CTRS "Delete", &req.base);
    }
    for (int i = 0; m->cl && i < m->o->clients; i++) {
        struct client_state *c = &m->cl[i];

        if (c->pending == K_DELETE) {
            Containerd__Services__Containers__V1__DeleteContainerRequest req =
                CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;

            req.id = c->id;
            delete_quietly(cl, kinds[K_DELETE].method, &req.base);
        } else if (c->pending == K_LEASE_DELETE) {
            Containerd__Services__Leases__V1__DeleteRequest req =
                CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;

            req.id = c->id;
            delete_quietly(cl, kinds[K_LEASE_DELETE].method, &req.base);
        }
    }
}

int bench_mixed_run(const struct bench_mixed_opts *o, struct berth_err **err)
{
    _cleanup_free_ char *target = NULL;
    struct berth_client *cl = NULL;
    struct mixed m = {.o = o};
    struct bench_async_opts ao = {.ns = o->ns,
                                  .clients = o->clients,
                                  .own_connections = !o->one_connection,
                                  .call_timeout_ms = o->call_timeout_ms};
    int64_t t0;
    int ret = -1;

    if (o->preload < 10)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "mixed needs --preload >= 10");
    target = berth_client_target_for(o->address, err);
    if (!target)
        return -1;
    ao.target = target;
    for (int k = 0; k < N_KINDS; k++)
        m.weight_total += kinds[k].weight;
    m.label_run = (Containerd__Services__Containers__V1__Container__LabelsEntry)
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__LABELS_ENTRY__INIT;
    m.label_run.key = (char *)"bench.berth.dev/run";
    m.label_run.value = (char *)o->id_prefix;
    m.label_pick = m.label_run;
    m.label_pick.key = (char *)PICK_LABEL;
    m.labels[0] = &m.label_run;
    m.runtime = (Containerd__Services__Containers__V1__Container__Runtime)
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    m.runtime.name = (char *)"io.containerd.runc.v2";
    m.spec = (Google__Protobuf__Any)GOOGLE__PROTOBUF__ANY__INIT;
    m.spec.type_url = (char *)"types.containerd.io/opencontainers/runtime-spec/1/Spec";
    m.spec.value.data = (uint8_t *)spec_json;
    m.spec.value.len = sizeof(spec_json) - 1;

    if (berth_client_open(o->address, o->ns, 60000, &cl, err) < 0)
        return -1;
    if (preload(&m, cl, err) < 0) {
        cleanup(&m, cl, o->preload);
        goto out;
    }
    m.cl = berth_xcalloc((size_t)o->clients, sizeof(*m.cl));
    for (int i = 0; i < o->clients; i++)
        m.cl[i] =
            (struct client_state){.rng = 2463534242u + 7919u * (uint32_t)i, .pending = N_KINDS};
    t0 = berth_mono_ns();
    ao.deadline_mono_ns = t0 + (int64_t)(o->duration_s * 1e9);
    if (bench_async_drive(&ao, next_cb, done_cb, &m, err) == 0)
        ret = report(&m, (double)(berth_mono_ns() - t0) / 1e9) ? 1 : 0;
    cleanup(&m, cl, o->preload);
out:
    berth_client_close(cl);
    for (int k = 0; k < N_KINDS; k++)
        free(m.st[k].lat);
    free(m.cl);
    return ret;
}
