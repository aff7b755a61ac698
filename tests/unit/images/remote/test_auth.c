/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for images/remote/auth.c: challenge parsing, scope building, and the token flow
 * against a tiny HTTP server thread on 127.0.0.1 that answers canned responses and records
 * every request. */
#include "tests/unit/helpers/berth_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h> /* strncasecmp */
#include <sys/socket.h>

#include "images/remote/auth.h"
#include "lib/util.h"

#define PASSWORD "s3cret-Pa55"
#define MAX_REQS 32

/* ---- the canned token server ---- */

struct req {
    char method[8];
    char target[1024];
    char auth[512];
    char ctype[256];
    char body[2048];
};

struct resp {
    int status;
    const char *body;
};

struct srv;
typedef struct resp (*respond_fn)(struct srv *s, const struct req *r);

struct srv {
    int lfd, port;
    pthread_t th;
    pthread_mutex_t mu;
    struct req reqs[MAX_REQS];
    size_t n;
    respond_fn respond;
    int delay_ms;         /* before answering, so concurrent callers pile up */
    const char *big_body; /* optional body to send instead (oversized test) */
    volatile bool stop;
};

static void header_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = head; (p = strstr(p, "\r\n")); p += 2) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ')
                v++;
            size_t l = strcspn(v, "\r");
            if (l >= cap)
                l = cap - 1;
            memcpy(out, v, l);
            out[l] = '\0';
            return;
        }
    }
}

static void serve_one(struct srv *s, int fd)
{
    char buf[8192];
    size_t got = 0;
    char *end = NULL;
    struct req r;

    memset(&r, 0, sizeof(r));
    while (!(end = strstr(buf, "\r\n\r\n"))) {
        ssize_t k = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (k <= 0)
            return;
        got += (size_t)k;
        buf[got] = '\0';
    }
    *end = '\0';
    sscanf(buf, "%7s %1023s", r.method, r.target);
    header_value(buf, "Authorization", r.auth, sizeof(r.auth));
    header_value(buf, "Content-Type", r.ctype, sizeof(r.ctype));
    char cl[32];
    header_value(buf, "Content-Length", cl, sizeof(cl));
    size_t want = (size_t)atol(cl), have = got - (size_t)(end + 4 - buf);
    if (want >= sizeof(r.body))
        want = sizeof(r.body) - 1;
    memcpy(r.body, end + 4, have < want ? have : want);
    while (have < want) {
        ssize_t k = read(fd, r.body + have, want - have);
        if (k <= 0)
            break;
        have += (size_t)k;
    }
    r.body[want] = '\0';

    pthread_mutex_lock(&s->mu);
    if (s->n < MAX_REQS)
        s->reqs[s->n++] = r;
    pthread_mutex_unlock(&s->mu);
    if (s->delay_ms)
        poll(NULL, 0, s->delay_ms);
    struct resp rs = s->respond(s, &r);
    const char *body = s->big_body ? s->big_body : rs.body ? rs.body : "";
    char *head = berth_strdup_printf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                                     rs.status, strlen(body));
    (void)berth_write_all(fd, head, strlen(head));
    (void)berth_write_all(fd, body, strlen(body));
    free(head);
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    while (!s->stop) {
        struct pollfd p = {s->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve_one(s, fd);
        close(fd);
    }
    return NULL;
}

static struct srv *srv_start(respond_fn respond)
{
    struct srv *s = berth_xcalloc(1, sizeof(*s));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);

    s->respond = respond;
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->lfd >= 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->lfd, 16), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &sl), 0);
    s->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
    return s;
}

