/*
 * ls11cloud-selfcheck - the crypto core explains itself.
 *
 * Runs every GOST primitive on its published known answer and prints the result, then a
 * SESPAKE exchange between a client that knows a password and a server that holds only the
 * verifier, then a secure-channel round trip in both directions keyed by the agreed key.
 * Exit status 0 when everything matched, 1 otherwise.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "channel.h"
#include "crypto.h"
#include "log.h"
#include "sespake.h"

static int failures;
static int quiet;

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (hex[0] && hex[1] && n < cap) {
		unsigned v;

		if (sscanf(hex, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

static void
print_hex(const uint8_t *p, size_t n)
{
	size_t i, shown = n > 16 ? 16 : n;

	for (i = 0; i < shown; i++)
		printf("%02x", p[i]);
	if (shown < n)
		printf("...");
}

static void
report(const char *name, int rc, const uint8_t *got, size_t got_len, const char *want_hex)
{
	uint8_t want[256];
	size_t want_len = want_hex ? unhex(want_hex, want, sizeof(want)) : 0;
	int ok = rc == LS_OK && (want_hex == NULL || (want_len == got_len &&
	                                              memcmp(want, got, got_len) == 0));

	if (!ok)
		failures++;
	if (quiet && ok)
		return;
	printf("  %-54s %s", name, ok ? "ok  " : "FAIL");
	if (rc != LS_OK)
		printf("  (%s)", ls_strerror(rc));
	else if (got_len > 0) {
		printf("  ");
		print_hex(got, got_len);
	}
	printf("\n");
}

static const char KEY32[] = "8899aabbccddeeff0011223344556677fedcba98765432100123456789abcdef";
static const char MAGMA_KEY[] = "ffeeddccbbaa99887766554433221100f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

static void
check_hashes(void)
{
	static const char m1[] = "012345678901234567890123456789012345678901234567890123456789012";
	uint8_t out[64], k[32], t[16], label[4], seed[8];

	printf("GOST R 34.11-2012 Streebog (RFC 6986), HMAC and KDFs (RFC 7836), PBKDF2 (R 50.1.111)\n");
	report("Streebog-256(M1)", ls_md(LS_MD_STREEBOG256, m1, 63, out, 64), out, 32,
	       "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500");
	report("Streebog-512(M1)", ls_md(LS_MD_STREEBOG512, m1, 63, out, 64), out, 64,
	       "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa00ad30f8767b3a82384c"
	       "6574f024c311e2a481332b08ef7f41797891c1646f48");
	unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", k, 32);
	unhex("0126bdb87800af214341456563780100", t, 16);
	report("HMAC-Streebog-256", ls_hmac(LS_MD_STREEBOG256, k, 32, t, 16, out, 64), out, 32,
	       "a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9");
	report("HMAC-Streebog-512", ls_hmac(LS_MD_STREEBOG512, k, 32, t, 16, out, 64), out, 64,
	       "a59bab22ecae19c65fbde6e5f4e9f5d8549d31f037f9df9b905500e171923a773d5f1530f2ed7e964cb2"
	       "eedc29e9ad2f3afe93b2814f79f5000ffc0366c251e6");
	unhex("26bdb878", label, 4);
	unhex("af21434145656378", seed, 8);
	report("KDF_TREE_GOSTR3411_2012_256 (L=512)",
	       ls_kdf_tree_gostr3411_2012_256(k, label, 4, seed, 8, 1, out, 64), out, 64,
	       "22b6837845c6bef65ea71672b265831086d3c76aebe6dae91cad51d83f79d16b074c9330599d7f8d712f"
	       "ca54392f4ddde93751206b3584c8f43f9e6dc51531f9");
	report("PBKDF2-HMAC-Streebog-512 (c=4096)",
	       ls_pbkdf2_streebog512("password", 8, (const uint8_t *)"salt", 4, 4096, out, 64), out,
	       64,
	       "e52deb9a2d2aaff4e2ac9d47a41f34c20376591c67807f0477e32549dc341bc7867c09841b6d58e29d03"
	       "47c996301d55df0d34e47cf68f4e3c2cdaf1d9ab86c3");
}

static void
check_ciphers(void)
{
	uint8_t key[32], mkey[32], pt[64], out[128], tag[16], iv[8];
	ls_cipher_params p = { 0 };

	printf("GOST R 34.12-2015 Kuznyechik and Magma, GOST R 34.13-2015 modes, MGM (RFC 9058)\n");
	unhex(KEY32, key, 32);
	unhex(MAGMA_KEY, mkey, 32);
	unhex("1122334455667700ffeeddccbbaa998800112233445566778899aabbcceeff0a112233445566778899aabb"
	      "cceeff0a002233445566778899aabbcceeff0a0011", pt, 64);
	p.alg = LS_CIPHER_KUZNYECHIK;
	p.mode = LS_MODE_ECB;
	p.encrypt = true;
	p.key = key;
	report("Kuznyechik-ECB (34.13 A.1.1)", ls_cipher(&p, pt, 64, out), out, 64,
	       "7f679d90bebc24305a468d42b9d4edcdb429912c6e0032f9285452d76718d08bf0ca33549d247ceef3f5"
	       "a5313bd4b157d0b09ccde830b9eb3a02c4c5aa8ada98");
	unhex("1234567890abcef0", iv, 8);
	p.mode = LS_MODE_CTR;
	p.iv = iv;
	p.iv_len = 8;
	report("Kuznyechik-CTR (34.13 A.1.2)", ls_cipher(&p, pt, 64, out), out, 64,
	       "f195d8bec10ed1dbd57b5fa240bda1b885eee733f6a13e5df33ce4b33c45dee4a5eae88be6356ed3d5e8"
	       "77f13564a3a5cb91fab1f20cbab6d1c6d15820bdba73");
	report("Kuznyechik-OMAC (34.13 A.1.6)",
	       ls_mac(LS_CIPHER_KUZNYECHIK, 0, key, pt, 64, tag, 16), tag, 16,
	       "336f4d296059fbe34ddeb35b37749c67");

	unhex("92def06b3c130a59db54c704f8189d204a98fb2e67a8024c8912409b17b57e41", pt, 32);
	memset(&p, 0, sizeof(p));
	p.alg = LS_CIPHER_MAGMA;
	p.mode = LS_MODE_ECB;
	p.encrypt = true;
	p.key = mkey;
	report("Magma-ECB (34.13 A.2.1)", ls_cipher(&p, pt, 32, out), out, 32,
	       "2b073f0494f372a0de70e715d3556e4811d8d9e9eacfbc1e7c68260996c67efb");
	report("Magma-OMAC (34.13 A.2.6)", ls_mac(LS_CIPHER_MAGMA, 0, mkey, pt, 32, tag, 8), tag, 8,
	       "154e72102030c5bb");

	{
		uint8_t nonce[16], aad[41], mpt[67], ct[67];

		unhex("1122334455667700ffeeddccbbaa9988", nonce, 16);
		unhex("0202020202020202010101010101010104040404040404040303030303030303ea050505050505"
		      "0505", aad, 41);
		unhex("1122334455667700ffeeddccbbaa998800112233445566778899aabbcceeff0a1122334455667788"
		      "99aabbcceeff0a002233445566778899aabbcceeff0a0011aabbcc", mpt, 67);
		report("Kuznyechik-MGM tag (RFC 9058 A.1)",
		       ls_mgm_encrypt(LS_CIPHER_KUZNYECHIK, key, nonce, 16, aad, 41, mpt, 67, ct, tag,
		                      16),
		       tag, 16, "cf5d656f40c34f5c46e8bb0e29fcdb4c");
		ct[0] ^= 1;
		{
			int rc = ls_mgm_decrypt(LS_CIPHER_KUZNYECHIK, key, nonce, 16, aad, 41, ct, 67,
			                        tag, 16, mpt);

			report("Kuznyechik-MGM refuses a tampered text",
			       rc == LS_ERR_VERIFY_FAILED ? LS_OK : LS_ERR_INTERNAL, NULL, 0, NULL);
		}
	}
}

static void
check_signatures(void)
{
	/* RFC 7091 7.1: the published signature on the 256-bit test curve. */
	uint8_t d[32], q[64], digest[32], sig[64];
	ls_gost_key *key = NULL, *pub = NULL;
	int rc;

	printf("GOST R 34.10-2012 (RFC 7091 7.1) and a fresh key on every parameter set\n");
	unhex("7a929ade789bb9be10ed359dd39a72c11b60961f49397eee1d19ce9891ec3b28", d, 32);
	for (int i = 0; i < 16; i++) {
		uint8_t t = d[i];
		d[i] = d[31 - i];
		d[31 - i] = t;
	}
	rc = ls_gost_key_from_private(LS_CURVE_TEST_256, d, 32, &key);
	if (rc == LS_OK)
		rc = ls_gost_key_public(key, q, 64);
	/* Q as LE(x) || LE(y): the SPKI of the example carries exactly these 64 bytes. */
	report("public key from the private key", rc, q, 64,
	       "0bd86fe5d8db89668f789b4e1dba8585c5508b45ec5b59d8906ddb70e2492b7fda77ff871a10fbdf2766"
	       "d293c5d164afbb3c7b973a41c885d11d70d689b4f126");
	unhex("e53e042b67e6ec678e2e02b12a0352ce1fc6eee0529cc088119ad872b3c1fb2d", digest, 32);
	unhex("01456c64ba4642a1653c235a98a60249bcd6d3f746b631df928014f6c5bf9c4041aa28d2f1ab148280cd"
	      "9ed56feda41974053554a42767b83ad043fd39dc0493", sig, 64);
	if (rc == LS_OK)
		rc = ls_gost_key_from_public(LS_CURVE_TEST_256, q, 64, &pub);
	report("the published signature verifies",
	       rc == LS_OK ? ls_gost_verify_digest(pub, digest, 32, sig, 64) : rc, NULL, 0, NULL);
	ls_gost_key_free(key);
	ls_gost_key_free(pub);

	static const ls_curve curves[] = { LS_CURVE_TC26_256_A, LS_CURVE_CP_A, LS_CURVE_CP_B,
		                           LS_CURVE_CP_C, LS_CURVE_TC26_512_A, LS_CURVE_TC26_512_B,
		                           LS_CURVE_TC26_512_C };
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		size_t n = ls_curve_size(curves[i]);
		uint8_t dg[64], s[128];
		char name[64];

		key = NULL;
		rc = ls_md(n == 32 ? LS_MD_STREEBOG256 : LS_MD_STREEBOG512, "selfcheck", 9, dg, 64);
		if (rc == LS_OK)
			rc = ls_gost_key_generate(curves[i], &key);
		if (rc == LS_OK)
			rc = ls_gost_sign_digest(key, dg, n, s, 2 * n);
		if (rc == LS_OK)
			rc = ls_gost_verify_digest(key, dg, n, s, 2 * n);
		if (rc == LS_OK) {
			s[5] ^= 1;
			rc = ls_gost_verify_digest(key, dg, n, s, 2 * n) == LS_ERR_VERIFY_FAILED
			             ? LS_OK
			             : LS_ERR_INTERNAL;
		}
		snprintf(name, sizeof(name), "generate, sign, verify, reject: %s",
		         ls_curve_name(curves[i]));
		report(name, rc, NULL, 0, NULL);
		ls_gost_key_free(key);
	}
}

