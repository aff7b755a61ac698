/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berth-h2abuse: speaks raw HTTP/2 to a unix socket the way a hostile or broken client would,
 * for the abuse tests (tests/integration/abuse.bats). No gRPC library: frames are built by hand
 * so the tool can do what no real client does.
 *
 *   berth-h2abuse -a SOCK pings   [-c CONNS] [-n PINGS] [--no-read]
 *       each connection sends the preface, SETTINGS and PINGS PING frames, reads what the
 *       server answers (unless --no-read) and closes; prints acks=<n received in all>
 *   berth-h2abuse -a SOCK streams [-n STREAMS] [-p PATH] [--hold SEC] [--no-settings-ack]
 *                 [--header NAME=VALUE] [--body] [--rst] [--no-read]
 *       one connection opens STREAMS gRPC streams (HEADERS without END_STREAM, no body), reads
 *       for SEC seconds and prints max_streams=<SETTINGS_MAX_CONCURRENT_STREAMS or none>,
 *       refused=<RST_STREAM REFUSED_STREAM>, reset=<other RST_STREAMs>, ended=<HEADERS with
 *       END_STREAM, i.e. calls the server answered with a status>, goaway=<0|1>; with
 *       --no-settings-ack the server's SETTINGS are never acknowledged, so its advertised
 *       stream limit never binds the connection; --header adds one header to every stream,
 *       --body sends an empty message and ends each stream (a complete unary call), --rst
 *       cancels each stream right after opening it, --no-read never reads after the preface
 *       (closed= then tells whether the server closed the connection)
 *   berth-h2abuse -a SOCK conns   [-c CONNS] [--hold SEC] [--preface]
 *       opens CONNS connections (sending the preface and SETTINGS with --preface, nothing
 *       otherwise), holds them SEC seconds, prints opened=<n> closed=<closed by the server>
 *   berth-h2abuse -a SOCK idle    [--hold SEC] [--preface]
 *       one connection that sends nothing (or only the preface); prints closed_after_ms=<ms>
 *       when the server closes it within SEC seconds, closed_after_ms=none otherwise
 *
 * Exit status 0 when the run completed, 1 when the socket could not be reached, 2 on usage.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

enum { F_DATA, F_HEADERS, F_PRIORITY, F_RST, F_SETTINGS, F_PUSH, F_PING, F_GOAWAY, F_WINDOW };

struct reader {
    int fd;
    uint8_t buf[1 << 16];
    size_t len;
};

struct stats {
    long acks, refused, reset, ended, goaway, max_streams;
    bool eof;
};

static const char *address;
static bool no_settings_ack; /* never acknowledge the server's SETTINGS (so its limits never
                              * take effect on the server side) */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dial(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(address) >= sizeof(sa.sun_path))
        return -1;
    strcpy(sa.sun_path, address);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    /* A server that stops reading (as it should when we never read its answers) must not
     * hang the tool: give up a send after two seconds. */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){.tv_sec = 2}, sizeof(struct timeval));
    return fd;
}

/* Writes everything; false once the server closed or stopped reading for good. */
static bool send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

static size_t frame_hdr(uint8_t *b, size_t len, int type, int flags, uint32_t sid)
{
    b[0] = (uint8_t)(len >> 16);
    b[1] = (uint8_t)(len >> 8);
    b[2] = (uint8_t)len;
    b[3] = (uint8_t)type;
    b[4] = (uint8_t)flags;
    b[5] = (uint8_t)(sid >> 24 & 0x7f);
    b[6] = (uint8_t)(sid >> 16);
    b[7] = (uint8_t)(sid >> 8);
    b[8] = (uint8_t)sid;
    return 9;
}

static bool send_preface(int fd)
{
    uint8_t f[9];
    frame_hdr(f, 0, F_SETTINGS, 0, 0);
    return send_all(fd, PREFACE, strlen(PREFACE)) && send_all(fd, f, sizeof(f));
}

