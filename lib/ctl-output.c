/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ctl-output.h"

#include <assert.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>

#include "strv.h"
#include "tz.h"
#include "validate.h"

#define ANSI_RED "\033[31m"
#define ANSI_GREEN "\033[32m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_GREY "\033[90m"
#define ANSI_BOLD "\033[1m"
#define ANSI_RESET "\033[0m"

#define TABLE_COLUMNS_MAX 8

/* ---- text helpers ---------------------------------------------------------------- */

char *ctl_sanitize(const char *s) {
        size_t n = strlen(s);
        char *r = malloc(n + 1);
        if (!r)
                return NULL;
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c == 0x7f)
                        r[j++] = '?';
                else if (c == 0xc2 && i + 1 < n && (unsigned char) s[i + 1] >= 0x80 && (unsigned char) s[i + 1] <= 0x9f) {
                        r[j++] = '?';   /* a C1 control character, U+0080..U+009F */
                        i++;
                } else
                        r[j++] = (char) c;
        }
        r[j] = '\0';
        return r;
}

size_t ctl_text_width(const char *s) {
        size_t w = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p & 0xC0) != 0x80)
                        w++;
        return w;
}

static void put_sanitized(StrBuf *out, const char *s) {
        _cleanup_free_ char *c = ctl_sanitize(s ?: "");
        if (!c) {
                out->oom = true;
                return;
        }
        strbuf_puts(out, c);
}

static void put_colored(StrBuf *out, const CtlOutputOptions *o, const char *color, const char *s) {
        if (o->color && color)
                strbuf_puts(out, color);
        put_sanitized(out, s);
        if (o->color && color)
                strbuf_puts(out, ANSI_RESET);
}

static const char *state_color(const char *state) {
        if (!state)
                return NULL;
        if (streq(state, "ok"))
                return ANSI_GREEN;
        if (streq(state, "expiring") || streq(state, "cert-expiring") || streq(state, "unconfigured"))
                return ANSI_YELLOW;
        if (streq(state, "expired") || streq(state, "auth-rejected") || streq(state, "down"))
                return ANSI_RED;
        return ANSI_GREY;
}

static const char *probe_color(ProbeClass c) {
        return c == PROBE_OK ? ANSI_GREEN : ANSI_RED;
}

/* ---- the data's time and zone ------------------------------------------------------- */

typedef struct Context {
        const CtlOutputOptions *o;
        Tz *tz;
        usec_t now;     /* the daemon's "time", or 0 */
} Context;

static int context_init(Context *ctx, json_object *data, const CtlOutputOptions *o, ProtocolFailure *failure) {
        const char *zone = NULL;
        int r;

        *ctx = (Context) { .o = o };
        r = protocol_get_string(data, "timezone", false, &zone, failure);
        if (r < 0)
                return r;
        r = protocol_get_time(data, "time", false, &ctx->now, failure);
        if (r < 0)
                return r;
        /* the daemon's zone, so that dates agree with its day counts */
        if (!zone || tz_load(NULL, zone, &ctx->tz) < 0) {
                r = tz_load_from_rule("UTC", "UTC0", &ctx->tz);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void context_done(Context *ctx) {
        ctx->tz = tz_free(ctx->tz);
}

/* "2026-07-01 03:00" in the daemon's zone; "-" for 0 */
static const char *fmt_time(const Context *ctx, usec_t t, char *buf, size_t n) {
        if (t == 0 || t == USEC_INFINITY) {
                snprintf(buf, n, "-");
                return buf;
        }
        TzTime lt;
        tz_localtime(ctx->tz, (int64_t) (t / USEC_PER_SEC), &lt);
        snprintf(buf, n, "%04" PRIi64 "-%02u-%02u %02u:%02u", lt.year, lt.month, lt.day, lt.hour, lt.minute);
        return buf;
}

static const char *fmt_date(const Context *ctx, usec_t t, char *buf, size_t n) {
        if (t == 0 || t == USEC_INFINITY) {
                snprintf(buf, n, "-");
                return buf;
        }
        return format_date(buf, n, ctx->tz, t);
}

/* "12m ago", "in 3h"; "" when the daemon's time is unknown */
static const char *fmt_relative(const Context *ctx, usec_t t, char *buf, size_t n) {
        if (ctx->now == 0 || t == 0) {
                snprintf(buf, n, "%s", "");
                return buf;
        }
        bool past = t <= ctx->now;
        usec_t d = past ? ctx->now - t : t - ctx->now;
        char amount[32];
        if (d < USEC_PER_MINUTE)
                snprintf(amount, sizeof amount, "%" PRIu64 "s", (uint64_t) (d / USEC_PER_SEC));
        else if (d < USEC_PER_HOUR)
                snprintf(amount, sizeof amount, "%" PRIu64 "m", (uint64_t) (d / USEC_PER_MINUTE));
        else if (d < 2 * USEC_PER_DAY)
                snprintf(amount, sizeof amount, "%" PRIu64 "h", (uint64_t) (d / USEC_PER_HOUR));
        else
                snprintf(amount, sizeof amount, "%" PRIu64 "d", (uint64_t) (d / USEC_PER_DAY));
        snprintf(buf, n, past ? "%s ago" : "in %s", amount);
        return buf;
}

static const char *fmt_ms(usec_t d, char *buf, size_t n) {
        if (d == USEC_INFINITY)
                snprintf(buf, n, "-");
        else if (d < 10 * USEC_PER_MSEC)
                snprintf(buf, n, "%.1f ms", (double) d / USEC_PER_MSEC);
        else
                snprintf(buf, n, "%" PRIu64 " ms", (d + USEC_PER_MSEC / 2) / USEC_PER_MSEC);
        return buf;
}

static const char *fmt_user(uid_t uid, char *buf, size_t n) {
        struct passwd pw, *res = NULL;
        char tmp[1024];
        if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res)
                snprintf(buf, n, "%s", res->pw_name);
        else
                snprintf(buf, n, "uid %u", (unsigned) uid);
        return buf;
}

/* ---- tables ------------------------------------------------------------------------- */

typedef struct Cell {
        char *text;             /* sanitised */
        const char *color;
} Cell;

typedef struct Table {
        size_t n_columns;
        const char *headers[TABLE_COLUMNS_MAX];
        bool right[TABLE_COLUMNS_MAX];
        Cell *cells;
        size_t n_cells, n_allocated;
        bool oom;
} Table;

/* Headers ending in '>' are right-aligned (numbers). */
static void table_init(Table *t, size_t n, const char *const *headers) {
        assert(n <= TABLE_COLUMNS_MAX);
        *t = (Table) { .n_columns = n };
        for (size_t i = 0; i < n; i++)
                t->headers[i] = headers[i];
}

static void table_done(Table *t) {
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i].text);
        free(t->cells);
        *t = (Table) {};
}

