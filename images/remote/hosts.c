/* SPDX-License-Identifier: Apache-2.0 */
/* Registry host resolution (see hosts.h): containerd 1.6's config/hosts.go rules over a
 * config_path tree, read with POSIX calls and lib/toml, plus the TLS options for libcurl. */
#include "images/remote/hosts.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h> /* strcasecmp */
#include <sys/stat.h>

#include <curl/curl.h>

#include "lib/fs.h"
#include "lib/toml.h"
#include "lib/util.h"

#define HOSTS_FILE   "hosts.toml"
#define DEFAULT_DIR  "_default"
#define DOCKER_HUB   "docker.io"
#define DOCKER_API   "registry-1.docker.io"
#define HOST_MAX     255
#define HEADER_LINES 1024 /* bounds a header table that would make every request huge */

DEFINE_CLEANUP(struct berth_toml_value *, berth_toml_free)

static void host_clear(struct berth_registry_host *h)
{
    free(h->scheme);
    free(h->host);
    free(h->path);
    berth_strv_free(h->ca_files);
    berth_strv_free(h->client_certs);
    berth_strv_free(h->client_keys);
    berth_strv_free(h->headers);
    memset(h, 0, sizeof(*h));
}

void berth_registry_hosts_clear(struct berth_registry_hosts *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        host_clear(&h->v[i]);
    free(h->v);
    h->v = NULL;
    h->n = 0;
}

/* A growable NULL-terminated string vector; v is never NULL once started. */
struct strv {
    char **v;
    size_t n, cap;
};

static void strv_push(struct strv *s, char *item)
{
    if (s->n + 1 >= s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->v = berth_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = item;
    s->v[s->n] = NULL;
}

static char **strv_finish(struct strv *s)
{
    if (!s->v)
        return berth_xcalloc(1, sizeof(char *));
    char **v = s->v;
    memset(s, 0, sizeof(*s));
    return v;
}

static void strv_clear(struct strv *s)
{
    berth_strv_free(s->v);
    memset(s, 0, sizeof(*s));
}

/* ---- host names ---- */

static bool port_ok(const char *p, size_t n)
{
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)p[i]))
            return false;
    return true;
}

/*
 * host[:port] as a reference or URL names it: a DNS name or IPv4 address (letters, digits,
 * '.', '-', '_', starting with a letter or digit, no ".."), or a bracketed IPv6 address. The
 * name becomes a directory name under each config root, so nothing that could be a path
 * separator, a dot-dot or a leading dot/underscore (which would reach "_default") passes.
 * Sets *port_at to the ':' before the port, or NULL.
 */
