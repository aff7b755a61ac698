/* SPDX-License-Identifier: Apache-2.0 */
/* berth-shim (also installed as containerd-shim-berth-v1): argument parsing and dispatch only;
 * runtime/shim holds the shim. */
#include <stdio.h>
#include <string.h>

#include "runtime/shim/shim.h"

int main(int argc, char **argv)
{
    struct berth_shim_args a;
    struct berth_err *err = NULL;

    if (berth_shim_args_parse(argc, argv, &a, &err) < 0) {
        fprintf(stderr, "berth-shim: %s\n", err->msg);
        berth_err_free(&err);
        return 2;
    }
    if (a.version) {
        printf("berth-shim %s\n", BERTH_VERSION);
        return 0;
    }
    if (a.action && strcmp(a.action, "start") == 0)
        return berth_shim_cmd_start(&a);
    if (a.action && strcmp(a.action, "delete") == 0)
        return berth_shim_cmd_delete(&a);
    fprintf(stderr, "berth-shim: run with \"start\" or \"delete\"\n");
    return 2;
}
