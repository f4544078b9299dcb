/*
 * The mechanism layer (token/mech.c): the table, and every mechanism through the ls_op/ls_mech
 * API against known answers or round trips, with the exact CK_RV of each refusal.
 *
 * Vector sources:
 *  [V]    shared/reference/gost-vectors.txt: Streebog (RFC 6986), HMAC/KDF/KDF_TREE/VKO
 *         (RFC 7836 App. B), Kuznyechik/Magma modes (GOST R 34.13-2015 App. A), MGM (RFC 9058),
 *         signatures (RFC 7091 = GOST R 34.10-2012 App. A).
 *  [CSP]  GOST 28147-89 vectors of gost-engine's test_gost2814789.c (CryptoPro CSP 3.6).
 *  [KEXP] R 1323565.1.017-2018 KExp15 example (Magma) and the core's Kuznyechik value.
 *  [KEG]  RFC 9189 A.1.3.1 / A.1.3.2.
 *  [ENG]  CryptoPro key wrap (RFC 4357 6.3) and IMIT with an IV as computed by gost-engine
 *         3.0.1's own exported keyWrapCryptoPro()/gost_mac_iv() (Cryptocom's implementation,
 *         called through dlopen by a throwaway probe while writing this test): an
 *         implementation independent of ours; no published vector was found.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mech.h"
#include "test-util.h"

#define K_KUZ "8899aabbccddeeff0011223344556677fedcba98765432100123456789abcdef"
#define P_KUZ                                                                                      \
	"1122334455667700ffeeddccbbaa998800112233445566778899aabbcceeff0a"                         \
	"112233445566778899aabbcceeff0a002233445566778899aabbcceeff0a0011"
#define K_MAG "ffeeddccbbaa99887766554433221100f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
#define P_MAG "92def06b3c130a59db54c704f8189d204a98fb2e67a8024c8912409b17b57e41"

/* Every mechanism a test below exercises; the table test requires the table to be covered. */
static const CK_MECHANISM_TYPE covered[] = {
	CKM_GOSTR3410_KEY_PAIR_GEN, CKM_GOSTR3410_512_KEY_PAIR_GEN, CKM_GOSTR3410,
	CKM_GOSTR3410_512, CKM_GOSTR3410_WITH_GOSTR3411, CKM_GOSTR3410_WITH_GOSTR3411_12_256,
	CKM_GOSTR3410_WITH_GOSTR3411_12_512, CKM_GOSTR3410_DERIVE, CKM_GOSTR3410_12_DERIVE,
	CKM_VKO_GOSTR3410_2012_512, CKM_GOST_KEG, CKM_KDF_GOSTR3411_2012_256,
	CKM_KDF_TREE_GOSTR3411_2012_256, CKM_GOSTR3411, CKM_GOSTR3411_12_256, CKM_GOSTR3411_12_512,
	CKM_GOSTR3411_HMAC, CKM_GOSTR3411_12_256_HMAC, CKM_GOSTR3411_12_512_HMAC,
	CKM_KUZNYECHIK_KEY_GEN, CKM_KUZNYECHIK_ECB, CKM_KUZNYECHIK_CTR_ACPKM, CKM_KUZNYECHIK_MAC,
	CKM_KUZNYECHIK_MGM, CKM_KUZNYECHIK_KEXP_15_WRAP, CKM_MAGMA_KEY_GEN, CKM_MAGMA_ECB,
	CKM_MAGMA_CTR_ACPKM, CKM_MAGMA_MAC, CKM_MAGMA_MGM, CKM_MAGMA_KEXP_15_WRAP,
	CKM_GOST28147_KEY_GEN, CKM_GOST28147_ECB, CKM_GOST28147, CKM_GOST28147_MAC,
	CKM_GOST28147_KEY_WRAP, CKM_GENERIC_SECRET_KEY_GEN,
};

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */

static CK_MECHANISM
mech(CK_MECHANISM_TYPE type, const void *param, size_t len)
{
	CK_MECHANISM m = { type, (void *)param, len };
	return m;
}

static ls_mech_key
skey(CK_KEY_TYPE type, const uint8_t *value, size_t len)
{
	ls_mech_key k = { .cls = CKO_SECRET_KEY, .key_type = type, .value = value,
		          .value_len = len };
	return k;
}

/* One-shot C_Encrypt/C_Decrypt/C_Digest/C_Sign; the operation is freed. */
static CK_RV
oneshot(ls_op_kind kind, CK_MECHANISM m, const ls_mech_key *key, const uint8_t *in, size_t len,
        uint8_t *out, CK_ULONG *out_len)
{
	ls_op *op = NULL;
	CK_RV rv = ls_op_new(kind, &m, key, &op);

	if (rv != CKR_OK)
		return rv;
	rv = ls_op_oneshot(op, in, len, out, out_len);
	ls_op_free(op);
	return rv;
}

/* Multi-part in pieces of @piece; returns the total output length in *@out_len. */
static CK_RV
multipart(ls_op_kind kind, CK_MECHANISM m, const ls_mech_key *key, const uint8_t *in,
          size_t len, size_t piece, uint8_t *out, size_t out_cap, CK_ULONG *out_len)
{
	ls_op *op = NULL;
	CK_RV rv = ls_op_new(kind, &m, key, &op);
	size_t i, done = 0;
	CK_ULONG n;
	bool stream = kind == LS_OP_ENCRYPT || kind == LS_OP_DECRYPT;

	if (rv != CKR_OK)
		return rv;
	for (i = 0; i < len; i += piece) {
		size_t k = len - i < piece ? len - i : piece;

		n = out_cap - done;
		rv = ls_op_update(op, in + i, k, stream ? out + done : NULL, stream ? &n : NULL);
		if (rv != CKR_OK)
			goto out;
		if (stream)
			done += n;
	}
	n = out_cap - done;
	rv = ls_op_final(op, out + done, &n);
	if (rv == CKR_OK)
		done += n;
	*out_len = done;
out:
	ls_op_free(op);
	return rv;
}

static CK_RV
verify(CK_MECHANISM m, const ls_mech_key *key, const uint8_t *in, size_t len, const uint8_t *sig,
       size_t sig_len)
{
	ls_op *op = NULL;
	CK_RV rv = ls_op_new(LS_OP_VERIFY, &m, key, &op);

	if (rv != CKR_OK)
		return rv;
	rv = ls_op_verify(op, in, len, sig, sig_len);
	ls_op_free(op);
	return rv;
}

static CK_RV
verify_multi(CK_MECHANISM m, const ls_mech_key *key, const uint8_t *in, size_t len, size_t piece,
             const uint8_t *sig, size_t sig_len)
{
	ls_op *op = NULL;
	CK_RV rv = ls_op_new(LS_OP_VERIFY, &m, key, &op);
	size_t i;

	if (rv != CKR_OK)
		return rv;
	for (i = 0; i < len && rv == CKR_OK; i += piece)
		rv = ls_op_update(op, in + i, len - i < piece ? len - i : piece, NULL, NULL);
	if (rv == CKR_OK)
		rv = ls_op_verify_final(op, sig, sig_len);
	ls_op_free(op);
	return rv;
}

/* A known answer both ways, one-shot and in pieces of 1..@max_piece (@piece_step apart). */
static void
check_cipher_kat(CK_MECHANISM m, const ls_mech_key *key, const uint8_t *pt, const uint8_t *ct,
                 size_t len, size_t step)
{
	uint8_t out[8192];
	CK_ULONG n;
	size_t piece;

	cr_assert(len <= sizeof(out));
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, key, pt, len, out, &n), CKR_OK);
	cr_assert_eq(n, len);
	cr_assert_arr_eq(out, ct, len, "encrypt %s", ls_mech_find(m.mechanism)->name);
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_DECRYPT, m, key, ct, len, out, &n), CKR_OK);
	cr_assert_arr_eq(out, pt, len, "decrypt %s", ls_mech_find(m.mechanism)->name);
	for (piece = 1; piece <= len; piece += step) {
		memset(out, 0, len);
		cr_assert_eq(multipart(LS_OP_ENCRYPT, m, key, pt, len, piece, out, sizeof(out), &n),
		             CKR_OK);
		cr_assert_eq(n, len);
		cr_assert_arr_eq(out, ct, len, "pieces of %zu", piece);
		memset(out, 0, len);
		cr_assert_eq(multipart(LS_OP_DECRYPT, m, key, ct, len, piece, out, sizeof(out), &n),
		             CKR_OK);
		cr_assert_arr_eq(out, pt, len, "pieces of %zu", piece);
	}
}

/* Sign (one-shot and in pieces) gives @want; verify accepts it and refuses a changed one. */
static void
check_mac_kat(CK_MECHANISM m, const ls_mech_key *key, const uint8_t *msg, size_t len,
              const uint8_t *want, size_t want_len)
{
	uint8_t out[128], bad[128];
	CK_ULONG n = sizeof(out);
	size_t piece;

	cr_assert_eq(oneshot(LS_OP_SIGN, m, key, msg, len, out, &n), CKR_OK);
	cr_assert_eq(n, want_len);
	cr_assert_arr_eq(out, want, want_len, "%s", ls_mech_find(m.mechanism)->name);
	for (piece = 1; piece <= len + 1; piece += 5) {
		memset(out, 0, sizeof(out));
		cr_assert_eq(multipart(LS_OP_SIGN, m, key, msg, len, piece, out, sizeof(out), &n),
		             CKR_OK);
		cr_assert_eq(n, want_len);
		cr_assert_arr_eq(out, want, want_len, "pieces of %zu", piece);
		cr_assert_eq(verify_multi(m, key, msg, len, piece, want, want_len), CKR_OK);
	}
	cr_assert_eq(verify(m, key, msg, len, want, want_len), CKR_OK);
	memcpy(bad, want, want_len);
	bad[want_len - 1] ^= 1;
	cr_assert_eq(verify(m, key, msg, len, bad, want_len), CKR_SIGNATURE_INVALID);
	cr_assert_eq(verify_multi(m, key, msg, len, 7, bad, want_len), CKR_SIGNATURE_INVALID);
	cr_assert_eq(verify(m, key, msg, len, want, want_len - 1), CKR_SIGNATURE_LEN_RANGE);
	cr_assert_eq(verify(m, key, msg, len, bad, want_len + 1), CKR_SIGNATURE_LEN_RANGE);
}

/* ---------------------------------------------------------------------------------------------
 * The table
 * ------------------------------------------------------------------------------------------- */

Test(table, consistent_unique_and_covered)
{
	size_t count = 0, i, j;
	const ls_mech_info *t = ls_mech_table(&count);
	const CK_FLAGS ops = CKF_ENCRYPT | CKF_DECRYPT | CKF_DIGEST | CKF_SIGN | CKF_VERIFY |
	                     CKF_GENERATE | CKF_GENERATE_KEY_PAIR | CKF_WRAP | CKF_UNWRAP |
	                     CKF_DERIVE;

	cr_assert_eq(count, sizeof(covered) / sizeof(covered[0]), "every mechanism is tested here");
	for (i = 0; i < count; i++) {
		cr_assert_not_null(t[i].name);
		cr_assert_eq(strncmp(t[i].name, "CKM_", 4), 0);
		cr_assert(t[i].min_key_size <= t[i].max_key_size, "%s", t[i].name);
		cr_assert((t[i].flags & ops) != 0, "%s has an operation", t[i].name);
		cr_assert_eq(t[i].flags & ~ops, 0, "%s: only operation flags", t[i].name);
		/* Paired flags: what signs verifies, what encrypts decrypts, what wraps unwraps. */
		cr_assert_eq(!!(t[i].flags & CKF_SIGN), !!(t[i].flags & CKF_VERIFY), "%s", t[i].name);
		cr_assert_eq(!!(t[i].flags & CKF_ENCRYPT), !!(t[i].flags & CKF_DECRYPT), "%s",
		             t[i].name);
		cr_assert_eq(!!(t[i].flags & CKF_WRAP), !!(t[i].flags & CKF_UNWRAP), "%s", t[i].name);
		cr_assert_eq(ls_mech_find(t[i].type), &t[i], "find() agrees with the list");
		for (j = 0; j < i; j++)
			cr_assert_neq(t[i].type, t[j].type, "%s listed twice", t[i].name);
		for (j = 0; j < count && covered[j] != t[i].type; j++)
			;
		cr_assert(j < count, "%s is not exercised by this test", t[i].name);
	}
	cr_assert_null(ls_mech_find(CKM_RSA_PKCS));
	cr_assert_null(ls_mech_find(CKM_TLS_GOST_PRF_2012_256), "left out: no known answers");
	/* GOST R 34.10 sizes are bits, 256 or 512; the TC26 constants are the 2018 ones. */
	cr_assert_eq(ls_mech_find(CKM_GOSTR3410_WITH_GOSTR3411_12_512)->min_key_size, 512);
	cr_assert_eq(ls_mech_find(CKM_GOSTR3410_12_DERIVE)->min_key_size, 256);
	cr_assert_eq(ls_mech_find(CKM_GOSTR3410_12_DERIVE)->max_key_size, 512);
	cr_assert_eq(ls_mech_find(CKM_KUZNYECHIK_MGM)->type, 0xD432102DUL);
	cr_assert_eq(ls_mech_find(CKM_GOST_KEG)->type, 0xD4321039UL);
	cr_assert_eq(ls_mech_find(CKM_KUZNYECHIK_CTR_ACPKM)->flags, CKF_ENCRYPT | CKF_DECRYPT);
	cr_assert_str_eq(ls_mech_find(CKM_GOSTR3410_WITH_GOSTR3411_12_256)->name,
	                 "CKM_GOSTR3410_WITH_GOSTR3411_12_256");
}

