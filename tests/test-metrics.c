/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <locale.h>
#include <sys/wait.h>

#include "metrics.h"
#include "scratch.h"

#define SEC(s) ((usec_t) (s) * USEC_PER_SEC)

static ProbeSummary probe_ok(void) {
        return (ProbeSummary) {
                .klass = PROBE_OK,
                .http_status = 200,
                .time = SEC(1767225599) + 500000,
                .dns = 1234,
                .connect = 2500,
                .tls = 10000,
                .first_byte = 15000,
                .total = 15500,
        };
}

static ProbeSummary probe_refused(void) {
        /* phases marked not reached (USEC_INFINITY) get no sample */
        return (ProbeSummary) {
                .klass = PROBE_AUTH,
                .http_status = 401,
                .time = SEC(1767225590),
                .dns = USEC_INFINITY,
                .connect = USEC_INFINITY,
                .tls = USEC_INFINITY,
                .first_byte = 4000,
                .total = 4100,
        };
}

static void snapshot_init(MetricsSnapshot *s, MetricsLink links[3], ProbeSummary *ok, ProbeSummary *refused) {
        *ok = probe_ok();
        *refused = probe_refused();
        links[0] = (MetricsLink) {
                .name = "district",
                .state = LINK_STATE_OK,
                .has_credential = true,
                .expires = SEC(1798761600),
                .days_left = 365,
                .cert_not_after = SEC(1780000000) + 500000,
                .last = ok,
                .probes = { [PROBE_OK] = 3 },
        };
        links[1] = (MetricsLink) {
                .name = "school-b",
                .state = LINK_STATE_AUTH_REJECTED,
                .held = true,
                .auth_open = true,
                .has_credential = true,
                .expires = SEC(1767052800),
                .days_left = -2,
                .last = refused,
                .probes = { [PROBE_OK] = 1, [PROBE_AUTH] = 2 },
        };
        links[2] = (MetricsLink) {
                .name = "spare",
                .state = LINK_STATE_UNCONFIGURED,
        };
        *s = (MetricsSnapshot) {
                .version = "0.1.0",
                .now = SEC(1767225600) + 250000,
                .started = SEC(1767225000),
                .links = links,
                .n_links = 3,
                .alerts = { [ALERT_CREDENTIAL_EXPIRING] = 1, [ALERT_AUTH_REJECTED] = 1 },
                .has_outbox = true,
                .outbox = { [OUTBOX_PENDING] = 1, [OUTBOX_DELIVERED] = 2 },
        };
}

