/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's alert state: the ledger of what was sent, open problems,
 * per-link counters, the alert log, silences and the probe history. */
#include <assert.h>
#include <limits.h>

#include "store-internal.h"
#include "validate.h"

/* The ledger's key may lack a link (mail-undeliverable of a message that
 * belonged to no link): stored as "". */
#define LEDGER_LINK(l) ((l) ?: "")

static int column_alert_kind(sqlite3_stmt *st, int i, AlertKind *ret) {
        AlertKind k = alert_kind_from_string((const char *) sqlite3_column_text(st, i));
        if (k < 0)
                return -EBADMSG;
        *ret = k;
        return 0;
}

static bool alert_kind_is_valid(AlertKind k) {
        return k >= 0 && k < _ALERT_KIND_MAX;
}

static int64_t limit_to_int64(size_t max) {
        return max > (size_t) INT64_MAX ? -1 : (int64_t) max;
}

/* ---- alert ledger ---------------------------------------------------------- */

int store_ledger_record(Store *s, const char *link, AlertKind kind, const char *scope, int64_t threshold, usec_t when) {
        static const char sql[] =
                "INSERT INTO ledger (link, kind, scope, threshold, time) VALUES (?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT (link, kind, scope, threshold) DO UPDATE SET time = ?5";
        int r;

        assert(s);
        if (!alert_kind_is_valid(kind) || !scope || threshold < -1)
                return -EINVAL;

        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && ((r = store_bind_text(st, 1, LEDGER_LINK(link))) >= 0 &&
                               (r = store_bind_text(st, 2, alert_kind_to_string(kind))) >= 0 &&
                               (r = store_bind_text(st, 3, scope)) >= 0 && (r = store_bind_int64(st, 4, threshold)) >= 0 &&
                               (r = store_bind_usec(st, 5, when)) >= 0))
                        r = store_step_done(s, st);
        }
        r = store_tx_end(s, r);
        return r < 0 ? r : 0;
}

static int threshold_read(sqlite3_stmt *st, void *ret) {
        int64_t t = sqlite3_column_int64(st, 0);
        if (t < 0 || t > UINT_MAX)
                return -EBADMSG;
        *(unsigned *) ret = (unsigned) t;
        return 0;
}

int store_ledger_thresholds(Store *s, const char *link, AlertKind kind, const char *scope, unsigned **ret,
                            size_t *ret_n) {
        static const char sql[] =
                "SELECT threshold FROM ledger WHERE link = ? AND kind = ? AND scope = ? AND threshold >= 0 "
                "ORDER BY threshold";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        if (!alert_kind_is_valid(kind) || !scope)
                return -EINVAL;
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, LEDGER_LINK(link))) < 0 ||
            (r = store_bind_text(st, 2, alert_kind_to_string(kind))) < 0 || (r = store_bind_text(st, 3, scope)) < 0)
                return r;
        return STORE_READ_ROWS(s, st, threshold_read, NULL, ret, ret_n);
}

int store_ledger_last(Store *s, const char *link, AlertKind kind, const char *scope, usec_t *ret) {
        static const char sql[] = "SELECT max(time) FROM ledger WHERE link = ? AND kind = ? AND scope = ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        if (!alert_kind_is_valid(kind) || !scope)
                return -EINVAL;
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, LEDGER_LINK(link))) < 0 ||
            (r = store_bind_text(st, 2, alert_kind_to_string(kind))) < 0 || (r = store_bind_text(st, 3, scope)) < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0 || sqlite3_column_type(st, 0) == SQLITE_NULL)
                return -ENOENT;
        if (ret)
                *ret = store_column_usec(st, 0);
        return 0;
}

