/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: a `localhost/` seccomp profile (runtime/oci/opts-security.c,
 * berth_oci_with_seccomp_file) read into the default spec. The profile is served from a memfd
 * through /proc/self/fd, so nothing touches the disk. */
#include "tests/fuzz/fuzz.h"

#include <sys/mman.h> /* memfd_create */
#include <unistd.h>

#include "runtime/oci/opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *base;
    struct berth_err *err = NULL;
    char path[64];
    json_t *spec;
    char *out;
    int fd;

    if (!base)
        base = berth_oci_default_spec("default", "fuzz");
    spec = json_deep_copy(base);
    fd = memfd_create("seccomp", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (berth_oci_with_seccomp_file(spec, path, &err) < 0) {
        FUZZ_CHECK(err->code == BERTH_E_INVALID_ARGUMENT);
        fuzz_err_consume(&err);
    } else {
        /* What the shim hands runc must serialize. */
        out = json_dumps(spec, JSON_COMPACT);
        FUZZ_CHECK(out != NULL);
        free(out);
    }
    close(fd);
    json_decref(spec);
    return 0;
}
