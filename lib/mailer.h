/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The mail delivery loop: alert e-mails go through the store's durable
 * outbox and out over SMTP, on the event loop, one at a time.
 *
 * An alert is formatted (mail_format_alert()) and committed to the outbox
 * (synchronous=FULL) before anything is sent; delivery starts from the
 * event loop afterwards, never from inside mailer_queue_alert(). Messages
 * leave in the order they were queued: the oldest pending message goes
 * first, and while it waits for a retry the later ones wait behind it.
 *
 * An attempt that fails for now (no relay reachable, a 4xx, a recipient
 * deferred) is retried with exponential backoff: 1 minute, doubling to 1
 * hour, each delay with ±20% jitter. A 5xx for one recipient refuses that
 * recipient for good while the others still get the message; a retry is
 * sent only to the recipients still pending. When every recipient is
 * done the message is finished: delivered if any got it, failed
 * otherwise (refused by everyone: an event for the owner's log, not a
 * mail-undeliverable, which is the 24-hour case). A message still not
 * delivered 24 hours after it was queued gets one last attempt then and
 * is given up (failed) and reported as a mail-undeliverable alert, once,
 * except when that message was itself a mail-undeliverable one. Finished
 * messages are kept, marked, for 30 days.
 *
 * Delivery is at least once: a restart (or a crash) resumes the pending
 * messages and never resends to a recipient recorded as delivered; only a
 * crash between the relay's "250" and the record of it sends a copy again.
 *
 * Time: wall-clock decisions (when a message was queued, the 24 hours,
 * the next attempt shown in the outbox) come from the Clock. The wait for
 * the next attempt is kept on CLOCK_BOOTTIME: a wall clock stepped back
 * does not stall delivery, one stepped forward does not make retries come
 * faster. After a restart the wait is taken from the stored next attempt,
 * but never longer than the longest backoff (a clock set back while the
 * daemon was stopped delays a message by at most about an hour). */

#include "alert.h"
#include "clock.h"
#include "config.h"
#include "curl-glue.h"
#include "log.h"
#include "smtp.h"
#include "store.h"

typedef struct Mailer Mailer;

/* The schedule. Production uses MAILER_TIMING_DEFAULT; tests shorten it. */
typedef struct MailerTiming {
        usec_t backoff_base;    /* the first retry comes after this (±20%) */
        usec_t backoff_max;     /* doubling stops here */
        usec_t give_up_after;   /* from when the message was queued */
        usec_t keep_finished;   /* finished messages are deleted this long after they finished */
} MailerTiming;

#define MAILER_JITTER_PERCENT 20
#define MAILER_TIMING_DEFAULT                                   \
        ((MailerTiming) {                                       \
                .backoff_base = USEC_PER_MINUTE,                \
                .backoff_max = USEC_PER_HOUR,                   \
                .give_up_after = USEC_PER_DAY,                  \
                .keep_finished = 30 * USEC_PER_DAY,             \
        })

typedef enum MailerEventType {
        MAILER_EVENT_DELIVERED, /* finished: every recipient done, at least one got it */
        MAILER_EVENT_REFUSED,   /* one recipient refused for good (5xx); the others go on */
        MAILER_EVENT_RETRY,     /* an attempt failed for now; retried at next_attempt */
        MAILER_EVENT_FAILED,    /* finished without reaching anyone, or given up (given_up) */
        MAILER_EVENT_ERROR,     /* the outbox could not be read or written (error) */
        _MAILER_EVENT_TYPE_MAX,
        _MAILER_EVENT_TYPE_INVALID = -EINVAL,
} MailerEventType;

/* What happened to one message, for the owner's log. Valid during the
 * callback only. */
typedef struct MailerEvent {
        MailerEventType type;
        int64_t id;             /* outbox id, 0 when no message is concerned */
        const char *message_id;
        const char *subject;
        AlertKind kind;
        const char *recipient;  /* REFUSED: who */
        const char *text;       /* what happened: the result of the attempt, or the reason */
        unsigned attempts;      /* failed attempts so far */
        usec_t next_attempt;    /* RETRY: wall clock */
        bool given_up;          /* FAILED: after give_up_after */
        int error;              /* ERROR: negative errno */
} MailerEvent;