int store_ledger_prune(Store *s, const char *link, AlertKind kind, const char *keep_scope) {
        static const char sql[] = "DELETE FROM ledger WHERE link = ? AND kind = ? AND scope != ?";
        int r;

        assert(s);
        if (!alert_kind_is_valid(kind) || !keep_scope)
                return -EINVAL;
        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_text(st, 1, LEDGER_LINK(link))) >= 0 &&
                    (r = store_bind_text(st, 2, alert_kind_to_string(kind))) >= 0 &&
                    (r = store_bind_text(st, 3, keep_scope)) >= 0)
                        r = store_step_done(s, st);
        }
        return store_tx_end(s, r);
}

static void ledger_record_done(void *p) {
        LedgerRecord *x = p;
        free(x->link);
        free(x->scope);
}

void ledger_record_array_free(LedgerRecord *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                ledger_record_done(a + i);
        free(a);
}

/* a row of store_ledger_list() (link, scope, threshold, time), but for its kind */
static int ledger_record_read(sqlite3_stmt *st, void *ret) {
        LedgerRecord *x = ret;
        int r;

        x->threshold = sqlite3_column_int64(st, 2);
        x->time = store_column_usec(st, 3);
        if ((r = store_column_strdup(st, 0, true, &x->link)) < 0 || (r = store_column_strdup(st, 1, true, &x->scope)) < 0)
                return r;
        if (isempty(x->link))   /* LEDGER_LINK() */
                x->link = mfree(x->link);
        return 0;
}

int store_ledger_list(Store *s, AlertKind kind, LedgerRecord **ret, size_t *ret_n) {
        /* the primary key's order: no sort */
        static const char sql[] =
                "SELECT link, scope, threshold, time FROM ledger WHERE kind = ? ORDER BY link, kind, scope, threshold";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);
        if (!alert_kind_is_valid(kind))
                return -EINVAL;
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = store_bind_text(st, 1, alert_kind_to_string(kind));
        if (r < 0)
                return r;
        r = STORE_READ_ROWS(s, st, ledger_record_read, ledger_record_done, ret, ret_n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < *ret_n; i++)
                (*ret)[i].kind = kind;
        return 0;
}

/* ---- problems --------------------------------------------------------------- */

void problem_done(Problem *p) {
        if (!p)
                return;
        free(p->link);
        free(p->last_error);
        *p = (Problem) { .kind = _ALERT_KIND_INVALID, .last_class = _PROBE_CLASS_INVALID };
}

static void problem_release(void *p) {
        problem_done(p);
}

void problem_array_free(Problem *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                problem_done(a + i);
        free(a);
}

int store_problem_put(Store *s, const Problem *p) {
        static const char sql[] =
                "INSERT INTO problem (link, kind, since, failures, last_class, last_http_status, last_error, "
                "notified, last_notified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                "ON CONFLICT (link, kind) DO UPDATE SET since = ?3, failures = ?4, last_class = ?5, "
                "last_http_status = ?6, last_error = ?7, notified = ?8, last_notified = ?9";
        int r;

        assert(s);
        if (!p || !link_name_is_valid(p->link) || !alert_kind_is_valid(p->kind))
                return -EINVAL;
        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_text(st, 1, p->link)) >= 0 &&
                    (r = store_bind_text(st, 2, alert_kind_to_string(p->kind))) >= 0 &&
                    (r = store_bind_usec(st, 3, p->since)) >= 0 && (r = store_bind_int64(st, 4, p->failures)) >= 0 &&
                    (r = store_bind_text(st, 5, probe_class_to_string(p->last_class))) >= 0 &&
                    (r = store_bind_int64(st, 6, p->last_http_status)) >= 0 &&
                    (r = store_bind_text(st, 7, p->last_error)) >= 0 && (r = store_bind_usec(st, 8, p->notified)) >= 0 &&
                    (r = store_bind_usec(st, 9, p->last_notified)) >= 0)
                        r = store_step_done(s, st);
        }
        r = store_tx_end(s, r);
        return r < 0 ? r : 0;
}