static void srv_stop(struct srv *s)
{
    s->stop = true;
    pthread_join(s->th, NULL);
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static size_t srv_count(struct srv *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* A registry host entry for the tests (no TLS settings). */
static char *empty_v[] = {NULL};
static const struct berth_registry_host reg_host = {
    .scheme = "http",
    .host = "reg.test:5000",
    .path = "/v2",
    .caps = BERTH_HOST_CAP_PULL | BERTH_HOST_CAP_RESOLVE,
    .ca_files = empty_v,
    .client_certs = empty_v,
    .client_keys = empty_v,
    .headers = empty_v,
};

static char *challenge(struct srv *s, const char *scope, const char *error)
{
    return berth_strdup_printf(
        "Bearer realm=\"http://127.0.0.1:%d/token\",service=\"test-reg\"%s%s%s"
        "%s%s",
        s->port, scope ? ",scope=\"" : "", scope ? scope : "", scope ? "\"" : "",
        error ? ",error=" : "", error ? error : "");
}

/* Counts issued tokens so each fetch returns a new one ("t1", "t2", ...). */
static int token_serial;

static struct resp resp_get_token(struct srv *s, const struct req *r)
{
    static char body[128];
    if (strcmp(r->method, "GET") != 0)
        return (struct resp){405, "{}"};
    snprintf(body, sizeof(body), "{\"token\":\"t%d\",\"expires_in\":300}", ++token_serial);
    return (struct resp){200, body};
}

static int setup(void **state)
{
    token_serial = 0;
    return 0;
}

/* ---- parser ---- */

static void test_auth_challenges_parse_shapes(void **state)
{
    struct berth_auth_challenge *c = NULL;
    struct berth_err *err = NULL;
    size_t n = 0;

    assert_ok(berth_auth_challenges_parse(
                  "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                  "scope=\"repository:library/busybox:pull\"",
                  &c, &n, &err),
              &err);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].scheme, BERTH_AUTH_BEARER);
    assert_string_equal(c[0].realm, "https://auth.docker.io/token");
    assert_string_equal(c[0].service, "registry.docker.io");
    assert_string_equal(c[0].scope, "repository:library/busybox:pull");
    assert_null(c[0].error);
    berth_auth_challenges_free(c, n);

    /* Several challenges, mixed case, BWS, token values, empty list elements, escapes. */
    assert_ok(berth_auth_challenges_parse(
                  " , bEaReR  REALM = \"http://a/t\" ,, Service=svc , error=\"invalid_token\","
                  " Basic realm=\"R \\\"q\\\" \\\\ x\", Negotiate abc+/==, NTLM,"
                  "Basic dXNlcjpwYXNz==",
                  &c, &n, &err),
              &err);
    assert_int_equal(n, 3);
    assert_int_equal(c[0].scheme, BERTH_AUTH_BEARER);
    assert_string_equal(c[0].realm, "http://a/t");
    assert_string_equal(c[0].service, "svc");
    assert_string_equal(c[0].error, "invalid_token");
    assert_null(c[0].scope);
    assert_int_equal(c[1].scheme, BERTH_AUTH_BASIC);
    assert_string_equal(c[1].realm, "R \"q\" \\ x");
    assert_int_equal(c[2].scheme, BERTH_AUTH_BASIC); /* token68 form, no params */
    assert_null(c[2].realm);
    berth_auth_challenges_free(c, n);

    /* Only unknown schemes: fine, nothing usable. */
    assert_ok(
        berth_auth_challenges_parse("Negotiate, Digest realm=\"x\", qop=\"auth\"", &c, &n, &err),
        &err);
    assert_int_equal(n, 0);
    assert_null(c);

    /* Bare scheme; repeated param keeps the first; quoted commas stay in the value. */
    assert_ok(berth_auth_challenges_parse("Bearer realm=\"a,b\", realm=\"c\", scope=\"x y\", Basic",
                                          &c, &n, &err),
              &err);
    assert_int_equal(n, 2);
    assert_string_equal(c[0].realm, "a,b");
    assert_string_equal(c[0].scope, "x y");
    assert_int_equal(c[1].scheme, BERTH_AUTH_BASIC);
    berth_auth_challenges_free(c, n);
}

