/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the CRI's RPC files share: the in-memory sandbox and container stores (rebuilt from
 * records at start-up, state.c), the image view over k8s.io's image records (image.c) and
 * small conversions. Locking: c->mu guards the stores and every object's mutable fields; an
 * object's op mutex serialises its lifecycle calls (create/start/stop/remove), which talk to
 * shims and CNI plugins without holding c->mu. Objects are reference counted, so a handler
 * keeps using one that another call removes from the store.
 */
#ifndef BERTH_SERVICES_CRI_INTERNAL_H
#define BERTH_SERVICES_CRI_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/cri/runtime/v1/api.pb-c.h"
#include "lib/err.h"
#include "images/manifest.h"
#include "images/remote/auth.h"
#include "lib/labels.h"
#include "metadata/record.h"
#include "services/cri/cri.h"
#include "runtime/oci/opts.h"
#include "services/services.h"

#define CRI_NS BERTH_CRI_NAMESPACE

/* Labels and extensions containerd's CRI puts on container records. */
#define CRI_LABEL_KIND          "io.cri-containerd.kind"
#define CRI_KIND_SANDBOX        "sandbox"
#define CRI_KIND_CONTAINER      "container"
#define CRI_EXT_SANDBOX         "io.cri-containerd.sandbox.metadata"
#define CRI_EXT_CONTAINER       "io.cri-containerd.container.metadata"
#define CRI_TYPE_SANDBOX_META   "github.com/containerd/cri/pkg/store/sandbox/Metadata"
#define CRI_TYPE_CONTAINER_META "github.com/containerd/cri/pkg/store/container/Metadata"
#define CRI_LABEL_IMAGE_MANAGED "io.cri-containerd.image"
/* berth's own sandbox image, created at start-up from berth-pause (image.c). */
#define CRI_PAUSE_IMAGE "localhost/berth/pause:" BERTH_VERSION

/* OCI annotations (containerd pkg/cri/annotations). */
#define CRI_ANN_CONTAINER_TYPE    "io.kubernetes.cri.container-type"
#define CRI_ANN_SANDBOX_ID        "io.kubernetes.cri.sandbox-id"
#define CRI_ANN_SANDBOX_NAME      "io.kubernetes.cri.sandbox-name"
#define CRI_ANN_SANDBOX_NAMESPACE "io.kubernetes.cri.sandbox-namespace"
#define CRI_ANN_SANDBOX_UID       "io.kubernetes.cri.sandbox-uid"
#define CRI_ANN_SANDBOX_LOG_DIR   "io.kubernetes.cri.sandbox-log-directory"
#define CRI_ANN_CONTAINER_NAME    "io.kubernetes.cri.container-name"
#define CRI_ANN_IMAGE_NAME        "io.kubernetes.cri.image-name"

struct berth_cni;
struct berth_stream_server;

struct cri_sandbox {
    int refs; /* under c->mu */
    pthread_mutex_t op;
    /* Held around the pause task's delete: StopPodSandbox and the exit thread both handle one
     * exit, and the second must find the task gone, not an empty shim it takes for an orphan. */
    pthread_mutex_t task_del;
    char *id, *name;                       /* name: <pod>_<ns>_<uid>_<attempt> */
    Runtime__V1__PodSandboxConfig *config; /* owned, unpacked */
    char *runtime_handler;
    int64_t created_ns;
    /* Mutable, under c->mu. */
    Runtime__V1__PodSandboxState state;
    uint32_t pid;
    char *netns_path; /* NULL: host network, or none yet */
    char *ip;
    char **extra_ips; /* NULL-terminated, may be NULL */
    char *cni_result; /* raw JSON, verbose status */
    bool removed;
};

enum cri_ctr_phase { CTR_CREATED, CTR_RUNNING, CTR_EXITED, CTR_UNKNOWN };

/* The container status checkpoint: <root>/…/containers/<id>/status. */
struct cri_ctr_status {
    uint32_t pid;
    int64_t created_ns, started_ns, finished_ns;
    int32_t exit_code;
    char *reason, *message;
    bool unknown;
};

struct cri_container {
    int refs; /* under c->mu */
    pthread_mutex_t op;
    pthread_cond_t exited;    /* signalled (under c->mu) when status.finished_ns is set */
    pthread_mutex_t task_del; /* one task delete per exit (exit thread and StopContainer) */
    char *id, *name, *sandbox_id;
    Runtime__V1__ContainerConfig *config; /* owned, unpacked */
    char *image_ref;                      /* image id: sha256:<config digest> */
    char *image_name;                     /* as the config named it */
    char *log_path;                       /* absolute; NULL: no log */
    uint32_t stop_signal;                 /* image config's, 0: SIGTERM */
    char *cgroups_path;
    /* Mutable, under c->mu. */
    struct cri_ctr_status st;
    bool starting, removing, stop_sent;
    uint64_t fs_bytes, fs_inodes; /* writable layer usage, measured at fs_at (monotonic) */
    int64_t fs_at;
    bool pending_exit; /* an exit that came while StartContainer ran */
    uint32_t pending_status;
    int64_t pending_at;
};