/* Handles one server frame: acks its SETTINGS and counts what the modes report. */
static void on_frame(int fd, const uint8_t *h, const uint8_t *payload, struct stats *st)
{
    size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
    int type = h[3], flags = h[4];

    switch (type) {
    case F_SETTINGS:
        if (flags & 1)
            break;
        for (size_t i = 0; i + 6 <= len; i += 6) {
            unsigned id = (unsigned)payload[i] << 8 | payload[i + 1];
            uint32_t v = (uint32_t)payload[i + 2] << 24 | (uint32_t)payload[i + 3] << 16 |
                         (uint32_t)payload[i + 4] << 8 | payload[i + 5];
            if (id == 3)
                st->max_streams = v;
        }
        if (!no_settings_ack) {
            uint8_t ack[9];
            frame_hdr(ack, 0, F_SETTINGS, 1, 0);
            send_all(fd, ack, sizeof(ack));
        }
        break;
    case F_PING:
        if (flags & 1)
            st->acks++;
        break;
    case F_RST:
        if (len == 4 && payload[3] == 7 && !payload[0] && !payload[1] && !payload[2])
            st->refused++;
        else
            st->reset++;
        break;
    case F_HEADERS:
        if (flags & 1)
            st->ended++;
        break;
    case F_GOAWAY:
        st->goaway = 1;
        break;
    }
}

/* Reads and handles frames until timeout_ms passes with nothing to read, or EOF. */
static void pump(struct reader *r, int timeout_ms, struct stats *st)
{
    for (;;) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        ssize_t n;
        size_t off = 0;

        if (st->eof || poll(&p, 1, timeout_ms) <= 0)
            return;
        n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
        if (n <= 0) {
            st->eof = true;
            return;
        }
        r->len += (size_t)n;
        while (r->len - off >= 9) {
            const uint8_t *h = r->buf + off;
            size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
            if (len > sizeof(r->buf) - 9) {
                st->eof = true; /* larger than we ever allow: give up on this connection */
                return;
            }
            if (r->len - off < 9 + len)
                break;
            on_frame(r->fd, h, h + 9, st);
            off += 9 + len;
        }
        memmove(r->buf, r->buf + off, r->len - off);
        r->len -= off;
    }
}

static int mode_pings(int conns, long pings, bool no_read)
{
    enum { BATCH = 256 };
    uint8_t frames[BATCH * 17];
    struct stats st = {0};
    long acks = 0, total = 0;

    for (int i = 0; i < BATCH; i++) {
        frame_hdr(frames + i * 17, 8, F_PING, 0, 0);
        memset(frames + i * 17 + 9, 0x5a, 8);
    }
    for (int c = 0; c < conns; c++) {
        struct reader *r = calloc(1, sizeof(*r));
        long sent = 0;

        r->fd = dial();
        if (r->fd < 0) {
            perror("connect");
            return 1;
        }
        if (!send_preface(r->fd)) {
            close(r->fd);
            free(r);
            continue;
        }
        while (sent < pings) {
            long n = pings - sent < BATCH ? pings - sent : BATCH;
            if (!send_all(r->fd, frames, (size_t)n * 17))
                break;
            sent += n;
            if (!no_read)
                pump(r, 0, &st);
        }
        if (!no_read)
            pump(r, 200, &st);
        total += sent;
        acks += st.acks;
        st.acks = 0;
        st.eof = false;
        close(r->fd);
        free(r);
    }
    printf("acks=%ld sent=%ld\n", acks, total);
    return 0;
}

/* HPACK: literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2). */
static size_t hpack_int(uint8_t *b, size_t v, int prefix_bits, uint8_t first)
{
    size_t max = ((size_t)1 << prefix_bits) - 1, n = 0;
    if (v < max) {
        b[n++] = first | (uint8_t)v;
        return n;
    }
    b[n++] = first | (uint8_t)max;
    v -= max;
    while (v >= 128) {
        b[n++] = (uint8_t)(v % 128 + 128);
        v /= 128;
    }
    b[n++] = (uint8_t)v;
    return n;
}

