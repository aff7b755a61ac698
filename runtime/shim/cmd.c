/* SPDX-License-Identifier: Apache-2.0 */
/* The shim's subcommands as containerd runs them: `start` (publish a shim for the bundle in
 * the cwd and print only its address; containerd 1.6 reads combined stdout+stderr) and
 * `delete` (clean up after a shim that is gone and print a packed DeleteResponse). The
 * long-lived shim is a fork of `start`, not a re-exec: its memory is what start touched. */
#define BERTH_LOG_SUBSYS "shim"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "api/runtime/task/v2/shim.pb-c.h"
#include "api/timestamp.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "runtime/shim/shim-internal.h"
#include "runtime/shim/shim.h"

static void shim_setup(struct shim *s, const struct berth_shim_args *a, const char *bundle,
                       const char *state)
{
    const char *rt = getenv("BERTH_SHIM_RUNTIME");

    memset(s, 0, sizeof(*s));
    s->ns = a->ns;
    s->id = a->id;
    s->bundle = berth_xstrdup(bundle);
    s->runtime = berth_xstrdup(rt && *rt ? rt : "runc");
    s->runc_root = berth_strdup_printf("%s/runc/%s", state, a->ns);
    s->ep = -1;
}

static bool socket_alive(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path))
        return false;
    return fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

static int write_address(const char *bundle, const char *addr)
{
    char path[4096];
    _cleanup_close_ int fd = -1;

    if (snprintf(path, sizeof(path), "%s/address", bundle) >= (int)sizeof(path))
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, addr, strlen(addr)) != (ssize_t)strlen(addr))
        return -1;
    return 0;
}

/* The shim's stderr: the bundle's `log` FIFO (containerd copies it to its own log), opened so
 * that it never blocks: when nobody reads, lines are dropped. */
static void redirect_stdio(void)
{
    int nul = open("/dev/null", O_RDWR), log;

    if (mkfifo("log", 0700) < 0 && errno != EEXIST)
        log = -1;
    log = open("log", O_RDWR | O_NONBLOCK);
    if (log < 0)
        log = nul;
    dup2(nul, 0);
    dup2(log, 1);
    dup2(log, 2);
    if (log != nul && log > 2)
        close(log);
    if (nul > 2)
        close(nul);
}

int berth_shim_cmd_start(const struct berth_shim_args *a)
{
    _cleanup_err_ struct berth_err *err = NULL;
    /* On the heap: the serving child forked below runs its whole life under this frame. */
    _cleanup_free_ char *bundle = getcwd(NULL, 0), *state = berth_xmalloc(PATH_MAX), *sdir = NULL;
    char sock[128], addr[160], buf[512];
    int lfd = -1;
    pid_t pid;

    if (!bundle) {
        fprintf(stderr, "getcwd: %s\n", berth_strerror(errno));
        return 1;
    }
    /* The daemon writes the task options to stdin; Create brings them again. */
    if (!isatty(0))
        while (read(0, buf, sizeof(buf)) > 0)
            ;
    if (berth_shim_state_dir(bundle, state, PATH_MAX, &err) < 0 ||
        berth_shim_socket_path(state, a->address ? a->address : "", a->ns, a->id, sock,
                               sizeof(sock), &err) < 0) {
        fprintf(stderr, "%s\n", err->msg);
        return 1;
    }
    snprintf(addr, sizeof(addr), "unix://%s", sock);
    sdir = berth_strdup_printf("%s/s", state);
    if (berth_mkdir_p(sdir, 0711, 0711, &err) < 0) {
        fprintf(stderr, "%s\n", err->msg);
        return 1;
    }
    if (!socket_alive(sock)) {
        if (berth_ttrpc_server_listen(sock, &lfd, &err) < 0) {
            fprintf(stderr, "%s\n", err->msg);
            return 1;
        }
        pid = fork();
        if (pid < 0) {
            fprintf(stderr, "fork: %s\n", berth_strerror(errno));
            return 1;
        }
        if (pid == 0) {
            struct shim s;
            setsid();
            redirect_stdio();
            if (a->debug)
                berth_log_set_level(BERTH_LOG_DEBUG);
            shim_setup(&s, a, bundle, state);
            snprintf(s.socket_path, sizeof(s.socket_path), "%s", sock);
            /* the start process's buffers (shim_setup copied what it needs) */
            free(steal_ptr(bundle));
            free(steal_ptr(state));
            free(steal_ptr(sdir));
            /* exit, not _exit: from here this child is the shim, and a sanitized build's leak
             * check runs at exit (stdout's buffer is still empty: the address is written below) */
            exit(berth_shim_serve(&s, lfd));
        }
        close(lfd);
    }
    if (write_address(bundle, addr) < 0) {
        fprintf(stderr, "write address file: %s\n", berth_strerror(errno));
        return 1;
    }
    fputs(addr, stdout);
    return 0;
}

int berth_shim_cmd_delete(const struct berth_shim_args *a)
{
    Containerd__Task__V2__DeleteResponse r = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    _cleanup_err_ struct berth_err *err = NULL;
    char bundle[4096], state[4096], path[4200], pidbuf[32] = {0};
    struct berth_bytes out = {0};
    _cleanup_close_ int fd = -1;
    int64_t exited_ns = 0;
    uint32_t status = 0;
    struct shim s;

    if (a->bundle && *a->bundle)
        snprintf(bundle, sizeof(bundle), "%s", a->bundle);
    else if (!getcwd(bundle, sizeof(bundle)))
        return 1;
    if (berth_shim_state_dir(bundle, state, sizeof(state), &err) < 0) {
        fprintf(stderr, "%s\n", err->msg);
        return 1;
    }
    shim_setup(&s, a, bundle, state);
    if (shim_load_options(&s, &err) < 0) {
        fprintf(stderr, "%s\n", err->msg);
        berth_err_free(&err); /* delete what we can with the defaults */
    }
    if (shim_runc(&s, (int[3]){-1, -1, -1}, NULL, &err, "delete", "--force", a->id, NULL) < 0) {
        /* Already gone is fine: the point is that it is gone. */
        berth_err_free(&err);
    }
    snprintf(path, sizeof(path), "%s/rootfs", bundle);
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        fprintf(stderr, "unmount \"%s\": %s\n", path, berth_strerror(errno));
    if (berth_shim_exit_read(bundle, &status, &exited_ns, &err) < 0) {
        berth_err_free(&err);
        status = 128 + SIGKILL;
        exited_ns = berth_now_ns();
    }
    snprintf(path, sizeof(path), "%s/init.pid", bundle);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && read(fd, pidbuf, sizeof(pidbuf) - 1) > 0)
        r.pid = (uint32_t)strtoul(pidbuf, NULL, 10);
    r.exit_status = status;
    r.exited_at = berth_pb_ts_set(&ts, exited_ns);
    berth_ttrpc_pack(&out, &r.base);
    if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len)
        return 1;
    berth_bytes_clear(&out);
    free(s.bundle);
    free(s.runtime);
    free(s.runc_root);
    return 0;
}
