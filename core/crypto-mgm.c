/*
 * LS11CLOUD - MGM AEAD (RFC 9058 = R 1323565.1.026-2019) for Kuznyechik and Magma, and the key
 * export/import KExp15/KImp15 of R 1323565.1.017-2018.
 *
 * gost-engine 3.0.1 has no MGM, so it is built here on the block primitive: an ECB encryption
 * context from crypto-cipher.c (bulk kuznyechik-ecb; for Magma the CBC-chained primitive).  The
 * counter blocks Y_i and Z_i are generated in batches and encrypted with one call per batch.
 * The multiplication in GF(2^128) / GF(2^64) uses PCLMULQDQ when the CPU has it and a
 * constant-time shift-and-add otherwise; neither branches on secret data.
 *
 * Decryption makes two passes: the tag over the ciphertext first (only the H_i = E(Z_i) stream),
 * then, only when it matches, the keystream E(Y_i) into the caller's buffer.  That costs no more
 * block encryptions than one pass and never puts unauthenticated plaintext in memory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "crypto-private.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LS_HAVE_CLMUL 1
#include <immintrin.h>
#endif

/* Counter blocks per ECB call. */
#define MGM_BATCH 64

typedef struct {
	uint64_t hi, lo; /* the block as a big-endian number; Magma uses lo only */
} gf_elem;

typedef void (*gf_mul_fn)(gf_elem *r, const gf_elem *a, const gf_elem *b);

struct ls_mgm_ctx {
	ls_cipher_alg alg;
	size_t n; /* block size in bytes */
	ls_cipher_ctx *ecb;
	gf_mul_fn mul;
};

/* ---------------------------------------------------------------------------------------------
 * GF(2^128) mod x^128 + x^7 + x^2 + x + 1 and GF(2^64) mod x^64 + x^4 + x^3 + x + 1
 * ------------------------------------------------------------------------------------------- */

static void
gf128_mul_soft(gf_elem *r, const gf_elem *a, const gf_elem *b)
{
	uint64_t zh = 0, zl = 0, vh = a->hi, vl = a->lo;
	unsigned i;

	for (i = 0; i < 128; i++) {
		uint64_t bit = (i < 64 ? b->lo >> i : b->hi >> (i - 64)) & 1;
		uint64_t m = 0 - bit, carry = 0 - (vh >> 63);

		zh ^= vh & m;
		zl ^= vl & m;
		vh = vh << 1 | vl >> 63;
		vl = (vl << 1) ^ (carry & 0x87);
	}
	r->hi = zh;
	r->lo = zl;
}

static void
gf64_mul_soft(gf_elem *r, const gf_elem *a, const gf_elem *b)
{
	uint64_t z = 0, v = a->lo;
	unsigned i;

	for (i = 0; i < 64; i++) {
		uint64_t m = 0 - ((b->lo >> i) & 1), carry = 0 - (v >> 63);

		z ^= v & m;
		v = (v << 1) ^ (carry & 0x1b);
	}
	r->hi = 0;
	r->lo = z;
}

#ifdef LS_HAVE_CLMUL
__attribute__((target("pclmul,sse2"))) static void
gf128_mul_clmul(gf_elem *r, const gf_elem *a, const gf_elem *b)
{
	const __m128i poly = _mm_set_epi64x(0, 0x87);
	__m128i x = _mm_set_epi64x((long long)a->hi, (long long)a->lo);
	__m128i y = _mm_set_epi64x((long long)b->hi, (long long)b->lo);
	__m128i lo = _mm_clmulepi64_si128(x, y, 0x00);
	__m128i hi = _mm_clmulepi64_si128(x, y, 0x11);
	__m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(x, y, 0x10),
	                            _mm_clmulepi64_si128(x, y, 0x01));
	__m128i t0, t1;

	lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
	hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
	/* x^128 = x^7 + x^2 + x + 1: fold the high half in twice (the second fold is <= 14 bits). */
	t0 = _mm_clmulepi64_si128(hi, poly, 0x00);
	t1 = _mm_clmulepi64_si128(hi, poly, 0x01);
	lo = _mm_xor_si128(lo, t0);
	lo = _mm_xor_si128(lo, _mm_slli_si128(t1, 8));
	lo = _mm_xor_si128(lo, _mm_clmulepi64_si128(_mm_srli_si128(t1, 8), poly, 0x00));
	r->lo = (uint64_t)_mm_cvtsi128_si64(lo);
	r->hi = (uint64_t)_mm_cvtsi128_si64(_mm_srli_si128(lo, 8));
}

