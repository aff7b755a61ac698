/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry auth (see auth.h): the distribution token flow over a blocking libcurl easy handle
 * (challenges are parsed in challenge.c), and a per-pull cache of tokens keyed by (host, scopes)
 * whose fetches are shared by concurrent callers. Token JSON is read with jansson.
 */
#include "images/remote/auth.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h> /* strcasecmp */

#include <curl/curl.h>
#include <jansson.h>

#include "lib/rfc3339.h"
#include "lib/util.h"

#define DEFAULT_EXPIRES_S 60
#define MAX_EXPIRES_S     (366 * 24 * 3600) /* keeps the ns arithmetic far from overflow */
#define CONNECT_TIMEOUT_S 30L
#define TOTAL_TIMEOUT_S   60L
#define MAX_REDIRS        10L
#define CLIENT_ID         "containerd-client" /* what registries see from containerd */
#define DENIED                                                                                     \
    "pull access denied, repository does not exist or may require "                                \
    "authorization"

/* ---- small helpers ---- */

/* Frees a string that held a secret, wiping it first. */
static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void free_secretp(char **s)
{
    free_secret(*s);
}
#define _cleanup_secret_ _cleanup_(free_secretp)

/* ---- scopes ---- */

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *berth_auth_scope_build(const char *challenge_scope, const char *repo)
{
    char **v = NULL;
    size_t n = 0, cap = 0, len = 0;
    char *out, *o;

    for (const char *p = challenge_scope ? challenge_scope : ""; *p;) {
        size_t l = strcspn(p, " ");
        if (l)
            berth_vec_push(v, n, cap, berth_xstrndup(p, l));
        p += l;
        while (*p == ' ')
            p++;
    }
    berth_vec_push(v, n, cap, berth_strdup_printf("repository:%s:pull", repo));
    qsort(v, n, sizeof(*v), str_cmp);
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    out = o = berth_xmalloc(len + 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
            continue;
        if (o != out)
            *o++ = ' ';
        o = stpcpy(o, v[i]);
    }
    *o = '\0';
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return out;
}

/* ---- the authorizer ---- */

/* One token fetch in progress; callers for the same key share it. */
struct flight {
    unsigned refs; /* the fetcher and each waiter */
    bool done;
    char *token;        /* result on success (secret) */
    int64_t expires_ns; /* berth_mono_ns deadline */
    struct berth_err *err;
};

struct tok_entry {
    struct tok_entry *next;
    char *host, *scope;
    char *token;        /* NULL: none cached (secret) */
    int64_t expires_ns; /* monotonic */
    bool replaced;      /* token was fetched because the previous one was rejected */
    struct flight *flight;
};

struct host_state {
    struct host_state *next;
    char *host;
    int scheme;                    /* the scheme the last 401 from this host was answered with */
    char *realm, *service, *scope; /* Bearer: from the first Bearer challenge seen */
};

