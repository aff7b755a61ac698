/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local content store (see store.h). Every ingest is a directory created under a temp name
 * and renamed into place, so a half-created one is never seen; its data file is the only thing
 * that changes afterwards, and its size is the ingest's offset, which makes a crash (kill -9)
 * mid-write leave an ingest that resumes where the last write stopped. Locks are flock()s on
 * the ingest directory: per open file description, so they exclude threads of this process as
 * well as other processes, and vanish with a crashed writer.
 */
#include "content/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h> /* flock */
#include <sys/stat.h>
#include <unistd.h>

#include "lib/digest.h"
#include "lib/fs.h"
#include "lib/sha256.h"

#define INGEST_TMP_PREFIX ".tmp-"
#define REF_MAX           4096
#define REHASH_CHUNK      (1 << 20)

struct berth_content_store {
    char *dir, *blobs, *ingest;
};

struct berth_content_writer {
    struct berth_content_store *s; /* borrowed */
    char *ref, *path, *expected;
    int dfd;     /* the ingest directory, flock()ed */
    int data;    /* its data file */
    int updated; /* its "updatedat" file, rewritten in place on every write */
    int64_t offset, total, started_ns, updated_ns;
    struct berth_sha256 hash;
};

/* The class of a failed write: a full disk (or quota) is RESOURCE_EXHAUSTED, as for LMDB. */
static enum berth_errc io_errc(int e)
{
    return e == ENOSPC || e == EDQUOT ? BERTH_E_RESOURCE_EXHAUSTED : BERTH_E_INTERNAL;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ret;

    if (fd < 0)
        return -1;
    ret = fsync(fd);
    close(fd);
    return ret;
}

/* Removes every entry of the directory dfd (no subdirectories expected) and then the directory
 * itself (name, relative to parent path). Best effort: returns -1 with errno on the first
 * failure. */
static int remove_dir_at(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int ret = 0;

    if (!d)
        return errno == ENOENT ? 0 : -1;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
            ret = -1;
    }
    closedir(d);
    if (rmdir(path) < 0 && errno != ENOENT)
        ret = -1;
    return ret;
}

static int write_file_at(int dfd, const char *name, const char *content, struct berth_err **err)
{
    _cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(content), done = 0;

    if (fd < 0)
        return berth_err_set(err, io_errc(errno), errno, "create ingest file \"%s\"", name);
    while (done < len) {
        ssize_t n = write(fd, content + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berth_err_set(err, io_errc(errno), errno, "write ingest file \"%s\"", name);
        done += (size_t)n;
    }
    if (fsync(fd) < 0)
        return berth_err_set(err, io_errc(errno), errno, "fsync ingest file \"%s\"", name);
    return 0;
}

/* Replaces a small file atomically (temp + rename). */
static int replace_file_at(int dfd, const char *name, const char *content, struct berth_err **err)
{
    char tmp[64];

    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    if (write_file_at(dfd, tmp, content, err) < 0)
        return -1;
    if (renameat(dfd, tmp, dfd, name) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "rename ingest file \"%s\"", name);
    return 0;
}

/* Reads a small file; NULL if absent or unreadable. */
static char *read_file_at(int dfd, const char *name)
{
    _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
    char buf[REF_MAX + 1];
    size_t len = 0;

    if (fd < 0)
        return NULL;
    while (len < REF_MAX) {
        ssize_t n = read(fd, buf + len, REF_MAX - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NULL;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    return berth_xstrndup(buf, len);
}

static int64_t read_i64_at(int dfd, const char *name)
{
    _cleanup_free_ char *s = read_file_at(dfd, name);
    return s ? strtoll(s, NULL, 10) : 0;
}

static int write_i64_at(int dfd, const char *name, int64_t v, bool replace, struct berth_err **err)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return replace ? replace_file_at(dfd, name, buf, err) : write_file_at(dfd, name, buf, err);
}

/* Checks a digest the store can hold: valid and sha256. *hex points into digest. */
static int parse_digest(const char *digest, const char **hex, struct berth_err **err)
{
    if (berth_digest_validate(digest, err) < 0)
        return -1;
    if (!berth_str_has_prefix(digest, "sha256:"))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "unsupported digest algorithm in \"%s\"", digest);
    *hex = digest + 7;
    return 0;
}

static char *blob_path(const struct berth_content_store *s, const char *hex)
{
    return berth_strdup_printf("%s/%s", s->blobs, hex);
}

static char *ingest_path(const struct berth_content_store *s, const char *ref)
{
    char d[72];

    berth_sha256_digest_buf(ref, strlen(ref), d);
    return berth_strdup_printf("%s/%s", s->ingest, d + 7);
}

static int validate_ref(const char *ref, struct berth_err **err)
{
    if (!ref || !*ref)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "ref must not be empty");
    if (strlen(ref) > REF_MAX - 1)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "ref \"%.64s...\" is too long", ref);
    return 0;
}

