/* SPDX-License-Identifier: Apache-2.0 */
#include "lib/proc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int berth_proc_stat_read(pid_t pid, struct berth_proc_stat *st)
{
    char path[64], buf[1024];
    const char *p;
    size_t n;
    FILE *f;

    if (pid > 0)
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    else
        snprintf(path, sizeof(path), "/proc/self/stat");
    if (!(f = fopen(path, "re")))
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    memset(st, 0, sizeof(*st));
    /* The command name may hold spaces and parentheses: fields 3.. start after the last ')'. */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                     "%lld %*d %llu %llu %lld",
                     &st->utime, &st->stime, &st->threads, &st->start, &st->vsize, &st->rss) != 6) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}
