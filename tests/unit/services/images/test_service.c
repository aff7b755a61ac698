/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/images/service.c through the real registry (no socket). */
#include "tests/unit/helpers/svc_invoke.h"

#include <string.h>

#include "api/services/images/v1/images.pb-c.h"
#include "lib/util.h"
#include "tests/unit/services/svc_deadline.h"

#define I_SVC "/containerd.services.images.v1.Images/"
#define DG    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MT    "application/vnd.oci.image.manifest.v1+json"

typedef Containerd__Services__Images__V1__Image image_pb;

static int create(struct meta_env *env, const char *name, const char *digest, int64_t size,
                  const char *label, struct berth_err **err)
{
    Containerd__Services__Images__V1__CreateImageRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_REQUEST__INIT;
    image_pb im = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
    Containerd__Types__Descriptor t = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    Containerd__Services__Images__V1__Image__LabelsEntry ent =
        CONTAINERD__SERVICES__IMAGES__V1__IMAGE__LABELS_ENTRY__INIT;
    Containerd__Services__Images__V1__Image__LabelsEntry *ents[] = {&ent};
    struct berth_bytes out = {0};
    int ret;

    im.name = (char *)name;
    t.digest = (char *)digest;
    t.size = size;
    t.media_type = (char *)MT;
    im.target = &t;
    if (label) {
        ent.key = (char *)label;
        ent.value = (char *)"v";
        im.labels = ents;
        im.n_labels = 1;
    }
    req.image = &im;
    ret = svc_invoke(env, I_SVC "Create", "default", &req.base, &out, err);
    berth_bytes_clear(&out);
    return ret;
}

static Containerd__Services__Images__V1__ListImagesResponse *list(struct meta_env *env,
                                                                  const char *filter)
{
    Containerd__Services__Images__V1__ListImagesRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__LIST_IMAGES_REQUEST__INIT;
    char *filters[] = {(char *)filter};
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;
    Containerd__Services__Images__V1__ListImagesResponse *resp;

    if (filter) {
        req.filters = filters;
        req.n_filters = 1;
    }
    assert_ok(svc_invoke(env, I_SVC "List", "default", &req.base, &out, &err), &err);
    resp = containerd__services__images__v1__list_images_response__unpack(NULL, out.len, out.data);
    berth_bytes_clear(&out);
    assert_non_null(resp);
    return resp;
}

static void test_images_service_crud(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_bytes out = {0};
    Containerd__Services__Images__V1__ListImagesResponse *l;

    l = list(env, NULL);
    assert_int_equal(l->n_images, 0);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    assert_ok(create(env, "docker.io/library/a:1", DG, 5, "x", &err), &err);
    assert_ok(create(env, "docker.io/library/b:1", DG, 5, NULL, &err), &err);
    assert_int_equal(create(env, "docker.io/library/a:1", DG, 5, NULL, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    assert_int_equal(create(env, "c", DG, 0, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(create(env, "c", "sha256:1", 1, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(create(env, "", DG, 1, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);

    l = list(env, "labels.x==v");
    assert_int_equal(l->n_images, 1);
    assert_string_equal(l->images[0]->name, "docker.io/library/a:1");
    assert_string_equal(l->images[0]->target->digest, DG);
    assert_non_null(l->images[0]->created_at);
    protobuf_c_message_free_unpacked(&l->base, NULL);

    /* Update labels.y only */
    Containerd__Services__Images__V1__UpdateImageRequest ureq =
        CONTAINERD__SERVICES__IMAGES__V1__UPDATE_IMAGE_REQUEST__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    image_pb im = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
    Containerd__Services__Images__V1__Image__LabelsEntry ent =
        CONTAINERD__SERVICES__IMAGES__V1__IMAGE__LABELS_ENTRY__INIT;
    Containerd__Services__Images__V1__Image__LabelsEntry *ents[] = {&ent};
    char *paths[] = {"labels.y"};
    im.name = "docker.io/library/a:1";
    ent.key = "y";
    ent.value = "z";
    im.labels = ents;
    im.n_labels = 1;
    mask.paths = paths;
    mask.n_paths = 1;
    ureq.image = &im;
    ureq.update_mask = &mask;
    assert_ok(svc_invoke(env, I_SVC "Update", "default", &ureq.base, &out, &err), &err);
    Containerd__Services__Images__V1__UpdateImageResponse *ur =
        containerd__services__images__v1__update_image_response__unpack(NULL, out.len, out.data);
    berth_bytes_clear(&out);
    assert_non_null(ur);
    assert_int_equal(ur->image->n_labels, 2);
    assert_string_equal(ur->image->target->digest, DG);
    protobuf_c_message_free_unpacked(&ur->base, NULL);
    im.name = "missing";
    assert_int_equal(svc_invoke(env, I_SVC "Update", "default", &ureq.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);

    /* Get / Delete */
    Containerd__Services__Images__V1__GetImageRequest greq =
        CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_REQUEST__INIT;
    greq.name = "docker.io/library/b:1";
    assert_ok(svc_invoke(env, I_SVC "Get", "default", &greq.base, &out, &err), &err);
    berth_bytes_clear(&out);
    assert_int_equal(svc_invoke(env, I_SVC "Get", "other", &greq.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    Containerd__Services__Images__V1__DeleteImageRequest dreq =
        CONTAINERD__SERVICES__IMAGES__V1__DELETE_IMAGE_REQUEST__INIT;
    dreq.name = "docker.io/library/b:1";
    dreq.sync = true;
    assert_ok(svc_invoke(env, I_SVC "Delete", "default", &dreq.base, &out, &err), &err);
    berth_bytes_clear(&out);
    assert_int_equal(svc_invoke(env, I_SVC "Delete", "default", &dreq.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(svc_invoke(env, I_SVC "Get", "default", &greq.base, &out, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(svc_invoke(env, I_SVC "List", NULL, NULL, &out, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
}

static void test_images_list_with_filter_ends_with_the_deadline(void **state)
{
    struct meta_env *env = *state;
    Containerd__Services__Images__V1__ListImagesRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__LIST_IMAGES_REQUEST__INIT;
    struct berth_services app = {.db = env->db};
    char *filters[] = {"name~=^docker"};
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;

    assert_ok(create(env, "docker.io/library/a:1", DG, 5, NULL, &err), &err);
    req.filters = filters;
    req.n_filters = 1;
    assert_ok(svc_call_deadline(&app, I_SVC "List", "default", &req.base,
                                berth_mono_ns() + 60 * 1000000000LL, &out, &err),
              &err);
    berth_bytes_clear(&out);
    /* Before: listed to the end although the call was over. */
    assert_int_equal(svc_call_deadline(&app, I_SVC "List", "default", &req.base,
                                       SVC_DEADLINE_PASSED, &out, &err),
                     -1);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "deadline exceeded while listing images"));
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);
    assert_null(out.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_images_service_crud, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_images_list_with_filter_ends_with_the_deadline,
                                        meta_setup, meta_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
