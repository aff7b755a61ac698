/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berth-bench-cri: an in-process CRI runtime.v1 client for the pod benchmark (bench/cri/run.sh,
 * issue 11). It speaks to any CRI socket (berthd or containerd's CRI plugin) through client/
 * (the berthctl gRPC stack) with no namespace header, so the figures hold no crictl start-up.
 * Modes: lifecycle (pod start and full lifecycle latencies), fill (start pods and keep them),
 * list (ListPodSandbox + ListContainers + ListContainerStats rounds) and clean. Every mode
 * prints one key=value line; the exit status is 1 when some call failed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "api/cri/runtime/v1/api.pb-c.h"
#include "client/client.h"
#include "lib/err.h"
#include "lib/util.h"

#define SVC               "/runtime.v1.RuntimeService/"
#define MAX_ERRORS_LOGGED 5
#define MAX_CMD_ARGS      16
/* Every pod carries this label with the --prefix value, so clean finds what fill left. */
#define LABEL_KEY "io.berth.bench-cri"

enum cb_mode { MODE_LIFECYCLE, MODE_FILL, MODE_LIST, MODE_CLEAN };

static const char *const mode_names[] = {"lifecycle", "fill", "list", "clean"};

struct cb_opts {
    const char *address, *label, *image, *log_dir, *cgroup_parent, *prefix, *handler;
    const char *raw; /* lifecycle/list: append every timed sample to this file */
    enum cb_mode mode;
    int n, concurrency, warmup, expect;
    bool host_network;
    int64_t timeout_ms;
    char *cmd[MAX_CMD_ARGS + 1]; /* the container's command, NULL-terminated */
    size_t n_cmd;
};

struct samples {
    uint64_t *v;
    size_t n, cap;
};

struct cb {
    const struct cb_opts *o;
    struct berth_client *client; /* one channel shared by every thread */
    FILE *raw;                   /* --raw, or NULL */
    char run_id[64];             /* "<prefix>-<pid>": unique pod names across runs */
    atomic_int next;             /* fill/clean: next work item */
    atomic_uint errors, logged;
    /* clean: the pods to remove */
    char **pods;
    size_t n_pods;
};

/* A pod config built in place: the message points into the struct itself, so it must not be
 * copied after pod_cfg_init(). */
struct pod_cfg {
    Runtime__V1__PodSandboxConfig cfg;
    Runtime__V1__PodSandboxMetadata md;
    Runtime__V1__LinuxPodSandboxConfig linux_cfg;
    Runtime__V1__LinuxSandboxSecurityContext sc;
    Runtime__V1__NamespaceOption nsopt;
    Runtime__V1__PodSandboxConfig__LabelsEntry label;
    Runtime__V1__PodSandboxConfig__LabelsEntry *labels[1];
    char name[128], uid[160], log_dir[PATH_MAX], cgroup[PATH_MAX];
};

struct ctr_cfg {
    Runtime__V1__ContainerConfig cfg;
    Runtime__V1__ContainerMetadata md;
    Runtime__V1__ImageSpec image;
    Runtime__V1__LinuxContainerConfig linux_cfg;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: berth-bench-cri -a SOCKET [options] MODE\n"
            "MODE: lifecycle | fill | list | clean\n"
            "  -n N                 lifecycle: timed iterations (20); fill: pods to start (100);\n"
            "                       list: rounds (20)\n"
            "  -c N                 fill/clean: concurrent calls (4)\n"
            "  --warmup N           lifecycle: untimed iterations first (2)\n"
            "  --expect N           list: fewer than N pods, containers or stats is an error\n"
            "  --image REF          the container image (docker.io/berth/busybox:latest)\n"
            "  --cmd 'ARGS'         the container command, split at spaces (sleep 3600)\n"
            "  --log-dir DIR        parent of every pod's log_directory (/tmp)\n"
            "  --cgroup-parent P    pods' cgroup_parent (none); each pod gets P/pod<uid>\n"
            "  --host-network       pods on the host network instead of CNI\n"
            "  --runtime-handler H  RunPodSandbox runtime_handler (default handler)\n"
            "  --prefix NAME        pod name prefix and value of label " LABEL_KEY " (cribench)\n"
            "  --label NAME         the label= field of the output line (daemon)\n"
            "  --raw FILE           append each timed sample in ns: lifecycle \"start full\",\n"
            "                       list \"round pods containers stats\"\n"
            "  --timeout-ms MS      deadline of each call (120000)\n");
}

