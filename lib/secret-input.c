/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "secret-input.h"

#include <assert.h>
#include <termios.h>

#include <openssl/crypto.h>

#include "validate.h"

char *secret_input_free(char *secret, size_t size) {
        if (secret) {
                OPENSSL_cleanse(secret, size);
                free(secret);
        }
        return NULL;
}

const char *secret_input_strerror(int error) {
        switch (error < 0 ? -error : error) {
        case ECANCELED:
                return "cancelled";
        case ENODATA:
                return "the secret key is empty";
        case E2BIG:
                return "the secret key is too long";
        case EBADMSG:
                return "the secret key must be one line of text without control characters";
        case EKEYREJECTED:
                return "the two entries differ";
        default:
                return strerror(error < 0 ? -error : error);
        }
}

static void put(int fd, const char *s) {
        size_t n = strlen(s);
        while (n > 0) {
                ssize_t k = write(fd, s, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                s += k;
                n -= (size_t) k;
        }
}

static int check_text(const char *s, size_t n) {
        if (n == 0)
                return -ENODATA;
        if (strlen(s) != n || !string_is_safe(s) || !utf8_is_valid(s, n))
                return -EBADMSG;
        return 0;
}

/* One entry from a terminal in non-canonical mode, echo off: Enter ends it,
 * Backspace removes a character, Ctrl-U the line, Ctrl-C cancels. */
static int read_entry(int fd, const struct termios *mode, size_t max, char *buf, size_t *ret_n) {
        size_t n = 0;
        for (;;) {
                unsigned char c;
                ssize_t k = read(fd, &c, 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -ECANCELED;
                if (c == '\n' || c == '\r')
                        break;
                if (c == mode->c_cc[VINTR] || c == 3)
                        return -ECANCELED;
                if (c == mode->c_cc[VEOF] || c == 4) {
                        if (n == 0)
                                return -ECANCELED;
                        continue;
                }
                if (c == mode->c_cc[VERASE] || c == 0x7f || c == 0x08) {
                        /* a whole UTF-8 character */
                        while (n > 0 && ((unsigned char) buf[n - 1] & 0xC0) == 0x80)
                                n--;
                        if (n > 0)
                                n--;
                        continue;
                }
                if (c == mode->c_cc[VKILL] || c == 0x15) {
                        n = 0;
                        continue;
                }
                if (n >= max)
                        return -E2BIG;
                buf[n++] = (char) c;
        }
        buf[n] = '\0';
        *ret_n = n;
        return 0;
}

static int read_terminal(int fd, int prompt_fd, const char *prompt, bool confirm, size_t max, char **ret,
                         size_t *ret_size) {
        struct termios old, raw;
        char *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        int r;

        if (tcgetattr(fd, &old) < 0)
                return negative_errno();
        raw = old;
        raw.c_lflag &= ~(tcflag_t) (ECHO | ICANON | ISIG | IEXTEN);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(fd, TCSANOW, &raw) < 0)
                return negative_errno();

        a = malloc(max + 1);
        b = confirm ? malloc(max + 1) : NULL;
        if (!a || (confirm && !b)) {
                r = -ENOMEM;
                goto finish;
        }
        put(prompt_fd, prompt);
        r = read_entry(fd, &old, max, a, &na);
        put(prompt_fd, "\n");
        if (r < 0)
                goto finish;
        r = check_text(a, na);
        if (r < 0)
                goto finish;
        if (confirm) {
                put(prompt_fd, "Repeat to confirm: ");
                r = read_entry(fd, &old, max, b, &nb);
                put(prompt_fd, "\n");
                if (r < 0)
                        goto finish;
                if (na != nb || CRYPTO_memcmp(a, b, na) != 0) {
                        r = -EKEYREJECTED;
                        goto finish;
                }
        }
        *ret = a;
        *ret_size = na;
        a = NULL;
        r = 0;

finish:
        (void) tcsetattr(fd, TCSANOW, &old);
        secret_input_free(a, max + 1);
        secret_input_free(b, max + 1);
        return r;
}

static int read_pipe(int fd, size_t max, char **ret, size_t *ret_size) {
        /* one line, and nothing after it but its line ending */
        size_t cap = max + 3, n = 0;
        char *buf = malloc(cap + 1);
        int r;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (n >= cap) {
                        r = -E2BIG;
                        goto fail;
                }
                ssize_t k = read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        goto fail;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n > 0 && buf[n - 1] == '\n')
                n--;
        if (n > 0 && buf[n - 1] == '\r')
                n--;
        buf[n] = '\0';
        if (memchr(buf, '\n', n)) {
                r = -EBADMSG;
                goto fail;
        }
        if (n > max) {
                r = -E2BIG;
                goto fail;
        }
        r = check_text(buf, n);
        if (r < 0)
                goto fail;
        *ret = buf;
        *ret_size = n;
        return 0;

fail:
        secret_input_free(buf, cap + 1);
        return r;
}

int secret_input_read(int fd, int prompt_fd, const char *prompt, bool confirm, size_t max, char **ret,
                      size_t *ret_size) {
        assert(fd >= 0);
        assert(ret);
        assert(ret_size);
        if (isatty(fd))
                return read_terminal(fd, prompt_fd, prompt ?: "Secret key: ", confirm, max, ret, ret_size);
        return read_pipe(fd, max, ret, ret_size);
}
