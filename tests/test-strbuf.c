/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "strbuf.h"
#include "tests.h"

START_TEST(test_build) {
        StrBuf b = STRBUF_NULL;
        strbuf_puts(&b, "links: ");
        strbuf_printf(&b, "%d of %s", 3, "5");
        strbuf_putc(&b, '!');
        strbuf_append(&b, "xyz", 2);
        ck_assert(!strbuf_failed(&b));
        ck_assert_uint_eq(b.len, strlen("links: 3 of 5!xy"));
        _cleanup_free_ char *s = strbuf_steal(&b);
        ck_assert_str_eq(s, "links: 3 of 5!xy");
        ck_assert_ptr_null(b.data);
        /* an empty buffer still gives a string */
        _cleanup_free_ char *e = strbuf_steal(&b);
        ck_assert_str_eq(e, "");
        /* growth across many appends */
        for (int i = 0; i < 10000; i++)
                strbuf_printf(&b, "%04d", i % 10000);
        ck_assert_uint_eq(b.len, 40000);
        ck_assert(strneq(b.data + 39996, "9999", 4));
        /* emptied, memory kept */
        char *mem = b.data;
        size_t cap = b.cap;
        strbuf_reset(&b);
        ck_assert_uint_eq(b.len, 0);
        ck_assert_str_eq(b.data, "");
        ck_assert_ptr_eq(b.data, mem);
        ck_assert_uint_eq(b.cap, cap);
        strbuf_puts(&b, "again");
        ck_assert_str_eq(b.data, "again");
        strbuf_done_erase(&b);
        ck_assert_ptr_null(b.data);
        strbuf_reset(&b);       /* an empty buffer too */
        ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_quoted) {
        StrBuf b = STRBUF_NULL;
        strbuf_put_quoted(&b, "a\"b\\c\n\x01\x7f", 40);
        ck_assert_str_eq(b.data, "\"a\\\"b\\\\c\\x0a\\x01\\x7f\"");
        strbuf_done(&b);
        strbuf_put_quoted(&b, "abcdefgh", 3);
        ck_assert_str_eq(b.data, "\"abc\"...");
        strbuf_done(&b);
        /* never half a character, and no malformed UTF-8 passed on */
        strbuf_put_quoted(&b, "a\xc3\xa9" "b", 2);
        ck_assert_str_eq(b.data, "\"a\"...");
        strbuf_done(&b);
        strbuf_put_quoted(&b, "a\xc3\xa9" "b", 3);
        ck_assert_str_eq(b.data, "\"a\xc3\xa9\"...");
        strbuf_done(&b);
        strbuf_put_quoted(&b, "\xff\xc3(\xe2\x82", 40);
        ck_assert_str_eq(b.data, "\"\\xff\\xc3(\\xe2\\x82\"");
        strbuf_done(&b);
}
END_TEST

START_TEST(test_distance) {
        ck_assert_uint_eq(string_distance("interval", "interval"), 0);
        ck_assert_uint_eq(string_distance("intervall", "interval"), 1);
        ck_assert_uint_eq(string_distance("timeout", "timout"), 1);
        ck_assert_uint_eq(string_distance("links", "linkz"), 1);
        ck_assert_uint_eq(string_distance("", "abc"), 3);
        ck_assert_uint_eq(string_distance("kitten", "sitting"), 3);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("strbuf");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_build, test_quoted, test_distance);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
