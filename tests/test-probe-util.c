/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The probe engine's pure parts fed good and hostile input: classes from
 * transfer outcomes, certificates from libcurl's certificate info, OAuth2
 * token answers. */
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "probe-util.h"
#include "tests.h"

/* Two self-signed certificates made with the openssl CLI; its view:
 *   a: notAfter=2036-11-20 14:57:45Z (2110805865), subject
 *      CN=unit.test,O=Tomslink\, Unit, sha256 B0:2B:6D:D2:...:40:88
 *   b: notAfter=2026-12-23 14:57:45Z (1798037865), subject CN=short.test */
static const char pem_a[] =
        "-----BEGIN CERTIFICATE-----\n"
        "MIIBsDCCAVWgAwIBAgIUAtyWLDWvSOR/fXMuZqaPZma0dLgwCgYIKoZIzj0EAwIw\n"
        "LTEXMBUGA1UECgwOVG9tc2xpbmssIFVuaXQxEjAQBgNVBAMMCXVuaXQudGVzdDAe\n"
        "Fw0yNjExMjMxNDU3NDVaFw0zNjExMjAxNDU3NDVaMC0xFzAVBgNVBAoMDlRvbXNs\n"
        "aW5rLCBVbml0MRIwEAYDVQQDDAl1bml0LnRlc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
        "PQMBBwNCAASW6Q/XshdtJXnplVPa2ZDySkPcsRcOpgFwxH4Ito6KOenCN+LfzeaC\n"
        "4xTv5/sEKqV6mzILYmMxl4ZBLYCmyIIeo1MwUTAdBgNVHQ4EFgQUCq7rsQh0ukR1\n"
        "Unx0byKgPSh1gNYwHwYDVR0jBBgwFoAUCq7rsQh0ukR1Unx0byKgPSh1gNYwDwYD\n"
        "VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAuKYkRhqvDzFMnS0V8JU4\n"
        "ZKE5p7nQXoXgM9YSILik4jUCIQDvkq71K9FZY3MUyLPBR45ohXw1C/06jjKP+CtN\n"
        "uWIzQQ==\n"
        "-----END CERTIFICATE-----\n";
static const char pem_b[] =
        "-----BEGIN CERTIFICATE-----\n"
        "MIIBfjCCASWgAwIBAgIUUINcwJY4MWapX6Y8lsGg5nw776UwCgYIKoZIzj0EAwIw\n"
        "FTETMBEGA1UEAwwKc2hvcnQudGVzdDAeFw0yNjExMjMxNDU3NDVaFw0yNjEyMjMx\n"
        "NDU3NDVaMBUxEzARBgNVBAMMCnNob3J0LnRlc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
        "PQMBBwNCAASQfyZYR7NADEzfPysUv2EOoXHvr5MAnJ9mzClQMxXEG+0cqfFobbrl\n"
        "GeTFoEw2fjws21cVuf7FEVbSGd3jcAnCo1MwUTAdBgNVHQ4EFgQUcrxotj1HCC3L\n"
        "QASAn+X5iJWFaZYwHwYDVR0jBBgwFoAUcrxotj1HCC3LQASAn+X5iJWFaZYwDwYD\n"
        "VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiAy9VwKu3pR1x+emFQ9wDON\n"
        "/IoI1P1KW9gSq1kKdDzsCAIgY4eCXucQJqT2CgYmVewyKzckHZvSTBzW5VG6yFQW\n"
        "gcs=\n"
        "-----END CERTIFICATE-----\n";