static void table_add(Table *t, const char *color, const char *fmt, ...) _printf_(3, 4);
static void table_add(Table *t, const char *color, const char *fmt, ...) {
        StrBuf b = STRBUF_NULL;
        va_list ap;
        va_start(ap, fmt);
        strbuf_vprintf(&b, fmt, ap);
        va_end(ap);
        _cleanup_free_ char *raw = strbuf_steal(&b);
        char *text = raw ? ctl_sanitize(raw) : NULL;
        if (!text) {
                t->oom = true;
                return;
        }
        if (t->n_cells >= t->n_allocated) {
                size_t n = MAX(t->n_allocated * 2, (size_t) 64);
                Cell *c = reallocarray(t->cells, n, sizeof(Cell));
                if (!c) {
                        free(text);
                        t->oom = true;
                        return;
                }
                t->cells = c;
                t->n_allocated = n;
        }
        t->cells[t->n_cells++] = (Cell) { .text = text, .color = color };
}

static void put_padding(StrBuf *out, size_t n) {
        for (size_t i = 0; i < n; i++)
                strbuf_putc(out, ' ');
}

static void table_render(Table *t, const CtlOutputOptions *o, StrBuf *out) {
        size_t width[TABLE_COLUMNS_MAX] = {};
        bool right[TABLE_COLUMNS_MAX] = {};
        char header[TABLE_COLUMNS_MAX][64];

        if (t->oom) {
                out->oom = true;
                return;
        }
        for (size_t c = 0; c < t->n_columns; c++) {
                snprintf(header[c], sizeof header[c], "%s", t->headers[c]);
                size_t l = strlen(header[c]);
                if (l > 0 && header[c][l - 1] == '>') {
                        right[c] = true;
                        header[c][l - 1] = '\0';
                }
                if (o->legend)
                        width[c] = ctl_text_width(header[c]);
        }
        for (size_t i = 0; i < t->n_cells; i++)
                width[i % t->n_columns] = MAX(width[i % t->n_columns], ctl_text_width(t->cells[i].text));

        /* the last column is not padded: no trailing spaces */
        if (o->legend) {
                if (o->color)
                        strbuf_puts(out, ANSI_BOLD);
                for (size_t c = 0; c < t->n_columns; c++) {
                        size_t w = ctl_text_width(header[c]);
                        bool last = c == t->n_columns - 1;
                        if (right[c])
                                put_padding(out, width[c] - w);
                        strbuf_puts(out, header[c]);
                        if (!last)
                                put_padding(out, (right[c] ? 0 : width[c] - w) + 2);
                }
                if (o->color)
                        strbuf_puts(out, ANSI_RESET);
                strbuf_putc(out, '\n');
        }
        for (size_t i = 0; i < t->n_cells; i += t->n_columns) {
                /* the row, trimmed of empty trailing cells */
                size_t last = t->n_columns;
                while (last > 1 && isempty(t->cells[i + last - 1].text))
                        last--;
                for (size_t c = 0; c < last; c++) {
                        const Cell *cell = &t->cells[i + c];
                        size_t w = ctl_text_width(cell->text);
                        if (right[c])
                                put_padding(out, width[c] - w);
                        if (o->color && cell->color)
                                strbuf_puts(out, cell->color);
                        strbuf_puts(out, cell->text);
                        if (o->color && cell->color)
                                strbuf_puts(out, ANSI_RESET);
                        if (c + 1 < last)
                                put_padding(out, (right[c] ? 0 : width[c] - w) + 2);
                }
                strbuf_putc(out, '\n');
        }
}

/* ---- the bar -------------------------------------------------------------------------- */

void ctl_render_bar(StrBuf *out, int64_t days_left, usec_t lifetime, const CtlOutputOptions *o) {
        static const char *const eighths[8] = { "", "▏", "▎", "▍", "▌", "▋", "▊", "▉" };
        if (days_left == PROTOCOL_DAYS_LEFT_NULL)
                return;
        int64_t life = lifetime >= USEC_PER_DAY ? (int64_t) (lifetime / USEC_PER_DAY) : 365;
        int64_t d = CLAMP(days_left, (int64_t) 0, life);

        if (o->utf8) {
                int64_t units = (d * CTL_BAR_CELLS * 8 + life / 2) / life;
                if (units == 0 && d > 0)
                        units = 1;   /* still alive: never an empty bar */
                int64_t full = units / 8, rest = units % 8, cells = 0;
                for (; cells < full; cells++)
                        strbuf_puts(out, "█");
                if (rest > 0) {
                        strbuf_puts(out, eighths[rest]);
                        cells++;
                }
                for (; cells < CTL_BAR_CELLS; cells++)
                        strbuf_puts(out, "░");
        } else {
                int64_t cells = (d * CTL_BAR_CELLS + life / 2) / life;
                if (cells == 0 && d > 0)
                        cells = 1;
                for (int64_t i = 0; i < CTL_BAR_CELLS; i++)
                        strbuf_putc(out, i < cells ? '#' : '.');
        }
}

/* ---- decoding helpers -------------------------------------------------------------- */

static int malformed(ProtocolFailure *f, const char *what) {
        char saved[PROTOCOL_FAILURE_MESSAGE_MAX];
        snprintf(saved, sizeof saved, "%s", f->code >= 0 ? f->message : "");
        return protocol_fail(f, PROTOCOL_ERROR_BAD_REQUEST, -EBADMSG, "malformed reply from tomslinkd: %s%s%s", what,
                             saved[0] == '\0' ? "" : ": ", saved);
}