static bool host_ok(const char *s, const char **port_at)
{
    size_t len = strlen(s);
    const char *end;

    *port_at = NULL;
    if (len == 0 || len > HOST_MAX)
        return false;
    if (s[0] == '[') {
        end = strchr(s, ']');
        if (!end || end == s + 1)
            return false;
        for (const char *c = s + 1; c < end; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                return false;
        end++;
    } else {
        if (!isalnum((unsigned char)s[0]))
            return false;
        end = s;
        while (*end && *end != ':') {
            if (!isalnum((unsigned char)*end) && *end != '.' && *end != '-' && *end != '_')
                return false;
            end++;
        }
        if (strstr(s, ".."))
            return false;
    }
    if (*end == '\0')
        return true;
    if (*end != ':' || !port_ok(end + 1, strlen(end + 1)))
        return false;
    *port_at = end;
    return true;
}

/* ---- files ---- */

static int hosts_err(struct berth_err **err, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int hosts_err(struct berth_err **err, const char *file, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = berth_strdup_vprintf(fmt, ap);
    va_end(ap);
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "registry hosts file \"%s\": %s", file,
                         msg);
}

/* Reads a whole regular file of at most BERTH_REGISTRY_HOSTS_FILE_MAX bytes. Returns 1 with
 * *out (NUL-terminated, caller-owned) and *len, 0 when it does not exist, -1 on error. */
static int read_small_file(const char *path, char **out, size_t *len, struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;

    *out = NULL;
    if (berth_read_file(path, BERTH_REGISTRY_HOSTS_FILE_MAX, out, len, &e) == 0)
        return 1;
    switch (e->code) {
    case BERTH_E_NOT_FOUND:
        return 0;
    case BERTH_E_INVALID_ARGUMENT:
        return hosts_err(err, path, "not a regular file");
    case BERTH_E_OUT_OF_RANGE:
        return hosts_err(err, path, "larger than %d bytes", BERTH_REGISTRY_HOSTS_FILE_MAX);
    default:
        *err = steal_ptr(e);
        return -1;
    }
}

static char *abs_path(const char *dir, const char *p)
{
    if (p[0] == '/')
        return berth_xstrdup(p);
    return berth_strdup_printf("%s/%s", dir, p);
}

/* ---- hosts.toml entries ---- */

/* What one entry is parsed from: a [host."url"] table, or the top level with `server`. */
struct entry_ctx {
    const char *file;  /* for messages */
    const char *dir;   /* relative paths are joined to it */
    const char *label; /* "host \"url\"" or "top level", for messages */
};

static int type_err(const struct entry_ctx *c, const char *key, const char *want,
                    const struct berth_toml_value *v, struct berth_err **err)
{
    return hosts_err(err, c->file, "%s: key \"%s\": expected %s, got %s", c->label, key, want,
                     berth_toml_type_name(v->type));
}

static int parse_caps(const struct entry_ctx *c, const struct berth_toml_value *v, unsigned *caps,
                      struct berth_err **err)
{
    *caps = BERTH_HOST_CAP_PULL | BERTH_HOST_CAP_RESOLVE | BERTH_HOST_CAP_PUSH;
    if (!v)
        return 0;
    if (v->type != BERTH_TOML_ARRAY)
        return type_err(c, "capabilities", "array of strings", v, err);
    if (v->u.array.n == 0) /* containerd: an empty list means the default, all three */
        return 0;
    *caps = 0;
    for (size_t i = 0; i < v->u.array.n; i++) {
        const struct berth_toml_value *it = v->u.array.items[i];
        if (it->type != BERTH_TOML_STRING)
            return type_err(c, "capabilities", "array of strings", it, err);
        if (strcasecmp(it->u.str, "pull") == 0)
            *caps |= BERTH_HOST_CAP_PULL;
        else if (strcasecmp(it->u.str, "resolve") == 0)
            *caps |= BERTH_HOST_CAP_RESOLVE;
        else if (strcasecmp(it->u.str, "push") == 0)
            *caps |= BERTH_HOST_CAP_PUSH;
        else
            return hosts_err(err, c->file, "%s: unknown capability \"%s\"", c->label, it->u.str);
    }
    return 0;
}

static int parse_ca(const struct entry_ctx *c, const struct berth_toml_value *v, struct strv *out,
                    struct berth_err **err)
{
    if (!v)
        return 0;
    if (v->type == BERTH_TOML_STRING) {
        strv_push(out, abs_path(c->dir, v->u.str));
        return 0;
    }
    if (v->type != BERTH_TOML_ARRAY)
        return type_err(c, "ca", "string or array of strings", v, err);
    for (size_t i = 0; i < v->u.array.n; i++) {
        const struct berth_toml_value *it = v->u.array.items[i];
        if (it->type != BERTH_TOML_STRING)
            return type_err(c, "ca", "string or array of strings", it, err);
        strv_push(out, abs_path(c->dir, it->u.str));
    }
    return 0;
}

/* client = "both.pem" | ["a.pem", "b.pem"] | [["cert.pem", "key.pem"], ...] (mixable). */
static int parse_client(const struct entry_ctx *c, const struct berth_toml_value *v,
                        struct strv *certs, struct strv *keys, struct berth_err **err)
{
    static const char want[] = "string, array of strings or array of [cert, key] pairs";

    if (!v)
        return 0;
    if (v->type == BERTH_TOML_STRING) {
        strv_push(certs, abs_path(c->dir, v->u.str));
        strv_push(keys, berth_xstrdup(""));
        return 0;
    }
    if (v->type != BERTH_TOML_ARRAY)
        return type_err(c, "client", want, v, err);
    for (size_t i = 0; i < v->u.array.n; i++) {
        const struct berth_toml_value *it = v->u.array.items[i];
        if (it->type == BERTH_TOML_STRING) {
            strv_push(certs, abs_path(c->dir, it->u.str));
            strv_push(keys, berth_xstrdup(""));
            continue;
        }
        if (it->type != BERTH_TOML_ARRAY)
            return type_err(c, "client", want, it, err);
        if (it->u.array.n != 2 || it->u.array.items[0]->type != BERTH_TOML_STRING ||
            it->u.array.items[1]->type != BERTH_TOML_STRING)
            return hosts_err(err, c->file, "%s: key \"client\": a pair must be two strings",
                             c->label);
        strv_push(certs, abs_path(c->dir, it->u.array.items[0]->u.str));
        strv_push(keys, abs_path(c->dir, it->u.array.items[1]->u.str));
    }
    return 0;
}

/* RFC 9110 token characters: a header name must be one, or the line would split. */
static bool header_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

/* No CR/LF (header injection) and no other control character but tab. */
static bool header_value_ok(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return false;
    return true;
}

static int push_header(const struct entry_ctx *c, const char *name, const char *value,
                       struct strv *out, struct berth_err **err)
{
    if (!header_value_ok(value))
        return hosts_err(err, c->file, "%s: header \"%s\": value holds a control character",
                         c->label, name);
    if (out->n >= HEADER_LINES)
        return hosts_err(err, c->file, "%s: more than %d header lines", c->label, HEADER_LINES);
    strv_push(out, berth_strdup_printf("%s: %s", name, value));
    return 0;
}

static int parse_headers(const struct entry_ctx *c, const struct berth_toml_value *v,
                         struct strv *out, struct berth_err **err)
{
    if (!v)
        return 0;
    if (v->type != BERTH_TOML_TABLE)
        return type_err(c, "header", "table", v, err);
    for (size_t i = 0; i < v->u.table.n; i++) {
        const char *name = v->u.table.keys[i];
        const struct berth_toml_value *val = v->u.table.vals[i];
        if (!header_name_ok(name))
            return hosts_err(err, c->file, "%s: invalid header name \"%s\"", c->label, name);
        if (val->type == BERTH_TOML_STRING) {
            if (push_header(c, name, val->u.str, out, err) < 0)
                return -1;
            continue;
        }
        if (val->type != BERTH_TOML_ARRAY)
            return hosts_err(err, c->file,
                             "%s: header \"%s\": expected string or array of "
                             "strings, got %s",
                             c->label, name, berth_toml_type_name(val->type));
        for (size_t j = 0; j < val->u.array.n; j++) {
            const struct berth_toml_value *it = val->u.array.items[j];
            if (it->type != BERTH_TOML_STRING)
                return hosts_err(err, c->file,
                                 "%s: header \"%s\": expected string or array "
                                 "of strings, got %s",
                                 c->label, name, berth_toml_type_name(it->type));
            if (push_header(c, name, it->u.str, out, err) < 0)
                return -1;
        }
    }
    return 0;
}

static int get_bool(const struct entry_ctx *c, const struct berth_toml_value *t, const char *key,
                    bool *out, struct berth_err **err)
{
    const struct berth_toml_value *v = berth_toml_get(t, key);

    *out = false;
    if (!v)
        return 0;
    if (v->type != BERTH_TOML_BOOL)
        return type_err(c, key, "boolean", v, err);
    *out = v->u.boolean;
    return 0;
}

/* path.Clean of a URL path without the leading-slash special cases: "" for the root, else
 * "/a/b" with empty and "." segments dropped and ".." applied. */
static char *clean_path(const char *p)
{
    char *out = berth_xmalloc(strlen(p) + 2);
    size_t n = 0;

    while (*p) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--; /* the slash */
            continue;
        }
        out[n++] = '/';
        memcpy(out + n, seg, len);
        n += len;
    }
    out[n] = '\0';
    return out;
}

