/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl plugins ls [-d] [FILTER...]: Introspection/Plugins, printed as ctr's TYPE ID
 * PLATFORMS STATUS table (STATUS ok/skip/error from init_err), a detailed listing, or JSON.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <getopt.h>
#include <string.h>

#include "api/services/introspection/v1/introspection.pb-c.h"
#include "lib/status.h"

typedef Containerd__Services__Introspection__V1__Plugin plugin_t;
typedef Containerd__Services__Introspection__V1__PluginsResponse plugins_resp_t;
DEFINE_PB_CLEANUP(plugins_resp_t, plugins_resp_freep)

#define DETAIL_WIDTH 15

static const char *plugin_status(const plugin_t *p)
{
    if (!p->init_err)
        return "ok";
    /* containerd's errdefs.ErrSkipPlugin text, as ctr checks it */
    if (p->init_err->message && strstr(p->init_err->message, "skip plugin"))
        return "skip";
    return "error";
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "linux/amd64,linux/arm64/v8" sorted, or "-" (malloc'd). */
static char *platforms_str(const plugin_t *p)
{
    _cleanup_strv_ char **v = berth_xcalloc(p->n_platforms + 1, sizeof(char *));
    char *buf = NULL;
    size_t size = 0;
    FILE *f;

    if (p->n_platforms == 0)
        return berth_xstrdup("-");
    for (size_t i = 0; i < p->n_platforms; i++) {
        const Containerd__Types__Platform *pl = p->platforms[i];
        v[i] = berth_strdup_printf("%s/%s%s%s", pl->os, pl->architecture, *pl->variant ? "/" : "",
                                   pl->variant);
    }
    qsort(v, p->n_platforms, sizeof(char *), str_cmp);
    f = open_memstream(&buf, &size);
    if (!f)
        abort();
    for (size_t i = 0; i < p->n_platforms; i++)
        fprintf(f, "%s%s", i ? "," : "", v[i]);
    fclose(f);
    return buf;
}

static void print_detailed(FILE *f, const plugin_t *p)
{
    _cleanup_free_ char *plats = platforms_str(p);

    fprintf(f, "%-*s%s\n", DETAIL_WIDTH, "Type:", p->type);
    fprintf(f, "%-*s%s\n", DETAIL_WIDTH, "ID:", p->id);
    if (p->n_requires)
        fprintf(f, "Requires:\n");
    for (size_t i = 0; i < p->n_requires; i++)
        fprintf(f, "%-*s%s\n", DETAIL_WIDTH, "", p->requires[i]);
    if (p->n_platforms)
        fprintf(f, "%-*s%s\n", DETAIL_WIDTH, "Platforms:", plats);
    if (p->n_exports)
        fprintf(f, "Exports:\n");
    for (size_t i = 0; i < p->n_exports; i++)
        fprintf(f, "%-*s%s    %s\n", DETAIL_WIDTH, "", p->exports[i]->key, p->exports[i]->value);
    if (p->n_capabilities) {
        fprintf(f, "%-*s", DETAIL_WIDTH, "Capabilities:");
        for (size_t i = 0; i < p->n_capabilities; i++)
            fprintf(f, "%s%s", i ? "," : "", p->capabilities[i]);
        fputc('\n', f);
    }
    if (p->init_err) {
        fprintf(f, "Error:\n");
        fprintf(f, "%-*sCode:     %s\n", DETAIL_WIDTH, "", berth_grpc_code_name(p->init_err->code));
        fprintf(f, "%-*sMessage:  %s\n", DETAIL_WIDTH, "", p->init_err->message);
    }
}

static void json_strv(struct berthctl_json *j, size_t n, char *const *v)
{
    berthctl_json_arr_begin(j);
    for (size_t i = 0; i < n; i++)
        berthctl_json_str(j, v[i]);
    berthctl_json_arr_end(j);
}

static void json_plugin(struct berthctl_json *j, const plugin_t *p)
{
    berthctl_json_obj_begin(j);
    berthctl_json_key(j, "type");
    berthctl_json_str(j, p->type);
    berthctl_json_key(j, "id");
    berthctl_json_str(j, p->id);
    berthctl_json_key(j, "requires");
    json_strv(j, p->n_requires, p->requires);
    berthctl_json_key(j, "platforms");
    berthctl_json_arr_begin(j);
    for (size_t i = 0; i < p->n_platforms; i++) {
        berthctl_json_obj_begin(j);
        berthctl_json_key(j, "os");
        berthctl_json_str(j, p->platforms[i]->os);
        berthctl_json_key(j, "architecture");
        berthctl_json_str(j, p->platforms[i]->architecture);
        if (*p->platforms[i]->variant) {
            berthctl_json_key(j, "variant");
            berthctl_json_str(j, p->platforms[i]->variant);
        }
        berthctl_json_obj_end(j);
    }
    berthctl_json_arr_end(j);
    berthctl_json_key(j, "exports");
    berthctl_json_str_map(j, p->n_exports, (const void *const *)p->exports);
    berthctl_json_key(j, "capabilities");
    json_strv(j, p->n_capabilities, p->capabilities);
    berthctl_json_key(j, "status");
    berthctl_json_str(j, plugin_status(p));
    if (p->init_err) {
        berthctl_json_key(j, "init_err");
        berthctl_json_obj_begin(j);
        berthctl_json_key(j, "code");
        berthctl_json_str(j, berth_grpc_code_name(p->init_err->code));
        berthctl_json_key(j, "message");
        berthctl_json_str(j, p->init_err->message);
        berthctl_json_obj_end(j);
    }
    berthctl_json_obj_end(j);
}

static void plugins_print(struct berthctl *ctl, const plugins_resp_t *resp, bool detailed)
{
    static const char *const header[] = {"TYPE", "ID", "PLATFORMS", "STATUS"};
    _cleanup_(berthctl_table_freep) struct berthctl_table *t = NULL;
    struct berthctl_json j;

    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_init(&j, ctl->out);
        berthctl_json_arr_begin(&j);
        for (size_t i = 0; i < resp->n_plugins; i++)
            json_plugin(&j, resp->plugins[i]);
        berthctl_json_arr_end(&j);
        berthctl_json_end(&j);
        return;
    }
    if (detailed) {
        for (size_t i = 0; i < resp->n_plugins; i++) {
            if (i)
                fputc('\n', ctl->out);
            print_detailed(ctl->out, resp->plugins[i]);
        }
        return;
    }
    t = berthctl_table_new(BERTH_N(header), header);
    for (size_t i = 0; i < resp->n_plugins; i++) {
        const plugin_t *p = resp->plugins[i];
        _cleanup_free_ char *plats = platforms_str(p);
        const char *row[] = {p->type, p->id, plats, plugin_status(p)};
        berthctl_table_add(t, row);
    }
    berthctl_table_print(t, ctl->out);
}

static int plugins_list(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{"detailed", no_argument, NULL, 'd'}, {0}};
    _cleanup_(plugins_resp_freep) plugins_resp_t *resp = NULL;
    Containerd__Services__Introspection__V1__PluginsRequest req =
        CONTAINERD__SERVICES__INTROSPECTION__V1__PLUGINS_REQUEST__INIT;
    bool detailed = false;
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:d", opts, NULL)) != -1) {
        if (c != 'd')
            return berthctl_bad_option(ctl, c, argv, err);
        detailed = true;
    }
    req.n_filters = (size_t)(argc - optind);
    req.filters = argv + optind;
    if (berth_client_unary(ctl->client,
                           "/containerd.services.introspection.v1.Introspection/Plugins", &req.base,
                           &containerd__services__introspection__v1__plugins_response__descriptor,
                           (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    plugins_print(ctl, resp, detailed);
    return 0;
}

static const struct berthctl_verb plugin_verbs[] = {
    {"ls", "list", plugins_list},
};

static int plugins_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    return berthctl_dispatch(ctl, plugin_verbs, BERTH_N(plugin_verbs), argc - 1, argv + 1, err);
}

const struct berthctl_noun berthctl_plugins_noun = {
    .name = "plugins",
    .alias = "plugin",
    .summary = "list the server's plugins",
    .usage = "usage: berthctl [global options] plugins ls|list [-d] [FILTER...]\n"
             "  -d, --detailed   print every field of each plugin\n",
    .run = plugins_run,
};