START_TEST(test_classify) {
        StatusSet expect = {};
        status_set_add(&expect, 200);
        status_set_add(&expect, 204);
        ck_assert_int_eq(probe_classify(CURLE_OK, 200, &expect, true, true), PROBE_OK);
        ck_assert_int_eq(probe_classify(CURLE_OK, 204, &expect, true, true), PROBE_OK);
        ck_assert_int_eq(probe_classify(CURLE_OK, 401, &expect, true, true), PROBE_AUTH);
        ck_assert_int_eq(probe_classify(CURLE_OK, 403, &expect, true, true), PROBE_AUTH);
        ck_assert_int_eq(probe_classify(CURLE_OK, 302, &expect, true, true), PROBE_HTTP);
        ck_assert_int_eq(probe_classify(CURLE_OK, 500, &expect, true, true), PROBE_HTTP);
        ck_assert_int_eq(probe_classify(CURLE_OK, 999, &expect, true, true), PROBE_HTTP);
        ck_assert_int_eq(probe_classify(CURLE_OK, 0, &expect, true, true), PROBE_HTTP);
        /* an expected 401 is expected */
        status_set_add(&expect, 401);
        ck_assert_int_eq(probe_classify(CURLE_OK, 401, &expect, true, true), PROBE_OK);

        ck_assert_int_eq(probe_classify(CURLE_COULDNT_RESOLVE_HOST, 0, &expect, false, false), PROBE_DNS);
        ck_assert_int_eq(probe_classify(CURLE_COULDNT_CONNECT, 0, &expect, false, false), PROBE_CONNECT);
        /* out of time is timeout in every phase */
        ck_assert_int_eq(probe_classify(CURLE_OPERATION_TIMEDOUT, 0, &expect, false, false), PROBE_TIMEOUT);
        ck_assert_int_eq(probe_classify(CURLE_OPERATION_TIMEDOUT, 0, &expect, true, false), PROBE_TIMEOUT);
        ck_assert_int_eq(probe_classify(CURLE_OPERATION_TIMEDOUT, 200, &expect, true, true), PROBE_TIMEOUT);
        ck_assert_int_eq(probe_classify(CURLE_PEER_FAILED_VERIFICATION, 0, &expect, true, false), PROBE_TLS);
        ck_assert_int_eq(probe_classify(CURLE_SSL_CONNECT_ERROR, 0, &expect, true, false), PROBE_TLS);
        /* a broken connection: before the handshake it is TLS, after it HTTP */
        ck_assert_int_eq(probe_classify(CURLE_RECV_ERROR, 0, &expect, true, false), PROBE_TLS);
        ck_assert_int_eq(probe_classify(CURLE_GOT_NOTHING, 0, &expect, true, true), PROBE_HTTP);
        ck_assert_int_eq(probe_classify(CURLE_WEIRD_SERVER_REPLY, 0, &expect, true, true), PROBE_HTTP);
        ck_assert_int_eq(probe_classify(CURLE_OUT_OF_MEMORY, 0, &expect, false, false), PROBE_CONNECT);
}
END_TEST

START_TEST(test_tls_problem) {
        ck_assert_str_eq(probe_tls_problem(CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_CERT_HAS_EXPIRED,
                                           "SSL certificate problem: certificate has expired"),
                         "expired certificate");
        ck_assert_str_eq(probe_tls_problem(CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                                           "SSL certificate problem: unable to get local issuer certificate"),
                         "untrusted certificate");
        ck_assert_str_eq(probe_tls_problem(CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, NULL),
                         "untrusted certificate");
        /* libcurl's own name check reports "unspecified" (1) */
        ck_assert_str_eq(probe_tls_problem(CURLE_PEER_FAILED_VERIFICATION, 1,
                                           "SSL: no alternative certificate subject name matches target host name 'x'"),
                         "host name mismatch");
        ck_assert_str_eq(probe_tls_problem(CURLE_PEER_FAILED_VERIFICATION, X509_V_OK,
                                           "SSL: certificate subject name 'a' does not match target host name 'b'"),
                         "host name mismatch");
        ck_assert_str_eq(probe_tls_problem(CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_CERT_NOT_YET_VALID, ""),
                         "certificate not yet valid");
        ck_assert_str_eq(probe_tls_problem(CURLE_SSL_CONNECT_ERROR, X509_V_OK, "alert handshake failure"),
                         "TLS handshake failed");
}
END_TEST

