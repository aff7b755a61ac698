/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the unary handlers of the containerd services run on real stores, opened once per
 * process in a temp dir (metadata LMDB without fsync, content store, overlayfs and native
 * snapshotters, events exchange; no runtime, so Tasks answers UNAVAILABLE past its checks; no
 * GC). Each input is one call through the transport's own steps (services/server/dispatch.c:
 * method lookup, namespace check, wire check and decode, handler), as berth_server_invoke runs
 * them, plus a containerd-lease header, which berth_server_invoke cannot pass.
 *
 * Input: as fuzz_grpc (its seeds work here unchanged): two bytes v (little endian), then the
 * request. The method is (v & 0xfff) modulo the number of methods, in fuzz_grpc's order
 * (BERTH_FUZZ_GRPC_LIST=1 prints it); bits 12-13 pick the namespace header ("default", none,
 * "k8s.io", an invalid one), bits 14-15 the lease header (none, "fuzz-lease" which exists,
 * "gone" which does not, an invalid one). Methods without a unary handler here (Diff, the
 * sandbox API, the waiting streams) are decoded only, as in fuzz_grpc.
 *
 * The CRI (runtime.v1 RuntimeService and ImageService) runs over the same stores: a struct
 * berth_cri made by berth_cri_new, never started (no pause image, CNI, state recovery, exit
 * thread or streaming server), with no runtime and no puller. Its image view is k8s.io's
 * image records (every image here has no layers, so nothing mounts an image view); its
 * sandbox and container stores stay empty, since RunPodSandbox stops at the pause image
 * (missing, or without layers once the fuzzer names one), so every call that names a pod or
 * container answers after its checks and lookup, before anything that would reach the runtime,
 * CNI or mounts. CreateContainer's config checks, which come after its sandbox lookup, run
 * besides on a READY sandbox made here (create_container_spec). PullImage answers UNAVAILABLE
 * (no puller) after its checks. GetContainerEvents waits for events: decoded only. mount(2),
 * unshare(2) and setns(2) are replaced here by a finding.
 *
 * Findings besides crashes, sanitizer reports and leaks (FUZZ_CHECK):
 * 1. an error a client may not see for a bad request (INTERNAL, DATA_LOSS, CANCELED, ...);
 * 2. a failed call that changed the metadata store (its last committed LMDB txn id moved);
 * 3. a response that does not decode as the method's output type, or an event a handler
 *    published that does not decode as its Envelope and payload type.
 * The stores are reset (closed, wiped, reopened, preloaded with a few records the seeds name)
 * every RESET_EVERY executions so a long run stays small and fast. A finding that needs the
 * calls before it may therefore not replay from its one input: the message says how many calls
 * ran since the reset. BERTH_FUZZ_SERVICES_STATS=1 prints the outcomes of the calls per method
 * at exit (does the fuzzer get past the checks?), with the spec step of CreateContainer as a
 * line of its own; BERTH_FUZZ_SERVICES_DEBUG=1 prints that step's error messages.
 */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/cri/runtime/v1/api.pb-c.h"
#include "api/pbcheck.h"
#include "api/registry.h"
#include "api/services/containers/v1/containers.pb-c.h"
#include "api/services/images/v1/images.pb-c.h"
#include "api/services/leases/v1/leases.pb-c.h"
#include "api/services/namespaces/v1/namespace.pb-c.h"
#include "api/services/snapshots/v1/snapshots.pb-c.h"
#include "api/types/event.pb-c.h"
#include "lib/sha256.h"
#include "metadata/ingest.h"
#include "images/manifest.h" /* berth_platform_host */
#include "lib/fs.h"
#include "services/cri/cri-internal.h"
#include "services/server/server-internal.h" /* berth_server_find, _check_ns, _decode */
#include "services/services.h"

/* Executions between two resets of the stores: a run of 10^7 stays at a few MB of store, and a
 * reset (~10 ms) costs under 1% of the time. */
#define RESET_EVERY 4096

/* The blob every reset puts in default and k8s.io (make-corpus.py knows its digest). */
#define BLOB           "berth fuzz blob\n"
#define MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
/* The CRI image of k8s.io: config (for the host platform, no layers) and manifest; its records
 * are named by a tag, a digest and its id (sha256:<config digest>), as a CRI pull makes them.
 * make-corpus.py builds the same JSON for its seeds. */
