/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One pull's view of a registry (containerd's remotes/docker resolver and fetcher): the
 * endpoints of the reference's host (images/remote/hosts.h: mirrors in file order, then the
 * server), its credentials and token cache (auth.h), over the shared transfer engine
 * (http.h). Every request walks the endpoints that have the capability it needs; a 401 goes
 * to the authorizer and the request is sent again; redirects are followed here, at most 10,
 * and Authorization goes only to a host that asked for it; 408, 429 and 5xx are retried with
 * back-off. Registry error bodies map to error classes: MANIFEST_UNKNOWN, NAME_UNKNOWN,
 * BLOB_UNKNOWN and 404 -> NOT_FOUND; UNAUTHORIZED, DENIED -> PERMISSION_DENIED naming the
 * repository; TOOMANYREQUESTS and 5xx after the retries -> UNAVAILABLE. Depends on
 * images/remote/{http,hosts,auth}.h, images/reference.h, metadata/images.h (descriptor).
 */
#ifndef BERTH_IMAGES_REGISTRY_H
#define BERTH_IMAGES_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>

#include "images/reference.h"
#include "images/remote/auth.h"
#include "images/remote/http.h"
#include "metadata/images.h"

/* containerd's limit on a manifest or index read during resolve (sic: 1048). */
#define BERTH_REGISTRY_MANIFEST_MAX (4 * 1048 * 1048)

struct berth_registry_opts {
    struct berth_http *http;                  /* borrowed */
    const char *config_path;                  /* hosts.toml roots; NULL/"": none */
    bool plain_http;                          /* the default endpoint speaks http */
    const struct berth_registry_creds *creds; /* NULL: anonymous; copied */
    const atomic_bool *cancel;                /* may be NULL; must outlive the session */
};

struct berth_registry;

/* A session for ref (its domain and path). INVALID_ARGUMENT for a bad hosts.toml. *out is
 * owned by the caller: berth_registry_free. */
int berth_registry_open(const struct berth_registry_opts *o, const struct berth_image_ref *ref,
                        struct berth_registry **out, struct berth_err **err);
void berth_registry_free(struct berth_registry *r); /* NULL-safe; wipes the credentials */
DEFINE_CLEANUP(struct berth_registry *, berth_registry_free)

/* Resolves the reference's tag or digest to the descriptor of its root document (media type,
 * digest, size). NOT_FOUND "<ref>: not found" when every endpoint answered 404; otherwise
 * the first endpoint's error. *out is filled (caller clears). */
int berth_registry_resolve(struct berth_registry *r, struct berth_descriptor *out,
                           struct berth_err **err);

/* Reads the document d (manifest, index or config) whole into *out, at most max bytes,
 * verifying size and digest. FAILED_PRECONDITION for a digest or size mismatch; OUT_OF_RANGE
 * above max; the request errors above. */
int berth_registry_fetch_doc(struct berth_registry *r, const struct berth_descriptor *d, size_t max,
                             struct berth_bytes *out, struct berth_err **err);

/* Streams blob d from byte offset on into sink (its start() sees the answer, its data() gets
 * exactly the bytes from offset on: a server that ignores the Range has the first offset
 * bytes dropped here). *delivered (may be NULL) gets the bytes given to the sink. The caller
 * verifies the digest (the content writer does). Endpoints are tried in order until one
 * starts a body; a failure after that is returned (the caller resumes from its offset). */
int berth_registry_fetch_blob(struct berth_registry *r, const struct berth_descriptor *d,
                              int64_t offset, struct berth_http_sink *sink, int64_t *delivered,
                              struct berth_err **err);

/* The host of the reference as the distribution-source label names it (port stripped) and
 * the repository path. Borrowed. */
const char *berth_registry_source_host(const struct berth_registry *r);
const char *berth_registry_repo(const struct berth_registry *r);

#endif
