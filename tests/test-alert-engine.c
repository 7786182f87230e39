/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <syslog.h>

#include "alert-engine.h"
#include "clock.h"
#include "tests.h"

static const unsigned warn[] = { 60, 30, 21, 14, 7, 3, 1 };
static const unsigned cert_warn[] = { 30, 14, 7 };

typedef struct Fixture {
        Tz *tz;
        AlertPolicy policy;
        LinkAlertState state;
        Clock *clock;
        /* everything raised, flattened: kind, local day number, held, reminder */
        struct {
                AlertKind kind;
                int64_t day;
                bool held, reminder;
                unsigned threshold;
                long http_status;
                ProbeClass failure;
        } log[2048];
        size_t n_log;
} Fixture;

static void fixture_init(Fixture *f, const char *zone, usec_t start) {
        *f = (Fixture) {};
        ck_assert_int_eq(tz_load(NULL, zone, &f->tz), 0);
        ck_assert_int_eq(clock_new_fake(start, 0, &f->clock), 0);
        f->policy = (AlertPolicy) {
                .tz = f->tz,
                .failures_before_alert = 3,
                .repeat = 24 * USEC_PER_HOUR,
                .lifetime = 365 * USEC_PER_DAY,
                .expiry_warn_days = warn,
                .n_expiry_warn_days = ELEMENTSOF(warn),
                .cert_warn_days = cert_warn,
                .n_cert_warn_days = ELEMENTSOF(cert_warn),
        };
        f->state.down.last_class = f->state.auth.last_class = _PROBE_CLASS_INVALID;
}

static void fixture_done(Fixture *f) {
        alert_state_done(&f->state);
        tz_free(f->tz);
        clock_free(f->clock);
}

static usec_t now(Fixture *f) {
        return clock_realtime(f->clock);
}

static int64_t today(Fixture *f) {
        return tz_day_number(f->tz, (int64_t) (now(f) / USEC_PER_SEC));
}

static void collect(Fixture *f, AlertList *l) {
        for (size_t i = 0; i < l->n; i++) {
                check_loop(f->n_log < ELEMENTSOF(f->log), "too many alerts");
                f->log[f->n_log].kind = l->alerts[i].kind;
                f->log[f->n_log].day = today(f);
                f->log[f->n_log].held = l->alerts[i].held;
                f->log[f->n_log].reminder = l->alerts[i].reminder;
                f->log[f->n_log].threshold = l->alerts[i].threshold;
                f->log[f->n_log].http_status = l->alerts[i].http_status;
                f->log[f->n_log].failure = l->alerts[i].failure;
                f->n_log++;
        }
        alert_list_done(l);
}

static void tick(Fixture *f, bool held) {
        AlertList l = {};
        check_loop(alert_engine_tick(&f->policy, "district", &f->state, now(f), held, &l) == 0, "tick failed");
        collect(f, &l);
}

static void probe(Fixture *f, ProbeClass c, long status, bool held) {
        ProbeResult r = { .klass = c, .http_status = status, .time = now(f) };
        if (c != PROBE_OK)
                snprintf(r.error, sizeof r.error, "failure %s", probe_class_to_string(c));
        AlertList l = {};
        check_loop(alert_engine_probe(&f->policy, "district", &f->state, &r, now(f), held, &l) == 0, "probe failed");
        collect(f, &l);
}

/* The state keeps the last error of a problem as a string of its own, and
 * drops it when the problem closes. */
START_TEST(test_problem_error_text) {
        Fixture f;
        fixture_init(&f, "UTC", 1800000000 * USEC_PER_SEC);
        alert_state_set_credential(&f.state, 1, now(&f));
        for (int i = 0; i < 3; i++)
                probe(&f, PROBE_CONNECT, 0, false);
        ck_assert(f.state.down.open);
        ck_assert_str_eq(f.state.down.last_error, "failure connect");
        probe(&f, PROBE_TIMEOUT, 0, false);
        ck_assert_str_eq(f.state.down.last_error, "failure timeout");
        probe(&f, PROBE_AUTH, 401, false);
        probe(&f, PROBE_AUTH, 401, false);
        ck_assert(f.state.auth.open);
        ck_assert_str_eq(f.state.auth.last_error, "failure auth");
        ck_assert_str_eq(f.state.down.last_error, "failure auth");
        probe(&f, PROBE_OK, 200, false);
        ck_assert(!f.state.down.open && !f.state.auth.open);
        ck_assert_ptr_null(f.state.down.last_error);
        ck_assert_ptr_null(f.state.auth.last_error);
        /* reset twice, freed once */
        alert_state_done(&f.state);
        ck_assert_int_eq(f.state.down.last_class, _PROBE_CLASS_INVALID);
        fixture_done(&f);
}
END_TEST

