/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl leases: ls, create, rm over the containerd Leases service, sending what `ctr leases`
 * sends (an expiring lease carries containerd.io/gc.expire = now + duration, RFC 3339 UTC).
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <getopt.h>
#include <string.h>

#include "api/services/leases/v1/leases.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "lib/rfc3339.h"

#define L_SVC              "/containerd.services.leases.v1.Leases/"
#define LABEL_GC_EXPIRE    "containerd.io/gc.expire"
#define DEFAULT_EXPIRES_MS (24LL * 3600 * 1000)

typedef Containerd__Services__Leases__V1__Lease lease_t;
typedef Containerd__Services__Leases__V1__CreateRequest__LabelsEntry lease_label_t;
typedef Containerd__Services__Leases__V1__ListResponse list_resp_t;
typedef Containerd__Services__Leases__V1__CreateResponse create_resp_t;
DEFINE_PB_CLEANUP(list_resp_t, list_resp_freep)
DEFINE_PB_CLEANUP(create_resp_t, create_resp_freep)

/* ctr prints CREATED AT with whole seconds (time.RFC3339); we print it in UTC. */
static void created_at(const lease_t *l, char buf[BERTH_RFC3339_MAX])
{
    berth_rfc3339_format_ts(l->created_at ? l->created_at->seconds : -62135596800LL, 0, buf);
}

static void json_lease(struct berthctl_json *j, const lease_t *l)
{
    char buf[64];

    berthctl_json_obj_begin(j);
    berthctl_json_key(j, "id");
    berthctl_json_str(j, l->id);
    berthctl_json_key(j, "created_at");
    berthctl_time_format(l->created_at ? l->created_at->seconds : -62135596800LL,
                         l->created_at ? l->created_at->nanos : 0, buf, sizeof(buf));
    berthctl_json_str(j, buf);
    berthctl_json_key(j, "labels");
    berthctl_json_str_map(j, l->n_labels, (const void *const *)l->labels);
    berthctl_json_obj_end(j);
}

static void leases_print(struct berthctl *ctl, const list_resp_t *resp, bool quiet)
{
    static const char *const header[] = {"ID", "CREATED AT", "LABELS"};
    _cleanup_(berthctl_table_freep) struct berthctl_table *t = NULL;
    struct berthctl_json j;

    if (quiet) {
        for (size_t i = 0; i < resp->n_leases; i++)
            fprintf(ctl->out, "%s\n", resp->leases[i]->id);
        return;
    }
    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_init(&j, ctl->out);
        berthctl_json_arr_begin(&j);
        for (size_t i = 0; i < resp->n_leases; i++)
            json_lease(&j, resp->leases[i]);
        berthctl_json_arr_end(&j);
        berthctl_json_end(&j);
        return;
    }
    t = berthctl_table_new(3, header);
    for (size_t i = 0; i < resp->n_leases; i++) {
        const lease_t *l = resp->leases[i];
        _cleanup_free_ char *labels =
            berthctl_str_map_join(l->n_labels, (const void *const *)l->labels);
        char when[BERTH_RFC3339_MAX];
        const char *row[] = {l->id, when, *labels ? labels : "-"};

        created_at(l, when);
        berthctl_table_add(t, row);
    }
    berthctl_table_print(t, ctl->out);
}

