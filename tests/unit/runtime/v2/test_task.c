/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/v2/task.c, the typed task calls, against a fake shim (fake_shim.h): what
 * each sends, what it makes of the answer, the arguments refused before any call, and the
 * errors of a missing process and of a task whose shim is gone. The tasks come from bundles
 * berth_rt_start reattaches to (restore.c): "live" to the fake, "dead" to no shim. */
#include "tests/unit/runtime/v2/fake_shim.h"

#include <fcntl.h>
#include <poll.h>

#include "runtime/shim/attach.h"
#include "runtime/v2/runtime-internal.h" /* bundle helpers to fake what a daemon left */

#define NS "ns1"

struct fx {
    struct berth_test_env *env;
    struct fake_shim shim;
    struct berth_rt *rt;
    struct berth_rt_task *t;    /* "live": attached to the fake */
    struct berth_rt_task *dead; /* "dead": its shim is gone */
};

/* A bundle of NS/id whose shim listens on address. */
static void bundle(const char *state, const char *id, const char *address)
{
    _cleanup_free_ char *b = berth_rt_bundle_path(state, NS, id);
    struct berth_err *err = NULL;

    assert_ok(berth_rt_bundle_create(b, "{}", 2, &err), &err);
    assert_ok(berth_rt_bundle_write(b, "address", address, &err), &err);
    assert_ok(berth_rt_bundle_write(b, "shim-binary-path", "/bin/true", &err), &err);
    assert_ok(berth_rt_bundle_write(b, "init.pid", "123", &err), &err);
}

static int setup(void **state)
{
    struct fx *fx = berth_xcalloc(1, sizeof(*fx));
    _cleanup_free_ char *st = NULL, *address = NULL, *gone = NULL;
    struct berth_err *err = NULL;
    struct berth_rt_opts o = {0};
    void *env = NULL;

    if (berth_test_setup_tmpdir(&env) < 0)
        return -1;
    fx->env = env;
    fake_shim_start(&fx->shim, fx->env->dir);
    st = berth_strdup_printf("%s/state", fx->env->dir);
    address = berth_strdup_printf("%s/berthd.sock", fx->env->dir);
    gone = berth_strdup_printf("unix://%s/gone.sock", fx->env->dir);
    bundle(st, "live", fx->shim.addr);
    bundle(st, "dead", gone);
    o.state = st;
    o.address = address;
    o.bin_dir = fx->env->dir;
    assert_ok(berth_rt_new(&o, &fx->rt, &err), &err);
    assert_ok(berth_rt_start(fx->rt, &err), &err);
    assert_ok(berth_rt_task_get(fx->rt, NS, "live", &fx->t, &err), &err);
    assert_ok(berth_rt_task_get(fx->rt, NS, "dead", &fx->dead, &err), &err);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    void *env = fx->env;

    berth_rt_task_put(fx->t);
    berth_rt_task_put(fx->dead);
    berth_rt_free(fx->rt);
    fake_shim_stop(&fx->shim);
    free(fx);
    return berth_test_teardown_tmpdir(&env);
}

#define LAST(fx, method, type, desc) ((type *)fake_last(&(fx)->shim, method, &(desc)))

