/*
 * Tests of core/crypto-sespake.c: SESPAKE (RFC 8133) for both roles on all seven curves.
 *
 * Known answers: shared/reference/sespake-vectors.txt (the RFC 8133 example inputs, PW "123456",
 * cross-checked by shared/reference/oracles/sespake_check.py).  The file prints points and scalars
 * as big-endian integers; the wire carries LE(x) || LE(y), so the tests reverse them.  The primes p
 * are those of the oracle (gost-engine gost_params.c).  The small-order points of the hostile
 * tests on tc26-256-A / tc26-512-C were computed with the oracle's affine arithmetic (a point R on
 * the curve, T = q*R, order 4), together with the MAC a naive implementation would accept.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "sespake.h"
#include "test-util.h"

#define PW     "123456"
#define PW_LEN 6
#define SALT   "2923be84e16cd6ae529049f1f1bbe9eb"

static const uint8_t ID0[4] = {0, 0, 0, 0};

struct kat {
	ls_curve curve;
	const char *name;
	size_t n;
	const char *p;
	const char *qpw_x, *qpw_y;
	const char *alpha, *u1_x, *u1_y;
	const char *beta, *u2_x, *u2_y;
	const char *k, *mac_a, *mac_b;
};

/* clang-format off */
static const struct kat kats[] = {
	{
		.curve = LS_CURVE_CP_A,
		.name = "cp-A",
		.n = 32,
		.p = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd97",
		.qpw_x = "9d339b3396ae4a816388a14c79ab3a8dd495fa4c53f0d4076579022ef2aaeb68",
		.qpw_y = "dad91482e208590fd316bf959480f5ec2c17463ec8fc8f63030649b452cddda8",
		.alpha = "fccbd45d1f2538097d5a031fa68bbb43c84d12b3de47b7061c0d5e24993e0c87",
		.u1_x = "cf73b30dd577369fb98e2a93d6d98d7450f9ceef2bada1e3dcb8bb1016dff1e1",
		.u1_y = "1cf05014caedbdb1635120b30e0a445060b8f1cca52965cf83c4838d554ca4e2",
		.beta = "f2144faddc497d9ef6324912fd367840ee509a2032aedb1c0a890d133b45f596",
		.u2_x = "6e1bfb24b6131a3ad0b60e477a38715c6f96f21bb0b2f9ebd67680e804a77199",
		.u2_y = "873ee3c546c41e8f707298f11b955fe64f7577d52d7dadc1beccb9925178ca80",
		.k = "e04ee0147f9f198de25aaf33a28499e0ce7d316e4739762fd519f8e991d7fc00",
		.mac_a = "bd35c50e9060e64f042e7be6cc0299840c8e2782b8e59c3dd44750111673c5ea",
		.mac_b = "c8c82c0fed8e4d1e4142d7a9f055b45ff6712d2f41bf26ef2fbc37c5564b86d3",
	},
	{
		.curve = LS_CURVE_CP_B,
		.name = "cp-B",
		.n = 32,
		.p = "8000000000000000000000000000000000000000000000000000000000000c99",
		.qpw_x = "7a7211a430fd4e31b815e6d2454eea9574f034c5c442dce1723d69555d3ee4c9",
		.qpw_y = "2995e857187808e80d3e40a00fb87128e203f2d91c1f15d8193a5aad95964734",
		.alpha = "499d72b90299cab0da1f8be19d9122f622a13b32b730c46bd0664044f2144fad",
		.u1_x = "35e78fcbc24998eb3039445a9de7032aadf291e7768196ef618e45bed80edf88",
		.u1_y = "1970a4697295f6d361d2c3edd3885794c1254bac3f4adb4a3346ad01a911d13c",
		.beta = "0f69ff614957ef83668edc2d7ed614be76f7b253db23c5cc9c52bf7df8f4669d",
		.u2_x = "20d7a92b238143e3f137be904d52fa35c45a29f02a7226a7ac83a1172c2a55cd",
		.u2_y = "5fc4cd6ffb0e76ea8603ce9e6dab5164285617969ab3bfab09fbeb8595d1f47b",
		.k = "a626de01b1680ff7513009122bcee1896883394f96030172455c9ae060cce44a",
		.mac_a = "557a5961426039a152c823a7650459b062be3d475653030995571ce753402647",
		.mac_b = "3bc55e2707841994c4b9caba43e6ce6a092de90883765fb6c344c61d760296e9",
	},
	{
		.curve = LS_CURVE_CP_C,
		.name = "cp-C",
		.n = 32,
		.p = "9b9f605f5a858107ab1ec85e6b41c8aacf846e86789051d37998f7b9022d759b",
		.qpw_x = "8b666917d42c455331358c50c3c12c85b898a2e454b50dd773541da02e1c3068",
		.qpw_y = "8a9b6c4703934b7f0dc903f52c16275e1d38b568117c7cff3bd322a99a311fe9",
		.alpha = "3a54ac3f19ad9d0b1eac8acdcea70e581f1dac33d13feafd81e762378639c1a8",
		.u1_x = "2124a22e00b1be2114f5ca42d58d55a0a9f2b08f8cb10275eddf8243402abb7a",
		.u1_y = "62497815861d15877b7ad2e86768a2deb0f755a8b1a8897fc5235da783914a59",
		.beta = "448781782bf7c0e52a1dd9e6758fd3482d90d3cfccf42232cf357e59a4d49fd4",
		.u2_x = "47ad0110d1620fe38832e90b58971d2e0b9183dd52de23422b6fc47bec64541a",
		.u2_y = "8296af496b3c52640e738a195d63ab7bfb457aba7c71b5649cc3e300829cbf0a",
		.k = "be7e7e47b41116f2c77e3b8fce403072ca82450d65defc71a95649e4deeaecee",
		.mac_a = "4758fa649f2e313bf2708b76a7f7a75a37ce9e7f55c3fc5a5577e877a7a2c1ea",
		.mac_b = "2f33b9bff07dcde34467bdb07f62fca8b3523a6439eff1c993ba0b4ce6c2ede4",
	},
	{
		.curve = LS_CURVE_TC26_256_A,
		.name = "tc26-256-A",
		.n = 32,
		.p = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd97",
		.qpw_x = "a0fd0bcfaa07f640c802aa95f42e80b28bb758fbcb7ee2aca2cc0a615b567207",
		.qpw_y = "52cf0c960f362894bd097d198999e965bd940c7828e0d2ad38a0097f68135047",
		.alpha = "147b72f6684fb8fd1b418a899f7dbecaf5fce60b13685baa95328654a7f0707f",
		.u1_x = "8e8929226c7f679ea8c2dfb833d1f8062d62a9672493df02ad7462014c0edbc6",
		.u1_y = "20f2382c2425aaa638f61e8b70fcf70dae6bcb2f9f341b33ae577c62395aa816",
		.beta = "30d5cfadaa0e31b405e6734c03ec4c5df0f02f4ba25c9a3b320ee6453567b4cb",
		.u2_x = "47182ed8f018fa93a5d837e52724af6051c168ef15e4a40fe926473bc3f1032a",
		.u2_y = "97f3e1e674da53b0ec3ebb1a62a25c7424f4334950daec4d33045f78d9faeeb4",
		.k = "7df71ac327ed517d0de403e817c6204bc19165b9d1002b9f1088a6cda6eacf27",
		.mac_a = "f569f6e7689ef0ba084698cc0ebcac59678c9326af21f54d3e900529326b41ee",
		.mac_b = "80d5f03b4822377643b4ff9205ddedb19f22801fb4de0bfbe07455c25432451e",
	},
	{
		.curve = LS_CURVE_TC26_512_A,
		.name = "tc26-512-A",
		.n = 64,
		.p = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		     "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffdc7",
		.qpw_x = "a8b54a6339b296f5c5227670fb1482010b4b07e3642974b40c58a5f1da33370e"
		         "fed546eb17c6a707f3fc69671deba10a6de03a55f859473e9074a89b4a7b5488",
		.qpw_y = "febf437ecf21536328b32f4c8e0430d5c0c096001c08a378ac30b8634412f44c"
		         "5ba9b7096642f51cc3a018cd1599c849cd62917a370eca3bbc6bed5eedabdd77",
		.alpha = "3ce54325db52fe798824aead11bb16fa766857d04a4af7d468672f16d90e7396"
		         "046a46f815693e85b1ce5464da9270181f82333b0715057bbe8d61d400505f0e",
		.u1_x = "e8732d5471901b3eb9a31aaebeac7a6155c2c8fc1c960cb475e14074987dd2c8"
		        "4eccafac0835735a5c2df3d1c8dacf4a1d2e38e1e4419f5df4e25b7f8dd90b50",
		.u1_y = "d680a41eaec979d49f4752008e9e92eb0efc1950d74b85e852be47f3958d5500"
		        "0442d859e5b459de5dc7acaa0c36383cd1f98f271333c6083dcecaf07ac825b8",
		.beta = "b5c286a79aa8e97ec0e19bc1959a1d15f12f8c97870ba9d68cc12811a56a3bb1"
		        "1440610825796a49d468cdc9c2d02d76598a27973d5960c5f50bce28d8d345f4",
		.u2_x = "1830804bf1fb07ebd43f27d03ff71ad9c7c31becaf1d3585dfb9e356c36638dc"
		        "d82aba559dec06d46c862566653dfe0b116eb1a68439b0283f4d79ce48408eee",
		.u2_y = "23b33ae97fba92e06095c41525aedf7b5d96fe9ca8e0244ed6c8a565d542d05e"
		        "d3044cafb1a8ac9a570c5133ba846d61da77f54da2daf13b0def7d90a0796f06",
		.k = "5324def848b663cc26422f5e45eec34c51d24361b16560ca58a3d3284586cb7a",
		.mac_a = "37e61a432d85759b3013a29dd682f14d33ca868937db4bf20291edcf6be24b4e",
		.mac_b = "72dcde195f264bb8a81d2afe2fd9da2d6012819c15f711db2bc4c574859e053e",
	},
	{
		.curve = LS_CURVE_TC26_512_B,
		.name = "tc26-512-B",
		.n = 64,
		.p = "8000000000000000000000000000000000000000000000000000000000000000"
		     "000000000000000000000000000000000000000000000000000000000000006f",
		.qpw_x = "2383039092052ed0e8ca3f751c11ebb891b8f32f7c66a437dec86345c63efc4b"
		         "a1ecd04dfc11826dd581cbc1d744754e284c00b04eef9cd6eff22c12432c46fd",
		.qpw_y = "374202580afbaf2f68da8a5c03ab82e71eb4c1f1fdd881aa2911d0206d470039"
		         "275d298d5477901565ab826ec4492f67eebcf3194442f272fd2cad9a5f04234f",
		.alpha = "715e893fa639bf341296e0623e6d29dadf26b163c278767a7982a989462a3863"
		         "fe12aef8bd403d59c4dc4720570d4163db0805c7c10c4e818f9cb785b04b9997",
		.u1_x = "0ab9e56fc0d48e4982ee0a0b09507a63dc530181611d9f00d0464724415757b9"
		        "de1c647178783a0fb4648dfd8e3da1efeb4db29de4711c8599191054ca7de6c4",
		.u1_y = "4decae941f8d19c44daae9eb132019e116478124e76430b8bee16ce6910a06c8"
		        "a2fed68f4907e4ba17c4f4e3356dc3b3b8647165b9c1aae54b1c13239bfa8213",
		.beta = "30fa8c2b4146c2dbbe82bed04d7378877e8c06753bd0a0ff71ebf2befe8da8f3"
		        "dc0836468e2ce7c5c961281b6505140f8407413f03c2cb1d201ea1286ce30e6d",
		.u2_x = "66defd2a42f0efe38ed3d4a4dfbed6b86d40f4adf156c86fee1605dbf6b057b1"
		        "2fe82a0be4823f7f215b5110673e02e3bf44f0ae26630005fcfd9f01473127eb",
		.u2_y = "36168c6d20c9514556ab442bf63ded0115346916ef45af7e5517f59205d1cc52"
		        "ae2e72c3036f13cab7de12932e4a3acd0789f5e2474ff722b81334676c8a3371",
		.k = "d590e05ef5aece8b7cfbfc71be455f29a5cc666f85cdb17e7cc716c59ff170e9",
		.mac_a = "9ec1a87493b287c9cac3dac2a2d71b828dc5977cb0039342c15acdfb66c8cf89",
		.mac_b = "a9b2f19bd9c1fd0f0cabfd095294c6e63cd59f12cf8efd0112460db7aa20bb6e",
	},
	{
		.curve = LS_CURVE_TC26_512_C,
		.name = "tc26-512-C",
		.n = 64,
		.p = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		     "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffdc7",
		.qpw_x = "463e9d38239ddac18e7cc7f6caa7244ae5c49d58dcdfd6a56510d7779496744d"
		         "75e3e0d5795d4e603f7baea8d24ada989d4179e1db33d1912602fc59470192df",
		.qpw_y = "088874b12c160930aa840f046ee75fa86206f19ca5f431d81e2381d6d947b7b0"
		         "30577e40f09b1c16f8e6ef84daddba028f8b6e397a27ece0e13197662659af4d",
		.alpha = "0b3fe942126aefc0287f82c6290505aeb117aa8dcb033cee56222dd1b9f9e1e5"
		         "377583ba300211ec2c399546b4f54578ee925c238d52530c159c7034ccfa0ddd",
		.u1_x = "03664ef83e51beaec1f11711f8742b180001c7734a715e4a693758acd9851b38"
		        "c6d7e0a316d809b75694ae1b356951a93c91a9b85aa3e3a561742211fd238852",
		.u1_y = "2b92fa93fab060fa86c3039eb2904bc18cbe45032dc3c93ce1c6ba1542a29e0d"
		        "790a5f7b63928ed9e50d1fefd6bd00ade4eb021bc62a560567a3419e74dfc08a",
		.beta = "0d494d54fb777781d1324ed6088bb0d9d86b8b0a252aa6a3ee70af8ef44b87a6"
		        "4cea3a432b61a699bad2d9760d700c2891b6285be0b0bb90f16a40a9b2e0e36a",
		.u2_x = "32260df3ddeabaa9c5c1f55248e8e9a3552cefb81a19f0ac1e10f3b7280a844c"
		        "5362b527da1c6ec7eeace2a77aa1167f5e18a4bb6bc6445b4f479ca239245002",
		.u2_y = "04e0612a0c8cd4323535899d0698dd09bb9fc4302016f1b236c86692358ffd98"
		        "1cd082c0129763bd4749ee5bb014255d1de0fd7775deccb564213ebc7100001d",
		.k = "8414e1126c56a11e1f5ea0b7c3bdabe98b268b59d408f97cd0ead7c27ee49c15",
		.mac_a = "530b7763c59e7c985259adebafa41641c6f435478501bdc97ea9cf88a69a128c",
		.mac_b = "3f4865b88c81e5ac561e31c1b3d1d90c57e1e74bac77b163ac6074824e99d3cc",
	},
};
/* clang-format on */

