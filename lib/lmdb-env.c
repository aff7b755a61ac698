/* SPDX-License-Identifier: Apache-2.0 */
/* Opening and error translation shared by berth's LMDB environments (see lmdb-env.h). */
#include "lib/lmdb-env.h"

#include <errno.h>
#include <fcntl.h> /* fallocate */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"

/* Below this much free space an EIO from a write is taken for a full disk: LMDB reports a
 * write the disk cut short as EIO, and by then the disk has next to nothing left. */
#define LOW_SPACE ((uint64_t)1 << 20)

/* LMDB's lock file: a header of at most 256 bytes, then one 64-byte slot per reader. */
#define LOCK_HEADER 256
#define LOCK_SLOT   64

/* Free bytes on the filesystem of fd (or of path when fd < 0); false if unknown. */
static bool free_bytes(int fd, const char *path, uint64_t *out)
{
    struct statvfs sv;

    if ((fd >= 0 ? fstatvfs(fd, &sv) : statvfs(path, &sv)) < 0)
        return false;
    /* root writes into the blocks reserved for it (ext4's 5%), so only f_bfree ends it */
    *out = (uint64_t)(geteuid() == 0 ? sv.f_bfree : sv.f_bavail) * sv.f_frsize;
    return true;
}

static int err_at(const char *dir, int fd, int rc, struct berth_err **err, const char *what)
{
    /* errno values are positive, LMDB's own codes negative */
    const char *reason = rc > 0 ? berth_strerror(rc) : mdb_strerror(rc);
    enum berth_errc code = BERTH_E_INTERNAL;
    uint64_t avail = 0;
    bool known;

    switch (rc) {
    case MDB_NOTFOUND:
        code = BERTH_E_NOT_FOUND;
        break;
    case MDB_KEYEXIST:
        code = BERTH_E_ALREADY_EXISTS;
        break;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
        code = BERTH_E_RESOURCE_EXHAUSTED;
        break;
    case MDB_BAD_VALSIZE:
        code = BERTH_E_INVALID_ARGUMENT;
        break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        code = BERTH_E_DATA_LOSS;
        break;
    case ENOSPC:
    case EDQUOT:
    case EIO:
        known = free_bytes(fd, dir, &avail);
        if (rc == EIO && (!known || avail >= LOW_SPACE))
            break;
        if (!known)
            return berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0,
                                 "%s: disk full: no room to write \"%s/data.mdb\" (%s)", what, dir,
                                 reason);
        return berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0,
                             "%s: disk full: no room to write \"%s/data.mdb\" (%s, %" PRIu64
                             " bytes free)",
                             what, dir, reason, avail);
    default:
        break;
    }
    return berth_err_set(err, code, 0, "%s: %s", what, reason);
}

int berth_lmdb_err(MDB_env *env, int rc, struct berth_err **err, const char *what)
{
    const char *dir = NULL;
    int fd = -1;

    if (mdb_env_get_path(env, &dir) != 0 || !dir)
        dir = "(closed environment)";
    if (mdb_env_get_fd(env, &fd) != 0)
        fd = -1;
    return err_at(dir, fd, rc, err, what);
}

/* Gives the lock file its blocks before LMDB maps it: a reader slot first written on a full
 * disk would otherwise fault (SIGBUS) instead of failing. Done before mdb_env_open because
 * closing any fd of the file drops the process's fcntl locks on it, LMDB's included; sized
 * for every slot, which LMDB accepts (a lock file bigger than it needs only adds slots). */
static int alloc_lock_file(MDB_env *env, const char *dir, mdb_mode_t mode, struct berth_err **err)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/lock.mdb", dir);
    _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode);
    unsigned int readers = 126; /* LMDB's default */
    struct stat sb;
    off_t want;

    if (fd < 0 || fstat(fd, &sb) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open lock file \"%s\"", path);
    (void)mdb_env_get_maxreaders(env, &readers);
    want = LOCK_HEADER + (off_t)readers * LOCK_SLOT;
    if (sb.st_size > want)
        want = sb.st_size;
    /* fallocate(2), not posix_fallocate: glibc's fallback writes into the file, and another
     * process may have it open. A filesystem that cannot preallocate keeps today's risk. */
    if (fallocate(fd, 0, 0, want) == 0 || errno == EOPNOTSUPP)
        return 0;
    if (errno == ENOSPC || errno == EDQUOT)
        return berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0,
                             "disk full: no room for the lock file \"%s\" (%s)", path,
                             berth_strerror(errno));
    return berth_err_set(err, BERTH_E_INTERNAL, errno, "allocate lock file \"%s\"", path);
}

