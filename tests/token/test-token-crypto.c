/*
 * token/token*.c: cryptographic operations through the engine: the operation lifetime rules
 * (one per kind, CKR_OPERATION_ACTIVE, length queries and CKR_BUFFER_TOO_SMALL keep it, other
 * errors end it), key usage checks, key pairs on every GOST curve (both OID families for the
 * 256-bit ones) signed and verified through the engine and checked independently, secret keys
 * of every symmetric mechanism, wrap/unwrap, derive, CKA_ALWAYS_AUTHENTICATE, and 8 threads of
 * several applications signing at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <pthread.h>

#include "crypto.h"
#include "test-token-util.h"

static ls_token_app *app;
static CK_SESSION_HANDLE hs;

static void
setup_logged_in(void)
{
	tt_setup();
	tt_ready();
	app = tt_app();
	hs = tt_session(app, true);
	tt_login(app, hs);
}

static void
teardown_app(void)
{
	ls_token_app_free(app);
	app = NULL;
	tt_teardown();
}

TestSuite(crypto, .init = setup_logged_in, .fini = teardown_app);

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS cls_secret = CKO_SECRET_KEY;

/* ---- GOST R 34.10-2012 key pairs ------------------------------------------------------------ */

typedef struct {
	const char *name;
	const uint8_t *oid;
	size_t oid_len;
	bool big; /* 512-bit */
} curve_case;

static const uint8_t oid_tc26_256_a[] = {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01,
                                         0x01, 0x01};
static const uint8_t oid_tc26_256_b[] = {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01,
                                         0x01, 0x02};
static const uint8_t oid_tc26_256_c[] = {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01,
                                         0x01, 0x03};
static const uint8_t oid_tc26_256_d[] = {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01,
                                         0x01, 0x04};
static const uint8_t oid_cp_a[] = {0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x01};
static const uint8_t oid_cp_b[] = {0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x02};
static const uint8_t oid_cp_c[] = {0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x03};
static const uint8_t oid_tc26_512_a[] = {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01,
                                         0x02, 0x01};
static const uint8_t oid_tc26_512_b[] = {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01,
                                         0x02, 0x02};
static const uint8_t oid_tc26_512_c[] = {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01,
                                         0x02, 0x03};

#define CURVE(n, o, b) {n, o, sizeof(o), b}
static const curve_case curves[] = {
	CURVE("tc26-256-A", oid_tc26_256_a, false), CURVE("tc26-256-B", oid_tc26_256_b, false),
	CURVE("tc26-256-C", oid_tc26_256_c, false), CURVE("tc26-256-D", oid_tc26_256_d, false),
	CURVE("cp-A (=256-B)", oid_cp_a, false),    CURVE("cp-B (=256-C)", oid_cp_b, false),
	CURVE("cp-C (=256-D)", oid_cp_c, false),    CURVE("tc26-512-A", oid_tc26_512_a, true),
	CURVE("tc26-512-B", oid_tc26_512_b, true),  CURVE("tc26-512-C", oid_tc26_512_c, true),
};

/* A key pair on @c: token objects, the private one private, with the usages asked for. */
static CK_RV
key_pair(ls_token_app *a, CK_SESSION_HANDLE h, const curve_case *c, bool token,
         bool always_auth, bool derive, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM mech = {c->big ? CKM_GOSTR3410_512_KEY_PAIR_GEN : CKM_GOSTR3410_KEY_PAIR_GEN,
	                     NULL, 0};
	CK_ATTRIBUTE pt[] = {
		{CKA_TOKEN, token ? &yes : &no, sizeof(CK_BBOOL)},
		{CKA_GOSTR3410_PARAMS, (void *)c->oid, c->oid_len},
		{CKA_VERIFY, &yes, sizeof(yes)},
		{CKA_ID, "kp", 2},
	};
	CK_ATTRIBUTE kt[] = {
		{CKA_TOKEN, token ? &yes : &no, sizeof(CK_BBOOL)},
		{CKA_PRIVATE, &yes, sizeof(yes)},
		{CKA_SIGN, &yes, sizeof(yes)},
		{CKA_DERIVE, derive ? &yes : &no, sizeof(CK_BBOOL)},
		{CKA_ALWAYS_AUTHENTICATE, always_auth ? &yes : &no, sizeof(CK_BBOOL)},
		{CKA_ID, "kp", 2},
	};

	return ls_token_generate_key_pair(a, h, &mech, pt, 4, kt, 6, pub, priv);
}

static ls_curve
curve_of(const curve_case *c)
{
	ls_curve cv = 0;

	cr_assert_eq(ls_curve_from_oid(c->oid, c->oid_len, &cv), LS_OK);
	return cv;
}

/* Checks @sig over @msg with the public value of @pub, outside the engine. */
static void
verify_outside(ls_token_app *a, CK_SESSION_HANDLE h, const curve_case *c, CK_OBJECT_HANDLE pub,
               const CK_BYTE *msg, size_t len, const CK_BYTE *sig, size_t sig_len)
{
	uint8_t xy[128], digest[64];
	CK_ATTRIBUTE v = {CKA_VALUE, xy, sizeof(xy)};
	ls_gost_key *k = NULL;
	size_t dlen = c->big ? 64 : 32;

	cr_assert_eq(ls_token_get_attribute_value(a, h, pub, &v, 1), CKR_OK);
	cr_assert_eq(v.ulValueLen, 2 * dlen);
	cr_assert_eq(ls_gost_key_from_public(curve_of(c), xy, v.ulValueLen, &k), LS_OK);
	cr_assert_eq(ls_md(c->big ? LS_MD_STREEBOG512 : LS_MD_STREEBOG256, msg, len, digest, dlen),
	             LS_OK);
	cr_assert_eq(ls_gost_verify_digest(k, digest, dlen, sig, sig_len), LS_OK, "%s", c->name);
	ls_gost_key_free(k);
}

