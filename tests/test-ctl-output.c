/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <pty.h>

#include "ctl-output.h"
#include "strv.h"
#include "tests.h"

static const CtlOutputOptions plain = { .utf8 = true, .legend = true };
static const CtlOutputOptions ascii = { .utf8 = false, .legend = true };
static const CtlOutputOptions colored = { .color = true, .utf8 = true, .legend = true };
static const CtlOutputOptions bare = { .utf8 = true, .legend = false };

#define PROBE_OK_JSON                                                                                                 \
        "{\"class\":\"ok\",\"http_status\":200,\"error\":null,\"time\":\"2026-07-01T09:48:00-07:00\","               \
        "\"times_ms\":{\"dns\":1.2,\"connect\":5.7,\"tls\":45.0,\"first_byte\":120.0,\"total\":143.25},"              \
        "\"cert_not_after\":\"2026-12-01T00:00:00Z\",\"cert_subject\":\"CN=toms.example\",\"cert_sha256\":\"ab12\"}"

#define PROBE_AUTH_JSON                                                                                               \
        "{\"class\":\"auth\",\"http_status\":401,\"error\":\"refused: \\u001b[2Jwiped\",\"time\":"                    \
        "\"2026-07-01T07:00:00-07:00\",\"times_ms\":{\"dns\":0.8,\"connect\":null,\"tls\":null,\"first_byte\":null,"  \
        "\"total\":98.0}}"

static const char status_doc[] =
        "{\"time\":\"2026-07-01T10:00:00-07:00\",\"timezone\":\"America/Los_Angeles\",\"links\":["
        "{\"name\":\"district\",\"state\":\"ok\",\"problems\":[],\"expires\":\"2027-03-01T10:00:00-08:00\","
        "\"days_left\":243,\"lifetime_seconds\":31536000,\"username\":\"vendor@sis.example\","
        "\"generated\":\"2026-03-01T10:00:00-08:00\",\"generation\":3,\"fingerprint\":\"0123456789abcdef\","
        "\"consumers\":[\"student information system\",\"parent portal\"],\"failures\":0,"
        "\"url\":\"https://toms.example/api/ping\",\"cds_code\":\"19647330000000\","
        "\"next_probe\":\"2026-07-01T10:15:00-07:00\",\"last_probe\":" PROBE_OK_JSON "},"
        "{\"name\":\"school-a\",\"state\":\"auth-rejected\",\"problems\":[\"auth-rejected\",\"expiring\"],"
        "\"expires\":\"2026-07-13T10:00:00-07:00\",\"days_left\":12,\"lifetime_seconds\":31536000,"
        "\"username\":\"u\",\"failures\":2,\"last_probe\":" PROBE_AUTH_JSON "},"
        "{\"name\":\"school-with-a-long-name\",\"state\":\"unconfigured\",\"problems\":[\"unconfigured\"],"
        "\"expires\":null,\"days_left\":null,\"last_probe\":null}"
        "]}";

static bool startswith(const char *s, const char *prefix) {
        return strneq(s, prefix, strlen(prefix));
}

static json_object *doc(const char *text) {
        json_object *o = json_tokener_parse(text);
        ck_assert_msg(o, "test document does not parse: %s", text);
        return o;
}

static char *render(CtlAction a, const char *text, const CtlOutputOptions *o) {
        _cleanup_json_ json_object *data = doc(text);
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        StrBuf b = STRBUF_NULL;
        const CtlOutput *out = ctl_output_for(a);
        ck_assert_ptr_nonnull(out);
        int r = out->text(data, o, &b, &f);
        ck_assert_msg(r == 0, "render failed: %s", f.message);
        return strbuf_steal(&b);
}

/* The display column at which needle starts on the line holding it. */
static size_t column_of(const char *text, const char *needle) {
        const char *p = strstr(text, needle);
        ck_assert_msg(p, "\"%s\" not in:\n%s", needle, text);
        const char *line = p;
        while (line > text && line[-1] != '\n')
                line--;
        size_t w = 0;
        for (const char *q = line; q < p; q++)
                if (((unsigned char) *q & 0xC0) != 0x80)
                        w++;
        return w;
}

