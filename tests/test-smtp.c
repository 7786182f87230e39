/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "eml.h"
#include "mail.h"
#include "servers.h"
#include "smtp.h"
#include "strbuf.h"
#include "strv.h"
#include "tests.h"

#define USER "tomslink@example.org"
#define PASSWORD "Pw-7f3c9a1e-Secret"
#define EHLO_NAME "mailtest.example"

/* ---- the fixture: a scratch directory with a PKI, made once ---------------- */

static char *scratch;
static char ca_file[512], server_crt[512], server_key[512], rogue_crt[512], rogue_key[512];

static void pki_setup(void) {
        scratch = scratch_new();
        pki_make(scratch);
        snprintf(ca_file, sizeof ca_file, "%s/ca.crt", scratch);
        snprintf(server_crt, sizeof server_crt, "%s/server.crt", scratch);
        snprintf(server_key, sizeof server_key, "%s/server.key", scratch);
        snprintf(rogue_crt, sizeof rogue_crt, "%s/rogue.crt", scratch);
        snprintf(rogue_key, sizeof rogue_key, "%s/rogue.key", scratch);
}

static void pki_teardown(void) {
        scratch_remove(scratch);
        scratch = NULL;
}

static char *server_dir(const char *name) {
        char *d;
        ck_assert_int_ge(asprintf(&d, "%s/%s-%d", scratch, name, (int) getpid()), 0);
        return d;
}

/* ---- running sends in an event loop ------------------------------------- */

typedef struct Harness {
        sd_event *event;
        CurlGlue *glue;
        SmtpClient *client;
        SmtpResult result;
        unsigned callbacks;
        StrBuf log;             /* everything the client logged */
        Logger logger;
        unsigned foreign;       /* transfers that were not the client's */
} Harness;

static void capture_log(void *userdata, int priority, const char *message) {
        Harness *h = userdata;
        ck_assert_int_eq(priority, LOG_DEBUG);
        strbuf_puts(&h->log, message);
        strbuf_putc(&h->log, '\n');
}

/* The glue's own callback: hears only of transfers attached without one
 * of their own (curl_glue_add()), never of the client's. */
static void glue_finished(CurlGlue *g, CURL *easy, CURLcode result, void *userdata) {
        Harness *h = userdata;
        h->foreign++;
        curl_glue_remove(g, easy);
        curl_easy_cleanup(easy);
}

static void on_done(SmtpClient *c, const SmtpResult *r, void *userdata) {
        Harness *h = userdata;
        ck_assert_ptr_eq(c, h->client);
        h->callbacks++;
        smtp_result_done(&h->result);
        ck_assert_int_eq(smtp_result_copy(&h->result, r), 0);
}

static void harness_init(Harness *h, const EmailConfig *email, const char *password) {
        *h = (Harness) { .result = SMTP_RESULT_NULL };
        h->logger = (Logger) { .func = capture_log, .userdata = h };
        ck_assert_int_eq(curl_glue_global_init(), 0);
        ck_assert_int_eq(sd_event_new(&h->event), 0);
        ck_assert_int_eq(curl_glue_new(h->event, glue_finished, h, &h->glue), 0);
        ck_assert_int_eq(smtp_client_new(h->glue, email, password, EHLO_NAME, &h->logger, &h->client), 0);
}

static void harness_done(Harness *h) {
        smtp_client_free(h->client);
        curl_glue_free(h->glue);
        sd_event_unref(h->event);
        smtp_result_done(&h->result);
        strbuf_done(&h->log);
}

/* Runs the loop until the callback came (or max seconds passed); returns
 * the seconds it took. */
static double harness_run(Harness *h, unsigned callbacks, double max) {
        usec_t start = now_usec(CLOCK_MONOTONIC);
        while (h->callbacks < callbacks) {
                ck_assert_int_ge(sd_event_run(h->event, 100 * USEC_PER_MSEC), 0);
                ck_assert_msg((double) (now_usec(CLOCK_MONOTONIC) - start) / USEC_PER_SEC < max,
                              "no result after %.1f s", max);
        }
        return (double) (now_usec(CLOCK_MONOTONIC) - start) / USEC_PER_SEC;
}

static void send_and_wait(Harness *h, const char *data, char **recipients, double max) {
        unsigned before = h->callbacks;
        ck_assert_int_eq(smtp_client_send(h->client, data, recipients, on_done, h, NULL), 0);
        ck_assert_uint_eq(smtp_client_in_flight(h->client), 1);
        harness_run(h, before + 1, max);
        ck_assert_uint_eq(smtp_client_in_flight(h->client), 0);
        ck_assert_uint_eq(curl_glue_n_running(h->glue), 0);
        /* the client's transfers ended in its own callback, not the glue's */
        ck_assert_uint_eq(h->foreign, 0);
}

static const char simple_message[] =
        "From: tomslink@example.org\r\n"
        "To: it@example.org\r\n"
        "Subject: test\r\n"
        "Message-ID: <t.1@mailtest.example>\r\n"
        "\r\n"
        "hello\r\n"
        ".a line with a leading dot\r\n";

static char url_buf[8][128];
static char *url(unsigned i, const char *scheme, int port) {
        snprintf(url_buf[i], sizeof url_buf[i], "%s://127.0.0.1:%d", scheme, port);
        return url_buf[i];
}

static EmailConfig email_config(char **urls, StartTls starttls, const char *username) {
        static char *to[] = { (char *) "it@example.org", NULL };
        return (EmailConfig) {
                .enabled = true,
                .smtp_urls = urls,
                .starttls = starttls,
                .username = (char *) username,
                .from_address = (char *) "tomslink@example.org",
                .to = to,
                .ca_file = ca_file,
                .timeout = 5 * USEC_PER_SEC,
        };
}

static json_object *read_envelope(const char *dir, unsigned n) {
        char p[600];
        snprintf(p, sizeof p, "%s/%04u.json", dir, n);
        _cleanup_free_ char *text = read_file_alloc(p);
        ck_assert_msg(text != NULL, "no %s", p);
        json_object *j = json_tokener_parse(text);
        ck_assert_ptr_nonnull(j);
        return j;
}

