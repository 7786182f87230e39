/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>

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

static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        size_t n = 0;
        for (struct dirent *de; (de = readdir(d));)
                n += !streq(de->d_name, ".") && !streq(de->d_name, "..");
        closedir(d);
        return n;
}

START_TEST(test_write_atomic) {
        char *d = scratch_dir_new("fs");
        _cleanup_free_ char *f = scratch_path(d, "x.prom"), *missing = scratch_path(d, "nodir/x.prom");
        _cleanup_free_ char *notdir = scratch_path(d, "x.prom/y.prom");
        size_t size;

        /* the mode asked for, whatever the umask */
        umask(0077);
        ck_assert_int_eq(write_file_atomic(f, "one\n", 4, 0644), 0);
        umask(022);
        ck_assert_uint_eq(file_mode(f), 0644);
        _cleanup_free_ char *a = read_file(f, &size);
        ck_assert_str_eq(a, "one\n");

        /* replaced: a new inode, the old content gone, no temporary left */
        struct stat st1, st2;
        ck_assert_int_eq(stat(f, &st1), 0);
        ck_assert_int_eq(write_file_atomic(f, "two, longer\n", 12, 0640), 0);
        ck_assert_int_eq(stat(f, &st2), 0);
        ck_assert_uint_ne(st1.st_ino, st2.st_ino);
        ck_assert_uint_eq(file_mode(f), 0640);
        _cleanup_free_ char *b = read_file(f, &size);
        ck_assert_str_eq(b, "two, longer\n");
        ck_assert_int_eq(write_file_atomic(f, "", 0, 0644), 0);
        _cleanup_free_ char *c = read_file(f, &size);
        ck_assert_uint_eq(size, 0);
        ck_assert_uint_eq(count_entries(d), 1);

        /* failures leave nothing behind and the file untouched */
        ck_assert_int_eq(write_file_atomic(missing, "x", 1, 0644), -ENOENT);
        ck_assert_int_eq(write_file_atomic(notdir, "x", 1, 0644), -ENOTDIR);
        ck_assert_int_eq(write_file_atomic("", "x", 1, 0644), -EINVAL);
        ck_assert_int_eq(write_file_atomic(d, "x", 1, 0644) < 0, 1);   /* a directory: rename fails */
        _cleanup_free_ char *slash = scratch_path(d, "");
        ck_assert_int_eq(write_file_atomic(slash, "x", 1, 0644), -EISDIR);
        ck_assert_uint_eq(count_entries(d), 1);
        ck_assert_uint_eq(file_mode(f), 0644);
        scratch_dir_remove(d);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("fs-util");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_mkdir_p, test_read_write, test_write_atomic);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
