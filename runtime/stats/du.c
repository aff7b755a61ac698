/* SPDX-License-Identifier: Apache-2.0 */
/* Disk usage of a tree for the CRI's WritableLayer and ImageFsInfo: a walk with openat and
 * fstatat (no symlink ever followed, no path rebuilt per entry) counting each inode once, as
 * containerd's continuity fs.DiskUsage does. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"
#include "runtime/stats/stats.h"

/* The inode numbers of multiply-linked files already counted: an open-addressing set (the
 * walk stays on one file system, so the inode number alone is the key). 0 marks a free slot;
 * inode 0 is never handed out but gets its own flag all the same. */
struct du_set {
    uint64_t *slots;
    size_t cap, len;
    bool has_zero;
};

/* true when ino was not in the set yet (and is now). */
static bool du_set_add(struct du_set *s, uint64_t ino)
{
    size_t i;

    if (ino == 0) {
        bool fresh = !s->has_zero;
        s->has_zero = true;
        return fresh;
    }
    if ((s->len + 1) * 2 > s->cap) {
        struct du_set grown = {.cap = s->cap ? s->cap * 2 : 64};

        grown.slots = berth_xcalloc(grown.cap, sizeof(*grown.slots));
        for (size_t j = 0; j < s->cap; j++)
            if (s->slots[j])
                du_set_add(&grown, s->slots[j]);
        free(s->slots);
        s->slots = grown.slots;
        s->cap = grown.cap;
    }
    /* Fibonacci hashing spreads the mostly sequential inode numbers of ext4 and xfs. */
    i = (size_t)((ino * UINT64_C(11400714819323198485)) >> 32) & (s->cap - 1);
    while (s->slots[i]) {
        if (s->slots[i] == ino)
            return false;
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i] = ino;
    s->len++;
    return true;
}

struct du_walk {
    dev_t dev;
    struct du_set links;
    uint64_t bytes, inodes;
};

static void du_count(struct du_walk *w, const struct stat *st)
{
    /* Directories cannot be hard linked: only other multiply-linked inodes need the set. */
    if (!S_ISDIR(st->st_mode) && st->st_nlink > 1 && !du_set_add(&w->links, st->st_ino))
        return;
    w->bytes += (uint64_t)st->st_blocks * 512;
    w->inodes++;
}

static bool vanished(int e)
{
    return e == ENOENT || e == ENOTDIR;
}

/* Counts the entries of the open directory fd (consumed) and recurses into subdirectories.
 * path names it in errors only. */
static int du_dir(struct du_walk *w, int fd, const char *path, struct berth_err **err)
{
    DIR *d = fdopendir(fd);
    struct dirent *de;
    int ret = 0;

    if (!d) {
        int e = errno;
        close(fd);
        return berth_err_set(err, BERTH_E_INTERNAL, e, "open directory \"%s\"", path);
    }
    for (;;) {
        struct stat st;
        int sub;

        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno)
                ret = berth_err_set(err, BERTH_E_INTERNAL, errno, "read directory \"%s\"", path);
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (vanished(errno))
                continue;
            ret = berth_err_set(err, BERTH_E_INTERNAL, errno, "stat \"%s/%s\"", path, de->d_name);
            break;
        }
        /* Another file system's root shows through a mount point: not ours to count. */
        if (st.st_dev != w->dev)
            continue;
        du_count(w, &st);
        if (!S_ISDIR(st.st_mode))
            continue;
        sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            if (vanished(errno))
                continue;
            ret = berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s/%s\"", path, de->d_name);
            break;
        }
        _cleanup_free_ char *subpath = berth_strdup_printf("%s/%s", path, de->d_name);
        if (du_dir(w, sub, subpath, err) < 0) {
            ret = -1;
            break;
        }
    }
    closedir(d);
    return ret;
}

int berth_dir_usage(const char *path, uint64_t *bytes, uint64_t *inodes, struct berth_err **err)
{
    struct du_walk w = {0};
    struct stat st;
    int fd, ret;

    /* lstat first: a non-directory (a symlink included) is counted without opening it, so a
     * device node or FIFO is never opened. */
    if (lstat(path, &st) < 0)
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                             "stat \"%s\"", path);
    if (!S_ISDIR(st.st_mode)) {
        *bytes = (uint64_t)st.st_blocks * 512;
        *inodes = 1;
        return 0;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return berth_err_set(err, e == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, e,
                             "open \"%s\"", path);
    }
    w.dev = st.st_dev;
    du_count(&w, &st);
    ret = du_dir(&w, fd, path, err);
    free(w.links.slots);
    if (ret < 0)
        return -1;
    *bytes = w.bytes;
    *inodes = w.inodes;
    return 0;
}