int berth_content_store_open(const char *dir, struct berth_content_store **out,
                             struct berth_err **err)
{
    struct berth_content_store *s;
    DIR *d;
    struct dirent *de;

    *out = NULL;
    s = berth_xcalloc(1, sizeof(*s));
    s->dir = berth_xstrdup(dir);
    s->blobs = berth_strdup_printf("%s/blobs/sha256", dir);
    s->ingest = berth_strdup_printf("%s/ingest", dir);
    if (berth_mkdir_p(s->blobs, 0755, 0755, err) < 0 ||
        berth_mkdir_p(s->ingest, 0700, 0700, err) < 0) {
        berth_content_store_close(s);
        return berth_err_wrap(err, "open content store \"%s\"", dir);
    }
    /* Temp dirs of ingests whose creation a crash interrupted were never visible: drop them. */
    d = opendir(s->ingest);
    while (d && (de = readdir(d))) {
        if (berth_str_has_prefix(de->d_name, INGEST_TMP_PREFIX)) {
            _cleanup_free_ char *p = berth_strdup_printf("%s/%s", s->ingest, de->d_name);
            (void)remove_dir_at(p);
        }
    }
    if (d)
        closedir(d);
    *out = s;
    return 0;
}

void berth_content_store_close(struct berth_content_store *s)
{
    if (!s)
        return;
    free(s->dir);
    free(s->blobs);
    free(s->ingest);
    free(s);
}

const char *berth_content_store_dir(const struct berth_content_store *s)
{
    return s->dir;
}

int berth_content_blob_open(struct berth_content_store *s, const char *digest, int *fd,
                            int64_t *size, struct berth_err **err)
{
    _cleanup_free_ char *path = NULL;
    _cleanup_close_ int f = -1;
    const char *hex;
    struct stat st;

    *fd = -1;
    if (parse_digest(digest, &hex, err) < 0)
        return -1;
    path = blob_path(s, hex);
    f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0 && errno == ENOENT)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "content %s", digest);
    if (f < 0 || fstat(f, &st) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open blob %s", digest);
    if (size)
        *size = st.st_size;
    *fd = steal_fd(f);
    return 0;
}

int berth_content_blob_stat(struct berth_content_store *s, const char *digest, int64_t *size,
                            struct berth_err **err)
{
    _cleanup_free_ char *path = NULL;
    const char *hex;
    struct stat st;

    if (parse_digest(digest, &hex, err) < 0)
        return -1;
    path = blob_path(s, hex);
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "content %s", digest);
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "stat blob %s", digest);
    }
    if (size)
        *size = st.st_size;
    return 0;
}

int berth_content_blob_delete(struct berth_content_store *s, const char *digest,
                              struct berth_err **err)
{
    _cleanup_free_ char *path = NULL;
    const char *hex;

