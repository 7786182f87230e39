/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "smtp.h"

#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "strbuf.h"
#include "strv.h"
#include "validate.h"

/* Renamed in libcurl 8.2 (the old name had a typo). */
#if LIBCURL_VERSION_NUM < 0x080200
#define CURLOPT_MAIL_RCPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLLOWFAILS
#endif

#define PASSWORD_FILE_MAX 4096
#define ERROR_MAX 4096

struct SmtpClient {
        CurlGlue *glue;
        char **urls;            /* the relays, with the EHLO name as path */
        char **shown_urls;      /* as configured, for messages */
        StartTls starttls;
        char *username;
        char *password;         /* wiped when freed */
        char **hidden;          /* the password's forms that must never be shown */
        char *mail_from;
        char *ca_file;
        usec_t timeout;
        Logger logger;
        bool has_logger;
        SmtpSend *sends;
        unsigned n_sends;
};

struct SmtpSend {
        SmtpClient *client;
        SmtpSend *prev, *next;

        char *data;
        size_t size, offset;
        char **recipients;
        size_t n_recipients;
        struct curl_slist *rcpt_list;
        SmtpDoneFunc done;
        void *userdata;

        CURL *easy;
        size_t relay;           /* index of the relay being tried */
        unsigned relays_tried;
        StrBuf errors;          /* "relay: what happened; ..." */
        char errbuf[CURL_ERROR_SIZE];

        /* the conversation with the current relay */
        SmtpStage stage;        /* what the next answer answers */
        bool in_auth;           /* AUTH sent, no final answer yet: what we send is secret */
        bool quitting;
        size_t rcpt_answered;
        int *rcpt_code;
        char **rcpt_reply;
        SmtpReplyReader reader;
        int last_code;
        char *last_reply;
        SmtpStage last_stage;   /* what the last answer answered */
};

static const char *const outcome_table[_SMTP_OUTCOME_MAX] = {
        [SMTP_DELIVERED] = "delivered",
        [SMTP_TEMPORARY] = "temporary",
        [SMTP_PERMANENT] = "permanent",
};

static const char *const recipient_state_table[_SMTP_RECIPIENT_STATE_MAX] = {
        [SMTP_RECIPIENT_DELIVERED] = "delivered",
        [SMTP_RECIPIENT_DEFERRED] = "deferred",
        [SMTP_RECIPIENT_REFUSED] = "refused",
};

static const char *const stage_table[_SMTP_STAGE_MAX] = {
        [SMTP_STAGE_CONNECT] = "connect",
        [SMTP_STAGE_GREETING] = "greeting",
        [SMTP_STAGE_EHLO] = "EHLO",
        [SMTP_STAGE_STARTTLS] = "STARTTLS",
        [SMTP_STAGE_AUTH] = "AUTH",
        [SMTP_STAGE_MAIL] = "MAIL",
        [SMTP_STAGE_RCPT] = "RCPT",
        [SMTP_STAGE_DATA] = "DATA",
        [SMTP_STAGE_MESSAGE] = "end of data",
        [SMTP_STAGE_DONE] = "done",
};

const char *smtp_outcome_to_string(SmtpOutcome o) {
        return o >= 0 && o < _SMTP_OUTCOME_MAX ? outcome_table[o] : NULL;
}

const char *smtp_recipient_state_to_string(SmtpRecipientState s) {
        return s >= 0 && s < _SMTP_RECIPIENT_STATE_MAX ? recipient_state_table[s] : NULL;
}

const char *smtp_stage_to_string(SmtpStage s) {
        return s >= 0 && s < _SMTP_STAGE_MAX ? stage_table[s] : NULL;
}

/* ---- results ------------------------------------------------------------- */

void smtp_result_done(SmtpResult *r) {
        if (!r)
                return;
        free(r->reply);
        free(r->error);
        free(r->relay);
        for (size_t i = 0; i < r->n_recipients; i++) {
                free(r->recipients[i].address);
                free(r->recipients[i].reply);
        }
        free(r->recipients);
        *r = SMTP_RESULT_NULL;
}