int store_problem_delete(Store *s, const char *link, AlertKind kind) {
        static const char sql[] = "DELETE FROM problem WHERE link = ? AND kind = ?";
        int r;

        assert(s);
        if (!link || !alert_kind_is_valid(kind))
                return -EINVAL;
        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_text(st, 1, link)) >= 0 &&
                    (r = store_bind_text(st, 2, alert_kind_to_string(kind))) >= 0)
                        r = store_step_done(s, st);
        }
        return store_tx_end(s, r);
}

#define PROBLEM_COLUMNS \
        "link, kind, since, failures, last_class, last_http_status, last_error, notified, last_notified"

/* ret: a Problem */
static int problem_read(sqlite3_stmt *st, void *ret) {
        Problem p = { .last_class = _PROBE_CLASS_INVALID };
        int r;

        r = column_alert_kind(st, 1, &p.kind);
        if (r < 0)
                return r;
        if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
                p.last_class = probe_class_from_string((const char *) sqlite3_column_text(st, 4));
                if (p.last_class < 0)
                        return -EBADMSG;
        }
        int64_t failures = sqlite3_column_int64(st, 3);
        if (failures < 0 || failures > UINT_MAX)
                return -EBADMSG;
        p.failures = (unsigned) failures;
        p.since = store_column_usec(st, 2);
        p.last_http_status = (long) sqlite3_column_int64(st, 5);
        p.notified = store_column_usec(st, 7);
        p.last_notified = store_column_usec(st, 8);
        if ((r = store_column_strdup(st, 0, true, &p.link)) < 0 ||
            (r = store_column_strdup(st, 6, false, &p.last_error)) < 0) {
                problem_done(&p);
                return r;
        }
        *(Problem *) ret = p;
        return 0;
}

int store_problem_get(Store *s, const char *link, AlertKind kind, Problem *ret) {
        static const char sql[] = "SELECT " PROBLEM_COLUMNS " FROM problem WHERE link = ? AND kind = ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        if (!link || !alert_kind_is_valid(kind))
                return -EINVAL;
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, link)) < 0 || (r = store_bind_text(st, 2, alert_kind_to_string(kind))) < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return ret ? problem_read(st, ret) : 0;
}

int store_problem_list(Store *s, const char *link, Problem **ret, size_t *ret_n) {
        static const char sql_one[] = "SELECT " PROBLEM_COLUMNS " FROM problem WHERE link = ? ORDER BY since, kind";
        static const char sql_all[] = "SELECT " PROBLEM_COLUMNS " FROM problem ORDER BY link, since, kind";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        r = store_prepare(s, link ? sql_one : sql_all, &st);
        if (r < 0)
                return r;
        if (link && (r = store_bind_text(st, 1, link)) < 0)
                return r;
        return STORE_READ_ROWS(s, st, problem_read, problem_release, ret, ret_n);
}

/* ---- counters --------------------------------------------------------------- */

int store_counters_get(Store *s, const char *link, LinkCounters *ret) {
        static const char sql[] =
                "SELECT failures, auth_failures, last_probe, last_ok FROM counters WHERE link = ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);
        if (!link)
                return -EINVAL;
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = store_bind_text(st, 1, link);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0) {
                *ret = (LinkCounters) {};
                return 0;
        }
        int64_t f = sqlite3_column_int64(st, 0), a = sqlite3_column_int64(st, 1);
        if (f < 0 || f > UINT_MAX || a < 0 || a > UINT_MAX)
                return -EBADMSG;
        *ret = (LinkCounters) {
                .failures = (unsigned) f,
                .auth_failures = (unsigned) a,
                .last_probe = store_column_usec(st, 2),
                .last_ok = store_column_usec(st, 3),
        };
        return 0;
}