Test(table, operation_must_be_in_the_table)
{
	TEST_HEX(k, K_KUZ);
	ls_mech_key key = skey(CKK_KUZNYECHIK, k, k_len);
	CK_MECHANISM m = mech(CKM_KUZNYECHIK_ECB, NULL, 0);
	ls_op *op = NULL;

	cr_assert_eq(ls_op_new(LS_OP_SIGN, &m, &key, &op), CKR_MECHANISM_INVALID);
	cr_assert_null(op);
	m = mech(CKM_KUZNYECHIK_KEY_GEN, NULL, 0);
	cr_assert_eq(ls_op_new(LS_OP_ENCRYPT, &m, &key, &op), CKR_MECHANISM_INVALID);
	m = mech(CKM_RSA_PKCS, NULL, 0);
	cr_assert_eq(ls_op_new(LS_OP_ENCRYPT, &m, &key, &op), CKR_MECHANISM_INVALID);
	m = mech(CKM_GOSTR3411_12_256, NULL, 0);
	cr_assert_eq(ls_op_new(LS_OP_ENCRYPT, &m, &key, &op), CKR_MECHANISM_INVALID);
	/* A non-empty parameter length with no pointer. */
	m = mech(CKM_GOSTR3411_12_256, NULL, 4);
	cr_assert_eq(ls_op_new(LS_OP_DIGEST, &m, NULL, &op), CKR_MECHANISM_PARAM_INVALID);
	m = mech(CKM_GOSTR3411_12_256, k, 4);
	cr_assert_eq(ls_op_new(LS_OP_DIGEST, &m, NULL, &op), CKR_MECHANISM_PARAM_INVALID);
	cr_assert_null(op);
}

/* ---------------------------------------------------------------------------------------------
 * Digests
 * ------------------------------------------------------------------------------------------- */

Test(digest, streebog_and_gost94_known_answers)
{
	static const char m1[] = "012345678901234567890123456789012345678901234567890123456789012";
	TEST_HEX(h512, "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa00ad30f8767b3a"
	               "82384c6574f024c311e2a481332b08ef7f41797891c1646f48");
	TEST_HEX(h256, "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500");
	TEST_HEX(m2, "d1e520e2e5f2f0e82c20d1f2f0e8e1eee6e820e2edf3f6e82c20e2e5fef2fa20f120eceef0ff20f1"
	             "f2f0e5ebe0ece820ede020f5f0e0e1f0fbff20efebfaeafb20c8e3eef0e5e2fb");
	TEST_HEX(m2_512, "1e88e62226bfca6f9994f1f2d51569e0daf8475a3b0fe61a5300eee46d961376035fe83549"
	                 "ada2b8620fcd7c496ce5b33f0cb9dddc2b6460143b03dabac9fb28");
	TEST_HEX(e256, "3f539a213e97c802cc229d474c6aa32a825a360b2a933a949fd925208d9ce1bb");
	TEST_HEX(h94, "bc6041dd2aa401ebfa6e9886734174febdb4729aa972d60f549ac39b29721ba0");
	static const uint8_t oid94[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01 };
	uint8_t out[64];
	CK_ULONG n;
	size_t piece;

	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_DIGEST, mech(CKM_GOSTR3411_12_512, NULL, 0), NULL,
	                     (const uint8_t *)m1, 63, out, &n), CKR_OK);
	cr_assert_eq(n, 64);
	cr_assert_arr_eq(out, h512, 64);
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_DIGEST, mech(CKM_GOSTR3411_12_256, NULL, 0), NULL,
	                     (const uint8_t *)m1, 63, out, &n), CKR_OK);
	cr_assert_eq(n, 32);
	cr_assert_arr_eq(out, h256, 32);
	for (piece = 1; piece < m2_len; piece += 9) {
		cr_assert_eq(multipart(LS_OP_DIGEST, mech(CKM_GOSTR3411_12_512, NULL, 0), NULL, m2,
		                       m2_len, piece, out, sizeof(out), &n), CKR_OK);
		cr_assert_eq(n, 64);
		cr_assert_arr_eq(out, m2_512, 64, "pieces of %zu", piece);
	}
	/* An empty multi-part digest (no update at all). */
	cr_assert_eq(multipart(LS_OP_DIGEST, mech(CKM_GOSTR3411_12_256, NULL, 0), NULL, NULL, 0, 1,
	                       out, sizeof(out), &n), CKR_OK);
	cr_assert_arr_eq(out, e256, 32);
	/* GOST R 34.11-94 with the CryptoPro parameters: without a parameter or with its OID. */
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_DIGEST, mech(CKM_GOSTR3411, NULL, 0), NULL,
	                     (const uint8_t *)"message digest", 14, out, &n), CKR_OK);
	cr_assert_arr_eq(out, h94, 32);
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_DIGEST, mech(CKM_GOSTR3411, oid94, sizeof(oid94)), NULL,
	                     (const uint8_t *)"message digest", 14, out, &n), CKR_OK);
	cr_assert_arr_eq(out, h94, 32);
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_DIGEST, mech(CKM_GOSTR3411, oid94, 8), NULL, out, 1, out, &n),
	             CKR_MECHANISM_PARAM_INVALID);
	cr_assert_eq(oneshot(LS_OP_DIGEST, mech(CKM_GOSTR3411_12_256, oid94, sizeof(oid94)), NULL,
	                     out, 1, out, &n), CKR_MECHANISM_PARAM_INVALID);
}

