/* SPDX-License-Identifier: GPL-2.0-or-later */

/* The credential import files of "tomslinkctl credential import"
 * (import_file_parse()): CSV or YAML, from whoever prepared the file.
 *
 * Invariants: the parser returns rows or problems, never both; every row
 * is one the daemon accepts: sent as tomslinkctl sends it (chunks of
 * JSON and raw secrets), decoded by the daemon's protocol decoder, it
 * arrives unchanged; rows name each link once; every problem names the
 * file, is one line of valid UTF-8 (it is printed), and there are at most
 * IMPORT_FILE_ERRORS_MAX of them plus one saying how many more. */

#include "fuzz.h"
#include "import-file.h"
#include "strv.h"
#include "validate.h"

#define NAME "fuzz.csv"

static void check_rows(const ProtocolImportRow *rows, size_t n) {
        FUZZ_CHECK(n > 0 && n <= PROTOCOL_IMPORT_ROWS_MAX, "%zu rows", n);
        for (size_t i = 0; i < n; i++) {
                const ProtocolImportRow *r = &rows[i];
                FUZZ_CHECK(link_name_is_valid(r->link), "row %zu: link", i);
                FUZZ_CHECK(r->username && r->username[0] && strlen(r->username) <= PROTOCOL_USERNAME_MAX &&
                                   string_is_safe(r->username),
                           "row %zu: username", i);
                FUZZ_CHECK(r->secret && r->secret_size >= 1 && r->secret_size <= PROTOCOL_SECRET_MAX &&
                                   strlen(r->secret) == r->secret_size && string_is_safe(r->secret),
                           "row %zu: secret", i);
                FUZZ_CHECK(!r->generated || (r->generated[0] && string_is_safe(r->generated)), "row %zu: generated", i);
                FUZZ_CHECK(r->line >= 1, "row %zu: line %u", i, r->line);
                for (size_t j = 0; j < i; j++)
                        FUZZ_CHECK(!streq(rows[j].link, r->link), "link %s twice", r->link);
        }

        /* what tomslinkctl sends, and what the daemon makes of it */
        size_t pos = 0, k = 0;
        for (;;) {
                ProtocolImportChunk c = {};
                int r = protocol_import_chunk_next(rows, n, &pos, 0, &c);
                FUZZ_CHECK(r >= 0, "protocol_import_chunk_next: %d", r);
                if (r == 0)
                        break;
                ProtocolFailure f = PROTOCOL_FAILURE_NULL;
                ProtocolRequest req = PROTOCOL_REQUEST_NULL;
                json_object *o = NULL;
                FUZZ_CHECK(protocol_message_parse(c.json, c.json_size, &o, &f) == 0, "chunk: %s", f.message);
                FUZZ_CHECK(protocol_request_from_json(o, &req, &f) == 0, "the daemon refuses a row: %s", f.message);
                json_object_put(o);
                FUZZ_CHECK(protocol_request_set_secret(&req, c.secrets, c.secrets_size, &f) == 0, "secrets: %s",
                           f.message);
                for (size_t i = 0; i < req.n_rows; i++, k++) {
                        const ProtocolImportRow *a = &rows[k], *b = &req.rows[i];
                        FUZZ_CHECK(streq(a->link, b->link) && streq(a->username, b->username) &&
                                           ((!a->generated && !b->generated) ||
                                            (a->generated && b->generated && streq(a->generated, b->generated))) &&
                                           a->line == b->line && a->secret_size == b->secret_size &&
                                           memcmp(a->secret, b->secret, a->secret_size) == 0,
                                   "row %zu changed on the way to the daemon", k);
                }
                protocol_request_done(&req);
                protocol_import_chunk_done(&c);
        }
        FUZZ_CHECK(k == n, "%zu of %zu rows arrived", k, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProtocolImportRow *rows = NULL;
        size_t n = 0;
        char **errors = NULL;

        int r = import_file_parse(NAME, (const char *) data, size, &rows, &n, &errors);
        FUZZ_CHECK(r == 0 || r == -EINVAL, "import_file_parse: %d", r);
        if (r == 0) {
                FUZZ_CHECK(!errors, "rows and errors");
                check_rows(rows, n);
                protocol_import_rows_free(rows, n);
        } else {
                size_t k = strv_length(errors);
                FUZZ_CHECK(k > 0 && k <= IMPORT_FILE_ERRORS_MAX + 1, "%zu errors", k);
                STRV_FOREACH(e, errors) {
                        FUZZ_CHECK(strneq(*e, NAME ":", strlen(NAME ":")), "error does not name the file: %s", *e);
                        FUZZ_CHECK(string_is_safe(*e), "control characters or invalid UTF-8 in an error: %s", *e);
                }
                strv_free(errors);
        }
        return 0;
}
