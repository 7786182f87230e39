/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's core: opening and creating the database, the schema and its
 * migrations, transactions, and the thin layer over SQLite that the table
 * modules use. */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "store-internal.h"

/* ---- schema ---------------------------------------------------------------- */

/* Version 1, exactly as the first release created it. A new database is
 * created at version 1 and brought forward by the migrations below, so the
 * upgrade path is the path every database takes. */
static const char schema_v1[] =
        "PRAGMA application_id = 1953459571;\n" /* STORE_APPLICATION_ID */
        "CREATE TABLE meta (\n"
        "        key TEXT PRIMARY KEY NOT NULL,\n"
        "        value NOT NULL\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE rotation (\n"
        "        generation INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "        link TEXT NOT NULL,\n"
        "        time INTEGER NOT NULL,\n"
        "        uid INTEGER NOT NULL,\n"
        "        old_username TEXT,\n"
        "        new_username TEXT NOT NULL,\n"
        "        generated INTEGER NOT NULL,\n"
        "        fingerprint TEXT NOT NULL\n"
        ");\n"
        "CREATE INDEX rotation_link ON rotation (link, generation);\n"
        "CREATE TABLE credential (\n"
        "        link TEXT PRIMARY KEY NOT NULL,\n"
        "        username TEXT NOT NULL,\n"
        "        secret BLOB NOT NULL,\n"
        "        generated INTEGER NOT NULL,\n"
        "        set_at INTEGER NOT NULL,\n"
        "        set_by INTEGER NOT NULL,\n"
        "        generation INTEGER NOT NULL UNIQUE REFERENCES rotation (generation),\n"
        "        fingerprint TEXT NOT NULL\n"
        ");\n"
        "CREATE TABLE ledger (\n"
        "        link TEXT NOT NULL,\n"
        "        kind TEXT NOT NULL,\n"
        "        scope TEXT NOT NULL,\n"
        "        threshold INTEGER NOT NULL,\n"
        "        time INTEGER NOT NULL,\n"
        "        PRIMARY KEY (link, kind, scope, threshold)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE problem (\n"
        "        link TEXT NOT NULL,\n"
        "        kind TEXT NOT NULL,\n"
        "        since INTEGER NOT NULL,\n"
        "        failures INTEGER NOT NULL,\n"
        "        last_class TEXT,\n"
        "        last_http_status INTEGER NOT NULL,\n"
        "        last_error TEXT,\n"
        "        notified INTEGER NOT NULL,\n"
        "        last_notified INTEGER NOT NULL,\n"
        "        PRIMARY KEY (link, kind)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE counters (\n"
        "        link TEXT PRIMARY KEY NOT NULL,\n"
        "        failures INTEGER NOT NULL,\n"
        "        auth_failures INTEGER NOT NULL,\n"
        "        last_probe INTEGER NOT NULL,\n"
        "        last_ok INTEGER NOT NULL\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE alert_log (\n"
        "        id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "        time INTEGER NOT NULL,\n"
        "        link TEXT,\n"
        "        kind TEXT NOT NULL,\n"
        "        priority INTEGER NOT NULL,\n"
        "        held INTEGER NOT NULL,\n"
        "        summary TEXT NOT NULL\n"
        ");\n"
        "CREATE INDEX alert_log_link ON alert_log (link, id);\n"
        "CREATE TABLE silence (\n"
        "        link TEXT PRIMARY KEY NOT NULL,\n"
        "        until INTEGER NOT NULL,\n"
        "        reason TEXT,\n"
        "        uid INTEGER NOT NULL,\n"
        "        created INTEGER NOT NULL\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE probe (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        link TEXT NOT NULL,\n"
        "        time INTEGER NOT NULL,\n"
        "        class TEXT NOT NULL,\n"
        "        http_status INTEGER NOT NULL,\n"
        "        error TEXT NOT NULL,\n"
        "        dns INTEGER NOT NULL,\n"
        "        connect INTEGER NOT NULL,\n"
        "        tls INTEGER NOT NULL,\n"
        "        first_byte INTEGER NOT NULL,\n"
        "        total INTEGER NOT NULL,\n"
        "        cert_not_after INTEGER NOT NULL,\n"
        "        cert_subject TEXT NOT NULL,\n"
        "        cert_sha256 TEXT NOT NULL\n"
        ");\n"
        "CREATE INDEX probe_link ON probe (link);\n"
        "CREATE TABLE outbox (\n"
        "        id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "        message_id TEXT NOT NULL UNIQUE,\n"
        "        link TEXT,\n"
        "        kind TEXT NOT NULL,\n"
        "        subject TEXT NOT NULL,\n"
        "        data TEXT NOT NULL,\n"
        "        recipients TEXT NOT NULL,\n"
        "        created INTEGER NOT NULL,\n"
        "        attempts INTEGER NOT NULL DEFAULT 0,\n"
        "        next_attempt INTEGER NOT NULL,\n"
        "        last_error TEXT,\n"
        "        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),\n"
        "        finished INTEGER NOT NULL DEFAULT 0\n"
        ");\n"
        "CREATE INDEX outbox_state ON outbox (state, next_attempt);\n"
        "PRAGMA user_version = 1;\n";

