/*
 * LS11CLOUD - the mechanism layer of the token engine: one table of mechanisms, and the crypto
 * operations behind them.
 *
 * This layer knows PKCS#11 mechanisms, their parameter structures and their length rules, and
 * nothing of objects, sessions or logins: the object layer hands it key material (ls_mech_key)
 * already checked for the key's usage attributes (CKA_SIGN, CKA_ENCRYPT, ...), and gets bytes
 * back.  C_GetMechanismList/C_GetMechanismInfo and the dispatcher both read ls_mech_table, so
 * they can never disagree.
 *
 * Error currency: CK_RV, with the exact codes of PKCS#11 v2.40/3.0 (CKR_MECHANISM_INVALID,
 * CKR_MECHANISM_PARAM_INVALID, CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_SIZE_RANGE, CKR_DATA_LEN_RANGE,
 * CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE,
 * CKR_BUFFER_TOO_SMALL, CKR_ENCRYPTED_DATA_INVALID, CKR_WRAPPED_KEY_INVALID, ...).
 *
 * Output-length convention (PKCS#11 5.2) for every call with an output buffer @out and length
 * @out_len: with @out == NULL, *@out_len gets the size needed and CKR_OK is returned, nothing is
 * consumed; with *@out_len too small, *@out_len gets the size needed and CKR_BUFFER_TOO_SMALL is
 * returned, nothing is consumed; otherwise the output is written and *@out_len set.  The caller
 * (the session layer) keeps an operation alive after those two answers and ends it after any
 * other error or after a final/one-shot call that produced output.
 *
 * Thread-safety: the table is read-only; an ls_op is used by one thread at a time; ls_mech_key
 * values (including a shared ls_gost_key) may be used by many operations at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TOKEN_MECH_H
#define LS11_TOKEN_MECH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "pkcs11x.h"

/* core/pkcs11x.h undoes the field-name macros of p11-kit's header (iv_len, aad_len, ...). */

/* ---------------------------------------------------------------------------------------------
 * The table
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	CK_MECHANISM_TYPE type;
	const char *name;      /* "CKM_GOSTR3410_WITH_GOSTR3411_12_256", for tools and logs */
	CK_ULONG min_key_size; /* as CK_MECHANISM_INFO: bits for GOST R 34.10 keys and for
	                        * CKM_GENERIC_SECRET_KEY_GEN (PKCS#11 says bits there), bytes
	                        * otherwise (KExp15: the 64-byte twin key) */
	CK_ULONG max_key_size;
	CK_FLAGS flags;        /* CKF_ENCRYPT, CKF_SIGN, CKF_GENERATE_KEY_PAIR, CKF_DERIVE, ... */
} ls_mech_info;

/*
 * The mechanisms and the parameters they accept (anything else: CKR_MECHANISM_PARAM_INVALID).
 * "none" means ulParameterLen == 0 (the pointer is then ignored).
 *
 *   CKM_GOSTR3410_KEY_PAIR_GEN, _512_KEY_PAIR_GEN    none; the curve comes from the template
 *   CKM_GOSTR3410, CKM_GOSTR3410_512                 none; single-part; input = the digest bytes
 *                                                    (32/64, else CKR_DATA_LEN_RANGE)
 *   CKM_GOSTR3410_WITH_GOSTR3411                     none or the DER OID of
 *   CKM_GOSTR3411, CKM_GOSTR3411_HMAC                  id-GostR3411-94-CryptoProParamSet
 *   CKM_GOSTR3410_WITH_GOSTR3411_12_256/_512,        none
 *   CKM_GOSTR3411_12_256/_512, their _HMAC
 *   CKM_GOSTR3410_DERIVE, CKM_GOSTR3410_12_DERIVE,   CK_GOSTR3410_DERIVE_PARAMS: kdf CKD_NULL or
 *   CKM_VKO_GOSTR3410_2012_512                         CKD_CPDIVERSIFY_KDF (8-byte UKM, 32-byte
 *                                                      result), peer LE(x)||LE(y) (or inside a
 *                                                      DER OCTET STRING), UKM 1..32 bytes
 *   CKM_GOST_KEG                                     CK_VENDOR_GOST_KEG_PARAMS, UKM 32 bytes;
 *                                                      result K_mac || K_enc (a twin key)
 *   CKM_KDF_TREE_GOSTR3411_2012_256                  CK_KDF_TREE_GOST_PARAMS: ulR 1..4, ulL the
 *                                                      output length in bits (multiple of 8),
 *                                                      ulOffset the key's byte offset in it
 *   CKM_KDF_GOSTR3411_2012_256                       CK_KDF_TREE_GOST_PARAMS with ulR 0/1, ulL
 *                                                      0/256, ulOffset 0 (label and seed only)
 *   CKM_*_KEY_GEN, *_ECB, *_MAC (OMAC)               none
 *   CKM_KUZNYECHIK/MAGMA_CTR_ACPKM                   the IV, half a block (8/4 bytes); the
 *                                                      section is the default (4 KiB / 1 KiB)
 *   CKM_KUZNYECHIK/MAGMA_MGM                         CK_GCM_PARAMS layout: pIv = the nonce (one
 *                                                      block, top bit 0), ulIvBits 0 or 8*len,
 *                                                      AAD (<= 1 MiB), ulTagBits 32..block*8 in
 *                                                      bytes; single-part; output ct || tag
 *   CKM_KUZNYECHIK/MAGMA_KEXP_15_WRAP                the IV, half a block; wrapping key: the
 *                                                      twin key K_mac || K_enc (64 bytes)
 *   CKM_GOST28147                                    none (zero IV) or the 8-byte IV; CFB
 *   CKM_GOST28147_MAC                                none or the 8-byte IV; 4-byte IMIT
 *   CKM_GOST28147_KEY_WRAP                           the 8-byte UKM (required); RFC 4357 6.3
 *                                                      CryptoPro wrap, output ECB || IMIT, 36 bytes
 *
 * Key/mechanism consistency: a key of another type than the mechanism takes (a 512-bit key type
 * with a 256-bit mechanism, a public key to sign, ...) is CKR_KEY_TYPE_INCONSISTENT; the right
 * type with a length or curve outside the table's range is CKR_KEY_SIZE_RANGE.
 */