static void test_auth_challenges_parse_malformed_is_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        " , ,",
        "Bearer realm=\"x",
        "=\"x\"",
        "Bearer realm=\"x\" service=\"y\"",
        "Bearer a=, b=1", /* "a=" is a token68, then "b=1" is no challenge */
        "Bearer realm=\"x\"junk",
        "Bearer realm=\"x\"\r\nX: y",
        "Bearer\x01",
        "Bearer realm=\"x\\",
        "Bearer junk junk",
        "Bearer abc, realm=\"x\"",
        "Bearer=x",
        "\"Bearer\"",
    };
    struct berth_auth_challenge *c = (void *)1;
    struct berth_err *err = NULL;
    size_t n = 5;

    for (size_t i = 0; i < BERTH_N(bad); i++) {
        if (berth_auth_challenges_parse(bad[i], &c, &n, &err) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        assert_null(c);
        assert_int_equal(n, 0);
    }
    assert_int_equal(berth_auth_challenges_parse(NULL, &c, &n, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);

    /* Bounds: length, challenges, params. */
    char *big = berth_xmalloc(BERTH_AUTH_HEADER_MAX + 64);
    strcpy(big, "Bearer realm=\"");
    memset(big + 14, 'a', BERTH_AUTH_HEADER_MAX);
    strcpy(big + 14 + BERTH_AUTH_HEADER_MAX, "\"");
    assert_int_equal(berth_auth_challenges_parse(big, &c, &n, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    big[0] = '\0';
    for (int i = 0; i < 40; i++)
        strcat(big, "Basic, ");
    assert_int_equal(berth_auth_challenges_parse(big, &c, &n, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    strcpy(big, "Bearer a0=1");
    for (int i = 1; i < 40; i++)
        sprintf(big + strlen(big), ",a%d=1", i);
    assert_int_equal(berth_auth_challenges_parse(big, &c, &n, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    free(big);
}

/* Garbage must never crash or leak (run under ASan): random bytes from a fixed alphabet
 * heavy in the syntax characters. */
static void test_auth_challenges_parse_garbage(void **state)
{
    static const char alpha[] = "Bearer Basic realm=\",\\ \t=abc/+";
    unsigned seed = 12345;
    char buf[96];

    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (seed = seed * 1103515245 + 12345) % (sizeof(buf) - 1);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245 + 12345;
            buf[i] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
        }
        buf[len] = '\0';
        struct berth_auth_challenge *c = NULL;
        struct berth_err *err = NULL;
        size_t n = 0;
        if (berth_auth_challenges_parse(buf, &c, &n, &err) == 0)
            berth_auth_challenges_free(c, n);
        else
            berth_err_free(&err);
    }
}

static void test_auth_scope_build(void **state)
{
    static const struct {
        const char *scope, *repo, *want;
    } cases[] = {
        {NULL, "a/b", "repository:a/b:pull"},
        {"", "a/b", "repository:a/b:pull"},
        {"repository:a/b:pull", "a/b", "repository:a/b:pull"},
        {"repository:z:pull  repository:a:push,pull ", "m",
         "repository:a:push,pull repository:m:pull repository:z:pull"},
        {"registry:catalog:* repository:m:pull repository:m:pull", "m",
         "registry:catalog:* repository:m:pull"},
    };
    for (size_t i = 0; i < BERTH_N(cases); i++) {
        char *s = berth_auth_scope_build(cases[i].scope, cases[i].repo);
        assert_string_equal(s, cases[i].want);
        free(s);
    }
}

/* ---- token flow ---- */

static void test_auth_bearer_anonymous_get(void **state)
{
    struct srv *s = srv_start(resp_get_token);
    struct berth_auth *a = NULL;
    struct berth_err *err = NULL;
    char *hdr = NULL, *ch = challenge(s, "repository:x/y:pull", NULL);

    assert_ok(berth_auth_new(NULL, "berth/test", &a, &err), &err);
    assert_ok(berth_auth_header(a, reg_host.host, "x/y", &hdr, &err), &err);
    assert_null(hdr); /* nothing known: first request anonymous */
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), &err);
    assert_string_equal(hdr, "Bearer t1");
    free(hdr);
    assert_int_equal(srv_count(s), 1);
    assert_string_equal(s->reqs[0].method, "GET");
    assert_string_equal(s->reqs[0].target,
                        "/token?scope=repository%3Ax%2Fy%3Apull&service=test-reg");
    assert_string_equal(s->reqs[0].auth, "");

    /* Cached for later requests of the same repo, on any path. */
    assert_ok(berth_auth_header(a, reg_host.host, "x/y", &hdr, &err), &err);
    assert_string_equal(hdr, "Bearer t1");
    free(hdr);
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), &err);
    assert_string_equal(hdr, "Bearer t1");
    free(hdr);
    assert_int_equal(srv_count(s), 1);

    /* Another host knows nothing yet. */
    assert_ok(berth_auth_header(a, "other:1", "x/y", &hdr, &err), &err);
    assert_null(hdr);

    /* Another repo: the first challenge's scope plus the new repo's, one scope= each. */
    assert_ok(berth_auth_header(a, reg_host.host, "x/z", &hdr, &err), &err);
    assert_null(hdr);
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/z", NULL, &hdr, &err), &err);
    assert_string_equal(hdr, "Bearer t2");
    free(hdr);
    assert_int_equal(srv_count(s), 2);
    assert_string_equal(s->reqs[1].target, "/token?scope=repository%3Ax%2Fy%3Apull&scope="
                                           "repository%3Ax%2Fz%3Apull&service=test-reg");
    berth_auth_free(a);
    free(ch);
    srv_stop(s);
}

static struct resp resp_post_token(struct srv *s, const struct req *r)
{
    if (strcmp(r->method, "POST") != 0)
        return (struct resp){400, "{}"};
    return (struct resp){200, "{\"access_token\":\"pt\",\"token\":\"ignored\",\"expires_in\":300}"};
}

static void test_auth_bearer_post_password_and_refresh(void **state)
{
    struct srv *s = srv_start(resp_post_token);
    struct berth_registry_creds cr = {"us er", PASSWORD};
    struct berth_auth *a = NULL;
    struct berth_err *err = NULL;
    char *hdr = NULL, *ch = challenge(s, NULL, NULL);

    assert_ok(berth_auth_new(&cr, "berth/test", &a, &err), &err);
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), &err);
    assert_string_equal(hdr, "Bearer pt");
    free(hdr);
    assert_int_equal(srv_count(s), 1);
    assert_string_equal(s->reqs[0].method, "POST");
    assert_string_equal(s->reqs[0].target, "/token");
    assert_string_equal(s->reqs[0].auth, "");
    assert_string_equal(s->reqs[0].ctype, "application/x-www-form-urlencoded; charset=utf-8");
    assert_string_equal(s->reqs[0].body,
                        "client_id=containerd-client&grant_type=password&password=" PASSWORD
                        "&scope=repository%3Ax%2Fy%3Apull&service=test-reg&username=us+er");
    berth_auth_free(a);

    /* No username: the secret is an identity token. */
    cr.username = NULL;
    cr.secret = "idtok";
    assert_ok(berth_auth_new(&cr, NULL, &a, &err), &err);
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), &err);
    assert_string_equal(hdr, "Bearer pt");
    free(hdr);
    assert_int_equal(srv_count(s), 2);
    assert_string_equal(s->reqs[1].body, "client_id=containerd-client&grant_type=refresh_token&"
                                         "refresh_token=idtok&scope=repository%3Ax%2Fy%3Apull&"
                                         "service=test-reg");
    berth_auth_free(a);
    free(ch);
    srv_stop(s);
}

