/*
 * LS11CLOUD - crypto backend set-up, randomness, digests, HMAC and the GOST KDFs.
 *
 * We hold our own OSSL_LIB_CTX with the gostprov and default providers, and our own reference
 * on the "gost" ENGINE for the asymmetric operations the provider lacks.  Nothing here changes
 * the host process's OpenSSL defaults: no ENGINE_set_default, no global openssl.cnf.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "crypto-private.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/opensslv.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

static struct {
	OSSL_LIB_CTX *libctx;
	OSSL_PROVIDER *prov_default;
	OSSL_PROVIDER *prov_gost;
	ENGINE *engine;
	EVP_MD *md_256;
	EVP_MD *md_512;
	EVP_MD *md_94;
	EVP_MD *md_sha1;
	EVP_MAC *hmac;
	EVP_KDF *pbkdf2;
	int status;
} be;

static pthread_once_t be_once = PTHREAD_ONCE_INIT;

/* The ciphers the backend uses, fetched once from our context. */
static const char *const cipher_names[] = {
	"kuznyechik-ecb", "kuznyechik-cbc", "kuznyechik-ctr", "kuznyechik-ofb",
	"kuznyechik-cfb", "kuznyechik-ctr-acpkm", "magma-cbc", "magma-ctr",
	"magma-ctr-acpkm", "gost89", "gost89-cnt", "gost89-cnt-12", "gost89-ecb",
	"gost89-cbc", /* the GOST 28147-89 block primitive (3.0.1 has no gost89-ecb) */
};
static EVP_CIPHER *ciphers[sizeof(cipher_names) / sizeof(cipher_names[0])];

int
ls_crypto_fail(const char *op)
{
	unsigned long e;
	char buf[256];
	int n = 0;

	while ((e = ERR_get_error()) != 0) {
		if (n++ < 8) {
			ERR_error_string_n(e, buf, sizeof(buf));
			ls_warning("%s: %s", op, buf);
		}
	}
	if (n == 0)
		ls_warning("%s failed", op);
	return LS_ERR_CRYPTO;
}

static int
backend_load(void)
{
	size_t i;

	be.libctx = OSSL_LIB_CTX_new();
	if (be.libctx == NULL)
		return ls_crypto_fail("OSSL_LIB_CTX_new");
	be.prov_default = OSSL_PROVIDER_load(be.libctx, "default");
	if (be.prov_default == NULL)
		return ls_crypto_fail("loading the OpenSSL default provider");
	be.prov_gost = OSSL_PROVIDER_load(be.libctx, "gostprov");
	if (be.prov_gost == NULL)
		return ls_crypto_fail("loading the gostprov provider (package libengine-gost-openssl)");

	be.md_256 = EVP_MD_fetch(be.libctx, "md_gost12_256", NULL);
	be.md_512 = EVP_MD_fetch(be.libctx, "md_gost12_512", NULL);
	be.md_94 = EVP_MD_fetch(be.libctx, "md_gost94", NULL);
	be.md_sha1 = EVP_MD_fetch(be.libctx, "SHA1", NULL);
	be.hmac = EVP_MAC_fetch(be.libctx, "HMAC", NULL);
	be.pbkdf2 = EVP_KDF_fetch(be.libctx, "PBKDF2", NULL);
	if (be.md_256 == NULL || be.md_512 == NULL || be.md_94 == NULL || be.md_sha1 == NULL ||
	    be.hmac == NULL ||
	    be.pbkdf2 == NULL)
		return ls_crypto_fail("fetching Streebog/HMAC/PBKDF2");
	for (i = 0; i < sizeof(cipher_names) / sizeof(cipher_names[0]); i++) {
		ciphers[i] = EVP_CIPHER_fetch(be.libctx, cipher_names[i], NULL);
		if (ciphers[i] == NULL)
			ERR_clear_error(); /* optional: the mode code says when it needs one */
	}

	/*
	 * The engine is needed for GOST R 34.10 (gostprov 3.0.1 has no keymgmt/signature).  Only its
	 * ASN.1 key methods are registered, which key generation with an explicit engine requires;
	 * no default algorithm of the process changes.
	 */
	be.engine = ENGINE_by_id("gost");
	if (be.engine == NULL)
		return ls_crypto_fail("loading the gost engine (package libengine-gost-openssl)");
	if (!ENGINE_init(be.engine)) {
		ENGINE_free(be.engine);
		be.engine = NULL;
		return ls_crypto_fail("ENGINE_init(gost)");
	}
	/* ENGINE_init took a functional reference; drop the structural one from ENGINE_by_id. */
	ENGINE_free(be.engine);
	/*
	 * Loading gost.so registers its ciphers and digests as the process's default implementations
	 * of the GOST NIDs (bind_gost in gost_eng.c).  Undo that: the host's lookups of those
	 * algorithms stay as they were, and we fetch ours from our own context.  The key methods
	 * stay registered: decoding a GOST SubjectPublicKeyInfo needs them, and they only concern
	 * GOST key types, which nothing else in the process could use before.
	 */
	ENGINE_unregister_ciphers(be.engine);
	ENGINE_unregister_digests(be.engine);
	if (!ENGINE_register_pkey_asn1_meths(be.engine))
		return ls_crypto_fail("ENGINE_register_pkey_asn1_meths(gost)");
	return ls_crypto_warm_curves();
}

