/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private pieces of berth_cni, one file each: conf.c (network lists: parsing, the directory
 * scan, each plugin's stdin), exec.c (running a plugin), result.c (results and plugin errors),
 * cache.c (libcni's result cache). Exposed here so unit tests can reach them without plugins.
 */
#ifndef BERTH_RUNTIME_CNI_CNI_INTERNAL_H
#define BERTH_RUNTIME_CNI_CNI_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/util.h"
#include "runtime/cni/cni.h"

#define CNI_DEFAULT_CONF_DIR  "/etc/cni/net.d"
#define CNI_DEFAULT_BIN_DIR   "/opt/cni/bin"
#define CNI_DEFAULT_CACHE_DIR "/var/lib/cni"
#define CNI_LOOPBACK_CONF                                                                          \
    "{\"cniVersion\":\"0.3.1\",\"name\":\"cni-loopback\",\"plugins\":[{\"type\":\"loopback\"}]}"

static inline void cni_json_decrefp(json_t **j)
{
    if (*j)
        json_decref(*j);
}
#define _cleanup_json_ _cleanup_(cni_json_decrefp)

/* One network configuration list (libcni NetworkConfigList). Owns everything. */
struct cni_netlist {
    char *name;
    char *cni_version; /* "" when the list has none */
    char *bytes;       /* the list as JSON text: what the cache stores */
    json_t *list;      /* parsed list; plugins is a non-empty array of objects with "type" */
    char *source;      /* file it came from, "" for built-ins */
};
void cni_netlist_free(struct cni_netlist *n);
DEFINE_CLEANUP(struct cni_netlist *, cni_netlist_free)

/* Parses a list (is_list) or a single plugin config that gets wrapped into one, as libcni's
 * ConfListFromBytes / ConfFromBytes + ConfListFromConf do. INVALID_ARGUMENT describing the
 * problem (bad JSON with line and column, no name, no type, no plugins). */
int cni_netlist_parse(const char *data, size_t len, bool is_list, const char *source,
                      struct cni_netlist **out, struct berth_err **err);

/* Loads up to max networks from dir in go-cni's order. *out is a NULL-terminated array (owned).
 * When nothing is found: 0 with *n_out 0. A file that fails: INVALID_ARGUMENT naming it. */
int cni_conf_dir_load(const char *dir, int max, struct cni_netlist ***out, size_t *n_out,
                      struct berth_err **err);

/* Compares CNI versions ("0.3.1" < "0.4.0" < "1.0.0"; "" counts as "0.1.0"). */
int cni_version_cmp(const char *a, const char *b);

/* The stdin of plugin idx of list (libcni buildOneConfig + injectRuntimeConfig): the plugin
 * object with the list's name and cniVersion, prevResult when non-NULL, and runtimeConfig with
 * each capability of caps (borrowed JSON object, may be NULL) the plugin declares true.
 * Returns a new string. */
char *cni_plugin_conf(const struct cni_netlist *list, size_t idx, json_t *prev_result,
                      json_t *caps);

/* The capability args of an attach as a JSON object ({"portMappings":[...],"dns":{...}} plus
 * capabilities_json's members). INVALID_ARGUMENT when capabilities_json is not an object. */
int cni_caps_build(const struct berth_cni_attach *a, json_t **out, struct berth_err **err);

/* One plugin call. */
struct cni_exec {
    const char *command; /* ADD | DEL | CHECK | VERSION */
    const char *container_id, *netns, *ifname, *args;
    const char *bin_dir; /* ':'-separated; also CNI_PATH */
    int64_t timeout_ms;
};
/* Finds `type` in bin_dir. NOT_FOUND `failed to find plugin "x" in path [a b]`. *out owned. */
int cni_plugin_find(const char *bin_dir, const char *type, char **out, struct berth_err **err);
/* Runs plugin `type` with the CNI environment and conf on stdin. On exit 0: *out is its parsed
 * stdout (NULL when it printed nothing, as DEL may). On failure: the plugin's error as
 * cni_plugin_error maps it, or NOT_FOUND / DEADLINE_EXCEEDED / INTERNAL for exec problems. The
 * message is not prefixed with the plugin's name (callers add it). */
int cni_exec_plugin(const struct cni_exec *x, const char *type, const char *conf, json_t **out,
                    struct berth_err **err);
/* Error for a failed plugin (libcni invoke): stdout's CNI error object {code,msg,details}
 * gives "msg; details"; else stderr's text; else "netplugin failed with no error message".
 * Code 11 maps to UNAVAILABLE, everything else to INTERNAL. Always returns -1. */
int cni_plugin_error(const char *out, size_t out_len, const char *errtxt, size_t err_len,
                     int status, struct berth_err **err);

/* IPs ("a.b.c.d" without prefix) a result gives ifname, containerd's way: the ips whose
 * "interface" index names ifname, plus those without an index when ifname is the default
 * one (is_default); 0.1/0.2 results' ip4/ip6. *ips is a NULL-terminated vector (owned). */
int cni_result_ips(json_t *result, const char *ifname, bool is_default, char ***ips, size_t *n_out,
                   struct berth_err **err);
/* containerd's selectPodIPs with ip_pref "": the first IPv4 is the pod IP, the others extras. */
void cni_ips_select(char **ips, size_t n, struct berth_cni_result *out);
/* Adds one network's result (attached as ifname, which gets the IPs without an interface
 * index) to the go-cni Result shape in merged (an object, empty at first):
 * {"Interfaces":{name:{"IPConfigs":[{"IP","Gateway"}],"Mac","Sandbox"}},"DNS":[],"Routes":[]}. */
void cni_result_merge(json_t *merged, json_t *result, const char *ifname);

/* libcni's cache (cniCacheV1 under <cache_dir>/results/<net>-<id>-<ifname>). */
struct cni_cache_entry {
    char *path;                 /* file */
    struct cni_netlist *config; /* decoded from the cached config bytes */
    json_t *result;             /* may be NULL */
    char *args;                 /* CNI_ARGS rebuilt from cniArgs, "" when none */
    json_t *caps;               /* capabilityArgs object, may be NULL */
};
void cni_cache_entry_free(struct cni_cache_entry *e);
DEFINE_CLEANUP(struct cni_cache_entry *, cni_cache_entry_free)
char *cni_cache_path(const char *cache_dir, const char *net, const char *id, const char *ifname);
/* Writes atomically (dir 0700, file 0600). INTERNAL/RESOURCE_EXHAUSTED on I/O errors. */
int cni_cache_write(const char *cache_dir, const struct cni_netlist *list, const char *id,
                    const char *ifname, const char *args, json_t *caps, json_t *result,
                    struct berth_err **err);
/* Every entry cached for (id, ifname), whatever the network name. *out NULL-terminated, owned;
 * entries that fail to parse are skipped (nothing can be done with them). */
int cni_cache_find(const char *cache_dir, const char *id, const char *ifname,
                   struct cni_cache_entry ***out, struct berth_err **err);

#endif
