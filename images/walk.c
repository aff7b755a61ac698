/* SPDX-License-Identifier: Apache-2.0 */
/* The image walk over a blob source (see walk.h): resolve one manifest, or visit every
 * matching one. Documents are read whole (at most BERTH_IMAGE_DOC_MAX) and parsed with
 * images/manifest.h; nothing is kept between calls. */
#include "images/walk.h"

#include <string.h>
#include <sys/types.h> /* ssize_t */

void berth_image_walk_clear(struct berth_image_walk *w)
{
    if (!w)
        return;
    berth_oci_desc_clear(&w->manifest_desc);
    berth_oci_manifest_free(w->manifest);
    berth_image_config_free(w->config);
    berth_strv_free(w->chain_ids);
    for (size_t i = 0; i < w->n_indexes; i++) {
        berth_descriptor_clear(&w->indexes[i].desc);
        berth_oci_index_free(w->indexes[i].index);
    }
    free(w->indexes);
    memset(w, 0, sizeof(*w));
}

static int doc_read(const struct berth_blob_source *src, const struct berth_descriptor *d,
                    struct berth_bytes *out, struct berth_err **err)
{
    memset(out, 0, sizeof(*out));
    if (src->read(src->arg, d, BERTH_IMAGE_DOC_MAX, out, err) < 0) {
        berth_bytes_clear(out);
        return -1;
    }
    return 0;
}

/* What d is: its media type says, or (none or an unknown one) its content does. The
 * document is read into *doc unless the media type names a manifest, config or layer. */
static int doc_kind(const struct berth_blob_source *src, const struct berth_descriptor *d,
                    struct berth_bytes *doc, enum berth_oci_kind *kind, struct berth_err **err)
{
    *kind = berth_oci_media_kind(d->media_type);
    memset(doc, 0, sizeof(*doc));
    if (*kind != BERTH_OCI_INDEX && *kind != BERTH_OCI_UNKNOWN)
        return 0;
    if (doc_read(src, d, doc, err) < 0)
        return -1;
    if (*kind == BERTH_OCI_UNKNOWN)
        *kind = berth_oci_sniff(doc->data, doc->len);
    return 0;
}

static int not_image(const struct berth_descriptor *d, struct berth_err **err)
{
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                         "%s is neither an index nor a manifest (media type \"%s\")", d->digest,
                         d->media_type ? d->media_type : "");
}

static int too_deep(const struct berth_descriptor *d, struct berth_err **err)
{
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                         "index nesting too deep at %s (more than %d levels)", d->digest,
                         BERTH_IMAGE_INDEX_DEPTH_MAX);
}

static void platform_copy(struct berth_platform *dst, const struct berth_platform *src)
{
    dst->os = src->os ? berth_xstrdup(src->os) : NULL;
    dst->arch = src->arch ? berth_xstrdup(src->arch) : NULL;
    dst->variant = src->variant ? berth_xstrdup(src->variant) : NULL;
}

/* Position of the best entry of ix for want, or -1. Lowest rank wins and the first of equals
 * (containerd's platforms.Ordered matcher sorts stably); no platform ranks as an exact match,
 * as containerd's handlers let such entries through. */
static ssize_t best_entry(const struct berth_oci_index *ix, const struct berth_platform *want)
{
    ssize_t pick = -1;
    int best = -1;

    for (size_t i = 0; i < ix->n_manifests; i++) {
        const struct berth_oci_desc *c = &ix->manifests[i];
        int r = c->has_platform ? berth_platform_rank(want, &c->platform) : 0;
        if (r >= 0 && (best < 0 || r < best)) {
            best = r;
            pick = (ssize_t)i;
        }
    }
    return pick;
}

/* Follows target down to one manifest: *out gets its descriptor, *mdoc (if non-NULL) its
 * bytes when they were read on the way (else stays empty), w (if non-NULL) every index. */
static int resolve(const struct berth_blob_source *src, const struct berth_descriptor *target,
                   const struct berth_platform *want, struct berth_image_walk *w,
                   struct berth_oci_desc *out, struct berth_bytes *mdoc, struct berth_err **err)
{
    struct berth_oci_desc cur = {0};
    int ret = -1;

    berth_descriptor_copy(&cur.d, target);
    for (int depth = 0;; depth++) {
        _cleanup_(berth_bytes_clear) struct berth_bytes doc = {0};
        _cleanup_(berth_oci_index_freep) struct berth_oci_index *ix = NULL;
        enum berth_oci_kind kind;
        ssize_t pick;

        if (doc_kind(src, &cur.d, &doc, &kind, err) < 0)
            goto out;
        if (kind == BERTH_OCI_MANIFEST) {
            *out = cur;
            memset(&cur, 0, sizeof(cur));
            if (mdoc) {
                *mdoc = doc;
                memset(&doc, 0, sizeof(doc));
            }
            ret = 0;
            goto out;
        }
        if (kind != BERTH_OCI_INDEX) {
            not_image(&cur.d, err);
            goto out;
        }
        if (depth > BERTH_IMAGE_INDEX_DEPTH_MAX) {
            too_deep(&cur.d, err);
            goto out;
        }
        if (berth_oci_index_parse(doc.data, doc.len, cur.d.digest, &ix, err) < 0)
            goto out;
        pick = best_entry(ix, want);
        if (pick < 0) {
            _cleanup_free_ char *ps = berth_platform_format(want);
            berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "no manifest for platform %s in %s",
                          ps, cur.d.digest);
            goto out;
        }
        {
            struct berth_oci_desc next = {0};
            const struct berth_oci_desc *e = &ix->manifests[pick];
            berth_descriptor_copy(&next.d, &e->d);
            if (e->has_platform) {
                next.has_platform = true;
                platform_copy(&next.platform, &e->platform);
            }
            if (w) {
                w->indexes = berth_xrealloc(w->indexes, (w->n_indexes + 1) * sizeof(*w->indexes));
                w->indexes[w->n_indexes].desc = cur.d;
                memset(&cur.d, 0, sizeof(cur.d));
                w->indexes[w->n_indexes].index = steal_ptr(ix);
                w->indexes[w->n_indexes++].chosen = (size_t)pick;
            }
            berth_oci_desc_clear(&cur);
            cur = next;
        }
    }
