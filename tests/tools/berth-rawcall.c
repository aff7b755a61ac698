/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berth-rawcall: sends arbitrary bytes as the request body of one unary gRPC method and prints
 * the status. Used by the integration tests for what well-behaved clients never send: a missing
 * namespace header, an undecodable body, an unknown method.
 *
 *   berth-rawcall -a SOCK [-n NS | --no-namespace] [--timeout MS] METHOD
 *                 [--hex HEX | --text STRING | --empty]
 *
 * Prints "code=<n> <NAME>", "message=<details>" and, when the server sent a body,
 * "response=<hex>". Exits 0 when the call completed (whatever its status), 1 when the server
 * could not be reached or the call failed locally, 2 on usage errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/client.h"

static const char *const code_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

static void usage(FILE *f)
{
    fputs("usage: berth-rawcall -a SOCK [-n NS | --no-namespace] [--timeout MS] METHOD\n"
          "                     [--hex HEX | --text STRING | --empty]\n",
          f);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex (whitespace ignored) into a malloc'd buffer; -1 on bad input. */
static int hex_decode(const char *hex, uint8_t **out, size_t *len)
{
    size_t n = strlen(hex), k = 0;
    uint8_t *buf = malloc(n / 2 + 1);
    int hi = -1;

    if (!buf)
        return -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == ':')
            continue;
        v = hexval((unsigned char)*p);
        if (v < 0) {
            free(buf);
            return -1;
        }
        if (hi < 0) {
            hi = v;
        } else {
            buf[k++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = k;
    return 0;
}

/* For plain socket paths: fails fast (and tells why) when nothing listens there. */
static int probe_socket(const char *address)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = address;
    int fd, rc;

    if (strncmp(path, "unix://", 7) == 0)
        path += 7;
    else if (strncmp(path, "unix:", 5) == 0)
        path += 5;
    if (path[0] != '/' && path[0] != '.')
        return 0; /* abstract or other target: let the call tell */
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "berth-rawcall: socket path \"%s\" is too long\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "berth-rawcall: socket: %s\n", berth_strerror(errno));
        return -1;
    }
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (rc < 0)
        fprintf(stderr, "berth-rawcall: connect to \"%s\": %s\n", path, berth_strerror(errno));
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    enum { OPT_NO_NS = 256, OPT_HEX, OPT_TEXT, OPT_EMPTY, OPT_TIMEOUT };
    static const struct option opts[] = {
        {"address", required_argument, NULL, 'a'},
        {"namespace", required_argument, NULL, 'n'},
        {"no-namespace", no_argument, NULL, OPT_NO_NS},
        {"hex", required_argument, NULL, OPT_HEX},
        {"text", required_argument, NULL, OPT_TEXT},
        {"empty", no_argument, NULL, OPT_EMPTY},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *address = NULL, *ns = "default", *method = NULL;
    struct berth_client *client = NULL;
    struct berth_err *err = NULL;
    struct berth_bytes resp = {0};
    uint8_t *body = NULL;
    size_t len = 0;
    long timeout_ms = 10000;
    char *details = NULL, *end;
    int c, status = 0, n_body = 0, ret;

    while ((c = getopt_long(argc, argv, "a:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            address = optarg;
            break;
        case 'n':
            ns = optarg;
            break;
        case OPT_NO_NS:
            ns = NULL;
            break;
        case OPT_HEX:
            free(body);
            body = NULL;
            if (hex_decode(optarg, &body, &len) < 0) {
                fprintf(stderr, "berth-rawcall: --hex: not an even-length hex string\n");
                return 2;
            }
            n_body++;
            break;
        case OPT_TEXT:
            free(body);
            len = strlen(optarg);
            body = malloc(len + 1);
            if (!body)
                return 1;
            memcpy(body, optarg, len + 1);
            n_body++;
            break;
        case OPT_EMPTY:
            free(body);
            body = NULL;
            len = 0;
            n_body++;
            break;
        case OPT_TIMEOUT:
            errno = 0;
            timeout_ms = strtol(optarg, &end, 10);
            if (errno || *end || timeout_ms < 0) {
                fprintf(stderr, "berth-rawcall: --timeout: want milliseconds\n");
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc)
        method = argv[optind++];
    if (!address || !method || optind != argc || n_body > 1 || method[0] != '/') {
        usage(stderr);
        free(body);
        return 2;
    }
    if (probe_socket(address) < 0) {
        free(body);
        return 1;
    }
    if (berth_client_open(address, ns, timeout_ms, &client, &err) < 0) {
        fprintf(stderr, "berth-rawcall: %s\n", err->msg);
        berth_err_free(&err);
        free(body);
        return 1;
    }
    ret = berth_client_unary_raw(client, method, body, len, &resp, &status, &details, &err);
    if (ret < 0) {
        fprintf(stderr, "berth-rawcall: %s\n", err ? err->msg : "call failed");
        berth_err_free(&err);
    } else {
        printf("code=%d %s\n", status,
               status >= 0 && (size_t)status < BERTH_N(code_names) ? code_names[status] : "?");
        printf("message=%s\n", details ? details : "");
        if (resp.len) {
            printf("response=");
            for (size_t i = 0; i < resp.len; i++)
                printf("%02x", resp.data[i]);
            printf("\n");
        }
    }
    free(details);
    berth_bytes_clear(&resp);
    berth_client_close(client);
    free(body);
    return ret < 0 ? 1 : 0;
}
