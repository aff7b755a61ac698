/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: layer apply (images/apply.c): the input is a layer blob (tar, or gzip/zstd
 * around one: apply sniffs it) extracted into a fresh root per input, NATIVE mode for inputs of
 * even length and OVERLAY for odd ones. Beyond crashes, a finding is anything written outside
 * the root. Layout, made once per process under $TMPDIR:
 *   <base>/run/root      the root a layer goes into (recreated for every input)
 *   <base>/outside/      a trap: the seed corpus points `../`, absolute symlinks (seeds use
 *                        /tmp/berth-fuzz-outside, made a symlink to it) and hardlinks here
 *   <base>/outside/file  its nlink and size must not change
 * After each input, run/ must hold only root, base/ only run and outside, outside/ only file.
 */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sys/mman.h> /* memfd_create */
#include <sys/stat.h>
#include <unistd.h>

#include "images/apply.h"
#include "lib/fs.h"

/* The fixed path seeds aim absolute symlinks and hardlinks at. */
#define OUTSIDE_LINK "/tmp/berth-fuzz-outside"

static char base[128], run[160], root[176], outside[160], trap[176];

static void cleanup(void)
{
    struct berth_err *err = NULL;

    if (readlink(OUTSIDE_LINK, trap, sizeof(trap)) > 0)
        unlink(OUTSIDE_LINK);
    if (berth_rmrf(base, &err) < 0)
        berth_err_free(&err);
}

static void setup(void)
{
    int fd;

    snprintf(base, sizeof(base), "%s/berth-fuzz-apply.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    FUZZ_CHECK(mkdtemp(base) != NULL);
    snprintf(run, sizeof(run), "%s/run", base);
    snprintf(root, sizeof(root), "%s/root", run);
    snprintf(outside, sizeof(outside), "%s/outside", base);
    snprintf(trap, sizeof(trap), "%s/file", outside);
    FUZZ_CHECK(mkdir(run, 0755) == 0 && mkdir(outside, 0755) == 0);
    fd = open(trap, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    FUZZ_CHECK(fd >= 0 && write(fd, "trap", 4) == 4);
    close(fd);
    /* Several fuzzing processes (bench/fuzz.sh JOBS) may race here; the last one wins, and
     * an escape into any of their trap dirs is still found by that process's checks. */
    unlink(OUTSIDE_LINK);
    (void)symlink(outside, OUTSIDE_LINK);
    atexit(cleanup);
}

/* dir holds exactly the names given (NULL-terminated). */
static void check_only(const char *dir, const char *const *names)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t seen = 0, want = 0;

    FUZZ_CHECK(d != NULL);
    while (names[want])
        want++;
    while ((de = readdir(d))) {
        bool ok = false;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        for (size_t i = 0; names[i]; i++)
            ok |= !strcmp(de->d_name, names[i]);
        if (!ok) {
            fprintf(stderr, "layer wrote \"%s\" into %s, outside the root\n", de->d_name, dir);
            FUZZ_CHECK(!"layer escaped its root");
        }
        seen++;
    }
    closedir(d);
    FUZZ_CHECK(seen == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const run_names[] = {"root", NULL},
                             *const base_names[] = {"run", "outside", NULL},
                             *const outside_names[] = {"file", NULL};
    struct berth_err *err = NULL;
    char digest[72];
    int64_t got = -1;
    struct stat st;
    int blob, rootfd;

    if (!base[0])
        setup();
    FUZZ_CHECK(mkdir(root, 0755) == 0);
    rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    blob = memfd_create("layer", MFD_CLOEXEC);
    FUZZ_CHECK(rootfd >= 0 && blob >= 0);
    FUZZ_CHECK(size == 0 || write(blob, data, size) == (ssize_t)size);
    FUZZ_CHECK(lseek(blob, 0, SEEK_SET) == 0);

    if (berth_apply_layer(blob, rootfd, size % 2 ? BERTH_APPLY_OVERLAY : BERTH_APPLY_NATIVE, digest,
                          &got, &err) < 0) {
        fuzz_err_consume(&err);
    } else {
        FUZZ_CHECK(strncmp(digest, "sha256:", 7) == 0 && strlen(digest) == 71 && got >= 0);
    }
    close(blob);
    close(rootfd);

    check_only(run, run_names);
    check_only(base, base_names);
    check_only(outside, outside_names);
    FUZZ_CHECK(lstat(trap, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 && st.st_size == 4);
    if (berth_rmrf(root, &err) < 0) {
        fprintf(stderr, "remove %s: %s\n", root, err->msg);
        FUZZ_CHECK(!"cannot clean the root up");
    }
    return 0;
}
