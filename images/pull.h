/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry pulls inside berthd (containerd's client.Pull with its unpacker, and the CRI's
 * PullImage under it). A pull resolves the reference (images/remote), walks index -> platform
 * -> manifest -> config (images/walk.h over a source that fetches what the content store
 * lacks), then fetches the layers, max_concurrent_downloads at a time. A layer whose parent
 * is already applied when its download starts is unpacked in the same pass: the bytes go to
 * the content ingest and through a pipe into the layer extractor, so the blob is never read
 * back; a layer that finishes before its parent is applied from the stored blob afterwards.
 * Each blob download and each chain-ID unpack is done once across all pulls in progress:
 * the second pull waits for the first (no retry loop). A blob the store has, or a snapshot
 * already committed, is not fetched again; a partial ingest is resumed with a Range request.
 * Everything is written under a lease (gc.expire 24 h, berth.io/in-flight) deleted once the
 * image record exists; labels are containerd's (registry-cni.md A4), so ctr, the GC and the
 * CRI treat berthd's pulls as containerd's. Depends on images/, images/remote/, metadata/,
 * content/, snapshots/.
 */
#ifndef BERTH_IMAGES_PULL_H
#define BERTH_IMAGES_PULL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "images/import.h"
#include "images/manifest.h"
#include "images/remote/auth.h"
#include "lib/labels.h"
#include "lib/metrics.h"

/* Series the puller counts into (lib/metrics.h; borrowed, each may be NULL). */
struct berth_pull_metrics {
    struct berth_counter *bytes;       /* bytes fetched from registries (layers and documents) */
    struct berth_counter *ok, *failed; /* pulls ended, by result */
    struct berth_histogram *seconds;   /* a pull's duration, start to image record */
};

struct berth_puller_opts {
    const char *config_path;                  /* [registry] config_path (hosts.toml roots) */
    unsigned max_concurrent_downloads;        /* per pull; 0: 3 */
    int64_t progress_timeout_ns;              /* 0: 5 min */
    const struct berth_pull_metrics *metrics; /* NULL: none; must outlive the puller */
};

struct berth_puller;

/* The daemon's puller over st (borrowed, must outlive it): starts the transfer engine.
 * INTERNAL when it cannot. *out owned by the caller: berth_puller_free. */
int berth_puller_new(const struct berth_image_stores *st, const struct berth_puller_opts *o,
                     struct berth_puller **out, struct berth_err **err);
/* From now on every pull in progress ends with CANCELED (within a progress tick) and new ones
 * are refused: berthd calls it before it stops serving, so that pulls whose caller asked them
 * to outlive the call (detached) do not hold up the shutdown. NULL-safe. */
void berth_puller_stop(struct berth_puller *p);
/* Cancels transfers in progress (their pulls fail with CANCELED) and frees. NULL-safe. */
void berth_puller_free(struct berth_puller *p);

enum berth_pull_state {
    BERTH_PULL_WAITING = 0, /* queued, or waiting for another pull fetching the same blob */
    BERTH_PULL_DOWNLOADING,
    BERTH_PULL_EXISTS, /* already in the store: not fetched */
    BERTH_PULL_DONE,   /* fetched and committed */
    BERTH_PULL_UNPACKING,
    BERTH_PULL_UNPACKED,
};
const char *berth_pull_state_name(enum berth_pull_state s);

struct berth_pull_event {
    const char *kind;   /* "index", "manifest", "config", "layer" */
    const char *digest; /* borrowed for the call */
    enum berth_pull_state state;
    int64_t offset, total;
};

struct berth_pull_opts {
    const char *ns;                        /* required */
    const char *ref;                       /* as given; normalized as the CRI does */
    const struct berth_platform *platform; /* NULL: the host's */
    bool no_unpack;
    const char *snapshotter;                  /* NULL/"": the default */
    bool plain_http;                          /* the default endpoint over http */
    const struct berth_registry_creds *creds; /* NULL: anonymous */
    const struct berth_labels *labels;        /* image labels; NULL: none */
    /* Polled a few times a second (may be NULL): true ends the pull with CANCELED. */
    bool (*is_canceled)(void *arg);
    void *cancel_arg;
    /* Progress, always called on the calling thread (may be NULL). */
    void (*progress)(void *arg, const struct berth_pull_event *ev);
    void *progress_arg;
};

struct berth_pull_result {
    struct berth_image *image; /* the record as stored */
    bool created;
    char *top_chain_id; /* NULL with no_unpack */
};
void berth_pull_result_clear(struct berth_pull_result *r); /* NULL-safe */

/*
 * Pulls o->ref into o->ns and, unless no_unpack, unpacks it. Errors name the reference:
 * INVALID_ARGUMENT for a bad reference or hosts.toml; NOT_FOUND for an unknown repository,
 * tag or blob, or no manifest for the platform; PERMISSION_DENIED for refused credentials;
 * UNAVAILABLE for registries that cannot be reached or keep failing; DEADLINE_EXCEEDED for a
 * stalled transfer; FAILED_PRECONDITION for a blob whose digest or size differs from its
 * descriptor (its ingest is dropped); OUT_OF_RANGE for a manifest over 4 MiB; CANCELED.
 * On failure no image record is written and the lease is gone, so what was fetched is
 * unreferenced (complete blobs stay until a GC; partial ingests stay resumable for 24 h).
 */
int berth_image_pull(struct berth_puller *p, const struct berth_pull_opts *o,
                     struct berth_pull_result *out, struct berth_err **err);

#endif
