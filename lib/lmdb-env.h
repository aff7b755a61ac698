/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every LMDB environment berth opens shares (the metadata store, each snapshotter's
 * store): an open that refuses a data file too short for the pages its meta page claims (LMDB
 * maps the file and would die of SIGBUS on the first read past its end), and the one
 * translation of LMDB and errno codes to berth classes, naming the environment's file.
 * Depends on liblmdb (only the programs that open a store link this file).
 */
#ifndef BERTH_LIB_LMDB_ENV_H
#define BERTH_LIB_LMDB_ENV_H

#include <lmdb.h>

#include "lib/err.h"

/*
 * mdb_env_open(env, dir, flags, mode), then two checks that keep a damaged or full disk from
 * crashing the process later:
 *  - dir/data.mdb must hold every page up to the newest meta page's last page, or else every
 *    page reachable from the main and free databases (LMDB leaves pages freed again in the
 *    last transaction unwritten at the end of the file; a read-only walk in a child process
 *    tells that apart from truncation). DATA_LOSS "data file ... is truncated" naming the file
 *    and both sizes otherwise.
 *  - dir/lock.mdb gets its blocks allocated, so a reader slot first written while the disk is
 *    full cannot fault. RESOURCE_EXHAUSTED if there is no room for them.
 * flags must not contain MDB_NOSUBDIR, MDB_WRITEMAP or MDB_RDONLY. On failure env stays
 * created (the caller closes it with mdb_env_close, as after a failed mdb_env_open).
 */
int berth_lmdb_env_open(MDB_env *env, const char *dir, unsigned flags, mdb_mode_t mode,
                        struct berth_err **err);

/*
 * Sets *err for rc, an LMDB or errno code from a call on the open env, as "<what>: <reason>",
 * and returns -1. Classes: MDB_NOTFOUND NOT_FOUND; MDB_KEYEXIST ALREADY_EXISTS; MDB_MAP_FULL,
 * MDB_TXN_FULL RESOURCE_EXHAUSTED; ENOSPC, EDQUOT and EIO while the filesystem has (almost) no
 * space left (LMDB turns a short write into EIO) RESOURCE_EXHAUSTED "disk full" naming the data
 * file; MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_INVALID DATA_LOSS; MDB_BAD_VALSIZE
 * INVALID_ARGUMENT; anything else INTERNAL.
 */
int berth_lmdb_err(MDB_env *env, int rc, struct berth_err **err, const char *what);

#endif