Test(crypto, key_pairs_on_every_curve_sign_and_verify)
{
	static const CK_BYTE msg[] = "message to be signed";
	size_t i;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		const curve_case *c = &curves[i];
		CK_MECHANISM sm = {c->big ? CKM_GOSTR3410_WITH_GOSTR3411_12_512
		                          : CKM_GOSTR3410_WITH_GOSTR3411_12_256,
		                   NULL, 0};
		CK_OBJECT_HANDLE pub = 0, priv = 0;
		CK_BYTE sig[128];
		CK_ULONG sig_len = 0;

		cr_assert_eq(key_pair(app, hs, c, true, false, false, &pub, &priv), CKR_OK, "%s",
		             c->name);
		cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OK);
		/* A length query keeps the operation. */
		cr_assert_eq(ls_token_sign(app, hs, msg, sizeof(msg), NULL, &sig_len), CKR_OK);
		cr_assert_eq(sig_len, c->big ? 128 : 64);
		cr_assert_eq(ls_token_sign(app, hs, msg, sizeof(msg), sig, &sig_len), CKR_OK);
		/* Through the engine ... */
		cr_assert_eq(ls_token_verify_init(app, hs, &sm, pub), CKR_OK);
		cr_assert_eq(ls_token_verify(app, hs, msg, sizeof(msg), sig, sig_len), CKR_OK, "%s",
		             c->name);
		/* ... and independently. */
		verify_outside(app, hs, c, pub, msg, sizeof(msg), sig, sig_len);
		/* Multi-part gives a signature that verifies too. */
		cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OK);
		cr_assert_eq(ls_token_sign_update(app, hs, msg, 5), CKR_OK);
		cr_assert_eq(ls_token_sign_update(app, hs, msg + 5, sizeof(msg) - 5), CKR_OK);
		sig_len = sizeof(sig);
		cr_assert_eq(ls_token_sign_final(app, hs, sig, &sig_len), CKR_OK);
		verify_outside(app, hs, c, pub, msg, sizeof(msg), sig, sig_len);
		/* A changed signature does not verify. */
		sig[3] ^= 1;
		cr_assert_eq(ls_token_verify_init(app, hs, &sm, pub), CKR_OK);
		cr_assert_eq(ls_token_verify_update(app, hs, msg, sizeof(msg)), CKR_OK);
		cr_assert_eq(ls_token_verify_final(app, hs, sig, sig_len), CKR_SIGNATURE_INVALID);
		cr_assert_eq(ls_token_verify_final(app, hs, sig, sig_len),
		             CKR_OPERATION_NOT_INITIALIZED);
	}
}

Test(crypto, keys_survive_a_reopen_and_sign_after_login)
{
	static const CK_BYTE msg[] = "persist";
	CK_MECHANISM sm = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};
	CK_ATTRIBUTE find[] = {{CKA_ID, "kp", 2}, {CKA_SIGN, &yes, sizeof(yes)}};
	CK_OBJECT_HANDLE pub, priv, found[2];
	CK_BYTE sig[64];
	CK_ULONG sig_len = sizeof(sig), n = 0;

	cr_assert_eq(key_pair(app, hs, &curves[0], true, false, false, &pub, &priv), CKR_OK);
	ls_token_app_free(app);
	tt_reopen(true);
	app = tt_app();
	hs = tt_session(app, false);
	/* Before login the private key is invisible. */
	cr_assert_eq(ls_token_find_objects_init(app, hs, find, 2), CKR_OK);
	cr_assert_eq(ls_token_find_objects(app, hs, found, 2, &n), CKR_OK);
	cr_assert_eq(n, 0);
	cr_assert_eq(ls_token_find_objects_final(app, hs), CKR_OK);
	tt_login(app, hs);
	cr_assert_eq(ls_token_find_objects_init(app, hs, find, 2), CKR_OK);
	cr_assert_eq(ls_token_find_objects(app, hs, found, 2, &n), CKR_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(ls_token_find_objects_final(app, hs), CKR_OK);
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, found[0]), CKR_OK);
	cr_assert_eq(ls_token_sign(app, hs, msg, sizeof(msg), sig, &sig_len), CKR_OK);
}

/* ---- operation lifetime --------------------------------------------------------------------- */

Test(crypto, digest_rules)
{
	CK_MECHANISM mech = {CKM_GOSTR3411_12_256, NULL, 0};
	CK_BYTE out[64], expect[32];
	CK_ULONG len = 0;

	cr_assert_eq(ls_md(LS_MD_STREEBOG256, "abc", 3, expect, 32), LS_OK);
	cr_assert_eq(ls_token_digest(app, hs, (const CK_BYTE *)"abc", 3, out, &len),
	             CKR_OPERATION_NOT_INITIALIZED);
	cr_assert_eq(ls_token_digest_init(app, hs, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_token_digest_init(app, hs, &mech), CKR_OK);
	cr_assert_eq(ls_token_digest_init(app, hs, &mech), CKR_OPERATION_ACTIVE);
	/* Length query: the operation lives on. */
	cr_assert_eq(ls_token_digest(app, hs, (const CK_BYTE *)"abc", 3, NULL, &len), CKR_OK);
	cr_assert_eq(len, 32);
	/* Too small: the operation lives on. */
	len = 8;
	cr_assert_eq(ls_token_digest(app, hs, (const CK_BYTE *)"abc", 3, out, &len),
	             CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(len, 32);
	len = sizeof(out);
	cr_assert_eq(ls_token_digest(app, hs, (const CK_BYTE *)"abc", 3, out, &len), CKR_OK);
	cr_assert_eq(len, 32);
	cr_assert_eq(memcmp(out, expect, 32), 0);
	/* Done: the operation has ended. */
	cr_assert_eq(ls_token_digest(app, hs, (const CK_BYTE *)"abc", 3, out, &len),
	             CKR_OPERATION_NOT_INITIALIZED);

	/* C_Digest after C_DigestUpdate: CKR_OPERATION_ACTIVE, and the multi-part goes on. */
	cr_assert_eq(ls_token_digest_init(app, hs, &mech), CKR_OK);
	cr_assert_eq(ls_token_digest_update(app, hs, (const CK_BYTE *)"a", 1), CKR_OK);
	len = sizeof(out);
	cr_assert_eq(ls_token_digest(app, hs, (const CK_BYTE *)"bc", 2, out, &len),
	             CKR_OPERATION_ACTIVE);
	cr_assert_eq(ls_token_digest_update(app, hs, (const CK_BYTE *)"bc", 2), CKR_OK);
	cr_assert_eq(ls_token_digest_final(app, hs, NULL, &len), CKR_OK);
	len = sizeof(out);
	cr_assert_eq(ls_token_digest_final(app, hs, out, &len), CKR_OK);
	cr_assert_eq(memcmp(out, expect, 32), 0);
	cr_assert_eq(ls_token_digest_final(app, hs, out, &len), CKR_OPERATION_NOT_INITIALIZED);

	/* Another error ends the operation. */
	cr_assert_eq(ls_token_digest_init(app, hs, &mech), CKR_OK);
	cr_assert_eq(ls_token_digest(app, hs, NULL, 3, out, &len), CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_token_digest_update(app, hs, (const CK_BYTE *)"a", 1),
	             CKR_OPERATION_NOT_INITIALIZED);
	/* An unknown mechanism starts nothing. */
	mech.mechanism = CKM_SHA256;
	cr_assert_eq(ls_token_digest_init(app, hs, &mech), CKR_MECHANISM_INVALID);
	cr_assert_eq(ls_token_digest_update(app, hs, (const CK_BYTE *)"a", 1),
	             CKR_OPERATION_NOT_INITIALIZED);
}

Test(crypto, kinds_are_independent_per_session)
{
	CK_MECHANISM dm = {CKM_GOSTR3411_12_512, NULL, 0};
	CK_MECHANISM sm = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};
	CK_SESSION_HANDLE other = tt_session(app, false);
	CK_OBJECT_HANDLE pub, priv;

	cr_assert_eq(key_pair(app, hs, &curves[0], false, false, false, &pub, &priv), CKR_OK);
	cr_assert_eq(ls_token_digest_init(app, hs, &dm), CKR_OK);
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OK);
	cr_assert_eq(ls_token_verify_init(app, hs, &sm, pub), CKR_OK);
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OPERATION_ACTIVE);
	/* Another session has its own. */
	cr_assert_eq(ls_token_sign_init(app, other, &sm, priv), CKR_OK);
	cr_assert_eq(ls_token_digest_init(app, other, &dm), CKR_OK);
}