static const char *jstr(json_object *j, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(j, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static bool events_have(const char *dir, const char *ev) {
        char p[600], needle[64];
        snprintf(p, sizeof p, "%s/events.log", dir);
        snprintf(needle, sizeof needle, "\"ev\": \"%s\"", ev);
        _cleanup_free_ char *text = read_file_alloc(p);
        return text && strstr(text, needle);
}

#define ck_assert_has(h, n) ck_assert_msg((h) && strstr((h), (n)), "\"%s\" not found in: %s", (n), (h) ?: "(null)")

static json_object *jget(json_object *j, const char *key) {
        json_object *v = NULL;
        ck_assert_msg(json_object_object_get_ex(j, key, &v), "no %s", key);
        return v;
}

static Config *alert_config(const char *smtp_url) {
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        Config *c = NULL;
        ck_assert_int_ge(asprintf(&text,
                                  "timezone: America/Los_Angeles\n"
                                  "email:\n"
                                  "  smtp_url: %s\n"
                                  "  starttls: required\n"
                                  "  username: " USER "\n"
                                  "  from: \"TOMS link monitor <tomslink@example.org>\"\n"
                                  "  to: [it-alerts@example.org]\n"
                                  "  ca_file: %s\n"
                                  "  timeout: 5s\n"
                                  "links:\n"
                                  "  - name: district\n"
                                  "    cds_code: \"19647330000000\"\n"
                                  "    url: https://toms.example/api/ping\n"
                                  "    email_to: [school-it@example.org]\n"
                                  "    consumers: [student information system, parent portal]\n",
                                  smtp_url, ca_file), 0);
        int r = config_load_string("t.yaml", text, strlen(text), NULL, &c, &errors);
        STRV_FOREACH(e, errors)
                fprintf(stderr, "%s\n", *e);
        ck_assert_int_eq(r, 0);
        return c;
}

static Alert expiring_alert(const Config *c) {
        usec_t t, expires;
        ck_assert_int_eq(parse_timestamp("2027-02-22T09:30:00-08:00", c->tz, &t), 0);
        ck_assert_int_eq(parse_timestamp("2027-03-01T10:00:00-08:00", c->tz, &expires), 0);
        return (Alert) {
                .kind = ALERT_CREDENTIAL_EXPIRING,
                .link = strdup("district"),
                .time = t,
                .generation = 1,
                .expires = expires,
                .days_left = 7,
                .threshold = 7,
                .failure = _PROBE_CLASS_INVALID,
        };
}

/* An alert e-mail over STARTTLS with AUTH PLAIN, as received, read back by
 * a real mail parser. */
START_TEST(test_alert_delivered) {
        _cleanup_free_ char *dir = server_dir("alert");
        TestServer srv;
        aiosmtpd_start(&srv, dir, "--tls-cert", server_crt, "--tls-key", server_key, "--require-starttls",
                       "--auth", USER ":" PASSWORD, "--auth-mechanisms", "PLAIN", NULL);
        _cleanup_(config_freep) Config *c = alert_config(url(0, "smtp", srv.port));
        _cleanup_(alert_done) Alert a = expiring_alert(c);
        _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL;
        ck_assert_int_eq(mail_format_alert(&a, config_find_link(c, "district"), c, EHLO_NAME, &m), 0);

        Harness h;
        harness_init(&h, &c->email, PASSWORD);
        send_and_wait(&h, m.data, m.recipients, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_DELIVERED);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_DONE);
        ck_assert_int_eq(h.result.code, 250);
        ck_assert_str_eq(h.result.reply, "250 2.0.0 Message accepted for delivery");
        ck_assert_ptr_null(h.result.error);
        ck_assert_uint_eq(h.result.relays_tried, 1);
        ck_assert_str_eq(h.result.relay, url(0, "smtp", srv.port));
        ck_assert_uint_eq(h.result.n_recipients, 2);
        for (size_t i = 0; i < 2; i++) {
                ck_assert_str_eq(h.result.recipients[i].address, m.recipients[i]);
                ck_assert_int_eq(h.result.recipients[i].state, SMTP_RECIPIENT_DELIVERED);
                ck_assert_int_eq(h.result.recipients[i].code, 250);
        }

        /* the envelope: over TLS, authenticated, our EHLO name, both recipients */
        json_object *env = read_envelope(dir, 1);
        ck_assert_str_eq(jstr(env, "mail_from"), "tomslink@example.org");
        ck_assert_str_eq(jstr(env, "ehlo"), EHLO_NAME);
        ck_assert(json_object_get_boolean(jget(env, "tls")));
        ck_assert_str_eq(jstr(jget(env, "auth"), "user"), USER);
        ck_assert_str_eq(jstr(jget(env, "auth"), "mechanism"), "PLAIN");
        json_object *rcpt = jget(env, "rcpt_tos");
        ck_assert_uint_eq(json_object_array_length(rcpt), 2);
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(rcpt, 0)), "it-alerts@example.org");
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(rcpt, 1)), "school-it@example.org");
        json_object_put(env);

        /* the message arrived byte for byte (dot-stuffing undone) */
        char p[600];
        snprintf(p, sizeof p, "%s/0001.eml", dir);
        _cleanup_free_ char *received = read_file_alloc(p);
        ck_assert_str_eq(received, m.data);

        json_object *j = eml_parse_file(p);
        ck_assert_uint_eq(eml_list_len(j, "defects"), 0);
        ck_assert_str_eq(eml_header(j, "Date"), "Mon, 22 Feb 2027 09:30:00 -0800");
        ck_assert_str_eq(eml_header(j, "Message-ID"), m.message_id);
        ck_assert_str_eq(eml_str(j, "from"), "tomslink@example.org");
        ck_assert_str_eq(eml_str(j, "from_name"), "TOMS link monitor");
        ck_assert_uint_eq(eml_list_len(j, "to"), 2);
        ck_assert(eml_list_has(j, "to", "it-alerts@example.org"));
        ck_assert(eml_list_has(j, "to", "school-it@example.org"));
        ck_assert_str_eq(eml_header(j, "Subject"), "[tomslink] district: SIS credential expires in 7 days (2027-03-01)");
        ck_assert_str_eq(eml_header(j, "MIME-Version"), "1.0");
        ck_assert_str_eq(eml_str(j, "content_type"), "text/plain");
        ck_assert_str_eq(eml_str(j, "charset"), "utf-8");
        ck_assert_str_eq(eml_str(j, "cte"), "quoted-printable");
        ck_assert_str_eq(eml_header(j, "Auto-Submitted"), "auto-generated");
        ck_assert_str_eq(eml_header(j, "X-Tomslink-Link"), "district");
        ck_assert_str_eq(eml_header(j, "X-Tomslink-Alert"), "credential-expiring");
        ck_assert_int_le(eml_int(j, "max_line"), 78);
        const char *body = eml_str(j, "body");
        ck_assert_has(body, "regenerate the SIS vendor credentials under\n     Credentialing");
        ck_assert_has(body, "- student information system\n");
        ck_assert_has(body, "- parent portal\n");
        ck_assert_has(body, "tomslinkctl credential rotate district --username U");
        ck_assert_has(body, "Days left:        7\n");
        ck_assert_has(body, "CDS code:         19647330000000");
        json_object_put(j);

        harness_done(&h);
        server_stop(&srv);
}
END_TEST

