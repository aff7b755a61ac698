/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/v2/restore.c: what berth_rt_start makes of the bundles a daemon left,
 * berth_rt_task_reap and a Delete the shim answers NOT_FOUND. A fake shim (ttrpc server in a
 * thread) answers Connect/State/Delete/Shutdown: ids starting with "live" hold a task, others
 * do not; /bin/true stands in for the shim binary (`delete` succeeds, `start` prints nothing). */
#include "tests/unit/helpers/berth_test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/runtime/task/v2/shim.pb-c.h"
#include "lib/util.h"
#include "runtime/v2/runtime-internal.h"
#include "ttrpc/server.h"

#define NS "ns1"

struct fx {
    struct berth_test_env *env;
    char *state, *shim_addr;
    int listen_fd, stop_fd;
    struct berth_ttrpc_server *srv;
    pthread_t thread;
    struct berth_rt *rt;
    int shutdowns[8]; /* per fake id, see id_slot */
    int forgotten;    /* "live" ids answer as if they held no task once set */
};

static const char *const ids[] = {"orphan", "live", "half", "deadtask", "nostart", "live2", "x"};

static int id_slot(const char *id)
{
    for (size_t i = 0; i < BERTH_N(ids); i++)
        if (strcmp(ids[i], id) == 0)
            return (int)i;
    return (int)BERTH_N(ids);
}

static bool holds_task(struct fx *fx, const char *id)
{
    return strncmp(id, "live", 4) == 0 && !__atomic_load_n(&fx->forgotten, __ATOMIC_SEQ_CST);
}

static int fake_connect(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Task__V2__ConnectRequest *req = (const void *)in;
    Containerd__Task__V2__ConnectResponse r = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

    (void)err;
    r.shim_pid = 1;
    r.task_pid = holds_task(ctx->app, req->id) ? 4242 : 0;
    berth_ttrpc_pack(out, &r.base);
    return 0;
}

static int fake_state(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Task__V2__StateRequest *req = (const void *)in;
    Containerd__Task__V2__StateResponse r = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;

    if (!holds_task(ctx->app, req->id))
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "container not created");
    r.pid = 4242;
    berth_ttrpc_pack(out, &r.base);
    return 0;
}

static int fake_delete(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                       struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Task__V2__DeleteRequest *req = (const void *)in;

    (void)out;
    if (!holds_task(ctx->app, req->id))
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "task \"%s\" not found", req->id);
    return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "task is running");
}

static int fake_shutdown(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Task__V2__ShutdownRequest *req = (const void *)in;
    struct fx *fx = ctx->app;

    (void)out;
    (void)err;
    __atomic_add_fetch(&fx->shutdowns[id_slot(req->id)], 1, __ATOMIC_SEQ_CST);
    return 0;
}

static const struct berth_ttrpc_method methods[] = {
    {"Connect", &containerd__task__v2__connect_request__descriptor, fake_connect},
    {"State", &containerd__task__v2__state_request__descriptor, fake_state},
    {"Delete", &containerd__task__v2__delete_request__descriptor, fake_delete},
    {"Shutdown", &containerd__task__v2__shutdown_request__descriptor, fake_shutdown},
};
static const struct berth_ttrpc_service svc = {BERTH_RT_TASK_SERVICE, methods, BERTH_N(methods)};
static const struct berth_ttrpc_service *const svcs[] = {&svc};

static void *serve_main(void *arg)
{
    struct fx *fx = arg;
    struct berth_err *err = NULL;

    if (berth_ttrpc_server_serve(fx->srv, fx->listen_fd, fx->stop_fd, &err) < 0)
        berth_err_free(&err);
    return NULL;
}

