/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ctl-parse.h"

#include <assert.h>
#include <stdio.h>

#include "protocol.h"
#include "strbuf.h"
#include "tz.h"
#include "validate.h"

typedef enum TokenType {
        T_END,          /* the end of the arguments */
        T_KEYWORD,      /* a command word: sets the action */
        T_LINK,         /* a link name */
        T_FILE,         /* a file name or "-" */
        T_FLAG,         /* an option without value */
        T_OPTION,       /* an option with a value: "--x V" or "--x=V" */
} TokenType;

typedef enum Field {
        F_NONE,
        F_LINK,
        F_FILE,
        F_ALL,
        F_USERNAME,
        F_GENERATED,
        F_FOR,
        F_REASON,
        F_SOCKET,
        F_JSON,
        F_NO_LEGEND,
        F_HELP,
        F_VERSION,
        _F_MAX,
} Field;

typedef struct Token {
        TokenType type;
        const char *keyword;
        int value;              /* T_KEYWORD: CtlAction; otherwise Field */
        const struct Token *next;
} Token;

/* Global options, accepted anywhere. */
static const Token t_global[] = {
        { T_OPTION, "--socket", F_SOCKET, NULL },
        { T_FLAG, "--json", F_JSON, NULL },
        { T_FLAG, "--no-legend", F_NO_LEGEND, NULL },
        { T_FLAG, "--help", F_HELP, NULL },
        { T_FLAG, "-h", F_HELP, NULL },
        { T_FLAG, "--version", F_VERSION, NULL },
        { T_END },
};

static const Token t_end[] = {
        { T_END },
};

static const Token t_link[] = {
        { T_LINK, NULL, F_LINK, t_end },
        { T_END },
};

static const Token t_probe[] = {
        { T_FLAG, "--all", F_ALL, t_probe },
        { T_LINK, NULL, F_LINK, t_probe },
        { T_END },
};

static const Token t_set[] = {
        { T_OPTION, "--username", F_USERNAME, t_set },
        { T_OPTION, "--generated", F_GENERATED, t_set },
        { T_LINK, NULL, F_LINK, t_set },
        { T_END },
};

static const Token t_rotate[] = {
        { T_OPTION, "--username", F_USERNAME, t_rotate },
        { T_LINK, NULL, F_LINK, t_rotate },
        { T_END },
};

static const Token t_import[] = {
        { T_FILE, NULL, F_FILE, t_end },
        { T_END },
};

static const Token t_credential[] = {
        { T_KEYWORD, "set", CTL_CREDENTIAL_SET, t_set },
        { T_KEYWORD, "rotate", CTL_CREDENTIAL_ROTATE, t_rotate },
        { T_KEYWORD, "history", CTL_CREDENTIAL_HISTORY, t_link },
        { T_KEYWORD, "import", CTL_CREDENTIAL_IMPORT, t_import },
        { T_KEYWORD, "export-template", CTL_CREDENTIAL_EXPORT_TEMPLATE, t_end },
        { T_END },   /* only to list the choices: "credential" alone is refused */
};

static const Token t_silence[] = {
        { T_OPTION, "--for", F_FOR, t_silence },
        { T_OPTION, "--reason", F_REASON, t_silence },
        { T_LINK, NULL, F_LINK, t_silence },
        { T_END },
};

static const Token t_main[] = {
        { T_KEYWORD, "status", CTL_STATUS, t_end },
        { T_KEYWORD, "show", CTL_SHOW, t_link },
        { T_KEYWORD, "probe", CTL_PROBE, t_probe },
        { T_KEYWORD, "credential", _CTL_ACTION_INVALID, t_credential },
        { T_KEYWORD, "silence", CTL_SILENCE, t_silence },
        { T_KEYWORD, "unsilence", CTL_UNSILENCE, t_link },
        { T_KEYWORD, "alerts", CTL_ALERTS, t_end },
        { T_KEYWORD, "test-email", CTL_TEST_EMAIL, t_end },
        { T_KEYWORD, "reload", CTL_RELOAD, t_end },
        { T_KEYWORD, "check", CTL_CHECK, t_end },
        { T_END },   /* no command: status */
};

