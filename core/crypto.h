/*
 * LS11CLOUD - the GOST crypto API of core/.
 *
 * The only door to OpenSSL 3 + gost-engine.  Everything behind it lives in core/crypto-*.c; no
 * other file of the project includes an OpenSSL header.  The backend holds its own library
 * context (gostprov + default providers) and its own handle on the "gost" ENGINE, and never
 * touches the host process's OpenSSL defaults: the module that uses it is loaded into browsers
 * and into programs that use OpenSSL themselves.
 *
 * Conventions:
 *  - Every function returns LS_OK (0) or a negative LS_ERR_* code (core/errors.h) unless it
 *    says otherwise.  On failure, output buffers hold no partial secret.
 *  - Every input length is validated before the backend is called (the engine aborts the
 *    process on some bad lengths); a wrong length gives LS_ERR_BAD_LENGTH.
 *  - All functions are safe to call from many threads at once once ls_crypto_init() returned.
 *  - Contexts (_new/_free) are not shared between threads without the caller's lock.
 *  - Byte orders follow the PKCS#11 value formats: GOST public keys are LE(x) || LE(y),
 *    private scalars are little-endian, signatures are s || r big-endian (as gost-engine,
 *    CryptoPro and tokens produce), digests are the bytes Streebog outputs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_CRYPTO_H
#define LS11_CORE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* ---------------------------------------------------------------------------------------------
 * Library set-up, randomness, secret hygiene
 * ------------------------------------------------------------------------------------------- */

/*
 * Loads the providers and the engine into a private context and warms every curve (the engine
 * caches curve state without a lock).  Idempotent and thread-safe; every other function calls
 * it implicitly, so calling it is only needed to report a set-up failure early.
 */
int ls_crypto_init(void);

/* A one-line description of the backend (library versions), static storage. */
const char *ls_crypto_backend_version(void);

/* Fills @buf with @len bytes from OpenSSL's DRBG (in our library context). */
int ls_random_bytes(void *buf, size_t len);

/* Mixes caller-supplied bytes into the DRBG (C_SeedRandom). */
int ls_random_seed(const void *buf, size_t len);

/* Wipes @len bytes at @p in a way the compiler cannot elide.  NULL is accepted. */
void ls_wipe(void *p, size_t len);

/* Constant-time comparison: true when the @len bytes at @a and @b are equal. */
bool ls_ct_equal(const void *a, const void *b, size_t len);

/* ---------------------------------------------------------------------------------------------
 * Digests (GOST R 34.11-2012 Streebog, GOST R 34.11-94 with CryptoPro parameters)
 * ------------------------------------------------------------------------------------------- */

typedef enum {
	LS_MD_STREEBOG256 = 1,
	LS_MD_STREEBOG512 = 2,
	LS_MD_GOST94 = 3, /* GOST R 34.11-94, id-GostR3411-94-CryptoProParamSet */
	LS_MD_SHA1 = 4,   /* only for what PKCS#11 defines with it: CKA_CHECK_VALUE of certificates
	                   * and generic secrets; never for signatures or keys */
} ls_md_alg;

#define LS_MD_MAX_SIZE 64

/* Output size in bytes of @alg, 0 when unknown. */
size_t ls_md_size(ls_md_alg alg);

typedef struct ls_md_ctx ls_md_ctx;

/* Starts a digest.  *@out is set only on success. */
int ls_md_new(ls_md_alg alg, ls_md_ctx **out);
int ls_md_update(ls_md_ctx *ctx, const void *data, size_t len);
/* Writes ls_md_size() bytes to @out and finishes; the context must then be freed or reset. */
int ls_md_final(ls_md_ctx *ctx, uint8_t *out, size_t out_len);
/* Restarts @ctx for a new message with the same algorithm. */
int ls_md_reset(ls_md_ctx *ctx);
/* Copies a running digest (for C_DigestKey/operation state and hash-and-sign splitting). */
int ls_md_dup(const ls_md_ctx *ctx, ls_md_ctx **out);
void ls_md_free(ls_md_ctx *ctx);
/* One-shot digest; @out_len must be at least ls_md_size(alg). */
int ls_md(ls_md_alg alg, const void *data, size_t len, uint8_t *out, size_t out_len);

