/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* NULL-terminated string vectors (char **), owned element by element. */

#include "macro.h"

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char * const *l);
bool strv_contains(char * const *l, const char *s);
/* Appends a copy of s. */
int strv_extend(char ***l, const char *s);
/* Appends a formatted string. */
int strv_extendf(char ***l, const char *fmt, ...) _printf_(2, 3);
/* Appends s itself, taking ownership (also on failure, where s is freed). */
int strv_push(char ***l, char *s);
char **strv_copy(char * const *l);
/* Joins with sep; an empty or NULL list gives "". */
char *strv_join(char * const *l, const char *sep);

#define STRV_FOREACH(s, l) for (char **s = (l); s && *s; s++)
