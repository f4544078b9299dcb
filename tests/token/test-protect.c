/*
 * token/protect.c: master keys wrapped under PINs, sealed attribute values.  Round trips, the
 * database file holding no plaintext, wrong PINs, every single-byte change of a blob, blobs
 * moved to another object, attribute, role or token, length checks, and the PBKDF2 cost.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "crypto.h"
#include "protect.h"
#include "store-sqlite.h"
#include "test-util.h"

/* PKCS#11 attribute types used as AAD (CKA_VALUE, CKA_PRIVATE_EXPONENT). */
#define CKA_VALUE_T 0x11
#define CKA_PRIVATE_EXPONENT_T 0x123

#define FAST LS_PROTECT_MIN_ITERATIONS

static const char user_pin[] = "123456";
static const char so_pin[] = "87654321";

static ls_protect_key *
known_key(uint64_t token_id)
{
	TEST_HEX(mk, "c0ffee00 0badf00d 5eed1e55 deadbeef a5a5a5a5 13579bdf 2468ace0 fedcba98");
	ls_protect_key *key = NULL;

	cr_assert_eq(ls_protect_key_import(token_id, mk, &key), LS_OK);
	return key;
}

static void
seal(const ls_protect_key *key, uint64_t obj, uint64_t attr, const void *v, size_t n,
     uint8_t *out, size_t *out_len)
{
	cr_assert_eq(ls_protect_seal(key, obj, attr, v, n, out, n + LS_PROTECT_SEAL_OVERHEAD,
	                             out_len),
	             LS_OK);
	cr_assert_eq(*out_len, ls_protect_sealed_size(n));
}

Test(protect, wrap_unwrap_seal_open_round_trip)
{
	const char value[] = "private scalar of a GOST key, 32";
	uint8_t uw[LS_PROTECT_WRAP_SIZE], sw[LS_PROTECT_WRAP_SIZE], sealed[128], opened[64];
	ls_protect_key *key = NULL, *by_user = NULL, *by_so = NULL;
	size_t uw_len, sw_len, sealed_len, opened_len;

	cr_assert_eq(ls_protect_key_generate(42, &key), LS_OK);
	cr_assert_eq(ls_protect_key_token(key), 42);
	cr_assert_eq(ls_protect_wrap(key, LS_PROTECT_USER, user_pin, 6, FAST, uw, sizeof(uw),
	                             &uw_len),
	             LS_OK);
	cr_assert_eq(uw_len, LS_PROTECT_WRAP_SIZE);
	cr_assert_eq(ls_protect_wrap(key, LS_PROTECT_SO, so_pin, 8, FAST, sw, sizeof(sw), &sw_len),
	             LS_OK);
	seal(key, 7, CKA_VALUE_T, value, 32, sealed, &sealed_len);

	/* Each PIN gives back the same master key: what one sealed, the others open. */
	cr_assert_eq(ls_protect_unwrap(42, LS_PROTECT_USER, uw, uw_len, user_pin, 6, &by_user),
	             LS_OK);
	cr_assert_eq(ls_protect_unwrap(42, LS_PROTECT_SO, sw, sw_len, so_pin, 8, &by_so), LS_OK);
	memset(opened, 0, sizeof(opened));
	cr_assert_eq(ls_protect_open(by_user, 7, CKA_VALUE_T, sealed, sealed_len, opened,
	                             sizeof(opened), &opened_len),
	             LS_OK);
	cr_assert_eq(opened_len, 32);
	cr_assert_arr_eq(opened, value, 32);
	cr_assert_eq(ls_protect_open(by_so, 7, CKA_VALUE_T, sealed, sealed_len, opened, 32,
	                             &opened_len),
	             LS_OK, "an output of exactly the value's size is enough");
	cr_assert_arr_eq(opened, value, 32);

	/* A PIN change: unwrap with the old PIN, wrap with the new one; old objects still open. */
	ls_protect_key *again = NULL;
	cr_assert_eq(ls_protect_wrap(by_user, LS_PROTECT_USER, "new pin", 7, FAST, uw, sizeof(uw),
	                             &uw_len),
	             LS_OK);
	cr_assert_eq(ls_protect_unwrap(42, LS_PROTECT_USER, uw, uw_len, "new pin", 7, &again),
	             LS_OK);
	cr_assert_eq(ls_protect_open(again, 7, CKA_VALUE_T, sealed, sealed_len, opened, 32,
	                             &opened_len),
	             LS_OK);
	ls_protect_key *stale = NULL;
	cr_assert_eq(ls_protect_unwrap(42, LS_PROTECT_USER, uw, uw_len, user_pin, 6, &stale),
	             LS_ERR_AUTH_FAILED, "the old PIN no longer opens the new wrap");
	cr_assert_null(stale);
	ls_protect_key_free(again);
	ls_protect_key_free(by_so);
	ls_protect_key_free(by_user);
	ls_protect_key_free(key);
	ls_protect_key_free(NULL);
}