Test(crypto, a_failing_sign_ends_the_operation)
{
	CK_MECHANISM raw = {CKM_GOSTR3410, NULL, 0};
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE digest[32] = {1, 2, 3}, sig[64];
	CK_ULONG len = 10;

	cr_assert_eq(key_pair(app, hs, &curves[0], false, false, false, &pub, &priv), CKR_OK);
	cr_assert_eq(ls_token_sign_init(app, hs, &raw, priv), CKR_OK);
	cr_assert_eq(ls_token_sign(app, hs, digest, 32, sig, &len), CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(len, 64);
	/* A digest of the wrong length: an error other than the two that keep it. */
	cr_assert_neq(ls_token_sign(app, hs, digest, 31, sig, &len), CKR_OK);
	cr_assert_eq(ls_token_sign(app, hs, digest, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	/* Raw CKM_GOSTR3410 is single-part. */
	cr_assert_eq(ls_token_sign_init(app, hs, &raw, priv), CKR_OK);
	cr_assert_eq(ls_token_sign_update(app, hs, digest, 32), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(ls_token_sign_final(app, hs, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	cr_assert_eq(ls_token_sign_init(app, hs, &raw, priv), CKR_OK);
	len = sizeof(sig);
	cr_assert_eq(ls_token_sign(app, hs, digest, 32, sig, &len), CKR_OK);
}

Test(crypto, key_checks)
{
	CK_MECHANISM sm = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};
	CK_MECHANISM sm512 = {CKM_GOSTR3410_WITH_GOSTR3411_12_512, NULL, 0};
	CK_MECHANISM ecb = {CKM_KUZNYECHIK_ECB, NULL, 0};
	CK_ATTRIBUTE nosign = {CKA_SIGN, &no, sizeof(no)};
	CK_OBJECT_HANDLE pub, priv;

	cr_assert_eq(key_pair(app, hs, &curves[0], false, false, false, &pub, &priv), CKR_OK);
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, 4242), CKR_KEY_HANDLE_INVALID);
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, pub), CKR_KEY_TYPE_INCONSISTENT);
	cr_assert_eq(ls_token_sign_init(app, hs, &sm512, priv), CKR_KEY_TYPE_INCONSISTENT);
	cr_assert_eq(ls_token_encrypt_init(app, hs, &ecb, priv), CKR_KEY_TYPE_INCONSISTENT);
	cr_assert_eq(ls_token_set_attribute_value(app, hs, priv, &nosign, 1), CKR_OK);
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
	cr_assert_eq(ls_token_sign_recover_init(app, hs, &sm, pub), CKR_MECHANISM_INVALID);
	cr_assert_eq(ls_token_verify_recover_init(app, hs, &sm, 4242), CKR_KEY_HANDLE_INVALID);
}

Test(crypto, logout_ends_operations_on_private_keys)
{
	CK_MECHANISM sm = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE sig[64];
	CK_ULONG len = sizeof(sig);

	cr_assert_eq(key_pair(app, hs, &curves[0], true, false, false, &pub, &priv), CKR_OK);
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OK);
	cr_assert_eq(ls_token_verify_init(app, hs, &sm, pub), CKR_OK);
	cr_assert_eq(ls_token_logout(app, hs), CKR_OK);
	cr_assert_eq(ls_token_sign(app, hs, (const CK_BYTE *)"x", 1, sig, &len),
	             CKR_USER_NOT_LOGGED_IN);
	cr_assert_eq(ls_token_sign(app, hs, (const CK_BYTE *)"x", 1, sig, &len),
	             CKR_OPERATION_NOT_INITIALIZED);
	/* A public key's operation is unaffected. */
	cr_assert_eq(ls_token_verify(app, hs, (const CK_BYTE *)"x", 1, sig, 64),
	             CKR_SIGNATURE_INVALID);
	/* Logging in again does not resurrect it, and the private key is invisible meanwhile. */
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_KEY_HANDLE_INVALID);
	tt_login(app, hs);
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OK);
}

/* ---- CKA_ALWAYS_AUTHENTICATE ---------------------------------------------------------------- */

Test(crypto, always_authenticate)
{
	CK_MECHANISM sm = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};
	static const CK_BYTE msg[] = "pay 100";
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE sig[64];
	CK_ULONG len = sizeof(sig);

	cr_assert_eq(key_pair(app, hs, &curves[1], true, true, false, &pub, &priv), CKR_OK);

	/* Without the context-specific login: CKR_USER_NOT_LOGGED_IN, and the operation ends. */
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OK);
	cr_assert_eq(ls_token_sign(app, hs, msg, sizeof(msg), sig, &len), CKR_USER_NOT_LOGGED_IN);
	cr_assert_eq(ls_token_sign(app, hs, msg, sizeof(msg), sig, &len),
	             CKR_OPERATION_NOT_INITIALIZED);

	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OK);
	cr_assert_eq(ls_token_login(app, hs, CKU_CONTEXT_SPECIFIC, PIN("000000")),
	             CKR_PIN_INCORRECT);
	cr_assert_neq(tt_flags() & CKF_USER_PIN_COUNT_LOW, 0);
	cr_assert_eq(ls_token_login(app, hs, CKU_CONTEXT_SPECIFIC, PIN(USER_PIN)), CKR_OK);
	cr_assert_eq(ls_token_sign(app, hs, msg, sizeof(msg), sig, &len), CKR_OK);
	verify_outside(app, hs, &curves[1], pub, msg, sizeof(msg), sig, len);

	/* The login was for that operation only. */
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OK);
	cr_assert_eq(ls_token_sign_update(app, hs, msg, sizeof(msg)), CKR_USER_NOT_LOGGED_IN);
	/* Another session's pending operation is not served by this session's login. */
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OK);
	{
		CK_SESSION_HANDLE other = tt_session(app, false);

		cr_assert_eq(ls_token_sign_init(app, other, &sm, priv), CKR_OK);
		cr_assert_eq(ls_token_login(app, hs, CKU_CONTEXT_SPECIFIC, PIN(USER_PIN)), CKR_OK);
		len = sizeof(sig);
		cr_assert_eq(ls_token_sign(app, other, msg, sizeof(msg), sig, &len),
		             CKR_USER_NOT_LOGGED_IN);
		len = sizeof(sig);
		cr_assert_eq(ls_token_sign(app, hs, msg, sizeof(msg), sig, &len), CKR_OK);
	}
	/* The public key needs no such login. */
	cr_assert_eq(ls_token_verify_init(app, hs, &sm, pub), CKR_OK);
	cr_assert_eq(ls_token_verify(app, hs, msg, sizeof(msg), sig, len), CKR_OK);
}

