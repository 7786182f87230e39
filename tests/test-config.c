/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <stdio.h>

#include "config.h"
#include "strbuf.h"
#include "strv.h"
#include "tests.h"

static char *read_all(const char *path, size_t *ret_size) {
        FILE *f = fopen(path, "rb");
        ck_assert_msg(f != NULL, "cannot open %s", path);
        StrBuf b = STRBUF_NULL;
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
                strbuf_append(&b, buf, n);
        fclose(f);
        *ret_size = b.len;
        return strbuf_steal(&b);
}

static Config *load_ok(const char *text) {
        Config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        int r = config_load_string("t.yaml", text, strlen(text), NULL, &c, &errors);
        if (r < 0) {
                STRV_FOREACH(e, errors)
                        fprintf(stderr, "%s\n", *e);
        }
        ck_assert_int_eq(r, 0);
        ck_assert_ptr_null(errors);
        return c;
}

static char **load_bad(const char *name, const char *data, size_t size) {
        Config *c = NULL;
        char **errors = NULL;
        int r = config_load_string(name, data, size, NULL, &c, &errors);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_ptr_nonnull(errors);
        ck_assert_uint_gt(strv_length(errors), 0);
        /* every message names the file, and where it can, line and column */
        STRV_FOREACH(e, errors) {
                ck_assert_msg(strneq(*e, name, strlen(name)) && (*e)[strlen(name)] == ':', "%s", *e);
                ck_assert_msg(strlen(*e) > strlen(name) + 4, "empty message: %s", *e);
        }
        return errors;
}

static bool errors_contain(char **errors, const char *needle) {
        STRV_FOREACH(e, errors)
                if (strstr(*e, needle))
                        return true;
        return false;
}

START_TEST(test_example) {
        Config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        ck_assert_int_eq(config_load_file(SOURCE_ROOT "/config/tomslink.yaml", NULL, &c, &errors), 0);
        ck_assert_str_eq(tz_name(c->tz), "America/Los_Angeles");
        ck_assert_uint_eq(c->n_links, 2);
        ck_assert_str_eq(c->links[0].name, "district");
        ck_assert_str_eq(c->links[0].cds_code, "19647330000000");
        ck_assert_str_eq(c->links[0].host, "toms.example:443");
        ck_assert_uint_eq(c->links[0].probe.interval, 15 * USEC_PER_MINUTE);
        ck_assert_uint_eq(c->links[0].probe.lifetime, 365 * USEC_PER_DAY);
        ck_assert_uint_eq(strv_length(c->links[0].consumers), 2);
        ck_assert_str_eq(c->links[1].email_to[0], "lincoln-it@example.org");
        ck_assert_uint_eq(c->n_expiry_warn_days, 7);
        ck_assert_uint_eq(c->expiry_warn_days[0], 60);
        ck_assert_uint_eq(c->expiry_warn_days[6], 1);
        ck_assert_uint_eq(c->n_maintenance, 1);
        ck_assert_uint_eq(c->maintenance[0].start, 1814400000 * USEC_PER_SEC);
        ck_assert(!c->email.enabled);
        ck_assert_ptr_eq(config_find_link(c, "lincoln-high"), &c->links[1]);
        ck_assert_ptr_null(config_find_link(c, "nowhere"));
        _cleanup_free_ char *summary = config_summary(c);
        ck_assert_str_eq(summary, "2 links, e-mail off (journal only), 1 maintenance window, time zone America/Los_Angeles");
        config_free(c);
}
END_TEST