Test(protect, empty_values_and_fresh_nonces)
{
	uint8_t a[LS_PROTECT_SEAL_OVERHEAD + 8], b[LS_PROTECT_SEAL_OVERHEAD + 8], out[8];
	ls_protect_key *key = known_key(1);
	size_t alen, blen, olen = 99;

	seal(key, 1, CKA_VALUE_T, NULL, 0, a, &alen);
	cr_assert_eq(alen, LS_PROTECT_SEAL_OVERHEAD);
	cr_assert_eq(ls_protect_open(key, 1, CKA_VALUE_T, a, alen, NULL, 0, &olen), LS_OK);
	cr_assert_eq(olen, 0);

	/* The same value sealed twice looks different; every nonce has its top bit clear. */
	for (int i = 0; i < 64; i++) {
		seal(key, 1, CKA_VALUE_T, "12345678", 8, a, &alen);
		seal(key, 1, CKA_VALUE_T, "12345678", 8, b, &blen);
		cr_assert_eq(a[0], LS_PROTECT_FORMAT_VERSION, "the format version comes first");
		cr_assert_eq(a[2] & 0x80, 0);
		cr_assert_eq(b[2] & 0x80, 0);
		cr_assert(memcmp(a + 2, b + 2, 16) != 0, "nonces repeat");
		cr_assert(memcmp(a + 18, b + 18, 8) != 0, "ciphertexts repeat");
	}
	cr_assert_eq(ls_protect_open(key, 1, CKA_VALUE_T, a, alen, out, sizeof(out), &olen), LS_OK);
	cr_assert_arr_eq(out, "12345678", 8);
	ls_protect_key_free(key);
}

Test(protect, wrong_pin_role_or_token_unwraps_nothing)
{
	uint8_t w[LS_PROTECT_WRAP_SIZE];
	ls_protect_key *key = known_key(5), *got = (ls_protect_key *)1;
	size_t wlen;

	cr_assert_eq(ls_protect_wrap(key, LS_PROTECT_USER, user_pin, 6, FAST, w, sizeof(w), &wlen),
	             LS_OK);
	cr_assert_eq(ls_protect_unwrap(5, LS_PROTECT_USER, w, wlen, "123457", 6, &got),
	             LS_ERR_AUTH_FAILED);
	cr_assert_null(got, "nothing comes out of a failed unwrap");
	cr_assert_eq(ls_protect_unwrap(5, LS_PROTECT_USER, w, wlen, user_pin, 5, &got),
	             LS_ERR_AUTH_FAILED, "a prefix of the PIN is another PIN");
	cr_assert_eq(ls_protect_unwrap(5, LS_PROTECT_USER, w, wlen, "", 0, &got),
	             LS_ERR_AUTH_FAILED);
	cr_assert_eq(ls_protect_unwrap(5, LS_PROTECT_SO, w, wlen, user_pin, 6, &got),
	             LS_ERR_AUTH_FAILED, "the user's wrap does not log the SO in");
	cr_assert_eq(ls_protect_unwrap(6, LS_PROTECT_USER, w, wlen, user_pin, 6, &got),
	             LS_ERR_AUTH_FAILED, "nor does it work for another token");

	/* A user wrap relabelled as an SO wrap fails too: the role byte is authenticated. */
	w[2] = LS_PROTECT_SO;
	cr_assert_eq(ls_protect_unwrap(5, LS_PROTECT_SO, w, wlen, user_pin, 6, &got),
	             LS_ERR_AUTH_FAILED);
	cr_assert_null(got);
	ls_protect_key_free(key);
}

