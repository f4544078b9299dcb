/*
 * LS11CLOUD - the mechanism layer: the one mechanism table and the operations behind it.
 *
 * Readings of the specifications this file rests on (each also said where it is applied):
 *
 *  - PKCS#11 v2.40 "current mechanisms", GOST sections: CKM_GOST28147 is CFB with an optional
 *    8-byte IV (zero when absent); CKM_GOST28147_MAC is IMIT, 4 bytes, optional 8-byte IV;
 *    CKM_GOST28147_KEY_WRAP outputs 32 bytes of ECB-encrypted key and 4 bytes of MAC.
 *  - RFC 4357 6.3/6.5: the CryptoPro key wrap diversifies the KEK with the 8-byte UKM, encrypts
 *    the CEK in ECB under KEK(UKM) and appends IMIT(IV = UKM, KEK(UKM), CEK).  The UKM is the
 *    mechanism parameter and is not repeated in the output (36 bytes, as PKCS#11 says).
 *  - RFC 7836 4.3: VKO_GOSTR3410_2012_256 works with 256- and 512-bit keys and gives 32 bytes;
 *    VKO_GOSTR3410_2012_512 gives 64.  CKM_GOSTR3410_12_DERIVE is the former (the TC26
 *    guidelines' "VKO GOST R 34.10-2012" with a 256-bit result), CKM_VKO_GOSTR3410_2012_512 the
 *    latter (Aktiv's CK_VENDOR_VKO_GOSTR3410_2012_512_PARAMS has exactly the layout of
 *    CK_GOSTR3410_DERIVE_PARAMS, which is what we read).
 *  - RFC 9189 / R 1323565.1.020-2018: KEG gives K_EXP_MAC || K_EXP_ENC (gost-engine's TLS code
 *    passes expkeys + 32 as the cipher key and expkeys + 0 as the MAC key to KExp15).  A twin key
 *    (CKK_*_TWIN_KEY, 64 bytes) is therefore K_mac || K_enc, so a KEG result is a twin key.
 *  - CK_KDF_TREE_GOST_PARAMS: ulL is the total KDF_TREE output L in bits (RFC 7836 4.5 encodes
 *    L in bits), ulOffset the byte offset of the derived key inside that output.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "mech.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Caps on what the caller may hand us (checked before any allocation). */
#define MAX_AAD (1024 * 1024)
#define MAX_GENERIC_SECRET 512 /* bytes */
#define MAX_KDF_TREE_OUT 8191 /* bytes: RFC 7836 KDF_TREE with a 16-bit L */
#define MAX_UKM 32

typedef enum {
	FAM_KEYPAIR = 1,
	FAM_KEYGEN,
	FAM_SIGN_RAW,  /* CKM_GOSTR3410(_512): sign a digest */
	FAM_SIGN_HASH, /* hash-and-sign */
	FAM_DIGEST,
	FAM_HMAC,
	FAM_VKO,       /* CKM_GOSTR3410_DERIVE, CKM_GOSTR3410_12_DERIVE, CKM_VKO_GOSTR3410_2012_512 */
	FAM_KEG,
	FAM_KDF,
	FAM_KDF_TREE,
	FAM_ECB,
	FAM_CTR_ACPKM,
	FAM_CFB89,
	FAM_OMAC,
	FAM_IMIT,
	FAM_MGM,
	FAM_KEXP15,
	FAM_WRAP89,
} family;

typedef struct {
	family fam;
	int alg;             /* ls_md_alg, ls_cipher_alg or ls_vko_alg, per family */
	CK_KEY_TYPE ktype;   /* the key type the mechanism takes or makes (0: see the family) */
} mech_spec;

/*
 * The one list: type, min, max, flags, family, algorithm, key type.  Sizes are bits for
 * GOST R 34.10 keys and for CKM_GENERIC_SECRET_KEY_GEN (as PKCS#11 defines them), bytes
 * otherwise (the twin key of KExp15 counts 64).
 */
#define SIGNV (CKF_SIGN | CKF_VERIFY)
#define ENCDEC (CKF_ENCRYPT | CKF_DECRYPT)
#define WRAPUN (CKF_WRAP | CKF_UNWRAP)
#define MECHS(X)                                                                                  \
	X(CKM_GOSTR3410_KEY_PAIR_GEN, 256, 256, CKF_GENERATE_KEY_PAIR, FAM_KEYPAIR, 0,            \
	  CKK_GOSTR3410)                                                                          \
	X(CKM_GOSTR3410_512_KEY_PAIR_GEN, 512, 512, CKF_GENERATE_KEY_PAIR, FAM_KEYPAIR, 0,        \
	  CKK_GOSTR3410_512)                                                                      \
	X(CKM_GOSTR3410, 256, 256, SIGNV, FAM_SIGN_RAW, 0, CKK_GOSTR3410)                         \
	X(CKM_GOSTR3410_512, 512, 512, SIGNV, FAM_SIGN_RAW, 0, CKK_GOSTR3410_512)                 \
	X(CKM_GOSTR3410_WITH_GOSTR3411, 256, 256, SIGNV, FAM_SIGN_HASH, LS_MD_GOST94,             \
	  CKK_GOSTR3410)                                                                          \
	X(CKM_GOSTR3410_WITH_GOSTR3411_12_256, 256, 256, SIGNV, FAM_SIGN_HASH, LS_MD_STREEBOG256, \
	  CKK_GOSTR3410)                                                                          \
	X(CKM_GOSTR3410_WITH_GOSTR3411_12_512, 512, 512, SIGNV, FAM_SIGN_HASH, LS_MD_STREEBOG512, \
	  CKK_GOSTR3410_512)                                                                      \
	X(CKM_GOSTR3410_DERIVE, 256, 256, CKF_DERIVE, FAM_VKO, LS_VKO_2012_256, 0)                \
	X(CKM_GOSTR3410_12_DERIVE, 256, 512, CKF_DERIVE, FAM_VKO, LS_VKO_2012_256, 0)             \
	X(CKM_VKO_GOSTR3410_2012_512, 512, 512, CKF_DERIVE, FAM_VKO, LS_VKO_2012_512, 0)          \
	X(CKM_GOST_KEG, 256, 512, CKF_DERIVE, FAM_KEG, 0, 0)                                      \
	X(CKM_KDF_GOSTR3411_2012_256, 32, 32, CKF_DERIVE, FAM_KDF, 0, 0)                          \
	X(CKM_KDF_TREE_GOSTR3411_2012_256, 32, 32, CKF_DERIVE, FAM_KDF_TREE, 0, 0)                \
	X(CKM_GOSTR3411, 0, 0, CKF_DIGEST, FAM_DIGEST, LS_MD_GOST94, 0)                           \
	X(CKM_GOSTR3411_12_256, 0, 0, CKF_DIGEST, FAM_DIGEST, LS_MD_STREEBOG256, 0)               \
	X(CKM_GOSTR3411_12_512, 0, 0, CKF_DIGEST, FAM_DIGEST, LS_MD_STREEBOG512, 0)               \
	X(CKM_GOSTR3411_HMAC, 32, 32, SIGNV, FAM_HMAC, LS_MD_GOST94, 0)                           \
	X(CKM_GOSTR3411_12_256_HMAC, 32, 64, SIGNV, FAM_HMAC, LS_MD_STREEBOG256, 0)               \
	X(CKM_GOSTR3411_12_512_HMAC, 32, 64, SIGNV, FAM_HMAC, LS_MD_STREEBOG512, 0)               \
	X(CKM_KUZNYECHIK_KEY_GEN, 32, 32, CKF_GENERATE, FAM_KEYGEN, LS_CIPHER_KUZNYECHIK,         \
	  CKK_KUZNYECHIK)                                                                         \
	X(CKM_KUZNYECHIK_ECB, 32, 32, ENCDEC, FAM_ECB, LS_CIPHER_KUZNYECHIK, CKK_KUZNYECHIK)      \
	X(CKM_KUZNYECHIK_CTR_ACPKM, 32, 32, ENCDEC, FAM_CTR_ACPKM, LS_CIPHER_KUZNYECHIK,          \
	  CKK_KUZNYECHIK)                                                                         \
	X(CKM_KUZNYECHIK_MAC, 32, 32, SIGNV, FAM_OMAC, LS_CIPHER_KUZNYECHIK, CKK_KUZNYECHIK)      \
	X(CKM_KUZNYECHIK_MGM, 32, 32, ENCDEC, FAM_MGM, LS_CIPHER_KUZNYECHIK, CKK_KUZNYECHIK)      \
	X(CKM_KUZNYECHIK_KEXP_15_WRAP, 64, 64, WRAPUN, FAM_KEXP15, LS_CIPHER_KUZNYECHIK,          \
	  CKK_KUZNYECHIK_TWIN_KEY)                                                                \
	X(CKM_MAGMA_KEY_GEN, 32, 32, CKF_GENERATE, FAM_KEYGEN, LS_CIPHER_MAGMA, CKK_MAGMA)        \
	X(CKM_MAGMA_ECB, 32, 32, ENCDEC, FAM_ECB, LS_CIPHER_MAGMA, CKK_MAGMA)                     \
	X(CKM_MAGMA_CTR_ACPKM, 32, 32, ENCDEC, FAM_CTR_ACPKM, LS_CIPHER_MAGMA, CKK_MAGMA)         \
	X(CKM_MAGMA_MAC, 32, 32, SIGNV, FAM_OMAC, LS_CIPHER_MAGMA, CKK_MAGMA)                     \
	X(CKM_MAGMA_MGM, 32, 32, ENCDEC, FAM_MGM, LS_CIPHER_MAGMA, CKK_MAGMA)                     \
	X(CKM_MAGMA_KEXP_15_WRAP, 64, 64, WRAPUN, FAM_KEXP15, LS_CIPHER_MAGMA, CKK_MAGMA_TWIN_KEY)\
	X(CKM_GOST28147_KEY_GEN, 32, 32, CKF_GENERATE, FAM_KEYGEN, LS_CIPHER_GOST89, CKK_GOST28147)\
	X(CKM_GOST28147_ECB, 32, 32, ENCDEC, FAM_ECB, LS_CIPHER_GOST89, CKK_GOST28147)            \
	X(CKM_GOST28147, 32, 32, ENCDEC, FAM_CFB89, LS_CIPHER_GOST89, CKK_GOST28147)              \
	X(CKM_GOST28147_MAC, 32, 32, SIGNV, FAM_IMIT, LS_CIPHER_GOST89, CKK_GOST28147)            \
	X(CKM_GOST28147_KEY_WRAP, 32, 32, WRAPUN, FAM_WRAP89, LS_CIPHER_GOST89, CKK_GOST28147)    \
	X(CKM_GENERIC_SECRET_KEY_GEN, 8, 8 * MAX_GENERIC_SECRET, CKF_GENERATE, FAM_KEYGEN, 0,     \
	  CKK_GENERIC_SECRET)

