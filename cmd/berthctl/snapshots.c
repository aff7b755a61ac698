/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl snapshots (alias snapshot): ls, tree, prepare, view, commit, mounts, rm, usage, info,
 * label over the containerd Snapshots service, printing what `ctr snapshots` prints (tables in
 * ctr's tabwriter layout, `mount -t ...` lines a shell can run, Info as ctr's JSON). The
 * noun-level --snapshotter (env BERTH_SNAPSHOTTER, default overlayfs) picks the backend.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h> /* getenv */
#include <string.h>

#include "api/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "lib/rfc3339.h"

#define S_SVC               "/containerd.services.snapshots.v1.Snapshots/"
#define DEFAULT_SNAPSHOTTER "overlayfs"
#define LABEL_GC_ROOT       "containerd.io/gc.root"
#define GO_ZERO_TIME        (-62135596800LL)

typedef Containerd__Services__Snapshots__V1__Info info_t;
typedef Containerd__Services__Snapshots__V1__Info__LabelsEntry info_label_t;
typedef Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry prep_label_t;
typedef Containerd__Services__Snapshots__V1__StatSnapshotResponse stat_resp_t;
typedef Containerd__Services__Snapshots__V1__UpdateSnapshotResponse update_resp_t;
typedef Containerd__Services__Snapshots__V1__UsageResponse usage_resp_t;
typedef Containerd__Services__Snapshots__V1__MountsResponse mounts_resp_t;
DEFINE_PB_CLEANUP(stat_resp_t, stat_resp_freep)
DEFINE_PB_CLEANUP(update_resp_t, update_resp_freep)
DEFINE_PB_CLEANUP(usage_resp_t, usage_resp_freep)
DEFINE_PB_CLEANUP(mounts_resp_t, mounts_resp_freep)

/* What every verb gets: the shared context plus the chosen backend. */
struct snap_cli {
    struct berthctl *ctl;
    char *sn; /* borrowed */
};

typedef int (*snap_verb_fn)(struct snap_cli *s, int argc, char **argv, struct berth_err **err);

/* ---- output helpers ---- */

/* Go's snapshots.Kind String(). */
static const char *kind_name(Containerd__Services__Snapshots__V1__Kind k)
{
    switch (k) {
    case CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__VIEW:
        return "View";
    case CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__ACTIVE:
        return "Active";
    case CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__COMMITTED:
        return "Committed";
    default:
        return "Unknown";
    }
}

/* ctr's progress.Bytes: one decimal, binary units. */
static void human_size(int64_t size, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)size;
    size_t i = 0;

    while (v >= 1024.0 && i + 1 < BERTH_N(units)) {
        v /= 1024.0;
        i++;
    }
    snprintf(buf, len, "%.1f %s", v, units[i]);
}

/* Rows printed the way ctr's snapshot commands configure tabwriter (minwidth 1, padding 1,
 * every cell tab-terminated): each column, the last included, is padded to its width + 1. */
struct tab {
    size_t ncols, nrows;
    char **cells;
};

static void tab_add(struct tab *t, const char *const *cells)
{
    t->cells = berth_xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = berth_xstrdup(cells[i] ? cells[i] : "");
    t->nrows++;
}

static size_t utf8_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

static void tab_print(const struct tab *t, FILE *f)
{
    _cleanup_free_ size_t *width = berth_xcalloc(t->ncols, sizeof(size_t));

    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        size_t w = utf8_width(t->cells[i]);
        if (w > width[i % t->ncols])
            width[i % t->ncols] = w;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            fprintf(f, "%s%*s", cell, (int)(width[c] - utf8_width(cell) + 1), "");
        }
        fputc('\n', f);
    }
}

static void tab_clear(struct tab *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
}

static void json_time(struct berthctl_json *j, const Google__Protobuf__Timestamp *ts)
{
    char buf[64];

    berthctl_time_format(ts ? ts->seconds : GO_ZERO_TIME, ts ? ts->nanos : 0, buf, sizeof(buf));
    berthctl_json_str(j, buf);
}