START_TEST(test_bar) {
        static const struct {
                int64_t days;
                usec_t lifetime;
                const char *utf8, *ascii;
        } cases[] = {
                { 365, 365 * USEC_PER_DAY, "██████████", "##########" },
                { 400, 365 * USEC_PER_DAY, "██████████", "##########" },
                { 183, 365 * USEC_PER_DAY, "█████░░░░░", "#####....." },
                { 243, 365 * USEC_PER_DAY, "██████▋░░░", "#######..." },
                { 12, 365 * USEC_PER_DAY, "▍░░░░░░░░░", "#........." },
                { 1, 365 * USEC_PER_DAY, "▏░░░░░░░░░", "#........." },   /* alive: never empty */
                { 0, 365 * USEC_PER_DAY, "░░░░░░░░░░", ".........." },
                { -30, 365 * USEC_PER_DAY, "░░░░░░░░░░", ".........." },
                { 45, 90 * USEC_PER_DAY, "█████░░░░░", "#####....." },   /* proportional to the lifetime */
                { 182, 0, "█████░░░░░", "#####....." },                  /* unknown lifetime: 365 days */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                StrBuf b = STRBUF_NULL;
                ctl_render_bar(&b, cases[i].days, cases[i].lifetime, &plain);
                ck_assert_msg(streq(b.data, cases[i].utf8), "%" PRIi64 " days: \"%s\", wanted \"%s\"", cases[i].days,
                              b.data, cases[i].utf8);
                ck_assert_uint_eq(ctl_text_width(b.data), CTL_BAR_CELLS);
                strbuf_done(&b);
                ctl_render_bar(&b, cases[i].days, cases[i].lifetime, &ascii);
                ck_assert_msg(streq(b.data, cases[i].ascii), "%" PRIi64 " days: \"%s\", wanted \"%s\"", cases[i].days,
                              b.data, cases[i].ascii);
                strbuf_done(&b);
        }
        StrBuf b = STRBUF_NULL;
        ctl_render_bar(&b, PROTOCOL_DAYS_LEFT_NULL, 0, &plain);
        ck_assert_ptr_null(b.data);   /* nothing at all without a credential */
}
END_TEST

START_TEST(test_status) {
        _cleanup_free_ char *s = render(CTL_STATUS, status_doc, &plain);
        /* columns line up, whatever the widths of the cells */
        size_t c_state = column_of(s, "STATE"), c_exp = column_of(s, "EXPIRES"), c_life = column_of(s, "LIFE"),
               c_probe = column_of(s, "LAST PROBE");
        ck_assert_uint_eq(column_of(s, "ok  "), c_state);
        ck_assert_uint_eq(column_of(s, "auth-rejected (+1)"), c_state);
        ck_assert_uint_eq(column_of(s, "unconfigured "), c_state);
        ck_assert_uint_eq(column_of(s, "2027-03-01"), c_exp);
        ck_assert_uint_eq(column_of(s, "2026-07-13"), c_exp);
        ck_assert_uint_eq(column_of(s, "██████▋░░░"), c_life);
        ck_assert_uint_eq(column_of(s, "▍░░░░░░░░░"), c_life);
        ck_assert_uint_eq(column_of(s, "ok, HTTP 200, 143 ms (12m ago)"), c_probe);
        ck_assert_uint_eq(column_of(s, "auth, HTTP 401, 98 ms (3h ago)"), c_probe);
        /* days left are right-aligned under their header */
        ck_assert_uint_eq(column_of(s, "243") + 3, column_of(s, "DAYS LEFT") + 9);
        ck_assert_uint_eq(column_of(s, " 12  ") + 3, column_of(s, "DAYS LEFT") + 9);
        ck_assert_ptr_nonnull(strstr(s, "\n3 links: 1 auth-rejected, 1 unconfigured, 1 ok.\n"));
        /* no trailing spaces, no escape codes */
        ck_assert_ptr_null(strstr(s, " \n"));
        ck_assert_ptr_null(strchr(s, '\033'));

        /* the exact text, once */
        ck_assert_str_eq(s,
                         "LINK                     STATE               EXPIRES     DAYS LEFT  LIFE        LAST PROBE\n"
                         "district                 ok                  2027-03-01        243  ██████▋░░░  ok, HTTP 200, "
                         "143 ms (12m ago)\n"
                         "school-a                 auth-rejected (+1)  2026-07-13         12  ▍░░░░░░░░░  auth, HTTP 401, "
                         "98 ms (3h ago)\n"
                         "school-with-a-long-name  unconfigured        -                   -              -\n"
                         "\n"
                         "3 links: 1 auth-rejected, 1 unconfigured, 1 ok.\n");

        _cleanup_free_ char *b = render(CTL_STATUS, status_doc, &bare);
        ck_assert(startswith(b, "district "));   /* no header */
        ck_assert_ptr_null(strstr(b, "links:"));
        _cleanup_free_ char *a = render(CTL_STATUS, status_doc, &ascii);
        ck_assert_ptr_nonnull(strstr(a, "#######..."));
        ck_assert_ptr_null(strstr(a, "█"));

        _cleanup_free_ char *c = render(CTL_STATUS, status_doc, &colored);
        ck_assert_ptr_nonnull(strstr(c, "\033[32mok\033[0m"));
        ck_assert_ptr_nonnull(strstr(c, "\033[31mauth-rejected (+1)\033[0m"));
        /* colour does not disturb the alignment */
        ck_assert_uint_eq(column_of(c, "EXPIRES"), column_of(s, "EXPIRES") + strlen("\033[1m"));

        _cleanup_free_ char *none = render(CTL_STATUS, "{\"links\":[]}", &plain);
        ck_assert_str_eq(none, "LINK  STATE  EXPIRES  DAYS LEFT  LIFE  LAST PROBE\n\n0 links.\n");
}
END_TEST