static int post_status;

static struct resp resp_post_fails(struct srv *s, const struct req *r)
{
    static char body[64];
    if (strcmp(r->method, "POST") == 0)
        return (struct resp){post_status, "{\"error\":\"nope\"}"};
    snprintf(body, sizeof(body), "{\"token\":\"g%d\"}", ++token_serial);
    return (struct resp){200, body};
}

static void test_auth_bearer_post_falls_back_to_get(void **state)
{
    static const int fallback[] = {404, 401, 400, 405};
    struct srv *s = srv_start(resp_post_fails);
    struct berth_registry_creds cr = {"user", "pass"};
    struct berth_err *err = NULL;
    char *hdr = NULL, *ch = challenge(s, "repository:x/y:pull", NULL);

    for (size_t i = 0; i < BERTH_N(fallback); i++) {
        struct berth_auth *a = NULL;
        size_t before = srv_count(s);
        post_status = fallback[i];
        assert_ok(berth_auth_new(&cr, NULL, &a, &err), &err);
        assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), &err);
        assert_true(berth_str_has_prefix(hdr, "Bearer g"));
        free(hdr);
        assert_int_equal(srv_count(s), before + 2);
        assert_string_equal(s->reqs[before].method, "POST");
        assert_string_equal(s->reqs[before + 1].method, "GET");
        assert_string_equal(s->reqs[before + 1].auth, "Basic dXNlcjpwYXNz"); /* user:pass */
        berth_auth_free(a);
    }

    /* 405 falls back only with a username; 403 never does. */
    cr.username = "";
    cr.secret = "idtok";
    static const int no_fallback[] = {405, 403};
    for (size_t i = 0; i < BERTH_N(no_fallback); i++) {
        struct berth_auth *a = NULL;
        size_t before = srv_count(s);
        post_status = no_fallback[i];
        assert_ok(berth_auth_new(&cr, NULL, &a, &err), &err);
        assert_int_equal(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), -1);
        assert_null(hdr);
        assert_non_null(strstr(err->msg, "x/y"));
        assert_null(strstr(err->msg, "idtok"));
        assert_err_code(err, BERTH_E_PERMISSION_DENIED);
        assert_int_equal(srv_count(s), before + 1);
        berth_auth_free(a);
    }
    free(ch);
    srv_stop(s);
}

