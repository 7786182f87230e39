/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "strbuf.h"

#include <stdio.h>

#include <openssl/crypto.h>

#include "validate.h"

void strbuf_done(StrBuf *b) {
        free(b->data);
        *b = STRBUF_NULL;
}

void strbuf_done_erase(StrBuf *b) {
        if (b->data)
                OPENSSL_cleanse(b->data, b->cap);
        strbuf_done(b);
}

static bool strbuf_reserve(StrBuf *b, size_t extra) {
        if (b->oom)
                return false;
        if (extra > SIZE_MAX / 2 - b->len) {
                b->oom = true;
                return false;
        }
        size_t need = b->len + extra + 1;
        if (need <= b->cap)
                return true;
        size_t cap = MAX(b->cap * 2, MAX(need, (size_t) 64));
        char *d = malloc(cap);
        if (!d) {
                b->oom = true;
                return false;
        }
        /* Copy instead of realloc so that a buffer holding a secret never
         * leaves an unwiped copy behind. */
        if (b->data) {
                memcpy(d, b->data, b->len + 1);
                OPENSSL_cleanse(b->data, b->cap);
                free(b->data);
        } else
                d[0] = '\0';
        b->data = d;
        b->cap = cap;
        return true;
}

void strbuf_reset(StrBuf *b) {
        b->len = 0;
        b->oom = false;
        if (b->data)
                b->data[0] = '\0';
}

void strbuf_append(StrBuf *b, const char *s, size_t n) {
        if (!strbuf_reserve(b, n))
                return;
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
}

void strbuf_puts(StrBuf *b, const char *s) {
        strbuf_append(b, s, strlen(s));
}

void strbuf_putc(StrBuf *b, char c) {
        strbuf_append(b, &c, 1);
}

void strbuf_vprintf(StrBuf *b, const char *fmt, va_list ap) {
        va_list aq;
        va_copy(aq, ap);
        int n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0) {
                b->oom = true;
                return;
        }
        if (!strbuf_reserve(b, (size_t) n))
                return;
        vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        b->len += (size_t) n;
}

void strbuf_printf(StrBuf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        strbuf_vprintf(b, fmt, ap);
        va_end(ap);
}

char *strbuf_steal(StrBuf *b) {
        if (b->oom) {
                strbuf_done(b);
                return NULL;
        }
        char *s = b->data ?: strdup("");
        *b = STRBUF_NULL;
        return s;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 if there
 * is none. */
static size_t utf8_sequence(const char *s, size_t n) {
        unsigned char c = (unsigned char) s[0];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        return len > 0 && len <= n && utf8_is_valid(s, len) ? len : 0;
}

void strbuf_put_quoted(StrBuf *b, const char *s, size_t max) {
        size_t n = strlen(s), i = 0;
        strbuf_putc(b, '"');
        while (i < n) {
                unsigned char c = (unsigned char) s[i];
                size_t len = utf8_sequence(s + i, n - i);
                /* never half a character: the text stays valid UTF-8 */
                if (i + MAX(len, (size_t) 1) > max)
                        break;
                if (c == '"' || c == '\\')
                        strbuf_printf(b, "\\%c", c);
                else if (c < 0x20 || c == 0x7f || len == 0)
                        strbuf_printf(b, "\\x%02x", c);
                else
                        strbuf_append(b, s + i, len);
                i += MAX(len, (size_t) 1);
        }
        strbuf_putc(b, '"');
        if (i < n)
                strbuf_puts(b, "...");
}

unsigned string_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned row[64];
        if (la >= ELEMENTSOF(row) || lb >= ELEMENTSOF(row))
                return 255;
        for (size_t j = 0; j <= lb; j++)
                row[j] = (unsigned) j;
        for (size_t i = 1; i <= la; i++) {
                unsigned diag = row[0];
                row[0] = (unsigned) i;
                for (size_t j = 1; j <= lb; j++) {
                        unsigned up = row[j];
                        unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
                        diag = up;
                }
        }
        return MIN(row[lb], 255u);
}
