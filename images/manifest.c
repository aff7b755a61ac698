/* SPDX-License-Identifier: Apache-2.0 */
/* OCI/docker document parsing, platform matching and chain IDs (see manifest.h). */
#include "images/manifest.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>
#include <sys/utsname.h> /* host architecture */

#include "lib/digest.h"
#include "lib/sha256.h"

static char *dup_or_null(const char *s)
{
    return s && *s ? berth_xstrdup(s) : NULL;
}

enum berth_oci_kind berth_oci_media_kind(const char *mt)
{
    if (!mt)
        return BERTH_OCI_UNKNOWN;
    if (strcmp(mt, BERTH_MT_OCI_INDEX) == 0 || strcmp(mt, BERTH_MT_DOCKER_LIST) == 0)
        return BERTH_OCI_INDEX;
    if (strcmp(mt, BERTH_MT_OCI_MANIFEST) == 0 || strcmp(mt, BERTH_MT_DOCKER_MANIFEST) == 0)
        return BERTH_OCI_MANIFEST;
    if (strcmp(mt, BERTH_MT_OCI_CONFIG) == 0 || strcmp(mt, BERTH_MT_DOCKER_CONFIG) == 0)
        return BERTH_OCI_CONFIG;
    if (berth_str_has_prefix(mt, "application/vnd.oci.image.layer.") ||
        berth_str_has_prefix(mt, "application/vnd.docker.image.rootfs."))
        return BERTH_OCI_LAYER;
    return BERTH_OCI_UNKNOWN;
}

/* ---- platforms ---- */

void berth_platform_clear(struct berth_platform *p)
{
    if (!p)
        return;
    free(p->os);
    free(p->arch);
    free(p->variant);
    memset(p, 0, sizeof(*p));
}

static void lower(char *s)
{
    for (; s && *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = dup_or_null(v);
}

void berth_platform_normalize(struct berth_platform *p)
{
    lower(p->os);
    lower(p->arch);
    lower(p->variant);
    if (p->os && strcmp(p->os, "macos") == 0)
        set_str(&p->os, "darwin");
    if (!p->arch)
        return;
    if (strcmp(p->arch, "i386") == 0) {
        set_str(&p->arch, "386");
        set_str(&p->variant, NULL);
    } else if (strcmp(p->arch, "x86_64") == 0 || strcmp(p->arch, "x86-64") == 0 ||
               strcmp(p->arch, "amd64") == 0) {
        set_str(&p->arch, "amd64");
        set_str(&p->variant, NULL);
    } else if (strcmp(p->arch, "aarch64") == 0 || strcmp(p->arch, "arm64") == 0) {
        set_str(&p->arch, "arm64");
        if (p->variant && (strcmp(p->variant, "8") == 0 || strcmp(p->variant, "v8") == 0))
            set_str(&p->variant, NULL);
    } else if (strcmp(p->arch, "armhf") == 0) {
        set_str(&p->arch, "arm");
        set_str(&p->variant, "v7");
    } else if (strcmp(p->arch, "armel") == 0) {
        set_str(&p->arch, "arm");
        set_str(&p->variant, "v6");
    } else if (strcmp(p->arch, "arm") == 0) {
        if (!p->variant)
            set_str(&p->variant, "v7");
        else if (strlen(p->variant) == 1 && p->variant[0] >= '5' && p->variant[0] <= '8') {
            char v[3] = {'v', p->variant[0], 0};
            set_str(&p->variant, v);
        }
    }
}

static const char *const known_os[] = {
    "aix",   "android", "darwin", "dragonfly", "freebsd", "hurd",    "illumos", "ios", "js",
    "linux", "nacl",    "netbsd", "openbsd",   "plan9",   "solaris", "windows", "zos", "macos",
};

static bool is_known_os(const char *s)
{
    for (size_t i = 0; i < BERTH_N(known_os); i++)
        if (strcasecmp(s, known_os[i]) == 0)
            return true;
    return false;
}

void berth_platform_host(struct berth_platform *out)
{
    struct utsname u;

    memset(out, 0, sizeof(*out));
    out->os = berth_xstrdup("linux");
    out->arch = berth_xstrdup(uname(&u) == 0 ? u.machine : "amd64");
    /* 32-bit arm kernels report "armv7l" etc. */
    if (berth_str_has_prefix(out->arch, "armv")) {
        char v[3] = {'v', out->arch[4] ? out->arch[4] : '7', 0};
        set_str(&out->arch, "arm");
        set_str(&out->variant, v);
    }
    berth_platform_normalize(out);
}

int berth_platform_parse(const char *s, struct berth_platform *out, struct berth_err **err)
{
    _cleanup_(berth_strv_freep) char **parts = NULL;
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid platform \"\"");
    parts = berth_xcalloc(4, sizeof(char *));
    for (const char *p = s;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || n == 3)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid platform \"%s\"", s);
        parts[n++] = berth_xstrndup(p, len);
        if (!slash)
            break;
        p = slash + 1;
    }
    if (n == 1) {
        struct berth_platform host;
        berth_platform_host(&host);
        if (is_known_os(parts[0])) {
            out->os = steal_ptr(parts[0]);
            out->arch = steal_ptr(host.arch);
            out->variant = steal_ptr(host.variant);
        } else {
            out->os = steal_ptr(host.os);
            out->arch = steal_ptr(parts[0]);
        }
        berth_platform_clear(&host);
    } else {
        out->os = steal_ptr(parts[0]);
        out->arch = steal_ptr(parts[1]);
        out->variant = n == 3 ? steal_ptr(parts[2]) : NULL;
    }
    berth_platform_normalize(out);
    return 0;
}

