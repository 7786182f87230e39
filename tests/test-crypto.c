/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <openssl/evp.h>

#include "crypto.h"
#include "tests.h"

static void unhex(const char *hex, uint8_t *out, size_t n) {
        ck_assert_uint_eq(strlen(hex), 2 * n);
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
                out[i] = (uint8_t) v;
        }
}

static const uint8_t key_a[CRYPTO_KEY_SIZE] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t key_b[CRYPTO_KEY_SIZE] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 11 };

START_TEST(test_hex_equal) {
        char buf[9];
        const uint8_t b[4] = { 0x00, 0x9f, 0xa0, 0xff };
        ck_assert_str_eq(crypto_hex(b, 4, buf), "009fa0ff");
        ck_assert(crypto_equal("abcd", "abcd", 4));
        ck_assert(!crypto_equal("abcd", "abce", 4));
        ck_assert(crypto_equal("x", "y", 0));
}
END_TEST

START_TEST(test_random) {
        uint8_t a[32] = {}, b[32] = {}, zero[32] = {};
        ck_assert_int_eq(crypto_random(a, sizeof a), 0);
        ck_assert_int_eq(crypto_random(b, sizeof b), 0);
        ck_assert(memcmp(a, b, sizeof a) != 0);
        ck_assert(memcmp(a, zero, sizeof a) != 0);
}
END_TEST

/* RFC 5869, test cases 1 and 3 */
START_TEST(test_hkdf_rfc5869) {
        uint8_t ikm[22], salt[13], info[10], okm[42], expect[42];
        memset(ikm, 0x0b, sizeof ikm);
        for (size_t i = 0; i < sizeof salt; i++)
                salt[i] = (uint8_t) i;
        for (size_t i = 0; i < sizeof info; i++)
                info[i] = (uint8_t) (0xf0 + i);

        ck_assert_int_eq(crypto_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info, okm, sizeof okm), 0);
        unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865", expect,
              sizeof expect);
        ck_assert_mem_eq(okm, expect, sizeof okm);

        ck_assert_int_eq(crypto_hkdf_sha256(ikm, sizeof ikm, NULL, 0, "", 0, okm, sizeof okm), 0);
        unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8", expect,
              sizeof expect);
        ck_assert_mem_eq(okm, expect, sizeof okm);
}
END_TEST

/* RFC 4231, test case 2 */
START_TEST(test_hmac_rfc4231) {
        uint8_t mac[CRYPTO_HMAC_SIZE], expect[CRYPTO_HMAC_SIZE];
        const char *data = "what do ya want for nothing?";
        ck_assert_int_eq(crypto_hmac_sha256("Jefe", 4, data, strlen(data), mac), 0);
        unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", expect, sizeof expect);
        ck_assert_mem_eq(mac, expect, sizeof mac);
}
END_TEST

START_TEST(test_seal_roundtrip) {
        const char *plain = "the secret key of a district";
        uint8_t *s1 = NULL, *s2 = NULL;
        size_t n1 = 0, n2 = 0, size = 0;
        char *out = NULL;

        ck_assert_int_eq(crypto_seal(key_a, "aad", 3, plain, strlen(plain), &s1, &n1), 0);
        ck_assert_int_eq(crypto_seal(key_a, "aad", 3, plain, strlen(plain), &s2, &n2), 0);
        ck_assert_uint_eq(n1, strlen(plain) + CRYPTO_SEAL_OVERHEAD);
        ck_assert_uint_eq(n1, n2);
        ck_assert_uint_eq(s1[0], CRYPTO_SEAL_VERSION);
        /* a fresh nonce each time: the same plaintext never seals the same */
        ck_assert(memcmp(s1 + 1, s2 + 1, CRYPTO_NONCE_SIZE) != 0);
        ck_assert(memcmp(s1, s2, n1) != 0);
        /* no plaintext in the blob */
        ck_assert_ptr_null(memmem(s1, n1, "secret", 6));

        ck_assert_int_eq(crypto_open(key_a, "aad", 3, s1, n1, &out, &size), 0);
        ck_assert_uint_eq(size, strlen(plain));
        ck_assert_str_eq(out, plain);
        crypto_wipe_free(out, size + 1);
        ck_assert_int_eq(crypto_open(key_a, "aad", 3, s2, n2, &out, &size), 0);
        ck_assert_str_eq(out, plain);
        crypto_wipe_free(out, size + 1);
        free(s1);
        free(s2);

        /* empty plaintext and empty aad */
        ck_assert_int_eq(crypto_seal(key_a, NULL, 0, "", 0, &s1, &n1), 0);
        ck_assert_uint_eq(n1, CRYPTO_SEAL_OVERHEAD);
        ck_assert_int_eq(crypto_open(key_a, NULL, 0, s1, n1, &out, &size), 0);
        ck_assert_uint_eq(size, 0);
        ck_assert_str_eq(out, "");
        crypto_wipe_free(out, 1);
        free(s1);

        /* binary plaintext with NUL bytes */
        const uint8_t bin[] = { 0, 1, 0, 255, 0 };
        ck_assert_int_eq(crypto_seal(key_a, "x", 1, bin, sizeof bin, &s1, &n1), 0);
        ck_assert_int_eq(crypto_open(key_a, "x", 1, s1, n1, &out, &size), 0);
        ck_assert_uint_eq(size, sizeof bin);
        ck_assert_mem_eq(out, bin, sizeof bin);
        crypto_wipe_free(out, size + 1);
        free(s1);

        ck_assert_int_eq(crypto_seal(key_a, NULL, 0, "x", CRYPTO_SEAL_MAX + 1, &s1, &n1), -E2BIG);
}
END_TEST

