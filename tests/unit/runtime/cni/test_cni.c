/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/cni/cni.c: loading and reloading, ADD/DEL ordering, prevResult chaining,
 * capabilities, the cache and rollback with shell-script plugins; then the real Debian plugins
 * (bridge, host-local, portmap, loopback from /usr/lib/cni; root) in a private "host" network
 * namespace of this test process, so bridges, iptables rules and ip_forward vanish with it. */
#include "tests/unit/helpers/berth_test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "runtime/cni/cni-internal.h"
#include "runtime/cni/cni.h"
#include "runtime/cni/netns.h"

#define REAL_BIN_DIR "/usr/lib/cni"

struct fx {
    char *dir, *conf, *bin, *cache, *log, *netns;
};

static int fx_setup(void **state)
{
    struct berth_test_env *env;
    struct fx *f = berth_xcalloc(1, sizeof(*f));

    if (berth_test_setup_tmpdir((void **)&env) < 0)
        return -1;
    f->dir = steal_ptr(env->dir);
    free(env);
    f->conf = berth_strdup_printf("%s/net.d", f->dir);
    f->bin = berth_strdup_printf("%s/bin", f->dir);
    f->cache = berth_strdup_printf("%s/cache", f->dir);
    f->log = berth_strdup_printf("%s/log", f->dir);
    f->netns = berth_strdup_printf("%s/fake-netns", f->dir);
    mkdir(f->conf, 0755);
    mkdir(f->bin, 0755);
    mkdir(f->log, 0755);
    fclose(fopen(f->netns, "w"));
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    _cleanup_free_ char *nsdir = berth_strdup_printf("%s/netns", f->dir);
    DIR *d = opendir(nsdir);
    struct dirent *de;

    /* A failed assertion leaves namespaces pinned: unmount them, or rm -rf cannot work. */
    while (d && (de = readdir(d))) {
        _cleanup_free_ char *p = berth_strdup_printf("%s/%s", nsdir, de->d_name);
        if (de->d_name[0] != '.')
            berth_netns_remove(p, NULL);
    }
    if (d)
        closedir(d);
    berth_test_rmrf(f->dir);
    free(f->dir);
    free(f->conf);
    free(f->bin);
    free(f->cache);
    free(f->log);
    free(f->netns);
    free(f);
    return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", dir, name);
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* The whole file ("" when absent): /proc/self/mountinfo can be large on a busy host. */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    size_t cap = 65536, len = 0, n;
    char *buf = berth_xcalloc(1, cap);

    if (!fp)
        return buf;
    while ((n = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
        len += n;
        if (len + 1 == cap) {
            buf = berth_xrealloc(buf, cap * 2);
            cap *= 2;
        }
    }
    buf[len] = 0;
    fclose(fp);
    return buf;
}

/* A plugin that saves its stdin as log/<seq>-<command>-<type>-<ifname> and, for ADD, prints
 * result (or fails with a CNI error when result is NULL). */
static void fake_plugin(const struct fx *f, const char *type, const char *result)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", f->bin, type);
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fprintf(fp,
            "#!/bin/sh\nn=$(ls %s | wc -l)\n"
            "cat > %s/$(printf %%03d $n)-$CNI_COMMAND-%s-$CNI_IFNAME\n",
            f->log, f->log, type);
    if (result)
        fprintf(fp, "[ \"$CNI_COMMAND\" = ADD ] && echo '%s'\nexit 0\n", result);
    else
        fprintf(fp, "[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
                    "echo '{\"code\":100,\"msg\":\"nope\",\"details\":\"on purpose\"}'\nexit 1\n");
    fclose(fp);
    assert_int_equal(chmod(path, 0755), 0);
}

static const char lo_result[] = "{\"cniVersion\":\"0.3.1\",\"interfaces\":[{\"name\":\"lo\"}],"
                                "\"ips\":[{\"version\":\"4\",\"interface\":0,"
                                "\"address\":\"127.0.0.1/8\"}]}";