typedef struct MailerCallbacks {
        /* Each outcome (delivered, refused, retry, failed) and each outbox
         * error, once it is recorded. The owner logs it (refused and failed
         * deserve a warning). May call mailer_queue_alert() and
         * mailer_stop(), not mailer_free(). May be NULL. */
        void (*event)(Mailer *m, const MailerEvent *e, void *userdata);
        /* A message was given up: the mail-undeliverable alert to raise.
         * The owner sends it to the journal and queues it with
         * mailer_queue_alert() (it goes to email.to only). Called inside
         * the outbox transaction that gives the message up, so what is
         * queued here is committed with it (the journal may see it twice
         * after a crash, the outbox never loses it); the event of the
         * failure follows. Not called for a message that was itself a
         * mail-undeliverable. May be NULL. */
        void (*undeliverable)(Mailer *m, const Alert *a, void *userdata);
        void *userdata;
} MailerCallbacks;

/* The outcome of mailer_test_email(): result is NULL when the message
 * could not be sent at all (error < 0). */
typedef void (*MailerTestDone)(Mailer *m, int error, const SmtpResult *result, void *userdata);

/* A mailer on the glue's event loop, delivering from the store's outbox.
 * config must stay valid until mailer_set_config() or mailer_free();
 * without an email: section nothing is sent (pending messages stay
 * pending). password is the SMTP AUTH password (NULL without
 * email.username), copied. hostname names this machine in the
 * Message-ID, the text and EHLO. callbacks and logger may be NULL.
 * Nothing is sent before the event loop runs. -ENOKEY when a username
 * is configured without a password. */
int mailer_new(CurlGlue *glue, Store *store, Clock *clock, const Config *config, const char *password,
               const char *hostname, const MailerCallbacks *callbacks, const Logger *logger, Mailer **ret);
/* Cancels what is in flight (it stays pending in the outbox) and frees. */
Mailer *mailer_free(Mailer *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Mailer *, mailer_free);

/* A reloaded configuration: new relays, password and recipients for what
 * is queued from now on and for every later attempt; pending messages keep
 * their stored text and recipients. An attempt in flight ends on the old
 * relays. On failure nothing changes. */
int mailer_set_config(Mailer *m, const Config *config, const char *password);
/* Replaces the schedule (tests); values of 0 keep the default. */
int mailer_set_timing(Mailer *m, const MailerTiming *timing);

/* Formats the alert's e-mail and commits it to the outbox, then asks the
 * event loop to deliver. link is the alert's link configuration, or NULL.
 * Not to be called inside the owner's own store_begin() group (the
 * message would be durable only at the group's commit); from the
 * undeliverable callback it is right.
 * Returns 1 with *ret_id (may be NULL) set when queued, 0 when there is
 * nothing to send (no email: section, or a held alert), or a negative
 * errno (the alert is not queued). Queuing works after mailer_stop() too:
 * the message waits for the next start. */
int mailer_queue_alert(Mailer *m, const Alert *a, const LinkConfig *link, int64_t *ret_id);

/* tomslinkctl test-email: the test message (mail_format_test()) now,
 * straight to the configured relays, not through the outbox. done gets
 * the result: delivered, or the relay's exact answer (result->reply).
 * -ENOMEDIUM without an email: section, -ESHUTDOWN after mailer_stop(). */
int mailer_test_email(Mailer *m, MailerTestDone done, void *userdata);

/* Looks at the outbox again at once: after the clock was set (tests), or
 * when the owner knows the relay is back. */
void mailer_kick(Mailer *m);

/* Messages pending in the outbox, or a negative errno. */
int mailer_pending(Mailer *m);
/* True while an attempt is in flight. */
bool mailer_busy(Mailer *m);

/* Shutdown: no new attempts; an attempt in flight is cancelled and stays
 * pending for the next start (as do test sends, cancelled without their
 * callback). */
void mailer_stop(Mailer *m);

/* The delay before retry number `attempt` (1 = after the first failure):
 * base doubled attempt-1 times, at most max, then moved by up to ±20%
 * (MAILER_JITTER_PERCENT) as random (uniform over 64 bits) says. */
usec_t mailer_backoff(usec_t base, usec_t max, unsigned attempt, uint64_t random);

const char *mailer_event_type_to_string(MailerEventType t);
