/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for ttrpc/client.c end to end: berth_ttrpc_server_serve in a thread on a unix
 * socket, client calls (errors, metadata, concurrency from several threads, deadlines, server
 * going away), a raw fake server for misbehaving peers, and an interop check against Debian's
 * Go containerd-shim-runc-v2 (skipped unless root and the binary is installed). */
#include "tests/unit/helpers/berth_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "api/runtime/task/v2/shim.pb-c.h" /* ConnectRequest/Response, ShutdownRequest */
#include "ttrpc/client.h"
#include "ttrpc/frame.h"
#include "ttrpc/server.h"

#define SVC "berth.test.v1.Test"

struct fx {
    struct berth_test_env *env;
    char *path;
    int listen_fd, stop_fd;
    struct berth_ttrpc_server *srv;
    pthread_t thread;
    bool running;
    struct berth_ttrpc_pending *held[64]; /* deferred forever; freed after the loop ends */
    size_t n_held;
};

typedef Containerd__Task__V2__ConnectRequest ConnReq;
typedef Containerd__Task__V2__ConnectResponse ConnResp;

static int echo_cb(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *msg,
                   struct berth_bytes *out, struct berth_err **err)
{
    const ConnReq *req = (const void *)msg;
    ConnResp resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

    resp.version = req->id;
    resp.task_pid = ctx->stream_id;
    berth_ttrpc_pack(out, &resp.base);
    return 0;
}

static int ns_cb(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *msg, struct berth_bytes *out,
                 struct berth_err **err)
{
    ConnResp resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

    resp.version = (char *)(ctx->ns ? ctx->ns : "");
    resp.shim_pid = ctx->deadline_mono_ns ? 1 : 0;
    berth_ttrpc_pack(out, &resp.base);
    return 0;
}

static int fail_cb(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *msg,
                   struct berth_bytes *out, struct berth_err **err)
{
    return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "task \"x\"");
}

static int hang_cb(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *msg,
                   struct berth_bytes *out, struct berth_err **err)
{
    struct fx *fx = ctx->app;

    if (fx->n_held == BERTH_N(fx->held))
        return berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0, "too many held calls");
    fx->held[fx->n_held++] = berth_ttrpc_ctx_defer(ctx);
    return 0;
}

static const struct berth_ttrpc_method methods[] = {
    {"Echo", &containerd__task__v2__connect_request__descriptor, echo_cb},
    {"Ns", &containerd__task__v2__connect_request__descriptor, ns_cb},
    {"Fail", &containerd__task__v2__connect_request__descriptor, fail_cb},
    {"Hang", &containerd__task__v2__connect_request__descriptor, hang_cb},
};
static const struct berth_ttrpc_service svc = {SVC, methods, BERTH_N(methods)};
static const struct berth_ttrpc_service *const svcs[] = {&svc};

static void *serve_main(void *arg)
{
    struct fx *fx = arg;
    struct berth_err *err = NULL;

    if (berth_ttrpc_server_serve(fx->srv, fx->listen_fd, fx->stop_fd, &err) < 0) {
        fprintf(stderr, "serve: %s\n", err->msg);
        berth_err_free(&err);
    }
    return NULL;
}

static void stop_server(struct fx *fx)
{
    uint64_t one = 1;

    if (!fx->running)
        return;
    assert_int_equal(write(fx->stop_fd, &one, sizeof(one)), sizeof(one));
    pthread_join(fx->thread, NULL);
    fx->running = false;
    close(fx->listen_fd);
    fx->listen_fd = -1;
    for (size_t i = 0; i < fx->n_held; i++)
        berth_ttrpc_pending_free(fx->held[i]);
    fx->n_held = 0;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct berth_err *err = NULL;
    void *env = NULL;

    if (berth_test_setup_tmpdir(&env) < 0)
        return -1;
    fx->env = env;
    fx->path = berth_strdup_printf("%s/t.sock", fx->env->dir);
    if (berth_ttrpc_server_listen(fx->path, &fx->listen_fd, &err) < 0) {
        fprintf(stderr, "%s\n", err->msg);
        return -1;
    }
    fx->stop_fd = eventfd(0, EFD_CLOEXEC);
    fx->srv = berth_ttrpc_server_new(svcs, BERTH_N(svcs), fx);
    if (pthread_create(&fx->thread, NULL, serve_main, fx) != 0)
        return -1;
    fx->running = true;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    void *env = fx->env;

    stop_server(fx);
    berth_ttrpc_server_free(fx->srv);
    close(fx->stop_fd);
    free(fx->path);
    free(fx);
    return berth_test_teardown_tmpdir(&env);
}