Test(digest, output_length_convention_and_digest_key)
{
	static const char m1[] = "012345678901234567890123456789012345678901234567890123456789012";
	TEST_HEX(h256, "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500");
	CK_MECHANISM m = mech(CKM_GOSTR3411_12_256, NULL, 0);
	ls_mech_key key = skey(CKK_GENERIC_SECRET, (const uint8_t *)m1 + 10, 53);
	ls_mech_key pub = key;
	ls_op *op = NULL;
	uint8_t out[64];
	CK_ULONG n;

	cr_assert_eq(ls_op_new(LS_OP_DIGEST, &m, NULL, &op), CKR_OK);
	cr_assert_eq(ls_op_get_kind(op), LS_OP_DIGEST);
	cr_assert_eq(ls_op_mechanism(op), CKM_GOSTR3411_12_256);
	n = 0;
	cr_assert_eq(ls_op_oneshot(op, (const uint8_t *)m1, 63, NULL, &n), CKR_OK);
	cr_assert_eq(n, 32, "NULL output: the size");
	n = 31;
	cr_assert_eq(ls_op_oneshot(op, (const uint8_t *)m1, 63, out, &n), CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(n, 32);
	n = 32;
	cr_assert_eq(ls_op_oneshot(op, (const uint8_t *)m1, 63, out, &n), CKR_OK);
	cr_assert_arr_eq(out, h256, 32);
	ls_op_free(op);

	/* Multi-part with C_DigestKey in the middle; final with a size query first. */
	cr_assert_eq(ls_op_new(LS_OP_DIGEST, &m, NULL, &op), CKR_OK);
	cr_assert_eq(ls_op_update(op, (const uint8_t *)m1, 10, NULL, NULL), CKR_OK);
	cr_assert_eq(ls_op_digest_key(op, &key), CKR_OK);
	n = 0;
	cr_assert_eq(ls_op_final(op, NULL, &n), CKR_OK);
	cr_assert_eq(n, 32);
	n = 3;
	cr_assert_eq(ls_op_final(op, out, &n), CKR_BUFFER_TOO_SMALL);
	n = 32;
	cr_assert_eq(ls_op_final(op, out, &n), CKR_OK);
	cr_assert_arr_eq(out, h256, 32, "nothing was consumed by the size queries");
	ls_op_free(op);

	pub.cls = CKO_PUBLIC_KEY;
	cr_assert_eq(ls_op_new(LS_OP_DIGEST, &m, NULL, &op), CKR_OK);
	cr_assert_eq(ls_op_digest_key(op, &pub), CKR_KEY_INDIGESTIBLE);
	ls_op_free(op);
	ls_op_free(NULL);
}

/* ---------------------------------------------------------------------------------------------
 * HMAC
 * ------------------------------------------------------------------------------------------- */

/* HMAC over GOST R 34.11-94 built here from the digest alone (RFC 2104, block 32: RFC 4357 3). */
static void
hmac94_model(const uint8_t *k, size_t klen, const uint8_t *msg, size_t len, uint8_t out[32])
{
	uint8_t pad[32], inner[32], buf[32 + 256];
	size_t i;

	cr_assert(klen <= 32 && len <= 256);
	memset(pad, 0, sizeof(pad));
	memcpy(pad, k, klen);
	for (i = 0; i < 32; i++)
		buf[i] = pad[i] ^ 0x36;
	memcpy(buf + 32, msg, len);
	cr_assert_eq(ls_md(LS_MD_GOST94, buf, 32 + len, inner, 32), LS_OK);
	for (i = 0; i < 32; i++)
		buf[i] = pad[i] ^ 0x5c;
	memcpy(buf + 32, inner, 32);
	cr_assert_eq(ls_md(LS_MD_GOST94, buf, 64, out, 32), LS_OK);
}

Test(hmac, rfc7836_and_gost94)
{
	TEST_HEX(k, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	TEST_HEX(t, "0126bdb87800af214341456563780100");
	TEST_HEX(h256, "a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9");
	TEST_HEX(h512, "a59bab22ecae19c65fbde6e5f4e9f5d8549d31f037f9df9b905500e171923a773d5f1530f2ed7e"
	               "964cb2eedc29e9ad2f3afe93b2814f79f5000ffc0366c251e6");
	ls_mech_key key = skey(CKK_GENERIC_SECRET, k, k_len);
	ls_mech_key gkey = skey(CKK_GOST28147, k, k_len);
	uint8_t want94[32];

	check_mac_kat(mech(CKM_GOSTR3411_12_256_HMAC, NULL, 0), &key, t, t_len, h256, 32);
	check_mac_kat(mech(CKM_GOSTR3411_12_512_HMAC, NULL, 0), &key, t, t_len, h512, 64);
	check_mac_kat(mech(CKM_GOSTR3411_12_256_HMAC, NULL, 0), &gkey, t, t_len, h256, 32);
	hmac94_model(k, k_len, t, t_len, want94);
	check_mac_kat(mech(CKM_GOSTR3411_HMAC, NULL, 0), &key, t, t_len, want94, 32);
}

Test(hmac, key_rules)
{
	uint8_t k[65] = { 1 }, out[64];
	ls_mech_key key = skey(CKK_GENERIC_SECRET, k, 16);
	CK_MECHANISM m = mech(CKM_GOSTR3411_12_256_HMAC, NULL, 0);
	CK_ULONG n = sizeof(out);

	cr_assert_eq(oneshot(LS_OP_SIGN, m, &key, k, 1, out, &n), CKR_KEY_SIZE_RANGE);
	key.value_len = 65;
	cr_assert_eq(oneshot(LS_OP_SIGN, m, &key, k, 1, out, &n), CKR_KEY_SIZE_RANGE);
	key.value_len = 64;
	cr_assert_eq(oneshot(LS_OP_SIGN, m, &key, k, 1, out, &n), CKR_OK);
	key.cls = CKO_PUBLIC_KEY;
	cr_assert_eq(oneshot(LS_OP_SIGN, m, &key, k, 1, out, &n), CKR_KEY_TYPE_INCONSISTENT);
	key = skey(CKK_GOSTR3410, k, 32);
	cr_assert_eq(oneshot(LS_OP_SIGN, m, &key, k, 1, out, &n), CKR_KEY_TYPE_INCONSISTENT);
	key = skey(CKK_KUZNYECHIK_TWIN_KEY, k, 64);
	cr_assert_eq(oneshot(LS_OP_SIGN, m, &key, k, 1, out, &n), CKR_KEY_TYPE_INCONSISTENT);
	key = skey(CKK_GENERIC_SECRET, k, 40);
	cr_assert_eq(oneshot(LS_OP_SIGN, mech(CKM_GOSTR3411_HMAC, NULL, 0), &key, k, 1, out, &n),
	             CKR_KEY_SIZE_RANGE, "HMAC-94 takes 256-bit keys");
	cr_assert_eq(oneshot(LS_OP_SIGN, mech(CKM_GOSTR3411_12_256_HMAC, k, 4), &key, k, 1, out, &n),
	             CKR_MECHANISM_PARAM_INVALID);
}

/* ---------------------------------------------------------------------------------------------
 * GOST R 34.10-2012
 * ------------------------------------------------------------------------------------------- */

struct rfc7091 {
	ls_curve curve;
	size_t n;
	const char *d, *qx, *qy, *alpha, *r, *s;
};

static const struct rfc7091 a1 = {
	LS_CURVE_TEST_256, 32,
	"7a929ade789bb9be10ed359dd39a72c11b60961f49397eee1d19ce9891ec3b28",
	"7f2b49e270db6d90d8595bec458b50c58585ba1d4e9b788f6689dbd8e56fd80b",
	"26f1b489d6701dd185c8413a977b3cbbaf64d1c593d26627dffb101a87ff77da",
	"2dfbc1b372d89a1188c09c52e0eec61fce52032ab1022e8e67ece6672b043ee5",
	"41aa28d2f1ab148280cd9ed56feda41974053554a42767b83ad043fd39dc0493",
	"01456c64ba4642a1653c235a98a60249bcd6d3f746b631df928014f6c5bf9c40",
};

static const struct rfc7091 a2 = {
	LS_CURVE_TEST_512, 64,
	"0ba6048aadae241ba40936d47756d7c93091a0e8514669700ee7508e508b102072e8123b2200a0563322dad2827e"
	"2714a2636b7bfd18aadfc62967821fa18dd4",
	"115dc5bc96760c7b48598d8ab9e740d4c4a85a65be33c1815b5c320c854621dd5a515856d13314af69bc5b924c8b"
	"4ddff75c45415c1d9dd9dd33612cd530efe1",
	"37c7c90cd40b0f5621dc3ac1b751cfa0e2634fa0503b3d52639f5d7fb72afd61ea199441d943ffe7f0c70a2759a3"
	"cdb84c114e1f9339fdf27f35eca93677beec",
	"3754f3cfacc9e0615c4f4a7c4d8dab531b09b6f9c170c533a71d147035b0c5917184ee536593f4414339976c647c"
	"5d5a407adedb1d560c4fc6777d2972075b8c",
	"2f86fa60a081091a23dd795e1e3c689ee512a3c82ee0dcc2643c78eea8fcacd35492558486b20f1c9ec197c90699"
	"850260c93bcbcd9c5c3317e19344e173ae36",
	"1081b394696ffe8e6585e7a9362d26b6325f56778aadbc081c0bfbe933d52ff5823ce288e8c4f362526080df7f70"
	"ce406a6eeb1f56919cb92a9853bde73e5b4a",
};

/* A printed big-endian number of @n bytes into little-endian @out. */
static void
le_from_hex(const char *hex, uint8_t *out, size_t n)
{
	cr_assert_eq(test_unhex(hex, out, n), n);
	test_reverse(out, n);
}

Test(sign, rfc7091_verify_known_signatures_and_sign_with_the_key)
{
	const struct rfc7091 *v[] = { &a1, &a2 };
	size_t i;

	for (i = 0; i < 2; i++) {
		size_t n = v[i]->n;
		uint8_t d[64], q[128], digest[64], sig[128], mine[128];
		CK_MECHANISM m = mech(n == 32 ? CKM_GOSTR3410 : CKM_GOSTR3410_512, NULL, 0);
		ls_mech_key pub = { .cls = CKO_PUBLIC_KEY, .curve = v[i]->curve, .value = q,
			            .value_len = 2 * n,
			            .key_type = n == 32 ? CKK_GOSTR3410 : CKK_GOSTR3410_512 };
		ls_mech_key priv = pub;
		CK_ULONG len = sizeof(mine);

		priv.cls = CKO_PRIVATE_KEY;
		priv.value = d;
		priv.value_len = n;
		le_from_hex(v[i]->d, d, n);
		le_from_hex(v[i]->qx, q, n);
		le_from_hex(v[i]->qy, q + n, n);
		le_from_hex(v[i]->alpha, digest, n); /* the digest bytes are the number reversed */
		cr_assert_eq(test_unhex(v[i]->s, sig, n), n);
		cr_assert_eq(test_unhex(v[i]->r, sig + n, n), n);
		cr_assert_eq(verify(m, &pub, digest, n, sig, 2 * n), CKR_OK, "RFC 7091 %zu", i);
		sig[5] ^= 0x10;
		cr_assert_eq(verify(m, &pub, digest, n, sig, 2 * n), CKR_SIGNATURE_INVALID);
		sig[5] ^= 0x10;
		cr_assert_eq(verify(m, &pub, digest, n - 1, sig, 2 * n), CKR_DATA_LEN_RANGE);
		cr_assert_eq(verify(m, &pub, digest, n, sig, 2 * n - 1), CKR_SIGNATURE_LEN_RANGE);
		/* Raw signing with the published private key verifies with the published public. */
		cr_assert_eq(oneshot(LS_OP_SIGN, m, &priv, digest, n, mine, &len), CKR_OK);
		cr_assert_eq(len, 2 * n);
		cr_assert_eq(verify(m, &pub, digest, n, mine, 2 * n), CKR_OK);
	}
}

struct pair {
	uint8_t pub[128], priv[64];
	size_t pub_len, priv_len;
	ls_gost_key *gost;
	ls_mech_key kpub, kpriv;
};

static void
gen_pair(ls_curve curve, struct pair *p, bool cache)
{
	size_t n = ls_curve_size(curve);
	CK_MECHANISM m = mech(n == 32 ? CKM_GOSTR3410_KEY_PAIR_GEN : CKM_GOSTR3410_512_KEY_PAIR_GEN,
	                      NULL, 0);
	CK_KEY_TYPE t = n == 32 ? CKK_GOSTR3410 : CKK_GOSTR3410_512;

	memset(p, 0, sizeof(*p));
	cr_assert_eq(ls_mech_generate_key_pair(&m, curve, p->pub, sizeof(p->pub), &p->pub_len,
	                                       p->priv, sizeof(p->priv), &p->priv_len,
	                                       cache ? &p->gost : NULL), CKR_OK);
	cr_assert_eq(p->pub_len, 2 * n);
	cr_assert_eq(p->priv_len, n);
	cr_assert_eq(cache, p->gost != NULL);
	p->kpriv = (ls_mech_key){ .cls = CKO_PRIVATE_KEY, .key_type = t, .value = p->priv,
		                  .value_len = n, .curve = curve, .gost = p->gost };
	p->kpub = (ls_mech_key){ .cls = CKO_PUBLIC_KEY, .key_type = t, .value = p->pub,
		                 .value_len = 2 * n, .curve = curve };
}

static void
sign_round_trip(ls_curve curve, bool cache)
{
	size_t n = ls_curve_size(curve);
	CK_MECHANISM hs = mech(n == 32 ? CKM_GOSTR3410_WITH_GOSTR3411_12_256
	                               : CKM_GOSTR3410_WITH_GOSTR3411_12_512, NULL, 0);
	CK_MECHANISM raw = mech(n == 32 ? CKM_GOSTR3410 : CKM_GOSTR3410_512, NULL, 0);
	ls_md_alg md = n == 32 ? LS_MD_STREEBOG256 : LS_MD_STREEBOG512;
	uint8_t msg[3000], sig[128], sig2[128], digest[64];
	CK_ULONG len;
	struct pair p;
	size_t i;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 13 + 5);
	gen_pair(curve, &p, cache);
	len = sizeof(sig);
	cr_assert_eq(oneshot(LS_OP_SIGN, hs, &p.kpriv, msg, sizeof(msg), sig, &len), CKR_OK);
	cr_assert_eq(len, 2 * n);
	cr_assert_eq(multipart(LS_OP_SIGN, hs, &p.kpriv, msg, sizeof(msg), 1025, sig2, sizeof(sig2),
	                       &len), CKR_OK);
	cr_assert_eq(len, 2 * n);
	/* Single- and multi-part verify each other's signatures; both are of the same digest. */
	cr_assert_eq(verify(hs, &p.kpub, msg, sizeof(msg), sig2, 2 * n), CKR_OK);
	cr_assert_eq(verify_multi(hs, &p.kpub, msg, sizeof(msg), 999, sig, 2 * n), CKR_OK);
	cr_assert_eq(ls_md(md, msg, sizeof(msg), digest, n), LS_OK);
	cr_assert_eq(verify(raw, &p.kpub, digest, n, sig, 2 * n), CKR_OK);
	cr_assert_eq(verify(raw, &p.kpub, digest, n, sig2, 2 * n), CKR_OK);
	msg[100] ^= 1;
	cr_assert_eq(verify(hs, &p.kpub, msg, sizeof(msg), sig, 2 * n), CKR_SIGNATURE_INVALID);
	cr_assert_eq(verify_multi(hs, &p.kpub, msg, sizeof(msg), 77, sig2, 2 * n),
	             CKR_SIGNATURE_INVALID);
	cr_assert_eq(verify(hs, &p.kpub, msg, sizeof(msg), sig, 2 * n + 1),
	             CKR_SIGNATURE_LEN_RANGE);
	ls_gost_key_free(p.gost);
}

Test(sign, round_trips_every_kind_of_curve)
{
	sign_round_trip(LS_CURVE_CP_A, false);
	sign_round_trip(LS_CURVE_TC26_256_A, true);
	sign_round_trip(LS_CURVE_TC26_512_A, false);
	sign_round_trip(LS_CURVE_TC26_512_C, true);
}

Test(sign, gost94_hash_and_sign)
{
	static const uint8_t oid94[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01 };
	uint8_t sig[64], digest[32];
	CK_ULONG len = sizeof(sig);
	struct pair p;

	gen_pair(LS_CURVE_CP_B, &p, false);
	cr_assert_eq(oneshot(LS_OP_SIGN, mech(CKM_GOSTR3410_WITH_GOSTR3411, NULL, 0), &p.kpriv,
	                     (const uint8_t *)"message digest", 14, sig, &len), CKR_OK);
	cr_assert_eq(ls_md(LS_MD_GOST94, "message digest", 14, digest, 32), LS_OK);
	cr_assert_eq(verify(mech(CKM_GOSTR3410, NULL, 0), &p.kpub, digest, 32, sig, 64), CKR_OK);
	cr_assert_eq(verify(mech(CKM_GOSTR3410_WITH_GOSTR3411, oid94, sizeof(oid94)), &p.kpub,
	                    (const uint8_t *)"message digest", 14, sig, 64), CKR_OK);
	cr_assert_eq(verify(mech(CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0), &p.kpub,
	                    (const uint8_t *)"message digest", 14, sig, 64), CKR_SIGNATURE_INVALID);
}

Test(sign, raw_lengths_and_single_part_only)
{
	uint8_t digest[65] = { 1 }, sig[128];
	CK_MECHANISM raw = mech(CKM_GOSTR3410, NULL, 0);
	ls_op *op = NULL;
	CK_ULONG len;
	struct pair p;

	gen_pair(LS_CURVE_CP_A, &p, true);
	/* Any other length than the curve size is refused before the engine (which aborts). */
	for (size_t n = 0; n <= 65; n++) {
		if (n == 32)
			continue;
		len = sizeof(sig);
		cr_assert_eq(oneshot(LS_OP_SIGN, raw, &p.kpriv, digest, n, sig, &len),
		             CKR_DATA_LEN_RANGE, "length %zu", n);
		len = 0;
		cr_assert_eq(oneshot(LS_OP_SIGN, raw, &p.kpriv, digest, n, NULL, &len),
		             CKR_DATA_LEN_RANGE);
	}
	cr_assert_eq(ls_op_new(LS_OP_SIGN, &raw, &p.kpriv, &op), CKR_OK);
	cr_assert_eq(ls_op_update(op, digest, 32, NULL, NULL), CKR_FUNCTION_NOT_SUPPORTED);
	len = sizeof(sig);
	cr_assert_eq(ls_op_final(op, sig, &len), CKR_FUNCTION_NOT_SUPPORTED);
	/* The size query, a short buffer, then the signature. */
	len = 0;
	cr_assert_eq(ls_op_oneshot(op, digest, 32, NULL, &len), CKR_OK);
	cr_assert_eq(len, 64);
	len = 63;
	cr_assert_eq(ls_op_oneshot(op, digest, 32, sig, &len), CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(len, 64);
	cr_assert_eq(ls_op_oneshot(op, digest, 32, sig, &len), CKR_OK);
	ls_op_free(op);
	cr_assert_eq(verify(raw, &p.kpub, digest, 32, sig, 64), CKR_OK);
	ls_gost_key_free(p.gost);
}

Test(sign, key_mechanism_consistency)
{
	struct pair p256, p512;
	uint8_t sig[128];
	CK_ULONG len = sizeof(sig);
	ls_mech_key k;
	ls_op *op = NULL;
	CK_MECHANISM m256 = mech(CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0);
	CK_MECHANISM m512 = mech(CKM_GOSTR3410_WITH_GOSTR3411_12_512, NULL, 0);

	gen_pair(LS_CURVE_CP_A, &p256, false);
	gen_pair(LS_CURVE_TC26_512_B, &p512, false);
	/* Another key type than the mechanism's: CKR_KEY_TYPE_INCONSISTENT, both ways. */
	cr_assert_eq(ls_op_new(LS_OP_SIGN, &m256, &p512.kpriv, &op), CKR_KEY_TYPE_INCONSISTENT);
	cr_assert_eq(ls_op_new(LS_OP_SIGN, &m512, &p256.kpriv, &op), CKR_KEY_TYPE_INCONSISTENT);
	cr_assert_null(op);
	/* The right key type on a curve of the other size: CKR_KEY_SIZE_RANGE. */
	k = p512.kpriv;
	k.key_type = CKK_GOSTR3410;
	cr_assert_eq(ls_op_new(LS_OP_SIGN, &m256, &k, &op), CKR_KEY_SIZE_RANGE);
	k = p256.kpriv;
	k.value_len = 31;
	cr_assert_eq(ls_op_new(LS_OP_SIGN, &m256, &k, &op), CKR_KEY_SIZE_RANGE);
	/* Signing needs the private key, verifying the public one. */
	cr_assert_eq(ls_op_new(LS_OP_SIGN, &m256, &p256.kpub, &op), CKR_KEY_TYPE_INCONSISTENT);
	cr_assert_eq(ls_op_new(LS_OP_VERIFY, &m256, &p256.kpriv, &op), CKR_KEY_TYPE_INCONSISTENT);
	k = skey(CKK_KUZNYECHIK, p256.priv, 32);
	cr_assert_eq(ls_op_new(LS_OP_SIGN, &m256, &k, &op), CKR_KEY_TYPE_INCONSISTENT);
	/* A public value off the curve. */
	k = p256.kpub;
	p256.pub[0] ^= 1;
	cr_assert_eq(ls_op_new(LS_OP_VERIFY, &m256, &k, &op), CKR_KEY_SIZE_RANGE);
	p256.pub[0] ^= 1;
	cr_assert_eq(oneshot(LS_OP_SIGN, mech(CKM_GOSTR3410_WITH_GOSTR3411_12_256, sig, 9),
	                     &p256.kpriv, sig, 1, sig, &len), CKR_MECHANISM_PARAM_INVALID);
	cr_assert_eq(oneshot(LS_OP_SIGN, mech(CKM_GOSTR3410, sig, 1), &p256.kpriv, sig, 32, sig,
	                     &len), CKR_MECHANISM_PARAM_INVALID);
}

Test(sign, key_pair_generation_rules)
{
	CK_MECHANISM m = mech(CKM_GOSTR3410_KEY_PAIR_GEN, NULL, 0);
	CK_MECHANISM m512 = mech(CKM_GOSTR3410_512_KEY_PAIR_GEN, NULL, 0);
	uint8_t pub[128], priv[64], one = 1;
	size_t pl, sl;
	ls_gost_key *g = NULL;
	CK_MECHANISM bad = mech(CKM_GOSTR3410_KEY_PAIR_GEN, &one, 1);
	CK_MECHANISM wrong = mech(CKM_GOSTR3410, NULL, 0);

	cr_assert_eq(ls_mech_generate_key_pair(&m, LS_CURVE_TC26_512_A, pub, 128, &pl, priv, 64, &sl,
	                                       &g), CKR_TEMPLATE_INCONSISTENT);
	cr_assert_eq(ls_mech_generate_key_pair(&m512, LS_CURVE_CP_C, pub, 128, &pl, priv, 64, &sl,
	                                       &g), CKR_TEMPLATE_INCONSISTENT);
	cr_assert_eq(ls_mech_generate_key_pair(&bad, LS_CURVE_CP_C, pub, 128, &pl, priv, 64, &sl,
	                                       &g), CKR_MECHANISM_PARAM_INVALID);
	cr_assert_eq(ls_mech_generate_key_pair(&wrong, LS_CURVE_CP_C, pub, 128, &pl, priv, 64, &sl,
	                                       &g), CKR_MECHANISM_INVALID);
	cr_assert_null(g);
	cr_assert_eq(ls_mech_generate_key_pair(&m512, LS_CURVE_TC26_512_C, pub, 128, &pl, priv, 64,
	                                       &sl, &g), CKR_OK);
	cr_assert_eq(ls_gost_key_curve(g), LS_CURVE_TC26_512_C);
	{
		uint8_t q[128];

		cr_assert_eq(ls_gost_key_public(g, q, 128), LS_OK);
		cr_assert_arr_eq(q, pub, 128, "the cached key is the one whose value was written");
	}
	ls_gost_key_free(g);
}

/* ---------------------------------------------------------------------------------------------
 * Ciphers
 * ------------------------------------------------------------------------------------------- */

Test(cipher, ecb_known_answers_and_whole_blocks)
{
	TEST_HEX(kk, K_KUZ);
	TEST_HEX(pk, P_KUZ);
	TEST_HEX(ck, "7f679d90bebc24305a468d42b9d4edcdb429912c6e0032f9285452d76718d08b"
	             "f0ca33549d247ceef3f5a5313bd4b157d0b09ccde830b9eb3a02c4c5aa8ada98");
	TEST_HEX(km, K_MAG);
	TEST_HEX(pm, P_MAG);
	TEST_HEX(cm, "2b073f0494f372a0de70e715d3556e4811d8d9e9eacfbc1e7c68260996c67efb");
	TEST_HEX(k89, "bbf1edd320af8a628e11c8a951ccbe81477b41a16af67f05e8512f9e01f8cf49");
	TEST_HEX(p89, "743d76f91bee353ca25c3b10eb64cff5");
	TEST_HEX(c89, "c373909535580863cb68859677e8fba9");
	ls_mech_key kuz = skey(CKK_KUZNYECHIK, kk, 32), mag = skey(CKK_MAGMA, km, 32);
	ls_mech_key g89 = skey(CKK_GOST28147, k89, 32);
	CK_MECHANISM m = mech(CKM_KUZNYECHIK_ECB, NULL, 0);
	uint8_t out[64];
	CK_ULONG n;
	ls_op *op = NULL;

	check_cipher_kat(m, &kuz, pk, ck, 64, 3);
	check_cipher_kat(mech(CKM_MAGMA_ECB, NULL, 0), &mag, pm, cm, 32, 1);
	check_cipher_kat(mech(CKM_GOST28147_ECB, NULL, 0), &g89, p89, c89, 16, 1);
	g89.sbox = LS_GOST89_PARAM_CPA;
	check_cipher_kat(mech(CKM_GOST28147_ECB, NULL, 0), &g89, p89, c89, 16, 5);
	/* The key's S-box is used: TC26 Z gives another ciphertext. */
	g89.sbox = LS_GOST89_PARAM_Z;
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, mech(CKM_GOST28147_ECB, NULL, 0), &g89, p89, 16, out,
	                     &n), CKR_OK);
	cr_assert(memcmp(out, c89, 16) != 0);

	/* Whole blocks only, one-shot and at the end of a multi-part operation. */
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &kuz, pk, 17, out, &n), CKR_DATA_LEN_RANGE);
	cr_assert_eq(oneshot(LS_OP_DECRYPT, m, &kuz, ck, 15, out, &n),
	             CKR_ENCRYPTED_DATA_LEN_RANGE);
	cr_assert_eq(multipart(LS_OP_ENCRYPT, m, &kuz, pk, 40, 7, out, sizeof(out), &n),
	             CKR_DATA_LEN_RANGE);
	cr_assert_eq(multipart(LS_OP_DECRYPT, mech(CKM_MAGMA_ECB, NULL, 0), &mag, cm, 12, 5, out,
	                       sizeof(out), &n), CKR_ENCRYPTED_DATA_LEN_RANGE);

	/* Update: whole blocks out, the rest kept; size query and short buffer consume nothing. */
	cr_assert_eq(ls_op_new(LS_OP_ENCRYPT, &m, &kuz, &op), CKR_OK);
	n = sizeof(out);
	cr_assert_eq(ls_op_update(op, pk, 10, out, &n), CKR_OK);
	cr_assert_eq(n, 0);
	n = 0;
	cr_assert_eq(ls_op_update(op, pk + 10, 30, NULL, &n), CKR_OK);
	cr_assert_eq(n, 32);
	n = 31;
	cr_assert_eq(ls_op_update(op, pk + 10, 30, out, &n), CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(n, 32);
	cr_assert_eq(ls_op_update(op, pk + 10, 30, out, &n), CKR_OK);
	cr_assert_eq(n, 32);
	n = sizeof(out) - 32;
	cr_assert_eq(ls_op_update(op, pk + 40, 24, out + 32, &n), CKR_OK);
	cr_assert_eq(n, 32);
	n = 5;
	cr_assert_eq(ls_op_final(op, out + 64 - 5, &n), CKR_OK);
	cr_assert_eq(n, 0);
	cr_assert_arr_eq(out, ck, 64);
	ls_op_free(op);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, mech(CKM_KUZNYECHIK_ECB, kk, 8), &kuz, pk, 16, out, &n),
	             CKR_MECHANISM_PARAM_INVALID);
}

