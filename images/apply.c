/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer extraction (see apply.h). Two libarchive readers in a chain: the first reads the blob
 * fd with the gzip and zstd filters and the "raw" format, so it yields the decompressed byte
 * stream; the second reads the tar format from a callback that pulls from the first and hashes
 * every byte it hands on. After the tar end marker the rest of the stream is drained into the
 * hash too, which makes the digest the sha256 of the whole uncompressed layer (the diff ID).
 * Entries are written with *at() calls on directory fds opened beneath the root
 * (lib/beneath.h: openat2 RESOLVE_BENEATH, or its component walk), never through path strings,
 * so symlinks planted by a layer cannot redirect a write.
 */
#include "images/apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h> /* makedev */
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/beneath.h"
#include "lib/sha256.h"
#include "lib/strset.h"
#include "lib/util.h"

#define IN_BUF   (128 * 1024)
#define OUT_BUF  (256 * 1024)
#define WH       ".wh."
#define WH_OPQ   ".wh..wh..opq"
#define OPQ_NAME "trusted.overlay.opaque"

struct dir_time {
    char *rel;
    struct timespec ts[2];
};

struct applier {
    int root;
    const struct berth_apply_opts *opts;
    int *lowers; /* O_PATH fds of opts->lowers */
    size_t n_lowers;
    bool is_root; /* euid 0: owner and device failures are errors */

    /* stage 1: blob fd -> decompressed bytes */
    struct archive *raw;
    int blob_fd;
    int io_errno; /* read(2) failure on the blob */
    uint8_t *inbuf;
    /* stage 2: decompressed bytes -> tar */
    struct archive *tar;
    uint8_t *outbuf;
    bool raw_eof;
    struct berth_sha256 sha;
    int64_t total;

    /* the parent directory of the last entry, reused while nothing is removed */
    char *cache_rel;
    int cache_fd;

    /* native mode: the paths this layer wrote (its opaque dirs keep them) */
    struct berth_strset written;
    struct dir_time *dirs;
    size_t n_dirs, cap_dirs;
};

static ssize_t blob_read_cb(struct archive *a, void *arg, const void **buf)
{
    struct applier *ap = arg;
    ssize_t n;

    do
        n = read(ap->blob_fd, ap->inbuf, IN_BUF);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        ap->io_errno = errno;
        archive_set_error(a, errno, "read layer blob");
        return -1;
    }
    *buf = ap->inbuf;
    return n;
}

/* Pulls the next decompressed chunk and hashes it. 0 at the end of the stream. */
static ssize_t pull(struct applier *ap, struct archive *dst)
{
    la_ssize_t n;

    if (ap->raw_eof)
        return 0;
    n = archive_read_data(ap->raw, ap->outbuf, OUT_BUF);
    if (n < 0) {
        if (dst)
            archive_set_error(dst, archive_errno(ap->raw), "%s",
                              archive_error_string(ap->raw) ? archive_error_string(ap->raw)
                                                            : "decompression failed");
        return -1;
    }
    if (n == 0) {
        ap->raw_eof = true;
        return 0;
    }
    berth_sha256_update(&ap->sha, ap->outbuf, (size_t)n);
    ap->total += n;
    return n;
}

static ssize_t tar_read_cb(struct archive *a, void *arg, const void **buf)
{
    struct applier *ap = arg;

    *buf = ap->outbuf;
    return pull(ap, a);
}

/* ---- paths ---- */

/* Cleans an entry name into a relative path below the root ("" = the root itself): leading
 * '/' and "." components dropped, ".." folded. Returns false if a ".." climbs above the root. */
static bool clean_path(const char *name, char **out)
{
    size_t len = strlen(name);
    char *res = berth_xmalloc(len + 1);
    size_t n = 0;
    const char *p = name;

    while (*p) {
        const char *slash = strchr(p, '/');
        size_t clen = slash ? (size_t)(slash - p) : strlen(p);
        if (clen == 0 || (clen == 1 && p[0] == '.')) {
            /* skip */
        } else if (clen == 2 && p[0] == '.' && p[1] == '.') {
            if (n == 0) {
                free(res);
                return false;
            }
            while (n > 0 && res[n - 1] != '/')
                n--;
            if (n > 0)
                n--; /* the '/' before the dropped component */
        } else {
            if (n > 0)
                res[n++] = '/';
            memcpy(res + n, p, clen);
            n += clen;
        }
        p += clen;
        if (*p == '/')
            p++;
    }
    res[n] = '\0';
    *out = res;
    return true;
}

