/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake containerd.task.v2.Task shim for the runtime/v2 unit tests (header only: each test
 * file is its own executable). A ttrpc server in a thread records the last call (method and
 * request bytes) and answers with fixed values: the init is pid FAKE_INIT_PID, exec processes
 * FAKE_EXEC_PID; exec id "nope" is NOT_FOUND everywhere. fake_shim_script writes a shell
 * script that plays the shim binary: `start` prints the fake's address, `delete` nothing.
 */
#ifndef BERTH_TEST_FAKE_SHIM_H
#define BERTH_TEST_FAKE_SHIM_H

#include "tests/unit/helpers/berth_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/runtime/task/v2/shim.pb-c.h"
#include "api/timestamp.h"
#include "lib/util.h"
#include "runtime/v2/runtime.h"
#include "ttrpc/server.h"

#define FAKE_INIT_PID    4242
#define FAKE_EXEC_PID    4243
#define FAKE_EXIT_NS     5000000000LL
#define FAKE_STATS_TYPE  "io.containerd.cgroups.v1.Metrics"
#define FAKE_DETAIL_TYPE "containerd.runc.v1.ProcessDetails"

struct fake_shim {
    char *dir;  /* borrowed: the test's temp dir */
    char *addr; /* unix://<dir>/fake.sock */
    int listen_fd, stop_fd;
    struct berth_ttrpc_server *srv;
    pthread_t thread;
    pthread_mutex_t lock; /* guards what follows */
    int calls;
    char method[32];
    struct berth_bytes last; /* the last request, packed */
};

/* The last call's request, unpacked with desc (caller frees); fails the test unless method
 * was the last call. */
static inline ProtobufCMessage *fake_last(struct fake_shim *f, const char *method,
                                          const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m;

    pthread_mutex_lock(&f->lock);
    assert_string_equal(f->method, method);
    m = protobuf_c_message_unpack(desc, NULL, f->last.len, f->last.data);
    pthread_mutex_unlock(&f->lock);
    assert_non_null(m);
    return m;
}

static inline int fake_calls(struct fake_shim *f)
{
    int n;
    pthread_mutex_lock(&f->lock);
    n = f->calls;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static inline void fake_record(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in)
{
    struct fake_shim *f = ctx->app;

    pthread_mutex_lock(&f->lock);
    f->calls++;
    snprintf(f->method, sizeof(f->method), "%s", ctx->method);
    berth_bytes_clear(&f->last);
    berth_ttrpc_pack(&f->last, in);
    pthread_mutex_unlock(&f->lock);
}

/* The exec id field of the task.v2 requests that have one (field 2 in each). */
static inline const char *fake_exec_id(const ProtobufCMessage *in)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(in->descriptor, "exec_id");
    return fd ? *(const char *const *)((const char *)in + fd->offset) : "";
}

static inline int fake_handle(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *in,
                              struct berth_bytes *out, struct berth_err **err)
{
    const char *exec_id = fake_exec_id(in);
    const char *m = ctx->method;
    bool exec = exec_id && *exec_id;

    fake_record(ctx, in);
    if (exec_id && strcmp(exec_id, "nope") == 0)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "process \"nope\" not found");
    if (strcmp(m, "Connect") == 0) {
        Containerd__Task__V2__ConnectResponse r = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
        r.shim_pid = 1;
        r.task_pid = FAKE_INIT_PID;
        berth_ttrpc_pack(out, &r.base);
    } else if (strcmp(m, "State") == 0) {
        Containerd__Task__V2__StateResponse r = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
        r.pid = exec ? FAKE_EXEC_PID : FAKE_INIT_PID;
        r.status = CONTAINERD__V1__TYPES__STATUS__RUNNING;
        berth_ttrpc_pack(out, &r.base);
    } else if (strcmp(m, "Create") == 0) {
        Containerd__Task__V2__CreateTaskResponse r =
            CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
        r.pid = FAKE_INIT_PID;
        berth_ttrpc_pack(out, &r.base);
    } else if (strcmp(m, "Start") == 0) {
        Containerd__Task__V2__StartResponse r = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
        r.pid = exec ? FAKE_EXEC_PID : FAKE_INIT_PID;
        berth_ttrpc_pack(out, &r.base);
    } else if (strcmp(m, "Delete") == 0) {
        Containerd__Task__V2__DeleteResponse r = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
        Google__Protobuf__Timestamp ts;
        r.pid = exec ? FAKE_EXEC_PID : FAKE_INIT_PID;
        r.exit_status = exec ? 3 : 0;
        r.exited_at = berth_pb_ts_set(&ts, FAKE_EXIT_NS);
        berth_ttrpc_pack(out, &r.base);
    } else if (strcmp(m, "Pids") == 0) {
        Containerd__Task__V2__PidsResponse r = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
        Containerd__V1__Types__ProcessInfo p[2], *pp[2] = {&p[0], &p[1]};
        Google__Protobuf__Any info = GOOGLE__PROTOBUF__ANY__INIT;
        containerd__v1__types__process_info__init(&p[0]);
        containerd__v1__types__process_info__init(&p[1]);
        p[0].pid = FAKE_INIT_PID;
        p[1].pid = FAKE_EXEC_PID;
        info.type_url = FAKE_DETAIL_TYPE;
        info.value.data = (uint8_t *)"\x0a\x02"
                                     "e1"; /* exec_id "e1" */
        info.value.len = 4;
        p[1].info = &info;
        r.processes = pp;
        r.n_processes = 2;
        berth_ttrpc_pack(out, &r.base);
    } else if (strcmp(m, "Stats") == 0) {
        Containerd__Task__V2__StatsResponse r = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
        Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT;
        a.type_url = FAKE_STATS_TYPE;
        a.value.data = (uint8_t *)"stats";
        a.value.len = 5;
        r.stats = &a;
        berth_ttrpc_pack(out, &r.base);
    }
    /* the rest answer Empty */
    return 0;
}

