/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A registry session (see remote.h). request() is the one place a request is made: it walks
 * redirects, answers 401s through the authorizer, and retries what a registry asks to be
 * retried. The callers (resolve, fetch_doc, fetch_blob) walk the endpoints.
 */
#include "images/registry.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "images/manifest.h"
#include "lib/digest.h"
#include "lib/sha256.h"

#define MAX_REDIRECTS 10
#define MAX_ATTEMPTS  6
#define MAX_RETRY_S   10

/* The Accept list containerd 1.6 sends when resolving (registry-cni.md A1): a registry that
 * does not see the OCI types answers 404 for OCI images, or converts docker ones to schema 1. */
static const char ACCEPT_RESOLVE[] = "Accept: " BERTH_MT_DOCKER_MANIFEST ", " BERTH_MT_DOCKER_LIST
                                     ", " BERTH_MT_OCI_MANIFEST ", " BERTH_MT_OCI_INDEX ", */*";

struct berth_registry {
    struct berth_http *http;
    struct berth_registry_hosts hosts;
    struct berth_auth *auth;
    const atomic_bool *cancel;
    char *ref_string; /* for messages */
    char *ref_host;   /* the reference's domain, "host[:port]" */
    char *src_host;   /* the same without the port */
    char *repo;
    char *object; /* tag or digest */
    bool by_digest;
};

const char *berth_registry_source_host(const struct berth_registry *r)
{
    return r->src_host;
}

const char *berth_registry_repo(const struct berth_registry *r)
{
    return r->repo;
}

void berth_registry_free(struct berth_registry *r)
{
    if (!r)
        return;
    berth_registry_hosts_clear(&r->hosts);
    berth_auth_free(r->auth);
    free(r->ref_string);
    free(r->ref_host);
    free(r->src_host);
    free(r->repo);
    free(r->object);
    free(r);
}

int berth_registry_open(const struct berth_registry_opts *o, const struct berth_image_ref *ref,
                        struct berth_registry **out, struct berth_err **err)
{
    _cleanup_(berth_registry_freep) struct berth_registry *r = berth_xcalloc(1, sizeof(*r));
    char *colon;

    *out = NULL;
    r->http = o->http;
    r->cancel = o->cancel;
    r->ref_string = berth_image_ref_string(ref);
    r->ref_host = berth_xstrdup(ref->domain);
    r->repo = berth_xstrdup(ref->path);
    r->by_digest = ref->digest != NULL;
    r->object = berth_xstrdup(ref->digest ? ref->digest : ref->tag ? ref->tag : "latest");
    /* Port stripped, IPv6 brackets kept: containerd's distribution-source key. */
    r->src_host = berth_xstrdup(ref->domain);
    colon = strrchr(r->src_host, ':');
    if (colon && !strchr(colon, ']'))
        *colon = '\0';
    if (berth_registry_hosts_resolve(o->config_path, ref->domain, o->plain_http, &r->hosts, err) <
        0)
        return -1;
    if (berth_auth_new(o->creds, "berth/" BERTH_VERSION, &r->auth, err) < 0)
        return -1;
    *out = steal_ptr(r);
    return 0;
}

/* ---- errors ---- */

/* The first error code of a registry error body into code, its message into msg. */
static void registry_error(const struct berth_bytes *body, char code[64], char *msg, size_t cap)
{
    json_t *root, *errs, *e0;
    const char *c = NULL, *m = NULL;

    msg[0] = code[0] = '\0';
    if (!body->len)
        return;
    root = json_loadb((const char *)body->data, body->len, 0, NULL);
    errs = json_object_get(root, "errors");
    e0 = json_array_get(errs, 0);
    c = json_string_value(json_object_get(e0, "code"));
    m = json_string_value(json_object_get(e0, "message"));
    if (m)
        snprintf(msg, cap, "%s", m);
    if (c)
        snprintf(code, 64, "%s", c);
    json_decref(root);
}

