/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>

#include "protocol.h"
#include "strbuf.h"
#include "strv.h"
#include "tests.h"
#include "validate.h"

static Tz *la(void) {
        Tz *tz = NULL;
        ck_assert_int_eq(tz_load(NULL, "America/Los_Angeles", &tz), 0);
        return tz;
}

static json_object *parse_ok(const char *s) {
        json_object *o = NULL;
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        int r = protocol_message_parse(s, strlen(s), &o, &f);
        ck_assert_msg(r == 0, "%s: %s", s, f.message);
        return o;
}

/* Parses a request and expects it refused with code and a message holding want. */
static void request_fails(const char *s, ProtocolError code, const char *want) {
        _cleanup_json_ json_object *o = parse_ok(s);
        ProtocolRequest req = PROTOCOL_REQUEST_NULL;
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        ck_assert_int_lt(protocol_request_from_json(o, &req, &f), 0);
        ck_assert_msg(f.code == code, "%s: code %s, wanted %s (%s)", s, protocol_error_to_string(f.code),
                      protocol_error_to_string(code), f.message);
        ck_assert_msg(strstr(f.message, want), "%s: message \"%s\" lacks \"%s\"", s, f.message, want);
        ck_assert_int_eq(req.command, _PROTOCOL_COMMAND_INVALID);   /* untouched */
}

static void request_parses(const char *s, ProtocolRequest *ret) {
        _cleanup_json_ json_object *o = parse_ok(s);
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        int r = protocol_request_from_json(o, ret, &f);
        ck_assert_msg(r == 0, "%s: %s", s, f.message);
}

START_TEST(test_command_table) {
        static const struct {
                const char *name;
                ProtocolAccess access;
        } expected[] = {
                { "status", PROTOCOL_ACCESS_READ },
                { "show", PROTOCOL_ACCESS_READ },
                { "probe", PROTOCOL_ACCESS_ADMIN },
                { "credential-set", PROTOCOL_ACCESS_ADMIN },
                { "credential-rotate", PROTOCOL_ACCESS_ADMIN },
                { "credential-history", PROTOCOL_ACCESS_READ },
                { "credential-import", PROTOCOL_ACCESS_ADMIN },
                { "silence", PROTOCOL_ACCESS_ADMIN },
                { "unsilence", PROTOCOL_ACCESS_ADMIN },
                { "alerts", PROTOCOL_ACCESS_READ },
                { "test-email", PROTOCOL_ACCESS_ADMIN },
                { "reload", PROTOCOL_ACCESS_ADMIN },
                { "check", PROTOCOL_ACCESS_READ },
        };
        ck_assert_int_eq(ELEMENTSOF(expected), _PROTOCOL_COMMAND_MAX);
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                ProtocolCommand c = protocol_command_from_string(expected[i].name);
                ck_assert_int_ge(c, 0);
                const ProtocolCommandInfo *info = protocol_command_info(c);
                ck_assert_int_eq(info->command, c);
                ck_assert_str_eq(protocol_command_to_string(c), expected[i].name);
                ck_assert_msg(info->access == expected[i].access, "%s", expected[i].name);
                ck_assert_ptr_nonnull(info->summary);
        }
        ck_assert_int_eq(protocol_command_from_string("Status"), _PROTOCOL_COMMAND_INVALID);
        ck_assert_int_eq(protocol_command_from_string(NULL), _PROTOCOL_COMMAND_INVALID);
        ck_assert_ptr_null(protocol_command_info(_PROTOCOL_COMMAND_MAX));

        for (int e = 0; e < _PROTOCOL_ERROR_MAX; e++)
                ck_assert_int_eq(protocol_error_from_string(protocol_error_to_string(e)), e);
        ck_assert_str_eq(protocol_error_to_string(PROTOCOL_ERROR_PERMISSION_DENIED), "permission-denied");
        ck_assert_int_eq(protocol_error_from_errno(-ENOENT), PROTOCOL_ERROR_NOT_FOUND);
        ck_assert_int_eq(protocol_error_from_errno(-EACCES), PROTOCOL_ERROR_PERMISSION_DENIED);
        ck_assert_int_eq(protocol_error_from_errno(-EBUSY), PROTOCOL_ERROR_BUSY);
        ck_assert_int_eq(protocol_error_from_errno(-EIO), PROTOCOL_ERROR_INTERNAL);
}
END_TEST

