/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mount options: generic add/remove by destination and the CRI's bind mounts (containerd 1.6
 * pkg/cri/opts WithMounts for one mount), whose propagation is checked against the host
 * mount in /proc/self/mountinfo as ensureShared/ensureSharedOrSlave do.
 */
#include "runtime/oci/opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/fs.h"
#include "lib/util.h"
#include "runtime/oci/oci-internal.h"

char *oci_path_clean(const char *p)
{
    _cleanup_free_ char *copy = berth_xstrdup(p);
    _cleanup_free_ const char **stack = NULL;
    size_t n = 0, len = 0, cap = strlen(p) + 3;
    bool abs = p[0] == '/';
    char *out = berth_xmalloc(cap), *save = NULL;

    /* Go's filepath.Clean: drop "." and empty elements, fold ".." lexically (never above
     * "/"), "." for an empty result. */
    stack = berth_xcalloc(strlen(p) / 2 + 1, sizeof(*stack));
    for (char *e = strtok_r(copy, "/", &save); e; e = strtok_r(NULL, "/", &save)) {
        if (strcmp(e, ".") == 0)
            continue;
        if (strcmp(e, "..") == 0 && n > 0 && strcmp(stack[n - 1], "..") != 0)
            n--;
        else if (strcmp(e, "..") != 0 || !abs)
            stack[n++] = e;
    }
    if (abs)
        out[len++] = '/';
    for (size_t i = 0; i < n; i++) {
        size_t el = strlen(stack[i]);
        if (i > 0)
            out[len++] = '/';
        memcpy(out + len, stack[i], el);
        len += el;
    }
    if (len == 0)
        out[len++] = '.';
    out[len] = '\0';
    return out;
}

/* Index of the first mount whose cleaned destination equals dst (already clean), or -1. */
static ssize_t mount_find(json_t *mounts, const char *dst)
{
    size_t i;
    json_t *m;

    json_array_foreach(mounts, i, m)
    {
        const char *d = json_string_value(json_object_get(m, "destination"));
        _cleanup_free_ char *c = d ? oci_path_clean(d) : NULL;
        if (c && strcmp(c, dst) == 0)
            return (ssize_t)i;
    }
    return -1;
}

int berth_oci_with_mount(json_t *spec, const struct berth_oci_mount *m, struct berth_err **err)
{
    _cleanup_free_ char *dst = NULL;
    json_t *mounts, *arr;
    ssize_t at;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (!m || !m->dst || m->dst[0] != '/')
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "mount destination \"%s\" is not absolute", m && m->dst ? m->dst : "");
    dst = oci_path_clean(m->dst);
    mounts = oci_arr(spec, oci_order_spec, "mounts");
    at = mount_find(mounts, dst);
    oci_mount_append(spec, m->dst, m->type, m->src, m->options);
    if (at >= 0) {
        /* Move the new entry into the old one's place: runc mounts in list order. */
        arr = mounts;
        json_array_set(arr, (size_t)at, json_array_get(arr, json_array_size(arr) - 1));
        json_array_remove(arr, json_array_size(arr) - 1);
    }
    return 0;
}

int berth_oci_without_mount(json_t *spec, const char *dst, struct berth_err **err)
{
    _cleanup_free_ char *c = NULL;
    json_t *mounts;
    ssize_t at;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (!dst || !dst[0])
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "empty mount destination");
    c = oci_path_clean(dst);
    mounts = json_object_get(spec, "mounts");
    while ((at = mount_find(mounts, c)) >= 0)
        json_array_remove(mounts, (size_t)at);
    return 0;
}

/* ---- /proc/self/mountinfo ---- */

