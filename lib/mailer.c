/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "mailer.h"

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "crypto.h"
#include "mail.h"
#include "strv.h"

/* How often finished messages are pruned, at most. */
#define PRUNE_INTERVAL USEC_PER_HOUR
/* After the outbox could not be read, look again after this. */
#define STORE_RETRY (10 * USEC_PER_SEC)

typedef struct MailerTest MailerTest;

struct MailerTest {
        Mailer *mailer;
        MailerTest *prev, *next;
        SmtpSend *send;
        MailerTestDone done;
        void *userdata;
};

struct Mailer {
        CurlGlue *glue;
        sd_event *event;
        Store *store;
        Clock *clock;
        const Config *config;
        char *hostname;
        SmtpClient *client;             /* NULL without an email: section */
        SmtpClient **retired;           /* replaced by a reload, still finishing a send */
        size_t n_retired;
        MailerCallbacks callbacks;
        Logger logger;
        bool has_logger;
        MailerTiming timing;
        bool stopped;

        sd_event_source *timer;         /* CLOCK_BOOTTIME, one shot */

        /* The oldest pending message: the one being sent, or the one
         * waiting for its next attempt. */
        int64_t head_id;                /* 0: not known */
        usec_t head_deadline;           /* its next attempt, on the Clock's boottime */

        /* the attempt in flight */
        SmtpSend *send;
        OutboxMessage current;

        MailerTest *tests;
        usec_t last_prune;              /* Clock boottime, 0: never */
};

static const char *const event_type_table[_MAILER_EVENT_TYPE_MAX] = {
        [MAILER_EVENT_DELIVERED] = "delivered",
        [MAILER_EVENT_REFUSED] = "refused",
        [MAILER_EVENT_RETRY] = "retry",
        [MAILER_EVENT_FAILED] = "failed",
        [MAILER_EVENT_ERROR] = "error",
};

const char *mailer_event_type_to_string(MailerEventType t) {
        return t >= 0 && t < _MAILER_EVENT_TYPE_MAX ? event_type_table[t] : NULL;
}

#define mailer_debug(m, ...)                                                    \
        do {                                                                    \
                if ((m)->has_logger)                                            \
                        logger_printf(&(m)->logger, LOG_DEBUG, __VA_ARGS__);    \
        } while (0)

/* ---- the schedule ------------------------------------------------------------ */

usec_t mailer_backoff(usec_t base, usec_t max, unsigned attempt, uint64_t random) {
        usec_t d = base;

        if (attempt < 1)
                attempt = 1;
        for (unsigned i = 1; i < attempt && d < max; i++)
                d = d > max / 2 ? max : d * 2;
        d = MIN(d, max);

        /* an offset in [-j, +j], j = 20% of d, uniform over the 64 random bits */
        usec_t j = d / 100 * MAILER_JITTER_PERCENT + d % 100 * MAILER_JITTER_PERCENT / 100;
        usec_t span = 2 * j + 1;
        usec_t off = (usec_t) (((unsigned __int128) random * span) >> 64);
        return d - j + off;
}

/* The longest wait any backoff gives: a stored next attempt further away
 * than this means the wall clock was set back. */
static usec_t backoff_longest(const Mailer *m) {
        return mailer_backoff(m->timing.backoff_base, m->timing.backoff_max, UINT_MAX, UINT64_MAX);
}

static uint64_t random_u64(void) {
        uint64_t r = 0;
        if (crypto_random(&r, sizeof r) < 0)
                r = now_usec(CLOCK_MONOTONIC) * UINT64_C(0x9e3779b97f4a7c15);
        return r;
}

static void mailer_arm(Mailer *m, usec_t delay);

static void mailer_report(Mailer *m, const MailerEvent *e) {
        mailer_debug(m, "mailer: %s%s%s (outbox %" PRIi64 "): %s", mailer_event_type_to_string(e->type),
                     e->recipient ? " " : "", e->recipient ?: "", e->id, e->text ?: "");
        if (m->callbacks.event)
                m->callbacks.event(m, e, m->callbacks.userdata);
}

