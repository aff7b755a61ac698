/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Namespace records. Key "ns/<name>" (docs/metadata-schema.md), value berth.records.v1.Namespace.
 * A namespace springs into existence with the first write of anything in it (ensure); delete
 * is refused while any record kind listed in berth_ns_scoped_kinds still has entries in it,
 * and takes the kinds of berth_ns_owned_prefixes (leases) with it.
 * All calls run in a caller-owned transaction.
 */
#ifndef BERTH_METADATA_NAMESPACES_H
#define BERTH_METADATA_NAMESPACES_H

#include <stddef.h>

#include "lib/labels.h"
#include "metadata/db.h"

/* Creates the namespace with no labels unless it exists. INVALID_ARGUMENT for a bad name. */
int berth_meta_namespaces_ensure(struct berth_meta_txn *txn, const char *name,
                                 struct berth_err **err);
/* ALREADY_EXISTS if present; INVALID_ARGUMENT for a bad name or labels. */
int berth_meta_namespaces_create(struct berth_meta_txn *txn, const char *name,
                                 const struct berth_labels *labels, struct berth_err **err);
/* NOT_FOUND if absent. *labels (initialised by the caller) receives a copy. */
int berth_meta_namespaces_get(struct berth_meta_txn *txn, const char *name,
                              struct berth_labels *labels, struct berth_err **err);
/* Every namespace name, whether or not its record decodes (the GC must see every namespace).
 * *names: NULL-terminated, sorted, owned by the caller (berth_strv_free). */
int berth_meta_namespaces_list(struct berth_meta_txn *txn, char ***names, struct berth_err **err);

/* A namespace with its labels; owns every field. */
struct berth_namespace {
    char *name;
    struct berth_labels labels;
};
/* Frees the n namespaces and v itself. NULL-safe. */
void berth_namespaces_free(struct berth_namespace *v, size_t n);
/* Every namespace with its labels, sorted by name. A record that cannot be decoded is left
 * out and reported through berth_meta_txn_report_corrupt, as the other listings do. *out (NULL
 * when *n_out is 0) is owned by the caller (berth_namespaces_free). */
int berth_meta_namespaces_list_labels(struct berth_meta_txn *txn, struct berth_namespace **out,
                                      size_t *n_out, struct berth_err **err);
/* Updates labels: paths "labels.<key>" set (or, with an empty value, delete) one label; no
 * paths replace all labels. Creates the namespace if absent. INVALID_ARGUMENT for any other
 * path or bad labels. */
int berth_meta_namespaces_update(struct berth_meta_txn *txn, const char *name,
                                 const struct berth_labels *labels, char *const *paths,
                                 size_t n_paths, struct berth_err **err);
/* NOT_FOUND if absent; FAILED_PRECONDITION if anything in berth_ns_scoped_kinds still lives
 * in it. Kinds in berth_ns_owned_prefixes (leases) don't block and are deleted with it. */
int berth_meta_namespaces_delete(struct berth_meta_txn *txn, const char *name,
                                 struct berth_err **err);

#endif
