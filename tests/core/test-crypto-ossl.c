/*
 * Known answers for core/crypto-ossl.c: Streebog, GOST R 34.11-94, HMAC, PBKDF2, KDF_256,
 * KDF_TREE; randomness; and the backend hammered from several threads.
 * Vectors: shared/reference/gost-vectors.txt sections 1-4 (RFC 6986, RFC 7836, R 50.1.111-2016).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "crypto.h"
#include "test-util.h"

static const char M1[] = "012345678901234567890123456789012345678901234567890123456789012";

Test(streebog, rfc6986_m1)
{
	uint8_t out[64];
	TEST_HEX(h512, "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa00ad30f8767b3a"
	               "82384c6574f024c311e2a481332b08ef7f41797891c1646f48");
	TEST_HEX(h256, "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500");

	cr_assert_eq(ls_md(LS_MD_STREEBOG512, M1, 63, out, sizeof(out)), LS_OK);
	cr_assert_arr_eq(out, h512, 64);
	cr_assert_eq(ls_md(LS_MD_STREEBOG256, M1, 63, out, sizeof(out)), LS_OK);
	cr_assert_arr_eq(out, h256, 32);
}

Test(streebog, rfc6986_m2_streaming)
{
	TEST_HEX(m2, "d1e520e2e5f2f0e82c20d1f2f0e8e1eee6e820e2edf3f6e82c20e2e5fef2fa20f120eceef0ff20f1"
	             "f2f0e5ebe0ece820ede020f5f0e0e1f0fbff20efebfaeafb20c8e3eef0e5e2fb");
	TEST_HEX(h512, "1e88e62226bfca6f9994f1f2d51569e0daf8475a3b0fe61a5300eee46d961376035fe83549ada2"
	               "b8620fcd7c496ce5b33f0cb9dddc2b6460143b03dabac9fb28");
	TEST_HEX(h256, "9dd2fe4e90409e5da87f53976d7405b0c0cac628fc669a741d50063c557e8f50");
	ls_md_ctx *ctx = NULL, *copy = NULL;
	uint8_t out[64];
	size_t i;

	cr_assert_eq(ls_md_new(LS_MD_STREEBOG512, &ctx), LS_OK);
	for (i = 0; i < m2_len; i += 7)
		cr_assert_eq(ls_md_update(ctx, m2 + i, m2_len - i < 7 ? m2_len - i : 7), LS_OK);
	cr_assert_eq(ls_md_dup(ctx, &copy), LS_OK);
	cr_assert_eq(ls_md_final(ctx, out, sizeof(out)), LS_OK);
	cr_assert_arr_eq(out, h512, 64);
	memset(out, 0, sizeof(out));
	cr_assert_eq(ls_md_final(copy, out, sizeof(out)), LS_OK, "a duplicated context finishes the same");
	cr_assert_arr_eq(out, h512, 64);
	cr_assert_eq(ls_md_reset(ctx), LS_OK);
	cr_assert_eq(ls_md_update(ctx, m2, m2_len), LS_OK);
	cr_assert_eq(ls_md_final(ctx, out, 63), LS_ERR_BAD_LENGTH, "a short output buffer is refused");
	ls_md_free(ctx);
	ls_md_free(copy);

	cr_assert_eq(ls_md(LS_MD_STREEBOG256, m2, m2_len, out, 32), LS_OK);
	cr_assert_arr_eq(out, h256, 32);
}

Test(streebog, empty_and_zero_block)
{
	TEST_HEX(e512, "8e945da209aa869f0455928529bcae4679e9873ab707b55315f56ceb98bef0a7362f715528356e"
	               "e83cda5f2aac4c6ad2ba3a715c1bcd81cb8e9f90bf4c1c1a8a");
	TEST_HEX(e256, "3f539a213e97c802cc229d474c6aa32a825a360b2a933a949fd925208d9ce1bb");
	TEST_HEX(z512, "b0fd29ac1b0df441769ff3fdb8dc564df67721d6ac06fb28ceffb7bbaa7948c6c014ac999235b5"
	               "8cb26fb60fb112a145d7b4ade9ae566bf2611402c552d20db7");
	TEST_HEX(z256, "df1fda9ce83191390537358031db2ecaa6aa54cd0eda241dc107105e13636b95");
	uint8_t zero[64] = { 0 }, out[64];

	cr_assert_eq(ls_md(LS_MD_STREEBOG512, NULL, 0, out, 64), LS_OK);
	cr_assert_arr_eq(out, e512, 64);
	cr_assert_eq(ls_md(LS_MD_STREEBOG256, NULL, 0, out, 64), LS_OK);
	cr_assert_arr_eq(out, e256, 32);
	cr_assert_eq(ls_md(LS_MD_STREEBOG512, zero, 64, out, 64), LS_OK);
	cr_assert_arr_eq(out, z512, 64);
	cr_assert_eq(ls_md(LS_MD_STREEBOG256, zero, 64, out, 64), LS_OK);
	cr_assert_arr_eq(out, z256, 32);
}

Test(gost94, cryptopro_paramset)
{
	/*
	 * GOST R 34.11-94 with the CryptoPro parameter set: the value published for the message
	 * "message digest" (RFC 4357 era test data, also in gost-engine's test suite).
	 */
	TEST_HEX(h, "bc6041dd2aa401ebfa6e9886734174febdb4729aa972d60f549ac39b29721ba0");
	uint8_t out[32];

	cr_assert_eq(ls_md_size(LS_MD_GOST94), 32);
	cr_assert_eq(ls_md(LS_MD_GOST94, "message digest", 14, out, 32), LS_OK);
	cr_assert_arr_eq(out, h, 32);
}

