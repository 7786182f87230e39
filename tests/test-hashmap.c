/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>

#include "hashmap.h"
#include "tests.h"

START_TEST(test_basic) {
        _cleanup_(hashmap_freep) Hashmap *h = NULL;
        ck_assert_int_eq(hashmap_new(&h), 0);
        ck_assert_ptr_null(hashmap_get(h, "district"));
        ck_assert_ptr_null(hashmap_remove(h, "district"));
        int a = 1, b = 2;
        ck_assert_int_eq(hashmap_put(h, "district", &a), 0);
        ck_assert_int_eq(hashmap_put(h, "school-a", &b), 0);
        ck_assert_int_eq(hashmap_put(h, "district", &b), -EEXIST);
        ck_assert_uint_eq(hashmap_size(h), 2);
        ck_assert_ptr_eq(hashmap_get(h, "district"), &a);
        ck_assert_ptr_eq(hashmap_get(h, "school-a"), &b);
        ck_assert_ptr_null(hashmap_get(h, "school-b"));
        ck_assert_ptr_eq(hashmap_remove(h, "district"), &a);
        ck_assert_ptr_null(hashmap_get(h, "district"));
        ck_assert_ptr_eq(hashmap_get(h, "school-a"), &b);
        ck_assert_uint_eq(hashmap_size(h), 1);
}
END_TEST

/* Many keys, removals in a scattered order: every remaining key must still
 * be found after backward-shift deletions, and iteration sees each once. */
START_TEST(test_many) {
        enum { N = 20000 };
        _cleanup_(hashmap_freep) Hashmap *h = NULL;
        static char keys[N][16];
        ck_assert_int_eq(hashmap_new(&h), 0);
        for (int i = 0; i < N; i++) {
                snprintf(keys[i], sizeof keys[i], "link-%d", i);
                check_loop(hashmap_put(h, keys[i], keys[i]) == 0, "put %d", i);
        }
        ck_assert_uint_eq(hashmap_size(h), N);
        for (int i = 0; i < N; i += 3)
                check_loop(hashmap_remove(h, keys[i]) == keys[i], "remove %d", i);
        for (int i = 0; i < N; i++) {
                void *v = hashmap_get(h, keys[i]);
                check_loop(i % 3 == 0 ? v == NULL : v == keys[i], "get %d", i);
        }
        size_t it = 0, n = 0;
        void *v;
        static bool seen[N];
        while (hashmap_iterate(h, &it, &v)) {
                int i = atoi((char *) v + 5);
                check_loop(i % 3 != 0 && !seen[i], "iterate %d", i);
                seen[i] = true;
                n++;
        }
        ck_assert_uint_eq(n, hashmap_size(h));
        /* removing everything leaves an empty, usable map */
        for (int i = 0; i < N; i++)
                (void) hashmap_remove(h, keys[i]);
        ck_assert_uint_eq(hashmap_size(h), 0);
        ck_assert_int_eq(hashmap_put(h, keys[0], keys[0]), 0);
        ck_assert_ptr_eq(hashmap_get(h, "link-0"), keys[0]);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("hashmap");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_basic, test_many);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