static int strdup_or_null(const char *s, char **ret) {
        *ret = NULL;
        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

int smtp_result_copy(SmtpResult *dst, const SmtpResult *src) {
        SmtpResult r = *src;
        r.reply = r.error = r.relay = NULL;
        r.recipients = NULL;
        r.n_recipients = 0;
        if (strdup_or_null(src->reply, &r.reply) < 0 || strdup_or_null(src->error, &r.error) < 0 ||
            strdup_or_null(src->relay, &r.relay) < 0)
                goto fail;
        if (src->n_recipients > 0) {
                r.recipients = calloc(src->n_recipients, sizeof(SmtpRecipientResult));
                if (!r.recipients)
                        goto fail;
                for (size_t i = 0; i < src->n_recipients; i++) {
                        r.recipients[i] = src->recipients[i];
                        r.recipients[i].address = r.recipients[i].reply = NULL;
                        r.n_recipients++;
                        if (strdup_or_null(src->recipients[i].address, &r.recipients[i].address) < 0 ||
                            strdup_or_null(src->recipients[i].reply, &r.recipients[i].reply) < 0)
                                goto fail;
                }
        }
        *dst = r;
        return 0;
fail:
        smtp_result_done(&r);
        return -ENOMEM;
}

char *smtp_result_to_string(const SmtpResult *r) {
        StrBuf b = STRBUF_NULL;
        bool any = false;

        if (r->outcome == SMTP_DELIVERED)
                strbuf_puts(&b, "delivered to");
        else
                strbuf_printf(&b, "not delivered (%s failure)", smtp_outcome_to_string(r->outcome) ?: "unknown");
        for (size_t i = 0; i < r->n_recipients; i++)
                if (r->recipients[i].state == SMTP_RECIPIENT_DELIVERED) {
                        strbuf_printf(&b, "%s %s", any ? "," : r->outcome == SMTP_DELIVERED ? "" : "; delivered to",
                                      r->recipients[i].address);
                        any = true;
                }
        if (r->relay && any)
                strbuf_printf(&b, " via %s", r->relay);
        for (size_t i = 0; i < r->n_recipients; i++)
                if (r->recipients[i].state != SMTP_RECIPIENT_DELIVERED)
                        strbuf_printf(&b, "; %s %s%s%s", r->recipients[i].address,
                                      smtp_recipient_state_to_string(r->recipients[i].state),
                                      r->recipients[i].reply ? ": " : "", r->recipients[i].reply ?: "");
        if (r->outcome != SMTP_DELIVERED && r->error)
                strbuf_printf(&b, "; %s", r->error);
        return strbuf_steal(&b);
}

/* ---- text from the relay -------------------------------------------------- */

/* Replaces every form of the password in b's text (and what a hostile
 * relay could echo of it) with "(hidden)". The places are found in the
 * text as it came, so that no mask is searched again (a password that is
 * part of "(hidden)" would otherwise be found in its own mask for ever).
 * On failure b is wiped and emptied: nothing unscrubbed is left. */
static int scrub(char *const *hidden, StrBuf *b) {
        static const char mask[] = "(hidden)";
        if (b->oom || !b->data || b->len == 0)
                return b->oom ? -ENOMEM : 0;
        bool *covered = NULL;
        STRV_FOREACH(h, (char **) hidden) {
                size_t n = strlen(*h);
                if (n == 0)
                        continue;
                for (const char *p = b->data; p < b->data + b->len &&
                                              (p = memmem(p, (size_t) (b->data + b->len - p), *h, n));
                     p++) {
                        if (!covered && !(covered = calloc(b->len, sizeof(bool)))) {
                                strbuf_done_erase(b);
                                return -ENOMEM;
                        }
                        memset(covered + (p - b->data), true, n);
                }
        }
        if (!covered)
                return 0;
        StrBuf t = STRBUF_NULL;
        for (size_t i = 0; i < b->len; i++)
                if (!covered[i])
                        strbuf_putc(&t, b->data[i]);
                else if (i == 0 || !covered[i - 1])
                        strbuf_append(&t, mask, strlen(mask));
        free(covered);
        strbuf_done_erase(b);
        if (strbuf_failed(&t)) {
                strbuf_done_erase(&t);
                return -ENOMEM;
        }
        *b = t;
        return 0;
}

void smtp_relay_text(char *const *hidden, StrBuf *out, const char *s, size_t n, size_t max) {
        StrBuf t = STRBUF_NULL;
        strbuf_append(&t, s, n);
        if (scrub(hidden, &t) < 0) {
                strbuf_done_erase(&t);
                out->oom = true;
                return;
        }
        for (size_t i = 0; i < t.len && i < max;) {
                unsigned char ch = (unsigned char) t.data[i];
                size_t len = ch < 0x80 ? 1 : (ch & 0xe0) == 0xc0 ? 2 : (ch & 0xf0) == 0xe0 ? 3 : (ch & 0xf8) == 0xf0 ? 4 : 0;
                if (ch < 0x20 || ch == 0x7f || len == 0 || i + len > t.len || !utf8_is_valid(t.data + i, len)) {
                        strbuf_putc(out, '?');
                        i++;
                        continue;
                }
                strbuf_append(out, t.data + i, len);
                i += len;
        }
        if (t.len > max)
                strbuf_puts(out, "...");
        strbuf_done_erase(&t);
}

static void put_relay_text(const SmtpClient *c, StrBuf *out, const char *s, size_t n, size_t max) {
        smtp_relay_text(c->hidden, out, s, n, max);
}

/* ---- the relay's answers -------------------------------------------------- */

void smtp_reply_reader_done(SmtpReplyReader *r) {
        if (!r)
                return;
        strbuf_done_erase(&r->line);
        strbuf_done_erase(&r->reply);
}

static bool reply_line_is_valid(const char *l, size_t n) {
        return n >= 3 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' && l[2] >= '0' && l[2] <= '9' &&
               (n == 3 || l[3] == ' ' || l[3] == '-');
}

static void reader_line(SmtpReplyReader *r, char *const *hidden, const char *l, size_t n, SmtpReplyLineFunc on_line,
                        SmtpReplyFunc on_reply, void *userdata) {
        StrBuf clean = STRBUF_NULL;

        smtp_relay_text(hidden, &clean, l, n, SMTP_REPLY_LINE_MAX);
        if (on_line)
                on_line(clean.data ?: "", userdata);
        if (r->reply.len < SMTP_REPLY_MAX) {
                if (r->reply.len > 0)
                        strbuf_putc(&r->reply, '\n');
                strbuf_append(&r->reply, clean.data ?: "", clean.len);
        }
        strbuf_done(&clean);

        /* a continuation line ("250-..."), or junk: wait for the last line */
        if (!reply_line_is_valid(l, n) || (n > 3 && l[3] == '-'))
                return;
        int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
        char *text = strbuf_steal(&r->reply);
        if (text)
                on_reply(code, text, userdata);
}

void smtp_reply_reader_feed(SmtpReplyReader *r, char *const *hidden, const char *data, size_t size,
                            SmtpReplyLineFunc on_line, SmtpReplyFunc on_reply, void *userdata) {
        /* libcurl hands over one line per call; do not rely on it */
        for (size_t i = 0; i < size; i++) {
                if (data[i] == '\n') {
                        size_t n = r->line.len;
                        while (n > 0 && r->line.data[n - 1] == '\r')
                                n--;
                        reader_line(r, hidden, r->line.data ?: "", n, on_line, on_reply, userdata);
                        strbuf_done_erase(&r->line);
                } else if (r->line.len < 4 * SMTP_REPLY_LINE_MAX)
                        strbuf_putc(&r->line, data[i]);
        }
}

/* ---- the conversation ------------------------------------------------------ */

#define send_debug(s, fmt, ...)                                                                 \
        do {                                                                                    \
                if ((s)->client->has_logger)                                                    \
                        logger_printf(&(s)->client->logger, LOG_DEBUG, "smtp %s: " fmt,         \
                                      (s)->client->shown_urls[(s)->relay], ##__VA_ARGS__);      \
        } while (0)

static bool word_is(const char *line, size_t n, const char *word) {
        size_t k = strlen(word);
        return n >= k && strncasecmp(line, word, k) == 0 && (n == k || line[k] == ' ' || line[k] == '\r' || line[k] == '\n');
}

/* A command libcurl sent. Only the verb is looked at (and the rest of the
 * harmless ones is logged); while an AUTH exchange is going on, nothing. */
static void on_command(SmtpSend *s, const char *line, size_t n) {
        size_t len = n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;

        if (s->in_auth) {
                send_debug(s, "> (AUTH data, not shown)");
                return;
        }
        if (word_is(line, len, "AUTH")) {
                const char *m = line + 4 + strspn(line + 4, " ");
                size_t mlen = strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
                s->stage = SMTP_STAGE_AUTH;
                s->in_auth = true;
                send_debug(s, "> AUTH %.*s (credentials not shown)", (int) MIN(mlen, (size_t) 32), m);
                return;
        }
        if (word_is(line, len, "EHLO") || word_is(line, len, "HELO"))
                s->stage = SMTP_STAGE_EHLO;
        else if (word_is(line, len, "STARTTLS"))
                s->stage = SMTP_STAGE_STARTTLS;
        else if (word_is(line, len, "MAIL"))
                s->stage = SMTP_STAGE_MAIL;
        else if (word_is(line, len, "RCPT"))
                s->stage = SMTP_STAGE_RCPT;
        else if (word_is(line, len, "DATA"))
                s->stage = SMTP_STAGE_DATA;
        else if (word_is(line, len, "QUIT"))
                s->quitting = true;
        else {
                send_debug(s, "> (a command not shown)");
                return;
        }
        StrBuf b = STRBUF_NULL;
        put_relay_text(s->client, &b, line, len, SMTP_REPLY_LINE_MAX);
        send_debug(s, "> %s", b.data ?: "");
        strbuf_done(&b);
}

/* One complete answer: the code and its lines (clean, joined by "\n"). */
static void on_reply(SmtpSend *s, int code, char *text) {
        SmtpStage answered = s->stage;

        if (s->quitting) {
                free(text);
                return;
        }
        switch (s->stage) {
        case SMTP_STAGE_CONNECT:
                answered = SMTP_STAGE_GREETING;
                s->stage = SMTP_STAGE_GREETING;
                break;
        case SMTP_STAGE_AUTH:
                if (code != 334)
                        s->in_auth = false;
                break;
        case SMTP_STAGE_RCPT:
                if (s->rcpt_answered < s->n_recipients) {
                        size_t i = s->rcpt_answered++;
                        s->rcpt_code[i] = code;
                        free(s->rcpt_reply[i]);
                        s->rcpt_reply[i] = strdup(text);
                }
                break;
        case SMTP_STAGE_DATA:
                if (code == 354)
                        s->stage = SMTP_STAGE_MESSAGE;
                break;
        case SMTP_STAGE_MESSAGE:
                if (code / 100 == 2)
                        s->stage = SMTP_STAGE_DONE;
                break;
        default:
                break;
        }
        s->last_code = code;
        s->last_stage = answered;
        free(s->last_reply);
        s->last_reply = text;
}

static void on_reply_line(const char *clean, void *userdata) {
        SmtpSend *s = userdata;
        send_debug(s, "< %s", clean);
}

static void on_reply_text(int code, char *text, void *userdata) {
        on_reply(userdata, code, text);
}

static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size, void *userdata) {
        SmtpSend *s = userdata;
        switch (type) {
        case CURLINFO_HEADER_OUT:
                on_command(s, data, size);
                break;
        case CURLINFO_HEADER_IN:
                smtp_reply_reader_feed(&s->reader, s->client->hidden, data, size, on_reply_line, on_reply_text, s);
                break;
        case CURLINFO_TEXT:
                /* libcurl's own remarks; the TLS record trace is left out */
                if (s->client->has_logger && !(size >= 4 && strneq(data, "TLSv", 4))) {
                        StrBuf b = STRBUF_NULL;
                        put_relay_text(s->client, &b, data, size > 0 && data[size - 1] == '\n' ? size - 1 : size,
                                       SMTP_REPLY_LINE_MAX);
                        send_debug(s, "%s", b.data ?: "");
                        strbuf_done(&b);
                }
                break;
        default:
                /* the message (DATA_OUT) and TLS records: never looked at */
                break;
        }
        return 0;
}

/* libcurl waits for the answer to QUIT synchronously when it closes a
 * connection after a successful transfer (smtp_disconnect()). The message
 * is delivered by then: stop that wait at the first progress check instead
 * of letting a slow relay hold up the event loop. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        SmtpSend *s = userdata;
        return s->quitting ? 1 : 0;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata) {
        SmtpSend *s = userdata;
        size_t n = MIN(size * nitems, s->size - s->offset);
        memcpy(buf, s->data + s->offset, n);
        s->offset += n;
        return n;
}

/* ---- one relay after the other ------------------------------------------- */

static void send_reset_conversation(SmtpSend *s) {
        size_t n = s->n_recipients;
        s->offset = 0;
        s->errbuf[0] = '\0';
        s->stage = SMTP_STAGE_CONNECT;
        s->in_auth = s->quitting = false;
        s->rcpt_answered = 0;
        for (size_t i = 0; i < n; i++) {
                s->rcpt_code[i] = 0;
                s->rcpt_reply[i] = mfree(s->rcpt_reply[i]);
        }
        smtp_reply_reader_done(&s->reader);
        s->last_code = 0;
        s->last_reply = mfree(s->last_reply);
        s->last_stage = SMTP_STAGE_CONNECT;
}

#define SETOPT(e, opt, val)                                                     \
        do {                                                                    \
                if (curl_easy_setopt((e), (opt), (val)) != CURLE_OK)            \
                        return -EIO;                                            \
        } while (0)

static int send_setup_easy(SmtpSend *s, CURL *e) {
        SmtpClient *c = s->client;
        const char *url = c->urls[s->relay];
        bool smtps = strncasecmp(url, "smtps:", 6) == 0;
        long timeout_ms = (long) MIN(c->timeout / USEC_PER_MSEC, (usec_t) LONG_MAX);

        SETOPT(e, CURLOPT_URL, url);
        SETOPT(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        SETOPT(e, CURLOPT_PRIVATE, s);
        SETOPT(e, CURLOPT_NOSIGNAL, 1L);
        SETOPT(e, CURLOPT_ERRORBUFFER, s->errbuf);
        /* the conversation, for the answers to each command */
        SETOPT(e, CURLOPT_VERBOSE, 1L);
        SETOPT(e, CURLOPT_DEBUGFUNCTION, on_debug);
        SETOPT(e, CURLOPT_DEBUGDATA, s);
        SETOPT(e, CURLOPT_NOPROGRESS, 0L);
        SETOPT(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        SETOPT(e, CURLOPT_XFERINFODATA, s);
        /* one connection per attempt: nothing stale, a full conversation each time */
        SETOPT(e, CURLOPT_FRESH_CONNECT, 1L);
        SETOPT(e, CURLOPT_FORBID_REUSE, 1L);

        SETOPT(e, CURLOPT_USE_SSL,
               (long) (smtps || c->starttls == STARTTLS_REQUIRED ? CURLUSESSL_ALL :
                       c->starttls == STARTTLS_OPTIONAL          ? CURLUSESSL_TRY :
                                                                   CURLUSESSL_NONE));
        SETOPT(e, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
        SETOPT(e, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(e, CURLOPT_SSL_VERIFYHOST, 2L);
        if (c->ca_file)
                SETOPT(e, CURLOPT_CAINFO, c->ca_file);
        if (c->username) {
                SETOPT(e, CURLOPT_USERNAME, c->username);
                SETOPT(e, CURLOPT_PASSWORD, c->password);
        }

        SETOPT(e, CURLOPT_TIMEOUT_MS, timeout_ms);
        SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
        SETOPT(e, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long) MAX((c->timeout + USEC_PER_SEC - 1) / USEC_PER_SEC, (usec_t) 1));

        SETOPT(e, CURLOPT_MAIL_FROM, c->mail_from);
        SETOPT(e, CURLOPT_MAIL_RCPT, s->rcpt_list);
        SETOPT(e, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
        SETOPT(e, CURLOPT_UPLOAD, 1L);
        SETOPT(e, CURLOPT_READFUNCTION, on_read);
        SETOPT(e, CURLOPT_READDATA, s);
        SETOPT(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t) s->size);
        return 0;
}

static void send_transfer_done(CurlGlue *g, CURL *easy, CURLcode result, void *userdata);

static int send_start_relay(SmtpSend *s) {
        CURL *e = curl_easy_init();
        int r;

        if (!e)
                return -ENOMEM;
        send_reset_conversation(s);
        r = send_setup_easy(s, e);
        if (r >= 0)
                r = curl_glue_add_with(s->client->glue, e, send_transfer_done, s);
        if (r < 0) {
                curl_easy_cleanup(e);
                return r;
        }
        s->easy = e;
        s->relays_tried++;
        send_debug(s, "sending a message of %zu bytes to %zu recipient%s", s->size, s->n_recipients,
                   s->n_recipients == 1 ? "" : "s");
        return 0;
}

typedef enum Verdict {
        VERDICT_ACCEPTED,       /* the relay took the message */
        VERDICT_NEXT,           /* this relay cannot take it now: the next one, or later */
        VERDICT_REFUSED,        /* refused for good */
} Verdict;

static bool all_recipients_refused(const SmtpSend *s) {
        for (size_t i = 0; i < s->n_recipients; i++)
                if (s->rcpt_code[i] / 100 != 5)
                        return false;
        return s->n_recipients > 0;
}

static Verdict send_judge(SmtpSend *s, CURLcode result, CURL *e) {
        long response = 0;

        if (result == CURLE_OK)
                return VERDICT_ACCEPTED;
        /* the code of the relay's last answer decides, not the CURLcode: a 4xx
         * or 5xx after the text arrives as CURLE_WEIRD_SERVER_REPLY */
        (void) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &response);
        if (s->last_code == 0 && response >= 200 && response <= 599) {
                s->last_code = (int) response;
                s->last_stage = s->stage;
        }
        if (s->last_code < 400)
                return VERDICT_NEXT;   /* no refusal: connection, TLS, timeout */
        switch (s->last_stage) {
        case SMTP_STAGE_MAIL:
                /* 530: authentication required, a session problem, not the message's */
                return s->last_code / 100 == 5 && s->last_code != 530 ? VERDICT_REFUSED : VERDICT_NEXT;
        case SMTP_STAGE_RCPT:
                return all_recipients_refused(s) ? VERDICT_REFUSED : VERDICT_NEXT;
        case SMTP_STAGE_DATA:
        case SMTP_STAGE_MESSAGE:
                return s->last_code / 100 == 5 ? VERDICT_REFUSED : VERDICT_NEXT;
        default:
                /* greeting, EHLO, STARTTLS, AUTH: this relay's session failed */
                return VERDICT_NEXT;
        }
}

/* What happened at this relay, for SmtpResult.error. */
static void send_note_failure(SmtpSend *s, CURLcode result) {
        SmtpClient *c = s->client;
        StrBuf *b = &s->errors;

        if (b->len > 0)
                strbuf_puts(b, "; ");
        strbuf_printf(b, "%s: ", c->shown_urls[s->relay]);
        if (s->last_code >= 400 && s->last_reply) {
                if (s->last_stage == SMTP_STAGE_AUTH)
                        strbuf_puts(b, "AUTH refused: ");
                else
                        strbuf_printf(b, "%s refused: ", smtp_stage_to_string(s->last_stage));
                put_relay_text(c, b, s->last_reply, strlen(s->last_reply), SMTP_REPLY_MAX);
                return;
        }
        if (result == CURLE_USE_SSL_FAILED && s->stage == SMTP_STAGE_EHLO)
                strbuf_puts(b, "STARTTLS is required (email.starttls) but the relay does not offer it");
        else if (result == CURLE_LOGIN_DENIED)
                strbuf_puts(b, "AUTH failed: the relay offers no usable mechanism, or refused the login");
        else {
                const char *what = !isempty(s->errbuf) ? s->errbuf : curl_easy_strerror(result);
                if (result == CURLE_OPERATION_TIMEDOUT)
                        strbuf_printf(b, "timed out at %s: ", smtp_stage_to_string(s->stage));
                put_relay_text(c, b, what, strlen(what), SMTP_REPLY_MAX);
        }
}

static void send_unlink(SmtpSend *s) {
        SmtpClient *c = s->client;
        if (s->prev)
                s->prev->next = s->next;
        else if (c->sends == s)
                c->sends = s->next;
        if (s->next)
                s->next->prev = s->prev;
        s->prev = s->next = NULL;
        if (c->n_sends > 0)
                c->n_sends--;
}

static SmtpSend *send_free(SmtpSend *s) {
        if (!s)
                return NULL;
        if (s->easy) {
                /* A transfer removed in mid-conversation: libcurl's
                 * smtp_done() takes it for a finished upload, sends the end
                 * of data and waits for the answer, blocking the loop up to
                 * the response timeout. Without recipients it skips that. */
                (void) curl_easy_setopt(s->easy, CURLOPT_MAIL_RCPT, (struct curl_slist *) NULL);
                curl_glue_remove(s->client->glue, s->easy);
                curl_easy_cleanup(s->easy);
        }
        if (s->data) {
                OPENSSL_cleanse(s->data, s->size);
                free(s->data);
        }
        strv_free(s->recipients);
        curl_slist_free_all(s->rcpt_list);
        for (size_t i = 0; s->rcpt_reply && i < s->n_recipients; i++)
                free(s->rcpt_reply[i]);
        free(s->rcpt_reply);
        free(s->rcpt_code);
        strbuf_done(&s->errors);
        smtp_reply_reader_done(&s->reader);
        free(s->last_reply);
        return mfree(s);
}

static void send_finish(SmtpSend *s, Verdict v, bool exhausted) {
        SmtpClient *c = s->client;
        SmtpResult r = SMTP_RESULT_NULL;
        size_t n = s->n_recipients;
        bool deferred = false, oom = false;

        r.stage = s->last_code >= 400 && v != VERDICT_ACCEPTED ? s->last_stage : s->stage;
        r.code = s->last_code;
        r.relays_tried = s->relays_tried;
        r.relay = strdup(c->shown_urls[s->relay]);
        r.reply = s->last_reply ? strdup(s->last_reply) : NULL;
        r.error = s->errors.len > 0 ? strdup(s->errors.data) : NULL;
        r.recipients = calloc(n, sizeof(SmtpRecipientResult));
        oom = !r.relay || (s->last_reply && !r.reply) || (s->errors.len > 0 && !r.error) || (n > 0 && !r.recipients);
        for (size_t i = 0; !oom && i < n; i++) {
                SmtpRecipientResult *rr = &r.recipients[i];
                int code = s->rcpt_code[i];
                const char *reply = s->rcpt_reply[i];

                r.n_recipients++;
                if (code / 100 == 5)
                        rr->state = SMTP_RECIPIENT_REFUSED;     /* this recipient, for good */
                else if (v == VERDICT_ACCEPTED)
                        rr->state = code / 100 == 2 ? SMTP_RECIPIENT_DELIVERED : SMTP_RECIPIENT_DEFERRED;
                else if (v == VERDICT_REFUSED) {
                        /* the message refused for good: so for everyone */
                        rr->state = SMTP_RECIPIENT_REFUSED;
                        code = s->last_code;
                        reply = s->last_reply;
                } else {
                        rr->state = SMTP_RECIPIENT_DEFERRED;
                        if (code / 100 != 4) {
                                code = s->last_code;
                                reply = s->last_reply;
                        }
                }
                rr->code = code;
                rr->address = strdup(s->recipients[i]);
                rr->reply = reply ? strdup(reply) : NULL;
                oom = !rr->address || (reply && !rr->reply);
                if (rr->state == SMTP_RECIPIENT_DEFERRED && v == VERDICT_ACCEPTED) {
                        /* the message went out, but not to this one: say so in the error */
                        strbuf_printf(&s->errors, "%s%s: %s deferred: ", s->errors.len > 0 ? "; " : "",
                                      c->shown_urls[s->relay], rr->address ?: "");
                        strbuf_puts(&s->errors, reply ?: "no answer");
                }
                deferred = deferred || rr->state == SMTP_RECIPIENT_DEFERRED;
        }
        if (deferred && v == VERDICT_ACCEPTED && !oom) {
                free(r.error);
                r.error = strdup(s->errors.data ?: "");
                oom = !r.error;
        }
        if (v == VERDICT_ACCEPTED)
                r.outcome = deferred ? SMTP_TEMPORARY : SMTP_DELIVERED;
        else if (v == VERDICT_REFUSED)
                r.outcome = SMTP_PERMANENT;
        else
                r.outcome = SMTP_TEMPORARY;
        if (oom) {
                /* report what is certain, without details */
                smtp_result_done(&r);
                r.outcome = SMTP_TEMPORARY;
                r.stage = s->stage;
        }
        send_debug(s, "%s after %u relay%s%s", smtp_outcome_to_string(r.outcome), s->relays_tried,
                   s->relays_tried == 1 ? "" : "s", exhausted ? " (no relay left)" : "");

        send_unlink(s);
        if (s->done)
                s->done(c, &r, s->userdata);   /* may free c */
        smtp_result_done(&r);
        send_free(s);
}

/* The end of a transfer of this send, reported by the glue to this send
 * alone (curl_glue_add_with()). */
static void send_transfer_done(CurlGlue *g, CURL *easy, CURLcode result, void *userdata) {
        SmtpSend *s = userdata;
        SmtpClient *c = s->client;

        assert(s->easy == easy);
        Verdict v = send_judge(s, result, easy);
        curl_glue_remove(g, easy);
        curl_easy_cleanup(easy);
        s->easy = NULL;

        if (v != VERDICT_ACCEPTED)
                send_note_failure(s, result);
        if (v == VERDICT_NEXT) {
                while (c->urls[s->relay + 1]) {
                        s->relay++;
                        int r = send_start_relay(s);
                        if (r >= 0)
                                return;
                        send_debug(s, "cannot start: %s", strerror(-r));
                        if (s->errors.len > 0)
                                strbuf_puts(&s->errors, "; ");
                        strbuf_printf(&s->errors, "%s: cannot start: %s", c->shown_urls[s->relay], strerror(-r));
                }
                send_finish(s, v, true);
                return;
        }
        send_finish(s, v, false);
}

/* ---- the client ------------------------------------------------------------ */

static bool ehlo_name_is_valid(const char *h) {
        size_t n = h ? strlen(h) : 0;
        if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-' || strstr(h, ".."))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') || (h[i] >= '0' && h[i] <= '9') ||
                      h[i] == '-' || h[i] == '.'))
                        return false;
        return true;
}