/* Reads every page a reader can reach in dbi: branch and leaf pages through the cursor, the
 * overflow pages of big values through their bytes. */
static int touch_db(MDB_txn *txn, MDB_dbi dbi)
{
    volatile unsigned char sink = 0;
    MDB_cursor *c;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const unsigned char *p = v.mv_data;
        for (size_t off = 0; off < v.mv_size; off += 512) /* below any page size */
            sink ^= p[off];
        if (v.mv_size)
            sink ^= p[v.mv_size - 1];
    }
    mdb_cursor_close(c);
    (void)sink;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The child of reachable_pages_present: its own read-only, lock-free handle on the file (the
 * parent's handle must not be used across fork), the free database (dbi 0) and the main one. */
static void __attribute__((noreturn)) touch_child(const char *dir, size_t mapsize)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    int rc;

    /* A missing page must end this process, not run an inherited handler (a test harness
     * that longjmps, say) in it. */
    signal(SIGBUS, SIG_DFL);
    signal(SIGSEGV, SIG_DFL);
    rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, mapsize);
    if (rc == 0)
        rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0);
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = touch_db(txn, 0);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    if (rc == 0)
        rc = touch_db(txn, dbi);
    _exit(rc == 0 ? 0 : 1);
}

/* Whether every page reachable in dir's environment lies inside the file: a child process
 * reads them all, so a missing one kills the child (SIGBUS), not us. The parent's env is not
 * writing (it was just opened) and berth opens each environment from one process only. */
static int reachable_pages_present(const char *dir, size_t mapsize, bool *ok,
                                   struct berth_err **err)
{
    pid_t pid;
    int status;

    *ok = false;
    pid = fork();
    if (pid < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "fork to check \"%s/data.mdb\"", dir);
    if (pid == 0)
        touch_child(dir, mapsize);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "wait for the check of \"%s\"", dir);
    *ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return 0;
}

/* LMDB writes every committed page into the file except "loose" ones (allocated and freed
 * again in the same transaction: it only records them as free), so a healthy file covers
 * pages 0..last_pgno except, at times, a few free ones at the end. */
static int check_size(MDB_env *env, const char *dir, struct berth_err **err)
{
    MDB_envinfo info;
    MDB_stat st;
    struct stat sb;
    uint64_t need;
    bool ok;
    int rc, fd;

    if ((rc = mdb_env_info(env, &info)) != 0 || (rc = mdb_env_stat(env, &st)) != 0 ||
        (rc = mdb_env_get_fd(env, &fd)) != 0)
        return err_at(dir, -1, rc, err, "inspect environment");
    if (fstat(fd, &sb) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "stat \"%s/data.mdb\"", dir);
    need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if ((uint64_t)sb.st_size >= need)
        return 0;
    if (reachable_pages_present(dir, info.me_mapsize, &ok, err) < 0)
        return -1;
    if (ok)
        return 0;
    return berth_err_set(
        err, BERTH_E_DATA_LOSS, 0,
        "data file \"%s/data.mdb\" is truncated: it has %" PRIu64
        " bytes, its last transaction uses %" PRIu64 " (%" PRIu64 " pages of %u bytes)",
        dir, (uint64_t)sb.st_size, need, (uint64_t)info.me_last_pgno + 1, st.ms_psize);
}

int berth_lmdb_env_open(MDB_env *env, const char *dir, unsigned flags, mdb_mode_t mode,
                        struct berth_err **err)
{
    int rc;

    if (alloc_lock_file(env, dir, mode, err) < 0)
        return -1;
    rc = mdb_env_open(env, dir, flags, mode);
    if (rc != 0)
        return err_at(dir, -1, rc, err, "open");
    return check_size(env, dir, err);
}
