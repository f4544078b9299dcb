/*
 * LS11CLOUD - throughput of the symmetric wrappers of core/crypto.h against raw EVP on the same
 * algorithms, measured in the same run.  Prints one JSON object on stdout:
 *
 *   {"benchmark":"symmetric","results":[{"name":"kuznyechik-ctr","size":65536,"unit":"MB/s",
 *     "value":..,"baseline":..,"ratio":..}, ...]}
 *
 * value = our wrapper, baseline = raw EVP with a reused context fetched from a library context
 * holding gostprov + default (what a careful OpenSSL user writes), ratio = value / baseline.
 * Per size, an operation is:
 *   - CTR: one update of @size bytes on a running stream (ls_cipher_update / EVP_EncryptUpdate);
 *   - "-new-iv": a new message under a new IV: ls_cipher_reset + update against
 *     EVP_EncryptInit_ex2(key, iv) + update (gostprov cannot change the IV without the key);
 *   - MACs and digests: one whole message (reset/init, update, final);
 *   - MGM: ls_mgm_seal on a keyed context; its baseline is our own Kuznyechik CTR + OMAC over the
 *     same data (reset, encrypt, MAC the ciphertext), named in "baseline_name".
 * Each figure is the best of 3 runs of ~0.15 s (CLOCK_MONOTONIC), ours and raw interleaved.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "crypto.h"

#define RUN_SECONDS 0.15
#define REPEATS 3
#define MAX_SIZE 65536

static const size_t sizes[] = { 64, 1024, 65536 };

static uint8_t in_buf[MAX_SIZE], out_buf[MAX_SIZE];
static uint8_t key[32], iv8[8], nonce[16];

/* Raw EVP objects, from our own library context. */
static OSSL_LIB_CTX *raw_libctx;
static EVP_CIPHER_CTX *raw_kuz_ctr, *raw_magma_ctr;
static EVP_MAC_CTX *raw_cmac, *raw_hmac;
static EVP_MD_CTX *raw_md;
static EVP_MD *raw_md256, *raw_md512;

/* Ours. */
static ls_cipher_ctx *ls_kuz_ctr, *ls_magma_ctr, *ls_kuz_ctr2;
static ls_mac_ctx *ls_kuz_mac;
static ls_md_ctx *ls_md256, *ls_md512;
static ls_mgm_ctx *ls_mgm;

