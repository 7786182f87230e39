/* SPDX-License-Identifier: GPL-2.0-or-later */
/* master_key_load() of store.h: the 256-bit key everything in the store is
 * derived from. */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "crypto.h"
#include "fs-util.h"
#include "store.h"

#define CREDENTIAL_NAME STORE_KEY_CREDENTIAL

/* Reads a key file. A systemd credential lives in a private directory that
 * systemd made readable by the service alone; a key file of our own must
 * be private, like ssh's private keys. */
static int key_read(const char *path, bool check_mode, uint8_t ret_key[STORE_KEY_SIZE]) {
        uint8_t key[STORE_KEY_SIZE];
        struct stat st;
        int r;

        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if (check_mode && (st.st_mode & 077))
                return -EPERM;
        if (st.st_size != STORE_KEY_SIZE)
                return -EBADMSG;

        r = read_exact_fd(fd, key, sizeof key);
        if (r >= 0)
                memcpy(ret_key, key, sizeof key);
        crypto_wipe(key, sizeof key);
        return r;
}

/* Creates the key file with 32 random bytes: written to a private
 * temporary file, synced, then linked into place (link() fails if the name
 * exists), so the key file never exists half-written. Returns -EEXIST when
 * another process created it first. */
static int key_create(const char *path, uint8_t ret_key[STORE_KEY_SIZE]) {
        uint8_t key[STORE_KEY_SIZE];
        _cleanup_free_ char *tmp = NULL, *dir = NULL;
        int r;

        const char *slash = strrchr(path, '/');
        if (slash && slash != path) {
                dir = strndup(path, slash - path);
                if (!dir)
                        return -ENOMEM;
                r = mkdir_p(dir, 0700);
                if (r < 0)
                        return r;
        }

        if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();

        r = crypto_random(key, sizeof key);
        if (r >= 0 && fchmod(fd, 0600) < 0)
                r = negative_errno();
        if (r >= 0)
                r = write_all_fd(fd, key, sizeof key);
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && link(tmp, path) < 0)
                r = negative_errno();
        (void) unlink(tmp);
        if (r >= 0)
                r = fsync_parent_directory(path);
        if (r >= 0)
                memcpy(ret_key, key, sizeof key);
        crypto_wipe(key, sizeof key);
        return r;
}

int master_key_load(const char *credentials_directory, const char *key_file, uint8_t ret_key[STORE_KEY_SIZE],
                    char **ret_source) {
        uint8_t key[STORE_KEY_SIZE];
        _cleanup_free_ char *path = NULL;
        int r;

        assert(ret_key);

        if (!isempty(credentials_directory)) {
                if (asprintf(&path, "%s/%s", credentials_directory, CREDENTIAL_NAME) < 0)
                        return -ENOMEM;
                r = key_read(path, false, key);
                if (r >= 0)
                        goto found;
                if (r != -ENOENT)
                        return r;
                path = mfree(path);
        }

        if (isempty(key_file))
                return -ENOENT;
        path = strdup(key_file);
        if (!path)
                return -ENOMEM;
        r = key_read(path, true, key);
        if (r == -ENOENT) {
                r = key_create(path, key);
                if (r == -EEXIST)       /* lost a race: use the winner's key */
                        r = key_read(path, true, key);
        }
        if (r < 0)
                return r;

found:
        if (ret_source)
                *ret_source = TAKE_PTR(path);
        memcpy(ret_key, key, sizeof key);
        crypto_wipe(key, sizeof key);
        return 0;
}