__attribute__((target("pclmul,sse2"))) static void
gf64_mul_clmul(gf_elem *r, const gf_elem *a, const gf_elem *b)
{
	const __m128i poly = _mm_set_epi64x(0, 0x1b);
	__m128i p = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)a->lo),
	                                 _mm_set_epi64x(0, (long long)b->lo), 0x00);
	/* x^64 = x^4 + x^3 + x + 1: fold the high word in twice. */
	__m128i q = _mm_clmulepi64_si128(p, poly, 0x01);
	__m128i s = _mm_clmulepi64_si128(q, poly, 0x01);

	p = _mm_xor_si128(p, _mm_xor_si128(q, s));
	r->hi = 0;
	r->lo = (uint64_t)_mm_cvtsi128_si64(p);
}
#endif

static gf_mul_fn
gf_pick(size_t n)
{
#ifdef LS11_TEST_HOOKS
	/* Lets the tests run the portable multiply on a CPU that has PCLMULQDQ. */
	if (getenv("LS11_TEST_MGM_SOFT_GF") != NULL)
		return n == 16 ? gf128_mul_soft : gf64_mul_soft;
#endif
#ifdef LS_HAVE_CLMUL
	if (__builtin_cpu_supports("pclmul"))
		return n == 16 ? gf128_mul_clmul : gf64_mul_clmul;
#endif
	return n == 16 ? gf128_mul_soft : gf64_mul_soft;
}

static uint64_t
load_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap64(v);
#else
	return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
	       (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
	       (uint64_t)p[6] << 8 | (uint64_t)p[7];
#endif
}

static void
store_be64(uint8_t *p, uint64_t v)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
	memcpy(p, &v, 8);
#else
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
#endif
}

static void
xor_into(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n)
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

static void
elem_load(gf_elem *e, const uint8_t *p, size_t n)
{
	if (n == 16) {
		e->hi = load_be64(p);
		e->lo = load_be64(p + 8);
	} else {
		e->hi = 0;
		e->lo = load_be64(p);
	}
}

static void
elem_store(uint8_t *p, const gf_elem *e, size_t n)
{
	if (n == 16) {
		store_be64(p, e->hi);
		store_be64(p + 8, e->lo);
	} else {
		store_be64(p, e->lo);
	}
}

/* ---------------------------------------------------------------------------------------------
 * MGM
 * ------------------------------------------------------------------------------------------- */

/* Y_{i+1}: the right half + 1 mod 2^(n/2).  Z_{i+1}: the left half + 1 mod 2^(n/2). */
static void
incr_r(gf_elem *e, size_t n)
{
	if (n == 16)
		e->lo++;
	else
		e->lo = (e->lo & 0xffffffff00000000u) | (uint32_t)(e->lo + 1);
}

static void
incr_l(gf_elem *e, size_t n)
{
	if (n == 16)
		e->hi++;
	else
		e->lo += (uint64_t)1 << 32;
}

int
ls_mgm_new(ls_cipher_alg alg, const uint8_t key[32], ls_mgm_ctx **out)
{
	ls_cipher_params p = { 0 };
	ls_mgm_ctx *m;
	int r;

	ls_return_val_if_fail(out != NULL && key != NULL, LS_ERR_INVALID_ARG);
	if (alg != LS_CIPHER_KUZNYECHIK && alg != LS_CIPHER_MAGMA)
		return alg == LS_CIPHER_GOST89 ? LS_ERR_UNSUPPORTED : LS_ERR_INVALID_ARG;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return LS_ERR_NOMEM;
	m->alg = alg;
	m->n = ls_cipher_block_size(alg);
	m->mul = gf_pick(m->n);
	p.alg = alg;
	p.mode = LS_MODE_ECB;
	p.encrypt = true;
	p.key = key;
	if ((r = ls_cipher_new(&p, &m->ecb)) != LS_OK) {
		free(m);
		return r;
	}
	*out = m;
	return LS_OK;
}