int store_counters_put(Store *s, const char *link, const LinkCounters *c) {
        static const char sql[] =
                "INSERT INTO counters (link, failures, auth_failures, last_probe, last_ok) VALUES (?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT (link) DO UPDATE SET failures = ?2, auth_failures = ?3, last_probe = ?4, last_ok = ?5";
        int r;

        assert(s);
        if (!link_name_is_valid(link) || !c)
                return -EINVAL;
        /* rewritten after every probe: a power cut may lose the last
         * update (the next probe redoes it), never the database */
        r = store_tx_begin(s, false);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_text(st, 1, link)) >= 0 && (r = store_bind_int64(st, 2, c->failures)) >= 0 &&
                    (r = store_bind_int64(st, 3, c->auth_failures)) >= 0 &&
                    (r = store_bind_usec(st, 4, c->last_probe)) >= 0 && (r = store_bind_usec(st, 5, c->last_ok)) >= 0)
                        r = store_step_done(s, st);
        }
        r = store_tx_end(s, r);
        return r < 0 ? r : 0;
}

static void link_counters_entry_done(void *p) {
        free(((LinkCountersEntry *) p)->link);
}

void link_counters_entry_array_free(LinkCountersEntry *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                link_counters_entry_done(a + i);
        free(a);
}

/* a row of store_counters_list() (link, failures, auth_failures, last_probe, last_ok) */
static int link_counters_entry_read(sqlite3_stmt *st, void *ret) {
        LinkCountersEntry *x = ret;
        int64_t f = sqlite3_column_int64(st, 1), au = sqlite3_column_int64(st, 2);

        if (f < 0 || f > UINT_MAX || au < 0 || au > UINT_MAX)
                return -EBADMSG;
        x->counters = (LinkCounters) {
                .failures = (unsigned) f,
                .auth_failures = (unsigned) au,
                .last_probe = store_column_usec(st, 3),
                .last_ok = store_column_usec(st, 4),
        };
        return store_column_strdup(st, 0, true, &x->link);
}

int store_counters_list(Store *s, LinkCountersEntry **ret, size_t *ret_n) {
        static const char sql[] =
                "SELECT link, failures, auth_failures, last_probe, last_ok FROM counters ORDER BY link";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        return STORE_READ_ROWS(s, st, link_counters_entry_read, link_counters_entry_done, ret, ret_n);
}

/* ---- alert log ------------------------------------------------------------- */

static void alert_log_entry_done(void *p) {
        AlertLogEntry *x = p;
        free(x->link);
        free(x->summary);
}

void alert_log_entry_array_free(AlertLogEntry *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                alert_log_entry_done(a + i);
        free(a);
}

/* a row of store_alert_log_list() (id, time, link, kind, priority, held, summary) */
static int alert_log_entry_read(sqlite3_stmt *st, void *ret) {
        AlertLogEntry *x = ret;
        int r;

        x->id = sqlite3_column_int64(st, 0);
        x->time = store_column_usec(st, 1);
        x->priority = sqlite3_column_int(st, 4);
        x->held = sqlite3_column_int64(st, 5) != 0;
        if ((r = column_alert_kind(st, 3, &x->kind)) < 0 || (r = store_column_strdup(st, 2, false, &x->link)) < 0)
                return r;
        return store_column_strdup(st, 6, true, &x->summary);
}

int store_alert_log_append(Store *s, const Alert *a, const char *summary) {
        static const char sql[] =
                "INSERT INTO alert_log (time, link, kind, priority, held, summary) VALUES (?, ?, ?, ?, ?, ?)";
        /* ids grow by one per entry and entries are never deleted
         * otherwise, so the newest STORE_ALERT_LOG_KEEP are an id range */
        static const char sql_prune[] = "DELETE FROM alert_log WHERE id <= ?";
        int r;

        assert(s);
        if (!a || !alert_kind_is_valid(a->kind) || !summary)
                return -EINVAL;
        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_usec(st, 1, a->time)) >= 0 && (r = store_bind_text(st, 2, a->link)) >= 0 &&
                    (r = store_bind_text(st, 3, alert_kind_to_string(a->kind))) >= 0 &&
                    (r = store_bind_int64(st, 4, alert_priority(a))) >= 0 && (r = store_bind_int64(st, 5, a->held)) >= 0 &&
                    (r = store_bind_text(st, 6, summary)) >= 0)
                        r = store_step_done(s, st);
        }
        if (r >= 0) {
                int64_t id = sqlite3_last_insert_rowid(s->db);
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql_prune, &st);
                if (r >= 0 && (r = store_bind_int64(st, 1, id - STORE_ALERT_LOG_KEEP)) >= 0)
                        r = store_step_done(s, st);
        }
        r = store_tx_end(s, r);
        return r < 0 ? r : 0;
}

