/* SPDX-License-Identifier: GPL-2.0-or-later */

/* The daemon's side of the control protocol: what any local client can
 * send. Input: one byte that sets the chunk size for re-encoding imports,
 * then the messages of a connection separated by NUL bytes (a JSON message
 * never holds one); a request that announces a secret takes the next
 * message as the secret, as the control server does.
 *
 * Invariants: a refused message gives a failure whose code matches the
 * errno, and which, encoded as the daemon's error reply, tomslinkctl reads
 * back as the same error; a decoded request holds only what its command
 * takes, within the documented limits, and encodes and decodes to the same
 * request; a secret is accepted exactly when its size is the announced
 * one; a whole import stream, encoded again in chunks as tomslinkctl sends
 * it, decodes to the same rows and secrets. */

#include "fuzz.h"
#include "protocol.h"
#include "validate.h"

static bool streq_null(const char *a, const char *b) {
        return (!a && !b) || (a && b && streq(a, b));
}

static void check_failure(const ProtocolFailure *f, int r) {
        FUZZ_CHECK(r < 0, "failure with %d", r);
        FUZZ_CHECK(protocol_error_to_string(f->code), "failure code %d", f->code);
        FUZZ_CHECK(memchr(f->message, 0, sizeof f->message) && f->message[0], "failure message");
        switch (-r) {
        case EBADMSG:
        case E2BIG:
                FUZZ_CHECK(f->code == PROTOCOL_ERROR_BAD_REQUEST, "%d: %s", r, protocol_error_to_string(f->code));
                break;
        case EPROTONOSUPPORT:
                FUZZ_CHECK(f->code == PROTOCOL_ERROR_UNSUPPORTED_VERSION, "%d", r);
                break;
        case EOPNOTSUPP:
                FUZZ_CHECK(f->code == PROTOCOL_ERROR_UNKNOWN_COMMAND, "%d", r);
                break;
        default:
                FUZZ_CHECK(false, "unexpected error %d (%s)", r, f->message);
        }

        /* the daemon sends it to the client: it must arrive as it is */
        ProtocolMessage m = {};
        FUZZ_CHECK(protocol_error_encode(f, 0, &m) == 0, "cannot encode the error reply");
        ProtocolReplyReader rr = PROTOCOL_REPLY_READER_NULL;
        ProtocolFailure g = PROTOCOL_FAILURE_NULL;
        int k = protocol_reply_reader_feed(&rr, m.data, m.size, &g);
        FUZZ_CHECK(k == -EREMOTEIO, "error reply read back as %d (%s): %s", k, g.message, m.data);
        FUZZ_CHECK(g.code == f->code && streq(g.message, f->message), "error reply changed: %s -> %s", f->message,
                   g.message);
        protocol_failure_done(&g);
        protocol_reply_reader_done(&rr);
        free(m.data);
}

static bool username_ok(const char *s) {
        return s && s[0] && strlen(s) <= PROTOCOL_USERNAME_MAX && string_is_safe(s);
}

static bool generated_ok(const char *s) {
        return !s || (s[0] && strlen(s) <= PROTOCOL_GENERATED_MAX && string_is_safe(s));
}

static void check_request(const ProtocolRequest *r) {
        const ProtocolCommandInfo *info = protocol_command_info(r->command);
        FUZZ_CHECK(info, "command %d", r->command);
        unsigned a = info->args;

        FUZZ_CHECK(!r->link || link_name_is_valid(r->link), "link");
        if (!(a & (PROTOCOL_ARG_LINK | PROTOCOL_ARG_LINK_OR_ALL | PROTOCOL_ARG_LINK_OPTIONAL)))
                FUZZ_CHECK(!r->link, "%s with a link", info->name);
        if (a & PROTOCOL_ARG_LINK)
                FUZZ_CHECK(r->link, "%s without a link", info->name);
        if (a & PROTOCOL_ARG_LINK_OR_ALL)
                FUZZ_CHECK(!!r->link != r->all, "%s: link and all", info->name);
        else
                FUZZ_CHECK(!r->all, "%s with all", info->name);
        FUZZ_CHECK((a & PROTOCOL_ARG_USERNAME) ? username_ok(r->username) : !r->username, "username");
        FUZZ_CHECK(generated_ok(r->generated) && (!r->generated || (a & PROTOCOL_ARG_GENERATED)), "generated");
        FUZZ_CHECK(!r->reason || ((a & PROTOCOL_ARG_REASON) && strlen(r->reason) <= PROTOCOL_REASON_MAX &&
                                  string_is_safe(r->reason)),
                   "reason");
        if (a & PROTOCOL_ARG_DURATION)
                FUZZ_CHECK(r->duration >= USEC_PER_SEC && r->duration <= PROTOCOL_SILENCE_MAX &&
                                   r->duration % USEC_PER_SEC == 0,
                           "duration");
        else
                FUZZ_CHECK(r->duration == 0, "duration");
        FUZZ_CHECK(r->limit <= 100000 && (r->limit == 0 || (a & PROTOCOL_ARG_LIMIT)), "limit");
        FUZZ_CHECK(!r->secret, "a secret before the secret message");
        if (a & PROTOCOL_ARG_SECRET)
                FUZZ_CHECK(r->secret_size >= 1 && r->secret_size <= PROTOCOL_SECRET_MAX, "secret_size");
        else if (!(a & PROTOCOL_ARG_ROWS))
                FUZZ_CHECK(r->secret_size == 0, "secret_size");
        if (a & PROTOCOL_ARG_ROWS) {
                size_t sum = 0;
                FUZZ_CHECK(r->n_rows <= PROTOCOL_IMPORT_ROWS_MAX, "rows");
                for (size_t i = 0; i < r->n_rows; i++) {
                        const ProtocolImportRow *row = &r->rows[i];
                        FUZZ_CHECK(link_name_is_valid(row->link), "row link");
                        FUZZ_CHECK(username_ok(row->username), "row username");
                        FUZZ_CHECK(generated_ok(row->generated), "row generated");
                        FUZZ_CHECK(row->secret_size >= 1 && row->secret_size <= PROTOCOL_SECRET_MAX, "row secret");
                        sum += row->secret_size;
                }
                FUZZ_CHECK(sum == r->secret_size && sum <= PROTOCOL_MESSAGE_MAX, "secret sizes add up to %zu", sum);
        } else
                FUZZ_CHECK(r->n_rows == 0 && !r->more, "rows");
}

