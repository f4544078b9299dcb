/*
 * LS11CLOUD - at-rest protection: master keys, their PIN wraps, sealed attribute values.
 *
 * Wrap blob (LS_PROTECT_WRAP_SIZE = 88 bytes):
 *    0  1  format version (1)
 *    1  1  kind: 1 = master key wrapped under a PIN
 *    2  1  role: 0 = SO, 1 = user
 *    3  1  KDF: 1 = PBKDF2-HMAC-Streebog-512, 32-byte output
 *    4  4  iterations, big-endian
 *    8 16  salt
 *   24 16  MGM nonce (most significant bit 0)
 *   40 32  master key, Kuznyechik-MGM encrypted under the PBKDF2 output
 *   72 16  MGM tag
 *   AAD = bytes 0..39 | token id (8 bytes, big-endian)
 *
 * Sealed value (LS_PROTECT_SEAL_OVERHEAD + n bytes):
 *    0  1  format version (1)
 *    1  1  kind: 2 = sealed attribute value
 *    2 16  MGM nonce (most significant bit 0)
 *   18  n  value, Kuznyechik-MGM encrypted under K_seal
 * 18+n 16  MGM tag
 *   AAD = version | kind | token id | object id | attribute type (each id 8 bytes, big-endian)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "protect.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buffer.h"
#include "clock.h"
#include "crypto.h"
#include "log.h"

#define KIND_WRAP 1
#define KIND_SEAL 2
#define KDF_PBKDF2_STREEBOG512 1

#define SALT_SIZE 16
#define NONCE_SIZE 16
#define TAG_SIZE 16
#define WRAP_HEADER_SIZE 40 /* version .. nonce: the authenticated header */
#define SEAL_HEADER_SIZE (2 + NONCE_SIZE)

_Static_assert(WRAP_HEADER_SIZE + LS_PROTECT_KEY_SIZE + TAG_SIZE == LS_PROTECT_WRAP_SIZE,
               "wrap blob layout");
_Static_assert(SEAL_HEADER_SIZE + TAG_SIZE == LS_PROTECT_SEAL_OVERHEAD, "seal blob layout");

static const char seal_label[] = "ls11cloud attribute seal";