static void mailer_report_error(Mailer *m, int64_t id, int error, const char *what) {
        char text[256];
        snprintf(text, sizeof text, "%s: %s", what, strerror(-error));
        mailer_report(m, &(MailerEvent) {
                                 .type = MAILER_EVENT_ERROR,
                                 .id = id,
                                 .kind = _ALERT_KIND_INVALID,
                                 .text = text,
                                 .error = error,
                         });
}

static void mailer_prune(Mailer *m) {
        usec_t boot = clock_boottime(m->clock), now = clock_realtime(m->clock);
        int r;

        if (m->last_prune != 0 && boot - m->last_prune < PRUNE_INTERVAL)
                return;
        m->last_prune = boot;
        if (now <= m->timing.keep_finished)
                return;
        r = store_outbox_prune(m->store, now - m->timing.keep_finished);
        if (r < 0)
                mailer_report_error(m, 0, r, "pruning finished messages");
        else if (r > 0)
                mailer_debug(m, "mailer: pruned %d finished message%s", r, r == 1 ? "" : "s");
}

/* ---- one attempt --------------------------------------------------------------- */

static void mailer_reap(Mailer *m) {
        size_t k = 0;
        for (size_t i = 0; i < m->n_retired; i++) {
                if (smtp_client_in_flight(m->retired[i]) == 0)
                        smtp_client_free(m->retired[i]);
                else
                        m->retired[k++] = m->retired[i];
        }
        m->n_retired = k;
        if (k == 0)
                m->retired = mfree(m->retired);
}

static bool recipients_any(const OutboxMessage *msg, RecipientState state) {
        for (size_t i = 0; i < msg->n_recipients; i++)
                if (msg->recipients[i].state == state)
                        return true;
        return false;
}

static OutboxRecipient *recipient_find(OutboxMessage *msg, const char *address) {
        for (size_t i = 0; i < msg->n_recipients; i++)
                if (streq(msg->recipients[i].address, address))
                        return &msg->recipients[i];
        return NULL;
}

/* Records the end of an attempt: each recipient's outcome, and then the
 * message finished, given up or due again; all in one transaction. text
 * says what happened, answer is the relay's last answer (or NULL). */
