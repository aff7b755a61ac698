/* SPDX-License-Identifier: Apache-2.0 */
/*
 * USER resolution for OCI specs, following containerd 1.6 oci.WithUser/WithUserID/
 * WithUsername/WithAdditionalGIDs: numeric ids need no files, names are looked up in the
 * rootfs' /etc/passwd and /etc/group. Files are opened with openat2(RESOLVE_IN_ROOT) so an
 * image's symlinks resolve inside the rootfs, never on the host.
 */
#include "runtime/oci/oci-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h> /* struct open_how, RESOLVE_* */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "lib/util.h"

/* /etc/passwd and /etc/group beyond this are not something an image needs. */
#define OCI_ETC_MAX (16u << 20)

/* Opens <rootfs>/<rel> for reading with every path component resolved inside rootfs.
 * Returns an fd, or -1 with errno set. */
static int open_in_root(const char *rootfs, const char *rel)
{
    _cleanup_close_ int dfd = -1;
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd;

    dfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
    if (fd >= 0 || errno != ENOSYS)
        return fd;
    /* Pre-5.6 kernels: refuse symlinks anywhere on the path instead of resolving them. */
    {
        _cleanup_free_ char *copy = berth_xstrdup(rel);
        char *save = NULL, *comp = strtok_r(copy, "/", &save);
        int cur = dfd;
        dfd = -1;
        while (comp) {
            char *next = strtok_r(NULL, "/", &save);
            int nfd = openat(cur, comp,
                             (next ? O_PATH | O_DIRECTORY : O_RDONLY | O_NOCTTY) | O_NOFOLLOW |
                                 O_CLOEXEC);
            int saved = errno;
            close(cur);
            if (nfd < 0) {
                errno = saved;
                return -1;
            }
            cur = nfd;
            comp = next;
        }
        return cur;
    }
}

/* Reads <rootfs>/<rel> into a NUL-terminated buffer. Returns 0, 1 when the file does not
 * exist, or -1 with BERTH_E_INTERNAL. */
static int read_etc(const char *rootfs, const char *rel, char **out, struct berth_err **err)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0, cap = 4096;

    *out = NULL;
    fd = open_in_root(rootfs, rel);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            return 1;
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s\" in rootfs \"%s\"", rel,
                             rootfs);
    }
    buf = berth_xmalloc(cap);
    for (;;) {
        ssize_t n;
        if (len + 1 >= cap) {
            if (cap >= OCI_ETC_MAX)
                return berth_err_set(err, BERTH_E_INTERNAL, EFBIG, "read \"%s\" in rootfs \"%s\"",
                                     rel, rootfs);
            cap *= 2;
            buf = berth_xrealloc(buf, cap);
        }
        n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "read \"%s\" in rootfs \"%s\"", rel,
                                 rootfs);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *out = steal_ptr(buf);
    return 0;
}

/* Parses a decimal id in [0, UINT32_MAX]; false for anything else. */
static bool parse_id(const char *s, size_t len, uint32_t *out)
{
    unsigned long long v = 0;

    if (len == 0 || len > 10)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Splits one colon-separated line in place into at most max fields; returns the count. */
static size_t split_colon(char *line, char **f, size_t max)
{
    size_t n = 0;

    f[n++] = line;
    for (char *p = line; *p && n < max; p++) {
        if (*p == ':') {
            *p = '\0';
            f[n++] = p + 1;
        }
    }
    return n;
}

/* Iterates the lines of a passwd/group buffer (modified in place), skipping blanks and
 * comments. */
static char *next_line(char **cursor)
{
    char *line;

    while (**cursor) {
        line = *cursor;
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
            *cursor = nl + 1;
        } else {
            *cursor = line + strlen(line);
        }
        line += strspn(line, " \t");
        if (*line && *line != '#')
            return line;
    }
    return NULL;
}

struct pw_entry {
    char *name; /* borrowed from the file buffer */
    uint32_t uid, gid;
};

/* Finds the first passwd entry with the given name (name != NULL) or uid. Returns 0, 1 when
 * absent or -1. */
static int passwd_find(char *buf, const char *name, uint32_t uid, struct pw_entry *out)
{
    char *cur = buf, *line, *f[7];

    while ((line = next_line(&cur))) {
        struct pw_entry e;
        if (split_colon(line, f, 7) < 4)
            continue;
        if (!parse_id(f[2], strlen(f[2]), &e.uid) || !parse_id(f[3], strlen(f[3]), &e.gid))
            continue;
        e.name = f[0];
        if (name ? strcmp(e.name, name) == 0 : e.uid == uid) {
            *out = e;
            return 0;
        }
    }
    return 1;
}

