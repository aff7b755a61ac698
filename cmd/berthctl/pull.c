/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl images pull: the pull runs in berthd (Transfer/Pull, images/pull.h); this prints
 * its progress. On a terminal, one redrawn row per document and layer (state, bytes, rate);
 * otherwise one line per state change ("<kind> <digest> <state> <offset>/<total>"), or one
 * JSON object per line with --format json; last the image ("image <name> <digest>").
 * Leaving (Ctrl-C) cancels the call and so the pull; what was downloaded stays resumable.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "api/berth/services/images/v1/transfer.pb-c.h"

#define T_PULL   "/berth.services.images.v1.Transfer/Pull"
#define ROWS_MAX 256
#define BAR      24

struct row {
    char kind[16], digest[80], state[16];
    int64_t offset, total;
    int64_t rate_t0, rate_off0;
    double rate; /* bytes/s */
};

struct pull_out {
    struct berthctl *ctl;
    bool tty;
    bool detach, detached; /* --detach: leave after the first message */
    struct row rows[ROWS_MAX];
    size_t n_rows, drawn;
    char *image, *target;
};

static struct row *row_get(struct pull_out *po, const char *kind, const char *digest, bool *fresh)
{
    *fresh = false;
    for (size_t i = 0; i < po->n_rows; i++)
        if (!strcmp(po->rows[i].digest, digest))
            return &po->rows[i];
    if (po->n_rows == ROWS_MAX)
        return NULL;
    *fresh = true;
    struct row *r = &po->rows[po->n_rows++];
    memset(r, 0, sizeof(*r));
    snprintf(r->kind, sizeof(r->kind), "%s", kind);
    snprintf(r->digest, sizeof(r->digest), "%s", digest);
    r->rate_t0 = berth_mono_ns();
    return r;
}

static void draw(struct pull_out *po)
{
    FILE *f = stderr;

    if (po->drawn)
        fprintf(f, "\x1b[%zuA", po->drawn); /* back to the first row */
    for (size_t i = 0; i < po->n_rows; i++) {
        const struct row *r = &po->rows[i];
        const char *hex = strchr(r->digest, ':');
        int fill = r->total > 0 ? (int)(r->offset * BAR / r->total) : 0;
        char bar[BAR + 1];

        for (int k = 0; k < BAR; k++)
            bar[k] = k < fill ? '=' : (k == fill ? '>' : ' ');
        bar[BAR] = '\0';
        fprintf(f, "\x1b[2K%-8s %.12s %-11s [%s] %7.1f/%.1f MiB", r->kind,
                hex ? hex + 1 : r->digest, r->state, bar, r->offset / 1048576.0,
                r->total / 1048576.0);
        if (!strcmp(r->state, "downloading") && r->rate > 0)
            fprintf(f, " %6.1f MiB/s", r->rate / 1048576.0);
        fputc('\n', f);
    }
    po->drawn = po->n_rows;
    fflush(f);
}

static int pull_cb(const ProtobufCMessage *msg, void *arg)
{
    const Berth__Services__Images__V1__PullResponse *r = (const void *)msg;
    struct pull_out *po = arg;
    struct berthctl *ctl = po->ctl;

    if (po->detach && !r->image) {
        /* The pull got past resolving: berthd goes on without us. */
        po->detached = true;
        return 1;
    }
    if (r->progress) {
        const Berth__Services__Images__V1__PullProgress *p = r->progress;
        bool fresh, changed;
        struct row *row = row_get(po, p->kind, p->digest, &fresh);
        if (!row)
            return 0;
        changed = fresh || strcmp(row->state, p->state) != 0;
        if (!strcmp(p->state, "downloading")) {
            int64_t now = berth_mono_ns();
            if (now - row->rate_t0 > 500000000) {
                row->rate =
                    (double)(p->offset - row->rate_off0) * 1e9 / (double)(now - row->rate_t0);
                row->rate_t0 = now;
                row->rate_off0 = p->offset;
            }
        }
        snprintf(row->state, sizeof(row->state), "%s", p->state);
        row->offset = p->offset;
        row->total = p->total;
        if (po->tty) {
            draw(po);
        } else if (changed) {
            if (ctl->format == BERTHCTL_FORMAT_JSON) {
                struct berthctl_json j;
                berthctl_json_init(&j, ctl->out);
                berthctl_json_compact(&j);
                berthctl_json_obj_begin(&j);
                berthctl_json_key(&j, "kind");
                berthctl_json_str(&j, p->kind);
                berthctl_json_key(&j, "digest");
                berthctl_json_str(&j, p->digest);
                berthctl_json_key(&j, "state");
                berthctl_json_str(&j, p->state);
                berthctl_json_key(&j, "offset");
                berthctl_json_int(&j, p->offset);
                berthctl_json_key(&j, "total");
                berthctl_json_int(&j, p->total);
                berthctl_json_obj_end(&j);
                fputc('\n', ctl->out);
            } else {
                fprintf(ctl->out, "%s %s %s %" PRId64 "/%" PRId64 "\n", p->kind, p->digest,
                        p->state, p->offset, p->total);
            }
            fflush(ctl->out);
        }
    }
    if (r->image && r->image->name && r->image->target) {
        free(po->image);
        free(po->target);
        po->image = berth_xstrdup(r->image->name);
        po->target = berth_xstrdup(r->image->target->digest ? r->image->target->digest : "");
    }
    return 0;
}

