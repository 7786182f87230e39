/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mail outbox: a message is committed durably before delivery starts,
 * and each recipient's outcome is kept, so that a restart neither loses
 * nor repeats a delivery. */
#include <assert.h>
#include <inttypes.h>
#include <limits.h>

#include "store-internal.h"
#include "strv.h"

static const char *const outbox_state_table[_OUTBOX_STATE_MAX] = {
        [OUTBOX_PENDING] = "pending",
        [OUTBOX_DELIVERED] = "delivered",
        [OUTBOX_FAILED] = "failed",
};

static const char *const recipient_state_table[_RECIPIENT_STATE_MAX] = {
        [RECIPIENT_PENDING] = "pending",
        [RECIPIENT_DELIVERED] = "delivered",
        [RECIPIENT_REFUSED] = "refused",
};

const char *outbox_state_to_string(OutboxState st) {
        return st >= 0 && st < _OUTBOX_STATE_MAX ? outbox_state_table[st] : NULL;
}

const char *recipient_state_to_string(RecipientState st) {
        return st >= 0 && st < _RECIPIENT_STATE_MAX ? recipient_state_table[st] : NULL;
}

static int state_from_string(const char *const *table, int n, const char *s) {
        for (int i = 0; s && i < n; i++)
                if (streq(table[i], s))
                        return i;
        return -EBADMSG;
}

void outbox_message_done(OutboxMessage *m) {
        if (!m)
                return;
        free(m->message_id);
        free(m->link);
        free(m->subject);
        free(m->data);
        free(m->last_error);
        for (size_t i = 0; i < m->n_recipients; i++) {
                free(m->recipients[i].address);
                free(m->recipients[i].error);
        }
        free(m->recipients);
        *m = (OutboxMessage) { .kind = _ALERT_KIND_INVALID, .state = _OUTBOX_STATE_INVALID };
}

void outbox_message_array_free(OutboxMessage *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                outbox_message_done(a + i);
        free(a);
}

int store_outbox_add(Store *s, const char *message_id, const char *link, AlertKind kind, const char *subject,
                     const char *data, char *const *recipients, usec_t created, int64_t *ret_id) {
        static const char sql[] =
                "INSERT INTO outbox (message_id, link, kind, subject, data, created, next_attempt, state) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'pending')";
        /* a recipient named twice gets one copy */
        static const char sql_recipient[] =
                "INSERT OR IGNORE INTO outbox_recipient (outbox_id, position, address, state) VALUES (?, ?, ?, 'pending')";
        int64_t id = 0;
        int r;

        assert(s);
        if (isempty(message_id) || kind < 0 || kind >= _ALERT_KIND_MAX || !subject || !data ||
            strv_length(recipients) == 0)
                return -EINVAL;
        for (size_t i = 0; recipients[i]; i++)
                if (isempty(recipients[i]))
                        return -EINVAL;

        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_text(st, 1, message_id)) >= 0 && (r = store_bind_text(st, 2, link)) >= 0 &&
                    (r = store_bind_text(st, 3, alert_kind_to_string(kind))) >= 0 &&
                    (r = store_bind_text(st, 4, subject)) >= 0 && (r = store_bind_text(st, 5, data)) >= 0 &&
                    (r = store_bind_usec(st, 6, created)) >= 0)
                        r = store_step_done(s, st);
        }
        if (r >= 0) {
                id = sqlite3_last_insert_rowid(s->db);
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql_recipient, &st);
                for (size_t i = 0; r >= 0 && recipients[i]; i++) {
                        sqlite3_reset(st);
                        if ((r = store_bind_int64(st, 1, id)) >= 0 && (r = store_bind_int64(st, 2, (int64_t) i)) >= 0 &&
                            (r = store_bind_text(st, 3, recipients[i])) >= 0)
                                r = store_step_done(s, st);
                }
        }
        r = store_tx_end(s, r);
        if (r < 0)
                return r;
        log_store(s, "Queued message %s as %" PRIi64, message_id, id);
        if (ret_id)
                *ret_id = id;
        return 0;
}

