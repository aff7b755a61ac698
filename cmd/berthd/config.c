/* SPDX-License-Identifier: Apache-2.0 */
/* berthd configuration (see config.h). */
#include "cmd/berthd/config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/ident.h"
#include "lib/log.h"
#include "lib/toml.h"
#include "lib/util.h"
#include "services/metrics/metrics.h" /* the [metrics] address syntax */

enum key_type { KEY_STR, KEY_INT, KEY_FLT, KEY_BOOL };

struct key {
    const char *section; /* NULL: top level */
    const char *name;
    enum key_type type;
    size_t offset;
    const char *def_str;
    int64_t def_int, min, max;
    const char *help;
    double def_flt, flo, fhi; /* KEY_FLT */
};

#define STR(sec, name, field, def, help)                                                           \
    {                                                                                              \
        sec, name, KEY_STR, offsetof(struct berthd_config, field), def, 0, 0, 0, help, 0, 0, 0     \
    }
#define INT(sec, name, field, def, lo, hi, help)                                                   \
    {                                                                                              \
        sec, name, KEY_INT, offsetof(struct berthd_config, field), NULL, def, lo, hi, help, 0, 0,  \
            0                                                                                      \
    }

#define FLT(sec, nm, field, def, lo, hi, hlp)                                                      \
    {                                                                                              \
        .section = sec, .name = nm, .type = KEY_FLT,                                               \
        .offset = offsetof(struct berthd_config, field), .def_flt = def, .flo = lo, .fhi = hi,     \
        .help = hlp                                                                                \
    }

#define BOOL(sec, nm, field, def, hlp)                                                             \
    {                                                                                              \
        .section = sec, .name = nm, .type = KEY_BOOL,                                              \
        .offset = offsetof(struct berthd_config, field), .def_int = def, .help = hlp               \
    }

