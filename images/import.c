/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image import (see import.h). Three phases: (1) the tar stream is walked once, each blob
 * streamed into a content writer (its digest checked at commit) and the small JSON files kept
 * in memory; (2) the layout is interpreted (OCI index.json or docker manifest.json), image
 * records written and the gc.ref labels set in one metadata transaction; (3) the chosen
 * platform is unpacked (unpack.c). A lease made here holds every blob, ingest and snapshot.
 */
#include "images/import.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h> /* getrandom() for lease ids */
#include <unistd.h>

#include "images/images-internal.h"
#include "images/reference.h"
#include "lib/digest.h"
#include "lib/rfc3339.h"
#include "lib/sha256.h"
#include "metadata/content.h"
#include "metadata/ingest.h"
#include "metadata/leases.h"
#include "metadata/namespaces.h"

#define MEM_FILE_MAX (4 << 20)           /* non-blob members up to this size stay in memory */
#define DOC_MAX      BERTH_IMAGE_DOC_MAX /* largest index/manifest/config read back */
#define LEASE_EXPIRY (24LL * 3600 * 1000000000LL)

/* One regular member of the archive. */
struct member {
    char *path;
    char *digest; /* non-NULL once it is a blob */
    int64_t size;
    struct berth_bytes mem; /* in-memory members (JSON files) */
    bool in_mem;
};

struct imp {
    const struct berth_image_stores *st;
    const struct berth_import_opts *opts;
    berth_import_read_fn rd;
    void *rd_arg;
    struct berth_err *rd_err; /* the reader's error, reported instead of libarchive's */
    char lease[64];
    unsigned seq; /* ingest counter */
    struct member *members;
    size_t n_members, cap_members;
    /* label updates gathered while walking: digest -> key=value */
    char **lbl_digest, **lbl_key, **lbl_val;
    size_t n_lbl, cap_lbl;
};

void berth_import_result_clear(struct berth_import_result *r)
{
    if (!r)
        return;
    berth_images_free(r->images, r->n);
    free(r->created);
    memset(r, 0, sizeof(*r));
}

/* ---- lease ---- */

struct lease_op {
    const char *ns, *id;
};

static int lease_create_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct lease_op *op = arg;
    _cleanup_(berth_lease_freep) struct berth_lease *l = berth_lease_new();
    char exp[BERTH_RFC3339_MAX];

    l->id = berth_xstrdup(op->id);
    berth_rfc3339_format(berth_now_ns() + LEASE_EXPIRY, exp);
    berth_labels_set(&l->labels, BERTH_LABEL_GC_EXPIRE, exp);
    /* Marks work berthd itself does: none of it can outlive the process (see
     * berth_image_leases_release_stale). */
    berth_labels_set(&l->labels, BERTH_LABEL_IN_FLIGHT, "import");
    return berth_meta_leases_create(txn, op->ns, l, err);
}

struct stale_op {
    size_t released;
};

static int release_stale_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct stale_op *op = arg;
    static const char *const filters[] = {"labels.\"" BERTH_LABEL_IN_FLIGHT "\""};
    _cleanup_strv_ char **names = NULL;
    struct berth_filter *f = NULL;
    int ret = 0;

    if (berth_filter_parse(filters, 1, &f, err) < 0)
        return -1;
    if (berth_meta_namespaces_list(txn, &names, err) < 0) {
        berth_filter_free(f);
        return -1;
    }
    for (char **ns = names; *ns && ret == 0; ns++) {
        struct berth_lease **v = NULL;
        size_t n = 0;
        ret = berth_meta_leases_list(txn, *ns, f, &v, &n, err);
        for (size_t i = 0; i < n && ret == 0; i++) {
            ret = berth_meta_leases_delete(txn, *ns, v[i]->id, err);
            op->released += ret == 0;
        }
        berth_leases_free(v, n);
    }
    berth_filter_free(f);
    return ret;
}

