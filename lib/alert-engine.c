/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "alert-engine.h"

#include <stdio.h>

static const char *const link_state_table[_LINK_STATE_MAX] = {
        [LINK_STATE_EXPIRED] = "expired",
        [LINK_STATE_AUTH_REJECTED] = "auth-rejected",
        [LINK_STATE_DOWN] = "down",
        [LINK_STATE_EXPIRING] = "expiring",
        [LINK_STATE_CERT_EXPIRING] = "cert-expiring",
        [LINK_STATE_MAINTENANCE] = "maintenance",
        [LINK_STATE_SILENCED] = "silenced",
        [LINK_STATE_UNCONFIGURED] = "unconfigured",
        [LINK_STATE_UNKNOWN] = "unknown",
        [LINK_STATE_OK] = "ok",
};

const char *link_state_to_string(LinkState s) {
        return s >= 0 && s < _LINK_STATE_MAX ? link_state_table[s] : NULL;
}

LinkState link_state_from_string(const char *s) {
        for (int i = 0; s && i < _LINK_STATE_MAX; i++)
                if (streq(link_state_table[i], s))
                        return i;
        return _LINK_STATE_INVALID;
}

void alert_policy_init(AlertPolicy *p, const Config *c, const LinkConfig *l) {
        *p = (AlertPolicy) {
                .tz = c->tz,
                .failures_before_alert = l ? l->probe.failures_before_alert : c->probe.failures_before_alert,
                .repeat = c->repeat,
                .lifetime = l ? l->probe.lifetime : c->probe.lifetime,
                .expiry_warn_days = c->expiry_warn_days,
                .n_expiry_warn_days = c->n_expiry_warn_days,
                .cert_warn_days = c->cert_warn_days,
                .n_cert_warn_days = c->n_cert_warn_days,
        };
}

void alert_list_done(AlertList *l) {
        for (size_t i = 0; i < l->n; i++)
                alert_done(&l->alerts[i]);
        free(l->alerts);
        *l = (AlertList) {};
}

/* Appends a new alert of the given kind and returns it for filling in. */
static Alert *alert_list_add(AlertList *l, AlertKind kind, const char *link, usec_t now) {
        Alert *a = realloc(l->alerts, (l->n + 1) * sizeof(Alert));
        if (!a)
                return NULL;
        l->alerts = a;
        a = &l->alerts[l->n];
        *a = ALERT_NULL;
        a->kind = kind;
        a->time = now;
        a->link = strdup(link);
        if (!a->link)
                return NULL;
        l->n++;
        return a;
}

void alert_state_done(LinkAlertState *s) {
        if (!s)
                return;
        free(s->down.last_error);
        free(s->auth.last_error);
        free(s->cert_subject);
        *s = (LinkAlertState) {};
        s->down.last_class = s->auth.last_class = _PROBE_CLASS_INVALID;
}

void alert_state_set_credential(LinkAlertState *s, uint64_t generation, usec_t generated) {
        if (!s->has_credential || s->generation != generation) {
                s->expiry_sent = 0;
                s->expired_sent = 0;
        }
        s->has_credential = true;
        s->generation = generation;
        s->generated = generated;
}

void alert_state_clear_credential(LinkAlertState *s) {
        s->has_credential = false;
        s->generation = 0;
        s->generated = 0;
        s->expiry_sent = 0;
        s->expired_sent = 0;
}

static void problem_reset(ProblemState *p) {
        free(p->last_error);
        *p = (ProblemState) { .last_class = _PROBE_CLASS_INVALID };
}

/* Replaces *dst with a copy of src, NULL when src is empty. */
static int string_replace(char **dst, const char *src) {
        char *c = NULL;
        if (!isempty(src) && !(c = strdup(src)))
                return -ENOMEM;
        free(*dst);
        *dst = c;
        return 0;
}

static int problem_alert(const ProblemState *p, AlertKind kind, const char *link, usec_t now, bool held,
                         bool reminder, AlertList *out) {
        Alert *a = alert_list_add(out, kind, link, now);
        if (!a)
                return -ENOMEM;
        a->held = held;
        a->reminder = reminder;
        a->failure = p->last_class;
        a->http_status = p->last_http_status;
        a->since = p->since;
        a->failures = p->failures;
        if (p->last_error && !(a->error = strdup(p->last_error)))
                return -ENOMEM;
        return 0;
}

/* Notifies a problem whose condition has just been reached: at once, or,
 * when held, as an info-level notice once, to be sent when the hold ends. */
static int problem_notify(ProblemState *p, AlertKind kind, const char *link, usec_t now, bool held, AlertList *out) {
        if (p->notified)
                return 0;
        if (held) {
                if (p->last_notified)
                        return 0;
                p->last_notified = now;
                return problem_alert(p, kind, link, now, true, false, out);
        }
        p->notified = p->last_notified = now;
        return problem_alert(p, kind, link, now, false, false, out);
}

