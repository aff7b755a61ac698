/* SPDX-License-Identifier: Apache-2.0 */
/* Filesystem chores of the snapshot backends (see snapshots-internal.h). nftw() walks keep
 * the code short; they are not re-entrant, so the walk state sits in a per-call struct behind a
 * thread-local pointer. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h> /* nftw for the recursive walks */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h> /* best-effort xattr copy (overlay opaque markers, capabilities) */
#include <unistd.h>

#include "snapshots/snapshots-internal.h"

struct copy_state {
    const char *src, *dst;
    size_t src_len;
    int err_no;
    char *failed;
};
static _Thread_local struct copy_state *copy_cur;

static void copy_xattrs(const char *from, const char *to)
{
    char names[4096], val[4096];
    ssize_t n = llistxattr(from, names, sizeof(names));

    for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
        ssize_t vl = lgetxattr(from, names + off, val, sizeof(val));
        if (vl >= 0)
            (void)lsetxattr(to, names + off, val, (size_t)vl, 0);
    }
}

static int copy_file(const char *from, const char *to, const struct stat *sb)
{
    _cleanup_close_ int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int out = -1;
    char buf[65536];
    ssize_t n;

    if (in < 0)
        return -1;
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, sb->st_mode & 07777);
    if (out < 0)
        return -1;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            return -1;
    return n < 0 ? -1 : 0;
}

static int copy_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    struct copy_state *cs = copy_cur;
    _cleanup_free_ char *to = NULL;
    struct timespec ts[2] = {sb->st_atim, sb->st_mtim};
    int r = 0;

    if (ftw->level == 0)
        return 0; /* the root itself exists already */
    to = berth_strdup_printf("%s%s", cs->dst, path + cs->src_len);
    switch (flag) {
    case FTW_D:
        r = mkdir(to, sb->st_mode & 07777);
        break;
    case FTW_SL: {
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n < 0) {
            r = -1;
            break;
        }
        target[n] = 0;
        r = symlink(target, to);
        break;
    }
    case FTW_F:
        if (S_ISREG(sb->st_mode))
            r = copy_file(path, to, sb);
        else
            r = mknod(to, sb->st_mode, sb->st_rdev);
        break;
    default:
        r = -1;
        errno = EIO;
    }
    if (r < 0) {
        cs->err_no = errno;
        cs->failed = berth_xstrdup(path);
        return 1;
    }
    (void)lchown(to, sb->st_uid, sb->st_gid);
    copy_xattrs(path, to);
    if (!S_ISLNK(sb->st_mode)) {
        (void)chmod(to, sb->st_mode & 07777); /* after chown, which drops setuid bits */
        (void)utimensat(AT_FDCWD, to, ts, AT_SYMLINK_NOFOLLOW);
    }
    return 0;
}

int berth_snap_copy_tree(const char *src, const char *dst, struct berth_err **err)
{
    struct copy_state cs = {.src = src, .dst = dst, .src_len = strlen(src)};
    struct stat sb;
    int r;

    copy_cur = &cs;
    r = nftw(src, copy_cb, 32, FTW_PHYS);
    copy_cur = NULL;
    if (r < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "copy \"%s\"", src);
    if (r > 0) {
        berth_err_set(err, BERTH_E_INTERNAL, cs.err_no, "copy \"%s\"", cs.failed);
        free(cs.failed);
        return -1;
    }
    /* The destination root takes the source root's owner and mode. */
    if (stat(src, &sb) == 0) {
        (void)chown(dst, sb.st_uid, sb.st_gid);
        (void)chmod(dst, sb.st_mode & 07777);
        copy_xattrs(src, dst);
    }
    return 0;
}

struct du_state {
    struct berth_snap_usage u;
    struct {
        dev_t dev;
        ino_t ino;
    } * seen;
    size_t n_seen;
};
static _Thread_local struct du_state *du_cur;

static int du_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    struct du_state *d = du_cur;

    if (flag == FTW_NS || flag == FTW_DNR)
        return 0;
    /* Hard links count once. */
    if (!S_ISDIR(sb->st_mode) && sb->st_nlink > 1) {
        for (size_t i = 0; i < d->n_seen; i++)
            if (d->seen[i].dev == sb->st_dev && d->seen[i].ino == sb->st_ino)
                return 0;
        d->seen = berth_xrealloc(d->seen, (d->n_seen + 1) * sizeof(*d->seen));
        d->seen[d->n_seen].dev = sb->st_dev;
        d->seen[d->n_seen++].ino = sb->st_ino;
    }
    d->u.inodes++;
    d->u.size += (int64_t)sb->st_blocks * 512;
    return 0;
}

int berth_snap_disk_usage(const char *path, struct berth_snap_usage *out, struct berth_err **err)
{
    struct du_state d = {0};
    int r;

    du_cur = &d;
    r = nftw(path, du_cb, 32, FTW_PHYS | FTW_MOUNT);
    du_cur = NULL;
    free(d.seen);
    if (r < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "disk usage of \"%s\"", path);
    *out = d.u;
    return 0;
}
