/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What /proc/<pid>/stat tells of a process: the few fields berth reads, for the daemon's
 * process metrics and for clients that watch the server they talk to. Depends on libc only.
 */
#ifndef BERTH_LIB_PROC_H
#define BERTH_LIB_PROC_H

#include <sys/types.h>

struct berth_proc_stat {
    unsigned long long utime, stime; /* CPU time in user and kernel mode, clock ticks */
    long long threads;
    unsigned long long start; /* when the process started, clock ticks since boot */
    unsigned long long vsize; /* virtual memory, bytes */
    long long rss;            /* resident pages */
};

/* Reads /proc/<pid>/stat (pid 0: this process) into *st. 0 on success; -1 when the process
 * is gone (errno from open) or the file does not parse (errno EINVAL). A pid's start time
 * tells it apart from a later process that got the same pid. */
int berth_proc_stat_read(pid_t pid, struct berth_proc_stat *st);

#endif