static const char *expiring_body;

static struct resp resp_expiring(struct srv *s, const struct req *r)
{
    ++token_serial;
    return (struct resp){200, expiring_body};
}

static void test_auth_bearer_expiry_refetches(void **state)
{
    struct srv *s = srv_start(resp_expiring);
    struct berth_auth *a = NULL;
    struct berth_err *err = NULL;
    char *hdr = NULL, *ch = challenge(s, NULL, NULL);

    /* Issued long ago: already expired when it arrives. */
    expiring_body = "{\"token\":\"old\",\"expires_in\":60,\"issued_at\":\"2000-01-01T00:00:00Z\"}";
    assert_ok(berth_auth_new(NULL, NULL, &a, &err), &err);
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), &err);
    assert_string_equal(hdr, "Bearer old");
    free(hdr);
    assert_ok(berth_auth_header(a, reg_host.host, "x/y", &hdr, &err), &err);
    assert_null(hdr); /* expired: the request goes anonymous and its 401 refetches */
    expiring_body = "{\"access_token\":\"new\",\"token\":\"tk\"}";
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), &err);
    assert_string_equal(hdr, "Bearer new"); /* access_token wins in the GET form too */
    free(hdr);
    assert_int_equal(srv_count(s), 2);
    assert_ok(berth_auth_header(a, reg_host.host, "x/y", &hdr, &err), &err);
    assert_string_equal(hdr, "Bearer new"); /* default lifetime 60 s */
    free(hdr);
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), &err);
    free(hdr);
    assert_int_equal(srv_count(s), 2);
    berth_auth_free(a);
    free(ch);
    srv_stop(s);
}