#define NUM_KATS (sizeof(kats) / sizeof(kats[0]))

static const struct kat *
kat_for(ls_curve curve)
{
	size_t i;

	for (i = 0; i < NUM_KATS; i++) {
		if (kats[i].curve == curve)
			return &kats[i];
	}
	cr_assert_fail("no vector for curve %d", (int)curve);
	return NULL;
}

/* A big-endian hex integer of @n bytes, as the vectors print it, into little-endian bytes. */
static void
le_from_hex(const char *hex, size_t n, uint8_t *out)
{
	cr_assert_eq(test_unhex(hex, out, n), n, "vector literal of the wrong size");
	test_reverse(out, n);
}

/* LE(x) || LE(y) from two printed coordinates. */
static void
point_from_hex(const char *x, const char *y, size_t n, uint8_t *out)
{
	le_from_hex(x, n, out);
	le_from_hex(y, n, out + n);
}

/* out = a + b over @n little-endian bytes; returns the carry. */
static unsigned
le_add(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n)
{
	unsigned carry = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned s = (unsigned)a[i] + b[i] + carry;

		out[i] = (uint8_t)s;
		carry = s >> 8;
	}
	return carry;
}

/* out = a - b over @n little-endian bytes (a >= b). */
static void
le_sub(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n)
{
	int borrow = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int d = (int)a[i] - b[i] - borrow;

		borrow = d < 0;
		out[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
}

/* -P = (x, p - y) */
static void
point_negate(const struct kat *v, const uint8_t *pt, uint8_t *out)
{
	uint8_t p[64];

	le_from_hex(v->p, v->n, p);
	memcpy(out, pt, v->n);
	le_sub(out + v->n, p, pt + v->n, v->n);
}

static const ls_curve all_curves[] = {
	LS_CURVE_CP_A,       LS_CURVE_CP_B,       LS_CURVE_CP_C,       LS_CURVE_TC26_256_A,
	LS_CURVE_TC26_512_A, LS_CURVE_TC26_512_B, LS_CURVE_TC26_512_C,
};
#define NUM_CURVES (sizeof(all_curves) / sizeof(all_curves[0]))

/* ---------------------------------------------------------------------------------------------
 * Known answers
 * ------------------------------------------------------------------------------------------- */

static void
run_kat(ls_curve curve)
{
	const struct kat *v = kat_for(curve);
	size_t n = v->n, n2 = 2 * v->n, len = 0;
	uint8_t qpw[128], alpha[64], beta[64], u1[128], u2[128];
	uint8_t out[128], mac_a[32], mac_b[32], key_a[32], key_b[32];
	ls_sespake_ctx *a = NULL, *b = NULL;
	ls_sespake_verifier ver;
	uint8_t want_k[32], want_mac_a[32], want_mac_b[32];
	TEST_HEX(salt, SALT);

	cr_assert_eq(test_unhex(v->k, want_k, 32), 32);
	cr_assert_eq(test_unhex(v->mac_a, want_mac_a, 32), 32);
	cr_assert_eq(test_unhex(v->mac_b, want_mac_b, 32), 32);
	point_from_hex(v->qpw_x, v->qpw_y, n, qpw);
	point_from_hex(v->u1_x, v->u1_y, n, u1);
	point_from_hex(v->u2_x, v->u2_y, n, u2);
	le_from_hex(v->alpha, n, alpha);
	le_from_hex(v->beta, n, beta);
	cr_assert_eq(ls_sespake_point_size(curve), n2);

	/* The verifier: Q_PW = F * Q_1. */
	cr_assert_eq(ls_sespake_verifier_make(curve, 1, salt, salt_len, PW, PW_LEN, &ver), LS_OK);
	cr_assert_arr_eq(ver.q_pw, qpw, n2, "%s: Q_PW", v->name);

	cr_assert_eq(
	        ls_sespake_client_new(curve, 1, salt, salt_len, PW, PW_LEN, ID0, 4, ID0, 4, &a),
	        LS_OK);
	cr_assert_eq(ls_sespake_test_set_scalar(a, alpha, n), LS_OK);
	cr_assert_eq(ls_sespake_client_start(a, out, sizeof(out), &len), LS_OK);
	cr_assert_eq(len, n2);
	cr_assert_arr_eq(out, u1, n2, "%s: u1", v->name);

	cr_assert_eq(ls_sespake_server_new(&ver, ID0, 4, ID0, 4, &b), LS_OK);
	cr_assert_eq(ls_sespake_test_set_scalar(b, beta, n), LS_OK);
	cr_assert_eq(ls_sespake_server_respond(b, u1, n2, out, sizeof(out), &len), LS_OK);
	cr_assert_eq(len, n2);
	cr_assert_arr_eq(out, u2, n2, "%s: u2", v->name);

	cr_assert_eq(ls_sespake_client_finish(a, u2, n2, NULL, 0, mac_a), LS_OK);
	cr_assert_arr_eq(mac_a, want_mac_a, 32, "%s: MAC_A", v->name);
	cr_assert_eq(ls_sespake_server_confirm(b, NULL, 0, mac_a, 32, NULL, 0, mac_b), LS_OK);
	cr_assert_arr_eq(mac_b, want_mac_b, 32, "%s: MAC_B", v->name);
	cr_assert_eq(ls_sespake_client_confirm(a, NULL, 0, mac_b, 32), LS_OK);

	cr_assert_eq(ls_sespake_key(a, key_a), LS_OK);
	cr_assert_eq(ls_sespake_key(b, key_b), LS_OK);
	cr_assert_arr_eq(key_a, want_k, 32, "%s: K on A", v->name);
	cr_assert_arr_eq(key_b, want_k, 32, "%s: K on B", v->name);
	ls_sespake_free(a);
	ls_sespake_free(b);
}

Test(sespake_kat, cp_a)
{
	run_kat(LS_CURVE_CP_A);
}
Test(sespake_kat, cp_b)
{
	run_kat(LS_CURVE_CP_B);
}
Test(sespake_kat, cp_c)
{
	run_kat(LS_CURVE_CP_C);
}
Test(sespake_kat, tc26_256_a)
{
	run_kat(LS_CURVE_TC26_256_A);
}
Test(sespake_kat, tc26_512_a)
{
	run_kat(LS_CURVE_TC26_512_A);
}
Test(sespake_kat, tc26_512_b)
{
	run_kat(LS_CURVE_TC26_512_B);
}
Test(sespake_kat, tc26_512_c)
{
	run_kat(LS_CURVE_TC26_512_C);
}

/* ---------------------------------------------------------------------------------------------
 * Full exchanges
 * ------------------------------------------------------------------------------------------- */

#define NOT_RUN 1

static const uint8_t ID_A[] = "alice@ls11cloud.example";
static const uint8_t ID_B[] = "ls11cloudd:4444";
#define ID_A_LEN (sizeof(ID_A) - 1)
#define ID_B_LEN (sizeof(ID_B) - 1)

/* The return code of each step (NOT_RUN after an earlier failure) and what ls_sespake_key gave. */
struct run {
	int new_a, new_b, start, respond, finish, s_confirm, c_confirm, key_a_rc, key_b_rc;
	uint8_t key_a[32], key_b[32];
};

/*
 * One exchange: the client with (@curve, @ind, @salt, @pw), the server from @ver.  Asserts nothing
 * (the thread test calls it off the main thread).
 */
static void
exchange(const ls_sespake_verifier *ver, ls_curve curve, unsigned ind, const uint8_t *salt,
         size_t salt_len, const char *pw, const uint8_t *data_a, size_t data_a_len,
         const uint8_t *data_b, size_t data_b_len, struct run *r)
{
	uint8_t u1[128], u2[128], mac_a[32], mac_b[32];
	ls_sespake_ctx *a = NULL, *b = NULL;
	size_t u1_len = 0, u2_len = 0;

	memset(r, 0, sizeof(*r));
	r->new_a = r->new_b = r->start = r->respond = r->finish = NOT_RUN;
	r->s_confirm = r->c_confirm = r->key_a_rc = r->key_b_rc = NOT_RUN;
	r->new_a = ls_sespake_client_new(curve, ind, salt, salt_len, pw, strlen(pw), ID_A, ID_A_LEN,
	                                 ID_B, ID_B_LEN, &a);
	if (r->new_a != LS_OK)
		goto out;
	if ((r->new_b = ls_sespake_server_new(ver, ID_A, ID_A_LEN, ID_B, ID_B_LEN, &b)) != LS_OK)
		goto out;
	if ((r->start = ls_sespake_client_start(a, u1, sizeof(u1), &u1_len)) != LS_OK)
		goto out;
	r->respond = ls_sespake_server_respond(b, u1, u1_len, u2, sizeof(u2), &u2_len);
	if (r->respond != LS_OK)
		goto out;
	r->finish = ls_sespake_client_finish(a, u2, u2_len, data_a, data_a_len, mac_a);
	if (r->finish != LS_OK)
		goto out;
	r->s_confirm = ls_sespake_server_confirm(b, data_a, data_a_len, mac_a, sizeof(mac_a),
	                                         data_b, data_b_len, mac_b);
	if (r->s_confirm != LS_OK)
		goto out;
	r->c_confirm = ls_sespake_client_confirm(a, data_b, data_b_len, mac_b, sizeof(mac_b));
out:
	if (a != NULL)
		r->key_a_rc = ls_sespake_key(a, r->key_a);
	if (b != NULL)
		r->key_b_rc = ls_sespake_key(b, r->key_b);
	ls_sespake_free(a);
	ls_sespake_free(b);
}

/* The client uses the verifier's own parameters, as it would after the server's hello. */
static void
exchange_with(const ls_sespake_verifier *ver, const char *pw, struct run *r)
{
	static const uint8_t da[] = "hello transcript hash A", db[] = "hello transcript hash B";

	exchange(ver, (ls_curve)ver->curve, ver->ind, ver->salt, ver->salt_len, pw, da,
	         sizeof(da) - 1, db, sizeof(db) - 1, r);
}

static void
assert_success(const struct run *r, const char *what)
{
	cr_assert_eq(r->new_a, LS_OK, "%s: client_new %d", what, r->new_a);
	cr_assert_eq(r->new_b, LS_OK, "%s: server_new %d", what, r->new_b);
	cr_assert_eq(r->start, LS_OK, "%s: start %d", what, r->start);
	cr_assert_eq(r->respond, LS_OK, "%s: respond %d", what, r->respond);
	cr_assert_eq(r->finish, LS_OK, "%s: finish %d", what, r->finish);
	cr_assert_eq(r->s_confirm, LS_OK, "%s: server confirm %d", what, r->s_confirm);
	cr_assert_eq(r->c_confirm, LS_OK, "%s: client confirm %d", what, r->c_confirm);
	cr_assert_eq(r->key_a_rc, LS_OK);
	cr_assert_eq(r->key_b_rc, LS_OK);
	cr_assert_arr_eq(r->key_a, r->key_b, 32, "%s: the two keys differ", what);
}

Test(sespake_exchange, all_curves_all_points)
{
	uint8_t first[32];
	size_t i;
	unsigned ind;

	for (i = 0; i < NUM_CURVES; i++) {
		for (ind = 1; ind <= LS_SESPAKE_NUM_POINTS; ind++) {
			ls_sespake_verifier ver;
			struct run r;
			char what[64];

			snprintf(what, sizeof(what), "%s ind %u", kat_for(all_curves[i])->name,
			         ind);
			cr_assert_eq(ls_sespake_verifier_make(all_curves[i], ind, NULL, 32,
			                                      "correct horse", 13, &ver),
			             LS_OK);
			exchange_with(&ver, "correct horse", &r);
			assert_success(&r, what);
			memcpy(first, r.key_a, 32);
			/* Fresh alpha and beta: the next run gives another key. */
			exchange_with(&ver, "correct horse", &r);
			assert_success(&r, what);
			cr_assert(memcmp(first, r.key_a, 32) != 0, "%s: K repeated", what);
		}
	}
}

Test(sespake_exchange, limits_of_sizes)
{
	static uint8_t data_a[LS_SESPAKE_DATA_MAX], data_b[LS_SESPAKE_DATA_MAX];
	uint8_t salt[LS_SESPAKE_SALT_MAX], id[LS_SESPAKE_ID_MAX], u1[128], u2[128], mac_a[32],
	        mac_b[32], ka[32], kb[32];
	char pw[LS_SESPAKE_PW_MAX + 1];
	ls_sespake_ctx *a = NULL, *b = NULL;
	ls_sespake_verifier ver;
	size_t len;

	memset(data_a, 'a', sizeof(data_a));
	memset(data_b, 'b', sizeof(data_b));
	memset(salt, 's', sizeof(salt));
	memset(id, 'i', sizeof(id));
	memset(pw, 'p', LS_SESPAKE_PW_MAX);
	pw[LS_SESPAKE_PW_MAX] = '\0';
	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_TC26_512_B, 3, salt, sizeof(salt), pw,
	                                      LS_SESPAKE_PW_MAX, &ver),
	             LS_OK);
	cr_assert_eq(ls_sespake_client_new(LS_CURVE_TC26_512_B, 3, salt, sizeof(salt), pw,
	                                   LS_SESPAKE_PW_MAX, id, sizeof(id), id, sizeof(id), &a),
	             LS_OK);
	cr_assert_eq(ls_sespake_server_new(&ver, id, sizeof(id), id, sizeof(id), &b), LS_OK);
	cr_assert_eq(ls_sespake_client_start(a, u1, 128, &len), LS_OK);
	cr_assert_eq(ls_sespake_server_respond(b, u1, len, u2, 128, &len), LS_OK);
	cr_assert_eq(ls_sespake_client_finish(a, u2, len, data_a, sizeof(data_a), mac_a), LS_OK);
	cr_assert_eq(ls_sespake_server_confirm(b, data_a, sizeof(data_a), mac_a, 32, data_b,
	                                       sizeof(data_b), mac_b),
	             LS_OK);
	cr_assert_eq(ls_sespake_client_confirm(a, data_b, sizeof(data_b), mac_b, 32), LS_OK);
	cr_assert_eq(ls_sespake_key(a, ka), LS_OK);
	cr_assert_eq(ls_sespake_key(b, kb), LS_OK);
	cr_assert_arr_eq(ka, kb, 32);
	ls_sespake_free(a);
	ls_sespake_free(b);
}

