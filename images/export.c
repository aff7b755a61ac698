/* SPDX-License-Identifier: Apache-2.0 */
/* Image export as an OCI layout tar stream (see export.h). Blobs are read from the content
 * store in 1 MiB pieces and handed to libarchive, which hands them to the caller's writer. */
#include "images/export.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "images/reference.h"
#include "metadata/content.h"

#define CHUNK (1 << 20)
#define MTIME 0

struct exp {
    const struct berth_image_stores *st;
    const struct berth_export_opts *opts;
    const struct berth_platform *want;
    berth_export_write_fn wr;
    void *arg;
    struct berth_err *wr_err;
    char **blobs; /* digests to write, in walk order, unique */
    int64_t *sizes;
    size_t n_blobs;
};

static void blob_add(struct exp *e, const char *digest, int64_t size)
{
    for (size_t i = 0; i < e->n_blobs; i++)
        if (strcmp(e->blobs[i], digest) == 0)
            return;
    e->blobs = berth_xrealloc(e->blobs, (e->n_blobs + 1) * sizeof(char *));
    e->sizes = berth_xrealloc(e->sizes, (e->n_blobs + 1) * sizeof(int64_t));
    e->blobs[e->n_blobs] = berth_xstrdup(digest);
    e->sizes[e->n_blobs++] = size;
}

static int need(struct exp *e, const struct berth_descriptor *d, struct berth_err **err)
{
    int64_t size;

    if (berth_content_blob_stat(e->st->content, d->digest, &size, err) < 0)
        return berth_err_wrap(err, "export");
    blob_add(e, d->digest, size);
    return 0;
}

static int entry_cb(void *arg, const struct berth_descriptor *index, size_t i,
                    const struct berth_oci_desc *entry, struct berth_err **err)
{
    return need(arg, &entry->d, err);
}

static int manifest_cb(void *arg, const struct berth_descriptor *desc,
                       const struct berth_oci_manifest *m, struct berth_err **err)
{
    struct exp *e = arg;

    if (need(e, &m->config.d, err) < 0)
        return -1;
    for (size_t i = 0; i < m->n_layers; i++)
        if (need(e, &m->layers[i].d, err) < 0)
            return -1;
    return 0;
}

/* Collects the blobs of target in walk order: itself, then every manifest of the platform
 * (or all) with its config and layers. */
static int walk(struct exp *e, const struct berth_descriptor *target, struct berth_err **err)
{
    struct berth_image_local_source src;
    const struct berth_image_walk_opts wo = {
        .platform = e->want, .all_platforms = e->opts->all_platforms, .require_match = true};
    const struct berth_image_visitor v = {
        .index_entry_cb = entry_cb, .manifest_cb = manifest_cb, .arg = e};

    if (need(e, target, err) < 0)
        return -1;
    berth_image_local_source_init(&src, e->st, e->opts->ns);
    return berth_image_walk_all(&src.src, target, &wo, &v, err);
}

static la_ssize_t write_cb(struct archive *a, void *arg, const void *buf, size_t len)
{
    struct exp *e = arg;

    if (e->wr(e->arg, buf, len, &e->wr_err) < 0) {
        archive_set_error(a, EIO, "%s", e->wr_err ? e->wr_err->msg : "write failed");
        return -1;
    }
    return (la_ssize_t)len;
}

static int ar_fail(struct exp *e, struct archive *a, struct berth_err **err)
{
    if (e->wr_err) {
        *err = steal_ptr(e->wr_err);
        return -1;
    }
    return berth_err_set(err, BERTH_E_INTERNAL, 0, "write archive: %s", archive_error_string(a));
}

static int ar_header(struct exp *e, struct archive *a, const char *path, bool dir, int64_t size,
                     struct berth_err **err)
{
    struct archive_entry *ent = archive_entry_new();
    int r;

    archive_entry_set_pathname(ent, path);
    archive_entry_set_filetype(ent, dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(ent, dir ? 0755 : 0444);
    archive_entry_set_size(ent, dir ? 0 : size);
    archive_entry_set_mtime(ent, MTIME, 0);
    r = archive_write_header(a, ent);
    archive_entry_free(ent);
    return r == ARCHIVE_OK ? 0 : ar_fail(e, a, err);
}

static int ar_buf(struct exp *e, struct archive *a, const char *path, const char *buf,
                  struct berth_err **err)
{
    size_t len = strlen(buf);

