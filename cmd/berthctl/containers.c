/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl containers (alias c): ls, info, create, label, rm over the containerd Containers
 * service. ls uses ListStream like ctr (List when the server lacks it); info prints the record
 * as ctr does, with the OCI spec Any decoded into JSON.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "api/services/containers/v1/containers.pb-c.h"
#include "cmd/berthctl/run-internal.h"
#include "google/protobuf/empty.pb-c.h"

#define C_SVC           "/containerd.services.containers.v1.Containers/"
#define SPEC_TYPE_URL   "types.containerd.io/opencontainers/runtime-spec/1/Spec"
#define DEFAULT_RUNTIME "io.containerd.berth.v1"
#define DEFAULT_SPEC                                                                               \
    "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"},"                     \
    "\"root\":{\"path\":\"rootfs\"}}"

typedef Containerd__Services__Containers__V1__Container ctr_t;
typedef Containerd__Services__Containers__V1__Container__LabelsEntry ctr_label_t;
typedef Containerd__Services__Containers__V1__GetContainerResponse get_resp_t;
typedef Containerd__Services__Containers__V1__ListContainersResponse list_resp_t;
typedef Containerd__Services__Containers__V1__ListContainersRequest list_req_t;
typedef Containerd__Services__Containers__V1__ListContainerMessage list_msg_t;
DEFINE_PB_CLEANUP(get_resp_t, get_resp_freep)
DEFINE_PB_CLEANUP(list_resp_t, list_resp_freep)

static void json_any(struct berthctl_json *j, const Google__Protobuf__Any *any)
{
    _cleanup_free_ char *b64 = NULL;

    if (!any) {
        berthctl_json_null(j);
        return;
    }
    b64 = berth_base64(any->value.data, any->value.len);
    berthctl_json_obj_begin(j);
    berthctl_json_key(j, "type_url");
    berthctl_json_str(j, any->type_url);
    berthctl_json_key(j, "value");
    berthctl_json_str(j, b64);
    berthctl_json_obj_end(j);
}

/* The spec as JSON when it is an OCI spec (or any JSON document), else the raw Any. */
static void json_spec(struct berthctl_json *j, const Google__Protobuf__Any *spec)
{
    if (spec && berthctl_json_valid((const char *)spec->value.data, spec->value.len))
        berthctl_json_embed(j, (const char *)spec->value.data, spec->value.len);
    else
        json_any(j, spec);
}

/* Go's zero time for an absent timestamp, as ctr prints it. */
static void json_time(struct berthctl_json *j, const Google__Protobuf__Timestamp *ts)
{
    char buf[64];

    berthctl_time_format(ts ? ts->seconds : -62135596800LL, ts ? ts->nanos : 0, buf, sizeof(buf));
    berthctl_json_str(j, buf);
}

static void json_container_labels(struct berthctl_json *j, const ctr_t *c)
{
    berthctl_json_str_map(j, c->n_labels, (const void *const *)c->labels);
}

/* The container record with ctr's (Go struct) key names. */
static void json_container(struct berthctl_json *j, const ctr_t *c)
{
    berthctl_json_obj_begin(j);
    berthctl_json_key(j, "ID");
    berthctl_json_str(j, c->id);
    berthctl_json_key(j, "Labels");
    json_container_labels(j, c);
    berthctl_json_key(j, "Image");
    berthctl_json_str(j, c->image);
    berthctl_json_key(j, "Runtime");
    berthctl_json_obj_begin(j);
    berthctl_json_key(j, "Name");
    berthctl_json_str(j, c->runtime ? c->runtime->name : "");
    berthctl_json_key(j, "Options");
    json_any(j, c->runtime ? c->runtime->options : NULL);
    berthctl_json_obj_end(j);
    berthctl_json_key(j, "SnapshotKey");
    berthctl_json_str(j, c->snapshot_key);
    berthctl_json_key(j, "Snapshotter");
    berthctl_json_str(j, c->snapshotter);
    berthctl_json_key(j, "CreatedAt");
    json_time(j, c->created_at);
    berthctl_json_key(j, "UpdatedAt");
    json_time(j, c->updated_at);
    berthctl_json_key(j, "Extensions");
    berthctl_json_obj_begin(j);
    for (size_t i = 0; i < c->n_extensions; i++) {
        berthctl_json_key(j, c->extensions[i]->key);
        json_any(j, c->extensions[i]->value);
    }
    berthctl_json_obj_end(j);
    if (c->sandbox && *c->sandbox) {
        berthctl_json_key(j, "SandboxID");
        berthctl_json_str(j, c->sandbox);
    }
    berthctl_json_key(j, "Spec");
    json_spec(j, c->spec);
    berthctl_json_obj_end(j);
}

