/* SPDX-License-Identifier: Apache-2.0 */
/* The CRI log writer: splits what a container writes into F/P lines the way containerd's
 * redirectLogs does (bufio.ReadLine, then chunks of max_line_size) and appends them to the log
 * file with one write each. Runs inside the shim's loop, so it never waits: the file is a
 * regular file opened O_NONBLOCK, and anything it refuses is dropped and counted. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h> /* writev: header, two pieces of the line and "\n" in one write */
#include <time.h>

#include "lib/fs.h"
#include "lib/rfc3339.h"
#include "lib/util.h"
#include "runtime/shim/crilog.h"

struct crilog_line {
    uint8_t *buf; /* bytes of the current line not written yet (no '\n') */
    size_t len, cap;
};

struct berth_shim_crilog {
    char *path; /* NULL: fd borrowed (berth_shim_crilog_new_fd) */
    int fd;
    int64_t max_line;
    struct crilog_line pending[2];
    berth_shim_crilog_clock_fn clock;
    struct berth_shim_crilog_drops drops;
};

static const char *const stream_names[] = {"stdout", "stderr"};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Go's url.PathUnescape: %XX only, '+' stays. */
static int unescape(const char *s, size_t n, char **out)
{
    char *d = berth_xmalloc(n + 1), *w = d;

    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *w++ = s[i];
            continue;
        }
        if (i + 2 >= n) {
            free(d);
            return -1;
        }
        int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(d);
            return -1;
        }
        *w++ = (char)(hi << 4 | lo);
        i += 2;
    }
    *w = '\0';
    *out = d;
    return 0;
}

int berth_shim_crilog_uri_parse(const char *uri, char **path, int64_t *max_line_size,
                                struct berth_err **err)
{
    const char *p, *q;
    int64_t max = BERTH_SHIM_CRILOG_DEFAULT_MAX_LINE;
    char *decoded = NULL;

    if (!uri || !berth_str_has_prefix(uri, BERTH_SHIM_CRILOG_SCHEME))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "\"%s\" is not a crilog uri",
                             uri ? uri : "");
    p = uri + strlen(BERTH_SHIM_CRILOG_SCHEME);
    if (p[0] != '/')
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "crilog uri \"%s\" has no absolute path", uri);
    q = strchr(p, '?');
    if (unescape(p, q ? (size_t)(q - p) : strlen(p), &decoded) < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "crilog uri \"%s\": bad escape",
                             uri);
    /* The query: key=value pairs split by '&'; a fragment ends it. */
    for (q = q ? q + 1 : NULL; q && *q && *q != '#';) {
        size_t n = strcspn(q, "&#");
        if (n > 14 && !strncmp(q, "max_line_size=", 14)) {
            char num[24], *end;
            long long v;
            if (n - 14 >= sizeof(num))
                goto bad_max;
            memcpy(num, q + 14, n - 14);
            num[n - 14] = '\0';
            errno = 0;
            v = strtoll(num, &end, 10);
            if (errno || *end || end == num)
                goto bad_max;
            max = v;
        } else if (n == 14 && !strncmp(q, "max_line_size=", 14)) {
            goto bad_max;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    *path = decoded;
    *max_line_size = max;
    return 0;
bad_max:
    free(decoded);
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "crilog uri \"%s\": bad max_line_size",
                         uri);
}

char *berth_shim_crilog_uri(const char *path, int64_t max_line_size)
{
    size_t n = strlen(path);
    _cleanup_free_ char *esc = berth_xmalloc(3 * n + 1);
    char *w = esc;

    for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
        if (*s <= ' ' || *s >= 0x7f || *s == '%' || *s == '?' || *s == '#') {
            w += sprintf(w, "%%%02X", *s);
            continue;
        }
        *w++ = (char)*s;
    }
    *w = '\0';
    return berth_strdup_printf(BERTH_SHIM_CRILOG_SCHEME "%s?max_line_size=%lld", esc,
                               (long long)max_line_size);
}

/* O_NONBLOCK: a log path that is a FIFO or device must not stall the loop (a regular file
 * ignores it). */
