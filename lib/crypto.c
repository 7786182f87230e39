/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "crypto.h"

#include <limits.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#define LABEL_SECRET "tomslink/v1/credential-secret"
#define LABEL_FINGERPRINT "tomslink/v1/credential-fingerprint"
#define LABEL_CHECK "tomslink/v1/key-check"
#define AAD_PREFIX "tomslink/v1/credential"

/* OpenSSL's error queue becomes an errno; the queue is emptied so that
 * nothing stale reaches another user of the library (libcurl). */
static int crypto_error(void) {
        unsigned long e = ERR_peek_last_error();
        ERR_clear_error();
        if (e != 0 && ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
                return -ENOMEM;
        return -EIO;
}

static void evp_cipher_ctx_freep(EVP_CIPHER_CTX **c) {
        EVP_CIPHER_CTX_free(*c);
}

int crypto_random(void *buf, size_t n) {
        if (n > INT_MAX)
                return -EINVAL;
        if (RAND_bytes(buf, (int) n) != 1)
                return crypto_error();
        return 0;
}

void crypto_wipe(void *p, size_t n) {
        if (p)
                OPENSSL_cleanse(p, n);
}

void crypto_wipe_free(void *p, size_t n) {
        if (!p)
                return;
        OPENSSL_cleanse(p, n);
        free(p);
}

bool crypto_equal(const void *a, const void *b, size_t n) {
        return CRYPTO_memcmp(a, b, n) == 0;
}

char *crypto_hex(const void *p, size_t n, char *buf) {
        static const char digits[] = "0123456789abcdef";
        const uint8_t *b = p;
        for (size_t i = 0; i < n; i++) {
                buf[2 * i] = digits[b[i] >> 4];
                buf[2 * i + 1] = digits[b[i] & 15];
        }
        buf[2 * n] = '\0';
        return buf;
}

int crypto_hkdf_sha256(const void *key, size_t key_size, const void *salt, size_t salt_size, const void *info,
                       size_t info_size, void *ret, size_t ret_size) {
        OSSL_PARAM params[5], *p = params;
        int r = 0;

        EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
        if (!kdf)
                return crypto_error();
        EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
        EVP_KDF_free(kdf);
        if (!ctx)
                return crypto_error();

        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0);
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) key, key_size);
        if (salt)
                *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *) salt, salt_size);
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) info, info_size);
        *p = OSSL_PARAM_construct_end();

        if (EVP_KDF_derive(ctx, ret, ret_size, params) != 1)
                r = crypto_error();
        EVP_KDF_CTX_free(ctx);
        return r;
}

int crypto_hmac_sha256(const void *key, size_t key_size, const void *data, size_t size,
                       uint8_t ret[CRYPTO_HMAC_SIZE]) {
        unsigned len = 0;
        if (key_size > INT_MAX)
                return -EINVAL;
        /* HMAC() with a NULL data pointer is fine for size 0, but be explicit */
        static const uint8_t empty[1];
        if (!HMAC(EVP_sha256(), key, (int) key_size, size ? data : empty, size, ret, &len))
                return crypto_error();
        if (len != CRYPTO_HMAC_SIZE)
                return -EIO;
        return 0;
}

int crypto_seal(const uint8_t key[CRYPTO_KEY_SIZE], const void *aad, size_t aad_size, const void *plain,
                size_t plain_size, uint8_t **ret, size_t *ret_size) {
        uint8_t version = CRYPTO_SEAL_VERSION;
        int len, r;

        if (plain_size > CRYPTO_SEAL_MAX || aad_size > INT_MAX)
                return -E2BIG;

        size_t size = plain_size + CRYPTO_SEAL_OVERHEAD;
        _cleanup_free_ uint8_t *out = malloc(size);
        if (!out)
                return -ENOMEM;
        uint8_t *nonce = out + 1, *ct = nonce + CRYPTO_NONCE_SIZE, *tag = ct + plain_size;
        out[0] = version;
        r = crypto_random(nonce, CRYPTO_NONCE_SIZE);
        if (r < 0)
                return r;

        _cleanup_(evp_cipher_ctx_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return crypto_error();
        if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPTO_NONCE_SIZE, NULL) != 1 ||
            EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
            EVP_EncryptUpdate(ctx, NULL, &len, &version, 1) != 1 ||
            (aad_size > 0 && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int) aad_size) != 1) ||
            (plain_size > 0 && EVP_EncryptUpdate(ctx, ct, &len, plain, (int) plain_size) != 1) ||
            EVP_EncryptFinal_ex(ctx, ct + plain_size, &len) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_SIZE, tag) != 1)
                return crypto_error();

        *ret = TAKE_PTR(out);
        *ret_size = size;
        return 0;
}

