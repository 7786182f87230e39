/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* SMTP delivery on libcurl, inside the sd-event loop (CurlGlue): a send
 * never blocks the loop and ends in a callback with the outcome of the
 * message as a whole and of each recipient, and the relay's last answer.
 *
 * One send is one attempt: the relays of email.smtp_url are tried in
 * order, moving to the next one when a relay cannot be reached, the
 * session fails (TLS, STARTTLS, AUTH) or it answers 4xx; a 5xx for the
 * whole message (at MAIL, DATA or after the text) is permanent. A 5xx for
 * one recipient refuses that recipient only; the others still get the
 * message. Retrying later (with backoff, from the outbox) is the caller's
 * business: it resends to the recipients still deferred.
 *
 * Transfers are attached to the shared CurlGlue with their own finished
 * callback (curl_glue_add_with()): the glue's owner routes nothing, and
 * probes and mail share one multi handle.
 *
 * Which answer belongs to which command comes from the SMTP conversation
 * libcurl reports (CURLOPT_DEBUGFUNCTION): the server's answers are read
 * and logged at debug level; of the commands sent only the verb and the
 * RCPT address are looked at, never the AUTH exchange or the message.
 * The password never appears in a log line, an error text or a result,
 * even when a hostile relay echoes it back. */

#include "config.h"
#include "curl-glue.h"
#include "log.h"
#include "strbuf.h"

typedef struct SmtpClient SmtpClient;
typedef struct SmtpSend SmtpSend;

typedef enum SmtpOutcome {
        SMTP_DELIVERED,         /* every recipient accepted or refused for good, at least one accepted */
        SMTP_TEMPORARY,         /* try again later: no relay could take it now, or some recipients were deferred */
        SMTP_PERMANENT,         /* refused for good: the message, or every recipient */
        _SMTP_OUTCOME_MAX,
        _SMTP_OUTCOME_INVALID = -EINVAL,
} SmtpOutcome;

typedef enum SmtpRecipientState {
        SMTP_RECIPIENT_DELIVERED,       /* the relay took the message for this recipient */
        SMTP_RECIPIENT_DEFERRED,        /* not delivered, retry later */
        SMTP_RECIPIENT_REFUSED,         /* a 5xx: permanent */
        _SMTP_RECIPIENT_STATE_MAX,
        _SMTP_RECIPIENT_STATE_INVALID = -EINVAL,
} SmtpRecipientState;

/* Where in the conversation a relay attempt ended. */
typedef enum SmtpStage {
        SMTP_STAGE_CONNECT,     /* DNS, TCP, the TLS handshake of smtps:// */
        SMTP_STAGE_GREETING,
        SMTP_STAGE_EHLO,
        SMTP_STAGE_STARTTLS,    /* including its TLS handshake */
        SMTP_STAGE_AUTH,
        SMTP_STAGE_MAIL,
        SMTP_STAGE_RCPT,
        SMTP_STAGE_DATA,
        SMTP_STAGE_MESSAGE,     /* the text sent, waiting for the answer to it */
        SMTP_STAGE_DONE,        /* accepted */
        _SMTP_STAGE_MAX,
        _SMTP_STAGE_INVALID = -EINVAL,
} SmtpStage;

typedef struct SmtpRecipientResult {
        char *address;
        SmtpRecipientState state;
        int code;               /* the SMTP code that decided it, 0 when none came */
        char *reply;            /* that answer ("550 5.1.1 No such user"), or NULL */
} SmtpRecipientResult;

typedef struct SmtpResult {
        SmtpOutcome outcome;
        SmtpStage stage;        /* where the last relay tried stopped */
        int code;               /* the relay's last SMTP code, 0 when it never answered */
        char *reply;            /* the relay's last answer, code and text as sent (lines joined by
                                 * "\n", control characters replaced), or NULL */
        char *error;            /* one line for logs and the outbox: each relay that failed and how,
                                 * each recipient deferred; NULL when all went through the first relay */
        char *relay;            /* the URL of the last relay tried */
        unsigned relays_tried;
        SmtpRecipientResult *recipients;        /* in the order given to smtp_client_send() */
        size_t n_recipients;
} SmtpResult;

#define SMTP_RESULT_NULL ((SmtpResult) { .outcome = _SMTP_OUTCOME_INVALID, .stage = _SMTP_STAGE_INVALID })

void smtp_result_done(SmtpResult *r);
int smtp_result_copy(SmtpResult *dst, const SmtpResult *src);
/* "delivered to a@x, b@y via smtp://relay:587" or "not delivered: ... 550 5.7.1 ..." */
char *smtp_result_to_string(const SmtpResult *r);