static const struct key keys[] = {
    INT(NULL, "version", version, 1, 1, 1, "config file format version"),
    STR(NULL, "root", root, "/var/lib/berth", "persistent data: metadata, content, snapshots"),
    STR(NULL, "state", state, "/run/berth", "runtime state: sockets, bundles (cleared on boot)"),
    STR("grpc", "address", address, "/run/berth/berthd.sock", "unix socket of the gRPC API"),
    INT("grpc", "gid", gid, -1, -1, 0x7fffffff,
        "group that may use the socket (mode 0660); -1 keeps root's group"),
    INT("grpc", "cq_threads", cq_threads, 1, 1, 64,
        "completion-queue threads (reads run on them; one avoids cross-thread hand-offs)"),
    INT("grpc", "worker_threads", worker_threads, 32, 1, 1024,
        "threads running unary calls that wait (writes)"),
    INT("grpc", "listing_threads", listing_threads, 8, 1, 1024,
        "threads running listings that match filters (apart from writes)"),
    INT("grpc", "shutdown_grace_ms", grace_ms, 5000, 0, 600000,
        "how long shutdown waits for in-flight calls before cancelling them"),
    INT("grpc", "max_connections", max_connections, 1024, 4, 1 << 20,
        "connections served at once (never more than half the open-file limit); more are "
        "closed at accept"),
    INT("grpc", "max_concurrent_streams", max_streams_per_conn, 128, 1, 1 << 20,
        "calls one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS)"),
    INT("grpc", "max_streaming_calls", max_stream_calls, 1024, 1, 1 << 16,
        "streaming calls served at once (each holds a thread); more get RESOURCE_EXHAUSTED"),
    INT("grpc", "max_calls", max_calls, 4096, 1, 1 << 20,
        "calls in flight at once; more get RESOURCE_EXHAUSTED"),
    INT("grpc", "preface_timeout_ms", preface_timeout_ms, 10000, 1, 3600000,
        "time a new connection has to send the HTTP/2 preface"),
    INT("grpc", "request_timeout_ms", request_timeout_ms, 20000, 1, 3600000,
        "time a call's request message has to arrive after its headers"),
    INT("grpc", "idle_timeout_ms", idle_timeout_ms, 600000, 1, 0x7fffffff,
        "a connection without calls for this long is closed (clients reconnect)"),
    INT("grpc", "keepalive_time_ms", keepalive_ms, 120000, 1, 0x7fffffff,
        "ping a connection that has calls after this long without traffic"),
    INT("grpc", "keepalive_timeout_ms", keepalive_timeout_ms, 20000, 1, 0x7fffffff,
        "close a connection whose client does not answer that ping within this"),
    INT("grpc", "self_check_interval_ms", self_check_ms, 10000, 0, 3600000,
        "berthd calls its own socket this often; the systemd watchdog is fed only while that "
        "works (0: no self-check)"),
    INT("metadata", "map_size_mb", map_size_mb, 8192, 16, 1 << 24,
        "LMDB map size (address space, not disk)"),
    INT("metadata", "max_batch", max_batch, 256, 1, 65536, "mutations per group commit"),
    STR("log", "level", log_level, "info", "trace, debug, info, warn, error or fatal"),
    STR("runtime", "default", default_runtime, "io.containerd.berth.v1",
        "runtime of containers that name none (io.containerd.<name>.<version> or a path)"),
    STR("runtime", "binary_name", runtime_binary, "",
        "OCI runtime berth-shim runs when a container's runc options name none (runc, crun or "
        "an absolute path; empty: runc)"),
    FLT("gc", "pause_threshold", gc_pause_threshold, 0.02, 0.001, 0.5,
        "largest fraction of wall time garbage collection may take"),
    INT("gc", "deletion_threshold", gc_deletion_threshold, 0, 0, 1 << 30,
        "deletions that force a GC pass; 0: any deletion schedules one"),
    INT("gc", "mutation_threshold", gc_mutation_threshold, 100, 0, 1 << 30,
        "metadata writes that schedule a GC pass; 0: writes alone never do"),
    INT("gc", "schedule_delay_ms", gc_schedule_delay_ms, 0, 0, 3600000,
        "delay between scheduling a GC pass and running it"),
    INT("gc", "startup_delay_ms", gc_startup_delay_ms, 100, 0, 3600000,
        "first GC pass after start-up (frees what a crash left half-made)"),
    STR("registry", "config_path", registry_config_path, "",
        "directories of registry host configs in containerd's hosts.toml layout, ':'-separated "
        "(<dir>/<host>[_<port>_]/hosts.toml, then <dir>/_default)"),
    INT("registry", "max_concurrent_downloads", max_downloads, 3, 1, 16,
        "layers one pull downloads at once"),
    STR("registry", "pull_progress_timeout", pull_progress_timeout, "5m",
        "a pull transfer that moves no byte for this long ends (Go duration: 30s, 5m, 1h)"),
    BOOL("cri", "enabled", cri_enabled, 1,
         "serve the Kubernetes CRI (runtime.v1) on the gRPC socket, objects in namespace k8s.io"),
    STR("cri", "sandbox_image", cri_sandbox_image, "",
        "image of pod sandboxes; empty: berth's own pause image, created at start-up without a "
        "registry"),
    STR("cri", "snapshotter", cri_snapshotter, "overlayfs",
        "snapshotter of CRI images and containers"),
    STR("cri", "default_runtime_name", cri_default_runtime, "runc",
        "runtime handler of pods that name none ([cri.runtimes.<name>]; runc is built in)"),
    INT("cri", "max_container_log_line_size", cri_max_log_line, 16384, -1, 1 << 30,
        "container log lines longer than this are split into partial lines; <= 0: never"),
    BOOL("cri", "enable_unprivileged_ports", cri_unprivileged_ports, 0,
         "pods get net.ipv4.ip_unprivileged_port_start=0"),
    BOOL("cri", "enable_unprivileged_icmp", cri_unprivileged_icmp, 0,
         "pods get net.ipv4.ping_group_range=\"0 2147483647\""),
    STR("cri", "stream_server_address", cri_stream_address, "127.0.0.1",
        "IP address of the streaming server behind CRI Exec, Attach and PortForward (kubelet "
        "proxies to it: keep it on loopback)"),
    STR("cri", "stream_server_port", cri_stream_port, "0",
        "its TCP port, a string as in containerd (\"0\": a free port, named in each URL)"),
    STR("cri", "stream_idle_timeout", cri_stream_idle_timeout, "4h0m0s",
        "a streaming connection with no traffic for this long is closed (Go duration)"),
    STR("cri.cni", "conf_dir", cri_cni_conf_dir, "/etc/cni/net.d",
        "CNI network configurations; the first (lexical order) is the pod network"),
    STR("cri.cni", "bin_dir", cri_cni_bin_dir, "/usr/lib/cni:/opt/cni/bin",
        "directories of CNI plugins, ':'-separated"),
    STR("metrics", "address", metrics_address, "",
        "serve Prometheus metrics at http://<address>/v1/metrics, a TCP host:port such as "
        "\"127.0.0.1:1338\" (empty: off)"),
    BOOL("metrics", "grpc_histogram", metrics_grpc_histogram, 1,
         "also serve grpc_server_handling_seconds per method (containerd's default: false)"),
};