/* The relay URL with the EHLO name as its path (libcurl says EHLO with the
 * URL's path); a path written in the configuration stays. */
static int relay_url(const char *url, const char *ehlo, char **ret) {
        CURLU *u = curl_url();
        char *path = NULL, *full = NULL;
        _cleanup_free_ char *p = NULL;
        int r = -EINVAL;

        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
                goto finish;
        if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK || isempty(path) || streq(path, "/")) {
                if (asprintf(&p, "/%s", ehlo) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                if (curl_url_set(u, CURLUPART_PATH, p, 0) != CURLUE_OK)
                        goto finish;
        }
        if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
                goto finish;
        *ret = strdup(full);
        r = *ret ? 0 : -ENOMEM;
finish:
        curl_free(path);
        curl_free(full);
        curl_url_cleanup(u);
        return r;
}

static char *base64(const void *p, size_t n) {
        char *out = malloc(4 * ((n + 2) / 3) + 1);
        if (out)
                EVP_EncodeBlock((unsigned char *) out, p, (int) n);
        return out;
}

/* The password as it travels (AUTH LOGIN: base64 of it; AUTH PLAIN: base64
 * of "\0user\0password") and as it is: none of them may be shown. */
static int make_hidden(SmtpClient *c) {
        size_t ul = strlen(c->username), pl = strlen(c->password);
        StrBuf plain = STRBUF_NULL;
        int r = 0;

        strbuf_putc(&plain, '\0');
        strbuf_append(&plain, c->username, ul);
        strbuf_putc(&plain, '\0');
        strbuf_append(&plain, c->password, pl);
        char *forms[] = { strdup(c->password), base64(c->password, pl),
                          plain.oom ? NULL : base64(plain.data, plain.len) };
        strbuf_done_erase(&plain);
        for (size_t i = 0; i < ELEMENTSOF(forms); i++)
                if (!forms[i] || strv_push(&c->hidden, forms[i]) < 0)
                        r = -ENOMEM;
        return r;
}