static int mailer_record(Mailer *m, OutboxMessage *msg, const SmtpResult *result, const char *text,
                         const char *answer) {
        usec_t now = clock_realtime(m->clock), boot = clock_boottime(m->clock);
        bool given_up = false, refused_any = false;
        usec_t next = 0, delay = 0;
        OutboxState finish = _OUTBOX_STATE_INVALID;
        int r;

        r = store_begin(m->store);
        if (r < 0)
                return r;
        for (size_t i = 0; result && i < result->n_recipients; i++) {
                const SmtpRecipientResult *rr = &result->recipients[i];
                OutboxRecipient *x = rr->address ? recipient_find(msg, rr->address) : NULL;
                if (!x || x->state != RECIPIENT_PENDING)
                        continue;
                if (rr->state == SMTP_RECIPIENT_DELIVERED)
                        x->state = RECIPIENT_DELIVERED;
                else if (rr->state == SMTP_RECIPIENT_REFUSED) {
                        x->state = RECIPIENT_REFUSED;
                        free(x->error);
                        x->error = strdup(rr->reply ?: text);
                        refused_any = true;
                } else
                        continue;
                r = store_outbox_recipient_done(m->store, msg->id, x->address, x->state,
                                                x->state == RECIPIENT_REFUSED ? (x->error ?: text) : NULL);
                if (r < 0)
                        goto fail;
        }

        if (!recipients_any(msg, RECIPIENT_PENDING)) {
                finish = recipients_any(msg, RECIPIENT_DELIVERED) ? OUTBOX_DELIVERED : OUTBOX_FAILED;
                r = store_outbox_finish(m->store, msg->id, finish, now, finish == OUTBOX_FAILED ? text : NULL);
        } else if (now >= msg->created && now - msg->created >= m->timing.give_up_after) {
                finish = OUTBOX_FAILED;
                given_up = true;
                r = store_outbox_finish(m->store, msg->id, finish, now, text);
        } else {
                delay = mailer_backoff(m->timing.backoff_base, m->timing.backoff_max, msg->attempts + 1,
                                       random_u64());
                next = now + delay;
                /* the last attempt comes when the time is up, not up to an hour later */
                if (now >= msg->created && next > msg->created + m->timing.give_up_after) {
                        next = msg->created + m->timing.give_up_after;
                        delay = next - now;
                }
                r = store_outbox_attempt_failed(m->store, msg->id, next, text);
        }
        if (r < 0)
                goto fail;

        /* Inside the transaction: the mail-undeliverable the owner queues
         * from here is committed together with the message given up, so a
         * crash cannot lose it. One about a mail-undeliverable that is
         * itself undeliverable is not asked for: no loop. */
        if (given_up && msg->kind != ALERT_MAIL_UNDELIVERABLE && m->callbacks.undeliverable) {
                Alert a = ALERT_NULL;
                a.kind = ALERT_MAIL_UNDELIVERABLE;
                a.link = msg->link;
                a.time = now;
                a.mail_subject = msg->subject;
                a.mail_error = (char *) (answer ?: text);
                m->callbacks.undeliverable(m, &a, m->callbacks.userdata);
        }
        r = store_commit(m->store);
        if (r < 0)
                return r;

        /* told only once it is on disk */
        for (size_t i = 0; refused_any && i < result->n_recipients; i++) {
                const SmtpRecipientResult *rr = &result->recipients[i];
                if (rr->state != SMTP_RECIPIENT_REFUSED)
                        continue;
                mailer_report(m, &(MailerEvent) {
                                         .type = MAILER_EVENT_REFUSED,
                                         .id = msg->id,
                                         .message_id = msg->message_id,
                                         .subject = msg->subject,
                                         .kind = msg->kind,
                                         .recipient = rr->address,
                                         .text = rr->reply ?: text,
                                         .attempts = msg->attempts,
                                 });
        }
        if (finish < 0) {
                msg->attempts++;
                m->head_deadline = boot + delay;
                mailer_report(m, &(MailerEvent) {
                                         .type = MAILER_EVENT_RETRY,
                                         .id = msg->id,
                                         .message_id = msg->message_id,
                                         .subject = msg->subject,
                                         .kind = msg->kind,
                                         .text = text,
                                         .attempts = msg->attempts,
                                         .next_attempt = next,
                                 });
                return 0;
        }

        m->head_id = 0;
        mailer_report(m, &(MailerEvent) {
                                 .type = finish == OUTBOX_DELIVERED ? MAILER_EVENT_DELIVERED : MAILER_EVENT_FAILED,
                                 .id = msg->id,
                                 .message_id = msg->message_id,
                                 .subject = msg->subject,
                                 .kind = msg->kind,
                                 .text = text,
                                 .attempts = msg->attempts,
                                 .given_up = given_up,
                         });
        return 0;

fail:
        (void) store_rollback(m->store);
        return r;
}

/* After an attempt, or instead of one. */
static void mailer_attempt_done(Mailer *m, const SmtpResult *result, const char *text, const char *answer) {
        _cleanup_(outbox_message_done) OutboxMessage msg = m->current;
        int r;

        m->current = (OutboxMessage) {};
        r = mailer_record(m, &msg, result, text, answer);
        if (r < 0) {
                /* Not on disk: the message stays as it was (pending, to
                 * the same recipients) and is tried again later. */
                mailer_report_error(m, msg.id, r, "recording the outcome of an attempt");
                m->head_deadline = clock_boottime(m->clock) +
                                   mailer_backoff(m->timing.backoff_base, m->timing.backoff_max,
                                                  msg.attempts + 1, random_u64());
        }
        mailer_reap(m);
        if (!m->stopped)
                mailer_arm(m, 0);
}

