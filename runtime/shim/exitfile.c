/* SPDX-License-Identifier: Apache-2.0 */
/* The init process's exit status persisted in the bundle, and the wait-status mapping. Kept
 * tiny and synchronous: one write per container lifetime. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "lib/util.h"
#include "runtime/shim/shim.h"

uint32_t berth_shim_wait_status(int wstatus)
{
    if (WIFEXITED(wstatus))
        return (uint32_t)WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128u + (uint32_t)WTERMSIG(wstatus);
    return 255;
}

int berth_shim_exit_write(const char *bundle, uint32_t status, int64_t exited_ns,
                          struct berth_err **err)
{
    char tmp[4096], dst[4096], line[64];
    _cleanup_close_ int fd = -1;
    int n;

    if (snprintf(tmp, sizeof(tmp), "%s/.exit.tmp", bundle) >= (int)sizeof(tmp) ||
        snprintf(dst, sizeof(dst), "%s/exit", bundle) >= (int)sizeof(dst))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "bundle path \"%s\" too long",
                             bundle);
    n = snprintf(line, sizeof(line), "%" PRIu32 " %" PRId64 "\n", status, exited_ns);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "create \"%s\"", tmp);
    if (write(fd, line, (size_t)n) != n)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "write \"%s\"", tmp);
    if (rename(tmp, dst) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "rename to \"%s\"", dst);
    return 0;
}

int berth_shim_exit_read(const char *bundle, uint32_t *status, int64_t *exited_ns,
                         struct berth_err **err)
{
    char path[4096], buf[64], *end;
    _cleanup_close_ int fd = -1;
    unsigned long long st;
    long long ns;
    ssize_t n;

    if (snprintf(path, sizeof(path), "%s/exit", bundle) >= (int)sizeof(path))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "bundle path \"%s\" too long",
                             bundle);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                             "open \"%s\"", path);
    n = read(fd, buf, sizeof(buf) - 1);
    if (n < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "read \"%s\"", path);
    buf[n] = '\0';
    /* Digits only: strto* would also take leading blanks and signs. */
    if (!isdigit((unsigned char)buf[0]))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "malformed exit file \"%s\"", path);
    errno = 0;
    st = strtoull(buf, &end, 10);
    if (*end != ' ' || !isdigit((unsigned char)end[1]) || errno || st > UINT32_MAX)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "malformed exit file \"%s\"", path);
    ns = strtoll(end + 1, &end, 10);
    if (*end != '\n' || errno)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "malformed exit file \"%s\"", path);
    *status = (uint32_t)st;
    *exited_ns = ns;
    return 0;
}
