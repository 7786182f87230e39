/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "fs-util.h"
#include "scratch.h"

START_TEST(test_mkdir_p) {
        char *d = scratch_dir_new("fs");
        _cleanup_free_ char *deep = scratch_path(d, "a/b/c"), *a = scratch_path(d, "a"), *f = scratch_path(d, "file");

        umask(022);
        ck_assert_int_eq(mkdir_p(deep, 0700), 0);
        ck_assert_uint_eq(file_mode(deep), 0700);
        ck_assert_uint_eq(file_mode(a), 0755);
        /* existing: fine, left alone */
        ck_assert_int_eq(chmod(deep, 0750), 0);
        ck_assert_int_eq(mkdir_p(deep, 0700), 0);
        ck_assert_uint_eq(file_mode(deep), 0750);

        /* a umask that would take more away than asked is overruled */
        _cleanup_free_ char *e = scratch_path(d, "e//");
        umask(0277);
        ck_assert_int_eq(mkdir_p(e, 0700), 0);
        umask(022);
        _cleanup_free_ char *e2 = scratch_path(d, "e");
        ck_assert_uint_eq(file_mode(e2), 0700);

        write_file(f, "x", 1, 0600);
        ck_assert_int_eq(mkdir_p(f, 0700), -ENOTDIR);
        ck_assert_int_eq(mkdir_p("", 0700), -EINVAL);
        ck_assert_int_eq(fsync_parent_directory(f), 0);
        scratch_dir_remove(d);
}
END_TEST

START_TEST(test_read_write) {
        char *d = scratch_dir_new("fs");
        _cleanup_free_ char *f = scratch_path(d, "data");
        uint8_t buf[8];

        int fd = open(f, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_all_fd(fd, "12345678", 8), 0);
        ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
        ck_assert_int_eq(read_exact_fd(fd, buf, 8), 0);
        ck_assert_mem_eq(buf, "12345678", 8);
        ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
        ck_assert_int_eq(read_exact_fd(fd, buf, 7), -EBADMSG);    /* longer than wanted */
        ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
        uint8_t big[9];
        ck_assert_int_eq(read_exact_fd(fd, big, 9), -EBADMSG);    /* shorter */
        close(fd);
        scratch_dir_remove(d);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("fs-util");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_mkdir_p, test_read_write);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