static bool ends_with_v2(const char *p)
{
    size_t n = strlen(p);
    return n >= 3 && strcmp(p + n - 3, "/v2") == 0;
}

/* Splits a hosts.toml URL (scheme optional, https by default) into scheme, host and API
 * path. containerd keeps whatever Go's url.Parse accepts and drops the rest; a query,
 * fragment or user info here would be silently lost, so they are refused instead. */
static int parse_url(const struct entry_ctx *c, const char *url, bool override_path,
                     struct berth_registry_host *h, struct berth_err **err)
{
    _cleanup_free_ char *path = NULL;
    const char *rest = url, *sep = strstr(url, "://");
    const char *port_at;

    if (sep) {
        size_t slen = (size_t)(sep - url);
        if (slen == 4 && strncasecmp(url, "http", 4) == 0)
            h->scheme = berth_xstrdup("http");
        else if (slen == 5 && strncasecmp(url, "https", 5) == 0)
            h->scheme = berth_xstrdup("https");
        else
            return hosts_err(err, c->file, "%s: unsupported URL scheme in \"%s\" (http or https)",
                             c->label, url);
        rest = sep + 3;
    } else {
        h->scheme = berth_xstrdup("https");
    }
    if (strpbrk(rest, "?#@"))
        return hosts_err(err, c->file, "%s: URL \"%s\" has a query, fragment or user info",
                         c->label, url);
    size_t hlen = strcspn(rest, "/");
    h->host = berth_xstrndup(rest, hlen);
    if (!host_ok(h->host, &port_at))
        return hosts_err(err, c->file, "%s: invalid host in URL \"%s\"", c->label, url);
    path = clean_path(rest + hlen);
    if (!override_path && !ends_with_v2(path)) {
        char *p = berth_strdup_printf("%s/v2", path);
        free(path);
        path = p;
    }
    h->path = steal_ptr(path);
    return 0;
}

