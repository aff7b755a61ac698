/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/snapshots/service.c through the real registry (berth_server_invoke, no
 * socket) over a real store and the real backend registry in a temp dir. Only the native
 * backend is driven (nothing is mounted); List is a server stream: only a List that sends
 * nothing runs here, the rest is covered by tests/integration/snapshots.bats. */
#include "tests/unit/helpers/svc_invoke.h"

#include <string.h>

#include "api/events/snapshot.pb-c.h"
#include "api/services/snapshots/v1/snapshots.pb-c.h"
#include "api/types/event.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "lib/util.h"
#include "services/events/exchange.h"
#include "services/services.h"
#include "snapshots/snapshotter.h"
#include "tests/unit/services/svc_deadline.h"

#define S_SVC "/containerd.services.snapshots.v1.Snapshots/"

typedef Containerd__Services__Snapshots__V1__PrepareSnapshotResponse prep_resp_t;
typedef Containerd__Services__Snapshots__V1__StatSnapshotResponse stat_resp_t;
typedef Containerd__Services__Snapshots__V1__UpdateSnapshotResponse update_resp_t;
typedef Containerd__Services__Snapshots__V1__UsageResponse usage_resp_t;
typedef Containerd__Services__Snapshots__V1__MountsResponse mounts_resp_t;

struct env {
    struct meta_env *meta;
    struct berth_snap_registry *reg;
    struct berth_events *events;
    struct berth_services app;
};

static int setup(void **state)
{
    struct env *e = berth_xcalloc(1, sizeof(*e));
    struct berth_err *err = NULL;

    if (meta_setup((void **)&e->meta) < 0)
        return -1;
    if (berth_snap_registry_open(e->meta->tmp->dir, &e->reg, &err) < 0) {
        print_error("open registry: %s\n", err->msg);
        berth_err_free(&err);
        return -1;
    }
    e->events = berth_events_new();
    e->app =
        (struct berth_services){.db = e->meta->db, .snapshotters = e->reg, .events = e->events};
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    berth_events_free(e->events);
    berth_snap_registry_close(e->reg);
    meta_teardown((void **)&e->meta);
    free(e);
    return 0;
}

static int call(struct env *e, const char *method, const char *ns, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
                struct berth_err **err)
{
    _cleanup_(berth_bytes_clear) struct berth_bytes out = {0};

    if (svc_invoke_app(&e->app, method, ns, req, &out, err) < 0)
        return -1;
    if (resp) {
        *resp = protobuf_c_message_unpack(desc, NULL, out.len, out.data);
        assert_non_null(*resp);
    }
    return 0;
}

static int prepare(struct env *e, const char *sn, const char *key, const char *parent, bool view,
                   struct berth_err **err)
{
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;