static size_t count(Fixture *f, AlertKind k) {
        size_t n = 0;
        for (size_t i = 0; i < f->n_log; i++)
                n += f->log[i].kind == k;
        return n;
}

static usec_t local(Fixture *f, int64_t y, unsigned m, unsigned d, unsigned hh) {
        return (usec_t) tz_mktime(f->tz, y, m, d, hh, 0, 0) * USEC_PER_SEC;
}

/* A year of a credential generated on day 0, probed (ok) every 15 minutes
 * and ticked every 15 minutes: exactly one warning per threshold on the
 * day T days before the expiry date, then credential-expired once a day,
 * and nothing else. */
START_TEST(test_year) {
        Fixture f;
        fixture_init(&f, "America/Los_Angeles", 0);
        clock_set_realtime(f.clock, local(&f, 2026, 8, 20, 10));
        usec_t generated = now(&f);
        alert_state_set_credential(&f.state, 1, generated);
        int64_t exp_day = days_from_civil(2027, 8, 20);

        for (; now(&f) < generated + 375 * USEC_PER_DAY; clock_advance(f.clock, 15 * USEC_PER_MINUTE)) {
                probe(&f, PROBE_OK, 200, false);
                tick(&f, false);
        }
        ck_assert_uint_eq(count(&f, ALERT_CREDENTIAL_EXPIRING), 7);
        for (size_t i = 0; i < 7; i++) {
                ck_assert_int_eq(f.log[i].kind, ALERT_CREDENTIAL_EXPIRING);
                ck_assert_uint_eq(f.log[i].threshold, warn[i]);
                ck_assert_int_eq(f.log[i].day, exp_day - warn[i]);
        }
        /* expired on day 365 and then daily: days 365..374 = 10 alerts */
        ck_assert_uint_eq(count(&f, ALERT_CREDENTIAL_EXPIRED), 10);
        for (size_t i = 7; i < f.n_log; i++) {
                ck_assert_int_eq(f.log[i].kind, ALERT_CREDENTIAL_EXPIRED);
                ck_assert_int_eq(f.log[i].day, exp_day + (int64_t) (i - 7));
                ck_assert(f.log[i].reminder == (i > 7));
        }
        ck_assert_uint_eq(f.n_log, 17);
        fixture_done(&f);
}
END_TEST

START_TEST(test_rotation_stops_alerts) {
        Fixture f;
        fixture_init(&f, "America/Los_Angeles", 0);
        clock_set_realtime(f.clock, local(&f, 2026, 8, 20, 10));
        usec_t generated = now(&f);
        alert_state_set_credential(&f.state, 1, generated);
        /* until day 350: 60, 30 and 21 sent */
        for (; now(&f) < generated + 350 * USEC_PER_DAY; clock_advance(f.clock, USEC_PER_HOUR))
                tick(&f, false);
        ck_assert_uint_eq(count(&f, ALERT_CREDENTIAL_EXPIRING), 3);
        /* rotated on day 350: a new generation, a new year */
        alert_state_set_credential(&f.state, 2, now(&f));
        for (; now(&f) < generated + 400 * USEC_PER_DAY; clock_advance(f.clock, USEC_PER_HOUR))
                tick(&f, false);
        ck_assert_uint_eq(count(&f, ALERT_CREDENTIAL_EXPIRING), 3);
        ck_assert_uint_eq(count(&f, ALERT_CREDENTIAL_EXPIRED), 0);
        ck_assert_uint_eq(f.n_log, 3);
        fixture_done(&f);
}
END_TEST