typedef int (*op_fn)(size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "bench-symmetric: %s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* MB/s of @fn on @size-byte operations over ~RUN_SECONDS; the clock is read once per ~64 KiB. */
static double
run(op_fn fn, size_t size)
{
	size_t batch = size >= MAX_SIZE ? 1 : MAX_SIZE / size, i;
	double start, elapsed;
	unsigned long long bytes = 0;

	if (fn(size) != 0) /* warm-up */
		die("warm-up operation");
	start = now();
	do {
		for (i = 0; i < batch; i++) {
			if (fn(size) != 0)
				die("operation");
		}
		bytes += (unsigned long long)batch * size;
		elapsed = now() - start;
	} while (elapsed < RUN_SECONDS);
	return (double)bytes / elapsed / 1e6;
}

/* ---------------------------------------------------------------------------------------------
 * Operations
 * ------------------------------------------------------------------------------------------- */

static int
ours_kuz_ctr(size_t size)
{
	size_t n;

	return ls_cipher_update(ls_kuz_ctr, in_buf, size, out_buf, &n);
}

static int
raw_kuz_ctr_op(size_t size)
{
	int outl;

	return EVP_EncryptUpdate(raw_kuz_ctr, out_buf, &outl, in_buf, (int)size) == 1 ? 0 : -1;
}

static int
ours_kuz_ctr_new_iv(size_t size)
{
	size_t n;
	int r;

	if ((r = ls_cipher_reset(ls_kuz_ctr2, iv8, sizeof(iv8))) != LS_OK)
		return r;
	return ls_cipher_update(ls_kuz_ctr2, in_buf, size, out_buf, &n);
}

static int
raw_kuz_ctr_new_iv(size_t size)
{
	int outl;

	if (EVP_EncryptInit_ex2(raw_kuz_ctr, NULL, key, iv8, NULL) != 1)
		return -1;
	return EVP_EncryptUpdate(raw_kuz_ctr, out_buf, &outl, in_buf, (int)size) == 1 ? 0 : -1;
}

static int
ours_magma_ctr(size_t size)
{
	size_t n;

	return ls_cipher_update(ls_magma_ctr, in_buf, size, out_buf, &n);
}

static int
raw_magma_ctr_op(size_t size)
{
	int outl;

	return EVP_EncryptUpdate(raw_magma_ctr, out_buf, &outl, in_buf, (int)size) == 1 ? 0 : -1;
}

static int
ours_kuz_omac(size_t size)
{
	uint8_t tag[16];
	int r;

	if ((r = ls_mac_reset(ls_kuz_mac)) != LS_OK || (r = ls_mac_update(ls_kuz_mac, in_buf, size)))
		return r;
	return ls_mac_final(ls_kuz_mac, tag, sizeof(tag));
}

static int
raw_kuz_omac(size_t size)
{
	uint8_t tag[16];
	size_t n;

	if (EVP_MAC_init(raw_cmac, NULL, 0, NULL) != 1 || EVP_MAC_update(raw_cmac, in_buf, size) != 1 ||
	    EVP_MAC_final(raw_cmac, tag, &n, sizeof(tag)) != 1)
		return -1;
	return 0;
}

static int
ours_md(ls_md_ctx *ctx, size_t size)
{
	uint8_t md[64];
	int r;

	if ((r = ls_md_reset(ctx)) != LS_OK || (r = ls_md_update(ctx, in_buf, size)) != LS_OK)
		return r;
	return ls_md_final(ctx, md, sizeof(md));
}

static int
raw_md_op(const EVP_MD *md, size_t size)
{
	uint8_t out[64];

	if (EVP_DigestInit_ex2(raw_md, md, NULL) != 1 || EVP_DigestUpdate(raw_md, in_buf, size) != 1 ||
	    EVP_DigestFinal_ex(raw_md, out, NULL) != 1)
		return -1;
	return 0;
}

static int
ours_sb256(size_t size)
{
	return ours_md(ls_md256, size);
}

static int
raw_sb256(size_t size)
{
	return raw_md_op(raw_md256, size);
}

static int
ours_sb512(size_t size)
{
	return ours_md(ls_md512, size);
}

static int
raw_sb512(size_t size)
{
	return raw_md_op(raw_md512, size);
}

static int
ours_hmac256(size_t size)
{
	/* core/crypto.h has no HMAC reset: a message is new + update + final + free. */
	uint8_t out[32];

	return ls_hmac(LS_MD_STREEBOG256, key, sizeof(key), in_buf, size, out, sizeof(out));
}

static int
raw_hmac256(size_t size)
{
	uint8_t out[32];
	size_t n;

	if (EVP_MAC_init(raw_hmac, NULL, 0, NULL) != 1 || EVP_MAC_update(raw_hmac, in_buf, size) != 1 ||
	    EVP_MAC_final(raw_hmac, out, &n, sizeof(out)) != 1)
		return -1;
	return 0;
}

static int
ours_mgm(size_t size)
{
	uint8_t tag[16];

	return ls_mgm_seal(ls_mgm, nonce, sizeof(nonce), NULL, 0, in_buf, size, out_buf, tag,
	                   sizeof(tag));
}

static int
ours_ctr_omac(size_t size)
{
	uint8_t tag[16];
	size_t n;
	int r;

	if ((r = ls_cipher_reset(ls_kuz_ctr2, iv8, sizeof(iv8))) != LS_OK ||
	    (r = ls_cipher_update(ls_kuz_ctr2, in_buf, size, out_buf, &n)) != LS_OK ||
	    (r = ls_mac_reset(ls_kuz_mac)) != LS_OK ||
	    (r = ls_mac_update(ls_kuz_mac, out_buf, size)) != LS_OK)
		return r;
	return ls_mac_final(ls_kuz_mac, tag, sizeof(tag));
}

/* ---------------------------------------------------------------------------------------------
 * Set-up and report
 * ------------------------------------------------------------------------------------------- */

static void
setup_raw(void)
{
	EVP_CIPHER *kc, *mc;
	EVP_MAC *cmac, *hmac;
	OSSL_PARAM p[2];
	uint8_t iv4[4] = { 1, 2, 3, 4 };

	raw_libctx = OSSL_LIB_CTX_new();
	if (raw_libctx == NULL || OSSL_PROVIDER_load(raw_libctx, "default") == NULL ||
	    OSSL_PROVIDER_load(raw_libctx, "gostprov") == NULL)
		die("loading gostprov + default into a library context");
	kc = EVP_CIPHER_fetch(raw_libctx, "kuznyechik-ctr", NULL);
	mc = EVP_CIPHER_fetch(raw_libctx, "magma-ctr", NULL);
	raw_md256 = EVP_MD_fetch(raw_libctx, "md_gost12_256", NULL);
	raw_md512 = EVP_MD_fetch(raw_libctx, "md_gost12_512", NULL);
	cmac = EVP_MAC_fetch(raw_libctx, "CMAC", NULL);
	hmac = EVP_MAC_fetch(raw_libctx, "HMAC", NULL);
	if (kc == NULL || mc == NULL || raw_md256 == NULL || raw_md512 == NULL || cmac == NULL ||
	    hmac == NULL)
		die("fetching the raw algorithms");
	raw_kuz_ctr = EVP_CIPHER_CTX_new();
	raw_magma_ctr = EVP_CIPHER_CTX_new();
	raw_md = EVP_MD_CTX_new();
	if (raw_kuz_ctr == NULL || raw_magma_ctr == NULL || raw_md == NULL ||
	    EVP_EncryptInit_ex2(raw_kuz_ctr, kc, key, iv8, NULL) != 1 ||
	    EVP_EncryptInit_ex2(raw_magma_ctr, mc, key, iv4, NULL) != 1)
		die("raw cipher set-up");
	/*
	 * OMAC baseline: OpenSSL's CMAC over gostprov's kuznyechik-cbc, which restarts cheaply with
	 * EVP_MAC_init(NULL key).  (gostprov's own "kuznyechik-mac" EVP_MAC returned a wrong tag for
	 * the GOST R 34.13-2015 A.1.6 example here and its dup does not work: not a fair baseline.)
	 */
	raw_cmac = EVP_MAC_CTX_new(cmac);
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, "kuznyechik-cbc", 0);
	p[1] = OSSL_PARAM_construct_end();
	if (raw_cmac == NULL || EVP_MAC_init(raw_cmac, key, sizeof(key), p) != 1)
		die("raw CMAC set-up");
	raw_hmac = EVP_MAC_CTX_new(hmac);
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "md_gost12_256", 0);
	if (raw_hmac == NULL || EVP_MAC_init(raw_hmac, key, sizeof(key), p) != 1)
		die("raw HMAC set-up");
	EVP_CIPHER_free(kc);
	EVP_CIPHER_free(mc);
	EVP_MAC_free(cmac);
	EVP_MAC_free(hmac);
}

