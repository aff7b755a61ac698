/* SPDX-License-Identifier: Apache-2.0 */
/* The migration table (see migrations.h). Add an entry and bump BERTH_META_SCHEMA_VERSION
 * whenever a key or record layout changes incompatibly. */
#include "metadata/migrations.h"

typedef int (*migration_fn)(struct berth_meta_txn *txn, struct berth_err **err);

/* migrations[i] upgrades version i+1 to i+2; empty while version 1 is current. */
static const migration_fn migrations[BERTH_META_SCHEMA_VERSION] = {NULL};

int berth_meta_migrate(struct berth_meta_txn *txn, int from, struct berth_err **err)
{
    for (int v = from; v < BERTH_META_SCHEMA_VERSION; v++) {
        if (migrations[v - 1] && migrations[v - 1](txn, err) < 0)
            return berth_err_wrap(err, "migrate metadata schema %d to %d", v, v + 1);
    }
    return 0;
}
