/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/beneath.c: every case runs through the kernel's openat2 and through the
 * component walk used without it, and both must agree. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/beneath.h"
#include "lib/util.h"

/* Layout under <tmp>/root (and a file outside it):
 *   d/f (file "in")  d/e/ (dir)  up -> ..  out -> ../outside  abs -> /etc  rel -> d/f
 *   dl -> d  loop1 -> loop2 -> loop1  chain -> dl/e  file (file)
 * <tmp>/outside (file) */
static int setup(void **state)
{
    struct berth_test_env *env;
    char path[4096];
    int fd;

    if (berth_test_setup_tmpdir(state) < 0)
        return -1;
    env = *state;
    snprintf(path, sizeof(path), "%s/root", env->dir);
    if (mkdir(path, 0755) < 0)
        return -1;
    fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || mkdirat(fd, "d", 0755) < 0 || mkdirat(fd, "d/e", 0755) < 0)
        return -1;
    close(openat(fd, "d/f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    close(openat(fd, "file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    if (symlinkat("..", fd, "up") < 0 || symlinkat("../outside", fd, "out") < 0 ||
        symlinkat("/etc", fd, "abs") < 0 || symlinkat("d/f", fd, "rel") < 0 ||
        symlinkat("d", fd, "dl") < 0 || symlinkat("loop2", fd, "loop1") < 0 ||
        symlinkat("loop1", fd, "loop2") < 0 || symlinkat("dl/e", fd, "chain") < 0)
        return -1;
    close(fd);
    snprintf(path, sizeof(path), "%s/outside", env->dir);
    close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    return 0;
}

static int root_fd(struct berth_test_env *env)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/root", env->dir);
    return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

struct outcome {
    int err; /* 0: opened */
    mode_t type;
    ino_t ino;
};

static struct outcome try_open(int (*fn)(int, const char *, int), int dfd, const char *rel,
                               int flags)
{
    struct outcome o = {0};
    struct stat st;
    int fd;

    errno = 0;
    fd = fn(dfd, rel, flags);
    if (fd < 0) {
        o.err = errno;
        return o;
    }
    assert_int_equal(fstat(fd, &st), 0);
    o.type = st.st_mode & S_IFMT;
    o.ino = st.st_ino;
    close(fd);
    return o;
}

static void test_beneath_walk_agrees_with_openat2(void **state)
{
    static const struct {
        const char *rel;
        int flags;
        int err;     /* expected */
        mode_t type; /* when opened */
    } cases[] = {
        {"", O_RDONLY | O_DIRECTORY, 0, S_IFDIR},
        {".", O_RDONLY | O_DIRECTORY, 0, S_IFDIR},
        {"d/f", O_RDONLY, 0, S_IFREG},
        {"d//e/", O_RDONLY | O_DIRECTORY, 0, S_IFDIR},
        {"d/e/..", O_RDONLY | O_DIRECTORY, 0, S_IFDIR},
        {"d/./e/../f", O_RDONLY, 0, S_IFREG},
        {"rel", O_RDONLY, 0, S_IFREG},
        {"dl/e", O_RDONLY | O_DIRECTORY, 0, S_IFDIR},
        {"chain", O_RDONLY | O_DIRECTORY, 0, S_IFDIR},
        {"rel", O_PATH | O_NOFOLLOW, 0, S_IFLNK},
        {"abs", O_PATH | O_NOFOLLOW, 0, S_IFLNK},
        {"..", O_RDONLY | O_DIRECTORY, EXDEV, 0},
        {"/d/f", O_RDONLY, EXDEV, 0},
        {"d/../..", O_RDONLY | O_DIRECTORY, EXDEV, 0},
        {"../outside", O_RDONLY, EXDEV, 0},
        {"up", O_RDONLY | O_DIRECTORY, EXDEV, 0},
        {"up/outside", O_RDONLY, EXDEV, 0},
        {"out", O_RDONLY, EXDEV, 0},
        {"abs", O_RDONLY, EXDEV, 0},
        {"abs/passwd", O_RDONLY, EXDEV, 0},
        {"loop1", O_RDONLY, ELOOP, 0},
        {"rel", O_RDONLY | O_NOFOLLOW, ELOOP, 0},
        {"file/x", O_RDONLY, ENOTDIR, 0},
        {"d/f", O_RDONLY | O_DIRECTORY, ENOTDIR, 0},
        {"nope/x", O_RDONLY, ENOENT, 0},
        {"d/nope", O_RDONLY, ENOENT, 0},
    };
    struct berth_test_env *env = *state;
    _cleanup_close_ int dfd = root_fd(env);

    assert_true(dfd >= 0);
    for (size_t i = 0; i < BERTH_N(cases); i++) {
        struct outcome k = try_open(berth_open_beneath, dfd, cases[i].rel, cases[i].flags);
        struct outcome w = try_open(berth_open_beneath_walk, dfd, cases[i].rel, cases[i].flags);
        if (k.err != cases[i].err || w.err != cases[i].err)
            fail_msg("case %zu \"%s\": kernel errno %d, walk errno %d, want %d", i, cases[i].rel,
                     k.err, w.err, cases[i].err);
        if (cases[i].err)
            continue;
        if (k.type != cases[i].type || w.type != cases[i].type || k.ino != w.ino)
            fail_msg("case %zu \"%s\": kernel type %o ino %lu, walk type %o ino %lu", i,
                     cases[i].rel, (unsigned)k.type, (unsigned long)k.ino, (unsigned)w.type,
                     (unsigned long)w.ino);
    }
}

static void test_beneath_walk_limits(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_close_ int dfd = root_fd(env);
    char name[300];
    int fd;

    assert_true(dfd >= 0);
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    errno = 0;
    fd = berth_open_beneath_walk(dfd, name, O_RDONLY);
    assert_int_equal(fd, -1);
    assert_int_equal(errno, ENAMETOOLONG);
    /* no descriptor is left behind by a failed or successful walk */
    for (int i = 0; i < 100; i++) {
        fd = berth_open_beneath_walk(dfd, "dl/e/../../up/x", O_RDONLY);
        assert_int_equal(fd, -1);
        fd = berth_open_beneath_walk(dfd, "chain/../f", O_RDONLY);
        assert_true(fd >= 0);
        close(fd);
    }
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd < 20);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_beneath_walk_agrees_with_openat2, setup,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_beneath_walk_limits, setup,
                                        berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
