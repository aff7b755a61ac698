/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: runtime/cni's readers of plugin output and config files: a result's IPs for
 * an interface (every CNI result version), the merged go-cni result, a failed plugin's error
 * object, and the input as a network config list (or single config, by the first byte's low
 * bit) with each plugin's stdin built from it. */
#include "tests/fuzz/fuzz.h"

#include "runtime/cni/cni-internal.h"

static void check_result(json_t *result)
{
    struct berth_cni_result sel = {0};
    struct berth_err *err = NULL;
    json_t *merged = json_object();
    char **ips = NULL;
    size_t n = 0;

    for (int dflt = 0; dflt < 2; dflt++) {
        if (cni_result_ips(result, "eth0", dflt, &ips, &n, &err) < 0) {
            fuzz_err_consume(&err);
            continue;
        }
        FUZZ_CHECK(ips[n] == NULL);
        cni_ips_select(ips, n, &sel);
        berth_cni_result_clear(&sel);
        berth_strv_free(ips);
    }
    if (json_is_object(result)) {
        cni_result_merge(merged, result, "eth0");
        cni_result_merge(merged, result, "lo");
    }
    json_decref(merged);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cni_netlist *list = NULL;
    struct berth_err *err = NULL;
    json_error_t jerr;
    json_t *result;

    result = json_loadb((const char *)data, size, 0, &jerr);
    if (result) {
        check_result(result);
        json_decref(result);
    }
    FUZZ_CHECK(cni_plugin_error((const char *)data, size, (const char *)data, size, 1, &err) == -1);
    fuzz_err_consume(&err);
    if (cni_netlist_parse((const char *)data, size, size && (data[0] & 1), "fuzz.conflist", &list,
                          &err) < 0) {
        FUZZ_CHECK(err->code == BERTH_E_INVALID_ARGUMENT);
        fuzz_err_consume(&err);
        return 0;
    }
    for (size_t i = 0; i < json_array_size(json_object_get(list->list, "plugins")); i++) {
        char *conf = cni_plugin_conf(list, i, NULL, NULL);
        FUZZ_CHECK(conf != NULL);
        free(conf);
    }
    (void)cni_version_cmp(list->cni_version, "0.4.0");
    cni_netlist_free(list);
    return 0;
}
