/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for images/diff.c: layers made from two temp trees (native walk) or from an
 * overlay-style upperdir, read back with libarchive and applied with images/apply. */
#include "tests/unit/helpers/berth_test.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "images/apply.h"
#include "images/diff.h"
#include "lib/sha256.h"
#include "lib/util.h"

static int fd_sink(void *arg, const void *data, size_t len, struct berth_err **err)
{
    int fd = *(int *)arg;

    if (write(fd, data, len) != (ssize_t)len)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "short write");
    return 0;
}

static int fail_sink(void *arg, const void *data, size_t len, struct berth_err **err)
{
    (void)arg, (void)data, (void)len;
    return berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0, "sink full");
}

static void sh(const char *dir, const char *script)
{
    _cleanup_free_ char *cmd = berth_strdup_printf("set -e; cd %s; %s", dir, script);
    assert_int_equal(system(cmd), 0);
}

/* Makes the layer lower -> upper into <dir>/layer.tar(.gz); returns its path. */
static char *make_layer(const char *dir, const char *lower, const char *upper,
                        const struct berth_diff_opts *o, char diff_id[72])
{
    char *path = berth_strdup_printf("%s/layer.tar%s", dir, o->gzip ? ".gz" : "");
    struct berth_err *err = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    assert_ok(berth_diff_write(lower, upper, o, fd_sink, &fd, diff_id, NULL, &err), &err);
    close(fd);
    return path;
}

/* "name|mtime" of every entry, one per line. */
static char *list_layer(const char *path)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    size_t cap = 4096, len = 0;
    char *out = berth_xcalloc(1, cap);

    archive_read_support_format_tar(a);
    archive_read_support_filter_all(a);
    assert_int_equal(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK)
        len += (size_t)snprintf(out + len, cap - len, "%s|%lld\n", archive_entry_pathname(e),
                                (long long)archive_entry_mtime(e));
    archive_read_free(a);
    return out;
}

static void apply_to(const char *layer, const char *root)
{
    struct berth_err *err = NULL;
    char dg[72];
    int fd = open(layer, O_RDONLY | O_CLOEXEC), rfd = open(root, O_RDONLY | O_DIRECTORY);

    assert_true(fd >= 0 && rfd >= 0);
    assert_ok(berth_apply_layer(fd, rfd, BERTH_APPLY_NATIVE, dg, NULL, &err), &err);
    close(fd);
    close(rfd);
}

static void assert_same_tree(const char *a, const char *b)
{
    _cleanup_free_ char *cmd = berth_strdup_printf("diff -r --no-dereference %s %s", a, b);
    assert_int_equal(system(cmd), 0);
}

/* lower: a, b/{x,y}, c; upper: a modified, b/x deleted (b/y untouched), c deleted, d added. */
static const char *const lower_script =
    "mkdir -p lower/b; echo one > lower/a; echo x > lower/b/x; echo y > lower/b/y;"
    "echo c > lower/c; touch -d @1000000000 lower/a lower/b/x lower/b/y lower/c lower/b lower;"
    "cp -a lower upper; cp -a lower applied;";

static void test_diff_native_changes(void **state)
{
    struct berth_test_env *t = *state;
    struct berth_diff_opts o = {.source_date_epoch = -1};
    _cleanup_free_ char *lower = berth_strdup_printf("%s/lower", t->dir);
    _cleanup_free_ char *upper = berth_strdup_printf("%s/upper", t->dir);
    _cleanup_free_ char *applied = berth_strdup_printf("%s/applied", t->dir);
    char diff_id[72];

    sh(t->dir, lower_script);
    sh(t->dir, "echo two > upper/a; touch -d @1000000000 upper/a; rm upper/b/x upper/c;"
               "echo d > upper/d; touch -d @1100000000 upper/d upper/b upper");
    _cleanup_free_ char *layer = make_layer(t->dir, lower, upper, &o, diff_id);
    _cleanup_free_ char *list = list_layer(layer);
    /* a: same size and mtime but other bytes; b/y: same everything, left out */
    assert_string_equal(list, "a|1000000000\nb/|1100000000\nb/.wh.x|0\n.wh.c|0\n"
                              "d|1100000000\n");
    apply_to(layer, applied);
    assert_same_tree(applied, upper);
}

static void test_diff_same_trees_are_empty(void **state)
{
    struct berth_test_env *t = *state;
    struct berth_diff_opts o = {.source_date_epoch = -1};
    _cleanup_free_ char *lower = berth_strdup_printf("%s/lower", t->dir);
    _cleanup_free_ char *upper = berth_strdup_printf("%s/upper", t->dir);
    char diff_id[72];

    sh(t->dir, lower_script);
    _cleanup_free_ char *layer = make_layer(t->dir, lower, upper, &o, diff_id);
    _cleanup_free_ char *list = list_layer(layer);
    assert_string_equal(list, "");
}