START_TEST(test_auth_login_and_smtps) {
        _cleanup_free_ char *dir = server_dir("login"), *dir2 = server_dir("smtps");
        char *rcpt[] = { (char *) "it@example.org", NULL };
        TestServer srv, srv2;
        Harness h;

        aiosmtpd_start(&srv, dir, "--tls-cert", server_crt, "--tls-key", server_key, "--require-starttls",
                       "--auth", USER ":" PASSWORD, "--auth-mechanisms", "LOGIN", NULL);
        char *urls[] = { url(0, "smtp", srv.port), NULL };
        EmailConfig e = email_config(urls, STARTTLS_REQUIRED, USER);
        harness_init(&h, &e, PASSWORD);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_DELIVERED);
        json_object *env = read_envelope(dir, 1);
        ck_assert_str_eq(jstr(jget(env, "auth"), "mechanism"), "LOGIN");
        ck_assert(json_object_get_boolean(jget(env, "tls")));
        json_object_put(env);
        ck_assert_has(h.log.data, "> AUTH LOGIN (credentials not shown)");
        harness_done(&h);
        server_stop(&srv);

        /* implicit TLS: smtps:// needs no STARTTLS, whatever starttls says */
        aiosmtpd_start(&srv2, dir2, "--smtps", "--tls-cert", server_crt, "--tls-key", server_key, "--auth",
                       USER ":" PASSWORD, NULL);
        char *urls2[] = { url(1, "smtps", srv2.port), NULL };
        EmailConfig e2 = email_config(urls2, STARTTLS_OFF, USER);
        harness_init(&h, &e2, PASSWORD);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_DELIVERED);
        ck_assert_str_eq(h.result.relay, url(1, "smtps", srv2.port));
        env = read_envelope(dir2, 1);
        ck_assert(json_object_get_boolean(jget(env, "tls")));
        ck_assert_str_eq(jstr(jget(env, "auth"), "user"), USER);
        ck_assert_str_eq(jstr(env, "ehlo"), EHLO_NAME);
        json_object_put(env);
        ck_assert_has(h.log.data, "SSL connection using TLSv1.");
        ck_assert_uint_eq(count_files(dir2, ".eml"), 1);
        harness_done(&h);
        server_stop(&srv2);
}
END_TEST

/* A relay without STARTTLS that would take AUTH and mail in clear: with
 * starttls required nothing but EHLO is sent. */
START_TEST(test_starttls_required) {
        _cleanup_free_ char *dir = server_dir("clear");
        char *rcpt[] = { (char *) "it@example.org", NULL };
        TestServer srv;
        Harness h;

        aiosmtpd_start(&srv, dir, "--auth", USER ":" PASSWORD, "--auth-plaintext", NULL);
        char *urls[] = { url(0, "smtp", srv.port), NULL };
        EmailConfig e = email_config(urls, STARTTLS_REQUIRED, USER);
        harness_init(&h, &e, PASSWORD);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_TEMPORARY);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_EHLO);
        ck_assert_has(h.result.error, "STARTTLS is required (email.starttls) but the relay does not offer it");
        ck_assert_int_eq(h.result.recipients[0].state, SMTP_RECIPIENT_DEFERRED);
        ck_assert(events_have(dir, "ehlo"));
        ck_assert(!events_have(dir, "auth"));
        ck_assert(!events_have(dir, "mail"));
        ck_assert_uint_eq(count_files(dir, ".eml"), 0);
        harness_done(&h);

        /* starttls: optional goes ahead without TLS (here without AUTH); a
         * path in the relay URL is the EHLO name the administrator wants */
        EmailConfig e2 = email_config(urls, STARTTLS_OPTIONAL, NULL);
        server_stop(&srv);
        aiosmtpd_start(&srv, dir, NULL);
        snprintf(url_buf[0], sizeof url_buf[0], "smtp://127.0.0.1:%d/relay-given.example", srv.port);
        harness_init(&h, &e2, NULL);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_DELIVERED);
        json_object *env = read_envelope(dir, 1);
        ck_assert(!json_object_get_boolean(jget(env, "tls")));
        ck_assert_str_eq(jstr(env, "ehlo"), "relay-given.example");
        json_object_put(env);
        harness_done(&h);
        server_stop(&srv);
}
END_TEST

START_TEST(test_wrong_password) {
        _cleanup_free_ char *dir = server_dir("wrongpw");
        char *rcpt[] = { (char *) "it@example.org", NULL };
        TestServer srv;
        Harness h;

        aiosmtpd_start(&srv, dir, "--tls-cert", server_crt, "--tls-key", server_key, "--require-starttls",
                       "--auth", USER ":" PASSWORD, NULL);
        char *urls[] = { url(0, "smtp", srv.port), NULL };
        EmailConfig e = email_config(urls, STARTTLS_REQUIRED, USER);
        harness_init(&h, &e, "not-the-password");
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_TEMPORARY);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_AUTH);
        ck_assert_int_eq(h.result.code, 535);
        ck_assert_str_eq(h.result.reply, "535 5.7.8 Authentication credentials invalid");
        ck_assert_has(h.result.error, ": AUTH refused: 535 5.7.8 Authentication credentials invalid");
        ck_assert(events_have(dir, "auth"));
        ck_assert(!events_have(dir, "mail"));
        ck_assert_uint_eq(count_files(dir, ".eml"), 0);
        harness_done(&h);
        server_stop(&srv);
}
END_TEST