static int open_log(const char *path, int *fd, struct berth_err **err)
{
    _cleanup_free_ char *dir = berth_xstrdup(path);
    char *slash = strrchr(dir, '/');

    if (slash && slash != dir) {
        *slash = '\0';
        if (berth_mkdir_p(dir, 0755, 0755, err) < 0)
            return berth_err_wrap(err, "create log directory");
    }
    *fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0640);
    if (*fd < 0)
        return berth_err_set(
            err, errno == ENOSPC || errno == EDQUOT ? BERTH_E_RESOURCE_EXHAUSTED : BERTH_E_INTERNAL,
            errno, "open log \"%s\"", path);
    return 0;
}

static struct berth_shim_crilog *crilog_new(int64_t max_line_size)
{
    struct berth_shim_crilog *l = berth_xcalloc(1, sizeof(*l));

    l->fd = -1;
    l->max_line = max_line_size;
    l->clock = berth_now_ns;
    return l;
}

int berth_shim_crilog_open(const char *path, int64_t max_line_size, struct berth_shim_crilog **out,
                           struct berth_err **err)
{
    struct berth_shim_crilog *l;
    int fd;

    *out = NULL;
    if (open_log(path, &fd, err) < 0)
        return -1;
    l = crilog_new(max_line_size);
    l->path = berth_xstrdup(path);
    l->fd = fd;
    *out = l;
    return 0;
}

struct berth_shim_crilog *berth_shim_crilog_new_fd(int fd, int64_t max_line_size)
{
    struct berth_shim_crilog *l = crilog_new(max_line_size);

    l->fd = fd;
    return l;
}

void berth_shim_crilog_close(struct berth_shim_crilog *l)
{
    if (!l)
        return;
    if (l->path && l->fd >= 0)
        close(l->fd);
    for (size_t i = 0; i < BERTH_N(l->pending); i++)
        free(l->pending[i].buf);
    free(l->path);
    free(l);
}

void berth_shim_crilog_set_clock(struct berth_shim_crilog *l, berth_shim_crilog_clock_fn clock)
{
    l->clock = clock ? clock : berth_now_ns;
}

const char *berth_shim_crilog_path(const struct berth_shim_crilog *l)
{
    return l->path;
}

void berth_shim_crilog_get_drops(const struct berth_shim_crilog *l,
                                 struct berth_shim_crilog_drops *out)
{
    *out = l->drops;
}

size_t berth_shim_crilog_timestamp(int64_t ns, char buf[BERTH_SHIM_CRILOG_TS_MAX])
{
    int64_t sec = ns / 1000000000, frac = ns % 1000000000;
    char utc[BERTH_RFC3339_MAX];
    struct tm tm;
    time_t t;
    long off, min;
    size_t n;

    if (frac < 0) {
        frac += 1000000000;
        sec--;
    }
    t = (time_t)sec;
    off = localtime_r(&t, &tm) ? tm.tm_gmtoff : 0;
    /* The wall clock of the zone formatted as if it were UTC, then "Z" swapped for the
     * offset: Go's Z07:00 (whole minutes, seconds of historic offsets dropped). */
    berth_rfc3339_format_ts(sec + off, (int32_t)frac, utc);
    n = strlen(utc) - 1;
    memcpy(buf, utc, n);
    min = off / 60;
    if (off == 0)
        return (size_t)snprintf(buf + n, BERTH_SHIM_CRILOG_TS_MAX - n, "Z") + n;
    return (size_t)snprintf(buf + n, BERTH_SHIM_CRILOG_TS_MAX - n, "%c%02ld:%02ld",
                            min < 0 ? '-' : '+', labs(min) / 60, labs(min) % 60) +
           n;
}

/* One log line: header, a then b (the line's bytes in two pieces), "\n", in one writev. A
 * short write (disk full mid-line) is continued; what cannot be written is dropped. */
static void emit(struct berth_shim_crilog *l, const char *hdr, size_t hdr_len, const void *a,
                 size_t a_len, const void *b, size_t b_len)
{
    struct iovec iov[4] = {
        {.iov_base = (void *)hdr, .iov_len = hdr_len},
        {.iov_base = (void *)a, .iov_len = a_len},
        {.iov_base = (void *)b, .iov_len = b_len},
        {.iov_base = "\n", .iov_len = 1},
    };
    struct iovec *v = iov;
    int cnt = 4;
    size_t left = hdr_len + a_len + b_len + 1;

    while (left > 0) {
        ssize_t n = l->fd >= 0 ? writev(l->fd, v, cnt) : (errno = EBADF, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            l->drops.lines++;
            l->drops.bytes += left;
            l->drops.last_errno = n < 0 ? errno : EIO;
            return;
        }
        left -= (size_t)n;
        while (cnt > 0 && (size_t)n >= v->iov_len) {
            n -= (ssize_t)v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *)v->iov_base + n;
            v->iov_len -= (size_t)n;
        }
    }
}

