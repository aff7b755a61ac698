/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI image config (image-spec config.json) parsing: the runtime fields of "config" and
 * rootfs.diff_ids. Unknown fields are ignored and JSON null counts as unset, as Go's decoder
 * does; a known field of the wrong type is INVALID_ARGUMENT.
 */
#include "runtime/oci/spec.h"

#include <string.h>

#include "lib/digest.h"
#include "lib/util.h"

void berth_oci_image_config_free(struct berth_oci_image_config *c)
{
    if (!c)
        return;
    free(c->architecture);
    free(c->os);
    berth_strv_free(c->entrypoint);
    berth_strv_free(c->cmd);
    berth_strv_free(c->env);
    free(c->user);
    free(c->working_dir);
    free(c->stop_signal);
    berth_labels_clear(&c->labels);
    berth_strv_free(c->diff_ids);
    free(c);
}

/* Optional string field: absent/null leaves *out NULL. */
static int get_str(const json_t *obj, const char *key, char **out, struct berth_err **err)
{
    const json_t *v = json_object_get(obj, key);

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "image config field \"%s\" is not a string", key);
    *out = berth_xstrdup(json_string_value(v));
    return 0;
}

/* Optional array of strings: absent/null leaves *out NULL, [] gives an empty vector. */
static int get_strv(const json_t *obj, const char *key, char ***out, struct berth_err **err)
{
    const json_t *v = json_object_get(obj, key), *item;
    char **vec;
    size_t i;

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "image config field \"%s\" is not an array", key);
    vec = berth_xcalloc(json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) {
            berth_strv_free(vec);
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "image config field \"%s\" has a non-string element", key);
        }
        vec[i] = berth_xstrdup(json_string_value(item));
    }
    *out = vec;
    return 0;
}

static int parse_config(const json_t *cfg, struct berth_oci_image_config *c, struct berth_err **err)
{
    const json_t *labels, *v;
    const char *k;

    if (!cfg || json_is_null(cfg))
        return 0;
    if (!json_is_object(cfg))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "image config field \"config\" is not an object");
    if (get_strv(cfg, "Entrypoint", &c->entrypoint, err) < 0 ||
        get_strv(cfg, "Cmd", &c->cmd, err) < 0 || get_strv(cfg, "Env", &c->env, err) < 0 ||
        get_str(cfg, "User", &c->user, err) < 0 ||
        get_str(cfg, "WorkingDir", &c->working_dir, err) < 0 ||
        get_str(cfg, "StopSignal", &c->stop_signal, err) < 0)
        return -1;
    labels = json_object_get(cfg, "Labels");
    if (!labels || json_is_null(labels))
        return 0;
    if (!json_is_object(labels))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "image config field \"Labels\" is not an object");
    json_object_foreach((json_t *)labels, k, v)
    {
        if (!json_is_string(v))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "image config label \"%s\" is not a string", k);
        berth_labels_set(&c->labels, k, json_string_value(v));
    }
    return 0;
}

static int parse_rootfs(const json_t *rootfs, struct berth_oci_image_config *c,
                        struct berth_err **err)
{
    const json_t *type;

    if (!rootfs || json_is_null(rootfs))
        return 0;
    if (!json_is_object(rootfs))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "image config field \"rootfs\" is not an object");
    type = json_object_get(rootfs, "type");
    if (type && !json_is_null(type) &&
        (!json_is_string(type) || strcmp(json_string_value(type), "layers") != 0))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "image config rootfs type is not \"layers\"");
    if (get_strv(rootfs, "diff_ids", &c->diff_ids, err) < 0)
        return -1;
    for (size_t i = 0; c->diff_ids && c->diff_ids[i]; i++)
        if (berth_digest_validate(c->diff_ids[i], err) < 0)
            return berth_err_wrap(err, "image config diff_ids[%zu]", i);
    return 0;
}

int berth_oci_image_config_parse(const char *json, size_t len, struct berth_oci_image_config **out,
                                 struct berth_err **err)
{
    _cleanup_(berth_oci_image_config_freep) struct berth_oci_image_config *c = NULL;
    json_t *root;
    json_error_t jerr;
    int ret = -1;

    *out = NULL;
    root = json_loadb(json ? json : "", json ? len : 0, 0, &jerr);
    if (!root)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "parse image config: %s at line %d column %d", jerr.text, jerr.line,
                             jerr.column);
    c = berth_xcalloc(1, sizeof(*c));
    berth_labels_init(&c->labels);
    if (!json_is_object(root)) {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "image config is not a json object");
        goto out;
    }
    if (get_str(root, "architecture", &c->architecture, err) < 0 ||
        get_str(root, "os", &c->os, err) < 0 ||
        parse_config(json_object_get(root, "config"), c, err) < 0 ||
        parse_rootfs(json_object_get(root, "rootfs"), c, err) < 0)
        goto out;
    *out = steal_ptr(c);
    ret = 0;
out:
    json_decref(root);
    return ret;
}