int berthd_config_stream_port(const struct berthd_config *c)
{
    const char *p = c->cri_stream_port;
    long v = 0;

    if (!*p || strlen(p) > 5)
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v <= 65535 ? (int)v : -1;
}

static char **str_slot(struct berthd_config *c, const struct key *k)
{
    return (char **)((char *)c + k->offset);
}

static int64_t *int_slot(struct berthd_config *c, const struct key *k)
{
    return (int64_t *)((char *)c + k->offset);
}

static double *flt_slot(struct berthd_config *c, const struct key *k)
{
    return (double *)((char *)c + k->offset);
}

static bool *bool_slot(struct berthd_config *c, const struct key *k)
{
    return (bool *)((char *)c + k->offset);
}

void berthd_config_set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = berth_xstrdup(v);
}

void berthd_config_defaults(struct berthd_config *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < BERTH_N(keys); i++) {
        if (keys[i].type == KEY_STR)
            berthd_config_set_str(str_slot(c, &keys[i]), keys[i].def_str);
        else if (keys[i].type == KEY_FLT)
            *flt_slot(c, &keys[i]) = keys[i].def_flt;
        else if (keys[i].type == KEY_BOOL)
            *bool_slot(c, &keys[i]) = keys[i].def_int != 0;
        else
            *int_slot(c, &keys[i]) = keys[i].def_int;
    }
}

static void cri_runtime_clear(struct berthd_cri_runtime *r)
{
    free(r->name);
    free(r->runtime_type);
    free(r->runtime_path);
    free(r->binary_name);
    free(r->root);
}

void berthd_config_free(struct berthd_config *c)
{
    for (size_t i = 0; i < BERTH_N(keys); i++)
        if (keys[i].type == KEY_STR) {
            free(*str_slot(c, &keys[i]));
            *str_slot(c, &keys[i]) = NULL;
        }
    for (size_t i = 0; i < c->n_cri_runtimes; i++)
        cri_runtime_clear(&c->cri_runtimes[i]);
    free(c->cri_runtimes);
    c->cri_runtimes = NULL;
    c->n_cri_runtimes = 0;
}

static const struct key *find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < BERTH_N(keys); i++) {
        bool same_sec = section ? keys[i].section && strcmp(keys[i].section, section) == 0
                                : keys[i].section == NULL;
        if (same_sec && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    }
    return NULL;
}

static bool is_section(const char *name)
{
    for (size_t i = 0; i < BERTH_N(keys); i++)
        if (keys[i].section && strcmp(keys[i].section, name) == 0)
            return true;
    return false;
}

static int apply_value(struct berthd_config *c, const char *section, const char *name,
                       const struct berth_toml_value *v, const char *path, struct berth_err **err)
{
    const struct key *k = find_key(section, name);
    const char *full = section ? section : "";
    const char *dot = section ? "." : "";

    if (!k)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "%s: unknown key \"%s%s%s\"", path,
                             full, dot, name);
    if (k->type == KEY_STR) {
        if (v->type != BERTH_TOML_STRING)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "%s: key \"%s%s%s\": expected string, got %s", path, full, dot,
                                 name, berth_toml_type_name(v->type));
        berthd_config_set_str(str_slot(c, k), v->u.str);
        return 0;
    }
    if (k->type == KEY_BOOL) {
        if (v->type != BERTH_TOML_BOOL)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "%s: key \"%s%s%s\": expected boolean, got %s", path, full, dot,
                                 name, berth_toml_type_name(v->type));
        *bool_slot(c, k) = v->u.boolean;
        return 0;
    }
    if (k->type == KEY_FLT) {
        double d;
        if (v->type == BERTH_TOML_FLOAT)
            d = v->u.flt;
        else if (v->type == BERTH_TOML_INTEGER)
            d = (double)v->u.integer;
        else
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "%s: key \"%s%s%s\": expected float, got %s", path, full, dot,
                                 name, berth_toml_type_name(v->type));
        if (!(d >= k->flo && d <= k->fhi))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "%s: key \"%s%s%s\": %g is outside %g..%g", path, full, dot, name,
                                 d, k->flo, k->fhi);
        *flt_slot(c, k) = d;
        return 0;
    }
    if (v->type != BERTH_TOML_INTEGER)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "%s: key \"%s%s%s\": expected integer, got %s", path, full, dot, name,
                             berth_toml_type_name(v->type));
    if (v->u.integer < k->min || v->u.integer > k->max)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "%s: key \"%s%s%s\": %lld is outside %lld..%lld", path, full, dot,
                             name, (long long)v->u.integer, (long long)k->min, (long long)k->max);
    *int_slot(c, k) = v->u.integer;
    return 0;
}