/* Hugepage limits and unified entries of a berth_oci_resources, held for its lifetime. */
struct cri_hugepages {
    struct berth_oci_hugepage_limit v[8];
    size_t n;
    struct berth_labels unified;
};

struct cri_exit; /* queued exit (cri.c) */
struct cri_image_cache;
struct cri_event_hub;

struct berth_cri {
    struct berth_services *svc; /* borrowed */
    char *root_dir, *state_dir, *netns_dir, *bin_dir;
    char *sandbox_image; /* the normalized name; berth's pause image by default */
    bool own_pause;      /* sandbox_image is berth's own */
    char *snapshotter, *default_runtime;
    struct berth_cri_runtime *runtimes; /* copies, "runc" first */
    size_t n_runtimes;
    int64_t max_log_line;
    bool unprivileged_ports, unprivileged_icmp;
    int oom_score_adj_min; /* lowest value the kernel lets berthd set (its own when restricted) */

    pthread_mutex_t mu;
    struct cri_sandbox **sandboxes;
    size_t n_sandboxes;
    struct cri_container **containers;
    size_t n_containers;
    struct berth_labels names; /* reserved sandbox and container names -> id */

    /* CNI (runtime/cni); reloaded while not ready. */
    pthread_rwlock_t cni_lock; /* add/del read-lock, reload write-locks */
    struct berth_cni *cni;
    char *cni_conf_dir, *cni_bin_dir, *cni_cache_dir;

    /* Exit handling thread (cri.c). */
    pthread_t exit_thread;
    bool exit_thread_started, stopping;
    pthread_cond_t exit_cond;
    struct cri_exit *exit_head, **exit_tail;

    struct cri_image_cache *images;
    uint64_t imagefs_bytes, imagefs_inodes; /* ImageFsInfo, measured at imagefs_at */
    int64_t imagefs_at;
    struct cri_event_hub *hub;

    /* The streaming server (services/streaming) behind Exec, Attach and PortForward. */
    struct berth_stream_server *stream;
    char *stream_address;
    uint16_t stream_port;
    int64_t stream_idle_ms;
};

/* ---- cri.c: ids, stores, helpers ---- */
/* 64 lower-case hex characters from getrandom. */
void cri_new_id(char out[65]);
/* A copy of msg (deep, by pack/unpack); aborts on OOM. */
ProtobufCMessage *cri_msg_dup(const ProtobufCMessage *msg);
/* Reserves name for id: ALREADY_EXISTS naming the holder when taken. */
int cri_name_reserve(struct berth_cri *c, const char *name, const char *id, struct berth_err **err);
void cri_name_release(struct berth_cri *c, const char *name);

/* Lookup by full id or unique prefix; NOT_FOUND ("sandbox \"x\" not found"), INVALID_ARGUMENT
 * for an empty id, NOT_FOUND too for an ambiguous prefix (named as such). Returns a reference. */
int cri_sandbox_get(struct berth_cri *c, const char *id, struct cri_sandbox **out,
                    struct berth_err **err);
int cri_container_get(struct berth_cri *c, const char *id, struct cri_container **out,
                      struct berth_err **err);
/* Resolves a prefix to a full id without erroring: NULL when unknown (a filter then matches
 * nothing). Caller frees. */
char *cri_sandbox_resolve(struct berth_cri *c, const char *id);
char *cri_container_resolve(struct berth_cri *c, const char *id);
void cri_sandbox_put(struct berth_cri *c, struct cri_sandbox *s);     /* NULL-safe */
void cri_container_put(struct berth_cri *c, struct cri_container *k); /* NULL-safe */
void cri_sandbox_add(struct berth_cri *c, struct cri_sandbox *s);     /* store takes a ref */
void cri_container_add(struct berth_cri *c, struct cri_container *k); /* store takes a ref */
void cri_sandbox_drop(struct berth_cri *c, struct cri_sandbox *s);
void cri_container_drop(struct berth_cri *c, struct cri_container *k);
struct cri_sandbox *cri_sandbox_new(void);
struct cri_container *cri_container_new(void);
/* Snapshot of the stores (references); free with the _list_put functions. */
void cri_sandboxes_list(struct berth_cri *c, struct cri_sandbox ***out, size_t *n);
void cri_containers_list(struct berth_cri *c, struct cri_container ***out, size_t *n);
void cri_sandboxes_put(struct berth_cri *c, struct cri_sandbox **v, size_t n);
void cri_containers_put(struct berth_cri *c, struct cri_container **v, size_t n);