START_TEST(test_message_parse) {
        json_object *o = NULL;
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        static const struct {
                const char *text;
                size_t size;
                const char *want;
        } bad[] = {
                { "", 0, "empty" },
                { "{\"v\":1", 6, "truncated" },
                { "{\"v\":1}x", 8, "after the JSON document" },
                { "{\"v\":1}{}", 9, "after the JSON document" },
                { "[1,2]", 5, "must be a JSON object, got an array" },
                { "\"str\"", 5, "must be a JSON object, got a string" },
                { "{\"v\":\0}", 7, "NUL byte" },
                { "{\"a\":\"\xff\xfe\"}", 10, "not valid UTF-8 at byte 6" },
                /* json-c lets these through: an overlong "/" and an encoded surrogate */
                { "{\"a\":\"b\xc0\xaf\"}", 11, "not valid UTF-8 at byte 7" },
                { "{\"a\":\"\xed\xa0\x80\"}", 11, "not valid UTF-8 at byte 6" },
                { "{a:1}", 5, "not valid JSON" },
                { "{\"a\":1,}", 8, "not valid JSON" },
                { "nonsense", 8, "not valid JSON" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_int_eq(protocol_message_parse(bad[i].text, bad[i].size, &o, &f), -EBADMSG);
                ck_assert_int_eq(f.code, PROTOCOL_ERROR_BAD_REQUEST);
                ck_assert_msg(strstr(f.message, bad[i].want), "%zu: %s", i, f.message);
        }
        /* nesting */
        char deep[200];
        size_t n = 0;
        deep[n++] = '{';
        memcpy(deep + n, "\"a\":", 4), n += 4;
        for (int i = 0; i < 40; i++)
                deep[n++] = '[';
        for (int i = 0; i < 40; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        ck_assert_int_eq(protocol_message_parse(deep, n, &o, &f), -EBADMSG);
        /* too large, checked before anything else */
        ck_assert_int_eq(protocol_message_parse(deep, PROTOCOL_MESSAGE_MAX + 1, &o, &f), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(f.message, "larger than the limit"));
        /* whitespace around is fine */
        ck_assert_int_eq(protocol_message_parse(" {\"v\":1}\n", 9, &o, &f), 0);
        json_object_put(o);
}
END_TEST

START_TEST(test_version) {
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        json_object *o = parse_ok("{\"command\":\"status\"}");
        ck_assert_int_eq(protocol_check_version(o, &f), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(f.message, "no protocol version"));
        json_object_put(o);
        o = parse_ok("{\"v\":\"1\",\"command\":\"status\"}");
        ck_assert_int_eq(protocol_check_version(o, &f), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(f.message, "\"v\" must be an integer, got a string"));
        json_object_put(o);
        o = parse_ok("{\"v\":2,\"command\":\"status\"}");
        ck_assert_int_eq(protocol_check_version(o, &f), -EPROTONOSUPPORT);
        ck_assert_int_eq(f.code, PROTOCOL_ERROR_UNSUPPORTED_VERSION);
        ck_assert_ptr_nonnull(strstr(f.message, "version 2"));
        json_object_put(o);
        request_fails("{\"v\":2,\"command\":\"status\"}", PROTOCOL_ERROR_UNSUPPORTED_VERSION, "not supported");
        request_fails("{\"command\":\"status\"}", PROTOCOL_ERROR_BAD_REQUEST, "version");
}
END_TEST

static void roundtrip(const ProtocolRequest *in, ProtocolRequest *out) {
        _cleanup_json_ json_object *o = NULL, *back = NULL;
        _cleanup_free_ char *s = NULL;
        size_t size;
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        ck_assert_int_eq(protocol_request_to_json(in, &o), 0);
        ck_assert_int_eq(protocol_message_format(o, PROTOCOL_MESSAGE_MAX, &s, &size), 0);
        ck_assert_uint_eq(size, strlen(s));
        ck_assert_int_eq(protocol_message_parse(s, size, &back, &f), 0);
        int r = protocol_request_from_json(back, out, &f);
        ck_assert_msg(r == 0, "%s: %s", s, f.message);
        ck_assert_int_eq(out->command, in->command);
}

START_TEST(test_request_roundtrip) {
        ProtocolRequest out = PROTOCOL_REQUEST_NULL;

        /* every command without arguments */
        ProtocolCommand plain[] = { PROTOCOL_COMMAND_STATUS, PROTOCOL_COMMAND_TEST_EMAIL, PROTOCOL_COMMAND_RELOAD,
                                    PROTOCOL_COMMAND_CHECK, PROTOCOL_COMMAND_ALERTS };
        for (size_t i = 0; i < ELEMENTSOF(plain); i++) {
                roundtrip(&(ProtocolRequest) { .command = plain[i] }, &out);
                ck_assert_ptr_null(out.link);
                protocol_request_done(&out);
        }

        ProtocolCommand linked[] = { PROTOCOL_COMMAND_SHOW, PROTOCOL_COMMAND_CREDENTIAL_HISTORY,
                                     PROTOCOL_COMMAND_UNSILENCE, PROTOCOL_COMMAND_PROBE };
        for (size_t i = 0; i < ELEMENTSOF(linked); i++) {
                roundtrip(&(ProtocolRequest) { .command = linked[i], .link = (char *) "district" }, &out);
                ck_assert_str_eq(out.link, "district");
                protocol_request_done(&out);
        }

        roundtrip(&(ProtocolRequest) { .command = PROTOCOL_COMMAND_PROBE, .all = true }, &out);
        ck_assert(out.all);
        ck_assert_ptr_null(out.link);
        protocol_request_done(&out);

        roundtrip(&(ProtocolRequest) { .command = PROTOCOL_COMMAND_CREDENTIAL_SET,
                                       .link = (char *) "school-a",
                                       .username = (char *) "vendor.sis@19647330",
                                       .generated = (char *) "2026-03-01",
                                       .secret_size = 32 },
                  &out);
        ck_assert_str_eq(out.link, "school-a");
        ck_assert_str_eq(out.username, "vendor.sis@19647330");
        ck_assert_str_eq(out.generated, "2026-03-01");
        ck_assert_uint_eq(out.secret_size, 32);
        ck_assert_ptr_null(out.secret);
        protocol_request_done(&out);

        roundtrip(&(ProtocolRequest) { .command = PROTOCOL_COMMAND_CREDENTIAL_ROTATE,
                                       .link = (char *) "district",
                                       .username = (char *) "üser",
                                       .secret_size = 1 },
                  &out);
        ck_assert_str_eq(out.username, "üser");
        ck_assert_ptr_null(out.generated);
        protocol_request_done(&out);

        roundtrip(&(ProtocolRequest) { .command = PROTOCOL_COMMAND_SILENCE,
                                       .link = (char *) "district",
                                       .duration = 2 * USEC_PER_HOUR,
                                       .reason = (char *) "TOMS maintenance" },
                  &out);
        ck_assert_uint_eq(out.duration, 2 * USEC_PER_HOUR);
        ck_assert_str_eq(out.reason, "TOMS maintenance");
        protocol_request_done(&out);

        roundtrip(&(ProtocolRequest) { .command = PROTOCOL_COMMAND_ALERTS, .link = (char *) "x", .limit = 20 }, &out);
        ck_assert_uint_eq(out.limit, 20);
        ck_assert_str_eq(out.link, "x");
        protocol_request_done(&out);

        /* imports are chunked, never encoded as a plain request */
        json_object *o = NULL;
        ck_assert_int_eq(protocol_request_to_json(&(ProtocolRequest) { .command = PROTOCOL_COMMAND_CREDENTIAL_IMPORT }, &o),
                         -EINVAL);
}
END_TEST

START_TEST(test_request_unknown_fields_and_types) {
        ProtocolRequest req = PROTOCOL_REQUEST_NULL;
        /* unknown fields, even of odd types, are ignored */
        request_parses("{\"v\":1,\"command\":\"show\",\"link\":\"district\",\"colour\":[1,{\"x\":null}],\"n\":1.5}", &req);
        ck_assert_str_eq(req.link, "district");
        protocol_request_done(&req);

        request_fails("{\"v\":1}", PROTOCOL_ERROR_BAD_REQUEST, "no \"command\"");
        request_fails("{\"v\":1,\"command\":7}", PROTOCOL_ERROR_BAD_REQUEST, "\"command\" must be a string, got an integer");
        request_fails("{\"v\":1,\"command\":\"launch\"}", PROTOCOL_ERROR_UNKNOWN_COMMAND, "unknown command \"launch\"");
        request_fails("{\"v\":1,\"command\":\"show\"}", PROTOCOL_ERROR_BAD_REQUEST, "show: \"link\" is missing");
        request_fails("{\"v\":1,\"command\":\"show\",\"link\":null}", PROTOCOL_ERROR_BAD_REQUEST, "\"link\" is missing");
        request_fails("{\"v\":1,\"command\":\"show\",\"link\":5}", PROTOCOL_ERROR_BAD_REQUEST,
                      "show: \"link\" must be a string, got an integer");
        request_fails("{\"v\":1,\"command\":\"show\",\"link\":\"Bad_Name\"}", PROTOCOL_ERROR_BAD_REQUEST,
                      "\"link\" must be a link name");
        request_fails("{\"v\":1,\"command\":\"show\",\"link\":\"a\\u0000b\"}", PROTOCOL_ERROR_BAD_REQUEST, "\"link\"");
        request_fails("{\"v\":1,\"command\":\"probe\"}", PROTOCOL_ERROR_BAD_REQUEST, "either \"link\" or \"all\"");
        request_fails("{\"v\":1,\"command\":\"probe\",\"link\":\"a\",\"all\":true}", PROTOCOL_ERROR_BAD_REQUEST,
                      "either");
        request_fails("{\"v\":1,\"command\":\"probe\",\"all\":\"yes\"}", PROTOCOL_ERROR_BAD_REQUEST,
                      "\"all\" must be a boolean, got a string");
        request_fails("{\"v\":1,\"command\":\"credential-set\",\"link\":\"a\",\"username\":\"u\"}",
                      PROTOCOL_ERROR_BAD_REQUEST, "\"secret_size\" is missing");
        request_fails("{\"v\":1,\"command\":\"credential-set\",\"link\":\"a\",\"username\":\"u\",\"secret_size\":0}",
                      PROTOCOL_ERROR_BAD_REQUEST, "\"secret_size\" must be between 1 and 1024");
        request_fails("{\"v\":1,\"command\":\"credential-set\",\"link\":\"a\",\"username\":\"u\",\"secret_size\":\"3\"}",
                      PROTOCOL_ERROR_BAD_REQUEST, "must be an integer, got a string");
        request_fails("{\"v\":1,\"command\":\"credential-set\",\"link\":\"a\",\"username\":\"u\\n\",\"secret_size\":3}",
                      PROTOCOL_ERROR_BAD_REQUEST, "\"username\" must be a non-empty string without control");
        request_fails("{\"v\":1,\"command\":\"credential-set\",\"link\":\"a\",\"username\":\"\",\"secret_size\":3}",
                      PROTOCOL_ERROR_BAD_REQUEST, "\"username\"");
        request_fails("{\"v\":1,\"command\":\"credential-rotate\",\"link\":\"a\",\"username\":\"u\",\"secret_size\":1.5}",
                      PROTOCOL_ERROR_BAD_REQUEST, "got a number with a fraction");
        request_fails("{\"v\":1,\"command\":\"silence\",\"link\":\"a\",\"duration_seconds\":0}",
                      PROTOCOL_ERROR_BAD_REQUEST, "\"duration_seconds\" must be between 1");
        request_fails("{\"v\":1,\"command\":\"silence\",\"link\":\"a\",\"duration_seconds\":60,\"reason\":[]}",
                      PROTOCOL_ERROR_BAD_REQUEST, "\"reason\" must be a string, got an array");
        request_fails("{\"v\":1,\"command\":\"status\",\"secret_size\":10}", PROTOCOL_ERROR_BAD_REQUEST,
                      "status takes no secret");
        request_fails("{\"v\":1,\"command\":\"credential-import\",\"rows\":{}}", PROTOCOL_ERROR_BAD_REQUEST,
                      "\"rows\" must be an array, got an object");
        request_fails("{\"v\":1,\"command\":\"credential-import\",\"rows\":[{\"link\":\"a\",\"username\":\"u\","
                      "\"secret_size\":3}],\"secret_size\":4}",
                      PROTOCOL_ERROR_BAD_REQUEST, "add up to 3 bytes");
        request_fails("{\"v\":1,\"command\":\"credential-import\",\"rows\":[{\"link\":\"a\",\"username\":\"u\","
                      "\"secret_size\":3},{\"link\":\"a b\"}],\"secret_size\":4}",
                      PROTOCOL_ERROR_BAD_REQUEST, "row 2: \"link\" must be a valid link name");
        request_fails("{\"v\":1,\"command\":\"credential-import\",\"rows\":[1],\"secret_size\":0}",
                      PROTOCOL_ERROR_BAD_REQUEST, "row 1 must be an object, got an integer");

        /* an unknown command is quoted safely and shortened */
        char big[400];
        snprintf(big, sizeof big, "{\"v\":1,\"command\":\"%0200d\\u001b[31m\"}", 0);
        request_fails(big, PROTOCOL_ERROR_UNKNOWN_COMMAND, "...");

        /* shortened before a character, not inside one: the error reply
         * must stay valid UTF-8, or tomslinkctl cannot read it */
        snprintf(big, sizeof big, "{\"v\":1,\"command\":\"%063d\xc3\xa9\"}", 0);
        _cleanup_json_ json_object *o = parse_ok(big);
        ProtocolFailure f = PROTOCOL_FAILURE_NULL, g = PROTOCOL_FAILURE_NULL;
        ProtocolMessage m = {};
        ProtocolReplyReader rr = PROTOCOL_REPLY_READER_NULL;
        ck_assert_int_eq(protocol_request_from_json(o, &req, &f), -EOPNOTSUPP);
        ck_assert_int_eq(req.command, _PROTOCOL_COMMAND_INVALID);
        ck_assert_ptr_nonnull(strstr(f.message, "0\"..."));
        ck_assert_int_eq(protocol_error_encode(&f, 0, &m), 0);
        ck_assert_int_eq(protocol_reply_reader_feed(&rr, m.data, m.size, &g), -EREMOTEIO);
        ck_assert_str_eq(g.message, f.message);
        free(m.data);
        protocol_failure_done(&g);
        protocol_reply_reader_done(&rr);
}
END_TEST

START_TEST(test_secret) {
        ProtocolRequest req = PROTOCOL_REQUEST_NULL;
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        _cleanup_json_ json_object *o = parse_ok(
                "{\"v\":1,\"command\":\"credential-rotate\",\"link\":\"a\",\"username\":\"u\",\"secret_size\":5}");
        ck_assert_uint_eq(protocol_request_announced_secret(o), 5);
        request_parses("{\"v\":1,\"command\":\"credential-rotate\",\"link\":\"a\",\"username\":\"u\",\"secret_size\":5}",
                       &req);
        ck_assert_int_eq(protocol_request_set_secret(&req, "abcd", 4, &f), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(f.message, "5 were announced"));
        ck_assert_int_eq(protocol_request_set_secret(&req, "ab\0de", 5, &f), 0);
        ck_assert_int_eq(memcmp(req.secret, "ab\0de", 6), 0);
        protocol_request_done(&req);

        /* the announcement is found even in a request that is otherwise refused */
        _cleanup_json_ json_object *bad = parse_ok("{\"v\":1,\"command\":\"nope\",\"secret_size\":12}");
        ck_assert_uint_eq(protocol_request_announced_secret(bad), 12);
        _cleanup_json_ json_object *none = parse_ok("{\"v\":1,\"command\":\"x\",\"secret_size\":\"12\"}");
        ck_assert_uint_eq(protocol_request_announced_secret(none), 0);
        _cleanup_json_ json_object *huge = parse_ok("{\"v\":1,\"command\":\"x\",\"secret_size\":100000000}");
        ck_assert_uint_eq(protocol_request_announced_secret(huge), 0);
}
END_TEST

static void make_rows(size_t n, ProtocolImportRow **ret) {
        ProtocolImportRow *rows = calloc(n, sizeof(ProtocolImportRow));
        ck_assert_ptr_nonnull(rows);
        for (size_t i = 0; i < n; i++) {
                char buf[128];
                snprintf(buf, sizeof buf, "link-%05zu", i);
                rows[i].link = strdup(buf);
                snprintf(buf, sizeof buf, "vendor-%zu@example.org", i);
                rows[i].username = strdup(buf);
                if (i % 3)
                        rows[i].generated = strdup("2026-07-01T09:30:00-07:00");
                snprintf(buf, sizeof buf, "SECRET-%zu-%0*zu", i, (int) (i % 50), i);
                rows[i].secret = strdup(buf);
                rows[i].secret_size = strlen(buf);
                rows[i].line = (unsigned) i + 2;
        }
        *ret = rows;
}

START_TEST(test_import_chunks) {
        const size_t n = 10000;
        ProtocolImportRow *rows;
        make_rows(n, &rows);

        ProtocolRequest acc = PROTOCOL_REQUEST_NULL;
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        size_t pos = 0, chunks = 0, rows_seen = 0;
        bool saw_last = false;
        ProtocolImportChunk c;
        int r;
        while ((r = protocol_import_chunk_next(rows, n, &pos, 0, &c)) > 0) {
                check_loop(!saw_last, "chunk after the last");
                check_loop(c.json_size <= PROTOCOL_MESSAGE_MAX && c.secrets_size <= PROTOCOL_MESSAGE_MAX,
                           "chunk too large");
                /* no secret inside the JSON */
                check_loop(!memmem(c.json, c.json_size, "SECRET-", 7), "a secret in the JSON");
                json_object *o = NULL;
                check_loop(protocol_message_parse(c.json, c.json_size, &o, &f) == 0, "%s", f.message);
                check_loop(protocol_request_announced_secret(o) == c.secrets_size, "announced size");
                ProtocolRequest chunk = PROTOCOL_REQUEST_NULL;
                check_loop(protocol_request_from_json(o, &chunk, &f) == 0, "%s", f.message);
                json_object_put(o);
                check_loop(chunk.more == !c.last, "more flag");
                check_loop(protocol_request_set_secret(&chunk, c.secrets, c.secrets_size, &f) == 0, "%s", f.message);
                if (chunks == 0) {
                        acc = chunk;
                        chunk = PROTOCOL_REQUEST_NULL;
                } else
                        check_loop(protocol_request_append_rows(&acc, &chunk, &f) == 0, "%s", f.message);
                rows_seen += c.n_rows;
                saw_last = c.last;
                protocol_request_done(&chunk);
                protocol_import_chunk_done(&c);
                chunks++;
        }
        ck_assert_int_eq(r, 0);
        ck_assert(saw_last);
        ck_assert_uint_eq(rows_seen, n);
        ck_assert_uint_gt(chunks, 10);   /* 10,000 rows do not fit in one message */
        ck_assert_uint_eq(acc.n_rows, n);
        for (size_t i = 0; i < n; i++) {
                check_loop(streq(acc.rows[i].link, rows[i].link), "link %zu", i);
                check_loop(streq(acc.rows[i].username, rows[i].username), "username %zu", i);
                check_loop(acc.rows[i].secret_size == rows[i].secret_size &&
                                   memcmp(acc.rows[i].secret, rows[i].secret, rows[i].secret_size) == 0,
                           "secret %zu", i);
                check_loop((acc.rows[i].generated == NULL) == (rows[i].generated == NULL), "generated %zu", i);
                check_loop(acc.rows[i].line == rows[i].line, "line %zu", i);
        }
        protocol_request_done(&acc);

        /* a row that cannot fit at all */
        pos = 0;
        ck_assert_int_eq(protocol_import_chunk_next(rows, n, &pos, 150, &c), -EMSGSIZE);
        ck_assert_uint_eq(pos, 0);
        /* small chunks still carry everything */
        pos = 0;
        size_t small = 0;
        while ((r = protocol_import_chunk_next(rows, 5, &pos, 300, &c)) > 0) {
                ck_assert_uint_le(c.json_size, 300);
                ck_assert_uint_ge(c.n_rows, 1);
                small += c.n_rows;
                protocol_import_chunk_done(&c);
        }
        ck_assert_uint_eq(small, 5);
        protocol_import_rows_free(rows, n);

        /* too many rows in one stream */
        ProtocolRequest big = PROTOCOL_REQUEST_NULL, more = PROTOCOL_REQUEST_NULL;
        big.n_rows = PROTOCOL_IMPORT_ROWS_MAX;
        more.n_rows = 1;
        ck_assert_int_eq(protocol_request_append_rows(&big, &more, &f), -E2BIG);
}
END_TEST

static ProbeResult sample_probe(void) {
        ProbeResult p = {
                .klass = PROBE_OK,
                .http_status = 200,
                .time = 1782900000 * USEC_PER_SEC,
                .dns = 1234,
                .connect = 5678,
                .tls = 45001,
                .first_byte = 120000,
                .total = 143250,
                .cert_not_after = 1790000000 * USEC_PER_SEC,
        };
        strcpy(p.cert_subject, "CN=toms.example");
        strcpy(p.cert_sha256, "ab12");
        return p;
}

static void assert_probe_eq(const ProbeResult *a, const ProbeResult *b) {
        ck_assert_int_eq(a->klass, b->klass);
        ck_assert_int_eq(a->http_status, b->http_status);
        ck_assert_str_eq(a->error, b->error);
        ck_assert_uint_eq(a->time, b->time);
        ck_assert_uint_eq(a->dns, b->dns);
        ck_assert_uint_eq(a->connect, b->connect);
        ck_assert_uint_eq(a->tls, b->tls);
        ck_assert_uint_eq(a->first_byte, b->first_byte);
        ck_assert_uint_eq(a->total, b->total);
        ck_assert_uint_eq(a->cert_not_after, b->cert_not_after);
        ck_assert_str_eq(a->cert_subject, b->cert_subject);
        ck_assert_str_eq(a->cert_sha256, b->cert_sha256);
}

START_TEST(test_probe_result) {
        _cleanup_(tz_freep) Tz *tz = la();
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        ProbeResult p = sample_probe(), back;
        json_object *o;

        ck_assert_int_eq(protocol_probe_result_to_json(&p, tz, &o), 0);
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        ck_assert_ptr_nonnull(strstr(s, "\"class\":\"ok\""));
        ck_assert_ptr_nonnull(strstr(s, "\"http_status\":200"));
        ck_assert_ptr_nonnull(strstr(s, "\"error\":null"));
        ck_assert_ptr_nonnull(strstr(s, "\"times_ms\":{\"dns\":1.234,\"connect\":5.678,\"tls\":45.001,"
                                        "\"first_byte\":120.000,\"total\":143.250}"));
        ck_assert_ptr_nonnull(strstr(s, "\"time\":\"2026-07-01T03:00:00-07:00\""));
        ck_assert_int_eq(protocol_probe_result_from_json(o, &back, &f), 0);
        assert_probe_eq(&p, &back);
        json_object_put(o);

        /* a failure: no HTTP status, phases not reached */
        p = (ProbeResult) { .klass = PROBE_TIMEOUT, .time = 1782900000 * USEC_PER_SEC, .dns = 1000,
                            .connect = USEC_INFINITY, .tls = USEC_INFINITY, .first_byte = USEC_INFINITY,
                            .total = 20 * USEC_PER_SEC };
        strcpy(p.error, "Connection timed out after 20001 milliseconds");
        ck_assert_int_eq(protocol_probe_result_to_json(&p, tz, &o), 0);
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        ck_assert_ptr_nonnull(strstr(s, "\"http_status\":null"));
        ck_assert_ptr_nonnull(strstr(s, "\"connect\":null"));
        ck_assert_ptr_nonnull(strstr(s, "\"total\":20000.000"));
        ck_assert_ptr_nonnull(strstr(s, "\"cert_not_after\":null"));
        ck_assert_int_eq(protocol_probe_result_from_json(o, &back, &f), 0);
        assert_probe_eq(&p, &back);
        json_object_put(o);

        /* wrong types are named */
        o = parse_ok("{\"class\":\"ok\",\"http_status\":\"200\"}");
        ck_assert_int_eq(protocol_probe_result_from_json(o, &back, &f), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(f.message, "\"http_status\" must be an integer, got a string"));
        json_object_put(o);
        o = parse_ok("{\"class\":\"fine\"}");
        ck_assert_int_eq(protocol_probe_result_from_json(o, &back, &f), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(f.message, "unknown probe class"));
        json_object_put(o);
        o = parse_ok("{\"class\":\"ok\",\"times_ms\":{\"dns\":\"1\"}}");
        ck_assert_int_eq(protocol_probe_result_from_json(o, &back, &f), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(f.message, "times_ms.dns"));
        json_object_put(o);
        o = parse_ok("{\"class\":\"ok\",\"time\":\"2026-07-01\"}");
        ck_assert_int_eq(protocol_probe_result_from_json(o, &back, &f), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(f.message, "with an offset"));
        json_object_put(o);
        /* integers are accepted for times, unknown fields ignored */
        o = parse_ok("{\"class\":\"dns\",\"times_ms\":{\"dns\":3},\"new_field\":{}}");
        ck_assert_int_eq(protocol_probe_result_from_json(o, &back, &f), 0);
        ck_assert_uint_eq(back.dns, 3000);
        ck_assert_uint_eq(back.total, USEC_INFINITY);
        json_object_put(o);
}
END_TEST

static ProtocolLinkStatus sample_link(size_t i) {
        char buf[64];
        ProtocolLinkStatus s = PROTOCOL_LINK_STATUS_NULL;
        snprintf(buf, sizeof buf, "link-%05zu", i);
        s.name = strdup(buf);
        s.state = strdup(i % 7 == 0 ? "expiring" : "ok");
        if (i % 7 == 0)
                ck_assert_int_eq(strv_extend(&s.problems, "expiring"), 0);
        s.expires = (1800000000 + i * 60) * USEC_PER_SEC;
        s.days_left = (int64_t) (i % 400) - 20;
        s.lifetime = 365 * USEC_PER_DAY;
        s.username = strdup("vendor@example.org");
        s.generated = (1768464000 + i * 60) * USEC_PER_SEC;
        s.generation = i + 1;
        s.fingerprint = strdup("0123456789abcdef");
        ck_assert_int_eq(strv_extend(&s.consumers, "student information system"), 0);
        ck_assert_int_eq(strv_extend(&s.consumers, "parent portal"), 0);
        s.failures = (unsigned) (i % 3);
        s.next_probe = 1782900900 * USEC_PER_SEC;
        s.url = strdup("https://toms.example/api/ping");
        s.has_last_probe = i % 2 == 0;
        s.last_probe = sample_probe();
        return s;
}

START_TEST(test_link_status) {
        _cleanup_(tz_freep) Tz *tz = la();
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        ProtocolLinkStatus s = sample_link(14), back;
        s.silenced_until = 1782910000 * USEC_PER_SEC;
        s.silence_reason = strdup("vendor upgrade");
        s.maintenance = strdup("TOMS yearly rollover");
        s.cds_code = strdup("19647330000000");
        json_object *o;

        ck_assert_int_eq(protocol_link_status_to_json(&s, tz, &o), 0);
        ck_assert_int_eq(protocol_link_status_from_json(o, &back, &f), 0);
        ck_assert_str_eq(back.name, s.name);
        ck_assert_str_eq(back.state, "expiring");
        ck_assert_str_eq(back.problems[0], "expiring");
        ck_assert_uint_eq(back.expires, s.expires);
        ck_assert_int_eq(back.days_left, s.days_left);
        ck_assert_uint_eq(back.lifetime, s.lifetime);
        ck_assert_str_eq(back.username, s.username);
        ck_assert_uint_eq(back.generated, s.generated);
        ck_assert_uint_eq(back.generation, 15);
        ck_assert_str_eq(back.fingerprint, s.fingerprint);
        ck_assert_uint_eq(strv_length(back.consumers), 2);
        ck_assert_str_eq(back.consumers[1], "parent portal");
        ck_assert_uint_eq(back.silenced_until, s.silenced_until);
        ck_assert_str_eq(back.silence_reason, "vendor upgrade");
        ck_assert_str_eq(back.maintenance, "TOMS yearly rollover");
        ck_assert_uint_eq(back.failures, 2);
        ck_assert_uint_eq(back.next_probe, s.next_probe);
        ck_assert_str_eq(back.url, s.url);
        ck_assert_str_eq(back.cds_code, "19647330000000");
        ck_assert(back.has_last_probe);
        assert_probe_eq(&back.last_probe, &s.last_probe);
        protocol_link_status_done(&back);
        json_object_put(o);
        protocol_link_status_done(&s);

        /* a link without credential nor probe: the SPEC's nulls */
        s = PROTOCOL_LINK_STATUS_NULL;
        s.name = strdup("new-school");
        s.state = strdup("unconfigured");
        ck_assert_int_eq(protocol_link_status_to_json(&s, tz, &o), 0);
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        ck_assert_ptr_nonnull(strstr(text, "\"name\":\"new-school\""));
        ck_assert_ptr_nonnull(strstr(text, "\"problems\":[]"));
        ck_assert_ptr_nonnull(strstr(text, "\"expires\":null"));
        ck_assert_ptr_nonnull(strstr(text, "\"days_left\":null"));
        ck_assert_ptr_nonnull(strstr(text, "\"last_probe\":null"));
        ck_assert_ptr_nonnull(strstr(text, "\"consumers\":[]"));
        ck_assert_int_eq(protocol_link_status_from_json(o, &back, &f), 0);
        ck_assert_int_eq(back.days_left, PROTOCOL_DAYS_LEFT_NULL);
        ck_assert(!back.has_last_probe);
        ck_assert_uint_eq(back.expires, 0);
        protocol_link_status_done(&back);
        json_object_put(o);
        protocol_link_status_done(&s);

        /* wrong types */
        static const struct {
                const char *json;
                const char *want;
        } bad[] = {
                { "{\"state\":\"ok\"}", "\"name\" is missing" },
                { "{\"name\":\"a\",\"state\":null}", "\"state\" must not be null" },
                { "{\"name\":\"a\",\"state\":\"ok\",\"days_left\":\"3\"}", "\"days_left\" must be an integer, got a string" },
                { "{\"name\":\"a\",\"state\":\"ok\",\"problems\":\"down\"}", "\"problems\" must be an array of strings" },
                { "{\"name\":\"a\",\"state\":\"ok\",\"problems\":[1]}", "item 0 is an integer" },
                { "{\"name\":\"a\",\"state\":\"ok\",\"expires\":12}", "\"expires\" must be a timestamp string" },
                { "{\"name\":\"a\",\"state\":\"ok\",\"failures\":-1}", "\"failures\" is out of range" },
                { "{\"name\":\"a\",\"state\":\"ok\",\"last_probe\":[]}", "\"last_probe\" must be an object" },
                { "{\"name\":\"a\",\"state\":\"ok\",\"last_probe\":{\"class\":1}}", "\"class\" must be a string" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                o = parse_ok(bad[i].json);
                ck_assert_int_eq(protocol_link_status_from_json(o, &back, &f), -EBADMSG);
                ck_assert_msg(strstr(f.message, bad[i].want), "%s: %s", bad[i].json, f.message);
                json_object_put(o);
        }
}
END_TEST

START_TEST(test_records) {
        _cleanup_(tz_freep) Tz *tz = la();
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        json_object *o;

        RotationRecord rr = { .when = 1782900000 * USEC_PER_SEC, .uid = 0, .new_username = (char *) "new",
                              .generated = 1782800000 * USEC_PER_SEC, .generation = 4 }, rb;
        strcpy(rr.fingerprint, "fedcba9876543210");
        ck_assert_int_eq(protocol_rotation_to_json(&rr, tz, &o), 0);
        ck_assert_ptr_nonnull(strstr(json_object_to_json_string(o), "\"old_username\": null"));
        ck_assert_int_eq(protocol_rotation_from_json(o, &rb, &f), 0);
        ck_assert_uint_eq(rb.when, rr.when);
        ck_assert_ptr_null(rb.old_username);
        ck_assert_str_eq(rb.new_username, "new");
        ck_assert_uint_eq(rb.generation, 4);
        ck_assert_str_eq(rb.fingerprint, rr.fingerprint);
        protocol_rotation_done(&rb);
        json_object_put(o);

        Problem p = { .link = (char *) "district", .kind = ALERT_LINK_DOWN, .since = 1782900000 * USEC_PER_SEC,
                      .failures = 5, .last_class = PROBE_CONNECT, .last_error = (char *) "refused" }, pb;
        ck_assert_int_eq(protocol_problem_to_json(&p, tz, &o), 0);
        ck_assert_ptr_nonnull(strstr(json_object_to_json_string(o), "\"kind\": \"link-down\""));
        ck_assert_int_eq(protocol_problem_from_json(o, &pb, &f), 0);
        ck_assert_int_eq(pb.kind, ALERT_LINK_DOWN);
        ck_assert_int_eq(pb.last_class, PROBE_CONNECT);
        ck_assert_int_eq(pb.last_http_status, 0);
        ck_assert_uint_eq(pb.notified, 0);
        ck_assert_str_eq(pb.last_error, "refused");
        protocol_problem_done(&pb);
        json_object_put(o);
        o = parse_ok("{\"link\":\"a\",\"kind\":\"meteor-strike\"}");
        ck_assert_int_eq(protocol_problem_from_json(o, &pb, &f), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(f.message, "\"kind\": unknown value"));
        json_object_put(o);
        /* the value from the peer is shown escaped: tomslinkctl prints the message */
        o = parse_ok("{\"link\":\"a\",\"kind\":\"x\\u001b[2J\\n\"}");
        ck_assert_int_eq(protocol_problem_from_json(o, &pb, &f), -EBADMSG);
        ck_assert_str_eq(f.message, "\"kind\": unknown value \"x\\x1b[2J\\x0a\"");
        json_object_put(o);

        Silence si = { .link = (char *) "a", .until = 1782900000 * USEC_PER_SEC, .uid = 1000 }, sb;
        ck_assert_int_eq(protocol_silence_to_json(&si, tz, &o), 0);
        ck_assert_int_eq(protocol_silence_from_json(o, &sb, &f), 0);
        ck_assert_uint_eq(sb.until, si.until);
        ck_assert_uint_eq(sb.uid, 1000);
        ck_assert_ptr_null(sb.reason);
        protocol_silence_done(&sb);
        json_object_put(o);

        AlertLogEntry e = { .id = 77, .time = 1782900000 * USEC_PER_SEC, .link = (char *) "a",
                            .kind = ALERT_CREDENTIAL_EXPIRING, .priority = 4, .held = true,
                            .summary = (char *) "a: SIS credential expires in 7 days (2027-03-01)" }, eb;
        ck_assert_int_eq(protocol_alert_entry_to_json(&e, tz, &o), 0);
        ck_assert_int_eq(protocol_alert_entry_from_json(o, &eb, &f), 0);
        ck_assert_int_eq(eb.id, 77);
        ck_assert(eb.held);
        ck_assert_int_eq(eb.priority, 4);
        ck_assert_str_eq(eb.summary, e.summary);
        protocol_alert_entry_done(&eb);
        json_object_put(o);
        o = parse_ok("{\"time\":\"2026-07-01T00:00:00Z\",\"kind\":\"link-down\",\"held\":1}");
        ck_assert_int_eq(protocol_alert_entry_from_json(o, &eb, &f), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(f.message, "\"held\" must be a boolean"));
        json_object_put(o);
}
END_TEST

static json_object *status_data(const Tz *tz, size_t n) {
        json_object *data, *links = json_object_new_array();
        ck_assert_int_eq(protocol_data_new(tz, 1782900000 * USEC_PER_SEC, &data), 0);
        for (size_t i = 0; i < n; i++) {
                ProtocolLinkStatus s = sample_link(i);
                json_object *o;
                ck_assert_int_eq(protocol_link_status_to_json(&s, tz, &o), 0);
                json_object_array_add(links, o);
                protocol_link_status_done(&s);
        }
        json_object_object_add(data, "links", links);
        json_object_object_add(data, "after", json_object_new_string("fields after the array stay"));
        return data;
}

START_TEST(test_reply_stream) {
        _cleanup_(tz_freep) Tz *tz = la();
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        ProtocolMessage *m;
        size_t n;

        /* small: one message */
        _cleanup_json_ json_object *small = status_data(tz, 3);
        ck_assert_int_eq(protocol_reply_encode(small, 0, &m, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_ptr_null(strstr(m[0].data, "\"more\""));
        ProtocolReplyReader rd = PROTOCOL_REPLY_READER_NULL;
        ck_assert_int_eq(protocol_reply_reader_feed(&rd, m[0].data, m[0].size, &f), 1);
        ck_assert(json_object_equal(rd.data, small));
        ck_assert_int_eq(protocol_reply_reader_feed(&rd, m[0].data, m[0].size, &f), -EBADMSG);
        protocol_reply_reader_done(&rd);
        protocol_messages_free(m, n);

        /* 10,000 links: a stream of messages within the limit */
        _cleanup_json_ json_object *big = status_data(tz, 10000);
        ck_assert_int_eq(protocol_reply_encode(big, 0, &m, &n), 0);
        ck_assert_uint_gt(n, 20);
        for (size_t i = 0; i < n; i++) {
                check_loop(m[i].size <= PROTOCOL_MESSAGE_MAX, "message %zu: %zu bytes", i, m[i].size);
                check_loop(m[i].size == strlen(m[i].data), "message %zu size", i);
                json_object *o = NULL;
                check_loop(protocol_message_parse(m[i].data, m[i].size, &o, &f) == 0, "message %zu: %s", i,
                           f.message);
                json_object *more = NULL;
                bool has_more = json_object_object_get_ex(o, "more", &more) && json_object_get_boolean(more);
                check_loop(has_more == (i < n - 1), "message %zu: more", i);
                json_object_put(o);
                int r = protocol_reply_reader_feed(&rd, m[i].data, m[i].size, &f);
                check_loop(r == (i < n - 1 ? 0 : 1), "feed %zu: %d %s", i, r, f.message);
        }
        _cleanup_json_ json_object *got = protocol_reply_reader_steal(&rd);
        ck_assert(json_object_equal(got, big));
        json_object *links;
        ck_assert(json_object_object_get_ex(got, "links", &links));
        ck_assert_uint_eq(json_object_array_length(links), 10000);
        protocol_reply_reader_done(&rd);
        protocol_messages_free(m, n);

        /* a smaller limit gives more, smaller messages with the same content */
        ck_assert_int_eq(protocol_reply_encode(small, 1500, &m, &n), 0);
        ck_assert_uint_ge(n, 3);
        for (size_t i = 0; i < n; i++) {
                ck_assert_uint_le(m[i].size, 1500);
                ck_assert_int_eq(protocol_reply_reader_feed(&rd, m[i].data, m[i].size, &f), i < n - 1 ? 0 : 1);
        }
        ck_assert(json_object_equal(rd.data, small));
        protocol_reply_reader_done(&rd);
        protocol_messages_free(m, n);

        /* an element that can never fit */
        ck_assert_int_eq(protocol_reply_encode(small, 300, &m, &n), -EMSGSIZE);
        /* empty data */
        ck_assert_int_eq(protocol_reply_encode(NULL, 0, &m, &n), 0);
        ck_assert_str_eq(m[0].data, "{\"v\":1,\"ok\":true,\"data\":{}}");
        protocol_messages_free(m, n);
}
END_TEST

/* The same reply, encoded as its elements come, reads back the same. */
static void check_incremental(const Tz *tz, size_t n_links, size_t max, size_t *ret_messages) {
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        ProtocolReplyReader rd = PROTOCOL_REPLY_READER_NULL;
        _cleanup_json_ json_object *want = status_data(tz, n_links);
        ProtocolReplyStream *s = NULL;
        json_object *fields = NULL, *links;
        ProtocolMessage *all = NULL, *m = NULL;
        size_t n_all = 0, n = 0;

        /* the fields: everything but the array */
        ck_assert_int_eq(protocol_data_new(tz, 1782900000 * USEC_PER_SEC, &fields), 0);
        json_object_object_add(fields, "after", json_object_new_string("fields after the array stay"));
        ck_assert_int_eq(protocol_reply_stream_new(fields, "links", max, &s), 0);
        ck_assert(json_object_object_get_ex(want, "links", &links));
        for (size_t i = 0; i < n_links; i++) {
                int r = protocol_reply_stream_add(s, json_object_get(json_object_array_get_idx(links, i)), &m, &n);
                check_loop(r >= 0, "add %zu: %d", i, r);
                if (r > 0) {
                        all = reallocarray(all, n_all + n, sizeof(ProtocolMessage));
                        memcpy(all + n_all, m, n * sizeof(ProtocolMessage));
                        n_all += n;
                        free(m);
                }
        }
        ck_assert_int_eq(protocol_reply_stream_finish(s, &m, &n), 0);
        ck_assert_uint_ge(n, 1);
        all = reallocarray(all, n_all + n, sizeof(ProtocolMessage));
        memcpy(all + n_all, m, n * sizeof(ProtocolMessage));
        n_all += n;
        free(m);
        protocol_reply_stream_free(s);

        for (size_t i = 0; i < n_all; i++) {
                check_loop(all[i].size <= (max ?: PROTOCOL_MESSAGE_MAX), "message %zu: %zu bytes", i, all[i].size);
                check_loop(all[i].size == strlen(all[i].data), "message %zu size", i);
                int r = protocol_reply_reader_feed(&rd, all[i].data, all[i].size, &f);
                check_loop(r == (i < n_all - 1 ? 0 : 1), "feed %zu of %zu: %d %s", i, n_all, r, f.message);
        }
        ck_assert_msg(json_object_equal(rd.data, want), "%s", json_object_to_json_string(rd.data));
        protocol_reply_reader_done(&rd);
        /* one message when it fits, as protocol_reply_encode() does */
        ProtocolMessage *whole = NULL;
        size_t n_whole = 0;
        ck_assert_int_eq(protocol_reply_encode(want, max, &whole, &n_whole), 0);
        ck_assert_uint_eq(n_all == 1, n_whole == 1);
        protocol_messages_free(whole, n_whole);
        protocol_messages_free(all, n_all);
        *ret_messages = n_all;
}

START_TEST(test_reply_stream_incremental) {
        _cleanup_(tz_freep) Tz *tz = la();
        size_t n;

        check_incremental(tz, 0, 0, &n);
        ck_assert_uint_eq(n, 1);
        check_incremental(tz, 3, 0, &n);
        ck_assert_uint_eq(n, 1);
        check_incremental(tz, 3, 1500, &n);
        ck_assert_uint_ge(n, 3);
        check_incremental(tz, 10000, 0, &n);
        ck_assert_uint_gt(n, 20);

        /* an element that can never fit */
        ProtocolReplyStream *s = NULL;
        ProtocolMessage *m = NULL;
        ck_assert_int_eq(protocol_reply_stream_new(NULL, "links", 300, &s), 0);
        json_object *big = json_object_new_string_len("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 290);
        ck_assert_int_eq(protocol_reply_stream_add(s, big, &m, &n), -EMSGSIZE);
        protocol_reply_stream_free(s);
        /* fields that are not an object */
        ck_assert_int_eq(protocol_reply_stream_new(json_object_new_int(1), "links", 0, &s), -EINVAL);
}
END_TEST

START_TEST(test_error_reply) {
        ProtocolFailure f = PROTOCOL_FAILURE_NULL, got = PROTOCOL_FAILURE_NULL;
        ProtocolMessage m;
        ProtocolReplyReader rd = PROTOCOL_REPLY_READER_NULL;

        ck_assert_int_eq(protocol_fail(&f, PROTOCOL_ERROR_NOT_FOUND, -ENOENT, "no link named \"%s\"", "x"), -ENOENT);
        ck_assert_int_eq(protocol_error_encode(&f, 0, &m), 0);
        ck_assert_str_eq(m.data, "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"not-found\",\"message\":\"no link named \\\"x\\\"\"}}");
        ck_assert_int_eq(protocol_reply_reader_feed(&rd, m.data, m.size, &got), -EREMOTEIO);
        ck_assert_int_eq(got.code, PROTOCOL_ERROR_NOT_FOUND);
        ck_assert_str_eq(got.message, "no link named \"x\"");
        ck_assert_ptr_null(got.details);
        free(m.data);
        protocol_reply_reader_done(&rd);

        /* details, shortened to fit */
        for (int i = 0; i < 5000; i++) {
                char buf[80];
                snprintf(buf, sizeof buf, "import.csv:%d: link \"l%d\" is not configured", i + 2, i);
                ck_assert_int_eq(strv_extend(&f.details, buf), 0);
        }
        f.code = PROTOCOL_ERROR_INVALID;
        ck_assert_int_eq(protocol_error_encode(&f, 0, &m), 0);
        ck_assert_uint_le(m.size, PROTOCOL_MESSAGE_MAX);
        ck_assert_int_eq(protocol_reply_reader_feed(&rd, m.data, m.size, &got), -EREMOTEIO);
        ck_assert_int_eq(got.code, PROTOCOL_ERROR_INVALID);
        ck_assert_uint_gt(strv_length(got.details), 100);
        ck_assert_str_eq(got.details[0], "import.csv:2: link \"l0\" is not configured");
        free(m.data);
        protocol_reply_reader_done(&rd);
        protocol_failure_done(&got);
        protocol_failure_done(&f);

        /* an error in the middle of a stream ends it */
        const char *first = "{\"v\":1,\"ok\":true,\"more\":true,\"data\":{\"links\":[]}}";
        const char *err = "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"from-the-future\",\"message\":\"m\",\"details\":[1,\"d\"]}}";
        ck_assert_int_eq(protocol_reply_reader_feed(&rd, first, strlen(first), &got), 0);
        ck_assert_int_eq(protocol_reply_reader_feed(&rd, err, strlen(err), &got), -EREMOTEIO);
        ck_assert_int_eq(got.code, PROTOCOL_ERROR_INTERNAL);   /* unknown codes map to internal */
        ck_assert_uint_eq(strv_length(got.details), 1);
        protocol_failure_done(&got);
        protocol_reply_reader_done(&rd);

        /* a message longer than a failure holds is cut before a character,
         * on either side, so that it stays valid UTF-8 */
        StrBuf long_msg = STRBUF_NULL;
        strbuf_puts(&long_msg, "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"failed\",\"message\":\"xy");
        for (int i = 0; i < 400; i++)
                strbuf_puts(&long_msg, "\xc3\xa9");
        strbuf_puts(&long_msg, "\"}}");
        ck_assert_int_eq(protocol_reply_reader_feed(&rd, long_msg.data, long_msg.len, &got), -EREMOTEIO);
        ck_assert_uint_eq(strlen(got.message), PROTOCOL_FAILURE_MESSAGE_MAX - 2);
        ck_assert(utf8_is_valid(got.message, strlen(got.message)));
        protocol_failure_done(&got);
        protocol_reply_reader_done(&rd);
        strbuf_done(&long_msg);
        ck_assert_int_eq(protocol_fail(&f, PROTOCOL_ERROR_FAILED, -EIO, "x%0600d\xc3\xa9", 0), -EIO);
        ck_assert_uint_eq(strlen(f.message), PROTOCOL_FAILURE_MESSAGE_MAX - 1);
        ck_assert_int_eq(protocol_fail(&f, PROTOCOL_ERROR_FAILED, -EIO, "x%0509d\xc3\xa9", 0), -EIO);
        ck_assert_uint_eq(strlen(f.message), PROTOCOL_FAILURE_MESSAGE_MAX - 2);
        ck_assert(utf8_is_valid(f.message, strlen(f.message)));

        /* malformed replies */
        static const char *const bad[] = {
                "{\"ok\":true}",
                "{\"v\":1}",
                "{\"v\":1,\"ok\":\"yes\"}",
                "{\"v\":1,\"ok\":true,\"data\":[]}",
                "{\"v\":1,\"ok\":true,\"more\":1}",
                "{\"v\":1,\"ok\":false}",
                "{\"v\":1,\"ok\":false,\"error\":{\"message\":\"no code\"}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_msg(protocol_reply_reader_feed(&rd, bad[i], strlen(bad[i]), &got) == -EBADMSG, "%s", bad[i]);
                protocol_reply_reader_done(&rd);
        }
        ck_assert_int_eq(protocol_reply_reader_feed(&rd, "{\"v\":9,\"ok\":true}", 17, &got), -EPROTONOSUPPORT);
        protocol_reply_reader_done(&rd);
}
END_TEST

START_TEST(test_socket_messages) {
        int fds[2];
        char *buf = NULL;
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_eq(protocol_socket_setup(fds[0]), 0);
        ck_assert_int_eq(protocol_socket_setup(fds[1]), 0);

        ck_assert_int_eq(protocol_send(fds[0], "{\"v\":1}", 7), 0);
        ck_assert_int_eq(protocol_recv(fds[1], 100, &buf), 7);
        ck_assert_str_eq(buf, "{\"v\":1}");
        buf = mfree(buf);

        /* larger than the receiver allows: consumed and refused, the next one is fine */
        char *big = malloc(PROTOCOL_MESSAGE_MAX);
        memset(big, 'x', PROTOCOL_MESSAGE_MAX);
        ck_assert_int_eq(protocol_send(fds[0], big, PROTOCOL_MESSAGE_MAX), 0);
        ck_assert_int_eq(protocol_send(fds[0], big, PROTOCOL_MESSAGE_MAX + 1), -EMSGSIZE);
        ck_assert_int_eq(protocol_send(fds[0], big, 0), -EMSGSIZE);
        ck_assert_int_eq(protocol_send(fds[0], "ok", 2), 0);
        ck_assert_int_eq(protocol_recv(fds[1], 1000, &buf), -EMSGSIZE);
        ck_assert_int_eq(protocol_recv(fds[1], 1000, &buf), 2);
        ck_assert_str_eq(buf, "ok");
        buf = mfree(buf);
        /* the full size passes */
        ck_assert_int_eq(protocol_send(fds[0], big, PROTOCOL_MESSAGE_MAX), 0);
        ck_assert_int_eq(protocol_recv(fds[1], PROTOCOL_MESSAGE_MAX, &buf), PROTOCOL_MESSAGE_MAX);
        buf = mfree(buf);
        free(big);

        /* nothing waiting on a non-blocking socket */
        ck_assert_int_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
        ck_assert_int_eq(protocol_recv(fds[1], 100, &buf), -EAGAIN);
        /* the end of the stream */
        close(fds[0]);
        ck_assert_int_eq(protocol_recv(fds[1], 100, &buf), 0);
        ck_assert_int_eq(protocol_send(fds[1], "x", 1), -EPIPE);
        close(fds[1]);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("protocol");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_command_table, test_message_parse, test_version, test_request_roundtrip,
                  test_request_unknown_fields_and_types, test_secret, test_import_chunks, test_probe_result,
                  test_link_status, test_records, test_reply_stream, test_reply_stream_incremental, test_error_reply,
                  test_socket_messages);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