/* The RFC 8133 example (CP-A) with α and β left random: the MACs differ, the keys agree. */
static int
run_sespake(uint8_t k_client[32], uint8_t k_server[32])
{
	static const char password[] = "correct horse battery staple";
	ls_sespake_verifier verifier;
	ls_sespake_ctx *a = NULL, *b = NULL;
	uint8_t u1[LS_SESPAKE_MAX_POINT], u2[LS_SESPAKE_MAX_POINT], mac_a[32], mac_b[32];
	size_t u1_len, u2_len;
	int rc;

	printf("SESPAKE (RFC 8133) on tc26-256-A: the server holds only a verifier\n");
	rc = ls_sespake_verifier_make(LS_CURVE_TC26_256_A, 1, NULL, 32, password,
	                              sizeof(password) - 1, &verifier);
	report("client computes the verifier (curve, ind, salt, Q_PW)", rc, verifier.q_pw, 64, NULL);
	if (rc != LS_OK)
		return rc;
	if ((rc = ls_sespake_client_new(verifier.curve, verifier.ind, verifier.salt,
	                                verifier.salt_len, password, sizeof(password) - 1, NULL, 0,
	                                NULL, 0, &a)) != LS_OK ||
	    (rc = ls_sespake_server_new(&verifier, NULL, 0, NULL, 0, &b)) != LS_OK)
		goto out;
	rc = ls_sespake_client_start(a, u1, sizeof(u1), &u1_len);
	report("A -> B  u1 = alpha*P - Q_PW", rc, u1, u1_len, NULL);
	if (rc != LS_OK)
		goto out;
	rc = ls_sespake_server_respond(b, u1, u1_len, u2, sizeof(u2), &u2_len);
	report("B -> A  u2 = beta*P + Q_PW", rc, u2, u2_len, NULL);
	if (rc != LS_OK)
		goto out;
	rc = ls_sespake_client_finish(a, u2, u2_len, NULL, 0, mac_a);
	report("A -> B  MAC_A", rc, mac_a, 32, NULL);
	if (rc != LS_OK)
		goto out;
	rc = ls_sespake_server_confirm(b, NULL, 0, mac_a, 32, NULL, 0, mac_b);
	report("B checks MAC_A, B -> A  MAC_B", rc, mac_b, 32, NULL);
	if (rc != LS_OK)
		goto out;
	rc = ls_sespake_client_confirm(a, NULL, 0, mac_b, 32);
	report("A checks MAC_B", rc, NULL, 0, NULL);
	if (rc == LS_OK && (rc = ls_sespake_key(a, k_client)) == LS_OK)
		rc = ls_sespake_key(b, k_server);
	if (rc == LS_OK && !ls_ct_equal(k_client, k_server, 32))
		rc = LS_ERR_AUTH_FAILED;
	report("both sides hold the same key K", rc, NULL, 0, NULL);
	ls_sespake_free(a);
	ls_sespake_free(b);
	a = b = NULL;

	/* And a wrong password is refused by the server, which learns nothing more. */
	if ((rc = ls_sespake_client_new(verifier.curve, verifier.ind, verifier.salt,
	                                verifier.salt_len, "wrong password", 14, NULL, 0, NULL, 0,
	                                &a)) != LS_OK ||
	    (rc = ls_sespake_server_new(&verifier, NULL, 0, NULL, 0, &b)) != LS_OK ||
	    (rc = ls_sespake_client_start(a, u1, sizeof(u1), &u1_len)) != LS_OK ||
	    (rc = ls_sespake_server_respond(b, u1, u1_len, u2, sizeof(u2), &u2_len)) != LS_OK ||
	    (rc = ls_sespake_client_finish(a, u2, u2_len, NULL, 0, mac_a)) != LS_OK)
		goto out;
	rc = ls_sespake_server_confirm(b, NULL, 0, mac_a, 32, NULL, 0, mac_b);
	report("a wrong password is refused by the server",
	       rc == LS_ERR_AUTH_FAILED ? LS_OK : LS_ERR_INTERNAL, NULL, 0, NULL);
	rc = LS_OK;
out:
	ls_wipe(&verifier, sizeof(verifier));
	ls_sespake_free(a);
	ls_sespake_free(b);
	return rc;
}

