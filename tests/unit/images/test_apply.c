/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for images/apply.c over the layers tests/data/mkimages.sh builds (once per run) and
 * small archives written here with libarchive for the cases tar(1) cannot make. */
#include "tests/unit/helpers/berth_test.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "images/apply.h"
#include "lib/sha256.h"
#include "lib/util.h"

struct env {
    struct berth_test_env *tmp;
    char *root;     /* <tmp>/s/r/root: "../../x" from here lands in <tmp>/s/x */
    char *sentinel; /* <tmp>/s */
    int rootfd;
};

static int setup(void **state)
{
    struct env *e = berth_xcalloc(1, sizeof(*e));

    if (berth_test_setup_tmpdir((void **)&e->tmp) < 0)
        return -1;
    e->sentinel = berth_strdup_printf("%s/s", e->tmp->dir);
    e->root = berth_strdup_printf("%s/s/r/root", e->tmp->dir);
    mkdir(e->sentinel, 0755);
    _cleanup_free_ char *r = berth_strdup_printf("%s/r", e->sentinel);
    mkdir(r, 0755);
    mkdir(e->root, 0755);
    e->rootfd = open(e->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *state = e;
    return e->rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    close(e->rootfd);
    free(e->root);
    free(e->sentinel);
    berth_test_teardown_tmpdir((void **)&e->tmp);
    free(e);
    return 0;
}

static int apply_file(struct env *e, const char *path, enum berth_apply_mode mode, char dg[72],
                      int64_t *size, struct berth_err **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    return berth_apply_layer(fd, e->rootfd, mode, dg, size, err);
}

static int apply_layer(struct env *e, const char *name, enum berth_apply_mode mode,
                       struct berth_err **err)
{
    _cleanup_free_ char *p = berth_strdup_printf("%s/layers/%s", berth_test_images_dir(), name);
    char dg[72];
    return apply_file(e, p, mode, dg, NULL, err);
}

static void file_digest(const char *path, char out[72], int64_t *size)
{
    struct berth_sha256 c;
    char buf[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    berth_sha256_init(&c);
    *size = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        berth_sha256_update(&c, buf, (size_t)n);
        *size += n;
    }
    close(fd);
    berth_sha256_digest_str(&c, out);
}

static bool at_exists(struct env *e, const char *rel, struct stat *st)
{
    struct stat tmp;
    return fstatat(e->rootfd, rel, st ? st : &tmp, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Names in dir, recursively, that are not below skip. */
static size_t count_entries(const char *dir, const char *skip)
{
    _cleanup_free_ char *cmd =
        berth_strdup_printf("find '%s' -path '%s' -prune -o -print | wc -l", dir, skip);
    FILE *f = popen(cmd, "r");
    size_t n = 0;

    assert_non_null(f);
    assert_int_equal(fscanf(f, "%zu", &n), 1);
    pclose(f);
    return n;
}

/* ---- archives written with libarchive ---- */

struct tarw {
    struct archive *a;
    char *path;
};

static void tarw_open(struct tarw *t, struct env *e, const char *name)
{
    t->path = berth_strdup_printf("%s/%s", e->tmp->dir, name);
    t->a = archive_write_new();
    archive_write_set_format_pax_restricted(t->a);
    assert_int_equal(archive_write_open_filename(t->a, t->path), ARCHIVE_OK);
}

static void tarw_add(struct tarw *t, const char *name, mode_t type, mode_t perm, const char *data,
                     const char *link, bool hardlink)
{
    struct archive_entry *en = archive_entry_new();

    archive_entry_set_pathname(en, name);
    archive_entry_set_filetype(en, type);
    archive_entry_set_perm(en, perm);
    archive_entry_set_mtime(en, 1600000000, 0);
    if (link && hardlink)
        archive_entry_set_hardlink(en, link);
    else if (link)
        archive_entry_set_symlink(en, link);
    if (type == AE_IFCHR)
        archive_entry_set_rdev(en, makedev(1, 7));
    if (data)
        archive_entry_set_size(en, (la_int64_t)strlen(data));
    if (type == AE_IFREG && strcmp(name, "xattr") == 0)
        archive_entry_xattr_add_entry(en, "user.berth", "yes", 3);
    assert_int_equal(archive_write_header(t->a, en), ARCHIVE_OK);
    if (data)
        archive_write_data(t->a, data, strlen(data));
    archive_entry_free(en);
}

static char *tarw_close(struct tarw *t)
{
    archive_write_close(t->a);
    archive_write_free(t->a);
    return t->path;
}

/* ---- tests ---- */

static void test_apply_busybox_hardlinks_and_digest(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *p = berth_strdup_printf("%s/layers/busybox.tar", berth_test_images_dir());
    struct berth_err *err = NULL;
    char dg[72], want[72];
    int64_t size = 0, want_size;
    struct stat bb, sh, st;

    file_digest(p, want, &want_size);
    assert_ok(apply_file(e, p, BERTH_APPLY_NATIVE, dg, &size, &err), &err);
    assert_string_equal(dg, want);
    assert_int_equal(size, want_size);
    assert_true(at_exists(e, "bin/busybox", &bb));
    assert_true(at_exists(e, "bin/sh", &sh));
    assert_int_equal(bb.st_ino, sh.st_ino);
    assert_true(bb.st_nlink > 100);
    assert_int_equal(bb.st_mode & 07777, 0755);
    assert_true(at_exists(e, "tmp", &st));
    assert_int_equal(st.st_mode & 07777, 01777);
    assert_true(at_exists(e, "bin", &st));
    assert_int_equal(st.st_mtime, 1700000000); /* directory times set last */
    assert_true(at_exists(e, "etc/passwd", &st));
    assert_int_equal(st.st_mtime, 1700000000);
}

static void test_apply_compressed_digest_is_uncompressed(void **state)
{
    static const char *const names[] = {"busybox.tar.gz", "busybox.tar.zst"};
    struct env *e = *state;
    _cleanup_free_ char *plain =
        berth_strdup_printf("%s/layers/busybox.tar", berth_test_images_dir());
    char want[72];
    int64_t want_size;

    file_digest(plain, want, &want_size);
    for (size_t i = 0; i < BERTH_N(names); i++) {
        _cleanup_free_ char *p =
            berth_strdup_printf("%s/layers/%s", berth_test_images_dir(), names[i]);
        _cleanup_free_ char *sub = berth_strdup_printf("%s/%zu", e->root, i);
        struct berth_err *err = NULL;
        char dg[72];
        int64_t size = 0;
        mkdir(sub, 0755);
        _cleanup_close_ int sfd = open(sub, O_RDONLY | O_DIRECTORY);
        _cleanup_close_ int fd = open(p, O_RDONLY);
        assert_ok(berth_apply_layer(fd, sfd, BERTH_APPLY_OVERLAY, dg, &size, &err), &err);
        assert_string_equal(dg, want);
        assert_int_equal(size, want_size);
        _cleanup_free_ char *sh = berth_strdup_printf("%zu/bin/sh", i);
        assert_true(at_exists(e, sh, NULL));
    }
}

static void test_apply_trailing_bytes_are_digested(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *src = berth_strdup_printf("%s/layers/multi1.tar", berth_test_images_dir());
    _cleanup_free_ char *p = berth_strdup_printf("%s/trailing.tar", e->tmp->dir);
    _cleanup_free_ char *cmd =
        berth_strdup_printf("cat %s > %s && printf 'junk after the end' >> %s", src, p, p);
    struct berth_err *err = NULL;
    char dg[72], want[72];
    int64_t size, want_size;

    assert_int_equal(system(cmd), 0);
    file_digest(p, want, &want_size);
    assert_ok(apply_file(e, p, BERTH_APPLY_NATIVE, dg, &size, &err), &err);
    assert_string_equal(dg, want);
    assert_int_equal(size, want_size);
}

static void test_apply_native_whiteout_and_opaque(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;

    assert_ok(apply_layer(e, "multi1.tar", BERTH_APPLY_NATIVE, &err), &err);
    assert_true(at_exists(e, "a/gone", NULL));
    assert_ok(apply_layer(e, "multi2.tar", BERTH_APPLY_NATIVE, &err), &err);
    assert_false(at_exists(e, "a/gone", NULL));
    assert_false(at_exists(e, "a/.wh.gone", NULL));
    assert_true(at_exists(e, "a/keep", NULL));
    assert_true(at_exists(e, "a/added", NULL));
    assert_false(at_exists(e, "o/old1", NULL));
    assert_false(at_exists(e, "o/old2", NULL));
    assert_false(at_exists(e, "o/.wh..wh..opq", NULL));
    assert_true(at_exists(e, "o/new", NULL));
    assert_true(at_exists(e, "top", NULL));
}

static void test_apply_overlay_whiteout_and_opaque(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct stat st;
    char val[8] = "";

    assert_ok(apply_layer(e, "multi2.tar", BERTH_APPLY_OVERLAY, &err), &err);
    assert_true(at_exists(e, "a/gone", &st));
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(0, 0));
    assert_false(at_exists(e, "a/.wh.gone", NULL));
    assert_false(at_exists(e, "o/.wh..wh..opq", NULL));
    assert_true(at_exists(e, "o/new", NULL));
    _cleanup_free_ char *o = berth_strdup_printf("%s/o", e->root);
    if (getxattr(o, "trusted.overlay.opaque", val, sizeof(val)) < 0 && errno == EPERM)
        skip(); /* trusted.* needs CAP_SYS_ADMIN */
    assert_string_equal(val, "y");
}

static void test_apply_overlay_copies_lower_parent(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    _cleanup_free_ char *lower = berth_strdup_printf("%s/lower", e->tmp->dir);
    _cleanup_free_ char *lp = berth_strdup_printf("%s/lower/p", e->tmp->dir);
    const char *lowers[] = {lower, NULL};
    struct berth_apply_opts opts = {.mode = BERTH_APPLY_OVERLAY, .lowers = lowers};
    struct tarw t;
    struct stat st;
    char dg[72];

    mkdir(lower, 0755);
    mkdir(lp, 0710);
    chmod(lp, 0710);
    tarw_open(&t, e, "noparent.tar");
    tarw_add(&t, "p/x", AE_IFREG, 0644, "x", NULL, false);
    _cleanup_free_ char *path = tarw_close(&t);
    _cleanup_close_ int fd = open(path, O_RDONLY);
    assert_ok(berth_apply_layer_opts(fd, e->rootfd, &opts, dg, NULL, &err), &err);
    assert_true(at_exists(e, "p", &st));
    assert_int_equal(st.st_mode & 07777, 0710);
    assert_true(at_exists(e, "p/x", NULL));
}

static void test_apply_modes_owners_specials(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct stat st;
    char buf[64];
    ssize_t n;

    assert_ok(apply_layer(e, "modes.tar", BERTH_APPLY_NATIVE, &err), &err);
    assert_true(at_exists(e, "suid", &st));
    assert_int_equal(st.st_mode & 07777, 04755);
    assert_true(at_exists(e, "sticky", &st));
    assert_int_equal(st.st_mode & 07777, 01777);
    assert_true(at_exists(e, "sgid", &st));
    assert_int_equal(st.st_mode & 07777, 02750);
    assert_true(at_exists(e, "fifo", &st));
    assert_true(S_ISFIFO(st.st_mode));
    assert_true(at_exists(e, "link", &st));
    assert_true(S_ISLNK(st.st_mode));
    n = readlinkat(e->rootfd, "link", buf, sizeof(buf) - 1);
    assert_int_equal(n, 7);
    buf[n] = '\0';
    assert_string_equal(buf, "d/owned");
    assert_true(at_exists(e, "d/owned", &st));
    assert_int_equal(st.st_mode & 07777, 0640);
    if (geteuid() != 0)
        return;
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 2000);
    assert_true(at_exists(e, "null", &st));
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(1, 3));
}

