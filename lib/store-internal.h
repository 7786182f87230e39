/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by the parts of the store (store.c: opening, schema, transactions;
 * store-credential.c, store-state.c, store-outbox.c: the tables). Not for
 * users of the store. */

#include <sqlite3.h>

#include "crypto.h"
#include "store.h"

#define STORE_SCHEMA_VERSION 3
#define STORE_APPLICATION_ID 0x746f6d73 /* "toms" */
#define STORE_ALERT_LOG_KEEP 10000
#define STORE_SECRET_MAX 4096
#define STORE_BUSY_TIMEOUT_MSEC 5000

typedef struct StoreStatement {
        const char *sql;        /* the key: the address of the caller's literal */
        sqlite3_stmt *stmt;
} StoreStatement;

struct Store {
        sqlite3 *db;
        char *path;
        Clock *clock;
        Logger logger;
        CryptoKeys keys;

        unsigned depth;         /* store_begin() nesting; > 0 inside a transaction */
        int tx_error;           /* SQLite ended the transaction by itself: every write fails until the outermost end */
        int synchronous;        /* current PRAGMA synchronous: 1 NORMAL, 2 FULL */

        StoreStatement *statements;
        size_t n_statements;
};

#define log_store(s, ...) log_debug_to(&(s)->logger, __VA_ARGS__)

/* Errors: a SQLite result code as a negative errno (the file system's errno
 * where SQLite knows it), logged at debug with SQLite's message. An error
 * that made SQLite roll back an open transaction is remembered so that
 * later writes cannot slip out of the transaction. */
int store_sqlite_errno(sqlite3 *db, int rc);
int store_error(Store *s, int rc, const char *what);

/* A cached prepared statement for sql (a string literal: its address is the
 * cache key), reset and without bindings. */
int store_prepare(Store *s, const char *sql, sqlite3_stmt **ret);
static inline void store_stmt_resetp(sqlite3_stmt **st) {
        if (*st) {
                sqlite3_reset(*st);
                sqlite3_clear_bindings(*st);
        }
}
#define _cleanup_reset_ _cleanup_(store_stmt_resetp)

/* Runs sql (may hold several statements, no parameters). */
int store_exec(Store *s, const char *sql);
/* sqlite3_step(): 1 with a row, 0 when done, negative errno. */
int store_step(Store *s, sqlite3_stmt *st);
/* A statement that returns no rows; returns the number of rows changed. */
int store_step_done(Store *s, sqlite3_stmt *st);

/* Transactions: the outermost begins with BEGIN IMMEDIATE after setting
 * PRAGMA synchronous (FULL when durable, else NORMAL; SQLite refuses to
 * change it inside a transaction); nested ones are savepoints. tx_end()
 * commits when r >= 0 and rolls back otherwise, returning r or the commit's
 * error. */
int store_tx_begin(Store *s, bool durable);
int store_tx_end(Store *s, int r);

/* Binding and reading. Time values are stored as SQLite's signed 64-bit
 * integers; USEC_INFINITY is stored as INT64_MAX so ordering holds. */
int store_bind_text(sqlite3_stmt *st, int i, const char *v);
int store_bind_usec(sqlite3_stmt *st, int i, usec_t v);
int store_bind_int64(sqlite3_stmt *st, int i, int64_t v);
int store_bind_blob(sqlite3_stmt *st, int i, const void *v, size_t n);
usec_t store_column_usec(sqlite3_stmt *st, int i);
/* Copies a text column (NULL stays NULL unless required: then -EBADMSG). */
int store_column_strdup(sqlite3_stmt *st, int i, bool required, char **ret);
/* Copies a text column into a fixed buffer, truncating. */
void store_column_strcpy(sqlite3_stmt *st, int i, char *buf, size_t size);

usec_t store_now(Store *s);

/* Reads every row st has left into a new array of elements of size bytes:
 * read() fills each element, zeroed first, from the current row. On
 * failure each element begun, the one that failed included, is released
 * with done() (when not NULL: it must take a zeroed or partly filled
 * element), the array is freed and *ret is left alone. No rows: NULL, 0. */
typedef int (*StoreRowRead)(sqlite3_stmt *st, void *element);
typedef void (*StoreElementDone)(void *element);
int store_read_rows(Store *s, sqlite3_stmt *st, size_t size, StoreRowRead read, StoreElementDone done, void **ret,
                    size_t *ret_n);
#define STORE_READ_ROWS(s, st, read, done, ret, ret_n) \
        store_read_rows((s), (st), sizeof(**(ret)), (read), (done), (void **) (ret), (ret_n))

/* State names stored in the outbox tables. */
const char *outbox_state_to_string(OutboxState st);
const char *recipient_state_to_string(RecipientState st);