static void test_auth_bearer_rejected_token_refetched_once(void **state)
{
    struct srv *s = srv_start(resp_get_token);
    struct berth_auth *a = NULL;
    struct berth_err *err = NULL;
    char *hdr = NULL, *ch = challenge(s, NULL, NULL);
    char *ch_err = challenge(s, NULL, "\"insufficient_scope\"");

    assert_ok(berth_auth_new(NULL, NULL, &a, &err), &err);
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), &err);
    assert_string_equal(hdr, "Bearer t1");
    free(hdr);
    /* A 401 for an older token than the cached one: the cached one is used, no fetch. */
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", "Bearer t0", &hdr, &err), &err);
    assert_string_equal(hdr, "Bearer t1");
    free(hdr);
    assert_int_equal(srv_count(s), 1);
    /* The cached token rejected: dropped and fetched anew once. */
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch_err, "x/y", "Bearer t1", &hdr, &err),
              &err);
    assert_string_equal(hdr, "Bearer t2");
    free(hdr);
    assert_int_equal(srv_count(s), 2);
    /* Rejected again: fail, naming the repo and the server's error, never the token. */
    assert_int_equal(
        berth_auth_on_unauthorized(a, &reg_host, ch_err, "x/y", "Bearer t2", &hdr, &err), -1);
    assert_null(hdr);
    assert_non_null(strstr(err->msg, "pull access denied"));
    assert_non_null(strstr(err->msg, "x/y"));
    assert_non_null(strstr(err->msg, "insufficient_scope"));
    assert_null(strstr(err->msg, "t2"));
    assert_err_code(err, BERTH_E_PERMISSION_DENIED);
    assert_int_equal(srv_count(s), 2);
    assert_ok(berth_auth_header(a, reg_host.host, "x/y", &hdr, &err), &err);
    assert_null(hdr);
    berth_auth_free(a);
    free(ch);
    free(ch_err);
    srv_stop(s);
}

struct waiter {
    struct berth_auth *a;
    const char *ch;
    char *hdr;
    int ret;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    struct berth_err *err = NULL;
    w->ret = berth_auth_on_unauthorized(w->a, &reg_host, w->ch, "x/y", NULL, &w->hdr, &err);
    berth_err_free(&err);
    return NULL;
}

static void test_auth_bearer_concurrent_callers_fetch_once(void **state)
{
    struct srv *s = srv_start(resp_get_token);
    struct berth_auth *a = NULL;
    struct berth_err *err = NULL;
    char *ch = challenge(s, NULL, NULL);
    struct waiter w[6];
    pthread_t th[6];

    s->delay_ms = 300;
    assert_ok(berth_auth_new(NULL, NULL, &a, &err), &err);
    for (size_t i = 0; i < BERTH_N(w); i++) {
        w[i] = (struct waiter){a, ch, NULL, -1};
        assert_int_equal(pthread_create(&th[i], NULL, waiter_main, &w[i]), 0);
    }
    for (size_t i = 0; i < BERTH_N(w); i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ret, 0);
        assert_string_equal(w[i].hdr, "Bearer t1");
        free(w[i].hdr);
    }
    assert_int_equal(srv_count(s), 1);
    berth_auth_free(a);
    free(ch);
    srv_stop(s);
}

