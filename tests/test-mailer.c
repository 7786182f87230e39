/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mail delivery loop: the backoff schedule, the 24-hour give-up and a
 * stepped wall clock with a fake clock against a relay that is down
 * (test case "unit"); and against real relays (test case "servers"):
 * every alert delivered once and in order across a SIGKILL while the relay
 * is down, recipients refused and deferred, test-email, shutdown with an
 * attempt in flight, reload, and the password kept out of the outbox. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <openssl/evp.h>

#include "eml.h"
#include "mailer.h"
#include "servers.h"
#include "store-test.h"
#include "strv.h"

#define USER "tomslink@example.org"
#define PASSWORD "Pw-4d2e91b7-Secret"
#define HOSTNAME "mailtest.example"

/* ---- the harness: a mailer on an event loop, every event recorded ---------- */

typedef struct Recorded {
        MailerEventType type;
        int64_t id;
        unsigned attempts;
        usec_t next_attempt;
        usec_t when;            /* the Clock's wall time when it came */
        bool given_up;
        char *text;
        char *recipient;
} Recorded;

typedef struct Harness {
        TestStore t;
        sd_event *event;
        CurlGlue *glue;
        Config *config;
        Mailer *mailer;
        StrBuf log;             /* what the mailer and the SMTP client logged */
        Logger logger;
        Recorded events[256];
        size_t n_events;
        unsigned undeliverable;
        Alert undeliverable_alert;
        int64_t undeliverable_id;       /* the mail-undeliverable queued by the callback */
        unsigned tests_done;
        int test_error;
        SmtpResult test_result;
} Harness;

static void capture_log(void *userdata, int priority, const char *message) {
        Harness *h = userdata;
        ck_assert_int_eq(priority, LOG_DEBUG);
        strbuf_puts(&h->log, message);
        strbuf_putc(&h->log, '\n');
}

static void on_event(Mailer *m, const MailerEvent *e, void *userdata) {
        Harness *h = userdata;
        ck_assert_ptr_eq(m, h->mailer);
        ck_assert_uint_lt(h->n_events, ELEMENTSOF(h->events));
        h->events[h->n_events++] = (Recorded) {
                .type = e->type,
                .id = e->id,
                .attempts = e->attempts,
                .next_attempt = e->next_attempt,
                .when = clock_realtime(h->t.clock),
                .given_up = e->given_up,
                .text = e->text ? strdup(e->text) : NULL,
                .recipient = e->recipient ? strdup(e->recipient) : NULL,
        };
}

/* As the daemon does: to the journal (here: kept) and queued as e-mail. */
static void on_undeliverable(Mailer *m, const Alert *a, void *userdata) {
        Harness *h = userdata;
        h->undeliverable++;
        alert_done(&h->undeliverable_alert);
        ck_assert_int_eq(alert_copy(&h->undeliverable_alert, a), 0);
        ck_assert_int_eq(mailer_queue_alert(m, a, NULL, &h->undeliverable_id), 1);
}

static void on_test_done(Mailer *m, int error, const SmtpResult *result, void *userdata) {
        Harness *h = userdata;
        h->tests_done++;
        h->test_error = error;
        smtp_result_done(&h->test_result);
        if (result)
                ck_assert_int_eq(smtp_result_copy(&h->test_result, result), 0);
}

static Config *config_from(const char *fmt, ...) _printf_(1, 2);
static Config *config_from(const char *fmt, ...) {
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        Config *c = NULL;
        va_list ap;
        va_start(ap, fmt);
        ck_assert_int_ge(vasprintf(&text, fmt, ap), 0);
        va_end(ap);
        int r = config_load_string("t.yaml", text, strlen(text), NULL, &c, &errors);
        STRV_FOREACH(e, errors)
                fprintf(stderr, "%s\n", *e);
        ck_assert_int_eq(r, 0);
        return c;
}

#define CONFIG_PLAIN                                                    \
        "timezone: America/Los_Angeles\n"                               \
        "email:\n"                                                      \
        "  smtp_url: smtp://127.0.0.1:%d\n"                             \
        "  starttls: off\n"                                             \
        "  from: \"TOMS link monitor <tomslink@example.org>\"\n"        \
        "  to: [it-alerts@example.org]\n"                               \
        "  timeout: 5s\n"                                               \
        "links:\n"                                                      \
        "  - name: district\n"                                          \
        "    url: https://toms.example/api/ping\n"                      \
        "    email_to: [school-it@example.org]\n"

static MailerCallbacks callbacks(Harness *h) {
        return (MailerCallbacks) { .event = on_event, .undeliverable = on_undeliverable, .userdata = h };
}

/* A store in a scratch directory, with a fake clock or the event loop's. */
static void harness_init(Harness *h, const char *name, bool fake_clock, Config *config) {
        *h = (Harness) { .undeliverable_alert = ALERT_NULL, .test_result = SMTP_RESULT_NULL };
        h->logger = (Logger) { .func = capture_log, .userdata = h };
        test_store_setup(&h->t, name);
        ck_assert_int_eq(curl_glue_global_init(), 0);
        ck_assert_int_eq(sd_event_new(&h->event), 0);
        if (!fake_clock) {
                clock_free(h->t.clock);
                ck_assert_int_eq(clock_new_system(h->event, &h->t.clock), 0);
        }
        ck_assert_int_eq(test_store_open(&h->t), 0);
        ck_assert_int_eq(curl_glue_new(h->event, NULL, NULL, &h->glue), 0);
        h->config = config;
}

static void harness_start(Harness *h, const char *password) {
        MailerCallbacks cb = callbacks(h);
        ck_assert_ptr_null(h->mailer);
        ck_assert_int_eq(mailer_new(h->glue, h->t.store, h->t.clock, h->config, password, HOSTNAME, &cb, &h->logger,
                                    &h->mailer),
                         0);
}

static void harness_done(Harness *h) {
        h->mailer = mailer_free(h->mailer);
        curl_glue_free(h->glue);
        test_store_teardown(&h->t);
        sd_event_unref(h->event);
        config_free(h->config);
        strbuf_done(&h->log);
        for (size_t i = 0; i < h->n_events; i++) {
                free(h->events[i].text);
                free(h->events[i].recipient);
        }
        alert_done(&h->undeliverable_alert);
        smtp_result_done(&h->test_result);
}

