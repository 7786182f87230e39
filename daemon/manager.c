/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "manager.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "build-config.h"
#include "control.h"
#include "daemon-log.h"
#include "journal.h"
#include "metrics-writer.h"
#include "strbuf.h"
#include "strv.h"

#define DEFAULT_STATE_DIRECTORY TOMSLINK_LOCALSTATEDIR "/lib/tomslink"
#define DEFAULT_RUNTIME_DIRECTORY TOMSLINK_RUNSTATEDIR "/tomslink"
#define STOP_TIMEOUT_USEC (3 * USEC_PER_SEC)
/* a link's probe history is pruned to its limit at its first write and
 * then every this many (a prune walks the whole history) */
#define PROBE_HISTORY_PRUNE_EVERY 32
/* probe results held before the flush is done at once, whatever else the
 * loop has to do */
#define PENDING_PROBES_MAX 256
/* how long probe history and counters may wait to be written with what
 * comes next: links probed a few a second share a transaction */
#define FLUSH_DELAY USEC_PER_SEC
/* Link.stored_problems */
#define PROBLEM_BIT(kind) ((uint8_t) ((kind) == ALERT_LINK_DOWN ? 1u : (kind) == ALERT_AUTH_REJECTED ? 2u : 0u))
/* While the state database refuses writes, they are tried again this often. */
#define WRITE_RETRY_USEC (10 * USEC_PER_SEC)
/* Alerts kept in memory while they cannot be written, at most. */
#define UNSAVED_ALERTS_MAX 1000U

/* ---- links ----------------------------------------------------------------- */

static Link *link_free(Link *l) {
        if (!l)
                return NULL;
        free(l->name);
        free(l->silence_reason);
        probe_summary_done(&l->last);
        alert_state_done(&l->alert);
        credential_info_done(&l->credential);
        return mfree(l);
}

static void link_set_last(Link *l, const ProbeResult *r) {
        probe_summary_set(&l->last, r);
        l->has_last = true;
}

void manager_link_last_probe(const Link *l, ProbeResult *ret) {
        *ret = (ProbeResult) {
                .klass = l->last.klass,
                .http_status = l->last.http_status,
                .time = l->last.time,
                .dns = l->last.dns,
                .connect = l->last.connect,
                .tls = l->last.tls,
                .first_byte = l->last.first_byte,
                .total = l->last.total,
        };
        snprintf(ret->error, sizeof ret->error, "%s", l->last.error ?: "");
        if (l->last.read_cert) {
                ret->cert_not_after = l->alert.cert_not_after;
                snprintf(ret->cert_subject, sizeof ret->cert_subject, "%s", l->alert.cert_subject ?: "");
                snprintf(ret->cert_sha256, sizeof ret->cert_sha256, "%s", l->alert.cert_sha256);
        }
}

static int link_cmp(const void *a, const void *b) {
        return strcmp((*(Link *const *) a)->name, (*(Link *const *) b)->name);
}