/* ---- ls ---- */

struct lister {
    struct berthctl *ctl;
    bool quiet, started;
    size_t count;
    struct berthctl_table *table;
    struct berthctl_json json;
};

static void lister_add(struct lister *l, const ctr_t *c)
{
    l->count++;
    if (l->quiet) {
        fprintf(l->ctl->out, "%s\n", c->id);
    } else if (l->ctl->format == BERTHCTL_FORMAT_JSON) {
        if (!l->started)
            berthctl_json_arr_begin(&l->json);
        l->started = true;
        json_container(&l->json, c);
    } else {
        const char *row[] = {c->id, *c->image ? c->image : "-", c->runtime ? c->runtime->name : ""};
        berthctl_table_add(l->table, row);
    }
}

static void lister_finish(struct lister *l)
{
    if (l->quiet)
        return;
    if (l->ctl->format == BERTHCTL_FORMAT_JSON) {
        if (!l->started)
            berthctl_json_arr_begin(&l->json);
        berthctl_json_arr_end(&l->json);
        berthctl_json_end(&l->json);
        return;
    }
    berthctl_table_print(l->table, l->ctl->out);
}

static int list_stream_cb(const ProtobufCMessage *msg, void *arg)
{
    const list_msg_t *m = (const list_msg_t *)msg;

    if (m->container)
        lister_add(arg, m->container);
    return 0;
}

static int c_list_fetch(struct lister *l, list_req_t *req, struct berth_err **err)
{
    _cleanup_(list_resp_freep) list_resp_t *resp = NULL;
    _cleanup_err_ struct berth_err *serr = NULL;

    if (berth_client_server_stream(
            l->ctl->client, C_SVC "ListStream", &req->base,
            &containerd__services__containers__v1__list_container_message__descriptor,
            list_stream_cb, l, &serr) == 0)
        return 0;
    if (serr->code != BERTH_E_NOT_IMPLEMENTED || l->count > 0) {
        *err = steal_ptr(serr);
        return -1;
    }
    if (berth_client_unary(
            l->ctl->client, C_SVC "List", &req->base,
            &containerd__services__containers__v1__list_containers_response__descriptor,
            (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    for (size_t i = 0; i < resp->n_containers; i++)
        lister_add(l, resp->containers[i]);
    return 0;
}

static int c_list(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'}, {0}};
    static const char *const header[] = {"CONTAINER", "IMAGE", "RUNTIME"};
    list_req_t req = CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
    struct lister l = {.ctl = ctl};
    int c, ret;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:q", opts, NULL)) != -1) {
        if (c != 'q')
            return berthctl_bad_option(ctl, c, argv, err);
        l.quiet = true;
    }
    req.n_filters = (size_t)(argc - optind);
    req.filters = argv + optind;
    berthctl_json_init(&l.json, ctl->out);
    l.table = berthctl_table_new(BERTH_N(header), header);
    ret = c_list_fetch(&l, &req, err);
    if (ret == 0)
        lister_finish(&l);
    berthctl_table_free(l.table);
    return ret;
}

/* ---- info ---- */

static int c_get(struct berthctl *ctl, const char *id, get_resp_t **out, struct berth_err **err)
{
    Containerd__Services__Containers__V1__GetContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;

    req.id = (char *)id;
    if (berth_client_unary(
            ctl->client, C_SVC "Get", &req.base,
            &containerd__services__containers__v1__get_container_response__descriptor,
            (ProtobufCMessage **)out, err) < 0)
        return -1;
    if (!(*out)->container) {
        protobuf_c_message_free_unpacked(&(*out)->base, NULL);
        *out = NULL;
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "server returned no container");
    }
    return 0;
}

json_t *berthctl_container_process(struct berthctl *ctl, const char *id, struct berth_err **err)
{
    _cleanup_(get_resp_freep) get_resp_t *resp = NULL;
    const Google__Protobuf__Any *any;
    json_t *spec, *proc;

    if (c_get(ctl, id, &resp, err) < 0)
        return NULL;
    any = resp->container->spec;
    spec = any && any->value.len
               ? json_loadb((const char *)any->value.data, any->value.len, 0, NULL)
               : NULL;
    proc = spec ? json_object_get(spec, "process") : NULL;
    proc = json_is_object(proc) ? json_deep_copy(proc) : NULL;
    json_decref(spec);
    if (!proc) /* no spec or no process in it: root in / with the usual PATH */
        proc = json_pack("{s:{s:i,s:i},s:[s],s:s}", "user", "uid", 0, "gid", 0, "env",
                         "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "cwd",
                         "/");
    return proc;
}

static int c_info(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{"spec", no_argument, NULL, 's'}, {0}};
    _cleanup_(get_resp_freep) get_resp_t *resp = NULL;
    struct berthctl_json j;
    bool spec_only = false;
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:s", opts, NULL)) != -1) {
        if (c != 's')
            return berthctl_bad_option(ctl, c, argv, err);
        spec_only = true;
    }
    if (argc - optind != 1)
        return berthctl_usage(ctl, err, "info: want exactly one container ID");
    if (c_get(ctl, argv[optind], &resp, err) < 0)
        return -1;
    berthctl_json_init(&j, ctl->out);
    if (spec_only)
        json_spec(&j, resp->container->spec);
    else
        json_container(&j, resp->container);
    berthctl_json_end(&j);
    return 0;
}

