/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The alert engine: turns probe results and the credential calendar into
 * alerts (SPEC "Link states" and "Alerts"). Pure logic over a per-link
 * state that the daemon loads from the store at start and writes back
 * after every change, so that a restart neither repeats nor forgets an
 * alert. No I/O here: the caller sends what comes out (journal, mail) and
 * persists the state. */

#include "alert.h"
#include "config.h"
#include "expiry.h"
#include "probe-result.h"

/* One open problem: link-down or auth-rejected. */
typedef struct ProblemState {
        bool open;              /* its alert condition has been reached */
        usec_t since;           /* the first failure of the run */
        unsigned failures;      /* consecutive failures of the run */
        ProbeClass last_class;
        long last_http_status;
        char *last_error;       /* NULL: none */
        usec_t notified;        /* first notification sent (not held), 0 if none */
        usec_t last_notified;   /* latest notification, or the held notice logged; 0 if none */
} ProblemState;

typedef struct LinkAlertState {
        /* probe counters */
        unsigned failures;              /* consecutive non-ok probes */
        unsigned auth_failures;         /* consecutive auth probes */
        usec_t failing_since;           /* first failure of the current run, 0 when the last probe was ok */
        usec_t last_probe, last_ok;

        ProblemState down, auth;

        /* the current credential generation and what was sent for it: a
         * threshold is due only when it is nearer than every threshold
         * sent (expiry_threshold_due()), so the nearest one sent is all
         * that needs keeping */
        bool has_credential;
        uint64_t generation;
        usec_t generated;
        unsigned expiry_sent;           /* the nearest threshold sent, 0 if none (see below) */
        usec_t expired_sent;            /* last credential-expired alert, 0 if none */

        /* the endpoint certificate last seen and what was sent for it */
        char cert_sha256[65];
        char *cert_subject;             /* NULL: none */
        usec_t cert_not_after;
        unsigned cert_sent;             /* the nearest threshold sent, 0 if none */
} LinkAlertState;

/* What the engine needs from the configuration, for one link. */
typedef struct AlertPolicy {
        const Tz *tz;
        unsigned failures_before_alert;
        usec_t repeat;
        usec_t lifetime;
        const unsigned *expiry_warn_days;
        size_t n_expiry_warn_days;
        const unsigned *cert_warn_days;
        size_t n_cert_warn_days;
} AlertPolicy;

void alert_policy_init(AlertPolicy *p, const Config *c, const LinkConfig *l);

typedef struct AlertList {
        Alert *alerts;
        size_t n;
} AlertList;

void alert_list_done(AlertList *l);

/* A new credential generation (set, rotated or imported): the expiry
 * alerts of the old generation no longer apply. */
/* A link's state holds two strings (the last error of each problem, the
 * certificate's subject) on the heap rather than in fixed buffers: a daemon
 * keeps one state per link, for thousands of links. This frees them and
 * resets the state. */
void alert_state_done(LinkAlertState *s);
void alert_state_set_credential(LinkAlertState *s, uint64_t generation, usec_t generated);
void alert_state_clear_credential(LinkAlertState *s);

/* Feeds a probe result. held: the link is in a maintenance window or
 * silenced. Appends the alerts raised to out. */
int alert_engine_probe(const AlertPolicy *p, const char *link, LinkAlertState *s, const ProbeResult *r, usec_t now,
                       bool held, AlertList *out);
/* Evaluates time-driven alerts: credential expiry warnings and expired
 * reminders, reminders of open problems, and problems held by a window or
 * silence that has ended. */
int alert_engine_tick(const AlertPolicy *p, const char *link, LinkAlertState *s, usec_t now, bool held,
                      AlertList *out);
/* When alert_engine_tick() may next have something to do (wall clock),
 * USEC_INFINITY if nothing is pending. Window ends are the caller's. */
usec_t alert_engine_next_tick(const AlertPolicy *p, const LinkAlertState *s, usec_t now);

/* The link states of SPEC, worst first. */
typedef enum LinkState {
        LINK_STATE_EXPIRED,
        LINK_STATE_AUTH_REJECTED,
        LINK_STATE_DOWN,
        LINK_STATE_EXPIRING,
        LINK_STATE_CERT_EXPIRING,
        LINK_STATE_MAINTENANCE,
        LINK_STATE_SILENCED,
        LINK_STATE_UNCONFIGURED,
        LINK_STATE_UNKNOWN,
        LINK_STATE_OK,
        _LINK_STATE_MAX,
        _LINK_STATE_INVALID = -EINVAL,
} LinkState;

const char *link_state_to_string(LinkState s);
LinkState link_state_from_string(const char *s);

/* The state of a link and all the problems it holds (a bit set of
 * 1 << LinkState, for the problems array of status). */
LinkState alert_engine_link_state(const AlertPolicy *p, const LinkAlertState *s, usec_t now, bool in_maintenance,
                                  bool silenced, unsigned *ret_problems);
