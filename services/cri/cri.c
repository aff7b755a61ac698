/* SPDX-License-Identifier: Apache-2.0 */
/* The CRI's stores, ids, status checkpoints and exit handling (see cri-internal.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/events/task.pb-c.h"
#include "api/timestamp.h"
#include "images/manifest.h"
#include "images/reference.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtime/v2/runtime.h"
#include "services/cri/cri-internal.h"
#include "services/streaming/stream.h"
#include "services/cri/events.h"

struct cri_exit {
    struct cri_exit *next;
    char *id;
    bool oom; /* a TaskOOM, not an exit */
    uint32_t status;
    int64_t at;
};

void cri_new_id(char out[65])
{
    berth_random_hex(out, 32);
}

ProtobufCMessage *cri_msg_dup(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    _cleanup_free_ uint8_t *buf = berth_xmalloc(len ? len : 1);
    ProtobufCMessage *m;

    protobuf_c_message_pack(msg, buf);
    m = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
    if (!m)
        abort();
    return m;
}

int cri_name_reserve(struct berth_cri *c, const char *name, const char *id, struct berth_err **err)
{
    const char *holder;

    pthread_mutex_lock(&c->mu);
    holder = berth_labels_get(&c->names, name);
    if (holder && strcmp(holder, id) != 0) {
        berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "name \"%s\" is reserved for \"%s\"", name,
                      holder);
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    berth_labels_set(&c->names, name, id);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void cri_name_release(struct berth_cri *c, const char *name)
{
    if (!name)
        return;
    pthread_mutex_lock(&c->mu);
    berth_labels_del(&c->names, name);
    pthread_mutex_unlock(&c->mu);
}

/* ---- objects ---- */

struct cri_sandbox *cri_sandbox_new(void)
{
    struct cri_sandbox *s = berth_xcalloc(1, sizeof(*s));

    s->refs = 1;
    pthread_mutex_init(&s->op, NULL);
    pthread_mutex_init(&s->task_del, NULL);
    s->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    return s;
}

struct cri_container *cri_container_new(void)
{
    struct cri_container *k = berth_xcalloc(1, sizeof(*k));

    k->refs = 1;
    pthread_mutex_init(&k->op, NULL);
    pthread_mutex_init(&k->task_del, NULL);
    pthread_cond_init(&k->exited, NULL);
    return k;
}

static void sandbox_free(struct cri_sandbox *s)
{
    free(s->id);
    free(s->name);
    if (s->config)
        protobuf_c_message_free_unpacked(&s->config->base, NULL);
    free(s->runtime_handler);
    free(s->netns_path);
    free(s->ip);
    berth_strv_free(s->extra_ips);
    free(s->cni_result);
    pthread_mutex_destroy(&s->op);
    pthread_mutex_destroy(&s->task_del);
    free(s);
}

void cri_ctr_status_clear(struct cri_ctr_status *st)
{
    free(st->reason);
    free(st->message);
    memset(st, 0, sizeof(*st));
}

static void container_free(struct cri_container *k)
{
    free(k->id);
    free(k->name);
    free(k->sandbox_id);
    if (k->config)
        protobuf_c_message_free_unpacked(&k->config->base, NULL);
    free(k->image_ref);
    free(k->image_name);
    free(k->log_path);
    free(k->cgroups_path);
    cri_ctr_status_clear(&k->st);
    pthread_mutex_destroy(&k->op);
    pthread_mutex_destroy(&k->task_del);
    pthread_cond_destroy(&k->exited);
    free(k);
}

void cri_sandbox_put(struct berth_cri *c, struct cri_sandbox *s)
{
    bool last;

    if (!s)
        return;
    pthread_mutex_lock(&c->mu);
    last = --s->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last)
        sandbox_free(s);
}

void cri_container_put(struct berth_cri *c, struct cri_container *k)
{
    bool last;

    if (!k)
        return;
    pthread_mutex_lock(&c->mu);
    last = --k->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last)
        container_free(k);
}

void cri_sandbox_add(struct berth_cri *c, struct cri_sandbox *s)
{
    pthread_mutex_lock(&c->mu);
    s->refs++;
    c->sandboxes = berth_xrealloc(c->sandboxes, (c->n_sandboxes + 1) * sizeof(*c->sandboxes));
    c->sandboxes[c->n_sandboxes++] = s;
    pthread_mutex_unlock(&c->mu);
}