int berth_image_leases_release_stale(struct berth_meta_db *db, size_t *released,
                                     struct berth_err **err)
{
    struct stale_op op = {0};

    *released = 0;
    if (berth_meta_update(db, release_stale_cb, &op, err) < 0)
        return -1;
    *released = op.released;
    return 0;
}

static int lease_delete_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct lease_op *op = arg;
    return berth_meta_leases_delete(txn, op->ns, op->id, err);
}

int berth_image_lease_begin(const struct berth_image_stores *st, const char *ns, const char *what,
                            char id[64], struct berth_err **err)
{
    uint16_t r = 0;
    struct lease_op op = {.ns = ns, .id = id};

    (void)!getrandom(&r, sizeof(r), GRND_NONBLOCK);
    snprintf(id, 64, "%s-%" PRId64 "-%04x", what, berth_now_ns(), r);
    return berth_meta_update(st->db, lease_create_cb, &op, err);
}

void berth_image_lease_end(const struct berth_image_stores *st, const char *ns, const char *id)
{
    _cleanup_err_ struct berth_err *e = NULL;
    struct lease_op op = {.ns = ns, .id = id};

    (void)berth_meta_update(st->db, lease_delete_cb, &op, &e);
}

/* Source of a blob's bytes: a libarchive member or a memory buffer. */
struct blob_src {
    struct archive *a;
    const void *buf;
    size_t len;
};

/* Skips the rest of the archive member (the store has its bytes already). */
static int skip_src(struct blob_src *src, const char *what, struct berth_err **err)
{
    if (src->a && archive_read_data_skip(src->a) != ARCHIVE_OK)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "read \"%s\": %s", what,
                             archive_error_string(src->a));
    return 0;
}

/* Streams src into the store as a blob (expected: its digest, or NULL to compute), recording
 * it in the namespace under the lease (metadata/ingest.h). A blob the store already has (from
 * another namespace or an earlier import) is shared: its bytes are skipped. *digest_out
 * caller-owned. */
static int blob_write(struct imp *im, const char *what, struct blob_src *src, int64_t size,
                      const char *expected, char **digest_out, struct berth_err **err)
{
    _cleanup_(berth_meta_ingest_closep) struct berth_meta_ingest *w = NULL;
    _cleanup_free_ char *ref = NULL, *digest = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    struct berth_meta_ingest_opts o = {
        .ns = im->opts->ns, .lease = im->lease, .total = size, .expected = expected};
    int64_t off = 0;

    *digest_out = NULL;
    ref = berth_strdup_printf("%s-%u", im->lease, im->seq++);
    o.ref = ref;
    if (berth_meta_ingest_open(im->st->db, im->st->content, &o, &w, &e) < 0) {
        int64_t have = -1;
        if (e->code != BERTH_E_ALREADY_EXISTS)
            return *err = steal_ptr(e), -1;
        berth_err_free(&e);
        /* The namespace has it (and now the lease too); a member claiming its digest with
         * another size is corrupt, as the commit would have found. */
        if (berth_content_blob_stat(im->st->content, expected, &have, &e) == 0 && have != size)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                 "blob \"%s\": size %" PRId64
                                 " differs from the stored %s's %" PRId64,
                                 what, size, expected, have);
        if (skip_src(src, what, err) < 0)
            return -1;
        *digest_out = berth_xstrdup(expected);
        return 0;
    }
    if (berth_meta_ingest_is_shared(w)) {
        if (skip_src(src, what, err) < 0)
            goto fail;
    } else if (src->a) {
        const void *buf;
        size_t len;
        la_int64_t at;
        int r;
        while ((r = archive_read_data_block(src->a, &buf, &len, &at)) == ARCHIVE_OK) {
            static const uint8_t zeros[65536];
            while (off < at) { /* a sparse member's hole */
                size_t z = at - off > (int64_t)sizeof(zeros) ? sizeof(zeros) : (size_t)(at - off);
                if (berth_meta_ingest_write(w, off, zeros, z, err) < 0)
                    goto fail;
                off += (int64_t)z;
            }
            if (len && berth_meta_ingest_write(w, off, buf, len, err) < 0)
                goto fail;
            off += (int64_t)len;
        }
        if (r != ARCHIVE_EOF) {
            if (im->rd_err) {
                *err = steal_ptr(im->rd_err);
                berth_err_wrap(err, "read \"%s\"", what);
            } else {
                berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "read \"%s\": %s", what,
                              archive_error_string(src->a));
            }
            goto fail;
        }
    } else if (src->len && berth_meta_ingest_write(w, 0, src->buf, src->len, err) < 0) {
        goto fail;
    }
    if (berth_meta_ingest_commit(w, size, expected, NULL, &digest, NULL, &e) < 0 &&
        e->code != BERTH_E_ALREADY_EXISTS) {
        *err = steal_ptr(e);
        berth_err_wrap(err, "blob \"%s\"", what);
        goto fail;
    }
    w = NULL; /* consumed; ALREADY_EXISTS: the namespace had it, the lease holds it now */
    *digest_out = steal_ptr(digest);
    return 0;