char *berth_platform_format(const struct berth_platform *p)
{
    return berth_strdup_printf("%s/%s%s%s", p->os ? p->os : "unknown",
                               p->arch ? p->arch : "unknown", p->variant ? "/" : "",
                               p->variant ? p->variant : "");
}

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* arm variants as numbers ("v7" -> 7), 0 when not "vN". */
static int arm_level(const char *v)
{
    return v && v[0] == 'v' && v[1] >= '1' && v[1] <= '9' && !v[2] ? v[1] - '0' : 0;
}

int berth_platform_rank(const struct berth_platform *want, const struct berth_platform *have_in)
{
    struct berth_platform have = {0};
    int rank = -1;

    have.os = dup_or_null(have_in->os);
    have.arch = dup_or_null(have_in->arch);
    have.variant = dup_or_null(have_in->variant);
    berth_platform_normalize(&have);
    if (!str_eq(want->os, have.os) || !have.arch)
        goto out;
    if (str_eq(want->arch, have.arch)) {
        /* A variant-less want (amd64, arm64) takes any variant of its architecture. */
        if (str_eq(want->variant, have.variant))
            rank = 0;
        else if (!want->variant)
            rank = 1;
        else if (strcmp(have.arch, "arm") == 0 && arm_level(have.variant) &&
                 arm_level(have.variant) < arm_level(want->variant))
            rank = 1 + arm_level(want->variant) - arm_level(have.variant);
        goto out;
    }
    if (strcmp(want->arch, "amd64") == 0 && strcmp(have.arch, "386") == 0)
        rank = 10;
    else if (strcmp(want->arch, "arm64") == 0 && strcmp(have.arch, "arm") == 0 &&
             arm_level(have.variant) >= 5)
        rank = 10 + 8 - arm_level(have.variant);
out:
    berth_platform_clear(&have);
    return rank;
}

/* ---- JSON documents ---- */

static int bad_doc(struct berth_err **err, const char *what, const char *why)
{
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid document \"%s\": %s",
                         what ? what : "", why);
}

static json_t *load(const void *buf, size_t len, const char *what, struct berth_err **err)
{
    json_error_t je;
    json_t *j = json_loadb(buf, len, 0, &je);

    if (!j) {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid document \"%s\": %s",
                      what ? what : "", je.text);
        return NULL;
    }
    if (!json_is_object(j) && !json_is_array(j)) {
        json_decref(j);
        bad_doc(err, what, "not a JSON object");
        return NULL;
    }
    return j;
}

static const char *get_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void annotations_from(const json_t *o, struct berth_labels *l)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)o, k, v)
    {
        if (json_is_string(v))
            berth_labels_set(l, k, json_string_value(v));
    }
}

static void platform_from(const json_t *o, struct berth_platform *p)
{
    p->os = dup_or_null(get_str(o, "os"));
    p->arch = dup_or_null(get_str(o, "architecture"));
    p->variant = dup_or_null(get_str(o, "variant"));
}

void berth_oci_desc_clear(struct berth_oci_desc *d)
{
    berth_descriptor_clear(&d->d);
    berth_platform_clear(&d->platform);
    d->has_platform = false;
}

