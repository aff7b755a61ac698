/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plugin results and errors: which IPs a result gives an interface (go-cni
 * GetCNIResultFromResults, containerd selectPodIPs), the merged go-cni Result kept for verbose
 * status, and libcni's reading of a failed plugin's output.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/cni/cni-internal.h"

#define CNI_ERR_TRY_AGAIN_LATER 11 /* pkg/types ErrTryAgainLater */

static char *strip_prefix(const char *cidr)
{
    const char *slash = strchr(cidr, '/');
    return slash ? berth_xstrndup(cidr, (size_t)(slash - cidr)) : berth_xstrdup(cidr);
}

/* The interface an ips[] entry belongs to: the named one its index points at, else the
 * default interface (go-cni puts index-less IPs on <prefix>0). */
static const char *ip_ifname(json_t *result, json_t *ip, const char *dflt)
{
    json_t *idx = json_object_get(ip, "interface");
    json_t *ifaces = json_object_get(result, "interfaces");

    if (json_is_integer(idx) && json_integer_value(idx) >= 0 &&
        (size_t)json_integer_value(idx) < json_array_size(ifaces)) {
        json_t *name =
            json_object_get(json_array_get(ifaces, (size_t)json_integer_value(idx)), "name");
        if (json_is_string(name))
            return json_string_value(name);
    }
    return dflt;
}

int cni_result_ips(json_t *result, const char *ifname, bool is_default, char ***ips, size_t *n_out,
                   struct berth_err **err)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    json_t *list, *ip;
    size_t i;

    *ips = NULL;
    *n_out = 0;
    if (!json_is_object(result))
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "result is not a JSON object");
    list = json_object_get(result, "ips");
    if (list && !json_is_array(list))
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "result 'ips' is not an array");
    json_array_foreach(list, i, ip)
    {
        json_t *addr = json_object_get(ip, "address");
        const char *name = ip_ifname(result, ip, is_default ? ifname : NULL);
        if (!json_is_string(addr) || !name || strcmp(name, ifname) != 0)
            continue;
        berth_vec_push(v, n, cap, strip_prefix(json_string_value(addr)));
    }
    /* 0.1.0/0.2.0 results: {"ip4":{"ip":"10.1.0.2/16"},"ip6":{...}}, for the attached
     * interface. */
    if (!list) {
        static const char *const fam[] = {"ip4", "ip6"};
        for (size_t f = 0; f < BERTH_N(fam); f++) {
            json_t *addr = json_object_get(json_object_get(result, fam[f]), "ip");
            if (json_is_string(addr))
                berth_vec_push(v, n, cap, strip_prefix(json_string_value(addr)));
        }
    }
    berth_vec_push(v, n, cap, NULL);
    *ips = v;
    *n_out = n - 1;
    return 0;
}

void cni_ips_select(char **ips, size_t n, struct berth_cni_result *out)
{
    size_t pick = 0;

    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!strchr(ips[i], ':')) {
            pick = i;
            break;
        }
    }
    out->ip = berth_xstrdup(ips[pick]);
    out->n_extra_ips = n - 1;
    out->extra_ips = berth_xcalloc(n, sizeof(char *));
    for (size_t i = 0, k = 0; i < n; i++)
        if (i != pick)
            out->extra_ips[k++] = berth_xstrdup(ips[i]);
}

static json_t *iface_entry(json_t *ifaces, const char *name)
{
    json_t *e = json_object_get(ifaces, name);

    if (!e) {
        e = json_pack("{s:[], s:s, s:s}", "IPConfigs", "Mac", "", "Sandbox", "");
        json_object_set_new(ifaces, name, e);
    }
    return e;
}

void cni_result_merge(json_t *merged, json_t *result, const char *ifname)
{
    json_t *ifaces = json_object_get(merged, "Interfaces");
    json_t *v, *list;
    size_t i;

    if (!ifaces) {
        json_object_set_new(merged, "Interfaces", json_object());
        json_object_set_new(merged, "DNS", json_array());
        json_object_set_new(merged, "Routes", json_array());
        ifaces = json_object_get(merged, "Interfaces");
    }
    if (!json_is_object(result))
        return;
    json_array_foreach(json_object_get(result, "interfaces"), i, v)
    {
        json_t *name = json_object_get(v, "name");
        json_t *e;
        if (!json_is_string(name))
            continue;
        e = iface_entry(ifaces, json_string_value(name));
        if (json_is_string(json_object_get(v, "mac")))
            json_object_set(e, "Mac", json_object_get(v, "mac"));
        if (json_is_string(json_object_get(v, "sandbox")))
            json_object_set(e, "Sandbox", json_object_get(v, "sandbox"));
    }
    list = json_object_get(result, "ips");
    json_array_foreach(list, i, v)
    {
        const char *name = ip_ifname(result, v, ifname);
        json_t *addr = json_object_get(v, "address"), *gw = json_object_get(v, "gateway");
        char *ip;
        if (!json_is_string(addr))
            continue;
        ip = strip_prefix(json_string_value(addr));
        json_array_append_new(json_object_get(iface_entry(ifaces, name), "IPConfigs"),
                              json_pack("{s:s, s:s}", "IP", ip, "Gateway",
                                        json_is_string(gw) ? json_string_value(gw) : ""));
        free(ip);
    }
    if (json_is_object(json_object_get(result, "dns")))
        json_array_append(json_object_get(merged, "DNS"), json_object_get(result, "dns"));
    json_array_foreach(json_object_get(result, "routes"), i, v)
        json_array_append(json_object_get(merged, "Routes"), v);
}

static char *trimmed(const char *s, size_t len)
{
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        len--;
    return berth_xstrndup(s, len);
}

int cni_plugin_error(const char *out, size_t out_len, const char *errtxt, size_t err_len,
                     int status, struct berth_err **err)
{
    _cleanup_json_ json_t *doc = NULL;
    _cleanup_free_ char *text = NULL;
    json_t *code, *msg, *details;

    if (out && out_len > 0)
        doc = json_loadb(out, out_len, 0, NULL);
    code = json_object_get(doc, "code");
    msg = json_object_get(doc, "msg");
    details = json_object_get(doc, "details");
    if (json_is_string(msg)) {
        enum berth_errc c =
            json_is_integer(code) && json_integer_value(code) == CNI_ERR_TRY_AGAIN_LATER
                ? BERTH_E_UNAVAILABLE
                : BERTH_E_INTERNAL;
        if (json_is_string(details) && *json_string_value(details))
            return berth_err_set(err, c, 0, "%s; %s", json_string_value(msg),
                                 json_string_value(details));
        return berth_err_set(err, c, 0, "%s", json_string_value(msg));
    }
    if (errtxt && err_len > 0)
        text = trimmed(errtxt, err_len);
    else if (out && out_len > 0)
        text = trimmed(out, out_len);
    if (text && *text)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "netplugin failed: \"%s\"", text);
    return berth_err_set(err, BERTH_E_INTERNAL, 0,
                         "netplugin failed with no error message: exit status %d", status);
}
