/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/tasks/service.c without a runtime: what Create refuses before it would
 * hand anything to a shim. */
#include "tests/unit/helpers/svc_invoke.h"

#include <string.h>

#include "api/services/containers/v1/containers.pb-c.h"
#include "api/services/tasks/v1/tasks.pb-c.h"
#include "lib/util.h"

#define T_CREATE  "/containerd.services.tasks.v1.Tasks/Create"
#define RUNC_OPTS "containerd.runc.v1.Options"

/* containerd.runc.v1.Options{binary_name (6) or root (7): the len bytes of s}, hand-encoded:
 * protobuf-c would stop at a NUL byte. */
static Google__Protobuf__Any runc_opts(uint8_t *buf, unsigned field, const char *s, size_t len)
{
    Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT;

    assert_true(len < 128);
    buf[0] = (uint8_t)(field << 3 | 2);
    buf[1] = (uint8_t)len;
    memcpy(buf + 2, s, len);
    a.type_url = RUNC_OPTS;
    a.value.data = buf;
    a.value.len = len + 2;
    return a;
}

static void create_container(struct meta_env *env, const char *id, Google__Protobuf__Any *opts)
{
    struct svc_container_req b;
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;

    svc_container_req_init(&b, id);
    b.rt.options = opts;
    assert_ok(svc_invoke(env, "/containerd.services.containers.v1.Containers/Create", "default",
                         &b.req.base, &out, &err),
              &err);
    berth_bytes_clear(&out);
}

static int task_create(struct meta_env *env, const char *id, Google__Protobuf__Any *opts,
                       struct berth_err **err)
{
    Containerd__Services__Tasks__V1__CreateTaskRequest req =
        CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_REQUEST__INIT;
    struct berth_bytes out = {0};
    int ret;

    req.container_id = (char *)id;
    req.options = opts;
    ret = svc_invoke(env, T_CREATE, "default", &req.base, &out, err);
    berth_bytes_clear(&out);
    return ret;
}

/* Asserts INVALID_ARGUMENT whose message holds each of the NULL-terminated words. */
static void assert_invalid(struct berth_err **err, const char *const *words)
{
    assert_non_null(*err);
    for (; *words; words++)
        if (!strstr((*err)->msg, *words))
            fail_msg("\"%s\" not in \"%s\"", *words, (*err)->msg);
    assert_err_code(*err, BERTH_E_INVALID_ARGUMENT);
}

static void test_tasks_create_refuses_a_nul_or_bad_utf8_in_task_options(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    uint8_t buf[64];
    Google__Protobuf__Any a;

    create_container(env, "c1", NULL);
    /* Before: "ru\0nc" reached the shim, which would have run "ru". */
    a = runc_opts(buf, 6, "ru\0nc", 5);
    assert_int_equal(task_create(env, "c1", &a, &err), -1);
    assert_invalid(&err, (const char *[]){"task options", RUNC_OPTS, "binary_name", "NUL", NULL});
    a = runc_opts(buf, 7, "/run/\xff", 6);
    a.type_url = "type.googleapis.com/" RUNC_OPTS;
    assert_int_equal(task_create(env, "c1", &a, &err), -1);
    assert_invalid(&err, (const char *[]){"root", "UTF-8", NULL});
    a = runc_opts(buf, 6, "runc", 4);
    a.value.len = 3; /* cut inside the string */
    assert_int_equal(task_create(env, "c1", &a, &err), -1);
    assert_invalid(&err, (const char *[]){"task options", "malformed", NULL});

    /* Sound options, and bytes of a type the registry does not know (another runtime's),
     * pass the check and meet the missing runtime. */
    a = runc_opts(buf, 6, "crun", 4);
    assert_int_equal(task_create(env, "c1", &a, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    a = runc_opts(buf, 6, "ru\0nc", 5);
    a.type_url = "example.com/other.runtime.Options";
    assert_int_equal(task_create(env, "c1", &a, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
}

static void test_tasks_create_refuses_bad_runtime_options_of_the_container(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    uint8_t buf[64], buf2[64];
    Google__Protobuf__Any bad = runc_opts(buf, 7, "/run/x\0y", 8), good;

    /* Containers.Create keeps runtime options as they came, as containerd does. */
    create_container(env, "c2", &bad);
    assert_int_equal(task_create(env, "c2", NULL, &err), -1);
    assert_invalid(&err, (const char *[]){"container \"c2\"", "runtime options", "root", NULL});
    /* Task options replace the container's: those are what the shim gets. */
    good = runc_opts(buf2, 6, "runc", 4);
    assert_int_equal(task_create(env, "c2", &good, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tasks_create_refuses_a_nul_or_bad_utf8_in_task_options,
                                        meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(
            test_tasks_create_refuses_bad_runtime_options_of_the_container, meta_setup,
            meta_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