fail:
    /* Drop the half-written ingest now rather than leaving it to the lease's expiry. */
    berth_meta_ingest_close(steal_ptr(w));
    berth_err_free(&e);
    (void)berth_meta_ingest_abort(im->st->db, im->st->content, im->opts->ns, im->lease, ref, &e);
    return -1;
}

/* ---- reading the archive ---- */

static la_ssize_t read_cb(struct archive *a, void *arg, const void **buf)
{
    struct imp *im = arg;
    ssize_t n = im->rd(im->rd_arg, buf, &im->rd_err);

    if (n < 0) {
        archive_set_error(a, EIO, "%s", im->rd_err ? im->rd_err->msg : "read failed");
        return -1;
    }
    return n;
}

static struct member *member_add(struct imp *im, const char *path)
{
    struct member *m;

    if (im->n_members == im->cap_members) {
        im->cap_members = im->cap_members ? im->cap_members * 2 : 32;
        im->members = berth_xrealloc(im->members, im->cap_members * sizeof(*im->members));
    }
    m = &im->members[im->n_members++];
    memset(m, 0, sizeof(*m));
    m->path = berth_xstrdup(path);
    return m;
}

static struct member *member_find(struct imp *im, const char *path)
{
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    for (size_t i = im->n_members; i-- > 0;)
        if (strcmp(im->members[i].path, path) == 0)
            return &im->members[i];
    return NULL;
}

static bool is_blob_path(const char *p, char expected[72])
{
    const char *hex = p + strlen("blobs/sha256/");

    if (!berth_str_has_prefix(p, "blobs/sha256/") || strlen(hex) != 64)
        return false;
    snprintf(expected, 72, "sha256:%s", hex);
    return berth_digest_validate(expected, NULL) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int read_member(struct imp *im, struct archive *a, struct archive_entry *ent,
                       struct berth_err **err)
{
    const char *path = archive_entry_pathname(ent);
    int64_t size = archive_entry_size(ent);
    struct member *m;
    char expected[72];

    while (path[0] == '.' && path[1] == '/')
        path += 2;
    m = member_add(im, path);
    m->size = size;
    if (is_blob_path(path, expected) || (size > MEM_FILE_MAX && !ends_with(path, ".json")) ||
        ends_with(path, ".tar")) {
        struct blob_src src = {.a = a};
        return blob_write(im, path, &src, size, is_blob_path(path, expected) ? expected : NULL,
                          &m->digest, err);
    }
    if (size > DOC_MAX)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "archive member \"%s\" too large",
                             path);
    m->in_mem = true;
    m->mem.data = berth_xmalloc(size ? (size_t)size : 1);
    m->mem.len = (size_t)size;
    for (size_t got = 0; got < (size_t)size;) {
        la_ssize_t n = archive_read_data(a, m->mem.data + got, (size_t)size - got);
        if (n <= 0)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "read \"%s\": %s", path,
                                 n < 0 ? archive_error_string(a) : "truncated");
        got += (size_t)n;
    }
    return 0;
}

