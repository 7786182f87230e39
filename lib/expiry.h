/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Credential (and certificate) expiry arithmetic: pure functions of the
 * time, the zone and what was already sent. No I/O. */

#include "time-util.h"
#include "tz.h"

typedef struct Expiry {
        usec_t expires;         /* generated + lifetime */
        usec_t remaining;       /* 0 once expired */
        int64_t days_left;      /* calendar days in the zone from today to the expiry date; <= 0 on the day and after */
        bool expired;
} Expiry;

/* Days from the local date of now to the local date of t (negative when t
 * is on an earlier date). A day ends at local midnight, whatever its length. */
int64_t calendar_days_between(const Tz *tz, usec_t now, usec_t t);

/* Expiry of a credential generated at generated with the given lifetime. */
void expiry_compute(const Tz *tz, usec_t generated, usec_t lifetime, usec_t now, Expiry *ret);
/* Expiry of something that ends at a fixed time (a certificate's notAfter). */
void expiry_compute_at(const Tz *tz, usec_t expires, usec_t now, Expiry *ret);

/* Which warning threshold is due, given the thresholds (any order) and
 * those already sent for this credential generation. A threshold T is
 * crossed when days_left <= T. Only the nearest crossed threshold (the
 * smallest) can be due, so several crossed at once give one alert; it is
 * due unless it, or a smaller threshold, was already sent. Nothing is due
 * once expired (that is another alert). Returns 1 and the threshold in
 * *ret when one is due, 0 otherwise. */
int expiry_threshold_due(const unsigned *thresholds, size_t n, const unsigned *sent, size_t n_sent,
                         const Expiry *e, unsigned *ret);

/* The next instant (after now) at which expiry_threshold_due() may change
 * its answer: the next local midnight, or the expiry itself, whichever comes
 * first. USEC_INFINITY once expired. For timers. */
usec_t expiry_next_change(const Tz *tz, const Expiry *e, usec_t now);
