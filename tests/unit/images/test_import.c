/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for images/import.c, unpack.c and export.c over real stores in a temp dir (LMDB
 * metadata, content store, native snapshotter) and the images tests/data/mkimages.sh builds
 * (once per run), plus broken layouts written here with libarchive. */
#include "tests/unit/helpers/meta_fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/export.h"
#include "images/import.h"
#include "lib/sha256.h"
#include "lib/util.h"
#include "metadata/content.h"
#include "metadata/leases.h"
#include "metadata/snapshots.h"

#define NS "test"
#define SN "native"

struct env {
    struct meta_env *meta;
    struct berth_content_store *content;
    struct berth_snap_registry *reg;
    struct berth_image_stores st;
};

static int setup(void **state)
{
    struct env *e = berth_xcalloc(1, sizeof(*e));
    struct berth_err *err = NULL;
    _cleanup_free_ char *cdir = NULL, *sdir = NULL;

    if (meta_setup((void **)&e->meta) < 0)
        return -1;
    cdir = berth_strdup_printf("%s/content", e->meta->tmp->dir);
    sdir = berth_strdup_printf("%s/root", e->meta->tmp->dir);
    if (berth_content_store_open(cdir, &e->content, &err) < 0 ||
        berth_snap_registry_open(sdir, &e->reg, &err) < 0) {
        berth_err_free(&err);
        return -1;
    }
    e->st.db = e->meta->db;
    e->st.content = e->content;
    e->st.snapshotters = e->reg;
    e->st.tmp_dir = e->meta->tmp->dir;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    berth_snap_registry_close(e->reg);
    berth_content_store_close(e->content);
    meta_teardown((void **)&e->meta);
    free(e);
    return 0;
}

static int import_file(struct env *e, const char *rel, const struct berth_import_opts *o,
                       struct berth_import_result *res, struct berth_err **err)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", berth_test_images_dir(), rel);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct berth_import_opts def = {.ns = NS, .snapshotter = SN};

    assert_true(fd >= 0);
    return berth_image_import_fd(&e->st, o ? o : &def, fd, res, err);
}

static struct berth_content_info *content(struct env *e, const char *digest)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_content_info *i = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_meta_txn_begin_read(e->st.db, &txn, &err), &err);
    if (berth_meta_content_get(txn, NS, digest, &i, &err) < 0)
        berth_err_free(&err);
    return i;
}

static size_t count_leases(struct env *e)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_lease **v = NULL;
    struct berth_err *err = NULL;
    size_t n = 0;

    assert_ok(berth_meta_txn_begin_read(e->st.db, &txn, &err), &err);
    assert_ok(berth_meta_leases_list(txn, NS, NULL, &v, &n, &err), &err);
    berth_leases_free(v, n);
    return n;
}

static size_t count_ingests(struct env *e)
{
    struct berth_content_status *v = NULL;
    struct berth_err *err = NULL;
    size_t n = 0;

    assert_ok(berth_content_ingest_list(e->content, NULL, &v, &n, &err), &err);
    berth_content_statuses_free(v, n);
    return n;
}

/* Snapshots of NS in SN: count, and how many are unpack leftovers ("extract-..."). */
static size_t count_snapshots(struct env *e, size_t *extract)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_snapshot **v = NULL;
    struct berth_err *err = NULL;
    size_t n = 0;

    assert_ok(berth_meta_txn_begin_read(e->st.db, &txn, &err), &err);
    assert_ok(berth_meta_snapshots_list(txn, NS, SN, NULL, &v, &n, &err), &err);
    *extract = 0;
    for (size_t i = 0; i < n; i++)
        *extract += berth_str_has_prefix(v[i]->info.name, "extract-");
    berth_snapshots_free(v, n);
    return n;
}

/* A view of the image's top snapshot; returns its directory (native: the bind source). */
static char *view_dir(struct env *e, const char *top, const char *key)
{
    struct berth_snapshotter *sn = NULL;
    struct berth_mount *m = NULL;
    struct berth_err *err = NULL;
    size_t n = 0;
    char *dir;

    assert_ok(berth_snap_registry_get(e->reg, SN, &sn, &err), &err);
    assert_ok(berth_meta_snapshots_create(e->st.db, sn, NS, NULL, BERTH_SNAP_VIEW, key, top, NULL,
                                          &m, &n, &err),
              &err);
    assert_int_equal(n, 1);
    dir = berth_xstrdup(m[0].source);
    berth_mounts_free(m, n);
    return dir;
}