/* Runs the loop until cond holds; fails after max seconds. */
#define RUN_UNTIL(h, cond, max)                                                                         \
        do {                                                                                            \
                usec_t _start_ = now_usec(CLOCK_MONOTONIC);                                             \
                while (!(cond)) {                                                                       \
                        ck_assert_int_ge(sd_event_run((h)->event, 50 * USEC_PER_MSEC), 0);             \
                        ck_assert_msg(now_usec(CLOCK_MONOTONIC) - _start_ < (usec_t) ((max) * USEC_PER_SEC), \
                                      "not after %.1f s: %s", (double) (max), #cond);                  \
                }                                                                                       \
        } while (0)

/* Runs the loop for a while, whatever happens. */
static void run_for(Harness *h, usec_t d) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + d;
        while (now_usec(CLOCK_MONOTONIC) < end)
                ck_assert_int_ge(sd_event_run(h->event, 20 * USEC_PER_MSEC), 0);
}

static Alert expiring_alert(usec_t when) {
        Alert a = ALERT_NULL;
        a.kind = ALERT_CREDENTIAL_EXPIRING;
        a.link = (char *) "district";
        a.time = when;
        a.generation = 1;
        a.expires = when + 7 * USEC_PER_DAY;
        a.days_left = 7;
        a.threshold = 7;
        return a;
}

static int64_t queue(Harness *h) {
        Alert a = expiring_alert(clock_realtime(h->t.clock));
        int64_t id = 0;
        ck_assert_int_eq(mailer_queue_alert(h->mailer, &a, config_find_link(h->config, "district"), &id), 1);
        ck_assert_int_gt(id, 0);
        return id;
}

static const Recorded *last_event(const Harness *h) {
        ck_assert_uint_gt(h->n_events, 0);
        return &h->events[h->n_events - 1];
}

static unsigned count_events(const Harness *h, MailerEventType type) {
        unsigned n = 0;
        for (size_t i = 0; i < h->n_events; i++)
                n += h->events[i].type == type;
        return n;
}

#define ck_assert_has(h, n) ck_assert_msg((h) && strstr((h), (n)), "\"%s\" not found in: %s", (n), (h) ?: "(null)")

static sqlite3 *db_open(const Harness *h) {
        return test_db_open(&h->t);
}

static char *sqlf(sqlite3 *db, const char *fmt, ...) _printf_(2, 3);
static char *sqlf(sqlite3 *db, const char *fmt, ...) {
        _cleanup_free_ char *q = NULL;
        va_list ap;
        va_start(ap, fmt);
        ck_assert_int_ge(vasprintf(&q, fmt, ap), 0);
        va_end(ap);
        return test_sql_text(db, q);
}

static int64_t sqli(sqlite3 *db, const char *fmt, ...) _printf_(2, 3);
static int64_t sqli(sqlite3 *db, const char *fmt, ...) {
        _cleanup_free_ char *q = NULL;
        va_list ap;
        va_start(ap, fmt);
        ck_assert_int_ge(vasprintf(&q, fmt, ap), 0);
        va_end(ap);
        return test_sql_int(db, q);
}

/* ---- unit: the schedule ---------------------------------------------------- */

START_TEST(test_backoff) {
        const usec_t m = USEC_PER_MINUTE, h = USEC_PER_HOUR;
        const usec_t expected[] = { 1 * m, 2 * m, 4 * m, 8 * m, 16 * m, 32 * m, h, h, h };
        MailerTiming d = MAILER_TIMING_DEFAULT;

        ck_assert_uint_eq(d.backoff_base, m);
        ck_assert_uint_eq(d.backoff_max, h);
        ck_assert_uint_eq(d.give_up_after, 24 * h);
        ck_assert_uint_eq(d.keep_finished, 30 * 24 * h);

        for (unsigned i = 0; i < ELEMENTSOF(expected); i++) {
                usec_t e = expected[i];
                /* the middle of the random range is the plain doubling; its ends are ±20% */
                ck_assert_uint_eq(mailer_backoff(m, h, i + 1, UINT64_C(1) << 63), e);
                ck_assert_uint_eq(mailer_backoff(m, h, i + 1, 0), e - e / 5);
                ck_assert_uint_eq(mailer_backoff(m, h, i + 1, UINT64_MAX), e + e / 5);
        }
        ck_assert_uint_eq(mailer_backoff(m, h, 0, UINT64_C(1) << 63), m);
        ck_assert_uint_eq(mailer_backoff(m, h, 64, UINT64_C(1) << 63), h);
        ck_assert_uint_eq(mailer_backoff(m, h, UINT_MAX, UINT64_C(1) << 63), h);
        ck_assert_uint_eq(mailer_backoff(m, h, UINT_MAX, UINT64_MAX), h + h / 5);
        /* a short schedule for tests works alike */
        ck_assert_uint_eq(mailer_backoff(300 * USEC_PER_MSEC, 1200 * USEC_PER_MSEC, 3, UINT64_C(1) << 63),
                          1200 * USEC_PER_MSEC);

        /* jitter spreads over the whole ±20%, and never beyond */
        usec_t lo = UINT64_MAX, hi = 0;
        uint64_t x = 0x9e3779b97f4a7c15;
        unsigned below = 0;
        for (unsigned i = 0; i < 100000; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                usec_t b = mailer_backoff(m, h, 3, x);
                check_loop(b >= 4 * m - 4 * m / 5 && b <= 4 * m + 4 * m / 5, "backoff %" PRIu64 " out of bounds", b);
                lo = MIN(lo, b);
                hi = MAX(hi, b);
                below += b < 4 * m;
        }
        ck_assert_uint_lt(lo, 4 * m - 4 * m / 5 + USEC_PER_SEC);
        ck_assert_uint_gt(hi, 4 * m + 4 * m / 5 - USEC_PER_SEC);
        ck_assert_uint_gt(below, 45000);
        ck_assert_uint_lt(below, 55000);
}
END_TEST

