/*
 * Benchmark of GOST R 34.10-2012 in core/crypto-gost3410.c: ls_gost_sign_digest,
 * ls_gost_verify_digest and ls_gost_vko (VKO_GOSTR3410_2012_256, 8-byte UKM) in operations per
 * second, each against the raw engine measured in the same run on the same key: EVP_PKEY_sign /
 * EVP_PKEY_verify / EVP_PKEY_derive on one reused EVP_PKEY_CTX, with the "gost" ENGINE loaded
 * the same way core loads it (ENGINE_by_id + ENGINE_init, passed explicitly).  The raw key is
 * core's key read back from its PKCS#8, so both sides use the same scalar and curve.
 *
 * Each figure is the best of 3 rounds of ~0.3 s wall time each, the rate taken over the thread's
 * CPU time in the round so that other load on the machine does not count against either side;
 * the rounds of core and baseline alternate so that frequency drift hits both.  Prints one JSON
 * object on stdout.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto.h"

#define ROUNDS 3
#define ROUND_SECONDS 0.3

static const struct {
	ls_curve curve;
	const char *name;
} curves[] = {
	{ LS_CURVE_TC26_256_A, "tc26-256-A" },
	{ LS_CURVE_CP_A, "cp-A" },
	{ LS_CURVE_CP_B, "cp-B" },
	{ LS_CURVE_CP_C, "cp-C" },
	{ LS_CURVE_TC26_512_A, "tc26-512-A" },
	{ LS_CURVE_TC26_512_B, "tc26-512-B" },
	{ LS_CURVE_TC26_512_C, "tc26-512-C" },
};

enum op { OP_SIGN, OP_VERIFY, OP_VKO };
static const char *const op_names[] = { "sign", "verify", "vko" };

struct bench_case {
	enum op op;
	size_t n;
	/* core side */
	ls_gost_key *key;
	uint8_t peer_pub[128];
	/* raw side */
	EVP_PKEY_CTX *raw;
	/* shared data */
	uint8_t digest[64], sig[128], ukm[8], out[128];
};

static ENGINE *engine;

static double
now_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench-sign: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void
check(int rc, const char *what)
{
	if (rc != LS_OK) {
		fprintf(stderr, "bench-sign: %s: %s\n", what, ls_strerror(rc));
		exit(1);
	}
}

/* One operation through core. */
static void
core_op(struct bench_case *c)
{
	int rc;

	switch (c->op) {
	case OP_SIGN:
		rc = ls_gost_sign_digest(c->key, c->digest, c->n, c->out, sizeof(c->out));
		break;
	case OP_VERIFY:
		rc = ls_gost_verify_digest(c->key, c->digest, c->n, c->sig, 2 * c->n);
		break;
	default:
		rc = ls_gost_vko(c->key, c->peer_pub, 2 * c->n, LS_VKO_2012_256, c->ukm,
		                 sizeof(c->ukm), c->out, 32);
		break;
	}
	check(rc, "core operation");
}

/* The same operation on the reused raw context. */
static void
raw_op(struct bench_case *c)
{
	size_t len = sizeof(c->out);
	int ok;

	switch (c->op) {
	case OP_SIGN:
		ok = EVP_PKEY_sign(c->raw, c->out, &len, c->digest, c->n) == 1;
		break;
	case OP_VERIFY:
		ok = EVP_PKEY_verify(c->raw, c->sig, 2 * c->n, c->digest, c->n) == 1;
		break;
	default:
		ok = EVP_PKEY_derive(c->raw, c->out, &len) == 1;
		break;
	}
	if (!ok)
		die("raw operation failed");
}

static double
rate(struct bench_case *c, void (*op)(struct bench_case *))
{
	double wall0 = now_s(CLOCK_MONOTONIC), cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID);
	long n = 0;

	do {
		for (int i = 0; i < 16; i++)
			op(c);
		n += 16;
	} while (now_s(CLOCK_MONOTONIC) - wall0 < ROUND_SECONDS);
	return (double)n / (now_s(CLOCK_THREAD_CPUTIME_ID) - cpu0);
}

/* The raw engine key: core's key parsed back from its PKCS#8 by OpenSSL directly. */
static EVP_PKEY *
raw_key(const ls_gost_key *key)
{
	const unsigned char *p;
	PKCS8_PRIV_KEY_INFO *p8;
	EVP_PKEY *pkey;
	uint8_t *der;
	size_t len;

	check(ls_gost_key_to_pkcs8(key, &der, &len), "ls_gost_key_to_pkcs8");
	p = der;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	pkey = p8 != NULL ? EVP_PKCS82PKEY(p8) : NULL;
	PKCS8_PRIV_KEY_INFO_free(p8);
	ls_free_secret(der, len);
	if (pkey == NULL)
		die("reading core's PKCS#8");
	ERR_clear_error();
	return pkey;
}