    if (parse_digest(digest, &hex, err) < 0)
        return -1;
    path = blob_path(s, hex);
    if (unlink(path) < 0) {
        if (errno == ENOENT)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "content %s", digest);
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "remove blob %s", digest);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int berth_content_blob_list(struct berth_content_store *s, char ***out, struct berth_err **err)
{
    DIR *d = opendir(s->blobs);
    struct dirent *de;
    char **v = NULL;
    size_t n = 0, cap = 0;

    *out = NULL;
    if (!d)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "list blobs in \"%s\"", s->blobs);
    while ((de = readdir(d))) {
        if (strlen(de->d_name) != 64 || strspn(de->d_name, "0123456789abcdef") != 64)
            continue;
        if (n + 2 > cap) {
            cap = cap ? cap * 2 : 16;
            v = berth_xrealloc(v, cap * sizeof(*v));
        }
        v[n++] = berth_strdup_printf("sha256:%s", de->d_name);
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof(*v), cmp_str);
    if (!v)
        v = berth_xcalloc(1, sizeof(*v));
    v[n] = NULL;
    *out = v;
    return 0;
}

void berth_content_status_clear(struct berth_content_status *st)
{
    if (!st)
        return;
    free(st->ref);
    free(st->expected);
    memset(st, 0, sizeof(*st));
}

void berth_content_statuses_free(struct berth_content_status *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        berth_content_status_clear(&v[i]);
    free(v);
}

/* Reads the status of the ingest directory dfd. Absent ref file: -1 (not an ingest). */
static int read_status(int dfd, struct berth_content_status *st)
{
    struct stat sb;
    char *ref = read_file_at(dfd, "ref");

    memset(st, 0, sizeof(*st));
    if (!ref)
        return -1;
    st->ref = ref;
    st->total = read_i64_at(dfd, "total");
    st->started_ns = read_i64_at(dfd, "startedat");
    st->expires_ns = read_i64_at(dfd, "expiresat");
    st->expected = read_file_at(dfd, "expected");
    if (st->expected && !*st->expected) {
        free(st->expected);
        st->expected = NULL;
    }
    /* The daemon's clock at the last write; the data file's mtime comes from the kernel's
     * coarse clock (it can read earlier than a write that just began) and is only the fallback
     * for an ingest created before "updatedat" existed. */
    st->updated_ns = read_i64_at(dfd, "updatedat");
    if (fstatat(dfd, "data", &sb, 0) == 0) {
        st->offset = sb.st_size;
        if (st->updated_ns <= 0)
            st->updated_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
    }
    if (st->updated_ns < st->started_ns)
        st->updated_ns = st->started_ns;
    return 0;
}

int berth_content_ingest_status(struct berth_content_store *s, const char *ref,
                                struct berth_content_status *st, struct berth_err **err)
{
    _cleanup_free_ char *path = NULL;
    _cleanup_close_ int dfd = -1;

    memset(st, 0, sizeof(*st));
    if (validate_ref(ref, err) < 0)
        return -1;
    path = ingest_path(s, ref);
    dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 && errno != ENOENT)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open ingest \"%s\"", ref);
    if (dfd < 0 || read_status(dfd, st) < 0 || strcmp(st->ref, ref) != 0) {
        berth_content_status_clear(st);
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "ref \"%s\"", ref);
    }
    return 0;
}

static int cmp_status(const void *a, const void *b)
{
    return strcmp(((const struct berth_content_status *)a)->ref,
                  ((const struct berth_content_status *)b)->ref);
}

int berth_content_ingest_list(struct berth_content_store *s, const char *prefix,
                              struct berth_content_status **out, size_t *n, struct berth_err **err)
{
    DIR *d = opendir(s->ingest);
    struct dirent *de;
    struct berth_content_status *v = NULL;
    size_t cnt = 0, cap = 0;

    *out = NULL;
    *n = 0;
    if (!d)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "list ingests in \"%s\"", s->ingest);
    while ((de = readdir(d))) {
        struct berth_content_status st;
        int dfd;

        if (de->d_name[0] == '.')
            continue;
        dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            continue; /* removed meanwhile */
        if (read_status(dfd, &st) < 0 ||
            (prefix && *prefix && !berth_str_has_prefix(st.ref, prefix))) {
            close(dfd);
            berth_content_status_clear(&st);
            continue;
        }
        close(dfd);
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            v = berth_xrealloc(v, cap * sizeof(*v));
        }
        v[cnt++] = st;
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_status);
    *out = v;
    *n = cnt;
    return 0;
}

/* Opens and locks the existing ingest directory of ref. NOT_FOUND if absent, UNAVAILABLE if
 * locked. Retries when the directory was replaced between open and lock. */