struct thread_job {
	size_t offset;
	int failures;
};

static void *
thread_main(void *arg)
{
	struct thread_job *job = arg;
	size_t i;

	for (i = 0; i < NUM_CURVES; i++) {
		ls_curve curve = all_curves[(i + job->offset) % NUM_CURVES];
		ls_sespake_verifier ver;
		struct run r;

		if (ls_sespake_verifier_make(curve, 1 + (unsigned)(i % 3), NULL, 16, "pw", 2,
		                             &ver) != LS_OK) {
			job->failures++;
			continue;
		}
		exchange_with(&ver, "pw", &r);
		if (r.c_confirm != LS_OK || r.key_a_rc != LS_OK || r.key_b_rc != LS_OK ||
		    memcmp(r.key_a, r.key_b, 32) != 0)
			job->failures++;
	}
	return NULL;
}

/* Curves are set up lazily: first use from several threads at once must still be right. */
Test(sespake_exchange, threads_cold_start)
{
	pthread_t th[4];
	struct thread_job jobs[4];
	size_t i;

	for (i = 0; i < 4; i++) {
		jobs[i].offset = i * 2;
		jobs[i].failures = 0;
		cr_assert_eq(pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		cr_assert_eq(pthread_join(th[i], NULL), 0);
		cr_assert_eq(jobs[i].failures, 0, "thread %zu: %d failed exchanges", i,
		             jobs[i].failures);
	}
}

/* ---------------------------------------------------------------------------------------------
 * Wrong passwords, tampering
 * ------------------------------------------------------------------------------------------- */

Test(sespake_hostile, wrong_password)
{
	size_t i;

	for (i = 0; i < NUM_CURVES; i++) {
		ls_sespake_verifier ver;
		struct run r;

		cr_assert_eq(ls_sespake_verifier_make(all_curves[i], 2, NULL, 24, PW, PW_LEN, &ver),
		             LS_OK);
		exchange_with(&ver, "123457", &r);
		cr_assert_eq(r.finish, LS_OK, "the client cannot tell before the server answers");
		cr_assert_eq(r.s_confirm, LS_ERR_AUTH_FAILED, "%s: server confirm %d",
		             kat_for(all_curves[i])->name, r.s_confirm);
		cr_assert_eq(r.c_confirm, NOT_RUN, "no MAC_B goes out");
		cr_assert_eq(r.key_a_rc, LS_ERR_STATE, "the client has no key");
		cr_assert_eq(r.key_b_rc, LS_ERR_STATE, "the server has no key");
	}
}

/* A client with the wrong password that is fed a made-up MAC_B gets no key either. */
Test(sespake_hostile, wrong_password_client_side)
{
	uint8_t u1[128], u2[128], mac_a[32], mac_b[32], key[32];
	ls_sespake_ctx *a = NULL, *b = NULL;
	ls_sespake_verifier ver;
	size_t len;
	TEST_HEX(salt, SALT);

	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_A, 1, salt, salt_len, PW, PW_LEN, &ver),
	             LS_OK);
	cr_assert_eq(ls_sespake_client_new(LS_CURVE_CP_A, 1, salt, salt_len, "654321", 6, ID0, 4,
	                                   ID0, 4, &a),
	             LS_OK);
	cr_assert_eq(ls_sespake_server_new(&ver, ID0, 4, ID0, 4, &b), LS_OK);
	cr_assert_eq(ls_sespake_client_start(a, u1, sizeof(u1), &len), LS_OK);
	cr_assert_eq(ls_sespake_server_respond(b, u1, len, u2, sizeof(u2), &len), LS_OK);
	cr_assert_eq(ls_sespake_client_finish(a, u2, len, NULL, 0, mac_a), LS_OK);
	memset(mac_b, 0x5a, sizeof(mac_b));
	cr_assert_eq(ls_sespake_client_confirm(a, NULL, 0, mac_b, 32), LS_ERR_AUTH_FAILED);
	cr_assert_eq(ls_sespake_key(a, key), LS_ERR_STATE);
	cr_assert(ls_sespake_test_is_wiped(a), "secrets wiped after the failure");
	cr_assert_eq(ls_sespake_server_confirm(b, NULL, 0, mac_a, 32, NULL, 0, mac_b),
	             LS_ERR_AUTH_FAILED);
	cr_assert(ls_sespake_test_is_wiped(b));
	ls_sespake_free(a);
	ls_sespake_free(b);
}