enum cri_ctr_phase cri_ctr_phase(const struct cri_ctr_status *st);
Runtime__V1__ContainerState cri_ctr_state(const struct cri_ctr_status *st);

/* Per-object directories. */
char *cri_sandbox_root(const struct berth_cri *c, const char *id);
char *cri_sandbox_state(const struct berth_cri *c, const char *id);
char *cri_container_root(const struct berth_cri *c, const char *id);
char *cri_container_state(const struct berth_cri *c, const char *id);

/* Writes the status checkpoint atomically (temp + rename). */
int cri_ctr_status_save(const struct berth_cri *c, const char *id, const struct cri_ctr_status *st,
                        struct berth_err **err);
int cri_ctr_status_load(const struct berth_cri *c, const char *id, struct cri_ctr_status *st,
                        struct berth_err **err);
void cri_ctr_status_clear(struct cri_ctr_status *st);

struct berth_rt_task;
/* SIGKILL to every process of t, then waits for its init to exit (a task already gone or
 * stopped is fine). -1 with err only when the shim refuses the kill for another reason. */
int cri_task_kill_wait(struct berth_cri *c, struct berth_rt_task *t, struct berth_err **err);

/* Records an exit of a container's init process (first exit wins), deletes its task, saves
 * the status and wakes waiters. exited_ns 0: now. */
void cri_container_exited(struct berth_cri *c, struct cri_container *k, uint32_t exit_status,
                          int64_t exited_ns, const char *reason);
void cri_sandbox_exited(struct berth_cri *c, struct cri_sandbox *s);

/* The runtime handler's shim and options. NOT_FOUND naming an unknown handler. */
int cri_runtime_find(const struct berth_cri *c, const char *handler,
                     const struct berth_cri_runtime **out, struct berth_err **err);

/* ---- image.c ---- */
struct cri_image_info {
    char *id;     /* sha256:<config digest> */
    char *target; /* the records' target digest */
    char *config_digest;
    char *top_chain_id; /* of the host platform's manifest */
    struct berth_image_config *config;
    uint64_t size;
};
void cri_image_info_free(struct cri_image_info *i);
/* The image ref names (name, id, unique id prefix) in k8s.io: NOT_FOUND naming ref. */
int cri_image_resolve(struct berth_cri *c, const char *ref, struct cri_image_info **out,
                      struct berth_err **err);
void cri_images_cache_free(struct cri_image_cache *ic);
/* Pulls ref into k8s.io as PullImage does (three records); *image_id caller-owned. */
int cri_image_pull(struct berth_cri *c, const char *ref, const struct berth_registry_creds *creds,
                   bool (*is_canceled)(void *), void *cancel_arg, char **image_id,
                   struct berth_err **err);
/* Creates berth's pause image in k8s.io from <bin_dir>/berth-pause (idempotent). */
int cri_pause_image_ensure(struct berth_cri *c, struct berth_err **err);

/* ---- conversions (convert.c) ---- */
/* protobuf map entries <-> labels */
void cri_labels_from_map(struct berth_labels *dst, size_t n, ProtobufCMessage *const *entries);
/* CRI "stdout|stderr" log timestamps etc. live in the shim; here only map helpers. */

/* ---- statuses (sandbox.c, container.c): owned trees, free with
 * protobuf_c_message_free_unpacked ---- */
Runtime__V1__PodSandboxStatus *cri_sandbox_status_new(struct berth_cri *c, struct cri_sandbox *s);
Runtime__V1__ContainerStatus *cri_container_status_new(struct berth_cri *c,
                                                       struct cri_container *k);
/* GetContainerEvents (events.c). */
int cri_events_stream(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_stream *st, struct berth_err **err);
/* du of path, cached for a few seconds (stats.c). */
void cri_fs_usage(struct berth_cri *c, const char *path, uint64_t *bytes, uint64_t *inodes);

/* ---- network.c ---- */
/* Loads the CNI configuration again when it is not ready (Status and RunPodSandbox call it). */
void cri_cni_reload(struct berth_cri *c);
/* Whether the pod network is ready; *msg (caller frees, may be NULL) says why not. */
bool cri_cni_ready(struct berth_cri *c, char **msg);
/* A new netns for s (pod network only): fills s->netns_path. First writes s's metadata (as
 * its record will hold it, netns path included) to CRI_NETWORK_INTENT in the sandbox's state
 * dir, for start-up to undo the network of a sandbox a crash left without a record.
 * FAILED_PRECONDITION while CNI is not ready. */