int smtp_client_new(CurlGlue *glue, const EmailConfig *email, const char *password, const char *local_hostname,
                    const Logger *logger, SmtpClient **ret) {
        _cleanup_(smtp_client_freep) SmtpClient *c = NULL;
        const char *ehlo = ehlo_name_is_valid(local_hostname) ? local_hostname : "localhost";
        int r;

        if (!glue || !email || strv_length(email->smtp_urls) == 0 || !email_address_is_valid(email->from_address))
                return -EINVAL;
        if (email->username && !password)
                return -ENOKEY;

        c = calloc(1, sizeof(SmtpClient));
        if (!c)
                return -ENOMEM;
        c->glue = glue;
        c->starttls = email->starttls;
        c->timeout = email->timeout > 0 ? email->timeout : 60 * USEC_PER_SEC;
        if (logger) {
                c->logger = *logger;
                c->has_logger = true;
        }
        c->shown_urls = strv_copy(email->smtp_urls);
        if (!c->shown_urls || asprintf(&c->mail_from, "<%s>", email->from_address) < 0)
                return -ENOMEM;
        STRV_FOREACH(u, email->smtp_urls) {
                char *full;
                r = relay_url(*u, ehlo, &full);
                if (r < 0)
                        return r;
                r = strv_push(&c->urls, full);
                if (r < 0)
                        return r;
        }
        if (strdup_or_null(email->ca_file, &c->ca_file) < 0)
                return -ENOMEM;
        if (email->username) {
                if (strdup_or_null(email->username, &c->username) < 0 || strdup_or_null(password, &c->password) < 0)
                        return -ENOMEM;
                r = make_hidden(c);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

SmtpClient *smtp_client_free(SmtpClient *c) {
        if (!c)
                return NULL;
        while (c->sends) {
                SmtpSend *s = c->sends;
                send_unlink(s);
                send_free(s);
        }
        strv_free(c->urls);
        strv_free(c->shown_urls);
        free(c->username);
        smtp_password_free(c->password);
        STRV_FOREACH(h, c->hidden)
                OPENSSL_cleanse(*h, strlen(*h));
        strv_free(c->hidden);
        free(c->mail_from);
        free(c->ca_file);
        return mfree(c);
}

int smtp_client_send(SmtpClient *c, const char *data, char *const *recipients, SmtpDoneFunc done, void *userdata,
                     SmtpSend **ret) {
        SmtpSend *s;
        size_t n = strv_length(recipients);
        int r;

        if (!c || !data || n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!email_address_is_valid(recipients[i]))
                        return -EINVAL;

        s = calloc(1, sizeof(SmtpSend));
        if (!s)
                return -ENOMEM;
        s->client = c;
        s->done = done;
        s->userdata = userdata;
        s->size = strlen(data);
        s->data = strdup(data);
        s->recipients = strv_copy(recipients);
        s->n_recipients = n;
        s->rcpt_code = calloc(n, sizeof(int));
        s->rcpt_reply = calloc(n + 1, sizeof(char *));
        if (!s->data || !s->recipients || !s->rcpt_code || !s->rcpt_reply) {
                send_free(s);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *a = NULL;
                struct curl_slist *l;
                if (asprintf(&a, "<%s>", recipients[i]) < 0 || !(l = curl_slist_append(s->rcpt_list, a))) {
                        send_free(s);
                        return -ENOMEM;
                }
                s->rcpt_list = l;
        }

        r = send_start_relay(s);
        if (r < 0) {
                send_free(s);
                return r;
        }
        s->next = c->sends;
        if (c->sends)
                c->sends->prev = s;
        c->sends = s;
        c->n_sends++;
        if (ret)
                *ret = s;
        return 0;
}

void smtp_send_cancel(SmtpSend *s) {
        if (!s)
                return;
        send_debug(s, "cancelled");
        send_unlink(s);
        send_free(s);
}

unsigned smtp_client_in_flight(SmtpClient *c) {
        return c ? c->n_sends : 0;
}

/* ---- one message, now ------------------------------------------------------- */

typedef struct SendNow {
        SmtpClient *client;
        SmtpResult result;
        int error;
        bool done;
} SendNow;

static void send_now_done(SmtpClient *c, const SmtpResult *result, void *userdata) {
        SendNow *n = userdata;
        n->error = smtp_result_copy(&n->result, result);
        n->done = true;
}

int smtp_send_now(const EmailConfig *email, const char *password, const char *local_hostname, const char *data,
                  char *const *recipients, const Logger *logger, SmtpResult *ret) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(curl_glue_freep) CurlGlue *glue = NULL;
        SendNow n = { .result = SMTP_RESULT_NULL };
        int r;

        r = curl_glue_global_init();
        if (r < 0)
                return r;
        r = sd_event_new(&event);
        if (r < 0)
                return r;
        r = curl_glue_new(event, NULL, NULL, &glue);
        if (r < 0)
                return r;
        r = smtp_client_new(glue, email, password, local_hostname, logger, &n.client);
        if (r < 0)
                return r;
        r = smtp_client_send(n.client, data, recipients, send_now_done, &n, NULL);
        while (r >= 0 && !n.done) {
                r = sd_event_run(event, UINT64_MAX);
                if (r > 0)
                        r = 0;
        }
        smtp_client_free(n.client);
        if (r < 0)
                return r;
        if (n.error < 0)
                return n.error;
        *ret = n.result;
        return 0;
}

/* ---- the password ------------------------------------------------------------ */

char *smtp_password_free(char *p) {
        if (p) {
                OPENSSL_cleanse(p, strlen(p));
                free(p);
        }
        return NULL;
}

char *smtp_password_path(const EmailConfig *email, const char *credentials_directory) {
        char *p = NULL;
        if (email->password_file)
                return strdup(email->password_file);
        if (!isempty(credentials_directory) && asprintf(&p, "%s/tomslink.smtp", credentials_directory) < 0)
                return NULL;
        return p;
}

int smtp_password_load(const EmailConfig *email, const char *credentials_directory, char **ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        StrBuf b = STRBUF_NULL;
        char buf[512];
        int r = 0;

        if (!email->username) {
                *ret = NULL;
                return 0;
        }
        if (!email->password_file && isempty(credentials_directory))
                return -ENOKEY;
        path = smtp_password_path(email, credentials_directory);
        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t k = read(fd, buf, sizeof buf);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                if (b.len + (size_t) k > PASSWORD_FILE_MAX) {
                        r = -EFBIG;
                        break;
                }
                strbuf_append(&b, buf, (size_t) k);
        }
        OPENSSL_cleanse(buf, sizeof buf);
        if (r >= 0 && strbuf_failed(&b))
                r = -ENOMEM;
        if (r >= 0) {
                const char *nl = b.data ? memchr(b.data, '\n', b.len) : NULL;
                size_t n = nl ? (size_t) (nl - b.data) : b.len;
                while (n > 0 && b.data[n - 1] == '\r')
                        n--;
                if (n == 0 || memchr(b.data, '\0', n))
                        r = -EBADMSG;
                else {
                        char *p = strndup(b.data, n);
                        if (!p)
                                r = -ENOMEM;
                        else
                                *ret = p;
                }
        }
        strbuf_done_erase(&b);
        return r;
}
