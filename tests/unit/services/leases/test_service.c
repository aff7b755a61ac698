/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/leases/service.c through the real registry (berth_server_invoke, no
 * socket) over a real store. */
#include "tests/unit/helpers/svc_invoke.h"

#include <regex.h>
#include <string.h>

#include "api/services/leases/v1/leases.pb-c.h"
#include "lib/util.h"
#include "tests/unit/services/svc_deadline.h"

#define L_SVC   "/containerd.services.leases.v1.Leases/"
#define DGST    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define EXPIRES "containerd.io/gc.expire"

typedef Containerd__Services__Leases__V1__CreateResponse create_resp_t;
typedef Containerd__Services__Leases__V1__ListResponse list_resp_t;
typedef Containerd__Services__Leases__V1__ListResourcesResponse res_resp_t;

/* Creates a lease (id may be "" to have one generated) with at most one label. */
static create_resp_t *create(struct meta_env *env, const char *ns, const char *id, const char *k,
                             const char *v, struct berth_err **err)
{
    Containerd__Services__Leases__V1__CreateRequest req =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
    Containerd__Services__Leases__V1__CreateRequest__LabelsEntry ent =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__LABELS_ENTRY__INIT;
    Containerd__Services__Leases__V1__CreateRequest__LabelsEntry *ents[] = {&ent};
    struct berth_bytes out = {0};
    create_resp_t *resp;

    req.id = (char *)id;
    if (k) {
        ent.key = (char *)k;
        ent.value = (char *)v;
        req.labels = ents;
        req.n_labels = 1;
    }
    if (svc_invoke(env, L_SVC "Create", ns, &req.base, &out, err) < 0)
        return NULL;
    resp = containerd__services__leases__v1__create_response__unpack(NULL, out.len, out.data);
    berth_bytes_clear(&out);
    assert_non_null(resp);
    assert_non_null(resp->lease);
    return resp;
}

static list_resp_t *list(struct meta_env *env, const char *ns, const char *filter,
                         struct berth_err **err)
{
    Containerd__Services__Leases__V1__ListRequest req =
        CONTAINERD__SERVICES__LEASES__V1__LIST_REQUEST__INIT;
    char *filters[] = {(char *)filter};
    struct berth_bytes out = {0};
    list_resp_t *resp;

    if (filter) {
        req.filters = filters;
        req.n_filters = 1;
    }
    if (svc_invoke(env, L_SVC "List", ns, &req.base, &out, err) < 0)
        return NULL;
    resp = containerd__services__leases__v1__list_response__unpack(NULL, out.len, out.data);
    berth_bytes_clear(&out);
    assert_non_null(resp);
    return resp;
}

static int del(struct meta_env *env, const char *ns, const char *id, bool sync,
               struct berth_err **err)
{
    Containerd__Services__Leases__V1__DeleteRequest req =
        CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;
    struct berth_bytes out = {0};
    int ret;

    req.id = (char *)id;
    req.sync = sync;
    ret = svc_invoke(env, L_SVC "Delete", ns, &req.base, &out, err);
    berth_bytes_clear(&out);
    return ret;
}

/* AddResource (add) or DeleteResource; type NULL sends no resource at all. */
static int resource(struct meta_env *env, bool add, const char *id, const char *type,
                    const char *rid, struct berth_err **err)
{
    Containerd__Services__Leases__V1__AddResourceRequest req =
        CONTAINERD__SERVICES__LEASES__V1__ADD_RESOURCE_REQUEST__INIT;
    Containerd__Services__Leases__V1__Resource r = CONTAINERD__SERVICES__LEASES__V1__RESOURCE__INIT;
    struct berth_bytes out = {0};
    int ret;

    /* DeleteResourceRequest has the same fields and numbers. */
    req.id = (char *)id;
    r.type = (char *)type;
    r.id = (char *)rid;
    req.resource = type ? &r : NULL;
    ret = svc_invoke(env, add ? L_SVC "AddResource" : L_SVC "DeleteResource", "default", &req.base,
                     &out, err);
    berth_bytes_clear(&out);
    return ret;
}

static res_resp_t *list_resources(struct meta_env *env, const char *id, struct berth_err **err)
{
    Containerd__Services__Leases__V1__ListResourcesRequest req =
        CONTAINERD__SERVICES__LEASES__V1__LIST_RESOURCES_REQUEST__INIT;
    struct berth_bytes out = {0};
    res_resp_t *resp;

    req.id = (char *)id;
    if (svc_invoke(env, L_SVC "ListResources", "default", &req.base, &out, err) < 0)
        return NULL;
    resp =
        containerd__services__leases__v1__list_resources_response__unpack(NULL, out.len, out.data);
    berth_bytes_clear(&out);
    assert_non_null(resp);
    return resp;
}

