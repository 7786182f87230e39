/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "probe-util.h"

#include <json-c/json.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <strings.h>

ProbeClass probe_classify(CURLcode code, long http_status, const StatusSet *expect, bool connected, bool tls_done) {
        switch (code) {
        case CURLE_OK:
                if (status_set_contains(expect, http_status))
                        return PROBE_OK;
                if (http_status == 401 || http_status == 403)
                        return PROBE_AUTH;
                return PROBE_HTTP;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return PROBE_DNS;
        case CURLE_COULDNT_CONNECT:
                return PROBE_CONNECT;
        case CURLE_OPERATION_TIMEDOUT:
                /* out of time, in whichever phase */
                return PROBE_TIMEOUT;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_SSL_CLIENTCERT:
        case CURLE_USE_SSL_FAILED:
                return PROBE_TLS;
        default:
                /* The connection broke or what came back was not HTTP: a
                 * protocol failure after the handshake is the endpoint's
                 * answer going wrong, before it the handshake failed. */
                if (tls_done)
                        return PROBE_HTTP;
                if (connected)
                        return PROBE_TLS;
                return PROBE_CONNECT;
        }
}

const char *probe_tls_problem(CURLcode code, long verify_result, const char *curl_error) {
        /* libcurl checks the name itself once OpenSSL has verified the
         * chain, and then reports no particular verification result */
        if (code == CURLE_PEER_FAILED_VERIFICATION && curl_error &&
            (strstr(curl_error, "does not match target host name") ||
             strstr(curl_error, "no alternative certificate subject name matches")))
                return "host name mismatch";
        switch (verify_result) {
        case X509_V_OK:
                break;
        case X509_V_ERR_CERT_HAS_EXPIRED:
                return "expired certificate";
        case X509_V_ERR_CERT_NOT_YET_VALID:
                return "certificate not yet valid";
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
                return "host name mismatch";
        case X509_V_ERR_CERT_REVOKED:
                return "revoked certificate";
        default:
                /* unknown issuer, self-signed, bad signature, bad chain */
                return "untrusted certificate";
        }
        if (code == CURLE_PEER_FAILED_VERIFICATION)
                return "certificate verification failed";
        return "TLS handshake failed";
}

static int asn1_time_to_usec(const ASN1_TIME *t, usec_t *ret) {
        struct tm tm;
        if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
                return -EBADMSG;
        time_t s = timegm(&tm);
        if (s == (time_t) -1 || s < 0 || s > TIMESTAMP_MAX_SEC)
                return -ERANGE;
        *ret = (usec_t) s * USEC_PER_SEC;
        return 0;
}

static int cert_summary(X509 *x, ProbeCert *ret) {
        ProbeCert c = {};
        int r = asn1_time_to_usec(X509_get0_notAfter(x), &c.not_after);
        if (r < 0)
                return r;

        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
                return -EBADMSG;
        for (unsigned i = 0; i < n; i++)
                snprintf(c.sha256 + 2 * i, 3, "%02x", md[i]);

        BIO *bio = BIO_new(BIO_s_mem());
        if (!bio)
                return -ENOMEM;
        /* RFC 2253 escapes control and non-ASCII characters */
        if (X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
                char *data;
                long len = BIO_get_mem_data(bio, &data);
                if (len > 0) {
                        char subject[PROBE_SUBJECT_MAX];
                        size_t m = MIN((size_t) len, sizeof subject - 1);
                        memcpy(subject, data, m);
                        subject[m] = 0;
                        probe_copy_text(c.subject, sizeof c.subject, subject);
                }
        }
        BIO_free(bio);
        *ret = c;
        return 0;
}

int probe_cert_from_pem(const char *pem, size_t size, ProbeCert *ret) {
        if (!pem || size == 0 || size > INT_MAX)
                return -EBADMSG;
        BIO *bio = BIO_new_mem_buf(pem, (int) size);
        if (!bio)
                return -ENOMEM;
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        int r = x ? cert_summary(x, ret) : -EBADMSG;
        X509_free(x);
        /* leave nothing in this thread's error queue for libcurl to find */
        ERR_clear_error();
        return r;
}

int probe_cert_from_chain(STACK_OF(X509) *chain, ProbeCert *ret) {
        ProbeCert best = {};
        bool found = false;
        int n = chain ? sk_X509_num(chain) : 0;

        for (int i = 0; i < MIN(n, PROBE_CHAIN_MAX); i++) {
                ProbeCert c;
                X509 *x = sk_X509_value(chain, i);
                if (!x || cert_summary(x, &c) < 0)
                        continue;
                if (!found || c.not_after < best.not_after)
                        best = c;
                found = true;
        }
        ERR_clear_error();
        if (!found)
                return -ENODATA;
        *ret = best;
        return 0;
}

