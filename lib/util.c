/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation helpers (abort on OOM), string vectors, clocks, full writes. */
#include "lib/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void *berth_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

void *berth_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        abort();
    return p;
}

void *berth_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

char *berth_xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

char *berth_xstrndup(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d)
        abort();
    return d;
}

int berth_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

char *berth_strdup_vprintf(const char *fmt, va_list ap)
{
    char *s = NULL;

    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    return s;
}

char *berth_strdup_printf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = berth_strdup_vprintf(fmt, ap);
    va_end(ap);
    return s;
}

char *berth_base64(const void *data, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = data;
    char *out = berth_xmalloc(4 * ((len + 2) / 3) + 1), *o = out;

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t rest = len - i;
        if (rest > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (rest > 2)
            v |= p[i + 2];
        *o++ = tbl[(v >> 18) & 63];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = rest > 1 ? tbl[(v >> 6) & 63] : '=';
        *o++ = rest > 2 ? tbl[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

int berth_base64_decode(const char *s, unsigned char **out, size_t *len)
{
    size_t n = strlen(s), o = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    unsigned char *buf;

    if (n % 4 != 0)
        return -1;
    buf = berth_xmalloc(n / 4 * 3 + 1);
    for (size_t i = 0; i < n; i++) {
        int v;
        char ch = s[i];
        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            v = ch - '0' + 52;
        else if (ch == '+')
            v = 62;
        else if (ch == '/')
            v = 63;
        else if (ch == '=' && i >= n - 2) {
            pad++;
            continue;
        } else {
            free(buf);
            return -1;
        }
        if (pad) { /* data after padding */
            free(buf);
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    buf[o] = 0;
    *out = buf;
    *len = o;
    return 0;
}

void berth_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

size_t berth_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void berth_bytes_clear(struct berth_bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

int64_t berth_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t berth_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct timespec berth_timespec_in(clockid_t clock, int64_t ms)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

bool berth_str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Go's time.ParseDuration, in its integer arithmetic: strtod would also take "1e3s", "0x10s"
 * or "1.5.5s" pieces that Go refuses, and round where Go is exact. */
int berth_duration_parse(const char *s, int64_t *ns)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {{"ns", 1ULL},           {"us", 1000ULL},
                 {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
                 {"\xce\xbcs", 1000ULL}, /* U+03BC greek mu */
                 {"ms", 1000000ULL},     {"s", 1000000000ULL},
                 {"m", 60000000000ULL},  {"h", 3600000000000ULL}};
    const uint64_t max = (uint64_t)INT64_MAX;
    uint64_t total = 0;

    if (!s || !*s)
        return -1;
    if (!strcmp(s, "0")) {
        *ns = 0;
        return 0;
    }
    while (*s) {
        uint64_t v = 0, f = 0, unit = 0;
        double scale = 1;
        bool pre = false, post = false, overflow = false;
        size_t ulen = 0;

        if (!((*s >= '0' && *s <= '9') || *s == '.'))
            return -1;
        for (; *s >= '0' && *s <= '9'; s++, pre = true) {
            if (v > (max + 1) / 10)
                return -1;
            v = v * 10 + (uint64_t)(*s - '0');
            if (v > max + 1)
                return -1;
        }
        if (*s == '.') {
            /* Digits past what fits in f only lose precision, as in Go's leadingFraction. */
            for (s++; *s >= '0' && *s <= '9'; s++, post = true) {
                if (overflow || f > max / 10) {
                    overflow = true;
                    continue;
                }
                f = f * 10 + (uint64_t)(*s - '0');
                scale *= 10;
            }
        }
        if (!pre && !post)
            return -1;
        while (s[ulen] && s[ulen] != '.' && !(s[ulen] >= '0' && s[ulen] <= '9'))
            ulen++;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strlen(units[i].unit) == ulen && !strncmp(s, units[i].unit, ulen))
                unit = units[i].mult;
        if (!unit)
            return -1;
        s += ulen;
        if (v > (max + 1) / unit)
            return -1;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > max + 1)
                return -1;
        }
        total += v;
        if (total > max + 1)
            return -1;
    }
    if (total > max)
        return -1;
    *ns = (int64_t)total;
    return 0;
}

void berth_random(void *buf, size_t n)
{
    uint8_t *b = buf;
    size_t got = 0;

    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            abort(); /* the kernel's CSPRNG does not fail after boot */
        got += (size_t)r;
    }
}

void berth_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[64];

    while (n > 0) {
        size_t k = n < sizeof(b) ? n : sizeof(b);
        berth_random(b, k);
        for (size_t i = 0; i < k; i++) {
            *out++ = hex[b[i] >> 4];
            *out++ = hex[b[i] & 15];
        }
        n -= k;
    }
    *out = 0;
}