struct ls_protect_key {
	uint64_t token_id;
	uint8_t mk[LS_PROTECT_KEY_SIZE];
	uint8_t seal[LS_PROTECT_KEY_SIZE]; /* K_seal, derived from mk */
};

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A random MGM nonce: 127 random bits, the most significant bit clear as RFC 9058 requires. */
static int
random_nonce(uint8_t nonce[NONCE_SIZE])
{
	int r;

	if ((r = ls_random_bytes(nonce, NONCE_SIZE)) != LS_OK)
		return r;
	nonce[0] &= 0x7f;
	return LS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Master keys
 * ------------------------------------------------------------------------------------------- */

int
ls_protect_key_import(uint64_t token_id, const uint8_t mk[LS_PROTECT_KEY_SIZE],
                      ls_protect_key **out)
{
	ls_protect_key *key = NULL;
	uint8_t seed[8];
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	ls_return_val_if_fail(mk != NULL, LS_ERR_INVALID_ARG);
	if ((key = calloc(1, sizeof(*key))) == NULL)
		return LS_ERR_NOMEM;
	key->token_id = token_id;
	memcpy(key->mk, mk, LS_PROTECT_KEY_SIZE);
	put_be64(seed, token_id);
	r = ls_kdf_gostr3411_2012_256(key->mk, (const uint8_t *)seal_label, sizeof(seal_label) - 1,
	                              seed, sizeof(seed), key->seal);
	if (r != LS_OK)
		goto out;
	*out = key;
	key = NULL;
out:
	ls_protect_key_free(key);
	return r;
}

int
ls_protect_key_generate(uint64_t token_id, ls_protect_key **out)
{
	uint8_t mk[LS_PROTECT_KEY_SIZE];
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	if ((r = ls_random_bytes(mk, sizeof(mk))) == LS_OK)
		r = ls_protect_key_import(token_id, mk, out);
	ls_wipe(mk, sizeof(mk));
	return r;
}

uint64_t
ls_protect_key_token(const ls_protect_key *key)
{
	ls_return_val_if_fail(key != NULL, 0);
	return key->token_id;
}

void
ls_protect_key_free(ls_protect_key *key)
{
	if (key == NULL)
		return;
	ls_wipe(key, sizeof(*key));
	free(key);
}

/* ---------------------------------------------------------------------------------------------
 * PIN wraps
 * ------------------------------------------------------------------------------------------- */

static int
pin_kek(const void *pin, size_t pin_len, const uint8_t *salt, uint32_t iterations,
        uint8_t kek[LS_PROTECT_KEY_SIZE])
{
	/* An empty PIN is a PIN like any other; the KDF just needs a pointer. */
	static const uint8_t empty;

	return ls_pbkdf2_streebog512(pin_len > 0 ? pin : &empty, pin_len, salt, SALT_SIZE,
	                             iterations, kek, LS_PROTECT_KEY_SIZE);
}

static void
wrap_aad(const uint8_t *header, uint64_t token_id, uint8_t aad[WRAP_HEADER_SIZE + 8])
{
	memcpy(aad, header, WRAP_HEADER_SIZE);
	put_be64(aad + WRAP_HEADER_SIZE, token_id);
}

static bool
role_valid(ls_protect_role role)
{
	return role == LS_PROTECT_SO || role == LS_PROTECT_USER;
}

int
ls_protect_wrap(const ls_protect_key *key, ls_protect_role role, const void *pin,
                size_t pin_len, uint32_t iterations, uint8_t *out, size_t out_size,
                size_t *out_len)
{
	uint8_t blob[LS_PROTECT_WRAP_SIZE], kek[LS_PROTECT_KEY_SIZE];
	uint8_t aad[WRAP_HEADER_SIZE + 8];
	int r;

	ls_return_val_if_fail(out_len != NULL, LS_ERR_INVALID_ARG);
	*out_len = 0;
	ls_return_val_if_fail(key != NULL && out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(pin != NULL || pin_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(role_valid(role), LS_ERR_INVALID_ARG);
	if (iterations == 0)
		iterations = LS_PROTECT_DEFAULT_ITERATIONS;
	if (iterations < LS_PROTECT_MIN_ITERATIONS || iterations > LS_PROTECT_MAX_ITERATIONS)
		return LS_ERR_INVALID_ARG;
	if (out_size < LS_PROTECT_WRAP_SIZE)
		return LS_ERR_BAD_LENGTH;

	blob[0] = LS_PROTECT_FORMAT_VERSION;
	blob[1] = KIND_WRAP;
	blob[2] = (uint8_t)role;
	blob[3] = KDF_PBKDF2_STREEBOG512;
	put_be32(blob + 4, iterations);
	if ((r = ls_random_bytes(blob + 8, SALT_SIZE)) != LS_OK ||
	    (r = random_nonce(blob + 8 + SALT_SIZE)) != LS_OK)
		goto out;
	if ((r = pin_kek(pin, pin_len, blob + 8, iterations, kek)) != LS_OK)
		goto out;
	wrap_aad(blob, key->token_id, aad);
	r = ls_mgm_encrypt(LS_CIPHER_KUZNYECHIK, kek, blob + 24, NONCE_SIZE, aad, sizeof(aad),
	                   key->mk, LS_PROTECT_KEY_SIZE, blob + WRAP_HEADER_SIZE,
	                   blob + WRAP_HEADER_SIZE + LS_PROTECT_KEY_SIZE, TAG_SIZE);
	if (r != LS_OK)
		goto out;
	memcpy(out, blob, sizeof(blob));
	*out_len = sizeof(blob);
out:
	ls_wipe(kek, sizeof(kek));
	ls_wipe(blob, sizeof(blob));
	return r;
}

/* The parsed fields of a wrap blob; the pointers point into the blob. */
typedef struct {
	uint8_t role;
	uint32_t iterations;
	const uint8_t *salt;
	const uint8_t *nonce;
	const uint8_t *ct;
	const uint8_t *tag;
} wrap_fields;

static int
wrap_parse(const uint8_t *blob, size_t blob_len, wrap_fields *f)
{
	uint8_t version = 0, kind = 0, kdf = 0;
	ls_buf b;

	memset(f, 0, sizeof(*f));
	if (blob_len == 0)
		return LS_ERR_BAD_LENGTH;
	if (blob[0] != LS_PROTECT_FORMAT_VERSION)
		return LS_ERR_UNSUPPORTED;
	if (blob_len != LS_PROTECT_WRAP_SIZE)
		return LS_ERR_BAD_LENGTH;

	ls_buf_init_view(&b, blob, blob_len);
	if (ls_buf_get_u8(&b, &version) != LS_OK || ls_buf_get_u8(&b, &kind) != LS_OK ||
	    ls_buf_get_u8(&b, &f->role) != LS_OK || ls_buf_get_u8(&b, &kdf) != LS_OK ||
	    ls_buf_get_u32(&b, &f->iterations) != LS_OK ||
	    ls_buf_get_ptr(&b, SALT_SIZE, &f->salt) != LS_OK ||
	    ls_buf_get_ptr(&b, NONCE_SIZE, &f->nonce) != LS_OK ||
	    ls_buf_get_ptr(&b, LS_PROTECT_KEY_SIZE, &f->ct) != LS_OK ||
	    ls_buf_get_ptr(&b, TAG_SIZE, &f->tag) != LS_OK || ls_buf_expect_end(&b) != LS_OK)
		return LS_ERR_MALFORMED;
	if (kind != KIND_WRAP || (f->nonce[0] & 0x80) != 0 || !role_valid(f->role))
		return LS_ERR_MALFORMED;
	if (kdf != KDF_PBKDF2_STREEBOG512)
		return LS_ERR_UNSUPPORTED;
	if (f->iterations < LS_PROTECT_MIN_ITERATIONS || f->iterations > LS_PROTECT_MAX_ITERATIONS)
		return LS_ERR_INVALID_ARG;
	return LS_OK;
}

int
ls_protect_wrap_iterations(const uint8_t *blob, size_t blob_len, uint32_t *iterations)
{
	wrap_fields f;
	int r;

	ls_return_val_if_fail(iterations != NULL, LS_ERR_INVALID_ARG);
	*iterations = 0;
	ls_return_val_if_fail(blob != NULL || blob_len == 0, LS_ERR_INVALID_ARG);
	if ((r = wrap_parse(blob, blob_len, &f)) != LS_OK)
		return r;
	*iterations = f.iterations;
	return LS_OK;
}

int
ls_protect_unwrap(uint64_t token_id, ls_protect_role role, const uint8_t *blob,
                  size_t blob_len, const void *pin, size_t pin_len, ls_protect_key **out)
{
	uint8_t kek[LS_PROTECT_KEY_SIZE], mk[LS_PROTECT_KEY_SIZE];
	uint8_t aad[WRAP_HEADER_SIZE + 8];
	wrap_fields f;
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	ls_return_val_if_fail(blob != NULL || blob_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(pin != NULL || pin_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(role_valid(role), LS_ERR_INVALID_ARG);
	if ((r = wrap_parse(blob, blob_len, &f)) != LS_OK)
		return r;
	/* Another role's blob: the same answer as a wrong PIN (the role is also in the AAD). */
	if (f.role != (uint8_t)role)
		return LS_ERR_AUTH_FAILED;

	if ((r = pin_kek(pin, pin_len, f.salt, f.iterations, kek)) != LS_OK)
		goto out;
	wrap_aad(blob, token_id, aad);
	r = ls_mgm_decrypt(LS_CIPHER_KUZNYECHIK, kek, f.nonce, NONCE_SIZE, aad, sizeof(aad), f.ct,
	                   LS_PROTECT_KEY_SIZE, f.tag, TAG_SIZE, mk);
	if (r == LS_ERR_VERIFY_FAILED) {
		r = LS_ERR_AUTH_FAILED;
		goto out;
	}
	if (r != LS_OK)
		goto out;
	r = ls_protect_key_import(token_id, mk, out);
out:
	ls_wipe(kek, sizeof(kek));
	ls_wipe(mk, sizeof(mk));
	return r;
}

/* ---------------------------------------------------------------------------------------------
 * Sealed attribute values
 * ------------------------------------------------------------------------------------------- */

#define SEAL_AAD_SIZE (2 + 3 * 8)

static void
seal_aad(const ls_protect_key *key, uint64_t object_id, uint64_t attr_type,
         uint8_t aad[SEAL_AAD_SIZE])
{
	aad[0] = LS_PROTECT_FORMAT_VERSION;
	aad[1] = KIND_SEAL;
	put_be64(aad + 2, key->token_id);
	put_be64(aad + 10, object_id);
	put_be64(aad + 18, attr_type);
}

size_t
ls_protect_sealed_size(size_t value_len)
{
	if (value_len > LS_PROTECT_MAX_VALUE)
		return 0;
	return value_len + LS_PROTECT_SEAL_OVERHEAD;
}

int
ls_protect_seal(const ls_protect_key *key, uint64_t object_id, uint64_t attr_type,
                const uint8_t *value, size_t value_len, uint8_t *out, size_t out_size,
                size_t *out_len)
{
	static const uint8_t empty;
	uint8_t aad[SEAL_AAD_SIZE];
	int r;

	ls_return_val_if_fail(out_len != NULL, LS_ERR_INVALID_ARG);
	*out_len = 0;
	ls_return_val_if_fail(key != NULL && out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(value != NULL || value_len == 0, LS_ERR_INVALID_ARG);
	if (value_len > LS_PROTECT_MAX_VALUE)
		return LS_ERR_TOO_LARGE;
	if (out_size < value_len + LS_PROTECT_SEAL_OVERHEAD)
		return LS_ERR_BAD_LENGTH;

	out[0] = LS_PROTECT_FORMAT_VERSION;
	out[1] = KIND_SEAL;
	if ((r = random_nonce(out + 2)) != LS_OK)
		goto out;
	seal_aad(key, object_id, attr_type, aad);
	r = ls_mgm_encrypt(LS_CIPHER_KUZNYECHIK, key->seal, out + 2, NONCE_SIZE, aad, sizeof(aad),
	                   value_len > 0 ? value : &empty, value_len, out + SEAL_HEADER_SIZE,
	                   out + SEAL_HEADER_SIZE + value_len, TAG_SIZE);
	if (r != LS_OK)
		goto out;
	*out_len = value_len + LS_PROTECT_SEAL_OVERHEAD;
out:
	if (r != LS_OK)
		ls_wipe(out, value_len + LS_PROTECT_SEAL_OVERHEAD);
	return r;
}

int
ls_protect_open(const ls_protect_key *key, uint64_t object_id, uint64_t attr_type,
                const uint8_t *blob, size_t blob_len, uint8_t *out, size_t out_size,
                size_t *out_len)
{
	uint8_t aad[SEAL_AAD_SIZE], scratch;
	size_t n;
	int r;

	ls_return_val_if_fail(out_len != NULL, LS_ERR_INVALID_ARG);
	*out_len = 0;
	ls_return_val_if_fail(key != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(blob != NULL || blob_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(out != NULL || out_size == 0, LS_ERR_INVALID_ARG);
	if (blob_len == 0)
		return LS_ERR_BAD_LENGTH;
	if (blob[0] != LS_PROTECT_FORMAT_VERSION)
		return LS_ERR_UNSUPPORTED;
	if (blob_len < LS_PROTECT_SEAL_OVERHEAD ||
	    blob_len - LS_PROTECT_SEAL_OVERHEAD > LS_PROTECT_MAX_VALUE)
		return LS_ERR_BAD_LENGTH;
	if (blob[1] != KIND_SEAL || (blob[2] & 0x80) != 0)
		return LS_ERR_MALFORMED;
	n = blob_len - LS_PROTECT_SEAL_OVERHEAD;
	if (out_size < n)
		return LS_ERR_BAD_LENGTH;

	seal_aad(key, object_id, attr_type, aad);
	r = ls_mgm_decrypt(LS_CIPHER_KUZNYECHIK, key->seal, blob + 2, NONCE_SIZE, aad, sizeof(aad),
	                   blob + SEAL_HEADER_SIZE, n, blob + SEAL_HEADER_SIZE + n, TAG_SIZE,
	                   n > 0 ? out : &scratch);
	if (r != LS_OK) {
		if (n > 0)
			ls_wipe(out, n);
		return r;
	}
	*out_len = n;
	return LS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Calibration
 * ------------------------------------------------------------------------------------------- */

int
ls_protect_calibrate(unsigned target_ms, uint32_t *iterations)
{
	const uint32_t probe = 2000;
	uint8_t salt[SALT_SIZE] = { 0 }, out[LS_PROTECT_KEY_SIZE];
	int64_t t0;
	double elapsed, want;
	int r;

	ls_return_val_if_fail(iterations != NULL, LS_ERR_INVALID_ARG);
	*iterations = 0;
	ls_return_val_if_fail(target_ms > 0, LS_ERR_INVALID_ARG);
	/* A first run loads the backend and warms the caches; the second one is timed. */
	if ((r = ls_pbkdf2_streebog512("calibrate", 9, salt, sizeof(salt), 1, out,
	                               sizeof(out))) != LS_OK)
		return r;
	t0 = ls_now_us();
	r = ls_pbkdf2_streebog512("calibrate", 9, salt, sizeof(salt), probe, out, sizeof(out));
	elapsed = (double)(ls_now_us() - t0) / 1e6;
	ls_wipe(out, sizeof(out));
	if (r != LS_OK)
		return r;
	if (elapsed <= 0)
		elapsed = 1e-6;
	want = (double)probe * ((double)target_ms / 1000.0) / elapsed;
	if (want < LS_PROTECT_MIN_ITERATIONS)
		want = LS_PROTECT_MIN_ITERATIONS;
	if (want > LS_PROTECT_MAX_ITERATIONS)
		want = LS_PROTECT_MAX_ITERATIONS;
	*iterations = (uint32_t)want;
	return LS_OK;
}
