/*
 * LS11CLOUD - secure channel throughput against raw Kuznyechik-CTR, measured in the same run.
 * Prints one JSON object on stdout:
 *
 *   {"benchmark":"channel","results":[{"name":"seal+open","size":64,"records_per_s":..,
 *     "MB_per_s":..,"baseline_name":"evp-kuznyechik-ctr","baseline_MB_per_s":..,"ratio":..,
 *     "ls_cipher_ctr_MB_per_s":..}, ...]}
 *
 * One "seal+open" operation seals a record of @size bytes at one end and opens it at the other
 * (reused buffers; epoch changes every 2^epoch_bits records included).  The baseline is one
 * update of @size bytes on a running raw EVP "kuznyechik-ctr" context from gostprov (encryption
 * only: the channel makes four passes over the data - CTR and OMAC at each end - so a ratio
 * near 0.25 at large sizes means no overhead beyond the cryptography).  ls_cipher_ctr is the
 * same through our wrapper.  ratio = channel MB/s / baseline MB/s.
 * Each figure is the best of 3 runs of RUN_SECONDS of wall time; the whole run takes ~10 s.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "buffer.h"
#include "channel.h"
#include "crypto.h"

#define RUN_SECONDS 0.3
#define REPEATS 3
#define MAX_SIZE 65536

static const size_t sizes[] = { 64, 1024, 65536 };

static uint8_t pt[MAX_SIZE], ct[MAX_SIZE];
static ls_channel *client, *server;
static ls_buf rec, out;
static EVP_CIPHER_CTX *raw_ctr;
static ls_cipher_ctx *ls_ctr;

typedef void (*op_fn)(size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "bench-channel: %s failed\n", what);
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

static void
op_channel(size_t size)
{
	ls_record_type type;

	ls_buf_reset(&rec);
	ls_buf_reset(&out);
	if (ls_channel_seal(client, LS_RECORD_DATA, pt, size, &rec) != LS_OK)
		die("ls_channel_seal");
	if (ls_channel_open(server, ls_buf_data(&rec), ls_buf_len(&rec), &out, &type) != LS_OK)
		die("ls_channel_open");
}

static void
op_raw_ctr(size_t size)
{
	int n = 0;

	if (EVP_EncryptUpdate(raw_ctr, ct, &n, pt, (int)size) != 1 || (size_t)n != size)
		die("EVP_EncryptUpdate");
}

static void
op_ls_ctr(size_t size)
{
	size_t n = 0;

	if (ls_cipher_update(ls_ctr, pt, size, ct, &n) != LS_OK)
		die("ls_cipher_update");
}

/* Operations per second of @fn at @size: best of REPEATS runs of RUN_SECONDS each. */
static double
ops_per_s(op_fn fn, size_t size)
{
	size_t batch = size >= 4096 ? 1 : 4096 / size;
	double best = 0;

	for (int rep = 0; rep < REPEATS; rep++) {
		double start = now(), elapsed;
		size_t ops = 0;

		do {
			for (size_t i = 0; i < batch; i++)
				fn(size);
			ops += batch;
			elapsed = now() - start;
		} while (elapsed < RUN_SECONDS);
		if (ops / elapsed > best)
			best = ops / elapsed;
	}
	return best;
}

static void
make_channels(unsigned epoch_bits)
{
	uint8_t k[32], cn[32], sn[32];

	ls_channel_free(client);
	ls_channel_free(server);
	if (ls_random_bytes(k, sizeof(k)) != LS_OK || ls_random_bytes(cn, sizeof(cn)) != LS_OK ||
	    ls_random_bytes(sn, sizeof(sn)) != LS_OK)
		die("ls_random_bytes");
	if (ls_channel_new(LS_CHANNEL_CLIENT, k, cn, 32, sn, 32, &client) != LS_OK ||
	    ls_channel_new(LS_CHANNEL_SERVER, k, cn, 32, sn, 32, &server) != LS_OK ||
	    ls_channel_set_epoch_bits(client, epoch_bits) != LS_OK ||
	    ls_channel_set_epoch_bits(server, epoch_bits) != LS_OK)
		die("ls_channel_new");
	ls_wipe(k, sizeof(k));
}