static int setup(void **state)
{
    struct fx *fx = berth_xcalloc(1, sizeof(*fx));
    struct berth_err *err = NULL;
    _cleanup_free_ char *path = NULL;
    void *env = NULL;

    if (berth_test_setup_tmpdir(&env) < 0)
        return -1;
    fx->env = env;
    fx->state = berth_strdup_printf("%s/state", fx->env->dir);
    path = berth_strdup_printf("%s/shim.sock", fx->env->dir);
    fx->shim_addr = berth_strdup_printf("unix://%s", path);
    if (berth_ttrpc_server_listen(path, &fx->listen_fd, &err) < 0) {
        berth_err_free(&err);
        return -1;
    }
    fx->stop_fd = eventfd(0, EFD_CLOEXEC);
    fx->srv = berth_ttrpc_server_new(svcs, BERTH_N(svcs), fx);
    if (pthread_create(&fx->thread, NULL, serve_main, fx) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    uint64_t one = 1;
    void *env = fx->env;

    berth_rt_free(fx->rt);
    if (write(fx->stop_fd, &one, sizeof(one)) != sizeof(one))
        return -1;
    pthread_join(fx->thread, NULL);
    berth_ttrpc_server_free(fx->srv);
    close(fx->listen_fd);
    close(fx->stop_fd);
    free(fx->state);
    free(fx->shim_addr);
    free(fx);
    return berth_test_teardown_tmpdir(&env);
}

/* A bundle of NS/id holding the named files ("name=content" pairs, NULL-terminated). */
static char *bundle(struct fx *fx, const char *id, ...)
{
    char *b = berth_rt_bundle_path(fx->state, NS, id);
    struct berth_err *err = NULL;
    const char *kv;
    va_list ap;

    assert_ok(berth_rt_bundle_create(b, "{}", 2, &err), &err);
    va_start(ap, id);
    while ((kv = va_arg(ap, const char *))) {
        const char *eq = strchr(kv, '=');
        _cleanup_free_ char *name = berth_xstrndup(kv, (size_t)(eq - kv));
        assert_ok(berth_rt_bundle_write(b, name, eq + 1, &err), &err);
    }
    va_end(ap);
    return b;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void start_rt(struct fx *fx)
{
    _cleanup_free_ char *address = berth_strdup_printf("%s/berthd.sock", fx->env->dir);
    struct berth_rt_opts o = {.state = fx->state, .address = address, .bin_dir = fx->env->dir};
    struct berth_err *err = NULL;

    assert_ok(berth_rt_new(&o, &fx->rt, &err), &err);
    assert_ok(berth_rt_start(fx->rt, &err), &err);
}

/* The ids of NS's tasks, space separated ("" for none). */
static char *task_ids(struct fx *fx)
{
    struct berth_rt_task **v = NULL;
    char *s = berth_xstrdup("");
    size_t n = 0;

    berth_rt_task_list(fx->rt, NS, &v, &n);
    for (size_t i = 0; i < n; i++) {
        char *t = berth_strdup_printf("%s%s%s", s, i ? " " : "", berth_rt_task_id(v[i]));
        free(s);
        s = t;
    }
    berth_rt_tasks_put(v, n);
    return s;
}

static void test_restore_clears_what_holds_no_task(void **state)
{
    struct fx *fx = *state;
    _cleanup_free_ char *addr = berth_strdup_printf("address=%s", fx->shim_addr);
    _cleanup_free_ char *dead = berth_strdup_printf("address=unix://%s/gone.sock", fx->env->dir);
    _cleanup_free_ char *orphan = bundle(fx, "orphan", addr, "shim-binary-path=/bin/true", NULL);
    _cleanup_free_ char *live = bundle(fx, "live", addr, "shim-binary-path=/bin/true", NULL);
    _cleanup_free_ char *half = bundle(fx, "half", NULL);
    _cleanup_free_ char *deadtask =
        bundle(fx, "deadtask", dead, "shim-binary-path=/bin/true", "init.pid=123", NULL);
    _cleanup_free_ char *nostart = bundle(fx, "nostart", "shim-binary-path=/bin/true", NULL);
    _cleanup_free_ char *listed = NULL;
    struct berth_rt_task *t = NULL;
    struct berth_err *err = NULL;
    struct berth_rt_state st;

    start_rt(fx);
    /* the shim without a task was told to go, the one with a task was not */
    assert_int_equal(fx->shutdowns[id_slot("orphan")], 1);
    assert_int_equal(fx->shutdowns[id_slot("live")], 0);
    assert_false(exists(orphan));
    assert_false(exists(half));
    assert_false(exists(nostart));
    assert_true(exists(live));
    /* only tasks that exist are listed: the live one and the one whose shim died */
    listed = task_ids(fx);
    assert_string_equal(listed, "deadtask live");
    assert_ok(berth_rt_task_get(fx->rt, NS, "live", &t, &err), &err);
    assert_ok(berth_rt_task_state(fx->rt, t, NULL, &st, &err), &err);
    assert_int_equal(st.pid, 4242);
    berth_rt_state_clear(&st);
    berth_rt_task_put(t);
    assert_ok(berth_rt_task_get(fx->rt, NS, "deadtask", &t, &err), &err);
    assert_ok(berth_rt_task_state(fx->rt, t, NULL, &st, &err), &err);
    assert_int_equal(st.status, CONTAINERD__V1__TYPES__STATUS__STOPPED);
    berth_rt_state_clear(&st);
    berth_rt_task_put(t);
    assert_false(exists(deadtask));
}

static void test_task_reap_leftover_bundle(void **state)
{
    struct fx *fx = *state;
    _cleanup_free_ char *addr = berth_strdup_printf("address=%s", fx->shim_addr);
    _cleanup_free_ char *orphan = NULL, *live = NULL, *outside = NULL, *listed = NULL;

    start_rt(fx);
    /* bundles that appear while the manager runs have no entry */
    orphan = bundle(fx, "orphan", addr, "shim-binary-path=/bin/true", NULL);
    live = bundle(fx, "live2", addr, "shim-binary-path=/bin/true", NULL);
    berth_rt_task_reap(fx->rt, NS, "orphan");
    assert_int_equal(fx->shutdowns[id_slot("orphan")], 1);
    assert_false(exists(orphan));
    /* one that holds a task is adopted, not removed */
    berth_rt_task_reap(fx->rt, NS, "live2");
    assert_int_equal(fx->shutdowns[id_slot("live2")], 0);
    assert_true(exists(live));
    listed = task_ids(fx);
    assert_string_equal(listed, "live2");
    /* ids that are not identifiers never name a directory to remove */
    outside = berth_strdup_printf("%s/tasks/x", fx->state);
    assert_int_equal(mkdir(outside, 0700), 0);
    berth_rt_task_reap(fx->rt, NS, "../x");
    assert_true(exists(outside));
}

static void test_task_delete_not_found_clears_the_shim(void **state)
{
    struct fx *fx = *state;
    _cleanup_free_ char *addr = berth_strdup_printf("address=%s", fx->shim_addr);
    _cleanup_free_ char *live = bundle(fx, "live", addr, "shim-binary-path=/bin/true", NULL);
    struct berth_rt_task *t = NULL;
    struct berth_err *err = NULL;

    start_rt(fx);
    assert_ok(berth_rt_task_get(fx->rt, NS, "live", &t, &err), &err);
    /* while the shim holds the task, Delete is refused and nothing changes */
    assert_int_equal(berth_rt_task_delete(fx->rt, t, NULL, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_true(exists(live));
    /* once it holds none, Delete answers NOT_FOUND and the shim, bundle and entry go */
    __atomic_store_n(&fx->forgotten, 1, __ATOMIC_SEQ_CST);
    assert_int_equal(berth_rt_task_delete(fx->rt, t, NULL, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_rt_task_put(t);
    assert_int_equal(fx->shutdowns[id_slot("live")], 1);
    assert_false(exists(live));
    assert_int_equal(berth_rt_task_get(fx->rt, NS, "live", &t, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restore_clears_what_holds_no_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_reap_leftover_bundle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_delete_not_found_clears_the_shim, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
