/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content records: which blobs a namespace holds, with their labels and timestamps
 * (key "cb/<ns>/<digest>", value berth.records.v1.ContentBlob), and which ingests a namespace
 * has open (key "ci/<ns>/<ref>", value berth.records.v1.ContentIngest, holding the expiry an
 * un-leased ingest gets). The bytes themselves live in content/store.h. Calls run in a
 * caller-owned transaction; timestamps are set here.
 */
#ifndef BERTH_METADATA_CONTENT_H
#define BERTH_METADATA_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/filters.h"
#include "lib/labels.h"
#include "metadata/db.h"

struct berth_content_info { /* owns every field */
    char *digest;
    int64_t size;
    struct berth_labels labels;
    int64_t created_ns, updated_ns;
};

void berth_content_info_free(struct berth_content_info *i); /* NULL-safe */
DEFINE_CLEANUP(struct berth_content_info *, berth_content_info_free)
void berth_content_infos_free(struct berth_content_info **v, size_t n);

/* NOT_FOUND if ns holds no record of digest. *out is owned by the caller. */
int berth_meta_content_get(struct berth_meta_txn *txn, const char *ns, const char *digest,
                           struct berth_content_info **out, struct berth_err **err);
/* Creates or replaces the record of info->digest in ns (creating ns implicitly); a replaced
 * record keeps its created_ns. INVALID_ARGUMENT for a bad digest, negative size or labels
 * beyond the 4096 rule. */
int berth_meta_content_put(struct berth_meta_txn *txn, const char *ns,
                           const struct berth_content_info *info, struct berth_err **err);
/* NOT_FOUND if absent. */
int berth_meta_content_delete(struct berth_meta_txn *txn, const char *ns, const char *digest,
                              struct berth_err **err);
/* Updates the labels of info->digest: paths "labels" (replace all) or "labels.<k>" (set or, with
 * no value in info, remove one); no paths replace all labels. NOT_FOUND, INVALID_ARGUMENT
 * (unknown path, labels too big). *out (if non-NULL) receives the updated record. */
int berth_meta_content_update(struct berth_meta_txn *txn, const char *ns,
                              const struct berth_content_info *info, char *const *paths,
                              size_t n_paths, struct berth_content_info **out,
                              struct berth_err **err);
/* Sets one label (key = val) on ns's record of digest, as Update with the mask labels.<key>.
 * The errors of berth_meta_content_update. */
int berth_meta_content_label_set(struct berth_meta_txn *txn, const char *ns, const char *digest,
                                 const char *key, const char *val, struct berth_err **err);
/* Records of ns matching f (NULL = all; fields digest, labels.<k>), sorted by digest.
 * *out (array of *n) owned by the caller: berth_content_infos_free. */
int berth_meta_content_list(struct berth_meta_txn *txn, const char *ns,
                            const struct berth_filter *f, struct berth_content_info ***out,
                            size_t *n, struct berth_err **err);
/* Whether any namespace holds a record of digest (GC: a blob nobody references). */
int berth_meta_content_referenced(struct berth_meta_txn *txn, const char *digest, bool *out,
                                  struct berth_err **err);
/* Whether ns has any content record (namespace deletion). */
int berth_meta_content_ns_empty(struct berth_meta_txn *txn, const char *ns, bool *out,
                                struct berth_err **err);

/* An open ingest owned by a namespace. ref is the client ref (without "<ns>/"). */
struct berth_content_ingest {
    char *ref;
    int64_t expires_ns; /* 0: held by a lease, never expires */
    int64_t created_ns;
    /* A shared ingest (metadata/ingest.h): the digest of the blob already in the store that it
     * will record, which keeps that blob from the GC while the ingest lives; NULL otherwise. */
    char *expected;
};
void berth_content_ingest_free(struct berth_content_ingest *i); /* NULL-safe */
DEFINE_CLEANUP(struct berth_content_ingest *, berth_content_ingest_free)
void berth_content_ingests_free(struct berth_content_ingest **v, size_t n);

/* Creates or replaces the ingest record ns/ref (created_ns kept if it existed). */
int berth_meta_content_ingest_put(struct berth_meta_txn *txn, const char *ns,
                                  const struct berth_content_ingest *in, struct berth_err **err);
/* NOT_FOUND if absent. */
int berth_meta_content_ingest_get(struct berth_meta_txn *txn, const char *ns, const char *ref,
                                  struct berth_content_ingest **out, struct berth_err **err);
/* NOT_FOUND if absent. */
int berth_meta_content_ingest_delete(struct berth_meta_txn *txn, const char *ns, const char *ref,
                                     struct berth_err **err);
/* Every ingest record of ns (ns NULL: every namespace, refs then "<ns>/<ref>"), sorted. */
int berth_meta_content_ingest_list(struct berth_meta_txn *txn, const char *ns,
                                   struct berth_content_ingest ***out, size_t *n,
                                   struct berth_err **err);

/* Filter field adaptor for content infos: digest, labels.<k> (no size, as containerd). */
const char *berth_content_info_filter_field(void *obj, const char *const *path, size_t n,
                                            bool *present);

#endif