/* The rows of one table of the reply: decodes one element of the array
 * and adds its row, or returns < 0 with the failure filled in. */
typedef int (*TableRowFunc)(const Context *ctx, Table *t, json_object *element, ProtocolFailure *failure);

/* A table built from an array of the reply (NULL when the reply has
 * none), written after title (may be NULL) when the array has elements;
 * an element that does not decode is a malformed reply, named by what. */
static int table_section(const Context *ctx, json_object *array, const char *title, size_t n_headers,
                         const char *const *headers, TableRowFunc add_row, const char *what, StrBuf *out,
                         ProtocolFailure *failure) {
        size_t n = array ? json_object_array_length(array) : 0;
        Table t;

        if (n == 0)
                return 0;
        table_init(&t, n_headers, headers);
        for (size_t i = 0; i < n; i++)
                if (add_row(ctx, &t, json_object_array_get_idx(array, i), failure) < 0) {
                        table_done(&t);
                        return malformed(failure, what);
                }
        if (title)
                strbuf_puts(out, title);
        table_render(&t, ctx->o, out);
        table_done(&t);
        return 0;
}

static const char *probe_summary(const ProbeResult *p, char *buf, size_t n) {
        char ms[32];
        if (p->http_status > 0)
                snprintf(buf, n, "%s, HTTP %ld, %s", probe_class_to_string(p->klass), p->http_status,
                         fmt_ms(p->total, ms, sizeof ms));
        else
                snprintf(buf, n, "%s, %s", probe_class_to_string(p->klass), fmt_ms(p->total, ms, sizeof ms));
        return buf;
}

static const char *days_text(int64_t days, char *buf, size_t n) {
        if (days == PROTOCOL_DAYS_LEFT_NULL)
                snprintf(buf, n, "-");
        else
                snprintf(buf, n, "%" PRIi64, days);
        return buf;
}

/* ---- status ---------------------------------------------------------------------- */

static int text_status(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        static const char *const headers[] = { "LINK", "STATE", "EXPIRES", "DAYS LEFT>", "LIFE", "LAST PROBE" };
        Context ctx;
        Table t;
        json_object *links;
        int r;

        r = context_init(&ctx, data, o, failure);
        if (r < 0)
                return malformed(failure, "status");
        r = protocol_get_array(data, "links", true, &links, failure);
        if (r < 0) {
                context_done(&ctx);
                return malformed(failure, "status");
        }

        table_init(&t, ELEMENTSOF(headers), headers);
        size_t n = json_object_array_length(links);
        char **states = NULL;
        for (size_t i = 0; i < n; i++) {
                ProtocolLinkStatus s;
                char a[64], b[64], c[128];
                r = protocol_link_status_from_json(json_object_array_get_idx(links, i), &s, failure);
                if (r < 0) {
                        table_done(&t);
                        strv_free(states);
                        context_done(&ctx);
                        return malformed(failure, "status");
                }
                (void) strv_extend(&states, s.state);
                table_add(&t, NULL, "%s", s.name);
                if (strv_length(s.problems) > 1)
                        table_add(&t, state_color(s.state), "%s (+%zu)", s.state, strv_length(s.problems) - 1);
                else
                        table_add(&t, state_color(s.state), "%s", s.state);
                table_add(&t, NULL, "%s", fmt_date(&ctx, s.expires, a, sizeof a));
                table_add(&t, NULL, "%s", days_text(s.days_left, b, sizeof b));
                StrBuf bar = STRBUF_NULL;
                ctl_render_bar(&bar, s.days_left, s.lifetime, o);
                const char *bar_color = s.days_left == PROTOCOL_DAYS_LEFT_NULL ? NULL
                                        : s.days_left <= 0                    ? ANSI_RED
                                                                              : state_color(s.state);
                table_add(&t, bar_color, "%s", bar.data ?: "");
                strbuf_done(&bar);
                if (s.has_last_probe) {
                        char rel[32];
                        fmt_relative(&ctx, s.last_probe.time, rel, sizeof rel);
                        table_add(&t, probe_color(s.last_probe.klass), "%s%s%s%s",
                                  probe_summary(&s.last_probe, c, sizeof c), rel[0] == '\0' ? "" : " (", rel,
                                  rel[0] == '\0' ? "" : ")");
                } else
                        table_add(&t, NULL, "-");
                protocol_link_status_done(&s);
        }
        table_render(&t, o, out);
        table_done(&t);

        if (o->legend) {
                /* "3 links: 1 ok, 1 expiring, 1 unconfigured." in a fixed order */
                static const char *const order[] = { "expired",   "auth-rejected", "down",         "expiring",
                                                     "cert-expiring", "unconfigured", "maintenance", "silenced",
                                                     "unknown",   "ok" };
                strbuf_printf(out, "\n%zu link%s", n, n == 1 ? "" : "s");
                bool first = true;
                for (size_t k = 0; k < ELEMENTSOF(order); k++) {
                        size_t count = 0;
                        STRV_FOREACH(st, states)
                                count += streq(*st, order[k]);
                        if (count == 0)
                                continue;
                        strbuf_printf(out, "%s%zu %s", first ? ": " : ", ", count, order[k]);
                        first = false;
                }
                size_t other = 0;
                STRV_FOREACH(st, states) {
                        bool known = false;
                        for (size_t k = 0; k < ELEMENTSOF(order); k++)
                                known = known || streq(*st, order[k]);
                        other += !known;
                }
                if (other > 0)
                        strbuf_printf(out, "%s%zu other", first ? ": " : ", ", other);
                strbuf_puts(out, ".\n");
        }
        strv_free(states);
        context_done(&ctx);
        return 0;
}

/* ---- show ----------------------------------------------------------------------- */

static void put_field(StrBuf *out, const char *label, const char *fmt, ...) _printf_(3, 4);
static void put_field(StrBuf *out, const char *label, const char *fmt, ...) {
        StrBuf b = STRBUF_NULL;
        va_list ap;
        va_start(ap, fmt);
        strbuf_vprintf(&b, fmt, ap);
        va_end(ap);
        strbuf_printf(out, "%14s: ", label);
        put_sanitized(out, b.data ?: "");
        strbuf_putc(out, '\n');
        strbuf_done(&b);
}

