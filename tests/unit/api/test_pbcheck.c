/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for api/pbcheck.c: wire bytes are built by hand, since protobuf-c cannot pack a string
 * with a NUL byte (it takes strlen) and never produces malformed input. */
#include "tests/unit/helpers/berth_test.h"

#include <stdlib.h>
#include <string.h>

#include "api/cgroups/v1/metrics.pb-c.h"
#include "api/pbcheck.h"
#include "api/services/containers/v1/containers.pb-c.h"
#include "google/protobuf/struct.pb-c.h"

#define GET_REQ    (&containerd__services__containers__v1__get_container_request__descriptor)
#define CREATE_REQ (&containerd__services__containers__v1__create_container_request__descriptor)
#define LIST_REQ   (&containerd__services__containers__v1__list_containers_request__descriptor)

/* A growable wire buffer. */
struct wbuf {
    uint8_t *d;
    size_t n, cap;
};

static void wb_raw(struct wbuf *b, const void *p, size_t len)
{
    if (b->n + len > b->cap) {
        b->cap = (b->n + len) * 2 + 64;
        b->d = realloc(b->d, b->cap);
        assert_non_null(b->d);
    }
    if (len)
        memcpy(b->d + b->n, p, len);
    b->n += len;
}

static void wb_varint(struct wbuf *b, uint64_t v)
{
    uint8_t c;

    do {
        c = (uint8_t)(v & 0x7f);
        v >>= 7;
        c |= v ? 0x80 : 0;
        wb_raw(b, &c, 1);
    } while (v);
}

/* Field num, wire type 2, with len bytes of p. */
static void wb_ld(struct wbuf *b, uint32_t num, const void *p, size_t len)
{
    wb_varint(b, (uint64_t)num << 3 | 2);
    wb_varint(b, len);
    wb_raw(b, p, len);
}

/* A string field: the literal's bytes (with any embedded NUL), not its strlen. */
#define WB_STR(b, num, lit) wb_ld((b), (num), (lit), sizeof(lit) - 1)

static void wb_msg(struct wbuf *b, uint32_t num, const struct wbuf *m)
{
    wb_ld(b, num, m->d, m->n);
}

static void wb_free(struct wbuf *b)
{
    free(b->d);
    memset(b, 0, sizeof(*b));
}

/* A map<string, string> entry. */
static void wb_entry(struct wbuf *b, uint32_t num, const void *k, size_t kl, const void *v,
                     size_t vl)
{
    struct wbuf e = {0};

    wb_ld(&e, 1, k, kl);
    wb_ld(&e, 2, v, vl);
    wb_msg(b, num, &e);
    wb_free(&e);
}

/* Checks b as desc: expects INVALID_ARGUMENT and, if want is not NULL, a message containing it
 * (the field path and the escaped value are the point of these messages). */
