/* SPDX-License-Identifier: Apache-2.0 */
/* See pbcheck.h. One pass over the wire bytes: the descriptor only says which length-delimited
 * fields are strings (checked) and which are messages (walked). The path to a failing field is
 * rebuilt only after a failure, from frames that each level records while unwinding, so a good
 * request pays for nothing but the walk itself. */
#include "api/pbcheck.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/utf8.h"

#define MAX_FIELD_NUM  ((1u << 29) - 1) /* the protobuf spec's largest field number */
#define SHOW_BYTES     64               /* of a bad string, escaped into the message */
#define SHOW_KEY_BYTES 32               /* of a map key in a path */

enum pb_bad { BAD_WIRE, BAD_DEPTH, BAD_NUL, BAD_UTF8 };

/* One message on the way to a failure, and the field in it that led there. */
struct pb_frame {
    const ProtobufCMessageDescriptor *desc;
    const uint8_t *msg, *end;              /* the message's bytes */
    const uint8_t *at;                     /* the field's tag */
    uint32_t num;                          /* the field's number (0 if its tag was unreadable) */
    const ProtobufCFieldDescriptor *field; /* NULL: unknown field */
};

struct pb_walk {
    const uint8_t *base;
    enum pb_bad why;
    const char *what;    /* BAD_WIRE: what is wrong */
    const uint8_t *str;  /* BAD_NUL, BAD_UTF8: the string... */
    size_t str_len, off; /* ...its length and the first bad byte */
    unsigned depth;      /* frames 0..depth are filled */
    struct pb_frame fr[BERTH_PB_MAX_DEPTH + 1];
};

/* A varint of at most 10 bytes whose value fits 64 bits (as Go's protowire wants); false if
 * truncated, longer or overflowing. */
static inline bool get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;

    if (p < end && *p < 0x80) { /* most tags and lengths */
        *v = *p;
        *pp = p + 1;
        return true;
    }
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t b;

        if (p == end)
            return false;
        b = *p++;
        if (shift == 63 && b > 1)
            return false;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            *pp = p;
            return true;
        }
    }
    return false;
}

/* Reads one field at *pp: its number, wire type and, for wire type 2, its value. Returns NULL
 * and advances past the field, or what is wrong. */
static inline __attribute__((always_inline)) const char *
next_field(const uint8_t **pp, const uint8_t *end, uint32_t *num, unsigned *wt, const uint8_t **val,
           size_t *val_len)
{
    const uint8_t *p = *pp;
    uint64_t tag, v;

    *num = 0;
    if (!get_varint(&p, end, &tag))
        return "bad varint in field tag";
    if (tag >> 3 == 0 || tag >> 3 > MAX_FIELD_NUM)
        return "invalid field number";
    *num = (uint32_t)(tag >> 3);
    *wt = (unsigned)(tag & 7);
    switch (*wt) {
    case PROTOBUF_C_WIRE_TYPE_VARINT:
        if (!get_varint(&p, end, &v))
            return "bad varint";
        break;
    case PROTOBUF_C_WIRE_TYPE_64BIT:
        if (end - p < 8)
            return "truncated 64-bit value";
        p += 8;
        break;
    case PROTOBUF_C_WIRE_TYPE_32BIT:
        if (end - p < 4)
            return "truncated 32-bit value";
        p += 4;
        break;
    case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
        if (!get_varint(&p, end, &v))
            return "bad varint in length";
        if (v > (uint64_t)(end - p))
            return "length past the end";
        *val = p;
        *val_len = (size_t)v;
        p += v;
        break;
    case 3:
    case 4:
        /* proto3 has no groups and protobuf-c cannot skip them */
        return "groups are not supported";
    default:
        return "invalid wire type";
    }
    *pp = p;
    return NULL;
}

/* True if any of the eight bytes in x is 0 or >= 0x80: such a byte sets its high bit in
 * x | (x - 0x01...), and a borrow can only start at such a byte, so there are no false alarms. */
static inline bool word_special(uint64_t x)
{
    return ((x | (x - 0x0101010101010101ULL)) & 0x8080808080808080ULL) != 0;
}

/* Byte by byte from p: 0, or -1 with w->why/str/off set for the first NUL byte or invalid
 * UTF-8 sequence. */
static int check_string_slow(struct pb_walk *w, const uint8_t *s, size_t len, const uint8_t *p)
{
    const uint8_t *end = s + len;

    while (p < end) {
        size_t n;

        if (*p == 0) {
            w->why = BAD_NUL;
            break;
        }
        if (*p < 0x80) {
            p++;
            continue;
        }
        n = berth_utf8_valid_len(p, (size_t)(end - p));
        if (!n) {
            w->why = BAD_UTF8;
            break;
        }
        p += n;
    }
    if (p == end)
        return 0;
    w->str = s;
    w->str_len = len;
    w->off = (size_t)(p - s);
    return -1;
}

