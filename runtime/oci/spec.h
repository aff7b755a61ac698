/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI runtime spec generation: the default Linux spec containerd 1.6 gives `ctr run`
 * (oci.populateDefaultUnixSpec + mounts), with the image config and the user's ctr-style
 * options applied on top in ctr's order. Specs are jansson objects whose key order matches
 * the Go runtime-spec structs, so dumps compare 1:1 with containerd's. The image config comes
 * parsed from images/manifest.h. See docs/oci.md.
 */
#ifndef BERTH_RUNTIME_OCI_SPEC_H
#define BERTH_RUNTIME_OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h> /* json_t in the API */

#include "lib/err.h"
#include "lib/labels.h"

/* The image config (images/manifest.h, berth_image_config_parse): only read, for args, env,
 * user and working dir. Declared here so this header stays free of images/. */
struct berth_image_config;

/* What to build. Everything is borrowed for the duration of the call; zero/NULL means
 * "containerd's default". String vectors are NULL-terminated. */
struct berth_oci_opts {
    const char *ns;                         /* required: cgroupsPath "/<ns>/<id>" */
    const char *id;                         /* required */
    const struct berth_image_config *image; /* optional: args/env/user/cwd source */
    const char *rootfs_dir;  /* host path of the rootfs: /etc/passwd, /etc/group lookups */
    const char *root_path;   /* root.path; default "rootfs" (relative to the bundle) */
    const char *const *args; /* replace the image's Cmd (its Entrypoint stays) */
    const char *const *env;  /* "K=V" overrides image env; "K" alone unsets K */
    const char *cwd;
    const char *user; /* "uid", "uid:gid", "name", "name:group" (mixed forms too) */
    const char *hostname;
    const char *const *annotations; /* "k=v" */
    const char *const *mounts;      /* ctr --mount: "type=bind,src=/a,dst=/b,options=rbind:ro" */
    bool tty;                       /* terminal + TERM=xterm */
    unsigned console_width, console_height; /* tty: process.consoleSize when both > 0 */
    bool net_host;   /* no netns, host /etc/hosts + /etc/resolv.conf, HOSTNAME env */
    bool privileged; /* all current caps, no masked/readonly paths, all devices, rw sysfs */
    bool readonly_rootfs;
    bool seccomp;         /* add the default profile (ignored when privileged) */
    bool default_devices; /* ctr run's cgroup allow rules for null, zero, full, tty, ... */
    double cpus;          /* > 0: CFS quota cpus*100000 per 100000 period */
    int64_t memory_limit; /* > 0: bytes */
};

/* Builds the spec. No args anywhere (options and image) leaves process.args out, as
 * `ctr oci spec` does. BERTH_E_INVALID_ARGUMENT for a missing ns/id, a malformed user,
 * mount, annotation or env entry, a relative cwd, or negative cpus/memory;
 * BERTH_E_NOT_FOUND when a user or group name is absent from the rootfs' /etc/passwd or
 * /etc/group (or the file is missing); BERTH_E_INTERNAL for I/O errors reading them.
 * On success *out is a new reference owned by the caller (json_decref). */
int berth_oci_spec_build(const struct berth_oci_opts *o, json_t **out, struct berth_err **err);

/* Pretty-printed JSON (4-space indent, key order kept) for config.json; caller frees.
 * Aborts on OOM. */
char *berth_oci_spec_dump(const json_t *spec);

#endif