Test(cipher, ctr_acpkm_known_answers)
{
	/* Below the default section (4 KiB / 1 KiB) CTR-ACPKM is plain 34.13 CTR: A.1.2, A.2.2. */
	TEST_HEX(kk, K_KUZ);
	TEST_HEX(pk, P_KUZ);
	TEST_HEX(ivk, "1234567890abcef0");
	TEST_HEX(ck, "f195d8bec10ed1dbd57b5fa240bda1b885eee733f6a13e5df33ce4b33c45dee4"
	             "a5eae88be6356ed3d5e877f13564a3a5cb91fab1f20cbab6d1c6d15820bdba73");
	TEST_HEX(km, K_MAG);
	TEST_HEX(pm, P_MAG);
	TEST_HEX(ivm, "12345678");
	TEST_HEX(cm, "4e98110c97b7b93c3e250d93d6e85d69136d868807b2dbef568eb680ab52a12d");
	ls_mech_key kuz = skey(CKK_KUZNYECHIK, kk, 32), mag = skey(CKK_MAGMA, km, 32);
	CK_MECHANISM m = mech(CKM_KUZNYECHIK_CTR_ACPKM, ivk, ivk_len);
	uint8_t out[64];
	CK_ULONG n;
	ls_op *op = NULL;

	check_cipher_kat(m, &kuz, pk, ck, 64, 5);
	check_cipher_kat(m, &kuz, pk, ck, 37, 4);
	check_cipher_kat(mech(CKM_MAGMA_CTR_ACPKM, ivm, ivm_len), &mag, pm, cm, 32, 3);

	/* A too-small buffer consumes no keystream: the next call still matches the vector. */
	cr_assert_eq(ls_op_new(LS_OP_ENCRYPT, &m, &kuz, &op), CKR_OK);
	n = 0;
	cr_assert_eq(ls_op_update(op, pk, 20, NULL, &n), CKR_OK);
	cr_assert_eq(n, 20);
	n = 19;
	cr_assert_eq(ls_op_update(op, pk, 20, out, &n), CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(n, 20);
	cr_assert_eq(ls_op_update(op, pk, 20, out, &n), CKR_OK);
	n = 44;
	cr_assert_eq(ls_op_update(op, pk + 20, 44, out + 20, &n), CKR_OK);
	cr_assert_arr_eq(out, ck, 64);
	ls_op_free(op);

	/* The parameter is the IV of half a block, required. */
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, mech(CKM_KUZNYECHIK_CTR_ACPKM, NULL, 0), &kuz, pk, 16,
	                     out, &n), CKR_MECHANISM_PARAM_INVALID);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, mech(CKM_KUZNYECHIK_CTR_ACPKM, ivk, 16), &kuz, pk, 16,
	                     out, &n), CKR_MECHANISM_PARAM_INVALID);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, mech(CKM_MAGMA_CTR_ACPKM, ivk, 8), &mag, pm, 16, out,
	                     &n), CKR_MECHANISM_PARAM_INVALID);
	/* Key rules. */
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &mag, pk, 16, out, &n), CKR_KEY_TYPE_INCONSISTENT);
	kuz.value_len = 31;
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &kuz, pk, 16, out, &n), CKR_KEY_SIZE_RANGE);
	kuz.value_len = 32;
	kuz.cls = CKO_PRIVATE_KEY;
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &kuz, pk, 16, out, &n), CKR_KEY_TYPE_INCONSISTENT);
}

