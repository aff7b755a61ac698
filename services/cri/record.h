/* SPDX-License-Identifier: Apache-2.0 */
/* Container records and snapshots of CRI objects (record.c). */
#ifndef BERTH_SERVICES_CRI_RECORD_H
#define BERTH_SERVICES_CRI_RECORD_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "lib/err.h"
#include "lib/labels.h"
#include "metadata/containers.h"
#include "runtime/oci/spec.h"

struct berth_cri;
struct berth_cri_runtime;

struct cri_record { /* all borrowed */
    const char *id;
    const char *kind; /* CRI_KIND_SANDBOX or CRI_KIND_CONTAINER */
    const char *sandbox_id;
    const char *image_name;
    const char *parent_snapshot; /* the image's top chain ID */
    const json_t *spec;
    const struct berth_cri_runtime *runtime;
    const struct berth_labels *labels; /* the kind label is added */
    const char *ext_name, *ext_type, *ext_json;
};

/* Writes the record, then the active snapshot <id> on parent_snapshot; on failure nothing is
 * left. ALREADY_EXISTS, NOT_FOUND (parent), the stores' errors. */
int cri_record_create(struct berth_cri *c, const struct cri_record *r, struct berth_err **err);
/* Replaces one extension of the record id. */
int cri_record_set_ext(struct berth_cri *c, const char *id, const char *name, const char *type,
                       const char *json, struct berth_err **err);
/* Removes the snapshot and the record (either may already be gone). */
int cri_record_delete(struct berth_cri *c, const char *id, struct berth_err **err);
int cri_record_load(struct berth_cri *c, const char *id, struct berth_container **out,
                    struct berth_err **err);
/* The OCI spec stored in record id (a new reference), and its runtime name (caller frees; may
 * be NULL). NULL + err when the record is gone or its spec is not JSON. */
json_t *cri_record_spec(struct berth_cri *c, const char *id, char **runtime,
                        struct berth_err **err);

/* A message as base64 of its encoding, and back (NULL when undecodable). */
char *cri_msg_b64(const ProtobufCMessage *m);
ProtobufCMessage *cri_msg_from_b64(const ProtobufCMessageDescriptor *d, const char *b64);

#endif
