/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network configuration lists: parsing (libcni conf.go), the config directory scan (go-cni
 * loadFromConfDir) and the stdin each plugin of a list gets (libcni buildOneConfig and
 * injectRuntimeConfig).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/fs.h"
#include "runtime/cni/cni-internal.h"

#define CNI_CONF_MAX_SIZE (1 << 20) /* a network config is a few hundred bytes */

void cni_netlist_free(struct cni_netlist *n)
{
    if (!n)
        return;
    free(n->name);
    free(n->cni_version);
    free(n->bytes);
    if (n->list)
        json_decref(n->list);
    free(n->source);
    free(n);
}

static int check_plugin(json_t *p, size_t idx, struct berth_err **err)
{
    json_t *type;

    if (!json_is_object(p))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "plugin %zu: not an object", idx);
    type = json_object_get(p, "type");
    if (!json_is_string(type) || !*json_string_value(type))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "plugin %zu: missing 'type'", idx);
    return 0;
}

int cni_netlist_parse(const char *data, size_t len, bool is_list, const char *source,
                      struct cni_netlist **out, struct berth_err **err)
{
    _cleanup_json_ json_t *doc = NULL;
    _cleanup_(cni_netlist_freep) struct cni_netlist *n = NULL;
    json_error_t jerr;
    json_t *name, *version, *plugins;

    *out = NULL;
    doc = json_loadb(data, len, 0, &jerr);
    if (!doc)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                             jerr.text);
    if (!json_is_object(doc))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "not a JSON object");
    name = json_object_get(doc, "name");
    version = json_object_get(doc, "cniVersion");
    if (name && !json_is_string(name))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid 'name': not a string");
    if (version && !json_is_string(version))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "invalid 'cniVersion': not a string");

    n = berth_xcalloc(1, sizeof(*n));
    n->name = berth_xstrdup(name ? json_string_value(name) : "");
    n->cni_version = berth_xstrdup(version ? json_string_value(version) : "");
    n->source = berth_xstrdup(source ? source : "");
    if (is_list) {
        if (!*n->name)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "missing 'name'");
        plugins = json_object_get(doc, "plugins");
        if (!plugins)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "missing 'plugins'");
        if (!json_is_array(plugins))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "invalid 'plugins': not an array");
        if (json_array_size(plugins) == 0)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "no plugins in list");
        for (size_t i = 0; i < json_array_size(plugins); i++)
            if (check_plugin(json_array_get(plugins, i), i, err) < 0)
                return -1;
        n->list = steal_ptr(doc);
        n->bytes = berth_xstrndup(data, len);
    } else {
        /* libcni ConfListFromConf: a list of one with the plugin's own name and version. */
        json_t *type = json_object_get(doc, "type");
        if (!json_is_string(type) || !*json_string_value(type))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "missing 'type'");
        n->list = json_pack("{s:s, s:s, s:[O]}", "cniVersion", n->cni_version, "name", n->name,
                            "plugins", doc);
        if (!n->list)
            abort();
        n->bytes = json_dumps(n->list, JSON_COMPACT);
        if (!n->bytes)
            abort();
    }
    *out = steal_ptr(n);
    return 0;
}

static bool has_conf_suffix(const char *name, bool *is_list)
{
    size_t len = strlen(name);
    static const char *const sfx[] = {".conflist", ".conf", ".json"};

    for (size_t i = 0; i < BERTH_N(sfx); i++) {
        size_t l = strlen(sfx[i]);
        if (len > l && strcmp(name + len - l, sfx[i]) == 0) {
            *is_list = i == 0;
            return true;
        }
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cni_conf_dir_load(const char *dir, int max, struct cni_netlist ***out, size_t *n_out,
                      struct berth_err **err)
{
    _cleanup_strv_ char **names = NULL;
    struct cni_netlist **nets = NULL;
    size_t n_names = 0, cap = 0, n_nets = 0;
    DIR *d;
    struct dirent *de;

    *out = NULL;
    *n_out = 0;
    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            goto done;
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, errno, "read config dir \"%s\"", dir);
    }
    while ((de = readdir(d))) {
        bool is_list;
        struct stat st;
        _cleanup_free_ char *full = NULL;

        if (de->d_name[0] == '.' || !has_conf_suffix(de->d_name, &is_list))
            continue;
        /* Like libcni ConfFiles: only directories are skipped (a symlink is read through). */
        full = berth_strdup_printf("%s/%s", dir, de->d_name);
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
            continue;
        berth_vec_push(names, n_names, cap, berth_xstrdup(de->d_name));
    }
    closedir(d);
    berth_vec_push(names, n_names, cap, NULL);
    n_names--;
    qsort(names, n_names, sizeof(*names), cmp_str);

    for (size_t i = 0; i < n_names && (int)n_nets < max; i++) {
        _cleanup_free_ char *full = berth_strdup_printf("%s/%s", dir, names[i]);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        bool is_list = false;
        struct cni_netlist *n = NULL;

        has_conf_suffix(names[i], &is_list);
        if (berth_read_file(full, CNI_CONF_MAX_SIZE, &data, &len, err) < 0)
            (*err)->code = BERTH_E_INVALID_ARGUMENT; /* a file we cannot take: a bad config */
        if (!data || cni_netlist_parse(data, len, is_list, full, &n, err) < 0) {
            for (size_t j = 0; j < n_nets; j++)
                cni_netlist_free(nets[j]);
            free(nets);
            return berth_err_wrap(err, "load \"%s\"", full);
        }
        nets = berth_xrealloc(nets, (n_nets + 2) * sizeof(*nets));
        nets[n_nets++] = n;
        nets[n_nets] = NULL;
    }
done:
    if (!nets)
        nets = berth_xcalloc(1, sizeof(*nets));
    *out = nets;
    *n_out = n_nets;
    return 0;
}

