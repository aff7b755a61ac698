/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which endpoints serve a registry host, as containerd 1.6's config/hosts.go decides it from a
 * `config_path` directory tree (hosts.toml, or docker-style *.crt / *.cert / *.key files), and
 * the TLS settings of one endpoint applied to a libcurl easy handle. Reads files with plain
 * POSIX calls and parses them with lib/toml; no network.
 */
#ifndef BERTH_IMAGES_REMOTE_HOSTS_H
#define BERTH_IMAGES_REMOTE_HOSTS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

#define BERTH_HOST_CAP_PULL    1u
#define BERTH_HOST_CAP_RESOLVE 2u
#define BERTH_HOST_CAP_PUSH    4u

/* Largest hosts.toml / CA / client certificate file read. */
#define BERTH_REGISTRY_HOSTS_FILE_MAX (1024 * 1024)

struct berth_registry_host { /* owns every field */
    char *scheme;            /* "http" or "https" */
    char *host;              /* "host[:port]" for the URL */
    char *path;              /* API root with no trailing slash, "/v2" normally */
    unsigned caps;           /* BERTH_HOST_CAP_* */
    char **ca_files;         /* NULL-terminated absolute paths (may be empty, never NULL) */
    char **client_certs;     /* NULL-terminated, parallel to client_keys (never NULL) */
    char **client_keys;      /* "" when the cert file holds the key too */
    bool skip_verify;
    char **headers; /* NULL-terminated "Name: value" lines, in file order (never NULL) */
    bool is_mirror; /* false for the `server` / default entry (always the last one) */
};

struct berth_registry_hosts {
    struct berth_registry_host *v;
    size_t n;
};

/* Frees every entry; h is left empty ({NULL, 0}). NULL-safe. */
void berth_registry_hosts_clear(struct berth_registry_hosts *h);

/*
 * The endpoints to try, in order, for images whose reference names ref_host ("docker.io",
 * "registry.example.com:5000", "[::1]:5000"). config_path is NULL/"" or a ':'-separated list
 * of roots; the first root holding a directory for the host wins (<root>/h_p_, <root>/h:p,
 * <root>/_default; <root>/h, <root>/_default without a port), no merging. That directory's
 * hosts.toml gives the `[host."<url>"]` mirrors in file order and the `server` entry last
 * (a file with only `server` is accepted, unlike containerd 1.6 which ignores it); without
 * hosts.toml the directory's *.crt (CA) and *.cert + *.key (client pair) files apply to the
 * default endpoint. The default endpoint is https://registry-1.docker.io/v2 for "docker.io",
 * else <scheme>://<ref_host>/v2 with scheme "http" only when plain_http (never implied for
 * localhost, unlike containerd 1.6). The last entry is never a mirror; n >= 1 on success.
 * *out is zeroed first and on success owned by the caller (berth_registry_hosts_clear).
 * BERTH_E_INVALID_ARGUMENT: ref_host not a valid host[:port] (so it cannot name a path outside
 * a root), a hosts.toml that does not parse, a key of the wrong type, an unknown capability,
 * a bad URL, or a file over BERTH_REGISTRY_HOSTS_FILE_MAX; BERTH_E_INTERNAL with errno for an
 * unreadable directory or file. Messages name the file.
 */
int berth_registry_hosts_resolve(const char *config_path, const char *ref_host, bool plain_http,
                                 struct berth_registry_hosts *out, struct berth_err **err);

/*
 * Applies h's TLS settings to a libcurl easy handle (CURL *, passed as void * so this header
 * needs no curl.h): extra CA files are added to the system CA bundle (as containerd adds them
 * to the system pool) and handed over as CURLOPT_CAINFO_BLOB, skip_verify turns off peer and
 * host verification, and the first client certificate/key pair becomes CURLOPT_SSLCERT /
 * CURLOPT_SSLKEY (libcurl presents one client certificate per handle). Nothing is done for an
 * http entry without TLS settings. BERTH_E_INVALID_ARGUMENT naming the file for an unreadable
 * or oversized CA file; BERTH_E_INTERNAL when libcurl refuses an option.
 */
int berth_registry_host_tls_apply(const struct berth_registry_host *h, void *curl_easy,
                                  struct berth_err **err);

#endif
