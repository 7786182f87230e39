/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "protocol.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "strbuf.h"
#include "strv.h"
#include "validate.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* ---- commands -------------------------------------------------------------- */

static const ProtocolCommandInfo command_table[_PROTOCOL_COMMAND_MAX] = {
        [PROTOCOL_COMMAND_STATUS] = {
                PROTOCOL_COMMAND_STATUS, "status", PROTOCOL_ACCESS_READ, 0,
                "one entry per link: state, expiry, last probe",
        },
        [PROTOCOL_COMMAND_SHOW] = {
                PROTOCOL_COMMAND_SHOW, "show", PROTOCOL_ACCESS_READ, PROTOCOL_ARG_LINK,
                "everything about one link",
        },
        [PROTOCOL_COMMAND_PROBE] = {
                PROTOCOL_COMMAND_PROBE, "probe", PROTOCOL_ACCESS_ADMIN, PROTOCOL_ARG_LINK_OR_ALL,
                "probe now and reply with the results",
        },
        [PROTOCOL_COMMAND_CREDENTIAL_SET] = {
                PROTOCOL_COMMAND_CREDENTIAL_SET, "credential-set", PROTOCOL_ACCESS_ADMIN,
                PROTOCOL_ARG_LINK | PROTOCOL_ARG_USERNAME | PROTOCOL_ARG_GENERATED | PROTOCOL_ARG_SECRET,
                "store a credential generated earlier",
        },
        [PROTOCOL_COMMAND_CREDENTIAL_ROTATE] = {
                PROTOCOL_COMMAND_CREDENTIAL_ROTATE, "credential-rotate", PROTOCOL_ACCESS_ADMIN,
                PROTOCOL_ARG_LINK | PROTOCOL_ARG_USERNAME | PROTOCOL_ARG_SECRET,
                "store a credential generated now and verify it with a probe",
        },
        [PROTOCOL_COMMAND_CREDENTIAL_HISTORY] = {
                PROTOCOL_COMMAND_CREDENTIAL_HISTORY, "credential-history", PROTOCOL_ACCESS_READ,
                PROTOCOL_ARG_LINK,
                "the rotation audit trail of a link",
        },
        [PROTOCOL_COMMAND_CREDENTIAL_IMPORT] = {
                PROTOCOL_COMMAND_CREDENTIAL_IMPORT, "credential-import", PROTOCOL_ACCESS_ADMIN,
                PROTOCOL_ARG_ROWS,
                "store many credentials, all or none",
        },
        [PROTOCOL_COMMAND_SILENCE] = {
                PROTOCOL_COMMAND_SILENCE, "silence", PROTOCOL_ACCESS_ADMIN,
                PROTOCOL_ARG_LINK | PROTOCOL_ARG_DURATION | PROTOCOL_ARG_REASON,
                "hold a link's alerts for a while",
        },
        [PROTOCOL_COMMAND_UNSILENCE] = {
                PROTOCOL_COMMAND_UNSILENCE, "unsilence", PROTOCOL_ACCESS_ADMIN, PROTOCOL_ARG_LINK,
                "end a silence",
        },
        [PROTOCOL_COMMAND_ALERTS] = {
                PROTOCOL_COMMAND_ALERTS, "alerts", PROTOCOL_ACCESS_READ,
                PROTOCOL_ARG_LINK_OPTIONAL | PROTOCOL_ARG_LIMIT,
                "open problems, silences and recent alerts",
        },
        [PROTOCOL_COMMAND_TEST_EMAIL] = {
                PROTOCOL_COMMAND_TEST_EMAIL, "test-email", PROTOCOL_ACCESS_ADMIN, 0,
                "send a test message through the configured relay",
        },
        [PROTOCOL_COMMAND_RELOAD] = {
                PROTOCOL_COMMAND_RELOAD, "reload", PROTOCOL_ACCESS_ADMIN, 0,
                "re-read the configuration",
        },
        [PROTOCOL_COMMAND_CHECK] = {
                PROTOCOL_COMMAND_CHECK, "check", PROTOCOL_ACCESS_READ, 0,
                "the status, for monitoring plugins",
        },
};

const ProtocolCommandInfo *protocol_command_info(ProtocolCommand c) {
        return c >= 0 && c < _PROTOCOL_COMMAND_MAX ? &command_table[c] : NULL;
}

const char *protocol_command_to_string(ProtocolCommand c) {
        return c >= 0 && c < _PROTOCOL_COMMAND_MAX ? command_table[c].name : NULL;
}

ProtocolCommand protocol_command_from_string(const char *s) {
        for (int i = 0; s && i < _PROTOCOL_COMMAND_MAX; i++)
                if (streq(command_table[i].name, s))
                        return i;
        return _PROTOCOL_COMMAND_INVALID;
}

static const char *const access_table[_PROTOCOL_ACCESS_MAX] = {
        [PROTOCOL_ACCESS_NONE] = "none",
        [PROTOCOL_ACCESS_READ] = "read",
        [PROTOCOL_ACCESS_ADMIN] = "admin",
};

const char *protocol_access_to_string(ProtocolAccess a) {
        return a >= 0 && a < _PROTOCOL_ACCESS_MAX ? access_table[a] : NULL;
}

/* ---- errors ---------------------------------------------------------------- */

static const char *const error_table[_PROTOCOL_ERROR_MAX] = {
        [PROTOCOL_ERROR_BAD_REQUEST] = "bad-request",
        [PROTOCOL_ERROR_UNSUPPORTED_VERSION] = "unsupported-version",
        [PROTOCOL_ERROR_UNKNOWN_COMMAND] = "unknown-command",
        [PROTOCOL_ERROR_PERMISSION_DENIED] = "permission-denied",
        [PROTOCOL_ERROR_NOT_FOUND] = "not-found",
        [PROTOCOL_ERROR_INVALID] = "invalid",
        [PROTOCOL_ERROR_BUSY] = "busy",
        [PROTOCOL_ERROR_FAILED] = "failed",
        [PROTOCOL_ERROR_INTERNAL] = "internal",
};

const char *protocol_error_to_string(ProtocolError e) {
        return e >= 0 && e < _PROTOCOL_ERROR_MAX ? error_table[e] : NULL;
}

ProtocolError protocol_error_from_string(const char *s) {
        for (int i = 0; s && i < _PROTOCOL_ERROR_MAX; i++)
                if (streq(error_table[i], s))
                        return i;
        return _PROTOCOL_ERROR_INVALID;
}

ProtocolError protocol_error_from_errno(int error) {
        switch (error < 0 ? -error : error) {
        case ENOENT:
                return PROTOCOL_ERROR_NOT_FOUND;
        case EPERM:
        case EACCES:
                return PROTOCOL_ERROR_PERMISSION_DENIED;
        case EBUSY:
        case EAGAIN:
                return PROTOCOL_ERROR_BUSY;
        case EINVAL:
        case ERANGE:
                return PROTOCOL_ERROR_INVALID;
        case EBADMSG:
                return PROTOCOL_ERROR_BAD_REQUEST;
        case EOPNOTSUPP:
                return PROTOCOL_ERROR_UNKNOWN_COMMAND;
        default:
                return PROTOCOL_ERROR_INTERNAL;
        }
}

void protocol_failure_done(ProtocolFailure *f) {
        if (!f)
                return;
        strv_free(f->details);
        *f = PROTOCOL_FAILURE_NULL;
}

/* A text cut at a byte count may end inside a character: drops that
 * partial character, so that the text stays valid UTF-8 (a JSON string). */
static void drop_partial_character(char *s) {
        size_t n = strlen(s), i = n;
        while (i > 0 && n - i < 4 && ((unsigned char) s[i - 1] & 0xc0) == 0x80)
                i--;
        if (i > 0 && (unsigned char) s[i - 1] >= 0xc0 && !utf8_is_valid(s + i - 1, n - i + 1))
                s[i - 1] = '\0';
}

int protocol_fail(ProtocolFailure *f, ProtocolError code, int error_errno, const char *fmt, ...) {
        assert(error_errno < 0);
        if (f) {
                va_list ap;
                f->code = code;
                va_start(ap, fmt);
                int n = vsnprintf(f->message, sizeof f->message, fmt, ap);
                va_end(ap);
                if (n >= (int) sizeof f->message)
                        drop_partial_character(f->message);
        }
        return error_errno;
}

#define bad_request(f, ...) protocol_fail((f), PROTOCOL_ERROR_BAD_REQUEST, -EBADMSG, __VA_ARGS__)

/* A value from the peer in a message: quoted, escaped, bounded. */
static int fail_unknown_value(ProtocolFailure *f, const char *what, const char *value) {
        StrBuf b = STRBUF_NULL;
        strbuf_put_quoted(&b, value, 64);
        int r = bad_request(f, "%s %s", what, b.data ?: "\"\"");
        strbuf_done(&b);
        return r;
}


/* ---- messages -------------------------------------------------------------- */

static const char *json_type_describe(json_object *o) {
        switch (json_object_get_type(o)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "a boolean";
        case json_type_double:
                return "a number with a fraction";
        case json_type_int:
                return "an integer";
        case json_type_object:
                return "an object";
        case json_type_array:
                return "an array";
        case json_type_string:
                return "a string";
        }
        return "something else";
}

