/* SPDX-License-Identifier: GPL-2.0-or-later */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include "daemon-log.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-journal.h>

#include "journal.h"

static bool log_debug_on = false;
static bool log_to_journal = false;

void daemon_log_setup(bool debug) {
        log_debug_on = debug;
        /* Under systemd (it sets INVOCATION_ID, and JOURNAL_STREAM when
         * stderr is the journal) with a journal present: structured entries.
         * Run by hand: plain stderr, which is what a person at a terminal
         * wants to see. */
        log_to_journal = (getenv("INVOCATION_ID") || getenv("JOURNAL_STREAM")) && journal_available();
}

bool daemon_log_debug_enabled(void) {
        return log_debug_on;
}

static void log_write(int priority, int error, const char *msg) {
        if (priority == LOG_DEBUG && !log_debug_on)
                return;
        if (log_to_journal) {
                int r = error ? sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", priority, "ERRNO=%d", error,
                                                "SYSLOG_IDENTIFIER=tomslinkd", NULL)
                              : sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", priority,
                                                "SYSLOG_IDENTIFIER=tomslinkd", NULL);
                if (r >= 0)
                        return;
        }
        static const char *const names[] = { "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug" };
        fprintf(stderr, "tomslinkd: %s: %s\n", names[priority & 7], msg);
}

static void log_vwrite(int priority, int error, const char *fmt, va_list ap) _printf_(3, 0);
static void log_vwrite(int priority, int error, const char *fmt, va_list ap) {
        char buf[2048];
        vsnprintf(buf, sizeof buf, fmt, ap);
        log_write(priority, error, buf);
}

void daemon_log(int priority, const char *fmt, ...) {
        va_list ap;
        if (priority == LOG_DEBUG && !log_debug_on)
                return;
        va_start(ap, fmt);
        log_vwrite(priority, 0, fmt, ap);
        va_end(ap);
}

int daemon_log_errno(int priority, int error, const char *fmt, ...) {
        char buf[2048];
        va_list ap;
        error = error < 0 ? -error : error;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t) n < sizeof buf)
                snprintf(buf + n, sizeof buf - (size_t) n, ": %s", strerror(error));
        if (priority != LOG_DEBUG || log_debug_on)
                log_write(priority, error, buf);
        return -error;
}

static void logger_forward(void *userdata, int priority, const char *message) {
        log_write(priority, 0, message);
}

const Logger *daemon_logger(void) {
        static const Logger logger = { .func = logger_forward };
        return &logger;
}
