/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/server/listener.c: the accept loop on a temp socket, with a callback that
 * keeps what it is handed (no gRPC): preface hand-over, refusals, the cap, running out of
 * descriptors. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util.h"
#include "services/server/server-internal.h"

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

struct env {
    char *path;
    struct berth_listener *l;
    pthread_mutex_t mu;
    int handed[16];
    int n_handed;
};

static void on_conn(void *arg, int fd)
{
    struct env *e = arg;

    pthread_mutex_lock(&e->mu);
    if (e->n_handed < (int)BERTH_N(e->handed))
        e->handed[e->n_handed++] = fd;
    else
        close(fd);
    pthread_mutex_unlock(&e->mu);
}

static int handed(struct env *e)
{
    int n;

    pthread_mutex_lock(&e->mu);
    n = e->n_handed;
    pthread_mutex_unlock(&e->mu);
    return n;
}

static struct env *start(void **state, unsigned max_conns, int64_t preface_ms)
{
    struct berth_test_env *t = *state;
    struct env *e = berth_xcalloc(1, sizeof(*e));
    struct berth_listener_opts o = {0};
    struct berth_err *err = NULL;

    e->path = berth_strdup_printf("%s/l.sock", t->dir);
    pthread_mutex_init(&e->mu, NULL);
    o.path = e->path;
    o.socket_gid = (unsigned)-1;
    o.max_conns = max_conns;
    o.preface_ms = preface_ms;
    o.tick_ms = 20;
    o.on_conn = on_conn;
    o.arg = e;
    assert_int_equal(berth_listener_open(&o, &e->l, &err), 0);
    assert_int_equal(berth_listener_start(e->l, &err), 0);
    return e;
}

static void stop(struct env *e)
{
    berth_listener_free(e->l);
    assert_false(access(e->path, F_OK) == 0); /* the socket file went with the listener */
    for (int i = 0; i < e->n_handed; i++)
        close(e->handed[i]);
    pthread_mutex_destroy(&e->mu);
    free(e->path);
    free(e);
}

static int dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    strcpy(sa.sun_path, path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* True when the peer closed fd within ms (EOF or reset), false when it stayed open. */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char b[64];

    if (poll(&p, 1, ms) <= 0)
        return false;
    return recv(fd, b, sizeof(b), MSG_DONTWAIT) <= 0;
}

static bool wait_handed(struct env *e, int n, int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        if (handed(e) >= n)
            return true;
        usleep(5000);
    }
    return handed(e) >= n;
}

static void test_listener_hands_over_after_whole_preface(void **state)
{
    struct env *e = start(state, 8, 5000);
    struct berth_listener_stats st;
    int fd = dial(e->path);

    /* the preface in two writes: nothing is handed over on the first half */
    assert_int_equal(send(fd, PREFACE, 10, 0), 10);
    usleep(50000);
    assert_int_equal(handed(e), 0);
    assert_int_equal(send(fd, PREFACE + 10, 14, 0), 14);
    assert_true(wait_handed(e, 1, 2000));
    berth_listener_stats(e->l, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.max, 8);
    close(fd);
    stop(e);
}

static void test_listener_closes_bad_or_missing_preface(void **state)
{
    struct env *e = start(state, 8, 200);
    struct berth_listener_stats st;
    int bad = dial(e->path), silent = dial(e->path);

    assert_int_equal(send(bad, "GET / HTTP/1.1\r\n\r\n", 18, 0), 18);
    assert_true(closed_within(bad, 2000));
    /* a connection that sends nothing goes after preface_ms */
    assert_false(closed_within(silent, 50));
    assert_true(closed_within(silent, 2000));
    berth_listener_stats(e->l, &st);
    assert_int_equal(st.refused_preface, 1);
    assert_int_equal(st.timed_out, 1);
    assert_int_equal(handed(e), 0);
    close(bad);
    close(silent);
    stop(e);
}

static void test_listener_caps_connections_and_recounts(void **state)
{
    struct env *e = start(state, 2, 5000);
    struct berth_listener_stats st;
    int a = dial(e->path), b = dial(e->path), c, d;

    assert_int_equal(send(a, PREFACE, 24, 0), 24);
    assert_int_equal(send(b, PREFACE, 24, 0), 24);
    assert_true(wait_handed(e, 2, 2000));
    /* full: the third is closed at accept */
    c = dial(e->path);
    assert_true(closed_within(c, 2000));
    berth_listener_stats(e->l, &st);
    assert_int_equal(st.refused_full, 1);
    assert_int_equal(st.open, 2);
    /* the owner (gRPC in berthd) closes one: a slot is free again */
    pthread_mutex_lock(&e->mu);
    close(e->handed[0]);
    e->handed[0] = e->handed[--e->n_handed];
    pthread_mutex_unlock(&e->mu);
    usleep(150000);
    d = dial(e->path);
    assert_int_equal(send(d, PREFACE, 24, 0), 24);
    assert_true(wait_handed(e, 2, 2000));
    assert_false(closed_within(d, 50));
    close(a);
    close(b);
    close(c);
    close(d);
    stop(e);
}

static void test_listener_survives_running_out_of_descriptors(void **state)
{
    struct env *e = start(state, 64, 5000);
    struct berth_listener_stats st;
    struct rlimit old, rl;
    int clients[3], fillers[256], n_fill = 0, late;

    for (int i = 0; i < 3; i++)
        clients[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    rl = old;
    rl.rlim_cur = 200;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    /* every descriptor taken: the accept loop gets EMFILE */
    while (n_fill < (int)BERTH_N(fillers)) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        fillers[n_fill++] = fd;
    }
    for (int i = 0; i < 3; i++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, e->path);
        assert_int_equal(connect(clients[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
    }
    /* one queued connection is dropped through the reserve descriptor, not left hanging */
    assert_true(closed_within(clients[0], 3000));
    berth_listener_stats(e->l, &st);
    assert_true(st.emfile >= 1);
    for (int i = 0; i < n_fill; i++)
        close(fillers[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    /* descriptors back: accepting resumes by itself */
    late = dial(e->path);
    assert_int_equal(send(late, PREFACE, 24, 0), 24);
    assert_true(wait_handed(e, 1, 3000));
    for (int i = 0; i < 3; i++)
        close(clients[i]);
    close(late);
    stop(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_listener_hands_over_after_whole_preface,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_listener_closes_bad_or_missing_preface,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_listener_caps_connections_and_recounts,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_listener_survives_running_out_of_descriptors,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
