/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for images/walk.c: the image walk over an in-memory blob source. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>

#include "images/walk.h"
#include "lib/sha256.h"
#include "lib/util.h"

#define DA       "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB       "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC       "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define DMISSING "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

#define MEM_MAX 64

/* The blob source: digests of what was put, and counters the tests look at. */
struct mem {
    char digest[MEM_MAX][72];
    char *data[MEM_MAX];
    size_t n;
    size_t reads;
    size_t last_max;
};

static int mem_read(void *arg, const struct berth_descriptor *d, size_t max,
                    struct berth_bytes *out, struct berth_err **err)
{
    struct mem *m = arg;

    m->reads++;
    m->last_max = max;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->digest[i], d->digest) != 0)
            continue;
        if (strlen(m->data[i]) > max)
            return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0, "blob %s too large", d->digest);
        out->len = strlen(m->data[i]);
        out->data = berth_xmalloc(out->len + 1);
        memcpy(out->data, m->data[i], out->len + 1);
        return 0;
    }
    return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "blob %s not found", d->digest);
}

static int setup(void **state)
{
    *state = berth_xcalloc(1, sizeof(struct mem));
    return 0;
}

static int teardown(void **state)
{
    struct mem *m = *state;

    for (size_t i = 0; i < m->n; i++)
        free(m->data[i]);
    free(m);
    return 0;
}

/* Stores json (taken over) under its digest and returns the digest. */
static const char *put(struct mem *m, char *json)
{
    assert_true(m->n < MEM_MAX);
    berth_sha256_digest_buf(json, strlen(json), m->digest[m->n]);
    m->data[m->n] = json;
    return m->digest[m->n++];
}

static struct berth_blob_source src_of(struct mem *m)
{
    return (struct berth_blob_source){.read = mem_read, .arg = m};
}

static struct berth_descriptor desc(const char *media_type, const char *digest)
{
    return (struct berth_descriptor){
        .media_type = (char *)media_type, .digest = (char *)digest, .size = 1};
}

/* A config with n diff IDs (DA, DB, DC ...). */
static const char *config(struct mem *m, size_t n)
{
    static const char *const ids[] = {DA, DB, DC};
    char buf[1024];
    size_t off = (size_t)snprintf(
        buf, sizeof(buf),
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"sh\"]},"
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s\"%s\"", i ? "," : "", ids[i]);
    snprintf(buf + off, sizeof(buf) - off, "]}}");
    return put(m, berth_xstrdup(buf));
}

/* A manifest with config cfg and n layers. */
static const char *manifest_with(struct mem *m, const char *cfg, size_t n)
{
    char buf[2048];
    size_t off = (size_t)snprintf(buf, sizeof(buf),
                                  "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_MANIFEST
                                  "\",\"config\":{\"mediaType\":\"" BERTH_MT_OCI_CONFIG
                                  "\",\"digest\":\"%s\",\"size\":10},\"layers\":[",
                                  cfg);
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off,
                                "%s{\"mediaType\":\"" BERTH_MT_OCI_LAYER
                                "\",\"digest\":\"%s\",\"size\":%zu}",
                                i ? "," : "", i % 2 ? DB : DA, i + 1);
    snprintf(buf + off, sizeof(buf) - off, "]}");
    return put(m, berth_xstrdup(buf));
}

/* A manifest whose config has as many diff IDs as it has layers. */
static const char *manifest(struct mem *m, size_t n)
{
    return manifest_with(m, config(m, n), n);
}