static const char expected[] =
        "# HELP tomslink_build_info The version of tomslinkd; the value is always 1.\n"
        "# TYPE tomslink_build_info gauge\n"
        "tomslink_build_info{version=\"0.1.0\"} 1\n"
        "# HELP tomslink_daemon_start_time_seconds When tomslinkd started, in seconds since the Unix epoch.\n"
        "# TYPE tomslink_daemon_start_time_seconds gauge\n"
        "tomslink_daemon_start_time_seconds 1767225000\n"
        "# HELP tomslink_metrics_last_write_timestamp_seconds When tomslinkd wrote these metrics, in seconds since the Unix epoch; rewritten at least every 30 seconds while it runs.\n"
        "# TYPE tomslink_metrics_last_write_timestamp_seconds gauge\n"
        "tomslink_metrics_last_write_timestamp_seconds 1767225600.25\n"
        "# HELP tomslink_links Configured links by state (the worst problem each holds); their sum is the number of links.\n"
        "# TYPE tomslink_links gauge\n"
        "tomslink_links{state=\"expired\"} 0\n"
        "tomslink_links{state=\"auth-rejected\"} 1\n"
        "tomslink_links{state=\"down\"} 0\n"
        "tomslink_links{state=\"expiring\"} 0\n"
        "tomslink_links{state=\"cert-expiring\"} 0\n"
        "tomslink_links{state=\"maintenance\"} 0\n"
        "tomslink_links{state=\"silenced\"} 0\n"
        "tomslink_links{state=\"unconfigured\"} 1\n"
        "tomslink_links{state=\"unknown\"} 0\n"
        "tomslink_links{state=\"ok\"} 1\n"
        "# HELP tomslink_alerts_total Alerts raised since tomslinkd started, by kind; reminders and alerts held by a maintenance window or a silence included.\n"
        "# TYPE tomslink_alerts_total counter\n"
        "tomslink_alerts_total{kind=\"credential-expiring\"} 1\n"
        "tomslink_alerts_total{kind=\"credential-expired\"} 0\n"
        "tomslink_alerts_total{kind=\"auth-rejected\"} 1\n"
        "tomslink_alerts_total{kind=\"link-down\"} 0\n"
        "tomslink_alerts_total{kind=\"link-recovered\"} 0\n"
        "tomslink_alerts_total{kind=\"endpoint-cert-expiring\"} 0\n"
        "tomslink_alerts_total{kind=\"mail-undeliverable\"} 0\n"
        "# HELP tomslink_mail_outbox_messages Alert e-mails in the outbox by state: pending (not yet delivered to every recipient), delivered, failed; finished ones are kept 30 days.\n"
        "# TYPE tomslink_mail_outbox_messages gauge\n"
        "tomslink_mail_outbox_messages{state=\"pending\"} 1\n"
        "tomslink_mail_outbox_messages{state=\"delivered\"} 2\n"
        "tomslink_mail_outbox_messages{state=\"failed\"} 0\n"
        "# HELP tomslink_link_state The state of each link (the worst problem it holds), as tomslinkctl status shows it; the value is always 1.\n"
        "# TYPE tomslink_link_state gauge\n"
        "tomslink_link_state{link=\"district\",state=\"ok\"} 1\n"
        "tomslink_link_state{link=\"school-b\",state=\"auth-rejected\"} 1\n"
        "tomslink_link_state{link=\"spare\",state=\"unconfigured\"} 1\n"
        "# HELP tomslink_link_held 1 while a maintenance window or a silence holds the link's alerts, else 0.\n"
        "# TYPE tomslink_link_held gauge\n"
        "tomslink_link_held{link=\"district\"} 0\n"
        "tomslink_link_held{link=\"school-b\"} 1\n"
        "tomslink_link_held{link=\"spare\"} 0\n"
        "# HELP tomslink_open_problems 1 while the problem (link-down or auth-rejected) is open for the link, else 0.\n"
        "# TYPE tomslink_open_problems gauge\n"
        "tomslink_open_problems{link=\"district\",kind=\"link-down\"} 0\n"
        "tomslink_open_problems{link=\"district\",kind=\"auth-rejected\"} 0\n"
        "tomslink_open_problems{link=\"school-b\",kind=\"link-down\"} 0\n"
        "tomslink_open_problems{link=\"school-b\",kind=\"auth-rejected\"} 1\n"
        "tomslink_open_problems{link=\"spare\",kind=\"link-down\"} 0\n"
        "tomslink_open_problems{link=\"spare\",kind=\"auth-rejected\"} 0\n"
        "# HELP tomslink_credential_expiry_timestamp_seconds When the link's credential expires, in seconds since the Unix epoch; links without a credential have none.\n"
        "# TYPE tomslink_credential_expiry_timestamp_seconds gauge\n"
        "tomslink_credential_expiry_timestamp_seconds{link=\"district\"} 1798761600\n"
        "tomslink_credential_expiry_timestamp_seconds{link=\"school-b\"} 1767052800\n"
        "# HELP tomslink_credential_calendar_day_left Calendar days in the configured time zone until the link's credential expires: 0 on the day it expires, negative after.\n"
        "# TYPE tomslink_credential_calendar_day_left gauge\n"
        "tomslink_credential_calendar_day_left{link=\"district\"} 365\n"
        "tomslink_credential_calendar_day_left{link=\"school-b\"} -2\n"
        "# HELP tomslink_endpoint_certificate_expiry_timestamp_seconds When the earliest-expiring certificate the link's endpoint presented expires, in seconds since the Unix epoch; once one was seen.\n"
        "# TYPE tomslink_endpoint_certificate_expiry_timestamp_seconds gauge\n"
        "tomslink_endpoint_certificate_expiry_timestamp_seconds{link=\"district\"} 1780000000.5\n"
        "# HELP tomslink_link_up 1 if the link's last probe succeeded, 0 if it failed; links never probed have none.\n"
        "# TYPE tomslink_link_up gauge\n"
        "tomslink_link_up{link=\"district\"} 1\n"
        "tomslink_link_up{link=\"school-b\"} 0\n"
        "# HELP tomslink_last_probe_timestamp_seconds When the link's last probe started, in seconds since the Unix epoch.\n"
        "# TYPE tomslink_last_probe_timestamp_seconds gauge\n"
        "tomslink_last_probe_timestamp_seconds{link=\"district\"} 1767225599.5\n"
        "tomslink_last_probe_timestamp_seconds{link=\"school-b\"} 1767225590\n"
        "# HELP tomslink_last_probe_http_status The HTTP status of the link's last probe; 0 when no HTTP answer came.\n"
        "# TYPE tomslink_last_probe_http_status gauge\n"
        "tomslink_last_probe_http_status{link=\"district\"} 200\n"
        "tomslink_last_probe_http_status{link=\"school-b\"} 401\n"
        "# HELP tomslink_last_probe_duration_seconds Time from the start of the link's last probe to the end of each phase it reached: dns, connect, tls, first_byte, total.\n"
        "# TYPE tomslink_last_probe_duration_seconds gauge\n"
        "tomslink_last_probe_duration_seconds{link=\"district\",phase=\"dns\"} 0.001234\n"
        "tomslink_last_probe_duration_seconds{link=\"district\",phase=\"connect\"} 0.0025\n"
        "tomslink_last_probe_duration_seconds{link=\"district\",phase=\"tls\"} 0.01\n"
        "tomslink_last_probe_duration_seconds{link=\"district\",phase=\"first_byte\"} 0.015\n"
        "tomslink_last_probe_duration_seconds{link=\"district\",phase=\"total\"} 0.0155\n"
        "tomslink_last_probe_duration_seconds{link=\"school-b\",phase=\"first_byte\"} 0.004\n"
        "tomslink_last_probe_duration_seconds{link=\"school-b\",phase=\"total\"} 0.0041\n"
        "# HELP tomslink_probes_total Probes finished since tomslinkd started, by link and failure class (ok: a success).\n"
        "# TYPE tomslink_probes_total counter\n"
        "tomslink_probes_total{link=\"district\",class=\"ok\"} 3\n"
        "tomslink_probes_total{link=\"district\",class=\"dns\"} 0\n"
        "tomslink_probes_total{link=\"district\",class=\"connect\"} 0\n"
        "tomslink_probes_total{link=\"district\",class=\"tls\"} 0\n"
        "tomslink_probes_total{link=\"district\",class=\"timeout\"} 0\n"
        "tomslink_probes_total{link=\"district\",class=\"auth\"} 0\n"
        "tomslink_probes_total{link=\"district\",class=\"http\"} 0\n"
        "tomslink_probes_total{link=\"school-b\",class=\"ok\"} 1\n"
        "tomslink_probes_total{link=\"school-b\",class=\"dns\"} 0\n"
        "tomslink_probes_total{link=\"school-b\",class=\"connect\"} 0\n"
        "tomslink_probes_total{link=\"school-b\",class=\"tls\"} 0\n"
        "tomslink_probes_total{link=\"school-b\",class=\"timeout\"} 0\n"
        "tomslink_probes_total{link=\"school-b\",class=\"auth\"} 2\n"
        "tomslink_probes_total{link=\"school-b\",class=\"http\"} 0\n"
        "tomslink_probes_total{link=\"spare\",class=\"ok\"} 0\n"
        "tomslink_probes_total{link=\"spare\",class=\"dns\"} 0\n"
        "tomslink_probes_total{link=\"spare\",class=\"connect\"} 0\n"
        "tomslink_probes_total{link=\"spare\",class=\"tls\"} 0\n"
        "tomslink_probes_total{link=\"spare\",class=\"timeout\"} 0\n"
        "tomslink_probes_total{link=\"spare\",class=\"auth\"} 0\n"
        "tomslink_probes_total{link=\"spare\",class=\"http\"} 0\n";

