/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running one CNI plugin (libcni pkg/invoke): the executable found in CNI_PATH, berthd's
 * environment plus the CNI variables, the config on stdin, the result or a CNI error object
 * on stdout, free text on stderr. The plugin runs in the host network namespace (it joins the
 * pod's itself), in its own process group so a timeout kills whatever it started too.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/spawn.h"
#include "runtime/cni/cni-internal.h"

extern char **environ;

#define CNI_OUTPUT_MAX     (16 << 20) /* results are small; stop a runaway plugin */
#define CNI_TXTBSY_RETRIES 5          /* libcni retries exec on "text file busy" */

int cni_plugin_find(const char *bin_dir, const char *type, char **out, struct berth_err **err)
{
    _cleanup_free_ char *copy = berth_xstrdup(bin_dir ? bin_dir : "");
    _cleanup_free_ char *list = NULL;
    char *save = NULL;

    *out = NULL;
    if (!*type || strchr(type, '/') || strcmp(type, ".") == 0 || strcmp(type, "..") == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid plugin type \"%s\"", type);
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        struct stat st;
        char *full = berth_strdup_printf("%s/%s", dir, type);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) {
            *out = full;
            return 0;
        }
        free(full);
    }
    /* libcni's wording: "failed to find plugin "x" in path [/a /b]". */
    list = berth_xstrdup(bin_dir ? bin_dir : "");
    for (char *c = list; *c; c++)
        if (*c == ':')
            *c = ' ';
    return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "failed to find plugin \"%s\" in path [%s]",
                         type, list);
}

static char **build_env(const struct cni_exec *x, char **own)
{
    static const char *const keys[] = {
        "CNI_COMMAND=", "CNI_CONTAINERID=", "CNI_NETNS=", "CNI_IFNAME=", "CNI_ARGS=", "CNI_PATH="};
    size_t n = 0, k = 0;
    char **envp;

    for (char **e = environ; *e; e++)
        n++;
    envp = berth_xcalloc(n + BERTH_N(keys) + 1, sizeof(char *));
    for (char **e = environ; *e; e++) {
        bool ours = false;
        for (size_t i = 0; i < BERTH_N(keys); i++)
            ours = ours || berth_str_has_prefix(*e, keys[i]);
        if (!ours)
            envp[k++] = *e;
    }
    own[0] = berth_strdup_printf("CNI_COMMAND=%s", x->command);
    own[1] = berth_strdup_printf("CNI_CONTAINERID=%s", x->container_id ? x->container_id : "");
    own[2] = berth_strdup_printf("CNI_NETNS=%s", x->netns ? x->netns : "");
    own[3] = berth_strdup_printf("CNI_IFNAME=%s", x->ifname ? x->ifname : "");
    own[4] = berth_strdup_printf("CNI_ARGS=%s", x->args ? x->args : "");
    own[5] = berth_strdup_printf("CNI_PATH=%s", x->bin_dir ? x->bin_dir : "");
    for (size_t i = 0; i < BERTH_N(keys); i++)
        envp[k++] = own[i];
    return envp;
}

struct child_io {
    struct berth_bytes out, errb;
    int status;
};

static void buf_read(int *fd, struct berth_bytes *b, size_t *cap)
{
    ssize_t r;

    if (*cap - b->len < 4096) {
        *cap = *cap ? *cap * 2 : 8192;
        b->data = berth_xrealloc(b->data, *cap);
    }
    r = read(*fd, b->data + b->len, *cap - b->len - 1);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (r <= 0 || b->len + (size_t)r > CNI_OUTPUT_MAX) {
        close(steal_fd(*fd));
        return;
    }
    b->len += (size_t)r;
    b->data[b->len] = '\0';
}

/* Starts path (berth_spawn); on success feeds conf, collects stdout/stderr and waits, all within
 * the deadline. Returns 0 with io filled, 1 when exec failed with ETXTBSY (retry), -1. */
