/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "strv.h"
#include "tests.h"

START_TEST(test_strv) {
        _cleanup_strv_free_ char **l = NULL;
        ck_assert_uint_eq(strv_length(l), 0);
        ck_assert(!strv_contains(l, "a"));
        ck_assert_int_eq(strv_extend(&l, "a"), 0);
        ck_assert_int_eq(strv_extend(&l, "bb"), 0);
        ck_assert_int_eq(strv_push(&l, strdup("ccc")), 0);
        ck_assert_uint_eq(strv_length(l), 3);
        ck_assert(strv_contains(l, "bb"));
        ck_assert(!strv_contains(l, "b"));
        _cleanup_free_ char *j = strv_join(l, ", ");
        ck_assert_str_eq(j, "a, bb, ccc");
        _cleanup_strv_free_ char **c = strv_copy(l);
        ck_assert_uint_eq(strv_length(c), 3);
        ck_assert_ptr_ne(c[0], l[0]);
        ck_assert_str_eq(c[2], "ccc");
        _cleanup_free_ char *e = strv_join(NULL, ",");
        ck_assert_str_eq(e, "");
        size_t n = 0;
        STRV_FOREACH(s, l)
                n += strlen(*s);
        ck_assert_uint_eq(n, 6);
        ck_assert_ptr_null(strv_free(NULL));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("strv");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_strv);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
