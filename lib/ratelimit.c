/* SPDX-License-Identifier: Apache-2.0 */
/* One slot per key hash: a 64-bit FNV-1a hash, when the key may pass next, and how many
 * occurrences were held back since it last passed. One mutex: callers are error paths. */
#include "lib/ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/util.h"

struct slot {
    uint64_t hash;
    int64_t next_ns;
    uint64_t held;
    bool used;
};

struct berth_ratelimit {
    pthread_mutex_t mu;
    int64_t interval_ns;
    size_t n;
    struct slot slots[];
};

struct berth_ratelimit *berth_ratelimit_new(size_t slots, int64_t interval_ns)
{
    struct berth_ratelimit *rl;

    if (slots == 0)
        slots = 64;
    rl = berth_xcalloc(1, sizeof(*rl) + slots * sizeof(struct slot));
    pthread_mutex_init(&rl->mu, NULL);
    rl->interval_ns = interval_ns;
    rl->n = slots;
    return rl;
}

void berth_ratelimit_free(struct berth_ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static uint64_t fnv1a(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

bool berth_ratelimit_pass_at(struct berth_ratelimit *rl, const void *key, size_t len,
                             int64_t now_ns, uint64_t *suppressed)
{
    uint64_t h = fnv1a(key, len);
    struct slot *s = &rl->slots[h % rl->n];
    bool pass;

    if (suppressed)
        *suppressed = 0;
    pthread_mutex_lock(&rl->mu);
    if (!s->used || s->hash != h) {
        /* a new key, or another one evicting this slot's: the old count is lost */
        *s = (struct slot){.hash = h, .next_ns = now_ns + rl->interval_ns, .used = true};
        pass = true;
    } else if (now_ns >= s->next_ns) {
        if (suppressed)
            *suppressed = s->held;
        s->held = 0;
        s->next_ns = now_ns + rl->interval_ns;
        pass = true;
    } else {
        s->held++;
        pass = false;
    }
    pthread_mutex_unlock(&rl->mu);
    return pass;
}

bool berth_ratelimit_pass(struct berth_ratelimit *rl, const void *key, size_t len,
                          uint64_t *suppressed)
{
    return berth_ratelimit_pass_at(rl, key, len, berth_mono_ns(), suppressed);
}

const char *berth_ratelimit_note(uint64_t held, char buf[BERTH_RATELIMIT_NOTE_MAX])
{
    buf[0] = '\0';
    if (held)
        snprintf(buf, BERTH_RATELIMIT_NOTE_MAX, " (and %llu more like it since)",
                 (unsigned long long)held);
    return buf;
}