static int show_probe_row(const Context *ctx, Table *t, json_object *element, ProtocolFailure *failure) {
        ProbeResult p;
        char a[64], b[64];
        int r = protocol_probe_result_from_json(element, &p, failure);
        if (r < 0)
                return r;
        table_add(t, NULL, "%s", fmt_time(ctx, p.time, a, sizeof a));
        table_add(t, probe_color(p.klass), "%s", probe_class_to_string(p.klass));
        if (p.http_status > 0)
                table_add(t, NULL, "%ld", p.http_status);
        else
                table_add(t, NULL, "-");
        table_add(t, NULL, "%s", fmt_ms(p.total, b, sizeof b));
        table_add(t, NULL, "%s", p.error);
        return 0;
}

static int show_problem_row(const Context *ctx, Table *t, json_object *element, ProtocolFailure *failure) {
        Problem p;
        char a[64];
        int r = protocol_problem_from_json(element, &p, failure);
        if (r < 0)
                return r;
        table_add(t, ANSI_RED, "%s", alert_kind_to_string(p.kind));
        table_add(t, NULL, "%s", fmt_time(ctx, p.since, a, sizeof a));
        table_add(t, NULL, "%u", p.failures);
        table_add(t, NULL, "%s", p.last_error ?: "");
        protocol_problem_done(&p);
        return 0;
}

static int show_alert_row(const Context *ctx, Table *t, json_object *element, ProtocolFailure *failure) {
        AlertLogEntry e;
        char a[64];
        int r = protocol_alert_entry_from_json(element, &e, failure);
        if (r < 0)
                return r;
        table_add(t, NULL, "%s", fmt_time(ctx, e.time, a, sizeof a));
        table_add(t, NULL, "%s%s", alert_kind_to_string(e.kind), e.held ? " (held)" : "");
        table_add(t, NULL, "%s", e.summary ?: "");
        protocol_alert_entry_done(&e);
        return 0;
}

static int text_show(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        Context ctx;
        json_object *link, *probes, *problems, *alerts;
        ProtocolLinkStatus s;
        char a[64], b[64], c[256];
        int r;

        r = context_init(&ctx, data, o, failure);
        if (r < 0)
                return malformed(failure, "show");
        if (protocol_get_object(data, "link", true, &link, failure) < 0 ||
            protocol_get_array(data, "recent_probes", false, &probes, failure) < 0 ||
            protocol_get_array(data, "open_problems", false, &problems, failure) < 0 ||
            protocol_get_array(data, "recent_alerts", false, &alerts, failure) < 0 ||
            protocol_link_status_from_json(link, &s, failure) < 0) {
                context_done(&ctx);
                return malformed(failure, "show");
        }

        put_colored(out, o, o->color ? ANSI_BOLD : NULL, s.name);
        strbuf_puts(out, ": ");
        put_colored(out, o, state_color(s.state), s.state);
        strbuf_putc(out, '\n');
        if (s.url)
                put_field(out, "Endpoint", "%s", s.url);
        if (s.cds_code)
                put_field(out, "CDS code", "%s", s.cds_code);
        if (s.username)
                put_field(out, "Username", "%s", s.username);
        if (s.generated)
                put_field(out, "Generated", "%s", fmt_time(&ctx, s.generated, a, sizeof a));
        if (s.expires) {
                StrBuf bar = STRBUF_NULL;
                ctl_render_bar(&bar, s.days_left, s.lifetime, o);
                int64_t d = s.days_left;
                if (d == PROTOCOL_DAYS_LEFT_NULL)
                        snprintf(c, sizeof c, "%s", "");
                else if (d > 0)
                        snprintf(c, sizeof c, " (%" PRIi64 " day%s left)", d, d == 1 ? "" : "s");
                else if (d == 0)
                        snprintf(c, sizeof c, " (today)");
                else
                        snprintf(c, sizeof c, " (%" PRIi64 " day%s ago)", -d, d == -1 ? "" : "s");
                strbuf_printf(out, "%14s: %s%s  ", "Expires", fmt_date(&ctx, s.expires, a, sizeof a), c);
                if (o->color)
                        strbuf_puts(out, d <= 0 ? ANSI_RED : state_color(s.state));
                strbuf_puts(out, bar.data ?: "");
                if (o->color)
                        strbuf_puts(out, ANSI_RESET);
                strbuf_putc(out, '\n');
                strbuf_done(&bar);
        }
        if (s.fingerprint)
                put_field(out, "Fingerprint", "%s (generation %" PRIu64 ")", s.fingerprint, s.generation);
        if (strv_length(s.consumers) > 0) {
                _cleanup_free_ char *j = strv_join(s.consumers, ", ");
                put_field(out, "Consumers", "%s", strna(j));
        }
        if (strv_length(s.problems) > 0) {
                _cleanup_free_ char *j = strv_join(s.problems, ", ");
                put_field(out, "Problems", "%s", strna(j));
        }
        if (s.silenced_until)
                put_field(out, "Silenced", "until %s%s%s%s", fmt_time(&ctx, s.silenced_until, a, sizeof a),
                          s.silence_reason ? " (" : "", s.silence_reason ?: "", s.silence_reason ? ")" : "");
        if (s.maintenance)
                put_field(out, "Maintenance", "%s", s.maintenance);
        if (s.failures > 0)
                put_field(out, "Failures", "%u in a row", s.failures);
        if (s.has_last_probe) {
                char dns[32], con[32], tls[32], tot[32], rel[32];
                const ProbeResult *p = &s.last_probe;
                fmt_relative(&ctx, p->time, rel, sizeof rel);
                put_field(out, "Last probe", "%s at %s%s%s%s", probe_summary(p, c, sizeof c),
                          fmt_time(&ctx, p->time, a, sizeof a), rel[0] == '\0' ? "" : " (", rel, rel[0] == '\0' ? "" : ")");
                put_field(out, "Timings", "dns %s, connect %s, tls %s, total %s", fmt_ms(p->dns, dns, sizeof dns),
                          fmt_ms(p->connect, con, sizeof con), fmt_ms(p->tls, tls, sizeof tls),
                          fmt_ms(p->total, tot, sizeof tot));
                if (!isempty(p->error))
                        put_field(out, "Error", "%s", p->error);
                if (p->cert_not_after)
                        put_field(out, "Certificate", "%s%s%s, expires %s", p->cert_subject,
                                  isempty(p->cert_subject) ? "" : " ", isempty(p->cert_sha256) ? "" : p->cert_sha256,
                                  fmt_date(&ctx, p->cert_not_after, b, sizeof b));
        } else
                put_field(out, "Last probe", "never");
        if (s.next_probe)
                put_field(out, "Next probe", "%s", fmt_time(&ctx, s.next_probe, a, sizeof a));
        protocol_link_status_done(&s);

        static const char *const probe_headers[] = { "TIME", "RESULT", "HTTP>", "TOTAL>", "ERROR" };
        static const char *const problem_headers[] = { "KIND", "SINCE", "FAILURES>", "LAST ERROR" };
        static const char *const alert_headers[] = { "TIME", "KIND", "SUMMARY" };
        r = table_section(&ctx, probes, "\nRecent probes:\n", ELEMENTSOF(probe_headers), probe_headers,
                          show_probe_row, "show: recent_probes", out, failure);
        if (r >= 0)
                r = table_section(&ctx, problems, "\nOpen problems:\n", ELEMENTSOF(problem_headers),
                                  problem_headers, show_problem_row, "show: open_problems", out, failure);
        if (r >= 0)
                r = table_section(&ctx, alerts, "\nRecent alerts:\n", ELEMENTSOF(alert_headers), alert_headers,
                                  show_alert_row, "show: recent_alerts", out, failure);
        context_done(&ctx);
        return r;
}

