/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 3339 parsing and formatting (see rfc3339.h). */
#include "lib/rfc3339.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_S 1000000000LL

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse (civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* n decimal digits at s, or -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int bad(const char *s, const char *why, struct berth_err **err)
{
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid RFC 3339 time \"%s\": %s", s,
                         why);
}

int berth_rfc3339_parse(const char *s, int64_t *ns_out, struct berth_err **err)
{
    int year, mon, day, hh, mm, ss, off = 0;
    int64_t nsec = 0, secs, days;
    const char *p;

    if (!s)
        return bad("", "empty", err);
    /* "2006-01-02T15:04:05" is 19 bytes; shorter strings would make us read past the end. */
    if (strnlen(s, 19) < 19)
        return bad(s, "too short", err);
    year = digits(s, 4);
    mon = digits(s + 5, 2);
    day = digits(s + 8, 2);
    hh = digits(s + 11, 2);
    mm = digits(s + 14, 2);
    ss = digits(s + 17, 2);
    if (year < 0 || mon < 0 || day < 0 || hh < 0 || mm < 0 || ss < 0 || s[4] != '-' ||
        s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return bad(s, "want YYYY-MM-DDTHH:MM:SS", err);
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
        return bad(s, "date out of range", err);
    if (hh > 23 || mm > 59 || ss > 59)
        return bad(s, "time of day out of range", err);
    p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++) {
            if (n == 9)
                return bad(s, "more than 9 fractional digits", err);
            nsec = nsec * 10 + (*p - '0');
        }
        if (n == 0)
            return bad(s, "empty fraction", err);
        for (; n < 9; n++)
            nsec *= 10;
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (strnlen(p, 6) < 6 || (oh = digits(p + 1, 2)) < 0 || p[3] != ':' ||
            (om = digits(p + 4, 2)) < 0)
            return bad(s, "want Z or a +hh:mm offset", err);
        if (oh > 23 || om > 59)
            return bad(s, "offset out of range", err);
        off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return bad(s, "want Z or a +hh:mm offset", err);
    }
    if (*p)
        return bad(s, "trailing characters", err);

    days = days_from_civil(year, mon, day);
    secs = days * 86400 + hh * 3600 + mm * 60 + ss - off;
    /* Saturate instead of overflowing: years 0000-9999 all fit in seconds, not in ns. */
    if (secs > INT64_MAX / NS_PER_S - 1)
        *ns_out = INT64_MAX;
    else if (secs < INT64_MIN / NS_PER_S + 1)
        *ns_out = INT64_MIN;
    else
        *ns_out = secs * NS_PER_S + nsec;
    return 0;
}

void berth_rfc3339_format_ts(int64_t seconds, int32_t nanos, char buf[BERTH_RFC3339_MAX])
{
    int64_t days = seconds / 86400, rem = seconds % 86400, y;
    char frac[16] = "";
    int m, d;

    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    if (nanos > 0 && nanos < NS_PER_S) {
        size_t n;
        snprintf(frac, sizeof(frac), ".%09d", (int)nanos);
        for (n = strlen(frac); frac[n - 1] == '0'; n--)
            frac[n - 1] = '\0';
    }
    snprintf(buf, BERTH_RFC3339_MAX, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d%sZ", y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
}

void berth_rfc3339_format(int64_t ns, char buf[BERTH_RFC3339_MAX])
{
    int64_t s = ns / NS_PER_S, frac = ns % NS_PER_S;

    if (frac < 0) {
        frac += NS_PER_S;
        s--;
    }
    berth_rfc3339_format_ts(s, (int32_t)frac, buf);
}