static void test_apply_devices_and_xattrs(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct stat st;
    struct tarw t;
    char dg[72], val[8] = "";

    tarw_open(&t, e, "special.tar");
    tarw_add(&t, "dev/", AE_IFDIR, 0755, NULL, NULL, false);
    tarw_add(&t, "dev/full", AE_IFCHR, 0666, NULL, NULL, false);
    tarw_add(&t, "xattr", AE_IFREG, 0644, "data", NULL, false);
    _cleanup_free_ char *p = tarw_close(&t);
    assert_ok(apply_file(e, p, BERTH_APPLY_NATIVE, dg, NULL, &err), &err);
    _cleanup_free_ char *x = berth_strdup_printf("%s/xattr", e->root);
    if (getxattr(x, "user.berth", val, sizeof(val)) >= 0)
        assert_string_equal(val, "yes");
    else
        assert_int_equal(errno, ENOTSUP);
    if (geteuid() != 0)
        return;
    assert_true(at_exists(e, "dev/full", &st));
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(1, 7));
    assert_int_equal(st.st_mode & 07777, 0666);
}

static void test_apply_absolute_names_are_clamped(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;

    assert_ok(apply_layer(e, "abs.tar", BERTH_APPLY_NATIVE, &err), &err);
    assert_true(at_exists(e, "abs/file", NULL));
}

