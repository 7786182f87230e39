/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* tomslinkd's own messages: to the journal when it runs under systemd and
 * a journal is there, to stderr otherwise. Each failure is logged once, at
 * the boundary where it is handled. */

#include <syslog.h>

#include "log.h"

void daemon_log_setup(bool debug);
bool daemon_log_debug_enabled(void);
/* Logs the message followed by ": " and the error's text, and returns
 * -abs(error), so that "return log_error_errno(r, ...)" works. */
int daemon_log_errno(int priority, int error, const char *fmt, ...) _printf_(3, 4);
void daemon_log(int priority, const char *fmt, ...) _printf_(2, 3);
/* A Logger for lib/ objects that forwards their debug messages here. */
const Logger *daemon_logger(void);

#define log_debug(...) daemon_log(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) daemon_log(LOG_INFO, __VA_ARGS__)
#define log_notice(...) daemon_log(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) daemon_log(LOG_WARNING, __VA_ARGS__)
#define log_error(...) daemon_log(LOG_ERR, __VA_ARGS__)
#define log_error_errno(e, ...) daemon_log_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) daemon_log_errno(LOG_WARNING, (e), __VA_ARGS__)
