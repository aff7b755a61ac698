/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/stats/stats.c: layout detection and cgroup stats from fake cgroup trees
 * (v1 with split and combined cpu/cpuacct hierarchies, hybrid, v2), runc's cgroupfs and
 * systemd cgroupsPath namings, NOT_FOUND and malformed files, and real cgroups on this machine
 * (its own layout, then its cgroup2 mount read as v2) holding a child that burnt cpu and
 * touched memory in them (skipped when cgroups cannot be made). */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"
#include "runtime/stats/stats.h"

/* Writes dir/rel (creating its parent directories). */
static void put(const char *dir, const char *rel, const char *content)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

/* mkdir -p dir/rel. */
static void mkdirs(const char *dir, const char *rel)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s/", dir, rel);
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
}

static uint64_t tick_ns(void)
{
    return 1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK);
}

static void test_cg_detect_layouts(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    enum berth_cg_mode mode;
    char root[4096];

    snprintf(root, sizeof(root), "%s/v1", env->dir);
    mkdirs(env->dir, "v1/memory");
    mkdirs(env->dir, "v1/cpu,cpuacct");
    assert_ok(berth_cg_detect(root, &mode, &err), &err);
    assert_int_equal(mode, BERTH_CG_V1);

    snprintf(root, sizeof(root), "%s/hybrid", env->dir);
    mkdirs(env->dir, "hybrid/memory");
    put(env->dir, "hybrid/unified/cgroup.controllers", "hugetlb\n");
    assert_ok(berth_cg_detect(root, &mode, &err), &err);
    assert_int_equal(mode, BERTH_CG_HYBRID);

    snprintf(root, sizeof(root), "%s/v2", env->dir);
    put(env->dir, "v2/cgroup.controllers", "cpuset cpu io memory pids\n");
    assert_ok(berth_cg_detect(root, &mode, &err), &err);
    assert_int_equal(mode, BERTH_CG_V2);
}