static void check_same_request(const ProtocolRequest *a, const ProtocolRequest *b) {
        FUZZ_CHECK(a->command == b->command && streq_null(a->link, b->link) && a->all == b->all &&
                           streq_null(a->username, b->username) && streq_null(a->generated, b->generated) &&
                           a->duration == b->duration && streq_null(a->reason, b->reason) && a->limit == b->limit &&
                           a->secret_size == b->secret_size,
                   "request changed on the way through JSON");
}

static void check_same_rows(const ProtocolRequest *a, const ProtocolRequest *b) {
        FUZZ_CHECK(a->n_rows == b->n_rows, "%zu rows became %zu", a->n_rows, b->n_rows);
        for (size_t i = 0; i < a->n_rows; i++) {
                const ProtocolImportRow *x = &a->rows[i], *y = &b->rows[i];
                FUZZ_CHECK(streq(x->link, y->link) && streq(x->username, y->username) &&
                                   streq_null(x->generated, y->generated) && x->line == y->line &&
                                   x->secret_size == y->secret_size && x->secret && y->secret &&
                                   memcmp(x->secret, y->secret, x->secret_size) == 0,
                           "row %zu changed", i);
        }
}

/* Parses and decodes one message the way the server does. */
static int decode(const char *data, size_t size, ProtocolRequest *ret, size_t *ret_announced) {
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        json_object *o = NULL;
        int r;

        *ret_announced = 0;
        r = protocol_message_parse(data, size, &o, &f);
        if (r < 0) {
                check_failure(&f, r);
                return r;
        }
        FUZZ_CHECK(json_object_is_type(o, json_type_object), "not an object");
        *ret_announced = protocol_request_announced_secret(o);
        FUZZ_CHECK(*ret_announced <= PROTOCOL_MESSAGE_MAX, "announced");
        r = protocol_request_from_json(o, ret, &f);
        json_object_put(o);
        if (r < 0) {
                check_failure(&f, r);
                return r;
        }
        FUZZ_CHECK(r == 0, "protocol_request_from_json: %d", r);
        check_request(ret);
        if (ret->secret_size > 0)
                FUZZ_CHECK(*ret_announced == ret->secret_size, "announced %zu, request %zu", *ret_announced,
                           ret->secret_size);
        return 0;
}

static void round_trip(const ProtocolRequest *req) {
        json_object *o = NULL;
        char *s = NULL;
        size_t n;
        ProtocolRequest back = PROTOCOL_REQUEST_NULL;
        size_t announced;

        FUZZ_CHECK(protocol_request_to_json(req, &o) == 0, "cannot encode");
        FUZZ_CHECK(protocol_message_format(o, PROTOCOL_MESSAGE_MAX, &s, &n) == 0, "cannot format");
        json_object_put(o);
        FUZZ_CHECK(decode(s, n, &back, &announced) == 0, "the encoded request is refused: %s", s);
        check_same_request(req, &back);
        free(s);
        protocol_request_done(&back);
}