/* Version 2: per-recipient delivery state in its own table (version 1 kept
 * the recipients as one newline-separated column and could only retry the
 * whole message); probe history indexed by (link, time) so that pruning
 * and listing one link never sort its rows. */
static int migrate_v1_to_v2(Store *s) {
        int r;

        r = store_exec(s,
                       "CREATE TABLE outbox_recipient (\n"
                       "        outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,\n"
                       "        position INTEGER NOT NULL,\n"
                       "        address TEXT NOT NULL,\n"
                       "        state TEXT NOT NULL DEFAULT 'pending'\n"
                       "                CHECK (state IN ('pending', 'delivered', 'refused')),\n"
                       "        error TEXT,\n"
                       "        PRIMARY KEY (outbox_id, position),\n"
                       "        UNIQUE (outbox_id, address)\n"
                       ") WITHOUT ROWID;\n"
                       "DROP INDEX probe_link;\n"
                       "CREATE INDEX probe_link_time ON probe (link, time);\n");
        if (r < 0)
                return r;

        /* Split each message's recipient list. A delivered message had
         * reached all of its recipients; any other keeps them pending. */
        sqlite3_stmt *sel = NULL, *ins = NULL;
        int rc = sqlite3_prepare_v2(s->db, "SELECT id, recipients, state FROM outbox", -1, &sel, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v2(s->db,
                                        "INSERT OR IGNORE INTO outbox_recipient (outbox_id, position, address, state) "
                                        "VALUES (?, ?, ?, ?)",
                                        -1, &ins, NULL);
        if (rc != SQLITE_OK) {
                r = store_error(s, rc, "prepare migration");
                goto finish;
        }
        while ((r = store_step(s, sel)) > 0) {
                int64_t id = sqlite3_column_int64(sel, 0);
                const char *list = (const char *) sqlite3_column_text(sel, 1);
                const char *state = (const char *) sqlite3_column_text(sel, 2);
                const char *rstate = state && streq(state, "delivered") ? "delivered" : "pending";
                int64_t position = 0;

                for (const char *p = list ?: ""; *p;) {
                        size_t n = strcspn(p, "\n");
                        if (n > 0) {
                                sqlite3_reset(ins);
                                sqlite3_bind_int64(ins, 1, id);
                                sqlite3_bind_int64(ins, 2, position++);
                                sqlite3_bind_text(ins, 3, p, (int) n, SQLITE_TRANSIENT);
                                sqlite3_bind_text(ins, 4, rstate, -1, SQLITE_STATIC);
                                r = store_step_done(s, ins);
                                if (r < 0)
                                        goto finish;
                        }
                        p += n;
                        if (*p == '\n')
                                p++;
                }
        }
        if (r < 0)
                goto finish;

        r = store_exec(s, "ALTER TABLE outbox DROP COLUMN recipients;\n"
                          "PRAGMA user_version = 2;\n");
finish:
        sqlite3_finalize(sel);
        sqlite3_finalize(ins);
        return r;
}

/* Version 3: the probes that read the server's certificate indexed by
 * (link, time), so that start-up finds each link's latest certificate
 * with one lookup instead of reading its history back. */
static int migrate_v2_to_v3(Store *s) {
        return store_exec(s, "CREATE INDEX probe_cert ON probe (link, time) WHERE cert_sha256 != '';\n"
                             "PRAGMA user_version = 3;\n");
}

/* migrations[i] brings version i + 1 to version i + 2 */
static int (*const migrations[])(Store *s) = {
        migrate_v1_to_v2,
        migrate_v2_to_v3,
};
static_assert(ELEMENTSOF(migrations) == STORE_SCHEMA_VERSION - 1, "a migration per version");

/* ---- the SQLite layer -------------------------------------------------------- */

int store_sqlite_errno(sqlite3 *db, int rc) {
        int e;

        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_INTERRUPT:
                return -EINTR;
        case SQLITE_ABORT:
                return -ECANCELED;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_FORMAT:
                return -EBADMSG;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_PROTOCOL:
                return -EPROTO;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_NOLFS:
                return -EFBIG;
        case SQLITE_PERM:
                return -EPERM;
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_RANGE:
                return -ERANGE;
        case SQLITE_SCHEMA:
                return -EAGAIN;
        case SQLITE_MISMATCH:
        case SQLITE_MISUSE:
                return -EINVAL;
        case SQLITE_CONSTRAINT:
                switch (rc) {
                case SQLITE_CONSTRAINT_UNIQUE:
                case SQLITE_CONSTRAINT_PRIMARYKEY:
                        return -EEXIST;
                case SQLITE_CONSTRAINT_FOREIGNKEY:
                        return -ENOENT;
                default:
                        return -EINVAL;
                }
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
                /* the file system's own answer (ENOSPC, EACCES, ...) when there is one */
                e = db ? sqlite3_system_errno(db) : 0;
                if (e > 0)
                        return -e;
                return (rc & 0xff) == SQLITE_CANTOPEN ? -EACCES : -EIO;
        default:
                return -EIO;
        }
}

