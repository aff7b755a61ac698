/* SPDX-License-Identifier: Apache-2.0 */
/* berthctl tasks: ls, start, kill, exec, ps, pause, resume, metrics, rm, attach (ctr tasks). */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "api/services/tasks/v1/tasks.pb-c.h"
#include "cmd/berthctl/berthctl-internal.h"
#include "cmd/berthctl/run-internal.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/oci/spec.h"

#define T_SVC "/containerd.services.tasks.v1.Tasks/"

static const char *status_name(int s)
{
    static const char *const names[] = {"UNKNOWN", "CREATED", "RUNNING",
                                        "STOPPED", "PAUSED",  "PAUSING"};
    return s >= 0 && s < (int)BERTH_N(names) ? names[s] : "UNKNOWN";
}

static int tasks_ls(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    Containerd__Services__Tasks__V1__ListTasksRequest req =
        CONTAINERD__SERVICES__TASKS__V1__LIST_TASKS_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *msg = NULL;
    _cleanup_(berthctl_table_freep) struct berthctl_table *t = NULL;
    static const char *const header[] = {"TASK", "PID", "STATUS", "EXIT"};
    Containerd__Services__Tasks__V1__ListTasksResponse *resp;

    (void)argc;
    (void)argv;
    if (berth_client_unary(ctl->client, T_SVC "List", &req.base,
                           &containerd__services__tasks__v1__list_tasks_response__descriptor, &msg,
                           err) < 0)
        return -1;
    resp = (void *)msg;
    t = berthctl_table_new(4, header);
    for (size_t i = 0; i < resp->n_tasks; i++) {
        Containerd__V1__Types__Process *p = resp->tasks[i];
        char pid[16], ex[16] = "";
        snprintf(pid, sizeof(pid), "%u", p->pid);
        if (p->status == CONTAINERD__V1__TYPES__STATUS__STOPPED)
            snprintf(ex, sizeof(ex), "%u", p->exit_status);
        const char *cells[] = {p->id, pid, status_name(p->status), ex};
        berthctl_table_add(t, cells);
    }
    berthctl_table_print(t, ctl->out);
    return 0;
}

static int tasks_start(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    bool detach = argc > 2 && strcmp(argv[1], "-d") == 0;
    const char *id = argc > 1 ? argv[argc - 1] : NULL;
    struct berthctl_io io;
    uint32_t status = 0;
    int ret;

    if (!id || argc > 3)
        return berthctl_usage(ctl, err, "start needs [-d] ID");
    if (detach)
        return berthctl_task_create(ctl, id, NULL, err) < 0
                   ? -1
                   : berthctl_task_start(ctl, id, NULL, err);
    berthctl_io_init(&io);
    if (berthctl_io_create(&io, id, false, err) < 0 ||
        berthctl_task_create(ctl, id, &io, err) < 0) {
        berthctl_io_clear(&io);
        return -1;
    }
    ret = berthctl_task_attach_run(ctl, id, NULL, &io, &status, err);
    berthctl_io_clear(&io);
    if (ret == 0) {
        _cleanup_err_ struct berth_err *e = NULL;
        berthctl_task_delete(ctl, id, &e);
        ctl->exit_code = (int)status;
    }
    return ret;
}

static int parse_signal(const char *s, uint32_t *out)
{
    char *end;
    long v;

    if (berth_str_has_prefix(s, "SIG"))
        s += 3;
    v = strtol(s, &end, 10);
    if (*s && !*end) {
        *out = (uint32_t)v;
        return 0;
    }
    for (int i = 1; i < 65; i++) {
        const char *n = sigabbrev_np(i);
        if (n && strcmp(n, s) == 0) {
            *out = (uint32_t)i;
            return 0;
        }
    }
    return -1;
}

static int tasks_kill(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{"signal", required_argument, NULL, 's'},
                                         {"all", no_argument, NULL, 'a'},
                                         {"exec-id", required_argument, NULL, 'e'},
                                         {0}};
    Containerd__Services__Tasks__V1__KillRequest req =
        CONTAINERD__SERVICES__TASKS__V1__KILL_REQUEST__INIT;
    int c;

    req.signal = SIGTERM;
    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:s:ae:", opts, NULL)) != -1) {
        if (c == 's') {
            if (parse_signal(optarg, &req.signal) < 0)
                return berthctl_usage(ctl, err, "invalid signal \"%s\"", optarg);
        } else if (c == 'a') {
            req.all = true;
        } else if (c == 'e') {
            req.exec_id = optarg;
        } else {
            return berthctl_bad_option(ctl, c, argv, err);
        }
    }
    if (argc - optind != 1)
        return berthctl_usage(ctl, err, "kill needs ID");
    req.container_id = argv[optind];
    return berthctl_task_simple(ctl, "Kill", &req.base, err);
}

