/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Credentials: set, rotate, read, list, history, import; tampering; and
 * that no plaintext secret reaches any file or log. */
#include <dirent.h>
#include <inttypes.h>

#include "crypto.h"
#include "store-test.h"

/* 40 random printable characters: found nowhere by accident. */
static void random_secret(char buf[41]) {
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%&*+-=?@^_~";
        uint8_t r[40];
        ck_assert_int_eq(crypto_random(r, sizeof r), 0);
        for (size_t i = 0; i < 40; i++)
                buf[i] = chars[r[i] % (sizeof chars - 1)];
        buf[40] = '\0';
}

static void set(Store *s, const char *link, const char *user, const char *secret, uint64_t *ret_gen) {
        ck_assert_int_eq(store_credential_set(s, link, user, secret, strlen(secret), TEST_NOW - USEC_PER_DAY, 0, ret_gen),
                         0);
}

static void expect_secret(Store *s, const char *link, const char *secret) {
        char *plain = NULL;
        size_t size = 0;
        ck_assert_int_eq(store_credential_get_secret(s, link, NULL, &plain, &size), 0);
        ck_assert_uint_eq(size, strlen(secret));
        ck_assert_str_eq(plain, secret);
        secret_free(plain, size);
}

static void expect_bad(Store *s, const char *link) {
        CredentialInfo info = { .generation = 4242 };
        char *plain = (char *) 0x1;
        size_t size = 4242;
        ck_assert_int_eq(store_credential_get_secret(s, link, &info, &plain, &size), -EBADMSG);
        /* nothing handed out */
        ck_assert_ptr_eq(plain, (char *) 0x1);
        ck_assert_uint_eq(size, 4242);
        ck_assert_uint_eq(info.generation, 4242);
}

