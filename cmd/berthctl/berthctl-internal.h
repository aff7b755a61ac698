/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl internals shared by the per-noun command files (version.c, namespaces.c,
 * containers.c, plugins.c, events.c, leases.c), the argument helpers (args.c), the output helpers
 * (output.c, json.c) and main.c. Everything except main.c is built into the static lib
 * berth_cmdlib.
 */
#ifndef BERTH_CMD_BERTHCTL_INTERNAL_H
#define BERTH_CMD_BERTHCTL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client/client.h"
#include "lib/err.h"
#include "lib/util.h"

enum berthctl_format { BERTHCTL_FORMAT_TABLE, BERTHCTL_FORMAT_JSON };

/* What every command gets: the connection, the output choice and where to write. */
struct berthctl {
    struct berth_client *client; /* borrowed */
    enum berthctl_format format;
    FILE *out;        /* normally stdout */
    const char *ns;   /* borrowed: the namespace header value */
    bool usage_error; /* set with the error by berthctl_usage(): exit 2 and print usage */
    int exit_code;    /* non-zero: exit with it even though the command returned 0 */
    bool timeout_set; /* --timeout was given */
};

/* Commands whose one call lasts as long as its data (import, export, pull) run without the
 * default per-call deadline; a --timeout the user gave still applies. */
void berthctl_long_call(struct berthctl *ctl);

/* A command: argv[0] is the verb ("ls"), or the noun when it has no verbs. */
typedef int (*berthctl_cmd_fn)(struct berthctl *ctl, int argc, char **argv, struct berth_err **err);

struct berthctl_noun {
    const char *name, *alias;
    const char *summary;
    const char *usage; /* printed after a usage error and for --help */
    berthctl_cmd_fn run;
};

extern const struct berthctl_noun berthctl_version_noun;
extern const struct berthctl_noun berthctl_namespaces_noun;
extern const struct berthctl_noun berthctl_containers_noun;
extern const struct berthctl_noun berthctl_plugins_noun;
extern const struct berthctl_noun berthctl_events_noun;
extern const struct berthctl_noun berthctl_leases_noun;
extern const struct berthctl_noun berthctl_images_noun;
/* images import/export/mount/unmount (transfer.c). */
int berthctl_images_import(struct berthctl *ctl, int argc, char **argv, struct berth_err **err);
int berthctl_images_pull(struct berthctl *ctl, int argc, char **argv, struct berth_err **err);
int berthctl_images_export(struct berthctl *ctl, int argc, char **argv, struct berth_err **err);
int berthctl_images_mount(struct berthctl *ctl, int argc, char **argv, struct berth_err **err);
int berthctl_images_unmount(struct berthctl *ctl, int argc, char **argv, struct berth_err **err);
extern const struct berthctl_noun berthctl_content_noun;
/* The image walk's blob source (images/walk.h) over Content.Read (content.c); src->arg is ctl,
 * which must outlive src. The server's errors as they come (NOT_FOUND names the digest),
 * OUT_OF_RANGE for a blob larger than the walk's max. */
struct berth_blob_source;
void berthctl_blob_source_init(struct berthctl *ctl, struct berth_blob_source *src);
/* Images.Get of name, then berth_image_walk over Content.Read for platform p (NULL: host)
 * (images.c). The walk's errors and the server's, prefixed with the image name. *out must be
 * zeroed; the caller clears it (berth_image_walk_clear) in every case. */
struct berth_image_walk;
struct berth_platform;
int berthctl_image_walk(struct berthctl *ctl, const char *name, const struct berth_platform *p,
                        struct berth_image_walk *out, struct berth_err **err);
extern const struct berthctl_noun berthctl_snapshots_noun;
extern const struct berthctl_noun berthctl_gc_noun;
extern const struct berthctl_noun berthctl_fsck_noun; /* --root: no socket */
extern const struct berthctl_noun berthctl_run_noun;
extern const struct berthctl_noun berthctl_tasks_noun;
extern const struct berthctl_noun berthctl_metrics_noun; /* HTTP, not the socket */

/* Cleanup for an unpacked response held as a plain ProtobufCMessage *. */
static inline void berthctl_pb_freep(ProtobufCMessage **p)
{
    if (*p)
        protobuf_c_message_free_unpacked(*p, NULL);
}

/* A verb inside a noun, dispatched by berthctl_dispatch(). */
struct berthctl_verb {
    const char *name, *alias;
    berthctl_cmd_fn run;
};

/* Runs the verb named by argv[0] (argv[0] of the noun itself is skipped by the caller). A
 * missing or unknown verb is a usage error. */
int berthctl_dispatch(struct berthctl *ctl, const struct berthctl_verb *verbs, size_t n, int argc,
                      char **argv, struct berth_err **err);