Test(protect, any_changed_byte_of_a_sealed_value_is_an_error)
{
	const char value[] = "0123456789abcdef0123456789abcdef";
	uint8_t sealed[LS_PROTECT_SEAL_OVERHEAD + 32], bad[sizeof(sealed) + 1], out[64];
	static const uint8_t flips[] = { 0x01, 0x80, 0xff };
	ls_protect_key *key = known_key(9);
	size_t len, olen;

	seal(key, 3, CKA_VALUE_T, value, 32, sealed, &len);
	for (size_t i = 0; i < len; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(bad, sealed, len);
			bad[i] ^= flips[f];
			memset(out, 0xee, sizeof(out));
			olen = 1234;
			cr_assert_neq(ls_protect_open(key, 3, CKA_VALUE_T, bad, len, out,
			                              sizeof(out), &olen),
			              LS_OK, "byte %zu ^ 0x%02x was accepted", i, flips[f]);
			cr_assert_eq(olen, 0);
			for (size_t k = 0; k < sizeof(out); k++)
				cr_assert(out[k] == 0xee || out[k] == 0,
				          "byte %zu ^ 0x%02x: plaintext leaked into the output", i,
				          flips[f]);
		}
	}
	/* Truncated at every length, or one byte longer. */
	for (size_t n = 0; n < len; n++)
		cr_assert_neq(ls_protect_open(key, 3, CKA_VALUE_T, sealed, n, out, sizeof(out),
		                              &olen),
		              LS_OK, "a blob cut to %zu bytes was accepted", n);
	memcpy(bad, sealed, len);
	bad[len] = 0;
	cr_assert_neq(ls_protect_open(key, 3, CKA_VALUE_T, bad, len + 1, out, sizeof(out), &olen),
	              LS_OK);
	cr_assert_eq(ls_protect_open(key, 3, CKA_VALUE_T, sealed, len, out, 31, &olen),
	             LS_ERR_BAD_LENGTH, "a short output buffer is refused before decrypting");
	memcpy(bad, sealed, len);
	bad[0] = 2;
	cr_assert_eq(ls_protect_open(key, 3, CKA_VALUE_T, bad, len, out, sizeof(out), &olen),
	             LS_ERR_UNSUPPORTED, "an unknown format version is said so");
	cr_assert_eq(ls_protect_open(key, 3, CKA_VALUE_T, sealed, len, out, sizeof(out), &olen),
	             LS_OK, "the untouched blob still opens");
	cr_assert_arr_eq(out, value, 32);
	ls_protect_key_free(key);
}