/* What each action needs besides its table. */
static const struct {
        CtlAction action;
        const char *name;
        unsigned required;      /* bits of Field */
} actions[_CTL_ACTION_MAX] = {
        [CTL_HELP] = { CTL_HELP, "help", 0 },
        [CTL_VERSION] = { CTL_VERSION, "version", 0 },
        [CTL_STATUS] = { CTL_STATUS, "status", 0 },
        [CTL_SHOW] = { CTL_SHOW, "show", 1u << F_LINK },
        [CTL_PROBE] = { CTL_PROBE, "probe", 0 },
        [CTL_CREDENTIAL_SET] = { CTL_CREDENTIAL_SET, "credential set", 1u << F_LINK | 1u << F_USERNAME },
        [CTL_CREDENTIAL_ROTATE] = { CTL_CREDENTIAL_ROTATE, "credential rotate", 1u << F_LINK | 1u << F_USERNAME },
        [CTL_CREDENTIAL_HISTORY] = { CTL_CREDENTIAL_HISTORY, "credential history", 1u << F_LINK },
        [CTL_CREDENTIAL_IMPORT] = { CTL_CREDENTIAL_IMPORT, "credential import", 1u << F_FILE },
        [CTL_CREDENTIAL_EXPORT_TEMPLATE] = { CTL_CREDENTIAL_EXPORT_TEMPLATE, "credential export-template", 0 },
        [CTL_SILENCE] = { CTL_SILENCE, "silence", 1u << F_LINK | 1u << F_FOR },
        [CTL_UNSILENCE] = { CTL_UNSILENCE, "unsilence", 1u << F_LINK },
        [CTL_ALERTS] = { CTL_ALERTS, "alerts", 0 },
        [CTL_TEST_EMAIL] = { CTL_TEST_EMAIL, "test-email", 0 },
        [CTL_RELOAD] = { CTL_RELOAD, "reload", 0 },
        [CTL_CHECK] = { CTL_CHECK, "check", 0 },
};

static const char *const field_names[_F_MAX] = {
        [F_LINK] = "LINK",
        [F_FILE] = "FILE",
        [F_ALL] = "--all",
        [F_USERNAME] = "--username",
        [F_GENERATED] = "--generated",
        [F_FOR] = "--for",
        [F_REASON] = "--reason",
        [F_SOCKET] = "--socket",
        [F_JSON] = "--json",
        [F_NO_LEGEND] = "--no-legend",
        [F_HELP] = "--help",
        [F_VERSION] = "--version",
};

const char *ctl_action_to_string(CtlAction a) {
        return a >= 0 && a < _CTL_ACTION_MAX ? actions[a].name : NULL;
}

typedef struct Parser {
        CtlCommand cmd;
        unsigned seen;          /* bits of Field */
        const char *context;    /* the command so far, for messages; NULL before one */
        StrBuf error;
} Parser;

/* "show: " once a command was given, "" before */
#define PFX(p) ((p)->context ?: ""), ((p)->context ? ": " : "")

