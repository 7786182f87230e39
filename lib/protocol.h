/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The control protocol between tomslinkd and tomslinkctl: the whole
 * contract in one header (docs/protocol.md describes the wire format for
 * people; this file is what both programs compile).
 *
 * Transport: a UNIX SOCK_SEQPACKET socket. Every message is one JSON
 * document (an object, UTF-8, no NUL bytes) of at most PROTOCOL_MESSAGE_MAX
 * bytes carrying "v": PROTOCOL_VERSION, except a secret, which never
 * travels inside JSON: a request that carries one announces its size in
 * "secret_size" and the secret follows as the very next message, raw.
 *
 * A request names a command; a reply is either {"ok": true, "data": {...}}
 * or {"ok": false, "error": {"code", "message", "details"}}. A reply too big
 * for one message is split into a stream: every message but the last has
 * "more": true; the receiver concatenates the top-level arrays of "data"
 * (see protocol_reply_encode()). A credential import is a request stream:
 * chunks with "more": true, each followed by the raw secrets of its rows,
 * committed by the daemon only when the last chunk (without "more") has
 * arrived; it gets one reply. Unknown fields are ignored everywhere; a
 * known field of the wrong type is an error that names it. */

#include <json-c/json.h>
#include <sys/types.h>

#include "alert.h"
#include "probe-result.h"
#include "store.h"
#include "time-util.h"
#include "tz.h"

#define PROTOCOL_VERSION 1

/* Largest message, JSON or secret, in either direction. The socket buffers
 * are raised to hold it (see protocol_socket_setup()). */
#define PROTOCOL_MESSAGE_MAX (64U * 1024U)
/* Largest secret key of one credential. */
#define PROTOCOL_SECRET_MAX 1024U
/* Limits of the string arguments of requests (bytes). */
#define PROTOCOL_USERNAME_MAX 256U
#define PROTOCOL_REASON_MAX 1024U
#define PROTOCOL_GENERATED_MAX 64U
/* Rows of one credential import (across all its chunks). */
#define PROTOCOL_IMPORT_ROWS_MAX 100000U
/* Largest reply a client accepts after reassembly, and most messages in
 * one reply stream. */
#define PROTOCOL_REPLY_MAX (512U * 1024U * 1024U)
#define PROTOCOL_REPLY_MESSAGES_MAX 65536U
/* JSON nesting accepted. */
#define PROTOCOL_DEPTH_MAX 16
/* Silences last at most this long. */
#define PROTOCOL_SILENCE_MAX (366ULL * USEC_PER_DAY)

static inline void json_unrefp(json_object **o) {
        json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_unrefp)

/* ---- commands -------------------------------------------------------------- */

typedef enum ProtocolCommand {
        PROTOCOL_COMMAND_STATUS,
        PROTOCOL_COMMAND_SHOW,
        PROTOCOL_COMMAND_PROBE,
        PROTOCOL_COMMAND_CREDENTIAL_SET,
        PROTOCOL_COMMAND_CREDENTIAL_ROTATE,
        PROTOCOL_COMMAND_CREDENTIAL_HISTORY,
        PROTOCOL_COMMAND_CREDENTIAL_IMPORT,
        PROTOCOL_COMMAND_SILENCE,
        PROTOCOL_COMMAND_UNSILENCE,
        PROTOCOL_COMMAND_ALERTS,
        PROTOCOL_COMMAND_TEST_EMAIL,
        PROTOCOL_COMMAND_RELOAD,
        PROTOCOL_COMMAND_CHECK,
        _PROTOCOL_COMMAND_MAX,
        _PROTOCOL_COMMAND_INVALID = -EINVAL,
} ProtocolCommand;

/* What a peer may do, decided by the server from SO_PEERCRED. */
typedef enum ProtocolAccess {
        PROTOCOL_ACCESS_NONE,   /* nothing: every request is refused */
        PROTOCOL_ACCESS_READ,   /* members of the tomslink group */
        PROTOCOL_ACCESS_ADMIN,  /* root and the daemon's own uid */
        _PROTOCOL_ACCESS_MAX,
        _PROTOCOL_ACCESS_INVALID = -EINVAL,
} ProtocolAccess;