static int lock_ingest(const char *path, const char *ref, int *dfd_out, struct berth_err **err)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        _cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *stored = NULL;
        struct stat a, b;

        if (dfd < 0 && errno == ENOENT)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "ref \"%s\"", ref);
        if (dfd < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "open ingest \"%s\"", ref);
        if (flock(dfd, LOCK_EX | LOCK_NB) < 0) {
            if (errno == EWOULDBLOCK)
                return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "ref \"%s\" locked", ref);
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "lock ingest \"%s\"", ref);
        }
        /* Whoever held the lock before may have committed or aborted and removed it. */
        if (fstat(dfd, &a) < 0 || stat(path, &b) < 0 || a.st_ino != b.st_ino ||
            a.st_dev != b.st_dev)
            continue;
        stored = read_file_at(dfd, "ref");
        if (!stored || strcmp(stored, ref) != 0)
            return berth_err_set(err, BERTH_E_INTERNAL, 0,
                                 "ingest directory of ref \"%s\" holds another ref", ref);
        *dfd_out = steal_fd(dfd);
        return 0;
    }
    return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "ref \"%s\" locked", ref);
}

/* Creates the ingest directory of ref atomically. 0 also when someone else created it first. */
static int create_ingest(struct berth_content_store *s, const char *path, const char *ref,
                         int64_t total, const char *expected, struct berth_err **err)
{
    static unsigned long seq;
    _cleanup_free_ char *tmp = NULL;
    _cleanup_close_ int dfd = -1;
    int64_t now = berth_now_ns();
    int ret = -1;

    tmp = berth_strdup_printf("%s/" INGEST_TMP_PREFIX "%d-%lu", s->ingest, getpid(),
                              __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
    if (mkdir(tmp, 0700) < 0)
        return berth_err_set(err, io_errc(errno), errno, "create ingest \"%s\"", ref);
    dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "open ingest \"%s\"", ref);
        goto out;
    }
    if (write_file_at(dfd, "ref", ref, err) < 0 ||
        write_i64_at(dfd, "total", total, false, err) < 0 ||
        write_i64_at(dfd, "startedat", now, false, err) < 0 ||
        write_i64_at(dfd, "updatedat", now, false, err) < 0 ||
        write_i64_at(dfd, "expiresat", now + BERTH_CONTENT_INGEST_EXPIRY_NS, false, err) < 0 ||
        write_file_at(dfd, "expected", expected ? expected : "", err) < 0 ||
        write_file_at(dfd, "data", "", err) < 0)
        goto out;
    if (fsync(dfd) < 0) {
        berth_err_set(err, io_errc(errno), errno, "fsync ingest \"%s\"", ref);
        goto out;
    }
    if (rename(tmp, path) < 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) {
            berth_err_set(err, BERTH_E_INTERNAL, errno, "create ingest \"%s\"", ref);
            goto out;
        }
    } else {
        (void)fsync_path(s->ingest);
        tmp[0] = '\0';
    }
    ret = 0;
out:
    if (tmp[0])
        (void)remove_dir_at(tmp);
    return ret;
}

/* Re-hashes what the data file already holds (a resumed ingest). */
static int rehash(struct berth_content_writer *w, struct berth_err **err)
{
    _cleanup_free_ uint8_t *buf = NULL;
    struct stat st;
    int64_t off = 0;

    berth_sha256_init(&w->hash);
    if (fstat(w->data, &st) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "stat ingest \"%s\"", w->ref);
    buf = berth_xmalloc(REHASH_CHUNK);
    while (off < st.st_size) {
        ssize_t n = pread(w->data, buf, REHASH_CHUNK, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "read ingest \"%s\"", w->ref);
        if (n == 0)
            break;
        berth_sha256_update(&w->hash, buf, (size_t)n);
        off += n;
    }
    w->offset = off;
    return 0;
}

int berth_content_writer_open(struct berth_content_store *s, const char *ref, int64_t total,
                              const char *expected, struct berth_content_writer **out,
                              struct berth_err **err)
{
    _cleanup_(berth_content_writer_closep) struct berth_content_writer *w = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    const char *hex;