/* ---------------------------------------------------------------------------------------------
 * HMAC (RFC 7836: HMAC_GOSTR3411_2012_256/512; also HMAC over GOST R 34.11-94)
 * ------------------------------------------------------------------------------------------- */

typedef struct ls_hmac_ctx ls_hmac_ctx;

int ls_hmac_new(ls_md_alg alg, const uint8_t *key, size_t key_len, ls_hmac_ctx **out);
int ls_hmac_update(ls_hmac_ctx *ctx, const void *data, size_t len);
/* Writes ls_md_size(alg) bytes. */
int ls_hmac_final(ls_hmac_ctx *ctx, uint8_t *out, size_t out_len);
void ls_hmac_free(ls_hmac_ctx *ctx);
int ls_hmac(ls_md_alg alg, const uint8_t *key, size_t key_len, const void *data, size_t len,
            uint8_t *out, size_t out_len);

/* ---------------------------------------------------------------------------------------------
 * Key derivation
 * ------------------------------------------------------------------------------------------- */

/* PBKDF2 with PRF HMAC_GOSTR3411_2012_512 (R 50.1.111-2016).  1 <= iterations <= 10^8. */
int ls_pbkdf2_streebog512(const void *password, size_t password_len, const uint8_t *salt,
                          size_t salt_len, uint32_t iterations, uint8_t *out, size_t out_len);

/* KDF_GOSTR3411_2012_256 (RFC 7836 4.4): HMAC256(K, 0x01 | label | 0x00 | seed | 0x01 0x00). */
int ls_kdf_gostr3411_2012_256(const uint8_t key[32], const uint8_t *label, size_t label_len,
                              const uint8_t *seed, size_t seed_len, uint8_t out[32]);

/*
 * KDF_TREE_GOSTR3411_2012_256 (RFC 7836 4.5) with counter width @r bytes (1..4) and output
 * length @out_len bytes (1 .. 2^16 / 8 - 1 and at most (2^(8r) - 1) * 32).
 */
int ls_kdf_tree_gostr3411_2012_256(const uint8_t key[32], const uint8_t *label, size_t label_len,
                                   const uint8_t *seed, size_t seed_len, unsigned r, uint8_t *out,
                                   size_t out_len);

/* ---------------------------------------------------------------------------------------------
 * Block ciphers and modes (GOST R 34.12-2015 / 34.13-2015, GOST 28147-89)
 * ------------------------------------------------------------------------------------------- */

typedef enum {
	LS_CIPHER_KUZNYECHIK = 1, /* 128-bit block, 256-bit key */
	LS_CIPHER_MAGMA = 2,      /* 64-bit block, 256-bit key (34.12-2015 byte order) */
	LS_CIPHER_GOST89 = 3,     /* GOST 28147-89, 64-bit block, 256-bit key, S-box below */
} ls_cipher_alg;

typedef enum {
	LS_GOST89_PARAM_CPA = 1, /* id-Gost28147-89-CryptoPro-A-ParamSet 1.2.643.2.2.31.1 */
	LS_GOST89_PARAM_Z = 2,   /* id-tc26-gost-28147-param-Z 1.2.643.7.1.2.5.1.1 */
} ls_gost89_param;

typedef enum {
	LS_MODE_ECB = 1,
	LS_MODE_CBC = 2,
	LS_MODE_CTR = 3, /* 34.13 CTR for Kuznyechik/Magma; CNT (CryptoPro counter) for GOST89 */
	LS_MODE_OFB = 4,
	LS_MODE_CFB = 5, /* full-block CFB */
	LS_MODE_CTR_ACPKM = 6, /* R 1323565.1.017-2018 CTR-ACPKM, Kuznyechik and Magma */
} ls_cipher_mode;

#define LS_CIPHER_KEY_SIZE 32
#define LS_CIPHER_MAX_BLOCK 16

typedef struct {
	ls_cipher_alg alg;
	ls_cipher_mode mode;
	ls_gost89_param gost89_param; /* GOST89 only; 0 means CryptoPro-A */
	bool encrypt;
	const uint8_t *key;           /* LS_CIPHER_KEY_SIZE bytes */
	const uint8_t *iv;            /* ECB: none; CTR/CTR_ACPKM: half a block; others: a block */
	size_t iv_len;
	size_t acpkm_section;         /* CTR_ACPKM section size in bytes, multiple of the block; 0 = default (4 KiB for Kuznyechik, 1 KiB for Magma) */
} ls_cipher_params;

