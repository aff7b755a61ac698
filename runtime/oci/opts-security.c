/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Security options: capabilities (CRI add/drop), privileged, masked/readonly paths,
 * no_new_privs, seccomp (default profile from seccomp.c, unconfined, a localhost file) and
 * apparmor removal, following containerd 1.6's oci and pkg/cri/opts packages.
 */
#include "runtime/oci/opts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h> /* strcasecmp */

#include "lib/fs.h"
#include "lib/util.h"
#include "runtime/oci/oci-internal.h"
#include "runtime/oci/seccomp.h"

/* A localhost seccomp profile larger than this is not a profile. */
#define OCI_SECCOMP_FILE_MAX (4u << 20)

/* Capability numbers 0..40 (linux/capability.h). */
static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

static const char *const cap_sets[] = {"bounding", "effective", "permitted"};

json_t *oci_current_caps(struct berth_err **err)
{
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    unsigned long long mask = 0;
    bool found = false;
    FILE *f = fopen("/proc/self/status", "re");
    json_t *arr;

    if (!f) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"/proc/self/status\"");
        return NULL;
    }
    while (getline(&line, &cap, f) > 0)
        if (sscanf(line, "CapEff: %llx", &mask) == 1) {
            found = true;
            break;
        }
    fclose(f);
    if (!found) {
        berth_err_set(err, BERTH_E_INTERNAL, 0, "no CapEff in \"/proc/self/status\"");
        return NULL;
    }
    arr = json_array();
    for (size_t i = 0; i < BERTH_N(cap_names); i++)
        if (mask & (1ULL << i))
            json_array_append_new(arr, json_string(cap_names[i]));
    return arr;
}

static json_t *caps_of(json_t *spec)
{
    return oci_obj(oci_obj(spec, oci_order_spec, "process"), oci_order_process, "capabilities");
}

/* bounding = effective = permitted = copies of list (stolen); an empty list removes them,
 * as containerd's nil slices are omitted. */
static void caps_set_all(json_t *caps, json_t *list)
{
    for (size_t i = 0; i < BERTH_N(cap_sets); i++) {
        if (json_array_size(list))
            oci_set(caps, oci_order_caps, cap_sets[i], json_deep_copy(list));
        else
            json_object_del(caps, cap_sets[i]);
    }
    json_decref(list);
}

static ssize_t strv_json_index(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        const char *cur = json_string_value(v);
        if (cur && strcmp(cur, s) == 0)
            return (ssize_t)i;
    }
    return -1;
}

/* "net_admin" / "CAP_NET_ADMIN" -> the canonical name (static), NULL when unknown. */
static const char *cap_canonical(const char *name)
{
    char buf[64];
    size_t off = 0, n = strlen(name);

    if (n < 4 || strncasecmp(name, "CAP_", 4) != 0) {
        memcpy(buf, "CAP_", 4);
        off = 4;
    }
    if (n + off >= sizeof(buf))
        return NULL;
    for (size_t i = 0; i <= n; i++)
        buf[off + i] = (char)toupper((unsigned char)name[i]);
    for (size_t i = 0; i < BERTH_N(cap_names); i++)
        if (strcmp(cap_names[i], buf) == 0)
            return cap_names[i];
    return NULL;
}

static bool is_all(const char *s)
{
    return strcasecmp(s, "ALL") == 0;
}

static int caps_check(const char *const *v, struct berth_err **err)
{
    for (size_t i = 0; v && v[i]; i++)
        if (!is_all(v[i]) && !cap_canonical(v[i]))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "unknown capability \"%s\"",
                                 v[i]);
    return 0;
}

int berth_oci_with_capabilities(json_t *spec, const char *const *add, const char *const *drop,
                                struct berth_err **err)
{
    bool add_all = false, drop_all = false;
    json_t *caps;

