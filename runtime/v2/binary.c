/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shim binaries: runtime name -> executable (containerd 1.6 runtime/v2/binary.go naming), and
 * the two one-shot commands of the shim v2 protocol, `start` (prints the shim's ttrpc address)
 * and `delete` (cleans up after a dead shim, prints a task.v2 DeleteResponse).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/runtime/task/v2/shim.pb-c.h"
#include "api/timestamp.h"
#include "lib/spawn.h"
#include "lib/util.h"
#include "runtime/v2/runtime-internal.h"

extern char **environ;

int berth_rt_binary_name(const char *runtime, char **out, struct berth_err **err)
{
    const char *rest, *dot;

    *out = NULL;
    if (!runtime || !berth_str_has_prefix(runtime, "io.containerd."))
        goto bad;
    rest = runtime + strlen("io.containerd.");
    dot = strchr(rest, '.');
    if (!dot || dot == rest || !dot[1] || strchr(dot + 1, '.') || strchr(rest, '/'))
        goto bad;
    *out = berth_strdup_printf("containerd-shim-%.*s-%s", (int)(dot - rest), rest, dot + 1);
    return 0;
bad:
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                         "invalid runtime name \"%s\": want io.containerd.<name>.<version> or an "
                         "absolute path",
                         runtime ? runtime : "");
}

static bool executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static char *search_path(const char *name)
{
    const char *path = getenv("PATH");
    _cleanup_free_ char *copy =
        berth_xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *save = NULL;

    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *full = berth_strdup_printf("%s/%s", *dir ? dir : ".", name);
        if (executable(full))
            return full;
        free(full);
    }
    return NULL;
}

int berth_rt_oci_binary_check(const char *name, struct berth_err **err)
{
    _cleanup_free_ char *found = NULL;

    if (strchr(name, '/')) {
        if (name[0] != '/' || !executable(name))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "OCI runtime \"%s\": not an absolute path to an executable", name);
        return 0;
    }
    found = search_path(name);
    if (!found)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "OCI runtime \"%s\": not found in $PATH", name);
    return 0;
}

int berth_rt_binary_resolve(const char *runtime, const char *bin_dir, char **out,
                            struct berth_err **err)
{
    _cleanup_free_ char *name = NULL;
    _cleanup_free_ char *full = NULL;

    *out = NULL;
    if (runtime && runtime[0] == '/') {
        if (!executable(runtime))
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "shim binary \"%s\" not found",
                                 runtime);
        *out = berth_xstrdup(runtime);
        return 0;
    }
    if (berth_rt_binary_name(runtime, &name, err) < 0)
        return -1;
    /* Our own shim ships as berth-shim next to berthd. */
    if (bin_dir && strcmp(runtime, BERTH_RT_DEFAULT_RUNTIME) == 0) {
        full = berth_strdup_printf("%s/berth-shim", bin_dir);
        if (executable(full)) {
            *out = steal_ptr(full);
            return 0;
        }
        free(steal_ptr(full));
    }
    if (bin_dir) {
        full = berth_strdup_printf("%s/%s", bin_dir, name);
        if (executable(full)) {
            *out = steal_ptr(full);
            return 0;
        }
        free(steal_ptr(full));
    }
    full = search_path(name);
    if (!full)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0,
                             "runtime \"%s\": shim binary \"%s\" not found in $PATH", runtime,
                             name);
    *out = steal_ptr(full);
    return 0;
}

int berth_rt_signal_validate(uint32_t sig, struct berth_err **err)
{
    if (sig < 1 || sig > 64)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid signal %u: want 1 to 64",
                             sig);
    return 0;
}

/* Runs a shim with argv in cwd, feeding in (may be empty) to stdin and collecting stdout (and
 * stderr when merge). The shim gets berthd's environment with the runtime v2 variables set
 * (TTRPC_ADDRESS, GOMAXPROCS) and, for berth-shim, BERTH_SHIM_RUNTIME from [runtime]
 * binary_name. Returns the exit status, or -1 with *err. */
static int run_capture(const struct berth_rt *rt, const char *const *argv, const char *cwd,
                       const void *in, size_t in_len, bool merge, struct berth_bytes *out,
                       struct berth_err **err)
{
    static const char *const ours[] = {"TTRPC_ADDRESS=", "GOMAXPROCS=", "BERTH_SHIM_RUNTIME="};
    _cleanup_free_ char *ttrpc_env = berth_strdup_printf("TTRPC_ADDRESS=%s.ttrpc", rt->address);
    _cleanup_free_ char *oci_env = NULL;
    _cleanup_free_ char **envp = NULL;
    int inp[2] = {-1, -1}, outp[2] = {-1, -1}, status = 0, devnull = -1;
    size_t n_env = 0, cap = 0;
    pid_t pid;