START_TEST(test_untrusted_certificate) {
        _cleanup_free_ char *dir = server_dir("rogue"), *dir2 = server_dir("rogue-smtps");
        char *rcpt[] = { (char *) "it@example.org", NULL };
        TestServer srv, srv2;
        Harness h;

        aiosmtpd_start(&srv, dir, "--tls-cert", rogue_crt, "--tls-key", rogue_key, "--require-starttls", "--auth",
                       USER ":" PASSWORD, NULL);
        char *urls[] = { url(0, "smtp", srv.port), NULL };
        EmailConfig e = email_config(urls, STARTTLS_REQUIRED, USER);
        for (int i = 0; i < 2; i++) {
                /* our CA, then the system's trust store: neither trusts it */
                e.ca_file = i == 0 ? ca_file : NULL;
                harness_init(&h, &e, PASSWORD);
                send_and_wait(&h, simple_message, rcpt, 10);
                ck_assert_int_eq(h.result.outcome, SMTP_TEMPORARY);
                ck_assert_int_eq(h.result.stage, SMTP_STAGE_STARTTLS);
                ck_assert_has(h.result.error, "SSL certificate problem");
                harness_done(&h);
        }
        ck_assert(!events_have(dir, "auth"));
        ck_assert(!events_have(dir, "mail"));
        ck_assert_uint_eq(count_files(dir, ".eml"), 0);
        server_stop(&srv);

        aiosmtpd_start(&srv2, dir2, "--smtps", "--tls-cert", rogue_crt, "--tls-key", rogue_key, NULL);
        char *urls2[] = { url(1, "smtps", srv2.port), NULL };
        EmailConfig e2 = email_config(urls2, STARTTLS_REQUIRED, NULL);
        harness_init(&h, &e2, NULL);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_TEMPORARY);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_CONNECT);
        ck_assert_has(h.result.error, "SSL certificate problem");
        ck_assert_uint_eq(count_files(dir2, ".eml"), 0);
        harness_done(&h);
        server_stop(&srv2);
}
END_TEST

START_TEST(test_recipients) {
        _cleanup_free_ char *dir = server_dir("rcpt");
        TestServer srv;
        Harness h;

        aiosmtpd_start(&srv, dir, "--reject-rcpt", "bad@example.org=550 5.1.1 No such user", "--reject-rcpt",
                       "busy@example.org=450 4.2.1 Mailbox busy", NULL);
        char *urls[] = { url(0, "smtp", srv.port), NULL };
        EmailConfig e = email_config(urls, STARTTLS_OFF, NULL);
        harness_init(&h, &e, NULL);

        /* one refused for good: the others still get it */
        char *rcpt[] = { (char *) "it@example.org", (char *) "bad@example.org", (char *) "ops@example.org", NULL };
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_DELIVERED);
        ck_assert_uint_eq(h.result.n_recipients, 3);
        ck_assert_int_eq(h.result.recipients[0].state, SMTP_RECIPIENT_DELIVERED);
        ck_assert_int_eq(h.result.recipients[1].state, SMTP_RECIPIENT_REFUSED);
        ck_assert_int_eq(h.result.recipients[1].code, 550);
        ck_assert_str_eq(h.result.recipients[1].reply, "550 5.1.1 No such user");
        ck_assert_int_eq(h.result.recipients[2].state, SMTP_RECIPIENT_DELIVERED);
        json_object *env = read_envelope(dir, 1);
        json_object *to = jget(env, "rcpt_tos");
        ck_assert_uint_eq(json_object_array_length(to), 2);
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(to, 0)), "it@example.org");
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(to, 1)), "ops@example.org");
        json_object_put(env);
        _cleanup_free_ char *text = smtp_result_to_string(&h.result);
        ck_assert_has(text, "delivered to it@example.org, ops@example.org via smtp://127.0.0.1:");
        ck_assert_has(text, "bad@example.org refused: 550 5.1.1 No such user");

        /* one deferred (4xx): delivered to the rest, to be retried for that one */
        char *rcpt2[] = { (char *) "it@example.org", (char *) "busy@example.org", NULL };
        send_and_wait(&h, simple_message, rcpt2, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_TEMPORARY);
        ck_assert_int_eq(h.result.recipients[0].state, SMTP_RECIPIENT_DELIVERED);
        ck_assert_int_eq(h.result.recipients[1].state, SMTP_RECIPIENT_DEFERRED);
        ck_assert_int_eq(h.result.recipients[1].code, 450);
        ck_assert_has(h.result.error, "busy@example.org deferred: 450 4.2.1 Mailbox busy");
        ck_assert_uint_eq(count_files(dir, ".eml"), 2);

        /* every recipient refused: permanent, nothing sent */
        char *rcpt3[] = { (char *) "bad@example.org", NULL };
        send_and_wait(&h, simple_message, rcpt3, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_PERMANENT);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_RCPT);
        ck_assert_int_eq(h.result.code, 550);
        ck_assert_int_eq(h.result.recipients[0].state, SMTP_RECIPIENT_REFUSED);
        ck_assert_uint_eq(count_files(dir, ".eml"), 2);
        harness_done(&h);
        server_stop(&srv);
}
END_TEST

/* 4xx after the text (CURLE_WEIRD_SERVER_REPLY) is temporary, and the same
 * message goes through on the next attempt; 4xx at DATA is temporary; 5xx
 * after the text is permanent. */
START_TEST(test_data_replies) {
        _cleanup_free_ char *dir = server_dir("data4xx"), *dir2 = server_dir("sink-r-data"),
                            *dir3 = server_dir("sink-f-dot");
        char *rcpt[] = { (char *) "it@example.org", (char *) "ops@example.org", NULL };
        TestServer srv, srv2, srv3;
        Harness h;

        aiosmtpd_start(&srv, dir, "--fail-first", "1", "--fail-at", "DATA", NULL);
        char *urls[] = { url(0, "smtp", srv.port), NULL };
        EmailConfig e = email_config(urls, STARTTLS_OFF, NULL);
        harness_init(&h, &e, NULL);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_TEMPORARY);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_MESSAGE);
        ck_assert_int_eq(h.result.code, 451);
        ck_assert_str_eq(h.result.reply, "451 4.3.0 Try again later");
        ck_assert_int_eq(h.result.recipients[0].state, SMTP_RECIPIENT_DEFERRED);
        ck_assert_int_eq(h.result.recipients[1].state, SMTP_RECIPIENT_DEFERRED);
        ck_assert_str_eq(h.result.recipients[1].reply, "451 4.3.0 Try again later");
        ck_assert_has(h.result.error, "end of data refused: 451 4.3.0 Try again later");
        ck_assert_uint_eq(count_files(dir, ".eml"), 0);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_DELIVERED);
        ck_assert_uint_eq(count_files(dir, ".eml"), 1);
        harness_done(&h);
        server_stop(&srv);

        smtp_sink_start(&srv2, dir2, "-r", "DATA", NULL);
        urls[0] = url(0, "smtp", srv2.port);
        harness_init(&h, &e, NULL);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_TEMPORARY);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_DATA);
        ck_assert_int_eq(h.result.code, 450);
        ck_assert_str_eq(h.result.reply, "450 4.3.0 Error: command failed");
        harness_done(&h);
        server_stop(&srv2);

        smtp_sink_start(&srv3, dir3, "-f", ".", NULL);
        urls[0] = url(0, "smtp", srv3.port);
        harness_init(&h, &e, NULL);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_PERMANENT);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_MESSAGE);
        ck_assert_int_eq(h.result.code, 500);
        ck_assert_int_eq(h.result.recipients[0].state, SMTP_RECIPIENT_REFUSED);
        ck_assert_str_eq(h.result.recipients[0].reply, "500 5.3.0 Error: command failed");
        harness_done(&h);
        server_stop(&srv3);
}
END_TEST