/* The first line where two texts differ, for a readable failure. */
static void assert_text_eq(const char *got, const char *want) {
        size_t line = 1;
        const char *g = got, *w = want;
        while (*g && *g == *w) {
                if (*g == '\n')
                        line++;
                g++;
                w++;
        }
        if (*g == *w)
                return;
        while (g > got && g[-1] != '\n')
                g--;
        while (w > want && w[-1] != '\n')
                w--;
        ck_abort_msg("line %zu differs:\n got: %.*s\nwant: %.*s", line, (int) strcspn(g, "\n"), g,
                     (int) strcspn(w, "\n"), w);
}

START_TEST(test_exact) {
        MetricsSnapshot s;
        MetricsLink links[3];
        ProbeSummary ok, refused;
        snapshot_init(&s, links, &ok, &refused);

        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        ck_assert_int_eq(metrics_render(&s, &text, &n), 0);
        assert_text_eq(text, expected);
        ck_assert_uint_eq(n, strlen(expected));

        /* into a buffer used again, as the daemon does */
        StrBuf b = STRBUF_NULL;
        ck_assert_int_eq(metrics_render_to(&s, &b), 0);
        strbuf_reset(&b);
        ck_assert_int_eq(metrics_render_to(&s, &b), 0);
        assert_text_eq(b.data, expected);
        /* a refused snapshot leaves the buffer as it was */
        links[0].state = -1;
        ck_assert_int_eq(metrics_render_to(&s, &b), -EINVAL);
        ck_assert_uint_eq(b.len, strlen(expected));
        strbuf_done(&b);
}
END_TEST