/* The request fields a command takes (ProtocolCommandInfo.args). */
enum {
        PROTOCOL_ARG_LINK = 1 << 0,             /* "link" required */
        PROTOCOL_ARG_LINK_OR_ALL = 1 << 1,      /* exactly one of "link" and "all": true */
        PROTOCOL_ARG_LINK_OPTIONAL = 1 << 2,    /* "link" optional (a filter) */
        PROTOCOL_ARG_USERNAME = 1 << 3,         /* "username" required */
        PROTOCOL_ARG_GENERATED = 1 << 4,        /* "generated" optional */
        PROTOCOL_ARG_SECRET = 1 << 5,           /* "secret_size" required, the secret follows */
        PROTOCOL_ARG_DURATION = 1 << 6,         /* "duration_seconds" required */
        PROTOCOL_ARG_REASON = 1 << 7,           /* "reason" optional */
        PROTOCOL_ARG_LIMIT = 1 << 8,            /* "limit" optional */
        PROTOCOL_ARG_ROWS = 1 << 9,             /* "rows" required, "more" optional: a request stream */
};

typedef struct ProtocolCommandInfo {
        ProtocolCommand command;
        const char *name;               /* on the wire */
        ProtocolAccess access;          /* needed */
        unsigned args;                  /* PROTOCOL_ARG_* */
        const char *summary;
} ProtocolCommandInfo;

const ProtocolCommandInfo *protocol_command_info(ProtocolCommand c);
const char *protocol_command_to_string(ProtocolCommand c);
ProtocolCommand protocol_command_from_string(const char *s);
const char *protocol_access_to_string(ProtocolAccess a);

/* ---- errors ---------------------------------------------------------------- */

/* The stable machine-readable error codes of error replies. */
typedef enum ProtocolError {
        PROTOCOL_ERROR_BAD_REQUEST,             /* malformed message, wrong types, missing fields, too large */
        PROTOCOL_ERROR_UNSUPPORTED_VERSION,     /* "v" is not PROTOCOL_VERSION */
        PROTOCOL_ERROR_UNKNOWN_COMMAND,
        PROTOCOL_ERROR_PERMISSION_DENIED,
        PROTOCOL_ERROR_NOT_FOUND,               /* no such link (or nothing to unsilence) */
        PROTOCOL_ERROR_INVALID,                 /* well-formed, but the daemon refuses the values */
        PROTOCOL_ERROR_BUSY,                    /* too many clients, or the operation is already running */
        PROTOCOL_ERROR_FAILED,                  /* the operation ran and failed (bad config on reload, mail relay down) */
        PROTOCOL_ERROR_INTERNAL,
        _PROTOCOL_ERROR_MAX,
        _PROTOCOL_ERROR_INVALID = -EINVAL,
} ProtocolError;

const char *protocol_error_to_string(ProtocolError e);
ProtocolError protocol_error_from_string(const char *s);
/* The code for a negative errno a handler returned: -ENOENT not-found,
 * -EPERM/-EACCES permission-denied, -EBUSY/-EAGAIN busy, -EINVAL/-ERANGE
 * invalid, -EBADMSG bad-request, -EOPNOTSUPP unknown-command, else internal. */
ProtocolError protocol_error_from_errno(int error);

#define PROTOCOL_FAILURE_MESSAGE_MAX 512
#define PROTOCOL_FAILURE_DETAILS_MAX 1000

/* An error reply, or a local reason to send one. */
typedef struct ProtocolFailure {
        ProtocolError code;
        char message[PROTOCOL_FAILURE_MESSAGE_MAX];
        char **details;         /* strv or NULL: e.g. one line per bad import row */
} ProtocolFailure;

#define PROTOCOL_FAILURE_NULL ((ProtocolFailure) { .code = _PROTOCOL_ERROR_INVALID })

void protocol_failure_done(ProtocolFailure *f);
/* Sets code and message (replacing any previous); returns -error_errno for
 * convenient "return protocol_fail(f, ..., -EBADMSG, ...)". f may be NULL. */
int protocol_fail(ProtocolFailure *f, ProtocolError code, int error_errno, const char *fmt, ...) _printf_(4, 5);

/* ---- messages -------------------------------------------------------------- */

/* Parses one message as a JSON object: NUL bytes, invalid UTF-8, nesting
 * deeper than PROTOCOL_DEPTH_MAX, trailing data and anything but an object
 * at the top are refused (-EBADMSG, bad-request). */
