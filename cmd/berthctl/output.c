/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl output: aligned tables (Go tabwriter layout as ctr prints them), a small streaming
 * JSON writer, RFC 3339 timestamps and label joining. No gRPC or protobuf here.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <inttypes.h>
#include <string.h>

#include "lib/rfc3339.h"

#define TABLE_PADDING 4 /* ctr: tabwriter.NewWriter(os.Stdout, 4, 8, 4, ' ', 0) */

struct berthctl_table {
    size_t ncols, nrows;
    char **cells; /* nrows * ncols; row 0 is the header */
};

struct berthctl_table *berthctl_table_new(size_t ncols, const char *const *header)
{
    struct berthctl_table *t = berth_xcalloc(1, sizeof(*t));

    t->ncols = ncols;
    berthctl_table_add(t, header);
    return t;
}

void berthctl_table_add(struct berthctl_table *t, const char *const *cells)
{
    t->cells = berth_xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = berth_xstrdup(cells[i] ? cells[i] : "");
    t->nrows++;
}

/* Display width: UTF-8 code points (continuation bytes don't count). */
static size_t str_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

void berthctl_table_print(const struct berthctl_table *t, FILE *f)
{
    _cleanup_free_ size_t *width = berth_xcalloc(t->ncols ? t->ncols : 1, sizeof(size_t));

    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = str_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            fputs(cell, f);
            if (c + 1 < t->ncols)
                fprintf(f, "%*s", (int)(width[c] - str_width(cell) + TABLE_PADDING), "");
        }
        fputc('\n', f);
    }
}

void berthctl_table_free(struct berthctl_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void berthctl_json_init(struct berthctl_json *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
}

void berthctl_json_compact(struct berthctl_json *j)
{
    j->compact = true;
}

static void json_indent(struct berthctl_json *j)
{
    if (j->compact)
        return;
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
        fputs("    ", j->f);
}

/* Separator and indentation before a value or key. */
static void json_pre(struct berthctl_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma)
        fputc(',', j->f);
    if (j->depth > 0)
        json_indent(j);
}

static void json_open(struct berthctl_json *j, char c)
{
    json_pre(j);
    fputc(c, j->f);
    j->depth++;
    j->need_comma = false;
}

static void json_close(struct berthctl_json *j, char c)
{
    j->depth--;
    if (j->need_comma) /* had members */
        json_indent(j);
    fputc(c, j->f);
    j->need_comma = true;
}

void berthctl_json_obj_begin(struct berthctl_json *j)
{
    json_open(j, '{');
}

void berthctl_json_obj_end(struct berthctl_json *j)
{
    json_close(j, '}');
}

void berthctl_json_arr_begin(struct berthctl_json *j)
{
    json_open(j, '[');
}

void berthctl_json_arr_end(struct berthctl_json *j)
{
    json_close(j, ']');
}

void berthctl_json_quote(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

void berthctl_json_key(struct berthctl_json *j, const char *key)
{
    json_pre(j);
    berthctl_json_quote(j->f, key, strlen(key));
    fputs(j->compact ? ":" : ": ", j->f);
    j->after_key = true;
}

void berthctl_json_token(struct berthctl_json *j, const char *tok, size_t len)
{
    json_pre(j);
    fwrite(tok, 1, len, j->f);
    j->need_comma = true;
}

void berthctl_json_strn(struct berthctl_json *j, const char *s, size_t len)
{
    json_pre(j);
    berthctl_json_quote(j->f, s, len);
    j->need_comma = true;
}

void berthctl_json_str(struct berthctl_json *j, const char *s)
{
    berthctl_json_strn(j, s ? s : "", s ? strlen(s) : 0);
}

void berthctl_json_int(struct berthctl_json *j, int64_t v)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" PRId64, v);

    berthctl_json_token(j, buf, (size_t)n);
}

void berthctl_json_uint(struct berthctl_json *j, uint64_t v)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);

    berthctl_json_token(j, buf, (size_t)n);
}

void berthctl_json_bool(struct berthctl_json *j, bool v)
{
    berthctl_json_token(j, v ? "true" : "false", v ? 4 : 5);
}

void berthctl_json_null(struct berthctl_json *j)
{
    berthctl_json_token(j, "null", 4);
}

void berthctl_json_end(struct berthctl_json *j)
{
    fputc('\n', j->f);
}

void berthctl_time_format(int64_t seconds, int32_t nanos, char *buf, size_t size)
{
    char tmp[BERTH_RFC3339_MAX];

    berth_rfc3339_format_ts(seconds, nanos, tmp);
    snprintf(buf, size, "%s", tmp);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct berthctl_pb_str_entry *x = *(const struct berthctl_pb_str_entry *const *)a;
    const struct berthctl_pb_str_entry *y = *(const struct berthctl_pb_str_entry *const *)b;

    return strcmp(x->key, y->key);
}

/* Entry pointers sorted by key (malloc'd array of n borrowed pointers). */
static const struct berthctl_pb_str_entry **entries_sorted(size_t n, const void *const *entries)
{
    const struct berthctl_pb_str_entry **v = berth_xcalloc(n ? n : 1, sizeof(*v));

    for (size_t i = 0; i < n; i++)
        v[i] = entries[i];
    qsort(v, n, sizeof(*v), entry_cmp);
    return v;
}

char *berthctl_str_map_join(size_t n, const void *const *entries)
{
    _cleanup_free_ const struct berthctl_pb_str_entry **v = entries_sorted(n, entries);
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);

    if (!f)
        abort();
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s=%s", i ? "," : "", v[i]->key, v[i]->value);
    fclose(f);
    return buf;
}

void berthctl_json_str_map(struct berthctl_json *j, size_t n, const void *const *entries)
{
    _cleanup_free_ const struct berthctl_pb_str_entry **v = entries_sorted(n, entries);

    berthctl_json_obj_begin(j);
    for (size_t i = 0; i < n; i++) {
        berthctl_json_key(j, v[i]->key);
        berthctl_json_str(j, v[i]->value);
    }
    berthctl_json_obj_end(j);
}
