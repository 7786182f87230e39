/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Helpers for the store's tests: a store in a scratch directory with a
 * fake clock, and a second, raw SQLite connection to look at (or tamper
 * with) what the store wrote. */

#include <sqlite3.h>

#include "scratch.h"
#include "store.h"
#include "strbuf.h"

#define TEST_NOW ((usec_t) 1767225600 * USEC_PER_SEC)  /* 2026-01-01T00:00:00Z */

typedef struct TestStore {
        char *scratch;          /* the scratch directory */
        char *dir;              /* scratch/state: the store's directory */
        Clock *clock;
        Store *store;
        uint8_t key[STORE_KEY_SIZE];
        StrBuf log;             /* everything the store said */
        Logger logger;
} TestStore;

static inline void test_logger_func(void *userdata, int priority, const char *message) {
        StrBuf *b = userdata;
        strbuf_puts(b, message);
        strbuf_putc(b, '\n');
}

static inline void test_store_setup(TestStore *t, const char *name) {
        *t = (TestStore) {};
        t->scratch = scratch_dir_new(name);
        t->dir = scratch_path(t->scratch, "state");
        ck_assert_int_eq(clock_new_fake(TEST_NOW, 1000 * USEC_PER_SEC, &t->clock), 0);
        for (size_t i = 0; i < STORE_KEY_SIZE; i++)
                t->key[i] = (uint8_t) (0x40 + i);
        t->logger = (Logger) { .func = test_logger_func, .userdata = &t->log };
}

static inline int test_store_open(TestStore *t) {
        ck_assert_ptr_null(t->store);
        return store_open(t->dir, t->key, t->clock, &t->logger, &t->store);
}

static inline void test_store_reopen(TestStore *t) {
        t->store = store_close(t->store);
        ck_assert_int_eq(test_store_open(t), 0);
}

static inline void test_store_teardown(TestStore *t) {
        t->store = store_close(t->store);
        clock_free(t->clock);
        strbuf_done(&t->log);
        free(t->dir);
        scratch_dir_remove(t->scratch);
}

static inline sqlite3 *test_db_open(const TestStore *t) {
        _cleanup_free_ char *path = scratch_path(t->dir, STORE_FILE_NAME);
        sqlite3 *db = NULL;
        ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        return db;
}

static inline void test_sql(sqlite3 *db, const char *sql) {
        char *err = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
        ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ?: "?");
}

static inline int64_t test_sql_int(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st = NULL;
        ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

static inline char *test_sql_text(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st = NULL;
        ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        const char *v = (const char *) sqlite3_column_text(st, 0);
        char *c = v ? strdup(v) : NULL;
        sqlite3_finalize(st);
        return c;
}
