/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Reading a secret key from standard input, never from the command line:
 * on a terminal with echo off, asked twice (the entries must match); from
 * a pipe or file as a single line, its line ending stripped. The buffers
 * holding it are wiped. */

#include "macro.h"

/* Reads the secret from fd. On a terminal the prompts go to prompt_fd (the
 * terminal itself is a good choice) and, with confirm, a second entry must
 * match. Returns 0 with the secret (NUL-terminated; free with
 * secret_input_free()), or: -ECANCELED (Ctrl-C, or end of input on a
 * terminal), -ENODATA (empty), -E2BIG (longer than max bytes), -EBADMSG
 * (control characters or invalid UTF-8, or more than one line from a pipe),
 * -EKEYREJECTED (the two entries differ), or another -errno. */
int secret_input_read(int fd, int prompt_fd, const char *prompt, bool confirm, size_t max, char **ret,
                      size_t *ret_size);
/* Wipes and frees; returns NULL. */
char *secret_input_free(char *secret, size_t size);
/* A message for the errors above. */
const char *secret_input_strerror(int error);