/* ---- credential history ------------------------------------------------------------- */

static int history_row(const Context *ctx, Table *t, json_object *element, ProtocolFailure *failure) {
        RotationRecord rr;
        char a[64], b[64], u[64];
        int r = protocol_rotation_from_json(element, &rr, failure);
        if (r < 0)
                return r;
        table_add(t, NULL, "%s", fmt_time(ctx, rr.when, a, sizeof a));
        table_add(t, NULL, "%s", fmt_user(rr.uid, u, sizeof u));
        table_add(t, NULL, "%s", rr.old_username ?: "-");
        table_add(t, NULL, "%s", rr.new_username ?: "-");
        table_add(t, NULL, "%s", fmt_time(ctx, rr.generated, b, sizeof b));
        table_add(t, NULL, "%" PRIu64, rr.generation);
        table_add(t, NULL, "%s", isempty(rr.fingerprint) ? "-" : rr.fingerprint);
        protocol_rotation_done(&rr);
        return 0;
}

static int text_history(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        static const char *const headers[] = { "WHEN", "BY", "OLD USERNAME", "NEW USERNAME", "GENERATED",
                                               "GENERATION>", "FINGERPRINT" };
        Context ctx;
        json_object *rotations;
        const char *link;
        int r;

        if (context_init(&ctx, data, o, failure) < 0)
                return malformed(failure, "credential history");
        if (protocol_get_string(data, "link", false, &link, failure) < 0 ||
            protocol_get_array(data, "rotations", true, &rotations, failure) < 0) {
                context_done(&ctx);
                return malformed(failure, "credential history");
        }
        size_t n = json_object_array_length(rotations);
        if (n == 0) {
                strbuf_puts(out, "No credential was ever stored for ");
                put_sanitized(out, link ?: "this link");
                strbuf_puts(out, ".\n");
                context_done(&ctx);
                return 0;
        }
        r = table_section(&ctx, rotations, NULL, ELEMENTSOF(headers), headers, history_row, "credential history", out,
                          failure);
        if (r >= 0 && o->legend)
                strbuf_printf(out, "\n%zu rotation%s.\n", n, n == 1 ? "" : "s");
        context_done(&ctx);
        return r;
}

/* ---- alerts ------------------------------------------------------------------------ */

static int alerts_problem_row(const Context *ctx, Table *t, json_object *element, ProtocolFailure *failure) {
        Problem p;
        char a[64], b[64];
        int r = protocol_problem_from_json(element, &p, failure);
        if (r < 0)
                return r;
        table_add(t, NULL, "%s", p.link);
        table_add(t, ANSI_RED, "%s", alert_kind_to_string(p.kind));
        table_add(t, NULL, "%s", fmt_time(ctx, p.since, a, sizeof a));
        table_add(t, NULL, "%u", p.failures);
        table_add(t, NULL, "%s", p.notified ? fmt_time(ctx, p.last_notified ?: p.notified, b, sizeof b) : "not yet");
        table_add(t, NULL, "%s", p.last_error ?: "");
        protocol_problem_done(&p);
        return 0;
}

static int alerts_silence_row(const Context *ctx, Table *t, json_object *element, ProtocolFailure *failure) {
        Silence s;
        char a[64], u[64];
        int r = protocol_silence_from_json(element, &s, failure);
        if (r < 0)
                return r;
        table_add(t, NULL, "%s", s.link);
        table_add(t, NULL, "%s", fmt_time(ctx, s.until, a, sizeof a));
        table_add(t, NULL, "%s", fmt_user(s.uid, u, sizeof u));
        table_add(t, NULL, "%s", s.reason ?: "");
        protocol_silence_done(&s);
        return 0;
}

static int alerts_recent_row(const Context *ctx, Table *t, json_object *element, ProtocolFailure *failure) {
        AlertLogEntry e;
        char a[64];
        int r = protocol_alert_entry_from_json(element, &e, failure);
        if (r < 0)
                return r;
        table_add(t, NULL, "%s", fmt_time(ctx, e.time, a, sizeof a));
        table_add(t, NULL, "%s", e.link ?: "-");
        table_add(t, e.priority <= LOG_ERR ? ANSI_RED : e.priority == LOG_WARNING ? ANSI_YELLOW : NULL, "%s%s",
                  alert_kind_to_string(e.kind), e.held ? " (held)" : "");
        table_add(t, NULL, "%s", e.summary ?: "");
        protocol_alert_entry_done(&e);
        return 0;
}