/* The blob is AES-256-GCM as documented: another implementation (EVP used
 * directly here) opens it with the version byte and aad as AAD. */
START_TEST(test_seal_format) {
        const char *plain = "interoperable";
        uint8_t *sealed = NULL, out[64];
        size_t n = 0;
        int len = 0, total = 0;

        ck_assert_int_eq(crypto_seal(key_a, "assoc", 5, plain, strlen(plain), &sealed, &n), 0);
        size_t ct_size = n - CRYPTO_SEAL_OVERHEAD;
        const uint8_t *nonce = sealed + 1, *ct = nonce + CRYPTO_NONCE_SIZE, *tag = ct + ct_size;

        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        ck_assert_ptr_nonnull(ctx);
        ck_assert_int_eq(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key_a, nonce), 1);
        ck_assert_int_eq(EVP_DecryptUpdate(ctx, NULL, &len, sealed, 1), 1);
        ck_assert_int_eq(EVP_DecryptUpdate(ctx, NULL, &len, (const uint8_t *) "assoc", 5), 1);
        ck_assert_int_eq(EVP_DecryptUpdate(ctx, out, &len, ct, (int) ct_size), 1);
        total = len;
        ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_SIZE, (void *) tag), 1);
        ck_assert_int_eq(EVP_DecryptFinal_ex(ctx, out + total, &len), 1);
        total += len;
        EVP_CIPHER_CTX_free(ctx);
        ck_assert_int_eq(total, (int) strlen(plain));
        ck_assert_mem_eq(out, plain, strlen(plain));
        free(sealed);
}
END_TEST

START_TEST(test_open_rejects) {
        const char *plain = "0123456789abcdef";
        uint8_t *sealed = NULL;
        size_t n = 0, size = 4242;
        char *out = (char *) 0x1;

        ck_assert_int_eq(crypto_seal(key_a, "aad", 3, plain, strlen(plain), &sealed, &n), 0);

        /* wrong key, wrong or missing aad */
        ck_assert_int_eq(crypto_open(key_b, "aad", 3, sealed, n, &out, &size), -EBADMSG);
        ck_assert_int_eq(crypto_open(key_a, "aae", 3, sealed, n, &out, &size), -EBADMSG);
        ck_assert_int_eq(crypto_open(key_a, "aad", 2, sealed, n, &out, &size), -EBADMSG);
        ck_assert_int_eq(crypto_open(key_a, NULL, 0, sealed, n, &out, &size), -EBADMSG);

        /* every single bit flipped, anywhere in the blob */
        for (size_t i = 0; i < n; i++)
                for (int bit = 0; bit < 8; bit++) {
                        sealed[i] ^= (uint8_t) (1u << bit);
                        int r = crypto_open(key_a, "aad", 3, sealed, n, &out, &size);
                        check_loop(r == -EBADMSG, "flipping bit %d of byte %zu gave %d", bit, i, r);
                        sealed[i] ^= (uint8_t) (1u << bit);
                }
        /* every truncation, and an appended byte */
        for (size_t k = 0; k < n; k++) {
                int r = crypto_open(key_a, "aad", 3, sealed, k, &out, &size);
                check_loop(r == -EBADMSG, "truncated to %zu gave %d", k, r);
        }
        uint8_t *longer = malloc(n + 1);
        memcpy(longer, sealed, n);
        longer[n] = 0;
        ck_assert_int_eq(crypto_open(key_a, "aad", 3, longer, n + 1, &out, &size), -EBADMSG);
        free(longer);
        ck_assert_int_eq(crypto_open(key_a, "aad", 3, NULL, 0, &out, &size), -EBADMSG);

        /* outputs untouched by failures */
        ck_assert_ptr_eq(out, (char *) 0x1);
        ck_assert_uint_eq(size, 4242);

        /* the original still opens */
        ck_assert_int_eq(crypto_open(key_a, "aad", 3, sealed, n, &out, &size), 0);
        ck_assert_str_eq(out, plain);
        crypto_wipe_free(out, size + 1);
        free(sealed);
}
END_TEST