static int read_archive(struct imp *im, struct berth_err **err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *ent;
    int r, ret = -1;

    archive_read_support_format_tar(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_none(a);
    if (archive_read_open(a, im, NULL, read_cb, NULL) != ARCHIVE_OK) {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "open archive: %s",
                      archive_error_string(a));
        goto out;
    }
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        if (archive_entry_filetype(ent) != AE_IFREG)
            continue;
        if (read_member(im, a, ent, err) < 0)
            goto out;
    }
    if (r != ARCHIVE_EOF) {
        if (im->rd_err)
            *err = steal_ptr(im->rd_err);
        else
            berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "read archive: %s",
                          archive_error_string(a));
        goto out;
    }
    ret = 0;
out:
    archive_read_free(a);
    return ret;
}

/* ---- walking the image ---- */

static void label_add(struct imp *im, const char *digest, const char *key, const char *val)
{
    if (im->n_lbl == im->cap_lbl) {
        im->cap_lbl = im->cap_lbl ? im->cap_lbl * 2 : 16;
        im->lbl_digest = berth_xrealloc(im->lbl_digest, im->cap_lbl * sizeof(char *));
        im->lbl_key = berth_xrealloc(im->lbl_key, im->cap_lbl * sizeof(char *));
        im->lbl_val = berth_xrealloc(im->lbl_val, im->cap_lbl * sizeof(char *));
    }
    im->lbl_digest[im->n_lbl] = berth_xstrdup(digest);
    im->lbl_key[im->n_lbl] = berth_xstrdup(key);
    im->lbl_val[im->n_lbl] = berth_xstrdup(val);
    im->n_lbl++;
}

/* The blob must be in the namespace (the archive had it, or an earlier import did). */
static int blob_present(struct imp *im, const char *digest, const char *parent,
                        struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;

    for (size_t i = 0; i < im->n_members; i++)
        if (im->members[i].digest && strcmp(im->members[i].digest, digest) == 0)
            return 0;
    if (berth_meta_content_adopt(im->st->db, im->st->content, im->opts->ns, im->lease, digest, 0,
                                 NULL, &e) == 0)
        return 0;
    if (e->code != BERTH_E_NOT_FOUND)
        return *err = steal_ptr(e), -1;
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                         "blob %s referenced by %s is missing from the archive", digest, parent);
}

static int walk_entry_cb(void *arg, const struct berth_descriptor *index, size_t i,
                         const struct berth_oci_desc *entry, struct berth_err **err)
{
    struct imp *im = arg;
    char key[64];

    if (blob_present(im, entry->d.digest, index->digest, err) < 0)
        return -1;
    /* Numbered by position in the whole index, not among the matches: an import of another
     * platform later adds its manifest instead of replacing this one. */
    snprintf(key, sizeof(key), "containerd.io/gc.ref.content.m.%zu", i);
    label_add(im, index->digest, key, entry->d.digest);
    return 0;
}

static int walk_manifest_cb(void *arg, const struct berth_descriptor *desc,
                            const struct berth_oci_manifest *m, struct berth_err **err)
{
    struct imp *im = arg;

    if (blob_present(im, m->config.d.digest, desc->digest, err) < 0)
        return -1;
    label_add(im, desc->digest, "containerd.io/gc.ref.content.config", m->config.d.digest);
    for (size_t i = 0; i < m->n_layers; i++) {
        char key[64];
        if (blob_present(im, m->layers[i].d.digest, desc->digest, err) < 0)
            return -1;
        snprintf(key, sizeof(key), "containerd.io/gc.ref.content.l.%zu", i);
        label_add(im, desc->digest, key, m->layers[i].d.digest);
    }
    return 0;
}

