/* SPDX-License-Identifier: Apache-2.0 */
/* Method lookup, header checks and request decoding shared by the transport and by
 * berth_server_invoke (handlers run without a socket in tests). */
#include <string.h>

#include "api/pbcheck.h"
#include "lib/ident.h"
#include "services/server/server-internal.h"

const struct berth_method *berth_server_find(const struct berth_service *const *svcs, size_t n,
                                             const char *path,
                                             const ProtobufCMessageDescriptor **in_desc)
{
    const char *slash;
    size_t svc_len;

    if (in_desc)
        *in_desc = NULL;
    if (!path || path[0] != '/' || !(slash = strchr(path + 1, '/')))
        return NULL;
    svc_len = (size_t)(slash - path - 1);
    for (size_t i = 0; i < n; i++) {
        const struct berth_service *s = svcs[i];
        if (strlen(s->desc->name) != svc_len || memcmp(s->desc->name, path + 1, svc_len) != 0)
            continue;
        for (size_t j = 0; j < s->n_methods; j++) {
            if (strcmp(s->methods[j].name, slash + 1) != 0)
                continue;
            for (unsigned k = 0; k < s->desc->n_methods; k++) {
                if (strcmp(s->desc->methods[k].name, slash + 1) == 0) {
                    if (in_desc)
                        *in_desc = s->desc->methods[k].input;
                    return &s->methods[j];
                }
            }
        }
        return NULL;
    }
    return NULL;
}

bool berth_server_knows_service(const struct berth_service *const *svcs, size_t n, const char *path)
{
    const char *slash;
    size_t svc_len;

    if (!path || path[0] != '/' || !(slash = strchr(path + 1, '/')))
        return false;
    svc_len = (size_t)(slash - path - 1);
    for (size_t i = 0; i < n; i++)
        if (strlen(svcs[i]->desc->name) == svc_len &&
            memcmp(svcs[i]->desc->name, path + 1, svc_len) == 0)
            return true;
    return false;
}

int berth_server_unknown_method(const struct berth_service *const *svcs, size_t n, const char *path,
                                struct berth_err **err)
{
    const char *slash = path ? strchr(path + (path[0] == '/'), '/') : NULL;

    if (!slash || !berth_server_knows_service(svcs, n, path))
        return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0, "unknown service %.*s",
                             slash ? (int)(slash - path - 1) : (int)strlen(path ? path : ""),
                             path ? path + (path[0] == '/') : "");
    return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0, "unknown method %s for service %.*s",
                         slash + 1, (int)(slash - path - 1), path + 1);
}

int berth_server_check_ns(const struct berth_method *m, const char *ns, struct berth_err **err)
{
    if (!m->ns_required)
        return 0;
    if (!ns || !*ns)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "namespace is required");
    if (berth_ident_validate(ns, err) < 0)
        return berth_err_wrap(err, "namespace");
    return 0;
}

int berth_server_decode(const ProtobufCMessageDescriptor *desc, const void *body, size_t len,
                        ProtobufCMessage **out, struct berth_err **err)
{
    *out = NULL;
    /* Before protobuf-c: it would cut "ab\0cd" to "ab" (handlers see C strings), accept
     * invalid UTF-8 that Go's protobuf refuses and recurse without a limit. */
    if (berth_pb_check(desc, body, len, err) < 0)
        return berth_err_wrap(err, "cannot decode %zu-byte request as %s", len, desc->name);
    *out = protobuf_c_message_unpack(desc, NULL, len, body);
    if (!*out)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "cannot decode %zu-byte request as %s", len, desc->name);
    return 0;
}

void berth_svc_pack(struct berth_bytes *out, const ProtobufCMessage *msg)
{
    out->len = protobuf_c_message_get_packed_size(msg);
    out->data = berth_xmalloc(out->len);
    protobuf_c_message_pack(msg, out->data);
}

int berth_server_invoke(const struct berth_service *const *svcs, size_t n, const char *path,
                        const char *ns_header, const void *body, size_t len, void *app,
                        struct berth_bytes *out, struct berth_err **err)
{
    const ProtobufCMessageDescriptor *in_desc;
    const struct berth_method *m = berth_server_find(svcs, n, path, &in_desc);
    ProtobufCMessage *req = NULL;
    struct berth_svc_ctx ctx = {.method = path, .ns = ns_header, .app = app};
    int ret;

    out->data = NULL;
    out->len = 0;
    if (!m || m->kind != BERTH_UNARY)
        return berth_server_unknown_method(svcs, n, path, err);
    if (berth_server_check_ns(m, ns_header, err) < 0)
        return -1;
    if (berth_server_decode(in_desc, body, len, &req, err) < 0)
        return -1;
    ret = m->unary(&ctx, req, out, err);
    protobuf_c_message_free_unpacked(req, NULL);
    return ret;
}
