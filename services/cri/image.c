/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ImageService, and the image view the RuntimeService shares: a CRI image is every record of
 * k8s.io whose target leads (host platform) to one config; its id is sha256:<config digest>.
 * What a target leads to never changes, so it is computed once per target digest and cached.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "images/import.h"
#include "images/pull.h"
#include "images/reference.h"
#include "images/walk.h"
#include "lib/digest.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/util.h"
#include "metadata/images.h"
#include "services/cri/cri-internal.h"
#include "services/metrics/metrics.h" /* enum berth_cri_op */
#include "services/events/publish.h"

struct cri_image_cache {
    size_t n;
    struct cri_image_info **v;
};

static void info_free(struct cri_image_info *i)
{
    if (!i)
        return;
    free(i->id);
    free(i->target);
    free(i->config_digest);
    free(i->top_chain_id);
    berth_image_config_free(i->config);
    free(i);
}

void cri_image_info_free(struct cri_image_info *i)
{
    (void)i; /* infos handed out are cache entries, never freed by callers */
}

void cri_images_cache_free(struct cri_image_cache *ic)
{
    if (!ic)
        return;
    for (size_t i = 0; i < ic->n; i++)
        info_free(ic->v[i]);
    free(ic->v);
    free(ic);
}

static struct berth_image_stores stores_of(struct berth_cri *c)
{
    return (struct berth_image_stores){.db = c->svc->db,
                                       .content = c->svc->content,
                                       .snapshotters = c->svc->snapshotters,
                                       .tmp_dir = c->svc->state};
}

/* The info of target (cached; entries live as long as the CRI). */
static int info_of(struct berth_cri *c, const struct berth_descriptor *target,
                   struct cri_image_info **out, struct berth_err **err)
{
    struct berth_image_stores st = stores_of(c);
    struct berth_image_local_source src;
    struct berth_image_walk w = {0};
    struct cri_image_info *i;
    size_t n;

    pthread_mutex_lock(&c->mu);
    if (!c->images)
        c->images = berth_xcalloc(1, sizeof(*c->images));
    for (size_t k = 0; k < c->images->n; k++)
        if (strcmp(c->images->v[k]->target, target->digest) == 0) {
            *out = c->images->v[k];
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
    pthread_mutex_unlock(&c->mu);

    berth_image_local_source_init(&src, &st, CRI_NS);
    if (berth_image_walk(&src.src, target, NULL, &w, err) < 0) {
        berth_image_walk_clear(&w);
        return -1;
    }
    i = berth_xcalloc(1, sizeof(*i));
    i->target = berth_xstrdup(target->digest);
    i->config_digest = berth_xstrdup(w.manifest->config.d.digest);
    i->id = berth_xstrdup(w.manifest->config.d.digest);
    for (n = 0; w.chain_ids && w.chain_ids[n]; n++)
        ;
    i->top_chain_id = n ? berth_xstrdup(w.chain_ids[n - 1]) : NULL;
    i->size = (uint64_t)w.manifest_desc.d.size + (uint64_t)w.manifest->config.d.size;
    for (size_t k = 0; k < w.manifest->n_layers; k++)
        i->size += (uint64_t)w.manifest->layers[k].d.size;
    i->config = steal_ptr(w.config);
    berth_image_walk_clear(&w);

    pthread_mutex_lock(&c->mu);
    for (size_t k = 0; k < c->images->n; k++)
        if (strcmp(c->images->v[k]->target, target->digest) == 0) {
            info_free(i);
            *out = c->images->v[k];
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
    c->images->v = berth_xrealloc(c->images->v, (c->images->n + 1) * sizeof(*c->images->v));
    c->images->v[c->images->n++] = i;
    *out = i;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* Every image record of k8s.io. */
static int list_records(struct berth_cri *c, struct berth_image ***v, size_t *n,
                        struct berth_err **err)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;

    if (berth_meta_txn_begin_read(c->svc->db, &txn, err) < 0)
        return -1;
    return berth_meta_images_list(txn, CRI_NS, NULL, v, n, err);
}

static bool is_id_name(const char *name)
{
    return berth_str_has_prefix(name, "sha256:") && !strchr(name, '/');
}

static bool is_hex(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

int cri_image_resolve(struct berth_cri *c, const char *ref, struct cri_image_info **out,
                      struct berth_err **err)
{
    struct berth_image **v = NULL;
    struct cri_image_info *found = NULL;
    _cleanup_free_ char *name = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    size_t n = 0;
    bool ambiguous = false;
    const char *hex = NULL;

    if (!ref || !*ref)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "image reference must not be empty");
    if (berth_str_has_prefix(ref, "sha256:") && is_hex(ref + 7))
        hex = ref + 7;
    else if (is_hex(ref))
        hex = ref;
    if (!hex && berth_image_ref_normalize(ref, &name, &e) < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "image reference \"%s\": %s", ref,
                             e->msg);
    if (name) { /* a name is one record: no listing on CreateContainer's path */
        _cleanup_txn_ struct berth_meta_txn *txn = NULL;
        _cleanup_(berth_image_freep) struct berth_image *im = NULL;
        _cleanup_err_ struct berth_err *ge = NULL;

        if (berth_meta_txn_begin_read(c->svc->db, &txn, err) < 0)
            return -1;
        /* absent, or a name no record can have (too long): not found, as a listing finds it */
        if (berth_meta_images_get(txn, CRI_NS, name, &im, &ge) < 0 &&
            ge->code != BERTH_E_NOT_FOUND && ge->code != BERTH_E_INVALID_ARGUMENT) {
            *err = steal_ptr(ge);
            return -1;
        }
        /* content gone or foreign platform: not a CRI image */
        if (!im || info_of(c, &im->target, out, &ge) < 0)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "image \"%s\" not found", ref);
        return 0;
    }
    if (list_records(c, &v, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n && !ambiguous; i++) {
        struct cri_image_info *info;
        _cleanup_err_ struct berth_err *ie = NULL;

        if (info_of(c, &v[i]->target, &info, &ie) < 0)
            continue; /* content gone or foreign platform: not a CRI image */
        if (strncmp(info->id + 7, hex, strlen(hex)) != 0)
            continue;
        if (found && found != info && strcmp(found->id, info->id) != 0)
            ambiguous = true;
        found = info;
    }
    berth_images_free(v, n);
    if (ambiguous)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0,
                             "image id prefix \"%s\" matches more than one image", ref);
    if (!found)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "image \"%s\" not found", ref);
    *out = found;
    return 0;
}