static void test_apply_relative_symlink_parent_inside_root(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct tarw t;
    char dg[72];

    tarw_open(&t, e, "usrmerge.tar");
    tarw_add(&t, "usr/lib/", AE_IFDIR, 0755, NULL, NULL, false);
    tarw_add(&t, "lib", AE_IFLNK, 0777, NULL, "usr/lib", false);
    tarw_add(&t, "lib/libx.so", AE_IFREG, 0644, "elf", NULL, false);
    tarw_add(&t, "libx-link", AE_IFREG, 0644, NULL, "usr/lib/libx.so", true);
    _cleanup_free_ char *p = tarw_close(&t);
    assert_ok(apply_file(e, p, BERTH_APPLY_NATIVE, dg, NULL, &err), &err);
    assert_true(at_exists(e, "usr/lib/libx.so", NULL));
    assert_true(at_exists(e, "libx-link", NULL));
}

static void test_apply_replaces_existing_entries(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct tarw t;
    struct stat st;
    char dg[72];
    _cleanup_free_ char *target = berth_strdup_printf("%s/target", e->sentinel);

    /* a file where a dir was, a dir where a file was, a file over a symlink pointing out */
    assert_int_equal(mkdirat(e->rootfd, "wasdir", 0755), 0);
    assert_int_equal(mkdirat(e->rootfd, "wasdir/child", 0755), 0);
    close(openat(e->rootfd, "wasfile", O_CREAT | O_WRONLY, 0644));
    close(open(target, O_CREAT | O_WRONLY, 0644));
    assert_int_equal(symlinkat(target, e->rootfd, "out"), 0);
    tarw_open(&t, e, "replace.tar");
    tarw_add(&t, "wasdir", AE_IFREG, 0644, "now a file", NULL, false);
    tarw_add(&t, "wasfile/", AE_IFDIR, 0755, NULL, NULL, false);
    tarw_add(&t, "out", AE_IFREG, 0644, "not written through", NULL, false);
    _cleanup_free_ char *p = tarw_close(&t);
    assert_ok(apply_file(e, p, BERTH_APPLY_NATIVE, dg, NULL, &err), &err);
    assert_true(at_exists(e, "wasdir", &st) && S_ISREG(st.st_mode));
    assert_true(at_exists(e, "wasfile", &st) && S_ISDIR(st.st_mode));
    assert_true(at_exists(e, "out", &st) && S_ISREG(st.st_mode));
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_size, 0);
}