    memset(out, 0, sizeof(*out));
    for (char **e = environ; *e; e++)
        n_env++;
    envp = berth_xcalloc(n_env + BERTH_N(ours) + 1, sizeof(char *));
    n_env = 0;
    for (char **e = environ; *e; e++) {
        bool mine = false;
        for (size_t i = 0; i < BERTH_N(ours); i++)
            mine = mine || berth_str_has_prefix(*e, ours[i]);
        if (!mine)
            envp[n_env++] = *e;
    }
    envp[n_env++] = ttrpc_env;
    envp[n_env++] = (char *)"GOMAXPROCS=2";
    if (rt->oci_binary) {
        oci_env = berth_strdup_printf("BERTH_SHIM_RUNTIME=%s", rt->oci_binary);
        envp[n_env++] = oci_env;
    }

    if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "pipe");
        goto fail;
    }
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "open /dev/null");
        goto fail;
    }
    {
        struct berth_spawn_opts so = {
            .cwd = cwd, .fd_in = inp[0], .fd_out = outp[1], .fd_err = merge ? outp[1] : devnull};
        int rc = berth_spawn(argv[0], (char *const *)argv, envp, &so, &pid, err);
        close(steal_fd(devnull));
        if (rc < 0)
            goto fail;
    }
    close(steal_fd(inp[0]));
    close(steal_fd(outp[1]));
    if (in_len > 0 && write(inp[1], in, in_len) < 0) {
        /* the shim may not read stdin at all; that is not an error */
    }
    close(steal_fd(inp[1]));
    for (;;) {
        ssize_t r;
        if (cap - out->len < 4096) {
            cap = cap ? cap * 2 : 8192;
            out->data = berth_xrealloc(out->data, cap);
        }
        r = read(outp[0], (char *)out->data + out->len, cap - out->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        out->len += (size_t)r;
    }
    close(steal_fd(outp[0]));
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
fail:
    for (int i = 0; i < 2; i++) {
        if (inp[i] >= 0)
            close(inp[i]);
        if (outp[i] >= 0)
            close(outp[i]);
    }
    return -1;
}

int berth_rt_shim_start(const struct berth_rt *rt, const char *binary, const char *ns,
                        const char *id, const char *bundle, const Google__Protobuf__Any *options,
                        char **addr_out, struct berth_err **err)
{
    _cleanup_free_ void *in = NULL;
    const char *argv[] = {
        binary,          "-namespace", ns,  "-id", id, "-address", rt->address, "-publish-binary",
        rt->daemon_path, "start",      NULL};
    struct berth_bytes out = {0};
    size_t in_len = 0, len;
    char *s;
    int rc;

    *addr_out = NULL;
    if (options) {
        in_len = google__protobuf__any__get_packed_size(options);
        in = berth_xmalloc(in_len ? in_len : 1);
        google__protobuf__any__pack(options, in);
    }
    rc = run_capture(rt, argv, bundle, in, in_len, true, &out, err);
    if (rc < 0)
        return berth_err_wrap(err, "start shim \"%s\"", binary);
    s = out.data ? (char *)out.data : berth_xstrdup("");
    len = out.len;
    if (out.data)
        s[len] = '\0';
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\r'))
        s[--len] = '\0';
    if (rc != 0 || len == 0) {
        berth_err_set(err, BERTH_E_INTERNAL, 0, "start shim \"%s\": exit status %d: %s", binary, rc,
                      s);
        free(s);
        return -1;
    }
    *addr_out = s;
    return 0;
}

void berth_rt_shim_delete(const struct berth_rt *rt, const char *binary, const char *ns,
                          const char *id, const char *bundle, uint32_t *pid, uint32_t *exit_status,
                          int64_t *exited_ns)
{
    _cleanup_err_ struct berth_err *err = NULL;
    const char *argv[] = {binary,
                          "-namespace",
                          ns,
                          "-id",
                          id,
                          "-address",
                          rt->address,
                          "-publish-binary",
                          rt->daemon_path,
                          "-bundle",
                          bundle,
                          "delete",
                          NULL};
    struct berth_bytes out = {0};
    Containerd__Task__V2__DeleteResponse *resp = NULL;

    *pid = 0;
    *exit_status = 255;
    *exited_ns = berth_now_ns();
    if (!binary || run_capture(rt, argv, bundle, NULL, 0, false, &out, &err) != 0) {
        berth_bytes_clear(&out);
        return;
    }
    resp = containerd__task__v2__delete_response__unpack(NULL, out.len, out.data);
    if (resp) {
        *pid = resp->pid;
        *exit_status = resp->exit_status;
        if (berth_pb_ts_ns(resp->exited_at))
            *exited_ns = berth_pb_ts_ns(resp->exited_at);
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    berth_bytes_clear(&out);
}