/* Runs a correct exchange up to MAC_B and hands both contexts and the messages back. */
struct pair {
	ls_sespake_ctx *a, *b;
	uint8_t mac_a[32], mac_b[32];
};

static void
pair_to_mac_b(struct pair *p, ls_curve curve, const uint8_t *data_b, size_t data_b_len)
{
	uint8_t u1[128], u2[128];
	ls_sespake_verifier ver;
	size_t len;
	TEST_HEX(salt, SALT);

	cr_assert_eq(ls_sespake_verifier_make(curve, 1, salt, salt_len, PW, PW_LEN, &ver), LS_OK);
	cr_assert_eq(ls_sespake_client_new(curve, 1, salt, salt_len, PW, PW_LEN, ID_A, ID_A_LEN,
	                                   ID_B, ID_B_LEN, &p->a),
	             LS_OK);
	cr_assert_eq(ls_sespake_server_new(&ver, ID_A, ID_A_LEN, ID_B, ID_B_LEN, &p->b), LS_OK);
	cr_assert_eq(ls_sespake_client_start(p->a, u1, sizeof(u1), &len), LS_OK);
	cr_assert_eq(ls_sespake_server_respond(p->b, u1, len, u2, sizeof(u2), &len), LS_OK);
	cr_assert_eq(ls_sespake_client_finish(p->a, u2, len, (const uint8_t *)"A", 1, p->mac_a),
	             LS_OK);
	cr_assert_eq(ls_sespake_server_confirm(p->b, (const uint8_t *)"A", 1, p->mac_a, 32, data_b,
	                                       data_b_len, p->mac_b),
	             LS_OK);
}

Test(sespake_hostile, tampered_mac_b)
{
	size_t i, bit;

	for (i = 0; i < NUM_CURVES; i++) {
		for (bit = 0; bit < 256; bit += 85) {
			struct pair p;
			uint8_t key[32];

			pair_to_mac_b(&p, all_curves[i], (const uint8_t *)"B", 1);
			p.mac_b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			cr_assert_eq(ls_sespake_client_confirm(p.a, (const uint8_t *)"B", 1,
			                                       p.mac_b, 32),
			             LS_ERR_AUTH_FAILED);
			cr_assert_eq(ls_sespake_key(p.a, key), LS_ERR_STATE);
			cr_assert(ls_sespake_test_is_wiped(p.a));
			ls_sespake_free(p.a);
			ls_sespake_free(p.b);
		}
	}
}

/* DATA_B is bound: a MAC_B over other data fails on the client, and so does a short MAC. */
Test(sespake_hostile, tampered_data_b_and_mac_length)
{
	struct pair p;
	uint8_t key[32];

	pair_to_mac_b(&p, LS_CURVE_TC26_256_A, (const uint8_t *)"B", 1);
	cr_assert_eq(ls_sespake_client_confirm(p.a, (const uint8_t *)"C", 1, p.mac_b, 32),
	             LS_ERR_AUTH_FAILED);
	ls_sespake_free(p.a);
	ls_sespake_free(p.b);

	pair_to_mac_b(&p, LS_CURVE_TC26_256_A, (const uint8_t *)"B", 1);
	cr_assert_eq(ls_sespake_client_confirm(p.a, (const uint8_t *)"B", 1, p.mac_b, 31),
	             LS_ERR_BAD_LENGTH);
	cr_assert_eq(ls_sespake_key(p.a, key), LS_ERR_STATE);
	ls_sespake_free(p.a);
	ls_sespake_free(p.b);
}

/* The server side: MAC_A over other DATA_A, a flipped MAC_A, other IDs. */
Test(sespake_hostile, tampered_mac_a_data_a_ids)
{
	static const uint8_t data_a[] = "transcript";
	uint8_t u1[128], u2[128], mac_a[32], mac_b[32], key[32];
	ls_sespake_verifier ver;
	unsigned variant;
	TEST_HEX(salt, SALT);

	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_B, 1, salt, salt_len, PW, PW_LEN, &ver),
	             LS_OK);
	for (variant = 0; variant < 4; variant++) {
		ls_sespake_ctx *a = NULL, *b = NULL;
		size_t len;
		int rc;

		cr_assert_eq(ls_sespake_client_new(LS_CURVE_CP_B, 1, salt, salt_len, PW, PW_LEN,
		                                   ID_A, ID_A_LEN, ID_B, ID_B_LEN, &a),
		             LS_OK);
		/* variant 2: the server believes in another client ID */
		cr_assert_eq(ls_sespake_server_new(&ver, variant == 2 ? ID0 : ID_A,
		                                   variant == 2 ? 4 : ID_A_LEN, ID_B, ID_B_LEN, &b),
		             LS_OK);
		cr_assert_eq(ls_sespake_client_start(a, u1, sizeof(u1), &len), LS_OK);
		cr_assert_eq(ls_sespake_server_respond(b, u1, len, u2, sizeof(u2), &len), LS_OK);
		cr_assert_eq(
		        ls_sespake_client_finish(a, u2, len, data_a, sizeof(data_a) - 1, mac_a),
		        LS_OK);
		if (variant == 0)
			mac_a[31] ^= 0x80;
		memset(mac_b, 0xee, sizeof(mac_b));
		rc = ls_sespake_server_confirm(b, data_a, sizeof(data_a) - (variant == 1 ? 2 : 1),
		                               mac_a, variant == 3 ? 33 : 32, NULL, 0, mac_b);
		cr_assert_eq(rc, variant == 3 ? LS_ERR_BAD_LENGTH : LS_ERR_AUTH_FAILED,
		             "variant %u: %d", variant, rc);
		for (len = 0; len < sizeof(mac_b); len++)
			cr_assert_eq(mac_b[len], 0xee, "no MAC_B written on failure");
		cr_assert_eq(ls_sespake_key(b, key), LS_ERR_STATE);
		cr_assert(ls_sespake_test_is_wiped(b));
		ls_sespake_free(a);
		ls_sespake_free(b);
	}
}