/* Most strings are ASCII: check them eight bytes at a time (the last word overlapping the one
 * before) and leave anything else to the byte-wise check. */
static inline int check_string(struct pb_walk *w, const uint8_t *s, size_t len)
{
    uint64_t x;
    size_t i = 0;

    if (len < 8) {
        for (; i < len; i++)
            if (s[i] == 0 || s[i] >= 0x80)
                return check_string_slow(w, s, len, s + i);
        return 0;
    }
    for (; i + 8 <= len; i += 8) {
        memcpy(&x, s + i, 8);
        if (word_special(x))
            return check_string_slow(w, s, len, s + i);
    }
    if (i < len) {
        memcpy(&x, s + len - 8, 8);
        if (word_special(x))
            return check_string_slow(w, s, len, s + i);
    }
    return 0;
}

/* The field numbered num, or NULL. */
static inline const ProtobufCFieldDescriptor *field_by_num(const ProtobufCMessageDescriptor *d,
                                                           uint32_t num)
{
    /* Most messages number their fields without gaps: one range, index directly. */
    if (d->n_field_ranges == 1) {
        uint32_t i = num - (uint32_t)d->field_ranges[0].start_value;

        return i < d->n_fields ? &d->fields[i] : NULL;
    }
    return protobuf_c_message_descriptor_get_field(d, num);
}