/* Splits rel at its last '/': *dir is a new string ("" for the root), *base points into rel. */
static void split_path(const char *rel, char **dir, const char **base)
{
    const char *slash = strrchr(rel, '/');

    *dir = slash ? berth_xstrndup(rel, (size_t)(slash - rel)) : berth_xstrdup("");
    *base = slash ? slash + 1 : rel;
}

static int resolve_err(const char *entry, int e, struct berth_err **err)
{
    if (e == EXDEV || e == ELOOP)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "layer entry \"%s\": path resolves outside the root", entry);
    if (e == ENOTDIR)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "layer entry \"%s\": a parent is not a directory", entry);
    return berth_err_set(err, BERTH_E_INTERNAL, e, "layer entry \"%s\": open parent", entry);
}

static void cache_drop(struct applier *ap)
{
    free(ap->cache_rel);
    ap->cache_rel = NULL;
    berth_closep(&ap->cache_fd);
}

static struct timespec clamp_ts(int64_t sec, long nsec)
{
    struct timespec t = {.tv_sec = sec < 0 ? 0 : (time_t)sec, .tv_nsec = sec < 0 ? 0 : nsec};
    return t;
}

static void remember_dir_time(struct applier *ap, const char *rel, const struct timespec ts[2])
{
    if (ap->n_dirs == ap->cap_dirs) {
        ap->cap_dirs = ap->cap_dirs ? ap->cap_dirs * 2 : 64;
        ap->dirs = berth_xrealloc(ap->dirs, ap->cap_dirs * sizeof(*ap->dirs));
    }
    ap->dirs[ap->n_dirs].rel = berth_xstrdup(rel);
    ap->dirs[ap->n_dirs].ts[0] = ts[0];
    ap->dirs[ap->n_dirs].ts[1] = ts[1];
    ap->n_dirs++;
}

/* Gives a directory created implicitly the metadata of the same path in the first lower that
 * has it (overlay mode), else 0755. */
static void implicit_dir_meta(struct applier *ap, int fd, const char *rel)
{
    for (size_t i = 0; i < ap->n_lowers; i++) {
        _cleanup_close_ int lfd = berth_open_beneath(ap->lowers[i], rel, O_PATH | O_NOFOLLOW);
        struct stat st;
        if (lfd < 0 || fstat(lfd, &st) < 0)
            continue;
        if (!S_ISDIR(st.st_mode))
            break; /* a file or whiteout hides anything further down */
        if (fchown(fd, st.st_uid, st.st_gid) < 0 && ap->is_root)
            break;
        if (fchmod(fd, st.st_mode & 07777) == 0) {
            struct timespec ts[2] = {st.st_atim, st.st_mtim};
            remember_dir_time(ap, rel, ts);
            return;
        }
        break;
    }
    (void)fchmod(fd, 0755);
}

/* Opens (O_RDONLY|O_DIRECTORY) the directory rel below the root, creating missing
 * components when create is set. The fd is the cache's: borrowed until the next call. */
static int open_dir(struct applier *ap, const char *entry, const char *rel, bool create, int *out,
                    struct berth_err **err)
{
    _cleanup_free_ char *prefix = NULL;
    int fd;

    if (ap->cache_rel && strcmp(ap->cache_rel, rel) == 0) {
        *out = ap->cache_fd;
        return 0;
    }
    cache_drop(ap);
    fd = berth_open_beneath(ap->root, rel, O_RDONLY | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT && create) {
        /* Walk down from the root, creating each missing component below its parent fd. */
        _cleanup_close_ int cur = berth_open_beneath(ap->root, "", O_RDONLY | O_DIRECTORY);
        size_t len = strlen(rel);

        if (cur < 0)
            return resolve_err(entry, errno, err);
        prefix = berth_xmalloc(len + 1);
        for (size_t i = 0; i <= len; i++) {
            if (rel[i] != '/' && rel[i] != '\0')
                continue;
            memcpy(prefix, rel, i);
            prefix[i] = '\0';
            const char *comp = strrchr(prefix, '/') ? strrchr(prefix, '/') + 1 : prefix;
            int next = berth_open_beneath(ap->root, prefix, O_RDONLY | O_DIRECTORY);
            if (next < 0 && errno == ENOENT) {
                if (mkdirat(cur, comp, 0700) < 0 && errno != EEXIST)
                    return berth_err_set(err, BERTH_E_INTERNAL, errno,
                                         "layer entry \"%s\": mkdir \"%s\"", entry, prefix);
                next = berth_open_beneath(ap->root, prefix, O_RDONLY | O_DIRECTORY);
                if (next >= 0)
                    implicit_dir_meta(ap, next, prefix);
            }
            if (next < 0)
                return resolve_err(entry, errno, err);
            berth_closep(&cur);
            cur = next;
        }
        fd = steal_fd(cur);
    }
    if (fd < 0)
        return resolve_err(entry, errno, err);
    ap->cache_rel = berth_xstrdup(rel);
    ap->cache_fd = fd;
    *out = fd;
    return 0;
}

