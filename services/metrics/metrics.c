/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthd's families (metrics.h) and the collectors that run at scrape time: the process
 * (/proc/self, as client_golang's process collector names it), the task table (no shim call)
 * and per-container cgroup counters named as containerd's cgroups metrics plugin names them,
 * the v1 or v2 set by the layout found at start.
 */
#include "services/metrics/metrics.h"

#include <dirent.h>
#include <jansson.h> /* linux.cgroupsPath of a bundle's config.json */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/proc.h"
#include "lib/util.h"
#include "runtime/stats/stats.h"
#include "runtime/v2/runtime.h"

static const struct {
    const char *name, *help;
    bool runtime_label;
} cri_families[BERTH_CRI_OP__N] = {
    [BERTH_CRI_OP_SANDBOX_RUN] = {"containerd_cri_sandbox_runtime_create_seconds",
                                  "time to create a sandbox in the runtime", true},
    [BERTH_CRI_OP_SANDBOX_STOP] = {"containerd_cri_sandbox_runtime_stop_seconds",
                                   "time to stop a sandbox", true},
    [BERTH_CRI_OP_SANDBOX_REMOVE] = {"containerd_cri_sandbox_remove_seconds",
                                     "time to remove a sandbox", true},
    [BERTH_CRI_OP_SANDBOX_LIST] = {"containerd_cri_sandbox_list_seconds", "time to list sandboxes",
                                   false},
    [BERTH_CRI_OP_CTR_CREATE] = {"containerd_cri_container_create_seconds",
                                 "time to create a container", true},
    [BERTH_CRI_OP_CTR_START] = {"containerd_cri_container_start_seconds",
                                "time to start a container", true},
    [BERTH_CRI_OP_CTR_STOP] = {"containerd_cri_container_stop_seconds", "time to stop a container",
                               true},
    [BERTH_CRI_OP_CTR_REMOVE] = {"containerd_cri_container_remove_seconds",
                                 "time to remove a container", true},
    [BERTH_CRI_OP_CTR_LIST] = {"containerd_cri_container_list_seconds", "time to list containers",
                               false},
    [BERTH_CRI_OP_IMAGE_PULL] = {"berth_cri_image_pull_seconds",
                                 "time to pull an image through the CRI (PullImage)", false},
    [BERTH_CRI_OP_EXEC_SYNC] = {"berth_cri_exec_sync_seconds",
                                "time to run a command in a container (ExecSync)", true},
};

enum { P_CPU, P_OPEN_FDS, P_MAX_FDS, P_VIRT, P_RES, P_START, P_THREADS };
enum { T_TASKS, T_LIVE, T_SHIMS };
enum { C_CPU, C_USER, C_KERNEL, C_MEM, C_MEM_LIMIT, C_PIDS, C_PIDS_LIMIT, C__N };

/* ---- process (/proc/self) ---- */

static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "re");
    char line[256];
    double bt = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "btime ", 6) == 0) {
            bt = strtod(line + 6, NULL);
            break;
        }
    fclose(f);
    return bt;
}

static size_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    size_t n = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n ? n - 1 : 0; /* the directory's own descriptor */
}

static void collect_process(void *arg, struct berth_metrics_scrape *s)
{
    struct berth_svc_metrics *m = arg;
    double tck = (double)sysconf(_SC_CLK_TCK);
    struct berth_proc_stat ps;
    struct rlimit rl;

    if (berth_proc_stat_read(0, &ps) == 0) {
        berth_metrics_scrape_sample(s, m->proc[P_CPU], NULL, (double)(ps.utime + ps.stime) / tck);
        berth_metrics_scrape_sample(s, m->proc[P_VIRT], NULL, (double)ps.vsize);
        berth_metrics_scrape_sample(s, m->proc[P_RES], NULL,
                                    (double)ps.rss * (double)sysconf(_SC_PAGESIZE));
        berth_metrics_scrape_sample(s, m->proc[P_START], NULL,
                                    boot_time() + (double)ps.start / tck);
        berth_metrics_scrape_sample(s, m->proc[P_THREADS], NULL, (double)ps.threads);
    }
    berth_metrics_scrape_sample(s, m->proc[P_OPEN_FDS], NULL, (double)count_fds());
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        berth_metrics_scrape_sample(s, m->proc[P_MAX_FDS], NULL,
                                    rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
}

/* ---- the task table and per-container cgroups ---- */

/* linux.cgroupsPath of the bundle's spec; NULL when it names none. */
static char *bundle_cgroups_path(const char *bundle)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/config.json", bundle);
    json_t *spec = json_load_file(path, 0, NULL);
    const char *cg = NULL;
    char *out = NULL;

    if (!spec)
        return NULL;
    if (json_unpack(spec, "{s:{s:s}}", "linux", "cgroupsPath", &cg) == 0 && cg && *cg)
        out = berth_xstrdup(cg);
    json_decref(spec);
    return out;
}

