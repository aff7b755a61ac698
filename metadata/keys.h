/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key schema of the metadata store, in one place (drawn in docs/metadata-schema.md).
 * Namespaces and ids are identifiers (no '/'), so '/' separates components unambiguously.
 *
 *   version                  schema version (decimal ASCII)
 *   server/uuid              server identity
 *   ns/<ns>                  berth.records.v1.Namespace
 *   c/<ns>/<id>              berth.records.v1.Container
 *   l/<ns>/<id>              berth.records.v1.Lease
 *   lr/<ns>/<id>/<type>/<rid>
 *                            "" (a resource the lease holds; type is "content", "ingests" or
 *                            "snapshots/<snapshotter>"; rid is the rest of the key and may
 *                            contain '/')
 *   cb/<ns>/<digest>         berth.records.v1.ContentBlob (a blob the namespace holds; the bytes
 *                            are in <root>/content/blobs/sha256/<hex>)
 *   ci/<ns>/<ref>            berth.records.v1.ContentIngest (an open ingest; ref is the client
 *                            ref, may contain '/'; data in <root>/content/ingest/)
 *   s/<ns>/<snapshotter>/<key>
 *                            berth.records.v1.Snapshot (key is the client's snapshot key, any
 *                            1-400 bytes without newline, '/' allowed: it is always last)
 *   sseq/<snapshotter>       last sequence number used in backend names "<ns>/<seq>/<key>"
 *   i/<ns>/<name>            berth.records.v1.Image (name is any 1-400 bytes without NUL or
 *                            newline; '/' and ':' allowed: it is always last)
 *
 * Lease ids are not identifiers but are checked to be '/'-free (metadata/leases.h).
 * Any change here bumps BERTH_META_SCHEMA_VERSION and adds a migration.
 */
#ifndef BERTH_METADATA_KEYS_H
#define BERTH_METADATA_KEYS_H

#include <stdbool.h>
#include <stdio.h>

#define BERTH_KEY_MAX 512

#define BERTH_KEY_NS_PREFIX       "ns/"
#define BERTH_KEY_CONTAINERS      "c/"
#define BERTH_KEY_LEASES          "l/"
#define BERTH_KEY_LEASE_RES       "lr/"
#define BERTH_KEY_CONTENT_BLOBS   "cb/"
#define BERTH_KEY_CONTENT_INGESTS "ci/"
#define BERTH_KEY_SNAPSHOTS       "s/"
#define BERTH_KEY_SNAP_SEQ        "sseq/"
#define BERTH_KEY_IMAGES          "i/"

/* Prefixes of every record kind that lives inside a namespace and blocks its deletion, with
 * the name containerd uses in its "must be empty" message. */
struct berth_ns_scoped_kind {
    const char *prefix; /* "c/" -> keys "c/<ns>/..." */
    const char *what;   /* "containers" */
};
extern const struct berth_ns_scoped_kind berth_ns_scoped_kinds[];
/* Prefixes of record kinds that do not block a namespace's deletion but are deleted with it
 * (containerd drops the whole namespace bucket, leases included). NULL-terminated. */
extern const char *const berth_ns_owned_prefixes[];

static inline void berth_key_ns(char buf[BERTH_KEY_MAX], const char *ns)
{
    snprintf(buf, BERTH_KEY_MAX, BERTH_KEY_NS_PREFIX "%s", ns);
}

/* "<kind><ns>/" or "<kind><ns>/<id>" */
static inline void berth_key_obj(char buf[BERTH_KEY_MAX], const char *kind, const char *ns,
                                 const char *id)
{
    snprintf(buf, BERTH_KEY_MAX, "%s%s/%s", kind, ns, id ? id : "");
}

/* "lr/<ns>/<id>/", or with type and rid "lr/<ns>/<id>/<type>/<rid>". Returns false when the
 * key does not fit (buf then holds a truncated key that must not be used). */
static inline bool berth_key_lease_res(char buf[BERTH_KEY_MAX], const char *ns, const char *id,
                                       const char *type, const char *rid)
{
    int n = type
                ? snprintf(buf, BERTH_KEY_MAX, BERTH_KEY_LEASE_RES "%s/%s/%s/%s", ns, id, type, rid)
                : snprintf(buf, BERTH_KEY_MAX, BERTH_KEY_LEASE_RES "%s/%s/", ns, id);
    return n > 0 && n < BERTH_KEY_MAX;
}

#endif