START_TEST(test_inheritance) {
        _cleanup_(config_freep) Config *c = load_ok(
                "timezone: UTC\n"
                "probe:\n"
                "  interval: 5m\n"
                "  timeout: 30s\n"
                "  failures_before_alert: 2\n"
                "  ca_file: /etc/tomslink/ca.crt\n"
                "  expect_status: [200, 204]\n"
                "  auth: bearer\n"
                "links:\n"
                "  - name: a\n"
                "    url: https://toms.example/a\n"
                "  - name: b\n"
                "    url: https://toms.example:8443/b\n"
                "    interval: 1h\n"
                "    auth: header\n"
                "    auth_header: X-Api-Key\n"
                "    expect_status: 401\n"
                "    ca_file: /etc/ssl/other.pem\n"
                "    reuse_connections: no\n");
        const LinkConfig *a = config_find_link(c, "a"), *b = config_find_link(c, "b");
        ck_assert_uint_eq(a->probe.interval, 5 * USEC_PER_MINUTE);
        ck_assert_uint_eq(a->probe.timeout, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(a->probe.connect_timeout, 10 * USEC_PER_SEC);   /* built-in default */
        ck_assert_uint_eq(a->probe.failures_before_alert, 2);
        ck_assert_str_eq(a->probe.ca_file, "/etc/tomslink/ca.crt");
        ck_assert(status_set_contains(&a->probe.expect_status, 204));
        ck_assert(!status_set_contains(&a->probe.expect_status, 401));
        ck_assert_int_eq(a->probe.auth, PROBE_AUTH_BEARER);
        ck_assert(a->probe.reuse_connections);
        ck_assert_uint_eq(b->probe.interval, USEC_PER_HOUR);
        ck_assert_uint_eq(b->probe.timeout, 30 * USEC_PER_SEC);
        ck_assert_int_eq(b->probe.auth, PROBE_AUTH_HEADER);
        ck_assert_str_eq(b->probe.auth_header, "X-Api-Key");
        ck_assert(status_set_contains(&b->probe.expect_status, 401));
        ck_assert(!status_set_contains(&b->probe.expect_status, 200));
        ck_assert_str_eq(b->probe.ca_file, "/etc/ssl/other.pem");
        ck_assert(!b->probe.reuse_connections);
        ck_assert_str_eq(b->host, "toms.example:8443");
        ck_assert(!link_config_probe_equal(a, b));
        ck_assert(link_config_probe_equal(a, a));
}
END_TEST

START_TEST(test_email_and_lists) {
        _cleanup_(config_freep) Config *c = load_ok(
                "email:\n"
                "  smtp_url: smtps://mail.example.org\n"
                "  username: tomslink@example.org\n"
                "  from: \"TOMS link monitor <tomslink@example.org>\"\n"
                "  to: it-alerts@example.org\n"
                "alerts:\n"
                "  expiry_warn_days: 14\n"
                "  endpoint_cert_warn_days: []\n"
                "links: []\n");
        ck_assert(c->email.enabled);
        ck_assert_uint_eq(strv_length(c->email.smtp_urls), 1);
        ck_assert_int_eq(c->email.starttls, STARTTLS_REQUIRED);
        ck_assert_str_eq(c->email.from_name, "TOMS link monitor");
        ck_assert_str_eq(c->email.from_address, "tomslink@example.org");
        ck_assert_uint_eq(strv_length(c->email.to), 1);   /* a scalar is a list of one */
        ck_assert_uint_eq(c->n_expiry_warn_days, 1);
        ck_assert_uint_eq(c->n_cert_warn_days, 0);
        ck_assert_uint_eq(c->n_links, 0);

        /* relays as a list; AUTH without TLS to a relay on this machine is allowed */
        _cleanup_(config_freep) Config *d = load_ok(
                "email:\n"
                "  smtp_url: [smtp://127.0.0.1:2525, smtp://localhost:25]\n"
                "  starttls: off\n"
                "  username: u\n"
                "  from: a@example.org\n"
                "  to: [b@example.org, c@example.org]\n"
                "links:\n");
        ck_assert_uint_eq(strv_length(d->email.smtp_urls), 2);
        ck_assert_uint_eq(strv_length(d->email.to), 2);

        /* starttls: optional with AUTH: a relay on this machine, or implicit
         * TLS; without a username anything goes */
        _cleanup_(config_freep) Config *e = load_ok(
                "email:\n"
                "  smtp_url: [\"smtp://[::1]:2525\", smtps://mail.example.org]\n"
                "  starttls: optional\n"
                "  username: u\n"
                "  from: a@example.org\n"
                "  to: b@example.org\n"
                "links:\n");
        ck_assert_int_eq(e->email.starttls, STARTTLS_OPTIONAL);
        _cleanup_(config_freep) Config *f = load_ok(
                "email:\n"
                "  smtp_url: smtp://mail.example.org:25\n"
                "  starttls: optional\n"
                "  from: a@example.org\n"
                "  to: b@example.org\n"
                "links:\n");
        ck_assert_ptr_null(f->email.username);
}
END_TEST

START_TEST(test_maintenance_zones) {
        _cleanup_(config_freep) Config *c = load_ok(
                "timezone: America/Los_Angeles\n"
                "maintenance:\n"
                "  - name: rollover\n"
                "    start: 2027-06-30T17:00:00-07:00\n"
                "    end: 2027-07-07\n"
                "  - name: august update\n"
                "    timezone: America/New_York\n"
                "    start: 2027-08-01\n"
                "    end: 2027-08-02T00:00:00Z\n"
                "    links: [a]\n"
                "links:\n"
                "  - name: a\n"
                "    url: https://toms.example/a\n");
        /* the date alone is midnight in the configured zone (PDT) */
        ck_assert_uint_eq(c->maintenance[0].end, (usec_t) (days_from_civil(2027, 7, 7) * 86400 + 7 * 3600) * USEC_PER_SEC);
        /* and in the window's own zone when it has one (EDT) */
        ck_assert_uint_eq(c->maintenance[1].start, (usec_t) (days_from_civil(2027, 8, 1) * 86400 + 4 * 3600) * USEC_PER_SEC);
        ck_assert_str_eq(c->maintenance[1].links[0], "a");
        ck_assert_ptr_null(c->maintenance[0].links);
}
END_TEST

/* Every file in tests/configs/bad is refused; each "# expect: TEXT" line in
 * it must appear in one of the error messages. */
START_TEST(test_bad_corpus) {
        DIR *d = opendir(SOURCE_ROOT "/tests/configs/bad");
        ck_assert_ptr_nonnull(d);
        unsigned files = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                char path[512];
                snprintf(path, sizeof path, SOURCE_ROOT "/tests/configs/bad/%s", de->d_name);
                size_t size;
                _cleanup_free_ char *text = read_all(path, &size);
                _cleanup_strv_free_ char **errors = load_bad(de->d_name, text, size);
                unsigned expectations = 0;
                for (char *p = text; (p = strstr(p, "# expect: "));) {
                        p += strlen("# expect: ");
                        char *nl = strchr(p, '\n');
                        _cleanup_free_ char *want = strndup(p, nl ? (size_t) (nl - p) : strlen(p));
                        ck_assert_msg(errors_contain(errors, want), "%s: no error says: %s (first: %s)", de->d_name,
                                      want, errors[0]);
                        expectations++;
                }
                if (size == 0)
                        ck_assert(errors_contain(errors, "the file is empty"));
                else
                        ck_assert_msg(expectations > 0, "%s has no expect: line", de->d_name);
                files++;
        }
        closedir(d);
        ck_assert_uint_ge(files, 40);
}
END_TEST