/* An index of entries "<media type>|<digest>|<os/arch[/variant]>" (platform part optional). */
static const char *index_of(struct mem *m, const char *const *entries, size_t n)
{
    char buf[8192];
    size_t off = (size_t)snprintf(buf, sizeof(buf),
                                  "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX
                                  "\",\"manifests\":[");
    for (size_t i = 0; i < n; i++) {
        char mt[128], dg[80], os[32] = "", arch[32] = "", var[32] = "";
        int k = sscanf(entries[i], "%127[^|]|%79[^|]|%31[^/]/%31[^/]/%31s", mt, dg, os, arch, var);
        assert_true(k >= 2);
        off += (size_t)snprintf(buf + off, sizeof(buf) - off,
                                "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":5",
                                i ? "," : "", mt, dg);
        if (k >= 4)
            off += (size_t)snprintf(buf + off, sizeof(buf) - off,
                                    ",\"platform\":{\"os\":\"%s\",\"architecture\":\"%s\"%s%s%s}",
                                    os, arch, k == 5 ? ",\"variant\":\"" : "", k == 5 ? var : "",
                                    k == 5 ? "\"" : "");
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "}");
    }
    snprintf(buf + off, sizeof(buf) - off, "]}");
    return put(m, berth_xstrdup(buf));
}

static char *entry(const char *mt, const char *digest, const char *platform)
{
    return berth_strdup_printf("%s|%s|%s", mt, digest, platform ? platform : "");
}

static struct berth_platform platform(const char *s)
{
    struct berth_platform p;
    struct berth_err *err = NULL;

    assert_ok(berth_platform_parse(s, &p, &err), &err);
    return p;
}

/* Walks target for want ("os/arch[/variant]", NULL: host) and expects failure with code. */
static void walk_fails(struct mem *m, const struct berth_descriptor *target, const char *want,
                       enum berth_errc code)
{
    _cleanup_(berth_image_walk_clear) struct berth_image_walk w = {0};
    _cleanup_(berth_platform_clear) struct berth_platform p = {0};
    struct berth_blob_source src = src_of(m);
    struct berth_oci_desc md = {.has_platform = true};
    struct berth_err *err = NULL;

    if (want)
        p = platform(want);
    assert_int_equal(berth_image_walk(&src, target, want ? &p : NULL, &w, &err), -1);
    assert_err_code(err, code);
    /* resolving alone fails the same way unless it is the manifest or config that is bad */
    if (berth_image_resolve_manifest(&src, target, want ? &p : NULL, &md, &err) < 0) {
        assert_non_null(err);
        berth_err_free(&err);
    }
    berth_oci_desc_clear(&md);
}

static void test_walk_manifest_target(void **state)
{
    struct mem *m = *state;
    const char *mf = manifest(m, 2);
    struct berth_descriptor t = desc(BERTH_MT_OCI_MANIFEST, mf);
    _cleanup_(berth_image_walk_clear) struct berth_image_walk w = {0};
    struct berth_blob_source src = src_of(m);
    struct berth_oci_desc md = {0};
    struct berth_err *err = NULL;

    assert_ok(berth_image_walk(&src, &t, NULL, &w, &err), &err);
    assert_string_equal(w.manifest_desc.d.digest, mf);
    assert_false(w.manifest_desc.has_platform);
    assert_int_equal(w.n_indexes, 0);
    assert_int_equal(w.manifest->n_layers, 2);
    assert_int_equal(w.config->n_diff_ids, 2);
    assert_string_equal(w.config->cmd[0], "sh");
    assert_string_equal(w.chain_ids[0], DA);
    assert_non_null(w.chain_ids[1]);
    assert_string_not_equal(w.chain_ids[1], DB);
    assert_null(w.chain_ids[2]);
    /* the manifest and the config, each read once, at most BERTH_IMAGE_DOC_MAX */
    assert_int_equal(m->reads, 2);
    assert_int_equal(m->last_max, BERTH_IMAGE_DOC_MAX);

    /* a manifest named as such is its own resolution without a read */
    m->reads = 0;
    assert_ok(berth_image_resolve_manifest(&src, &t, NULL, &md, &err), &err);
    assert_string_equal(md.d.digest, mf);
    assert_int_equal(m->reads, 0);
    berth_oci_desc_clear(&md);

    /* without a media type it is read and sniffed, and that read is not repeated */
    berth_image_walk_clear(&w);
    m->reads = 0;
    t.media_type = NULL;
    assert_ok(berth_image_walk(&src, &t, NULL, &w, &err), &err);
    assert_string_equal(w.manifest_desc.d.digest, mf);
    assert_int_equal(m->reads, 2);
}

