/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl's signals. main() blocks the ones below in every thread before gRPC starts its own
 * (a thread that did not block one would take it and, for SIGWINCH, ignore it), and one thread
 * takes them with sigwait. While a foreground task is followed, SIGWINCH resizes its terminal
 * (-t) and the others are sent to it with Tasks.Kill (without -t, as ctr forwards them: ^C
 * reaches the container, and `run --rm` still cleans up after its exit). Otherwise they do what
 * they would have done to berthctl: SIGWINCH nothing, the others end it, after the terminal is
 * put back out of raw mode.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "api/services/tasks/v1/tasks.pb-c.h"
#include "cmd/berthctl/berthctl-internal.h"
#include "cmd/berthctl/run-internal.h"

static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM};

static struct {
    pthread_mutex_t lock;
    struct berthctl *ctl; /* NULL: nothing followed */
    char *id, *exec_id;
    bool tty;
    bool raw; /* saved holds the terminal's mode before raw */
    struct termios saved;
} sigs = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void all_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGWINCH);
    for (size_t i = 0; i < BERTH_N(forwarded); i++)
        sigaddset(set, forwarded[i]);
}

static void kill_task(struct berthctl *ctl, const char *id, const char *exec_id, int sig)
{
    Containerd__Services__Tasks__V1__KillRequest req =
        CONTAINERD__SERVICES__TASKS__V1__KILL_REQUEST__INIT;
    _cleanup_err_ struct berth_err *e = NULL;

    req.container_id = (char *)id;
    req.exec_id = (char *)(exec_id ? exec_id : "");
    req.signal = (uint32_t)sig;
    berthctl_task_simple(ctl, "Kill", &req.base, &e);
}

/* The signal's own default action, for berthctl itself. */
_Noreturn static void die_by(int sig)
{
    sigset_t one;

    if (sigs.raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &sigs.saved);
    signal(sig, SIG_DFL);
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    _exit(128 + sig);
}

static void *signal_main(void *arg)
{
    sigset_t set;
    int sig;

    (void)arg;
    all_signals(&set);
    for (;;) {
        _cleanup_free_ char *id = NULL, *exec_id = NULL;
        struct berthctl *ctl;
        bool tty;

        if (sigwait(&set, &sig) != 0)
            continue;
        pthread_mutex_lock(&sigs.lock);
        ctl = sigs.ctl;
        tty = sigs.tty;
        if (ctl) {
            id = berth_xstrdup(sigs.id);
            exec_id = sigs.exec_id ? berth_xstrdup(sigs.exec_id) : NULL;
        }
        pthread_mutex_unlock(&sigs.lock);
        if (sig == SIGWINCH) {
            if (ctl && tty)
                berthctl_resize(ctl, id, exec_id);
        } else if (ctl && !tty) {
            kill_task(ctl, id, exec_id, sig);
        } else {
            die_by(sig);
        }
    }
    return NULL;
}

void berthctl_signals_init(void)
{
    sigset_t set;
    pthread_t t;

    all_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (pthread_create(&t, NULL, signal_main, NULL) == 0)
        pthread_detach(t);
}

void berthctl_signals_child(void)
{
    sigset_t set;

    all_signals(&set);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void berthctl_signals_follow(struct berthctl *ctl, const char *id, const char *exec_id, bool tty)
{
    pthread_mutex_lock(&sigs.lock);
    free(sigs.id);
    free(sigs.exec_id);
    sigs.ctl = ctl;
    sigs.id = ctl ? berth_xstrdup(id) : NULL;
    sigs.exec_id = ctl && exec_id ? berth_xstrdup(exec_id) : NULL;
    sigs.tty = tty;
    pthread_mutex_unlock(&sigs.lock);
}

int berthctl_term_raw(void)
{
    struct termios raw;

    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &sigs.saved) < 0)
        return -1;
    raw = sigs.saved;
    cfmakeraw(&raw);
    sigs.raw = true;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    return 0;
}

void berthctl_term_restore(void)
{
    if (sigs.raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &sigs.saved);
    sigs.raw = false;
}