START_TEST(test_stopped_daemon) {
        Fixture f;
        fixture_init(&f, "America/Los_Angeles", 0);
        clock_set_realtime(f.clock, local(&f, 2026, 8, 20, 10));
        usec_t generated = now(&f);
        alert_state_set_credential(&f.state, 1, generated);
        for (; now(&f) < generated + 300 * USEC_PER_DAY; clock_advance(f.clock, USEC_PER_HOUR))
                tick(&f, false);
        ck_assert_uint_eq(f.n_log, 0);
        /* the state as it was saved; the daemon is stopped until day 340
         * (25 days left: 60 and 30 were crossed) */
        LinkAlertState saved = f.state;
        clock_set_realtime(f.clock, generated + 340 * USEC_PER_DAY);
        f.state = saved;
        tick(&f, false);
        tick(&f, false);
        ck_assert_uint_eq(f.n_log, 1);
        ck_assert_uint_eq(f.log[0].threshold, 30);
        /* stopped again from day 341 to day 364: 21, 14, 7, 3 and 1 crossed; one alert, for 1 */
        clock_set_realtime(f.clock, generated + 364 * USEC_PER_DAY);
        tick(&f, false);
        ck_assert_uint_eq(f.n_log, 2);
        ck_assert_uint_eq(f.log[1].threshold, 1);
        fixture_done(&f);
}
END_TEST

START_TEST(test_flapping) {
        Fixture f;
        fixture_init(&f, "UTC", 1800000000 * USEC_PER_SEC);
        alert_state_set_credential(&f.state, 1, now(&f));
        /* fail, ok, fail, ok ... never alerts with failures_before_alert 3 */
        for (int i = 0; i < 100; i++) {
                probe(&f, i % 2 ? PROBE_OK : PROBE_TIMEOUT, 0, false);
                probe(&f, i % 3 ? PROBE_OK : PROBE_CONNECT, 0, false);
                clock_advance(f.clock, 15 * USEC_PER_MINUTE);
                tick(&f, false);
        }
        ck_assert_uint_eq(f.n_log, 0);
        /* (the loop ended on a failure) ok, two failures, ok, two failures: still nothing */
        probe(&f, PROBE_OK, 200, false);
        probe(&f, PROBE_TIMEOUT, 0, false);
        probe(&f, PROBE_TIMEOUT, 0, false);
        probe(&f, PROBE_OK, 200, false);
        probe(&f, PROBE_DNS, 0, false);
        probe(&f, PROBE_DNS, 0, false);
        ck_assert_uint_eq(f.n_log, 0);
        /* the third in a row: link-down, once */
        probe(&f, PROBE_HTTP, 500, false);
        ck_assert_uint_eq(f.n_log, 1);
        ck_assert_int_eq(f.log[0].kind, ALERT_LINK_DOWN);
        ck_assert_int_eq(f.log[0].failure, PROBE_HTTP);
        ck_assert_int_eq(f.log[0].http_status, 500);
        probe(&f, PROBE_HTTP, 500, false);
        probe(&f, PROBE_TIMEOUT, 0, false);
        ck_assert_uint_eq(f.n_log, 1);
        fixture_done(&f);
}
END_TEST

START_TEST(test_repeat_and_recovery) {
        Fixture f;
        fixture_init(&f, "UTC", 1800000000 * USEC_PER_SEC);
        alert_state_set_credential(&f.state, 1, now(&f));
        /* down for 3 days, probed every 15 minutes */
        for (int i = 0; i < 3 * 96; i++) {
                probe(&f, PROBE_CONNECT, 0, false);
                tick(&f, false);
                clock_advance(f.clock, 15 * USEC_PER_MINUTE);
        }
        /* the first at the third failure, then one reminder per 24 h */
        ck_assert_uint_eq(count(&f, ALERT_LINK_DOWN), 3);
        ck_assert(!f.log[0].reminder && f.log[1].reminder && f.log[2].reminder);
        ck_assert_int_eq(f.log[1].day - f.log[0].day, 1);
        probe(&f, PROBE_OK, 200, false);
        ck_assert_uint_eq(count(&f, ALERT_LINK_RECOVERED), 1);
        ck_assert_int_eq(f.log[f.n_log - 1].failure, PROBE_CONNECT);
        /* nothing further while healthy */
        size_t n = f.n_log;
        for (int i = 0; i < 200; i++) {
                clock_advance(f.clock, 15 * USEC_PER_MINUTE);
                probe(&f, PROBE_OK, 200, false);
                tick(&f, false);
        }
        ck_assert_uint_eq(f.n_log, n);
        /* recovery is only announced after a notified problem: two failures then ok */
        probe(&f, PROBE_TIMEOUT, 0, false);
        probe(&f, PROBE_TIMEOUT, 0, false);
        probe(&f, PROBE_OK, 200, false);
        ck_assert_uint_eq(f.n_log, n);
        fixture_done(&f);
}
END_TEST

