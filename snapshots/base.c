/* SPDX-License-Identifier: Apache-2.0 */
/* What the directory-per-snapshot backends (overlay, native) share; see snapshots-internal.h.
 * Directories are created under a temp name and renamed to the id only once the record is
 * about to commit, so a crash leaves either nothing or an orphan that cleanup removes. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/fs.h"
#include "snapshots/snapshots-internal.h"
#include "snapshots/storage/storage.h"

int berth_snap_base_open(struct berth_snap_base *b, const char *root, const char *data_subdir,
                         struct berth_err **err)
{
    _cleanup_free_ char *metadir = berth_strdup_printf("%s/metadata", root);

    memset(b, 0, sizeof(*b));
    b->root = berth_xstrdup(root);
    b->snapdir = berth_strdup_printf("%s/snapshots", root);
    b->data_subdir = data_subdir;
    if (berth_mkdir_p(b->snapdir, 0700, 0700, err) < 0 ||
        berth_snap_store_open(metadir, &b->store, err) < 0) {
        berth_snap_base_close(b);
        return -1;
    }
    return 0;
}

void berth_snap_base_close(struct berth_snap_base *b)
{
    berth_snap_store_close(b->store);
    free(b->root);
    free(b->snapdir);
    memset(b, 0, sizeof(*b));
}

char *berth_snap_base_data_path(const struct berth_snap_base *b, uint64_t id)
{
    if (*b->data_subdir)
        return berth_strdup_printf("%s/%" PRIu64 "/%s", b->snapdir, id, b->data_subdir);
    return berth_strdup_printf("%s/%" PRIu64, b->snapdir, id);
}

int berth_snap_base_create(struct berth_snap_base *b, enum berth_snap_kind kind, const char *key,
                           const char *parent, const struct berth_labels *labels,
                           berth_snap_populate_fn populate, struct berth_snap_rec *rec,
                           uint64_t **pids, size_t *np, struct berth_err **err)
{
    _cleanup_(berth_snap_store_txn_abortp) struct berth_snap_store_txn *txn = NULL;
    _cleanup_free_ char *tmp = NULL, *final = NULL;
    struct berth_snap_rec pr = {0};
    uint64_t parent_id = 0;

    memset(rec, 0, sizeof(*rec));
    *pids = NULL;
    *np = 0;
    if (labels && berth_labels_validate(labels, err) < 0)
        return berth_err_wrap(err, "snapshot \"%s\"", key);
    /* Fail fast, before populate copies anything; the write below checks again. */
    if (berth_snap_store_txn_begin(b->store, false, &txn, err) < 0)
        return -1;
    if (parent && *parent) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_snap_store_get(txn, parent, &pr, &e) < 0) {
            if (e->code == BERTH_E_NOT_FOUND)
                return berth_err_set(err, BERTH_E_NOT_FOUND, 0,
                                     "parent snapshot \"%s\" does not exist", parent);
            *err = steal_ptr(e);
            return -1;
        }
        parent_id = pr.id;
        berth_snap_rec_clear(&pr);
    }
    berth_snap_store_txn_abort(steal_ptr(txn));

    tmp = berth_strdup_printf("%s/new-XXXXXX", b->snapdir);
    if (!mkdtemp(tmp))
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "create temp dir in \"%s\"", b->snapdir);
    chmod(tmp, 0755);
    if (populate(b, tmp, kind, parent_id, err) < 0)
        goto fail;
    if (berth_snap_store_txn_begin(b->store, true, &txn, err) < 0 ||
        berth_snap_store_create(txn, key, parent, kind, labels, rec, pids, np, err) < 0)
        goto fail;
    if (parent_id && (*np == 0 || (*pids)[0] != parent_id)) {
        berth_err_set(err, BERTH_E_NOT_FOUND, 0, "parent snapshot \"%s\" changed while preparing",
                      parent);
        goto fail;
    }
    final = berth_strdup_printf("%s/%" PRIu64, b->snapdir, rec->id);
    if (rename(tmp, final) < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "rename \"%s\" to \"%s\"", tmp, final);
        goto fail;
    }
    if (berth_snap_store_txn_commit(steal_ptr(txn), err) < 0) {
        berth_rmrf(final, NULL);
        goto fail_norm;
    }
    return 0;
fail:
    berth_rmrf(tmp, NULL);
