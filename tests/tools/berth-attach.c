/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berth-attach: a client of berth-shim's attach socket (runtime/shim/attach.h) for tests.
 * Connects to SOCKET (through an O_PATH fd of its directory, so any path length works), sends
 * its stdin as STDIN packets and STDIN_END at EOF, writes STDOUT packets to stdout and STDERR
 * packets to stderr, and exits 0 when the shim closes the socket (the container ended).
 *
 *   berth-attach [--ready FILE] [--no-stdin] [--hold] SOCKET
 *
 * --ready FILE: created once connected. --no-stdin: stdin is not read (no STDIN_END either).
 * --hold: connects and then reads nothing, ever (a stalled client); exits when killed.
 * Exit codes: 0 EOF of the socket, 1 usage or connect error, 2 a malformed packet.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/shim/attach.h"

static int write_all(int fd, const uint8_t *b, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static uint8_t buf[BERTH_SHIM_ATTACH_PACKET_MAX + 1];
    const char *ready = NULL, *path = NULL;
    bool use_stdin = true, hold = false;
    struct sockaddr_un sa;
    char *dir;
    int dirfd, fd;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ready") && i + 1 < argc)
            ready = argv[++i];
        else if (!strcmp(argv[i], "--no-stdin"))
            use_stdin = false;
        else if (!strcmp(argv[i], "--hold"))
            hold = true;
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else
            path = NULL, i = argc;
    }
    if (!path) {
        fprintf(stderr, "usage: berth-attach [--ready FILE] [--no-stdin] [--hold] SOCKET\n");
        return 1;
    }
    dir = strdup(path);
    dirfd = open(dirname(dir), O_PATH | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (strcmp(strrchr(path, '/') ? strrchr(path, '/') + 1 : path, BERTH_SHIM_ATTACH_SOCKET)) {
        fprintf(stderr, "berth-attach: %s: the socket must be named %s\n", path,
                BERTH_SHIM_ATTACH_SOCKET);
        return 1;
    }
    if (dirfd < 0 || fd < 0 ||
        connect(fd, (struct sockaddr *)&sa, berth_shim_attach_sockaddr(dirfd, &sa)) < 0) {
        fprintf(stderr, "berth-attach: connect %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (ready)
        close(open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    if (hold)
        for (;;)
            pause();
    for (;;) {
        struct pollfd pf[2] = {{.fd = fd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
        if (poll(pf, use_stdin ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (pf[0].revents) {
            enum berth_shim_attach_type type;
            const uint8_t *data;
            size_t len;
            ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
            if (n == 0)
                return 0;
            if (n < 0)
                return errno == ECONNRESET ? 0 : 1;
            if (!berth_shim_attach_packet_split(buf, (size_t)n, false, &type, &data, &len)) {
                fprintf(stderr, "berth-attach: malformed packet of %zd bytes\n", n);
                return 2;
            }
            if (write_all(type == BERTH_SHIM_ATTACH_STDOUT ? 1 : 2, data, len) < 0)
                return 1;
        }
        if (use_stdin && pf[1].revents) {
            ssize_t n = read(0, buf + 1, BERTH_SHIM_ATTACH_DATA_MAX);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                buf[0] = BERTH_SHIM_ATTACH_STDIN_END;
                n = 0;
                use_stdin = false;
            } else {
                buf[0] = BERTH_SHIM_ATTACH_STDIN;
            }
            /* the container may end (and the shim close its side) before the client's last
             * packet: what it wrote before is still queued here, so read on */
            if (send(fd, buf, (size_t)n + 1, MSG_NOSIGNAL) < 0) {
                if (errno != EPIPE && errno != ECONNRESET)
                    return 1;
                use_stdin = false;
            }
        }
    }
}
