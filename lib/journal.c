/* SPDX-License-Identifier: GPL-2.0-or-later */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include "journal.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "strbuf.h"

#define FIELDS_MAX 24

typedef struct Fields {
        struct iovec iov[FIELDS_MAX];
        char *owned[FIELDS_MAX];
        size_t n;
        bool oom;
} Fields;

static void field_add(Fields *f, const char *fmt, ...) _printf_(2, 3);
static void field_add(Fields *f, const char *fmt, ...) {
        va_list ap;
        char *s;
        if (f->n >= FIELDS_MAX) {
                f->oom = true;
                return;
        }
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) {
                f->oom = true;
                return;
        }
        f->owned[f->n] = s;
        f->iov[f->n] = (struct iovec) { .iov_base = s, .iov_len = (size_t) r };
        f->n++;
}

bool journal_available(void) {
        /* sd_journal_sendv() returns success when the socket does not exist
         * at all ("fail silently"), so look first. */
        struct stat st;
        return stat(JOURNAL_SOCKET, &st) >= 0 && S_ISSOCK(st.st_mode);
}

int journal_send_alert(const Alert *a, const char *summary, const Tz *tz, const char *cds_code) {
        Fields f = {};
        char ts[TIMESTAMP_MAX];
        int r;

        field_add(&f, "MESSAGE=%s", summary);
        field_add(&f, "MESSAGE_ID=%s", alert_kind_message_id(a->kind));
        field_add(&f, "PRIORITY=%d", alert_priority(a));
        field_add(&f, "SYSLOG_IDENTIFIER=tomslinkd");
        field_add(&f, "TOMSLINK_ALERT=%s", alert_kind_to_string(a->kind));
        if (a->link)
                field_add(&f, "TOMSLINK_LINK=%s", a->link);
        if (cds_code)
                field_add(&f, "TOMSLINK_CDS_CODE=%s", cds_code);
        switch (a->kind) {
        case ALERT_CREDENTIAL_EXPIRING:
        case ALERT_CREDENTIAL_EXPIRED:
        case ALERT_ENDPOINT_CERT_EXPIRING:
                field_add(&f, "TOMSLINK_DAYS_LEFT=%lld", (long long) a->days_left);
                field_add(&f, "TOMSLINK_EXPIRES=%s", format_timestamp(ts, sizeof ts, tz, a->expires));
                if (a->kind != ALERT_CREDENTIAL_EXPIRED)
                        field_add(&f, "TOMSLINK_THRESHOLD=%u", a->threshold);
                if (a->generation)
                        field_add(&f, "TOMSLINK_GENERATION=%llu", (unsigned long long) a->generation);
                if (a->cert_sha256)
                        field_add(&f, "TOMSLINK_CERT_SHA256=%s", a->cert_sha256);
                if (a->cert_subject)
                        field_add(&f, "TOMSLINK_CERT_SUBJECT=%s", a->cert_subject);
                break;
        case ALERT_AUTH_REJECTED:
        case ALERT_LINK_DOWN:
        case ALERT_LINK_RECOVERED:
                if (probe_class_to_string(a->failure))
                        field_add(&f, "TOMSLINK_FAILURE=%s", probe_class_to_string(a->failure));
                if (a->http_status > 0)
                        field_add(&f, "TOMSLINK_HTTP_STATUS=%ld", a->http_status);
                if (a->since)
                        field_add(&f, "TOMSLINK_SINCE=%s", format_timestamp(ts, sizeof ts, tz, a->since));
                if (a->failures)
                        field_add(&f, "TOMSLINK_FAILURES=%u", a->failures);
                if (a->error)
                        field_add(&f, "TOMSLINK_ERROR=%s", a->error);
                break;
        case ALERT_MAIL_UNDELIVERABLE:
                if (a->mail_subject)
                        field_add(&f, "TOMSLINK_MAIL_SUBJECT=%s", a->mail_subject);
                if (a->mail_error)
                        field_add(&f, "TOMSLINK_ERROR=%s", a->mail_error);
                break;
        default:
                break;
        }
        if (a->reminder)
                field_add(&f, "TOMSLINK_REMINDER=1");
        if (a->held)
                field_add(&f, "TOMSLINK_HELD=1");

        r = f.oom ? -ENOMEM : !journal_available() ? -ENOENT : sd_journal_sendv(f.iov, (int) f.n);
        for (size_t i = 0; i < f.n; i++)
                free(f.owned[i]);
        return r;
}

void journal_fallback_alert(FILE *f, const Alert *a, const char *summary) {
        fprintf(f, "<%d>%s [%s]\n", alert_priority(a), summary, alert_kind_to_string(a->kind));
        fflush(f);
}