/* Checks that every blob of the image's platform (or all platforms) is there and gathers the
 * gc.ref labels that tie them to d. */
static int walk(struct imp *im, const struct berth_descriptor *d, struct berth_err **err)
{
    struct berth_image_local_source src;
    const struct berth_image_walk_opts wo = {.platform = im->opts->platform,
                                             .all_platforms = im->opts->all_platforms};
    const struct berth_image_visitor v = {
        .index_entry_cb = walk_entry_cb, .manifest_cb = walk_manifest_cb, .arg = im};

    berth_image_local_source_init(&src, im->st, im->opts->ns);
    return berth_image_walk_all(&src.src, d, &wo, &v, err);
}

/* ---- image records ---- */

struct named {
    char *name;
    struct berth_descriptor target;
};

int berth_image_record_put(struct berth_meta_txn *txn, const char *ns, const char *name,
                           const struct berth_descriptor *target, const struct berth_labels *labels,
                           struct berth_image **out, bool *created, struct berth_err **err)
{
    _cleanup_(berth_image_freep) struct berth_image *rec = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    *out = NULL;
    *created = false;
    if (berth_meta_images_get(txn, ns, name, &rec, &e) == 0) {
        char *paths[] = {(char *)"target", (char *)"labels"};
        berth_descriptor_copy(&rec->target, target);
        if (labels)
            berth_labels_copy(&rec->labels, labels);
        return berth_meta_images_update(txn, ns, rec, paths, labels ? 2 : 1, out, err);
    }
    if (e->code != BERTH_E_NOT_FOUND)
        return *err = steal_ptr(e), -1;
    rec = berth_image_new();
    rec->name = berth_xstrdup(name);
    berth_descriptor_copy(&rec->target, target);
    if (labels)
        berth_labels_copy(&rec->labels, labels);
    if (berth_meta_images_create(txn, ns, rec, err) < 0)
        return -1;
    *created = true;
    *out = steal_ptr(rec);
    return 0;
}

struct records_op {
    struct imp *im;
    struct named *v;
    size_t n;
    struct berth_import_result *res;
};

static int records_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct records_op *op = arg;
    const char *ns = op->im->opts->ns;

    berth_import_result_clear(op->res); /* a retried batch starts over */
    for (size_t i = 0; i < op->im->n_lbl; i++)
        if (berth_meta_content_label_set(txn, ns, op->im->lbl_digest[i], op->im->lbl_key[i],
                                         op->im->lbl_val[i], err) < 0)
            return -1;
    op->res->images = berth_xcalloc(op->n + 1, sizeof(struct berth_image *));
    op->res->created = berth_xcalloc(op->n + 1, sizeof(bool));
    for (size_t i = 0; i < op->n; i++) {
        if (berth_image_record_put(txn, ns, op->v[i].name, &op->v[i].target, NULL,
                                   &op->res->images[op->res->n], &op->res->created[op->res->n],
                                   err) < 0)
            return -1;
        op->res->n++;
    }
    return 0;
}

static void named_add(struct named **v, size_t *n, const char *name,
                      const struct berth_descriptor *target)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].name, name) == 0) { /* a later entry of the same name wins */
            berth_descriptor_copy(&(*v)[i].target, target);
            return;
        }
    *v = berth_xrealloc(*v, (*n + 1) * sizeof(**v));
    memset(&(*v)[*n], 0, sizeof(**v));
    (*v)[*n].name = berth_xstrdup(name);
    berth_descriptor_copy(&(*v)[*n].target, target);
    (*n)++;
}

static void named_free(struct named *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        berth_descriptor_clear(&v[i].target);
    }
    free(v);
}

/* The name an index.json entry gives its image, normalized; NULL if none. */
static char *entry_name(const struct berth_import_opts *opts, const struct berth_descriptor *d,
                        struct berth_err **err)
{
    const char *n = berth_labels_get(&d->annotations, BERTH_ANNOT_IMAGE_NAME);
    const char *ref = berth_labels_get(&d->annotations, BERTH_ANNOT_REF_NAME);
    _cleanup_free_ char *full = NULL;
    char *out = NULL;