/* One entry from table t (a [host."url"] table, or the root with url = `server`, NULL when
 * absent: the caller then fills in the default endpoint). */
static int parse_entry(const struct entry_ctx *c, const struct berth_toml_value *t, const char *url,
                       struct berth_registry_host *h, struct berth_err **err)
{
    struct strv ca = {0}, certs = {0}, keys = {0}, headers = {0};
    bool override_path;
    int r = -1;

    if (get_bool(c, t, "override_path", &override_path, err) < 0 ||
        get_bool(c, t, "skip_verify", &h->skip_verify, err) < 0 ||
        parse_caps(c, berth_toml_get(t, "capabilities"), &h->caps, err) < 0 ||
        parse_ca(c, berth_toml_get(t, "ca"), &ca, err) < 0 ||
        parse_client(c, berth_toml_get(t, "client"), &certs, &keys, err) < 0 ||
        parse_headers(c, berth_toml_get(t, "header"), &headers, err) < 0)
        goto out;
    if (url && parse_url(c, url, override_path, h, err) < 0)
        goto out;
    h->ca_files = strv_finish(&ca);
    h->client_certs = strv_finish(&certs);
    h->client_keys = strv_finish(&keys);
    h->headers = strv_finish(&headers);
    r = 0;
out:
    strv_clear(&ca);
    strv_clear(&certs);
    strv_clear(&keys);
    strv_clear(&headers);
    return r;
}

static void hosts_push(struct berth_registry_hosts *out, struct berth_registry_host *h)
{
    out->v = berth_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
    out->v[out->n++] = *h;
    memset(h, 0, sizeof(*h));
}

