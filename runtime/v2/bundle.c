/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bundles (containerd 1.6 runtime/v2/bundle.go): <state>/tasks/<ns>/<id>/ holding config.json,
 * rootfs/ (the shim mounts the rootfs there), the shim's log FIFO and the files the shim and
 * the manager leave for a later reattach (address, shim-binary-path).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/util.h"
#include "runtime/v2/runtime-internal.h"

char *berth_rt_bundle_path(const char *state, const char *ns, const char *id)
{
    return berth_strdup_printf("%s/tasks/%s/%s", state, ns, id);
}

static int write_file(const char *path, const void *data, size_t len, struct berth_err **err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0 || berth_write_all(fd, data, len) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "write \"%s\"", path);
    return 0;
}

int berth_rt_bundle_write(const char *bundle, const char *name, const char *data,
                          struct berth_err **err)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", bundle, name);
    return write_file(path, data, strlen(data), err);
}

char *berth_rt_bundle_read(const char *bundle, const char *name)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", bundle, name);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    char buf[4096];
    ssize_t n;
    size_t len;

    if (fd < 0)
        return NULL;
    n = read(fd, buf, sizeof(buf) - 1);
    if (n < 0)
        return NULL;
    len = (size_t)n;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\r'))
        len--;
    return berth_xstrndup(buf, len);
}

int berth_rt_bundle_create(const char *bundle, const void *spec, size_t len, struct berth_err **err)
{
    _cleanup_free_ char *config = berth_strdup_printf("%s/config.json", bundle);
    _cleanup_free_ char *rootfs = berth_strdup_printf("%s/rootfs", bundle);
    _cleanup_free_ char *log = berth_strdup_printf("%s/log", bundle);

    {
        _cleanup_free_ char *parent = berth_xstrdup(bundle);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
            *slash = '\0';
            if (berth_mkdir_p(parent, 0711, 0711, err) < 0)
                return -1;
        }
    }
    if (mkdir(bundle, 0700) < 0) {
        if (errno == EEXIST)
            return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "bundle \"%s\" already exists",
                                 bundle);
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "create bundle \"%s\"", bundle);
    }
    if (write_file(config, spec, len, err) < 0)
        goto fail;
    if (mkdir(rootfs, 0711) < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "create \"%s\"", rootfs);
        goto fail;
    }
    if (mkfifo(log, 0700) < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "create fifo \"%s\"", log);
        goto fail;
    }
    return 0;
fail:
    berth_rt_bundle_remove(bundle);
    return -1;
}

void berth_rt_bundle_remove(const char *bundle)
{
    _cleanup_free_ char *rootfs = berth_strdup_printf("%s/rootfs", bundle);
    _cleanup_free_ char *slash = berth_xstrdup(bundle);
    _cleanup_free_ char *hidden = NULL;
    char *base = strrchr(slash, '/');

    /* Never recurse into a still mounted rootfs: unmount (lazily if busy) until it is gone. */
    for (int i = 0; i < 8 && umount2(rootfs, MNT_DETACH) == 0; i++)
        ;
    /* Rename first (as containerd does) so a half-removed bundle is never reattached. */
    if (base) {
        *base = '\0';
        hidden = berth_strdup_printf("%s/.%s", slash, base + 1);
        if (rename(bundle, hidden) == 0)
            bundle = hidden;
    }
    (void)berth_rmrf(bundle, NULL); /* best effort: what stays is found again at start-up */
}