static void pb_free(void *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

static void test_leases_create_with_id_returns_lease(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    create_resp_t *resp;

    resp = create(env, "default", "foo", EXPIRES, "2030-01-01T00:00:00Z", &err);
    assert_non_null(resp);
    assert_string_equal(resp->lease->id, "foo");
    assert_non_null(resp->lease->created_at);
    assert_true(resp->lease->created_at->seconds > 1700000000);
    assert_int_equal(resp->lease->n_labels, 1);
    assert_string_equal(resp->lease->labels[0]->key, EXPIRES);
    assert_string_equal(resp->lease->labels[0]->value, "2030-01-01T00:00:00Z");
    pb_free(resp);
    assert_null(create(env, "default", "foo", NULL, NULL, &err));
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
}

static void test_leases_create_empty_id_generates_ctr_style(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    create_resp_t *a, *b;
    regex_t re;

    assert_int_equal(regcomp(&re, "^[0-9]{19}-[A-Za-z0-9_-]{4}$", REG_EXTENDED | REG_NOSUB), 0);
    a = create(env, "default", "", NULL, NULL, &err);
    assert_non_null(a);
    b = create(env, "default", "", NULL, NULL, &err);
    assert_non_null(b);
    assert_int_equal(regexec(&re, a->lease->id, 0, NULL, 0), 0);
    assert_int_equal(regexec(&re, b->lease->id, 0, NULL, 0), 0);
    assert_string_not_equal(a->lease->id, b->lease->id);
    regfree(&re);
    pb_free(a);
    pb_free(b);
}

static void test_leases_need_namespace_header(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;

    assert_null(create(env, NULL, "foo", NULL, NULL, &err));
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_null(list(env, NULL, NULL, &err));
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(del(env, NULL, "foo", false, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
}

static void test_leases_list_filters_and_namespaces(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    list_resp_t *l;

    pb_free(create(env, "default", "foo", "team", "a", &err));
    pb_free(create(env, "default", "bar", NULL, NULL, &err));
    pb_free(create(env, "other", "baz", NULL, NULL, &err));
    assert_null(err);
    l = list(env, "default", NULL, &err);
    assert_non_null(l);
    assert_int_equal(l->n_leases, 2);
    assert_string_equal(l->leases[0]->id, "bar");
    assert_string_equal(l->leases[1]->id, "foo");
    assert_non_null(l->leases[1]->created_at);
    pb_free(l);
    l = list(env, "default", "id==foo", &err);
    assert_non_null(l);
    assert_int_equal(l->n_leases, 1);
    assert_string_equal(l->leases[0]->id, "foo");
    pb_free(l);
    l = list(env, "default", "labels.team==a", &err);
    assert_int_equal(l->n_leases, 1);
    pb_free(l);
    l = list(env, "other", NULL, &err);
    assert_int_equal(l->n_leases, 1);
    assert_string_equal(l->leases[0]->id, "baz");
    pb_free(l);
    assert_null(list(env, "default", "id~=(", &err));
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_leases_list_with_filter_ends_with_the_deadline(void **state)
{
    struct meta_env *env = *state;
    Containerd__Services__Leases__V1__ListRequest req =
        CONTAINERD__SERVICES__LEASES__V1__LIST_REQUEST__INIT;
    struct berth_services app = {.db = env->db};
    char *filters[] = {"id~=^f"};
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;

    pb_free(create(env, "default", "foo", NULL, NULL, &err));
    assert_null(err);
    req.filters = filters;
    req.n_filters = 1;
    assert_int_equal(svc_call_deadline(&app, L_SVC "List", "default", &req.base,
                                       SVC_DEADLINE_PASSED, &out, &err),
                     -1);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "deadline exceeded while listing leases"));
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);
}

static void test_leases_delete_sync_and_not_found(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    list_resp_t *l;

    pb_free(create(env, "default", "foo", NULL, NULL, &err));
    pb_free(create(env, "default", "bar", NULL, NULL, &err));
    assert_ok(del(env, "default", "foo", false, &err), &err);
    assert_ok(del(env, "default", "bar", true, &err), &err); /* sync: accepted, no GC yet */
    assert_int_equal(del(env, "default", "foo", false, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(del(env, "default", "a/b", false, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    l = list(env, "default", NULL, &err);
    assert_int_equal(l->n_leases, 0);
    pb_free(l);
}

static void test_leases_resources_roundtrip(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    res_resp_t *r;

    pb_free(create(env, "default", "foo", NULL, NULL, &err));
    assert_ok(resource(env, true, "foo", "snapshots/overlayfs", "extract-1 sha256:abc", &err),
              &err);
    assert_ok(resource(env, true, "foo", "content", DGST, &err), &err);
    assert_ok(resource(env, true, "foo", "ingests", "tar-x", &err), &err);
    r = list_resources(env, "foo", &err);
    assert_non_null(r);
    assert_int_equal(r->n_resources, 3);
    assert_string_equal(r->resources[0]->type, "content");
    assert_string_equal(r->resources[0]->id, DGST);
    assert_string_equal(r->resources[1]->type, "ingests");
    assert_string_equal(r->resources[2]->type, "snapshots/overlayfs");
    assert_string_equal(r->resources[2]->id, "extract-1 sha256:abc");
    pb_free(r);
    assert_ok(resource(env, false, "foo", "content", DGST, &err), &err);
    r = list_resources(env, "foo", &err);
    assert_int_equal(r->n_resources, 2);
    pb_free(r);
}

static void test_leases_resources_errors(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;

    assert_int_equal(resource(env, true, "nope", "content", DGST, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_null(list_resources(env, "nope", &err));
    assert_err_code(err, BERTH_E_NOT_FOUND);
    pb_free(create(env, "default", "foo", NULL, NULL, &err));
    assert_int_equal(resource(env, true, "foo", "images", "x", &err), -1);
    assert_err_code(err, BERTH_E_NOT_IMPLEMENTED);
    assert_int_equal(resource(env, true, "foo", "content", "sha256:123", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(resource(env, false, "foo", "snapshots/a/b", "k", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(resource(env, true, "foo", NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, meta_setup, meta_teardown)
    const struct CMUnitTest tests[] = {
        T(test_leases_create_with_id_returns_lease),
        T(test_leases_create_empty_id_generates_ctr_style),
        T(test_leases_need_namespace_header),
        T(test_leases_list_filters_and_namespaces),
        T(test_leases_list_with_filter_ends_with_the_deadline),
        T(test_leases_delete_sync_and_not_found),
        T(test_leases_resources_roundtrip),
        T(test_leases_resources_errors),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
