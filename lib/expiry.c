/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "expiry.h"

static int64_t sec(usec_t t) {
        return (int64_t) (t / USEC_PER_SEC);
}

int64_t calendar_days_between(const Tz *tz, usec_t now, usec_t t) {
        return tz_day_number(tz, sec(t)) - tz_day_number(tz, sec(now));
}

void expiry_compute_at(const Tz *tz, usec_t expires, usec_t now, Expiry *ret) {
        *ret = (Expiry) {
                .expires = expires,
                .expired = now >= expires,
                .remaining = now >= expires ? 0 : expires - now,
                .days_left = calendar_days_between(tz, now, expires),
        };
}

void expiry_compute(const Tz *tz, usec_t generated, usec_t lifetime, usec_t now, Expiry *ret) {
        usec_t expires = generated > USEC_INFINITY - lifetime ? USEC_INFINITY : generated + lifetime;
        expiry_compute_at(tz, expires, now, ret);
}

int expiry_threshold_due(const unsigned *thresholds, size_t n, const unsigned *sent, size_t n_sent,
                         const Expiry *e, unsigned *ret) {
        bool found = false;
        unsigned nearest = 0;

        if (e->expired)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (e->days_left <= (int64_t) thresholds[i] && (!found || thresholds[i] < nearest)) {
                        nearest = thresholds[i];
                        found = true;
                }
        if (!found)
                return 0;
        for (size_t i = 0; i < n_sent; i++)
                if (sent[i] <= nearest)
                        return 0;
        *ret = nearest;
        return 1;
}

usec_t expiry_next_change(const Tz *tz, const Expiry *e, usec_t now) {
        if (e->expired)
                return USEC_INFINITY;
        TzTime lt;
        tz_localtime(tz, sec(now), &lt);
        int64_t next_day = days_from_civil(lt.year, lt.month, lt.day) + 1;
        int64_t y;
        unsigned m, d;
        civil_from_days(next_day, &y, &m, &d);
        usec_t midnight = (usec_t) tz_day_start(tz, y, m, d) * USEC_PER_SEC;
        return MIN(midnight, e->expires);
}