/* Turns a final non-2xx answer into an error about what (the ref or digest). */
static int answer_error(struct berth_registry *r, const char *what,
                        const struct berth_http_resp *resp, struct berth_err **err)
{
    char msg[256], code[64];

    registry_error(&resp->body, code, msg, sizeof(msg));
    for (char *p = msg; *p; p++) /* a server's message is printed, never trusted */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    if (resp->status == 404 || !strcmp(code, "MANIFEST_UNKNOWN") || !strcmp(code, "NAME_UNKNOWN") ||
        !strcmp(code, "BLOB_UNKNOWN"))
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "%s: not found%s%s", what,
                             msg[0] ? ": " : "", msg);
    if (resp->status == 401 || resp->status == 403 || !strcmp(code, "UNAUTHORIZED") ||
        !strcmp(code, "DENIED"))
        return berth_err_set(err, BERTH_E_PERMISSION_DENIED, 0,
                             "pull access denied for %s, repository does not exist or may "
                             "require authorization%s%s",
                             r->repo, msg[0] ? ": " : "", msg);
    if (resp->status == 429 || resp->status >= 500 || !strcmp(code, "TOOMANYREQUESTS"))
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "%s: registry answered %ld%s%s", what,
                             resp->status, msg[0] ? ": " : "", msg);
    return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "%s: registry answered %ld%s%s", what,
                         resp->status, msg[0] ? ": " : "", msg);
}

/* ---- one request ---- */

static bool canceled(const struct berth_registry *r)
{
    return r->cancel && atomic_load(r->cancel);
}

/* Sleeps ms, waking early on cancel. */
static void backoff_sleep(const struct berth_registry *r, int64_t ms)
{
    while (ms > 0 && !canceled(r)) {
        int64_t step = ms > 100 ? 100 : ms;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = step * 1000000};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* The absolute URL a Location names, relative to base. NULL when it is not http(s). */
static char *url_resolve(const char *base, const char *loc)
{
    CURLU *u = curl_url();
    char *s = NULL, *out = NULL;

    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, loc, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK &&
        (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8)))
        out = berth_xstrdup(s);
    curl_free(s);
    curl_url_cleanup(u);
    return out;
}

/*
 * Sends method url to endpoint h, following redirects and answering 401s, retrying
 * 408/429/5xx. Returns 0 with the final answer in *resp (any status), -1 on transport errors.
 */
static int request(struct berth_registry *r, const struct berth_registry_host *h,
                   const char *method, const char *url, const char *accept, const char *range,
                   struct berth_http_sink *sink, size_t max_body, struct berth_http_resp *resp,
                   struct berth_err **err)
{
    _cleanup_free_ char *cur = berth_xstrdup(url), *authz = NULL;
    int redirects = 0, attempts = 0, auth_tries = 0;
    char origin[300];

    berth_http_url_host(url, origin, sizeof(origin));
    for (;;) {
        const char *hdrs[5];
        size_t nh = 0;
        _cleanup_free_ char *auth_line = NULL;
        char host[300];
        bool same = true;
        struct berth_http_req req = {
            .method = method, .url = cur, .sink = sink, .max_body = max_body, .cancel = r->cancel};

        if (canceled(r))
            return berth_err_set(err, BERTH_E_CANCELED, 0, "%s: pull canceled", r->ref_string);
        berth_http_url_host(cur, host, sizeof(host));
        same = strcmp(host, origin) == 0;
        req.host = same ? h : NULL; /* TLS settings and headers belong to the endpoint */
        free(authz);
        authz = NULL;
        if (berth_auth_header(r->auth, host, r->repo, &authz, err) < 0)
            return -1;
        if (accept)
            hdrs[nh++] = accept;
        if (range)
            hdrs[nh++] = range;
        if (authz) {
            auth_line = berth_strdup_printf("Authorization: %s", authz);
            hdrs[nh++] = auth_line;
        }
        hdrs[nh] = NULL;
        req.headers = hdrs;
        if (berth_http_do(r->http, &req, resp, err) < 0) {
            if (auth_line)
                explicit_bzero(auth_line, strlen(auth_line));
            return -1;
        }
        if (auth_line)
            explicit_bzero(auth_line, strlen(auth_line));
        attempts++;
        if (resp->status >= 300 && resp->status < 400 && resp->status != 304 && resp->location) {
            char *next = url_resolve(cur, resp->location);
            if (!next)
                return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                     "%s: redirect to an unsupported location", host);
            if (++redirects > MAX_REDIRECTS) {
                free(next);
                return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                     "%s: more than %d redirects", origin, MAX_REDIRECTS);
            }
            free(cur);
            cur = next;
            continue;
        }
        if (resp->status == 401 && resp->www_authenticate && auth_tries < 2 &&
            attempts < MAX_ATTEMPTS) {
            _cleanup_free_ char *fresh = NULL;
            if (!same) /* storage behind a redirect never gets the registry's credentials */
                return 0;
            auth_tries++;
            if (berth_auth_on_unauthorized(r->auth, h, resp->www_authenticate, r->repo, authz,
                                           &fresh, err) < 0)
                return -1;
            if (fresh)
                explicit_bzero(fresh, strlen(fresh));
            continue;
        }
        if (resp->status == 405 && !strcmp(method, "HEAD") && attempts < MAX_ATTEMPTS) {
            method = "GET";
            continue;
        }
        if ((resp->status == 408 || resp->status == 429 || resp->status >= 500) && attempts < 4) {
            int64_t ms = 250LL << (attempts - 1);
            if (resp->retry_after_s >= 0)
                ms = (resp->retry_after_s > MAX_RETRY_S ? MAX_RETRY_S : resp->retry_after_s) * 1000;
            backoff_sleep(r, ms);
            continue;
        }
        return 0;
    }
}

