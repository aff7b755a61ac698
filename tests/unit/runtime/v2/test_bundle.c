/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/v2/bundle.c: bundle paths, creation, removal. */
#include "tests/unit/helpers/berth_test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "runtime/v2/runtime-internal.h"

static void test_bundle_path_layout(void **state)
{
    char *p = berth_rt_bundle_path("/run/berth", "default", "web");

    (void)state;
    assert_string_equal(p, "/run/berth/tasks/default/web");
    free(p);
}

static void test_bundle_create_remove(void **state)
{
    char dir[] = "/tmp/berth-bundle-test.XXXXXX";
    struct berth_err *err = NULL;
    struct stat st;
    char *b, *f, *v;

    (void)state;
    assert_non_null(mkdtemp(dir));
    b = berth_rt_bundle_path(dir, "ns1", "c1");
    assert_ok(berth_rt_bundle_create(b, "{}", 2, &err), &err);
    assert_int_equal(stat(b, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    f = berth_strdup_printf("%s/log", b);
    assert_int_equal(stat(f, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    free(f);
    v = berth_rt_bundle_read(b, "config.json");
    assert_string_equal(v, "{}");
    free(v);
    assert_null(berth_rt_bundle_read(b, "address"));
    /* a second create of the same bundle is ALREADY_EXISTS */
    assert_int_equal(berth_rt_bundle_create(b, "{}", 2, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    berth_err_free(&err);
    berth_rt_bundle_remove(b);
    assert_int_equal(stat(b, &st), -1);
    free(b);
    b = berth_strdup_printf("%s/tasks/ns1/.c1", dir);
    assert_int_equal(stat(b, &st), -1);
    free(b);
    b = berth_strdup_printf("rm -rf %s", dir);
    assert_int_equal(system(b), 0);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_path_layout),
        cmocka_unit_test(test_bundle_create_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
