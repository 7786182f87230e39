/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>

#include "eml.h"
#include "mail.h"
#include "strbuf.h"
#include "strv.h"
#include "tests.h"

static const char config_text[] =
        "timezone: America/Los_Angeles\n"
        "email:\n"
        "  smtp_url: [smtp://mail.example.org:587, smtps://backup.example.org:465]\n"
        "  starttls: required\n"
        "  username: tomslink@example.org\n"
        "  from: \"TOMS link monitor <tomslink@example.org>\"\n"
        "  to: [it-alerts@example.org, ops@example.org]\n"
        "links:\n"
        "  - name: district\n"
        "    cds_code: \"19647330000000\"\n"
        "    url: https://toms.example/api/ping\n"
        "    email_to: [school-it@example.org, IT-Alerts@example.org]\n"
        "    consumers: [student information system, parent portal, special-education system]\n"
        "  - name: lincoln-high\n"
        "    url: https://toms.example/lincoln/ping\n";

static Config *load_config(const char *text) {
        Config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        int r = config_load_string("t.yaml", text, strlen(text), NULL, &c, &errors);
        STRV_FOREACH(e, errors)
                fprintf(stderr, "%s\n", *e);
        ck_assert_int_eq(r, 0);
        return c;
}

static usec_t ts(const Config *c, const char *s) {
        usec_t t;
        ck_assert_int_eq(parse_timestamp(s, c->tz, &t), 0);
        return t;
}

static Alert expiring_alert(const Config *c) {
        return (Alert) {
                .kind = ALERT_CREDENTIAL_EXPIRING,
                .link = strdup("district"),
                .time = ts(c, "2027-02-22T09:30:00-08:00"),
                .generation = 3,
                .expires = ts(c, "2027-03-01T10:00:00-08:00"),
                .days_left = 7,
                .threshold = 7,
                .failure = _PROBE_CLASS_INVALID,
        };
}

static bool has(const char *haystack, const char *needle) {
        return haystack && strstr(haystack, needle);
}
#define ck_assert_has(h, n) ck_assert_msg(has((h), (n)), "\"%s\" not found in:\n%s", (n), (h) ?: "(null)")
#define ck_assert_hasnt(h, n) ck_assert_msg(!has((h), (n)), "\"%s\" unexpectedly in:\n%s", (n), (h) ?: "(null)")

/* What every message must be: parsed without defects, CRLF only, ASCII
 * headers folded under 78, QP body, the fixed headers present once. */
static void check_structure(json_object *j) {
        ck_assert_uint_eq(eml_list_len(j, "defects"), 0);
        ck_assert_int_eq(eml_int(j, "bare_lf"), 0);
        ck_assert_int_eq(eml_int(j, "bare_cr"), 0);
        ck_assert_int_le(eml_int(j, "max_header_line"), 78);
        ck_assert_int_le(eml_int(j, "max_line"), 78);
        ck_assert(!eml_bool(j, "header_8bit"));
        ck_assert(!eml_bool(j, "body_8bit"));
        ck_assert(!eml_bool(j, "multipart"));
        ck_assert_str_eq(eml_str(j, "content_type"), "text/plain");
        ck_assert_str_eq(eml_str(j, "charset"), "utf-8");
        ck_assert_str_eq(eml_str(j, "cte"), "quoted-printable");
        ck_assert_str_eq(eml_header(j, "MIME-Version"), "1.0");
        ck_assert_str_eq(eml_header(j, "Auto-Submitted"), "auto-generated");
        const char *once[] = { "Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type",
                               "Content-Transfer-Encoding", "Auto-Submitted", "X-Tomslink-Alert" };
        for (size_t i = 0; i < ELEMENTSOF(once); i++)
                ck_assert_msg(eml_header_count(j, once[i]) == 1, "%s: %zu times", once[i],
                              eml_header_count(j, once[i]));
}

