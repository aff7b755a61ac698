/* SPDX-License-Identifier: Apache-2.0 */
/* berthd's self-check and systemd watchdog (see health.h). */
#define BERTH_LOG_SUBSYS "health"

#include "cmd/berthd/health.h"

#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "client/client.h"
#include "lib/log.h"
#include "lib/util.h"

#define VERSION_METHOD  "/containerd.services.version.v1.Version/Version"
#define REPORT_EVERY_NS (60 * 1000000000LL) /* a lasting failure is logged once a minute */

struct berthd_health {
    char *path;
    int64_t interval_ms, timeout_ms;
    bool watchdog;
    int64_t next_ns; /* CLOCK_MONOTONIC */
    int64_t failing_since, next_report;
    unsigned failures;
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

void berthd_health_run(struct berthd_health *h)
{
    struct berth_err *e = NULL;
    int64_t now = berth_mono_ns();

    if (berthd_health_check(h->path, h->timeout_ms, &e) == 0) {
        if (h->failures)
            log_info("self-check: \"%s\" answers again after %u failed check(s) over %lld s",
                     h->path, h->failures, (long long)((now - h->failing_since) / 1000000000LL));
        h->failures = 0;
        if (h->watchdog)
            sd_notify(0, "WATCHDOG=1");
    } else {
        if (h->failures++ == 0) {
            h->failing_since = now;
            h->next_report = now;
        }
        if (now >= h->next_report) {
            log_error("self-check: \"%s\" does not answer (%s); %u failed check(s)%s", h->path,
                      e->msg, h->failures, h->watchdog ? ": the watchdog is no longer fed" : "");
            h->next_report = now + REPORT_EVERY_NS;
        }
        berth_err_free(&e);
    }
    h->next_ns = berth_mono_ns() + h->interval_ms * 1000000LL;
}

int64_t berthd_health_due_ms(const struct berthd_health *h)
{
    int64_t left;

    if (!h)
        return -1;
    left = h->next_ns - berth_mono_ns();
    return left <= 0 ? 0 : (left + 999999) / 1000000;
}

void berthd_health_new(const char *socket_path, int64_t interval_ms, struct berthd_health **out)
{
    struct berthd_health *h;
    uint64_t wd_usec = 0;

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
        return;
    h = berth_xcalloc(1, sizeof(*h));
    h->path = berth_xstrdup(socket_path);
    h->interval_ms = interval_ms;
    /* A check may take as long as the interval, but no longer than 10 s. */
    h->timeout_ms = interval_ms < 10000 ? interval_ms : 10000;
    h->watchdog = wd_usec > 0;
    h->next_ns = berth_mono_ns();
    *out = h;
}

void berthd_health_free(struct berthd_health *h)
{
    if (!h)
        return;
    free(h->path);
    free(h);
}