static int str_value(const struct berth_toml_value *t, const char *sec, const char *key,
                     char **slot, const char *path, struct berth_err **err)
{
    const char *s = NULL;
    int r = berth_toml_get_string(t, key, &s, err);

    if (r < 0)
        return berth_err_wrap(err, "%s: [%s]", path, sec);
    if (r > 0)
        berthd_config_set_str(slot, s);
    return 0;
}

/* [cri.runtimes.<name>] with runtime_type, runtime_path and an options table. */
static int apply_cri_runtime(struct berthd_config *c, const char *name,
                             const struct berth_toml_value *t, const char *path,
                             struct berth_err **err)
{
    _cleanup_free_ char *sec = berth_strdup_printf("cri.runtimes.%s", name);
    static const char *const known[] = {"runtime_type", "runtime_path", "options"};
    static const char *const known_opts[] = {"BinaryName", "Root", "SystemdCgroup"};
    const struct berth_toml_value *opts = berth_toml_get(t, "options");
    struct berthd_cri_runtime *r = NULL;

    if (t->type != BERTH_TOML_TABLE)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "%s: \"%s\" must be a table", path,
                             sec);
    if (berth_ident_validate(name, err) < 0)
        return berth_err_wrap(err, "%s: runtime handler name", path);
    for (size_t i = 0; i < t->u.table.n; i++) {
        size_t j = 0;
        while (j < BERTH_N(known) && strcmp(known[j], t->u.table.keys[i]) != 0)
            j++;
        if (j == BERTH_N(known))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "%s: unknown key \"%s.%s\"",
                                 path, sec, t->u.table.keys[i]);
    }
    if (opts && opts->type != BERTH_TOML_TABLE)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "%s: \"%s.options\" must be a table",
                             path, sec);
    for (size_t i = 0; opts && i < opts->u.table.n; i++) {
        size_t j = 0;
        while (j < BERTH_N(known_opts) && strcmp(known_opts[j], opts->u.table.keys[i]) != 0)
            j++;
        if (j == BERTH_N(known_opts))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "%s: unknown key \"%s.options.%s\" (known: BinaryName, Root, "
                                 "SystemdCgroup)",
                                 path, sec, opts->u.table.keys[i]);
    }
    for (size_t i = 0; i < c->n_cri_runtimes; i++)
        if (strcmp(c->cri_runtimes[i].name, name) == 0)
            r = &c->cri_runtimes[i];
    if (!r) {
        c->cri_runtimes =
            berth_xrealloc(c->cri_runtimes, (c->n_cri_runtimes + 1) * sizeof(*c->cri_runtimes));
        r = &c->cri_runtimes[c->n_cri_runtimes++];
        memset(r, 0, sizeof(*r));
        r->name = berth_xstrdup(name);
        r->runtime_type = berth_xstrdup("");
        r->runtime_path = berth_xstrdup("");
        r->binary_name = berth_xstrdup("");
        r->root = berth_xstrdup("");
    }
    if (str_value(t, sec, "runtime_type", &r->runtime_type, path, err) < 0 ||
        str_value(t, sec, "runtime_path", &r->runtime_path, path, err) < 0 ||
        (opts && (str_value(opts, sec, "BinaryName", &r->binary_name, path, err) < 0 ||
                  str_value(opts, sec, "Root", &r->root, path, err) < 0 ||
                  berth_toml_get_bool(opts, "SystemdCgroup", &r->systemd_cgroup, err) < 0)))
        return berth_err_wrap(err, "%s: [%s]", path, sec);
    return 0;
}