static void samples_add(struct samples *s, uint64_t ns)
{
    berth_vec_push(s->v, s->n, s->cap, ns);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in milliseconds; sorts the samples. */
static double percentile_ms(struct samples *s, double p)
{
    size_t rank;

    if (s->n == 0)
        return 0;
    qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
    rank = (size_t)(p * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return (double)s->v[rank - 1] / 1e6;
}

static void log_error(struct cb *b, const char *what, const struct berth_err *e)
{
    atomic_fetch_add(&b->errors, 1);
    if (atomic_fetch_add(&b->logged, 1) < MAX_ERRORS_LOGGED)
        fprintf(stderr, "berth-bench-cri: %s: %s\n", what, e ? e->msg : "?");
}

/* One unary RuntimeService call; the error names the method. */
static int cri_call(struct cb *b, const char *method, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
                    struct berth_err **err)
{
    char path[96];

    snprintf(path, sizeof(path), SVC "%s", method);
    if (berth_client_unary(b->client, path, req, desc, resp, err) < 0)
        return berth_err_wrap(err, "%s", method);
    return 0;
}

/* Like cri_call for the calls whose answer holds nothing we need. */
static int cri_call_void(struct cb *b, const char *method, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *desc, struct berth_err **err)
{
    ProtobufCMessage *resp = NULL;

    if (cri_call(b, method, req, desc, &resp, err) < 0)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* What kubelet sends for a plain pod, minus DNS and port mappings: metadata with a unique
 * name and uid, hostname, log directory, the cgroup parent and the network namespace mode. */
static void pod_cfg_init(struct pod_cfg *p, const struct cb *b, const char *tag, int i)
{
    const struct cb_opts *o = b->o;

    snprintf(p->name, sizeof(p->name), "%s-%s-%d", b->run_id, tag, i);
    snprintf(p->uid, sizeof(p->uid), "%s-uid", p->name);
    snprintf(p->log_dir, sizeof(p->log_dir), "%s/%s", o->log_dir, p->name);
    p->md = (Runtime__V1__PodSandboxMetadata)RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
    p->md.name = p->name;
    p->md.uid = p->uid;
    p->md.namespace_ = (char *)"berth-bench";
    p->nsopt = (Runtime__V1__NamespaceOption)RUNTIME__V1__NAMESPACE_OPTION__INIT;
    p->nsopt.network =
        o->host_network ? RUNTIME__V1__NAMESPACE_MODE__NODE : RUNTIME__V1__NAMESPACE_MODE__POD;
    p->nsopt.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
    p->nsopt.ipc = RUNTIME__V1__NAMESPACE_MODE__POD;
    p->sc =
        (Runtime__V1__LinuxSandboxSecurityContext)RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
    p->sc.namespace_options = &p->nsopt;
    p->linux_cfg = (Runtime__V1__LinuxPodSandboxConfig)RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
    p->linux_cfg.security_context = &p->sc;
    if (o->cgroup_parent) {
        /* kubelet's cgroupfs layout: one cgroup per pod under the QoS parent */
        snprintf(p->cgroup, sizeof(p->cgroup), "%s/pod%s", o->cgroup_parent, p->uid);
        p->linux_cfg.cgroup_parent = p->cgroup;
    }
    p->label = (Runtime__V1__PodSandboxConfig__LabelsEntry)
        RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;
    p->label.key = (char *)LABEL_KEY;
    p->label.value = (char *)o->prefix;
    p->labels[0] = &p->label;
    p->cfg = (Runtime__V1__PodSandboxConfig)RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    p->cfg.metadata = &p->md;
    p->cfg.hostname = p->name;
    p->cfg.log_directory = p->log_dir;
    p->cfg.n_labels = BERTH_N(p->labels);
    p->cfg.labels = p->labels;
    p->cfg.linux = &p->linux_cfg;
}

static void ctr_cfg_init(struct ctr_cfg *c, const struct cb *b)
{
    c->md = (Runtime__V1__ContainerMetadata)RUNTIME__V1__CONTAINER_METADATA__INIT;
    c->md.name = (char *)"work";
    c->image = (Runtime__V1__ImageSpec)RUNTIME__V1__IMAGE_SPEC__INIT;
    c->image.image = (char *)b->o->image;
    c->linux_cfg = (Runtime__V1__LinuxContainerConfig)RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
    c->cfg = (Runtime__V1__ContainerConfig)RUNTIME__V1__CONTAINER_CONFIG__INIT;
    c->cfg.metadata = &c->md;
    c->cfg.image = &c->image;
    c->cfg.n_command = b->o->n_cmd;
    c->cfg.command = (char **)b->o->cmd;
    c->cfg.log_path = (char *)"work_0.log";
    c->cfg.linux = &c->linux_cfg;
}

/* StopContainer (timeout 0: SIGKILL at once) then RemoveContainer. */
static int ctr_down(struct cb *b, const char *ctr, struct berth_err **err)
{
    Runtime__V1__StopContainerRequest stop = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
    Runtime__V1__RemoveContainerRequest rm = RUNTIME__V1__REMOVE_CONTAINER_REQUEST__INIT;

    stop.container_id = (char *)ctr;
    rm.container_id = (char *)ctr;
    if (cri_call_void(b, "StopContainer", &stop.base,
                      &runtime__v1__stop_container_response__descriptor, err) < 0 ||
        cri_call_void(b, "RemoveContainer", &rm.base,
                      &runtime__v1__remove_container_response__descriptor, err) < 0)
        return -1;
    return 0;
}

static int pod_down(struct cb *b, const char *pod, struct berth_err **err)
{
    Runtime__V1__StopPodSandboxRequest stop = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
    Runtime__V1__RemovePodSandboxRequest rm = RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;

    stop.pod_sandbox_id = (char *)pod;
    rm.pod_sandbox_id = (char *)pod;
    if (cri_call_void(b, "StopPodSandbox", &stop.base,
                      &runtime__v1__stop_pod_sandbox_response__descriptor, err) < 0 ||
        cri_call_void(b, "RemovePodSandbox", &rm.base,
                      &runtime__v1__remove_pod_sandbox_response__descriptor, err) < 0)
        return -1;
    return 0;
}

/* Best-effort removal after a failure part way; its own errors are dropped (the first one was
 * counted). */
static void undo(struct cb *b, const char *pod, const char *ctr)
{
    _cleanup_err_ struct berth_err *e = NULL;

    if (ctr)
        ctr_down(b, ctr, &e);
    berth_err_free(&e);
    if (pod)
        pod_down(b, pod, &e);
}

/*
 * RunPodSandbox + CreateContainer + StartContainer. On success *pod and *ctr are the ids
 * (malloc'd, caller frees); on failure whatever was made is removed again.
 */
static int pod_up(struct cb *b, const char *tag, int i, char **pod, char **ctr,
                  struct berth_err **err)
{
    struct pod_cfg p;
    struct ctr_cfg c;
    Runtime__V1__RunPodSandboxRequest run = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
    Runtime__V1__CreateContainerRequest create = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
    Runtime__V1__StartContainerRequest start = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
    Runtime__V1__RunPodSandboxResponse *run_resp = NULL;
    Runtime__V1__CreateContainerResponse *create_resp = NULL;
    _cleanup_free_ char *pod_id = NULL, *ctr_id = NULL;

    *pod = *ctr = NULL;
    pod_cfg_init(&p, b, tag, i);
    ctr_cfg_init(&c, b);
    run.config = &p.cfg;
    if (b->o->handler)
        run.runtime_handler = (char *)b->o->handler;
    if (cri_call(b, "RunPodSandbox", &run.base, &runtime__v1__run_pod_sandbox_response__descriptor,
                 (ProtobufCMessage **)&run_resp, err) < 0)
        return berth_err_wrap(err, "pod \"%s\"", p.name);
    pod_id = berth_xstrdup(run_resp->pod_sandbox_id);
    protobuf_c_message_free_unpacked(&run_resp->base, NULL);

    create.pod_sandbox_id = pod_id;
    create.config = &c.cfg;
    create.sandbox_config = &p.cfg;
    if (cri_call(b, "CreateContainer", &create.base,
                 &runtime__v1__create_container_response__descriptor,
                 (ProtobufCMessage **)&create_resp, err) < 0)
        goto fail;
    ctr_id = berth_xstrdup(create_resp->container_id);
    protobuf_c_message_free_unpacked(&create_resp->base, NULL);

    start.container_id = ctr_id;
    if (cri_call_void(b, "StartContainer", &start.base,
                      &runtime__v1__start_container_response__descriptor, err) < 0)
        goto fail;
    *pod = steal_ptr(pod_id);
    *ctr = steal_ptr(ctr_id);
    return 0;
fail:
    undo(b, pod_id, ctr_id);
    return berth_err_wrap(err, "pod \"%s\"", p.name);
}

/* ---- lifecycle ---- */

static int run_lifecycle(struct cb *b)
{
    const struct cb_opts *o = b->o;
    struct samples start = {0}, full = {0};
    int64_t t_begin = berth_mono_ns();

    for (int i = 0; i < o->warmup + o->n; i++) {
        _cleanup_err_ struct berth_err *e = NULL;
        _cleanup_free_ char *pod = NULL, *ctr = NULL;
        int64_t t0, t1, t2;

        t0 = berth_mono_ns();
        if (pod_up(b, "lc", i, &pod, &ctr, &e) < 0) {
            log_error(b, "lifecycle", e);
            continue;
        }
        t1 = berth_mono_ns();
        if (ctr_down(b, ctr, &e) < 0 || pod_down(b, pod, &e) < 0) {
            log_error(b, "lifecycle", e);
            continue;
        }
        t2 = berth_mono_ns();
        if (i < o->warmup)
            continue;
        samples_add(&start, (uint64_t)(t1 - t0));
        samples_add(&full, (uint64_t)(t2 - t0));
        if (b->raw)
            fprintf(b->raw, "%" PRId64 " %" PRId64 "\n", t1 - t0, t2 - t0);
    }
    printf("label=%s mode=lifecycle n=%zu warmup=%d secs=%.1f pod_start_p50_ms=%.1f "
           "pod_start_p90_ms=%.1f lifecycle_p50_ms=%.1f lifecycle_p90_ms=%.1f errors=%u\n",
           o->label, start.n, o->warmup, (double)(berth_mono_ns() - t_begin) / 1e9,
           percentile_ms(&start, 0.5), percentile_ms(&start, 0.9), percentile_ms(&full, 0.5),
           percentile_ms(&full, 0.9), atomic_load(&b->errors));
    free(start.v);
    free(full.v);
    return 0;
}

/* ---- fill and clean: work items spread over -c threads ---- */

static void *fill_cb(void *arg)
{
    struct cb *b = arg;
    int i;

    while ((i = atomic_fetch_add(&b->next, 1)) < b->o->n) {
        _cleanup_err_ struct berth_err *e = NULL;
        _cleanup_free_ char *pod = NULL, *ctr = NULL;

        if (pod_up(b, "fill", i, &pod, &ctr, &e) < 0)
            log_error(b, "fill", e);
    }
    return NULL;
}

/* Every container of the pod, then the pod. */
static int clean_pod(struct cb *b, const char *pod, struct berth_err **err)
{
    Runtime__V1__ListContainersRequest req = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
    Runtime__V1__ContainerFilter filter = RUNTIME__V1__CONTAINER_FILTER__INIT;
    Runtime__V1__ListContainersResponse *resp = NULL;
    int ret = 0;

    filter.pod_sandbox_id = (char *)pod;
    req.filter = &filter;
    if (cri_call(b, "ListContainers", &req.base, &runtime__v1__list_containers_response__descriptor,
                 (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    for (size_t i = 0; i < resp->n_containers && ret == 0; i++)
        ret = ctr_down(b, resp->containers[i]->id, err);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    if (ret < 0)
        return -1;
    return pod_down(b, pod, err);
}

static void *clean_cb(void *arg)
{
    struct cb *b = arg;
    int i;

    while ((i = atomic_fetch_add(&b->next, 1)) < (int)b->n_pods) {
        _cleanup_err_ struct berth_err *e = NULL;

        if (clean_pod(b, b->pods[i], &e) < 0)
            log_error(b, "clean", e);
    }
    return NULL;
}

static void run_threads(struct cb *b, void *(*fn)(void *))
{
    int n = b->o->concurrency;
    pthread_t *th = berth_xcalloc((size_t)n, sizeof(*th));

    atomic_store(&b->next, 0);
    for (int i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, fn, b) != 0)
            abort();
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    free(th);
}

static int run_fill(struct cb *b)
{
    int64_t t0 = berth_mono_ns();
    unsigned errors;

    run_threads(b, fill_cb);
    errors = atomic_load(&b->errors);
    printf("label=%s mode=fill pods=%d c=%d secs=%.1f errors=%u\n", b->o->label,
           b->o->n - (int)errors, b->o->concurrency, (double)(berth_mono_ns() - t0) / 1e9, errors);
    return 0;
}

static int run_clean(struct cb *b, struct berth_err **err)
{
    Runtime__V1__ListPodSandboxRequest req = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
    Runtime__V1__PodSandboxFilter filter = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
    Runtime__V1__PodSandboxFilter__LabelSelectorEntry sel =
        RUNTIME__V1__POD_SANDBOX_FILTER__LABEL_SELECTOR_ENTRY__INIT;
    Runtime__V1__PodSandboxFilter__LabelSelectorEntry *sels[1] = {&sel};
    Runtime__V1__ListPodSandboxResponse *resp = NULL;
    int64_t t0 = berth_mono_ns();

    sel.key = (char *)LABEL_KEY;
    sel.value = (char *)b->o->prefix;
    filter.n_label_selector = 1;
    filter.label_selector = sels;
    req.filter = &filter;
    if (cri_call(b, "ListPodSandbox", &req.base,
                 &runtime__v1__list_pod_sandbox_response__descriptor, (ProtobufCMessage **)&resp,
                 err) < 0)
        return -1;
    b->n_pods = resp->n_items;
    b->pods = berth_xcalloc(b->n_pods ? b->n_pods : 1, sizeof(*b->pods));
    for (size_t i = 0; i < b->n_pods; i++)
        b->pods[i] = berth_xstrdup(resp->items[i]->id);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    run_threads(b, clean_cb);
    printf("label=%s mode=clean pods=%zu c=%d secs=%.1f errors=%u\n", b->o->label, b->n_pods,
           b->o->concurrency, (double)(berth_mono_ns() - t0) / 1e9, atomic_load(&b->errors));
    for (size_t i = 0; i < b->n_pods; i++)
        free(b->pods[i]);
    free(b->pods);
    b->pods = NULL;
    return 0;
}

/* ---- list: kubelet's relist (unfiltered), timed per call and per round ---- */

/* One unfiltered List call; *count gets the number of items it returned. */
static int list_one(struct cb *b, int which, size_t *count, struct berth_err **err)
{
    Runtime__V1__ListPodSandboxRequest pods = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
    Runtime__V1__ListContainersRequest ctrs = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
    Runtime__V1__ListContainerStatsRequest stats = RUNTIME__V1__LIST_CONTAINER_STATS_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;

    switch (which) {
    case 0:
        if (cri_call(b, "ListPodSandbox", &pods.base,
                     &runtime__v1__list_pod_sandbox_response__descriptor, &resp, err) < 0)
            return -1;
        *count = ((Runtime__V1__ListPodSandboxResponse *)resp)->n_items;
        break;
    case 1:
        if (cri_call(b, "ListContainers", &ctrs.base,
                     &runtime__v1__list_containers_response__descriptor, &resp, err) < 0)
            return -1;
        *count = ((Runtime__V1__ListContainersResponse *)resp)->n_containers;
        break;
    default:
        if (cri_call(b, "ListContainerStats", &stats.base,
                     &runtime__v1__list_container_stats_response__descriptor, &resp, err) < 0)
            return -1;
        *count = ((Runtime__V1__ListContainerStatsResponse *)resp)->n_stats;
        break;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int run_list(struct cb *b)
{
    static const char *const names[] = {"ListPodSandbox", "ListContainers", "ListContainerStats"};
    const struct cb_opts *o = b->o;
    struct samples round = {0}, each[3] = {{0}};
    size_t last[3] = {0};

    for (int r = 0; r < o->n; r++) {
        int64_t t_round = berth_mono_ns();
        bool ok = true;

        for (int k = 0; k < 3 && ok; k++) {
            _cleanup_err_ struct berth_err *e = NULL;
            int64_t t = berth_mono_ns();

            if (list_one(b, k, &last[k], &e) < 0) {
                log_error(b, "list", e);
                ok = false;
                break;
            }
            samples_add(&each[k], (uint64_t)(berth_mono_ns() - t));
            /* a short answer is a daemon dropping items: an error, not a fast call */
            if (last[k] < (size_t)o->expect) {
                berth_err_set(&e, BERTH_E_INTERNAL, 0, "%s returned %zu items, want >= %d",
                              names[k], last[k], o->expect);
                log_error(b, "list", e);
                ok = false;
            }
        }
        if (!ok)
            continue;
        t_round = berth_mono_ns() - t_round;
        samples_add(&round, (uint64_t)t_round);
        if (b->raw)
            fprintf(b->raw, "%" PRId64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", t_round,
                    each[0].v[each[0].n - 1], each[1].v[each[1].n - 1], each[2].v[each[2].n - 1]);
    }
    printf("label=%s mode=list rounds=%zu pods=%zu containers=%zu stats=%zu list_p50_ms=%.1f "
           "list_p90_ms=%.1f pods_p50_ms=%.1f containers_p50_ms=%.1f stats_p50_ms=%.1f "
           "stats_p90_ms=%.1f errors=%u\n",
           o->label, round.n, last[0], last[1], last[2], percentile_ms(&round, 0.5),
           percentile_ms(&round, 0.9), percentile_ms(&each[0], 0.5), percentile_ms(&each[1], 0.5),
           percentile_ms(&each[2], 0.5), percentile_ms(&each[2], 0.9), atomic_load(&b->errors));
    free(round.v);
    for (int k = 0; k < 3; k++)
        free(each[k].v);
    return 0;
}

/* ---- options ---- */

static int parse_int(const char *s, const char *what, int min, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < min || v > 1000000) {
        fprintf(stderr, "berth-bench-cri: invalid %s \"%s\"\n", what, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Splits `s` (modified in place) at spaces into o->cmd. */
static int parse_cmd(char *s, struct cb_opts *o)
{
    char *save = NULL;

    o->n_cmd = 0;
    for (char *t = strtok_r(s, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (o->n_cmd == MAX_CMD_ARGS) {
            fprintf(stderr, "berth-bench-cri: --cmd has more than %d words\n", MAX_CMD_ARGS);
            return -1;
        }
        o->cmd[o->n_cmd++] = t;
    }
    o->cmd[o->n_cmd] = NULL;
    if (o->n_cmd == 0) {
        fprintf(stderr, "berth-bench-cri: empty --cmd\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        OPT_WARMUP = 256,
        OPT_EXPECT,
        OPT_IMAGE,
        OPT_CMD,
        OPT_LOGDIR,
        OPT_CGROUP,
        OPT_HOSTNET,
        OPT_HANDLER,
        OPT_PREFIX,
        OPT_LABEL,
        OPT_TIMEOUT,
        OPT_RAW
    };
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"expect", required_argument, NULL, OPT_EXPECT},
        {"image", required_argument, NULL, OPT_IMAGE},
        {"cmd", required_argument, NULL, OPT_CMD},
        {"log-dir", required_argument, NULL, OPT_LOGDIR},
        {"cgroup-parent", required_argument, NULL, OPT_CGROUP},
        {"host-network", no_argument, NULL, OPT_HOSTNET},
        {"runtime-handler", required_argument, NULL, OPT_HANDLER},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"label", required_argument, NULL, OPT_LABEL},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        {"raw", required_argument, NULL, OPT_RAW},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static char default_cmd[] = "sleep 3600";
    struct cb_opts o = {.label = "daemon",
                        .image = "docker.io/berth/busybox:latest",
                        .log_dir = "/tmp",
                        .prefix = "cribench",
                        .n = -1,
                        .concurrency = 4,
                        .warmup = 2,
                        .timeout_ms = 120000};
    _cleanup_err_ struct berth_err *err = NULL;
    struct cb b = {.o = &o};
    int opt, m, timeout = 0, ret = 0;
    char *cmd = default_cmd;

    while ((opt = getopt_long(argc, argv, "a:n:c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'a':
            o.address = optarg;
            break;
        case 'n':
            if (parse_int(optarg, "-n", 0, &o.n) < 0)
                return 2;
            break;
        case 'c':
            if (parse_int(optarg, "-c", 1, &o.concurrency) < 0)
                return 2;
            break;
        case OPT_WARMUP:
            if (parse_int(optarg, "--warmup", 0, &o.warmup) < 0)
                return 2;
            break;
        case OPT_EXPECT:
            if (parse_int(optarg, "--expect", 0, &o.expect) < 0)
                return 2;
            break;
        case OPT_IMAGE:
            o.image = optarg;
            break;
        case OPT_CMD:
            cmd = optarg;
            break;
        case OPT_LOGDIR:
            o.log_dir = optarg;
            break;
        case OPT_CGROUP:
            o.cgroup_parent = optarg;
            break;
        case OPT_HOSTNET:
            o.host_network = true;
            break;
        case OPT_HANDLER:
            o.handler = optarg;
            break;
        case OPT_PREFIX:
            o.prefix = optarg;
            break;
        case OPT_LABEL:
            o.label = optarg;
            break;
        case OPT_TIMEOUT:
            if (parse_int(optarg, "--timeout-ms", 1, &timeout) < 0)
                return 2;
            o.timeout_ms = timeout;
            break;
        case OPT_RAW:
            o.raw = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!o.address || optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    for (m = 0; m < (int)BERTH_N(mode_names); m++)
        if (strcmp(argv[optind], mode_names[m]) == 0)
            break;
    if (m == (int)BERTH_N(mode_names)) {
        fprintf(stderr, "berth-bench-cri: unknown mode \"%s\"\n", argv[optind]);
        return 2;
    }
    o.mode = (enum cb_mode)m;
    if (o.n < 0)
        o.n = o.mode == MODE_FILL ? 100 : 20;
    if (parse_cmd(cmd, &o) < 0)
        return 2;
    snprintf(b.run_id, sizeof(b.run_id), "%s-%ld", o.prefix, (long)getpid());

    if (o.raw && !(b.raw = fopen(o.raw, "a"))) {
        fprintf(stderr, "berth-bench-cri: open \"%s\": %s\n", o.raw, berth_strerror(errno));
        return 1;
    }
    /* no namespace header: the CRI has none, both daemons use k8s.io themselves */
    if (berth_client_open(o.address, NULL, o.timeout_ms, &b.client, &err) < 0) {
        fprintf(stderr, "berth-bench-cri: %s\n", err->msg);
        return 1;
    }
    switch (o.mode) {
    case MODE_LIFECYCLE:
        ret = run_lifecycle(&b);
        break;
    case MODE_FILL:
        ret = run_fill(&b);
        break;
    case MODE_LIST:
        ret = run_list(&b);
        break;
    case MODE_CLEAN:
        ret = run_clean(&b, &err);
        break;
    }
    fflush(stdout);
    if (b.raw)
        fclose(b.raw);
    berth_client_close(b.client);
    if (ret < 0) {
        fprintf(stderr, "berth-bench-cri: %s: %s\n", mode_names[o.mode], err ? err->msg : "failed");
        return 1;
    }
    return atomic_load(&b.errors) ? 1 : 0;
}
