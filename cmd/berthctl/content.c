/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl content: ls, get, ingest, rm, label, active over the containerd Content service,
 * sending what `ctr content` sends (ingest is a Write stream: STAT, WRITEs of up to 1 MiB,
 * COMMIT; a resumed ingest skips the bytes the server already has).
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "api/services/content/v1/content.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "images/walk.h" /* struct berth_blob_source */

#define CT_SVC     "/containerd.services.content.v1.Content/"
#define WRITE_SIZE (1 << 20)

typedef Containerd__Services__Content__V1__Info info_t;
typedef Containerd__Services__Content__V1__WriteContentRequest write_req_t;
typedef Containerd__Services__Content__V1__WriteContentResponse write_resp_t;
typedef Containerd__Services__Content__V1__ListStatusesResponse statuses_t;
typedef Containerd__Services__Content__V1__UpdateResponse update_resp_t;
DEFINE_PB_CLEANUP(write_resp_t, write_resp_freep)
DEFINE_PB_CLEANUP(statuses_t, statuses_freep)
DEFINE_PB_CLEANUP(update_resp_t, update_resp_freep)

struct ls_state {
    struct berthctl *ctl;
    struct berthctl_table *t;
    struct berthctl_json j;
    bool quiet;
};

static int ls_cb(const ProtobufCMessage *msg, void *arg)
{
    const Containerd__Services__Content__V1__ListContentResponse *r = (const void *)msg;
    struct ls_state *s = arg;

    for (size_t i = 0; i < r->n_info; i++) {
        const info_t *in = r->info[i];
        if (s->quiet) {
            fprintf(s->ctl->out, "%s\n", in->digest);
        } else if (s->ctl->format == BERTHCTL_FORMAT_JSON) {
            berthctl_json_pb(&s->j, &in->base);
        } else {
            _cleanup_free_ char *labels =
                berthctl_str_map_join(in->n_labels, (const void *const *)in->labels);
            char size[32];
            const char *row[] = {in->digest, size, *labels ? labels : "-"};
            snprintf(size, sizeof(size), "%" PRId64, in->size);
            berthctl_table_add(s->t, row);
        }
    }
    return 0;
}

static int content_list(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const char *const header[] = {"DIGEST", "SIZE", "LABELS"};
    static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'}, {0}};
    Containerd__Services__Content__V1__ListContentRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__LIST_CONTENT_REQUEST__INIT;
    _cleanup_(berthctl_table_freep) struct berthctl_table *t = NULL;
    struct ls_state s = {.ctl = ctl};
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:q", opts, NULL)) != -1) {
        if (c != 'q')
            return berthctl_bad_option(ctl, c, argv, err);
        s.quiet = true;
    }
    req.n_filters = (size_t)(argc - optind);
    req.filters = argv + optind;
    s.t = t = berthctl_table_new(3, header);
    if (!s.quiet && ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_init(&s.j, ctl->out);
        berthctl_json_arr_begin(&s.j);
    }
    if (berth_client_server_stream(
            ctl->client, CT_SVC "List", &req.base,
            &containerd__services__content__v1__list_content_response__descriptor, ls_cb, &s,
            err) < 0)
        return -1;
    if (s.quiet)
        return 0;
    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_arr_end(&s.j);
        berthctl_json_end(&s.j);
    } else {
        berthctl_table_print(t, ctl->out);
    }
    return 0;
}

struct get_state {
    FILE *out;
    int64_t next;
    bool bad;
};

static int get_cb(const ProtobufCMessage *msg, void *arg)
{
    const Containerd__Services__Content__V1__ReadContentResponse *r = (const void *)msg;
    struct get_state *s = arg;

    if (r->offset != s->next) {
        s->bad = true;
        return 1;
    }
    if (r->data.len && fwrite(r->data.data, 1, r->data.len, s->out) != r->data.len) {
        s->bad = true;
        return 1;
    }
    s->next += (int64_t)r->data.len;
    return 0;
}