static void collect_cgroup(struct berth_svc_metrics *m, struct berth_metrics_scrape *s,
                           struct berth_rt_task *t)
{
    _cleanup_free_ char *cg = bundle_cgroups_path(berth_rt_task_bundle(t));
    _cleanup_err_ struct berth_err *e = NULL;
    const char *v[] = {berth_rt_task_id(t), berth_rt_task_ns(t), NULL};
    struct berth_cg_stats st;
    bool v2 = m->cg_mode == BERTH_CG_V2;
    /* v2 reports microseconds, v1 nanoseconds, as the kernel files do */
    double cpu_div = v2 ? 1000.0 : 1.0;

    if (!cg || berth_cg_stats_read(m->cg_root, (enum berth_cg_mode)m->cg_mode, cg, &st, &e) < 0)
        return;
    if (st.has_cpu) {
        berth_metrics_scrape_sample(s, m->cg[C_CPU], v, (double)st.cpu_usage_ns / cpu_div);
        berth_metrics_scrape_sample(s, m->cg[C_USER], v, (double)st.cpu_user_ns / cpu_div);
        berth_metrics_scrape_sample(s, m->cg[C_KERNEL], v, (double)st.cpu_system_ns / cpu_div);
    }
    if (st.has_mem) {
        berth_metrics_scrape_sample(s, m->cg[C_MEM], v, (double)st.mem_usage);
        berth_metrics_scrape_sample(s, m->cg[C_MEM_LIMIT], v, (double)st.mem_limit);
    }
    if (st.has_pids) {
        berth_metrics_scrape_sample(s, m->cg[C_PIDS], v, (double)st.pids_current);
        berth_metrics_scrape_sample(s, m->cg[C_PIDS_LIMIT], v, (double)st.pids_limit);
    }
}

static void collect_tasks(void *arg, struct berth_metrics_scrape *s)
{
    struct berth_svc_metrics *m = arg;
    struct berth_rt *rt = __atomic_load_n(&m->rt, __ATOMIC_ACQUIRE);
    struct berth_rt_counts counts;
    struct berth_rt_task **tasks = NULL;
    size_t n = 0;

    if (!rt)
        return;
    berth_rt_counts(rt, &counts);
    berth_metrics_scrape_sample(s, m->tasks[T_TASKS], NULL, (double)counts.tasks);
    berth_metrics_scrape_sample(s, m->tasks[T_LIVE], NULL, (double)counts.live);
    berth_metrics_scrape_sample(s, m->tasks[T_SHIMS], NULL, (double)counts.shims);
    if (m->cg_mode < 0)
        return;
    berth_rt_task_list(rt, NULL, &tasks, &n);
    for (size_t i = 0; i < n; i++)
        if (berth_rt_task_live(tasks[i]))
            collect_cgroup(m, s, tasks[i]);
    berth_rt_tasks_put(tasks, n);
}

/* ---- families ---- */

struct fam {
    enum berth_metric_type type;
    const char *name, *help;
    const char *const *labels;
    const double *bounds;
    size_t n_bounds;
    struct berth_metrics_family **out;
};

static int add_all(struct berth_metrics *reg, const struct fam *f, size_t n, struct berth_err **err)
{
    for (size_t i = 0; i < n; i++)
        if (berth_metrics_family_add(reg, f[i].type, f[i].name, f[i].help, f[i].labels, f[i].bounds,
                                     f[i].n_bounds, f[i].out, err) < 0)
            return -1;
    return 0;
}

#define G BERTH_METRIC_GAUGE
#define C BERTH_METRIC_COUNTER
#define H BERTH_METRIC_HISTOGRAM