static const char ip_result[] =
    "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"br\"},{\"name\":\"eth0\","
    "\"sandbox\":\"/x\"}],\"ips\":[{\"interface\":1,\"address\":\"fd00::2/64\"},"
    "{\"interface\":1,\"address\":\"10.9.0.2/24\",\"gateway\":\"10.9.0.1\"}]}";

static void fake_plugins(const struct fx *f)
{
    fake_plugin(f, "loopback", lo_result);
    fake_plugin(f, "ipfake", ip_result);
    fake_plugin(f, "chain", ip_result);
    fake_plugin(f, "other", ip_result);
    fake_plugin(f, "failer", NULL);
}

/* The log as "COMMAND-type-ifname" lines, in call order. */
static char *calls(const struct fx *f)
{
    struct dirent **names = NULL;
    int n = scandir(f->log, &names, NULL, alphasort);
    char *out = berth_xstrdup("");

    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char *next = berth_strdup_printf("%s%s\n", out, names[i]->d_name + 4);
            free(out);
            out = next;
        }
        free(names[i]);
    }
    free(names);
    return out;
}

static json_t *logged_stdin(const struct fx *f, int seq)
{
    struct dirent **names = NULL;
    int n = scandir(f->log, &names, NULL, alphasort);
    json_t *j = NULL;
    int k = 0;

    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.' && k++ == seq) {
            _cleanup_free_ char *p = berth_strdup_printf("%s/%s", f->log, names[i]->d_name);
            j = json_load_file(p, 0, NULL);
        }
        free(names[i]);
    }
    free(names);
    assert_non_null(j);
    return j;
}

static void clear_log(const struct fx *f)
{
    berth_test_rmrf(f->log);
    mkdir(f->log, 0755);
}

static int cache_files(const struct fx *f)
{
    _cleanup_free_ char *dir = berth_strdup_printf("%s/results", f->cache);
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static struct berth_cni *load(const struct fx *f, const char *bin_dir)
{
    struct berth_cni_opts o = {f->conf, bin_dir ? bin_dir : f->bin, f->cache, 1, 10000};
    struct berth_cni *c = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_cni_load(&o, &c, &err), &err);
    return c;
}