/* Whether mount point mp contains path (both clean and absolute). */
static bool mp_contains(const char *mp, const char *path)
{
    size_t n = strlen(mp);

    if (strcmp(mp, "/") == 0)
        return true;
    return strncmp(path, mp, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int oci_mount_lookup(const char *mountinfo, const char *path, char **mountpoint, char **optional,
                     struct berth_err **err)
{
    _cleanup_free_ char *line = NULL;
    _cleanup_free_ char *best_mp = NULL;
    _cleanup_free_ char *best_opt = NULL;
    size_t cap = 0;
    FILE *f;

    *mountpoint = *optional = NULL;
    f = fopen(mountinfo, "re");
    if (!f)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s\"", mountinfo);
    while (getline(&line, &cap, f) > 0) {
        char *fields[64], *save = NULL, *tok;
        size_t n = 0, sep = 0;
        line[strcspn(line, "\n")] = '\0';
        for (tok = strtok_r(line, " ", &save); tok && n < BERTH_N(fields);
             tok = strtok_r(NULL, " ", &save))
            fields[n++] = tok;
        for (size_t i = 6; i < n; i++)
            if (strcmp(fields[i], "-") == 0) {
                sep = i;
                break;
            }
        if (n < 7 || sep == 0)
            continue;
        berth_mountinfo_unescape(fields[4]);
        if (!mp_contains(fields[4], path))
            continue;
        /* The longest mount point wins; among equals the later one, the mount on top. */
        if (best_mp && strlen(fields[4]) < strlen(best_mp))
            continue;
        free(best_mp);
        free(best_opt);
        best_mp = berth_xstrdup(fields[4]);
        best_opt = berth_xstrdup("");
        for (size_t i = 6; i < sep; i++) {
            char *joined = berth_strdup_printf("%s%s%s", best_opt, i > 6 ? " " : "", fields[i]);
            free(best_opt);
            best_opt = joined;
        }
    }
    fclose(f);
    if (!best_mp)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "no mount holds \"%s\" in \"%s\"", path,
                             mountinfo);
    *mountpoint = steal_ptr(best_mp);
    *optional = steal_ptr(best_opt);
    return 0;
}

/* ensureShared (want_slave false) / ensureSharedOrSlave (true). */
static int check_propagation(const char *path, bool slave_ok, struct berth_err **err)
{
    _cleanup_free_ char *mp = NULL;
    _cleanup_free_ char *opt = NULL;
    char *save = NULL;

    if (oci_mount_lookup("/proc/self/mountinfo", path, &mp, &opt, err) < 0)
        return -1;
    for (char *o = strtok_r(opt, " ", &save); o; o = strtok_r(NULL, " ", &save))
        if (berth_str_has_prefix(o, "shared:") || (slave_ok && berth_str_has_prefix(o, "master:")))
            return 0;
    return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                         "path \"%s\" is mounted on \"%s\" but it is not a shared%s mount", path,
                         mp, slave_ok ? " or slave" : "");
}

int berth_oci_with_bind(json_t *spec, const struct berth_oci_bind *b, struct berth_err **err)
{
    _cleanup_free_ char *src = NULL;
    _cleanup_free_ char *dst = NULL;
    const char *prop, *cur;
    json_t *l, *mounts, *m;
    size_t i;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (!b || !b->host_path || !b->host_path[0])
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "empty bind host path");
    if (!b->container_path || b->container_path[0] != '/')
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "bind container path \"%s\" is not absolute",
                             b->container_path ? b->container_path : "");
    src = realpath(b->host_path, NULL);
    if (!src)
        return berth_err_set(
            err, errno == ENOENT || errno == ENOTDIR ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
            "resolve bind host path \"%s\"", b->host_path);
    l = oci_obj(spec, oci_order_spec, "linux");
    cur = json_string_value(json_object_get(l, "rootfsPropagation"));
    switch (b->propagation) {
    case BERTH_OCI_PROPAGATION_PRIVATE:
        /* runc's default root propagation is already rprivate. */
        prop = "rprivate";
        break;
    case BERTH_OCI_PROPAGATION_HOST_TO_CONTAINER:
        if (check_propagation(src, true, err) < 0)
            return -1;
        prop = "rslave";
        if (!cur || (strcmp(cur, "rshared") != 0 && strcmp(cur, "rslave") != 0))
            oci_set(l, oci_order_linux, "rootfsPropagation", json_string("rslave"));
        break;
    case BERTH_OCI_PROPAGATION_BIDIRECTIONAL:
        if (check_propagation(src, false, err) < 0)
            return -1;
        prop = "rshared";
        oci_set(l, oci_order_linux, "rootfsPropagation", json_string("rshared"));
        break;
    default:
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "unknown mount propagation %d for \"%s\"", b->propagation,
                             b->container_path);
    }
    dst = oci_path_clean(b->container_path);
    if (strcmp(dst, "/dev") == 0) {
        /* A supplied /dev replaces everything the defaults mount beneath it. */
        mounts = json_object_get(spec, "mounts");
        for (i = json_array_size(mounts); i-- > 0;) {
            const char *d;
            _cleanup_free_ char *c = NULL;
            m = json_array_get(mounts, i);
            d = json_string_value(json_object_get(m, "destination"));
            c = d ? oci_path_clean(d) : NULL;
            if (c && berth_str_has_prefix(c, "/dev/"))
                json_array_remove(mounts, i);
        }
    }
    {
        const char *const opts[] = {"rbind", prop, b->readonly ? "ro" : "rw", NULL};
        struct berth_oci_mount bm = {
            .dst = b->container_path, .src = src, .type = "bind", .options = opts};
        return berth_oci_with_mount(spec, &bm, err);
    }
}
