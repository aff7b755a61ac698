/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/v2/record.c, berth_rt_task_create_from_record: the checks in their order
 * (options, record, runtime, spec, snapshot), and what reaches the shim's Create — spec,
 * runtime options, rootfs from the request or from the record's snapshot, stdio — with a
 * script for the shim binary whose `start` points at a fake shim (fake_shim.h). */
#include "tests/unit/runtime/v2/fake_shim.h"

#include "metadata/containers.h"
#include "metadata/snapshots.h"
#include "runtime/v2/record.h"
#include "runtime/v2/runtime-internal.h" /* berth_rt_bundle_read */
#include "tests/unit/helpers/meta_fixture.h"

#define NS   "ns1"
#define SPEC "{\"ociVersion\":\"1.0.2\"}"
/* containerd.runc.v1.Options{binary_name (6)}, hand-encoded: protobuf-c would stop at a NUL */
#define RUNC_OPTS "containerd.runc.v1.Options"

struct fx {
    struct meta_env *meta;
    struct fake_shim shim;
    struct berth_rt *rt;
    struct berth_snap_registry *snaps;
    char *script;
};

static int setup(void **state)
{
    struct fx *fx = berth_xcalloc(1, sizeof(*fx));
    _cleanup_free_ char *st = NULL, *address = NULL;
    struct berth_err *err = NULL;
    struct berth_rt_opts o = {0};
    void *meta = NULL;

    if (meta_setup(&meta) < 0)
        return -1;
    fx->meta = meta;
    fake_shim_start(&fx->shim, fx->meta->tmp->dir);
    fx->script = fake_shim_script(&fx->shim);
    st = berth_strdup_printf("%s/state", fx->meta->tmp->dir);
    address = berth_strdup_printf("%s/berthd.sock", fx->meta->tmp->dir);
    o.state = st;
    o.address = address;
    o.bin_dir = fx->meta->tmp->dir;
    assert_ok(berth_rt_new(&o, &fx->rt, &err), &err);
    assert_ok(berth_rt_start(fx->rt, &err), &err);
    assert_ok(berth_snap_registry_open(fx->meta->tmp->dir, &fx->snaps, &err), &err);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    void *meta = fx->meta;

    berth_rt_free(fx->rt);
    berth_snap_registry_close(fx->snaps);
    fake_shim_stop(&fx->shim);
    free(fx->script);
    free(fx);
    return meta_teardown(&meta);
}

static Google__Protobuf__Any runc_opts(uint8_t *buf, const char *s, size_t len)
{
    Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT;

    buf[0] = 6 << 3 | 2;
    buf[1] = (uint8_t)len;
    memcpy(buf + 2, s, len);
    a.type_url = RUNC_OPTS;
    a.value.data = buf;
    a.value.len = len + 2;
    return a;
}

static int put_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    return berth_meta_containers_create(txn, NS, arg, err);
}

/* Stores container id with spec (NULL: an empty one), runtime options opts (may be NULL) and
 * snapshot key (NULL: none) of the native snapshotter. */
static void record(struct fx *fx, const char *id, const char *spec,
                   const Google__Protobuf__Any *opts, const char *key)
{
    _cleanup_(berth_container_freep) struct berth_container *c = berth_container_new();
    struct berth_err *err = NULL;
    Google__Protobuf__Any sp = GOOGLE__PROTOBUF__ANY__INIT;

    c->id = berth_xstrdup(id);
    c->runtime_name = berth_xstrdup("io.containerd.runc.v2");
    sp.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
    sp.value.data = (uint8_t *)(spec ? spec : "");
    sp.value.len = spec ? strlen(spec) : 0;
    berth_any_from_pb(&c->spec, &sp);
    berth_any_from_pb(&c->runtime_options, opts);
    if (key) {
        c->snapshotter = berth_xstrdup("native");
        c->snapshot_key = berth_xstrdup(key);
    }
    assert_ok(berth_meta_update(fx->meta->db, put_cb, c, &err), &err);
}

static int create(struct fx *fx, struct berth_rt *rt, struct berth_snap_registry *snaps,
                  const struct berth_rt_record_create *o, struct berth_err **err)
{
    uint32_t pid = 7;
    int ret = berth_rt_task_create_from_record(rt, fx->meta->db, snaps, o, &pid, err);

    assert_int_equal(pid, ret == 0 ? FAKE_INIT_PID : 0);
    return ret;
}

static Containerd__Task__V2__CreateTaskRequest *create_req(struct fx *fx)
{
    return (void *)fake_last(&fx->shim, "Create",
                             &containerd__task__v2__create_task_request__descriptor);
}

