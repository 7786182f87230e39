/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Credentials and their rotation history. The secret is only ever handed
 * to SQLite sealed (AES-256-GCM, the link and generation bound in), so no
 * plaintext reaches the database file, its WAL or freed pages. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "store-internal.h"
#include "validate.h"

void credential_info_done(CredentialInfo *c) {
        if (!c)
                return;
        free(c->link);
        free(c->username);
        *c = (CredentialInfo) {};
}

static void credential_info_release(void *p) {
        credential_info_done(p);
}

void credential_info_array_free(CredentialInfo *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                credential_info_done(a + i);
        free(a);
}

static void rotation_record_done(void *p) {
        RotationRecord *x = p;
        free(x->old_username);
        free(x->new_username);
}

void rotation_record_array_free(RotationRecord *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                rotation_record_done(a + i);
        free(a);
}

void secret_free(char *secret, size_t size) {
        /* the buffer holds size bytes and a NUL */
        crypto_wipe_free(secret, size + 1);
}

static bool username_is_valid(const char *u) {
        return !isempty(u) && strlen(u) <= 256 && string_is_safe(u);
}

static int check_credential(const char *link, const char *username, const void *secret, size_t secret_size) {
        if (!link_name_is_valid(link) || !username_is_valid(username) || !secret || secret_size == 0)
                return -EINVAL;
        if (secret_size > STORE_SECRET_MAX)
                return -E2BIG;
        return 0;
}

static int fingerprint_copy(sqlite3_stmt *st, int i, char ret[STORE_FINGERPRINT_MAX]) {
        const char *v = (const char *) sqlite3_column_text(st, i);
        if (!v || strlen(v) >= STORE_FINGERPRINT_MAX)
                return -EBADMSG;
        strcpy(ret, v);
        return 0;
}

/* One credential, in the caller's transaction. */
static int credential_put(Store *s, const char *link, const char *username, const void *secret, size_t secret_size,
                          usec_t generated, uid_t uid, uint64_t *ret_generation) {
        static const char sql_old[] = "SELECT username FROM credential WHERE link = ?";
        static const char sql_rotation[] =
                "INSERT INTO rotation (link, time, uid, old_username, new_username, generated, fingerprint) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)";
        static const char sql_credential[] =
                "INSERT INTO credential (link, username, secret, generated, set_at, set_by, generation, fingerprint) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                "ON CONFLICT (link) DO UPDATE SET username = ?2, secret = ?3, generated = ?4, set_at = ?5, "
                "set_by = ?6, generation = ?7, fingerprint = ?8";
        char fingerprint[CRYPTO_FINGERPRINT_MAX];
        _cleanup_free_ char *old = NULL;
        _cleanup_free_ uint8_t *sealed = NULL;
        size_t sealed_size;
        usec_t now = store_now(s);
        int r;

        r = crypto_fingerprint(&s->keys, secret, secret_size, fingerprint);
        if (r < 0)
                return r;

        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql_old, &st);
                if (r < 0)
                        return r;
                r = store_bind_text(st, 1, link);
                if (r < 0)
                        return r;
                r = store_step(s, st);
                if (r < 0)
                        return r;
                if (r > 0) {
                        r = store_column_strdup(st, 0, true, &old);
                        if (r < 0)
                                return r;
                }
        }

        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql_rotation, &st);
                if (r < 0)
                        return r;
                if ((r = store_bind_text(st, 1, link)) < 0 || (r = store_bind_usec(st, 2, now)) < 0 ||
                    (r = store_bind_int64(st, 3, uid)) < 0 || (r = store_bind_text(st, 4, old)) < 0 ||
                    (r = store_bind_text(st, 5, username)) < 0 || (r = store_bind_usec(st, 6, generated)) < 0 ||
                    (r = store_bind_text(st, 7, fingerprint)) < 0)
                        return r;
                r = store_step_done(s, st);
                if (r < 0)
                        return r;
        }
        int64_t generation = sqlite3_last_insert_rowid(s->db);
        if (generation <= 0)
                return -EIO;

        r = crypto_credential_seal(&s->keys, link, (uint64_t) generation, secret, secret_size, &sealed, &sealed_size);
        if (r < 0)
                return r;

        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                r = store_prepare(s, sql_credential, &st);
                if (r < 0)
                        return r;
                if ((r = store_bind_text(st, 1, link)) < 0 || (r = store_bind_text(st, 2, username)) < 0 ||
                    (r = store_bind_blob(st, 3, sealed, sealed_size)) < 0 ||
                    (r = store_bind_usec(st, 4, generated)) < 0 || (r = store_bind_usec(st, 5, now)) < 0 ||
                    (r = store_bind_int64(st, 6, uid)) < 0 || (r = store_bind_int64(st, 7, generation)) < 0 ||
                    (r = store_bind_text(st, 8, fingerprint)) < 0)
                        return r;
                r = store_step_done(s, st);
                if (r < 0)
                        return r;
        }

        log_store(s, "Stored credential of link %s, generation %" PRIi64 ", fingerprint %s", link, generation,
                  fingerprint);
        if (ret_generation)
                *ret_generation = (uint64_t) generation;
        return 0;
}