static void expect_pick(struct mem *m, const char *ix, const char *want, const char *digest,
                        size_t chosen)
{
    _cleanup_(berth_image_walk_clear) struct berth_image_walk w = {0};
    _cleanup_(berth_platform_clear) struct berth_platform p = platform(want);
    struct berth_descriptor t = desc(BERTH_MT_OCI_INDEX, ix);
    struct berth_blob_source src = src_of(m);
    struct berth_oci_desc md = {0};
    struct berth_err *err = NULL;

    assert_ok(berth_image_walk(&src, &t, &p, &w, &err), &err);
    assert_string_equal(w.manifest_desc.d.digest, digest);
    assert_int_equal(w.n_indexes, 1);
    assert_string_equal(w.indexes[0].desc.digest, ix);
    assert_int_equal(w.indexes[0].chosen, chosen);
    assert_ok(berth_image_resolve_manifest(&src, &t, &p, &md, &err), &err);
    assert_string_equal(md.d.digest, digest);
    berth_oci_desc_clear(&md);
}

static void test_walk_index_best_platform(void **state)
{
    struct mem *m = *state;
    const char *arm7 = manifest(m, 1), *arm8 = manifest(m, 1), *arm64 = manifest(m, 2);
    const char *amd64 = manifest(m, 3), *i386 = manifest(m, 1), *amd64b = manifest(m, 2);
    _cleanup_strv_ char **all = berth_xcalloc(6, sizeof(char *));
    _cleanup_strv_ char **noarm64 = berth_xcalloc(4, sizeof(char *));
    _cleanup_strv_ char **only386 = berth_xcalloc(3, sizeof(char *));
    _cleanup_strv_ char **twins = berth_xcalloc(3, sizeof(char *));
    const char *ix_all, *ix_noarm64, *ix_386, *ix_twins;

    all[0] = entry(BERTH_MT_OCI_MANIFEST, arm7, "linux/arm/v7");
    all[1] = entry(BERTH_MT_OCI_MANIFEST, i386, "linux/386");
    all[2] = entry(BERTH_MT_OCI_MANIFEST, arm64, "linux/arm64/v8");
    all[3] = entry(BERTH_MT_OCI_MANIFEST, amd64, "linux/amd64");
    all[4] = entry(BERTH_MT_OCI_MANIFEST, arm8, "linux/arm/v8");
    ix_all = index_of(m, (const char *const *)all, 5);
    noarm64[0] = entry(BERTH_MT_OCI_MANIFEST, arm7, "linux/arm/v7");
    noarm64[1] = entry(BERTH_MT_OCI_MANIFEST, arm8, "linux/arm/v8");
    noarm64[2] = entry(BERTH_MT_OCI_MANIFEST, amd64, "linux/amd64");
    ix_noarm64 = index_of(m, (const char *const *)noarm64, 3);
    only386[0] = entry(BERTH_MT_OCI_MANIFEST, arm7, "linux/arm/v7");
    only386[1] = entry(BERTH_MT_OCI_MANIFEST, i386, "linux/386");
    ix_386 = index_of(m, (const char *const *)only386, 2);
    twins[0] = entry(BERTH_MT_OCI_MANIFEST, amd64b, "linux/amd64");
    twins[1] = entry(BERTH_MT_OCI_MANIFEST, amd64, "linux/amd64");
    ix_twins = index_of(m, (const char *const *)twins, 2);

    expect_pick(m, ix_all, "linux/amd64", amd64, 3);     /* exact, not the earlier 386 */
    expect_pick(m, ix_all, "linux/arm64", arm64, 2);     /* exact (v8 normalized away) */
    expect_pick(m, ix_all, "linux/arm/v7", arm7, 0);     /* exact */
    expect_pick(m, ix_all, "linux/386", i386, 1);        /* no fallback upwards */
    expect_pick(m, ix_noarm64, "linux/arm64", arm8, 1);  /* arm64 runs arm/v8 before v7 */
    expect_pick(m, ix_noarm64, "linux/arm/v8", arm8, 1); /* exact */
    expect_pick(m, ix_386, "linux/amd64", i386, 1);      /* amd64 runs 386 */
    expect_pick(m, ix_twins, "linux/amd64", amd64b, 0);  /* ties: the first */
    {
        /* the platform of the entry comes along */
        _cleanup_(berth_image_walk_clear) struct berth_image_walk w = {0};
        _cleanup_(berth_platform_clear) struct berth_platform p = platform("linux/arm64");
        struct berth_descriptor t = desc(BERTH_MT_OCI_INDEX, ix_noarm64);
        struct berth_blob_source src = src_of(m);
        struct berth_err *err = NULL;
        assert_ok(berth_image_walk(&src, &t, &p, &w, &err), &err);
        assert_true(w.manifest_desc.has_platform);
        assert_string_equal(w.manifest_desc.platform.arch, "arm");
        assert_string_equal(w.manifest_desc.platform.variant, "v8");
        assert_int_equal(w.manifest->n_layers, 1);
    }
}