static bool exists_at(const char *dir, const char *rel)
{
    _cleanup_free_ char *p = berth_strdup_printf("%s/%s", dir, rel);
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static void test_import_oci_busybox_unpacks(void **state)
{
    struct env *e = *state;
    struct berth_import_result res = {0};
    struct berth_err *err = NULL;
    _cleanup_(berth_content_info_freep) struct berth_content_info *mi = NULL;
    _cleanup_free_ char *top = NULL, *dir = NULL;
    size_t extract;

    assert_ok(import_file(e, "oci/busybox.tar", NULL, &res, &err), &err);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.images[0]->name, "docker.io/berth/busybox:latest");
    assert_true(res.created[0]);
    mi = content(e, res.images[0]->target.digest);
    assert_non_null(mi);
    assert_non_null(berth_labels_get(&mi->labels, "containerd.io/gc.ref.content.config"));
    assert_non_null(berth_labels_get(&mi->labels, "containerd.io/gc.ref.content.l.0"));
    {
        _cleanup_(berth_content_info_freep) struct berth_content_info *ci =
            content(e, berth_labels_get(&mi->labels, "containerd.io/gc.ref.content.config"));
        _cleanup_(berth_content_info_freep) struct berth_content_info *li =
            content(e, berth_labels_get(&mi->labels, "containerd.io/gc.ref.content.l.0"));
        assert_non_null(ci);
        assert_non_null(li);
        top = berth_xstrdup(berth_labels_get(&ci->labels, "containerd.io/gc.ref.snapshot.native"));
        assert_string_equal(top, berth_labels_get(&li->labels, "containerd.io/uncompressed"));
    }
    assert_int_equal(count_snapshots(e, &extract), 1);
    assert_int_equal(extract, 0);
    assert_int_equal(count_leases(e), 0);
    assert_int_equal(count_ingests(e), 0);
    dir = view_dir(e, top, "v");
    assert_true(exists_at(dir, "bin/busybox"));
    assert_true(exists_at(dir, "etc/passwd"));
    berth_import_result_clear(&res);

    /* again: the image is retargeted (same target), nothing unpacked twice */
    assert_ok(import_file(e, "oci/busybox.tar", NULL, &res, &err), &err);
    assert_int_equal(res.n, 1);
    assert_false(res.created[0]);
    assert_int_equal(count_snapshots(e, &extract), 2); /* the chain + view "v" */
    berth_import_result_clear(&res);
}

static void test_import_multi_layer_whiteouts(void **state)
{
    struct env *e = *state;
    struct berth_import_result res = {0};
    struct berth_err *err = NULL;
    _cleanup_free_ char *top = NULL, *dir = NULL;
    size_t extract;

    assert_ok(import_file(e, "oci/multi.tar", NULL, &res, &err), &err);
    assert_int_equal(count_snapshots(e, &extract), 3);
    assert_ok(berth_image_unpack(&e->st, NS, NULL, &res.images[0]->target, NULL, SN, &top, &err),
              &err);
    dir = view_dir(e, top, "v");
    assert_true(exists_at(dir, "bin/busybox"));
    assert_true(exists_at(dir, "a/keep"));
    assert_true(exists_at(dir, "a/added"));
    assert_false(exists_at(dir, "a/gone"));
    assert_false(exists_at(dir, "a/.wh.gone"));
    assert_true(exists_at(dir, "o/new"));
    assert_false(exists_at(dir, "o/old1"));
    assert_false(exists_at(dir, "o/.wh..wh..opq"));
    assert_true(exists_at(dir, "top"));
    berth_import_result_clear(&res);
}

static void test_import_multiarch_platforms(void **state)
{
    struct env *e = *state;
    struct berth_import_result res = {0};
    struct berth_err *err = NULL;
    struct berth_platform arm = {0}, amd = {0};
    struct berth_oci_desc a = {0}, b = {0};
    struct berth_import_opts o = {.ns = NS, .snapshotter = SN, .platform = &arm};
    struct berth_image_local_source loc;
    _cleanup_(berth_content_info_freep) struct berth_content_info *ix = NULL;

    assert_ok(berth_platform_parse("linux/arm64", &arm, &err), &err);
    assert_ok(berth_platform_parse("linux/amd64", &amd, &err), &err);
    assert_ok(import_file(e, "oci/multiarch.tar", &o, &res, &err), &err);
    ix = content(e, res.images[0]->target.digest);
    /* only the arm64 manifest (index position 1) is referenced */
    assert_null(berth_labels_get(&ix->labels, "containerd.io/gc.ref.content.m.0"));
    assert_non_null(berth_labels_get(&ix->labels, "containerd.io/gc.ref.content.m.1"));
    berth_content_info_free(ix);
    berth_import_result_clear(&res);

    o.platform = &amd;
    assert_ok(import_file(e, "oci/multiarch.tar", &o, &res, &err), &err);
    ix = content(e, res.images[0]->target.digest);
    assert_non_null(berth_labels_get(&ix->labels, "containerd.io/gc.ref.content.m.0"));
    assert_non_null(berth_labels_get(&ix->labels, "containerd.io/gc.ref.content.m.1"));

    berth_image_local_source_init(&loc, &e->st, NS);
    assert_ok(berth_image_resolve_manifest(&loc.src, &res.images[0]->target, &arm, &a, &err), &err);
    assert_ok(berth_image_resolve_manifest(&loc.src, &res.images[0]->target, &amd, &b, &err), &err);
    assert_string_not_equal(a.d.digest, b.d.digest);
    assert_string_equal(a.platform.arch, "arm64");
    berth_oci_desc_clear(&a);
    berth_oci_desc_clear(&b);
    {
        struct berth_platform s390 = {0};
        assert_ok(berth_platform_parse("linux/s390x", &s390, &err), &err);
        assert_int_equal(
            berth_image_resolve_manifest(&loc.src, &res.images[0]->target, &s390, &a, &err), -1);
        assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
        berth_platform_clear(&s390);
    }
    berth_import_result_clear(&res);
    berth_platform_clear(&arm);
    berth_platform_clear(&amd);
}

