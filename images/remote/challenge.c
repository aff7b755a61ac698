/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WWW-Authenticate parsing for the registry authorizer (auth.h): RFC 7235 section 4.1 with
 * RFC 9110 section 11's grammar, bounded (at most 32 challenges and 32 parameters each) and
 * strict about control characters, since the header comes from any server.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h> /* strcasecmp */

#include "images/remote/auth.h"
#include "lib/util.h"

#define MAX_CHALLENGES 32
#define MAX_PARAMS     32

/* ---- WWW-Authenticate parsing (RFC 7235 section 4.1, RFC 9110 section 11) ---- */

static bool is_tchar(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_t68char(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("-._~+/", c));
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static const char *skip_token(const char *p)
{
    while (is_tchar(*p))
        p++;
    return p;
}

/* A quoted-string at p ('"'); *out gets the unescaped text. NULL when unterminated. */
static const char *parse_quoted(const char *p, char **out)
{
    size_t n = 0;
    char *buf = berth_xmalloc(strlen(p) + 1);

    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\') {
            p++;
            if (!*p)
                break;
        }
        buf[n++] = *p;
    }
    if (*p != '"') {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *out = buf;
    return p + 1;
}

static void challenge_clear(struct berth_auth_challenge *c)
{
    free(c->realm);
    free(c->service);
    free(c->scope);
    free(c->error);
    memset(c, 0, sizeof(*c));
}

void berth_auth_challenges_free(struct berth_auth_challenge *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        challenge_clear(&v[i]);
    free(v);
}

static int syntax_err(struct berth_err **err, const char *why)
{
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "malformed WWW-Authenticate header: %s",
                         why);
}

/* Does a name=value param start at p (token, BWS, '=')? Otherwise a new challenge does. */
static bool param_starts(const char *p)
{
    const char *e = skip_token(p);
    return e != p && *skip_ows(e) == '=';
}

int berth_auth_challenges_parse(const char *header_value, struct berth_auth_challenge **out,
                                size_t *n, struct berth_err **err)
{
    struct berth_auth_challenge *v = NULL;
    size_t nv = 0, seen = 0;
    const char *p = header_value;

    *out = NULL;
    *n = 0;
    if (!p)
        return syntax_err(err, "empty");
    if (strlen(p) > BERTH_AUTH_HEADER_MAX)
        return syntax_err(err, "too long");
    for (const char *c = p; *c; c++)
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            return syntax_err(err, "control character");

    for (;;) {
        /* #rule: empty list elements and OWS around commas are allowed. */
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (++seen > MAX_CHALLENGES) {
            berth_auth_challenges_free(v, nv);
            return syntax_err(err, "too many challenges");
        }
        const char *s = p, *e = skip_token(p);
        if (e == s) {
            berth_auth_challenges_free(v, nv);
            return syntax_err(err, "expected an authentication scheme");
        }
        struct berth_auth_challenge ch = {0};
        if (e - s == 5 && strncasecmp(s, "basic", 5) == 0)
            ch.scheme = BERTH_AUTH_BASIC;
        else if (e - s == 6 && strncasecmp(s, "bearer", 6) == 0)
            ch.scheme = BERTH_AUTH_BEARER;
        p = e;
        if (*p != ' ' && *p != '\t' && *p != ',' && *p) {
            berth_auth_challenges_free(v, nv);
            return syntax_err(err, "bad character after the scheme");
        }
        p = skip_ows(p);

        /* token68: only as the whole credential part, followed by ',' or the end. */
        const char *t = p;
        while (is_t68char(*t))
            t++;
        if (t != p) {
            while (*t == '=')
                t++;
            const char *after = skip_ows(t);
            if (*after == ',' || !*after) {
                p = after;
                goto push;
            }
        }

        for (size_t np = 0; *p && *p != ',' && param_starts(p); np++) {
            const char *ns = p, *ne = skip_token(p);
            char *val = NULL;
            if (np >= MAX_PARAMS) {
                challenge_clear(&ch);
                berth_auth_challenges_free(v, nv);
                return syntax_err(err, "too many parameters");
            }
            p = skip_ows(skip_ows(ne) + 1);
            if (*p == '"') {
                p = parse_quoted(p, &val);
                if (!p) {
                    challenge_clear(&ch);
                    berth_auth_challenges_free(v, nv);
                    return syntax_err(err, "unterminated quoted string");
                }
            } else {
                const char *ve = skip_token(p);
                if (ve == p) {
                    challenge_clear(&ch);
                    berth_auth_challenges_free(v, nv);
                    return syntax_err(err, "expected a parameter value");
                }
                val = berth_xstrndup(p, (size_t)(ve - p));
                p = ve;
            }
            char **slot = NULL;
            size_t nl = (size_t)(ne - ns);
            if (nl == 5 && strncasecmp(ns, "realm", 5) == 0)
                slot = &ch.realm;
            else if (nl == 7 && strncasecmp(ns, "service", 7) == 0)
                slot = &ch.service;
            else if (nl == 5 && strncasecmp(ns, "scope", 5) == 0)
                slot = &ch.scope;
            else if (nl == 5 && strncasecmp(ns, "error", 5) == 0)
                slot = &ch.error;
            /* RFC 7235 lets a name occur once; on a repeat the first one counts. */
            if (slot && !*slot)
                *slot = steal_ptr(val);
            free(val);
            p = skip_ows(p);
            if (*p && *p != ',') {
                challenge_clear(&ch);
                berth_auth_challenges_free(v, nv);
                return syntax_err(err, "expected ',' after a parameter");
            }
            /* Past the comma: another param of this challenge, or the next challenge. */
            if (*p == ',') {
                const char *q = p;
                while (*q == ',' || *q == ' ' || *q == '\t')
                    q++;
                if (!param_starts(q))
                    break;
                p = q;
            }
        }
        if (*p && *p != ',') {
            challenge_clear(&ch);
            berth_auth_challenges_free(v, nv);
            return syntax_err(err, "unexpected text in a challenge");
        }
    push:
        if (ch.scheme == 0) {
            challenge_clear(&ch);
            continue;
        }
        v = berth_xrealloc(v, (nv + 1) * sizeof(*v));
        v[nv++] = ch;
    }
    if (seen == 0)
        return syntax_err(err, "no challenge");
    *out = v;
    *n = nv;
    return 0;
}
