/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checker's driver (fsck.h): one pass reads every record in one read transaction begun
 * under the GC lock (exclusive), which keeps out the only writers that put an object on disk
 * before its record (ingest and import commits, snapshot creation) and the GC's own removals,
 * so what a live check sees is what a stopped root would show. --verify hashes outside the
 * lock; --repair removes orphans under it and a second pass tells which are gone.
 */
#include "fsck/fsck.h"

#include <stdarg.h>
#include <string.h>

#include "api/berth/services/fsck/v1/fsck.pb-c.h"
#include "fsck/fsck-internal.h"

const char *berth_fsck_class_name(enum berth_fsck_class c)
{
    switch (c) {
    case BERTH_FSCK_ERROR:
        return "error";
    case BERTH_FSCK_ORPHAN:
        return "orphan";
    case BERTH_FSCK_INFO:
        return "info";
    }
    return "unknown";
}

void berth_fsck_report_clear(struct berth_fsck_report *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].kind);
        free(r->v[i].id);
        free(r->v[i].problem);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

bool berth_fsck_report_clean(const struct berth_fsck_report *r)
{
    return r->errors == 0 && r->orphans == r->repaired;
}

void fsck_add(struct fsck_ctx *c, enum berth_fsck_class cls, const char *kind, const char *id,
              const char *fmt, ...)
{
    struct berth_fsck_report *r = c->r;
    struct berth_fsck_finding *f;
    va_list ap;

    r->v = berth_xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
    f = &r->v[r->n++];
    memset(f, 0, sizeof(*f));
    f->cls = cls;
    f->kind = berth_xstrdup(kind);
    f->id = berth_xstrdup(id);
    va_start(ap, fmt);
    f->problem = berth_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (cls == BERTH_FSCK_ERROR)
        r->errors++;
    else if (cls == BERTH_FSCK_ORPHAN)
        r->orphans++;
    else
        r->infos++;
}

/* Records the list functions skipped because they cannot be decoded (db.h): each is an error
 * (GC leaves its whole namespace unswept, gc.md), reported once. */
static void corrupt_cb(void *arg, const char *key)
{
    struct berth_strset *keys = arg;
    berth_strset_add(keys, key);
}

static int check_pass(const struct berth_fsck_stores *s, const struct berth_fsck_opts *o,
                      bool verify, struct berth_fsck_report *r, struct berth_err **err)
{
    struct fsck_ctx c = {.s = s, .o = o, .r = r};
    struct berth_strset corrupt = {0};
    int ret = -1;

    berth_meta_gc_lock_exclusive(s->db);
    if (berth_meta_txn_begin_read(s->db, &c.txn, err) < 0) {
        berth_meta_gc_unlock(s->db);
        goto out;
    }
    berth_meta_txn_set_corrupt_hook(c.txn, corrupt_cb, &corrupt);
    ret = fsck_check_stores(&c, err);
    if (ret == 0)
        ret = fsck_check_state(&c, err);
    berth_meta_txn_abort(steal_ptr(c.txn));
    berth_meta_gc_unlock(s->db);
    for (size_t i = 0; i < corrupt.cap; i++)
        if (corrupt.state[i])
            fsck_add(&c, BERTH_FSCK_ERROR, "record", corrupt.keys[i],
                     "value cannot be decoded (GC leaves its namespace unswept)");
    /* Blobs never change once committed: hashing needs no lock, however long it takes. */
    if (ret == 0 && verify)
        ret = fsck_verify_blobs(&c, err);
out:
    berth_strset_clear(&corrupt);
    berth_strset_clear(&c.verify);
    berth_strset_clear(&c.stray);
    return ret;
}

static bool same(const struct berth_fsck_finding *a, const struct berth_fsck_finding *b)
{
    return a->cls == b->cls && strcmp(a->kind, b->kind) == 0 && strcmp(a->id, b->id) == 0;
}

int berth_fsck_run(const struct berth_fsck_stores *s, const struct berth_fsck_opts *o,
                   struct berth_fsck_report *out, struct berth_err **err)
{
    struct berth_fsck_report again = {0};
    struct fsck_ctx c = {.s = s, .o = o, .r = out};

    memset(out, 0, sizeof(*out));
    if (check_pass(s, o, o->verify, out, err) < 0) {
        berth_fsck_report_clear(out);
        return -1;
    }
    if (!o->repair || out->orphans == 0)
        return 0;
    berth_meta_gc_lock_exclusive(s->db);
    fsck_repair_state(&c); /* first: a bundle's rootfs mount goes with it */
    fsck_repair_stores(&c);
    berth_meta_gc_unlock(s->db);
    if (check_pass(s, o, false, &again, err) < 0) {
        berth_fsck_report_clear(out);
        return -1;
    }
    for (size_t i = 0; i < out->n; i++) {
        bool left = false;
        if (out->v[i].cls != BERTH_FSCK_ORPHAN)
            continue;
        for (size_t j = 0; j < again.n && !left; j++)
            left = same(&out->v[i], &again.v[j]);
        if (!left) {
            out->v[i].repaired = true;
            out->repaired++;
        }
    }
    berth_fsck_report_clear(&again);
    return 0;
}

void berth_fsck_report_to_pb(const struct berth_fsck_report *r,
                             Berth__Services__Fsck__V1__CheckResponse *resp)
{
    Berth__Services__Fsck__V1__Finding *pbs = berth_xcalloc(r->n ? r->n : 1, sizeof(*pbs));

    berth__services__fsck__v1__check_response__init(resp);
    resp->findings = berth_xcalloc(r->n ? r->n : 1, sizeof(*resp->findings));
    resp->findings[0] = pbs; /* even with no findings: berth_fsck_pb_clear frees through it */
    for (size_t i = 0; i < r->n; i++) {
        berth__services__fsck__v1__finding__init(&pbs[i]);
        pbs[i].class_ = (Berth__Services__Fsck__V1__Finding__Class)r->v[i].cls;
        pbs[i].kind = r->v[i].kind;
        pbs[i].id = r->v[i].id;
        pbs[i].problem = r->v[i].problem;
        pbs[i].repaired = r->v[i].repaired;
        resp->findings[i] = &pbs[i];
    }
    resp->n_findings = r->n;
    resp->errors = r->errors;
    resp->orphans = r->orphans;
    resp->infos = r->infos;
    resp->repaired = r->repaired;
    resp->clean = berth_fsck_report_clean(r);
}

void berth_fsck_pb_clear(Berth__Services__Fsck__V1__CheckResponse *resp)
{
    /* the findings were allocated as one array: the first pointer is its start */
    free(resp->findings ? resp->findings[0] : NULL);
    free(resp->findings);
    resp->findings = NULL;
    resp->n_findings = 0;
}
