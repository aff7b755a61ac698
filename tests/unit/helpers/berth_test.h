/* SPDX-License-Identifier: Apache-2.0 */
/* Shared fixture for cmocka unit tests: a fresh temp dir per test. Include after the cmocka
 * prerequisites (stdarg.h, stddef.h, stdint.h, setjmp.h). */
#ifndef BERTH_TEST_H
#define BERTH_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/err.h"

struct berth_test_env {
    char *dir; /* fresh, empty, removed by teardown */
};

/* group/each fixtures: *state becomes a struct berth_test_env *. */
int berth_test_setup_tmpdir(void **state);
int berth_test_teardown_tmpdir(void **state);
/* Group fixtures that build the test images once (tests/data/mkimages.sh) into a temp dir;
 * berth_test_images_dir() is that output dir while the group runs. */
int berth_test_images_setup(void **state);
int berth_test_images_teardown(void **state);
const char *berth_test_images_dir(void);
/* rm -rf; returns 0 or -1. */
int berth_test_rmrf(const char *path);

/* Assert that err is set with the given class, then free it. */
#define assert_err_code(err, c)                                                                    \
    do {                                                                                           \
        assert_non_null(err);                                                                      \
        assert_int_equal((err)->code, (c));                                                        \
        berth_err_free(&(err));                                                                    \
    } while (0)
/* Assert that an int-returning call succeeded; prints the error message if not. */
#define assert_ok(expr, errp)                                                                      \
    do {                                                                                           \
        int _r = (expr);                                                                           \
        if (_r < 0)                                                                                \
            fail_msg("%s failed: %s", #expr, *(errp) ? (*(errp))->msg : "(no error set)");         \
    } while (0)

#endif
