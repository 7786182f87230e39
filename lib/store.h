/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The durable state of tomslinkd, in one SQLite database in the state
 * directory: credentials (secrets encrypted with AES-256-GCM), the rotation
 * audit trail, the alert ledger, open problems, the mail outbox, silences
 * and a bounded probe history. Every function returns >= 0 on success and
 * a negative errno on failure; nothing here logs above debug. */

#include <sys/types.h>

#include "alert.h"
#include "clock.h"
#include "log.h"
#include "probe-result.h"
#include "time-util.h"

#define STORE_KEY_SIZE 32
#define STORE_FILE_NAME "state.db"
#define STORE_FINGERPRINT_MAX 17        /* 16 hex digits + NUL */
#define STORE_PROBE_HISTORY_DEFAULT 500

typedef struct Store Store;

/* ---- master key ------------------------------------------------------------ */

#define STORE_KEY_CREDENTIAL "tomslink.key"

/* Loads the 256-bit master key: from the systemd credential
 * $CREDENTIALS_DIRECTORY/tomslink.key when credentials_directory is given
 * and holds that file, else from key_file, which is created (32 random
 * bytes, mode 0600, parent directory created 0700) if it does not exist.
 * A key file readable or writable by group or others is refused (-EPERM),
 * one of the wrong size is refused (-EBADMSG). *ret_source gets the path
 * used (for messages). */
int master_key_load(const char *credentials_directory, const char *key_file, uint8_t ret_key[STORE_KEY_SIZE],
                    char **ret_source);

/* ---- opening --------------------------------------------------------------- */

/* Opens DIRECTORY/state.db, creating the directory (0700) and the database
 * (0600) when missing, upgrading an older schema, refusing a newer one
 * (-EPROTONOSUPPORT) and refusing a key that does not match the one the
 * database was created with (-EKEYREJECTED) without touching any data.
 * The clock gives the wall-clock times recorded. logger may be NULL. */
int store_open(const char *directory, const uint8_t key[STORE_KEY_SIZE], Clock *clock, const Logger *logger,
               Store **ret);
Store *store_close(Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_close);

int store_schema_version(Store *s);
/* PRAGMA integrity_check; 0 when "ok", -EBADMSG otherwise. */
int store_check_integrity(Store *s);

/* Groups many writes into one transaction (probe results of a round, an
 * import). Nesting is counted; only the outermost commit writes (with
 * synchronous=FULL). A nested rollback undoes only what was done since its
 * begin; an operation that fails inside a group undoes only itself. When
 * SQLite had to abandon the transaction (a full disk, an I/O error), later
 * writes fail and the outermost commit returns the error. Commit or
 * rollback without begin: -EINVAL. */
int store_begin(Store *s);
/* The same for a group of writes that a power cut may lose, never the
 * database (probe history, counters): committed with synchronous=NORMAL,
 * so without waiting for the disk. Nested in a durable group it is
 * durable; what is nested in it is not, whatever it is. */
int store_begin_relaxed(Store *s);
int store_commit(Store *s);
int store_rollback(Store *s);

/* ---- credentials ----------------------------------------------------------- */

typedef struct CredentialInfo {
        char *link;
        char *username;
        usec_t generated;       /* when it was generated in TOMS */
        usec_t set_at;          /* when it was stored here */
        uid_t set_by;
        uint64_t generation;    /* increases with every set or rotation, per store */
        char fingerprint[STORE_FINGERPRINT_MAX];   /* keyed hash of the secret: tells two apart, reveals nothing */
} CredentialInfo;

void credential_info_done(CredentialInfo *c);
void credential_info_array_free(CredentialInfo *a, size_t n);

/* Stores a credential for a link (replacing any previous one) and appends
 * a rotation record, in one durable transaction. The secret is encrypted
 * with the link name and the new generation bound as associated data. */
int store_credential_set(Store *s, const char *link, const char *username, const void *secret, size_t secret_size,
                         usec_t generated, uid_t uid, uint64_t *ret_generation);
/* The same with generated = now. */
int store_credential_rotate(Store *s, const char *link, const char *username, const void *secret, size_t secret_size,
                            uid_t uid, uint64_t *ret_generation);
/* -ENOENT when the link has no credential. */
int store_credential_get(Store *s, const char *link, CredentialInfo *ret);
/* The secret, decrypted into a buffer the caller wipes and frees with
 * secret_free(). A tampered or misplaced ciphertext gives -EBADMSG. */
int store_credential_get_secret(Store *s, const char *link, CredentialInfo *ret_info, char **ret_secret,
                                size_t *ret_size);
void secret_free(char *secret, size_t size);
/* All credentials, sorted by link; never the secrets. */
int store_credential_list(Store *s, CredentialInfo **ret, size_t *ret_n);

typedef struct RotationRecord {
        usec_t when;
        uid_t uid;
        char *old_username;     /* NULL for the first credential of a link */
        char *new_username;
        usec_t generated;
        uint64_t generation;
        char fingerprint[STORE_FINGERPRINT_MAX];
} RotationRecord;