START_TEST(test_arguments) {
        Harness h;
        harness_init(&h, "mailer-args", true, config_from(CONFIG_PLAIN, closed_port()));
        MailerCallbacks cb = callbacks(&h);
        Mailer *m = NULL;

        ck_assert_int_eq(mailer_new(NULL, h.t.store, h.t.clock, h.config, NULL, HOSTNAME, &cb, NULL, &m), -EINVAL);
        ck_assert_int_eq(mailer_new(h.glue, NULL, h.t.clock, h.config, NULL, HOSTNAME, &cb, NULL, &m), -EINVAL);
        ck_assert_ptr_null(m);

        /* AUTH configured without a password */
        _cleanup_(config_freep) Config *auth = config_from(
                "email:\n  smtp_url: smtps://mail.example.org\n  username: " USER "\n"
                "  from: tomslink@example.org\n  to: it@example.org\nlinks: []\n");
        ck_assert_int_eq(mailer_new(h.glue, h.t.store, h.t.clock, auth, NULL, HOSTNAME, &cb, NULL, &m), -ENOKEY);
        ck_assert_ptr_null(m);

        /* without an email: section: nothing is queued, no test message */
        _cleanup_(config_freep) Config *none = config_from("links: []\n");
        ck_assert_int_eq(mailer_new(h.glue, h.t.store, h.t.clock, none, NULL, HOSTNAME, &cb, NULL, &m), 0);
        Alert a = expiring_alert(TEST_NOW);
        ck_assert_int_eq(mailer_queue_alert(m, &a, NULL, NULL), 0);
        ck_assert_int_eq(mailer_test_email(m, on_test_done, &h), -ENOMEDIUM);
        ck_assert_int_eq(mailer_pending(m), 0);
        /* a reload that turns e-mail on; a failing one changes nothing */
        ck_assert_int_eq(mailer_set_config(m, auth, NULL), -ENOKEY);
        ck_assert_int_eq(mailer_queue_alert(m, &a, NULL, NULL), 0);
        ck_assert_int_eq(mailer_set_config(m, h.config, NULL), 0);
        /* a held alert (maintenance, silence) goes to the journal only */
        a.held = true;
        ck_assert_int_eq(mailer_queue_alert(m, &a, NULL, NULL), 0);
        a.held = false;
        ck_assert_int_eq(mailer_queue_alert(m, &a, NULL, NULL), 1);
        ck_assert_int_eq(mailer_pending(m), 1);
        ck_assert_int_eq(mailer_set_timing(m, &(MailerTiming) { .backoff_base = USEC_PER_HOUR,
                                                                .backoff_max = USEC_PER_MINUTE }),
                         -EINVAL);
        mailer_stop(m);
        ck_assert_int_eq(mailer_test_email(m, on_test_done, &h), -ESHUTDOWN);
        ck_assert(!mailer_busy(m));
        m = mailer_free(m);
        ck_assert_ptr_null(mailer_free(NULL));

        ck_assert_str_eq(mailer_event_type_to_string(MAILER_EVENT_RETRY), "retry");
        ck_assert_ptr_null(mailer_event_type_to_string(_MAILER_EVENT_TYPE_MAX));
        harness_done(&h);
}
END_TEST

/* ---- unit: a relay that is down, a fake clock -------------------------------- */

/* Queued means on disk: another connection sees the message before the
 * loop has run at all, and the relay being down changes nothing. */
START_TEST(test_queued_before_delivered) {
        Harness h;
        int port = closed_port();
        harness_init(&h, "mailer-queued", true, config_from(CONFIG_PLAIN, port));
        harness_start(&h, NULL);

        int64_t id = queue(&h);
        ck_assert(!mailer_busy(h.mailer));
        ck_assert_uint_eq(h.n_events, 0);
        sqlite3 *db = db_open(&h);
        ck_assert_int_eq(sqli(db, "SELECT count(*) FROM outbox WHERE id = %" PRIi64 " AND state = 'pending' "
                                  "AND attempts = 0 AND created = %" PRIu64, id, TEST_NOW), 1);
        _cleanup_free_ char *data = sqlf(db, "SELECT data FROM outbox WHERE id = %" PRIi64, id);
        _cleanup_free_ char *mid = sqlf(db, "SELECT message_id FROM outbox WHERE id = %" PRIi64, id);
        _cleanup_free_ char *hdr = NULL;
        ck_assert_int_ge(asprintf(&hdr, "\r\nMessage-ID: %s\r\n", mid), 0);
        ck_assert_has(data, hdr);
        ck_assert_has(data, "\r\nSubject: [tomslink] district: SIS credential expires in 7 days");
        _cleanup_free_ char *rcpt = sqlf(db, "SELECT group_concat(address || '=' || state, ' ') FROM "
                                             "(SELECT * FROM outbox_recipient WHERE outbox_id = %" PRIi64
                                             " ORDER BY position)", id);
        ck_assert_str_eq(rcpt, "it-alerts@example.org=pending school-it@example.org=pending");

        /* the first attempt fails: recorded, the next one about a minute later */
        RUN_UNTIL(&h, h.n_events >= 1, 10);
        const Recorded *e = last_event(&h);
        ck_assert_int_eq(e->type, MAILER_EVENT_RETRY);
        ck_assert_int_eq(e->id, id);
        ck_assert_uint_eq(e->attempts, 1);
        ck_assert_has(e->text, "Couldn't connect to server");
        ck_assert_uint_ge(e->next_attempt, TEST_NOW + 48 * USEC_PER_SEC);
        ck_assert_uint_le(e->next_attempt, TEST_NOW + 72 * USEC_PER_SEC);
        ck_assert_int_eq(sqli(db, "SELECT attempts FROM outbox WHERE id = %" PRIi64, id), 1);
        ck_assert_int_eq(sqli(db, "SELECT next_attempt FROM outbox WHERE id = %" PRIi64, id), (int64_t) e->next_attempt);
        _cleanup_free_ char *err = sqlf(db, "SELECT last_error FROM outbox WHERE id = %" PRIi64, id);
        ck_assert_has(err, "Couldn't connect to server");
        ck_assert_int_eq(mailer_pending(h.mailer), 1);

        /* nothing more until the time has come */
        run_for(&h, 200 * USEC_PER_MSEC);
        ck_assert_uint_eq(h.n_events, 1);
        sqlite3_close(db);
        harness_done(&h);
}
END_TEST

/* Drives the fake clock to each next attempt until the message ends;
 * returns the number of attempts made. */
static unsigned drive_until_finished(Harness *h, int64_t id, usec_t created) {
        const MailerTiming t = MAILER_TIMING_DEFAULT;
        unsigned attempts = 0;
        for (;;) {
                size_t before = h->n_events;
                mailer_kick(h->mailer);
                RUN_UNTIL(h, h->n_events > before, 10);
                const Recorded *e = last_event(h);
                ck_assert_int_eq(e->id, id);
                attempts++;
                if (e->type == MAILER_EVENT_FAILED) {
                        ck_assert(e->given_up);
                        /* given up when the 24 hours are over, not later */
                        ck_assert_uint_eq(e->when, created + t.give_up_after);
                        return attempts;
                }
                ck_assert_int_eq(e->type, MAILER_EVENT_RETRY);
                ck_assert_uint_eq(e->attempts, attempts);
                usec_t delay = e->next_attempt - e->when;
                usec_t full = mailer_backoff(t.backoff_base, t.backoff_max, attempts, UINT64_C(1) << 63);
                if (e->next_attempt == created + t.give_up_after)
                        ck_assert_uint_le(delay, full + full / 5);      /* the last one, cut short */
                else {
                        ck_assert_uint_ge(delay, full - full / 5);
                        ck_assert_uint_le(delay, full + full / 5);
                }
                /* not a moment before its time */
                clock_advance(h->t.clock, delay - USEC_PER_SEC);
                mailer_kick(h->mailer);
                run_for(h, 30 * USEC_PER_MSEC);
                ck_assert_uint_eq(h->n_events, before + 1);
                clock_advance(h->t.clock, USEC_PER_SEC);
        }
}

