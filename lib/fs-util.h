/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Small file-system helpers for the state directory and the key file. */

#include <sys/types.h>

#include "macro.h"

/* Creates the directory path with the given mode (whatever the umask) and
 * any missing parents with 0755. An existing directory is left as it is;
 * an existing non-directory gives -ENOTDIR. */
int mkdir_p(const char *path, mode_t mode);

/* fsync()s the directory holding path, so that a file just created or
 * renamed there survives a crash. */
int fsync_parent_directory(const char *path);

/* Reads exactly size bytes from fd; -EBADMSG when the file holds fewer or
 * more. */
int read_exact_fd(int fd, void *buf, size_t size);
/* Writes all of buf, retrying short writes and EINTR. */
int write_all_fd(int fd, const void *buf, size_t size);

/* Replaces the file at path with data, atomically: the data goes to a
 * temporary file ".NAME.XXXXXX" in the same directory (a name no "*.NAME"
 * pattern matches), which gets exactly the given mode, is fsync()ed and
 * renamed over path. A reader sees the old file or the new one, never a
 * part; after a crash one of the two is there. On failure the temporary
 * file is removed and path is left as it was. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