static void
run_channel(const uint8_t k_client[32], const uint8_t k_server[32])
{
	static const char hello[] = "C_GetSlotList please";
	static const char reply[] = "slot 0: LS11CLOUD";
	uint8_t cn[16], sn[16];
	ls_channel *client = NULL, *server = NULL;
	ls_buf *rec = NULL, *pt = NULL;
	ls_record_type type = 0;
	int rc;

	printf("Secure channel: KDF_TREE keys per direction, Kuznyechik-CTR + OMAC records\n");
	if ((rc = ls_random_bytes(cn, 16)) != LS_OK || (rc = ls_random_bytes(sn, 16)) != LS_OK)
		goto out;
	if ((rc = ls_channel_new(LS_CHANNEL_CLIENT, k_client, cn, 16, sn, 16, &client)) != LS_OK ||
	    (rc = ls_channel_new(LS_CHANNEL_SERVER, k_server, cn, 16, sn, 16, &server)) != LS_OK ||
	    (rc = ls_buf_new(LS_CHANNEL_MAX_RECORD, &rec)) != LS_OK ||
	    (rc = ls_buf_new(LS_CHANNEL_MAX_RECORD, &pt)) != LS_OK)
		goto out;
	rc = ls_channel_seal(client, LS_RECORD_DATA, (const uint8_t *)hello, sizeof(hello) - 1, rec);
	report("client seals a record", rc, ls_buf_data(rec), ls_buf_len(rec), NULL);
	if (rc != LS_OK)
		goto out;
	rc = ls_channel_open(server, ls_buf_data(rec), ls_buf_len(rec), pt, &type);
	if (rc == LS_OK && (ls_buf_len(pt) != sizeof(hello) - 1 ||
	                    memcmp(ls_buf_data(pt), hello, sizeof(hello) - 1) != 0))
		rc = LS_ERR_INTERNAL;
	report("server opens it: same text", rc, NULL, 0, NULL);
	if (rc != LS_OK)
		goto out;
	ls_buf_reset(rec);
	ls_buf_reset(pt);
	rc = ls_channel_seal(server, LS_RECORD_DATA, (const uint8_t *)reply, sizeof(reply) - 1, rec);
	if (rc == LS_OK)
		rc = ls_channel_open(client, ls_buf_data(rec), ls_buf_len(rec), pt, &type);
	if (rc == LS_OK && (ls_buf_len(pt) != sizeof(reply) - 1 ||
	                    memcmp(ls_buf_data(pt), reply, sizeof(reply) - 1) != 0))
		rc = LS_ERR_INTERNAL;
	report("server -> client round trip", rc, NULL, 0, NULL);
	if (rc != LS_OK)
		goto out;
	/* Replaying the server's record to the client must end the channel. */
	ls_buf_reset(pt);
	rc = ls_channel_open(client, ls_buf_data(rec), ls_buf_len(rec), pt, &type);
	report("a replayed record is refused", rc == LS_ERR_RECORD_AUTH ? LS_OK : LS_ERR_INTERNAL,
	       NULL, 0, NULL);
	rc = LS_OK;
out:
	if (rc != LS_OK)
		report("channel", rc, NULL, 0, NULL);
	ls_buf_free(rec);
	ls_buf_free(pt);
	ls_channel_free(client);
	ls_channel_free(server);
}