#define CRI_IMAGE "docker.io/library/busybox:1.36"
/* The READY sandbox CreateContainer's spec step is given (see create_container_spec). */
#define CRI_POD  "5eed000000000000000000000000000000000000000000000000000000000000"
#define CRI_REPO "docker.io/library/busybox"
#define CRI_CONFIG                                                                                 \
    "{\"architecture\":\"%s\",\"os\":\"%s\",\"config\":{\"Env\":[\"PATH=/bin\"],"                  \
    "\"Cmd\":[\"sh\"],\"StopSignal\":\"SIGINT\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}" \
    "}"
#define CRI_MANIFEST                                                                               \
    "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_MANIFEST "\",\"config\":{\"mediaType\":"         \
    "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[]}"

struct method {
    const char *service, *name;
    const ProtobufCMessageDescriptor *input, *output;
    char *path;
    unsigned long calls[BERTH_E__MAX]; /* by outcome (BERTH_E_OK: success), for the stats */
};

static struct method *methods;
static size_t n_methods;
/* Outcomes of CreateContainer's spec step (cri_container_spec), for the stats. */
static unsigned long spec_calls[BERTH_E__MAX];

/* The services whose unary handlers run here. Not here: Diff (Apply and Diff mount snapshots),
 * Transfer, GC, fsck. */
static const struct berth_service *const served[] = {
    &berth_svc_version,   &berth_svc_introspection, &berth_svc_namespaces,  &berth_svc_containers,
    &berth_svc_content,   &berth_svc_events,        &berth_svc_images,      &berth_svc_leases,
    &berth_svc_snapshots, &berth_svc_tasks,         &berth_svc_cri_runtime, &berth_svc_cri_image,
};

static const char *const ns_headers[] = {"default", NULL, "k8s.io", "in valid"};
static const char *const lease_headers[] = {NULL, "fuzz-lease", "gone", "../x\n"};

static struct {
    char *dir; /* the temp root: metadata/, content/, snapshots/ */
    struct berth_meta_db *db;
    struct berth_content_store *cs;
    struct berth_snap_registry *snaps;
    struct berth_events *events;
    struct berth_events_sub *sub; /* everything published, checked after each call */
    struct berth_cri *cri;        /* made, never started */
    struct cri_image_info *image; /* the CRI image's info (the CRI's cache holds it) */
    struct berth_services app;
    unsigned long runs; /* since the last reset */
} st;

/* The handlers' check that a call ended: the transport's (services/server/call.c) reads the
 * grpc call, which does not exist here; with no call only the deadline counts, and there is
 * none. */
bool berth_svc_ctx_done(const struct berth_svc_ctx *ctx)
{
    return ctx->deadline_mono_ns && berth_mono_ns() >= ctx->deadline_mono_ns;
}

/* The stream of the running call, for its streaming handler: every message sent must decode as
 * the method's output type; the client sends the input's body as its one message, then closes. */
static struct {
    const ProtobufCMessageDescriptor *in, *out;
    const void *body;
    size_t len;
    bool received;
} stream;

int berth_stream_send_bytes(struct berth_stream *s, const void *data, size_t len,
                            struct berth_err **err)
{
    ProtobufCMessage *msg = NULL;

    if (berth_server_decode(stream.out, data, len, &msg, err) < 0) {
        fprintf(stderr, "streamed %s: %s\n", stream.out->name, (*err)->msg);
        FUZZ_CHECK(!"a streamed response does not decode as the method's output type");
    }
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}

int berth_stream_send(struct berth_stream *s, const ProtobufCMessage *msg, struct berth_err **err)
{
    struct berth_bytes b;
    int ret;

    berth_svc_pack(&b, msg);
    ret = berth_stream_send_bytes(s, b.data, b.len, err);
    berth_bytes_clear(&b);
    return ret;
}

int berth_stream_recv(struct berth_stream *s, ProtobufCMessage **out, struct berth_err **err)
{
    *out = NULL;
    if (stream.received)
        return 0;
    stream.received = true;
    return berth_server_decode(stream.in, stream.body, stream.len, out, err);
}