/* 24 hours of a relay that is down: retries on the backoff schedule, then
 * the message is given up and reported once as mail-undeliverable; that
 * one, undeliverable too, is given up without another report. */
START_TEST(test_give_up_after_24h) {
        Harness h;
        harness_init(&h, "mailer-give-up", true, config_from(CONFIG_PLAIN, closed_port()));
        harness_start(&h, NULL);

        int64_t id = queue(&h);
        unsigned attempts = drive_until_finished(&h, id, TEST_NOW);
        /* 1+2+4+8+16+32 minutes, then hourly (±20%), up to 24 hours */
        ck_assert_uint_ge(attempts, 20);
        ck_assert_uint_le(attempts, 40);
        ck_assert_uint_eq(h.undeliverable, 1);
        ck_assert_int_eq(h.undeliverable_alert.kind, ALERT_MAIL_UNDELIVERABLE);
        ck_assert_str_eq(h.undeliverable_alert.link, "district");
        ck_assert_str_eq(h.undeliverable_alert.mail_subject,
                         "[tomslink] district: SIS credential expires in 7 days (2026-01-07)");
        ck_assert_has(h.undeliverable_alert.mail_error, "Couldn't connect to server");
        ck_assert_uint_eq(h.undeliverable_alert.time, TEST_NOW + USEC_PER_DAY);

        /* the mail-undeliverable message: to email.to only, and when it
         * cannot be delivered either, no report about it */
        sqlite3 *db = db_open(&h);
        int64_t id2 = h.undeliverable_id;
        ck_assert_int_gt(id2, id);
        ck_assert_int_eq(sqli(db, "SELECT count(*) FROM outbox_recipient WHERE outbox_id = %" PRIi64, id2), 1);
        _cleanup_free_ char *kind = sqlf(db, "SELECT kind FROM outbox WHERE id = %" PRIi64, id2);
        ck_assert_str_eq(kind, "mail-undeliverable");
        drive_until_finished(&h, id2, TEST_NOW + USEC_PER_DAY);
        ck_assert_uint_eq(h.undeliverable, 1);
        ck_assert_uint_eq(count_events(&h, MAILER_EVENT_FAILED), 2);

        /* both marked failed, kept; nothing pending, nothing tried any more */
        ck_assert_int_eq(sqli(db, "SELECT count(*) FROM outbox WHERE state = 'failed' AND finished > 0"), 2);
        ck_assert_int_eq(mailer_pending(h.mailer), 0);
        size_t n = h.n_events;
        clock_advance(h.t.clock, 2 * USEC_PER_DAY);
        mailer_kick(h.mailer);
        run_for(&h, 100 * USEC_PER_MSEC);
        ck_assert_uint_eq(h.n_events, n);
        ck_assert_int_eq(sqli(db, "SELECT count(*) FROM outbox"), 2);

        /* finished messages are pruned after 30 days */
        clock_advance(h.t.clock, 30 * USEC_PER_DAY);
        queue(&h);
        RUN_UNTIL(&h, h.n_events > n, 10);
        ck_assert_int_eq(sqli(db, "SELECT count(*) FROM outbox"), 1);
        sqlite3_close(db);
        harness_done(&h);
}
END_TEST

/* The wall clock stepped forward does not bring retries sooner; stepped
 * back, it does not stall them, not even across a restart. */
START_TEST(test_stepped_clock) {
        Harness h;
        harness_init(&h, "mailer-step", true, config_from(CONFIG_PLAIN, closed_port()));
        harness_start(&h, NULL);

        int64_t id = queue(&h);
        RUN_UNTIL(&h, h.n_events == 1, 10);
        usec_t wait1 = last_event(&h)->next_attempt - TEST_NOW;

        /* three hours forward: still one attempt per backoff */
        clock_set_realtime(h.t.clock, clock_realtime(h.t.clock) + 3 * USEC_PER_HOUR);
        mailer_kick(h.mailer);
        run_for(&h, 100 * USEC_PER_MSEC);
        ck_assert_uint_eq(h.n_events, 1);
        clock_advance(h.t.clock, wait1);
        mailer_kick(h.mailer);
        RUN_UNTIL(&h, h.n_events == 2, 10);
        ck_assert_int_eq(last_event(&h)->type, MAILER_EVENT_RETRY);
        ck_assert_uint_eq(last_event(&h)->attempts, 2);
        usec_t wait2 = last_event(&h)->next_attempt - last_event(&h)->when;

        /* a day back: the retry comes after its backoff all the same */
        clock_set_realtime(h.t.clock, clock_realtime(h.t.clock) - USEC_PER_DAY);
        clock_advance(h.t.clock, wait2);
        mailer_kick(h.mailer);
        RUN_UNTIL(&h, h.n_events == 3, 10);
        ck_assert_uint_eq(last_event(&h)->attempts, 3);

        /* and a restart after another day back waits at most the longest backoff (72 min) */
        h.mailer = mailer_free(h.mailer);
        clock_set_realtime(h.t.clock, clock_realtime(h.t.clock) - USEC_PER_DAY);
        harness_start(&h, NULL);
        run_for(&h, 100 * USEC_PER_MSEC);
        ck_assert_uint_eq(h.n_events, 3);
        clock_advance(h.t.clock, 72 * USEC_PER_MINUTE);
        mailer_kick(h.mailer);
        RUN_UNTIL(&h, h.n_events == 4, 10);
        ck_assert_int_eq(last_event(&h)->id, id);
        ck_assert_uint_eq(last_event(&h)->attempts, 4);
        harness_done(&h);
}
END_TEST

/* ---- servers ---------------------------------------------------------------- */

static char *scratch;
static char ca_file[512], server_crt[512], server_key[512];

static void servers_setup(void) {
        scratch = scratch_new();
        pki_make(scratch);
        snprintf(ca_file, sizeof ca_file, "%s/ca.crt", scratch);
        snprintf(server_crt, sizeof server_crt, "%s/server.crt", scratch);
        snprintf(server_key, sizeof server_key, "%s/server.key", scratch);
}

static void servers_teardown(void) {
        scratch_remove(scratch);
        scratch = NULL;
}

