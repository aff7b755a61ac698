/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The walking differ (diff.h): a merged depth-first walk of lower and upper (or of an overlay
 * upperdir alone) feeding libarchive's PAX writer, whose output is hashed and optionally
 * deflated with zlib before it reaches the sink.
 */
#include "images/diff.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/sha256.h"
#include "lib/util.h"

#define WHITEOUT_PREFIX      ".wh."
#define OPAQUE_MARKER        ".wh..wh..opq"
#define OVERLAY_XATTR_PREFIX "trusted.overlay."
#define CHUNK                (64 * 1024)

struct hardlink {
    dev_t dev;
    ino_t ino;
    char *name;
};

struct differ {
    const struct berth_diff_opts *o;
    struct archive *a;
    struct berth_sha256 sha;
    int64_t tar_size;
    bool z_open;
    z_stream z;
    berth_diff_sink_fn sink;
    void *arg;
    struct berth_err *err; /* first failure seen inside a libarchive callback */
    struct hardlink *links;
    size_t n_links;
    unsigned char buf[CHUNK];  /* deflate output */
    unsigned char rbuf[CHUNK]; /* file data read */
};

/* ---- output: hash, deflate, sink ---- */

static int deflate_out(struct differ *d, const void *data, size_t len, int flush)
{
    int zr;

    d->z.next_in = (Bytef *)data;
    d->z.avail_in = (uInt)len;
    do {
        d->z.next_out = d->buf;
        d->z.avail_out = sizeof(d->buf);
        zr = deflate(&d->z, flush);
        if (zr == Z_STREAM_ERROR)
            return berth_err_set(&d->err, BERTH_E_INTERNAL, 0, "diff: deflate failed");
        size_t have = sizeof(d->buf) - d->z.avail_out;
        if (have && d->sink(d->arg, d->buf, have, &d->err) < 0)
            return -1;
    } while (d->z.avail_out == 0);
    if (flush == Z_FINISH && zr != Z_STREAM_END)
        return berth_err_set(&d->err, BERTH_E_INTERNAL, 0, "diff: deflate did not finish");
    return 0;
}

static la_ssize_t write_cb(struct archive *a, void *arg, const void *data, size_t len)
{
    struct differ *d = arg;

    /* A failure is kept in d->err and checked after every entry rather than returned: a
     * libarchive writer in the fatal state leaks its filter on free. */
    (void)a;
    if (d->err)
        return (la_ssize_t)len;
    berth_sha256_update(&d->sha, data, len);
    d->tar_size += (int64_t)len;
    if (d->o->gzip)
        (void)deflate_out(d, data, len, Z_NO_FLUSH);
    else
        (void)d->sink(d->arg, data, len, &d->err);
    return (la_ssize_t)len;
}

/* ---- entries ---- */

static int archive_fail(struct differ *d, const char *what, const char *name,
                        struct berth_err **err)
{
    if (d->err)
        return *err = steal_ptr(d->err), berth_err_wrap(err, "diff: %s \"%s\"", what, name);
    return berth_err_set(err, BERTH_E_INTERNAL, archive_errno(d->a), "diff: %s \"%s\": %s", what,
                         name, archive_error_string(d->a) ? archive_error_string(d->a) : "?");
}

static void clamp_time(const struct differ *d, struct archive_entry *e, time_t sec, long nsec)
{
    if (d->o->source_date_epoch >= 0 && sec > d->o->source_date_epoch) {
        sec = (time_t)d->o->source_date_epoch;
        nsec = 0;
    }
    archive_entry_set_mtime(e, sec, nsec);
}

/* An empty regular file marking a deletion or an opaque directory. */
static int write_marker(struct differ *d, const char *name, struct berth_err **err)
{
    struct archive_entry *e = archive_entry_new();
    int r;

    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0);
    archive_entry_set_size(e, 0);
    archive_entry_set_mtime(e, 0, 0);
    r = archive_write_header(d->a, e);
    archive_entry_free(e);
    return r < ARCHIVE_WARN ? archive_fail(d, "write", name, err) : 0;
}