/* Relays that fail on their own: 421 at the greeting, a connection dropped
 * at DATA, a reply slower than email.timeout. */
START_TEST(test_relay_failures) {
        _cleanup_free_ char *dir = server_dir("sink-421"), *dir2 = server_dir("sink-drop"),
                            *dir3 = server_dir("sink-slow");
        char *rcpt[] = { (char *) "it@example.org", NULL };
        TestServer srv, srv2, srv3;
        Harness h;

        smtp_sink_start(&srv, dir, "-Q", "CONNECT", NULL);
        char *urls[] = { url(0, "smtp", srv.port), NULL };
        EmailConfig e = email_config(urls, STARTTLS_OFF, NULL);
        harness_init(&h, &e, NULL);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_TEMPORARY);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_GREETING);
        ck_assert_int_eq(h.result.code, 421);
        ck_assert_has(h.result.reply, "421 ");
        ck_assert_has(h.result.error, "greeting refused: 421");
        harness_done(&h);
        server_stop(&srv);

        smtp_sink_start(&srv2, dir2, "-q", "DATA", NULL);
        urls[0] = url(0, "smtp", srv2.port);
        harness_init(&h, &e, NULL);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_TEMPORARY);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_DATA);
        ck_assert_int_lt(h.result.code, 400);
        ck_assert_int_eq(h.result.recipients[0].state, SMTP_RECIPIENT_DEFERRED);
        harness_done(&h);
        server_stop(&srv2);

        smtp_sink_start(&srv3, dir3, "-w", "10", NULL);
        urls[0] = url(0, "smtp", srv3.port);
        e.timeout = 1500 * USEC_PER_MSEC;
        harness_init(&h, &e, NULL);
        unsigned before = h.callbacks;
        ck_assert_int_eq(smtp_client_send(h.client, simple_message, rcpt, on_done, &h, NULL), 0);
        double took = harness_run(&h, before + 1, 8);
        ck_assert_msg(took >= 1.4 && took < 4, "took %.2f s", took);
        ck_assert_int_eq(h.result.outcome, SMTP_TEMPORARY);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_DATA);
        ck_assert_has(h.result.error, "timed out at DATA");
        harness_done(&h);
        server_stop(&srv3);
}
END_TEST

START_TEST(test_relay_list) {
        _cleanup_free_ char *dir = server_dir("sink-r-mail"), *dir2 = server_dir("good"),
                            *dir3 = server_dir("sink-f-mail");
        char *rcpt[] = { (char *) "it@example.org", NULL };
        TestServer srv, srv2, srv3;
        Harness h;

        /* down, then 4xx at MAIL, then one that takes it */
        smtp_sink_start(&srv, dir, "-r", "MAIL", NULL);
        aiosmtpd_start(&srv2, dir2, NULL);
        int down = closed_port();
        char *urls[] = { url(0, "smtp", down), url(1, "smtp", srv.port), url(2, "smtp", srv2.port), NULL };
        EmailConfig e = email_config(urls, STARTTLS_OFF, NULL);
        harness_init(&h, &e, NULL);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_DELIVERED);
        ck_assert_uint_eq(h.result.relays_tried, 3);
        ck_assert_str_eq(h.result.relay, url(2, "smtp", srv2.port));
        ck_assert_has(h.result.error, url(0, "smtp", down));
        ck_assert_has(h.result.error, "Couldn't connect to server");
        ck_assert_has(h.result.error, "MAIL refused: 450 4.3.0 Error: command failed");
        ck_assert_uint_eq(count_files(dir2, ".eml"), 1);
        harness_done(&h);

        /* 5xx for the message at the first relay: permanent, the next one is not asked */
        smtp_sink_start(&srv3, dir3, "-f", "MAIL", NULL);
        char *urls2[] = { url(3, "smtp", srv3.port), url(2, "smtp", srv2.port), NULL };
        EmailConfig e2 = email_config(urls2, STARTTLS_OFF, NULL);
        harness_init(&h, &e2, NULL);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_PERMANENT);
        ck_assert_uint_eq(h.result.relays_tried, 1);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_MAIL);
        ck_assert_str_eq(h.result.reply, "500 5.3.0 Error: command failed");
        ck_assert_uint_eq(count_files(dir2, ".eml"), 1);
        harness_done(&h);

        /* all down: temporary, every relay named */
        int down2 = closed_port();
        char *urls3[] = { url(4, "smtp", down), url(5, "smtp", down2), NULL };
        EmailConfig e3 = email_config(urls3, STARTTLS_OFF, NULL);
        harness_init(&h, &e3, NULL);
        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_TEMPORARY);
        ck_assert_uint_eq(h.result.relays_tried, 2);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_CONNECT);
        ck_assert_int_eq(h.result.code, 0);
        ck_assert_ptr_null(h.result.reply);
        ck_assert_has(h.result.error, url(4, "smtp", down));
        ck_assert_has(h.result.error, url(5, "smtp", down2));
        harness_done(&h);

        server_stop(&srv);
        server_stop(&srv2);
        server_stop(&srv3);
}
END_TEST

static void assert_secret_hidden(const char *what, const char *text) {
        unsigned char b64[256];
        const char plain[] = "\0" USER "\0" PASSWORD;
        if (!text)
                return;
        ck_assert_msg(!strstr(text, PASSWORD), "password in %s: %s", what, text);
        EVP_EncodeBlock(b64, (const unsigned char *) PASSWORD, (int) strlen(PASSWORD));
        ck_assert_msg(!strstr(text, (char *) b64), "base64 password in %s: %s", what, text);
        EVP_EncodeBlock(b64, (const unsigned char *) plain, (int) sizeof plain - 1);
        ck_assert_msg(!strstr(text, (char *) b64), "AUTH PLAIN blob in %s: %s", what, text);
}

