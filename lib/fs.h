/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Directory chores every part of berth does: mkdir -p and rm -rf. One copy each, where the
 * daemon, the content store, the snapshotters, the runtime and berth-shim each had their own.
 * Depends on lib/err.h only.
 */
#ifndef BERTH_LIB_FS_H
#define BERTH_LIB_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/err.h"

/* Creates path and its missing parents (parents with parent_mode, path itself with mode; an
 * existing directory anywhere is fine, its mode left alone). RESOURCE_EXHAUSTED when the disk
 * or quota is full, INTERNAL for any other failure, naming the directory. err may be NULL. */
int berth_mkdir_p(const char *path, mode_t parent_mode, mode_t mode, struct berth_err **err);

/* Removes path and everything under it, never following a symlink nor crossing into another
 * filesystem (a mount below is left, and so is the directory holding it). A missing path is
 * success. Goes on past entries it cannot remove and then reports the first failure (INTERNAL,
 * naming path). err may be NULL. */
int berth_rmrf(const char *path, struct berth_err **err);

/* Replaces path with data (mode for a new file) so that a reader, or a crash at any moment,
 * sees the old file or the new one whole: writes <path>.tmp-<pid>, fsyncs it, renames it over
 * path and fsyncs the directory. RESOURCE_EXHAUSTED on a full disk, INTERNAL otherwise, naming
 * path; the temp file is gone either way. */
int berth_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            struct berth_err **err);
/* Reads the whole regular file path (at most max bytes) into *out (NUL-terminated, *len
 * without it); caller frees. The buffer is sized from fstat, not from max. NOT_FOUND when
 * absent, INVALID_ARGUMENT when not a regular file (a directory, FIFO or device), OUT_OF_RANGE
 * when larger than max, INTERNAL otherwise. */
int berth_read_file(const char *path, size_t max, char **out, size_t *len, struct berth_err **err);

/* Undoes the octal escapes of /proc/PID/mountinfo (space, tab, newline and backslash as \NNN) in
 * place. */
void berth_mountinfo_unescape(char *s);

#endif