int store_error(Store *s, int rc, const char *what) {
        int r = store_sqlite_errno(s->db, rc);
        if (r == 0)
                r = -EIO;
        log_store(s, "state database %s: %s: %s (%s)", s->path, what, s->db ? sqlite3_errmsg(s->db) : "-",
                  sqlite3_errstr(rc));
        /* Some errors (a full disk, I/O errors) make SQLite roll back the
         * whole transaction. Statements would then run outside of it, one
         * by one: refuse them until the caller ends the transaction. */
        if (s->depth > 0 && s->db && sqlite3_get_autocommit(s->db) && s->tx_error == 0)
                s->tx_error = r;
        return r;
}

int store_prepare(Store *s, const char *sql, sqlite3_stmt **ret) {
        if (s->depth > 0 && s->tx_error < 0)
                return s->tx_error;

        for (size_t i = 0; i < s->n_statements; i++)
                if (s->statements[i].sql == sql) {
                        sqlite3_reset(s->statements[i].stmt);
                        sqlite3_clear_bindings(s->statements[i].stmt);
                        *ret = s->statements[i].stmt;
                        return 0;
                }

        StoreStatement *a = realloc(s->statements, sizeof(StoreStatement) * (s->n_statements + 1));
        if (!a)
                return -ENOMEM;
        s->statements = a;      /* a few dozen, once each */

        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, "prepare");
        a[s->n_statements++] = (StoreStatement) { .sql = sql, .stmt = st };
        *ret = st;
        return 0;
}

int store_exec(Store *s, const char *sql) {
        if (s->depth > 0 && s->tx_error < 0)
                return s->tx_error;
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, "exec");
        return 0;
}

int store_step(Store *s, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return store_error(s, rc, "step");
}

int store_step_done(Store *s, sqlite3_stmt *st) {
        int r = store_step(s, st);
        if (r < 0)
                return r;
        if (r > 0)
                return store_error(s, SQLITE_MISUSE, "unexpected row");
        return sqlite3_changes(s->db);
}

static int bind_result(int rc) {
        if (rc == SQLITE_OK)
                return 0;
        return store_sqlite_errno(NULL, rc) ?: -EIO;
}

int store_bind_text(sqlite3_stmt *st, int i, const char *v) {
        return bind_result(v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i));
}

int store_bind_usec(sqlite3_stmt *st, int i, usec_t v) {
        return bind_result(sqlite3_bind_int64(st, i, v >= (usec_t) INT64_MAX ? INT64_MAX : (int64_t) v));
}

int store_bind_int64(sqlite3_stmt *st, int i, int64_t v) {
        return bind_result(sqlite3_bind_int64(st, i, v));
}

int store_bind_blob(sqlite3_stmt *st, int i, const void *v, size_t n) {
        if (n > INT32_MAX)
                return -E2BIG;
        return bind_result(sqlite3_bind_blob(st, i, v, (int) n, SQLITE_STATIC));
}