START_TEST(test_auth_rejected) {
        Fixture f;
        fixture_init(&f, "UTC", 1800000000 * USEC_PER_SEC);
        alert_state_set_credential(&f.state, 1, now(&f));
        probe(&f, PROBE_AUTH, 401, false);
        ck_assert_uint_eq(f.n_log, 0);
        /* one auth failure then a timeout resets the auth run */
        probe(&f, PROBE_TIMEOUT, 0, false);
        probe(&f, PROBE_AUTH, 401, false);
        ck_assert_uint_eq(f.n_log, 0);
        /* the second consecutive 401: auth-rejected, not link-down */
        probe(&f, PROBE_AUTH, 401, false);
        ck_assert_uint_eq(f.n_log, 1);
        ck_assert_int_eq(f.log[0].kind, ALERT_AUTH_REJECTED);
        ck_assert_int_eq(f.log[0].http_status, 401);
        for (int i = 0; i < 10; i++)
                probe(&f, PROBE_AUTH, 401, false);
        ck_assert_uint_eq(count(&f, ALERT_LINK_DOWN), 0);
        ck_assert_uint_eq(f.n_log, 1);
        unsigned problems;
        ck_assert_int_eq(alert_engine_link_state(&f.policy, &f.state, now(&f), false, false, &problems),
                         LINK_STATE_AUTH_REJECTED);
        /* repeated daily until it clears */
        clock_advance(f.clock, 24 * USEC_PER_HOUR);
        tick(&f, false);
        ck_assert_uint_eq(count(&f, ALERT_AUTH_REJECTED), 2);
        ck_assert(f.log[1].reminder);
        /* a rotation and a good probe: recovered */
        alert_state_set_credential(&f.state, 2, now(&f));
        probe(&f, PROBE_OK, 200, false);
        ck_assert_uint_eq(count(&f, ALERT_LINK_RECOVERED), 1);
        ck_assert_int_eq(f.log[2].failure, PROBE_AUTH);
        ck_assert_int_eq(alert_engine_link_state(&f.policy, &f.state, now(&f), false, false, NULL), LINK_STATE_OK);
        /* 403: access not authorized, also auth-rejected */
        probe(&f, PROBE_AUTH, 403, false);
        probe(&f, PROBE_AUTH, 403, false);
        ck_assert_int_eq(f.log[3].kind, ALERT_AUTH_REJECTED);
        ck_assert_int_eq(f.log[3].http_status, 403);
        fixture_done(&f);
}
END_TEST

/* A maintenance window that ends with the link still down: held during the
 * window (one info-level notice), notified when it ends. One that ends
 * with the link healthy: nothing at all. */
START_TEST(test_maintenance_windows) {
        Fixture f;
        fixture_init(&f, "America/Los_Angeles", 0);
        clock_set_realtime(f.clock, local(&f, 2027, 6, 30, 12));
        alert_state_set_credential(&f.state, 1, now(&f));
        usec_t start = local(&f, 2027, 6, 30, 17), end = local(&f, 2027, 7, 7, 8);
        clock_set_realtime(f.clock, start);
        while (now(&f) < end) {
                probe(&f, PROBE_CONNECT, 0, true);
                tick(&f, true);
                clock_advance(f.clock, 15 * USEC_PER_MINUTE);
        }
        ck_assert_uint_eq(f.n_log, 1);
        ck_assert(f.log[0].held);
        ck_assert_int_eq(f.log[0].kind, ALERT_LINK_DOWN);
        /* the window ends: the problem outlived it and is sent at once */
        tick(&f, false);
        ck_assert_uint_eq(f.n_log, 2);
        ck_assert(!f.log[1].held);
        ck_assert_int_eq(f.log[1].kind, ALERT_LINK_DOWN);
        probe(&f, PROBE_OK, 200, false);
        ck_assert_int_eq(f.log[2].kind, ALERT_LINK_RECOVERED);
        fixture_done(&f);

        fixture_init(&f, "America/Los_Angeles", 0);
        clock_set_realtime(f.clock, start);
        alert_state_set_credential(&f.state, 1, now(&f));
        for (int i = 0; i < 50; i++) {
                probe(&f, PROBE_TIMEOUT, 0, true);
                tick(&f, true);
                clock_advance(f.clock, 15 * USEC_PER_MINUTE);
        }
        ck_assert_uint_eq(f.n_log, 1);
        ck_assert(f.log[0].held);
        /* healthy again inside the window: nothing, now or after */
        probe(&f, PROBE_OK, 200, true);
        clock_set_realtime(f.clock, end);
        tick(&f, false);
        probe(&f, PROBE_OK, 200, false);
        ck_assert_uint_eq(f.n_log, 1);
        fixture_done(&f);
}
END_TEST

