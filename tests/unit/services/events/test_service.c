/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/events/service.c through the real registry (no socket): what Publish and
 * Forward do with a payload that does not decode. */
#include "tests/unit/helpers/svc_invoke.h"

#include <string.h>

#include "api/services/events/v1/events.pb-c.h"
#include "lib/util.h"
#include "services/events/exchange.h"
#include "services/services.h"

#define E_SVC "/containerd.services.events.v1.Events/"

/* ContainerCreate{id: "c1\0x"} as bytes: protobuf-c would read the id as "c1". */
static const uint8_t NUL_ID[] = {0x0a, 0x04, 'c', '1', 0, 'x'};

struct env {
    struct meta_env *meta;
    struct berth_events *ex;
    struct berth_services app;
};

static int setup(void **state)
{
    struct env *e = berth_xcalloc(1, sizeof(*e));

    if (meta_setup((void **)&e->meta) < 0)
        return -1;
    e->ex = berth_events_new();
    e->app = (struct berth_services){.db = e->meta->db, .events = e->ex};
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    berth_events_free(e->ex);
    meta_teardown((void **)&e->meta);
    free(e);
    return 0;
}

static struct berth_events_sub *sub_with(struct env *e, const char *filter)
{
    struct berth_filter *f = NULL;
    struct berth_events_sub *s = NULL;
    struct berth_err *err = NULL;
    const char *fs[] = {filter};

    assert_ok(berth_filter_parse(fs, 1, &f, &err), &err);
    assert_ok(berth_events_subscribe(e->ex, f, 0, &s, &err), &err);
    return s;
}

/* 1 and the envelope's payload length when s has an envelope, else 0. */
static int got(struct berth_events_sub *s, size_t *value_len)
{
    struct berth_bytes b = {0};
    struct berth_err *err = NULL;
    Containerd__Types__Envelope *env;
    int r = berth_events_sub_next(s, 50, &b, &err);

    assert_true(r >= 0);
    if (r == 0)
        return 0;
    env = containerd__types__envelope__unpack(NULL, b.len, b.data);
    berth_bytes_clear(&b);
    assert_non_null(env);
    *value_len = env->event->value.len;
    protobuf_c_message_free_unpacked(&env->base, NULL);
    return 1;
}

static void test_events_publish_and_forward_pass_an_undecodable_payload_on(void **state)
{
    struct env *e = *state;
    struct berth_events_sub *all = sub_with(e, "topic~=^/test/");
    struct berth_events_sub *by_id = sub_with(e, "event.id==c1");
    Containerd__Services__Events__V1__PublishRequest preq =
        CONTAINERD__SERVICES__EVENTS__V1__PUBLISH_REQUEST__INIT;
    Containerd__Services__Events__V1__ForwardRequest freq =
        CONTAINERD__SERVICES__EVENTS__V1__FORWARD_REQUEST__INIT;
    Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    struct berth_bytes out = {0};
    struct berth_err *err = NULL;
    size_t len = 0;

    any.type_url = "containerd.events.ContainerCreate";
    any.value.data = (uint8_t *)NUL_ID;
    any.value.len = sizeof(NUL_ID);
    /* containerd forwards payloads without decoding them: so does berthd */
    preq.topic = "/test/publish";
    preq.event = &any;
    assert_ok(svc_invoke_app(&e->app, E_SVC "Publish", "ns1", &preq.base, &out, &err), &err);
    berth_bytes_clear(&out);
    ts.seconds = 1700000000;
    env.timestamp = &ts;
    env.namespace_ = "ns1";
    env.topic = "/test/forward";
    env.event = &any;
    freq.envelope = &env;
    assert_ok(svc_invoke_app(&e->app, E_SVC "Forward", NULL, &freq.base, &out, &err), &err);
    berth_bytes_clear(&out);

    assert_int_equal(got(all, &len), 1);
    assert_int_equal(len, sizeof(NUL_ID));
    assert_int_equal(got(all, &len), 1);
    assert_int_equal(len, sizeof(NUL_ID));
    /* ...but it has no fields for filters: before, event.id==c1 matched "c1\0x" */
    assert_int_equal(got(by_id, &len), 0);
    berth_events_unsubscribe(all);
    berth_events_unsubscribe(by_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_events_publish_and_forward_pass_an_undecodable_payload_on, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
