/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Prometheus metrics: what the daemon holds in memory, rendered in the
 * text exposition format (version 0.0.4) for node_exporter's textfile
 * collector. Pure: the owner fills a MetricsSnapshot from its own state
 * (nothing here reads the store, a clock or a file) and gets the text.
 * Every metric, its type and its labels are listed in tomslinkd(8).
 *
 * The text has a HELP and a TYPE line for every metric family, then its
 * samples, links in the order given. Numbers are formatted with integer
 * arithmetic only (no locale, never NaN or Inf): a sample whose value is
 * not known is left out rather than given a placeholder. Samples carry no
 * timestamps (the textfile collector refuses them). */

#include "alert-engine.h"
#include "alert.h"
#include "probe-result.h"
#include "store.h"
#include "strbuf.h"

typedef struct MetricsLink {
        const char *name;
        LinkState state;                        /* the worst, as tomslinkctl status shows */
        bool held;                              /* in a maintenance window or silenced */
        bool down_open, auth_open;              /* the open problems link-down and auth-rejected */
        bool has_credential;
        usec_t expires;                         /* the credential's expiry (wall clock) */
        int64_t days_left;                      /* calendar days in the configured zone */
        usec_t cert_not_after;                  /* the endpoint certificate's, 0 when not known */
        const ProbeSummary *last;               /* the last probe, NULL when none is known */
        uint64_t probes[_PROBE_CLASS_MAX];      /* probes finished since the daemon started, by class */
} MetricsLink;

typedef struct MetricsSnapshot {
        const char *version;
        usec_t now;                             /* this write (wall clock) */
        usec_t started;                         /* the daemon's start (wall clock) */
        const MetricsLink *links;
        size_t n_links;
        uint64_t alerts[_ALERT_KIND_MAX];       /* alerts raised since the daemon started */
        bool has_outbox;                        /* outbox counts known */
        unsigned outbox[_OUTBOX_STATE_MAX];     /* messages in the mail outbox by state */
} MetricsSnapshot;

/* Appends the text for the snapshot to b (a buffer kept from one write
 * to the next saves growing it each time). -ENOMEM, or -EINVAL for a
 * state or class out of range (b unchanged). */
int metrics_render_to(const MetricsSnapshot *s, StrBuf *b);
/* The same as a new string, NUL-terminated, its length in *ret_size (may
 * be NULL). */
int metrics_render(const MetricsSnapshot *s, char **ret, size_t *ret_size);

/* Helpers of metrics_render(), exposed for tests. */
/* A label value in the exposition format's escaping: backslash, double
 * quote and line feed become \\, \" and \n. */
void metrics_put_label_value(StrBuf *b, const char *s);
/* Microseconds as seconds in decimal, without trailing zeros: 1500000 ->
 * "1.5", 1 -> "0.000001", 0 -> "0". */
void metrics_put_seconds(StrBuf *b, usec_t usec);
void metrics_put_int(StrBuf *b, int64_t v);
void metrics_put_uint(StrBuf *b, uint64_t v);