void cri_container_add(struct berth_cri *c, struct cri_container *k)
{
    pthread_mutex_lock(&c->mu);
    k->refs++;
    c->containers = berth_xrealloc(c->containers, (c->n_containers + 1) * sizeof(*c->containers));
    c->containers[c->n_containers++] = k;
    pthread_mutex_unlock(&c->mu);
}

void cri_sandbox_drop(struct berth_cri *c, struct cri_sandbox *s)
{
    bool found = false;

    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n_sandboxes; i++)
        if (c->sandboxes[i] == s) {
            c->sandboxes[i] = c->sandboxes[--c->n_sandboxes];
            found = true;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    if (found)
        cri_sandbox_put(c, s);
}

void cri_container_drop(struct berth_cri *c, struct cri_container *k)
{
    bool found = false;

    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n_containers; i++)
        if (c->containers[i] == k) {
            c->containers[i] = c->containers[--c->n_containers];
            found = true;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    if (found)
        cri_container_put(c, k);
}

/* Finds id (full or a unique prefix) among n objects whose id is at offset; -2 ambiguous. */
#define FIND_BY_PREFIX(v, n, id, outi)                                                             \
    do {                                                                                           \
        size_t len_ = strlen(id);                                                                  \
        (outi) = -1;                                                                               \
        for (size_t i_ = 0; i_ < (n); i_++) {                                                      \
            if (strcmp((v)[i_]->id, (id)) == 0) {                                                  \
                (outi) = (ssize_t)i_;                                                              \
                break;                                                                             \
            }                                                                                      \
            if (strncmp((v)[i_]->id, (id), len_) == 0)                                             \
                (outi) = (outi) == -1 ? (ssize_t)i_ : -2;                                          \
        }                                                                                          \
    } while (0)

int cri_sandbox_get(struct berth_cri *c, const char *id, struct cri_sandbox **out,
                    struct berth_err **err)
{
    ssize_t i;

    if (!id || !*id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "pod sandbox id must not be empty");
    pthread_mutex_lock(&c->mu);
    FIND_BY_PREFIX(c->sandboxes, c->n_sandboxes, id, i);
    if (i >= 0) {
        *out = c->sandboxes[i];
        (*out)->refs++;
    }
    pthread_mutex_unlock(&c->mu);
    if (i == -2)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0,
                             "pod sandbox id prefix \"%s\" matches more than one sandbox", id);
    if (i < 0)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "pod sandbox \"%s\" not found", id);
    return 0;
}

int cri_container_get(struct berth_cri *c, const char *id, struct cri_container **out,
                      struct berth_err **err)
{
    ssize_t i;

    if (!id || !*id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "container id must not be empty");
    pthread_mutex_lock(&c->mu);
    FIND_BY_PREFIX(c->containers, c->n_containers, id, i);
    if (i >= 0) {
        *out = c->containers[i];
        (*out)->refs++;
    }
    pthread_mutex_unlock(&c->mu);
    if (i == -2)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0,
                             "container id prefix \"%s\" matches more than one container", id);
    if (i < 0)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "container \"%s\" not found", id);
    return 0;
}

char *cri_sandbox_resolve(struct berth_cri *c, const char *id)
{
    char *r = NULL;
    ssize_t i;

    pthread_mutex_lock(&c->mu);
    FIND_BY_PREFIX(c->sandboxes, c->n_sandboxes, id, i);
    if (i >= 0)
        r = berth_xstrdup(c->sandboxes[i]->id);
    pthread_mutex_unlock(&c->mu);
    return r;
}

char *cri_container_resolve(struct berth_cri *c, const char *id)
{
    char *r = NULL;
    ssize_t i;

    pthread_mutex_lock(&c->mu);
    FIND_BY_PREFIX(c->containers, c->n_containers, id, i);
    if (i >= 0)
        r = berth_xstrdup(c->containers[i]->id);
    pthread_mutex_unlock(&c->mu);
    return r;
}

void cri_sandboxes_list(struct berth_cri *c, struct cri_sandbox ***out, size_t *n)
{
    pthread_mutex_lock(&c->mu);
    *n = c->n_sandboxes;
    *out = berth_xcalloc(*n ? *n : 1, sizeof(**out));
    for (size_t i = 0; i < *n; i++) {
        (*out)[i] = c->sandboxes[i];
        c->sandboxes[i]->refs++;
    }
    pthread_mutex_unlock(&c->mu);
}

