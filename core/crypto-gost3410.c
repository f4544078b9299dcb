/*
 * LS11CLOUD - GOST R 34.10-2012: parameter sets, keys, signatures, VKO and KEG.
 *
 * Keys are EVP_PKEYs of the "gost" ENGINE (a legacy EC_KEY inside), always used through
 * contexts created with our explicit engine handle.  Every length, scalar and point is checked
 * here before the engine sees it: the engine aborts the process on a digest that is not 32 or
 * 64 bytes long, and 3.0.1 accepts r or s equal to q.
 *
 * Contexts are created per operation: EVP_PKEY_CTX_new + *_init costs about 0.25 us against
 * 25 us or more for the operation itself, so a cache would buy nothing and cost a lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "crypto-private.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#define MAX_SIZE 64
/* Engine-written SPKI and PKCS#8 of a 512-bit key are under 200 bytes. */
#define MAX_DER 4096

struct curve_info {
	ls_curve curve;
	const char *name;
	size_t size;
	int pkey_nid;          /* NID_id_GostR3410_2012_256 or _512 */
	int param_nid;         /* the canonical parameter set */
	const char *paramset;  /* the engine's "paramset" control value for it */
	unsigned cofactor_log2;
	const uint8_t *oid;    /* canonical DER OID */
	size_t oid_len;
};

#define OID(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

static const struct curve_info curves[] = {
	{ LS_CURVE_TEST_256, "test-256", 32, NID_id_GostR3410_2012_256,
	  NID_id_GostR3410_2001_TestParamSet, "0", 0,
	  OID(0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x00) },
	{ LS_CURVE_CP_A, "cp-A", 32, NID_id_GostR3410_2012_256,
	  NID_id_GostR3410_2001_CryptoPro_A_ParamSet, "A", 0,
	  OID(0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x01) },
	{ LS_CURVE_CP_B, "cp-B", 32, NID_id_GostR3410_2012_256,
	  NID_id_GostR3410_2001_CryptoPro_B_ParamSet, "B", 0,
	  OID(0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x02) },
	{ LS_CURVE_CP_C, "cp-C", 32, NID_id_GostR3410_2012_256,
	  NID_id_GostR3410_2001_CryptoPro_C_ParamSet, "C", 0,
	  OID(0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x03) },
	{ LS_CURVE_TC26_256_A, "tc26-256-A", 32, NID_id_GostR3410_2012_256,
	  NID_id_tc26_gost_3410_2012_256_paramSetA, "TCA", 2,
	  OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x01) },
	{ LS_CURVE_TEST_512, "test-512", 64, NID_id_GostR3410_2012_512,
	  NID_id_tc26_gost_3410_2012_512_paramSetTest, "1.2.643.7.1.2.1.2.0", 0,
	  OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x00) },
	{ LS_CURVE_TC26_512_A, "tc26-512-A", 64, NID_id_GostR3410_2012_512,
	  NID_id_tc26_gost_3410_2012_512_paramSetA, "A", 0,
	  OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x01) },
	{ LS_CURVE_TC26_512_B, "tc26-512-B", 64, NID_id_GostR3410_2012_512,
	  NID_id_tc26_gost_3410_2012_512_paramSetB, "B", 0,
	  OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x02) },
	{ LS_CURVE_TC26_512_C, "tc26-512-C", 64, NID_id_GostR3410_2012_512,
	  NID_id_tc26_gost_3410_2012_512_paramSetC, "C", 2,
	  OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x03) },
};

#define N_CURVES (sizeof(curves) / sizeof(curves[0]))

/* Every OID that names a curve (gost-pkcs11.md section 2), with the engine's NID for it. */
static const struct {
	const uint8_t *der;
	size_t der_len;
	int nid;
	ls_curve curve;
} aliases[] = {
	{ OID(0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x00),
	  NID_id_GostR3410_2001_TestParamSet, LS_CURVE_TEST_256 },
	{ OID(0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x01),
	  NID_id_GostR3410_2001_CryptoPro_A_ParamSet, LS_CURVE_CP_A },
	{ OID(0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x02),
	  NID_id_GostR3410_2001_CryptoPro_B_ParamSet, LS_CURVE_CP_B },
	{ OID(0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x03),
	  NID_id_GostR3410_2001_CryptoPro_C_ParamSet, LS_CURVE_CP_C },
	{ OID(0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x24, 0x00),
	  NID_id_GostR3410_2001_CryptoPro_XchA_ParamSet, LS_CURVE_CP_A },
	{ OID(0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x24, 0x01),
	  NID_id_GostR3410_2001_CryptoPro_XchB_ParamSet, LS_CURVE_CP_C },
	{ OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x01),
	  NID_id_tc26_gost_3410_2012_256_paramSetA, LS_CURVE_TC26_256_A },
	{ OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x02),
	  NID_id_tc26_gost_3410_2012_256_paramSetB, LS_CURVE_CP_A },
	{ OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x03),
	  NID_id_tc26_gost_3410_2012_256_paramSetC, LS_CURVE_CP_B },
	{ OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x04),
	  NID_id_tc26_gost_3410_2012_256_paramSetD, LS_CURVE_CP_C },
	{ OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x00),
	  NID_id_tc26_gost_3410_2012_512_paramSetTest, LS_CURVE_TEST_512 },
	{ OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x01),
	  NID_id_tc26_gost_3410_2012_512_paramSetA, LS_CURVE_TC26_512_A },
	{ OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x02),
	  NID_id_tc26_gost_3410_2012_512_paramSetB, LS_CURVE_TC26_512_B },
	{ OID(0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x03),
	  NID_id_tc26_gost_3410_2012_512_paramSetC, LS_CURVE_TC26_512_C },
};

