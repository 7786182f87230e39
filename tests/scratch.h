/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Scratch directories for tests that write files. They live under the
 * build directory, on a real disk (never tmpfs), so that fsync() and file
 * modes behave as they will in production. */

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include "tests.h"

static inline char *scratch_dir_new(const char *name) {
        char *p = NULL;
        ck_assert_int_ge(asprintf(&p, "%s/scratch-%s-XXXXXX", TEST_SCRATCH_ROOT, name), 0);
        ck_assert_msg(mkdtemp(p) != NULL, "mkdtemp %s: %m", p);
        return p;
}

static inline int scratch_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

/* Removes the directory and everything in it; frees p. */
static inline void scratch_dir_remove(char *p) {
        if (!p)
                return;
        (void) nftw(p, scratch_remove_one, 16, FTW_DEPTH | FTW_PHYS);
        free(p);
}

static inline char *scratch_path(const char *dir, const char *name) {
        char *p = NULL;
        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        return p;
}

static inline mode_t file_mode(const char *path) {
        struct stat st;
        ck_assert_msg(lstat(path, &st) == 0, "stat %s: %m", path);
        return st.st_mode & 07777;
}

static inline void write_file(const char *path, const void *data, size_t size, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        ck_assert_msg(fd >= 0, "open %s: %m", path);
        ck_assert_int_eq(write(fd, data, size), (ssize_t) size);
        ck_assert_int_eq(fchmod(fd, mode), 0);
        ck_assert_int_eq(close(fd), 0);
}

/* The whole file, malloc()ed, NUL-terminated; NULL if it does not exist. */
static inline char *read_file(const char *path, size_t *ret_size) {
        FILE *f = fopen(path, "rbe");
        if (!f)
                return NULL;
        char *buf = NULL;
        size_t n = 0, cap = 0, k;
        do {
                if (cap - n < 4096) {
                        cap = cap * 2 + 4096;
                        buf = realloc(buf, cap + 1);
                        ck_assert_ptr_nonnull(buf);
                }
                k = fread(buf + n, 1, cap - n, f);
                n += k;
        } while (k > 0);
        fclose(f);
        buf[n] = '\0';
        *ret_size = n;
        return buf;
}