static int leases_list(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(list_resp_freep) list_resp_t *resp = NULL;
    Containerd__Services__Leases__V1__ListRequest req =
        CONTAINERD__SERVICES__LEASES__V1__LIST_REQUEST__INIT;
    bool quiet = false;

    if (berthctl_quiet_opt(ctl, argc, argv, &quiet, err) < 0)
        return -1;
    req.n_filters = (size_t)(argc - optind);
    req.filters = argv + optind;
    if (berth_client_unary(ctl->client, L_SVC "List", &req.base,
                           &containerd__services__leases__v1__list_response__descriptor,
                           (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    leases_print(ctl, resp, quiet);
    return 0;
}

/* Adds containerd.io/gc.expire = now + ms (whole seconds, UTC, as ctr writes it) to kv. */
static int add_expiry(struct berthctl_kvs *kv, int64_t ms, struct berth_err **err)
{
    char when[BERTH_RFC3339_MAX];
    _cleanup_free_ char *arg = NULL;

    berth_rfc3339_format_ts(berth_now_ns() / 1000000000LL + ms / 1000, 0, when);
    arg = berth_strdup_printf(LABEL_GC_EXPIRE "=%s", when);
    return berthctl_kvs_add(kv, arg, true, err);
}

static int leases_create(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    enum { OPT_ID = 256 };
    static const struct option opts[] = {
        {"id", required_argument, NULL, OPT_ID},
        {"expires", required_argument, NULL, 'x'},
        {"label", required_argument, NULL, 'l'},
        {0},
    };
    _cleanup_(berthctl_kvs_clear) struct berthctl_kvs kv = {0};
    _cleanup_(create_resp_freep) create_resp_t *resp = NULL;
    _cleanup_free_ lease_label_t *storage = NULL;
    _cleanup_free_ lease_label_t **labels = NULL;
    Containerd__Services__Leases__V1__CreateRequest req =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
    int64_t expires_ms = DEFAULT_EXPIRES_MS;
    const char *id = "";
    struct berthctl_json j;
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:x:l:", opts, NULL)) != -1) {
        switch (c) {
        case OPT_ID:
            id = optarg;
            break;
        case 'x':
            if (berthctl_duration_parse(optarg, &expires_ms, err) < 0) {
                ctl->usage_error = true;
                return -1;
            }
            break;
        case 'l':
            if (berthctl_kvs_add(&kv, optarg, true, err) < 0) {
                ctl->usage_error = true;
                return -1;
            }
            break;
        default:
            return berthctl_bad_option(ctl, c, argv, err);
        }
    }
    /* Labels may also be given as operands, like ctr's <label>=<value> arguments. */
    for (int i = optind; i < argc; i++)
        if (berthctl_kvs_add(&kv, argv[i], true, err) < 0) {
            ctl->usage_error = true;
            return -1;
        }
    if (expires_ms > 0 && add_expiry(&kv, expires_ms, err) < 0)
        return -1;
    storage = berth_xcalloc(kv.n ? kv.n : 1, sizeof(*storage));
    labels = berth_xcalloc(kv.n ? kv.n : 1, sizeof(*labels));
    for (size_t i = 0; i < kv.n; i++) {
        lease_label_t init = CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__LABELS_ENTRY__INIT;
        storage[i] = init;
        storage[i].key = kv.keys[i];
        storage[i].value = kv.vals[i];
        labels[i] = &storage[i];
    }
    /* An empty id lets the server generate one (both berthd and containerd do). */
    req.id = (char *)id;
    req.n_labels = kv.n;
    req.labels = labels;
    if (berth_client_unary(ctl->client, L_SVC "Create", &req.base,
                           &containerd__services__leases__v1__create_response__descriptor,
                           (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    if (!resp->lease)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "server returned no lease");
    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_init(&j, ctl->out);
        json_lease(&j, resp->lease);
        berthctl_json_end(&j);
    } else {
        fprintf(ctl->out, "%s\n", resp->lease->id);
    }
    return 0;
}

/* Like ctr: each failure is reported and fails the command at the end (NotFound included). */
static int leases_remove(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{"sync", no_argument, NULL, 's'}, {0}};
    Containerd__Services__Leases__V1__DeleteRequest req =
        CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        if (c != 's')
            return berthctl_bad_option(ctl, c, argv, err);
        req.sync = true;
    }
    if (optind >= argc)
        return berthctl_usage(ctl, err, "%s: missing lease id", argv[0]);
    for (int i = optind; i < argc; i++) {
        _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
        _cleanup_err_ struct berth_err *e = NULL;

        req.id = argv[i];
        if (berth_client_unary(ctl->client, L_SVC "Delete", &req.base,
                               &google__protobuf__empty__descriptor, &resp, &e) == 0) {
            fprintf(ctl->out, "%s\n", argv[i]);
            continue;
        }
        fprintf(stderr, "berthctl: remove lease \"%s\": %s\n", argv[i], e->msg);
        ctl->exit_code = 1;
    }
    return 0;
}

static const struct berthctl_verb leases_verbs[] = {
    {"ls", "list", leases_list},
    {"create", NULL, leases_create},
    {"rm", "remove", leases_remove},
};

static int leases_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    return berthctl_dispatch(ctl, leases_verbs, BERTH_N(leases_verbs), argc - 1, argv + 1, err);
}

const struct berthctl_noun berthctl_leases_noun = {
    .name = "leases",
    .alias = NULL,
    .summary = "manage leases (GC roots)",
    .usage =
        "usage: berthctl [global options] leases COMMAND\n"
        "\n"
        "commands:\n"
        "  ls|list [-q] [FILTER...]     list leases (-q: ids only; filters: id, labels.<k>)\n"
        "  create [--id ID] [-x|--expires DUR] [-l|--label K=V]... [K=V...]\n"
        "                               create a lease and print its id; DUR defaults to\n"
        "                               24h, 0 = never expires (sets containerd.io/gc.expire)\n"
        "  rm|remove [--sync] ID...     remove leases\n",
    .run = leases_run,
};