void cri_containers_list(struct berth_cri *c, struct cri_container ***out, size_t *n)
{
    pthread_mutex_lock(&c->mu);
    *n = c->n_containers;
    *out = berth_xcalloc(*n ? *n : 1, sizeof(**out));
    for (size_t i = 0; i < *n; i++) {
        (*out)[i] = c->containers[i];
        c->containers[i]->refs++;
    }
    pthread_mutex_unlock(&c->mu);
}

void cri_sandboxes_put(struct berth_cri *c, struct cri_sandbox **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cri_sandbox_put(c, v[i]);
    free(v);
}

void cri_containers_put(struct berth_cri *c, struct cri_container **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cri_container_put(c, v[i]);
    free(v);
}

enum cri_ctr_phase cri_ctr_phase(const struct cri_ctr_status *st)
{
    if (st->unknown)
        return CTR_UNKNOWN;
    if (st->finished_ns)
        return CTR_EXITED;
    if (st->started_ns)
        return CTR_RUNNING;
    return CTR_CREATED;
}

Runtime__V1__ContainerState cri_ctr_state(const struct cri_ctr_status *st)
{
    switch (cri_ctr_phase(st)) {
    case CTR_RUNNING:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    case CTR_EXITED:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
    case CTR_UNKNOWN:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_UNKNOWN;
    default:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
    }
}

char *cri_sandbox_root(const struct berth_cri *c, const char *id)
{
    return berth_strdup_printf("%s/sandboxes/%s", c->root_dir, id);
}

char *cri_sandbox_state(const struct berth_cri *c, const char *id)
{
    return berth_strdup_printf("%s/sandboxes/%s", c->state_dir, id);
}

char *cri_container_root(const struct berth_cri *c, const char *id)
{
    return berth_strdup_printf("%s/containers/%s", c->root_dir, id);
}

char *cri_container_state(const struct berth_cri *c, const char *id)
{
    return berth_strdup_printf("%s/containers/%s", c->state_dir, id);
}

/* ---- status checkpoint: containerd's {"Version":"v1","Status":{...}} shape ---- */

int cri_ctr_status_save(const struct berth_cri *c, const char *id, const struct cri_ctr_status *st,
                        struct berth_err **err)
{
    _cleanup_free_ char *dir = cri_container_root(c, id);
    _cleanup_free_ char *path = berth_strdup_printf("%s/status", dir);
    json_t *o =
        json_pack("{s:s,s:{s:I,s:I,s:I,s:I,s:i,s:s,s:s,s:b}}", "Version", "v1", "Status", "Pid",
                  (json_int_t)st->pid, "CreatedAt", (json_int_t)st->created_ns, "StartedAt",
                  (json_int_t)st->started_ns, "FinishedAt", (json_int_t)st->finished_ns, "ExitCode",
                  (int)st->exit_code, "Reason", st->reason ? st->reason : "", "Message",
                  st->message ? st->message : "", "Unknown", st->unknown);
    _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
    int r;

    json_decref(o);
    if (berth_mkdir_p(dir, 0711, 0711, err) < 0)
        return -1;
    r = berth_write_file_atomic(path, text, strlen(text), 0600, err);
    return r < 0 ? berth_err_wrap(err, "status of container \"%s\"", id) : 0;
}

int cri_ctr_status_load(const struct berth_cri *c, const char *id, struct cri_ctr_status *st,
                        struct berth_err **err)
{
    _cleanup_free_ char *dir = cri_container_root(c, id);
    _cleanup_free_ char *path = berth_strdup_printf("%s/status", dir);
    _cleanup_free_ char *text = NULL;
    json_int_t pid = 0, cr = 0, sa = 0, fi = 0;
    int code = 0, unknown = 0;
    const char *reason = "", *msg = "";
    json_error_t je;
    json_t *o;