START_TEST(test_credential_expiring) {
        _cleanup_(config_freep) Config *c = load_config(config_text);
        _cleanup_(alert_done) Alert a = expiring_alert(c);
        _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL;

        ck_assert_int_eq(mail_format_alert(&a, config_find_link(c, "district"), c, "monitor.example.org", &m), 0);
        json_object *j = eml_parse_data(m.data);
        check_structure(j);

        /* one message to email.to plus the link's email_to, without the duplicate */
        ck_assert_uint_eq(strv_length(m.recipients), 3);
        ck_assert_str_eq(m.recipients[0], "it-alerts@example.org");
        ck_assert_str_eq(m.recipients[1], "ops@example.org");
        ck_assert_str_eq(m.recipients[2], "school-it@example.org");
        ck_assert_uint_eq(eml_list_len(j, "to"), 3);
        ck_assert(eml_list_has(j, "to", "school-it@example.org"));

        ck_assert_str_eq(eml_header(j, "Subject"), "[tomslink] district: SIS credential expires in 7 days (2027-03-01)");
        ck_assert_str_eq(m.subject, "[tomslink] district: SIS credential expires in 7 days (2027-03-01)");
        ck_assert_str_eq(eml_header(j, "Date"), "Mon, 22 Feb 2027 09:30:00 -0800");
        ck_assert_int_eq(eml_int(j, "date_utc"), (int64_t) (a.time / USEC_PER_SEC));
        ck_assert_str_eq(eml_str(j, "from"), "tomslink@example.org");
        ck_assert_str_eq(eml_str(j, "from_name"), "TOMS link monitor");
        ck_assert_str_eq(eml_header(j, "Message-ID"), m.message_id);
        ck_assert_msg(strneq(m.message_id, "<tomslink.1803317400.", 21), "%s", m.message_id);
        ck_assert_has(m.message_id, "@monitor.example.org>");
        ck_assert_str_eq(eml_header(j, "X-Tomslink-Link"), "district");
        ck_assert_str_eq(eml_header(j, "X-Tomslink-Alert"), "credential-expiring");

        const char *body = eml_str(j, "body");
        ck_assert_has(body, "district: SIS credential expires in 7 days (2027-03-01)");
        ck_assert_has(body, "CDS code:         19647330000000");
        ck_assert_has(body, "Endpoint:         https://toms.example/api/ping");
        ck_assert_has(body, "Expires:          2027-03-01T10:00:00-08:00");
        ck_assert_has(body, "Days left:        7\n");
        ck_assert_has(body, "last 365 days");
        ck_assert_has(body, "regenerate the SIS vendor credentials under\n     Credentialing");
        ck_assert_has(body, "       - student information system\n"
                            "       - parent portal\n"
                            "       - special-education system\n");
        ck_assert_has(body, "tomslinkctl credential rotate district --username U");
        ck_assert_has(body, "journalctl MESSAGE_ID=" ALERT_MESSAGE_ID_CREDENTIAL_EXPIRING);
        json_object_put(j);
}
END_TEST

START_TEST(test_credential_expired_without_consumers) {
        _cleanup_(config_freep) Config *c = load_config(config_text);
        _cleanup_(alert_done) Alert a = expiring_alert(c);
        _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL, m2 = MAIL_MESSAGE_NULL;

        free(a.link);
        a.link = strdup("lincoln-high");
        a.kind = ALERT_CREDENTIAL_EXPIRED;
        a.days_left = -2;
        a.reminder = true;
        ck_assert_int_eq(mail_format_alert(&a, config_find_link(c, "lincoln-high"), c, "monitor", &m), 0);
        json_object *j = eml_parse_data(m.data);
        check_structure(j);
        ck_assert_uint_eq(strv_length(m.recipients), 2);
        ck_assert_has(eml_header(j, "Subject"), "lincoln-high: SIS credential expired on 2027-03-01");
        ck_assert_has(eml_header(j, "Subject"), "[reminder]");
        const char *body = eml_str(j, "body");
        ck_assert_has(body, "expired on 2027-03-01");
        ck_assert_has(body, "Days left:        none, expired 2 days ago");
        ck_assert_has(body, "- the SIS and every other system holding a copy");
        ck_assert_has(body, "tomslinkctl credential rotate lincoln-high --username U");
        ck_assert_has(body, "alert credential-expired (reminder).");
        json_object_put(j);

        /* a link no longer configured: the same advice, email.to only */
        ck_assert_int_eq(mail_format_alert(&a, NULL, c, "monitor", &m2), 0);
        ck_assert_uint_eq(strv_length(m2.recipients), 2);
        ck_assert_has(m2.data, "no longer in the configuration");
        ck_assert_has(m2.data, "the SIS and every other system holding a copy");
}
END_TEST

