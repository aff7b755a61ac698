/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CNI for pod sandboxes, CRI-agnostic (what containerd gets from go-cni + libcni): loads the
 * loopback network and the first network config of a directory, runs the plugin chain for ADD
 * and DEL with prevResult chaining and runtimeConfig capabilities, and caches each ADD result
 * with the config it used so DEL works after a restart or a config change. jansson for JSON;
 * plugins are executables found in bin_dir (CNI SPEC 1.0, results 0.3.x/0.4.0/1.0.0).
 */
#ifndef BERTH_RUNTIME_CNI_CNI_H
#define BERTH_RUNTIME_CNI_CNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct berth_cni; /* opaque: loaded configuration; thread-safe (see berth_cni_reload) */

struct berth_cni_opts {
    const char *conf_dir;      /* NULL: /etc/cni/net.d */
    const char *bin_dir;       /* ':'-separated list; NULL: /opt/cni/bin */
    const char *cache_dir;     /* results under <cache_dir>/results; NULL: /var/lib/cni */
    int max_conf_num;          /* networks besides loopback (ifnames eth0, eth1, ...); <= 0: 1 */
    int64_t plugin_timeout_ms; /* per plugin call; <= 0: 60000; the plugin is killed past it */
};

/* Reads the config directory: loopback always, plus the first max_conf_num files of conf_dir
 * (regular files *.conflist, *.conf, *.json in strcmp order; a .conf/.json single plugin is
 * wrapped into a list). A missing or empty directory, or a file that fails to parse (which
 * aborts the load, as in go-cni), is not an error: *out is then not ready and its status
 * message says why. Copies opts. *out owned by the caller (berth_cni_free). */
int berth_cni_load(const struct berth_cni_opts *o, struct berth_cni **out, struct berth_err **err);
/* Reads the config directory again and replaces c's configuration (a failed load leaves c not
 * ready, as containerd's syncer does). Safe while other threads run add/del on c: calls already
 * running keep the configuration they started with. Invalidates the strings returned by the
 * getters below. */
int berth_cni_reload(struct berth_cni *c, struct berth_err **err);
/* True when a network besides loopback is loaded. */
bool berth_cni_ready(const struct berth_cni *c);
/* "OK" when ready, else why not ("no network config found in /etc/cni/net.d", or the file and
 * its parse error). Borrowed: valid until the next berth_cni_reload or berth_cni_free. */
const char *berth_cni_status_message(const struct berth_cni *c);
/* The same as a copy the caller frees (for callers that reload from another thread). */
char *berth_cni_status_message_dup(const struct berth_cni *c);
/* Name of the first network ("" when not ready). Borrowed, like berth_cni_status_message. */
const char *berth_cni_network_name(const struct berth_cni *c);
/* The file the first network came from ("" when not ready). Borrowed, likewise. */
const char *berth_cni_network_file(const struct berth_cni *c);
void berth_cni_free(struct berth_cni *c); /* NULL-safe */

struct berth_cni_port {
    const char *protocol;              /* "tcp" | "udp" | "sctp" (lower case); NULL: tcp */
    int32_t container_port, host_port; /* entries with host_port <= 0 are not passed */
    const char *host_ip;               /* NULL or "": any */
};

struct berth_cni_dns { /* each a NULL-terminated array, NULL for none */
    const char *const *servers, *const *searches, *const *options;
};

/* Everything borrowed. */
struct berth_cni_attach {
    const char *id;         /* container id = sandbox id (CNI_CONTAINERID) */
    const char *netns_path; /* CNI_NETNS; NULL/"" or a missing file: allowed for DEL only */
    const char *ifname;     /* first network's interface; NULL: "eth0" */
    const char *args;       /* CNI_ARGS ("K=V;K=V") for every plugin, loopback too; NULL: none */
    const struct berth_cni_port *ports;
    size_t n_ports;
    const struct berth_cni_dns *dns; /* NULL: no dns capability */
    /* Further capability args as a JSON object text ({"bandwidth":{...}, ...}), or NULL. A
     * plugin gets each one it declares in "capabilities". */
    const char *capabilities_json;
};

struct berth_cni_result { /* owns every field */
    char *ip;             /* first IPv4 (else first IP) of the first network's ifname, no prefix */
    char **extra_ips;     /* the other IPs of that interface, in result order */
    size_t n_extra_ips;
    char *raw_json; /* merged results of every network, go-cni Result shape, for verbose status */
};

/* Attaches the sandbox: loopback (ifname "lo") then each network in order, each plugin of a
 * list with prevResult chaining and runtimeConfig for the capabilities it declares. The final
 * result of each network is cached under cache_dir with the config it used. On failure every
 * network touched is torn down again (DEL of the whole list, best effort) and nothing is
 * cached. FAILED_PRECONDITION "cni plugin not initialized" when not ready; INVALID_ARGUMENT for
 * a bad id/ifname or a missing netns; NOT_FOUND when a plugin binary is missing (naming it);
 * DEADLINE_EXCEEDED when a plugin outlives the timeout; UNAVAILABLE for CNI error 11 (try again
 * later); INTERNAL for any other plugin error ("plugin type=\"bridge\" name=\"net\" failed (add):
 * <msg>") or when the result has no IP on the interface. *out owned by the caller on success
 * (berth_cni_result_clear). Calls for different ids may run concurrently. */
int berth_cni_add(struct berth_cni *c, const struct berth_cni_attach *a,
                  struct berth_cni_result *out, struct berth_err **err);
/* Detaches the sandbox: each network (then loopback), plugins in reverse order. A network whose
 * ADD result is cached is deleted with the cached config, prevResult and args (the loaded
 * config may have changed since); otherwise with the loaded config and no prevResult. The
 * netns may be gone (CNI_NETNS is then empty). Plugin errors saying "not found" are ignored,
 * so repeated DELs succeed. The cache entry goes after a successful DEL. FAILED_PRECONDITION
 * when nothing is cached and no network is loaded; other codes as for add. */
int berth_cni_del(struct berth_cni *c, const struct berth_cni_attach *a, struct berth_err **err);
void berth_cni_result_clear(struct berth_cni_result *r); /* NULL-safe; leaves r zeroed */

#endif