static int add_xattrs(struct archive_entry *e, const char *path, struct berth_err **err)
{
    _cleanup_free_ char *names = NULL;
    ssize_t len = llistxattr(path, NULL, 0);

    if (len < 0 && (errno == ENOTSUP || errno == ENODATA))
        return 0;
    if (len <= 0)
        return len < 0 ? berth_err_set(err, BERTH_E_INTERNAL, errno, "diff: listxattr \"%s\"", path)
                       : 0;
    names = berth_xmalloc((size_t)len + 1);
    len = llistxattr(path, names, (size_t)len);
    if (len < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "diff: listxattr \"%s\"", path);
    for (char *n = names; n < names + len; n += strlen(n) + 1) {
        if (strncmp(n, OVERLAY_XATTR_PREFIX, strlen(OVERLAY_XATTR_PREFIX)) == 0)
            continue;
        ssize_t vlen = lgetxattr(path, n, NULL, 0);
        if (vlen < 0)
            continue; /* vanished or not readable: not part of the change */
        _cleanup_free_ char *v = berth_xmalloc((size_t)vlen + 1);
        vlen = lgetxattr(path, n, v, (size_t)vlen);
        if (vlen >= 0)
            archive_entry_xattr_add_entry(e, n, v, (size_t)vlen);
    }
    return 0;
}

static int copy_data(struct differ *d, const char *path, const char *name, struct berth_err **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "diff: open \"%s\"", path);
    for (;;) {
        ssize_t n = read(fd, d->rbuf, sizeof(d->rbuf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "diff: read \"%s\"", path);
        if (n == 0)
            return 0;
        if (archive_write_data(d->a, d->rbuf, (size_t)n) != n)
            return archive_fail(d, "write data of", name, err);
    }
}

static int write_entry(struct differ *d, const char *name, const char *path, const struct stat *st,
                       struct berth_err **err)
{
    struct archive_entry *e = archive_entry_new();
    const char *link_to = NULL;
    int ret = -1;