static int walk_msg(struct pb_walk *w, const ProtobufCMessageDescriptor *desc, const uint8_t *msg,
                    const uint8_t *end, unsigned depth)
{
    struct pb_frame fr = {.desc = desc, .msg = msg, .end = end};
    const uint8_t *p = msg;

    while (p < end) {
        const uint8_t *val = NULL;
        size_t val_len = 0;
        unsigned wt;
        const char *bad;

        fr.at = p;
        fr.field = NULL;
        bad = next_field(&p, end, &fr.num, &wt, &val, &val_len);
        if (bad) {
            w->why = BAD_WIRE;
            w->what = bad;
            goto fail;
        }
        if (wt != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
            continue;
        fr.field = field_by_num(desc, fr.num);
        if (!fr.field) /* unknown: skipped, as protobuf-c keeps it opaque */
            continue;
        if (fr.field->type == PROTOBUF_C_TYPE_STRING) {
            if (check_string(w, val, val_len) < 0)
                goto fail;
        } else if (fr.field->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (depth >= BERTH_PB_MAX_DEPTH) {
                w->why = BAD_DEPTH;
                goto fail;
            }
            if (walk_msg(w, fr.field->descriptor, val, val + val_len, depth + 1) < 0) {
                w->fr[depth] = fr;
                return -1;
            }
        }
    }
    return 0;

fail:
    w->depth = depth;
    w->fr[depth] = fr;
    return -1;
}

/* ---- the message of a failure (cold) ---- */

struct pb_sbuf {
    char *s;
    size_t cap, len; /* len may pass cap - 1: the text was cut */
};

__attribute__((format(printf, 2, 3))) static void put(struct pb_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(b->s + (b->len < b->cap ? b->len : b->cap - 1),
                  b->len < b->cap ? b->cap - b->len : 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
}

/* s[from, from + max) quoted, printable ASCII as is and every other byte as \xNN; "..." marks
 * what was left out on either side. */
static void put_escaped(struct pb_sbuf *b, const uint8_t *s, size_t len, size_t from, size_t max)
{
    size_t to = len - from > max ? from + max : len;

    put(b, "%s\"", from ? "..." : "");
    for (size_t i = from; i < to; i++) {
        if (s[i] == '"' || s[i] == '\\')
            put(b, "\\%c", s[i]);
        else if (s[i] >= 0x20 && s[i] < 0x7f)
            put(b, "%c", s[i]);
        else
            put(b, "\\x%02x", s[i]);
    }
    put(b, "\"%s", to < len ? "..." : "");
}

/* Like protoc's map entries: a repeated message of "key" = 1 and "value" = 2, named *Entry. */
static bool is_map(const ProtobufCFieldDescriptor *f)
{
    const ProtobufCMessageDescriptor *d = f->descriptor;
    size_t sl;

    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return false;
    sl = strlen(d->short_name);
    return d->n_fields == 2 && d->fields[0].id == 1 && strcmp(d->fields[0].name, "key") == 0 &&
           d->fields[1].id == 2 && strcmp(d->fields[1].name, "value") == 0 && sl > 5 &&
           strcmp(d->short_name + sl - 5, "Entry") == 0;
}

/* The last occurrence (protobuf's "last one wins") of length-delimited field num in msg..end,
 * stopping at anything malformed; false if there is none. */
static bool find_last(const uint8_t *p, const uint8_t *end, uint32_t num, const uint8_t **val,
                      size_t *val_len)
{
    bool found = false;

    while (p < end) {
        const uint8_t *v = NULL;
        size_t vl = 0;
        uint32_t n;
        unsigned wt;

        if (next_field(&p, end, &n, &wt, &v, &vl))
            break;
        if (n == num && wt == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
            *val = v;
            *val_len = vl;
            found = true;
        }
    }
    return found;
}

/* How many fields numbered num come before at (the index of a repeated field's element). */
static size_t count_before(const uint8_t *p, const uint8_t *at, uint32_t num)
{
    size_t k = 0;

    while (p < at) {
        const uint8_t *v;
        size_t vl;
        uint32_t n;
        unsigned wt;

        if (next_field(&p, at, &n, &wt, &v, &vl))
            break;
        k += n == num;
    }
    return k;
}

/* "container.labels[\"k\"].value": the fields from the top down to the failure. Sets *in_key
 * when the failure is a map key (the path then ends at the map). */
static void put_path(struct pb_sbuf *b, const struct pb_walk *w, bool *in_key)
{
    *in_key = false;
    for (unsigned i = 0; i <= w->depth; i++) {
        const struct pb_frame *f = &w->fr[i];
        const char *sep = b->len ? "." : "";
        /* A wire error leaves the field unset: name it if it is known */
        const ProtobufCFieldDescriptor *fd = f->field ? f->field : field_by_num(f->desc, f->num);

        if (!fd)
            return;
        put(b, "%s%s", sep, fd->name);
        if (i < w->depth && is_map(fd)) {
            const struct pb_frame *e = &w->fr[i + 1];
            const uint8_t *key = NULL;
            size_t key_len = 0;

            if (i + 1 == w->depth && e->field && e->field->id == 1 && w->why != BAD_WIRE) {
                *in_key = true;
                return;
            }
            if (e->field && e->field->id == 1) /* a wire error in the key */
                return;
            if (e->desc->fields[0].type == PROTOBUF_C_TYPE_STRING) {
                find_last(e->msg, e->end, 1, &key, &key_len);
                put(b, "[");
                put_escaped(b, key, key_len, 0, SHOW_KEY_BYTES);
                put(b, "]");
            } else {
                put(b, "[%zu]", count_before(f->msg, f->at, f->num));
            }
            i++; /* the entry's own "value" adds nothing */
        } else if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            put(b, "[%zu]", count_before(f->msg, f->at, f->num));
        }
    }
}

static int fail_msg(const struct pb_walk *w, struct berth_err **err)
{
    char path_s[384], val_s[SHOW_BYTES * 4 + 16];
    struct pb_sbuf path = {path_s, sizeof(path_s), 0}, val = {val_s, sizeof(val_s), 0};
    size_t from;
    bool in_key;

    path_s[0] = val_s[0] = '\0';
    put_path(&path, w, &in_key);
    if (path.len >= path.cap) /* cut: say so */
        memcpy(path_s + path.cap - 4, "...", 4);
    switch (w->why) {
    case BAD_WIRE:
        return berth_err_set(
            err, BERTH_E_INVALID_ARGUMENT, 0, "malformed protobuf at byte %zu%s%s: %s",
            (size_t)(w->fr[w->depth].at - w->base), path.len ? " in " : "", path_s, w->what);
    case BAD_DEPTH:
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "messages nested deeper than %d levels", BERTH_PB_MAX_DEPTH);
    case BAD_NUL:
    case BAD_UTF8:
        /* Show the bad byte even in a long string. */
        from = w->off >= SHOW_BYTES - 16 ? w->off - 16 : 0;
        put_escaped(&val, w->str, w->str_len, from, SHOW_BYTES);
        return berth_err_set(
            err, BERTH_E_INVALID_ARGUMENT, 0, "field %s%s: %s at byte %zu of %zu: %s", path_s,
            in_key ? " (map key)" : "",
            w->why == BAD_NUL ? "string has a NUL byte" : "string is not valid UTF-8", w->off,
            w->str_len, val_s);
    }
    return berth_err_set(err, BERTH_E_INTERNAL, 0, "protobuf check: unexpected failure");
}

int berth_pb_check(const ProtobufCMessageDescriptor *desc, const void *data, size_t len,
                   struct berth_err **err)
{
    struct pb_walk w;

    if (!len)
        return 0;
    w.base = data;
    if (walk_msg(&w, desc, data, w.base + len, 0) == 0)
        return 0;
    return fail_msg(&w, err);
}