int store_credential_set(Store *s, const char *link, const char *username, const void *secret, size_t secret_size,
                         usec_t generated, uid_t uid, uint64_t *ret_generation) {
        uint64_t generation = 0;
        int r;

        assert(s);
        r = check_credential(link, username, secret, secret_size);
        if (r < 0)
                return r;
        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        r = store_tx_end(s, credential_put(s, link, username, secret, secret_size, generated, uid, &generation));
        if (r < 0)
                return r;
        if (ret_generation)
                *ret_generation = generation;
        return 0;
}

int store_credential_rotate(Store *s, const char *link, const char *username, const void *secret, size_t secret_size,
                            uid_t uid, uint64_t *ret_generation) {
        assert(s);
        return store_credential_set(s, link, username, secret, secret_size, store_now(s), uid, ret_generation);
}

#define CREDENTIAL_COLUMNS "link, username, generated, set_at, set_by, generation, fingerprint"

/* ret: a CredentialInfo */
static int credential_info_read(sqlite3_stmt *st, void *ret) {
        _cleanup_free_ char *link = NULL, *username = NULL;
        CredentialInfo c = {};
        int r;

        if ((r = store_column_strdup(st, 0, true, &link)) < 0 || (r = store_column_strdup(st, 1, true, &username)) < 0)
                return r;
        r = fingerprint_copy(st, 6, c.fingerprint);
        if (r < 0)
                return r;
        int64_t generation = sqlite3_column_int64(st, 5);
        if (generation <= 0)
                return -EBADMSG;
        c.generated = store_column_usec(st, 2);
        c.set_at = store_column_usec(st, 3);
        c.set_by = (uid_t) sqlite3_column_int64(st, 4);
        c.generation = (uint64_t) generation;
        c.link = TAKE_PTR(link);
        c.username = TAKE_PTR(username);
        *(CredentialInfo *) ret = c;
        return 0;
}

int store_credential_get(Store *s, const char *link, CredentialInfo *ret) {
        static const char sql[] = "SELECT " CREDENTIAL_COLUMNS " FROM credential WHERE link = ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
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
        if (r == 0)
                return -ENOENT;
        if (!ret)
                return 0;
        return credential_info_read(st, ret);
}

