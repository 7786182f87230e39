/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "fs-util.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int mkdir_one(const char *path, mode_t mode) {
        if (mkdir(path, mode) < 0) {
                struct stat st;
                if (errno != EEXIST)
                        return negative_errno();
                if (stat(path, &st) < 0)
                        return negative_errno();
                return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
        }
        /* The umask may have taken bits away: set exactly what was asked. */
        if (chmod(path, mode) < 0)
                return negative_errno();
        return 1;
}

int mkdir_p(const char *path, mode_t mode) {
        if (isempty(path))
                return -EINVAL;

        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        /* drop trailing slashes */
        for (size_t n = strlen(p); n > 1 && p[n - 1] == '/'; n--)
                p[n - 1] = '\0';

        /* parents first, each with 0755 */
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                if (s[-1] == '/')
                        continue;
                *s = '\0';
                int r = mkdir_one(p, 0755);
                *s = '/';
                if (r < 0)
                        return r;
        }
        int r = mkdir_one(p, mode);
        return r < 0 ? r : 0;
}

int fsync_parent_directory(const char *path) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        _cleanup_close_ int fd = open(dirname(p), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fsync(fd) < 0)
                return negative_errno();
        return 0;
}

int read_exact_fd(int fd, void *buf, size_t size) {
        uint8_t *p = buf;
        size_t done = 0;

        /* one byte more than wanted, to notice a longer file */
        for (;;) {
                uint8_t extra;
                ssize_t k = done < size ? read(fd, p + done, size - done) : read(fd, &extra, 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return done == size ? 0 : -EBADMSG;
                if (done >= size)
                        return -EBADMSG;
                done += (size_t) k;
        }
}

int write_all_fd(int fd, const void *buf, size_t size) {
        const uint8_t *p = buf;
        while (size > 0) {
                ssize_t k = write(fd, p, size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -EIO;
                p += k;
                size -= (size_t) k;
        }
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        if (isempty(path))
                return -EINVAL;
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        if (isempty(base))
                return -EISDIR;

        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%.*s.%s.XXXXXX", (int) (base - path), path, base) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();

        int r = 0;
        /* mkostemp() made it 0600 less the umask: set exactly what was asked */
        if (fchmod(fd, mode) < 0)
                r = negative_errno();
        if (r >= 0)
                r = write_all_fd(fd, data, size);
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0) {
                int fd2 = TAKE_FD(fd);
                if (close(fd2) < 0 && errno != EINTR)
                        r = negative_errno();
        }
        if (r >= 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlink(tmp);
        return r;
}
