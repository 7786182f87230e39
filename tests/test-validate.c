/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tests.h"
#include "validate.h"

START_TEST(test_link_names) {
        const char *good[] = { "district", "lincoln-high", "a", "school-42", "0abc",
                               "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123" };
        const char *bad[] = { "", "District", "-a", "a-", "a_b", "a b", "a.b", "école",
                              "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234", "a\n" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(link_name_is_valid(good[i]), "%s", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!link_name_is_valid(bad[i]), "%s", bad[i]);
        ck_assert(!link_name_is_valid(NULL));
}
END_TEST

START_TEST(test_cds) {
        ck_assert(cds_code_is_valid("19647330000000"));
        ck_assert(!cds_code_is_valid("1964733000000"));
        ck_assert(!cds_code_is_valid("196473300000000"));
        ck_assert(!cds_code_is_valid("1964733000000a"));
        ck_assert(!cds_code_is_valid(NULL));
}
END_TEST

START_TEST(test_email) {
        const char *good[] = { "it@example.org", "it-alerts+toms@district.k12.ca.us", "a@b.c", "x@[127.0.0.1]" };
        const char *bad[] = { "", "it", "@example.org", "it@", "it@@example.org", "it@exa mple.org",
                              "it alerts@example.org", "it@example.org\r\nBcc: x@y.z", "<it@example.org>",
                              "it@-example.org", "it@example..org", ".it@example.org", "it.@example.org",
                              "it@example.org,other@example.org", "itä@example.org" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(email_address_is_valid(good[i]), "%s", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!email_address_is_valid(bad[i]), "%s", bad[i]);

        _cleanup_free_ char *name = NULL, *addr = NULL;
        ck_assert_int_eq(email_from_parse("\"TOMS link monitor\" <tomslink@example.org>", &name, &addr), 0);
        ck_assert_str_eq(name, "TOMS link monitor");
        ck_assert_str_eq(addr, "tomslink@example.org");
        free(name), free(addr);
        name = addr = NULL;
        ck_assert_int_eq(email_from_parse("tomslink@example.org", &name, &addr), 0);
        ck_assert_ptr_null(name);
        ck_assert_str_eq(addr, "tomslink@example.org");
        free(addr);
        addr = NULL;
        ck_assert_int_eq(email_from_parse("Surveillance des accès <t@example.org>", &name, &addr), 0);
        ck_assert_str_eq(name, "Surveillance des accès");
        free(name), free(addr);
        name = addr = NULL;
        ck_assert_int_eq(email_from_parse("A <t@example.org>\r\nBcc: x@example.org", &name, &addr), -EINVAL);
        ck_assert_int_eq(email_from_parse("A <t@example.org> trailing", &name, &addr), -EINVAL);
        ck_assert_int_eq(email_from_parse("A \"B\" <t@example.org>", &name, &addr), -EINVAL);
        ck_assert_int_eq(email_from_parse("A <not an address>", &name, &addr), -EINVAL);
}
END_TEST

START_TEST(test_strings) {
        ck_assert(string_is_safe("parent portal, éditions 2027"));
        ck_assert(!string_is_safe("a\nb"));
        ck_assert(!string_is_safe("a\rb"));
        ck_assert(!string_is_safe("a\x7f"));
        ck_assert(!string_is_safe("caf\xc3"));
        ck_assert(utf8_is_valid("\xe2\x82\xac", 3));
        ck_assert(!utf8_is_valid("\xc0\xaf", 2));           /* overlong */
        ck_assert(!utf8_is_valid("\xed\xa0\x80", 3));       /* surrogate */
        ck_assert(!utf8_is_valid("\xf4\x90\x80\x80", 4));   /* > U+10FFFF */
        ck_assert_uint_eq(utf8_valid_prefix("ab\xe2\x82\xac\xc0\xafz", 8), 5);
        ck_assert_uint_eq(utf8_valid_prefix("ab\xe2\x82", 4), 2);   /* cut inside a character */
        ck_assert_uint_eq(utf8_valid_prefix("ab", 2), 2);
        ck_assert(string_is_ascii("plain"));
        ck_assert(!string_is_ascii("plaín"));
        ck_assert(http_header_name_is_valid("X-Api-Key"));
        ck_assert(!http_header_name_is_valid("X Api"));
        ck_assert(!http_header_name_is_valid("X:Api"));
        ck_assert(!http_header_name_is_valid(""));
        ck_assert(host_is_loopback("127.0.0.1") && host_is_loopback("localhost") && host_is_loopback("[::1]"));
        ck_assert(!host_is_loopback("mail.example.org") && !host_is_loopback("128.0.0.1"));
        ck_assert(host_is_loopback("127.1.2.3") && host_is_loopback("LocalHost"));
        /* names that only look like loopback resolve anywhere */
        ck_assert(!host_is_loopback("127.mail.example") && !host_is_loopback("127.0.0.1.example.org") &&
                  !host_is_loopback("localhost.example.org") && !host_is_loopback("") && !host_is_loopback(NULL));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("validate");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_link_names, test_cds, test_email, test_strings);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