int store_credential_get_secret(Store *s, const char *link, CredentialInfo *ret_info, char **ret_secret,
                                size_t *ret_size) {
        static const char sql[] = "SELECT " CREDENTIAL_COLUMNS ", secret FROM credential WHERE link = ?";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        CredentialInfo info = {};
        char *secret = NULL;
        size_t size = 0;
        int r;

        assert(s);
        assert(ret_secret);
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
        if (r == 0)
                return -ENOENT;
        r = credential_info_read(st, &info);
        if (r < 0)
                return r;

        const void *sealed = sqlite3_column_blob(st, 7);
        int sealed_size = sqlite3_column_bytes(st, 7);
        if (!sealed || sealed_size <= 0)
                r = -EBADMSG;
        else
                r = crypto_credential_open(&s->keys, info.link, info.generation, sealed, (size_t) sealed_size, &secret,
                                           &size);
        if (r < 0) {
                /* never say more than that it did not authenticate */
                log_store(s, "Stored secret of link %s, generation %" PRIu64 " does not decrypt: %s", info.link,
                          info.generation, strerror(-r));
                credential_info_done(&info);
                return r;
        }

        if (ret_info)
                *ret_info = info;
        else
                credential_info_done(&info);
        *ret_secret = secret;
        if (ret_size)
                *ret_size = size;
        return 0;
}

int store_credential_list(Store *s, CredentialInfo **ret, size_t *ret_n) {
        static const char sql[] = "SELECT " CREDENTIAL_COLUMNS " FROM credential ORDER BY link";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        return STORE_READ_ROWS(s, st, credential_info_read, credential_info_release, ret, ret_n);
}

/* a row of store_credential_history() (time, uid, old_username,
 * new_username, generated, generation, fingerprint) */
static int rotation_record_read(sqlite3_stmt *st, void *ret) {
        RotationRecord *x = ret;
        int r;

        x->when = store_column_usec(st, 0);
        x->uid = (uid_t) sqlite3_column_int64(st, 1);
        x->generated = store_column_usec(st, 4);
        x->generation = (uint64_t) sqlite3_column_int64(st, 5);
        if ((r = store_column_strdup(st, 2, false, &x->old_username)) < 0 ||
            (r = store_column_strdup(st, 3, true, &x->new_username)) < 0)
                return r;
        return fingerprint_copy(st, 6, x->fingerprint);
}

int store_credential_history(Store *s, const char *link, RotationRecord **ret, size_t *ret_n) {
        static const char sql[] =
                "SELECT time, uid, old_username, new_username, generated, generation, fingerprint "
                "FROM rotation WHERE link = ? ORDER BY generation";
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);
        if (!link)
                return -EINVAL;
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = store_bind_text(st, 1, link);
        if (r < 0)
                return r;
        return STORE_READ_ROWS(s, st, rotation_record_read, rotation_record_done, ret, ret_n);
}

static int link_cmp(const void *a, const void *b) {
        return strcmp(**(const char *const *const *) a, **(const char *const *const *) b);
}

int store_credential_import(Store *s, const CredentialImport *rows, size_t n, uid_t uid) {
        int r;

        assert(s);
        if (n == 0)
                return 0;
        if (!rows)
                return -EINVAL;

        /* Every row is checked before anything is written; a link may
         * appear only once. */
        _cleanup_free_ const char **links = calloc(n, sizeof(char *));
        if (!links)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = check_credential(rows[i].link, rows[i].username, rows[i].secret, rows[i].secret_size);
                if (r < 0) {
                        log_store(s, "Import row %zu is invalid", i + 1);
                        return r;
                }
                links[i] = rows[i].link;
        }
        const char ***sorted = malloc(sizeof(char **) * n);
        if (!sorted)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                sorted[i] = links + i;
        qsort(sorted, n, sizeof(char **), link_cmp);
        r = 0;
        for (size_t i = 1; i < n; i++)
                if (streq(*sorted[i - 1], *sorted[i])) {
                        log_store(s, "Import: link %s appears more than once", *sorted[i]);
                        r = -EINVAL;
                        break;
                }
        free(sorted);
        if (r < 0)
                return r;

        r = store_tx_begin(s, true);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = credential_put(s, rows[i].link, rows[i].username, rows[i].secret, rows[i].secret_size,
                                   rows[i].generated, uid, NULL);
        r = store_tx_end(s, r);
        if (r < 0)
                return r;
        log_store(s, "Imported %zu credentials", n);
        return 0;
}