static int load_hosts_file(const char *dir, const char *file, const char *text, size_t len,
                           struct berth_registry_hosts *out, struct berth_err **err)
{
    _cleanup_(berth_toml_freep) struct berth_toml_value *root = NULL;
    struct berth_registry_host h = {0};
    const struct berth_toml_value *hosts, *server;
    struct entry_ctx c = {file, dir, "top level"};

    if (berth_toml_parse(text, len, &root, err) < 0)
        return berth_err_wrap(err, "registry hosts file \"%s\"", file);
    hosts = berth_toml_get(root, "host");
    if (hosts && hosts->type != BERTH_TOML_TABLE)
        return type_err(&c, "host", "table", hosts, err);
    server = berth_toml_get(root, "server");
    if (server && server->type != BERTH_TOML_STRING)
        return type_err(&c, "server", "string", server, err);

    /* lib/toml keeps table keys in document order: the mirrors' order. */
    for (size_t i = 0; hosts && i < hosts->u.table.n; i++) {
        _cleanup_free_ char *label = berth_strdup_printf("host \"%s\"", hosts->u.table.keys[i]);
        struct entry_ctx hc = {file, dir, label};
        if (hosts->u.table.vals[i]->type != BERTH_TOML_TABLE)
            return type_err(&c, hosts->u.table.keys[i], "table", hosts->u.table.vals[i], err);
        if (parse_entry(&hc, hosts->u.table.vals[i], hosts->u.table.keys[i], &h, err) < 0) {
            host_clear(&h);
            return -1;
        }
        h.is_mirror = true;
        hosts_push(out, &h);
    }
    if (parse_entry(&c, root, server && server->u.str[0] ? server->u.str : NULL, &h, err) < 0) {
        host_clear(&h);
        return -1;
    }
    hosts_push(out, &h);
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Docker's certs.d layout (no hosts.toml): *.crt are CAs, *.cert client certificates with the
 * same-named *.key as key when it exists. Files in name order, as Go's os.ReadDir gives them. */
static int load_cert_files(const char *dir, struct berth_registry_host *h, struct berth_err **err)
{
    struct strv ca = {0}, certs = {0}, keys = {0}, names = {0};
    DIR *d;
    struct dirent *de;
    int r = -1;

    d = opendir(dir);
    if (!d)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open directory \"%s\"", dir);
    while ((errno = 0, de = readdir(d))) {
        if (has_suffix(de->d_name, ".crt") || has_suffix(de->d_name, ".cert"))
            strv_push(&names, berth_xstrdup(de->d_name));
    }
    if (errno) {
        r = berth_err_set(err, BERTH_E_INTERNAL, errno, "read directory \"%s\"", dir);
        closedir(d);
        strv_clear(&names);
        return r;
    }
    closedir(d);
    if (names.n)
        qsort(names.v, names.n, sizeof(*names.v), name_cmp);
    for (size_t i = 0; i < names.n; i++) {
        const char *name = names.v[i];
        _cleanup_free_ char *p = berth_strdup_printf("%s/%s", dir, name);
        struct stat st;
        if (stat(p, &st) < 0) {
            if (errno == ENOENT)
                continue;
            berth_err_set(err, BERTH_E_INTERNAL, errno, "stat \"%s\"", p);
            goto out;
        }
        if (S_ISDIR(st.st_mode))
            continue;
        if (has_suffix(name, ".crt")) {
            strv_push(&ca, steal_ptr(p));
            continue;
        }
        _cleanup_free_ char *key =
            berth_strdup_printf("%s/%.*s.key", dir, (int)(strlen(name) - 5), name);
        if (stat(key, &st) < 0) {
            if (errno != ENOENT) {
                berth_err_set(err, BERTH_E_INTERNAL, errno, "stat \"%s\"", key);
                goto out;
            }
            free(key);
            key = berth_xstrdup("");
        }
        strv_push(&certs, steal_ptr(p));
        strv_push(&keys, steal_ptr(key));
    }
    h->ca_files = strv_finish(&ca);
    h->client_certs = strv_finish(&certs);
    h->client_keys = strv_finish(&keys);
    h->headers = berth_xcalloc(1, sizeof(char *));
    h->caps = BERTH_HOST_CAP_PULL | BERTH_HOST_CAP_RESOLVE | BERTH_HOST_CAP_PUSH;
    r = 0;
out:
    strv_clear(&ca);
    strv_clear(&certs);
    strv_clear(&keys);
    strv_clear(&names);
    return r;
}

