/* SPDX-License-Identifier: Apache-2.0 */
/* The shim's command line: Go's flag package syntax, which is what containerd (and anything
 * written against its shim protocol) produces. Pure code, unit tested. */
#include <string.h>

#include "runtime/shim/shim.h"

struct str_flag {
    const char *name;
    size_t off;
};

static const struct str_flag str_flags[] = {
    {"namespace", offsetof(struct berth_shim_args, ns)},
    {"id", offsetof(struct berth_shim_args, id)},
    {"address", offsetof(struct berth_shim_args, address)},
    {"publish-binary", offsetof(struct berth_shim_args, publish_binary)},
    {"bundle", offsetof(struct berth_shim_args, bundle)},
    {"socket", offsetof(struct berth_shim_args, socket)},
};

static int parse_bool(const char *name, const char *v, bool *out, struct berth_err **err)
{
    if (!v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
        return 0;
    }
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid value \"%s\" for flag -%s", v,
                         name);
}

int berth_shim_args_parse(int argc, char *const *argv, struct berth_shim_args *out,
                          struct berth_err **err)
{
    int i;

    memset(out, 0, sizeof(*out));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *eq, *val = NULL;
        char name[32];
        size_t nlen;
        bool found = false;

        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break; /* first positional argument: the action */
        a += a[1] == '-' ? 2 : 1;
        eq = strchr(a, '=');
        nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen == 0 || nlen >= sizeof(name))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "bad flag \"%s\"", argv[i]);
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        if (eq)
            val = eq + 1;
        if (strcmp(name, "debug") == 0) {
            if (parse_bool(name, val, &out->debug, err) < 0)
                return -1;
            continue;
        }
        if (strcmp(name, "v") == 0 || strcmp(name, "version") == 0) {
            if (parse_bool(name, val, &out->version, err) < 0)
                return -1;
            continue;
        }
        for (size_t k = 0; k < sizeof(str_flags) / sizeof(str_flags[0]); k++) {
            if (strcmp(name, str_flags[k].name) != 0)
                continue;
            if (!val) {
                if (i + 1 >= argc)
                    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                         "flag needs an argument: -%s", name);
                val = argv[++i];
            }
            *(const char **)((char *)out + str_flags[k].off) = val;
            found = true;
            break;
        }
        if (!found)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "flag provided but not defined: -%s", name);
    }
    if (i < argc) {
        out->action = argv[i++];
        if (strcmp(out->action, "start") != 0 && strcmp(out->action, "delete") != 0)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "unknown action \"%s\"",
                                 out->action);
    }
    if (i < argc)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "unexpected argument \"%s\"",
                             argv[i]);
    if (out->version)
        return 0;
    if (!out->ns || !*out->ns)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "shim namespace cannot be empty");
    if (!out->id || !*out->id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "shim id cannot be empty");
    return 0;
}