    if (oci_check_spec(spec, err) < 0 || caps_check(add, err) < 0 || caps_check(drop, err) < 0)
        return -1;
    for (size_t i = 0; add && add[i]; i++)
        add_all |= is_all(add[i]);
    for (size_t i = 0; drop && drop[i]; i++)
        drop_all |= is_all(drop[i]);
    caps = caps_of(spec);
    /* "ALL" first, so single names still apply on top (add ALL + drop CHOWN). */
    if (add_all) {
        json_t *cur = oci_current_caps(err);
        if (!cur)
            return -1;
        caps_set_all(caps, cur);
    }
    if (drop_all)
        caps_set_all(caps, json_array());
    for (size_t i = 0; add && add[i]; i++) {
        const char *c = is_all(add[i]) ? NULL : cap_canonical(add[i]);
        for (size_t s = 0; c && s < BERTH_N(cap_sets); s++) {
            json_t *set = oci_arr(caps, oci_order_caps, cap_sets[s]);
            if (strv_json_index(set, c) < 0)
                json_array_append_new(set, json_string(c));
        }
    }
    for (size_t i = 0; drop && drop[i]; i++) {
        const char *c = is_all(drop[i]) ? NULL : cap_canonical(drop[i]);
        for (size_t s = 0; c && s < BERTH_N(cap_sets); s++) {
            json_t *set = json_object_get(caps, cap_sets[s]);
            ssize_t at;
            while ((at = strv_json_index(set, c)) >= 0)
                json_array_remove(set, (size_t)at);
            oci_drop_empty(caps, cap_sets[s]);
        }
    }
    /* The CRI's WithoutAmbientCaps (kubernetes#56374: keep docker's behaviour). */
    json_object_del(caps, "ambient");
    return 0;
}

/* WithWriteableSysfs / WithWriteableCgroupfs: "ro" -> "rw" on mounts of that type. */
static void mounts_rw(json_t *spec, const char *type)
{
    size_t i, j;
    json_t *m, *o;

    json_array_foreach(json_object_get(spec, "mounts"), i, m)
    {
        const char *t = json_string_value(json_object_get(m, "type"));
        if (!t || strcmp(t, type) != 0)
            continue;
        json_array_foreach(json_object_get(m, "options"), j, o)
        {
            const char *s = json_string_value(o);
            if (s && strcmp(s, "ro") == 0)
                json_array_set_new(json_object_get(m, "options"), j, json_string("rw"));
        }
    }
}

int oci_privileged_core(json_t *spec, struct berth_err **err)
{
    json_t *cur, *p, *l;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    cur = oci_current_caps(err);
    if (!cur)
        return -1;
    caps_set_all(caps_of(spec), cur);
    l = oci_obj(spec, oci_order_spec, "linux");
    json_object_del(l, "maskedPaths");
    json_object_del(l, "readonlyPaths");
    json_object_del(l, "seccomp");
    mounts_rw(spec, "sysfs");
    mounts_rw(spec, "cgroup");
    p = oci_obj(spec, oci_order_spec, "process");
    json_object_del(p, "selinuxLabel");
    json_object_del(p, "apparmorProfile");
    return 0;
}

int berth_oci_with_privileged(json_t *spec, struct berth_err **err)
{
    if (oci_privileged_core(spec, err) < 0 || berth_oci_with_host_devices(spec, err) < 0)
        return -1;
    return berth_oci_with_all_devices_allowed(spec, err);
}

static int set_paths(json_t *spec, const char *key, const char *const *v, struct berth_err **err)
{
    json_t *l, *arr;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    l = oci_obj(spec, oci_order_spec, "linux");
    if (!v || !v[0]) {
        json_object_del(l, key);
        return 0;
    }
    arr = json_array();
    for (size_t i = 0; v[i]; i++)
        json_array_append_new(arr, json_string(v[i]));
    oci_set(l, oci_order_linux, key, arr);
    return 0;
}

int berth_oci_with_masked_paths(json_t *spec, const char *const *v, struct berth_err **err)
{
    return set_paths(spec, "maskedPaths", v, err);
}

int berth_oci_with_readonly_paths(json_t *spec, const char *const *v, struct berth_err **err)
{
    return set_paths(spec, "readonlyPaths", v, err);
}

int berth_oci_with_no_new_privs(json_t *spec, bool on, struct berth_err **err)
{
    json_t *p;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    p = oci_obj(spec, oci_order_spec, "process");
    if (on)
        oci_set(p, oci_order_process, "noNewPrivileges", json_true());
    else
        json_object_del(p, "noNewPrivileges");
    return 0;
}

int berth_oci_without_apparmor(json_t *spec, struct berth_err **err)
{
    if (oci_check_spec(spec, err) < 0)
        return -1;
    json_object_del(oci_obj(spec, oci_order_spec, "process"), "apparmorProfile");
    return 0;
}

/* ---- seccomp ---- */

int berth_oci_with_seccomp_default(json_t *spec, struct berth_err **err)
{
    json_t *sc;

    if (oci_check_spec(spec, err) < 0 || berth_oci_seccomp_default_profile(spec, &sc, err) < 0)
        return -1;
    oci_set(oci_obj(spec, oci_order_spec, "linux"), oci_order_linux, "seccomp", sc);
    return 0;
}