static json_object *parse_json_object(const char *body, size_t size) {
        /* a JSON text has no NUL byte; json-c would stop at one inside an
         * unterminated trailing comment and call the object complete */
        if (!body || size == 0 || size > PROBE_TOKEN_RESPONSE_MAX || memchr(body, 0, size))
                return NULL;
        json_tokener *tok = json_tokener_new_ex(8);
        if (!tok)
                return NULL;
        json_object *o = json_tokener_parse_ex(tok, body, (int) size);
        bool ok = o && json_tokener_get_error(tok) == json_tokener_success && json_object_is_type(o, json_type_object);
        /* only white space may follow the object */
        for (size_t i = ok ? json_tokener_get_parse_end(tok) : size; i < size; i++)
                if (!strchr(" \t\r\n", body[i])) {
                        ok = false;
                        break;
                }
        json_tokener_free(tok);
        if (!ok) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static bool token_is_valid(const char *s, size_t n) {
        if (n == 0 || n > PROBE_TOKEN_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x21 || s[i] > 0x7e)
                        return false;
        return true;
}

static int json_get_expires_in(json_object *v, usec_t *ret) {
        int64_t s;
        if (json_object_is_type(v, json_type_int)) {
                errno = 0;
                s = json_object_get_int64(v);
                if (errno != 0)
                        return -EBADMSG;
        } else if (json_object_is_type(v, json_type_string)) {
                /* some servers send "3600" */
                const char *t = json_object_get_string(v);
                char *end;
                if (!t || !*t || strspn(t, "0123456789") != strlen(t) || strlen(t) > 12)
                        return -EBADMSG;
                s = strtoll(t, &end, 10);
        } else
                return -EBADMSG;
        if (s < 0)
                return -EBADMSG;
        /* a year is plenty; longer values are clamped, not trusted */
        *ret = (usec_t) MIN(s, (int64_t) 365 * 24 * 3600) * USEC_PER_SEC;
        return 0;
}

int probe_parse_token_response(const char *body, size_t size, char **ret_token, usec_t *ret_expires_in) {
        json_object *v;
        usec_t expires_in = 0;
        int r = -EBADMSG;

        if (size > PROBE_TOKEN_RESPONSE_MAX)
                return -E2BIG;
        json_object *o = parse_json_object(body, size);
        if (!o)
                return -EBADMSG;
        if (json_object_object_get_ex(o, "token_type", &v) &&
            (!json_object_is_type(v, json_type_string) || strcasecmp(json_object_get_string(v), "bearer") != 0))
                goto finish;
        if (json_object_object_get_ex(o, "expires_in", &v) && !json_object_is_type(v, json_type_null) &&
            json_get_expires_in(v, &expires_in) < 0)
                goto finish;
        if (!json_object_object_get_ex(o, "access_token", &v) || !json_object_is_type(v, json_type_string))
                goto finish;
        /* json-c's own copy of the token is wiped below, when it is done */
        char *t = (char *) json_object_get_string(v);
        size_t n = (size_t) json_object_get_string_len(v);
        if (t && token_is_valid(t, n)) {
                char *token = strndup(t, n);
                r = token ? 0 : -ENOMEM;
                if (token) {
                        *ret_token = token;
                        *ret_expires_in = expires_in;
                }
        }
        if (t)
                OPENSSL_cleanse(t, n);
finish:
        json_object_put(o);
        return r;
}

const char *probe_token_error(const char *body, size_t size) {
        static const char *const known[] = {
                "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                "unsupported_grant_type", "invalid_scope",
        };
        const char *found = NULL;
        json_object *v, *o = parse_json_object(body, size);
        if (o && json_object_object_get_ex(o, "error", &v) && json_object_is_type(v, json_type_string))
                for (size_t i = 0; i < ELEMENTSOF(known); i++)
                        if (streq(json_object_get_string(v), known[i]))
                                found = known[i];
        json_object_put(o);
        return found;
}

void probe_copy_text(char *buf, size_t size, const char *s) {
        size_t i = 0;
        if (size == 0)
                return;
        for (; s && s[i] && i + 1 < size; i++)
                buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
        buf[i] = 0;
}

void probe_secret_free(char *s, size_t size) {
        if (!s)
                return;
        OPENSSL_cleanse(s, size);
        free(s);
}