/* ctr's snapshots.Info JSON: Parent and Labels omitted when empty. */
static void json_info(struct berthctl_json *j, const info_t *in)
{
    berthctl_json_obj_begin(j);
    berthctl_json_key(j, "Kind");
    berthctl_json_str(j, kind_name(in->kind));
    berthctl_json_key(j, "Name");
    berthctl_json_str(j, in->name);
    if (in->parent && *in->parent) {
        berthctl_json_key(j, "Parent");
        berthctl_json_str(j, in->parent);
    }
    if (in->n_labels) {
        berthctl_json_key(j, "Labels");
        berthctl_json_str_map(j, in->n_labels, (const void *const *)in->labels);
    }
    berthctl_json_key(j, "Created");
    json_time(j, in->created_at);
    berthctl_json_key(j, "Updated");
    json_time(j, in->updated_at);
    berthctl_json_obj_end(j);
}

/* ctr's []mount.Mount JSON (1.6 has no Target). */
static void json_mounts(FILE *f, Containerd__Types__Mount *const *m, size_t n)
{
    struct berthctl_json j;

    berthctl_json_init(&j, f);
    berthctl_json_arr_begin(&j);
    for (size_t i = 0; i < n; i++) {
        berthctl_json_obj_begin(&j);
        berthctl_json_key(&j, "Type");
        berthctl_json_str(&j, m[i]->type);
        berthctl_json_key(&j, "Source");
        berthctl_json_str(&j, m[i]->source);
        berthctl_json_key(&j, "Options");
        berthctl_json_arr_begin(&j);
        for (size_t k = 0; k < m[i]->n_options; k++)
            berthctl_json_str(&j, m[i]->options[k]);
        berthctl_json_arr_end(&j);
        berthctl_json_obj_end(&j);
    }
    berthctl_json_arr_end(&j);
    berthctl_json_end(&j);
}

/* One shell line per mount, exactly as ctr prints them (target used as given). */
static void print_mount_lines(FILE *f, const char *target, Containerd__Types__Mount *const *m,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "mount -t %s %s %s -o ", m[i]->type, m[i]->source, target);
        for (size_t k = 0; k < m[i]->n_options; k++)
            fprintf(f, "%s%s", k ? "," : "", m[i]->options[k]);
        fputc('\n', f);
    }
}

/* ---- list (shared by ls, tree and usage) ---- */

/* The fields the verbs need from one streamed Info, copied out of the borrowed message. */
struct entry {
    char *name, *parent;
};

struct collect {
    struct snap_cli *s;
    bool json_started, quiet;
    struct berthctl_json json; /* ls --format json */
    struct tab *tab;           /* ls table; NULL: not printing */
    struct entry *v;           /* tree and usage */
    size_t n;
};

static int list_cb(const ProtobufCMessage *msg, void *arg)
{
    const Containerd__Services__Snapshots__V1__ListSnapshotsResponse *r = (const void *)msg;
    struct collect *c = arg;

    for (size_t i = 0; i < r->n_info; i++) {
        const info_t *in = r->info[i];
        if (c->quiet) {
            fprintf(c->s->ctl->out, "%s\n", in->name);
        } else if (c->s->ctl->format == BERTHCTL_FORMAT_JSON && c->tab) {
            if (!c->json_started)
                berthctl_json_arr_begin(&c->json);
            c->json_started = true;
            json_info(&c->json, in);
        } else if (c->tab) {
            const char *row[] = {in->name, in->parent, kind_name(in->kind)};
            tab_add(c->tab, row);
        } else {
            c->v = berth_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
            c->v[c->n].name = berth_xstrdup(in->name);
            c->v[c->n].parent = berth_xstrdup(in->parent ? in->parent : "");
            c->n++;
        }
    }
    return 0;
}

static void collect_clear(struct collect *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].name);
        free(c->v[i].parent);
    }
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