#define AS_INFO(t, mn, mx, fl, fa, al, kt) { t, #t, mn, mx, fl },
#define AS_SPEC(t, mn, mx, fl, fa, al, kt) { fa, al, kt },

static const ls_mech_info mech_table[] = { MECHS(AS_INFO) };
static const mech_spec mech_specs[] = { MECHS(AS_SPEC) };

_Static_assert(sizeof(mech_table) / sizeof(mech_table[0]) ==
                       sizeof(mech_specs) / sizeof(mech_specs[0]),
               "one spec per table entry");

#define TABLE_LEN (sizeof(mech_table) / sizeof(mech_table[0]))

const ls_mech_info *
ls_mech_table(size_t *count)
{
	if (count != NULL)
		*count = TABLE_LEN;
	return mech_table;
}

static size_t
find_index(CK_MECHANISM_TYPE type)
{
	size_t i;

	for (i = 0; i < TABLE_LEN; i++)
		if (mech_table[i].type == type)
			return i;
	return TABLE_LEN;
}

const ls_mech_info *
ls_mech_find(CK_MECHANISM_TYPE type)
{
	size_t i = find_index(type);

	return i < TABLE_LEN ? &mech_table[i] : NULL;
}

/* The entry for @mech if its table flags include one of @need, else NULL. */
static const ls_mech_info *
lookup(const CK_MECHANISM *mech, CK_FLAGS need, const mech_spec **spec)
{
	size_t i;

	if (mech == NULL)
		return NULL;
	i = find_index(mech->mechanism);
	if (i == TABLE_LEN || (mech_table[i].flags & need) == 0)
		return NULL;
	*spec = &mech_specs[i];
	return &mech_table[i];
}

/* ---------------------------------------------------------------------------------------------
 * Error conversion (the one place LS_ERR_* becomes CK_RV)
 * ------------------------------------------------------------------------------------------- */

/*
 * @bad_input is what a refusal of the caller's data means at this call site (a wrong length, an
 * argument out of its domain, a bad point, a failed check: CKR_DATA_LEN_RANGE,
 * CKR_SIGNATURE_INVALID, CKR_WRAPPED_KEY_INVALID, ...).  Everything else is ours or the
 * backend's.
 */
static CK_RV
ckr_from_ls(int err, CK_RV bad_input)
{
	switch (err) {
	case LS_OK:
		return CKR_OK;
	case LS_ERR_NOMEM:
		return CKR_HOST_MEMORY;
	case LS_ERR_INVALID_ARG:
	case LS_ERR_BAD_LENGTH:
	case LS_ERR_BAD_POINT:
	case LS_ERR_VERIFY_FAILED:
		return bad_input;
	case LS_ERR_UNSUPPORTED:
		return CKR_MECHANISM_INVALID;
	default:
		return CKR_FUNCTION_FAILED;
	}
}

/* ---------------------------------------------------------------------------------------------
 * Parameters and keys
 * ------------------------------------------------------------------------------------------- */

static bool
param_absent(const CK_MECHANISM *m)
{
	return m->ulParameterLen == 0;
}

/* Bytes of an optional byte-string parameter: true when absent or exactly @len bytes. */
static bool
param_bytes(const CK_MECHANISM *m, size_t len, const uint8_t **out)
{
	*out = NULL;
	if (m->ulParameterLen == 0)
		return true;
	if (m->pParameter == NULL || m->ulParameterLen != len)
		return false;
	*out = m->pParameter;
	return true;
}

/* A structure parameter of exactly @size bytes. */
static const void *
param_struct(const CK_MECHANISM *m, size_t size)
{
	if (m->pParameter == NULL || m->ulParameterLen != size)
		return NULL;
	return m->pParameter;
}

/* DER OID of id-GostR3411-94-CryptoProParamSet: the only GOST R 34.11-94 parameter set. */
static const uint8_t oid_gost94_cp[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01 };
static const uint8_t oid_gost89_cpa[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1f, 0x01 };
static const uint8_t oid_gost89_z[] = { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07,
	                                0x01, 0x02, 0x05, 0x01, 0x01 };

/*
 * The parameter of the GOST R 34.11-94 mechanisms (digest, HMAC, hash-and-sign): absent, or
 * the DER OID of the CryptoPro parameter set (PKCS#11 v2.40: "a mechanism parameter may be
 * missed").  The Streebog mechanisms take none.
 */
static bool
hash_param_ok(const CK_MECHANISM *m, int md)
{
	if (param_absent(m))
		return true;
	return md == LS_MD_GOST94 && m->pParameter != NULL &&
	       m->ulParameterLen == sizeof(oid_gost94_cp) &&
	       memcmp(m->pParameter, oid_gost94_cp, sizeof(oid_gost94_cp)) == 0;
}

static size_t
half_block(int alg)
{
	return ls_cipher_block_size((ls_cipher_alg)alg) / 2;
}

/* Key bytes per key type: CKR_OK and the range, or false when the type has no fixed rule here. */
static bool
key_len_rule(CK_KEY_TYPE type, size_t *min, size_t *max)
{
	switch (type) {
	case CKK_KUZNYECHIK:
	case CKK_MAGMA:
	case CKK_GOST28147:
		*min = *max = 32;
		return true;
	case CKK_KUZNYECHIK_TWIN_KEY:
	case CKK_MAGMA_TWIN_KEY:
		*min = *max = 64;
		return true;
	case CKK_GENERIC_SECRET:
		*min = 1;
		*max = MAX_GENERIC_SECRET;
		return true;
	default:
		return false;
	}
}

CK_RV
ls_mech_check_key_value(CK_KEY_TYPE key_type, size_t value_len)
{
	size_t min, max;

	switch (key_type) {
	case CKK_GOSTR3410: /* private scalar or public point */
		return value_len == 32 || value_len == 64 ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
	case CKK_GOSTR3410_512:
		return value_len == 64 || value_len == 128 ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
	default:
		if (!key_len_rule(key_type, &min, &max))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return value_len >= min && value_len <= max ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
	}
}

CK_RV
ls_mech_gost89_param_from_oid(const uint8_t *der, size_t len, ls_gost89_param *out)
{
	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	if (der == NULL)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (len == sizeof(oid_gost89_cpa) && memcmp(der, oid_gost89_cpa, len) == 0) {
		*out = LS_GOST89_PARAM_CPA;
		return CKR_OK;
	}
	if (len == sizeof(oid_gost89_z) && memcmp(der, oid_gost89_z, len) == 0) {
		*out = LS_GOST89_PARAM_Z;
		return CKR_OK;
	}
	return CKR_ATTRIBUTE_VALUE_INVALID;
}

static ls_gost89_param
sbox_of(const ls_mech_key *key)
{
	return key->sbox != 0 ? key->sbox : LS_GOST89_PARAM_CPA;
}

/*
 * A secret key for a symmetric mechanism: class, type and byte length against the table entry.
 * @any_secret accepts every secret type the HMAC/KDF mechanisms take instead of spec->ktype.
 */
