/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Any protobuf-c message as JSON, the way Go's encoding/json prints containerd's event types
 * in `ctr events`: proto field names, zero values omitted, maps as objects, Timestamps as
 * RFC 3339, nested Anys decoded when the API registry knows their type.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <string.h>

#include "api/registry.h"
#include "google/protobuf/timestamp.pb-c.h"

static void json_value(struct berthctl_json *j, const ProtobufCFieldDescriptor *fd, const void *p);

static bool is_timestamp(const ProtobufCMessageDescriptor *d)
{
    return strcmp(d->name, "google.protobuf.Timestamp") == 0;
}

static bool is_any(const ProtobufCMessageDescriptor *d)
{
    return strcmp(d->name, "google.protobuf.Any") == 0;
}

static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
    /* protoc-c names map entries <Field>Entry with exactly key=1 and value=2 */
    size_t n = strlen(d->short_name);
    return d->n_fields == 2 && n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0 &&
           strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

static void json_any(struct berthctl_json *j, const ProtobufCMessage *m)
{
    const char *url = *(char *const *)((const char *)m + m->descriptor->fields[0].offset);
    const ProtobufCBinaryData *val =
        (const ProtobufCBinaryData *)((const char *)m + m->descriptor->fields[1].offset);
    const ProtobufCMessageDescriptor *d = url ? berth_api_find_message(url) : NULL;
    ProtobufCMessage *inner = d ? protobuf_c_message_unpack(d, NULL, val->len, val->data) : NULL;

    if (inner) {
        berthctl_json_pb(j, inner);
        protobuf_c_message_free_unpacked(inner, NULL);
        return;
    }
    berthctl_json_obj_begin(j);
    berthctl_json_key(j, "type_url");
    berthctl_json_str(j, url);
    if (val->len) {
        _cleanup_free_ char *b64 = berth_base64(val->data, val->len);
        berthctl_json_key(j, "value");
        berthctl_json_str(j, b64);
    }
    berthctl_json_obj_end(j);
}

void berthctl_json_pb(struct berthctl_json *j, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    if (is_timestamp(d)) {
        char buf[64];
        const Google__Protobuf__Timestamp *ts = (const void *)m;
        berthctl_time_format(ts->seconds, ts->nanos, buf, sizeof(buf));
        berthctl_json_str(j, buf);
        return;
    }
    if (is_any(d)) {
        json_any(j, m);
        return;
    }
    berthctl_json_obj_begin(j);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        const char *base = (const char *)m + fd->offset;

        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + fd->quantifier_offset);
            const char *arr = *(const char *const *)base;
            size_t step =
                fd->type == PROTOBUF_C_TYPE_MESSAGE || fd->type == PROTOBUF_C_TYPE_STRING
                    ? sizeof(void *)
                : fd->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData)
                : fd->type == PROTOBUF_C_TYPE_INT64 || fd->type == PROTOBUF_C_TYPE_UINT64 ||
                        fd->type == PROTOBUF_C_TYPE_SINT64 ||
                        fd->type == PROTOBUF_C_TYPE_SFIXED64 ||
                        fd->type == PROTOBUF_C_TYPE_FIXED64 || fd->type == PROTOBUF_C_TYPE_DOUBLE
                    ? 8
                : fd->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
                                                   : 4;
            if (n == 0)
                continue;
            berthctl_json_key(j, fd->name);
            if (fd->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(fd->descriptor)) {
                /* map<string,string> only; other maps print as arrays of entries */
                const ProtobufCMessageDescriptor *ed = fd->descriptor;
                if (ed->fields[0].type == PROTOBUF_C_TYPE_STRING &&
                    ed->fields[1].type == PROTOBUF_C_TYPE_STRING) {
                    berthctl_json_str_map(j, n, (const void *const *)arr);
                    continue;
                }
            }
            berthctl_json_arr_begin(j);
            for (size_t k = 0; k < n; k++)
                json_value(j, fd, arr + k * step);
            berthctl_json_arr_end(j);
            continue;
        }
        /* omit zero values as Go's omitempty does for containerd's event structs */
        switch (fd->type) {
        case PROTOBUF_C_TYPE_STRING:
            if (!*(char *const *)base || !**(char *const *)base)
                continue;
            break;
        case PROTOBUF_C_TYPE_MESSAGE:
            if (!*(void *const *)base)
                continue;
            break;
        case PROTOBUF_C_TYPE_BYTES:
            if (!((const ProtobufCBinaryData *)base)->len)
                continue;
            break;
        case PROTOBUF_C_TYPE_BOOL:
            if (!*(const protobuf_c_boolean *)base)
                continue;
            break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_FIXED64:
            if (!*(const uint64_t *)base)
                continue;
            break;
        case PROTOBUF_C_TYPE_DOUBLE:
            if (*(const double *)base == 0)
                continue;
            break;
        case PROTOBUF_C_TYPE_FLOAT:
            if (*(const float *)base == 0)
                continue;
            break;
        default:
            if (!*(const uint32_t *)base)
                continue;
            break;
        }
        berthctl_json_key(j, fd->name);
        json_value(j, fd, base);
    }
    berthctl_json_obj_end(j);
}

static void json_value(struct berthctl_json *j, const ProtobufCFieldDescriptor *fd, const void *p)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
        berthctl_json_str(j, *(char *const *)p);
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
        berthctl_json_pb(j, *(ProtobufCMessage *const *)p);
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        _cleanup_free_ char *b64 = berth_base64(b->data, b->len);
        berthctl_json_str(j, b64);
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        berthctl_json_bool(j, *(const protobuf_c_boolean *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        berthctl_json_int(j, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        berthctl_json_uint(j, *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        berthctl_json_int(j, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        berthctl_json_uint(j, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE: {
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "%.17g", *(const double *)p);
        berthctl_json_token(j, buf, (size_t)n);
        break;
    }
    case PROTOBUF_C_TYPE_FLOAT: {
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "%.9g", (double)*(const float *)p);
        berthctl_json_token(j, buf, (size_t)n);
        break;
    }
    }
}