static json_object *format_parse(const Alert *a, const LinkConfig *lc, const Config *c, MailMessage *m) {
        ck_assert_int_eq(mail_format_alert(a, lc, c, "monitor.example.org", m), 0);
        json_object *j = eml_parse_data(m->data);
        check_structure(j);
        return j;
}

START_TEST(test_auth_rejected) {
        _cleanup_(config_freep) Config *c = load_config(config_text);
        const LinkConfig *lc = config_find_link(c, "district");
        _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL, m2 = MAIL_MESSAGE_NULL;
        _cleanup_(alert_done) Alert a = {
                .kind = ALERT_AUTH_REJECTED,
                .link = strdup("district"),
                .time = ts(c, "2027-01-10T08:15:00-08:00"),
                .failure = PROBE_AUTH,
                .http_status = 401,
                .error = strdup("HTTP 401 Unauthorized"),
                .since = ts(c, "2027-01-10T07:45:00-08:00"),
                .failures = 2,
        };

        json_object *j = format_parse(&a, lc, c, &m);
        const char *body = eml_str(j, "body");
        ck_assert_has(eml_header(j, "Subject"), "(401): it was most likely regenerated in TOMS");
        ck_assert_has(body, "regenerated in TOMS by someone else");
        ck_assert_has(body, "other coordinator (CAASPP or ELPAC)");
        ck_assert_has(body, "copy in the SIS");
        ck_assert_has(body, "Find the newest pair");
        ck_assert_has(body, "- parent portal");
        ck_assert_has(body, "tomslinkctl credential rotate district --username U");
        ck_assert_has(body, "HTTP status:      401");
        ck_assert_has(body, "Error:            HTTP 401 Unauthorized");
        ck_assert_has(body, "Since:            2027-01-10T07:45:00-08:00");
        ck_assert_hasnt(body, "Authorization to Release");
        json_object_put(j);

        a.http_status = 403;
        j = format_parse(&a, lc, c, &m2);
        body = eml_str(j, "body");
        ck_assert_has(eml_header(j, "Subject"), "refused access (403)");
        ck_assert_has(body, "accepted the credential but refused access");
        ck_assert_has(body, "\"Authorization to Release\n     Student Data to Vendors\"");
        ck_assert_has(body, "Credentialing screen");
        ck_assert_has(body, "selected vendors");
        ck_assert_has(body, "Do not regenerate");
        ck_assert_hasnt(body, "credential rotate");
        json_object_put(j);
}
END_TEST

