/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl fsck: checks the metadata against the disk (fsck/fsck.h), through berthd's Fsck
 * service (berth.services.fsck.v1, berth's own RPC) or, with --root, on a stopped root whose
 * stores it opens itself. One line per finding, then a summary. Exit 0 when clean, 1 when
 * problems remain, 2 when the check could not run.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/berth/services/fsck/v1/fsck.pb-c.h"
#include "fsck/fsck.h"

typedef Berth__Services__Fsck__V1__CheckResponse check_resp_t;

struct offline {
    int lock_fd;
    struct berth_meta_db *db;
    struct berth_content_store *cs;
    struct berth_snap_registry *snaps;
};

static void offline_close(struct offline *o)
{
    berth_snap_registry_close(o->snaps);
    berth_content_store_close(o->cs);
    berth_meta_db_close(o->db);
    if (o->lock_fd >= 0)
        close(o->lock_fd);
}

/* Takes berthd's own lock on the root (cmd/berthd/daemon.c lock_root), so no berthd runs on
 * it while we check, nor starts before we are done. */
static int offline_open(const char *root, struct offline *o, struct berth_err **err)
{
    _cleanup_free_ char *lock = berth_strdup_printf("%s/berthd.lock", root);
    _cleanup_free_ char *meta = berth_strdup_printf("%s/metadata", root);
    _cleanup_free_ char *content = berth_strdup_printf("%s/content", root);
    struct berth_meta_opts mo = {0};
    struct stat sb;

    if (stat(meta, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return berth_err_set(err, BERTH_E_NOT_FOUND, errno, "\"%s\" is not a berthd root (no %s)",
                             root, meta);
    o->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (o->lock_fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open lock \"%s\"", lock);
    if (flock(o->lock_fd, LOCK_EX | LOCK_NB) < 0)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, errno,
                             "root \"%s\" is in use by a running berthd: run fsck without --root "
                             "to check through it",
                             root);
    if (berth_meta_db_open(meta, &mo, &o->db, err) < 0 ||
        berth_content_store_open(content, &o->cs, err) < 0 ||
        berth_snap_registry_open(root, &o->snaps, err) < 0)
        return -1;
    return 0;
}

static int check_offline(const char *root, const char *state, const struct berth_fsck_opts *fo,
                         check_resp_t *resp, struct berth_fsck_report *r, struct berth_err **err)
{
    static const char *const names[] = {"overlayfs", "native"};
    struct offline o = {.lock_fd = -1};
    struct berth_snapshotter *snaps[BERTH_N(names)];
    struct berth_fsck_stores s = {.snapshotters = snaps, .root = root, .state = state};
    int ret = -1;

    if (offline_open(root, &o, err) < 0)
        goto out;
    s.db = o.db;
    s.content = o.cs;
    for (size_t i = 0; i < BERTH_N(names); i++) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_snap_registry_get(o.snaps, names[i], &snaps[s.n_snapshotters], &e) == 0)
            s.n_snapshotters++;
    }
    if (berth_fsck_run(&s, fo, r, err) < 0)
        goto out;
    berth_fsck_report_to_pb(r, resp);
    ret = 0;
out:
    offline_close(&o);
    return ret;
}

static void print(struct berthctl *ctl, const check_resp_t *r)
{
    static const char *const cls[] = {"unknown", "error", "orphan", "info"};

    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        struct berthctl_json j;
        berthctl_json_init(&j, ctl->out);
        berthctl_json_pb(&j, &r->base);
        berthctl_json_end(&j);
        return;
    }
    for (size_t i = 0; i < r->n_findings; i++) {
        const Berth__Services__Fsck__V1__Finding *f = r->findings[i];
        fprintf(ctl->out, "%s %s: %s: %s%s\n", f->kind, f->id,
                (unsigned)f->class_ < BERTH_N(cls) ? cls[f->class_] : "unknown", f->problem,
                f->repaired ? " [repaired]" : "");
    }
    fprintf(ctl->out,
            "fsck: %" PRIu64 " error(s), %" PRIu64 " orphan(s) (%" PRIu64 " repaired), %" PRIu64
            " info: %s\n",
            r->errors, r->orphans, r->repaired, r->infos, r->clean ? "clean" : "NOT CLEAN");
}