struct berth_auth {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a flight finished */
    char *username, *secret, *user_agent;
    struct host_state *hosts;
    struct tok_entry *toks;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    /* Not thread-safe in every libcurl build, hence the once; the transfer engine may have
     * done it already, which libcurl counts. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int berth_auth_new(const struct berth_registry_creds *creds, const char *user_agent,
                   struct berth_auth **out, struct berth_err **err)
{
    struct berth_auth *a = berth_xcalloc(1, sizeof(*a));

    pthread_once(&curl_once, curl_init_once);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (creds && creds->secret && creds->secret[0]) {
        a->secret = berth_xstrdup(creds->secret);
        a->username = berth_xstrdup(creds->username ? creds->username : "");
    }
    if (user_agent)
        a->user_agent = berth_xstrdup(user_agent);
    *out = a;
    return 0;
}

static void flight_unref(struct flight *f)
{
    if (--f->refs > 0)
        return;
    free_secret(f->token);
    berth_err_free(&f->err);
    free(f);
}

void berth_auth_free(struct berth_auth *a)
{
    if (!a)
        return;
    for (struct tok_entry *e = a->toks, *next; e; e = next) {
        next = e->next;
        free(e->host);
        free(e->scope);
        free_secret(e->token);
        free(e);
    }
    for (struct host_state *h = a->hosts, *next; h; h = next) {
        next = h->next;
        free(h->host);
        free(h->realm);
        free(h->service);
        free(h->scope);
        free(h);
    }
    free_secret(a->username);
    free_secret(a->secret);
    free(a->user_agent);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static struct host_state *host_find(struct berth_auth *a, const char *host)
{
    for (struct host_state *h = a->hosts; h; h = h->next)
        if (strcmp(h->host, host) == 0)
            return h;
    return NULL;
}

static struct tok_entry *tok_find(struct berth_auth *a, const char *host, const char *scope,
                                  bool create)
{
    for (struct tok_entry *e = a->toks; e; e = e->next)
        if (strcmp(e->host, host) == 0 && strcmp(e->scope, scope) == 0)
            return e;
    if (!create)
        return NULL;
    struct tok_entry *e = berth_xcalloc(1, sizeof(*e));
    e->host = berth_xstrdup(host);
    e->scope = berth_xstrdup(scope);
    e->next = a->toks;
    a->toks = e;
    return e;
}

static bool has_basic_creds(const struct berth_auth *a)
{
    return a->username && a->username[0] && a->secret && a->secret[0];
}

static char *basic_value(const struct berth_auth *a)
{
    _cleanup_secret_ char *pair = berth_strdup_printf("%s:%s", a->username, a->secret);
    _cleanup_secret_ char *b = berth_base64(pair, strlen(pair));
    return berth_strdup_printf("Basic %s", b);
}

int berth_auth_header(struct berth_auth *a, const char *host, const char *repo, char **out,
                      struct berth_err **err)
{
    *out = NULL;
    pthread_mutex_lock(&a->mu);
    struct host_state *hs = host_find(a, host);
    if (hs && hs->scheme == BERTH_AUTH_BASIC && has_basic_creds(a)) {
        *out = basic_value(a);
    } else if (hs && hs->scheme == BERTH_AUTH_BEARER) {
        _cleanup_free_ char *scope = berth_auth_scope_build(hs->scope, repo);
        struct tok_entry *e = tok_find(a, host, scope, false);
        if (e && e->token && berth_mono_ns() < e->expires_ns)
            *out = berth_strdup_printf("Bearer %s", e->token);
    }
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/* PERMISSION_DENIED for repo. detail (server text) is dropped if it holds a secret: a
 * registry that echoes what it was sent must not leak it into logs. */
static int deny(const struct berth_auth *a, const char *repo, const char *detail, const char *token,
                struct berth_err **err)
{
    bool leaks = detail && ((a->secret && strstr(detail, a->secret)) ||
                            (token && token[0] && strstr(detail, token)));
    if (detail && detail[0] && !leaks)
        return berth_err_set(err, BERTH_E_PERMISSION_DENIED, 0, DENIED ": %s: %s", repo, detail);
    return berth_err_set(err, BERTH_E_PERMISSION_DENIED, 0, DENIED ": %s", repo);
}

/* ---- token fetch (blocking libcurl) ---- */

struct body {
    char *data;
    size_t len;
    bool too_big;
};

static size_t body_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body *b = userdata;
    size_t n = size * nmemb;

    if (b->len + n > BERTH_AUTH_BODY_MAX) {
        b->too_big = true;
        return 0; /* aborts the transfer */
    }
    char *nd = berth_xmalloc(b->len + n + 1);
    if (b->data) {
        memcpy(nd, b->data, b->len);
        explicit_bzero(b->data, b->len);
        free(b->data);
    }
    memcpy(nd + b->len, ptr, n);
    b->len += n;
    nd[b->len] = '\0';
    b->data = nd;
    return n;
}

static void body_clear(struct body *b)
{
    if (b->data) {
        explicit_bzero(b->data, b->len);
        free(b->data);
    }
    memset(b, 0, sizeof(*b));
}