int store_alert_log_list(Store *s, const char *link, size_t max, AlertLogEntry **ret, size_t *ret_n) {
        static const char sql_one[] =
                "SELECT id, time, link, kind, priority, held, summary FROM alert_log WHERE link = ? "
                "ORDER BY id DESC LIMIT ?";
        static const char sql_all[] =
                "SELECT id, time, link, kind, priority, held, summary FROM alert_log ORDER BY id DESC LIMIT ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        r = store_prepare(s, link ? sql_one : sql_all, &st);
        if (r < 0)
                return r;
        if (link) {
                if ((r = store_bind_text(st, 1, link)) < 0 || (r = store_bind_int64(st, 2, limit_to_int64(max))) < 0)
                        return r;
        } else if ((r = store_bind_int64(st, 1, limit_to_int64(max))) < 0)
                return r;

        return STORE_READ_ROWS(s, st, alert_log_entry_read, alert_log_entry_done, ret, ret_n);
}

/* ---- silences --------------------------------------------------------------- */

void silence_done(Silence *x) {
        if (!x)
                return;
        free(x->link);
        free(x->reason);
        *x = (Silence) {};
}

static void silence_release(void *p) {
        silence_done(p);
}

void silence_array_free(Silence *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                silence_done(a + i);
        free(a);
}

int store_silence_set(Store *s, const Silence *silence) {
        static const char sql[] =
                "INSERT INTO silence (link, until, reason, uid, created) VALUES (?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT (link) DO UPDATE SET until = ?2, reason = ?3, uid = ?4, created = ?5";
        int r;

        assert(s);
        if (!silence || !link_name_is_valid(silence->link))
                return -EINVAL;
        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_text(st, 1, silence->link)) >= 0 &&
                    (r = store_bind_usec(st, 2, silence->until)) >= 0 &&
                    (r = store_bind_text(st, 3, silence->reason)) >= 0 &&
                    (r = store_bind_int64(st, 4, silence->uid)) >= 0 &&
                    (r = store_bind_usec(st, 5, silence->created)) >= 0)
                        r = store_step_done(s, st);
        }
        r = store_tx_end(s, r);
        return r < 0 ? r : 0;
}

int store_silence_delete(Store *s, const char *link) {
        static const char sql[] = "DELETE FROM silence WHERE link = ?";
        int r;

        assert(s);
        if (!link)
                return -EINVAL;
        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_text(st, 1, link)) >= 0)
                        r = store_step_done(s, st);
        }
        r = store_tx_end(s, r);
        if (r < 0)
                return r;
        return r == 0 ? -ENOENT : 0;
}

/* ret: a Silence */
static int silence_read(sqlite3_stmt *st, void *ret) {
        Silence x = {
                .until = store_column_usec(st, 1),
                .uid = (uid_t) sqlite3_column_int64(st, 3),
                .created = store_column_usec(st, 4),
        };
        int r;
        if ((r = store_column_strdup(st, 0, true, &x.link)) < 0 || (r = store_column_strdup(st, 2, false, &x.reason)) < 0) {
                silence_done(&x);
                return r;
        }
        *(Silence *) ret = x;
        return 0;
}