static void add_service(const ProtobufCServiceDescriptor *s)
{
    for (unsigned i = 0; i < s->n_methods; i++) {
        methods = realloc(methods, (n_methods + 1) * sizeof(*methods));
        FUZZ_CHECK(methods != NULL);
        methods[n_methods++] =
            (struct method){.service = s->name,
                            .name = s->methods[i].name,
                            .input = s->methods[i].input,
                            .output = s->methods[i].output,
                            .path = berth_strdup_printf("/%s/%s", s->name, s->methods[i].name)};
    }
}

/* mount(2), unshare(2) and setns(2) of every object linked here: a handler run here must not
 * reach them (the CRI's sandbox shm and netns), and the fuzzer runs as root. */
int mount(const char *source, const char *target, const char *type, unsigned long flags,
          const void *data)
{
    fprintf(stderr, "mount of \"%s\" on \"%s\"\n", source ? source : "", target ? target : "");
    FUZZ_CHECK(!"a handler tried to mount");
    return -1;
}

int unshare(int flags)
{
    FUZZ_CHECK(!"a handler tried to unshare");
    return -1;
}

int setns(int fd, int nstype)
{
    FUZZ_CHECK(!"a handler tried to setns");
    return -1;
}

/* Whether path runs here: unary and streaming handlers of the services served, except
 * Events.Subscribe and the CRI's GetContainerEvents (they wait for events until their call
 * ends). */
static const struct berth_method *runnable(const char *path,
                                           const ProtobufCMessageDescriptor **in_desc)
{
    const struct berth_method *m = berth_server_find(served, BERTH_N(served), path, in_desc);

    if (m && (strcmp(path, "/containerd.services.events.v1.Events/Subscribe") == 0 ||
              strcmp(path, "/runtime.v1.RuntimeService/GetContainerEvents") == 0))
        return NULL;
    return m;
}

/* One call as the transport makes it (berth_server_invoke, plus the lease header and the
 * streaming kinds). Returns -1 with *err for a refused call. */
static int invoke(const struct method *meth, const char *ns, const char *lease, const void *body,
                  size_t len, struct berth_bytes *out, struct berth_err **err)
{
    const ProtobufCMessageDescriptor *in_desc;
    const struct berth_method *m = runnable(meth->path, &in_desc);
    struct berth_svc_ctx ctx = {.method = meth->path, .ns = ns, .lease = lease, .app = &st.app};
    struct berth_stream dummy = {NULL};
    ProtobufCMessage *req = NULL;
    int ret;

    out->data = NULL;
    out->len = 0;
    FUZZ_CHECK(m != NULL);
    stream.in = in_desc;
    stream.out = meth->output;
    stream.body = body;
    stream.len = len;
    stream.received = false;
    if (berth_server_check_ns(m, ns, err) < 0)
        return -1;
    if (m->kind == BERTH_BIDI_STREAM)
        return m->bidi(&ctx, &dummy, err);
    if (berth_server_decode(in_desc, body, len, &req, err) < 0)
        return -1;
    if (m->kind == BERTH_UNARY)
        ret = m->unary(&ctx, req, out, err);
    else
        ret = m->server_stream(&ctx, req, &dummy, err);
    protobuf_c_message_free_unpacked(req, NULL);
    return ret;
}

/* Preloading: a call that must succeed. */
static void must(const char *path, const char *ns, const ProtobufCMessage *req)
{
    struct berth_bytes in = {0}, out = {0};
    struct berth_err *err = NULL;
    const struct method *m = NULL;

    for (size_t i = 0; i < n_methods && !m; i++)
        if (strcmp(methods[i].path, path) == 0)
            m = &methods[i];
    FUZZ_CHECK(m != NULL);
    berth_svc_pack(&in, req);
    if (invoke(m, ns, NULL, in.data, in.len, &out, &err) < 0) {
        fprintf(stderr, "preload %s: %s\n", path, err->msg);
        FUZZ_CHECK(!"a preload call failed");
    }
    berth_bytes_clear(&in);
    berth_bytes_clear(&out);
}

