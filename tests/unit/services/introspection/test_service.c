/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/introspection/service.c: Plugins with a filter ends with its call. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "api/services/introspection/v1/introspection.pb-c.h"
#include "lib/util.h"
#include "tests/unit/services/svc_deadline.h"

#define P_PATH "/containerd.services.introspection.v1.Introspection/Plugins"

static void test_introspection_plugins_with_filter_ends_with_the_deadline(void **state)
{
    Containerd__Services__Introspection__V1__PluginsRequest req =
        CONTAINERD__SERVICES__INTROSPECTION__V1__PLUGINS_REQUEST__INIT;
    Containerd__Services__Introspection__V1__PluginsResponse *resp;
    struct berth_services app = {0};
    char *filters[] = {"type~=^io\\.containerd\\."};
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;

    (void)state;
    req.filters = filters;
    req.n_filters = 1;
    assert_ok(svc_call_deadline(&app, P_PATH, NULL, &req.base, 0, &out, &err), &err);
    resp =
        containerd__services__introspection__v1__plugins_response__unpack(NULL, out.len, out.data);
    assert_non_null(resp);
    assert_true(resp->n_plugins > 0);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    berth_bytes_clear(&out);
    assert_int_equal(
        svc_call_deadline(&app, P_PATH, NULL, &req.base, SVC_DEADLINE_PASSED, &out, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "deadline exceeded while listing plugins"));
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_introspection_plugins_with_filter_ends_with_the_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
