/*
 * LS11CLOUD - SESPAKE (RFC 8133) on OpenSSL's generic prime-curve arithmetic.
 *
 * gost-engine does not expose point arithmetic, so each curve is built once, on first use, as an
 * EC_GROUP_new_curve_GFp group in our library context, with order and cofactor set: then
 * EC_POINT_mul() with a single scalar takes OpenSSL's constant-time Montgomery ladder (with
 * coordinate blinding), which is the only way a secret scalar (F, alpha, beta) is ever used here.
 * The groups and the points Q_1..Q_3 are shared read-only by all threads afterwards.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "crypto-private.h"
#include "sespake.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#define NUM_CURVES 7

/*
 * Curve constants as in gost-engine 3.0.1 gost_params.c (and shared/reference/oracles), points
 * Q_1..Q_3 as published with RFC 8133; all big-endian hex.  m/q is the cofactor.
 */
struct curve_def {
	ls_curve curve;
	const char *name;
	size_t size;       /* coordinate and scalar bytes */
	unsigned cofactor; /* m/q: 1 or 4 */
	const char *p, *a, *b, *q, *px, *py;
	const char *qind[LS_SESPAKE_NUM_POINTS][2];
};

/* clang-format off */
static const struct curve_def curve_defs[NUM_CURVES] = {
	{
		.curve = LS_CURVE_CP_A,
		.name = "cp-A",
		.size = 32,
		.cofactor = 1,
		.p = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd97",
		.a = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd94",
		.b = "00000000000000000000000000000000000000000000000000000000000000a6",
		.q = "ffffffffffffffffffffffffffffffff6c611070995ad10045841b09b761b893",
		.px = "0000000000000000000000000000000000000000000000000000000000000001",
		.py = "8d91e471e0989cda27df505a453f2b7635294f2ddf23e3b122acc99c9e9f1e14",
		.qind = {
			{ "a33ce065b0c23e1d3d026a206f8a1f8747ed1cd92a665bf85198cdb10ac90a5c",
			  "b00d0dc0733883f05de9f55fd711f55998f5508cc40bead80c913b4d5b533667" },
			{ "4ce9c2bcf17212b9efcab65c3c815c0ff96d7461c957634dbfd1fe7c9a324d27",
			  "f7500d7adea2c2b4a16d838a8faa02b46639eb881f124d0f2506efca0e24289d" },
			{ "31fb8e5070b1e0f52f047f40477c38c6020fd8da9f685791f9237cc47bd89324",
			  "8ba1184a4e296dc5c5873639747339ecc71b7fa44d31cc8e35b6615a4f797dd7" },
		},
	},
	{
		.curve = LS_CURVE_CP_B,
		.name = "cp-B",
		.size = 32,
		.cofactor = 1,
		.p = "8000000000000000000000000000000000000000000000000000000000000c99",
		.a = "8000000000000000000000000000000000000000000000000000000000000c96",
		.b = "3e1af419a269a5f866a7d3c25c3df80ae979259373ff2b182f49d4ce7e1bbc8b",
		.q = "800000000000000000000000000000015f700cfff1a624e5e497161bcc8a198f",
		.px = "0000000000000000000000000000000000000000000000000000000000000001",
		.py = "3fa8124359f96680b83d1c3eb2c070e5c545c9858d03ecfb744bf8d717717efc",
		.qind = {
			{ "0ad754474a915d9d706c6b8dc879858a1cb85cc8f6c148fc3120825393ecd394",
			  "68c33b6d0343cf72cb19666ffd487fa94294dc677b28c8e27ec36068ff85ed83" },
			{ "1cd96e72fdf1ce6b544dec12d0d7bcb9f6ba65bba3d9f7af732bcb133c1b6437",
			  "34ab5b63c286a2b885ca443ac875a8f9ec0c2f148f1622bc64c83b80e6e3d31f" },
			{ "18dda7154e5abef001dc9943554439cb44b9e26256def176849da5f09b5f690d",
			  "3ef584be59673d1751b2fd6e3fdc619e3d756c0d355595b3a62196de048ece44" },
		},
	},
	{
		.curve = LS_CURVE_CP_C,
		.name = "cp-C",
		.size = 32,
		.cofactor = 1,
		.p = "9b9f605f5a858107ab1ec85e6b41c8aacf846e86789051d37998f7b9022d759b",
		.a = "9b9f605f5a858107ab1ec85e6b41c8aacf846e86789051d37998f7b9022d7598",
		.b = "000000000000000000000000000000000000000000000000000000000000805a",
		.q = "9b9f605f5a858107ab1ec85e6b41c8aa582ca3511eddfb74f02f3a6598980bb9",
		.px = "0000000000000000000000000000000000000000000000000000000000000000",
		.py = "41ece55743711a8c3cbf3783cd08c0ee4d4dc440d4641a8f366e550dfdb3bb67",
		.qind = {
			{ "339f791f62938871f241c1c89643619aa8b2c7d7706ce69be01fddff3f840003",
			  "31d6d9264cc6f8fe09bf7aa48910b4ad5ddfd74a2ef4699b76de09ffed295f11" },
			{ "80f4d03b00b1b9b53f6bb4ffa52be65a6d316de846e27f44ccd795bc62d89e23",
			  "38dd712518ddec19b46afccccba97338d89d1292427dc12985d4e848066cd1ab" },
			{ "0c8b64c3f0ec7ece81b6232db2e8054666d051ee28254d4b9a4bcb1460ca546b",
			  "88c98b48b22b90d0d3a018da55ca0d05cedd82b6c838bd62aba2b823ce82b28f" },
		},
	},
	{
		.curve = LS_CURVE_TC26_256_A,
		.name = "tc26-256-A",
		.size = 32,
		.cofactor = 4,
		.p = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd97",
		.a = "c2173f1513981673af4892c23035a27ce25e2013bf95aa33b22c656f277e7335",
		.b = "295f9bae7428ed9ccc20e7c359a9d41a22fccd9108e17bf7ba9337a6f8ae9513",
		.q = "400000000000000000000000000000000fd8cddfc87b6635c115af556c360c67",
		.px = "91e38443a5e82c0d880923425712b2bb658b9196932e02c78b2582fe742daa28",
		.py = "32879423ab1a0375895786c4bb46e9565fde0b5344766740af268adb32322e5c",
		.qind = {
			{ "5161b08a973d521bdde0cbd45b68aa0470e1058dd936e5bd618fd3373770eed9",
			  "c1633db551677c62b9c2b69d47e503c0f8ca83b6b3109dece0a5f985d77a83a7" },
			{ "d47abd59dccad35849dec9dc721ffa1e44419ca8686406a9f441e61294b210ed",
			  "a78b64220bf3375d08de0ea5e2920cfd8f204da6757bf1878ac870fb7e5ca0e8" },
			{ "e0d610ff42ce21eb308980964ca368963fbe5cb08c277187d22d0c94f4bf0762",
			  "82619b88da25b666e07b617ff487be8afd5af8b092568b493ecef44ee0c04b5f" },
		},
	},
	{
		.curve = LS_CURVE_TC26_512_A,
		.name = "tc26-512-A",
		.size = 64,
		.cofactor = 1,
		.p = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		       "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffdc7",
		.a = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		       "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffdc4",
		.b = "e8c2505dedfc86ddc1bd0b2b6667f1da34b82574761cb0e879bd081cfd0b6265"
		       "ee3cb090f30d27614cb4574010da90dd862ef9d4ebee4761503190785a71c760",
		.q = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		       "27e69532f48d89116ff22b8d4e0560609b4b38abfad2b85dcacdb1411f10b275",
		.px = "0000000000000000000000000000000000000000000000000000000000000000"
		       "0000000000000000000000000000000000000000000000000000000000000003",
		.py = "7503cfe87a836ae3a61b8816e25450e6ce5e1c93acf1abc1778064fdcbefa921"
		       "df1626be4fd036e93d75e6a50e3a41e98028fe5fc235f5b889a589cb5215f2a4",
		.qind = {
			{ "301aac1a3b3e9c8a65bc095b541ce1d23728b93818e8b61f963e5d5b13eec0fe"
			  "e6b06f8cd481a07bb647b649232e5179b019eef7296a3d9cfa2b66ee8bf0cbf2",
			  "191177dd41ce19cc849c3938abf3adaab366e5eb2d22a972b2dcc69283523e89"
			  "c9907f1d89ab9d96f473f96815da6e0a47297fcdd8b3adac37d4886f7ad055e0" },
			{ "7edc38f17f88e3105bafb67c419d58fe6a9094dd4dc1a83bcaccc61f020ac447"
			  "92eba888457c658ee2d82557b7c6ab6efd61ba0c3327741d09a561a8b860a085",
			  "3af1400a7a469058d9ba75e65ea5d3f4d0bdb357fa57eb73fa4900e2dca4da78"
			  "b8e5ff35ca70e522610bb1fc76b102c81cc4729f94b12822584f6b6229a57ea1" },
			{ "387acfba7bbc5815407474a7c1132a1bded12497243d73ef8133d9810eb21716"
			  "95dde2ff15597e159464a1db207b4d1ff98fbb989f80c2db13bc8ff5fea16d59",
			  "4c816d1ca3e145ac448478fb79a77e1ad2dfc69576685e2f6867ec93fbad8aa4"
			  "4111acd104036317095bce467e98f295436199c8ead57f243860d1bde8d88b68" },
		},
	},
	{
		.curve = LS_CURVE_TC26_512_B,
		.name = "tc26-512-B",
		.size = 64,
		.cofactor = 1,
		.p = "8000000000000000000000000000000000000000000000000000000000000000"
		       "000000000000000000000000000000000000000000000000000000000000006f",
		.a = "8000000000000000000000000000000000000000000000000000000000000000"
		       "000000000000000000000000000000000000000000000000000000000000006c",
		.b = "687d1b459dc841457e3e06cf6f5e2517b97c7d614af138bcbf85dc806c4b289f"
		       "3e965d2db1416d217f8b276fad1ab69c50f78bee1fa3106efb8ccbc7c5140116",
		.q = "8000000000000000000000000000000000000000000000000000000000000001"
		       "49a1ec142565a545acfdb77bd9d40cfa8b996712101bea0ec6346c54374f25bd",
		.px = "0000000000000000000000000000000000000000000000000000000000000000"
		       "0000000000000000000000000000000000000000000000000000000000000002",
		.py = "1a8f7eda389b094c2c071e3647a8940f3c123b697578c213be6dd9e6c8ec7335"
		       "dcb228fd1edf4a39152cbcaaf8c0398828041055f94ceeec7e21340780fe41bd",
		.qind = {
			{ "488cf12b403e539fde9ee32fc36b6ed52aad9ec34ff478c259159a85e99d3dda"
			  "dfd5d73606ecee351e0f780a14c3e9f14e985d9d7ddec93b064fc89b0c843650",
			  "7bc73c032edc5f2c74dd7d9da12e1856a061ce344a77253f620592752b1f3a3d"
			  "cbbc87eb27ec4ed5e236dfeb03f3972404747e277671e53a9e412e82aaf6c3f7" },
			{ "175166b97248bda12ec035df2e312a2771d0b16977c9cbc79461ff05e01f719c"
			  "92ae8b53f3b7e3edcacffcc5063b5e9c8de18d0cb87da358350992132173df69",
			  "10e2943dc1a18a841ab76ac756fa974948d5a18d071d458a4769c2494fe2a6c5"
			  "966e3c8931e624d87259156aea9317157502698e4a4a489c327b89277cf59b4c" },
			{ "01f4583db894cdebd7c591af848783ee011a20567751ca1561f398a6118ace08"
			  "a4efe1501bda67f39d060270ba660526dc53063c6b40fa5548c9a9e7688f2239",
			  "7bc640641d70c8296bd9257c9eebb5b1bd3196a169bac04f7579bf27b5847d4e"
			  "7b4f63748ad81b5469070ed35ad93e5a5258652306f84094eae04a91954536ee" },
		},
	},
	{
		.curve = LS_CURVE_TC26_512_C,
		.name = "tc26-512-C",
		.size = 64,
		.cofactor = 4,
		.p = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		       "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffdc7",
		.a = "dc9203e514a721875485a529d2c722fb187bc8980eb866644de41c68e1430645"
		       "46e861c0e2c9edd92ade71f46fcf50ff2ad97f951fda9f2a2eb6546f39689bd3",
		.b = "b4c4ee28cebc6c2c8ac12952cf37f16ac7efb6a9f69f4b57ffda2e4f0de5ade0"
		       "38cbc2fff719d2c18de0284b8bfef3b52b8cc7a5f5bf0a3c8d2319a5312557e1",
		.q = "3fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		       "c98cdba46506ab004c33a9ff5147502cc8eda9e7a769a12694623cef47f023ed",
		.px = "e2e31edfc23de7bdebe241ce593ef5de2295b7a9cbaef021d385f7074cea043a"
		       "a27272a7ae602bf2a7b9033db9ed3610c6fb85487eae97aac5bc7928c1950148",
		.py = "f5ce40d95b5eb899abbccff5911cb8577939804d6527378b8c108c3d2090ff9b"
		       "e18e2d33e3021ed2ef32d85822423b6304f726aa854bae07d0396e9a9addc40f",
		.qind = {
			{ "5b065ead2e94de0ee2e462de204c93c6b2bf3498ad920393cb60259e1a8ffc7c"
			  "7e7d4defa20ff4282abf70207e4611d532f40db6800e29d2b53f6ac0713e5b38",
			  "a39a28c59ff7f796b85223b8834384907c626086415487288ed1182ca4487dc1"
			  "ae5f37af90fd267b7c0dc8542ea52cd984af54731bc84271d6186d973c91359b" },
			{ "b3e6c475f173af4494dd02ad7c9df3bd6a5ca82c3d65ad86fbb330dfb1c40e34"
			  "c4cd04d93f609cff2daea5907d0e08192a29be3ff27522223b868e8bcc6a7b74",
			  "53ffcf818281bcf383d9b6542b3b1fcee5bd20cd1c805ed1dacb83ba161167a5"
			  "eb96df52c1d290496043ea514c465ecb37970fcd7ffbb6ca35a767cd0227fe8c" },
			{ "be963ad90f84ff9ff6ff7ddd39d91cea649e849bf20b8cc1e72040cf689a974f"
			  "40f24e10c737bfa558b514c605b7c156e24251b859202b12ef311b0f363171eb",
			  "007cfa56f5ae239694e74f7996e1f44fcd4f62205a555fdb627e4212576b4591"
			  "7f88667bcd924a3271f40dc4bbd2f2e216b4fcf59c25fdd8154241d40f42e2ad" },
		},
	},
};
/* clang-format on */