static void test_import_zstd_and_docker(void **state)
{
    struct env *e = *state;
    struct berth_import_result res = {0};
    struct berth_err *err = NULL;
    size_t extract;

    assert_ok(import_file(e, "oci/busybox-zstd.tar", NULL, &res, &err), &err);
    assert_string_equal(res.images[0]->name, "docker.io/berth/busybox-zstd:latest");
    berth_import_result_clear(&res);
    assert_ok(import_file(e, "docker/busybox.tar", NULL, &res, &err), &err);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.images[0]->name, "docker.io/berth/busybox:latest");
    assert_string_equal(res.images[0]->target.media_type, BERTH_MT_DOCKER_MANIFEST);
    /* same layer as the zstd image (same diff ID): one snapshot for both */
    assert_int_equal(count_snapshots(e, &extract), 1);
    assert_int_equal(count_leases(e), 0);
    berth_import_result_clear(&res);
}

/* ---- broken archives ---- */

static void ar_add(struct archive *a, const char *path, const void *buf, size_t len)
{
    struct archive_entry *ent = archive_entry_new();

    archive_entry_set_pathname(ent, path);
    archive_entry_set_filetype(ent, AE_IFREG);
    archive_entry_set_perm(ent, 0644);
    archive_entry_set_size(ent, (la_int64_t)len);
    assert_int_equal(archive_write_header(a, ent), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, buf, len), (la_ssize_t)len);
    archive_entry_free(ent);
}

static void ar_blob(struct archive *a, const void *buf, size_t len, char digest[72])
{
    char path[128];

    berth_sha256_digest_buf(buf, len, digest);
    snprintf(path, sizeof(path), "blobs/sha256/%s", digest + 7);
    ar_add(a, path, buf, len);
}

static uint8_t *slurp(const char *rel, size_t *len)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", berth_test_images_dir(), rel);
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = berth_xmalloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Writes an OCI layout tar of the busybox gzip layer with config diff ID diff_id (NULL: the
 * right one); corrupt = the layer blob's name does not match its bytes. */
static char *make_layout(struct env *e, const char *diff_id, bool corrupt)
{
    _cleanup_free_ uint8_t *layer = NULL, *raw = NULL;
    size_t llen, rlen;
    char ld[72], rd[72], cd[72], md[72];
    _cleanup_free_ char *cfg = NULL, *man = NULL, *idx = NULL;
    char *path = berth_strdup_printf("%s/broken.tar", e->meta->tmp->dir);
    struct archive *a = archive_write_new();

    layer = slurp("layers/busybox.tar.gz", &llen);
    raw = slurp("layers/busybox.tar", &rlen);
    berth_sha256_digest_buf(raw, rlen, rd);
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    ar_add(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
    berth_sha256_digest_buf(layer, llen, ld);
    if (corrupt) {
        char p[128];
        layer[llen / 2] ^= 0xff;
        snprintf(p, sizeof(p), "blobs/sha256/%s", ld + 7);
        ar_add(a, p, layer, llen);
    } else {
        ar_blob(a, layer, llen, ld);
    }
    cfg = berth_strdup_printf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                              "\"layers\",\"diff_ids\":[\"%s\"]}}",
                              diff_id ? diff_id : rd);
    ar_blob(a, cfg, strlen(cfg), cd);
    man = berth_strdup_printf(
        "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":"
        "\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"%s+gzip\",\"digest\":\"%s\",\"size\":"
        "%zu}]}",
        BERTH_MT_OCI_MANIFEST, BERTH_MT_OCI_CONFIG, cd, strlen(cfg), BERTH_MT_OCI_LAYER, ld, llen);
    ar_blob(a, man, strlen(man), md);
    idx = berth_strdup_printf(
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
        "\"annotations\":{\"io.containerd.image.name\":\"docker.io/berth/broken:1\"}}]}",
        BERTH_MT_OCI_MANIFEST, md, strlen(man));
    ar_add(a, "index.json", idx, strlen(idx));
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return path;
}