/* The records of one image id. */
struct image_view {
    struct cri_image_info *info;
    char **tags, **digests; /* NULL-terminated */
    size_t n_tags, n_digests;
};

static void strv_push(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return;
    *v = berth_xrealloc(*v, (*n + 2) * sizeof(**v));
    (*v)[(*n)++] = berth_xstrdup(s);
    (*v)[*n] = NULL;
}

static void views_free(struct image_view *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        berth_strv_free(v[i].tags);
        berth_strv_free(v[i].digests);
    }
    free(v);
}

/* Groups k8s.io's records by image id. */
static int image_views(struct berth_cri *c, struct image_view **out, size_t *n_out,
                       struct berth_err **err)
{
    struct berth_image **v = NULL;
    struct image_view *views = NULL;
    size_t n = 0, nv = 0;

    if (list_records(c, &v, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct cri_image_info *info;
        _cleanup_err_ struct berth_err *ie = NULL;
        size_t k;

        if (info_of(c, &v[i]->target, &info, &ie) < 0)
            continue;
        for (k = 0; k < nv && strcmp(views[k].info->id, info->id) != 0; k++)
            ;
        if (k == nv) {
            views = berth_xrealloc(views, (nv + 1) * sizeof(*views));
            memset(&views[nv], 0, sizeof(*views));
            views[nv++].info = info;
        }
        if (is_id_name(v[i]->name))
            continue;
        if (strchr(v[i]->name, '@'))
            strv_push(&views[k].digests, &views[k].n_digests, v[i]->name);
        else
            strv_push(&views[k].tags, &views[k].n_tags, v[i]->name);
    }
    berth_images_free(v, n);
    *out = views;
    *n_out = nv;
    return 0;
}

/* containerd's getUserFromImage: a numeric user before ':' is a uid, anything else a name. */
static void image_user(const struct berth_image_config *cfg, Runtime__V1__Image *im,
                       Runtime__V1__Int64Value *uid)
{
    const char *u = cfg && cfg->user ? cfg->user : "";
    size_t len = strcspn(u, ":");
    char *end;
    long long v;

    if (len == 0)
        return;
    {
        _cleanup_free_ char *part = strndup(u, len);
        errno = 0;
        v = strtoll(part, &end, 10);
        if (errno == 0 && *end == 0 && v >= 0) {
            uid->value = v;
            im->uid = uid;
        } else {
            im->username = berth_xstrdup(part);
        }
    }
}

static bool is_pinned(struct berth_cri *c, const struct image_view *v)
{
    const char *sb = c->own_pause ? CRI_PAUSE_IMAGE : c->sandbox_image;

    for (size_t i = 0; i < v->n_tags; i++)
        if (strcmp(v->tags[i], sb) == 0)
            return true;
    return false;
}

/* Fills im (and its parts, allocated into the arena-like holders given). */
struct image_pb {
    Runtime__V1__Image im;
    Runtime__V1__Int64Value uid;
    Runtime__V1__ImageSpec spec;
};

static void image_pb_fill(struct berth_cri *c, const struct image_view *v, struct image_pb *p)
{
    p->im = (Runtime__V1__Image)RUNTIME__V1__IMAGE__INIT;
    p->uid = (Runtime__V1__Int64Value)RUNTIME__V1__INT64_VALUE__INIT;
    p->spec = (Runtime__V1__ImageSpec)RUNTIME__V1__IMAGE_SPEC__INIT;
    p->im.id = v->info->id;
    p->im.repo_tags = v->tags;
    p->im.n_repo_tags = v->n_tags;
    p->im.repo_digests = v->digests;
    p->im.n_repo_digests = v->n_digests;
    p->im.size = v->info->size;
    p->spec.image = v->info->id;
    p->im.spec = &p->spec;
    p->im.pinned = is_pinned(c, v);
    image_user(v->info->config, &p->im, &p->uid);
}

static void image_pb_clear(struct image_pb *p)
{
    if (p->im.username != protobuf_c_empty_string)
        free(p->im.username);
}

/* ---- records written by pulls and at start-up ---- */

struct put_refs {
    const char *const *names;
    const struct berth_descriptor *target;
    const struct berth_labels *labels;
};

static int put_refs_fn(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct put_refs *p = arg;

    for (size_t i = 0; p->names[i]; i++) {
        struct berth_image *im = NULL;
        bool created;
        if (berth_image_record_put(txn, CRI_NS, p->names[i], p->target, p->labels, &im, &created,
                                   err) < 0)
            return berth_err_wrap(err, "image \"%s\"", p->names[i]);
        berth_image_free(im);
    }
    return 0;
}

/* The CRI's records for the image name -> target: the name itself, sha256:<config> and, for a
 * registry image, <repo>@<target digest> (containerd's three), labelled managed. */
static int put_cri_records(struct berth_cri *c, const char *name,
                           const struct berth_descriptor *target, bool repo_digest, char **image_id,
                           struct berth_err **err)
{
    struct cri_image_info *info;
    struct berth_image_ref r = {0};
    _cleanup_free_ char *digest_name = NULL, *repo = NULL;
    struct berth_labels labels;
    const char *names[4] = {0};
    struct put_refs p;
    size_t n = 0;
    int ret;