    req.snapshotter = (char *)sn;
    req.key = (char *)key;
    req.parent = (char *)(parent ? parent : "");
    /* View's messages share Prepare's field numbers. */
    if (call(e, view ? S_SVC "View" : S_SVC "Prepare", "default", &req.base,
             &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, &resp,
             err) < 0)
        return -1;
    assert_int_equal(((prep_resp_t *)resp)->n_mounts, 1);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int commit(struct env *e, const char *name, const char *key, struct berth_err **err)
{
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__INIT;

    req.snapshotter = (char *)"native";
    req.name = (char *)name;
    req.key = (char *)key;
    return call(e, S_SVC "Commit", "default", &req.base, NULL, NULL, err);
}

static int remove_key(struct env *e, const char *key, struct berth_err **err)
{
    Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;

    req.snapshotter = (char *)"native";
    req.key = (char *)key;
    return call(e, S_SVC "Remove", "default", &req.base, NULL, NULL, err);
}

static stat_resp_t *stat_key(struct env *e, const char *ns, const char *key, struct berth_err **err)
{
    Containerd__Services__Snapshots__V1__StatSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;

    req.snapshotter = (char *)"native";
    req.key = (char *)key;
    if (call(e, S_SVC "Stat", ns, &req.base,
             &containerd__services__snapshots__v1__stat_snapshot_response__descriptor, &resp,
             err) < 0)
        return NULL;
    return (stat_resp_t *)resp;
}

static void test_service_prepare_commit_stat(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    stat_resp_t *st;

    assert_ok(prepare(e, "native", "k1", NULL, false, &err), &err);
    assert_ok(commit(e, "base", "k1", &err), &err);
    assert_ok(prepare(e, "native", "k2", "base", false, &err), &err);
    assert_ok(prepare(e, "native", "v", "base", true, &err), &err);
    st = stat_key(e, "default", "base", &err);
    assert_non_null(st);
    assert_string_equal(st->info->name, "base");
    assert_string_equal(st->info->parent, "");
    assert_int_equal(st->info->kind, CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__COMMITTED);
    assert_non_null(st->info->created_at);
    protobuf_c_message_free_unpacked(&st->base, NULL);
    st = stat_key(e, "default", "v", &err);
    assert_non_null(st);
    assert_string_equal(st->info->parent, "base");
    assert_int_equal(st->info->kind, CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__VIEW);
    protobuf_c_message_free_unpacked(&st->base, NULL);
    /* Other namespace, other snapshotter: not there. */
    assert_null(stat_key(e, "other", "base", &err));
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_null(stat_key(e, "default", "k1", &err));
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_service_mounts_usage(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    Containerd__Services__Snapshots__V1__MountsRequest mreq =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_REQUEST__INIT;
    Containerd__Services__Snapshots__V1__UsageRequest ureq =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    mounts_resp_t *m;

    assert_ok(prepare(e, "native", "k1", NULL, false, &err), &err);
    mreq.snapshotter = (char *)"native";
    mreq.key = (char *)"k1";
    assert_ok(call(e, S_SVC "Mounts", "default", &mreq.base,
                   &containerd__services__snapshots__v1__mounts_response__descriptor, &resp, &err),
              &err);
    m = (mounts_resp_t *)resp;
    assert_int_equal(m->n_mounts, 1);
    assert_string_equal(m->mounts[0]->type, "bind");
    assert_non_null(strstr(m->mounts[0]->source, "/snapshots/native/"));
    protobuf_c_message_free_unpacked(resp, NULL);
    mreq.key = (char *)"nope";
    assert_int_equal(call(e, S_SVC "Mounts", "default", &mreq.base,
                          &containerd__services__snapshots__v1__mounts_response__descriptor, &resp,
                          &err),
                     -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);

    ureq.snapshotter = (char *)"native";
    ureq.key = (char *)"k1";
    assert_ok(call(e, S_SVC "Usage", "default", &ureq.base,
                   &containerd__services__snapshots__v1__usage_response__descriptor, &resp, &err),
              &err);
    assert_true(((usage_resp_t *)resp)->inodes >= 1);
    protobuf_c_message_free_unpacked(resp, NULL);
}

static void test_service_update_labels(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    Containerd__Services__Snapshots__V1__UpdateSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__UPDATE_SNAPSHOT_REQUEST__INIT;
    Containerd__Services__Snapshots__V1__Info info =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
    Containerd__Services__Snapshots__V1__Info__LabelsEntry ent =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__LABELS_ENTRY__INIT;
    Containerd__Services__Snapshots__V1__Info__LabelsEntry *ents[] = {&ent};
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[] = {(char *)"labels.a"};
    ProtobufCMessage *resp = NULL;
    update_resp_t *u;

    assert_ok(prepare(e, "native", "k1", NULL, false, &err), &err);
    ent.key = (char *)"a";
    ent.value = (char *)"1";
    info.name = (char *)"k1";
    info.labels = ents;
    info.n_labels = 1;
    mask.paths = paths;
    mask.n_paths = 1;
    req.snapshotter = (char *)"native";
    req.info = &info;
    req.update_mask = &mask;
    assert_ok(call(e, S_SVC "Update", "default", &req.base,
                   &containerd__services__snapshots__v1__update_snapshot_response__descriptor,
                   &resp, &err),
              &err);
    u = (update_resp_t *)resp;
    assert_int_equal(u->info->n_labels, 1);
    assert_string_equal(u->info->labels[0]->key, "a");
    protobuf_c_message_free_unpacked(resp, NULL);

    paths[0] = (char *)"kind";
    assert_int_equal(
        call(e, S_SVC "Update", "default", &req.base,
             &containerd__services__snapshots__v1__update_snapshot_response__descriptor, &resp,
             &err),
        -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    req.info = NULL;
    assert_int_equal(
        call(e, S_SVC "Update", "default", &req.base,
             &containerd__services__snapshots__v1__update_snapshot_response__descriptor, &resp,
             &err),
        -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_service_errors(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    Containerd__Services__Snapshots__V1__CleanupRequest creq =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__CLEANUP_REQUEST__INIT;

    assert_int_equal(prepare(e, "bogus", "k1", NULL, false, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(prepare(e, "native", "k1", "missing", false, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(prepare(e, "native", "", NULL, false, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_ok(prepare(e, "native", "k1", NULL, false, &err), &err);
    assert_int_equal(prepare(e, "native", "k1", NULL, true, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    assert_ok(prepare(e, "native", "v1", NULL, true, &err), &err);
    assert_int_equal(commit(e, "c", "v1", &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_ok(commit(e, "c", "k1", &err), &err);
    assert_ok(prepare(e, "native", "child", "c", false, &err), &err);
    assert_int_equal(remove_key(e, "c", &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(remove_key(e, "nope", &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_ok(remove_key(e, "child", &err), &err);
    assert_ok(remove_key(e, "c", &err), &err);
    /* The namespace header is required. */
    assert_int_equal(call(e, S_SVC "Commit", NULL, &creq.base, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    creq.snapshotter = (char *)"native";
    assert_ok(call(e, S_SVC "Cleanup", "default", &creq.base, NULL, NULL, &err), &err);
}

/* Prepare, Commit and Remove publish their events, with the snapshotter named. */
static void test_service_events(void **state)
{
    static const char *const topics[] = {"/snapshot/prepare", "/snapshot/commit",
                                         "/snapshot/remove"};
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_events_sub *sub = NULL;

    assert_ok(berth_events_subscribe(e->events, NULL, 0, &sub, &err), &err);
    assert_ok(prepare(e, "native", "k1", NULL, false, &err), &err);
    assert_ok(commit(e, "c1", "k1", &err), &err);
    assert_ok(remove_key(e, "c1", &err), &err);
    for (size_t i = 0; i < BERTH_N(topics); i++) {
        _cleanup_(berth_bytes_clear) struct berth_bytes b = {0};
        Containerd__Types__Envelope *env;

        assert_int_equal(berth_events_sub_next(sub, 1000, &b, &err), 1);
        env = containerd__types__envelope__unpack(NULL, b.len, b.data);
        assert_non_null(env);
        assert_string_equal(env->topic, topics[i]);
        assert_string_equal(env->namespace_, "default");
        containerd__types__envelope__free_unpacked(env, NULL);
    }
    berth_events_unsubscribe(sub);
}

/* List (a stream) with a filter ends with its call. */
static void test_service_list_with_filter_ends_with_the_deadline(void **state)
{
    struct env *e = *state;
    Containerd__Services__Snapshots__V1__ListSnapshotsRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_REQUEST__INIT;
    char *f_none[] = {"name~=^nothing"};
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;

    assert_ok(prepare(e, "native", "k1", NULL, false, &err), &err);
    /* nothing matches, so the stream sends nothing, however it ends */
    req.snapshotter = "native";
    req.filters = f_none;
    req.n_filters = 1;
    assert_ok(svc_call_deadline(&e->app, S_SVC "List", "default", &req.base, 0, &out, &err), &err);
    assert_int_equal(svc_call_deadline(&e->app, S_SVC "List", "default", &req.base,
                                       SVC_DEADLINE_PASSED, &out, &err),
                     -1);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "deadline exceeded while listing snapshots"));
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_service_list_with_filter_ends_with_the_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_service_prepare_commit_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_mounts_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_update_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_events, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
