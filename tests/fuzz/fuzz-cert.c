/* SPDX-License-Identifier: GPL-2.0-or-later */

/* The certificate summary of the probe (probe_cert_from_pem(),
 * probe_cert_from_chain()): certificates a TLS server presents. Input:
 * one PEM certificate when it starts with "-----BEGIN", else a chain of DER
 * certificates one after the other.
 *
 * Invariants: a summary has a notAfter no later than 9999, the SHA-256 of
 * the certificate's DER as 64 lower-case hex digits, and a subject of
 * printable ASCII only (it goes into messages and e-mails); a chain gives
 * the summary of the certificate that expires first, and -ENODATA when no
 * certificate in it can be summarised; OpenSSL's error queue is left empty
 * (libcurl reads it on the same thread). */

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fuzz.h"
#include "probe-util.h"

static void check_summary(const ProbeCert *c, X509 *x) {
        FUZZ_CHECK(c->not_after > 0 && c->not_after <= (usec_t) TIMESTAMP_MAX_SEC * USEC_PER_SEC &&
                           c->not_after % USEC_PER_SEC == 0,
                   "not_after %llu", (unsigned long long) c->not_after);
        FUZZ_CHECK(memchr(c->subject, 0, sizeof c->subject), "subject not terminated");
        for (const char *p = c->subject; *p; p++)
                FUZZ_CHECK(*p >= 0x20 && *p < 0x7f, "byte 0x%02x in the subject %s", (unsigned char) *p, c->subject);
        FUZZ_CHECK(strlen(c->sha256) == 64 && strspn(c->sha256, "0123456789abcdef") == 64, "sha256 %s", c->sha256);
        if (x) {
                unsigned char *der = NULL, md[32];
                int n = i2d_X509(x, &der);
                FUZZ_CHECK(n > 0, "i2d_X509");
                FUZZ_CHECK(EVP_Digest(der, (size_t) n, md, NULL, EVP_sha256(), NULL) == 1, "digest");
                OPENSSL_free(der);
                char hex[65];
                for (size_t i = 0; i < 32; i++)
                        snprintf(hex + 2 * i, 3, "%02x", md[i]);
                FUZZ_CHECK(streq(hex, c->sha256), "sha256 %s of a certificate whose DER hashes to %s", c->sha256, hex);
        }
}

static void check_pem(const uint8_t *data, size_t size) {
        ProbeCert c;
        int r = probe_cert_from_pem((const char *) data, size, &c);
        FUZZ_CHECK(ERR_peek_error() == 0, "error queue not empty");
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ERANGE, "probe_cert_from_pem: %d", r);
        if (r < 0)
                return;
        BIO *bio = BIO_new_mem_buf(data, (int) size);
        X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        FUZZ_CHECK(x, "a summary of a PEM text OpenSSL does not read");
        check_summary(&c, x);
        X509_free(x);
        BIO_free(bio);
        ERR_clear_error();
}

static void check_chain(const uint8_t *data, size_t size) {
        STACK_OF(X509) *chain = sk_X509_new_null();
        const unsigned char *p = data;
        ProbeCert best = {};
        bool any = false;
        X509 *best_x = NULL;

        FUZZ_CHECK(chain, "out of memory");
        while (p < data + size && sk_X509_num(chain) < PROBE_CHAIN_MAX + 2) {
                X509 *x = d2i_X509(NULL, &p, (long) (data + size - p));
                if (!x)
                        break;
                FUZZ_CHECK(sk_X509_push(chain, x) > 0, "out of memory");

                /* each certificate alone: its summary, if it has one */
                if (sk_X509_num(chain) <= PROBE_CHAIN_MAX) {
                        STACK_OF(X509) *one = sk_X509_new_null();
                        ProbeCert c;
                        FUZZ_CHECK(one && sk_X509_push(one, x) > 0, "out of memory");
                        int r = probe_cert_from_chain(one, &c);
                        FUZZ_CHECK(r == 0 || r == -ENODATA, "probe_cert_from_chain: %d", r);
                        if (r == 0) {
                                check_summary(&c, x);
                                if (!any || c.not_after < best.not_after) {
                                        best = c;
                                        best_x = x;
                                }
                                any = true;
                        }
                        sk_X509_free(one);
                }
        }
        ERR_clear_error();

        ProbeCert c;
        int r = probe_cert_from_chain(chain, &c);
        FUZZ_CHECK(ERR_peek_error() == 0, "error queue not empty");
        FUZZ_CHECK(r == (any ? 0 : -ENODATA), "probe_cert_from_chain: %d", r);
        if (r == 0) {
                check_summary(&c, best_x);
                FUZZ_CHECK(c.not_after == best.not_after && streq(c.sha256, best.sha256) &&
                                   streq(c.subject, best.subject),
                           "not the certificate that expires first");
        }
        sk_X509_pop_free(chain, X509_free);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size >= 10 && memcmp(data, "-----BEGIN", 10) == 0)
                check_pem(data, size);
        else
                check_chain(data, size);
        return 0;
}