START_TEST(test_link_down) {
        _cleanup_(config_freep) Config *c = load_config(config_text);
        const LinkConfig *lc = config_find_link(c, "district");
        static const struct {
                ProbeClass klass;
                long status;
                const char *marked;
        } cases[] = {
                { PROBE_DNS, 0, "  > dns       the endpoint's host name did not resolve" },
                { PROBE_CONNECT, 0, "  > connect   no TCP connection" },
                { PROBE_TLS, 0, "  > tls       the TLS handshake failed" },
                { PROBE_TIMEOUT, 0, "  > timeout   no answer within probe.timeout" },
                { PROBE_HTTP, 503, "  > http      TOMS answered with a status not in expect_status" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL;
                _cleanup_(alert_done) Alert a = {
                        .kind = ALERT_LINK_DOWN,
                        .link = strdup("district"),
                        .time = ts(c, "2027-07-10T08:15:00-07:00"),
                        .failure = cases[i].klass,
                        .http_status = cases[i].status,
                        .error = strdup("SSL certificate problem: certificate has expired"),
                        .since = ts(c, "2027-07-10T07:30:00-07:00"),
                        .failures = 3,
                };
                json_object *j = format_parse(&a, lc, c, &m);
                const char *body = eml_str(j, "body");
                ck_assert_has(body, cases[i].marked);
                ck_assert_has(body, "3 probes in a\nrow failed");
                ck_assert_has(body, "Failed probes:    3 in a row");
                ck_assert_has(body, "Since:            2027-07-10T07:30:00-07:00");
                ck_assert_has(body, "Error:            SSL certificate problem: certificate has expired");
                ck_assert_has(body, cases[i].status ? "HTTP status:      503" : "HTTP status:      none");
                ck_assert_has(body, "tomslinkctl probe district");
                ck_assert_has(body, "tomslinkctl silence district --for 2h");
                ck_assert_has(body, "maintenance window");
                /* only one class is marked */
                size_t marked = 0;
                for (const char *p = strstr(body, "\n  > "); p; p = strstr(p + 1, "\n  > "))
                        marked++;
                ck_assert_uint_eq(marked, 1);
                ck_assert_has(eml_header(j, "Subject"), "TOMS endpoint unreachable after 3 failed probes");
                json_object_put(j);
        }
}
END_TEST

START_TEST(test_recovered_cert_undeliverable) {
        _cleanup_(config_freep) Config *c = load_config(config_text);
        const LinkConfig *lc = config_find_link(c, "district");
        _cleanup_(mail_message_done) MailMessage m1 = MAIL_MESSAGE_NULL, m2 = MAIL_MESSAGE_NULL,
                                                 m3 = MAIL_MESSAGE_NULL;
        _cleanup_(alert_done) Alert rec = {
                .kind = ALERT_LINK_RECOVERED,
                .link = strdup("district"),
                .time = ts(c, "2027-07-10T10:00:00-07:00"),
                .failure = PROBE_HTTP,
                .http_status = 503,
                .since = ts(c, "2027-07-10T07:30:00-07:00"),
        };
        _cleanup_(alert_done) Alert cert = {
                .kind = ALERT_ENDPOINT_CERT_EXPIRING,
                .link = strdup("district"),
                .time = ts(c, "2027-07-10T10:00:00-07:00"),
                .expires = ts(c, "2027-07-24T16:59:59-07:00"),
                .days_left = 14,
                .threshold = 14,
                .cert_subject = strdup("CN=toms.example"),
                .cert_sha256 = strdup("0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"),
                .failure = _PROBE_CLASS_INVALID,
        };
        _cleanup_(alert_done) Alert und = {
                .kind = ALERT_MAIL_UNDELIVERABLE,
                .link = strdup("district"),
                .time = ts(c, "2027-07-11T10:00:00-07:00"),
                .mail_subject = strdup("[tomslink] district: TOMS endpoint unreachable"),
                .mail_error = strdup("451-4.3.0 Mailbox temporarily unavailable\r\n451 4.3.0 Try again later"),
                .failure = _PROBE_CLASS_INVALID,
        };

        json_object *j = format_parse(&rec, lc, c, &m1);
        const char *body = eml_str(j, "body");
        ck_assert_has(body, "The link works again");
        ck_assert_has(body, "Problem was:      http (HTTP status 503)");
        ck_assert_has(body, "Duration:         2h30m");
        ck_assert_has(body, "- special-education system");
        ck_assert_uint_eq(strv_length(m1.recipients), 3);
        json_object_put(j);

        j = format_parse(&cert, lc, c, &m2);
        body = eml_str(j, "body");
        ck_assert_has(eml_header(j, "Subject"), "TOMS server certificate expires in 14 days (2027-07-24)");
        ck_assert_has(body, "Certificate:      CN=toms.example");
        ck_assert_has(body, "SHA-256:          0f1e2d3c");
        ck_assert_has(body, "Days left:        14");
        ck_assert_has(body, "not your credential");
        json_object_put(j);

        /* mail-undeliverable goes to email.to only, even with the link known */
        j = format_parse(&und, lc, c, &m3);
        body = eml_str(j, "body");
        ck_assert_uint_eq(strv_length(m3.recipients), 2);
        ck_assert_uint_eq(eml_list_len(j, "to"), 2);
        ck_assert(!eml_list_has(j, "to", "school-it@example.org"));
        ck_assert_has(body, "Lost message:     [tomslink] district: TOMS endpoint unreachable");
        ck_assert_has(body, "Relay's answer:   451-4.3.0 Mailbox temporarily unavailable\n"
                            "                    451 4.3.0 Try again later\n");
        ck_assert_has(body, "tomslinkctl test-email");
        ck_assert_has(body, "- smtps://backup.example.org:465");
        ck_assert_str_eq(eml_header(j, "X-Tomslink-Alert"), "mail-undeliverable");
        json_object_put(j);
}
END_TEST

START_TEST(test_message_id_unique) {
        _cleanup_(config_freep) Config *c = load_config(config_text);
        _cleanup_(alert_done) Alert a = expiring_alert(c);
        _cleanup_(mail_message_done) MailMessage m1 = MAIL_MESSAGE_NULL, m2 = MAIL_MESSAGE_NULL;

        ck_assert_int_eq(mail_format_alert(&a, NULL, c, "monitor.example.org", &m1), 0);
        ck_assert_int_eq(mail_format_alert(&a, NULL, c, "monitor.example.org", &m2), 0);
        ck_assert_str_ne(m1.message_id, m2.message_id);
        ck_assert_has(m1.data, m1.message_id);
        /* a host name that is no domain is not put into the Message-ID */
        mail_message_done(&m2);
        ck_assert_int_eq(mail_format_alert(&a, NULL, c, "bad host\r\nX: y", &m2), 0);
        ck_assert_has(m2.message_id, "@localhost>");
}
END_TEST

START_TEST(test_non_ascii) {
        _cleanup_(config_freep) Config *c = load_config(
                "timezone: Europe/Berlin\n"
                "email:\n"
                "  smtp_url: smtp://mail.example.org:587\n"
                "  from: \"Überwachung der Schülerdaten, Bezirk Süd <tomslink@example.org>\"\n"
                "  to: it@example.org\n"
                "links:\n"
                "  - name: sued\n"
                "    url: https://toms.example/api/ping\n"
                "    consumers: [Schülerverwaltung, \"Elternportal 🎓\"]\n");
        _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL;
        _cleanup_(alert_done) Alert a = expiring_alert(c);
        free(a.link);
        a.link = strdup("sued-ßchule-mit-einem-sehr-langen-namen-der-über-die-zeile-hinausgeht");

        ck_assert_int_eq(mail_format_alert(&a, config_find_link(c, "sued"), c, "monitor", &m), 0);
        json_object *j = eml_parse_data(m.data);
        check_structure(j);
        ck_assert_has(m.data, "Subject: [tomslink] =?utf-8?b?");
        ck_assert_str_eq(eml_header(j, "Subject"),
                         "[tomslink] sued-ßchule-mit-einem-sehr-langen-namen-der-über-die-zeile-hinausgeht: "
                         "SIS credential expires in 7 days (2027-03-01)");
        ck_assert_str_eq(m.subject, eml_header(j, "Subject"));
        ck_assert_str_eq(eml_str(j, "from_name"), "Überwachung der Schülerdaten, Bezirk Süd");
        ck_assert_str_eq(eml_str(j, "from"), "tomslink@example.org");
        ck_assert_str_eq(eml_header(j, "X-Tomslink-Link"),
                         "sued-ßchule-mit-einem-sehr-langen-namen-der-über-die-zeile-hinausgeht");
        ck_assert_str_eq(eml_header(j, "Date"), "Mon, 22 Feb 2027 18:30:00 +0100");
        const char *body = eml_str(j, "body");
        ck_assert_has(body, "- Schülerverwaltung\n");
        ck_assert_has(body, "- Elternportal 🎓\n");
        json_object_put(j);
}
END_TEST

START_TEST(test_long_sender_name) {
        /* a long ASCII display name is folded inside its quotes, and reads
         * back whole */
        _cleanup_(config_freep) Config *c = load_config(
                "email:\n"
                "  smtp_url: smtp://mail.example.org:587\n"
                "  from: \"Los Angeles Unified School District, TOMS credential monitor for the IT department <tomslink@example.org>\"\n"
                "  to: it@example.org\n"
                "links: []\n");
        _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL;
        _cleanup_(alert_done) Alert a = expiring_alert(c);
        ck_assert_int_eq(mail_format_alert(&a, NULL, c, "monitor", &m), 0);
        ck_assert_has(m.data, "From: \"Los Angeles Unified School District, TOMS credential monitor for the IT\r\n"
                              " department\" <tomslink@example.org>\r\n");
        json_object *j = eml_parse_data(m.data);
        check_structure(j);
        ck_assert_str_eq(eml_str(j, "from_name"), "Los Angeles Unified School District, TOMS credential monitor for the IT department");
        ck_assert_str_eq(eml_str(j, "from"), "tomslink@example.org");
        json_object_put(j);
}
END_TEST

/* The values an attacker or a broken server may control: a link name (an
 * Alert can name anything), consumer names, a probe error and a relay's
 * answer, each with CR, LF, an empty line, a lone dot, control bytes,
 * malformed UTF-8 and fake encoded-words. */
START_TEST(test_header_injection) {
        _cleanup_(config_freep) Config *c = load_config(config_text);
        static const char *const expected_headers[] = {
                "Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type",
                "Content-Transfer-Encoding", "Auto-Submitted", "X-Auto-Response-Suppress",
                "X-Tomslink-Link", "X-Tomslink-Alert",
        };
        const char *evil_link = "evil\r\nBcc: victim@example.net\r\nX-Injected: 1\r\n\r\nfake body \xc3\xa9 \xff\xfe"
                                " =?utf-8?q?X-Injected=3A_2?= \x1b[31m\x7f\xc2\x85";
        char *evil_consumers[] = { (char *) "SIS\r\nX-Injected: 3", (char *) "portal\n.\nQUIT\r\n", NULL };
        char *link_to[] = { (char *) "school-it@example.org", NULL };
        LinkConfig lc = {
                .name = (char *) evil_link,
                .url = (char *) "https://toms.example/api/ping\r\nX-Injected: 4",
                .cds_code = (char *) "1964733\r\nX-Injected: 5",
                .email_to = link_to,
                .consumers = evil_consumers,
        };
        AlertKind kinds[] = { ALERT_CREDENTIAL_EXPIRING, ALERT_AUTH_REJECTED, ALERT_LINK_DOWN,
                              ALERT_LINK_RECOVERED, ALERT_ENDPOINT_CERT_EXPIRING, ALERT_MAIL_UNDELIVERABLE };

        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL;
                _cleanup_(alert_done) Alert a = expiring_alert(c);
                a.kind = kinds[k];
                free(a.link);
                a.link = strdup(evil_link);
                a.failure = PROBE_TLS;
                a.error = strdup("boom\r\nX-Injected: 6\r\n\r\n.\r\nMAIL FROM:<x@y>\r\n\x01\x02");
                a.cert_subject = strdup("CN=x\r\nX-Injected: 7");
                a.mail_subject = strdup("s\r\nX-Injected: 8");
                a.mail_error = strdup("550 nope\r\nX-Injected: 9\r\n\r\n\x1b]0;title\x07");

                ck_assert_int_eq(mail_format_alert(&a, &lc, c, "monitor.example.org", &m), 0);
                json_object *j = eml_parse_data(m.data);
                check_structure(j);
                /* exactly the headers we write, each once */
                ck_assert_uint_eq(eml_list_len(j, "raw_header_names"), ELEMENTSOF(expected_headers));
                for (size_t i = 0; i < ELEMENTSOF(expected_headers); i++) {
                        ck_assert_msg(eml_list_has(j, "raw_header_names", expected_headers[i]), "%s missing",
                                      expected_headers[i]);
                        ck_assert_uint_eq(eml_header_count(j, expected_headers[i]), 1);
                }
                ck_assert_uint_eq(eml_header_count(j, "Bcc"), 0);
                ck_assert_uint_eq(eml_header_count(j, "X-Injected"), 0);
                /* the decoded values are one line, the text still readable */
                const char *subject = eml_header(j, "Subject");
                ck_assert_msg(!strpbrk(subject, "\r\n\x1b\x7f"), "%s", subject);
                ck_assert_has(subject, "evil Bcc: victim@example.net X-Injected: 1 fake body é");
                ck_assert_has(subject, "=?utf-8?q?X-Injected=3A_2?=");   /* shown, not decoded */
                const char *xlink = eml_header(j, "X-Tomslink-Link");
                ck_assert_msg(!strpbrk(xlink, "\r\n"), "%s", xlink);
                ck_assert_has(xlink, "evil Bcc: victim@example.net");
                /* recipients: the envelope has only valid addresses */
                ck_assert(!eml_list_has(j, "to", "victim@example.net"));
                STRV_FOREACH(r, m.recipients)
                        ck_assert(!streq(*r, "victim@example.net"));
                /* no control character reaches the decoded body but line breaks */
                const char *body = eml_str(j, "body");
                for (const char *p = body; *p; p++)
                        ck_assert_msg((unsigned char) *p >= 0x20 || *p == '\n', "control 0x%02x in body",
                                      (unsigned char) *p);
                ck_assert_hasnt(body, "\n.\n");
                ck_assert_hasnt(body, "\nQUIT");
                ck_assert_hasnt(body, "\nMAIL FROM");
                ck_assert_hasnt(body, "\nX-Injected");
                json_object_put(j);
        }

        /* an address with a line break is refused, not sent */
        _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL;
        _cleanup_(alert_done) Alert a = expiring_alert(c);
        char *bad_to[] = { (char *) "it@example.org\r\nBcc: victim@example.net", NULL };
        lc.email_to = bad_to;
        ck_assert_int_eq(mail_format_alert(&a, &lc, c, "monitor", &m), -EINVAL);
        ck_assert_ptr_null(m.data);

        /* a long name of malformed bytes (each shown as three): the Subject
         * header says what the message returns as its subject */
        _cleanup_(mail_message_done) MailMessage m2 = MAIL_MESSAGE_NULL;
        _cleanup_(alert_done) Alert a2 = expiring_alert(c);
        free(a2.link);
        a2.link = malloc(401);
        ck_assert_ptr_nonnull(a2.link);
        memset(a2.link, 0xff, 400);
        a2.link[400] = '\0';
        ck_assert_int_eq(mail_format_alert(&a2, NULL, c, "monitor", &m2), 0);
        json_object *j2 = eml_parse_data(m2.data);
        check_structure(j2);
        ck_assert_str_eq(eml_header(j2, "Subject"), m2.subject);
        json_object_put(j2);

        /* the longest link name still fits the line limit after "X-Tomslink-Link:" */
        _cleanup_(mail_message_done) MailMessage m3 = MAIL_MESSAGE_NULL;
        _cleanup_(alert_done) Alert a3 = expiring_alert(c);
        free(a3.link);
        a3.link = strdup("a23456789-123456789-123456789-123456789-123456789-123456789-123");
        ck_assert_int_eq(mail_format_alert(&a3, NULL, c, "monitor", &m3), 0);
        json_object *j3 = eml_parse_data(m3.data);
        check_structure(j3);
        ck_assert_str_eq(eml_header(j3, "X-Tomslink-Link"), a3.link);
        json_object_put(j3);
        _cleanup_free_ char *h = mail_header_unstructured("X-Tomslink-Link", a3.link);
        ck_assert_str_eq(h, "X-Tomslink-Link: =?utf-8?b?YTIzNDU2Nzg5LTEyMzQ1Njc4OS0xMjM0NTY3ODktMTIz?=\r\n"
                            " =?utf-8?b?NDU2Nzg5LTEyMzQ1Njc4OS0xMjM0NTY3ODktMTIz?=\r\n");
}
END_TEST