/* ---- secret keys ---------------------------------------------------------------------------- */

static CK_OBJECT_HANDLE
gen_secret(CK_MECHANISM_TYPE gen, CK_ULONG value_len, bool extractable)
{
	CK_MECHANISM mech = {gen, NULL, 0};
	CK_ATTRIBUTE t[] = {
		{CKA_TOKEN, &no, sizeof(no)},
		{CKA_ENCRYPT, &yes, sizeof(yes)},
		{CKA_DECRYPT, &yes, sizeof(yes)},
		{CKA_SIGN, &yes, sizeof(yes)},
		{CKA_VERIFY, &yes, sizeof(yes)},
		{CKA_WRAP, &yes, sizeof(yes)},
		{CKA_UNWRAP, &yes, sizeof(yes)},
		{CKA_DERIVE, &yes, sizeof(yes)},
		{CKA_EXTRACTABLE, extractable ? &yes : &no, sizeof(CK_BBOOL)},
		{CKA_SENSITIVE, extractable ? &no : &yes, sizeof(CK_BBOOL)},
		{CKA_VALUE_LEN, &value_len, sizeof(value_len)},
	};
	CK_OBJECT_HANDLE k = 0;

	cr_assert_eq(ls_token_generate_key(app, hs, &mech, t, value_len > 0 ? 11 : 10, &k), CKR_OK,
	             "key gen 0x%lx", gen);
	return k;
}

static void
roundtrip(CK_MECHANISM *mech, CK_OBJECT_HANDLE key, size_t len)
{
	CK_BYTE pt[256], ct[300], back[300];
	CK_ULONG ct_len = 0, back_len = sizeof(back), i;

	for (i = 0; i < len; i++)
		pt[i] = (CK_BYTE)(i * 7 + 1);
	cr_assert_eq(ls_token_encrypt_init(app, hs, mech, key), CKR_OK, "0x%lx", mech->mechanism);
	cr_assert_eq(ls_token_encrypt(app, hs, pt, len, NULL, &ct_len), CKR_OK);
	cr_assert_leq(ct_len, sizeof(ct));
	cr_assert_eq(ls_token_encrypt(app, hs, pt, len, ct, &ct_len), CKR_OK, "0x%lx",
	             mech->mechanism);
	cr_assert(len == 0 || memcmp(ct, pt, len) != 0);
	cr_assert_eq(ls_token_decrypt_init(app, hs, mech, key), CKR_OK);
	cr_assert_eq(ls_token_decrypt(app, hs, ct, ct_len, back, &back_len), CKR_OK, "0x%lx",
	             mech->mechanism);
	cr_assert_eq(back_len, len);
	cr_assert_eq(memcmp(back, pt, len), 0);
}

static void
mac_roundtrip(CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	static const CK_BYTE msg[] = "authenticate me, please";
	CK_BYTE tag[64];
	CK_ULONG len = sizeof(tag);

	cr_assert_eq(ls_token_sign_init(app, hs, mech, key), CKR_OK, "0x%lx", mech->mechanism);
	cr_assert_eq(ls_token_sign(app, hs, msg, sizeof(msg), tag, &len), CKR_OK);
	cr_assert_eq(ls_token_verify_init(app, hs, mech, key), CKR_OK);
	cr_assert_eq(ls_token_verify(app, hs, msg, sizeof(msg), tag, len), CKR_OK);
	tag[0] ^= 0x80;
	cr_assert_eq(ls_token_verify_init(app, hs, mech, key), CKR_OK);
	cr_assert_eq(ls_token_verify(app, hs, msg, sizeof(msg), tag, len), CKR_SIGNATURE_INVALID);
}

Test(crypto, kuznyechik)
{
	CK_OBJECT_HANDLE k = gen_secret(CKM_KUZNYECHIK_KEY_GEN, 0, false);
	CK_BYTE iv8[8] = {1, 2, 3, 4, 5, 6, 7, 8}, nonce[16] = {0x11, 2, 3}, aad[5] = "head";
	CK_GCM_PARAMS gp = {nonce, 16, 128, aad, 5, 128};
	CK_MECHANISM ecb = {CKM_KUZNYECHIK_ECB, NULL, 0};
	CK_MECHANISM ctr = {CKM_KUZNYECHIK_CTR_ACPKM, iv8, 8};
	CK_MECHANISM mgm = {CKM_KUZNYECHIK_MGM, &gp, sizeof(gp)};
	CK_MECHANISM mac = {CKM_KUZNYECHIK_MAC, NULL, 0};

	roundtrip(&ecb, k, 64);
	roundtrip(&ctr, k, 77);
	roundtrip(&mgm, k, 40);
	mac_roundtrip(&mac, k);
}

Test(crypto, magma)
{
	CK_OBJECT_HANDLE k = gen_secret(CKM_MAGMA_KEY_GEN, 0, false);
	CK_BYTE iv4[4] = {9, 8, 7, 6}, nonce[8] = {0x21, 2, 3}, aad[3] = "hd";
	CK_GCM_PARAMS gp = {nonce, 8, 64, aad, 3, 64};
	CK_MECHANISM ecb = {CKM_MAGMA_ECB, NULL, 0};
	CK_MECHANISM ctr = {CKM_MAGMA_CTR_ACPKM, iv4, 4};
	CK_MECHANISM mgm = {CKM_MAGMA_MGM, &gp, sizeof(gp)};
	CK_MECHANISM mac = {CKM_MAGMA_MAC, NULL, 0};

	roundtrip(&ecb, k, 32);
	roundtrip(&ctr, k, 33);
	roundtrip(&mgm, k, 20);
	mac_roundtrip(&mac, k);
}

