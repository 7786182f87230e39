/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The alert state: ledger, problems, counters, alert log, silences and
 * probe history. */
#include <syslog.h>

#include "store-internal.h"
#include "store-test.h"

START_TEST(test_ledger) {
        TestStore t;
        test_store_setup(&t, "state");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        unsigned *th = NULL;
        size_t n = 0;
        usec_t last = 0;

        ck_assert_int_eq(store_ledger_thresholds(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:1", &th, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(th);
        ck_assert_int_eq(store_ledger_last(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:1", &last), -ENOENT);

        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:1", 30, TEST_NOW), 0);
        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:1", 14, TEST_NOW + 100), 0);
        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:1", 60, TEST_NOW - 100), 0);
        /* other scope, kind, link: kept apart */
        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:2", 7, TEST_NOW + 500), 0);
        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_ENDPOINT_CERT_EXPIRING, "cert:ab", 30, TEST_NOW), 0);
        ck_assert_int_eq(store_ledger_record(s, "school-a", ALERT_CREDENTIAL_EXPIRING, "gen:1", 3, TEST_NOW + 900), 0);
        /* repeating kinds: threshold -1, not a threshold */
        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_CREDENTIAL_EXPIRED, "gen:1", -1, TEST_NOW + 10), 0);
        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_CREDENTIAL_EXPIRED, "gen:1", -1, TEST_NOW + 20), 0);

        ck_assert_int_eq(store_ledger_thresholds(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:1", &th, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_uint_eq(th[0], 14);
        ck_assert_uint_eq(th[1], 30);
        ck_assert_uint_eq(th[2], 60);
        free(th);
        ck_assert_int_eq(store_ledger_thresholds(s, "district", ALERT_CREDENTIAL_EXPIRED, "gen:1", &th, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(th);

        ck_assert_int_eq(store_ledger_last(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:1", &last), 0);
        ck_assert_uint_eq(last, TEST_NOW + 100);
        ck_assert_int_eq(store_ledger_last(s, "district", ALERT_CREDENTIAL_EXPIRED, "gen:1", &last), 0);
        ck_assert_uint_eq(last, TEST_NOW + 20);
        /* recording a threshold again moves its time */
        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:1", 30, TEST_NOW + 1000), 0);
        ck_assert_int_eq(store_ledger_last(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:1", &last), 0);
        ck_assert_uint_eq(last, TEST_NOW + 1000);

        /* a message without a link (mail-undeliverable) */
        ck_assert_int_eq(store_ledger_record(s, NULL, ALERT_MAIL_UNDELIVERABLE, "mail:<1@x>", -1, TEST_NOW), 0);
        ck_assert_int_eq(store_ledger_last(s, NULL, ALERT_MAIL_UNDELIVERABLE, "mail:<1@x>", &last), 0);
        ck_assert_uint_eq(last, TEST_NOW);

        /* a new generation: the old generation's records go, only for that link and kind */
        ck_assert_int_eq(store_ledger_prune(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:2"), 3);
        ck_assert_int_eq(store_ledger_thresholds(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:1", &th, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(th);
        ck_assert_int_eq(store_ledger_thresholds(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:2", &th, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(th[0], 7);
        free(th);
        ck_assert_int_eq(store_ledger_last(s, "district", ALERT_CREDENTIAL_EXPIRED, "gen:1", NULL), 0);
        ck_assert_int_eq(store_ledger_last(s, "school-a", ALERT_CREDENTIAL_EXPIRING, "gen:1", NULL), 0);
        ck_assert_int_eq(store_ledger_last(s, "district", ALERT_ENDPOINT_CERT_EXPIRING, "cert:ab", NULL), 0);

        ck_assert_int_eq(store_ledger_record(s, "district", _ALERT_KIND_INVALID, "x", 1, TEST_NOW), -EINVAL);
        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_LINK_DOWN, NULL, 1, TEST_NOW), -EINVAL);

        /* survives a restart */
        test_store_reopen(&t);
        ck_assert_int_eq(store_ledger_thresholds(t.store, "district", ALERT_CREDENTIAL_EXPIRING, "gen:2", &th, &n), 0);
        ck_assert_uint_eq(n, 1);
        free(th);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_problems) {
        TestStore t;
        test_store_setup(&t, "state");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        Problem p = {
                .link = (char *) "district",
                .kind = ALERT_LINK_DOWN,
                .since = TEST_NOW,
                .failures = 3,
                .last_class = PROBE_TIMEOUT,
                .last_http_status = 0,
                .last_error = (char *) "Operation timed out after 20001 ms",
                .notified = 0,
                .last_notified = 0,
        }, got;

        ck_assert_int_eq(store_problem_get(s, "district", ALERT_LINK_DOWN, &got), -ENOENT);
        ck_assert_int_eq(store_problem_put(s, &p), 0);
        ck_assert_int_eq(store_problem_get(s, "district", ALERT_LINK_DOWN, &got), 0);
        ck_assert_str_eq(got.link, "district");
        ck_assert_int_eq(got.kind, ALERT_LINK_DOWN);
        ck_assert_uint_eq(got.since, TEST_NOW);
        ck_assert_uint_eq(got.failures, 3);
        ck_assert_int_eq(got.last_class, PROBE_TIMEOUT);
        ck_assert_str_eq(got.last_error, "Operation timed out after 20001 ms");
        ck_assert_uint_eq(got.notified, 0);
        problem_done(&got);

        /* replaced */
        p.failures = 4;
        p.last_class = PROBE_HTTP;
        p.last_http_status = 503;
        p.last_error = NULL;
        p.notified = TEST_NOW + 10;
        p.last_notified = TEST_NOW + 20;
        ck_assert_int_eq(store_problem_put(s, &p), 0);
        ck_assert_int_eq(store_problem_get(s, "district", ALERT_LINK_DOWN, &got), 0);
        ck_assert_uint_eq(got.failures, 4);
        ck_assert_int_eq(got.last_class, PROBE_HTTP);
        ck_assert_int_eq(got.last_http_status, 503);
        ck_assert_ptr_null(got.last_error);
        ck_assert_uint_eq(got.notified, TEST_NOW + 10);
        ck_assert_uint_eq(got.last_notified, TEST_NOW + 20);
        problem_done(&got);

        /* several at once, several links */
        Problem q = { .link = (char *) "district", .kind = ALERT_AUTH_REJECTED, .since = TEST_NOW - 5,
                      .failures = 2, .last_class = PROBE_AUTH, .last_http_status = 401 };
        ck_assert_int_eq(store_problem_put(s, &q), 0);
        q.link = (char *) "school-a";
        q.last_class = _PROBE_CLASS_INVALID;
        ck_assert_int_eq(store_problem_put(s, &q), 0);

        Problem *list = NULL;
        size_t n = 0;
        ck_assert_int_eq(store_problem_list(s, "district", &list, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(list[0].kind, ALERT_AUTH_REJECTED);   /* by since */
        ck_assert_int_eq(list[1].kind, ALERT_LINK_DOWN);
        problem_array_free(list, n);
        ck_assert_int_eq(store_problem_list(s, NULL, &list, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(list[2].link, "school-a");
        ck_assert_int_eq(list[2].last_class, _PROBE_CLASS_INVALID);
        problem_array_free(list, n);
        ck_assert_int_eq(store_problem_list(s, "nowhere", &list, &n), 0);
        ck_assert_uint_eq(n, 0);
        problem_array_free(list, n);

        /* delete: 1 when it was open, 0 when not */
        ck_assert_int_eq(store_problem_delete(s, "district", ALERT_LINK_DOWN), 1);
        ck_assert_int_eq(store_problem_delete(s, "district", ALERT_LINK_DOWN), 0);
        ck_assert_int_eq(store_problem_get(s, "district", ALERT_LINK_DOWN, &got), -ENOENT);
        ck_assert_int_eq(store_problem_get(s, "district", ALERT_AUTH_REJECTED, NULL), 0);

        p.link = (char *) "Bad Link";
        ck_assert_int_eq(store_problem_put(s, &p), -EINVAL);
        p.link = (char *) "district";
        p.kind = _ALERT_KIND_INVALID;
        ck_assert_int_eq(store_problem_put(s, &p), -EINVAL);

        /* a value the code does not know is an error, not a crash */
        sqlite3 *raw = test_db_open(&t);
        test_sql(raw, "UPDATE problem SET kind = 'bogus' WHERE link = 'school-a'");
        sqlite3_close(raw);
        ck_assert_int_eq(store_problem_list(s, NULL, &list, &n), -EBADMSG);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_counters) {
        TestStore t;
        test_store_setup(&t, "state");
        ck_assert_int_eq(test_store_open(&t), 0);
        LinkCounters c = { .failures = 99, .auth_failures = 99, .last_probe = 99, .last_ok = 99 };

        ck_assert_int_eq(store_counters_get(t.store, "district", &c), 0);
        ck_assert_uint_eq(c.failures, 0);
        ck_assert_uint_eq(c.auth_failures, 0);
        ck_assert_uint_eq(c.last_probe, 0);
        ck_assert_uint_eq(c.last_ok, 0);

        c = (LinkCounters) { .failures = 5, .auth_failures = 2, .last_probe = TEST_NOW, .last_ok = TEST_NOW - 3600 };
        ck_assert_int_eq(store_counters_put(t.store, "district", &c), 0);
        c = (LinkCounters) { .failures = 0, .auth_failures = 0, .last_probe = TEST_NOW + 1, .last_ok = TEST_NOW + 1 };
        ck_assert_int_eq(store_counters_put(t.store, "school-a", &c), 0);
        test_store_reopen(&t);
        ck_assert_int_eq(store_counters_get(t.store, "district", &c), 0);
        ck_assert_uint_eq(c.failures, 5);
        ck_assert_uint_eq(c.auth_failures, 2);
        ck_assert_uint_eq(c.last_probe, TEST_NOW);
        ck_assert_uint_eq(c.last_ok, TEST_NOW - 3600);
        c.failures = 6;
        ck_assert_int_eq(store_counters_put(t.store, "district", &c), 0);
        ck_assert_int_eq(store_counters_get(t.store, "district", &c), 0);
        ck_assert_uint_eq(c.failures, 6);
        ck_assert_int_eq(store_counters_get(t.store, "school-a", &c), 0);
        ck_assert_uint_eq(c.last_ok, TEST_NOW + 1);
        ck_assert_int_eq(store_counters_put(t.store, "", &c), -EINVAL);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_alert_log) {
        TestStore t;
        test_store_setup(&t, "state");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        Alert a = ALERT_NULL;
        AlertLogEntry *e = NULL;
        size_t n = 0;

        a.kind = ALERT_LINK_DOWN;
        a.link = (char *) "district";
        a.time = TEST_NOW;
        ck_assert_int_eq(store_alert_log_append(s, &a, "district: down"), 0);
        a.kind = ALERT_CREDENTIAL_EXPIRING;
        a.link = (char *) "school-a";
        a.time = TEST_NOW + 1;
        a.days_left = 14;
        ck_assert_int_eq(store_alert_log_append(s, &a, "school-a: expires in 14 days"), 0);
        a.kind = ALERT_AUTH_REJECTED;
        a.link = (char *) "district";
        a.held = true;
        a.time = TEST_NOW + 2;
        ck_assert_int_eq(store_alert_log_append(s, &a, "district: rejected (held)"), 0);
        a.kind = ALERT_MAIL_UNDELIVERABLE;
        a.link = NULL;
        a.held = false;
        a.time = TEST_NOW + 3;
        ck_assert_int_eq(store_alert_log_append(s, &a, "mail lost"), 0);

        ck_assert_int_eq(store_alert_log_list(s, NULL, 10, &e, &n), 0);
        ck_assert_uint_eq(n, 4);
        /* newest first */
        ck_assert_str_eq(e[0].summary, "mail lost");
        ck_assert_ptr_null(e[0].link);
        ck_assert_int_eq(e[0].kind, ALERT_MAIL_UNDELIVERABLE);
        ck_assert_int_eq(e[0].priority, LOG_ERR);
        ck_assert_str_eq(e[1].summary, "district: rejected (held)");
        ck_assert(e[1].held);
        ck_assert_int_eq(e[1].priority, LOG_INFO);
        ck_assert_uint_eq(e[1].time, TEST_NOW + 2);
        ck_assert_int_eq(e[2].kind, ALERT_CREDENTIAL_EXPIRING);
        ck_assert_int_eq(e[2].priority, LOG_WARNING);
        ck_assert_int_gt(e[0].id, e[1].id);
        alert_log_entry_array_free(e, n);

        ck_assert_int_eq(store_alert_log_list(s, "district", 10, &e, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(e[0].summary, "district: rejected (held)");
        ck_assert_str_eq(e[1].summary, "district: down");
        alert_log_entry_array_free(e, n);
        ck_assert_int_eq(store_alert_log_list(s, NULL, 2, &e, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(e[1].summary, "district: rejected (held)");
        alert_log_entry_array_free(e, n);

        ck_assert_int_eq(store_alert_log_append(s, &a, NULL), -EINVAL);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_alert_log_bounded) {
        TestStore t;
        test_store_setup(&t, "state");
        ck_assert_int_eq(test_store_open(&t), 0);
        Alert a = ALERT_NULL;
        AlertLogEntry *e = NULL;
        size_t n = 0;
        char summary[32];

        a.kind = ALERT_LINK_DOWN;
        a.link = (char *) "district";
        ck_assert_int_eq(store_begin(t.store), 0);
        for (unsigned i = 1; i <= STORE_ALERT_LOG_KEEP + 50; i++) {
                a.time = TEST_NOW + i;
                snprintf(summary, sizeof summary, "alert %u", i);
                check_loop(store_alert_log_append(t.store, &a, summary) == 0, "append %u", i);
        }
        ck_assert_int_eq(store_commit(t.store), 0);

        ck_assert_int_eq(store_alert_log_list(t.store, NULL, SIZE_MAX, &e, &n), 0);
        ck_assert_uint_eq(n, STORE_ALERT_LOG_KEEP);
        ck_assert_str_eq(e[0].summary, "alert 10050");
        ck_assert_str_eq(e[n - 1].summary, "alert 51");        /* the oldest 50 went */
        alert_log_entry_array_free(e, n);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_silences) {
        TestStore t;
        test_store_setup(&t, "state");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        Silence x = { .link = (char *) "district", .until = TEST_NOW + 2 * USEC_PER_HOUR, .reason = (char *) "rollover",
                      .uid = 0, .created = TEST_NOW }, got;
        Silence *list = NULL;
        size_t n = 0;

        ck_assert_int_eq(store_silence_get(s, "district", TEST_NOW, &got), -ENOENT);
        ck_assert_int_eq(store_silence_delete(s, "district"), -ENOENT);
        ck_assert_int_eq(store_silence_set(s, &x), 0);
        ck_assert_int_eq(store_silence_get(s, "district", TEST_NOW, &got), 0);
        ck_assert_str_eq(got.link, "district");
        ck_assert_str_eq(got.reason, "rollover");
        ck_assert_uint_eq(got.until, TEST_NOW + 2 * USEC_PER_HOUR);
        ck_assert_uint_eq(got.created, TEST_NOW);
        silence_done(&got);
        /* it lasts until its end, not past it */
        ck_assert_int_eq(store_silence_get(s, "district", TEST_NOW + 2 * USEC_PER_HOUR - 1, NULL), 0);
        ck_assert_int_eq(store_silence_get(s, "district", TEST_NOW + 2 * USEC_PER_HOUR, NULL), -ENOENT);

        /* replaced */
        x.until = TEST_NOW + 4 * USEC_PER_HOUR;
        x.reason = NULL;
        x.uid = 1000;
        ck_assert_int_eq(store_silence_set(s, &x), 0);
        ck_assert_int_eq(store_silence_get(s, "district", TEST_NOW + 3 * USEC_PER_HOUR, &got), 0);
        ck_assert_ptr_null(got.reason);
        ck_assert_uint_eq(got.uid, 1000);
        silence_done(&got);

        Silence y = { .link = (char *) "school-a", .until = TEST_NOW + USEC_PER_HOUR, .created = TEST_NOW };
        ck_assert_int_eq(store_silence_set(s, &y), 0);
        y.link = (char *) "alpha";
        y.until = TEST_NOW + 10 * USEC_PER_HOUR;
        ck_assert_int_eq(store_silence_set(s, &y), 0);

        ck_assert_int_eq(store_silence_list(s, TEST_NOW, &list, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(list[0].link, "alpha");
        ck_assert_str_eq(list[1].link, "district");
        ck_assert_str_eq(list[2].link, "school-a");
        silence_array_free(list, n);

        /* listing later drops the expired ones for good */
        ck_assert_int_eq(store_silence_list(s, TEST_NOW + 5 * USEC_PER_HOUR, &list, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(list[0].link, "alpha");
        silence_array_free(list, n);
        ck_assert_int_eq(store_silence_get(s, "school-a", TEST_NOW, NULL), -ENOENT);
        ck_assert_int_eq(store_silence_delete(s, "school-a"), -ENOENT);

        ck_assert_int_eq(store_silence_delete(s, "alpha"), 0);
        ck_assert_int_eq(store_silence_list(s, TEST_NOW, &list, &n), 0);
        ck_assert_uint_eq(n, 0);
        silence_array_free(list, n);
        x.link = NULL;
        ck_assert_int_eq(store_silence_set(s, &x), -EINVAL);
        test_store_teardown(&t);
}
END_TEST

static ProbeResult probe(ProbeClass c, usec_t time) {
        ProbeResult r = {
                .klass = c,
                .http_status = c == PROBE_OK ? 200 : 0,
                .time = time,
                .dns = 1000,
                .connect = 2000,
                .tls = c == PROBE_CONNECT ? USEC_INFINITY : 3000,
                .first_byte = USEC_INFINITY,
                .total = 5000,
                .cert_not_after = TEST_NOW + 90 * USEC_PER_DAY,
        };
        snprintf(r.error, sizeof r.error, "%s", c == PROBE_OK ? "" : "Failed to connect");
        snprintf(r.cert_subject, sizeof r.cert_subject, "CN=toms.example");
        snprintf(r.cert_sha256, sizeof r.cert_sha256, "%064d", 7);
        return r;
}

START_TEST(test_probe_history) {
        TestStore t;
        test_store_setup(&t, "state");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        ProbeResult *list = NULL;
        size_t n = 0;

        for (unsigned i = 0; i < 10; i++) {
                ProbeResult r = probe(i % 2 ? PROBE_CONNECT : PROBE_OK, TEST_NOW + i * USEC_PER_MINUTE);
                ck_assert_int_eq(store_probe_append(s, "district", &r, 5), 0);
        }
        ProbeResult other = probe(PROBE_TLS, TEST_NOW);
        ck_assert_int_eq(store_probe_append(s, "school-a", &other, 5), 0);

        ck_assert_int_eq(store_probe_list(s, "district", 100, &list, &n), 0);
        ck_assert_uint_eq(n, 5);
        for (size_t i = 0; i < n; i++)
                ck_assert_uint_eq(list[i].time, TEST_NOW + (9 - i) * USEC_PER_MINUTE);     /* newest first */
        ck_assert_int_eq(list[0].klass, PROBE_CONNECT);
        ck_assert_str_eq(list[0].error, "Failed to connect");
        ck_assert_uint_eq(list[0].tls, USEC_INFINITY);
        ck_assert_uint_eq(list[0].first_byte, USEC_INFINITY);
        ck_assert_int_eq(list[1].klass, PROBE_OK);
        ck_assert_int_eq(list[1].http_status, 200);
        ck_assert_str_eq(list[1].error, "");
        ck_assert_uint_eq(list[1].dns, 1000);
        ck_assert_uint_eq(list[1].connect, 2000);
        ck_assert_uint_eq(list[1].tls, 3000);
        ck_assert_uint_eq(list[1].total, 5000);
        ck_assert_uint_eq(list[1].cert_not_after, TEST_NOW + 90 * USEC_PER_DAY);
        ck_assert_str_eq(list[1].cert_subject, "CN=toms.example");
        ck_assert_uint_eq(strlen(list[1].cert_sha256), 64);
        free(list);

        ck_assert_int_eq(store_probe_list(s, "district", 2, &list, &n), 0);
        ck_assert_uint_eq(n, 2);
        free(list);
        /* the other link's history was not pruned along */
        ck_assert_int_eq(store_probe_list(s, "school-a", 100, &list, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(list[0].klass, PROBE_TLS);
        free(list);
        ck_assert_int_eq(store_probe_list(s, "nowhere", 100, &list, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(list);

        /* a result that arrives late (older start time) is ordered by time */
        ProbeResult late = probe(PROBE_HTTP, TEST_NOW + 8 * USEC_PER_MINUTE + 1);
        ck_assert_int_eq(store_probe_append(s, "district", &late, 5), 0);
        ck_assert_int_eq(store_probe_list(s, "district", 100, &list, &n), 0);
        ck_assert_uint_eq(n, 5);
        ck_assert_int_eq(list[1].klass, PROBE_HTTP);
        ck_assert_uint_eq(list[4].time, TEST_NOW + 6 * USEC_PER_MINUTE);
        free(list);

        /* the default bound (limit 0), and a smaller limit prunes down */
        ck_assert_int_eq(store_begin(s), 0);
        for (unsigned i = 0; i < STORE_PROBE_HISTORY_DEFAULT + 20; i++) {
                ProbeResult r = probe(PROBE_OK, TEST_NOW + USEC_PER_DAY + i);
                check_loop(store_probe_append(s, "school-b", &r, 0) == 0, "append %u", i);
        }
        ck_assert_int_eq(store_commit(s), 0);
        ck_assert_int_eq(store_probe_list(s, "school-b", SIZE_MAX, &list, &n), 0);
        ck_assert_uint_eq(n, STORE_PROBE_HISTORY_DEFAULT);
        ck_assert_uint_eq(list[n - 1].time, TEST_NOW + USEC_PER_DAY + 20);
        free(list);
        ProbeResult r = probe(PROBE_OK, TEST_NOW + 2 * USEC_PER_DAY);
        ck_assert_int_eq(store_probe_append(s, "school-b", &r, 10), 0);
        ck_assert_int_eq(store_probe_list(s, "school-b", SIZE_MAX, &list, &n), 0);
        ck_assert_uint_eq(n, 10);
        free(list);

        r.klass = _PROBE_CLASS_INVALID;
        ck_assert_int_eq(store_probe_append(s, "school-b", &r, 10), -EINVAL);
        test_store_teardown(&t);
}
END_TEST

/* A caller that groups results prunes each link now and then. */
START_TEST(test_probe_history_add_prune) {
        TestStore t;
        test_store_setup(&t, "state");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        ProbeResult *list = NULL;
        size_t n = 0;

        ck_assert_int_eq(store_begin_relaxed(s), 0);
        ck_assert_int_eq(test_sql_int(s->db, "PRAGMA synchronous"), 1);
        for (unsigned i = 0; i < 8; i++) {
                ProbeResult r = probe(PROBE_OK, TEST_NOW + i * USEC_PER_MINUTE);
                ck_assert_int_eq(store_probe_add(s, "district", &r), 0);
        }
        ProbeResult other = probe(PROBE_TLS, TEST_NOW);
        ck_assert_int_eq(store_probe_add(s, "school-a", &other), 0);
        ck_assert_int_eq(store_commit(s), 0);

        /* nothing was pruned by adding */
        ck_assert_int_eq(store_probe_list(s, "district", 100, &list, &n), 0);
        ck_assert_uint_eq(n, 8);
        free(list);

        /* pruning keeps the newest, of that link only */
        ck_assert_int_eq(store_probe_prune(s, "district", 5), 3);
        ck_assert_int_eq(store_probe_list(s, "district", 100, &list, &n), 0);
        ck_assert_uint_eq(n, 5);
        ck_assert_uint_eq(list[0].time, TEST_NOW + 7 * USEC_PER_MINUTE);
        ck_assert_uint_eq(list[4].time, TEST_NOW + 3 * USEC_PER_MINUTE);
        free(list);
        ck_assert_int_eq(store_probe_prune(s, "district", 5), 0);
        ck_assert_int_eq(store_probe_prune(s, "district", 0), 0);      /* the default bound */
        ck_assert_int_eq(store_probe_prune(s, "nowhere", 1), 0);
        ck_assert_int_eq(store_probe_list(s, "school-a", 100, &list, &n), 0);
        ck_assert_uint_eq(n, 1);
        free(list);

        /* a relaxed group: a failure inside undoes only itself */
        ck_assert_int_eq(store_begin_relaxed(s), 0);
        ProbeResult bad = probe(PROBE_OK, TEST_NOW);
        bad.klass = _PROBE_CLASS_INVALID;
        ck_assert_int_eq(store_probe_add(s, "district", &bad), -EINVAL);
        ck_assert_int_eq(store_probe_add(s, "bad name", &other), -EINVAL);
        ck_assert_int_eq(store_probe_add(s, "school-a", &other), 0);
        ck_assert_int_eq(store_commit(s), 0);
        ck_assert_int_eq(store_probe_list(s, "school-a", 100, &list, &n), 0);
        ck_assert_uint_eq(n, 2);
        free(list);

        /* relaxed inside a durable group is durable */
        ck_assert_int_eq(store_begin(s), 0);
        ck_assert_int_eq(store_begin_relaxed(s), 0);
        ck_assert_int_eq(test_sql_int(s->db, "PRAGMA synchronous"), 2);
        ck_assert_int_eq(store_commit(s), 0);
        ck_assert_int_eq(store_commit(s), 0);

        /* and the rows survive a restart */
        test_store_reopen(&t);
        ck_assert_int_eq(store_probe_list(t.store, "district", 100, &list, &n), 0);
        ck_assert_uint_eq(n, 5);
        free(list);
        test_store_teardown(&t);
}
END_TEST

/* Pruning and listing one link's history walks the (link, time) index:
 * the cost is bounded by the history limit, not by the number of links. */
static void expect_plan_uses_index_named(sqlite3 *db, const char *index, const char *sql) {
        _cleanup_free_ char *q = NULL;
        ck_assert_int_ge(asprintf(&q, "EXPLAIN QUERY PLAN %s", sql), 0);
        sqlite3_stmt *st = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
        StrBuf plan = STRBUF_NULL;
        while (sqlite3_step(st) == SQLITE_ROW) {
                strbuf_puts(&plan, (const char *) sqlite3_column_text(st, 3));
                strbuf_putc(&plan, '\n');
        }
        sqlite3_finalize(st);
        ck_assert_msg(strstr(plan.data, index), "%s:\n%s", sql, plan.data);
        ck_assert_msg(!strstr(plan.data, "USE TEMP B-TREE"), "%s sorts:\n%s", sql, plan.data);
        ck_assert_msg(!strstr(plan.data, "SCAN probe\n"), "%s scans:\n%s", sql, plan.data);
        strbuf_done(&plan);
}

static void expect_plan_uses_index(sqlite3 *db, const char *sql) {
        expect_plan_uses_index_named(db, "probe_link_time", sql);
}

START_TEST(test_probe_history_scales) {
        TestStore t;
        test_store_setup(&t, "state");
        ck_assert_int_eq(test_store_open(&t), 0);
        enum { LINKS = 2000, EACH = 20 };
        char link[32];

        ck_assert_int_eq(store_begin(t.store), 0);
        for (unsigned l = 0; l < LINKS; l++)
                for (unsigned i = 0; i < EACH; i++) {
                        ProbeResult r = probe(PROBE_OK, TEST_NOW + i * USEC_PER_MINUTE);
                        snprintf(link, sizeof link, "link-%u", l);
                        check_loop(store_probe_append(t.store, link, &r, EACH) == 0, "append");
                }
        ck_assert_int_eq(store_commit(t.store), 0);
        sqlite3 *raw = test_db_open(&t);
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM probe"), LINKS * EACH);
        expect_plan_uses_index(raw, "DELETE FROM probe WHERE id IN (SELECT id FROM probe WHERE link = 'link-7' "
                                    "ORDER BY time DESC, id DESC LIMIT -1 OFFSET 20)");
        expect_plan_uses_index(raw, "SELECT time FROM probe WHERE link = 'link-7' ORDER BY time DESC, id DESC LIMIT 10");

        /* appends at the limit across all links: each prunes one row */
        usec_t start = now_usec(CLOCK_MONOTONIC);
        ck_assert_int_eq(store_begin(t.store), 0);
        for (unsigned l = 0; l < LINKS; l++) {
                ProbeResult r = probe(PROBE_OK, TEST_NOW + USEC_PER_DAY);
                snprintf(link, sizeof link, "link-%u", l);
                check_loop(store_probe_append(t.store, link, &r, EACH) == 0, "append");
        }
        ck_assert_int_eq(store_commit(t.store), 0);
        double per = (double) (now_usec(CLOCK_MONOTONIC) - start) / LINKS;
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM probe"), LINKS * EACH);
        fprintf(stderr, "probe append with pruning at %d links: %.1f us each\n", LINKS, per);
        sqlite3_close(raw);
        test_store_teardown(&t);
}
END_TEST

/* What start-up reads in one query per table instead of several per link. */
START_TEST(test_bulk_reads) {
        TestStore t;
        test_store_setup(&t, "state");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;

        /* counters, sorted by link */
        LinkCountersEntry *c = NULL;
        size_t n = 0;
        ck_assert_int_eq(store_counters_list(s, &c, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(c);
        const char *links[] = { "school-a", "district", "b-link" };
        for (unsigned i = 0; i < ELEMENTSOF(links); i++) {
                LinkCounters x = { .failures = i, .auth_failures = 10 + i, .last_probe = TEST_NOW + i, .last_ok = TEST_NOW - i };
                ck_assert_int_eq(store_counters_put(s, links[i], &x), 0);
        }
        ck_assert_int_eq(store_counters_list(s, &c, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(c[0].link, "b-link");
        ck_assert_uint_eq(c[0].counters.failures, 2);
        ck_assert_uint_eq(c[0].counters.auth_failures, 12);
        ck_assert_uint_eq(c[0].counters.last_probe, TEST_NOW + 2);
        ck_assert_uint_eq(c[0].counters.last_ok, TEST_NOW - 2);
        ck_assert_str_eq(c[1].link, "district");
        ck_assert_str_eq(c[2].link, "school-a");
        ck_assert_uint_eq(c[2].counters.failures, 0);
        link_counters_entry_array_free(c, n);

        /* the ledger, one kind at a time, sorted by link, scope, threshold */
        ck_assert_int_eq(store_ledger_record(s, "school-a", ALERT_CREDENTIAL_EXPIRING, "gen:4", 7, TEST_NOW + 1), 0);
        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:3", 30, TEST_NOW + 2), 0);
        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_CREDENTIAL_EXPIRING, "gen:3", 14, TEST_NOW + 3), 0);
        ck_assert_int_eq(store_ledger_record(s, "district", ALERT_CREDENTIAL_EXPIRED, "gen:3", -1, TEST_NOW + 4), 0);
        ck_assert_int_eq(store_ledger_record(s, NULL, ALERT_MAIL_UNDELIVERABLE, "mail:<1@x>", -1, TEST_NOW + 5), 0);
        LedgerRecord *l = NULL;
        ck_assert_int_eq(store_ledger_list(s, ALERT_CREDENTIAL_EXPIRING, &l, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(l[0].link, "district");
        ck_assert_str_eq(l[0].scope, "gen:3");
        ck_assert_int_eq(l[0].threshold, 14);
        ck_assert_uint_eq(l[0].time, TEST_NOW + 3);
        ck_assert_int_eq(l[0].kind, ALERT_CREDENTIAL_EXPIRING);
        ck_assert_int_eq(l[1].threshold, 30);
        ck_assert_str_eq(l[2].link, "school-a");
        ck_assert_int_eq(l[2].threshold, 7);
        ledger_record_array_free(l, n);
        ck_assert_int_eq(store_ledger_list(s, ALERT_CREDENTIAL_EXPIRED, &l, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(l[0].threshold, -1);
        ck_assert_uint_eq(l[0].time, TEST_NOW + 4);
        ledger_record_array_free(l, n);
        ck_assert_int_eq(store_ledger_list(s, ALERT_MAIL_UNDELIVERABLE, &l, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_ptr_null(l[0].link);
        ck_assert_str_eq(l[0].scope, "mail:<1@x>");
        ledger_record_array_free(l, n);
        ck_assert_int_eq(store_ledger_list(s, ALERT_LINK_DOWN, &l, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(l);
        ck_assert_int_eq(store_ledger_list(s, _ALERT_KIND_INVALID, &l, &n), -EINVAL);

        /* the newest result, and the newest certificate reading */
        ProbeResult last, cert;
        ck_assert_int_eq(store_probe_latest(s, "district", &last, &cert), -ENOENT);
        for (unsigned i = 0; i < 10; i++) {
                ProbeResult r = probe(i == 9 ? PROBE_TIMEOUT : PROBE_OK, TEST_NOW + i * USEC_PER_MINUTE);
                if (i != 6) {   /* a reused connection reads no certificate */
                        r.cert_not_after = 0;
                        r.cert_subject[0] = r.cert_sha256[0] = 0;
                }
                ck_assert_int_eq(store_probe_add(s, "district", &r), 0);
        }
        ck_assert_int_eq(store_probe_latest(s, "district", &last, &cert), 0);
        ck_assert_uint_eq(last.time, TEST_NOW + 9 * USEC_PER_MINUTE);
        ck_assert_int_eq(last.klass, PROBE_TIMEOUT);
        ck_assert_str_eq(last.error, "Failed to connect");
        ck_assert_uint_eq(cert.time, TEST_NOW + 6 * USEC_PER_MINUTE);
        ck_assert_str_eq(cert.cert_subject, "CN=toms.example");
        ck_assert_uint_eq(strlen(cert.cert_sha256), 64);
        ck_assert_uint_eq(cert.cert_not_after, TEST_NOW + 90 * USEC_PER_DAY);
        ck_assert_int_eq(store_probe_latest(s, "district", NULL, &cert), 0);
        ck_assert_uint_eq(cert.time, TEST_NOW + 6 * USEC_PER_MINUTE);
        ck_assert_int_eq(store_probe_latest(s, "district", &last, NULL), 0);
        ck_assert_uint_eq(last.time, TEST_NOW + 9 * USEC_PER_MINUTE);
        ck_assert_int_eq(store_probe_latest(s, NULL, &last, NULL), -EINVAL);
        /* a link that never read a certificate */
        ProbeResult plain = probe(PROBE_CONNECT, TEST_NOW);
        plain.cert_not_after = 0;
        plain.cert_subject[0] = plain.cert_sha256[0] = 0;
        ck_assert_int_eq(store_probe_add(s, "school-a", &plain), 0);
        ck_assert_int_eq(store_probe_latest(s, "school-a", &last, &cert), 0);
        ck_assert_int_eq(last.klass, PROBE_CONNECT);
        ck_assert_str_eq(cert.cert_sha256, "");
        ck_assert_uint_eq(cert.cert_not_after, 0);

        /* each is one lookup in an index: no sorting, no scan */
        sqlite3 *raw = test_db_open(&t);
        expect_plan_uses_index(raw, "SELECT time FROM probe WHERE link = 'district' ORDER BY time DESC, id DESC LIMIT 1");
        expect_plan_uses_index_named(raw, "probe_cert",
                                     "SELECT time FROM probe WHERE link = 'district' AND cert_sha256 != '' AND "
                                     "cert_not_after != 0 ORDER BY time DESC, id DESC LIMIT 1");
        sqlite3_close(raw);

        /* and survive a restart */
        test_store_reopen(&t);
        ck_assert_int_eq(store_counters_list(t.store, &c, &n), 0);
        ck_assert_uint_eq(n, 3);
        link_counters_entry_array_free(c, n);
        test_store_teardown(&t);
}
END_TEST

/* Probe history and counters are written with synchronous=NORMAL, the
 * rest with FULL. */
START_TEST(test_durability_levels) {
        TestStore t;
        test_store_setup(&t, "state");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        ProbeResult r = probe(PROBE_OK, TEST_NOW);
        LinkCounters c = {};
        Silence x = { .link = (char *) "district", .until = TEST_NOW + 1 };

        ck_assert_int_eq(test_sql_int(s->db, "PRAGMA synchronous"), 2);
        ck_assert_int_eq(store_probe_append(s, "district", &r, 0), 0);
        ck_assert_int_eq(test_sql_int(s->db, "PRAGMA synchronous"), 1);
        ck_assert_int_eq(store_silence_set(s, &x), 0);
        ck_assert_int_eq(test_sql_int(s->db, "PRAGMA synchronous"), 2);
        ck_assert_int_eq(store_counters_put(s, "district", &c), 0);
        ck_assert_int_eq(test_sql_int(s->db, "PRAGMA synchronous"), 1);
        ck_assert_int_eq(store_credential_set(s, "district", "u", "s", 1, TEST_NOW, 0, NULL), 0);
        ck_assert_int_eq(test_sql_int(s->db, "PRAGMA synchronous"), 2);
        ck_assert_int_eq(test_sql_int(s->db, "PRAGMA secure_delete"), 1);
        ck_assert_int_eq(test_sql_int(s->db, "PRAGMA foreign_keys"), 1);
        /* a batch begun by the caller is durable, whatever is inside */
        ck_assert_int_eq(store_begin(s), 0);
        ck_assert_int_eq(store_probe_append(s, "district", &r, 0), 0);
        ck_assert_int_eq(test_sql_int(s->db, "PRAGMA synchronous"), 2);
        ck_assert_int_eq(store_commit(s), 0);
        test_store_teardown(&t);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("store-state");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_ledger, test_problems, test_counters, test_alert_log, test_alert_log_bounded, test_silences,
                  test_probe_history, test_probe_history_add_prune, test_probe_history_scales, test_bulk_reads,
                  test_durability_levels);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