    if (info_of(c, target, &info, err) < 0)
        return -1;
    names[n++] = name;
    names[n++] = info->id;
    if (repo_digest && berth_image_ref_parse(name, &r, NULL) == 0) {
        repo = berth_image_ref_name(&r);
        digest_name = berth_strdup_printf("%s@%s", repo, target->digest);
        if (strcmp(digest_name, name) != 0)
            names[n++] = digest_name;
    }
    berth_image_ref_clear(&r);
    berth_labels_init(&labels);
    berth_labels_set(&labels, CRI_LABEL_IMAGE_MANAGED, "managed");
    p = (struct put_refs){.names = names, .target = target, .labels = &labels};
    ret = berth_meta_update(c->svc->db, put_refs_fn, &p, err);
    berth_labels_clear(&labels);
    if (ret < 0)
        return -1;
    if (image_id)
        *image_id = berth_xstrdup(info->id);
    return 0;
}

int cri_image_pull(struct berth_cri *c, const char *ref, const struct berth_registry_creds *creds,
                   bool (*is_canceled)(void *), void *cancel_arg, char **image_id,
                   struct berth_err **err)
{
    struct berth_pull_opts o = {0};
    struct berth_pull_result res = {0};
    struct berth_labels labels;
    int ret;

    if (!c->svc->puller)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "no puller");
    berth_labels_init(&labels);
    berth_labels_set(&labels, CRI_LABEL_IMAGE_MANAGED, "managed");
    o.ns = CRI_NS;
    o.ref = ref;
    o.snapshotter = c->snapshotter;
    o.creds = creds;
    o.labels = &labels;
    o.is_canceled = is_canceled;
    o.cancel_arg = cancel_arg;
    ret = berth_image_pull(c->svc->puller, &o, &res, err);
    berth_labels_clear(&labels);
    if (ret < 0)
        return -1;
    ret = put_cri_records(c, res.image->name, &res.image->target, true, image_id, err);
    log_info("ns=%s image=%s pulled (%s)", CRI_NS, res.image->name, res.image->target.digest);
    berth_pull_result_clear(&res);
    return ret;
}

