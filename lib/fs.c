/* SPDX-License-Identifier: Apache-2.0 */
/* mkdir -p and rm -rf (see fs.h). */
#include "lib/fs.h"

#include <errno.h>
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