    if (berth_read_file(path, 1 << 20, &text, NULL, err) < 0)
        return -1;
    o = json_loads(text, 0, &je);
    if (!o ||
        json_unpack_ex(o, &je, 0, "{s:{s?I,s?I,s?I,s?I,s?i,s?s,s?s,s?b}}", "Status", "Pid", &pid,
                       "CreatedAt", &cr, "StartedAt", &sa, "FinishedAt", &fi, "ExitCode", &code,
                       "Reason", &reason, "Message", &msg, "Unknown", &unknown) < 0) {
        json_decref(o);
        return berth_err_set(err, BERTH_E_DATA_LOSS, 0, "status of container \"%s\": %s", id,
                             je.text);
    }
    memset(st, 0, sizeof(*st));
    st->pid = (uint32_t)pid;
    st->created_ns = cr;
    st->started_ns = sa;
    st->finished_ns = fi;
    st->exit_code = code;
    st->reason = *reason ? berth_xstrdup(reason) : NULL;
    st->message = *msg ? berth_xstrdup(msg) : NULL;
    st->unknown = unknown;
    json_decref(o);
    return 0;
}

/* ---- runtime handlers ---- */

int cri_runtime_find(const struct berth_cri *c, const char *handler,
                     const struct berth_cri_runtime **out, struct berth_err **err)
{
    if (!handler || !*handler)
        handler = c->default_runtime;
    for (size_t i = 0; i < c->n_runtimes; i++)
        if (strcmp(c->runtimes[i].name, handler) == 0) {
            *out = &c->runtimes[i];
            return 0;
        }
    return berth_err_set(err, BERTH_E_NOT_FOUND, 0,
                         "no runtime for \"%s\" is configured ([cri.runtimes.%s])", handler,
                         handler);
}

/* ---- exits ---- */

int cri_task_kill_wait(struct berth_cri *c, struct berth_rt_task *t, struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;
    uint32_t status;
    int64_t at;

    if (berth_rt_task_kill(c->svc->runtime, t, NULL, SIGKILL, true, &e) < 0 &&
        e->code != BERTH_E_NOT_FOUND && e->code != BERTH_E_FAILED_PRECONDITION) {
        *err = steal_ptr(e);
        return -1;
    }
    berth_err_free(&e);
    (void)berth_rt_task_wait(c->svc->runtime, t, NULL, &status, &at, &e);
    return 0;
}

static void delete_task(struct berth_cri *c, const char *id)
{
    struct berth_rt_task *t = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_rt_task_get(c->svc->runtime, CRI_NS, id, &t, &e) < 0)
        return;
    if (berth_rt_task_delete(c->svc->runtime, t, NULL, NULL, NULL, &e) < 0 &&
        e->code != BERTH_E_NOT_FOUND)
        log_warn("ns=%s id=%s delete task after exit: %s", CRI_NS, id, e->msg);
    berth_rt_task_put(t);
}

void cri_container_exited(struct berth_cri *c, struct cri_container *k, uint32_t exit_status,
                          int64_t exited_ns, const char *reason)
{
    _cleanup_err_ struct berth_err *e = NULL;
    struct cri_ctr_status copy = {0};
    bool first;

    /* The second caller for one exit waits for the first's delete, then finds no task. */
    pthread_mutex_lock(&k->task_del);
    delete_task(c, k->id);
    pthread_mutex_unlock(&k->task_del);
    pthread_mutex_lock(&c->mu);
    first = k->st.finished_ns == 0;
    if (first) {
        k->st.finished_ns = exited_ns ? exited_ns : berth_now_ns();
        k->st.exit_code = (int32_t)exit_status;
        if (reason && (!k->st.reason || strcmp(k->st.reason, "OOMKilled") != 0)) {
            free(k->st.reason);
            k->st.reason = berth_xstrdup(reason);
        }
        k->st.unknown = false;
        copy = k->st;
        copy.reason = k->st.reason ? berth_xstrdup(k->st.reason) : NULL;
        copy.message = k->st.message ? berth_xstrdup(k->st.message) : NULL;
    }
    pthread_cond_broadcast(&k->exited);
    pthread_mutex_unlock(&c->mu);
    if (!first)
        return;
    log_info("ns=%s container=%s exited with status %u", CRI_NS, k->id, exit_status);
    if (cri_ctr_status_save(c, k->id, &copy, &e) < 0)
        log_error("ns=%s container=%s: %s", CRI_NS, k->id, e->msg);
    cri_ctr_status_clear(&copy);
    cri_event_container(c, k, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT);
}