static void
backend_once(void)
{
	be.status = backend_load();
	if (be.status != LS_OK)
		ls_error("GOST crypto backend unavailable: %s", ls_strerror(be.status));
}

int
ls_crypto_init(void)
{
	pthread_once(&be_once, backend_once);
	return be.status;
}

OSSL_LIB_CTX *
ls_crypto_libctx(void)
{
	return be.libctx;
}

ENGINE *
ls_crypto_engine(void)
{
	return be.engine;
}

const EVP_MD *
ls_crypto_md(ls_md_alg alg)
{
	switch (alg) {
	case LS_MD_STREEBOG256: return be.md_256;
	case LS_MD_STREEBOG512: return be.md_512;
	case LS_MD_GOST94: return be.md_94;
	case LS_MD_SHA1: return be.md_sha1;
	}
	return NULL;
}

const EVP_CIPHER *
ls_crypto_cipher(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cipher_names) / sizeof(cipher_names[0]); i++) {
		if (strcmp(cipher_names[i], name) == 0)
			return ciphers[i];
	}
	return NULL;
}

const char *
ls_crypto_backend_version(void)
{
	return OPENSSL_VERSION_TEXT " with gost-engine (gostprov + gost)";
}

/* ------------------------------------------------------------------------------------------- */

int
ls_random_bytes(void *buf, size_t len)
{
	int r;

	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (len == 0)
		return LS_OK;
	ls_return_val_if_fail(buf != NULL, LS_ERR_INVALID_ARG);
	while (len > 0) {
		size_t chunk = len > (1u << 20) ? (1u << 20) : len;

		if (RAND_bytes_ex(be.libctx, buf, chunk, 0) != 1) {
			ls_crypto_fail("RAND_bytes_ex");
			return LS_ERR_RANDOM;
		}
		buf = (uint8_t *)buf + chunk;
		len -= chunk;
	}
	return LS_OK;
}

int
ls_random_seed(const void *buf, size_t len)
{
	EVP_RAND_CTX *drbgs[3];
	size_t i;
	int r;

	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	ls_return_val_if_fail(buf != NULL || len == 0, LS_ERR_INVALID_ARG);
	if (len > 4096)
		return LS_ERR_BAD_LENGTH;
	drbgs[0] = RAND_get0_primary(be.libctx);
	drbgs[1] = RAND_get0_public(be.libctx);
	drbgs[2] = RAND_get0_private(be.libctx);
	/* The caller's bytes go in as additional input: they add to, never replace, the entropy. */
	for (i = 0; i < 3; i++) {
		if (drbgs[i] == NULL || !EVP_RAND_reseed(drbgs[i], 0, NULL, 0, buf, len)) {
			ls_crypto_fail("EVP_RAND_reseed");
			return LS_ERR_RANDOM;
		}
	}
	return LS_OK;
}