/* ---------------------------------------------------------------------------------------------
 * Hostile points
 * ------------------------------------------------------------------------------------------- */

enum mutation {
	M_TRUNCATED,
	M_OVERSIZED,
	M_ZERO,
	M_OFF_CURVE,
	M_X_ALL_FF,
	M_X_EQ_P,
	M_X_PLUS_P,
	M_Y_PLUS_P,
	M_COUNT,
};

static const char *const mutation_names[M_COUNT] = {
	"truncated by one byte", "oversized by one byte", "all-zero (identity)",
	"off the curve",         "x = 2^n - 1 >= p",      "x = p",
	"x + p (non-canonical)", "y + p (non-canonical)",
};

/*
 * Applies @m to the valid point @pt (2n bytes) into @out; *@len gets the length to send.  Returns
 * false when the mutation cannot be expressed on this curve (x + p does not fit in n bytes).
 */
static bool
mutate(const struct kat *v, enum mutation m, const uint8_t *pt, uint8_t *out, size_t *len)
{
	size_t n = v->n;
	uint8_t p[64];

	le_from_hex(v->p, n, p);
	memcpy(out, pt, 2 * n);
	out[2 * n] = 0;
	*len = 2 * n;
	switch (m) {
	case M_TRUNCATED: *len = 2 * n - 1; return true;
	case M_OVERSIZED: *len = 2 * n + 1; return true;
	case M_ZERO: memset(out, 0, 2 * n); return true;
	case M_OFF_CURVE: out[n] ^= 1; return true;
	case M_X_ALL_FF: memset(out, 0xff, n); return true;
	case M_X_EQ_P: memcpy(out, p, n); return true;
	case M_X_PLUS_P: return le_add(out, pt, p, n) == 0;
	case M_Y_PLUS_P: return le_add(out + n, pt + n, p, n) == 0;
	case M_COUNT: break;
	}
	return false;
}

static int
expected_error(enum mutation m)
{
	return m == M_TRUNCATED || m == M_OVERSIZED ? LS_ERR_BAD_LENGTH : LS_ERR_BAD_POINT;
}

Test(sespake_hostile, bad_u1_refused_by_server)
{
	size_t i, expressed = 0;

	for (i = 0; i < NUM_CURVES; i++) {
		const struct kat *v = kat_for(all_curves[i]);
		uint8_t u1[128];
		ls_sespake_verifier ver;
		enum mutation m;
		TEST_HEX(salt, SALT);

		point_from_hex(v->u1_x, v->u1_y, v->n, u1);
		cr_assert_eq(
		        ls_sespake_verifier_make(v->curve, 1, salt, salt_len, PW, PW_LEN, &ver),
		        LS_OK);
		for (m = 0; m < M_COUNT; m++) {
			uint8_t bad[129], u2[128], mac_b[32], key[32];
			ls_sespake_ctx *b = NULL;
			size_t len, u2_len = 0;
			int rc;

			if (!mutate(v, m, u1, bad, &len))
				continue;
			expressed++;
			cr_assert_eq(ls_sespake_server_new(&ver, ID0, 4, ID0, 4, &b), LS_OK);
			rc = ls_sespake_server_respond(b, bad, len, u2, sizeof(u2), &u2_len);
			cr_assert_eq(rc, expected_error(m), "%s, u1 %s: %d", v->name,
			             mutation_names[m], rc);
			cr_assert_eq(u2_len, 0, "nothing sent back");
			cr_assert(ls_sespake_test_is_wiped(b));
			cr_assert_eq(
			        ls_sespake_server_respond(b, u1, 2 * v->n, u2, sizeof(u2), &u2_len),
			        LS_ERR_STATE, "a failed exchange stays failed");
			cr_assert_eq(
			        ls_sespake_server_confirm(b, NULL, 0, mac_b, 32, NULL, 0, mac_b),
			        LS_ERR_STATE);
			cr_assert_eq(ls_sespake_key(b, key), LS_ERR_STATE);
			ls_sespake_free(b);
		}
	}
	/* x + p fits on cp-B and tc26-512-B (p near 2^(8n-1)), y + p too for these vectors. */
	cr_assert_geq(expressed, NUM_CURVES * (M_COUNT - 2) + 2);
}

Test(sespake_hostile, bad_u2_refused_by_client)
{
	size_t i;

	for (i = 0; i < NUM_CURVES; i++) {
		const struct kat *v = kat_for(all_curves[i]);
		uint8_t u2[128];
		enum mutation m;
		TEST_HEX(salt, SALT);

		point_from_hex(v->u2_x, v->u2_y, v->n, u2);
		for (m = 0; m < M_COUNT; m++) {
			uint8_t bad[129], u1[128], mac_a[32], key[32];
			ls_sespake_ctx *a = NULL;
			size_t len, u1_len;
			int rc;

			if (!mutate(v, m, u2, bad, &len))
				continue;
			cr_assert_eq(ls_sespake_client_new(v->curve, 1, salt, salt_len, PW, PW_LEN,
			                                   ID0, 4, ID0, 4, &a),
			             LS_OK);
			cr_assert_eq(ls_sespake_client_start(a, u1, sizeof(u1), &u1_len), LS_OK);
			memset(mac_a, 0xee, sizeof(mac_a));
			rc = ls_sespake_client_finish(a, bad, len, NULL, 0, mac_a);
			cr_assert_eq(rc, expected_error(m), "%s, u2 %s: %d", v->name,
			             mutation_names[m], rc);
			cr_assert_eq(mac_a[0], 0xee, "no MAC_A on failure");
			cr_assert(ls_sespake_test_is_wiped(a));
			cr_assert_eq(ls_sespake_client_confirm(a, NULL, 0, mac_a, 32),
			             LS_ERR_STATE);
			cr_assert_eq(ls_sespake_key(a, key), LS_ERR_STATE);
			ls_sespake_free(a);
		}
	}
}

/*
 * u1 = -Q_PW makes Q_B the identity; u2 = Q_PW makes Q_A the identity (z_B / z_A with src = O).
 * An attacker who knows Q_PW (a stolen verifier) tries it; RFC 8133 has the step go on and the
 * confirm fail.  The MAC the attacker offers uses K = Streebog(0...0), what a careless
 * implementation might hash for the identity.
 */
Test(sespake_hostile, identity_after_unmasking)
{
	size_t i;

	for (i = 0; i < NUM_CURVES; i++) {
		const struct kat *v = kat_for(all_curves[i]);
		size_t n2 = 2 * v->n, len;
		uint8_t evil[128], out[128], mac[32], mac_b[32], key[32], zeros[128] = {0}, kz[32];
		ls_sespake_ctx *a = NULL, *b = NULL;
		ls_sespake_verifier ver;
		TEST_HEX(salt, SALT);

		cr_assert_eq(ls_md(LS_MD_STREEBOG256, zeros, n2, kz, 32), LS_OK);
		cr_assert_eq(ls_hmac(LS_MD_STREEBOG256, kz, 32, "x", 1, mac, 32), LS_OK);
		cr_assert_eq(
		        ls_sespake_verifier_make(v->curve, 1, salt, salt_len, PW, PW_LEN, &ver),
		        LS_OK);

		/* server: u1 = -Q_PW */
		point_negate(v, ver.q_pw, evil);
		cr_assert_eq(ls_sespake_server_new(&ver, ID0, 4, ID0, 4, &b), LS_OK);
		cr_assert_eq(ls_sespake_server_respond(b, evil, n2, out, sizeof(out), &len), LS_OK,
		             "%s: no early signal", v->name);
		cr_assert_eq(ls_sespake_server_confirm(b, NULL, 0, mac, 32, NULL, 0, mac_b),
		             LS_ERR_AUTH_FAILED, "%s: z_B", v->name);
		cr_assert_eq(ls_sespake_key(b, key), LS_ERR_STATE);
		ls_sespake_free(b);

		/* client: u2 = Q_PW */
		cr_assert_eq(ls_sespake_client_new(v->curve, 1, salt, salt_len, PW, PW_LEN, ID0, 4,
		                                   ID0, 4, &a),
		             LS_OK);
		cr_assert_eq(ls_sespake_client_start(a, out, sizeof(out), &len), LS_OK);
		cr_assert_eq(ls_sespake_client_finish(a, ver.q_pw, n2, NULL, 0, mac_b), LS_OK);
		cr_assert_eq(ls_sespake_client_confirm(a, NULL, 0, mac, 32), LS_ERR_AUTH_FAILED,
		             "%s: z_A", v->name);
		cr_assert_eq(ls_sespake_key(a, key), LS_ERR_STATE);
		ls_sespake_free(a);
	}
}

/*
 * tc26-256-A (cofactor 4): T of order 4.  u1 = T - Q_PW gives Q_B = T, so (m/q) * Q_B = O but src
 * = ((4 beta) mod q) * T = 3T is not the identity: an implementation without the z_B check would
 * derive K = Streebog(LE(3T)) and accept the MAC_A below, computed by the oracle for the vector's
 * beta.  Likewise u2 = Q_PW + T on the client with the vector's alpha (src = T).
 */
/* clang-format off */
static const char T256_U1_X[] = "37fa1db033ec7cc7543e9b20810980b3f4f7d76e6bac762ca88df0fc4c4079ed";
static const char T256_U1_Y[] = "0ce70638561b43d877f406e7a1d7fd9cbe65cfec762380c81f252af500b399d3";
static const char T256_MAC_A[] = "cc4c35110eefd59e4c7f2059027ada45c0b0631c2d143f18e68382ffefa91fe5";
static const char T256_U2_X[] = "f1623237130f4497742c1f95bffd467cdc6310543b6bd7cd45bdfa0b1d9420c9";
static const char T256_U2_Y[] = "5fd181871d861ff8583b88ad9ed5c0fe2b359ee1bfce0e35ef5529c49310148e";
static const char T256_MAC_B[] = "6cb0fdd6491a62ac35220fce667e5f7f0d0545902aa22a0d64249c5ccbe55f75";

