/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "macro.h"

/* Each test executable runs one suite; meson reads its TAP output. */
#define TEST_MAIN(suite_fn)                                     \
        int main(void) {                                        \
                SRunner *sr = srunner_create(suite_fn());       \
                srunner_run_all(sr, CK_ENV);                    \
                int failed = srunner_ntests_failed(sr);         \
                srunner_free(sr);                               \
                return failed ? EXIT_FAILURE : EXIT_SUCCESS;    \
        }

#define ADD_TESTS(tc, ...)                                                      \
        do {                                                                    \
                const TTest *_t_[] = { __VA_ARGS__ };                           \
                for (size_t _i_ = 0; _i_ < ELEMENTSOF(_t_); _i_++)              \
                        _tcase_add_test((tc), _t_[_i_], 0, 0, 0, 1);            \
        } while (0)

/* Check's ck_assert*() records a mark for every passing assertion (a write
 * per call); inside loops of millions of iterations use this, which costs
 * nothing until it fails. */
#define check_loop(expr, ...)                                   \
        do {                                                    \
                if (!(expr))                                    \
                        ck_abort_msg(__VA_ARGS__);              \
        } while (0)