static char *endpoint_url(const struct berth_registry *r, const struct berth_registry_host *h,
                          const char *kind, const char *object)
{
    char *url = berth_strdup_printf("%s://%s%s/%s/%s/%s", h->scheme, h->host, h->path, r->repo,
                                    kind, object);
    if (strcmp(h->host, r->ref_host) != 0) { /* tell a mirror which registry is meant */
        char *esc = curl_easy_escape(NULL, r->ref_host, 0);
        char *q = berth_strdup_printf("%s?ns=%s", url, esc ? esc : r->ref_host);
        curl_free(esc);
        free(url);
        url = q;
    }
    return url;
}

/* ---- resolve ---- */

static bool digest_ok(const char *d)
{
    return d && berth_digest_validate(d, NULL) == 0;
}

static int resolve_at(struct berth_registry *r, const struct berth_registry_host *h,
                      struct berth_descriptor *out, struct berth_http_resp *resp,
                      struct berth_err **err)
{
    _cleanup_free_ char *url = endpoint_url(r, h, "manifests", r->object);
    const char *digest = r->by_digest ? r->object : NULL;
    char hex[72];

    if (request(r, h, "HEAD", url, ACCEPT_RESOLVE, NULL, NULL, 0, resp, err) < 0)
        return -1;
    if (resp->status < 200 || resp->status >= 300)
        return 1;
    if (!digest && resp->content_length >= 0 && digest_ok(resp->docker_digest))
        digest = resp->docker_digest;
    if (resp->content_length > BERTH_REGISTRY_MANIFEST_MAX)
        return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0,
                             "%s: manifest of %" PRId64 " bytes is larger than %d", r->ref_string,
                             resp->content_length, BERTH_REGISTRY_MANIFEST_MAX);
    out->media_type = berth_xstrdup(resp->content_type ? resp->content_type : "");
    out->size = resp->content_length;
    if (!digest || out->size < 0) {
        /* No usable digest header: fetch the document and hash it. */
        struct berth_http_resp g = {0};
        int ret = request(r, h, "GET", url, ACCEPT_RESOLVE, NULL, NULL, BERTH_REGISTRY_MANIFEST_MAX,
                          &g, err);
        if (ret < 0 || g.status < 200 || g.status >= 300) {
            if (ret == 0)
                answer_error(r, r->ref_string, &g, err);
            berth_http_resp_clear(&g);
            return -1;
        }
        berth_sha256_digest_buf(g.body.data, g.body.len, hex);
        free(out->media_type);
        out->media_type = berth_xstrdup(g.content_type ? g.content_type : "");
        out->size = (int64_t)g.body.len;
        if (!digest)
            digest = hex;
        out->digest = berth_xstrdup(digest);
        berth_http_resp_clear(&g);
        return 0;
    }
    out->digest = berth_xstrdup(digest);
    return 0;
}