static size_t hpack_lit(uint8_t *b, const char *name, const char *value)
{
    size_t n = 0;
    b[n++] = 0;
    n += hpack_int(b + n, strlen(name), 7, 0);
    memcpy(b + n, name, strlen(name));
    n += strlen(name);
    n += hpack_int(b + n, strlen(value), 7, 0);
    memcpy(b + n, value, strlen(value));
    n += strlen(value);
    return n;
}

struct stream_opts {
    const char *path;
    const char *header; /* "name=value" sent with every stream, or NULL */
    bool rst;           /* RST_STREAM(CANCEL) right after each HEADERS */
    bool body;          /* an empty gRPC message and END_STREAM after each HEADERS */
    bool no_read;       /* read nothing after the preface exchange */
};

/* Tells whether the server closed the connection: drains what it sent without blocking. */
static bool peer_closed(int fd)
{
    char b[4096];
    ssize_t n;

    while ((n = recv(fd, b, sizeof(b), MSG_DONTWAIT)) > 0)
        ;
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static int mode_streams(long streams, const struct stream_opts *so, int hold)
{
    struct reader *r = calloc(1, sizeof(*r));
    struct stats st = {.max_streams = -1};
    uint8_t block[4096], frame[9 + 4096];
    size_t blen = 0;
    long opened = 0;
    int64_t until;

    r->fd = dial();
    if (r->fd < 0) {
        perror("connect");
        return 1;
    }
    blen += hpack_lit(block + blen, ":method", "POST");
    blen += hpack_lit(block + blen, ":scheme", "http");
    blen += hpack_lit(block + blen, ":path", so->path);
    blen += hpack_lit(block + blen, ":authority", "localhost");
    blen += hpack_lit(block + blen, "content-type", "application/grpc");
    blen += hpack_lit(block + blen, "te", "trailers");
    blen += hpack_lit(block + blen, "containerd-namespace", "abuse");
    if (so->header) {
        char name[256];
        const char *eq = strchr(so->header, '=');
        size_t nl = eq ? (size_t)(eq - so->header) : 0;
        if (!eq || nl >= sizeof(name) || strlen(eq + 1) > 1024) {
            fprintf(stderr, "bad --header\n");
            return 2;
        }
        memcpy(name, so->header, nl);
        name[nl] = '\0';
        blen += hpack_lit(block + blen, name, eq + 1);
    }
    memcpy(frame + 9, block, blen);
    if (!send_preface(r->fd))
        goto out;
    pump(r, 100, &st);
    for (long i = 0; i < streams && !st.eof; i++) {
        uint32_t sid = (uint32_t)(2 * i + 1);
        frame_hdr(frame, blen, F_HEADERS, 4 /* END_HEADERS */, sid);
        if (!send_all(r->fd, frame, 9 + blen))
            break;
        if (so->body) {
            /* one empty length-prefixed gRPC message, then the end of the client's stream */
            uint8_t d[9 + 5] = {0};
            frame_hdr(d, 5, F_DATA, 1 /* END_STREAM */, sid);
            if (!send_all(r->fd, d, sizeof(d)))
                break;
        }
        if (so->rst) {
            uint8_t rst[9 + 4] = {0};
            frame_hdr(rst, 4, F_RST, 0, sid);
            rst[12] = 8; /* CANCEL */
            if (!send_all(r->fd, rst, sizeof(rst)))
                break;
        }
        opened++;
        if (i % 64 == 63 && !so->no_read)
            pump(r, 0, &st);
    }
    until = now_ms() + (int64_t)hold * 1000;
    while (!st.eof && now_ms() < until) {
        if (so->no_read)
            usleep(100000);
        else
            pump(r, 100, &st);
    }
    if (so->no_read)
        st.eof = peer_closed(r->fd);
out:
    printf("opened=%ld max_streams=", opened);
    if (st.max_streams < 0)
        printf("none");
    else
        printf("%ld", st.max_streams);
    printf(" refused=%ld reset=%ld ended=%ld goaway=%ld closed=%d\n", st.refused, st.reset,
           st.ended, st.goaway, st.eof ? 1 : 0);
    close(r->fd);
    free(r);
    return 0;
}

static int mode_conns(int conns, int hold, bool preface)
{
    int *fds = calloc((size_t)conns, sizeof(int));
    int opened = 0, closed = 0;
    int64_t until;

    for (int i = 0; i < conns; i++) {
        fds[i] = dial();
        if (fds[i] < 0)
            break;
        if (preface)
            send_preface(fds[i]);
        opened++;
    }
    until = now_ms() + (int64_t)hold * 1000;
    while (now_ms() < until)
        usleep(50000);
    for (int i = 0; i < opened; i++) {
        closed += peer_closed(fds[i]);
        close(fds[i]);
    }
    printf("opened=%d closed=%d\n", opened, closed);
    free(fds);
    return 0;
}

static int mode_idle(int hold, bool preface)
{
    int fd = dial();
    int64_t start = now_ms(), until = start + (int64_t)hold * 1000;

    if (fd < 0) {
        perror("connect");
        return 1;
    }
    if (preface)
        send_preface(fd);
    while (now_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char b[4096];
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, b, sizeof(b), 0);
        if (n <= 0) {
            printf("closed_after_ms=%lld\n", (long long)(now_ms() - start));
            close(fd);
            return 0;
        }
    }
    printf("closed_after_ms=none\n");
    close(fd);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: berth-h2abuse -a SOCK pings|streams|conns|idle [-c N] [-n N] "
                    "[-p PATH] [--hold SEC] [--no-read] [--preface] [--no-settings-ack] "
                    "[--header N=V] [--body] [--rst]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"address", required_argument, NULL, 'a'},
        {"hold", required_argument, NULL, 'H'},
        {"no-read", no_argument, NULL, 'R'},
        {"preface", no_argument, NULL, 'P'},
        {"no-settings-ack", no_argument, NULL, 'S'},
        {"header", required_argument, NULL, 'E'},
        {"rst", no_argument, NULL, 'T'},
        {"body", no_argument, NULL, 'B'},
        {NULL, 0, NULL, 0},
    };
    struct stream_opts so = {.path = "/containerd.services.content.v1.Content/Write"};
    int c, conns = 1, hold = 1;
    long n = 1;
    bool no_read = false, preface = false;

    while ((c = getopt_long(argc, argv, "a:c:n:p:", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            address = optarg;
            break;
        case 'c':
            conns = atoi(optarg);
            break;
        case 'n':
            n = atol(optarg);
            break;
        case 'p':
            so.path = optarg;
            break;
        case 'E':
            so.header = optarg;
            break;
        case 'T':
            so.rst = true;
            break;
        case 'B':
            so.body = true;
            break;
        case 'H':
            hold = atoi(optarg);
            break;
        case 'R':
            no_read = true;
            break;
        case 'P':
            preface = true;
            break;
        case 'S':
            no_settings_ack = true;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (!address || optind + 1 != argc || conns < 1 || n < 0) {
        usage();
        return 2;
    }
    if (strcmp(argv[optind], "pings") == 0)
        return mode_pings(conns, n, no_read);
    if (strcmp(argv[optind], "streams") == 0) {
        so.no_read = no_read;
        return mode_streams(n, &so, hold);
    }
    if (strcmp(argv[optind], "conns") == 0)
        return mode_conns(conns, hold, preface);
    if (strcmp(argv[optind], "idle") == 0)
        return mode_idle(hold, preface);
    usage();
    return 2;
}
