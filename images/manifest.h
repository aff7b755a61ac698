/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI and docker image documents: media types, descriptors, indexes, manifests, image configs
 * and `docker save` manifest.json files, parsed with jansson into owned structs; platforms
 * ("linux/arm64/v8") parsed, normalized and matched the way containerd's platforms package
 * does; chain IDs of a diff ID list. The one image config parser (runtime/oci takes its struct
 * as input). Pure data code: lib/, metadata/images.h (the descriptor struct) and jansson.
 */
#ifndef BERTH_IMAGES_MANIFEST_H
#define BERTH_IMAGES_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/labels.h"
#include "metadata/images.h" /* struct berth_descriptor */

#define BERTH_MT_OCI_INDEX         "application/vnd.oci.image.index.v1+json"
#define BERTH_MT_OCI_MANIFEST      "application/vnd.oci.image.manifest.v1+json"
#define BERTH_MT_OCI_CONFIG        "application/vnd.oci.image.config.v1+json"
#define BERTH_MT_OCI_LAYER         "application/vnd.oci.image.layer.v1.tar"
#define BERTH_MT_DOCKER_LIST       "application/vnd.docker.distribution.manifest.list.v2+json"
#define BERTH_MT_DOCKER_MANIFEST   "application/vnd.docker.distribution.manifest.v2+json"
#define BERTH_MT_DOCKER_CONFIG     "application/vnd.docker.container.image.v1+json"
#define BERTH_MT_DOCKER_LAYER      "application/vnd.docker.image.rootfs.diff.tar"
#define BERTH_MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* Annotations naming an image in an OCI layout's index.json. */
#define BERTH_ANNOT_IMAGE_NAME "io.containerd.image.name"
#define BERTH_ANNOT_REF_NAME   "org.opencontainers.image.ref.name"

enum berth_oci_kind {
    BERTH_OCI_UNKNOWN = 0,
    BERTH_OCI_INDEX,    /* OCI index or docker manifest list */
    BERTH_OCI_MANIFEST, /* OCI or docker schema 2 manifest */
    BERTH_OCI_CONFIG,
    BERTH_OCI_LAYER,
};
/* The kind of document a media type names (layers: any OCI/docker layer type). */
enum berth_oci_kind berth_oci_media_kind(const char *media_type);

/* A platform (os/architecture/variant). Owns its strings; variant NULL when none. */
struct berth_platform {
    char *os, *arch, *variant;
};
void berth_platform_clear(struct berth_platform *p); /* NULL-safe; leaves p zeroed */
/* Normalizes in place as containerd: lower case; x86_64/x86-64 -> amd64 (no variant), i386 ->
 * 386, aarch64 -> arm64 (variant "8"/"v8" dropped), armhf -> arm/v7, armel -> arm/v6, arm
 * variants "5".."8" -> "v5".."v8" and no variant -> "v7"; os "macos" -> "darwin". */
void berth_platform_normalize(struct berth_platform *p);
/* Parses a specifier "<os>", "<arch>", "<os>/<arch>" or "<os>/<arch>/<variant>" (a lone
 * known OS gets the host architecture, a lone architecture the host OS) and normalizes it.
 * INVALID_ARGUMENT naming s for an empty string, empty components or more than three.
 * *out is zeroed first and filled on success (caller clears). */
int berth_platform_parse(const char *s, struct berth_platform *out, struct berth_err **err);
/* The normalized platform of this machine (uname; arm variant v7 on 32-bit arm). */
void berth_platform_host(struct berth_platform *out);
/* "os/arch[/variant]", caller-owned. */
char *berth_platform_format(const struct berth_platform *p);
/* How well have (as found in an index, normalized here) satisfies want (normalized): 0 for
 * an exact match, a higher number for a compatible fallback (arm64 runs arm/v8..v5, arm/vN
 * runs arm/vN-1..v5, amd64 runs 386), -1 for no match. */
int berth_platform_rank(const struct berth_platform *want, const struct berth_platform *have);

/* A descriptor with its optional platform. */
struct berth_oci_desc {
    struct berth_descriptor d;
    bool has_platform;
    struct berth_platform platform;
};
void berth_oci_desc_clear(struct berth_oci_desc *d);