Test(crypto, gost28147)
{
	CK_OBJECT_HANDLE k = gen_secret(CKM_GOST28147_KEY_GEN, 0, false);
	CK_BYTE iv[8] = {1, 1, 2, 3, 5, 8, 13, 21};
	CK_MECHANISM ecb = {CKM_GOST28147_ECB, NULL, 0};
	CK_MECHANISM cfb = {CKM_GOST28147, iv, 8};
	CK_MECHANISM mac = {CKM_GOST28147_MAC, NULL, 0};

	roundtrip(&ecb, k, 24);
	roundtrip(&cfb, k, 19);
	mac_roundtrip(&mac, k);
}

Test(crypto, hmac_on_a_generic_secret)
{
	CK_OBJECT_HANDLE k = gen_secret(CKM_GENERIC_SECRET_KEY_GEN, 32, false);
	CK_MECHANISM h256 = {CKM_GOSTR3411_12_256_HMAC, NULL, 0};
	CK_MECHANISM h512 = {CKM_GOSTR3411_12_512_HMAC, NULL, 0};

	mac_roundtrip(&h256, k);
	mac_roundtrip(&h512, k);
}

Test(crypto, multipart_encrypt_rules)
{
	CK_OBJECT_HANDLE k = gen_secret(CKM_KUZNYECHIK_KEY_GEN, 0, false);
	CK_MECHANISM ecb = {CKM_KUZNYECHIK_ECB, NULL, 0};
	CK_BYTE pt[32] = {0}, out[64];
	CK_ULONG len;

	cr_assert_eq(ls_token_encrypt_init(app, hs, &ecb, k), CKR_OK);
	len = 4;
	cr_assert_eq(ls_token_encrypt_update(app, hs, pt, 32, out, &len), CKR_BUFFER_TOO_SMALL);
	len = sizeof(out);
	cr_assert_eq(ls_token_encrypt_update(app, hs, pt, 32, out, &len), CKR_OK);
	cr_assert_eq(len, 32);
	cr_assert_eq(ls_token_encrypt(app, hs, pt, 32, out, &len), CKR_OPERATION_ACTIVE);
	len = sizeof(out);
	cr_assert_eq(ls_token_encrypt_final(app, hs, out, &len), CKR_OK);
	cr_assert_eq(len, 0);
	cr_assert_eq(ls_token_encrypt_final(app, hs, out, &len), CKR_OPERATION_NOT_INITIALIZED);
	/* A partial block at the end is an error, which ends the operation. */
	cr_assert_eq(ls_token_encrypt_init(app, hs, &ecb, k), CKR_OK);
	len = sizeof(out);
	cr_assert_eq(ls_token_encrypt_update(app, hs, pt, 20, out, &len), CKR_OK);
	len = sizeof(out);
	cr_assert_neq(ls_token_encrypt_final(app, hs, out, &len), CKR_OK);
	cr_assert_eq(ls_token_encrypt_final(app, hs, out, &len), CKR_OPERATION_NOT_INITIALIZED);
}

Test(crypto, digest_key)
{
	CK_OBJECT_HANDLE open = gen_secret(CKM_GENERIC_SECRET_KEY_GEN, 32, true);
	CK_OBJECT_HANDLE closed = gen_secret(CKM_GENERIC_SECRET_KEY_GEN, 32, false);
	CK_MECHANISM dm = {CKM_GOSTR3411_12_256, NULL, 0};
	CK_BYTE value[32], expect[32], out[32];
	CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof(value)};
	CK_ULONG len = sizeof(out);

	cr_assert_eq(ls_token_get_attribute_value(app, hs, open, &v, 1), CKR_OK);
	cr_assert_eq(ls_md(LS_MD_STREEBOG256, value, 32, expect, 32), LS_OK);
	cr_assert_eq(ls_token_digest_key(app, hs, open), CKR_OPERATION_NOT_INITIALIZED);
	cr_assert_eq(ls_token_digest_init(app, hs, &dm), CKR_OK);
	cr_assert_eq(ls_token_digest_key(app, hs, open), CKR_OK);
	cr_assert_eq(ls_token_digest_final(app, hs, out, &len), CKR_OK);
	cr_assert_eq(memcmp(out, expect, 32), 0);
	/* A sensitive key is indigestible, and the error ends the digest. */
	cr_assert_eq(ls_token_digest_init(app, hs, &dm), CKR_OK);
	cr_assert_eq(ls_token_digest_key(app, hs, closed), CKR_KEY_INDIGESTIBLE);
	cr_assert_eq(ls_token_digest_final(app, hs, out, &len), CKR_OPERATION_NOT_INITIALIZED);
}

/* The ECB encryption of a zero block under @k (to compare two keys without reading them). */
static void
zero_block(CK_OBJECT_HANDLE k, CK_MECHANISM_TYPE ecb, size_t block, CK_BYTE *out)
{
	CK_MECHANISM m = {ecb, NULL, 0};
	CK_BYTE zero[16] = {0};
	CK_ULONG len = 16;

	cr_assert_eq(ls_token_encrypt_init(app, hs, &m, k), CKR_OK);
	cr_assert_eq(ls_token_encrypt(app, hs, zero, block, out, &len), CKR_OK);
}