void rotation_record_array_free(RotationRecord *a, size_t n);
/* Oldest first. */
int store_credential_history(Store *s, const char *link, RotationRecord **ret, size_t *ret_n);

typedef struct CredentialImport {
        const char *link;
        const char *username;
        const void *secret;
        size_t secret_size;
        usec_t generated;
} CredentialImport;

/* Stores all rows in one transaction, or none. */
int store_credential_import(Store *s, const CredentialImport *rows, size_t n, uid_t uid);

/* ---- alert ledger ---------------------------------------------------------- */

/* What was sent, so that a restart neither repeats nor forgets an alert.
 * scope says what the record belongs to: "gen:<generation>" for credential
 * alerts, "cert:<sha256 hex>" for endpoint certificates, "problem:<since
 * usec>" for one occurrence of link-down or auth-rejected. threshold is the
 * day count for the expiring kinds and -1 otherwise. */
int store_ledger_record(Store *s, const char *link, AlertKind kind, const char *scope, int64_t threshold, usec_t when);
/* The thresholds sent for (link, kind, scope), any order. */
int store_ledger_thresholds(Store *s, const char *link, AlertKind kind, const char *scope, unsigned **ret,
                            size_t *ret_n);
/* The time of the latest record for (link, kind, scope); -ENOENT if none. */
int store_ledger_last(Store *s, const char *link, AlertKind kind, const char *scope, usec_t *ret);
/* Drops the records of a link whose scope differs from keep_scope for the
 * given kind (old credential generations, replaced certificates). Returns
 * the number of records dropped. */
int store_ledger_prune(Store *s, const char *link, AlertKind kind, const char *keep_scope);

typedef struct LedgerRecord {
        char *link;             /* NULL for a record that belongs to no link */
        AlertKind kind;
        char *scope;
        int64_t threshold;      /* -1: not a threshold */
        usec_t time;
} LedgerRecord;

void ledger_record_array_free(LedgerRecord *a, size_t n);
/* Every record of one kind, sorted by link, scope and threshold (start-up
 * reads them in one query instead of several per link). */
int store_ledger_list(Store *s, AlertKind kind, LedgerRecord **ret, size_t *ret_n);

/* A problem that is open on a link: link-down or auth-rejected. */
typedef struct Problem {
        char *link;
        AlertKind kind;
        usec_t since;           /* first failure of the run */
        unsigned failures;      /* consecutive failures */
        ProbeClass last_class;
        long last_http_status;
        char *last_error;
        usec_t notified;        /* first notification, 0 while not notified (e.g. held) */
        usec_t last_notified;   /* latest notification (for repeats), 0 if none */
} Problem;

void problem_done(Problem *p);
void problem_array_free(Problem *a, size_t n);
/* Inserts or replaces the problem (link, kind). */
int store_problem_put(Store *s, const Problem *p);
/* 1 when the problem was open, 0 when it was not. */
int store_problem_delete(Store *s, const char *link, AlertKind kind);
/* -ENOENT when not open. */
int store_problem_get(Store *s, const char *link, AlertKind kind, Problem *ret);
/* Open problems of one link, or of all links with link NULL. */
int store_problem_list(Store *s, const char *link, Problem **ret, size_t *ret_n);

/* Per-link probe counters that must survive a restart. */
typedef struct LinkCounters {
        unsigned failures;      /* consecutive non-ok probes */
        unsigned auth_failures; /* consecutive auth probes */
        usec_t last_probe;      /* wall clock of the last probe, 0 never */
        usec_t last_ok;         /* wall clock of the last ok probe, 0 never */
} LinkCounters;

/* Unknown links read as all zero. */
int store_counters_get(Store *s, const char *link, LinkCounters *ret);
int store_counters_put(Store *s, const char *link, const LinkCounters *c);

typedef struct LinkCountersEntry {
        char *link;
        LinkCounters counters;
} LinkCountersEntry;

void link_counters_entry_array_free(LinkCountersEntry *a, size_t n);
/* The counters of every link, sorted by link (start-up reads them in one
 * query instead of one per link). */
int store_counters_list(Store *s, LinkCountersEntry **ret, size_t *ret_n);

/* The alerts raised, newest kept, for "tomslinkctl alerts". */
typedef struct AlertLogEntry {
        int64_t id;
        usec_t time;
        char *link;
        AlertKind kind;
        int priority;
        bool held;
        char *summary;
} AlertLogEntry;

void alert_log_entry_array_free(AlertLogEntry *a, size_t n);
int store_alert_log_append(Store *s, const Alert *a, const char *summary);
/* The newest max entries, newest first; link NULL for all links. Kept: the
 * latest 10,000. */
int store_alert_log_list(Store *s, const char *link, size_t max, AlertLogEntry **ret, size_t *ret_n);

/* ---- silences ---------------------------------------------------------------- */

typedef struct Silence {
        char *link;
        usec_t until;
        char *reason;           /* may be NULL */
        uid_t uid;
        usec_t created;
} Silence;