static int list_fetch(struct collect *c, char **filters, size_t n_filters, struct berth_err **err)
{
    Containerd__Services__Snapshots__V1__ListSnapshotsRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_REQUEST__INIT;

    req.snapshotter = c->s->sn;
    req.filters = filters;
    req.n_filters = n_filters;
    return berth_client_server_stream(
        c->s->ctl->client, S_SVC "List", &req.base,
        &containerd__services__snapshots__v1__list_snapshots_response__descriptor, list_cb, c, err);
}

/* Verbs without options still reject unknown ones (and honour "--"). */
static int no_options(struct snap_cli *s, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{0}};
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1)
        return berthctl_bad_option(s->ctl, c, argv, err);
    return 0;
}

static int snap_list(struct snap_cli *s, int argc, char **argv, struct berth_err **err)
{
    static const char *const header[] = {"KEY", "PARENT", "KIND"};
    struct tab t = {.ncols = 3};
    static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'}, {0}};
    struct collect c = {.s = s, .tab = &t};
    int o, ret;

    berthctl_getopt_reset();
    while ((o = getopt_long(argc, argv, "+:q", opts, NULL)) != -1) {
        if (o != 'q')
            return berthctl_bad_option(s->ctl, o, argv, err);
        c.quiet = true;
    }
    berthctl_json_init(&c.json, s->ctl->out);
    tab_add(&t, header);
    ret = list_fetch(&c, argv + optind, (size_t)(argc - optind), err);
    if (ret < 0 || c.quiet) {
        tab_clear(&t);
        return ret;
    }
    if (s->ctl->format == BERTHCTL_FORMAT_JSON) {
        if (!c.json_started)
            berthctl_json_arr_begin(&c.json);
        berthctl_json_arr_end(&c.json);
        berthctl_json_end(&c.json);
    } else {
        tab_print(&t, s->ctl->out);
    }
    tab_clear(&t);
    return 0;
}

/* ---- tree ---- */

/* ctr's tree: nodes in list order, a parent not listed (other filter, other page) becomes a
 * placeholder root; children in the order they were seen. */
struct node {
    const char *name, *parent; /* borrowed from the entries */
    size_t *children, n_children;
};

static size_t node_find(struct node *nodes, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(nodes[i].name, name) == 0)
            return i;
    return n;
}

static void node_print(FILE *f, const struct node *nodes, size_t i, int level)
{
    if (level > 64) /* a parent cycle can only come from a broken server; don't recurse forever */
        return;
    fprintf(f, "%*s%s %s\n", level * 2, "", level > 0 ? "\\_" : "", nodes[i].name);
    for (size_t k = 0; k < nodes[i].n_children; k++)
        node_print(f, nodes, nodes[i].children[k], level + 1);
}

static int snap_tree(struct snap_cli *s, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(collect_clear) struct collect c = {.s = s};
    _cleanup_free_ struct node *nodes = NULL;
    size_t n = 0;

    if (no_options(s, argc, argv, err) < 0)
        return -1;
    if (optind < argc)
        return berthctl_usage(s->ctl, err, "tree: takes no arguments");
    if (list_fetch(&c, NULL, 0, err) < 0)
        return -1;
    /* At most two nodes per entry (itself and a placeholder parent). */
    nodes = berth_xcalloc(2 * c.n + 1, sizeof(*nodes));
    for (size_t i = 0; i < c.n; i++) {
        size_t me = node_find(nodes, n, c.v[i].name), p;
        if (me == n)
            nodes[n++] = (struct node){.name = c.v[i].name};
        nodes[me].parent = c.v[i].parent;
        if (!*c.v[i].parent)
            continue;
        p = node_find(nodes, n, c.v[i].parent);
        if (p == n)
            nodes[n++] = (struct node){.name = c.v[i].parent, .parent = ""};
        nodes[p].children =
            berth_xrealloc(nodes[p].children, (nodes[p].n_children + 1) * sizeof(size_t));
        nodes[p].children[nodes[p].n_children++] = me;
    }
    for (size_t i = 0; i < n; i++)
        if (!*nodes[i].parent)
            node_print(s->ctl->out, nodes, i, 0);
    for (size_t i = 0; i < n; i++)
        free(nodes[i].children);
    return 0;
}