fail_norm:
    berth_snap_rec_clear(rec);
    free(steal_ptr(*pids));
    *np = 0;
    return -1;
}

int berth_snap_base_get(struct berth_snap_base *b, const char *key, struct berth_snap_rec *rec,
                        uint64_t **pids, size_t *np, struct berth_err **err)
{
    _cleanup_(berth_snap_store_txn_abortp) struct berth_snap_store_txn *txn = NULL;

    if (berth_snap_store_txn_begin(b->store, false, &txn, err) < 0 ||
        berth_snap_store_get(txn, key, rec, err) < 0)
        return -1;
    if (berth_snap_store_parent_ids(txn, key, pids, np, err) < 0) {
        berth_snap_rec_clear(rec);
        return -1;
    }
    return 0;
}

int berth_snap_base_commit(struct berth_snap_base *b, const char *name, const char *key,
                           const struct berth_labels *labels, struct berth_err **err)
{
    _cleanup_(berth_snap_store_txn_abortp) struct berth_snap_store_txn *txn = NULL;
    _cleanup_free_ char *data = NULL;
    struct berth_snap_usage u = {0};
    struct berth_snap_rec r;

    if (labels && berth_labels_validate(labels, err) < 0)
        return berth_err_wrap(err, "snapshot \"%s\"", name);
    if (berth_snap_store_txn_begin(b->store, true, &txn, err) < 0 ||
        berth_snap_store_get(txn, key, &r, err) < 0)
        return -1;
    data = berth_snap_base_data_path(b, r.id);
    berth_snap_rec_clear(&r);
    /* Usage is recorded once, at commit, as containerd does. */
    if (berth_snap_disk_usage(data, &u, err) < 0 ||
        berth_snap_store_commit(txn, name, key, labels, &u, NULL, err) < 0)
        return -1;
    return berth_snap_store_txn_commit(steal_ptr(txn), err);
}

int berth_snap_base_remove(struct berth_snap_base *b, const char *key, struct berth_err **err)
{
    _cleanup_(berth_snap_store_txn_abortp) struct berth_snap_store_txn *txn = NULL;
    _cleanup_free_ char *dir = NULL, *rm = NULL;
    struct berth_snap_rec r;

    if (berth_snap_store_txn_begin(b->store, true, &txn, err) < 0 ||
        berth_snap_store_remove(txn, key, &r, err) < 0)
        return -1;
    dir = berth_strdup_printf("%s/%" PRIu64, b->snapdir, r.id);
    rm = berth_strdup_printf("%s/rm-%" PRIu64, b->snapdir, r.id);
    berth_snap_rec_clear(&r);
    /* Rename first so a crash between commit and delete leaves an obvious orphan. */
    if (rename(dir, rm) < 0 && errno != ENOENT)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "rename \"%s\"", dir);
    if (berth_snap_store_txn_commit(steal_ptr(txn), err) < 0) {
        (void)rename(rm, dir);
        return -1;
    }
    return berth_rmrf(rm, err);
}

int berth_snap_base_stat(struct berth_snap_base *b, const char *key, struct berth_snap_info *out,
                         struct berth_err **err)
{
    _cleanup_(berth_snap_store_txn_abortp) struct berth_snap_store_txn *txn = NULL;
    struct berth_snap_rec r;

    memset(out, 0, sizeof(*out));
    if (berth_snap_store_txn_begin(b->store, false, &txn, err) < 0 ||
        berth_snap_store_get(txn, key, &r, err) < 0)
        return -1;
    *out = r.info;
    return 0;
}

int berth_snap_base_update(struct berth_snap_base *b, const struct berth_snap_info *info,
                           char *const *paths, size_t n, struct berth_snap_info *out,
                           struct berth_err **err)
{
    _cleanup_(berth_snap_store_txn_abortp) struct berth_snap_store_txn *txn = NULL;
    struct berth_snap_info tmp = {0};

    if (out)
        memset(out, 0, sizeof(*out));
    if (berth_snap_store_txn_begin(b->store, true, &txn, err) < 0 ||
        berth_snap_store_update(txn, info, paths, n, &tmp, err) < 0 ||
        berth_snap_store_txn_commit(steal_ptr(txn), err) < 0) {
        berth_snap_info_clear(&tmp);
        return -1;
    }
    if (out)
        *out = tmp;
    else
        berth_snap_info_clear(&tmp);
    return 0;
}

struct walk_arg {
    const struct berth_filter *filter;
    berth_snap_walk_fn fn;
    void *arg;
};