struct berth_oci_index { /* owns every field */
    char *media_type;    /* as written, may be NULL */
    struct berth_oci_desc *manifests;
    size_t n_manifests;
};
void berth_oci_index_free(struct berth_oci_index *ix); /* NULL-safe */
DEFINE_CLEANUP(struct berth_oci_index *, berth_oci_index_free)

struct berth_oci_manifest { /* owns every field */
    char *media_type;       /* as written, may be NULL */
    struct berth_oci_desc config;
    struct berth_oci_desc *layers;
    size_t n_layers;
};
void berth_oci_manifest_free(struct berth_oci_manifest *m); /* NULL-safe */
DEFINE_CLEANUP(struct berth_oci_manifest *, berth_oci_manifest_free)

/* An image config (image-spec config.json, docker's container.image.v1): every field images/
 * and runtime/oci use, one struct for both (containerd's ocispec.Image). Owns every field;
 * string vectors are NULL-terminated and NULL when the config leaves them unset ([] gives an
 * empty vector). */
struct berth_image_config {
    struct berth_platform platform; /* architecture, os, variant as written, not normalized */
    char *user;                     /* config.User, e.g. "www:staff" */
    char *working_dir;
    char *stop_signal;
    char **entrypoint;
    char **cmd;
    char **env;                 /* "KEY=value" */
    struct berth_labels labels; /* empty-valued labels are dropped (berth_labels_set rule) */
    char **volumes;             /* config.Volumes' paths, NULL-terminated; NULL when none */
    char **diff_ids;            /* rootfs.diff_ids, validated digests; never NULL */
    size_t n_diff_ids;
};
void berth_image_config_free(struct berth_image_config *c); /* NULL-safe */
DEFINE_CLEANUP(struct berth_image_config *, berth_image_config_free)

/* One entry of a `docker save` manifest.json. */
struct berth_docker_entry {
    char *config;     /* member path of the config, e.g. "<hex>.json" */
    char **repo_tags; /* NULL-terminated (maybe empty) */
    char **layers;    /* NULL-terminated member paths, base layer first */
    size_t n_layers;
};
void berth_docker_entries_free(struct berth_docker_entry *v, size_t n); /* NULL-safe */

/* What a JSON document is by its fields (mediaType if present, else "manifests" -> index,
 * "config"+"layers" -> manifest); BERTH_OCI_UNKNOWN when it is not JSON or neither. */
enum berth_oci_kind berth_oci_sniff(const void *buf, size_t len);

/* Parsers. INVALID_ARGUMENT ("what": the digest or file name, for the message) for invalid
 * JSON, a missing or mistyped required field, a malformed digest or a negative size. *out is
 * owned by the caller on success. An index also accepts a docker manifest list; a manifest a
 * docker schema 2 manifest. */
int berth_oci_index_parse(const void *buf, size_t len, const char *what,
                          struct berth_oci_index **out, struct berth_err **err);
int berth_oci_manifest_parse(const void *buf, size_t len, const char *what,
                             struct berth_oci_manifest **out, struct berth_err **err);
/* An image config. Unknown fields are ignored and JSON null counts as unset, as Go's decoder
 * does; a known field of the wrong type is INVALID_ARGUMENT naming it, as is a rootfs type
 * other than "layers" or a malformed diff ID. A config without rootfs has no diff IDs (the
 * walk then rejects a manifest with layers). buf may be NULL (len 0: invalid JSON). */
int berth_image_config_parse(const void *buf, size_t len, const char *what,
                             struct berth_image_config **out, struct berth_err **err);
int berth_docker_manifest_parse(const void *buf, size_t len, struct berth_docker_entry **out,
                                size_t *n, struct berth_err **err);

/* Chain IDs of diff_ids[0..n): chain[0] = diff_ids[0], chain[i] = "sha256:" +
 * hex(sha256(chain[i-1] + " " + diff_ids[i])). INVALID_ARGUMENT for a malformed diff ID.
 * *out is a NULL-terminated vector of n strings owned by the caller (berth_strv_free). */
int berth_oci_chain_ids(char *const *diff_ids, size_t n, char ***out, struct berth_err **err);

#endif