Test(cipher, ctr_acpkm_long_message_round_trip)
{
	/* Across several default sections: multi-part equals one-shot, and it decrypts back. */
	TEST_HEX(kk, K_KUZ);
	TEST_HEX(iv, "0102030405060708");
	static uint8_t msg[10000], ct[10000], ct2[10000], back[10000];
	ls_mech_key kuz = skey(CKK_KUZNYECHIK, kk, 32);
	CK_MECHANISM m = mech(CKM_KUZNYECHIK_CTR_ACPKM, iv, iv_len);
	CK_ULONG n = sizeof(ct);
	size_t i;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 3);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &kuz, msg, sizeof(msg), ct, &n), CKR_OK);
	cr_assert_eq(multipart(LS_OP_ENCRYPT, m, &kuz, msg, sizeof(msg), 999, ct2, sizeof(ct2), &n),
	             CKR_OK);
	cr_assert_arr_eq(ct, ct2, sizeof(ct));
	cr_assert(memcmp(ct, msg, 64) != 0);
	cr_assert_eq(multipart(LS_OP_DECRYPT, m, &kuz, ct, sizeof(ct), 4097, back, sizeof(back), &n),
	             CKR_OK);
	cr_assert_arr_eq(back, msg, sizeof(msg));
}

Test(cipher, gost28147_cfb_known_answer_and_default_iv)
{
	/* [CSP] "testcfb1" (CryptoPro-A). */
	TEST_HEX(k, "8d5a2c83a7c70a61d61b34b51fdf42686671a35d874cfd84993663b61ed60dad");
	TEST_HEX(iv, "46606f0d8834235a");
	TEST_HEX(pt, "d2fdf83ac1b439232eaacc980a02da33");
	TEST_HEX(ct, "88b7751674a5ee2d14fe9167d05ccc40");
	uint8_t zero_iv[8] = { 0 }, a[16], b[16];
	ls_mech_key key = skey(CKK_GOST28147, k, 32);
	CK_ULONG n;

	check_cipher_kat(mech(CKM_GOST28147, iv, iv_len), &key, pt, ct, 16, 1);
	/* PKCS#11: without a parameter the IV is zero. */
	n = sizeof(a);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, mech(CKM_GOST28147, NULL, 0), &key, pt, 16, a, &n),
	             CKR_OK);
	n = sizeof(b);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, mech(CKM_GOST28147, zero_iv, 8), &key, pt, 16, b, &n),
	             CKR_OK);
	cr_assert_arr_eq(a, b, 16);
	cr_assert(memcmp(a, ct, 16) != 0);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, mech(CKM_GOST28147, iv, 7), &key, pt, 16, a, &n),
	             CKR_MECHANISM_PARAM_INVALID);
}

/* ---------------------------------------------------------------------------------------------
 * MACs
 * ------------------------------------------------------------------------------------------- */

Test(mac, omac_known_answers)
{
	TEST_HEX(kk, K_KUZ);
	TEST_HEX(pk, P_KUZ);
	TEST_HEX(tk, "336f4d296059fbe34ddeb35b37749c67");
	TEST_HEX(km, K_MAG);
	TEST_HEX(pm, P_MAG);
	TEST_HEX(tm, "154e72102030c5bb");
	ls_mech_key kuz = skey(CKK_KUZNYECHIK, kk, 32), mag = skey(CKK_MAGMA, km, 32);
	uint8_t out[16];
	CK_ULONG n = sizeof(out);

	check_mac_kat(mech(CKM_KUZNYECHIK_MAC, NULL, 0), &kuz, pk, pk_len, tk, 16);
	check_mac_kat(mech(CKM_MAGMA_MAC, NULL, 0), &mag, pm, pm_len, tm, 8);
	cr_assert_eq(oneshot(LS_OP_SIGN, mech(CKM_MAGMA_MAC, tm, 8), &mag, pm, 8, out, &n),
	             CKR_MECHANISM_PARAM_INVALID);
	cr_assert_eq(oneshot(LS_OP_SIGN, mech(CKM_MAGMA_MAC, NULL, 0), &kuz, pm, 8, out, &n),
	             CKR_KEY_TYPE_INCONSISTENT);
	/* Size query and short buffer in C_SignFinal consume nothing. */
	{
		CK_MECHANISM m = mech(CKM_KUZNYECHIK_MAC, NULL, 0);
		ls_op *op = NULL;

		cr_assert_eq(ls_op_new(LS_OP_SIGN, &m, &kuz, &op), CKR_OK);
		cr_assert_eq(ls_op_update(op, pk, pk_len, NULL, NULL), CKR_OK);
		n = 0;
		cr_assert_eq(ls_op_final(op, NULL, &n), CKR_OK);
		cr_assert_eq(n, 16);
		n = 15;
		cr_assert_eq(ls_op_final(op, out, &n), CKR_BUFFER_TOO_SMALL);
		n = 16;
		cr_assert_eq(ls_op_final(op, out, &n), CKR_OK);
		cr_assert_arr_eq(out, tk, 16);
		ls_op_free(op);
	}
}

Test(mac, gost28147_imit_with_and_without_iv)
{
	/* [CSP] "testimit1" without an IV. */
	TEST_HEX(k1, "9d05b79e90cad00a2cdad22ef4e86f5cf5dc37681985b3bfaa18c1c3050a91a2");
	TEST_HEX(m1, "b5a1f0e3ce2f021d676194345c41e36e");
	TEST_HEX(t1, "f81f08a3");
	/* [ENG] gost_mac_iv(key 80 83 86 .., IV 1d80603c8544c727, byte i = 7i + 3). */
	static const struct {
		size_t len;
		const char *cpa, *z;
	} v[] = {
		{ 0, "1d80603c", "1d80603c" },  { 5, "ddcb418d", "3368779d" },
		{ 8, "af727f6e", "8e1429c5" },  { 23, "246dc31e", "42882422" },
		{ 40, "c57a6791", "6fcf200b" },
	};
	TEST_HEX(ukm, "1d80603c8544c727");
	uint8_t key[32], msg[40], want[4];
	ls_mech_key k = skey(CKK_GOST28147, k1, 32);
	size_t i, s;

	check_mac_kat(mech(CKM_GOST28147_MAC, NULL, 0), &k, m1, m1_len, t1, 4);
	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + 3 * i);
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(7 * i + 3);
	k = skey(CKK_GOST28147, key, 32);
	for (s = 0; s < 2; s++) {
		k.sbox = s == 0 ? LS_GOST89_PARAM_CPA : LS_GOST89_PARAM_Z;
		for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			test_unhex(s == 0 ? v[i].cpa : v[i].z, want, 4);
			if (v[i].len == 0) {
				uint8_t out[4];
				CK_ULONG n = sizeof(out);

				cr_assert_eq(oneshot(LS_OP_SIGN, mech(CKM_GOST28147_MAC, ukm, 8), &k,
				                     NULL, 0, out, &n), CKR_OK);
				cr_assert_arr_eq(out, want, 4);
				continue;
			}
			check_mac_kat(mech(CKM_GOST28147_MAC, ukm, 8), &k, msg, v[i].len, want, 4);
		}
	}
	cr_assert_eq(verify(mech(CKM_GOST28147_MAC, ukm, 7), &k, msg, 8, want, 4),
	             CKR_MECHANISM_PARAM_INVALID);
}

/* ---------------------------------------------------------------------------------------------
 * MGM
 * ------------------------------------------------------------------------------------------- */

static void
check_mgm(CK_MECHANISM_TYPE type, CK_KEY_TYPE kt, const char *k_hex, const char *nonce_hex,
          const char *a_hex, const char *p_hex, const char *c_hex, const char *t_hex)
{
	uint8_t k[32], nonce[16], a[64], p[80], c[80], t[16], out[128], sentinel[128];
	size_t nn = test_unhex(nonce_hex, nonce, sizeof(nonce));
	size_t an = test_unhex(a_hex, a, sizeof(a)), pn = test_unhex(p_hex, p, sizeof(p));
	size_t tn = test_unhex(t_hex, t, sizeof(t));
	CK_GCM_PARAMS gp = { nonce, nn, 8 * nn, a, an, 8 * tn };
	CK_MECHANISM m = mech(type, &gp, sizeof(gp));
	ls_mech_key key;
	CK_ULONG n;
	ls_op *op = NULL;

	test_unhex(k_hex, k, sizeof(k));
	test_unhex(c_hex, c, sizeof(c));
	key = skey(kt, k, 32);
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &key, p, pn, out, &n), CKR_OK);
	cr_assert_eq(n, pn + tn);
	cr_assert_arr_eq(out, c, pn, "ciphertext");
	cr_assert_arr_eq(out + pn, t, tn, "tag after the ciphertext");
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_DECRYPT, m, &key, out, pn + tn, out, &n), CKR_OK);
	cr_assert_eq(n, pn);
	cr_assert_arr_eq(out, p, pn);

	/* A changed tag, ciphertext or AAD: refused, no plaintext released. */
	memcpy(out, c, pn);
	memcpy(out + pn, t, tn);
	out[pn + tn - 1] ^= 1;
	memset(sentinel, 0xa5, sizeof(sentinel));
	{
		uint8_t pt[128];

		memcpy(pt, sentinel, sizeof(pt));
		n = sizeof(pt);
		cr_assert_eq(oneshot(LS_OP_DECRYPT, m, &key, out, pn + tn, pt, &n),
		             CKR_ENCRYPTED_DATA_INVALID);
		cr_assert_arr_eq(pt, sentinel, sizeof(pt));
		out[pn + tn - 1] ^= 1;
		out[3] ^= 0x40;
		n = sizeof(pt);
		cr_assert_eq(oneshot(LS_OP_DECRYPT, m, &key, out, pn + tn, pt, &n),
		             CKR_ENCRYPTED_DATA_INVALID);
		out[3] ^= 0x40;
		a[0] ^= 1;
		n = sizeof(pt);
		cr_assert_eq(oneshot(LS_OP_DECRYPT, m, &key, out, pn + tn, pt, &n),
		             CKR_ENCRYPTED_DATA_INVALID);
		a[0] ^= 1;
		cr_assert_arr_eq(pt, sentinel, sizeof(pt));
	}

	/* Single-part only; size query and short buffer; short input. */
	cr_assert_eq(ls_op_new(LS_OP_ENCRYPT, &m, &key, &op), CKR_OK);
	n = sizeof(out);
	cr_assert_eq(ls_op_update(op, p, pn, out, &n), CKR_FUNCTION_NOT_SUPPORTED);
	n = 0;
	cr_assert_eq(ls_op_oneshot(op, p, pn, NULL, &n), CKR_OK);
	cr_assert_eq(n, pn + tn);
	n = pn + tn - 1;
	cr_assert_eq(ls_op_oneshot(op, p, pn, out, &n), CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(n, pn + tn);
	cr_assert_eq(ls_op_oneshot(op, p, pn, out, &n), CKR_OK);
	cr_assert_arr_eq(out + pn, t, tn);
	ls_op_free(op);
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_DECRYPT, m, &key, c, tn - 1, out, &n),
	             CKR_ENCRYPTED_DATA_LEN_RANGE);

	/* Parameters: nonce length and top bit, tag length, the struct size. */
	gp.ulIvLen = nn - 1;
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &key, p, pn, out, &n), CKR_MECHANISM_PARAM_INVALID);
	gp.ulIvLen = nn;
	nonce[0] |= 0x80;
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &key, p, pn, out, &n), CKR_MECHANISM_PARAM_INVALID);
	nonce[0] &= 0x7f;
	gp.ulTagBits = 8 * tn + 8;
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &key, p, pn, out, &n), CKR_MECHANISM_PARAM_INVALID);
	gp.ulTagBits = 24;
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &key, p, pn, out, &n), CKR_MECHANISM_PARAM_INVALID);
	gp.ulTagBits = 8 * tn;
	m.ulParameterLen = sizeof(gp) - 1;
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &key, p, pn, out, &n), CKR_MECHANISM_PARAM_INVALID);
	/* A truncated tag (32 bits) round trips and is the prefix of the full one. */
	m.ulParameterLen = sizeof(gp);
	gp.ulTagBits = 32;
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_ENCRYPT, m, &key, p, pn, out, &n), CKR_OK);
	cr_assert_eq(n, pn + 4);
	cr_assert_arr_eq(out + pn, t, 4);
	n = sizeof(out);
	cr_assert_eq(oneshot(LS_OP_DECRYPT, m, &key, out, pn + 4, out, &n), CKR_OK);
	cr_assert_arr_eq(out, p, pn);
}

