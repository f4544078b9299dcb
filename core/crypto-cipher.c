/*
 * LS11CLOUD - block ciphers, modes and MACs: Kuznyechik and Magma (GOST R 34.12-2015 with the
 * modes of GOST R 34.13-2015 and CTR-ACPKM of R 1323565.1.017-2018), GOST 28147-89 (ECB, CNT,
 * CFB, IMIT) with the CryptoPro-A and TC26 Z S-boxes.
 *
 * Where gostprov (gost-engine 3.0.1) has the mode, its cipher does the work.  What it lacks is
 * built here on its block primitive:
 *  - Kuznyechik CTR runs over bulk kuznyechik-ecb with the counter kept here.  Kuznyechik's key
 *    schedule costs tens of microseconds in the engine and a gostprov context cannot take a new
 *    IV without re-keying, so this is what makes ls_cipher_reset() nearly free; it is also
 *    faster than the engine's own CTR.
 *  - Magma and GOST 28147-89 have no ECB cipher in 3.0.1: the block primitive is a CBC cipher
 *    fed x XOR (its previous output), which makes the CBC output E(x) (see blk_encrypt()).
 *    ECB decryption runs over the CBC decryptor in bulk.  Magma OFB and CFB use the same
 *    primitive.
 *  - OMAC (CMAC) runs over a zero-IV CBC context; a new message XORs the context's current
 *    chaining value into its first block instead of re-keying (see mac_feed()).
 *  - The engine picks the GOST 28147-89 S-box from the CRYPT_PARAMS environment variable (TC26 Z
 *    when unset), so every gost89/gost89-cbc context gets its parameter set explicitly through
 *    the "alg_id_param" parameter after each initialisation.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "crypto-private.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>

/* EVP lengths are int: longer inputs go in slices of this many bytes (a multiple of 16). */
#define EVP_SLICE ((size_t)1 << 30)
/* Batch of counter blocks / CBC outputs processed per EVP call; also the stack scratch size. */
#define BATCH 4096

enum impl {
	IMPL_EVP = 1,    /* the provider's cipher does the whole mode */
	IMPL_CTR_ECB,    /* 34.13 CTR over bulk ECB (Kuznyechik) */
	IMPL_ECB_CHAIN,  /* ECB over a CBC cipher (Magma, GOST 28147-89) */
	IMPL_STREAM_BLK, /* OFB/CFB over blk_encrypt() (Magma) */
};

/* The block primitive of ciphers without an ECB mode: a CBC encryptor and its last output. */
struct blk {
	EVP_CIPHER_CTX *cbc;
	uint8_t chain[LS_CIPHER_MAX_BLOCK];
};

struct ls_cipher_ctx {
	ls_cipher_alg alg;
	ls_cipher_mode mode;
	ls_gost89_param param;
	bool encrypt;
	enum impl impl;
	size_t bs;
	size_t acpkm_section;
	const EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *evp;    /* IMPL_EVP, IMPL_CTR_ECB (ECB), IMPL_ECB_CHAIN decrypt (CBC) */
	struct blk blk;         /* IMPL_ECB_CHAIN encrypt, IMPL_STREAM_BLK */
	uint8_t key[LS_CIPHER_KEY_SIZE];  /* kept for ls_cipher_reset() of IMPL_EVP contexts */
	uint8_t reg[LS_CIPHER_MAX_BLOCK]; /* counter, OFB/CFB register, or previous ciphertext */
	uint8_t ks[LS_CIPHER_MAX_BLOCK];  /* keystream of the current block */
	size_t ks_pos;                    /* bytes of ks used; bs means none left */
	bool partial;                     /* ECB/CBC saw a partial block */
	bool failed;                      /* the backend failed: the context is dead */
};

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

size_t
ls_cipher_block_size(ls_cipher_alg alg)
{
	switch (alg) {
	case LS_CIPHER_KUZNYECHIK: return 16;
	case LS_CIPHER_MAGMA: return 8;
	case LS_CIPHER_GOST89: return 8;
	}
	return 0;
}

static void
xor_bytes(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		x ^= y;
		memcpy(out + i, &x, 8);
	}
	for (; i < n; i++)
		out[i] = a[i] ^ b[i];
}

/*
 * Writes @nblocks successive 16-byte big-endian counter blocks starting at @ctr to @out and
 * advances @ctr past them (arithmetic mod 2^128, as 34.13 CTR wants).
 */
static uint64_t
be64_load(const uint8_t *p)
{
	uint64_t v = 0;
	int b;

	for (b = 0; b < 8; b++)
		v = v << 8 | p[b];
	return v;
}

static void
be64_store(uint8_t *p, uint64_t v)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
	memcpy(p, &v, 8);
#else
	int b;

	for (b = 7; b >= 0; b--, v >>= 8)
		p[b] = (uint8_t)v;
#endif
}