START_TEST(test_test_message) {
        _cleanup_(config_freep) Config *c = load_config(config_text);
        _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL;

        ck_assert_int_eq(mail_format_test(c, "monitor.example.org", ts(c, "2027-05-03T12:00:00-07:00"), &m), 0);
        json_object *j = eml_parse_data(m.data);
        check_structure(j);
        ck_assert_uint_eq(strv_length(m.recipients), 2);
        ck_assert_str_eq(eml_header(j, "Subject"), "[tomslink] test message from monitor.example.org");
        ck_assert_str_eq(eml_header(j, "X-Tomslink-Alert"), "test");
        ck_assert_uint_eq(eml_header_count(j, "X-Tomslink-Link"), 0);
        ck_assert_str_eq(eml_header(j, "Date"), "Mon, 03 May 2027 12:00:00 -0700");
        ck_assert_has(m.message_id, "<tomslink.1809370800.");
        const char *body = eml_str(j, "body");
        ck_assert_has(body, "tomslinkctl test-email");
        ck_assert_has(body, "- smtp://mail.example.org:587\n    - smtps://backup.example.org:465\n");
        ck_assert_has(body, "- it-alerts@example.org\n    - ops@example.org\n");
        json_object_put(j);

        /* without an email: section there is nothing to format */
        _cleanup_(config_freep) Config *c2 = load_config("links:\n");
        _cleanup_(mail_message_done) MailMessage m2 = MAIL_MESSAGE_NULL;
        ck_assert_int_eq(mail_format_test(c2, "monitor", 0, &m2), -EINVAL);
}
END_TEST