static char *server_dir(const char *name) {
        char *d;
        ck_assert_int_ge(asprintf(&d, "%s/%s-%d", scratch, name, (int) getpid()), 0);
        return d;
}

static char *eml_path(const char *dir, unsigned n, const char *ext) {
        char *p;
        ck_assert_int_ge(asprintf(&p, "%s/%04u.%s", dir, n, ext), 0);
        return p;
}

/* The value of a header, as written (our headers are one line). */
static char *header_of(const char *data, const char *name) {
        _cleanup_free_ char *needle = NULL;
        ck_assert_int_ge(asprintf(&needle, "\r\n%s: ", name), 0);
        const char *p = data ? strstr(data, needle) : NULL;
        if (!p)
                return NULL;
        p += strlen(needle);
        return strndup(p, strcspn(p, "\r\n"));
}

static char *saved_message_id(const char *dir, unsigned n) {
        _cleanup_free_ char *p = eml_path(dir, n, "eml");
        _cleanup_free_ char *data = read_file_alloc(p);
        ck_assert_msg(data != NULL, "no %s", p);
        return header_of(data, "Message-ID");
}

static char *saved_rcpts(const char *dir, unsigned n) {
        _cleanup_free_ char *p = eml_path(dir, n, "json");
        _cleanup_free_ char *text = read_file_alloc(p);
        ck_assert_msg(text != NULL, "no %s", p);
        json_object *j = json_tokener_parse(text), *a;
        ck_assert(json_object_object_get_ex(j, "rcpt_tos", &a));
        StrBuf b = STRBUF_NULL;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                if (i > 0)
                        strbuf_putc(&b, ' ');
                strbuf_puts(&b, json_object_get_string(json_object_array_get_idx(a, i)));
        }
        json_object_put(j);
        return strbuf_steal(&b);
}

static unsigned count_in_file(const char *path, const char *needle) {
        _cleanup_free_ char *text = read_file_alloc(path);
        unsigned n = 0;
        for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* -- the fault test: mailer-run killed with SIGKILL while the relay is down -- */

static pid_t spawn_helper(char **argv, const char *log) {
        pid_t parent = getpid();
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static void dump(const char *path) {
        _cleanup_free_ char *text = read_file_alloc(path);
        if (text)
                fprintf(stderr, "---- %s\n%s----\n", path, text);
}

static sqlite3 *db_open_path(const char *state) {
        _cleanup_free_ char *path = scratch_path(state, STORE_FILE_NAME);
        sqlite3 *db = NULL;
        ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        return db;
}

/* 50 alerts queued while the relay is down; the process is killed with
 * SIGKILL halfway through queuing, while it retries; the relay comes
 * back, the process starts again: each of the 50 arrives once, in the
 * order raised. */
START_TEST(test_fault_sigkill) {
        const unsigned total = 50;
        _cleanup_free_ char *dir = server_dir("fault");
        char *work = scratch_dir_new("mailer-fault");
        _cleanup_free_ char *state = scratch_path(work, "state"), *cfg = scratch_path(work, "tomslink.yaml"),
                            *log1 = scratch_path(work, "run1.log"), *log2 = scratch_path(work, "run2.log");
        int port = closed_port();
        char portstr[16], totalstr[16];
        TestServer srv;
        int status;

        snprintf(portstr, sizeof portstr, "%d", port);
        snprintf(totalstr, sizeof totalstr, "%u", total);
        _cleanup_free_ char *yaml = NULL;
        ck_assert_int_ge(asprintf(&yaml, CONFIG_PLAIN, port), 0);
        write_file(cfg, yaml, strlen(yaml), 0644);
        ck_assert_int_eq(mkdir(state, 0700), 0);

        char *argv[] = { (char *) MAILER_RUN, (char *) "--state", state, (char *) "--config", cfg, (char *) "--total",
                         totalstr, (char *) "--interval-ms", (char *) "40", (char *) "--backoff-ms", (char *) "300",
                         (char *) "--backoff-max-ms", (char *) "1200", (char *) "--lifetime", (char *) "50", NULL,
                         NULL };
        usec_t t0 = now_usec(CLOCK_MONOTONIC);

        /* 1: the relay is down; kill once half are queued and the first has been retried */
        pid_t pid = spawn_helper(argv, log1);
        int64_t queued = 0, head_attempts = 0;
        for (;;) {
                ck_assert_msg(now_usec(CLOCK_MONOTONIC) - t0 < 20 * USEC_PER_SEC, "phase 1 too slow");
                if (waitpid(pid, &status, WNOHANG) != 0) {
                        dump(log1);
                        ck_abort_msg("mailer-run exited");
                }
                /* what it printed: each message queued, each failed attempt */
                queued = count_in_file(log1, "queued ");
                if (queued >= total / 2 && count_in_file(log1, "event retry 1 attempts=2:") > 0)
                        break;
                usleep(5000);
        }
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        usec_t t_kill = now_usec(CLOCK_MONOTONIC);

        sqlite3 *db = db_open_path(state);
        queued = test_sql_int(db, "SELECT count(*) FROM outbox");
        ck_assert_int_lt(queued, total);
        ck_assert_int_eq(test_sql_int(db, "SELECT count(*) FROM outbox WHERE state = 'pending'"), queued);
        head_attempts = test_sql_int(db, "SELECT attempts FROM outbox ORDER BY id LIMIT 1");
        ck_assert_int_ge(head_attempts, 2);
        /* the head holds the rest back: none of the later ones was tried */
        ck_assert_int_eq(test_sql_int(db, "SELECT count(*) FROM outbox WHERE attempts > 0"), 1);
        sqlite3_close(db);

        /* 2: the relay comes back on its port; 3: the process starts again */
        aiosmtpd_start(&srv, dir, "--port", portstr, NULL);
        argv[ELEMENTSOF(argv) - 2] = (char *) "--exit-when-done";
        pid = spawn_helper(argv, log2);
        usec_t t_restart = now_usec(CLOCK_MONOTONIC);
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid)
                        break;
                if (now_usec(CLOCK_MONOTONIC) - t_restart > 40 * USEC_PER_SEC) {
                        kill(pid, SIGKILL);
                        (void) waitpid(pid, NULL, 0);
                        dump(log1);
                        dump(log2);
                        ck_abort_msg("not all delivered after 40 s");
                }
                usleep(10000);
        }
        usec_t t_done = now_usec(CLOCK_MONOTONIC);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                dump(log1);
                dump(log2);
                ck_abort_msg("mailer-run failed: status %d", status);
        }

        /* every one delivered, each once, in the order queued */
        db = db_open_path(state);
        ck_assert_int_eq(test_sql_int(db, "SELECT count(*) FROM outbox"), total);
        ck_assert_int_eq(test_sql_int(db, "SELECT count(*) FROM outbox WHERE state = 'delivered'"), total);
        ck_assert_int_eq(test_sql_int(db, "SELECT count(DISTINCT message_id) FROM outbox"), total);
        ck_assert_uint_eq(count_files(dir, ".eml"), total);
        for (unsigned i = 1; i <= total; i++) {
                _cleanup_free_ char *q = NULL;
                ck_assert_int_ge(asprintf(&q, "SELECT message_id FROM outbox ORDER BY id LIMIT 1 OFFSET %u", i - 1), 0);
                _cleanup_free_ char *want = test_sql_text(db, q);
                _cleanup_free_ char *got = saved_message_id(dir, i);
                ck_assert_msg(got && streq(got, want), "message %u: %s, expected %s", i, got ?: "none", want);
                _cleanup_free_ char *p = eml_path(dir, i, "eml");
                _cleanup_free_ char *data = read_file_alloc(p);
                char link[40];
                snprintf(link, sizeof link, "\r\nX-Tomslink-Link: l%02u\r\n", i);
                ck_assert_has(data, link);
        }
        sqlite3_close(db);
        fprintf(stderr, "# fault test: %" PRIi64 " of %u queued at the SIGKILL (head tried %" PRIi64 " times), "
                        "relay down %.2f s; restart to all %u delivered %.2f s\n",
                queued, total, head_attempts, (double) (t_kill - t0) / USEC_PER_SEC, total,
                (double) (t_done - t_restart) / USEC_PER_SEC);
        server_stop(&srv);
        scratch_dir_remove(work);
}
END_TEST

