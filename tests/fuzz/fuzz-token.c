/* SPDX-License-Identifier: GPL-2.0-or-later */

/* The OAuth2 token endpoint's answer (probe_parse_token_response(),
 * probe_token_error()): the body of an HTTP response from a server the
 * probe talks to.
 *
 * Invariants: a body is accepted only when it is one JSON object followed
 * by white space at most (no NUL byte anywhere: it is no JSON text), with
 * a token of 1 to PROBE_TOKEN_MAX visible ASCII characters (it goes into a
 * header line) and expires_in of at most a year; too large a body is
 * -E2BIG, anything else -EBADMSG; the error code of an error answer is
 * one of RFC 6749's or nothing, never text from the server. */

#include "fuzz.h"
#include "probe-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *token = NULL;
        usec_t expires_in = USEC_INFINITY;
        const char *body = (const char *) data;

        int r = probe_parse_token_response(body, size, &token, &expires_in);
        if (size > PROBE_TOKEN_RESPONSE_MAX)
                FUZZ_CHECK(r == -E2BIG, "%zu bytes: %d", size, r);
        else
                FUZZ_CHECK(r == 0 || r == -EBADMSG, "probe_parse_token_response: %d", r);
        if (r == 0) {
                size_t n = strlen(token);
                FUZZ_CHECK(n >= 1 && n <= PROBE_TOKEN_MAX, "token of %zu bytes", n);
                for (size_t i = 0; i < n; i++)
                        FUZZ_CHECK(token[i] >= 0x21 && token[i] <= 0x7e, "byte 0x%02x in the token",
                                   (unsigned char) token[i]);
                FUZZ_CHECK(expires_in <= 365 * USEC_PER_DAY && expires_in % USEC_PER_SEC == 0, "expires_in %llu",
                           (unsigned long long) expires_in);
                FUZZ_CHECK(!memchr(data, 0, size), "a body with a NUL byte was accepted");
                FUZZ_CHECK(memchr(data, '{', size), "accepted without an object");
                probe_secret_free(token, n);
        } else
                FUZZ_CHECK(!token && expires_in == USEC_INFINITY, "outputs written on failure");

        static const char *const codes[] = {
                "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                "unsupported_grant_type", "invalid_scope",
        };
        const char *e = probe_token_error(body, size);
        if (e) {
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(codes); i++)
                        known = known || e == codes[i] || streq(e, codes[i]);
                FUZZ_CHECK(known, "error code %s", e);
                FUZZ_CHECK(!memchr(data, 0, size), "an error answer with a NUL byte was read");
        }
        return 0;
}
