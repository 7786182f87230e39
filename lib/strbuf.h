/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A growable byte buffer that stays NUL-terminated. Appends after an
 * allocation failure are no-ops and strbuf_failed() reports it, so callers
 * can build a whole text and check once. */

#include <stdarg.h>

#include "macro.h"

typedef struct StrBuf {
        char *data;
        size_t len;
        size_t cap;
        bool oom;
} StrBuf;

#define STRBUF_NULL ((StrBuf) {})

void strbuf_done(StrBuf *b);
/* Wipes the contents with OPENSSL_cleanse()-like care before freeing. */
void strbuf_done_erase(StrBuf *b);
void strbuf_append(StrBuf *b, const char *s, size_t n);
void strbuf_puts(StrBuf *b, const char *s);
void strbuf_putc(StrBuf *b, char c);
void strbuf_printf(StrBuf *b, const char *fmt, ...) _printf_(2, 3);
void strbuf_vprintf(StrBuf *b, const char *fmt, va_list ap) _printf_(2, 0);
static inline bool strbuf_failed(const StrBuf *b) {
        return b->oom;
}
/* Empties b but keeps its memory, for a buffer filled again and again. */
void strbuf_reset(StrBuf *b);
/* Hands out the string (never NULL unless allocation failed) and resets b. */
char *strbuf_steal(StrBuf *b);

/* Appends s as a human-readable, quoted, bounded rendering: control bytes
 * and bytes that are not well-formed UTF-8 become \xNN, at most max input
 * bytes are shown and never part of a character, so the result is valid
 * UTF-8 without control characters whatever s holds. */
void strbuf_put_quoted(StrBuf *b, const char *s, size_t max);

/* Edit distance, for "did you mean" hints; capped at 255. */
unsigned string_distance(const char *a, const char *b);