int store_silence_get(Store *s, const char *link, usec_t now, Silence *ret) {
        static const char sql[] = "SELECT link, until, reason, uid, created FROM silence WHERE link = ? AND until > ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        if (!link)
                return -EINVAL;
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, link)) < 0 || (r = store_bind_usec(st, 2, now)) < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return ret ? silence_read(st, ret) : 0;
}

int store_silence_list(Store *s, usec_t now, Silence **ret, size_t *ret_n) {
        static const char sql_expire[] = "DELETE FROM silence WHERE until <= ?";
        static const char sql[] = "SELECT link, until, reason, uid, created FROM silence ORDER BY link";
        Silence *a = NULL;
        size_t n = 0;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);

        r = store_tx_begin(s, false);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql_expire, &st);
                if (r >= 0 && (r = store_bind_usec(st, 1, now)) >= 0)
                        r = store_step_done(s, st);
        }
        if (r >= 0) {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0)
                        r = STORE_READ_ROWS(s, st, silence_read, silence_release, &a, &n);
        }
        r = store_tx_end(s, r);
        if (r < 0) {
                silence_array_free(a, n);
                return r;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

/* ---- probe history ------------------------------------------------------- */

static int probe_insert(Store *s, const char *link, const ProbeResult *p) {
        static const char sql[] =
                "INSERT INTO probe (link, time, class, http_status, error, dns, connect, tls, first_byte, total, "
                "cert_not_after, cert_subject, cert_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, sql, &st);
        if (r >= 0 && (r = store_bind_text(st, 1, link)) >= 0 && (r = store_bind_usec(st, 2, p->time)) >= 0 &&
            (r = store_bind_text(st, 3, probe_class_to_string(p->klass))) >= 0 &&
            (r = store_bind_int64(st, 4, p->http_status)) >= 0 && (r = store_bind_text(st, 5, p->error)) >= 0 &&
            (r = store_bind_usec(st, 6, p->dns)) >= 0 && (r = store_bind_usec(st, 7, p->connect)) >= 0 &&
            (r = store_bind_usec(st, 8, p->tls)) >= 0 && (r = store_bind_usec(st, 9, p->first_byte)) >= 0 &&
            (r = store_bind_usec(st, 10, p->total)) >= 0 && (r = store_bind_usec(st, 11, p->cert_not_after)) >= 0 &&
            (r = store_bind_text(st, 12, p->cert_subject)) >= 0 && (r = store_bind_text(st, 13, p->cert_sha256)) >= 0)
                r = store_step_done(s, st);
        return r;
}

static int probe_prune(Store *s, const char *link, unsigned limit) {
        /* Walks the (link, time) index from the newest entry: the cost is
         * bounded by the limit, whatever the number of links. */
        static const char sql[] =
                "DELETE FROM probe WHERE id IN (SELECT id FROM probe WHERE link = ?1 "
                "ORDER BY time DESC, id DESC LIMIT -1 OFFSET ?2)";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, sql, &st);
        if (r >= 0 && (r = store_bind_text(st, 1, link)) >= 0 &&
            (r = store_bind_int64(st, 2, limit ?: STORE_PROBE_HISTORY_DEFAULT)) >= 0)
                r = store_step_done(s, st);
        return r;
}

static bool probe_result_is_valid(const ProbeResult *p) {
        return p && probe_class_to_string(p->klass);
}

int store_probe_append(Store *s, const char *link, const ProbeResult *p, unsigned limit) {
        int r;

        assert(s);
        if (!link_name_is_valid(link) || !probe_result_is_valid(p))
                return -EINVAL;
        /* history: a power cut may lose the latest few, never the database */
        r = store_tx_begin(s, false);
        if (r < 0)
                return r;
        r = probe_insert(s, link, p);
        if (r >= 0)
                r = probe_prune(s, link, limit);
        r = store_tx_end(s, r);
        return r < 0 ? r : 0;
}

