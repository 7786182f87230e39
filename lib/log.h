/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* lib/ logs only at debug level, and only through a Logger its owner hands
 * in: no global state, and a test can capture everything a module says.
 * The caller of a failing function logs the failure, once. */

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

typedef struct Logger {
        void (*func)(void *userdata, int priority, const char *message);
        void *userdata;
} Logger;

void logger_printf(const Logger *l, int priority, const char *fmt, ...) _printf_(3, 4);
void logger_vprintf(const Logger *l, int priority, const char *fmt, va_list ap) _printf_(3, 0);

#define log_debug_to(logger, ...) logger_printf((logger), LOG_DEBUG, __VA_ARGS__)