/* Reads a password from the terminal without echo. NULL when there is no terminal. */
static char *ask_password(const char *user)
{
    struct termios old, quiet;
    char buf[1024];
    FILE *tty = fopen("/dev/tty", "r+e");
    char *nl;

    if (!tty)
        return NULL;
    fprintf(tty, "Password for %s: ", user);
    fflush(tty);
    if (tcgetattr(fileno(tty), &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        (void)tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    if (!fgets(buf, sizeof(buf), tty))
        buf[0] = '\0';
    (void)tcsetattr(fileno(tty), TCSAFLUSH, &old);
    fputc('\n', tty);
    fclose(tty);
    nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    nl = berth_xstrdup(buf);
    explicit_bzero(buf, sizeof(buf));
    return nl;
}

int berthctl_images_pull(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{"platform", required_argument, NULL, 'p'},
                                         {"no-unpack", no_argument, NULL, 'n'},
                                         {"snapshotter", required_argument, NULL, 's'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"plain-http", no_argument, NULL, 'H'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"detach", no_argument, NULL, 'd'},
                                         {0}};
    Berth__Services__Images__V1__PullRequest req = BERTH__SERVICES__IMAGES__V1__PULL_REQUEST__INIT;
    Berth__Services__Images__V1__PullAuth auth = BERTH__SERVICES__IMAGES__V1__PULL_AUTH__INIT;
    struct pull_out po = {.ctl = ctl};
    _cleanup_free_ char *user = NULL, *secret = NULL;
    int c, ret = -1;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:u:", opts, NULL)) != -1) {
        if (c == 'p') {
            req.platform = optarg;
        } else if (c == 'n') {
            req.no_unpack = true;
        } else if (c == 's') {
            req.snapshotter = optarg;
        } else if (c == 'H') {
            req.plain_http = true;
        } else if (c == 'd') {
            req.detach = true;
        } else if (c == 'f') { /* also a global option; accepted here as scripts write it */
            if (!strcmp(optarg, "json"))
                ctl->format = BERTHCTL_FORMAT_JSON;
            else if (!strcmp(optarg, "table"))
                ctl->format = BERTHCTL_FORMAT_TABLE;
            else
                return berthctl_usage(ctl, err, "--format must be \"table\" or \"json\"");
        } else if (c == 'u') {
            char *colon = strchr(optarg, ':');
            free(user);
            user = colon ? berth_xstrndup(optarg, (size_t)(colon - optarg)) : berth_xstrdup(optarg);
            if (colon) {
                free(secret);
                secret = berth_xstrdup(colon + 1);
                explicit_bzero(colon + 1, strlen(colon + 1)); /* out of /proc/<pid>/cmdline */
            }
        } else {
            return berthctl_bad_option(ctl, c, argv, err);
        }
    }
    if (argc - optind != 1)
        return berthctl_usage(ctl, err, "images pull: want one REF");
    req.ref = argv[optind];
    if (user && !secret) {
        secret = ask_password(user);
        if (!secret)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "images pull: -u %s has no password and there is no terminal "
                                 "to ask for one",
                                 user);
    }
    if (user || secret) {
        auth.username = user ? user : (char *)"";
        auth.secret = secret ? secret : (char *)"";
        req.auth = &auth;
    }
    po.detach = req.detach;
    berthctl_long_call(ctl);
    po.tty = ctl->format != BERTHCTL_FORMAT_JSON && isatty(STDERR_FILENO) && isatty(STDOUT_FILENO);
    ret = berth_client_server_stream(ctl->client, T_PULL, &req.base,
                                     &berth__services__images__v1__pull_response__descriptor,
                                     pull_cb, &po, err);
    if (secret)
        explicit_bzero(secret, strlen(secret));
    if (ret == 0 && po.detached) {
        fprintf(ctl->out, "pulling %s in berthd\n", req.ref);
    } else if (ret == 0 && po.image) {
        if (ctl->format == BERTHCTL_FORMAT_JSON) {
            struct berthctl_json j;
            berthctl_json_init(&j, ctl->out);
            berthctl_json_compact(&j);
            berthctl_json_obj_begin(&j);
            berthctl_json_key(&j, "image");
            berthctl_json_str(&j, po.image);
            berthctl_json_key(&j, "target");
            berthctl_json_str(&j, po.target);
            berthctl_json_obj_end(&j);
            fputc('\n', ctl->out);
        } else {
            fprintf(ctl->out, "image %s %s\n", po.image, po.target);
        }
    }
    free(po.image);
    free(po.target);
    return ret;
}