Test(mgm, rfc9058_both_ciphers)
{
	check_mgm(CKM_KUZNYECHIK_MGM, CKK_KUZNYECHIK, K_KUZ, "1122334455667700ffeeddccbbaa9988",
	          "0202020202020202010101010101010104040404040404040303030303030303ea0505050505050505",
	          "1122334455667700ffeeddccbbaa998800112233445566778899aabbcceeff0a112233445566778899"
	          "aabbcceeff0a002233445566778899aabbcceeff0a0011aabbcc",
	          "a9757b8147956e9055b8a33de89f42fc8075d2212bf9fd5bd3f7069aadc16b39497ab15915a6ba8593"
	          "6b5d0ea9f6851cc60c14d4d3f883d0ab94420695c76deb2c7552",
	          "cf5d656f40c34f5c46e8bb0e29fcdb4c");
	check_mgm(CKM_MAGMA_MGM, CKK_MAGMA, K_MAG, "12def06b3c130a59",
	          "01010101010101010202020202020202030303030303030304040404040404040505050505050505ea",
	          "ffeeddccbbaa998811223344556677008899aabbcceeff0a001122334455667799aabbcceeff0a0011"
	          "22334455667788aabbcceeff0a00112233445566778899aabbcc",
	          "c795066c5f9ea03b85113342459185ae1f2e00d6bf2b785d940470b8bb9c8e7d9a5dd3731f7ddc70ec"
	          "27cb0ace6fa57670f65c646abb75d547aa37c3bcb5c34e03bb9c",
	          "a7928069aa10fd10");
}

/* ---------------------------------------------------------------------------------------------
 * Wrapping
 * ------------------------------------------------------------------------------------------- */

static void
check_kexp(CK_MECHANISM_TYPE type, CK_KEY_TYPE twin_type, const char *iv_hex,
           const char *wrapped_hex)
{
	TEST_HEX(cek, K_KUZ);
	TEST_HEX(kenc, "202122232425262728292a2b2c2d2e2f38393a3b3c3d3e3f3031323334353637");
	TEST_HEX(kmac, "08090a0b0c0d0e0f0001020304050607101112131415161718191a1b1c1d1e1f");
	uint8_t twin[64], iv[8], want[64], out[96], back[64], sentinel[64];
	size_t iv_len = test_unhex(iv_hex, iv, sizeof(iv));
	size_t want_len = test_unhex(wrapped_hex, want, sizeof(want)), got = 0, i;
	ls_mech_key wk, key = skey(CKK_KUZNYECHIK, cek, 32);
	CK_MECHANISM m = mech(type, iv, iv_len);
	CK_ULONG n;

	/* The twin key is K_mac || K_enc. */
	memcpy(twin, kmac, 32);
	memcpy(twin + 32, kenc, 32);
	wk = skey(twin_type, twin, 64);
	n = 0;
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, NULL, &n), CKR_OK);
	cr_assert_eq(n, want_len);
	n = want_len - 1;
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(n, want_len);
	n = sizeof(out);
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_OK);
	cr_assert_eq(n, want_len);
	cr_assert_arr_eq(out, want, want_len, "[KEXP] known answer");
	cr_assert_eq(ls_mech_unwrap(&m, &wk, want, want_len, CKK_KUZNYECHIK, back, sizeof(back),
	                            &got), CKR_OK);
	cr_assert_eq(got, 32);
	cr_assert_arr_eq(back, cek, 32);

	/* Tampering anywhere is refused; nothing is written. */
	memset(sentinel, 0x5a, sizeof(sentinel));
	for (i = 0; i < want_len; i += 3) {
		want[i] ^= 0x10;
		memset(back, 0x5a, sizeof(back));
		cr_assert_eq(ls_mech_unwrap(&m, &wk, want, want_len, CKK_KUZNYECHIK, back,
		                            sizeof(back), &got), CKR_WRAPPED_KEY_INVALID, "byte %zu", i);
		cr_assert_arr_eq(back, sentinel, sizeof(back));
		want[i] ^= 0x10;
	}
	cr_assert_eq(ls_mech_unwrap(&m, &wk, want, want_len - 1, CKK_KUZNYECHIK, back, sizeof(back),
	                            &got), CKR_WRAPPED_KEY_LEN_RANGE, "31 bytes: not a Kuznyechik key");
	cr_assert_eq(ls_mech_unwrap(&m, &wk, want, 8, CKK_GENERIC_SECRET, back, sizeof(back), &got),
	             CKR_WRAPPED_KEY_LEN_RANGE);
	cr_assert_eq(ls_mech_unwrap(&m, &wk, want, want_len, CKK_RSA, back, sizeof(back), &got),
	             CKR_TEMPLATE_INCONSISTENT);
	/* Parameter and key rules. */
	m.ulParameterLen = iv_len + 1;
	n = sizeof(out);
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_MECHANISM_PARAM_INVALID);
	m.ulParameterLen = 0;
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_MECHANISM_PARAM_INVALID);
	m.ulParameterLen = iv_len;
	wk = skey(CKK_KUZNYECHIK, twin, 32);
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_KEY_TYPE_INCONSISTENT);
	wk = skey(twin_type, twin, 63);
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_KEY_SIZE_RANGE);
	wk = skey(twin_type, twin, 64);
	key.value_len = 65;
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_KEY_SIZE_RANGE);
	/* Other lengths round trip (a 64-byte twin key wrapped in itself, a 5-byte secret). */
	key = skey(CKK_GENERIC_SECRET, twin, 5);
	n = sizeof(out);
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_OK);
	cr_assert_eq(ls_mech_unwrap(&m, &wk, out, n, CKK_GENERIC_SECRET, back, sizeof(back), &got),
	             CKR_OK);
	cr_assert_eq(got, 5);
	cr_assert_arr_eq(back, twin, 5);
	key = skey(twin_type, twin, 64);
	n = sizeof(out);
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_OK);
	cr_assert_eq(ls_mech_unwrap(&m, &wk, out, n, twin_type, back, sizeof(back), &got), CKR_OK);
	cr_assert_arr_eq(back, twin, 64);
}

Test(wrap, kexp15_known_answers)
{
	check_kexp(CKM_MAGMA_KEXP_15_WRAP, CKK_MAGMA_TWIN_KEY, "67bed654",
	           "cfd5a12d5b81b6e1e99c916d07900c6ac12703fb3abded55567bf3742c899c755dafe7b42e3a8bd9");
	check_kexp(CKM_KUZNYECHIK_KEXP_15_WRAP, CKK_KUZNYECHIK_TWIN_KEY, "0909472dd9f26be8",
	           "e36184e84e8d736ff36cc2e5ae065dc656b23c20f549b02fdff88e1f3f30d8c2"
	           "9a53f3ca554dbad80de152b9a4625b32");
}

Test(wrap, gost28147_cryptopro_key_wrap)
{
	/* [ENG] keyWrapCryptoPro(): its 44 bytes are UKM || ECB || IMIT; we output the last 36. */
	static const struct {
		ls_gost89_param sbox;
		const char *wrapped;
	} v[] = {
		{ LS_GOST89_PARAM_CPA, "a8c8bacca72c62166bde5ab79fee9a8de87a48a70cd7c832f58b86b62b9f4291"
		                       "b8989816" },
		{ LS_GOST89_PARAM_Z, "54080bf6935cbbf3be83a676c6ee8f4923dca350116f912cf99dca324d38d833"
		                     "add9de00" },
	};
	TEST_HEX(ukm, "1d80603c8544c727");
	uint8_t kek[32], cek[32], want[36], out[40], back[32], sentinel[32];
	ls_mech_key wk, key;
	CK_MECHANISM m = mech(CKM_GOST28147_KEY_WRAP, ukm, 8);
	CK_ULONG n;
	size_t i, s, got;

	for (i = 0; i < 32; i++) {
		kek[i] = (uint8_t)(0x80 + 3 * i);
		cek[i] = (uint8_t)(i + 1);
	}
	wk = skey(CKK_GOST28147, kek, 32);
	key = skey(CKK_GOST28147, cek, 32);
	for (s = 0; s < 2; s++) {
		wk.sbox = v[s].sbox;
		test_unhex(v[s].wrapped, want, sizeof(want));
		n = 0;
		cr_assert_eq(ls_mech_wrap(&m, &wk, &key, NULL, &n), CKR_OK);
		cr_assert_eq(n, 36);
		n = 35;
		cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_BUFFER_TOO_SMALL);
		n = sizeof(out);
		cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_OK);
		cr_assert_eq(n, 36);
		cr_assert_arr_eq(out, want, 36, "S-box %d", v[s].sbox);
		cr_assert_eq(ls_mech_unwrap(&m, &wk, want, 36, CKK_GOST28147, back, sizeof(back),
		                            &got), CKR_OK);
		cr_assert_eq(got, 32);
		cr_assert_arr_eq(back, cek, 32);
		memset(sentinel, 0x33, sizeof(sentinel));
		for (i = 0; i < 36; i += 5) {
			want[i] ^= 2;
			memcpy(back, sentinel, sizeof(back));
			cr_assert_eq(ls_mech_unwrap(&m, &wk, want, 36, CKK_GOST28147, back,
			                            sizeof(back), &got), CKR_WRAPPED_KEY_INVALID);
			cr_assert_arr_eq(back, sentinel, sizeof(back));
			want[i] ^= 2;
		}
	}
	cr_assert_eq(ls_mech_unwrap(&m, &wk, want, 35, CKK_GOST28147, back, sizeof(back), &got),
	             CKR_WRAPPED_KEY_LEN_RANGE);
	ukm[0] ^= 1;
	cr_assert_eq(ls_mech_unwrap(&m, &wk, want, 36, CKK_GOST28147, back, sizeof(back), &got),
	             CKR_WRAPPED_KEY_INVALID, "another UKM");
	m.ulParameterLen = 0;
	n = sizeof(out);
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_MECHANISM_PARAM_INVALID);
	m.ulParameterLen = 8;
	key.value_len = 16;
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_KEY_SIZE_RANGE);
	wk.key_type = CKK_MAGMA;
	cr_assert_eq(ls_mech_wrap(&m, &wk, &key, out, &n), CKR_KEY_TYPE_INCONSISTENT);
}

/* ---------------------------------------------------------------------------------------------
 * Derivation
 * ------------------------------------------------------------------------------------------- */

#define VKO_XA                                                                                     \
	"c990ecd972fce84ec4db022778f50fcac726f46708384b8d458304962d7147f8c2db41cef22c90b102f29684" \
	"04f9b9be6d47c79692d81826b32b8daca43cb667"
#define VKO_QA                                                                                     \
	"aab0eda4abff21208d18799fb9a8556654ba783070eba10cb9abb253ec56dcf5d3ccba6192e464e6e5bcb6de" \
	"a137792f2431f6c897eb1b3c0cc14327b1adc0a7914613a3074e363aedb204d38d3563971bd8758e878c9db1" \
	"1403721b48002d38461f92472d40ea92f9958c0ffa4c93756401b97f89fdbe0b5e46e4a4631cdb5a"
#define VKO_XB                                                                                     \
	"48c859f7b6f11585887cc05ec6ef1390cfea739b1a18c0d4662293ef63b79e3b8014070b44918590b4b996ac" \
	"fea4edfbbbcccc8c06edd8bf5bda92a51392d0db"
#define VKO_QB                                                                                     \
	"192fe183b9713a077253c72c8735de2ea42a3dbc66ea317838b65fa32523cd5efca974eda7c863f4954d1147" \
	"f1f2b25c395fce1c129175e876d132e94ed5a65104883b414c9b592ec4dc84826f07d0b6d9006dda176ce48c" \
	"391e3f97d102e03bb598bf132a228a45f7201aba08fc524a2d77e43a362ab022ad4028f75bde3b79"