static int desc_from(const json_t *o, const char *what, struct berth_oci_desc *d,
                     struct berth_err **err)
{
    const char *digest = get_str(o, "digest");
    json_t *size = json_object_get(o, "size"), *plat;

    memset(d, 0, sizeof(*d));
    if (!json_is_object(o))
        return bad_doc(err, what, "descriptor is not an object");
    if (!digest || berth_digest_validate(digest, NULL) < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "invalid document \"%s\": bad descriptor digest \"%s\"",
                             what ? what : "", digest ? digest : "");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return bad_doc(err, what, "bad descriptor size");
    d->d.media_type = dup_or_null(get_str(o, "mediaType"));
    d->d.digest = berth_xstrdup(digest);
    d->d.size = json_integer_value(size);
    annotations_from(json_object_get(o, "annotations"), &d->d.annotations);
    plat = json_object_get(o, "platform");
    if (json_is_object(plat)) {
        d->has_platform = true;
        platform_from(plat, &d->platform);
    }
    return 0;
}

enum berth_oci_kind berth_oci_sniff(const void *buf, size_t len)
{
    _cleanup_(json_decrefp) json_t *j = json_loadb(buf, len, 0, NULL);
    enum berth_oci_kind k;

    if (!json_is_object(j))
        return BERTH_OCI_UNKNOWN;
    k = berth_oci_media_kind(get_str(j, "mediaType"));
    if (k != BERTH_OCI_UNKNOWN)
        return k;
    if (json_is_array(json_object_get(j, "manifests")))
        return BERTH_OCI_INDEX;
    if (json_is_object(json_object_get(j, "config")) && json_is_array(json_object_get(j, "layers")))
        return BERTH_OCI_MANIFEST;
    return BERTH_OCI_UNKNOWN;
}

void berth_oci_index_free(struct berth_oci_index *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; i < ix->n_manifests; i++)
        berth_oci_desc_clear(&ix->manifests[i]);
    free(ix->manifests);
    free(ix->media_type);
    free(ix);
}

int berth_oci_index_parse(const void *buf, size_t len, const char *what,
                          struct berth_oci_index **out, struct berth_err **err)
{
    _cleanup_(json_decrefp) json_t *j = NULL;
    _cleanup_(berth_oci_index_freep) struct berth_oci_index *ix = NULL;
    json_t *arr;

    *out = NULL;
    if (!(j = load(buf, len, what, err)))
        return -1;
    arr = json_object_get(j, "manifests");
    if (!json_is_array(arr))
        return bad_doc(err, what, "no manifests array");
    ix = berth_xcalloc(1, sizeof(*ix));
    ix->media_type = dup_or_null(get_str(j, "mediaType"));
    ix->manifests = berth_xcalloc(json_array_size(arr) + 1, sizeof(*ix->manifests));
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (desc_from(json_array_get(arr, i), what, &ix->manifests[i], err) < 0)
            return -1;
        ix->n_manifests++;
    }
    *out = steal_ptr(ix);
    return 0;
}

void berth_oci_manifest_free(struct berth_oci_manifest *m)
{
    if (!m)
        return;
    berth_oci_desc_clear(&m->config);
    for (size_t i = 0; i < m->n_layers; i++)
        berth_oci_desc_clear(&m->layers[i]);
    free(m->layers);
    free(m->media_type);
    free(m);
}

int berth_oci_manifest_parse(const void *buf, size_t len, const char *what,
                             struct berth_oci_manifest **out, struct berth_err **err)
{
    _cleanup_(json_decrefp) json_t *j = NULL;
    _cleanup_(berth_oci_manifest_freep) struct berth_oci_manifest *m = NULL;
    json_t *arr;

    *out = NULL;
    if (!(j = load(buf, len, what, err)))
        return -1;
    arr = json_object_get(j, "layers");
    if (!json_is_object(json_object_get(j, "config")) || !json_is_array(arr))
        return bad_doc(err, what, "manifest needs config and layers");
    m = berth_xcalloc(1, sizeof(*m));
    m->media_type = dup_or_null(get_str(j, "mediaType"));
    if (desc_from(json_object_get(j, "config"), what, &m->config, err) < 0)
        return -1;
    m->layers = berth_xcalloc(json_array_size(arr) + 1, sizeof(*m->layers));
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (desc_from(json_array_get(arr, i), what, &m->layers[i], err) < 0)
            return -1;
        m->n_layers++;
    }
    *out = steal_ptr(m);
    return 0;
}