static void
usage(FILE *f, const char *argv0)
{
	fprintf(f,
	        "usage: %s [-q]\n"
	        "Checks the LS11CLOUD crypto core: GOST known answers, a SESPAKE exchange and a\n"
	        "secure-channel round trip.\n"
	        "  -q, --quiet   print only failures\n"
	        "  -h, --help    this text\n",
	        argv0);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = { { "quiet", no_argument, NULL, 'q' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	uint8_t kc[32], ks[32];
	int c, rc;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'q': quiet = 1; break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	/* The checks provoke failures on purpose (a replayed record); their log lines are noise here. */
	ls_log_set_level(LS_LOG_ERROR);
	if ((rc = ls_crypto_init()) != LS_OK) {
		fprintf(stderr, "%s: the GOST crypto backend cannot start: %s\n", argv[0],
		        ls_strerror(rc));
		return 1;
	}
	printf("LS11CLOUD %s self-check (%s)\n\n", PACKAGE_VERSION, ls_crypto_backend_version());
	check_hashes();
	check_ciphers();
	check_signatures();
	if (run_sespake(kc, ks) == LS_OK)
		run_channel(kc, ks);
	ls_wipe(kc, sizeof(kc));
	ls_wipe(ks, sizeof(ks));
	printf("\n%s\n", failures == 0 ? "All checks passed." : "Some checks FAILED.");
	return failures == 0 ? 0 : 1;
}