/* ---- berth's pause image ---- */

struct membuf {
    unsigned char *data;
    size_t len, cap;
};

static la_ssize_t membuf_write(struct archive *a, void *arg, const void *buf, size_t len)
{
    struct membuf *m = arg;

    (void)a;
    if (m->len + len > m->cap) {
        m->cap = (m->len + len) * 2;
        m->data = berth_xrealloc(m->data, m->cap);
    }
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return (la_ssize_t)len;
}

struct tar_member {
    const char *name;
    const void *data;
    size_t len;
    unsigned mode;
};

/* A ustar archive of the members with fixed owners and times, so the same input always gives
 * the same bytes (and digest). */
static int tar_build(const struct tar_member *m, size_t n, struct membuf *out,
                     struct berth_err **err)
{
    struct archive *a = archive_write_new();
    int ret = 0;

    archive_write_set_format_ustar(a);
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open2(a, out, NULL, membuf_write, NULL, NULL) != ARCHIVE_OK) {
        ret = berth_err_set(err, BERTH_E_INTERNAL, 0, "tar: %s", archive_error_string(a));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_filetype(e, m[i].data ? AE_IFREG : AE_IFDIR);
        archive_entry_set_perm(e, m[i].mode);
        archive_entry_set_size(e, (la_int64_t)m[i].len);
        archive_entry_set_mtime(e, 0, 0);
        if (archive_write_header(a, e) != ARCHIVE_OK ||
            (m[i].len && archive_write_data(a, m[i].data, m[i].len) != (la_ssize_t)m[i].len)) {
            ret = berth_err_set(err, BERTH_E_INTERNAL, 0, "tar %s: %s", m[i].name,
                                archive_error_string(a));
            archive_entry_free(e);
            goto out;
        }
        archive_entry_free(e);
    }
    if (archive_write_close(a) != ARCHIVE_OK)
        ret = berth_err_set(err, BERTH_E_INTERNAL, 0, "tar: %s", archive_error_string(a));
out:
    archive_write_free(a);
    return ret;
}

struct mem_reader {
    const unsigned char *p;
    size_t left;
};

static ssize_t mem_read(void *arg, const void **buf, struct berth_err **err)
{
    struct mem_reader *r = arg;
    size_t n = r->left < (1 << 20) ? r->left : (1 << 20);

    (void)err;
    *buf = r->p;
    r->p += n;
    r->left -= n;
    return (ssize_t)n;
}