/* The alias parameter sets the engine keeps its own cached curve entry for (warmed at init). */
static const char *const alias_paramsets_256[] = { "XA", "XB", "TCB", "TCC", "TCD" };

struct ls_gost_key {
	EVP_PKEY *pkey;
	const struct curve_info *ci;
	bool has_private;
	uint8_t q_be[MAX_SIZE]; /* the group order, ci->size bytes big-endian */
};

/*
 * The engine fills curve parameters from a global table whose cached EC_GROUPs it relabels
 * (EC_GROUP_set_curve_name) on every parameter fill, without a lock; aliases such as tc26-256-B
 * and CryptoPro-A share one entry.  Everything that makes the engine fill parameters (paramgen,
 * keygen, decoding) runs under this lock so a key never picks up another alias's label.
 * Signing, verifying and deriving do not touch that table.
 */
static pthread_mutex_t fill_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct curve_info *
curve_info(ls_curve curve)
{
	size_t i;

	for (i = 0; i < N_CURVES; i++) {
		if (curves[i].curve == curve)
			return &curves[i];
	}
	return NULL;
}

static const struct curve_info *
curve_info_by_nid(int param_nid, int pkey_nid)
{
	const struct curve_info *ci;
	size_t i;

	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (aliases[i].nid != param_nid)
			continue;
		ci = curve_info(aliases[i].curve);
		return ci != NULL && ci->pkey_nid == pkey_nid ? ci : NULL;
	}
	return NULL;
}

size_t
ls_curve_size(ls_curve curve)
{
	const struct curve_info *ci = curve_info(curve);

	return ci != NULL ? ci->size : 0;
}

const char *
ls_curve_name(ls_curve curve)
{
	const struct curve_info *ci = curve_info(curve);

	return ci != NULL ? ci->name : "unknown";
}

int
ls_curve_from_oid(const uint8_t *der, size_t der_len, ls_curve *out)
{
	size_t i;

	ls_return_val_if_fail(der != NULL && out != NULL, LS_ERR_INVALID_ARG);
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (aliases[i].der_len == der_len && memcmp(aliases[i].der, der, der_len) == 0) {
			*out = aliases[i].curve;
			return LS_OK;
		}
	}
	return LS_ERR_NOT_FOUND;
}

int
ls_curve_oid(ls_curve curve, const uint8_t **der, size_t *der_len)
{
	const struct curve_info *ci = curve_info(curve);

	ls_return_val_if_fail(der != NULL && der_len != NULL, LS_ERR_INVALID_ARG);
	if (ci == NULL)
		return LS_ERR_INVALID_ARG;
	*der = ci->oid;
	*der_len = ci->oid_len;
	return LS_OK;
}

/* ------------------------------------------------------------------------------------------- */

/* Constant time: 1 when the @n-byte big-endian numbers satisfy a < b. */
static unsigned
be_less(const uint8_t *a, const uint8_t *b, size_t n)
{
	unsigned borrow = 0;
	size_t i;

	for (i = n; i-- > 0;)
		borrow = (((unsigned)a[i] - b[i] - borrow) >> 8) & 1;
	return borrow;
}

/* Constant time: 1 when the little-endian @a is below the big-endian @b (both @n bytes). */
static unsigned
le_less_be(const uint8_t *a, const uint8_t *b, size_t n)
{
	unsigned borrow = 0;
	size_t i;

	for (i = 0; i < n; i++)
		borrow = (((unsigned)a[i] - b[n - 1 - i] - borrow) >> 8) & 1;
	return borrow;
}

static unsigned
is_zero(const uint8_t *a, size_t n)
{
	unsigned acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= a[i];
	return ((acc - 1) >> 8) & 1;
}

static EC_KEY *
key_ec(const EVP_PKEY *pkey)
{
	return (EC_KEY *)EVP_PKEY_get0(pkey);
}

static const EC_GROUP *
key_group(const EVP_PKEY *pkey)
{
	EC_KEY *ec = key_ec(pkey);

	return ec != NULL ? EC_KEY_get0_group(ec) : NULL;
}