static void test_cni_load_not_ready_then_reload(void **state)
{
    struct fx *f = *state;
    struct berth_cni *c = load(f, NULL);
    struct berth_err *err = NULL;
    struct berth_cni_result r = {0};
    struct berth_cni_attach a = {.id = "sb1", .netns_path = f->netns};
    _cleanup_free_ char *want = berth_strdup_printf("no network config found in %s", f->conf);
    char *dup;

    assert_false(berth_cni_ready(c));
    assert_string_equal(berth_cni_status_message(c), want);
    assert_string_equal(berth_cni_network_name(c), "");
    assert_int_equal(berth_cni_add(c, &a, &r, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    /* Nothing cached and nothing loaded: DEL cannot know what to undo. */
    assert_int_equal(berth_cni_del(c, &a, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);

    write_file(f->conf, "10-broken.conflist", "{\"name\":\"n\",\"plugins\":[}");
    assert_ok(berth_cni_reload(c, &err), &err);
    assert_false(berth_cni_ready(c));
    assert_non_null(strstr(berth_cni_status_message(c), "10-broken.conflist"));

    write_file(f->conf, "05-good.conf",
               "{\"cniVersion\":\"1.0.0\",\"name\":\"good\",\"type\":\"ipfake\"}");
    assert_ok(berth_cni_reload(c, &err), &err);
    assert_true(berth_cni_ready(c));
    assert_string_equal(berth_cni_status_message(c), "OK");
    assert_string_equal(berth_cni_network_name(c), "good");
    assert_non_null(strstr(berth_cni_network_file(c), "/05-good.conf"));
    dup = berth_cni_status_message_dup(c);
    assert_string_equal(dup, "OK");
    free(dup);
    berth_cni_free(c);
}

static void test_cni_add_del_chain_cache_and_config_change(void **state)
{
    static const char *const servers[] = {"10.10.10.10", NULL};
    struct fx *f = *state;
    const struct berth_cni_port ports[] = {{"tcp", 80, 12000, NULL}};
    const struct berth_cni_dns dns = {servers, NULL, NULL};
    struct berth_cni_attach a = {.id = "sb1",
                                 .netns_path = f->netns,
                                 .args = "IgnoreUnknown=1;K8S_POD_NAME=p",
                                 .ports = ports,
                                 .n_ports = 1,
                                 .dns = &dns};
    struct berth_err *err = NULL;
    struct berth_cni_result r = {0};
    struct berth_cni *c = NULL;
    _cleanup_free_ char *log1 = NULL, *log2 = NULL, *log3 = NULL;
    _cleanup_json_ json_t *lo_in = NULL, *ip_in = NULL, *chain_in = NULL, *raw = NULL;
    _cleanup_json_ json_t *del_chain = NULL, *del_lo = NULL;

    fake_plugins(f);
    write_file(f->conf, "10-net.conflist",
               "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"plugins\":[{\"type\":\"ipfake\"},"
               "{\"type\":\"chain\",\"capabilities\":{\"portMappings\":true,\"dns\":true,"
               "\"bandwidth\":true}}]}");
    c = load(f, NULL);
    assert_ok(berth_cni_add(c, &a, &r, &err), &err);
    assert_string_equal(r.ip, "10.9.0.2"); /* IPv4 first */
    assert_int_equal(r.n_extra_ips, 1);
    assert_string_equal(r.extra_ips[0], "fd00::2");
    raw = json_loads(r.raw_json, 0, NULL);
    assert_non_null(json_object_get(json_object_get(raw, "Interfaces"), "eth0"));
    assert_non_null(json_object_get(json_object_get(raw, "Interfaces"), "lo"));
    berth_cni_result_clear(&r);
    assert_null(r.ip);

    log1 = calls(f);
    assert_string_equal(log1, "ADD-loopback-lo\nADD-ipfake-eth0\nADD-chain-eth0\n");
    lo_in = logged_stdin(f, 0);
    ip_in = logged_stdin(f, 1);
    chain_in = logged_stdin(f, 2);
    assert_string_equal(json_string_value(json_object_get(lo_in, "name")), "cni-loopback");
    assert_null(json_object_get(ip_in, "prevResult"));
    assert_null(json_object_get(ip_in, "runtimeConfig"));
    /* The chained plugin gets the previous plugin's result. */
    {
        _cleanup_json_ json_t *want = json_loads(ip_result, 0, NULL);
        assert_true(json_equal(json_object_get(chain_in, "prevResult"), want));
    }
    assert_int_equal(
        json_integer_value(json_object_get(
            json_array_get(
                json_object_get(json_object_get(chain_in, "runtimeConfig"), "portMappings"), 0),
            "hostPort")),
        12000);
    assert_non_null(json_object_get(json_object_get(chain_in, "runtimeConfig"), "dns"));
    /* bandwidth declared but not supplied: not passed. */
    assert_null(json_object_get(json_object_get(chain_in, "runtimeConfig"), "bandwidth"));
    assert_int_equal(cache_files(f), 2);

    /* The config changes while the pod runs: DEL still undoes what ADD did, from the cache. */
    clear_log(f);
    {
        _cleanup_free_ char *old = berth_strdup_printf("%s/10-net.conflist", f->conf);
        unlink(old);
    }
    write_file(f->conf, "20-other.conflist",
               "{\"cniVersion\":\"1.0.0\",\"name\":\"other\",\"plugins\":[{\"type\":\"other\"}]}");
    assert_ok(berth_cni_reload(c, &err), &err);
    assert_string_equal(berth_cni_network_name(c), "other");
    a.ports = NULL;
    a.n_ports = 0;
    a.dns = NULL;
    assert_ok(berth_cni_del(c, &a, &err), &err);
    log2 = calls(f);
    assert_string_equal(log2, "DEL-chain-eth0\nDEL-ipfake-eth0\nDEL-loopback-lo\n");
    /* 1.0.0 list: DEL gets the cached result and the cached capability args; the 0.3.1
     * loopback list gets no prevResult. */
    del_chain = logged_stdin(f, 0);
    del_lo = logged_stdin(f, 2);
    assert_non_null(json_object_get(del_chain, "prevResult"));
    assert_non_null(json_object_get(json_object_get(del_chain, "runtimeConfig"), "portMappings"));
    assert_null(json_object_get(del_lo, "prevResult"));
    assert_int_equal(cache_files(f), 0);

    /* Again, with nothing cached: the loaded config, no prevResult; still fine. */
    clear_log(f);
    a.netns_path = "/nonexistent/netns";
    assert_ok(berth_cni_del(c, &a, &err), &err);
    log3 = calls(f);
    assert_string_equal(log3, "DEL-other-eth0\nDEL-loopback-lo\n");
    berth_cni_free(c);
}

static void test_cni_del_uses_cache_when_not_ready(void **state)
{
    struct fx *f = *state;
    struct berth_cni_attach a = {.id = "sb2", .netns_path = f->netns};
    struct berth_err *err = NULL;
    struct berth_cni_result r = {0};
    struct berth_cni *c = NULL;
    _cleanup_free_ char *conf = berth_strdup_printf("%s/10-net.conf", f->conf);
    _cleanup_free_ char *log = NULL;

    fake_plugins(f);
    write_file(f->conf, "10-net.conf",
               "{\"cniVersion\":\"0.4.0\",\"name\":\"net\",\"type\":\"ipfake\"}");
    c = load(f, NULL);
    assert_ok(berth_cni_add(c, &a, &r, &err), &err);
    berth_cni_result_clear(&r);
    unlink(conf);
    assert_ok(berth_cni_reload(c, &err), &err);
    assert_false(berth_cni_ready(c));
    clear_log(f);
    assert_ok(berth_cni_del(c, &a, &err), &err);
    log = calls(f);
    assert_string_equal(log, "DEL-ipfake-eth0\nDEL-loopback-lo\n");
    assert_int_equal(cache_files(f), 0);
    berth_cni_free(c);
}

static void test_cni_add_failure_rolls_back(void **state)
{
    struct fx *f = *state;
    struct berth_cni_attach a = {.id = "sb3", .netns_path = f->netns};
    struct berth_err *err = NULL;
    struct berth_cni_result r = {0};
    struct berth_cni *c = NULL;
    _cleanup_free_ char *log1 = NULL, *log2 = NULL;

    fake_plugins(f);
    write_file(f->conf, "10-net.conflist",
               "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"plugins\":[{\"type\":\"ipfake\"},"
               "{\"type\":\"failer\"},{\"type\":\"chain\"}]}");
    c = load(f, NULL);
    assert_int_equal(berth_cni_add(c, &a, &r, &err), -1);
    assert_null(r.ip);
    assert_string_equal(err->msg,
                        "plugin type=\"failer\" name=\"net\" failed (add): nope; on purpose");
    assert_err_code(err, BERTH_E_INTERNAL);
    log1 = calls(f);
    assert_string_equal(log1, "ADD-loopback-lo\nADD-ipfake-eth0\nADD-failer-eth0\n"
                              "DEL-chain-eth0\nDEL-failer-eth0\nDEL-ipfake-eth0\n"
                              "DEL-loopback-lo\n");
    assert_int_equal(cache_files(f), 0);
    berth_cni_free(c);

    /* A missing plugin: NOT_FOUND naming it, and the same cleanup. */
    clear_log(f);
    write_file(f->conf, "10-net.conflist",
               "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"plugins\":[{\"type\":\"ipfake\"},"
               "{\"type\":\"nosuch\"}]}");
    c = load(f, NULL);
    assert_int_equal(berth_cni_add(c, &a, &r, &err), -1);
    assert_non_null(strstr(err->msg, "failed to find plugin \"nosuch\""));
    assert_err_code(err, BERTH_E_NOT_FOUND);
    log2 = calls(f);
    assert_string_equal(log2, "ADD-loopback-lo\nADD-ipfake-eth0\nDEL-ipfake-eth0\n"
                              "DEL-loopback-lo\n");
    assert_int_equal(cache_files(f), 0);
    berth_cni_free(c);
}

static void test_cni_add_bad_input(void **state)
{
    struct fx *f = *state;
    struct berth_cni_attach a = {.id = "sb4", .netns_path = f->netns};
    struct berth_err *err = NULL;
    struct berth_cni_result r = {0};
    struct berth_cni *c = NULL;
    _cleanup_free_ char *log = NULL;

    fake_plugins(f);
    write_file(f->conf, "10-net.conf",
               "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"type\":\"ipfake\"}");
    c = load(f, NULL);
    a.id = "-bad";
    assert_int_equal(berth_cni_add(c, &a, &r, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    a.id = "sb4";
    a.ifname = "eth0/x";
    assert_int_equal(berth_cni_add(c, &a, &r, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    a.ifname = NULL;
    a.netns_path = "/nonexistent/netns";
    assert_int_equal(berth_cni_add(c, &a, &r, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    a.netns_path = NULL;
    assert_int_equal(berth_cni_add(c, &a, &r, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    a.netns_path = f->netns;
    a.capabilities_json = "nope";
    assert_int_equal(berth_cni_add(c, &a, &r, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    log = calls(f);
    assert_string_equal(log, ""); /* no plugin ran */
    berth_cni_free(c);
}

struct par_arg {
    struct berth_cni *c;
    const char *id, *netns;
    int rc;
};

static void *par_add(void *p)
{
    struct par_arg *pa = p;
    struct berth_cni_attach a = {.id = pa->id, .netns_path = pa->netns};
    struct berth_cni_result r = {0};
    struct berth_err *err = NULL;

    for (int i = 0; i < 5 && pa->rc == 0; i++) {
        pa->rc = berth_cni_add(pa->c, &a, &r, &err);
        berth_cni_result_clear(&r);
        if (pa->rc == 0)
            pa->rc = berth_cni_del(pa->c, &a, &err);
        /* a reload from another thread must not disturb calls in flight */
        if (pa->rc == 0 && i == 2)
            pa->rc = berth_cni_reload(pa->c, &err);
    }
    berth_err_free(&err);
    return NULL;
}

static void test_cni_concurrent_ids(void **state)
{
    struct fx *f = *state;
    struct berth_cni *c = NULL;
    struct par_arg args[3];
    pthread_t th[3];
    static const char *const ids[] = {"p1", "p2", "p3"};

    fake_plugins(f);
    write_file(f->conf, "10-net.conf",
               "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"type\":\"ipfake\"}");
    c = load(f, NULL);
    for (int i = 0; i < 3; i++) {
        args[i] = (struct par_arg){c, ids[i], f->netns, 0};
        assert_int_equal(pthread_create(&th[i], NULL, par_add, &args[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    assert_int_equal(cache_files(f), 0);
    berth_cni_free(c);
}

/* ---- real plugins ---- */

struct addr_q {
    const char *ifname, *want;
    bool found;
};

static int find_addr_cb(void *arg)
{
    struct addr_q *q = arg;
    struct ifaddrs *ifa = NULL;
    char buf[INET_ADDRSTRLEN];

    if (getifaddrs(&ifa) < 0)
        return -1;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, q->ifname))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof(buf));
        q->found = q->found || strcmp(buf, q->want) == 0;
    }
    freeifaddrs(ifa);
    return 0;
}

struct sock_q {
    const char *ip;
    int fd;
};

static int listen_cb(void *arg)
{
    struct sock_q *q = arg;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5000)};

    q->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (q->fd < 0 || bind(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(q->fd, 4) < 0)
        return -1;
    return 0;
}

static int connect_cb(void *arg)
{
    struct sock_q *q = arg;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5000)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

    inet_pton(AF_INET, q->ip, &sa.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    return rc;
}

static bool file_exists(const char *dir, const char *name)
{
    _cleanup_free_ char *p = berth_strdup_printf("%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* host-local's store holds only its lock and last-reserved markers: no allocation. */
static int ipam_allocations(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.' && strcmp(de->d_name, "lock") != 0 &&
             !berth_str_has_prefix(de->d_name, "last_reserved_ip");
    if (d)
        closedir(d);
    return n;
}

static int veth_count(void)
{
    struct if_nameindex *ifs = if_nameindex(), *i;
    int n = 0;

    for (i = ifs; i && i->if_index; i++)
        n += berth_str_has_prefix(i->if_name, "veth");
    if_freenameindex(ifs);
    return n;
}

static bool nat_rules_mention(const char *what)
{
    FILE *p = popen("iptables -t nat -S 2>/dev/null", "r");
    char line[1024];
    bool found = false;

    assert_non_null(p);
    while (fgets(line, sizeof(line), p))
        found = found || strstr(line, what) != NULL;
    pclose(p);
    return found;
}

static bool mounted_under(const char *dir)
{
    _cleanup_free_ char *text = slurp("/proc/self/mountinfo");
    return strstr(text, dir) != NULL;
}

static void write_real_conf(const char *conf_dir, const char *file, const char *name,
                            const char *bridge, int subnet, const char *data, const char *second)
{
    _cleanup_free_ char *text = berth_strdup_printf(
        "{\"cniVersion\":\"1.0.0\",\"name\":\"%s\",\"plugins\":[{\"type\":\"bridge\","
        "\"bridge\":\"%s\",\"isGateway\":true,\"ipMasq\":true,\"hairpinMode\":true,"
        "\"ipam\":{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.88.%d.0/24\"}]],"
        "\"routes\":[{\"dst\":\"0.0.0.0/0\"}],\"dataDir\":\"%s\"}},%s]}",
        name, bridge, subnet, data, second);
    write_file(conf_dir, file, text);
}

static void test_cni_real_plugins(void **state)
{
    struct fx *f = *state;
    _cleanup_free_ char *nsdir = berth_strdup_printf("%s/netns", f->dir);
    _cleanup_free_ char *data = berth_strdup_printf("%s/ipam", f->dir);
    _cleanup_free_ char *ns_a = NULL, *ns_b = NULL, *ns_c = NULL;
    _cleanup_free_ char *net = NULL, *bridge = NULL, *store = NULL, *conf2 = NULL;
    _cleanup_free_ char *store2 = NULL;
    const struct berth_cni_port ports[] = {{"tcp", 80, 18080, NULL}};
    struct berth_cni_result ra = {0}, rb = {0}, rc = {0};
    struct berth_err *err = NULL;
    struct berth_cni *c = NULL, *c2 = NULL;
    struct sock_q lq = {0}, cq = {0};
    struct addr_q aq = {0};
    uint32_t rnd = 0;
    int subnet;

    if (geteuid() != 0 || access(REAL_BIN_DIR "/bridge", X_OK) != 0)
        skip();
    /* From here this test process (and every plugin it runs) lives in a network namespace of
     * its own: the bridge, veths, iptables rules and sysctls it makes go away with it. */
    assert_int_equal(unshare(CLONE_NEWNET), 0);
    assert_int_equal(getrandom(&rnd, sizeof(rnd), 0), (ssize_t)sizeof(rnd));
    subnet = 1 + (int)(rnd % 250);
    net = berth_strdup_printf("berth-test-%06x", rnd & 0xffffff);
    bridge = berth_strdup_printf("bcni%06x", rnd & 0xffffff);
    store = berth_strdup_printf("%s/%s", data, net);
    write_real_conf(f->conf, "10-test.conflist", net, bridge, subnet, data,
                    "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true},"
                    "\"snat\":true}");
    c = load(f, REAL_BIN_DIR);
    assert_true(berth_cni_ready(c));

    assert_ok(berth_netns_create(nsdir, "pod-a", &ns_a, &err), &err);
    assert_ok(berth_netns_create(nsdir, "pod-b", &ns_b, &err), &err);
    {
        struct berth_cni_attach a = {.id = "pod-a-id",
                                     .netns_path = ns_a,
                                     .args = "IgnoreUnknown=1;K8S_POD_NAME=a",
                                     .ports = ports,
                                     .n_ports = 1};
        struct berth_cni_attach b = {.id = "pod-b-id", .netns_path = ns_b};

        assert_ok(berth_cni_add(c, &a, &ra, &err), &err);
        assert_ok(berth_cni_add(c, &b, &rb, &err), &err);
        assert_non_null(ra.ip);
        assert_non_null(rb.ip);
        assert_string_not_equal(ra.ip, rb.ip);
        assert_true(file_exists(store, ra.ip));
        assert_true(nat_rules_mention("18080"));

        /* The address is on eth0 inside the pod's namespace, and not on ours. */
        aq = (struct addr_q){"eth0", ra.ip, false};
        assert_int_equal(berth_netns_enter_run(ns_a, find_addr_cb, &aq, &err), 0);
        assert_true(aq.found);
        aq.found = false;
        assert_int_equal(find_addr_cb(&aq), 0);
        assert_false(aq.found);

        /* Pod B reaches pod A over the bridge. */
        assert_int_equal(berth_netns_enter_run(ns_a, listen_cb, &lq, &err), 0);
        cq.ip = ra.ip;
        assert_ok(berth_netns_enter_run(ns_b, connect_cb, &cq, &err), &err);
        close(lq.fd);

        assert_ok(berth_cni_del(c, &a, &err), &err);
        assert_false(file_exists(store, ra.ip));
        assert_false(nat_rules_mention("18080"));
        assert_ok(berth_cni_del(c, &a, &err), &err); /* again: fine */

        /* DEL after the namespace is gone still releases the address. */
        assert_ok(berth_netns_remove(ns_b, &err), &err);
        assert_ok(berth_cni_del(c, &b, &err), &err);
        assert_false(file_exists(store, rb.ip));
        assert_int_equal(ipam_allocations(store), 0);
        assert_int_equal(cache_files(f), 0);
    }

    /* A list whose second plugin is missing: NOT_FOUND, and no veth nor address left. */
    conf2 = berth_strdup_printf("%s/net2.d", f->dir);
    mkdir(conf2, 0755);
    store2 = berth_strdup_printf("%s/%s-2", data, net);
    {
        _cleanup_free_ char *net2 = berth_strdup_printf("%s-2", net);
        _cleanup_free_ char *bridge2 = berth_strdup_printf("%s2", bridge);
        struct berth_cni_opts o = {conf2, REAL_BIN_DIR, f->cache, 1, 30000};
        struct berth_cni_attach a = {.id = "pod-c-id"};

        write_real_conf(conf2, "10-test.conflist", net2, bridge2, (subnet + 1) % 250 + 1, data,
                        "{\"type\":\"berth-no-such-plugin\"}");
        assert_ok(berth_cni_load(&o, &c2, &err), &err);
        assert_ok(berth_netns_create(nsdir, "pod-c", &ns_c, &err), &err);
        a.netns_path = ns_c;
        assert_int_equal(berth_cni_add(c2, &a, &rc, &err), -1);
        assert_err_code(err, BERTH_E_NOT_FOUND);
        assert_int_equal(veth_count(), 0);
        assert_int_equal(ipam_allocations(store2), 0);
        assert_int_equal(cache_files(f), 0);
    }

    assert_ok(berth_netns_remove(ns_a, &err), &err);
    assert_ok(berth_netns_remove(ns_c, &err), &err);
    assert_false(mounted_under(nsdir));
    berth_cni_result_clear(&ra);
    berth_cni_result_clear(&rb);
    berth_cni_free(c);
    berth_cni_free(c2);
}

#define FX(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX(test_cni_load_not_ready_then_reload),
        FX(test_cni_add_del_chain_cache_and_config_change),
        FX(test_cni_del_uses_cache_when_not_ready),
        FX(test_cni_add_failure_rolls_back),
        FX(test_cni_add_bad_input),
        FX(test_cni_concurrent_ids),
        FX(test_cni_real_plugins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