static void
ctr_fill(uint8_t ctr[16], uint8_t *out, size_t nblocks)
{
	uint64_t hi = be64_load(ctr), lo = be64_load(ctr + 8);
	size_t i;

	for (i = 0; i < nblocks; i++, out += 16) {
		be64_store(out, hi);
		be64_store(out + 8, lo);
		lo++;
		hi += lo == 0;
	}
	be64_store(ctr, hi);
	be64_store(ctr + 8, lo);
}

/* The DER of GOST 28147-89 cipher parameters: SEQUENCE { iv OCTET STRING, paramset OID }. */
static size_t
gost89_params_der(ls_gost89_param param, const uint8_t iv[8], uint8_t der[32])
{
	static const uint8_t oid_cpa[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1f, 0x01 };
	static const uint8_t oid_z[] = { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x05,
	                                 0x01, 0x01 };
	const uint8_t *oid = param == LS_GOST89_PARAM_Z ? oid_z : oid_cpa;
	size_t oid_len = param == LS_GOST89_PARAM_Z ? sizeof(oid_z) : sizeof(oid_cpa);

	der[0] = 0x30;
	der[1] = (uint8_t)(10 + oid_len);
	der[2] = 0x04;
	der[3] = 0x08;
	memcpy(der + 4, iv, 8);
	memcpy(der + 12, oid, oid_len);
	return 12 + oid_len;
}

/*
 * (Re)initialises @evp with @cipher: padding off, and for GOST 28147-89 the S-box of @param
 * (applied after the init, which resets it to the engine's default).  @section > 0 sets the
 * CTR-ACPKM section size.
 */
static int
evp_init(EVP_CIPHER_CTX *evp, const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *iv,
         bool enc, ls_gost89_param param, size_t section)
{
	OSSL_PARAM p[2];
	uint8_t der[32];
	static const uint8_t zero_iv[8];

	/*
	 * Always from a fresh provider context: re-initialising a used gostprov context fails after
	 * EVP_CIPHER_CTX_set_padding() when the cipher is named again, and with a NULL cipher the
	 * CTR ciphers keep stale counter state (OpenSSL 3.0.19 + gost-engine 3.0.1, probed).
	 */
	EVP_CIPHER_CTX_reset(evp);
	if (!EVP_CipherInit_ex2(evp, cipher, key, iv, enc ? 1 : 0, NULL))
		return ls_crypto_fail("EVP_CipherInit_ex2");
	if (EVP_CIPHER_CTX_get_block_size(evp) > 1 && !EVP_CIPHER_CTX_set_padding(evp, 0))
		return ls_crypto_fail("EVP_CIPHER_CTX_set_padding");
	if (param != 0) {
		size_t n = gost89_params_der(param, iv != NULL ? iv : zero_iv, der);

		p[0] = OSSL_PARAM_construct_octet_string("alg_id_param", der, n);
		p[1] = OSSL_PARAM_construct_end();
		if (!EVP_CIPHER_CTX_set_params(evp, p))
			return ls_crypto_fail("setting the GOST 28147-89 parameter set");
	}
	if (section > 0) {
		p[0] = OSSL_PARAM_construct_size_t("key-mesh", &section);
		p[1] = OSSL_PARAM_construct_end();
		if (!EVP_CIPHER_CTX_set_params(evp, p))
			return ls_crypto_fail("setting the ACPKM section size");
	}
	return LS_OK;
}

