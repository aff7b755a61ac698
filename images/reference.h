/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image references as docker and containerd parse and normalize them:
 * `[domain[:port]/]path[:tag][@digest]`, with docker.io as the default domain, "library/" for
 * one-component docker.io names and ":latest" when neither tag nor digest is given
 * (`busybox` -> `docker.io/library/busybox:latest`). A reference with both tag and digest
 * keeps only the digest, as containerd's ParseDockerRef does. Pure string code; lib/ only.
 */
#ifndef BERTH_IMAGES_REFERENCE_H
#define BERTH_IMAGES_REFERENCE_H

#include "lib/err.h"
#include "lib/util.h"

/* Longest repository name (domain + "/" + path) docker accepts. */
#define BERTH_REF_NAME_MAX 255

struct berth_image_ref { /* owns every field */
    char *domain;        /* "docker.io", "localhost:5000", "[::1]:5000" */
    char *path;          /* "library/busybox" */
    char *tag;           /* NULL if none */
    char *digest;        /* NULL if none; "sha256:<hex>" */
};

void berth_image_ref_clear(struct berth_image_ref *r); /* NULL-safe; leaves r zeroed */

/* Parses and normalizes s into *out (zeroed first; on failure left zeroed). Adds the default
 * domain and "library/", drops the tag when a digest is present and adds "latest" when neither
 * is. INVALID_ARGUMENT naming s: empty, upper-case path, bad domain, port, path component,
 * tag or digest, a name longer than BERTH_REF_NAME_MAX, or a bare 64-hex id. */
int berth_image_ref_parse(const char *s, struct berth_image_ref *out, struct berth_err **err);

/* The normalized reference string, e.g. "docker.io/library/busybox:latest" or
 * "localhost:5000/x@sha256:...". Caller-owned. */
char *berth_image_ref_string(const struct berth_image_ref *r);
/* "domain/path", caller-owned. */
char *berth_image_ref_name(const struct berth_image_ref *r);
/* The short form docker prints: the docker.io domain and "library/" dropped
 * ("busybox:latest", "foo/bar:1"); other domains kept. Caller-owned. */
char *berth_image_ref_familiar(const struct berth_image_ref *r);

/* One-shot: berth_image_ref_parse + berth_image_ref_string. *out caller-owned; NULL on
 * failure. */
int berth_image_ref_normalize(const char *s, char **out, struct berth_err **err);

#endif