Test(protect, any_changed_byte_of_a_wrap_is_an_error)
{
	uint8_t w[LS_PROTECT_WRAP_SIZE], bad[LS_PROTECT_WRAP_SIZE + 1];
	ls_protect_key *key = known_key(11), *got;
	size_t wlen;
	uint32_t iters = 0;

	cr_assert_eq(ls_protect_wrap(key, LS_PROTECT_USER, user_pin, 6, FAST, w, sizeof(w), &wlen),
	             LS_OK);
	cr_assert_eq(ls_protect_wrap_iterations(w, wlen, &iters), LS_OK);
	cr_assert_eq(iters, FAST);
	for (size_t i = 0; i < wlen; i++) {
		memcpy(bad, w, wlen);
		bad[i] ^= 0x01;
		got = (ls_protect_key *)1;
		cr_assert_neq(ls_protect_unwrap(11, LS_PROTECT_USER, bad, wlen, user_pin, 6, &got),
		              LS_OK, "byte %zu ^ 0x01 was accepted", i);
		cr_assert_null(got);
	}
	for (size_t n = 0; n < wlen; n++)
		cr_assert_neq(ls_protect_unwrap(11, LS_PROTECT_USER, w, n, user_pin, 6, &got),
		              LS_OK);
	memcpy(bad, w, wlen);
	bad[wlen] = 0;
	cr_assert_eq(ls_protect_unwrap(11, LS_PROTECT_USER, bad, wlen + 1, user_pin, 6, &got),
	             LS_ERR_BAD_LENGTH);
	memcpy(bad, w, wlen);
	bad[4] = 0xff; /* 4 billion iterations: refused before any work */
	cr_assert_eq(ls_protect_unwrap(11, LS_PROTECT_USER, bad, wlen, user_pin, 6, &got),
	             LS_ERR_INVALID_ARG);
	bad[4] = w[4];
	bad[3] = 2; /* an unknown KDF */
	cr_assert_eq(ls_protect_unwrap(11, LS_PROTECT_USER, bad, wlen, user_pin, 6, &got),
	             LS_ERR_UNSUPPORTED);
	cr_assert_eq(ls_protect_unwrap(11, LS_PROTECT_USER, w, wlen, user_pin, 6, &got), LS_OK);
	ls_protect_key_free(got);
	ls_protect_key_free(key);
}

Test(protect, a_blob_moved_to_another_object_attribute_or_token_fails)
{
	uint8_t sealed[LS_PROTECT_SEAL_OVERHEAD + 16], out[16];
	ls_protect_key *key = known_key(21), *same_mk_other_token = known_key(22);
	size_t len, olen;

	seal(key, 100, CKA_VALUE_T, "sixteen byte key", 16, sealed, &len);
	cr_assert_eq(ls_protect_open(key, 101, CKA_VALUE_T, sealed, len, out, sizeof(out), &olen),
	             LS_ERR_VERIFY_FAILED, "another object");
	cr_assert_eq(ls_protect_open(key, 100, CKA_PRIVATE_EXPONENT_T, sealed, len, out,
	                             sizeof(out), &olen),
	             LS_ERR_VERIFY_FAILED, "another attribute");
	cr_assert_eq(ls_protect_open(same_mk_other_token, 100, CKA_VALUE_T, sealed, len, out,
	                             sizeof(out), &olen),
	             LS_ERR_VERIFY_FAILED, "another token, even with the same master key bytes");
	cr_assert_eq(ls_protect_open(key, 100 + (1ull << 32), CKA_VALUE_T, sealed, len, out,
	                             sizeof(out), &olen),
	             LS_ERR_VERIFY_FAILED, "all 64 bits of the id count");
	cr_assert_eq(ls_protect_open(key, 100, CKA_VALUE_T, sealed, len, out, sizeof(out), &olen),
	             LS_OK);
	cr_assert_arr_eq(out, "sixteen byte key", 16);
	ls_protect_key_free(same_mk_other_token);
	ls_protect_key_free(key);
}