START_TEST(test_set_get) {
        TestStore t;
        test_store_setup(&t, "cred");
        ck_assert_int_eq(test_store_open(&t), 0);
        CredentialInfo info = { .generation = 99 };
        uint64_t g1 = 0, g2 = 0, g3 = 0;

        ck_assert_int_eq(store_credential_get(t.store, "district", &info), -ENOENT);
        ck_assert_uint_eq(info.generation, 99);        /* untouched */
        char *plain = NULL;
        ck_assert_int_eq(store_credential_get_secret(t.store, "district", NULL, &plain, NULL), -ENOENT);

        clock_advance(t.clock, USEC_PER_HOUR);
        ck_assert_int_eq(store_credential_set(t.store, "district", "sisvendor", "first-secret", 12,
                                              TEST_NOW - 10 * USEC_PER_DAY, 0, &g1),
                         0);
        ck_assert_uint_ge(g1, 1);
        ck_assert_int_eq(store_credential_get(t.store, "district", &info), 0);
        ck_assert_str_eq(info.link, "district");
        ck_assert_str_eq(info.username, "sisvendor");
        ck_assert_uint_eq(info.generated, TEST_NOW - 10 * USEC_PER_DAY);
        ck_assert_uint_eq(info.set_at, TEST_NOW + USEC_PER_HOUR);
        ck_assert_uint_eq(info.set_by, 0);
        ck_assert_uint_eq(info.generation, g1);
        ck_assert_uint_eq(strlen(info.fingerprint), 16);
        char fp1[STORE_FINGERPRINT_MAX];
        strcpy(fp1, info.fingerprint);
        credential_info_done(&info);
        expect_secret(t.store, "district", "first-secret");

        /* replaced; generations increase per store, across links */
        ck_assert_int_eq(store_credential_set(t.store, "school-a", "vendor-a", "a-secret", 8, TEST_NOW, 0, &g2), 0);
        ck_assert_uint_gt(g2, g1);
        clock_advance(t.clock, USEC_PER_HOUR);
        ck_assert_int_eq(store_credential_rotate(t.store, "district", "sisvendor2", "second-secret", 13, 1000, &g3), 0);
        ck_assert_uint_gt(g3, g2);
        CredentialInfo got;
        char *secret = NULL;
        size_t size = 0;
        ck_assert_int_eq(store_credential_get_secret(t.store, "district", &got, &secret, &size), 0);
        ck_assert_str_eq(secret, "second-secret");
        ck_assert_uint_eq(size, 13);
        ck_assert_str_eq(got.username, "sisvendor2");
        ck_assert_uint_eq(got.generation, g3);
        ck_assert_uint_eq(got.generated, TEST_NOW + 2 * USEC_PER_HOUR);        /* rotate: generated now */
        ck_assert_uint_eq(got.set_at, TEST_NOW + 2 * USEC_PER_HOUR);
        ck_assert_uint_eq(got.set_by, 1000);
        ck_assert_str_ne(got.fingerprint, fp1);
        secret_free(secret, size);
        credential_info_done(&got);
        expect_secret(t.store, "school-a", "a-secret");

        /* a secret with NUL bytes comes back byte for byte */
        const char bin[] = { 'a', 0, 'b', 0, 0, 'c' };
        ck_assert_int_eq(store_credential_set(t.store, "binary", "u", bin, sizeof bin, TEST_NOW, 0, NULL), 0);
        ck_assert_int_eq(store_credential_get_secret(t.store, "binary", NULL, &secret, &size), 0);
        ck_assert_uint_eq(size, sizeof bin);
        ck_assert_mem_eq(secret, bin, sizeof bin);
        ck_assert_int_eq(secret[size], 0);
        secret_free(secret, size);

        /* persistent */
        test_store_reopen(&t);
        expect_secret(t.store, "district", "second-secret");
        ck_assert_int_eq(store_credential_get(t.store, "district", NULL), 0);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_invalid) {
        TestStore t;
        test_store_setup(&t, "cred");
        ck_assert_int_eq(test_store_open(&t), 0);
        char big[STORE_KEY_SIZE * 200];
        memset(big, 'x', sizeof big);
        uint64_t g = 77;

        ck_assert_int_eq(store_credential_set(t.store, "Bad_Link", "u", "s", 1, TEST_NOW, 0, &g), -EINVAL);
        ck_assert_int_eq(store_credential_set(t.store, NULL, "u", "s", 1, TEST_NOW, 0, &g), -EINVAL);
        ck_assert_int_eq(store_credential_set(t.store, "district", NULL, "s", 1, TEST_NOW, 0, &g), -EINVAL);
        ck_assert_int_eq(store_credential_set(t.store, "district", "", "s", 1, TEST_NOW, 0, &g), -EINVAL);
        ck_assert_int_eq(store_credential_set(t.store, "district", "a\nb", "s", 1, TEST_NOW, 0, &g), -EINVAL);
        ck_assert_int_eq(store_credential_set(t.store, "district", "u", NULL, 1, TEST_NOW, 0, &g), -EINVAL);
        ck_assert_int_eq(store_credential_set(t.store, "district", "u", "s", 0, TEST_NOW, 0, &g), -EINVAL);
        ck_assert_int_eq(store_credential_set(t.store, "district", "u", big, sizeof big, TEST_NOW, 0, &g), -E2BIG);
        ck_assert_int_eq(store_credential_rotate(t.store, "district", NULL, "s", 1, 0, &g), -EINVAL);
        ck_assert_uint_eq(g, 77);

        CredentialInfo *list = NULL;
        size_t n = 1;
        ck_assert_int_eq(store_credential_list(t.store, &list, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(list);
        RotationRecord *h = NULL;
        ck_assert_int_eq(store_credential_history(t.store, "district", &h, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(h);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_list) {
        TestStore t;
        test_store_setup(&t, "cred");
        ck_assert_int_eq(test_store_open(&t), 0);
        static const char *const links[] = { "school-b", "district", "school-a", "a-first", "zz-last" };
        CredentialInfo *list = NULL;
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                char user[32];
                snprintf(user, sizeof user, "user-%zu", i);
                set(t.store, links[i], user, "s3cret", NULL);
        }
        set(t.store, "district", "replaced", "s3cret2", NULL);

        ck_assert_int_eq(store_credential_list(t.store, &list, &n), 0);
        ck_assert_uint_eq(n, 5);
        ck_assert_str_eq(list[0].link, "a-first");
        ck_assert_str_eq(list[1].link, "district");
        ck_assert_str_eq(list[1].username, "replaced");
        ck_assert_str_eq(list[2].link, "school-a");
        ck_assert_str_eq(list[3].link, "school-b");
        ck_assert_str_eq(list[4].link, "zz-last");
        ck_assert_str_eq(list[4].username, "user-4");
        for (size_t i = 1; i < n; i++)
                ck_assert_uint_ne(list[i].generation, list[i - 1].generation);
        credential_info_array_free(list, n);
        credential_info_array_free(NULL, 0);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_history) {
        TestStore t;
        test_store_setup(&t, "cred");
        ck_assert_int_eq(test_store_open(&t), 0);
        RotationRecord *h = NULL;
        size_t n = 0;
        uint64_t g[4];

        ck_assert_int_eq(store_credential_set(t.store, "district", "u1", "secret-one", 10, TEST_NOW - USEC_PER_DAY, 0, &g[0]),
                         0);
        set(t.store, "other", "x", "secret-one", &g[1]);
        clock_advance(t.clock, USEC_PER_MINUTE);
        ck_assert_int_eq(store_credential_rotate(t.store, "district", "u2", "secret-two", 10, 1000, &g[2]), 0);
        clock_advance(t.clock, USEC_PER_MINUTE);
        /* the same secret again: same fingerprint */
        ck_assert_int_eq(store_credential_rotate(t.store, "district", "u3", "secret-one", 10, 1001, &g[3]), 0);

        ck_assert_int_eq(store_credential_history(t.store, "district", &h, &n), 0);
        ck_assert_uint_eq(n, 3);
        /* oldest first */
        ck_assert_uint_eq(h[0].generation, g[0]);
        ck_assert_uint_eq(h[1].generation, g[2]);
        ck_assert_uint_eq(h[2].generation, g[3]);
        ck_assert_ptr_null(h[0].old_username);
        ck_assert_str_eq(h[0].new_username, "u1");
        ck_assert_str_eq(h[1].old_username, "u1");
        ck_assert_str_eq(h[1].new_username, "u2");
        ck_assert_str_eq(h[2].old_username, "u2");
        ck_assert_str_eq(h[2].new_username, "u3");
        ck_assert_uint_eq(h[0].when, TEST_NOW);
        ck_assert_uint_eq(h[1].when, TEST_NOW + USEC_PER_MINUTE);
        ck_assert_uint_eq(h[0].generated, TEST_NOW - USEC_PER_DAY);
        ck_assert_uint_eq(h[1].generated, TEST_NOW + USEC_PER_MINUTE);
        ck_assert_uint_eq(h[0].uid, 0);
        ck_assert_uint_eq(h[1].uid, 1000);
        ck_assert_uint_eq(h[2].uid, 1001);
        ck_assert_str_ne(h[0].fingerprint, h[1].fingerprint);
        ck_assert_str_eq(h[0].fingerprint, h[2].fingerprint);
        /* the current credential carries the last record's fingerprint */
        CredentialInfo info;
        ck_assert_int_eq(store_credential_get(t.store, "district", &info), 0);
        ck_assert_str_eq(info.fingerprint, h[2].fingerprint);
        credential_info_done(&info);
        rotation_record_array_free(h, n);

        ck_assert_int_eq(store_credential_history(t.store, "nowhere", &h, &n), 0);
        ck_assert_uint_eq(n, 0);
        rotation_record_array_free(h, n);
        ck_assert_int_eq(store_credential_history(t.store, "other", &h, &n), 0);
        ck_assert_uint_eq(n, 1);
        rotation_record_array_free(h, n);

        /* a record that cannot be read fails the whole history, and what
         * was read before it is released (the sanitizer build checks) */
        sqlite3 *raw = test_db_open(&t);
        test_sql(raw, "PRAGMA ignore_check_constraints = ON; "
                      "UPDATE rotation SET fingerprint = hex(zeroblob(64)) WHERE new_username = 'u3'");
        h = NULL;
        ck_assert_int_eq(store_credential_history(t.store, "district", &h, &n), -EBADMSG);
        ck_assert_ptr_null(h);

        /* the history is not a place for secrets */
        ck_assert_int_eq(test_sql_int(raw, "SELECT count(*) FROM pragma_table_info('rotation') WHERE name LIKE '%secret%'"),
                         0);
        sqlite3_close(raw);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_import) {
        TestStore t;
        test_store_setup(&t, "cred");
        ck_assert_int_eq(test_store_open(&t), 0);
        CredentialInfo *list = NULL;
        size_t n = 0;

        CredentialImport rows[] = {
                { "district", "d-user", "d-secret", 8, TEST_NOW - USEC_PER_DAY },
                { "school-a", "a-user", "a-secret", 8, TEST_NOW - 2 * USEC_PER_DAY },
                { "school-b", "b-user", "b-secret", 8, TEST_NOW - 3 * USEC_PER_DAY },
        };
        ck_assert_int_eq(store_credential_import(t.store, rows, ELEMENTSOF(rows), 0), 0);
        ck_assert_int_eq(store_credential_list(t.store, &list, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(list[1].username, "a-user");
        ck_assert_uint_eq(list[1].generated, TEST_NOW - 2 * USEC_PER_DAY);
        credential_info_array_free(list, n);
        expect_secret(t.store, "school-b", "b-secret");

        /* one bad row (no username): nothing is stored */
        CredentialImport bad[] = {
                { "district", "new-d", "new-d-secret", 12, TEST_NOW },
                { "school-c", "c-user", "c-secret", 8, TEST_NOW },
                { "school-d", NULL, "d-secret", 8, TEST_NOW },
                { "school-e", "e-user", "e-secret", 8, TEST_NOW },
        };
        ck_assert_int_eq(store_credential_import(t.store, bad, ELEMENTSOF(bad), 0), -EINVAL);
        bad[2].username = "d-user";
        bad[3].secret_size = 0;
        ck_assert_int_eq(store_credential_import(t.store, bad, ELEMENTSOF(bad), 0), -EINVAL);
        bad[3].secret_size = 8;
        bad[1].link = "School C";
        ck_assert_int_eq(store_credential_import(t.store, bad, ELEMENTSOF(bad), 0), -EINVAL);
        /* a link twice is ambiguous */
        bad[1].link = "district";
        ck_assert_int_eq(store_credential_import(t.store, bad, ELEMENTSOF(bad), 0), -EINVAL);

        ck_assert_int_eq(store_credential_list(t.store, &list, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(list[0].username, "d-user");
        credential_info_array_free(list, n);
        RotationRecord *h = NULL;
        ck_assert_int_eq(store_credential_history(t.store, "district", &h, &n), 0);
        ck_assert_uint_eq(n, 1);
        rotation_record_array_free(h, n);
        expect_secret(t.store, "district", "d-secret");

        /* inside a transaction that is rolled back: nothing either */
        bad[1].link = "school-c";
        ck_assert_int_eq(store_begin(t.store), 0);
        ck_assert_int_eq(store_credential_import(t.store, bad, ELEMENTSOF(bad), 0), 0);
        ck_assert_int_eq(store_rollback(t.store), 0);
        ck_assert_int_eq(store_credential_get(t.store, "school-c", NULL), -ENOENT);
        expect_secret(t.store, "district", "d-secret");

        ck_assert_int_eq(store_credential_import(t.store, NULL, 0, 0), 0);
        test_store_teardown(&t);
}
END_TEST

/* SPEC: import must carry 10,000 rows in one call. */
START_TEST(test_import_10000) {
        TestStore t;
        test_store_setup(&t, "cred");
        ck_assert_int_eq(test_store_open(&t), 0);
        enum { N = 10000 };
        CredentialImport *rows = calloc(N, sizeof(CredentialImport));
        char (*names)[3][32] = calloc(N, sizeof *names);
        usec_t start = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < N; i++) {
                snprintf(names[i][0], 32, "link-%05zu", i);
                snprintf(names[i][1], 32, "user-%zu", i);
                snprintf(names[i][2], 32, "secret-%zu", i);
                rows[i] = (CredentialImport) { names[i][0], names[i][1], names[i][2], strlen(names[i][2]), TEST_NOW - i };
        }
        ck_assert_int_eq(store_credential_import(t.store, rows, N, 0), 0);
        double secs = (double) (now_usec(CLOCK_MONOTONIC) - start) / USEC_PER_SEC;

        CredentialInfo *list = NULL;
        size_t n = 0;
        ck_assert_int_eq(store_credential_list(t.store, &list, &n), 0);
        ck_assert_uint_eq(n, N);
        for (size_t i = 0; i < N; i++)
                check_loop(streq(list[i].link, names[i][0]) && streq(list[i].username, names[i][1]) &&
                                   list[i].generated == TEST_NOW - i,
                           "row %zu", i);
        credential_info_array_free(list, n);
        expect_secret(t.store, "link-09999", "secret-9999");
        fprintf(stderr, "import of %d credentials: %.2f s\n", N, secs);
        free(rows);
        free(names);
        test_store_teardown(&t);
}
END_TEST

/* ---- tampering --------------------------------------------------------------- */

/* The raw connection edits rows under the open store (WAL lets both in). */
static uint8_t *blob_get(sqlite3 *db, const char *link, size_t *ret_n) {
        sqlite3_stmt *st = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT secret FROM credential WHERE link = ?", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_text(st, 1, link, -1, SQLITE_STATIC);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        size_t n = (size_t) sqlite3_column_bytes(st, 0);
        uint8_t *b = malloc(n + 1);
        memcpy(b, sqlite3_column_blob(st, 0), n);
        sqlite3_finalize(st);
        *ret_n = n;
        return b;
}

static void blob_put(sqlite3 *db, const char *link, const void *b, size_t n) {
        sqlite3_stmt *st = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE credential SET secret = ? WHERE link = ?", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_blob(st, 1, b ?: "", (int) n, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, link, -1, SQLITE_STATIC);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
        ck_assert_int_eq(sqlite3_changes(db), 1);
        sqlite3_finalize(st);
}

static void generation_put(sqlite3 *db, const char *link, uint64_t generation) {
        char sql[128];
        snprintf(sql, sizeof sql, "UPDATE credential SET generation = %" PRIu64 " WHERE link = '%s'", generation, link);
        test_sql(db, sql);
}

START_TEST(test_tamper_ciphertext) {
        TestStore t;
        test_store_setup(&t, "cred");
        ck_assert_int_eq(test_store_open(&t), 0);
        const char *secret = "the-district-secret";
        set(t.store, "district", "u", secret, NULL);

        sqlite3 *raw = test_db_open(&t);
        size_t n = 0;
        uint8_t *orig = blob_get(raw, "district", &n);
        ck_assert_uint_eq(n, strlen(secret) + CRYPTO_SEAL_OVERHEAD);
        ck_assert_ptr_null(memmem(orig, n, secret, strlen(secret)));
        uint8_t *b = malloc(n + 1);

        /* one flipped bit anywhere: version, nonce, ciphertext, tag */
        for (size_t i = 0; i < n; i++) {
                memcpy(b, orig, n);
                b[i] ^= (uint8_t) (1u << (i % 8));
                blob_put(raw, "district", b, n);
                char *plain = (char *) 0x1;
                size_t size = 0;
                int r = store_credential_get_secret(t.store, "district", NULL, &plain, &size);
                check_loop(r == -EBADMSG && plain == (char *) 0x1, "flipped byte %zu: %d", i, r);
        }
        /* truncated, extended, emptied */
        blob_put(raw, "district", orig, n - 1);
        expect_bad(t.store, "district");
        memcpy(b, orig, n);
        b[n] = 0;
        blob_put(raw, "district", b, n + 1);
        expect_bad(t.store, "district");
        blob_put(raw, "district", orig, CRYPTO_SEAL_OVERHEAD - 1);
        expect_bad(t.store, "district");
        blob_put(raw, "district", NULL, 0);
        expect_bad(t.store, "district");

        /* the metadata still reads; the original blob opens again */
        ck_assert_int_eq(store_credential_get(t.store, "district", NULL), 0);
        blob_put(raw, "district", orig, n);
        expect_secret(t.store, "district", secret);

        /* the failures were logged without any plaintext */
        ck_assert_ptr_nonnull(strstr(t.log.data, "does not decrypt"));
        ck_assert_ptr_null(strstr(t.log.data, secret));
        free(b);
        free(orig);
        sqlite3_close(raw);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_tamper_moved) {
        TestStore t;
        test_store_setup(&t, "cred");
        ck_assert_int_eq(test_store_open(&t), 0);
        uint64_t ga = 0, gb = 0;
        set(t.store, "district", "u", "district-secret", &ga);
        set(t.store, "school-a", "u", "school-a-secret", &gb);

        /* a's ciphertext in b's row */
        sqlite3 *raw = test_db_open(&t);
        size_t n = 0, nb = 0;
        uint8_t *a = blob_get(raw, "district", &n), *orig_b = blob_get(raw, "school-a", &nb);
        blob_put(raw, "school-a", a, n);
        expect_bad(t.store, "school-a");
        /* even with a's generation: the link is bound too */
        test_sql(raw, "PRAGMA foreign_keys = OFF; UPDATE credential SET generation = -generation WHERE link = 'district'");
        generation_put(raw, "school-a", ga);
        expect_bad(t.store, "school-a");

        blob_put(raw, "school-a", orig_b, nb);
        generation_put(raw, "school-a", gb);
        expect_secret(t.store, "school-a", "school-a-secret");
        test_sql(raw, "UPDATE credential SET generation = -generation WHERE link = 'district'");
        expect_secret(t.store, "district", "district-secret");  /* the source is fine */

        /* a ciphertext from another store (another master key) for the
         * same link and generation */
        TestStore other;
        test_store_setup(&other, "cred");
        other.key[0] ^= 0xff;
        ck_assert_int_eq(test_store_open(&other), 0);
        uint64_t go = 0;
        set(other.store, "district", "u", "district-secret", &go);
        ck_assert_uint_eq(go, ga);
        sqlite3 *raw2 = test_db_open(&other);
        size_t no = 0;
        uint8_t *o = blob_get(raw2, "district", &no);
        sqlite3_close(raw2);
        blob_put(raw, "district", o, no);
        expect_bad(t.store, "district");
        test_store_teardown(&other);

        free(a);
        free(orig_b);
        free(o);
        sqlite3_close(raw);
        test_store_teardown(&t);
}
END_TEST

START_TEST(test_tamper_generation) {
        TestStore t;
        test_store_setup(&t, "cred");
        ck_assert_int_eq(test_store_open(&t), 0);
        uint64_t g1 = 0, g2 = 0;
        set(t.store, "district", "u1", "old-secret", &g1);
        sqlite3 *raw = test_db_open(&t);
        size_t n1 = 0, n2 = 0;
        uint8_t *b1 = blob_get(raw, "district", &n1);
        ck_assert_int_eq(store_credential_rotate(t.store, "district", "u2", "new-secret", 10, 0, &g2), 0);
        uint8_t *b2 = blob_get(raw, "district", &n2);

        /* the old generation's ciphertext in the new generation's row */
        blob_put(raw, "district", b1, n1);
        expect_bad(t.store, "district");
        /* the new ciphertext labelled with the old generation */
        blob_put(raw, "district", b2, n2);
        generation_put(raw, "district", g1);
        expect_bad(t.store, "district");
        generation_put(raw, "district", g2);
        expect_secret(t.store, "district", "new-secret");

        /* nonsense metadata is an error too, not a crash */
        test_sql(raw, "UPDATE credential SET fingerprint = '0123456789abcdef0' WHERE link = 'district'");
        ck_assert_int_eq(store_credential_get(t.store, "district", NULL), 0);
        CredentialInfo info;
        ck_assert_int_eq(store_credential_get(t.store, "district", &info), -EBADMSG);
        expect_bad(t.store, "district");
        free(b1);
        free(b2);
        sqlite3_close(raw);
        test_store_teardown(&t);
}
END_TEST

/* ---- no plaintext anywhere ------------------------------------------------------ */

static bool found_in_files(const char *dir, const char *needle, size_t needle_size, char **ret_where) {
        DIR *d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        bool found = false;
        for (struct dirent *de; !found && (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *p = scratch_path(dir, de->d_name);
                size_t size = 0;
                _cleanup_free_ char *data = read_file(p, &size);
                if (data && memmem(data, size, needle, needle_size)) {
                        found = true;
                        if (ret_where)
                                *ret_where = strdup(de->d_name);
                }
        }
        closedir(d);
        return found;
}

static size_t count_files(const char *dir) {
        DIR *d = opendir(dir);
        size_t n = 0;
        for (struct dirent *de; (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

START_TEST(test_no_plaintext_on_disk) {
        TestStore t;
        test_store_setup(&t, "cred");
        ck_assert_int_eq(test_store_open(&t), 0);
        char s1[41], s2[41], s3[41], s4[41];
        random_secret(s1);
        random_secret(s2);
        random_secret(s3);
        random_secret(s4);
        const char *const secrets[] = { s1, s2, s3, s4 };
        char *where = NULL;

        set(t.store, "district", "visible-username-1", s1, NULL);
        ck_assert_int_eq(store_credential_rotate(t.store, "district", "visible-username-2", s2, 40, 0, NULL), 0);
        CredentialImport row = { "school-a", "visible-username-3", s3, 40, TEST_NOW };
        ck_assert_int_eq(store_credential_import(t.store, &row, 1, 0), 0);
        /* a refused write, too */
        ck_assert_int_eq(store_credential_set(t.store, "Bad Link", "x", s4, 40, TEST_NOW, 0, NULL), -EINVAL);
        expect_secret(t.store, "district", s2);
        expect_secret(t.store, "school-a", s3);

        /* while open: state.db, its WAL and shared memory */
        ck_assert_uint_ge(count_files(t.dir), 3);
        /* the scan does find what is there in plain text: usernames */
        ck_assert(found_in_files(t.dir, "visible-username-2", 18, NULL));
        for (size_t i = 0; i < ELEMENTSOF(secrets); i++) {
                ck_assert_msg(!found_in_files(t.dir, secrets[i], 40, &where), "secret %zu found in %s", i, where);
                /* nor a good part of one */
                ck_assert_msg(!found_in_files(t.dir, secrets[i] + 10, 20, &where), "part of secret %zu in %s", i, where);
        }

        /* after closing (checkpointed into state.db) */
        t.store = store_close(t.store);
        ck_assert(found_in_files(t.dir, "visible-username-3", 18, NULL));
        for (size_t i = 0; i < ELEMENTSOF(secrets); i++)
                ck_assert_msg(!found_in_files(t.dir, secrets[i], 40, &where), "secret %zu found in %s", i, where);

        /* nor in anything the store logged, which was not nothing */
        ck_assert_ptr_nonnull(strstr(t.log.data, "Stored credential of link district"));
        for (size_t i = 0; i < ELEMENTSOF(secrets); i++)
                ck_assert_ptr_null(strstr(t.log.data, secrets[i]));
        test_store_teardown(&t);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("store-credential");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_set_get, test_invalid, test_list, test_history, test_import, test_import_10000,
                  test_tamper_ciphertext, test_tamper_moved, test_tamper_generation, test_no_plaintext_on_disk);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