int berth_registry_resolve(struct berth_registry *r, struct berth_descriptor *out,
                           struct berth_err **err)
{
    struct berth_err *first = NULL;
    unsigned need =
        r->by_digest ? (BERTH_HOST_CAP_RESOLVE | BERTH_HOST_CAP_PULL) : BERTH_HOST_CAP_RESOLVE;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < r->hosts.n; i++) {
        const struct berth_registry_host *h = &r->hosts.v[i];
        struct berth_http_resp resp = {0};
        struct berth_err *e = NULL;
        int ret;

        if (!(h->caps & need))
            continue;
        ret = resolve_at(r, h, out, &resp, &e);
        if (ret == 0) {
            berth_http_resp_clear(&resp);
            berth_err_free(&first);
            return 0;
        }
        berth_descriptor_clear(out);
        if (ret > 0 && resp.status != 404)
            answer_error(r, r->ref_string, &resp, &e);
        berth_http_resp_clear(&resp);
        if (e && e->code == BERTH_E_CANCELED) {
            berth_err_free(&first);
            *err = e;
            return -1;
        }
        if (e && !first)
            first = e;
        else
            berth_err_free(&e);
    }
    if (first) {
        *err = first;
        return -1;
    }
    return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "%s: not found", r->ref_string);
}

/* ---- fetch ---- */

static bool is_manifest_type(const char *mt)
{
    enum berth_oci_kind k = berth_oci_media_kind(mt);
    return k == BERTH_OCI_INDEX || k == BERTH_OCI_MANIFEST ||
           (mt && strstr(mt, "manifest") != NULL);
}

/* Walks the endpoints able to pull, calling one(r, h, ...) until one answers 2xx. */
static int fetch_walk(struct berth_registry *r, const struct berth_descriptor *d,
                      int (*one)(struct berth_registry *, const struct berth_registry_host *,
                                 const char *url, void *, struct berth_http_resp *,
                                 struct berth_err **),
                      void *arg, struct berth_err **err)
{
    struct berth_err *first = NULL;
    const char *kind = is_manifest_type(d->media_type) ? "manifests" : "blobs";

    for (size_t i = 0; i < r->hosts.n; i++) {
        const struct berth_registry_host *h = &r->hosts.v[i];
        _cleanup_free_ char *url = NULL;
        struct berth_http_resp resp = {0};
        struct berth_err *e = NULL;
        int ret;

        if (!(h->caps & BERTH_HOST_CAP_PULL))
            continue;
        url = endpoint_url(r, h, kind, d->digest);
        ret = one(r, h, url, arg, &resp, &e);
        if (ret == 0) {
            berth_http_resp_clear(&resp);
            berth_err_free(&first);
            return 0;
        }
        if (ret > 0)
            answer_error(r, d->digest, &resp, &e);
        berth_http_resp_clear(&resp);
        /* A started body, a cancel or a bad answer are final; others move to the next. */
        if (ret < -1 || (e && e->code == BERTH_E_CANCELED)) {
            berth_err_free(&first);
            *err = e;
            return -1;
        }
        if (!first)
            first = e;
        else
            berth_err_free(&e);
    }
    if (!first)
        berth_err_set(&first, BERTH_E_NOT_FOUND, 0, "%s: no endpoint can pull %s", r->ref_host,
                      d->digest);
    *err = first;
    return -1;
}

struct doc_arg {
    const struct berth_descriptor *d;
    size_t max;
    struct berth_bytes *out;
};

static int doc_one(struct berth_registry *r, const struct berth_registry_host *h, const char *url,
                   void *arg, struct berth_http_resp *resp, struct berth_err **err)
{
    struct doc_arg *a = arg;
    _cleanup_free_ char *accept = NULL;
    char hex[72];

    if (a->d->size > (int64_t)a->max)
        return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0,
                             "%s: %s of %" PRId64 " bytes is larger than %zu", r->ref_string,
                             a->d->digest, a->d->size, a->max),
               -2;
    accept = berth_strdup_printf("Accept: %s, */*", a->d->media_type ? a->d->media_type : "");
    if (request(r, h, "GET", url, accept, NULL, NULL, a->max, resp, err) < 0)
        return -1;
    if (resp->status < 200 || resp->status >= 300)
        return 1;
    berth_sha256_digest_buf(resp->body.data, resp->body.len, hex);
    if ((a->d->size >= 0 && (int64_t)resp->body.len != a->d->size) || strcmp(hex, a->d->digest))
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "%s: %s from %s does not match its descriptor (got %zu bytes, %s)",
                             r->ref_string, a->d->digest, h->host, resp->body.len, hex),
               -2;
    *a->out = resp->body;
    memset(&resp->body, 0, sizeof(resp->body));
    return 0;
}

