/* SPDX-License-Identifier: Apache-2.0 */
/* berthd: flags and wiring only (config.c holds the settings, daemon.c the life cycle). */
#include <getopt.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/berthd/config.h"
#include "cmd/berthd/daemon.h"
#include "lib/log.h"
#include "lib/util.h"

/* glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), after which
 * the buffers of every import, pull or big listing come from the arenas and stay there: 44-79
 * MiB of anonymous memory after 16 imports of a 200 MiB image, with 16 arenas to fragment.
 * A fixed threshold keeps blocks of 4 MiB and more (an import's messages and buffers) in
 * their own mappings, which free gives back; the trim after long calls (services/server)
 * takes the rest: 4.6 MiB after the same work (bench/mem). Not lower: LMDB allocates 3 MiB of
 * page lists per write transaction, which would then be a mmap and munmap per write (about
 * 25% more CPU per write in bench/metadata), and at 128 KiB a flood holding 128 streams kept
 * 130 MiB instead of under 64 (abuse.bats). An operator's MALLOC_MMAP_THRESHOLD_ wins. */
static void malloc_tune(void)
{
    if (!getenv("MALLOC_MMAP_THRESHOLD_"))
        mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: berthd [--root DIR] [--state DIR] [--address SOCKET] [--config FILE]\n"
               "              [--log-level LEVEL] [--no-cri]\n"
               "       berthd config default    print the configuration with every default\n"
               "       berthd --version\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, 'r'},
        {"state", required_argument, NULL, 's'},
        {"address", required_argument, NULL, 'a'},
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"no-cri", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *root = NULL, *state = NULL, *address = NULL, *config = NULL, *level = NULL;
    struct berthd_config cfg;
    _cleanup_err_ struct berth_err *err = NULL;
    bool no_cri = false;
    int c, code;

    malloc_tune();
    while ((c = getopt_long(argc, argv, "a:c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            root = optarg;
            break;
        case 's':
            state = optarg;
            break;
        case 'a':
            address = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'l':
            level = optarg;
            break;
        case 'n': /* [cri] enabled = false: a node without kubelet (no k8s.io objects) */
            no_cri = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("berthd %s\n", BERTH_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }

    berthd_config_defaults(&cfg);
    if (config || access(BERTHD_DEFAULT_CONFIG, F_OK) == 0) {
        if (berthd_config_load(&cfg, config ? config : BERTHD_DEFAULT_CONFIG, &err) < 0) {
            fprintf(stderr, "berthd: %s\n", err->msg);
            berthd_config_free(&cfg);
            return 1;
        }
    }
    if (root)
        berthd_config_set_str(&cfg.root, root);
    if (state)
        berthd_config_set_str(&cfg.state, state);
    if (address)
        berthd_config_set_str(&cfg.address, address);
    if (level)
        berthd_config_set_str(&cfg.log_level, level);
    if (no_cri)
        cfg.cri_enabled = false;
    if (berthd_config_validate(&cfg, &err) < 0) {
        fprintf(stderr, "berthd: %s\n", err->msg);
        berthd_config_free(&cfg);
        return 1;
    }

    if (optind < argc) {
        if (strcmp(argv[optind], "config") == 0 && optind + 1 < argc &&
            strcmp(argv[optind + 1], "default") == 0 && optind + 2 == argc) {
            struct berthd_config def;
            berthd_config_defaults(&def);
            berthd_config_print(&def, stdout);
            berthd_config_free(&def);
            berthd_config_free(&cfg);
            return 0;
        }
        if (strcmp(argv[optind], "config") == 0 && optind + 1 < argc &&
            strcmp(argv[optind + 1], "dump") == 0 && optind + 2 == argc) {
            berthd_config_print(&cfg, stdout);
            berthd_config_free(&cfg);
            return 0;
        }
        usage(stderr);
        berthd_config_free(&cfg);
        return 2;
    }

    berth_log_set_level((enum berth_log_level)berth_log_level_parse(cfg.log_level));
    code = berthd_run(&cfg);
    berthd_config_free(&cfg);
    return code;
}
