/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/events/exchange.c: filters, fan-out, slow-subscriber drop, close. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>

#include "api/events/container.pb-c.h"
#include "api/events/namespace.pb-c.h"
#include "lib/util.h"
#include "services/events/exchange.h"

/* A legal regex that costs about BERTH_REGEX_MAX_PROG steps per input byte (lib/regex.h). */
#define COSTLY "(?:[ab]*[ab]*){999}c"

static struct berth_events_sub *sub_with(struct berth_events *ex, const char *filter, size_t q)
{
    struct berth_filter *f = NULL;
    struct berth_events_sub *s = NULL;
    struct berth_err *err = NULL;
    const char *fs[] = {filter};

    if (filter)
        assert_ok(berth_filter_parse(fs, 1, &f, &err), &err);
    assert_ok(berth_events_subscribe(ex, f, q, &s, &err), &err);
    return s;
}

static void publish_create(struct berth_events *ex, const char *ns, const char *id)
{
    Containerd__Events__ContainerCreate ev = CONTAINERD__EVENTS__CONTAINER_CREATE__INIT;
    ev.id = (char *)id;
    ev.image = "img";
    berth_events_publish(ex, ns, "/containers/create", &ev.base);
}

/* Next envelope, decoded; NULL on timeout. */
static Containerd__Types__Envelope *next(struct berth_events_sub *s)
{
    struct berth_bytes b = {0};
    struct berth_err *err = NULL;
    Containerd__Types__Envelope *env;
    int r = berth_events_sub_next(s, 50, &b, &err);

    if (r < 0)
        fail_msg("next: %s", err->msg);
    if (r == 0)
        return NULL;
    env = containerd__types__envelope__unpack(NULL, b.len, b.data);
    berth_bytes_clear(&b);
    assert_non_null(env);
    return env;
}

static void test_exchange_envelope_is_containerd_shaped(void **state)
{
    struct berth_events *ex = berth_events_new();
    struct berth_events_sub *s = sub_with(ex, NULL, 0);
    Containerd__Types__Envelope *env;
    Containerd__Events__ContainerCreate *ev;

    publish_create(ex, "ns1", "c1");
    env = next(s);
    assert_non_null(env);
    assert_string_equal(env->namespace_, "ns1");
    assert_string_equal(env->topic, "/containers/create");
    assert_true(env->timestamp && env->timestamp->seconds > 1700000000);
    /* bare type URL, no type.googleapis.com/ prefix */
    assert_string_equal(env->event->type_url, "containerd.events.ContainerCreate");
    ev = containerd__events__container_create__unpack(NULL, env->event->value.len,
                                                      env->event->value.data);
    assert_string_equal(ev->id, "c1");
    protobuf_c_message_free_unpacked(&ev->base, NULL);
    protobuf_c_message_free_unpacked(&env->base, NULL);
    assert_null(next(s));
    berth_events_unsubscribe(s);
    berth_events_free(ex);
}

static void test_exchange_filters_topic_namespace_and_fields(void **state)
{
    struct berth_events *ex = berth_events_new();
    struct berth_events_sub *by_ns = sub_with(ex, "namespace==ns2", 0);
    struct berth_events_sub *by_topic = sub_with(ex, "topic~=^/namespaces/", 0);
    struct berth_events_sub *by_field = sub_with(ex, "event.id==c7", 0);
    struct berth_events_sub *all = sub_with(ex, NULL, 0);
    Containerd__Events__NamespaceCreate nev = CONTAINERD__EVENTS__NAMESPACE_CREATE__INIT;
    Containerd__Types__Envelope *env;
    int n = 0;

    publish_create(ex, "ns1", "c1");
    publish_create(ex, "ns2", "c7");
    nev.name = "ns3";
    berth_events_publish(ex, "ns3", "/namespaces/create", &nev.base);

    env = next(by_ns);
    assert_string_equal(env->namespace_, "ns2");
    protobuf_c_message_free_unpacked(&env->base, NULL);
    assert_null(next(by_ns));
    env = next(by_topic);
    assert_string_equal(env->topic, "/namespaces/create");
    protobuf_c_message_free_unpacked(&env->base, NULL);
    assert_null(next(by_topic));
    env = next(by_field);
    assert_string_equal(env->namespace_, "ns2");
    protobuf_c_message_free_unpacked(&env->base, NULL);
    assert_null(next(by_field));
    while ((env = next(all))) {
        n++;
        protobuf_c_message_free_unpacked(&env->base, NULL);
    }
    assert_int_equal(n, 3);
    berth_events_unsubscribe(by_ns);
    berth_events_unsubscribe(by_topic);
    berth_events_unsubscribe(by_field);
    berth_events_unsubscribe(all);
    berth_events_free(ex);
}

