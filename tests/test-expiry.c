/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "clock.h"
#include "expiry.h"
#include "tests.h"

static const unsigned default_thresholds[] = { 60, 30, 21, 14, 7, 3, 1 };

static Tz *zone(const char *name) {
        Tz *tz = NULL;
        ck_assert_int_eq(tz_load(NULL, name, &tz), 0);
        return tz;
}

static usec_t at(const Tz *tz, int64_t y, unsigned m, unsigned d, unsigned hh, unsigned mm) {
        return (usec_t) tz_mktime(tz, y, m, d, hh, mm, 0) * USEC_PER_SEC;
}

/* A running daemon's view of one credential generation: what it sent. */
typedef struct Sim {
        unsigned sent[16];
        size_t n_sent;
        int64_t sent_day[16];    /* local day number at which each was sent */
} Sim;

static bool sim_step(Sim *s, const Tz *tz, const unsigned *th, size_t n, usec_t generated, usec_t lifetime, usec_t now) {
        Expiry e;
        unsigned t;
        expiry_compute(tz, generated, lifetime, now, &e);
        if (expiry_threshold_due(th, n, s->sent, s->n_sent, &e, &t) <= 0)
                return false;
        check_loop(s->n_sent < ELEMENTSOF(s->sent), "too many alerts");
        s->sent_day[s->n_sent] = tz_day_number(tz, (int64_t) (now / USEC_PER_SEC));
        s->sent[s->n_sent++] = t;
        return true;
}

START_TEST(test_days_left_basic) {
        _cleanup_(tz_freep) Tz *tz = zone("America/Los_Angeles");
        Expiry e;
        /* expires 2027-03-01 10:00; at 2027-02-22 23:59 it is 7 days away, at 00:00 the next day 6 */
        usec_t exp = at(tz, 2027, 3, 1, 10, 0);
        expiry_compute_at(tz, exp, at(tz, 2027, 2, 22, 23, 59), &e);
        ck_assert_int_eq(e.days_left, 7);
        ck_assert(!e.expired);
        expiry_compute_at(tz, exp, at(tz, 2027, 2, 23, 0, 0), &e);
        ck_assert_int_eq(e.days_left, 6);
        /* the day of expiry: 0 days left but not expired until 10:00 */
        expiry_compute_at(tz, exp, at(tz, 2027, 3, 1, 9, 59), &e);
        ck_assert_int_eq(e.days_left, 0);
        ck_assert(!e.expired);
        ck_assert_uint_eq(e.remaining, 60 * USEC_PER_SEC);
        expiry_compute_at(tz, exp, exp, &e);
        ck_assert(e.expired);
        ck_assert_uint_eq(e.remaining, 0);
        expiry_compute_at(tz, exp, at(tz, 2027, 3, 4, 8, 0), &e);
        ck_assert_int_eq(e.days_left, -3);

        /* The zone decides the date: 2027-03-01T05:00Z is Feb 28 in Los Angeles
         * but Mar 1 in UTC, so "now" on Feb 27 at 20:00 LA is 1 or 2 days away. */
        _cleanup_(tz_freep) Tz *utc = zone("UTC");
        usec_t e2 = (usec_t) (days_from_civil(2027, 3, 1) * 86400 + 5 * 3600) * USEC_PER_SEC;
        usec_t now = at(tz, 2027, 2, 27, 20, 0);   /* = Feb 28 04:00Z */
        ck_assert_int_eq(calendar_days_between(tz, now, e2), 1);
        ck_assert_int_eq(calendar_days_between(utc, now, e2), 1);
        now = at(tz, 2027, 2, 27, 15, 0);          /* = Feb 27 23:00Z */
        ck_assert_int_eq(calendar_days_between(tz, now, e2), 1);
        ck_assert_int_eq(calendar_days_between(utc, now, e2), 2);
}
END_TEST

/* A whole 365-day lifetime, hour by hour, in Los Angeles, crossing the
 * November and March DST changes: each threshold fires exactly once, on the
 * local date that is exactly T days before the expiry date, in the first
 * hour of that day; days_left drops by exactly one at each local midnight. */
