/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for metadata/images.c over a real LMDB store. */
#include "tests/unit/helpers/meta_fixture.h"

#include <string.h>

#include "lib/filters.h"
#include "lib/util.h"
#include "metadata/images.h"
#include "metadata/namespaces.h"

#define DG  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DG2 "sha256:0000000000000000000000000000000000000000000000000000000000000000"

struct op {
    int kind; /* 0 create, 1 update, 2 delete, 3 ns delete */
    const char *ns;
    struct berth_image *im;
    char *const *paths;
    size_t n_paths;
    const char *target;
    struct berth_image *result;
};

static int op_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct op *o = arg;

    switch (o->kind) {
    case 0:
        return berth_meta_images_create(txn, o->ns, o->im, err);
    case 1:
        berth_image_free(o->result);
        o->result = NULL;
        return berth_meta_images_update(txn, o->ns, o->im, o->paths, o->n_paths, &o->result, err);
    case 2:
        return berth_meta_images_delete(txn, o->ns, o->im->name, o->target, err);
    default:
        return berth_meta_namespaces_delete(txn, o->ns, err);
    }
}

static struct berth_image *mk(const char *name, const char *digest, int64_t size, const char *mt)
{
    struct berth_image *im = berth_image_new();
    im->name = name ? berth_xstrdup(name) : NULL;
    im->target.digest = digest ? berth_xstrdup(digest) : NULL;
    im->target.media_type = mt ? berth_xstrdup(mt) : NULL;
    im->target.size = size;
    return im;
}

static int run(struct meta_env *env, struct op *o, struct berth_err **err)
{
    return berth_meta_update(env->db, op_cb, o, err);
}