/* The directory for ref_host under one root, or NULL (*found false) when it has none. */
static int find_dir(const char *root, const char *ref_host, const char *port_at, char **out,
                    struct berth_err **err)
{
    char *cands[3] = {NULL, NULL, NULL};
    size_t nc = 0;
    int r = 0;

    *out = NULL;
    if (port_at)
        cands[nc++] = berth_strdup_printf("%s/%.*s_%s_", root, (int)(port_at - ref_host), ref_host,
                                          port_at + 1);
    cands[nc++] = berth_strdup_printf("%s/%s", root, ref_host);
    cands[nc++] = berth_strdup_printf("%s/%s", root, DEFAULT_DIR);
    for (size_t i = 0; i < nc && !*out && r == 0; i++) {
        struct stat st;
        if (stat(cands[i], &st) == 0) {
            if (S_ISDIR(st.st_mode))
                *out = steal_ptr(cands[i]);
        } else if (errno != ENOENT && errno != ENOTDIR) {
            r = berth_err_set(err, BERTH_E_INTERNAL, errno, "stat \"%s\"", cands[i]);
        }
    }
    for (size_t i = 0; i < nc; i++)
        free(cands[i]);
    return r;
}

static int load_dir(const char *dir, struct berth_registry_hosts *out, struct berth_err **err)
{
    _cleanup_free_ char *file = berth_strdup_printf("%s/%s", dir, HOSTS_FILE);
    _cleanup_free_ char *text = NULL;
    struct berth_registry_host h = {0};
    size_t len = 0;
    int r;

    r = read_small_file(file, &text, &len, err);
    if (r < 0)
        return -1;
    if (r > 0 && len > 0)
        return load_hosts_file(dir, file, text, len, out, err);
    /* Like containerd, an empty hosts.toml counts as absent. */
    if (load_cert_files(dir, &h, err) < 0)
        return -1;
    hosts_push(out, &h);
    return 0;
}

int berth_registry_hosts_resolve(const char *config_path, const char *ref_host, bool plain_http,
                                 struct berth_registry_hosts *out, struct berth_err **err)
{
    struct berth_registry_hosts res = {0};
    _cleanup_free_ char *dir = NULL;
    const char *port_at;

    memset(out, 0, sizeof(*out));
    if (!ref_host || !host_ok(ref_host, &port_at))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid registry host \"%s\"",
                             ref_host ? ref_host : "");
    for (const char *p = config_path ? config_path : ""; *p && !dir;) {
        size_t len = strcspn(p, ":");
        if (len > 0) {
            _cleanup_free_ char *root = berth_xstrndup(p, len);
            if (find_dir(root, ref_host, port_at, &dir, err) < 0)
                return -1;
        }
        p += len;
        if (*p == ':')
            p++;
    }
    if (dir && load_dir(dir, &res, err) < 0) {
        berth_registry_hosts_clear(&res);
        return -1;
    }
    if (res.n == 0) {
        struct berth_registry_host h = {0};
        h.ca_files = berth_xcalloc(1, sizeof(char *));
        h.client_certs = berth_xcalloc(1, sizeof(char *));
        h.client_keys = berth_xcalloc(1, sizeof(char *));
        h.headers = berth_xcalloc(1, sizeof(char *));
        h.caps = BERTH_HOST_CAP_PULL | BERTH_HOST_CAP_RESOLVE | BERTH_HOST_CAP_PUSH;
        hosts_push(&res, &h);
    }
    /* The last entry without a host is the default endpoint (no `server`, or no file). */
    struct berth_registry_host *last = &res.v[res.n - 1];
    if (!last->host) {
        if (strcmp(ref_host, DOCKER_HUB) == 0) {
            last->scheme = berth_xstrdup("https");
            last->host = berth_xstrdup(DOCKER_API);
        } else {
            last->scheme = berth_xstrdup(plain_http ? "http" : "https");
            last->host = berth_xstrdup(ref_host);
        }
        free(last->path);
        last->path = berth_xstrdup("/v2");
    }
    *out = res;
    return 0;
}