#define CRI_NETWORK_INTENT "network.json"
int cri_netns_create(struct berth_cri *c, struct cri_sandbox *s, struct berth_err **err);
/* CNI ADD into s's netns: fills s->ip, extra_ips, cni_result (under c->mu). On failure the
 * plugins have undone their part (the netns stays: cri_network_teardown removes it). */
int cri_cni_attach(struct berth_cri *c, struct cri_sandbox *s, struct berth_err **err);
/* The netns alone removed (after a failed ADD, which undid itself). */
int cri_netns_remove(struct berth_cri *c, struct cri_sandbox *s, struct berth_err **err);
/* CNI DEL and the netns removed (idempotent; a missing netns is fine). */
int cri_network_teardown(struct berth_cri *c, struct cri_sandbox *s, struct berth_err **err);
void cri_cni_free(struct berth_cri *c);

/* ---- state.c ---- */
/* Rebuilds the stores from k8s.io's records, status checkpoints and shims. */
int cri_state_recover(struct berth_cri *c, struct berth_err **err);

/* ---- sandbox_run.c ---- */
const Runtime__V1__NamespaceOption *cri_pod_ns_options(const Runtime__V1__PodSandboxConfig *cfg);
bool cri_pod_host_network(const Runtime__V1__PodSandboxConfig *cfg);
bool cri_pod_host_pid(const Runtime__V1__PodSandboxConfig *cfg);
bool cri_pod_host_ipc(const Runtime__V1__PodSandboxConfig *cfg);
/* Unmounts the sandbox's shm and removes its root and state dirs. */
void cri_sandbox_files_remove(struct berth_cri *c, const char *id);
/* cgroupsPath under parent (NULL/"": /k8s.io/<id>), runc's systemd form when systemd. */
char *cri_cgroups_path(const char *parent, const char *id, bool systemd);
int cri_apply_seccomp(json_t *spec, const Runtime__V1__SecurityProfile *p, const char *old_path,
                      bool privileged, struct berth_err **err);
/* The sandbox metadata extension (JSON), caller frees. */
char *cri_sandbox_meta_json(const struct cri_sandbox *s);
struct berth_rt_io;
/* Creates the task of record id (io NULL: none) and starts it; on failure no task is left. */
int cri_task_create_start(struct berth_cri *c, const char *id, const struct berth_cri_runtime *rt,
                          const struct berth_rt_io *io, uint32_t *pid, struct berth_err **err);

/* ---- container_create.c ---- */
/* "SIGTERM", "TERM", "15" -> the number; 0 for anything else. */
uint32_t cri_signal_parse(const char *s);
void cri_resources_from_pb(const Runtime__V1__LinuxContainerResources *r,
                           struct berth_oci_resources *o, struct cri_hugepages *hp);
char *cri_container_meta_json(const struct cri_container *k);
/* CreateContainer's validation and spec: the OCI spec of container id in sandbox s (its
 * config, pid and dirs are read, nothing written) for cfg (metadata and image checked by the
 * caller) and image img. *out owned by the caller (json_decref), *cgroups too (free, may be set
 * on failure). INVALID_ARGUMENT for a config berth refuses, NOT_FOUND / FAILED_PRECONDITION
 * for a pid namespace target that is gone or not running. An image with layers has a view of
 * its top snapshot mounted for the call (users, groups, volume contents); without layers
 * nothing is mounted, and only the image's volumes get (empty) host dirs under the container's
 * root dir. Exposed for fuzz_services, which has no running sandbox. */
int cri_container_spec(struct berth_cri *c, struct cri_sandbox *s, const char *id,
                       const Runtime__V1__ContainerConfig *cfg, const struct cri_image_info *img,
                       const struct berth_cri_runtime *rt, char **cgroups, json_t **out,
                       struct berth_err **err);
/* Every pair of the selector is among the labels (map entries). */
bool cri_labels_select(size_t n_sel, ProtobufCMessage *const *sel, size_t n_labels,
                       ProtobufCMessage *const *labels);

/* A container filter (ListContainers, ListContainerStats): its id and pod sandbox id
 * prefixes resolved to full ids (NULL: not given). False when one names nothing, so the
 * listing is empty. */
bool cri_ctr_filter_prepare(struct berth_cri *c, const char *id, const char *sandbox_id,
                            char **want, char **want_sb);