int protocol_message_parse(const void *data, size_t size, json_object **ret, ProtocolFailure *failure);
/* Serialises compactly (no pretty-printing, "/" not escaped) into a new
 * string; -EMSGSIZE when longer than max. */
int protocol_message_format(json_object *o, size_t max, char **ret, size_t *ret_size);
/* "v" present and equal to PROTOCOL_VERSION: 0; missing or of the wrong
 * type: -EBADMSG (bad-request); another version: -EPROTONOSUPPORT
 * (unsupported-version). */
int protocol_check_version(json_object *o, ProtocolFailure *failure);

/* Socket helpers for SOCK_SEQPACKET. protocol_socket_setup() raises the
 * send and receive buffers so that a PROTOCOL_MESSAGE_MAX message fits. */
int protocol_socket_setup(int fd);
/* Receives one message. Returns its size (> 0) with a NUL-terminated copy
 * in *ret (freed by the caller, wiped first if it may hold a secret); 0 at
 * the end of the stream (a zero-length message also ends it); -EMSGSIZE
 * when the message was larger than max (it has been consumed); -EAGAIN
 * when none is waiting on a non-blocking socket; another -errno. */
ssize_t protocol_recv(int fd, size_t max, char **ret);
/* Sends one message whole (never partially); -EMSGSIZE beyond
 * PROTOCOL_MESSAGE_MAX, -EAGAIN when the socket is full, -EPIPE when the
 * peer is gone. Never raises SIGPIPE. */
int protocol_send(int fd, const void *data, size_t size);

/* ---- requests -------------------------------------------------------------- */

/* One credential of an import. Everything is owned; the secret is wiped
 * when freed. */
typedef struct ProtocolImportRow {
        char *link;
        char *username;
        char *generated;        /* as written: ISO 8601 with offset, or a date; NULL: now */
        char *secret;           /* NUL-terminated for convenience; secret_size bytes */
        size_t secret_size;
        unsigned line;          /* line in the source file, 0 if unknown: for messages */
} ProtocolImportRow;

void protocol_import_row_done(ProtocolImportRow *row);
void protocol_import_rows_free(ProtocolImportRow *rows, size_t n);

/* A decoded request. Only the fields of the command's args are set; the
 * secret, when there is one, is wiped by protocol_request_done(). */
typedef struct ProtocolRequest {
        ProtocolCommand command;
        char *link;             /* or NULL */
        bool all;               /* probe: every link */
        char *username;
        char *generated;        /* credential set: as written by the user, parsed by the daemon in its zone; NULL: now */
        usec_t duration;        /* silence: whole seconds */
        char *reason;           /* silence, or NULL */
        unsigned limit;         /* alerts: most recent entries wanted, 0: the daemon's default */
        size_t secret_size;     /* announced */
        char *secret;           /* secret_size bytes plus a NUL, once received */
        bool more;              /* import: more chunks follow */
        ProtocolImportRow *rows;
        size_t n_rows;
} ProtocolRequest;

#define PROTOCOL_REQUEST_NULL ((ProtocolRequest) { .command = _PROTOCOL_COMMAND_INVALID })

void protocol_request_done(ProtocolRequest *r);

/* Encodes a request (not the secret: only its size from secret_size, or for
 * imports the rows' secret_size and their sum). For imports, use
 * protocol_import_chunk_next() instead. */
int protocol_request_to_json(const ProtocolRequest *r, json_object **ret);
/* The secret size a message announces, read without judging the rest of
 * the request, so that a server can consume the secret message even when
 * it refuses the request: 0 when none (or not a valid size). */
size_t protocol_request_announced_secret(json_object *o);
/* Decodes and validates a request: version, command, the arguments the
 * command takes (present, of the right type, within limits, link names
 * valid, strings free of control characters). Unknown fields are
 * ignored. The secret is not part of it: see protocol_request_set_secret(). */
int protocol_request_from_json(json_object *o, ProtocolRequest *ret, ProtocolFailure *failure);
/* Hands the received secret message to the request: for an import chunk it
 * is split over the rows by their secret_size. The size must be the
 * announced one (-EBADMSG otherwise). The data is copied; the caller wipes
 * its buffer. */
int protocol_request_set_secret(ProtocolRequest *r, const void *data, size_t size, ProtocolFailure *failure);
/* Moves the rows of an import chunk to the request accumulating the
 * stream (-E2BIG beyond PROTOCOL_IMPORT_ROWS_MAX rows). */
