/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcni's result cache (api.go cacheAdd/getCachedResult): one cniCacheV1 JSON file per
 * attachment, <cache_dir>/results/<network>-<container id>-<ifname>, holding the list config
 * it was added with (base64), the args, the capability args and the final result, so a DEL
 * after a restart or a config change undoes exactly what the ADD did. The same format as
 * containerd's so either can clean up after the other.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "runtime/cni/cni-internal.h"

void cni_cache_entry_free(struct cni_cache_entry *e)
{
    if (!e)
        return;
    free(e->path);
    cni_netlist_free(e->config);
    if (e->result)
        json_decref(e->result);
    free(e->args);
    if (e->caps)
        json_decref(e->caps);
    free(e);
}

char *cni_cache_path(const char *cache_dir, const char *net, const char *id, const char *ifname)
{
    return berth_strdup_printf("%s/results/%s-%s-%s", cache_dir, net, id, ifname);
}

/* "K=V;K=V" as libcni caches it: [["K","V"],...]. */
static json_t *args_json(const char *args)
{
    _cleanup_free_ char *copy = berth_xstrdup(args ? args : "");
    json_t *a = json_array();
    char *save = NULL;

    for (char *kv = strtok_r(copy, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = '\0';
        json_array_append_new(a, json_pack("[s,s]", kv, eq + 1));
    }
    return a;
}

static char *args_string(json_t *a)
{
    char *s = berth_xstrdup("");
    size_t i;
    json_t *kv;

    json_array_foreach(a, i, kv)
    {
        json_t *k = json_array_get(kv, 0), *v = json_array_get(kv, 1);
        char *next;
        if (!json_is_string(k) || !json_is_string(v))
            continue;
        next = berth_strdup_printf("%s%s%s=%s", s, *s ? ";" : "", json_string_value(k),
                                   json_string_value(v));
        free(s);
        s = next;
    }
    return s;
}

int cni_cache_write(const char *cache_dir, const struct cni_netlist *list, const char *id,
                    const char *ifname, const char *args, json_t *caps, json_t *result,
                    struct berth_err **err)
{
    _cleanup_free_ char *dir = berth_strdup_printf("%s/results", cache_dir);
    _cleanup_free_ char *path = cni_cache_path(cache_dir, list->name, id, ifname);
    _cleanup_free_ char *b64 = berth_base64(list->bytes, strlen(list->bytes));
    _cleanup_free_ char *text = NULL;
    _cleanup_json_ json_t *doc = NULL;

    if (berth_mkdir_p(dir, 0755, 0700, err) < 0)
        return berth_err_wrap(err, "write cni cache");
    doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:O}", "kind", "cniCacheV1", "containerId",
                    id, "config", b64, "ifName", ifname, "networkName", list->name, "cniArgs",
                    args_json(args), "capabilityArgs", caps ? json_incref(caps) : json_object(),
                    "result", result ? result : json_null());
    if (!doc)
        abort();
    text = json_dumps(doc, JSON_COMPACT);
    if (berth_write_file_atomic(path, text, strlen(text), 0600, err) < 0)
        return berth_err_wrap(err, "write cni cache");
    return 0;
}

static struct cni_cache_entry *cache_read(const char *path, const char *id, const char *ifname)
{
    _cleanup_json_ json_t *doc = json_load_file(path, 0, NULL);
    _cleanup_(cni_cache_entry_freep) struct cni_cache_entry *e = NULL;
    _cleanup_free_ char *bytes = NULL;
    json_t *cid = json_object_get(doc, "containerId"), *ifn = json_object_get(doc, "ifName");
    json_t *conf = json_object_get(doc, "config"), *res = json_object_get(doc, "result");
    json_t *caps = json_object_get(doc, "capabilityArgs");
    size_t len = 0;

    if (!json_is_string(cid) || strcmp(json_string_value(cid), id) != 0 || !json_is_string(ifn) ||
        strcmp(json_string_value(ifn), ifname) != 0 || !json_is_string(conf) ||
        berth_base64_decode(json_string_value(conf), (unsigned char **)&bytes, &len) < 0)
        return NULL;
    e = berth_xcalloc(1, sizeof(*e));
    if (cni_netlist_parse(bytes, len, true, path, &e->config, NULL) < 0)
        return NULL;
    e->path = berth_xstrdup(path);
    e->args = args_string(json_object_get(doc, "cniArgs"));
    if (json_is_object(res))
        e->result = json_incref(res);
    if (json_is_object(caps))
        e->caps = json_incref(caps);
    return steal_ptr(e);
}

int cni_cache_find(const char *cache_dir, const char *id, const char *ifname,
                   struct cni_cache_entry ***out, struct berth_err **err)
{
    _cleanup_free_ char *dir = berth_strdup_printf("%s/results", cache_dir);
    _cleanup_free_ char *suffix = berth_strdup_printf("-%s-%s", id, ifname);
    struct cni_cache_entry **v = NULL;
    size_t n = 0, cap = 0, sl = strlen(suffix);
    struct dirent *de;
    DIR *d;

    *out = NULL;
    d = opendir(dir);
    if (!d && errno != ENOENT)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "read cni cache \"%s\"", dir);
    while (d && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        _cleanup_free_ char *path = NULL;
        struct cni_cache_entry *e;

        if (len <= sl || strcmp(de->d_name + len - sl, suffix) != 0)
            continue;
        path = berth_strdup_printf("%s/%s", dir, de->d_name);
        e = cache_read(path, id, ifname);
        if (e)
            berth_vec_push(v, n, cap, e);
    }
    if (d)
        closedir(d);
    berth_vec_push(v, n, cap, NULL);
    *out = v;
    return 0;
}