START_TEST(test_keys_derive) {
        CryptoKeys a, a2, b;
        ck_assert_int_eq(crypto_keys_derive(key_a, &a), 0);
        ck_assert_int_eq(crypto_keys_derive(key_a, &a2), 0);
        ck_assert_int_eq(crypto_keys_derive(key_b, &b), 0);
        ck_assert_mem_eq(&a, &a2, sizeof a);
        ck_assert(memcmp(a.secret, b.secret, CRYPTO_KEY_SIZE) != 0);
        ck_assert(memcmp(a.check, b.check, CRYPTO_KEY_SIZE) != 0);
        /* independent keys, none equal to the master key */
        ck_assert(memcmp(a.secret, a.fingerprint, CRYPTO_KEY_SIZE) != 0);
        ck_assert(memcmp(a.secret, a.check, CRYPTO_KEY_SIZE) != 0);
        ck_assert(memcmp(a.fingerprint, a.check, CRYPTO_KEY_SIZE) != 0);
        ck_assert(memcmp(a.secret, key_a, CRYPTO_KEY_SIZE) != 0);
        ck_assert(memcmp(a.check, key_a, CRYPTO_KEY_SIZE) != 0);
        crypto_keys_wipe(&a);
        uint8_t zero[sizeof a] = {};
        ck_assert_mem_eq(&a, zero, sizeof a);
}
END_TEST

START_TEST(test_credential_binding) {
        CryptoKeys k, other;
        uint8_t *sealed = NULL;
        size_t n = 0, size = 0;
        char *out = NULL;
        const char *secret = "s3cr3t-value";

        ck_assert_int_eq(crypto_keys_derive(key_a, &k), 0);
        ck_assert_int_eq(crypto_keys_derive(key_b, &other), 0);
        ck_assert_int_eq(crypto_credential_seal(&k, "district", 7, secret, strlen(secret), &sealed, &n), 0);

        ck_assert_int_eq(crypto_credential_open(&k, "district", 7, sealed, n, &out, &size), 0);
        ck_assert_str_eq(out, secret);
        crypto_wipe_free(out, size + 1);

        /* another link, another generation, another master key */
        ck_assert_int_eq(crypto_credential_open(&k, "school-a", 7, sealed, n, &out, &size), -EBADMSG);
        ck_assert_int_eq(crypto_credential_open(&k, "district", 8, sealed, n, &out, &size), -EBADMSG);
        ck_assert_int_eq(crypto_credential_open(&k, "district", 6, sealed, n, &out, &size), -EBADMSG);
        ck_assert_int_eq(crypto_credential_open(&k, "district", 7ULL | (1ULL << 32), sealed, n, &out, &size), -EBADMSG);
        ck_assert_int_eq(crypto_credential_open(&k, "distric", 7, sealed, n, &out, &size), -EBADMSG);
        ck_assert_int_eq(crypto_credential_open(&other, "district", 7, sealed, n, &out, &size), -EBADMSG);
        /* the plain secret key (not the derived one) does not open it either */
        ck_assert_int_eq(crypto_open(key_a, NULL, 0, sealed, n, &out, &size), -EBADMSG);
        free(sealed);
}
END_TEST

START_TEST(test_fingerprint) {
        CryptoKeys k, other;
        char f1[CRYPTO_FINGERPRINT_MAX], f2[CRYPTO_FINGERPRINT_MAX], f3[CRYPTO_FINGERPRINT_MAX],
                f4[CRYPTO_FINGERPRINT_MAX];
        uint8_t mac[CRYPTO_HMAC_SIZE];
        char hex[2 * CRYPTO_HMAC_SIZE + 1];

        ck_assert_int_eq(crypto_keys_derive(key_a, &k), 0);
        ck_assert_int_eq(crypto_keys_derive(key_b, &other), 0);
        ck_assert_int_eq(crypto_fingerprint(&k, "alpha", 5, f1), 0);
        ck_assert_int_eq(crypto_fingerprint(&k, "alpha", 5, f2), 0);
        ck_assert_int_eq(crypto_fingerprint(&k, "alphb", 5, f3), 0);
        ck_assert_int_eq(crypto_fingerprint(&other, "alpha", 5, f4), 0);
        ck_assert_uint_eq(strlen(f1), 16);
        ck_assert_uint_eq(strspn(f1, "0123456789abcdef"), 16);
        ck_assert_str_eq(f1, f2);
        ck_assert_str_ne(f1, f3);
        ck_assert_str_ne(f1, f4);
        /* it is the HMAC-SHA256 under the fingerprint key, truncated */
        ck_assert_int_eq(crypto_hmac_sha256(k.fingerprint, sizeof k.fingerprint, "alpha", 5, mac), 0);
        crypto_hex(mac, sizeof mac, hex);
        ck_assert(strneq(hex, f1, 16));
        /* and not an unkeyed hash */
        ck_assert(!strneq("8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8", f1, 16));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("crypto");
        TCase *tc = tcase_create("core");
        ADD_TESTS(tc, test_hex_equal, test_random, test_hkdf_rfc5869, test_hmac_rfc4231, test_seal_roundtrip,
                  test_seal_format, test_open_rejects, test_keys_derive, test_credential_binding, test_fingerprint);
        suite_add_tcase(s, tc);
        return s;
}

TEST_MAIN(suite)