START_TEST(test_expiry_never_held) {
        Fixture f;
        fixture_init(&f, "UTC", 1800000000 * USEC_PER_SEC);
        alert_state_set_credential(&f.state, 1, now(&f) - 310 * USEC_PER_DAY);
        tick(&f, true);
        ck_assert_uint_eq(f.n_log, 1);
        ck_assert_int_eq(f.log[0].kind, ALERT_CREDENTIAL_EXPIRING);
        ck_assert(!f.log[0].held);
        ck_assert_uint_eq(f.log[0].threshold, 60);
        fixture_done(&f);
}
END_TEST

START_TEST(test_endpoint_certificate) {
        Fixture f;
        fixture_init(&f, "UTC", 1800000000 * USEC_PER_SEC);
        alert_state_set_credential(&f.state, 1, now(&f));
        ProbeResult r = { .klass = PROBE_OK, .http_status = 200, .cert_not_after = now(&f) + 20 * USEC_PER_DAY };
        strcpy(r.cert_sha256, "aa");
        strcpy(r.cert_subject, "CN=toms.example");
        for (int d = 0; d < 25; d++) {
                AlertList l = {};
                ck_assert_int_eq(alert_engine_probe(&f.policy, "district", &f.state, &r, now(&f), false, &l), 0);
                collect(&f, &l);
                tick(&f, false);
                clock_advance(f.clock, USEC_PER_DAY);
        }
        /* 14 and 7 (30 was already crossed at first sight, so 14 is the nearest... no: 20 days left, nearest crossed is 30) */
        ck_assert_uint_eq(count(&f, ALERT_ENDPOINT_CERT_EXPIRING), 3);
        ck_assert_uint_eq(f.log[0].threshold, 30);
        ck_assert_uint_eq(f.log[1].threshold, 14);
        ck_assert_uint_eq(f.log[2].threshold, 7);
        /* a renewed certificate (new fingerprint) starts afresh */
        strcpy(r.cert_sha256, "bb");
        r.cert_not_after = now(&f) + 10 * USEC_PER_DAY;
        AlertList l = {};
        ck_assert_int_eq(alert_engine_probe(&f.policy, "district", &f.state, &r, now(&f), false, &l), 0);
        collect(&f, &l);
        ck_assert_uint_eq(count(&f, ALERT_ENDPOINT_CERT_EXPIRING), 4);
        ck_assert_uint_eq(f.log[3].threshold, 14);
        ck_assert_str_eq(f.state.cert_sha256, "bb");
        ck_assert_str_eq(f.state.cert_subject, "CN=toms.example");
        /* a reading without a subject replaces it */
        r.cert_subject[0] = 0;
        l = (AlertList) {};
        ck_assert_int_eq(alert_engine_probe(&f.policy, "district", &f.state, &r, now(&f), false, &l), 0);
        collect(&f, &l);
        ck_assert_ptr_null(f.state.cert_subject);
        fixture_done(&f);
}
END_TEST

START_TEST(test_link_states) {
        Fixture f;
        fixture_init(&f, "UTC", 1800000000 * USEC_PER_SEC);
        unsigned pr;
        ck_assert_int_eq(alert_engine_link_state(&f.policy, &f.state, now(&f), false, false, &pr), LINK_STATE_UNCONFIGURED);
        alert_state_set_credential(&f.state, 1, now(&f));
        ck_assert_int_eq(alert_engine_link_state(&f.policy, &f.state, now(&f), false, false, &pr), LINK_STATE_UNKNOWN);
        probe(&f, PROBE_OK, 200, false);
        ck_assert_int_eq(alert_engine_link_state(&f.policy, &f.state, now(&f), false, false, &pr), LINK_STATE_OK);
        ck_assert_uint_eq(pr, 0);
        ck_assert_int_eq(alert_engine_link_state(&f.policy, &f.state, now(&f), true, false, &pr), LINK_STATE_MAINTENANCE);
        ck_assert_int_eq(alert_engine_link_state(&f.policy, &f.state, now(&f), false, true, &pr), LINK_STATE_SILENCED);
        clock_advance(f.clock, 310 * USEC_PER_DAY);
        ck_assert_int_eq(alert_engine_link_state(&f.policy, &f.state, now(&f), false, false, &pr), LINK_STATE_EXPIRING);
        for (int i = 0; i < 3; i++)
                probe(&f, PROBE_TIMEOUT, 0, false);
        /* several problems at once: the worst is shown, all are listed */
        ck_assert_int_eq(alert_engine_link_state(&f.policy, &f.state, now(&f), false, true, &pr), LINK_STATE_DOWN);
        ck_assert_uint_eq(pr, (1u << LINK_STATE_DOWN) | (1u << LINK_STATE_EXPIRING) | (1u << LINK_STATE_SILENCED));
        clock_advance(f.clock, 60 * USEC_PER_DAY);
        ck_assert_int_eq(alert_engine_link_state(&f.policy, &f.state, now(&f), false, false, &pr), LINK_STATE_EXPIRED);
        ck_assert_str_eq(link_state_to_string(LINK_STATE_CERT_EXPIRING), "cert-expiring");
        ck_assert_int_eq(link_state_from_string("auth-rejected"), LINK_STATE_AUTH_REJECTED);
        fixture_done(&f);
}
END_TEST