static void assert_result_hidden(const Harness *h) {
        assert_secret_hidden("the log", h->log.data);
        assert_secret_hidden("the reply", h->result.reply);
        assert_secret_hidden("the error", h->result.error);
        for (size_t i = 0; i < h->result.n_recipients; i++)
                assert_secret_hidden("a recipient's reply", h->result.recipients[i].reply);
        _cleanup_free_ char *s = smtp_result_to_string(&h->result);
        assert_secret_hidden("the result text", s);
}

/* The password never shows: not in what is logged, not in the result,
 * not even when a hostile relay echoes it back in its refusal. */
START_TEST(test_password_never_shown) {
        char *rcpt[] = { (char *) "it@example.org", NULL };
        Harness h;

        for (int i = 0; i < 3; i++) {
                _cleanup_free_ char *dir = server_dir(i == 0 ? "pw-ok" : i == 1 ? "pw-echo-plain" : "pw-echo-login");
                TestServer srv;
                aiosmtpd_start(&srv, dir, "--tls-cert", server_crt, "--tls-key", server_key, "--require-starttls",
                               "--auth", i == 0 ? USER ":" PASSWORD : USER ":something-else", "--echo-auth",
                               "--auth-mechanisms", i == 2 ? "LOGIN" : "PLAIN", NULL);
                char *urls[] = { url(0, "smtp", srv.port), NULL };
                EmailConfig e = email_config(urls, STARTTLS_REQUIRED, USER);
                harness_init(&h, &e, PASSWORD);
                send_and_wait(&h, simple_message, rcpt, 10);
                ck_assert_int_eq(h.result.outcome, i == 0 ? SMTP_DELIVERED : SMTP_TEMPORARY);
                /* the conversation was logged, the AUTH exchange was not */
                ck_assert_has(h.log.data, i == 2 ? "> AUTH LOGIN (credentials not shown)" : "> AUTH PLAIN (credentials not shown)");
                ck_assert_has(h.log.data, "> (AUTH data, not shown)");
                if (i > 0) {
                        /* the relay said it; we show it without the password */
                        ck_assert_has(h.result.reply, "535 5.7.8 rejected " USER " (hidden)");
                        ck_assert_has(h.log.data, "< 535 5.7.8 rejected " USER " (hidden)");
                }
                assert_result_hidden(&h);
                harness_done(&h);
                server_stop(&srv);
        }
}
END_TEST

/* A relay's answer with line breaks, escape sequences, malformed UTF-8
 * and a fake encoded-word, taken into a mail-undeliverable e-mail: it
 * arrives as text, and adds no header. */
START_TEST(test_hostile_reply_into_alert) {
        _cleanup_free_ char *dir = server_dir("hostile");
        const char reply[] = "550-5.7.1 first line\r\n"
                             "550-X-Injected: 1\r\n"
                             "550 5.7.1 \x1b[31m\xc3\xa9vil\xff =?utf-8?q?X-Injected=3A_2?=";
        char hex[2 * sizeof reply + 1];
        for (size_t i = 0; i < sizeof reply - 1; i++)
                snprintf(hex + 2 * i, 3, "%02x", (unsigned char) reply[i]);
        TestServer srv;
        aiosmtpd_start(&srv, dir, "--fail-first", "1", "--fail-at", "MAIL", "--reply-hex", hex, NULL);
        _cleanup_(config_freep) Config *c = alert_config(url(0, "smtp", srv.port));
        c->email.starttls = STARTTLS_OFF;
        c->email.username = mfree(c->email.username);
        char *rcpt[] = { (char *) "it-alerts@example.org", NULL };
        Harness h;
        harness_init(&h, &c->email, NULL);

        send_and_wait(&h, simple_message, rcpt, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_PERMANENT);
        ck_assert_int_eq(h.result.stage, SMTP_STAGE_MAIL);
        ck_assert_int_eq(h.result.code, 550);
        ck_assert_str_eq(h.result.reply, "550-5.7.1 first line\n550-X-Injected: 1\n550 5.7.1 ?[31m\xc3\xa9vil? "
                                         "=?utf-8?q?X-Injected=3A_2?=");

        _cleanup_(alert_done) Alert a = {
                .kind = ALERT_MAIL_UNDELIVERABLE,
                .link = strdup("district"),
                .time = 1803924000 * USEC_PER_SEC,
                .mail_subject = strdup("[tomslink] district: SIS credential expires in 7 days (2027-03-01)"),
                .mail_error = strdup(h.result.reply),
                .failure = _PROBE_CLASS_INVALID,
        };
        _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL;
        ck_assert_int_eq(mail_format_alert(&a, config_find_link(c, "district"), c, EHLO_NAME, &m), 0);
        ck_assert_uint_eq(strv_length(m.recipients), 1);
        send_and_wait(&h, m.data, m.recipients, 10);
        ck_assert_int_eq(h.result.outcome, SMTP_DELIVERED);

        char p[600];
        snprintf(p, sizeof p, "%s/0001.eml", dir);
        json_object *j = eml_parse_file(p);
        ck_assert_uint_eq(eml_list_len(j, "defects"), 0);
        ck_assert_uint_eq(eml_header_count(j, "X-Injected"), 0);
        ck_assert_uint_eq(eml_list_len(j, "raw_header_names"), 12);
        const char *body = eml_str(j, "body");
        ck_assert_has(body, "Relay's answer:   550-5.7.1 first line\n"
                            "                    550-X-Injected: 1\n"
                            "                    550 5.7.1 ?[31m\xc3\xa9vil? =?utf-8?q?X-Injected=3A_2?=\n");
        json_object_put(j);
        harness_done(&h);
        server_stop(&srv);
}
END_TEST