Test(sha1, fips180_examples)
{
	/* Only for PKCS#11 check values; FIPS 180-4 examples "abc" and the empty string. */
	TEST_HEX(abc, "a9993e364706816aba3e25717850c26c9cd0d89d");
	TEST_HEX(empty, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	uint8_t out[20];

	cr_assert_eq(ls_md_size(LS_MD_SHA1), 20);
	cr_assert_eq(ls_md(LS_MD_SHA1, "abc", 3, out, sizeof(out)), LS_OK);
	cr_assert_arr_eq(out, abc, 20);
	cr_assert_eq(ls_md(LS_MD_SHA1, NULL, 0, out, sizeof(out)), LS_OK);
	cr_assert_arr_eq(out, empty, 20);
}

Test(hmac, rfc7836_b)
{
	TEST_HEX(k, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	TEST_HEX(t, "0126bdb87800af214341456563780100");
	TEST_HEX(h256, "a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9");
	TEST_HEX(h512, "a59bab22ecae19c65fbde6e5f4e9f5d8549d31f037f9df9b905500e171923a773d5f1530f2ed7e"
	               "964cb2eedc29e9ad2f3afe93b2814f79f5000ffc0366c251e6");
	ls_hmac_ctx *h = NULL;
	uint8_t out[64];

	cr_assert_eq(ls_hmac(LS_MD_STREEBOG256, k, k_len, t, t_len, out, 32), LS_OK);
	cr_assert_arr_eq(out, h256, 32);
	cr_assert_eq(ls_hmac_new(LS_MD_STREEBOG512, k, k_len, &h), LS_OK);
	cr_assert_eq(ls_hmac_update(h, t, 5), LS_OK);
	cr_assert_eq(ls_hmac_update(h, t + 5, t_len - 5), LS_OK);
	cr_assert_eq(ls_hmac_final(h, out, 64), LS_OK);
	cr_assert_arr_eq(out, h512, 64);
	ls_hmac_free(h);
	cr_assert_eq(ls_hmac(LS_MD_STREEBOG512, k, k_len, t, t_len, out, 32), LS_ERR_BAD_LENGTH);
}

Test(pbkdf2, r50_1_111)
{
	TEST_HEX(c1, "64770af7f748c3b1c9ac831dbcfd85c26111b30a8a657ddc3056b80ca73e040d2854fd36811f6d82"
	             "5cc4ab66ec0a68a490a9e5cf5156b3a2b7eecddbf9a16b47");
	TEST_HEX(c2, "5a585bafdfbb6e8830d6d68aa3b43ac00d2e4aebce01c9b31c2caed56f0236d4d34b2b8fbd2c4e89"
	             "d54d46f50e47d45bbac301571743119e8d3c42ba66d348de");
	TEST_HEX(c4096, "e52deb9a2d2aaff4e2ac9d47a41f34c20376591c67807f0477e32549dc341bc7867c09841b6d58"
	                "e29d0347c996301d55df0d34e47cf68f4e3c2cdaf1d9ab86c3");
	TEST_HEX(long100, "b2d8f1245fc4d29274802057e4b54e0a0753aa22fc53760b301cf008679e58fe4bee9addcae99b"
	                  "a2b0b20f431a9c5e50f395c89387d0945aedeca6eb4015dfc2bd2421ee9bb71183ba882ceebfef25"
	                  "9f33f9e27dc6178cb89dc37428cf9cc52a2baa2d3a");
	uint8_t out[100];

	cr_assert_eq(ls_pbkdf2_streebog512("password", 8, (const uint8_t *)"salt", 4, 1, out, 64), LS_OK);
	cr_assert_arr_eq(out, c1, 64);
	cr_assert_eq(ls_pbkdf2_streebog512("password", 8, (const uint8_t *)"salt", 4, 2, out, 64), LS_OK);
	cr_assert_arr_eq(out, c2, 64);
	cr_assert_eq(ls_pbkdf2_streebog512("password", 8, (const uint8_t *)"salt", 4, 4096, out, 64),
	             LS_OK);
	cr_assert_arr_eq(out, c4096, 64);
	cr_assert_eq(ls_pbkdf2_streebog512("passwordPASSWORDpassword", 24,
	                                   (const uint8_t *)"saltSALTsaltSALTsaltSALTsaltSALTsalt", 36,
	                                   4096, out, 100),
	             LS_OK);
	cr_assert_arr_eq(out, long100, 100);
	cr_assert_eq(ls_pbkdf2_streebog512("p", 1, (const uint8_t *)"s", 1, 0, out, 64),
	             LS_ERR_INVALID_ARG, "zero iterations are refused");
	cr_assert_eq(ls_pbkdf2_streebog512("p", 1, (const uint8_t *)"s", 1, 1, out, 0),
	             LS_ERR_BAD_LENGTH);
}

Test(pbkdf2, sespake_input)
{
	TEST_HEX(salt, "2923be84e16cd6ae529049f1f1bbe9eb");
	TEST_HEX(want, "bd04673f7149b18e98155bd1e2724e71d0099aa25174f792d3326c6f181270671c6213e3930efd"
	               "da26451792c6208122ee60d200520d695dfd9f5f0fd5aba702");
	uint8_t out[64];

	cr_assert_eq(ls_pbkdf2_streebog512("123456", 6, salt, salt_len, 2000, out, 64), LS_OK);
	cr_assert_arr_eq(out, want, 64);
}

Test(kdf, kdf_256_rfc7836)
{
	TEST_HEX(k, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	TEST_HEX(label, "26bdb878");
	TEST_HEX(seed, "af21434145656378");
	TEST_HEX(want, "a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9");
	uint8_t out[32];

	cr_assert_eq(ls_kdf_gostr3411_2012_256(k, label, label_len, seed, seed_len, out), LS_OK);
	cr_assert_arr_eq(out, want, 32);
}

Test(kdf, kdf_tree_rfc7836)
{
	TEST_HEX(k, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	TEST_HEX(label, "26bdb878");
	TEST_HEX(seed, "af21434145656378");
	TEST_HEX(want, "22b6837845c6bef65ea71672b265831086d3c76aebe6dae91cad51d83f79d16b074c9330599d7f"
	               "8d712fca54392f4ddde93751206b3584c8f43f9e6dc51531f9");
	uint8_t out[64];

	cr_assert_eq(ls_kdf_tree_gostr3411_2012_256(k, label, label_len, seed, seed_len, 1, out, 64),
	             LS_OK);
	cr_assert_arr_eq(out, want, 64);
	cr_assert_eq(ls_kdf_tree_gostr3411_2012_256(k, label, label_len, seed, seed_len, 0, out, 64),
	             LS_ERR_INVALID_ARG, "R must be 1..4");
	cr_assert_eq(ls_kdf_tree_gostr3411_2012_256(k, label, label_len, seed, seed_len, 1, out, 0),
	             LS_ERR_BAD_LENGTH);
}

Test(random, bytes_differ_and_seed_mixes)
{
	uint8_t a[32], b[32], zero[32] = { 0 };

	cr_assert_eq(ls_random_bytes(a, sizeof(a)), LS_OK);
	cr_assert_eq(ls_random_seed("caller entropy", 14), LS_OK);
	cr_assert_eq(ls_random_bytes(b, sizeof(b)), LS_OK);
	cr_assert(memcmp(a, b, 32) != 0);
	cr_assert(memcmp(a, zero, 32) != 0);
	cr_assert_eq(ls_random_seed(a, 5000), LS_ERR_BAD_LENGTH);
}

Test(secrets, wipe_and_ct_equal)
{
	uint8_t a[16], b[16];

	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	cr_assert(ls_ct_equal(a, b, 16));
	b[15] ^= 1;
	cr_assert_not(ls_ct_equal(a, b, 16));
	ls_wipe(a, sizeof(a));
	for (size_t i = 0; i < sizeof(a); i++)
		cr_assert_eq(a[i], 0);
	ls_wipe(NULL, 10);
}

Test(errors, strerror_total)
{
	for (int e = 0; e >= -40; e--)
		cr_assert_not_null(ls_strerror(e));
	cr_assert_str_eq(ls_strerror(LS_OK), "success");
	cr_assert_str_eq(ls_strerror(12345), "unknown error");
}

/* Many threads hashing, MACing and deriving at once must all get the known answers. */
static void *
hammer(void *arg)
{
	TEST_HEX(h256, "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500");
	TEST_HEX(k, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	TEST_HEX(label, "26bdb878");
	TEST_HEX(seed, "af21434145656378");
	TEST_HEX(kdf, "a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9");
	uint8_t out[64];
	long bad = 0;

	(void)arg;
	for (int i = 0; i < 300; i++) {
		if (ls_md(LS_MD_STREEBOG256, M1, 63, out, 64) != LS_OK || memcmp(out, h256, 32) != 0)
			bad++;
		if (ls_kdf_gostr3411_2012_256(k, label, label_len, seed, seed_len, out) != LS_OK ||
		    memcmp(out, kdf, 32) != 0)
			bad++;
		if (ls_random_bytes(out, 64) != LS_OK)
			bad++;
	}
	return (void *)bad;
}

Test(threads, hammer_hash_kdf_random)
{
	pthread_t th[8];
	void *ret;

	/* No ls_crypto_init() first: the threads race the initialisation too. */
	for (int i = 0; i < 8; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(pthread_join(th[i], &ret), 0);
		cr_assert_eq((long)ret, 0, "thread %d saw %ld wrong results", i, (long)ret);
	}
}

/*
 * The backend lives inside other programs (browsers, anything using OpenSSL): after it starts,
 * the process's own OpenSSL must look as before.  This test alone reaches into OpenSSL to see.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

Test(host, openssl_defaults_untouched)
{
	EVP_MD *md;

	cr_assert_eq(ls_crypto_init(), LS_OK);
	/* No engine became the default implementation of any GOST digest or cipher. */
	cr_assert_null(ENGINE_get_digest_engine(NID_id_GostR3411_2012_256));
	cr_assert_null(ENGINE_get_digest_engine(NID_id_GostR3411_2012_512));
	cr_assert_null(ENGINE_get_cipher_engine(NID_kuznyechik_ctr));
	cr_assert_null(ENGINE_get_cipher_engine(NID_id_Gost28147_89));
	/* Nor of anything else. */
	cr_assert_null(ENGINE_get_default_RSA());
	cr_assert_null(ENGINE_get_default_EC());
	cr_assert_null(ENGINE_get_digest_engine(NID_sha256));
	/* The default library context did not get the GOST provider. */
	cr_assert_not(OSSL_PROVIDER_available(NULL, "gostprov"));
	md = EVP_MD_fetch(NULL, "md_gost12_256", NULL);
	cr_assert_null(md, "the host's default context must not see our provider");
	EVP_MD_free(md);
	ERR_clear_error();
}