/* ---- create ---- */

struct create_opts {
    struct berthctl_kvs labels;
    const char *runtime, *snapshotter, *snapshot_key, *spec_file;
};

static void create_opts_clear(struct create_opts *o)
{
    berthctl_kvs_clear(&o->labels);
}

static int read_file(const char *path, struct berth_bytes *out, struct berth_err **err)
{
    FILE *f = fopen(path, "re");
    char buf[8192];
    size_t n;

    if (!f)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, errno, "open \"%s\"", path);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        out->data = berth_xrealloc(out->data, out->len + n);
        memcpy(out->data + out->len, buf, n);
        out->len += n;
    }
    if (ferror(f)) {
        fclose(f);
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, EIO, "read \"%s\"", path);
    }
    fclose(f);
    return 0;
}

static int create_parse(struct berthctl *ctl, int argc, char **argv, struct create_opts *o,
                        struct berth_err **err)
{
    enum { OPT_SNAPSHOTTER = 256, OPT_SNAPSHOT_KEY, OPT_SPEC };
    static const struct option opts[] = {
        {"label", required_argument, NULL, 'l'},
        {"runtime", required_argument, NULL, 'r'},
        {"snapshotter", required_argument, NULL, OPT_SNAPSHOTTER},
        {"snapshot-key", required_argument, NULL, OPT_SNAPSHOT_KEY},
        {"spec", required_argument, NULL, OPT_SPEC},
        {0},
    };
    int c;

    o->runtime = DEFAULT_RUNTIME;
    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:l:r:", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (berthctl_kvs_add(&o->labels, optarg, true, err) < 0) {
                ctl->usage_error = true;
                return -1;
            }
            break;
        case 'r':
            o->runtime = optarg;
            break;
        case OPT_SNAPSHOTTER:
            o->snapshotter = optarg;
            break;
        case OPT_SNAPSHOT_KEY:
            o->snapshot_key = optarg;
            break;
        case OPT_SPEC:
            o->spec_file = optarg;
            break;
        default:
            return berthctl_bad_option(ctl, c, argv, err);
        }
    }
    if (argc - optind != 2)
        return berthctl_usage(ctl, err, "create: want IMAGE and ID");
    return 0;
}

/* Label entries borrowing kv's strings, skipping empty values when skip_empty. */
static ctr_label_t **labels_to_pb(const struct berthctl_kvs *kv, bool skip_empty,
                                  ctr_label_t **storage, size_t *n)
{
    ctr_label_t **ptrs = berth_xcalloc(kv->n ? kv->n : 1, sizeof(*ptrs));

    *storage = berth_xcalloc(kv->n ? kv->n : 1, sizeof(**storage));
    *n = 0;
    for (size_t i = 0; i < kv->n; i++) {
        ctr_label_t init = CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__LABELS_ENTRY__INIT;
        if (skip_empty && !*kv->vals[i])
            continue;
        (*storage)[*n] = init;
        (*storage)[*n].key = kv->keys[i];
        (*storage)[*n].value = kv->vals[i];
        ptrs[*n] = &(*storage)[*n];
        (*n)++;
    }
    return ptrs;
}