static void run_lifetime(const char *zname, int64_t y, unsigned m, unsigned d, int64_t exp_y, unsigned exp_m, unsigned exp_d) {
        _cleanup_(tz_freep) Tz *tz = zone(zname);
        _cleanup_(clock_freep) Clock *clock = NULL;
        usec_t generated = at(tz, y, m, d, 9, 30);
        Sim sim = {};
        Expiry e;
        int64_t last_days_left = INT64_MAX, last_day = -1;

        ck_assert_int_eq(clock_new_fake(generated, 0, &clock), 0);
        expiry_compute(tz, generated, 365 * USEC_PER_DAY, generated, &e);
        TzTime lt;
        tz_localtime(tz, (int64_t) (e.expires / USEC_PER_SEC), &lt);
        ck_assert_int_eq(lt.year, exp_y);
        ck_assert_uint_eq(lt.month, exp_m);
        ck_assert_uint_eq(lt.day, exp_d);
        int64_t exp_day = days_from_civil(exp_y, exp_m, exp_d);

        for (; clock_realtime(clock) < generated + 370 * USEC_PER_DAY; clock_advance(clock, USEC_PER_HOUR)) {
                usec_t now = clock_realtime(clock);
                expiry_compute(tz, generated, 365 * USEC_PER_DAY, now, &e);
                int64_t day = tz_day_number(tz, (int64_t) (now / USEC_PER_SEC));
                check_loop(e.days_left == exp_day - day, "days_left %lld on day %lld", (long long) e.days_left, (long long) day);
                if (day != last_day && last_day >= 0)
                        check_loop(e.days_left == last_days_left - 1, "days_left jumped at day %lld", (long long) day);
                else if (last_day >= 0)
                        check_loop(e.days_left == last_days_left, "days_left changed within day %lld", (long long) day);
                last_day = day;
                last_days_left = e.days_left;
                check_loop(e.expired == (now >= generated + 365 * USEC_PER_DAY), "expired wrong on day %lld", (long long) day);
                sim_step(&sim, tz, default_thresholds, ELEMENTSOF(default_thresholds), generated, 365 * USEC_PER_DAY, now);
        }
        ck_assert_uint_eq(sim.n_sent, ELEMENTSOF(default_thresholds));
        for (size_t i = 0; i < sim.n_sent; i++) {
                ck_assert_uint_eq(sim.sent[i], default_thresholds[i]);
                ck_assert_int_eq(sim.sent_day[i], exp_day - default_thresholds[i]);
        }
}

START_TEST(test_lifetime_across_dst) {
        /* generated 2026-08-15: the 60-day warning falls near the spring DST
         * change, the lifetime spans both changes */
        run_lifetime("America/Los_Angeles", 2026, 8, 15, 2027, 8, 15);
        /* generated so that the 7, 3 and 1-day warnings straddle the fall-back day (2027-11-07) */
        run_lifetime("America/Los_Angeles", 2026, 11, 9, 2027, 11, 9);
        /* and the spring-forward day (2027-03-14) */
        run_lifetime("America/Los_Angeles", 2026, 3, 16, 2027, 3, 16);
        /* southern hemisphere */
        run_lifetime("Australia/Sydney", 2026, 10, 5, 2027, 10, 5);
}
END_TEST

START_TEST(test_lifetime_leap_year) {
        /* 365 days after 2027-06-01 is 2028-05-31: 2028 has a Feb 29 */
        run_lifetime("America/Los_Angeles", 2027, 6, 1, 2028, 5, 31);
        /* generated on Feb 29 */
        run_lifetime("America/Los_Angeles", 2028, 2, 29, 2029, 2, 28);
        /* not across a leap day: exactly one calendar year */
        run_lifetime("America/Los_Angeles", 2028, 3, 1, 2029, 3, 1);
}
END_TEST

START_TEST(test_daemon_stopped_for_weeks) {
        _cleanup_(tz_freep) Tz *tz = zone("America/Los_Angeles");
        usec_t generated = at(tz, 2026, 9, 1, 12, 0), life = 365 * USEC_PER_DAY;
        Sim sim = {};
        unsigned n_before;

        /* running from day 0 to day 300 (65 days left): nothing sent yet */
        for (usec_t now = generated; now < generated + 300 * USEC_PER_DAY; now += USEC_PER_HOUR)
                sim_step(&sim, tz, default_thresholds, ELEMENTSOF(default_thresholds), generated, life, now);
        ck_assert_uint_eq(sim.n_sent, 0);
        /* stopped until day 356 (9 days left): 60, 30, 21 and 14 were crossed
         * meanwhile; the restart sends one alert, for 14 */
        usec_t now = generated + 356 * USEC_PER_DAY;
        ck_assert(sim_step(&sim, tz, default_thresholds, ELEMENTSOF(default_thresholds), generated, life, now));
        ck_assert_uint_eq(sim.n_sent, 1);
        ck_assert_uint_eq(sim.sent[0], 14);
        n_before = sim.n_sent;
        /* and not again in the hours after */
        for (usec_t t = now; t < now + 2 * USEC_PER_DAY - USEC_PER_HOUR * 14; t += USEC_PER_HOUR)
                sim_step(&sim, tz, default_thresholds, ELEMENTSOF(default_thresholds), generated, life, t);
        ck_assert_uint_eq(sim.n_sent, n_before);
        /* then 7, 3, 1 on time */
        for (usec_t t = now; t < generated + 366 * USEC_PER_DAY; t += USEC_PER_HOUR)
                sim_step(&sim, tz, default_thresholds, ELEMENTSOF(default_thresholds), generated, life, t);
        ck_assert_uint_eq(sim.n_sent, 4);
        ck_assert_uint_eq(sim.sent[1], 7);
        ck_assert_uint_eq(sim.sent[2], 3);
        ck_assert_uint_eq(sim.sent[3], 1);

        /* stopped across the expiry: no warning is due once expired */
        Sim late = {};
        ck_assert(!sim_step(&late, tz, default_thresholds, ELEMENTSOF(default_thresholds), generated, life,
                            generated + 400 * USEC_PER_DAY));
}
END_TEST

