/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The berth_cni object: a reference-counted configuration snapshot (loopback + the loaded
 * networks) swapped on reload, and ADD/DEL over every network of it (go-cni Setup/Remove on
 * top of libcni AddNetworkList/DelNetworkList). Pieces live in conf.c, exec.c, result.c and
 * cache.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/cni/cni-internal.h"

struct cni_conf {
    atomic_int refs;
    struct cni_netlist *lo;
    struct cni_netlist **nets; /* NULL-terminated */
    size_t n_nets;
    char *status;
    char *first_name, *first_file; /* "" when not ready */
};

struct berth_cni {
    char *conf_dir, *bin_dir, *cache_dir;
    int max_conf_num;
    int64_t timeout_ms;
    pthread_mutex_t mu; /* guards conf (the pointer; the snapshot itself is immutable) */
    struct cni_conf *conf;
};

static void conf_put(struct cni_conf *cf)
{
    if (!cf || atomic_fetch_sub(&cf->refs, 1) != 1)
        return;
    cni_netlist_free(cf->lo);
    for (size_t i = 0; i < cf->n_nets; i++)
        cni_netlist_free(cf->nets[i]);
    free(cf->nets);
    free(cf->status);
    free(cf->first_name);
    free(cf->first_file);
    free(cf);
}
DEFINE_CLEANUP(struct cni_conf *, conf_put)

static struct cni_conf *conf_get(struct berth_cni *c)
{
    struct cni_conf *cf;

    pthread_mutex_lock(&c->mu);
    cf = c->conf;
    atomic_fetch_add(&cf->refs, 1);
    pthread_mutex_unlock(&c->mu);
    return cf;
}

static struct cni_conf *conf_read(const struct berth_cni *c)
{
    _cleanup_err_ struct berth_err *e = NULL;
    struct cni_conf *cf = berth_xcalloc(1, sizeof(*cf));

    atomic_init(&cf->refs, 1);
    if (cni_netlist_parse(CNI_LOOPBACK_CONF, strlen(CNI_LOOPBACK_CONF), true, "", &cf->lo, NULL) <
        0)
        abort(); /* a constant */
    if (cni_conf_dir_load(c->conf_dir, c->max_conf_num, &cf->nets, &cf->n_nets, &e) < 0)
        cf->status = berth_xstrdup(e->msg);
    else if (cf->n_nets == 0)
        cf->status = berth_strdup_printf("no network config found in %s", c->conf_dir);
    else
        cf->status = berth_xstrdup("OK");
    if (!cf->nets)
        cf->nets = berth_xcalloc(1, sizeof(*cf->nets));
    cf->first_name = berth_xstrdup(cf->n_nets ? cf->nets[0]->name : "");
    cf->first_file = berth_xstrdup(cf->n_nets ? cf->nets[0]->source : "");
    return cf;
}

int berth_cni_load(const struct berth_cni_opts *o, struct berth_cni **out, struct berth_err **err)
{
    struct berth_cni *c;

    (void)err; /* loading problems are reported through the status, as go-cni's Status does */
    *out = NULL;
    c = berth_xcalloc(1, sizeof(*c));
    c->conf_dir = berth_xstrdup(o && o->conf_dir ? o->conf_dir : CNI_DEFAULT_CONF_DIR);
    c->bin_dir = berth_xstrdup(o && o->bin_dir ? o->bin_dir : CNI_DEFAULT_BIN_DIR);
    c->cache_dir = berth_xstrdup(o && o->cache_dir ? o->cache_dir : CNI_DEFAULT_CACHE_DIR);
    c->max_conf_num = o && o->max_conf_num > 0 ? o->max_conf_num : 1;
    c->timeout_ms = o && o->plugin_timeout_ms > 0 ? o->plugin_timeout_ms : 60000;
    pthread_mutex_init(&c->mu, NULL);
    c->conf = conf_read(c);
    *out = c;
    return 0;
}