static void test_apply_hostile_layers_refused(void **state)
{
    static const char *const evil[] = {"evil-traversal.tar", "evil-symlink.tar",
                                       "evil-hardlink.tar"};
    struct env *e = *state;
    _cleanup_free_ char *victim_dir = berth_strdup_printf("%s/etc", e->sentinel);
    _cleanup_free_ char *victim = berth_strdup_printf("%s/etc/passwd", e->sentinel);
    struct stat st;
    size_t before;

    /* what a broken "../../etc/passwd" would resolve to from the root */
    mkdir(victim_dir, 0755);
    close(open(victim, O_CREAT | O_WRONLY, 0644));
    assert_int_not_equal(access("/etc/evil", F_OK), 0);
    before = count_entries(e->tmp->dir, e->root);
    for (size_t i = 0; i < BERTH_N(evil); i++) {
        struct berth_err *err = NULL;
        if (apply_layer(e, evil[i], BERTH_APPLY_NATIVE, &err) == 0)
            fail_msg("%s applied", evil[i]);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        if (apply_layer(e, evil[i], BERTH_APPLY_OVERLAY, &err) == 0)
            fail_msg("%s applied (overlay)", evil[i]);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
    assert_int_equal(count_entries(e->tmp->dir, e->root), before);
    assert_int_not_equal(access("/etc/evil", F_OK), 0);
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_nlink, 1);
}

