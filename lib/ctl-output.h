/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* tomslinkctl's output: a table of output functions (after OpenBSD
 * ntpctl/bgpctl), one per command, that render a reply's data as text
 * (aligned tables, colour only when asked) or as JSON (the reply data
 * itself, pretty-printed: the stable format documented in
 * docs/protocol.md). Everything renders into a StrBuf, so tests check the
 * exact text. */

#include "ctl-parse.h"
#include "protocol.h"
#include "strbuf.h"

typedef struct CtlOutputOptions {
        bool color;     /* ANSI colours */
        bool utf8;      /* block characters for the life bar, else ASCII */
        bool legend;    /* column headers and the summary line */
} CtlOutputOptions;

/* Renders data as text. Returns 0, or -EBADMSG with failure filled when the
 * reply is malformed. */
typedef int (*CtlTextFunc)(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure);
/* The exit status a reply implies: 0, or 1 when e.g. a probe was not ok. */
typedef int (*CtlOutcomeFunc)(json_object *data);

typedef struct CtlOutput {
        CtlAction action;
        CtlTextFunc text;
        CtlOutcomeFunc outcome;         /* NULL: always 0 */
} CtlOutput;

/* The output functions of an action that talks to the daemon; NULL for the
 * others (help, version, export-template). */
const CtlOutput *ctl_output_for(CtlAction a);

/* The data as pretty-printed JSON and a newline. */
int ctl_render_json(json_object *data, StrBuf *out);

/* Whether to colour what goes to fd: a terminal, $NO_COLOR unset or empty,
 * and $TERM not "dumb". */
bool ctl_use_color(int fd, const char *no_color, const char *term);

#define CTL_BAR_CELLS 10
/* The remaining life of a credential as CTL_BAR_CELLS cells: days_left of a
 * lifetime (365 days when 0). Nothing for PROTOCOL_DAYS_LEFT_NULL. */
void ctl_render_bar(StrBuf *out, int64_t days_left, usec_t lifetime, const CtlOutputOptions *o);

/* Monitoring plugin states (Nagios, Icinga). */
enum {
        CTL_CHECK_OK = 0,
        CTL_CHECK_WARNING = 1,
        CTL_CHECK_CRITICAL = 2,
        CTL_CHECK_UNKNOWN = 3,
};
/* Per-link performance data is limited to the links expiring soonest. */
#define CTL_CHECK_PERFDATA_LINKS 100

/* "TOMSLINK CRITICAL - ... | perfdata" and one line per link with a
 * problem, from status data. Returns the plugin state. */
int ctl_check_render(json_object *data, StrBuf *out);
/* "TOMSLINK UNKNOWN - message". Returns CTL_CHECK_UNKNOWN. */
int ctl_check_unknown(StrBuf *out, const char *fmt, ...) _printf_(2, 3);

/* Text without terminal control characters (C0, DEL, C1 become '?'). */
char *ctl_sanitize(const char *s);
/* Columns a UTF-8 string takes (one per character). */
size_t ctl_text_width(const char *s);