static Config *config_plain(int port) {
        return config_from(CONFIG_PLAIN, port);
}

static const MailerTiming fast = {
        .backoff_base = 200 * USEC_PER_MSEC,
        .backoff_max = 400 * USEC_PER_MSEC,
};

/* A 5xx for one recipient ends it for that one; the others still get the
 * message; a 4xx for another is retried, to that one only. */
START_TEST(test_recipients) {
        _cleanup_free_ char *dir = server_dir("rcpt");
        TestServer srv;
        Harness h;

        aiosmtpd_start(&srv, dir, "--reject-rcpt", "bad@example.org=550 5.1.1 No such user", "--fail-first", "1",
                       "--fail-at", "RCPT", "--fail-code", "450 4.2.1 Mailbox busy", NULL);
        harness_init(&h, "mailer-rcpt", false,
                     config_from("timezone: America/Los_Angeles\n"
                                 "email:\n"
                                 "  smtp_url: smtp://127.0.0.1:%d\n"
                                 "  starttls: off\n"
                                 "  from: tomslink@example.org\n"
                                 "  to: [it-alerts@example.org, bad@example.org]\n"
                                 "links:\n"
                                 "  - name: district\n"
                                 "    url: https://toms.example/api/ping\n"
                                 "    email_to: [school-it@example.org]\n",
                                 srv.port));
        harness_start(&h, NULL);
        ck_assert_int_eq(mailer_set_timing(h.mailer, &fast), 0);

        int64_t id = queue(&h);
        RUN_UNTIL(&h, count_events(&h, MAILER_EVENT_DELIVERED) == 1, 15);

        /* the first attempt: it-alerts deferred (450), bad refused (550), school-it delivered */
        ck_assert_uint_eq(h.n_events, 3);
        ck_assert_int_eq(h.events[0].type, MAILER_EVENT_REFUSED);
        ck_assert_str_eq(h.events[0].recipient, "bad@example.org");
        ck_assert_str_eq(h.events[0].text, "550 5.1.1 No such user");
        ck_assert_int_eq(h.events[1].type, MAILER_EVENT_RETRY);
        ck_assert_has(h.events[1].text, "it-alerts@example.org deferred: 450 4.2.1 Mailbox busy");
        /* the retry: to it-alerts only */
        ck_assert_int_eq(h.events[2].type, MAILER_EVENT_DELIVERED);
        ck_assert_int_eq(h.events[2].id, id);

        ck_assert_uint_eq(count_files(dir, ".eml"), 2);
        _cleanup_free_ char *r1 = saved_rcpts(dir, 1), *r2 = saved_rcpts(dir, 2);
        ck_assert_str_eq(r1, "school-it@example.org");
        ck_assert_str_eq(r2, "it-alerts@example.org");
        _cleanup_free_ char *m1 = saved_message_id(dir, 1), *m2 = saved_message_id(dir, 2);
        ck_assert_str_eq(m1, m2);
        _cleanup_free_ char *events = NULL;
        ck_assert_int_ge(asprintf(&events, "%s/events.log", dir), 0);
        ck_assert_uint_eq(count_in_file(events, "\"address\": \"bad@example.org\""), 1);
        ck_assert_uint_eq(count_in_file(events, "\"address\": \"school-it@example.org\""), 1);
        ck_assert_uint_eq(count_in_file(events, "\"address\": \"it-alerts@example.org\""), 2);

        sqlite3 *db = db_open(&h);
        _cleanup_free_ char *rcpt = sqlf(db, "SELECT group_concat(address || '=' || state || '=' || coalesce(error, ''), ' ') "
                                             "FROM (SELECT * FROM outbox_recipient WHERE outbox_id = %" PRIi64
                                             " ORDER BY position)", id);
        ck_assert_str_eq(rcpt, "it-alerts@example.org=delivered= bad@example.org=refused=550 5.1.1 No such user "
                               "school-it@example.org=delivered=");
        _cleanup_free_ char *st = sqlf(db, "SELECT state || ' ' || attempts FROM outbox WHERE id = %" PRIi64, id);
        ck_assert_str_eq(st, "delivered 1");

        /* every recipient refused: finished as failed at once, not retried, no mail-undeliverable */
        h.config->email.to[0] = mfree(h.config->email.to[0]);
        h.config->email.to[0] = strdup("bad@example.org");
        h.config->email.to[1] = mfree(h.config->email.to[1]);
        Alert a = expiring_alert(clock_realtime(h.t.clock));
        int64_t id2 = 0;
        ck_assert_int_eq(mailer_queue_alert(h.mailer, &a, NULL, &id2), 1);
        RUN_UNTIL(&h, count_events(&h, MAILER_EVENT_FAILED) == 1, 10);
        ck_assert_int_eq(last_event(&h)->id, id2);
        ck_assert(!last_event(&h)->given_up);
        ck_assert_uint_eq(h.undeliverable, 0);
        _cleanup_free_ char *st2 = sqlf(db, "SELECT state || ' ' || attempts FROM outbox WHERE id = %" PRIi64, id2);
        ck_assert_str_eq(st2, "failed 0");
        ck_assert_uint_eq(count_files(dir, ".eml"), 2);
        sqlite3_close(db);
        harness_done(&h);
        server_stop(&srv);
}
END_TEST

