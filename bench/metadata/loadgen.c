/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berth-bench-metadata: a closed-loop load generator for the containerd containers API
 * (v1) that works against any daemon speaking it (berthd, containerd). N threads issue
 * Create+Delete pairs, Gets or Lists for a fixed time; every call's latency is kept and the
 * exact p50/p99 are printed in one key=value line. Uses client/ (the berthctl gRPC stack).
 * --op mixed hands over to mixed.c: many clients of a mix of containerd API calls.
 */
#include <errno.h> /* EINTR from clock_nanosleep */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h> /* clock_nanosleep: --rate pacing */

#include "api/services/containers/v1/containers.pb-c.h"
#include "bench/metadata/async.h"
#include "bench/metadata/mixed.h"
#include "client/client.h"
#include "google/protobuf/any.pb-c.h"
#include "lib/err.h"
#include "lib/util.h"

#define SVC               "/containerd.services.containers.v1.Containers/"
#define MAX_ERRORS_LOGGED 5
#define PRELOAD_THREADS                                                                            \
    32 /* preload/cleanup parallelism: bbolt's fsync per txn is slow serially                      \
        */

enum bench_op { OP_CREATE_DELETE, OP_GET, OP_LIST, OP_LIST_STREAM, OP_MIXED };

static const char *const op_names[] = {"create-delete", "get", "list", "list-stream", "mixed"};

/*
 * A runc-style spec for `busybox sh` as containerd's client builds it (oci.WithDefaultSpec
 * plus image config): ~1.5 KB, opaque to both daemons but stored and returned with every
 * record.
 */
static const char spec_json[] =
    "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
    "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"cwd\":\"/"
    "\",\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_"
    "FOWNER\",\"CAP_MKNOD\",\"CAP_NET_RAW\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_"
    "SETPCAP\",\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\",\"CAP_AUDIT_WRITE\"],"
    "\"effective\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_AUDIT_WRITE\"],\"permitted\":[\"CAP_CHOWN\","
    "\"CAP_KILL\",\"CAP_AUDIT_WRITE\"]},\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,"
    "\"soft\":1024}],\"noNewPrivileges\":true},\"root\":{\"path\":\"rootfs\"},\"hostname\":"
    "\"bench\","
    "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\",\"options\":["
    "\"nosuid\",\"noexec\",\"nodev\"]},{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":"
    "\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},{"
    "\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":["
    "\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},{"
    "\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\","
    "\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},{\"destination\":\"/sys\",\"type\":"
    "\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]}],"
    "\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
    "\"cgroupsPath\":\"/default/bench\",\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},"
    "{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"network\"}],\"maskedPaths\":[\"/proc/"
    "acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\",\"/proc/latency_stats\",\"/proc/"
    "timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\",\"/sys/firmware\",\"/proc/scsi\"],"
    "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/"
    "sysrq-trigger\"]}}";

struct bench_opts {
    const char *address, *ns, *label;
    enum bench_op op;
    int concurrency;
    double duration_s;
    /* calls per second over all threads (0 = closed loop, as fast as answered): a background
     * load at a fixed pace, as bench/soak.sh runs it beside container work */
    double rate;
    int preload;
    /*
     * One client (one channel) for all threads, as berthctl does, is the default: gRPC core
     * keeps channels with the same target and args on one pooled subchannel, so a client per
     * thread still used a single connection here and gave 5-15% less load (more per-channel
     * work on the client's share of the CPU). --client-per-thread keeps the other mode.
     */
    bool shared_client;
    /* get only: one thread keeps `concurrency` calls in flight on one completion queue */
    bool async;
    /* mixed only: every client on one connection rather than one each */
    bool one_connection;
};

/* Latency samples of one thread, in nanoseconds. */
struct samples {
    uint64_t *v;
    size_t n, cap;
};

struct bench;

struct worker {
    struct bench *b;
    int idx;
    struct berth_client *client; /* own, or borrowed from bench->shared */
    pthread_t th;
    uint64_t ops, errors;
    uint32_t rng;
    struct samples lat;
    /* preload/cleanup slice [from, to) */
    int from, to;
    int (*fn)(struct worker *w);
};

struct bench {
    const struct bench_opts *o;
    struct berth_client *shared;
    pthread_barrier_t start;
    int64_t t0, deadline;
    atomic_uint logged_errors;
    char id_prefix[32];
    /* the record template; Create fills in the id */
    Containerd__Services__Containers__V1__Container__LabelsEntry label_a, label_b;
    Containerd__Services__Containers__V1__Container__LabelsEntry *labels[2];
    Containerd__Services__Containers__V1__Container__Runtime runtime;
    Google__Protobuf__Any spec;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: berth-bench-metadata -a SOCKET [-n NAMESPACE] --op OP\n"
               "           [--concurrency N] [--duration SECONDS] [--preload N] [--label NAME]\n"
               "           [--client-per-thread] [--async (get only)] [--rate CALLS_PER_S]\n"
               "           [--one-connection (mixed only)]\n"
               "OP: create-delete, get, list (unary List), list-stream (ListStream) or mixed\n"
               "    (--concurrency clients, each on its own connection, issuing a mix of\n"
               "    containerd API calls; one line per call kind, see mixed.h)\n");
}