int cri_pause_image_ensure(struct berth_cri *c, struct berth_err **err)
{
    _cleanup_free_ char *bin = berth_strdup_printf("%s/berth-pause", c->bin_dir);
    _cleanup_free_ char *pause = NULL, *config = NULL, *manifest = NULL, *index = NULL;
    char layer_digest[72], config_digest[72], manifest_digest[72], blob[100], blob2[100],
        blob3[100];
    struct membuf layer = {0}, archive = {0};
    struct berth_platform host = {0};
    struct berth_image_stores st = stores_of(c);
    struct berth_import_opts io = {.ns = CRI_NS, .snapshotter = c->snapshotter};
    struct berth_import_result res = {0};
    struct mem_reader rd;
    size_t pause_len = 0;
    int ret = -1;

    if (berth_read_file(bin, 16 << 20, &pause, &pause_len, err) < 0)
        return -1;
    {
        struct tar_member m[] = {{"pause", pause, pause_len, 0755}};
        if (tar_build(m, 1, &layer, err) < 0)
            goto out;
    }
    berth_sha256_digest_buf(layer.data, layer.len, layer_digest);
    berth_platform_host(&host);
    config = berth_strdup_printf(
        "{\"architecture\":\"%s\",\"config\":{\"Entrypoint\":[\"/pause\"],\"User\":\"65535:65535\","
        "\"WorkingDir\":\"/\",\"Labels\":{\"io.berth.pause\":\"%s\"}},\"created\":\"1970-01-01T00:"
        "00:00Z\",\"os\":\"%s\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
        host.arch, BERTH_VERSION, host.os, layer_digest);
    berth_sha256_digest_buf(config, strlen(config), config_digest);
    manifest = berth_strdup_printf(
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
        "\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
        "\"digest\":\"%s\",\"size\":%zu}]}",
        config_digest, strlen(config), layer_digest, layer.len);
    berth_sha256_digest_buf(manifest, strlen(manifest), manifest_digest);
    index = berth_strdup_printf(
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
        "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"architecture\":\"%s\",\"os\":\"%s\"},"
        "\"annotations\":{\"io.containerd.image.name\":\"%s\"}}]}",
        manifest_digest, strlen(manifest), host.arch, host.os, CRI_PAUSE_IMAGE);
    snprintf(blob, sizeof(blob), "blobs/sha256/%s", layer_digest + 7);
    snprintf(blob2, sizeof(blob2), "blobs/sha256/%s", config_digest + 7);
    snprintf(blob3, sizeof(blob3), "blobs/sha256/%s", manifest_digest + 7);
    {
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        struct tar_member m[] = {
            {"oci-layout", layout, sizeof(layout) - 1, 0644},
            {"index.json", index, strlen(index), 0644},
            {blob, layer.data, layer.len, 0644},
            {blob2, config, strlen(config), 0644},
            {blob3, manifest, strlen(manifest), 0644},
        };
        if (tar_build(m, BERTH_N(m), &archive, err) < 0)
            goto out;
    }
    rd = (struct mem_reader){archive.data, archive.len};
    if (berth_image_import(&st, &io, mem_read, &rd, &res, err) < 0)
        goto out;
    for (size_t i = 0; i < res.n; i++)
        if (put_cri_records(c, res.images[i]->name, &res.images[i]->target, false, NULL, err) < 0)
            goto out;
    ret = 0;
out:
    berth_import_result_clear(&res);
    berth_platform_clear(&host);
    free(layer.data);
    free(archive.data);
    return ret;
}

/* ---- the RPCs ---- */

static int image_list(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const Runtime__V1__ListImagesRequest *req = (const void *)in;
    Runtime__V1__ListImagesResponse resp = RUNTIME__V1__LIST_IMAGES_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct image_view *views = NULL;
    struct cri_image_info *want = NULL;
    struct image_pb *pbs;
    size_t n = 0, k = 0;

    if (!c)
        return -1;
    if (req->filter && req->filter->image && req->filter->image->image &&
        *req->filter->image->image) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (cri_image_resolve(c, req->filter->image->image, &want, &e) < 0) {
            berth_svc_pack(out, &resp.base);
            return 0;
        }
    }
    if (image_views(c, &views, &n, err) < 0)
        return -1;
    pbs = berth_xcalloc(n ? n : 1, sizeof(*pbs));
    resp.images = berth_xcalloc(n ? n : 1, sizeof(*resp.images));
    for (size_t i = 0; i < n; i++) {
        if (want && strcmp(views[i].info->id, want->id) != 0)
            continue;
        image_pb_fill(c, &views[i], &pbs[k]);
        resp.images[k] = &pbs[k].im;
        k++;
    }
    resp.n_images = k;
    berth_svc_pack(out, &resp.base);
    for (size_t i = 0; i < k; i++)
        image_pb_clear(&pbs[i]);
    free(pbs);
    free(resp.images);
    views_free(views, n);
    return 0;
}