START_TEST(test_show) {
        _cleanup_json_ json_object *st = doc(status_doc);
        json_object *links;
        ck_assert(json_object_object_get_ex(st, "links", &links));
        StrBuf text = STRBUF_NULL;
        strbuf_printf(&text,
                      "{\"time\":\"2026-07-01T10:00:00-07:00\",\"timezone\":\"America/Los_Angeles\",\"link\":%s,"
                      "\"recent_probes\":[" PROBE_OK_JSON "," PROBE_AUTH_JSON "],"
                      "\"open_problems\":[{\"link\":\"district\",\"kind\":\"auth-rejected\","
                      "\"since\":\"2026-07-01T07:00:00-07:00\",\"failures\":2,\"last_error\":\"401\"}],"
                      "\"recent_alerts\":[{\"id\":5,\"time\":\"2026-07-01T07:15:00-07:00\",\"link\":\"district\","
                      "\"kind\":\"auth-rejected\",\"priority\":3,\"held\":false,\"summary\":\"district: refused\"}]}",
                      json_object_to_json_string(json_object_array_get_idx(links, 0)));
        _cleanup_free_ char *s = render(CTL_SHOW, text.data, &plain);
        strbuf_done(&text);

        ck_assert(startswith(s, "district: ok\n"));
        ck_assert_ptr_null(strstr(s, "Problems"));   /* none */
        ck_assert_ptr_nonnull(strstr(s, "      Endpoint: https://toms.example/api/ping\n"));
        ck_assert_ptr_nonnull(strstr(s, "      CDS code: 19647330000000\n"));
        ck_assert_ptr_nonnull(strstr(s, "      Username: vendor@sis.example\n"));
        ck_assert_ptr_nonnull(strstr(s, "     Generated: 2026-03-01 10:00\n"));
        ck_assert_ptr_nonnull(strstr(s, "       Expires: 2027-03-01 (243 days left)  ██████▋░░░\n"));
        ck_assert_ptr_nonnull(strstr(s, "   Fingerprint: 0123456789abcdef (generation 3)\n"));
        ck_assert_ptr_nonnull(strstr(s, "     Consumers: student information system, parent portal\n"));
        ck_assert_ptr_nonnull(strstr(s, "    Last probe: ok, HTTP 200, 143 ms at 2026-07-01 09:48 (12m ago)\n"));
        ck_assert_ptr_nonnull(strstr(s, "       Timings: dns 1.2 ms, connect 5.7 ms, tls 45 ms, total 143 ms\n"));
        ck_assert_ptr_nonnull(strstr(s, "   Certificate: CN=toms.example ab12, expires 2026-11-30\n"));
        ck_assert_ptr_nonnull(strstr(s, "    Next probe: 2026-07-01 10:15\n"));
        ck_assert_msg(strstr(s, "\nRecent probes:\nTIME              RESULT  HTTP   TOTAL  ERROR\n"
                                        "2026-07-01 09:48  ok       200  143 ms\n"
                                        "2026-07-01 07:00  auth     401   98 ms  refused: ?[2Jwiped\n"), "%s", s);
        ck_assert_ptr_nonnull(strstr(s, "\nOpen problems:\nKIND           SINCE             FAILURES  LAST ERROR\n"
                                        "auth-rejected  2026-07-01 07:00         2  401\n"));
        ck_assert_ptr_nonnull(strstr(s, "\nRecent alerts:\nTIME              KIND           SUMMARY\n"
                                        "2026-07-01 07:15  auth-rejected  district: refused\n"));
        ck_assert_ptr_null(strchr(s, '\033'));   /* the server's escape sequence was neutralised */

        /* a link without anything */
        _cleanup_free_ char *e = render(CTL_SHOW, "{\"link\":{\"name\":\"new\",\"state\":\"unconfigured\"}}", &plain);
        ck_assert_str_eq(e, "new: unconfigured\n    Last probe: never\n");
}
END_TEST