Test(crypto, wrap_and_unwrap)
{
	CK_OBJECT_HANDLE kek89 = gen_secret(CKM_GOST28147_KEY_GEN, 0, false);
	CK_OBJECT_HANDLE cek89 = gen_secret(CKM_GOST28147_KEY_GEN, 0, true);
	CK_OBJECT_HANDLE locked = gen_secret(CKM_GOST28147_KEY_GEN, 0, false);
	CK_OBJECT_HANDLE cek = gen_secret(CKM_KUZNYECHIK_KEY_GEN, 0, true);
	CK_BYTE ukm[8] = {1, 2, 3, 4, 5, 6, 7, 8}, iv[8] = {8, 7, 6, 5, 4, 3, 2, 1};
	CK_MECHANISM w89 = {CKM_GOST28147_KEY_WRAP, ukm, 8};
	CK_MECHANISM kexp = {CKM_KUZNYECHIK_KEXP_15_WRAP, iv, 8};
	CK_KEY_TYPE kt89 = CKK_GOST28147, ktk = CKK_KUZNYECHIK, twin = CKK_KUZNYECHIK_TWIN_KEY;
	CK_BYTE twin_value[64], wrapped[128], a[16], b[16];
	CK_ULONG wlen = 0;
	CK_OBJECT_HANDLE kek, back;
	size_t i;

	CK_ATTRIBUTE ut89[] = {
		{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
		{CKA_KEY_TYPE, &kt89, sizeof(kt89)},
		{CKA_TOKEN, &no, sizeof(no)},
		{CKA_ENCRYPT, &yes, sizeof(yes)},
	};
	CK_ATTRIBUTE utk[] = {
		{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
		{CKA_KEY_TYPE, &ktk, sizeof(ktk)},
		{CKA_TOKEN, &yes, sizeof(yes)},
		{CKA_PRIVATE, &yes, sizeof(yes)},
		{CKA_ENCRYPT, &yes, sizeof(yes)},
	};
	CK_ATTRIBUTE twin_t[] = {
		{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
		{CKA_KEY_TYPE, &twin, sizeof(twin)},
		{CKA_TOKEN, &no, sizeof(no)},
		{CKA_WRAP, &yes, sizeof(yes)},
		{CKA_UNWRAP, &yes, sizeof(yes)},
		{CKA_VALUE, twin_value, sizeof(twin_value)},
	};

	/* GOST 28147-89 key wrap (RFC 4357). */
	cr_assert_eq(ls_token_wrap_key(app, hs, &w89, kek89, cek89, NULL, &wlen), CKR_OK);
	cr_assert_eq(wlen, 36);
	cr_assert_eq(ls_token_wrap_key(app, hs, &w89, kek89, cek89, wrapped, &wlen), CKR_OK);
	cr_assert_eq(ls_token_wrap_key(app, hs, &w89, kek89, locked, wrapped, &wlen),
	             CKR_KEY_UNEXTRACTABLE);
	cr_assert_eq(ls_token_wrap_key(app, hs, &w89, 4242, cek89, wrapped, &wlen),
	             CKR_WRAPPING_KEY_HANDLE_INVALID);
	cr_assert_eq(ls_token_wrap_key(app, hs, &w89, kek89, 4242, wrapped, &wlen),
	             CKR_KEY_HANDLE_INVALID);
	cr_assert_eq(ls_token_unwrap_key(app, hs, &w89, kek89, wrapped, wlen, ut89, 4, &back),
	             CKR_OK);
	zero_block(cek89, CKM_GOST28147_ECB, 8, a);
	zero_block(back, CKM_GOST28147_ECB, 8, b);
	cr_assert_eq(memcmp(a, b, 8), 0);
	wrapped[0] ^= 1;
	cr_assert_eq(ls_token_unwrap_key(app, hs, &w89, kek89, wrapped, wlen, ut89, 4, &back),
	             CKR_WRAPPED_KEY_INVALID);
	cr_assert_eq(ls_token_unwrap_key(app, hs, &w89, 4242, wrapped, wlen, ut89, 4, &back),
	             CKR_UNWRAPPING_KEY_HANDLE_INVALID);

	/* KExp15 under a Kuznyechik twin key, into a private token key. */
	for (i = 0; i < sizeof(twin_value); i++)
		twin_value[i] = (CK_BYTE)(i * 13 + 5);
	cr_assert_eq(ls_token_create_object(app, hs, twin_t, 6, &kek), CKR_OK);
	wlen = sizeof(wrapped);
	cr_assert_eq(ls_token_wrap_key(app, hs, &kexp, kek, cek, wrapped, &wlen), CKR_OK);
	cr_assert_eq(wlen, 48);
	cr_assert_eq(ls_token_unwrap_key(app, hs, &kexp, kek, wrapped, wlen, utk, 5, &back), CKR_OK);
	zero_block(cek, CKM_KUZNYECHIK_ECB, 16, a);
	zero_block(back, CKM_KUZNYECHIK_ECB, 16, b);
	cr_assert_eq(memcmp(a, b, 16), 0);
}

Test(crypto, derive_vko_both_sides_agree)
{
	CK_OBJECT_HANDLE pa, ka, pb, kb, da, db;
	CK_BYTE pub_a[64], pub_b[64], ukm[8] = {1, 0, 0, 0, 0, 0, 0, 0}, va[64], vb[64];
	CK_ATTRIBUTE ga = {CKA_VALUE, pub_a, sizeof(pub_a)}, gb = {CKA_VALUE, pub_b, sizeof(pub_b)};
	CK_ATTRIBUTE ra = {CKA_VALUE, va, sizeof(va)}, rb = {CKA_VALUE, vb, sizeof(vb)};
	CK_GOSTR3410_DERIVE_PARAMS pa_params = {CKD_NULL, pub_b, 64, ukm, 8};
	CK_GOSTR3410_DERIVE_PARAMS pb_params = {CKD_NULL, pub_a, 64, ukm, 8};
	CK_MECHANISM ma = {CKM_GOSTR3410_12_DERIVE, &pa_params, sizeof(pa_params)};
	CK_MECHANISM mb = {CKM_GOSTR3410_12_DERIVE, &pb_params, sizeof(pb_params)};
	CK_KEY_TYPE gen = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE t[] = {
		{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
		{CKA_KEY_TYPE, &gen, sizeof(gen)},
		{CKA_TOKEN, &no, sizeof(no)},
		{CKA_SENSITIVE, &no, sizeof(no)},
		{CKA_EXTRACTABLE, &yes, sizeof(yes)},
	};
	CK_OBJECT_HANDLE nd_pub, nd_priv;

	cr_assert_eq(key_pair(app, hs, &curves[0], false, false, true, &pa, &ka), CKR_OK);
	cr_assert_eq(key_pair(app, hs, &curves[0], true, false, true, &pb, &kb), CKR_OK);
	cr_assert_eq(ls_token_get_attribute_value(app, hs, pa, &ga, 1), CKR_OK);
	cr_assert_eq(ls_token_get_attribute_value(app, hs, pb, &gb, 1), CKR_OK);
	cr_assert_eq(ls_token_derive_key(app, hs, &ma, ka, t, 5, &da), CKR_OK);
	cr_assert_eq(ls_token_derive_key(app, hs, &mb, kb, t, 5, &db), CKR_OK);
	cr_assert_eq(ls_token_get_attribute_value(app, hs, da, &ra, 1), CKR_OK);
	cr_assert_eq(ls_token_get_attribute_value(app, hs, db, &rb, 1), CKR_OK);
	cr_assert_eq(ra.ulValueLen, 32);
	cr_assert_eq(rb.ulValueLen, 32);
	cr_assert_eq(memcmp(va, vb, 32), 0);

	/* A key without CKA_DERIVE may not derive. */
	cr_assert_eq(key_pair(app, hs, &curves[0], false, false, false, &nd_pub, &nd_priv), CKR_OK);
	cr_assert_eq(ls_token_derive_key(app, hs, &ma, nd_priv, t, 5, &da),
	             CKR_KEY_FUNCTION_NOT_PERMITTED);
	cr_assert_eq(ls_token_derive_key(app, hs, &ma, 4242, t, 5, &da), CKR_KEY_HANDLE_INVALID);
}

Test(crypto, key_management_session_rules)
{
	CK_MECHANISM gen = {CKM_KUZNYECHIK_KEY_GEN, NULL, 0};
	CK_MECHANISM bad = {CKM_KUZNYECHIK_ECB, NULL, 0};
	CK_ATTRIBUTE token_key[] = {{CKA_TOKEN, &yes, sizeof(yes)}};
	CK_SESSION_HANDLE ro = tt_session(app, false);
	CK_OBJECT_HANDLE k, pub, priv;

	cr_assert_eq(ls_token_generate_key(app, hs, &bad, NULL, 0, &k), CKR_MECHANISM_INVALID);
	cr_assert_eq(ls_token_generate_key(app, ro, &gen, token_key, 1, &k), CKR_SESSION_READ_ONLY);
	cr_assert_eq(ls_token_generate_key(app, ro, &gen, NULL, 0, &k), CKR_OK);
	cr_assert_eq(key_pair(app, ro, &curves[0], true, false, false, &pub, &priv),
	             CKR_SESSION_READ_ONLY);
	cr_assert_eq(ls_token_logout(app, hs), CKR_OK);
	/* A public session cannot make a private key. */
	cr_assert_eq(key_pair(app, hs, &curves[0], false, false, false, &pub, &priv),
	             CKR_USER_NOT_LOGGED_IN);
}

/* ---- many threads, many applications -------------------------------------------------------- */

#define N_THREADS 8
#define N_APPS 4
#define N_SIGS 40

typedef struct {
	ls_token_app *app;
	CK_OBJECT_HANDLE key;
	int index;
	CK_BYTE sigs[N_SIGS][64];
	CK_RV rv;
} signer;

static void *
sign_loop(void *p)
{
	signer *s = p;
	CK_MECHANISM sm = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};
	CK_SESSION_HANDLE h = 0;
	int i;

	s->rv = ls_token_open_session(s->app, CKF_SERIAL_SESSION, &h);
	for (i = 0; i < N_SIGS && s->rv == CKR_OK; i++) {
		CK_BYTE msg[32] = {0};
		CK_ULONG len = 64;

		snprintf((char *)msg, sizeof(msg), "thread %d message %d", s->index, i);
		s->rv = ls_token_sign_init(s->app, h, &sm, s->key);
		if (s->rv == CKR_OK)
			s->rv = ls_token_sign(s->app, h, msg, sizeof(msg), s->sigs[i], &len);
	}
	return NULL;
}

Test(crypto, eight_threads_several_applications_sign_at_once)
{
	CK_ATTRIBUTE find[] = {{CKA_ID, "kp", 2}, {CKA_SIGN, &yes, sizeof(yes)}};
	static signer signers[N_THREADS];
	ls_token_app *apps[N_APPS];
	pthread_t th[N_THREADS];
	CK_OBJECT_HANDLE pub, priv, keys[N_APPS];
	uint8_t xy[64], digest[32];
	CK_ATTRIBUTE v = {CKA_VALUE, xy, sizeof(xy)};
	ls_gost_key *k = NULL;
	int i, j;

	cr_assert_eq(key_pair(app, hs, &curves[0], true, false, false, &pub, &priv), CKR_OK);
	cr_assert_eq(ls_token_get_attribute_value(app, hs, pub, &v, 1), CKR_OK);
	/* Each application logs in and finds the key with its own handle. */
	for (i = 0; i < N_APPS; i++) {
		CK_SESSION_HANDLE h;
		CK_ULONG n = 0;

		apps[i] = tt_app();
		/* Different handle numbers per application: burn some in the odd ones. */
		for (j = 0; j < i; j++)
			tt_session(apps[i], false);
		h = tt_session(apps[i], false);
		tt_login(apps[i], h);
		cr_assert_eq(ls_token_find_objects_init(apps[i], h, find, 2), CKR_OK);
		cr_assert_eq(ls_token_find_objects(apps[i], h, &keys[i], 1, &n), CKR_OK);
		cr_assert_eq(n, 1);
		cr_assert_eq(ls_token_find_objects_final(apps[i], h), CKR_OK);
	}
	for (i = 0; i < N_THREADS; i++) {
		signers[i].app = apps[i % N_APPS];
		signers[i].key = keys[i % N_APPS];
		signers[i].index = i;
		cr_assert_eq(pthread_create(&th[i], NULL, sign_loop, &signers[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);

	cr_assert_eq(ls_gost_key_from_public(LS_CURVE_TC26_256_A, xy, 64, &k), LS_OK);
	for (i = 0; i < N_THREADS; i++) {
		cr_assert_eq(signers[i].rv, CKR_OK, "thread %d: 0x%lx", i, signers[i].rv);
		for (j = 0; j < N_SIGS; j++) {
			CK_BYTE msg[32] = {0};

			snprintf((char *)msg, sizeof(msg), "thread %d message %d", i, j);
			cr_assert_eq(ls_md(LS_MD_STREEBOG256, msg, sizeof(msg), digest, 32), LS_OK);
			cr_assert_eq(ls_gost_verify_digest(k, digest, 32, signers[i].sigs[j], 64), LS_OK,
			             "thread %d signature %d", i, j);
		}
	}
	ls_gost_key_free(k);
	for (i = 0; i < N_APPS; i++)
		ls_token_app_free(apps[i]);
}

Test(crypto, derive_kdf_tree_and_keg)
{
	CK_OBJECT_HANDLE base = gen_secret(CKM_GENERIC_SECRET_KEY_GEN, 32, true);
	CK_BYTE base_value[32], expect[64], got[64], ukm[32], pub_a[128], pub_b[128];
	CK_ATTRIBUTE bv = {CKA_VALUE, base_value, sizeof(base_value)};
	CK_ATTRIBUTE gv = {CKA_VALUE, got, sizeof(got)};
	CK_KDF_TREE_GOST_PARAMS tp = {3, (CK_BYTE *)"lbl", 4, (CK_BYTE *)"seed", 1, 512, 0};
	CK_MECHANISM tree = {CKM_KDF_TREE_GOSTR3411_2012_256, &tp, sizeof(tp)};
	CK_KEY_TYPE kuz = CKK_KUZNYECHIK, twin = CKK_KUZNYECHIK_TWIN_KEY;
	CK_ATTRIBUTE kt[] = {
		{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
		{CKA_KEY_TYPE, &kuz, sizeof(kuz)},
		{CKA_TOKEN, &no, sizeof(no)},
		{CKA_SENSITIVE, &no, sizeof(no)},
		{CKA_EXTRACTABLE, &yes, sizeof(yes)},
		{CKA_ENCRYPT, &yes, sizeof(yes)},
	};
	CK_ATTRIBUTE tw[] = {
		{CKA_CLASS, &cls_secret, sizeof(cls_secret)},
		{CKA_KEY_TYPE, &twin, sizeof(twin)},
		{CKA_TOKEN, &no, sizeof(no)},
		{CKA_WRAP, &yes, sizeof(yes)},
		{CKA_UNWRAP, &yes, sizeof(yes)},
	};
	CK_ATTRIBUTE ga = {CKA_VALUE, pub_a, sizeof(pub_a)}, gb = {CKA_VALUE, pub_b, sizeof(pub_b)};
	CK_VENDOR_GOST_KEG_PARAMS ka_p = {pub_b, 0, ukm, 32}, kb_p = {pub_a, 0, ukm, 32};
	CK_MECHANISM keg_a = {CKM_GOST_KEG, &ka_p, sizeof(ka_p)};
	CK_MECHANISM keg_b = {CKM_GOST_KEG, &kb_p, sizeof(kb_p)};
	CK_BYTE iv[8] = {1, 2, 3, 4, 5, 6, 7, 8}, wrapped[64], a[16], b[16];
	CK_MECHANISM kexp = {CKM_KUZNYECHIK_KEXP_15_WRAP, iv, 8};
	CK_OBJECT_HANDLE d, pa, pka, pb, pkb, ta, tb, cek, back;
	CK_ULONG wlen = sizeof(wrapped);
	size_t i;

	/* KDF_TREE into a Kuznyechik key: the first 32 bytes of the tree output. */
	cr_assert_eq(ls_token_get_attribute_value(app, hs, base, &bv, 1), CKR_OK);
	cr_assert_eq(ls_kdf_tree_gostr3411_2012_256(base_value, (const uint8_t *)"lbl", 3,
	                                            (const uint8_t *)"seed", 4, 1, expect, 64),
	             LS_OK);
	cr_assert_eq(ls_token_derive_key(app, hs, &tree, base, kt, 6, &d), CKR_OK);
	cr_assert_eq(ls_token_get_attribute_value(app, hs, d, &gv, 1), CKR_OK);
	cr_assert_eq(gv.ulValueLen, 32);
	cr_assert_eq(memcmp(got, expect, 32), 0);

	/* KEG on 512-bit keys gives both sides the same twin key: one wraps, the other unwraps. */
	for (i = 0; i < sizeof(ukm); i++)
		ukm[i] = (CK_BYTE)(i + 1);
	cr_assert_eq(key_pair(app, hs, &curves[7], false, false, true, &pa, &pka), CKR_OK);
	cr_assert_eq(key_pair(app, hs, &curves[7], false, false, true, &pb, &pkb), CKR_OK);
	cr_assert_eq(ls_token_get_attribute_value(app, hs, pa, &ga, 1), CKR_OK);
	cr_assert_eq(ls_token_get_attribute_value(app, hs, pb, &gb, 1), CKR_OK);
	ka_p.ulPublicDataLen = gb.ulValueLen;
	kb_p.ulPublicDataLen = ga.ulValueLen;
	cr_assert_eq(ls_token_derive_key(app, hs, &keg_a, pka, tw, 5, &ta), CKR_OK);
	cr_assert_eq(ls_token_derive_key(app, hs, &keg_b, pkb, tw, 5, &tb), CKR_OK);
	cek = gen_secret(CKM_KUZNYECHIK_KEY_GEN, 0, true);
	cr_assert_eq(ls_token_wrap_key(app, hs, &kexp, ta, cek, wrapped, &wlen), CKR_OK);
	kt[3].pValue = &yes; /* the unwrapped copy may be sensitive */
	cr_assert_eq(ls_token_unwrap_key(app, hs, &kexp, tb, wrapped, wlen, kt, 6, &back), CKR_OK);
	zero_block(cek, CKM_KUZNYECHIK_ECB, 16, a);
	zero_block(back, CKM_KUZNYECHIK_ECB, 16, b);
	cr_assert_eq(memcmp(a, b, 16), 0);
}

Test(crypto, changed_token_keys_stay_usable)
{
	static const CK_BYTE msg[] = "after a change";
	CK_MECHANISM sm = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};
	CK_ATTRIBUTE lab = {CKA_LABEL, "renamed key", 11};
	CK_ATTRIBUTE find[] = {{CKA_LABEL, "renamed key", 11}};
	CK_OBJECT_HANDLE pub, priv, found[2];
	CK_BYTE sig[64];
	CK_ULONG len = sizeof(sig), n = 0;

	cr_assert_eq(key_pair(app, hs, &curves[2], true, false, false, &pub, &priv), CKR_OK);
	/* Sign once (the key is now cached), change it, sign again with the new version. */
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OK);
	cr_assert_eq(ls_token_sign(app, hs, msg, sizeof(msg), sig, &len), CKR_OK);
	cr_assert_eq(ls_token_set_attribute_value(app, hs, priv, &lab, 1), CKR_OK);
	len = sizeof(sig);
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, priv), CKR_OK);
	cr_assert_eq(ls_token_sign(app, hs, msg, sizeof(msg), sig, &len), CKR_OK);
	verify_outside(app, hs, &curves[2], pub, msg, sizeof(msg), sig, len);

	/* From the store, in a new process-like start. */
	ls_token_app_free(app);
	tt_reopen(true);
	app = tt_app();
	hs = tt_session(app, true);
	tt_login(app, hs);
	cr_assert_eq(ls_token_find_objects_init(app, hs, find, 1), CKR_OK);
	cr_assert_eq(ls_token_find_objects(app, hs, found, 2, &n), CKR_OK);
	cr_assert_eq(ls_token_find_objects_final(app, hs), CKR_OK);
	cr_assert_eq(n, 1);
	len = sizeof(sig);
	cr_assert_eq(ls_token_sign_init(app, hs, &sm, found[0]), CKR_OK);
	cr_assert_eq(ls_token_sign(app, hs, msg, sizeof(msg), sig, &len), CKR_OK);
	/* Without a login the key cannot be changed: it is invisible. */
	cr_assert_eq(ls_token_logout(app, hs), CKR_OK);
	cr_assert_eq(ls_token_set_attribute_value(app, hs, found[0], &lab, 1),
	             CKR_OBJECT_HANDLE_INVALID);
}