/* verbose info: {"chainID":…, "imageSpec": <config JSON>} as containerd gives it. */
static char *image_info_json(struct berth_cri *c, const struct cri_image_info *info)
{
    struct berth_image_stores st = stores_of(c);
    struct berth_bytes b = {0};
    _cleanup_err_ struct berth_err *e = NULL;
    json_t *o = json_object(), *spec = NULL;
    char *s;

    json_object_set_new(o, "chainID", json_string(info->top_chain_id ? info->top_chain_id : ""));
    if (berth_image_blob_read(&st, CRI_NS, info->config_digest, BERTH_IMAGE_DOC_MAX, &b, &e) == 0)
        spec = json_loadb((const char *)b.data, b.len, 0, NULL);
    berth_bytes_clear(&b);
    json_object_set_new(o, "imageSpec", spec ? spec : json_object());
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int image_status(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Runtime__V1__ImageStatusRequest *req = (const void *)in;
    Runtime__V1__ImageStatusResponse resp = RUNTIME__V1__IMAGE_STATUS_RESPONSE__INIT;
    struct cri_info inf;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_image_info *info;
    struct image_view *views = NULL;
    struct image_pb pb;
    _cleanup_err_ struct berth_err *e = NULL;
    _cleanup_free_ char *json = NULL;
    size_t n = 0;

    if (!c)
        return -1;
    if (!req->image || !req->image->image || !*req->image->image)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "image spec must name an image");
    if (cri_image_resolve(c, req->image->image, &info, &e) < 0) {
        if (e->code != BERTH_E_NOT_FOUND) {
            *err = steal_ptr(e);
            return -1;
        }
        berth_svc_pack(out, &resp.base); /* absent: no image, not an error */
        return 0;
    }
    if (image_views(c, &views, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(views[i].info->id, info->id) == 0) {
            image_pb_fill(c, &views[i], &pb);
            resp.image = &pb.im;
            break;
        }
    if (resp.image && req->verbose) {
        json = image_info_json(c, info);
        cri_info_fill(&inf, &runtime__v1__image_status_response__info_entry__descriptor, "info",
                      json);
        resp.info = (void *)inf.ents;
        resp.n_info = 1;
    }
    berth_svc_pack(out, &resp.base);
    if (resp.image)
        image_pb_clear(&pb);
    views_free(views, n);
    return 0;
}

struct pull_cancel {
    struct berth_svc_ctx *ctx;
};

static bool pull_canceled(void *arg)
{
    return berth_svc_ctx_done(((struct pull_cancel *)arg)->ctx);
}

/* AuthConfig: username/password, identity token, or base64 "user:password" in auth. */
static int creds_from_auth(const Runtime__V1__AuthConfig *a, struct berth_registry_creds *cr,
                           char **buf, size_t *buflen, struct berth_err **err)
{
    if (!a)
        return 0;
    if (a->auth && *a->auth) {
        size_t len = 0;
        char *sep;
        if (berth_base64_decode(a->auth, (unsigned char **)buf, &len) < 0 ||
            (*buflen = len, false) || !(sep = memchr(*buf, ':', len)))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "auth config: \"auth\" is not base64 of user:password");
        *sep = 0;
        cr->username = *buf;
        cr->secret = sep + 1;
        return 1;
    }
    if (a->identity_token && *a->identity_token) {
        cr->username = "";
        cr->secret = a->identity_token;
        return 1;
    }
    if (a->username && *a->username) {
        cr->username = a->username;
        cr->secret = a->password ? a->password : "";
        return 1;
    }
    return 0;
}

static void wipe_free(char *s, size_t len)
{
    if (s) {
        explicit_bzero(s, len);
        free(s);
    }
}

static int image_pull(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const Runtime__V1__PullImageRequest *req = (const void *)in;
    Runtime__V1__PullImageResponse resp = RUNTIME__V1__PULL_IMAGE_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct berth_registry_creds cr = {0};
    struct pull_cancel pc = {ctx};
    _cleanup_free_ char *id = NULL;
    char *buf = NULL;
    size_t buflen = 0;
    int has;

    if (!c)
        return -1;
    if (!req->image || !req->image->image || !*req->image->image)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "image spec must name an image");
    has = creds_from_auth(req->auth, &cr, &buf, &buflen, err);
    if (has < 0) { /* an "auth" without ':' was decoded all the same */
        wipe_free(buf, buflen);
        return -1;
    }
    if (cri_image_pull(c, req->image->image, has ? &cr : NULL, pull_canceled, &pc, &id, err) < 0) {
        wipe_free(buf, buflen);
        return -1;
    }
    wipe_free(buf, buflen);
    resp.image_ref = id;
    berth_svc_pack(out, &resp.base);
    return 0;
}

struct remove_names {
    char **names;
    size_t n;
    const char *target;
};

