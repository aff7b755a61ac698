/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berth-pause: the process a pod sandbox runs (kubernetes' pause). It holds the pod's
 * namespaces open by existing, reaps every zombie re-parented to it (it is PID 1 of a shared
 * PID namespace) and exits 0 on SIGTERM or SIGINT. Static, no allocation, no stdio buffers:
 * a few pages of memory per pod.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

/* Nothing to do here: the main loop reaps after every wake-up. Installed so that SIGCHLD
 * interrupts sigsuspend (SIG_DFL would discard it). */
static void on_child(int sig)
{
    (void)sig;
}

static void say(const char *s)
{
    (void)!write(STDERR_FILENO, s, strlen(s));
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    sigset_t block, wait_mask;

    if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        say("berth-pause " BERTH_VERSION "\n");
        return 0;
    }
    if (argc > 1) {
        say("usage: berth-pause [-v]\n");
        return 2;
    }
    if (getpid() != 1)
        say("berth-pause: warning: not PID 1; only this process's own children are reaped\n");
    /* Block the signals we wait for, so none arrives between a check and sigsuspend. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGCHLD);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    for (;;) {
        pid_t pid;
        /* Reap everything that exited, then sleep until the next signal. */
        do
            pid = waitpid(-1, NULL, WNOHANG);
        while (pid > 0 || (pid < 0 && errno == EINTR));
        if (stop_signal)
            return 0;
        sigsuspend(&wait_mask);
    }
}