/* A top-level table: its keys, and the sub-tables that are sections of their own
 * ([cri.cni], [cri.runtimes.<name>]). */
static int apply_section(struct berthd_config *c, const char *name,
                         const struct berth_toml_value *v, const char *path, struct berth_err **err)
{
    if (strcmp(name, "cri.runtimes") == 0) {
        for (size_t j = 0; j < v->u.table.n; j++)
            if (apply_cri_runtime(c, v->u.table.keys[j], v->u.table.vals[j], path, err) < 0)
                return -1;
        return 0;
    }
    if (!is_section(name))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "%s: unknown section \"%s\"", path,
                             name);
    for (size_t j = 0; j < v->u.table.n; j++) {
        const struct berth_toml_value *sub = v->u.table.vals[j];
        if (sub->type == BERTH_TOML_TABLE) {
            _cleanup_free_ char *full = berth_strdup_printf("%s.%s", name, v->u.table.keys[j]);
            if (is_section(full) || strcmp(full, "cri.runtimes") == 0) {
                if (apply_section(c, full, sub, path, err) < 0)
                    return -1;
                continue;
            }
        }
        if (apply_value(c, name, v->u.table.keys[j], sub, path, err) < 0)
            return -1;
    }
    return 0;
}

int berthd_config_parse(struct berthd_config *c, const char *text, size_t len, const char *path,
                        struct berth_err **err)
{
    struct berth_toml_value *doc = NULL;
    int ret = 0;

    if (berth_toml_parse(text, len, &doc, err) < 0)
        return berth_err_wrap(err, "%s", path);
    for (size_t i = 0; i < doc->u.table.n && ret == 0; i++) {
        const char *name = doc->u.table.keys[i];
        const struct berth_toml_value *v = doc->u.table.vals[i];

        if (v->type != BERTH_TOML_TABLE) {
            ret = apply_value(c, NULL, name, v, path, err);
            continue;
        }
        ret = apply_section(c, name, v, path, err);
    }
    berth_toml_free(doc);
    return ret;
}

int berthd_config_load(struct berthd_config *c, const char *path, struct berth_err **err)
{
    FILE *f = fopen(path, "re");
    _cleanup_free_ char *buf = NULL;
    size_t len = 0, cap = 0, n;
    struct stat sb;

    if (!f)
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INVALID_ARGUMENT,
                             errno, "open config \"%s\"", path);
    /* fopen takes a directory and fread then reads nothing: that would run on defaults. */
    if (fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "config \"%s\" is not a regular file", path);
    }
    do {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (1 << 20)) {
                fclose(f);
                return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                     "config \"%s\" is larger than 1 MiB", path);
            }
            buf = berth_xrealloc(buf, cap);
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    if (ferror(f)) {
        fclose(f);
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, EIO, "read config \"%s\"", path);
    }
    fclose(f);
    return berthd_config_parse(c, buf ? buf : "", len, path, err);
}