/* tc26-512-C: the same construction; here src is the identity itself. */
static const char T512_U1_X[] = "6a525094624302bcc196cba47b13d64e1a65a6a5aba6a7dbc0443c6bcca786ad"
                                "f024c50131a3742237d082f2068cb7ee52381060f4ae7b462290d733b68fdd56";
static const char T512_U1_Y[] = "1516ab1af179817221249286a887cc8afda8fbd29404e275b2fd6e759fdd39c7"
                                "6fdba98a5ef77d4b1692f9b55d8f2f6c66442815c3e2ce2454009d5685bc0b51";
static const char T512_U2_X[] = "0b161930ca0035f5353ef5abe3b3c3ac010da963093f51142004825801464d53"
                                "86e718fc274f5bd2012b7a17ce8696e1d71d1d748dea6c4038bd03d81f527de5";
static const char T512_U2_Y[] = "10608543c5e1f13e6bd0f3dc77c7252abb425c6eb125a821934d8897a7e483d6"
                                "cd89ce4f56c269b7303c7fa97e7a20b59bede375c6692b81d424cb61c443d54a";
/* clang-format on */

static void
small_order_attack(ls_curve curve, const char *u1x, const char *u1y, const char *mac_a_hex,
                   const char *u2x, const char *u2y, const char *mac_b_hex)
{
	const struct kat *v = kat_for(curve);
	size_t n = v->n, n2 = 2 * n, len;
	uint8_t evil[128], kat_u[128], out[128], alpha[64], beta[64], mac[32], mac_b[32], key[32];
	ls_sespake_ctx *a = NULL, *b = NULL;
	ls_sespake_verifier ver;
	TEST_HEX(salt, SALT);

	le_from_hex(v->alpha, n, alpha);
	le_from_hex(v->beta, n, beta);
	cr_assert_eq(ls_sespake_verifier_make(curve, 1, salt, salt_len, PW, PW_LEN, &ver), LS_OK);

	/* server attacked */
	point_from_hex(u1x, u1y, n, evil);
	point_from_hex(v->u2_x, v->u2_y, n, kat_u);
	memset(mac, 0x33, sizeof(mac));
	if (mac_a_hex != NULL)
		cr_assert_eq(test_unhex(mac_a_hex, mac, 32), 32);
	cr_assert_eq(ls_sespake_server_new(&ver, ID0, 4, ID0, 4, &b), LS_OK);
	cr_assert_eq(ls_sespake_test_set_scalar(b, beta, n), LS_OK);
	cr_assert_eq(ls_sespake_server_respond(b, evil, n2, out, sizeof(out), &len), LS_OK,
	             "%s: the point is on the curve; the failure comes at confirm", v->name);
	cr_assert_arr_eq(out, kat_u, n2, "u2 as in the vector (same beta, same Q_PW)");
	cr_assert_eq(ls_sespake_server_confirm(b, NULL, 0, mac, 32, NULL, 0, mac_b),
	             LS_ERR_AUTH_FAILED, "%s: z_B = 1 must fail", v->name);
	cr_assert_eq(ls_sespake_key(b, key), LS_ERR_STATE);
	ls_sespake_free(b);

	/* client attacked */
	point_from_hex(u2x, u2y, n, evil);
	point_from_hex(v->u1_x, v->u1_y, n, kat_u);
	memset(mac, 0x33, sizeof(mac));
	if (mac_b_hex != NULL)
		cr_assert_eq(test_unhex(mac_b_hex, mac, 32), 32);
	cr_assert_eq(
	        ls_sespake_client_new(curve, 1, salt, salt_len, PW, PW_LEN, ID0, 4, ID0, 4, &a),
	        LS_OK);
	cr_assert_eq(ls_sespake_test_set_scalar(a, alpha, n), LS_OK);
	cr_assert_eq(ls_sespake_client_start(a, out, sizeof(out), &len), LS_OK);
	cr_assert_arr_eq(out, kat_u, n2);
	cr_assert_eq(ls_sespake_client_finish(a, evil, n2, NULL, 0, mac_b), LS_OK);
	cr_assert_eq(ls_sespake_client_confirm(a, NULL, 0, mac, 32), LS_ERR_AUTH_FAILED,
	             "%s: z_A = 1 must fail", v->name);
	cr_assert_eq(ls_sespake_key(a, key), LS_ERR_STATE);
	ls_sespake_free(a);
}

Test(sespake_hostile, small_order_tc26_256_a)
{
	small_order_attack(LS_CURVE_TC26_256_A, T256_U1_X, T256_U1_Y, T256_MAC_A, T256_U2_X,
	                   T256_U2_Y, T256_MAC_B);
}

Test(sespake_hostile, small_order_tc26_512_c)
{
	small_order_attack(LS_CURVE_TC26_512_C, T512_U1_X, T512_U1_Y, NULL, T512_U2_X, T512_U2_Y,
	                   NULL);
}

/* ---------------------------------------------------------------------------------------------
 * State machine and arguments
 * ------------------------------------------------------------------------------------------- */

Test(sespake_state, client_out_of_order)
{
	uint8_t u1[128], mac[32], key[32], scalar[32] = {1};
	ls_sespake_ctx *a = NULL;
	size_t len;
	TEST_HEX(salt, SALT);

	cr_assert_eq(ls_sespake_client_new(LS_CURVE_CP_C, 1, salt, salt_len, PW, PW_LEN, NULL, 0,
	                                   NULL, 0, &a),
	             LS_OK);
	cr_assert_eq(ls_sespake_client_finish(a, u1, 64, NULL, 0, mac), LS_ERR_STATE);
	cr_assert_eq(ls_sespake_client_confirm(a, NULL, 0, mac, 32), LS_ERR_STATE);
	cr_assert_eq(ls_sespake_key(a, key), LS_ERR_STATE);
	cr_assert_eq(ls_sespake_server_respond(a, u1, 64, u1, sizeof(u1), &len), LS_ERR_STATE,
	             "a server step on a client context");
	cr_assert_eq(ls_sespake_server_confirm(a, NULL, 0, mac, 32, NULL, 0, mac), LS_ERR_STATE);
	/* none of the refused calls changed anything: the exchange still starts */
	cr_assert_eq(ls_sespake_client_start(a, u1, sizeof(u1), &len), LS_OK);
	cr_assert_eq(ls_sespake_client_start(a, u1, sizeof(u1), &len), LS_ERR_STATE, "twice");
	cr_assert_eq(ls_sespake_test_set_scalar(a, scalar, 32), LS_ERR_STATE, "alpha is drawn");
	cr_assert_eq(ls_sespake_client_confirm(a, NULL, 0, mac, 32), LS_ERR_STATE);
	cr_assert_eq(ls_sespake_key(a, key), LS_ERR_STATE);
	cr_assert(!ls_sespake_test_is_wiped(a), "refused calls do not end the exchange");
	ls_sespake_free(a);
}

Test(sespake_state, server_out_of_order_and_done)
{
	uint8_t u1[128], u2[128], mac_a[32], mac_b[32], key[32], key2[32];
	ls_sespake_ctx *a = NULL, *b = NULL;
	ls_sespake_verifier ver;
	size_t len;
	TEST_HEX(salt, SALT);

	cr_assert_eq(
	        ls_sespake_verifier_make(LS_CURVE_TC26_512_A, 3, salt, salt_len, PW, PW_LEN, &ver),
	        LS_OK);
	cr_assert_eq(ls_sespake_client_new(LS_CURVE_TC26_512_A, 3, salt, salt_len, PW, PW_LEN, NULL,
	                                   0, NULL, 0, &a),
	             LS_OK);
	cr_assert_eq(ls_sespake_server_new(&ver, NULL, 0, NULL, 0, &b), LS_OK);
	cr_assert_eq(ls_sespake_server_confirm(b, NULL, 0, mac_a, 32, NULL, 0, mac_b),
	             LS_ERR_STATE);
	cr_assert_eq(ls_sespake_client_start(b, u1, sizeof(u1), &len), LS_ERR_STATE);
	cr_assert_eq(ls_sespake_client_start(a, u1, sizeof(u1), &len), LS_OK);
	cr_assert_eq(ls_sespake_server_respond(b, u1, len, u2, sizeof(u2), &len), LS_OK);
	cr_assert_eq(ls_sespake_server_respond(b, u1, 128, u2, sizeof(u2), &len), LS_ERR_STATE);
	cr_assert_eq(ls_sespake_client_finish(b, u2, len, NULL, 0, mac_a), LS_ERR_STATE);
	cr_assert_eq(ls_sespake_key(b, key), LS_ERR_STATE);
	cr_assert_eq(ls_sespake_client_finish(a, u2, len, NULL, 0, mac_a), LS_OK);
	cr_assert_eq(ls_sespake_client_finish(a, u2, len, NULL, 0, mac_a), LS_ERR_STATE);
	cr_assert_eq(ls_sespake_server_confirm(b, NULL, 0, mac_a, 32, NULL, 0, mac_b), LS_OK);
	cr_assert_eq(ls_sespake_client_confirm(a, NULL, 0, mac_b, 32), LS_OK);
	/* done: only the key remains */
	cr_assert_eq(ls_sespake_key(a, key), LS_OK);
	cr_assert_eq(ls_sespake_key(b, key2), LS_OK);
	cr_assert_arr_eq(key, key2, 32);
	cr_assert_eq(ls_sespake_client_confirm(a, NULL, 0, mac_b, 32), LS_ERR_STATE);
	cr_assert_eq(ls_sespake_server_confirm(b, NULL, 0, mac_a, 32, NULL, 0, mac_b),
	             LS_ERR_STATE);
	cr_assert_eq(ls_sespake_key(a, key2), LS_OK, "the key stays readable");
	cr_assert_arr_eq(key, key2, 32);
	ls_sespake_free(a);
	ls_sespake_free(b);
	ls_sespake_free(NULL);
}