struct stamp {
    char hdr[BERTH_SHIM_CRILOG_TS_MAX + 16];
    size_t ts_len; /* the header is "<ts> <stream> " then the tag and a space */
    size_t len;
};

static void stamp_init(struct berth_shim_crilog *l, enum berth_shim_crilog_stream stream,
                       struct stamp *st)
{
    st->ts_len = berth_shim_crilog_timestamp(l->clock(), st->hdr);
    st->len = st->ts_len + (size_t)sprintf(st->hdr + st->ts_len, " %s X ", stream_names[stream]);
}

static void emit_tagged(struct berth_shim_crilog *l, struct stamp *st, char tag, const void *a,
                        size_t a_len, const void *b, size_t b_len)
{
    st->hdr[st->len - 2] = tag;
    emit(l, st->hdr, st->len, a, a_len, b, b_len);
}

static void pending_append(struct crilog_line *p, const uint8_t *b, size_t n)
{
    if (!n)
        return;
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while (cap < p->len + n)
            cap *= 2;
        p->buf = berth_xrealloc(p->buf, cap);
        p->cap = cap;
    }
    memcpy(p->buf + p->len, b, n);
    p->len += n;
}

/* Writes P chunks of max_line bytes (pending bytes first, then *seg) while more than
 * max_line + keep bytes are left: containerd cuts a line only once it is known to be longer
 * than max_line, so exactly max_line bytes are still a full line. keep holds back a trailing
 * '\r' that may turn out to end the line. */
static void split(struct berth_shim_crilog *l, struct stamp *st, struct crilog_line *p,
                  const uint8_t **seg, size_t *seg_len, size_t keep)
{
    size_t max = (size_t)l->max_line;

    if (l->max_line <= 0)
        return;
    while (p->len + *seg_len > max + keep) {
        size_t a = p->len < max ? p->len : max, b = max - a;
        emit_tagged(l, st, 'P', p->buf, a, *seg, b);
        if (a) {
            memmove(p->buf, p->buf + a, p->len - a);
            p->len -= a;
        }
        *seg += b;
        *seg_len -= b;
    }
}

void berth_shim_crilog_feed(struct berth_shim_crilog *l, enum berth_shim_crilog_stream stream,
                            const void *buf, size_t len)
{
    struct crilog_line *p = &l->pending[stream];
    const uint8_t *d = buf;
    struct stamp st;

    if (!len)
        return;
    stamp_init(l, stream, &st);
    while (len > 0) {
        const uint8_t *nl = memchr(d, '\n', len), *seg = d;
        size_t seg_len = nl ? (size_t)(nl - d) : len;

        d += seg_len;
        len -= seg_len;
        if (!nl) {
            /* No end of line yet: cut what is certainly too long, keep the rest. */
            split(l, &st, p, &seg, &seg_len, seg[seg_len - 1] == '\r');
            pending_append(p, seg, seg_len);
            break;
        }
        /* A full line: "\r\n" ends it as "\n" does (bufio.ReadLine). */
        if (seg_len > 0 && seg[seg_len - 1] == '\r')
            seg_len--;
        else if (seg_len == 0 && p->len > 0 && p->buf[p->len - 1] == '\r')
            p->len--;
        split(l, &st, p, &seg, &seg_len, 0);
        emit_tagged(l, &st, 'F', p->buf, p->len, seg, seg_len);
        p->len = 0;
        d++;
        len--;
    }
}

void berth_shim_crilog_flush(struct berth_shim_crilog *l, enum berth_shim_crilog_stream stream)
{
    static const uint8_t nothing[1];
    struct crilog_line *p = &l->pending[stream];
    const uint8_t *none = nothing;
    size_t zero = 0;
    struct stamp st;

    if (!p->len)
        return;
    stamp_init(l, stream, &st);
    split(l, &st, p, &none, &zero, 0);
    emit_tagged(l, &st, 'P', p->buf, p->len, NULL, 0);
    p->len = 0;
}

int berth_shim_crilog_reopen(struct berth_shim_crilog *l, struct berth_err **err)
{
    int fd;

    if (!l->path)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "log has no path to reopen");
    if (open_log(l->path, &fd, err) < 0)
        return -1;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = fd;
    return 0;
}
