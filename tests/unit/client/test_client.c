/* SPDX-License-Identifier: Apache-2.0 */
/* client: address -> target mapping, status mapping, and a fast UNAVAILABLE on a missing socket. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "client/client.h"

static void test_client_target_for_forms(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"/run/berth/berthd.sock", "unix:/run/berth/berthd.sock"},
        {"unix:/a.sock", "unix:/a.sock"},
        {"unix:///a.sock", "unix:///a.sock"},
        {"unix-abstract:name", "unix-abstract:name"},
        {"@name", "unix-abstract:name"},
        {"rel.sock", "unix:rel.sock"},
    };
    struct berth_err *err = NULL;

    for (size_t i = 0; i < BERTH_N(cases); i++) {
        char *t = berth_client_target_for(cases[i].in, &err);
        assert_non_null(t);
        assert_string_equal(t, cases[i].out);
        free(t);
    }
    assert_null(berth_client_target_for("", &err));
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_client_errc_maps_grpc_codes(void **state)
{
    assert_int_equal(berth_client_errc(0), BERTH_E_OK);
    assert_int_equal(berth_client_errc(1), BERTH_E_CANCELED);
    assert_int_equal(berth_client_errc(2), BERTH_E_INTERNAL);
    assert_int_equal(berth_client_errc(3), BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_client_errc(4), BERTH_E_DEADLINE_EXCEEDED);
    assert_int_equal(berth_client_errc(5), BERTH_E_NOT_FOUND);
    assert_int_equal(berth_client_errc(6), BERTH_E_ALREADY_EXISTS);
    assert_int_equal(berth_client_errc(7), BERTH_E_PERMISSION_DENIED);
    assert_int_equal(berth_client_errc(8), BERTH_E_RESOURCE_EXHAUSTED);
    assert_int_equal(berth_client_errc(9), BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(berth_client_errc(11), BERTH_E_OUT_OF_RANGE);
    assert_int_equal(berth_client_errc(12), BERTH_E_NOT_IMPLEMENTED);
    assert_int_equal(berth_client_errc(13), BERTH_E_INTERNAL);
    assert_int_equal(berth_client_errc(14), BERTH_E_UNAVAILABLE);
    assert_int_equal(berth_client_errc(15), BERTH_E_DATA_LOSS);
    assert_int_equal(berth_client_errc(99), BERTH_E_INTERNAL);
}

static void test_client_missing_socket_is_unavailable_fast(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *path = berth_strdup_printf("%s/missing.sock", env->dir);
    struct berth_client *c = NULL;
    struct berth_err *err = NULL;
    struct berth_bytes resp = {0};
    char *details = NULL;
    int status = -1;
    int64_t t0;

    assert_ok(berth_client_open(path, "default", 30000, &c, &err), &err);
    t0 = berth_mono_ns();
    /* unary_raw reports the status instead of failing */
    assert_ok(berth_client_unary_raw(c, "/containerd.services.version.v1.Version/Version", NULL, 0,
                                     &resp, &status, &details, &err),
              &err);
    assert_int_equal(status, 14);
    assert_non_null(details);
    assert_int_equal(resp.len, 0);
    free(details);
    assert_true(berth_mono_ns() - t0 < 5000000000LL); /* far below the 30 s deadline */
    berth_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_target_for_forms),
        cmocka_unit_test(test_client_errc_maps_grpc_codes),
        cmocka_unit_test_setup_teardown(test_client_missing_socket_is_unavailable_fast,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
