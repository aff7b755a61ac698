/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/cri's pieces that need no daemon: ids, the name reservations, runtime
 * handlers, status checkpoints, cgroups paths, stop signals, label selectors and the config
 * encoding kept in record extensions. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/util.h"
#include "services/cri/cri-internal.h"
#include "services/cri/record.h"

static struct berth_services svc;

static struct berth_cri *new_cri(const char *dir)
{
    struct berth_cri_runtime rts[] = {
        {.name = "fast", .runtime_type = "io.containerd.runc.v2", .binary_name = "crun"},
    };
    struct berth_cri_opts o = {.root = dir,
                               .state = dir,
                               .bin_dir = dir,
                               .runtimes = rts,
                               .n_runtimes = 1,
                               .max_log_line = 16384};
    struct berth_cri *c = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_cri_new(&svc, &o, &c, &err), &err);
    return c;
}

static void test_ids_are_64_hex_and_differ(void **state)
{
    char a[65], b[65];

    (void)state;
    cri_new_id(a);
    cri_new_id(b);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(strspn(a, "0123456789abcdef"), 64);
    assert_string_not_equal(a, b);
}

static void test_names_are_reserved_once(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_cri *c = new_cri(env->dir);
    struct berth_err *err = NULL;

    assert_ok(cri_name_reserve(c, "web_ns_uid_0", "id1", &err), &err);
    assert_ok(cri_name_reserve(c, "web_ns_uid_0", "id1", &err), &err); /* same holder: fine */
    assert_int_equal(cri_name_reserve(c, "web_ns_uid_0", "id2", &err), -1);
    assert_non_null(strstr(err->msg, "\"id1\""));
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    cri_name_release(c, "web_ns_uid_0");
    assert_ok(cri_name_reserve(c, "web_ns_uid_0", "id2", &err), &err);
    berth_cri_free(c);
}

static void test_runtime_handlers(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_cri *c = new_cri(env->dir);
    const struct berth_cri_runtime *r;
    struct berth_err *err = NULL;

    assert_ok(cri_runtime_find(c, "", &r, &err), &err);
    assert_string_equal(r->name, "runc"); /* built in, the default */
    assert_null(r->runtime_type);
    assert_ok(cri_runtime_find(c, "fast", &r, &err), &err);
    assert_string_equal(r->runtime_type, "io.containerd.runc.v2");
    assert_string_equal(r->binary_name, "crun");
    assert_int_equal(cri_runtime_find(c, "nosuch", &r, &err), -1);
    assert_non_null(strstr(err->msg, "nosuch"));
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_cri_free(c);
}

