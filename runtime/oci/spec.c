/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctr's spec (cmd/ctr/commands/run/run_unix.go) as a composition of the options in opts.h,
 * applied in ctr's order on containerd 1.6's default spec. The options keep the Go structs'
 * key order, so dumps match containerd's byte for byte.
 */
#include "runtime/oci/spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "images/manifest.h" /* struct berth_image_config (header only: no link dependency) */
#include "lib/util.h"
#include "runtime/oci/oci-internal.h"
#include "runtime/oci/opts.h"

#define OCI_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define OCI_CFS_PERIOD   100000

#define OPTS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The cgroup allow rules ctr run adds (null, zero, full, tty, random, urandom, console,
 * pts (any minor), ptmx); minor -1 means any. */
static const struct {
    int64_t major, minor;
} default_devices[] = {
    {1, 3}, {1, 8}, {1, 7}, {5, 0}, {1, 5}, {1, 9}, {5, 1}, {136, -1}, {5, 2},
};

/* A growable vector of owned strings. */
struct strvec {
    char **v;
    size_t n, cap;
};

static void strvec_clear(struct strvec *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* ctr's --mount syntax: comma-separated key=value with keys type, source|src,
 * destination|dst and options (colon-separated). Appended as given (no replacement of an
 * equal destination), as ctr's WithMounts does. */
static int add_ctr_mount(json_t *spec, const char *desc, struct berth_err **err)
{
    _cleanup_free_ char *copy = berth_xstrdup(desc);
    _cleanup_free_ char *type = NULL;
    _cleanup_free_ char *src = NULL;
    _cleanup_free_ char *dst = NULL;
    _cleanup_(strvec_clear) struct strvec options = {0};
    char *save = NULL;

    for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(f, '=');
        if (!eq)
            goto bad;
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(f, "type") == 0) {
            free(type);
            type = berth_xstrdup(v);
        } else if (strcmp(f, "source") == 0 || strcmp(f, "src") == 0) {
            free(src);
            src = berth_xstrdup(v);
        } else if (strcmp(f, "destination") == 0 || strcmp(f, "dst") == 0) {
            free(dst);
            dst = berth_xstrdup(v);
        } else if (strcmp(f, "options") == 0) {
            _cleanup_free_ char *ov = berth_xstrdup(v);
            char *s2 = NULL;
            for (char *opt = strtok_r(ov, ":", &s2); opt; opt = strtok_r(NULL, ":", &s2))
                berth_vec_push(options.v, options.n, options.cap, berth_xstrdup(opt));
        } else {
            goto bad;
        }
    }
    if (!dst || dst[0] != '/')
        goto bad;
    berth_vec_push(options.v, options.n, options.cap, NULL);
    oci_mount_append(spec, dst, type, src, (const char *const *)options.v);
    return 0;
bad:
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid mount \"%s\"", desc);
}

/* "k=v" annotations (v may be empty, unlike a berth_labels value). */
static int add_annotations(json_t *spec, const char *const *kvs, struct berth_err **err)
{
    json_t *a = NULL;

    for (size_t i = 0; kvs && kvs[i]; i++) {
        const char *kv = kvs[i];
        const char *eq = strchr(kv, '=');
        _cleanup_free_ char *k = NULL;
        if (!eq || eq == kv)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid annotation \"%s\"", kv);
        k = berth_xstrndup(kv, (size_t)(eq - kv));
        if (!a)
            a = oci_obj(spec, oci_order_spec, "annotations");
        oci_map_set(a, k, json_string(eq + 1));
    }
    return 0;
}

/* ctr's resource flags: the default device allow rules, --memory-limit and --cpus. */
static void add_ctr_resources(json_t *spec, const struct berth_oci_opts *o)
{
    json_t *res = oci_obj(oci_obj(spec, oci_order_spec, "linux"), oci_order_linux, "resources");

    if (o->default_devices && !o->privileged) {
        json_t *devs = oci_arr(res, oci_order_resources, "devices");
        for (size_t i = 0; i < BERTH_N(default_devices); i++) {
            json_t *d = json_pack("{s:b,s:s,s:I}", "allow", 1, "type", "c", "major",
                                  (json_int_t)default_devices[i].major);
            if (default_devices[i].minor >= 0)
                json_object_set_new(d, "minor", json_integer(default_devices[i].minor));
            json_object_set_new(d, "access", json_string("rwm"));
            json_array_append_new(devs, d);
        }
    }
    if (o->memory_limit > 0)
        oci_set(oci_obj(res, oci_order_resources, "memory"), oci_order_memory, "limit",
                json_integer(o->memory_limit));
    if (o->cpus > 0) {
        json_t *cpu = oci_obj(res, oci_order_resources, "cpu");
        oci_set(cpu, oci_order_cpu, "quota", json_integer((json_int_t)(o->cpus * OCI_CFS_PERIOD)));
        oci_set(cpu, oci_order_cpu, "period", json_integer(OCI_CFS_PERIOD));
    }
}