static void
setup(void)
{
	static const uint8_t key[32] = { 1, 2, 3 }, iv8[8] = { 4 };
	ls_cipher_params p = { 0 };
	OSSL_LIB_CTX *libctx;
	EVP_CIPHER *cipher;

	if (ls_crypto_init() != LS_OK)
		die("ls_crypto_init");
	/* The raw baseline: gostprov in a library context of its own, one running CTR context. */
	if ((libctx = OSSL_LIB_CTX_new()) == NULL || OSSL_PROVIDER_load(libctx, "default") == NULL ||
	    OSSL_PROVIDER_load(libctx, "gostprov") == NULL)
		die("loading gostprov");
	if ((cipher = EVP_CIPHER_fetch(libctx, "kuznyechik-ctr", NULL)) == NULL ||
	    (raw_ctr = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex2(raw_ctr, cipher, key, iv8, NULL) != 1)
		die("kuznyechik-ctr");
	EVP_CIPHER_free(cipher);

	p.alg = LS_CIPHER_KUZNYECHIK;
	p.mode = LS_MODE_CTR;
	p.encrypt = true;
	p.key = key;
	p.iv = iv8;
	p.iv_len = 8;
	if (ls_cipher_new(&p, &ls_ctr) != LS_OK)
		die("ls_cipher_new");

	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)i;
	ls_buf_init(&rec, LS_CHANNEL_MAX_RECORD);
	ls_buf_init(&out, LS_CHANNEL_MAX_PLAINTEXT);
}

static void
print_result(bool first, const char *name, size_t size, unsigned epoch_bits, double rec_s,
             double base_mb, double ls_mb)
{
	double mb = rec_s * (double)size / 1e6;

	printf("%s\n    {\"name\":\"%s\",\"size\":%zu,\"epoch_records\":%llu,"
	       "\"records_per_s\":%.0f,\"MB_per_s\":%.1f,\"baseline_name\":\"evp-kuznyechik-ctr\","
	       "\"baseline_MB_per_s\":%.1f,\"ratio\":%.3f,\"ls_cipher_ctr_MB_per_s\":%.1f}",
	       first ? "" : ",", name, size, 1ull << epoch_bits, rec_s, mb, base_mb, mb / base_mb,
	       ls_mb);
}

int
main(void)
{
	double base[3], ls[3];
	size_t i;

	setup();
	for (i = 0; i < 3; i++) {
		base[i] = ops_per_s(op_raw_ctr, sizes[i]) * (double)sizes[i] / 1e6;
		ls[i] = ops_per_s(op_ls_ctr, sizes[i]) * (double)sizes[i] / 1e6;
	}

	printf("{\"benchmark\":\"channel\",\"results\":[");
	make_channels(LS_CHANNEL_DEFAULT_EPOCH_BITS);
	for (i = 0; i < 3; i++)
		print_result(i == 0, "seal+open", sizes[i], LS_CHANNEL_DEFAULT_EPOCH_BITS,
		             ops_per_s(op_channel, sizes[i]), base[i], ls[i]);
	/* The RFC 9189 TLSTREE rate for Kuznyechik (a new key every 64 records), for comparison. */
	make_channels(6);
	print_result(false, "seal+open", sizes[0], 6, ops_per_s(op_channel, sizes[0]), base[0],
	             ls[0]);
	printf("\n]}\n");

	ls_channel_free(client);
	ls_channel_free(server);
	ls_buf_clear(&rec);
	ls_buf_clear(&out);
	ls_cipher_free(ls_ctr);
	EVP_CIPHER_CTX_free(raw_ctr);
	return 0;
}
