/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Real servers on loopback for the tests, started as child processes and
 * stopped by PID: the aiosmtpd sink (tests/lib/smtp_sink.py, Debian's
 * python3-aiosmtpd under /usr/bin/python3) and postfix's smtp-sink for
 * failure injection. Each dies with the test process (PR_SET_PDEATHSIG)
 * and has a bounded lifetime anyway. */

#include <sys/types.h>

#include "macro.h"

typedef struct TestServer {
        pid_t pid;
        int port;
        char *dir;              /* where it saves messages and its log */
} TestServer;

#define TEST_SERVER_NULL ((TestServer) { .pid = -1 })

/* A fresh scratch directory under /tmp, and its removal. */
char *scratch_new(void);
void scratch_remove(char *dir);

/* The test PKI (tests/lib/mkpki.sh) in dir. */
void pki_make(const char *dir);

/* tests/lib/smtp_sink.py --outdir DIR ... on a free port; the arguments
 * after dir end with NULL. */
void aiosmtpd_start(TestServer *s, const char *dir, ...);
/* /usr/sbin/smtp-sink with the options given (NULL-terminated) on a free
 * port, as user nobody when run as root. */
void smtp_sink_start(TestServer *s, const char *dir, ...);
void server_stop(TestServer *s);

/* A loopback port where nothing listens. */
int closed_port(void);
/* Files in dir whose names end in suffix. */
size_t count_files(const char *dir, const char *suffix);