static void samples_add(struct samples *s, uint64_t ns)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = berth_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = ns;
}

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void log_error(struct worker *w, const char *what, const struct berth_err *e)
{
    if (atomic_fetch_add(&w->b->logged_errors, 1) < MAX_ERRORS_LOGGED)
        fprintf(stderr, "berth-bench-metadata: thread %d: %s: %s\n", w->idx, what,
                e ? e->msg : "?");
}

static void preload_id(const struct bench *b, int i, char *buf, size_t len)
{
    snprintf(buf, len, "%s-pre-%d", b->id_prefix, i);
}

static int rpc_create(struct worker *w, const char *id)
{
    _cleanup_err_ struct berth_err *e = NULL;
    Containerd__Services__Containers__V1__CreateContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    Containerd__Services__Containers__V1__Container c =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    ProtobufCMessage *resp = NULL;
    struct bench *b = w->b;

    c.id = (char *)id;
    c.n_labels = BERTH_N(b->labels);
    c.labels = b->labels;
    c.image = (char *)"docker.io/library/busybox:latest";
    c.runtime = &b->runtime;
    c.spec = &b->spec;
    req.container = &c;
    if (berth_client_unary(
            w->client, SVC "Create", &req.base,
            &containerd__services__containers__v1__create_container_response__descriptor, &resp,
            &e) < 0) {
        log_error(w, "create", e);
        return -1;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int rpc_delete(struct worker *w, const char *id)
{
    _cleanup_err_ struct berth_err *e = NULL;
    Containerd__Services__Containers__V1__DeleteContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;

    req.id = (char *)id;
    if (berth_client_unary(w->client, SVC "Delete", &req.base, &google__protobuf__empty__descriptor,
                           &resp, &e) < 0) {
        log_error(w, "delete", e);
        return -1;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int op_create_delete(struct worker *w)
{
    char id[96];

    snprintf(id, sizeof(id), "%s-t%d-%" PRIu64, w->b->id_prefix, w->idx, w->ops + w->errors);
    if (rpc_create(w, id) < 0)
        return -1;
    return rpc_delete(w, id);
}

static int op_get(struct worker *w)
{
    _cleanup_err_ struct berth_err *e = NULL;
    Containerd__Services__Containers__V1__GetContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    Containerd__Services__Containers__V1__GetContainerResponse *resp = NULL;
    char id[96];

    preload_id(w->b, (int)(xorshift32(&w->rng) % (uint32_t)w->b->o->preload), id, sizeof(id));
    req.id = id;
    if (berth_client_unary(
            w->client, SVC "Get", &req.base,
            &containerd__services__containers__v1__get_container_response__descriptor,
            (ProtobufCMessage **)&resp, &e) < 0) {
        log_error(w, "get", e);
        return -1;
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

struct async_get {
    const struct bench *b;
    uint32_t rng;
};

static void async_get_req(uint64_t n, void *arg, uint8_t **out, size_t *len)
{
    struct async_get *g = arg;
    Containerd__Services__Containers__V1__GetContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    char id[96];

    preload_id(g->b, (int)(xorshift32(&g->rng) % (uint32_t)g->b->o->preload), id, sizeof(id));
    req.id = id;
    *len = protobuf_c_message_get_packed_size(&req.base);
    *out = berth_xmalloc(*len ? *len : 1);
    protobuf_c_message_pack(&req.base, *out);
}

/* The --async get run; its samples land in ws[0] so print_result treats it like the rest. */
static int run_async_get(struct bench *b, struct worker *ws, struct berth_err **err)
{
    struct async_get g = {.b = b, .rng = 2463534242u};
    struct bench_async_result r;
    _cleanup_free_ char *target = berth_client_target_for(b->o->address, err);

    if (!target)
        return -1;
    b->t0 = berth_mono_ns();
    b->deadline = b->t0 + (int64_t)(b->o->duration_s * 1e9);
    if (bench_async_run(target, b->o->ns, SVC "Get", b->o->concurrency, b->deadline, async_get_req,
                        &g, &r, err) < 0) {
        free(r.lat_ns);
        return -1;
    }
    ws[0].ops = r.ops;
    ws[0].errors = r.errors;
    ws[0].lat.v = r.lat_ns;
    ws[0].lat.n = r.n_lat;
    return 0;
}

static int op_list(struct worker *w)
{
    _cleanup_err_ struct berth_err *e = NULL;
    Containerd__Services__Containers__V1__ListContainersRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
    Containerd__Services__Containers__V1__ListContainersResponse *resp = NULL;
    int ret = 0;

    if (berth_client_unary(
            w->client, SVC "List", &req.base,
            &containerd__services__containers__v1__list_containers_response__descriptor,
            (ProtobufCMessage **)&resp, &e) < 0) {
        log_error(w, "list", e);
        return -1;
    }
    /* A short list means the daemon dropped records: count it as an error, not a fast op. */
    if (resp->n_containers < (size_t)w->b->o->preload) {
        berth_err_set(&e, BERTH_E_INTERNAL, 0, "list returned %zu containers, want >= %d",
                      resp->n_containers, w->b->o->preload);
        log_error(w, "list", e);
        ret = -1;
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return ret;
}

static int list_stream_cb(const ProtobufCMessage *msg, void *arg)
{
    (*(size_t *)arg)++;
    return 0;
}

/* ListStream: one message per container, so no 16 MiB response limit (10,000 records with
 * a 1.5 KB spec are ~19 MB, which unary List cannot return from either daemon). */
static int op_list_stream(struct worker *w)
{
    _cleanup_err_ struct berth_err *e = NULL;
    Containerd__Services__Containers__V1__ListContainersRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
    size_t n = 0;

    if (berth_client_server_stream(
            w->client, SVC "ListStream", &req.base,
            &containerd__services__containers__v1__list_container_message__descriptor,
            list_stream_cb, &n, &e) < 0) {
        log_error(w, "list-stream", e);
        return -1;
    }
    if (n < (size_t)w->b->o->preload) {
        berth_err_set(&e, BERTH_E_INTERNAL, 0, "list-stream returned %zu containers, want >= %d", n,
                      w->b->o->preload);
        log_error(w, "list-stream", e);
        return -1;
    }
    return 0;
}

static void *run_timed_cb(void *arg)
{
    struct worker *w = arg;
    struct bench *b = w->b;
    int (*fn)(struct worker *) = b->o->op == OP_CREATE_DELETE ? op_create_delete
                                 : b->o->op == OP_GET         ? op_get
                                 : b->o->op == OP_LIST        ? op_list
                                                              : op_list_stream;

    /* --rate: each thread keeps its share of the pace on a fixed schedule, skipping the slots
     * it missed rather than bursting to catch up */
    int64_t interval = b->o->rate > 0 ? (int64_t)(1e9 * b->o->concurrency / b->o->rate) : 0;
    int64_t next;

    pthread_barrier_wait(&b->start);
    next = b->t0 + interval * w->idx / b->o->concurrency;
    for (;;) {
        int64_t t = berth_mono_ns(), t_end;

        if (interval > 0) {
            if (next > t) {
                struct timespec ts = {.tv_sec = next / 1000000000LL,
                                      .tv_nsec = next % 1000000000LL};

                if (next >= b->deadline)
                    break;
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                    ;
                t = berth_mono_ns();
            }
            next = (next > t ? next : t) + interval;
        }
        if (t >= b->deadline)
            break;
        if (fn(w) < 0) {
            w->errors++;
            continue;
        }
        t_end = berth_mono_ns();
        w->ops++;
        samples_add(&w->lat, (uint64_t)(t_end - t));
    }
    return NULL;
}

static int preload_one_cb(struct worker *w)
{
    char id[96];

    for (int i = w->from; i < w->to; i++) {
        preload_id(w->b, i, id, sizeof(id));
        if (rpc_create(w, id) < 0)
            return -1;
    }
    return 0;
}

static int cleanup_one_cb(struct worker *w)
{
    char id[96];
    int ret = 0;

    for (int i = w->from; i < w->to; i++) {
        preload_id(w->b, i, id, sizeof(id));
        if (rpc_delete(w, id) < 0)
            ret = -1; /* keep going: delete as much as possible */
    }
    return ret;
}

static void *run_slice_cb(void *arg)
{
    struct worker *w = arg;

    return w->fn(w) < 0 ? (void *)1 : NULL;
}

static int worker_client_open(struct bench *b, struct worker *w, struct berth_err **err)
{
    if (b->shared) {
        w->client = b->shared;
        return 0;
    }
    return berth_client_open(b->o->address, b->o->ns, 30000, &w->client, err);
}

static void worker_client_close(struct bench *b, struct worker *w)
{
    if (w->client != b->shared)
        berth_client_close(w->client);
    w->client = NULL;
}

/* Runs fn over preload ids [0, preload) split across PRELOAD_THREADS threads. */
static int run_sliced(struct bench *b, int (*fn)(struct worker *), struct berth_err **err)
{
    int n = b->o->preload < PRELOAD_THREADS ? b->o->preload : PRELOAD_THREADS;
    struct worker *ws = berth_xcalloc((size_t)n, sizeof(*ws));
    int ret = 0;

    for (int i = 0; i < n; i++) {
        ws[i] = (struct worker){.b = b, .idx = i, .fn = fn};
        ws[i].from = (int)((int64_t)b->o->preload * i / n);
        ws[i].to = (int)((int64_t)b->o->preload * (i + 1) / n);
        if (worker_client_open(b, &ws[i], err) < 0) {
            n = i;
            ret = -1;
            break;
        }
        if (pthread_create(&ws[i].th, NULL, run_slice_cb, &ws[i]) != 0)
            abort();
    }
    for (int i = 0; i < n; i++) {
        void *r;

        pthread_join(ws[i].th, &r);
        if (r)
            ret = -1;
        worker_client_close(b, &ws[i]);
    }
    free(ws);
    if (ret < 0 && (!err || !*err))
        berth_err_set(err, BERTH_E_INTERNAL, 0, "see the errors above");
    return ret;
}

static void print_result(const struct bench *b, struct worker *ws, int64_t elapsed_ns)
{
    const struct bench_opts *o = b->o;
    uint64_t ops = 0, errors = 0;
    size_t n = 0, k = 0;
    uint64_t *all;
    double secs = (double)elapsed_ns / 1e9;

    for (int i = 0; i < o->concurrency; i++) {
        ops += ws[i].ops;
        errors += ws[i].errors;
        n += ws[i].lat.n;
    }
    all = berth_xmalloc((n ? n : 1) * sizeof(*all));
    for (int i = 0; i < o->concurrency; i++) {
        if (!ws[i].lat.n)
            continue; /* --async fills ws[0] only; the rest have no buffer (memcpy from NULL) */
        memcpy(all + k, ws[i].lat.v, ws[i].lat.n * sizeof(*all));
        k += ws[i].lat.n;
    }
    qsort(all, n, sizeof(*all), bench_cmp_u64);
    printf("label=%s op=%s c=%d preload=%d clients=%s ops=%" PRIu64 " secs=%.2f ops_per_s=%.0f "
           "p50_us=%" PRIu64 " p99_us=%" PRIu64 " max_us=%" PRIu64 " errors=%" PRIu64 "\n",
           o->label, op_names[o->op], o->concurrency, o->op == OP_CREATE_DELETE ? 0 : o->preload,
           o->async           ? "async"
           : o->shared_client ? "shared"
                              : "per-thread",
           ops, secs, secs > 0 ? (double)ops / secs : 0, bench_percentile(all, n, 0.50) / 1000,
           bench_percentile(all, n, 0.99) / 1000, n ? all[n - 1] / 1000 : 0, errors);
    fflush(stdout);
    free(all);
}

static int bench_run(struct bench *b, struct berth_err **err)
{
    const struct bench_opts *o = b->o;
    struct worker *ws = berth_xcalloc((size_t)o->concurrency, sizeof(*ws));
    bool preloaded = false;
    uint64_t errors = 0;
    int ret = -1, started = 0;
    int64_t end = 0;

    if (o->shared_client && berth_client_open(o->address, o->ns, 30000, &b->shared, err) < 0)
        goto out;
    if (o->op != OP_CREATE_DELETE) {
        if (run_sliced(b, preload_one_cb, err) < 0) {
            berth_err_wrap(err, "preload %d containers", o->preload);
            goto cleanup;
        }
        preloaded = true;
    }

    if (o->async) {
        if (run_async_get(b, ws, err) < 0)
            goto cleanup;
        print_result(b, ws, berth_mono_ns() - b->t0);
        errors = ws[0].errors;
        free(ws[0].lat.v);
        ret = errors ? 1 : 0;
        goto cleanup;
    }
    pthread_barrier_init(&b->start, NULL, (unsigned)o->concurrency + 1);
    for (; started < o->concurrency; started++) {
        struct worker *w = &ws[started];

        *w = (struct worker){.b = b, .idx = started, .rng = 2463534242u + 7919u * started};
        if (worker_client_open(b, w, err) < 0)
            break;
    }
    if (started < o->concurrency) {
        for (int i = 0; i < started; i++)
            worker_client_close(b, &ws[i]);
        pthread_barrier_destroy(&b->start);
        goto cleanup;
    }
    for (int i = 0; i < o->concurrency; i++)
        if (pthread_create(&ws[i].th, NULL, run_timed_cb, &ws[i]) != 0)
            abort();
    /* Set the clock before releasing the threads: they all read deadline after the barrier. */
    b->t0 = berth_mono_ns();
    b->deadline = b->t0 + (int64_t)(o->duration_s * 1e9);
    pthread_barrier_wait(&b->start);
    for (int i = 0; i < o->concurrency; i++) {
        pthread_join(ws[i].th, NULL);
        errors += ws[i].errors;
    }
    end = berth_mono_ns();
    pthread_barrier_destroy(&b->start);
    print_result(b, ws, end - b->t0);
    for (int i = 0; i < o->concurrency; i++) {
        worker_client_close(b, &ws[i]);
        free(ws[i].lat.v);
    }
    ret = errors ? 1 : 0;

cleanup:
    /* Remove what we preloaded even after a failure; a partial preload deletes what exists. */
    if (o->op != OP_CREATE_DELETE) {
        _cleanup_err_ struct berth_err *e = NULL;

        if (run_sliced(b, cleanup_one_cb, &e) < 0 && preloaded)
            fprintf(stderr, "berth-bench-metadata: cleanup: %s\n", e->msg);
    }
out:
    berth_client_close(b->shared);
    free(ws);
    return ret;
}

static int parse_int(const char *s, const char *what, int min, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < min || v > 1000000) {
        fprintf(stderr, "berth-bench-metadata: invalid %s \"%s\"\n", what, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'},
        {"namespace", required_argument, NULL, 'n'},
        {"op", required_argument, NULL, 'o'},
        {"concurrency", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"preload", required_argument, NULL, 'p'},
        {"label", required_argument, NULL, 'l'},
        {"client-per-thread", no_argument, NULL, 's'},
        {"async", no_argument, NULL, 'A'},
        {"rate", required_argument, NULL, 'R'},
        {"one-connection", no_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct bench_opts o = {.ns = "default",
                           .label = "daemon",
                           .op = OP_CREATE_DELETE,
                           .concurrency = 1,
                           .duration_s = 5.0,
                           .preload = 100,
                           .shared_client = true};
    _cleanup_err_ struct berth_err *err = NULL;
    struct bench b = {.o = &o};
    bool op_set = false;
    int opt, ret;

    while ((opt = getopt_long(argc, argv, "a:n:o:c:d:p:l:shAR:O", longopts, NULL)) != -1) {
        switch (opt) {
        case 'a':
            o.address = optarg;
            break;
        case 'n':
            o.ns = optarg;
            break;
        case 'o':
            op_set = true;
            if (strcmp(optarg, "create-delete") == 0)
                o.op = OP_CREATE_DELETE;
            else if (strcmp(optarg, "get") == 0)
                o.op = OP_GET;
            else if (strcmp(optarg, "list") == 0)
                o.op = OP_LIST;
            else if (strcmp(optarg, "list-stream") == 0)
                o.op = OP_LIST_STREAM;
            else if (strcmp(optarg, "mixed") == 0)
                o.op = OP_MIXED;
            else {
                fprintf(stderr, "berth-bench-metadata: unknown op \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'c':
            if (parse_int(optarg, "concurrency", 1, &o.concurrency) < 0)
                return 2;
            break;
        case 'd': {
            char *end;

            o.duration_s = strtod(optarg, &end);
            if (*optarg == '\0' || *end != '\0' || !(o.duration_s > 0)) {
                fprintf(stderr, "berth-bench-metadata: invalid duration \"%s\"\n", optarg);
                return 2;
            }
            break;
        }
        case 'p':
            if (parse_int(optarg, "preload", 1, &o.preload) < 0)
                return 2;
            break;
        case 'l':
            o.label = optarg;
            break;
        case 's':
            o.shared_client = false;
            break;
        case 'A':
            o.async = true;
            break;
        case 'O':
            o.one_connection = true;
            break;
        case 'R': {
            char *end;

            o.rate = strtod(optarg, &end);
            if (*optarg == '\0' || *end != '\0' || !(o.rate > 0)) {
                fprintf(stderr, "berth-bench-metadata: invalid rate \"%s\"\n", optarg);
                return 2;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if ((o.one_connection && o.op != OP_MIXED) ||
        (o.op == OP_MIXED && (o.async || o.rate > 0 || !o.shared_client))) {
        fprintf(stderr, "berth-bench-metadata: --one-connection is for mixed, which takes no "
                        "--async, --rate or --client-per-thread\n");
        return 2;
    }
    if (o.async && o.rate > 0) {
        fprintf(stderr, "berth-bench-metadata: --rate paces the threads; not with --async\n");
        return 2;
    }
    if (o.async && o.op != OP_GET) {
        fprintf(stderr, "berth-bench-metadata: --async is implemented for --op get only\n");
        return 2;
    }
    if (!o.address || !op_set || optind != argc) {
        usage(stderr);
        return 2;
    }

    /* Unique per process so runs against a live daemon never collide. */
    snprintf(b.id_prefix, sizeof(b.id_prefix), "bench-%ld", (long)getpid());
    b.label_a = (Containerd__Services__Containers__V1__Container__LabelsEntry)
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__LABELS_ENTRY__INIT;
    b.label_a.key = (char *)"io.containerd.image.config.stop-signal";
    b.label_a.value = (char *)"SIGTERM";
    b.label_b = (Containerd__Services__Containers__V1__Container__LabelsEntry)
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__LABELS_ENTRY__INIT;
    b.label_b.key = (char *)"bench.berth.dev/run";
    b.label_b.value = b.id_prefix;
    b.labels[0] = &b.label_a;
    b.labels[1] = &b.label_b;
    b.runtime = (Containerd__Services__Containers__V1__Container__Runtime)
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    b.runtime.name = (char *)"io.containerd.runc.v2";
    b.spec = (Google__Protobuf__Any)GOOGLE__PROTOBUF__ANY__INIT;
    b.spec.type_url = (char *)"types.containerd.io/opencontainers/runtime-spec/1/Spec";
    b.spec.value.data = (uint8_t *)spec_json;
    b.spec.value.len = sizeof(spec_json) - 1;

    if (o.op == OP_MIXED) {
        struct bench_mixed_opts mo = {.address = o.address,
                                      .ns = o.ns,
                                      .label = o.label,
                                      .id_prefix = b.id_prefix,
                                      .clients = o.concurrency,
                                      .duration_s = o.duration_s,
                                      .preload = o.preload,
                                      .call_timeout_ms = 30000,
                                      .one_connection = o.one_connection};

        ret = bench_mixed_run(&mo, &err);
    } else {
        ret = bench_run(&b, &err);
    }
    if (ret < 0) {
        fprintf(stderr, "berth-bench-metadata: %s\n", err ? err->msg : "failed");
        return 1;
    }
    return ret; /* 1 when some calls failed during the timed phase */
}