/* Whether `containers create` argv is the image form (run's flags, a snapshot and a spec made
 * from the image) rather than the record form (--spec/--label/--snapshot-key): --from-image,
 * any run-only flag, or a command after IMAGE ID. */
static bool create_from_image(int argc, char **argv)
{
    static const char *const with_arg[] = {
        "-l",     "--label", "-r",    "--runtime",    "--snapshotter", "--snapshot-key", "--spec",
        "-e",     "--env",   "-m",    "--mount",      "--cpus",        "--memory-limit", "-u",
        "--user", "-w",      "--cwd", "--runc-binary"};
    static const char *const run_only[] = {
        "-t",           "--tty",          "-e",           "--env",  "-m", "--mount", "--net-host",
        "--cpus",       "--memory-limit", "-u",           "--user", "-w", "--cwd",   "--seccomp",
        "--privileged", "--from-image",   "--runc-binary"};
    int positional = 0;

    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            positional += argc - i;
            break;
        }
        if (strcmp(a, "--") == 0) {
            positional += argc - i - 1;
            break;
        }
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(a, "="), a);
        for (size_t k = 0; k < BERTH_N(run_only); k++)
            if (strcmp(name, run_only[k]) == 0)
                return true;
        for (size_t k = 0; k < BERTH_N(with_arg); k++)
            if (strcmp(a, with_arg[k]) == 0) {
                i++;
                break;
            }
    }
    return positional > 2;
}

/* containers create [run flags] IMAGE ID [CMD...]: what `run` creates, without a task. */
static int c_create_image(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(berthctl_run_opts_clear) struct berthctl_run_opts o = {0};
    _cleanup_free_ char **args = berth_xcalloc((size_t)argc + 1, sizeof(*args));
    int n = 0;

    /* --from-image only selects this form; run's parser does not know it. */
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0 || (i > 0 && argv[i][0] != '-')) {
            while (i < argc)
                args[n++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--from-image") != 0)
            args[n++] = argv[i];
    }
    if (berthctl_run_parse(ctl, n, args, false, &o, err) < 0)
        return -1;
    if (o.rm || o.detach)
        return berthctl_usage(ctl, err, "create: --rm and -d only apply to run");
    return berthctl_container_create(ctl, &o, err);
}

static int c_create(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(create_opts_clear) struct create_opts o = {0};
    _cleanup_(berth_bytes_clear) struct berth_bytes spec = {0};
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    _cleanup_free_ ctr_label_t *storage = NULL;
    _cleanup_free_ ctr_label_t **labels = NULL;
    Containerd__Services__Containers__V1__CreateContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    Containerd__Services__Containers__V1__Container__Runtime rt =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    ctr_t c = CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;

    if (create_from_image(argc, argv))
        return c_create_image(ctl, argc, argv, err);
    if (create_parse(ctl, argc, argv, &o, err) < 0)
        return -1;
    if (o.spec_file && read_file(o.spec_file, &spec, err) < 0)
        return -1;
    if (o.spec_file && !berthctl_json_valid((const char *)spec.data, spec.len))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "spec \"%s\": not valid JSON",
                             o.spec_file);
    any.type_url = (char *)SPEC_TYPE_URL;
    any.value.data = o.spec_file ? spec.data : (uint8_t *)DEFAULT_SPEC;
    any.value.len = o.spec_file ? spec.len : strlen(DEFAULT_SPEC);
    rt.name = (char *)o.runtime;
    labels = labels_to_pb(&o.labels, false, &storage, &c.n_labels);
    c.id = argv[optind + 1];
    c.image = argv[optind];
    c.labels = labels;
    c.runtime = &rt;
    c.spec = &any;
    c.snapshotter = (char *)(o.snapshotter ? o.snapshotter : "");
    c.snapshot_key = (char *)(o.snapshot_key ? o.snapshot_key : "");
    req.container = &c;
    return berth_client_unary(
        ctl->client, C_SVC "Create", &req.base,
        &containerd__services__containers__v1__create_container_response__descriptor, &resp, err);
}

/* ---- label ---- */