/* ---- image config ---- */

void berth_image_config_free(struct berth_image_config *c)
{
    if (!c)
        return;
    berth_platform_clear(&c->platform);
    free(c->user);
    free(c->working_dir);
    free(c->stop_signal);
    berth_strv_free(c->entrypoint);
    berth_strv_free(c->cmd);
    berth_strv_free(c->env);
    berth_strv_free(c->volumes);
    berth_labels_clear(&c->labels);
    berth_strv_free(c->diff_ids);
    free(c);
}

static int bad_field(struct berth_err **err, const char *what, const char *key, const char *why)
{
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                         "invalid document \"%s\": image config field \"%s\" %s", what ? what : "",
                         key, why);
}

/* Optional string field: absent or null leaves *out NULL; "" is kept unless drop_empty. */
static int cfg_str(const json_t *o, const char *key, bool drop_empty, char **out, const char *what,
                   struct berth_err **err)
{
    const json_t *v = json_object_get(o, key);

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad_field(err, what, key, "is not a string");
    *out = drop_empty ? dup_or_null(json_string_value(v)) : berth_xstrdup(json_string_value(v));
    return 0;
}

/* Optional array of strings: absent or null leaves *out NULL, [] gives an empty vector. */
static int cfg_strv(const json_t *o, const char *key, char ***out, size_t *n, const char *what,
                    struct berth_err **err)
{
    const json_t *v = json_object_get(o, key), *item;
    _cleanup_strv_ char **vec = NULL;
    size_t i;

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return bad_field(err, what, key, "is not an array");
    vec = berth_xcalloc(json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item))
            return bad_field(err, what, key, "has a non-string element");
        vec[i] = berth_xstrdup(json_string_value(item));
    }
    if (n)
        *n = i;
    *out = steal_ptr(vec);
    return 0;
}

/* The "config" object: the runtime defaults of a container made from the image. */
static int cfg_runtime(const json_t *cfg, struct berth_image_config *c, const char *what,
                       struct berth_err **err)
{
    const json_t *labels, *v;
    const char *k;

    if (!cfg || json_is_null(cfg))
        return 0;
    if (!json_is_object(cfg))
        return bad_field(err, what, "config", "is not an object");
    if (cfg_strv(cfg, "Entrypoint", &c->entrypoint, NULL, what, err) < 0 ||
        cfg_strv(cfg, "Cmd", &c->cmd, NULL, what, err) < 0 ||
        cfg_strv(cfg, "Env", &c->env, NULL, what, err) < 0 ||
        cfg_str(cfg, "User", false, &c->user, what, err) < 0 ||
        cfg_str(cfg, "WorkingDir", false, &c->working_dir, what, err) < 0 ||
        cfg_str(cfg, "StopSignal", false, &c->stop_signal, what, err) < 0)
        return -1;
    v = json_object_get(cfg, "Volumes");
    if (v && !json_is_null(v)) {
        size_t n = 0;
        if (!json_is_object(v))
            return bad_field(err, what, "Volumes", "is not an object");
        c->volumes = berth_xcalloc(json_object_size(v) + 1, sizeof(char *));
        json_object_foreach((json_t *)v, k, labels) c->volumes[n++] = berth_xstrdup(k);
    }
    labels = json_object_get(cfg, "Labels");
    if (!labels || json_is_null(labels))
        return 0;
    if (!json_is_object(labels))
        return bad_field(err, what, "Labels", "is not an object");
    json_object_foreach((json_t *)labels, k, v)
    {
        if (!json_is_string(v))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "invalid document \"%s\": image config label \"%s\" is not a "
                                 "string",
                                 what ? what : "", k);
        berth_labels_set(&c->labels, k, json_string_value(v));
    }
    return 0;
}

static int cfg_rootfs(const json_t *rootfs, struct berth_image_config *c, const char *what,
                      struct berth_err **err)
{
    const json_t *type;