static int content_get(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    Containerd__Services__Content__V1__ReadContentRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__READ_CONTENT_REQUEST__INIT;
    struct get_state s = {.out = ctl->out};

    if (argc != 2)
        return berthctl_usage(ctl, err, "get: expected exactly one digest");
    req.digest = argv[1];
    if (berth_client_server_stream(
            ctl->client, CT_SVC "Read", &req.base,
            &containerd__services__content__v1__read_content_response__descriptor, get_cb, &s,
            err) < 0)
        return -1;
    if (s.bad)
        return berth_err_set(err, BERTH_E_DATA_LOSS, 0, "read %s: bad chunk at offset %" PRId64,
                             argv[1], s.next);
    fflush(ctl->out);
    return 0;
}

/* ---- the image walk's blob source ---- */

struct blob_sink {
    struct berth_bytes b;
    size_t max;
    bool too_big;
};

static int blob_cb(const ProtobufCMessage *msg, void *arg)
{
    const Containerd__Services__Content__V1__ReadContentResponse *r = (const void *)msg;
    struct blob_sink *s = arg;

    if (r->data.len > s->max - s->b.len) {
        s->too_big = true;
        return 1; /* stops the stream */
    }
    s->b.data = berth_xrealloc(s->b.data, s->b.len + r->data.len + 1);
    memcpy(s->b.data + s->b.len, r->data.data, r->data.len);
    s->b.len += r->data.len;
    return 0;
}

static int blob_read_cb(void *arg, const struct berth_descriptor *d, size_t max,
                        struct berth_bytes *out, struct berth_err **err)
{
    Containerd__Services__Content__V1__ReadContentRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__READ_CONTENT_REQUEST__INIT;
    struct berthctl *ctl = arg;
    struct blob_sink s = {.max = max};

    req.digest = d->digest;
    if (berth_client_server_stream(
            ctl->client, CT_SVC "Read", &req.base,
            &containerd__services__content__v1__read_content_response__descriptor, blob_cb, &s,
            err) < 0) {
        berth_bytes_clear(&s.b);
        return -1;
    }
    if (s.too_big) {
        berth_bytes_clear(&s.b);
        return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0, "blob %s larger than %zu bytes",
                             d->digest, max);
    }
    if (!s.b.data)
        s.b.data = berth_xcalloc(1, 1); /* an empty blob still reads as a buffer */
    *out = s.b;
    return 0;
}

void berthctl_blob_source_init(struct berthctl *ctl, struct berth_blob_source *src)
{
    src->read = blob_read_cb;
    src->arg = ctl;
}

/* One request/response round trip of the Write stream. */
static int write_rt(struct berth_client_bidi *b, const write_req_t *req, write_resp_t **resp,
                    struct berth_err **err)
{
    if (berth_client_bidi_send(b, &req->base, err) < 0 ||
        berth_client_bidi_recv(
            b, &containerd__services__content__v1__write_content_response__descriptor,
            (ProtobufCMessage **)resp, err) < 0)
        return -1;
    if (!*resp)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "write stream ended early");
    return 0;
}

/* Reads up to len bytes from fd; returns the count (0 at EOF) or -1. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = read(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* What the server said about an ingest: its first status and the committed digest. */
struct ingest_result {
    int64_t offset, total; /* the first STAT's, -1 if the server answered AlreadyExists */
    char *digest;
};

static int ingest(struct berthctl *ctl, const char *ref, int64_t size, const char *expected,
                  const struct berthctl_kvs *labels, struct ingest_result *res,
                  struct berth_err **err)
{
    _cleanup_(berth_client_bidi_freep) struct berth_client_bidi *b = NULL;
    _cleanup_free_ uint8_t *buf = berth_xmalloc(WRITE_SIZE);
    _cleanup_free_ Containerd__Services__Content__V1__WriteContentRequest__LabelsEntry *storage =
        NULL;
    _cleanup_free_ Containerd__Services__Content__V1__WriteContentRequest__LabelsEntry **lp = NULL;
    write_req_t req = CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_REQUEST__INIT;
    int64_t offset;
    bool all_there;