static EVP_PKEY *
raw_public(const ls_gost_key *key)
{
	const unsigned char *p;
	EVP_PKEY *pkey;
	uint8_t *der;
	size_t len;

	check(ls_gost_key_to_spki(key, &der, &len), "ls_gost_key_to_spki");
	p = der;
	pkey = d2i_PUBKEY(NULL, &p, (long)len);
	free(der);
	if (pkey == NULL)
		die("reading core's SPKI");
	return pkey;
}

int
main(void)
{
	const size_t n_curves = sizeof(curves) / sizeof(curves[0]);
	int first = 1;

	check(ls_crypto_init(), "ls_crypto_init");
	/* The engine for the baseline, loaded as core loads it; never made a default. */
	engine = ENGINE_by_id("gost");
	if (engine == NULL || !ENGINE_init(engine))
		die("loading the gost engine");
	ENGINE_free(engine);

	printf("{\"benchmark\":\"sign\",\"results\":[");
	for (size_t ci = 0; ci < n_curves; ci++) {
		ls_gost_key *key = NULL, *peer = NULL;
		EVP_PKEY *pkey, *peer_pkey;
		struct bench_case c;
		size_t n = ls_curve_size(curves[ci].curve);

		check(ls_gost_key_generate(curves[ci].curve, &key), "generate");
		check(ls_gost_key_generate(curves[ci].curve, &peer), "generate peer");
		pkey = raw_key(key);
		peer_pkey = raw_public(peer);

		for (int op = OP_SIGN; op <= OP_VKO; op++) {
			double best_core = 0, best_raw = 0, r;

			memset(&c, 0, sizeof(c));
			c.op = (enum op)op;
			c.n = n;
			c.key = key;
			check(ls_random_bytes(c.digest, sizeof(c.digest)), "random");
			memcpy(c.ukm, "\x1d\x80\x60\x3c\x85\x44\xc7\x27", 8);
			check(ls_gost_sign_digest(key, c.digest, n, c.sig, sizeof(c.sig)), "sign");
			check(ls_gost_key_public(peer, c.peer_pub, sizeof(c.peer_pub)), "public");

			c.raw = EVP_PKEY_CTX_new(pkey, engine);
			if (c.raw == NULL)
				die("EVP_PKEY_CTX_new");
			switch (c.op) {
			case OP_SIGN:
				if (EVP_PKEY_sign_init(c.raw) <= 0)
					die("EVP_PKEY_sign_init");
				break;
			case OP_VERIFY:
				if (EVP_PKEY_verify_init(c.raw) <= 0)
					die("EVP_PKEY_verify_init");
				break;
			default:
				if (EVP_PKEY_derive_init(c.raw) <= 0 ||
				    EVP_PKEY_derive_set_peer(c.raw, peer_pkey) <= 0 ||
				    EVP_PKEY_CTX_ctrl_str(c.raw, "vko", "256") <= 0 ||
				    EVP_PKEY_CTX_ctrl(c.raw, -1, -1, EVP_PKEY_CTRL_SET_IV, 8,
				                      c.ukm) <= 0)
					die("derive set-up");
				break;
			}
			/* Both sides must compute the same thing before they are timed. */
			if (c.op == OP_VKO) {
				uint8_t mine[32];
				size_t len = sizeof(c.out);

				core_op(&c);
				memcpy(mine, c.out, 32);
				if (EVP_PKEY_derive(c.raw, c.out, &len) != 1 || len != 32 ||
				    memcmp(mine, c.out, 32) != 0)
					die("core and raw VKO disagree");
			} else {
				core_op(&c);
				raw_op(&c);
			}
			for (int round = 0; round < ROUNDS; round++) {
				r = rate(&c, raw_op);
				if (r > best_raw)
					best_raw = r;
				r = rate(&c, core_op);
				if (r > best_core)
					best_core = r;
			}
			EVP_PKEY_CTX_free(c.raw);
			printf("%s{\"name\":\"%s\",\"curve\":\"%s\",\"unit\":\"ops/"
			       "s\",\"value\":%.0f,"
			       "\"baseline\":%.0f,\"ratio\":%.3f}",
			       first ? "" : ",", op_names[op], curves[ci].name, best_core, best_raw,
			       best_core / best_raw);
			first = 0;
			fflush(stdout);
		}
		EVP_PKEY_free(pkey);
		EVP_PKEY_free(peer_pkey);
		ls_gost_key_free(key);
		ls_gost_key_free(peer);
	}
	printf("]}\n");
	ENGINE_finish(engine);
	return 0;
}