static void test_auth_basic(void **state)
{
    struct berth_registry_creds cr = {"user", "pass"};
    struct berth_auth *a = NULL;
    struct berth_err *err = NULL;
    char *hdr = NULL;

    assert_ok(berth_auth_new(&cr, NULL, &a, &err), &err);
    assert_ok(berth_auth_on_unauthorized(a, &reg_host, "Basic realm=\"Registry Realm\"", "x/y",
                                         NULL, &hdr, &err),
              &err);
    assert_string_equal(hdr, "Basic dXNlcjpwYXNz");
    free(hdr);
    /* Every later request to that host carries it. */
    assert_ok(berth_auth_header(a, reg_host.host, "other/repo", &hdr, &err), &err);
    assert_string_equal(hdr, "Basic dXNlcjpwYXNz");
    free(hdr);
    /* Rejected: denied, no secret in the message. */
    assert_int_equal(berth_auth_on_unauthorized(a, &reg_host, "Basic realm=\"r\"", "x/y",
                                                "Basic dXNlcjpwYXNz", &hdr, &err),
                     -1);
    assert_null(strstr(err->msg, "dXNlcjpwYXNz"));
    assert_null(strstr(err->msg, "pass"));
    assert_err_code(err, BERTH_E_PERMISSION_DENIED);
    berth_auth_free(a);

    /* Without a username (identity token) or without credentials: Basic is not used. */
    cr.username = NULL;
    assert_ok(berth_auth_new(&cr, NULL, &a, &err), &err);
    assert_int_equal(
        berth_auth_on_unauthorized(a, &reg_host, "Basic realm=\"r\"", "x/y", NULL, &hdr, &err), -1);
    assert_err_code(err, BERTH_E_PERMISSION_DENIED);
    berth_auth_free(a);
    assert_ok(berth_auth_new(NULL, NULL, &a, &err), &err);
    assert_int_equal(
        berth_auth_on_unauthorized(a, &reg_host, "Basic realm=\"r\"", "x/y", NULL, &hdr, &err), -1);
    assert_err_code(err, BERTH_E_PERMISSION_DENIED);
    /* No usable challenge at all. */
    assert_int_equal(berth_auth_on_unauthorized(a, &reg_host, "Negotiate", "x/y", NULL, &hdr, &err),
                     -1);
    assert_err_code(err, BERTH_E_PERMISSION_DENIED);
    assert_int_equal(
        berth_auth_on_unauthorized(a, &reg_host, "Bearer realm=\"x", "x/y", NULL, &hdr, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_auth_free(a);
}

static int fail_status;
static const char *fail_body;

static struct resp resp_fail(struct srv *s, const struct req *r)
{
    return (struct resp){fail_status, fail_body};
}

/* Every failure path: the right class, and neither password nor token in the message. */
static void test_auth_errors_never_hold_secrets(void **state)
{
    static const struct {
        int status;
        const char *body;
        enum berth_errc code;
    } cases[] = {
        {401, "{\"details\":\"bad password " PASSWORD "\"}", BERTH_E_PERMISSION_DENIED},
        {403, "{}", BERTH_E_PERMISSION_DENIED},
        {500, "{}", BERTH_E_UNAVAILABLE},
        {503, PASSWORD, BERTH_E_UNAVAILABLE},
        {429, "{}", BERTH_E_UNAVAILABLE},
        {200, "{\"token\":\"only-get-form\"}", BERTH_E_UNAVAILABLE}, /* POST needs access_token */
        {200, "not json " PASSWORD, BERTH_E_UNAVAILABLE},
        {200, "{\"access_token\":\"\"}", BERTH_E_UNAVAILABLE},
        {200, "{\"access_token\":\"a b\"}", BERTH_E_UNAVAILABLE},
    };
    struct srv *s = srv_start(resp_fail);
    struct berth_registry_creds cr = {"user", PASSWORD};
    struct berth_err *err = NULL;
    char *hdr = NULL, *ch = challenge(s, NULL, NULL);

    for (size_t i = 0; i < BERTH_N(cases); i++) {
        struct berth_auth *a = NULL;
        fail_status = cases[i].status;
        fail_body = cases[i].body;
        assert_ok(berth_auth_new(&cr, NULL, &a, &err), &err);
        assert_int_equal(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), -1);
        assert_null(hdr);
        if (strstr(err->msg, PASSWORD) || strstr(err->msg, "dXNlcj") ||
            strstr(err->msg, "only-get-form"))
            fail_msg("case %zu leaks: %s", i, err->msg);
        if (err->code != cases[i].code)
            fail_msg("case %zu: %s: %s", i, berth_errc_name(err->code), err->msg);
        berth_err_free(&err);
        berth_auth_free(a);
    }

    /* A challenge error param echoing the password is dropped from the message. */
    {
        struct berth_auth *a = NULL;
        char *ch_leak = challenge(s, NULL, "\"" PASSWORD "\"");
        fail_status = 200;
        fail_body = "{\"access_token\":\"tok1\"}";
        assert_ok(berth_auth_new(&cr, NULL, &a, &err), &err);
        assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), &err);
        free(hdr);
        assert_ok(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", "Bearer tok1", &hdr, &err),
                  &err);
        free(hdr);
        assert_int_equal(
            berth_auth_on_unauthorized(a, &reg_host, ch_leak, "x/y", "Bearer tok1", &hdr, &err),
            -1);
        assert_null(strstr(err->msg, PASSWORD));
        assert_null(strstr(err->msg, "tok1"));
        assert_err_code(err, BERTH_E_PERMISSION_DENIED);
        berth_auth_free(a);
        free(ch_leak);
    }

    /* Oversized body. */
    {
        struct berth_auth *a = NULL;
        char *big = berth_xmalloc(BERTH_AUTH_BODY_MAX + 100);
        memset(big, ' ', BERTH_AUTH_BODY_MAX + 99);
        big[BERTH_AUTH_BODY_MAX + 99] = '\0';
        s->big_body = big;
        fail_status = 200;
        assert_ok(berth_auth_new(&cr, NULL, &a, &err), &err);
        assert_int_equal(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), -1);
        assert_err_code(err, BERTH_E_UNAVAILABLE);
        berth_auth_free(a);
        s->big_body = NULL;
        free(big);
    }
    free(ch);
    srv_stop(s);
}