Link *manager_find_link(Manager *m, const char *name) {
        size_t lo = 0, hi = m->n_links;
        if (!name)
                return NULL;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int d = strcmp(name, m->links[mid]->name);
                if (d == 0)
                        return m->links[mid];
                if (d < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

static void problem_from_store(ProblemState *dst, const Problem *p) {
        *dst = (ProblemState) {
                .open = true,
                .since = p->since,
                .failures = p->failures,
                .last_class = p->last_class,
                .last_http_status = p->last_http_status,
                .notified = p->notified,
                .last_notified = p->last_notified,
                .last_error = isempty(p->last_error) ? NULL : strdup(p->last_error),
        };
}

static void scope_generation(char *buf, size_t n, uint64_t generation) {
        snprintf(buf, n, "gen:%llu", (unsigned long long) generation);
}

static void scope_cert(char *buf, size_t n, const char *sha256) {
        snprintf(buf, n, "cert:%s", sha256);
}

static void scope_problem(char *buf, size_t n, usec_t since) {
        snprintf(buf, n, "problem:%llu", (unsigned long long) since);
}

/* What the store holds about one link: its slice of each bulk read. */
typedef struct LinkStored {
        CredentialInfo *credential;             /* taken by the link; NULL: none */
        const LinkCounters *counters;           /* NULL: never probed */
        const Problem *problems;
        size_t n_problems;
        const LedgerRecord *expiring, *expired, *cert;
        size_t n_expiring, n_expired, n_cert;
        const Silence *silence;                 /* NULL: not silenced */
        bool has_last;
        ProbeResult last;                       /* the newest probe result */
        ProbeResult cert_probe;                 /* the newest certificate reading */
} LinkStored;

/* The nearest threshold the ledger has sent in scope, 0 if none. */
static unsigned ledger_nearest_threshold(const LedgerRecord *v, size_t n, const char *scope) {
        unsigned nearest = 0;
        for (size_t i = 0; i < n; i++)
                if (v[i].threshold > 0 && v[i].threshold <= UINT_MAX && streq(v[i].scope, scope) &&
                    (nearest == 0 || (unsigned) v[i].threshold < nearest))
                        nearest = (unsigned) v[i].threshold;
        return nearest;
}

/* Restores what the alert engine knew about a link. */
static void link_restore(Manager *m, Link *l, LinkStored *st) {
        char scope[96];

        alert_state_done(&l->alert);
        credential_info_done(&l->credential);
        l->has_credential = false;

        if (st->credential) {
                l->credential = *st->credential;
                *st->credential = (CredentialInfo) {};
                l->has_credential = true;
                alert_state_set_credential(&l->alert, l->credential.generation, l->credential.generated);
                scope_generation(scope, sizeof scope, l->credential.generation);
                l->alert.expiry_sent = ledger_nearest_threshold(st->expiring, st->n_expiring, scope);
                for (size_t i = 0; i < st->n_expired; i++)
                        if (streq(st->expired[i].scope, scope))
                                l->alert.expired_sent = MAX(l->alert.expired_sent, st->expired[i].time);
        }

        if (st->counters) {
                l->alert.failures = st->counters->failures;
                l->alert.auth_failures = st->counters->auth_failures;
                l->alert.last_probe = st->counters->last_probe;
                l->alert.last_ok = st->counters->last_ok;
        }

        l->stored_problems = 0;
        for (size_t i = 0; i < st->n_problems; i++) {
                const Problem *p = &st->problems[i];
                if (p->kind == ALERT_LINK_DOWN)
                        problem_from_store(&l->alert.down, p);
                else if (p->kind == ALERT_AUTH_REJECTED)
                        problem_from_store(&l->alert.auth, p);
                l->stored_problems |= PROBLEM_BIT(p->kind);
                if (!l->alert.failing_since || p->since < l->alert.failing_since)
                        l->alert.failing_since = p->since;
        }
        if (l->alert.failures > 0 && !l->alert.failing_since)
                l->alert.failing_since = l->alert.last_probe;

        l->has_last = false;
        if (st->has_last)
                link_set_last(l, &st->last);
        if (st->has_last && st->cert_probe.cert_sha256[0] && st->cert_probe.cert_not_after) {
                snprintf(l->alert.cert_sha256, sizeof l->alert.cert_sha256, "%s", st->cert_probe.cert_sha256);
                l->alert.cert_subject = isempty(st->cert_probe.cert_subject) ? NULL : strdup(st->cert_probe.cert_subject);
                l->alert.cert_not_after = st->cert_probe.cert_not_after;
                scope_cert(scope, sizeof scope, l->alert.cert_sha256);
                l->alert.cert_sent = ledger_nearest_threshold(st->cert, st->n_cert, scope);
        }

        free(l->silence_reason);
        l->silence_reason = NULL;
        l->silenced_until = 0;
        if (st->silence) {
                l->silenced_until = st->silence->until;
                l->silence_reason = st->silence->reason ? strdup(st->silence->reason) : NULL;
        }
}

static int link_ptr_cmp(const void *a, const void *b) {
        return strcmp((*(Link *const *) a)->name, (*(Link *const *) b)->name);
}

/* The records of one link in an array sorted by link: skips those before
 * it, returns where its own start and how many there are. Records without
 * a link sort first. */
#define SLICE(a, n, field, i, name, ret_start, ret_n)                                     \
        do {                                                                            \
                while (*(i) < (n) && strcmp((a)[*(i)].field ?: "", (name)) < 0)         \
                        (*(i))++;                                                       \
                *(ret_start) = *(i);                                                    \
                while (*(i) < (n) && streq((a)[*(i)].field ?: "", (name)))              \
                        (*(i))++;                                                       \
                *(ret_n) = *(i) - *(ret_start);                                         \
        } while (0)

/* Restores the state of links from the store with one query per table
 * (and two index lookups per link for its latest probe results), all in
 * one transaction, instead of eight queries and transactions per link. */
static int manager_load_states(Manager *m, Link **links, size_t n) {
        CredentialInfo *creds = NULL;
        LinkCountersEntry *counters = NULL;
        Problem *problems = NULL;
        LedgerRecord *expiring = NULL, *expired = NULL, *certs = NULL;
        Silence *silences = NULL;
        size_t n_creds = 0, n_counters = 0, n_problems = 0, n_expiring = 0, n_expired = 0, n_certs = 0, n_silences = 0;
        _cleanup_free_ Link **sorted = NULL;
        int r;

        if (n == 0)
                return 0;
        sorted = reallocarray(NULL, n, sizeof(Link *));
        if (!sorted)
                return -ENOMEM;
        memcpy(sorted, links, n * sizeof(Link *));
        qsort(sorted, n, sizeof(Link *), link_ptr_cmp);

        /* one snapshot, one lock */
        r = store_begin_relaxed(m->store);
        if (r < 0)
                return r;
        if ((r = store_credential_list(m->store, &creds, &n_creds)) < 0 ||
            (r = store_counters_list(m->store, &counters, &n_counters)) < 0 ||
            (r = store_problem_list(m->store, NULL, &problems, &n_problems)) < 0 ||
            (r = store_ledger_list(m->store, ALERT_CREDENTIAL_EXPIRING, &expiring, &n_expiring)) < 0 ||
            (r = store_ledger_list(m->store, ALERT_CREDENTIAL_EXPIRED, &expired, &n_expired)) < 0 ||
            (r = store_ledger_list(m->store, ALERT_ENDPOINT_CERT_EXPIRING, &certs, &n_certs)) < 0 ||
            (r = store_silence_list(m->store, clock_realtime(m->clock), &silences, &n_silences)) < 0)
                goto finish;

        size_t ic = 0, in = 0, ip = 0, ie = 0, ix = 0, it = 0, is = 0, start, k;
        for (size_t j = 0; j < n; j++) {
                Link *l = sorted[j];
                LinkStored st = {};

                SLICE(creds, n_creds, link, &ic, l->name, &start, &k);
                st.credential = k > 0 ? &creds[start] : NULL;
                SLICE(counters, n_counters, link, &in, l->name, &start, &k);
                st.counters = k > 0 ? &counters[start].counters : NULL;
                SLICE(problems, n_problems, link, &ip, l->name, &start, &st.n_problems);
                st.problems = problems + start;
                SLICE(expiring, n_expiring, link, &ie, l->name, &start, &st.n_expiring);
                st.expiring = expiring + start;
                SLICE(expired, n_expired, link, &ix, l->name, &start, &st.n_expired);
                st.expired = expired + start;
                SLICE(certs, n_certs, link, &it, l->name, &start, &st.n_cert);
                st.cert = certs + start;
                SLICE(silences, n_silences, link, &is, l->name, &start, &k);
                st.silence = k > 0 ? &silences[start] : NULL;

                r = store_probe_latest(m->store, l->name, &st.last, &st.cert_probe);
                if (r == -ENOENT)
                        r = 0;
                else if (r >= 0)
                        st.has_last = true;
                else {
                        log_error_errno(r, "%s: cannot load its probe history", l->name);
                        goto finish;
                }
                link_restore(m, l, &st);
        }
        r = 0;

finish:
        if (r >= 0)
                r = store_commit(m->store);
        else
                (void) store_rollback(m->store);
        credential_info_array_free(creds, n_creds);
        link_counters_entry_array_free(counters, n_counters);
        problem_array_free(problems, n_problems);
        ledger_record_array_free(expiring, n_expiring);
        ledger_record_array_free(expired, n_expired);
        ledger_record_array_free(certs, n_certs);
        silence_array_free(silences, n_silences);
        return r;
}

static int link_new(Manager *m, const LinkConfig *lc, Link **ret) {
        Link *l = calloc(1, sizeof(Link));
        if (!l)
                return -ENOMEM;
        l->name = strdup(lc->name);
        if (!l->name) {
                free(l);
                return -ENOMEM;
        }
        l->config = lc;
        *ret = l;
        return 0;
}

/* ---- state ------------------------------------------------------------------- */

static void problem_to_store(Problem *dst, const char *link, AlertKind kind, const ProblemState *p) {
        *dst = (Problem) {
                .link = (char *) link,
                .kind = kind,
                .since = p->since,
                .failures = p->failures,
                .last_class = p->last_class,
                .last_http_status = p->last_http_status,
                .last_error = (char *) p->last_error,
                .notified = p->notified,
                .last_notified = p->last_notified,
        };
}

static int link_save(Manager *m, Link *l) {
        LinkCounters c = {
                .failures = l->alert.failures,
                .auth_failures = l->alert.auth_failures,
                .last_probe = l->alert.last_probe,
                .last_ok = l->alert.last_ok,
        };
        int r = store_counters_put(m->store, l->name, &c);
        if (r < 0)
                return r;
        const struct {
                AlertKind kind;
                const ProblemState *p;
        } problems[] = { { ALERT_LINK_DOWN, &l->alert.down }, { ALERT_AUTH_REJECTED, &l->alert.auth } };
        for (size_t i = 0; i < ELEMENTSOF(problems); i++) {
                if (problems[i].p->open) {
                        Problem p;
                        problem_to_store(&p, l->name, problems[i].kind, problems[i].p);
                        r = store_problem_put(m->store, &p);
                        l->stored_problems |= PROBLEM_BIT(problems[i].kind);
                } else if (l->stored_problems & PROBLEM_BIT(problems[i].kind)) {
                        /* the bit goes once this is committed */
                        r = store_problem_delete(m->store, l->name, problems[i].kind);
                        if (r == -ENOENT)
                                r = 0;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool link_writes_problems(const Link *l) {
        return l->alert.down.open || l->alert.auth.open || l->stored_problems != 0;
}

/* ---- writes the state database refused ---------------------------------------- */

static int on_write_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        (void) sd_event_source_set_enabled(m->flush_event, SD_EVENT_ONESHOT);
        return 0;
}

/* A write the state database refused: a full disk, an I/O error, a
 * read-only file system. Logged once per condition, not once per probe.
 * Probing and alerting go on (alerts reach the journal); the link state
 * and what an alert still has to write stay in memory and are written
 * when the database takes writes again, tried every WRITE_RETRY_USEC. */
static void manager_write_failed(Manager *m, int error, const char *what) {
        int r;

        error = error < 0 ? error : -error;
        if (error != m->write_error) {
                log_error_errno(error,
                                "Cannot write to the state database %s/%s (%s); probing and alerts go on, link state "
                                "and alert e-mails are kept in memory and written once it works again",
                                m->state_directory, STORE_FILE_NAME, what);
                if (m->status_event)
                        (void) sd_event_source_set_enabled(m->status_event, SD_EVENT_ONESHOT);
        } else
                log_debug("State database still not writable (%s): %s", what, strerror(-error));
        m->write_error = error;

        if (m->retry_timer) {
                r = sd_event_source_set_time_relative(m->retry_timer, WRITE_RETRY_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->retry_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(m->event, &m->retry_timer, CLOCK_BOOTTIME, WRITE_RETRY_USEC,
                                               USEC_PER_SEC, on_write_retry, m);
        if (r < 0)
                log_warning_errno(r, "Cannot schedule another write attempt; the next change tries again");
}

static void manager_write_ok(Manager *m) {
        if (m->write_error == 0)
                return;
        log_notice("The state database %s/%s is writable again; the state and alerts kept in memory are written",
                   m->state_directory, STORE_FILE_NAME);
        m->write_error = 0;
        m->unsaved_dropped = false;
        if (m->status_event)
                (void) sd_event_source_set_enabled(m->status_event, SD_EVENT_ONESHOT);
}

static int alert_write(Manager *m, Link *l, const Alert *a, const char *summary, bool *ledger, bool *log_entry,
                       bool *mail);

static int write_unsaved(Manager *m) {
        size_t k = 0;
        int ret = 0;

        for (size_t i = 0; i < m->n_unsaved; i++) {
                UnsavedAlert *u = &m->unsaved[i];
                Link *l = u->link ? manager_find_link(m, u->alert.link) : NULL;
                _cleanup_free_ char *summary = alert_summary(&u->alert, m->config->tz);
                int r = summary ? alert_write(m, l, &u->alert, summary, &u->ledger, &u->log, &u->mail) : -ENOMEM;
                if (r < 0 && ret == 0)
                        ret = r;
                if (u->ledger || u->log || u->mail)
                        m->unsaved[k++] = *u;
                else
                        alert_done(&u->alert);
        }
        m->n_unsaved = k;
        if (k == 0)
                m->unsaved = mfree(m->unsaved);
        return ret;
}

/* Writes the alerts that could not be written before, then the pending
 * probe results and the state of every dirty link in one transaction:
 * relaxed (synchronous=NORMAL) for history and counters, durable when a
 * problem is written. On failure the links stay dirty, to be written with
 * the next change or the retry (manager_write_failed()); the probe results
 * are dropped. */
int manager_flush(Manager *m) {
        bool durable = false;
        int r = 0, k;

        if (m->n_dirty == 0 && m->n_pending == 0 && m->n_unsaved == 0)
                return 0;
        if (m->flush_timer)
                (void) sd_event_source_set_enabled(m->flush_timer, SD_EVENT_OFF);
        if (m->n_unsaved > 0)
                r = write_unsaved(m);
        if (m->n_dirty > 0 || m->n_pending > 0) {
                for (size_t i = 0; i < m->n_dirty; i++)
                        durable = durable || link_writes_problems(m->dirty[i]);
                k = durable ? store_begin(m->store) : store_begin_relaxed(m->store);
                if (k >= 0) {
                        for (size_t i = 0; i < m->n_pending && k >= 0; i++) {
                                Link *l = m->pending[i].link;
                                k = store_probe_add(m->store, l->name, &m->pending[i].result);
                                if (k >= 0 && l->history_appends++ % PROBE_HISTORY_PRUNE_EVERY == 0)
                                        k = store_probe_prune(m->store, l->name, 0);
                        }
                        for (size_t i = 0; i < m->n_dirty && k >= 0; i++)
                                k = link_save(m, m->dirty[i]);
                        if (k >= 0)
                                k = store_commit(m->store);
                        else
                                (void) store_rollback(m->store);
                }
                if (k < 0 && m->n_pending > 0)
                        log_debug("%zu probe result%s not recorded in the history", m->n_pending,
                                  m->n_pending == 1 ? "" : "s");
                m->n_pending = 0;
                /* written only once committed; else kept dirty and tried again */
                if (k >= 0) {
                        for (size_t i = 0; i < m->n_dirty; i++) {
                                Link *l = m->dirty[i];
                                if (!l->alert.down.open)
                                        l->stored_problems &= (uint8_t) ~PROBLEM_BIT(ALERT_LINK_DOWN);
                                if (!l->alert.auth.open)
                                        l->stored_problems &= (uint8_t) ~PROBLEM_BIT(ALERT_AUTH_REJECTED);
                                l->dirty = false;
                        }
                        m->n_dirty = 0;
                }
                if (r >= 0)
                        r = k;
        }
        if (r < 0)
                manager_write_failed(m, r, "writing link state");
        else
                manager_write_ok(m);
        return r;
}

static int on_flush(sd_event_source *s, void *userdata) {
        (void) manager_flush(userdata);
        return 0;
}

static void manager_mark_dirty(Manager *m, Link *l) {
        if (!l->dirty) {
                if (m->n_dirty >= m->n_dirty_allocated) {
                        size_t n = MAX(m->n_dirty_allocated * 2, (size_t) 64);
                        Link **a = reallocarray(m->dirty, n, sizeof(Link *));
                        if (!a) {
                                log_error("Out of memory: the state of %s is not written to the store", l->name);
                                return;
                        }
                        m->dirty = a;
                        m->n_dirty_allocated = n;
                }
                m->dirty[m->n_dirty++] = l;
                l->dirty = true;
        }
        /* a problem is written once the loop has nothing else to do; history
         * and counters may wait for the next results (a power cut may lose
         * them anyway: synchronous=NORMAL) */
        int enabled = SD_EVENT_OFF;
        if (link_writes_problems(l)) {
                if (m->flush_event)
                        (void) sd_event_source_set_enabled(m->flush_event, SD_EVENT_ONESHOT);
        } else if (m->flush_timer && sd_event_source_get_enabled(m->flush_timer, &enabled) >= 0 &&
                   enabled == SD_EVENT_OFF) {
                (void) sd_event_source_set_time_relative(m->flush_timer, FLUSH_DELAY);
                (void) sd_event_source_set_enabled(m->flush_timer, SD_EVENT_ONESHOT);
        }
}

static int on_flush_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) manager_flush(userdata);
        return 0;
}

/* Holds a probe result for the next flush. */
static void manager_add_pending(Manager *m, Link *l, const ProbeResult *result) {
        if (m->n_pending >= m->n_pending_allocated) {
                size_t n = MAX(m->n_pending_allocated * 2, (size_t) 16);
                PendingProbe *a = reallocarray(m->pending, n, sizeof(PendingProbe));
                if (!a) {
                        log_error("%s: out of memory, the probe result is not recorded", l->name);
                        return;
                }
                m->pending = a;
                m->n_pending_allocated = n;
        }
        m->pending[m->n_pending++] = (PendingProbe) { .link = l, .result = *result };
        manager_mark_dirty(m, l);
        if (m->n_pending >= PENDING_PROBES_MAX)
                (void) manager_flush(m);
}

/* A link that goes away (reload) leaves the dirty list and the pending
 * probe results. */
static void manager_forget_dirty(Manager *m, Link *l) {
        for (size_t i = 0; i < m->n_pending;)
                if (m->pending[i].link == l)
                        memmove(m->pending + i, m->pending + i + 1, (--m->n_pending - i) * sizeof(PendingProbe));
                else
                        i++;
        if (!l->dirty)
                return;
        for (size_t i = 0; i < m->n_dirty; i++)
                if (m->dirty[i] == l) {
                        m->dirty[i] = m->dirty[--m->n_dirty];
                        break;
                }
        l->dirty = false;
}

/* ---- time windows -------------------------------------------------------------- */

static bool window_applies(const MaintenanceWindow *w, const Link *l) {
        return !w->links || strv_contains(w->links, l->name);
}

bool manager_in_maintenance(Manager *m, const Link *l, usec_t t) {
        for (size_t i = 0; i < m->config->n_maintenance; i++) {
                const MaintenanceWindow *w = &m->config->maintenance[i];
                if (t >= w->start && t < w->end && window_applies(w, l))
                        return true;
        }
        return false;
}

bool manager_is_silenced(Manager *m, const Link *l, usec_t t) {
        return l->silenced_until > t;
}

static bool link_held(Manager *m, const Link *l, usec_t t) {
        return manager_in_maintenance(m, l, t) || manager_is_silenced(m, l, t);
}

LinkState manager_link_state(Manager *m, const Link *l, usec_t now, unsigned *ret_problems) {
        AlertPolicy p;
        alert_policy_init(&p, m->config, l->config);
        return alert_engine_link_state(&p, &l->alert, now, manager_in_maintenance(m, l, now),
                                       manager_is_silenced(m, l, now), ret_problems);
}

/* ---- raising alerts ------------------------------------------------------------- */

static int record_ledger(Manager *m, const Alert *a) {
        char scope[96];
        int64_t threshold = -1;

        switch (a->kind) {
        case ALERT_CREDENTIAL_EXPIRING:
                threshold = a->threshold;
                _fallthrough_;
        case ALERT_CREDENTIAL_EXPIRED:
                scope_generation(scope, sizeof scope, a->generation);
                break;
        case ALERT_ENDPOINT_CERT_EXPIRING:
                threshold = a->threshold;
                scope_cert(scope, sizeof scope, a->cert_sha256 ?: "");
                break;
        case ALERT_AUTH_REJECTED:
        case ALERT_LINK_DOWN:
        case ALERT_LINK_RECOVERED:
                scope_problem(scope, sizeof scope, a->since);
                break;
        default:
                return 0;
        }
        if (!a->link)
                return 0;
        return store_ledger_record(m->store, a->link, a->kind, scope, threshold, a->time);
}

/* Writes what is asked of an alert: its ledger record, its alert log entry,
 * its e-mail into the outbox; clears the flag of each part written.
 * Returns the first error. */
static int alert_write(Manager *m, Link *l, const Alert *a, const char *summary, bool *ledger, bool *log_entry,
                       bool *mail) {
        int r, ret = 0;

        if (*ledger) {
                r = record_ledger(m, a);
                if (r >= 0)
                        *ledger = false;
                else if (ret == 0)
                        ret = r;
        }
        if (*log_entry) {
                r = store_alert_log_append(m->store, a, summary);
                if (r >= 0)
                        *log_entry = false;
                else if (ret == 0)
                        ret = r;
        }
        if (*mail) {
                r = m->mailer ? mailer_queue_alert(m->mailer, a, l ? l->config : NULL, NULL) : 0;
                if (r >= 0)
                        *mail = false;
                else if (r == -EINVAL || r == -EEXIST) {
                        /* not the database's fault: trying again would not help */
                        log_error_errno(r, "%s: cannot queue the %s e-mail (the alert is in the journal)",
                                        a->link ?: "tomslinkd", alert_kind_to_string(a->kind));
                        *mail = false;
                } else if (ret == 0)
                        ret = r;
        }
        return ret;
}

static void keep_unsaved(Manager *m, const Alert *a, bool link, bool ledger, bool log_entry, bool mail) {
        if (m->n_unsaved >= UNSAVED_ALERTS_MAX) {
                if (!m->unsaved_dropped)
                        log_warning("More than %u alerts could not be written to the state database; the later ones "
                                    "are in the journal only", UNSAVED_ALERTS_MAX);
                m->unsaved_dropped = true;
                return;
        }
        UnsavedAlert *v = reallocarray(m->unsaved, m->n_unsaved + 1, sizeof(UnsavedAlert));
        if (!v) {
                log_error("Out of memory while keeping an alert for the state database");
                return;
        }
        m->unsaved = v;
        UnsavedAlert *u = &v[m->n_unsaved];
        *u = (UnsavedAlert) { .link = link, .ledger = ledger, .log = log_entry, .mail = mail };
        if (alert_copy(&u->alert, a) < 0) {
                log_error("Out of memory while keeping an alert for the state database");
                return;
        }
        m->n_unsaved++;
}

void manager_raise(Manager *m, Link *l, AlertList *alerts) {
        for (size_t i = 0; i < alerts->n; i++) {
                Alert *a = &alerts->alerts[i];
                _cleanup_free_ char *summary = alert_summary(a, m->config->tz);
                if (!summary) {
                        log_error("Out of memory while raising an alert");
                        continue;
                }
                if (journal_send_alert(a, summary, m->config->tz, l && l->config ? l->config->cds_code : NULL) < 0)
                        journal_fallback_alert(stderr, a, summary);
                bool ledger = l != NULL, log_entry = true, mail = !a->held && m->mailer;
                int r = alert_write(m, l, a, summary, &ledger, &log_entry, &mail);
                if (r < 0) {
                        manager_write_failed(m, r, "recording an alert");
                        /* raised inside the mailer's own transaction, which the
                         * mailer tries again as a whole */
                        if (a->kind == ALERT_MAIL_UNDELIVERABLE)
                                mail = false;
                        if (ledger || log_entry || mail)
                                keep_unsaved(m, a, l != NULL, ledger, log_entry, mail);
                }
        }
        metrics_writer_count_alerts(m->metrics, alerts);
        alert_list_done(alerts);
        if (m->status_event)
                (void) sd_event_source_set_enabled(m->status_event, SD_EVENT_ONESHOT);
}

/* ---- mail ------------------------------------------------------------------------ */

void manager_queue_mail(Manager *m, Link *l, const Alert *a) {
        if (!m->mailer)
                return;
        int r = mailer_queue_alert(m->mailer, a, l ? l->config : NULL, NULL);
        if (r < 0)
                log_error_errno(r, "%s: cannot queue the %s e-mail (the alert is in the journal)", l ? l->name : "tomslinkd",
                                alert_kind_to_string(a->kind));
}

static void on_mail_event(Mailer *mailer, const MailerEvent *e, void *userdata) {
        /* the outbox counts of the metrics */
        metrics_writer_changed(((Manager *) userdata)->metrics);
        switch (e->type) {
        case MAILER_EVENT_DELIVERED:
                log_info("E-mail delivered: %s", e->subject ?: "");
                break;
        case MAILER_EVENT_REFUSED:
                log_warning("E-mail refused for %s, not retried for that recipient: %s (%s)", e->recipient ?: "?",
                            e->text ?: "", e->subject ?: "");
                break;
        case MAILER_EVENT_RETRY:
                log_warning("E-mail not delivered, will retry (attempt %u): %s", e->attempts, e->text ?: "");
                break;
        case MAILER_EVENT_FAILED:
                log_error("E-mail %s: %s (%s)", e->given_up ? "given up after 24 hours" : "refused by every recipient",
                          e->text ?: "", e->subject ?: "");
                break;
        case MAILER_EVENT_ERROR:
                log_error_errno(e->error, "Mail delivery: %s", e->text ?: "error");
                break;
        default:
                break;
        }
}

static void on_mail_undeliverable(Mailer *mailer, const Alert *a, void *userdata) {
        Manager *m = userdata;
        AlertList l = {};
        /* sent to the journal and queued for email.to only (by the mailer's
         * formatter); one that is itself undeliverable gives no further one */
        l.alerts = calloc(1, sizeof(Alert));
        if (!l.alerts || alert_copy(&l.alerts[0], a) < 0) {
                free(l.alerts);
                log_error("Out of memory while reporting an undeliverable e-mail");
                return;
        }
        l.n = 1;
        manager_raise(m, NULL, &l);
}

static int load_smtp_password(Manager *m, const Config *c, char **ret) {
        *ret = NULL;
        if (!c->email.enabled || !c->email.username)
                return 0;
        int r = smtp_password_load(&c->email, getenv("CREDENTIALS_DIRECTORY"), ret);
        if (r < 0) {
                _cleanup_free_ char *path = smtp_password_path(&c->email, getenv("CREDENTIALS_DIRECTORY"));
                return log_error_errno(r, "Cannot read the SMTP password%s%s", path ? " from " : " (no email.password_file and no systemd credential tomslink.smtp)",
                                       path ?: "");
        }
        return 0;
}

static int manager_setup_mail(Manager *m, const Config *c) {
        char *password = NULL;
        char hostname[256] = "localhost";
        int r;

        if (!c->email.enabled) {
                if (m->mailer) {
                        mailer_stop(m->mailer);
                        m->mailer = mailer_free(m->mailer);
                }
                return 0;
        }
        r = load_smtp_password(m, c, &password);
        if (r < 0)
                return r;
        if (m->mailer)
                r = mailer_set_config(m->mailer, c, password);
        else {
                (void) gethostname(hostname, sizeof hostname - 1);
                MailerCallbacks cb = { .event = on_mail_event, .undeliverable = on_mail_undeliverable, .userdata = m };
                r = mailer_new(m->glue, m->store, m->clock, c, password, hostname, &cb, daemon_logger(), &m->mailer);
        }
        smtp_password_free(password);
        if (r < 0)
                return log_error_errno(r, "Cannot set up e-mail delivery");
        return 0;
}

/* ---- ticks --------------------------------------------------------------------- */

static void link_tick(Manager *m, Link *l, usec_t now) {
        AlertPolicy p;
        AlertList alerts = {};
        alert_policy_init(&p, m->config, l->config);
        int r = alert_engine_tick(&p, l->name, &l->alert, now, link_held(m, l, now), &alerts);
        if (r < 0)
                log_error_errno(r, "%s: failed to evaluate alerts", l->name);
        if (alerts.n > 0)
                manager_mark_dirty(m, l);
        manager_raise(m, l, &alerts);
        l->next_tick = alert_engine_next_tick(&p, &l->alert, now);
        manager_schedule_tick_at(m, l->next_tick);
}

/* The next instant after now at which a window starts or ends or a silence ends. */
static usec_t next_boundary(Manager *m, usec_t now) {
        usec_t next = USEC_INFINITY;
        for (size_t i = 0; i < m->config->n_maintenance; i++) {
                const MaintenanceWindow *w = &m->config->maintenance[i];
                if (w->start > now)
                        next = MIN(next, w->start);
                if (w->end > now)
                        next = MIN(next, w->end);
        }
        for (size_t i = 0; i < m->n_links; i++)
                if (m->links[i]->silenced_until > now)
                        next = MIN(next, m->links[i]->silenced_until);
        return next;
}

static void tick_arm(Manager *m, usec_t t) {
        m->tick_at = t;
        if (t == USEC_INFINITY) {
                (void) sd_event_source_set_enabled(m->tick_timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(m->tick_timer, MAX(t, clock_realtime(m->clock)));
        (void) sd_event_source_set_enabled(m->tick_timer, SD_EVENT_ONESHOT);
}

void manager_schedule_tick(Manager *m) {
        usec_t next = next_boundary(m, clock_realtime(m->clock));
        for (size_t i = 0; i < m->n_links; i++)
                next = MIN(next, m->links[i]->next_tick);
        tick_arm(m, next);
}

void manager_schedule_tick_at(Manager *m, usec_t t) {
        if (m->tick_timer && t < m->tick_at)
                tick_arm(m, t);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        usec_t now = clock_realtime(m->clock);
        m->tick_at = USEC_INFINITY;     /* a one-shot timer that has fired */
        /* a window or silence boundary: every link it touches is re-evaluated */
        for (size_t i = 0; i < m->n_links; i++) {
                Link *l = m->links[i];
                if (l->silenced_until && l->silenced_until <= now) {
                        l->silenced_until = 0;
                        l->next_tick = now;
                }
        }
        for (size_t i = 0; i < m->config->n_maintenance; i++) {
                const MaintenanceWindow *w = &m->config->maintenance[i];
                if (w->end <= now && w->end + 2 * USEC_PER_SEC > now)
                        for (size_t j = 0; j < m->n_links; j++)
                                if (window_applies(w, m->links[j]))
                                        m->links[j]->next_tick = now;
        }
        for (size_t i = 0; i < m->n_links; i++)
                if (m->links[i]->next_tick <= now)
                        link_tick(m, m->links[i], now);
        manager_schedule_tick(m);
        /* a new day (days left), a window or silence begun or ended */
        metrics_writer_changed(m->metrics);
        return 0;
}

/* ---- probes ---------------------------------------------------------------------- */

static int get_credential(void *userdata, const char *link, char **ret_username, char **ret_secret,
                          size_t *ret_secret_size) {
        Manager *m = userdata;
        CredentialInfo info;
        char *secret;
        size_t size;
        int r = store_credential_get_secret(m->store, link, &info, &secret, &size);
        if (r < 0) {
                if (r != -ENOENT)
                        log_error_errno(r, "%s: cannot read the stored credential", link);
                return r;
        }
        *ret_username = TAKE_PTR(info.username);
        credential_info_done(&info);
        *ret_secret = secret;
        *ret_secret_size = size;
        return 0;
}

static void on_probe_done(ProbeEngine *e, const char *name, const ProbeResult *result, void *userdata) {
        Manager *m = userdata;
        Link *l = manager_find_link(m, name);
        AlertPolicy p;
        AlertList alerts = {};
        int r;

        if (!l)
                return;
        usec_t now = clock_realtime(m->clock);
        link_set_last(l, result);
        if (result->klass >= 0 && result->klass < _PROBE_CLASS_MAX)
                l->probes[result->klass]++;
        metrics_writer_changed(m->metrics);
        alert_policy_init(&p, m->config, l->config);
        r = alert_engine_probe(&p, l->name, &l->alert, result, now, link_held(m, l, now), &alerts);
        if (r < 0)
                log_error_errno(r, "%s: failed to evaluate the probe result", l->name);
        /* written with the link's state, once the loop has nothing else to do */
        manager_add_pending(m, l, result);
        manager_raise(m, l, &alerts);
        l->next_tick = alert_engine_next_tick(&p, &l->alert, now);
        manager_schedule_tick_at(m, l->next_tick);

        log_debug("%s: probe %s%s%s", l->name, probe_class_to_string(result->klass), result->error[0] ? ": " : "",
                  result->error);

        /* those waiting for this link's result */
        for (ProbeWaiter **w = &m->waiters; *w;) {
                if (streq((*w)->link, l->name)) {
                        ProbeWaiter *done = *w;
                        *w = done->next;
                        done->func(m, l, result, done->userdata);
                        free(done->link);
                        free(done);
                } else
                        w = &(*w)->next;
        }
        if (m->stopping && probe_engine_in_flight(m->probe) == 0)
                (void) sd_event_exit(m->event, 0);
}

int manager_probe_now(Manager *m, Link *l, ProbeWaiterFunc func, void *userdata) {
        if (!l->has_credential)
                return -ENOKEY;
        int r = probe_engine_probe_now(m->probe, l->name);
        if (r < 0)
                return r;
        if (func) {
                ProbeWaiter *w = calloc(1, sizeof(ProbeWaiter));
                if (!w || !(w->link = strdup(l->name))) {
                        free(w);
                        return -ENOMEM;
                }
                w->func = func;
                w->userdata = userdata;
                w->next = m->waiters;
                m->waiters = w;
        }
        return 0;
}

int manager_credential_changed(Manager *m, Link *l) {
        char scope[96];
        CredentialInfo info;
        int r = store_credential_get(m->store, l->name, &info);
        if (r < 0)
                return r;
        credential_info_done(&l->credential);
        l->credential = info;
        l->has_credential = true;
        if (probe_engine_set_active(m->probe, l->name, true) < 0)
                log_error("%s: cannot schedule its probes", l->name);
        alert_state_set_credential(&l->alert, info.generation, info.generated);
        /* the old generation's expiry alerts no longer apply */
        scope_generation(scope, sizeof scope, info.generation);
        (void) store_ledger_prune(m->store, l->name, ALERT_CREDENTIAL_EXPIRING, scope);
        (void) store_ledger_prune(m->store, l->name, ALERT_CREDENTIAL_EXPIRED, scope);
        manager_mark_dirty(m, l);
        link_tick(m, l, clock_realtime(m->clock));
        metrics_writer_changed(m->metrics);
        return 0;
}

int manager_set_silence(Manager *m, Link *l, usec_t until, const char *reason, uid_t uid) {
        Silence s = {
                .link = l->name,
                .until = until,
                .reason = (char *) reason,
                .uid = uid,
                .created = clock_realtime(m->clock),
        };
        int r = store_silence_set(m->store, &s);
        if (r < 0)
                return r;
        l->silenced_until = until;
        free(l->silence_reason);
        l->silence_reason = reason ? strdup(reason) : NULL;
        manager_schedule_tick_at(m, until);
        metrics_writer_changed(m->metrics);
        return 0;
}

int manager_clear_silence(Manager *m, Link *l) {
        int r = store_silence_delete(m->store, l->name);
        if (r < 0 && r != -ENOENT)
                return r;
        l->silenced_until = 0;
        l->silence_reason = mfree(l->silence_reason);
        /* a problem held by the silence is sent now */
        link_tick(m, l, clock_realtime(m->clock));
        metrics_writer_changed(m->metrics);
        return r == -ENOENT ? 0 : 1;
}

/* ---- status ---------------------------------------------------------------------- */

char *manager_status_line(Manager *m) {
        usec_t now = clock_realtime(m->clock);
        size_t count[_LINK_STATE_MAX] = {};
        const Link *worst = NULL;
        LinkState worst_state = LINK_STATE_OK;
        StrBuf b = STRBUF_NULL;

        for (size_t i = 0; i < m->n_links; i++) {
                LinkState s = manager_link_state(m, m->links[i], now, NULL);
                count[s]++;
                if (s < worst_state && s <= LINK_STATE_CERT_EXPIRING) {
                        worst_state = s;
                        worst = m->links[i];
                }
        }
        strbuf_printf(&b, "%zu link%s", m->n_links, m->n_links == 1 ? "" : "s");
        const char *sep = ": ";
        for (int s = LINK_STATE_OK; s >= 0; s--)   /* ok first, then the rest from least to most severe */
                if (count[s] > 0) {
                        strbuf_printf(&b, "%s%zu %s", sep, count[s], link_state_to_string(s));
                        sep = ", ";
                }
        if (worst) {
                strbuf_printf(&b, " (%s", worst->name);
                if ((worst_state == LINK_STATE_EXPIRING || worst_state == LINK_STATE_EXPIRED) && worst->has_credential) {
                        Expiry e;
                        expiry_compute(m->config->tz, worst->credential.generated, worst->config->probe.lifetime, now, &e);
                        if (e.expired)
                                strbuf_printf(&b, ", expired %lld day%s ago", (long long) -e.days_left,
                                              e.days_left == -1 ? "" : "s");
                        else
                                strbuf_printf(&b, ", %lld day%s", (long long) e.days_left, e.days_left == 1 ? "" : "s");
                }
                strbuf_putc(&b, ')');
        }
        if (m->write_error < 0)
                strbuf_printf(&b, "; state database not writable: %s", strerror(-m->write_error));
        return strbuf_steal(&b);
}

static int on_status(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ char *line = manager_status_line(m);
        if (line && (!m->last_status || !streq(line, m->last_status))) {
                (void) sd_notifyf(false, "STATUS=%s", line);
                free(m->last_status);
                m->last_status = TAKE_PTR(line);
        }
        return 0;
}

/* ---- lifecycle --------------------------------------------------------------------- */

static int resolve_paths(Manager *m) {
        const char *state = m->config->state_directory, *runtime = m->config->runtime_directory;
        _cleanup_free_ char *env_state = NULL, *env_runtime = NULL;
        /* systemd passes colon-separated lists; ours is the first */
        if (!state && getenv("STATE_DIRECTORY")) {
                env_state = strndup(getenv("STATE_DIRECTORY"), strcspn(getenv("STATE_DIRECTORY"), ":"));
                state = env_state;
        }
        if (!runtime && getenv("RUNTIME_DIRECTORY")) {
                env_runtime = strndup(getenv("RUNTIME_DIRECTORY"), strcspn(getenv("RUNTIME_DIRECTORY"), ":"));
                runtime = env_runtime;
        }
        free(m->state_directory);
        free(m->runtime_directory);
        m->state_directory = strdup(isempty(state) ? DEFAULT_STATE_DIRECTORY : state);
        m->runtime_directory = strdup(isempty(runtime) ? DEFAULT_RUNTIME_DIRECTORY : runtime);
        return m->state_directory && m->runtime_directory ? 0 : -ENOMEM;
}

int manager_new(const char *config_path, Config *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof(Manager));
        int r;
        if (!m)
                return -ENOMEM;
        m->config_path = strdup(config_path);
        if (!m->config_path)
                return -ENOMEM;
        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        r = clock_new_system(m->event, &m->clock);
        if (r < 0)
                return r;
        m->config = config;
        r = resolve_paths(m);
        if (r < 0) {
                m->config = NULL;
                return r;
        }
        *ret = TAKE_PTR(m);
        return 0;
}

static void fail_waiters(Manager *m, const char *link) {
        for (ProbeWaiter **w = &m->waiters; *w;) {
                if (!link || streq((*w)->link, link)) {
                        ProbeWaiter *done = *w;
                        *w = done->next;
                        Link *l = manager_find_link(m, done->link);
                        if (l)
                                done->func(m, l, NULL, done->userdata);
                        free(done->link);
                        free(done);
                } else
                        w = &(*w)->next;
        }
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        fail_waiters(m, NULL);
        control_stop(m);
        m->metrics = metrics_writer_free(m->metrics);
        if (m->mailer)
                mailer_stop(m->mailer);
        mailer_free(m->mailer);
        probe_engine_free(m->probe);
        curl_glue_free(m->glue);
        for (size_t i = 0; i < m->n_links; i++)
                link_free(m->links[i]);
        free(m->links);
        free(m->dirty);
        free(m->pending);
        sd_event_source_disable_unref(m->tick_timer);
        sd_event_source_disable_unref(m->flush_event);
        sd_event_source_disable_unref(m->flush_timer);
        sd_event_source_disable_unref(m->status_event);
        sd_event_source_disable_unref(m->stop_timer);
        sd_event_source_disable_unref(m->retry_timer);
        for (size_t i = 0; i < m->n_unsaved; i++)
                alert_done(&m->unsaved[i].alert);
        free(m->unsaved);
        store_close(m->store);
        clock_free(m->clock);
        config_free(m->config);
        sd_event_unref(m->event);
        free(m->config_path);
        free(m->state_directory);
        free(m->runtime_directory);
        free(m->key_source);
        free(m->last_status);
        return mfree(m);
}

static ProbeEngineOptions probe_options(const Config *c) {
        return (ProbeEngineOptions) {
                .max_parallel = c->max_parallel,
                .per_host_parallel = c->per_host_parallel,
        };
}

/* Builds the link table for config, reusing the Links of names that stay
 * (their state is kept); links no longer configured are dropped. */
static int manager_apply_links(Manager *m, const Config *c) {
        _cleanup_free_ Link **links = calloc(MAX(c->n_links, (size_t) 1), sizeof(Link *));
        _cleanup_free_ Link **created = calloc(MAX(c->n_links, (size_t) 1), sizeof(Link *));
        size_t n = 0, n_created = 0;
        int r = 0;
        if (!links || !created)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_links; i++) {
                const LinkConfig *lc = &c->links[i];
                Link *l = manager_find_link(m, lc->name);
                if (!l) {
                        r = link_new(m, lc, &l);
                        if (r < 0)
                                break;
                        created[n_created++] = l;
                }
                links[n++] = l;
        }
        if (r >= 0) {
                r = manager_load_states(m, created, n_created);
                if (r < 0)
                        log_error_errno(r, "Cannot load the links' state from the store");
        }
        if (r < 0) {
                /* undo: free only what was created here */
                for (size_t i = 0; i < n_created; i++)
                        link_free(created[i]);
                return r;
        }
        /* from here on nothing fails: commit; the state of links that go
         * is written first */
        (void) manager_flush(m);
        for (size_t j = 0; j < m->n_links; j++)
                m->links[j]->kept = false;
        for (size_t i = 0; i < n; i++) {
                const LinkConfig *lc = &c->links[i];
                links[i]->config = lc;
                links[i]->kept = true;
                r = probe_engine_set_link(m->probe, lc);
                if (r < 0)
                        log_error_errno(r, "%s: cannot schedule its probes", lc->name);
                /* a link without a credential has nothing to probe with: its
                 * slots would only wake the process up */
                else if (probe_engine_set_active(m->probe, lc->name, links[i]->has_credential) < 0)
                        log_error("%s: cannot schedule its probes", lc->name);
        }
        for (size_t j = 0; j < m->n_links; j++) {
                if (m->links[j]->kept)
                        continue;
                fail_waiters(m, m->links[j]->name);
                manager_forget_dirty(m, m->links[j]);
                probe_engine_remove_link(m->probe, m->links[j]->name);
                log_info("%s: no longer configured; its stored credential and history are kept", m->links[j]->name);
                link_free(m->links[j]);
        }
        free(m->links);
        qsort(links, n, sizeof(Link *), link_cmp);
        m->links = TAKE_PTR(links);
        m->n_links = n;
        return 0;
}

static void manager_tick_all(Manager *m) {
        usec_t now = clock_realtime(m->clock);
        for (size_t i = 0; i < m->n_links; i++)
                link_tick(m, m->links[i], now);
        manager_schedule_tick(m);
}

int manager_reload(Manager *m, char ***ret_errors) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        int r;

        (void) sd_notify(false, "RELOADING=1");
        r = config_load_file(m->config_path, NULL, &c, &errors);
        if (r < 0) {
                STRV_FOREACH(e, errors)
                        log_error("%s", *e);
                log_error("Reload refused: %s is invalid (%zu error%s); the running configuration stays", m->config_path,
                          strv_length(errors), strv_length(errors) == 1 ? "" : "s");
                (void) sd_notify(false, "READY=1");
                if (ret_errors)
                        *ret_errors = TAKE_PTR(errors);
                return -EINVAL;
        }
        if ((c->state_directory && !streq(c->state_directory, m->state_directory)) ||
            (c->key_file && m->config->key_file && !streq(c->key_file, m->config->key_file)))
                log_warning("paths: changes take effect at the next restart");
        r = manager_setup_mail(m, c);
        if (r < 0) {
                (void) sd_notify(false, "READY=1");
                return r;
        }
        r = probe_engine_set_options(m->probe, &(ProbeEngineOptions) { .max_parallel = c->max_parallel,
                                                                        .per_host_parallel = c->per_host_parallel });
        if (r >= 0)
                r = manager_apply_links(m, c);
        if (r < 0) {
                /* the old links still point into the old configuration */
                (void) manager_apply_links(m, m->config);
                (void) manager_setup_mail(m, m->config);
                (void) sd_notify(false, "READY=1");
                return log_error_errno(r, "Reload failed; the running configuration stays");
        }
        config_free(m->config);
        m->config = TAKE_PTR(c);
        manager_tick_all(m);
        metrics_writer_reconfigure(m->metrics);
        _cleanup_free_ char *summary = config_summary(m->config);
        log_info("Configuration reloaded: %s", summary ?: "");
        (void) sd_event_source_set_enabled(m->status_event, SD_EVENT_ONESHOT);
        (void) sd_notify(false, "READY=1");
        if (ret_errors)
                *ret_errors = NULL;
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) manager_reload(userdata, NULL);
        return 0;
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        log_warning("%u probe%s still running at shutdown: abandoned", probe_engine_in_flight(m->probe),
                    probe_engine_in_flight(m->probe) == 1 ? "" : "s");
        return sd_event_exit(m->event, 0);
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        if (m->stopping)
                return 0;
        m->stopping = true;
        (void) sd_notify(false, "STOPPING=1");
        log_info("Stopping (%s)", si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        probe_engine_stop(m->probe);
        if (m->mailer)
                mailer_stop(m->mailer);
        if (probe_engine_in_flight(m->probe) == 0)
                return sd_event_exit(m->event, 0);
        /* finish what is in flight, within a bound */
        return sd_event_add_time_relative(m->event, &m->stop_timer, CLOCK_BOOTTIME, STOP_TIMEOUT_USEC, 0, on_stop_timeout, m);
}

int manager_start(Manager *m) {
        uint8_t key[STORE_KEY_SIZE];
        _cleanup_free_ char *key_file = NULL, *credential = NULL, *db_file = NULL;
        int r;

        if (m->config->key_file)
                key_file = strdup(m->config->key_file);
        else if (asprintf(&key_file, "%s/master.key", m->state_directory) < 0)
                key_file = NULL;
        if (!key_file || asprintf(&db_file, "%s/%s", m->state_directory, STORE_FILE_NAME) < 0)
                return log_error_errno(ENOMEM, "Out of memory");
        /* which file the messages below are about: the systemd credential when there is one */
        const char *credentials = getenv("CREDENTIALS_DIRECTORY");
        if (!isempty(credentials)) {
                if (asprintf(&credential, "%s/%s", credentials, STORE_KEY_CREDENTIAL) < 0)
                        return log_error_errno(ENOMEM, "Out of memory");
                if (access(credential, F_OK) < 0)
                        credential = mfree(credential);
        }
        const char *source = credential ?: key_file;
        /* A key file gone while the database it encrypted is still there was
         * lost or moved: a new key would not open the database, it would
         * only hide what happened. */
        struct stat st;
        if (!credential && access(key_file, F_OK) < 0 && errno == ENOENT && stat(db_file, &st) >= 0 && st.st_size > 0)
                return log_error_errno(ENOKEY,
                                       "The master key is missing: neither the systemd credential %s nor %s exists, "
                                       "but %s was encrypted with one; restore the key from its backup (nothing was "
                                       "changed, no new key was made)",
                                       STORE_KEY_CREDENTIAL, key_file, db_file);
        r = master_key_load(credentials, key_file, key, &m->key_source);
        if (r == -EPERM)
                return log_error_errno(r, "Refusing the master key %s: it must not be readable or writable by group or others (chmod 0600)",
                                       source);
        if (r == -EBADMSG)
                return log_error_errno(r, "The master key %s is not 32 bytes", source);
        if (r < 0)
                return log_error_errno(r, "Cannot load the master key %s", source);

        r = store_open(m->state_directory, key, m->clock, daemon_logger(), &m->store);
        OPENSSL_cleanse(key, sizeof key);
        if (r == -EKEYREJECTED)
                return log_error_errno(r, "The master key %s does not open %s: the data is untouched; restore the right key",
                                       m->key_source, db_file);
        if (r == -EPROTONOSUPPORT)
                return log_error_errno(r, "%s/%s was written by a newer tomslink; refusing to downgrade it",
                                       m->state_directory, STORE_FILE_NAME);
        if (r < 0)
                return log_error_errno(r, "Cannot open the state store in %s", m->state_directory);

        r = curl_glue_global_init();
        if (r < 0)
                return log_error_errno(r, "Cannot initialize libcurl");
        r = curl_glue_new(m->event, NULL, NULL, &m->glue);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the HTTP client");
        ProbeEngineOptions po = probe_options(m->config);
        r = probe_engine_new(m->glue, m->clock, &po, get_credential, on_probe_done, m, daemon_logger(), &m->probe);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the probe engine");

        m->tick_at = USEC_INFINITY;
        r = sd_event_add_time(m->event, &m->tick_timer, CLOCK_REALTIME, USEC_INFINITY, USEC_PER_SEC, on_tick, m);
        if (r >= 0)
                r = sd_event_add_defer(m->event, &m->flush_event, on_flush, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->flush_event, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &m->flush_timer, CLOCK_BOOTTIME, FLUSH_DELAY,
                                               FLUSH_DELAY / 4, on_flush_timer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->flush_timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_defer(m->event, &m->status_event, on_status, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGTERM, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_sigterm, m);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the event loop");
        /* the flush runs after every other event of an iteration */
        (void) sd_event_source_set_priority(m->flush_event, SD_EVENT_PRIORITY_IDLE);
        (void) sd_event_source_set_priority(m->status_event, SD_EVENT_PRIORITY_IDLE);

        /* before the links: the alerts of the first evaluation are counted */
        r = metrics_writer_new(m, &m->metrics);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the metrics file");

        r = manager_setup_mail(m, m->config);
        if (r < 0)
                return r;
        r = manager_apply_links(m, m->config);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the links");
        manager_tick_all(m);
        /* last: once the socket listens, clients may talk to us */
        return control_start(m);
}

int manager_run(Manager *m) {
        int r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Cannot enable the watchdog");
        _cleanup_free_ char *line = manager_status_line(m);
        (void) sd_notifyf(false, "READY=1\nSTATUS=%s", line ?: "running");
        r = sd_event_loop(m->event);
        (void) manager_flush(m);
        return r;
}
