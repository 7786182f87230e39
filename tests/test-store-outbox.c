/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mail outbox: queueing, due messages, attempts, per-recipient
 * outcomes, finishing and pruning. */
#include "store-test.h"

static char *const two[] = { (char *) "it-alerts@example.org", (char *) "school-it@example.org", NULL };
static char *const one[] = { (char *) "it-alerts@example.org", NULL };

static int64_t add(Store *s, const char *message_id, usec_t created, char *const *rcpt) {
        int64_t id = 0;
        ck_assert_int_eq(store_outbox_add(s, message_id, "district", ALERT_LINK_DOWN, "[tomslink] district: down",
                                          "Subject: x\r\n\r\nbody\r\n", rcpt, created, &id),
                         0);
        ck_assert_int_gt(id, 0);
        return id;
}

START_TEST(test_add_get) {
        TestStore t;
        test_store_setup(&t, "outbox");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        OutboxMessage m;
        char *const dup[] = { (char *) "a@example.org", (char *) "b@example.org", (char *) "a@example.org", NULL };

        ck_assert_int_eq(store_outbox_get(s, 1, &m), -ENOENT);
        int64_t id = add(s, "<1@tomslink>", TEST_NOW, two);
        ck_assert_int_eq(store_outbox_get(s, id, &m), 0);
        ck_assert_int_eq(m.id, id);
        ck_assert_str_eq(m.message_id, "<1@tomslink>");
        ck_assert_str_eq(m.link, "district");
        ck_assert_int_eq(m.kind, ALERT_LINK_DOWN);
        ck_assert_str_eq(m.subject, "[tomslink] district: down");
        ck_assert_str_eq(m.data, "Subject: x\r\n\r\nbody\r\n");
        ck_assert_uint_eq(m.created, TEST_NOW);
        ck_assert_uint_eq(m.next_attempt, TEST_NOW);   /* due at once */
        ck_assert_uint_eq(m.attempts, 0);
        ck_assert_ptr_null(m.last_error);
        ck_assert_int_eq(m.state, OUTBOX_PENDING);
        ck_assert_uint_eq(m.finished, 0);
        ck_assert_uint_eq(m.n_recipients, 2);
        ck_assert_str_eq(m.recipients[0].address, "it-alerts@example.org");
        ck_assert_str_eq(m.recipients[1].address, "school-it@example.org");
        ck_assert_int_eq(m.recipients[0].state, RECIPIENT_PENDING);
        ck_assert_ptr_null(m.recipients[1].error);
        outbox_message_done(&m);
        outbox_message_done(&m);        /* idempotent */

        /* a Message-ID is queued once */
        int64_t other = 4242;
        ck_assert_int_eq(store_outbox_add(s, "<1@tomslink>", NULL, ALERT_LINK_DOWN, "s", "d", one, TEST_NOW, &other),
                         -EEXIST);
        ck_assert_int_eq(other, 4242);
        unsigned n = 0;
        ck_assert_int_eq(store_outbox_count(s, OUTBOX_PENDING, &n), 0);
        ck_assert_uint_eq(n, 1);

        /* ids increase in queue order; no link; a recipient twice gets one copy */
        int64_t id2 = 0;
        ck_assert_int_eq(store_outbox_add(s, "<2@tomslink>", NULL, ALERT_MAIL_UNDELIVERABLE, "lost", "d", dup,
                                          TEST_NOW - 10, &id2),
                         0);
        ck_assert_int_gt(id2, id);
        ck_assert_int_eq(store_outbox_get(s, id2, &m), 0);
        ck_assert_ptr_null(m.link);
        ck_assert_int_eq(m.kind, ALERT_MAIL_UNDELIVERABLE);
        ck_assert_uint_eq(m.n_recipients, 2);
        ck_assert_str_eq(m.recipients[1].address, "b@example.org");
        outbox_message_done(&m);

        /* refused */
        char *const none[] = { NULL };
        char *const empty[] = { (char *) "", NULL };
        ck_assert_int_eq(store_outbox_add(s, "<3@tomslink>", NULL, ALERT_LINK_DOWN, "s", "d", none, TEST_NOW, NULL),
                         -EINVAL);
        ck_assert_int_eq(store_outbox_add(s, "<3@tomslink>", NULL, ALERT_LINK_DOWN, "s", "d", NULL, TEST_NOW, NULL),
                         -EINVAL);
        ck_assert_int_eq(store_outbox_add(s, "<3@tomslink>", NULL, ALERT_LINK_DOWN, "s", "d", empty, TEST_NOW, NULL),
                         -EINVAL);
        ck_assert_int_eq(store_outbox_add(s, "", NULL, ALERT_LINK_DOWN, "s", "d", one, TEST_NOW, NULL), -EINVAL);
        ck_assert_int_eq(store_outbox_add(s, "<3@tomslink>", NULL, _ALERT_KIND_INVALID, "s", "d", one, TEST_NOW, NULL),
                         -EINVAL);
        ck_assert_int_eq(store_outbox_add(s, "<3@tomslink>", NULL, ALERT_LINK_DOWN, NULL, "d", one, TEST_NOW, NULL),
                         -EINVAL);

        /* durable: there after a restart */
        test_store_reopen(&t);
        ck_assert_int_eq(store_outbox_count(t.store, OUTBOX_PENDING, &n), 0);
        ck_assert_uint_eq(n, 2);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_due) {
        TestStore t;
        test_store_setup(&t, "outbox");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        OutboxMessage *due = NULL;
        size_t n = 0;
        usec_t next = 0;

        ck_assert_int_eq(store_outbox_next_due(s, &next), -ENOENT);
        ck_assert_int_eq(store_outbox_due(s, TEST_NOW, 10, &due, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(due);

        int64_t a = add(s, "<a@t>", TEST_NOW + 30, one);
        int64_t b = add(s, "<b@t>", TEST_NOW + 10, two);
        int64_t c = add(s, "<c@t>", TEST_NOW + 20, one);

        ck_assert_int_eq(store_outbox_next_due(s, &next), 0);
        ck_assert_uint_eq(next, TEST_NOW + 10);
        ck_assert_int_eq(store_outbox_due(s, TEST_NOW + 5, 10, &due, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(due);
        ck_assert_int_eq(store_outbox_due(s, TEST_NOW + 20, 10, &due, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(due[0].id, b);         /* oldest (queued first) first */
        ck_assert_int_eq(due[1].id, c);
        ck_assert_uint_eq(due[0].n_recipients, 2);
        ck_assert_str_eq(due[0].recipients[1].address, "school-it@example.org");
        outbox_message_array_free(due, n);
        ck_assert_int_eq(store_outbox_due(s, TEST_NOW + 100, 10, &due, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_int_eq(due[0].id, a);
        ck_assert_int_eq(due[2].id, c);
        outbox_message_array_free(due, n);
        ck_assert_int_eq(store_outbox_due(s, TEST_NOW + 100, 1, &due, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(due[0].id, a);
        outbox_message_array_free(due, n);

        /* a failed attempt: counted, the error kept, due again later */
        ck_assert_int_eq(store_outbox_attempt_failed(s, b, TEST_NOW + 600, "451 4.3.0 Try again later"), 0);
        ck_assert_int_eq(store_outbox_attempt_failed(s, b, TEST_NOW + 1200, "Couldn't connect to server"), 0);
        OutboxMessage m;
        ck_assert_int_eq(store_outbox_get(s, b, &m), 0);
        ck_assert_uint_eq(m.attempts, 2);
        ck_assert_uint_eq(m.next_attempt, TEST_NOW + 1200);
        ck_assert_str_eq(m.last_error, "Couldn't connect to server");
        ck_assert_int_eq(m.state, OUTBOX_PENDING);
        outbox_message_done(&m);
        ck_assert_int_eq(store_outbox_due(s, TEST_NOW + 100, 10, &due, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(due[0].id, a);
        ck_assert_int_eq(due[1].id, c);
        outbox_message_array_free(due, n);
        ck_assert_int_eq(store_outbox_next_due(s, &next), 0);
        ck_assert_uint_eq(next, TEST_NOW + 20);

        /* finished messages are not due; the next due moves on */
        ck_assert_int_eq(store_outbox_finish(s, a, OUTBOX_DELIVERED, TEST_NOW + 40, NULL), 0);
        ck_assert_int_eq(store_outbox_finish(s, c, OUTBOX_FAILED, TEST_NOW + 41, "550 5.1.1 No such user"), 0);
        ck_assert_int_eq(store_outbox_next_due(s, &next), 0);
        ck_assert_uint_eq(next, TEST_NOW + 1200);
        ck_assert_int_eq(store_outbox_due(s, USEC_INFINITY, 10, &due, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(due[0].id, b);
        outbox_message_array_free(due, n);

        ck_assert_int_eq(store_outbox_attempt_failed(s, 999, TEST_NOW, "x"), -ENOENT);
        ck_assert_int_eq(store_outbox_attempt_failed(s, a, TEST_NOW, "x"), -EALREADY);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_recipients_finish) {
        TestStore t;
        test_store_setup(&t, "outbox");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        OutboxMessage m;
        unsigned n = 0;

        int64_t id = add(s, "<r@t>", TEST_NOW, two);
        ck_assert_int_eq(store_outbox_recipient_done(s, id, "it-alerts@example.org", RECIPIENT_DELIVERED, NULL), 0);
        ck_assert_int_eq(store_outbox_recipient_done(s, id, "school-it@example.org", RECIPIENT_REFUSED,
                                                     "550 5.1.1 No such user"),
                         0);
        ck_assert_int_eq(store_outbox_recipient_done(s, id, "nobody@example.org", RECIPIENT_DELIVERED, NULL), -ENOENT);
        ck_assert_int_eq(store_outbox_recipient_done(s, 999, "it-alerts@example.org", RECIPIENT_DELIVERED, NULL), -ENOENT);
        ck_assert_int_eq(store_outbox_recipient_done(s, id, "it-alerts@example.org", _RECIPIENT_STATE_INVALID, NULL),
                         -EINVAL);
        ck_assert_int_eq(store_outbox_recipient_done(s, id, "it-alerts@example.org", _RECIPIENT_STATE_MAX, NULL), -EINVAL);

        /* survives a restart: a retry after a crash skips who already has it */
        test_store_reopen(&t);
        s = t.store;
        ck_assert_int_eq(store_outbox_get(s, id, &m), 0);
        ck_assert_int_eq(m.recipients[0].state, RECIPIENT_DELIVERED);
        ck_assert_ptr_null(m.recipients[0].error);
        ck_assert_int_eq(m.recipients[1].state, RECIPIENT_REFUSED);
        ck_assert_str_eq(m.recipients[1].error, "550 5.1.1 No such user");
        outbox_message_done(&m);

        ck_assert_int_eq(store_outbox_finish(s, id, OUTBOX_PENDING, TEST_NOW, NULL), -EINVAL);
        ck_assert_int_eq(store_outbox_finish(s, id, _OUTBOX_STATE_INVALID, TEST_NOW, NULL), -EINVAL);
        ck_assert_int_eq(store_outbox_finish(s, 999, OUTBOX_DELIVERED, TEST_NOW, NULL), -ENOENT);
        ck_assert_int_eq(store_outbox_finish(s, id, OUTBOX_DELIVERED, TEST_NOW + 5, NULL), 0);
        ck_assert_int_eq(store_outbox_finish(s, id, OUTBOX_FAILED, TEST_NOW + 6, "late"), -EALREADY);
        ck_assert_int_eq(store_outbox_get(s, id, &m), 0);
        ck_assert_int_eq(m.state, OUTBOX_DELIVERED);
        ck_assert_uint_eq(m.finished, TEST_NOW + 5);
        ck_assert_ptr_null(m.last_error);
        outbox_message_done(&m);

        /* a failure keeps the reason; without one the last error stays */
        int64_t f = add(s, "<f@t>", TEST_NOW, one);
        ck_assert_int_eq(store_outbox_attempt_failed(s, f, TEST_NOW + 60, "421 shutting down"), 0);
        ck_assert_int_eq(store_outbox_finish(s, f, OUTBOX_FAILED, TEST_NOW + USEC_PER_DAY, NULL), 0);
        ck_assert_int_eq(store_outbox_get(s, f, &m), 0);
        ck_assert_int_eq(m.state, OUTBOX_FAILED);
        ck_assert_str_eq(m.last_error, "421 shutting down");
        outbox_message_done(&m);
        int64_t g = add(s, "<g@t>", TEST_NOW, one);
        ck_assert_int_eq(store_outbox_finish(s, g, OUTBOX_FAILED, TEST_NOW + 1, "every recipient refused"), 0);
        ck_assert_int_eq(store_outbox_get(s, g, &m), 0);
        ck_assert_str_eq(m.last_error, "every recipient refused");
        outbox_message_done(&m);

        ck_assert_int_eq(store_outbox_count(s, OUTBOX_PENDING, &n), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(store_outbox_count(s, OUTBOX_DELIVERED, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(store_outbox_count(s, OUTBOX_FAILED, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(store_outbox_count(s, _OUTBOX_STATE_MAX, &n), -EINVAL);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_prune) {
        TestStore t;
        test_store_setup(&t, "outbox");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        unsigned n = 0;

        int64_t old_done = add(s, "<1@t>", TEST_NOW, two);
        int64_t old_failed = add(s, "<2@t>", TEST_NOW, one);
        int64_t recent = add(s, "<3@t>", TEST_NOW, one);
        int64_t pending = add(s, "<4@t>", TEST_NOW - 30 * USEC_PER_DAY, one);
        ck_assert_int_eq(store_outbox_finish(s, old_done, OUTBOX_DELIVERED, TEST_NOW + 1, NULL), 0);
        ck_assert_int_eq(store_outbox_finish(s, old_failed, OUTBOX_FAILED, TEST_NOW + 2, "x"), 0);
        ck_assert_int_eq(store_outbox_finish(s, recent, OUTBOX_DELIVERED, TEST_NOW + 10 * USEC_PER_DAY, NULL), 0);

        ck_assert_int_eq(store_outbox_prune(s, TEST_NOW + 1), 0);      /* strictly older */
        ck_assert_int_eq(store_outbox_prune(s, TEST_NOW + USEC_PER_DAY), 2);
        ck_assert_int_eq(store_outbox_get(s, old_done, NULL), -ENOENT);
        ck_assert_int_eq(store_outbox_get(s, old_failed, NULL), -ENOENT);
        ck_assert_int_eq(store_outbox_get(s, recent, NULL), 0);
        ck_assert_int_eq(store_outbox_get(s, pending, NULL), 0);       /* pending: never pruned */
        ck_assert_int_eq(store_outbox_count(s, OUTBOX_PENDING, &n), 0);
        ck_assert_uint_eq(n, 1);

        /* their recipients went with them */
        sqlite3 *raw = test_db_open(&t);
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM outbox_recipient"), 2);
        sqlite3_close(raw);

        /* a pruned Message-ID may be queued again; ids never go back */
        int64_t again = add(s, "<1@t>", TEST_NOW + USEC_PER_DAY, one);
        ck_assert_int_gt(again, pending);
        test_store_teardown(&t);
}
END_TEST

/* A value the code does not know is an error, not a crash or a guess. */
START_TEST(test_corrupt_rows) {
        TestStore t;
        test_store_setup(&t, "outbox");
        ck_assert_int_eq(test_store_open(&t), 0);
        OutboxMessage m = {};
        int64_t id = add(t.store, "<1@t>", TEST_NOW, one);

        sqlite3 *raw = test_db_open(&t);
        test_sql(raw, "UPDATE outbox SET kind = 'no-such-kind'");
        ck_assert_int_eq(store_outbox_get(t.store, id, &m), -EBADMSG);
        test_sql(raw, "UPDATE outbox SET kind = 'link-down'; PRAGMA ignore_check_constraints = ON; "
                      "UPDATE outbox_recipient SET state = 'lost'");
        ck_assert_int_eq(store_outbox_get(t.store, id, &m), -EBADMSG);
        test_sql(raw, "UPDATE outbox_recipient SET state = 'pending'");
        ck_assert_int_eq(store_outbox_get(t.store, id, &m), 0);
        outbox_message_done(&m);
        sqlite3_close(raw);
        test_store_teardown(&t);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("store-outbox");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_add_get, test_due, test_recipients_finish, test_prune, test_corrupt_rows);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