int berth_svc_metrics_new(bool grpc_histogram, struct berth_svc_metrics **out,
                          struct berth_err **err)
{
    static const char *const result[] = {"result", NULL};
    static const char *const kind[] = {"kind", NULL};
    static const char *const ctr[] = {"container_id", "namespace", NULL};
    static const char *const runtime[] = {"runtime", NULL};
    /* group commits: 1 to max_batch (256 by default) mutations */
    static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 1024};
    /* an fsync: from a tmpfs' microseconds to a loaded disk's tenth of a second */
    static const double commit_bounds[] = {.0001, .00025, .0005, .001, .0025, .005,
                                           .01,   .025,   .05,   .1,   .25,   1};
    /* a pull: from an image already there to a large one over a slow link */
    static const double pull_bounds[] = {.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
    struct berth_svc_metrics *m = berth_xcalloc(1, sizeof(*m));
    struct berth_metrics_family *commit_batch, *commit_seconds, *gc_passes, *gc_pause, *gc_removed,
        *pull_bytes, *pulls, *pull_seconds;
    _cleanup_err_ struct berth_err *e = NULL;
    enum berth_cg_mode mode;
    bool v2;
    int ret;

    *out = NULL;
    m->reg = berth_metrics_new();
    m->grpc_histogram = grpc_histogram;
    m->cg_root = "/sys/fs/cgroup";
    m->cg_mode = berth_cg_detect(m->cg_root, &mode, &e) == 0 ? (int)mode : -1;
    v2 = m->cg_mode == BERTH_CG_V2;
    {
        const struct fam fams[] = {
            {C, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
             NULL, NULL, 0, &m->proc[P_CPU]},
            {G, "process_open_fds", "Number of open file descriptors.", NULL, NULL, 0,
             &m->proc[P_OPEN_FDS]},
            {G, "process_max_fds", "Maximum number of open file descriptors.", NULL, NULL, 0,
             &m->proc[P_MAX_FDS]},
            {G, "process_virtual_memory_bytes", "Virtual memory size in bytes.", NULL, NULL, 0,
             &m->proc[P_VIRT]},
            {G, "process_resident_memory_bytes", "Resident memory size in bytes.", NULL, NULL, 0,
             &m->proc[P_RES]},
            {G, "process_start_time_seconds",
             "Start time of the process since unix epoch in seconds.", NULL, NULL, 0,
             &m->proc[P_START]},
            {G, "process_threads", "Number of OS threads in the process.", NULL, NULL, 0,
             &m->proc[P_THREADS]},
            {H, "berth_metadata_commit_batch_size",
             "Mutations applied by one metadata group commit (one LMDB write transaction).", NULL,
             batch_bounds, BERTH_N(batch_bounds), &commit_batch},
            {H, "berth_metadata_commit_seconds",
             "Time of one metadata group commit: LMDB's write-out and fsync.", NULL, commit_bounds,
             BERTH_N(commit_bounds), &commit_seconds},
            {C, "berth_gc_passes_total", "Garbage collection passes, by result (ok, error).",
             result, NULL, 0, &gc_passes},
            {H, "berth_gc_pause_seconds",
             "Time one garbage collection pass held others up: its metadata write (sweep and "
             "commit) plus its backend cleanup under the exclusive GC lock.",
             NULL, commit_bounds, BERTH_N(commit_bounds), &gc_pause},
            {C, "berth_gc_removed_total",
             "Objects garbage collection removed, by kind (lease, snapshot, content, ingest "
             "records; blob, backend_ingest, backend_snapshot in the backends).",
             kind, NULL, 0, &gc_removed},
            {C, "berth_pull_bytes_total",
             "Bytes fetched from registries by image pulls (layers and documents).", NULL, NULL, 0,
             &pull_bytes},
            {C, "berth_pulls_total", "Image pulls ended, by result (ok, error).", result, NULL, 0,
             &pulls},
            {H, "berth_pull_seconds", "Duration of an image pull, start to image record.", NULL,
             pull_bounds, BERTH_N(pull_bounds), &pull_seconds},
            {G, "berth_tasks", "Tasks in berthd's task table (stopped ones included).", NULL, NULL,
             0, &m->tasks[T_TASKS]},
            {G, "berth_tasks_running",
             "Tasks whose init process has not exited (created, running or paused).", NULL, NULL, 0,
             &m->tasks[T_LIVE]},
            {G, "berth_shims_running", "Shims berthd holds a connection to.", NULL, NULL, 0,
             &m->tasks[T_SHIMS]},
            {G, v2 ? "container_cpu_usage_microseconds" : "container_cpu_total_nanoseconds",
             v2 ? "Total cpu usage (cgroup v2)" : "The total cpu time", ctr, NULL, 0,
             &m->cg[C_CPU]},
            {G, v2 ? "container_cpu_user_usage_microseconds" : "container_cpu_user_nanoseconds",
             v2 ? "Current cpu usage in user space (cgroup v2)" : "The total user time", ctr, NULL,
             0, &m->cg[C_USER]},
            {G, v2 ? "container_cpu_kernel_usage_microseconds" : "container_cpu_kernel_nanoseconds",
             v2 ? "Current cpu usage in kernel space (cgroup v2)" : "The total kernel time", ctr,
             NULL, 0, &m->cg[C_KERNEL]},
            {G, v2 ? "container_memory_usage_bytes" : "container_memory_usage_usage_bytes",
             v2 ? "Current memory usage (cgroup v2)" : "The memory usage", ctr, NULL, 0,
             &m->cg[C_MEM]},
            {G, "container_memory_usage_limit_bytes",
             v2 ? "Current memory usage limit (cgroup v2)" : "The memory limit", ctr, NULL, 0,
             &m->cg[C_MEM_LIMIT]},
            {G, "container_pids_current",
             v2 ? "The current number of pids (cgroup v2)" : "The current number of pids", ctr,
             NULL, 0, &m->cg[C_PIDS]},
            {G, "container_pids_limit",
             v2 ? "The limit to the number of pids allowed (cgroup v2)"
                : "The limit to the number of pids allowed",
             ctr, NULL, 0, &m->cg[C_PIDS_LIMIT]},
        };
        if (add_all(m->reg, fams, BERTH_N(fams), err) < 0) {
            berth_svc_metrics_free(m);
            return -1;
        }
    }
    for (int i = 0; i < BERTH_CRI_OP__N; i++) {
        ret = berth_metrics_family_add(m->reg, H, cri_families[i].name, cri_families[i].help,
                                       cri_families[i].runtime_label ? runtime : NULL, NULL, 0,
                                       &m->cri[i], err);
        if (ret < 0) {
            berth_svc_metrics_free(m);
            return -1;
        }
    }
    m->commit_batch = berth_metrics_histogram(commit_batch, NULL);
    m->commit_seconds = berth_metrics_histogram(commit_seconds, NULL);
    m->gc.passes_ok = berth_metrics_counter(gc_passes, (const char *const[]){"ok"});
    m->gc.passes_failed = berth_metrics_counter(gc_passes, (const char *const[]){"error"});
    m->gc.pause_seconds = berth_metrics_histogram(gc_pause, NULL);
    m->gc.leases = berth_metrics_counter(gc_removed, (const char *const[]){"lease"});
    m->gc.snapshots = berth_metrics_counter(gc_removed, (const char *const[]){"snapshot"});
    m->gc.content = berth_metrics_counter(gc_removed, (const char *const[]){"content"});
    m->gc.ingests = berth_metrics_counter(gc_removed, (const char *const[]){"ingest"});
    m->gc.blobs = berth_metrics_counter(gc_removed, (const char *const[]){"blob"});
    m->gc.backend_ingests =
        berth_metrics_counter(gc_removed, (const char *const[]){"backend_ingest"});
    m->gc.backend_snapshots =
        berth_metrics_counter(gc_removed, (const char *const[]){"backend_snapshot"});
    m->pull.bytes = berth_metrics_counter(pull_bytes, NULL);
    m->pull.ok = berth_metrics_counter(pulls, (const char *const[]){"ok"});
    m->pull.failed = berth_metrics_counter(pulls, (const char *const[]){"error"});
    m->pull.seconds = berth_metrics_histogram(pull_seconds, NULL);
    berth_metrics_collector_add(m->reg, collect_process, m);
    berth_metrics_collector_add(m->reg, collect_tasks, m);
    *out = m;
    return 0;
}