START_TEST(test_cert_pem) {
        ProbeCert c;
        ck_assert_int_eq(probe_cert_from_pem(pem_a, strlen(pem_a), &c), 0);
        ck_assert_uint_eq(c.not_after, 2110805865ULL * USEC_PER_SEC);
        ck_assert_str_eq(c.subject, "CN=unit.test,O=Tomslink\\, Unit");
        ck_assert_str_eq(c.sha256, "b02b6dd2711d028965f16f927df9022d577198bf66331f87cda1ec8ffa824088");

        ck_assert_int_eq(probe_cert_from_pem("", 0, &c), -EBADMSG);
        ck_assert_int_eq(probe_cert_from_pem("garbage", 7, &c), -EBADMSG);
        /* cut short */
        ck_assert_int_eq(probe_cert_from_pem(pem_a, strlen(pem_a) / 2, &c), -EBADMSG);
        /* a damaged body */
        char *bad = strdup(pem_a);
        bad[100] = bad[100] == 'A' ? 'B' : 'A';
        bad[101] = '!';
        ck_assert_int_eq(probe_cert_from_pem(bad, strlen(bad), &c), -EBADMSG);
        free(bad);
}
END_TEST

static X509 *x509_from_pem(const char *pem) {
        BIO *bio = BIO_new_mem_buf(pem, -1);
        ck_assert_ptr_nonnull(bio);
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        ck_assert_ptr_nonnull(x);
        return x;
}

/* The chain as the server presented it: the earliest notAfter wins,
 * whichever position it has. */
START_TEST(test_cert_chain) {
        X509 *a = x509_from_pem(pem_a), *b = x509_from_pem(pem_b);
        STACK_OF(X509) *chain = sk_X509_new_null();
        ProbeCert c;

        ck_assert_int_eq(probe_cert_from_chain(NULL, &c), -ENODATA);
        ck_assert_int_eq(probe_cert_from_chain(chain, &c), -ENODATA);
        sk_X509_push(chain, a);
        ck_assert_int_eq(probe_cert_from_chain(chain, &c), 0);
        ck_assert_str_eq(c.subject, "CN=unit.test,O=Tomslink\\, Unit");
        sk_X509_push(chain, b);
        ck_assert_int_eq(probe_cert_from_chain(chain, &c), 0);
        ck_assert_uint_eq(c.not_after, 1798037865ULL * USEC_PER_SEC);
        ck_assert_str_eq(c.subject, "CN=short.test");
        ck_assert_str_eq(c.sha256, "78de29ba0710c6f98891cdc787e3d57697bcbe4f01c62b9c30da039f59204fb1");
        /* the order does not matter */
        sk_X509_delete(chain, 0);
        sk_X509_push(chain, a);
        ck_assert_int_eq(probe_cert_from_chain(chain, &c), 0);
        ck_assert_str_eq(c.subject, "CN=short.test");
        sk_X509_pop_free(chain, X509_free);
}
END_TEST

static int parse(const char *s, char **token, usec_t *expires_in) {
        return probe_parse_token_response(s, strlen(s), token, expires_in);
}

