/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/namespaces/service.c through the real registry (no socket). */
#include "tests/unit/helpers/svc_invoke.h"

#include <string.h>

#include "api/services/namespaces/v1/namespace.pb-c.h"
#include "lib/util.h"
#include "tests/unit/helpers/lmdb_raw.h"

#define N_SVC "/containerd.services.namespaces.v1.Namespaces/"

static void create(struct meta_env *env, const char *name)
{
    Containerd__Services__Namespaces__V1__CreateNamespaceRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__CREATE_NAMESPACE_REQUEST__INIT;
    Containerd__Services__Namespaces__V1__Namespace ns =
        CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT;
    Containerd__Services__Namespaces__V1__Namespace__LabelsEntry ent =
        CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__LABELS_ENTRY__INIT;
    Containerd__Services__Namespaces__V1__Namespace__LabelsEntry *ents[] = {&ent};
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;

    ns.name = (char *)name;
    ent.key = "owner";
    ent.value = (char *)name;
    ns.labels = ents;
    ns.n_labels = 1;
    req.namespace_ = &ns;
    assert_ok(svc_invoke(env, N_SVC "Create", NULL, &req.base, &out, &err), &err);
    berth_bytes_clear(&out);
}

static void test_namespaces_list_skips_a_corrupt_record(void **state)
{
    struct meta_env *env = *state;
    Containerd__Services__Namespaces__V1__ListNamespacesResponse *resp;
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;

    create(env, "a");
    create(env, "b");
    create(env, "c");
    meta_raw_put(env, "ns/b", BERTH_TEST_GARBAGE, BERTH_TEST_GARBAGE_LEN);
    /* Before: DATA_LOSS for the whole listing. */
    assert_ok(svc_invoke(env, N_SVC "List", NULL, NULL, &out, &err), &err);
    resp = containerd__services__namespaces__v1__list_namespaces_response__unpack(NULL, out.len,
                                                                                  out.data);
    berth_bytes_clear(&out);
    assert_non_null(resp);
    assert_int_equal(resp->n_namespaces, 2);
    assert_string_equal(resp->namespaces[0]->name, "a");
    assert_int_equal(resp->namespaces[0]->n_labels, 1);
    assert_string_equal(resp->namespaces[0]->labels[0]->value, "a");
    assert_string_equal(resp->namespaces[1]->name, "c");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    assert_int_equal(berth_meta_db_corrupt_skips(env->db), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_namespaces_list_skips_a_corrupt_record, meta_setup,
                                        meta_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