int berth_registry_fetch_doc(struct berth_registry *r, const struct berth_descriptor *d, size_t max,
                             struct berth_bytes *out, struct berth_err **err)
{
    struct doc_arg a = {.d = d, .max = max, .out = out};

    memset(out, 0, sizeof(*out));
    return fetch_walk(r, d, doc_one, &a, err);
}

/* Puts itself between the engine and the caller's sink: checks the range answer and drops
 * what a server that ignored the Range sent before offset. */
struct blob_arg {
    struct berth_registry *r;
    const struct berth_descriptor *d;
    int64_t offset, skip, delivered;
    struct berth_http_sink *inner;
    struct berth_http_sink outer;
    struct berth_err *err;
};

static enum berth_http_sink_ret blob_start(void *arg, const struct berth_http_resp *resp)
{
    struct blob_arg *b = arg;
    char want[64];

    b->skip = 0;
    if (b->offset > 0) {
        if (resp->status == 206) {
            snprintf(want, sizeof(want), "bytes %" PRId64 "-", b->offset);
            if (!resp->content_range || strncmp(resp->content_range, want, strlen(want))) {
                berth_err_set(&b->err, BERTH_E_FAILED_PRECONDITION, 0,
                              "%s: unexpected Content-Range \"%s\" for offset %" PRId64,
                              b->d->digest, resp->content_range ? resp->content_range : "",
                              b->offset);
                return BERTH_HTTP_SINK_ABORT;
            }
        } else {
            b->skip = b->offset;
        }
    }
    return b->inner->start ? b->inner->start(b->inner->arg, resp) : BERTH_HTTP_SINK_OK;
}

static enum berth_http_sink_ret blob_data(void *arg, const void *buf, size_t len)
{
    struct blob_arg *b = arg;
    enum berth_http_sink_ret ret;

    if (b->skip > 0) {
        size_t drop = (int64_t)len < b->skip ? len : (size_t)b->skip;
        b->skip -= (int64_t)drop;
        buf = (const char *)buf + drop;
        len -= drop;
        if (!len)
            return BERTH_HTTP_SINK_OK;
    }
    ret = b->inner->data(b->inner->arg, buf, len);
    b->delivered += (int64_t)len;
    b->outer.wait_fd = b->inner->wait_fd;
    return ret;
}

static enum berth_http_sink_ret blob_drain(void *arg)
{
    struct blob_arg *b = arg;
    return b->inner->drain(b->inner->arg);
}

static int blob_one(struct berth_registry *r, const struct berth_registry_host *h, const char *url,
                    void *arg, struct berth_http_resp *resp, struct berth_err **err)
{
    struct blob_arg *b = arg;
    _cleanup_free_ char *accept = NULL, *range = NULL;
    int ret;

    accept = berth_strdup_printf("Accept: %s, */*", b->d->media_type ? b->d->media_type : "");
    if (b->offset > 0)
        range = berth_strdup_printf("Range: bytes=%" PRId64 "-", b->offset);
    ret = request(r, h, "GET", url, accept, range, &b->outer, 0, resp, err);
    if (ret < 0) {
        if (b->err) { /* our own abort: say why */
            berth_err_free(err);
            *err = steal_ptr(b->err);
        }
        return b->delivered > 0 || (*err && (*err)->code == BERTH_E_CANCELED) ? -2 : -1;
    }
    if (resp->status == 416)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "%s: range from %" PRId64 " not satisfiable", b->d->digest, b->offset),
               -2;
    return resp->status >= 200 && resp->status < 300 ? 0 : 1;
}

int berth_registry_fetch_blob(struct berth_registry *r, const struct berth_descriptor *d,
                              int64_t offset, struct berth_http_sink *sink, int64_t *delivered,
                              struct berth_err **err)
{
    struct blob_arg b = {.r = r, .d = d, .offset = offset, .inner = sink};
    int ret;

    b.outer.start = blob_start;
    b.outer.data = blob_data;
    b.outer.drain = sink->drain ? blob_drain : NULL;
    b.outer.arg = &b;
    b.outer.wait_fd = sink->wait_fd;
    ret = fetch_walk(r, d, blob_one, &b, err);
    berth_err_free(&b.err);
    if (delivered)
        *delivered = b.delivered;
    return ret;
}