static int fail(Parser *p, const char *fmt, ...) _printf_(2, 3);
static int fail(Parser *p, const char *fmt, ...) {
        va_list ap;
        strbuf_done(&p->error);
        va_start(ap, fmt);
        strbuf_vprintf(&p->error, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* "expected one of: status, show, ..." from a table */
static void put_choices(StrBuf *b, const Token *table) {
        bool first = true;
        for (const Token *t = table; t->type != T_END; t++) {
                strbuf_puts(b, first ? "" : ", ");
                first = false;
                switch (t->type) {
                case T_LINK:
                        strbuf_puts(b, "LINK");
                        break;
                case T_FILE:
                        strbuf_puts(b, "FILE");
                        break;
                case T_OPTION:
                        strbuf_printf(b, "%s VALUE", t->keyword);
                        break;
                default:
                        strbuf_puts(b, t->keyword);
                }
        }
}

static const char *closest_keyword(const Token *table, const char *word) {
        const char *best = NULL;
        unsigned best_d = 3;
        for (const Token *t = table; t->type != T_END; t++) {
                if (t->type != T_KEYWORD && t->type != T_FLAG && t->type != T_OPTION)
                        continue;
                unsigned d = string_distance(word, t->keyword);
                if (d < best_d) {
                        best_d = d;
                        best = t->keyword;
                }
        }
        return best;
}

static int set_value(Parser *p, Field f, const char *value) {
        CtlCommand *c = &p->cmd;
        switch (f) {
        case F_LINK:
                if (!link_name_is_valid(value))
                        return fail(p, "\"%s\" is not a valid link name (lowercase letters, digits and '-', at most %d "
                                       "characters)",
                                    value, LINK_NAME_MAX);
                c->link = value;
                return 0;
        case F_FILE:
                if (isempty(value))
                        return fail(p, "%s%sthe file name is empty", PFX(p));
                c->file = value;
                return 0;
        case F_USERNAME:
                if (isempty(value) || strlen(value) > PROTOCOL_USERNAME_MAX || !string_is_safe(value))
                        return fail(p, "--username: expected a non-empty name without control characters, at most %u "
                                       "bytes",
                                    PROTOCOL_USERNAME_MAX);
                c->username = value;
                return 0;
        case F_GENERATED: {
                _cleanup_(tz_freep) Tz *utc = NULL;
                usec_t t;
                int r = tz_load_from_rule("UTC", "UTC0", &utc);
                if (r < 0)
                        return r;
                /* Only the form is checked here: the daemon reads a bare
                 * date in its own time zone. */
                r = strlen(value) > PROTOCOL_GENERATED_MAX ? -EINVAL : parse_timestamp(value, utc, &t);
                if (r == -EADDRNOTAVAIL)
                        return fail(p, "--generated: \"%s\" has a time but no UTC offset; add one (like -08:00 or Z) "
                                       "or give a date alone",
                                    value);
                if (r < 0)
                        return fail(p, "--generated: expected an ISO 8601 time with offset (2026-03-01T09:30:00-08:00) "
                                       "or a date (2026-03-01), got \"%s\"",
                                    value);
                c->generated = value;
                return 0;
        }
        case F_FOR: {
                usec_t d;
                int r = parse_duration(value, &d);
                if (r < 0)
                        return fail(p, "--for: expected a duration like 30m, 2h or 7d, got \"%s\"", value);
                if (d < USEC_PER_SEC)
                        return fail(p, "--for: a silence lasts at least 1s");
                if (d > PROTOCOL_SILENCE_MAX)
                        return fail(p, "--for: a silence lasts at most 366d");
                c->duration = d / USEC_PER_SEC * USEC_PER_SEC;
                return 0;
        }
        case F_REASON:
                if (strlen(value) > PROTOCOL_REASON_MAX || !string_is_safe(value))
                        return fail(p, "--reason: expected text without control characters, at most %u bytes",
                                    PROTOCOL_REASON_MAX);
                c->reason = value;
                return 0;
        case F_SOCKET:
                if (isempty(value))
                        return fail(p, "--socket: the path is empty");
                c->socket = value;
                return 0;
        case F_ALL:
                c->all = true;
                return 0;
        case F_JSON:
                c->json = true;
                return 0;
        case F_NO_LEGEND:
                c->no_legend = true;
                return 0;
        case F_HELP:
        case F_VERSION:
        default:
                return 0;
        }
}

/* Matches word against the table's options and flags. Returns the token, or
 * NULL. For "--x=V" *ret_inline points at V. */
static const Token *match_option(const Token *table, const char *word, const char **ret_inline) {
        *ret_inline = NULL;
        for (const Token *t = table; t->type != T_END; t++) {
                if (t->type == T_FLAG || t->type == T_OPTION) {
                        size_t n = strlen(t->keyword);
                        if (streq(word, t->keyword))
                                return t;
                        if (strneq(word, t->keyword, n) && word[n] == '=') {
                                *ret_inline = word + n + 1;
                                return t;
                        }
                }
        }
        return NULL;
}

/* Consumes an option or flag token at argv[*i]; returns 1 if consumed. */
static int take_option(Parser *p, const Token *t, const char *inline_value, int argc, char *const *argv, int *i) {
        Field f = t->value;
        const char *value = NULL;
        if (t->type == T_OPTION) {
                if (inline_value)
                        value = inline_value;
                else if (*i + 1 < argc)
                        value = argv[++*i];
                else
                        return fail(p, "%s needs a value", t->keyword);
        } else if (inline_value)
                return fail(p, "%s takes no value", t->keyword);
        if (p->seen & (1u << f) && f != F_JSON && f != F_NO_LEGEND && f != F_HELP && f != F_VERSION)
                return fail(p, "%s is given more than once", field_names[f]);
        p->seen |= 1u << f;
        int r = set_value(p, f, value);
        return r < 0 ? r : 1;
}

int ctl_parse(int argc, char *const *argv, CtlCommand *ret, char **ret_error) {
        Parser p = { .cmd = { .action = _CTL_ACTION_INVALID } };
        const Token *table = t_main;
        bool keyword_seen = false;
        int r = 0;

        assert(ret);
        assert(ret_error);

        for (int i = 1; i <= argc; i++) {
                const char *word = i < argc ? argv[i] : NULL;
                const char *inline_value;
                const Token *t;

                if (!word) {
                        /* the end: every table allows it but "credential" alone */
                        if (table == t_credential) {
                                StrBuf b = STRBUF_NULL;
                                put_choices(&b, table);
                                r = fail(&p, "credential: expected one of: %s", b.data ?: "");
                                strbuf_done(&b);
                        }
                        break;
                }

                /* "--" ends the options: what follows are operands */
                if (streq(word, "--") && i + 1 < argc) {
                        word = argv[++i];
                        goto operand;
                }

                t = match_option(t_global, word, &inline_value);
                if (t) {
                        r = take_option(&p, t, inline_value, argc, argv, &i);
                        if (r < 0)
                                break;
                        continue;
                }
                t = match_option(table, word, &inline_value);
                if (t) {
                        r = take_option(&p, t, inline_value, argc, argv, &i);
                        if (r < 0)
                                break;
                        table = t->next ?: table;
                        continue;
                }
                if (word[0] == '-' && word[1] != '\0') {
                        StrBuf b = STRBUF_NULL;
                        const char *hint = closest_keyword(table, word) ?: closest_keyword(t_global, word);
                        put_choices(&b, table);
                        if (hint)
                                r = fail(&p, "%s%sunknown option \"%s\"; did you mean \"%s\"?", PFX(&p), word, hint);
                        else if (b.len > 0 && table != t_main)
                                r = fail(&p, "%s%sunknown option \"%s\"; expected: %s", PFX(&p), word, b.data);
                        else
                                r = fail(&p, "%s%sunknown option \"%s\"", PFX(&p), word);
                        strbuf_done(&b);
                        break;
                }

        operand:
                for (t = table; t->type != T_END; t++) {
                        if (t->type == T_KEYWORD && streq(t->keyword, word))
                                break;
                        if ((t->type == T_LINK && !(p.seen & (1u << F_LINK))) ||
                            (t->type == T_FILE && !(p.seen & (1u << F_FILE))))
                                break;
                }
                if (t->type == T_END) {
                        StrBuf b = STRBUF_NULL;
                        const char *hint = closest_keyword(table, word);
                        put_choices(&b, table);
                        if (table == t_main || table == t_credential) {
                                if (hint)
                                        r = fail(&p, "%s%sunknown command \"%s\"; did you mean \"%s\"?", PFX(&p), word,
                                                 hint);
                                else
                                        r = fail(&p, "%s%sunknown command \"%s\"; expected one of: %s", PFX(&p), word,
                                                 b.data ?: "");
                        } else
                                r = fail(&p, "%s%sunexpected argument \"%s\"", PFX(&p), word);
                        strbuf_done(&b);
                        break;
                }
                if (t->type == T_KEYWORD) {
                        keyword_seen = true;
                        if (t->value >= 0) {
                                p.cmd.action = t->value;
                                p.context = actions[t->value].name;
                        } else
                                p.context = t->keyword;
                } else {
                        Field f = t->value;
                        p.seen |= 1u << f;
                        r = set_value(&p, f, word);
                        if (r < 0)
                                break;
                }
                table = t->next;
        }

        if (r >= 0 && (p.seen & (1u << F_HELP)))
                p.cmd.action = CTL_HELP;
        else if (r >= 0 && (p.seen & (1u << F_VERSION)))
                p.cmd.action = CTL_VERSION;
        else if (r >= 0) {
                if (!keyword_seen) {
                        p.cmd.action = CTL_STATUS;
                        p.context = actions[CTL_STATUS].name;
                }
                unsigned missing = actions[p.cmd.action].required & ~p.seen;
                if (p.cmd.action == CTL_PROBE && !!p.cmd.link == p.cmd.all)
                        r = fail(&p, "probe: give a LINK or --all%s", p.cmd.all ? ", not both" : "");
                else if (missing & (1u << F_LINK))
                        r = fail(&p, "%s: missing LINK", p.context);
                else if (missing & (1u << F_FILE))
                        r = fail(&p, "%s: missing FILE (or - for standard input)", p.context);
                else if (missing) {
                        for (int f = 0; f < _F_MAX; f++)
                                if (missing & (1u << f)) {
                                        r = fail(&p, "%s: %s is required", p.context, field_names[f]);
                                        break;
                                }
                }
        }

        if (r < 0) {
                if (strbuf_failed(&p.error))
                        return -ENOMEM;
                *ret_error = strbuf_steal(&p.error);
                return r;
        }
        strbuf_done(&p.error);
        *ret = p.cmd;
        return 0;
}