/* rm -rf of name below dirfd without following symlinks. ENOENT is success. */
static int remove_all_at(int parent, const char *name)
{
    int fd;
    DIR *d;
    struct dirent *de;
    int ret = 0;

    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (remove_all_at(dirfd(d), de->d_name) < 0)
            ret = -1;
    }
    closedir(d);
    if (ret < 0)
        return -1;
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

/* ---- entry metadata ---- */

static bool skip_owner_err(const struct applier *ap, int e)
{
    return !ap->is_root && (e == EPERM || e == EINVAL);
}

static int set_xattrs(struct applier *ap, struct archive_entry *e, int pfd, const char *base,
                      const char *entry, int fd, bool reg_or_dir, struct berth_err **err)
{
    const char *name;
    const void *value;
    size_t size;
    char proc[64];

    if (archive_entry_xattr_reset(e) == 0)
        return 0;
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d/", pfd);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        int r;
        /* overlayfs reads these from the upperdir (redirects, metacopy): never from a layer */
        if (berth_str_has_prefix(name, "trusted.overlay."))
            continue;
        if (fd >= 0) {
            r = fsetxattr(fd, name, value, size, 0);
        } else {
            _cleanup_free_ char *path = berth_strdup_printf("%s%s", proc, base);
            r = lsetxattr(path, name, value, size, 0);
        }
        if (r == 0 || errno == ENOTSUP)
            continue;
        if (errno == EPERM && (!reg_or_dir || !ap->is_root))
            continue;
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": set xattr \"%s\"",
                             entry, name);
    }
    return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
    int64_t ms = archive_entry_mtime(e),
            as = archive_entry_atime_is_set(e) ? archive_entry_atime(e) : 0;
    long mn = archive_entry_mtime_nsec(e), an = archive_entry_atime_nsec(e);

    ts[1] = clamp_ts(ms, mn);
    /* containerd sets atime to the later of atime and mtime */
    if (as > ms || (as == ms && an > mn))
        ts[0] = clamp_ts(as, an);
    else
        ts[0] = ts[1];
}

/* ---- entry kinds ---- */

static int write_reg(struct applier *ap, struct archive_entry *e, int pfd, const char *base,
                     const char *entry, struct berth_err **err)
{
    _cleanup_close_ int fd = -1;
    int64_t end = 0, size = archive_entry_size(e);
    struct timespec ts[2];

    fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": create", entry);
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(ap->tar, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return berth_err_set(err, ap->io_errno ? BERTH_E_INTERNAL : BERTH_E_INVALID_ARGUMENT,
                                 ap->io_errno, "layer entry \"%s\": %s", entry,
                                 archive_error_string(ap->tar));
        for (size_t done = 0; done < len;) {
            ssize_t w = pwrite(fd, (const uint8_t *)buf + done, len - done, off + (off_t)done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": write",
                                     entry);
            done += (size_t)w;
        }
        if (off + (int64_t)len > end)
            end = off + (int64_t)len;
    }
    if (size > end && ftruncate(fd, size) < 0) /* a sparse tail */
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": truncate", entry);
    if (fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) < 0 && !skip_owner_err(ap, errno))
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": chown", entry);
    if (set_xattrs(ap, e, pfd, base, entry, fd, true, err) < 0)
        return -1;
    /* after chown, which clears setuid/setgid */
    if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": chmod", entry);
    entry_times(e, ts);
    if (futimens(fd, ts) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": utimens", entry);
    return 0;
}

