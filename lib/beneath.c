/* SPDX-License-Identifier: Apache-2.0 */
/* See beneath.h. The walk keeps a stack of O_PATH fds, one per directory entered, so ".." is a
 * pop (refused at the bottom) rather than a lookup the kernel could resolve anywhere; a symlink
 * is read with readlinkat and its target put in front of what remains of the path. */
#include "lib/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h> /* struct open_how, RESOLVE_*: glibc 2.36 has no openat2 wrapper */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/util.h"

#define MAX_LINKS 40 /* the kernel's own limit */

static atomic_bool no_openat2;

int berth_open_beneath(int dirfd, const char *rel, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    int fd = -1;

    if (atomic_load_explicit(&no_openat2, memory_order_relaxed))
        return berth_open_beneath_walk(dirfd, rel, flags);
    /* EAGAIN: a concurrent rename somewhere on the system; the kernel asks us to retry. */
    for (int i = 0; i < 32; i++) {
        fd = (int)syscall(SYS_openat2, dirfd, *rel ? rel : ".", &how, sizeof(how));
        if (fd >= 0 || errno != EAGAIN)
            break;
    }
    if (fd < 0 && errno == ENOSYS) {
        atomic_store_explicit(&no_openat2, true, memory_order_relaxed);
        return berth_open_beneath_walk(dirfd, rel, flags);
    }
    return fd;
}

struct walk {
    int *fds; /* fds[0]: dirfd's dup; fds[n - 1]: the directory we are in */
    size_t n, cap;
    char *todo; /* what is left of the path */
};

static void walk_free(struct walk *w)
{
    while (w->n > 0)
        close(w->fds[--w->n]);
    free(w->fds);
    free(w->todo);
}

/* Puts target in front of the rest of the path (rest points into w->todo, "" or "/..."). */
static void walk_splice(struct walk *w, const char *target, const char *rest)
{
    char *todo = berth_strdup_printf("%s%s", target, rest);

    free(w->todo);
    w->todo = todo;
}

int berth_open_beneath_walk(int dirfd, const char *rel, int flags)
{
    struct walk w = {0};
    int links = 0, ret = -1, e = 0;
    const char *p;

    if (rel[0] == '/') { /* as RESOLVE_BENEATH has it: an absolute path is not beneath */
        errno = EXDEV;
        return -1;
    }
    w.todo = berth_xstrdup(rel);
    berth_vec_push(w.fds, w.n, w.cap, fcntl(dirfd, F_DUPFD_CLOEXEC, 3));
    if (w.fds[0] < 0) {
        e = errno;
        w.n = 0;
        goto out;
    }
    p = w.todo;
    for (;;) {
        char comp[NAME_MAX + 1], target[PATH_MAX];
        size_t len;
        struct stat st;
        bool last;
        ssize_t tl;
        int fd;

        p += strspn(p, "/");
        if (!*p)
            break;
        len = strcspn(p, "/");
        if (len > NAME_MAX) {
            e = ENAMETOOLONG;
            goto out;
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        p += len;
        last = *p == '\0'; /* "a/" names the directory a: walked into like any parent */
        if (strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            if (w.n == 1) {
                e = EXDEV;
                goto out;
            }
            close(w.fds[--w.n]);
            continue;
        }
        fd = openat(w.fds[w.n - 1], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
            e = errno;
            if (fd >= 0)
                close(fd);
            goto out;
        }
        if (S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
            tl = readlinkat(fd, "", target, sizeof(target) - 1);
            e = errno;
            close(fd);
            if (tl < 0)
                goto out;
            if (++links > MAX_LINKS) {
                e = ELOOP;
                goto out;
            }
            target[tl] = '\0';
            if (target[0] == '/') {
                e = EXDEV;
                goto out;
            }
            walk_splice(&w, target, p);
            p = w.todo;
            continue;
        }
        if (last) {
            if (flags & O_PATH) {
                ret = fd; /* already what was asked for */
            } else {
                /* O_NOFOLLOW: a symlink swapped in since the fstat fails instead of leading out */
                ret = openat(w.fds[w.n - 1], comp, flags | O_NOFOLLOW | O_CLOEXEC);
                e = errno;
                close(fd);
            }
            goto out;
        }
        if (!S_ISDIR(st.st_mode)) {
            close(fd);
            e = ENOTDIR;
            goto out;
        }
        berth_vec_push(w.fds, w.n, w.cap, fd);
    }
    /* the path named a directory already on the stack ("", ".", "a/..", "a/") */
    ret = openat(w.fds[w.n - 1], ".", flags | O_CLOEXEC);
    e = errno;
out:
    walk_free(&w);
    if (ret < 0)
        errno = e;
    return ret;
}