START_TEST(test_empty) {
        /* no links, no outbox: the daemon's own metrics only, and every
         * per-link family still has its HELP and TYPE */
        MetricsSnapshot s = { .version = "0.1.0", .now = SEC(100), .started = SEC(90) };
        _cleanup_free_ char *text = NULL;
        ck_assert_int_eq(metrics_render(&s, &text, NULL), 0);
        ck_assert_ptr_nonnull(strstr(text, "tomslink_links{state=\"ok\"} 0\n"));
        ck_assert_ptr_null(strstr(text, "tomslink_mail_outbox_messages"));
        ck_assert_ptr_nonnull(strstr(text, "# TYPE tomslink_probes_total counter\n"));
        ck_assert_ptr_null(strstr(text, "link=\""));
        /* the text ends with the probes family, as its last line */
        size_t n = strlen(text);
        ck_assert(n > 0 && text[n - 1] == '\n');
}
END_TEST

START_TEST(test_invalid) {
        MetricsSnapshot s;
        MetricsLink links[3];
        ProbeSummary ok, refused;
        char *text = NULL;

        snapshot_init(&s, links, &ok, &refused);
        links[1].state = _LINK_STATE_MAX;
        ck_assert_int_eq(metrics_render(&s, &text, NULL), -EINVAL);
        snapshot_init(&s, links, &ok, &refused);
        refused.klass = _PROBE_CLASS_MAX;
        ck_assert_int_eq(metrics_render(&s, &text, NULL), -EINVAL);
        snapshot_init(&s, links, &ok, &refused);
        links[2].name = NULL;
        ck_assert_int_eq(metrics_render(&s, &text, NULL), -EINVAL);
        s = (MetricsSnapshot) { .n_links = 1 };
        ck_assert_int_eq(metrics_render(&s, &text, NULL), -EINVAL);
        ck_assert_ptr_null(text);
}
END_TEST

