/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "metrics.h"

#include <inttypes.h>

/* The outbox states as labels; fixed here, not taken from the store's
 * column values, so that the metrics stay what tomslinkd(8) says. */
static const char *const outbox_state_label[_OUTBOX_STATE_MAX] = {
        [OUTBOX_PENDING] = "pending",
        [OUTBOX_DELIVERED] = "delivered",
        [OUTBOX_FAILED] = "failed",
};

/* ---- numbers and labels ----------------------------------------------------------- */

void metrics_put_uint(StrBuf *b, uint64_t v) {
        char buf[24], *p = buf + sizeof buf;
        do {
                *--p = (char) ('0' + v % 10);
                v /= 10;
        } while (v > 0);
        strbuf_append(b, p, (size_t) (buf + sizeof buf - p));
}

void metrics_put_int(StrBuf *b, int64_t v) {
        if (v < 0) {
                strbuf_putc(b, '-');
                /* INT64_MIN has no positive counterpart in int64_t */
                metrics_put_uint(b, (uint64_t) -(v + 1) + 1);
        } else
                metrics_put_uint(b, (uint64_t) v);
}

void metrics_put_seconds(StrBuf *b, usec_t usec) {
        metrics_put_uint(b, usec / USEC_PER_SEC);
        unsigned frac = (unsigned) (usec % USEC_PER_SEC);
        if (frac == 0)
                return;
        char digits[7] = ".";
        unsigned n = 1;
        for (unsigned div = 100000; frac > 0; div /= 10) {
                digits[n++] = (char) ('0' + frac / div);
                frac %= div;
        }
        strbuf_append(b, digits, n);
}