    if (!rootfs || json_is_null(rootfs))
        return 0;
    if (!json_is_object(rootfs))
        return bad_field(err, what, "rootfs", "is not an object");
    type = json_object_get(rootfs, "type");
    if (type && !json_is_null(type) &&
        (!json_is_string(type) || strcmp(json_string_value(type), "layers") != 0))
        return bad_field(err, what, "rootfs.type", "is not \"layers\"");
    berth_strv_free(c->diff_ids);
    c->diff_ids = NULL;
    if (cfg_strv(rootfs, "diff_ids", &c->diff_ids, &c->n_diff_ids, what, err) < 0)
        return -1;
    if (!c->diff_ids)
        c->diff_ids = berth_xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < c->n_diff_ids; i++)
        if (berth_digest_validate(c->diff_ids[i], NULL) < 0)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "invalid document \"%s\": bad diff id \"%s\"", what ? what : "",
                                 c->diff_ids[i]);
    return 0;
}

int berth_image_config_parse(const void *buf, size_t len, const char *what,
                             struct berth_image_config **out, struct berth_err **err)
{
    _cleanup_(json_decrefp) json_t *j = NULL;
    _cleanup_(berth_image_config_freep) struct berth_image_config *c = NULL;

    *out = NULL;
    if (!(j = load(buf ? buf : "", buf ? len : 0, what, err)))
        return -1;
    if (!json_is_object(j))
        return bad_doc(err, what, "image config is not a JSON object");
    c = berth_xcalloc(1, sizeof(*c));
    berth_labels_init(&c->labels);
    c->diff_ids = berth_xcalloc(1, sizeof(char *));
    if (cfg_str(j, "os", true, &c->platform.os, what, err) < 0 ||
        cfg_str(j, "architecture", true, &c->platform.arch, what, err) < 0 ||
        cfg_str(j, "variant", true, &c->platform.variant, what, err) < 0 ||
        cfg_runtime(json_object_get(j, "config"), c, what, err) < 0 ||
        cfg_rootfs(json_object_get(j, "rootfs"), c, what, err) < 0)
        return -1;
    *out = steal_ptr(c);
    return 0;
}

void berth_docker_entries_free(struct berth_docker_entry *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].config);
        berth_strv_free(v[i].repo_tags);
        berth_strv_free(v[i].layers);
    }
    free(v);
}

static char **strv_from(const json_t *arr, size_t *n)
{
    size_t cnt = json_is_array(arr) ? json_array_size(arr) : 0, k = 0;
    char **v = berth_xcalloc(cnt + 1, sizeof(char *));

    for (size_t i = 0; i < cnt; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s)
            v[k++] = berth_xstrdup(s);
    }
    if (n)
        *n = k;
    return v;
}

int berth_docker_manifest_parse(const void *buf, size_t len, struct berth_docker_entry **out,
                                size_t *n, struct berth_err **err)
{
    _cleanup_(json_decrefp) json_t *j = NULL;
    struct berth_docker_entry *v;
    size_t cnt;

    *out = NULL;
    *n = 0;
    if (!(j = load(buf, len, "manifest.json", err)))
        return -1;
    if (!json_is_array(j))
        return bad_doc(err, "manifest.json", "not an array");
    cnt = json_array_size(j);
    v = berth_xcalloc(cnt + 1, sizeof(*v));
    for (size_t i = 0; i < cnt; i++) {
        const json_t *e = json_array_get(j, i);
        const char *config = get_str(e, "Config");
        if (!config || !json_is_array(json_object_get(e, "Layers"))) {
            berth_docker_entries_free(v, i);
            return bad_doc(err, "manifest.json", "entry needs Config and Layers");
        }
        v[i].config = berth_xstrdup(config);
        v[i].repo_tags = strv_from(json_object_get(e, "RepoTags"), NULL);
        v[i].layers = strv_from(json_object_get(e, "Layers"), &v[i].n_layers);
    }
    *out = v;
    *n = cnt;
    return 0;
}

int berth_oci_chain_ids(char *const *diff_ids, size_t n, char ***out, struct berth_err **err)
{
    _cleanup_(berth_strv_freep) char **v = berth_xcalloc(n + 1, sizeof(char *));

    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (berth_digest_validate(diff_ids[i], NULL) < 0)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid diff id \"%s\"",
                                 diff_ids[i] ? diff_ids[i] : "");
        if (i == 0) {
            v[0] = berth_xstrdup(diff_ids[0]);
        } else {
            _cleanup_free_ char *s = berth_strdup_printf("%s %s", v[i - 1], diff_ids[i]);
            char d[72];
            berth_sha256_digest_buf(s, strlen(s), d);
            v[i] = berth_xstrdup(d);
        }
    }
    *out = steal_ptr(v);
    return 0;
}