int berth_cni_reload(struct berth_cni *c, struct berth_err **err)
{
    struct cni_conf *fresh = conf_read(c), *old;

    (void)err;
    pthread_mutex_lock(&c->mu);
    old = c->conf;
    c->conf = fresh;
    pthread_mutex_unlock(&c->mu);
    conf_put(old);
    return 0;
}

bool berth_cni_ready(const struct berth_cni *c)
{
    _cleanup_(conf_putp) struct cni_conf *cf = conf_get((struct berth_cni *)c);
    return cf->n_nets > 0;
}

const char *berth_cni_status_message(const struct berth_cni *c)
{
    return c->conf->status;
}

char *berth_cni_status_message_dup(const struct berth_cni *c)
{
    _cleanup_(conf_putp) struct cni_conf *cf = conf_get((struct berth_cni *)c);
    return berth_xstrdup(cf->status);
}

const char *berth_cni_network_name(const struct berth_cni *c)
{
    return c->conf->first_name;
}

const char *berth_cni_network_file(const struct berth_cni *c)
{
    return c->conf->first_file;
}

void berth_cni_free(struct berth_cni *c)
{
    if (!c)
        return;
    conf_put(c->conf);
    pthread_mutex_destroy(&c->mu);
    free(c->conf_dir);
    free(c->bin_dir);
    free(c->cache_dir);
    free(c);
}

void berth_cni_result_clear(struct berth_cni_result *r)
{
    if (!r)
        return;
    free(r->ip);
    for (size_t i = 0; i < r->n_extra_ips; i++)
        free(r->extra_ips[i]);
    free(r->extra_ips);
    free(r->raw_json);
    memset(r, 0, sizeof(*r));
}

/* CNI SPEC: container ids are [a-zA-Z0-9][a-zA-Z0-9_.-]*; interface names as the kernel takes
 * them (at most 15 bytes, no '/', ':' or white space, not "." or ".."). */
static int validate(const struct berth_cni_attach *a, const char *ifname, struct berth_err **err)
{
    const char *id = a->id;
    size_t len;

    if (!id || !*id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "missing container id");
    for (const char *p = id; *p; p++) {
        bool alnum =
            (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (!alnum && (p == id || (*p != '_' && *p != '.' && *p != '-')))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid container id \"%s\"",
                                 id);
    }
    len = strlen(ifname);
    if (len == 0 || len > 15 || strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0 ||
        strpbrk(ifname, "/: \t\n"))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid interface name \"%s\"",
                             ifname);
    return 0;
}

static char *net_ifname(const char *first, size_t i)
{
    return i == 0 ? berth_xstrdup(first) : berth_strdup_printf("eth%zu", i);
}

static int plugin_failed(const struct cni_netlist *list, size_t idx, const char *verb,
                         struct berth_err **err)
{
    json_t *p = json_array_get(json_object_get(list->list, "plugins"), idx);
    const char *type = json_string_value(json_object_get(p, "type"));

    if (*list->name)
        return berth_err_wrap(err, "plugin type=\"%s\" name=\"%s\" failed (%s)", type, list->name,
                              verb);
    return berth_err_wrap(err, "plugin type=\"%s\" failed (%s)", type, verb);
}

/* libcni AddNetworkList: each plugin in order, each one's result the next one's prevResult.
 * *out is the final result (owned). */
static int add_list(const struct berth_cni *c, const struct cni_netlist *list, const char *id,
                    const char *netns, const char *ifname, const char *args, json_t *caps,
                    json_t **out, struct berth_err **err)
{
    struct cni_exec x = {"ADD", id, netns, ifname, args, c->bin_dir, c->timeout_ms};
    json_t *plugins = json_object_get(list->list, "plugins");
    _cleanup_json_ json_t *prev = NULL;

    *out = NULL;
    for (size_t i = 0; i < json_array_size(plugins); i++) {
        _cleanup_free_ char *conf = cni_plugin_conf(list, i, prev, caps);
        const char *type = json_string_value(json_object_get(json_array_get(plugins, i), "type"));
        json_t *res = NULL;

        if (cni_exec_plugin(&x, type, conf, &res, err) < 0)
            return plugin_failed(list, i, "add", err);
        if (!json_is_object(res)) {
            if (res)
                json_decref(res);
            berth_err_set(err, BERTH_E_INTERNAL, 0, "no result");
            return plugin_failed(list, i, "add", err);
        }
        if (prev)
            json_decref(prev);
        prev = res;
    }
    *out = steal_ptr(prev);
    return 0;
}