static void test_walk_index_host_and_no_platform(void **state)
{
    struct mem *m = *state;
    struct berth_platform host;
    _cleanup_free_ char *hs = NULL;
    const char *mine = manifest(m, 1), *other = manifest(m, 2), *plain = manifest(m, 3);
    _cleanup_strv_ char **e = berth_xcalloc(3, sizeof(char *));
    const char *ix;

    berth_platform_host(&host);
    hs = berth_platform_format(&host);
    berth_platform_clear(&host);
    e[0] = entry(BERTH_MT_OCI_MANIFEST, other, "plan9/mips64");
    e[1] = entry(BERTH_MT_OCI_MANIFEST, mine, hs);
    ix = index_of(m, (const char *const *)e, 2);
    {
        /* NULL: the host's platform */
        _cleanup_(berth_image_walk_clear) struct berth_image_walk w = {0};
        struct berth_descriptor t = desc(BERTH_MT_OCI_INDEX, ix);
        struct berth_blob_source src = src_of(m);
        struct berth_err *err = NULL;
        assert_ok(berth_image_walk(&src, &t, NULL, &w, &err), &err);
        assert_string_equal(w.manifest_desc.d.digest, mine);
    }
    /* an entry without a platform matches anything, as an exact match */
    free(e[1]);
    e[1] = entry(BERTH_MT_OCI_MANIFEST, plain, NULL);
    ix = index_of(m, (const char *const *)e, 2);
    expect_pick(m, ix, "linux/s390x", plain, 1);
}

static void test_walk_nested_index(void **state)
{
    struct mem *m = *state;
    const char *amd = manifest(m, 1), *arm = manifest(m, 2);
    _cleanup_strv_ char **inner = berth_xcalloc(3, sizeof(char *));
    _cleanup_strv_ char **outer = berth_xcalloc(3, sizeof(char *));
    _cleanup_(berth_image_walk_clear) struct berth_image_walk w = {0};
    _cleanup_(berth_platform_clear) struct berth_platform p = platform("linux/arm64");
    struct berth_blob_source src = src_of(m);
    struct berth_err *err = NULL;
    const char *in, *out;
    struct berth_descriptor t;

    inner[0] = entry(BERTH_MT_OCI_MANIFEST, amd, "linux/amd64");
    inner[1] = entry(BERTH_MT_DOCKER_MANIFEST, arm, "linux/arm64");
    in = index_of(m, (const char *const *)inner, 2);
    /* the nested index is named by a docker list type; a sibling of no known type */
    outer[0] = entry("application/x-unknown", amd, "linux/amd64");
    outer[1] = entry(BERTH_MT_DOCKER_LIST, in, NULL);
    out = index_of(m, (const char *const *)outer, 2);
    t = desc(NULL, out); /* the root's type is sniffed */
    assert_ok(berth_image_walk(&src, &t, &p, &w, &err), &err);
    assert_string_equal(w.manifest_desc.d.digest, arm);
    assert_int_equal(w.n_indexes, 2);
    assert_string_equal(w.indexes[0].desc.digest, out);
    assert_int_equal(w.indexes[0].chosen, 1);
    assert_int_equal(w.indexes[0].index->n_manifests, 2);
    assert_string_equal(w.indexes[1].desc.digest, in);
    assert_string_equal(w.indexes[1].desc.media_type, BERTH_MT_DOCKER_LIST);
    assert_int_equal(w.indexes[1].chosen, 1);
    assert_int_equal(w.manifest->n_layers, 2);
}

