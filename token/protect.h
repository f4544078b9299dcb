/*
 * LS11CLOUD - at-rest protection of a token's secrets (ARCHITECTURE.md section 6).
 *
 * Key hierarchy (docs/storage.md has the byte layouts):
 *
 *   user PIN --PBKDF2-HMAC-Streebog-512(salt, iterations)--> KEK_user --+
 *   SO PIN   --PBKDF2-HMAC-Streebog-512(salt, iterations)--> KEK_so   --+-- Kuznyechik-MGM wrap
 *                                                                       |
 *   master key MK: 32 random bytes per token  <-------------------------+
 *        |
 *        +--KDF_GOSTR3411_2012_256(MK, "ls11cloud attribute seal", token id)--> K_seal
 *                 |
 *                 +-- Kuznyechik-MGM seal of every sensitive attribute value, with
 *                     AAD = format version | blob kind | token id | object id | attribute type
 *
 * So the database holds the master key only wrapped under PIN-derived keys, and every sealed
 * value is bound to its token, object and attribute: a blob moved anywhere else fails to open.
 * Every blob starts with a format version byte; every parse is length-checked; a wrong PIN or
 * a changed byte gives an error, never a wrong key or a wrong value.
 *
 * All functions are thread-safe; a key object may be used by many threads at once (it is only
 * read after creation).  Secrets (MK, K_seal, KEKs, PIN-derived material) are wiped after use.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TOKEN_PROTECT_H
#define LS11_TOKEN_PROTECT_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* The blob format this code writes and reads (first byte of every blob). */
#define LS_PROTECT_FORMAT_VERSION 1

#define LS_PROTECT_KEY_SIZE 32
/* Size of a wrapped master key (ls_protect_wrap()). */
#define LS_PROTECT_WRAP_SIZE 88
/* A sealed value is this many bytes longer than the value. */
#define LS_PROTECT_SEAL_OVERHEAD 34
/* Largest value ls_protect_seal() accepts. */
#define LS_PROTECT_MAX_VALUE (1024 * 1024)

/*
 * PBKDF2 iteration counts.  The default costs about 50 ms on one core of the reference machine
 * (Xeon 2.6 GHz, OpenSSL 3.0 + gost-engine 3.0.1: 3.57 us per iteration, 14000 -> 50 ms; see
 * docs/storage.md).  Blobs carry their own count, so it can change without breaking old blobs;
 * unwrap refuses counts outside [MIN, MAX] (a hostile count must not stall the server).
 */
#define LS_PROTECT_DEFAULT_ITERATIONS 14000
#define LS_PROTECT_MIN_ITERATIONS 1000
#define LS_PROTECT_MAX_ITERATIONS 10000000

/* Whose PIN wraps the master key (the values of CKU_SO and CKU_USER). */
typedef enum {
	LS_PROTECT_SO = 0,
	LS_PROTECT_USER = 1,
} ls_protect_role;

/* The unwrapped master key of one token, with its derived sealing key.  Wiped on free. */
typedef struct ls_protect_key ls_protect_key;

/* A fresh random master key for token @token_id (C_InitToken).  *@out only on success. */
int ls_protect_key_generate(uint64_t token_id, ls_protect_key **out);

/*
 * A master key from its bytes (restore from an escrow, tests).  The caller wipes @mk.
 * *@out only on success.
 */
int ls_protect_key_import(uint64_t token_id, const uint8_t mk[LS_PROTECT_KEY_SIZE],
                          ls_protect_key **out);

/* The token a key belongs to. */
uint64_t ls_protect_key_token(const ls_protect_key *key);

/* Wipes and frees @key.  NULL accepted. */
void ls_protect_key_free(ls_protect_key *key);

/*
 * Wraps the master key under @pin for @role: a new random salt and nonce, @iterations PBKDF2
 * rounds (0 = LS_PROTECT_DEFAULT_ITERATIONS; otherwise MIN..MAX), LS_PROTECT_WRAP_SIZE bytes to
 * @out (@out_size at least that, else LS_ERR_BAD_LENGTH).  Costs one PBKDF2 (~50 ms by default):
 * do not call it on an event loop thread.
 */
int ls_protect_wrap(const ls_protect_key *key, ls_protect_role role, const void *pin,
                    size_t pin_len, uint32_t iterations, uint8_t *out, size_t out_size,
                    size_t *out_len);

/*
 * Unwraps a blob made by ls_protect_wrap() for token @token_id and @role with @pin.
 * LS_ERR_AUTH_FAILED when the PIN is wrong, or the blob was changed, or it belongs to another
 * token or role (these cannot be told apart, by design); LS_ERR_MALFORMED / LS_ERR_BAD_LENGTH /
 * LS_ERR_UNSUPPORTED for a blob that does not parse, has the wrong length or an unknown format
 * version or KDF, LS_ERR_INVALID_ARG for an iteration count outside MIN..MAX.  *@out only on
 * success.  Costs one PBKDF2.
 */
int ls_protect_unwrap(uint64_t token_id, ls_protect_role role, const uint8_t *blob,
                      size_t blob_len, const void *pin, size_t pin_len, ls_protect_key **out);

/*
 * The iteration count recorded in a wrap blob (so the engine can re-wrap, after a successful
 * login, blobs made with fewer iterations than its current setting).  Parses the header only.
 */
int ls_protect_wrap_iterations(const uint8_t *blob, size_t blob_len, uint32_t *iterations);

/* Bytes a sealed value of @value_len bytes takes: @value_len + LS_PROTECT_SEAL_OVERHEAD. */
size_t ls_protect_sealed_size(size_t value_len);

/*
 * Seals @value (@value_len bytes, 0..LS_PROTECT_MAX_VALUE) as attribute @attr_type of object
 * @object_id of the key's token.  Writes ls_protect_sealed_size(@value_len) bytes to @out
 * (@out_size at least that, else LS_ERR_BAD_LENGTH).
 */
int ls_protect_seal(const ls_protect_key *key, uint64_t object_id, uint64_t attr_type,
                    const uint8_t *value, size_t value_len, uint8_t *out, size_t out_size,
                    size_t *out_len);

/*
 * Opens a sealed value of attribute @attr_type of object @object_id: the tag is verified
 * before any byte is written to @out (which needs @blob_len - LS_PROTECT_SEAL_OVERHEAD bytes).
 * LS_ERR_VERIFY_FAILED when the blob was changed or belongs to another token, object or
 * attribute; LS_ERR_BAD_LENGTH / LS_ERR_MALFORMED / LS_ERR_UNSUPPORTED when it does not parse.
 * On any failure @out holds nothing of the value.
 */
int ls_protect_open(const ls_protect_key *key, uint64_t object_id, uint64_t attr_type,
                    const uint8_t *blob, size_t blob_len, uint8_t *out, size_t out_size,
                    size_t *out_len);

/*
 * Measures PBKDF2-HMAC-Streebog-512 on this machine and returns the iteration count that
 * takes about @target_ms (clamped to MIN..MAX).  Times one 2000-iteration run (~7 ms here).
 */
int ls_protect_calibrate(unsigned target_ms, uint32_t *iterations);

#endif /* LS11_TOKEN_PROTECT_H */