/* Appends k=v in application/x-www-form-urlencoded form (Go's url.QueryEscape). */
static void form_add(struct berth_bytes *f, const char *k, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t need = strlen(k) + 3 * strlen(v) + 3;
    uint8_t *nd = berth_xmalloc(f->len + need);

    if (f->data) {
        memcpy(nd, f->data, f->len);
        explicit_bzero(f->data, f->len);
        free(f->data);
    }
    f->data = nd;
    if (f->len)
        f->data[f->len++] = '&';
    memcpy(f->data + f->len, k, strlen(k));
    f->len += strlen(k);
    f->data[f->len++] = '=';
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            f->data[f->len++] = *p;
        } else if (*p == ' ') {
            f->data[f->len++] = '+';
        } else {
            f->data[f->len++] = '%';
            f->data[f->len++] = (uint8_t)hex[*p >> 4];
            f->data[f->len++] = (uint8_t)hex[*p & 15];
        }
    }
    f->data[f->len] = '\0';
}

static void form_clear(struct berth_bytes *f)
{
    if (f->data)
        explicit_bzero(f->data, f->len);
    berth_bytes_clear(f);
}

static void slist_free_wiped(struct curl_slist *l)
{
    for (struct curl_slist *s = l; s; s = s->next)
        explicit_bzero(s->data, strlen(s->data));
    curl_slist_free_all(l);
}

/* Everything one token request needs, copied out of the locked state. */
struct fetch_req {
    const struct berth_registry_host *h;
    const char *realm, *service, *scope, *repo;
    const char *username, *secret, *user_agent;
};

/*
 * One HTTP exchange with the token server. Returns 0 with *status and *body filled (any
 * status), -1 with UNAVAILABLE when no response came. POST bodies hold secrets, so a POST
 * never follows redirects (curl would resend the form on 307/308 to any host); a GET's Basic
 * header is dropped by curl on a redirect to another host (CURLOPT_UNRESTRICTED_AUTH 0).
 */
static int http_exchange(const struct fetch_req *r, const char *url, const char *post_form,
                         const char *basic, long *status, struct body *body, struct berth_err **err)
{
    struct curl_slist *hdrs = NULL;
    _cleanup_secret_ char *auth_line = NULL;
    CURL *curl = curl_easy_init();
    CURLcode rc = CURLE_OK;
    int ret = -1;

    if (!curl)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "libcurl easy handle");
    if (berth_registry_host_tls_apply(r->h, curl, err) < 0)
        goto out;
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (basic) {
        auth_line = berth_strdup_printf("Authorization: %s", basic);
        hdrs = curl_slist_append(hdrs, auth_line);
    }
    if (post_form)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded; "
                                       "charset=utf-8");
    if (!hdrs) {
        berth_err_set(err, BERTH_E_INTERNAL, 0, "libcurl header list");
        goto out;
    }
#define SET(opt, val)                                                                              \
    if (rc == CURLE_OK)                                                                            \
    rc = curl_easy_setopt(curl, opt, val)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    SET(CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_UNRESTRICTED_AUTH, 0L);
    SET(CURLOPT_WRITEFUNCTION, body_write_cb);
    SET(CURLOPT_WRITEDATA, body);
    if (r->user_agent)
        SET(CURLOPT_USERAGENT, r->user_agent);
    if (post_form) {
        /* Not COPYPOSTFIELDS: libcurl's copy could not be wiped. */
        SET(CURLOPT_POSTFIELDS, post_form);
        SET(CURLOPT_POSTFIELDSIZE, (long)strlen(post_form));
        SET(CURLOPT_FOLLOWLOCATION, 0L);
    } else {
        SET(CURLOPT_HTTPGET, 1L);
        SET(CURLOPT_FOLLOWLOCATION, 1L);
        SET(CURLOPT_MAXREDIRS, MAX_REDIRS);
        SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
#undef SET
    if (rc != CURLE_OK) {
        berth_err_set(err, BERTH_E_INTERNAL, 0, "libcurl option: %s", curl_easy_strerror(rc));
        goto out;
    }
    rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        /* The realm holds no secret (credentials never go into the URL). */
        if (body->too_big)
            berth_err_set(err, BERTH_E_UNAVAILABLE, 0,
                          "token server \"%s\": response larger than %d bytes", r->realm,
                          BERTH_AUTH_BODY_MAX);
        else
            berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "token server \"%s\": %s", r->realm,
                          curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    ret = 0;
out:
    slist_free_wiped(hdrs);
    curl_easy_cleanup(curl);
    return ret;
}