int berth_oci_with_seccomp_unconfined(json_t *spec, struct berth_err **err)
{
    if (oci_check_spec(spec, err) < 0)
        return -1;
    json_object_del(oci_obj(spec, oci_order_spec, "linux"), "seccomp");
    return 0;
}

enum fkind { F_STR, F_INT, F_STRV, F_ARR };

struct field {
    const char *name;
    enum fkind kind;
};

/* specs-go LinuxSeccomp, LinuxSyscall and LinuxSeccompArg, in struct order. */
static const struct field seccomp_fields[] = {
    {"defaultAction", F_STR}, {"defaultErrnoRet", F_INT}, {"architectures", F_STRV},
    {"flags", F_STRV},        {"listenerPath", F_STR},    {"listenerMetadata", F_STR},
    {"syscalls", F_ARR},
};
static const struct field syscall_fields[] = {
    {"names", F_STRV}, {"action", F_STR}, {"errnoRet", F_INT}, {"args", F_ARR}};
static const struct field arg_fields[] = {
    {"index", F_INT}, {"value", F_INT}, {"valueTwo", F_INT}, {"op", F_STR}};

static bool kind_ok(const json_t *v, enum fkind k)
{
    size_t i;
    json_t *e;

    switch (k) {
    case F_STR:
        return json_is_string(v);
    case F_INT:
        return json_is_integer(v) && json_integer_value(v) >= 0;
    case F_ARR:
        return json_is_array(v);
    case F_STRV:
        if (!json_is_array(v))
            return false;
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e))
                return false;
        }
        return true;
    }
    return false;
}

/* Copies the known fields of in (JSON null = unset, as Go decodes it) in struct order into a
 * new object; NULL naming the mistyped field in *bad. */
static json_t *pick(const json_t *in, const struct field *f, size_t n, const char **bad)
{
    json_t *out;

    if (!json_is_object(in)) {
        *bad = "(not an object)";
        return NULL;
    }
    out = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(in, f[i].name);
        if (!v || json_is_null(v))
            continue;
        if (!kind_ok(v, f[i].kind)) {
            *bad = f[i].name;
            json_decref(out);
            return NULL;
        }
        json_object_set(out, f[i].name, v);
    }
    return out;
}

static json_t *seccomp_normalize(const json_t *in, const char **bad)
{
    json_t *out = pick(in, seccomp_fields, BERTH_N(seccomp_fields), bad), *calls, *sc, *c, *a;
    size_t i, j;

    if (!out)
        return NULL;
    if (!json_object_get(out, "defaultAction")) {
        *bad = "defaultAction";
        goto fail;
    }
    calls = json_object_get(out, "syscalls");
    if (!calls)
        return out;
    sc = json_array();
    json_object_set_new(out, "syscalls", sc); /* replaces the borrowed input array */
    json_array_foreach(calls, i, c)
    {
        json_t *nc = pick(c, syscall_fields, BERTH_N(syscall_fields), bad), *args, *na;
        if (!nc)
            goto fail;
        json_array_append_new(sc, nc);
        args = json_object_get(nc, "args");
        if (!args)
            continue;
        na = json_array();
        json_array_foreach(args, j, a)
        {
            json_t *x = pick(a, arg_fields, BERTH_N(arg_fields), bad);
            if (!x) {
                json_decref(na);
                goto fail;
            }
            json_array_append_new(na, x);
        }
        json_object_set_new(nc, "args", na);
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

int berth_oci_with_seccomp_file(json_t *spec, const char *path, struct berth_err **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    json_error_t jerr;
    json_t *doc, *sc;
    const char *bad = NULL;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (!path || !path[0])
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "empty seccomp profile path");
    if (berth_read_file(path, OCI_SECCOMP_FILE_MAX, &buf, &len, err) < 0) {
        if ((*err)->code == BERTH_E_OUT_OF_RANGE)
            (*err)->code = BERTH_E_INVALID_ARGUMENT;
        return berth_err_wrap(err, "seccomp profile");
    }
    doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "decode seccomp profile \"%s\": %s",
                             path, jerr.text);
    sc = seccomp_normalize(doc, &bad);
    json_decref(doc);
    if (!sc)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "seccomp profile \"%s\": invalid or missing \"%s\"", path, bad);
    oci_set(oci_obj(spec, oci_order_spec, "linux"), oci_order_linux, "seccomp", sc);
    return 0;
}