/* The whole table, in the order C_GetMechanismList reports it; *@count gets its length. */
const ls_mech_info *ls_mech_table(size_t *count);
/* The entry for @type, or NULL (the caller answers CKR_MECHANISM_INVALID). */
const ls_mech_info *ls_mech_find(CK_MECHANISM_TYPE type);

/* ---------------------------------------------------------------------------------------------
 * Key material, filled in by the object layer
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	CK_OBJECT_CLASS cls;      /* CKO_SECRET_KEY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY */
	CK_KEY_TYPE key_type;     /* CKK_GOSTR3410, CKK_GOSTR3410_512, CKK_KUZNYECHIK, CKK_MAGMA,
	                           * CKK_GOST28147, CKK_GENERIC_SECRET, twin keys, ... */
	const uint8_t *value;     /* CKA_VALUE in PKCS#11 format (private scalar LE, public
	                           * LE(x)||LE(y), secret bytes); plaintext, owned by the caller */
	size_t value_len;
	ls_curve curve;           /* GOST R 34.10 keys: from CKA_GOSTR3410_PARAMS */
	ls_gost89_param sbox;     /* GOST 28147-89 keys: from CKA_GOST28147_PARAMS (default CP-A) */
	ls_gost_key *gost;        /* optional: the same key already built (the object layer caches
	                           * it per object so signing does not rebuild it each call) */
} ls_mech_key;

/*
 * Builds the ls_gost_key of a GOST R 34.10 key (private or public) from @key's value and curve,
 * for the object layer to cache in key->gost.  *@out owned by the caller (ls_gost_key_free).
 */
CK_RV ls_mech_key_build_gost(const ls_mech_key *key, ls_gost_key **out);

/* ---------------------------------------------------------------------------------------------
 * Operations: encrypt, decrypt, digest, sign, verify (single- and multi-part)
 * ------------------------------------------------------------------------------------------- */

typedef enum {
	LS_OP_ENCRYPT = 1,
	LS_OP_DECRYPT,
	LS_OP_DIGEST,
	LS_OP_SIGN,
	LS_OP_VERIFY,
} ls_op_kind;

typedef struct ls_op ls_op;

/*
 * Starts an operation of @kind with @mech (its parameter is copied: the caller's memory may go
 * away) on @key (NULL for digests; must stay valid until ls_op_free).  Checks that the table
 * allows @kind for the mechanism (CKR_MECHANISM_INVALID), the parameter
 * (CKR_MECHANISM_PARAM_INVALID), the key type (CKR_KEY_TYPE_INCONSISTENT) and size
 * (CKR_KEY_SIZE_RANGE).
 */
CK_RV ls_op_new(ls_op_kind kind, const CK_MECHANISM *mech, const ls_mech_key *key, ls_op **out);
ls_op_kind ls_op_get_kind(const ls_op *op);
CK_MECHANISM_TYPE ls_op_mechanism(const ls_op *op);

/*
 * Single-part C_Encrypt/C_Decrypt/C_Digest/C_Sign over @in (output-length convention above).
 * The session layer checks that no update came first (C_Digest after C_DigestUpdate is
 * CKR_OPERATION_ACTIVE).
 */
CK_RV ls_op_oneshot(ls_op *op, const uint8_t *in, CK_ULONG in_len, uint8_t *out,
                    CK_ULONG *out_len);
/*
 * Multi-part update.  Encrypt/decrypt produce output (convention above); digest, sign and verify
 * take @out == NULL and @out_len == NULL.  Mechanisms that are single-part only (MGM, raw
 * CKM_GOSTR3410 on a digest) answer CKR_FUNCTION_NOT_SUPPORTED, as SoftHSM and OpenSC do, and
 * the operation ends.
 */
CK_RV ls_op_update(ls_op *op, const uint8_t *in, CK_ULONG in_len, uint8_t *out,
                   CK_ULONG *out_len);