static int text_alerts(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        Context ctx;
        json_object *problems, *silences, *recent;
        int r;

        if (context_init(&ctx, data, o, failure) < 0)
                return malformed(failure, "alerts");
        if (protocol_get_array(data, "open_problems", false, &problems, failure) < 0 ||
            protocol_get_array(data, "silences", false, &silences, failure) < 0 ||
            protocol_get_array(data, "recent_alerts", false, &recent, failure) < 0) {
                context_done(&ctx);
                return malformed(failure, "alerts");
        }

        static const char *const problem_headers[] = { "LINK", "KIND", "SINCE", "FAILURES>", "NOTIFIED",
                                                        "LAST ERROR" };
        static const char *const silence_headers[] = { "LINK", "UNTIL", "BY", "REASON" };
        static const char *const alert_headers[] = { "TIME", "LINK", "KIND", "SUMMARY" };
        if (!problems || json_object_array_length(problems) == 0)
                strbuf_puts(out, "No open problems.\n");
        r = table_section(&ctx, problems, "Open problems:\n", ELEMENTSOF(problem_headers), problem_headers,
                          alerts_problem_row, "alerts: open_problems", out, failure);
        if (r >= 0)
                r = table_section(&ctx, silences, "\nSilences:\n", ELEMENTSOF(silence_headers), silence_headers,
                                  alerts_silence_row, "alerts: silences", out, failure);
        if (r >= 0)
                r = table_section(&ctx, recent, "\nRecent alerts:\n", ELEMENTSOF(alert_headers), alert_headers,
                                  alerts_recent_row, "alerts: recent_alerts", out, failure);
        context_done(&ctx);
        return r;
}

/* ---- probe ------------------------------------------------------------------------ */

static int probe_results(json_object *data, json_object **ret, ProtocolFailure *failure) {
        return protocol_get_array(data, "results", true, ret, failure);
}

static int text_probe(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        static const char *const headers[] = { "LINK", "RESULT", "HTTP>", "DNS>", "CONNECT>", "TLS>", "TOTAL>", "ERROR" };
        Context ctx;
        json_object *results;
        Table t;

        if (context_init(&ctx, data, o, failure) < 0 || probe_results(data, &results, failure) < 0) {
                context_done(&ctx);
                return malformed(failure, "probe");
        }
        table_init(&t, ELEMENTSOF(headers), headers);
        size_t n = json_object_array_length(results), ok = 0;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(results, i), *r;
                const char *link;
                ProbeResult p;
                char b[4][32];
                if (protocol_get_string(e, "link", true, &link, failure) < 0 ||
                    protocol_get_object(e, "result", true, &r, failure) < 0 ||
                    protocol_probe_result_from_json(r, &p, failure) < 0) {
                        table_done(&t);
                        context_done(&ctx);
                        return malformed(failure, "probe");
                }
                ok += p.klass == PROBE_OK;
                table_add(&t, NULL, "%s", link);
                table_add(&t, probe_color(p.klass), "%s", probe_class_to_string(p.klass));
                if (p.http_status > 0)
                        table_add(&t, NULL, "%ld", p.http_status);
                else
                        table_add(&t, NULL, "-");
                table_add(&t, NULL, "%s", fmt_ms(p.dns, b[0], sizeof b[0]));
                table_add(&t, NULL, "%s", fmt_ms(p.connect, b[1], sizeof b[1]));
                table_add(&t, NULL, "%s", fmt_ms(p.tls, b[2], sizeof b[2]));
                table_add(&t, NULL, "%s", fmt_ms(p.total, b[3], sizeof b[3]));
                table_add(&t, NULL, "%s", p.error);
        }
        table_render(&t, o, out);
        table_done(&t);
        if (o->legend && n > 1)
                strbuf_printf(out, "\n%zu probes: %zu ok, %zu failed.\n", n, ok, n - ok);
        context_done(&ctx);
        return 0;
}

static int outcome_probe(json_object *data) {
        json_object *results;
        if (probe_results(data, &results, NULL) < 0 || json_object_array_length(results) == 0)
                return 1;
        for (size_t i = 0; i < json_object_array_length(results); i++) {
                json_object *r, *c;
                if (!json_object_object_get_ex(json_object_array_get_idx(results, i), "result", &r) ||
                    !json_object_object_get_ex(r, "class", &c) || !json_object_is_type(c, json_type_string) ||
                    !streq(json_object_get_string(c), "ok"))
                        return 1;
        }
        return 0;
}

/* ---- credential set, rotate, import ----------------------------------------------------- */

static int text_credential(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        Context ctx;
        const char *link;
        int64_t generation, days = PROTOCOL_DAYS_LEFT_NULL;
        usec_t expires;
        json_object *consumers, *probe, *v;
        char a[64], c[256];

        if (context_init(&ctx, data, o, failure) < 0 || protocol_get_string(data, "link", true, &link, failure) < 0 ||
            protocol_get_int64(data, "generation", false, &generation, failure) < 0 ||
            protocol_get_time(data, "expires", false, &expires, failure) < 0 ||
            protocol_get_array(data, "consumers", false, &consumers, failure) < 0 ||
            protocol_get_object(data, "probe", false, &probe, failure) < 0) {
                context_done(&ctx);
                return malformed(failure, "credential");
        }
        if (json_object_object_get_ex(data, "days_left", &v) && json_object_is_type(v, json_type_int))
                days = json_object_get_int64(v);

        strbuf_puts(out, "Stored the credential of ");
        put_sanitized(out, link);
        if (generation > 0)
                strbuf_printf(out, " (generation %" PRIi64 ")", generation);
        if (expires) {
                strbuf_printf(out, "; it expires on %s", fmt_date(&ctx, expires, a, sizeof a));
                if (days != PROTOCOL_DAYS_LEFT_NULL)
                        strbuf_printf(out, ", in %" PRIi64 " day%s", days, days == 1 ? "" : "s");
        }
        strbuf_puts(out, ".\n");

        if (probe) {
                ProbeResult p;
                if (protocol_probe_result_from_json(probe, &p, failure) < 0) {
                        context_done(&ctx);
                        return malformed(failure, "credential: probe");
                }
                strbuf_puts(out, "Verification probe: ");
                put_colored(out, o, probe_color(p.klass), probe_summary(&p, c, sizeof c));
                if (p.klass != PROBE_OK) {
                        strbuf_puts(out, " — ");
                        put_sanitized(out, probe_class_describe(p.klass));
                        if (!isempty(p.error)) {
                                strbuf_puts(out, ": ");
                                put_sanitized(out, p.error);
                        }
                }
                strbuf_putc(out, '\n');
        }

        size_t n = consumers ? json_object_array_length(consumers) : 0;
        if (n > 0) {
                strbuf_puts(out, "Now update every system that holds a copy of this credential:\n");
                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(consumers, i);
                        if (!json_object_is_type(e, json_type_string))
                                continue;
                        strbuf_puts(out, "  - ");
                        put_sanitized(out, json_object_get_string(e));
                        strbuf_putc(out, '\n');
                }
        }
        context_done(&ctx);
        return 0;
}

