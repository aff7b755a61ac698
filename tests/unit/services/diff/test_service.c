/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/diff/service.c: Apply through the real registry over a real content
 * store, into a bind-mount source and an overlay upperdir (neither needs a mount); Diff of two
 * bind sources into that store. */
#include "tests/unit/helpers/meta_fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/services/diff/v1/diff.pb-c.h"
#include "content/store.h"
#include "lib/sha256.h"
#include "lib/util.h"
#include "metadata/content.h"
#include "services/services.h"

#define APPLY "/containerd.services.diff.v1.Diff/Apply"
#define DIFF  "/containerd.services.diff.v1.Diff/Diff"

struct env {
    struct meta_env *meta;
    struct berth_content_store *cs;
    char *state;
    char digest[72], diff_id[72];
    int64_t size, raw_size;
};

/* A gzip'd layer: dir d/, file d/f, whiteout d/.wh.old. */
static void make_layer(struct env *e, uint8_t **data, size_t *len)
{
    static uint8_t buf[1 << 16];
    struct archive *a = archive_write_new();
    size_t used = 0;
    const char *names[] = {"d/", "d/f", "d/.wh.old"};

    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    assert_int_equal(archive_write_open_memory(a, buf, sizeof(buf), &used), ARCHIVE_OK);
    for (size_t i = 0; i < BERTH_N(names); i++) {
        struct archive_entry *en = archive_entry_new();
        bool dir = i == 0;
        archive_entry_set_pathname(en, names[i]);
        archive_entry_set_filetype(en, dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(en, dir ? 0755 : 0644);
        archive_entry_set_size(en, i == 1 ? 5 : 0);
        archive_write_header(a, en);
        if (i == 1)
            archive_write_data(a, "hello", 5);
        archive_entry_free(en);
    }
    archive_write_close(a);
    archive_write_free(a);
    *data = buf;
    *len = used;
}

static int put_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct berth_content_info *info = arg;
    return berth_meta_content_put(txn, "default", info, err);
}

static int setup(void **state)
{
    struct env *e = berth_xcalloc(1, sizeof(*e));
    struct berth_err *err = NULL;
    struct berth_content_writer *w = NULL;
    _cleanup_free_ char *dir = NULL, *dg = NULL;
    uint8_t *data;
    size_t len;

    if (meta_setup((void **)&e->meta) < 0)
        return -1;
    dir = berth_strdup_printf("%s/content", e->meta->tmp->dir);
    e->state = berth_strdup_printf("%s/state", e->meta->tmp->dir);
    mkdir(e->state, 0700);
    assert_ok(berth_content_store_open(dir, &e->cs, &err), &err);
    make_layer(e, &data, &len);
    assert_ok(berth_content_writer_open(e->cs, "default/layer", (int64_t)len, NULL, &w, &err),
              &err);
    assert_ok(berth_content_writer_write(w, 0, data, len, &err), &err);
    assert_ok(berth_content_writer_commit(w, (int64_t)len, NULL, &dg, &err), &err);
    snprintf(e->digest, sizeof(e->digest), "%s", dg);
    e->raw_size = (int64_t)len;
    struct berth_content_info info = {.digest = dg, .size = (int64_t)len};
    assert_ok(berth_meta_update(e->meta->db, put_cb, &info, &err), &err);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    void *m = e->meta;

    berth_content_store_close(e->cs);
    free(e->state);
    meta_teardown(&m);
    free(e);
    return 0;
}

static int apply(struct env *e, const char *ns, const char *digest, const char *mt,
                 Containerd__Types__Mount *m, Containerd__Services__Diff__V1__ApplyResponse **resp,
                 struct berth_err **err)
{
    const struct berth_service *const *svcs;
    size_t n = berth_services_all(&svcs);
    struct berth_services app = {.db = e->meta->db, .content = e->cs, .state = e->state};
    Containerd__Services__Diff__V1__ApplyRequest req =
        CONTAINERD__SERVICES__DIFF__V1__APPLY_REQUEST__INIT;
    Containerd__Types__Descriptor d = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    Containerd__Types__Mount *mounts[] = {m};
    struct berth_bytes in = {0}, out = {0};
    int ret;