/* C_DigestKey: feeds a secret key's value into a running digest. */
CK_RV ls_op_digest_key(ls_op *op, const ls_mech_key *key);
/* C_EncryptFinal/C_DecryptFinal/C_DigestFinal/C_SignFinal (output-length convention above). */
CK_RV ls_op_final(ls_op *op, uint8_t *out, CK_ULONG *out_len);
/* C_Verify over @in and C_VerifyFinal: CKR_OK, CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE. */
CK_RV ls_op_verify(ls_op *op, const uint8_t *in, CK_ULONG in_len, const uint8_t *sig,
                   CK_ULONG sig_len);
CK_RV ls_op_verify_final(ls_op *op, const uint8_t *sig, CK_ULONG sig_len);
/* Wipes and frees; NULL accepted. */
void ls_op_free(ls_op *op);

/* ---------------------------------------------------------------------------------------------
 * Key generation, derivation, wrapping
 * ------------------------------------------------------------------------------------------- */

/*
 * C_GenerateKey: fresh key bytes for @mech (CKM_KUZNYECHIK_KEY_GEN, CKM_MAGMA_KEY_GEN,
 * CKM_GOST28147_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN).  @value_len is CKA_VALUE_LEN from the
 * template (required for generic secrets, 0 otherwise); *@key_type gets the CKK_ of the result.
 * @out holds @out_size bytes; *@out_len gets the length.
 */
CK_RV ls_mech_generate_key(const CK_MECHANISM *mech, CK_ULONG value_len, CK_KEY_TYPE *key_type,
                           uint8_t *out, size_t out_size, size_t *out_len);

/*
 * C_GenerateKeyPair on @curve (from the template's CKA_GOSTR3410_PARAMS): writes the public
 * value LE(x)||LE(y) and the private scalar (LE), and returns the built key in *@gost (for the
 * caller's cache; may be NULL if not wanted).  CKR_TEMPLATE_INCONSISTENT when @curve does not
 * fit the mechanism (a 512-bit curve with CKM_GOSTR3410_KEY_PAIR_GEN).
 */
CK_RV ls_mech_generate_key_pair(const CK_MECHANISM *mech, ls_curve curve, uint8_t *pub,
                                size_t pub_size, size_t *pub_len, uint8_t *priv,
                                size_t priv_size, size_t *priv_len, ls_gost_key **gost);

/*
 * C_DeriveKey: the derived bytes for @mech from @base (CKM_GOSTR3410_DERIVE,
 * CKM_GOSTR3410_12_DERIVE, CKM_VKO_GOSTR3410_2012_512, CKM_GOST_KEG,
 * CKM_KDF_GOSTR3411_2012_256, CKM_KDF_TREE_GOSTR3411_2012_256).  @want_len is CKA_VALUE_LEN of
 * the template (0 = the mechanism's natural length, or the key type's when @want_key_type
 * fixes it; a shorter CKA_VALUE_LEN takes the leading bytes, a longer one or one that
 * contradicts the key type is CKR_TEMPLATE_INCONSISTENT).  @out holds @out_size bytes (too few:
 * CKR_BUFFER_TOO_SMALL with *@out_len = the length needed).
 */
CK_RV ls_mech_derive(const CK_MECHANISM *mech, const ls_mech_key *base, CK_KEY_TYPE want_key_type,
                     CK_ULONG want_len, uint8_t *out, size_t out_size, size_t *out_len);

/* C_WrapKey of @key's value under @wrapping (output-length convention above). */
CK_RV ls_mech_wrap(const CK_MECHANISM *mech, const ls_mech_key *wrapping, const ls_mech_key *key,
                   uint8_t *out, CK_ULONG *out_len);
/*
 * C_UnwrapKey: the key bytes inside @in under @unwrapping, for a key of @key_type (from the
 * template).  CKR_WRAPPED_KEY_INVALID / CKR_WRAPPED_KEY_LEN_RANGE on bad input; nothing is
 * written then.
 */
CK_RV ls_mech_unwrap(const CK_MECHANISM *mech, const ls_mech_key *unwrapping, const uint8_t *in,
                     CK_ULONG in_len, CK_KEY_TYPE key_type, uint8_t *out, size_t out_size,
                     size_t *out_len);

/* ---------------------------------------------------------------------------------------------
 * Helpers shared with the object layer
 * ------------------------------------------------------------------------------------------- */

/* Key length rules: CKR_OK when @value_len fits @key_type (e.g. 32 for Kuznyechik/Magma/28147). */
CK_RV ls_mech_check_key_value(CK_KEY_TYPE key_type, size_t value_len);
/* CKA_GOST28147_PARAMS (DER OID) to an S-box: CKR_ATTRIBUTE_VALUE_INVALID when unknown. */
CK_RV ls_mech_gost89_param_from_oid(const uint8_t *der, size_t len, ls_gost89_param *out);
/* The check value (CKA_CHECK_VALUE) of a secret key: first 3 bytes of encrypting a zero block. */
CK_RV ls_mech_check_value(const ls_mech_key *key, uint8_t out[3]);

#endif /* LS11_TOKEN_MECH_H */