START_TEST(test_history_alerts_probe) {
        _cleanup_free_ char *h = render(
                CTL_CREDENTIAL_HISTORY,
                "{\"timezone\":\"UTC\",\"link\":\"district\",\"rotations\":["
                "{\"when\":\"2026-03-01T18:02:00Z\",\"uid\":0,\"old_username\":null,\"new_username\":\"first\","
                "\"generated\":\"2026-03-01T18:00:00Z\",\"generation\":1,\"fingerprint\":\"aaaabbbbccccdddd\"},"
                "{\"when\":\"2027-02-20T17:00:00Z\",\"uid\":0,\"old_username\":\"first\",\"new_username\":\"second\","
                "\"generated\":\"2027-02-20T16:59:00Z\",\"generation\":2,\"fingerprint\":null}]}",
                &plain);
        ck_assert_str_eq(h, "WHEN              BY    OLD USERNAME  NEW USERNAME  GENERATED         GENERATION  FINGERPRINT\n"
                            "2026-03-01 18:02  root  -             first         2026-03-01 18:00           1  aaaabbbbccccdddd\n"
                            "2027-02-20 17:00  root  first         second        2027-02-20 16:59           2  -\n"
                            "\n2 rotations.\n");
        _cleanup_free_ char *h0 = render(CTL_CREDENTIAL_HISTORY, "{\"link\":\"x\",\"rotations\":[]}", &plain);
        ck_assert_str_eq(h0, "No credential was ever stored for x.\n");

        _cleanup_free_ char *a = render(
                CTL_ALERTS,
                "{\"timezone\":\"UTC\",\"open_problems\":[{\"link\":\"school-a\",\"kind\":\"link-down\","
                "\"since\":\"2026-07-01T12:00:00Z\",\"failures\":4,\"last_error\":\"Connection refused\","
                "\"notified\":\"2026-07-01T12:45:00Z\"}],"
                "\"silences\":[{\"link\":\"school-b\",\"until\":\"2026-07-02T00:00:00Z\",\"reason\":\"vendor upgrade\","
                "\"uid\":0}],"
                "\"recent_alerts\":[{\"id\":9,\"time\":\"2026-07-01T12:45:00Z\",\"link\":\"school-a\","
                "\"kind\":\"link-down\",\"priority\":3,\"held\":false,\"summary\":\"school-a: link down\"}]}",
                &plain);
        ck_assert_str_eq(a, "Open problems:\n"
                            "LINK      KIND       SINCE             FAILURES  NOTIFIED          LAST ERROR\n"
                            "school-a  link-down  2026-07-01 12:00         4  2026-07-01 12:45  Connection refused\n"
                            "\nSilences:\n"
                            "LINK      UNTIL             BY    REASON\n"
                            "school-b  2026-07-02 00:00  root  vendor upgrade\n"
                            "\nRecent alerts:\n"
                            "TIME              LINK      KIND       SUMMARY\n"
                            "2026-07-01 12:45  school-a  link-down  school-a: link down\n");
        _cleanup_free_ char *a0 = render(CTL_ALERTS, "{}", &plain);
        ck_assert_str_eq(a0, "No open problems.\n");

        const char *probes = "{\"results\":[{\"link\":\"district\",\"result\":" PROBE_OK_JSON "},"
                             "{\"link\":\"school-a\",\"result\":" PROBE_AUTH_JSON "}]}";
        _cleanup_free_ char *p = render(CTL_PROBE, probes, &plain);
        ck_assert_str_eq(p, "LINK      RESULT  HTTP     DNS  CONNECT    TLS   TOTAL  ERROR\n"
                            "district  ok       200  1.2 ms   5.7 ms  45 ms  143 ms\n"
                            "school-a  auth     401  0.8 ms        -      -   98 ms  refused: ?[2Jwiped\n"
                            "\n2 probes: 1 ok, 1 failed.\n");
        _cleanup_json_ json_object *pd = doc(probes);
        ck_assert_int_eq(ctl_output_for(CTL_PROBE)->outcome(pd), 1);
        _cleanup_json_ json_object *pok = doc("{\"results\":[{\"link\":\"district\",\"result\":" PROBE_OK_JSON "}]}");
        ck_assert_int_eq(ctl_output_for(CTL_PROBE)->outcome(pok), 0);
        _cleanup_json_ json_object *pnone = doc("{\"results\":[]}");
        ck_assert_int_eq(ctl_output_for(CTL_PROBE)->outcome(pnone), 1);
}
END_TEST