static int outcome_credential(json_object *data) {
        json_object *probe, *c;
        if (!json_object_object_get_ex(data, "probe", &probe) || !probe)
                return 0;
        return json_object_object_get_ex(probe, "class", &c) && json_object_is_type(c, json_type_string) &&
                               streq(json_object_get_string(c), "ok")
                       ? 0
                       : 1;
}

static int text_import(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        int64_t n;
        if (protocol_get_int64(data, "imported", true, &n, failure) < 0)
                return malformed(failure, "credential import");
        strbuf_printf(out, "Imported %" PRIi64 " credential%s.\n", n, n == 1 ? "" : "s");
        return 0;
}

/* ---- silence, unsilence, test-email, reload ------------------------------------------ */

static int text_silence(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        Context ctx;
        const char *link, *reason;
        usec_t until;
        char a[64];
        if (context_init(&ctx, data, o, failure) < 0 || protocol_get_string(data, "link", true, &link, failure) < 0 ||
            protocol_get_time(data, "until", true, &until, failure) < 0 ||
            protocol_get_string(data, "reason", false, &reason, failure) < 0) {
                context_done(&ctx);
                return malformed(failure, "silence");
        }
        strbuf_puts(out, "Silenced ");
        put_sanitized(out, link);
        strbuf_printf(out, " until %s", fmt_time(&ctx, until, a, sizeof a));
        if (reason) {
                strbuf_puts(out, " (");
                put_sanitized(out, reason);
                strbuf_putc(out, ')');
        }
        strbuf_puts(out, ": link-down and auth-rejected alerts are held meanwhile; expiry warnings are not.\n");
        context_done(&ctx);
        return 0;
}

static int text_unsilence(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        const char *link;
        if (protocol_get_string(data, "link", true, &link, failure) < 0)
                return malformed(failure, "unsilence");
        put_sanitized(out, link);
        strbuf_puts(out, " is no longer silenced.\n");
        return 0;
}

static int text_test_email(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        json_object *to;
        if (protocol_get_array(data, "recipients", false, &to, failure) < 0)
                return malformed(failure, "test-email");
        size_t n = to ? json_object_array_length(to) : 0;
        strbuf_puts(out, "Test message sent");
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(to, i);
                strbuf_puts(out, i == 0 ? " to " : ", ");
                put_sanitized(out, json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "?");
        }
        strbuf_puts(out, ".\n");
        return 0;
}

static int text_reload(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        const char *summary;
        if (protocol_get_string(data, "summary", false, &summary, failure) < 0)
                return malformed(failure, "reload");
        strbuf_puts(out, "Configuration reloaded");
        if (summary) {
                strbuf_puts(out, ": ");
                put_sanitized(out, summary);
        }
        strbuf_puts(out, ".\n");
        return 0;
}

/* ---- check (monitoring plugin) ----------------------------------------------------------- */

int ctl_check_unknown(StrBuf *out, const char *fmt, ...) {
        StrBuf b = STRBUF_NULL;
        va_list ap;
        va_start(ap, fmt);
        strbuf_vprintf(&b, fmt, ap);
        va_end(ap);
        strbuf_puts(out, "TOMSLINK UNKNOWN - ");
        put_sanitized(out, b.data ?: "");
        strbuf_putc(out, '\n');
        strbuf_done(&b);
        return CTL_CHECK_UNKNOWN;
}

typedef struct CheckLink {
        char *name;
        int64_t days_left;
        int level;
        char *why;
} CheckLink;

static int check_link_cmp(const void *a, const void *b) {
        const CheckLink *x = a, *y = b;
        if (x->days_left != y->days_left)
                return x->days_left < y->days_left ? -1 : 1;
        return strcmp(x->name, y->name);
}

