/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: berthd's config loader (cmd/berthd/config.c) over lib/toml: a document applied
 * over the defaults, then validated and printed back, as `berthd config dump` does. */
#include "tests/fuzz/fuzz.h"

#include "cmd/berthd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berthd_config c;
    struct berth_err *err = NULL;
    FILE *devnull;

    berthd_config_defaults(&c);
    if (berthd_config_parse(&c, (const char *)data, size, "config.toml", &err) < 0) {
        FUZZ_CHECK(err->code == BERTH_E_INVALID_ARGUMENT);
        fuzz_err_consume(&err);
    } else if (berthd_config_validate(&c, &err) < 0) {
        fuzz_err_consume(&err);
    } else {
        (void)berthd_config_stream_port(&c);
    }
    /* What was applied, valid or not, must print: the dump runs before validation too. */
    devnull = fopen("/dev/null", "we");
    FUZZ_CHECK(devnull != NULL);
    berthd_config_print(&c, devnull);
    fclose(devnull);
    berthd_config_free(&c);
    return 0;
}
