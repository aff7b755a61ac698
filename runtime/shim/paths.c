/* SPDX-License-Identifier: Apache-2.0 */
/* Path conventions of the shim: the state dir a bundle belongs to, the ttrpc socket name
 * (containerd's hashing, with the directory taken from the bundle instead of hard-coded) and
 * the stdio URIs the daemon sends. Pure code, unit tested. */
#include <stdio.h>
#include <string.h>

#include "lib/sha256.h"
#include "lib/util.h"
#include "runtime/shim/shim.h"

#define TASK_DIR       "io.containerd.runtime.v2.task" /* containerd's bundles */
#define BERTH_TASK_DIR "tasks"                         /* berthd's: <state>/tasks/<ns>/<id> */
#define FALLBACK_STATE "/run/berth"
#define SUN_PATH_MAX   107 /* sizeof(sockaddr_un.sun_path) - 1 */

int berth_shim_state_dir(const char *bundle, char *buf, size_t len, struct berth_err **err)
{
    const char *end = bundle + strlen(bundle), *comp[3];
    int k = 0;

    /* Walk three components up: <state>/<TASK_DIR or BERTH_TASK_DIR>/<ns>/<id>. */
    while (end > bundle && end[-1] == '/')
        end--;
    while (k < 3 && end > bundle) {
        const char *p = end;
        while (p > bundle && p[-1] != '/')
            p--;
        comp[k++] = p;
        end = p;
        while (end > bundle && end[-1] == '/')
            end--;
    }
    if (k == 3 && bundle[0] == '/' && end > bundle &&
        (strncmp(comp[2], TASK_DIR "/", sizeof(TASK_DIR)) == 0 ||
         strncmp(comp[2], BERTH_TASK_DIR "/", sizeof(BERTH_TASK_DIR)) == 0)) {
        size_t n = (size_t)(end - bundle);
        if (n + 1 > len)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "state dir of \"%s\" too long",
                                 bundle);
        memcpy(buf, bundle, n);
        buf[n] = '\0';
        return 0;
    }
    if (snprintf(buf, len, "%s", FALLBACK_STATE) >= (int)len)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "buffer too small");
    return 0;
}

int berth_shim_socket_path(const char *state, const char *address, const char *ns, const char *id,
                           char *buf, size_t len, struct berth_err **err)
{
    struct berth_sha256 c;
    uint8_t d[32];
    char hex[33];
    int n;

    berth_sha256_init(&c);
    berth_sha256_update(&c, address, strlen(address));
    berth_sha256_update(&c, "/", 1);
    berth_sha256_update(&c, ns, strlen(ns));
    berth_sha256_update(&c, "/", 1);
    berth_sha256_update(&c, id, strlen(id));
    berth_sha256_final(&c, d);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    n = snprintf(buf, len, "%s/s/%s", state, hex);
    if (n < 0 || (size_t)n >= len || n > SUN_PATH_MAX)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "shim socket path under \"%s\" is too long", state);
    return 0;
}

int berth_shim_io_parse(const char *uri, enum berth_shim_io_kind *kind, const char **path,
                        struct berth_err **err)
{
    const char *colon;

    *kind = BERTH_SHIM_IO_NONE;
    *path = NULL;
    if (!uri || !*uri)
        return 0;
    colon = strstr(uri, "://");
    if (!colon) {
        if (uri[0] != '/')
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "stdio path \"%s\" is not absolute", uri);
        *kind = BERTH_SHIM_IO_FIFO;
        *path = uri;
        return 0;
    }
    if (berth_str_has_prefix(uri, "attach://")) {
        *kind = BERTH_SHIM_IO_ATTACH;
        *path = uri;
        return 0;
    }
    if (berth_str_has_prefix(uri, "file://") || berth_str_has_prefix(uri, "fifo://") ||
        berth_str_has_prefix(uri, "crilog://")) {
        const char *p = colon + 3;
        if (p[0] != '/')
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "stdio uri \"%s\" has no absolute path", uri);
        *kind = berth_str_has_prefix(uri, "file://")     ? BERTH_SHIM_IO_FILE
                : berth_str_has_prefix(uri, "crilog://") ? BERTH_SHIM_IO_CRILOG
                                                         : BERTH_SHIM_IO_FIFO;
        *path = p;
        return 0;
    }
    return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0, "stdio uri scheme of \"%s\" unsupported",
                         uri);
}