static void
setup_ours(void)
{
	uint8_t iv4[4] = { 1, 2, 3, 4 };
	ls_cipher_params p = {
		.alg = LS_CIPHER_KUZNYECHIK, .mode = LS_MODE_CTR, .encrypt = true, .key = key,
		.iv = iv8, .iv_len = sizeof(iv8),
	};

	if (ls_crypto_init() != LS_OK)
		die("ls_crypto_init");
	if (ls_cipher_new(&p, &ls_kuz_ctr) != LS_OK || ls_cipher_new(&p, &ls_kuz_ctr2) != LS_OK)
		die("ls_cipher_new(kuznyechik-ctr)");
	p.alg = LS_CIPHER_MAGMA;
	p.iv = iv4;
	p.iv_len = sizeof(iv4);
	if (ls_cipher_new(&p, &ls_magma_ctr) != LS_OK)
		die("ls_cipher_new(magma-ctr)");
	if (ls_mac_new(LS_CIPHER_KUZNYECHIK, 0, key, &ls_kuz_mac) != LS_OK)
		die("ls_mac_new");
	if (ls_md_new(LS_MD_STREEBOG256, &ls_md256) != LS_OK ||
	    ls_md_new(LS_MD_STREEBOG512, &ls_md512) != LS_OK)
		die("ls_md_new");
	if (ls_mgm_new(LS_CIPHER_KUZNYECHIK, key, &ls_mgm) != LS_OK)
		die("ls_mgm_new");
}