static int write_dir(struct applier *ap, struct archive_entry *e, int pfd, const char *base,
                     const char *rel, const char *entry, bool exists, struct berth_err **err)
{
    _cleanup_close_ int fd = -1;
    struct timespec ts[2];

    if (!exists && mkdirat(pfd, base, 0700) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": mkdir", entry);
    fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": open", entry);
    if (fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) < 0 && !skip_owner_err(ap, errno))
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": chown", entry);
    if (set_xattrs(ap, e, pfd, base, entry, fd, true, err) < 0)
        return -1;
    if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": chmod", entry);
    /* children change the mtime: directory times are set once the layer is done */
    entry_times(e, ts);
    remember_dir_time(ap, rel, ts);
    return 0;
}

static int write_special(struct applier *ap, struct archive_entry *e, int pfd, const char *base,
                         const char *entry, mode_t type, struct berth_err **err)
{
    mode_t perm = archive_entry_perm(e) & 07777;
    struct timespec ts[2];

    if (type == AE_IFLNK) {
        const char *target = archive_entry_symlink(e);
        if (!target)
            target = archive_entry_symlink_utf8(e);
        if (!target || !*target)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "layer entry \"%s\": symlink without a target", entry);
        if (symlinkat(target, pfd, base) < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": symlink",
                                 entry);
    } else {
        dev_t dev =
            type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        if (mknodat(pfd, base, (mode_t)type | perm, dev) < 0) {
            /* unprivileged (tests, user namespaces): devices are skipped, as containerd does */
            if (errno == EPERM && !ap->is_root && type != AE_IFIFO)
                return 0;
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": mknod", entry);
        }
    }
    if (fchownat(pfd, base, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0 &&
        !skip_owner_err(ap, errno))
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": chown", entry);
    if (set_xattrs(ap, e, pfd, base, entry, -1, false, err) < 0)
        return -1;
    /* no lchmod on Linux; the node was just created by us, so this follows nothing */
    if (type != AE_IFLNK && fchmodat(pfd, base, perm, 0) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": chmod", entry);
    entry_times(e, ts);
    if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": utimens", entry);
    return 0;
}

static int write_hardlink(struct applier *ap, const char *link, int pfd, const char *base,
                          const char *entry, struct berth_err **err)
{
    _cleanup_free_ char *trel = NULL, *tdir = NULL;
    _cleanup_close_ int tfd = -1;
    const char *tbase;

    if (!clean_path(link, &trel) || !*trel)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "layer entry \"%s\": hardlink target \"%s\" is outside the root",
                             entry, link);
    split_path(trel, &tdir, &tbase);
    tfd = berth_open_beneath(ap->root, tdir, O_RDONLY | O_DIRECTORY);
    if (tfd < 0) {
        if (errno == ENOENT)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "layer entry \"%s\": hardlink target \"%s\" not found", entry,
                                 link);
        return resolve_err(entry, errno, err);
    }
    /* flags 0: a symlink target is linked itself, never followed */
    if (linkat(tfd, tbase, pfd, base, 0) < 0) {
        if (errno == ENOENT || errno == EPERM)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, errno,
                                 "layer entry \"%s\": hardlink to \"%s\"", entry, link);
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": hardlink", entry);
    }
    return 0;
}

static int whiteout(struct applier *ap, struct archive_entry *e, const char *dir, const char *base,
                    const char *entry, struct berth_err **err)
{
    bool overlay = ap->opts->mode == BERTH_APPLY_OVERLAY;
    int pfd;

    if (strcmp(base, WH_OPQ) == 0) {
        if (open_dir(ap, entry, dir, overlay, &pfd, err) < 0) {
            if (!overlay && (*err)->code == BERTH_E_INTERNAL && (*err)->sys_errno == ENOENT) {
                berth_err_free(err);
                return 0;
            }
            return -1;
        }
        if (overlay) {
            if (fsetxattr(pfd, OPQ_NAME, "y", 1, 0) < 0)
                return berth_err_set(err, BERTH_E_INTERNAL, errno,
                                     "layer entry \"%s\": set opaque xattr", entry);
            return 0;
        }
        /* native: drop everything in dir that this layer did not write */
        int dfd = dup(pfd);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        struct dirent *de;
        if (!d) {
            if (dfd >= 0)
                close(dfd);
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": opendir",
                                 entry);
        }
        int ret = 0;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            _cleanup_free_ char *rel =
                *dir ? berth_strdup_printf("%s/%s", dir, de->d_name) : berth_xstrdup(de->d_name);
            if (berth_strset_has(&ap->written, rel))
                continue;
            if (remove_all_at(dirfd(d), de->d_name) < 0) {
                ret = berth_err_set(err, BERTH_E_INTERNAL, errno,
                                    "layer entry \"%s\": remove \"%s\"", entry, rel);
                break;
            }
        }
        closedir(d);
        return ret;
    }

    const char *target = base + strlen(WH);
    if (!*target || strcmp(target, ".") == 0 || strcmp(target, "..") == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "layer entry \"%s\": whiteout leaves its directory", entry);
    if (open_dir(ap, entry, dir, overlay, &pfd, err) < 0) {
        if (!overlay && (*err)->code == BERTH_E_INTERNAL && (*err)->sys_errno == ENOENT) {
            berth_err_free(err);
            return 0; /* nothing to delete */
        }
        return -1;
    }
    /* removals only ever touch children of the cached parent, so the cache stays valid */
    if (remove_all_at(pfd, target) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": remove", entry);
    if (!overlay)
        return 0;
    if (mknodat(pfd, target, S_IFCHR, makedev(0, 0)) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": mknod whiteout",
                             entry);
    if (fchownat(pfd, target, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) <
            0 &&
        !skip_owner_err(ap, errno))
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": chown", entry);
    return 0;
}