#define OUTBOX_COLUMNS \
        "id, message_id, link, kind, subject, data, created, attempts, next_attempt, last_error, state, finished"

static void outbox_recipient_done(void *p) {
        OutboxRecipient *x = p;
        free(x->address);
        free(x->error);
}

/* a row of outbox_read_recipients() (address, state, error) */
static int outbox_recipient_read(sqlite3_stmt *st, void *ret) {
        OutboxRecipient *x = ret;
        int r;

        x->state = state_from_string(recipient_state_table, _RECIPIENT_STATE_MAX, (const char *) sqlite3_column_text(st, 1));
        if (x->state < 0)
                return -EBADMSG;
        if ((r = store_column_strdup(st, 0, true, &x->address)) < 0)
                return r;
        return store_column_strdup(st, 2, false, &x->error);
}

static int outbox_read_recipients(Store *s, OutboxMessage *m) {
        static const char sql[] =
                "SELECT address, state, error FROM outbox_recipient WHERE outbox_id = ? ORDER BY position";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = store_bind_int64(st, 1, m->id);
        if (r < 0)
                return r;
        return STORE_READ_ROWS(s, st, outbox_recipient_read, outbox_recipient_done, &m->recipients, &m->n_recipients);
}

/* Reads the current row of st (OUTBOX_COLUMNS); the recipients are read
 * after st is done with, since they need another statement. */
static int outbox_read(sqlite3_stmt *st, void *ret) {
        OutboxMessage m = {
                .id = sqlite3_column_int64(st, 0),
                .kind = alert_kind_from_string((const char *) sqlite3_column_text(st, 3)),
                .created = store_column_usec(st, 6),
                .next_attempt = store_column_usec(st, 8),
                .state = state_from_string(outbox_state_table, _OUTBOX_STATE_MAX,
                                           (const char *) sqlite3_column_text(st, 10)),
                .finished = store_column_usec(st, 11),
        };
        int64_t attempts = sqlite3_column_int64(st, 7);
        int r;

        if (m.kind < 0 || m.state < 0 || attempts < 0 || attempts > UINT_MAX)
                return -EBADMSG;
        m.attempts = (unsigned) attempts;
        if ((r = store_column_strdup(st, 1, true, &m.message_id)) < 0 || (r = store_column_strdup(st, 2, false, &m.link)) < 0 ||
            (r = store_column_strdup(st, 4, true, &m.subject)) < 0 || (r = store_column_strdup(st, 5, true, &m.data)) < 0 ||
            (r = store_column_strdup(st, 9, false, &m.last_error)) < 0) {
                outbox_message_done(&m);
                return r;
        }
        *(OutboxMessage *) ret = m;
        return 0;
}

static void outbox_message_release(void *p) {
        outbox_message_done(p);
}