int store_probe_add(Store *s, const char *link, const ProbeResult *p) {
        int r;

        assert(s);
        if (!link_name_is_valid(link) || !probe_result_is_valid(p))
                return -EINVAL;
        r = store_tx_begin(s, false);
        if (r < 0)
                return r;
        r = store_tx_end(s, probe_insert(s, link, p));
        return r < 0 ? r : 0;
}

int store_probe_prune(Store *s, const char *link, unsigned limit) {
        int r;

        assert(s);
        if (!link)
                return -EINVAL;
        r = store_tx_begin(s, false);
        if (r < 0)
                return r;
        return store_tx_end(s, probe_prune(s, link, limit));
}

#define PROBE_COLUMNS \
        "time, class, http_status, error, dns, connect, tls, first_byte, total, cert_not_after, cert_subject, " \
        "cert_sha256"

/* ret: a ProbeResult */
static int probe_read(sqlite3_stmt *st, void *ret) {
        ProbeResult p = {
                .klass = probe_class_from_string((const char *) sqlite3_column_text(st, 1)),
                .time = store_column_usec(st, 0),
                .http_status = (long) sqlite3_column_int64(st, 2),
                .dns = store_column_usec(st, 4),
                .connect = store_column_usec(st, 5),
                .tls = store_column_usec(st, 6),
                .first_byte = store_column_usec(st, 7),
                .total = store_column_usec(st, 8),
                .cert_not_after = store_column_usec(st, 9),
        };
        if (p.klass < 0)
                return -EBADMSG;
        store_column_strcpy(st, 3, p.error, sizeof p.error);
        store_column_strcpy(st, 10, p.cert_subject, sizeof p.cert_subject);
        store_column_strcpy(st, 11, p.cert_sha256, sizeof p.cert_sha256);
        *(ProbeResult *) ret = p;
        return 0;
}

int store_probe_list(Store *s, const char *link, size_t max, ProbeResult **ret, size_t *ret_n) {
        static const char sql[] =
                "SELECT " PROBE_COLUMNS " FROM probe WHERE link = ? ORDER BY time DESC, id DESC LIMIT ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        if (!link)
                return -EINVAL;
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, link)) < 0 || (r = store_bind_int64(st, 2, limit_to_int64(max))) < 0)
                return r;
        return STORE_READ_ROWS(s, st, probe_read, NULL, ret, ret_n);
}

int store_probe_latest(Store *s, const char *link, ProbeResult *ret_last, ProbeResult *ret_cert) {
        static const char sql_last[] =
                "SELECT " PROBE_COLUMNS " FROM probe WHERE link = ? ORDER BY time DESC, id DESC LIMIT 1";
        /* the partial index probe_cert holds only these rows */
        static const char sql_cert[] =
                "SELECT " PROBE_COLUMNS " FROM probe WHERE link = ? AND cert_sha256 != '' AND cert_not_after != 0 "
                "ORDER BY time DESC, id DESC LIMIT 1";
        ProbeResult last;
        int r;

        assert(s);
        if (!link)
                return -EINVAL;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql_last, &st);
                if (r < 0)
                        return r;
                if ((r = store_bind_text(st, 1, link)) < 0)
                        return r;
                r = store_step(s, st);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ENOENT;
                r = probe_read(st, &last);
                if (r < 0)
                        return r;
        }
        if (ret_cert) {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                ProbeResult cert = { .klass = PROBE_OK };
                r = store_prepare(s, sql_cert, &st);
                if (r < 0)
                        return r;
                if ((r = store_bind_text(st, 1, link)) < 0)
                        return r;
                r = store_step(s, st);
                if (r < 0)
                        return r;
                if (r > 0 && (r = probe_read(st, &cert)) < 0)
                        return r;
                *ret_cert = cert;
        }
        if (ret_last)
                *ret_last = last;
        return 0;
}