/* Commits data as a blob of ns. */
static void put_data(const char *ns, const char *data)
{
    struct berth_meta_ingest_opts o = {.ns = ns, .ref = "fuzz-blob"};
    struct berth_meta_ingest *w = NULL;
    struct berth_err *err = NULL;
    char *digest = NULL;

    FUZZ_CHECK(berth_meta_ingest_open(st.db, st.cs, &o, &w, &err) == 0);
    FUZZ_CHECK(berth_meta_ingest_write(w, 0, data, strlen(data), &err) == 0);
    FUZZ_CHECK(berth_meta_ingest_commit(w, 0, NULL, NULL, &digest, NULL, &err) == 0);
    free(digest);
}

static void put_blob(const char *ns)
{
    struct berth_meta_ingest_opts o = {.ns = ns, .ref = "fuzz-ref"};
    struct berth_meta_ingest *w = NULL;
    struct berth_err *err = NULL;

    put_data(ns, BLOB);
    /* A partial ingest for Status, ListStatuses and Abort. */
    FUZZ_CHECK(berth_meta_ingest_open(st.db, st.cs, &o, &w, &err) == 0);
    FUZZ_CHECK(berth_meta_ingest_write(w, 0, "berth", 5, &err) == 0);
    berth_meta_ingest_close(w);
}

static void snapshots(const char *ns, const char *sn)
{
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest p =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest c =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__INIT;

    p.snapshotter = c.snapshotter = (char *)sn;
    p.key = c.key = "base-active";
    must("/containerd.services.snapshots.v1.Snapshots/Prepare", ns, &p.base);
    c.name = "base";
    must("/containerd.services.snapshots.v1.Snapshots/Commit", ns, &c.base);
    p.key = "active";
    p.parent = "base";
    must("/containerd.services.snapshots.v1.Snapshots/Prepare", ns, &p.base);
}

/* What every reset leaves in default and k8s.io: a labelled namespace, a lease, a blob and a
 * partial ingest, committed and active snapshots in both backends, an image and a container.
 * The seeds of make-corpus.py name these. */
static void preload(const char *ns)
{
    Containerd__Services__Namespaces__V1__Namespace__LabelsEntry lab =
        CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__LABELS_ENTRY__INIT;
    Containerd__Services__Namespaces__V1__Namespace__LabelsEntry *labs[] = {&lab};
    Containerd__Services__Namespaces__V1__Namespace nsp =
        CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT;
    Containerd__Services__Namespaces__V1__CreateNamespaceRequest nsr =
        CONTAINERD__SERVICES__NAMESPACES__V1__CREATE_NAMESPACE_REQUEST__INIT;
    Containerd__Services__Leases__V1__CreateRequest lr =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
    Containerd__Types__Descriptor target = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    Containerd__Services__Images__V1__Image img = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
    Containerd__Services__Images__V1__CreateImageRequest ir =
        CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_REQUEST__INIT;
    Containerd__Services__Containers__V1__Container__Runtime rt =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT;
    Containerd__Services__Containers__V1__Container c =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    Containerd__Services__Containers__V1__CreateContainerRequest cr =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    char digest[72];

    lab.key = "fuzz";
    lab.value = "yes";
    nsp.name = (char *)ns;
    nsp.labels = labs;
    nsp.n_labels = 1;
    nsr.namespace_ = &nsp;
    must("/containerd.services.namespaces.v1.Namespaces/Create", NULL, &nsr.base);
    lr.id = "fuzz-lease";
    must("/containerd.services.leases.v1.Leases/Create", ns, &lr.base);
    put_blob(ns);
    snapshots(ns, "overlayfs");
    snapshots(ns, "native");

    berth_sha256_digest_buf(BLOB, strlen(BLOB), digest);
    target.media_type = MEDIA_MANIFEST;
    target.digest = digest;
    target.size = (int64_t)strlen(BLOB);
    img.name = "docker.io/library/fuzz:1";
    img.target = &target;
    ir.image = &img;
    must("/containerd.services.images.v1.Images/Create", ns, &ir.base);

    rt.name = "io.containerd.runc.v2";
    spec.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
    spec.value.data = (uint8_t *)"{}";
    spec.value.len = 2;
    c.id = "web";
    c.image = img.name;
    c.runtime = &rt;
    c.spec = &spec;
    c.snapshotter = "overlayfs";
    c.snapshot_key = "active";
    cr.container = &c;
    must("/containerd.services.containers.v1.Containers/Create", ns, &cr.base);
}