/* Parses a 200 token response. want_access: the OAuth2 POST form, which must carry
 * access_token; the GET form takes access_token over token. */
static int parse_token(const struct fetch_req *r, const struct body *b, bool want_access,
                       char **token, int64_t *expires_ns, struct berth_err **err)
{
    json_t *root = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
    const char *tok = NULL;
    int64_t now_wall = berth_now_ns(), lifetime, age = 0;
    int ret = -1;

    if (!json_is_object(root)) {
        berth_err_set(err, BERTH_E_UNAVAILABLE, 0,
                      "token server \"%s\": response is not a JSON object", r->realm);
        goto out;
    }
    json_t *at = json_object_get(root, "access_token"), *t = json_object_get(root, "token");
    if (json_is_string(at) && json_string_value(at)[0])
        tok = json_string_value(at);
    else if (!want_access && json_is_string(t) && json_string_value(t)[0])
        tok = json_string_value(t);
    if (!tok) {
        berth_err_set(err, BERTH_E_UNAVAILABLE, 0,
                      "token server \"%s\": authorization server did not include a token in the "
                      "response",
                      r->realm);
        goto out;
    }
    /* A token goes into a header line: refuse anything that could split it. */
    for (const char *c = tok; *c; c++) {
        if ((unsigned char)*c < 0x21 || *c == 0x7f) {
            berth_err_set(err, BERTH_E_UNAVAILABLE, 0,
                          "token server \"%s\": token holds a control character", r->realm);
            goto out;
        }
    }
    json_t *ei = json_object_get(root, "expires_in");
    json_int_t secs = json_is_integer(ei) ? json_integer_value(ei) : 0;
    if (json_is_real(ei))
        secs = (json_int_t)json_real_value(ei);
    if (secs <= 0)
        secs = DEFAULT_EXPIRES_S; /* the token spec's default */
    if (secs > MAX_EXPIRES_S)
        secs = MAX_EXPIRES_S;
    lifetime = (int64_t)secs * 1000000000;
    json_t *ia = json_object_get(root, "issued_at");
    int64_t issued;
    struct berth_err *ierr = NULL;
    /* issued_at in the past shortens the life; a future one (clock skew) is ignored. */
    if (json_is_string(ia) && berth_rfc3339_parse(json_string_value(ia), &issued, &ierr) == 0 &&
        issued < now_wall)
        age = now_wall - issued > lifetime ? lifetime : now_wall - issued;
    berth_err_free(&ierr);
    *expires_ns = berth_mono_ns() + (lifetime - age);
    *token = berth_xstrdup(tok);
    ret = 0;
out:
    /* jansson keeps its own copy of the token; there is no wiping it, only freeing. */
    json_decref(root);
    return ret;
}

static int status_err(const struct berth_auth *a, const struct fetch_req *r, long status,
                      struct berth_err **err)
{
    if (status >= 500 || status == 429)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "token server \"%s\": HTTP %ld", r->realm,
                             status);
    char detail[64];
    snprintf(detail, sizeof(detail), "token server answered HTTP %ld", status);
    return deny(a, r->repo, detail, NULL, err);
}

/* The GET form: <realm>?scope=..&scope=..&service=.. (keys sorted as Go's url.Values). */
static int fetch_get(const struct berth_auth *a, const struct fetch_req *r, bool with_basic,
                     char **token, int64_t *expires_ns, struct berth_err **err)
{
    struct berth_bytes q = {0};
    _cleanup_secret_ char *basic = NULL;
    _cleanup_free_ char *url = NULL;
    struct body b = {0};
    long status = 0;
    int ret = -1;

    for (const char *p = r->scope; *p;) {
        size_t l = strcspn(p, " ");
        _cleanup_free_ char *one = berth_xstrndup(p, l);
        form_add(&q, "scope", one);
        p += l;
        while (*p == ' ')
            p++;
    }
    if (r->service && r->service[0])
        form_add(&q, "service", r->service);
    url = berth_strdup_printf("%s%c%s", r->realm, strchr(r->realm, '?') ? '&' : '?',
                              q.data ? (char *)q.data : "");
    if (with_basic)
        basic = basic_value(a);
    if (http_exchange(r, url, NULL, basic, &status, &b, err) < 0)
        goto out;
    if (status / 100 != 2) {
        status_err(a, r, status, err);
        goto out;
    }
    ret = parse_token(r, &b, false, token, expires_ns, err);
out:
    body_clear(&b);
    form_clear(&q);
    return ret;
}