static void test_diff_overlay_upperdir(void **state)
{
    struct berth_test_env *t = *state;
    struct berth_diff_opts o = {.upper_is_overlay = true, .source_date_epoch = -1};
    _cleanup_free_ char *upper = berth_strdup_printf("%s/upper", t->dir);
    _cleanup_free_ char *applied = berth_strdup_printf("%s/applied", t->dir);
    char diff_id[72];

    if (geteuid() != 0)
        skip();
    sh(t->dir, lower_script);
    /* the upperdir of: a modified, c deleted, d added, b/ replaced by an opaque b/ with z */
    sh(t->dir, "rm -rf upper; mkdir -p upper/b; echo two > upper/a; mknod upper/c c 0 0;"
               "echo d > upper/d; echo z > upper/b/z");
    _cleanup_free_ char *b = berth_strdup_printf("%s/b", upper);
    _cleanup_free_ char *d = berth_strdup_printf("%s/d", upper);
    assert_int_equal(setxattr(b, "trusted.overlay.opaque", "y", 1, 0), 0);
    assert_int_equal(setxattr(d, "user.k", "v", 1, 0), 0);
    sh(t->dir, "touch -d @1200000000 upper/b/z upper/* upper");
    _cleanup_free_ char *layer = make_layer(t->dir, NULL, upper, &o, diff_id);
    _cleanup_free_ char *list = list_layer(layer);
    assert_string_equal(list, "a|1200000000\nb/|1200000000\nb/.wh..wh..opq|0\nb/z|"
                              "1200000000\n.wh.c|0\nd|1200000000\n");
    apply_to(layer, applied);
    sh(t->dir, "test \"$(cat applied/a)\" = two; test ! -e applied/c; test ! -e applied/b/x;"
               "test ! -e applied/b/y; test \"$(cat applied/b/z)\" = z");
    _cleanup_free_ char *ad = berth_strdup_printf("%s/d", applied);
    char v[4] = {0};
    assert_int_equal(getxattr(ad, "user.k", v, sizeof(v)), 1);
    assert_string_equal(v, "v");
    assert_int_equal(getxattr(ad, "trusted.overlay.opaque", v, sizeof(v)), -1);
}

static void test_diff_gzip_stable_and_clamped(void **state)
{
    struct berth_test_env *t = *state;
    struct berth_diff_opts o = {.gzip = true, .source_date_epoch = 1050000000};
    _cleanup_free_ char *lower = berth_strdup_printf("%s/lower", t->dir);
    _cleanup_free_ char *upper = berth_strdup_printf("%s/upper", t->dir);
    char d1[72], d2[72], raw[72];

    sh(t->dir, lower_script);
    sh(t->dir, "echo d > upper/d; ln upper/d upper/e; ln -s d upper/f;"
               "touch -h -d @1100000000 upper/d upper/f upper");
    _cleanup_free_ char *layer = make_layer(t->dir, lower, upper, &o, d1);
    _cleanup_free_ char *list = list_layer(layer);
    assert_string_equal(list, "d|1050000000\ne|1050000000\nf|1050000000\n");
    sh(t->dir, "mv layer.tar.gz first.gz");
    _cleanup_free_ char *again = make_layer(t->dir, lower, upper, &o, d2);
    assert_string_equal(d1, d2);
    sh(t->dir, "cmp first.gz layer.tar.gz; gunzip -c layer.tar.gz > plain.tar;"
               "tar -tvf plain.tar | grep -q '^hrw.* e link to d$'");
    struct berth_diff_opts plain = {.source_date_epoch = 1050000000};
    _cleanup_free_ char *tar = make_layer(t->dir, lower, upper, &plain, raw);
    assert_string_equal(raw, d1); /* the diff ID is the uncompressed tar's digest */
    sh(t->dir, "cmp plain.tar layer.tar");
}

static void test_diff_errors(void **state)
{
    struct berth_test_env *t = *state;
    struct berth_diff_opts o = {.source_date_epoch = -1};
    _cleanup_free_ char *missing = berth_strdup_printf("%s/missing", t->dir);
    _cleanup_free_ char *upper = berth_strdup_printf("%s/upper", t->dir);
    struct berth_err *err = NULL;
    char dg[72];
    int fd = -1;

    assert_int_equal(berth_diff_write(NULL, missing, &o, fd_sink, &fd, dg, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    sh(t->dir, lower_script);
    assert_int_equal(berth_diff_write(NULL, upper, &o, fail_sink, NULL, dg, NULL, &err), -1);
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, berth_test_setup_tmpdir, berth_test_teardown_tmpdir)
        T(test_diff_native_changes),   T(test_diff_same_trees_are_empty),
        T(test_diff_overlay_upperdir), T(test_diff_gzip_stable_and_clamped),
        T(test_diff_errors),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