static void on_sent(SmtpClient *c, const SmtpResult *result, void *userdata) {
        Mailer *m = userdata;
        _cleanup_free_ char *text = smtp_result_to_string(result);

        m->send = NULL;
        mailer_debug(m, "mailer: outbox %" PRIi64 " attempt %u: %s", m->current.id, m->current.attempts + 1,
                     text ?: smtp_outcome_to_string(result->outcome));
        /* the relay's refusal, else what went wrong (its last answer may
         * be the 250 that took the message for the other recipients) */
        mailer_attempt_done(m, result, text ?: smtp_outcome_to_string(result->outcome),
                            result->reply && result->code >= 400 ? result->reply : result->error ?: result->reply);
}

static void mailer_attempt(Mailer *m, OutboxMessage *msg) {
        _cleanup_strv_free_ char **to = NULL;
        int r = 0;

        m->current = *msg;
        *msg = (OutboxMessage) {};

        for (size_t i = 0; r >= 0 && i < m->current.n_recipients; i++)
                if (m->current.recipients[i].state == RECIPIENT_PENDING)
                        r = strv_extend(&to, m->current.recipients[i].address);
        if (r >= 0 && !to) {
                /* every recipient done, the message not marked finished (a
                 * crash in between): finish it now */
                mailer_attempt_done(m, NULL, "every recipient done", NULL);
                return;
        }
        if (r >= 0) {
                mailer_debug(m, "mailer: outbox %" PRIi64 " (%s): attempt %u to %zu recipient%s", m->current.id,
                             m->current.message_id, m->current.attempts + 1, strv_length(to),
                             strv_length(to) == 1 ? "" : "s");
                r = smtp_client_send(m->client, m->current.data, to, on_sent, m, &m->send);
        }
        if (r < 0) {
                char text[128];
                snprintf(text, sizeof text, "cannot start sending: %s", strerror(-r));
                mailer_attempt_done(m, NULL, text, NULL);
        }
}

/* ---- the loop ----------------------------------------------------------------- */

/* Sends the oldest pending message if its time has come, else sets the
 * timer for it. */
static void mailer_run(Mailer *m) {
        OutboxMessage *a = NULL;
        size_t n = 0;
        int r;

        if (m->stopped || m->send || !m->client)
                return;

        mailer_prune(m);
        r = store_outbox_due(m->store, USEC_INFINITY, 1, &a, &n);
        if (r < 0) {
                mailer_report_error(m, 0, r, "reading the outbox");
                mailer_arm(m, STORE_RETRY);
                return;
        }
        if (n == 0) {
                free(a);
                m->head_id = 0;
                return;
        }

        usec_t boot = clock_boottime(m->clock);
        if (a[0].id != m->head_id) {
                /* a new head (or a restart): its wait from the outbox, but
                 * never longer than a backoff can be */
                usec_t now = clock_realtime(m->clock), next = a[0].next_attempt;
                usec_t delay = next > now ? MIN(next - now, backoff_longest(m)) : 0;
                m->head_id = a[0].id;
                m->head_deadline = boot + delay;
        }
        if (m->head_deadline > boot) {
                mailer_arm(m, m->head_deadline - boot);
                outbox_message_array_free(a, n);
                return;
        }
        mailer_attempt(m, &a[0]);
        outbox_message_array_free(a, n);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        mailer_run(userdata);
        return 0;
}