/* Called once per send, from the event loop, unless the send was
 * cancelled. result is valid only during the call. */
typedef void (*SmtpDoneFunc)(SmtpClient *c, const SmtpResult *result, void *userdata);

/* A client for the relays of email. password is the AUTH password (NULL
 * without email.username); it is copied and wiped when the client is
 * freed. local_hostname is the EHLO name (libcurl takes it from the URL
 * path; a relay URL written with a path keeps that path instead); NULL or
 * a name that is not a host name means "localhost". logger may be NULL. */
int smtp_client_new(CurlGlue *glue, const EmailConfig *email, const char *password, const char *local_hostname,
                    const Logger *logger, SmtpClient **ret);
/* Cancels the sends in flight (without callbacks) and frees. */
SmtpClient *smtp_client_free(SmtpClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(SmtpClient *, smtp_client_free);

/* Starts sending a message (the whole RFC 5322 text, CRLF line ends;
 * copied) from email.from to the recipients given. done is called when it
 * has ended. ret may be NULL; the SmtpSend is valid until done is called
 * or it is cancelled. */
int smtp_client_send(SmtpClient *c, const char *data, char *const *recipients, SmtpDoneFunc done, void *userdata,
                     SmtpSend **ret);
/* Stops a send in flight; its callback is not called. */
void smtp_send_cancel(SmtpSend *s);
unsigned smtp_client_in_flight(SmtpClient *c);

/* Sends one message now, outside any other event loop (tomslinkctl
 * test-email): runs its own loop until the send has ended. Returns 0 with
 * the result in *ret (delivered or not: see ret->outcome and ret->reply),
 * or a negative errno when it could not try at all. */
int smtp_send_now(const EmailConfig *email, const char *password, const char *local_hostname, const char *data,
                  char *const *recipients, const Logger *logger, SmtpResult *ret);

/* Reads the SMTP AUTH password: email.password_file if set, else the
 * systemd credential tomslink.smtp in credentials_directory
 * ($CREDENTIALS_DIRECTORY). The first line, without its line end. Returns
 * 0 and *ret = NULL when email.username is not set (no AUTH);
 * -ENOKEY when a username is set but neither source is configured;
 * -ENOENT (or another errno of open()) when the file cannot be read,
 * -EBADMSG when its first line is empty, -EFBIG when it is huge.
 * smtp_password_path() names the file, for the message. */
int smtp_password_load(const EmailConfig *email, const char *credentials_directory, char **ret);
/* The file smtp_password_load() reads, or NULL when none is configured. */
char *smtp_password_path(const EmailConfig *email, const char *credentials_directory);
/* Wipes and frees a password; returns NULL. */
char *smtp_password_free(char *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(char *, smtp_password_free);

/* Building blocks, exposed for the tests. */

/* Text from a relay (or from libcurl) as tomslink shows it: every form of
 * the password in hidden (a strv) replaced with "(hidden)", then printable
 * UTF-8 on one line, control characters and malformed bytes as '?'; at
 * most max bytes of it, then "...". */
void smtp_relay_text(char *const *hidden, StrBuf *out, const char *s, size_t n, size_t max);

#define SMTP_REPLY_LINE_MAX 512
#define SMTP_REPLY_MAX 2048

/* Reads a relay's answers from what libcurl reports of the conversation,
 * in pieces of any size: lines (at most 4 * SMTP_REPLY_LINE_MAX bytes are
 * kept of one), and answers, a run of lines ending with one that starts
 * with a code and no "-". */
typedef struct SmtpReplyReader {
        StrBuf line;    /* a line not complete yet */
        StrBuf reply;   /* the cleaned lines of the answer being read */
} SmtpReplyReader;

#define SMTP_REPLY_READER_NULL ((SmtpReplyReader) {})

/* Each line, as smtp_relay_text() shows it (for the debug log). */
typedef void (*SmtpReplyLineFunc)(const char *clean, void *userdata);
/* Each complete answer: its code (200..599) and its lines as shown, joined
 * by "\n", at most about SMTP_REPLY_MAX bytes; text is the callee's. */
typedef void (*SmtpReplyFunc)(int code, char *text, void *userdata);

void smtp_reply_reader_feed(SmtpReplyReader *r, char *const *hidden, const char *data, size_t size,
                            SmtpReplyLineFunc on_line, SmtpReplyFunc on_reply, void *userdata);
void smtp_reply_reader_done(SmtpReplyReader *r);

const char *smtp_outcome_to_string(SmtpOutcome o);
const char *smtp_recipient_state_to_string(SmtpRecipientState s);
const char *smtp_stage_to_string(SmtpStage s);