START_TEST(test_next_tick) {
        Fixture f;
        fixture_init(&f, "America/Los_Angeles", 0);
        clock_set_realtime(f.clock, local(&f, 2027, 3, 13, 15));
        ck_assert_uint_eq(alert_engine_next_tick(&f.policy, &f.state, now(&f)), USEC_INFINITY);
        alert_state_set_credential(&f.state, 1, now(&f) - 100 * USEC_PER_DAY);
        ck_assert_uint_eq(alert_engine_next_tick(&f.policy, &f.state, now(&f)), local(&f, 2027, 3, 14, 0));
        for (int i = 0; i < 3; i++)
                probe(&f, PROBE_TIMEOUT, 0, false);
        usec_t notified = now(&f);
        ck_assert_uint_eq(alert_engine_next_tick(&f.policy, &f.state, now(&f)), local(&f, 2027, 3, 14, 0));
        /* past midnight: the link-down reminder 24 h after the first notice
         * (16:00 PDT, the clocks went forward) comes before the next midnight */
        clock_advance(f.clock, 10 * USEC_PER_HOUR);
        ck_assert_uint_eq(alert_engine_next_tick(&f.policy, &f.state, now(&f)), notified + 24 * USEC_PER_HOUR);
        ck_assert_uint_eq(notified + 24 * USEC_PER_HOUR, local(&f, 2027, 3, 14, 16));
        fixture_done(&f);
}
END_TEST

START_TEST(test_summaries) {
        Fixture f;
        fixture_init(&f, "America/Los_Angeles", 0);
        Alert a = ALERT_NULL;
        a.kind = ALERT_CREDENTIAL_EXPIRING;
        a.link = (char *) "district";
        a.days_left = 7;
        a.expires = local(&f, 2027, 3, 1, 10);
        char *s = alert_summary(&a, f.tz);
        ck_assert_str_eq(s, "district: SIS credential expires in 7 days (2027-03-01)");
        free(s);
        ck_assert_int_eq(alert_priority(&a), LOG_WARNING);
        a.days_left = 3;
        ck_assert_int_eq(alert_priority(&a), LOG_ERR);
        a.held = true;
        ck_assert_int_eq(alert_priority(&a), LOG_INFO);
        a.held = false;
        a.kind = ALERT_AUTH_REJECTED;
        a.http_status = 401;
        s = alert_summary(&a, f.tz);
        ck_assert_ptr_nonnull(strstr(s, "most likely regenerated in TOMS"));
        free(s);
        a.kind = ALERT_LINK_RECOVERED;
        ck_assert_int_eq(alert_priority(&a), LOG_NOTICE);
        for (int k = 0; k < _ALERT_KIND_MAX; k++) {
                ck_assert_int_eq(alert_kind_from_string(alert_kind_to_string(k)), k);
                ck_assert_uint_eq(strlen(alert_kind_message_id(k)), 32);
                for (int j = 0; j < k; j++)
                        ck_assert_str_ne(alert_kind_message_id(k), alert_kind_message_id(j));
        }
        fixture_done(&f);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("alert-engine");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 120);
        ADD_TESTS(tc, test_year, test_rotation_stops_alerts, test_stopped_daemon, test_flapping, test_repeat_and_recovery,
                  test_auth_rejected, test_maintenance_windows, test_expiry_never_held, test_endpoint_certificate,
                  test_link_states, test_next_tick, test_summaries, test_problem_error_text);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