void berth_svc_metrics_set_runtime(struct berth_svc_metrics *m, struct berth_rt *rt)
{
    struct berth_buf b = BERTH_BUF_INIT;

    if (!m)
        return;
    if (!rt) {
        /* A scrape in progress holds the scrape lock while it walks the table: rendering once
         * more (cheap) waits for it, so rt is no longer used when this returns. */
        __atomic_store_n(&m->rt, NULL, __ATOMIC_RELEASE);
        berth_metrics_render(m->reg, &b);
        berth_buf_clear(&b);
        return;
    }
    __atomic_store_n(&m->rt, rt, __ATOMIC_RELEASE);
}

void berth_svc_metrics_free(struct berth_svc_metrics *m)
{
    if (!m)
        return;
    berth_metrics_free(m->reg);
    free(m);
}

void berth_svc_metrics_cri(struct berth_svc_metrics *m, enum berth_cri_op op, const char *runtime,
                           int64_t start_mono_ns)
{
    const char *v[] = {runtime ? runtime : "", NULL};

    if (!m || op < 0 || op >= BERTH_CRI_OP__N)
        return;
    /* A lookup per operation (lock and hash): CRI operations take milliseconds, and the
     * runtime handlers are not known before the first pod names one. */
    berth_histogram_observe(
        berth_metrics_histogram(m->cri[op], cri_families[op].runtime_label ? v : NULL),
        (double)(berth_mono_ns() - start_mono_ns) / 1e9);
}