void
ls_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

void
ls_free_secret(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

bool
ls_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

/* ------------------------------------------------------------------------------------------- */

struct ls_md_ctx {
	EVP_MD_CTX *ctx;
	ls_md_alg alg;
};

size_t
ls_md_size(ls_md_alg alg)
{
	switch (alg) {
	case LS_MD_STREEBOG256: return 32;
	case LS_MD_STREEBOG512: return 64;
	case LS_MD_GOST94: return 32;
	case LS_MD_SHA1: return 20;
	}
	return 0;
}

int
ls_md_new(ls_md_alg alg, ls_md_ctx **out)
{
	ls_md_ctx *m;
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (ls_crypto_md(alg) == NULL)
		return LS_ERR_UNSUPPORTED;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return LS_ERR_NOMEM;
	m->alg = alg;
	m->ctx = EVP_MD_CTX_new();
	if (m->ctx == NULL) {
		free(m);
		return LS_ERR_NOMEM;
	}
	if (!EVP_DigestInit_ex2(m->ctx, ls_crypto_md(alg), NULL)) {
		ls_md_free(m);
		return ls_crypto_fail("EVP_DigestInit_ex2");
	}
	*out = m;
	return LS_OK;
}

int
ls_md_update(ls_md_ctx *ctx, const void *data, size_t len)
{
	ls_return_val_if_fail(ctx != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data != NULL || len == 0, LS_ERR_INVALID_ARG);
	if (len > 0 && !EVP_DigestUpdate(ctx->ctx, data, len))
		return ls_crypto_fail("EVP_DigestUpdate");
	return LS_OK;
}

int
ls_md_final(ls_md_ctx *ctx, uint8_t *out, size_t out_len)
{
	ls_return_val_if_fail(ctx != NULL && out != NULL, LS_ERR_INVALID_ARG);
	if (out_len < ls_md_size(ctx->alg))
		return LS_ERR_BAD_LENGTH;
	if (!EVP_DigestFinal_ex(ctx->ctx, out, NULL))
		return ls_crypto_fail("EVP_DigestFinal_ex");
	return LS_OK;
}

int
ls_md_reset(ls_md_ctx *ctx)
{
	ls_return_val_if_fail(ctx != NULL, LS_ERR_INVALID_ARG);
	if (!EVP_DigestInit_ex2(ctx->ctx, ls_crypto_md(ctx->alg), NULL))
		return ls_crypto_fail("EVP_DigestInit_ex2");
	return LS_OK;
}

int
ls_md_dup(const ls_md_ctx *ctx, ls_md_ctx **out)
{
	ls_md_ctx *m;

	ls_return_val_if_fail(ctx != NULL && out != NULL, LS_ERR_INVALID_ARG);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return LS_ERR_NOMEM;
	m->alg = ctx->alg;
	m->ctx = EVP_MD_CTX_new();
	if (m->ctx == NULL || !EVP_MD_CTX_copy_ex(m->ctx, ctx->ctx)) {
		ls_md_free(m);
		return ls_crypto_fail("EVP_MD_CTX_copy_ex");
	}
	*out = m;
	return LS_OK;
}

void
ls_md_free(ls_md_ctx *ctx)
{
	if (ctx == NULL)
		return;
	EVP_MD_CTX_free(ctx->ctx);
	free(ctx);
}

int
ls_md(ls_md_alg alg, const void *data, size_t len, uint8_t *out, size_t out_len)
{
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data != NULL || len == 0, LS_ERR_INVALID_ARG);
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (ls_crypto_md(alg) == NULL)
		return LS_ERR_UNSUPPORTED;
	if (out_len < ls_md_size(alg))
		return LS_ERR_BAD_LENGTH;
	if (!EVP_Digest(data, len, out, NULL, ls_crypto_md(alg), NULL))
		return ls_crypto_fail("EVP_Digest");
	return LS_OK;
}

