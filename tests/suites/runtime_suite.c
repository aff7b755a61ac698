/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime conformance suite: the typed task API of runtime/v2 (runtime.h) against a real
 * shim and OCI runtime, as the CRI and the Tasks service use it. argv[1] is the directory
 * holding berth-shim (the default runtime io.containerd.berth.v1), which runs runc from $PATH.
 * The containers run a busybox rootfs built from the host's /bin/busybox (applets as hard
 * links). Needs root; skips when runc or busybox is missing. CTest: suite.runtime.berth-shim.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/helpers/berth_test.h"

#include "api/types/task/task.pb-c.h" /* CONTAINERD__V1__TYPES__STATUS__* */
#include "lib/util.h"
#include "runtime/oci/spec.h"
#include "runtime/v2/runtime.h"

#define NS "berth-suite"

static const char *shim_dir;
static char *busybox_root; /* built once for the group */
static struct berth_test_env *group_tmp;

struct fx {
    struct berth_test_env *tmp;
    struct berth_rt *rt;
    char id[64];
};

static bool in_path(const char *name)
{
    _cleanup_free_ char *cmd = berth_strdup_printf("command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static int group_setup(void **state)
{
    _cleanup_free_ char *cmd = NULL;

    (void)state;
    if (geteuid() != 0 || !in_path("runc") || !in_path("busybox"))
        return 0; /* every test skips */
    if (berth_test_setup_tmpdir((void **)&group_tmp) < 0)
        return -1;
    busybox_root = berth_strdup_printf("%s/busybox", group_tmp->dir);
    /* Hard links, not symlinks: runc masks the target of a masked path, i.e. busybox itself. */
    cmd = berth_strdup_printf(
        "set -e; R='%s'; mkdir -p \"$R/bin\" \"$R/etc\" \"$R/tmp\" \"$R/proc\" \"$R/dev\" "
        "\"$R/sys\"; cp \"$(command -v busybox)\" \"$R/bin/busybox\"; "
        "for a in $(\"$R/bin/busybox\" --list); do [ \"$a\" = busybox ] || "
        "ln \"$R/bin/busybox\" \"$R/bin/$a\"; done; "
        "echo 'root:x:0:0:root:/root:/bin/sh' >\"$R/etc/passwd\"; "
        "echo 'root:x:0:' >\"$R/etc/group\"",
        busybox_root);
    return system(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    free(busybox_root);
    return group_tmp ? berth_test_teardown_tmpdir((void **)&group_tmp) : 0;
}

static int setup(void **state)
{
    struct fx *fx = berth_xcalloc(1, sizeof(*fx));
    _cleanup_free_ char *st = NULL, *address = NULL;
    struct berth_rt_opts o = {0};
    struct berth_err *err = NULL;
    static int seq;

    *state = fx;
    if (!busybox_root)
        return 0;
    if (berth_test_setup_tmpdir((void **)&fx->tmp) < 0)
        return -1;
    /* Unique across concurrent runs: runc's state and the cgroups are host-wide. */
    snprintf(fx->id, sizeof(fx->id), "suite-%d-%d", (int)getpid(), ++seq);
    st = berth_strdup_printf("%s/state", fx->tmp->dir);
    address = berth_strdup_printf("%s/berthd.sock", fx->tmp->dir);
    o.state = st;
    o.address = address;
    o.bin_dir = shim_dir;
    if (berth_rt_new(&o, &fx->rt, &err) < 0 || berth_rt_start(fx->rt, &err) < 0) {
        fprintf(stderr, "runtime: %s\n", err->msg);
        berth_err_free(&err);
        return -1;
    }
    return 0;
}

/* Kills and deletes what a failed test left, then drops the manager. */
static int teardown(void **state)
{
    struct fx *fx = *state;
    struct berth_rt_task *t = NULL;
    struct berth_err *err = NULL;
    uint32_t status;
    int64_t at;

    if (fx->rt && berth_rt_task_get(fx->rt, NS, fx->id, &t, &err) == 0) {
        berth_rt_task_kill(fx->rt, t, NULL, 9, true, &err);
        berth_err_free(&err);
        berth_rt_task_wait(fx->rt, t, NULL, &status, &at, &err);
        berth_err_free(&err);
        berth_rt_task_delete(fx->rt, t, NULL, NULL, NULL, &err);
        berth_rt_task_put(t);
    }
    berth_err_free(&err);
    berth_rt_free(fx->rt);
    if (fx->tmp)
        berth_test_teardown_tmpdir((void **)&fx->tmp);
    free(fx);
    return 0;
}

#define NEED_RUNTIME()                                                                             \
    do {                                                                                           \
        if (!busybox_root)                                                                         \
            skip();                                                                                \
    } while (0)

/* Creates fx's task running args (NULL-terminated) in the busybox rootfs; returns it. */
static struct berth_rt_task *create(struct fx *fx, const char *const *args)
{
    struct berth_oci_opts so = {.ns = NS, .id = fx->id, .args = args};
    struct berth_mount m = {.type = "bind", .source = busybox_root};
    char *opts[] = {"rbind", "rw"};
    struct berth_rt_create_opts o = {.ns = NS, .id = fx->id};
    struct berth_rt_task *t = NULL;
    struct berth_err *err = NULL;
    _cleanup_free_ char *spec = NULL;
    json_t *j = NULL;
    uint32_t pid = 0;

    so.rootfs_dir = busybox_root;
    so.default_devices = true;
    assert_ok(berth_oci_spec_build(&so, &j, &err), &err);
    spec = berth_oci_spec_dump(j);
    json_decref(j);
    m.options = opts;
    m.n_options = BERTH_N(opts);
    o.spec = spec;
    o.spec_len = strlen(spec);
    o.rootfs = &m;
    o.n_rootfs = 1;
    assert_ok(berth_rt_task_create(fx->rt, &o, &pid, &err), &err);
    assert_true(pid > 0);
    assert_ok(berth_rt_task_get(fx->rt, NS, fx->id, &t, &err), &err);
    return t;
}

static int status_of(struct fx *fx, struct berth_rt_task *t, const char *exec_id)
{
    struct berth_rt_state st;
    struct berth_err *err = NULL;
    int s;

    assert_ok(berth_rt_task_state(fx->rt, t, exec_id, &st, &err), &err);
    s = st.status;
    berth_rt_state_clear(&st);
    return s;
}

/* SIGKILLs the init, waits and deletes the task: its exit status is 137. */
static void kill_and_delete(struct fx *fx, struct berth_rt_task *t)
{
    struct berth_err *err = NULL;
    uint32_t status = 0;
    int64_t at = 0;

    assert_ok(berth_rt_task_kill(fx->rt, t, NULL, 9, true, &err), &err);
    assert_ok(berth_rt_task_wait(fx->rt, t, NULL, &status, &at, &err), &err);
    assert_int_equal(status, 137);
    assert_ok(berth_rt_task_delete(fx->rt, t, NULL, &status, &at, &err), &err);
    assert_int_equal(status, 137);
    berth_rt_task_put(t);
}

static void test_runtime_create_start_wait_delete(void **state)
{
    struct fx *fx = *state;
    struct berth_rt_task *t;
    struct berth_err *err = NULL;
    uint32_t pid = 0, status = 0;
    int64_t at = 0;

    NEED_RUNTIME();
    t = create(fx, (const char *[]){"sh", "-c", "exit 3", NULL});
    assert_int_equal(status_of(fx, t, NULL), CONTAINERD__V1__TYPES__STATUS__CREATED);
    assert_ok(berth_rt_task_start(fx->rt, t, NULL, &pid, &err), &err);
    assert_true(pid > 0);
    assert_ok(berth_rt_task_wait(fx->rt, t, NULL, &status, &at, &err), &err);
    assert_int_equal(status, 3);
    assert_true(at > 0);
    assert_int_equal(status_of(fx, t, NULL), CONTAINERD__V1__TYPES__STATUS__STOPPED);
    status = 0;
    assert_ok(berth_rt_task_delete(fx->rt, t, &pid, &status, &at, &err), &err);
    assert_int_equal(status, 3);
    berth_rt_task_put(t);
    assert_int_equal(berth_rt_task_get(fx->rt, NS, fx->id, &t, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_runtime_exec_wait_delete_process_kill(void **state)
{
    struct fx *fx = *state;
    const char *proc = "{\"args\":[\"sh\",\"-c\",\"exit 5\"],\"cwd\":\"/\","
                       "\"env\":[\"PATH=/bin\"],\"user\":{\"uid\":0,\"gid\":0}}";
    struct berth_rt_exec_opts eo = {.exec_id = "e1", .spec = proc, .spec_len = strlen(proc)};
    struct berth_rt_task *t;
    struct berth_err *err = NULL;
    uint32_t pid = 0, status = 0;
    int64_t at = 0;

    NEED_RUNTIME();
    t = create(fx, (const char *[]){"sleep", "300", NULL});
    assert_ok(berth_rt_task_start(fx->rt, t, NULL, &pid, &err), &err);
    assert_ok(berth_rt_task_exec(fx->rt, t, &eo, &err), &err);
    /* a second exec with the same id */
    assert_int_equal(berth_rt_task_exec(fx->rt, t, &eo, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    assert_ok(berth_rt_task_start(fx->rt, t, "e1", &pid, &err), &err);
    assert_true(pid > 0);
    assert_ok(berth_rt_task_wait(fx->rt, t, "e1", &status, &at, &err), &err);
    assert_int_equal(status, 5);
    status = 0;
    assert_ok(berth_rt_task_delete_process(fx->rt, t, "e1", &pid, &status, &at, &err), &err);
    assert_int_equal(status, 5);
    assert_true(at > 0);
    /* the exec is gone; the init still runs */
    assert_int_equal(berth_rt_task_kill(fx->rt, t, "e1", 9, false, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_rt_task_start(fx->rt, t, "nope", &pid, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(status_of(fx, t, NULL), CONTAINERD__V1__TYPES__STATUS__RUNNING);
    kill_and_delete(fx, t);
}

static void test_runtime_pause_resume(void **state)
{
    struct fx *fx = *state;
    struct berth_rt_task *t;
    struct berth_err *err = NULL;
    uint32_t pid = 0;

    NEED_RUNTIME();
    t = create(fx, (const char *[]){"sleep", "300", NULL});
    assert_ok(berth_rt_task_start(fx->rt, t, NULL, &pid, &err), &err);
    assert_ok(berth_rt_task_pause(fx->rt, t, &err), &err);
    assert_int_equal(status_of(fx, t, NULL), CONTAINERD__V1__TYPES__STATUS__PAUSED);
    assert_ok(berth_rt_task_resume(fx->rt, t, &err), &err);
    assert_int_equal(status_of(fx, t, NULL), CONTAINERD__V1__TYPES__STATUS__RUNNING);
    kill_and_delete(fx, t);
}

/* pids.max of fx's cgroup (cgroupsPath /<ns>/<id>), v1 pids controller or cgroup2. */
static char *pids_max(struct fx *fx)
{
    static char buf[32];
    const char *const roots[] = {"/sys/fs/cgroup/pids", "/sys/fs/cgroup"};

    for (size_t i = 0; i < BERTH_N(roots); i++) {
        _cleanup_free_ char *p = berth_strdup_printf("%s/%s/%s/pids.max", roots[i], NS, fx->id);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = '\0';
        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
        return buf;
    }
    return "(no pids.max)";
}

static void test_runtime_update_pids_stats(void **state)
{
    struct fx *fx = *state;
    const char *res_json = "{\"pids\":{\"limit\":64}}";
    Google__Protobuf__Any res = GOOGLE__PROTOBUF__ANY__INIT;
    Google__Protobuf__Any *stats = NULL;
    struct berth_rt_pid *v = NULL;
    struct berth_rt_task *t;
    struct berth_err *err = NULL;
    uint32_t pid = 0;
    size_t n = 0;
    bool found = false;

    NEED_RUNTIME();
    t = create(fx, (const char *[]){"sleep", "300", NULL});
    assert_ok(berth_rt_task_start(fx->rt, t, NULL, &pid, &err), &err);
    res.type_url = BERTH_RT_LINUX_RESOURCES_TYPE;
    res.value.data = (uint8_t *)res_json;
    res.value.len = strlen(res_json);
    assert_ok(berth_rt_task_update(fx->rt, t, &res, NULL, &err), &err);
    assert_string_equal(pids_max(fx), "64");
    assert_ok(berth_rt_task_pids(fx->rt, t, &v, &n, &err), &err);
    for (size_t i = 0; i < n; i++)
        found = found || v[i].pid == pid;
    assert_true(found);
    berth_rt_pids_free(v, n);
    assert_ok(berth_rt_task_stats(fx->rt, t, &stats, &err), &err);
    assert_non_null(stats);
    assert_true(berth_str_has_prefix(stats->type_url, "io.containerd.cgroups."));
    assert_true(stats->value.len > 0);
    protobuf_c_message_free_unpacked(&stats->base, NULL);
    kill_and_delete(fx, t);
}

int main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_runtime_create_start_wait_delete),
        T(test_runtime_exec_wait_delete_process_kill),
        T(test_runtime_pause_resume),
        T(test_runtime_update_pids_stats),
    };
    int ret;

    if (argc != 2) {
        fprintf(stderr, "usage: %s <dir holding berth-shim>\n", argv[0]);
        return 2;
    }
    /* absolute: the shim starts in its bundle directory */
    shim_dir = realpath(argv[1], NULL);
    if (!shim_dir) {
        perror(argv[1]);
        return 2;
    }
    ret = cmocka_run_group_tests(tests, group_setup, group_teardown);
    free((char *)shim_dir);
    return ret;
}