static int group_find_gid(char *buf, const char *name, uint32_t *gid)
{
    char *cur = buf, *line, *f[4];

    while ((line = next_line(&cur))) {
        if (split_colon(line, f, 4) < 3 || strcmp(f[0], name) != 0)
            continue;
        if (parse_id(f[2], strlen(f[2]), gid))
            return 0;
    }
    return 1;
}

/* gids of the groups that list `user` as a member, except the group named like the user. */
static void group_supplementary(char *buf, const char *user, struct oci_user *u)
{
    char *cur = buf, *line, *f[4];

    while ((line = next_line(&cur))) {
        uint32_t gid;
        char *save = NULL, *m;
        if (split_colon(line, f, 4) < 4 || strcmp(f[0], user) == 0 ||
            !parse_id(f[2], strlen(f[2]), &gid))
            continue;
        for (m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
            m += strspn(m, " \t");
            if (strcmp(m, user) == 0) {
                u->additional_gids =
                    berth_xrealloc(u->additional_gids, (u->n_additional + 1) * sizeof(uint32_t));
                u->additional_gids[u->n_additional++] = gid;
                break;
            }
        }
    }
}

/* Loads a file that a name lookup needs: a missing file is NOT_FOUND like a missing entry. */
static int need_etc(const char *rootfs, const char *rel, const char *what, const char *name,
                    char **out, struct berth_err **err)
{
    int r;

    if (!rootfs)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "%s name \"%s\" needs a rootfs to resolve", what, name);
    r = read_etc(rootfs, rel, out, err);
    if (r < 0)
        return -1;
    if (r == 1)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "no %ss found for \"%s\": no %s", what,
                             name, rel);
    return 0;
}

static int lookup_user_name(const char *rootfs, const char *name, struct pw_entry *pw,
                            struct berth_err **err)
{
    _cleanup_free_ char *passwd = NULL;

    if (need_etc(rootfs, "etc/passwd", "user", name, &passwd, err) < 0)
        return -1;
    if (passwd_find(passwd, name, 0, pw) != 0)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "no users found for \"%s\"", name);
    pw->name = NULL; /* points into passwd, which dies here */
    return 0;
}

int oci_user_resolve(const char *rootfs, const char *user, struct oci_user *out,
                     struct berth_err **err)
{
    _cleanup_free_ char *passwd = NULL;
    _cleanup_free_ char *group = NULL;
    _cleanup_free_ char *username = NULL;
    const char *colon;
    struct pw_entry pw;
    uint32_t uid = 0, gid = 0;
    int r;

    memset(out, 0, sizeof(*out));
    if (!user)
        user = "";
    colon = strchr(user, ':');
    if (colon && strchr(colon + 1, ':'))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid user \"%s\"", user);

    if (!colon) {
        if (*user == '\0') {
            username = berth_xstrdup("root");
        } else if (parse_id(user, strlen(user), &uid)) {
            /* WithUserID: the passwd entry supplies gid and name; without one, gid 0. */
            if (rootfs) {
                r = read_etc(rootfs, "etc/passwd", &passwd, err);
                if (r < 0)
                    return -1;
                if (r == 0 && passwd_find(passwd, NULL, uid, &pw) == 0) {
                    gid = pw.gid;
                    username = berth_xstrdup(pw.name);
                }
            }
        } else {
            if (lookup_user_name(rootfs, user, &pw, err) < 0)
                return -1;
            uid = pw.uid;
            gid = pw.gid;
            username = berth_xstrdup(user);
        }
    } else {
        size_t ulen = (size_t)(colon - user);
        const char *g = colon + 1;
        _cleanup_free_ char *uname = NULL;

        if (ulen && !parse_id(user, ulen, &uid))
            uname = berth_xstrndup(user, ulen);
        if (*g && !parse_id(g, strlen(g), &gid)) {
            if (need_etc(rootfs, "etc/group", "group", g, &group, err) < 0)
                return -1;
            if (group_find_gid(group, g, &gid) != 0)
                return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "no groups found for \"%s\"", g);
            free(steal_ptr(group));
        }
        if (uname) {
            if (lookup_user_name(rootfs, uname, &pw, err) < 0)
                return -1;
            uid = pw.uid;
            username = steal_ptr(uname);
        } else if (rootfs) {
            /* WithAdditionalGIDs looks the uid up to get the member name. */
            r = read_etc(rootfs, "etc/passwd", &passwd, err);
            if (r < 0)
                return -1;
            if (r == 0 && passwd_find(passwd, NULL, uid, &pw) == 0)
                username = berth_xstrdup(pw.name);
        }
    }

    if (rootfs && username) {
        r = read_etc(rootfs, "etc/group", &group, err);
        if (r < 0)
            return -1;
        if (r == 0)
            group_supplementary(group, username, out);
    }
    out->uid = uid;
    out->gid = gid;
    return 0;
}