static int remove_fn(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct remove_names *r = arg;

    for (size_t i = 0; i < r->n; i++) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_meta_images_delete(txn, CRI_NS, r->names[i], NULL, &e) < 0 &&
            e->code != BERTH_E_NOT_FOUND) {
            *err = steal_ptr(e);
            return -1;
        }
    }
    berth_meta_txn_mark_dirty(txn);
    return 0;
}

static int image_remove(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Runtime__V1__RemoveImageRequest *req = (const void *)in;
    Runtime__V1__RemoveImageResponse resp = RUNTIME__V1__REMOVE_IMAGE_RESPONSE__INIT;
    struct berth_cri *c = cri_of(ctx, err);
    struct cri_image_info *info;
    struct berth_image **v = NULL;
    struct remove_names r = {0};
    _cleanup_err_ struct berth_err *e = NULL;
    size_t n = 0;
    int ret;

    if (!c)
        return -1;
    if (!req->image || !req->image->image || !*req->image->image)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "image spec must name an image");
    if (cri_image_resolve(c, req->image->image, &info, &e) < 0) {
        if (e->code != BERTH_E_NOT_FOUND) {
            *err = steal_ptr(e);
            return -1;
        }
        berth_svc_pack(out, &resp.base); /* already gone */
        return 0;
    }
    if (list_records(c, &v, &n, err) < 0)
        return -1;
    r.names = berth_xcalloc(n + 1, sizeof(*r.names));
    for (size_t i = 0; i < n; i++) {
        struct cri_image_info *ii;
        _cleanup_err_ struct berth_err *ie = NULL;
        if (info_of(c, &v[i]->target, &ii, &ie) == 0 && strcmp(ii->id, info->id) == 0)
            r.names[r.n++] = berth_xstrdup(v[i]->name);
    }
    berth_images_free(v, n);
    ret = berth_meta_update(c->svc->db, remove_fn, &r, err);
    if (ret == 0) {
        log_info("ns=%s image=%s removed (%zu records)", CRI_NS, info->id, r.n);
    }
    berth_strv_free(r.names);
    if (ret < 0)
        return -1;
    berth_svc_pack(out, &resp.base);
    return 0;
}

static int image_fs_info(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    Runtime__V1__ImageFsInfoResponse resp = RUNTIME__V1__IMAGE_FS_INFO_RESPONSE__INIT;
    Runtime__V1__FilesystemUsage fs = RUNTIME__V1__FILESYSTEM_USAGE__INIT;
    Runtime__V1__FilesystemIdentifier id = RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT;
    Runtime__V1__UInt64Value used = RUNTIME__V1__UINT64_VALUE__INIT;
    Runtime__V1__UInt64Value inodes = RUNTIME__V1__UINT64_VALUE__INIT;
    Runtime__V1__FilesystemUsage *fss[1] = {&fs};
    struct berth_cri *c = cri_of(ctx, err);
    _cleanup_free_ char *mp = NULL;

    (void)in;
    if (!c)
        return -1;
    mp = berth_strdup_printf("%s/snapshots/%s", c->svc->root, c->snapshotter);
    cri_fs_usage(c, mp, &used.value, &inodes.value);
    fs.timestamp = berth_now_ns();
    id.mountpoint = mp;
    fs.fs_id = &id;
    fs.used_bytes = &used;
    fs.inodes_used = &inodes;
    resp.image_filesystems = fss;
    resp.n_image_filesystems = 1;
    berth_svc_pack(out, &resp.base);
    return 0;
}

CRI_TIMED(image_pull, BERTH_CRI_OP_IMAGE_PULL)

static const struct berth_method methods[] = {
    {"ListImages", BERTH_UNARY, BERTH_NS_OPTIONAL, .listing = true, .unary = image_list},
    {"ImageStatus", BERTH_UNARY, BERTH_NS_OPTIONAL, .unary = image_status},
    {"PullImage", BERTH_UNARY, BERTH_NS_OPTIONAL, .unary = image_pull_timed},
    {"RemoveImage", BERTH_UNARY, BERTH_NS_OPTIONAL, .unary = image_remove},
    {"ImageFsInfo", BERTH_UNARY, BERTH_NS_OPTIONAL, .unary = image_fs_info},
};

const struct berth_service berth_svc_cri_image = {&runtime__v1__image_service__descriptor, methods,
                                                  BERTH_N(methods)};
