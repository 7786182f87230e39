/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "alert.h"

#include <syslog.h>

#include "strbuf.h"

static const char *const alert_kind_table[_ALERT_KIND_MAX] = {
        [ALERT_CREDENTIAL_EXPIRING] = "credential-expiring",
        [ALERT_CREDENTIAL_EXPIRED] = "credential-expired",
        [ALERT_AUTH_REJECTED] = "auth-rejected",
        [ALERT_LINK_DOWN] = "link-down",
        [ALERT_LINK_RECOVERED] = "link-recovered",
        [ALERT_ENDPOINT_CERT_EXPIRING] = "endpoint-cert-expiring",
        [ALERT_MAIL_UNDELIVERABLE] = "mail-undeliverable",
};

static const char *const alert_message_id_table[_ALERT_KIND_MAX] = {
        [ALERT_CREDENTIAL_EXPIRING] = ALERT_MESSAGE_ID_CREDENTIAL_EXPIRING,
        [ALERT_CREDENTIAL_EXPIRED] = ALERT_MESSAGE_ID_CREDENTIAL_EXPIRED,
        [ALERT_AUTH_REJECTED] = ALERT_MESSAGE_ID_AUTH_REJECTED,
        [ALERT_LINK_DOWN] = ALERT_MESSAGE_ID_LINK_DOWN,
        [ALERT_LINK_RECOVERED] = ALERT_MESSAGE_ID_LINK_RECOVERED,
        [ALERT_ENDPOINT_CERT_EXPIRING] = ALERT_MESSAGE_ID_ENDPOINT_CERT_EXPIRING,
        [ALERT_MAIL_UNDELIVERABLE] = ALERT_MESSAGE_ID_MAIL_UNDELIVERABLE,
};

const char *alert_kind_to_string(AlertKind k) {
        return k >= 0 && k < _ALERT_KIND_MAX ? alert_kind_table[k] : NULL;
}

AlertKind alert_kind_from_string(const char *s) {
        for (int i = 0; s && i < _ALERT_KIND_MAX; i++)
                if (streq(alert_kind_table[i], s))
                        return i;
        return _ALERT_KIND_INVALID;
}

const char *alert_kind_message_id(AlertKind k) {
        return k >= 0 && k < _ALERT_KIND_MAX ? alert_message_id_table[k] : NULL;
}

void alert_done(Alert *a) {
        free(a->link);
        free(a->error);
        free(a->cert_subject);
        free(a->cert_sha256);
        free(a->mail_subject);
        free(a->mail_error);
        *a = ALERT_NULL;
}

Alert *alert_free(Alert *a) {
        if (!a)
                return NULL;
        alert_done(a);
        return mfree(a);
}

static int dup_field(char **dst, const char *src) {
        *dst = NULL;
        if (src && !(*dst = strdup(src)))
                return -ENOMEM;
        return 0;
}

int alert_copy(Alert *dst, const Alert *src) {
        *dst = *src;
        if (dup_field(&dst->link, src->link) < 0 || dup_field(&dst->error, src->error) < 0 ||
            dup_field(&dst->cert_subject, src->cert_subject) < 0 || dup_field(&dst->cert_sha256, src->cert_sha256) < 0 ||
            dup_field(&dst->mail_subject, src->mail_subject) < 0 || dup_field(&dst->mail_error, src->mail_error) < 0) {
                alert_done(dst);
                return -ENOMEM;
        }
        return 0;
}

int alert_priority(const Alert *a) {
        if (a->held)
                return LOG_INFO;
        switch (a->kind) {
        case ALERT_CREDENTIAL_EXPIRING:
        case ALERT_ENDPOINT_CERT_EXPIRING:
                return a->days_left <= 3 ? LOG_ERR : LOG_WARNING;
        case ALERT_LINK_RECOVERED:
                return LOG_NOTICE;
        default:
                return LOG_ERR;
        }
}

static void put_days(StrBuf *b, int64_t days) {
        if (days <= 0)
                strbuf_puts(b, "today");
        else if (days == 1)
                strbuf_puts(b, "tomorrow");
        else
                strbuf_printf(b, "in %lld days", (long long) days);
}

static void put_failure(StrBuf *b, const Alert *a) {
        strbuf_puts(b, probe_class_to_string(a->failure) ?: "failure");
        if (a->http_status > 0)
                strbuf_printf(b, " %ld", a->http_status);
}

char *alert_summary(const Alert *a, const Tz *tz) {
        StrBuf b = STRBUF_NULL;
        char date[TIMESTAMP_MAX];

        strbuf_printf(&b, "%s: ", a->link ?: "tomslink");
        switch (a->kind) {
        case ALERT_CREDENTIAL_EXPIRING:
                strbuf_puts(&b, "SIS credential expires ");
                put_days(&b, a->days_left);
                strbuf_printf(&b, " (%s)", format_date(date, sizeof date, tz, a->expires));
                break;
        case ALERT_CREDENTIAL_EXPIRED:
                strbuf_printf(&b, "SIS credential expired on %s; the SIS can no longer fetch score reports",
                              format_date(date, sizeof date, tz, a->expires));
                break;
        case ALERT_AUTH_REJECTED:
                if (a->http_status == 403)
                        strbuf_puts(&b, "TOMS accepted the credential but refused access (403): check the data release authorization");
                else
                        strbuf_puts(&b, "TOMS rejected the SIS credential (401): it was most likely regenerated in TOMS");
                break;
        case ALERT_LINK_DOWN:
                strbuf_printf(&b, "TOMS endpoint unreachable after %u failed probes (", a->failures);
                put_failure(&b, a);
                strbuf_putc(&b, ')');
                break;
        case ALERT_LINK_RECOVERED:
                strbuf_puts(&b, "link recovered, TOMS accepts the credential again (was ");
                put_failure(&b, a);
                strbuf_putc(&b, ')');
                break;
        case ALERT_ENDPOINT_CERT_EXPIRING:
                strbuf_puts(&b, "TOMS server certificate expires ");
                put_days(&b, a->days_left);
                strbuf_printf(&b, " (%s)", format_date(date, sizeof date, tz, a->expires));
                break;
        case ALERT_MAIL_UNDELIVERABLE:
                strbuf_puts(&b, "an alert e-mail could not be delivered for 24 hours");
                break;
        default:
                strbuf_puts(&b, "alert");
                break;
        }
        if (a->reminder)
                strbuf_puts(&b, " [reminder]");
        return strbuf_steal(&b);
}
