/* SPDX-License-Identifier: Apache-2.0 */
/* berth-shim-call: drives a shim's containerd.task.v2.Task API over ttrpc without berthd, for
 * tests/integration/shim.bats. Usage:
 *   berth-shim-call ADDRESS NS COMMAND ID [ARGS] [--exec E] [--stdin P] [--stdout P]
 *                   [--stderr P] [--terminal] [--all] [--rootfs-bind DIR] [--spec FILE]
 *                   [--annotation KEY=VALUE] [--resources FILE]
 * COMMAND: create BUNDLE | start | wait | state | kill SIG | delete | exec | pids | pause |
 * resume | connect | shutdown | closeio | update (resources JSON and/or one annotation). Prints the
 * interesting answer fields; exits 1 with "error: <class>: <message>" on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/runtime/task/v2/shim.pb-c.h"
#include "lib/util.h"
#include "ttrpc/client.h"

#define SVC "containerd.task.v2.Task"

static struct {
    const char *exec, *in, *out, *errp, *bind, *spec, *annotation, *resources;
    bool terminal, all;
} o = {.exec = "", .in = "", .out = "", .errp = ""};

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = berth_xmalloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static int call(struct berth_ttrpc_client *c, const char *ns, const char *method,
                const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd,
                ProtobufCMessage **resp)
{
    struct berth_err *err = NULL;

    if (berth_ttrpc_client_call(c, SVC, method, req, rd, resp, 60000, ns, &err) < 0) {
        printf("error: %s: %s\n", berth_errc_name(err->code), err->msg);
        berth_err_free(&err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct berth_ttrpc_client *c = NULL;
    struct berth_err *err = NULL;
    ProtobufCMessage *resp = NULL;
    const char *pos[6] = {0};
    int npos = 0, rc = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define OPT(name, field)                                                                           \
    if (strcmp(a, name) == 0 && i + 1 < argc) {                                                    \
        o.field = argv[++i];                                                                       \
        continue;                                                                                  \
    }
        OPT("--exec", exec)
        OPT("--stdin", in)
        OPT("--stdout", out)
        OPT("--stderr", errp)
        OPT("--rootfs-bind", bind)
        OPT("--spec", spec)
        OPT("--annotation", annotation)
        OPT("--resources", resources)
        if (strcmp(a, "--terminal") == 0) {
            o.terminal = true;
            continue;
        }
        if (strcmp(a, "--all") == 0) {
            o.all = true;
            continue;
        }
        if (npos < 6)
            pos[npos++] = a;
    }
    if (npos < 4) {
        fprintf(stderr, "usage: berth-shim-call ADDRESS NS COMMAND ID [ARG] [options]\n");
        return 2;
    }
    {
        const char *addr = pos[0], *ns = pos[1], *cmd = pos[2], *id = pos[3];
        const char *arg = npos > 4 ? pos[4] : NULL;
        if (berth_ttrpc_client_dial(addr, 5000, &c, &err) < 0) {
            printf("error: %s: %s\n", berth_errc_name(err->code), err->msg);
            return 1;
        }
        if (!strcmp(cmd, "create")) {
            Containerd__Task__V2__CreateTaskRequest r =
                CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
            Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT, *mp = &m;
            char *opts[] = {"rbind", "rw"};
            r.id = (char *)id;
            r.bundle = (char *)(arg ? arg : "");
            r.stdin = (char *)o.in;
            r.stdout = (char *)o.out;
            r.stderr = (char *)o.errp;
            r.terminal = o.terminal;
            if (o.bind) {
                m.type = "bind";
                m.source = (char *)o.bind;
                m.options = opts;
                m.n_options = 2;
                r.rootfs = &mp;
                r.n_rootfs = 1;
            }
            rc = call(c, ns, "Create", &r.base,
                      &containerd__task__v2__create_task_response__descriptor, &resp);
            if (!rc)
                printf("%u\n", ((Containerd__Task__V2__CreateTaskResponse *)resp)->pid);
        } else if (!strcmp(cmd, "start")) {
            Containerd__Task__V2__StartRequest r = CONTAINERD__TASK__V2__START_REQUEST__INIT;
            r.id = (char *)id;
            r.exec_id = (char *)o.exec;
            rc = call(c, ns, "Start", &r.base, &containerd__task__v2__start_response__descriptor,
                      &resp);
            if (!rc)
                printf("%u\n", ((Containerd__Task__V2__StartResponse *)resp)->pid);
        } else if (!strcmp(cmd, "wait")) {
            Containerd__Task__V2__WaitRequest r = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
            r.id = (char *)id;
            r.exec_id = (char *)o.exec;
            rc = call(c, ns, "Wait", &r.base, &containerd__task__v2__wait_response__descriptor,
                      &resp);
            if (!rc)
                printf("%u\n", ((Containerd__Task__V2__WaitResponse *)resp)->exit_status);
        } else if (!strcmp(cmd, "state")) {
            Containerd__Task__V2__StateRequest r = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
            Containerd__Task__V2__StateResponse *s;
            r.id = (char *)id;
            r.exec_id = (char *)o.exec;
            rc = call(c, ns, "State", &r.base, &containerd__task__v2__state_response__descriptor,
                      &resp);
            s = (void *)resp;
            if (!rc)
                printf("status=%d pid=%u exit=%u exited=%d\n", s->status, s->pid, s->exit_status,
                       s->exited_at != NULL);
        } else if (!strcmp(cmd, "kill")) {
            Containerd__Task__V2__KillRequest r = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
            r.id = (char *)id;
            r.exec_id = (char *)o.exec;
            r.signal = (uint32_t)atoi(arg ? arg : "15");
            r.all = o.all;
            rc = call(c, ns, "Kill", &r.base, NULL, &resp);
        } else if (!strcmp(cmd, "delete")) {
            Containerd__Task__V2__DeleteRequest r = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
            r.id = (char *)id;
            r.exec_id = (char *)o.exec;
            rc = call(c, ns, "Delete", &r.base, &containerd__task__v2__delete_response__descriptor,
                      &resp);
            if (!rc)
                printf("%u\n", ((Containerd__Task__V2__DeleteResponse *)resp)->exit_status);
        } else if (!strcmp(cmd, "exec")) {
            Containerd__Task__V2__ExecProcessRequest r =
                CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
            Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
            size_t len = 0;
            char *spec = o.spec ? read_file(o.spec, &len) : NULL;
            r.id = (char *)id;
            r.exec_id = (char *)o.exec;
            r.stdin = (char *)o.in;
            r.stdout = (char *)o.out;
            r.stderr = (char *)o.errp;
            r.terminal = o.terminal;
            any.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process";
            any.value.data = (uint8_t *)spec;
            any.value.len = len;
            r.spec = &any;
            rc = call(c, ns, "Exec", &r.base, NULL, &resp);
            free(spec);
        } else if (!strcmp(cmd, "pids")) {
            Containerd__Task__V2__PidsRequest r = CONTAINERD__TASK__V2__PIDS_REQUEST__INIT;
            Containerd__Task__V2__PidsResponse *p;
            r.id = (char *)id;
            rc = call(c, ns, "Pids", &r.base, &containerd__task__v2__pids_response__descriptor,
                      &resp);
            p = (void *)resp;
            for (size_t i = 0; !rc && i < p->n_processes; i++)
                printf("%u\n", p->processes[i]->pid);
        } else if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
            Containerd__Task__V2__PauseRequest r = CONTAINERD__TASK__V2__PAUSE_REQUEST__INIT;
            r.id = (char *)id; /* ResumeRequest has the same shape */
            rc = call(c, ns, !strcmp(cmd, "pause") ? "Pause" : "Resume", &r.base, NULL, &resp);
        } else if (!strcmp(cmd, "connect")) {
            Containerd__Task__V2__ConnectRequest r = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
            Containerd__Task__V2__ConnectResponse *cr;
            r.id = (char *)id;
            rc = call(c, ns, "Connect", &r.base,
                      &containerd__task__v2__connect_response__descriptor, &resp);
            cr = (void *)resp;
            if (!rc)
                printf("shim_pid=%u task_pid=%u\n", cr->shim_pid, cr->task_pid);
        } else if (!strcmp(cmd, "closeio")) {
            Containerd__Task__V2__CloseIORequest r = CONTAINERD__TASK__V2__CLOSE_IOREQUEST__INIT;
            r.id = (char *)id;
            r.exec_id = (char *)o.exec;
            r.stdin = true;
            rc = call(c, ns, "CloseIO", &r.base, NULL, &resp);
        } else if (!strcmp(cmd, "update")) {
            Containerd__Task__V2__UpdateTaskRequest r =
                CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;
            Containerd__Task__V2__UpdateTaskRequest__AnnotationsEntry
                a = CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__ANNOTATIONS_ENTRY__INIT,
                *ap = &a;
            Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
            char *key = o.annotation ? berth_xstrdup(o.annotation) : NULL, *eq;
            size_t len = 0;
            char *res = o.resources ? read_file(o.resources, &len) : NULL;
            r.id = (char *)id;
            if (key && (eq = strchr(key, '='))) {
                *eq = '\0';
                a.key = key;
                a.value = eq + 1;
                r.annotations = &ap;
                r.n_annotations = 1;
            }
            if (res) {
                any.type_url = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
                any.value.data = (uint8_t *)res;
                any.value.len = len;
                r.resources = &any;
            }
            rc = call(c, ns, "Update", &r.base, NULL, &resp);
            free(res);
            free(key);
        } else if (!strcmp(cmd, "shutdown")) {
            Containerd__Task__V2__ShutdownRequest r = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
            r.id = (char *)id;
            rc = call(c, ns, "Shutdown", &r.base, NULL, &resp);
        } else {
            fprintf(stderr, "unknown command \"%s\"\n", cmd);
            rc = 2;
        }
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    berth_ttrpc_client_close(c);
    return rc;
}