/* go-cni treats these DEL errors as "already gone" (the netns or the thing was deleted). */
static bool del_error_ignorable(const struct berth_err *e, bool no_netns)
{
    return strstr(e->msg, "not found") || (no_netns && strstr(e->msg, "no such file or directory"));
}

/* libcni DelNetworkList: plugins in reverse order, prevResult being the cached result for
 * lists of version 0.4.0 and later. best_effort goes on past every error (rollback of a
 * failed ADD) and reports the first; otherwise the first real error stops it. */
static int del_list(const struct berth_cni *c, const struct cni_netlist *list, const char *id,
                    const char *netns, const char *ifname, const char *args, json_t *caps,
                    json_t *cached, bool best_effort, struct berth_err **err)
{
    struct cni_exec x = {"DEL", id, netns, ifname, args, c->bin_dir, c->timeout_ms};
    json_t *plugins = json_object_get(list->list, "plugins");
    json_t *prev = cni_version_cmp(list->cni_version, "0.4.0") >= 0 ? cached : NULL;
    int rc = 0;

    for (size_t i = json_array_size(plugins); i-- > 0;) {
        _cleanup_free_ char *conf = cni_plugin_conf(list, i, prev, caps);
        _cleanup_err_ struct berth_err *e = NULL;
        const char *type = json_string_value(json_object_get(json_array_get(plugins, i), "type"));
        json_t *res = NULL;

        if (cni_exec_plugin(&x, type, conf, &res, &e) == 0)
            continue;
        if (!best_effort && del_error_ignorable(e, !netns || !*netns))
            continue;
        plugin_failed(list, i, "delete", &e);
        if (rc == 0) {
            *err = steal_ptr(e);
            rc = -1;
        }
        if (!best_effort)
            return -1;
    }
    return rc;
}

/* Undoes a partial ADD: every network attached so far (with the one that failed) in reverse,
 * then their cache entries. Errors are dropped: the ADD error is the one to report. */
static void rollback(const struct berth_cni *c, struct cni_netlist *const *lists,
                     char *const *ifnames, size_t n, const char *id, const char *netns,
                     const char *args, json_t *caps)
{
    for (size_t i = n; i-- > 0;) {
        _cleanup_err_ struct berth_err *e = NULL;
        _cleanup_free_ char *path = cni_cache_path(c->cache_dir, lists[i]->name, id, ifnames[i]);
        del_list(c, lists[i], id, netns, ifnames[i], args, caps, NULL, true, &e);
        unlink(path);
    }
}

