/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl namespaces (alias ns): ls, create, rm, label over the containerd Namespaces service,
 * sending what `ctr namespaces` sends (labels.<key> update masks, empty value deletes).
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <getopt.h>
#include <string.h>

#include "api/services/namespaces/v1/namespace.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define NS_SVC "/containerd.services.namespaces.v1.Namespaces/"

typedef Containerd__Services__Namespaces__V1__Namespace ns_t;
typedef Containerd__Services__Namespaces__V1__Namespace__LabelsEntry ns_label_t;
typedef Containerd__Services__Namespaces__V1__ListNamespacesResponse ns_list_resp_t;
typedef Containerd__Services__Namespaces__V1__GetNamespaceResponse ns_get_resp_t;
DEFINE_PB_CLEANUP(ns_list_resp_t, ns_list_resp_freep)
DEFINE_PB_CLEANUP(ns_get_resp_t, ns_get_resp_freep)

/* Label entries borrowing kv's strings; free the arrays with labels_free(). */
static ns_label_t **labels_to_pb(const struct berthctl_kvs *kv, ns_label_t **storage)
{
    ns_label_t **ptrs = berth_xcalloc(kv->n ? kv->n : 1, sizeof(*ptrs));

    *storage = berth_xcalloc(kv->n ? kv->n : 1, sizeof(**storage));
    for (size_t i = 0; i < kv->n; i++) {
        ns_label_t init = CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__LABELS_ENTRY__INIT;
        (*storage)[i] = init;
        (*storage)[i].key = kv->keys[i];
        (*storage)[i].value = kv->vals[i];
        ptrs[i] = &(*storage)[i];
    }
    return ptrs;
}

static char *ns_labels_str(const ns_t *ns)
{
    return berthctl_str_map_join(ns->n_labels, (const void *const *)ns->labels);
}

static void ns_json_labels(struct berthctl_json *j, const ns_t *ns)
{
    berthctl_json_str_map(j, ns->n_labels, (const void *const *)ns->labels);
}

static void ns_print(struct berthctl *ctl, const ns_list_resp_t *resp, bool quiet)
{
    static const char *const header[] = {"NAME", "LABELS"};
    _cleanup_(berthctl_table_freep) struct berthctl_table *t = NULL;
    struct berthctl_json j;

    if (quiet) {
        for (size_t i = 0; i < resp->n_namespaces; i++)
            fprintf(ctl->out, "%s\n", resp->namespaces[i]->name);
        return;
    }
    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_init(&j, ctl->out);
        berthctl_json_arr_begin(&j);
        for (size_t i = 0; i < resp->n_namespaces; i++) {
            berthctl_json_obj_begin(&j);
            berthctl_json_key(&j, "name");
            berthctl_json_str(&j, resp->namespaces[i]->name);
            berthctl_json_key(&j, "labels");
            ns_json_labels(&j, resp->namespaces[i]);
            berthctl_json_obj_end(&j);
        }
        berthctl_json_arr_end(&j);
        berthctl_json_end(&j);
        return;
    }
    t = berthctl_table_new(2, header);
    for (size_t i = 0; i < resp->n_namespaces; i++) {
        _cleanup_free_ char *labels = ns_labels_str(resp->namespaces[i]);
        const char *row[] = {resp->namespaces[i]->name, labels};
        berthctl_table_add(t, row);
    }
    berthctl_table_print(t, ctl->out);
}