/* tomslinkctl test-email: one message now, the relay's exact answer back. */
START_TEST(test_send_now) {
        _cleanup_free_ char *dir = server_dir("now"), *dir2 = server_dir("now-refused");
        TestServer srv, srv2;
        SmtpResult r = SMTP_RESULT_NULL;

        aiosmtpd_start(&srv, dir, "--tls-cert", server_crt, "--tls-key", server_key, "--require-starttls",
                       "--auth", USER ":" PASSWORD, NULL);
        _cleanup_(config_freep) Config *c = alert_config(url(0, "smtp", srv.port));
        _cleanup_(mail_message_done) MailMessage m = MAIL_MESSAGE_NULL;
        ck_assert_int_eq(mail_format_test(c, EHLO_NAME, 1803924000 * USEC_PER_SEC, &m), 0);
        ck_assert_int_eq(smtp_send_now(&c->email, PASSWORD, EHLO_NAME, m.data, m.recipients, NULL, &r), 0);
        ck_assert_int_eq(r.outcome, SMTP_DELIVERED);
        ck_assert_str_eq(r.reply, "250 2.0.0 Message accepted for delivery");
        smtp_result_done(&r);
        char p[600];
        snprintf(p, sizeof p, "%s/0001.eml", dir);
        json_object *j = eml_parse_file(p);
        ck_assert_str_eq(eml_header(j, "Subject"), "[tomslink] test message from " EHLO_NAME);
        ck_assert_str_eq(eml_header(j, "X-Tomslink-Alert"), "test");
        json_object_put(j);
        server_stop(&srv);

        smtp_sink_start(&srv2, dir2, "-f", "RCPT", NULL);
        char *urls[] = { url(0, "smtp", srv2.port), NULL };
        EmailConfig e = email_config(urls, STARTTLS_OFF, NULL);
        ck_assert_int_eq(smtp_send_now(&e, NULL, EHLO_NAME, m.data, m.recipients, NULL, &r), 0);
        ck_assert_int_eq(r.outcome, SMTP_PERMANENT);
        ck_assert_str_eq(r.reply, "500 5.3.0 Error: command failed");
        _cleanup_free_ char *text = smtp_result_to_string(&r);
        ck_assert_has(text, "not delivered (permanent failure); it-alerts@example.org refused: 500 5.3.0 Error: command failed");
        smtp_result_done(&r);
        server_stop(&srv2);
}
END_TEST

/* libcurl waits for the answer to QUIT synchronously; a relay that never
 * answers it must not hold the event loop for long. */
START_TEST(test_slow_quit) {
        _cleanup_free_ char *dir = server_dir("sink-slow-quit");
        char *rcpt[] = { (char *) "it@example.org", NULL };
        TestServer srv;
        Harness h;

        smtp_sink_start(&srv, dir, "-W", "QUIT:20", NULL);
        char *urls[] = { url(0, "smtp", srv.port), NULL };
        EmailConfig e = email_config(urls, STARTTLS_OFF, NULL);
        e.timeout = 30 * USEC_PER_SEC;
        harness_init(&h, &e, NULL);
        unsigned before = h.callbacks;
        ck_assert_int_eq(smtp_client_send(h.client, simple_message, rcpt, on_done, &h, NULL), 0);
        double took = harness_run(&h, before + 1, 15);
        ck_assert_int_eq(h.result.outcome, SMTP_DELIVERED);
        ck_assert_msg(took < 2.5, "took %.2f s", took);
        harness_done(&h);
        server_stop(&srv);
}
END_TEST

/* A cancelled send calls nothing back; freeing the client with sends in
 * flight is clean; the client's transfers end in its own callbacks, and
 * someone else's transfer on the same glue goes to its owner. */
START_TEST(test_cancel_and_foreign) {
        _cleanup_free_ char *dir = server_dir("sink-slow-greeting");
        char *rcpt[] = { (char *) "it@example.org", NULL };
        TestServer srv;
        SmtpSend *send = NULL;
        Harness h;

        smtp_sink_start(&srv, dir, "-W", "CONNECT:10", NULL);
        char *urls[] = { url(0, "smtp", srv.port), NULL };
        EmailConfig e = email_config(urls, STARTTLS_OFF, NULL);
        harness_init(&h, &e, NULL);
        ck_assert_int_eq(smtp_client_send(h.client, simple_message, rcpt, on_done, &h, &send), 0);
        for (int i = 0; i < 3; i++)
                ck_assert_int_ge(sd_event_run(h.event, 50 * USEC_PER_MSEC), 0);
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        smtp_send_cancel(send);
        ck_assert_msg(now_usec(CLOCK_MONOTONIC) - t0 < 500 * USEC_PER_MSEC, "cancelling blocked");
        ck_assert_uint_eq(smtp_client_in_flight(h.client), 0);
        ck_assert_uint_eq(curl_glue_n_running(h.glue), 0);

        CURL *foreign = curl_easy_init();
        ck_assert_int_eq(curl_easy_setopt(foreign, CURLOPT_URL, "file:///dev/null"), CURLE_OK);
        ck_assert_int_eq(curl_glue_add(h.glue, foreign), 0);
        for (int i = 0; i < 20 && h.foreign == 0; i++)
                ck_assert_int_ge(sd_event_run(h.event, 50 * USEC_PER_MSEC), 0);
        ck_assert_uint_eq(h.foreign, 1);
        ck_assert_uint_eq(h.callbacks, 0);

        ck_assert_int_eq(smtp_client_send(h.client, simple_message, rcpt, on_done, &h, NULL), 0);
        ck_assert_int_eq(smtp_client_send(h.client, simple_message, rcpt, on_done, &h, NULL), 0);
        ck_assert_uint_eq(smtp_client_in_flight(h.client), 2);
        for (int i = 0; i < 3; i++)
                ck_assert_int_ge(sd_event_run(h.event, 50 * USEC_PER_MSEC), 0);
        t0 = now_usec(CLOCK_MONOTONIC);
        harness_done(&h);   /* frees the client with both in flight */
        ck_assert_msg(now_usec(CLOCK_MONOTONIC) - t0 < 500 * USEC_PER_MSEC, "freeing blocked");
        ck_assert_uint_eq(h.callbacks, 0);
        server_stop(&srv);
}
END_TEST

/* ---- unit tests: no server ------------------------------------------------ */

static void write_file(const char *path, const char *data, size_t n) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, n), (ssize_t) n);
        close(fd);
}