static int problem_record(ProblemState *p, const ProbeResult *r) {
        p->failures++;
        p->last_class = r->klass;
        p->last_http_status = r->http_status;
        return string_replace(&p->last_error, r->error);
}

static int cert_evaluate(const AlertPolicy *p, const char *link, LinkAlertState *s, usec_t now, AlertList *out) {
        Expiry e;
        unsigned t;
        if (!s->cert_not_after || !s->cert_sha256[0])
                return 0;
        expiry_compute_at(p->tz, s->cert_not_after, now, &e);
        if (expiry_threshold_due(p->cert_warn_days, p->n_cert_warn_days, &s->cert_sent, s->cert_sent > 0, &e, &t) <= 0)
                return 0;
        Alert *a = alert_list_add(out, ALERT_ENDPOINT_CERT_EXPIRING, link, now);
        if (!a)
                return -ENOMEM;
        a->expires = s->cert_not_after;
        a->days_left = e.days_left;
        a->threshold = t;
        if (!(a->cert_sha256 = strdup(s->cert_sha256)) || !(a->cert_subject = strdup(s->cert_subject ?: "")))
                return -ENOMEM;
        s->cert_sent = t;       /* nearer than any sent before, or it would not be due */
        return 0;
}

int alert_engine_probe(const AlertPolicy *p, const char *link, LinkAlertState *s, const ProbeResult *r, usec_t now,
                       bool held, AlertList *out) {
        int k;

        s->last_probe = now;

        /* A certificate seen for the first time (by fingerprint) starts its
         * thresholds afresh. */
        if (r->cert_sha256[0] && r->cert_not_after) {
                if (!streq(s->cert_sha256, r->cert_sha256)) {
                        snprintf(s->cert_sha256, sizeof s->cert_sha256, "%s", r->cert_sha256);
                        s->cert_sent = 0;
                }
                k = string_replace(&s->cert_subject, r->cert_subject);
                if (k < 0)
                        return k;
                s->cert_not_after = r->cert_not_after;
                k = cert_evaluate(p, link, s, now, out);
                if (k < 0)
                        return k;
        }

        if (r->klass == PROBE_OK) {
                /* Recovery is announced only for a problem that was notified. */
                const ProblemState *was = s->auth.open && s->auth.notified ? &s->auth
                                          : s->down.open && s->down.notified ? &s->down
                                                                            : NULL;
                if (was) {
                        Alert *a = alert_list_add(out, ALERT_LINK_RECOVERED, link, now);
                        if (!a)
                                return -ENOMEM;
                        a->failure = was->last_class;
                        a->http_status = was->last_http_status;
                        a->since = was->since;
                        a->failures = was->failures;
                }
                problem_reset(&s->down);
                problem_reset(&s->auth);
                s->failures = s->auth_failures = 0;
                s->failing_since = 0;
                s->last_ok = now;
                return 0;
        }

        if (s->failures == 0)
                s->failing_since = now;
        s->failures++;

        if (r->klass == PROBE_AUTH) {
                if (s->auth_failures == 0 && !s->auth.open) {
                        problem_reset(&s->auth);
                        s->auth.since = now;
                }
                s->auth_failures++;
                k = problem_record(&s->auth, r);
                if (k < 0)
                        return k;
                if (s->auth_failures >= 2) {
                        s->auth.open = true;
                        k = problem_notify(&s->auth, ALERT_AUTH_REJECTED, link, now, held, out);
                        if (k < 0)
                                return k;
                }
        } else
                s->auth_failures = 0;

        /* link-down counts every failure of the run, but is raised by a
         * failure that is not a refused credential (that is auth-rejected). */
        if (s->down.open || (r->klass != PROBE_AUTH && s->failures >= p->failures_before_alert)) {
                if (!s->down.open) {
                        problem_reset(&s->down);
                        s->down.open = true;
                        s->down.since = s->failing_since;
                        s->down.failures = s->failures - 1;
                }
                k = problem_record(&s->down, r);
                if (k < 0)
                        return k;
                k = problem_notify(&s->down, ALERT_LINK_DOWN, link, now, held, out);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int problem_tick(const AlertPolicy *p, ProblemState *pr, AlertKind kind, const char *link, usec_t now,
                        bool held, AlertList *out) {
        if (!pr->open)
                return 0;
        if (!pr->notified)
                /* held until now: sent when the hold is over */
                return problem_notify(pr, kind, link, now, held, out);
        if (now < pr->last_notified + p->repeat)
                return 0;
        pr->last_notified = now;
        return problem_alert(pr, kind, link, now, held, true, out);
}

int alert_engine_tick(const AlertPolicy *p, const char *link, LinkAlertState *s, usec_t now, bool held,
                      AlertList *out) {
        int k;

        if (s->has_credential) {
                Expiry e;
                unsigned t;
                expiry_compute(p->tz, s->generated, p->lifetime, now, &e);
                if (!e.expired &&
                    expiry_threshold_due(p->expiry_warn_days, p->n_expiry_warn_days, &s->expiry_sent,
                                         s->expiry_sent > 0, &e, &t) > 0) {
                        /* expiry warnings are never held */
                        Alert *a = alert_list_add(out, ALERT_CREDENTIAL_EXPIRING, link, now);
                        if (!a)
                                return -ENOMEM;
                        a->generation = s->generation;
                        a->expires = e.expires;
                        a->days_left = e.days_left;
                        a->threshold = t;
                        s->expiry_sent = t;
                } else if (e.expired && (!s->expired_sent || now >= s->expired_sent + p->repeat)) {
                        Alert *a = alert_list_add(out, ALERT_CREDENTIAL_EXPIRED, link, now);
                        if (!a)
                                return -ENOMEM;
                        a->generation = s->generation;
                        a->expires = e.expires;
                        a->days_left = e.days_left;
                        a->reminder = s->expired_sent != 0;
                        s->expired_sent = now;
                }
        }
        k = problem_tick(p, &s->auth, ALERT_AUTH_REJECTED, link, now, held, out);
        if (k < 0)
                return k;
        k = problem_tick(p, &s->down, ALERT_LINK_DOWN, link, now, held, out);
        if (k < 0)
                return k;
        return cert_evaluate(p, link, s, now, out);
}

usec_t alert_engine_next_tick(const AlertPolicy *p, const LinkAlertState *s, usec_t now) {
        usec_t next = USEC_INFINITY;
        if (s->has_credential) {
                Expiry e;
                expiry_compute(p->tz, s->generated, p->lifetime, now, &e);
                if (!e.expired)
                        next = MIN(next, expiry_next_change(p->tz, &e, now));
                else
                        next = MIN(next, s->expired_sent ? s->expired_sent + p->repeat : now);
        }
        const ProblemState *probs[] = { &s->auth, &s->down };
        for (size_t i = 0; i < ELEMENTSOF(probs); i++)
                if (probs[i]->open && probs[i]->notified)
                        next = MIN(next, probs[i]->last_notified + p->repeat);
        if (s->cert_not_after && p->n_cert_warn_days > 0) {
                Expiry e;
                expiry_compute_at(p->tz, s->cert_not_after, now, &e);
                if (!e.expired)
                        next = MIN(next, expiry_next_change(p->tz, &e, now));
        }
        return next;
}

static unsigned max_threshold(const unsigned *v, size_t n) {
        unsigned m = 0;
        for (size_t i = 0; i < n; i++)
                m = MAX(m, v[i]);
        return m;
}

LinkState alert_engine_link_state(const AlertPolicy *p, const LinkAlertState *s, usec_t now, bool in_maintenance,
                                  bool silenced, unsigned *ret_problems) {
        unsigned bits = 0;
        if (s->has_credential) {
                Expiry e;
                expiry_compute(p->tz, s->generated, p->lifetime, now, &e);
                if (e.expired)
                        bits |= 1u << LINK_STATE_EXPIRED;
                else if (p->n_expiry_warn_days > 0 &&
                         e.days_left <= (int64_t) max_threshold(p->expiry_warn_days, p->n_expiry_warn_days))
                        bits |= 1u << LINK_STATE_EXPIRING;
                if (s->last_probe == 0)
                        bits |= 1u << LINK_STATE_UNKNOWN;
        } else
                bits |= 1u << LINK_STATE_UNCONFIGURED;
        if (s->auth.open)
                bits |= 1u << LINK_STATE_AUTH_REJECTED;
        if (s->down.open)
                bits |= 1u << LINK_STATE_DOWN;
        if (s->cert_not_after && p->n_cert_warn_days > 0 &&
            calendar_days_between(p->tz, now, s->cert_not_after) <=
                    (int64_t) max_threshold(p->cert_warn_days, p->n_cert_warn_days))
                bits |= 1u << LINK_STATE_CERT_EXPIRING;
        if (in_maintenance)
                bits |= 1u << LINK_STATE_MAINTENANCE;
        if (silenced)
                bits |= 1u << LINK_STATE_SILENCED;
        if (ret_problems)
                *ret_problems = bits;
        for (int i = 0; i < _LINK_STATE_MAX; i++)
                if (bits & (1u << i))
                        return i;
        return LINK_STATE_OK;
}