START_TEST(test_quoted_printable) {
        /* long lines, trailing blanks, "=", a lone dot, "From ", UTF-8 */
        const char *text =
                "short line\n"
                "trailing space \n"
                "trailing tab\t\n"
                "a=b and =?utf-8?q?x?=\n"
                ".\n"
                ".leading dot\n"
                "From the relay\n"
                "Größe: 🎓 ünïcödé\n"
                "\n"
                "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
                "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 end \n"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé\n"
                /* a dot and "From " where a soft break starts a line */
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.dot after a break\n"
                "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyFrom the next line\n";
        _cleanup_free_ char *qp = mail_quoted_printable(text);
        ck_assert_ptr_nonnull(qp);
        for (const char *l = qp; *l;) {
                const char *e = strstr(l, "\r\n");
                ck_assert_ptr_nonnull(e);
                ck_assert_int_le(e - l, 76);
                ck_assert_msg(e == l || (e[-1] != ' ' && e[-1] != '\t'), "blank at line end");
                ck_assert_msg(*l != '.', "line starts with a dot");
                ck_assert_msg(!strneq(l, "From ", 5), "line starts with From");
                for (const char *p = l; p < e; p++)
                        ck_assert((unsigned char) *p < 0x80);
                l = e + 2;
        }
        _cleanup_free_ char *msg = NULL;
        ck_assert_int_ge(asprintf(&msg, "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                        "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s", qp), 0);
        json_object *j = eml_parse_data(msg);
        ck_assert_str_eq(eml_str(j, "body"), text);
        json_object_put(j);
}
END_TEST

START_TEST(test_headers) {
        _cleanup_(tz_freep) Tz *la = NULL;
        char buf[MAIL_DATE_MAX];
        ck_assert_int_eq(tz_load(NULL, "America/Los_Angeles", &la), 0);
        ck_assert_str_eq(mail_format_date(buf, sizeof buf, la, 1803924000 * USEC_PER_SEC),
                         "Mon, 01 Mar 2027 10:00:00 -0800");
        ck_assert_str_eq(mail_format_date(buf, sizeof buf, la, 1814400000 * USEC_PER_SEC),
                         "Wed, 30 Jun 2027 17:00:00 -0700");
        ck_assert_str_eq(mail_format_date(buf, sizeof buf, NULL, 0), "Thu, 01 Jan 1970 00:00:00 +0000");
        _cleanup_(tz_freep) Tz *lmt = NULL;
        ck_assert_int_eq(tz_load_from_rule("MMT", "<-0044>0:44:30", &lmt), 0);
        ck_assert_str_eq(mail_format_date(buf, sizeof buf, lmt, 1803924000 * USEC_PER_SEC),
                         "Mon, 01 Mar 2027 18:00:00 +0000");

        /* ASCII is folded at spaces, under 78 */
        _cleanup_free_ char *h = mail_header_unstructured(
                "Subject", "[tomslink] lincoln-high: TOMS accepted the credential but refused access (403): "
                           "check the data release authorization");
        ck_assert_str_eq(h, "Subject: [tomslink] lincoln-high: TOMS accepted the credential but refused\r\n"
                            " access (403): check the data release authorization\r\n");
        /* non-ASCII: encoded-words holding whole characters, lines within 76 */
        _cleanup_free_ char *h2 = mail_header_unstructured("Subject", "ééééééééééééééééééééééééééééééééééééééééé 🎓🎓🎓");
        for (const char *l = h2; *l;) {
                const char *e = strstr(l, "\r\n");
                ck_assert_int_le(e - l, 76);
                l = e + 2;
        }
        _cleanup_free_ char *msg = NULL;
        ck_assert_int_ge(asprintf(&msg, "%s\r\nbody\r\n", h2), 0);
        json_object *j = eml_parse_data(msg);
        ck_assert_str_eq(eml_header(j, "Subject"), "ééééééééééééééééééééééééééééééééééééééééé 🎓🎓🎓");
        ck_assert_uint_eq(eml_list_len(j, "defects"), 0);
        json_object_put(j);
        /* empty and blank values */
        _cleanup_free_ char *h3 = mail_header_unstructured("Subject", " \r\n ");
        ck_assert_str_eq(h3, "Subject:\r\n");
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("mail");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        ADD_TESTS(tc, test_credential_expiring, test_credential_expired_without_consumers, test_auth_rejected,
                  test_link_down, test_recovered_cert_undeliverable, test_message_id_unique, test_non_ascii,
                  test_header_injection, test_test_message, test_quoted_printable, test_headers,
                  test_long_sender_name);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