static void test_apply_crafted_escapes_refused(void **state)
{
    static const struct {
        const char *name, *link;
        mode_t type;
        bool hard;
    } cases[] = {
        {"a/../../x", NULL, AE_IFREG, false}, {"d/.wh...", NULL, AE_IFREG, false},
        {"d/.wh..", NULL, AE_IFREG, false},   {"h", "a/../../../x", AE_IFREG, true},
        {"h2", "/", AE_IFREG, true},
    };
    struct env *e = *state;

    for (size_t i = 0; i < BERTH_N(cases); i++) {
        struct berth_err *err = NULL;
        struct tarw t;
        char dg[72], nm[32];
        snprintf(nm, sizeof(nm), "crafted%zu.tar", i);
        tarw_open(&t, e, nm);
        tarw_add(&t, cases[i].name, cases[i].type, 0644, cases[i].link ? NULL : "x", cases[i].link,
                 cases[i].hard);
        _cleanup_free_ char *p = tarw_close(&t);
        if (apply_file(e, p, BERTH_APPLY_NATIVE, dg, NULL, &err) == 0)
            fail_msg("case %zu (%s) applied", i, cases[i].name);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
}

static void test_apply_corrupt_input_is_invalid(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *src =
        berth_strdup_printf("%s/layers/busybox.tar.gz", berth_test_images_dir());
    _cleanup_free_ char *p = berth_strdup_printf("%s/cut.tar.gz", e->tmp->dir);
    _cleanup_free_ char *cmd = berth_strdup_printf("head -c 300000 %s > %s", src, p);
    _cleanup_free_ char *q = berth_strdup_printf("%s/garbage", e->tmp->dir);
    _cleanup_free_ char *cmd2 =
        berth_strdup_printf("head -c 4096 /dev/urandom > %s; printf '\\x1f\\x8b\\x08' | "
                            "cat - %s > %s.gz",
                            q, q, q);
    struct berth_err *err = NULL;
    char dg[72];

    assert_int_equal(system(cmd), 0);
    assert_int_equal(apply_file(e, p, BERTH_APPLY_NATIVE, dg, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(system(cmd2), 0);
    _cleanup_free_ char *qgz = berth_strdup_printf("%s.gz", q);
    assert_int_equal(apply_file(e, qgz, BERTH_APPLY_NATIVE, dg, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

/* From here on openat2 answers ENOSYS for this process and its children. */
static int without_openat2(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc = -1;

    if (ctx && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0) == 0)
        rc = seccomp_load(ctx); /* sets no_new_privs first */
    seccomp_release(ctx);
    return rc == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_apply_busybox_hardlinks_and_digest),
        T(test_apply_compressed_digest_is_uncompressed),
        T(test_apply_trailing_bytes_are_digested),
        T(test_apply_native_whiteout_and_opaque),
        T(test_apply_overlay_whiteout_and_opaque),
        T(test_apply_overlay_copies_lower_parent),
        T(test_apply_modes_owners_specials),
        T(test_apply_devices_and_xattrs),
        T(test_apply_absolute_names_are_clamped),
        T(test_apply_relative_symlink_parent_inside_root),
        T(test_apply_replaces_existing_entries),
        T(test_apply_hostile_layers_refused),
        T(test_apply_crafted_escapes_refused),
        T(test_apply_corrupt_input_is_invalid),
#undef T
    };
    int failed = cmocka_run_group_tests_name("apply", tests, berth_test_images_setup,
                                             berth_test_images_teardown);

    /* Again as on a kernel without openat2 (before 5.6): the same layers, through the walk. */
    if (without_openat2() < 0) {
        fprintf(stderr, "cannot install the seccomp filter that hides openat2\n");
        return 1;
    }
    return failed + cmocka_run_group_tests_name("apply without openat2", tests,
                                                berth_test_images_setup,
                                                berth_test_images_teardown);
}
