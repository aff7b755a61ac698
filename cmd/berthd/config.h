/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthd's configuration: embedded defaults, an optional strict TOML file (unknown keys and
 * wrong types are errors naming the key), then command-line flags. The same key table drives
 * parsing and `berthd config default`, so the printed file always lists every key.
 */
#ifndef BERTH_CMD_BERTHD_CONFIG_H
#define BERTH_CMD_BERTHD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/err.h"

#define BERTHD_DEFAULT_CONFIG "/etc/berth/config.toml"

struct berthd_config {
    int64_t version;
    char *root;
    char *state;
    char *address;
    int64_t gid; /* socket group; -1 leaves root's */
    int64_t cq_threads;
    int64_t worker_threads;
    int64_t listing_threads;
    int64_t grace_ms;
    int64_t max_connections; /* [grpc] limits (services/server/server.h) */
    int64_t max_streams_per_conn;
    int64_t max_stream_calls;
    int64_t max_calls;
    int64_t preface_timeout_ms;
    int64_t request_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t keepalive_ms;
    int64_t keepalive_timeout_ms;
    int64_t self_check_ms; /* [grpc] self_check_interval_ms; 0 = off */
    int64_t map_size_mb;
    int64_t max_batch;
    char *log_level;
    char *default_runtime; /* [runtime] default */
    char *runtime_binary;  /* [runtime] binary_name: berth-shim's OCI runtime ("" = runc) */
    double gc_pause_threshold;
    int64_t gc_deletion_threshold;
    int64_t gc_mutation_threshold;
    int64_t gc_schedule_delay_ms;
    int64_t gc_startup_delay_ms;
    char *registry_config_path;  /* [registry] config_path: hosts.toml roots, ':'-separated */
    int64_t max_downloads;       /* [registry] max_concurrent_downloads */
    char *pull_progress_timeout; /* [registry] pull_progress_timeout, a Go duration ("5m") */
    /* [cri] */
    bool cri_enabled;                        /* [cri] enabled */
    char *cri_sandbox_image;                 /* "" = berth's own pause image, built in */
    char *cri_snapshotter;                   /* [cri] snapshotter */
    char *cri_default_runtime;               /* [cri] default_runtime_name */
    int64_t cri_max_log_line;                /* [cri] max_container_log_line_size */
    bool cri_unprivileged_ports;             /* [cri] enable_unprivileged_ports */
    bool cri_unprivileged_icmp;              /* [cri] enable_unprivileged_icmp */
    char *cri_cni_conf_dir;                  /* [cri.cni] conf_dir */
    char *cri_stream_address;                /* [cri] stream_server_address */
    char *cri_stream_port;                   /* [cri] stream_server_port, "0".."65535" */
    char *cri_stream_idle_timeout;           /* [cri] stream_idle_timeout, a Go duration */
    char *cri_cni_bin_dir;                   /* [cri.cni] bin_dir, ':'-separated */
    char *metrics_address;                   /* [metrics] address: "" = off, else host:port */
    bool metrics_grpc_histogram;             /* [metrics] grpc_histogram */
    struct berthd_cri_runtime *cri_runtimes; /* [cri.runtimes.<name>], in file order */
    size_t n_cri_runtimes;
};

/* One [cri.runtimes.<name>] table: a CRI runtime handler. */
struct berthd_cri_runtime {
    char *name;
    char *runtime_type; /* "" = [runtime] default */
    char *runtime_path; /* "" = resolved from the type */
    /* [cri.runtimes.<name>.options], containerd.runc.v1.Options as containerd spells them */
    char *binary_name;   /* BinaryName */
    char *root;          /* Root */
    bool systemd_cgroup; /* SystemdCgroup */
};

/* Fills c with the embedded defaults. */
void berthd_config_defaults(struct berthd_config *c);
/* Applies a TOML document over c. INVALID_ARGUMENT naming the file, line or key. */
int berthd_config_parse(struct berthd_config *c, const char *text, size_t len, const char *path,
                        struct berth_err **err);
/* Reads and applies path. NOT_FOUND if it does not exist. */
int berthd_config_load(struct berthd_config *c, const char *path, struct berth_err **err);
/* Checks values (ranges, absolute paths, log level). INVALID_ARGUMENT naming the key. */
int berthd_config_validate(const struct berthd_config *c, struct berth_err **err);
/* Writes the full configuration as commented TOML. */
/* [cri] stream_server_port as a number; -1 when it is not one of "0".."65535". */
int berthd_config_stream_port(const struct berthd_config *c);
void berthd_config_print(const struct berthd_config *c, FILE *f);
/* Replaces a string setting (used for flag overrides). */
void berthd_config_set_str(char **slot, const char *v);
void berthd_config_free(struct berthd_config *c);

#endif