static int c_label_show(struct berthctl *ctl, const char *id, struct berth_err **err)
{
    _cleanup_(get_resp_freep) get_resp_t *resp = NULL;
    _cleanup_free_ char *s = NULL;
    struct berthctl_json j;
    const ctr_t *c;

    if (c_get(ctl, id, &resp, err) < 0)
        return -1;
    c = resp->container;
    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_init(&j, ctl->out);
        json_container_labels(&j, c);
        berthctl_json_end(&j);
        return 0;
    }
    s = berthctl_str_map_join(c->n_labels, (const void *const *)c->labels);
    if (*s)
        fprintf(ctl->out, "%s\n", s);
    return 0;
}

static int c_label(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(berthctl_kvs_clear) struct berthctl_kvs kv = {0};
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    _cleanup_free_ ctr_label_t *storage = NULL;
    _cleanup_free_ ctr_label_t **labels = NULL;
    _cleanup_strv_ char **paths = NULL;
    Containerd__Services__Containers__V1__UpdateContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__UPDATE_CONTAINER_REQUEST__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    ctr_t c = CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;

    if (argc < 2)
        return berthctl_usage(ctl, err, "label: missing container ID");
    for (int i = 2; i < argc; i++)
        if (berthctl_kvs_add(&kv, argv[i], false, err) < 0) {
            ctl->usage_error = true;
            return -1;
        }
    if (kv.n == 0)
        return c_label_show(ctl, argv[1], err);
    paths = berth_xcalloc(kv.n + 1, sizeof(char *));
    for (size_t i = 0; i < kv.n; i++)
        paths[i] = berth_strdup_printf("labels.%s", kv.keys[i]);
    /* Empty values stay out of the map: their mask path deletes the label. */
    labels = labels_to_pb(&kv, true, &storage, &c.n_labels);
    c.id = argv[1];
    c.labels = labels;
    mask.n_paths = kv.n;
    mask.paths = paths;
    req.container = &c;
    req.update_mask = &mask;
    return berth_client_unary(
        ctl->client, C_SVC "Update", &req.base,
        &containerd__services__containers__v1__update_container_response__descriptor, &resp, err);
}

/* ---- rm ---- */

static int c_remove(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    Containerd__Services__Containers__V1__DeleteContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;

    if (argc < 2)
        return berthctl_usage(ctl, err, "%s: missing container ID", argv[0]);
    for (int i = 1; i < argc; i++) {
        _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
        _cleanup_err_ struct berth_err *e = NULL;

        req.id = argv[i];
        if (berth_client_unary(ctl->client, C_SVC "Delete", &req.base,
                               &google__protobuf__empty__descriptor, &resp, &e) < 0) {
            fprintf(stderr, "berthctl: delete container \"%s\": %s\n", argv[i], e->msg);
            ctl->exit_code = 1;
        }
    }
    return 0;
}

static const struct berthctl_verb c_verbs[] = {
    {"ls", "list", c_list},   {"info", NULL, c_info},     {"create", NULL, c_create},
    {"label", NULL, c_label}, {"rm", "delete", c_remove},
};

static int c_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    return berthctl_dispatch(ctl, c_verbs, BERTH_N(c_verbs), argc - 1, argv + 1, err);
}

const struct berthctl_noun berthctl_containers_noun = {
    .name = "containers",
    .alias = "c",
    .summary = "manage containers",
    .usage =
        "usage: berthctl [global options] containers|c COMMAND\n"
        "\n"
        "commands:\n"
        "  ls|list [-q] [FILTER...]         list containers (-q: IDs only)\n"
        "  info [--spec] ID                 print a container as JSON (--spec: spec only)\n"
        "  create [OPTIONS] IMAGE ID        create a container record\n"
        "      -l, --label KEY=VALUE        add a label (repeatable)\n"
        "      -r, --runtime NAME           runtime (default " DEFAULT_RUNTIME ")\n"
        "      --snapshotter NAME           snapshotter of the rootfs snapshot\n"
        "      --snapshot-key KEY           rootfs snapshot key\n"
        "      --spec FILE                  OCI runtime spec JSON (default: minimal spec)\n"
        "  create [--from-image] [RUN OPTIONS] IMAGE ID [CMD...]\n"
        "                                   create from an unpacked image like run (snapshot\n"
        "                                   ID + spec from the image config), no task; chosen\n"
        "                                   by --from-image, a run-only flag or a CMD\n"
        "  label ID [KEY=VALUE...]          set labels (empty value deletes); none: show\n"
        "  rm|delete ID...                  delete container records\n",
    .run = c_run,
};