static int apply_entry(struct applier *ap, struct archive_entry *e, struct berth_err **err)
{
    _cleanup_free_ char *rel = NULL, *dir = NULL;
    const char *name = archive_entry_pathname(e), *base, *link;
    mode_t type = archive_entry_filetype(e);
    struct stat st;
    bool exists = false;
    int pfd;

    if (!name)
        name = archive_entry_pathname_utf8(e);
    if (!name)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "layer entry without a name");
    if (!clean_path(name, &rel))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "layer entry \"%s\": path escapes the root", name);
    if (!*rel)
        return 0; /* the root itself: containerd skips it */
    split_path(rel, &dir, &base);
    if (berth_str_has_prefix(base, WH))
        return whiteout(ap, e, dir, base, name, err);

    link = archive_entry_hardlink(e);
    if (!link)
        link = archive_entry_hardlink_utf8(e);
    if (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR &&
        type != AE_IFBLK && type != AE_IFIFO)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "layer entry \"%s\": unsupported type 0%o", name, (unsigned)type);
    if (open_dir(ap, name, dir, true, &pfd, err) < 0)
        return -1;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode) && type == AE_IFDIR && !link) {
            exists = true;
        } else {
            /* whatever is there goes, a directory with its contents */
            if (remove_all_at(pfd, base) < 0)
                return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": remove",
                                     name);
        }
    } else if (errno != ENOENT) {
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": stat", name);
    }

    int ret;
    if (link)
        ret = write_hardlink(ap, link, pfd, base, name, err);
    else if (type == AE_IFREG)
        ret = write_reg(ap, e, pfd, base, name, err);
    else if (type == AE_IFDIR)
        ret = write_dir(ap, e, pfd, base, rel, name, exists, err);
    else
        ret = write_special(ap, e, pfd, base, name, type, err);
    if (ret < 0)
        return -1;
    if (ap->opts->mode == BERTH_APPLY_NATIVE)
        berth_strset_add(&ap->written, rel);
    return 0;
}

static int set_dir_times(struct applier *ap, struct berth_err **err)
{
    /* deepest first is not needed: utimensat on a dir does not touch its parent's mtime */
    for (size_t i = 0; i < ap->n_dirs; i++) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int pfd = -1;
        const char *base;

        split_path(ap->dirs[i].rel, &dir, &base);
        pfd = berth_open_beneath(ap->root, dir, O_RDONLY | O_DIRECTORY);
        if (pfd < 0)
            continue; /* removed later in the layer */
        if (utimensat(pfd, base, ap->dirs[i].ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "layer entry \"%s\": utimens",
                                 ap->dirs[i].rel);
    }
    return 0;
}

static void applier_clear(struct applier *ap)
{
    if (ap->tar)
        archive_read_free(ap->tar);
    if (ap->raw)
        archive_read_free(ap->raw);
    free(ap->inbuf);
    free(ap->outbuf);
    cache_drop(ap);
    berth_strset_clear(&ap->written);
    for (size_t i = 0; i < ap->n_dirs; i++)
        free(ap->dirs[i].rel);
    free(ap->dirs);
    for (size_t i = 0; i < ap->n_lowers; i++)
        close(ap->lowers[i]);
    free(ap->lowers);
}