Test(sespake_args, construction)
{
	uint8_t salt[65] = {0}, id[257] = {0};
	ls_sespake_ctx *a = NULL;
	ls_sespake_verifier ver;

	cr_assert_eq(ls_sespake_point_size(LS_CURVE_CP_A), 64);
	cr_assert_eq(ls_sespake_point_size(LS_CURVE_TC26_512_C), 128);
	cr_assert_eq(ls_sespake_point_size(LS_CURVE_TEST_256), 0);
	cr_assert_eq(ls_sespake_point_size((ls_curve)0), 0);

	cr_assert_eq(ls_sespake_client_new(LS_CURVE_TEST_256, 1, salt, 16, PW, PW_LEN, NULL, 0,
	                                   NULL, 0, &a),
	             LS_ERR_UNSUPPORTED);
	cr_assert_eq(ls_sespake_client_new(LS_CURVE_TEST_512, 1, salt, 16, PW, PW_LEN, NULL, 0,
	                                   NULL, 0, &a),
	             LS_ERR_UNSUPPORTED);
	cr_assert_eq(
	        ls_sespake_client_new((ls_curve)42, 1, salt, 16, PW, PW_LEN, NULL, 0, NULL, 0, &a),
	        LS_ERR_UNSUPPORTED);
	cr_assert_eq(
	        ls_sespake_client_new(LS_CURVE_CP_A, 0, salt, 16, PW, PW_LEN, NULL, 0, NULL, 0, &a),
	        LS_ERR_INVALID_ARG);
	cr_assert_eq(
	        ls_sespake_client_new(LS_CURVE_CP_A, 4, salt, 16, PW, PW_LEN, NULL, 0, NULL, 0, &a),
	        LS_ERR_INVALID_ARG);
	cr_assert_eq(
	        ls_sespake_client_new(LS_CURVE_CP_A, 1, salt, 15, PW, PW_LEN, NULL, 0, NULL, 0, &a),
	        LS_ERR_BAD_LENGTH);
	cr_assert_eq(
	        ls_sespake_client_new(LS_CURVE_CP_A, 1, salt, 65, PW, PW_LEN, NULL, 0, NULL, 0, &a),
	        LS_ERR_BAD_LENGTH);
	cr_assert_eq(ls_sespake_client_new(LS_CURVE_CP_A, 1, salt, 16, PW, 0, NULL, 0, NULL, 0, &a),
	             LS_ERR_BAD_LENGTH, "an empty password");
	cr_assert_eq(
	        ls_sespake_client_new(LS_CURVE_CP_A, 1, salt, 16, PW, PW_LEN, id, 257, NULL, 0, &a),
	        LS_ERR_BAD_LENGTH);
	cr_assert_eq(
	        ls_sespake_client_new(LS_CURVE_CP_A, 1, salt, 16, PW, PW_LEN, NULL, 0, id, 257, &a),
	        LS_ERR_BAD_LENGTH);
	cr_assert_eq(
	        ls_sespake_client_new(LS_CURVE_CP_A, 1, NULL, 16, PW, PW_LEN, NULL, 0, NULL, 0, &a),
	        LS_ERR_INVALID_ARG);
	cr_assert_null(a, "nothing handed out on failure");
	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_A, 1, salt, 16, PW, PW_LEN, NULL),
	             LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_A, 1, NULL, 65, PW, PW_LEN, &ver),
	             LS_ERR_BAD_LENGTH);
	cr_assert_eq(ls_sespake_server_new(NULL, NULL, 0, NULL, 0, &a), LS_ERR_INVALID_ARG);
}

Test(sespake_args, step_lengths)
{
	static uint8_t big[LS_SESPAKE_DATA_MAX + 1];
	uint8_t u1[128], u2[128], mac[32], low[32] = {0}, q[32];
	ls_sespake_ctx *a = NULL, *b = NULL;
	ls_sespake_verifier ver;
	size_t len = 0;
	TEST_HEX(salt, SALT);

	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_A, 1, salt, salt_len, PW, PW_LEN, &ver),
	             LS_OK);

	/* test hook: the scalar must be 1..q-1 of the curve's size */
	cr_assert_eq(ls_sespake_client_new(LS_CURVE_CP_A, 1, salt, salt_len, PW, PW_LEN, NULL, 0,
	                                   NULL, 0, &a),
	             LS_OK);
	cr_assert_eq(ls_sespake_test_set_scalar(a, low, 32), LS_ERR_INVALID_ARG, "zero");
	le_from_hex("ffffffffffffffffffffffffffffffff6c611070995ad10045841b09b761b893", 32, q);
	cr_assert_eq(ls_sespake_test_set_scalar(a, q, 32), LS_ERR_INVALID_ARG, "q");
	cr_assert_eq(ls_sespake_test_set_scalar(a, q, 31), LS_ERR_BAD_LENGTH);
	q[0]--;
	cr_assert_eq(ls_sespake_test_set_scalar(a, q, 32), LS_OK, "q - 1");
	/* an output buffer too small ends the exchange */
	cr_assert_eq(ls_sespake_client_start(a, u1, 63, &len), LS_ERR_BAD_LENGTH);
	cr_assert_eq(ls_sespake_client_start(a, u1, sizeof(u1), &len), LS_ERR_STATE);
	ls_sespake_free(a);

	/* DATA_A too long */
	cr_assert_eq(ls_sespake_client_new(LS_CURVE_CP_A, 1, salt, salt_len, PW, PW_LEN, NULL, 0,
	                                   NULL, 0, &a),
	             LS_OK);
	cr_assert_eq(ls_sespake_server_new(&ver, NULL, 0, NULL, 0, &b), LS_OK);
	cr_assert_eq(ls_sespake_client_start(a, u1, sizeof(u1), &len), LS_OK);
	cr_assert_eq(ls_sespake_server_respond(b, u1, len, u2, 63, &len), LS_ERR_BAD_LENGTH);
	cr_assert_eq(ls_sespake_client_finish(a, u1, 64, big, sizeof(big), mac), LS_ERR_BAD_LENGTH);
	ls_sespake_free(a);
	ls_sespake_free(b);

	/* DATA_B too long, on both sides */
	cr_assert_eq(ls_sespake_client_new(LS_CURVE_CP_A, 1, salt, salt_len, PW, PW_LEN, NULL, 0,
	                                   NULL, 0, &a),
	             LS_OK);
	cr_assert_eq(ls_sespake_server_new(&ver, NULL, 0, NULL, 0, &b), LS_OK);
	cr_assert_eq(ls_sespake_client_start(a, u1, sizeof(u1), &len), LS_OK);
	cr_assert_eq(ls_sespake_server_respond(b, u1, len, u2, sizeof(u2), &len), LS_OK);
	cr_assert_eq(ls_sespake_client_finish(a, u2, len, NULL, 0, mac), LS_OK);
	cr_assert_eq(ls_sespake_server_confirm(b, NULL, 0, mac, 32, big, sizeof(big), mac),
	             LS_ERR_BAD_LENGTH);
	cr_assert_eq(ls_sespake_client_confirm(a, big, sizeof(big), mac, 32), LS_ERR_BAD_LENGTH);
	ls_sespake_free(a);
	ls_sespake_free(b);
}

/* ---------------------------------------------------------------------------------------------
 * The verifier
 * ------------------------------------------------------------------------------------------- */

Test(sespake_verifier, stored_bytes_serve_a_password_client)
{
	uint8_t stored[sizeof(ls_sespake_verifier)];
	ls_sespake_verifier made, loaded, other;
	struct run r;

	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_TC26_256_A, 2, NULL, 32, "s3cret", 6, &made),
	             LS_OK);
	cr_assert_eq(made.version, LS_SESPAKE_VERIFIER_VERSION);
	cr_assert_eq(made.curve, LS_CURVE_TC26_256_A);
	cr_assert_eq(made.ind, 2);
	cr_assert_eq(made.salt_len, 32);
	cr_assert_eq(
	        ls_sespake_verifier_make(LS_CURVE_TC26_256_A, 2, NULL, 32, "s3cret", 6, &other),
	        LS_OK);
	cr_assert(memcmp(made.salt, other.salt, 32) != 0, "a fresh random salt each time");
	cr_assert(memcmp(made.q_pw, other.q_pw, 64) != 0);

	/* what the server writes to its database and reads back */
	memcpy(stored, &made, sizeof(stored));
	ls_wipe(&made, sizeof(made));
	memcpy(&loaded, stored, sizeof(loaded));
	cr_assert_eq(ls_sespake_verifier_check(&loaded), LS_OK);

	/* the client learns curve, ind and salt from the server, and types the password */
	exchange(&loaded, LS_CURVE_TC26_256_A, loaded.ind, loaded.salt, loaded.salt_len, "s3cret",
	         NULL, 0, NULL, 0, &r);
	assert_success(&r, "stored verifier");
}

Test(sespake_verifier, other_salt_or_point_fails)
{
	ls_sespake_verifier v1, v_salt, v_ind;
	uint8_t salt2[16];
	struct run r;
	TEST_HEX(salt, SALT);

	memcpy(salt2, salt, 16);
	salt2[15] ^= 1;
	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_B, 1, salt, 16, PW, PW_LEN, &v1), LS_OK);
	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_B, 1, salt2, 16, PW, PW_LEN, &v_salt),
	             LS_OK);
	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_B, 2, salt, 16, PW, PW_LEN, &v_ind),
	             LS_OK);

	exchange(&v1, LS_CURVE_CP_B, 1, salt, 16, PW, NULL, 0, NULL, 0, &r);
	assert_success(&r, "control");

	/* right password, but the server holds a verifier made with another salt */
	exchange(&v_salt, LS_CURVE_CP_B, 1, salt, 16, PW, NULL, 0, NULL, 0, &r);
	cr_assert_eq(r.s_confirm, LS_ERR_AUTH_FAILED);
	cr_assert_eq(r.key_a_rc, LS_ERR_STATE);
	cr_assert_eq(r.key_b_rc, LS_ERR_STATE);

	/* ... or with another point Q_ind */
	exchange(&v_ind, LS_CURVE_CP_B, 1, salt, 16, PW, NULL, 0, NULL, 0, &r);
	cr_assert_eq(r.s_confirm, LS_ERR_AUTH_FAILED);
	cr_assert_eq(r.key_a_rc, LS_ERR_STATE);
	cr_assert_eq(r.key_b_rc, LS_ERR_STATE);
}