int protocol_request_append_rows(ProtocolRequest *acc, ProtocolRequest *chunk, ProtocolFailure *failure);

/* An import request stream for sending: a JSON chunk and its secrets. */
typedef struct ProtocolImportChunk {
        char *json;
        size_t json_size;
        char *secrets;          /* wiped by protocol_import_chunk_done() */
        size_t secrets_size;
        size_t n_rows;
        bool last;
} ProtocolImportChunk;

void protocol_import_chunk_done(ProtocolImportChunk *c);
/* Encodes the next chunk from rows[*pos...n), as many rows as fit in max
 * bytes (both the JSON and the secrets; max 0 means PROTOCOL_MESSAGE_MAX),
 * and advances *pos. Returns 1 with a chunk, 0 when all rows were
 * encoded, -EMSGSIZE when a single row cannot fit. */
int protocol_import_chunk_next(const ProtocolImportRow *rows, size_t n, size_t *pos, size_t max,
                               ProtocolImportChunk *ret);

/* ---- replies --------------------------------------------------------------- */

typedef struct ProtocolMessage {
        char *data;
        size_t size;
} ProtocolMessage;

void protocol_messages_free(ProtocolMessage *m, size_t n);

/* Encodes a success reply with data (NULL: {}) as one or more messages of
 * at most max bytes (0: PROTOCOL_MESSAGE_MAX). A reply that does not fit
 * is streamed: the first message carries every field of data with the
 * top-level arrays emptied, the following ones carry slices of those
 * arrays in order; all but the last have "more": true. -EMSGSIZE when a
 * single array element or the fields without the arrays do not fit. */
int protocol_reply_encode(json_object *data, size_t max, ProtocolMessage **ret, size_t *ret_n);
/* The same, for a reply too large to hold as one document (the status of
 * 10,000 links): data is fields plus one array whose elements are added
 * one at a time, and the messages come out as they fill, so that only one
 * is held at a time. The messages are those protocol_reply_encode() would
 * make of the whole document: one when everything fits, else the fields
 * (with the array empty) and then slices of the array. */
typedef struct ProtocolReplyStream ProtocolReplyStream;

/* fields: the other fields of data (the reference is taken; NULL: none);
 * key: the array's name; max 0: PROTOCOL_MESSAGE_MAX. */
int protocol_reply_stream_new(json_object *fields, const char *key, size_t max, ProtocolReplyStream **ret);
ProtocolReplyStream *protocol_reply_stream_free(ProtocolReplyStream *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ProtocolReplyStream *, protocol_reply_stream_free);
/* Adds an element (the reference is taken). Returns 0, or 1 with the
 * messages that are complete now in *ret (free with
 * protocol_messages_free()); -EMSGSIZE for an element that cannot fit. */
int protocol_reply_stream_add(ProtocolReplyStream *s, json_object *element, ProtocolMessage **ret, size_t *ret_n);
/* Ends the reply: the messages still to send (at least one). */
int protocol_reply_stream_finish(ProtocolReplyStream *s, ProtocolMessage **ret, size_t *ret_n);

/* Encodes an error reply as one message (the message and details are
 * shortened as needed to fit). */
int protocol_error_encode(const ProtocolFailure *f, size_t max, ProtocolMessage *ret);

/* Reassembles a reply from its messages. */
typedef struct ProtocolReplyReader {
        json_object *data;
        size_t n_messages;
        size_t total;
        bool done;
} ProtocolReplyReader;

#define PROTOCOL_REPLY_READER_NULL ((ProtocolReplyReader) {})

void protocol_reply_reader_done(ProtocolReplyReader *r);
/* Feeds one message. Returns 0 when more messages are needed, 1 when the
 * reply is complete (its data is then in r->data, or taken with
 * protocol_reply_reader_steal()), -EREMOTEIO for an error reply (failure
 * holds it), -EBADMSG for a malformed reply, -E2BIG beyond the limits. */
int protocol_reply_reader_feed(ProtocolReplyReader *r, const void *msg, size_t size, ProtocolFailure *failure);
json_object *protocol_reply_reader_steal(ProtocolReplyReader *r);

/* ---- reply data --------------------------------------------------------------
 *
 * The objects replies carry, encoded by the daemon and decoded by the ctl
 * with the same field tables. Timestamps are ISO 8601 with the offset of the
 * daemon's time zone ("2027-03-01T10:00:00-08:00"); 0 is encoded as null. */