/* Process options in ctr's order: image config, args, user, env, cwd, tty. */
static int apply_process(json_t *spec, const struct berth_oci_opts *o, struct berth_err **err)
{
    const struct berth_image_config *img = o->image;
    struct berth_image_config img_copy;
    const char *user = o->user && o->user[0] ? o->user : img ? img->user : NULL;

    if (img) {
        /* An explicit cwd overrides the image's, which then needs no checking. */
        if (o->cwd && o->cwd[0]) {
            img_copy = *img;
            img_copy.working_dir = NULL;
            img = &img_copy;
        }
        if (berth_oci_with_image_config(spec, img, err) < 0)
            return -1;
    } else if (berth_oci_with_env(spec, OPTS(OCI_DEFAULT_PATH), err) < 0) {
        return -1;
    }
    if (o->args && o->args[0]) {
        /* Explicit args replace Cmd; the entrypoint stays (WithImageConfigArgs). */
        _cleanup_free_ const char **v = NULL;
        size_t n = 0, cap = 0;
        for (size_t i = 0; img && img->entrypoint && img->entrypoint[i]; i++)
            berth_vec_push(v, n, cap, img->entrypoint[i]);
        for (size_t i = 0; o->args[i]; i++)
            berth_vec_push(v, n, cap, o->args[i]);
        berth_vec_push(v, n, cap, NULL);
        if (berth_oci_with_process_args(spec, v, err) < 0)
            return -1;
    }
    if (o->cwd && o->cwd[0] && berth_oci_with_cwd(spec, o->cwd, err) < 0)
        return -1;
    if (berth_oci_with_user(spec, o->rootfs_dir, user, err) < 0 ||
        berth_oci_with_env(spec, o->env, err) < 0)
        return -1;
    if (o->tty && (berth_oci_with_tty(spec, true, err) < 0 ||
                   berth_oci_with_console_size(
                       spec, o->console_width && o->console_height ? o->console_width : 0,
                       o->console_width && o->console_height ? o->console_height : 0, err) < 0))
        return -1;
    if (o->net_host) {
        char host[256];
        _cleanup_free_ char *kv = NULL;
        if (gethostname(host, sizeof(host)) < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "gethostname");
        host[sizeof(host) - 1] = '\0';
        kv = berth_strdup_printf("HOSTNAME=%s", host);
        if (berth_oci_with_env(spec, OPTS(kv), err) < 0)
            return -1;
    }
    return 0;
}

int berth_oci_spec_build(const struct berth_oci_opts *o, json_t **out, struct berth_err **err)
{
    json_t *spec = NULL;

    *out = NULL;
    if (!o || !o->ns || !o->ns[0] || !o->id || !o->id[0])
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "spec needs a namespace and a container id");
    if (!(o->cpus >= 0) || isinf(o->cpus))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid cpus %g", o->cpus);
    if (o->memory_limit < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid memory limit %lld",
                             (long long)o->memory_limit);

    spec = berth_oci_default_spec(o->ns, o->id);
    if (apply_process(spec, o, err) < 0)
        goto fail;
    if (o->privileged &&
        (oci_privileged_core(spec, err) < 0 || berth_oci_with_all_devices_allowed(spec, err) < 0))
        goto fail;
    if (o->root_path && o->root_path[0] && berth_oci_with_root_path(spec, o->root_path, err) < 0)
        goto fail;
    if (o->readonly_rootfs && berth_oci_with_readonly_rootfs(spec, true, err) < 0)
        goto fail;
    if (o->hostname && o->hostname[0] && berth_oci_with_hostname(spec, o->hostname, err) < 0)
        goto fail;
    for (size_t i = 0; o->mounts && o->mounts[i]; i++)
        if (add_ctr_mount(spec, o->mounts[i], err) < 0)
            goto fail;
    if (o->net_host) {
        /* WithHostNamespace(network), WithHostHostsFile, WithHostResolvconf */
        if (berth_oci_without_namespace(spec, "network", err) < 0)
            goto fail;
        oci_mount_append(spec, "/etc/hosts", "bind", "/etc/hosts", OPTS("rbind", "ro"));
        oci_mount_append(spec, "/etc/resolv.conf", "bind", "/etc/resolv.conf", OPTS("rbind", "ro"));
    }
    if (add_annotations(spec, o->annotations, err) < 0)
        goto fail;
    add_ctr_resources(spec, o);
    /* Last: the profile follows the final bounding set. */
    if (o->seccomp && !o->privileged && berth_oci_with_seccomp_default(spec, err) < 0)
        goto fail;
    *out = spec;
    return 0;
fail:
    json_decref(spec);
    return -1;
}

char *berth_oci_spec_dump(const json_t *spec)
{
    char *s = json_dumps(spec, JSON_INDENT(4));

    if (!s)
        abort();
    return s;
}
