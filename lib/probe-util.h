/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The pure parts of the probe engine: how a transfer's outcome becomes a
 * probe class, the endpoint certificate from libcurl's certificate info,
 * the OAuth2 token response. Kept apart from the engine so that unit tests
 * can feed them hostile input. */

#include <curl/curl.h>
#include <openssl/x509.h>

#include "config.h"
#include "probe-result.h"

/* The one place where a transfer's outcome becomes a probe class.
 * body_capped: the transfer was cut short on purpose after the headers
 * (response body over the cap), which is not a failure. connected: a TCP
 * connection was made; tls_done: the TLS handshake completed. */
ProbeClass probe_classify(CURLcode code, long http_status, const StatusSet *expect, bool connected, bool tls_done);

/* What went wrong in a failed TLS handshake, from the certificate
 * verification result (CURLINFO_SSL_VERIFYRESULT) and curl's error text:
 * "expired certificate", "untrusted certificate", "host name mismatch",
 * "certificate not yet valid", "revoked certificate", "TLS handshake
 * failed". */
const char *probe_tls_problem(CURLcode code, long verify_result, const char *curl_error);

typedef struct ProbeCert {
        usec_t not_after;                       /* wall clock */
        char subject[PROBE_SUBJECT_MAX];        /* RFC 2253, escaped */
        char sha256[65];                        /* lower-case hex of the DER */
} ProbeCert;

/* One PEM certificate. -EBADMSG when it does not parse. */
int probe_cert_from_pem(const char *pem, size_t size, ProbeCert *ret);
/* The certificate that expires first in the chain the server presented
 * (SSL_get_peer_cert_chain(), leaf included); at most PROBE_CHAIN_MAX are
 * looked at. -ENODATA when there is none. */
#define PROBE_CHAIN_MAX 16
int probe_cert_from_chain(STACK_OF(X509) *chain, ProbeCert *ret);

/* An OAuth2 token endpoint's answer (RFC 6749 5.1): a JSON object with
 * access_token (visible ASCII only, at most PROBE_TOKEN_MAX bytes: it goes
 * into a header), token_type "Bearer" when present, expires_in when
 * present (0 when absent). -E2BIG over PROBE_TOKEN_RESPONSE_MAX, -EBADMSG
 * for anything else that is wrong. */
#define PROBE_TOKEN_RESPONSE_MAX (16U * 1024U)
#define PROBE_TOKEN_MAX 4096U
int probe_parse_token_response(const char *body, size_t size, char **ret_token, usec_t *ret_expires_in);
/* The "error" code of a token error response (RFC 6749 5.2), as a static
 * string when it is one of the codes defined there, else NULL: text from
 * the server is never copied into messages. */
const char *probe_token_error(const char *body, size_t size);

/* Copies s into buf (NUL-terminated, truncated), every byte that is not
 * printable ASCII replaced by '?': error texts may quote the server. */
void probe_copy_text(char *buf, size_t size, const char *s);

/* Frees a buffer that held a secret after wiping its first size bytes. */
void probe_secret_free(char *s, size_t size);