static void test_exchange_slow_subscriber_is_dropped_publisher_not_blocked(void **state)
{
    struct berth_events *ex = berth_events_new();
    struct berth_events_sub *slow = sub_with(ex, NULL, 8);
    struct berth_events_sub *fast = sub_with(ex, NULL, 2048);
    struct berth_events_stats st;
    struct berth_bytes b = {0};
    struct berth_err *err = NULL;
    int got = 0;
    char id[32];

    /* the slow one never reads: 1000 publishes must still all complete */
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        publish_create(ex, "ns", id);
    }
    berth_events_stats(ex, &st);
    assert_int_equal(st.published, 1000);
    assert_int_equal(st.dropped_subscribers, 1);
    while (berth_events_sub_next(fast, 10, &b, &err) == 1) {
        got++;
        berth_bytes_clear(&b);
    }
    assert_int_equal(got, 1000);
    assert_int_equal(berth_events_sub_next(slow, 10, &b, &err), -1);
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    berth_events_unsubscribe(slow);
    berth_events_unsubscribe(fast);
    berth_events_free(ex);
}

static bool stop_now_cb(void *arg)
{
    (*(int *)arg)++;
    return true;
}

/* A subscriber's costly filter runs on the subscriber's thread: publishers (every write RPC)
 * must not wait for it, and its stop ends the matching. */
static void test_exchange_costly_filter_does_not_hold_publishers(void **state)
{
    struct berth_events *ex = berth_events_new();
    struct berth_events_sub *costly = sub_with(ex, "event.id~=" COSTLY, 0);
    struct berth_events_sub *plain = sub_with(ex, "event.id==c3", 0);
    struct berth_filter *f = NULL;
    struct berth_bytes b = {0};
    struct berth_err *err = NULL;
    char *id = berth_xmalloc(64 * 1024 + 1);
    Containerd__Types__Envelope *env;
    int64_t t0, took;
    int asked = 0;

    memset(id, 'a', 64 * 1024);
    id[64 * 1024] = '\0';
    /* ~1 s of matching per event with the filter: before, each publish paid it. */
    t0 = berth_mono_ns();
    for (int i = 0; i < 4; i++)
        publish_create(ex, "ns", id);
    publish_create(ex, "ns", "c3");
    took = berth_mono_ns() - t0;
    assert_true(took < 300 * 1000000LL);
    env = next(plain);
    assert_non_null(env);
    protobuf_c_message_free_unpacked(&env->base, NULL);

    /* The costly subscriber's own stop ends its matching at once. */
    {
        const char *fs[] = {"event.id~=" COSTLY};
        assert_ok(berth_filter_parse(fs, 1, &f, &err), &err);
    }
    berth_events_unsubscribe(costly);
    assert_ok(berth_events_subscribe(ex, f, 0, &costly, &err), &err);
    berth_filter_set_stop(f, stop_now_cb, &asked);
    for (int i = 0; i < 4; i++)
        publish_create(ex, "ns", id);
    t0 = berth_mono_ns();
    assert_int_equal(berth_events_sub_next(costly, 5000, &b, &err), 0);
    took = berth_mono_ns() - t0;
    assert_true(took < 300 * 1000000LL);
    assert_true(asked >= 1);
    free(id);
    berth_events_unsubscribe(costly);
    berth_events_unsubscribe(plain);
    berth_events_free(ex);
}

/* ContainerCreate{id: the n bytes of id}, hand-encoded (protobuf-c would stop at a NUL), with
 * a length prefix of n + extra (extra > 0: cut short). */