static int tasks_exec(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{"exec-id", required_argument, NULL, 'e'},
                                         {"tty", no_argument, NULL, 't'},
                                         {"detach", no_argument, NULL, 'd'},
                                         {0}};
    Containerd__Services__Tasks__V1__ExecProcessRequest req =
        CONTAINERD__SERVICES__TASKS__V1__EXEC_PROCESS_REQUEST__INIT;
    Containerd__Services__Tasks__V1__DeleteProcessRequest dreq =
        CONTAINERD__SERVICES__TASKS__V1__DELETE_PROCESS_REQUEST__INIT;
    Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *dresp = NULL;
    struct berthctl_io io;
    const char *exec_id = NULL;
    bool tty = false, detach = false;
    _cleanup_free_ char *json = NULL;
    json_t *proc, *args;
    uint32_t status = 0;
    unsigned w, h;
    int c, ret;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:e:td", opts, NULL)) != -1) {
        if (c == 'e')
            exec_id = optarg;
        else if (c == 't')
            tty = true;
        else if (c == 'd')
            detach = true;
        else
            return berthctl_bad_option(ctl, c, argv, err);
    }
    if (argc - optind < 2 || !exec_id)
        return berthctl_usage(ctl, err, "exec needs --exec-id E ID CMD...");
    /* As ctr exec: the container's own process (user, env, cwd, capabilities, ...) with new
     * args, and for a terminal its size from the start. */
    proc = berthctl_container_process(ctl, argv[optind], err);
    if (!proc)
        return -1;
    args = json_array();
    for (int i = optind + 1; i < argc; i++)
        json_array_append_new(args, json_string(argv[i]));
    json_object_set_new(proc, "args", args);
    json_object_set_new(proc, "terminal", json_boolean(tty));
    json_object_del(proc, "consoleSize");
    if (tty && berthctl_term_size(&w, &h))
        json_object_set_new(
            proc, "consoleSize",
            json_pack("{s:I,s:I}", "height", (json_int_t)h, "width", (json_int_t)w));
    json = json_dumps(proc, JSON_COMPACT);
    json_decref(proc);
    spec.type_url = (char *)"types.containerd.io/opencontainers/runtime-spec/1/Process";
    spec.value.data = (uint8_t *)json;
    spec.value.len = strlen(json);
    req.container_id = argv[optind];
    req.exec_id = (char *)exec_id;
    req.terminal = tty;
    req.spec = &spec;
    berthctl_io_init(&io);
    if (!detach) {
        if (berthctl_io_create(&io, exec_id, tty, err) < 0) {
            berthctl_io_clear(&io);
            return -1;
        }
        req.stdin = io.stdin_path;
        req.stdout = io.stdout_path;
        req.stderr = io.stderr_path;
    }
    if (berthctl_task_simple(ctl, "Exec", &req.base, err) < 0) {
        berthctl_io_clear(&io);
        return -1;
    }
    if (detach)
        return berthctl_task_start(ctl, req.container_id, exec_id, err);
    ret = berthctl_task_attach_run(ctl, req.container_id, exec_id, &io, &status, err);
    berthctl_io_clear(&io);
    if (ret < 0)
        return -1;
    dreq.container_id = req.container_id;
    dreq.exec_id = (char *)exec_id;
    {
        _cleanup_err_ struct berth_err *e = NULL;
        berth_client_unary(ctl->client, T_SVC "DeleteProcess", &dreq.base,
                           &containerd__services__tasks__v1__delete_response__descriptor, &dresp,
                           &e);
    }
    ctl->exit_code = (int)status;
    return 0;
}

static int tasks_ps(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    Containerd__Services__Tasks__V1__ListPidsRequest req =
        CONTAINERD__SERVICES__TASKS__V1__LIST_PIDS_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *msg = NULL;
    _cleanup_(berthctl_table_freep) struct berthctl_table *t = NULL;
    static const char *const header[] = {"PID", "INFO"};
    Containerd__Services__Tasks__V1__ListPidsResponse *resp;

    if (argc != 2)
        return berthctl_usage(ctl, err, "ps needs ID");
    req.container_id = argv[1];
    if (berth_client_unary(ctl->client, T_SVC "ListPids", &req.base,
                           &containerd__services__tasks__v1__list_pids_response__descriptor, &msg,
                           err) < 0)
        return -1;
    resp = (void *)msg;
    t = berthctl_table_new(2, header);
    for (size_t i = 0; i < resp->n_processes; i++) {
        char pid[16];
        snprintf(pid, sizeof(pid), "%u", resp->processes[i]->pid);
        const char *cells[] = {pid, "-"};
        berthctl_table_add(t, cells);
    }
    berthctl_table_print(t, ctl->out);
    return 0;
}