void silence_done(Silence *s);
void silence_array_free(Silence *a, size_t n);
/* Replaces any silence of the link. */
int store_silence_set(Store *s, const Silence *silence);
int store_silence_delete(Store *s, const char *link);   /* -ENOENT if none */
/* The silence of a link if it lasts past now; -ENOENT otherwise. */
int store_silence_get(Store *s, const char *link, usec_t now, Silence *ret);
/* Silences lasting past now; expired ones are deleted. */
int store_silence_list(Store *s, usec_t now, Silence **ret, size_t *ret_n);

/* ---- probe history ------------------------------------------------------- */

/* Appends a result; keeps the latest `limit` per link (STORE_PROBE_HISTORY_DEFAULT
 * when 0), pruning the older ones in the same transaction. */
int store_probe_append(Store *s, const char *link, const ProbeResult *r, unsigned limit);
/* Appends a result without pruning, for a caller that prunes each link now
 * and then with store_probe_prune(): a prune walks the link's whole
 * history, and after every append it would cost several appends. */
int store_probe_add(Store *s, const char *link, const ProbeResult *r);
/* Drops all but the latest `limit` results of a link (STORE_PROBE_HISTORY_DEFAULT
 * when 0). Returns how many were dropped. */
int store_probe_prune(Store *s, const char *link, unsigned limit);
/* The newest max results of a link, newest first. */
int store_probe_list(Store *s, const char *link, size_t max, ProbeResult **ret, size_t *ret_n);
/* What start-up needs of a link's history: its newest result (ret_last)
 * and its newest result that read the server's certificate (ret_cert;
 * cert_sha256 "" when none did). Either may be NULL. -ENOENT when the link
 * has no history. Two index lookups, whatever the history's length. */
int store_probe_latest(Store *s, const char *link, ProbeResult *ret_last, ProbeResult *ret_cert);

/* ---- mail outbox --------------------------------------------------------- */

typedef enum OutboxState {
        OUTBOX_PENDING,
        OUTBOX_DELIVERED,       /* every recipient accepted or permanently refused, at least one accepted */
        OUTBOX_FAILED,          /* given up: 24 h of failures, or every recipient refused permanently */
        _OUTBOX_STATE_MAX,
        _OUTBOX_STATE_INVALID = -EINVAL,
} OutboxState;

typedef enum RecipientState {
        RECIPIENT_PENDING,
        RECIPIENT_DELIVERED,
        RECIPIENT_REFUSED,      /* a 5xx for this recipient: permanent */
        _RECIPIENT_STATE_MAX,
        _RECIPIENT_STATE_INVALID = -EINVAL,
} RecipientState;

typedef struct OutboxRecipient {
        char *address;
        RecipientState state;
        char *error;            /* the relay's answer for a refused recipient */
} OutboxRecipient;

typedef struct OutboxMessage {
        int64_t id;             /* increases in the order messages were queued */
        char *message_id;       /* the Message-ID header value, stable across retries */
        char *link;             /* may be NULL */
        AlertKind kind;
        char *subject;
        char *data;             /* the whole RFC 5322 message, CRLF line ends */
        usec_t created;
        unsigned attempts;
        usec_t next_attempt;
        char *last_error;
        OutboxState state;
        usec_t finished;        /* when delivered or given up, 0 while pending */
        OutboxRecipient *recipients;
        size_t n_recipients;
} OutboxMessage;

void outbox_message_done(OutboxMessage *m);
void outbox_message_array_free(OutboxMessage *a, size_t n);

/* Commits a message durably (synchronous=FULL) before any delivery is
 * tried; next_attempt = created. -EEXIST if message_id is already queued. */
int store_outbox_add(Store *s, const char *message_id, const char *link, AlertKind kind, const char *subject,
                     const char *data, char *const *recipients, usec_t created, int64_t *ret_id);
/* Pending messages whose next attempt is due at now, oldest first, at most max. */
int store_outbox_due(Store *s, usec_t now, size_t max, OutboxMessage **ret, size_t *ret_n);
/* The earliest next_attempt among pending messages; -ENOENT when none is pending. */
int store_outbox_next_due(Store *s, usec_t *ret);
int store_outbox_get(Store *s, int64_t id, OutboxMessage *ret);
/* Records one recipient's outcome (delivered, or refused with error);
 * -ENOENT for an unknown message or address. */
int store_outbox_recipient_done(Store *s, int64_t id, const char *address, RecipientState state, const char *error);
/* An attempt that failed as a whole (connection, 4xx): attempts+1, next
 * attempt and the error recorded. -ENOENT for an unknown message,
 * -EALREADY for a finished one (also below). */
int store_outbox_attempt_failed(Store *s, int64_t id, usec_t next_attempt, const char *error);
/* Marks the message finished: delivered or failed (anything else:
 * -EINVAL). error NULL keeps the last error recorded. */
int store_outbox_finish(Store *s, int64_t id, OutboxState state, usec_t when, const char *error);
/* Counts by state. */
int store_outbox_count(Store *s, OutboxState state, unsigned *ret);
/* Deletes finished messages older than before; returns how many. */
int store_outbox_prune(Store *s, usec_t before);