static void test_cg_detect_empty_is_not_found(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    enum berth_cg_mode mode;

    assert_int_equal(berth_cg_detect(env->dir, &mode, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void assert_resolves(const char *in, const char *want)
{
    struct berth_err *err = NULL;
    char *out = NULL;

    assert_ok(berth_cg_path_resolve(in, &out, &err), &err);
    assert_string_equal(out, want);
    free(out);
}

static void assert_resolve_invalid(const char *in)
{
    struct berth_err *err = NULL;
    char *out = (char *)"unset";

    assert_int_equal(berth_cg_path_resolve(in, &out, &err), -1);
    assert_null(out);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_cg_path_resolve_cgroupfs(void **state)
{
    (void)state;
    assert_resolves("/k8s.io/abc", "/k8s.io/abc");
    assert_resolves("/kubepods/podU/abc/", "/kubepods/podU/abc");
    assert_resolves("k8s.io//x/./y/../z", "/k8s.io/x/z");
    assert_resolves("/../../escape", "/escape");
    assert_resolves("/", "/");
    /* A ':' alone does not make the systemd form. */
    assert_resolves("/a:b:c", "/a:b:c");
    assert_resolves("a:b:c:d", "/a:b:c:d");
    assert_resolve_invalid("");
}

static void test_cg_path_resolve_systemd(void **state)
{
    (void)state;
    assert_resolves("kubepods-besteffort-pod12.slice:cri-containerd:abc",
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/"
                    "cri-containerd-abc.scope");
    assert_resolves("system.slice:docker:abc", "/system.slice/docker-abc.scope");
    /* runc's defaults: an empty slice is system.slice, "-.slice" the root. */
    assert_resolves(":cri-containerd:abc", "/system.slice/cri-containerd-abc.scope");
    assert_resolves("-.slice:p:n", "/p-n.scope");
    /* A name that is itself a slice is used as is. */
    assert_resolves("machine.slice:p:my.slice", "/machine.slice/my.slice");
    assert_resolve_invalid("bad:p:n");
    assert_resolve_invalid(".slice:p:n");
    assert_resolve_invalid("a--b.slice:p:n");
    assert_resolve_invalid("-a.slice:p:n");
    assert_resolve_invalid("a-.slice:p:n");
    assert_resolve_invalid("a.slice:p:");
    assert_resolve_invalid("a.slice:p:x/y");
}

/* A v1 cgroup "/k8s.io/c1" laid out as on this project's machines: cpu and cpuacct in
 * separate hierarchies, no memory limit, no pids limit. */
static void put_v1(const char *root, const char *cpuacct_dir)
{
    char rel[256];

    put(root, "memory/k8s.io/c1/memory.usage_in_bytes", "10485760\n");
    put(root, "memory/k8s.io/c1/memory.limit_in_bytes", "9223372036854771712\n");
    /* The non-total_ keys are this cgroup alone; the CRI reports the hierarchical totals. */
    put(root, "memory/k8s.io/c1/memory.stat",
        "cache 1\nrss 2\npgfault 3\npgmajfault 4\ninactive_file 5\n"
        "total_cache 4194304\ntotal_rss 6291456\ntotal_inactive_file 1048576\n"
        "total_pgfault 700\ntotal_pgmajfault 7\n");
    snprintf(rel, sizeof(rel), "%s/k8s.io/c1/cpuacct.usage", cpuacct_dir);
    put(root, rel, "123456789\n");
    snprintf(rel, sizeof(rel), "%s/k8s.io/c1/cpuacct.stat", cpuacct_dir);
    put(root, rel, "user 5\nsystem 2\n");
    put(root, "pids/k8s.io/c1/pids.current", "3\n");
    put(root, "pids/k8s.io/c1/pids.max", "max\n");
}

static void assert_v1_values(const struct berth_cg_stats *s)
{
    assert_true(s->has_cpu);
    assert_int_equal(s->cpu_usage_ns, 123456789);
    assert_int_equal(s->cpu_user_ns, 5 * tick_ns());
    assert_int_equal(s->cpu_system_ns, 2 * tick_ns());
    assert_true(s->has_mem);
    assert_int_equal(s->mem_usage, 10485760);
    assert_int_equal(s->mem_working_set, 10485760 - 1048576);
    assert_int_equal(s->mem_rss, 6291456);
    assert_int_equal(s->mem_cache, 4194304);
    assert_int_equal(s->mem_limit, 0);
    assert_int_equal(s->mem_available, 0);
    assert_int_equal(s->page_faults, 700);
    assert_int_equal(s->major_page_faults, 7);
    assert_true(s->has_pids);
    assert_int_equal(s->pids_current, 3);
    assert_int_equal(s->pids_limit, 0);
}

static void test_cg_stats_read_v1(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_cg_stats s;
    enum berth_cg_mode mode;
    int64_t before = (int64_t)time(NULL) * 1000000000;

    put_v1(env->dir, "cpuacct");
    mkdirs(env->dir, "cpu/k8s.io/c1");
    assert_ok(berth_cg_detect(env->dir, &mode, &err), &err);
    assert_int_equal(mode, BERTH_CG_V1);
    assert_ok(berth_cg_stats_read(env->dir, mode, "/k8s.io/c1", &s, &err), &err);
    assert_v1_values(&s);
    assert_true(s.timestamp_ns >= before);
}

/* Debian's systemd mounts cpu and cpuacct together as "cpu,cpuacct"; a limit gives
 * available = limit - working set. */
static void test_cg_stats_read_v1_combined_cpu_and_limits(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_cg_stats s;

    put_v1(env->dir, "cpu,cpuacct");
    put(env->dir, "memory/k8s.io/c1/memory.limit_in_bytes", "16777216\n");
    put(env->dir, "pids/k8s.io/c1/pids.max", "100\n");
    assert_ok(berth_cg_stats_read(env->dir, BERTH_CG_V1, "/k8s.io/c1", &s, &err), &err);
    assert_true(s.has_cpu);
    assert_int_equal(s.cpu_usage_ns, 123456789);
    assert_int_equal(s.mem_limit, 16777216);
    assert_int_equal(s.mem_available, 16777216 - (10485760 - 1048576));
    assert_int_equal(s.pids_limit, 100);

    /* A working set over the limit leaves nothing available rather than wrapping around. */
    put(env->dir, "memory/k8s.io/c1/memory.limit_in_bytes", "4096\n");
    assert_ok(berth_cg_stats_read(env->dir, BERTH_CG_V1, "/k8s.io/c1", &s, &err), &err);
    assert_int_equal(s.mem_limit, 4096);
    assert_int_equal(s.mem_available, 0);
}

/* Hybrid as here: the v1 hierarchies hold cpu, memory and pids; cgroup2 at unified owns
 * hugetlb only, so its (different) cpu.stat of the same cgroup must not be read. */
static void test_cg_stats_read_hybrid(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_cg_stats s;
    enum berth_cg_mode mode;

    put_v1(env->dir, "cpuacct");
    put(env->dir, "unified/cgroup.controllers", "hugetlb\n");
    put(env->dir, "unified/k8s.io/c1/cpu.stat", "usage_usec 1\nuser_usec 1\nsystem_usec 1\n");
    put(env->dir, "unified/k8s.io/c1/memory.current", "1\n");
    assert_ok(berth_cg_detect(env->dir, &mode, &err), &err);
    assert_int_equal(mode, BERTH_CG_HYBRID);
    assert_ok(berth_cg_stats_read(env->dir, mode, "/k8s.io/c1", &s, &err), &err);
    assert_v1_values(&s);
}

/* Hybrid where cgroup2 owns memory (no v1 memory hierarchy): memory from unified, v2 files. */
static void test_cg_stats_read_hybrid_memory_in_unified(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_cg_stats s;

    put(env->dir, "cpuacct/k8s.io/c1/cpuacct.usage", "42\n");
    put(env->dir, "unified/cgroup.controllers", "memory hugetlb\n");
    put(env->dir, "unified/k8s.io/c1/memory.current", "8192\n");
    put(env->dir, "unified/k8s.io/c1/memory.max", "max\n");
    put(env->dir, "unified/k8s.io/c1/memory.stat", "anon 4096\nfile 4096\ninactive_file 1024\n");
    assert_ok(berth_cg_stats_read(env->dir, BERTH_CG_HYBRID, "/k8s.io/c1", &s, &err), &err);
    assert_true(s.has_cpu);
    assert_int_equal(s.cpu_usage_ns, 42);
    assert_true(s.has_mem);
    assert_int_equal(s.mem_usage, 8192);
    assert_int_equal(s.mem_working_set, 8192 - 1024);
    assert_int_equal(s.mem_rss, 4096);
    assert_false(s.has_pids);
}

static void put_v2(const char *root, const char *cg)
{
    char rel[512];

    snprintf(rel, sizeof(rel), "%s/cpu.stat", cg);
    put(root, rel,
        "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\n"
        "throttled_usec 0\n");
    snprintf(rel, sizeof(rel), "%s/memory.current", cg);
    put(root, rel, "20971520\n");
    snprintf(rel, sizeof(rel), "%s/memory.max", cg);
    put(root, rel, "max\n");
    snprintf(rel, sizeof(rel), "%s/memory.stat", cg);
    put(root, rel,
        "anon 12582912\nfile 8388608\nkernel 0\nactive_file 4194304\ninactive_file 2097152\n"
        "pgfault 900\npgmajfault 9\nworkingset_refault_anon 0\n");
    snprintf(rel, sizeof(rel), "%s/pids.current", cg);
    put(root, rel, "4\n");
    snprintf(rel, sizeof(rel), "%s/pids.max", cg);
    put(root, rel, "512\n");
}

static void test_cg_stats_read_v2(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_cg_stats s;
    enum berth_cg_mode mode;

    put(env->dir, "cgroup.controllers", "cpu memory pids\n");
    put_v2(env->dir, "kubepods/podU/c1");
    assert_ok(berth_cg_detect(env->dir, &mode, &err), &err);
    assert_int_equal(mode, BERTH_CG_V2);
    assert_ok(berth_cg_stats_read(env->dir, mode, "/kubepods/podU/c1", &s, &err), &err);
    assert_true(s.has_cpu);
    assert_int_equal(s.cpu_usage_ns, 2500000);
    assert_int_equal(s.cpu_user_ns, 2000000);
    assert_int_equal(s.cpu_system_ns, 500000);
    assert_true(s.has_mem);
    assert_int_equal(s.mem_usage, 20971520);
    assert_int_equal(s.mem_working_set, 20971520 - 2097152);
    assert_int_equal(s.mem_rss, 12582912);
    assert_int_equal(s.mem_cache, 8388608);
    assert_int_equal(s.mem_limit, 0);
    assert_int_equal(s.mem_available, 0);
    assert_int_equal(s.page_faults, 900);
    assert_int_equal(s.major_page_faults, 9);
    assert_true(s.has_pids);
    assert_int_equal(s.pids_current, 4);
    assert_int_equal(s.pids_limit, 512);

    /* The pod is the parent cgroup: no memory or pids controller enabled there (no files),
     * only the cpu.stat every v2 cgroup has. */
    put(env->dir, "kubepods/podU/cpu.stat", "usage_usec 7\nuser_usec 5\nsystem_usec 2\n");
    assert_ok(berth_cg_stats_read(env->dir, mode, "/kubepods/podU", &s, &err), &err);
    assert_true(s.has_cpu);
    assert_int_equal(s.cpu_usage_ns, 7000);
    assert_false(s.has_mem);
    assert_int_equal(s.mem_usage, 0);
    assert_false(s.has_pids);
}

static void test_cg_stats_read_systemd_path(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_cg_stats s;

    put(env->dir, "cgroup.controllers", "cpu memory pids\n");
    put_v2(env->dir, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podU.slice/"
                     "cri-containerd-c1.scope");
    put(env->dir,
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podU.slice/"
        "cri-containerd-c1.scope/memory.max",
        "1073741824\n");
    assert_ok(berth_cg_stats_read(env->dir, BERTH_CG_V2,
                                  "kubepods-burstable-podU.slice:cri-containerd:c1", &s, &err),
              &err);
    assert_true(s.has_mem);
    assert_int_equal(s.mem_usage, 20971520);
    assert_int_equal(s.mem_limit, 1073741824);
    assert_int_equal(s.mem_available, 1073741824 - (20971520 - 2097152));
}

static void test_cg_stats_read_missing_is_not_found(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_cg_stats s;

    put_v1(env->dir, "cpuacct");
    assert_int_equal(berth_cg_stats_read(env->dir, BERTH_CG_V1, "/k8s.io/gone", &s, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_cg_stats_read(env->dir, BERTH_CG_HYBRID, "/k8s.io/gone", &s, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_cg_stats_read(env->dir, BERTH_CG_V2, "/k8s.io/gone", &s, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_cg_stats_read(env->dir, BERTH_CG_V1, "bad:p:n", &s, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_cg_stats_read_malformed_is_internal(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_cg_stats s;

    put_v1(env->dir, "cpuacct");
    put(env->dir, "memory/k8s.io/c1/memory.usage_in_bytes", "lots\n");
    assert_int_equal(berth_cg_stats_read(env->dir, BERTH_CG_V1, "/k8s.io/c1", &s, &err), -1);
    assert_err_code(err, BERTH_E_INTERNAL);
}

/* The real test: a cgroup made under a test-only name in each hierarchy read, holding a child
 * that burns some cpu, touches memory and then sleeps. */
struct real_cg {
    char dirs[3][512];
    size_t n;
    pid_t child;
    enum berth_cg_mode mode;
};

static int real_setup(void **state)
{
    *state = calloc(1, sizeof(struct real_cg));
    ((struct real_cg *)*state)->child = -1;
    return *state ? 0 : -1;
}

static int real_teardown(void **state)
{
    struct real_cg *r = *state;

    if (r->child > 0) {
        kill(r->child, SIGKILL);
        waitpid(r->child, NULL, 0);
    }
    /* The cgroup may stay busy for a moment after its last task is reaped. */
    for (size_t i = 0; i < r->n; i++)
        for (int tries = 0; rmdir(r->dirs[i]) < 0 && errno == EBUSY && tries < 100; tries++)
            usleep(10000);
    free(r);
    return 0;
}

static void write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    close(fd);
}

static void child_run(int go, int ready)
{
    struct timespec t;
    char c;
    size_t len = 8 << 20;
    volatile char *mem;

    if (read(go, &c, 1) != 1)
        _exit(1);
    /* Now in the cgroup: every page touched and every cpu cycle from here is charged to it. */
    mem = malloc(len);
    if (!mem)
        _exit(1);
    for (size_t i = 0; i < len; i += 4096)
        mem[i] = 1;
    do
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    while (t.tv_sec == 0 && t.tv_nsec < 30000000);
    if (write(ready, "r", 1) != 1)
        _exit(1);
    for (;;)
        pause();
}

/* Makes the cgroup /<test-only name> in r->dirs (skips the test when that is not allowed),
 * moves a child into it that burns cpu and touches memory there, and reads its stats from
 * root as mode. */
static void real_run(struct real_cg *r, const char *root, enum berth_cg_mode mode,
                     struct berth_cg_stats *s)
{
    static const char *const v1_ctrls[] = {"memory", "cpuacct", "pids"};
    struct berth_err *err = NULL;
    char name[64], cg[80], pid[32], path[600];
    int go[2], ready[2];
    char c;

    snprintf(name, sizeof(name), "berth-test-stats-%d", (int)getpid());
    snprintf(cg, sizeof(cg), "/%s", name);
    for (size_t i = 0; i < (mode == BERTH_CG_V2 ? 1 : BERTH_N(v1_ctrls)); i++) {
        if (mode == BERTH_CG_V2)
            snprintf(r->dirs[r->n], sizeof(r->dirs[0]), "%s/%s", root, name);
        else
            snprintf(r->dirs[r->n], sizeof(r->dirs[0]), "%s/%s/%s", root, v1_ctrls[i], name);
        if (mkdir(r->dirs[r->n], 0755) < 0)
            skip();
        r->n++;
    }

    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    r->child = fork();
    assert_true(r->child >= 0);
    if (r->child == 0)
        child_run(go[0], ready[1]);
    close(go[0]);
    close(ready[1]);
    snprintf(pid, sizeof(pid), "%d", (int)r->child);
    for (size_t i = 0; i < r->n; i++) {
        snprintf(path, sizeof(path), "%s/cgroup.procs", r->dirs[i]);
        write_str(path, pid);
    }
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(go[1]);
    close(ready[0]);

    assert_ok(berth_cg_stats_read(root, mode, cg, s, &err), &err);
    assert_true(s->has_cpu);
    assert_true(s->cpu_usage_ns >= 10000000);
    assert_true(s->cpu_user_ns + s->cpu_system_ns > 0);
    /* v2 has memory and pids files only when the root enables those controllers for its
     * children; the v1 cgroups were made in their hierarchies. */
    if (mode != BERTH_CG_V2 || s->has_pids) {
        assert_true(s->has_pids);
        assert_int_equal(s->pids_current, 1);
    }
    if (mode != BERTH_CG_V2 || s->has_mem) {
        assert_true(s->has_mem);
        assert_true(s->mem_usage >= 4 << 20);
        assert_true(s->mem_working_set > 0);
        assert_true(s->mem_rss >= 4 << 20);
        assert_true(s->page_faults > 0);
        assert_int_equal(s->mem_limit, 0);
    }
}

/* The machine's own layout under /sys/fs/cgroup (hybrid here: the v1 hierarchies are read). */
static void test_cg_stats_read_real_cgroup(void **state)
{
    struct real_cg *r = *state;
    struct berth_err *err = NULL;
    struct berth_cg_stats s;

    if (geteuid() != 0 || berth_cg_detect("/sys/fs/cgroup", &r->mode, &err) < 0) {
        berth_err_free(&err);
        skip();
    }
    real_run(r, "/sys/fs/cgroup", r->mode, &s);
}

/* The v2 reader on real kernel files: the cgroup2 mount itself (/sys/fs/cgroup/unified on a
 * hybrid host, read as a v2 root; the same as above on a v2 host). */
static void test_cg_stats_read_real_cgroup2(void **state)
{
    struct real_cg *r = *state;
    struct berth_err *err = NULL;
    struct berth_cg_stats s;
    enum berth_cg_mode mode;

    if (geteuid() != 0 || berth_cg_detect("/sys/fs/cgroup", &mode, &err) < 0) {
        berth_err_free(&err);
        skip();
    }
    if (mode == BERTH_CG_V1)
        skip();
    real_run(r, mode == BERTH_CG_V2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified", BERTH_CG_V2, &s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cg_detect_layouts, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_cg_detect_empty_is_not_found, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test(test_cg_path_resolve_cgroupfs),
        cmocka_unit_test(test_cg_path_resolve_systemd),
        cmocka_unit_test_setup_teardown(test_cg_stats_read_v1, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_cg_stats_read_v1_combined_cpu_and_limits,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_cg_stats_read_hybrid, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_cg_stats_read_hybrid_memory_in_unified,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_cg_stats_read_v2, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_cg_stats_read_systemd_path, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_cg_stats_read_missing_is_not_found,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_cg_stats_read_malformed_is_internal,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_cg_stats_read_real_cgroup, real_setup, real_teardown),
        cmocka_unit_test_setup_teardown(test_cg_stats_read_real_cgroup2, real_setup, real_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