/* The CRI image in k8s.io (see CRI_CONFIG): its blobs and three records. */
static void preload_cri_image(void)
{
    Containerd__Services__Images__V1__Image__LabelsEntry lab =
        CONTAINERD__SERVICES__IMAGES__V1__IMAGE__LABELS_ENTRY__INIT;
    Containerd__Services__Images__V1__Image__LabelsEntry *labs[] = {&lab};
    Containerd__Types__Descriptor target = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    Containerd__Services__Images__V1__Image img = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
    Containerd__Services__Images__V1__CreateImageRequest ir =
        CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_REQUEST__INIT;
    struct berth_platform host = {0};
    char cdigest[72], mdigest[72];
    char *config, *manifest, *names[3];

    berth_platform_host(&host);
    config = berth_strdup_printf(CRI_CONFIG, host.arch, host.os);
    berth_platform_clear(&host);
    berth_sha256_digest_buf(config, strlen(config), cdigest);
    manifest = berth_strdup_printf(CRI_MANIFEST, cdigest, strlen(config));
    berth_sha256_digest_buf(manifest, strlen(manifest), mdigest);
    put_data(CRI_NS, config);
    put_data(CRI_NS, manifest);

    lab.key = CRI_LABEL_IMAGE_MANAGED;
    lab.value = "managed";
    target.media_type = MEDIA_MANIFEST;
    target.digest = mdigest;
    target.size = (int64_t)strlen(manifest);
    img.target = &target;
    img.labels = labs;
    img.n_labels = 1;
    ir.image = &img;
    names[0] = berth_xstrdup(CRI_IMAGE);
    names[1] = berth_strdup_printf("%s@%s", CRI_REPO, mdigest);
    names[2] = berth_xstrdup(cdigest);
    for (size_t i = 0; i < BERTH_N(names); i++) {
        img.name = names[i];
        must("/containerd.services.images.v1.Images/Create", CRI_NS, &ir.base);
        free(names[i]);
    }
    free(config);
    free(manifest);
}

/* The CRI over the stores: berth_cri_new and the first step of berth_cri_start (its dirs);
 * the rest of start-up is left out (see the top). CNI's configuration dir exists and is
 * empty, so the pod network is not ready. */
static void cri_open(void)
{
    static const char *const files[] = {"hostname", "hosts", "resolv.conf"};
    struct berth_err *err = NULL;
    char *p, *shm;
    char *cni = berth_strdup_printf("%s/cni-conf", st.dir);
    struct berth_cri_opts o = {.root = st.dir,
                               .state = st.dir,
                               .bin_dir = st.dir,
                               .cni_conf_dir = cni,
                               .cni_bin_dir = cni,
                               .max_log_line = 16384};

    FUZZ_CHECK(mkdir(cni, 0700) == 0);
    FUZZ_CHECK(berth_cri_new(&st.app, &o, &st.cri, &err) == 0);
    free(cni);
    FUZZ_CHECK(berth_mkdir_p(st.cri->root_dir, 0711, 0711, &err) == 0);
    FUZZ_CHECK(berth_mkdir_p(st.cri->state_dir, 0711, 0711, &err) == 0);
    st.app.cri = st.cri;
    FUZZ_CHECK(cri_image_resolve(st.cri, CRI_IMAGE, &st.image, &err) == 0);
    /* The files RunPodSandbox would have made for CRI_POD, which a container binds. */
    p = cri_sandbox_root(st.cri, CRI_POD);
    FUZZ_CHECK(berth_mkdir_p(p, 0711, 0711, &err) == 0);
    for (size_t i = 0; i < BERTH_N(files); i++) {
        char *f = berth_strdup_printf("%s/%s", p, files[i]);
        FUZZ_CHECK(berth_write_file_atomic(f, "", 0, 0644, &err) == 0);
        free(f);
    }
    free(p);
    p = cri_sandbox_state(st.cri, CRI_POD);
    shm = berth_strdup_printf("%s/shm", p);
    FUZZ_CHECK(berth_mkdir_p(shm, 0711, 0711, &err) == 0);
    free(shm);
    free(p);
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)remove(path);
    return 0;
}

