/* SPDX-License-Identifier: Apache-2.0 */
/* The backends berthd opens (see berth_snap_registry_open in snapshotter.h). */
#include <string.h>

#include "lib/fs.h"
#include "snapshots/snapshots-internal.h"

static const struct berth_snapshotter_ops *const builtin[] = {
    &berth_snap_overlay_ops,
    &berth_snap_native_ops,
};

struct berth_snap_registry {
    struct berth_snapshotter snaps[BERTH_N(builtin)];
    struct berth_err *init_err[BERTH_N(builtin)];
};

int berth_snap_registry_open(const char *root, struct berth_snap_registry **out,
                             struct berth_err **err)
{
    struct berth_snap_registry *reg = berth_xcalloc(1, sizeof(*reg));

    *out = NULL;
    for (size_t i = 0; i < BERTH_N(builtin); i++) {
        _cleanup_free_ char *dir = berth_strdup_printf("%s/snapshots/%s", root, builtin[i]->name);
        if (berth_mkdir_p(dir, 0700, 0700, err) < 0) {
            berth_snap_registry_close(reg);
            return -1;
        }
        reg->snaps[i].ops = builtin[i];
        /* A backend that cannot work here (no d_type...) is reported, not fatal. A damaged
         * store is: serving without it would hide the damage until a snapshot goes missing. */
        if (builtin[i]->open(dir, &reg->snaps[i].state, &reg->init_err[i]) < 0) {
            reg->snaps[i].state = NULL;
            if (reg->init_err[i]->code == BERTH_E_DATA_LOSS) {
                *err = steal_ptr(reg->init_err[i]);
                berth_snap_registry_close(reg);
                return berth_err_wrap(err, "snapshotter %s", builtin[i]->name);
            }
        }
    }
    *out = reg;
    return 0;
}

void berth_snap_registry_close(struct berth_snap_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < BERTH_N(builtin); i++) {
        if (reg->snaps[i].ops && reg->snaps[i].state)
            reg->snaps[i].ops->close(reg->snaps[i].state);
        berth_err_free(&reg->init_err[i]);
    }
    free(reg);
}

int berth_snap_registry_get(struct berth_snap_registry *reg, const char *name,
                            struct berth_snapshotter **out, struct berth_err **err)
{
    *out = NULL;
    for (size_t i = 0; reg && i < BERTH_N(builtin); i++)
        if (strcmp(builtin[i]->name, name) == 0 && reg->snaps[i].state) {
            *out = &reg->snaps[i];
            return 0;
        }
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "snapshotter not loaded: %s", name);
}

const struct berth_err *berth_snap_registry_init_err(struct berth_snap_registry *reg,
                                                     const char *name)
{
    for (size_t i = 0; reg && i < BERTH_N(builtin); i++)
        if (strcmp(builtin[i]->name, name) == 0)
            return reg->init_err[i];
    return NULL;
}