/* {"time": now, "timezone": "America/Los_Angeles"}: the start of every
 * reply's data, so that the ctl shows times in the daemon's zone. */
int protocol_data_new(const Tz *tz, usec_t now, json_object **ret);

/* A probe result: {"class", "http_status", "error", "time", "times_ms":
 * {"dns", "connect", "tls", "first_byte", "total"}, "cert_not_after",
 * "cert_subject", "cert_sha256"}; a phase not reached is null. */
int protocol_probe_result_to_json(const ProbeResult *r, const Tz *tz, json_object **ret);
int protocol_probe_result_from_json(json_object *o, ProbeResult *ret, ProtocolFailure *failure);

/* One link as "status" and "show" report it. */
typedef struct ProtocolLinkStatus {
        char *name;
        char *state;            /* the worst: ok, expiring, expired, auth-rejected, down, cert-expiring,
                                 * maintenance, silenced, unconfigured, unknown */
        char **problems;        /* strv: every state that applies besides ok, worst first */
        usec_t expires;         /* 0: no credential */
        int64_t days_left;      /* PROTOCOL_DAYS_LEFT_NULL: no credential */
        usec_t lifetime;        /* of a credential, whole seconds */
        char *username;
        usec_t generated;
        uint64_t generation;    /* 0: none */
        char *fingerprint;
        char **consumers;
        usec_t silenced_until;  /* 0: not silenced */
        char *silence_reason;
        char *maintenance;      /* the window the link is in, or NULL */
        unsigned failures;      /* consecutive failed probes */
        usec_t next_probe;      /* 0: none scheduled */
        bool has_last_probe;
        ProbeResult last_probe;
        char *url;
        char *cds_code;
} ProtocolLinkStatus;

#define PROTOCOL_DAYS_LEFT_NULL INT64_MIN
#define PROTOCOL_LINK_STATUS_NULL ((ProtocolLinkStatus) { .days_left = PROTOCOL_DAYS_LEFT_NULL })

void protocol_link_status_done(ProtocolLinkStatus *s);
int protocol_link_status_to_json(const ProtocolLinkStatus *s, const Tz *tz, json_object **ret);
int protocol_link_status_from_json(json_object *o, ProtocolLinkStatus *ret, ProtocolFailure *failure);

/* The store's records, as "show", "alerts" and "credential history" carry
 * them. The decoders fill the store's structs; free what they allocate
 * with the matching protocol_*_done(). */
int protocol_rotation_to_json(const RotationRecord *r, const Tz *tz, json_object **ret);
int protocol_rotation_from_json(json_object *o, RotationRecord *ret, ProtocolFailure *failure);
void protocol_rotation_done(RotationRecord *r);

int protocol_problem_to_json(const Problem *p, const Tz *tz, json_object **ret);
int protocol_problem_from_json(json_object *o, Problem *ret, ProtocolFailure *failure);
void protocol_problem_done(Problem *p);

int protocol_silence_to_json(const Silence *s, const Tz *tz, json_object **ret);
int protocol_silence_from_json(json_object *o, Silence *ret, ProtocolFailure *failure);
void protocol_silence_done(Silence *s);

int protocol_alert_entry_to_json(const AlertLogEntry *e, const Tz *tz, json_object **ret);
int protocol_alert_entry_from_json(json_object *o, AlertLogEntry *ret, ProtocolFailure *failure);
void protocol_alert_entry_done(AlertLogEntry *e);

/* Typed access to a field of reply data, for the readers: a missing field
 * or null gives the default (0 for absent, NULL strings); a field of
 * another type is -EBADMSG with a message naming it. */
int protocol_get_string(json_object *o, const char *key, bool required, const char **ret, ProtocolFailure *failure);
int protocol_get_int64(json_object *o, const char *key, bool required, int64_t *ret, ProtocolFailure *failure);
int protocol_get_bool(json_object *o, const char *key, bool *ret, ProtocolFailure *failure);
int protocol_get_time(json_object *o, const char *key, bool required, usec_t *ret, ProtocolFailure *failure);
/* An array (NULL when absent or null). */
int protocol_get_array(json_object *o, const char *key, bool required, json_object **ret, ProtocolFailure *failure);
int protocol_get_object(json_object *o, const char *key, bool required, json_object **ret, ProtocolFailure *failure);
