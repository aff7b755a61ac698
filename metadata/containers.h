/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container records. Key "c/<ns>/<id>" (docs/metadata-schema.md), value
 * berth.records.v1.Container. The spec, runtime options and extensions are protobuf Anys kept
 * byte for byte. Validation follows containerd: id is an identifier, labels fit 4096 bytes,
 * runtime name and spec are required, a snapshot key needs a snapshotter. Timestamps are set
 * here, never taken from the client. Calls run in a caller-owned transaction.
 */
#ifndef BERTH_METADATA_CONTAINERS_H
#define BERTH_METADATA_CONTAINERS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/filters.h"
#include "lib/labels.h"
#include "metadata/db.h"
#include "metadata/record.h"

struct berth_container_ext {
    char *name;
    struct berth_any value;
};

struct berth_container { /* owns every field */
    char *id, *image, *runtime_name, *snapshotter, *snapshot_key, *sandbox;
    struct berth_any runtime_options, spec;
    struct berth_labels labels;
    size_t n_ext;
    struct berth_container_ext *ext; /* sorted by name */
    int64_t created_ns, updated_ns;
};

struct berth_container *berth_container_new(void);
void berth_container_free(struct berth_container *c); /* NULL-safe */
DEFINE_CLEANUP(struct berth_container *, berth_container_free)
/* Sets (copying) or, with value NULL, removes an extension. */
void berth_container_ext_set(struct berth_container *c, const char *name,
                             const struct berth_any *value);
const struct berth_any *berth_container_ext_get(const struct berth_container *c, const char *name);

/* NOT_FOUND if absent. On success *out is owned by the caller. */
int berth_meta_containers_get(struct berth_meta_txn *txn, const char *ns, const char *id,
                              struct berth_container **out, struct berth_err **err);
/* Containers of ns matching filter (NULL = all), sorted by id. *out (array of *n_out owned
 * records) is owned by the caller: free with berth_containers_free. */
int berth_meta_containers_list(struct berth_meta_txn *txn, const char *ns,
                               const struct berth_filter *filter, struct berth_container ***out,
                               size_t *n_out, struct berth_err **err);
/* One page of the same listing: at most limit records with ids after after_id (NULL: from the
 * first). *more tells whether records remain after the page. */
int berth_meta_containers_list_page(struct berth_meta_txn *txn, const char *ns,
                                    const struct berth_filter *filter, const char *after_id,
                                    size_t limit, struct berth_container ***out, size_t *n_out,
                                    bool *more, struct berth_err **err);
void berth_containers_free(struct berth_container **v, size_t n);
/* Creates the namespace implicitly. ALREADY_EXISTS if the id is taken; INVALID_ARGUMENT for a
 * bad record. On success c->created_ns/updated_ns are set to the stored values. */
int berth_meta_containers_create(struct berth_meta_txn *txn, const char *ns,
                                 struct berth_container *c, struct berth_err **err);
/* Only the fields named in paths change ("labels", "labels.<k>", "spec", "extensions",
 * "extensions.<k>", "image", "snapshotkey"); no paths replace all mutable fields and require
 * snapshotter and runtime name to be unchanged. NOT_FOUND, INVALID_ARGUMENT. On success *out
 * (if non-NULL) receives the updated record. */
int berth_meta_containers_update(struct berth_meta_txn *txn, const char *ns,
                                 const struct berth_container *c, char *const *paths,
                                 size_t n_paths, struct berth_container **out,
                                 struct berth_err **err);
/* NOT_FOUND if absent. */
int berth_meta_containers_delete(struct berth_meta_txn *txn, const char *ns, const char *id,
                                 struct berth_err **err);

/* Filter field adaptor for containers: id, image, runtime.name, labels.<k>. */
const char *berth_container_filter_field(void *obj, const char *const *path, size_t n,
                                         bool *present);

#endif