static int walk_cb(const struct berth_snap_rec *rec, void *arg, struct berth_err **err)
{
    struct walk_arg *w = arg;

    if (w->filter &&
        !berth_filter_match(w->filter, berth_snap_info_filter_field, (void *)&rec->info))
        return 0;
    return w->fn(&rec->info, w->arg, err);
}

int berth_snap_base_walk(struct berth_snap_base *b, const struct berth_filter *filter,
                         berth_snap_walk_fn fn, void *arg, struct berth_err **err)
{
    _cleanup_(berth_snap_store_txn_abortp) struct berth_snap_store_txn *txn = NULL;
    struct walk_arg w = {filter, fn, arg};

    if (berth_snap_store_txn_begin(b->store, false, &txn, err) < 0)
        return -1;
    return berth_snap_store_walk(txn, walk_cb, &w, err);
}

int berth_snap_base_usage(struct berth_snap_base *b, const char *key, struct berth_snap_usage *out,
                          struct berth_err **err)
{
    _cleanup_(berth_snap_store_txn_abortp) struct berth_snap_store_txn *txn = NULL;
    _cleanup_free_ char *data = NULL;
    struct berth_snap_rec r;

    memset(out, 0, sizeof(*out));
    if (berth_snap_store_txn_begin(b->store, false, &txn, err) < 0 ||
        berth_snap_store_get(txn, key, &r, err) < 0)
        return -1;
    berth_snap_store_txn_abort(steal_ptr(txn));
    if (r.info.kind == BERTH_SNAP_ACTIVE) {
        data = berth_snap_base_data_path(b, r.id);
        berth_snap_rec_clear(&r);
        return berth_snap_disk_usage(data, out, err);
    }
    out->size = r.size;
    out->inodes = r.inodes;
    berth_snap_rec_clear(&r);
    return 0;
}

struct id_set {
    uint64_t *v;
    size_t n;
    bool unsure; /* a record that cannot be decoded: its id, so its directory, is unknown */
};

static int collect_ids_cb(const struct berth_snap_rec *rec, void *arg, struct berth_err **err)
{
    struct id_set *s = arg;
    if (rec->info.kind == BERTH_SNAP_UNKNOWN) {
        s->unsure = true;
        return 0;
    }
    s->v = berth_xrealloc(s->v, (s->n + 1) * sizeof(uint64_t));
    s->v[s->n++] = rec->id;
    return 0;
}

int berth_snap_base_cleanup(struct berth_snap_base *b, struct berth_err **err)
{
    _cleanup_(berth_snap_store_txn_abortp) struct berth_snap_store_txn *txn = NULL;
    struct id_set ids = {0};
    struct dirent *de;
    DIR *d;
    int ret = 0;

    /* Held across the scan: a concurrent create renames its dir only inside its own write
     * transaction, which LMDB serialises with this one. */
    if (berth_snap_store_txn_begin(b->store, true, &txn, err) < 0)
        return -1;
    if (berth_snap_store_walk(txn, collect_ids_cb, &ids, err) < 0)
        return -1;
    d = opendir(b->snapdir);
    if (!d) {
        free(ids.v);
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s\"", b->snapdir);
    }
    while ((de = readdir(d))) {
        _cleanup_free_ char *path = NULL;
        char *end;
        bool used = false;
        struct stat sb;
        uint64_t id;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        path = berth_strdup_printf("%s/%s", b->snapdir, de->d_name);
        /* Temp dirs of creations still in flight (populated outside any transaction) are not
         * ours to take; one untouched for an hour is a crash leftover. */
        if (berth_str_has_prefix(de->d_name, "new-") && stat(path, &sb) == 0 &&
            sb.st_mtime > time(NULL) - 3600)
            continue;
        id = strtoull(de->d_name, &end, 10);
        if (*end == 0 && end != de->d_name)
            for (size_t i = 0; i < ids.n && !used; i++)
                used = ids.v[i] == id;
        if (*end == 0 && end != de->d_name && ids.unsure)
            used = true;
        if (used)
            continue;
        if (berth_rmrf(path, err) < 0) {
            ret = -1;
            break;
        }
    }
    closedir(d);
    free(ids.v);
    return ret;
}

/* ---- fsck ---- */

struct check_arg {
    struct berth_snap_base *b;
    struct berth_snap_store_txn *txn;
    berth_snap_check_fn fn;
    void *arg;
    struct id_set ids;
};

