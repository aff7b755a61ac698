/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl version: the client version plus the server's Version/Version and
 * Introspection/Server answers, printed like `ctr version` (or as one JSON object).
 */
#include "cmd/berthctl/berthctl-internal.h"

#include "api/services/introspection/v1/introspection.pb-c.h"
#include "api/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

typedef Containerd__Services__Version__V1__VersionResponse version_resp_t;
typedef Containerd__Services__Introspection__V1__ServerResponse server_resp_t;
DEFINE_PB_CLEANUP(version_resp_t, version_resp_freep)
DEFINE_PB_CLEANUP(server_resp_t, server_resp_freep)

static void version_print_json(struct berthctl *ctl, const version_resp_t *v,
                               const server_resp_t *s)
{
    struct berthctl_json j;

    berthctl_json_init(&j, ctl->out);
    berthctl_json_obj_begin(&j);
    berthctl_json_key(&j, "client");
    berthctl_json_obj_begin(&j);
    berthctl_json_key(&j, "version");
    berthctl_json_str(&j, BERTH_VERSION);
    berthctl_json_obj_end(&j);
    berthctl_json_key(&j, "server");
    berthctl_json_obj_begin(&j);
    berthctl_json_key(&j, "version");
    berthctl_json_str(&j, v->version);
    berthctl_json_key(&j, "revision");
    berthctl_json_str(&j, v->revision);
    berthctl_json_key(&j, "uuid");
    berthctl_json_str(&j, s ? s->uuid : "");
    if (s && s->pid) {
        berthctl_json_key(&j, "pid");
        berthctl_json_uint(&j, s->pid);
    }
    berthctl_json_obj_end(&j);
    berthctl_json_obj_end(&j);
    berthctl_json_end(&j);
}

static void version_print_text(struct berthctl *ctl, const version_resp_t *v,
                               const server_resp_t *s)
{
    fprintf(ctl->out, "Client:\n  Version:  %s\n\nServer:\n", BERTH_VERSION);
    fprintf(ctl->out, "  Version:  %s\n  Revision: %s\n", v->version, v->revision);
    fprintf(ctl->out, "  UUID: %s\n", s ? s->uuid : "");
}

static int version_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(version_resp_freep) version_resp_t *v = NULL;
    _cleanup_(server_resp_freep) server_resp_t *s = NULL;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    _cleanup_err_ struct berth_err *ierr = NULL;

    if (argc > 1)
        return berthctl_usage(ctl, err, "version takes no arguments");
    if (berth_client_unary(ctl->client, "/containerd.services.version.v1.Version/Version",
                           &empty.base,
                           &containerd__services__version__v1__version_response__descriptor,
                           (ProtobufCMessage **)&v, err) < 0)
        return -1;
    /* Older servers lack Introspection/Server: show the version without a UUID then. */
    if (berth_client_unary(
            ctl->client, "/containerd.services.introspection.v1.Introspection/Server", &empty.base,
            &containerd__services__introspection__v1__server_response__descriptor,
            (ProtobufCMessage **)&s, &ierr) < 0 &&
        ierr->code != BERTH_E_NOT_IMPLEMENTED) {
        *err = steal_ptr(ierr);
        return -1;
    }
    if (ctl->format == BERTHCTL_FORMAT_JSON)
        version_print_json(ctl, v, s);
    else
        version_print_text(ctl, v, s);
    return 0;
}

const struct berthctl_noun berthctl_version_noun = {
    .name = "version",
    .summary = "print the client and server versions",
    .usage = "usage: berthctl [global options] version\n",
    .run = version_run,
};