void metrics_put_label_value(StrBuf *b, const char *s) {
        for (;;) {
                size_t n = strcspn(s, "\\\"\n");
                strbuf_append(b, s, n);
                s += n;
                if (!*s)
                        return;
                strbuf_append(b, *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\", 2);
                s++;
        }
}

/* HELP text escaping: backslash and line feed. */
static void put_help_text(StrBuf *b, const char *s) {
        for (; *s; s++)
                if (*s == '\\')
                        strbuf_puts(b, "\\\\");
                else if (*s == '\n')
                        strbuf_puts(b, "\\n");
                else
                        strbuf_putc(b, *s);
}

static void put_header(StrBuf *b, const char *name, const char *type, const char *help) {
        strbuf_puts(b, "# HELP ");
        strbuf_puts(b, name);
        strbuf_putc(b, ' ');
        put_help_text(b, help);
        strbuf_puts(b, "\n# TYPE ");
        strbuf_puts(b, name);
        strbuf_putc(b, ' ');
        strbuf_puts(b, type);
        strbuf_putc(b, '\n');
}

/* name{label="value" -- the caller may add labels, then ends with put_end_*() */
static void put_start(StrBuf *b, const char *name, const char *label, const char *value) {
        strbuf_puts(b, name);
        strbuf_putc(b, '{');
        strbuf_puts(b, label);
        strbuf_puts(b, "=\"");
        metrics_put_label_value(b, value);
        strbuf_putc(b, '"');
}

static void put_label(StrBuf *b, const char *label, const char *value) {
        strbuf_putc(b, ',');
        strbuf_puts(b, label);
        strbuf_puts(b, "=\"");
        metrics_put_label_value(b, value);
        strbuf_putc(b, '"');
}

static void put_end_uint(StrBuf *b, uint64_t v) {
        strbuf_puts(b, "} ");
        metrics_put_uint(b, v);
        strbuf_putc(b, '\n');
}

static void put_end_int(StrBuf *b, int64_t v) {
        strbuf_puts(b, "} ");
        metrics_put_int(b, v);
        strbuf_putc(b, '\n');
}

static void put_end_seconds(StrBuf *b, usec_t v) {
        strbuf_puts(b, "} ");
        metrics_put_seconds(b, v);
        strbuf_putc(b, '\n');
}

static void put_plain_seconds(StrBuf *b, const char *name, usec_t v) {
        strbuf_puts(b, name);
        strbuf_putc(b, ' ');
        metrics_put_seconds(b, v);
        strbuf_putc(b, '\n');
}

/* ---- the families ------------------------------------------------------------------ */

static void put_daemon(StrBuf *b, const MetricsSnapshot *s) {
        put_header(b, "tomslink_build_info", "gauge", "The version of tomslinkd; the value is always 1.");
        put_start(b, "tomslink_build_info", "version", s->version ?: "");
        put_end_uint(b, 1);

        put_header(b, "tomslink_daemon_start_time_seconds", "gauge",
                   "When tomslinkd started, in seconds since the Unix epoch.");
        put_plain_seconds(b, "tomslink_daemon_start_time_seconds", s->started);

        put_header(b, "tomslink_metrics_last_write_timestamp_seconds", "gauge",
                   "When tomslinkd wrote these metrics, in seconds since the Unix epoch; rewritten at least every 30 seconds while it runs.");
        put_plain_seconds(b, "tomslink_metrics_last_write_timestamp_seconds", s->now);

        size_t count[_LINK_STATE_MAX] = {};
        for (size_t i = 0; i < s->n_links; i++)
                count[s->links[i].state]++;
        put_header(b, "tomslink_links", "gauge",
                   "Configured links by state (the worst problem each holds); their sum is the number of links.");
        for (LinkState st = 0; st < _LINK_STATE_MAX; st++) {
                put_start(b, "tomslink_links", "state", link_state_to_string(st));
                put_end_uint(b, count[st]);
        }

        put_header(b, "tomslink_alerts_total", "counter",
                   "Alerts raised since tomslinkd started, by kind; reminders and alerts held by a maintenance window or a silence included.");
        for (AlertKind k = 0; k < _ALERT_KIND_MAX; k++) {
                put_start(b, "tomslink_alerts_total", "kind", alert_kind_to_string(k));
                put_end_uint(b, s->alerts[k]);
        }

        if (s->has_outbox) {
                put_header(b, "tomslink_mail_outbox_messages", "gauge",
                           "Alert e-mails in the outbox by state: pending (not yet delivered to every recipient), delivered, failed; finished ones are kept 30 days.");
                for (OutboxState st = 0; st < _OUTBOX_STATE_MAX; st++) {
                        put_start(b, "tomslink_mail_outbox_messages", "state", outbox_state_label[st]);
                        put_end_uint(b, s->outbox[st]);
                }
        }
}

static void put_links(StrBuf *b, const MetricsSnapshot *s) {
        const MetricsLink *l, *end = s->links + s->n_links;

        put_header(b, "tomslink_link_state", "gauge",
                   "The state of each link (the worst problem it holds), as tomslinkctl status shows it; the value is always 1.");
        for (l = s->links; l < end; l++) {
                put_start(b, "tomslink_link_state", "link", l->name);
                put_label(b, "state", link_state_to_string(l->state));
                put_end_uint(b, 1);
        }

        put_header(b, "tomslink_link_held", "gauge",
                   "1 while a maintenance window or a silence holds the link's alerts, else 0.");
        for (l = s->links; l < end; l++) {
                put_start(b, "tomslink_link_held", "link", l->name);
                put_end_uint(b, l->held);
        }

        put_header(b, "tomslink_open_problems", "gauge",
                   "1 while the problem (link-down or auth-rejected) is open for the link, else 0.");
        for (l = s->links; l < end; l++) {
                put_start(b, "tomslink_open_problems", "link", l->name);
                put_label(b, "kind", alert_kind_to_string(ALERT_LINK_DOWN));
                put_end_uint(b, l->down_open);
                put_start(b, "tomslink_open_problems", "link", l->name);
                put_label(b, "kind", alert_kind_to_string(ALERT_AUTH_REJECTED));
                put_end_uint(b, l->auth_open);
        }

        put_header(b, "tomslink_credential_expiry_timestamp_seconds", "gauge",
                   "When the link's credential expires, in seconds since the Unix epoch; links without a credential have none.");
        for (l = s->links; l < end; l++)
                if (l->has_credential) {
                        put_start(b, "tomslink_credential_expiry_timestamp_seconds", "link", l->name);
                        put_end_seconds(b, l->expires);
                }

        put_header(b, "tomslink_credential_calendar_day_left", "gauge",
                   "Calendar days in the configured time zone until the link's credential expires: 0 on the day it expires, negative after.");
        for (l = s->links; l < end; l++)
                if (l->has_credential) {
                        put_start(b, "tomslink_credential_calendar_day_left", "link", l->name);
                        put_end_int(b, l->days_left);
                }

        put_header(b, "tomslink_endpoint_certificate_expiry_timestamp_seconds", "gauge",
                   "When the earliest-expiring certificate the link's endpoint presented expires, in seconds since the Unix epoch; once one was seen.");
        for (l = s->links; l < end; l++)
                if (l->cert_not_after > 0) {
                        put_start(b, "tomslink_endpoint_certificate_expiry_timestamp_seconds", "link", l->name);
                        put_end_seconds(b, l->cert_not_after);
                }

        put_header(b, "tomslink_link_up", "gauge",
                   "1 if the link's last probe succeeded, 0 if it failed; links never probed have none.");
        for (l = s->links; l < end; l++)
                if (l->last) {
                        put_start(b, "tomslink_link_up", "link", l->name);
                        put_end_uint(b, l->last->klass == PROBE_OK);
                }

        put_header(b, "tomslink_last_probe_timestamp_seconds", "gauge",
                   "When the link's last probe started, in seconds since the Unix epoch.");
        for (l = s->links; l < end; l++)
                if (l->last) {
                        put_start(b, "tomslink_last_probe_timestamp_seconds", "link", l->name);
                        put_end_seconds(b, l->last->time);
                }

        put_header(b, "tomslink_last_probe_http_status", "gauge",
                   "The HTTP status of the link's last probe; 0 when no HTTP answer came.");
        for (l = s->links; l < end; l++)
                if (l->last) {
                        put_start(b, "tomslink_last_probe_http_status", "link", l->name);
                        put_end_uint(b, l->last->http_status > 0 ? (uint64_t) l->last->http_status : 0);
                }

        put_header(b, "tomslink_last_probe_duration_seconds", "gauge",
                   "Time from the start of the link's last probe to the end of each phase it reached: dns, connect, tls, first_byte, total.");
        for (l = s->links; l < end; l++) {
                if (!l->last)
                        continue;
                const struct {
                        const char *phase;
                        usec_t t;
                } phases[] = {
                        { "dns", l->last->dns },
                        { "connect", l->last->connect },
                        { "tls", l->last->tls },
                        { "first_byte", l->last->first_byte },
                        { "total", l->last->total },
                };
                for (size_t i = 0; i < ELEMENTSOF(phases); i++)
                        if (phases[i].t != USEC_INFINITY) {
                                put_start(b, "tomslink_last_probe_duration_seconds", "link", l->name);
                                put_label(b, "phase", phases[i].phase);
                                put_end_seconds(b, phases[i].t);
                        }
        }

        put_header(b, "tomslink_probes_total", "counter",
                   "Probes finished since tomslinkd started, by link and failure class (ok: a success).");
        for (l = s->links; l < end; l++)
                for (ProbeClass c = 0; c < _PROBE_CLASS_MAX; c++) {
                        put_start(b, "tomslink_probes_total", "link", l->name);
                        put_label(b, "class", probe_class_to_string(c));
                        put_end_uint(b, l->probes[c]);
                }
}

int metrics_render_to(const MetricsSnapshot *s, StrBuf *b) {
        if (!s || !b || (s->n_links > 0 && !s->links))
                return -EINVAL;
        for (size_t i = 0; i < s->n_links; i++) {
                const MetricsLink *l = &s->links[i];
                if (!l->name || l->state < 0 || l->state >= _LINK_STATE_MAX ||
                    (l->last && (l->last->klass < 0 || l->last->klass >= _PROBE_CLASS_MAX)))
                        return -EINVAL;
        }
        put_daemon(b, s);
        put_links(b, s);
        return strbuf_failed(b) ? -ENOMEM : 0;
}

int metrics_render(const MetricsSnapshot *s, char **ret, size_t *ret_size) {
        StrBuf b = STRBUF_NULL;

        if (!ret)
                return -EINVAL;
        int r = metrics_render_to(s, &b);
        if (r < 0) {
                strbuf_done(&b);
                return r;
        }
        size_t n = b.len;
        char *text = strbuf_steal(&b);
        if (!text)
                return -ENOMEM;
        if (ret_size)
                *ret_size = n;
        *ret = text;
        return 0;
}