/* A curve ready for use: built once by curve_build(), read-only afterwards. */
struct curve_rt {
	const struct curve_def *def;
	EC_GROUP *group;
	BIGNUM *p;
	BIGNUM *q;
	BIGNUM *cofactor;
	EC_POINT *qind[LS_SESPAKE_NUM_POINTS];
	int status;
};

static struct curve_rt curves[NUM_CURVES];

static int
curve_index(ls_curve curve)
{
	int i;

	for (i = 0; i < NUM_CURVES; i++) {
		if (curve_defs[i].curve == curve)
			return i;
	}
	return -1;
}

static void
curve_clear(struct curve_rt *c)
{
	size_t i;

	for (i = 0; i < LS_SESPAKE_NUM_POINTS; i++) {
		EC_POINT_free(c->qind[i]);
		c->qind[i] = NULL;
	}
	EC_GROUP_free(c->group);
	BN_free(c->p);
	BN_free(c->q);
	BN_free(c->cofactor);
	c->group = NULL;
	c->p = c->q = c->cofactor = NULL;
}

static int
curve_load(struct curve_rt *c, const struct curve_def *d)
{
	BN_CTX *bn = NULL;
	BIGNUM *a = NULL, *b = NULL, *x = NULL, *y = NULL;
	EC_POINT *g = NULL, *chk = NULL;
	int r = LS_ERR_CRYPTO;
	size_t i;

	if ((bn = BN_CTX_new_ex(ls_crypto_libctx())) == NULL || (c->cofactor = BN_new()) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if (!BN_hex2bn(&c->p, d->p) || !BN_hex2bn(&a, d->a) || !BN_hex2bn(&b, d->b) ||
	    !BN_hex2bn(&c->q, d->q) || !BN_hex2bn(&x, d->px) || !BN_hex2bn(&y, d->py) ||
	    !BN_set_word(c->cofactor, d->cofactor)) {
		r = ls_crypto_fail("BN_hex2bn (SESPAKE curve constants)");
		goto out;
	}
	/* The BN_CTX carries our library context into the group (3.0 has no _ex variant). */
	if ((c->group = EC_GROUP_new_curve_GFp(c->p, a, b, bn)) == NULL) {
		r = ls_crypto_fail("EC_GROUP_new_curve_GFp");
		goto out;
	}
	/* Order and cofactor set: what makes EC_POINT_mul() take the constant-time ladder. */
	if ((g = EC_POINT_new(c->group)) == NULL ||
	    !EC_POINT_set_affine_coordinates(c->group, g, x, y, bn) ||
	    !EC_GROUP_set_generator(c->group, g, c->q, c->cofactor)) {
		r = ls_crypto_fail("EC_GROUP_set_generator");
		goto out;
	}
	if (EC_GROUP_check(c->group, bn) != 1) {
		r = ls_crypto_fail("EC_GROUP_check");
		goto out;
	}
	if ((chk = EC_POINT_new(c->group)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < LS_SESPAKE_NUM_POINTS; i++) {
		if (!BN_hex2bn(&x, d->qind[i][0]) || !BN_hex2bn(&y, d->qind[i][1]) ||
		    (c->qind[i] = EC_POINT_new(c->group)) == NULL ||
		    !EC_POINT_set_affine_coordinates(c->group, c->qind[i], x, y, bn) ||
		    !EC_POINT_mul(c->group, chk, NULL, c->qind[i], EC_GROUP_get0_order(c->group),
		                  bn)) {
			r = ls_crypto_fail("loading the SESPAKE points Q_i");
			goto out;
		}
		if (!EC_POINT_is_at_infinity(c->group, chk)) {
			ls_error("SESPAKE: Q_%zu of %s does not have order q", i + 1, d->name);
			r = LS_ERR_INTERNAL;
			goto out;
		}
	}
	r = LS_OK;
out:
	EC_POINT_free(g);
	EC_POINT_free(chk);
	BN_free(a);
	BN_free(b);
	BN_free(x);
	BN_free(y);
	BN_CTX_free(bn);
	if (r != LS_OK)
		curve_clear(c);
	return r;
}

static void
curve_build(int i)
{
	curves[i].def = &curve_defs[i];
	curves[i].status = curve_load(&curves[i], &curve_defs[i]);
	if (curves[i].status != LS_OK)
		ls_error("SESPAKE: curve %s unavailable: %s", curve_defs[i].name,
		         ls_strerror(curves[i].status));
}

/* pthread_once() routines take no argument: one per curve. */
#define CURVE_ONCE(i)                                                                              \
	static void curve_once_##i(void)                                                           \
	{                                                                                          \
		curve_build(i);                                                                    \
	}
CURVE_ONCE(0)
CURVE_ONCE(1)
CURVE_ONCE(2)
CURVE_ONCE(3)
CURVE_ONCE(4)
CURVE_ONCE(5)
CURVE_ONCE(6)

static void (*const curve_once_fn[NUM_CURVES])(void) = {
	curve_once_0, curve_once_1, curve_once_2, curve_once_3,
	curve_once_4, curve_once_5, curve_once_6,
};
static pthread_once_t curve_once[NUM_CURVES] = {
	PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
	PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
};

static int
curve_get(ls_curve curve, const struct curve_rt **out)
{
	int i = curve_index(curve), r;

	if (i < 0)
		return LS_ERR_UNSUPPORTED;
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	pthread_once(&curve_once[i], curve_once_fn[i]);
	if (curves[i].status != LS_OK)
		return curves[i].status;
	*out = &curves[i];
	return LS_OK;
}

size_t
ls_sespake_point_size(ls_curve curve)
{
	int i = curve_index(curve);

	return i < 0 ? 0 : 2 * curve_defs[i].size;
}

/* ------------------------------------------------------------------------------------------- */

/*
 * Decodes LE(x) || LE(y) into @pt: exactly 2 * size bytes (LS_ERR_BAD_LENGTH), both coordinates
 * below p and the point on the curve (LS_ERR_BAD_POINT).  The identity has no such encoding.
 */
static int
point_decode(const struct curve_rt *c, const uint8_t *in, size_t len, EC_POINT *pt, BN_CTX *bn)
{
	size_t n = c->def->size;
	BIGNUM *x, *y;
	int r = LS_ERR_BAD_POINT;

	if (len != 2 * n)
		return LS_ERR_BAD_LENGTH;
	BN_CTX_start(bn);
	x = BN_CTX_get(bn);
	y = BN_CTX_get(bn);
	if (y == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if (BN_lebin2bn(in, (int)n, x) == NULL || BN_lebin2bn(in + n, (int)n, y) == NULL) {
		r = ls_crypto_fail("BN_lebin2bn");
		goto out;
	}
	if (BN_cmp(x, c->p) >= 0 || BN_cmp(y, c->p) >= 0)
		goto out;
	/* Hostile input is not a backend failure: drop OpenSSL's complaint, say BAD_POINT. */
	if (!EC_POINT_set_affine_coordinates(c->group, pt, x, y, bn) ||
	    EC_POINT_is_on_curve(c->group, pt, bn) != 1) {
		ERR_clear_error();
		goto out;
	}
	r = LS_OK;
out:
	if (y != NULL) {
		BN_clear(x);
		BN_clear(y);
	}
	BN_CTX_end(bn);
	return r;
}

/* Encodes @pt as LE(x) || LE(y); the identity has no encoding (LS_ERR_BAD_POINT). */
static int
point_encode(const struct curve_rt *c, const EC_POINT *pt, uint8_t *out, BN_CTX *bn)
{
	int n = (int)c->def->size;
	BIGNUM *x, *y;
	int r = LS_OK;

	if (EC_POINT_is_at_infinity(c->group, pt))
		return LS_ERR_BAD_POINT;
	BN_CTX_start(bn);
	x = BN_CTX_get(bn);
	y = BN_CTX_get(bn);
	if (y == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if (!EC_POINT_get_affine_coordinates(c->group, pt, x, y, bn) ||
	    BN_bn2lebinpad(x, out, n) != n || BN_bn2lebinpad(y, out + n, n) != n) {
		ls_wipe(out, 2 * (size_t)n);
		r = ls_crypto_fail("EC_POINT_get_affine_coordinates");
	}
	BN_clear(x);
	BN_clear(y);
out:
	BN_CTX_end(bn);
	return r;
}

/*
 * r = k * pt, or k * P when @pt is NULL.  One scalar and one point (or the generator) on a group
 * with order and cofactor: OpenSSL 3 runs its constant-time ladder whatever the BIGNUM flags.
 */
static int
point_mul(const struct curve_rt *c, EC_POINT *r, const EC_POINT *pt, const BIGNUM *k, BN_CTX *bn)
{
	int ok;

	if (pt == NULL)
		ok = EC_POINT_mul(c->group, r, k, NULL, NULL, bn);
	else
		ok = EC_POINT_mul(c->group, r, NULL, pt, k, bn);
	return ok ? LS_OK : ls_crypto_fail("EC_POINT_mul");
}

/* Q_PW = F(PW, salt, 2000) * Q_ind, encoded into @q_pw_out (2 * size bytes). */
static int
derive_qpw(const struct curve_rt *c, unsigned ind, const uint8_t *salt, size_t salt_len,
           const void *password, size_t password_len, uint8_t *q_pw_out)
{
	uint8_t dk[64];
	BN_CTX *bn = NULL;
	BIGNUM *f = NULL;
	EC_POINT *qpw = NULL;
	int r;

	r = ls_pbkdf2_streebog512(password, password_len, salt, salt_len, LS_SESPAKE_ITERATIONS, dk,
	                          sizeof(dk));
	if (r != LS_OK)
		goto out;
	if ((bn = BN_CTX_new_ex(ls_crypto_libctx())) == NULL || (f = BN_secure_new()) == NULL ||
	    (qpw = EC_POINT_new(c->group)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	BN_set_flags(f, BN_FLG_CONSTTIME);
	/* F mod q: the same point (Q_ind has order q), and a scalar the ladder takes as is. */
	if (BN_lebin2bn(dk, (int)c->def->size, f) == NULL || !BN_nnmod(f, f, c->q, bn)) {
		r = ls_crypto_fail("BN_nnmod(F)");
		goto out;
	}
	if (BN_is_zero(f)) {
		r = LS_ERR_BAD_POINT;
		goto out;
	}
	if ((r = point_mul(c, qpw, c->qind[ind - 1], f, bn)) != LS_OK)
		goto out;
	r = point_encode(c, qpw, q_pw_out, bn);
out:
	ls_wipe(dk, sizeof(dk));
	BN_clear_free(f);
	EC_POINT_clear_free(qpw);
	BN_CTX_free(bn);
	return r;
}

/* ------------------------------------------------------------------------------------------- */

enum sespake_state {
	ST_CLIENT_NEW = 1,  /* Q_PW known; next: start */
	ST_CLIENT_SENT_U1,  /* alpha, u1 known; next: finish */
	ST_CLIENT_SENT_MAC, /* K, u2, DATA_A known; next: confirm */
	ST_SERVER_NEW,      /* Q_PW from the verifier; next: respond */
	ST_SERVER_SENT_U2,  /* K, u1, u2 known; next: confirm */
	ST_DONE,            /* only K left */
	ST_FAILED,          /* nothing left */
};

struct ls_sespake_ctx {
	const struct curve_rt *c;
	enum sespake_state state;
	bool degenerate; /* z_A/z_B or src = O: the confirm step must fail */
	uint8_t ind;
	size_t salt_len, id_a_len, id_b_len, data_a_len;
	uint8_t salt[LS_SESPAKE_SALT_MAX];
	uint8_t id_a[LS_SESPAKE_ID_MAX];
	uint8_t id_b[LS_SESPAKE_ID_MAX];
	/* Secrets, wiped on failure and on free (all but k also on success). */
	uint8_t q_pw[LS_SESPAKE_MAX_POINT];
	uint8_t alpha[64]; /* client, between start and finish; little-endian */
	uint8_t k[LS_SESPAKE_KEY_SIZE];
	uint8_t u1[LS_SESPAKE_MAX_POINT];
	uint8_t u2[LS_SESPAKE_MAX_POINT];
	uint8_t data_a[LS_SESPAKE_DATA_MAX];
#ifdef LS11_TEST_HOOKS
	uint8_t fixed_scalar[64];
	bool has_fixed_scalar;
#endif
};

static size_t
ctx_point_size(const ls_sespake_ctx *ctx)
{
	return 2 * ctx->c->def->size;
}

static void
wipe_transcript(ls_sespake_ctx *ctx)
{
	ls_wipe(ctx->q_pw, sizeof(ctx->q_pw));
	ls_wipe(ctx->alpha, sizeof(ctx->alpha));
	ls_wipe(ctx->u1, sizeof(ctx->u1));
	ls_wipe(ctx->u2, sizeof(ctx->u2));
	ls_wipe(ctx->data_a, sizeof(ctx->data_a));
#ifdef LS11_TEST_HOOKS
	ls_wipe(ctx->fixed_scalar, sizeof(ctx->fixed_scalar));
	ctx->has_fixed_scalar = false;
#endif
}

/* Ends the exchange after an error: every secret goes; only ls_sespake_free() remains useful. */
static int
ctx_fail(ls_sespake_ctx *ctx, int err)
{
	wipe_transcript(ctx);
	ls_wipe(ctx->k, sizeof(ctx->k));
	ctx->state = ST_FAILED;
	return err;
}

static void
ctx_done(ls_sespake_ctx *ctx)
{
	wipe_transcript(ctx);
	ctx->state = ST_DONE;
}

static int
check_params(ls_curve curve, unsigned ind, size_t salt_len, size_t password_len,
             const struct curve_rt **c)
{
	if (curve_index(curve) < 0)
		return LS_ERR_UNSUPPORTED;
	if (ind < 1 || ind > LS_SESPAKE_NUM_POINTS)
		return LS_ERR_INVALID_ARG;
	if (salt_len < LS_SESPAKE_SALT_MIN || salt_len > LS_SESPAKE_SALT_MAX || password_len < 1 ||
	    password_len > LS_SESPAKE_PW_MAX)
		return LS_ERR_BAD_LENGTH;
	return curve_get(curve, c);
}

static int
ctx_new(const struct curve_rt *c, enum sespake_state state, unsigned ind, const uint8_t *salt,
        size_t salt_len, const uint8_t *id_a, size_t id_a_len, const uint8_t *id_b, size_t id_b_len,
        ls_sespake_ctx **out)
{
	ls_sespake_ctx *ctx;

	if (id_a_len > LS_SESPAKE_ID_MAX || id_b_len > LS_SESPAKE_ID_MAX)
		return LS_ERR_BAD_LENGTH;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return LS_ERR_NOMEM;
	ctx->c = c;
	ctx->state = state;
	ctx->ind = (uint8_t)ind;
	ctx->salt_len = salt_len;
	memcpy(ctx->salt, salt, salt_len);
	ctx->id_a_len = id_a_len;
	if (id_a_len > 0)
		memcpy(ctx->id_a, id_a, id_a_len);
	ctx->id_b_len = id_b_len;
	if (id_b_len > 0)
		memcpy(ctx->id_b, id_b, id_b_len);
	*out = ctx;
	return LS_OK;
}

/* Draws alpha or beta uniformly in [1, q-1] (or takes the test's) into @k. */
static int
ephemeral_scalar(ls_sespake_ctx *ctx, BIGNUM *k, BN_CTX *bn)
{
	BIGNUM *range;
	int r = LS_OK;

#ifdef LS11_TEST_HOOKS
	if (ctx->has_fixed_scalar) {
		if (BN_lebin2bn(ctx->fixed_scalar, (int)ctx->c->def->size, k) == NULL)
			return ls_crypto_fail("BN_lebin2bn");
		return LS_OK;
	}
#endif
	BN_CTX_start(bn);
	if ((range = BN_CTX_get(bn)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if (!BN_copy(range, ctx->c->q) || !BN_sub_word(range, 1)) {
		r = ls_crypto_fail("BN_sub_word");
		goto out;
	}
	if (!BN_priv_rand_range_ex(k, range, 0, bn) || !BN_add_word(k, 1)) {
		ls_crypto_fail("BN_priv_rand_range_ex");
		r = LS_ERR_RANDOM;
	}
out:
	BN_CTX_end(bn);
	return r;
}

/*
 * K from Q (u2 - Q_PW on A, u1 + Q_PW on B) and the own scalar k: src = ((m/q) * k mod q) * Q,
 * K = Streebog-256(LE(src.x) || LE(src.y)).  When (m/q) * Q or src is the identity, marks the
 * exchange degenerate and takes a random K: RFC 8133 has the confirm step fail, not this one.
 */
static int
derive_key(ls_sespake_ctx *ctx, const EC_POINT *q, const BIGNUM *k, BN_CTX *bn)
{
	const struct curve_rt *c = ctx->c;
	uint8_t enc[LS_SESPAKE_MAX_POINT];
	EC_POINT *t = NULL;
	BIGNUM *kk = NULL;
	bool degenerate;
	unsigned m;
	int r;

	if ((t = EC_POINT_new(c->group)) == NULL || (kk = BN_secure_new()) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	BN_set_flags(kk, BN_FLG_CONSTTIME);
	/* Q is the peer's ephemeral public point: plain doublings may look at it. */
	if (!EC_POINT_copy(t, q)) {
		r = ls_crypto_fail("EC_POINT_copy");
		goto out;
	}
	for (m = c->def->cofactor; m > 1; m >>= 1) {
		if (!EC_POINT_dbl(c->group, t, t, bn)) {
			r = ls_crypto_fail("EC_POINT_dbl");
			goto out;
		}
	}
	degenerate = EC_POINT_is_at_infinity(c->group, t);
	if (!degenerate) {
		if (!BN_mod_mul(kk, k, c->cofactor, c->q, bn)) {
			r = ls_crypto_fail("BN_mod_mul");
			goto out;
		}
		if ((r = point_mul(c, t, q, kk, bn)) != LS_OK)
			goto out;
		degenerate = EC_POINT_is_at_infinity(c->group, t);
	}
	if (degenerate) {
		ctx->degenerate = true;
		r = ls_random_bytes(ctx->k, sizeof(ctx->k));
		goto out;
	}
	if ((r = point_encode(c, t, enc, bn)) != LS_OK)
		goto out;
	r = ls_md(LS_MD_STREEBOG256, enc, 2 * c->def->size, ctx->k, sizeof(ctx->k));
out:
	ls_wipe(enc, sizeof(enc));
	EC_POINT_clear_free(t);
	BN_clear_free(kk);
	return r;
}

/*
 * HMAC-Streebog-256(K, tag || ID || ind || salt || u1 || u2 || DATA_A || DATA_B); ID is ID_A for
 * MAC_A (tag 0x01, DATA_B empty) and ID_B for MAC_B (tag 0x02).
 */
static int
compute_mac(const ls_sespake_ctx *ctx, uint8_t tag, const uint8_t *data_a, size_t data_a_len,
            const uint8_t *data_b, size_t data_b_len, uint8_t out[static LS_SESPAKE_MAC_SIZE])
{
	const uint8_t *id = tag == 0x01 ? ctx->id_a : ctx->id_b;
	size_t id_len = tag == 0x01 ? ctx->id_a_len : ctx->id_b_len;
	size_t n2 = ctx_point_size(ctx);
	ls_hmac_ctx *h = NULL;
	int r;

	if ((r = ls_hmac_new(LS_MD_STREEBOG256, ctx->k, sizeof(ctx->k), &h)) != LS_OK)
		return r;
	if ((r = ls_hmac_update(h, &tag, 1)) != LS_OK ||
	    (r = ls_hmac_update(h, id, id_len)) != LS_OK ||
	    (r = ls_hmac_update(h, &ctx->ind, 1)) != LS_OK ||
	    (r = ls_hmac_update(h, ctx->salt, ctx->salt_len)) != LS_OK ||
	    (r = ls_hmac_update(h, ctx->u1, n2)) != LS_OK ||
	    (r = ls_hmac_update(h, ctx->u2, n2)) != LS_OK ||
	    (r = ls_hmac_update(h, data_a, data_a_len)) != LS_OK ||
	    (r = ls_hmac_update(h, data_b, data_b_len)) != LS_OK ||
	    (r = ls_hmac_final(h, out, LS_SESPAKE_MAC_SIZE)) != LS_OK)
		ls_wipe(out, LS_SESPAKE_MAC_SIZE);
	ls_hmac_free(h);
	return r;
}

/* ------------------------------------------------------------------------------------------- */

int
ls_sespake_verifier_make(ls_curve curve, unsigned ind, const uint8_t *salt, size_t salt_len,
                         const void *password, size_t password_len, ls_sespake_verifier *out)
{
	ls_sespake_verifier v;
	const struct curve_rt *c = NULL;
	int r;

	ls_return_val_if_fail(out != NULL && password != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_params(curve, ind, salt_len, password_len, &c)) != LS_OK)
		return r;
	memset(&v, 0, sizeof(v));
	v.version = LS_SESPAKE_VERIFIER_VERSION;
	v.curve = (uint8_t)curve;
	v.ind = (uint8_t)ind;
	v.salt_len = (uint8_t)salt_len;
	if (salt != NULL)
		memcpy(v.salt, salt, salt_len);
	else if ((r = ls_random_bytes(v.salt, salt_len)) != LS_OK)
		goto out;
	if ((r = derive_qpw(c, ind, v.salt, salt_len, password, password_len, v.q_pw)) != LS_OK)
		goto out;
	*out = v;
out:
	ls_wipe(&v, sizeof(v));
	return r;
}

/* ls_sespake_verifier_check(), also handing out the curve. */
static int
verifier_load(const ls_sespake_verifier *v, const struct curve_rt **out)
{
	const struct curve_rt *c = NULL;
	BN_CTX *bn = NULL;
	EC_POINT *pt = NULL;
	uint8_t tail = 0;
	size_t i, n2;
	int r;

	if (v->version != LS_SESPAKE_VERIFIER_VERSION || v->ind < 1 ||
	    v->ind > LS_SESPAKE_NUM_POINTS || v->salt_len < LS_SESPAKE_SALT_MIN ||
	    v->salt_len > LS_SESPAKE_SALT_MAX)
		return LS_ERR_MALFORMED;
	if ((n2 = ls_sespake_point_size((ls_curve)v->curve)) == 0)
		return LS_ERR_UNSUPPORTED;
	for (i = v->salt_len; i < sizeof(v->salt); i++)
		tail |= v->salt[i];
	for (i = n2; i < sizeof(v->q_pw); i++)
		tail |= v->q_pw[i];
	if (tail != 0)
		return LS_ERR_MALFORMED;
	if ((r = curve_get((ls_curve)v->curve, &c)) != LS_OK)
		return r;
	if ((bn = BN_CTX_new_ex(ls_crypto_libctx())) == NULL ||
	    (pt = EC_POINT_new(c->group)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if ((r = point_decode(c, v->q_pw, n2, pt, bn)) != LS_OK)
		goto out;
	*out = c;
out:
	EC_POINT_clear_free(pt);
	BN_CTX_free(bn);
	return r;
}

int
ls_sespake_verifier_check(const ls_sespake_verifier *verifier)
{
	const struct curve_rt *c;

	ls_return_val_if_fail(verifier != NULL, LS_ERR_INVALID_ARG);
	return verifier_load(verifier, &c);
}

int
ls_sespake_client_new(ls_curve curve, unsigned ind, const uint8_t *salt, size_t salt_len,
                      const void *password, size_t password_len, const uint8_t *id_a,
                      size_t id_a_len, const uint8_t *id_b, size_t id_b_len, ls_sespake_ctx **out)
{
	const struct curve_rt *c = NULL;
	ls_sespake_ctx *ctx = NULL;
	int r;

	ls_return_val_if_fail(out != NULL && salt != NULL && password != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(id_a != NULL || id_a_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(id_b != NULL || id_b_len == 0, LS_ERR_INVALID_ARG);
	if ((r = check_params(curve, ind, salt_len, password_len, &c)) != LS_OK)
		return r;
	r = ctx_new(c, ST_CLIENT_NEW, ind, salt, salt_len, id_a, id_a_len, id_b, id_b_len, &ctx);
	if (r != LS_OK)
		return r;
	if ((r = derive_qpw(c, ind, salt, salt_len, password, password_len, ctx->q_pw)) != LS_OK)
		goto out;
	*out = ctx;
	ctx = NULL;
out:
	ls_sespake_free(ctx);
	return r;
}

int
ls_sespake_client_start(ls_sespake_ctx *ctx, uint8_t *u1_out, size_t u1_cap, size_t *u1_len)
{
	BN_CTX *bn = NULL;
	BIGNUM *alpha = NULL;
	EC_POINT *t = NULL, *qpw = NULL;
	const struct curve_rt *c;
	size_t n2;
	int r;

	ls_return_val_if_fail(ctx != NULL && u1_out != NULL && u1_len != NULL, LS_ERR_INVALID_ARG);
	if (ctx->state != ST_CLIENT_NEW)
		return LS_ERR_STATE;
	c = ctx->c;
	n2 = ctx_point_size(ctx);
	if (u1_cap < n2) {
		r = LS_ERR_BAD_LENGTH;
		goto out;
	}
	if ((bn = BN_CTX_new_ex(ls_crypto_libctx())) == NULL || (alpha = BN_secure_new()) == NULL ||
	    (t = EC_POINT_new(c->group)) == NULL || (qpw = EC_POINT_new(c->group)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	BN_set_flags(alpha, BN_FLG_CONSTTIME);
	if ((r = ephemeral_scalar(ctx, alpha, bn)) != LS_OK ||
	    (r = point_mul(c, t, NULL, alpha, bn)) != LS_OK ||
	    (r = point_decode(c, ctx->q_pw, n2, qpw, bn)) != LS_OK)
		goto out;
	/* u1 = alpha*P - Q_PW */
	if (!EC_POINT_invert(c->group, qpw, bn) || !EC_POINT_add(c->group, t, t, qpw, bn)) {
		r = ls_crypto_fail("EC_POINT_add");
		goto out;
	}
	if ((r = point_encode(c, t, ctx->u1, bn)) != LS_OK)
		goto out;
	if (BN_bn2lebinpad(alpha, ctx->alpha, (int)c->def->size) != (int)c->def->size) {
		r = ls_crypto_fail("BN_bn2lebinpad");
		goto out;
	}
	memcpy(u1_out, ctx->u1, n2);
	*u1_len = n2;
	ctx->state = ST_CLIENT_SENT_U1;
out:
	BN_clear_free(alpha);
	EC_POINT_clear_free(t);
	EC_POINT_clear_free(qpw);
	BN_CTX_free(bn);
	return r == LS_OK ? r : ctx_fail(ctx, r);
}

int
ls_sespake_client_finish(ls_sespake_ctx *ctx, const uint8_t *u2, size_t u2_len,
                         const uint8_t *data_a, size_t data_a_len,
                         uint8_t mac_a_out[static LS_SESPAKE_MAC_SIZE])
{
	BN_CTX *bn = NULL;
	BIGNUM *alpha = NULL;
	EC_POINT *qa = NULL, *qpw = NULL;
	const struct curve_rt *c;
	size_t n2;
	int r;

	ls_return_val_if_fail(ctx != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(u2 != NULL || u2_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data_a != NULL || data_a_len == 0, LS_ERR_INVALID_ARG);
	if (ctx->state != ST_CLIENT_SENT_U1)
		return LS_ERR_STATE;
	c = ctx->c;
	n2 = ctx_point_size(ctx);
	if (data_a_len > LS_SESPAKE_DATA_MAX) {
		r = LS_ERR_BAD_LENGTH;
		goto out;
	}
	if ((bn = BN_CTX_new_ex(ls_crypto_libctx())) == NULL || (alpha = BN_secure_new()) == NULL ||
	    (qa = EC_POINT_new(c->group)) == NULL || (qpw = EC_POINT_new(c->group)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if ((r = point_decode(c, u2, u2_len, qa, bn)) != LS_OK ||
	    (r = point_decode(c, ctx->q_pw, n2, qpw, bn)) != LS_OK)
		goto out;
	memcpy(ctx->u2, u2, n2);
	/* Q_A = u2 - Q_PW */
	if (!EC_POINT_invert(c->group, qpw, bn) || !EC_POINT_add(c->group, qa, qa, qpw, bn)) {
		r = ls_crypto_fail("EC_POINT_add");
		goto out;
	}
	BN_set_flags(alpha, BN_FLG_CONSTTIME);
	if (BN_lebin2bn(ctx->alpha, (int)c->def->size, alpha) == NULL) {
		r = ls_crypto_fail("BN_lebin2bn");
		goto out;
	}
	if ((r = derive_key(ctx, qa, alpha, bn)) != LS_OK)
		goto out;
	ls_wipe(ctx->alpha, sizeof(ctx->alpha));
	ctx->data_a_len = data_a_len;
	if (data_a_len > 0)
		memcpy(ctx->data_a, data_a, data_a_len);
	if ((r = compute_mac(ctx, 0x01, data_a, data_a_len, NULL, 0, mac_a_out)) != LS_OK)
		goto out;
	ctx->state = ST_CLIENT_SENT_MAC;
out:
	BN_clear_free(alpha);
	EC_POINT_clear_free(qa);
	EC_POINT_clear_free(qpw);
	BN_CTX_free(bn);
	return r == LS_OK ? r : ctx_fail(ctx, r);
}

int
ls_sespake_client_confirm(ls_sespake_ctx *ctx, const uint8_t *data_b, size_t data_b_len,
                          const uint8_t *mac_b, size_t mac_b_len)
{
	uint8_t want[LS_SESPAKE_MAC_SIZE];
	int r;

	ls_return_val_if_fail(ctx != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data_b != NULL || data_b_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(mac_b != NULL || mac_b_len == 0, LS_ERR_INVALID_ARG);
	if (ctx->state != ST_CLIENT_SENT_MAC)
		return LS_ERR_STATE;
	if (data_b_len > LS_SESPAKE_DATA_MAX || mac_b_len != LS_SESPAKE_MAC_SIZE) {
		r = LS_ERR_BAD_LENGTH;
		goto out;
	}
	r = compute_mac(ctx, 0x02, ctx->data_a, ctx->data_a_len, data_b, data_b_len, want);
	if (r != LS_OK)
		goto out;
	/* Both conditions evaluated: no early exit tells a degenerate run from a wrong MAC. */
	if (!(ls_ct_equal(want, mac_b, LS_SESPAKE_MAC_SIZE) & !ctx->degenerate)) {
		r = LS_ERR_AUTH_FAILED;
		goto out;
	}
	ctx_done(ctx);
out:
	ls_wipe(want, sizeof(want));
	return r == LS_OK ? r : ctx_fail(ctx, r);
}

int
ls_sespake_server_new(const ls_sespake_verifier *verifier, const uint8_t *id_a, size_t id_a_len,
                      const uint8_t *id_b, size_t id_b_len, ls_sespake_ctx **out)
{
	const struct curve_rt *c = NULL;
	ls_sespake_ctx *ctx = NULL;
	int r;

	ls_return_val_if_fail(verifier != NULL && out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(id_a != NULL || id_a_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(id_b != NULL || id_b_len == 0, LS_ERR_INVALID_ARG);
	if ((r = verifier_load(verifier, &c)) != LS_OK)
		return r;
	r = ctx_new(c, ST_SERVER_NEW, verifier->ind, verifier->salt, verifier->salt_len, id_a,
	            id_a_len, id_b, id_b_len, &ctx);
	if (r != LS_OK)
		return r;
	memcpy(ctx->q_pw, verifier->q_pw, sizeof(ctx->q_pw));
	*out = ctx;
	return LS_OK;
}

int
ls_sespake_server_respond(ls_sespake_ctx *ctx, const uint8_t *u1, size_t u1_len, uint8_t *u2_out,
                          size_t u2_cap, size_t *u2_len)
{
	BN_CTX *bn = NULL;
	BIGNUM *beta = NULL;
	EC_POINT *qb = NULL, *qpw = NULL, *t = NULL;
	const struct curve_rt *c;
	size_t n2;
	int r;

	ls_return_val_if_fail(ctx != NULL && u2_out != NULL && u2_len != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(u1 != NULL || u1_len == 0, LS_ERR_INVALID_ARG);
	if (ctx->state != ST_SERVER_NEW)
		return LS_ERR_STATE;
	c = ctx->c;
	n2 = ctx_point_size(ctx);
	if (u2_cap < n2) {
		r = LS_ERR_BAD_LENGTH;
		goto out;
	}
	if ((bn = BN_CTX_new_ex(ls_crypto_libctx())) == NULL || (beta = BN_secure_new()) == NULL ||
	    (qb = EC_POINT_new(c->group)) == NULL || (qpw = EC_POINT_new(c->group)) == NULL ||
	    (t = EC_POINT_new(c->group)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if ((r = point_decode(c, u1, u1_len, qb, bn)) != LS_OK ||
	    (r = point_decode(c, ctx->q_pw, n2, qpw, bn)) != LS_OK)
		goto out;
	memcpy(ctx->u1, u1, n2);
	BN_set_flags(beta, BN_FLG_CONSTTIME);
	if ((r = ephemeral_scalar(ctx, beta, bn)) != LS_OK ||
	    (r = point_mul(c, t, NULL, beta, bn)) != LS_OK)
		goto out;
	/* Q_B = u1 + Q_PW, u2 = beta*P + Q_PW */
	if (!EC_POINT_add(c->group, qb, qb, qpw, bn) || !EC_POINT_add(c->group, t, t, qpw, bn)) {
		r = ls_crypto_fail("EC_POINT_add");
		goto out;
	}
	if ((r = point_encode(c, t, ctx->u2, bn)) != LS_OK ||
	    (r = derive_key(ctx, qb, beta, bn)) != LS_OK)
		goto out;
	memcpy(u2_out, ctx->u2, n2);
	*u2_len = n2;
	ctx->state = ST_SERVER_SENT_U2;
out:
	BN_clear_free(beta);
	EC_POINT_clear_free(qb);
	EC_POINT_clear_free(qpw);
	EC_POINT_clear_free(t);
	BN_CTX_free(bn);
	return r == LS_OK ? r : ctx_fail(ctx, r);
}

int
ls_sespake_server_confirm(ls_sespake_ctx *ctx, const uint8_t *data_a, size_t data_a_len,
                          const uint8_t *mac_a, size_t mac_a_len, const uint8_t *data_b,
                          size_t data_b_len, uint8_t mac_b_out[static LS_SESPAKE_MAC_SIZE])
{
	uint8_t want[LS_SESPAKE_MAC_SIZE];
	int r;

	ls_return_val_if_fail(ctx != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data_a != NULL || data_a_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(mac_a != NULL || mac_a_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data_b != NULL || data_b_len == 0, LS_ERR_INVALID_ARG);
	if (ctx->state != ST_SERVER_SENT_U2)
		return LS_ERR_STATE;
	if (data_a_len > LS_SESPAKE_DATA_MAX || data_b_len > LS_SESPAKE_DATA_MAX ||
	    mac_a_len != LS_SESPAKE_MAC_SIZE) {
		r = LS_ERR_BAD_LENGTH;
		goto out;
	}
	if ((r = compute_mac(ctx, 0x01, data_a, data_a_len, NULL, 0, want)) != LS_OK)
		goto out;
	if (!(ls_ct_equal(want, mac_a, LS_SESPAKE_MAC_SIZE) & !ctx->degenerate)) {
		r = LS_ERR_AUTH_FAILED;
		goto out;
	}
	if ((r = compute_mac(ctx, 0x02, data_a, data_a_len, data_b, data_b_len, mac_b_out)) !=
	    LS_OK)
		goto out;
	ctx_done(ctx);
out:
	ls_wipe(want, sizeof(want));
	return r == LS_OK ? r : ctx_fail(ctx, r);
}

int
ls_sespake_key(const ls_sespake_ctx *ctx, uint8_t key_out[static LS_SESPAKE_KEY_SIZE])
{
	ls_return_val_if_fail(ctx != NULL, LS_ERR_INVALID_ARG);
	if (ctx->state != ST_DONE)
		return LS_ERR_STATE;
	memcpy(key_out, ctx->k, LS_SESPAKE_KEY_SIZE);
	return LS_OK;
}

void
ls_sespake_free(ls_sespake_ctx *ctx)
{
	if (ctx == NULL)
		return;
	ls_wipe(ctx, sizeof(*ctx));
	free(ctx);
}

/* ------------------------------------------------------------------------------------------- */

int
ls_sespake_limits_check(const ls_sespake_limits *limits)
{
	ls_return_val_if_fail(limits != NULL, LS_ERR_INVALID_ARG);
	if (limits->clim1 < 3 || limits->clim1 > 5 || limits->clim2 < 7 || limits->clim2 > 20 ||
	    limits->clim3 < 1000 || limits->clim3 > 100000)
		return LS_ERR_INVALID_ARG;
	return LS_OK;
}

int
ls_sespake_counters_init(const ls_sespake_limits *limits, ls_sespake_counters *out)
{
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	if ((r = ls_sespake_limits_check(limits)) != LS_OK)
		return r;
	out->c1 = limits->clim1;
	out->c2 = limits->clim2;
	out->c3 = limits->clim3;
	return LS_OK;
}

static int
counters_check(const ls_sespake_limits *limits, const ls_sespake_counters *c)
{
	int r;

	ls_return_val_if_fail(c != NULL, LS_ERR_INVALID_ARG);
	if ((r = ls_sespake_limits_check(limits)) != LS_OK)
		return r;
	if (c->c1 > limits->clim1 || c->c2 > limits->clim2 || c->c3 > limits->clim3)
		return LS_ERR_INVALID_ARG;
	return LS_OK;
}

int
ls_sespake_counters_begin(const ls_sespake_limits *limits, ls_sespake_counters *c)
{
	int r;

	if ((r = counters_check(limits, c)) != LS_OK)
		return r;
	if (c->c1 == 0 || c->c2 == 0 || c->c3 == 0)
		return LS_ERR_ATTEMPTS_EXHAUSTED;
	c->c1--;
	c->c2--;
	c->c3--;
	return LS_OK;
}

int
ls_sespake_counters_success(const ls_sespake_limits *limits, ls_sespake_counters *c)
{
	int r;

	if ((r = counters_check(limits, c)) != LS_OK)
		return r;
	c->c1 = limits->clim1;
	if (c->c2 < limits->clim2)
		c->c2++;
	return LS_OK;
}

/* ------------------------------------------------------------------------------------------- */

#ifdef LS11_TEST_HOOKS
int
ls_sespake_test_set_scalar(ls_sespake_ctx *ctx, const uint8_t *scalar_le, size_t len)
{
	BIGNUM *k;
	int r = LS_OK;

	ls_return_val_if_fail(ctx != NULL && scalar_le != NULL, LS_ERR_INVALID_ARG);
	if (ctx->state != ST_CLIENT_NEW && ctx->state != ST_SERVER_NEW)
		return LS_ERR_STATE;
	if (len != ctx->c->def->size)
		return LS_ERR_BAD_LENGTH;
	if ((k = BN_lebin2bn(scalar_le, (int)len, NULL)) == NULL)
		return LS_ERR_NOMEM;
	if (BN_is_zero(k) || BN_cmp(k, ctx->c->q) >= 0)
		r = LS_ERR_INVALID_ARG;
	BN_clear_free(k);
	if (r != LS_OK)
		return r;
	memcpy(ctx->fixed_scalar, scalar_le, len);
	ctx->has_fixed_scalar = true;
	return LS_OK;
}

static bool
all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

bool
ls_sespake_test_is_wiped(const ls_sespake_ctx *ctx)
{
	ls_return_val_if_fail(ctx != NULL, false);
	return all_zero(ctx->q_pw, sizeof(ctx->q_pw)) && all_zero(ctx->alpha, sizeof(ctx->alpha)) &&
	       all_zero(ctx->k, sizeof(ctx->k)) && all_zero(ctx->u1, sizeof(ctx->u1)) &&
	       all_zero(ctx->u2, sizeof(ctx->u2)) && all_zero(ctx->data_a, sizeof(ctx->data_a)) &&
	       all_zero(ctx->fixed_scalar, sizeof(ctx->fixed_scalar));
}

int
ls_sespake_test_point_mul(ls_curve curve, unsigned count)
{
	const struct curve_rt *c = NULL;
	BN_CTX *bn = NULL;
	BIGNUM *k = NULL;
	EC_POINT *t = NULL;
	unsigned i;
	int r;

	if ((r = curve_get(curve, &c)) != LS_OK)
		return r;
	if ((bn = BN_CTX_new_ex(ls_crypto_libctx())) == NULL || (k = BN_new()) == NULL ||
	    (t = EC_POINT_new(c->group)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	BN_set_flags(k, BN_FLG_CONSTTIME);
	for (i = 0; i < count && r == LS_OK; i++) {
		if (!BN_priv_rand_range_ex(k, c->q, 0, bn))
			r = LS_ERR_RANDOM;
		else
			r = point_mul(c, t, NULL, k, bn);
	}
out:
	BN_clear_free(k);
	EC_POINT_free(t);
	BN_CTX_free(bn);
	return r;
}
#endif /* LS11_TEST_HOOKS */