/* ---- TLS for libcurl ---- */

static int append_file(struct berth_bytes *blob, const char *path, bool must_be_pem,
                       struct berth_err **err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r = read_small_file(path, &text, &len, err);

    if (r < 0)
        return -1;
    if (r == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, ENOENT, "CA file \"%s\"", path);
    if (must_be_pem && !strstr(text, "-----BEGIN CERTIFICATE-----"))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "CA file \"%s\": no PEM certificate",
                             path);
    blob->data = berth_xrealloc(blob->data, blob->len + len + 1);
    memcpy(blob->data + blob->len, text, len);
    blob->len += len;
    blob->data[blob->len++] = '\n'; /* a file without a final newline must not glue PEMs */
    return 0;
}

static int curl_opt_err(CURLcode rc, const char *what, struct berth_err **err)
{
    return berth_err_set(err, BERTH_E_INTERNAL, 0, "libcurl option %s: %s", what,
                         curl_easy_strerror(rc));
}

int berth_registry_host_tls_apply(const struct berth_registry_host *h, void *curl_easy,
                                  struct berth_err **err)
{
    CURL *curl = curl_easy;
    CURLcode rc;

    if (h->ca_files && h->ca_files[0]) {
        struct berth_bytes blob = {0};
        struct curl_blob cb;
        char *sys = NULL;

        /* CURLOPT_CAINFO_BLOB replaces libcurl's default CA file, while containerd adds the
         * configured CAs to the system pool: start the blob with the default bundle. */
        if (curl_easy_getinfo(curl, CURLINFO_CAINFO, &sys) == CURLE_OK && sys &&
            access(sys, R_OK) == 0 && append_file(&blob, sys, false, err) < 0) {
            berth_bytes_clear(&blob);
            return -1;
        }
        for (char **f = h->ca_files; *f; f++) {
            if (append_file(&blob, *f, true, err) < 0) {
                berth_bytes_clear(&blob);
                return -1;
            }
        }
        cb.data = blob.data;
        cb.len = blob.len;
        cb.flags = CURL_BLOB_COPY;
        rc = curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &cb);
        berth_bytes_clear(&blob);
        if (rc != CURLE_OK)
            return curl_opt_err(rc, "CAINFO_BLOB", err);
    }
    if (h->skip_verify) {
        if ((rc = curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L)) != CURLE_OK ||
            (rc = curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L)) != CURLE_OK)
            return curl_opt_err(rc, "SSL_VERIFYPEER", err);
    }
    if (h->client_certs && h->client_certs[0]) {
        if ((rc = curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM")) != CURLE_OK ||
            (rc = curl_easy_setopt(curl, CURLOPT_SSLCERT, h->client_certs[0])) != CURLE_OK)
            return curl_opt_err(rc, "SSLCERT", err);
        /* Without CURLOPT_SSLKEY libcurl reads the key from the certificate file. */
        if (h->client_keys[0][0] &&
            (rc = curl_easy_setopt(curl, CURLOPT_SSLKEY, h->client_keys[0])) != CURLE_OK)
            return curl_opt_err(rc, "SSLKEY", err);
    }
    return 0;
}
