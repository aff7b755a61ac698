/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berth-oci-spec: prints the OCI spec runtime/oci builds (containerd 1.6's default plus ctr
 * style options) so integration tests can hand it to runc/crun as a bundle's config.json.
 * Usage: berth-oci-spec [options] [--] [ARG...]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images/manifest.h"
#include "lib/util.h"
#include "runtime/oci/spec.h"

static void usage(FILE *f)
{
    fputs("usage: berth-oci-spec [--ns NS] [--id ID] [--root PATH] [--rootfs DIR] [--user U]\n"
          "         [--cwd DIR] [--env K=V]... [--mount SPEC]... [--annotation K=V]...\n"
          "         [--hostname H] [--cpus N] [--memory BYTES] [--seccomp] [--privileged]\n"
          "         [--net-host] [--tty] [--readonly] [--default-devices]\n"
          "         [--image-config FILE] [--] [ARG...]\n",
          f);
}

static void push(const char ***v, size_t *n, const char *s)
{
    *v = berth_xrealloc(*v, (*n + 2) * sizeof(char *));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t cap = 0;

    if (!f)
        return NULL;
    *len = 0;
    for (;;) {
        if (*len + 4096 > cap)
            buf = berth_xrealloc(buf, cap = cap * 2 + 4096);
        size_t n = fread(buf + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"ns", required_argument, NULL, 'n'},
        {"id", required_argument, NULL, 'i'},
        {"root", required_argument, NULL, 'R'},
        {"rootfs", required_argument, NULL, 'r'},
        {"user", required_argument, NULL, 'u'},
        {"cwd", required_argument, NULL, 'w'},
        {"env", required_argument, NULL, 'e'},
        {"mount", required_argument, NULL, 'm'},
        {"annotation", required_argument, NULL, 'a'},
        {"hostname", required_argument, NULL, 'H'},
        {"cpus", required_argument, NULL, 'c'},
        {"memory", required_argument, NULL, 'M'},
        {"image-config", required_argument, NULL, 'I'},
        {"seccomp", no_argument, NULL, 's'},
        {"privileged", no_argument, NULL, 'p'},
        {"net-host", no_argument, NULL, 'N'},
        {"tty", no_argument, NULL, 't'},
        {"readonly", no_argument, NULL, 'o'},
        {"default-devices", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct berth_oci_opts o = {.ns = "default", .id = "berth-oci"};
    struct berth_image_config *img = NULL;
    const char **env = NULL, **mounts = NULL, **ann = NULL;
    size_t n_env = 0, n_mounts = 0, n_ann = 0;
    struct berth_err *err = NULL;
    json_t *spec = NULL;
    char *out;
    int c;

    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            o.ns = optarg;
            break;
        case 'i':
            o.id = optarg;
            break;
        case 'R':
            o.root_path = optarg;
            break;
        case 'r':
            o.rootfs_dir = optarg;
            break;
        case 'u':
            o.user = optarg;
            break;
        case 'w':
            o.cwd = optarg;
            break;
        case 'e':
            push(&env, &n_env, optarg);
            break;
        case 'm':
            push(&mounts, &n_mounts, optarg);
            break;
        case 'a':
            push(&ann, &n_ann, optarg);
            break;
        case 'H':
            o.hostname = optarg;
            break;
        case 'c':
            o.cpus = strtod(optarg, NULL);
            break;
        case 'M':
            o.memory_limit = strtoll(optarg, NULL, 10);
            break;
        case 's':
            o.seccomp = true;
            break;
        case 'p':
            o.privileged = true;
            break;
        case 'N':
            o.net_host = true;
            break;
        case 't':
            o.tty = true;
            break;
        case 'o':
            o.readonly_rootfs = true;
            break;
        case 'd':
            o.default_devices = true;
            break;
        case 'I': {
            size_t len = 0;
            char *buf = slurp(optarg, &len);
            if (!buf) {
                perror(optarg);
                return 1;
            }
            if (berth_image_config_parse(buf, len, optarg, &img, &err) < 0) {
                fprintf(stderr, "berth-oci-spec: %s\n", err->msg);
                return 1;
            }
            free(buf);
            o.image = img;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    o.env = env;
    o.mounts = mounts;
    o.annotations = ann;
    if (optind < argc)
        o.args = (const char *const *)&argv[optind];
    if (berth_oci_spec_build(&o, &spec, &err) < 0) {
        fprintf(stderr, "berth-oci-spec: %s (%s)\n", err->msg, berth_errc_name(err->code));
        berth_err_free(&err);
        berth_image_config_free(img);
        free(env);
        free(mounts);
        free(ann);
        return 1;
    }
    out = berth_oci_spec_dump(spec);
    puts(out);
    free(out);
    json_decref(spec);
    berth_image_config_free(img);
    free(env);
    free(mounts);
    free(ann);
    return 0;
}
