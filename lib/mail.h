/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Alert e-mails: one RFC 5322 message per alert, built once and stored as
 * is (the outbox retries the same bytes, so the Message-ID is stable).
 * CRLF line ends, UTF-8 text in a quoted-printable text/plain body, every
 * header line plain ASCII: values from outside (link names, consumer
 * names, probe errors, a relay's answers) are cleaned of control
 * characters and RFC 2047-encoded where they are not ASCII, so none of
 * them can add a header or break the structure. */

#include "alert.h"
#include "config.h"
#include "time-util.h"

typedef struct MailMessage {
        char *message_id;       /* the Message-ID header value, "<...@host>" */
        char *subject;          /* the subject as a reader sees it (UTF-8, one line) */
        char *data;             /* the whole message, CRLF line ends */
        char **recipients;      /* envelope recipients (strv), the same as the To: header */
} MailMessage;

#define MAIL_MESSAGE_NULL ((MailMessage) {})

void mail_message_done(MailMessage *m);

/* Formats the e-mail for an alert. Recipients are email.to plus the link's
 * email_to, de-duplicated (ignoring case); for mail-undeliverable only
 * email.to. link is the link's configuration, or NULL when the alert has
 * no link or the link is no longer configured (then the consumers are not
 * known and the text says so). hostname names this machine in the
 * Message-ID and the text. Dates are in the configuration's time zone.
 * Returns -EINVAL when e-mail is not configured or an address is invalid,
 * -ENOMEM. */
int mail_format_alert(const Alert *a, const LinkConfig *link, const Config *c, const char *hostname,
                      MailMessage *ret);

/* The message of "tomslinkctl test-email", to email.to, dated now. */
int mail_format_test(const Config *c, const char *hostname, usec_t now, MailMessage *ret);

/* Building blocks, exposed for the tests. */

/* An unstructured header field ("Subject", ...) with its value, folded
 * under 78 characters where the words allow, RFC 2047 encoded-words when
 * the value is not plain ASCII; ends with CRLF. NULL on ENOMEM. */
char *mail_header_unstructured(const char *name, const char *value);
/* RFC 5322 date-time, "Mon, 01 Mar 2027 10:00:00 -0800", of t in tz. */
char *mail_format_date(char *buf, size_t n, const Tz *tz, usec_t t);
#define MAIL_DATE_MAX 40
/* Quoted-printable encoding of UTF-8 text with LF line ends: lines end in
 * CRLF, none longer than 76 characters. NULL on ENOMEM. */
char *mail_quoted_printable(const char *text);