    archive_entry_copy_stat(e, st);
    archive_entry_unset_atime(e);
    archive_entry_unset_ctime(e);
    archive_entry_unset_birthtime(e);
    archive_entry_set_nlink(e, 1);
    archive_entry_set_ino64(e, 0);
    archive_entry_set_dev(e, 0);
    clamp_time(d, e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    if (S_ISDIR(st->st_mode)) {
        _cleanup_free_ char *slash = berth_strdup_printf("%s/", name);
        archive_entry_set_pathname(e, slash);
    } else {
        archive_entry_set_pathname(e, name);
    }
    if (!S_ISREG(st->st_mode))
        archive_entry_set_size(e, 0);
    if (S_ISLNK(st->st_mode)) {
        char target[PATH_MAX + 1];
        ssize_t n = readlink(path, target, PATH_MAX);
        if (n < 0) {
            berth_err_set(err, BERTH_E_INTERNAL, errno, "diff: readlink \"%s\"", path);
            goto out;
        }
        target[n] = '\0';
        archive_entry_set_symlink(e, target);
    }
    if (S_ISREG(st->st_mode) && st->st_nlink > 1) {
        for (size_t i = 0; i < d->n_links; i++)
            if (d->links[i].dev == st->st_dev && d->links[i].ino == st->st_ino)
                link_to = d->links[i].name;
        if (link_to) {
            archive_entry_set_hardlink(e, link_to);
            archive_entry_set_size(e, 0);
        } else {
            d->links = berth_xrealloc(d->links, (d->n_links + 1) * sizeof(*d->links));
            d->links[d->n_links++] = (struct hardlink){st->st_dev, st->st_ino, berth_xstrdup(name)};
        }
    }
    if (!link_to && add_xattrs(e, path, err) < 0)
        goto out;
    if (archive_write_header(d->a, e) < ARCHIVE_WARN) {
        archive_fail(d, "write", name, err);
        goto out;
    }
    if (S_ISREG(st->st_mode) && !link_to && st->st_size > 0 && copy_data(d, path, name, err) < 0)
        goto out;
    ret = 0;
out:
    archive_entry_free(e);
    return ret;
}

/* ---- comparing ---- */

static bool same_content(const char *a, const char *b)
{
    _cleanup_close_ int fa = open(a, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int fb = open(b, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    char ba[8192], bb[8192];

    if (fa < 0 || fb < 0)
        return false;
    for (;;) {
        ssize_t na = read(fa, ba, sizeof(ba));
        if (na < 0)
            return false;
        size_t got = 0;
        while (got < (size_t)na) {
            ssize_t nb = read(fb, bb + got, (size_t)na - got);
            if (nb <= 0)
                return false;
            got += (size_t)nb;
        }
        if (na == 0)
            return read(fb, bb, 1) == 0;
        if (memcmp(ba, bb, (size_t)na) != 0)
            return false;
    }
}

static bool same_link(const char *a, const char *b)
{
    char ta[PATH_MAX + 1], tb[PATH_MAX + 1];
    ssize_t na = readlink(a, ta, PATH_MAX), nb = readlink(b, tb, PATH_MAX);

    return na >= 0 && na == nb && memcmp(ta, tb, (size_t)na) == 0;
}

static bool unchanged(const char *lp, const struct stat *l, const char *up, const struct stat *u)
{
    if (l->st_mode != u->st_mode || l->st_uid != u->st_uid || l->st_gid != u->st_gid ||
        l->st_mtim.tv_sec != u->st_mtim.tv_sec || l->st_mtim.tv_nsec != u->st_mtim.tv_nsec)
        return false;
    if (S_ISCHR(u->st_mode) || S_ISBLK(u->st_mode))
        return l->st_rdev == u->st_rdev;
    if (S_ISLNK(u->st_mode))
        return same_link(lp, up);
    if (S_ISREG(u->st_mode)) {
        if (l->st_size != u->st_size)
            return false;
        /* sub-second mtimes make an equal stat convincing; whole seconds do not */
        return u->st_mtim.tv_nsec != 0 || same_content(lp, up);
    }
    return true;
}

/* ---- the walk ---- */

static int skip_dots(const struct dirent *de)
{
    return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

static int by_bytes(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

struct names {
    struct dirent **v;
    int n;
};

static void names_clear(struct names *ns)
{
    for (int i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
}

static int list_dir(const char *path, struct names *out, struct berth_err **err)
{
    out->v = NULL;
    out->n = 0;
    if (!path)
        return 0;
    int n = scandir(path, &out->v, skip_dots, by_bytes);
    if (n < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "diff: read dir \"%s\"", path);
    out->n = n;
    return 0;
}

static bool is_opaque(const char *path)
{
    char v[2];
    ssize_t n = lgetxattr(path, OVERLAY_XATTR_PREFIX "opaque", v, sizeof(v));

    return n == 1 && v[0] == 'y';
}

static char *join(const char *a, const char *b)
{
    return *a ? berth_strdup_printf("%s/%s", a, b) : berth_xstrdup(b);
}

/* Walks the directory rel, present in upper as up and in lower as lp (NULL: absent there). */
static int walk(struct differ *d, const char *rel, const char *lp, const char *up,
                struct berth_err **err)
{
    struct names un, ln = {0};
    int ret = -1, i = 0, j = 0;

    if (list_dir(up, &un, err) < 0)
        return -1;
    if (list_dir(lp, &ln, err) < 0)
        goto out;
    while (i < un.n || j < ln.n) {
        if (d->err) {
            *err = steal_ptr(d->err);
            goto out;
        }
        int c = i >= un.n ? 1 : j >= ln.n ? -1 : strcmp(un.v[i]->d_name, ln.v[j]->d_name);
        const char *name = c > 0 ? ln.v[j]->d_name : un.v[i]->d_name;
        _cleanup_free_ char *crel = join(rel, name);
        if (c > 0) { /* only in lower: deleted */
            _cleanup_free_ char *wh =
                berth_strdup_printf("%s%s%s%s", rel, *rel ? "/" : "", WHITEOUT_PREFIX, name);
            j++;
            if (write_marker(d, wh, err) < 0)
                goto out;
            continue;
        }
        _cleanup_free_ char *cup = berth_strdup_printf("%s/%s", up, name);
        _cleanup_free_ char *clp = c == 0 ? berth_strdup_printf("%s/%s", lp, name) : NULL;
        struct stat su, sl;
        bool have_lower = false;
        i++;
        if (c == 0)
            j++;
        if (lstat(cup, &su) < 0) {
            berth_err_set(err, BERTH_E_INTERNAL, errno, "diff: stat \"%s\"", cup);
            goto out;
        }
        if (clp && lstat(clp, &sl) == 0)
            have_lower = true;
        if (d->o->upper_is_overlay && S_ISCHR(su.st_mode) && su.st_rdev == 0) {
            _cleanup_free_ char *wh =
                berth_strdup_printf("%s%s%s%s", rel, *rel ? "/" : "", WHITEOUT_PREFIX, name);
            if (write_marker(d, wh, err) < 0)
                goto out;
            continue;
        }
        if ((!have_lower || !unchanged(clp, &sl, cup, &su)) &&
            write_entry(d, crel, cup, &su, err) < 0)
            goto out;
        if (!S_ISDIR(su.st_mode))
            continue;
        if (d->o->upper_is_overlay && is_opaque(cup)) {
            _cleanup_free_ char *op = berth_strdup_printf("%s/%s", crel, OPAQUE_MARKER);
            if (write_marker(d, op, err) < 0)
                goto out;
        }
        if (walk(d, crel, have_lower && S_ISDIR(sl.st_mode) ? clp : NULL, cup, err) < 0)
            goto out;
    }
    ret = 0;
out:
    names_clear(&un);
    names_clear(&ln);
    return ret;
}

int berth_diff_write(const char *lower, const char *upper, const struct berth_diff_opts *opts,
                     berth_diff_sink_fn sink, void *arg, char diff_id_out[72], int64_t *tar_size,
                     struct berth_err **err)
{
    struct differ *d = berth_xcalloc(1, sizeof(*d));
    struct stat st;
    int ret = -1;

    if (stat(upper, &st) < 0 || !S_ISDIR(st.st_mode)) {
        free(d);
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, errno,
                             "diff: upper \"%s\" is not a directory", upper);
    }
    d->o = opts;
    d->sink = sink;
    d->arg = arg;
    berth_sha256_init(&d->sha);
    if (opts->gzip) {
        if (deflateInit2(&d->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            berth_err_set(err, BERTH_E_INTERNAL, 0, "diff: deflate init failed");
            goto out;
        }
        d->z_open = true;
    }
    d->a = archive_write_new();
    archive_write_set_format_pax_restricted(d->a);
    (void)archive_write_set_format_option(d->a, "pax", "xattrheader", "SCHILY");
    archive_write_set_bytes_per_block(d->a, 0);
    if (archive_write_open2(d->a, d, NULL, write_cb, NULL, NULL) != ARCHIVE_OK) {
        archive_fail(d, "open", upper, err);
        goto out;
    }
    if (walk(d, "", opts->upper_is_overlay ? NULL : lower, upper, err) < 0)
        goto out;
    if (archive_write_close(d->a) != ARCHIVE_OK || d->err) {
        archive_fail(d, "close", upper, err);
        goto out;
    }
    if (opts->gzip && deflate_out(d, NULL, 0, Z_FINISH) < 0) {
        *err = steal_ptr(d->err);
        goto out;
    }
    berth_sha256_digest_str(&d->sha, diff_id_out);
    if (tar_size)
        *tar_size = d->tar_size;
    ret = 0;
out:
    if (d->a)
        archive_write_free(d->a);
    if (d->z_open)
        deflateEnd(&d->z);
    for (size_t i = 0; i < d->n_links; i++)
        free(d->links[i].name);
    free(d->links);
    berth_err_free(&d->err);
    free(d);
    return ret;
}
