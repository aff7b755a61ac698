/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: registry hosts.toml (images/remote/hosts.c) as berthd resolves it for
 * docker.io: the input is written to <tmp>/docker.io/hosts.toml (one temp dir per process,
 * removed at exit). Checks the header's promises about the endpoint list. */
#include "tests/fuzz/fuzz.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/remote/hosts.h"

static char root[64], file[128], dir[128];

static void cleanup(void)
{
    unlink(file);
    rmdir(dir);
    rmdir(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berth_registry_hosts h;
    struct berth_err *err = NULL;
    int fd;

    if (!root[0]) {
        snprintf(root, sizeof(root), "%s/berth-fuzz-hosts.XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        FUZZ_CHECK(mkdtemp(root) != NULL);
        snprintf(dir, sizeof(dir), "%s/docker.io", root);
        snprintf(file, sizeof(file), "%s/hosts.toml", dir);
        FUZZ_CHECK(mkdir(dir, 0700) == 0);
        atexit(cleanup);
    }
    fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
    close(fd);

    if (berth_registry_hosts_resolve(root, "docker.io", size && (data[0] & 1), &h, &err) < 0) {
        FUZZ_CHECK(h.n == 0 && h.v == NULL);
        fuzz_err_consume(&err);
        return 0;
    }
    FUZZ_CHECK(h.n >= 1 && !h.v[h.n - 1].is_mirror);
    for (size_t i = 0; i < h.n; i++) {
        const struct berth_registry_host *e = &h.v[i];
        FUZZ_CHECK(!strcmp(e->scheme, "http") || !strcmp(e->scheme, "https"));
        FUZZ_CHECK(e->host && e->path && e->ca_files && e->client_certs && e->client_keys &&
                   e->headers);
        for (char **hd = e->headers; *hd; hd++)
            FUZZ_CHECK(!strchr(*hd, '\n') && !strchr(*hd, '\r'));
    }
    berth_registry_hosts_clear(&h);
    return 0;
}