int berthd_config_validate(const struct berthd_config *c, struct berth_err **err)
{
    const struct {
        const char *key, *val;
    } paths[] = {{"root", c->root}, {"state", c->state}, {"grpc.address", c->address}};

    for (size_t i = 0; i < BERTH_N(paths); i++) {
        const char *v = paths[i].val;
        if (berth_str_has_prefix(v, "unix://"))
            v += 7;
        else if (berth_str_has_prefix(v, "unix:"))
            v += 5;
        if (v[0] != '/')
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "%s \"%s\" must be an absolute path", paths[i].key, paths[i].val);
        if (strlen(v) > 107 && i == 2)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "grpc.address \"%s\" is longer than a unix socket path can be",
                                 paths[i].val);
    }
    if (berth_log_level_parse(c->log_level) < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "log.level \"%s\" is not one of trace, debug, info, warn, error, "
                             "fatal",
                             c->log_level);
    {
        int64_t ns;
        if (berth_duration_parse(c->pull_progress_timeout, &ns) < 0 || ns <= 0)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "registry.pull_progress_timeout \"%s\" is not a positive "
                                 "duration such as 30s, 5m or 1h",
                                 c->pull_progress_timeout);
    }
    {
        int64_t ns;
        if (berth_duration_parse(c->cri_stream_idle_timeout, &ns) < 0 || ns <= 0)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "cri.stream_idle_timeout \"%s\" is not a positive duration "
                                 "such as 30m or 4h0m0s",
                                 c->cri_stream_idle_timeout);
    }
    if (*c->metrics_address) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_metrics_address_parse(c->metrics_address, NULL, NULL, &e) < 0)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "metrics.address \"%s\" is not host:port (e.g. "
                                 "\"127.0.0.1:1338\"; empty: off)",
                                 c->metrics_address);
    }
    if (berthd_config_stream_port(c) < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "cri.stream_server_port \"%s\" is not a port number (0 to 65535)",
                             c->cri_stream_port);
    if (!*c->cri_stream_address)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "cri.stream_server_address must name an IP address");
    if (strcmp(c->cri_default_runtime, "runc") != 0) {
        size_t i = 0;
        while (i < c->n_cri_runtimes && strcmp(c->cri_runtimes[i].name, c->cri_default_runtime))
            i++;
        if (i == c->n_cri_runtimes)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "cri.default_runtime_name \"%s\" names no [cri.runtimes.%s] table",
                                 c->cri_default_runtime, c->cri_default_runtime);
    }
    for (const char *p = c->cri_cni_bin_dir; *p; p += strcspn(p, ":"), p += *p == ':')
        if (*p != '/' && *p != ':')
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "cri.cni.bin_dir \"%s\" must list absolute paths",
                                 c->cri_cni_bin_dir);
    if (c->cri_cni_conf_dir[0] != '/')
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "cri.cni.conf_dir \"%s\" must be an absolute path",
                             c->cri_cni_conf_dir);
    for (const char *p = c->registry_config_path; *p; p += strcspn(p, ":"), p += *p == ':')
        if (*p != '/' && *p != ':')
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "registry.config_path \"%s\" must list absolute paths",
                                 c->registry_config_path);
    return 0;
}

void berthd_config_print(const struct berthd_config *c, FILE *f)
{
    const char *section = NULL;

    fprintf(f, "# berthd configuration. Every key is optional; shown are the values in "
               "effect.\n");
    for (size_t i = 0; i < BERTH_N(keys); i++) {
        const struct key *k = &keys[i];
        if (k->section && (!section || strcmp(section, k->section) != 0)) {
            section = k->section;
            fprintf(f, "\n[%s]\n", section);
        }
        fprintf(f, "# %s\n", k->help);
        if (k->type == KEY_STR)
            fprintf(f, "%s = \"%s\"\n", k->name, *str_slot((struct berthd_config *)c, k));
        else if (k->type == KEY_FLT)
            fprintf(f, "%s = %g\n", k->name, *flt_slot((struct berthd_config *)c, k));
        else if (k->type == KEY_BOOL)
            fprintf(f, "%s = %s\n", k->name,
                    *bool_slot((struct berthd_config *)c, k) ? "true" : "false");
        else
            fprintf(f, "%s = %lld\n", k->name, (long long)*int_slot((struct berthd_config *)c, k));
    }
    fprintf(f, "\n# CRI runtime handlers besides the built-in \"runc\" (berth-shim + runc):\n"
               "# [cri.runtimes.<name>]\n"
               "# runtime_type = \"io.containerd.berth.v1\"   # or io.containerd.runc.v2, a path\n"
               "# runtime_path = \"\"\n"
               "# [cri.runtimes.<name>.options]\n"
               "# BinaryName = \"crun\"\n# Root = \"\"\n# SystemdCgroup = false\n");
    for (size_t i = 0; i < c->n_cri_runtimes; i++) {
        const struct berthd_cri_runtime *r = &c->cri_runtimes[i];
        fprintf(f, "\n[cri.runtimes.%s]\nruntime_type = \"%s\"\nruntime_path = \"%s\"\n", r->name,
                r->runtime_type, r->runtime_path);
        fprintf(f,
                "[cri.runtimes.%s.options]\nBinaryName = \"%s\"\nRoot = \"%s\"\n"
                "SystemdCgroup = %s\n",
                r->name, r->binary_name, r->root, r->systemd_cgroup ? "true" : "false");
    }
}