/* Marks a usage error (exit 2) and sets *err (BERTH_E_INVALID_ARGUMENT); returns -1. */
int berthctl_usage(struct berthctl *ctl, struct berth_err **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Resets getopt state before a verb parses its options with getopt_long(). Use a short option
 * string starting with "+:" (stop at the first operand, report missing arguments as ':'). */
void berthctl_getopt_reset(void);
/* Parses the only option of the ls verbs, -q/--quiet; afterwards optind is at the first
 * operand. A usage error (returns -1) for anything else. */
int berthctl_quiet_opt(struct berthctl *ctl, int argc, char **argv, bool *quiet,
                       struct berth_err **err);
/* Turns getopt_long's '?' or ':' into a usage error naming the option; returns -1. */
int berthctl_bad_option(struct berthctl *ctl, int c, char **argv, struct berth_err **err);

/* ---- args.c: pure argument parsing ---- */

/* Go-style durations: "10s", "500ms", "1m30s", "1.5h", "250us", "0". On success *ms gets the
 * value in milliseconds (rounded down; a non-zero duration below 1 ms is 1 ms).
 * BERTH_E_INVALID_ARGUMENT on a malformed value. */
int berthctl_duration_parse(const char *s, int64_t *ms, struct berth_err **err);

/* Splits "k=v" into malloc'd *key and *val (val may be ""). require_eq: a bare "k" is an error;
 * otherwise it means "k=". The key must be non-empty. BERTH_E_INVALID_ARGUMENT when malformed. */
int berthctl_kv_parse(const char *s, bool require_eq, char **key, char **val,
                      struct berth_err **err);

/* Labels collected from k=v arguments, in argument order (a later duplicate key wins). */
struct berthctl_kvs {
    size_t n;
    char **keys, **vals;
};
void berthctl_kvs_clear(struct berthctl_kvs *kv);
int berthctl_kvs_add(struct berthctl_kvs *kv, const char *arg, bool require_eq,
                     struct berth_err **err);

/* ---- output.c: tables, JSON, formatting ---- */

/* A table printed with columns aligned like Go's tabwriter as ctr uses it (padding 4). */
struct berthctl_table;
struct berthctl_table *berthctl_table_new(size_t ncols, const char *const *header);
/* Adds a row of ncols cells (copied; NULL prints as ""). */
void berthctl_table_add(struct berthctl_table *t, const char *const *cells);
void berthctl_table_print(const struct berthctl_table *t, FILE *f);
void berthctl_table_free(struct berthctl_table *t);
DEFINE_CLEANUP(struct berthctl_table *, berthctl_table_free)

/* Streaming JSON writer, indented by 4 spaces like ctr's output. */
struct berthctl_json {
    FILE *f;
    int depth;
    bool need_comma, after_key;
    bool compact; /* one line, no spaces (ctr events style) */
};
void berthctl_json_init(struct berthctl_json *j, FILE *f);
/* Switches the writer to compact output; call before the first value. */
void berthctl_json_compact(struct berthctl_json *j);
void berthctl_json_obj_begin(struct berthctl_json *j);
void berthctl_json_obj_end(struct berthctl_json *j);
void berthctl_json_arr_begin(struct berthctl_json *j);
void berthctl_json_arr_end(struct berthctl_json *j);
void berthctl_json_key(struct berthctl_json *j, const char *key);
void berthctl_json_str(struct berthctl_json *j, const char *s); /* NULL: "" */
void berthctl_json_strn(struct berthctl_json *j, const char *s, size_t len);
void berthctl_json_int(struct berthctl_json *j, int64_t v);
void berthctl_json_uint(struct berthctl_json *j, uint64_t v);
void berthctl_json_bool(struct berthctl_json *j, bool v);
void berthctl_json_null(struct berthctl_json *j);
/* Writes an already-encoded token (number, literal, quoted string) as the next value. */
void berthctl_json_token(struct berthctl_json *j, const char *tok, size_t len);
/* Ends the document with a newline. */
void berthctl_json_end(struct berthctl_json *j);
/* Writes s (len bytes) JSON-escaped, with quotes. */
void berthctl_json_quote(FILE *f, const char *s, size_t len);

/* ---- pbjson.c ---- */

/* Writes any protobuf-c message as a JSON value (Timestamps as RFC 3339, known Anys decoded). */
void berthctl_json_pb(struct berthctl_json *j, const ProtobufCMessage *m);

/* ---- json.c: embedding foreign JSON documents ---- */

/* True when data is exactly one valid JSON value (surrounding whitespace allowed). */
bool berthctl_json_valid(const char *data, size_t len);
/* Writes data as a nested JSON value (re-indented) if valid, else as a JSON string. */
void berthctl_json_embed(struct berthctl_json *j, const char *data, size_t len);

/* "2024-05-01T10:00:00.5Z" (RFC 3339, UTC, trailing fraction zeros trimmed) into buf. */
void berthctl_time_format(int64_t seconds, int32_t nanos, char *buf, size_t size);
/* Every protobuf-c map<string, string> entry type (labels, exports) has this layout, so the
 * helpers below take any of them as `const void *const *entries`. */
struct berthctl_pb_str_entry {
    ProtobufCMessage base;
    char *key;
    char *value;
};
/* The entries as "k1=v1,k2=v2" sorted by key; malloc'd ("" when n is 0). */
char *berthctl_str_map_join(size_t n, const void *const *entries);
/* The entries as a JSON object with sorted keys (like Go's encoding/json). */
void berthctl_json_str_map(struct berthctl_json *j, size_t n, const void *const *entries);

#endif