#define FAKE_METHOD(name, req)                                                                     \
    {                                                                                              \
        name, &containerd__task__v2__##req##__descriptor, fake_handle                              \
    }
static const struct berth_ttrpc_method fake_methods[] = {
    FAKE_METHOD("Connect", connect_request),    FAKE_METHOD("State", state_request),
    FAKE_METHOD("Create", create_task_request), FAKE_METHOD("Start", start_request),
    FAKE_METHOD("Delete", delete_request),      FAKE_METHOD("Kill", kill_request),
    FAKE_METHOD("Exec", exec_process_request),  FAKE_METHOD("Pause", pause_request),
    FAKE_METHOD("Resume", resume_request),      FAKE_METHOD("ResizePty", resize_pty_request),
    FAKE_METHOD("CloseIO", close_iorequest),    FAKE_METHOD("Update", update_task_request),
    FAKE_METHOD("Pids", pids_request),          FAKE_METHOD("Stats", stats_request),
    FAKE_METHOD("Shutdown", shutdown_request),
};
static const struct berth_ttrpc_service fake_svc = {BERTH_RT_TASK_SERVICE, fake_methods,
                                                    BERTH_N(fake_methods)};
static const struct berth_ttrpc_service *const fake_svcs[] = {&fake_svc};

static inline void *fake_serve_main(void *arg)
{
    struct fake_shim *f = arg;
    struct berth_err *err = NULL;

    if (berth_ttrpc_server_serve(f->srv, f->listen_fd, f->stop_fd, &err) < 0)
        berth_err_free(&err);
    return NULL;
}

/* Starts the fake on <dir>/fake.sock. */
static inline void fake_shim_start(struct fake_shim *f, char *dir)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/fake.sock", dir);
    struct berth_err *err = NULL;

    /* As berthd does: the runtime writes the shim's options to its stdin, and a shim script
     * that exits without reading them must not kill the test with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    memset(f, 0, sizeof(*f));
    f->dir = dir;
    f->addr = berth_strdup_printf("unix://%s", path);
    pthread_mutex_init(&f->lock, NULL);
    assert_ok(berth_ttrpc_server_listen(path, &f->listen_fd, &err), &err);
    f->stop_fd = eventfd(0, EFD_CLOEXEC);
    f->srv = berth_ttrpc_server_new(fake_svcs, BERTH_N(fake_svcs), f);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_serve_main, f), 0);
}

static inline void fake_shim_stop(struct fake_shim *f)
{
    uint64_t one = 1;

    assert_int_equal(write(f->stop_fd, &one, sizeof(one)), sizeof(one));
    pthread_join(f->thread, NULL);
    berth_ttrpc_server_free(f->srv);
    close(f->listen_fd);
    close(f->stop_fd);
    berth_bytes_clear(&f->last);
    pthread_mutex_destroy(&f->lock);
    free(f->addr);
}

/* Writes <dir>/fake-shim, a shim binary whose `start` prints the fake's address; returns its
 * path (caller frees). */
static inline char *fake_shim_script(struct fake_shim *f)
{
    char *path = berth_strdup_printf("%s/fake-shim", f->dir);
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\nfor a; do last=$a; done\n[ \"$last\" = start ] && echo %s\nexit 0\n",
            f->addr);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, 0755), 0);
    return path;
}

#endif
