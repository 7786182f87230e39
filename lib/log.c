/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"

#include <stdio.h>

void logger_vprintf(const Logger *l, int priority, const char *fmt, va_list ap) {
        char buf[1024];
        if (!l || !l->func)
                return;
        vsnprintf(buf, sizeof buf, fmt, ap);
        l->func(l->userdata, priority, buf);
}

void logger_printf(const Logger *l, int priority, const char *fmt, ...) {
        va_list ap;
        if (!l || !l->func)
                return;
        va_start(ap, fmt);
        logger_vprintf(l, priority, fmt, ap);
        va_end(ap);
}