    *out = NULL;
    if (validate_ref(ref, err) < 0)
        return -1;
    if (total < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "ref \"%s\": negative total %" PRId64, ref, total);
    if (expected && !*expected)
        expected = NULL;
    if (expected) {
        _cleanup_free_ char *bp = NULL;
        if (parse_digest(expected, &hex, err) < 0)
            return -1;
        bp = blob_path(s, hex);
        if (access(bp, F_OK) == 0)
            return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "content %s", expected);
    }
    w = berth_xcalloc(1, sizeof(*w));
    w->s = s;
    w->dfd = w->data = w->updated = -1;
    w->ref = berth_xstrdup(ref);
    w->path = ingest_path(s, ref);
    if (lock_ingest(w->path, ref, &w->dfd, &e) < 0) {
        if (e->code != BERTH_E_NOT_FOUND) {
            *err = steal_ptr(e);
            return -1;
        }
        berth_err_free(&e);
        if (create_ingest(s, w->path, ref, total, expected, err) < 0 ||
            lock_ingest(w->path, ref, &w->dfd, err) < 0)
            return -1;
    }
    /* O_CREAT: a crash between a commit's rename and the ingest's removal leaves no data. */
    w->data = openat(w->dfd, "data", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (w->data < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open ingest data of \"%s\"", ref);
    /* O_CREAT: ingests created before "updatedat" existed get one. */
    w->updated = openat(w->dfd, "updatedat", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (w->updated < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open ingest times of \"%s\"", ref);
    w->total = read_i64_at(w->dfd, "total");
    w->started_ns = read_i64_at(w->dfd, "startedat");
    w->updated_ns = read_i64_at(w->dfd, "updatedat");
    w->expected = read_file_at(w->dfd, "expected");
    if (w->expected && !*w->expected) {
        free(w->expected);
        w->expected = NULL;
    }
    if (total > 0 && total != w->total && berth_content_writer_truncate_total(w, total, err) < 0)
        return -1;
    if (expected && (!w->expected || strcmp(expected, w->expected) != 0)) {
        if (replace_file_at(w->dfd, "expected", expected, err) < 0)
            return -1;
        free(w->expected);
        w->expected = berth_xstrdup(expected);
    }
    if (rehash(w, err) < 0)
        return -1;
    *out = steal_ptr(w);
    return 0;
}

int berth_content_writer_truncate_total(struct berth_content_writer *w, int64_t total,
                                        struct berth_err **err)
{
    if (total <= 0 || total == w->total)
        return 0;
    if (write_i64_at(w->dfd, "total", total, true, err) < 0)
        return -1;
    w->total = total;
    return 0;
}

const char *berth_content_writer_ref(const struct berth_content_writer *w)
{
    return w->ref;
}

void berth_content_writer_digest(const struct berth_content_writer *w, char buf[72])
{
    struct berth_sha256 c = w->hash;
    berth_sha256_digest_str(&c, buf);
}

int berth_content_writer_status(struct berth_content_writer *w, struct berth_content_status *st,
                                struct berth_err **err)
{
    memset(st, 0, sizeof(*st));
    if (read_status(w->dfd, st) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "ingest \"%s\" lost its ref file", w->ref);
    st->offset = w->offset;
    if (w->updated_ns > st->updated_ns)
        st->updated_ns = w->updated_ns;
    return 0;
}

/* Records the daemon's clock as the time of the ingest's last write. One pwrite of a
 * fixed-width number over the old one (no truncate, no fsync): a crash can lose the last
 * update but never leaves a torn value, because every value has the same width and a
 * 20-byte write lands whole in one page. */
static void touch_updated(struct berth_content_writer *w)
{
    char buf[24];
    int n;

    w->updated_ns = berth_now_ns();
    n = snprintf(buf, sizeof(buf), "%020" PRId64, w->updated_ns);
    (void)!pwrite(w->updated, buf, (size_t)n, 0);
}

int berth_content_writer_write(struct berth_content_writer *w, int64_t offset, const void *data,
                               size_t len, struct berth_err **err)
{
    const uint8_t *p = data;
    size_t done = 0;

    touch_updated(w);
    if (offset == 0 && w->offset > 0) {
        if (ftruncate(w->data, 0) < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "truncate ingest \"%s\"", w->ref);
        berth_sha256_init(&w->hash);
        w->offset = 0;
    }
    if (offset != w->offset)
        return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0,
                             "write at offset %" PRId64 " of ref \"%s\" must occur at current "
                             "offset %" PRId64,
                             offset, w->ref, w->offset);
    while (done < len) {
        ssize_t n = pwrite(w->data, p + done, len - done, w->offset + (int64_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            /* Keep the file and the hash in step: drop the part that made it. */
            (void)!ftruncate(w->data, w->offset);
            return berth_err_set(err, io_errc(saved), saved, "write ingest \"%s\"", w->ref);
        }
        done += (size_t)n;
    }
    berth_sha256_update(&w->hash, data, len);
    w->offset += (int64_t)len;
    return 0;
}

/* Frees w after the ingest is gone (commit); the lock goes with the directory fd. */
static void writer_consume(struct berth_content_writer *w)
{
    (void)remove_dir_at(w->path);
    berth_content_writer_close(w);
}

int berth_content_writer_commit(struct berth_content_writer *w, int64_t size, const char *expected,
                                char **digest_out, struct berth_err **err)
{
    _cleanup_free_ char *target = NULL, *data_path = NULL;
    char digest[72];

    *digest_out = NULL;
    if (size <= 0)
        size = w->total;
    if (!expected || !*expected)
        expected = w->expected;
    if (size > 0 && size != w->offset)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "unexpected commit size %" PRId64 ", expected %" PRId64, w->offset,
                             size);
    berth_content_writer_digest(w, digest);
    if (expected && strcmp(expected, digest) != 0)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "unexpected commit digest %s, expected %s", digest, expected);
    if (fsync(w->data) < 0)
        return berth_err_set(err, io_errc(errno), errno, "fsync ingest \"%s\"", w->ref);
    target = blob_path(w->s, digest + 7);
    data_path = berth_strdup_printf("%s/data", w->path);
    (void)fchmod(w->data, 0444); /* blobs are immutable */
    if (renameat2(AT_FDCWD, data_path, AT_FDCWD, target, RENAME_NOREPLACE) < 0) {
        if (errno == EEXIST) {
            writer_consume(w);
            *digest_out = berth_xstrdup(digest);
            return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "content %s", digest);
        }
        int saved = errno;
        (void)fchmod(w->data, 0644);
        return berth_err_set(err, BERTH_E_INTERNAL, saved, "commit ingest \"%s\"", w->ref);
    }
    (void)fsync_path(w->s->blobs);
    writer_consume(w);
    *digest_out = berth_xstrdup(digest);
    return 0;
}

