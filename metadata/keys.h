/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key schema of the metadata store, in one place (drawn in docs/metadata-schema.md).
 * Namespaces and ids are identifiers (no '/'), so '/' separates components unambiguously.
 *
 *   version                  schema version (decimal ASCII)
 *   server/uuid              server identity
 *   ns/<ns>                  berth.records.v1.Namespace
 *   c/<ns>/<id>              berth.records.v1.Container
 *
 * Any change here bumps BERTH_META_SCHEMA_VERSION and adds a migration.
 */
#ifndef BERTH_METADATA_KEYS_H
#define BERTH_METADATA_KEYS_H

#include <stdio.h>

#define BERTH_KEY_MAX 512

#define BERTH_KEY_NS_PREFIX  "ns/"
#define BERTH_KEY_CONTAINERS "c/"

/* Prefixes of every record kind that lives inside a namespace and blocks its deletion, with
 * the name containerd uses in its "must be empty" message. */
struct berth_ns_scoped_kind {
    const char *prefix; /* "c/" -> keys "c/<ns>/..." */
    const char *what;   /* "containers" */
};
extern const struct berth_ns_scoped_kind berth_ns_scoped_kinds[];

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

#endif
