/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/labels.c: sorted label sets and size validation. */
#include "tests/unit/helpers/berth_test.h"

#include <stdlib.h>
#include <string.h>

#include "lib/labels.h"

static void assert_sorted(const struct berth_labels *l)
{
    for (size_t i = 1; i < l->n; i++)
        assert_true(strcmp(l->keys[i - 1], l->keys[i]) < 0);
}

static void test_labels_set_keeps_sorted(void **state)
{
    struct berth_labels l;

    berth_labels_init(&l);
    berth_labels_set(&l, "m", "1");
    berth_labels_set(&l, "a", "2");
    berth_labels_set(&l, "z", "3");
    berth_labels_set(&l, "containerd.io/gc.ref.content", "sha256:x");
    berth_labels_set(&l, "b", "4");
    assert_int_equal(l.n, 5);
    assert_sorted(&l);
    assert_string_equal(berth_labels_get(&l, "a"), "2");
    assert_string_equal(berth_labels_get(&l, "containerd.io/gc.ref.content"), "sha256:x");
    assert_null(berth_labels_get(&l, "missing"));
    berth_labels_clear(&l);
    assert_int_equal(l.n, 0);
}

static void test_labels_set_replaces(void **state)
{
    struct berth_labels l = {0};

    berth_labels_set(&l, "k", "old");
    berth_labels_set(&l, "k", "new");
    assert_int_equal(l.n, 1);
    assert_string_equal(berth_labels_get(&l, "k"), "new");
    /* replacing with its own current value must not read freed memory */
    berth_labels_set(&l, "k", berth_labels_get(&l, "k"));
    assert_string_equal(berth_labels_get(&l, "k"), "new");
    berth_labels_clear(&l);
}

static void test_labels_set_empty_value_deletes(void **state)
{
    struct berth_labels l = {0};

    berth_labels_set(&l, "a", "1");
    berth_labels_set(&l, "b", "2");
    berth_labels_set(&l, "a", "");
    assert_null(berth_labels_get(&l, "a"));
    berth_labels_set(&l, "b", NULL);
    assert_int_equal(l.n, 0);
    berth_labels_set(&l, "never", NULL);
    assert_int_equal(l.n, 0);
    berth_labels_clear(&l);
}

static void test_labels_del_present_and_absent(void **state)
{
    struct berth_labels l = {0};

    berth_labels_set(&l, "a", "1");
    berth_labels_set(&l, "b", "2");
    berth_labels_set(&l, "c", "3");
    assert_true(berth_labels_del(&l, "b"));
    assert_false(berth_labels_del(&l, "b"));
    assert_int_equal(l.n, 2);
    assert_sorted(&l);
    assert_string_equal(berth_labels_get(&l, "c"), "3");
    berth_labels_clear(&l);
}

static void test_labels_copy_is_deep(void **state)
{
    struct berth_labels src = {0}, dst = {0};

    berth_labels_set(&src, "x", "1");
    berth_labels_set(&src, "y", "2");
    berth_labels_set(&dst, "old", "gone");
    berth_labels_copy(&dst, &src);
    assert_int_equal(dst.n, 2);
    assert_null(berth_labels_get(&dst, "old"));
    berth_labels_set(&src, "x", "changed");
    assert_string_equal(berth_labels_get(&dst, "x"), "1");
    berth_labels_copy(&dst, &dst);
    assert_int_equal(dst.n, 2);
    berth_labels_clear(&src);
    berth_labels_copy(&dst, &src);
    assert_int_equal(dst.n, 0);
    berth_labels_clear(&dst);
    berth_labels_clear(NULL);
}

static void test_labels_validate_ok(void **state)
{
    struct berth_labels l = {0};
    struct berth_err *err = NULL;
    char *v = malloc(BERTH_LABELS_MAX_SIZE);

    assert_ok(berth_labels_validate(&l, &err), &err);
    memset(v, 'v', BERTH_LABELS_MAX_SIZE - 2);
    v[BERTH_LABELS_MAX_SIZE - 2] = '\0';
    berth_labels_set(&l, "ab", v); /* exactly 4096 bytes */
    assert_ok(berth_labels_validate(&l, &err), &err);
    free(v);
    berth_labels_clear(&l);
}

static void test_labels_validate_too_large(void **state)
{
    struct berth_labels l = {0};
    struct berth_err *err = NULL;
    char *v = malloc(BERTH_LABELS_MAX_SIZE);

    memset(v, 'v', BERTH_LABELS_MAX_SIZE - 1);
    v[BERTH_LABELS_MAX_SIZE - 1] = '\0';
    berth_labels_set(&l, "ab", v); /* 4097 bytes */
    assert_int_equal(berth_labels_validate(&l, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    free(v);
    berth_labels_clear(&l);
}

static void test_labels_validate_huge_key_message_is_bounded(void **state)
{
    struct berth_labels l = {0};
    struct berth_err *err = NULL;
    char *k = malloc(5001);

    memset(k, 'k', 5000);
    k[5000] = '\0';
    berth_labels_set(&l, k, "v");
    assert_int_equal(berth_labels_validate(&l, &err), -1);
    assert_non_null(err);
    assert_true(strlen(err->msg) < 200);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    free(k);
    berth_labels_clear(&l);
}

static void test_labels_validate_empty_key(void **state)
{
    struct berth_labels l = {0};
    struct berth_err *err = NULL;

    berth_labels_set(&l, "", "v");
    assert_int_equal(berth_labels_validate(&l, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_labels_clear(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_set_keeps_sorted),
        cmocka_unit_test(test_labels_set_replaces),
        cmocka_unit_test(test_labels_set_empty_value_deletes),
        cmocka_unit_test(test_labels_del_present_and_absent),
        cmocka_unit_test(test_labels_copy_is_deep),
        cmocka_unit_test(test_labels_validate_ok),
        cmocka_unit_test(test_labels_validate_too_large),
        cmocka_unit_test(test_labels_validate_huge_key_message_is_bounded),
        cmocka_unit_test(test_labels_validate_empty_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