    if (berth_client_bidi_open(ctl->client, CT_SVC "Write", &b, err) < 0)
        return -1;
    req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__STAT;
    req.ref = (char *)ref;
    req.total = size;
    req.expected = (char *)expected;
    {
        _cleanup_(write_resp_freep) write_resp_t *resp = NULL;
        if (write_rt(b, &req, &resp, err) < 0)
            return -1;
        offset = res->offset = resp->offset;
        res->total = resp->total;
    }
    /* The server has every byte of the expected blob (a resumed ingest, or one shared with
     * another namespace): nothing to read, just commit. */
    all_there = *expected && res->total > 0 && offset == res->total;
    /* Resume: the server already has the first offset bytes; skip them on stdin. */
    for (int64_t skip = all_there ? 0 : offset; skip > 0;) {
        ssize_t n = read_full(STDIN_FILENO, buf, skip < WRITE_SIZE ? (size_t)skip : WRITE_SIZE);
        if (n <= 0)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, errno,
                                 "input is shorter than the %" PRId64 " bytes already ingested",
                                 offset);
        skip -= n;
    }
    req.ref = (char *)"";
    req.total = 0;
    req.expected = (char *)"";
    while (!all_there) {
        _cleanup_(write_resp_freep) write_resp_t *resp = NULL;
        ssize_t n = read_full(STDIN_FILENO, buf, WRITE_SIZE);

        if (n < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "read input");
        if (n == 0)
            break;
        req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__WRITE;
        req.offset = offset;
        req.data.data = buf;
        req.data.len = (size_t)n;
        if (write_rt(b, &req, &resp, err) < 0)
            return -1;
        if (resp->offset != offset + n)
            return berth_err_set(err, BERTH_E_DATA_LOSS, 0, "short write at offset %" PRId64,
                                 offset);
        offset = resp->offset;
    }
    req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT;
    req.offset = offset;
    req.data.data = NULL;
    req.data.len = 0;
    req.total = size;
    req.expected = (char *)expected;
    storage = berth_xcalloc(labels->n ? labels->n : 1, sizeof(*storage));
    lp = berth_xcalloc(labels->n ? labels->n : 1, sizeof(*lp));
    for (size_t i = 0; i < labels->n; i++) {
        containerd__services__content__v1__write_content_request__labels_entry__init(&storage[i]);
        storage[i].key = labels->keys[i];
        storage[i].value = labels->vals[i];
        lp[i] = &storage[i];
    }
    req.n_labels = labels->n;
    req.labels = lp;
    {
        _cleanup_(write_resp_freep) write_resp_t *resp = NULL;
        if (write_rt(b, &req, &resp, err) < 0)
            return -1;
        res->digest = berth_xstrdup(resp->digest);
    }
    return berth_client_bidi_close(b, err);
}

