/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/shim/cgroup.c stats: a fake cgroup tree (v1 with a combined cpu,cpuacct
 * hierarchy, and v2) read into containerd's cgroups v1/v2 Metrics, "max" limits, missing
 * files and a cgroup file without the needed controllers. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/cgroups/v1/metrics.pb-c.h"
#include "api/cgroups/v2/metrics.pb-c.h"
#include "runtime/shim/shim-internal.h"

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

static const char proc_v1[] = "12:pids:/default/c1\n"
                              "5:cpu,cpuacct:/default/c1\n"
                              "4:memory:/default/c1\n"
                              "1:name=systemd:/system.slice\n"
                              "0::/\n";

static void test_v1_metrics(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_bytes b = {0};
    const char *url = NULL;
    char proc[4096];
    long hz = sysconf(_SC_CLK_TCK);

    put(env->dir, "proc", proc_v1);
    put(env->dir, "memory/default/c1/memory.usage_in_bytes", "1048576\n");
    put(env->dir, "memory/default/c1/memory.limit_in_bytes", "9223372036854771712\n");
    put(env->dir, "memory/default/c1/memory.max_usage_in_bytes", "2097152\n");
    put(env->dir, "memory/default/c1/memory.failcnt", "0\n");
    put(env->dir, "memory/default/c1/memory.stat",
        "cache 4096\nrss 8192\npgfault 33\ntotal_pgmajfault 2\nhierarchical_memsw_limit 7\n"
        "bogus 1\nunevictable notanumber\n");
    put(env->dir, "cpu,cpuacct/default/c1/cpuacct.usage", "123456789\n");
    put(env->dir, "cpu,cpuacct/default/c1/cpuacct.usage_percpu", "100 200 300 \n");
    put(env->dir, "cpu,cpuacct/default/c1/cpuacct.stat", "user 5\nsystem 2\n");
    put(env->dir, "cpu,cpuacct/default/c1/cpu.stat",
        "nr_periods 10\nnr_throttled 3\nthrottled_time 99\n");
    put(env->dir, "pids/default/c1/pids.current", "2\n");
    put(env->dir, "pids/default/c1/pids.max", "max\n");
    snprintf(proc, sizeof(proc), "%s/proc", env->dir);

    assert_ok(shim_cgroup_stats_at(env->dir, false, proc, &b, &url, &err), &err);
    assert_string_equal(url, "io.containerd.cgroups.v1.Metrics");
    Io__Containerd__Cgroups__V1__Metrics *m =
        io__containerd__cgroups__v1__metrics__unpack(NULL, b.len, b.data);
    assert_non_null(m);
    assert_non_null(m->memory);
    assert_int_equal(m->memory->cache, 4096);
    assert_int_equal(m->memory->rss, 8192);
    assert_int_equal(m->memory->pg_fault, 33);
    assert_int_equal(m->memory->total_pg_maj_fault, 2);
    assert_int_equal(m->memory->hierarchical_swap_limit, 7);
    assert_int_equal(m->memory->unevictable, 0);
    assert_non_null(m->memory->usage);
    assert_int_equal(m->memory->usage->usage, 1048576);
    assert_int_equal(m->memory->usage->max, 2097152);
    assert_true(m->memory->usage->limit == 9223372036854771712ULL);
    assert_null(m->memory->swap); /* no memsw files */
    assert_non_null(m->cpu);
    assert_int_equal(m->cpu->usage->total, 123456789);
    assert_int_equal(m->cpu->usage->n_per_cpu, 3);
    assert_int_equal(m->cpu->usage->per_cpu[2], 300);
    assert_true(m->cpu->usage->user == 5 * (1000000000ULL / (uint64_t)hz));
    assert_true(m->cpu->usage->kernel == 2 * (1000000000ULL / (uint64_t)hz));
    assert_int_equal(m->cpu->throttling->periods, 10);
    assert_int_equal(m->cpu->throttling->throttled_periods, 3);
    assert_int_equal(m->cpu->throttling->throttled_time, 99);
    assert_non_null(m->pids);
    assert_int_equal(m->pids->current, 2);
    assert_int_equal(m->pids->limit, 0); /* "max" */
    io__containerd__cgroups__v1__metrics__free_unpacked(m, NULL);
    berth_bytes_clear(&b);
}

static void test_v2_metrics(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_bytes b = {0};
    const char *url = NULL;
    char proc[4096];

    put(env->dir, "proc", "0::/default/c2\n");
    put(env->dir, "default/c2/memory.current", "65536\n");
    put(env->dir, "default/c2/memory.max", "max\n");
    put(env->dir, "default/c2/memory.stat", "anon 4096\nfile 8192\npgfault 12\nusage 999\n");
    put(env->dir, "default/c2/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
    put(env->dir, "default/c2/pids.current", "1\n");
    put(env->dir, "default/c2/pids.max", "64\n");
    snprintf(proc, sizeof(proc), "%s/proc", env->dir);

    assert_ok(shim_cgroup_stats_at(env->dir, true, proc, &b, &url, &err), &err);
    assert_string_equal(url, "io.containerd.cgroups.v2.Metrics");
    Io__Containerd__Cgroups__V2__Metrics *m =
        io__containerd__cgroups__v2__metrics__unpack(NULL, b.len, b.data);
    assert_non_null(m);
    assert_int_equal(m->memory->usage, 65536); /* memory.current wins over the stat key */
    assert_true(m->memory->usage_limit == UINT64_MAX);
    assert_int_equal(m->memory->anon, 4096);
    assert_int_equal(m->memory->file, 8192);
    assert_int_equal(m->memory->pgfault, 12);
    assert_int_equal(m->memory->swap_usage, 0); /* missing file */
    assert_int_equal(m->cpu->usage_usec, 1500);
    assert_int_equal(m->cpu->user_usec, 1000);
    assert_int_equal(m->cpu->system_usec, 500);
    assert_int_equal(m->pids->current, 1);
    assert_int_equal(m->pids->limit, 64);
    io__containerd__cgroups__v2__metrics__free_unpacked(m, NULL);
    berth_bytes_clear(&b);
}

static void test_no_controllers_is_not_found(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_bytes b = {0};
    const char *url = NULL;
    char proc[4096];

    put(env->dir, "proc", "1:name=systemd:/x\n");
    snprintf(proc, sizeof(proc), "%s/proc", env->dir);
    assert_int_equal(shim_cgroup_stats_at(env->dir, false, proc, &b, &url, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(shim_cgroup_stats_at(env->dir, true, proc, &b, &url, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    snprintf(proc, sizeof(proc), "%s/missing", env->dir);
    assert_int_equal(shim_cgroup_stats_at(env->dir, false, proc, &b, &url, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_null(b.data);
}

static void test_self_stats(void **state)
{
    struct berth_err *err = NULL;
    struct berth_bytes b = {0};
    const char *url = NULL;

    (void)state;
    /* Whatever the host layout, our own cgroup yields a packed Metrics or NOT_FOUND. */
    if (shim_cgroup_stats(getpid(), &b, &url, &err) < 0) {
        assert_err_code(err, BERTH_E_NOT_FOUND);
        return;
    }
    assert_non_null(url);
    berth_bytes_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v1_metrics, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_v2_metrics, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_no_controllers_is_not_found, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test(test_self_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