    d.digest = (char *)digest;
    d.media_type = (char *)mt;
    d.size = e->raw_size;
    req.diff = &d;
    if (m) {
        req.mounts = mounts;
        req.n_mounts = 1;
    }
    berth_svc_pack(&in, &req.base);
    ret = berth_server_invoke(svcs, n, APPLY, ns, in.data, in.len, &app, &out, err);
    berth_bytes_clear(&in);
    if (ret == 0 && resp) {
        *resp = containerd__services__diff__v1__apply_response__unpack(NULL, out.len, out.data);
        assert_non_null(*resp);
    }
    berth_bytes_clear(&out);
    return ret;
}

static void test_diff_apply_bind_source(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT;
    Containerd__Services__Diff__V1__ApplyResponse *resp = NULL;
    _cleanup_free_ char *dir = berth_strdup_printf("%s/snap", e->meta->tmp->dir);
    _cleanup_free_ char *f = berth_strdup_printf("%s/d/f", dir);
    _cleanup_free_ char *old = berth_strdup_printf("%s/d/old", dir);
    char *opts[] = {"rbind", "rw"};
    struct stat st;

    mkdir(dir, 0755);
    m.type = "bind";
    m.source = dir;
    m.options = opts;
    m.n_options = 2;
    assert_ok(apply(e, "default", e->digest, "application/vnd.oci.image.layer.v1.tar+gzip", &m,
                    &resp, &err),
              &err);
    assert_string_equal(resp->applied->media_type, "application/vnd.oci.image.layer.v1.tar");
    assert_int_equal(strncmp(resp->applied->digest, "sha256:", 7), 0);
    assert_true(resp->applied->size > e->raw_size);
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_size, 5);
    assert_int_not_equal(lstat(old, &st), 0);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static void test_diff_apply_overlay_upper(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT;
    Containerd__Services__Diff__V1__ApplyResponse *resp = NULL;
    _cleanup_free_ char *upper = berth_strdup_printf("%s/upper", e->meta->tmp->dir);
    _cleanup_free_ char *lower = berth_strdup_printf("%s/lower", e->meta->tmp->dir);
    _cleanup_free_ char *o1 = berth_strdup_printf("upperdir=%s", upper);
    _cleanup_free_ char *o2 = berth_strdup_printf("lowerdir=%s", lower);
    _cleanup_free_ char *old = berth_strdup_printf("%s/d/old", upper);
    char *opts[] = {"index=off", o1, "workdir=/nonexistent", o2};
    struct stat st;

    mkdir(upper, 0755);
    mkdir(lower, 0755);
    m.type = "overlay";
    m.source = "overlay";
    m.options = opts;
    m.n_options = BERTH_N(opts);
    assert_ok(apply(e, "default", e->digest, "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    &m, &resp, &err),
              &err);
    assert_int_equal(lstat(old, &st), 0);
    assert_true(S_ISCHR(st.st_mode)); /* overlay whiteout */
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static void test_diff_apply_errors(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT;
    _cleanup_free_ char *dir = berth_strdup_printf("%s/snap2", e->meta->tmp->dir);

    mkdir(dir, 0755);
    m.type = "bind";
    m.source = dir;
    /* the blob exists, but not in this namespace */
    assert_int_equal(
        apply(e, "other", e->digest, "application/vnd.oci.image.layer.v1.tar", &m, NULL, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(apply(e, "default", e->digest,
                           "application/vnd.oci.image.layer.v1.tar+encrypted", &m, NULL, &err),
                     -1);
    assert_err_code(err, BERTH_E_NOT_IMPLEMENTED);
    assert_int_equal(
        apply(e, "default", "sha256:zz", "application/vnd.oci.image.layer.v1.tar", &m, NULL, &err),
        -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(
        apply(e, "default", e->digest, "application/vnd.oci.image.layer.v1.tar", NULL, NULL, &err),
        -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(
        apply(e, NULL, e->digest, "application/vnd.oci.image.layer.v1.tar", &m, NULL, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
}

static int diff(struct env *e, const char *ns, const char *lower, const char *upper, const char *mt,
                const char *ref, Containerd__Services__Diff__V1__DiffResponse **resp,
                struct berth_err **err)
{
    const struct berth_service *const *svcs;
    size_t n = berth_services_all(&svcs);
    struct berth_services app = {.db = e->meta->db, .content = e->cs, .state = e->state};
    Containerd__Services__Diff__V1__DiffRequest req =
        CONTAINERD__SERVICES__DIFF__V1__DIFF_REQUEST__INIT;
    Containerd__Types__Mount l = CONTAINERD__TYPES__MOUNT__INIT, u = CONTAINERD__TYPES__MOUNT__INIT;
    Containerd__Types__Mount *left[] = {&l}, *right[] = {&u};
    Containerd__Services__Diff__V1__DiffRequest__LabelsEntry lab =
        CONTAINERD__SERVICES__DIFF__V1__DIFF_REQUEST__LABELS_ENTRY__INIT;
    Containerd__Services__Diff__V1__DiffRequest__LabelsEntry *labs[] = {&lab};
    char *opts[] = {"rbind", "ro"};
    struct berth_bytes in = {0}, out = {0};
    int ret;

    l.type = u.type = "bind";
    l.source = (char *)lower;
    u.source = (char *)upper;
    l.options = u.options = opts;
    l.n_options = u.n_options = 2;
    req.left = left;
    req.n_left = 1;
    req.right = right;
    req.n_right = upper ? 1 : 0;
    req.media_type = (char *)mt;
    req.ref = (char *)ref;
    lab.key = "team";
    lab.value = "x";
    req.labels = labs;
    req.n_labels = 1;
    berth_svc_pack(&in, &req.base);
    ret = berth_server_invoke(svcs, n, DIFF, ns, in.data, in.len, &app, &out, err);
    berth_bytes_clear(&in);
    if (ret == 0 && resp) {
        *resp = containerd__services__diff__v1__diff_response__unpack(NULL, out.len, out.data);
        assert_non_null(*resp);
    }
    berth_bytes_clear(&out);
    return ret;
}

static void test_diff_diff_records_blob(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    Containerd__Services__Diff__V1__DiffResponse *resp = NULL, *again = NULL;
    _cleanup_(berth_content_info_freep) struct berth_content_info *info = NULL;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_free_ char *lower = berth_strdup_printf("%s/l", e->meta->tmp->dir);
    _cleanup_free_ char *upper = berth_strdup_printf("%s/u", e->meta->tmp->dir);
    _cleanup_free_ char *f = berth_strdup_printf("%s/new", upper);
    _cleanup_close_ int fd = -1;
    int64_t size;

    mkdir(lower, 0755);
    mkdir(upper, 0755);
    fd = open(f, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_int_equal(write(fd, "hi", 2), 2);
    assert_ok(diff(e, "default", lower, upper, NULL, NULL, &resp, &err), &err);
    assert_string_equal(resp->diff->media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
    assert_ok(berth_content_blob_stat(e->cs, resp->diff->digest, &size, &err), &err);
    assert_int_equal(size, resp->diff->size);
    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    assert_ok(berth_meta_content_get(txn, "default", resp->diff->digest, &info, &err), &err);
    assert_string_equal(berth_labels_get(&info->labels, "team"), "x");
    assert_int_equal(
        strncmp(berth_labels_get(&info->labels, "containerd.io/uncompressed"), "sha256:", 7), 0);
    berth_meta_txn_abort(steal_ptr(txn));
    /* same trees, same blob (already in the store: not an error) */
    assert_ok(diff(e, "default", lower, upper, "", "myref", &again, &err), &err);
    assert_string_equal(again->diff->digest, resp->diff->digest);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    protobuf_c_message_free_unpacked(&again->base, NULL);
    assert_ok(diff(e, "default", lower, upper, "application/vnd.oci.image.layer.v1.tar", NULL,
                   &resp, &err),
              &err);
    assert_string_equal(resp->diff->media_type, "application/vnd.oci.image.layer.v1.tar");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static void test_diff_diff_errors(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    _cleanup_free_ char *dir = berth_strdup_printf("%s/d1", e->meta->tmp->dir);
    _cleanup_free_ char *missing = berth_strdup_printf("%s/missing", e->meta->tmp->dir);

    mkdir(dir, 0755);
    assert_int_equal(diff(e, "default", dir, dir, "application/vnd.oci.image.layer.v1.tar+zstd",
                          NULL, NULL, &err),
                     -1);
    assert_err_code(err, BERTH_E_NOT_IMPLEMENTED);
    assert_int_equal(diff(e, "default", dir, NULL, NULL, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(diff(e, "default", dir, missing, NULL, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(diff(e, NULL, dir, dir, NULL, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    /* nothing was left behind: no ingest */
    struct berth_content_status *st = NULL;
    size_t n = 0;
    assert_ok(berth_content_ingest_list(e->cs, NULL, &st, &n, &err), &err);
    assert_int_equal(n, 0);
    berth_content_statuses_free(st, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_diff_apply_bind_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diff_apply_overlay_upper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diff_apply_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diff_diff_records_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diff_diff_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