Test(sespake_verifier, corrupt_records_refused)
{
	ls_sespake_verifier good, v;
	ls_sespake_ctx *b = NULL;
	TEST_HEX(salt, SALT);

	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_A, 1, salt, 16, PW, PW_LEN, &good),
	             LS_OK);
	cr_assert_eq(ls_sespake_verifier_check(&good), LS_OK);

#define CHECK_CORRUPT(stmt, err)                                                                   \
	do {                                                                                       \
		v = good;                                                                          \
		stmt;                                                                              \
		cr_assert_eq(ls_sespake_verifier_check(&v), (err), "%s", #stmt);                   \
		cr_assert_eq(ls_sespake_server_new(&v, NULL, 0, NULL, 0, &b), (err), "%s", #stmt); \
		cr_assert_null(b);                                                                 \
	} while (0)

	CHECK_CORRUPT(v.version = 0, LS_ERR_MALFORMED);
	CHECK_CORRUPT(v.version = 2, LS_ERR_MALFORMED);
	CHECK_CORRUPT(v.ind = 0, LS_ERR_MALFORMED);
	CHECK_CORRUPT(v.ind = 4, LS_ERR_MALFORMED);
	CHECK_CORRUPT(v.salt_len = 15, LS_ERR_MALFORMED);
	CHECK_CORRUPT(v.salt_len = 65, LS_ERR_MALFORMED);
	CHECK_CORRUPT(v.salt[40] = 1, LS_ERR_MALFORMED);
	CHECK_CORRUPT(v.q_pw[64] = 1, LS_ERR_MALFORMED);
	CHECK_CORRUPT(v.curve = LS_CURVE_TEST_256, LS_ERR_UNSUPPORTED);
	CHECK_CORRUPT(v.curve = 0, LS_ERR_UNSUPPORTED);
	CHECK_CORRUPT(v.curve = LS_CURVE_CP_B, LS_ERR_BAD_POINT);
	CHECK_CORRUPT(v.q_pw[33] ^= 1, LS_ERR_BAD_POINT);
	CHECK_CORRUPT(memset(v.q_pw, 0, sizeof(v.q_pw)), LS_ERR_BAD_POINT);
	CHECK_CORRUPT(memset(v.q_pw, 0xff, 64), LS_ERR_BAD_POINT);
#undef CHECK_CORRUPT
}

/* ---------------------------------------------------------------------------------------------
 * RFC 8133 counters
 * ------------------------------------------------------------------------------------------- */

Test(sespake_counters, limits_ranges)
{
	static const ls_sespake_limits bad[] = {
	        {2, 7, 10000}, {6, 7, 10000},  {3, 6, 10000}, {3, 21, 10000},
	        {3, 7, 999},   {3, 7, 100001}, {0, 0, 0},
	};
	static const ls_sespake_limits good[] = {
	        {3, 7, 1000},
	        {5, 20, 100000},
	        {4, 10, 5000},
	};
	ls_sespake_counters c = {1, 1, 1}, before;
	size_t i;

	cr_assert_eq(ls_sespake_limits_check(&LS_SESPAKE_LIMITS_DEFAULT), LS_OK);
	cr_assert_eq(ls_sespake_counters_init(&LS_SESPAKE_LIMITS_DEFAULT, &c), LS_OK);
	cr_assert_eq(c.c1, 3);
	cr_assert_eq(c.c2, 7);
	cr_assert_eq(c.c3, 10000);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(ls_sespake_limits_check(&good[i]), LS_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		before = c;
		cr_assert_eq(ls_sespake_limits_check(&bad[i]), LS_ERR_INVALID_ARG, "limits %zu", i);
		cr_assert_eq(ls_sespake_counters_init(&bad[i], &c), LS_ERR_INVALID_ARG);
		cr_assert_eq(ls_sespake_counters_begin(&bad[i], &c), LS_ERR_INVALID_ARG);
		cr_assert_eq(ls_sespake_counters_success(&bad[i], &c), LS_ERR_INVALID_ARG);
		cr_assert_eq(memcmp(&c, &before, sizeof(c)), 0, "untouched on error");
	}
	/* counters above their limits: corrupt storage */
	c.c1 = 4;
	cr_assert_eq(ls_sespake_counters_begin(&LS_SESPAKE_LIMITS_DEFAULT, &c), LS_ERR_INVALID_ARG);
	cr_assert_eq(c.c1, 4);
}

Test(sespake_counters, consecutive_failures_block_and_success_resets)
{
	const ls_sespake_limits lim = LS_SESPAKE_LIMITS_DEFAULT;
	ls_sespake_counters c, before;
	unsigned i;

	cr_assert_eq(ls_sespake_counters_init(&lim, &c), LS_OK);
	/* two failures, then a success: C1 back to CLim1, C2 lost one net per failure */
	for (i = 0; i < 2; i++)
		cr_assert_eq(ls_sespake_counters_begin(&lim, &c), LS_OK);
	cr_assert_eq(ls_sespake_counters_begin(&lim, &c), LS_OK);
	cr_assert_eq(ls_sespake_counters_success(&lim, &c), LS_OK);
	cr_assert_eq(c.c1, 3);
	cr_assert_eq(c.c2, 5);
	cr_assert_eq(c.c3, 9997);

	/* CLim1 consecutive failures exhaust C1 */
	for (i = 0; i < lim.clim1; i++)
		cr_assert_eq(ls_sespake_counters_begin(&lim, &c), LS_OK, "attempt %u", i);
	cr_assert_eq(c.c1, 0);
	before = c;
	cr_assert_eq(ls_sespake_counters_begin(&lim, &c), LS_ERR_ATTEMPTS_EXHAUSTED);
	cr_assert_eq(memcmp(&c, &before, sizeof(c)), 0, "a refused attempt changes nothing");
	cr_assert_eq(c.c2, 2);
	cr_assert_eq(c.c3, 9994);
}

Test(sespake_counters, accumulated_failures_exhaust_c2)
{
	const ls_sespake_limits lim = LS_SESPAKE_LIMITS_DEFAULT;
	ls_sespake_counters c;
	unsigned attempts = 0;

	cr_assert_eq(ls_sespake_counters_init(&lim, &c), LS_OK);
	/* fail, fail, succeed, ...: C1 never reaches 0, C2 loses 2 - 1 per round */
	while (ls_sespake_counters_begin(&lim, &c) == LS_OK) {
		attempts++;
		if (attempts % 3 == 0)
			cr_assert_eq(ls_sespake_counters_success(&lim, &c), LS_OK);
		cr_assert_lt(attempts, 100);
	}
	cr_assert_eq(c.c2, 0);
	cr_assert_gt(c.c1, 0, "blocked by C2, not C1");
	cr_assert_eq(c.c3, lim.clim3 - attempts);
}

Test(sespake_counters, c3_counts_every_run)
{
	const ls_sespake_limits lim = {.clim1 = 3, .clim2 = 7, .clim3 = 1000};
	ls_sespake_counters c;
	unsigned i;

	cr_assert_eq(ls_sespake_counters_init(&lim, &c), LS_OK);
	for (i = 0; i < lim.clim3; i++) {
		cr_assert_eq(ls_sespake_counters_begin(&lim, &c), LS_OK);
		cr_assert_eq(c.c3, lim.clim3 - i - 1, "C3 goes down on every run");
		cr_assert_eq(ls_sespake_counters_success(&lim, &c), LS_OK);
		cr_assert_eq(c.c1, lim.clim1);
		cr_assert_eq(c.c2, lim.clim2, "a success gives C2 back");
	}
	cr_assert_eq(ls_sespake_counters_begin(&lim, &c), LS_ERR_ATTEMPTS_EXHAUSTED,
	             "the password has expired");
	cr_assert_eq(c.c3, 0);
}

/* The counters around real exchanges, as the server drives them. */
Test(sespake_counters, server_locks_out_a_guesser)
{
	const ls_sespake_limits lim = LS_SESPAKE_LIMITS_DEFAULT;
	ls_sespake_counters c;
	ls_sespake_verifier ver;
	struct run r;
	unsigned i;

	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_A, 1, NULL, 16, PW, PW_LEN, &ver), LS_OK);
	cr_assert_eq(ls_sespake_counters_init(&lim, &c), LS_OK);

	cr_assert_eq(ls_sespake_counters_begin(&lim, &c), LS_OK);
	exchange_with(&ver, PW, &r);
	assert_success(&r, "first login");
	cr_assert_eq(ls_sespake_counters_success(&lim, &c), LS_OK);

	for (i = 0; i < lim.clim1; i++) {
		cr_assert_eq(ls_sespake_counters_begin(&lim, &c), LS_OK);
		exchange_with(&ver, "guess", &r);
		cr_assert_eq(r.s_confirm, LS_ERR_AUTH_FAILED);
	}
	/* even the right password is refused now, before any SESPAKE message */
	cr_assert_eq(ls_sespake_counters_begin(&lim, &c), LS_ERR_ATTEMPTS_EXHAUSTED);
	/* an administrator resets the counters; the next login works and C1 is full again */
	cr_assert_eq(ls_sespake_counters_init(&lim, &c), LS_OK);
	cr_assert_eq(ls_sespake_counters_begin(&lim, &c), LS_OK);
	exchange_with(&ver, PW, &r);
	assert_success(&r, "after reset");
	cr_assert_eq(ls_sespake_counters_success(&lim, &c), LS_OK);
	cr_assert_eq(c.c1, lim.clim1);
}
