/* SPDX-License-Identifier: Apache-2.0 */
/* berthd's self-check and systemd watchdog (see health.h). */
#define BERTH_LOG_SUBSYS "health"

#include "cmd/berthd/health.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "client/client.h"
#include "lib/log.h"
#include "lib/util.h"

#define VERSION_METHOD  "/containerd.services.version.v1.Version/Version"
#define REPORT_EVERY_NS (60 * 1000000000LL) /* a lasting failure is logged once a minute */

struct berthd_health {
    char *path;
    int64_t interval_ms, timeout_ms;
    bool watchdog;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

int berthd_health_check(const char *socket_path, int64_t timeout_ms, struct berth_err **err)
{
    struct berth_client *c = NULL;
    struct berth_bytes resp = {0};
    char *details = NULL;
    int status = -1, ret;

    if (berth_client_open(socket_path, NULL, timeout_ms, &c, err) < 0)
        return -1;
    ret = berth_client_unary_raw(c, VERSION_METHOD, NULL, 0, &resp, &status, &details, err);
    if (ret == 0 && status != 0)
        ret = berth_err_set(err, berth_client_errc(status), 0, "%s", details ? details : "");
    berth_bytes_clear(&resp);
    free(details);
    berth_client_close(c);
    return ret;
}

static void *health_main(void *arg)
{
    struct berthd_health *h = arg;
    int64_t failing_since = 0, next_report = 0;
    unsigned failures = 0;

    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        struct timespec until;
        struct berth_err *e = NULL;
        int64_t now;

        pthread_mutex_unlock(&h->mu);
        now = berth_mono_ns();
        if (berthd_health_check(h->path, h->timeout_ms, &e) == 0) {
            if (failures)
                log_info("self-check: \"%s\" answers again after %u failed check(s) over %lld s",
                         h->path, failures, (long long)((now - failing_since) / 1000000000LL));
            failures = 0;
            if (h->watchdog)
                sd_notify(0, "WATCHDOG=1");
        } else {
            if (failures++ == 0) {
                failing_since = now;
                next_report = now;
            }
            if (now >= next_report) {
                log_error("self-check: \"%s\" does not answer (%s); %u failed check(s)%s", h->path,
                          e->msg, failures, h->watchdog ? ": the watchdog is no longer fed" : "");
                next_report = now + REPORT_EVERY_NS;
            }
            berth_err_free(&e);
        }
        until = berth_timespec_in(CLOCK_MONOTONIC, h->interval_ms);
        pthread_mutex_lock(&h->mu);
        while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int berthd_health_start(const char *socket_path, int64_t interval_ms, struct berthd_health **out,
                        struct berth_err **err)
{
    struct berthd_health *h;
    pthread_condattr_t ca;
    uint64_t wd_usec = 0;
    int rc;

    *out = NULL;
    /* The watchdog wants a ping at least every WATCHDOG_USEC: check twice as often. */
    if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
        int64_t half = (int64_t)(wd_usec / 2000);
        if (half < 1)
            half = 1;
        if (interval_ms == 0 || half < interval_ms)
            interval_ms = half;
    } else {
        wd_usec = 0;
    }
    if (interval_ms <= 0)
        return 0;
    h = berth_xcalloc(1, sizeof(*h));
    h->path = berth_xstrdup(socket_path);
    h->interval_ms = interval_ms;
    /* A check may take as long as the interval, but no longer than 10 s. */
    h->timeout_ms = interval_ms < 10000 ? interval_ms : 10000;
    h->watchdog = wd_usec > 0;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    rc = pthread_create(&h->thread, NULL, health_main, h);
    if (rc != 0) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        free(h->path);
        free(h);
        return berth_err_set(err, BERTH_E_INTERNAL, rc, "start the self-check thread");
    }
    *out = h;
    return 0;
}

void berthd_health_stop(struct berthd_health *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h->path);
    free(h);
}