/* k matches the prepared ids and the label selector (state is the caller's). */
bool cri_ctr_filter_match(const struct cri_container *k, const char *want, const char *want_sb,
                          size_t n_sel, ProtobufCMessage *const *sel);

/* ---- container.c ---- */
/* StopContainer's work: signal (timeout > 0: the stop signal, then SIGKILL), wait for the
 * exit. A container not running is done. */
int cri_container_stop(struct berth_cri *c, struct cri_container *k, int64_t timeout_s,
                       struct berth_err **err);
/* RemoveContainer's work (force-stops first). */
int cri_container_remove(struct berth_cri *c, struct cri_container *k, struct berth_err **err);

/* The one-entry "info" map of verbose statuses (ImageStatus, PodSandboxStatus,
 * ContainerStatus, Status): every generated map entry type has this layout. Fill it, then
 *     resp.info = (void *)i.ents; resp.n_info = 1; */
struct cri_info {
    struct berth_pb_strmap_entry ent;
    struct berth_pb_strmap_entry *ents[1];
};
static inline void cri_info_fill(struct cri_info *i, const ProtobufCMessageDescriptor *entry,
                                 const char *key, const char *value)
{
    i->ent =
        (struct berth_pb_strmap_entry){PROTOBUF_C_MESSAGE_INIT(entry), (char *)key, (char *)value};
    i->ents[0] = &i->ent;
}

/* ---- exec_sync.c: what ExecSync and the streaming exec share ---- */
/* The container's process spec with args cmd (and a terminal, TERM=xterm, for tty; of
 * width x height when both are known), as JSON text for the shim's Exec; caller frees. NULL +
 * err when the record is gone. */
char *cri_exec_process(struct berth_cri *c, struct cri_container *k, char *const *cmd, size_t n_cmd,
                       bool tty, uint16_t width, uint16_t height, struct berth_err **err);
/* FIFOs <container state>/io/<exec_id>-{stdin,stdout,stderr} for the streams want[] names;
 * paths[i] NULL where not wanted. Remove with cri_exec_fifos_remove (also frees). */
int cri_exec_fifos(struct berth_cri *c, const char *container_id, const char *exec_id,
                   const bool want[3], char *paths[3], struct berth_err **err);
void cri_exec_fifos_remove(char *paths[3]);

/* ---- streaming.c: Exec, Attach and PortForward over the streaming server ---- */
int cri_stream_start(struct berth_cri *c, struct berth_err **err);
void cri_stream_stop(struct berth_cri *c);

/* ---- the RPC handlers (one file per group) ---- */
#define CRI_RPC(name)                                                                              \
    int name(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,       \
             struct berth_err **err)
CRI_RPC(cri_run_pod_sandbox);
CRI_RPC(cri_stop_pod_sandbox);
CRI_RPC(cri_remove_pod_sandbox);
CRI_RPC(cri_pod_sandbox_status);
CRI_RPC(cri_list_pod_sandbox);
CRI_RPC(cri_create_container);
CRI_RPC(cri_start_container);
CRI_RPC(cri_stop_container);
CRI_RPC(cri_remove_container);
CRI_RPC(cri_list_containers);
CRI_RPC(cri_container_status);
CRI_RPC(cri_update_container_resources);
CRI_RPC(cri_reopen_container_log);
CRI_RPC(cri_exec_sync);
CRI_RPC(cri_exec);
CRI_RPC(cri_attach);
CRI_RPC(cri_port_forward);
CRI_RPC(cri_container_stats);
CRI_RPC(cri_list_container_stats);
CRI_RPC(cri_pod_sandbox_stats);
CRI_RPC(cri_list_pod_sandbox_stats);

/* ---- metrics (metrics.c) ---- */

/* Runs fn and, when it succeeds and metrics are on, records its latency as CRI operation op
 * (enum berth_cri_op) for the runtime handler of the pod the request names. */
int cri_timed(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
              struct berth_err **err, berth_unary_fn fn, int op);
/* Defines <fn>_timed, fn wrapped by cri_timed for the method tables. */
#define CRI_TIMED(fn, op)                                                                          \
    static int fn##_timed(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,                   \
                          struct berth_bytes *out, struct berth_err **err)                         \
    {                                                                                              \
        return cri_timed(ctx, in, out, err, fn, op);                                               \
    }

/* ---- the services ---- */
extern const struct berth_service berth_svc_cri_runtime;
extern const struct berth_service berth_svc_cri_image;

static inline struct berth_cri *cri_of(const struct berth_svc_ctx *ctx, struct berth_err **err)
{
    struct berth_cri *c = berth_svc_app(ctx)->cri;

    if (!c)
        berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "the CRI is not enabled ([cri] enabled)");
    return c;
}

#endif