int protocol_message_parse(const void *data, size_t size, json_object **ret, ProtocolFailure *failure) {
        assert(data || size == 0);
        assert(ret);

        if (size == 0)
                return bad_request(failure, "empty message");
        if (size > PROTOCOL_MESSAGE_MAX)
                return bad_request(failure, "message of %zu bytes is larger than the limit of %u", size,
                                   PROTOCOL_MESSAGE_MAX);
        if (memchr(data, '\0', size))
                return bad_request(failure, "message is not JSON text (it holds a NUL byte)");
        /* Strict UTF-8, checked here rather than by json-c
         * (JSON_TOKENER_VALIDATE_UTF8 lets overlong forms and encoded
         * surrogates through): every string the peer sends is text we can
         * print. */
        size_t valid = utf8_valid_prefix(data, size);
        if (valid < size)
                return bad_request(failure, "message is not valid UTF-8 at byte %zu", valid);

        json_tokener *tok = json_tokener_new_ex(PROTOCOL_DEPTH_MAX);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
        json_object *o = json_tokener_parse_ex(tok, data, (int) size);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t offset = tok->char_offset;
        json_tokener_free(tok);

        if (jerr == json_tokener_continue) {
                json_object_put(o);
                return bad_request(failure, "message is not a complete JSON document (truncated?)");
        }
        if (jerr != json_tokener_success || !o) {
                json_object_put(o);
                return bad_request(failure, "message is not valid JSON: %s at byte %zu",
                                   jerr != json_tokener_success ? json_tokener_error_desc(jerr) : "null document",
                                   offset);
        }
        for (const char *p = (const char *) data + offset; p < (const char *) data + size; p++)
                if (!strchr(" \t\r\n", *p)) {
                        json_object_put(o);
                        return bad_request(failure, "message has data after the JSON document at byte %zu",
                                           (size_t) (p - (const char *) data));
                }
        if (!json_object_is_type(o, json_type_object)) {
                int r = bad_request(failure, "message must be a JSON object, got %s", json_type_describe(o));
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

int protocol_message_format(json_object *o, size_t max, char **ret, size_t *ret_size) {
        size_t len;
        const char *s = json_object_to_json_string_length(o, JSON_FLAGS, &len);
        if (!s)
                return -ENOMEM;
        if (max > 0 && len > max)
                return -EMSGSIZE;
        char *copy = malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, s, len + 1);
        *ret = copy;
        if (ret_size)
                *ret_size = len;
        return 0;
}

int protocol_check_version(json_object *o, ProtocolFailure *failure) {
        json_object *v;
        if (!json_object_object_get_ex(o, "v", &v))
                return bad_request(failure, "message has no protocol version \"v\"");
        if (!json_object_is_type(v, json_type_int))
                return bad_request(failure, "\"v\" must be an integer, got %s", json_type_describe(v));
        int64_t n = json_object_get_int64(v);
        if (n != PROTOCOL_VERSION)
                return protocol_fail(failure, PROTOCOL_ERROR_UNSUPPORTED_VERSION, -EPROTONOSUPPORT,
                                     "protocol version %" PRIi64 " is not supported (this side speaks %d)", n,
                                     PROTOCOL_VERSION);
        return 0;
}

/* ---- sockets --------------------------------------------------------------- */

int protocol_socket_setup(int fd) {
        int size = (int) (PROTOCOL_MESSAGE_MAX * 4);
        /* Best effort: the defaults (usually 208 KiB) already suffice. */
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        return 0;
}

ssize_t protocol_recv(int fd, size_t max, char **ret) {
        assert(fd >= 0);
        assert(ret);

        /* Learn the size first, so that nothing larger than max is ever
         * allocated, and a larger message is consumed and refused. */
        char dummy;
        ssize_t n = recv(fd, &dummy, 0, MSG_PEEK | MSG_TRUNC);
        if (n < 0)
                return negative_errno();
        if (n == 0) {
                /* the end of the stream, or a zero-length message: consume it */
                (void) recv(fd, &dummy, 0, MSG_DONTWAIT);
                return 0;
        }
        if ((size_t) n > max) {
                (void) recv(fd, &dummy, 1, MSG_DONTWAIT);
                return -EMSGSIZE;
        }

        char *buf = malloc((size_t) n + 1);
        if (!buf)
                return -ENOMEM;
        struct iovec iov = { .iov_base = buf, .iov_len = (size_t) n };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t k = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (k < 0) {
                int r = negative_errno();
                free(buf);
                return r;
        }
        if (k != n || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                OPENSSL_cleanse(buf, (size_t) n);
                free(buf);
                return -EBADMSG;
        }
        buf[k] = '\0';
        *ret = buf;
        return k;
}

int protocol_send(int fd, const void *data, size_t size) {
        assert(fd >= 0);
        if (size == 0 || size > PROTOCOL_MESSAGE_MAX)
                return -EMSGSIZE;
        ssize_t n = send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
                return negative_errno();
        if ((size_t) n != size)
                return -EIO;   /* SOCK_SEQPACKET sends whole messages or nothing */
        return 0;
}

/* ---- field tables ------------------------------------------------------------
 *
 * One table per record type drives both the encoder (daemon) and the
 * decoder (ctl), so the two cannot drift apart. */

typedef enum FieldType {
        FIELD_STRING,           /* char *, NULL <-> null */
        FIELD_STRV,             /* char **, always encoded as an array */
        FIELD_TIME,             /* usec_t wall clock, 0 <-> null, ISO 8601 */
        FIELD_SECONDS,          /* usec_t duration, whole seconds */
        FIELD_DAYS,             /* int64_t, PROTOCOL_DAYS_LEFT_NULL <-> null */
        FIELD_INT64,
        FIELD_UINT64,           /* 0 <-> null */
        FIELD_UNSIGNED,
        FIELD_INT,
        FIELD_UID,
        FIELD_BOOL,
        FIELD_HTTP_STATUS,      /* long, 0 <-> null */
        FIELD_ALERT_KIND,       /* AlertKind, invalid <-> null */
        FIELD_PROBE_CLASS,      /* ProbeClass, invalid <-> null */
        FIELD_FINGERPRINT,      /* char[STORE_FINGERPRINT_MAX], "" <-> null */
} FieldType;

typedef struct Field {
        const char *name;
        FieldType type;
        size_t offset;
        bool required;
} Field;

#define FIELD_AT(obj, f, type) ((type *) ((uint8_t *) (obj) + (f)->offset))

static json_object *json_time(const Tz *tz, usec_t t) {
        char buf[TIMESTAMP_MAX];
        if (t == 0 || t == USEC_INFINITY)
                return NULL;
        return json_object_new_string(format_timestamp(buf, sizeof buf, tz, t));
}

static json_object *json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static int json_add(json_object *o, const char *key, json_object *v, bool may_be_null) {
        if (!v && !may_be_null)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static json_object *json_strv(char *const *l) {
        json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        STRV_FOREACH(s, (char **) l) {
                json_object *e = json_object_new_string(*s);
                if (!e || json_object_array_add(a, e) < 0) {
                        json_object_put(e);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

static int fields_to_json(const Field *fields, size_t n, const void *obj, const Tz *tz, json_object *target) {
        for (size_t i = 0; i < n; i++) {
                const Field *f = &fields[i];
                json_object *v = NULL;
                bool null_ok = true;
                switch (f->type) {
                case FIELD_STRING: {
                        const char *s = *FIELD_AT(obj, f, char *const);
                        v = json_string_or_null(s);
                        null_ok = !s;
                        break;
                }
                case FIELD_STRV:
                        v = json_strv(*FIELD_AT(obj, f, char **const));
                        null_ok = false;
                        break;
                case FIELD_TIME: {
                        usec_t t = *FIELD_AT(obj, f, const usec_t);
                        v = json_time(tz, t);
                        null_ok = t == 0 || t == USEC_INFINITY;
                        break;
                }
                case FIELD_SECONDS:
                        v = json_object_new_int64((int64_t) (*FIELD_AT(obj, f, const usec_t) / USEC_PER_SEC));
                        null_ok = false;
                        break;
                case FIELD_DAYS: {
                        int64_t d = *FIELD_AT(obj, f, const int64_t);
                        if (d != PROTOCOL_DAYS_LEFT_NULL) {
                                v = json_object_new_int64(d);
                                null_ok = false;
                        }
                        break;
                }
                case FIELD_INT64:
                        v = json_object_new_int64(*FIELD_AT(obj, f, const int64_t));
                        null_ok = false;
                        break;
                case FIELD_UINT64: {
                        uint64_t u = *FIELD_AT(obj, f, const uint64_t);
                        if (u != 0) {
                                v = json_object_new_uint64(u);
                                null_ok = false;
                        }
                        break;
                }
                case FIELD_UNSIGNED:
                        v = json_object_new_int64(*FIELD_AT(obj, f, const unsigned));
                        null_ok = false;
                        break;
                case FIELD_INT:
                        v = json_object_new_int64(*FIELD_AT(obj, f, const int));
                        null_ok = false;
                        break;
                case FIELD_UID:
                        v = json_object_new_int64(*FIELD_AT(obj, f, const uid_t));
                        null_ok = false;
                        break;
                case FIELD_BOOL:
                        v = json_object_new_boolean(*FIELD_AT(obj, f, const bool));
                        null_ok = false;
                        break;
                case FIELD_HTTP_STATUS: {
                        long s = *FIELD_AT(obj, f, const long);
                        if (s > 0) {
                                v = json_object_new_int64(s);
                                null_ok = false;
                        }
                        break;
                }
                case FIELD_ALERT_KIND: {
                        const char *s = alert_kind_to_string(*FIELD_AT(obj, f, const AlertKind));
                        v = json_string_or_null(s);
                        null_ok = !s;
                        break;
                }
                case FIELD_PROBE_CLASS: {
                        const char *s = probe_class_to_string(*FIELD_AT(obj, f, const ProbeClass));
                        v = json_string_or_null(s);
                        null_ok = !s;
                        break;
                }
                case FIELD_FINGERPRINT: {
                        const char *s = FIELD_AT(obj, f, const char);
                        v = json_string_or_null(isempty(s) ? NULL : s);
                        null_ok = isempty(s);
                        break;
                }
                }
                int r = json_add(target, f->name, v, null_ok);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void fields_done(const Field *fields, size_t n, void *obj) {
        for (size_t i = 0; i < n; i++) {
                const Field *f = &fields[i];
                if (f->type == FIELD_STRING)
                        *FIELD_AT(obj, f, char *) = mfree(*FIELD_AT(obj, f, char *));
                else if (f->type == FIELD_STRV)
                        *FIELD_AT(obj, f, char **) = strv_free(*FIELD_AT(obj, f, char **));
        }
}

/* An ISO 8601 timestamp with an offset (never a bare date, which would need
 * a zone). */
static int parse_time_with_offset(const char *s, usec_t *ret) {
        if (strlen(s) <= 10 || !strchr("Tt ", s[10]))
                return -EINVAL;
        return parse_timestamp(s, NULL, ret);
}

static bool json_string_ok(json_object *v) {
        const char *s = json_object_get_string(v);
        return s && (size_t) json_object_get_string_len(v) == strlen(s);
}

static int field_from_json(const Field *f, json_object *v, void *obj, ProtocolFailure *failure) {
        bool is_null = !v;
#define WANT(jtype, what)                                                                              \
        do {                                                                                           \
                if (!json_object_is_type(v, jtype))                                                    \
                        return bad_request(failure, "\"%s\" must be %s, got %s", f->name, what,       \
                                           json_type_describe(v));                                     \
        } while (0)

        if (is_null && f->required)
                return bad_request(failure, "\"%s\" must not be null", f->name);

        switch (f->type) {
        case FIELD_STRING:
        case FIELD_FINGERPRINT: {
                if (is_null)
                        return 0;
                WANT(json_type_string, "a string");
                if (!json_string_ok(v))
                        return bad_request(failure, "\"%s\" holds a NUL character", f->name);
                if (f->type == FIELD_FINGERPRINT) {
                        const char *s = json_object_get_string(v);
                        if (strlen(s) >= STORE_FINGERPRINT_MAX)
                                return bad_request(failure, "\"%s\" is too long", f->name);
                        strcpy(FIELD_AT(obj, f, char), s);
                        return 0;
                }
                char *s = strdup(json_object_get_string(v));
                if (!s)
                        return -ENOMEM;
                free(*FIELD_AT(obj, f, char *));
                *FIELD_AT(obj, f, char *) = s;
                return 0;
        }
        case FIELD_STRV: {
                if (is_null)
                        return 0;
                WANT(json_type_array, "an array of strings");
                size_t n = json_object_array_length(v);
                _cleanup_strv_free_ char **l = calloc(n + 1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(v, i);
                        if (!json_object_is_type(e, json_type_string) || !json_string_ok(e))
                                return bad_request(failure, "\"%s\" must be an array of strings, item %zu is %s",
                                                   f->name, i, json_type_describe(e));
                        l[i] = strdup(json_object_get_string(e));
                        if (!l[i])
                                return -ENOMEM;
                }
                strv_free(*FIELD_AT(obj, f, char **));
                *FIELD_AT(obj, f, char **) = TAKE_PTR(l);
                return 0;
        }
        case FIELD_TIME: {
                if (is_null) {
                        *FIELD_AT(obj, f, usec_t) = 0;
                        return 0;
                }
                WANT(json_type_string, "a timestamp string");
                usec_t t;
                if (parse_time_with_offset(json_object_get_string(v), &t) < 0)
                        return bad_request(failure, "\"%s\" must be an ISO 8601 timestamp with an offset", f->name);
                *FIELD_AT(obj, f, usec_t) = t;
                return 0;
        }
        case FIELD_BOOL:
                if (is_null)
                        return bad_request(failure, "\"%s\" must be a boolean, got null", f->name);
                WANT(json_type_boolean, "a boolean");
                *FIELD_AT(obj, f, bool) = json_object_get_boolean(v);
                return 0;
        case FIELD_ALERT_KIND:
        case FIELD_PROBE_CLASS: {
                int k;
                if (is_null)
                        k = -EINVAL;
                else {
                        WANT(json_type_string, "a string");
                        const char *s = json_object_get_string(v);
                        k = f->type == FIELD_ALERT_KIND ? (int) alert_kind_from_string(s)
                                                        : (int) probe_class_from_string(s);
                        if (k < 0) {
                                char what[64];
                                snprintf(what, sizeof what, "\"%s\": unknown value", f->name);
                                return fail_unknown_value(failure, what, s);
                        }
                }
                if (f->type == FIELD_ALERT_KIND)
                        *FIELD_AT(obj, f, AlertKind) = k;
                else
                        *FIELD_AT(obj, f, ProbeClass) = k;
                return 0;
        }
        default:
                break;
        }

        /* the integers */
        int64_t i = 0;
        if (!is_null) {
                WANT(json_type_int, "an integer");
                i = json_object_get_int64(v);
        } else if (!(f->type == FIELD_DAYS || f->type == FIELD_UINT64 || f->type == FIELD_HTTP_STATUS))
                return bad_request(failure, "\"%s\" must be an integer, got null", f->name);

        switch (f->type) {
        case FIELD_SECONDS:
                if (i < 0 || (uint64_t) i > UINT64_MAX / USEC_PER_SEC - 1)
                        return bad_request(failure, "\"%s\" is out of range", f->name);
                *FIELD_AT(obj, f, usec_t) = (usec_t) i * USEC_PER_SEC;
                return 0;
        case FIELD_DAYS:
                *FIELD_AT(obj, f, int64_t) = is_null ? PROTOCOL_DAYS_LEFT_NULL : i;
                return 0;
        case FIELD_INT64:
                *FIELD_AT(obj, f, int64_t) = i;
                return 0;
        case FIELD_UINT64:
                if (!is_null && json_object_get_int64(v) < 0)
                        return bad_request(failure, "\"%s\" must not be negative", f->name);
                *FIELD_AT(obj, f, uint64_t) = is_null ? 0 : json_object_get_uint64(v);
                return 0;
        case FIELD_UNSIGNED:
                if (i < 0 || i > UINT32_MAX)
                        return bad_request(failure, "\"%s\" is out of range", f->name);
                *FIELD_AT(obj, f, unsigned) = (unsigned) i;
                return 0;
        case FIELD_INT:
                if (i < INT32_MIN || i > INT32_MAX)
                        return bad_request(failure, "\"%s\" is out of range", f->name);
                *FIELD_AT(obj, f, int) = (int) i;
                return 0;
        case FIELD_UID:
                if (i < 0 || i >= UINT32_MAX)
                        return bad_request(failure, "\"%s\" is out of range", f->name);
                *FIELD_AT(obj, f, uid_t) = (uid_t) i;
                return 0;
        case FIELD_HTTP_STATUS:
                if (i < 0 || i > 999)
                        return bad_request(failure, "\"%s\" is out of range", f->name);
                *FIELD_AT(obj, f, long) = (long) i;
                return 0;
        default:
                assert(false);
                return -EINVAL;
        }
#undef WANT
}

static int fields_from_json(const Field *fields, size_t n, json_object *o, void *obj, ProtocolFailure *failure) {
        if (!json_object_is_type(o, json_type_object))
                return bad_request(failure, "expected an object, got %s", json_type_describe(o));
        for (size_t i = 0; i < n; i++) {
                json_object *v;
                if (!json_object_object_get_ex(o, fields[i].name, &v)) {
                        if (fields[i].required)
                                return bad_request(failure, "\"%s\" is missing", fields[i].name);
                        continue;   /* absent: the caller's default stays */
                }
                int r = field_from_json(&fields[i], v, obj, failure);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- records ----------------------------------------------------------------- */

#define F(name, type, st, member, req) { name, type, offsetof(st, member), req }

static const Field rotation_fields[] = {
        F("when", FIELD_TIME, RotationRecord, when, true),
        F("uid", FIELD_UID, RotationRecord, uid, false),
        F("old_username", FIELD_STRING, RotationRecord, old_username, false),
        F("new_username", FIELD_STRING, RotationRecord, new_username, false),
        F("generated", FIELD_TIME, RotationRecord, generated, false),
        F("generation", FIELD_UINT64, RotationRecord, generation, false),
        F("fingerprint", FIELD_FINGERPRINT, RotationRecord, fingerprint, false),
};

static const Field problem_fields[] = {
        F("link", FIELD_STRING, Problem, link, true),
        F("kind", FIELD_ALERT_KIND, Problem, kind, true),
        F("since", FIELD_TIME, Problem, since, false),
        F("failures", FIELD_UNSIGNED, Problem, failures, false),
        F("last_class", FIELD_PROBE_CLASS, Problem, last_class, false),
        F("last_http_status", FIELD_HTTP_STATUS, Problem, last_http_status, false),
        F("last_error", FIELD_STRING, Problem, last_error, false),
        F("notified", FIELD_TIME, Problem, notified, false),
        F("last_notified", FIELD_TIME, Problem, last_notified, false),
};

static const Field silence_fields[] = {
        F("link", FIELD_STRING, Silence, link, true),
        F("until", FIELD_TIME, Silence, until, true),
        F("reason", FIELD_STRING, Silence, reason, false),
        F("uid", FIELD_UID, Silence, uid, false),
        F("created", FIELD_TIME, Silence, created, false),
};

static const Field alert_entry_fields[] = {
        F("id", FIELD_INT64, AlertLogEntry, id, false),
        F("time", FIELD_TIME, AlertLogEntry, time, true),
        F("link", FIELD_STRING, AlertLogEntry, link, false),
        F("kind", FIELD_ALERT_KIND, AlertLogEntry, kind, true),
        F("priority", FIELD_INT, AlertLogEntry, priority, false),
        F("held", FIELD_BOOL, AlertLogEntry, held, false),
        F("summary", FIELD_STRING, AlertLogEntry, summary, false),
};

static const Field link_status_fields[] = {
        F("name", FIELD_STRING, ProtocolLinkStatus, name, true),
        F("state", FIELD_STRING, ProtocolLinkStatus, state, true),
        F("problems", FIELD_STRV, ProtocolLinkStatus, problems, false),
        F("expires", FIELD_TIME, ProtocolLinkStatus, expires, false),
        F("days_left", FIELD_DAYS, ProtocolLinkStatus, days_left, false),
        F("lifetime_seconds", FIELD_SECONDS, ProtocolLinkStatus, lifetime, false),
        F("username", FIELD_STRING, ProtocolLinkStatus, username, false),
        F("generated", FIELD_TIME, ProtocolLinkStatus, generated, false),
        F("generation", FIELD_UINT64, ProtocolLinkStatus, generation, false),
        F("fingerprint", FIELD_STRING, ProtocolLinkStatus, fingerprint, false),
        F("consumers", FIELD_STRV, ProtocolLinkStatus, consumers, false),
        F("silenced_until", FIELD_TIME, ProtocolLinkStatus, silenced_until, false),
        F("silence_reason", FIELD_STRING, ProtocolLinkStatus, silence_reason, false),
        F("maintenance", FIELD_STRING, ProtocolLinkStatus, maintenance, false),
        F("failures", FIELD_UNSIGNED, ProtocolLinkStatus, failures, false),
        F("next_probe", FIELD_TIME, ProtocolLinkStatus, next_probe, false),
        F("url", FIELD_STRING, ProtocolLinkStatus, url, false),
        F("cds_code", FIELD_STRING, ProtocolLinkStatus, cds_code, false),
};

#undef F

static int record_to_json(const Field *fields, size_t n, const void *obj, const Tz *tz, json_object **ret) {
        assert(obj);
        assert(tz);
        assert(ret);
        json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        int r = fields_to_json(fields, n, obj, tz, o);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

#define DEFINE_RECORD(name, type, fields, init)                                                         \
        int protocol_##name##_to_json(const type *x, const Tz *tz, json_object **ret) {                \
                return record_to_json(fields, ELEMENTSOF(fields), x, tz, ret);                          \
        }                                                                                               \
        void protocol_##name##_done(type *x) {                                                          \
                if (x)                                                                                  \
                        fields_done(fields, ELEMENTSOF(fields), x);                                     \
        }                                                                                               \
        int protocol_##name##_from_json(json_object *o, type *ret, ProtocolFailure *failure) {          \
                type x = init;                                                                          \
                int r = fields_from_json(fields, ELEMENTSOF(fields), o, &x, failure);                   \
                if (r < 0) {                                                                            \
                        fields_done(fields, ELEMENTSOF(fields), &x);                                    \
                        return r;                                                                       \
                }                                                                                       \
                *ret = x;                                                                               \
                return 0;                                                                               \
        }

DEFINE_RECORD(rotation, RotationRecord, rotation_fields, ((RotationRecord) {}))
DEFINE_RECORD(problem, Problem, problem_fields,
              ((Problem) { .kind = _ALERT_KIND_INVALID, .last_class = _PROBE_CLASS_INVALID }))
DEFINE_RECORD(silence, Silence, silence_fields, ((Silence) {}))
DEFINE_RECORD(alert_entry, AlertLogEntry, alert_entry_fields, ((AlertLogEntry) { .kind = _ALERT_KIND_INVALID }))

/* ---- probe results ------------------------------------------------------------ */

static const struct {
        const char *name;
        size_t offset;
} probe_phases[] = {
        { "dns", offsetof(ProbeResult, dns) },
        { "connect", offsetof(ProbeResult, connect) },
        { "tls", offsetof(ProbeResult, tls) },
        { "first_byte", offsetof(ProbeResult, first_byte) },
        { "total", offsetof(ProbeResult, total) },
};

static json_object *json_ms(usec_t d) {
        char buf[32];
        if (d == USEC_INFINITY)
                return NULL;
        snprintf(buf, sizeof buf, "%" PRIu64 ".%03" PRIu64, d / USEC_PER_MSEC, d % USEC_PER_MSEC);
        return json_object_new_double_s((double) d / (double) USEC_PER_MSEC, buf);
}

int protocol_probe_result_to_json(const ProbeResult *r, const Tz *tz, json_object **ret) {
        assert(r);
        assert(tz);
        assert(ret);

        json_object *o = json_object_new_object(), *times = json_object_new_object();
        if (!o || !times) {
                json_object_put(o);
                json_object_put(times);
                return -ENOMEM;
        }
        int k = 0;
        const char *klass = probe_class_to_string(r->klass);
        k |= json_add(o, "class", json_string_or_null(klass), !klass);
        k |= json_add(o, "http_status", r->http_status > 0 ? json_object_new_int64(r->http_status) : NULL,
                      r->http_status <= 0);
        k |= json_add(o, "error", json_string_or_null(isempty(r->error) ? NULL : r->error), isempty(r->error));
        k |= json_add(o, "time", json_time(tz, r->time), r->time == 0);
        for (size_t i = 0; i < ELEMENTSOF(probe_phases); i++) {
                usec_t d = *(const usec_t *) ((const uint8_t *) r + probe_phases[i].offset);
                k |= json_add(times, probe_phases[i].name, json_ms(d), d == USEC_INFINITY);
        }
        k |= json_add(o, "times_ms", times, false);
        k |= json_add(o, "cert_not_after", json_time(tz, r->cert_not_after), r->cert_not_after == 0);
        k |= json_add(o, "cert_subject", json_string_or_null(isempty(r->cert_subject) ? NULL : r->cert_subject),
                      isempty(r->cert_subject));
        k |= json_add(o, "cert_sha256", json_string_or_null(isempty(r->cert_sha256) ? NULL : r->cert_sha256),
                      isempty(r->cert_sha256));
        if (k < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

static int copy_fixed(json_object *o, const char *key, char *dst, size_t size, ProtocolFailure *failure) {
        const char *s;
        int r = protocol_get_string(o, key, false, &s, failure);
        if (r < 0)
                return r;
        snprintf(dst, size, "%s", s ?: "");
        return 0;
}

int protocol_probe_result_from_json(json_object *o, ProbeResult *ret, ProtocolFailure *failure) {
        ProbeResult r = {
                .dns = USEC_INFINITY,
                .connect = USEC_INFINITY,
                .tls = USEC_INFINITY,
                .first_byte = USEC_INFINITY,
                .total = USEC_INFINITY,
        };
        const char *klass;
        int64_t status;
        json_object *times;
        int k;

        if (!json_object_is_type(o, json_type_object))
                return bad_request(failure, "a probe result must be an object, got %s", json_type_describe(o));
        k = protocol_get_string(o, "class", true, &klass, failure);
        if (k < 0)
                return k;
        r.klass = probe_class_from_string(klass);
        if (r.klass < 0)
                return fail_unknown_value(failure, "\"class\": unknown probe class", klass);
        k = protocol_get_int64(o, "http_status", false, &status, failure);
        if (k < 0)
                return k;
        if (status < 0 || status > 999)
                return bad_request(failure, "\"http_status\" is out of range");
        r.http_status = (long) status;
        k = copy_fixed(o, "error", r.error, sizeof r.error, failure);
        if (k < 0)
                return k;
        k = protocol_get_time(o, "time", false, &r.time, failure);
        if (k < 0)
                return k;
        k = protocol_get_object(o, "times_ms", false, &times, failure);
        if (k < 0)
                return k;
        for (size_t i = 0; times && i < ELEMENTSOF(probe_phases); i++) {
                json_object *v;
                if (!json_object_object_get_ex(times, probe_phases[i].name, &v) || !v)
                        continue;
                if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
                        return bad_request(failure, "\"times_ms.%s\" must be a number, got %s", probe_phases[i].name,
                                           json_type_describe(v));
                double ms = json_object_get_double(v);
                if (!(ms >= 0 && ms < 1e12))
                        return bad_request(failure, "\"times_ms.%s\" is out of range", probe_phases[i].name);
                *(usec_t *) ((uint8_t *) &r + probe_phases[i].offset) = (usec_t) llround(ms * 1000.0);
        }
        k = protocol_get_time(o, "cert_not_after", false, &r.cert_not_after, failure);
        if (k < 0)
                return k;
        k = copy_fixed(o, "cert_subject", r.cert_subject, sizeof r.cert_subject, failure);
        if (k < 0)
                return k;
        k = copy_fixed(o, "cert_sha256", r.cert_sha256, sizeof r.cert_sha256, failure);
        if (k < 0)
                return k;
        *ret = r;
        return 0;
}

/* ---- link status ------------------------------------------------------------ */

void protocol_link_status_done(ProtocolLinkStatus *s) {
        if (!s)
                return;
        fields_done(link_status_fields, ELEMENTSOF(link_status_fields), s);
        *s = PROTOCOL_LINK_STATUS_NULL;
}

int protocol_link_status_to_json(const ProtocolLinkStatus *s, const Tz *tz, json_object **ret) {
        json_object *o = NULL, *p = NULL;
        int r = record_to_json(link_status_fields, ELEMENTSOF(link_status_fields), s, tz, &o);
        if (r < 0)
                return r;
        if (s->has_last_probe) {
                r = protocol_probe_result_to_json(&s->last_probe, tz, &p);
                if (r < 0) {
                        json_object_put(o);
                        return r;
                }
        }
        r = json_add(o, "last_probe", p, !s->has_last_probe);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

int protocol_link_status_from_json(json_object *o, ProtocolLinkStatus *ret, ProtocolFailure *failure) {
        ProtocolLinkStatus s = PROTOCOL_LINK_STATUS_NULL;
        json_object *p;
        int r = fields_from_json(link_status_fields, ELEMENTSOF(link_status_fields), o, &s, failure);
        if (r >= 0)
                r = protocol_get_object(o, "last_probe", false, &p, failure);
        if (r >= 0 && p) {
                r = protocol_probe_result_from_json(p, &s.last_probe, failure);
                s.has_last_probe = r >= 0;
        }
        if (r < 0) {
                protocol_link_status_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

/* ---- typed getters --------------------------------------------------------------- */

static int get_field(json_object *o, const char *key, bool required, json_type type, const char *what,
                     json_object **ret, ProtocolFailure *failure) {
        json_object *v = NULL;
        if (!o || !json_object_is_type(o, json_type_object))
                return bad_request(failure, "expected an object holding \"%s\"", key);
        if (!json_object_object_get_ex(o, key, &v) || !v) {
                if (required)
                        return bad_request(failure, "\"%s\" is missing", key);
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, type))
                return bad_request(failure, "\"%s\" must be %s, got %s", key, what, json_type_describe(v));
        *ret = v;
        return 1;
}

int protocol_get_string(json_object *o, const char *key, bool required, const char **ret, ProtocolFailure *failure) {
        json_object *v;
        int r = get_field(o, key, required, json_type_string, "a string", &v, failure);
        if (r < 0)
                return r;
        if (v && !json_string_ok(v))
                return bad_request(failure, "\"%s\" holds a NUL character", key);
        *ret = v ? json_object_get_string(v) : NULL;
        return 0;
}

int protocol_get_int64(json_object *o, const char *key, bool required, int64_t *ret, ProtocolFailure *failure) {
        json_object *v;
        int r = get_field(o, key, required, json_type_int, "an integer", &v, failure);
        if (r < 0)
                return r;
        *ret = v ? json_object_get_int64(v) : 0;
        return 0;
}

int protocol_get_bool(json_object *o, const char *key, bool *ret, ProtocolFailure *failure) {
        json_object *v;
        int r = get_field(o, key, false, json_type_boolean, "a boolean", &v, failure);
        if (r < 0)
                return r;
        *ret = v ? json_object_get_boolean(v) : false;
        return 0;
}

int protocol_get_time(json_object *o, const char *key, bool required, usec_t *ret, ProtocolFailure *failure) {
        const char *s;
        usec_t t = 0;
        int r = protocol_get_string(o, key, required, &s, failure);
        if (r < 0)
                return r;
        if (s && parse_time_with_offset(s, &t) < 0)
                return bad_request(failure, "\"%s\" must be an ISO 8601 timestamp with an offset", key);
        *ret = t;
        return 0;
}

int protocol_get_array(json_object *o, const char *key, bool required, json_object **ret, ProtocolFailure *failure) {
        json_object *v;
        int r = get_field(o, key, required, json_type_array, "an array", &v, failure);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

int protocol_get_object(json_object *o, const char *key, bool required, json_object **ret, ProtocolFailure *failure) {
        json_object *v;
        int r = get_field(o, key, required, json_type_object, "an object", &v, failure);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

int protocol_data_new(const Tz *tz, usec_t now, json_object **ret) {
        assert(tz);
        json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        if (json_add(o, "time", json_time(tz, now), now == 0) < 0 ||
            json_add(o, "timezone", json_object_new_string(tz_name(tz) ?: "UTC"), false) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

/* ---- requests ---------------------------------------------------------------- */

void protocol_import_row_done(ProtocolImportRow *row) {
        if (!row)
                return;
        free(row->link);
        free(row->username);
        free(row->generated);
        if (row->secret) {
                OPENSSL_cleanse(row->secret, row->secret_size);
                free(row->secret);
        }
        *row = (ProtocolImportRow) {};
}

void protocol_import_rows_free(ProtocolImportRow *rows, size_t n) {
        for (size_t i = 0; rows && i < n; i++)
                protocol_import_row_done(&rows[i]);
        free(rows);
}

void protocol_request_done(ProtocolRequest *r) {
        if (!r)
                return;
        free(r->link);
        free(r->username);
        free(r->generated);
        free(r->reason);
        if (r->secret) {
                OPENSSL_cleanse(r->secret, r->secret_size);
                free(r->secret);
        }
        protocol_import_rows_free(r->rows, r->n_rows);
        *r = PROTOCOL_REQUEST_NULL;
}

static bool username_is_valid(const char *s) {
        return !isempty(s) && strlen(s) <= PROTOCOL_USERNAME_MAX && string_is_safe(s);
}

static bool generated_is_valid(const char *s) {
        return strlen(s) <= PROTOCOL_GENERATED_MAX && string_is_safe(s);
}

static bool reason_is_valid(const char *s) {
        return strlen(s) <= PROTOCOL_REASON_MAX && string_is_safe(s);
}

static int arg_string(json_object *o, const char *where, const char *key, bool required, bool (*valid)(const char *),
                      const char *expected, char **ret, ProtocolFailure *failure) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !v) {
                if (required)
                        return bad_request(failure, "%s: \"%s\" is missing", where, key);
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return bad_request(failure, "%s: \"%s\" must be a string, got %s", where, key, json_type_describe(v));
        const char *s = json_object_get_string(v);
        if (!json_string_ok(v) || (valid && !valid(s)))
                return bad_request(failure, "%s: \"%s\" must be %s", where, key, expected);
        char *copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        free(*ret);
        *ret = copy;
        return 1;
}

static int arg_integer(json_object *o, const char *where, const char *key, bool required, int64_t min, int64_t max,
                       int64_t *ret, ProtocolFailure *failure) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !v) {
                if (required)
                        return bad_request(failure, "%s: \"%s\" is missing", where, key);
                return 0;
        }
        if (!json_object_is_type(v, json_type_int))
                return bad_request(failure, "%s: \"%s\" must be an integer, got %s", where, key,
                                   json_type_describe(v));
        int64_t i = json_object_get_int64(v);
        if (i < min || i > max)
                return bad_request(failure, "%s: \"%s\" must be between %" PRIi64 " and %" PRIi64, where, key, min,
                                   max);
        *ret = i;
        return 1;
}

static int arg_bool(json_object *o, const char *where, const char *key, bool *ret, ProtocolFailure *failure) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !v)
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return bad_request(failure, "%s: \"%s\" must be a boolean, got %s", where, key, json_type_describe(v));
        *ret = json_object_get_boolean(v);
        return 1;
}

size_t protocol_request_announced_secret(json_object *o) {
        json_object *v;
        if (!json_object_object_get_ex(o, "secret_size", &v) || !json_object_is_type(v, json_type_int))
                return 0;
        int64_t n = json_object_get_int64(v);
        return n > 0 && n <= (int64_t) PROTOCOL_MESSAGE_MAX ? (size_t) n : 0;
}

static int import_rows_from_json(json_object *o, ProtocolRequest *req, ProtocolFailure *failure) {
        json_object *rows;
        int64_t announced = 0;
        int r;

        if (!json_object_object_get_ex(o, "rows", &rows) || !rows)
                return bad_request(failure, "credential-import: \"rows\" is missing");
        if (!json_object_is_type(rows, json_type_array))
                return bad_request(failure, "credential-import: \"rows\" must be an array, got %s",
                                   json_type_describe(rows));
        size_t n = json_object_array_length(rows);
        if (n > PROTOCOL_IMPORT_ROWS_MAX)
                return bad_request(failure, "credential-import: more than %u rows", PROTOCOL_IMPORT_ROWS_MAX);
        r = arg_bool(o, "credential-import", "more", &req->more, failure);
        if (r < 0)
                return r;
        r = arg_integer(o, "credential-import", "secret_size", true, 0, PROTOCOL_MESSAGE_MAX, &announced, failure);
        if (r < 0)
                return r;

        req->rows = calloc(MAX(n, (size_t) 1), sizeof(ProtocolImportRow));
        if (!req->rows)
                return -ENOMEM;
        size_t sum = 0;
        for (size_t i = 0; i < n; i++) {
                json_object *row = json_object_array_get_idx(rows, i);
                ProtocolImportRow *ir = &req->rows[i];
                char where[64];
                int64_t size = 0, line = 0;

                req->n_rows = i + 1;
                snprintf(where, sizeof where, "credential-import: row %zu", i + 1);
                if (!json_object_is_type(row, json_type_object))
                        return bad_request(failure, "%s must be an object, got %s", where, json_type_describe(row));
                if ((r = arg_string(row, where, "link", true, link_name_is_valid, "a valid link name", &ir->link,
                                    failure)) < 0 ||
                    (r = arg_string(row, where, "username", true, username_is_valid,
                                    "a non-empty string without control characters", &ir->username, failure)) < 0 ||
                    (r = arg_string(row, where, "generated", false, generated_is_valid,
                                    "a timestamp without control characters", &ir->generated, failure)) < 0 ||
                    (r = arg_integer(row, where, "secret_size", true, 1, PROTOCOL_SECRET_MAX, &size, failure)) < 0 ||
                    (r = arg_integer(row, where, "line", false, 0, UINT32_MAX, &line, failure)) < 0)
                        return r;
                if (ir->generated && ir->generated[0] == '\0')
                        ir->generated = mfree(ir->generated);
                ir->secret_size = (size_t) size;
                ir->line = (unsigned) line;
                sum += ir->secret_size;
        }
        if ((int64_t) sum != announced)
                return bad_request(failure, "credential-import: \"secret_size\" is %" PRIi64
                                            " but the rows' secrets add up to %zu bytes",
                                   announced, sum);
        req->secret_size = sum;
        return 0;
}

int protocol_request_from_json(json_object *o, ProtocolRequest *ret, ProtocolFailure *failure) {
        _cleanup_(protocol_request_done) ProtocolRequest req = PROTOCOL_REQUEST_NULL;
        json_object *v;
        int64_t i;
        int r;

        assert(o);
        assert(ret);

        r = protocol_check_version(o, failure);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "command", &v) || !v)
                return bad_request(failure, "request names no \"command\"");
        if (!json_object_is_type(v, json_type_string))
                return bad_request(failure, "\"command\" must be a string, got %s", json_type_describe(v));
        req.command = protocol_command_from_string(json_object_get_string(v));
        if (req.command < 0) {
                StrBuf b = STRBUF_NULL;
                strbuf_put_quoted(&b, json_object_get_string(v), 64);
                r = protocol_fail(failure, PROTOCOL_ERROR_UNKNOWN_COMMAND, -EOPNOTSUPP, "unknown command %s",
                                  b.data ?: "");
                strbuf_done(&b);
                return r;
        }
        const ProtocolCommandInfo *info = protocol_command_info(req.command);
        const char *cmd = info->name;
        unsigned a = info->args;

        if (a & (PROTOCOL_ARG_LINK | PROTOCOL_ARG_LINK_OR_ALL | PROTOCOL_ARG_LINK_OPTIONAL)) {
                r = arg_string(o, cmd, "link", a & PROTOCOL_ARG_LINK, link_name_is_valid,
                               "a link name ([a-z0-9-], 1 to 63 characters)", &req.link, failure);
                if (r < 0)
                        return r;
        }
        if (a & PROTOCOL_ARG_LINK_OR_ALL) {
                r = arg_bool(o, cmd, "all", &req.all, failure);
                if (r < 0)
                        return r;
                if (!!req.link == req.all)
                        return bad_request(failure, "%s: give either \"link\" or \"all\": true", cmd);
        }
        if (a & PROTOCOL_ARG_USERNAME) {
                r = arg_string(o, cmd, "username", true, username_is_valid,
                               "a non-empty string without control characters", &req.username, failure);
                if (r < 0)
                        return r;
        }
        if (a & PROTOCOL_ARG_GENERATED) {
                r = arg_string(o, cmd, "generated", false, generated_is_valid,
                               "a timestamp without control characters", &req.generated, failure);
                if (r < 0)
                        return r;
                if (req.generated && req.generated[0] == '\0')
                        req.generated = mfree(req.generated);
        }
        if (a & PROTOCOL_ARG_SECRET) {
                r = arg_integer(o, cmd, "secret_size", true, 1, PROTOCOL_SECRET_MAX, &i, failure);
                if (r < 0)
                        return r;
                req.secret_size = (size_t) i;
        } else if (!(a & PROTOCOL_ARG_ROWS) && protocol_request_announced_secret(o) > 0)
                return bad_request(failure, "%s takes no secret", cmd);
        if (a & PROTOCOL_ARG_DURATION) {
                r = arg_integer(o, cmd, "duration_seconds", true, 1, PROTOCOL_SILENCE_MAX / USEC_PER_SEC, &i, failure);
                if (r < 0)
                        return r;
                req.duration = (usec_t) i * USEC_PER_SEC;
        }
        if (a & PROTOCOL_ARG_REASON) {
                r = arg_string(o, cmd, "reason", false, reason_is_valid,
                               "a string without control characters, at most 1024 bytes", &req.reason, failure);
                if (r < 0)
                        return r;
        }
        if (a & PROTOCOL_ARG_LIMIT) {
                i = 0;
                r = arg_integer(o, cmd, "limit", false, 0, 100000, &i, failure);
                if (r < 0)
                        return r;
                req.limit = (unsigned) i;
        }
        if (a & PROTOCOL_ARG_ROWS) {
                r = import_rows_from_json(o, &req, failure);
                if (r < 0)
                        return r;
        }

        *ret = req;
        req = PROTOCOL_REQUEST_NULL;
        return 0;
}

int protocol_request_set_secret(ProtocolRequest *r, const void *data, size_t size, ProtocolFailure *failure) {
        assert(r);
        if (size != r->secret_size || size == 0)
                return bad_request(failure, "secret message of %zu bytes, but %zu were announced", size,
                                   r->secret_size);
        if (r->command != PROTOCOL_COMMAND_CREDENTIAL_IMPORT) {
                char *s = malloc(size + 1);
                if (!s)
                        return -ENOMEM;
                memcpy(s, data, size);
                s[size] = '\0';
                if (r->secret) {
                        OPENSSL_cleanse(r->secret, r->secret_size);
                        free(r->secret);
                }
                r->secret = s;
                return 0;
        }
        const char *p = data;
        for (size_t i = 0; i < r->n_rows; i++) {
                ProtocolImportRow *row = &r->rows[i];
                char *s = malloc(row->secret_size + 1);
                if (!s)
                        return -ENOMEM;
                memcpy(s, p, row->secret_size);
                s[row->secret_size] = '\0';
                p += row->secret_size;
                if (row->secret) {
                        OPENSSL_cleanse(row->secret, row->secret_size);
                        free(row->secret);
                }
                row->secret = s;
        }
        return 0;
}

int protocol_request_append_rows(ProtocolRequest *acc, ProtocolRequest *chunk, ProtocolFailure *failure) {
        assert(acc);
        assert(chunk);
        if (chunk->n_rows == 0)
                return 0;
        if (acc->n_rows + chunk->n_rows > PROTOCOL_IMPORT_ROWS_MAX)
                return protocol_fail(failure, PROTOCOL_ERROR_BAD_REQUEST, -E2BIG,
                                     "credential-import: more than %u rows", PROTOCOL_IMPORT_ROWS_MAX);
        ProtocolImportRow *rows = reallocarray(acc->rows, acc->n_rows + chunk->n_rows, sizeof(ProtocolImportRow));
        if (!rows)
                return -ENOMEM;
        memcpy(rows + acc->n_rows, chunk->rows, chunk->n_rows * sizeof(ProtocolImportRow));
        acc->rows = rows;
        acc->n_rows += chunk->n_rows;
        acc->secret_size += chunk->secret_size;
        chunk->rows = mfree(chunk->rows);
        chunk->n_rows = 0;
        return 0;
}

static int add_string(json_object *o, const char *key, const char *value) {
        return value ? json_add(o, key, json_object_new_string(value), false) : 0;
}

int protocol_request_to_json(const ProtocolRequest *r, json_object **ret) {
        assert(r);
        assert(ret);
        const ProtocolCommandInfo *info = protocol_command_info(r->command);
        if (!info || (info->args & PROTOCOL_ARG_ROWS))
                return -EINVAL;

        json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        unsigned a = info->args;
        int k = 0;
        k |= json_add(o, "v", json_object_new_int(PROTOCOL_VERSION), false);
        k |= json_add(o, "command", json_object_new_string(info->name), false);
        if (a & (PROTOCOL_ARG_LINK | PROTOCOL_ARG_LINK_OR_ALL | PROTOCOL_ARG_LINK_OPTIONAL))
                k |= add_string(o, "link", r->link);
        if ((a & PROTOCOL_ARG_LINK_OR_ALL) && r->all)
                k |= json_add(o, "all", json_object_new_boolean(true), false);
        if (a & PROTOCOL_ARG_USERNAME)
                k |= add_string(o, "username", r->username);
        if (a & PROTOCOL_ARG_GENERATED)
                k |= add_string(o, "generated", r->generated);
        if (a & PROTOCOL_ARG_SECRET)
                k |= json_add(o, "secret_size", json_object_new_int64((int64_t) r->secret_size), false);
        if (a & PROTOCOL_ARG_DURATION)
                k |= json_add(o, "duration_seconds", json_object_new_int64((int64_t) (r->duration / USEC_PER_SEC)),
                              false);
        if (a & PROTOCOL_ARG_REASON)
                k |= add_string(o, "reason", r->reason);
        if ((a & PROTOCOL_ARG_LIMIT) && r->limit > 0)
                k |= json_add(o, "limit", json_object_new_int64(r->limit), false);
        if (k < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

/* ---- import streams ----------------------------------------------------------- */

void protocol_import_chunk_done(ProtocolImportChunk *c) {
        if (!c)
                return;
        free(c->json);
        if (c->secrets) {
                OPENSSL_cleanse(c->secrets, c->secrets_size);
                free(c->secrets);
        }
        *c = (ProtocolImportChunk) {};
}

static json_object *import_row_to_json(const ProtocolImportRow *row) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        int k = 0;
        k |= add_string(o, "link", row->link);
        k |= add_string(o, "username", row->username);
        k |= add_string(o, "generated", row->generated);
        k |= json_add(o, "secret_size", json_object_new_int64((int64_t) row->secret_size), false);
        if (row->line > 0)
                k |= json_add(o, "line", json_object_new_int64(row->line), false);
        if (k < 0)
                return json_object_put(o), NULL;
        return o;
}

int protocol_import_chunk_next(const ProtocolImportRow *rows, size_t n, size_t *pos, size_t max,
                               ProtocolImportChunk *ret) {
        /* {"v":1,"command":"credential-import","more":false,"secret_size":NNNNNN,"rows":[...]}: the
         * fixed part with room to spare. */
        const size_t overhead = 128;
        assert(pos);
        assert(ret);

        if (max == 0)
                max = PROTOCOL_MESSAGE_MAX;
        if (*pos >= n)
                return 0;
        if (max <= overhead)
                return -EMSGSIZE;

        json_object *o = json_object_new_object(), *array = json_object_new_array();
        if (!o || !array) {
                json_object_put(o);
                json_object_put(array);
                return -ENOMEM;
        }
        size_t json_size = overhead, secrets_size = 0, i = *pos;
        for (; i < n; i++) {
                const ProtocolImportRow *row = &rows[i];
                if (!row->link || !row->username || !row->secret || row->secret_size == 0) {
                        json_object_put(o);
                        json_object_put(array);
                        return -EINVAL;
                }
                json_object *e = import_row_to_json(row);
                if (!e) {
                        json_object_put(o);
                        json_object_put(array);
                        return -ENOMEM;
                }
                size_t len;
                (void) json_object_to_json_string_length(e, JSON_FLAGS, &len);
                if (json_size + len + 1 > max || secrets_size + row->secret_size > max) {
                        json_object_put(e);
                        if (i == *pos) {
                                json_object_put(o);
                                json_object_put(array);
                                return -EMSGSIZE;
                        }
                        break;
                }
                if (json_object_array_add(array, e) < 0) {
                        json_object_put(e);
                        json_object_put(o);
                        json_object_put(array);
                        return -ENOMEM;
                }
                json_size += len + 1;
                secrets_size += row->secret_size;
        }

        int k = 0;
        k |= json_add(o, "v", json_object_new_int(PROTOCOL_VERSION), false);
        k |= json_add(o, "command", json_object_new_string("credential-import"), false);
        k |= json_add(o, "more", json_object_new_boolean(i < n), false);
        k |= json_add(o, "secret_size", json_object_new_int64((int64_t) secrets_size), false);
        k |= json_add(o, "rows", array, false);
        if (k < 0) {
                json_object_put(o);
                return -ENOMEM;
        }

        ProtocolImportChunk c = { .n_rows = i - *pos, .last = i >= n, .secrets_size = secrets_size };
        int r = protocol_message_format(o, max, &c.json, &c.json_size);
        json_object_put(o);
        if (r < 0)
                return r;
        c.secrets = malloc(MAX(secrets_size, (size_t) 1));
        if (!c.secrets) {
                free(c.json);
                return -ENOMEM;
        }
        char *p = c.secrets;
        for (size_t j = *pos; j < i; j++) {
                memcpy(p, rows[j].secret, rows[j].secret_size);
                p += rows[j].secret_size;
        }
        *pos = i;
        *ret = c;
        return 1;
}

/* ---- replies ------------------------------------------------------------------- */

void protocol_messages_free(ProtocolMessage *m, size_t n) {
        for (size_t i = 0; m && i < n; i++)
                free(m[i].data);
        free(m);
}

static int messages_push(ProtocolMessage **m, size_t *n, StrBuf *b) {
        if (strbuf_failed(b))
                return -ENOMEM;
        ProtocolMessage *a = reallocarray(*m, *n + 1, sizeof(ProtocolMessage));
        if (!a)
                return -ENOMEM;
        *m = a;
        size_t len = b->len;
        char *s = strbuf_steal(b);
        if (!s)
                return -ENOMEM;
        a[(*n)++] = (ProtocolMessage) { .data = s, .size = len };
        return 0;
}

int protocol_reply_encode(json_object *data, size_t max, ProtocolMessage **ret, size_t *ret_n) {
        ProtocolMessage *m = NULL;
        size_t n = 0;
        json_object *own = NULL;
        int r;

        assert(ret);
        assert(ret_n);
        if (max == 0)
                max = PROTOCOL_MESSAGE_MAX;
        if (!data)
                data = own = json_object_new_object();
        if (!data || !json_object_is_type(data, json_type_object)) {
                json_object_put(own);
                return data ? -EINVAL : -ENOMEM;
        }

        /* The whole reply in one message, when it fits. */
        size_t len;
        const char *s = json_object_to_json_string_length(data, JSON_FLAGS, &len);
        StrBuf b = STRBUF_NULL;
        if (!s) {
                json_object_put(own);
                return -ENOMEM;
        }
        if (len + 64 <= max) {
                strbuf_printf(&b, "{\"v\":%d,\"ok\":true,\"data\":%s}", PROTOCOL_VERSION, s);
                r = messages_push(&m, &n, &b);
                json_object_put(own);
                if (r < 0)
                        return r;
                *ret = m;
                *ret_n = n;
                return 0;
        }
        json_object_put(own);

        /* A stream: the fields with the arrays emptied first, then slices of
         * each array. */
        json_object *base = json_object_new_object();
        if (!base)
                return -ENOMEM;
        json_object_object_foreach(data, key, val) {
                json_object *v = json_object_is_type(val, json_type_array) ? json_object_new_array()
                                                                            : json_object_get(val);
                if ((!v && val) || json_object_object_add(base, key, v) < 0) {
                        json_object_put(v);
                        json_object_put(base);
                        return -ENOMEM;
                }
        }
        s = json_object_to_json_string_length(base, JSON_FLAGS, &len);
        if (!s) {
                json_object_put(base);
                return -ENOMEM;
        }
        const char *tail_more = "},\"more\":true}", *tail_last = "}}";
        if (len + 64 > max) {
                json_object_put(base);
                return -EMSGSIZE;
        }
        strbuf_printf(&b, "{\"v\":%d,\"ok\":true,\"more\":true,\"data\":%s}", PROTOCOL_VERSION, s);
        json_object_put(base);
        r = messages_push(&m, &n, &b);
        if (r < 0)
                goto fail;

        json_object_object_foreach(data, akey, aval) {
                if (!json_object_is_type(aval, json_type_array))
                        continue;
                json_object *jkey = json_object_new_string(akey);
                if (!jkey) {
                        r = -ENOMEM;
                        goto fail;
                }
                char prefix[512];
                int plen = snprintf(prefix, sizeof prefix, "{\"v\":%d,\"ok\":true,\"data\":{%s:[", PROTOCOL_VERSION,
                                    json_object_to_json_string_ext(jkey, JSON_FLAGS));
                json_object_put(jkey);
                if (plen < 0 || (size_t) plen >= sizeof prefix) {
                        r = -EMSGSIZE;
                        goto fail;
                }
                /* Room reserved for the longer ending, "]},"more":true}". */
                size_t fixed = (size_t) plen + 1 + strlen(tail_more);
                size_t count = json_object_array_length(aval);
                for (size_t i = 0; i < count; i++) {
                        json_object *e = json_object_array_get_idx(aval, i);
                        size_t elen;
                        const char *es = json_object_to_json_string_length(e, JSON_FLAGS, &elen);
                        if (!es) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        if (fixed + elen > max) {
                                r = -EMSGSIZE;
                                goto fail;
                        }
                        if (b.len > 0 && b.len + 1 + elen + 1 + strlen(tail_more) > max) {
                                strbuf_putc(&b, ']');
                                strbuf_puts(&b, tail_more);
                                r = messages_push(&m, &n, &b);
                                if (r < 0)
                                        goto fail;
                        }
                        if (b.len == 0)
                                strbuf_puts(&b, prefix);
                        else
                                strbuf_putc(&b, ',');
                        strbuf_append(&b, es, elen);
                }
                if (b.len > 0) {
                        strbuf_putc(&b, ']');
                        strbuf_puts(&b, tail_more);
                        r = messages_push(&m, &n, &b);
                        if (r < 0)
                                goto fail;
                }
        }

        /* The last message says the stream ends: replace its tail. */
        ProtocolMessage *last = &m[n - 1];
        if (n == 1) {
                /* nothing in the arrays after all: cannot happen, the whole
                 * reply would have fit */
                r = -EMSGSIZE;
                goto fail;
        }
        assert(last->size > strlen(tail_more));
        last->size -= strlen(tail_more);
        memcpy(last->data + last->size, tail_last, strlen(tail_last) + 1);
        last->size += strlen(tail_last);

        *ret = m;
        *ret_n = n;
        return 0;

fail:
        strbuf_done(&b);
        protocol_messages_free(m, n);
        return r;
}

struct ProtocolReplyStream {
        size_t max;
        char *head;             /* data with the array empty, ending in "[]}" */
        size_t head_len;
        char *prefix;           /* a slice message up to its first element */
        size_t prefix_len;
        StrBuf elements;        /* the elements not yet sent, comma-separated */
        size_t n_elements;
        bool streaming;         /* the fields have gone: slices from now on */
};

static const char stream_tail_more[] = "]},\"more\":true}";
static const char stream_tail_last[] = "]}}";

ProtocolReplyStream *protocol_reply_stream_free(ProtocolReplyStream *s) {
        if (!s)
                return NULL;
        free(s->head);
        free(s->prefix);
        strbuf_done(&s->elements);
        return mfree(s);
}

int protocol_reply_stream_new(json_object *fields, const char *key, size_t max, ProtocolReplyStream **ret) {
        _cleanup_(protocol_reply_stream_freep) ProtocolReplyStream *s = NULL;
        _cleanup_json_ json_object *data = fields;
        StrBuf b = STRBUF_NULL;
        size_t len;

        assert(key);
        assert(ret);
        if (data && !json_object_is_type(data, json_type_object))
                return -EINVAL;
        if (!data && !(data = json_object_new_object()))
                return -ENOMEM;
        json_object *empty = json_object_new_array();
        /* added last, so that its "[]" closes the serialized document */
        json_object_object_del(data, key);
        if (!empty || json_object_object_add(data, key, empty) < 0) {
                json_object_put(empty);
                return -ENOMEM;
        }
        s = calloc(1, sizeof(ProtocolReplyStream));
        if (!s)
                return -ENOMEM;
        s->max = max ?: PROTOCOL_MESSAGE_MAX;
        const char *h = json_object_to_json_string_length(data, JSON_FLAGS, &len);
        if (!h || len < 3 || !streq(h + len - 3, "[]}"))
                return -ENOMEM;
        if (len + 64 > s->max)
                return -EMSGSIZE;
        s->head = strndup(h, len);
        s->head_len = len;
        json_object *jkey = json_object_new_string(key);
        if (!s->head || !jkey) {
                json_object_put(jkey);
                return -ENOMEM;
        }
        strbuf_printf(&b, "{\"v\":%d,\"ok\":true,\"data\":{%s:[", PROTOCOL_VERSION,
                      json_object_to_json_string_ext(jkey, JSON_FLAGS));
        json_object_put(jkey);
        if (strbuf_failed(&b))
                return -ENOMEM;
        s->prefix_len = b.len;
        s->prefix = strbuf_steal(&b);
        if (!s->prefix)
                return -ENOMEM;
        if (s->prefix_len + sizeof stream_tail_more + 64 > s->max)
                return -EMSGSIZE;
        *ret = TAKE_PTR(s);
        return 0;
}

/* The whole reply in one message: the head with the elements in its "[]". */
static int stream_single(ProtocolReplyStream *s, StrBuf *b) {
        strbuf_printf(b, "{\"v\":%d,\"ok\":true,\"data\":", PROTOCOL_VERSION);
        strbuf_append(b, s->head, s->head_len - 2);
        strbuf_append(b, s->elements.data ?: "", s->elements.len);
        strbuf_puts(b, "]}}");
        return strbuf_failed(b) ? -ENOMEM : 0;
}

/* The fields, with the array empty, and "more". */
static int stream_fields(ProtocolReplyStream *s, StrBuf *b) {
        strbuf_printf(b, "{\"v\":%d,\"ok\":true,\"more\":true,\"data\":", PROTOCOL_VERSION);
        strbuf_append(b, s->head, s->head_len);
        strbuf_putc(b, '}');
        return strbuf_failed(b) ? -ENOMEM : 0;
}

static int stream_slice(ProtocolReplyStream *s, StrBuf *b, bool last) {
        strbuf_append(b, s->prefix, s->prefix_len);
        strbuf_append(b, s->elements.data ?: "", s->elements.len);
        strbuf_puts(b, last ? stream_tail_last : stream_tail_more);
        return strbuf_failed(b) ? -ENOMEM : 0;
}

static void stream_elements_clear(ProtocolReplyStream *s) {
        strbuf_done(&s->elements);
        s->elements = STRBUF_NULL;
        s->n_elements = 0;
}

int protocol_reply_stream_add(ProtocolReplyStream *s, json_object *element, ProtocolMessage **ret, size_t *ret_n) {
        _cleanup_json_ json_object *e = element;
        ProtocolMessage *m = NULL;
        size_t n = 0, len;
        StrBuf b = STRBUF_NULL;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);
        const char *es = json_object_to_json_string_length(e, JSON_FLAGS, &len);
        if (!es)
                return -ENOMEM;
        if (s->prefix_len + len + sizeof stream_tail_more > s->max)
                return -EMSGSIZE;

        size_t have = s->elements.len + (s->n_elements > 0 ? 1 : 0) + len;
        if (!s->streaming && 64 + s->head_len + have > s->max) {
                /* it will not all fit in one message: the fields go first */
                s->streaming = true;
                r = stream_fields(s, &b);
                if (r >= 0)
                        r = messages_push(&m, &n, &b);
                if (r < 0)
                        goto fail;
        }
        if (s->streaming && s->n_elements > 0 && s->prefix_len + have + sizeof stream_tail_more > s->max) {
                r = stream_slice(s, &b, false);
                if (r >= 0)
                        r = messages_push(&m, &n, &b);
                if (r < 0)
                        goto fail;
                stream_elements_clear(s);
        }
        if (s->n_elements > 0)
                strbuf_putc(&s->elements, ',');
        strbuf_append(&s->elements, es, len);
        s->n_elements++;
        if (strbuf_failed(&s->elements)) {
                r = -ENOMEM;
                goto fail;
        }
        *ret = m;
        *ret_n = n;
        return n > 0;

fail:
        strbuf_done(&b);
        protocol_messages_free(m, n);
        return r;
}

int protocol_reply_stream_finish(ProtocolReplyStream *s, ProtocolMessage **ret, size_t *ret_n) {
        ProtocolMessage *m = NULL;
        size_t n = 0;
        StrBuf b = STRBUF_NULL;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);
        r = s->streaming ? stream_slice(s, &b, true) : stream_single(s, &b);
        if (r >= 0)
                r = messages_push(&m, &n, &b);
        if (r < 0) {
                strbuf_done(&b);
                return r;
        }
        stream_elements_clear(s);
        *ret = m;
        *ret_n = n;
        return 0;
}

int protocol_error_encode(const ProtocolFailure *f, size_t max, ProtocolMessage *ret) {
        assert(f);
        assert(ret);
        if (max == 0)
                max = PROTOCOL_MESSAGE_MAX;

        size_t n_details = strv_length(f->details);
        size_t message_len = strlen(f->message);
        for (;;) {
                json_object *o = json_object_new_object(), *e = json_object_new_object();
                int k = 0;
                if (!o || !e) {
                        json_object_put(o);
                        json_object_put(e);
                        return -ENOMEM;
                }
                k |= json_add(o, "v", json_object_new_int(PROTOCOL_VERSION), false);
                k |= json_add(o, "ok", json_object_new_boolean(false), false);
                k |= json_add(e, "code",
                              json_object_new_string(protocol_error_to_string(f->code) ?: "internal"), false);
                k |= json_add(e, "message", json_object_new_string_len(f->message, (int) message_len), false);
                if (n_details > 0) {
                        json_object *d = json_object_new_array();
                        for (size_t i = 0; d && i < n_details; i++)
                                k |= json_object_array_add(d, json_object_new_string(f->details[i]));
                        k |= json_add(e, "details", d, false);
                }
                k |= json_add(o, "error", e, false);
                if (k < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
                char *s;
                size_t len;
                int r = protocol_message_format(o, max, &s, &len);
                json_object_put(o);
                if (r == 0) {
                        *ret = (ProtocolMessage) { .data = s, .size = len };
                        return 0;
                }
                if (r != -EMSGSIZE)
                        return r;
                if (n_details > 0)
                        n_details /= 2;
                else if (message_len > 16) {
                        message_len /= 2;
                        /* do not cut a UTF-8 sequence */
                        while (message_len > 0 && ((unsigned char) f->message[message_len] & 0xC0) == 0x80)
                                message_len--;
                } else
                        return -EMSGSIZE;
        }
}

void protocol_reply_reader_done(ProtocolReplyReader *r) {
        if (!r)
                return;
        json_object_put(r->data);
        *r = PROTOCOL_REPLY_READER_NULL;
}

json_object *protocol_reply_reader_steal(ProtocolReplyReader *r) {
        return TAKE_PTR(r->data);
}

static int error_from_json(json_object *o, ProtocolFailure *failure) {
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        json_object *e, *details;
        const char *code, *message;
        if (protocol_get_object(o, "error", true, &e, failure) < 0 ||
            protocol_get_string(e, "code", true, &code, failure) < 0 ||
            protocol_get_string(e, "message", false, &message, failure) < 0 ||
            protocol_get_array(e, "details", false, &details, failure) < 0)
                return -EBADMSG;
        f.code = protocol_error_from_string(code);
        if (f.code < 0)
                f.code = PROTOCOL_ERROR_INTERNAL;   /* a code from a newer daemon */
        if (snprintf(f.message, sizeof f.message, "%s", message ?: code) >= (int) sizeof f.message)
                drop_partial_character(f.message);
        size_t n = details ? MIN(json_object_array_length(details), (size_t) PROTOCOL_FAILURE_DETAILS_MAX) : 0;
        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_array_get_idx(details, i);
                if (json_object_is_type(d, json_type_string) && strv_extend(&f.details, json_object_get_string(d)) < 0) {
                        strv_free(f.details);
                        return -ENOMEM;
                }
        }
        if (failure) {
                protocol_failure_done(failure);
                *failure = f;
        } else
                strv_free(f.details);
        return -EREMOTEIO;
}

int protocol_reply_reader_feed(ProtocolReplyReader *r, const void *msg, size_t size, ProtocolFailure *failure) {
        _cleanup_json_ json_object *o = NULL;
        json_object *data;
        bool ok = false, more = false;
        int k;

        assert(r);
        if (r->done)
                return bad_request(failure, "message after the end of the reply");
        if (r->n_messages >= PROTOCOL_REPLY_MESSAGES_MAX || size > PROTOCOL_REPLY_MAX - r->total)
                return protocol_fail(failure, PROTOCOL_ERROR_BAD_REQUEST, -E2BIG, "reply is too large");

        k = protocol_message_parse(msg, size, &o, failure);
        if (k < 0)
                return k;
        k = protocol_check_version(o, failure);
        if (k < 0)
                return k;
        json_object *v;
        if (!json_object_object_get_ex(o, "ok", &v) || !json_object_is_type(v, json_type_boolean))
                return bad_request(failure, "reply has no boolean \"ok\"");
        ok = json_object_get_boolean(v);
        if (!ok)
                return error_from_json(o, failure);
        k = protocol_get_bool(o, "more", &more, failure);
        if (k < 0)
                return k;
        k = protocol_get_object(o, "data", false, &data, failure);
        if (k < 0)
                return k;

        r->n_messages++;
        r->total += size;
        if (!r->data) {
                r->data = data ? json_object_get(data) : json_object_new_object();
                if (!r->data)
                        return -ENOMEM;
        } else if (data) {
                json_object_object_foreach(data, key, val) {
                        json_object *have;
                        if (json_object_is_type(val, json_type_array) && json_object_object_get_ex(r->data, key, &have) &&
                            json_object_is_type(have, json_type_array)) {
                                size_t n = json_object_array_length(val);
                                for (size_t i = 0; i < n; i++) {
                                        json_object *e = json_object_get(json_object_array_get_idx(val, i));
                                        if (json_object_array_add(have, e) < 0) {
                                                json_object_put(e);
                                                return -ENOMEM;
                                        }
                                }
                        } else if (json_object_object_add(r->data, key, json_object_get(val)) < 0)
                                return -ENOMEM;
                }
        }
        if (more)
                return 0;
        r->done = true;
        return 1;
}
