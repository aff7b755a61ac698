/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry authentication as containerd 1.6's remotes/docker authorizer does it (Bearer token
 * flow of the distribution token spec, Basic), with token expiry honoured: WWW-Authenticate
 * parsing, scope building, token fetch (blocking libcurl easy request) and a per-pull token
 * cache. Secrets (passwords, tokens, Authorization values, form bodies) never reach an error
 * message and are wiped before their memory is freed.
 */
#ifndef BERTH_IMAGES_REMOTE_AUTH_H
#define BERTH_IMAGES_REMOTE_AUTH_H

#include <stddef.h>

#include "images/remote/hosts.h"
#include "lib/err.h"

/* Largest WWW-Authenticate value and token-server response body accepted. */
#define BERTH_AUTH_HEADER_MAX (64 * 1024)
#define BERTH_AUTH_BODY_MAX   (1024 * 1024)

enum {
    BERTH_AUTH_BASIC = 1,
    BERTH_AUTH_BEARER = 2,
};

struct berth_registry_creds {
    const char *username; /* borrowed */
    const char *secret;   /* borrowed: the password, or an identity (refresh) token when
                             username is NULL/"" */
};

struct berth_auth_challenge { /* owns every field */
    int scheme;               /* BERTH_AUTH_BASIC / BERTH_AUTH_BEARER */
    char *realm;              /* NULL when absent */
    char *service;            /* NULL when absent */
    char *scope;              /* space-separated, NULL when absent */
    char *error;              /* the `error` param ("invalid_token"), NULL when absent */
};

/*
 * Parses a WWW-Authenticate value (RFC 7235: one or more comma-separated challenges, each a
 * scheme followed by a token68 or by name=value params with token or quoted-string values,
 * backslash escapes undone; scheme and param names case-insensitive). Several header lines may
 * be joined with ", ". Challenges with schemes other than Basic and Bearer are skipped, so
 * *n may be 0. On success *out (NULL when *n is 0) is caller-owned
 * (berth_auth_challenges_free). BERTH_E_INVALID_ARGUMENT for a value that is not the RFC
 * syntax (unterminated quote, missing scheme, stray characters), longer than
 * BERTH_AUTH_HEADER_MAX or with more than 32 challenges or params per challenge; the message
 * never quotes the value.
 */
int berth_auth_challenges_parse(const char *header_value, struct berth_auth_challenge **out,
                                size_t *n, struct berth_err **err);
/* Frees n challenges and the array. NULL-safe. */
void berth_auth_challenges_free(struct berth_auth_challenge *v, size_t n);

/* The scope string a token is requested (and cached) for: the space-separated scopes of
 * challenge_scope (NULL/"" for none) plus "repository:<repo>:pull", sorted bytewise and
 * de-duplicated, joined by one space. Caller-owned. */
char *berth_auth_scope_build(const char *challenge_scope, const char *repo);

/* A per-pull authorizer: thread-safe (one mutex), one per pull session. */
struct berth_auth;

/* creds NULL (or with an empty secret) means anonymous; they are copied and the copies wiped
 * at berth_auth_free. user_agent (NULL: none) is sent to token servers. *out caller-owned.
 * Does not fail today (err reserved). */
int berth_auth_new(const struct berth_registry_creds *creds, const char *user_agent,
                   struct berth_auth **out, struct berth_err **err);
/* Wipes every secret and frees. NULL-safe; no call may be running on a. */
void berth_auth_free(struct berth_auth *a);

/*
 * The Authorization header value ("Bearer x" / "Basic y") to send to host ("host[:port]" as
 * in the request URL) for repo, or *out = NULL when nothing is known yet or the cached token
 * has expired (send the request anonymously; its 401 goes to berth_auth_on_unauthorized).
 * *out is caller-owned and holds a secret: wipe it (explicit_bzero) before free. Does not
 * fail today (err reserved).
 */
int berth_auth_header(struct berth_auth *a, const char *host, const char *repo, char **out,
                      struct berth_err **err);

/*
 * Handles a 401 from h for repo. www_authenticate is the response's WWW-Authenticate value
 * (several joined with ", "); prev_auth_header_sent is the Authorization value the rejected
 * request carried (NULL if none). Picks Bearer over Basic. Bearer: the scopes are the first
 * challenge seen for h->host plus repository:<repo>:pull (berth_auth_scope_build); a cached,
 * unexpired token for (host, scopes) other than the rejected one is returned as is; otherwise
 * one token is fetched (concurrent callers for the same key wait for it): with a secret, POST
 * the OAuth2 form to the realm (grant_type password or refresh_token), falling back to GET with
 * Basic credentials when the POST answers 404, 401, 400 or 405 (405 only with a username);
 * anonymous: GET <realm>?service=..&scope=.. . A token rejected once is dropped and fetched
 * anew once; a second rejection fails. Basic: only with a non-empty username and secret.
 * On success *out is the Authorization value to retry with (caller-owned, a secret: wipe it).
 * BERTH_E_PERMISSION_DENIED "pull access denied, repository does not exist or may require
 * authorization: <repo>" (plus the challenge's error param or the token server's status) when
 * no usable challenge or credentials exist, the token server refuses, or a retried token is
 * rejected again; BERTH_E_UNAVAILABLE when the token server cannot be reached, answers 5xx or
 * 429, or answers without a usable token; BERTH_E_INVALID_ARGUMENT for a malformed header or
 * a realm that is not an absolute http(s) URL. Messages never hold a secret.
 */
int berth_auth_on_unauthorized(struct berth_auth *a, const struct berth_registry_host *h,
                               const char *www_authenticate, const char *repo,
                               const char *prev_auth_header_sent, char **out,
                               struct berth_err **err);

#endif
