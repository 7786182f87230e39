/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* tomslinkctl's command line, parsed from a table of tokens (after
 * OpenBSD bgpctl's parser.c): each table lists the words that may come
 * next, and each word says which table follows. Options of a command may
 * come in any order; global options (--socket, --json, --no-legend,
 * --help, --version) anywhere. */

#include "time-util.h"

typedef enum CtlAction {
        CTL_HELP,
        CTL_VERSION,
        CTL_STATUS,
        CTL_SHOW,
        CTL_PROBE,
        CTL_CREDENTIAL_SET,
        CTL_CREDENTIAL_ROTATE,
        CTL_CREDENTIAL_HISTORY,
        CTL_CREDENTIAL_IMPORT,
        CTL_CREDENTIAL_EXPORT_TEMPLATE,
        CTL_SILENCE,
        CTL_UNSILENCE,
        CTL_ALERTS,
        CTL_TEST_EMAIL,
        CTL_RELOAD,
        CTL_CHECK,
        _CTL_ACTION_MAX,
        _CTL_ACTION_INVALID = -EINVAL,
} CtlAction;

/* What the command line asks for. The strings point into argv. */
typedef struct CtlCommand {
        CtlAction action;
        const char *socket;     /* --socket PATH, or NULL */
        bool json;              /* --json */
        bool no_legend;         /* --no-legend */
        const char *link;
        bool all;               /* probe --all */
        const char *username;   /* --username */
        const char *generated;  /* --generated, as written */
        usec_t duration;        /* silence --for, whole seconds */
        const char *reason;     /* silence --reason */
        const char *file;       /* credential import FILE, "-" for standard input */
} CtlCommand;

/* Parses argv (argv[0] is the program). Returns 0 with the command, or
 * -EINVAL with a one-line message for the user in *ret_error (a usage
 * error: exit status 2). */
int ctl_parse(int argc, char *const *argv, CtlCommand *ret, char **ret_error);

/* "credential set", for messages. */
const char *ctl_action_to_string(CtlAction a);