void cri_sandbox_exited(struct berth_cri *c, struct cri_sandbox *s)
{
    bool was_ready;

    /* The second caller for one exit waits for the first's delete, then finds no task. */
    pthread_mutex_lock(&s->task_del);
    delete_task(c, s->id);
    pthread_mutex_unlock(&s->task_del);
    pthread_mutex_lock(&c->mu);
    was_ready = s->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
    s->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    pthread_mutex_unlock(&c->mu);
    if (was_ready)
        log_info("ns=%s sandbox=%s exited", CRI_NS, s->id);
}

static void handle_exit(struct berth_cri *c, struct cri_exit *x)
{
    struct cri_container *k = NULL;
    struct cri_sandbox *s = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    if (x->oom) {
        if (cri_container_get(c, x->id, &k, &e) < 0)
            return;
        pthread_mutex_lock(&c->mu);
        free(k->st.reason);
        k->st.reason = berth_xstrdup("OOMKilled");
        pthread_mutex_unlock(&c->mu);
        cri_container_put(c, k);
        return;
    }
    /* Exact ids only: exits carry full ids. */
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n_containers && !k; i++)
        if (strcmp(c->containers[i]->id, x->id) == 0) {
            k = c->containers[i];
            k->refs++;
        }
    for (size_t i = 0; i < c->n_sandboxes && !k && !s; i++)
        if (strcmp(c->sandboxes[i]->id, x->id) == 0) {
            s = c->sandboxes[i];
            s->refs++;
        }
    pthread_mutex_unlock(&c->mu);
    if (k) {
        bool started;
        pthread_mutex_lock(&c->mu);
        started = k->st.started_ns != 0;
        if (!started && k->starting) {
            k->pending_exit = true;
            k->pending_status = x->status;
            k->pending_at = x->at;
        }
        pthread_mutex_unlock(&c->mu);
        /* An exit while StartContainer still runs is recorded by that call's own path. */
        if (started)
            cri_container_exited(c, k, x->status, x->at, x->status == 0 ? "Completed" : "Error");
        cri_container_put(c, k);
    } else if (s) {
        cri_sandbox_exited(c, s);
        cri_sandbox_put(c, s);
    }
}