static void test_unknown_default_handler_is_refused(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_cri_opts o = {.root = env->dir, .state = env->dir, .default_runtime = "gone"};
    struct berth_cri *c = NULL;
    struct berth_err *err = NULL;

    assert_int_equal(berth_cri_new(&svc, &o, &c, &err), -1);
    assert_null(c);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_status_checkpoint_round_trip(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_cri *c = new_cri(env->dir);
    struct cri_ctr_status st = {.pid = 42,
                                .created_ns = 1,
                                .started_ns = 2,
                                .finished_ns = 3,
                                .exit_code = 137,
                                .reason = "OOMKilled",
                                .message = "a \"quoted\" message"};
    struct cri_ctr_status got;
    struct berth_err *err = NULL;

    assert_ok(cri_ctr_status_save(c, "abc", &st, &err), &err);
    assert_ok(cri_ctr_status_load(c, "abc", &got, &err), &err);
    assert_int_equal(got.pid, 42);
    assert_int_equal(got.started_ns, 2);
    assert_int_equal(got.finished_ns, 3);
    assert_int_equal(got.exit_code, 137);
    assert_string_equal(got.reason, "OOMKilled");
    assert_string_equal(got.message, "a \"quoted\" message");
    assert_int_equal(cri_ctr_phase(&got), CTR_EXITED);
    assert_int_equal(cri_ctr_state(&got), RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED);
    cri_ctr_status_clear(&got);
    assert_int_equal(cri_ctr_status_load(c, "none", &got, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    {
        char *path =
            berth_strdup_printf("%s/io.containerd.grpc.v1.cri/containers/abc/status", env->dir);
        FILE *f = fopen(path, "w");
        fputs("{not json", f);
        fclose(f);
        free(path);
    }
    assert_int_equal(cri_ctr_status_load(c, "abc", &got, &err), -1);
    assert_err_code(err, BERTH_E_DATA_LOSS);
    berth_cri_free(c);
}

static void test_phases(void **state)
{
    struct cri_ctr_status st = {0};

    (void)state;
    st.created_ns = 1;
    assert_int_equal(cri_ctr_phase(&st), CTR_CREATED);
    st.started_ns = 2;
    assert_int_equal(cri_ctr_phase(&st), CTR_RUNNING);
    st.finished_ns = 3;
    assert_int_equal(cri_ctr_phase(&st), CTR_EXITED);
    st.unknown = true;
    assert_int_equal(cri_ctr_phase(&st), CTR_UNKNOWN);
}

static void test_cgroups_paths(void **state)
{
    char *p;

    (void)state;
    p = cri_cgroups_path(NULL, "id", false);
    assert_string_equal(p, "/k8s.io/id");
    free(p);
    p = cri_cgroups_path("/kubepods/besteffort/podu1", "id", false);
    assert_string_equal(p, "/kubepods/besteffort/podu1/id");
    free(p);
    p = cri_cgroups_path("kubepods-besteffort-podu1.slice", "id", true);
    assert_string_equal(p, "kubepods-besteffort-podu1.slice:cri-containerd:id");
    free(p);
}

static void test_stop_signals(void **state)
{
    (void)state;
    assert_int_equal(cri_signal_parse("SIGQUIT"), 3);
    assert_int_equal(cri_signal_parse("TERM"), 15);
    assert_int_equal(cri_signal_parse("sigint"), 2);
    assert_int_equal(cri_signal_parse("9"), 9);
    assert_int_equal(cri_signal_parse("65"), 0);
    assert_int_equal(cri_signal_parse("SIGNOPE"), 0);
    assert_int_equal(cri_signal_parse(""), 0);
    assert_int_equal(cri_signal_parse(NULL), 0);
}

static void test_label_selectors(void **state)
{
    Runtime__V1__PodSandboxConfig__LabelsEntry l1 =
        RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;
    Runtime__V1__PodSandboxConfig__LabelsEntry l2 =
        RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;
    Runtime__V1__PodSandboxFilter__LabelSelectorEntry s1 =
        RUNTIME__V1__POD_SANDBOX_FILTER__LABEL_SELECTOR_ENTRY__INIT;
    ProtobufCMessage *labels[] = {&l1.base, &l2.base}, *sel[] = {&s1.base};

    (void)state;
    l1.key = "app";
    l1.value = "web";
    l2.key = "tier";
    l2.value = "x";
    s1.key = "tier";
    s1.value = "x";
    assert_true(cri_labels_select(0, NULL, 2, labels));
    assert_true(cri_labels_select(1, sel, 2, labels));
    s1.value = "y";
    assert_false(cri_labels_select(1, sel, 2, labels));
    assert_false(cri_labels_select(1, sel, 0, NULL));
}

static void test_configs_survive_the_extension_encoding(void **state)
{
    Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
    Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    Runtime__V1__PodSandboxConfig *back;
    char *b64;

    (void)state;
    md.name = "web";
    md.namespace_ = "default";
    md.uid = "u1";
    md.attempt = 3;
    cfg.metadata = &md;
    cfg.hostname = "h";
    b64 = cri_msg_b64(&cfg.base);
    back = (void *)cri_msg_from_b64(&runtime__v1__pod_sandbox_config__descriptor, b64);
    assert_non_null(back);
    assert_string_equal(back->metadata->name, "web");
    assert_int_equal(back->metadata->attempt, 3);
    assert_string_equal(back->hostname, "h");
    protobuf_c_message_free_unpacked(&back->base, NULL);
    assert_null(cri_msg_from_b64(&runtime__v1__pod_sandbox_config__descriptor, "!!"));
    assert_null(cri_msg_from_b64(&runtime__v1__pod_sandbox_config__descriptor, NULL));
    free(b64);
}

/* PullImage refuses an "auth" that decodes to no user:password before pulling, and frees
 * what it decoded (the sanitizer build's LeakSanitizer fails this test on the leak). */
static void test_pull_refuses_auth_without_colon(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_cri *c = new_cri(env->dir);
    struct berth_svc_ctx ctx = {.method = "/runtime.v1.ImageService/PullImage", .app = &svc};
    Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
    Runtime__V1__AuthConfig auth = RUNTIME__V1__AUTH_CONFIG__INIT;
    Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
    const struct berth_method *m = NULL;
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;

    for (size_t i = 0; i < berth_svc_cri_image.n_methods; i++)
        if (strcmp(berth_svc_cri_image.methods[i].name, "PullImage") == 0)
            m = &berth_svc_cri_image.methods[i];
    assert_non_null(m);
    svc.cri = c;
    spec.image = "docker.io/library/busybox:1.36";
    auth.auth = "bm9jb2xvbg=="; /* "nocolon" */
    req.image = &spec;
    req.auth = &auth;
    assert_int_equal(m->unary(&ctx, &req.base, &out, &err), -1);
    assert_int_equal(err->code, BERTH_E_INVALID_ARGUMENT);
    assert_null(out.data);
    berth_err_free(&err);
    svc.cri = NULL;
    berth_cri_free(c);
}

/* A Device whose host path the daemon cannot resolve (a symlink loop) is the client's error,
 * not INTERNAL (fuzz_services found the same for an unreadable /proc directory: EACCES). */
static void test_device_path_errors_are_the_clients(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_cri *c = new_cri(env->dir);
    static const char *const files[] = {"hostname", "hosts", "resolv.conf"};
    Runtime__V1__PodSandboxMetadata pmd = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
    Runtime__V1__PodSandboxConfig pod = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
    Runtime__V1__ImageSpec image = RUNTIME__V1__IMAGE_SPEC__INIT;
    Runtime__V1__Device dev = RUNTIME__V1__DEVICE__INIT;
    Runtime__V1__Device *devs[] = {&dev};
    char *cmd[] = {"sh"};
    Runtime__V1__ContainerConfig cfg = RUNTIME__V1__CONTAINER_CONFIG__INIT;
    struct berth_image_config ic = {0};
    struct cri_image_info img = {.id = "sha256:00", .config = &ic};
    struct cri_sandbox *s = cri_sandbox_new();
    struct berth_err *err = NULL;
    char *root, *state_dir, *p, *loop, *cgroups = NULL;
    json_t *spec = NULL;

    pmd.name = "pod";
    pmd.namespace_ = "default";
    pmd.uid = "uid";
    pod.metadata = &pmd;
    s->id = berth_xstrdup("pod0");
    s->config = (Runtime__V1__PodSandboxConfig *)cri_msg_dup(&pod.base);
    s->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
    root = cri_sandbox_root(c, s->id);
    state_dir = cri_sandbox_state(c, s->id);
    assert_ok(berth_mkdir_p(root, 0700, 0700, &err), &err);
    for (size_t i = 0; i < BERTH_N(files); i++) {
        p = berth_strdup_printf("%s/%s", root, files[i]);
        assert_ok(berth_write_file_atomic(p, "", 0, 0644, &err), &err);
        free(p);
    }
    p = berth_strdup_printf("%s/shm", state_dir);
    assert_ok(berth_mkdir_p(p, 0700, 0700, &err), &err);
    free(p);
    loop = berth_strdup_printf("%s/loop", env->dir);
    assert_int_equal(symlink(loop, loop), 0);

    md.name = "c";
    image.image = "busybox";
    cfg.metadata = &md;
    cfg.image = &image;
    cfg.command = cmd;
    cfg.n_command = 1;
    dev.host_path = loop;
    dev.container_path = "/dev/x";
    cfg.devices = devs;
    cfg.n_devices = 1;
    assert_int_equal(
        cri_container_spec(c, s, "c0", &cfg, &img, &c->runtimes[0], &cgroups, &spec, &err), -1);
    assert_null(spec);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "loop"));
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    free(cgroups);
    free(loop);
    free(root);
    free(state_dir);
    cri_sandbox_put(c, s);
    berth_cri_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_are_64_hex_and_differ),
        cmocka_unit_test_setup_teardown(test_names_are_reserved_once, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_runtime_handlers, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_unknown_default_handler_is_refused,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_status_checkpoint_round_trip, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_cgroups_paths),
        cmocka_unit_test(test_stop_signals),
        cmocka_unit_test(test_label_selectors),
        cmocka_unit_test(test_configs_survive_the_extension_encoding),
        cmocka_unit_test_setup_teardown(test_pull_refuses_auth_without_colon,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_device_path_errors_are_the_clients,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