/* The OAuth2 form: POST <realm> with the secret, falling back to GET + Basic where
 * containerd does. */
static int fetch_post(const struct berth_auth *a, const struct fetch_req *r, char **token,
                      int64_t *expires_ns, struct berth_err **err)
{
    struct berth_bytes f = {0};
    struct body b = {0};
    long status = 0;
    int ret = -1;
    bool user = a->username && a->username[0];

    /* Keys sorted as Go's url.Values.Encode sends them. */
    form_add(&f, "client_id", CLIENT_ID);
    form_add(&f, "grant_type", user ? "password" : "refresh_token");
    if (user)
        form_add(&f, "password", a->secret);
    else
        form_add(&f, "refresh_token", a->secret);
    form_add(&f, "scope", r->scope);
    form_add(&f, "service", r->service ? r->service : "");
    if (user)
        form_add(&f, "username", a->username);
    if (http_exchange(r, r->realm, (char *)f.data, NULL, &status, &b, err) < 0)
        goto out;
    if (status == 404 || status == 401 || status == 400 || (status == 405 && user)) {
        body_clear(&b);
        ret = fetch_get(a, r, true, token, expires_ns, err);
        goto out;
    }
    if (status / 100 != 2) {
        status_err(a, r, status, err);
        goto out;
    }
    ret = parse_token(r, &b, true, token, expires_ns, err);
out:
    body_clear(&b);
    form_clear(&f);
    return ret;
}

static bool realm_ok(const char *realm)
{
    const char *rest;

    if (strncasecmp(realm, "https://", 8) == 0)
        rest = realm + 8;
    else if (strncasecmp(realm, "http://", 7) == 0)
        rest = realm + 7;
    else
        return false;
    if (!*rest || *rest == '/' || *rest == '?' || *rest == '#')
        return false;
    for (const char *c = realm; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return false;
    return true;
}

static int on_basic(struct berth_auth *a, const char *repo, const char *prev, char **out,
                    struct berth_err **err)
{
    if (!has_basic_creds(a))
        return deny(a, repo, "no credentials for a Basic challenge", NULL, err);
    _cleanup_secret_ char *v = basic_value(a);
    if (prev && strcmp(prev, v) == 0)
        return deny(a, repo, "credentials rejected", NULL, err);
    *out = steal_ptr(v);
    return 0;
}

/* Called with a->mu held; returns with it held. */
static int on_bearer(struct berth_auth *a, const struct berth_registry_host *h,
                     const struct berth_auth_challenge *ch, struct host_state *hs, const char *repo,
                     const char *prev, char **out, struct berth_err **err)
{
    _cleanup_free_ char *scope = berth_auth_scope_build(hs->scope, repo);
    struct tok_entry *e = tok_find(a, hs->host, scope, true);
    struct flight *f;
    bool replaced = false;

    if (e->flight) {
        f = e->flight;
        f->refs++;
        while (!f->done)
            pthread_cond_wait(&a->cv, &a->mu);
        int r = 0;
        if (f->err) {
            *err = berth_err_dup(f->err);
            r = -1;
        } else {
            *out = berth_strdup_printf("Bearer %s", f->token);
        }
        flight_unref(f);
        return r;
    }
    if (e->token) {
        _cleanup_secret_ char *sent = berth_strdup_printf("Bearer %s", e->token);
        bool rejected = prev && strcmp(prev, sent) == 0;
        if (!rejected && berth_mono_ns() < e->expires_ns) {
            *out = steal_ptr(sent);
            return 0;
        }
        if (rejected && e->replaced) {
            /* Already fetched anew once after a rejection: give up, and start clean next
             * time. */
            deny(a, repo, ch->error, e->token, err);
            free_secret(steal_ptr(e->token));
            e->replaced = false;
            return -1;
        }
        replaced = rejected;
        free_secret(steal_ptr(e->token));
    }
    if (!hs->realm || !realm_ok(hs->realm))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "registry \"%s\": Bearer realm \"%s\" is not an absolute http(s) URL",
                             hs->host, hs->realm ? hs->realm : "");

    f = berth_xcalloc(1, sizeof(*f));
    f->refs = 1;
    e->flight = f;
    struct fetch_req r = {
        .h = h,
        .realm = hs->realm,
        .service = hs->service,
        .scope = scope,
        .repo = repo,
        .user_agent = a->user_agent,
    };
    /* host_state fields and the credentials never change or go away while a lives, so the
     * request may borrow them without the lock. */
    pthread_mutex_unlock(&a->mu);
    char *token = NULL;
    int64_t exp = 0;
    struct berth_err *ferr = NULL;
    int r_ = a->secret ? fetch_post(a, &r, &token, &exp, &ferr)
                       : fetch_get(a, &r, false, &token, &exp, &ferr);
    pthread_mutex_lock(&a->mu);

    f->done = true;
    e->flight = NULL;
    int ret = 0;
    if (r_ < 0) {
        f->err = berth_err_dup(ferr);
        *err = steal_ptr(ferr);
        ret = -1;
    } else {
        f->token = berth_xstrdup(token);
        f->expires_ns = exp;
        e->token = berth_xstrdup(token);
        e->expires_ns = exp;
        e->replaced = replaced;
        *out = berth_strdup_printf("Bearer %s", token);
    }
    free_secret(token);
    pthread_cond_broadcast(&a->cv);
    flight_unref(f);
    return ret;
}