static int ns_list(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(ns_list_resp_freep) ns_list_resp_t *resp = NULL;
    Containerd__Services__Namespaces__V1__ListNamespacesRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__LIST_NAMESPACES_REQUEST__INIT;
    bool quiet = false;

    if (berthctl_quiet_opt(ctl, argc, argv, &quiet, err) < 0)
        return -1;
    if (optind < argc)
        return berthctl_usage(ctl, err, "namespaces ls takes no arguments");
    if (berth_client_unary(
            ctl->client, NS_SVC "List", &req.base,
            &containerd__services__namespaces__v1__list_namespaces_response__descriptor,
            (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    ns_print(ctl, resp, quiet);
    return 0;
}

/* Parses "NAME [k=v...]" after the verb; require_eq as berthctl_kv_parse(). */
static int ns_name_labels(struct berthctl *ctl, int argc, char **argv, bool require_eq,
                          struct berthctl_kvs *kv, struct berth_err **err)
{
    if (argc < 2)
        return berthctl_usage(ctl, err, "%s: missing namespace name", argv[0]);
    for (int i = 2; i < argc; i++)
        if (berthctl_kvs_add(kv, argv[i], require_eq, err) < 0) {
            ctl->usage_error = true;
            return -1;
        }
    return 0;
}

static int ns_create(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(berthctl_kvs_clear) struct berthctl_kvs kv = {0};
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    _cleanup_free_ ns_label_t *storage = NULL;
    _cleanup_free_ ns_label_t **labels = NULL;
    Containerd__Services__Namespaces__V1__CreateNamespaceRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__CREATE_NAMESPACE_REQUEST__INIT;
    ns_t ns = CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT;

    if (ns_name_labels(ctl, argc, argv, true, &kv, err) < 0)
        return -1;
    labels = labels_to_pb(&kv, &storage);
    ns.name = argv[1];
    ns.n_labels = kv.n;
    ns.labels = labels;
    req.namespace_ = &ns;
    return berth_client_unary(
        ctl->client, NS_SVC "Create", &req.base,
        &containerd__services__namespaces__v1__create_namespace_response__descriptor, &resp, err);
}

/* With no k=v arguments, label prints the current labels. */
static int ns_label_show(struct berthctl *ctl, const char *name, struct berth_err **err)
{
    _cleanup_(ns_get_resp_freep) ns_get_resp_t *resp = NULL;
    _cleanup_free_ char *s = NULL;
    Containerd__Services__Namespaces__V1__GetNamespaceRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__GET_NAMESPACE_REQUEST__INIT;
    struct berthctl_json j;

    req.name = (char *)name;
    if (berth_client_unary(
            ctl->client, NS_SVC "Get", &req.base,
            &containerd__services__namespaces__v1__get_namespace_response__descriptor,
            (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    if (!resp->namespace_)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "server returned no namespace");
    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_init(&j, ctl->out);
        ns_json_labels(&j, resp->namespace_);
        berthctl_json_end(&j);
        return 0;
    }
    s = ns_labels_str(resp->namespace_);
    if (*s)
        fprintf(ctl->out, "%s\n", s);
    return 0;
}

static int ns_label(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(berthctl_kvs_clear) struct berthctl_kvs kv = {0};
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    _cleanup_free_ ns_label_t *storage = NULL;
    _cleanup_free_ ns_label_t **labels = NULL;
    _cleanup_strv_ char **paths = NULL;
    Containerd__Services__Namespaces__V1__UpdateNamespaceRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__UPDATE_NAMESPACE_REQUEST__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    ns_t ns = CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT;
    size_t n = 0;

    if (ns_name_labels(ctl, argc, argv, false, &kv, err) < 0)
        return -1;
    if (kv.n == 0)
        return ns_label_show(ctl, argv[1], err);
    /* An empty value is sent as an absent map entry: the mask path deletes it. */
    storage = berth_xcalloc(kv.n, sizeof(*storage));
    labels = berth_xcalloc(kv.n, sizeof(*labels));
    paths = berth_xcalloc(kv.n + 1, sizeof(char *));
    for (size_t i = 0; i < kv.n; i++) {
        ns_label_t init = CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__LABELS_ENTRY__INIT;
        paths[i] = berth_strdup_printf("labels.%s", kv.keys[i]);
        if (!*kv.vals[i])
            continue;
        storage[n] = init;
        storage[n].key = kv.keys[i];
        storage[n].value = kv.vals[i];
        labels[n] = &storage[n];
        n++;
    }
    ns.name = argv[1];
    ns.n_labels = n;
    ns.labels = labels;
    mask.n_paths = kv.n;
    mask.paths = paths;
    req.namespace_ = &ns;
    req.update_mask = &mask;
    return berth_client_unary(
        ctl->client, NS_SVC "Update", &req.base,
        &containerd__services__namespaces__v1__update_namespace_response__descriptor, &resp, err);
}

/* Like ctr: a missing namespace is a warning; other failures fail the command at the end. */
static int ns_remove(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    Containerd__Services__Namespaces__V1__DeleteNamespaceRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__DELETE_NAMESPACE_REQUEST__INIT;

    if (argc < 2)
        return berthctl_usage(ctl, err, "%s: missing namespace name", argv[0]);
    for (int i = 1; i < argc; i++) {
        _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
        _cleanup_err_ struct berth_err *e = NULL;

        req.name = argv[i];
        if (berth_client_unary(ctl->client, NS_SVC "Delete", &req.base,
                               &google__protobuf__empty__descriptor, &resp, &e) == 0) {
            fprintf(ctl->out, "%s\n", argv[i]);
            continue;
        }
        if (e->code == BERTH_E_NOT_FOUND) {
            fprintf(stderr, "berthctl: warning: namespace \"%s\" not found\n", argv[i]);
            continue;
        }
        fprintf(stderr, "berthctl: remove namespace \"%s\": %s\n", argv[i], e->msg);
        ctl->exit_code = 1;
    }
    return 0;
}

static const struct berthctl_verb ns_verbs[] = {
    {"ls", "list", ns_list},
    {"create", NULL, ns_create},
    {"rm", "remove", ns_remove},
    {"label", NULL, ns_label},
};

static int ns_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    return berthctl_dispatch(ctl, ns_verbs, BERTH_N(ns_verbs), argc - 1, argv + 1, err);
}

const struct berthctl_noun berthctl_namespaces_noun = {
    .name = "namespaces",
    .alias = "ns",
    .summary = "manage namespaces",
    .usage = "usage: berthctl [global options] namespaces|ns COMMAND\n"
             "\n"
             "commands:\n"
             "  ls|list [-q]                 list namespaces (-q: names only)\n"
             "  create NAME [KEY=VALUE...]   create a namespace with labels\n"
             "  rm|remove NAME...            remove namespaces (must be empty)\n"
             "  label NAME [KEY=VALUE...]    set labels (empty value deletes); none: show\n",
    .run = ns_run,
};
