/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl: a ctr-like CLI for berthd (and containerd). Wiring only: global options, the noun
 * table, client setup and the exit codes (0 ok, 1 failure, 2 usage). The commands live in
 * berth_cmdlib (one file per noun).
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <getopt.h>
#include <string.h>

#include "cmd/berthctl/run-internal.h"

#define DEFAULT_ADDRESS    "/run/berth/berthd.sock"
#define DEFAULT_NAMESPACE  "default"
#define DEFAULT_TIMEOUT_MS 10000

static const struct berthctl_noun *const nouns[] = {
    &berthctl_version_noun, &berthctl_namespaces_noun, &berthctl_containers_noun,
    &berthctl_plugins_noun, &berthctl_events_noun,     &berthctl_leases_noun,
    &berthctl_content_noun, &berthctl_images_noun,     &berthctl_snapshots_noun,
    &berthctl_gc_noun,      &berthctl_run_noun,        &berthctl_tasks_noun,
    &berthctl_metrics_noun, &berthctl_fsck_noun,
};

struct globals {
    const char *address, *ns;
    int64_t timeout_ms;
    bool timeout_set;
    enum berthctl_format format;
};

static void usage(FILE *f)
{
    fputs(
        "usage: berthctl [global options] COMMAND [ARGS...]\n"
        "\n"
        "global options:\n"
        "  -a, --address PATH     berthd socket (env BERTH_ADDRESS, default " DEFAULT_ADDRESS ")\n"
        "  -n, --namespace NAME   namespace (env BERTH_NAMESPACE, default " DEFAULT_NAMESPACE ")\n"
        "      --timeout DUR      per-call deadline, e.g. 10s, 500ms; 0 = none (default 10s)\n"
        "      --format FMT       table or json (default table)\n"
        "  -h, --help             show this help\n"
        "  -v, --version          print the client version\n"
        "\n"
        "commands:\n",
        f);
    for (size_t i = 0; i < BERTH_N(nouns); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s%s%s", nouns[i]->name, nouns[i]->alias ? ", " : "",
                 nouns[i]->alias ? nouns[i]->alias : "");
        fprintf(f, "  %-20s %s\n", name, nouns[i]->summary);
    }
    fputs("\nRun 'berthctl COMMAND --help' for a command's usage.\n", f);
}

static _Noreturn void die_usage(const char *msg, const struct berthctl_noun *noun)
{
    fprintf(stderr, "berthctl: %s\n", msg);
    if (noun)
        fputs(noun->usage, stderr);
    else
        fputs("usage: berthctl [global options] COMMAND [ARGS...] (see berthctl --help)\n", stderr);
    exit(2);
}

static const struct berthctl_noun *noun_find(const char *name)
{
    for (size_t i = 0; i < BERTH_N(nouns); i++)
        if (strcmp(name, nouns[i]->name) == 0 ||
            (nouns[i]->alias && strcmp(name, nouns[i]->alias) == 0))
            return nouns[i];
    return NULL;
}

static void parse_globals(int argc, char **argv, struct globals *g)
{
    enum { OPT_TIMEOUT = 256, OPT_FORMAT };
    static const struct option opts[] = {
        {"address", required_argument, NULL, 'a'},
        {"namespace", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {0},
    };
    _cleanup_err_ struct berth_err *err = NULL;
    char msg[256];
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:a:n:hv", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            g->address = optarg;
            break;
        case 'n':
            g->ns = optarg;
            break;
        case OPT_TIMEOUT:
            if (berthctl_duration_parse(optarg, &g->timeout_ms, &err) < 0)
                die_usage(err->msg, NULL);
            g->timeout_set = true;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "table") == 0)
                g->format = BERTHCTL_FORMAT_TABLE;
            else if (strcmp(optarg, "json") == 0)
                g->format = BERTHCTL_FORMAT_JSON;
            else
                die_usage("--format must be \"table\" or \"json\"", NULL);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'v':
            printf("berthctl version %s\n", BERTH_VERSION);
            exit(0);
        case ':':
            snprintf(msg, sizeof(msg), "option \"%s\" needs an argument", argv[optind - 1]);
            die_usage(msg, NULL);
        default:
            snprintf(msg, sizeof(msg), "unknown option \"%s\"", argv[optind - 1]);
            die_usage(msg, NULL);
        }
    }
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ||
            (i == 1 && strcmp(argv[i], "help") == 0))
            return true;
    }
    return false;
}

void berthctl_long_call(struct berthctl *ctl)
{
    if (!ctl->timeout_set)
        berth_client_set_timeout(ctl->client, 0);
}

static int run(const struct globals *g, const struct berthctl_noun *noun, int argc, char **argv)
{
    _cleanup_err_ struct berth_err *err = NULL;
    struct berth_client *client = NULL;
    struct berthctl ctl = {
        .format = g->format, .out = stdout, .ns = g->ns, .timeout_set = g->timeout_set};
    int ret;

    if (berth_client_open(g->address, g->ns, g->timeout_ms, &client, &err) < 0) {
        fprintf(stderr, "berthctl: %s\n", err->msg);
        return 1;
    }
    ctl.client = client;
    ret = noun->run(&ctl, argc, argv, &err);
    berth_client_close(client);
    fflush(stdout);
    if (ret < 0) {
        if (ctl.usage_error)
            die_usage(err->msg, noun);
        fprintf(stderr, "berthctl: %s\n", err ? err->msg : "unknown error");
        return 1;
    }
    return ctl.exit_code;
}

int main(int argc, char **argv)
{
    struct globals g = {
        .address = getenv("BERTH_ADDRESS"),
        .ns = getenv("BERTH_NAMESPACE"),
        .timeout_ms = DEFAULT_TIMEOUT_MS,
        .format = BERTHCTL_FORMAT_TABLE,
    };
    const struct berthctl_noun *noun;
    char msg[256];

    berthctl_signals_init(); /* before gRPC starts its threads: see signals.c */
    if (!g.address || !*g.address)
        g.address = DEFAULT_ADDRESS;
    if (!g.ns || !*g.ns)
        g.ns = DEFAULT_NAMESPACE;
    parse_globals(argc, argv, &g);
    argc -= optind;
    argv += optind;
    if (argc < 1)
        die_usage("missing command", NULL);
    if (strcmp(argv[0], "help") == 0) {
        noun = argc > 1 ? noun_find(argv[1]) : NULL;
        noun ? fputs(noun->usage, stdout) : usage(stdout);
        return 0;
    }
    noun = noun_find(argv[0]);
    if (!noun) {
        snprintf(msg, sizeof(msg), "unknown command \"%s\"", argv[0]);
        die_usage(msg, NULL);
    }
    if (wants_help(argc, argv)) {
        fputs(noun->usage, stdout);
        return 0;
    }
    return run(&g, noun, argc, argv);
}