static void forward_create(struct berth_events *ex, const char *id, size_t n, size_t extra)
{
    Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    uint8_t buf[64];

    assert_true(n < 60);
    buf[0] = 1 << 3 | 2;
    buf[1] = (uint8_t)(n + extra);
    memcpy(buf + 2, id, n);
    any.type_url = "containerd.events.ContainerCreate";
    any.value.data = buf;
    any.value.len = n + 2;
    ts.seconds = 1700000000;
    env.timestamp = &ts;
    env.namespace_ = "ns";
    env.topic = "/containers/create";
    env.event = &any;
    berth_events_forward(ex, &env);
}

/* A forwarded payload is checked before it is decoded for filters: one Go's protobuf would
 * refuse (or one protobuf-c would misread) has no fields, but still reaches subscribers as it
 * came, as containerd forwards it. */
static void test_exchange_forward_undecodable_payload_is_opaque(void **state)
{
    struct berth_events *ex = berth_events_new();
    struct berth_events_sub *by_id = sub_with(ex, "event.id==c1", 0);
    struct berth_events_sub *by_re = sub_with(ex, "event.id~=^c1", 0);
    struct berth_events_sub *by_topic = sub_with(ex, "topic==\"/containers/create\"", 0);
    Containerd__Types__Envelope *env;
    int n = 0;

    forward_create(ex, "c1\0x", 4, 0);   /* protobuf-c: "c1" */
    forward_create(ex, "c1\xff", 3, 0);  /* not UTF-8 */
    forward_create(ex, "c1\x80x", 4, 0); /* nor this */
    forward_create(ex, "c1", 2, 3);      /* cut: malformed */
    forward_create(ex, "c1", 2, 0);
    env = next(by_id);
    assert_non_null(env);
    assert_int_equal(env->event->value.len, 4);
    protobuf_c_message_free_unpacked(&env->base, NULL);
    assert_null(next(by_id));
    env = next(by_re);
    assert_non_null(env);
    assert_int_equal(env->event->value.len, 4);
    protobuf_c_message_free_unpacked(&env->base, NULL);
    assert_null(next(by_re));
    while ((env = next(by_topic))) {
        if (n == 0) /* the bytes as they came */
            assert_memory_equal(env->event->value.data,
                                "\x0a\x04"
                                "c1\0x",
                                6);
        n++;
        protobuf_c_message_free_unpacked(&env->base, NULL);
    }
    assert_int_equal(n, 5);
    berth_events_unsubscribe(by_id);
    berth_events_unsubscribe(by_re);
    berth_events_unsubscribe(by_topic);
    berth_events_free(ex);
}

static void test_exchange_close_wakes_subscribers(void **state)
{
    struct berth_events *ex = berth_events_new();
    struct berth_events_sub *s = sub_with(ex, NULL, 0), *s2 = NULL;
    struct berth_bytes b = {0};
    struct berth_err *err = NULL;

    berth_events_close(ex);
    assert_int_equal(berth_events_sub_next(s, 5000, &b, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    assert_int_equal(berth_events_subscribe(ex, NULL, 0, &s2, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    berth_events_unsubscribe(s);
    berth_events_free(ex);
}

static void test_events_validate_topic(void **state)
{
    struct berth_err *err = NULL;
    static const char *good[] = {"/containers/create", "/a", "/tasks/exec-added"};
    static const char *bad[] = {"", "/", "containers", "/a//b", "/a/", "/a b", "/-x"};

    for (size_t i = 0; i < BERTH_N(good); i++)
        assert_ok(berth_events_validate_topic(good[i], &err), &err);
    for (size_t i = 0; i < BERTH_N(bad); i++) {
        assert_int_equal(berth_events_validate_topic(bad[i], &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange_envelope_is_containerd_shaped),
        cmocka_unit_test(test_exchange_filters_topic_namespace_and_fields),
        cmocka_unit_test(test_exchange_slow_subscriber_is_dropped_publisher_not_blocked),
        cmocka_unit_test(test_exchange_costly_filter_does_not_hold_publishers),
        cmocka_unit_test(test_exchange_forward_undecodable_payload_is_opaque),
        cmocka_unit_test(test_exchange_close_wakes_subscribers),
        cmocka_unit_test(test_events_validate_topic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
