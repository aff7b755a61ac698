/* SPDX-License-Identifier: Apache-2.0 */
/* Container wire conversions (see convert.h). */
#include "services/containers/convert.h"

#include "api/timestamp.h"

void container_out_init(struct container_out *o, const struct berth_container *c)
{
    container_pb *pb = &o->pb;

    containerd__services__containers__v1__container__init(pb);
    containerd__services__containers__v1__container__runtime__init(&o->rt);
    pb->id = c->id;
    pb->image = c->image ? c->image : (char *)"";
    pb->snapshotter = c->snapshotter ? c->snapshotter : (char *)"";
    pb->snapshot_key = c->snapshot_key ? c->snapshot_key : (char *)"";
    pb->sandbox = c->sandbox ? c->sandbox : (char *)"";
    o->rt.name = c->runtime_name ? c->runtime_name : (char *)"";
    o->rt.options = berth_any_to_pb(&c->runtime_options, &o->opts);
    pb->runtime = &o->rt;
    pb->spec = berth_any_to_pb(&c->spec, &o->spec);
    pb->created_at = berth_pb_ts_or_null(&o->created, c->created_ns);
    pb->updated_at = berth_pb_ts_or_null(&o->updated, c->updated_ns);
    berth_labels_to_pb(&c->labels,
                       &containerd__services__containers__v1__container__labels_entry__descriptor,
                       &o->labels, &pb->n_labels);
    pb->labels = (Containerd__Services__Containers__V1__Container__LabelsEntry **)o->labels;
    o->ents = berth_xcalloc(c->n_ext, sizeof(*o->ents));
    o->entp = berth_xcalloc(c->n_ext, sizeof(*o->entp));
    o->anys = berth_xcalloc(c->n_ext, sizeof(*o->anys));
    for (size_t i = 0; i < c->n_ext; i++) {
        containerd__services__containers__v1__container__extensions_entry__init(&o->ents[i]);
        o->ents[i].key = c->ext[i].name;
        o->ents[i].value = berth_any_to_pb(&c->ext[i].value, &o->anys[i]);
        o->entp[i] = &o->ents[i];
    }
    pb->n_extensions = c->n_ext;
    pb->extensions = o->entp;
}

void container_out_clear(struct container_out *o)
{
    free(o->labels);
    free(o->ents);
    free(o->entp);
    free(o->anys);
}

struct berth_container *container_from_pb(const container_pb *pb)
{
    struct berth_container *c = berth_container_new();

    c->id = berth_xstrdup(pb->id);
    c->image = pb->image && *pb->image ? berth_xstrdup(pb->image) : NULL;
    c->snapshotter = pb->snapshotter && *pb->snapshotter ? berth_xstrdup(pb->snapshotter) : NULL;
    c->snapshot_key =
        pb->snapshot_key && *pb->snapshot_key ? berth_xstrdup(pb->snapshot_key) : NULL;
    c->sandbox = pb->sandbox && *pb->sandbox ? berth_xstrdup(pb->sandbox) : NULL;
    if (pb->runtime) {
        c->runtime_name =
            pb->runtime->name && *pb->runtime->name ? berth_xstrdup(pb->runtime->name) : NULL;
        berth_any_from_pb(&c->runtime_options, pb->runtime->options);
    }
    berth_any_from_pb(&c->spec, pb->spec);
    berth_labels_from_pb(&c->labels, (void *const *)pb->labels, pb->n_labels);
    for (size_t i = 0; i < pb->n_extensions; i++) {
        struct berth_any a;
        berth_any_from_pb(&a, pb->extensions[i]->value);
        a.present = true; /* an extension entry with an empty Any is still an extension */
        berth_container_ext_set(c, pb->extensions[i]->key ? pb->extensions[i]->key : "", &a);
        berth_any_clear(&a);
    }
    return c;
}
