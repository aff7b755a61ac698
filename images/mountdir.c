/* SPDX-License-Identifier: Apache-2.0 */
/* Resolving a snapshot's mounts to a directory for extraction and diffing (mountdir.h). */
#include "images/mountdir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *mount_option(const struct berth_mount *m, const char *key)
{
    size_t len = strlen(key);

    for (size_t i = 0; i < m->n_options; i++)
        if (strncmp(m->options[i], key, len) == 0 && m->options[i][len] == '=')
            return m->options[i] + len + 1;
    return NULL;
}

static bool mount_has(const struct berth_mount *m, const char *flag)
{
    for (size_t i = 0; i < m->n_options; i++)
        if (strcmp(m->options[i], flag) == 0)
            return true;
    return false;
}

/* lowerdir "a:b:c" (nearest first) as a NULL-terminated vector. */
static char **split_colons(const char *s)
{
    size_t n = 1, k = 0;
    char **v;

    for (const char *p = s; *p; p++)
        n += *p == ':';
    v = berth_xcalloc(n + 1, sizeof(char *));
    while (*s) {
        const char *c = strchr(s, ':');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        if (len)
            v[k++] = berth_xstrndup(s, len);
        s += len + (c ? 1 : 0);
    }
    return v;
}

static bool is_type(const struct berth_mount *m, const char *type)
{
    return m->type && strcmp(m->type, type) == 0;
}

int berth_image_mountdir_resolve(const struct berth_mount *m, size_t n, const char *tmp_root,
                                 const char *what, unsigned flags, struct berth_mountdir *d,
                                 struct berth_err **err)
{
    bool readonly = flags & BERTH_MOUNTDIR_READONLY, direct = !(flags & BERTH_MOUNTDIR_MOUNT);

    memset(d, 0, sizeof(*d));
    if (n == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "%s: no mounts given", what);
    if (direct && n == 1 && is_type(m, "overlay") && mount_option(m, "upperdir")) {
        const char *lower = mount_option(m, "lowerdir");
        d->dir = berth_xstrdup(mount_option(m, "upperdir"));
        d->overlay = true;
        if (lower)
            d->lowers = split_colons(lower);
        return 0;
    }
    if (direct && n == 1 && is_type(m, "bind") && (readonly || !mount_has(m, "ro")) &&
        m[0].source && *m[0].source) {
        d->dir = berth_xstrdup(m[0].source);
        return 0;
    }
    _cleanup_free_ char *base = berth_strdup_printf("%s/tmpmounts", tmp_root ? tmp_root : "/tmp");
    if (mkdir(base, 0700) < 0 && errno != EEXIST)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "%s: mkdir \"%s\"", what, base);
    _cleanup_free_ char *dir = berth_strdup_printf("%s/%s-XXXXXX", base, what);
    if (!mkdtemp(dir))
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "%s: mkdtemp under \"%s\"", what, base);
    struct berth_mount *use = (struct berth_mount *)m, ro = {0};
    if (readonly && n == 1 && !mount_has(m, "ro")) {
        ro = m[0];
        ro.options = berth_xcalloc(m->n_options + 1, sizeof(char *));
        memcpy(ro.options, m->options, m->n_options * sizeof(char *));
        ro.options[ro.n_options++] = (char *)"ro";
        use = &ro;
    }
    int ret = berth_mount_all(use, n, dir, err);
    free(ro.options);
    if (ret < 0) {
        rmdir(dir);
        return berth_err_wrap(err, "%s: mount", what);
    }
    d->tmpmount = berth_xstrdup(dir);
    d->dir = steal_ptr(dir);
    return 0;
}

void berth_image_mountdir_release(struct berth_mountdir *d)
{
    if (d->tmpmount) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_unmount(d->tmpmount, &e) == 0)
            rmdir(d->tmpmount);
        free(d->tmpmount);
    }
    free(d->dir);
    berth_strv_free(d->lowers);
    memset(d, 0, sizeof(*d));
}