/* Block size in bytes of @alg, 0 when unknown. */
size_t ls_cipher_block_size(ls_cipher_alg alg);

typedef struct ls_cipher_ctx ls_cipher_ctx;

int ls_cipher_new(const ls_cipher_params *params, ls_cipher_ctx **out);
/*
 * Processes @in_len bytes.  ECB/CBC accept only whole blocks over the life of the context
 * (LS_ERR_BAD_LENGTH otherwise); stream modes accept any length.  @out must hold @in_len bytes;
 * *@out_len gets the number written (always @in_len).
 */
int ls_cipher_update(ls_cipher_ctx *ctx, const uint8_t *in, size_t in_len, uint8_t *out,
                     size_t *out_len);
/*
 * Restarts @ctx for a new message under a new @iv (same length rule as ls_cipher_new) with the
 * same key and direction, without reallocating.  Kuznyechik CTR (and the Magma/GOST 28147-89
 * modes built on the block primitive: ECB, Magma OFB/CFB) keep their key schedule, so this is
 * far cheaper than _free + _new (gost-engine's Kuznyechik key schedule costs ~30 us); the modes
 * run whole by gostprov (CBC, Kuznyechik OFB/CFB, CTR-ACPKM, Magma CTR, GOST89 CNT/CFB) re-key
 * inside the backend.  Also clears the partial-block state of ECB/CBC.
 */
int ls_cipher_reset(ls_cipher_ctx *ctx, const uint8_t *iv, size_t iv_len);
/* Ends the operation: LS_ERR_BAD_LENGTH when ECB/CBC saw a partial block.  Writes nothing. */
int ls_cipher_final(ls_cipher_ctx *ctx);
void ls_cipher_free(ls_cipher_ctx *ctx);
/* One-shot: new + update + final. */
int ls_cipher(const ls_cipher_params *params, const uint8_t *in, size_t in_len, uint8_t *out);

/* ---------------------------------------------------------------------------------------------
 * MACs: OMAC/CMAC (34.13-2015) for Kuznyechik and Magma, IMIT for GOST 28147-89
 * ------------------------------------------------------------------------------------------- */

typedef struct ls_mac_ctx ls_mac_ctx;

/* @param is the GOST89 S-box (ignored for other ciphers; 0 = CryptoPro-A). */
int ls_mac_new(ls_cipher_alg alg, ls_gost89_param param, const uint8_t key[32], ls_mac_ctx **out);
int ls_mac_update(ls_mac_ctx *ctx, const void *data, size_t len);
/* Full tag size: 16 (Kuznyechik), 8 (Magma), 4 (GOST89 IMIT). */
size_t ls_mac_size(ls_cipher_alg alg);
/* Writes the first @tag_len (1..ls_mac_size) bytes of the tag. */
int ls_mac_final(ls_mac_ctx *ctx, uint8_t *tag, size_t tag_len);
/* Restarts the MAC with the same key. */
int ls_mac_reset(ls_mac_ctx *ctx);
void ls_mac_free(ls_mac_ctx *ctx);
int ls_mac(ls_cipher_alg alg, ls_gost89_param param, const uint8_t key[32], const void *data,
           size_t len, uint8_t *tag, size_t tag_len);

/* ---------------------------------------------------------------------------------------------
 * MGM AEAD (RFC 9058), Kuznyechik and Magma; built on the block primitive
 * ------------------------------------------------------------------------------------------- */

/*
 * @nonce is one block whose most significant bit must be 0 (LS_ERR_INVALID_ARG otherwise).
 * @tag_len: 4..16 (Kuznyechik) or 4..8 (Magma).  @ct receives @pt_len bytes.
 */
int ls_mgm_encrypt(ls_cipher_alg alg, const uint8_t key[32], const uint8_t *nonce,
                   size_t nonce_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                   size_t pt_len, uint8_t *ct, uint8_t *tag, size_t tag_len);
/* Verifies the tag in constant time before writing any plaintext: LS_ERR_VERIFY_FAILED. */
int ls_mgm_decrypt(ls_cipher_alg alg, const uint8_t key[32], const uint8_t *nonce,
                   size_t nonce_len, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                   size_t ct_len, const uint8_t *tag, size_t tag_len, uint8_t *pt);

