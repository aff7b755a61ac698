/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: images/manifest.c, the OCI/docker document parsers (jansson underneath). The
 * same bytes go to every parser (index, manifest, image config, docker save manifest.json)
 * and the sniffer; a parsed config's diff IDs go through the chain-ID computation, and every
 * platform found is formatted, parsed back and ranked. */
#include "tests/fuzz/fuzz.h"

#include "images/manifest.h"

static void check_platform(const struct berth_platform *p)
{
    struct berth_platform host, back;
    struct berth_err *err = NULL;
    char *s;

    if (!p->os || !p->arch || !*p->os || !*p->arch)
        return;
    s = berth_platform_format(p);
    if (berth_platform_parse(s, &back, &err) < 0) {
        fuzz_err_consume(&err);
    } else {
        berth_platform_host(&host);
        (void)berth_platform_rank(&host, &back);
        (void)berth_platform_rank(&back, &back);
        berth_platform_clear(&host);
        berth_platform_clear(&back);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berth_oci_index *ix = NULL;
    struct berth_oci_manifest *m = NULL;
    struct berth_image_config *c = NULL;
    struct berth_docker_entry *d = NULL;
    struct berth_err *err = NULL;
    size_t nd = 0;
    char **chain = NULL;

    (void)berth_oci_sniff(data, size);
    if (berth_oci_index_parse(data, size, "fuzz", &ix, &err) < 0) {
        FUZZ_CHECK(ix == NULL);
        fuzz_err_consume(&err);
    } else {
        for (size_t i = 0; i < ix->n_manifests; i++) {
            (void)berth_oci_media_kind(ix->manifests[i].d.media_type);
            if (ix->manifests[i].has_platform)
                check_platform(&ix->manifests[i].platform);
        }
        berth_oci_index_free(ix);
    }
    if (berth_oci_manifest_parse(data, size, "fuzz", &m, &err) < 0) {
        fuzz_err_consume(&err);
    } else {
        for (size_t i = 0; i < m->n_layers; i++)
            (void)berth_oci_media_kind(m->layers[i].d.media_type);
        berth_oci_manifest_free(m);
    }
    if (berth_image_config_parse(data, size, "fuzz", &c, &err) < 0) {
        fuzz_err_consume(&err);
    } else {
        FUZZ_CHECK(c->diff_ids != NULL && c->diff_ids[c->n_diff_ids] == NULL);
        /* Diff IDs were validated, so their chain IDs must compute. */
        FUZZ_CHECK(berth_oci_chain_ids(c->diff_ids, c->n_diff_ids, &chain, &err) == 0);
        berth_strv_free(chain);
        check_platform(&c->platform);
        berth_image_config_free(c);
    }
    if (berth_docker_manifest_parse(data, size, &d, &nd, &err) < 0)
        fuzz_err_consume(&err);
    else
        berth_docker_entries_free(d, nd);
    return 0;
}