static int outbox_read_all(Store *s, sqlite3_stmt *st, OutboxMessage **ret, size_t *ret_n) {
        OutboxMessage *a;
        size_t n;
        int r;

        r = STORE_READ_ROWS(s, st, outbox_read, outbox_message_release, &a, &n);
        if (r < 0)
                return r;
        sqlite3_reset(st);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = outbox_read_recipients(s, a + i);
        if (r < 0) {
                outbox_message_array_free(a, n);
                return r;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

int store_outbox_due(Store *s, usec_t now, size_t max, OutboxMessage **ret, size_t *ret_n) {
        static const char sql[] = "SELECT " OUTBOX_COLUMNS " FROM outbox "
                                  "WHERE state = 'pending' AND next_attempt <= ? ORDER BY id LIMIT ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_usec(st, 1, now)) < 0 ||
            (r = store_bind_int64(st, 2, max > (size_t) INT64_MAX ? -1 : (int64_t) max)) < 0)
                return r;
        return outbox_read_all(s, st, ret, ret_n);
}

int store_outbox_next_due(Store *s, usec_t *ret) {
        static const char sql[] = "SELECT min(next_attempt) FROM outbox WHERE state = 'pending'";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        r = store_prepare(s, sql, &st);
        if (r < 0)
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

int store_outbox_get(Store *s, int64_t id, OutboxMessage *ret) {
        static const char sql[] = "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE id = ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        OutboxMessage *a = NULL;
        size_t n = 0;
        int r;

        assert(s);
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = store_bind_int64(st, 1, id);
        if (r < 0)
                return r;
        r = outbox_read_all(s, st, &a, &n);
        if (r < 0)
                return r;
        if (n == 0) {
                free(a);
                return -ENOENT;
        }
        if (ret) {
                *ret = a[0];
                free(a);
        } else
                outbox_message_array_free(a, n);
        return 0;
}

/* After an UPDATE of a pending message changed nothing: -ENOENT for an
 * unknown message, -EALREADY for one that is finished. */
static int outbox_not_pending(Store *s, int64_t id) {
        static const char sql[] = "SELECT state FROM outbox WHERE id = ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = store_bind_int64(st, 1, id);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        return r == 0 ? -ENOENT : -EALREADY;
}

int store_outbox_recipient_done(Store *s, int64_t id, const char *address, RecipientState state, const char *error) {
        static const char sql[] =
                "UPDATE outbox_recipient SET state = ?, error = ? WHERE outbox_id = ? AND address = ?";
        int r;

        assert(s);
        if (!address || !recipient_state_to_string(state))
                return -EINVAL;
        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_text(st, 1, recipient_state_to_string(state))) >= 0 &&
                    (r = store_bind_text(st, 2, error)) >= 0 && (r = store_bind_int64(st, 3, id)) >= 0 &&
                    (r = store_bind_text(st, 4, address)) >= 0)
                        r = store_step_done(s, st);
                if (r == 0)
                        r = -ENOENT;
        }
        r = store_tx_end(s, r);
        return r < 0 ? r : 0;
}

int store_outbox_attempt_failed(Store *s, int64_t id, usec_t next_attempt, const char *error) {
        static const char sql[] =
                "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ? "
                "WHERE id = ? AND state = 'pending'";
        int r;

        assert(s);
        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_usec(st, 1, next_attempt)) >= 0 && (r = store_bind_text(st, 2, error)) >= 0 &&
                    (r = store_bind_int64(st, 3, id)) >= 0)
                        r = store_step_done(s, st);
        }
        if (r == 0)
                r = outbox_not_pending(s, id);
        r = store_tx_end(s, r);
        return r < 0 ? r : 0;
}

int store_outbox_finish(Store *s, int64_t id, OutboxState state, usec_t when, const char *error) {
        static const char sql[] =
                "UPDATE outbox SET state = ?, finished = ?, last_error = coalesce(?, last_error) "
                "WHERE id = ? AND state = 'pending'";
        int r;

        assert(s);
        if (state != OUTBOX_DELIVERED && state != OUTBOX_FAILED)
                return -EINVAL;
        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_text(st, 1, outbox_state_to_string(state))) >= 0 &&
                    (r = store_bind_usec(st, 2, when)) >= 0 && (r = store_bind_text(st, 3, error)) >= 0 &&
                    (r = store_bind_int64(st, 4, id)) >= 0)
                        r = store_step_done(s, st);
        }
        if (r == 0)
                r = outbox_not_pending(s, id);
        r = store_tx_end(s, r);
        return r < 0 ? r : 0;
}

int store_outbox_count(Store *s, OutboxState state, unsigned *ret) {
        static const char sql[] = "SELECT count(*) FROM outbox WHERE state = ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        assert(ret);
        if (!outbox_state_to_string(state))
                return -EINVAL;
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = store_bind_text(st, 1, outbox_state_to_string(state));
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -EIO;
        int64_t n = sqlite3_column_int64(st, 0);
        *ret = n > UINT_MAX ? UINT_MAX : (unsigned) n;
        return 0;
}

int store_outbox_prune(Store *s, usec_t before) {
        static const char sql[] = "DELETE FROM outbox WHERE state != 'pending' AND finished < ?";
        int r;

        assert(s);
        r = store_tx_begin(s, false);
        if (r < 0)
                return r;
        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql, &st);
                if (r >= 0 && (r = store_bind_usec(st, 1, before)) >= 0)
                        r = store_step_done(s, st);
        }
        return store_tx_end(s, r);
}