static void test_auth_bad_realm_and_unreachable(void **state)
{
    static const char *const bad[] = {
        "Bearer realm=\"/token\"", "Bearer realm=\"ftp://x/token\"", "Bearer realm=\"http://\"",
        "Bearer realm=\"token\"",  "Bearer service=\"no-realm\"",    "Bearer realm=\"http://a b/\"",
    };
    struct berth_registry_creds cr = {"user", PASSWORD};
    struct berth_err *err = NULL;
    char *hdr = NULL;

    for (size_t i = 0; i < BERTH_N(bad); i++) {
        struct berth_auth *a = NULL;
        assert_ok(berth_auth_new(NULL, NULL, &a, &err), &err);
        if (berth_auth_on_unauthorized(a, &reg_host, bad[i], "x/y", NULL, &hdr, &err) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        berth_auth_free(a);
    }

    /* A port nobody listens on: UNAVAILABLE, no secret in the message. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    char *ch =
        berth_strdup_printf("Bearer realm=\"http://127.0.0.1:%d/token\"", ntohs(sa.sin_port));
    struct berth_auth *a = NULL;
    assert_ok(berth_auth_new(&cr, NULL, &a, &err), &err);
    assert_int_equal(berth_auth_on_unauthorized(a, &reg_host, ch, "x/y", NULL, &hdr, &err), -1);
    assert_null(strstr(err->msg, PASSWORD));
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    berth_auth_free(a);
    close(fd);
    free(ch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_challenges_parse_shapes),
        cmocka_unit_test(test_auth_challenges_parse_malformed_is_invalid),
        cmocka_unit_test(test_auth_challenges_parse_garbage),
        cmocka_unit_test(test_auth_scope_build),
        cmocka_unit_test_setup(test_auth_bearer_anonymous_get, setup),
        cmocka_unit_test_setup(test_auth_bearer_post_password_and_refresh, setup),
        cmocka_unit_test_setup(test_auth_bearer_post_falls_back_to_get, setup),
        cmocka_unit_test_setup(test_auth_bearer_expiry_refetches, setup),
        cmocka_unit_test_setup(test_auth_bearer_rejected_token_refetched_once, setup),
        cmocka_unit_test_setup(test_auth_bearer_concurrent_callers_fetch_once, setup),
        cmocka_unit_test(test_auth_basic),
        cmocka_unit_test(test_auth_errors_never_hold_secrets),
        cmocka_unit_test(test_auth_bad_realm_and_unreachable),
    };
    /* The server thread writes to clients that may hang up early (oversized body test). */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