START_TEST(test_all_errors_reported) {
        /* one error per link, 30 links: all 30 reported, in file order */
        StrBuf b = STRBUF_NULL;
        strbuf_puts(&b, "links:\n");
        for (int i = 0; i < 30; i++)
                strbuf_printf(&b, "  - name: l%d\n    url: https://toms.example/\n    interval: %dlight-years\n", i, i);
        _cleanup_strv_free_ char **errors = load_bad("many.yaml", b.data, b.len);
        ck_assert_uint_eq(strv_length(errors), 30);
        for (int i = 0; i < 30; i++) {
                char want[64];
                snprintf(want, sizeof want, "many.yaml:%d:15: links.l%d.interval", 4 + 3 * i, i);
                ck_assert_msg(strneq(errors[i], want, strlen(want)), "%s", errors[i]);
        }
        strbuf_done(&b);
}
END_TEST

START_TEST(test_truncations) {
        /* the example cut at every byte: never a crash, a valid prefix or errors */
        size_t size;
        _cleanup_free_ char *text = read_all(SOURCE_ROOT "/config/tomslink.yaml", &size);
        unsigned ok = 0, bad = 0;
        for (size_t n = 0; n <= size; n++) {
                Config *c = NULL;
                char **errors = NULL;
                int r = config_load_string("cut.yaml", text, n, NULL, &c, &errors);
                ck_assert(r == 0 || r == -EINVAL);
                ck_assert(r == 0 ? c != NULL && !errors : c == NULL && strv_length(errors) > 0);
                r == 0 ? ok++ : bad++;
                config_free(c);
                strv_free(errors);
        }
        ck_assert_uint_gt(ok, 0);
        ck_assert_uint_gt(bad, 0);
}
END_TEST

