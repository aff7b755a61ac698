/* SPDX-License-Identifier: Apache-2.0 */
/* mkdir -p and rm -rf (see fs.h). */
#include "lib/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"

int berth_mkdir_p(const char *path, mode_t parent_mode, mode_t mode, struct berth_err **err)
{
    _cleanup_free_ char *p = berth_xstrdup(path);

    for (char *c = p + 1;; c++) {
        char saved = *c;
        if (saved != '/' && saved != '\0')
            continue;
        *c = '\0';
        if (mkdir(p, saved ? parent_mode : mode) < 0 && errno != EEXIST) {
            int e = errno;
            return berth_err_set(
                err, e == ENOSPC || e == EDQUOT ? BERTH_E_RESOURCE_EXHAUSTED : BERTH_E_INTERNAL, e,
                "create directory \"%s\"", p);
        }
        *c = saved;
        if (!saved)
            return 0;
    }
}

/* nftw's callback takes no argument: the first failure of this thread's walk. */
static _Thread_local int rm_errno;

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    int r = (flag == FTW_DP || flag == FTW_D || flag == FTW_DNR) ? rmdir(path) : unlink(path);

    (void)sb, (void)ftw;
    if (r < 0 && errno != ENOENT && !rm_errno)
        rm_errno = errno;
    return 0; /* go on: remove what can be removed */
}

int berth_rmrf(const char *path, struct berth_err **err)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0
                               : berth_err_set(err, BERTH_E_INTERNAL, errno, "stat \"%s\"", path);
    rm_errno = 0;
    if (nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && !rm_errno)
        rm_errno = errno;
    if (rm_errno)
        return berth_err_set(err, BERTH_E_INTERNAL, rm_errno, "remove \"%s\"", path);
    return 0;
}

static int io_errc(int e)
{
    return e == ENOSPC || e == EDQUOT ? BERTH_E_RESOURCE_EXHAUSTED : BERTH_E_INTERNAL;
}

int berth_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            struct berth_err **err)
{
    _cleanup_free_ char *tmp = berth_strdup_printf("%s.tmp-%d", path, (int)getpid());
    _cleanup_free_ char *dir = berth_xstrdup(path);
    int fd, dfd, e;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return berth_err_set(err, io_errc(errno), errno, "write \"%s\"", path);
    if (berth_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        e = errno;
        close(fd);
        unlink(tmp);
        return berth_err_set(err, io_errc(e), e, "write \"%s\"", path);
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        e = errno;
        unlink(tmp);
        return berth_err_set(err, io_errc(e), e, "rename over \"%s\"", path);
    }
    dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

int berth_read_file(const char *path, size_t max, char **out, size_t *len, struct berth_err **err)
{
    /* O_NONBLOCK: a FIFO in place of the file must not hang the reader before fstat says so */
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    _cleanup_free_ char *buf = NULL;
    size_t n = 0, cap;
    struct stat st;
    ssize_t r;

    if (fd < 0)
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                             "open \"%s\"", path);
    if (fstat(fd, &st) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "stat \"%s\"", path);
    if (!S_ISREG(st.st_mode))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "\"%s\" is not a regular file",
                             path);
    if ((uint64_t)st.st_size > max)
        return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0, "\"%s\" is larger than %zu bytes", path,
                             max);
    /* the size fstat gives, plus one byte to see the end (procfs files say 0: they grow) */
    cap = st.st_size > 0 ? (size_t)st.st_size + 2 : 4096;
    buf = berth_xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max + 1)
                return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0,
                                     "\"%s\" is larger than %zu bytes", path, max);
            cap *= 2;
            buf = berth_xrealloc(buf, cap);
        }
        r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "read \"%s\"", path);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max)
        return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0, "\"%s\" is larger than %zu bytes", path,
                             max);
    buf[n] = 0;
    *out = steal_ptr(buf);
    if (len)
        *len = n;
    return 0;
}

void berth_mountinfo_unescape(char *s)
{
    char *w = s;

    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}