int berth_cni_add(struct berth_cni *c, const struct berth_cni_attach *a,
                  struct berth_cni_result *out, struct berth_err **err)
{
    _cleanup_(conf_putp) struct cni_conf *cf = NULL;
    _cleanup_json_ json_t *caps = NULL;
    _cleanup_json_ json_t *merged = json_object();
    _cleanup_strv_ char **ips = NULL;
    struct cni_netlist **lists = NULL;
    char **ifnames = NULL;
    const char *ifname = a->ifname && *a->ifname ? a->ifname : "eth0";
    struct stat st;
    size_t n = 0, n_ips = 0;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (validate(a, ifname, err) < 0)
        return -1;
    if (!a->netns_path || !*a->netns_path)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "missing network namespace");
    if (stat(a->netns_path, &st) < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, errno, "network namespace \"%s\"",
                             a->netns_path);
    cf = conf_get(c);
    if (cf->n_nets == 0)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "cni plugin not initialized");
    if (cni_caps_build(a, &caps, err) < 0)
        return -1;

    /* Loopback first (ifname "lo"), then the networks: go-cni's order. */
    lists = berth_xcalloc(cf->n_nets + 1, sizeof(*lists));
    ifnames = berth_xcalloc(cf->n_nets + 2, sizeof(*ifnames));
    for (size_t i = 0; i <= cf->n_nets; i++) {
        _cleanup_json_ json_t *res = NULL;

        lists[i] = i == 0 ? cf->lo : cf->nets[i - 1];
        ifnames[i] = i == 0 ? berth_xstrdup("lo") : net_ifname(ifname, i - 1);
        n = i + 1;
        if (add_list(c, lists[i], a->id, a->netns_path, ifnames[i], a->args, caps, &res, err) < 0 ||
            cni_cache_write(c->cache_dir, lists[i], a->id, ifnames[i], a->args, caps, res, err) < 0)
            goto fail;
        cni_result_merge(merged, res, ifnames[i]);
        if (i == 1 &&
            cni_result_ips(res, ifnames[i], strcmp(ifnames[i], "eth0") == 0, &ips, &n_ips, err) < 0)
            goto fail;
    }
    if (n_ips == 0) {
        berth_err_set(err, BERTH_E_INTERNAL, 0, "no IP address for \"%s\" in the result of \"%s\"",
                      ifname, cf->nets[0]->name);
        goto fail;
    }
    cni_ips_select(ips, n_ips, out);
    out->raw_json = json_dumps(merged, JSON_COMPACT);
    rc = 0;
    goto done;
fail:
    rollback(c, lists, ifnames, n, a->id, a->netns_path, a->args, caps);
done:
    free(lists);
    berth_strv_free(ifnames);
    return rc;
}

int berth_cni_del(struct berth_cni *c, const struct berth_cni_attach *a, struct berth_err **err)
{
    _cleanup_(conf_putp) struct cni_conf *cf = NULL;
    _cleanup_json_ json_t *caps = NULL;
    const char *ifname = a->ifname && *a->ifname ? a->ifname : "eth0";
    const char *netns = "";
    struct stat st;

    if (validate(a, ifname, err) < 0)
        return -1;
    /* CNI allows DEL without a namespace: plugins then release what lives outside it. */
    if (a->netns_path && *a->netns_path && stat(a->netns_path, &st) == 0)
        netns = a->netns_path;
    if (cni_caps_build(a, &caps, err) < 0)
        return -1;
    cf = conf_get(c);

    /* Networks in reverse, loopback last: the reverse of ADD. With no network loaded the
     * first one's cache entry still gets its DEL. */
    for (size_t k = (cf->n_nets ? cf->n_nets : 1) + 1; k-- > 0;) {
        _cleanup_free_ char *ifn = k == 0 ? berth_xstrdup("lo") : net_ifname(ifname, k - 1);
        struct cni_netlist *loaded = k == 0 ? cf->lo : k <= cf->n_nets ? cf->nets[k - 1] : NULL;
        struct cni_cache_entry **found = NULL;
        int rc = 0;

        if (cni_cache_find(c->cache_dir, a->id, ifn, &found, err) < 0)
            return -1;
        if (!found[0] && loaded)
            rc = del_list(c, loaded, a->id, netns, ifn, a->args, caps, NULL, false, err);
        else if (!found[0])
            rc = berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "cni plugin not initialized");
        for (size_t i = 0; found[i] && rc == 0; i++) {
            struct cni_cache_entry *e = found[i];
            /* The cached args and capability args are what the ADD used; the caller's win
             * when given (containerd passes the current ones). */
            rc = del_list(c, e->config, a->id, netns, ifn, a->args ? a->args : e->args,
                          json_object_size(caps) || !e->caps ? caps : e->caps, e->result, false,
                          err);
            if (rc == 0 && unlink(e->path) < 0 && errno != ENOENT)
                rc =
                    berth_err_set(err, BERTH_E_INTERNAL, errno, "remove cni cache \"%s\"", e->path);
        }
        for (size_t i = 0; found[i]; i++)
            cni_cache_entry_free(found[i]);
        free(found);
        if (rc < 0)
            return -1;
    }
    return 0;
}
