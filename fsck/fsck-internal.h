/* SPDX-License-Identifier: Apache-2.0 */
/* What the checker's files share (not for use outside fsck/): one check pass's context and
 * the way findings are added. store.c checks the stores, state.c the state dir and mounts. */
#ifndef BERTH_FSCK_INTERNAL_H
#define BERTH_FSCK_INTERNAL_H

#include "fsck/fsck.h"
#include "lib/strset.h"

struct fsck_ctx {
    const struct berth_fsck_stores *s; /* borrowed */
    const struct berth_fsck_opts *o;   /* borrowed */
    struct berth_fsck_report *r;       /* where findings go */
    struct berth_meta_txn *txn;        /* the pass's read transaction */
    struct berth_strset verify; /* digests of the blobs records name (--verify hashes them) */
    struct berth_strset stray;  /* snapshot directories no backend record names */
};

void fsck_add(struct fsck_ctx *c, enum berth_fsck_class cls, const char *kind, const char *id,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* store.c: records against blobs, ingests and backend snapshots (under the GC lock). */
int fsck_check_stores(struct fsck_ctx *c, struct berth_err **err);
/* store.c: --verify, hashing every blob a record names (no lock needed). */
int fsck_verify_blobs(struct fsck_ctx *c, struct berth_err **err);
/* store.c: removes c's ORPHAN findings of the stores (the caller holds the GC lock). */
void fsck_repair_stores(struct fsck_ctx *c);

/* state.c: bundles, pod netns, mounts of snapshot directories. */
int fsck_check_state(struct fsck_ctx *c, struct berth_err **err);
void fsck_repair_state(struct fsck_ctx *c);

#endif