START_TEST(test_thresholds_changed) {
        _cleanup_(tz_freep) Tz *tz = zone("America/Los_Angeles");
        Expiry e;
        unsigned t;
        usec_t exp = at(tz, 2027, 6, 30, 12, 0);

        /* 60 and 30 were sent under the old list; 25 days left */
        const unsigned sent[] = { 60, 30 };
        const unsigned newer[] = { 45, 20, 10, 5 };
        expiry_compute_at(tz, exp, exp - 25 * USEC_PER_DAY, &e);
        ck_assert_int_eq(expiry_threshold_due(newer, 4, sent, 2, &e, &t), 0);   /* 45 is covered by 30 */
        expiry_compute_at(tz, exp, exp - 20 * USEC_PER_DAY, &e);
        ck_assert_int_eq(expiry_threshold_due(newer, 4, sent, 2, &e, &t), 1);
        ck_assert_uint_eq(t, 20);
        const unsigned sent2[] = { 60, 30, 20 };
        expiry_compute_at(tz, exp, exp - 12 * USEC_PER_DAY, &e);
        ck_assert_int_eq(expiry_threshold_due(newer, 4, sent2, 3, &e, &t), 0);
        expiry_compute_at(tz, exp, exp - 10 * USEC_PER_DAY, &e);
        ck_assert_int_eq(expiry_threshold_due(newer, 4, sent2, 3, &e, &t), 1);
        ck_assert_uint_eq(t, 10);

        /* a threshold added later, already crossed: the nearest crossed one */
        const unsigned added[] = { 90, 60, 30 };
        expiry_compute_at(tz, exp, exp - 50 * USEC_PER_DAY, &e);
        ck_assert_int_eq(expiry_threshold_due(added, 3, NULL, 0, &e, &t), 1);
        ck_assert_uint_eq(t, 60);
        /* order of the list does not matter */
        const unsigned shuffled[] = { 30, 90, 60 };
        ck_assert_int_eq(expiry_threshold_due(shuffled, 3, NULL, 0, &e, &t), 1);
        ck_assert_uint_eq(t, 60);
        /* no thresholds at all: never a warning */
        ck_assert_int_eq(expiry_threshold_due(NULL, 0, NULL, 0, &e, &t), 0);
        /* a clock stepped back after 7 was sent does not bring back 14 */
        const unsigned sent7[] = { 7 };
        expiry_compute_at(tz, exp, exp - 10 * USEC_PER_DAY, &e);
        ck_assert_int_eq(expiry_threshold_due(default_thresholds, 7, sent7, 1, &e, &t), 0);
}
END_TEST

START_TEST(test_next_change) {
        _cleanup_(tz_freep) Tz *tz = zone("America/Los_Angeles");
        Expiry e;
        usec_t exp = at(tz, 2027, 3, 20, 10, 0);
        usec_t now = at(tz, 2027, 3, 13, 15, 0);
        expiry_compute_at(tz, exp, now, &e);
        /* the next local midnight, on a 23-hour day */
        ck_assert_uint_eq(expiry_next_change(tz, &e, now), at(tz, 2027, 3, 14, 0, 0));
        now = at(tz, 2027, 3, 20, 2, 0);
        expiry_compute_at(tz, exp, now, &e);
        ck_assert_uint_eq(expiry_next_change(tz, &e, now), exp);
        expiry_compute_at(tz, exp, exp, &e);
        ck_assert_uint_eq(expiry_next_change(tz, &e, exp), USEC_INFINITY);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("expiry");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 120);
        ADD_TESTS(tc, test_days_left_basic, test_lifetime_across_dst, test_lifetime_leap_year,
                  test_daemon_stopped_for_weeks, test_thresholds_changed, test_next_change);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
