/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the ttrpc server (ttrpc/server.c over ttrpc/frame.c) as a shim runs it, fed
 * from a socketpair: frame reassembly across reads of any size, stream-id rules, the
 * ttrpc.Request envelope and the request payload decoded with the method's descriptor. The
 * first input byte sets the size of each write (1..256 bytes); the rest is the byte stream a
 * client sends. Every byte the server answers must decode (client-side reader) as RESPONSE
 * frames carrying a ttrpc.Response. */
#include "tests/fuzz/fuzz.h"

#include <sys/socket.h>
#include <unistd.h>

#include "api/runtime/task/v2/shim.pb-c.h"
#include "api/ttrpc/ttrpc.pb-c.h"
#include "ttrpc/frame.h"
#include "ttrpc/server.h"

static int create_cb(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *msg,
                     struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Task__V2__CreateTaskRequest *req = (const void *)msg;
    Containerd__Task__V2__CreateTaskResponse resp =
        CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;

    (void)berth_ttrpc_ctx_metadata(ctx, "x");
    if (!req->id || !*req->id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "empty id");
    resp.pid = (uint32_t)req->n_rootfs;
    berth_ttrpc_pack(out, &resp.base);
    return 0;
}

static int delete_cb(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *msg,
                     struct berth_bytes *out, struct berth_err **err)
{
    /* A deferred answer, given at once: the path Wait takes when the process has exited. */
    struct berth_ttrpc_pending *p = berth_ttrpc_ctx_defer(ctx);
    Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;

    (void)msg;
    (void)out;
    (void)err;
    berth_ttrpc_pending_reply_msg(p, &resp.base); /* frees p */
    return 0;
}

static const struct berth_ttrpc_method methods[] = {
    {"Create", &containerd__task__v2__create_task_request__descriptor, create_cb},
    {"Delete", &containerd__task__v2__delete_request__descriptor, delete_cb},
};
static const struct berth_ttrpc_service task = {"containerd.task.v2.Task", methods, 2};
static const struct berth_ttrpc_service *const services[] = {&task};

/* Reads what the server wrote and checks every complete frame. */
static void drain(int fd, struct berth_ttrpc_reader *rd)
{
    uint8_t buf[4096];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        size_t pos = 0, used;
        while (pos < (size_t)n) {
            struct berth_ttrpc_frame f = {0};
            struct berth_err *err = NULL;
            int rc = berth_ttrpc_reader_feed(rd, buf + pos, (size_t)n - pos, &used, &f, &err);
            pos += used;
            FUZZ_CHECK(rc >= 0);
            if (rc == 1) {
                Ttrpc__Response *resp;
                FUZZ_CHECK(f.hdr.type == BERTH_TTRPC_RESPONSE);
                resp = ttrpc__response__unpack(NULL, f.hdr.length, f.payload);
                FUZZ_CHECK(resp != NULL);
                ttrpc__response__free_unpacked(resp, NULL);
                berth_ttrpc_frame_clear(&f);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct berth_ttrpc_server *srv;
    struct berth_ttrpc_reader rd = {0};
    struct berth_ttrpc_conn *conn = NULL;
    struct berth_err *err = NULL;
    size_t chunk, pos = 1;
    int sv[2];

    if (size < 1)
        return 0;
    if (!srv)
        srv = berth_ttrpc_server_new(services, 1, NULL);
    chunk = (size_t)data[0] + 1;
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    FUZZ_CHECK(berth_ttrpc_conn_new(srv, sv[0], &conn, &err) == 0);
    while (pos < size) {
        size_t n = size - pos < chunk ? size - pos : chunk;
        FUZZ_CHECK(write(sv[1], data + pos, n) == (ssize_t)n);
        pos += n;
        if (berth_ttrpc_conn_on_readable(conn, &err) < 0) {
            fuzz_err_consume(&err);
            goto out;
        }
        if (berth_ttrpc_conn_wants_write(conn) && berth_ttrpc_conn_on_writable(conn, &err) < 0) {
            fuzz_err_consume(&err);
            goto out;
        }
        drain(sv[1], &rd);
    }
    /* EOF: the connection must end, naming a partial frame if there is one. */
    shutdown(sv[1], SHUT_WR);
    FUZZ_CHECK(berth_ttrpc_conn_on_readable(conn, &err) < 0);
    FUZZ_CHECK(err->code == BERTH_E_UNAVAILABLE);
    fuzz_err_consume(&err);
out:
    drain(sv[1], &rd);
    berth_ttrpc_conn_close(conn);
    berth_ttrpc_reader_clear(&rd);
    close(sv[1]);
    return 0;
}