static void test_create_from_record_checks_in_order(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    uint8_t buf[32], buf2[32];
    Google__Protobuf__Any bad = runc_opts(buf, "ru\0nc", 5), good = runc_opts(buf2, "runc", 4);
    struct berth_rt_record_create o = {.ns = NS, .id = "c1", .runtime_path = fx->script};

    /* bad task options come first, even for a missing record */
    o.options = &bad;
    assert_int_equal(create(fx, fx->rt, fx->snaps, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    o.options = NULL;
    assert_int_equal(create(fx, fx->rt, fx->snaps, &o, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    /* the record's runtime options are checked when no task options replace them */
    record(fx, "c1", SPEC, &bad, NULL);
    assert_int_equal(create(fx, fx->rt, fx->snaps, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* no runtime: after the argument checks */
    o.options = &good;
    assert_int_equal(create(fx, NULL, fx->snaps, &o, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    /* a record without a spec */
    record(fx, "nospec", NULL, NULL, NULL);
    o.id = "nospec";
    assert_int_equal(create(fx, fx->rt, fx->snaps, &o, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    /* a snapshot key of a snapshotter not loaded, and a key that does not exist */
    record(fx, "snap", SPEC, NULL, "no-such-key");
    o.id = "snap";
    assert_int_equal(create(fx, fx->rt, NULL, &o, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(create(fx, fx->rt, fx->snaps, &o, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(fake_calls(&fx->shim), 0);
}

static void test_create_from_record_sends_the_record(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    uint8_t buf[32];
    Google__Protobuf__Any opts = runc_opts(buf, "runc", 4);
    struct berth_rt_record_create o = {.ns = NS, .id = "c1", .runtime_path = fx->script};
    Containerd__Task__V2__CreateTaskRequest *req;
    _cleanup_free_ char *bundle = NULL, *config = NULL;
    struct berth_rt_task *t = NULL;

    record(fx, "c1", SPEC, &opts, NULL);
    o.io = (struct berth_rt_io){.stdin_path = "/i", .stdout_path = "/o", .stderr_path = "/e"};
    o.io.terminal = true;
    assert_ok(create(fx, fx->rt, fx->snaps, &o, &err), &err);
    req = create_req(fx);
    assert_string_equal(req->id, "c1");
    assert_string_equal(req->stdin, "/i");
    assert_string_equal(req->stdout, "/o");
    assert_string_equal(req->stderr, "/e");
    assert_true(req->terminal);
    assert_int_equal(req->n_rootfs, 0);
    /* without task options the record's go to the shim */
    assert_non_null(req->options);
    assert_string_equal(req->options->type_url, RUNC_OPTS);
    assert_int_equal(req->options->value.len, opts.value.len);
    bundle = berth_xstrdup(req->bundle);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    config = berth_rt_bundle_read(bundle, "config.json");
    assert_string_equal(config, SPEC);
    assert_ok(berth_rt_task_get(fx->rt, NS, "c1", &t, &err), &err);
    berth_rt_task_put(t);
}

static void test_create_from_record_rootfs_from_request_or_snapshot(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    struct berth_rt_record_create o = {.ns = NS, .id = "c1", .runtime_path = fx->script};
    struct berth_mount m = {.type = "bind", .source = "/src"};
    struct berth_mount *snap_m = NULL;
    struct berth_snapshotter *sn = NULL;
    Containerd__Task__V2__CreateTaskRequest *req;
    size_t n = 0;

    /* the request's mounts win over the record's snapshot, which is not even looked up */
    record(fx, "c1", SPEC, NULL, "no-such-key");
    o.rootfs = &m;
    o.n_rootfs = 1;
    assert_ok(create(fx, fx->rt, fx->snaps, &o, &err), &err);
    req = create_req(fx);
    assert_int_equal(req->n_rootfs, 1);
    assert_string_equal(req->rootfs[0]->type, "bind");
    assert_string_equal(req->rootfs[0]->source, "/src");
    assert_null(req->options);
    protobuf_c_message_free_unpacked(&req->base, NULL);

    /* without, the mounts of the record's snapshot */
    assert_ok(berth_snap_registry_get(fx->snaps, "native", &sn, &err), &err);
    assert_ok(berth_meta_snapshots_create(fx->meta->db, sn, NS, NULL, BERTH_SNAP_ACTIVE, "c2-key",
                                          NULL, NULL, &snap_m, &n, &err),
              &err);
    record(fx, "c2", SPEC, NULL, "c2-key");
    o.id = "c2";
    o.rootfs = NULL;
    o.n_rootfs = 0;
    assert_ok(create(fx, fx->rt, fx->snaps, &o, &err), &err);
    req = create_req(fx);
    assert_int_equal(req->n_rootfs, n);
    assert_true(n > 0);
    assert_string_equal(req->rootfs[0]->type, snap_m[0].type);
    assert_string_equal(req->rootfs[0]->source, snap_m[0].source);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    berth_mounts_free(snap_m, n);
}

static void test_create_from_record_twice_is_already_exists(void **state)
{
    struct fx *fx = *state;
    struct berth_err *err = NULL;
    struct berth_rt_record_create o = {.ns = NS, .id = "c1", .runtime_path = fx->script};

    record(fx, "c1", SPEC, NULL, NULL);
    assert_ok(create(fx, fx->rt, fx->snaps, &o, &err), &err);
    assert_int_equal(create(fx, fx->rt, fx->snaps, &o, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_create_from_record_checks_in_order),
        T(test_create_from_record_sends_the_record),
        T(test_create_from_record_rootfs_from_request_or_snapshot),
        T(test_create_from_record_twice_is_already_exists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
