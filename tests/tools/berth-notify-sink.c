/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berth-notify-sink: stands in for systemd's notification socket in tests. Binds a unix
 * datagram socket at PATH and, for SECONDS, prints every notification it receives, one
 * variable per line prefixed with the milliseconds since start ("1234 WATCHDOG=1"), flushing
 * each line so a test can follow the file while it grows.
 *
 *   berth-notify-sink PATH SECONDS
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    long long start, until;
    int fd;

    if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "usage: berth-notify-sink PATH SECONDS\n");
        return 2;
    }
    strcpy(sa.sun_path, argv[1]);
    unlink(argv[1]);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("bind");
        return 1;
    }
    start = now_ms();
    until = start + atoll(argv[2]) * 1000;
    while (now_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char buf[4096];
        ssize_t n;

        if (poll(&p, 1, 100) <= 0)
            continue;
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
            printf("%lld %s\n", now_ms() - start, line);
        fflush(stdout);
    }
    unlink(argv[1]);
    return 0;
}