static int run_once(const char *path, char *const *envp, const char *conf, int64_t deadline,
                    struct child_io *io, struct berth_err **err)
{
    int inp[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    _cleanup_close_ int in_w = -1, out_r = -1, err_r = -1;
    size_t conf_len = strlen(conf), conf_off = 0, out_cap = 0, err_cap = 0;
    int st = 0;
    bool timed_out = false;
    ssize_t r;
    pid_t pid;

    /* stdin is a socket so a plugin that exits without reading it costs an EPIPE from
     * send(MSG_NOSIGNAL), not a SIGPIPE for the whole daemon. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inp) < 0 || pipe2(outp, O_CLOEXEC) < 0 ||
        pipe2(errp, O_CLOEXEC) < 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            int *fds[] = {&inp[i], &outp[i], &errp[i]};
            for (size_t j = 0; j < BERTH_N(fds); j++)
                berth_closep(fds[j]);
        }
        return berth_err_set(err, BERTH_E_INTERNAL, e, "pipe");
    }
    {
        struct berth_spawn_opts so = {
            .fd_in = inp[0], .fd_out = outp[1], .fd_err = errp[1], .new_pgroup = true};
        _cleanup_err_ struct berth_err *se = NULL;
        int rc = berth_spawn(path, (char *const[]){(char *)path, NULL}, envp, &so, &pid, &se);

        for (int i = 0; i < 2 && rc < 0; i++) {
            close(inp[i]);
            close(outp[i]);
            close(errp[i]);
        }
        if (rc < 0 && se->sys_errno == ETXTBSY)
            return 1;
        if (rc < 0) {
            *err = steal_ptr(se);
            return -1;
        }
    }
    /* posix_spawn has set the group before the exec: no window where a timeout kill misses
     * the plugin. */
    close(inp[0]);
    close(outp[1]);
    close(errp[1]);
    in_w = inp[1];
    out_r = outp[0];
    err_r = errp[0];
    if (conf_len == 0)
        close(steal_fd(in_w));
    else
        fcntl(in_w, F_SETFL, O_NONBLOCK);

    while (out_r >= 0 || err_r >= 0 || in_w >= 0) {
        struct pollfd pfd[3];
        nfds_t n = 0;
        int64_t left = (deadline - berth_mono_ns()) / 1000000;
        int pr;

        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (in_w >= 0)
            pfd[n++] = (struct pollfd){.fd = in_w, .events = POLLOUT};
        if (out_r >= 0)
            pfd[n++] = (struct pollfd){.fd = out_r, .events = POLLIN};
        if (err_r >= 0)
            pfd[n++] = (struct pollfd){.fd = err_r, .events = POLLIN};
        pr = poll(pfd, n, left > 1000 ? 1000 : (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "poll");
        }
        for (nfds_t i = 0; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if (pfd[i].fd == in_w) {
                r = send(in_w, conf + conf_off, conf_len - conf_off, MSG_NOSIGNAL);
                if (r > 0)
                    conf_off += (size_t)r;
                /* EPIPE: a plugin may not read its stdin (VERSION); not an error. */
                if ((r < 0 && errno != EINTR && errno != EAGAIN) || conf_off == conf_len)
                    close(steal_fd(in_w));
            } else if (pfd[i].fd == out_r) {
                buf_read(&out_r, &io->out, &out_cap);
            } else {
                buf_read(&err_r, &io->errb, &err_cap);
            }
        }
    }
    if (timed_out) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        return berth_err_set(err, BERTH_E_DEADLINE_EXCEEDED, 0, "timed out");
    io->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 0;
}

static bool blank(const struct berth_bytes *b)
{
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] != ' ' && b->data[i] != '\n' && b->data[i] != '\r' && b->data[i] != '\t')
            return false;
    return true;
}

int cni_exec_plugin(const struct cni_exec *x, const char *type, const char *conf, json_t **out,
                    struct berth_err **err)
{
    _cleanup_free_ char *path = NULL;
    _cleanup_free_ char **envp = NULL;
    char *own[6] = {0};
    struct child_io io = {0};
    int64_t timeout = x->timeout_ms > 0 ? x->timeout_ms : 60000;
    int64_t deadline = berth_mono_ns() + timeout * 1000000;
    int rc = -1;

    *out = NULL;
    if (cni_plugin_find(x->bin_dir, type, &path, err) < 0)
        return -1;
    envp = build_env(x, own);
    for (int attempt = 0;; attempt++) {
        berth_bytes_clear(&io.out);
        berth_bytes_clear(&io.errb);
        rc = run_once(path, envp, conf, deadline, &io, err);
        if (rc != 1)
            break;
        if (attempt == CNI_TXTBSY_RETRIES) {
            rc = berth_err_set(err, BERTH_E_INTERNAL, ETXTBSY, "exec \"%s\"", path);
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 200 * 1000000}, NULL);
    }
    if (rc < 0) {
        if ((*err)->code == BERTH_E_DEADLINE_EXCEEDED) {
            berth_err_free(err);
            berth_err_set(err, BERTH_E_DEADLINE_EXCEEDED, 0, "timed out after %lld ms",
                          (long long)timeout);
        }
        goto out;
    }
    if (io.status != 0) {
        rc = cni_plugin_error((char *)io.out.data, io.out.len, (char *)io.errb.data, io.errb.len,
                              io.status, err);
        goto out;
    }
    if (!blank(&io.out) && strcmp(x->command, "DEL") != 0) {
        json_error_t jerr;
        *out = json_loadb((char *)io.out.data, io.out.len, 0, &jerr);
        if (!*out) {
            rc = berth_err_set(err, BERTH_E_INTERNAL, 0, "decode result: %s", jerr.text);
            goto out;
        }
    }
    rc = 0;
out:
    for (size_t i = 0; i < BERTH_N(own); i++)
        free(own[i]);
    berth_bytes_clear(&io.out);
    berth_bytes_clear(&io.errb);
    return rc;
}