static void test_images_create_get_list(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    _cleanup_(berth_image_freep) struct berth_image *a =
        mk("docker.io/library/busybox:latest", DG, 10, "application/vnd.oci.image.index.v1+json");
    _cleanup_(berth_image_freep) struct berth_image *b =
        mk("localhost:5000/x@" DG, DG2, 20, "application/vnd.oci.image.manifest.v1+json");
    _cleanup_(berth_image_freep) struct berth_image *got = NULL;
    struct berth_meta_txn *txn = NULL;
    struct berth_filter *f = NULL;
    struct berth_image **v = NULL;
    size_t n = 0;
    struct op o = {.kind = 0, .ns = "default", .im = a};

    berth_labels_set(&a->labels, "k", "v");
    berth_labels_set(&a->target.annotations, "org.opencontainers.image.ref.name", "latest");
    assert_ok(run(env, &o, &err), &err);
    assert_true(a->created_ns > 0);
    o.im = b;
    assert_ok(run(env, &o, &err), &err);
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);

    assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
    assert_ok(berth_meta_images_get(txn, "default", a->name, &got, &err), &err);
    assert_string_equal(got->target.digest, DG);
    assert_int_equal(got->target.size, 10);
    assert_string_equal(berth_labels_get(&got->labels, "k"), "v");
    assert_string_equal(
        berth_labels_get(&got->target.annotations, "org.opencontainers.image.ref.name"), "latest");
    berth_image_free(steal_ptr(got));
    assert_int_equal(berth_meta_images_get(txn, "other", a->name, &got, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_ok(berth_meta_images_list(txn, "default", NULL, &v, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(v[0]->name, "docker.io/library/busybox:latest");
    berth_images_free(v, n);
    static const char *const filters[] = {
        "name==docker.io/library/busybox:latest", "target.digest==" DG2,
        "target.mediatype~=manifest", "labels.k==v",
        "annotations.\"org.opencontainers.image.ref.name\"==latest"};
    static const size_t want[] = {1, 1, 1, 1, 1};
    for (size_t i = 0; i < BERTH_N(filters); i++) {
        assert_ok(berth_filter_parse(&filters[i], 1, &f, &err), &err);
        assert_ok(berth_meta_images_list(txn, "default", f, &v, &n, &err), &err);
        assert_int_equal(n, want[i]);
        berth_images_free(v, n);
        berth_filter_free(f);
    }
    berth_meta_txn_abort(txn);
}

static void test_images_create_validates(void **state)
{
    struct meta_env *env = *state;
    char long_name[BERTH_IMAGE_NAME_MAX + 2];
    struct berth_image *bad[] = {
        mk(NULL, DG, 1, "mt"),  mk("", DG, 1, "mt"),     mk("x", "sha256:zz", 1, "mt"),
        mk("x", NULL, 1, "mt"), mk("x", DG, 0, "mt"),    mk("x", DG, -5, "mt"),
        mk("x", DG, 1, NULL),   mk("a\nb", DG, 1, "mt"), mk(long_name, DG, 1, "mt"),
    };

    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    free(bad[8]->name);
    bad[8]->name = berth_xstrdup(long_name);
    for (size_t i = 0; i < BERTH_N(bad); i++) {
        struct berth_err *err = NULL;
        struct op o = {.kind = 0, .ns = "default", .im = bad[i]};
        if (run(env, &o, &err) == 0)
            fail_msg("case %zu accepted", i);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        berth_image_free(bad[i]);
    }
}

static void test_images_update_paths(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    _cleanup_(berth_image_freep) struct berth_image *a = mk("img", DG, 10, "mt");
    _cleanup_(berth_image_freep) struct berth_image *u = mk("img", DG2, 99, "mt2");
    struct op o = {.kind = 0, .ns = "default", .im = a};
    char *lab[] = {"labels.x"}, *tgt[] = {"target"}, *bad[] = {"name"}, *ann[] = {"annotations.a"};

    berth_labels_set(&a->labels, "keep", "1");
    assert_ok(run(env, &o, &err), &err);
    berth_labels_set(&u->labels, "x", "y");
    berth_labels_set(&u->target.annotations, "a", "b");
    o = (struct op){.kind = 1, .ns = "default", .im = u, .paths = lab, .n_paths = 1};
    assert_ok(run(env, &o, &err), &err);
    assert_string_equal(berth_labels_get(&o.result->labels, "x"), "y");
    assert_string_equal(berth_labels_get(&o.result->labels, "keep"), "1");
    assert_string_equal(o.result->target.digest, DG);
    o.paths = ann;
    assert_ok(run(env, &o, &err), &err);
    assert_string_equal(berth_labels_get(&o.result->target.annotations, "a"), "b");
    o.paths = tgt;
    assert_ok(run(env, &o, &err), &err);
    assert_string_equal(o.result->target.digest, DG2);
    assert_int_equal(o.result->target.size, 99);
    assert_string_equal(berth_labels_get(&o.result->labels, "keep"), "1");
    o.paths = bad;
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* empty mask: the whole image is replaced */
    o.paths = NULL;
    o.n_paths = 0;
    assert_ok(run(env, &o, &err), &err);
    assert_null(berth_labels_get(&o.result->labels, "keep"));
    /* an update that would leave an invalid target fails and changes nothing */
    u->target.size = 0;
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    free(u->name);
    u->name = berth_xstrdup("missing");
    u->target.size = 1;
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_image_free(o.result);
}

static void test_images_delete_and_namespace(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    _cleanup_(berth_image_freep) struct berth_image *a = mk("img:1", DG, 10, "mt");
    struct op o = {.kind = 0, .ns = "n1", .im = a};

    assert_ok(run(env, &o, &err), &err);
    o = (struct op){.kind = 3, .ns = "n1"};
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    o = (struct op){.kind = 2, .ns = "n1", .im = a, .target = DG2};
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    o.target = DG;
    assert_ok(run(env, &o, &err), &err);
    assert_int_equal(run(env, &o, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    o = (struct op){.kind = 3, .ns = "n1"};
    assert_ok(run(env, &o, &err), &err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_images_create_get_list, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_images_create_validates, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_images_update_paths, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_images_delete_and_namespace, meta_setup,
                                        meta_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
