/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>

#include "scratch.h"
#include "store.h"

static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        size_t n = 0;
        for (struct dirent *de; (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

START_TEST(test_create) {
        char *d = scratch_dir_new("key");
        _cleanup_free_ char *dir = scratch_path(d, "state/keys"), *path = scratch_path(d, "state/keys/master.key");
        uint8_t key[STORE_KEY_SIZE], again[STORE_KEY_SIZE], zero[STORE_KEY_SIZE] = {};
        char *source = NULL;
        size_t size = 0;

        umask(022);     /* permissive: the modes below must not depend on it */
        ck_assert_int_eq(master_key_load(NULL, path, key, &source), 0);
        ck_assert_str_eq(source, path);
        free(source);
        ck_assert_uint_eq(file_mode(path), 0600);
        ck_assert_uint_eq(file_mode(dir), 0700);
        ck_assert(memcmp(key, zero, sizeof key) != 0);
        _cleanup_free_ char *data = read_file(path, &size);
        ck_assert_uint_eq(size, STORE_KEY_SIZE);
        ck_assert_mem_eq(data, key, STORE_KEY_SIZE);
        /* created atomically: no temporary file left behind */
        ck_assert_uint_eq(count_entries(dir), 1);

        /* loaded, not re-created */
        ck_assert_int_eq(master_key_load("", path, again, NULL), 0);
        ck_assert_mem_eq(again, key, sizeof key);

        /* another file gets another key */
        _cleanup_free_ char *path2 = scratch_path(d, "other.key");
        ck_assert_int_eq(master_key_load(NULL, path2, again, NULL), 0);
        ck_assert(memcmp(again, key, sizeof key) != 0);

        /* nothing to load from */
        ck_assert_int_eq(master_key_load(NULL, NULL, again, NULL), -ENOENT);
        scratch_dir_remove(d);
}
END_TEST

START_TEST(test_refuse_open_modes) {
        char *d = scratch_dir_new("key");
        _cleanup_free_ char *path = scratch_path(d, "master.key");
        uint8_t bytes[STORE_KEY_SIZE], key[STORE_KEY_SIZE];
        char *source = (char *) 0x1;
        static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0602, 0620, 0610, 0601 };

        memset(bytes, 0x5a, sizeof bytes);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                write_file(path, bytes, sizeof bytes, bad[i]);
                memset(key, 0, sizeof key);
                ck_assert_msg(master_key_load(NULL, path, key, &source) == -EPERM, "mode %04o accepted", bad[i]);
                ck_assert_ptr_eq(source, (char *) 0x1);
                ck_assert_uint_eq(key[0], 0);   /* not written on failure */
        }
        /* private modes are fine */
        write_file(path, bytes, sizeof bytes, 0400);
        ck_assert_int_eq(master_key_load(NULL, path, key, NULL), 0);
        ck_assert_mem_eq(key, bytes, sizeof key);
        write_file(path, bytes, sizeof bytes, 0600);
        ck_assert_int_eq(master_key_load(NULL, path, key, NULL), 0);
        scratch_dir_remove(d);
}
END_TEST

START_TEST(test_refuse_wrong_size) {
        char *d = scratch_dir_new("key");
        _cleanup_free_ char *path = scratch_path(d, "master.key");
        uint8_t bytes[STORE_KEY_SIZE + 1], key[STORE_KEY_SIZE];

        memset(bytes, 7, sizeof bytes);
        write_file(path, bytes, STORE_KEY_SIZE - 1, 0600);
        ck_assert_int_eq(master_key_load(NULL, path, key, NULL), -EBADMSG);
        write_file(path, bytes, STORE_KEY_SIZE + 1, 0600);
        ck_assert_int_eq(master_key_load(NULL, path, key, NULL), -EBADMSG);
        write_file(path, bytes, 0, 0600);
        ck_assert_int_eq(master_key_load(NULL, path, key, NULL), -EBADMSG);
        /* and the bad file is left alone, not replaced by a new key */
        ck_assert_uint_eq(file_mode(path), 0600);
        size_t size = 1;
        _cleanup_free_ char *data = read_file(path, &size);
        ck_assert_uint_eq(size, 0);

        /* a directory in its place */
        _cleanup_free_ char *dpath = scratch_path(d, "dir.key");
        ck_assert_int_eq(mkdir(dpath, 0700), 0);
        ck_assert_int_lt(master_key_load(NULL, dpath, key, NULL), 0);
        scratch_dir_remove(d);
}
END_TEST

START_TEST(test_credentials_directory) {
        char *d = scratch_dir_new("key");
        _cleanup_free_ char *creds = scratch_path(d, "credentials"), *cred = scratch_path(d, "credentials/tomslink.key"),
                            *path = scratch_path(d, "master.key");
        uint8_t a[STORE_KEY_SIZE], b[STORE_KEY_SIZE], key[STORE_KEY_SIZE];
        char *source = NULL;

        memset(a, 0xaa, sizeof a);
        memset(b, 0xbb, sizeof b);
        ck_assert_int_eq(mkdir(creds, 0700), 0);
        write_file(path, b, sizeof b, 0600);

        /* a credentials directory without our credential: the key file */
        ck_assert_int_eq(master_key_load(creds, path, key, &source), 0);
        ck_assert_mem_eq(key, b, sizeof key);
        ck_assert_str_eq(source, path);
        free(source);

        /* with it: preferred over the key file */
        write_file(cred, a, sizeof a, 0400);
        ck_assert_int_eq(master_key_load(creds, path, key, &source), 0);
        ck_assert_mem_eq(key, a, sizeof key);
        ck_assert_str_eq(source, cred);
        free(source);
        /* even with no key file configured */
        ck_assert_int_eq(master_key_load(creds, NULL, key, NULL), 0);
        ck_assert_mem_eq(key, a, sizeof key);

        /* a broken credential is an error, not a silent fall back */
        write_file(cred, a, 5, 0400);
        ck_assert_int_eq(master_key_load(creds, path, key, NULL), -EBADMSG);
        scratch_dir_remove(d);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("master-key");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_create, test_refuse_open_modes, test_refuse_wrong_size, test_credentials_directory);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
