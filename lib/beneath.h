/* SPDX-License-Identifier: Apache-2.0 */
/* Opening a path that must stay beneath a directory fd (layer extraction): every component is
 * resolved by the kernel with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), or, where
 * openat2 is missing (kernels before 5.6, valgrind), by the same rules walked one component at
 * a time. */
#ifndef BERTH_LIB_BENEATH_H
#define BERTH_LIB_BENEATH_H

/* Opens rel ("" or "." for dirfd itself) below dirfd with open flags (O_CLOEXEC added).
 * Relative symlinks are followed while they stay beneath; ".." above dirfd and absolute
 * symlinks fail with EXDEV, too many links with ELOOP, a non-directory parent with ENOTDIR;
 * with O_NOFOLLOW a final symlink is not followed (O_PATH opens the link itself, anything else
 * fails with ELOOP). Returns an fd, or -1 with errno set. */
int berth_open_beneath(int dirfd, const char *rel, int flags);

/* The component walk berth_open_beneath falls back to, same contract. Not for O_CREAT. */
int berth_open_beneath_walk(int dirfd, const char *rel, int flags);

#endif