static int fsck_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    enum { OPT_ROOT = 256, OPT_STATE, OPT_VERIFY, OPT_REPAIR };
    static const struct option opts[] = {
        {"root", required_argument, NULL, OPT_ROOT},
        {"state", required_argument, NULL, OPT_STATE},
        {"verify", no_argument, NULL, OPT_VERIFY},
        {"repair", no_argument, NULL, OPT_REPAIR},
        {0},
    };
    Berth__Services__Fsck__V1__CheckRequest req = BERTH__SERVICES__FSCK__V1__CHECK_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *m = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    check_resp_t local = BERTH__SERVICES__FSCK__V1__CHECK_RESPONSE__INIT;
    struct berth_fsck_report report = {0};
    struct berth_fsck_opts fo = {0};
    const char *root = NULL, *state = NULL;
    int c, ret;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        switch (c) {
        case OPT_ROOT:
            root = optarg;
            break;
        case OPT_STATE:
            state = optarg;
            break;
        case OPT_VERIFY:
            fo.verify = true;
            req.verify = true;
            break;
        case OPT_REPAIR:
            fo.repair = true;
            req.repair = true;
            break;
        default:
            return berthctl_bad_option(ctl, c, argv, err);
        }
    }
    if (optind < argc)
        return berthctl_usage(ctl, err, "fsck: unexpected argument \"%s\"", argv[optind]);
    if (state && !root)
        return berthctl_usage(ctl, err, "fsck: --state needs --root");
    if (root) {
        ret = check_offline(root, state, &fo, &local, &report, &e);
    } else {
        /* A large store, and with --verify every blob's hash, take as long as the disk
         * needs: no deadline unless --timeout gives one. */
        berthctl_long_call(ctl);
        ret = berth_client_unary(ctl->client, "/berth.services.fsck.v1.Fsck/Check", &req.base,
                                 &berth__services__fsck__v1__check_response__descriptor, &m, &e);
    }
    if (ret < 0) {
        /* 2, not the usual 1: 1 means the check ran and found problems */
        fprintf(stderr, "berthctl: fsck: %s\n", e->msg);
        ctl->exit_code = 2;
        berth_fsck_report_clear(&report);
        return 0;
    }
    print(ctl, root ? &local : (const check_resp_t *)m);
    ctl->exit_code = (root ? local.clean : ((const check_resp_t *)m)->clean) ? 0 : 1;
    berth_fsck_pb_clear(&local);
    berth_fsck_report_clear(&report);
    return 0;
}

const struct berthctl_noun berthctl_fsck_noun = {
    .name = "fsck",
    .alias = NULL,
    .summary = "check the metadata against the disk",
    .usage =
        "usage: berthctl [global options] fsck [--verify] [--repair] [--root DIR [--state DIR]]\n"
        "\n"
        "Checks that every record has its object (blobs with the right size, snapshots with\n"
        "their backend snapshot, directory and committed parents) and that nothing on disk is\n"
        "left without a record (blobs, ingests, backend snapshots and directories, bundles,\n"
        "pod netns, mounts of snapshots). Prints one line per finding, KIND ID: CLASS: PROBLEM,\n"
        "where CLASS is error (a record whose object is missing or wrong), orphan (nothing\n"
        "names it; --repair removes it) or info (legal, e.g. a dangling gc.ref label).\n"
        "\n"
        "  --verify      also hash every blob a record names\n"
        "  --repair      remove orphans (never a referenced object), then check again\n"
        "  --root DIR    check a stopped berthd's root directly (refused while berthd runs)\n"
        "  --state DIR   with --root: its state dir, for bundles and pod netns\n"
        "\n"
        "Without --root the check runs inside berthd (berth.services.fsck.v1.Fsck/Check).\n"
        "Exit status: 0 clean (only info, or every orphan repaired), 1 problems remain,\n"
        "2 the check could not run.\n",
    .run = fsck_run,
};