/* tomslinkctl test-email: at once, not through the outbox, and the relay's
 * exact answer when it refuses. */
START_TEST(test_test_email) {
        _cleanup_free_ char *dir = server_dir("test-ok"), *dir2 = server_dir("test-refused");
        TestServer srv, srv2;
        Harness h;

        aiosmtpd_start(&srv, dir, NULL);
        aiosmtpd_start(&srv2, dir2, "--fail-first", "1", "--fail-at", "MAIL", "--fail-code",
                       "550 5.7.1 Relaying denied for tomslink@example.org", NULL);
        harness_init(&h, "mailer-test-email", false, config_plain(srv.port));
        harness_start(&h, NULL);

        ck_assert_int_eq(mailer_test_email(h.mailer, on_test_done, &h), 0);
        RUN_UNTIL(&h, h.tests_done == 1, 10);
        ck_assert_int_eq(h.test_error, 0);
        ck_assert_int_eq(h.test_result.outcome, SMTP_DELIVERED);
        ck_assert_str_eq(h.test_result.reply, "250 2.0.0 Message accepted for delivery");
        _cleanup_free_ char *p = eml_path(dir, 1, "eml");
        _cleanup_free_ char *data = read_file_alloc(p);
        _cleanup_free_ char *tag = header_of(data, "X-Tomslink-Alert"), *to = header_of(data, "To");
        ck_assert_str_eq(tag, "test");
        ck_assert_str_eq(to, "it-alerts@example.org");
        /* not through the outbox */
        sqlite3 *db = db_open(&h);
        ck_assert_int_eq(test_sql_int(db, "SELECT count(*) FROM outbox"), 0);
        ck_assert_uint_eq(h.n_events, 0);

        /* a relay that refuses: its answer, word for word */
        Config *c2 = config_plain(srv2.port);
        ck_assert_int_eq(mailer_set_config(h.mailer, c2, NULL), 0);
        config_free(h.config);
        h.config = c2;
        ck_assert_int_eq(mailer_test_email(h.mailer, on_test_done, &h), 0);
        RUN_UNTIL(&h, h.tests_done == 2, 10);
        ck_assert_int_eq(h.test_result.outcome, SMTP_PERMANENT);
        ck_assert_str_eq(h.test_result.reply, "550 5.7.1 Relaying denied for tomslink@example.org");
        ck_assert_uint_eq(count_files(dir2, ".eml"), 0);
        ck_assert_int_eq(test_sql_int(db, "SELECT count(*) FROM outbox"), 0);
        sqlite3_close(db);
        harness_done(&h);
        server_stop(&srv);
        server_stop(&srv2);
}
END_TEST

/* Shutdown with an attempt in flight: cancelled at once, the message stays
 * pending (the attempt not counted) and goes out after the restart, once. */
START_TEST(test_stop_in_flight) {
        _cleanup_free_ char *dir = server_dir("slow"), *dir2 = server_dir("after-restart");
        TestServer slow, srv;
        Harness h;

        smtp_sink_start(&slow, dir, "-W", "CONNECT:10", NULL);
        harness_init(&h, "mailer-stop", false, config_plain(slow.port));
        harness_start(&h, NULL);
        int64_t id = queue(&h);
        RUN_UNTIL(&h, mailer_busy(h.mailer), 5);
        run_for(&h, 200 * USEC_PER_MSEC);
        ck_assert(mailer_busy(h.mailer));

        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        mailer_stop(h.mailer);
        ck_assert_msg(now_usec(CLOCK_MONOTONIC) - t0 < 500 * USEC_PER_MSEC, "stopping blocked");
        ck_assert(!mailer_busy(h.mailer));
        ck_assert_uint_eq(curl_glue_n_running(h.glue), 0);
        /* queued after the stop: kept for the next start, not sent */
        int64_t id2 = queue(&h);
        run_for(&h, 300 * USEC_PER_MSEC);
        ck_assert_uint_eq(h.n_events, 0);
        ck_assert(!mailer_busy(h.mailer));
        sqlite3 *db = db_open(&h);
        ck_assert_int_eq(test_sql_int(db, "SELECT count(*) FROM outbox WHERE state = 'pending' AND attempts = 0 "
                                          "AND last_error IS NULL"), 2);
        h.mailer = mailer_free(h.mailer);
        server_stop(&slow);

        /* the next start, with the relay fixed */
        aiosmtpd_start(&srv, dir2, NULL);
        Config *c2 = config_plain(srv.port);
        config_free(h.config);
        h.config = c2;
        harness_start(&h, NULL);
        RUN_UNTIL(&h, count_events(&h, MAILER_EVENT_DELIVERED) == 2, 10);
        ck_assert_int_eq(h.events[0].id, id);
        ck_assert_int_eq(h.events[1].id, id2);
        ck_assert_uint_eq(count_files(dir2, ".eml"), 2);
        for (unsigned i = 1; i <= 2; i++) {
                _cleanup_free_ char *q = NULL;
                ck_assert_int_ge(asprintf(&q, "SELECT message_id FROM outbox WHERE id = %" PRIi64, i == 1 ? id : id2), 0);
                _cleanup_free_ char *want = test_sql_text(db, q), *got = saved_message_id(dir2, i);
                ck_assert_str_eq(got, want);
        }
        ck_assert_int_eq(mailer_pending(h.mailer), 0);
        sqlite3_close(db);
        harness_done(&h);
        server_stop(&srv);
}
END_TEST

/* A reload: the attempt in flight ends on the old relay; the waiting and
 * the later messages go through the new one at once, with their stored
 * text. */
