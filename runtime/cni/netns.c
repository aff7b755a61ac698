/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network namespaces pinned on files (containerd pkg/netns/netns_linux.go). unshare and setns
 * change only the calling thread's namespace, so each runs on a thread made for it that ends
 * right after: berthd's worker threads stay in the host namespace whatever happens.
 */
#include "runtime/cni/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h> /* unshare, setns, CLONE_NEWNET (_GNU_SOURCE from CMake) */
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/util.h"

static enum berth_errc errno_class(int e)
{
    return e == EPERM || e == EACCES ? BERTH_E_PERMISSION_DENIED : BERTH_E_INTERNAL;
}

struct pin_job {
    const char *path;
    int sys_errno;
    const char *what;
};

static void *pin_thread(void *arg)
{
    struct pin_job *job = arg;

    if (unshare(CLONE_NEWNET) < 0) {
        job->sys_errno = errno;
        job->what = "unshare network namespace";
        return NULL;
    }
    /* thread-self: the namespace is this thread's, the process's main thread has another. */
    if (mount("/proc/thread-self/ns/net", job->path, NULL, MS_BIND, NULL) < 0) {
        job->sys_errno = errno;
        job->what = "bind-mount network namespace";
    }
    return NULL;
}

/* containerd names pod namespaces "cni-" + a random (version 4 style) UUID. */
static char *random_name(void)
{
    uint8_t b[16];

    berth_random(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    return berth_strdup_printf("cni-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                               "%02x%02x%02x%02x%02x%02x",
                               b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
                               b[11], b[12], b[13], b[14], b[15]);
}

int berth_netns_create(const char *dir, const char *name, char **path, struct berth_err **err)
{
    _cleanup_free_ char *gen = NULL;
    _cleanup_free_ char *full = NULL;
    struct pin_job job = {0};
    pthread_t th;
    int fd, rc;

    *path = NULL;
    if (!name)
        name = gen = random_name();
    if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid netns name \"%s\"", name);
    if (berth_mkdir_p(dir, 0711, 0711, err) < 0)
        return berth_err_wrap(err, "create netns directory");
    full = berth_strdup_printf("%s/%s", dir, name);
    fd = open(full, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return berth_err_set(err, errno == EEXIST ? BERTH_E_ALREADY_EXISTS : errno_class(errno),
                             errno, "create netns file \"%s\"", full);
    close(fd);

    job.path = full;
    rc = pthread_create(&th, NULL, pin_thread, &job);
    if (rc != 0) {
        job.sys_errno = rc;
        job.what = "start netns thread";
    } else {
        pthread_join(th, NULL);
    }
    if (job.what) {
        unlink(full);
        return berth_err_set(err, errno_class(job.sys_errno), job.sys_errno, "%s at \"%s\"",
                             job.what, full);
    }
    *path = steal_ptr(full);
    return 0;
}

int berth_netns_remove(const char *path, struct berth_err **err)
{
    /* EINVAL: not a mount point (a half-made or already unmounted namespace file). */
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return berth_err_set(err, errno_class(errno), errno, "unmount netns \"%s\"", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return berth_err_set(err, errno_class(errno), errno, "remove netns file \"%s\"", path);
    return 0;
}

struct enter_job {
    int fd;
    int (*fn)(void *);
    void *arg;
    int ret;
    int sys_errno;
    bool entered;
};

static void *enter_thread(void *arg)
{
    struct enter_job *job = arg;

    if (setns(job->fd, CLONE_NEWNET) < 0) {
        job->sys_errno = errno;
        return NULL;
    }
    job->entered = true;
    errno = 0;
    job->ret = job->fn(job->arg);
    job->sys_errno = job->ret < 0 ? errno : 0;
    return NULL;
}

int berth_netns_enter_run(const char *path, int (*fn)(void *), void *arg, struct berth_err **err)
{
    _cleanup_close_ int fd = -1;
    struct enter_job job = {.fn = fn, .arg = arg};
    pthread_t th;
    int rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : errno_class(errno), errno,
                             "open netns \"%s\"", path);
    job.fd = fd;
    rc = pthread_create(&th, NULL, enter_thread, &job);
    if (rc != 0)
        return berth_err_set(err, BERTH_E_INTERNAL, rc, "start netns thread");
    pthread_join(th, NULL);
    if (!job.entered)
        return berth_err_set(
            err, job.sys_errno == EINVAL ? BERTH_E_INVALID_ARGUMENT : errno_class(job.sys_errno),
            job.sys_errno, "enter netns \"%s\"", path);
    if (job.ret < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, job.sys_errno, "in netns \"%s\"", path);
    return job.ret;
}