static int first_result = 1;

static void
report(const char *name, size_t size, double value, double baseline, const char *baseline_name)
{
	printf("%s\n    {\"name\":\"%s\",\"size\":%zu,\"unit\":\"MB/s\",\"value\":%.1f,"
	       "\"baseline\":%.1f,\"ratio\":%.3f",
	       first_result ? "" : ",", name, size, value, baseline,
	       baseline > 0 ? value / baseline : 0.0);
	if (baseline_name != NULL)
		printf(",\"baseline_name\":\"%s\"", baseline_name);
	printf("}");
	first_result = 0;
}

static void
compare(const char *name, op_fn ours, op_fn raw, const char *baseline_name)
{
	size_t i;
	int rep;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double best_ours = 0, best_raw = 0, v;

		for (rep = 0; rep < REPEATS; rep++) {
			if ((v = run(ours, sizes[i])) > best_ours)
				best_ours = v;
			if ((v = run(raw, sizes[i])) > best_raw)
				best_raw = v;
		}
		report(name, sizes[i], best_ours, best_raw, baseline_name);
	}
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(in_buf); i++)
		in_buf[i] = (uint8_t)(i * 131 + 7);
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x11 * i + 3);
	for (i = 0; i < sizeof(iv8); i++)
		iv8[i] = (uint8_t)(0x21 + i);
	for (i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(0x31 + i);
	setup_ours();
	setup_raw();

	printf("{\"benchmark\":\"symmetric\",\"results\":[");
	compare("kuznyechik-ctr", ours_kuz_ctr, raw_kuz_ctr_op, NULL);
	compare("magma-ctr", ours_magma_ctr, raw_magma_ctr_op, NULL);
	compare("kuznyechik-omac", ours_kuz_omac, raw_kuz_omac, NULL);
	compare("streebog-256", ours_sb256, raw_sb256, NULL);
	compare("streebog-512", ours_sb512, raw_sb512, NULL);
	compare("hmac-streebog-256", ours_hmac256, raw_hmac256, NULL);
	compare("kuznyechik-ctr-new-iv", ours_kuz_ctr_new_iv, raw_kuz_ctr_new_iv, NULL);
	compare("kuznyechik-mgm", ours_mgm, ours_ctr_omac, "kuznyechik-ctr+omac (ours)");
	printf("\n]}\n");

	ls_cipher_free(ls_kuz_ctr);
	ls_cipher_free(ls_kuz_ctr2);
	ls_cipher_free(ls_magma_ctr);
	ls_mac_free(ls_kuz_mac);
	ls_md_free(ls_md256);
	ls_md_free(ls_md512);
	ls_mgm_free(ls_mgm);
	EVP_CIPHER_CTX_free(raw_kuz_ctr);
	EVP_CIPHER_CTX_free(raw_magma_ctr);
	EVP_MAC_CTX_free(raw_cmac);
	EVP_MAC_CTX_free(raw_hmac);
	EVP_MD_CTX_free(raw_md);
	EVP_MD_free(raw_md256);
	EVP_MD_free(raw_md512);
	OSSL_LIB_CTX_free(raw_libctx);
	return 0;
}