START_TEST(test_label_escaping) {
        StrBuf b = STRBUF_NULL;
        metrics_put_label_value(&b, "a\\b\"c\nd");
        ck_assert_str_eq(b.data, "a\\\\b\\\"c\\nd");
        strbuf_done(&b);
        metrics_put_label_value(&b, "\\\\\n\n\"");
        ck_assert_str_eq(b.data, "\\\\\\\\\\n\\n\\\"");
        strbuf_done(&b);
        metrics_put_label_value(&b, "");
        ck_assert_str_eq(b.data ?: "", "");
        strbuf_done(&b);
        /* UTF-8 passes as it is */
        metrics_put_label_value(&b, "sch\xc3\xb6ol");
        ck_assert_str_eq(b.data, "sch\xc3\xb6ol");
        strbuf_done(&b);

        /* in place: every family of a link with such a name */
        MetricsSnapshot s;
        MetricsLink links[3];
        ProbeSummary ok, refused;
        snapshot_init(&s, links, &ok, &refused);
        links[0].name = "we\"ird\\na\nme";
        s.version = "1.0\n\"x\"";
        _cleanup_free_ char *text = NULL;
        ck_assert_int_eq(metrics_render(&s, &text, NULL), 0);
        ck_assert_ptr_nonnull(strstr(text, "tomslink_build_info{version=\"1.0\\n\\\"x\\\"\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(text, "tomslink_link_up{link=\"we\\\"ird\\\\na\\nme\"} 1\n"));
        ck_assert_ptr_nonnull(
                strstr(text, "tomslink_probes_total{link=\"we\\\"ird\\\\na\\nme\",class=\"http\"} 0\n"));
        /* no raw line feed inside a sample: each line is a comment or name{...} value */
        size_t samples = 0;
        for (char *line = text, *nl; *line; line = nl + 1) {
                nl = strchr(line, '\n');
                ck_assert_ptr_nonnull(nl);
                if (line[0] == '#')
                        continue;
                ck_assert_msg(strneq(line, "tomslink_", 9), "line: %.*s", (int) (nl - line), line);
                samples++;
        }
        ck_assert_uint_eq(samples, 74);
}
END_TEST

START_TEST(test_numbers) {
        static const struct {
                usec_t usec;
                const char *text;
        } seconds[] = {
                { 0, "0" },
                { 1, "0.000001" },
                { 10, "0.00001" },
                { 999999, "0.999999" },
                { 1000000, "1" },
                { 1500000, "1.5" },
                { 1050000, "1.05" },
                { 20000000, "20" },
                { SEC(1767225600) + 123456, "1767225600.123456" },
                { USEC_INFINITY - 1, "18446744073709.551614" },
        };
        for (size_t i = 0; i < ELEMENTSOF(seconds); i++) {
                StrBuf b = STRBUF_NULL;
                metrics_put_seconds(&b, seconds[i].usec);
                ck_assert_str_eq(b.data, seconds[i].text);
                strbuf_done(&b);
        }

        static const struct {
                int64_t v;
                const char *text;
        } ints[] = {
                { 0, "0" }, { 7, "7" }, { -1, "-1" }, { -365, "-365" },
                { INT64_MAX, "9223372036854775807" }, { INT64_MIN, "-9223372036854775808" },
        };
        for (size_t i = 0; i < ELEMENTSOF(ints); i++) {
                StrBuf b = STRBUF_NULL;
                metrics_put_int(&b, ints[i].v);
                ck_assert_str_eq(b.data, ints[i].text);
                strbuf_done(&b);
        }
        StrBuf b = STRBUF_NULL;
        metrics_put_uint(&b, UINT64_MAX);
        ck_assert_str_eq(b.data, "18446744073709551615");
        strbuf_done(&b);
}
END_TEST

/* Every sample value parses as a number the way Prometheus reads it (Go's
 * ParseFloat: digits, one dot, optional sign), never NaN or Inf, even for
 * phases not reached and extreme values. */
START_TEST(test_no_nan) {
        MetricsSnapshot s;
        MetricsLink links[3];
        ProbeSummary ok, refused;
        snapshot_init(&s, links, &ok, &refused);
        ok.dns = ok.connect = ok.tls = ok.first_byte = ok.total = USEC_INFINITY;
        ok.http_status = -1;
        links[0].days_left = INT64_MIN;
        links[0].expires = USEC_INFINITY - 1;
        links[1].probes[PROBE_HTTP] = UINT64_MAX;
        _cleanup_free_ char *text = NULL;
        ck_assert_int_eq(metrics_render(&s, &text, NULL), 0);
        ck_assert_ptr_null(strcasestr(text, " nan"));
        ck_assert_ptr_null(strcasestr(text, "inf\n"));
        ck_assert_ptr_null(strstr(text, "tomslink_last_probe_duration_seconds{link=\"district\""));
        ck_assert_ptr_nonnull(strstr(text, "tomslink_last_probe_http_status{link=\"district\"} 0\n"));
        for (char *line = text, *nl; *line; line = nl + 1) {
                nl = strchr(line, '\n');
                if (line[0] == '#')
                        continue;
                char *v = memrchr(line, ' ', (size_t) (nl - line));
                ck_assert_ptr_nonnull(v);
                v++;
                size_t dots = 0;
                for (char *p = v; p < nl; p++) {
                        check_loop(isdigit((unsigned char) *p) || (*p == '.' && ++dots == 1) || (*p == '-' && p == v),
                                   "value %.*s", (int) (nl - v), v);
                }
                check_loop(nl > v && isdigit((unsigned char) nl[-1]), "value %.*s", (int) (nl - v), v);
        }
}
END_TEST

/* A locale with a decimal comma changes nothing: numbers never go through
 * the C library's locale-dependent formatting. The locale is compiled from
 * the system's sources when localedef has them. */
START_TEST(test_locale) {
        char *d = scratch_dir_new("metrics-locale");
        _cleanup_free_ char *out = scratch_path(d, "de_DE.UTF-8");
        _cleanup_free_ char *cmd = NULL;
        ck_assert_int_ge(asprintf(&cmd, "localedef -i de_DE -f UTF-8 '%s' >/dev/null 2>&1", out), 0);
        int rc = system(cmd);
        if (rc != 0 || !WIFEXITED(rc) || WEXITSTATUS(rc) > 1) {
                /* localedef exits 1 for warnings and still writes the locale */
                fprintf(stderr, "# localedef de_DE not available (%d): skipping the locale check\n", rc);
                scratch_dir_remove(d);
                return;
        }
        ck_assert_int_eq(setenv("LOCPATH", d, 1), 0);
        if (!setlocale(LC_ALL, "de_DE.UTF-8")) {
                fprintf(stderr, "# de_DE.UTF-8 did not load: skipping the locale check\n");
                unsetenv("LOCPATH");
                scratch_dir_remove(d);
                return;
        }
        char probe[16];
        snprintf(probe, sizeof probe, "%.1f", 1.5);
        ck_assert_str_eq(probe, "1,5");         /* the locale is in force */

        MetricsSnapshot s;
        MetricsLink links[3];
        ProbeSummary ok, refused;
        snapshot_init(&s, links, &ok, &refused);
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                links[i].probes[PROBE_OK] += 1234567;
        _cleanup_free_ char *text = NULL;
        ck_assert_int_eq(metrics_render(&s, &text, NULL), 0);
        setlocale(LC_ALL, "C");
        unsetenv("LOCPATH");
        ck_assert_ptr_nonnull(strstr(text, "tomslink_metrics_last_write_timestamp_seconds 1767225600.25\n"));
        ck_assert_ptr_nonnull(strstr(text, "phase=\"total\"} 0.0155\n"));
        ck_assert_ptr_nonnull(strstr(text, "tomslink_probes_total{link=\"district\",class=\"ok\"} 1234570\n"));
        ck_assert_ptr_null(strstr(text, "0,"));
        scratch_dir_remove(d);
}
END_TEST

/* 10,000 links render in one pass over memory, quickly. */
START_TEST(test_many_links) {
        const size_t n = 10000;
        MetricsLink *links = calloc(n, sizeof(MetricsLink));
        char (*names)[16] = calloc(n, sizeof *names);
        ck_assert_ptr_nonnull(links);
        ck_assert_ptr_nonnull(names);
        ProbeSummary ok = probe_ok();
        for (size_t i = 0; i < n; i++) {
                snprintf(names[i], sizeof names[i], "lea-%05zu", i);
                links[i] = (MetricsLink) {
                        .name = names[i],
                        .state = LINK_STATE_OK,
                        .has_credential = true,
                        .expires = SEC(1798761600),
                        .days_left = 365,
                        .cert_not_after = SEC(1780000000),
                        .last = &ok,
                        .probes = { [PROBE_OK] = 96, [PROBE_TIMEOUT] = 1 },
                };
        }
        MetricsSnapshot s = { .version = "0.1.0", .now = SEC(1767225600), .started = SEC(1767225000),
                              .links = links, .n_links = n, .has_outbox = true };
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        _cleanup_free_ char *text = NULL;
        size_t size;
        ck_assert_int_eq(metrics_render(&s, &text, &size), 0);
        usec_t took = now_usec(CLOCK_MONOTONIC) - t0;
        fprintf(stderr, "# 10,000 links: %zu bytes in %llu ms\n", size, (unsigned long long) (took / USEC_PER_MSEC));
        ck_assert_ptr_nonnull(strstr(text, "tomslink_links{state=\"ok\"} 10000\n"));
        ck_assert_ptr_nonnull(strstr(text, "tomslink_probes_total{link=\"lea-09999\",class=\"http\"} 0\n"));
        /* generous even for a sanitizer build on a loaded machine */
        ck_assert_uint_lt(took, 5 * USEC_PER_SEC);
        free(links);
        free(names);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("metrics");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_exact, test_empty, test_invalid, test_label_escaping, test_numbers, test_no_nan, test_locale,
                  test_many_links);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