int crypto_open(const uint8_t key[CRYPTO_KEY_SIZE], const void *aad, size_t aad_size, const void *sealed,
                size_t sealed_size, char **ret, size_t *ret_size) {
        const uint8_t *in = sealed;
        int len;

        if (!in || sealed_size < CRYPTO_SEAL_OVERHEAD || in[0] != CRYPTO_SEAL_VERSION)
                return -EBADMSG;
        size_t size = sealed_size - CRYPTO_SEAL_OVERHEAD;
        if (size > CRYPTO_SEAL_MAX || aad_size > INT_MAX)
                return -EBADMSG;
        const uint8_t *nonce = in + 1, *ct = nonce + CRYPTO_NONCE_SIZE, *tag = ct + size;

        char *out = malloc(size + 1);
        if (!out)
                return -ENOMEM;

        _cleanup_(evp_cipher_ctx_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        if (!ctx) {
                free(out);
                return crypto_error();
        }
        if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPTO_NONCE_SIZE, NULL) != 1 ||
            EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
            EVP_DecryptUpdate(ctx, NULL, &len, in, 1) != 1 ||
            (aad_size > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int) aad_size) != 1) ||
            (size > 0 && EVP_DecryptUpdate(ctx, (uint8_t *) out, &len, ct, (int) size) != 1) ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_SIZE, (void *) tag) != 1) {
                crypto_wipe_free(out, size + 1);
                return crypto_error();
        }
        if (EVP_DecryptFinal_ex(ctx, (uint8_t *) out + size, &len) != 1) {
                /* the tag did not match: nothing of the plaintext leaves */
                crypto_wipe_free(out, size + 1);
                ERR_clear_error();
                return -EBADMSG;
        }
        out[size] = '\0';
        *ret = out;
        *ret_size = size;
        return 0;
}

int crypto_keys_derive(const uint8_t master[CRYPTO_KEY_SIZE], CryptoKeys *ret) {
        CryptoKeys k;
        int r;

        r = crypto_hkdf_sha256(master, CRYPTO_KEY_SIZE, NULL, 0, LABEL_SECRET, strlen(LABEL_SECRET), k.secret,
                               sizeof k.secret);
        if (r >= 0)
                r = crypto_hkdf_sha256(master, CRYPTO_KEY_SIZE, NULL, 0, LABEL_FINGERPRINT,
                                       strlen(LABEL_FINGERPRINT), k.fingerprint, sizeof k.fingerprint);
        if (r >= 0)
                r = crypto_hkdf_sha256(master, CRYPTO_KEY_SIZE, NULL, 0, LABEL_CHECK, strlen(LABEL_CHECK), k.check,
                                       sizeof k.check);
        if (r >= 0)
                *ret = k;
        crypto_keys_wipe(&k);
        return r;
}

void crypto_keys_wipe(CryptoKeys *k) {
        crypto_wipe(k, sizeof *k);
}

/* "tomslink/v1/credential" NUL, generation (64-bit big-endian), link name:
 * fixed-size fields before the only variable one, so no two (link,
 * generation) pairs share an encoding. */
static int credential_aad(const char *link, uint64_t generation, uint8_t **ret, size_t *ret_size) {
        size_t n = strlen(link), size = sizeof AAD_PREFIX + 8 + n;
        uint8_t *a = malloc(size), *p;
        if (!a)
                return -ENOMEM;
        memcpy(a, AAD_PREFIX, sizeof AAD_PREFIX);
        p = a + sizeof AAD_PREFIX;
        for (int i = 7; i >= 0; i--)
                *p++ = (uint8_t) (generation >> (8 * i));
        memcpy(p, link, n);
        *ret = a;
        *ret_size = size;
        return 0;
}

int crypto_credential_seal(const CryptoKeys *k, const char *link, uint64_t generation, const void *secret,
                           size_t size, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *aad = NULL;
        size_t aad_size;
        int r = credential_aad(link, generation, &aad, &aad_size);
        if (r < 0)
                return r;
        return crypto_seal(k->secret, aad, aad_size, secret, size, ret, ret_size);
}

int crypto_credential_open(const CryptoKeys *k, const char *link, uint64_t generation, const void *sealed,
                           size_t sealed_size, char **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *aad = NULL;
        size_t aad_size;
        int r = credential_aad(link, generation, &aad, &aad_size);
        if (r < 0)
                return r;
        return crypto_open(k->secret, aad, aad_size, sealed, sealed_size, ret, ret_size);
}

int crypto_fingerprint(const CryptoKeys *k, const void *secret, size_t size, char ret[CRYPTO_FINGERPRINT_MAX]) {
        uint8_t mac[CRYPTO_HMAC_SIZE];
        int r = crypto_hmac_sha256(k->fingerprint, sizeof k->fingerprint, secret, size, mac);
        if (r < 0)
                return r;
        crypto_hex(mac, CRYPTO_FINGERPRINT_SIZE, ret);
        crypto_wipe(mac, sizeof mac);
        return 0;
}