/*
 * A keyed MGM context for many messages under one key: the block cipher's key schedule (tens of
 * microseconds for Kuznyechik in gost-engine) is paid once, not per message.  seal/open take the
 * same arguments and follow the same rules as ls_mgm_encrypt/ls_mgm_decrypt; @ct may equal @pt.
 * RFC 9058 limits: 0 < aad_len + text_len, and < 2^29 bytes in total for Magma.
 */
typedef struct ls_mgm_ctx ls_mgm_ctx;

int ls_mgm_new(ls_cipher_alg alg, const uint8_t key[32], ls_mgm_ctx **out);
int ls_mgm_seal(ls_mgm_ctx *ctx, const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
                size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct, uint8_t *tag,
                size_t tag_len);
int ls_mgm_open(ls_mgm_ctx *ctx, const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
                size_t aad_len, const uint8_t *ct, size_t ct_len, const uint8_t *tag,
                size_t tag_len, uint8_t *pt);
void ls_mgm_free(ls_mgm_ctx *ctx);

/* ---------------------------------------------------------------------------------------------
 * Key export/import KExp15/KImp15 (R 1323565.1.017-2018)
 * ------------------------------------------------------------------------------------------- */

/*
 * Wraps @key (@key_len bytes, 1..64) under @k_enc (CTR) and @k_mac (OMAC) with an @iv of half a
 * block: out = CTR(k_enc, iv, key || OMAC(k_mac, iv || key)).  *@out_len = key_len + block size.
 */
int ls_kexp15(ls_cipher_alg alg, const uint8_t *key, size_t key_len, const uint8_t k_mac[32],
              const uint8_t k_enc[32], const uint8_t *iv, size_t iv_len, uint8_t *out,
              size_t out_size, size_t *out_len);
/* Unwraps and checks the OMAC in constant time (LS_ERR_VERIFY_FAILED); writes @key only on success. */
int ls_kimp15(ls_cipher_alg alg, const uint8_t *wrapped, size_t wrapped_len,
              const uint8_t k_mac[32], const uint8_t k_enc[32], const uint8_t *iv, size_t iv_len,
              uint8_t *key, size_t key_size, size_t *key_len);

/* ---------------------------------------------------------------------------------------------
 * GOST R 34.10-2012: curves, keys, signatures, VKO, KEG
 * ------------------------------------------------------------------------------------------- */

/*
 * Parameter sets.  Several OIDs name one curve (tc26-256-B = CryptoPro-A = XchA, tc26-256-C =
 * CryptoPro-B, tc26-256-D = CryptoPro-C = XchB); the enum names the curve, and
 * ls_curve_from_oid() accepts every alias.
 */
typedef enum {
	LS_CURVE_TEST_256 = 1,  /* 1.2.643.2.2.35.0 (RFC 7091 examples; tests only) */
	LS_CURVE_CP_A = 2,      /* 1.2.643.2.2.35.1 = tc26-256-B = XchA */
	LS_CURVE_CP_B = 3,      /* 1.2.643.2.2.35.2 = tc26-256-C */
	LS_CURVE_CP_C = 4,      /* 1.2.643.2.2.35.3 = tc26-256-D = XchB */
	LS_CURVE_TC26_256_A = 5,/* 1.2.643.7.1.2.1.1.1 (twisted Edwards, cofactor 4) */
	LS_CURVE_TEST_512 = 6,  /* 1.2.643.7.1.2.1.2.0 (RFC 7091 examples; tests only) */
	LS_CURVE_TC26_512_A = 7,/* 1.2.643.7.1.2.1.2.1 */
	LS_CURVE_TC26_512_B = 8,/* 1.2.643.7.1.2.1.2.2 */
	LS_CURVE_TC26_512_C = 9,/* 1.2.643.7.1.2.1.2.3 (twisted Edwards, cofactor 4) */
} ls_curve;

/* Coordinate/scalar size in bytes (32 or 64), 0 when unknown. */
size_t ls_curve_size(ls_curve curve);
/* A short stable name ("tc26-256-A", "cp-A", ...). */
const char *ls_curve_name(ls_curve curve);
/* Maps a DER-encoded OID (06 len body) of any alias to the curve: LS_ERR_NOT_FOUND if unknown. */
int ls_curve_from_oid(const uint8_t *der, size_t der_len, ls_curve *out);
/* The canonical DER OID of @curve (tc26 OIDs for 2012 curves, CryptoPro for CP-*). */
int ls_curve_oid(ls_curve curve, const uint8_t **der, size_t *der_len);