    if (!n && ref) {
        /* A bare tag ("latest") only names something under a base name. */
        if (!strpbrk(ref, "/:@") && !(opts->base_name && *opts->base_name))
            return NULL;
        if (!strpbrk(ref, "/:@"))
            full = berth_strdup_printf("%s:%s", opts->base_name, ref);
        else
            full = berth_xstrdup(ref);
        n = full;
    }
    if (!n)
        return NULL;
    if (berth_image_ref_normalize(n, &out, err) < 0)
        return NULL;
    return out;
}

static struct member *mem_member(struct imp *im, const char *path)
{
    struct member *m = member_find(im, path);
    return m && m->in_mem ? m : NULL;
}

/* Writes a document built here (docker manifests, an index) as a blob. */
static int doc_write(struct imp *im, const char *what, const char *json, char **digest,
                     struct berth_err **err)
{
    struct blob_src src = {.buf = json, .len = strlen(json)};
    return blob_write(im, what, &src, (int64_t)src.len, NULL, digest, err);
}

/* First bytes of a blob decide a docker layer's media type (containerd sniffs the same). */
static const char *layer_media_type(struct imp *im, const char *digest)
{
    _cleanup_close_ int fd = -1;
    _cleanup_err_ struct berth_err *e = NULL;
    uint8_t head[4] = {0};
    int64_t size;

    if (berth_content_blob_open(im->st->content, digest, &fd, &size, &e) < 0 ||
        pread(fd, head, sizeof(head), 0) < 3)
        return BERTH_MT_DOCKER_LAYER;
    if (head[0] == 0x1f && head[1] == 0x8b && head[2] == 0x08)
        return BERTH_MT_DOCKER_LAYER_GZIP;
    if (head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
        return BERTH_MT_OCI_LAYER "+zstd";
    return BERTH_MT_DOCKER_LAYER;
}

static json_t *desc_json(const char *mt, const char *digest, int64_t size)
{
    return json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest", digest, "size", (json_int_t)size);
}

/* docker save: one schema 2 manifest per manifest.json entry, named by its RepoTags. */
static int docker_images(struct imp *im, struct member *mj, struct named **v, size_t *n,
                         struct berth_err **err)
{
    struct berth_docker_entry *ents = NULL;
    size_t n_ents = 0;
    int ret = -1;

    if (berth_docker_manifest_parse(mj->mem.data, mj->mem.len, &ents, &n_ents, err) < 0)
        return -1;
    for (size_t i = 0; i < n_ents; i++) {
        struct member *cm = member_find(im, ents[i].config);
        json_t *layers = json_array(), *man;
        _cleanup_free_ char *cdigest = NULL, *mdigest = NULL, *json = NULL;
        struct berth_descriptor target = {0};

        if (!cm) {
            json_decref(layers);
            berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                          "config \"%s\" is missing from the archive", ents[i].config);
            goto out;
        }
        if (cm->digest) {
            cdigest = berth_xstrdup(cm->digest);
        } else {
            struct blob_src src = {.buf = cm->mem.data, .len = cm->mem.len};
            if (blob_write(im, cm->path, &src, (int64_t)cm->mem.len, NULL, &cdigest, err) < 0) {
                json_decref(layers);
                goto out;
            }
            cm->digest = berth_xstrdup(cdigest);
        }
        for (size_t l = 0; l < ents[i].n_layers; l++) {
            struct member *lm = member_find(im, ents[i].layers[l]);
            if (!lm || !lm->digest) {
                json_decref(layers);
                berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                              "layer \"%s\" is missing from the archive", ents[i].layers[l]);
                goto out;
            }
            json_array_append_new(
                layers, desc_json(layer_media_type(im, lm->digest), lm->digest, lm->size));
        }
        man = json_pack("{s:i,s:s,s:o,s:o}", "schemaVersion", 2, "mediaType",
                        BERTH_MT_DOCKER_MANIFEST, "config",
                        desc_json(BERTH_MT_DOCKER_CONFIG, cdigest, cm->size), "layers", layers);
        json = json_dumps(man, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(man);
        if (doc_write(im, "manifest.json", json, &mdigest, err) < 0)
            goto out;
        target.media_type = (char *)BERTH_MT_DOCKER_MANIFEST;
        target.digest = mdigest;
        target.size = (int64_t)strlen(json);
        for (char **t = ents[i].repo_tags; *t; t++) {
            _cleanup_free_ char *name = NULL;
            struct berth_descriptor tt = {0};
            _cleanup_(berth_image_ref_clear) struct berth_image_ref ref = {0};
            if (berth_image_ref_normalize(*t, &name, err) < 0 ||
                berth_image_ref_parse(name, &ref, err) < 0)
                goto out;
            berth_descriptor_copy(&tt, &target);
            berth_labels_set(&tt.annotations, BERTH_ANNOT_IMAGE_NAME, name);
            berth_labels_set(&tt.annotations, BERTH_ANNOT_REF_NAME, ref.tag ? ref.tag : name);
            named_add(v, n, name, &tt);
            berth_descriptor_clear(&tt);
        }
        if (walk(im, &target, err) < 0)
            goto out;
    }
    ret = 0;
out:
    berth_docker_entries_free(ents, n_ents);
    return ret;
}