/* An engine key holding only the curve parameters of @ci. */
static int
pkey_new_params(const struct curve_info *ci, EVP_PKEY **out)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	int r = LS_OK;

	ctx = EVP_PKEY_CTX_new_id(ci->pkey_nid, ls_crypto_engine());
	if (ctx == NULL)
		return ls_crypto_fail("EVP_PKEY_CTX_new_id(gost)");
	pthread_mutex_lock(&fill_lock);
	if (EVP_PKEY_paramgen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_ctrl_str(ctx, "paramset", ci->paramset) <= 0 ||
	    EVP_PKEY_paramgen(ctx, &pkey) <= 0 || key_group(pkey) == NULL)
		r = ls_crypto_fail("EVP_PKEY_paramgen(gost)");
	pthread_mutex_unlock(&fill_lock);
	EVP_PKEY_CTX_free(ctx);
	if (r != LS_OK) {
		EVP_PKEY_free(pkey);
		return r;
	}
	*out = pkey;
	return LS_OK;
}

/*
 * Wraps @pkey (taken over on success) after checking it is a GOST R 34.10-2012 key on a curve we
 * know, and that its private scalar, if any, lies in 1..q-1.
 */
static int
key_wrap(EVP_PKEY *pkey, bool want_private, ls_gost_key **out)
{
	const struct curve_info *ci;
	const EC_GROUP *group = key_group(pkey);
	const EC_POINT *pub;
	const BIGNUM *d;
	EC_KEY *ec = key_ec(pkey);
	ls_gost_key *k;

	if (group == NULL || ec == NULL)
		return LS_ERR_UNSUPPORTED;
	ci = curve_info_by_nid(EC_GROUP_get_curve_name(group), EVP_PKEY_get_id(pkey));
	if (ci == NULL)
		return LS_ERR_UNSUPPORTED;
	pub = EC_KEY_get0_public_key(ec);
	if (pub == NULL || EC_POINT_is_at_infinity(group, pub))
		return LS_ERR_BAD_POINT;
	d = EC_KEY_get0_private_key(ec);
	if (want_private) {
		if (d == NULL)
			return LS_ERR_MALFORMED;
		if (BN_is_zero(d) || BN_is_negative(d) ||
		    BN_cmp(d, EC_GROUP_get0_order(group)) >= 0)
			return LS_ERR_INVALID_ARG;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return LS_ERR_NOMEM;
	if (BN_bn2binpad(EC_GROUP_get0_order(group), k->q_be, (int)ci->size) != (int)ci->size) {
		free(k);
		return LS_ERR_INTERNAL;
	}
	k->pkey = pkey;
	k->ci = ci;
	k->has_private = d != NULL;
	*out = k;
	return LS_OK;
}

/*
 * Decodes LE(x) || LE(y) into a point of @group: coordinates below p, on the curve, and (on the
 * cofactor-4 curves) not of small order.  The identity has no affine form, so it cannot pass.
 */
static int
point_from_le(const struct curve_info *ci, const EC_GROUP *group, const uint8_t *xy,
              EC_POINT **out)
{
	const BIGNUM *p = EC_GROUP_get0_field(group);
	EC_POINT *pt = NULL, *t = NULL;
	BIGNUM *x = NULL, *y = NULL;
	BN_CTX *bn = NULL;
	unsigned i;
	int r;

	bn = BN_CTX_new();
	x = BN_lebin2bn(xy, (int)ci->size, NULL);
	y = BN_lebin2bn(xy + ci->size, (int)ci->size, NULL);
	pt = EC_POINT_new(group);
	t = EC_POINT_new(group);
	if (bn == NULL || x == NULL || y == NULL || pt == NULL || t == NULL || p == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	/* OpenSSL 3 refuses a point off the curve here (EC_R_POINT_IS_NOT_ON_CURVE). */
	ERR_set_mark();
	if (BN_cmp(x, p) >= 0 || BN_cmp(y, p) >= 0 ||
	    !EC_POINT_set_affine_coordinates(group, pt, x, y, bn)) {
		ERR_pop_to_mark();
		r = LS_ERR_BAD_POINT;
		goto out;
	}
	ERR_pop_to_mark();
	if (ci->cofactor_log2 > 0) {
		if (!EC_POINT_copy(t, pt)) {
			r = ls_crypto_fail("EC_POINT_copy");
			goto out;
		}
		for (i = 0; i < ci->cofactor_log2; i++) {
			if (!EC_POINT_dbl(group, t, t, bn)) {
				r = ls_crypto_fail("EC_POINT_dbl");
				goto out;
			}
		}
		if (EC_POINT_is_at_infinity(group, t)) {
			r = LS_ERR_BAD_POINT;
			goto out;
		}
	}
	*out = pt;
	pt = NULL;
	r = LS_OK;
out:
	EC_POINT_free(pt);
	EC_POINT_free(t);
	BN_free(x);
	BN_free(y);
	BN_CTX_free(bn);
	return r;
}

/* Re-checks an imported public point the same way raw public values are checked. */
static int
check_point(const struct curve_info *ci, const EC_GROUP *group, const EC_POINT *pt)
{
	uint8_t xy[2 * MAX_SIZE];
	EC_POINT *copy = NULL;
	BIGNUM *x = BN_new(), *y = BN_new();
	int r;

	if (x == NULL || y == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if (EC_POINT_is_at_infinity(group, pt) ||
	    !EC_POINT_get_affine_coordinates(group, pt, x, y, NULL) ||
	    BN_bn2lebinpad(x, xy, (int)ci->size) != (int)ci->size ||
	    BN_bn2lebinpad(y, xy + ci->size, (int)ci->size) != (int)ci->size) {
		ERR_clear_error();
		r = LS_ERR_BAD_POINT;
		goto out;
	}
	r = point_from_le(ci, group, xy, &copy);
out:
	EC_POINT_free(copy);
	BN_free(x);
	BN_free(y);
	return r;
}

/* ------------------------------------------------------------------------------------------- */

static int
key_generate(const struct curve_info *ci, ls_gost_key **out)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	int r = LS_OK;

	ctx = EVP_PKEY_CTX_new_id(ci->pkey_nid, ls_crypto_engine());
	if (ctx == NULL)
		return ls_crypto_fail("EVP_PKEY_CTX_new_id(gost)");
	pthread_mutex_lock(&fill_lock);
	if (EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_ctrl_str(ctx, "paramset", ci->paramset) <= 0 ||
	    EVP_PKEY_keygen(ctx, &pkey) <= 0)
		r = ls_crypto_fail("EVP_PKEY_keygen(gost)");
	pthread_mutex_unlock(&fill_lock);
	EVP_PKEY_CTX_free(ctx);
	if (r == LS_OK)
		r = key_wrap(pkey, true, out);
	if (r != LS_OK)
		EVP_PKEY_free(pkey);
	return r;
}

int
ls_gost_key_generate(ls_curve curve, ls_gost_key **out)
{
	const struct curve_info *ci = curve_info(curve);
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	if (ci == NULL)
		return LS_ERR_INVALID_ARG;
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	return key_generate(ci, out);
}

int
ls_gost_key_from_private(ls_curve curve, const uint8_t *d_le, size_t len, ls_gost_key **out)
{
	const struct curve_info *ci = curve_info(curve);
	const EC_GROUP *group;
	uint8_t q_be[MAX_SIZE];
	EVP_PKEY *pkey = NULL;
	EC_POINT *pub = NULL;
	BIGNUM *d = NULL;
	EC_KEY *ec;
	int r;

	ls_return_val_if_fail(d_le != NULL && out != NULL, LS_ERR_INVALID_ARG);
	if (ci == NULL)
		return LS_ERR_INVALID_ARG;
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (len != ci->size)
		return LS_ERR_BAD_LENGTH;
	if ((r = pkey_new_params(ci, &pkey)) != LS_OK)
		return r;
	ec = key_ec(pkey);
	group = EC_KEY_get0_group(ec);
	if (BN_bn2binpad(EC_GROUP_get0_order(group), q_be, (int)ci->size) != (int)ci->size) {
		r = LS_ERR_INTERNAL;
		goto out;
	}
	/* 0 < d < q, compared in constant time. */
	if (is_zero(d_le, len) | (le_less_be(d_le, q_be, len) ^ 1)) {
		r = LS_ERR_INVALID_ARG;
		goto out;
	}
	d = BN_new();
	pub = EC_POINT_new(group);
	if (d == NULL || pub == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	BN_set_flags(d, BN_FLG_CONSTTIME);
	if (BN_lebin2bn(d_le, (int)len, d) == NULL ||
	    !EC_POINT_mul(group, pub, d, NULL, NULL, NULL) ||
	    !EC_KEY_set_private_key(ec, d) || !EC_KEY_set_public_key(ec, pub)) {
		r = ls_crypto_fail("setting a GOST private key");
		goto out;
	}
	if ((r = key_wrap(pkey, true, out)) == LS_OK)
		pkey = NULL;
out:
	BN_clear_free(d);
	EC_POINT_free(pub);
	EVP_PKEY_free(pkey);
	return r;
}

int
ls_gost_key_from_public(ls_curve curve, const uint8_t *xy_le, size_t len, ls_gost_key **out)
{
	const struct curve_info *ci = curve_info(curve);
	EVP_PKEY *pkey = NULL;
	EC_POINT *pub = NULL;
	EC_KEY *ec;
	int r;

	ls_return_val_if_fail(xy_le != NULL && out != NULL, LS_ERR_INVALID_ARG);
	if (ci == NULL)
		return LS_ERR_INVALID_ARG;
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (len != 2 * ci->size)
		return LS_ERR_BAD_LENGTH;
	if ((r = pkey_new_params(ci, &pkey)) != LS_OK)
		return r;
	ec = key_ec(pkey);
	if ((r = point_from_le(ci, EC_KEY_get0_group(ec), xy_le, &pub)) != LS_OK)
		goto out;
	if (!EC_KEY_set_public_key(ec, pub)) {
		r = ls_crypto_fail("EC_KEY_set_public_key");
		goto out;
	}
	if ((r = key_wrap(pkey, false, out)) == LS_OK)
		pkey = NULL;
out:
	EC_POINT_free(pub);
	EVP_PKEY_free(pkey);
	return r;
}

ls_curve
ls_gost_key_curve(const ls_gost_key *key)
{
	ls_return_val_if_fail(key != NULL, (ls_curve)0);
	return key->ci->curve;
}

bool
ls_gost_key_has_private(const ls_gost_key *key)
{
	ls_return_val_if_fail(key != NULL, false);
	return key->has_private;
}

int
ls_gost_key_public(const ls_gost_key *key, uint8_t *xy_le, size_t len)
{
	const EC_GROUP *group;
	BIGNUM *x = NULL, *y = NULL;
	EC_KEY *ec;
	int n, r = LS_OK;

	ls_return_val_if_fail(key != NULL && xy_le != NULL, LS_ERR_INVALID_ARG);
	if (len < 2 * key->ci->size)
		return LS_ERR_BAD_LENGTH;
	n = (int)key->ci->size;
	ec = key_ec(key->pkey);
	group = EC_KEY_get0_group(ec);
	x = BN_new();
	y = BN_new();
	if (x == NULL || y == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if (!EC_POINT_get_affine_coordinates(group, EC_KEY_get0_public_key(ec), x, y, NULL) ||
	    BN_bn2lebinpad(x, xy_le, n) != n || BN_bn2lebinpad(y, xy_le + n, n) != n)
		r = ls_crypto_fail("EC_POINT_get_affine_coordinates");
out:
	BN_free(x);
	BN_free(y);
	return r;
}

int
ls_gost_key_private(const ls_gost_key *key, uint8_t *d_le, size_t len)
{
	const BIGNUM *d;
	int n;

	ls_return_val_if_fail(key != NULL && d_le != NULL, LS_ERR_INVALID_ARG);
	if (!key->has_private)
		return LS_ERR_STATE;
	if (len < key->ci->size)
		return LS_ERR_BAD_LENGTH;
	n = (int)key->ci->size;
	d = EC_KEY_get0_private_key(key_ec(key->pkey));
	if (d == NULL || BN_bn2lebinpad(d, d_le, n) != n) {
		ls_wipe(d_le, len);
		return LS_ERR_INTERNAL;
	}
	return LS_OK;
}

int
ls_gost_key_to_spki(const ls_gost_key *key, uint8_t **der, size_t *der_len)
{
	unsigned char *p;
	uint8_t *buf;
	int n;

	ls_return_val_if_fail(key != NULL && der != NULL && der_len != NULL, LS_ERR_INVALID_ARG);
	n = i2d_PUBKEY(key->pkey, NULL);
	if (n <= 0 || n > MAX_DER)
		return ls_crypto_fail("i2d_PUBKEY");
	if ((buf = malloc((size_t)n)) == NULL)
		return LS_ERR_NOMEM;
	p = buf;
	if (i2d_PUBKEY(key->pkey, &p) != n) {
		free(buf);
		return ls_crypto_fail("i2d_PUBKEY");
	}
	*der = buf;
	*der_len = (size_t)n;
	return LS_OK;
}

int
ls_gost_key_to_pkcs8(const ls_gost_key *key, uint8_t **der, size_t *der_len)
{
	PKCS8_PRIV_KEY_INFO *p8;
	unsigned char *p;
	uint8_t *buf = NULL;
	int n, r = LS_OK;

	ls_return_val_if_fail(key != NULL && der != NULL && der_len != NULL, LS_ERR_INVALID_ARG);
	if (!key->has_private)
		return LS_ERR_STATE;
	/* The structure's free wipes the private key octets it holds. */
	if ((p8 = EVP_PKEY2PKCS8(key->pkey)) == NULL)
		return ls_crypto_fail("EVP_PKEY2PKCS8");
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
	if (n <= 0 || n > MAX_DER) {
		r = ls_crypto_fail("i2d_PKCS8_PRIV_KEY_INFO");
		goto out;
	}
	if ((buf = malloc((size_t)n)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	p = buf;
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != n) {
		r = ls_crypto_fail("i2d_PKCS8_PRIV_KEY_INFO");
		goto out;
	}
	*der = buf;
	*der_len = (size_t)n;
	buf = NULL;
out:
	ls_free_secret(buf, buf != NULL ? (size_t)n : 0);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return r;
}

int
ls_gost_key_from_spki(const uint8_t *der, size_t der_len, ls_gost_key **out)
{
	const unsigned char *p = der;
	ls_gost_key *k = NULL;
	EVP_PKEY *pkey;
	int r;

	ls_return_val_if_fail(der != NULL && out != NULL, LS_ERR_INVALID_ARG);
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (der_len == 0)
		return LS_ERR_TRUNCATED;
	if (der_len > MAX_DER)
		return LS_ERR_TOO_LARGE;
	pthread_mutex_lock(&fill_lock);
	ERR_set_mark();
	pkey = d2i_PUBKEY_ex(NULL, &p, (long)der_len, ls_crypto_libctx(), NULL);
	ERR_pop_to_mark();
	pthread_mutex_unlock(&fill_lock);
	if (pkey == NULL)
		return LS_ERR_MALFORMED;
	if (p != der + der_len) {
		r = LS_ERR_TRAILING_DATA;
		goto out;
	}
	if ((r = key_wrap(pkey, false, &k)) != LS_OK)
		goto out;
	pkey = NULL;
	if (k->has_private) {
		r = LS_ERR_MALFORMED;
		goto out;
	}
	r = check_point(k->ci, key_group(k->pkey), EC_KEY_get0_public_key(key_ec(k->pkey)));
	if (r != LS_OK)
		goto out;
	*out = k;
	k = NULL;
out:
	ls_gost_key_free(k);
	EVP_PKEY_free(pkey);
	return r;
}

int
ls_gost_key_from_pkcs8(const uint8_t *der, size_t der_len, ls_gost_key **out)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	ls_gost_key *k = NULL;
	int r;

	ls_return_val_if_fail(der != NULL && out != NULL, LS_ERR_INVALID_ARG);
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (der_len == 0)
		return LS_ERR_TRUNCATED;
	if (der_len > MAX_DER)
		return LS_ERR_TOO_LARGE;
	ERR_set_mark();
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der_len);
	if (p8 == NULL) {
		ERR_pop_to_mark();
		return LS_ERR_MALFORMED;
	}
	if (p != der + der_len) {
		ERR_pop_to_mark();
		r = LS_ERR_TRAILING_DATA;
		goto out;
	}
	/* The provider decoders are tried first and fail; the engine's ASN.1 method decodes. */
	pthread_mutex_lock(&fill_lock);
	pkey = EVP_PKCS82PKEY_ex(p8, ls_crypto_libctx(), NULL);
	pthread_mutex_unlock(&fill_lock);
	ERR_pop_to_mark();
	if (pkey == NULL) {
		r = LS_ERR_MALFORMED;
		goto out;
	}
	if ((r = key_wrap(pkey, true, &k)) != LS_OK)
		goto out;
	pkey = NULL;
	r = check_point(k->ci, key_group(k->pkey), EC_KEY_get0_public_key(key_ec(k->pkey)));
	if (r != LS_OK)
		goto out;
	*out = k;
	k = NULL;
out:
	ls_gost_key_free(k);
	EVP_PKEY_free(pkey);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return r;
}

void
ls_gost_key_free(ls_gost_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

/* ------------------------------------------------------------------------------------------- */

int
ls_gost_sign_digest(const ls_gost_key *key, const uint8_t *digest, size_t digest_len,
                    uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx;
	size_t n, out_len;
	int r = LS_OK;

	ls_return_val_if_fail(key != NULL && digest != NULL && sig != NULL, LS_ERR_INVALID_ARG);
	n = key->ci->size;
	/* The engine aborts the process on any digest that is not 32 or 64 bytes. */
	if (digest_len != n || sig_len < 2 * n)
		return LS_ERR_BAD_LENGTH;
	if (!key->has_private)
		return LS_ERR_STATE;
	ctx = EVP_PKEY_CTX_new(key->pkey, ls_crypto_engine());
	if (ctx == NULL)
		return ls_crypto_fail("EVP_PKEY_CTX_new(gost sign)");
	out_len = 2 * n;
	if (EVP_PKEY_sign_init(ctx) <= 0 || EVP_PKEY_sign(ctx, sig, &out_len, digest, n) <= 0 ||
	    out_len != 2 * n) {
		ls_wipe(sig, sig_len);
		r = ls_crypto_fail("EVP_PKEY_sign(gost)");
	}
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int
ls_gost_verify_digest(const ls_gost_key *key, const uint8_t *digest, size_t digest_len,
                      const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx;
	size_t n;
	int r, v;

	ls_return_val_if_fail(key != NULL && digest != NULL && sig != NULL, LS_ERR_INVALID_ARG);
	n = key->ci->size;
	if (digest_len != n || sig_len != 2 * n)
		return LS_ERR_BAD_LENGTH;
	/* sig = s || r; both must lie in 1..q-1 (gost-engine 3.0.1 lets r = q or s = q through). */
	if (is_zero(sig, n) || is_zero(sig + n, n) || !be_less(sig, key->q_be, n) ||
	    !be_less(sig + n, key->q_be, n))
		return LS_ERR_VERIFY_FAILED;
	ctx = EVP_PKEY_CTX_new(key->pkey, ls_crypto_engine());
	if (ctx == NULL)
		return ls_crypto_fail("EVP_PKEY_CTX_new(gost verify)");
	if (EVP_PKEY_verify_init(ctx) <= 0) {
		r = ls_crypto_fail("EVP_PKEY_verify_init(gost)");
		goto out;
	}
	ERR_set_mark();
	v = EVP_PKEY_verify(ctx, sig, sig_len, digest, n);
	if (v == 1) {
		ERR_pop_to_mark();
		r = LS_OK;
	} else if (v == 0) {
		/* An ordinary mismatch: the engine queued its reason; no failure of ours. */
		ERR_pop_to_mark();
		r = LS_ERR_VERIFY_FAILED;
	} else {
		ERR_clear_last_mark();
		r = ls_crypto_fail("EVP_PKEY_verify(gost)");
	}
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* An engine key for the peer's public value, on exactly the curve (and label) of @priv. */
static int
peer_pkey(const ls_gost_key *priv, const uint8_t *peer_xy_le, size_t peer_len, EVP_PKEY **out)
{
	const EC_GROUP *group = key_group(priv->pkey);
	EVP_PKEY *pkey = NULL;
	EC_POINT *pt = NULL;
	EC_KEY *ec = NULL;
	int r;

	if (peer_len != 2 * priv->ci->size)
		return LS_ERR_BAD_LENGTH;
	if ((r = point_from_le(priv->ci, group, peer_xy_le, &pt)) != LS_OK)
		return r;
	ec = EC_KEY_new();
	pkey = EVP_PKEY_new();
	if (ec == NULL || pkey == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if (!EC_KEY_set_group(ec, group) || !EC_KEY_set_public_key(ec, pt) ||
	    !EVP_PKEY_assign(pkey, EVP_PKEY_get_id(priv->pkey), ec)) {
		r = ls_crypto_fail("building the peer key");
		goto out;
	}
	ec = NULL;
	*out = pkey;
	pkey = NULL;
	r = LS_OK;
out:
	EC_KEY_free(ec);
	EVP_PKEY_free(pkey);
	EC_POINT_free(pt);
	return r;
}

/*
 * One engine derivation: @vko is "256"/"512" for RFC 7836 VKO, NULL for the UKM-length modes
 * (8 bytes: legacy VKO, 32 bytes: KEG).  Writes exactly @want bytes to @out.
 */
static int
derive(const ls_gost_key *priv, const uint8_t *peer_xy_le, size_t peer_len, const char *vko,
       const uint8_t *ukm, size_t ukm_len, uint8_t *out, size_t want)
{
	uint8_t buf[64];
	EVP_PKEY *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = sizeof(buf);
	int r;

	if (!priv->has_private)
		return LS_ERR_STATE;
	if ((r = peer_pkey(priv, peer_xy_le, peer_len, &peer)) != LS_OK)
		return r;
	ctx = EVP_PKEY_CTX_new(priv->pkey, ls_crypto_engine());
	if (ctx == NULL) {
		r = ls_crypto_fail("EVP_PKEY_CTX_new(gost derive)");
		goto out;
	}
	if (EVP_PKEY_derive_init(ctx) <= 0 || EVP_PKEY_derive_set_peer(ctx, peer) <= 0 ||
	    (vko != NULL && EVP_PKEY_CTX_ctrl_str(ctx, "vko", vko) <= 0) ||
	    EVP_PKEY_CTX_ctrl(ctx, -1, -1, EVP_PKEY_CTRL_SET_IV, (int)ukm_len, (void *)ukm) <= 0 ||
	    EVP_PKEY_derive(ctx, buf, &len) <= 0) {
		r = ls_crypto_fail("EVP_PKEY_derive(gost)");
		goto out;
	}
	if (len != want) {
		r = LS_ERR_INTERNAL;
		goto out;
	}
	memcpy(out, buf, want);
	r = LS_OK;
out:
	ls_wipe(buf, sizeof(buf));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return r;
}

int
ls_gost_vko(const ls_gost_key *priv, const uint8_t *peer_xy_le, size_t peer_len,
            ls_vko_alg alg, const uint8_t *ukm, size_t ukm_len, uint8_t *out, size_t out_len)
{
	const char *vko;
	size_t want;
	int r;

	ls_return_val_if_fail(priv != NULL && peer_xy_le != NULL && ukm != NULL && out != NULL,
	                      LS_ERR_INVALID_ARG);
	switch (alg) {
	case LS_VKO_2012_256:
		vko = "256";
		want = 32;
		break;
	case LS_VKO_2012_512:
		vko = "512";
		want = 64;
		break;
	case LS_VKO_2001:
		vko = NULL;
		want = 32;
		break;
	default:
		return LS_ERR_INVALID_ARG;
	}
	if (alg == LS_VKO_2001 ? ukm_len != 8 : (ukm_len < 1 || ukm_len > 32))
		return LS_ERR_BAD_LENGTH;
	if (out_len < want)
		return LS_ERR_BAD_LENGTH;
	/* UKM is an integer in 1..2^(8 len)-1 (RFC 7836 4.3); zero would give the identity. */
	if (is_zero(ukm, ukm_len))
		return LS_ERR_INVALID_ARG;
	r = derive(priv, peer_xy_le, peer_len, vko, ukm, ukm_len, out, want);
	if (r != LS_OK)
		ls_wipe(out, out_len);
	return r;
}

/*
 * KEG when H[1..16] is zero: the standard (R 1323565.1.020-2018, RFC 9189 8.3.1) then takes
 * UKM = 1.  gost-engine (3.0.1 and later) sets the last byte of its reversed buffer instead and
 * so computes with UKM = 2^120; we follow the standard, built from VKO and KDF_TREE.
 */
static int
keg_unit_ukm(const ls_gost_key *priv, const uint8_t *peer_xy_le, size_t peer_len,
             const uint8_t *ukm, uint8_t out[64])
{
	static const uint8_t one[1] = { 1 };
	static const uint8_t label[8] = { 'k', 'd', 'f', ' ', 't', 'r', 'e', 'e' };
	uint8_t k_exp[32];
	int r;

	if (priv->ci->size == 64)
		return derive(priv, peer_xy_le, peer_len, "512", one, 1, out, 64);
	r = derive(priv, peer_xy_le, peer_len, "256", one, 1, k_exp, 32);
	if (r == LS_OK)
		r = ls_kdf_tree_gostr3411_2012_256(k_exp, label, sizeof(label), ukm + 16, 8, 1, out,
		                                   64);
	ls_wipe(k_exp, sizeof(k_exp));
	return r;
}

int
ls_gost_keg(const ls_gost_key *priv, const uint8_t *peer_xy_le, size_t peer_len,
            const uint8_t *ukm, size_t ukm_len, uint8_t out[64])
{
	int r;

	ls_return_val_if_fail(priv != NULL && peer_xy_le != NULL && ukm != NULL && out != NULL,
	                      LS_ERR_INVALID_ARG);
	if (ukm_len != 32)
		return LS_ERR_BAD_LENGTH;
	if (is_zero(ukm, 16))
		r = keg_unit_ukm(priv, peer_xy_le, peer_len, ukm, out);
	else
		r = derive(priv, peer_xy_le, peer_len, NULL, ukm, ukm_len, out, 64);
	if (r != LS_OK)
		ls_wipe(out, 64);
	return r;
}

/* ------------------------------------------------------------------------------------------- */

int
ls_crypto_warm_curves(void)
{
	static const uint8_t digest[MAX_SIZE] = { 0x4c, 0x53, 0x31, 0x31 };
	uint8_t sig[2 * MAX_SIZE];
	ls_gost_key *key;
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey;
	size_t i;
	int r;

	/* Called inside ls_crypto_init()'s once-routine: nothing here may call ls_crypto_init(). */
	for (i = 0; i < N_CURVES; i++) {
		const struct curve_info *ci = &curves[i];

		if ((r = key_generate(ci, &key)) != LS_OK) {
			ls_error("GOST R 34.10: cannot generate a %s key", ci->name);
			return r;
		}
		if (EC_GROUP_get_curve_name(key_group(key->pkey)) != ci->param_nid) {
			ls_error("GOST R 34.10: the engine labels %s unexpectedly", ci->name);
			ls_gost_key_free(key);
			return LS_ERR_INTERNAL;
		}
		r = ls_gost_sign_digest(key, digest, ci->size, sig, sizeof(sig));
		if (r == LS_OK)
			r = ls_gost_verify_digest(key, digest, ci->size, sig, 2 * ci->size);
		ls_gost_key_free(key);
		if (r != LS_OK) {
			ls_error("GOST R 34.10: %s sign/verify self-test failed", ci->name);
			return r == LS_ERR_VERIFY_FAILED ? LS_ERR_INTERNAL : r;
		}
	}
	for (i = 0; i < sizeof(alias_paramsets_256) / sizeof(alias_paramsets_256[0]); i++) {
		pkey = NULL;
		ctx = EVP_PKEY_CTX_new_id(NID_id_GostR3410_2012_256, ls_crypto_engine());
		if (ctx == NULL || EVP_PKEY_paramgen_init(ctx) <= 0 ||
		    EVP_PKEY_CTX_ctrl_str(ctx, "paramset", alias_paramsets_256[i]) <= 0 ||
		    EVP_PKEY_paramgen(ctx, &pkey) <= 0) {
			EVP_PKEY_CTX_free(ctx);
			return ls_crypto_fail("warming a GOST alias parameter set");
		}
		EVP_PKEY_CTX_free(ctx);
		EVP_PKEY_free(pkey);
	}
	return LS_OK;
}