static int content_ingest(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    enum { OPT_SIZE = 256, OPT_DIGEST, OPT_LABEL };
    static const struct option opts[] = {
        {"expected-size", required_argument, NULL, OPT_SIZE},
        {"expected-digest", required_argument, NULL, OPT_DIGEST},
        {"label", required_argument, NULL, OPT_LABEL},
        {0},
    };
    _cleanup_(berthctl_kvs_clear) struct berthctl_kvs labels = {0};
    struct ingest_result res = {.offset = -1, .total = -1};
    _cleanup_err_ struct berth_err *e = NULL;
    const char *expected = "";
    int64_t size = 0;
    char *end;
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        switch (c) {
        case OPT_SIZE:
            errno = 0;
            size = strtoll(optarg, &end, 10);
            if (errno || *end || size < 0)
                return berthctl_usage(ctl, err, "ingest: bad --expected-size \"%s\"", optarg);
            break;
        case OPT_DIGEST:
            expected = optarg;
            break;
        case OPT_LABEL:
            if (berthctl_kvs_add(&labels, optarg, true, err) < 0) {
                ctl->usage_error = true;
                return -1;
            }
            break;
        default:
            return berthctl_bad_option(ctl, c, argv, err);
        }
    }
    if (argc - optind != 1)
        return berthctl_usage(ctl, err, "ingest: expected exactly one ref");
    if (ingest(ctl, argv[optind], size, expected, &labels, &res, &e) < 0) {
        /* The blob is already there: that is success, as for ctr. */
        if (e->code != BERTH_E_ALREADY_EXISTS) {
            free(res.digest);
            *err = steal_ptr(e);
            return berth_err_wrap(err, "ingest ref \"%s\"", argv[optind]);
        }
        if (!res.digest && *expected)
            res.digest = berth_xstrdup(expected);
    }
    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        /* What the server reported when the writer opened: offset = total for a blob it had. */
        struct berthctl_json j;
        berthctl_json_init(&j, ctl->out);
        berthctl_json_obj_begin(&j);
        berthctl_json_key(&j, "ref");
        berthctl_json_str(&j, argv[optind]);
        if (res.offset >= 0) {
            berthctl_json_key(&j, "offset");
            berthctl_json_int(&j, res.offset);
            berthctl_json_key(&j, "total");
            berthctl_json_int(&j, res.total);
        }
        berthctl_json_key(&j, "existed");
        berthctl_json_bool(&j, res.offset < 0);
        berthctl_json_key(&j, "digest");
        berthctl_json_str(&j, res.digest);
        berthctl_json_obj_end(&j);
        berthctl_json_end(&j);
    } else if (res.digest) {
        fprintf(ctl->out, "%s\n", res.digest);
    }
    free(res.digest);
    return 0;
}

/* Like ctr: each failure is reported and fails the command at the end. */
static int content_remove(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    Containerd__Services__Content__V1__DeleteContentRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__DELETE_CONTENT_REQUEST__INIT;

    if (argc < 2)
        return berthctl_usage(ctl, err, "rm: missing digest");
    for (int i = 1; i < argc; i++) {
        _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
        _cleanup_err_ struct berth_err *e = NULL;

        req.digest = argv[i];
        if (berth_client_unary(ctl->client, CT_SVC "Delete", &req.base,
                               &google__protobuf__empty__descriptor, &resp, &e) == 0) {
            fprintf(ctl->out, "%s\n", argv[i]);
            continue;
        }
        fprintf(stderr, "berthctl: remove content %s: %s\n", argv[i], e->msg);
        ctl->exit_code = 1;
    }
    return 0;
}