static void version_parts(const char *v, long p[3])
{
    char *end;

    p[0] = 0;
    p[1] = 1;
    p[2] = 0;
    if (!v || !*v)
        return;
    for (int i = 0; i < 3; i++) {
        p[i] = strtol(v, &end, 10);
        if (*end != '.') {
            for (int j = i + 1; j < 3; j++)
                p[j] = 0;
            return;
        }
        v = end + 1;
    }
}

int cni_version_cmp(const char *a, const char *b)
{
    long pa[3], pb[3];

    version_parts(a, pa);
    version_parts(b, pb);
    for (int i = 0; i < 3; i++)
        if (pa[i] != pb[i])
            return pa[i] < pb[i] ? -1 : 1;
    return 0;
}

char *cni_plugin_conf(const struct cni_netlist *list, size_t idx, json_t *prev_result, json_t *caps)
{
    _cleanup_json_ json_t *p =
        json_deep_copy(json_array_get(json_object_get(list->list, "plugins"), idx));
    json_t *declared, *val;
    _cleanup_json_ json_t *rc = json_object();
    const char *key;
    char *s;

    if (!p || !rc)
        abort();
    json_object_set_new(p, "name", json_string(list->name));
    if (*list->cni_version)
        json_object_set_new(p, "cniVersion", json_string(list->cni_version));
    if (prev_result)
        json_object_set(p, "prevResult", prev_result);
    declared = json_object_get(p, "capabilities");
    if (json_is_object(declared) && caps) {
        json_object_foreach(declared, key, val)
        {
            json_t *arg = json_object_get(caps, key);
            if (json_is_true(val) && arg)
                json_object_set(rc, key, arg);
        }
    }
    if (json_object_size(rc) > 0)
        json_object_set(p, "runtimeConfig", rc);
    s = json_dumps(p, JSON_COMPACT);
    if (!s)
        abort();
    return s;
}

static json_t *strv_json(const char *const *v)
{
    json_t *a = json_array();

    for (; v && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

int cni_caps_build(const struct berth_cni_attach *a, json_t **out, struct berth_err **err)
{
    _cleanup_json_ json_t *caps = json_object();
    _cleanup_json_ json_t *ports = json_array();
    _cleanup_json_ json_t *extra = NULL;

    *out = NULL;
    for (size_t i = 0; i < a->n_ports; i++) {
        const struct berth_cni_port *p = &a->ports[i];
        json_t *m;

        /* containerd passes only mappings with a host port (toCNIPortMappings). */
        if (p->host_port <= 0)
            continue;
        m = json_pack("{s:i, s:i, s:s}", "hostPort", (int)p->host_port, "containerPort",
                      (int)p->container_port, "protocol", p->protocol ? p->protocol : "tcp");
        if (p->host_ip && *p->host_ip)
            json_object_set_new(m, "hostIP", json_string(p->host_ip));
        json_array_append_new(ports, m);
    }
    if (json_array_size(ports) > 0)
        json_object_set(caps, "portMappings", ports);
    if (a->dns)
        json_object_set_new(caps, "dns",
                            json_pack("{s:o, s:o, s:o}", "servers", strv_json(a->dns->servers),
                                      "searches", strv_json(a->dns->searches), "options",
                                      strv_json(a->dns->options)));
    if (a->capabilities_json && *a->capabilities_json) {
        json_error_t jerr;
        extra = json_loads(a->capabilities_json, 0, &jerr);
        if (!json_is_object(extra))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "capability args: not a JSON object");
        json_object_update(caps, extra);
    }
    *out = steal_ptr(caps);
    return 0;
}
