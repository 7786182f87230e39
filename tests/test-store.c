/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's core: files and modes, keys, schema versions and the upgrade
 * from version 1, transactions, corruption, a full disk, and crash
 * safety under SIGKILL. */
#include <inttypes.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "crypto.h"
#include "store-internal.h"
#include "store-test.h"

static const char *const recipients[] = { "it-alerts@example.org", NULL };

static void add_message(Store *s, const char *message_id, int64_t *ret_id) {
        ck_assert_int_eq(store_outbox_add(s, message_id, "district", ALERT_LINK_DOWN, "subject", "data\r\n",
                                          (char *const *) recipients, TEST_NOW, ret_id),
                         0);
}

START_TEST(test_open_modes) {
        TestStore t;
        test_store_setup(&t, "store");
        _cleanup_free_ char *db = scratch_path(t.dir, "state.db"), *wal = scratch_path(t.dir, "state.db-wal"),
                            *shm = scratch_path(t.dir, "state.db-shm");

        umask(022);     /* permissive: the modes must not depend on it */
        ck_assert_int_eq(test_store_open(&t), 0);
        ck_assert_uint_eq(file_mode(t.dir), 0700);
        ck_assert_uint_eq(file_mode(db), 0600);
        add_message(t.store, "<1@test>", NULL);
        /* SQLite gives its WAL and shared-memory files the database's mode */
        ck_assert_uint_eq(file_mode(wal), 0600);
        ck_assert_uint_eq(file_mode(shm), 0600);
        ck_assert_int_eq(store_schema_version(t.store), STORE_SCHEMA_VERSION);
        ck_assert_int_eq(store_check_integrity(t.store), 0);

        sqlite3 *raw = test_db_open(&t);
        _cleanup_free_ char *mode = test_sql_text(raw, "PRAGMA journal_mode");
        ck_assert_str_eq(mode, "wal");
        ck_assert_int_eq(test_sql_int(raw, "PRAGMA application_id"), STORE_APPLICATION_ID);
        ck_assert_int_eq(test_sql_int(raw, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        /* the key check value is there, and it is not the key */
        _cleanup_free_ char *check = test_sql_text(raw, "SELECT value FROM meta WHERE key = 'key_check'");
        ck_assert_uint_eq(strlen(check), 64);
        char keyhex[2 * STORE_KEY_SIZE + 1];
        ck_assert_str_ne(check, crypto_hex(t.key, STORE_KEY_SIZE, keyhex));
        sqlite3_close(raw);

        /* reopened: the data is there */
        test_store_reopen(&t);
        OutboxMessage m;
        ck_assert_int_eq(store_outbox_get(t.store, 1, &m), 0);
        ck_assert_str_eq(m.message_id, "<1@test>");
        outbox_message_done(&m);
        t.store = store_close(t.store);

        /* a database file someone opened up is made private again */
        ck_assert_int_eq(chmod(db, 0644), 0);
        ck_assert_int_eq(test_store_open(&t), 0);
        ck_assert_uint_eq(file_mode(db), 0600);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_wrong_key) {
        TestStore t;
        test_store_setup(&t, "store");
        _cleanup_free_ char *db = scratch_path(t.dir, "state.db");
        const char *secret = "K8#mZq!v2Lr9@xWt5&Yp";
        Store *s = (Store *) 0x1;

        ck_assert_int_eq(test_store_open(&t), 0);
        ck_assert_int_eq(store_credential_set(t.store, "district", "sisvendor", secret, strlen(secret), TEST_NOW, 0, NULL),
                         0);
        t.store = store_close(t.store);

        size_t before_size = 0, after_size = 0;
        _cleanup_free_ char *before = read_file(db, &before_size);
        ck_assert_ptr_nonnull(before);

        uint8_t wrong[STORE_KEY_SIZE];
        memcpy(wrong, t.key, sizeof wrong);
        wrong[31] ^= 1;
        ck_assert_int_eq(store_open(t.dir, wrong, t.clock, NULL, &s), -EKEYREJECTED);
        ck_assert_ptr_eq(s, (Store *) 0x1);

        /* nothing touched */
        _cleanup_free_ char *after = read_file(db, &after_size);
        ck_assert_uint_eq(before_size, after_size);
        ck_assert_mem_eq(before, after, before_size);

        /* the right key still opens it, the secret intact */
        ck_assert_int_eq(test_store_open(&t), 0);
        char *plain = NULL;
        size_t size = 0;
        ck_assert_int_eq(store_credential_get_secret(t.store, "district", NULL, &plain, &size), 0);
        ck_assert_str_eq(plain, secret);
        secret_free(plain, size);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_newer_version_refused) {
        TestStore t;
        test_store_setup(&t, "store");
        _cleanup_free_ char *db = scratch_path(t.dir, "state.db");
        Store *s = (Store *) 0x1;

        ck_assert_int_eq(test_store_open(&t), 0);
        add_message(t.store, "<1@test>", NULL);
        t.store = store_close(t.store);

        sqlite3 *raw = test_db_open(&t);
        test_sql(raw, "PRAGMA user_version = 4");
        sqlite3_close(raw);

        size_t before_size = 0, after_size = 0;
        _cleanup_free_ char *before = read_file(db, &before_size);
        ck_assert_int_eq(store_open(t.dir, t.key, t.clock, NULL, &s), -EPROTONOSUPPORT);
        ck_assert_ptr_eq(s, (Store *) 0x1);
        _cleanup_free_ char *after = read_file(db, &after_size);
        ck_assert_uint_eq(before_size, after_size);
        ck_assert_mem_eq(before, after, before_size);

        raw = test_db_open(&t);
        ck_assert_int_eq(test_sql_int(raw, "PRAGMA user_version"), 4);
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM outbox"), 1);
        sqlite3_close(raw);
        test_store_teardown(&t);
}
END_TEST

/* Schema version 1 as the first release wrote it: kept here, separately
 * from the code, so that a change to the store's copy cannot go unnoticed. */
static const char v1_sql[] =
        "PRAGMA application_id = 1953459571;\n"
        "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value NOT NULL) WITHOUT ROWID;\n"
        "CREATE TABLE rotation (generation INTEGER PRIMARY KEY AUTOINCREMENT, link TEXT NOT NULL, time INTEGER NOT NULL,"
        " uid INTEGER NOT NULL, old_username TEXT, new_username TEXT NOT NULL, generated INTEGER NOT NULL,"
        " fingerprint TEXT NOT NULL);\n"
        "CREATE INDEX rotation_link ON rotation (link, generation);\n"
        "CREATE TABLE credential (link TEXT PRIMARY KEY NOT NULL, username TEXT NOT NULL, secret BLOB NOT NULL,"
        " generated INTEGER NOT NULL, set_at INTEGER NOT NULL, set_by INTEGER NOT NULL,"
        " generation INTEGER NOT NULL UNIQUE REFERENCES rotation (generation), fingerprint TEXT NOT NULL);\n"
        "CREATE TABLE ledger (link TEXT NOT NULL, kind TEXT NOT NULL, scope TEXT NOT NULL, threshold INTEGER NOT NULL,"
        " time INTEGER NOT NULL, PRIMARY KEY (link, kind, scope, threshold)) WITHOUT ROWID;\n"
        "CREATE TABLE problem (link TEXT NOT NULL, kind TEXT NOT NULL, since INTEGER NOT NULL, failures INTEGER NOT NULL,"
        " last_class TEXT, last_http_status INTEGER NOT NULL, last_error TEXT, notified INTEGER NOT NULL,"
        " last_notified INTEGER NOT NULL, PRIMARY KEY (link, kind)) WITHOUT ROWID;\n"
        "CREATE TABLE counters (link TEXT PRIMARY KEY NOT NULL, failures INTEGER NOT NULL, auth_failures INTEGER NOT NULL,"
        " last_probe INTEGER NOT NULL, last_ok INTEGER NOT NULL) WITHOUT ROWID;\n"
        "CREATE TABLE alert_log (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, link TEXT,"
        " kind TEXT NOT NULL, priority INTEGER NOT NULL, held INTEGER NOT NULL, summary TEXT NOT NULL);\n"
        "CREATE INDEX alert_log_link ON alert_log (link, id);\n"
        "CREATE TABLE silence (link TEXT PRIMARY KEY NOT NULL, until INTEGER NOT NULL, reason TEXT, uid INTEGER NOT NULL,"
        " created INTEGER NOT NULL) WITHOUT ROWID;\n"
        "CREATE TABLE probe (id INTEGER PRIMARY KEY, link TEXT NOT NULL, time INTEGER NOT NULL, class TEXT NOT NULL,"
        " http_status INTEGER NOT NULL, error TEXT NOT NULL, dns INTEGER NOT NULL, connect INTEGER NOT NULL,"
        " tls INTEGER NOT NULL, first_byte INTEGER NOT NULL, total INTEGER NOT NULL, cert_not_after INTEGER NOT NULL,"
        " cert_subject TEXT NOT NULL, cert_sha256 TEXT NOT NULL);\n"
        "CREATE INDEX probe_link ON probe (link);\n"
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL UNIQUE, link TEXT,"
        " kind TEXT NOT NULL, subject TEXT NOT NULL, data TEXT NOT NULL, recipients TEXT NOT NULL,"
        " created INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL,"
        " last_error TEXT, state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),"
        " finished INTEGER NOT NULL DEFAULT 0);\n"
        "CREATE INDEX outbox_state ON outbox (state, next_attempt);\n"
        "PRAGMA user_version = 1;\n";

static char *hex_alloc(const void *p, size_t n) {
        char *h = malloc(2 * n + 1);
        ck_assert_ptr_nonnull(h);
        return crypto_hex(p, n, h);
}

START_TEST(test_upgrade_from_v1) {
        TestStore t;
        test_store_setup(&t, "store");
        _cleanup_free_ char *db = scratch_path(t.dir, "state.db");
        const char *secret = "v1-secret-Qx7#pL2!mN9$";
        const usec_t T = TEST_NOW - USEC_PER_DAY, G = TEST_NOW - 30 * USEC_PER_DAY;
        CryptoKeys keys;
        char fp[CRYPTO_FINGERPRINT_MAX];
        uint8_t *sealed = NULL;
        size_t sealed_size = 0;

        /* a version 1 database with a row in every table */
        ck_assert_int_eq(crypto_keys_derive(t.key, &keys), 0);
        ck_assert_int_eq(crypto_fingerprint(&keys, secret, strlen(secret), fp), 0);
        ck_assert_int_eq(crypto_credential_seal(&keys, "district", 2, secret, strlen(secret), &sealed, &sealed_size), 0);
        _cleanup_free_ char *check = hex_alloc(keys.check, sizeof keys.check);
        _cleanup_free_ char *blob = hex_alloc(sealed, sealed_size);
        free(sealed);

        ck_assert_int_eq(mkdir(t.dir, 0700), 0);
        sqlite3 *raw = NULL;
        ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
        test_sql(raw, "BEGIN");
        test_sql(raw, v1_sql);
        char *data = NULL;
        ck_assert_int_ge(
                asprintf(&data,
                         "INSERT INTO meta VALUES ('key_check', '%s'), ('created', %" PRIu64 ");\n"
                         "INSERT INTO rotation VALUES (1, 'district', %" PRIu64 ", 0, NULL, 'olduser', %" PRIu64 ", '0011223344556677');\n"
                         "INSERT INTO rotation VALUES (2, 'district', %" PRIu64 ", 1000, 'olduser', 'sisvendor', %" PRIu64 ", '%s');\n"
                         "INSERT INTO credential VALUES ('district', 'sisvendor', X'%s', %" PRIu64 ", %" PRIu64 ", 1000, 2, '%s');\n"
                         "INSERT INTO ledger VALUES ('district', 'credential-expiring', 'gen:2', 30, %" PRIu64 ");\n"
                         "INSERT INTO problem VALUES ('district', 'link-down', %" PRIu64 ", 3, 'connect', 0, 'refused', %" PRIu64 ", %" PRIu64 ");\n"
                         "INSERT INTO counters VALUES ('district', 3, 0, %" PRIu64 ", 17);\n"
                         "INSERT INTO alert_log (time, link, kind, priority, held, summary) VALUES (%" PRIu64 ", 'district', 'link-down', 3, 0, 'district: down');\n"
                         "INSERT INTO silence VALUES ('district', %" PRIu64 ", 'rollover', 0, %" PRIu64 ");\n"
                         "INSERT INTO probe (link, time, class, http_status, error, dns, connect, tls, first_byte, total, cert_not_after, cert_subject, cert_sha256)"
                         " VALUES ('district', %" PRIu64 ", 'connect', 0, 'refused', 10, 9223372036854775807, 9223372036854775807, 9223372036854775807, 20, 0, '', ''),"
                         " ('district', %" PRIu64 ", 'ok', 200, '', 10, 20, 30, 40, 50, 99, 'CN=toms', 'abcd');\n"
                         "INSERT INTO outbox (message_id, link, kind, subject, data, recipients, created, attempts, next_attempt, last_error, state, finished) VALUES"
                         " ('<m1@test>', 'district', 'link-down', 'down', 'data1', 'a@example.org' || char(10) || 'b@example.org' || char(10) || 'c@example.org', %" PRIu64 ", 2, %" PRIu64 ", '451 later', 'pending', 0),"
                         " ('<m2@test>', NULL, 'mail-undeliverable', 'lost', 'data2', 'it@example.org', %" PRIu64 ", 1, %" PRIu64 ", NULL, 'delivered', %" PRIu64 ");\n",
                         check, T, (uint64_t) (T - USEC_PER_DAY), (uint64_t) (G - USEC_PER_DAY), T, G, fp, blob, G,
                         T, fp, T, T, T, T, T, T, (uint64_t) (T + 2 * USEC_PER_DAY), T, (uint64_t) (T - USEC_PER_HOUR), T, T,
                         (uint64_t) (T + 5 * USEC_PER_MINUTE), T, T, T + 1),
                0);
        test_sql(raw, data);
        free(data);
        test_sql(raw, "COMMIT");
        sqlite3_close(raw);

        /* a wrong key is refused before the upgrade touches anything */
        uint8_t wrong[STORE_KEY_SIZE] = {};
        Store *s = NULL;
        size_t before_size = 0, after_size = 0;
        _cleanup_free_ char *before = read_file(db, &before_size);
        ck_assert_int_eq(store_open(t.dir, wrong, t.clock, NULL, &s), -EKEYREJECTED);
        _cleanup_free_ char *after = read_file(db, &after_size);
        ck_assert_uint_eq(before_size, after_size);
        ck_assert_mem_eq(before, after, before_size);

        /* upgraded */
        ck_assert_int_eq(test_store_open(&t), 0);
        ck_assert_int_eq(store_schema_version(t.store), STORE_SCHEMA_VERSION);
        ck_assert_int_eq(store_check_integrity(t.store), 0);
        ck_assert_ptr_nonnull(strstr(t.log.data, "from schema version 1 to 2"));
        ck_assert_ptr_nonnull(strstr(t.log.data, "from schema version 2 to 3"));

        /* credentials and history */
        CredentialInfo info;
        char *plain = NULL;
        size_t size = 0;
        ck_assert_int_eq(store_credential_get_secret(t.store, "district", &info, &plain, &size), 0);
        ck_assert_str_eq(plain, secret);
        secret_free(plain, size);
        ck_assert_str_eq(info.username, "sisvendor");
        ck_assert_uint_eq(info.generation, 2);
        ck_assert_uint_eq(info.generated, G);
        ck_assert_uint_eq(info.set_at, T);
        ck_assert_uint_eq(info.set_by, 1000);
        ck_assert_str_eq(info.fingerprint, fp);
        credential_info_done(&info);
        RotationRecord *h = NULL;
        size_t n = 0;
        ck_assert_int_eq(store_credential_history(t.store, "district", &h, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_ptr_null(h[0].old_username);
        ck_assert_str_eq(h[1].old_username, "olduser");
        ck_assert_str_eq(h[1].new_username, "sisvendor");
        rotation_record_array_free(h, n);

        /* the alert state */
        unsigned *th = NULL;
        ck_assert_int_eq(store_ledger_thresholds(t.store, "district", ALERT_CREDENTIAL_EXPIRING, "gen:2", &th, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(th[0], 30);
        free(th);
        Problem p;
        ck_assert_int_eq(store_problem_get(t.store, "district", ALERT_LINK_DOWN, &p), 0);
        ck_assert_uint_eq(p.failures, 3);
        ck_assert_int_eq(p.last_class, PROBE_CONNECT);
        ck_assert_str_eq(p.last_error, "refused");
        problem_done(&p);
        LinkCounters c;
        ck_assert_int_eq(store_counters_get(t.store, "district", &c), 0);
        ck_assert_uint_eq(c.failures, 3);
        ck_assert_uint_eq(c.last_ok, 17);
        AlertLogEntry *log = NULL;
        ck_assert_int_eq(store_alert_log_list(t.store, NULL, 10, &log, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(log[0].summary, "district: down");
        alert_log_entry_array_free(log, n);
        Silence sil;
        ck_assert_int_eq(store_silence_get(t.store, "district", TEST_NOW, &sil), 0);
        ck_assert_str_eq(sil.reason, "rollover");
        silence_done(&sil);
        ProbeResult *pr = NULL;
        ck_assert_int_eq(store_probe_list(t.store, "district", 10, &pr, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(pr[0].klass, PROBE_OK);
        ck_assert_str_eq(pr[0].cert_subject, "CN=toms");
        ck_assert_int_eq(pr[1].klass, PROBE_CONNECT);
        ck_assert_uint_eq(pr[1].connect, USEC_INFINITY);
        free(pr);
        /* version 3: the certificate readings are indexed from the start */
        ProbeResult last, cert;
        ck_assert_int_eq(store_probe_latest(t.store, "district", &last, &cert), 0);
        ck_assert_str_eq(cert.cert_sha256, "abcd");
        ck_assert_uint_eq(cert.cert_not_after, 99);
        ck_assert_int_eq(test_sql_int(t.store->db, "SELECT count(*) FROM sqlite_master WHERE name = 'probe_cert'"), 1);

        /* the outbox: recipients split out of the old column, with state */
        OutboxMessage m;
        ck_assert_int_eq(store_outbox_get(t.store, 1, &m), 0);
        ck_assert_str_eq(m.message_id, "<m1@test>");
        ck_assert_uint_eq(m.attempts, 2);
        ck_assert_str_eq(m.last_error, "451 later");
        ck_assert_uint_eq(m.n_recipients, 3);
        ck_assert_str_eq(m.recipients[0].address, "a@example.org");
        ck_assert_str_eq(m.recipients[1].address, "b@example.org");
        ck_assert_str_eq(m.recipients[2].address, "c@example.org");
        for (size_t i = 0; i < 3; i++)
                ck_assert_int_eq(m.recipients[i].state, RECIPIENT_PENDING);
        outbox_message_done(&m);
        ck_assert_int_eq(store_outbox_get(t.store, 2, &m), 0);
        ck_assert_int_eq(m.state, OUTBOX_DELIVERED);
        ck_assert_ptr_null(m.link);
        ck_assert_uint_eq(m.n_recipients, 1);
        ck_assert_int_eq(m.recipients[0].state, RECIPIENT_DELIVERED);
        outbox_message_done(&m);
        usec_t due;
        ck_assert_int_eq(store_outbox_next_due(t.store, &due), 0);
        ck_assert_uint_eq(due, T + 5 * USEC_PER_MINUTE);

        /* new writes continue the sequences */
        uint64_t gen = 0;
        ck_assert_int_eq(store_credential_rotate(t.store, "district", "new", "n3w-s3cret", 10, 0, &gen), 0);
        ck_assert_uint_eq(gen, 3);
        int64_t id = 0;
        add_message(t.store, "<m3@test>", &id);
        ck_assert_int_eq(id, 3);
        t.store = store_close(t.store);

        /* the schema is the new one */
        raw = test_db_open(&t);
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM pragma_table_info('outbox') WHERE name = 'recipients'"), 0);
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM sqlite_master WHERE name = 'probe_link_time'"), 1);
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM sqlite_master WHERE name = 'probe_link'"), 0);
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM outbox_recipient"), 5);
        sqlite3_close(raw);

        /* and a fresh database has exactly the same schema as an upgraded one */
        TestStore fresh;
        test_store_setup(&fresh, "store");
        ck_assert_int_eq(test_store_open(&fresh), 0);
        fresh.store = store_close(fresh.store);
        /* compared by structure: columns, indexes, foreign keys */
        static const char *const queries[] = {
                "SELECT group_concat(x, char(10)) FROM (SELECT m.name || '.' || p.name || ' ' || p.type || ' ' || "
                "p.\"notnull\" || ' ' || coalesce(p.dflt_value, '-') || ' ' || p.pk AS x FROM sqlite_master m, "
                "pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY m.name, p.cid)",
                "SELECT group_concat(x, char(10)) FROM (SELECT m.name || ' ' || i.name || ' ' || i.\"unique\" || ' ' || "
                "ii.seqno || ' ' || coalesce(ii.name, '-') AS x FROM sqlite_master m, pragma_index_list(m.name) i, "
                "pragma_index_info(i.name) ii WHERE m.type = 'table' ORDER BY m.name, i.name, ii.seqno)",
                "SELECT group_concat(x, char(10)) FROM (SELECT m.name || ' ' || f.\"from\" || ' ' || f.\"table\" || ' ' || "
                "coalesce(f.\"to\", '-') || ' ' || f.on_delete AS x FROM sqlite_master m, pragma_foreign_key_list(m.name) f "
                "WHERE m.type = 'table' ORDER BY m.name, f.id, f.seq)",
        };
        sqlite3 *raw2 = test_db_open(&fresh);
        raw = test_db_open(&t);
        for (size_t i = 0; i < ELEMENTSOF(queries); i++) {
                _cleanup_free_ char *s1 = test_sql_text(raw, queries[i]), *s2 = test_sql_text(raw2, queries[i]);
                ck_assert_ptr_nonnull(s1);
                ck_assert_str_eq(s1, s2);
        }
        sqlite3_close(raw);
        sqlite3_close(raw2);
        test_store_teardown(&fresh);

        crypto_keys_wipe(&keys);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_not_a_database) {
        TestStore t;
        test_store_setup(&t, "store");
        _cleanup_free_ char *db = scratch_path(t.dir, "state.db");
        Store *s = NULL;
        char garbage[8192];

        ck_assert_int_eq(mkdir(t.dir, 0700), 0);
        for (size_t i = 0; i < sizeof garbage; i++)
                garbage[i] = (char) (i * 7 + 3);
        write_file(db, garbage, sizeof garbage, 0600);
        ck_assert_int_eq(store_open(t.dir, t.key, t.clock, NULL, &s), -EBADMSG);

        /* another program's SQLite database is left alone */
        ck_assert_int_eq(unlink(db), 0);
        sqlite3 *raw = NULL;
        ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
        test_sql(raw, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
        sqlite3_close(raw);
        ck_assert_int_eq(store_open(t.dir, t.key, t.clock, NULL, &s), -EBADMSG);
        raw = test_db_open(&t);
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM sqlite_master"), 1);
        sqlite3_close(raw);

        /* an empty file (a crash right after it was created) becomes a store */
        ck_assert_int_eq(unlink(db), 0);
        write_file(db, "", 0, 0600);
        ck_assert_int_eq(test_store_open(&t), 0);
        ck_assert_int_eq(store_schema_version(t.store), STORE_SCHEMA_VERSION);

        /* a directory that is a file */
        _cleanup_free_ char *file = scratch_path(t.scratch, "file");
        write_file(file, "x", 1, 0600);
        ck_assert_int_eq(store_open(file, t.key, t.clock, NULL, &s), -ENOTDIR);
        ck_assert_int_eq(store_open("", t.key, t.clock, NULL, &s), -EINVAL);
        test_store_teardown(&t);
}
END_TEST

static int64_t count_messages_committed(TestStore *t) {
        sqlite3 *raw = test_db_open(t);
        int64_t n = test_sql_int(raw, "SELECT count(*) FROM outbox");
        sqlite3_close(raw);
        return n;
}

START_TEST(test_transactions) {
        TestStore t;
        test_store_setup(&t, "store");
        ck_assert_int_eq(test_store_open(&t), 0);
        Store *s = t.store;
        LinkCounters c = { .failures = 4 }, got;
        OutboxMessage m;

        ck_assert_int_eq(store_commit(s), -EINVAL);
        ck_assert_int_eq(store_rollback(s), -EINVAL);

        /* only the outermost commit writes: another connection sees
         * nothing before it */
        ck_assert_int_eq(store_begin(s), 0);
        add_message(s, "<1@test>", NULL);
        ck_assert_int_eq(store_begin(s), 0);
        add_message(s, "<2@test>", NULL);
        ck_assert_int_eq(store_commit(s), 0);
        ck_assert_int_eq(count_messages_committed(&t), 0);
        ck_assert_int_eq(store_outbox_get(s, 2, NULL), 0);     /* but this connection does */
        ck_assert_int_eq(store_commit(s), 0);
        ck_assert_int_eq(count_messages_committed(&t), 2);

        /* an inner rollback undoes the inner part only */
        ck_assert_int_eq(store_begin(s), 0);
        add_message(s, "<3@test>", NULL);
        ck_assert_int_eq(store_begin(s), 0);
        ck_assert_int_eq(store_counters_put(s, "district", &c), 0);
        ck_assert_int_eq(store_rollback(s), 0);
        ck_assert_int_eq(store_counters_get(s, "district", &got), 0);
        ck_assert_uint_eq(got.failures, 0);
        /* a failing operation inside does not spoil the rest */
        ck_assert_int_eq(store_outbox_add(s, "<1@test>", NULL, ALERT_LINK_DOWN, "s", "d", (char *const *) recipients,
                                          TEST_NOW, NULL),
                         -EEXIST);
        ck_assert_int_eq(store_commit(s), 0);
        ck_assert_int_eq(count_messages_committed(&t), 3);

        /* an outer rollback undoes everything, nested commits included */
        ck_assert_int_eq(store_begin(s), 0);
        add_message(s, "<4@test>", NULL);
        ck_assert_int_eq(store_begin(s), 0);
        ck_assert_int_eq(store_counters_put(s, "district", &c), 0);
        ck_assert_int_eq(store_commit(s), 0);
        ck_assert_int_eq(store_rollback(s), 0);
        ck_assert_int_eq(store_outbox_get(s, 4, &m), -ENOENT);
        ck_assert_int_eq(store_counters_get(s, "district", &got), 0);
        ck_assert_uint_eq(got.failures, 0);
        ck_assert_int_eq(count_messages_committed(&t), 3);

        /* closing with a transaction open rolls it back */
        ck_assert_int_eq(store_begin(s), 0);
        add_message(s, "<5@test>", NULL);
        test_store_reopen(&t);
        ck_assert_int_eq(count_messages_committed(&t), 3);
        test_store_teardown(&t);
}
END_TEST

/* A database damaged on disk gives errors, never a crash or garbage. */
START_TEST(test_corruption) {
        TestStore t;
        test_store_setup(&t, "store");
        _cleanup_free_ char *db = scratch_path(t.dir, "state.db");
        ProbeResult r = { .klass = PROBE_OK, .http_status = 200, .time = TEST_NOW };

        ck_assert_int_eq(test_store_open(&t), 0);
        ck_assert_int_eq(store_begin(t.store), 0);
        for (unsigned i = 0; i < 2000; i++) {
                r.time = TEST_NOW + i;
                snprintf(r.error, sizeof r.error, "probe number %u with some text to fill pages", i);
                check_loop(store_probe_append(t.store, "district", &r, 5000) == 0, "append %u", i);
        }
        ck_assert_int_eq(store_commit(t.store), 0);
        t.store = store_close(t.store);        /* checkpoints into state.db */

        /* scribble over the last pages (probe rows and index) */
        size_t size = 0;
        _cleanup_free_ char *data = read_file(db, &size);
        ck_assert_uint_gt(size, 16 * 4096);
        for (size_t i = size - 8 * 4096; i < size; i++)
                data[i] = (char) (i * 13);
        write_file(db, data, size, 0600);

        ck_assert_int_eq(test_store_open(&t), 0);      /* the meta data is intact */
        ck_assert_int_eq(store_check_integrity(t.store), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(t.log.data, "integrity check"));
        ProbeResult *list = NULL;
        size_t n = 0;
        int k = store_probe_list(t.store, "district", 5000, &list, &n);
        ck_assert_msg(k == -EBADMSG || (k == 0 && n <= 2000), "probe list gave %d", k);
        if (k == 0)
                free(list);
        test_store_teardown(&t);
}
END_TEST

/* A full disk (here: the file size limit) fails the write that did not
 * fit, cleanly, and loses nothing that was committed. */
START_TEST(test_disk_full) {
        TestStore t;
        test_store_setup(&t, "store");
        ck_assert_int_eq(test_store_open(&t), 0);
        char *big = malloc(64 * 1024 + 1);
        memset(big, 'x', 64 * 1024);
        big[64 * 1024] = '\0';
        char id[32];
        int64_t committed = 0;
        int r = 0;

        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = { .rlim_cur = 1024 * 1024, .rlim_max = RLIM_INFINITY };
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
        for (int i = 0; i < 100; i++) {
                snprintf(id, sizeof id, "<%d@test>", i);
                r = store_outbox_add(t.store, id, NULL, ALERT_LINK_DOWN, "s", big, (char *const *) recipients, TEST_NOW,
                                     NULL);
                if (r < 0)
                        break;
                committed++;
        }
        ck_assert_msg(r == -EFBIG || r == -ENOSPC || r == -EIO, "got %d: %s", r, t.log.data);
        ck_assert_int_gt(committed, 3);

        /* inside a transaction: the failure ends it, and nothing slips out */
        ck_assert_int_eq(store_begin(t.store), 0);
        for (int i = 0; i < 3; i++) {
                snprintf(id, sizeof id, "<tx%d@test>", i);
                (void) store_outbox_add(t.store, id, NULL, ALERT_LINK_DOWN, "s", big, (char *const *) recipients,
                                        TEST_NOW, NULL);
        }
        ck_assert_int_lt(store_commit(t.store), 0);

        /* space again: the same store goes on */
        rl.rlim_cur = RLIM_INFINITY;
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
        add_message(t.store, "<after@test>", NULL);
        ck_assert_int_eq(store_check_integrity(t.store), 0);
        unsigned n = 0;
        ck_assert_int_eq(store_outbox_count(t.store, OUTBOX_PENDING, &n), 0);
        ck_assert_uint_eq(n, committed + 1);
        test_store_reopen(&t);
        ck_assert_int_eq(store_outbox_count(t.store, OUTBOX_PENDING, &n), 0);
        ck_assert_uint_eq(n, committed + 1);
        ck_assert_int_eq(store_check_integrity(t.store), 0);
        free(big);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_errno_mapping) {
        ck_assert_int_eq(store_sqlite_errno(NULL, SQLITE_OK), 0);
        ck_assert_int_eq(store_sqlite_errno(NULL, SQLITE_NOMEM), -ENOMEM);
        ck_assert_int_eq(store_sqlite_errno(NULL, SQLITE_BUSY), -EBUSY);
        ck_assert_int_eq(store_sqlite_errno(NULL, SQLITE_FULL), -ENOSPC);
        ck_assert_int_eq(store_sqlite_errno(NULL, SQLITE_CORRUPT), -EBADMSG);
        ck_assert_int_eq(store_sqlite_errno(NULL, SQLITE_NOTADB), -EBADMSG);
        ck_assert_int_eq(store_sqlite_errno(NULL, SQLITE_READONLY), -EROFS);
        ck_assert_int_eq(store_sqlite_errno(NULL, SQLITE_CONSTRAINT_UNIQUE), -EEXIST);
        ck_assert_int_eq(store_sqlite_errno(NULL, SQLITE_CONSTRAINT_NOTNULL), -EINVAL);
        ck_assert_int_eq(store_sqlite_errno(NULL, SQLITE_IOERR_WRITE), -EIO);
        ck_assert_int_eq(store_sqlite_errno(NULL, SQLITE_CANTOPEN), -EACCES);
}
END_TEST

/* ---- crash safety ---------------------------------------------------------- */

#define CRASH_ROUNDS 1000       /* each: a credential rotation and an outbox insert */
#define CRASH_KILLS 20
#define CRASH_LINKS 7

typedef struct CrashAck {
        uint32_t op;            /* 2i: rotation i, 2i+1: outbox insert i */
        uint32_t pad;
        int64_t value;          /* the generation, or the message id (-1: it was there already) */
} CrashAck;

static void crash_names(uint32_t i, char link[16], char user[32], char secret[64], char msgid[32]) {
        snprintf(link, 16, "link-%u", i % CRASH_LINKS);
        snprintf(user, 32, "user-%u", i);
        snprintf(secret, 64, "S3cr3t/%u/%08x", i, i * 2654435761u);
        snprintf(msgid, 32, "<%u@crash.test>", i);
}

/* The child: performs the operations from op on, telling the parent after
 * each one committed. Never returns. */
static void crash_writer(const char *dir, const uint8_t *key, uint32_t op, int fd) {
        char link[16], user[32], secret[64], msgid[32];
        Clock *clock = NULL;
        Store *s = NULL;
        bool first = true;

        if (clock_new_fake(TEST_NOW, 0, &clock) < 0 || store_open(dir, key, clock, NULL, &s) < 0)
                _exit(2);
        for (; op < 2 * CRASH_ROUNDS; op++, first = false) {
                uint32_t i = op / 2;
                CrashAck a = { .op = op };
                crash_names(i, link, user, secret, msgid);
                clock_advance(clock, USEC_PER_SEC);
                if (op % 2 == 0) {
                        uint64_t gen = 0;
                        if (store_credential_rotate(s, link, user, secret, strlen(secret), 1000 + i, &gen) < 0)
                                _exit(3);
                        a.value = (int64_t) gen;
                } else {
                        const char *rcpt[] = { "a@example.org", "b@example.org", NULL };
                        int r = store_outbox_add(s, msgid, link, ALERT_LINK_DOWN, user, secret, (char *const *) rcpt,
                                                 TEST_NOW + i, &a.value);
                        /* committed by the previous writer, which died before telling */
                        if (r == -EEXIST && first)
                                a.value = -1;
                        else if (r < 0)
                                _exit(4);
                }
                if (write(fd, &a, sizeof a) != sizeof a)
                        _exit(5);
        }
        store_close(s);
        clock_free(clock);
        _exit(0);
}

START_TEST(test_crash_safety) {
        TestStore t;
        test_store_setup(&t, "crash");
        usec_t start = now_usec(CLOCK_MONOTONIC);
        unsigned seed = (unsigned) getpid() ^ (unsigned) start;
        CrashAck *acks = calloc(2 * CRASH_ROUNDS, sizeof(CrashAck));
        uint32_t next = 0;
        unsigned kills = 0, runs = 0;

        srand(seed);
        while (next < 2 * CRASH_ROUNDS) {
                int fds[2];
                ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
                pid_t pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                        close(fds[0]);
                        crash_writer(t.dir, t.key, next, fds[1]);
                }
                close(fds[1]);
                runs++;

                /* kill after a random number of acknowledged writes (now
                 * and then before the first: during opening), plus a
                 * random delay to land inside a transaction */
                bool kill_it = kills < CRASH_KILLS;
                unsigned budget = MAX((2 * CRASH_ROUNDS - next) / (CRASH_KILLS - MIN(kills, CRASH_KILLS) + 1), 1u);
                unsigned after = rand() % 7 == 0 ? 0 : 1 + rand() % budget;
                unsigned seen = 0;
                bool killed = false;
                if (kill_it && after == 0) {
                        usleep(rand() % 20000);
                        kill(pid, SIGKILL);
                        killed = true;
                }
                for (;;) {
                        CrashAck a;
                        ssize_t k = read(fds[0], &a, sizeof a);
                        if (k == 0)
                                break;
                        ck_assert_int_eq(k, sizeof a);
                        ck_assert_msg(a.op == next, "ack for op %u, expected %u (seed %u)", a.op, next, seed);
                        acks[next++] = a;
                        seen++;
                        if (kill_it && !killed && seen >= after) {
                                usleep(rand() % 3000);
                                kill(pid, SIGKILL);
                                killed = true;
                        }
                }
                close(fds[0]);
                int status;
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                if (WIFSIGNALED(status)) {
                        ck_assert_int_eq(WTERMSIG(status), SIGKILL);
                        kills++;
                } else
                        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer failed: status %d (seed %u)",
                                      status, seed);
                ck_assert_msg(runs < 100, "no progress (seed %u)", seed);
        }
        ck_assert_uint_ge(kills, CRASH_KILLS);

        /* Opens without repair, consistent, every acknowledged write there. */
        ck_assert_int_eq(test_store_open(&t), 0);
        ck_assert_int_eq(store_check_integrity(t.store), 0);
        sqlite3 *raw = test_db_open(&t);
        _cleanup_free_ char *ok = test_sql_text(raw, "PRAGMA integrity_check");
        ck_assert_str_eq(ok, "ok");
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

        char link[16], user[32], secret[64], msgid[32];
        uint64_t latest[CRASH_LINKS] = {};
        uint32_t latest_i[CRASH_LINKS] = {};
        for (unsigned l = 0; l < CRASH_LINKS; l++) {
                RotationRecord *h = NULL;
                size_t n = 0;
                snprintf(link, sizeof link, "link-%u", l);
                ck_assert_int_eq(store_credential_history(t.store, link, &h, &n), 0);
                for (uint32_t op = 0; op < 2 * CRASH_ROUNDS; op += 2) {
                        uint32_t i = op / 2;
                        if (i % CRASH_LINKS != l)
                                continue;
                        crash_names(i, link, user, secret, msgid);
                        bool found = false;
                        for (size_t j = 0; j < n && !found; j++)
                                found = h[j].generation == (uint64_t) acks[op].value && streq(h[j].new_username, user);
                        check_loop(found, "rotation %u (generation %" PRIi64 ") lost (seed %u)", i, acks[op].value, seed);
                        latest[l] = (uint64_t) acks[op].value;
                        latest_i[l] = i;
                }
                rotation_record_array_free(h, n);

                /* the current credential is the last acknowledged one and decrypts */
                CredentialInfo info;
                char *plain = NULL;
                size_t size = 0;
                snprintf(link, sizeof link, "link-%u", l);
                ck_assert_int_eq(store_credential_get_secret(t.store, link, &info, &plain, &size), 0);
                crash_names(latest_i[l], link, user, secret, msgid);
                ck_assert_uint_eq(info.generation, latest[l]);
                ck_assert_str_eq(info.username, user);
                ck_assert_str_eq(plain, secret);
                secret_free(plain, size);
                credential_info_done(&info);
        }

        for (uint32_t op = 1; op < 2 * CRASH_ROUNDS; op += 2) {
                uint32_t i = op / 2;
                crash_names(i, link, user, secret, msgid);
                int64_t id = acks[op].value;
                if (id < 0) {
                        char q[96];
                        snprintf(q, sizeof q, "SELECT id FROM outbox WHERE message_id = '%s'", msgid);
                        id = test_sql_int(raw, q);
                }
                OutboxMessage m;
                int r = store_outbox_get(t.store, id, &m);
                check_loop(r == 0, "message %u (id %" PRIi64 ") lost: %d (seed %u)", i, id, r, seed);
                check_loop(streq(m.message_id, msgid) && streq(m.data, secret) && m.n_recipients == 2,
                           "message %u garbled (seed %u)", i, seed);
                outbox_message_done(&m);
        }
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM outbox"), CRASH_ROUNDS);
        sqlite3_close(raw);

        fprintf(stderr, "crash safety: %u runs, %u SIGKILLs, %u acknowledged writes, %.1f s (seed %u)\n", runs, kills,
                2 * CRASH_ROUNDS, (double) (now_usec(CLOCK_MONOTONIC) - start) / USEC_PER_SEC, seed);
        free(acks);
        test_store_teardown(&t);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("store");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_open_modes, test_wrong_key, test_newer_version_refused, test_upgrade_from_v1,
                  test_not_a_database, test_transactions, test_corruption, test_disk_full, test_errno_mapping);
        suite_add_tcase(s, tc);
        TCase *crash = tcase_create("crash");
        tcase_set_timeout(crash, 300);
        ADD_TESTS(crash, test_crash_safety);
        suite_add_tcase(s, crash);
        return s;
}

TEST_MAIN(suite)
