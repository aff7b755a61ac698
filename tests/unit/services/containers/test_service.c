/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/containers/service.c through the real registry (no socket): listings with
 * a filter end with the call. */
#include "tests/unit/helpers/svc_invoke.h"

#include <string.h>

#include "api/services/containers/v1/containers.pb-c.h"
#include "lib/util.h"
#include "tests/unit/services/svc_deadline.h"

#define C_SVC "/containerd.services.containers.v1.Containers/"

typedef Containerd__Services__Containers__V1__ListContainersResponse list_resp_t;

static void create(struct meta_env *env, const char *id)
{
    Containerd__Services__Containers__V1__Container__LabelsEntry ent =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__LABELS_ENTRY__INIT;
    Containerd__Services__Containers__V1__Container__LabelsEntry *ents[] = {&ent};
    struct svc_container_req b;
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;

    svc_container_req_init(&b, id);
    ent.key = "k";
    ent.value = "v";
    b.c.labels = ents;
    b.c.n_labels = 1;
    assert_ok(svc_invoke(env, C_SVC "Create", "default", &b.req.base, &out, &err), &err);
    berth_bytes_clear(&out);
}

/* List with filter (NULL: none) and deadline; on success the number of containers. */
static int list(struct meta_env *env, const char *method, const char *filter, int64_t deadline,
                size_t *n, struct berth_err **err)
{
    Containerd__Services__Containers__V1__ListContainersRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
    struct berth_services app = {.db = env->db};
    char *filters[] = {(char *)filter};
    struct berth_bytes out = {0};
    list_resp_t *resp;

    if (filter) {
        req.filters = filters;
        req.n_filters = 1;
    }
    if (svc_call_deadline(&app, method, "default", &req.base, deadline, &out, err) < 0)
        return -1;
    if (n) {
        resp = containerd__services__containers__v1__list_containers_response__unpack(NULL, out.len,
                                                                                      out.data);
        assert_non_null(resp);
        *n = resp->n_containers;
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    berth_bytes_clear(&out);
    return 0;
}

static void test_containers_list_with_filter_ends_with_the_deadline(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    int64_t later = berth_mono_ns() + 60 * 1000000000LL;
    size_t n = 0;

    create(env, "c1");
    create(env, "c2");
    assert_ok(list(env, C_SVC "List", "labels.k~=^v$", later, &n, &err), &err);
    assert_int_equal(n, 2);
    /* Before: the expired call still listed (on the completion-queue thread, to the end). */
    assert_int_equal(list(env, C_SVC "List", "labels.k~=^v$", SVC_DEADLINE_PASSED, &n, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "deadline exceeded while listing containers"));
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);
    /* No filters parse to a match-all filter, which stops the same way. */
    assert_int_equal(list(env, C_SVC "List", NULL, SVC_DEADLINE_PASSED, &n, &err), -1);
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);
}

static void test_containers_list_stream_with_filter_ends_with_the_deadline(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;

    create(env, "c1");
    /* A filter nothing matches: the stream sends nothing, however it ends. */
    assert_ok(list(env, C_SVC "ListStream", "labels.k~=nothing", 0, NULL, &err), &err);
    assert_int_equal(
        list(env, C_SVC "ListStream", "labels.k~=nothing", SVC_DEADLINE_PASSED, NULL, &err), -1);
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_containers_list_with_filter_ends_with_the_deadline,
                                        meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(
            test_containers_list_stream_with_filter_ends_with_the_deadline, meta_setup,
            meta_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