static void stores_close(void)
{
    st.app.cri = NULL;
    berth_cri_free(steal_ptr(st.cri));
    berth_events_unsubscribe(steal_ptr(st.sub));
    berth_events_free(steal_ptr(st.events));
    berth_snap_registry_close(steal_ptr(st.snaps));
    berth_content_store_close(steal_ptr(st.cs));
    berth_meta_db_close(steal_ptr(st.db));
    /* Wipe the root's contents (it stays: its name is in the app). */
    FUZZ_CHECK(nftw(st.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

static void stores_open(void)
{
    struct berth_meta_opts mo = {.map_size = 256 << 20, .no_sync = true};
    struct berth_err *err = NULL;
    char *p;

    FUZZ_CHECK(mkdir(st.dir, 0700) == 0 || errno == EEXIST);
    p = berth_strdup_printf("%s/metadata", st.dir);
    FUZZ_CHECK(berth_meta_db_open(p, &mo, &st.db, &err) == 0);
    free(p);
    p = berth_strdup_printf("%s/content", st.dir);
    FUZZ_CHECK(berth_content_store_open(p, &st.cs, &err) == 0);
    free(p);
    FUZZ_CHECK(berth_snap_registry_open(st.dir, &st.snaps, &err) == 0);
    st.events = berth_events_new();
    FUZZ_CHECK(berth_events_subscribe(st.events, NULL, 0, &st.sub, &err) == 0);
    st.app = (struct berth_services){
        .db = st.db,
        .root = st.dir,
        .state = st.dir,
        .events = st.events,
        .content = st.cs,
        .snapshotters = st.snaps,
    };
    preload("default");
    preload("k8s.io");
    preload_cri_image();
    cri_open();
    st.runs = 0;
}

static void at_exit(void)
{
    if (getenv("BERTH_FUZZ_SERVICES_STATS")) {
        for (size_t i = 0; i < n_methods; i++) {
            bool any = false;
            for (int c = 0; c < BERTH_E__MAX; c++) {
                if (!methods[i].calls[c])
                    continue;
                fprintf(stderr, "%s%s %s %lu", any ? "," : "", any ? "" : methods[i].path,
                        c ? berth_errc_name(c) : "OK", methods[i].calls[c]);
                any = true;
            }
            if (any)
                fputc('\n', stderr);
        }
        fprintf(stderr, "CreateContainer spec (cri_container_spec)");
        for (int c = 0; c < BERTH_E__MAX; c++)
            if (spec_calls[c])
                fprintf(stderr, " %s %lu", c ? berth_errc_name(c) : "OK", spec_calls[c]);
        fputc('\n', stderr);
    }
    stores_close();
    (void)rmdir(st.dir);
}

static void init(void)
{
    const char *tmp = getenv("TMPDIR");

    for (size_t i = 0; berth_api_services[i]; i++)
        add_service(berth_api_services[i]);
    add_service(&runtime__v1__runtime_service__descriptor);
    add_service(&runtime__v1__image_service__descriptor);
    FUZZ_CHECK(n_methods > 0 && n_methods <= 0x1000);
    if (getenv("BERTH_FUZZ_GRPC_LIST")) {
        for (size_t i = 0; i < n_methods; i++)
            printf("%zu %s %s\n", i, methods[i].path, methods[i].input->name);
        fflush(stdout);
        _exit(0); /* libFuzzer reports exit() from the target as a finding */
    }
    st.dir = berth_strdup_printf("%s/berth-fuzz-services.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(st.dir) != NULL);
    stores_open();
    atexit(at_exit);
}

/* The last committed transaction of the metadata store. */
static uint64_t meta_txnid(void)
{
    struct berth_meta_txn *txn = NULL;
    struct berth_err *err = NULL;
    uint64_t id;

    FUZZ_CHECK(berth_meta_txn_begin_read(st.db, &txn, &err) == 0);
    id = berth_meta_txn_snapshot_id(txn);
    berth_meta_txn_abort(txn);
    return id;
}

/* Errors a client may get for what it sent. Not: INTERNAL (a bug or the host failing), DATA_LOSS
 * (the store is damaged), CANCELED / DEADLINE_EXCEEDED (there is no deadline), PERMISSION_DENIED
 * (nothing here checks credentials). */
static bool client_error(enum berth_errc code)
{
    switch (code) {
    case BERTH_E_NOT_FOUND:
    case BERTH_E_ALREADY_EXISTS:
    case BERTH_E_INVALID_ARGUMENT:
    case BERTH_E_FAILED_PRECONDITION:
    case BERTH_E_UNAVAILABLE:
    case BERTH_E_RESOURCE_EXHAUSTED:
    case BERTH_E_NOT_IMPLEMENTED:
    case BERTH_E_OUT_OF_RANGE:
        return true;
    default:
        return false;
    }
}

/* Every envelope published by the call decodes, and so does its payload when a handler (not a
 * client, through Events.Publish/Forward) made it. */
static void check_events(const struct method *m)
{
    bool client = strcmp(m->service, "containerd.services.events.v1.Events") == 0;
    struct berth_bytes env = {0};
    struct berth_err *err = NULL;
    int r;

    while ((r = berth_events_sub_next(st.sub, 0, &env, &err)) == 1) {
        ProtobufCMessage *msg = NULL, *payload = NULL;
        const Containerd__Types__Envelope *e;
        const ProtobufCMessageDescriptor *d;

        if (berth_server_decode(&containerd__types__envelope__descriptor, env.data, env.len, &msg,
                                &err) < 0) {
            fprintf(stderr, "%s: published envelope: %s\n", m->path, err->msg);
            FUZZ_CHECK(!"a published envelope does not decode");
        }
        e = (const void *)msg;
        if (!client) {
            FUZZ_CHECK(e->event && (d = berth_api_find_message(e->event->type_url)));
            if (berth_server_decode(d, e->event->value.data, e->event->value.len, &payload, &err) <
                0) {
                fprintf(stderr, "%s: event %s: %s\n", m->path, e->topic, err->msg);
                FUZZ_CHECK(!"a published event does not decode");
            }
            protobuf_c_message_free_unpacked(payload, NULL);
        }
        protobuf_c_message_free_unpacked(msg, NULL);
        berth_bytes_clear(&env);
    }
    FUZZ_CHECK(r == 0);
}

/* CreateContainer's config checks past its sandbox lookup, which always fails here (no
 * sandbox can run): cri_container_spec for a READY sandbox made from the request's
 * sandbox_config (a fixed one when that would not pass RunPodSandbox's checks), with the
 * image the config names, or the CRI image when that names none (RemoveImage may have removed
 * it since the last reset). Same findings as for a call. */
static void create_container_spec(const uint8_t *body, size_t len)
{
    Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
    Runtime__V1__PodSandboxConfig pod = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    Runtime__V1__CreateContainerRequest *req;
    const Runtime__V1__ContainerConfig *cfg;
    const Runtime__V1__PodSandboxConfig *pc;
    struct cri_image_info *img;
    struct cri_sandbox *s;
    struct berth_err *err = NULL;
    char *cgroups = NULL;
    json_t *spec = NULL;
    uint64_t before;
    int ret;

    /* decoded as berthd decodes it (the wire check refuses what it refuses, e.g. NULs) */
    if (berth_server_decode(&runtime__v1__create_container_request__descriptor, body, len,
                            (ProtobufCMessage **)&req, &err) < 0) {
        fuzz_err_consume(&err);
        return;
    }
    cfg = req->config;
    pc = req->sandbox_config;
    if (!cfg || !cfg->metadata || !cfg->metadata->name || !*cfg->metadata->name || !cfg->image ||
        !cfg->image->image || !*cfg->image->image) {
        runtime__v1__create_container_request__free_unpacked(req, NULL);
        return;
    }
    if (cri_image_resolve(st.cri, cfg->image->image, &img, &err) < 0) {
        FUZZ_CHECK(client_error(err->code));
        if (err->code != BERTH_E_NOT_FOUND) {
            fuzz_err_consume(&err);
            runtime__v1__create_container_request__free_unpacked(req, NULL);
            return;
        }
        fuzz_err_consume(&err);
        img = st.image;
    }
    if (!pc || !pc->metadata || !pc->metadata->name || !*pc->metadata->name ||
        !pc->metadata->namespace_ || !*pc->metadata->namespace_ || !pc->metadata->uid ||
        !*pc->metadata->uid) {
        md.name = "web";
        md.namespace_ = "default";
        md.uid = "uid-1";
        pod.metadata = &md;
        pc = &pod;
    }
    s = cri_sandbox_new();
    s->id = berth_xstrdup(CRI_POD);
    s->config = (Runtime__V1__PodSandboxConfig *)cri_msg_dup(&pc->base);
    s->runtime_handler = berth_xstrdup("runc");
    s->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
    before = meta_txnid();
    ret = cri_container_spec(st.cri, s,
                             "c0ffee0000000000000000000000000000000000000000000000000000000000",
                             cfg, img, &st.cri->runtimes[0], &cgroups, &spec, &err);
    spec_calls[ret < 0 ? err->code : BERTH_E_OK]++;
    if (ret < 0) {
        if (getenv("BERTH_FUZZ_SERVICES_DEBUG"))
            fprintf(stderr, "spec: %s\n", err->msg);
        if (!client_error(err->code) || meta_txnid() != before) {
            fprintf(stderr, "CreateContainer spec: %s: %s\n", berth_errc_name(err->code), err->msg);
            FUZZ_CHECK(client_error(err->code));
            FUZZ_CHECK(!"a failed spec step changed the metadata store");
        }
        fuzz_err_consume(&err);
    }
    json_decref(spec);
    free(cgroups);
    cri_sandbox_put(st.cri, s);
    runtime__v1__create_container_request__free_unpacked(req, NULL);
}

/* Methods without a handler here: the decode check of fuzz_grpc. */
static void decode_only(const struct method *m, const uint8_t *body, size_t len)
{
    ProtobufCMessage *req = NULL;
    struct berth_err *err = NULL;

    if (berth_server_decode(m->input, body, len, &req, &err) < 0) {
        FUZZ_CHECK(req == NULL && err->code == BERTH_E_INVALID_ARGUMENT);
        fuzz_err_consume(&err);
        return;
    }
    protobuf_c_message_free_unpacked(req, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;
    struct method *m;
    const char *ns, *lease;
    uint64_t before;
    unsigned v;
    int ret;

    if (!methods)
        init();
    if (size < 2)
        return 0;
    if (st.runs++ == RESET_EVERY) {
        stores_close();
        stores_open();
        st.runs = 1;
    }
    v = data[0] | (unsigned)data[1] << 8;
    m = &methods[(v & 0xfff) % n_methods];
    ns = ns_headers[v >> 12 & 3];
    lease = lease_headers[v >> 14 & 3];
    if (!runnable(m->path, NULL)) {
        decode_only(m, data + 2, size - 2);
        return 0;
    }

    before = meta_txnid();
    ret = invoke(m, ns, lease, data + 2, size - 2, &out, &err);
    m->calls[ret < 0 && err ? err->code : BERTH_E_OK]++;
    if (ret < 0) {
        FUZZ_CHECK(err != NULL && err->msg != NULL);
        /* Content.Write keeps what it received so far as a resumable ingest (as containerd
         * does) when a later step fails, so it is not checked for this. */
        bool may_write = strcmp(m->path, "/containerd.services.content.v1.Content/Write") == 0;

        if (!client_error(err->code) || (!may_write && meta_txnid() != before)) {
            fprintf(stderr, "%s (ns %s, lease %s, call %lu since reset): %s: %s\n", m->path,
                    ns ? ns : "none", lease ? lease : "none", st.runs, berth_errc_name(err->code),
                    err->msg);
            FUZZ_CHECK(client_error(err->code));
            FUZZ_CHECK(!"a failed call changed the metadata store");
        }
        fuzz_err_consume(&err);
    } else if (out.data) { /* unary; streamed messages were checked as they went */
        ProtobufCMessage *resp = NULL;

        if (berth_server_decode(m->output, out.data, out.len, &resp, &err) < 0) {
            fprintf(stderr, "%s: response: %s\n", m->path, err->msg);
            FUZZ_CHECK(!"a response does not decode as the method's output type");
        }
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    check_events(m);
    berth_bytes_clear(&out);
    if (strcmp(m->path, "/runtime.v1.RuntimeService/CreateContainer") == 0)
        create_container_spec(data + 2, size - 2);
    return 0;
}
