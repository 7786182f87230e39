/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <termios.h>

#include "secret-input.h"
#include "tests.h"

/* Feeds data through a pipe and reads the secret from it. */
static int from_pipe(const char *data, size_t size, char **ret, size_t *ret_size) {
        int p[2];
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ck_assert_int_eq(write(p[1], data, size), (ssize_t) size);
        close(p[1]);
        int r = secret_input_read(p[0], -1, NULL, true, 64, ret, ret_size);
        close(p[0]);
        return r;
}

START_TEST(test_pipe) {
        char *s;
        size_t n;
        ck_assert_int_eq(from_pipe("Abc123\n", 7, &s, &n), 0);
        ck_assert_str_eq(s, "Abc123");
        ck_assert_uint_eq(n, 6);
        s = secret_input_free(s, n);
        ck_assert_ptr_null(s);
        ck_assert_int_eq(from_pipe("crlf\r\n", 6, &s, &n), 0);
        ck_assert_str_eq(s, "crlf");
        secret_input_free(s, n);
        ck_assert_int_eq(from_pipe("no newline", 10, &s, &n), 0);
        ck_assert_str_eq(s, "no newline");
        secret_input_free(s, n);
        ck_assert_int_eq(from_pipe("sp ace s", 8, &s, &n), 0);
        secret_input_free(s, n);
        ck_assert_int_eq(from_pipe("ünïcode\n", 10, &s, &n), 0);
        secret_input_free(s, n);

        ck_assert_int_eq(from_pipe("", 0, &s, &n), -ENODATA);
        ck_assert_int_eq(from_pipe("\n", 1, &s, &n), -ENODATA);
        ck_assert_int_eq(from_pipe("two\nlines\n", 10, &s, &n), -EBADMSG);
        ck_assert_int_eq(from_pipe("tab\there", 8, &s, &n), -EBADMSG);
        ck_assert_int_eq(from_pipe("nul\0x", 5, &s, &n), -EBADMSG);
        ck_assert_int_eq(from_pipe("\xff\xfe", 2, &s, &n), -EBADMSG);
        char big[200];
        memset(big, 'k', sizeof big);
        ck_assert_int_eq(from_pipe(big, 65, &s, &n), -E2BIG);
        ck_assert_int_eq(from_pipe(big, 64, &s, &n), 0);
        secret_input_free(s, n);
        ck_assert_int_eq(from_pipe(big, sizeof big, &s, &n), -E2BIG);
        ck_assert_str_eq(secret_input_strerror(-EKEYREJECTED), "the two entries differ");
}
END_TEST

typedef struct Typist {
        int master, slave;
        const char *typed;
} Typist;

/* Types like a person: only once the prompt has turned echo off. */
static void *typist(void *p) {
        Typist *t = p;
        for (int i = 0; i < 5000; i++) {
                struct termios tio;
                if (tcgetattr(t->slave, &tio) == 0 && !(tio.c_lflag & ECHO))
                        break;
                usleep(1000);
        }
        ck_assert_int_eq(write(t->master, t->typed, strlen(t->typed)), (ssize_t) strlen(t->typed));
        return NULL;
}

/* Types into a pseudo-terminal and reads the secret from its other side. */
static int from_tty(const char *typed, bool confirm, char **ret, size_t *ret_size, bool *ret_echo_restored) {
        int master, slave;
        pthread_t thread;
        if (openpty(&master, &slave, NULL, NULL, NULL) < 0)
                return 1;   /* no pseudo-terminals here */
        Typist t = { master, slave, typed };
        ck_assert_int_eq(pthread_create(&thread, NULL, typist, &t), 0);
        int prompt[2];
        ck_assert_int_eq(pipe2(prompt, O_CLOEXEC | O_NONBLOCK), 0);
        int r = secret_input_read(slave, prompt[1], "Secret key for district: ", confirm, 64, ret, ret_size);
        ck_assert_int_eq(pthread_join(thread, NULL), 0);
        struct termios tio;
        ck_assert_int_eq(tcgetattr(slave, &tio), 0);
        *ret_echo_restored = (tio.c_lflag & ECHO) && (tio.c_lflag & ICANON);
        char shown[256] = "";
        ssize_t k = read(prompt[0], shown, sizeof shown - 1);
        ck_assert_int_gt(k, 0);
        shown[k] = '\0';
        ck_assert_ptr_nonnull(strstr(shown, "Secret key for district: "));
        ck_assert_ptr_null(strstr(shown, "Tops3cret"));   /* the prompts never show it */
        close(prompt[0]);
        close(prompt[1]);
        /* nothing echoed on the terminal either */
        char echoed[256];
        ck_assert_int_eq(fcntl(master, F_SETFL, O_NONBLOCK), 0);
        k = read(master, echoed, sizeof echoed - 1);
        if (k > 0) {
                echoed[k] = '\0';
                ck_assert_ptr_null(strstr(echoed, "Tops3cret"));
        }
        close(master);
        close(slave);
        return r;
}

START_TEST(test_terminal) {
        char *s;
        size_t n;
        bool restored;
        int r = from_tty("Tops3cret\rTops3cret\r", true, &s, &n, &restored);
        if (r == 1) {
                fprintf(stderr, "# skipped: no pseudo-terminal\n");
                return;
        }
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(s, "Tops3cret");
        ck_assert(restored);
        secret_input_free(s, n);

        /* backspace and line kill edit the entry */
        ck_assert_int_eq(from_tty("Topx\x7fs3cret\nxx\x15Tops3cret\n", true, &s, &n, &restored), 0);
        ck_assert_str_eq(s, "Tops3cret");
        secret_input_free(s, n);

        ck_assert_int_eq(from_tty("Tops3cret\rTops3creT\r", true, &s, &n, &restored), -EKEYREJECTED);
        ck_assert(restored);
        ck_assert_int_eq(from_tty("Tops3cret\r", false, &s, &n, &restored), 0);
        secret_input_free(s, n);
        ck_assert_int_eq(from_tty("Tops3\x03", true, &s, &n, &restored), -ECANCELED);
        ck_assert(restored);
        ck_assert_int_eq(from_tty("\x04", true, &s, &n, &restored), -ECANCELED);
        ck_assert_int_eq(from_tty("\r", true, &s, &n, &restored), -ENODATA);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("secret-input");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_pipe, test_terminal);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