void
ls_mgm_free(ls_mgm_ctx *ctx)
{
	if (ctx == NULL)
		return;
	ls_cipher_free(ctx->ecb);
	ls_wipe(ctx, sizeof(*ctx));
	free(ctx);
}

/* ECB-encrypts @len bytes (whole blocks) in place. */
static int
ecb(ls_mgm_ctx *m, uint8_t *buf, size_t len)
{
	size_t n;

	return ls_cipher_update(m->ecb, buf, len, buf, &n);
}

static int
check_args(const ls_mgm_ctx *m, const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
           size_t aad_len, size_t text_len, const uint8_t *tag, size_t tag_len)
{
	ls_return_val_if_fail(m != NULL && nonce != NULL && tag != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(aad != NULL || aad_len == 0, LS_ERR_INVALID_ARG);
	if (nonce_len != m->n || tag_len < 4 || tag_len > m->n)
		return LS_ERR_BAD_LENGTH;
	/* The nonce names the ICN: its most significant bit must be 0. */
	if (nonce[0] & 0x80)
		return LS_ERR_INVALID_ARG;
	/* RFC 9058 4.1: 0 < |A| + |P| < 2^(n/2) bits (also keeps h + q + 1 counters distinct). */
	if (aad_len == 0 && text_len == 0)
		return LS_ERR_BAD_LENGTH;
	if (aad_len > SIZE_MAX / 16 || text_len > SIZE_MAX / 16)
		return LS_ERR_BAD_LENGTH;
	if (m->n == 8 && (uint64_t)(aad_len + text_len) >= ((uint64_t)1 << 29))
		return LS_ERR_BAD_LENGTH;
	if (m->n == 16 && (uint64_t)(aad_len + text_len) >= ((uint64_t)1 << 61))
		return LS_ERR_BAD_LENGTH;
	return LS_OK;
}

/* Block @i of @data (@len bytes) as a field element, zero-padded at the end. */
static void
elem_load_padded(gf_elem *e, const uint8_t *data, size_t len, size_t i, size_t n)
{
	uint8_t blk[16];
	size_t k = len - i * n;

	if (k >= n) {
		elem_load(e, data + i * n, n);
		return;
	}
	memset(blk, 0, n);
	memcpy(blk, data + i * n, k);
	elem_load(e, blk, n);
	ls_wipe(blk, sizeof(blk));
}

/*
 * The MGM tag over @aad and the ciphertext @c (@len bytes); when @p is not NULL it first
 * encrypts @p into @c, block by block, so the tag reads the ciphertext just written.  @y/@z
 * arrive as Y_1 = E(0||ICN) and Z_1 = E(1||ICN).  All h + q + 1 values H_i = E(Z_i), and the
 * keystream E(Y_j) when encrypting, come from batched ECB calls; the last H_i (for the length
 * block) rides in the last batch.  Writes the full-block tag E(sum) to @t.
 */
static int
mgm_core(ls_mgm_ctx *m, gf_elem y, gf_elem z, const uint8_t *aad, size_t aad_len,
         const uint8_t *p, uint8_t *c, size_t len, uint8_t *t)
{
	uint8_t buf[2 * MGM_BATCH * 16];
	const size_t n = m->n;
	const size_t h = (aad_len + n - 1) / n, q = (len + n - 1) / n, total = h + q + 1;
	gf_elem sum = { 0, 0 }, hv, x, prod;
	size_t i0, nb, used = 0;
	int r = LS_OK;

	for (i0 = 0; i0 < total; i0 += nb) {
		size_t d0, d1, ny = 0, i;

		nb = total - i0 < MGM_BATCH ? total - i0 : MGM_BATCH;
		/* Text blocks j = idx - h for idx in [d0, d1) fall in this batch. */
		d0 = i0 > h ? i0 : h;
		d1 = i0 + nb < h + q ? i0 + nb : h + q;
		if (p != NULL && d1 > d0)
			ny = d1 - d0;
		for (i = 0; i < nb; i++) {
			elem_store(buf + i * n, &z, n);
			incr_l(&z, n);
		}
		for (i = 0; i < ny; i++) {
			elem_store(buf + (nb + i) * n, &y, n);
			incr_r(&y, n);
		}
		if ((nb + ny) * n > used)
			used = (nb + ny) * n;
		if ((r = ecb(m, buf, (nb + ny) * n)) != LS_OK)
			goto out;
		for (i = 0; i < nb; i++) {
			size_t idx = i0 + i;

			elem_load(&hv, buf + i * n, n);
			if (idx < h) {
				elem_load_padded(&x, aad, aad_len, idx, n);
			} else if (idx < h + q) {
				size_t j = idx - h, k = len - j * n < n ? len - j * n : n;

				if (p != NULL)
					xor_into(c + j * n, p + j * n, buf + (nb + idx - d0) * n, k);
				elem_load_padded(&x, c, len, j, n);
			} else if (n == 16) {
				/* Lengths in bits, n/2 bits each: len(A) || len(C). */
				x.hi = (uint64_t)aad_len * 8;
				x.lo = (uint64_t)len * 8;
			} else {
				x.hi = 0;
				x.lo = (uint64_t)aad_len * 8 << 32 | (uint32_t)((uint64_t)len * 8);
			}
			m->mul(&prod, &hv, &x);
			sum.hi ^= prod.hi;
			sum.lo ^= prod.lo;
		}
	}
	elem_store(t, &sum, n);
	r = ecb(m, t, n);
out:
	ls_wipe(buf, used);
	ls_wipe(&sum, sizeof(sum));
	ls_wipe(&hv, sizeof(hv));
	ls_wipe(&x, sizeof(x));
	ls_wipe(&prod, sizeof(prod));
	return r;
}

/* E(0 || ICN) and E(1 || ICN). */
static int
mgm_start(ls_mgm_ctx *m, const uint8_t *nonce, gf_elem *y, gf_elem *z)
{
	uint8_t b[32];
	int r;

	memcpy(b, nonce, m->n);
	memcpy(b + m->n, nonce, m->n);
	b[m->n] |= 0x80;
	if ((r = ecb(m, b, 2 * m->n)) == LS_OK) {
		elem_load(y, b, m->n);
		elem_load(z, b + m->n, m->n);
	}
	ls_wipe(b, sizeof(b));
	return r;
}

int
ls_mgm_seal(ls_mgm_ctx *ctx, const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
            size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct, uint8_t *tag,
            size_t tag_len)
{
	uint8_t t[16];
	gf_elem y, z;
	int r;

	if ((r = check_args(ctx, nonce, nonce_len, aad, aad_len, pt_len, tag, tag_len)) != LS_OK)
		return r;
	ls_return_val_if_fail((pt != NULL && ct != NULL) || pt_len == 0, LS_ERR_INVALID_ARG);
	if ((r = mgm_start(ctx, nonce, &y, &z)) == LS_OK)
		r = mgm_core(ctx, y, z, aad, aad_len, pt, ct, pt_len, t);
	if (r == LS_OK)
		memcpy(tag, t, tag_len);
	else if (pt_len > 0 && ct != pt)
		ls_wipe(ct, pt_len);
	ls_wipe(t, sizeof(t));
	ls_wipe(&y, sizeof(y));
	ls_wipe(&z, sizeof(z));
	return r;
}

int
ls_mgm_open(ls_mgm_ctx *ctx, const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
            size_t aad_len, const uint8_t *ct, size_t ct_len, const uint8_t *tag, size_t tag_len,
            uint8_t *pt)
{
	uint8_t t[16], buf[MGM_BATCH * 16];
	gf_elem y, z;
	size_t done = 0, i;
	int r;

	if ((r = check_args(ctx, nonce, nonce_len, aad, aad_len, ct_len, tag, tag_len)) != LS_OK)
		return r;
	ls_return_val_if_fail((pt != NULL && ct != NULL) || ct_len == 0, LS_ERR_INVALID_ARG);
	if ((r = mgm_start(ctx, nonce, &y, &z)) != LS_OK)
		goto out;
	if ((r = mgm_core(ctx, y, z, aad, aad_len, NULL, (uint8_t *)ct, ct_len, t)) != LS_OK)
		goto out;
	if (!ls_ct_equal(t, tag, tag_len)) {
		r = LS_ERR_VERIFY_FAILED;
		goto out;
	}
	/* Authentic: now the keystream E(Y_i).  @pt may be @ct. */
	while (done < ct_len) {
		size_t nb = (ct_len - done + ctx->n - 1) / ctx->n, k;

		if (nb > MGM_BATCH)
			nb = MGM_BATCH;
		for (i = 0; i < nb; i++) {
			elem_store(buf + i * ctx->n, &y, ctx->n);
			incr_r(&y, ctx->n);
		}
		if ((r = ecb(ctx, buf, nb * ctx->n)) != LS_OK) {
			ls_wipe(pt, done);
			goto out;
		}
		k = ct_len - done < nb * ctx->n ? ct_len - done : nb * ctx->n;
		xor_into(pt + done, ct + done, buf, k);
		done += k;
	}
out:
	ls_wipe(t, sizeof(t));
	ls_wipe(buf, ct_len + ctx->n < sizeof(buf) ? ct_len + ctx->n : sizeof(buf));
	ls_wipe(&y, sizeof(y));
	ls_wipe(&z, sizeof(z));
	return r;
}

int
ls_mgm_encrypt(ls_cipher_alg alg, const uint8_t key[32], const uint8_t *nonce,
               size_t nonce_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
               size_t pt_len, uint8_t *ct, uint8_t *tag, size_t tag_len)
{
	ls_mgm_ctx *m = NULL;
	int r;

	if ((r = ls_mgm_new(alg, key, &m)) != LS_OK)
		return r;
	r = ls_mgm_seal(m, nonce, nonce_len, aad, aad_len, pt, pt_len, ct, tag, tag_len);
	ls_mgm_free(m);
	return r;
}

int
ls_mgm_decrypt(ls_cipher_alg alg, const uint8_t key[32], const uint8_t *nonce,
               size_t nonce_len, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
               size_t ct_len, const uint8_t *tag, size_t tag_len, uint8_t *pt)
{
	ls_mgm_ctx *m = NULL;
	int r;

	if ((r = ls_mgm_new(alg, key, &m)) != LS_OK)
		return r;
	r = ls_mgm_open(m, nonce, nonce_len, aad, aad_len, ct, ct_len, tag, tag_len, pt);
	ls_mgm_free(m);
	return r;
}

/* ---------------------------------------------------------------------------------------------
 * KExp15 / KImp15 (R 1323565.1.017-2018): CTR(K_enc, IV, K || OMAC(K_mac, IV || K))
 * ------------------------------------------------------------------------------------------- */

static int
kexp_check(ls_cipher_alg alg, const uint8_t *k_mac, const uint8_t *k_enc, const uint8_t *iv,
           size_t iv_len)
{
	ls_return_val_if_fail(k_mac != NULL && k_enc != NULL && iv != NULL, LS_ERR_INVALID_ARG);
	if (alg != LS_CIPHER_KUZNYECHIK && alg != LS_CIPHER_MAGMA)
		return alg == LS_CIPHER_GOST89 ? LS_ERR_UNSUPPORTED : LS_ERR_INVALID_ARG;
	if (iv_len != ls_cipher_block_size(alg) / 2)
		return LS_ERR_BAD_LENGTH;
	return LS_OK;
}

static int
kexp_ctr(ls_cipher_alg alg, const uint8_t *k_enc, const uint8_t *iv, size_t iv_len, bool enc,
         const uint8_t *in, size_t len, uint8_t *out)
{
	ls_cipher_params p = { 0 };

	p.alg = alg;
	p.mode = LS_MODE_CTR;
	p.encrypt = enc;
	p.key = k_enc;
	p.iv = iv;
	p.iv_len = iv_len;
	return ls_cipher(&p, in, len, out);
}

static int
kexp_omac(ls_cipher_alg alg, const uint8_t *k_mac, const uint8_t *iv, size_t iv_len,
          const uint8_t *key, size_t key_len, uint8_t *mac)
{
	ls_mac_ctx *m = NULL;
	int r;

	if ((r = ls_mac_new(alg, 0, k_mac, &m)) != LS_OK)
		return r;
	if ((r = ls_mac_update(m, iv, iv_len)) == LS_OK &&
	    (r = ls_mac_update(m, key, key_len)) == LS_OK)
		r = ls_mac_final(m, mac, ls_mac_size(alg));
	ls_mac_free(m);
	return r;
}

int
ls_kexp15(ls_cipher_alg alg, const uint8_t *key, size_t key_len, const uint8_t k_mac[32],
          const uint8_t k_enc[32], const uint8_t *iv, size_t iv_len, uint8_t *out,
          size_t out_size, size_t *out_len)
{
	uint8_t buf[64 + 16];
	size_t bs;
	int r;

	ls_return_val_if_fail(key != NULL && out != NULL && out_len != NULL, LS_ERR_INVALID_ARG);
	*out_len = 0;
	if ((r = kexp_check(alg, k_mac, k_enc, iv, iv_len)) != LS_OK)
		return r;
	bs = ls_cipher_block_size(alg);
	if (key_len < 1 || key_len > 64 || out_size < key_len + bs)
		return LS_ERR_BAD_LENGTH;
	memcpy(buf, key, key_len);
	if ((r = kexp_omac(alg, k_mac, iv, iv_len, key, key_len, buf + key_len)) != LS_OK)
		goto out;
	if ((r = kexp_ctr(alg, k_enc, iv, iv_len, true, buf, key_len + bs, out)) != LS_OK) {
		ls_wipe(out, key_len + bs);
		goto out;
	}
	*out_len = key_len + bs;
out:
	ls_wipe(buf, sizeof(buf));
	return r;
}

int
ls_kimp15(ls_cipher_alg alg, const uint8_t *wrapped, size_t wrapped_len,
          const uint8_t k_mac[32], const uint8_t k_enc[32], const uint8_t *iv, size_t iv_len,
          uint8_t *key, size_t key_size, size_t *key_len)
{
	uint8_t buf[64 + 16], mac[16];
	size_t bs, klen;
	int r;

	ls_return_val_if_fail(wrapped != NULL && key != NULL && key_len != NULL, LS_ERR_INVALID_ARG);
	*key_len = 0;
	if ((r = kexp_check(alg, k_mac, k_enc, iv, iv_len)) != LS_OK)
		return r;
	bs = ls_cipher_block_size(alg);
	if (wrapped_len < 1 + bs || wrapped_len > 64 + bs)
		return LS_ERR_BAD_LENGTH;
	klen = wrapped_len - bs;
	if (key_size < klen)
		return LS_ERR_BAD_LENGTH;
	if ((r = kexp_ctr(alg, k_enc, iv, iv_len, false, wrapped, wrapped_len, buf)) != LS_OK)
		goto out;
	if ((r = kexp_omac(alg, k_mac, iv, iv_len, buf, klen, mac)) != LS_OK)
		goto out;
	if (!ls_ct_equal(mac, buf + klen, bs)) {
		r = LS_ERR_VERIFY_FAILED;
		goto out;
	}
	memcpy(key, buf, klen);
	*key_len = klen;
out:
	ls_wipe(buf, sizeof(buf));
	ls_wipe(mac, sizeof(mac));
	return r;
}
