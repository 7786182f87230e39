/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "import-file.h"
#include "strbuf.h"
#include "strv.h"
#include "tests.h"

static void parse_ok(const char *text, ProtocolImportRow **rows, size_t *n) {
        char **errors = NULL;
        int r = import_file_parse("creds.csv", text, strlen(text), rows, n, &errors);
        if (r < 0) {
                _cleanup_free_ char *j = strv_join(errors, "\n");
                ck_abort_msg("parse failed: %s", j);
        }
}

/* Parses text expecting failure; returns the problems joined by newlines. */
static char *parse_bad(const char *name, const char *text) {
        ProtocolImportRow *rows = NULL;
        size_t n = 0;
        char **errors = NULL;
        ck_assert_int_eq(import_file_parse(name, text, strlen(text), &rows, &n, &errors), -EINVAL);
        ck_assert_ptr_null(rows);
        char *j = strv_join(errors, "\n");
        strv_free(errors);
        return j;
}

START_TEST(test_csv) {
        ProtocolImportRow *rows;
        size_t n;
        parse_ok("\xef\xbb\xbf"
                 "link,username,secret,generated\r\n"
                 "district,vendor@sis.example,Abc123,2026-03-01\r\n"
                 "\r\n"
                 "school-a, spaced user ,\"with,comma and \"\"quote\"\"\",2026-03-01T09:30:00-08:00\n"
                 "school-c,u,plain,\n",
                 &rows, &n);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(rows[0].link, "district");
        ck_assert_str_eq(rows[0].username, "vendor@sis.example");
        ck_assert_str_eq(rows[0].secret, "Abc123");
        ck_assert_uint_eq(rows[0].secret_size, 6);
        ck_assert_str_eq(rows[0].generated, "2026-03-01");
        ck_assert_uint_eq(rows[0].line, 2);
        ck_assert_str_eq(rows[1].username, "spaced user");   /* trimmed, the secret is not */
        ck_assert_str_eq(rows[1].secret, "with,comma and \"quote\"");
        ck_assert_uint_eq(rows[1].line, 4);
        ck_assert_str_eq(rows[2].secret, "plain");
        ck_assert_uint_eq(rows[2].line, 5);
        ck_assert_ptr_null(rows[2].generated);
        protocol_import_rows_free(rows, n);
}
END_TEST

START_TEST(test_csv_columns) {
        ProtocolImportRow *rows;
        size_t n;
        /* any order, generated optional, header names in any case */
        parse_ok("Secret,LINK,username\ns1,a,u\n", &rows, &n);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(rows[0].link, "a");
        ck_assert_str_eq(rows[0].secret, "s1");
        ck_assert_ptr_null(rows[0].generated);
        protocol_import_rows_free(rows, n);

        _cleanup_free_ char *e1 = parse_bad("f.csv", "link,user,secret\na,b,c\n");
        ck_assert_ptr_nonnull(strstr(e1, "f.csv:1: unknown column \"user\"; the header is link,username,secret,generated"));
        ck_assert_ptr_nonnull(strstr(e1, "f.csv:1: the header has no \"username\" column"));
        _cleanup_free_ char *e2 = parse_bad("f.csv", "link,username,secret,link\n");
        ck_assert_ptr_nonnull(strstr(e2, "f.csv:1: column \"link\" appears twice"));
        _cleanup_free_ char *e3 = parse_bad("f.csv", "");
        ck_assert_str_eq(e3, "f.csv: empty file");
        _cleanup_free_ char *e4 = parse_bad("f.csv", IMPORT_FILE_HEADER "\n\n");
        ck_assert_str_eq(e4, "f.csv: no credentials in the file");
        _cleanup_free_ char *e5 = parse_bad("f.csv", IMPORT_FILE_HEADER "\na,b,\0c\n");
        (void) e5;   /* strlen stops at the NUL: the row has an empty secret */
}
END_TEST