START_TEST(test_credential_and_simple) {
        const char *rotated = "{\"timezone\":\"UTC\",\"link\":\"district\",\"username\":\"u\",\"generation\":4,"
                              "\"generated\":\"2026-07-01T17:00:00Z\",\"expires\":\"2027-07-01T17:00:00Z\","
                              "\"days_left\":365,\"consumers\":[\"student information system\",\"parent portal\"],"
                              "\"probe\":" PROBE_AUTH_JSON "}";
        _cleanup_free_ char *r = render(CTL_CREDENTIAL_ROTATE, rotated, &plain);
        ck_assert_str_eq(r, "Stored the credential of district (generation 4); it expires on 2027-07-01, in 365 days.\n"
                            "Verification probe: auth, HTTP 401, 98 ms — the endpoint refused the credential: refused: "
                            "?[2Jwiped\n"
                            "Now update every system that holds a copy of this credential:\n"
                            "  - student information system\n"
                            "  - parent portal\n");
        _cleanup_json_ json_object *rd = doc(rotated);
        ck_assert_int_eq(ctl_output_for(CTL_CREDENTIAL_ROTATE)->outcome(rd), 1);
        _cleanup_json_ json_object *sd = doc("{\"link\":\"district\",\"probe\":null}");
        ck_assert_int_eq(ctl_output_for(CTL_CREDENTIAL_SET)->outcome(sd), 0);

        _cleanup_free_ char *i = render(CTL_CREDENTIAL_IMPORT, "{\"imported\":10000}", &plain);
        ck_assert_str_eq(i, "Imported 10000 credentials.\n");
        _cleanup_free_ char *si = render(CTL_SILENCE,
                                         "{\"timezone\":\"UTC\",\"link\":\"d\",\"until\":\"2026-07-01T19:00:00Z\","
                                         "\"reason\":\"upgrade\"}",
                                         &plain);
        ck_assert_msg(startswith(si, "Silenced d until 2026-07-01 19:00 (upgrade): "), "%s", si);
        _cleanup_free_ char *u = render(CTL_UNSILENCE, "{\"link\":\"d\"}", &plain);
        ck_assert_str_eq(u, "d is no longer silenced.\n");
        _cleanup_free_ char *t = render(CTL_TEST_EMAIL, "{\"recipients\":[\"a@x.org\",\"b@y.org\"]}", &plain);
        ck_assert_str_eq(t, "Test message sent to a@x.org, b@y.org.\n");
        _cleanup_free_ char *rl = render(CTL_RELOAD, "{\"summary\":\"3 links\"}", &plain);
        ck_assert_str_eq(rl, "Configuration reloaded: 3 links.\n");
}
END_TEST