START_TEST(test_token_response) {
        char *t = NULL;
        usec_t e = 1;

        ck_assert_int_eq(parse("{\"access_token\":\"abc.DEF-123\",\"token_type\":\"Bearer\",\"expires_in\":3600}", &t, &e), 0);
        ck_assert_str_eq(t, "abc.DEF-123");
        ck_assert_uint_eq(e, 3600 * USEC_PER_SEC);
        t = mfree(t);
        /* token_type in any case, expires_in as a string or absent, white space after */
        ck_assert_int_eq(parse("{\"access_token\":\"x\",\"token_type\":\"bearer\",\"expires_in\":\"60\"}\r\n", &t, &e), 0);
        ck_assert_uint_eq(e, 60 * USEC_PER_SEC);
        t = mfree(t);
        ck_assert_int_eq(parse("{\"access_token\":\"x\"}", &t, &e), 0);
        ck_assert_uint_eq(e, 0);
        t = mfree(t);
        /* absurd lifetimes are clamped to a year */
        ck_assert_int_eq(parse("{\"access_token\":\"x\",\"expires_in\":99999999999}", &t, &e), 0);
        ck_assert_uint_eq(e, 365 * USEC_PER_DAY);
        t = mfree(t);

        static const char *const bad[] = {
                "",
                "null",
                "[\"access_token\"]",
                "{\"access_token\":\"\"}",
                "{\"access_token\":42}",
                "{\"access_token\":\"has space\"}",
                "{\"access_token\":\"line\\r\\nX-Evil: 1\"}",
                "{\"access_token\":\"nul\\u0000byte\"}",
                "{\"access_token\":\"x\",\"token_type\":\"mac\"}",
                "{\"access_token\":\"x\",\"token_type\":7}",
                "{\"access_token\":\"x\",\"expires_in\":-5}",
                "{\"access_token\":\"x\",\"expires_in\":\"soon\"}",
                "{\"access_token\":\"x\",\"expires_in\":1.5e3}",
                "{\"access_token\":\"x\"} trailing",
                "{\"access_token\":\"x\"",
                "{\"token\":\"x\"}",
                "{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]],\"access_token\":\"x\"}",
                "<html>not json</html>",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(parse(bad[i], &t, &e) == -EBADMSG, "accepted %s", bad[i]);
        ck_assert_ptr_null(t);

        /* too long a token, too large an answer, a NUL inside */
        char *big = malloc(PROBE_TOKEN_RESPONSE_MAX + 64);
        int n = snprintf(big, PROBE_TOKEN_RESPONSE_MAX + 64, "{\"access_token\":\"");
        memset(big + n, 'a', PROBE_TOKEN_MAX + 1);
        strcpy(big + n + PROBE_TOKEN_MAX + 1, "\"}");
        ck_assert_int_eq(parse(big, &t, &e), -EBADMSG);
        memset(big, ' ', PROBE_TOKEN_RESPONSE_MAX + 1);
        ck_assert_int_eq(probe_parse_token_response(big, PROBE_TOKEN_RESPONSE_MAX + 1, &t, &e), -E2BIG);
        free(big);
        ck_assert_int_eq(probe_parse_token_response("{\"access_token\":\"x\"}\0{}", 23, &t, &e), -EBADMSG);
        /* a NUL byte is no white space, at the end either */
        ck_assert_int_eq(probe_parse_token_response("{\"access_token\":\"x\"} \0\0", 23, &t, &e), -EBADMSG);
}
END_TEST

START_TEST(test_token_error) {
        const char *s = "{\"error\":\"invalid_client\",\"error_description\":\"secret is s3cret\"}";
        ck_assert_str_eq(probe_token_error(s, strlen(s)), "invalid_client");
        s = "{\"error\":\"made_up\\r\\nX: 1\"}";
        ck_assert_ptr_null(probe_token_error(s, strlen(s)));
        s = "{\"error\":5}";
        ck_assert_ptr_null(probe_token_error(s, strlen(s)));
        ck_assert_ptr_null(probe_token_error(NULL, 0));
        ck_assert_ptr_null(probe_token_error("nope", 4));
        ck_assert_ptr_null(probe_token_error("{\"error\":\"invalid_grant\"}\0", 26));
}
END_TEST

START_TEST(test_copy_text) {
        char buf[8];
        probe_copy_text(buf, sizeof buf, "ab\r\n\x01\xc3\xa9xyz");
        ck_assert_str_eq(buf, "ab?????");
        probe_copy_text(buf, sizeof buf, NULL);
        ck_assert_str_eq(buf, "");
        probe_copy_text(buf, 1, "abc");
        ck_assert_str_eq(buf, "");
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("probe-util");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_classify, test_tls_problem, test_cert_pem, test_cert_chain, test_token_response,
                  test_token_error, test_copy_text);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
