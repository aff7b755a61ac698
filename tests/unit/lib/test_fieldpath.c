/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/fieldpath.c: update-mask label paths. */
#include "tests/unit/helpers/berth_test.h"

#include <stdbool.h>

#include "lib/fieldpath.h"

static void test_fieldpath_label_key_simple(void **state)
{
    const char *key = NULL;

    assert_true(berth_fieldpath_label_key("labels.foo", "labels", &key));
    assert_string_equal(key, "foo");
    assert_true(berth_fieldpath_label_key("annotations.io.k8s/x", "annotations", &key));
    assert_string_equal(key, "io.k8s/x");
    assert_true(berth_fieldpath_label_key("extensions.ext", "extensions", NULL));
}

static void test_fieldpath_label_key_splits_at_first_prefix_only(void **state)
{
    const char *key = NULL;

    assert_true(berth_fieldpath_label_key("labels.containerd.io/gc.ref.snapshot.overlayfs",
                                          "labels", &key));
    assert_string_equal(key, "containerd.io/gc.ref.snapshot.overlayfs");
    assert_true(berth_fieldpath_label_key("labels.labels.x", "labels", &key));
    assert_string_equal(key, "labels.x");
}

static void test_fieldpath_label_key_no_match(void **state)
{
    const char *key = "untouched";

    assert_false(berth_fieldpath_label_key("labels", "labels", &key));
    assert_false(berth_fieldpath_label_key("labels.", "labels", &key));
    assert_false(berth_fieldpath_label_key("labelsx.a", "labels", &key));
    assert_false(berth_fieldpath_label_key("image", "labels", &key));
    assert_false(berth_fieldpath_label_key("xlabels.a", "labels", &key));
    assert_false(berth_fieldpath_label_key(NULL, "labels", &key));
    assert_string_equal(key, "untouched");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fieldpath_label_key_simple),
        cmocka_unit_test(test_fieldpath_label_key_splits_at_first_prefix_only),
        cmocka_unit_test(test_fieldpath_label_key_no_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