static void *exit_thread(void *arg)
{
    struct berth_cri *c = arg;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        struct cri_exit *x;
        while (!c->exit_head && !c->stopping)
            pthread_cond_wait(&c->exit_cond, &c->mu);
        if (!c->exit_head)
            break;
        x = c->exit_head;
        c->exit_head = x->next;
        if (!c->exit_head)
            c->exit_tail = &c->exit_head;
        pthread_mutex_unlock(&c->mu);
        handle_exit(c, x);
        free(x->id);
        free(x);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

void berth_cri_task_event(struct berth_cri *c, const Containerd__Types__Envelope *env)
{
    struct cri_exit *x;
    bool oom;

    if (!c || !env->namespace_ || strcmp(env->namespace_, CRI_NS) != 0 || !env->event ||
        !env->topic)
        return;
    oom = strcmp(env->topic, "/tasks/oom") == 0;
    if (!oom && strcmp(env->topic, "/tasks/exit") != 0)
        return;
    x = berth_xcalloc(1, sizeof(*x));
    x->oom = oom;
    if (oom) {
        Containerd__Events__TaskOOM *ev = containerd__events__task_oom__unpack(
            NULL, env->event->value.len, env->event->value.data);
        if (!ev || !ev->container_id || !*ev->container_id) {
            if (ev)
                containerd__events__task_oom__free_unpacked(ev, NULL);
            free(x);
            return;
        }
        x->id = berth_xstrdup(ev->container_id);
        containerd__events__task_oom__free_unpacked(ev, NULL);
    } else {
        Containerd__Events__TaskExit *ev = containerd__events__task_exit__unpack(
            NULL, env->event->value.len, env->event->value.data);
        /* Exec exits (id != container_id) are waited for by their callers; a streaming
         * session learns of its exec's here. */
        if (ev && ev->container_id && ev->id && strcmp(ev->container_id, ev->id) != 0) {
            pthread_mutex_lock(&c->mu); /* against cri_stream_stop */
            berth_stream_server_exec_exited(c->stream, ev->container_id, ev->id, ev->exit_status);
            pthread_mutex_unlock(&c->mu);
        }
        if (!ev || !ev->container_id || strcmp(ev->container_id, ev->id) != 0) {
            if (ev)
                containerd__events__task_exit__free_unpacked(ev, NULL);
            free(x);
            return;
        }
        x->id = berth_xstrdup(ev->container_id);
        x->status = ev->exit_status;
        x->at = ev->exited_at ? berth_pb_ts_ns(ev->exited_at) : 0;
        containerd__events__task_exit__free_unpacked(ev, NULL);
    }
    pthread_mutex_lock(&c->mu);
    *c->exit_tail = x;
    c->exit_tail = &x->next;
    pthread_cond_signal(&c->exit_cond);
    pthread_mutex_unlock(&c->mu);
}

/* ---- life cycle ---- */

/* The lowest oom_score_adj berthd may give: -998 when the kernel lets it lower its own value
 * (CAP_SYS_RESOURCE), else its own (containerd's restrict_oom_score_adj, detected). */
static int detect_oom_floor(void)
{
    char buf[32] = "";
    int own = 0, fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    if (n > 0)
        own = atoi(buf);
    if (own <= -998) {
        close(fd);
        return -998;
    }
    /* Writing our own value back always works; a lower one only with CAP_SYS_RESOURCE, and
     * then we put ours back. */
    snprintf(buf, sizeof(buf), "%d", own - 1);
    if (pwrite(fd, buf, strlen(buf), 0) > 0) {
        snprintf(buf, sizeof(buf), "%d", own);
        if (pwrite(fd, buf, strlen(buf), 0) < 0)
            log_warn("could not restore oom_score_adj %d", own);
        close(fd);
        return -998;
    }
    close(fd);
    return own;
}

int berth_cri_new(struct berth_services *svc, const struct berth_cri_opts *o,
                  struct berth_cri **out, struct berth_err **err)
{
    struct berth_cri *c = berth_xcalloc(1, sizeof(*c));
    size_t n = 0;

    c->svc = svc;
    c->root_dir = berth_strdup_printf("%s/io.containerd.grpc.v1.cri", o->root);
    c->state_dir = berth_strdup_printf("%s/io.containerd.grpc.v1.cri", o->state);
    c->netns_dir = berth_strdup_printf("%s/netns", o->state);
    c->bin_dir = berth_xstrdup(o->bin_dir ? o->bin_dir : "");
    c->own_pause = !o->sandbox_image || !*o->sandbox_image;
    c->snapshotter =
        berth_xstrdup(o->snapshotter && *o->snapshotter ? o->snapshotter : "overlayfs");
    c->default_runtime =
        berth_xstrdup(o->default_runtime && *o->default_runtime ? o->default_runtime : "runc");
    c->max_log_line = o->max_log_line;
    c->unprivileged_ports = o->unprivileged_ports;
    c->unprivileged_icmp = o->unprivileged_icmp;
    c->cni_conf_dir = berth_xstrdup(o->cni_conf_dir ? o->cni_conf_dir : "/etc/cni/net.d");
    c->cni_bin_dir = berth_xstrdup(o->cni_bin_dir ? o->cni_bin_dir : "/usr/lib/cni");
    c->cni_cache_dir = berth_strdup_printf("%s/cni", c->state_dir);
    c->stream_address = berth_xstrdup(o->stream_address ? o->stream_address : "");
    c->stream_port = o->stream_port;
    c->stream_idle_ms = o->stream_idle_timeout_ms;
    pthread_mutex_init(&c->mu, NULL);
    pthread_rwlock_init(&c->cni_lock, NULL);
    pthread_cond_init(&c->exit_cond, NULL);
    c->exit_tail = &c->exit_head;
    berth_labels_init(&c->names);

    /* "runc" is built in (the daemon's default runtime, no options) unless configured. */
    c->runtimes = berth_xcalloc(o->n_runtimes + 1, sizeof(*c->runtimes));
    c->runtimes[n++] = (struct berth_cri_runtime){.name = berth_xstrdup("runc")};
    for (size_t i = 0; i < o->n_runtimes; i++) {
        const struct berth_cri_runtime *r = &o->runtimes[i];
        struct berth_cri_runtime *d =
            strcmp(r->name, "runc") == 0 ? &c->runtimes[0] : &c->runtimes[n++];
        free((char *)d->name);
        d->name = berth_xstrdup(r->name);
        d->runtime_type =
            r->runtime_type && *r->runtime_type ? berth_xstrdup(r->runtime_type) : NULL;
        d->runtime_path =
            r->runtime_path && *r->runtime_path ? berth_xstrdup(r->runtime_path) : NULL;
        d->binary_name = r->binary_name && *r->binary_name ? berth_xstrdup(r->binary_name) : NULL;
        d->root = r->root && *r->root ? berth_xstrdup(r->root) : NULL;
        d->systemd_cgroup = r->systemd_cgroup;
    }
    c->n_runtimes = n;
    {
        const struct berth_cri_runtime *r;
        if (cri_runtime_find(c, c->default_runtime, &r, err) < 0) {
            berth_cri_free(c);
            return berth_err_wrap(err, "cri.default_runtime_name");
        }
    }
    c->oom_score_adj_min = detect_oom_floor();
    c->hub = cri_event_hub_new();
    if (!c->own_pause && berth_image_ref_normalize(o->sandbox_image, &c->sandbox_image, err) < 0) {
        berth_cri_free(c);
        return berth_err_wrap(err, "cri.sandbox_image");
    }
    *out = c;
    return 0;
}

int berth_cri_start(struct berth_cri *c, struct berth_err **err)
{
    if (berth_mkdir_p(c->root_dir, 0711, 0711, err) < 0 ||
        berth_mkdir_p(c->state_dir, 0711, 0711, err) < 0)
        return -1;
    if (c->own_pause) {
        _cleanup_err_ struct berth_err *e = NULL;
        /* Not fatal: the containerd API serves on, and RunPodSandbox names what is missing. */
        if (cri_pause_image_ensure(c, &e) < 0)
            log_error("cri: berth's pause image %s: %s", CRI_PAUSE_IMAGE, e->msg);
    }
    cri_cni_reload(c);
    if (cri_state_recover(c, err) < 0)
        return -1;
    if (pthread_create(&c->exit_thread, NULL, exit_thread, c) != 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "start the CRI exit thread");
    c->exit_thread_started = true;
    if (cri_stream_start(c, err) < 0)
        return berth_err_wrap(err, "streaming server ([cri] stream_server_address, "
                                   "stream_server_port)");
    if (c->oom_score_adj_min > -998)
        log_info("cri: oom_score_adj cannot go below %d here (no CAP_SYS_RESOURCE); pod values "
                 "are clamped to it",
                 c->oom_score_adj_min);
    return 0;
}

void berth_cri_free(struct berth_cri *c)
{
    if (!c)
        return;
    cri_stream_stop(c); /* its sessions use the stores and the runtime */
    if (c->exit_thread_started) {
        pthread_mutex_lock(&c->mu);
        c->stopping = true;
        pthread_cond_broadcast(&c->exit_cond);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->exit_thread, NULL);
    }
    while (c->exit_head) {
        struct cri_exit *x = c->exit_head;
        c->exit_head = x->next;
        free(x->id);
        free(x);
    }
    cri_event_hub_free(c->hub);
    for (size_t i = 0; i < c->n_containers; i++)
        container_free(c->containers[i]);
    free(c->containers);
    for (size_t i = 0; i < c->n_sandboxes; i++)
        sandbox_free(c->sandboxes[i]);
    free(c->sandboxes);
    for (size_t i = 0; i < c->n_runtimes; i++) {
        free((char *)c->runtimes[i].name);
        free((char *)c->runtimes[i].runtime_type);
        free((char *)c->runtimes[i].runtime_path);
        free((char *)c->runtimes[i].binary_name);
        free((char *)c->runtimes[i].root);
    }
    free(c->runtimes);
    cri_cni_free(c);
    cri_images_cache_free(c->images);
    berth_labels_clear(&c->names);
    free(c->root_dir);
    free(c->state_dir);
    free(c->netns_dir);
    free(c->bin_dir);
    free(c->sandbox_image);
    free(c->snapshotter);
    free(c->default_runtime);
    free(c->cni_conf_dir);
    free(c->cni_bin_dir);
    free(c->cni_cache_dir);
    free(c->stream_address);
    pthread_mutex_destroy(&c->mu);
    pthread_rwlock_destroy(&c->cni_lock);
    pthread_cond_destroy(&c->exit_cond);
    free(c);
}
