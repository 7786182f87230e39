/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "servers.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "tests.h"

#define LIFETIME "60"

char *scratch_new(void) {
        char *d = strdup("/tmp/tomslink-test-XXXXXX");
        ck_assert_ptr_nonnull(d);
        ck_assert_ptr_nonnull(mkdtemp(d));
        /* smtp-sink drops to nobody when run as root */
        ck_assert_int_eq(chmod(d, 0755), 0);
        return d;
}

void scratch_remove(char *dir) {
        char cmd[512];
        if (!dir)
                return;
        if (strneq(dir, "/tmp/tomslink-test-", 19)) {
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
                (void) system(cmd);
        }
        free(dir);
}

void pki_make(const char *dir) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "sh '%s/tests/lib/mkpki.sh' '%s'", SOURCE_ROOT, dir);
        ck_assert_msg(system(cmd) == 0, "mkpki.sh failed");
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static pid_t spawn(char **argv, const char *log) {
        pid_t parent = getpid();
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(1);
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, STDIN_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static void dump_log(const char *log) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "sed 's/^/# /' '%s' >&2", log);
        (void) system(cmd);
}

void aiosmtpd_start(TestServer *s, const char *dir, ...) {
        char script[512], port_file[512], log[512];
        char *argv[64];
        size_t n = 0;
        va_list ap;

        snprintf(script, sizeof script, "%s/tests/lib/smtp_sink.py", SOURCE_ROOT);
        snprintf(port_file, sizeof port_file, "%s/port", dir);
        snprintf(log, sizeof log, "%s/server.log", dir);
        argv[n++] = (char *) "/usr/bin/python3";
        argv[n++] = script;
        argv[n++] = (char *) "--outdir";
        argv[n++] = (char *) dir;
        argv[n++] = (char *) "--port-file";
        argv[n++] = port_file;
        argv[n++] = (char *) "--lifetime";
        argv[n++] = (char *) LIFETIME;
        va_start(ap, dir);
        for (const char *a; (a = va_arg(ap, const char *)) && n < ELEMENTSOF(argv) - 1;)
                argv[n++] = (char *) a;
        va_end(ap);
        argv[n] = NULL;

        (void) mkdir(dir, 0755);
        unlink(port_file);
        *s = TEST_SERVER_NULL;
        s->dir = strdup(dir);
        s->pid = spawn(argv, log);
        for (unsigned i = 0; i < 200; i++) {
                FILE *f = fopen(port_file, "re");
                if (f) {
                        int ok = fscanf(f, "%d", &s->port);
                        fclose(f);
                        if (ok == 1 && s->port > 0)
                                return;
                }
                if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
                        s->pid = -1;
                        dump_log(log);
                        ck_abort_msg("smtp_sink.py exited at start");
                }
                sleep_ms(25);
        }
        dump_log(log);
        ck_abort_msg("smtp_sink.py did not start");
}

/* Binds port 0 and gives the port back: free a moment ago. */
static int pick_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &a, &l), 0);
        close(fd);
        return ntohs(a.sin_port);
}

int closed_port(void) {
        return pick_port();
}

static bool port_accepts(int port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok = fd >= 0 && connect(fd, (struct sockaddr *) &a, sizeof a) == 0;
        if (fd >= 0)
                close(fd);
        return ok;
}

void smtp_sink_start(TestServer *s, const char *dir, ...) {
        char log[512], listen_on[64];
        char *argv[64];
        va_list ap;

        (void) mkdir(dir, 0755);
        snprintf(log, sizeof log, "%s/server.log", dir);
        *s = TEST_SERVER_NULL;
        s->dir = strdup(dir);
        /* smtp-sink has no port 0: pick a free port, and again if it was taken */
        for (unsigned attempt = 0; attempt < 5; attempt++) {
                size_t n = 0;
                s->port = pick_port();
                snprintf(listen_on, sizeof listen_on, "127.0.0.1:%d", s->port);
                /* timeout(1) bounds its life and passes SIGTERM on; it keeps
                 * the parent-death signal, which smtp-sink loses when it
                 * changes to user nobody */
                argv[n++] = (char *) "/usr/bin/timeout";
                argv[n++] = (char *) LIFETIME;
                argv[n++] = (char *) "/usr/sbin/smtp-sink";
                if (geteuid() == 0) {
                        argv[n++] = (char *) "-u";
                        argv[n++] = (char *) "nobody";
                }
                argv[n++] = (char *) "-h";
                argv[n++] = (char *) "sink.test";
                va_start(ap, dir);
                for (const char *a; (a = va_arg(ap, const char *)) && n < ELEMENTSOF(argv) - 3;)
                        argv[n++] = (char *) a;
                va_end(ap);
                argv[n++] = listen_on;
                argv[n++] = (char *) "16";
                argv[n] = NULL;

                s->pid = spawn(argv, log);
                for (unsigned i = 0; i < 200; i++) {
                        if (port_accepts(s->port))
                                return;
                        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
                                s->pid = -1;
                                break;
                        }
                        sleep_ms(10);
                }
                server_stop(s);
                s->dir = strdup(dir);
        }
        dump_log(log);
        ck_abort_msg("smtp-sink did not start");
}

void server_stop(TestServer *s) {
        if (s->pid > 0) {
                kill(s->pid, SIGTERM);
                (void) waitpid(s->pid, NULL, 0);
        }
        s->pid = -1;
        s->dir = mfree(s->dir);
}

size_t count_files(const char *dir, const char *suffix) {
        DIR *d = opendir(dir);
        size_t n = 0, k = strlen(suffix);
        struct dirent *de;
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l >= k && streq(de->d_name + l - k, suffix))
                        n++;
        }
        closedir(d);
        return n;
}
