/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attach socket of berth-shim (CRI Attach; CRI-O conmon's model): while the init process's
 * stdout is a CRI log, the shim listens on a SOCK_SEQPACKET unix socket "attach" in the bundle
 * and every client gets the process's output from then on (no history) and may feed its stdin.
 * One packet = one type byte + up to BERTH_SHIM_ATTACH_DATA_MAX bytes. This header has no shim
 * internals and its helpers are inline: berthd includes it without linking the shim.
 */
#ifndef BERTH_RUNTIME_SHIM_ATTACH_H
#define BERTH_RUNTIME_SHIM_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lib/err.h"

/* The init process's stdin URIs (CreateTaskRequest.stdin) that feed it from attach clients:
 * a pipe (or the terminal) the shim holds open. ONCE: a client's end of stdin (packet
 * BERTH_SHIM_ATTACH_STDIN_END) closes the process's stdin, unless it has a terminal. */
#define BERTH_SHIM_ATTACH_STDIN_URI      "attach://stdin"
#define BERTH_SHIM_ATTACH_STDIN_ONCE_URI "attach://stdin?once=1"
#define BERTH_SHIM_ATTACH_SCHEME         "attach://"

/* The socket's name in the bundle directory (mode 0600). */
#define BERTH_SHIM_ATTACH_SOCKET "attach"

/* Payload bytes per packet, and the largest packet (type byte included). */
#define BERTH_SHIM_ATTACH_DATA_MAX   32768
#define BERTH_SHIM_ATTACH_PACKET_MAX (BERTH_SHIM_ATTACH_DATA_MAX + 1)

/* The first byte of a packet. */
enum berth_shim_attach_type {
    BERTH_SHIM_ATTACH_STDIN = 0,     /* client -> shim: stdin bytes */
    BERTH_SHIM_ATTACH_STDOUT = 1,    /* shim -> client: stdout (all output with a terminal) */
    BERTH_SHIM_ATTACH_STDERR = 2,    /* shim -> client: stderr */
    BERTH_SHIM_ATTACH_STDIN_END = 3, /* client -> shim, alone: this client's stdin ended */
};

/* Parses the stdin URI of an init process: BERTH_SHIM_ATTACH_STDIN_URI (*once false) or
 * BERTH_SHIM_ATTACH_STDIN_ONCE_URI ("?once=0" is accepted as the former). INVALID_ARGUMENT
 * naming the URI for anything else, attach:// or not. Implemented in attach.c (the shim). */
int berth_shim_attach_uri_parse(const char *uri, bool *once, struct berth_err **err);

/* Splits a packet of len bytes received on an attach socket into *type and its payload
 * (*data borrowed from pkt, *data_len bytes). from_client: the packet was sent by a client
 * (STDIN with any payload, or STDIN_END alone); otherwise by the shim (STDOUT or STDERR).
 * False for an empty packet, one over BERTH_SHIM_ATTACH_PACKET_MAX or a type its sender may
 * not send: the receiver drops that peer. */
static inline bool berth_shim_attach_packet_split(const void *pkt, size_t len, bool from_client,
                                                  enum berth_shim_attach_type *type,
                                                  const uint8_t **data, size_t *data_len)
{
    const uint8_t *b = pkt;

    if (len == 0 || len > BERTH_SHIM_ATTACH_PACKET_MAX)
        return false;
    switch (b[0]) {
    case BERTH_SHIM_ATTACH_STDIN:
        if (!from_client)
            return false;
        break;
    case BERTH_SHIM_ATTACH_STDIN_END:
        if (!from_client || len != 1)
            return false;
        break;
    case BERTH_SHIM_ATTACH_STDOUT:
    case BERTH_SHIM_ATTACH_STDERR:
        if (from_client)
            return false;
        break;
    default:
        return false;
    }
    *type = (enum berth_shim_attach_type)b[0];
    *data = b + 1;
    *data_len = len - 1;
    return true;
}

/* The address of the attach socket in the directory open as dirfd (O_PATH is enough):
 * "/proc/self/fd/<dirfd>/attach". Bundle paths outgrow sun_path (108 bytes) and a daemon with
 * threads cannot chdir, so bind and connect go through the fd's /proc link (CRI-O's trick).
 * Returns the address length for bind/connect. */
static inline socklen_t berth_shim_attach_sockaddr(int dirfd, struct sockaddr_un *sa)
{
    *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
    snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/" BERTH_SHIM_ATTACH_SOCKET,
             dirfd);
    return (socklen_t)sizeof(*sa);
}

#endif