static int set_secret(ProtocolRequest *req, const uint8_t *data, size_t size) {
        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
        size_t announced = req->secret_size;
        int r = protocol_request_set_secret(req, data, size, &f);
        if (size != announced) {
                FUZZ_CHECK(r == -EBADMSG, "a secret of %zu bytes for %zu announced: %d", size, announced, r);
                check_failure(&f, r);
                return r;
        }
        FUZZ_CHECK(r == 0, "protocol_request_set_secret: %d", r);
        if (req->command != PROTOCOL_COMMAND_CREDENTIAL_IMPORT)
                FUZZ_CHECK(req->secret && memcmp(req->secret, data, size) == 0 && req->secret[size] == '\0',
                           "secret");
        else {
                size_t off = 0;
                for (size_t i = 0; i < req->n_rows; i++) {
                        const ProtocolImportRow *row = &req->rows[i];
                        FUZZ_CHECK(row->secret && memcmp(row->secret, data + off, row->secret_size) == 0 &&
                                           row->secret[row->secret_size] == '\0',
                                   "row %zu secret", i);
                        off += row->secret_size;
                }
                FUZZ_CHECK(off == size, "row secrets cover %zu of %zu bytes", off, size);
        }
        return 0;
}

/* A whole import, sent again as tomslinkctl does, must arrive unchanged. */
static void import_round_trip(const ProtocolRequest *whole, size_t max) {
        ProtocolRequest back = PROTOCOL_REQUEST_NULL;
        bool first = true;
        size_t pos = 0;

        for (;;) {
                ProtocolImportChunk c = {};
                ProtocolRequest req = PROTOCOL_REQUEST_NULL;
                size_t announced;
                int r = protocol_import_chunk_next(whole->rows, whole->n_rows, &pos, max, &c);
                FUZZ_CHECK(r >= 0, "protocol_import_chunk_next: %d at row %zu", r, pos);
                if (r == 0)
                        break;
                FUZZ_CHECK(c.json_size <= max && c.secrets_size <= max && c.n_rows > 0, "chunk too large");
                FUZZ_CHECK(decode(c.json, c.json_size, &req, &announced) == 0, "chunk refused: %s", c.json);
                FUZZ_CHECK(req.command == PROTOCOL_COMMAND_CREDENTIAL_IMPORT && req.more == !c.last &&
                                   req.n_rows == c.n_rows && req.secret_size == c.secrets_size,
                           "chunk");
                FUZZ_CHECK(set_secret(&req, (const uint8_t *) c.secrets, c.secrets_size) == 0, "chunk secrets");
                if (first) {
                        back = req;
                        first = false;
                } else {
                        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
                        FUZZ_CHECK(protocol_request_append_rows(&back, &req, &f) == 0, "append");
                        protocol_request_done(&req);
                }
                protocol_import_chunk_done(&c);
        }
        FUZZ_CHECK(pos == whole->n_rows, "encoded %zu of %zu rows", pos, whole->n_rows);
        check_same_rows(whole, &back);
        protocol_request_done(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = { data, size };
        size_t chunk_max = 2048 + (size_t) fuzz_u8(&in) * 251;
        ProtocolRequest stream = PROTOCOL_REQUEST_NULL;
        bool in_stream = false;
        const uint8_t *m;
        size_t n;

        while (fuzz_field(&in, &m, &n)) {
                ProtocolRequest req = PROTOCOL_REQUEST_NULL;
                size_t announced;
                int r = decode((const char *) m, n, &req, &announced);
                if (r < 0) {
                        /* the server consumes the announced secret, and ends a stream */
                        if (announced > 0)
                                (void) fuzz_field(&in, &m, &n);
                        protocol_request_done(&stream);
                        in_stream = false;
                        continue;
                }
                if (req.command != PROTOCOL_COMMAND_CREDENTIAL_IMPORT)
                        round_trip(&req);
                if (req.secret_size > 0) {
                        if (!fuzz_field(&in, &m, &n) || set_secret(&req, m, n) < 0) {
                                protocol_request_done(&req);
                                protocol_request_done(&stream);
                                in_stream = false;
                                continue;
                        }
                }
                if (req.command != PROTOCOL_COMMAND_CREDENTIAL_IMPORT) {
                        protocol_request_done(&req);
                        protocol_request_done(&stream);
                        in_stream = false;
                        continue;
                }

                /* a chunk of an import stream */
                if (!in_stream) {
                        stream = req;
                        in_stream = true;
                } else {
                        ProtocolFailure f = PROTOCOL_FAILURE_NULL;
                        bool more = req.more;
                        size_t before = stream.n_rows, added = req.n_rows;
                        r = protocol_request_append_rows(&stream, &req, &f);
                        protocol_request_done(&req);
                        if (r < 0) {
                                FUZZ_CHECK(r == -E2BIG && before + added > PROTOCOL_IMPORT_ROWS_MAX, "append: %d", r);
                                check_failure(&f, r);
                                protocol_request_done(&stream);
                                in_stream = false;
                                continue;
                        }
                        FUZZ_CHECK(stream.n_rows == before + added, "append lost rows");
                        stream.more = more;
                }
                if (stream.more)
                        continue;
                import_round_trip(&stream, chunk_max);
                protocol_request_done(&stream);
                in_stream = false;
        }
        protocol_request_done(&stream);
        return 0;
}