/* ------------------------------------------------------------------------------------------- */

struct ls_hmac_ctx {
	EVP_MAC_CTX *ctx;
	ls_md_alg alg;
};

static const char *
md_name(ls_md_alg alg)
{
	switch (alg) {
	case LS_MD_STREEBOG256: return "md_gost12_256";
	case LS_MD_STREEBOG512: return "md_gost12_512";
	case LS_MD_GOST94: return "md_gost94";
	case LS_MD_SHA1: return "SHA1";
	}
	return NULL;
}

int
ls_hmac_new(ls_md_alg alg, const uint8_t *key, size_t key_len, ls_hmac_ctx **out)
{
	OSSL_PARAM params[2];
	ls_hmac_ctx *h;
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(key != NULL || key_len == 0, LS_ERR_INVALID_ARG);
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (md_name(alg) == NULL)
		return LS_ERR_UNSUPPORTED;
	if (key_len > 1024)
		return LS_ERR_BAD_LENGTH;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return LS_ERR_NOMEM;
	h->alg = alg;
	h->ctx = EVP_MAC_CTX_new(be.hmac);
	if (h->ctx == NULL) {
		free(h);
		return LS_ERR_NOMEM;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md_name(alg), 0);
	params[1] = OSSL_PARAM_construct_end();
	/* A zero-length key is legal HMAC; OpenSSL wants a non-NULL pointer for it. */
	if (!EVP_MAC_init(h->ctx, key_len > 0 ? key : (const uint8_t *)"", key_len, params)) {
		ls_hmac_free(h);
		return ls_crypto_fail("EVP_MAC_init(HMAC)");
	}
	*out = h;
	return LS_OK;
}

int
ls_hmac_update(ls_hmac_ctx *ctx, const void *data, size_t len)
{
	ls_return_val_if_fail(ctx != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data != NULL || len == 0, LS_ERR_INVALID_ARG);
	if (len > 0 && !EVP_MAC_update(ctx->ctx, data, len))
		return ls_crypto_fail("EVP_MAC_update(HMAC)");
	return LS_OK;
}

int
ls_hmac_final(ls_hmac_ctx *ctx, uint8_t *out, size_t out_len)
{
	size_t n = 0;

	ls_return_val_if_fail(ctx != NULL && out != NULL, LS_ERR_INVALID_ARG);
	if (out_len < ls_md_size(ctx->alg))
		return LS_ERR_BAD_LENGTH;
	if (!EVP_MAC_final(ctx->ctx, out, &n, out_len) || n != ls_md_size(ctx->alg))
		return ls_crypto_fail("EVP_MAC_final(HMAC)");
	return LS_OK;
}

void
ls_hmac_free(ls_hmac_ctx *ctx)
{
	if (ctx == NULL)
		return;
	EVP_MAC_CTX_free(ctx->ctx);
	free(ctx);
}

int
ls_hmac(ls_md_alg alg, const uint8_t *key, size_t key_len, const void *data, size_t len,
        uint8_t *out, size_t out_len)
{
	ls_hmac_ctx *h = NULL;
	int r;

	if ((r = ls_hmac_new(alg, key, key_len, &h)) != LS_OK)
		return r;
	if ((r = ls_hmac_update(h, data, len)) == LS_OK)
		r = ls_hmac_final(h, out, out_len);
	ls_hmac_free(h);
	return r;
}

/* ------------------------------------------------------------------------------------------- */