Test(protect, argument_checks)
{
	uint8_t w[LS_PROTECT_WRAP_SIZE], big[8];
	ls_protect_key *key = known_key(1);
	size_t len = 5;

	cr_assert_eq(ls_protect_wrap(key, LS_PROTECT_USER, user_pin, 6, FAST, w,
	                             LS_PROTECT_WRAP_SIZE - 1, &len),
	             LS_ERR_BAD_LENGTH);
	cr_assert_eq(len, 0);
	cr_assert_eq(ls_protect_wrap(key, LS_PROTECT_USER, user_pin, 6, FAST - 1, w, sizeof(w),
	                             &len),
	             LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_protect_wrap(key, LS_PROTECT_USER, user_pin, 6,
	                             LS_PROTECT_MAX_ITERATIONS + 1, w, sizeof(w), &len),
	             LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_protect_wrap(key, (ls_protect_role)7, user_pin, 6, FAST, w, sizeof(w),
	                             &len),
	             LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_protect_seal(key, 1, 1, big, 8, w, 8 + LS_PROTECT_SEAL_OVERHEAD - 1, &len),
	             LS_ERR_BAD_LENGTH);
	cr_assert_eq(ls_protect_seal(key, 1, 1, big, LS_PROTECT_MAX_VALUE + 1, w, sizeof(w), &len),
	             LS_ERR_TOO_LARGE);
	cr_assert_eq(ls_protect_sealed_size(LS_PROTECT_MAX_VALUE + 1), 0);
	ls_protect_key_free(key);
}

/* ---- the database holds no secret ---------------------------------------------------------- */

static uint8_t *
slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	uint8_t *buf = NULL;
	long n;

	*len = 0;
	if (f == NULL)
		return NULL;
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	cr_assert_geq(n, 0);
	cr_assert_eq(fseek(f, 0, SEEK_SET), 0);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static bool
contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	return n >= m && memmem(hay, n, needle, m) != NULL;
}

static void
assert_files_lack(const char *db, const void *secret, size_t n, const char *what)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char p[160];

	for (size_t i = 0; i < 3; i++) {
		size_t len;
		uint8_t *bytes;

		snprintf(p, sizeof(p), "%s%s", db, suffix[i]);
		bytes = slurp(p, &len);
		if (bytes == NULL)
			continue;
		cr_assert_not(contains(bytes, len, secret, n), "%s found in %s", what, p);
		free(bytes);
	}
}

