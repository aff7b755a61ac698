/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lease records (containerd's GC roots). Key "l/<ns>/<id>" holds berth.records.v1.Lease
 * (labels, created_ns); every resource the lease holds is an empty-valued key
 * "lr/<ns>/<id>/<type>/<resource id>" (docs/metadata-schema.md), so adding one is a single put
 * and listing them is one prefix scan in containerd's order (content, ingests, snapshots).
 * As in containerd 1.6, lease ids are not identifiers and labels are not size-checked; leases
 * don't block a namespace's deletion but go with it. Calls run in a caller-owned transaction.
 */
#ifndef BERTH_METADATA_LEASES_H
#define BERTH_METADATA_LEASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/filters.h"
#include "lib/labels.h"
#include "metadata/db.h"

/* Longest lease id accepted. */
#define BERTH_LEASE_ID_MAX 255
/* RFC 3339 time after which a lease stops being a GC root. */
#define BERTH_LABEL_GC_EXPIRE "containerd.io/gc.expire"

/* Resource types a lease can hold (containerd 1.6). Snapshots: "snapshots/<snapshotter>". */
#define BERTH_LEASE_RES_CONTENT   "content"
#define BERTH_LEASE_RES_INGESTS   "ingests"
#define BERTH_LEASE_RES_SNAPSHOTS "snapshots"

struct berth_lease { /* owns every field */
    char *id;
    struct berth_labels labels;
    int64_t created_ns;
};

struct berth_lease *berth_lease_new(void);
void berth_lease_free(struct berth_lease *l); /* NULL-safe */
DEFINE_CLEANUP(struct berth_lease *, berth_lease_free)
void berth_leases_free(struct berth_lease **v, size_t n); /* NULL-safe */

struct berth_lease_resource { /* owns both strings */
    char *id, *type;
};
void berth_lease_resources_free(struct berth_lease_resource *v, size_t n); /* NULL-safe */

/* Lease ids are whatever clients generate (ctr: "<nanos>-<4 url-safe base64 chars>"), so no
 * identifier regex; they only have to be usable as a key component: 1-255 bytes of printable
 * ASCII without '/' or whitespace. INVALID_ARGUMENT naming the id otherwise. */
int berth_lease_id_validate(const char *id, struct berth_err **err);
/* Checks a resource as containerd's parseLeaseResource does: type "content" (id must be a
 * digest), "ingests" or "snapshots/<snapshotter>" (snapshotter non-empty, no further '/');
 * another first component ("images", "") is NOT_IMPLEMENTED, a malformed known type or a bad
 * digest INVALID_ARGUMENT. The id must be non-empty (INVALID_ARGUMENT). */
int berth_lease_resource_validate(const char *type, const char *id, struct berth_err **err);

/* Creates l->id in ns (creating ns implicitly) with l->labels; empty-valued labels are not
 * stored. ALREADY_EXISTS if the id is taken; INVALID_ARGUMENT for a bad id or an empty label
 * key. On success l->created_ns is set to the stored value. */
int berth_meta_leases_create(struct berth_meta_txn *txn, const char *ns, struct berth_lease *l,
                             struct berth_err **err);
/* NOT_FOUND if absent. On success *out is owned by the caller. */
int berth_meta_leases_get(struct berth_meta_txn *txn, const char *ns, const char *id,
                          struct berth_lease **out, struct berth_err **err);
/* Leases of ns matching filter (NULL = all; fields "id", "labels.<k>"), sorted by id. *out (an
 * array of *n_out owned records) is owned by the caller: free with berth_leases_free. */
int berth_meta_leases_list(struct berth_meta_txn *txn, const char *ns,
                           const struct berth_filter *filter, struct berth_lease ***out,
                           size_t *n_out, struct berth_err **err);
/* Deletes the lease and every resource key it holds (the resources themselves are untouched;
 * they become collectable by a later GC). NOT_FOUND if absent. */
int berth_meta_leases_delete(struct berth_meta_txn *txn, const char *ns, const char *id,
                             struct berth_err **err);

/* Adds (idempotently) / removes (absent is fine) one resource of lease id. NOT_FOUND for a
 * missing lease (checked first, as containerd does), then berth_lease_resource_validate's
 * errors; INVALID_ARGUMENT if the key would exceed the store's key limit. */
int berth_meta_leases_add_resource(struct berth_meta_txn *txn, const char *ns, const char *id,
                                   const char *type, const char *rid, struct berth_err **err);
int berth_meta_leases_delete_resource(struct berth_meta_txn *txn, const char *ns, const char *id,
                                      const char *type, const char *rid, struct berth_err **err);
/* Resources of lease id, content first, then ingests, then snapshots by snapshotter and key.
 * NOT_FOUND for a missing lease. *out (array of *n_out) is owned by the caller: free with
 * berth_lease_resources_free. */
int berth_meta_leases_list_resources(struct berth_meta_txn *txn, const char *ns, const char *id,
                                     struct berth_lease_resource **out, size_t *n_out,
                                     struct berth_err **err);

/*
 * The containerd-lease header path, for stores that create objects on a client's behalf
 * (content writers, snapshot Prepare/View/Commit): records resource (type, rid) in lease_id.
 * lease_id NULL or "" (no header) is a no-op. NOT_FOUND "lease \"x\" does not exist" when the
 * header names a missing lease, which fails the whole write as in containerd; otherwise as
 * berth_meta_leases_add_resource.
 */
int berth_meta_leases_attach(struct berth_meta_txn *txn, const char *ns, const char *lease_id,
                             const char *type, const char *rid, struct berth_err **err);
/* The reverse, when such an object is removed under a lease header: drops (type, rid) from
 * lease_id. No header, a missing lease or a resource it doesn't hold are all fine (0). */
int berth_meta_leases_detach(struct berth_meta_txn *txn, const char *ns, const char *lease_id,
                             const char *type, const char *rid, struct berth_err **err);

/* True when l carries a containerd.io/gc.expire label with an RFC 3339 time strictly before
 * now_ns. An unparseable label means "never expires", as in containerd 1.6's GC (it logs
 * "ignoring invalid expiration value" and keeps the lease as a root). */
bool berth_lease_expired(const struct berth_lease *l, int64_t now_ns);

/* Filter field adaptor for leases: id, labels.<k>. */
const char *berth_lease_filter_field(void *obj, const char *const *path, size_t n, bool *present);

#endif