out:
    berth_oci_desc_clear(&cur);
    return ret;
}

int berth_image_resolve_manifest(const struct berth_blob_source *src,
                                 const struct berth_descriptor *target,
                                 const struct berth_platform *platform, struct berth_oci_desc *out,
                                 struct berth_err **err)
{
    _cleanup_(berth_platform_clear) struct berth_platform host = {0};

    memset(out, 0, sizeof(*out));
    if (!platform) {
        berth_platform_host(&host);
        platform = &host;
    }
    return resolve(src, target, platform, NULL, out, NULL, err);
}

int berth_image_walk(const struct berth_blob_source *src, const struct berth_descriptor *target,
                     const struct berth_platform *platform, struct berth_image_walk *out,
                     struct berth_err **err)
{
    _cleanup_(berth_platform_clear) struct berth_platform host = {0};
    _cleanup_(berth_bytes_clear) struct berth_bytes mdoc = {0}, cdoc = {0};
    const struct berth_oci_desc *md = &out->manifest_desc;

    if (!platform) {
        berth_platform_host(&host);
        platform = &host;
    }
    if (resolve(src, target, platform, out, &out->manifest_desc, &mdoc, err) < 0)
        return -1;
    /* A manifest named as such by its media type has not been read yet. */
    if (!mdoc.data && doc_read(src, &md->d, &mdoc, err) < 0)
        return -1;
    if (berth_oci_manifest_parse(mdoc.data, mdoc.len, md->d.digest, &out->manifest, err) < 0 ||
        doc_read(src, &out->manifest->config.d, &cdoc, err) < 0 ||
        berth_image_config_parse(cdoc.data, cdoc.len, out->manifest->config.d.digest, &out->config,
                                 err) < 0)
        return -1;
    /* containerd's unpacker checks the same before it extracts anything. */
    if (out->config->n_diff_ids != out->manifest->n_layers)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "manifest %s has %zu layers but its config %zu diff ids", md->d.digest,
                             out->manifest->n_layers, out->config->n_diff_ids);
    return berth_oci_chain_ids(out->config->diff_ids, out->config->n_diff_ids, &out->chain_ids,
                               err);
}

/* ---- every matching manifest ---- */

struct visit {
    const struct berth_blob_source *src;
    const struct berth_image_walk_opts *opts;
    const struct berth_platform *want;
    const struct berth_image_visitor *v;
};

static int visit(const struct visit *c, const struct berth_descriptor *d, int depth,
                 struct berth_err **err)
{
    _cleanup_(berth_bytes_clear) struct berth_bytes doc = {0};
    enum berth_oci_kind kind = berth_oci_media_kind(d->media_type);

    /* A config or layer named by an index has nothing below it (the callback saw it). */
    if (kind == BERTH_OCI_CONFIG || kind == BERTH_OCI_LAYER)
        return 0;
    if (doc_read(c->src, d, &doc, err) < 0)
        return -1;
    if (kind == BERTH_OCI_UNKNOWN)
        kind = berth_oci_sniff(doc.data, doc.len);
    if (kind == BERTH_OCI_INDEX) {
        _cleanup_(berth_oci_index_freep) struct berth_oci_index *ix = NULL;
        size_t matched = 0;

        if (depth > BERTH_IMAGE_INDEX_DEPTH_MAX)
            return too_deep(d, err);
        if (berth_oci_index_parse(doc.data, doc.len, d->digest, &ix, err) < 0)
            return -1;
        for (size_t i = 0; i < ix->n_manifests; i++) {
            const struct berth_oci_desc *e = &ix->manifests[i];
            if (!c->opts->all_platforms && e->has_platform &&
                berth_platform_rank(c->want, &e->platform) < 0)
                continue;
            matched++;
            if (c->v->index_entry_cb && c->v->index_entry_cb(c->v->arg, d, i, e, err) < 0)
                return -1;
            if (visit(c, &e->d, depth + 1, err) < 0)
                return -1;
        }
        if (!matched && ix->n_manifests && c->opts->require_match) {
            _cleanup_free_ char *ps = berth_platform_format(c->want);
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                 "no manifest for platform %s in %s", ps, d->digest);
        }
        return 0;
    }
    if (kind == BERTH_OCI_MANIFEST) {
        _cleanup_(berth_oci_manifest_freep) struct berth_oci_manifest *m = NULL;
        if (berth_oci_manifest_parse(doc.data, doc.len, d->digest, &m, err) < 0)
            return -1;
        return c->v->manifest_cb ? c->v->manifest_cb(c->v->arg, d, m, err) : 0;
    }
    return not_image(d, err);
}

int berth_image_walk_all(const struct berth_blob_source *src, const struct berth_descriptor *target,
                         const struct berth_image_walk_opts *opts,
                         const struct berth_image_visitor *v, struct berth_err **err)
{
    _cleanup_(berth_platform_clear) struct berth_platform host = {0};
    struct visit c = {.src = src, .opts = opts, .want = opts->platform, .v = v};

    if (!c.want) {
        berth_platform_host(&host);
        c.want = &host;
    }
    return visit(&c, target, 0, err);
}
