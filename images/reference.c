/* SPDX-License-Identifier: Apache-2.0 */
/* Image reference parsing and normalization (see reference.h). The grammar is docker's
 * distribution/reference one, checked by hand rather than with regexes. */
#include "images/reference.h"

#include <ctype.h>
#include <string.h>

#include "lib/digest.h"

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DOMAIN  "index.docker.io"
#define OFFICIAL_REPO  "library/"
#define TAG_MAX        128

void berth_image_ref_clear(struct berth_image_ref *r)
{
    if (!r)
        return;
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof(*r));
}

static int bad(const char *s, const char *why, struct berth_err **err)
{
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid reference \"%s\": %s", s, why);
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* One path component: [a-z0-9]+ ((. | _ | __ | -+) [a-z0-9]+)*. */
static bool component_ok(const char *p, size_t n)
{
    size_t i = 0;

    if (n == 0 || !is_lower_alnum(p[0]) || !is_lower_alnum(p[n - 1]))
        return false;
    while (i < n) {
        if (is_lower_alnum(p[i])) {
            i++;
            continue;
        }
        size_t j = i;
        if (p[i] == '-') {
            while (j < n && p[j] == '-')
                j++;
        } else if (p[i] == '_' && i + 1 < n && p[i + 1] == '_') {
            j = i + 2;
        } else if (p[i] == '.' || p[i] == '_') {
            j = i + 1;
        } else {
            return false;
        }
        if (j >= n || !is_lower_alnum(p[j]))
            return false;
        i = j;
    }
    return true;
}

static bool path_ok(const char *p)
{
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (!component_ok(p, n))
            return false;
        if (!slash)
            return true;
        p = slash + 1;
        if (!*p)
            return false; /* trailing '/' */
    }
    return false;
}

/* host[:port], host a dotted name of [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])? labels or a
 * bracketed IPv6 address. */
static bool domain_ok(const char *d, size_t n)
{
    size_t i = 0;

    if (n == 0)
        return false;
    if (d[0] == '[') {
        while (i < n && d[i] != ']')
            i++;
        if (i == n || i < 3)
            return false;
        for (size_t k = 1; k < i; k++)
            if (!isxdigit((unsigned char)d[k]) && d[k] != ':' && d[k] != '.')
                return false;
        i++;
    } else {
        size_t start = 0;
        while (i <= n) {
            if (i == n || d[i] == '.' || d[i] == ':') {
                size_t len = i - start;
                if (len == 0 || !isalnum((unsigned char)d[start]) ||
                    !isalnum((unsigned char)d[i - 1]))
                    return false;
                for (size_t k = start; k < i; k++)
                    if (!isalnum((unsigned char)d[k]) && d[k] != '-')
                        return false;
                if (i == n || d[i] == ':')
                    break;
                start = i + 1;
            }
            i++;
        }
    }
    if (i == n)
        return true;
    if (d[i] != ':' || i + 1 == n)
        return false;
    for (size_t k = i + 1; k < n; k++)
        if (!isdigit((unsigned char)d[k]))
            return false;
    return true;
}

static bool tag_ok(const char *t)
{
    size_t n = strlen(t);

    if (n == 0 || n > TAG_MAX || !is_word(t[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_word(t[i]) && t[i] != '.' && t[i] != '-')
            return false;
    return true;
}

static bool is_hex64(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

int berth_image_ref_parse(const char *s, struct berth_image_ref *out, struct berth_err **err)
{
    _cleanup_free_ char *name = NULL;
    struct berth_image_ref r = {0};
    const char *at, *slash;
    char *colon, *remainder;
    size_t dlen;

    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid reference \"\": empty");
    if (is_hex64(s))
        return bad(s, "cannot specify 64-byte hexadecimal strings", err);
    at = strchr(s, '@');
    name = at ? berth_xstrndup(s, (size_t)(at - s)) : berth_xstrdup(s);
    if (at) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_digest_validate(at + 1, &e) < 0)
            return bad(s, "invalid digest", err);
    }
    /* A ':' after the last '/' starts the tag. */
    colon = strrchr(name, ':');
    if (colon && !strchr(colon, '/')) {
        *colon = '\0';
        if (!tag_ok(colon + 1))
            return bad(s, "invalid tag", err);
    } else {
        colon = NULL;
    }
    if (!*name)
        return bad(s, "missing repository name", err);

    slash = strchr(name, '/');
    dlen = slash ? (size_t)(slash - name) : 0;
    if (slash && (memchr(name, '.', dlen) || memchr(name, ':', dlen) ||
                  (dlen == 9 && strncmp(name, "localhost", 9) == 0) ||
                  strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") < dlen)) {
        if (!domain_ok(name, dlen))
            return bad(s, "invalid domain", err);
        r.domain = berth_xstrndup(name, dlen);
        remainder = (char *)slash + 1;
    } else {
        r.domain = berth_xstrdup(DEFAULT_DOMAIN);
        remainder = name;
    }
    if (strcmp(r.domain, LEGACY_DOMAIN) == 0) {
        free(r.domain);
        r.domain = berth_xstrdup(DEFAULT_DOMAIN);
    }
    for (const char *p = remainder; *p; p++)
        if (isupper((unsigned char)*p)) {
            berth_image_ref_clear(&r);
            return bad(s, "repository name must be lowercase", err);
        }
    if (!path_ok(remainder)) {
        berth_image_ref_clear(&r);
        return bad(s, "invalid repository name", err);
    }
    if (strcmp(r.domain, DEFAULT_DOMAIN) == 0 && !strchr(remainder, '/'))
        r.path = berth_strdup_printf(OFFICIAL_REPO "%s", remainder);
    else
        r.path = berth_xstrdup(remainder);
    /* On the normalized name, as docker's Parse does it after splitDockerDomain: "docker.io/"
     * and "library/" count, and the legacy "index.docker.io" does not. */
    if (strlen(r.domain) + 1 + strlen(r.path) > BERTH_REF_NAME_MAX) {
        berth_image_ref_clear(&r);
        return bad(s, "repository name longer than 255 characters", err);
    }
    if (at)
        r.digest = berth_xstrdup(at + 1);
    else
        r.tag = berth_xstrdup(colon ? colon + 1 : "latest");
    *out = r;
    return 0;
}

char *berth_image_ref_name(const struct berth_image_ref *r)
{
    return berth_strdup_printf("%s/%s", r->domain, r->path);
}

char *berth_image_ref_string(const struct berth_image_ref *r)
{
    if (r->digest)
        return berth_strdup_printf("%s/%s@%s", r->domain, r->path, r->digest);
    return berth_strdup_printf("%s/%s:%s", r->domain, r->path, r->tag ? r->tag : "latest");
}

char *berth_image_ref_familiar(const struct berth_image_ref *r)
{
    const char *path = r->path;

    if (strcmp(r->domain, DEFAULT_DOMAIN) != 0)
        return berth_image_ref_string(r);
    if (berth_str_has_prefix(path, OFFICIAL_REPO) && !strchr(path + strlen(OFFICIAL_REPO), '/'))
        path += strlen(OFFICIAL_REPO);
    if (r->digest)
        return berth_strdup_printf("%s@%s", path, r->digest);
    return berth_strdup_printf("%s:%s", path, r->tag ? r->tag : "latest");
}

int berth_image_ref_normalize(const char *s, char **out, struct berth_err **err)
{
    struct berth_image_ref r;

    *out = NULL;
    if (berth_image_ref_parse(s, &r, err) < 0)
        return -1;
    *out = berth_image_ref_string(&r);
    berth_image_ref_clear(&r);
    return 0;
}