/* A chain of n indexes above a manifest; returns the root's digest. */
static const char *chain(struct mem *m, size_t n)
{
    const char *d = manifest(m, 1);

    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *e =
            entry(i ? BERTH_MT_OCI_INDEX : BERTH_MT_OCI_MANIFEST, d, "linux/amd64");
        const char *const v[] = {e};
        d = index_of(m, v, 1);
    }
    return d;
}

static int count_manifest_cb(void *arg, const struct berth_descriptor *d,
                             const struct berth_oci_manifest *mf, struct berth_err **err)
{
    (*(size_t *)arg)++;
    return 0;
}

static void test_walk_depth_limit(void **state)
{
    struct mem *m = *state;
    /* the root at depth 0 and BERTH_IMAGE_INDEX_DEPTH_MAX indexes below it: fine */
    struct berth_descriptor ok =
        desc(BERTH_MT_OCI_INDEX, chain(m, BERTH_IMAGE_INDEX_DEPTH_MAX + 1));
    struct berth_descriptor deep =
        desc(BERTH_MT_OCI_INDEX, chain(m, BERTH_IMAGE_INDEX_DEPTH_MAX + 2));
    _cleanup_(berth_image_walk_clear) struct berth_image_walk w = {0};
    _cleanup_(berth_platform_clear) struct berth_platform p = platform("linux/amd64");
    const struct berth_image_walk_opts o = {.platform = &p};
    size_t n = 0;
    const struct berth_image_visitor v = {.manifest_cb = count_manifest_cb, .arg = &n};
    struct berth_blob_source src = src_of(m);
    struct berth_err *err = NULL;

    assert_ok(berth_image_walk(&src, &ok, &p, &w, &err), &err);
    assert_int_equal(w.n_indexes, BERTH_IMAGE_INDEX_DEPTH_MAX + 1);
    walk_fails(m, &deep, "linux/amd64", BERTH_E_INVALID_ARGUMENT);
    assert_ok(berth_image_walk_all(&src, &ok, &o, &v, &err), &err);
    assert_int_equal(n, 1);
    assert_int_equal(berth_image_walk_all(&src, &deep, &o, &v, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_walk_missing_blob_is_not_found(void **state)
{
    struct mem *m = *state;
    const char *no_cfg = manifest_with(m, DMISSING, 0);
    _cleanup_free_ char *e = entry(BERTH_MT_OCI_MANIFEST, DMISSING, "linux/amd64");
    const char *const v[] = {e};
    const char *ix = index_of(m, v, 1);
    struct berth_descriptor t;

    t = desc(BERTH_MT_OCI_INDEX, DMISSING); /* the root */
    walk_fails(m, &t, "linux/amd64", BERTH_E_NOT_FOUND);
    t = desc(BERTH_MT_OCI_MANIFEST, DMISSING);
    walk_fails(m, &t, "linux/amd64", BERTH_E_NOT_FOUND);
    t = desc(BERTH_MT_OCI_INDEX, ix); /* an index entry */
    walk_fails(m, &t, "linux/amd64", BERTH_E_NOT_FOUND);
    t = desc(BERTH_MT_OCI_MANIFEST, no_cfg); /* the config */
    walk_fails(m, &t, "linux/amd64", BERTH_E_NOT_FOUND);
}

static void test_walk_malformed_is_invalid(void **state)
{
    struct mem *m = *state;
    const char *notjson = put(m, berth_xstrdup("{\"manifests\":"));
    const char *noarray = put(m, berth_xstrdup("{\"mediaType\":\"" BERTH_MT_OCI_INDEX "\"}"));
    const char *neither = put(m, berth_xstrdup("{\"foo\":1}"));
    const char *badman = put(m, berth_xstrdup("{\"config\":{},\"layers\":[]}"));
    const char *badcfg = put(m, berth_xstrdup("{\"config\":{\"Cmd\":\"sh\"}}"));
    const char *mbadcfg = manifest_with(m, badcfg, 0);
    _cleanup_free_ char *e = entry(BERTH_MT_OCI_MANIFEST, badman, "linux/amd64");
    const char *const v[] = {e};
    const char *ix = index_of(m, v, 1);
    struct berth_descriptor t;

    t = desc(BERTH_MT_OCI_INDEX, notjson);
    walk_fails(m, &t, "linux/amd64", BERTH_E_INVALID_ARGUMENT);
    t = desc(NULL, notjson);
    walk_fails(m, &t, "linux/amd64", BERTH_E_INVALID_ARGUMENT);
    t = desc(BERTH_MT_OCI_INDEX, noarray);
    walk_fails(m, &t, "linux/amd64", BERTH_E_INVALID_ARGUMENT);
    t = desc(NULL, neither);
    walk_fails(m, &t, "linux/amd64", BERTH_E_INVALID_ARGUMENT);
    t = desc(BERTH_MT_OCI_CONFIG, neither); /* a config is not an image */
    walk_fails(m, &t, "linux/amd64", BERTH_E_INVALID_ARGUMENT);
    t = desc(BERTH_MT_OCI_MANIFEST, badman);
    walk_fails(m, &t, "linux/amd64", BERTH_E_INVALID_ARGUMENT);
    t = desc(BERTH_MT_OCI_INDEX, ix); /* a bad manifest below an index */
    walk_fails(m, &t, "linux/amd64", BERTH_E_INVALID_ARGUMENT);
    t = desc(BERTH_MT_OCI_MANIFEST, mbadcfg); /* a config field of the wrong type */
    walk_fails(m, &t, "linux/amd64", BERTH_E_INVALID_ARGUMENT);
}

static void test_walk_layer_count_mismatch_is_invalid(void **state)
{
    struct mem *m = *state;
    struct berth_descriptor more = desc(BERTH_MT_OCI_MANIFEST, manifest_with(m, config(m, 1), 2));
    struct berth_descriptor fewer = desc(BERTH_MT_OCI_MANIFEST, manifest_with(m, config(m, 3), 2));
    /* a config without rootfs has no diff IDs */
    struct berth_descriptor none = desc(
        BERTH_MT_OCI_MANIFEST, manifest_with(m, put(m, berth_xstrdup("{\"os\":\"linux\"}")), 1));
    struct berth_descriptor empty =
        desc(BERTH_MT_OCI_MANIFEST, manifest_with(m, put(m, berth_xstrdup("{}")), 0));
    _cleanup_(berth_image_walk_clear) struct berth_image_walk w = {0};
    struct berth_blob_source src = src_of(m);
    struct berth_err *err = NULL;

    walk_fails(m, &more, NULL, BERTH_E_INVALID_ARGUMENT);
    walk_fails(m, &fewer, NULL, BERTH_E_INVALID_ARGUMENT);
    walk_fails(m, &none, NULL, BERTH_E_INVALID_ARGUMENT);
    /* no layers and no diff IDs agree: the walk leaves "no layers" to its callers */
    assert_ok(berth_image_walk(&src, &empty, NULL, &w, &err), &err);
    assert_int_equal(w.manifest->n_layers, 0);
    assert_null(w.chain_ids[0]);
}

static void test_walk_platform_absent_is_failed_precondition(void **state)
{
    struct mem *m = *state;
    _cleanup_free_ char *e0 = entry(BERTH_MT_OCI_MANIFEST, manifest(m, 1), "linux/amd64");
    _cleanup_free_ char *e1 = entry(BERTH_MT_OCI_MANIFEST, manifest(m, 1), "linux/arm/v7");
    const char *const v[] = {e0, e1};
    struct berth_descriptor t = desc(BERTH_MT_OCI_INDEX, index_of(m, v, 2));
    struct berth_descriptor empty = desc(BERTH_MT_OCI_INDEX, index_of(m, v, 0));
    _cleanup_(berth_platform_clear) struct berth_platform p = platform("linux/s390x");
    struct berth_blob_source src = src_of(m);
    struct berth_oci_desc md = {0};
    struct berth_err *err = NULL;

    walk_fails(m, &t, "linux/s390x", BERTH_E_FAILED_PRECONDITION);
    walk_fails(m, &t, "linux/arm/v6", BERTH_E_FAILED_PRECONDITION); /* v7 does not run on v6 */
    walk_fails(m, &t, "windows/amd64", BERTH_E_FAILED_PRECONDITION);
    walk_fails(m, &empty, "linux/amd64", BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(berth_image_resolve_manifest(&src, &t, &p, &md, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_null(md.d.digest);
}

/* ---- berth_image_walk_all ---- */

struct seen {
    char log[1024];
    int fail_at; /* manifest number whose callback fails, 0: none */
    int n_manifests;
};

static int seen_entry_cb(void *arg, const struct berth_descriptor *index, size_t i,
                         const struct berth_oci_desc *e, struct berth_err **err)
{
    struct seen *s = arg;
    size_t off = strlen(s->log);

    snprintf(s->log + off, sizeof(s->log) - off, "e%zu ", i);
    return 0;
}

static int seen_manifest_cb(void *arg, const struct berth_descriptor *d,
                            const struct berth_oci_manifest *mf, struct berth_err **err)
{
    struct seen *s = arg;
    size_t off = strlen(s->log);

    if (++s->n_manifests == s->fail_at)
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "stop");
    snprintf(s->log + off, sizeof(s->log) - off, "m%zu ", mf->n_layers);
    return 0;
}

static void test_walk_all_visits_every_match(void **state)
{
    struct mem *m = *state;
    _cleanup_free_ char *in0 = entry(BERTH_MT_OCI_MANIFEST, manifest(m, 3), "linux/386");
    _cleanup_free_ char *in1 = entry(BERTH_MT_OCI_MANIFEST, manifest(m, 2), "linux/arm64");
    const char *const inner[] = {in0, in1};
    _cleanup_free_ char *e0 = entry(BERTH_MT_OCI_MANIFEST, manifest(m, 1), "linux/arm/v7");
    _cleanup_free_ char *e1 = entry(BERTH_MT_OCI_INDEX, index_of(m, inner, 2), NULL);
    _cleanup_free_ char *e2 = entry(BERTH_MT_OCI_MANIFEST, manifest(m, 0), "linux/amd64");
    _cleanup_free_ char *e3 = entry(BERTH_MT_OCI_CONFIG, DMISSING, NULL); /* not followed */
    const char *const outer[] = {e0, e1, e2, e3};
    struct berth_descriptor t = desc(BERTH_MT_OCI_INDEX, index_of(m, outer, 4));
    _cleanup_(berth_platform_clear) struct berth_platform amd = platform("linux/amd64");
    _cleanup_(berth_platform_clear) struct berth_platform s390 = platform("linux/s390x");
    struct berth_image_walk_opts o = {.platform = &amd};
    struct seen s = {0};
    const struct berth_image_visitor v = {
        .index_entry_cb = seen_entry_cb, .manifest_cb = seen_manifest_cb, .arg = &s};
    struct berth_blob_source src = src_of(m);
    struct berth_err *err = NULL;

    /* amd64 takes 386 too (every compatible one, not only the best), depth first */
    assert_ok(berth_image_walk_all(&src, &t, &o, &v, &err), &err);
    assert_string_equal(s.log, "e1 e0 m3 e2 m0 e3 ");
    /* all platforms */
    memset(&s, 0, sizeof(s));
    o.all_platforms = true;
    assert_ok(berth_image_walk_all(&src, &t, &o, &v, &err), &err);
    assert_string_equal(s.log, "e0 m1 e1 e0 m3 e1 m2 e2 m0 e3 ");
    /* a platform nothing has: an empty walk (import), or FAILED_PRECONDITION (export) */
    memset(&s, 0, sizeof(s));
    o = (struct berth_image_walk_opts){.platform = &s390};
    assert_ok(berth_image_walk_all(&src, &t, &o, &v, &err), &err);
    assert_string_equal(s.log, "e1 e3 "); /* the entries without a platform */
    {
        const char *const only[] = {e0, e2};
        struct berth_descriptor t2 = desc(BERTH_MT_OCI_INDEX, index_of(m, only, 2));
        memset(&s, 0, sizeof(s));
        assert_ok(berth_image_walk_all(&src, &t2, &o, &v, &err), &err);
        assert_string_equal(s.log, "");
        o.require_match = true;
        assert_int_equal(berth_image_walk_all(&src, &t2, &o, &v, &err), -1);
        assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    }
    /* a callback's error stops the walk as is */
    memset(&s, 0, sizeof(s));
    s.fail_at = 1;
    o = (struct berth_image_walk_opts){.platform = &amd};
    assert_int_equal(berth_image_walk_all(&src, &t, &o, &v, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    assert_string_equal(s.log, "e1 e0 ");
    /* no callbacks at all; a manifest root */
    {
        const struct berth_image_visitor none = {0};
        struct berth_descriptor mt = desc(NULL, manifest(m, 1));
        assert_ok(berth_image_walk_all(&src, &t, &o, &none, &err), &err);
        memset(&s, 0, sizeof(s));
        assert_ok(berth_image_walk_all(&src, &mt, &o, &v, &err), &err);
        assert_string_equal(s.log, "m1 ");
    }
}

static void test_walk_all_errors(void **state)
{
    struct mem *m = *state;
    struct berth_descriptor neither = desc(NULL, put(m, berth_xstrdup("{\"foo\":1}")));
    struct berth_descriptor bad = desc(BERTH_MT_OCI_MANIFEST, put(m, berth_xstrdup("[]")));
    const struct berth_image_walk_opts o = {0}; /* the host's platform */
    const struct berth_image_visitor v = {0};
    struct berth_blob_source src = src_of(m);
    struct berth_err *err = NULL;
    struct berth_descriptor missing;
    _cleanup_free_ char *host = NULL, *e = NULL;
    struct berth_platform hp;

    berth_platform_host(&hp);
    host = berth_platform_format(&hp);
    berth_platform_clear(&hp);
    e = entry(BERTH_MT_OCI_MANIFEST, DMISSING, host);
    {
        const char *const v1[] = {e};
        missing = desc(BERTH_MT_OCI_INDEX, index_of(m, v1, 1));
    }
    assert_int_equal(berth_image_walk_all(&src, &missing, &o, &v, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_image_walk_all(&src, &neither, &o, &v, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_image_walk_all(&src, &bad, &o, &v, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_walk_clear_is_null_safe(void **state)
{
    struct berth_image_walk w = {0};

    (void)state;
    berth_image_walk_clear(NULL);
    berth_image_walk_clear(&w);
    berth_image_walk_clear(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_walk_manifest_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_index_best_platform, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_index_host_and_no_platform, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_nested_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_depth_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_missing_blob_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_malformed_is_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_layer_count_mismatch_is_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_platform_absent_is_failed_precondition, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_walk_all_visits_every_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_all_errors, setup, teardown),
        cmocka_unit_test(test_walk_clear_is_null_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