int ctl_check_render(json_object *data, StrBuf *out) {
        static const char *const level_names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        json_object *links;

        if (protocol_get_array(data, "links", true, &links, &f) < 0)
                return ctl_check_unknown(out, "malformed reply from tomslinkd: %s", f.message);

        size_t n = json_object_array_length(links), counts[3] = {};
        CheckLink *all = calloc(MAX(n, (size_t) 1), sizeof(CheckLink));
        if (!all)
                return ctl_check_unknown(out, "out of memory");
        int state = CTL_CHECK_OK;
        int64_t min_days = INT64_MAX;

        for (size_t i = 0; i < n; i++) {
                ProtocolLinkStatus s;
                if (protocol_link_status_from_json(json_object_array_get_idx(links, i), &s, &f) < 0) {
                        for (size_t j = 0; j < i; j++) {
                                free(all[j].name);
                                free(all[j].why);
                        }
                        free(all);
                        return ctl_check_unknown(out, "malformed reply from tomslinkd: %s", f.message);
                }
                /* Silences and maintenance hold the alerts that depend on the
                 * endpoint; expiry is never held. */
                bool held = strv_contains(s.problems, "silenced") || strv_contains(s.problems, "maintenance") ||
                            streq(s.state, "silenced") || streq(s.state, "maintenance");
                char **problems = s.problems;
                _cleanup_strv_free_ char **own = NULL;
                if (!problems && !streq(s.state, "ok")) {
                        (void) strv_extend(&own, s.state);
                        problems = own;
                }
                int level = CTL_CHECK_OK;
                StrBuf why = STRBUF_NULL;
                STRV_FOREACH(p, problems) {
                        int l = CTL_CHECK_OK;
                        if (streq(*p, "expired"))
                                l = CTL_CHECK_CRITICAL;
                        else if ((streq(*p, "auth-rejected") || streq(*p, "down")) && !held)
                                l = CTL_CHECK_CRITICAL;
                        else if (streq(*p, "expiring") || streq(*p, "cert-expiring") || streq(*p, "unconfigured"))
                                l = CTL_CHECK_WARNING;
                        if (l == CTL_CHECK_OK)
                                continue;
                        level = MAX(level, l);
                        strbuf_printf(&why, "%s%s", why.len > 0 ? ", " : "", *p);
                }
                if (s.days_left != PROTOCOL_DAYS_LEFT_NULL && level > CTL_CHECK_OK)
                        strbuf_printf(&why, ", %" PRIi64 " day%s left", s.days_left,
                                      s.days_left == 1 || s.days_left == -1 ? "" : "s");
                counts[level]++;
                state = MAX(state, level);
                if (s.days_left != PROTOCOL_DAYS_LEFT_NULL)
                        min_days = MIN(min_days, s.days_left);
                all[i] = (CheckLink) { .name = TAKE_PTR(s.name), .days_left = s.days_left, .level = level,
                                       .why = strbuf_steal(&why) };
                protocol_link_status_done(&s);
        }

        /* the status line */
        strbuf_printf(out, "TOMSLINK %s - ", level_names[state]);
        if (n == 0)
                strbuf_puts(out, "no links configured");
        else {
                bool first = true;
                for (int level = CTL_CHECK_CRITICAL; level >= CTL_CHECK_WARNING; level--) {
                        if (counts[level] == 0)
                                continue;
                        strbuf_printf(out, "%s%zu %s:", first ? "" : "; ", counts[level],
                                      level == CTL_CHECK_CRITICAL ? "critical" : "warning");
                        first = false;
                        size_t shown = 0;
                        for (size_t i = 0; i < n; i++) {
                                if (all[i].level != level)
                                        continue;
                                if (shown++ == 5) {
                                        strbuf_printf(out, " ...");
                                        break;
                                }
                                strbuf_printf(out, "%s ", shown > 1 ? "," : "");
                                put_sanitized(out, all[i].name);
                                strbuf_puts(out, " (");
                                put_sanitized(out, all[i].why ?: "");
                                strbuf_putc(out, ')');
                        }
                }
                strbuf_printf(out, "%s%zu ok", first ? "" : "; ", counts[CTL_CHECK_OK]);
        }

        /* performance data: totals, then days left of the links expiring soonest */
        strbuf_printf(out, " | links=%zu critical=%zu warning=%zu ok=%zu", n, counts[CTL_CHECK_CRITICAL],
                      counts[CTL_CHECK_WARNING], counts[CTL_CHECK_OK]);
        if (min_days != INT64_MAX)
                strbuf_printf(out, " min_days_left=%" PRIi64, min_days);
        CheckLink *sorted = calloc(MAX(n, (size_t) 1), sizeof(CheckLink));
        if (sorted) {
                size_t m = 0;
                /* a perfdata label must not hold spaces, quotes or "=": only
                 * well-formed link names get one */
                for (size_t i = 0; i < n; i++)
                        if (all[i].days_left != PROTOCOL_DAYS_LEFT_NULL && link_name_is_valid(all[i].name))
                                sorted[m++] = all[i];   /* shallow: the strings stay owned by all */
                qsort(sorted, m, sizeof(CheckLink), check_link_cmp);
                for (size_t i = 0; i < MIN(m, (size_t) CTL_CHECK_PERFDATA_LINKS); i++)
                        strbuf_printf(out, " days_left_%s=%" PRIi64, sorted[i].name, sorted[i].days_left);
                free(sorted);
        }
        strbuf_putc(out, '\n');

        /* long output: every link with a problem */
        for (size_t i = 0; i < n; i++) {
                if (all[i].level != CTL_CHECK_OK) {
                        strbuf_printf(out, "%s: ", level_names[all[i].level]);
                        put_sanitized(out, all[i].name);
                        strbuf_puts(out, ": ");
                        put_sanitized(out, all[i].why ?: "");
                        strbuf_putc(out, '\n');
                }
                free(all[i].name);
                free(all[i].why);
        }
        free(all);
        return state;
}

static int text_check(json_object *data, const CtlOutputOptions *o, StrBuf *out, ProtocolFailure *failure) {
        (void) ctl_check_render(data, out);
        return 0;
}

static int outcome_check(json_object *data) {
        StrBuf b = STRBUF_NULL;
        int r = ctl_check_render(data, &b);
        strbuf_done(&b);
        return r;
}

/* ---- the table of output functions ---------------------------------------------------- */

static const CtlOutput outputs[] = {
        { CTL_STATUS, text_status, NULL },
        { CTL_SHOW, text_show, NULL },
        { CTL_PROBE, text_probe, outcome_probe },
        { CTL_CREDENTIAL_SET, text_credential, outcome_credential },
        { CTL_CREDENTIAL_ROTATE, text_credential, outcome_credential },
        { CTL_CREDENTIAL_HISTORY, text_history, NULL },
        { CTL_CREDENTIAL_IMPORT, text_import, NULL },
        { CTL_SILENCE, text_silence, NULL },
        { CTL_UNSILENCE, text_unsilence, NULL },
        { CTL_ALERTS, text_alerts, NULL },
        { CTL_TEST_EMAIL, text_test_email, NULL },
        { CTL_RELOAD, text_reload, NULL },
        { CTL_CHECK, text_check, outcome_check },
};

const CtlOutput *ctl_output_for(CtlAction a) {
        for (size_t i = 0; i < ELEMENTSOF(outputs); i++)
                if (outputs[i].action == a)
                        return &outputs[i];
        return NULL;
}

int ctl_render_json(json_object *data, StrBuf *out) {
        const char *s = json_object_to_json_string_ext(
                data, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        strbuf_puts(out, s);
        strbuf_putc(out, '\n');
        return strbuf_failed(out) ? -ENOMEM : 0;
}

bool ctl_use_color(int fd, const char *no_color, const char *term) {
        if (!isempty(no_color))
                return false;
        if (term && streq(term, "dumb"))
                return false;
        return isatty(fd);
}