START_TEST(test_malformed) {
        static const struct {
                CtlAction action;
                const char *doc;
                const char *want;
        } bad[] = {
                { CTL_STATUS, "{}", "\"links\" is missing" },
                { CTL_STATUS, "{\"links\":[{\"name\":\"a\"}]}", "\"state\" is missing" },
                { CTL_STATUS, "{\"links\":[{\"name\":\"a\",\"state\":\"ok\",\"days_left\":\"many\"}]}", "\"days_left\"" },
                { CTL_STATUS, "{\"time\":\"yesterday\",\"links\":[]}", "\"time\"" },
                { CTL_SHOW, "{\"link\":[]}", "\"link\" must be an object" },
                { CTL_PROBE, "{\"results\":[{\"link\":\"a\"}]}", "\"result\" is missing" },
                { CTL_CREDENTIAL_HISTORY, "{\"rotations\":[{\"uid\":0}]}", "\"when\" is missing" },
                { CTL_ALERTS, "{\"open_problems\":[{\"link\":\"a\",\"kind\":\"x\"}]}", "unknown value" },
                /* each table names the array whose element is broken */
                { CTL_ALERTS, "{\"silences\":[{\"link\":\"a\"}]}", "alerts: silences" },
                { CTL_ALERTS, "{\"recent_alerts\":[7]}", "alerts: recent_alerts" },
                { CTL_SHOW, "{\"link\":{\"name\":\"a\",\"state\":\"ok\"},\"recent_probes\":[{}]}", "show: recent_probes" },
                { CTL_SHOW, "{\"link\":{\"name\":\"a\",\"state\":\"ok\"},\"open_problems\":[{\"link\":\"a\"}]}",
                  "show: open_problems" },
                { CTL_SHOW, "{\"link\":{\"name\":\"a\",\"state\":\"ok\"},\"recent_alerts\":[null]}", "show: recent_alerts" },
                { CTL_CREDENTIAL_IMPORT, "{\"imported\":\"all\"}", "\"imported\" must be an integer" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_json_ json_object *data = doc(bad[i].doc);
                ProtocolFailure f = PROTOCOL_FAILURE_NULL;
                StrBuf b = STRBUF_NULL;
                ck_assert_int_eq(ctl_output_for(bad[i].action)->text(data, &plain, &b, &f), -EBADMSG);
                ck_assert_msg(strstr(f.message, "malformed reply from tomslinkd"), "%s", f.message);
                ck_assert_msg(strstr(f.message, bad[i].want), "%s: %s", bad[i].doc, f.message);
                strbuf_done(&b);
        }
}
END_TEST

START_TEST(test_json) {
        _cleanup_json_ json_object *data = doc(status_doc);
        StrBuf b = STRBUF_NULL;
        ck_assert_int_eq(ctl_render_json(data, &b), 0);
        ck_assert(b.data[b.len - 1] == '\n');
        ck_assert_ptr_nonnull(strstr(b.data, "\"days_left\": 243"));
        ck_assert_ptr_nonnull(strstr(b.data, "\"url\": \"https://toms.example/api/ping\""));   /* "/" unescaped */
        _cleanup_json_ json_object *back = json_tokener_parse(b.data);
        ck_assert(json_object_equal(back, data));
        strbuf_done(&b);
}
END_TEST

static int check(const char *text, char **ret) {
        _cleanup_json_ json_object *data = doc(text);
        StrBuf b = STRBUF_NULL;
        int r = ctl_check_render(data, &b);
        *ret = strbuf_steal(&b);
        return r;
}

START_TEST(test_check) {
        char *s;
        ck_assert_int_eq(check(status_doc, &s), CTL_CHECK_CRITICAL);
        ck_assert_str_eq(s, "TOMSLINK CRITICAL - 1 critical: school-a (auth-rejected, expiring, 12 days left); "
                            "1 warning: school-with-a-long-name (unconfigured); 1 ok | links=3 critical=1 warning=1 "
                            "ok=1 min_days_left=12 days_left_school-a=12 days_left_district=243\n"
                            "CRITICAL: school-a: auth-rejected, expiring, 12 days left\n"
                            "WARNING: school-with-a-long-name: unconfigured\n");
        free(s);

        ck_assert_int_eq(check("{\"links\":[{\"name\":\"a\",\"state\":\"ok\",\"days_left\":100},"
                               "{\"name\":\"b\",\"state\":\"expiring\",\"problems\":[\"expiring\"],\"days_left\":7}]}",
                               &s),
                         CTL_CHECK_WARNING);
        ck_assert_msg(startswith(s, "TOMSLINK WARNING - 1 warning: b (expiring, 7 days left); 1 ok | "), "%s", s);
        free(s);

        /* a silence holds down and auth-rejected, never expiry */
        ck_assert_int_eq(check("{\"links\":[{\"name\":\"a\",\"state\":\"silenced\",\"problems\":[\"down\",\"silenced\"],"
                               "\"days_left\":100}]}",
                               &s),
                         CTL_CHECK_OK);
        ck_assert_msg(startswith(s, "TOMSLINK OK - 1 ok | links=1 critical=0 warning=0 ok=1 min_days_left=100"), "%s", s);
        free(s);
        ck_assert_int_eq(check("{\"links\":[{\"name\":\"a\",\"state\":\"expired\",\"problems\":[\"expired\",\"maintenance\"],"
                               "\"days_left\":-3}]}",
                               &s),
                         CTL_CHECK_CRITICAL);
        ck_assert_msg(startswith(s, "TOMSLINK CRITICAL - 1 critical: a (expired, -3 days left)"), "%s", s);
        free(s);

        /* a name from the reply is shown sanitized, and gets no perfdata label unless it is a link name */
        ck_assert_int_eq(check("{\"links\":[{\"name\":\"a\\u001b[2J b=1\",\"state\":\"expired\",\"problems\":"
                               "[\"expired\"],\"days_left\":-3}]}",
                               &s),
                         CTL_CHECK_CRITICAL);
        ck_assert_str_eq(s, "TOMSLINK CRITICAL - 1 critical: a?[2J b=1 (expired, -3 days left); 0 ok | links=1 critical=1 "
                            "warning=0 ok=0 min_days_left=-3\n"
                            "CRITICAL: a?[2J b=1: expired, -3 days left\n");
        free(s);

        ck_assert_int_eq(check("{\"links\":[]}", &s), CTL_CHECK_OK);
        ck_assert_str_eq(s, "TOMSLINK OK - no links configured | links=0 critical=0 warning=0 ok=0\n");
        free(s);
        ck_assert_int_eq(check("{\"links\":7}", &s), CTL_CHECK_UNKNOWN);
        ck_assert_msg(startswith(s, "TOMSLINK UNKNOWN - malformed reply from tomslinkd"), "%s", s);
        free(s);

        /* many links: perfdata for the 100 expiring soonest */
        StrBuf b = STRBUF_NULL;
        strbuf_puts(&b, "{\"links\":[");
        for (int i = 0; i < 150; i++)
                strbuf_printf(&b, "%s{\"name\":\"l%03d\",\"state\":\"ok\",\"days_left\":%d}", i ? "," : "", i, 300 - i);
        strbuf_puts(&b, "]}");
        ck_assert_int_eq(check(b.data, &s), CTL_CHECK_OK);
        strbuf_done(&b);
        size_t n = 0;
        for (const char *p = s; (p = strstr(p, "days_left_")); p++)
                n++;
        ck_assert_uint_eq(n, CTL_CHECK_PERFDATA_LINKS);
        ck_assert_ptr_nonnull(strstr(s, "days_left_l149=151"));
        ck_assert_ptr_null(strstr(s, "days_left_l000="));
        ck_assert_ptr_null(strchr(s, '\033'));
        free(s);

        StrBuf u = STRBUF_NULL;
        ck_assert_int_eq(ctl_check_unknown(&u, "cannot reach tomslinkd at %s", "/run/x"), CTL_CHECK_UNKNOWN);
        ck_assert_str_eq(u.data, "TOMSLINK UNKNOWN - cannot reach tomslinkd at /run/x\n");
        strbuf_done(&u);
}
END_TEST

START_TEST(test_color_choice) {
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        ck_assert(!ctl_use_color(p[1], NULL, "xterm"));   /* not a terminal */
        close(p[0]);
        close(p[1]);
        int master, slave;
        if (openpty(&master, &slave, NULL, NULL, NULL) < 0) {
                fprintf(stderr, "# skipped: no pseudo-terminal\n");
                return;
        }
        ck_assert(ctl_use_color(slave, NULL, "xterm"));
        ck_assert(ctl_use_color(slave, "", "xterm"));   /* NO_COLOR empty counts as unset */
        ck_assert(!ctl_use_color(slave, "1", "xterm"));
        ck_assert(!ctl_use_color(slave, NULL, "dumb"));
        close(master);
        close(slave);
}
END_TEST

START_TEST(test_sanitize) {
        _cleanup_free_ char *s = ctl_sanitize("a\033[31mb\tc\x7f\xc2\x9b" "d é");
        ck_assert_str_eq(s, "a?[31mb?c??d é");
        ck_assert_uint_eq(ctl_text_width("é█x"), 3);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("ctl-output");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_bar, test_status, test_show, test_history_alerts_probe, test_credential_and_simple,
                  test_malformed, test_json, test_check, test_color_choice, test_sanitize);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
