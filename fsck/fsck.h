/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl fsck's checker: the metadata store against the disk (blobs, ingests, backend
 * snapshot stores and their directories, bundles and pod netns under the state dir, mounts of
 * snapshots). One library for both callers: berthd's Fsck service (the stores it has open,
 * while it serves) and berthctl on a stopped root (stores it opens itself). Depends on
 * metadata/, content/, snapshots/, runtime/ (bundles) and runtime/cni (netns).
 */
#ifndef BERTH_FSCK_FSCK_H
#define BERTH_FSCK_FSCK_H

#include <stdbool.h>
#include <stddef.h>

#include "content/store.h"
#include "lib/err.h"
#include "metadata/db.h"
#include "snapshots/snapshotter.h"

struct berth_rt;

/* How bad a finding is. ERROR and ORPHAN make the check fail; INFO never does. */
enum berth_fsck_class {
    BERTH_FSCK_ERROR = 1, /* a record whose object is missing or wrong: never repaired */
    BERTH_FSCK_ORPHAN,    /* an object on disk nothing names: --repair removes it */
    BERTH_FSCK_INFO,      /* legal in containerd's model, worth knowing (a dangling gc.ref) */
};
/* "error", "orphan", "info". */
const char *berth_fsck_class_name(enum berth_fsck_class c);

struct berth_fsck_finding { /* owns every string */
    enum berth_fsck_class cls;
    char *kind;    /* "content", "blob", "ingest", "snapshot", "backend-snapshot", ... */
    char *id;      /* what it is about: "<ns>/<digest>", a path, ... */
    char *problem; /* lowercase, no trailing period */
    bool repaired; /* --repair removed it and a second check no longer finds it */
};

struct berth_fsck_report {
    struct berth_fsck_finding *v;
    size_t n;
    size_t errors, orphans, infos; /* by class; orphans counts repaired ones too */
    size_t repaired;
};
void berth_fsck_report_clear(struct berth_fsck_report *r); /* leaves it zeroed */
/* Whether nothing but INFO findings remain (repaired orphans do not count). */
bool berth_fsck_report_clean(const struct berth_fsck_report *r);

/* What to check; everything borrowed for the call. */
struct berth_fsck_stores {
    struct berth_meta_db *db;
    struct berth_content_store *content;           /* NULL: no content checks */
    struct berth_snapshotter *const *snapshotters; /* the loaded backends */
    size_t n_snapshotters;
    const char *root;         /* <root>: for mounts of its snapshot directories */
    const char *state;        /* NULL: no bundle or netns checks */
    struct berth_rt *runtime; /* berthd's task table; NULL: a bundle's init.pid tells */
    /* berthd runs these stores: creations may be in flight, so fsck holds the GC lock
     * exclusive while it compares records with the disk, and a fresh temp dir is theirs. */
    bool live;
};

struct berth_fsck_opts {
    bool verify; /* also hash every blob (outside the GC lock: blobs never change) */
    bool repair; /* remove orphans, then check again */
};

/*
 * Checks (and with o->repair removes orphans, then checks again to tell which are gone).
 * Records are read in one read transaction taken under the GC lock. *out (zeroed first) owns
 * the findings in the order found: berth_fsck_report_clear. Fails only when a store or a
 * directory cannot be read at all (INTERNAL, the stores' errors); problems are findings.
 */
int berth_fsck_run(const struct berth_fsck_stores *s, const struct berth_fsck_opts *o,
                   struct berth_fsck_report *out, struct berth_err **err);

/* The report as the Fsck service's CheckResponse (api/berth/services/fsck/v1), borrowing r's
 * strings: r must outlive the message. Free the arrays it allocates with
 * berth_fsck_pb_clear (not the strings). */
struct Berth__Services__Fsck__V1__CheckResponse;
void berth_fsck_report_to_pb(const struct berth_fsck_report *r,
                             struct Berth__Services__Fsck__V1__CheckResponse *resp);
void berth_fsck_pb_clear(struct Berth__Services__Fsck__V1__CheckResponse *resp);

#endif
