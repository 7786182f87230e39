/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sends one alert of every kind (and a few variants) through the journal
 * sink, for tests/integration/journal.sh to read back. With --fallback,
 * expects the journal to be unreachable and writes the fallback lines. */
#include <stdio.h>

#include "alert.h"
#include "journal.h"
#include "tz.h"

int main(int argc, char *argv[]) {
        bool fallback = argc > 1 && streq(argv[1], "--fallback");
        Tz *tz = NULL;
        if (tz_load(NULL, "America/Los_Angeles", &tz) < 0)
                return 2;
        usec_t expires = (usec_t) tz_mktime(tz, 2027, 3, 1, 10, 0, 0) * USEC_PER_SEC;
        usec_t since = (usec_t) tz_mktime(tz, 2027, 2, 20, 8, 30, 0) * USEC_PER_SEC;
        Alert v[10];
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                v[i] = ALERT_NULL;
                v[i].link = (char *) "district";
                v[i].time = since;
        }
        v[0].kind = ALERT_CREDENTIAL_EXPIRING, v[0].days_left = 7, v[0].expires = expires, v[0].threshold = 7, v[0].generation = 3;
        v[1].kind = ALERT_CREDENTIAL_EXPIRING, v[1].days_left = 3, v[1].expires = expires, v[1].threshold = 3, v[1].generation = 3;
        v[2].kind = ALERT_CREDENTIAL_EXPIRED, v[2].days_left = -2, v[2].expires = expires, v[2].generation = 3, v[2].reminder = true;
        v[3].kind = ALERT_AUTH_REJECTED, v[3].failure = PROBE_AUTH, v[3].http_status = 401, v[3].since = since, v[3].failures = 2;
        v[4].kind = ALERT_LINK_DOWN, v[4].failure = PROBE_TIMEOUT, v[4].since = since, v[4].failures = 3,
        v[4].error = (char *) "Operation timed out after 20001 milliseconds\nwith 0 bytes received";
        v[5].kind = ALERT_LINK_RECOVERED, v[5].failure = PROBE_AUTH, v[5].http_status = 401, v[5].since = since;
        v[6].kind = ALERT_ENDPOINT_CERT_EXPIRING, v[6].days_left = 10, v[6].expires = expires, v[6].threshold = 14,
        v[6].cert_sha256 = (char *) "ab12", v[6].cert_subject = (char *) "CN=toms.example";
        v[7].kind = ALERT_MAIL_UNDELIVERABLE, v[7].mail_subject = (char *) "[tomslink] district: SIS credential expires in 7 days (2027-03-01)",
        v[7].mail_error = (char *) "451 4.3.0 Try again later";
        v[8].kind = ALERT_LINK_DOWN, v[8].failure = PROBE_HTTP, v[8].http_status = 503, v[8].since = since, v[8].failures = 3, v[8].held = true;
        v[9].kind = ALERT_CREDENTIAL_EXPIRING, v[9].link = (char *) "lincoln-high", v[9].days_left = 60, v[9].expires = expires, v[9].threshold = 60, v[9].generation = 4;

        int failed = 0;
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                char *summary = alert_summary(&v[i], tz);
                int r = journal_send_alert(&v[i], summary, tz, i == 9 ? "19647331932342" : NULL);
                if (fallback) {
                        if (r >= 0)
                                failed = 1;   /* the journal should not have been reachable */
                        journal_fallback_alert(stderr, &v[i], summary);
                } else if (r < 0) {
                        fprintf(stderr, "journal_send_alert: %s\n", strerror(-r));
                        failed = 1;
                }
                free(summary);
        }
        tz_free(tz);
        printf("sent %zu\n", ELEMENTSOF(v));
        return failed;
}
