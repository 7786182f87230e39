/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The files "tomslinkctl credential import" reads: CSV with the header
 * link,username,secret,generated (the columns in any order, generated
 * optional) or YAML, a list of mappings with the same keys. Every row is
 * checked before anything is sent, and every problem is reported with its
 * line, never with the secret. */

#include "protocol.h"

#define IMPORT_FILE_HEADER "link,username,secret,generated"
#define IMPORT_FILE_SIZE_MAX (256U * 1024U * 1024U)
/* Problems reported before giving up on a file. */
#define IMPORT_FILE_ERRORS_MAX 1000U

/* A file holding secrets must be private: a regular file (or a pipe) that
 * neither group nor others may read or write, and not executable: mode 0600
 * or stricter. -EPERM with a message saying how to fix it otherwise. */
int import_file_check_mode(int fd, const char *name, char **ret_error);

/* Reads an open file whole, up to IMPORT_FILE_SIZE_MAX (-EFBIG beyond).
 * The buffer holds secrets: wipe it before freeing. */
int import_file_read(int fd, char **ret, size_t *ret_size);

/* Parses and checks a whole file. Returns 0 with the rows (free with
 * protocol_import_rows_free(), which wipes the secrets), or -EINVAL with
 * every problem found as "NAME:LINE: message" lines in *ret_errors (a
 * strv; at most IMPORT_FILE_ERRORS_MAX, then a line saying more were cut). */
int import_file_parse(const char *name, const char *data, size_t size, ProtocolImportRow **ret_rows, size_t *ret_n,
                      char ***ret_errors);