usec_t store_column_usec(sqlite3_stmt *st, int i) {
        int64_t v = sqlite3_column_int64(st, i);
        if (v == INT64_MAX)
                return USEC_INFINITY;
        return v < 0 ? 0 : (usec_t) v;
}

int store_column_strdup(sqlite3_stmt *st, int i, bool required, char **ret) {
        const char *v = (const char *) sqlite3_column_text(st, i);
        if (!v) {
                if (required || sqlite3_column_type(st, i) != SQLITE_NULL)
                        return sqlite3_errcode(sqlite3_db_handle(st)) == SQLITE_NOMEM ? -ENOMEM : -EBADMSG;
                *ret = NULL;
                return 0;
        }
        char *c = strdup(v);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

void store_column_strcpy(sqlite3_stmt *st, int i, char *buf, size_t size) {
        const char *v = (const char *) sqlite3_column_text(st, i);
        snprintf(buf, size, "%s", v ?: "");
}

usec_t store_now(Store *s) {
        return clock_realtime(s->clock);
}

/* Makes room for element n in a malloc()ed array, doubling its capacity,
 * so that reading many rows stays linear. */
static int store_array_reserve(void **array, size_t *capacity, size_t n, size_t size) {
        if (n < *capacity)
                return 0;
        size_t c = MAX(*capacity * 2, (size_t) 16);
        if (c <= n || c > SIZE_MAX / size)
                return -ENOMEM;
        void *p = realloc(*array, c * size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *capacity = c;
        return 0;
}

int store_read_rows(Store *s, sqlite3_stmt *st, size_t size, StoreRowRead read, StoreElementDone done, void **ret,
                    size_t *ret_n) {
        void *a = NULL;
        size_t n = 0, cap = 0, begun = 0;
        int r;

        assert(ret);
        assert(ret_n);
        while ((r = store_step(s, st)) > 0) {
                r = store_array_reserve(&a, &cap, n, size);
                if (r < 0)
                        break;
                void *e = (char *) a + n * size;
                memset(e, 0, size);
                begun = n + 1;
                r = read(st, e);
                if (r < 0)
                        break;
                n++;
        }
        if (r < 0) {
                for (size_t i = 0; done && i < begun; i++)
                        done((char *) a + i * size);
                free(a);
                return r;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

/* ---- transactions ------------------------------------------------------------ */

static int set_synchronous(Store *s, bool durable) {
        int want = durable ? 2 : 1;
        if (s->synchronous == want)
                return 0;
        int r = store_exec(s, durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        if (r < 0)
                return r;
        s->synchronous = want;
        return 0;
}

int store_tx_begin(Store *s, bool durable) {
        char sql[32];
        int r;

        if (s->depth == 0) {
                r = set_synchronous(s, durable);
                if (r < 0)
                        return r;
                s->tx_error = 0;
                r = store_exec(s, "BEGIN IMMEDIATE");
        } else {
                if (s->tx_error < 0)
                        return s->tx_error;
                snprintf(sql, sizeof sql, "SAVEPOINT s%u", s->depth);
                r = store_exec(s, sql);
        }
        if (r < 0)
                return r;
        s->depth++;
        return 0;
}

static int tx_rollback(Store *s) {
        char sql[64];
        int r = 0;

        assert(s->depth > 0);
        s->depth--;
        if (s->depth > 0) {
                if (s->tx_error < 0)
                        return 0;       /* already gone; the outermost end reports it */
                snprintf(sql, sizeof sql, "ROLLBACK TO s%u; RELEASE s%u", s->depth, s->depth);
                return store_exec(s, sql);
        }
        if (!sqlite3_get_autocommit(s->db)) {
                int rc = sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                if (rc != SQLITE_OK)
                        r = store_error(s, rc, "rollback");
        }
        s->tx_error = 0;
        return r;
}

static int tx_commit(Store *s) {
        char sql[32];
        int r;

        assert(s->depth > 0);
        if (s->tx_error < 0) {
                r = s->tx_error;
                (void) tx_rollback(s);
                return r;
        }
        if (s->depth > 1) {
                snprintf(sql, sizeof sql, "RELEASE s%u", s->depth - 1);
                r = store_exec(s, sql);
                if (r < 0) {
                        (void) tx_rollback(s);
                        return r;
                }
                s->depth--;
                return 0;
        }
        r = store_exec(s, "COMMIT");
        if (r < 0) {
                (void) tx_rollback(s);
                return r;
        }
        s->depth--;
        return 0;
}

int store_tx_end(Store *s, int r) {
        if (r < 0) {
                (void) tx_rollback(s);
                return r;
        }
        int k = tx_commit(s);
        return k < 0 ? k : r;
}

int store_begin(Store *s) {
        assert(s);
        return store_tx_begin(s, true);
}

int store_begin_relaxed(Store *s) {
        assert(s);
        return store_tx_begin(s, false);
}

int store_commit(Store *s) {
        assert(s);
        if (s->depth == 0)
                return -EINVAL;
        return tx_commit(s);
}

int store_rollback(Store *s) {
        assert(s);
        if (s->depth == 0)
                return -EINVAL;
        return tx_rollback(s);
}

/* ---- opening --------------------------------------------------------------- */

static int pragma_int(Store *s, const char *sql, int64_t *ret) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, sql);
        int r = store_step(s, st);
        if (r > 0)
                *ret = sqlite3_column_int64(st, 0);
        else if (r == 0)
                r = -EBADMSG;
        sqlite3_finalize(st);
        return r < 0 ? r : 0;
}

/* The database file is created by us, 0600 whatever the umask, before
 * SQLite opens it; SQLite gives its -wal and -shm files the database's
 * mode. An existing file that others may read is tightened. */
static int prepare_file(Store *s) {
        struct stat st;

        _cleanup_close_ int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd >= 0) {
                if (fchmod(fd, 0600) < 0)
                        return negative_errno();
                log_store(s, "Created state database %s", s->path);
                return fsync_parent_directory(s->path);
        }
        if (errno != EEXIST)
                return negative_errno();

        if (lstat(s->path, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if ((st.st_mode & 07077) != 0) {
                log_store(s, "Tightening mode of %s from %04o to 0600", s->path, (unsigned) (st.st_mode & 07777));
                if (chmod(s->path, 0600) < 0)
                        return negative_errno();
        }
        return 0;
}

static int check_key(Store *s) {
        sqlite3_stmt *st = NULL;
        char hex[2 * CRYPTO_KEY_SIZE + 1];
        int r;

        int rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'key_check'", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, "read key check");
        r = store_step(s, st);
        if (r > 0) {
                const char *v = (const char *) sqlite3_column_text(st, 0);
                crypto_hex(s->keys.check, sizeof s->keys.check, hex);
                if (!v || strlen(v) != strlen(hex))
                        r = -EBADMSG;
                else
                        r = crypto_equal(v, hex, strlen(hex)) ? 0 : -EKEYREJECTED;
                crypto_wipe(hex, sizeof hex);
        } else if (r == 0)
                r = -EBADMSG;
        sqlite3_finalize(st);
        return r;
}

static int create_schema(Store *s) {
        char hex[2 * CRYPTO_KEY_SIZE + 1], *sql = NULL;
        int r;

        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        r = store_exec(s, schema_v1);
        if (r >= 0) {
                crypto_hex(s->keys.check, sizeof s->keys.check, hex);
                if (asprintf(&sql, "INSERT INTO meta (key, value) VALUES ('key_check', '%s'), ('created', %" PRIi64 ")",
                             hex, (int64_t) MIN(store_now(s), (usec_t) INT64_MAX)) < 0)
                        r = -ENOMEM;
                else
                        r = store_exec(s, sql);
                free(sql);
        }
        return store_tx_end(s, r);
}

static int migrate(Store *s, int64_t from) {
        for (int64_t v = from; v < STORE_SCHEMA_VERSION; v++) {
                log_store(s, "Upgrading state database %s from schema version %" PRIi64 " to %" PRIi64, s->path, v,
                          v + 1);
                int r = store_tx_begin(s, true);
                if (r < 0)
                        return r;
                r = store_tx_end(s, migrations[v - 1](s));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int open_database(Store *s) {
        int64_t version = 0, app = 0, tables = 0;
        int r, rc;

        rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
                             NULL);
        if (rc != SQLITE_OK) {
                if (!s->db)
                        return -ENOMEM;
                return store_error(s, rc, "open");
        }
        (void) sqlite3_extended_result_codes(s->db, 1);
        (void) sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MSEC);
        /* Until the key is known good, closing must not checkpoint a
         * write-ahead log left by a crash into the database (and delete
         * it): a refused start leaves the files exactly as they were. */
        (void) sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        (void) sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
        (void) sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
        (void) sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);

        /* Nothing below writes until the version and the key are known good. */
        r = store_exec(s, "PRAGMA foreign_keys = ON;\n"
                          "PRAGMA secure_delete = ON;\n"
                          "PRAGMA cell_size_check = ON;\n"
                          /* 512 KiB of page cache (SQLite's default is 2 MiB): the
                           * daemon reads each table once at start and then writes
                           * a few pages per burst; the rest is the kernel's cache */
                          "PRAGMA cache_size = -512;\n");
        if (r < 0)
                return r;
        r = pragma_int(s, "PRAGMA user_version", &version);
        if (r < 0)
                return r;
        r = pragma_int(s, "PRAGMA application_id", &app);
        if (r < 0)
                return r;
        if (version > STORE_SCHEMA_VERSION) {
                log_store(s, "State database %s has schema version %" PRIi64 ", newer than %d", s->path, version,
                          STORE_SCHEMA_VERSION);
                return -EPROTONOSUPPORT;
        }
        if (app != 0 && app != STORE_APPLICATION_ID)
                return -EBADMSG;        /* some other program's database */
        if (version == 0) {
                r = pragma_int(s, "SELECT count(*) FROM sqlite_master", &tables);
                if (r < 0)
                        return r;
                if (tables > 0)
                        return -EBADMSG;
        } else {
                if (app != STORE_APPLICATION_ID)
                        return -EBADMSG;
                r = check_key(s);
                if (r < 0)
                        return r;
        }
        (void) sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);

        /* WAL: readers never block the writer, a commit is one append and
         * (with synchronous=FULL) one fsync. */
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, "journal mode");
        r = store_step(s, st);
        if (r > 0 && !streq((const char *) sqlite3_column_text(st, 0) ?: "", "wal"))
                r = -EOPNOTSUPP;
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        r = set_synchronous(s, true);
        if (r < 0)
                return r;

        if (version == 0) {
                r = create_schema(s);
                if (r < 0)
                        return r;
                version = 1;
        }
        return migrate(s, version);
}

int store_open(const char *directory, const uint8_t key[STORE_KEY_SIZE], Clock *clock, const Logger *logger,
               Store **ret) {
        int r;

        assert(key);
        assert(clock);
        assert(ret);

        if (isempty(directory))
                return -EINVAL;

        _cleanup_(store_closep) Store *s = calloc(1, sizeof(Store));
        if (!s)
                return -ENOMEM;
        s->clock = clock;
        if (logger)
                s->logger = *logger;

        if (asprintf(&s->path, "%s/%s", directory, STORE_FILE_NAME) < 0) {
                s->path = NULL;
                return -ENOMEM;
        }
        r = crypto_keys_derive(key, &s->keys);
        if (r < 0)
                return r;
        r = mkdir_p(directory, 0700);
        if (r < 0)
                return r;
        r = prepare_file(s);
        if (r < 0)
                return r;
        r = open_database(s);
        if (r < 0)
                return r;

        log_store(s, "Opened state database %s (schema version %d)", s->path, STORE_SCHEMA_VERSION);
        *ret = TAKE_PTR(s);
        return 0;
}

Store *store_close(Store *s) {
        if (!s)
                return NULL;
        if (s->db && s->depth > 0 && !sqlite3_get_autocommit(s->db))
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        for (size_t i = 0; i < s->n_statements; i++)
                sqlite3_finalize(s->statements[i].stmt);
        free(s->statements);
        if (s->db)
                (void) sqlite3_close_v2(s->db);
        crypto_keys_wipe(&s->keys);
        free(s->path);
        return mfree(s);
}

int store_schema_version(Store *s) {
        int64_t v = 0;
        int r = pragma_int(s, "PRAGMA user_version", &v);
        if (r < 0)
                return r;
        return (int) v;
}

int store_check_integrity(Store *s) {
        sqlite3_stmt *st = NULL;
        int r, problems = 0;

        int rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc, "integrity check");
        while ((r = store_step(s, st)) > 0) {
                const char *v = (const char *) sqlite3_column_text(st, 0);
                if (v && streq(v, "ok"))
                        continue;
                problems++;
                log_store(s, "State database %s: integrity check: %s", s->path, strna(v));
        }
        sqlite3_finalize(st);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        return problems > 0 ? -EBADMSG : 0;
}
