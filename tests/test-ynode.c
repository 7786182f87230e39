/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tests.h"
#include "ynode.h"

static YNode *parse(const char *s) {
        YNode *n = NULL;
        YNodeError e;
        ck_assert_int_eq(ynode_parse(s, strlen(s), &n, &e), 0);
        return n;
}

START_TEST(test_tree) {
        _cleanup_(ynode_freep) YNode *n = parse("a: 1\nb:\n  - x\n  - 'y'\nc: ~\nd: \"\"\n");
        ck_assert_int_eq(n->type, YNODE_MAPPING);
        ck_assert_uint_eq(ynode_n_pairs(n), 4);
        ck_assert_str_eq(n->items[0]->value, "a");
        ck_assert_uint_eq(n->items[1]->line, 1);
        ck_assert_uint_eq(n->items[1]->column, 4);
        YNode *b = n->items[3];
        ck_assert_int_eq(b->type, YNODE_SEQUENCE);
        ck_assert_uint_eq(b->n_items, 2);
        ck_assert(b->items[0]->plain);
        ck_assert(!b->items[1]->plain);
        ck_assert_uint_eq(b->items[1]->line, 4);
        ck_assert(ynode_is_null(n->items[5]));    /* ~ */
        ck_assert(!ynode_is_null(n->items[7]));   /* "" is an empty string, not null */
        ck_assert(ynode_is_null(NULL));
}
END_TEST

START_TEST(test_empty_and_errors) {
        YNode *n = (YNode *) 1;
        YNodeError e;
        ck_assert_int_eq(ynode_parse("", 0, &n, &e), 0);
        ck_assert_ptr_null(n);
        ck_assert_int_eq(ynode_parse("# only a comment\n", 17, &n, &e), 0);
        ck_assert_ptr_null(n);

        ck_assert_int_eq(ynode_parse("a: [1, 2\n", 9, &n, &e), -EINVAL);
        ck_assert_uint_eq(e.line, 2);
        ck_assert_int_eq(ynode_parse("a:\n\t- b\n", 8, &n, &e), -EINVAL);
        ck_assert_uint_eq(e.line, 2);
        ck_assert_ptr_nonnull(strstr(e.message, "cannot start any token"));
        ck_assert_int_eq(ynode_parse("a: &x 1\nb: *x\n", 14, &n, &e), -EINVAL);
        ck_assert_uint_eq(e.line, 2);
        ck_assert_ptr_nonnull(strstr(e.message, "alias *x"));
        ck_assert_int_eq(ynode_parse("a: 1\n---\nb: 2\n", 14, &n, &e), -EINVAL);
        ck_assert_ptr_nonnull(strstr(e.message, "more than one"));
        char deep[200];
        memset(deep, '[', 100);
        memset(deep + 100, ']', 100);
        ck_assert_int_eq(ynode_parse(deep, 200, &n, &e), -EINVAL);
        ck_assert_ptr_nonnull(strstr(e.message, "nesting deeper than 64"));
        /* an anchor without alias is harmless */
        ck_assert_int_eq(ynode_parse("a: &x 1\n", 8, &n, &e), 0);
        ynode_free(n);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("ynode");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_tree, test_empty_and_errors);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
