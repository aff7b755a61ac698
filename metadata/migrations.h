/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schema migrations, applied in order inside the opening write transaction. Migration i
 * moves a store from version i to i+1. Version 1 is the first release: nothing to migrate yet.
 */
#ifndef BERTH_METADATA_MIGRATIONS_H
#define BERTH_METADATA_MIGRATIONS_H

#include "metadata/db.h"

/* Brings a store at schema version `from` up to BERTH_META_SCHEMA_VERSION. */
int berth_meta_migrate(struct berth_meta_txn *txn, int from, struct berth_err **err);

#endif