static void test_task_start_init_and_exec(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    uint32_t pid = 0;
    Containerd__Task__V2__StartRequest *req;

    assert_ok(berth_rt_task_start(fx->rt, fx->t, NULL, &pid, &err), &err);
    assert_int_equal(pid, FAKE_INIT_PID);
    req = LAST(fx, "Start", Containerd__Task__V2__StartRequest,
               containerd__task__v2__start_request__descriptor);
    assert_string_equal(req->id, "live");
    assert_string_equal(req->exec_id, "");
    protobuf_c_message_free_unpacked(&req->base, NULL);

    assert_ok(berth_rt_task_start(fx->rt, fx->t, "e1", &pid, &err), &err);
    assert_int_equal(pid, FAKE_EXEC_PID);
    req = LAST(fx, "Start", Containerd__Task__V2__StartRequest,
               containerd__task__v2__start_request__descriptor);
    assert_string_equal(req->exec_id, "e1");
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

static void test_task_start_missing_process_is_not_found(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    uint32_t pid = 7;

    assert_int_equal(berth_rt_task_start(fx->rt, fx->t, "nope", &pid, &err), -1);
    assert_int_equal(pid, 0);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_task_kill_sends_signal_and_all(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    Containerd__Task__V2__KillRequest *req;

    assert_ok(berth_rt_task_kill(fx->rt, fx->t, "e1", 9, true, &err), &err);
    req = LAST(fx, "Kill", Containerd__Task__V2__KillRequest,
               containerd__task__v2__kill_request__descriptor);
    assert_string_equal(req->id, "live");
    assert_string_equal(req->exec_id, "e1");
    assert_int_equal(req->signal, 9);
    assert_true(req->all);
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

static void test_task_kill_bad_signal_is_invalid_argument_without_a_call(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    int calls = fake_calls(&fx->shim);

    assert_int_equal(berth_rt_task_kill(fx->rt, fx->t, NULL, 0, false, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_rt_task_kill(fx->rt, fx->t, NULL, 65, false, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(fake_calls(&fx->shim), calls);
}

static void test_task_exec_sends_spec_and_io(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    struct berth_rt_exec_opts o = {.exec_id = "e1", .spec = "{\"args\":[\"true\"]}"};
    Containerd__Task__V2__ExecProcessRequest *req;

    o.spec_len = strlen(o.spec);
    o.io = (struct berth_rt_io){.stdout_path = "/tmp/out", .terminal = true};
    assert_ok(berth_rt_task_exec(fx->rt, fx->t, &o, &err), &err);
    req = LAST(fx, "Exec", Containerd__Task__V2__ExecProcessRequest,
               containerd__task__v2__exec_process_request__descriptor);
    assert_string_equal(req->id, "live");
    assert_string_equal(req->exec_id, "e1");
    assert_true(req->terminal);
    assert_string_equal(req->stdin, "");
    assert_string_equal(req->stdout, "/tmp/out");
    assert_non_null(req->spec);
    assert_string_equal(req->spec->type_url, BERTH_RT_PROCESS_SPEC_TYPE);
    assert_int_equal(req->spec->value.len, o.spec_len);
    assert_memory_equal(req->spec->value.data, o.spec, o.spec_len);
    protobuf_c_message_free_unpacked(&req->base, NULL);

    /* a client's own type URL goes through as it came */
    o.spec_type = "example.com/Process";
    assert_ok(berth_rt_task_exec(fx->rt, fx->t, &o, &err), &err);
    req = LAST(fx, "Exec", Containerd__Task__V2__ExecProcessRequest,
               containerd__task__v2__exec_process_request__descriptor);
    assert_string_equal(req->spec->type_url, "example.com/Process");
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

static void test_task_exec_bad_arguments_are_invalid_without_a_call(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    struct berth_rt_exec_opts o = {.spec = "{}", .spec_len = 2};
    int calls = fake_calls(&fx->shim);

    assert_int_equal(berth_rt_task_exec(fx->rt, fx->t, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    o.exec_id = "";
    assert_int_equal(berth_rt_task_exec(fx->rt, fx->t, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    o.exec_id = "../x";
    assert_int_equal(berth_rt_task_exec(fx->rt, fx->t, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    o.exec_id = "e1";
    o.spec = NULL;
    o.spec_len = 0;
    assert_int_equal(berth_rt_task_exec(fx->rt, fx->t, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(fake_calls(&fx->shim), calls);
}

static void test_task_delete_process_returns_the_exit(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    uint32_t pid = 0, status = 0;
    int64_t at = 0;
    Containerd__Task__V2__DeleteRequest *req;
    struct berth_rt_task *again = NULL;

    assert_ok(berth_rt_task_delete_process(fx->rt, fx->t, "e1", &pid, &status, &at, &err), &err);
    assert_int_equal(pid, FAKE_EXEC_PID);
    assert_int_equal(status, 3);
    assert_int_equal(at, FAKE_EXIT_NS);
    req = LAST(fx, "Delete", Containerd__Task__V2__DeleteRequest,
               containerd__task__v2__delete_request__descriptor);
    assert_string_equal(req->exec_id, "e1");
    protobuf_c_message_free_unpacked(&req->base, NULL);
    /* outputs may be NULL; deleting a process leaves the task in the table */
    assert_ok(berth_rt_task_delete_process(fx->rt, fx->t, "e1", NULL, NULL, NULL, &err), &err);
    assert_ok(berth_rt_task_get(fx->rt, NS, "live", &again, &err), &err);
    berth_rt_task_put(again);
}

static void test_task_delete_process_needs_an_exec_id(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    int calls = fake_calls(&fx->shim);

    assert_int_equal(berth_rt_task_delete_process(fx->rt, fx->t, NULL, NULL, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_rt_task_delete_process(fx->rt, fx->t, "", NULL, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(fake_calls(&fx->shim), calls);
    assert_int_equal(berth_rt_task_delete_process(fx->rt, fx->t, "nope", NULL, NULL, NULL, &err),
                     -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_task_pause_resume_resize_close_io(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    Containerd__Task__V2__PauseRequest *p;
    Containerd__Task__V2__ResumeRequest *r;
    Containerd__Task__V2__ResizePtyRequest *rz;
    Containerd__Task__V2__CloseIORequest *c;

    assert_ok(berth_rt_task_pause(fx->rt, fx->t, &err), &err);
    p = LAST(fx, "Pause", Containerd__Task__V2__PauseRequest,
             containerd__task__v2__pause_request__descriptor);
    assert_string_equal(p->id, "live");
    protobuf_c_message_free_unpacked(&p->base, NULL);
    assert_ok(berth_rt_task_resume(fx->rt, fx->t, &err), &err);
    r = LAST(fx, "Resume", Containerd__Task__V2__ResumeRequest,
             containerd__task__v2__resume_request__descriptor);
    assert_string_equal(r->id, "live");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_ok(berth_rt_task_resize_pty(fx->rt, fx->t, "e1", 80, 25, &err), &err);
    rz = LAST(fx, "ResizePty", Containerd__Task__V2__ResizePtyRequest,
              containerd__task__v2__resize_pty_request__descriptor);
    assert_string_equal(rz->exec_id, "e1");
    assert_int_equal(rz->width, 80);
    assert_int_equal(rz->height, 25);
    protobuf_c_message_free_unpacked(&rz->base, NULL);
    assert_ok(berth_rt_task_close_io(fx->rt, fx->t, NULL, true, &err), &err);
    c = LAST(fx, "CloseIO", Containerd__Task__V2__CloseIORequest,
             containerd__task__v2__close_iorequest__descriptor);
    assert_string_equal(c->exec_id, "");
    assert_true(c->stdin);
    protobuf_c_message_free_unpacked(&c->base, NULL);
}

static void test_task_update_sends_resources_and_annotations(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    struct berth_labels ann = {0};
    Google__Protobuf__Any res = GOOGLE__PROTOBUF__ANY__INIT;
    Containerd__Task__V2__UpdateTaskRequest *req;
    const char *json = "{\"pids\":{\"limit\":10}}";

    res.type_url = BERTH_RT_LINUX_RESOURCES_TYPE;
    res.value.data = (uint8_t *)json;
    res.value.len = strlen(json);
    berth_labels_set(&ann, "b", "2");
    berth_labels_set(&ann, "a", "1");
    assert_ok(berth_rt_task_update(fx->rt, fx->t, &res, &ann, &err), &err);
    berth_labels_clear(&ann);
    req = LAST(fx, "Update", Containerd__Task__V2__UpdateTaskRequest,
               containerd__task__v2__update_task_request__descriptor);
    assert_string_equal(req->id, "live");
    assert_non_null(req->resources);
    assert_string_equal(req->resources->type_url, BERTH_RT_LINUX_RESOURCES_TYPE);
    assert_int_equal(req->resources->value.len, strlen(json));
    assert_int_equal(req->n_annotations, 2);
    assert_string_equal(req->annotations[0]->key, "a");
    assert_string_equal(req->annotations[0]->value, "1");
    assert_string_equal(req->annotations[1]->key, "b");
    protobuf_c_message_free_unpacked(&req->base, NULL);

    /* neither is required */
    assert_ok(berth_rt_task_update(fx->rt, fx->t, NULL, NULL, &err), &err);
    req = LAST(fx, "Update", Containerd__Task__V2__UpdateTaskRequest,
               containerd__task__v2__update_task_request__descriptor);
    assert_null(req->resources);
    assert_int_equal(req->n_annotations, 0);
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

static void test_task_pids_and_stats_hand_over_the_shim_answer(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    struct berth_rt_pid *v = NULL;
    Google__Protobuf__Any *stats = NULL;
    size_t n = 0;

    assert_ok(berth_rt_task_pids(fx->rt, fx->t, &v, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].pid, FAKE_INIT_PID);
    assert_null(v[0].info);
    assert_int_equal(v[1].pid, FAKE_EXEC_PID);
    assert_non_null(v[1].info);
    assert_string_equal(v[1].info->type_url, FAKE_DETAIL_TYPE);
    assert_int_equal(v[1].info->value.len, 4);
    berth_rt_pids_free(v, n);
    berth_rt_pids_free(NULL, 0);

    assert_ok(berth_rt_task_stats(fx->rt, fx->t, &stats, &err), &err);
    assert_non_null(stats);
    assert_string_equal(stats->type_url, FAKE_STATS_TYPE);
    assert_int_equal(stats->value.len, 5);
    assert_memory_equal(stats->value.data, "stats", 5);
    protobuf_c_message_free_unpacked(&stats->base, NULL);
}

static void test_task_calls_on_a_gone_shim_are_failed_precondition(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    struct berth_rt_exec_opts o = {.exec_id = "e1", .spec = "{}", .spec_len = 2};
    struct berth_rt_pid *v = (void *)1;
    Google__Protobuf__Any *stats = (void *)1;
    uint32_t pid = 1;
    size_t n = 1;

    assert_int_equal(berth_rt_task_start(fx->rt, fx->dead, NULL, &pid, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(berth_rt_task_kill(fx->rt, fx->dead, NULL, 9, false, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(berth_rt_task_exec(fx->rt, fx->dead, &o, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(berth_rt_task_pause(fx->rt, fx->dead, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(berth_rt_task_update(fx->rt, fx->dead, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(berth_rt_task_pids(fx->rt, fx->dead, &v, &n, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_int_equal(berth_rt_task_stats(fx->rt, fx->dead, &stats, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_null(stats);
}

/* Listens on <bundle of id>/attach as berth-shim does; returns the listening fd. */
static int attach_listen(struct fx *fx, const char *id)
{
    _cleanup_free_ char *st = berth_strdup_printf("%s/state", fx->env->dir);
    _cleanup_free_ char *b = berth_rt_bundle_path(st, NS, id);
    _cleanup_close_ int dirfd = open(b, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;

    assert_true(dirfd >= 0 && fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, berth_shim_attach_sockaddr(dirfd, &sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    return fd;
}

static void test_task_attach_connects_to_the_bundle_socket(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    _cleanup_close_ int lfd = -1, fd = -1, peer = -1;
    int type = 0;
    socklen_t len = sizeof(type);

    lfd = attach_listen(fx, "live");
    assert_ok(berth_rt_task_attach(fx->rt, fx->t, &fd, &err), &err);
    assert_true(fd >= 0);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
    assert_int_equal(type, SOCK_SEQPACKET);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    peer = accept(lfd, NULL, NULL);
    assert_true(peer >= 0);
    /* packets keep their bounds */
    assert_int_equal(send(peer, "\1hi", 3, 0), 3);
    {
        char buf[8];
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pf, 1, 5000), 1);
        assert_int_equal(recv(fd, buf, sizeof(buf), 0), 3);
    }
}

static void test_task_attach_without_socket_is_failed_precondition(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    _cleanup_free_ char *st = berth_strdup_printf("%s/state", fx->env->dir);
    _cleanup_free_ char *b = berth_rt_bundle_path(st, NS, "live");
    _cleanup_free_ char *path = berth_strdup_printf("%s/" BERTH_SHIM_ATTACH_SOCKET, b);
    int fd = 7;

    /* no socket at all (a foreign shim, no CRI log) */
    assert_int_equal(berth_rt_task_attach(fx->rt, fx->t, &fd, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(fd, -1);
    /* a socket nobody listens on any more (its shim was killed) */
    close(attach_listen(fx, "live"));
    assert_true(access(path, F_OK) == 0);
    assert_int_equal(berth_rt_task_attach(fx->rt, fx->t, &fd, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    /* the task's shim is gone */
    assert_int_equal(berth_rt_task_attach(fx->rt, fx->dead, &fd, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(fd, -1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_task_start_init_and_exec),
        T(test_task_start_missing_process_is_not_found),
        T(test_task_kill_sends_signal_and_all),
        T(test_task_kill_bad_signal_is_invalid_argument_without_a_call),
        T(test_task_exec_sends_spec_and_io),
        T(test_task_exec_bad_arguments_are_invalid_without_a_call),
        T(test_task_delete_process_returns_the_exit),
        T(test_task_delete_process_needs_an_exec_id),
        T(test_task_pause_resume_resize_close_io),
        T(test_task_update_sends_resources_and_annotations),
        T(test_task_pids_and_stats_hand_over_the_shim_answer),
        T(test_task_calls_on_a_gone_shim_are_failed_precondition),
        T(test_task_attach_connects_to_the_bundle_socket),
        T(test_task_attach_without_socket_is_failed_precondition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