static CK_RV
derive_vko(CK_MECHANISM_TYPE type, CK_EC_KDF_TYPE kdf, const ls_mech_key *base,
           const uint8_t *peer, size_t peer_len, const uint8_t *ukm, size_t ukm_len,
           CK_KEY_TYPE want_type, CK_ULONG want_len, uint8_t *out, size_t *out_len)
{
	CK_GOSTR3410_DERIVE_PARAMS dp = { kdf, (CK_BYTE_PTR)peer, peer_len, (CK_BYTE_PTR)ukm,
		                          ukm_len };
	CK_MECHANISM m = mech(type, &dp, sizeof(dp));

	return ls_mech_derive(&m, base, want_type, want_len, out, 128, out_len);
}

Test(derive, vko_rfc7836_both_parties)
{
	TEST_HEX(xa, VKO_XA);
	TEST_HEX(qa, VKO_QA);
	TEST_HEX(xb, VKO_XB);
	TEST_HEX(qb, VKO_QB);
	TEST_HEX(ukm, "1d80603c8544c727");
	TEST_HEX(k256, "c9a9a77320e2cc559ed72dce6f47e2192ccea95fa648670582c054c0ef36c221");
	TEST_HEX(k512, "79f002a96940ce7bde3259a52e015297adaad84597a0d205b50e3e1719f97bfa7ee1d2661fa9979a"
	               "5aa235b558a7e6d9f88f982dd63fc35a8ec0dd5e242d3bdf");
	ls_mech_key a = { .cls = CKO_PRIVATE_KEY, .key_type = CKK_GOSTR3410_512,
		          .curve = LS_CURVE_TC26_512_A, .value = xa, .value_len = 64 };
	ls_mech_key b = a;
	uint8_t out[128], der[131];
	size_t n;

	b.value = xb;
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &a, qb, 128, ukm, 8,
	                        CKK_GENERIC_SECRET, 0, out, &n), CKR_OK);
	cr_assert_eq(n, 32);
	cr_assert_arr_eq(out, k256, 32, "VKO_GOSTR3410_2012_256 on 512-bit keys");
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &b, qa, 128, ukm, 8,
	                        CKK_KUZNYECHIK, 0, out, &n), CKR_OK);
	cr_assert_arr_eq(out, k256, 32, "the other party");
	cr_assert_eq(derive_vko(CKM_VKO_GOSTR3410_2012_512, CKD_NULL, &a, qb, 128, ukm, 8,
	                        CKK_GENERIC_SECRET, 0, out, &n), CKR_OK);
	cr_assert_eq(n, 64);
	cr_assert_arr_eq(out, k512, 64);
	cr_assert_eq(derive_vko(CKM_VKO_GOSTR3410_2012_512, CKD_NULL, &b, qa, 128, ukm, 8,
	                        CKK_KUZNYECHIK_TWIN_KEY, 0, out, &n), CKR_OK);
	cr_assert_arr_eq(out, k512, 64);
	/* The peer's point as a DER OCTET STRING is taken too. */
	der[0] = 0x04, der[1] = 0x81, der[2] = 0x80;
	memcpy(der + 3, qb, 128);
	cr_assert_eq(derive_vko(CKM_VKO_GOSTR3410_2012_512, CKD_NULL, &a, der, 131,
	                        ukm, 8, CKK_GENERIC_SECRET, 0, out, &n), CKR_OK);
	cr_assert_arr_eq(out, k512, 64);
	/* A shorter CKA_VALUE_LEN takes the leading bytes; a longer one is inconsistent. */
	cr_assert_eq(derive_vko(CKM_VKO_GOSTR3410_2012_512, CKD_NULL, &a, qb, 128, ukm, 8,
	                        CKK_GENERIC_SECRET, 20, out, &n), CKR_OK);
	cr_assert_eq(n, 20);
	cr_assert_arr_eq(out, k512, 20);
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &a, qb, 128, ukm, 8,
	                        CKK_GENERIC_SECRET, 33, out, &n), CKR_TEMPLATE_INCONSISTENT);
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &a, qb, 128, ukm, 8,
	                        CKK_KUZNYECHIK_TWIN_KEY, 0, out, &n), CKR_TEMPLATE_INCONSISTENT);
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &a, qb, 128, ukm, 8,
	                        CKK_KUZNYECHIK, 16, out, &n), CKR_TEMPLATE_INCONSISTENT);
	/* Refusals: a point off the curve, lengths, kdf, key types. */
	qb[5] ^= 1;
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &a, qb, 128, ukm, 8,
	                        CKK_GENERIC_SECRET, 0, out, &n), CKR_MECHANISM_PARAM_INVALID);
	qb[5] ^= 1;
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &a, qb, 64, ukm, 8,
	                        CKK_GENERIC_SECRET, 0, out, &n), CKR_MECHANISM_PARAM_INVALID);
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &a, qb, 128, ukm, 0,
	                        CKK_GENERIC_SECRET, 0, out, &n), CKR_MECHANISM_PARAM_INVALID);
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_SHA1_KDF, &a, qb, 128, ukm, 8,
	                        CKK_GENERIC_SECRET, 0, out, &n), CKR_MECHANISM_PARAM_INVALID);
	cr_assert_eq(derive_vko(CKM_GOSTR3410_DERIVE, CKD_NULL, &a, qb, 128, ukm, 8,
	                        CKK_GENERIC_SECRET, 0, out, &n), CKR_KEY_TYPE_INCONSISTENT,
	             "CKM_GOSTR3410_DERIVE is for 256-bit keys");
	a.cls = CKO_PUBLIC_KEY;
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &a, qb, 128, ukm, 8,
	                        CKK_GENERIC_SECRET, 0, out, &n), CKR_KEY_TYPE_INCONSISTENT);
	{
		CK_MECHANISM m = mech(CKM_GOSTR3410_12_DERIVE, ukm, 8);

		a.cls = CKO_PRIVATE_KEY;
		cr_assert_eq(ls_mech_derive(&m, &a, CKK_GENERIC_SECRET, 0, out, 128, &n),
		             CKR_MECHANISM_PARAM_INVALID);
		m = mech(CKM_GOSTR3411_12_256, NULL, 0);
		cr_assert_eq(ls_mech_derive(&m, &a, CKK_GENERIC_SECRET, 0, out, 128, &n),
		             CKR_MECHANISM_INVALID);
	}
}

Test(derive, vko_256_bit_keys_and_cryptopro_diversification)
{
	struct pair a, b;
	uint8_t ukm[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, ka[128], kb[128], kc[128];
	size_t na, nb, nc;
	ls_mech_key big;

	gen_pair(LS_CURVE_TC26_256_A, &a, true);
	gen_pair(LS_CURVE_TC26_256_A, &b, false);
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &a.kpriv, b.pub, 64, ukm, 8,
	                        CKK_GOST28147, 0, ka, &na), CKR_OK);
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &b.kpriv, a.pub, 64, ukm, 8,
	                        CKK_GOST28147, 0, kb, &nb), CKR_OK);
	cr_assert_eq(na, 32);
	cr_assert_arr_eq(ka, kb, 32, "both parties agree");
	/* CKM_GOSTR3410_DERIVE on 256-bit keys computes the same VKO (see mech.c). */
	cr_assert_eq(derive_vko(CKM_GOSTR3410_DERIVE, CKD_NULL, &a.kpriv, b.pub, 64, ukm, 8,
	                        CKK_GOST28147, 0, kc, &nc), CKR_OK);
	cr_assert_arr_eq(kc, ka, 32);
	/* CKD_CPDIVERSIFY_KDF: both parties agree, and it is not the plain VKO. */
	cr_assert_eq(derive_vko(CKM_GOSTR3410_DERIVE, CKD_CPDIVERSIFY_KDF, &a.kpriv, b.pub, 64, ukm,
	                        8, CKK_GOST28147, 0, kb, &nb), CKR_OK);
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_CPDIVERSIFY_KDF, &b.kpriv, a.pub, 64,
	                        ukm, 8, CKK_GOST28147, 0, kc, &nc), CKR_OK);
	cr_assert_arr_eq(kb, kc, 32);
	cr_assert(memcmp(kb, ka, 32) != 0);
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_CPDIVERSIFY_KDF, &b.kpriv, a.pub, 64,
	                        ukm, 7, CKK_GOST28147, 0, kc, &nc), CKR_MECHANISM_PARAM_INVALID);
	cr_assert_eq(derive_vko(CKM_VKO_GOSTR3410_2012_512, CKD_NULL, &a.kpriv, b.pub, 64, ukm, 8,
	                        CKK_GENERIC_SECRET, 0, kc, &nc), CKR_KEY_TYPE_INCONSISTENT);
	/* The right type on a curve of the other size. */
	big = a.kpriv;
	big.gost = NULL;
	big.curve = LS_CURVE_TC26_512_A;
	cr_assert_eq(derive_vko(CKM_GOSTR3410_12_DERIVE, CKD_NULL, &big, b.pub, 64, ukm, 8,
	                        CKK_GOST28147, 0, kc, &nc), CKR_KEY_SIZE_RANGE);
	ls_gost_key_free(a.gost);
}

Test(derive, keg_rfc9189)
{
	static const struct {
		ls_curve curve;
		size_t n;
		const char *d, *qx, *qy, *expkeys;
	} v[] = {
		{ LS_CURVE_CP_A, 32,
		  "a5c77c7482373de16ce4a6f73cce7f78471493ff2c0709b8b706c9e8a25e6c1e",
		  "6531d4a72e655bfc9dfb94293b26070282fabf10d5c49b7366148c60e0bf8167",
		  "37f8cc71dc5d917fc4a66f7826e727508270b4ffc266c26cd4363e77b553a5b8",
		  "2d8ba8c84cb232ff41f10c3ad924134223254f71e5696d3d29c3e4c9daa6b293"
		  "849eb6340bffae6928a3c3e4ff92eccb1e8f0cf7a188368e6b748e52ea378b0c" },
		{ LS_CURVE_TC26_512_C, 64,
		  "150acd11b66dd695ad18418fa7a2dc636b7e29dca24536aabc826ee3175bb1fadc3aa0d01d3092e1"
		  "20b0fcf7eb872f4b7e26ea17849d689222a48cf95a6e4831",
		  "f14589da479ad972c66563669b3ff58092e6a30a288bf447cd9ff6c3133e97247a9706b267703c9b"
		  "4e239f0d7c7e3310c22d2752b35bd2e4fd39b8f11deb833a",
		  "f305e95b36502d4e60a1059fb20ab30bfc7c95727f3a2c04b1dfddb53b0413f299f2dfe66a5e1ccb"
		  "4101a7a01d612be6bd78e1e3b3d567ebb16abe587a11f4ea",
		  "7dac56e48a4dc170faa8fcbae20db845450cccc4c6328bdc8d01157cefa2a5f1"
		  "1f1cbad8866166f01ffaab0152e24bf4609d5f46a5c899c787900d08b9fcad24" },
	};
	TEST_HEX(rcrs, "933ea21ec3802a561550ec78d6ed51ac2439d7e749c31bc3a3456165889684ca"
	               "933ea21e49c31bc3a3456165889684caa5576ce7924a24f58113808dbd9ef856");
	uint8_t h[32], d[64], q[128], want[64], out[128];
	size_t i, n;

	/* UKM = H = Streebog-256(r_C | r_S), RFC 9189 8.3.1. */
	cr_assert_eq(ls_md(LS_MD_STREEBOG256, rcrs, rcrs_len, h, 32), LS_OK);
	for (i = 0; i < 2; i++) {
		size_t sz = v[i].n;
		ls_mech_key eph = { .cls = CKO_PRIVATE_KEY, .curve = v[i].curve, .value = d,
			            .value_len = sz,
			            .key_type = sz == 32 ? CKK_GOSTR3410 : CKK_GOSTR3410_512 };
		CK_VENDOR_GOST_KEG_PARAMS kp = { q, 2 * sz, h, 32 };
		CK_MECHANISM m = mech(CKM_GOST_KEG, &kp, sizeof(kp));

		le_from_hex(v[i].d, d, sz);
		le_from_hex(v[i].qx, q, sz);
		le_from_hex(v[i].qy, q + sz, sz);
		test_unhex(v[i].expkeys, want, 64);
		cr_assert_eq(ls_mech_derive(&m, &eph, CKK_KUZNYECHIK_TWIN_KEY, 0, out, sizeof(out),
		                            &n), CKR_OK);
		cr_assert_eq(n, 64);
		cr_assert_arr_eq(out, want, 64, "K_Exp_MAC | K_Exp_ENC, curve %d", v[i].curve);
		kp.ulUKMLen = 16;
		cr_assert_eq(ls_mech_derive(&m, &eph, CKK_KUZNYECHIK_TWIN_KEY, 0, out, sizeof(out),
		                            &n), CKR_MECHANISM_PARAM_INVALID);
		kp.ulUKMLen = 32;
		m.ulParameterLen = sizeof(CK_GOSTR3410_DERIVE_PARAMS);
		cr_assert_eq(ls_mech_derive(&m, &eph, CKK_KUZNYECHIK_TWIN_KEY, 0, out, sizeof(out),
		                            &n), CKR_MECHANISM_PARAM_INVALID);
	}
}