START_TEST(test_hostile_inputs) {
        char **errors;

        /* binary garbage */
        srand(42);
        for (int round = 0; round < 200; round++) {
                size_t n = (size_t) (rand() % 4096);
                _cleanup_free_ char *junk = malloc(n + 1);
                for (size_t i = 0; i < n; i++)
                        junk[i] = (char) rand();
                Config *c = NULL;
                errors = NULL;
                int r = config_load_string("junk.yaml", junk, n, NULL, &c, &errors);
                ck_assert_int_eq(r, -EINVAL);
                ck_assert_uint_gt(strv_length(errors), 0);
                strv_free(errors);
        }

        /* a NUL byte */
        errors = load_bad("nul.yaml", "links: []\n\0\n", 12);
        ck_assert(errors_contain(errors, "nul.yaml:2:1: a NUL byte"));
        strv_free(errors);

        /* deeply nested */
        size_t depth = 100000;
        _cleanup_free_ char *deep = malloc(2 * depth + 16);
        memset(deep, '[', depth);
        memset(deep + depth, ']', depth);
        errors = load_bad("deep.yaml", deep, 2 * depth);
        ck_assert(errors_contain(errors, "nesting deeper than 64 levels"));
        strv_free(errors);
        char *nested = malloc(40 * 64 + 16), *p = nested;
        for (int i = 0; i < 40; i++)
                p += sprintf(p, "%*sk%d:\n", 2 * i, "", i);
        errors = load_bad("nested.yaml", nested, strlen(nested));
        ck_assert(errors_contain(errors, "k0: unknown key"));
        strv_free(errors);
        free(nested);

        /* 10 MB: a huge scalar where a link name belongs */
        size_t big = 10 * 1024 * 1024;
        _cleanup_free_ char *huge = malloc(big + 64);
        p = huge + sprintf(huge, "links:\n  - name: ");
        memset(p, 'a', big);
        strcpy(p + big, "\n    url: https://toms.example/\n");
        errors = load_bad("huge.yaml", huge, strlen(huge));
        ck_assert(errors_contain(errors, "links.name: expected a name of lowercase letters"));
        ck_assert(errors_contain(errors, "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"..."));
        strv_free(errors);

        /* 10 MB of list items */
        p = huge + sprintf(huge, "links:\n");
        while ((size_t) (p - huge) < big)
                p += sprintf(p, "- x\n");
        errors = load_bad("items.yaml", huge, (size_t) (p - huge));
        ck_assert(errors_contain(errors, "document has too many nodes"));
        strv_free(errors);

        /* a thousand wrong links: the first 200 errors, then a note */
        p = huge + sprintf(huge, "links:\n");
        for (int i = 0; i < 1000; i++)
                p += sprintf(p, "- x%d\n", i);
        errors = load_bad("many.yaml", huge, (size_t) (p - huge));
        ck_assert(errors_contain(errors, "too many errors, stopping here"));
        ck_assert_uint_eq(strv_length(errors), CONFIG_ERRORS_MAX);
        strv_free(errors);

        /* over the size limit */
        Config *c = NULL;
        errors = NULL;
        ck_assert_int_eq(config_load_string("over.yaml", huge, CONFIG_FILE_SIZE_MAX + 1, NULL, &c, &errors), -EINVAL);
        ck_assert(errors_contain(errors, "too large"));
        strv_free(errors);

        /* a billion laughs cannot expand: aliases are refused */
        errors = load_bad("laughs.yaml", "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", 40);
        ck_assert(errors_contain(errors, "aliases are not supported"));
        strv_free(errors);
}
END_TEST

START_TEST(test_files) {
        Config *c = NULL;
        char **errors = NULL;
        ck_assert_int_eq(config_load_file("/nonexistent/tomslink.yaml", NULL, &c, &errors), -ENOENT);
        ck_assert_str_eq(errors[0], "/nonexistent/tomslink.yaml: cannot read: No such file or directory");
        strv_free(errors);
        errors = NULL;
        ck_assert_int_eq(config_load_file("/", NULL, &c, &errors), -EISDIR);
        ck_assert(errors_contain(errors, "Is a directory"));
        strv_free(errors);
}
END_TEST

START_TEST(test_many_links) {
        /* 10,000 links load, and each is found by name */
        StrBuf b = STRBUF_NULL;
        strbuf_puts(&b, "links:\n");
        for (int i = 0; i < 10000; i++)
                strbuf_printf(&b, "  - name: school-%05d\n    url: https://toms.example/api/%d\n", i, i);
        Config *c = NULL;
        char **errors = NULL;
        ck_assert_int_eq(config_load_string("big.yaml", b.data, b.len, NULL, &c, &errors), 0);
        ck_assert_uint_eq(c->n_links, 10000);
        ck_assert_str_eq(config_find_link(c, "school-04321")->url, "https://toms.example/api/4321");
        config_free(c);
        strbuf_done(&b);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 240);
        ADD_TESTS(tc, test_example, test_inheritance, test_email_and_lists, test_maintenance_zones, test_bad_corpus,
                  test_all_errors_reported, test_truncations, test_hostile_inputs, test_files, test_many_links);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