int
ls_pbkdf2_streebog512(const void *password, size_t password_len, const uint8_t *salt,
                      size_t salt_len, uint32_t iterations, uint8_t *out, size_t out_len)
{
	OSSL_PARAM params[6];
	EVP_KDF_CTX *kctx;
	unsigned int iter = iterations;
	int pkcs5 = 1; /* the R 50.1.111 vectors use short salts: no SP 800-132 floor */
	int r;

	ls_return_val_if_fail(password != NULL || password_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(salt != NULL || salt_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (iterations < 1 || iterations > 100000000u)
		return LS_ERR_INVALID_ARG;
	if (out_len < 1 || out_len > 4096 || password_len > 4096 || salt_len > 1024)
		return LS_ERR_BAD_LENGTH;

	kctx = EVP_KDF_CTX_new(be.pbkdf2);
	if (kctx == NULL)
		return LS_ERR_NOMEM;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
	                                              (void *)(password_len ? password : ""),
	                                              password_len);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	                                              (void *)(salt_len ? salt : (const uint8_t *)""),
	                                              salt_len);
	params[2] = OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iter);
	params[3] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "md_gost12_512", 0);
	params[4] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5);
	params[5] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
		ls_wipe(out, out_len);
		r = ls_crypto_fail("EVP_KDF_derive(PBKDF2-Streebog512)");
	}
	EVP_KDF_CTX_free(kctx);
	return r;
}

int
ls_kdf_gostr3411_2012_256(const uint8_t key[32], const uint8_t *label, size_t label_len,
                          const uint8_t *seed, size_t seed_len, uint8_t out[32])
{
	return ls_kdf_tree_gostr3411_2012_256(key, label, label_len, seed, seed_len, 1, out, 32);
}

int
ls_kdf_tree_gostr3411_2012_256(const uint8_t key[32], const uint8_t *label, size_t label_len,
                               const uint8_t *seed, size_t seed_len, unsigned r, uint8_t *out,
                               size_t out_len)
{
	static const uint8_t zero = 0;
	uint8_t block[32], ctr[4], lbits[2];
	ls_hmac_ctx *base = NULL;
	uint64_t blocks, i;
	size_t bits;
	int rc;

	ls_return_val_if_fail(key != NULL && out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(label != NULL || label_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(seed != NULL || seed_len == 0, LS_ERR_INVALID_ARG);
	if (r < 1 || r > 4)
		return LS_ERR_INVALID_ARG;
	/* L travels as a 2-byte bit count (RFC 7836 4.5). */
	if (out_len < 1 || out_len * 8 > 0xffff || label_len > 4096 || seed_len > 4096)
		return LS_ERR_BAD_LENGTH;
	blocks = (out_len + 31) / 32;
	if (r < 4 && blocks > ((uint64_t)1 << (8 * r)) - 1)
		return LS_ERR_BAD_LENGTH;
	bits = out_len * 8;
	lbits[0] = (uint8_t)(bits >> 8);
	lbits[1] = (uint8_t)bits;

	for (i = 1; i <= blocks; i++) {
		size_t n = out_len - (size_t)(i - 1) * 32;
		unsigned j;

		for (j = 0; j < r; j++)
			ctr[j] = (uint8_t)(i >> (8 * (r - 1 - j)));
		if ((rc = ls_hmac_new(LS_MD_STREEBOG256, key, 32, &base)) != LS_OK)
			goto out;
		if ((rc = ls_hmac_update(base, ctr, r)) != LS_OK ||
		    (rc = ls_hmac_update(base, label, label_len)) != LS_OK ||
		    (rc = ls_hmac_update(base, &zero, 1)) != LS_OK ||
		    (rc = ls_hmac_update(base, seed, seed_len)) != LS_OK ||
		    (rc = ls_hmac_update(base, lbits, 2)) != LS_OK ||
		    (rc = ls_hmac_final(base, block, sizeof(block))) != LS_OK)
			goto out;
		ls_hmac_free(base);
		base = NULL;
		memcpy(out + (i - 1) * 32, block, n > 32 ? 32 : n);
	}
	rc = LS_OK;
out:
	ls_hmac_free(base);
	ls_wipe(block, sizeof(block));
	if (rc != LS_OK)
		ls_wipe(out, out_len);
	return rc;
}