START_TEST(test_csv_every_problem) {
        const char *text = IMPORT_FILE_HEADER "\n"
                           "good-one,u,SECRET-1,\n"                        /* 2 */
                           "Bad_Link,u,SECRET-2,\n"                        /* 3 */
                           "good-two,,SECRET-3,\n"                         /* 4 */
                           "good-three,u,,\n"                              /* 5 */
                           "good-four,u,SECRET-5,soon\n"                   /* 6 */
                           "good-five,u,SECRET-6,2026-03-01T10:00\n"       /* 7 */
                           "good-six,u,SECRET-7\n"                         /* 8 */
                           "good-seven,u,\"SECRET-8,\n"                    /* 9: never closed */
                           ;
        _cleanup_free_ char *e = parse_bad("creds.csv", text);
        const char *want = "creds.csv:3: link: \"Bad_Link\" is not a valid link name (lowercase letters, digits and '-', "
                           "at most 63 characters, starting and ending with a letter or digit)\n"
                           "creds.csv:4: username: empty\n"
                           "creds.csv:5: secret: empty\n"
                           "creds.csv:6: generated: expected an ISO 8601 time with offset (2026-03-01T09:30:00-08:00), "
                           "a date (2026-03-01) or nothing for now, got \"soon\"\n"
                           "creds.csv:7: generated: \"2026-03-01T10:00\" has a time but no UTC offset; add one (like "
                           "-08:00 or Z) or give a date alone\n"
                           "creds.csv:8: expected 4 fields, got 3\n"
                           "creds.csv:9: a quoted field is not closed";
        ck_assert_str_eq(e, want);
        ck_assert_ptr_null(strstr(e, "SECRET"));   /* never a secret in a message */

        _cleanup_free_ char *e2 = parse_bad("c.csv", IMPORT_FILE_HEADER "\n"
                                                     "a,u,ab\"c,\n"
                                                     "b,u,\"x\"y,\n"
                                                     "c,u, padded ,\n"
                                                     "d,u,tab\tinside,\n"
                                                     "a,u,again,\n"
                                                     "e,\"multi\nline\",s,\n"
                                                     "f,u,s,later\n");
        ck_assert_str_eq(e2, "c.csv:2: a quote inside an unquoted field (quote the whole field and double the quote)\n"
                             "c.csv:3: unexpected text after a closing quote\n"
                             "c.csv:4: secret: starts or ends with a space (remove it: TOMS secret keys have none)\n"
                             "c.csv:5: secret: contains control characters or invalid UTF-8\n"
                             "c.csv:7: username: contains control characters or invalid UTF-8\n"
                             "c.csv:9: generated: expected an ISO 8601 time with offset (2026-03-01T09:30:00-08:00), "
                             "a date (2026-03-01) or nothing for now, got \"later\"");
        /* the second "a" is not reported because the first one was refused */

        _cleanup_free_ char *e3 = parse_bad("d.csv", IMPORT_FILE_HEADER "\n"
                                                     "a,u,s1,\n"
                                                     "b,u,s2,\n"
                                                     "a,v,s3,\n");
        ck_assert_str_eq(e3, "d.csv:4: link \"a\" appears again (first on line 2): one credential per link");
}
END_TEST

START_TEST(test_csv_large) {
        StrBuf b = STRBUF_NULL;
        strbuf_puts(&b, IMPORT_FILE_HEADER "\n");
        for (int i = 0; i < 10000; i++)
                strbuf_printf(&b, "school-%05d,vendor-%d@sis.example,Secret-%d,2026-0%d-1%d\n", i, i, i, 1 + i % 9,
                              i % 10);
        ProtocolImportRow *rows;
        size_t n;
        parse_ok(b.data, &rows, &n);
        ck_assert_uint_eq(n, 10000);
        for (size_t i = 0; i < n; i++)
                check_loop(rows[i].line == i + 2, "line of row %zu", i);
        protocol_import_rows_free(rows, n);

        /* one bad row among 10,000: exactly that one, by line */
        char *p = strstr(b.data, "school-05000,");
        ck_assert_ptr_nonnull(p);
        p[0] = 'S';
        _cleanup_free_ char *e = parse_bad("big.csv", b.data);
        ck_assert_ptr_nonnull(strstr(e, "big.csv:5002: link: \"School-05000\""));
        ck_assert_ptr_null(strchr(e, '\n'));
        strbuf_done(&b);
}
END_TEST