static void report(struct check_arg *c, enum berth_snap_problem p, const char *what,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void report(struct check_arg *c, enum berth_snap_problem p, const char *what,
                   const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = berth_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->fn(c->arg, p, what, msg);
}

static int check_rec_cb(const struct berth_snap_rec *rec, void *arg, struct berth_err **err)
{
    struct check_arg *c = arg;
    _cleanup_free_ char *data = NULL;
    struct berth_snap_rec pr = {0};
    _cleanup_err_ struct berth_err *e = NULL;
    struct stat sb;

    (void)err;
    if (collect_ids_cb(rec, &c->ids, err) < 0)
        return -1;
    if (rec->info.kind == BERTH_SNAP_UNKNOWN) {
        report(c, BERTH_SNAP_BROKEN, rec->info.name, "record cannot be decoded");
        return 0;
    }
    /* The data path is the directory itself for native, its fs/ for overlay. */
    data = berth_snap_base_data_path(c->b, rec->id);
    if (stat(data, &sb) < 0 || !S_ISDIR(sb.st_mode))
        report(c, BERTH_SNAP_BROKEN, rec->info.name, "%s \"%s\" (id %" PRIu64 ") is missing",
               *c->b->data_subdir ? "data directory" : "directory", data, rec->id);
    if (!rec->info.parent || !*rec->info.parent)
        return 0;
    if (berth_snap_store_get(c->txn, rec->info.parent, &pr, &e) < 0)
        report(c, BERTH_SNAP_BROKEN, rec->info.name, "parent \"%s\" %s", rec->info.parent,
               e->code == BERTH_E_NOT_FOUND ? "does not exist" : "cannot be read");
    else if (pr.info.kind != BERTH_SNAP_COMMITTED)
        report(c, BERTH_SNAP_BROKEN, rec->info.name, "parent \"%s\" is %s, not committed",
               rec->info.parent, berth_snap_kind_name(pr.info.kind));
    berth_snap_rec_clear(&pr);
    return 0;
}

int berth_snap_base_check(struct berth_snap_base *b, bool in_flight, berth_snap_check_fn fn,
                          void *arg, struct berth_err **err)
{
    _cleanup_(berth_snap_store_txn_abortp) struct berth_snap_store_txn *txn = NULL;
    struct check_arg c = {.b = b, .fn = fn, .arg = arg};
    struct dirent *de;
    DIR *d;
    int ret = -1;

    if (berth_snap_store_txn_begin(b->store, false, &txn, err) < 0)
        return -1;
    c.txn = txn;
    if (berth_snap_store_walk(txn, check_rec_cb, &c, err) < 0)
        goto out;
    d = opendir(b->snapdir);
    if (!d) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s\"", b->snapdir);
        goto out;
    }
    /* The directory listing comes after the records: a creation renames its directory inside
     * its write transaction, so a numeric directory of a creation in flight may show here
     * without its record. The caller keeps creations out (the GC lock) when that matters. */
    while ((de = readdir(d))) {
        _cleanup_free_ char *path = NULL;
        char *end;
        bool used = false;
        struct stat sb;
        uint64_t id;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        path = berth_strdup_printf("%s/%s", b->snapdir, de->d_name);
        if (berth_str_has_prefix(de->d_name, "new-")) {
            /* as cleanup: an hour-old temp dir is a leftover even while creations run */
            if (!in_flight || (stat(path, &sb) == 0 && sb.st_mtime <= time(NULL) - 3600))
                report(&c, BERTH_SNAP_STRAY, path, "temp dir of a creation that did not finish");
            continue;
        }
        if (berth_str_has_prefix(de->d_name, "rm-")) {
            report(&c, BERTH_SNAP_STRAY, path, "removal that did not finish");
            continue;
        }
        id = strtoull(de->d_name, &end, 10);
        if (*end != 0 || end == de->d_name) {
            report(&c, BERTH_SNAP_STRAY, path, "not a snapshot directory");
            continue;
        }
        for (size_t i = 0; i < c.ids.n && !used; i++)
            used = c.ids.v[i] == id;
        if (!used && !c.ids.unsure)
            report(&c, BERTH_SNAP_STRAY, path, "no record has id %" PRIu64, id);
    }
    closedir(d);
    ret = 0;
out:
    free(c.ids.v);
    return ret;
}