Test(derive, kdf_and_kdf_tree_rfc7836)
{
	TEST_HEX(k, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	TEST_HEX(label, "26bdb878");
	TEST_HEX(seed, "af21434145656378");
	TEST_HEX(kdf, "a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9");
	TEST_HEX(tree, "22b6837845c6bef65ea71672b265831086d3c76aebe6dae91cad51d83f79d16b074c9330599d7f"
	               "8d712fca54392f4ddde93751206b3584c8f43f9e6dc51531f9");
	CK_KDF_TREE_GOST_PARAMS tp = { label_len, label, seed_len, seed, 1, 512, 0 };
	CK_MECHANISM m = mech(CKM_KDF_TREE_GOSTR3411_2012_256, &tp, sizeof(tp));
	ls_mech_key base = skey(CKK_GENERIC_SECRET, k, 32);
	uint8_t out[128];
	size_t n;

	cr_assert_eq(ls_mech_derive(&m, &base, CKK_GENERIC_SECRET, 0, out, sizeof(out), &n), CKR_OK);
	cr_assert_eq(n, 64);
	cr_assert_arr_eq(out, tree, 64);
	cr_assert_eq(ls_mech_derive(&m, &base, CKK_MAGMA_TWIN_KEY, 0, out, sizeof(out), &n), CKR_OK);
	cr_assert_arr_eq(out, tree, 64);
	tp.ulOffset = 32;
	cr_assert_eq(ls_mech_derive(&m, &base, CKK_KUZNYECHIK, 0, out, sizeof(out), &n), CKR_OK);
	cr_assert_eq(n, 32);
	cr_assert_arr_eq(out, tree + 32, 32, "the key at the offset");
	cr_assert_eq(ls_mech_derive(&m, &base, CKK_KUZNYECHIK_TWIN_KEY, 0, out, sizeof(out), &n),
	             CKR_TEMPLATE_INCONSISTENT, "only 32 bytes after the offset");
	cr_assert_eq(ls_mech_derive(&m, &base, CKK_KUZNYECHIK, 0, out, 31, &n),
	             CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(n, 32);
	tp.ulOffset = 64;
	cr_assert_eq(ls_mech_derive(&m, &base, CKK_GENERIC_SECRET, 0, out, sizeof(out), &n),
	             CKR_MECHANISM_PARAM_INVALID);
	tp.ulOffset = 0;
	tp.ulR = 5;
	cr_assert_eq(ls_mech_derive(&m, &base, CKK_GENERIC_SECRET, 0, out, sizeof(out), &n),
	             CKR_MECHANISM_PARAM_INVALID);
	tp.ulR = 1;
	tp.ulL = 500;
	cr_assert_eq(ls_mech_derive(&m, &base, CKK_GENERIC_SECRET, 0, out, sizeof(out), &n),
	             CKR_MECHANISM_PARAM_INVALID);
	tp.ulL = 8 * 8192;
	cr_assert_eq(ls_mech_derive(&m, &base, CKK_GENERIC_SECRET, 0, out, sizeof(out), &n),
	             CKR_MECHANISM_PARAM_INVALID);
	/* A long output (beyond the stack buffer), keyed by its last bytes. */
	tp.ulL = 8 * 4000;
	tp.ulOffset = 4000 - 32;
	cr_assert_eq(ls_mech_derive(&m, &base, CKK_GOST28147, 0, out, sizeof(out), &n), CKR_OK);
	{
		static uint8_t all[4000];

		cr_assert_eq(ls_kdf_tree_gostr3411_2012_256(k, label, label_len, seed, seed_len, 1,
		                                            all, sizeof(all)), LS_OK);
		cr_assert_arr_eq(out, all + 4000 - 32, 32);
	}

	/* KDF_GOSTR3411_2012_256: the same structure, R = 1 and L = 256 (or left 0). */
	{
		CK_KDF_TREE_GOST_PARAMS kp = { label_len, label, seed_len, seed, 0, 0, 0 };
		CK_MECHANISM km = mech(CKM_KDF_GOSTR3411_2012_256, &kp, sizeof(kp));

		cr_assert_eq(ls_mech_derive(&km, &base, CKK_GENERIC_SECRET, 0, out, sizeof(out), &n),
		             CKR_OK);
		cr_assert_eq(n, 32);
		cr_assert_arr_eq(out, kdf, 32);
		kp.ulR = 1, kp.ulL = 256;
		cr_assert_eq(ls_mech_derive(&km, &base, CKK_KUZNYECHIK, 0, out, sizeof(out), &n),
		             CKR_OK);
		cr_assert_arr_eq(out, kdf, 32);
		kp.ulL = 512;
		cr_assert_eq(ls_mech_derive(&km, &base, CKK_KUZNYECHIK, 0, out, sizeof(out), &n),
		             CKR_MECHANISM_PARAM_INVALID);
		kp.ulL = 256;
		base.value_len = 16;
		cr_assert_eq(ls_mech_derive(&km, &base, CKK_KUZNYECHIK, 0, out, sizeof(out), &n),
		             CKR_KEY_SIZE_RANGE);
		base.value_len = 32;
		base.cls = CKO_PRIVATE_KEY;
		cr_assert_eq(ls_mech_derive(&km, &base, CKK_KUZNYECHIK, 0, out, sizeof(out), &n),
		             CKR_KEY_TYPE_INCONSISTENT);
		km.ulParameterLen = 0;
		base.cls = CKO_SECRET_KEY;
		cr_assert_eq(ls_mech_derive(&km, &base, CKK_KUZNYECHIK, 0, out, sizeof(out), &n),
		             CKR_MECHANISM_PARAM_INVALID);
	}
}

/* ---------------------------------------------------------------------------------------------
 * Key generation and helpers
 * ------------------------------------------------------------------------------------------- */

Test(keygen, secret_keys)
{
	static const struct {
		CK_MECHANISM_TYPE type;
		CK_KEY_TYPE kt;
	} v[] = {
		{ CKM_KUZNYECHIK_KEY_GEN, CKK_KUZNYECHIK },
		{ CKM_MAGMA_KEY_GEN, CKK_MAGMA },
		{ CKM_GOST28147_KEY_GEN, CKK_GOST28147 },
	};
	uint8_t a[600], b[600], one = 1;
	size_t na, nb, i;
	CK_KEY_TYPE kt;
	CK_MECHANISM m;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		m = mech(v[i].type, NULL, 0);
		kt = 0;
		cr_assert_eq(ls_mech_generate_key(&m, 0, &kt, a, sizeof(a), &na), CKR_OK);
		cr_assert_eq(kt, v[i].kt);
		cr_assert_eq(na, 32);
		cr_assert_eq(ls_mech_generate_key(&m, 32, &kt, b, sizeof(b), &nb), CKR_OK);
		cr_assert(memcmp(a, b, 32) != 0, "fresh randomness");
		cr_assert_eq(ls_mech_check_key_value(kt, na), CKR_OK);
		cr_assert_eq(ls_mech_generate_key(&m, 16, &kt, b, sizeof(b), &nb),
		             CKR_TEMPLATE_INCONSISTENT);
		cr_assert_eq(ls_mech_generate_key(&m, 0, &kt, b, 31, &nb), CKR_BUFFER_TOO_SMALL);
		m.pParameter = &one;
		m.ulParameterLen = 1;
		cr_assert_eq(ls_mech_generate_key(&m, 0, &kt, b, sizeof(b), &nb),
		             CKR_MECHANISM_PARAM_INVALID);
	}
	m = mech(CKM_GENERIC_SECRET_KEY_GEN, NULL, 0);
	cr_assert_eq(ls_mech_generate_key(&m, 0, &kt, a, sizeof(a), &na), CKR_TEMPLATE_INCOMPLETE);
	cr_assert_eq(ls_mech_generate_key(&m, 48, &kt, a, sizeof(a), &na), CKR_OK);
	cr_assert_eq(kt, CKK_GENERIC_SECRET);
	cr_assert_eq(na, 48);
	cr_assert_eq(ls_mech_generate_key(&m, 512, &kt, a, sizeof(a), &na), CKR_OK);
	cr_assert_eq(ls_mech_generate_key(&m, 513, &kt, a, sizeof(a), &na), CKR_KEY_SIZE_RANGE);
	m = mech(CKM_KUZNYECHIK_ECB, NULL, 0);
	cr_assert_eq(ls_mech_generate_key(&m, 0, &kt, a, sizeof(a), &na), CKR_MECHANISM_INVALID);
}

Test(helpers, key_values_oids_and_check_values)
{
	static const uint8_t cpa[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1f, 0x01 };
	static const uint8_t z[] = { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x05, 0x01, 0x01 };
	TEST_HEX(k, K_KUZ);
	ls_gost89_param p = 0;
	ls_mech_key key;
	uint8_t cv[3], ct[16], zero[16] = { 0 };
	ls_cipher_params cp = { .alg = LS_CIPHER_KUZNYECHIK, .mode = LS_MODE_ECB, .encrypt = true,
		                .key = k };

	cr_assert_eq(ls_mech_check_key_value(CKK_KUZNYECHIK, 32), CKR_OK);
	cr_assert_eq(ls_mech_check_key_value(CKK_MAGMA, 31), CKR_ATTRIBUTE_VALUE_INVALID);
	cr_assert_eq(ls_mech_check_key_value(CKK_MAGMA_TWIN_KEY, 64), CKR_OK);
	cr_assert_eq(ls_mech_check_key_value(CKK_GENERIC_SECRET, 0), CKR_ATTRIBUTE_VALUE_INVALID);
	cr_assert_eq(ls_mech_check_key_value(CKK_GOSTR3410_512, 128), CKR_OK);
	cr_assert_eq(ls_mech_check_key_value(CKK_AES, 32), CKR_ATTRIBUTE_VALUE_INVALID);
	cr_assert_eq(ls_mech_gost89_param_from_oid(cpa, sizeof(cpa), &p), CKR_OK);
	cr_assert_eq(p, LS_GOST89_PARAM_CPA);
	cr_assert_eq(ls_mech_gost89_param_from_oid(z, sizeof(z), &p), CKR_OK);
	cr_assert_eq(p, LS_GOST89_PARAM_Z);
	cr_assert_eq(ls_mech_gost89_param_from_oid(z, sizeof(z) - 1, &p),
	             CKR_ATTRIBUTE_VALUE_INVALID);
	/* The check value: the first 3 bytes of the encryption of a zero block. */
	key = skey(CKK_KUZNYECHIK, k, 32);
	cr_assert_eq(ls_mech_check_value(&key, cv), CKR_OK);
	cr_assert_eq(ls_cipher(&cp, zero, 16, ct), LS_OK);
	cr_assert_arr_eq(cv, ct, 3);
	/* Generic secrets: SHA-1 of the value (FIPS 180: SHA-1("abc") = a9993e36...). */
	key.key_type = CKK_GENERIC_SECRET;
	key.value = (const uint8_t *)"abc";
	key.value_len = 3;
	cr_assert_eq(ls_mech_check_value(&key, cv), CKR_OK);
	cr_assert_eq(cv[0], 0xa9);
	cr_assert_eq(cv[1], 0x99);
	cr_assert_eq(cv[2], 0x3e);
	key.key_type = CKK_GOSTR3410;
	cr_assert_eq(ls_mech_check_value(&key, cv), CKR_KEY_TYPE_INCONSISTENT);
	/* Building a GOST key from a bad value. */
	{
		ls_gost_key *g = NULL;
		uint8_t d[32] = { 0 };
		ls_mech_key gk = { .cls = CKO_PRIVATE_KEY, .key_type = CKK_GOSTR3410,
			           .curve = LS_CURVE_CP_A, .value = d, .value_len = 32 };

		cr_assert_eq(ls_mech_key_build_gost(&gk, &g), CKR_ATTRIBUTE_VALUE_INVALID, "d = 0");
		d[0] = 7;
		cr_assert_eq(ls_mech_key_build_gost(&gk, &g), CKR_OK);
		cr_assert(ls_gost_key_has_private(g));
		ls_gost_key_free(g);
		g = NULL;
		gk.key_type = CKK_GOSTR3410_512;
		cr_assert_eq(ls_mech_key_build_gost(&gk, &g), CKR_ATTRIBUTE_VALUE_INVALID);
		cr_assert_null(g);
	}
}