static int oci_images(struct imp *im, struct member *ij, struct named **v, size_t *n,
                      struct berth_err **err)
{
    _cleanup_(berth_oci_index_freep) struct berth_oci_index *ix = NULL;

    if (berth_oci_index_parse(ij->mem.data, ij->mem.len, "index.json", &ix, err) < 0)
        return -1;
    for (size_t i = 0; i < ix->n_manifests; i++) {
        struct berth_descriptor *d = &ix->manifests[i].d;
        _cleanup_err_ struct berth_err *e = NULL;
        _cleanup_free_ char *name = NULL;

        if (blob_present(im, d->digest, "index.json", err) < 0)
            return -1;
        if (!d->media_type) {
            _cleanup_(berth_bytes_clear) struct berth_bytes doc = {0};
            enum berth_oci_kind k;
            if (berth_image_blob_read(im->st, im->opts->ns, d->digest, DOC_MAX, &doc, err) < 0)
                return -1;
            k = berth_oci_sniff(doc.data, doc.len);
            d->media_type =
                berth_xstrdup(k == BERTH_OCI_INDEX ? BERTH_MT_OCI_INDEX : BERTH_MT_OCI_MANIFEST);
        }
        name = entry_name(im->opts, d, &e);
        if (e)
            return *err = steal_ptr(e), -1;
        if (walk(im, d, err) < 0)
            return -1;
        if (name)
            named_add(v, n, name, d);
    }
    if (im->opts->index_name && *im->opts->index_name) {
        _cleanup_free_ char *digest = NULL, *name = NULL;
        struct berth_descriptor d = {.media_type = (char *)BERTH_MT_OCI_INDEX};
        if (berth_image_ref_normalize(im->opts->index_name, &name, err) < 0)
            return -1;
        /* index.json itself becomes the index blob */
        struct blob_src src = {.buf = ij->mem.data, .len = ij->mem.len};
        if (blob_write(im, "index.json", &src, (int64_t)ij->mem.len, NULL, &digest, err) < 0)
            return -1;
        d.digest = digest;
        d.size = (int64_t)ij->mem.len;
        for (size_t i = 0; i < ix->n_manifests; i++) {
            char key[64];
            snprintf(key, sizeof(key), "containerd.io/gc.ref.content.m.%zu", i);
            label_add(im, digest, key, ix->manifests[i].d.digest);
        }
        named_add(v, n, name, &d);
    }
    return 0;
}

