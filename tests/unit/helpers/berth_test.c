/* SPDX-License-Identifier: Apache-2.0 */
/* Temp-dir fixture for unit tests. */
#include "tests/unit/helpers/berth_test.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

int berth_test_setup_tmpdir(void **state)
{
    struct berth_test_env *env = berth_xcalloc(1, sizeof(*env));
    const char *base = getenv("TMPDIR");
    env->dir = berth_strdup_printf("%s/berth-test.XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(env->dir)) {
        free(env->dir);
        free(env);
        return -1;
    }
    *state = env;
    return 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int berth_test_rmrf(const char *path)
{
    return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int berth_test_teardown_tmpdir(void **state)
{
    struct berth_test_env *env = *state;
    if (!env)
        return 0;
    berth_test_rmrf(env->dir);
    free(env->dir);
    free(env);
    *state = NULL;
    return 0;
}

static char *images_dir; /* mkimages.sh output of the running group */

const char *berth_test_images_dir(void)
{
    return images_dir;
}

int berth_test_images_setup(void **state)
{
    struct berth_test_env *tmp;
    _cleanup_free_ char *cmd = NULL, *src = berth_xstrdup(__FILE__);
    char *p = strstr(src, "/unit/helpers/berth_test.c");

    if (!p || berth_test_setup_tmpdir((void **)&tmp) < 0)
        return -1;
    *p = '\0';
    cmd = berth_strdup_printf("bash %s/data/mkimages.sh %s/data >/dev/null", src, tmp->dir);
    if (system(cmd) != 0)
        return -1;
    images_dir = berth_strdup_printf("%s/data", tmp->dir);
    *state = tmp;
    return 0;
}

int berth_test_images_teardown(void **state)
{
    free(images_dir);
    images_dir = NULL;
    return berth_test_teardown_tmpdir(state);
}