static int tasks_pause(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    Containerd__Services__Tasks__V1__PauseTaskRequest req =
        CONTAINERD__SERVICES__TASKS__V1__PAUSE_TASK_REQUEST__INIT;
    if (argc != 2)
        return berthctl_usage(ctl, err, "pause needs ID");
    req.container_id = argv[1];
    return berthctl_task_simple(ctl, "Pause", &req.base, err);
}

static int tasks_resume(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    Containerd__Services__Tasks__V1__ResumeTaskRequest req =
        CONTAINERD__SERVICES__TASKS__V1__RESUME_TASK_REQUEST__INIT;
    if (argc != 2)
        return berthctl_usage(ctl, err, "resume needs ID");
    req.container_id = argv[1];
    return berthctl_task_simple(ctl, "Resume", &req.base, err);
}

static int tasks_metrics(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    Containerd__Services__Tasks__V1__MetricsRequest req =
        CONTAINERD__SERVICES__TASKS__V1__METRICS_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *msg = NULL;
    _cleanup_free_ char *filter = NULL;
    struct berthctl_json j;

    if (argc != 2)
        return berthctl_usage(ctl, err, "metrics needs ID");
    filter = berth_strdup_printf("id==%s", argv[1]);
    req.filters = &filter;
    req.n_filters = 1;
    if (berth_client_unary(ctl->client, T_SVC "Metrics", &req.base,
                           &containerd__services__tasks__v1__metrics_response__descriptor, &msg,
                           err) < 0)
        return -1;
    if (((Containerd__Services__Tasks__V1__MetricsResponse *)msg)->n_metrics == 0)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "no metrics for task \"%s\"", argv[1]);
    berthctl_json_init(&j, ctl->out);
    berthctl_json_pb(&j, msg);
    berthctl_json_end(&j);
    return 0;
}

/* The task's init process as Tasks.Get reports it; *msg owns it. NULL with *err. */
static Containerd__V1__Types__Process *task_process(struct berthctl *ctl, const char *id,
                                                    ProtobufCMessage **msg, struct berth_err **err)
{
    Containerd__Services__Tasks__V1__GetRequest req =
        CONTAINERD__SERVICES__TASKS__V1__GET_REQUEST__INIT;
    Containerd__V1__Types__Process *p;

    req.container_id = (char *)id;
    if (berth_client_unary(ctl->client, T_SVC "Get", &req.base,
                           &containerd__services__tasks__v1__get_response__descriptor, msg,
                           err) < 0)
        return NULL;
    p = ((Containerd__Services__Tasks__V1__GetResponse *)*msg)->process;
    if (!p)
        berth_err_set(err, BERTH_E_INTERNAL, 0, "server returned no process for \"%s\"", id);
    return p;
}

/* Removes a FIFO berthctl made (/run/berth/fifo/<dir>/<name>, nothing else) and its dir once
 * empty: what a `run -d` leaves for the task's end, as ctr's t rm closes its FIFO set. */
static void remove_own_fifo(const char *path)
{
    static const char root[] = BERTHCTL_FIFO_ROOT "/";
    _cleanup_free_ char *dir = NULL;
    const char *rest, *slash;

    if (!path || strncmp(path, root, sizeof(root) - 1) != 0)
        return;
    rest = path + sizeof(root) - 1;
    slash = strchr(rest, '/');
    if (!slash || slash == rest || strchr(slash + 1, '/') || strstr(rest, ".."))
        return;
    unlink(path);
    dir = berth_xstrndup(path, (size_t)(slash - path));
    rmdir(dir);
}

static int tasks_rm(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    bool force = argc == 3 && strcmp(argv[1], "-f") == 0;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *msg = NULL;
    _cleanup_err_ struct berth_err *gerr = NULL;
    Containerd__V1__Types__Process *p;

    if (argc != 2 && !force)
        return berthctl_usage(ctl, err, "rm needs [-f] ID");
    p = task_process(ctl, argv[argc - 1], &msg, &gerr);
    if (force) {
        Containerd__Services__Tasks__V1__KillRequest k =
            CONTAINERD__SERVICES__TASKS__V1__KILL_REQUEST__INIT;
        _cleanup_err_ struct berth_err *e = NULL;
        uint32_t st;
        k.container_id = argv[2];
        k.signal = SIGKILL;
        k.all = true;
        if (berthctl_task_simple(ctl, "Kill", &k.base, &e) == 0)
            berthctl_task_wait(ctl, argv[2], NULL, &st, &e);
    }
    if (berthctl_task_delete(ctl, argv[argc - 1], err) < 0)
        return -1;
    if (p) {
        remove_own_fifo(p->stdin);
        remove_own_fifo(p->stdout);
        remove_own_fifo(p->stderr);
    }
    return 0;
}