/* Runs @len bytes (a multiple of the block size for block modes) through @evp. */
static int
evp_run(EVP_CIPHER_CTX *evp, const uint8_t *in, size_t len, uint8_t *out)
{
	while (len > 0) {
		size_t n = len > EVP_SLICE ? EVP_SLICE : len;
		int outl = 0;

		if (!EVP_CipherUpdate(evp, out, &outl, in, (int)n) || (size_t)outl != n)
			return ls_crypto_fail("EVP_CipherUpdate");
		in += n;
		out += n;
		len -= n;
	}
	return LS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The block primitive over a CBC encryptor (Magma, GOST 28147-89)
 * ------------------------------------------------------------------------------------------- */

static int
blk_init(struct blk *b, const EVP_CIPHER *cbc, const uint8_t *key, ls_gost89_param param)
{
	static const uint8_t zero[8];

	if (b->cbc == NULL && (b->cbc = EVP_CIPHER_CTX_new()) == NULL)
		return LS_ERR_NOMEM;
	memset(b->chain, 0, sizeof(b->chain));
	return evp_init(b->cbc, cbc, key, zero, true, param, 0);
}

/*
 * ECB-encrypts @n 8-byte blocks one at a time: CBC turns x XOR chain into E(x), and the output
 * is the next chain.  @in == @out is allowed.
 */
static int
blk_encrypt(struct blk *b, const uint8_t *in, uint8_t *out, size_t n)
{
	uint8_t x[8];
	int outl, r = LS_OK;

	for (; n > 0; n--, in += 8, out += 8) {
		xor_bytes(x, in, b->chain, 8);
		if (!EVP_EncryptUpdate(b->cbc, b->chain, &outl, x, 8) || outl != 8) {
			r = ls_crypto_fail("EVP_EncryptUpdate(block)");
			break;
		}
		memcpy(out, b->chain, 8);
	}
	ls_wipe(x, sizeof(x));
	return r;
}

static void
blk_clear(struct blk *b)
{
	EVP_CIPHER_CTX_free(b->cbc);
	b->cbc = NULL;
	ls_wipe(b->chain, sizeof(b->chain));
}

/* ---------------------------------------------------------------------------------------------
 * Mode table
 * ------------------------------------------------------------------------------------------- */

struct mode_impl {
	ls_cipher_alg alg;
	ls_cipher_mode mode;
	enum impl impl;
	const char *cipher;   /* for GOST89 CTR: CryptoPro-A; see cipher_z */
	const char *cipher_z; /* GOST89 CTR with the Z S-box */
	size_t iv_len;
};

/*
 * GOST 28147-89 CNT: gost89-cnt (CryptoPro-A) and gost89-cnt-12 (TC26 Z) differ only in the
 * S-box; both apply CryptoPro key meshing every 1 KiB (RFC 4357 2.3.2), as do gost89 (CFB) and
 * the IMIT.  That is what the CKM_GOST28147 family means with the CryptoPro/TC26 parameter sets,
 * whose ASN.1 definitions name CryptoPro key meshing.  ECB never meshes.
 */
static const struct mode_impl modes[] = {
	{ LS_CIPHER_KUZNYECHIK, LS_MODE_ECB, IMPL_EVP, "kuznyechik-ecb", NULL, 0 },
	{ LS_CIPHER_KUZNYECHIK, LS_MODE_CBC, IMPL_EVP, "kuznyechik-cbc", NULL, 16 },
	{ LS_CIPHER_KUZNYECHIK, LS_MODE_CTR, IMPL_CTR_ECB, "kuznyechik-ecb", NULL, 8 },
	{ LS_CIPHER_KUZNYECHIK, LS_MODE_OFB, IMPL_EVP, "kuznyechik-ofb", NULL, 16 },
	{ LS_CIPHER_KUZNYECHIK, LS_MODE_CFB, IMPL_EVP, "kuznyechik-cfb", NULL, 16 },
	{ LS_CIPHER_KUZNYECHIK, LS_MODE_CTR_ACPKM, IMPL_EVP, "kuznyechik-ctr-acpkm", NULL, 8 },
	{ LS_CIPHER_MAGMA, LS_MODE_ECB, IMPL_ECB_CHAIN, "magma-cbc", NULL, 0 },
	{ LS_CIPHER_MAGMA, LS_MODE_CBC, IMPL_EVP, "magma-cbc", NULL, 8 },
	{ LS_CIPHER_MAGMA, LS_MODE_CTR, IMPL_EVP, "magma-ctr", NULL, 4 },
	{ LS_CIPHER_MAGMA, LS_MODE_OFB, IMPL_STREAM_BLK, "magma-cbc", NULL, 8 },
	{ LS_CIPHER_MAGMA, LS_MODE_CFB, IMPL_STREAM_BLK, "magma-cbc", NULL, 8 },
	{ LS_CIPHER_MAGMA, LS_MODE_CTR_ACPKM, IMPL_EVP, "magma-ctr-acpkm", NULL, 4 },
	{ LS_CIPHER_GOST89, LS_MODE_ECB, IMPL_ECB_CHAIN, "gost89-cbc", NULL, 0 },
	{ LS_CIPHER_GOST89, LS_MODE_CTR, IMPL_EVP, "gost89-cnt", "gost89-cnt-12", 8 },
	{ LS_CIPHER_GOST89, LS_MODE_CFB, IMPL_EVP, "gost89", NULL, 8 },
};

static const struct mode_impl *
mode_find(ls_cipher_alg alg, ls_cipher_mode mode)
{
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (modes[i].alg == alg && modes[i].mode == mode)
			return &modes[i];
	}
	return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Ciphers
 * ------------------------------------------------------------------------------------------- */

/* Puts @ctx at the start of a message under @iv; the key is in place. */
static int
cipher_start(ls_cipher_ctx *ctx, const uint8_t *iv, bool rekey)
{
	/* gost89-cnt(-12) fix their S-box themselves; gost89 and gost89-cbc need it set. */
	ls_gost89_param p89 = 0;
	int r = LS_OK;

	if (ctx->alg == LS_CIPHER_GOST89 && ctx->mode != LS_MODE_CTR)
		p89 = ctx->param;
	ctx->partial = false;
	ctx->ks_pos = ctx->bs;
	/* ECB over the CBC decryptor keeps its chain (the last ciphertext) in reg across resets. */
	if (rekey || ctx->impl != IMPL_ECB_CHAIN)
		memset(ctx->reg, 0, sizeof(ctx->reg));
	switch (ctx->impl) {
	case IMPL_EVP:
		/* A gostprov context re-keys on every init, so the key goes in every time. */
		r = evp_init(ctx->evp, ctx->cipher, ctx->key, iv, ctx->encrypt, p89,
		             ctx->acpkm_section);
		break;
	case IMPL_CTR_ECB:
		if (rekey)
			r = evp_init(ctx->evp, ctx->cipher, ctx->key, NULL, true, 0, 0);
		memcpy(ctx->reg, iv, ctx->bs / 2);
		break;
	case IMPL_ECB_CHAIN:
		if (ctx->encrypt) {
			if (rekey)
				r = blk_init(&ctx->blk, ctx->cipher, ctx->key, p89);
		} else if (rekey) {
			static const uint8_t zero[8];

			r = evp_init(ctx->evp, ctx->cipher, ctx->key, zero, false, p89, 0);
		}
		break;
	case IMPL_STREAM_BLK:
		if (rekey)
			r = blk_init(&ctx->blk, ctx->cipher, ctx->key, p89);
		memcpy(ctx->reg, iv, ctx->bs);
		break;
	}
	ctx->failed = r != LS_OK;
	return r;
}

static int
check_params(const ls_cipher_params *p, const struct mode_impl **mi)
{
	ls_return_val_if_fail(p != NULL, LS_ERR_INVALID_ARG);
	if (ls_cipher_block_size(p->alg) == 0)
		return LS_ERR_INVALID_ARG;
	if (p->alg == LS_CIPHER_GOST89 && p->gost89_param != 0 &&
	    p->gost89_param != LS_GOST89_PARAM_CPA && p->gost89_param != LS_GOST89_PARAM_Z)
		return LS_ERR_INVALID_ARG;
	if ((*mi = mode_find(p->alg, p->mode)) == NULL)
		return p->mode >= LS_MODE_ECB && p->mode <= LS_MODE_CTR_ACPKM ? LS_ERR_UNSUPPORTED
		                                                              : LS_ERR_INVALID_ARG;
	ls_return_val_if_fail(p->key != NULL, LS_ERR_INVALID_ARG);
	if (p->iv_len != (*mi)->iv_len)
		return LS_ERR_BAD_LENGTH;
	ls_return_val_if_fail(p->iv != NULL || p->iv_len == 0, LS_ERR_INVALID_ARG);
	if (p->mode == LS_MODE_CTR_ACPKM) {
		size_t bs = ls_cipher_block_size(p->alg);

		/* The section must hold whole blocks and fit the engine's unsigned counter. */
		if (p->acpkm_section % bs != 0 || p->acpkm_section > ((size_t)1 << 30))
			return LS_ERR_BAD_LENGTH;
	} else if (p->acpkm_section != 0) {
		return LS_ERR_INVALID_ARG;
	}
	return LS_OK;
}

int
ls_cipher_new(const ls_cipher_params *params, ls_cipher_ctx **out)
{
	const struct mode_impl *mi = NULL;
	ls_cipher_ctx *ctx = NULL;
	const char *name;
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if ((r = check_params(params, &mi)) != LS_OK)
		return r;
	name = mi->cipher;
	if (mi->cipher_z != NULL && params->gost89_param == LS_GOST89_PARAM_Z)
		name = mi->cipher_z;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return LS_ERR_NOMEM;
	ctx->alg = params->alg;
	ctx->mode = params->mode;
	ctx->param = params->gost89_param != 0 ? params->gost89_param : LS_GOST89_PARAM_CPA;
	ctx->encrypt = params->encrypt;
	ctx->impl = mi->impl;
	ctx->bs = ls_cipher_block_size(params->alg);
	if (params->mode == LS_MODE_CTR_ACPKM)
		ctx->acpkm_section = params->acpkm_section != 0 ? params->acpkm_section
		                     : params->alg == LS_CIPHER_KUZNYECHIK ? 4096 : 1024;
	memcpy(ctx->key, params->key, LS_CIPHER_KEY_SIZE);
	if ((ctx->cipher = ls_crypto_cipher(name)) == NULL) {
		ls_warning("cipher %s is not available from gostprov", name);
		r = LS_ERR_UNSUPPORTED;
		goto out;
	}
	if (ctx->impl != IMPL_STREAM_BLK && !(ctx->impl == IMPL_ECB_CHAIN && ctx->encrypt)) {
		if ((ctx->evp = EVP_CIPHER_CTX_new()) == NULL) {
			r = LS_ERR_NOMEM;
			goto out;
		}
	}
	if ((r = cipher_start(ctx, params->iv, true)) != LS_OK)
		goto out;
	*out = ctx;
	ctx = NULL;
out:
	ls_cipher_free(ctx);
	return r;
}

int
ls_cipher_reset(ls_cipher_ctx *ctx, const uint8_t *iv, size_t iv_len)
{
	const struct mode_impl *mi;

	ls_return_val_if_fail(ctx != NULL, LS_ERR_INVALID_ARG);
	mi = mode_find(ctx->alg, ctx->mode);
	if (mi == NULL || iv_len != mi->iv_len)
		return LS_ERR_BAD_LENGTH;
	ls_return_val_if_fail(iv != NULL || iv_len == 0, LS_ERR_INVALID_ARG);
	/* Only the EVP modes must re-key; a context that failed is rebuilt from scratch. */
	return cipher_start(ctx, iv, ctx->failed);
}

/* 34.13 CTR over ECB: counter blocks are built in a batch and encrypted in one call. */
static int
ctr_ecb_update(ls_cipher_ctx *ctx, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t ks[BATCH];
	const size_t bs = ctx->bs;
	size_t used = 0;
	int r = LS_OK;

	/* Leftover keystream of a block started by the previous call. */
	while (ctx->ks_pos < bs && len > 0) {
		*out++ = *in++ ^ ctx->ks[ctx->ks_pos++];
		len--;
	}
	while (len >= bs) {
		size_t n = len - len % bs;

		if (n > sizeof(ks))
			n = sizeof(ks);
		ctr_fill(ctx->reg, ks, n / bs);
		if ((r = evp_run(ctx->evp, ks, n, ks)) != LS_OK)
			goto out;
		used = n;
		xor_bytes(out, in, ks, n);
		in += n;
		out += n;
		len -= n;
	}
	if (len > 0) {
		ctr_fill(ctx->reg, ctx->ks, 1);
		if ((r = evp_run(ctx->evp, ctx->ks, bs, ctx->ks)) != LS_OK)
			goto out;
		xor_bytes(out, in, ctx->ks, len);
		ctx->ks_pos = len;
	}
out:
	ls_wipe(ks, used);
	return r;
}

/* ECB decryption over a CBC decryptor: P_i = CBC-D(C_i) XOR C_(i-1), the chain kept in reg. */
static int
ecb_chain_decrypt(ls_cipher_ctx *ctx, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t buf[BATCH], c[8];
	size_t used = 0;
	int r = LS_OK;

	while (len > 0) {
		size_t n = len > sizeof(buf) ? sizeof(buf) : len, i;

		if ((r = evp_run(ctx->evp, in, n, buf)) != LS_OK)
			goto out;
		used = n;
		for (i = 0; i < n; i += 8) {
			memcpy(c, in + i, 8);
			xor_bytes(out + i, buf + i, ctx->reg, 8);
			memcpy(ctx->reg, c, 8);
		}
		in += n;
		out += n;
		len -= n;
	}
out:
	ls_wipe(buf, used);
	ls_wipe(c, sizeof(c));
	return r;
}

/* Magma OFB and CFB (m = n, full-block feedback) over blk_encrypt(), any length. */
static int
stream_blk_update(ls_cipher_ctx *ctx, const uint8_t *in, size_t len, uint8_t *out)
{
	const size_t bs = ctx->bs;
	int r;

	while (len > 0) {
		if (ctx->ks_pos == bs) {
			/* OFB: the register holds the last keystream; CFB: the last ciphertext. */
			if ((r = blk_encrypt(&ctx->blk, ctx->reg, ctx->ks, 1)) != LS_OK)
				return r;
			if (ctx->mode == LS_MODE_OFB)
				memcpy(ctx->reg, ctx->ks, bs);
			ctx->ks_pos = 0;
		}
		if (ctx->mode == LS_MODE_CFB) {
			uint8_t c = ctx->encrypt ? (uint8_t)(*in ^ ctx->ks[ctx->ks_pos]) : *in;

			*out = (uint8_t)(*in ^ ctx->ks[ctx->ks_pos]);
			ctx->reg[ctx->ks_pos] = c;
		} else {
			*out = (uint8_t)(*in ^ ctx->ks[ctx->ks_pos]);
		}
		ctx->ks_pos++;
		in++;
		out++;
		len--;
	}
	return LS_OK;
}

int
ls_cipher_update(ls_cipher_ctx *ctx, const uint8_t *in, size_t in_len, uint8_t *out,
                 size_t *out_len)
{
	int r = LS_OK;

	ls_return_val_if_fail(ctx != NULL && out_len != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail((in != NULL && out != NULL) || in_len == 0, LS_ERR_INVALID_ARG);
	*out_len = 0;
	if (ctx->failed)
		return LS_ERR_STATE;
	if ((ctx->mode == LS_MODE_ECB || ctx->mode == LS_MODE_CBC) && in_len % ctx->bs != 0) {
		ctx->partial = true;
		return LS_ERR_BAD_LENGTH;
	}
	if (in_len == 0)
		return LS_OK;

	switch (ctx->impl) {
	case IMPL_EVP:
		r = evp_run(ctx->evp, in, in_len, out);
		break;
	case IMPL_CTR_ECB:
		r = ctr_ecb_update(ctx, in, in_len, out);
		break;
	case IMPL_ECB_CHAIN:
		if (ctx->encrypt)
			r = blk_encrypt(&ctx->blk, in, out, in_len / 8);
		else
			r = ecb_chain_decrypt(ctx, in, in_len, out);
		break;
	case IMPL_STREAM_BLK:
		r = stream_blk_update(ctx, in, in_len, out);
		break;
	}
	if (r != LS_OK) {
		ctx->failed = true;
		if (in != out)
			ls_wipe(out, in_len);
		return r;
	}
	*out_len = in_len;
	return LS_OK;
}

int
ls_cipher_final(ls_cipher_ctx *ctx)
{
	ls_return_val_if_fail(ctx != NULL, LS_ERR_INVALID_ARG);
	if (ctx->failed)
		return LS_ERR_STATE;
	if (ctx->partial)
		return LS_ERR_BAD_LENGTH;
	return LS_OK;
}

void
ls_cipher_free(ls_cipher_ctx *ctx)
{
	if (ctx == NULL)
		return;
	EVP_CIPHER_CTX_free(ctx->evp);
	blk_clear(&ctx->blk);
	ls_wipe(ctx, sizeof(*ctx));
	free(ctx);
}

int
ls_cipher(const ls_cipher_params *params, const uint8_t *in, size_t in_len, uint8_t *out)
{
	ls_cipher_ctx *ctx = NULL;
	size_t n = 0;
	int r;

	ls_return_val_if_fail(params != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail((in != NULL && out != NULL) || in_len == 0, LS_ERR_INVALID_ARG);
	/* Refuse a bad length before any key work. */
	if ((params->mode == LS_MODE_ECB || params->mode == LS_MODE_CBC) &&
	    ls_cipher_block_size(params->alg) != 0 && in_len % ls_cipher_block_size(params->alg) != 0)
		return LS_ERR_BAD_LENGTH;
	if ((r = ls_cipher_new(params, &ctx)) != LS_OK)
		return r;
	if ((r = ls_cipher_update(ctx, in, in_len, out, &n)) == LS_OK)
		r = ls_cipher_final(ctx);
	ls_cipher_free(ctx);
	return r;
}

/* ---------------------------------------------------------------------------------------------
 * MACs: OMAC over a CBC context; GOST 28147-89 IMIT through gostprov's gost-mac(-12)
 * ------------------------------------------------------------------------------------------- */

struct ls_mac_ctx {
	ls_cipher_alg alg;
	ls_gost89_param param;
	size_t bs;
	bool done;
	bool failed;
	/* OMAC */
	EVP_CIPHER_CTX *cbc;
	uint8_t k1[LS_CIPHER_MAX_BLOCK], k2[LS_CIPHER_MAX_BLOCK];
	uint8_t chain[LS_CIPHER_MAX_BLOCK]; /* the CBC context's IV: its last output */
	uint8_t mask[LS_CIPHER_MAX_BLOCK];  /* XORed into a message's first block */
	bool masked;                        /* the first block is still to come */
	uint8_t buf[LS_CIPHER_MAX_BLOCK];   /* a full block waits here until more data comes */
	size_t buf_len;
	/* IMIT */
	EVP_MAC_CTX *imit;
	uint8_t key[LS_CIPHER_KEY_SIZE];
};

static struct {
	EVP_MAC *gost_mac;    /* IMIT, CryptoPro-A */
	EVP_MAC *gost_mac_12; /* IMIT, TC26 Z */
} macs;
static pthread_once_t macs_once = PTHREAD_ONCE_INIT;

static void
macs_fetch(void)
{
	macs.gost_mac = EVP_MAC_fetch(ls_crypto_libctx(), "gost-mac", NULL);
	macs.gost_mac_12 = EVP_MAC_fetch(ls_crypto_libctx(), "gost-mac-12", NULL);
	if (macs.gost_mac == NULL || macs.gost_mac_12 == NULL)
		ls_crypto_fail("fetching gost-mac/gost-mac-12");
}

size_t
ls_mac_size(ls_cipher_alg alg)
{
	switch (alg) {
	case LS_CIPHER_KUZNYECHIK: return 16;
	case LS_CIPHER_MAGMA: return 8;
	case LS_CIPHER_GOST89: return 4;
	}
	return 0;
}

/* Runs whole blocks through the CBC context; the first block of a message gets the mask. */
static int
mac_feed(ls_mac_ctx *m, const uint8_t *data, size_t len)
{
	uint8_t scratch[BATCH];
	const size_t bs = m->bs;
	size_t used = 0;
	int r = LS_OK;

	if (m->masked && len > 0) {
		xor_bytes(scratch, data, m->mask, bs);
		used = bs;
		if ((r = evp_run(m->cbc, scratch, bs, m->chain)) != LS_OK)
			goto out;
		m->masked = false;
		data += bs;
		len -= bs;
	}
	while (len > 0) {
		size_t n = len > sizeof(scratch) ? sizeof(scratch) : len;

		if ((r = evp_run(m->cbc, data, n, scratch)) != LS_OK)
			goto out;
		used = n > used ? n : used;
		memcpy(m->chain, scratch + n - bs, bs);
		data += n;
		len -= n;
	}
out:
	ls_wipe(scratch, used);
	return r;
}

/* Doubling in GF(2^n) for the OMAC subkeys, constant-time. */
static void
omac_double(uint8_t *out, const uint8_t *in, size_t bs)
{
	uint8_t carry = (uint8_t)(0 - (in[0] >> 7));
	size_t i;

	for (i = 0; i + 1 < bs; i++)
		out[i] = (uint8_t)(in[i] << 1 | in[i + 1] >> 7);
	out[bs - 1] = (uint8_t)(in[bs - 1] << 1) ^ (carry & (bs == 16 ? 0x87 : 0x1b));
}

static int
imit_start(ls_mac_ctx *m)
{
	OSSL_PARAM p[2];
	size_t size = 4;

	EVP_MAC_CTX_free(m->imit);
	m->imit = EVP_MAC_CTX_new(m->param == LS_GOST89_PARAM_Z ? macs.gost_mac_12 : macs.gost_mac);
	if (m->imit == NULL)
		return LS_ERR_NOMEM;
	p[0] = OSSL_PARAM_construct_size_t("size", &size);
	p[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(m->imit, m->key, sizeof(m->key), p))
		return ls_crypto_fail("EVP_MAC_init(gost-mac)");
	return LS_OK;
}

int
ls_mac_new(ls_cipher_alg alg, ls_gost89_param param, const uint8_t key[32], ls_mac_ctx **out)
{
	static const uint8_t zero[LS_CIPHER_MAX_BLOCK];
	ls_mac_ctx *m = NULL;
	uint8_t l[LS_CIPHER_MAX_BLOCK];
	int r;

	ls_return_val_if_fail(out != NULL && key != NULL, LS_ERR_INVALID_ARG);
	if ((r = ls_crypto_init()) != LS_OK)
		return r;
	if (ls_mac_size(alg) == 0)
		return LS_ERR_INVALID_ARG;
	if (alg == LS_CIPHER_GOST89 && param != 0 && param != LS_GOST89_PARAM_CPA &&
	    param != LS_GOST89_PARAM_Z)
		return LS_ERR_INVALID_ARG;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return LS_ERR_NOMEM;
	m->alg = alg;
	m->param = param != 0 ? param : LS_GOST89_PARAM_CPA;
	m->bs = ls_cipher_block_size(alg);

	if (alg == LS_CIPHER_GOST89) {
		pthread_once(&macs_once, macs_fetch);
		if (macs.gost_mac == NULL || macs.gost_mac_12 == NULL) {
			r = LS_ERR_UNSUPPORTED;
			goto out;
		}
		memcpy(m->key, key, sizeof(m->key));
		if ((r = imit_start(m)) != LS_OK)
			goto out;
	} else {
		const EVP_CIPHER *c = ls_crypto_cipher(alg == LS_CIPHER_KUZNYECHIK ? "kuznyechik-cbc"
		                                                                   : "magma-cbc");

		if (c == NULL) {
			r = LS_ERR_UNSUPPORTED;
			goto out;
		}
		if ((m->cbc = EVP_CIPHER_CTX_new()) == NULL) {
			r = LS_ERR_NOMEM;
			goto out;
		}
		if ((r = evp_init(m->cbc, c, key, zero, true, 0, 0)) != LS_OK)
			goto out;
		/* L = E(0); the CBC context's chain is now L, which the first message masks out. */
		if ((r = evp_run(m->cbc, zero, m->bs, l)) != LS_OK)
			goto out;
		omac_double(m->k1, l, m->bs);
		omac_double(m->k2, m->k1, m->bs);
		memcpy(m->chain, l, m->bs);
		memcpy(m->mask, l, m->bs);
		m->masked = true;
	}
	*out = m;
	m = NULL;
out:
	ls_wipe(l, sizeof(l));
	ls_mac_free(m);
	return r;
}

int
ls_mac_update(ls_mac_ctx *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t bs, n;
	int r;

	ls_return_val_if_fail(ctx != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data != NULL || len == 0, LS_ERR_INVALID_ARG);
	if (ctx->failed || ctx->done)
		return LS_ERR_STATE;
	if (len == 0)
		return LS_OK;
	if (ctx->imit != NULL) {
		if (!EVP_MAC_update(ctx->imit, p, len)) {
			ctx->failed = true;
			return ls_crypto_fail("EVP_MAC_update(gost-mac)");
		}
		return LS_OK;
	}

	bs = ctx->bs;
	/* Top up the pending block; it goes only when more data proves it is not the last. */
	if (ctx->buf_len > 0 || len <= bs) {
		n = bs - ctx->buf_len < len ? bs - ctx->buf_len : len;
		memcpy(ctx->buf + ctx->buf_len, p, n);
		ctx->buf_len += n;
		p += n;
		len -= n;
		if (len == 0)
			return LS_OK;
		if ((r = mac_feed(ctx, ctx->buf, bs)) != LS_OK)
			goto fail;
		ctx->buf_len = 0;
	}
	/* Everything but the last 1..bs bytes goes in bulk. */
	n = (len - 1) / bs * bs;
	if (n > 0 && (r = mac_feed(ctx, p, n)) != LS_OK)
		goto fail;
	memcpy(ctx->buf, p + n, len - n);
	ctx->buf_len = len - n;
	return LS_OK;
fail:
	ctx->failed = true;
	return r;
}

int
ls_mac_final(ls_mac_ctx *ctx, uint8_t *tag, size_t tag_len)
{
	uint8_t last[LS_CIPHER_MAX_BLOCK], full[LS_CIPHER_MAX_BLOCK];
	size_t bs, n = 0;
	int r = LS_OK;

	ls_return_val_if_fail(ctx != NULL && tag != NULL, LS_ERR_INVALID_ARG);
	if (tag_len < 1 || tag_len > ls_mac_size(ctx->alg))
		return LS_ERR_BAD_LENGTH;
	if (ctx->failed || ctx->done)
		return LS_ERR_STATE;
	bs = ctx->bs;
	if (ctx->imit != NULL) {
		if (!EVP_MAC_final(ctx->imit, full, &n, sizeof(full)) || n != 4) {
			r = ls_crypto_fail("EVP_MAC_final(gost-mac)");
			goto out;
		}
	} else {
		memcpy(last, ctx->buf, ctx->buf_len);
		if (ctx->buf_len == bs) {
			xor_bytes(last, last, ctx->k1, bs);
		} else {
			last[ctx->buf_len] = 0x80;
			memset(last + ctx->buf_len + 1, 0, bs - ctx->buf_len - 1);
			xor_bytes(last, last, ctx->k2, bs);
		}
		if ((r = mac_feed(ctx, last, bs)) != LS_OK)
			goto out;
		memcpy(full, ctx->chain, bs);
	}
	memcpy(tag, full, tag_len);
	ctx->done = true;
out:
	if (r != LS_OK)
		ctx->failed = true;
	ls_wipe(ctx->buf, sizeof(ctx->buf));
	ctx->buf_len = 0;
	ls_wipe(last, sizeof(last));
	ls_wipe(full, sizeof(full));
	return r;
}

int
ls_mac_reset(ls_mac_ctx *ctx)
{
	int r = LS_OK;

	ls_return_val_if_fail(ctx != NULL, LS_ERR_INVALID_ARG);
	if (ctx->imit != NULL) {
		r = imit_start(ctx);
	} else if (!ctx->failed) {
		/* Cheap: the CBC context keeps running; the next block cancels its chain. */
		memcpy(ctx->mask, ctx->chain, ctx->bs);
		ctx->masked = true;
	} else {
		return LS_ERR_STATE;
	}
	ls_wipe(ctx->buf, sizeof(ctx->buf));
	ctx->buf_len = 0;
	ctx->done = false;
	ctx->failed = r != LS_OK;
	return r;
}

void
ls_mac_free(ls_mac_ctx *ctx)
{
	if (ctx == NULL)
		return;
	EVP_CIPHER_CTX_free(ctx->cbc);
	EVP_MAC_CTX_free(ctx->imit);
	ls_wipe(ctx, sizeof(*ctx));
	free(ctx);
}

int
ls_mac(ls_cipher_alg alg, ls_gost89_param param, const uint8_t key[32], const void *data,
       size_t len, uint8_t *tag, size_t tag_len)
{
	ls_mac_ctx *m = NULL;
	int r;

	ls_return_val_if_fail(tag != NULL, LS_ERR_INVALID_ARG);
	if (ls_mac_size(alg) != 0 && (tag_len < 1 || tag_len > ls_mac_size(alg)))
		return LS_ERR_BAD_LENGTH;
	if ((r = ls_mac_new(alg, param, key, &m)) != LS_OK)
		return r;
	if ((r = ls_mac_update(m, data, len)) == LS_OK)
		r = ls_mac_final(m, tag, tag_len);
	ls_mac_free(m);
	return r;
}
