/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Credential crypto: AES-256-GCM sealing with associated data, HKDF-SHA256
 * key derivation and HMAC-SHA256 fingerprints, over OpenSSL's EVP API.
 * OpenSSL's error queue is translated here (and cleared): -EBADMSG for a
 * ciphertext that does not authenticate, -ENOMEM, else -EIO.
 *
 * A sealed blob is: version byte (1) || 96-bit random nonce || ciphertext
 * || 128-bit tag; the version byte is authenticated together with the
 * caller's associated data. */

#include "macro.h"

#define CRYPTO_KEY_SIZE 32
#define CRYPTO_NONCE_SIZE 12
#define CRYPTO_TAG_SIZE 16
#define CRYPTO_SEAL_VERSION 1
#define CRYPTO_SEAL_OVERHEAD (1 + CRYPTO_NONCE_SIZE + CRYPTO_TAG_SIZE)
#define CRYPTO_SEAL_MAX (1024 * 1024)   /* largest plaintext accepted */
#define CRYPTO_HMAC_SIZE 32
#define CRYPTO_FINGERPRINT_SIZE 8       /* bytes of the HMAC kept */
#define CRYPTO_FINGERPRINT_MAX (2 * CRYPTO_FINGERPRINT_SIZE + 1)

/* ---- primitives ------------------------------------------------------------ */

int crypto_random(void *buf, size_t n);
/* Wipes n bytes (not optimised away). */
void crypto_wipe(void *p, size_t n);
/* Wipes and frees; accepts NULL. */
void crypto_wipe_free(void *p, size_t n);
/* Constant-time comparison. */
bool crypto_equal(const void *a, const void *b, size_t n);
/* Lower-case hex of n bytes into buf (2n+1 bytes); returns buf. */
char *crypto_hex(const void *p, size_t n, char *buf);

/* RFC 5869 HKDF with SHA-256; salt may be NULL. */
int crypto_hkdf_sha256(const void *key, size_t key_size, const void *salt, size_t salt_size, const void *info,
                       size_t info_size, void *ret, size_t ret_size);
int crypto_hmac_sha256(const void *key, size_t key_size, const void *data, size_t size,
                       uint8_t ret[CRYPTO_HMAC_SIZE]);

/* Encrypts plain (plain_size may be 0) under key with a fresh random nonce,
 * binding aad; *ret is malloc()ed, *ret_size = plain_size + CRYPTO_SEAL_OVERHEAD. */
int crypto_seal(const uint8_t key[CRYPTO_KEY_SIZE], const void *aad, size_t aad_size, const void *plain,
                size_t plain_size, uint8_t **ret, size_t *ret_size);
/* Decrypts and authenticates a sealed blob against aad. The plaintext comes
 * NUL-terminated in a buffer of *ret_size + 1 bytes that the caller wipes
 * (crypto_wipe_free(p, size + 1)). -EBADMSG for anything that does not
 * authenticate: a wrong key, other aad, a modified or truncated blob. */
int crypto_open(const uint8_t key[CRYPTO_KEY_SIZE], const void *aad, size_t aad_size, const void *sealed,
                size_t sealed_size, char **ret, size_t *ret_size);

/* ---- the credential scheme ----------------------------------------------- */

/* The keys derived from the master key (HKDF-SHA256, one label each), so
 * that the master key itself encrypts nothing and the value stored to
 * recognise it reveals nothing about the others. */
typedef struct CryptoKeys {
        uint8_t secret[CRYPTO_KEY_SIZE];        /* AES-256-GCM key for credential secrets */
        uint8_t fingerprint[CRYPTO_KEY_SIZE];   /* HMAC-SHA256 key for fingerprints */
        uint8_t check[CRYPTO_KEY_SIZE];         /* key-check value, stored in the database */
} CryptoKeys;

int crypto_keys_derive(const uint8_t master[CRYPTO_KEY_SIZE], CryptoKeys *ret);
void crypto_keys_wipe(CryptoKeys *k);

/* A credential secret sealed with the link name and the credential
 * generation as associated data: a blob copied to another link or another
 * generation does not open (-EBADMSG). */
int crypto_credential_seal(const CryptoKeys *k, const char *link, uint64_t generation, const void *secret,
                           size_t size, uint8_t **ret, size_t *ret_size);
int crypto_credential_open(const CryptoKeys *k, const char *link, uint64_t generation, const void *sealed,
                           size_t sealed_size, char **ret, size_t *ret_size);

/* HMAC-SHA256 of the secret under the fingerprint key, first 64 bits as 16
 * hex digits: equal secrets give equal fingerprints, and nothing about the
 * secret can be learnt from it without the key. */
int crypto_fingerprint(const CryptoKeys *k, const void *secret, size_t size, char ret[CRYPTO_FINGERPRINT_MAX]);
