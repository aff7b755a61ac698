/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/status.c: the gRPC code names of the metrics' grpc_code label. */
#include "tests/unit/helpers/berth_test.h"

#include "lib/status.h"

static void test_grpc_code_name_as_go(void **state)
{
    (void)state;
    assert_string_equal(berth_grpc_code_name(BERTH_GRPC_OK), "OK");
    assert_string_equal(berth_grpc_code_name(BERTH_GRPC_CANCELLED), "Canceled");
    assert_string_equal(berth_grpc_code_name(BERTH_GRPC_NOT_FOUND), "NotFound");
    assert_string_equal(berth_grpc_code_name(BERTH_GRPC_INVALID_ARGUMENT), "InvalidArgument");
    assert_string_equal(berth_grpc_code_name(BERTH_GRPC_RESOURCE_EXHAUSTED), "ResourceExhausted");
    assert_string_equal(berth_grpc_code_name(BERTH_GRPC_UNIMPLEMENTED), "Unimplemented");
    assert_string_equal(berth_grpc_code_name(BERTH_GRPC_UNAUTHENTICATED), "Unauthenticated");
    assert_string_equal(berth_grpc_code_name(17), "Unknown");
    assert_string_equal(berth_grpc_code_name(-1), "Unknown");
    /* every error class maps to a named code */
    for (int c = 0; c < BERTH_E__MAX; c++)
        assert_true(berth_errc_to_grpc((enum berth_errc)c) < BERTH_GRPC_N_CODES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpc_code_name_as_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