static void expect_bad(const ProtobufCMessageDescriptor *desc, const struct wbuf *b,
                       const char *want)
{
    struct berth_err *err = NULL;

    assert_int_equal(berth_pb_check(desc, b->d, b->n, &err), -1);
    assert_non_null(err);
    if (want && !strstr(err->msg, want))
        fail_msg("message \"%s\" lacks \"%s\"", err->msg, want);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void expect_ok(const ProtobufCMessageDescriptor *desc, const struct wbuf *b)
{
    struct berth_err *err = NULL;

    assert_ok(berth_pb_check(desc, b->d, b->n, &err), &err);
    assert_null(err);
}

/* CreateContainerRequest{container{id, labels, runtime, spec, extensions}} as protobuf-c packs
 * it, with a spec whose bytes hold NUL and non-UTF-8 (bytes fields are not strings). */
static void test_pb_check_packed_request_accepted(void **state)
{
    Containerd__Services__Containers__V1__CreateContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    Containerd__Services__Containers__V1__Container c =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    Containerd__Services__Containers__V1__Container__Runtime rt =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    Containerd__Services__Containers__V1__Container__LabelsEntry l1 =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__LABELS_ENTRY__INIT;
    Containerd__Services__Containers__V1__Container__LabelsEntry l2 =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__LABELS_ENTRY__INIT;
    Containerd__Services__Containers__V1__Container__LabelsEntry *labels[] = {&l1, &l2};
    Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT;
    static uint8_t spec_bytes[] = {'{', 0, 0xff, 0xc0, '}'};
    char *big = malloc(5001);
    struct wbuf b = {0};
    struct berth_err *err = NULL;

    (void)state;
    memset(big, 'x', 5000);
    big[5000] = '\0';
    l1.key = "containerd.io/gc.ref.content";
    l1.value = "sha256:\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* été € 😀 */
    l2.key = "big";
    l2.value = big;
    rt.name = "io.containerd.runc.v2";
    spec.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
    spec.value.data = spec_bytes;
    spec.value.len = sizeof(spec_bytes);
    c.id = "c1";
    c.image = ""; /* empty strings are fine (and not even on the wire) */
    c.n_labels = 2;
    c.labels = labels;
    c.runtime = &rt;
    c.spec = &spec;
    req.container = &c;
    b.n = b.cap = protobuf_c_message_get_packed_size(&req.base);
    b.d = malloc(b.n);
    protobuf_c_message_pack(&req.base, b.d);
    expect_ok(CREATE_REQ, &b);
    /* An empty body, and an explicitly empty string on the wire. */
    assert_ok(berth_pb_check(CREATE_REQ, NULL, 0, &err), &err);
    wb_free(&b);
    WB_STR(&b, 1, "");
    expect_ok(GET_REQ, &b);
    wb_free(&b);
    free(big);
}

static void test_pb_check_nul_top_level(void **state)
{
    struct wbuf b = {0};

    (void)state;
    WB_STR(&b, 1, "ab\0cd");
    expect_bad(GET_REQ, &b, "field id:");
    expect_bad(GET_REQ, &b, "\"ab\\x00cd\"");
    wb_free(&b);
    /* A NUL alone, first and last. */
    WB_STR(&b, 1, "\0");
    expect_bad(GET_REQ, &b, "\"\\x00\"");
    wb_free(&b);
    WB_STR(&b, 1, "abc\0");
    expect_bad(GET_REQ, &b, "field id");
    wb_free(&b);
}

/* Every position of a NUL (or a byte never valid in UTF-8) in strings of lengths 1..40: the
 * eight-byte fast path and its overlapping last word must not skip one, nor raise a false alarm
 * on clean ASCII. */
static void test_pb_check_bad_byte_any_position(void **state)
{
    char s[40];

    (void)state;
    for (size_t len = 1; len <= sizeof(s); len++) {
        struct wbuf b = {0};

        memset(s, 0x7f, len); /* the largest ASCII byte: x - 1 must not borrow into it */
        wb_ld(&b, 1, s, len);
        expect_ok(GET_REQ, &b);
        wb_free(&b);
        for (size_t at = 0; at < len; at++) {
            memset(s, at % 2 ? 'a' : 0x01, len);
            s[at] = '\0';
            wb_ld(&b, 1, s, len);
            expect_bad(GET_REQ, &b, "NUL");
            wb_free(&b);
            s[at] = (char)0xff;
            wb_ld(&b, 1, s, len);
            expect_bad(GET_REQ, &b, "UTF-8");
            wb_free(&b);
        }
    }
}

static void test_pb_check_nul_nested(void **state)
{
    struct wbuf c = {0}, rt = {0}, b = {0};

    (void)state;
    WB_STR(&c, 1, "ab\0cd");
    wb_msg(&b, 1, &c);
    expect_bad(CREATE_REQ, &b, "field container.id:");
    wb_free(&c);
    wb_free(&b);
    /* Two levels down: container.runtime.name */
    WB_STR(&rt, 1, "io.containerd.runc.v2\0evil");
    WB_STR(&c, 1, "c1");
    wb_msg(&c, 4, &rt);
    wb_msg(&b, 1, &c);
    expect_bad(CREATE_REQ, &b, "field container.runtime.name:");
    wb_free(&rt);
    wb_free(&c);
    wb_free(&b);
}

static void test_pb_check_nul_repeated(void **state)
{
    struct wbuf b = {0};

    (void)state;
    WB_STR(&b, 1, "labels.a==b");
    wb_raw(&b, (const uint8_t[]){0x10, 0x01}, 2); /* quiet = true: a varint in between */
    WB_STR(&b, 1, "id==x");
    expect_ok(LIST_REQ, &b);
    WB_STR(&b, 1, "id==a\0b");
    expect_bad(LIST_REQ, &b, "field filters[2]:");
    wb_free(&b);
}

static void test_pb_check_nul_map(void **state)
{
    struct wbuf c = {0}, b = {0}, any = {0}, ext = {0};

    (void)state;
    /* In a value: the path names the key */
    WB_STR(&c, 1, "c1");
    wb_entry(&c, 2, "ok", 2, "fine", 4);
    wb_entry(&c, 2, "k", 1, "v\0", 2);
    wb_msg(&b, 1, &c);
    expect_bad(CREATE_REQ, &b, "field container.labels[\"k\"]:");
    wb_free(&c);
    wb_free(&b);
    /* In a key */
    wb_entry(&c, 2, "a\0b", 3, "v", 1);
    wb_msg(&b, 1, &c);
    expect_bad(CREATE_REQ, &b, "field container.labels (map key):");
    expect_bad(CREATE_REQ, &b, "\"a\\x00b\"");
    wb_free(&c);
    wb_free(&b);
    /* In a message value: map<string, Any> extensions, Any.type_url */
    WB_STR(&any, 1, "x\0y");
    WB_STR(&ext, 1, "ext");
    wb_msg(&ext, 2, &any);
    wb_msg(&c, 10, &ext);
    wb_msg(&b, 1, &c);
    expect_bad(CREATE_REQ, &b, "field container.extensions[\"ext\"].type_url:");
    wb_free(&any);
    wb_free(&ext);
    wb_free(&c);
    wb_free(&b);
}

static void test_pb_check_invalid_utf8(void **state)
{
    static const char *const bad[] = {
        "\xc0\xaf",                          /* overlong '/' */
        "\xc1\xbf",                          /* overlong */
        "\xe0\x80\xaf",                      /* overlong, 3 bytes */
        "\xe0\x9f\xbf",                      /* overlong U+07FF */
        "\xf0\x80\x80\xaf",                  /* overlong, 4 bytes */
        "\xf0\x8f\xbf\xbf",                  /* overlong U+FFFF */
        "\xed\xa0\x80",                      /* surrogate U+D800 */
        "\xed\xbf\xbf",                      /* surrogate U+DFFF */
        "\xf4\x90\x80\x80",                  /* U+110000 */
        "\xf5\x80\x80\x80",                  /* lead byte past U+10FFFF */
        "\xff",                              /* never valid */
        "\xfe",                              /* never valid */
        "\x80",                              /* lone continuation */
        "abc\xbf",                           /* continuation after ASCII */
        "\xc3",                              /* truncated at the end */
        "\xe2\x82",                          /* truncated at the end */
        "\xf0\x9f\x98",                      /* truncated at the end */
        "\xe2\x82x",                         /* truncated by an ASCII byte */
        "\xc3\xc3\xa9",                      /* truncated by a lead byte */
        "12345678\xe2\x82\xacx\xe2\x28\xa1", /* bad after good multi-byte */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct wbuf b = {0};

        wb_ld(&b, 1, bad[i], strlen(bad[i]));
        expect_bad(GET_REQ, &b, "not valid UTF-8");
        wb_free(&b);
    }
}

static void test_pb_check_valid_utf8_accepted(void **state)
{
    static const char *const good[] = {
        "\xc2\x80",         /* U+0080 */
        "\xdf\xbf",         /* U+07FF */
        "\xe0\xa0\x80",     /* U+0800 */
        "\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",     /* U+E000, just above */
        "\xef\xbf\xbf",     /* U+FFFF */
        "\xf0\x90\x80\x80", /* U+10000 */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF */
        "caf\xc3\xa9 \xe2\x82\xac 12345678 \xf0\x9f\x98\x80!", /* mixed, across word bounds */
        "\x7f",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct wbuf b = {0};

        wb_ld(&b, 1, good[i], strlen(good[i]));
        expect_ok(GET_REQ, &b);
        wb_free(&b);
    }
}

static void test_pb_check_malformed_wire(void **state)
{
    static const struct {
        const char *hex;
        const char *why;
    } bad[] = {
        {"ffffffff0a", "malformed"},                /* the garbage body of badinput.bats */
        {"80", "bad varint in field tag"},          /* truncated tag */
        {"0a", "bad varint in length"},             /* tag, no length */
        {"0a05616263", "length past the end"},      /* 5 announced, 3 there */
        {"0affffffffffffffffff01", "length past"},  /* length near 2^64 */
        {"0200", "invalid field number"},           /* field 0 */
        {"808080801000", "invalid field number"},   /* field 2^29 */
        {"0b", "groups"},                           /* field 1, start group */
        {"0c", "groups"},                           /* field 1, end group */
        {"fb060c", "groups"},                       /* unknown field 111, group */
        {"0e", "invalid wire type"},                /* wire type 6 */
        {"0f", "invalid wire type"},                /* wire type 7 */
        {"10ffffffffffffffffff02", "bad varint"},   /* 10-byte varint overflowing 64 bits */
        {"10ffffffffffffffffffff01", "bad varint"}, /* 11-byte varint */
        {"1080", "bad varint"},                     /* truncated varint value */
        {"1901020304", "truncated 64-bit"},         /* fixed64 with 4 bytes */
        {"1d0102", "truncated 32-bit"},             /* fixed32 with 2 bytes */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct wbuf b = {0};
        const char *h = bad[i].hex;

        for (; h[0] && h[1]; h += 2) {
            uint8_t c = (uint8_t)strtoul((char[]){h[0], h[1], 0}, NULL, 16);
            wb_raw(&b, &c, 1);
        }
        expect_bad(GET_REQ, &b, bad[i].why);
        wb_free(&b);
    }
}

static void test_pb_check_malformed_nested_names_field(void **state)
{
    struct wbuf c = {0}, b = {0};
    static const uint8_t trunc[] = {0x22, 0x05, 0x0a}; /* runtime: 5 bytes announced, 1 there */

    (void)state;
    WB_STR(&c, 1, "c1");
    wb_raw(&c, trunc, sizeof(trunc));
    wb_msg(&b, 1, &c);
    expect_bad(CREATE_REQ, &b, "in container.runtime: length past the end");
    wb_free(&c);
    wb_free(&b);
}

/* Prepends v as a varint before *p. */
static void prepend_varint(uint8_t **p, uint64_t v)
{
    uint8_t tmp[10];
    size_t k = 0;

    do {
        tmp[k] = (uint8_t)(v & 0x7f);
        v >>= 7;
        tmp[k++] |= v ? 0x80 : 0;
    } while (v);
    *p -= k;
    memcpy(*p, tmp, k);
}

/* A google.protobuf.Value holding string_value s (none if s is NULL), wrapped n times alternately
 * in ListValue.values = 1 and Value.list_value = 6, so that it sits at depth n. Built backwards
 * (each wrapper's length is known once its content is there). Returns the top message's type:
 * Value for an even n, ListValue for an odd one. */
static const ProtobufCMessageDescriptor *nest_values(struct wbuf *out, size_t n, const char *s,
                                                     size_t sl)
{
    size_t cap = sl + 32 + n * 12;
    uint8_t *d = malloc(cap), *end = d + cap, *p = end;

    assert_non_null(d);
    if (s) {
        p -= sl;
        memcpy(p, s, sl);
        prepend_varint(&p, sl);
        prepend_varint(&p, 3 << 3 | 2);
    }
    for (size_t i = 0; i < n; i++) {
        prepend_varint(&p, (uint64_t)(end - p));
        prepend_varint(&p, (i % 2 ? 6 : 1) << 3 | 2);
    }
    out->n = out->cap = (size_t)(end - p);
    memmove(d, p, out->n);
    out->d = d;
    return n % 2 ? &google__protobuf__list_value__descriptor : &google__protobuf__value__descriptor;
}

static void test_pb_check_depth_limit(void **state)
{
    struct wbuf b = {0};
    const ProtobufCMessageDescriptor *d;
    ProtobufCMessage *m;

    (void)state;
    /* A message at depth BERTH_PB_MAX_DEPTH: accepted, and protobuf-c can take it. */
    d = nest_values(&b, BERTH_PB_MAX_DEPTH, "ok", 2);
    expect_ok(d, &b);
    m = protobuf_c_message_unpack(d, NULL, b.n, b.d);
    assert_non_null(m);
    protobuf_c_message_free_unpacked(m, NULL);
    wb_free(&b);
    /* One level more: refused. */
    d = nest_values(&b, BERTH_PB_MAX_DEPTH + 1, "ok", 2);
    expect_bad(d, &b, "nested deeper than 100");
    wb_free(&b);
    /* Even an empty message one level too deep (protobuf-c would still recurse into it). */
    d = nest_values(&b, BERTH_PB_MAX_DEPTH, NULL, 0);
    expect_ok(d, &b);
    wb_free(&b);
    d = nest_values(&b, BERTH_PB_MAX_DEPTH + 1, NULL, 0);
    expect_bad(d, &b, "nested deeper than 100");
    wb_free(&b);
    /* Far deeper (what overflows the stack in protobuf-c's recursive unpack): refused. */
    d = nest_values(&b, 1000000, "ok", 2);
    expect_bad(d, &b, "nested deeper");
    wb_free(&b);
    /* A NUL deep down is found, with its path. */
    d = nest_values(&b, 4, "a\0", 2);
    expect_bad(d, &b, "field list_value.values[0].list_value.values[0].string_value:");
    wb_free(&b);
}

static void test_pb_check_struct_map_of_messages(void **state)
{
    struct wbuf v = {0}, e = {0}, b = {0};

    (void)state;
    /* Struct{fields: {"key": Value{string_value: "\xff"}}} */
    WB_STR(&v, 3, "\xff");
    WB_STR(&e, 1, "key");
    wb_msg(&e, 2, &v);
    wb_msg(&b, 1, &e);
    expect_bad(&google__protobuf__struct__descriptor, &b,
               "field fields[\"key\"].string_value: string is not valid UTF-8");
    wb_free(&v);
    wb_free(&e);
    wb_free(&b);
}

static void test_pb_check_unknown_fields_skipped(void **state)
{
    struct wbuf b = {0};
    static const uint8_t fixed[] = {0xa1, 0x06, 1,    2,   3, 4, 5, 6, 7, 8, /* 100: fixed64 */
                                    0xa5, 0x06, 1,    2,   3, 4,             /* 100: fixed32 */
                                    0xa0, 0x06, 0x96, 0x01};                 /* 100: varint */

    (void)state;
    WB_STR(&b, 1, "c1");
    /* Unknown length-delimited fields are opaque: NUL, bad UTF-8, even malformed inside. */
    WB_STR(&b, 99, "a\0b\xff");
    WB_STR(&b, 98, "\x0a\x7f");
    wb_raw(&b, fixed, sizeof(fixed));
    expect_ok(GET_REQ, &b);
    /* A known string sent with another wire type is left to protobuf-c. */
    wb_raw(&b, (const uint8_t[]){0x08, 0x01}, 2);
    expect_ok(GET_REQ, &b);
    wb_free(&b);
}

static void test_pb_check_packed_repeated(void **state)
{
    struct wbuf b = {0};
    static const uint8_t per_cpu[] = {0x01, 0x96, 0x01, 0x00, 0xff, 0x01};

    (void)state;
    /* CPUUsage.per_cpu = 4, packed */
    wb_ld(&b, 4, per_cpu, sizeof(per_cpu));
    expect_ok(&io__containerd__cgroups__v1__cpuusage__descriptor, &b);
    wb_free(&b);
}

static void test_pb_check_long_value_is_cut_around_the_bad_byte(void **state)
{
    struct wbuf b = {0};
    char s[5000];
    struct berth_err *err = NULL;

    (void)state;
    memset(s, 'x', sizeof(s));
    s[4000] = '\0';
    wb_ld(&b, 1, s, sizeof(s));
    assert_int_equal(berth_pb_check(GET_REQ, b.d, b.n, &err), -1);
    assert_non_null(strstr(err->msg, "at byte 4000 of 5000"));
    assert_non_null(strstr(err->msg, "...\"xxxxxxxxxxxxxxxx\\x00xxxx"));
    assert_true(strlen(err->msg) < 400);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    wb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pb_check_packed_request_accepted),
        cmocka_unit_test(test_pb_check_nul_top_level),
        cmocka_unit_test(test_pb_check_bad_byte_any_position),
        cmocka_unit_test(test_pb_check_nul_nested),
        cmocka_unit_test(test_pb_check_nul_repeated),
        cmocka_unit_test(test_pb_check_nul_map),
        cmocka_unit_test(test_pb_check_invalid_utf8),
        cmocka_unit_test(test_pb_check_valid_utf8_accepted),
        cmocka_unit_test(test_pb_check_malformed_wire),
        cmocka_unit_test(test_pb_check_malformed_nested_names_field),
        cmocka_unit_test(test_pb_check_depth_limit),
        cmocka_unit_test(test_pb_check_struct_map_of_messages),
        cmocka_unit_test(test_pb_check_unknown_fields_skipped),
        cmocka_unit_test(test_pb_check_packed_repeated),
        cmocka_unit_test(test_pb_check_long_value_is_cut_around_the_bad_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