static CK_RV
check_secret_key(const ls_mech_info *info, const mech_spec *spec, const ls_mech_key *key,
                 bool any_secret)
{
	if (key->cls != CKO_SECRET_KEY)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (any_secret) {
		if (key->key_type != CKK_GENERIC_SECRET && key->key_type != CKK_GOST28147 &&
		    key->key_type != CKK_KUZNYECHIK && key->key_type != CKK_MAGMA)
			return CKR_KEY_TYPE_INCONSISTENT;
	} else if (key->key_type != spec->ktype) {
		return CKR_KEY_TYPE_INCONSISTENT;
	}
	if (key->value == NULL || key->value_len < info->min_key_size ||
	    key->value_len > info->max_key_size)
		return CKR_KEY_SIZE_RANGE;
	return CKR_OK;
}

static ls_curve
curve_of(const ls_mech_key *key)
{
	return key->gost != NULL ? ls_gost_key_curve(key->gost) : key->curve;
}

/*
 * A GOST R 34.10 key of class @cls: the key type must be the one the mechanism size implies
 * (CKR_KEY_TYPE_INCONSISTENT: a 512-bit key type with a 256-bit mechanism is another key type,
 * not another size), and the curve must have the size its key type says (CKR_KEY_SIZE_RANGE).
 */
static CK_RV
check_gost_key(const ls_mech_info *info, const ls_mech_key *key, CK_OBJECT_CLASS cls)
{
	size_t size = ls_curve_size(curve_of(key));
	CK_ULONG bits;

	if (key->cls != cls)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (key->key_type == CKK_GOSTR3410)
		bits = 256;
	else if (key->key_type == CKK_GOSTR3410_512)
		bits = 512;
	else
		return CKR_KEY_TYPE_INCONSISTENT;
	if (bits < info->min_key_size || bits > info->max_key_size)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (size * 8 != bits)
		return CKR_KEY_SIZE_RANGE;
	if (key->gost == NULL &&
	    (key->value == NULL || key->value_len != (cls == CKO_PRIVATE_KEY ? size : 2 * size)))
		return CKR_KEY_SIZE_RANGE;
	if (key->gost != NULL && cls == CKO_PRIVATE_KEY && !ls_gost_key_has_private(key->gost))
		return CKR_KEY_TYPE_INCONSISTENT;
	return CKR_OK;
}