START_TEST(test_password_load) {
        char *dir = scratch_new();
        char file[512], cred[512];
        char *urls[] = { (char *) "smtp://mail.example.org:587", NULL };
        EmailConfig e = email_config(urls, STARTTLS_REQUIRED, USER);
        char *pw = NULL;

        snprintf(file, sizeof file, "%s/smtp-password", dir);
        e.password_file = file;
        write_file(file, "s3cret pass\r\nsecond line\n", 25);
        ck_assert_int_eq(smtp_password_load(&e, NULL, &pw), 0);
        ck_assert_str_eq(pw, "s3cret pass");
        pw = smtp_password_free(pw);
        write_file(file, "no-newline", 10);
        ck_assert_int_eq(smtp_password_load(&e, "/nonexistent", &pw), 0);   /* password_file wins */
        ck_assert_str_eq(pw, "no-newline");
        pw = smtp_password_free(pw);
        write_file(file, "\n", 1);
        ck_assert_int_eq(smtp_password_load(&e, NULL, &pw), -EBADMSG);
        write_file(file, "ab\0cd\n", 6);
        ck_assert_int_eq(smtp_password_load(&e, NULL, &pw), -EBADMSG);
        char big[8192];
        memset(big, 'x', sizeof big);
        write_file(file, big, sizeof big);
        ck_assert_int_eq(smtp_password_load(&e, NULL, &pw), -EFBIG);
        ck_assert_ptr_null(pw);

        /* a missing file: the error, and the name for the message */
        snprintf(file, sizeof file, "%s/missing", dir);
        ck_assert_int_eq(smtp_password_load(&e, NULL, &pw), -ENOENT);
        _cleanup_free_ char *path = smtp_password_path(&e, NULL);
        ck_assert_str_eq(path, file);

        /* the systemd credential */
        e.password_file = NULL;
        snprintf(cred, sizeof cred, "%s/tomslink.smtp", dir);
        ck_assert_int_eq(smtp_password_load(&e, dir, &pw), -ENOENT);
        _cleanup_free_ char *path2 = smtp_password_path(&e, dir);
        ck_assert_str_eq(path2, cred);
        write_file(cred, "from-credential\n", 16);
        ck_assert_int_eq(smtp_password_load(&e, dir, &pw), 0);
        ck_assert_str_eq(pw, "from-credential");
        pw = smtp_password_free(pw);

        /* no source at all, and no AUTH at all */
        ck_assert_int_eq(smtp_password_load(&e, NULL, &pw), -ENOKEY);
        ck_assert_ptr_null(smtp_password_path(&e, NULL));
        e.username = NULL;
        pw = (char *) "untouched";
        ck_assert_int_eq(smtp_password_load(&e, dir, &pw), 0);
        ck_assert_ptr_null(pw);
        scratch_remove(dir);
}
END_TEST

START_TEST(test_client_arguments) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(curl_glue_freep) CurlGlue *glue = NULL;
        _cleanup_(smtp_client_freep) SmtpClient *c = NULL;
        char *urls[] = { (char *) "smtp://mail.example.org:587", NULL }, *no_urls[] = { NULL };
        EmailConfig e = email_config(urls, STARTTLS_REQUIRED, USER);

        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(curl_glue_new(event, NULL, NULL, &glue), 0);
        ck_assert_int_eq(smtp_client_new(glue, &e, NULL, EHLO_NAME, NULL, &c), -ENOKEY);
        e.smtp_urls = no_urls;
        ck_assert_int_eq(smtp_client_new(glue, &e, PASSWORD, EHLO_NAME, NULL, &c), -EINVAL);
        e.smtp_urls = urls;
        e.from_address = (char *) "x@y\r\nRCPT TO:<z@example.org>";
        ck_assert_int_eq(smtp_client_new(glue, &e, PASSWORD, EHLO_NAME, NULL, &c), -EINVAL);
        ck_assert_ptr_null(c);
        e.from_address = (char *) "tomslink@example.org";
        ck_assert_int_eq(smtp_client_new(glue, &e, PASSWORD, "bad host\r\n", NULL, &c), 0);

        /* recipients that would smuggle SMTP commands are refused before anything is sent */
        char *evil[] = { (char *) "it@example.org>\r\nRCPT TO:<x@example.org", NULL }, *none[] = { NULL };
        char *good[] = { (char *) "it@example.org", NULL };
        ck_assert_int_eq(smtp_client_send(c, simple_message, evil, NULL, NULL, NULL), -EINVAL);
        ck_assert_int_eq(smtp_client_send(c, simple_message, none, NULL, NULL, NULL), -EINVAL);
        ck_assert_int_eq(smtp_client_send(c, NULL, good, NULL, NULL, NULL), -EINVAL);
        ck_assert_uint_eq(smtp_client_in_flight(c), 0);

        ck_assert_str_eq(smtp_outcome_to_string(SMTP_TEMPORARY), "temporary");
        ck_assert_str_eq(smtp_recipient_state_to_string(SMTP_RECIPIENT_REFUSED), "refused");
        ck_assert_str_eq(smtp_stage_to_string(SMTP_STAGE_MESSAGE), "end of data");
        ck_assert_ptr_null(smtp_stage_to_string(_SMTP_STAGE_INVALID));
}
END_TEST

static void on_test_reply(int code, char *text, void *userdata) {
        strbuf_printf(userdata, "%d %s|", code, text);
        free(text);
}

static char *shown(char **hidden, const char *text) {
        StrBuf b = STRBUF_NULL;
        smtp_relay_text(hidden, &b, text, strlen(text), 512);
        return strbuf_steal(&b);
}

START_TEST(test_relay_text) {
        char *hidden[] = { (char *) "s3cret", (char *) "czNjcmV0", NULL };
        _cleanup_free_ char *a = shown(hidden, "535 rejected s3cret (czNjcmV0) s3crets3cret\r\n\x1b[2J\xff");
        ck_assert_str_eq(a, "535 rejected (hidden) ((hidden)) (hidden)???[2J?");

        /* a password that is part of the mask: found in the text as it
         * came, not again in its own mask (which never ended) */
        char *d[] = { (char *) "d", (char *) "(hidden)", NULL };
        _cleanup_free_ char *b = shown(d, "550 ddd (hidden) d");
        ck_assert_str_eq(b, "550 (hidden) (hidden) (hidden)");

        /* lines and answers, in pieces of any size */
        SmtpReplyReader r = SMTP_REPLY_READER_NULL;
        StrBuf got = STRBUF_NULL;
        const char *conv = "250-mail.example.org\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n535 no d\r\n";
        for (const char *p = conv; *p; p++)
                smtp_reply_reader_feed(&r, d, p, 1, NULL, on_test_reply, &got);
        smtp_reply_reader_done(&r);
        ck_assert_str_eq(got.data, "250 250-mail.example.org\n250-AUTH PLAIN\n250 8BITMIME|535 535 no (hidden)|");
        strbuf_done(&got);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("smtp");
        TCase *unit = tcase_create("unit");
        ADD_TESTS(unit, test_password_load, test_client_arguments, test_relay_text);
        suite_add_tcase(s, unit);

        TCase *tc = tcase_create("servers");
        tcase_set_timeout(tc, 120);
        tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
        ADD_TESTS(tc, test_alert_delivered, test_auth_login_and_smtps, test_starttls_required, test_wrong_password,
                  test_untrusted_certificate, test_recipients, test_data_replies, test_relay_failures,
                  test_relay_list, test_password_never_shown, test_hostile_reply_into_alert, test_send_now,
                  test_slow_quit, test_cancel_and_foreign);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