    if (ar_header(e, a, path, false, (int64_t)len, err) < 0)
        return -1;
    if (len && archive_write_data(a, buf, len) != (la_ssize_t)len)
        return ar_fail(e, a, err);
    return 0;
}

static int ar_blob(struct exp *e, struct archive *a, const char *digest, int64_t size, uint8_t *buf,
                   struct berth_err **err)
{
    _cleanup_free_ char *path = berth_strdup_printf("blobs/sha256/%s", digest + 7);
    _cleanup_close_ int fd = -1;
    int64_t have, off = 0;

    if (berth_content_blob_open(e->st->content, digest, &fd, &have, err) < 0)
        return -1;
    if (ar_header(e, a, path, false, size, err) < 0)
        return -1;
    while (off < size) {
        ssize_t n = pread(fd, buf, size - off > CHUNK ? CHUNK : (size_t)(size - off), off);
        if (n <= 0)
            return berth_err_set(err, BERTH_E_INTERNAL, n < 0 ? errno : 0, "read blob %s", digest);
        if (archive_write_data(a, buf, (size_t)n) != n)
            return ar_fail(e, a, err);
        off += n;
    }
    return 0;
}

static json_t *index_entry(const struct berth_image *im)
{
    _cleanup_(berth_image_ref_clear) struct berth_image_ref ref = {0};
    _cleanup_err_ struct berth_err *e = NULL;
    json_t *annot = json_object();
    const char *refname = im->name;

    if (berth_image_ref_parse(im->name, &ref, &e) == 0 && ref.tag)
        refname = ref.tag;
    json_object_set_new(annot, "io.containerd.image.name", json_string(im->name));
    json_object_set_new(annot, "org.opencontainers.image.ref.name", json_string(refname));
    return json_pack("{s:s,s:s,s:I,s:o}", "mediaType", im->target.media_type, "digest",
                     im->target.digest, "size", (json_int_t)im->target.size, "annotations", annot);
}

int berth_image_export(const struct berth_image_stores *st, const struct berth_export_opts *opts,
                       char *const *names, size_t n, berth_export_write_fn wr, void *arg,
                       struct berth_err **err)
{
    struct berth_platform host = {0};
    struct exp e = {.st = st, .opts = opts, .wr = wr, .arg = arg};
    struct berth_image **ims = berth_xcalloc(n + 1, sizeof(*ims));
    struct archive *a = NULL;
    _cleanup_free_ uint8_t *buf = NULL;
    _cleanup_free_ char *index = NULL;
    json_t *manifests = json_array(), *ix;
    int ret = -1;

    if (n == 0) {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "export: no image names given");
        goto out;
    }
    e.want = opts->platform;
    if (!e.want) {
        berth_platform_host(&host);
        e.want = &host;
    }
    {
        _cleanup_txn_ struct berth_meta_txn *txn = NULL;
        if (berth_meta_txn_begin_read(st->db, &txn, err) < 0)
            goto out;
        for (size_t i = 0; i < n; i++)
            if (berth_meta_images_get(txn, opts->ns, names[i], &ims[i], err) < 0) {
                berth_err_wrap(err, "export");
                goto out;
            }
    }
    for (size_t i = 0; i < n; i++) {
        if (walk(&e, &ims[i]->target, err) < 0)
            goto out;
        json_array_append_new(manifests, index_entry(ims[i]));
    }
    ix = json_pack("{s:i,s:s,s:O}", "schemaVersion", 2, "mediaType", BERTH_MT_OCI_INDEX,
                   "manifests", manifests);
    index = json_dumps(ix, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ix);

    a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_per_block(a, 0); /* pass data through as it comes */
    if (archive_write_open2(a, &e, NULL, write_cb, NULL, NULL) != ARCHIVE_OK) {
        ar_fail(&e, a, err);
        goto out;
    }
    buf = berth_xmalloc(CHUNK);
    if (ar_buf(&e, a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", err) < 0 ||
        ar_header(&e, a, "blobs", true, 0, err) < 0 ||
        ar_header(&e, a, "blobs/sha256", true, 0, err) < 0)
        goto out;
    for (size_t i = 0; i < e.n_blobs; i++)
        if (ar_blob(&e, a, e.blobs[i], e.sizes[i], buf, err) < 0)
            goto out;
    if (ar_buf(&e, a, "index.json", index, err) < 0)
        goto out;
    if (archive_write_close(a) != ARCHIVE_OK) {
        ar_fail(&e, a, err);
        goto out;
    }
    ret = 0;
out:
    if (a)
        archive_write_free(a);
    json_decref(manifests);
    berth_images_free(ims, n);
    for (size_t i = 0; i < e.n_blobs; i++)
        free(e.blobs[i]);
    free(e.blobs);
    free(e.sizes);
    berth_err_free(&e.wr_err);
    berth_platform_clear(&host);
    return ret;
}