static int import_path(struct env *e, const char *path, struct berth_import_result *res,
                       struct berth_err **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct berth_import_opts o = {.ns = NS, .snapshotter = SN};

    assert_true(fd >= 0);
    return berth_image_import_fd(&e->st, &o, fd, res, err);
}

static void test_import_corrupt_blob_fails(void **state)
{
    struct env *e = *state;
    struct berth_import_result res = {0};
    struct berth_err *err = NULL;
    _cleanup_free_ char *path = make_layout(e, NULL, true);
    size_t extract;

    assert_int_equal(import_path(e, path, &res, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(res.n, 0);
    assert_int_equal(count_leases(e), 0);
    assert_int_equal(count_ingests(e), 0);
    assert_int_equal(count_snapshots(e, &extract), 0);
    {
        _cleanup_txn_ struct berth_meta_txn *txn = NULL;
        struct berth_image *im = NULL;
        assert_ok(berth_meta_txn_begin_read(e->st.db, &txn, &err), &err);
        assert_int_equal(berth_meta_images_get(txn, NS, "docker.io/berth/broken:1", &im, &err), -1);
        assert_err_code(err, BERTH_E_NOT_FOUND);
    }
}

static void test_import_wrong_diff_id_removes_snapshot(void **state)
{
    struct env *e = *state;
    struct berth_import_result res = {0};
    struct berth_err *err = NULL;
    _cleanup_free_ char *path = make_layout(
        e, "sha256:1111111111111111111111111111111111111111111111111111111111111111", false);
    size_t extract;

    assert_int_equal(import_path(e, path, &res, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(count_snapshots(e, &extract), 0);
    assert_int_equal(extract, 0);
    assert_int_equal(count_leases(e), 0);
}

static void test_import_garbage_is_invalid(void **state)
{
    struct env *e = *state;
    struct berth_import_result res = {0};
    struct berth_err *err = NULL;

    /* a layer tar is a tar but neither layout */
    assert_int_equal(import_file(e, "layers/multi1.tar", NULL, &res, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(import_file(e, "digests", NULL, &res, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(count_leases(e), 0);
}

/* ---- export ---- */

static int to_fd_cb(void *arg, const void *buf, size_t len, struct berth_err **err)
{
    return write(*(int *)arg, buf, len) == (ssize_t)len
               ? 0
               : berth_err_set(err, BERTH_E_INTERNAL, 0, "short write");
}

static void test_export_round_trip(void **state)
{
    struct env *e = *state;
    struct berth_import_result res = {0};
    struct berth_err *err = NULL;
    struct berth_export_opts eo = {.ns = NS};
    struct berth_import_opts io = {.ns = "other", .snapshotter = SN};
    _cleanup_free_ char *path = berth_strdup_printf("%s/exp.tar", e->meta->tmp->dir);
    char *names[] = {(char *)"docker.io/berth/multi:latest",
                     (char *)"docker.io/berth/multiarch:latest"};
    char *missing[] = {(char *)"docker.io/berth/nope:1"};
    int fd;

    assert_ok(import_file(e, "oci/multi.tar", NULL, &res, &err), &err);
    berth_import_result_clear(&res);
    assert_ok(import_file(e, "oci/multiarch.tar", NULL, &res, &err), &err);
    berth_import_result_clear(&res);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_ok(berth_image_export(&e->st, &eo, names, 2, to_fd_cb, &fd, &err), &err);
    assert_int_equal(berth_image_export(&e->st, &eo, missing, 1, to_fd_cb, &fd, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_image_export(&e->st, &eo, names, 0, to_fd_cb, &fd, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    close(fd);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_ok(berth_image_import_fd(&e->st, &io, fd, &res, &err), &err);
    close(fd);
    assert_int_equal(res.n, 2);
    assert_string_equal(res.images[0]->name, "docker.io/berth/multi:latest");
    assert_string_equal(res.images[1]->name, "docker.io/berth/multiarch:latest");
    berth_import_result_clear(&res);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_import_oci_busybox_unpacks), T(test_import_multi_layer_whiteouts),
        T(test_import_multiarch_platforms), T(test_import_zstd_and_docker),
        T(test_import_corrupt_blob_fails),  T(test_import_wrong_diff_id_removes_snapshot),
        T(test_import_garbage_is_invalid),  T(test_export_round_trip),
    };
    return cmocka_run_group_tests(tests, berth_test_images_setup, berth_test_images_teardown);
}