START_TEST(test_yaml) {
        ProtocolImportRow *rows;
        size_t n;
        char **errors = NULL;
        const char *good = "# credentials for the county\n"
                           "- link: district\n"
                           "  username: vendor@sis.example\n"
                           "  secret: \"0123\"\n"
                           "  generated: 2026-03-01\n"
                           "- link: school-a\n"
                           "  username: u\n"
                           "  secret: 'it''s: secret'\n"
                           "  generated: ~\n"
                           "- {link: school-b, username: u, secret: x}\n";
        ck_assert_int_eq(import_file_parse("c.yaml", good, strlen(good), &rows, &n, &errors), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(rows[0].secret, "0123");
        ck_assert_str_eq(rows[0].generated, "2026-03-01");
        ck_assert_uint_eq(rows[0].line, 2);
        ck_assert_str_eq(rows[1].secret, "it's: secret");
        ck_assert_ptr_null(rows[1].generated);
        ck_assert_uint_eq(rows[1].line, 6);
        ck_assert_str_eq(rows[2].link, "school-b");
        ck_assert_uint_eq(rows[2].line, 10);
        protocol_import_rows_free(rows, n);

        _cleanup_free_ char *e = parse_bad("c.yaml", "- link: a\n"
                                                     "  username: u\n"
                                                     "  secret: SECRET-1\n"
                                                     "  colour: blue\n"
                                                     "- link: b\n"
                                                     "  username: [u]\n"
                                                     "  secret: SECRET-2\n"
                                                     "- link: c\n"
                                                     "  username: u\n"
                                                     "- just a string\n"
                                                     "- link: Bad\n"
                                                     "  username: u\n"
                                                     "  secret: SECRET-3\n"
                                                     "  link: again\n");
        ck_assert_str_eq(e, "c.yaml:4: unknown key \"colour\"; the keys are link, username, secret and generated\n"
                            "c.yaml:6: username: expected a single value, got a list\n"
                            "c.yaml:8: missing \"secret\"\n"
                            "c.yaml:10: expected a mapping with the keys link, username, secret and generated, got a "
                            "scalar\n"
                            "c.yaml:14: key \"link\" appears twice");
        ck_assert_ptr_null(strstr(e, "SECRET"));

        _cleanup_free_ char *e2 = parse_bad("c.yaml", "- link: a\n  username: [\n");
        ck_assert_ptr_nonnull(strstr(e2, "c.yaml:3: "));
        _cleanup_free_ char *e3 = parse_bad("c.yaml", "[]\n");
        ck_assert_str_eq(e3, "c.yaml: no credentials in the file");
}
END_TEST

START_TEST(test_file_mode) {
        char path[] = "/tmp/test-import-XXXXXX";
        char *error = NULL;
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "x", 1), 1);

        ck_assert_int_eq(fchmod(fd, 0600), 0);
        ck_assert_int_eq(import_file_check_mode(fd, path, &error), 0);
        ck_assert_int_eq(fchmod(fd, 0400), 0);
        ck_assert_int_eq(import_file_check_mode(fd, path, &error), 0);

        static const mode_t refused[] = { 0640, 0604, 0644, 0660, 0700, 0610 };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                ck_assert_int_eq(fchmod(fd, refused[i]), 0);
                ck_assert_int_eq(import_file_check_mode(fd, path, &error), -EPERM);
                char want[32];
                snprintf(want, sizeof want, "mode is %04o", (unsigned) refused[i]);
                ck_assert_msg(strstr(error, want), "%s lacks %s", error, want);
                ck_assert_ptr_nonnull(strstr(error, "chmod 600"));
                error = mfree(error);
        }
        close(fd);
        unlink(path);

        /* a pipe is private by nature */
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_eq(import_file_check_mode(p[0], "-", &error), 0);
        ck_assert_int_eq(write(p[1], "link,username,secret\n", 21), 21);
        close(p[1]);
        char *data;
        size_t size;
        ck_assert_int_eq(import_file_read(p[0], &data, &size), 0);
        ck_assert_uint_eq(size, 21);
        ck_assert(strneq(data, "link,", 5));
        free(data);
        close(p[0]);

        /* not a file */
        fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_eq(import_file_check_mode(fd, "/tmp", &error), -EINVAL);
        ck_assert_str_eq(error, "/tmp: not a regular file");
        free(error);
        close(fd);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("import-file");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_csv, test_csv_columns, test_csv_every_problem, test_csv_large, test_yaml, test_file_mode);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