/* Wakes the loop after delay (0: at its next iteration). */
static void mailer_arm(Mailer *m, usec_t delay) {
        uint64_t now;
        int r;

        if (sd_event_now(m->event, CLOCK_BOOTTIME, &now) < 0)
                now = now_usec(CLOCK_BOOTTIME);
        usec_t when = delay == 0 ? 0 : now + delay;
        /* late by at most a twentieth of the wait, and never more than a second */
        usec_t accuracy = CLAMP(delay / 20, USEC_PER_MSEC, USEC_PER_SEC);

        if (!m->timer) {
                r = sd_event_add_time(m->event, &m->timer, CLOCK_BOOTTIME, when, accuracy, on_timer, m);
                if (r >= 0)
                        (void) sd_event_source_set_description(m->timer, "mailer-timer");
        } else {
                r = sd_event_source_set_time(m->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_time_accuracy(m->timer, accuracy);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
        }
        if (r < 0)
                mailer_report_error(m, 0, r, "setting the delivery timer");
}

void mailer_kick(Mailer *m) {
        if (!m || m->stopped)
                return;
        mailer_arm(m, 0);
}

/* ---- the object ------------------------------------------------------------------- */

static int mailer_make_client(Mailer *m, const Config *config, const char *password, SmtpClient **ret) {
        if (!config->email.enabled) {
                *ret = NULL;
                return 0;
        }
        return smtp_client_new(m->glue, &config->email, password, m->hostname, m->has_logger ? &m->logger : NULL,
                               ret);
}

int mailer_new(CurlGlue *glue, Store *store, Clock *clock, const Config *config, const char *password,
               const char *hostname, const MailerCallbacks *callbacks, const Logger *logger, Mailer **ret) {
        _cleanup_(mailer_freep) Mailer *m = NULL;
        int r;

        if (!glue || !store || !clock || !config || !ret)
                return -EINVAL;
        m = calloc(1, sizeof(Mailer));
        if (!m)
                return -ENOMEM;
        m->glue = glue;
        m->event = sd_event_ref(curl_glue_event(glue));
        m->store = store;
        m->clock = clock;
        m->config = config;
        m->timing = MAILER_TIMING_DEFAULT;
        if (callbacks)
                m->callbacks = *callbacks;
        if (logger) {
                m->logger = *logger;
                m->has_logger = true;
        }
        if (hostname && !(m->hostname = strdup(hostname)))
                return -ENOMEM;
        r = mailer_make_client(m, config, password, &m->client);
        if (r < 0)
                return r;
        /* pending messages from before: at the loop's first iteration */
        mailer_arm(m, 0);
        *ret = TAKE_PTR(m);
        return 0;
}

static void mailer_cancel(Mailer *m) {
        if (m->send) {
                smtp_send_cancel(m->send);
                m->send = NULL;
                mailer_debug(m, "mailer: attempt for outbox %" PRIi64 " cancelled, it stays pending", m->current.id);
                outbox_message_done(&m->current);
                m->current = (OutboxMessage) {};
                m->head_id = 0;
        }
        while (m->tests) {
                MailerTest *t = m->tests;
                m->tests = t->next;
                smtp_send_cancel(t->send);
                free(t);
        }
}

void mailer_stop(Mailer *m) {
        if (!m)
                return;
        m->stopped = true;
        mailer_cancel(m);
        if (m->timer)
                (void) sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
}

Mailer *mailer_free(Mailer *m) {
        if (!m)
                return NULL;
        mailer_cancel(m);
        sd_event_source_disable_unref(m->timer);
        smtp_client_free(m->client);
        for (size_t i = 0; i < m->n_retired; i++)
                smtp_client_free(m->retired[i]);
        free(m->retired);
        free(m->hostname);
        sd_event_unref(m->event);
        return mfree(m);
}

int mailer_set_config(Mailer *m, const Config *config, const char *password) {
        SmtpClient *c = NULL;
        int r;

        if (!m || !config)
                return -EINVAL;
        r = mailer_make_client(m, config, password, &c);
        if (r < 0)
                return r;
        if (m->client && smtp_client_in_flight(m->client) > 0) {
                SmtpClient **l = reallocarray(m->retired, m->n_retired + 1, sizeof(SmtpClient *));
                if (!l) {
                        smtp_client_free(c);
                        return -ENOMEM;
                }
                m->retired = l;
                m->retired[m->n_retired++] = m->client;
        } else
                smtp_client_free(m->client);
        m->client = c;
        m->config = config;
        mailer_debug(m, "mailer: configuration replaced, e-mail %s", c ? "on" : "off");
        /* the relays may have been fixed: the waiting message goes now, once */
        if (!m->send)
                m->head_deadline = 0;
        mailer_kick(m);
        return 0;
}

int mailer_set_timing(Mailer *m, const MailerTiming *timing) {
        MailerTiming d = MAILER_TIMING_DEFAULT, t;

        if (!m || !timing)
                return -EINVAL;
        t = (MailerTiming) {
                .backoff_base = timing->backoff_base ?: d.backoff_base,
                .backoff_max = timing->backoff_max ?: d.backoff_max,
                .give_up_after = timing->give_up_after ?: d.give_up_after,
                .keep_finished = timing->keep_finished ?: d.keep_finished,
        };
        if (t.backoff_max < t.backoff_base)
                return -EINVAL;
        m->timing = t;
        mailer_kick(m);
        return 0;
}

int mailer_queue_alert(Mailer *m, const Alert *a, const LinkConfig *link, int64_t *ret_id) {
        _cleanup_(mail_message_done) MailMessage msg = MAIL_MESSAGE_NULL;
        int64_t id;
        int r;

        if (!m || !a)
                return -EINVAL;
        if (!m->config->email.enabled || a->held)
                return 0;
        r = mail_format_alert(a, link, m->config, m->hostname, &msg);
        if (r < 0)
                return r;
        r = store_outbox_add(m->store, msg.message_id, a->link, a->kind, msg.subject, msg.data, msg.recipients,
                             clock_realtime(m->clock), &id);
        if (r < 0)
                return r;
        mailer_debug(m, "mailer: queued %s as outbox %" PRIi64 " to %zu recipient%s", msg.message_id, id,
                     strv_length(msg.recipients), strv_length(msg.recipients) == 1 ? "" : "s");
        /* sent from the loop, never from here; a message behind the head waits anyway */
        if (!m->stopped && !m->send && m->head_id == 0)
                mailer_arm(m, 0);
        if (ret_id)
                *ret_id = id;
        return 1;
}

static void on_test_sent(SmtpClient *c, const SmtpResult *result, void *userdata) {
        MailerTest *t = userdata;
        Mailer *m = t->mailer;

        if (t->prev)
                t->prev->next = t->next;
        else
                m->tests = t->next;
        if (t->next)
                t->next->prev = t->prev;
        if (t->done)
                t->done(m, 0, result, t->userdata);
        free(t);
        mailer_reap(m);
}

int mailer_test_email(Mailer *m, MailerTestDone done, void *userdata) {
        _cleanup_(mail_message_done) MailMessage msg = MAIL_MESSAGE_NULL;
        _cleanup_free_ MailerTest *t = NULL;
        int r;

        if (!m)
                return -EINVAL;
        if (m->stopped)
                return -ESHUTDOWN;
        if (!m->client)
                return -ENOMEDIUM;
        r = mail_format_test(m->config, m->hostname, clock_realtime(m->clock), &msg);
        if (r < 0)
                return r;
        t = calloc(1, sizeof(MailerTest));
        if (!t)
                return -ENOMEM;
        *t = (MailerTest) { .mailer = m, .done = done, .userdata = userdata };
        r = smtp_client_send(m->client, msg.data, msg.recipients, on_test_sent, t, &t->send);
        if (r < 0)
                return r;
        mailer_debug(m, "mailer: test message %s sent to the relays", msg.message_id);
        t->next = m->tests;
        if (m->tests)
                m->tests->prev = t;
        m->tests = TAKE_PTR(t);
        return 0;
}

int mailer_pending(Mailer *m) {
        unsigned n;
        int r;

        if (!m)
                return -EINVAL;
        r = store_outbox_count(m->store, OUTBOX_PENDING, &n);
        if (r < 0)
                return r;
        return (int) MIN(n, (unsigned) INT_MAX);
}

bool mailer_busy(Mailer *m) {
        return m && m->send;
}