struct attach_eof {
    struct berthctl *ctl;
    const char *id;
};

/* Our stdin ended: close the process's stdin in the shim (a detached task's stdin FIFO has
 * another writer, so closing ours is not an EOF there). */
static void attach_stdin_eof(void *arg)
{
    struct attach_eof *a = arg;
    Containerd__Services__Tasks__V1__CloseIORequest req =
        CONTAINERD__SERVICES__TASKS__V1__CLOSE_IOREQUEST__INIT;
    _cleanup_err_ struct berth_err *e = NULL;

    req.container_id = (char *)a->id;
    req.stdin = true;
    berthctl_task_simple(a->ctl, "CloseIO", &req.base, &e);
}

/* Connects to the stdio FIFOs the task was created with (Tasks.Get, as ctr t attach does),
 * copies until the task exits and exits with its status. */
static int tasks_attach(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *msg = NULL;
    struct attach_eof eof;
    Containerd__V1__Types__Process *p;
    struct berthctl_io io;
    uint32_t status = 0;
    int ret;

    if (argc != 2)
        return berthctl_usage(ctl, err, "attach needs ID");
    p = task_process(ctl, argv[1], &msg, err);
    if (!p)
        return -1;
    if (p->status == CONTAINERD__V1__TYPES__STATUS__STOPPED)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "task \"%s\" has exited",
                             argv[1]);
    if (!*p->stdin && !*p->stdout && !*p->stderr)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "task \"%s\" has no stdio fifos to attach to", argv[1]);
    berthctl_io_init(&io);
    if (berthctl_io_open(&io, p->stdin, p->stdout, p->stderr, p->terminal, err) < 0) {
        berthctl_io_forget(&io);
        return -1;
    }
    eof.ctl = ctl;
    eof.id = argv[1];
    io.on_stdin_eof = attach_stdin_eof;
    io.on_stdin_eof_arg = &eof;
    if (io.tty) {
        berthctl_term_raw();
        berthctl_resize(ctl, argv[1], NULL);
    }
    berthctl_signals_follow(ctl, argv[1], NULL, io.tty);
    berthctl_io_start(&io);
    ret = berthctl_task_wait(ctl, argv[1], NULL, &status, err);
    berthctl_signals_follow(NULL, NULL, NULL, false);
    berthctl_io_finish(&io);
    berthctl_term_restore();
    /* The stdin thread may still be blocked reading our stdin: leave its descriptor to it. */
    io.on_stdin_eof = NULL;
    if (!io.stdin_eof)
        io.in_fd = -1;
    berthctl_io_forget(&io);
    if (ret == 0)
        ctl->exit_code = (int)status;
    return ret;
}

static int tasks_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct berthctl_verb verbs[] = {
        {"ls", "list", tasks_ls},       {"start", NULL, tasks_start},
        {"kill", NULL, tasks_kill},     {"exec", NULL, tasks_exec},
        {"ps", NULL, tasks_ps},         {"pause", NULL, tasks_pause},
        {"resume", NULL, tasks_resume}, {"metrics", "metric", tasks_metrics},
        {"rm", "delete", tasks_rm},     {"attach", NULL, tasks_attach},
    };
    return berthctl_dispatch(ctl, verbs, BERTH_N(verbs), argc - 1, argv + 1, err);
}

const struct berthctl_noun berthctl_tasks_noun = {
    "tasks", "t", "manage tasks (running processes of containers)",
    "berthctl tasks ls\n"
    "berthctl tasks start [-d] ID\n"
    "berthctl tasks kill [-s SIG] [-a] [--exec-id E] ID\n"
    "berthctl tasks exec --exec-id E [-t] [-d] ID CMD...\n"
    "berthctl tasks ps|pause|resume|metrics ID\n"
    "berthctl tasks rm [-f] ID\n"
    "berthctl tasks attach ID   (connect to the task's stdio FIFOs until it exits; exit code =\n"
    "                            its status; stdin EOF closes the task's stdin)\n",
    tasks_run};