Test(protect, database_file_holds_no_key_bytes)
{
	/* A 32-byte private scalar and the master key, both distinctive patterns. */
	TEST_HEX(scalar, "7a929ade789bb9be10ed359dd39a72c11b60961f49397eee1d19ce9891ec3b28");
	TEST_HEX(mk, "c0ffee00 0badf00d 5eed1e55 deadbeef a5a5a5a5 13579bdf 2468ace0 fedcba98");
	char dir[] = "/tmp/ls11-protect-XXXXXX", db[96];
	uint8_t sealed[LS_PROTECT_SEAL_OVERHEAD + 32], out[32];
	ls_store_token tok;
	ls_store_object o = { .cls = 3, .key_type = 0x30 }, got;
	ls_protect_key *key, *unwrapped = NULL;
	ls_store *store = NULL;
	ls_store_txn *txn;
	uint64_t token_id;
	size_t len;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/token.db", dir);
	cr_assert_eq(ls_store_sqlite_open(db, NULL, &store), LS_OK);

	memset(&tok, 0, sizeof(tok));
	memset(tok.label, ' ', sizeof(tok.label));
	memset(tok.serial, ' ', sizeof(tok.serial));
	tok.format_version = LS_PROTECT_FORMAT_VERSION;
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_token_create(txn, &tok, &token_id), LS_OK);
	cr_assert_eq(ls_protect_key_import(token_id, mk, &key), LS_OK);
	cr_assert_eq(ls_store_token_get(txn, token_id, &tok), LS_OK);
	cr_assert_eq(ls_protect_wrap(key, LS_PROTECT_USER, user_pin, 6, FAST, tok.user_wrap,
	                             sizeof(tok.user_wrap), &tok.user_wrap_len),
	             LS_OK);
	cr_assert_eq(ls_protect_wrap(key, LS_PROTECT_SO, so_pin, 8, FAST, tok.so_wrap,
	                             sizeof(tok.so_wrap), &tok.so_wrap_len),
	             LS_OK);
	cr_assert_eq(ls_store_token_update(txn, &tok), LS_OK);
	cr_assert_eq(ls_store_object_id_new(txn, token_id, &o.id), LS_OK);
	seal(key, o.id, CKA_VALUE_T, scalar, 32, sealed, &len);
	o.attrs = sealed;
	o.attrs_len = len;
	cr_assert_eq(ls_store_object_put(txn, token_id, &o), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	ls_protect_key_free(key);

	/* While the store is open (the data in the WAL) and after close (checkpointed). */
	assert_files_lack(db, scalar, 32, "the private scalar");
	assert_files_lack(db, scalar, 8, "a piece of the private scalar");
	assert_files_lack(db, mk, 32, "the master key");
	assert_files_lack(db, mk, 8, "a piece of the master key");
	assert_files_lack(db, user_pin, 6, "the user PIN");
	assert_files_lack(db, so_pin, 8, "the SO PIN");
	ls_store_close(store);
	store = NULL;
	assert_files_lack(db, scalar, 8, "a piece of the private scalar");
	assert_files_lack(db, mk, 8, "a piece of the master key");

	/* And what is stored opens again, given the PIN. */
	cr_assert_eq(ls_store_sqlite_open(db, NULL, &store), LS_OK);
	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_token_get(txn, token_id, &tok), LS_OK);
	cr_assert_eq(ls_store_object_get(txn, token_id, o.id, &got), LS_OK);
	ls_store_rollback(txn);
	cr_assert_eq(ls_protect_unwrap(token_id, LS_PROTECT_USER, tok.user_wrap, tok.user_wrap_len,
	                               "000000", 6, &unwrapped),
	             LS_ERR_AUTH_FAILED);
	cr_assert_eq(ls_protect_unwrap(token_id, LS_PROTECT_USER, tok.user_wrap, tok.user_wrap_len,
	                               user_pin, 6, &unwrapped),
	             LS_OK);
	cr_assert_eq(ls_protect_open(unwrapped, got.id, CKA_VALUE_T, got.attrs, got.attrs_len, out,
	                             sizeof(out), &len),
	             LS_OK);
	cr_assert_arr_eq(out, scalar, 32);
	ls_store_object_clear(&got);
	ls_protect_key_free(unwrapped);
	ls_store_close(store);

	char side[128];
	unlink(db);
	snprintf(side, sizeof(side), "%s-wal", db);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", db);
	unlink(side);
	rmdir(dir);
}

/* ---- cost ---------------------------------------------------------------------------------- */

static double
now(void)
{
	return (double)ls_now_ns() / 1e9;
}

Test(protect, default_iterations_and_calibration)
{
	uint8_t w[LS_PROTECT_WRAP_SIZE];
	ls_protect_key *key = known_key(1), *got = NULL;
	uint32_t measured = 0, iters = 0;
	size_t len;
	double t0, ms;

	cr_assert_eq(ls_protect_wrap(key, LS_PROTECT_USER, user_pin, 6, 0, w, sizeof(w), &len),
	             LS_OK);
	cr_assert_eq(ls_protect_wrap_iterations(w, len, &iters), LS_OK);
	cr_assert_eq(iters, LS_PROTECT_DEFAULT_ITERATIONS, "0 means the default");
	t0 = now();
	cr_assert_eq(ls_protect_unwrap(1, LS_PROTECT_USER, w, len, user_pin, 6, &got), LS_OK);
	ms = (now() - t0) * 1000.0;
	cr_assert_eq(ls_protect_calibrate(50, &measured), LS_OK);
	cr_assert_geq(measured, LS_PROTECT_MIN_ITERATIONS);
	cr_assert_leq(measured, LS_PROTECT_MAX_ITERATIONS);
	cr_log_info("unwrap with %u iterations: %.1f ms; calibrated for 50 ms here: %u iterations",
	            iters, ms, measured);
	/* Not a benchmark: only a guard against an accidental 100-fold change either way. */
	cr_assert_gt(ms, 1.0);
	cr_assert_lt(ms, 5000.0);
	ls_protect_key_free(got);
	ls_protect_key_free(key);
}
