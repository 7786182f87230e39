/* SPDX-License-Identifier: GPL-2.0-or-later */

/* A relay's answers as the SMTP client reads them (smtp_reply_reader_feed(),
 * smtp_relay_text()): whatever a mail relay sends. Input: the password
 * (up to the first NUL), one byte for the size of the pieces the rest
 * arrives in, then the relay's text.
 *
 * Invariants: every line and answer is shown as one line of printable
 * UTF-8 ("\n" joins the lines of an answer), bounded in size; an answer
 * has a code from 200 to 599 and comes exactly at a line that starts with
 * one and no "-"; the same text gives the same answers whatever pieces it
 * arrives in; and no form of the password (as it is, base64, AUTH PLAIN)
 * is ever shown, even when the relay echoes it. */

#include <openssl/evp.h>

#include "fuzz.h"
#include "smtp.h"
#include "strv.h"
#include "validate.h"

#define USERNAME "tomslink@example.org"

typedef struct Seen {
        char **hidden;
        bool check_hidden;
        StrBuf all;     /* the answers, each ending in "\0" */
        size_t n_lines, n_replies;
} Seen;

static void check_shown(const Seen *seen, const char *s, size_t max, const char *what) {
        size_t n = strlen(s);
        FUZZ_CHECK(n <= max, "%s of %zu bytes", what, n);
        FUZZ_CHECK(utf8_is_valid(s, n), "%s is not UTF-8: %s", what, s);
        FUZZ_CHECK(fuzz_text_is_clean(s, n, "\n"), "%s has control characters: %s", what, s);
        if (seen->check_hidden)
                STRV_FOREACH(h, seen->hidden)
                        FUZZ_CHECK(!strstr(s, *h), "%s shows the password (%s): %s", what, *h, s);
}

static void on_line(const char *clean, void *userdata) {
        Seen *seen = userdata;
        check_shown(seen, clean, SMTP_REPLY_LINE_MAX + 6, "a line");
        FUZZ_CHECK(!strchr(clean, '\n'), "a line with a line break");
        seen->n_lines++;
}

static void on_reply(int code, char *text, void *userdata) {
        Seen *seen = userdata;
        FUZZ_CHECK(code >= 200 && code <= 599, "code %d", code);
        check_shown(seen, text, SMTP_REPLY_MAX + SMTP_REPLY_LINE_MAX + 7, "an answer");
        strbuf_printf(&seen->all, "%d %s", code, text);
        strbuf_putc(&seen->all, '\0');
        seen->n_replies++;
        free(text);
}

static char *base64(const void *p, size_t n) {
        char *out = malloc(4 * ((n + 2) / 3) + 1);
        FUZZ_CHECK(out, "out of memory");
        EVP_EncodeBlock((unsigned char *) out, p, (int) n);
        return out;
}

/* The relay's text in pieces of the given size (0: all at once). */
static void read_all(Seen *seen, const uint8_t *data, size_t size, size_t piece) {
        SmtpReplyReader r = SMTP_REPLY_READER_NULL;
        for (size_t i = 0; i < size; i += piece ?: size)
                smtp_reply_reader_feed(&r, seen->hidden, (const char *) data + i, MIN(piece ?: size, size - i), on_line,
                                       on_reply, seen);
        smtp_reply_reader_done(&r);
}

static size_t final_lines(const uint8_t *data, size_t size) {
        size_t n = 0;
        for (size_t i = 0, start = 0; i < size; i++) {
                if (data[i] != '\n')
                        continue;
                const uint8_t *l = data + start;
                size_t len = i - start;
                while (len > 0 && l[len - 1] == '\r')
                        len--;
                /* what is kept of a line */
                len = MIN(len, (size_t) 4 * SMTP_REPLY_LINE_MAX);
                if (len >= 3 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' && l[2] >= '0' &&
                    l[2] <= '9' && (len == 3 || l[3] == ' '))
                        n++;
                start = i + 1;
        }
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = { data, size };
        char *password = fuzz_string(&in);
        size_t piece = fuzz_u8(&in);
        Seen a = {}, b = {};

        if (!password)
                return 0;
        /* the forms smtp_client_new() hides */
        size_t pl = strlen(password), ul = strlen(USERNAME);
        char *plain = malloc(ul + pl + 2);
        FUZZ_CHECK(plain, "out of memory");
        plain[0] = '\0';
        memcpy(plain + 1, USERNAME, ul + 1);
        memcpy(plain + ul + 2, password, pl);
        FUZZ_CHECK(strv_extend(&a.hidden, password) >= 0 && strv_push(&a.hidden, base64(password, pl)) >= 0 &&
                           strv_push(&a.hidden, base64(plain, ul + pl + 2)) >= 0,
                   "out of memory");
        free(plain);
        /* A password that "(hidden)" contains cannot but show; one with
         * characters that cleaning makes can be formed from others. */
        a.check_hidden = pl > 0 && strspn(password, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == pl &&
                         !strstr("(hidden)", password);
        b.hidden = a.hidden;
        b.check_hidden = a.check_hidden;

        read_all(&a, in.data, in.size, piece);
        read_all(&b, in.data, in.size, 0);
        FUZZ_CHECK(a.n_lines == b.n_lines && a.n_replies == b.n_replies && a.all.len == b.all.len &&
                           memcmp(a.all.data ?: "", b.all.data ?: "", a.all.len) == 0,
                   "pieces of %zu bytes change the answers", piece);
        FUZZ_CHECK(a.n_replies == final_lines(in.data, in.size), "%zu answers for %zu final lines", a.n_replies,
                   final_lines(in.data, in.size));

        StrBuf t = STRBUF_NULL;
        smtp_relay_text(a.hidden, &t, (const char *) in.data, in.size, SMTP_REPLY_MAX);
        check_shown(&a, t.data ?: "", SMTP_REPLY_MAX + 6, "relay text");
        FUZZ_CHECK(!strchr(t.data ?: "", '\n'), "relay text with a line break");
        strbuf_done(&t);

        strv_free(a.hidden);
        strbuf_done(&a.all);
        strbuf_done(&b.all);
        free(password);
        return 0;
}