typedef struct ls_gost_key ls_gost_key;

int ls_gost_key_generate(ls_curve curve, ls_gost_key **out);
/* From a little-endian private scalar of ls_curve_size() bytes; 0 < d < q, else LS_ERR_INVALID_ARG. */
int ls_gost_key_from_private(ls_curve curve, const uint8_t *d_le, size_t len, ls_gost_key **out);
/* From LE(x) || LE(y); the point must be on the curve and not the identity (LS_ERR_BAD_POINT). */
int ls_gost_key_from_public(ls_curve curve, const uint8_t *xy_le, size_t len, ls_gost_key **out);
ls_curve ls_gost_key_curve(const ls_gost_key *key);
bool ls_gost_key_has_private(const ls_gost_key *key);
/* LE(x) || LE(y), 2 * ls_curve_size() bytes. */
int ls_gost_key_public(const ls_gost_key *key, uint8_t *xy_le, size_t len);
/* Little-endian scalar, ls_curve_size() bytes; LS_ERR_STATE for a public-only key. */
int ls_gost_key_private(const ls_gost_key *key, uint8_t *d_le, size_t len);
/* DER SubjectPublicKeyInfo as gost-engine writes it; *@der is malloc'd, free with free(). */
int ls_gost_key_to_spki(const ls_gost_key *key, uint8_t **der, size_t *der_len);
/* DER PKCS#8 PrivateKeyInfo (engine format); *@der is malloc'd and must be freed with ls_free_secret(). */
int ls_gost_key_to_pkcs8(const ls_gost_key *key, uint8_t **der, size_t *der_len);
/* Parses a GOST SPKI or PKCS#8 (as written by the engine or `openssl genpkey -engine gost`). */
int ls_gost_key_from_spki(const uint8_t *der, size_t der_len, ls_gost_key **out);
int ls_gost_key_from_pkcs8(const uint8_t *der, size_t der_len, ls_gost_key **out);
void ls_gost_key_free(ls_gost_key *key);

/* Wipes and frees a buffer of @len bytes allocated by this API. */
void ls_free_secret(void *p, size_t len);

/*
 * Signs a digest of ls_curve_size() bytes (the bytes Streebog outputs): @sig gets s || r,
 * 2 * ls_curve_size() bytes.  A digest of any other length gives LS_ERR_BAD_LENGTH.
 */
int ls_gost_sign_digest(const ls_gost_key *key, const uint8_t *digest, size_t digest_len,
                        uint8_t *sig, size_t sig_len);
/*
 * LS_OK when @sig (s || r) is valid for @digest; LS_ERR_VERIFY_FAILED otherwise, including
 * r or s equal to 0 or >= q (checked here before the engine is asked).
 */
int ls_gost_verify_digest(const ls_gost_key *key, const uint8_t *digest, size_t digest_len,
                          const uint8_t *sig, size_t sig_len);

typedef enum {
	LS_VKO_2012_256 = 1, /* VKO_GOSTR3410_2012_256: Streebog-256 of the point, 32 bytes */
	LS_VKO_2012_512 = 2, /* VKO_GOSTR3410_2012_512: Streebog-512, 64 bytes */
	LS_VKO_2001 = 3,     /* legacy VKO (34.11-2012-256 of the point, 8-byte UKM), 32 bytes */
} ls_vko_alg;

/*
 * VKO GOST R 34.10-2012 (RFC 7836 4.3) between our private key and the peer's LE(x)||LE(y) on
 * the same curve; @ukm is read little-endian (1..32 bytes; exactly 8 for LS_VKO_2001).
 */
int ls_gost_vko(const ls_gost_key *priv, const uint8_t *peer_xy_le, size_t peer_len,
                ls_vko_alg alg, const uint8_t *ukm, size_t ukm_len, uint8_t *out, size_t out_len);

/* KEG (R 1323565.1.020-2018): 32-byte UKM, 64-byte output. */
int ls_gost_keg(const ls_gost_key *priv, const uint8_t *peer_xy_le, size_t peer_len,
                const uint8_t *ukm, size_t ukm_len, uint8_t out[64]);

#endif /* LS11_CORE_CRYPTO_H */