void berth_content_writer_close(struct berth_content_writer *w)
{
    if (!w)
        return;
    if (w->data >= 0)
        close(w->data);
    if (w->updated >= 0)
        close(w->updated);
    if (w->dfd >= 0)
        close(w->dfd); /* releases the flock */
    free(w->ref);
    free(w->path);
    free(w->expected);
    free(w);
}

int berth_content_ingest_abort(struct berth_content_store *s, const char *ref,
                               struct berth_err **err)
{
    _cleanup_free_ char *path = NULL;
    _cleanup_close_ int dfd = -1;

    if (validate_ref(ref, err) < 0)
        return -1;
    path = ingest_path(s, ref);
    if (lock_ingest(path, ref, &dfd, err) < 0)
        return -1;
    if (remove_dir_at(path) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "remove ingest \"%s\"", ref);
    return 0;
}

int berth_content_ingest_set_expiry(struct berth_content_store *s, const char *ref,
                                    int64_t expires_ns, struct berth_err **err)
{
    _cleanup_free_ char *path = NULL;
    _cleanup_close_ int dfd = -1;

    if (validate_ref(ref, err) < 0)
        return -1;
    path = ingest_path(s, ref);
    dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 && errno == ENOENT)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "ref \"%s\"", ref);
    if (dfd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open ingest \"%s\"", ref);
    return write_i64_at(dfd, "expiresat", expires_ns, true, err);
}