int berth_auth_on_unauthorized(struct berth_auth *a, const struct berth_registry_host *h,
                               const char *www_authenticate, const char *repo,
                               const char *prev_auth_header_sent, char **out,
                               struct berth_err **err)
{
    struct berth_auth_challenge *chs = NULL;
    const struct berth_auth_challenge *ch = NULL;
    size_t n = 0;
    int ret;

    *out = NULL;
    if (berth_auth_challenges_parse(www_authenticate, &chs, &n, err) < 0)
        return berth_err_wrap(err, "registry \"%s\"", h->host);
    for (size_t i = 0; i < n && !ch; i++)
        if (chs[i].scheme == BERTH_AUTH_BEARER)
            ch = &chs[i];
    for (size_t i = 0; i < n && !ch; i++)
        if (chs[i].scheme == BERTH_AUTH_BASIC)
            ch = &chs[i];
    if (!ch) {
        berth_auth_challenges_free(chs, n);
        return deny(a, repo, "no Basic or Bearer challenge", NULL, err);
    }

    pthread_mutex_lock(&a->mu);
    struct host_state *hs = host_find(a, h->host);
    if (!hs) {
        hs = berth_xcalloc(1, sizeof(*hs));
        hs->host = berth_xstrdup(h->host);
        hs->next = a->hosts;
        a->hosts = hs;
    }
    if (ch->scheme == BERTH_AUTH_BEARER && !hs->realm) {
        /* The first Bearer challenge of a host fixes realm, service and base scopes, as
         * containerd's per-host handler does; later challenges only add their error. */
        hs->realm = ch->realm ? berth_xstrdup(ch->realm) : NULL;
        hs->service = ch->service ? berth_xstrdup(ch->service) : NULL;
        hs->scope = ch->scope ? berth_xstrdup(ch->scope) : NULL;
    }
    hs->scheme = ch->scheme;
    if (ch->scheme == BERTH_AUTH_BASIC)
        ret = on_basic(a, repo, prev_auth_header_sent, out, err);
    else
        ret = on_bearer(a, h, ch, hs, repo, prev_auth_header_sent, out, err);
    pthread_mutex_unlock(&a->mu);
    berth_auth_challenges_free(chs, n);
    return ret;
}
