/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl argument helpers: verb dispatch, usage errors, per-verb getopt, Go-style durations
 * and k=v label arguments. Pure functions apart from getopt's global state.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

int berthctl_usage(struct berthctl *ctl, struct berth_err **err, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = berth_strdup_vprintf(fmt, ap);
    va_end(ap);
    ctl->usage_error = true;
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "%s", msg);
}

int berthctl_dispatch(struct berthctl *ctl, const struct berthctl_verb *verbs, size_t n, int argc,
                      char **argv, struct berth_err **err)
{
    if (argc < 1)
        return berthctl_usage(ctl, err, "missing command");
    for (size_t i = 0; i < n; i++)
        if (strcmp(argv[0], verbs[i].name) == 0 ||
            (verbs[i].alias && strcmp(argv[0], verbs[i].alias) == 0))
            return verbs[i].run(ctl, argc, argv, err);
    return berthctl_usage(ctl, err, "unknown command \"%s\"", argv[0]);
}

void berthctl_getopt_reset(void)
{
    optind = 0; /* glibc: reinitialise, so each verb can parse its own argv */
    opterr = 0; /* errors are reported by berthctl_bad_option() */
}

int berthctl_bad_option(struct berthctl *ctl, int c, char **argv, struct berth_err **err)
{
    const char *arg = argv[optind - 1];

    if (c == ':')
        return berthctl_usage(ctl, err, "option \"%s\" needs an argument", arg);
    if (optopt)
        return berthctl_usage(ctl, err, "unknown option \"-%c\"", optopt);
    return berthctl_usage(ctl, err, "unknown option \"%s\"", arg);
}

int berthctl_quiet_opt(struct berthctl *ctl, int argc, char **argv, bool *quiet,
                       struct berth_err **err)
{
    static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'}, {0}};
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:q", opts, NULL)) != -1) {
        if (c != 'q')
            return berthctl_bad_option(ctl, c, argv, err);
        *quiet = true;
    }
    return 0;
}

/* Units as Go's time.ParseDuration, in nanoseconds. */
static const struct {
    const char *name;
    double ns;
} units[] = {
    {"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
};

static int unit_parse(const char **p, double *ns)
{
    size_t best = 0;
    int found = -1;

    for (size_t i = 0; i < BERTH_N(units); i++) {
        size_t l = strlen(units[i].name);
        if (strncmp(*p, units[i].name, l) == 0 && l > best) {
            best = l;
            found = (int)i;
        }
    }
    if (found < 0)
        return -1;
    *ns = units[found].ns;
    *p += best;
    return 0;
}

int berthctl_duration_parse(const char *s, int64_t *ms, struct berth_err **err)
{
    const char *p = s;
    double total = 0, unit;

    if (!s || !*s)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid duration \"\"");
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    while (*p) {
        double v = 0, scale = 1;
        bool any = false;

        /* [digits][.digits] then a unit; no sign, exponent or hex (unlike strtod) */
        for (; isdigit((unsigned char)*p); p++, any = true)
            v = v * 10 + (*p - '0');
        if (*p == '.')
            for (p++; isdigit((unsigned char)*p); p++, any = true)
                v += (*p - '0') * (scale /= 10);
        if (!any || unit_parse(&p, &unit) < 0)
            goto bad;
        total += v * unit;
    }
    if (!isfinite(total) || total / 1e6 > (double)INT64_MAX)
        goto bad;
    *ms = (int64_t)(total / 1e6);
    if (*ms == 0 && total > 0)
        *ms = 1;
    return 0;
bad:
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                         "invalid duration \"%s\" (want e.g. 10s, 500ms, 1m30s)", s);
}

int berthctl_kv_parse(const char *s, bool require_eq, char **key, char **val,
                      struct berth_err **err)
{
    const char *eq = strchr(s, '=');

    *key = *val = NULL;
    if (!eq && require_eq)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "invalid label \"%s\": want key=value", s);
    if (eq == s || !*s)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid label \"%s\": empty key",
                             s);
    *key = eq ? berth_xstrndup(s, (size_t)(eq - s)) : berth_xstrdup(s);
    *val = berth_xstrdup(eq ? eq + 1 : "");
    return 0;
}

void berthctl_kvs_clear(struct berthctl_kvs *kv)
{
    for (size_t i = 0; i < kv->n; i++) {
        free(kv->keys[i]);
        free(kv->vals[i]);
    }
    free(kv->keys);
    free(kv->vals);
    memset(kv, 0, sizeof(*kv));
}

int berthctl_kvs_add(struct berthctl_kvs *kv, const char *arg, bool require_eq,
                     struct berth_err **err)
{
    char *k, *v;

    if (berthctl_kv_parse(arg, require_eq, &k, &v, err) < 0)
        return -1;
    for (size_t i = 0; i < kv->n; i++) {
        if (strcmp(kv->keys[i], k) == 0) {
            free(k);
            free(kv->vals[i]);
            kv->vals[i] = v;
            return 0;
        }
    }
    kv->keys = berth_xrealloc(kv->keys, (kv->n + 1) * sizeof(char *));
    kv->vals = berth_xrealloc(kv->vals, (kv->n + 1) * sizeof(char *));
    kv->keys[kv->n] = k;
    kv->vals[kv->n] = v;
    kv->n++;
    return 0;
}