START_TEST(test_reload) {
        _cleanup_free_ char *dir = server_dir("old"), *dir2 = server_dir("new");
        TestServer old, srv;
        Harness h;

        smtp_sink_start(&old, dir, "-W", "CONNECT:1", NULL);
        aiosmtpd_start(&srv, dir2, NULL);
        harness_init(&h, "mailer-reload", false, config_plain(old.port));
        harness_start(&h, NULL);
        int64_t id = queue(&h);
        RUN_UNTIL(&h, mailer_busy(h.mailer), 5);

        Config *c2 = config_plain(srv.port);
        ck_assert_int_eq(mailer_set_config(h.mailer, c2, NULL), 0);
        ck_assert(mailer_busy(h.mailer));
        config_free(h.config);
        h.config = c2;
        RUN_UNTIL(&h, h.n_events == 1, 10);
        ck_assert_int_eq(h.events[0].type, MAILER_EVENT_DELIVERED);
        ck_assert_int_eq(h.events[0].id, id);
        char old_url[64];
        snprintf(old_url, sizeof old_url, "via smtp://127.0.0.1:%d", old.port);
        ck_assert_has(h.events[0].text, old_url);

        int64_t id2 = queue(&h);
        RUN_UNTIL(&h, h.n_events == 2, 10);
        ck_assert_int_eq(h.events[1].type, MAILER_EVENT_DELIVERED);
        ck_assert_int_eq(h.events[1].id, id2);
        ck_assert_uint_eq(count_files(dir2, ".eml"), 1);

        /* a message waiting for its retry goes at once after a reload */
        server_stop(&srv);
        ck_assert_int_eq(mailer_set_timing(h.mailer, &(MailerTiming) { .backoff_base = 30 * USEC_PER_SEC }), 0);
        Config *c3 = config_plain(closed_port());
        ck_assert_int_eq(mailer_set_config(h.mailer, c3, NULL), 0);
        config_free(h.config);
        h.config = c3;
        int64_t id3 = queue(&h);
        RUN_UNTIL(&h, h.n_events == 3, 10);
        ck_assert_int_eq(h.events[2].type, MAILER_EVENT_RETRY);
        aiosmtpd_start(&srv, dir2, NULL);
        Config *c4 = config_plain(srv.port);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        ck_assert_int_eq(mailer_set_config(h.mailer, c4, NULL), 0);
        config_free(h.config);
        h.config = c4;
        RUN_UNTIL(&h, h.n_events == 4, 10);
        ck_assert_int_eq(h.events[3].type, MAILER_EVENT_DELIVERED);
        ck_assert_int_eq(h.events[3].id, id3);
        ck_assert_uint_lt(now_usec(CLOCK_MONOTONIC) - t0, 5 * USEC_PER_SEC);
        harness_done(&h);
        server_stop(&old);
        server_stop(&srv);
}
END_TEST

static void assert_no_secret(const char *what, const char *data, size_t n) {
        unsigned char b64[256];
        const char plain[] = "\0" USER "\0" PASSWORD;
        ck_assert_msg(!data || !memmem(data, n, PASSWORD, strlen(PASSWORD)), "password in %s", what);
        EVP_EncodeBlock(b64, (const unsigned char *) PASSWORD, (int) strlen(PASSWORD));
        ck_assert_msg(!data || !memmem(data, n, b64, strlen((char *) b64)), "base64 password in %s", what);
        EVP_EncodeBlock(b64, (const unsigned char *) plain, (int) sizeof plain - 1);
        ck_assert_msg(!data || !memmem(data, n, b64, strlen((char *) b64)), "AUTH PLAIN blob in %s", what);
}

/* Over STARTTLS with AUTH: a relay that echoes the password in its refusal
 * puts it nowhere (outbox, events, log); the right relay takes the message. */
START_TEST(test_password_kept_out) {
        _cleanup_free_ char *dir = server_dir("echo"), *dir2 = server_dir("auth");
        TestServer echo, srv;
        Harness h;

        aiosmtpd_start(&echo, dir, "--tls-cert", server_crt, "--tls-key", server_key, "--require-starttls", "--auth",
                       USER ":something-else", "--echo-auth", NULL);
        aiosmtpd_start(&srv, dir2, "--tls-cert", server_crt, "--tls-key", server_key, "--require-starttls", "--auth",
                       USER ":" PASSWORD, NULL);
#define CONFIG_AUTH                                     \
        "timezone: America/Los_Angeles\n"               \
        "email:\n"                                      \
        "  smtp_url: smtp://127.0.0.1:%d\n"             \
        "  starttls: required\n"                        \
        "  username: " USER "\n"                        \
        "  from: tomslink@example.org\n"                \
        "  to: [it-alerts@example.org]\n"               \
        "  ca_file: %s\n"                               \
        "links: []\n"
        harness_init(&h, "mailer-password", false, config_from(CONFIG_AUTH, echo.port, ca_file));
        harness_start(&h, PASSWORD);
        ck_assert_int_eq(mailer_set_timing(h.mailer, &(MailerTiming) { .backoff_base = 30 * USEC_PER_SEC }), 0);

        int64_t id = queue(&h);
        RUN_UNTIL(&h, h.n_events == 1, 10);
        ck_assert_int_eq(h.events[0].type, MAILER_EVENT_RETRY);
        ck_assert_has(h.events[0].text, "535 5.7.8 rejected " USER " (hidden)");

        Config *c2 = config_from(CONFIG_AUTH, srv.port, ca_file);
        ck_assert_int_eq(mailer_set_config(h.mailer, c2, PASSWORD), 0);
        config_free(h.config);
        h.config = c2;
        RUN_UNTIL(&h, h.n_events == 2, 10);
        ck_assert_int_eq(h.events[1].type, MAILER_EVENT_DELIVERED);
        ck_assert_int_eq(h.events[1].id, id);
        _cleanup_free_ char *p = eml_path(dir2, 1, "json");
        _cleanup_free_ char *env = read_file_alloc(p);
        ck_assert_has(env, "\"tls\": true");
        ck_assert_has(env, "\"user\": \"" USER "\"");

        for (size_t i = 0; i < h.n_events; i++)
                assert_no_secret("an event", h.events[i].text, h.events[i].text ? strlen(h.events[i].text) : 0);
        assert_no_secret("the log", h.log.data, h.log.len);
        h.mailer = mailer_free(h.mailer);
        h.t.store = store_close(h.t.store);
        static const char *const files[] = { STORE_FILE_NAME, STORE_FILE_NAME "-wal", STORE_FILE_NAME "-journal" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *f = scratch_path(h.t.dir, files[i]);
                size_t n = 0;
                _cleanup_free_ char *data = read_file(f, &n);
                assert_no_secret(files[i], data, n);
        }
        harness_done(&h);
        server_stop(&echo);
        server_stop(&srv);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("mailer");
        TCase *unit = tcase_create("unit");
        tcase_set_timeout(unit, 60);
        ADD_TESTS(unit, test_backoff, test_arguments, test_queued_before_delivered, test_give_up_after_24h,
                  test_stepped_clock);
        suite_add_tcase(s, unit);

        TCase *tc = tcase_create("servers");
        tcase_set_timeout(tc, 120);
        tcase_add_unchecked_fixture(tc, servers_setup, servers_teardown);
        ADD_TESTS(tc, test_fault_sigkill, test_recipients, test_test_email, test_stop_in_flight, test_reload,
                  test_password_kept_out);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