/* ---- prepare, view ---- */

static int create(struct snap_cli *s, bool view, int argc, char **argv, struct berth_err **err)
{
    enum { OPT_MOUNTS = 256 };
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'},
        {"mounts", no_argument, NULL, OPT_MOUNTS},
        {0},
    };
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
    prep_label_t label =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__LABELS_ENTRY__INIT;
    prep_label_t *labels[] = {&label};
    const char *target = NULL;
    char when[BERTH_RFC3339_MAX];
    bool print_mounts = false;
    Containerd__Types__Mount **m;
    size_t n;
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:t:", opts, NULL)) != -1) {
        if (c == 't')
            target = optarg;
        else if (c == OPT_MOUNTS)
            print_mounts = true;
        else
            return berthctl_bad_option(s->ctl, c, argv, err);
    }
    if (argc - optind < 1 || argc - optind > 2)
        return berthctl_usage(s->ctl, err, "%s: want KEY and an optional PARENT", argv[0]);
    req.snapshotter = s->sn;
    req.key = argv[optind];
    req.parent = (char *)(argc - optind == 2 ? argv[optind + 1] : "");
    /* Like ctr: a prepared snapshot is a GC root until it is committed or removed. */
    if (!view) {
        berth_rfc3339_format_ts(berth_now_ns() / 1000000000LL, 0, when);
        label.key = (char *)LABEL_GC_ROOT;
        label.value = when;
        req.labels = labels;
        req.n_labels = 1;
    }
    /* View's request and response have the same fields with the same numbers, so the Prepare
     * messages serve both methods. */
    if (berth_client_unary(
            s->ctl->client, view ? S_SVC "View" : S_SVC "Prepare", &req.base,
            &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, &resp,
            err) < 0)
        return -1;
    m = ((Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *)resp)->mounts;
    n = ((Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *)resp)->n_mounts;
    if (target)
        print_mount_lines(s->ctl->out, target, m, n);
    if (print_mounts)
        json_mounts(s->ctl->out, m, n);
    return 0;
}

static int snap_prepare(struct snap_cli *s, int argc, char **argv, struct berth_err **err)
{
    return create(s, false, argc, argv, err);
}

static int snap_view(struct snap_cli *s, int argc, char **argv, struct berth_err **err)
{
    return create(s, true, argc, argv, err);
}

/* ---- mounts, commit, rm ---- */

