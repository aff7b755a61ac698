/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/listing.c (a listing's filter tied to its call) and for the rule it
 * serves: no method that matches a client's filter runs on the completion-queue thread. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>

#include "lib/filters.h"
#include "lib/util.h"
#include "services/services.h"

static const char *value_field(void *obj, const char *const *path, size_t n, bool *present)
{
    (void)path;
    (void)n;
    *present = true;
    return obj;
}

static struct berth_filter *parse(const char *s)
{
    struct berth_filter *f = NULL;
    struct berth_err *err = NULL;
    const char *fs[] = {s};

    assert_ok(berth_filter_parse(fs, 1, &f, &err), &err);
    return f;
}

static void test_filter_watch_live_call_matches_and_checks_ok(void **state)
{
    struct berth_svc_ctx ctx = {.deadline_mono_ns = berth_mono_ns() + 60 * 1000000000LL};
    struct berth_filter *f = parse("v~=^ab");
    struct berth_err *err = NULL;

    (void)state;
    berth_svc_filter_watch(f, &ctx);
    assert_true(berth_filter_match(f, value_field, "abc"));
    assert_false(berth_filter_match(f, value_field, "xbc"));
    assert_ok(berth_svc_filter_check(f, &ctx, "things", &err), &err);
    berth_filter_free(f);
}

static void test_filter_watch_passed_deadline_is_deadline_exceeded(void **state)
{
    struct berth_svc_ctx ctx = {.deadline_mono_ns = 1};
    struct berth_filter *f = parse("v~=^ab");
    struct berth_err *err = NULL;

    (void)state;
    berth_svc_filter_watch(f, &ctx);
    assert_false(berth_filter_match(f, value_field, "abc"));
    assert_int_equal(berth_svc_filter_check(f, &ctx, "things", &err), -1);
    assert_non_null(err);
    assert_string_equal(err->msg, "deadline exceeded while listing things");
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);
    berth_filter_free(f);
}

static void test_filter_watch_without_filter_is_a_no_op(void **state)
{
    struct berth_svc_ctx ctx = {.deadline_mono_ns = 1};
    struct berth_err *err = NULL;

    (void)state;
    berth_svc_filter_watch(NULL, &ctx);
    assert_ok(berth_svc_filter_check(NULL, &ctx, "things", &err), &err);
}

/* A unary method whose request carries filters must run on the listing pool: a `~=` filter
 * may cost tens of ms per record, the completion-queue thread serves every other call, and the
 * worker pool serves writes. */
static void test_filtered_methods_run_on_the_listing_pool(void **state)
{
    const struct berth_service *const *svcs;
    size_t n = berth_services_all(&svcs), checked = 0;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < svcs[i]->n_methods; j++) {
            const struct berth_method *m = &svcs[i]->methods[j];
            const ProtobufCMessageDescriptor *in = NULL;
            char path[256];

            snprintf(path, sizeof(path), "/%s/%s", svcs[i]->desc->name, m->name);
            assert_non_null(berth_server_find(svcs, n, path, &in));
            if (!protobuf_c_message_descriptor_get_field_by_name(in, "filters") &&
                !protobuf_c_message_descriptor_get_field_by_name(in, "filter"))
                continue;
            /* Namespaces.List ignores its filter, as containerd does. */
            if (strcmp(path, "/containerd.services.namespaces.v1.Namespaces/List") == 0)
                continue;
            if (m->kind == BERTH_UNARY && !m->listing)
                fail_msg("%s matches filters on the %s (mark it .listing)", path,
                         m->nonblocking ? "completion-queue thread" : "worker pool");
            checked++;
        }
    }
    assert_true(checked >= 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_watch_live_call_matches_and_checks_ok),
        cmocka_unit_test(test_filter_watch_passed_deadline_is_deadline_exceeded),
        cmocka_unit_test(test_filter_watch_without_filter_is_a_no_op),
        cmocka_unit_test(test_filtered_methods_run_on_the_listing_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
