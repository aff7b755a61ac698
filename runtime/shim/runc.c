/* SPDX-License-Identifier: Apache-2.0 */
/* Runs the OCI runtime (runc, or crun when asked) synchronously from the loop thread, as
 * containerd's go-runc does per call (or, for the delete after Delete, in the background). Its
 * errors come from --log <bundle>/log.json (JSON lines): the last "msg" becomes the error text. The
 * child's pid is waited for explicitly; other children stay zombies until the loop's SIGCHLD
 * handler reaps them. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "runtime/shim/shim-internal.h"
#include "runtime/shim/shim.h"

#define MAX_ARGS 24

/* Last "msg" value of log.json, unescaped minimally; "" if none. */
static void last_log_msg(const char *bundle, char *buf, size_t len)
{
    char path[4096], tail[2048];
    _cleanup_close_ int fd = -1;
    const char *m = NULL, *p;
    off_t size;
    ssize_t n;
    size_t o = 0;

    buf[0] = '\0';
    snprintf(path, sizeof(path), "%s/log.json", bundle);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    size = lseek(fd, 0, SEEK_END);
    if (size < 0)
        return;
    n = pread(fd, tail, sizeof(tail) - 1,
              size > (off_t)sizeof(tail) - 1 ? size - (off_t)(sizeof(tail) - 1) : 0);
    if (n <= 0)
        return;
    tail[n] = '\0';
    for (p = tail; (p = strstr(p, "\"msg\":\"")); p++)
        m = p + 7;
    if (!m)
        return;
    for (p = m; *p && *p != '"' && o + 1 < len; p++) {
        if (*p == '\\' && p[1])
            p++;
        buf[o++] = *p;
    }
    buf[o] = '\0';
}

int shim_runc(struct shim *s, const int stdio[3], struct berth_bytes *out, struct berth_err **err,
              const char *arg0, ...)
{
    const char *argv[MAX_ARGS + 9];
    char logpath[4096], msg[512];
    _cleanup_close_ int rd = -1, wr = -1;
    size_t n = 0, cap = 0;
    int status, fds[3];
    sigset_t none;
    va_list ap;
    pid_t pid;

    if (out)
        *out = (struct berth_bytes){0};
    snprintf(logpath, sizeof(logpath), "%s/log.json", s->bundle);
    argv[n++] = s->runtime;
    argv[n++] = "--root";
    argv[n++] = s->runc_root;
    argv[n++] = "--log";
    argv[n++] = logpath;
    argv[n++] = "--log-format";
    argv[n++] = "json";
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < BERTH_N(argv) - 1; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;

    if (out && stdio[1] < 0) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "pipe");
        rd = p[0];
        wr = p[1];
    }
    sigemptyset(&none);
    pid = fork();
    if (pid < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "fork %s", s->runtime);
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        for (int i = 0; i < 3; i++)
            fds[i] = stdio[i] >= 0 ? stdio[i] : (i == 1 && wr >= 0 ? wr : nul);
        /* dup() first so that a source fd equal to a lower target survives. */
        for (int i = 0; i < 3; i++)
            fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
        for (int i = 0; i < 3; i++)
            dup2(fds[i], i);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (wr >= 0) {
        close(steal_fd(wr));
        for (;;) {
            ssize_t r;
            if (cap - out->len < 4096) {
                cap = cap ? cap * 2 : 8192;
                out->data = berth_xrealloc(out->data, cap);
            }
            r = read(rd, out->data + out->len, cap - out->len);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            out->len += (size_t)r;
        }
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            berth_bytes_clear(out ? out : &(struct berth_bytes){0});
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "wait for %s", s->runtime);
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (out)
        berth_bytes_clear(out);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "exec \"%s\": not found", s->runtime);
    last_log_msg(s->bundle, msg, sizeof(msg));
    return berth_err_set(err, BERTH_E_INTERNAL, 0, "%s %s: %s", s->runtime, arg0,
                         msg[0] ? msg : "failed");
}

int shim_runc_spawn(struct shim *s, pid_t *pid, struct berth_err **err, const char *arg0, ...)
{
    const char *argv[MAX_ARGS + 9];
    size_t n = 0;
    sigset_t none;
    va_list ap;

    /* The bundle (and its log.json) may be removed while this runs. */
    argv[n++] = s->runtime;
    argv[n++] = "--root";
    argv[n++] = s->runc_root;
    argv[n++] = "--log";
    argv[n++] = "/dev/null";
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < BERTH_N(argv) - 1; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    sigemptyset(&none);
    *pid = fork();
    if (*pid < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "fork %s", s->runtime);
    if (*pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        for (int i = 0; i < 3; i++)
            dup2(nul, i);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return 0;
}