static int open_chain(struct applier *ap, struct berth_err **err)
{
    struct archive_entry *re;
    int r;

    ap->raw = archive_read_new();
    ap->tar = archive_read_new();
    if (!ap->raw || !ap->tar)
        abort();
    /* only what containerd decompresses: gzip, zstd, or nothing */
    if (archive_read_support_filter_gzip(ap->raw) < ARCHIVE_WARN ||
        archive_read_support_filter_zstd(ap->raw) < ARCHIVE_WARN ||
        archive_read_support_format_raw(ap->raw) != ARCHIVE_OK ||
        archive_read_support_format_tar(ap->tar) != ARCHIVE_OK)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "libarchive setup: %s",
                             archive_error_string(ap->raw));
    r = archive_read_open(ap->raw, ap, NULL, blob_read_cb, NULL);
    if (r == ARCHIVE_OK)
        r = archive_read_next_header(ap->raw, &re);
    if (r == ARCHIVE_EOF) {
        ap->raw_eof = true;
    } else if (r < ARCHIVE_WARN) {
        return berth_err_set(err, ap->io_errno ? BERTH_E_INTERNAL : BERTH_E_INVALID_ARGUMENT,
                             ap->io_errno, "layer: %s", archive_error_string(ap->raw));
    }
    if (archive_read_open(ap->tar, ap, NULL, tar_read_cb, NULL) != ARCHIVE_OK)
        return berth_err_set(err, ap->io_errno ? BERTH_E_INTERNAL : BERTH_E_INVALID_ARGUMENT,
                             ap->io_errno, "layer: %s", archive_error_string(ap->tar));
    return 0;
}

int berth_apply_layer_opts(int blob_fd, int root_dirfd, const struct berth_apply_opts *opts,
                           char digest_out[72], int64_t *size_out, struct berth_err **err)
{
    static const struct berth_apply_opts native = {.mode = BERTH_APPLY_NATIVE};
    struct applier ap = {.root = root_dirfd, .blob_fd = blob_fd, .cache_fd = -1};
    int ret = -1;

    if (!opts)
        opts = &native;
    ap.opts = opts;
    ap.is_root = geteuid() == 0;
    ap.inbuf = berth_xmalloc(IN_BUF);
    ap.outbuf = berth_xmalloc(OUT_BUF);
    berth_sha256_init(&ap.sha);
    if (opts->mode == BERTH_APPLY_OVERLAY && opts->lowers) {
        size_t n = berth_strv_len((char *const *)opts->lowers);
        ap.lowers = berth_xcalloc(n ? n : 1, sizeof(int));
        for (size_t i = 0; i < n; i++) {
            int fd = open(opts->lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) {
                berth_err_set(err, BERTH_E_INVALID_ARGUMENT, errno, "lower directory \"%s\"",
                              opts->lowers[i]);
                goto out;
            }
            ap.lowers[ap.n_lowers++] = fd;
        }
    }
    if (open_chain(&ap, err) < 0)
        goto out;
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(ap.tar, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            berth_err_set(err, ap.io_errno ? BERTH_E_INTERNAL : BERTH_E_INVALID_ARGUMENT,
                          ap.io_errno, "layer: %s", archive_error_string(ap.tar));
            goto out;
        }
        if (apply_entry(&ap, e, err) < 0)
            goto out;
    }
    /* the tar reader stops at the end marker: the rest still belongs to the diff ID */
    for (;;) {
        ssize_t n = pull(&ap, NULL);
        if (n == 0)
            break;
        if (n < 0) {
            berth_err_set(err, ap.io_errno ? BERTH_E_INTERNAL : BERTH_E_INVALID_ARGUMENT,
                          ap.io_errno, "layer: %s", archive_error_string(ap.raw));
            goto out;
        }
    }
    if (set_dir_times(&ap, err) < 0)
        goto out;
    berth_sha256_digest_str(&ap.sha, digest_out);
    if (size_out)
        *size_out = ap.total;
    ret = 0;
out:
    applier_clear(&ap);
    return ret;
}

int berth_apply_layer(int blob_fd, int root_dirfd, enum berth_apply_mode mode, char digest_out[72],
                      int64_t *size_out, struct berth_err **err)
{
    struct berth_apply_opts opts = {.mode = mode};
    return berth_apply_layer_opts(blob_fd, root_dirfd, &opts, digest_out, size_out, err);
}
