/* SPDX-License-Identifier: Apache-2.0 */
/* Network counters of a pod: /proc/<pid>/net/dev shows the interfaces of the network
 * namespace pid is in, so a sandbox's counters need neither setns nor netlink. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "runtime/stats/stats.h"

void berth_net_stats_free(struct berth_net_stats *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

/* One "  eth0: <8 receive counters> <8 transmit counters>" line. 0 (and *skip for lo and the
 * two header lines, which have no ':'), or -1 when the counters are not all there. */
static int net_line_parse(char *line, struct berth_net_stats *e, bool *skip)
{
    /* Receive: bytes packets errs drop fifo frame compressed multicast, then transmit: bytes
     * packets errs ... */
    uint64_t v[16];
    char *colon = strchr(line, ':'), *name = line, *p, *end;

    *skip = true;
    /* Interface names cannot hold ':' (dev_valid_name), so the first one ends the name. */
    if (!colon)
        return 0;
    *colon = '\0';
    name += strspn(name, " \t");
    if (strcmp(name, "lo") == 0)
        return 0;
    p = colon + 1;
    for (size_t i = 0; i < BERTH_N(v); i++) {
        errno = 0;
        v[i] = strtoull(p, &end, 10);
        if (end == p || errno)
            return -1;
        p = end;
    }
    *skip = false;
    *e = (struct berth_net_stats){.name = berth_xstrdup(name),
                                  .rx_bytes = v[0],
                                  .rx_errors = v[2],
                                  .tx_bytes = v[8],
                                  .tx_errors = v[10]};
    return 0;
}

int berth_net_stats_read_file(const char *path, struct berth_net_stats **out, size_t *n,
                              struct berth_err **err)
{
    struct berth_net_stats *v = NULL;
    size_t len = 0, cap = 0;
    _cleanup_free_ char *line = NULL;
    size_t line_cap = 0;
    FILE *f;

    *out = NULL;
    *n = 0;
    f = fopen(path, "re");
    if (!f)
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                             "open \"%s\"", path);
    while (getline(&line, &line_cap, f) >= 0) {
        struct berth_net_stats e;
        bool skip;

        if (net_line_parse(line, &e, &skip) < 0) {
            fclose(f);
            berth_net_stats_free(v, len);
            return berth_err_set(err, BERTH_E_INTERNAL, 0, "parse \"%s\": interface \"%s\"", path,
                                 line + strspn(line, " \t"));
        }
        if (!skip)
            berth_vec_push(v, len, cap, e);
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        berth_net_stats_free(v, len);
        return berth_err_set(err, BERTH_E_INTERNAL, e, "read \"%s\"", path);
    }
    fclose(f);
    *out = v;
    *n = len;
    return 0;
}

int berth_net_stats_read_pid(pid_t pid, struct berth_net_stats **out, size_t *n,
                             struct berth_err **err)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
    return berth_net_stats_read_file(path, out, n, err);
}