static int snap_mounts(struct snap_cli *s, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(mounts_resp_freep) mounts_resp_t *resp = NULL;
    Containerd__Services__Snapshots__V1__MountsRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_REQUEST__INIT;

    if (no_options(s, argc, argv, err) < 0)
        return -1;
    if (argc - optind != 2)
        return berthctl_usage(s->ctl, err, "mounts: want TARGET and KEY");
    req.snapshotter = s->sn;
    req.key = argv[optind + 1];
    if (berth_client_unary(s->ctl->client, S_SVC "Mounts", &req.base,
                           &containerd__services__snapshots__v1__mounts_response__descriptor,
                           (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    if (s->ctl->format == BERTHCTL_FORMAT_JSON)
        json_mounts(s->ctl->out, resp->mounts, resp->n_mounts);
    else
        print_mount_lines(s->ctl->out, argv[optind], resp->mounts, resp->n_mounts);
    return 0;
}

static int snap_commit(struct snap_cli *s, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__INIT;
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest__LabelsEntry label =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__LABELS_ENTRY__INIT;
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest__LabelsEntry *labels[] = {&label};
    char when[BERTH_RFC3339_MAX];

    if (no_options(s, argc, argv, err) < 0)
        return -1;
    if (argc - optind != 2)
        return berthctl_usage(s->ctl, err, "commit: want NAME and KEY");
    /* ctr marks the committed snapshot as a GC root (commit labels replace the old ones). */
    berth_rfc3339_format_ts(berth_now_ns() / 1000000000LL, 0, when);
    label.key = (char *)LABEL_GC_ROOT;
    label.value = when;
    req.snapshotter = s->sn;
    req.name = argv[optind];
    req.key = argv[optind + 1];
    req.labels = labels;
    req.n_labels = 1;
    return berth_client_unary(s->ctl->client, S_SVC "Commit", &req.base,
                              &google__protobuf__empty__descriptor, &resp, err);
}

/* Like ctr: keys are removed in order and the first failure stops the command. */
static int snap_remove(struct snap_cli *s, int argc, char **argv, struct berth_err **err)
{
    Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;

    if (no_options(s, argc, argv, err) < 0)
        return -1;
    if (optind >= argc)
        return berthctl_usage(s->ctl, err, "%s: missing snapshot key", argv[0]);
    req.snapshotter = s->sn;
    for (int i = optind; i < argc; i++) {
        _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;

        req.key = argv[i];
        if (berth_client_unary(s->ctl->client, S_SVC "Remove", &req.base,
                               &google__protobuf__empty__descriptor, &resp, err) < 0)
            return berth_err_wrap(err, "remove snapshot \"%s\"", argv[i]);
    }
    return 0;
}

/* ---- usage ---- */

static int usage_one(struct snap_cli *s, const char *key, bool bytes, struct tab *t,
                     struct berthctl_json *j, struct berth_err **err)
{
    _cleanup_(usage_resp_freep) usage_resp_t *resp = NULL;
    Containerd__Services__Snapshots__V1__UsageRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_REQUEST__INIT;
    char size[32], inodes[32];

    req.snapshotter = s->sn;
    req.key = (char *)key;
    if (berth_client_unary(s->ctl->client, S_SVC "Usage", &req.base,
                           &containerd__services__snapshots__v1__usage_response__descriptor,
                           (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    if (s->ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_obj_begin(j);
        berthctl_json_key(j, "Key");
        berthctl_json_str(j, key);
        berthctl_json_key(j, "Size");
        berthctl_json_int(j, resp->size);
        berthctl_json_key(j, "Inodes");
        berthctl_json_int(j, resp->inodes);
        berthctl_json_obj_end(j);
        return 0;
    }
    if (bytes)
        snprintf(size, sizeof(size), "%" PRId64, resp->size);
    else
        human_size(resp->size, size, sizeof(size));
    snprintf(inodes, sizeof(inodes), "%" PRId64, resp->inodes);
    tab_add(t, (const char *const[]){key, size, inodes});
    return 0;
}

static int snap_usage(struct snap_cli *s, int argc, char **argv, struct berth_err **err)
{
    static const char *const header[] = {"KEY", "SIZE", "INODES"};
    static const struct option opts[] = {{"b", no_argument, NULL, 'b'}, {0}};
    _cleanup_(collect_clear) struct collect c = {.s = s};
    _cleanup_(tab_clear) struct tab t = {.ncols = 3};
    struct berthctl_json j;
    bool bytes = false;
    int o;

    berthctl_getopt_reset();
    /* getopt_long_only so ctr's single-dash "-b" and "--b" both work. */
    while ((o = getopt_long_only(argc, argv, "+:b", opts, NULL)) != -1) {
        if (o != 'b')
            return berthctl_bad_option(s->ctl, o, argv, err);
        bytes = true;
    }
    if (optind == argc && list_fetch(&c, NULL, 0, err) < 0)
        return -1;
    berthctl_json_init(&j, s->ctl->out);
    if (s->ctl->format == BERTHCTL_FORMAT_JSON)
        berthctl_json_arr_begin(&j);
    tab_add(&t, header);
    for (size_t i = 0; i < c.n; i++)
        if (usage_one(s, c.v[i].name, bytes, &t, &j, err) < 0)
            return -1;
    for (int i = optind; i < argc; i++)
        if (usage_one(s, argv[i], bytes, &t, &j, err) < 0)
            return -1;
    if (s->ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_arr_end(&j);
        berthctl_json_end(&j);
    } else {
        tab_print(&t, s->ctl->out);
    }
    return 0;
}

/* ---- info, label ---- */

static int stat_key(struct snap_cli *s, const char *key, stat_resp_t **out, struct berth_err **err)
{
    Containerd__Services__Snapshots__V1__StatSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;

    req.snapshotter = s->sn;
    req.key = (char *)key;
    if (berth_client_unary(s->ctl->client, S_SVC "Stat", &req.base,
                           &containerd__services__snapshots__v1__stat_snapshot_response__descriptor,
                           (ProtobufCMessage **)out, err) < 0)
        return -1;
    if (!(*out)->info) {
        protobuf_c_message_free_unpacked(&(*out)->base, NULL);
        *out = NULL;
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "server returned no snapshot info");
    }
    return 0;
}

static int snap_info(struct snap_cli *s, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(stat_resp_freep) stat_resp_t *resp = NULL;
    struct berthctl_json j;

    if (no_options(s, argc, argv, err) < 0)
        return -1;
    if (argc - optind != 1)
        return berthctl_usage(s->ctl, err, "info: want exactly one snapshot key");
    if (stat_key(s, argv[optind], &resp, err) < 0)
        return -1;
    berthctl_json_init(&j, s->ctl->out);
    json_info(&j, resp->info);
    berthctl_json_end(&j);
    return 0;
}

/* Prints the labels as ctr does ("k=v,..." sorted here; ctr's order is Go's map order). */
static void print_labels(struct snap_cli *s, const info_t *in)
{
    _cleanup_free_ char *joined = NULL;
    struct berthctl_json j;

    if (s->ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_init(&j, s->ctl->out);
        berthctl_json_str_map(&j, in->n_labels, (const void *const *)in->labels);
        berthctl_json_end(&j);
        return;
    }
    joined = berthctl_str_map_join(in->n_labels, (const void *const *)in->labels);
    fprintf(s->ctl->out, "%s\n", joined);
}

static int snap_label(struct snap_cli *s, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(berthctl_kvs_clear) struct berthctl_kvs kv = {0};
    _cleanup_(stat_resp_freep) stat_resp_t *st = NULL;
    _cleanup_(update_resp_freep) update_resp_t *resp = NULL;
    _cleanup_free_ info_label_t *storage = NULL;
    _cleanup_free_ info_label_t **labels = NULL;
    _cleanup_free_ char **paths = NULL;
    Containerd__Services__Snapshots__V1__UpdateSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__UPDATE_SNAPSHOT_REQUEST__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    info_t info = CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
    size_t n_labels = 0;
    int ret;

    if (no_options(s, argc, argv, err) < 0)
        return -1;
    if (argc - optind < 1)
        return berthctl_usage(s->ctl, err, "label: missing snapshot key");
    for (int i = optind + 1; i < argc; i++)
        if (berthctl_kvs_add(&kv, argv[i], false, err) < 0) {
            s->ctl->usage_error = true;
            return -1;
        }
    /* Nothing to change: show the labels, as ctr does. */
    if (kv.n == 0) {
        if (stat_key(s, argv[optind], &st, err) < 0)
            return -1;
        print_labels(s, st->info);
        return 0;
    }
    storage = berth_xcalloc(kv.n, sizeof(*storage));
    labels = berth_xcalloc(kv.n, sizeof(*labels));
    paths = berth_xcalloc(kv.n, sizeof(*paths));
    for (size_t i = 0; i < kv.n; i++) {
        info_label_t init = CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__LABELS_ENTRY__INIT;
        paths[i] = berth_strdup_printf("labels.%s", kv.keys[i]);
        if (!*kv.vals[i]) /* k= removes k: a path without a value */
            continue;
        storage[n_labels] = init;
        storage[n_labels].key = kv.keys[i];
        storage[n_labels].value = kv.vals[i];
        labels[n_labels] = &storage[n_labels];
        n_labels++;
    }
    info.name = argv[optind];
    info.labels = labels;
    info.n_labels = n_labels;
    mask.paths = paths;
    mask.n_paths = kv.n;
    req.snapshotter = s->sn;
    req.info = &info;
    req.update_mask = &mask;
    ret = berth_client_unary(
        s->ctl->client, S_SVC "Update", &req.base,
        &containerd__services__snapshots__v1__update_snapshot_response__descriptor,
        (ProtobufCMessage **)&resp, err);
    for (size_t i = 0; i < kv.n; i++)
        free(paths[i]);
    if (ret < 0)
        return -1;
    if (!resp->info)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "server returned no snapshot info");
    print_labels(s, resp->info);
    return 0;
}

/* ---- noun ---- */

static const struct {
    const char *name, *alias;
    snap_verb_fn run;
} snap_verbs[] = {
    {"ls", "list", snap_list},     {"tree", NULL, snap_tree},      {"prepare", NULL, snap_prepare},
    {"view", NULL, snap_view},     {"commit", NULL, snap_commit},  {"mounts", "mount", snap_mounts},
    {"rm", "remove", snap_remove}, {"usage", NULL, snap_usage},    {"info", NULL, snap_info},
    {"label", NULL, snap_label},   {"delete", "del", snap_remove},
};

static int snapshots_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    enum { OPT_SNAPSHOTTER = 256 };
    static const struct option opts[] = {
        {"snapshotter", required_argument, NULL, OPT_SNAPSHOTTER},
        {0},
    };
    const char *env = getenv("BERTH_SNAPSHOTTER");
    struct snap_cli s = {.ctl = ctl, .sn = (char *)(env && *env ? env : DEFAULT_SNAPSHOTTER)};
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        if (c != OPT_SNAPSHOTTER)
            return berthctl_bad_option(ctl, c, argv, err);
        if (!*optarg)
            return berthctl_usage(ctl, err, "--snapshotter must not be empty");
        s.sn = optarg;
    }
    argc -= optind;
    argv += optind;
    if (argc < 1)
        return berthctl_usage(ctl, err, "missing command");
    for (size_t i = 0; i < BERTH_N(snap_verbs); i++)
        if (strcmp(argv[0], snap_verbs[i].name) == 0 ||
            (snap_verbs[i].alias && strcmp(argv[0], snap_verbs[i].alias) == 0))
            return snap_verbs[i].run(&s, argc, argv, err);
    return berthctl_usage(ctl, err, "unknown command \"%s\"", argv[0]);
}

const struct berthctl_noun berthctl_snapshots_noun = {
    .name = "snapshots",
    .alias = "snapshot",
    .summary = "manage snapshots",
    .usage = "usage: berthctl [global options] snapshots [--snapshotter NAME] COMMAND\n"
             "\n"
             "  --snapshotter NAME           backend (env BERTH_SNAPSHOTTER, default overlayfs)\n"
             "\n"
             "commands:\n"
             "  ls|list [-q] [FILTER...]     list snapshots: KEY PARENT KIND (-q: keys only;\n"
             "                               filters: kind, name, parent, labels.<k>)\n"
             "  tree                         show the parent/child tree\n"
             "  prepare [-t|--target DIR] [--mounts] KEY [PARENT]\n"
             "                               new active snapshot; -t prints its mount commands,\n"
             "                               --mounts its mounts as JSON\n"
             "  view [-t|--target DIR] [--mounts] KEY [PARENT]\n"
             "                               new read-only snapshot of PARENT\n"
             "  commit NAME KEY              commit active snapshot KEY as NAME\n"
             "  mounts|mount TARGET KEY      print `mount -t TYPE SOURCE TARGET -o OPTS` lines\n"
             "                               (pipe to sh to mount KEY on TARGET)\n"
             "  rm|remove KEY...             remove snapshots (stops at the first failure)\n"
             "  usage [-b] [KEY...]          disk usage: KEY SIZE INODES (-b: size in bytes)\n"
             "  info KEY                     the snapshot's info as JSON\n"
             "  label KEY [K=V...]           set labels (K= removes one) and print them\n",
    .run = snapshots_run,
};