static int call_echo(struct berth_ttrpc_client *c, const char *method, const char *id,
                     int64_t timeout_ms, const char *ns, ConnResp **out, struct berth_err **err)
{
    ConnReq req = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;

    req.id = (char *)id;
    return berth_ttrpc_client_call(c, SVC, method, &req.base,
                                   &containerd__task__v2__connect_response__descriptor,
                                   (ProtobufCMessage **)out, timeout_ms, ns, err);
}

static void test_client_listen_socket_mode_0600(void **state)
{
    struct fx *fx = *state;
    struct stat st;

    assert_int_equal(stat(fx->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_client_call_roundtrip_and_namespace(void **state)
{
    struct fx *fx = *state;
    struct berth_ttrpc_client *c = NULL;
    struct berth_err *err = NULL;
    ConnResp *r = NULL;

    assert_ok(berth_ttrpc_client_dial(fx->path, 1000, &c, &err), &err);
    assert_ok(call_echo(c, "Echo", "hello", 0, NULL, &r, &err), &err);
    assert_string_equal(r->version, "hello");
    assert_int_equal(r->task_pid, 1); /* first client stream id */
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_ok(call_echo(c, "Echo", "again", 0, NULL, &r, &err), &err);
    assert_int_equal(r->task_pid, 3); /* odd and increasing */
    protobuf_c_message_free_unpacked(&r->base, NULL);

    assert_ok(call_echo(c, "Ns", "x", 2000, "k8s.io", &r, &err), &err);
    assert_string_equal(r->version, "k8s.io");
    assert_int_equal(r->shim_pid, 1); /* deadline arrived via timeout_nano */
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* NULL resp_desc: payload ignored (google.protobuf.Empty responses). */
    ConnReq req = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
    ProtobufCMessage *none = (void *)1;
    assert_ok(berth_ttrpc_client_call(c, SVC, "Echo", &req.base, NULL, &none, 0, NULL, &err), &err);
    assert_null(none);
    berth_ttrpc_client_close(c);
}

static void test_client_status_codes_map_to_error_classes(void **state)
{
    struct fx *fx = *state;
    struct berth_ttrpc_client *c = NULL;
    struct berth_err *err = NULL;
    ConnResp *r = NULL;

    assert_ok(berth_ttrpc_client_dial(fx->path, 1000, &c, &err), &err);
    assert_int_equal(call_echo(c, "Fail", "x", 0, NULL, &r, &err), -1);
    assert_null(r);
    assert_non_null(strstr(err->msg, "already exists"));
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    assert_int_equal(call_echo(c, "Missing", "x", 0, NULL, &r, &err), -1);
    assert_err_code(err, BERTH_E_NOT_IMPLEMENTED);
    assert_int_equal(
        berth_ttrpc_client_call_bytes(c, "no.Such", "X", NULL, 0, NULL, 0, NULL, NULL, 0, &err),
        -1);
    assert_err_code(err, BERTH_E_NOT_IMPLEMENTED);
    /* Still usable afterwards. */
    assert_ok(call_echo(c, "Echo", "ok", 0, NULL, &r, &err), &err);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    berth_ttrpc_client_close(c);
}

struct worker {
    struct berth_ttrpc_client *c;
    int idx;
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < 100; i++) {
        char id[32];
        struct berth_err *err = NULL;
        ConnResp *r = NULL;

        snprintf(id, sizeof(id), "w%d-%d", w->idx, i);
        if (call_echo(w->c, "Echo", id, 5000, "ns", &r, &err) < 0) {
            w->failures++;
            berth_err_free(&err);
            continue;
        }
        if (strcmp(r->version, id) != 0)
            w->failures++;
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    return NULL;
}

static void test_client_concurrent_calls_from_threads(void **state)
{
    struct fx *fx = *state;
    struct berth_ttrpc_client *c = NULL;
    struct berth_err *err = NULL;
    struct worker w[8];
    pthread_t t[8];

    assert_ok(berth_ttrpc_client_dial(fx->path, 1000, &c, &err), &err);
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){c, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    berth_ttrpc_client_close(c);
}

static void test_client_timeout_is_deadline_exceeded(void **state)
{
    struct fx *fx = *state;
    struct berth_ttrpc_client *c = NULL;
    struct berth_err *err = NULL;
    ConnResp *r = NULL;
    int64_t t0 = berth_mono_ns();

    assert_ok(berth_ttrpc_client_dial(fx->path, 1000, &c, &err), &err);
    assert_int_equal(call_echo(c, "Hang", "x", 150, NULL, &r, &err), -1);
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);
    assert_true(berth_mono_ns() - t0 >= 140 * 1000000LL);
    assert_true(berth_mono_ns() - t0 < 3000 * 1000000LL);
    /* The connection survives a timed-out call. */
    assert_ok(call_echo(c, "Echo", "next", 1000, NULL, &r, &err), &err);
    assert_string_equal(r->version, "next");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    berth_ttrpc_client_close(c);
}

struct hang_arg {
    struct berth_ttrpc_client *c;
    int code;
};

static void *hang_main(void *arg)
{
    struct hang_arg *h = arg;
    struct berth_err *err = NULL;
    ConnResp *r = NULL;

    if (call_echo(h->c, "Hang", "x", 0, NULL, &r, &err) < 0) {
        h->code = err->code;
        berth_err_free(&err);
    }
    return NULL;
}

static void test_client_server_gone_is_unavailable(void **state)
{
    struct fx *fx = *state;
    struct berth_ttrpc_client *c = NULL;
    struct berth_err *err = NULL;
    struct hang_arg h = {0};
    ConnResp *r = NULL;
    pthread_t t;

    assert_ok(berth_ttrpc_client_dial(fx->path, 1000, &c, &err), &err);
    h.c = c;
    assert_int_equal(pthread_create(&t, NULL, hang_main, &h), 0);
    while (__atomic_load_n(&fx->n_held, __ATOMIC_SEQ_CST) == 0)
        usleep(1000);
    stop_server(fx); /* closes every connection: the waiting call fails */
    pthread_join(t, NULL);
    assert_int_equal(h.code, BERTH_E_UNAVAILABLE);
    assert_int_equal(call_echo(c, "Echo", "x", 1000, NULL, &r, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    berth_ttrpc_client_close(c);
    /* Nobody listening any more. */
    unlink(fx->path);
    assert_int_equal(berth_ttrpc_client_dial(fx->path, 50, &c, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    assert_null(c);
}

static void test_client_dial_bad_address_is_invalid_argument(void **state)
{
    struct berth_ttrpc_client *c = NULL;
    struct berth_err *err = NULL;
    char longp[200];

    (void)state;
    assert_int_equal(berth_ttrpc_client_dial("", 0, &c, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(berth_ttrpc_client_dial(longp, 0, &c, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_client_oversize_request_is_resource_exhausted(void **state)
{
    struct fx *fx = *state;
    struct berth_ttrpc_client *c = NULL;
    struct berth_err *err = NULL;
    uint8_t *big = calloc(1, BERTH_TTRPC_MAX_PAYLOAD + 1);
    ConnResp *r = NULL;

    assert_ok(berth_ttrpc_client_dial(fx->path, 1000, &c, &err), &err);
    assert_int_equal(berth_ttrpc_client_call_bytes(c, SVC, "Echo", big, BERTH_TTRPC_MAX_PAYLOAD + 1,
                                                   NULL, 1000, NULL, NULL, 0, &err),
                     -1);
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    assert_ok(call_echo(c, "Echo", "fine", 1000, NULL, &r, &err), &err);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    free(big);
    berth_ttrpc_client_close(c);
}

/* A fake server that answers the first request with: a response for a stream nobody asked
 * about, a data frame, then garbage on the right stream; the second request by dying
 * mid-frame. */
static void *fake_main(void *arg)
{
    int lfd = *(int *)arg, fd;
    struct berth_ttrpc_wbuf b = {0};
    struct berth_err *err = NULL;
    uint8_t buf[4096];
    const uint8_t junk[] = {0xff, 0xff, 0xff};

    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (read(fd, buf, sizeof(buf)) <= 0) /* request on stream 1 */
        goto out;
    berth_ttrpc_frame_append(&b, 99, BERTH_TTRPC_RESPONSE, 0, NULL, 0, &err);
    berth_ttrpc_frame_append(&b, 1, BERTH_TTRPC_DATA, 0, "d", 1, &err);
    berth_ttrpc_frame_append(&b, 1, BERTH_TTRPC_RESPONSE, 0, junk, sizeof(junk), &err);
    if (write(fd, b.data, b.len) < 0)
        goto out;
    if (read(fd, buf, sizeof(buf)) <= 0) /* request on stream 3 */
        goto out;
    if (write(fd, "\0\0\0\x10\0\0\0\x03\x02", 9) < 0) /* a partial header */
        goto out;
out:
    berth_ttrpc_wbuf_clear(&b);
    close(fd);
    return NULL;
}

static void test_client_misbehaving_server(void **state)
{
    struct fx *fx = *state;
    _cleanup_free_ char *path = berth_strdup_printf("%s/fake.sock", fx->env->dir);
    struct berth_ttrpc_client *c = NULL;
    struct berth_err *err = NULL;
    ConnResp *r = NULL;
    int lfd;
    pthread_t t;

    assert_ok(berth_ttrpc_server_listen(path, &lfd, &err), &err);
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK);
    assert_int_equal(pthread_create(&t, NULL, fake_main, &lfd), 0);
    assert_ok(berth_ttrpc_client_dial(path, 1000, &c, &err), &err);
    assert_int_equal(call_echo(c, "Echo", "x", 2000, NULL, &r, &err), -1);
    assert_err_code(err, BERTH_E_INTERNAL); /* undecodable Response */
    assert_int_equal(call_echo(c, "Echo", "y", 2000, NULL, &r, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    berth_ttrpc_client_close(c);
    pthread_join(t, NULL);
    close(lfd);
}

/* Kills leftover shims started with our namespace (by /proc cmdline). */
static void kill_shims(const char *ns)
{
    DIR *d = opendir("/proc");
    struct dirent *de;

    while (d && (de = readdir(d))) {
        char p[300], cmd[4096];
        ssize_t n;
        int fd;

        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(p, sizeof(p), "/proc/%s/cmdline", de->d_name);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, cmd, sizeof(cmd) - 1);
        close(fd);
        if (n <= 0)
            continue;
        cmd[n] = '\0';
        bool is_shim = strstr(cmd, "containerd-shim-runc-v2") != NULL, has_ns = false;
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(cmd + i) + 1)
            if (strcmp(cmd + i, ns) == 0)
                has_ns = true;
        if (is_shim && has_ns)
            kill(atoi(de->d_name), SIGKILL);
    }
    if (d)
        closedir(d);
}

/* Starts the real Go shim the way containerd does and returns its printed address. */
static char *start_go_shim(const char *bundle, const char *ns, const char *fake_addr)
{
    int pfd[2];
    pid_t pid;
    char out[512];
    size_t got = 0;
    int status;

    if (pipe2(pfd, O_CLOEXEC) < 0)
        return NULL;
    pid = fork();
    if (pid == 0) {
        char ttrpc_addr[600];
        int devnull = open("/dev/null", O_RDONLY);
        snprintf(ttrpc_addr, sizeof(ttrpc_addr), "TTRPC_ADDRESS=%s.ttrpc", fake_addr);
        if (chdir(bundle) < 0)
            _exit(127);
        dup2(devnull, 0);
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        putenv(ttrpc_addr);
        putenv("GOMAXPROCS=2");
        execl("/usr/bin/containerd-shim-runc-v2", "containerd-shim-runc-v2", "-namespace", ns,
              "-id", "probe", "-address", fake_addr, "-publish-binary", "/bin/true", "start",
              (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    for (;;) {
        ssize_t n = read(pfd[0], out + got, sizeof(out) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(pfd[0]);
    waitpid(pid, &status, 0);
    out[got] = '\0';
    while (got > 0 && (out[got - 1] == '\n' || out[got - 1] == ' '))
        out[--got] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "shim start failed: %s\n", out);
        return NULL;
    }
    return strdup(out);
}

static void test_client_interop_go_shim_connect_and_shutdown(void **state)
{
    struct fx *fx = *state;
    _cleanup_free_ char *bundle = berth_strdup_printf("%s/bundle", fx->env->dir);
    _cleanup_free_ char *fake = berth_strdup_printf("%s/fake.sock", fx->env->dir);
    _cleanup_free_ char *ns = berth_strdup_printf("berthttrpc%d", (int)getpid());
    _cleanup_free_ char *logp = NULL, *cfg = NULL, *addr = NULL;
    struct berth_ttrpc_client *c = NULL;
    struct berth_err *err = NULL;
    ConnReq creq = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
    Containerd__Task__V2__ShutdownRequest sreq = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
    ConnResp *r = NULL;
    int logfd, rc;
    FILE *f;

    if (getuid() != 0 || access("/usr/bin/containerd-shim-runc-v2", X_OK) != 0)
        skip();
    assert_int_equal(mkdir(bundle, 0700), 0);
    cfg = berth_strdup_printf("%s/config.json", bundle);
    f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("{\"ociVersion\":\"1.0.2\",\"annotations\":{}}\n", f);
    fclose(f);
    /* The shim logs into this FIFO and exits if it can't open it; containerd holds it RDWR. */
    logp = berth_strdup_printf("%s/log", bundle);
    assert_int_equal(mkfifo(logp, 0600), 0);
    logfd = open(logp, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    assert_true(logfd >= 0);

    addr = start_go_shim(bundle, ns, fake);
    if (!addr) {
        close(logfd);
        kill_shims(ns);
        fail_msg("containerd-shim-runc-v2 start failed");
    }
    rc = berth_ttrpc_client_dial(addr, 2000, &c, &err);
    if (rc < 0) {
        kill_shims(ns);
        close(logfd);
        fail_msg("dial %s: %s", addr, err->msg);
    }
    creq.id = "probe";
    rc = berth_ttrpc_client_call(c, "containerd.task.v2.Task", "Connect", &creq.base,
                                 &containerd__task__v2__connect_response__descriptor,
                                 (ProtobufCMessage **)&r, 2000, ns, &err);
    if (rc == 0) {
        assert_true(r->shim_pid > 1);
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    /* Unknown method on the Go server: its Unimplemented maps back to NOT_IMPLEMENTED. */
    struct berth_err *e2 = NULL;
    int rc2 = berth_ttrpc_client_call(c, "containerd.task.v2.Task", "NoSuchMethod", &creq.base,
                                      NULL, NULL, 2000, ns, &e2);
    sreq.id = "probe";
    sreq.now = true;
    /* The shim may exit before answering Shutdown: OK or UNAVAILABLE are both fine. */
    struct berth_err *e3 = NULL;
    if (berth_ttrpc_client_call(c, "containerd.task.v2.Task", "Shutdown", &sreq.base, NULL, NULL,
                                2000, ns, &e3) < 0) {
        assert_int_equal(e3->code, BERTH_E_UNAVAILABLE);
        berth_err_free(&e3);
    }
    berth_ttrpc_client_close(c);
    usleep(100000);
    kill_shims(ns);
    close(logfd);
    if (rc < 0)
        fail_msg("Connect: %s", err->msg);
    assert_int_equal(rc2, -1);
    assert_err_code(e2, BERTH_E_NOT_IMPLEMENTED);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_client_listen_socket_mode_0600, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_call_roundtrip_and_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_status_codes_map_to_error_classes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_concurrent_calls_from_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_timeout_is_deadline_exceeded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_server_gone_is_unavailable, setup, teardown),
        cmocka_unit_test(test_client_dial_bad_address_is_invalid_argument),
        cmocka_unit_test_setup_teardown(test_client_oversize_request_is_resource_exhausted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_misbehaving_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_interop_go_shim_connect_and_shutdown, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