CK_RV
ls_mech_key_build_gost(const ls_mech_key *key, ls_gost_key **out)
{
	size_t size;
	int r;

	ls_return_val_if_fail(key != NULL && out != NULL, CKR_ARGUMENTS_BAD);
	size = ls_curve_size(key->curve);
	if (size == 0 || key->value == NULL)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((key->key_type == CKK_GOSTR3410 && size != 32) ||
	    (key->key_type == CKK_GOSTR3410_512 && size != 64) ||
	    (key->key_type != CKK_GOSTR3410 && key->key_type != CKK_GOSTR3410_512))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (key->cls == CKO_PRIVATE_KEY) {
		if (key->value_len != size)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		r = ls_gost_key_from_private(key->curve, key->value, key->value_len, out);
	} else if (key->cls == CKO_PUBLIC_KEY) {
		if (key->value_len != 2 * size)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		r = ls_gost_key_from_public(key->curve, key->value, key->value_len, out);
	} else {
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	return ckr_from_ls(r, CKR_ATTRIBUTE_VALUE_INVALID);
}

CK_RV
ls_mech_check_value(const ls_mech_key *key, uint8_t out[3])
{
	ls_cipher_params p = { 0 };
	uint8_t zero[LS_CIPHER_MAX_BLOCK] = { 0 }, ct[LS_CIPHER_MAX_BLOCK];
	int r;

	ls_return_val_if_fail(key != NULL && out != NULL, CKR_ARGUMENTS_BAD);
	switch (key->key_type) {
	case CKK_KUZNYECHIK:
		p.alg = LS_CIPHER_KUZNYECHIK;
		break;
	case CKK_MAGMA:
		p.alg = LS_CIPHER_MAGMA;
		break;
	case CKK_GOST28147:
		p.alg = LS_CIPHER_GOST89;
		p.gost89_param = sbox_of(key);
		break;
	case CKK_GENERIC_SECRET: {
		/* PKCS#11: the first three bytes of the SHA-1 of CKA_VALUE. */
		uint8_t h[20];

		if (key->value == NULL || key->value_len == 0)
			return CKR_KEY_SIZE_RANGE;
		r = ls_md(LS_MD_SHA1, key->value, key->value_len, h, sizeof(h));
		if (r == LS_OK)
			memcpy(out, h, 3);
		ls_wipe(h, sizeof(h));
		return ckr_from_ls(r, CKR_FUNCTION_FAILED);
	}
	default:
		/* No block cipher behind the key. */
		return CKR_KEY_TYPE_INCONSISTENT;
	}
	if (key->value == NULL || key->value_len != LS_CIPHER_KEY_SIZE)
		return CKR_KEY_SIZE_RANGE;
	p.mode = LS_MODE_ECB;
	p.encrypt = true;
	p.key = key->value;
	r = ls_cipher(&p, zero, ls_cipher_block_size(p.alg), ct);
	if (r == LS_OK)
		memcpy(out, ct, 3);
	ls_wipe(ct, sizeof(ct));
	return ckr_from_ls(r, CKR_FUNCTION_FAILED);
}

/* ---------------------------------------------------------------------------------------------
 * Output-length convention (PKCS#11 5.2)
 * ------------------------------------------------------------------------------------------- */

/*
 * CKR_OK when @out can take @need bytes; otherwise *@out_len = @need and the answer (CKR_OK for
 * a size query, CKR_BUFFER_TOO_SMALL) is in *@rv and false is returned: nothing may be consumed.
 */
static bool
room(uint8_t *out, CK_ULONG *out_len, size_t need, CK_RV *rv)
{
	if (out == NULL) {
		*out_len = need;
		*rv = CKR_OK;
		return false;
	}
	if (*out_len < need) {
		*out_len = need;
		*rv = CKR_BUFFER_TOO_SMALL;
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------------------------------------
 * Operations
 * ------------------------------------------------------------------------------------------- */

struct ls_op {
	ls_op_kind kind;
	const ls_mech_info *info;
	const mech_spec *spec;
	const ls_mech_key *key;
	size_t out_size;           /* digest, signature or MAC size; block size for ciphers */
	ls_md_ctx *md;             /* FAM_DIGEST, FAM_SIGN_HASH: created on the first update */
	ls_hmac_ctx *hmac;
	ls_mac_ctx *mac;
	ls_cipher_ctx *cipher;
	const ls_gost_key *gost;   /* key->gost or own_gost */
	ls_gost_key *own_gost;
	uint8_t part[LS_CIPHER_MAX_BLOCK]; /* ECB: a partial block; IMIT: the first block */
	size_t part_len;
	uint8_t iv[LS_CIPHER_MAX_BLOCK];   /* IMIT IV, MGM nonce */
	size_t iv_len;
	bool iv_pending;           /* IMIT: the IV has not been folded into the first block yet */
	uint8_t *aad;              /* MGM */
	size_t aad_len;
	size_t tag_len;
};

static CK_FLAGS
kind_flag(ls_op_kind kind)
{
	switch (kind) {
	case LS_OP_ENCRYPT: return CKF_ENCRYPT;
	case LS_OP_DECRYPT: return CKF_DECRYPT;
	case LS_OP_DIGEST: return CKF_DIGEST;
	case LS_OP_SIGN: return CKF_SIGN;
	case LS_OP_VERIFY: return CKF_VERIFY;
	}
	return 0;
}

void
ls_op_free(ls_op *op)
{
	if (op == NULL)
		return;
	ls_md_free(op->md);
	ls_hmac_free(op->hmac);
	ls_mac_free(op->mac);
	ls_cipher_free(op->cipher);
	ls_gost_key_free(op->own_gost);
	if (op->aad != NULL) {
		ls_wipe(op->aad, op->aad_len);
		free(op->aad);
	}
	ls_wipe(op, sizeof(*op));
	free(op);
}

ls_op_kind
ls_op_get_kind(const ls_op *op)
{
	ls_return_val_if_fail(op != NULL, 0);
	return op->kind;
}

CK_MECHANISM_TYPE
ls_op_mechanism(const ls_op *op)
{
	ls_return_val_if_fail(op != NULL, CK_UNAVAILABLE_INFORMATION);
	return op->info->type;
}

static CK_RV
init_sign(ls_op *op, const CK_MECHANISM *mech, const ls_mech_key *key)
{
	CK_RV rv;

	if (op->spec->fam == FAM_SIGN_RAW) {
		if (!param_absent(mech))
			return CKR_MECHANISM_PARAM_INVALID;
	} else if (!hash_param_ok(mech, op->spec->alg)) {
		return CKR_MECHANISM_PARAM_INVALID;
	}
	rv = check_gost_key(op->info, key, op->kind == LS_OP_SIGN ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY);
	if (rv != CKR_OK)
		return rv;
	op->out_size = 2 * ls_curve_size(curve_of(key));
	if (key->gost != NULL) {
		op->gost = key->gost;
		return CKR_OK;
	}
	if ((rv = ls_mech_key_build_gost(key, &op->own_gost)) != CKR_OK)
		return rv == CKR_ATTRIBUTE_VALUE_INVALID ? CKR_KEY_SIZE_RANGE : rv;
	op->gost = op->own_gost;
	return CKR_OK;
}

static CK_RV
init_cipher(ls_op *op, const CK_MECHANISM *mech, const ls_mech_key *key)
{
	ls_cipher_params p = { 0 };
	uint8_t zero_iv[8] = { 0 };
	const uint8_t *iv = NULL;
	CK_RV rv;

	if ((rv = check_secret_key(op->info, op->spec, key, false)) != CKR_OK)
		return rv;
	p.alg = (ls_cipher_alg)op->spec->alg;
	p.encrypt = op->kind == LS_OP_ENCRYPT;
	p.key = key->value;
	if (p.alg == LS_CIPHER_GOST89)
		p.gost89_param = sbox_of(key);
	op->out_size = ls_cipher_block_size(p.alg);
	switch (op->spec->fam) {
	case FAM_ECB:
		if (!param_absent(mech))
			return CKR_MECHANISM_PARAM_INVALID;
		p.mode = LS_MODE_ECB;
		break;
	case FAM_CTR_ACPKM:
		/* The parameter is the IV, half a block; the section is the TC26 default. */
		if (param_absent(mech) || !param_bytes(mech, half_block(op->spec->alg), &iv))
			return CKR_MECHANISM_PARAM_INVALID;
		p.mode = LS_MODE_CTR_ACPKM;
		p.iv = iv;
		p.iv_len = half_block(op->spec->alg);
		break;
	case FAM_CFB89:
		if (!param_bytes(mech, 8, &iv))
			return CKR_MECHANISM_PARAM_INVALID;
		p.mode = LS_MODE_CFB;
		p.iv = iv != NULL ? iv : zero_iv;
		p.iv_len = 8;
		break;
	default:
		return CKR_MECHANISM_INVALID;
	}
	return ckr_from_ls(ls_cipher_new(&p, &op->cipher), CKR_MECHANISM_PARAM_INVALID);
}

static CK_RV
init_mgm(ls_op *op, const CK_MECHANISM *mech, const ls_mech_key *key)
{
	const CK_GCM_PARAMS *gp;
	size_t n = ls_cipher_block_size((ls_cipher_alg)op->spec->alg);
	CK_RV rv;

	if ((rv = check_secret_key(op->info, op->spec, key, false)) != CKR_OK)
		return rv;
	if ((gp = param_struct(mech, sizeof(*gp))) == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	if (gp->pIv == NULL || gp->ulIvLen != n || (gp->ulIvBits != 0 && gp->ulIvBits != 8 * n) ||
	    (gp->pIv[0] & 0x80) != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if (gp->ulTagBits % 8 != 0 || gp->ulTagBits < 32 || gp->ulTagBits > 8 * n)
		return CKR_MECHANISM_PARAM_INVALID;
	if (gp->ulAADLen > MAX_AAD || (gp->ulAADLen > 0 && gp->pAAD == NULL))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(op->iv, gp->pIv, n);
	op->iv_len = n;
	op->tag_len = gp->ulTagBits / 8;
	if (gp->ulAADLen > 0) {
		if ((op->aad = malloc(gp->ulAADLen)) == NULL)
			return CKR_HOST_MEMORY;
		memcpy(op->aad, gp->pAAD, gp->ulAADLen);
		op->aad_len = gp->ulAADLen;
	}
	op->out_size = n;
	return CKR_OK;
}

static CK_RV
init_mac(ls_op *op, const CK_MECHANISM *mech, const ls_mech_key *key)
{
	const uint8_t *iv = NULL;
	ls_cipher_alg alg = (ls_cipher_alg)op->spec->alg;
	CK_RV rv;
	int r;

	if (op->spec->fam == FAM_HMAC) {
		if (!hash_param_ok(mech, op->spec->alg))
			return CKR_MECHANISM_PARAM_INVALID;
		if ((rv = check_secret_key(op->info, op->spec, key, true)) != CKR_OK)
			return rv;
		op->out_size = ls_md_size((ls_md_alg)op->spec->alg);
		r = ls_hmac_new((ls_md_alg)op->spec->alg, key->value, key->value_len, &op->hmac);
		return ckr_from_ls(r, CKR_KEY_SIZE_RANGE);
	}
	if ((rv = check_secret_key(op->info, op->spec, key, false)) != CKR_OK)
		return rv;
	if (op->spec->fam == FAM_OMAC) {
		/* TC26 publishes no truncation parameter: the full tag, no parameter. */
		if (!param_absent(mech))
			return CKR_MECHANISM_PARAM_INVALID;
	} else {
		if (!param_bytes(mech, 8, &iv))
			return CKR_MECHANISM_PARAM_INVALID;
		if (iv != NULL) {
			memcpy(op->iv, iv, 8);
			op->iv_len = 8;
			op->iv_pending = true;
		}
	}
	op->out_size = ls_mac_size(alg);
	r = ls_mac_new(alg, alg == LS_CIPHER_GOST89 ? sbox_of(key) : 0, key->value, &op->mac);
	return ckr_from_ls(r, CKR_KEY_SIZE_RANGE);
}

CK_RV
ls_op_new(ls_op_kind kind, const CK_MECHANISM *mech, const ls_mech_key *key, ls_op **out)
{
	const ls_mech_info *info;
	const mech_spec *spec = NULL;
	ls_op *op = NULL;
	CK_RV rv;

	ls_return_val_if_fail(mech != NULL && out != NULL, CKR_ARGUMENTS_BAD);
	*out = NULL;
	if (mech->ulParameterLen > 0 && mech->pParameter == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	if ((info = lookup(mech, kind_flag(kind), &spec)) == NULL)
		return CKR_MECHANISM_INVALID;
	if (kind != LS_OP_DIGEST && key == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return CKR_HOST_MEMORY;
	op->kind = kind;
	op->info = info;
	op->spec = spec;
	op->key = kind == LS_OP_DIGEST ? NULL : key;

	switch (spec->fam) {
	case FAM_DIGEST:
		rv = hash_param_ok(mech, spec->alg) ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
		op->out_size = ls_md_size((ls_md_alg)spec->alg);
		break;
	case FAM_SIGN_RAW:
	case FAM_SIGN_HASH:
		rv = init_sign(op, mech, key);
		break;
	case FAM_HMAC:
	case FAM_OMAC:
	case FAM_IMIT:
		rv = init_mac(op, mech, key);
		break;
	case FAM_ECB:
	case FAM_CTR_ACPKM:
	case FAM_CFB89:
		rv = init_cipher(op, mech, key);
		break;
	case FAM_MGM:
		rv = init_mgm(op, mech, key);
		break;
	default:
		rv = CKR_MECHANISM_INVALID;
		break;
	}
	if (rv != CKR_OK)
		goto out;
	*out = op;
	op = NULL;
out:
	ls_op_free(op);
	return rv;
}

/* --- digests, signatures, MACs ------------------------------------------------------------- */

/* IMIT with an IV: the IV is XORed into the first (zero-padded) block, as gost_mac_iv does. */
static int
imit_feed(ls_op *op, const uint8_t *data, size_t len)
{
	size_t take, i;
	int r;

	if (!op->iv_pending)
		return len > 0 ? ls_mac_update(op->mac, data, len) : LS_OK;
	take = len < 8 - op->part_len ? len : 8 - op->part_len;
	memcpy(op->part + op->part_len, data, take);
	op->part_len += take;
	if (op->part_len < 8)
		return LS_OK;
	for (i = 0; i < 8; i++)
		op->part[i] ^= op->iv[i];
	op->iv_pending = false;
	r = ls_mac_update(op->mac, op->part, 8);
	ls_wipe(op->part, sizeof(op->part));
	op->part_len = 0;
	if (r == LS_OK && len > take)
		r = ls_mac_update(op->mac, data + take, len - take);
	return r;
}

static int
imit_final(ls_op *op, uint8_t tag[4])
{
	size_t i;
	int r;

	if (op->iv_pending) {
		if (op->part_len == 0) {
			/* Nothing to MAC: the state is the IV (gost_mac_iv on empty data). */
			memcpy(tag, op->iv, 4);
			return LS_OK;
		}
		memset(op->part + op->part_len, 0, 8 - op->part_len);
		for (i = 0; i < 8; i++)
			op->part[i] ^= op->iv[i];
		op->iv_pending = false;
		r = ls_mac_update(op->mac, op->part, 8);
		ls_wipe(op->part, sizeof(op->part));
		op->part_len = 0;
		if (r != LS_OK)
			return r;
	}
	return ls_mac_final(op->mac, tag, 4);
}

/* Feeds @len bytes into a running digest/sign/verify operation. */
static int
feed(ls_op *op, const uint8_t *data, size_t len)
{
	int r;

	switch (op->spec->fam) {
	case FAM_DIGEST:
	case FAM_SIGN_HASH:
		if (op->md == NULL && (r = ls_md_new((ls_md_alg)op->spec->alg, &op->md)) != LS_OK)
			return r;
		return len > 0 ? ls_md_update(op->md, data, len) : LS_OK;
	case FAM_HMAC:
		return len > 0 ? ls_hmac_update(op->hmac, data, len) : LS_OK;
	case FAM_OMAC:
		return len > 0 ? ls_mac_update(op->mac, data, len) : LS_OK;
	case FAM_IMIT:
		return imit_feed(op, data, len);
	default:
		return LS_ERR_STATE;
	}
}

/* The digest of what was fed (FAM_DIGEST, FAM_SIGN_HASH); finishes the running context. */
static int
finish_digest(ls_op *op, uint8_t *md, size_t md_len)
{
	if (op->md == NULL)
		return ls_md((ls_md_alg)op->spec->alg, NULL, 0, md, md_len);
	return ls_md_final(op->md, md, md_len);
}

/*
 * The MAC value (HMAC, OMAC, IMIT) or, for GOST R 34.10, the digest to sign/verify, of what was
 * fed; @one/@one_len is a single-part input to feed first (NULL for final).
 */
static int
finish_value(ls_op *op, const uint8_t *one, size_t one_len, uint8_t *val, size_t *val_len)
{
	int r = LS_OK;

	if (one != NULL || one_len > 0) {
		if (op->spec->fam == FAM_SIGN_HASH && op->md == NULL) {
			*val_len = ls_md_size((ls_md_alg)op->spec->alg);
			return ls_md((ls_md_alg)op->spec->alg, one, one_len, val, *val_len);
		}
		if ((r = feed(op, one, one_len)) != LS_OK)
			return r;
	}
	switch (op->spec->fam) {
	case FAM_SIGN_HASH:
		*val_len = ls_md_size((ls_md_alg)op->spec->alg);
		return finish_digest(op, val, *val_len);
	case FAM_HMAC:
		*val_len = op->out_size;
		return ls_hmac_final(op->hmac, val, *val_len);
	case FAM_OMAC:
		*val_len = op->out_size;
		return ls_mac_final(op->mac, val, *val_len);
	case FAM_IMIT:
		*val_len = 4;
		return imit_final(op, val);
	default:
		return LS_ERR_STATE;
	}
}

/* C_Sign / C_SignFinal after the output check: @one is the single-part data or NULL. */
static CK_RV
sign_out(ls_op *op, const uint8_t *one, size_t one_len, bool single, uint8_t *out,
         CK_ULONG *out_len)
{
	uint8_t val[LS_MD_MAX_SIZE];
	size_t val_len = 0;
	CK_RV rv;
	int r;

	if (op->spec->fam == FAM_SIGN_RAW) {
		/* Checked before the engine: it aborts the process on another length. */
		if (one_len != op->out_size / 2)
			return CKR_DATA_LEN_RANGE;
		r = ls_gost_sign_digest(op->gost, one, one_len, out, op->out_size);
		rv = ckr_from_ls(r, CKR_DATA_LEN_RANGE);
		goto done;
	}
	r = finish_value(op, single ? (one != NULL ? one : (const uint8_t *)"") : NULL, one_len, val,
	                 &val_len);
	if (r == LS_OK && op->spec->fam == FAM_SIGN_HASH)
		r = ls_gost_sign_digest(op->gost, val, val_len, out, op->out_size);
	else if (r == LS_OK)
		memcpy(out, val, val_len);
	rv = ckr_from_ls(r, CKR_DATA_LEN_RANGE);
done:
	ls_wipe(val, sizeof(val));
	if (rv == CKR_OK)
		*out_len = op->out_size;
	return rv;
}

static CK_RV
verify_sig(ls_op *op, const uint8_t *one, size_t one_len, bool single, const uint8_t *sig,
           CK_ULONG sig_len)
{
	uint8_t val[LS_MD_MAX_SIZE];
	size_t val_len = 0;
	CK_RV rv;
	int r;

	if (sig == NULL && sig_len > 0)
		return CKR_ARGUMENTS_BAD;
	if (op->spec->fam == FAM_SIGN_RAW) {
		if (one_len != op->out_size / 2)
			return CKR_DATA_LEN_RANGE;
		if (sig_len != op->out_size)
			return CKR_SIGNATURE_LEN_RANGE;
		r = ls_gost_verify_digest(op->gost, one, one_len, sig, sig_len);
		return ckr_from_ls(r, CKR_SIGNATURE_INVALID);
	}
	if (sig_len != op->out_size)
		return CKR_SIGNATURE_LEN_RANGE;
	r = finish_value(op, single ? (one != NULL ? one : (const uint8_t *)"") : NULL, one_len, val,
	                 &val_len);
	if (r != LS_OK) {
		rv = ckr_from_ls(r, CKR_DATA_LEN_RANGE);
	} else if (op->spec->fam == FAM_SIGN_HASH) {
		r = ls_gost_verify_digest(op->gost, val, val_len, sig, sig_len);
		rv = ckr_from_ls(r, CKR_SIGNATURE_INVALID);
	} else {
		rv = ls_ct_equal(val, sig, val_len) ? CKR_OK : CKR_SIGNATURE_INVALID;
	}
	ls_wipe(val, sizeof(val));
	return rv;
}

/* --- ciphers --------------------------------------------------------------------------------- */

static CK_RV
len_error(const ls_op *op)
{
	return op->kind == LS_OP_ENCRYPT ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;
}

static CK_RV
mgm_oneshot(ls_op *op, const uint8_t *in, CK_ULONG in_len, uint8_t *out, CK_ULONG *out_len)
{
	ls_cipher_alg alg = (ls_cipher_alg)op->spec->alg;
	size_t need;
	CK_RV rv;
	int r;

	if (op->kind == LS_OP_ENCRYPT) {
		if (in_len > (CK_ULONG)-1 - op->tag_len || (in_len == 0 && op->aad_len == 0))
			return CKR_DATA_LEN_RANGE;
		need = in_len + op->tag_len;
		if (!room(out, out_len, need, &rv))
			return rv;
		r = ls_mgm_encrypt(alg, op->key->value, op->iv, op->iv_len, op->aad, op->aad_len, in,
		                   in_len, out, out + in_len, op->tag_len);
		if (r != LS_OK) {
			ls_wipe(out, need);
			return ckr_from_ls(r, CKR_DATA_LEN_RANGE);
		}
	} else {
		if (in_len < op->tag_len || (in_len == op->tag_len && op->aad_len == 0))
			return CKR_ENCRYPTED_DATA_LEN_RANGE;
		need = in_len - op->tag_len;
		if (!room(out, out_len, need, &rv))
			return rv;
		/* The core checks the tag before it writes a byte of plaintext. */
		r = ls_mgm_decrypt(alg, op->key->value, op->iv, op->iv_len, op->aad, op->aad_len, in,
		                   need, in + need, op->tag_len, out);
		if (r != LS_OK)
			return ckr_from_ls(r, CKR_ENCRYPTED_DATA_INVALID);
	}
	*out_len = need;
	return CKR_OK;
}

static CK_RV
cipher_run(ls_op *op, const uint8_t *in, size_t len, uint8_t *out)
{
	size_t n;

	if (len == 0)
		return CKR_OK;
	return ckr_from_ls(ls_cipher_update(op->cipher, in, len, out, &n), len_error(op));
}

CK_RV
ls_op_oneshot(ls_op *op, const uint8_t *in, CK_ULONG in_len, uint8_t *out, CK_ULONG *out_len)
{
	CK_RV rv;

	ls_return_val_if_fail(op != NULL && out_len != NULL, CKR_ARGUMENTS_BAD);
	ls_return_val_if_fail(in != NULL || in_len == 0, CKR_ARGUMENTS_BAD);
	switch (op->kind) {
	case LS_OP_DIGEST:
		if (!room(out, out_len, op->out_size, &rv))
			return rv;
		rv = ckr_from_ls(ls_md((ls_md_alg)op->spec->alg, in, in_len, out, op->out_size),
		                 CKR_DATA_LEN_RANGE);
		if (rv == CKR_OK)
			*out_len = op->out_size;
		return rv;
	case LS_OP_SIGN:
		if (op->spec->fam == FAM_SIGN_RAW && in_len != op->out_size / 2)
			return CKR_DATA_LEN_RANGE;
		if (!room(out, out_len, op->out_size, &rv))
			return rv;
		return sign_out(op, in, in_len, true, out, out_len);
	case LS_OP_ENCRYPT:
	case LS_OP_DECRYPT:
		if (op->spec->fam == FAM_MGM)
			return mgm_oneshot(op, in, in_len, out, out_len);
		if (op->part_len != 0)
			return CKR_OPERATION_ACTIVE;
		if (op->spec->fam == FAM_ECB && in_len % op->out_size != 0)
			return len_error(op);
		if (!room(out, out_len, in_len, &rv))
			return rv;
		if ((rv = cipher_run(op, in, in_len, out)) != CKR_OK) {
			ls_wipe(out, in_len);
			return rv;
		}
		*out_len = in_len;
		return CKR_OK;
	default:
		return CKR_FUNCTION_NOT_SUPPORTED;
	}
}

CK_RV
ls_op_update(ls_op *op, const uint8_t *in, CK_ULONG in_len, uint8_t *out, CK_ULONG *out_len)
{
	size_t need, take, head;
	CK_RV rv;

	ls_return_val_if_fail(op != NULL, CKR_ARGUMENTS_BAD);
	ls_return_val_if_fail(in != NULL || in_len == 0, CKR_ARGUMENTS_BAD);
	if (op->spec->fam == FAM_SIGN_RAW || op->spec->fam == FAM_MGM)
		return CKR_FUNCTION_NOT_SUPPORTED;
	switch (op->kind) {
	case LS_OP_DIGEST:
	case LS_OP_SIGN:
	case LS_OP_VERIFY:
		return ckr_from_ls(feed(op, in, in_len), CKR_DATA_LEN_RANGE);
	case LS_OP_ENCRYPT:
	case LS_OP_DECRYPT:
		break;
	default:
		return CKR_FUNCTION_NOT_SUPPORTED;
	}
	ls_return_val_if_fail(out_len != NULL, CKR_ARGUMENTS_BAD);
	if (op->spec->fam != FAM_ECB) {
		if (!room(out, out_len, in_len, &rv))
			return rv;
		if ((rv = cipher_run(op, in, in_len, out)) != CKR_OK) {
			ls_wipe(out, in_len);
			return rv;
		}
		*out_len = in_len;
		return CKR_OK;
	}
	/* ECB: whole blocks out, the rest kept for the next part. */
	if (in_len > (CK_ULONG)-1 - op->part_len)
		return len_error(op);
	need = (op->part_len + in_len) / op->out_size * op->out_size;
	if (!room(out, out_len, need, &rv))
		return rv;
	head = 0;
	if (need > 0 && op->part_len > 0) {
		take = op->out_size - op->part_len;
		memcpy(op->part + op->part_len, in, take);
		if ((rv = cipher_run(op, op->part, op->out_size, out)) != CKR_OK)
			goto fail;
		head = op->out_size;
		in += take;
		in_len -= take;
		ls_wipe(op->part, sizeof(op->part));
		op->part_len = 0;
	}
	take = need - head;
	if ((rv = cipher_run(op, in, take, out + head)) != CKR_OK)
		goto fail;
	memcpy(op->part + op->part_len, in + take, in_len - take);
	op->part_len += in_len - take;
	*out_len = need;
	return CKR_OK;
fail:
	ls_wipe(out, need);
	return rv;
}

CK_RV
ls_op_digest_key(ls_op *op, const ls_mech_key *key)
{
	ls_return_val_if_fail(op != NULL && key != NULL, CKR_ARGUMENTS_BAD);
	if (op->kind != LS_OP_DIGEST)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (key->cls != CKO_SECRET_KEY || key->value == NULL)
		return CKR_KEY_INDIGESTIBLE;
	return ckr_from_ls(feed(op, key->value, key->value_len), CKR_KEY_INDIGESTIBLE);
}

CK_RV
ls_op_final(ls_op *op, uint8_t *out, CK_ULONG *out_len)
{
	CK_RV rv;

	ls_return_val_if_fail(op != NULL && out_len != NULL, CKR_ARGUMENTS_BAD);
	if (op->spec->fam == FAM_SIGN_RAW || op->spec->fam == FAM_MGM)
		return CKR_FUNCTION_NOT_SUPPORTED;
	switch (op->kind) {
	case LS_OP_DIGEST:
		if (!room(out, out_len, op->out_size, &rv))
			return rv;
		rv = ckr_from_ls(finish_digest(op, out, op->out_size), CKR_DATA_LEN_RANGE);
		if (rv == CKR_OK)
			*out_len = op->out_size;
		return rv;
	case LS_OP_SIGN:
		if (!room(out, out_len, op->out_size, &rv))
			return rv;
		return sign_out(op, NULL, 0, false, out, out_len);
	case LS_OP_ENCRYPT:
	case LS_OP_DECRYPT:
		if (op->part_len != 0)
			return len_error(op);
		*out_len = 0;
		return CKR_OK;
	default:
		return CKR_FUNCTION_NOT_SUPPORTED;
	}
}

CK_RV
ls_op_verify(ls_op *op, const uint8_t *in, CK_ULONG in_len, const uint8_t *sig,
             CK_ULONG sig_len)
{
	ls_return_val_if_fail(op != NULL, CKR_ARGUMENTS_BAD);
	ls_return_val_if_fail(in != NULL || in_len == 0, CKR_ARGUMENTS_BAD);
	if (op->kind != LS_OP_VERIFY)
		return CKR_OPERATION_NOT_INITIALIZED;
	return verify_sig(op, in, in_len, true, sig, sig_len);
}

CK_RV
ls_op_verify_final(ls_op *op, const uint8_t *sig, CK_ULONG sig_len)
{
	ls_return_val_if_fail(op != NULL, CKR_ARGUMENTS_BAD);
	if (op->kind != LS_OP_VERIFY)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (op->spec->fam == FAM_SIGN_RAW)
		return CKR_FUNCTION_NOT_SUPPORTED;
	return verify_sig(op, NULL, 0, false, sig, sig_len);
}

/* ---------------------------------------------------------------------------------------------
 * Key generation
 * ------------------------------------------------------------------------------------------- */

CK_RV
ls_mech_generate_key(const CK_MECHANISM *mech, CK_ULONG value_len, CK_KEY_TYPE *key_type,
                     uint8_t *out, size_t out_size, size_t *out_len)
{
	const ls_mech_info *info;
	const mech_spec *spec = NULL;
	size_t len;
	int r;

	ls_return_val_if_fail(mech != NULL && key_type != NULL && out != NULL && out_len != NULL,
	                      CKR_ARGUMENTS_BAD);
	*out_len = 0;
	if ((info = lookup(mech, CKF_GENERATE, &spec)) == NULL)
		return CKR_MECHANISM_INVALID;
	if (!param_absent(mech))
		return CKR_MECHANISM_PARAM_INVALID;
	if (spec->ktype == CKK_GENERIC_SECRET) {
		if (value_len == 0)
			return CKR_TEMPLATE_INCOMPLETE;
		if (value_len < info->min_key_size / 8 || value_len > info->max_key_size / 8)
			return CKR_KEY_SIZE_RANGE;
		len = value_len;
	} else {
		if (value_len != 0 && value_len != info->min_key_size)
			return CKR_TEMPLATE_INCONSISTENT;
		len = info->min_key_size;
	}
	if (out_size < len)
		return CKR_BUFFER_TOO_SMALL;
	if ((r = ls_random_bytes(out, len)) != LS_OK) {
		ls_wipe(out, len);
		return ckr_from_ls(r, CKR_FUNCTION_FAILED);
	}
	*key_type = spec->ktype;
	*out_len = len;
	return CKR_OK;
}

CK_RV
ls_mech_generate_key_pair(const CK_MECHANISM *mech, ls_curve curve, uint8_t *pub,
                          size_t pub_size, size_t *pub_len, uint8_t *priv, size_t priv_size,
                          size_t *priv_len, ls_gost_key **gost)
{
	const ls_mech_info *info;
	const mech_spec *spec = NULL;
	ls_gost_key *k = NULL;
	size_t size;
	CK_RV rv;
	int r;

	ls_return_val_if_fail(mech != NULL && pub != NULL && pub_len != NULL && priv != NULL &&
	                              priv_len != NULL,
	                      CKR_ARGUMENTS_BAD);
	*pub_len = *priv_len = 0;
	if (gost != NULL)
		*gost = NULL;
	if ((info = lookup(mech, CKF_GENERATE_KEY_PAIR, &spec)) == NULL)
		return CKR_MECHANISM_INVALID;
	if (!param_absent(mech))
		return CKR_MECHANISM_PARAM_INVALID;
	size = ls_curve_size(curve);
	if (size == 0 || size * 8 != info->min_key_size)
		return CKR_TEMPLATE_INCONSISTENT;
	if (pub_size < 2 * size || priv_size < size)
		return CKR_BUFFER_TOO_SMALL;
	if ((r = ls_gost_key_generate(curve, &k)) != LS_OK)
		return ckr_from_ls(r, CKR_TEMPLATE_INCONSISTENT);
	if ((r = ls_gost_key_public(k, pub, 2 * size)) != LS_OK ||
	    (r = ls_gost_key_private(k, priv, size)) != LS_OK) {
		ls_wipe(priv, size);
		rv = ckr_from_ls(r, CKR_FUNCTION_FAILED);
		goto out;
	}
	*pub_len = 2 * size;
	*priv_len = size;
	if (gost != NULL) {
		*gost = k;
		k = NULL;
	}
	rv = CKR_OK;
out:
	ls_gost_key_free(k);
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * GOST 28147-89: CryptoPro KEK diversification (RFC 4357 6.5) and key wrap (6.3)
 * ------------------------------------------------------------------------------------------- */

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * K[0] = @kek; eight times: S = (sum of the key words whose UKM bit is set) || (sum of the
 * others), 32-bit little-endian each; K[i+1] = CFB(K[i], IV = S) of K[i].  @out = K[8].
 */
static int
cp_diversify(ls_gost89_param sbox, const uint8_t kek[32], const uint8_t ukm[8], uint8_t out[32])
{
	ls_cipher_params p = { 0 };
	uint8_t k[32], next[32], s[8];
	uint32_t s1, s2, w;
	int i, j, r = LS_OK;

	memcpy(k, kek, 32);
	p.alg = LS_CIPHER_GOST89;
	p.mode = LS_MODE_CFB;
	p.gost89_param = sbox;
	p.encrypt = true;
	p.iv = s;
	p.iv_len = 8;
	for (i = 0; i < 8; i++) {
		s1 = s2 = 0;
		for (j = 0; j < 8; j++) {
			w = get_le32(k + 4 * j);
			if (ukm[i] >> j & 1)
				s1 += w;
			else
				s2 += w;
		}
		put_le32(s, s1);
		put_le32(s + 4, s2);
		p.key = k;
		if ((r = ls_cipher(&p, k, 32, next)) != LS_OK)
			goto out;
		memcpy(k, next, 32);
	}
	memcpy(out, k, 32);
out:
	ls_wipe(k, sizeof(k));
	ls_wipe(next, sizeof(next));
	ls_wipe(s, sizeof(s));
	return r;
}

/* IMIT(IV = @ukm, @key) of the 32-byte @cek, 4 bytes. */
static int
imit_iv32(ls_gost89_param sbox, const uint8_t key[32], const uint8_t ukm[8], const uint8_t *cek,
          uint8_t tag[4])
{
	uint8_t buf[32];
	int i, r;

	memcpy(buf, cek, 32);
	for (i = 0; i < 8; i++)
		buf[i] ^= ukm[i];
	r = ls_mac(LS_CIPHER_GOST89, sbox, key, buf, sizeof(buf), tag, 4);
	ls_wipe(buf, sizeof(buf));
	return r;
}

/* Wrap (@encrypt) or unwrap 32 bytes: @in -> @out (36 bytes wrapped: ECB || IMIT). */
static CK_RV
wrap89(ls_gost89_param sbox, const uint8_t kek[32], const uint8_t ukm[8], bool encrypt,
       const uint8_t *in, uint8_t *out)
{
	ls_cipher_params p = { 0 };
	uint8_t kd[32], cek[32], tag[4];
	CK_RV rv;
	int r;

	if ((r = cp_diversify(sbox, kek, ukm, kd)) != LS_OK) {
		rv = ckr_from_ls(r, CKR_FUNCTION_FAILED);
		goto out;
	}
	p.alg = LS_CIPHER_GOST89;
	p.mode = LS_MODE_ECB;
	p.gost89_param = sbox;
	p.encrypt = encrypt;
	p.key = kd;
	if (encrypt) {
		if ((r = imit_iv32(sbox, kd, ukm, in, out + 32)) != LS_OK ||
		    (r = ls_cipher(&p, in, 32, out)) != LS_OK) {
			ls_wipe(out, 36);
			rv = ckr_from_ls(r, CKR_FUNCTION_FAILED);
			goto out;
		}
		rv = CKR_OK;
		goto out;
	}
	if ((r = ls_cipher(&p, in, 32, cek)) != LS_OK ||
	    (r = imit_iv32(sbox, kd, ukm, cek, tag)) != LS_OK) {
		rv = ckr_from_ls(r, CKR_FUNCTION_FAILED);
		goto out;
	}
	if (!ls_ct_equal(tag, in + 32, 4)) {
		rv = CKR_WRAPPED_KEY_INVALID;
		goto out;
	}
	memcpy(out, cek, 32);
	rv = CKR_OK;
out:
	ls_wipe(kd, sizeof(kd));
	ls_wipe(cek, sizeof(cek));
	ls_wipe(tag, sizeof(tag));
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Wrapping
 * ------------------------------------------------------------------------------------------- */

/* The wrapping key and parameter of a wrap mechanism; *@iv gets the IV/UKM. */
static CK_RV
wrap_setup(const CK_MECHANISM *mech, CK_FLAGS flag, const ls_mech_key *wrapping,
           const mech_spec **spec, const uint8_t **iv)
{
	const ls_mech_info *info;
	size_t iv_len;
	CK_RV rv;

	if (mech->ulParameterLen > 0 && mech->pParameter == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	if ((info = lookup(mech, flag, spec)) == NULL)
		return CKR_MECHANISM_INVALID;
	iv_len = (*spec)->fam == FAM_KEXP15 ? half_block((*spec)->alg) : 8;
	if (param_absent(mech) || !param_bytes(mech, iv_len, iv))
		return CKR_MECHANISM_PARAM_INVALID;
	if ((rv = check_secret_key(info, *spec, wrapping, false)) != CKR_OK)
		return rv;
	return CKR_OK;
}

CK_RV
ls_mech_wrap(const CK_MECHANISM *mech, const ls_mech_key *wrapping, const ls_mech_key *key,
             uint8_t *out, CK_ULONG *out_len)
{
	const mech_spec *spec = NULL;
	const uint8_t *iv = NULL;
	size_t need, n = 0, bs;
	CK_RV rv;
	int r;

	ls_return_val_if_fail(mech != NULL && wrapping != NULL && key != NULL && out_len != NULL,
	                      CKR_ARGUMENTS_BAD);
	if ((rv = wrap_setup(mech, CKF_WRAP, wrapping, &spec, &iv)) != CKR_OK)
		return rv;
	if (key->value == NULL)
		return CKR_KEY_NOT_WRAPPABLE;
	if (spec->fam == FAM_KEXP15) {
		bs = ls_cipher_block_size((ls_cipher_alg)spec->alg);
		if (key->value_len < 1 || key->value_len > 64)
			return CKR_KEY_SIZE_RANGE;
		need = key->value_len + bs;
		if (!room(out, out_len, need, &rv))
			return rv;
		/* Twin key = K_mac || K_enc (the order of the KEG output). */
		r = ls_kexp15((ls_cipher_alg)spec->alg, key->value, key->value_len, wrapping->value,
		              wrapping->value + 32, iv, half_block(spec->alg), out, *out_len, &n);
		if (r != LS_OK)
			return ckr_from_ls(r, CKR_KEY_SIZE_RANGE);
		*out_len = n;
		return CKR_OK;
	}
	if (key->value_len != 32)
		return CKR_KEY_SIZE_RANGE;
	if (!room(out, out_len, 36, &rv))
		return rv;
	if ((rv = wrap89(sbox_of(wrapping), wrapping->value, iv, true, key->value, out)) != CKR_OK)
		return rv;
	*out_len = 36;
	return CKR_OK;
}

CK_RV
ls_mech_unwrap(const CK_MECHANISM *mech, const ls_mech_key *unwrapping, const uint8_t *in,
               CK_ULONG in_len, CK_KEY_TYPE key_type, uint8_t *out, size_t out_size,
               size_t *out_len)
{
	const mech_spec *spec = NULL;
	const uint8_t *iv = NULL;
	size_t bs, klen, n = 0;
	CK_RV rv;
	int r;

	ls_return_val_if_fail(mech != NULL && unwrapping != NULL && out != NULL && out_len != NULL,
	                      CKR_ARGUMENTS_BAD);
	*out_len = 0;
	if ((rv = wrap_setup(mech, CKF_UNWRAP, unwrapping, &spec, &iv)) != CKR_OK)
		return rv;
	if (in == NULL)
		return CKR_WRAPPED_KEY_LEN_RANGE;
	if (spec->fam == FAM_KEXP15) {
		bs = ls_cipher_block_size((ls_cipher_alg)spec->alg);
		if (in_len < 1 + bs || in_len > 64 + bs)
			return CKR_WRAPPED_KEY_LEN_RANGE;
		klen = in_len - bs;
	} else {
		if (in_len != 36)
			return CKR_WRAPPED_KEY_LEN_RANGE;
		klen = 32;
	}
	if ((rv = ls_mech_check_key_value(key_type, klen)) != CKR_OK) {
		size_t lo, hi;

		return key_len_rule(key_type, &lo, &hi) || key_type == CKK_GOSTR3410 ||
		                       key_type == CKK_GOSTR3410_512
		               ? CKR_WRAPPED_KEY_LEN_RANGE
		               : CKR_TEMPLATE_INCONSISTENT;
	}
	if (out_size < klen)
		return CKR_BUFFER_TOO_SMALL;
	if (spec->fam == FAM_WRAP89) {
		if ((rv = wrap89(sbox_of(unwrapping), unwrapping->value, iv, false, in, out)) !=
		    CKR_OK)
			return rv;
		*out_len = 32;
		return CKR_OK;
	}
	r = ls_kimp15((ls_cipher_alg)spec->alg, in, in_len, unwrapping->value,
	              unwrapping->value + 32, iv, half_block(spec->alg), out, out_size, &n);
	if (r != LS_OK)
		return ckr_from_ls(r, CKR_WRAPPED_KEY_INVALID);
	*out_len = n;
	return CKR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Derivation
 * ------------------------------------------------------------------------------------------- */

/* The fixed value length of @type (0: none, the mechanism's or the template's length rules). */
static size_t
fixed_len(CK_KEY_TYPE type)
{
	size_t min, max;

	if (type == CKK_GENERIC_SECRET || !key_len_rule(type, &min, &max) || min != max)
		return 0;
	return min;
}

/*
 * The peer's public key: LE(x) || LE(y) of 2 * @size bytes, or that inside a DER OCTET STRING
 * (what CKA_VALUE of some tools' GOST public keys and SPKI bit strings carry).
 */
static const uint8_t *
peer_point(const uint8_t *p, CK_ULONG len, size_t size, size_t *point_len)
{
	*point_len = 2 * size;
	if (p == NULL)
		return NULL;
	if (len == 2 * size)
		return p;
	if (size == 32 && len == 66 && p[0] == 0x04 && p[1] == 0x40)
		return p + 2;
	if (size == 64 && len == 131 && p[0] == 0x04 && p[1] == 0x81 && p[2] == 0x80)
		return p + 3;
	return NULL;
}

/* VKO / KEG: @res gets the natural output (32 or 64 bytes), *@res_len its length. */
static CK_RV
derive_agreement(const CK_MECHANISM *mech, const ls_mech_info *info, const mech_spec *spec,
                 const ls_mech_key *base, uint8_t res[64], size_t *res_len)
{
	const uint8_t *peer, *ukm;
	size_t size, peer_len, ukm_len;
	ls_gost_key *own = NULL;
	const ls_gost_key *priv;
	CK_EC_KDF_TYPE kdf = CKD_NULL;
	uint8_t tmp[32];
	CK_RV rv;
	int r;

	if ((rv = check_gost_key(info, base, CKO_PRIVATE_KEY)) != CKR_OK)
		return rv;
	size = ls_curve_size(curve_of(base));
	if (spec->fam == FAM_KEG) {
		const CK_VENDOR_GOST_KEG_PARAMS *kp = param_struct(mech, sizeof(*kp));

		if (kp == NULL)
			return CKR_MECHANISM_PARAM_INVALID;
		peer = peer_point(kp->pPublicData, kp->ulPublicDataLen, size, &peer_len);
		ukm = kp->pUKM;
		ukm_len = kp->ulUKMLen;
		if (ukm_len != 32)
			return CKR_MECHANISM_PARAM_INVALID;
	} else {
		const CK_GOSTR3410_DERIVE_PARAMS *dp = param_struct(mech, sizeof(*dp));

		if (dp == NULL)
			return CKR_MECHANISM_PARAM_INVALID;
		peer = peer_point(dp->pPublicData, dp->ulPublicDataLen, size, &peer_len);
		ukm = dp->pUKM;
		ukm_len = dp->ulUKMLen;
		kdf = dp->kdf;
		if (ukm_len < 1 || ukm_len > MAX_UKM)
			return CKR_MECHANISM_PARAM_INVALID;
		/* CryptoPro diversification takes an 8-byte UKM and a 256-bit result. */
		if (kdf != CKD_NULL && (kdf != CKD_CPDIVERSIFY_KDF || ukm_len != 8 ||
		                        spec->alg != LS_VKO_2012_256))
			return CKR_MECHANISM_PARAM_INVALID;
	}
	if (peer == NULL || ukm == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	if (base->gost != NULL) {
		priv = base->gost;
	} else {
		if ((rv = ls_mech_key_build_gost(base, &own)) != CKR_OK)
			return rv == CKR_ATTRIBUTE_VALUE_INVALID ? CKR_KEY_SIZE_RANGE : rv;
		priv = own;
	}
	if (spec->fam == FAM_KEG) {
		r = ls_gost_keg(priv, peer, peer_len, ukm, ukm_len, res);
		*res_len = 64;
	} else {
		*res_len = spec->alg == LS_VKO_2012_512 ? 64 : 32;
		r = ls_gost_vko(priv, peer, peer_len, (ls_vko_alg)spec->alg, ukm, ukm_len, res,
		                *res_len);
	}
	rv = ckr_from_ls(r, CKR_MECHANISM_PARAM_INVALID);
	if (rv == CKR_OK && kdf == CKD_CPDIVERSIFY_KDF) {
		r = cp_diversify(LS_GOST89_PARAM_CPA, res, ukm, tmp);
		if (r == LS_OK)
			memcpy(res, tmp, 32);
		rv = ckr_from_ls(r, CKR_FUNCTION_FAILED);
	}
	if (rv != CKR_OK)
		ls_wipe(res, 64);
	ls_wipe(tmp, sizeof(tmp));
	ls_gost_key_free(own);
	return rv;
}

CK_RV
ls_mech_derive(const CK_MECHANISM *mech, const ls_mech_key *base, CK_KEY_TYPE want_key_type,
               CK_ULONG want_len, uint8_t *out, size_t out_size, size_t *out_len)
{
	const ls_mech_info *info;
	const mech_spec *spec = NULL;
	const CK_KDF_TREE_GOST_PARAMS *tp = NULL;
	uint8_t small[64], *res = small;
	size_t natural = 0, len, offset = 0, type_len, total = 0;
	CK_RV rv;
	int r;

	ls_return_val_if_fail(mech != NULL && base != NULL && out != NULL && out_len != NULL,
	                      CKR_ARGUMENTS_BAD);
	*out_len = 0;
	if (mech->ulParameterLen > 0 && mech->pParameter == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	if ((info = lookup(mech, CKF_DERIVE, &spec)) == NULL)
		return CKR_MECHANISM_INVALID;

	if (spec->fam == FAM_VKO || spec->fam == FAM_KEG) {
		if ((rv = derive_agreement(mech, info, spec, base, small, &natural)) != CKR_OK)
			return rv;
		total = natural;
	} else {
		if ((tp = param_struct(mech, sizeof(*tp))) == NULL)
			return CKR_MECHANISM_PARAM_INVALID;
		if ((tp->ulLabelLength > 0 && tp->pLabel == NULL) ||
		    (tp->ulSeedLength > 0 && tp->pSeed == NULL) || tp->ulLabelLength > MAX_AAD ||
		    tp->ulSeedLength > MAX_AAD)
			return CKR_MECHANISM_PARAM_INVALID;
		if (spec->fam == FAM_KDF) {
			/* KDF_256 is KDF_TREE with R = 1 and L = 256: only those may be named. */
			if ((tp->ulR != 0 && tp->ulR != 1) || (tp->ulL != 0 && tp->ulL != 256) ||
			    tp->ulOffset != 0)
				return CKR_MECHANISM_PARAM_INVALID;
			total = 32;
		} else {
			if (tp->ulR < 1 || tp->ulR > 4 || tp->ulL == 0 || tp->ulL % 8 != 0 ||
			    tp->ulL / 8 > MAX_KDF_TREE_OUT || tp->ulOffset >= tp->ulL / 8)
				return CKR_MECHANISM_PARAM_INVALID;
			total = tp->ulL / 8;
			offset = tp->ulOffset;
		}
		natural = total - offset;
		/* The base: a secret key of 256 bits (RFC 7836 4.4, 4.5). */
		if ((rv = check_secret_key(info, spec, base, true)) != CKR_OK)
			return rv;
	}

	type_len = fixed_len(want_key_type);
	if (type_len != 0 && want_len != 0 && want_len != type_len) {
		rv = CKR_TEMPLATE_INCONSISTENT;
		goto out;
	}
	len = want_len != 0 ? want_len : type_len != 0 ? type_len : natural;
	if (len > natural || (want_key_type == CKK_GENERIC_SECRET && len > MAX_GENERIC_SECRET)) {
		rv = CKR_TEMPLATE_INCONSISTENT;
		goto out;
	}
	if (out_size < len) {
		*out_len = len;
		rv = CKR_BUFFER_TOO_SMALL;
		goto out;
	}

	if (tp != NULL) {
		if (total > sizeof(small) && (res = malloc(total)) == NULL) {
			res = small;
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		if (spec->fam == FAM_KDF)
			r = ls_kdf_gostr3411_2012_256(base->value, tp->pLabel, tp->ulLabelLength,
			                              tp->pSeed, tp->ulSeedLength, res);
		else
			r = ls_kdf_tree_gostr3411_2012_256(base->value, tp->pLabel,
			                                   tp->ulLabelLength, tp->pSeed,
			                                   tp->ulSeedLength, (unsigned)tp->ulR, res,
			                                   total);
		if ((rv = ckr_from_ls(r, CKR_MECHANISM_PARAM_INVALID)) != CKR_OK)
			goto out;
	}
	memcpy(out, res + offset, len);
	*out_len = len;
	rv = CKR_OK;
out:
	ls_wipe(res, total > sizeof(small) && res != small ? total : sizeof(small));
	if (res != small)
		free(res);
	return rv;
}