static int content_label(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(berthctl_kvs_clear) struct berthctl_kvs kv = {0};
    _cleanup_(update_resp_freep) update_resp_t *resp = NULL;
    _cleanup_free_ Containerd__Services__Content__V1__Info__LabelsEntry *storage = NULL;
    _cleanup_free_ Containerd__Services__Content__V1__Info__LabelsEntry **labels = NULL;
    _cleanup_strv_ char **paths = NULL;
    Containerd__Services__Content__V1__UpdateRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__UPDATE_REQUEST__INIT;
    info_t info = CONTAINERD__SERVICES__CONTENT__V1__INFO__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    _cleanup_free_ char *joined = NULL;
    size_t n = 0;

    if (argc < 2)
        return berthctl_usage(ctl, err, "label: missing digest");
    for (int i = 2; i < argc; i++)
        if (berthctl_kvs_add(&kv, argv[i], false, err) < 0) {
            ctl->usage_error = true;
            return -1;
        }
    storage = berth_xcalloc(kv.n ? kv.n : 1, sizeof(*storage));
    labels = berth_xcalloc(kv.n ? kv.n : 1, sizeof(*labels));
    paths = berth_xcalloc(kv.n + 1, sizeof(*paths));
    for (size_t i = 0; i < kv.n; i++) {
        Containerd__Services__Content__V1__Info__LabelsEntry init =
            CONTAINERD__SERVICES__CONTENT__V1__INFO__LABELS_ENTRY__INIT;
        paths[i] = berth_strdup_printf("labels.%s", kv.keys[i]);
        if (!*kv.vals[i])
            continue; /* an empty value removes the label */
        storage[n] = init;
        storage[n].key = kv.keys[i];
        storage[n].value = kv.vals[i];
        labels[n] = &storage[n];
        n++;
    }
    info.digest = argv[1];
    info.n_labels = n;
    info.labels = labels;
    mask.n_paths = kv.n;
    mask.paths = paths;
    req.info = &info;
    req.update_mask = &mask;
    if (berth_client_unary(ctl->client, CT_SVC "Update", &req.base,
                           &containerd__services__content__v1__update_response__descriptor,
                           (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    if (resp->info)
        joined =
            berthctl_str_map_join(resp->info->n_labels, (const void *const *)resp->info->labels);
    fprintf(ctl->out, "%s\n", joined && *joined ? joined : "-");
    return 0;
}

static int content_active(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const char *const header[] = {"REF", "OFFSET", "TOTAL", "STARTED"};
    _cleanup_(statuses_freep) statuses_t *resp = NULL;
    _cleanup_(berthctl_table_freep) struct berthctl_table *t = NULL;
    Containerd__Services__Content__V1__ListStatusesRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__LIST_STATUSES_REQUEST__INIT;
    struct berthctl_json j;

    req.n_filters = (size_t)(argc - 1);
    req.filters = argv + 1;
    if (berth_client_unary(ctl->client, CT_SVC "ListStatuses", &req.base,
                           &containerd__services__content__v1__list_statuses_response__descriptor,
                           (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_init(&j, ctl->out);
        berthctl_json_arr_begin(&j);
        for (size_t i = 0; i < resp->n_statuses; i++)
            berthctl_json_pb(&j, &resp->statuses[i]->base);
        berthctl_json_arr_end(&j);
        berthctl_json_end(&j);
        return 0;
    }
    t = berthctl_table_new(4, header);
    for (size_t i = 0; i < resp->n_statuses; i++) {
        const Containerd__Services__Content__V1__Status *s = resp->statuses[i];
        char off[32], total[32], when[64] = "";
        const char *row[] = {s->ref, off, total, when};

        snprintf(off, sizeof(off), "%" PRId64, s->offset);
        snprintf(total, sizeof(total), "%" PRId64, s->total);
        if (s->started_at)
            berthctl_time_format(s->started_at->seconds, s->started_at->nanos, when, sizeof(when));
        berthctl_table_add(t, row);
    }
    berthctl_table_print(t, ctl->out);
    return 0;
}

static const struct berthctl_verb content_verbs[] = {
    {"ls", "list", content_list},     {"get", NULL, content_get},
    {"ingest", NULL, content_ingest}, {"rm", "remove", content_remove},
    {"label", NULL, content_label},   {"active", NULL, content_active},
};

static int content_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    return berthctl_dispatch(ctl, content_verbs, BERTH_N(content_verbs), argc - 1, argv + 1, err);
}

const struct berthctl_noun berthctl_content_noun = {
    .name = "content",
    .alias = NULL,
    .summary = "manage content blobs and ingests",
    .usage = "usage: berthctl [global options] content COMMAND\n"
             "\n"
             "commands:\n"
             "  ls|list [-q] [FILTER...]     list blobs (-q: digests only; filters: digest,\n"
             "                               labels.<k>, e.g. labels.\"a.b/c\"==v)\n"
             "  get DIGEST                   write a blob's bytes to stdout\n"
             "  ingest REF [--expected-size N] [--expected-digest D] [--label K=V...] < DATA\n"
             "                               store stdin as a blob (resumes a partial ingest of\n"
             "                               REF; reads nothing when the server has the expected\n"
             "                               blob) with labels, and print its digest (--format\n"
             "                               json: also the offset and total first reported)\n"
             "  rm|remove DIGEST...          remove blobs from the namespace\n"
             "  label DIGEST K=V...          set labels (K= removes one)\n"
             "  active [FILTER...]           list unfinished ingests (filter: ref)\n",
    .run = content_run,
};