static void imp_clear(struct imp *im)
{
    for (size_t i = 0; i < im->n_members; i++) {
        free(im->members[i].path);
        free(im->members[i].digest);
        berth_bytes_clear(&im->members[i].mem);
    }
    free(im->members);
    for (size_t i = 0; i < im->n_lbl; i++) {
        free(im->lbl_digest[i]);
        free(im->lbl_key[i]);
        free(im->lbl_val[i]);
    }
    free(im->lbl_digest);
    free(im->lbl_key);
    free(im->lbl_val);
    berth_err_free(&im->rd_err);
}

static int import_run(struct imp *im, struct berth_import_result *out, struct berth_err **err)
{
    struct member *ij, *mj;
    struct named *v = NULL;
    size_t n = 0;
    int ret = -1;

    if (read_archive(im, err) < 0)
        return -1;
    ij = mem_member(im, "index.json");
    mj = mem_member(im, "manifest.json");
    if (ij && member_find(im, "oci-layout")) {
        if (oci_images(im, ij, &v, &n, err) < 0)
            goto out;
    } else if (mj) {
        if (docker_images(im, mj, &v, &n, err) < 0)
            goto out;
    } else {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                      "archive is neither an OCI image layout nor a docker save archive");
        goto out;
    }
    if (n == 0) {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                      "archive names no image (give a base name or an index name)");
        goto out;
    }
    {
        struct records_op op = {.im = im, .v = v, .n = n, .res = out};
        if (berth_meta_update(im->st->db, records_cb, &op, err) < 0) {
            berth_import_result_clear(out);
            goto out;
        }
    }
    if (!im->opts->no_unpack) {
        for (size_t i = 0; i < n; i++) {
            bool seen = false;
            for (size_t j = 0; j < i; j++)
                seen |= strcmp(v[j].target.digest, v[i].target.digest) == 0;
            if (seen)
                continue;
            if (berth_image_unpack(im->st, im->opts->ns, im->lease, &v[i].target,
                                   im->opts->platform, im->opts->snapshotter, NULL, err) < 0) {
                berth_err_wrap(err, "unpack \"%s\"", v[i].name);
                goto out;
            }
        }
    }
    ret = 0;
out:
    named_free(v, n);
    return ret;
}

int berth_image_import(const struct berth_image_stores *st, const struct berth_import_opts *opts,
                       berth_import_read_fn rd, void *arg, struct berth_import_result *out,
                       struct berth_err **err)
{
    struct imp im = {.st = st, .opts = opts, .rd = rd, .rd_arg = arg};
    int ret;

    memset(out, 0, sizeof(*out));
    if (!opts->ns || !*opts->ns)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "import: namespace required");
    if (berth_image_lease_begin(st, opts->ns, "import", im.lease, err) < 0)
        return berth_err_wrap(err, "import");
    ret = import_run(&im, out, err);
    berth_image_lease_end(st, opts->ns, im.lease);
    imp_clear(&im);
    if (ret < 0) {
        berth_import_result_clear(out);
        return berth_err_wrap(err, "import");
    }
    return 0;
}

struct fd_reader {
    int fd;
    uint8_t *buf;
};

static ssize_t fd_read_cb(void *arg, const void **buf, struct berth_err **err)
{
    struct fd_reader *r = arg;
    ssize_t n;

    do
        n = read(r->fd, r->buf, 1 << 20);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "read archive");
    *buf = r->buf;
    return n;
}

int berth_image_import_fd(const struct berth_image_stores *st, const struct berth_import_opts *opts,
                          int fd, struct berth_import_result *out, struct berth_err **err)
{
    struct fd_reader r = {.fd = fd, .buf = berth_xmalloc(1 << 20)};
    int ret = berth_image_import(st, opts, fd_read_cb, &r, out, err);

    free(r.buf);
    return ret;
}
