/*
 * LS11CLOUD - SESPAKE, the password-authenticated key exchange of RFC 8133 (R 50.1.115-2016).
 *
 * Party A (the client) knows the password; party B (the server) holds only a verifier
 * (curve, ind, salt, Q_PW) made from it, never the password.  Four messages:
 *
 *     A -> B  u1 = alpha*P - Q_PW                      ls_sespake_client_start()
 *     B -> A  u2 = beta*P + Q_PW                       ls_sespake_server_respond()
 *     A -> B  DATA_A, MAC_A                            ls_sespake_client_finish()
 *     B -> A  DATA_B, MAC_B                            ls_sespake_server_confirm()
 *     A       checks MAC_B                             ls_sespake_client_confirm()
 *
 * after which both sides read the same 32-byte key K with ls_sespake_key().  The API is
 * message-oriented: each call consumes what arrived and produces what to send, so the server can
 * run each step on a worker thread and the client can run them in a blocking loop.  Nothing here
 * does I/O.
 *
 * Formulas and byte orders (checked against shared/reference/sespake-vectors.txt):
 *   F      = PBKDF2-HMAC-Streebog-512(PW, salt, 2000), first 32 or 64 bytes read little-endian
 *   Q_PW   = F * Q_ind
 *   K      = Streebog-256(LE(src.x) || LE(src.y)),  src = ((m/q) * alpha mod q) * (u2 - Q_PW)
 *                                                      = ((m/q) * beta  mod q) * (u1 + Q_PW)
 *   MAC_A  = HMAC-Streebog-256(K, 0x01 || ID_A || ind || salt || u1 || u2 || DATA_A)
 *   MAC_B  = HMAC-Streebog-256(K, 0x02 || ID_B || ind || salt || u1 || u2 || DATA_A || DATA_B)
 * Points travel as LE(x) || LE(y): 64 bytes on 256-bit curves, 128 bytes on 512-bit curves.
 * ind is one byte.  ID_A and ID_B are known to both sides (both go to both constructors).
 *
 * Curves: LS_CURVE_CP_A, LS_CURVE_CP_B, LS_CURVE_CP_C (also named tc26-256-B/C/D, XchA/XchB),
 * LS_CURVE_TC26_256_A, LS_CURVE_TC26_512_A, LS_CURVE_TC26_512_B, LS_CURVE_TC26_512_C, each with
 * the three published points Q_1..Q_3.  The two test curves are refused (LS_ERR_UNSUPPORTED).
 *
 * Errors and state.  Every function returns LS_OK or a negative LS_ERR_* (core/errors.h).  A
 * context moves strictly forward through its steps; a step called out of order, or a step of the
 * other role, returns LS_ERR_STATE and changes nothing.  A NULL where a pointer is required
 * returns LS_ERR_INVALID_ARG and changes nothing.  Any other failure of a step ends the exchange:
 * the context wipes its secrets and from then on answers LS_ERR_STATE to everything but
 * ls_sespake_free().  Received points are decoded strictly: a length other than the curve's
 * point size gives LS_ERR_BAD_LENGTH; a coordinate >= p, a point off the curve or the all-zero
 * encoding (our spelling of the identity, which has no affine coordinates) gives
 * LS_ERR_BAD_POINT.  A MAC that does not verify gives LS_ERR_AUTH_FAILED; MACs are compared in
 * constant time.
 *
 * Degenerate exchanges: when (m/q) * Q_A or (m/q) * Q_B is the identity (z_A / z_B of RFC 8133),
 * or the shared point src is the identity, the step that meets it does not say so - as the RFC
 * prescribes, the exchange goes on with a random K, and the confirm step of that side fails with
 * LS_ERR_AUTH_FAILED, exactly as for a wrong password.
 *
 * Secrets (the password-derived F and Q_PW, alpha, beta, K, the points' encodings) live in the
 * context and are wiped when it is freed and when a step fails.  The password itself is not kept:
 * ls_sespake_client_new() derives Q_PW and forgets it.
 *
 * Threads: all functions may be called from many threads at once on different contexts; a
 * context is used by one thread at a time.  Curve set-up happens once per curve on first use.
 * Blocking: ls_sespake_client_new() and ls_sespake_verifier_make() run PBKDF2 with 2000
 * iterations (~8 ms); every other step costs one or two scalar multiplications (0.3-1 ms).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_SESPAKE_H
#define LS11_CORE_SESPAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "errors.h"

#define LS_SESPAKE_ITERATIONS 2000 /* PBKDF2 iterations of F (RFC 8133) */
#define LS_SESPAKE_NUM_POINTS 3    /* published points Q_1..Q_3 per curve: ind is 1..3 */
#define LS_SESPAKE_SALT_MIN   16   /* bytes */
#define LS_SESPAKE_SALT_MAX   64
#define LS_SESPAKE_ID_MAX     256  /* ID_A, ID_B: 0..256 bytes */
#define LS_SESPAKE_DATA_MAX   4096 /* DATA_A, DATA_B: 0..4096 bytes */
#define LS_SESPAKE_PW_MAX     4096 /* password: 1..4096 bytes */
#define LS_SESPAKE_MAX_POINT  128  /* largest encoded point, LE(x) || LE(y) */
#define LS_SESPAKE_MAC_SIZE   32
#define LS_SESPAKE_KEY_SIZE   32

/*
 * Size in bytes of an encoded point (u1, u2, Q_PW) on @curve: 64 or 128, or 0 when SESPAKE does
 * not support @curve.  Never fails otherwise.
 */
size_t ls_sespake_point_size(ls_curve curve);

/* ---------------------------------------------------------------------------------------------
 * The verifier: what the server stores instead of the password
 * ------------------------------------------------------------------------------------------- */

#define LS_SESPAKE_VERIFIER_VERSION 1

/*
 * Plain bytes only, no pointers and no padding: the struct can be stored and loaded as its
 * sizeof() bytes (196) on any platform.  Unused tails of salt[] and q_pw[] are zero.  Treat it as
 * a secret: anyone who has it can test password guesses offline, so wipe copies with ls_wipe().
 * Load it back through ls_sespake_verifier_check() (ls_sespake_server_new() does so).
 */
typedef struct {
	uint8_t version;  /* LS_SESPAKE_VERIFIER_VERSION */
	uint8_t curve;    /* an ls_curve value */
	uint8_t ind;      /* 1..3: which Q_ind */
	uint8_t salt_len; /* LS_SESPAKE_SALT_MIN..LS_SESPAKE_SALT_MAX */
	uint8_t salt[LS_SESPAKE_SALT_MAX];
	uint8_t q_pw[LS_SESPAKE_MAX_POINT]; /* LE(x) || LE(y), ls_sespake_point_size() bytes */
} ls_sespake_verifier;

_Static_assert(sizeof(ls_sespake_verifier) == 196, "ls_sespake_verifier must have no padding");

/*
 * Computes the verifier of @password (@password_len bytes, 1..LS_SESPAKE_PW_MAX) for @curve and
 * point index @ind (1..3) - on the client, at registration and at a password change; the result
 * is what goes to the server.  @salt (@salt_len bytes, 16..64) is copied; with @salt == NULL a
 * fresh random salt of @salt_len bytes is drawn (32 is a good length).  Blocks for one PBKDF2 run.
 * *@out is written only on success.
 * Errors: LS_ERR_UNSUPPORTED (curve), LS_ERR_INVALID_ARG (ind), LS_ERR_BAD_LENGTH (salt or
 * password length), LS_ERR_RANDOM, LS_ERR_CRYPTO; LS_ERR_BAD_POINT in the 2^-250 case where the
 * password maps to the identity (pick another salt).
 */
int ls_sespake_verifier_make(ls_curve curve, unsigned ind, const uint8_t *salt, size_t salt_len,
                             const void *password, size_t password_len, ls_sespake_verifier *out);

/*
 * Checks a verifier loaded from storage or received at registration: LS_ERR_MALFORMED for a wrong
 * version, ind, salt length or non-zero unused bytes; LS_ERR_UNSUPPORTED for the curve;
 * LS_ERR_BAD_POINT when Q_PW is not a point of the curve (or is the all-zero encoding).
 */
int ls_sespake_verifier_check(const ls_sespake_verifier *verifier);

/* ---------------------------------------------------------------------------------------------
 * The exchange
 * ------------------------------------------------------------------------------------------- */

typedef struct ls_sespake_ctx ls_sespake_ctx;

/*
 * Party A.  @curve, @ind, @salt come from the server (its hello); @password is the user's.
 * Runs PBKDF2 and Q_PW = F * Q_ind now (blocks ~8 ms), keeps Q_PW and forgets the password.
 * @id_a/@id_b (0..LS_SESPAKE_ID_MAX bytes each; NULL allowed with length 0) are copied.
 * On success *@out owns a new context (free with ls_sespake_free()); on failure *@out is untouched.
 * Errors: as ls_sespake_verifier_make(), plus LS_ERR_BAD_LENGTH for an ID, LS_ERR_NOMEM.
 */
int ls_sespake_client_new(ls_curve curve, unsigned ind, const uint8_t *salt, size_t salt_len,
                          const void *password, size_t password_len, const uint8_t *id_a,
                          size_t id_a_len, const uint8_t *id_b, size_t id_b_len,
                          ls_sespake_ctx **out);

/*
 * A, step 1: draws alpha and writes u1 (ls_sespake_point_size() bytes) to @u1_out, which holds
 * @u1_cap bytes; *@u1_len gets the length.  Call once, right after ls_sespake_client_new().
 * Errors: LS_ERR_STATE, LS_ERR_BAD_LENGTH (@u1_cap too small), LS_ERR_RANDOM, LS_ERR_CRYPTO.
 */
int ls_sespake_client_start(ls_sespake_ctx *ctx, uint8_t *u1_out, size_t u1_cap, size_t *u1_len);

/*
 * A, step 2: takes the server's u2 and the caller's DATA_A (0..LS_SESPAKE_DATA_MAX bytes, copied:
 * MAC_B covers it too), derives K and writes MAC_A to @mac_a_out.
 * Errors: LS_ERR_STATE; LS_ERR_BAD_LENGTH (u2 length, DATA_A too long); LS_ERR_BAD_POINT (u2).
 */
int ls_sespake_client_finish(ls_sespake_ctx *ctx, const uint8_t *u2, size_t u2_len,
                             const uint8_t *data_a, size_t data_a_len,
                             uint8_t mac_a_out[static LS_SESPAKE_MAC_SIZE]);

/*
 * A, step 3: checks the server's DATA_B and MAC_B (@mac_b_len must be 32).  On LS_OK the exchange
 * is complete and ls_sespake_key() gives K; the caller then records the success in its counters
 * (ls_sespake_counters_success()).
 * Errors: LS_ERR_STATE; LS_ERR_BAD_LENGTH (DATA_B too long, MAC length); LS_ERR_AUTH_FAILED
 * (MAC_B wrong: wrong password on either side, tampering, or a degenerate exchange).
 */
int ls_sespake_client_confirm(ls_sespake_ctx *ctx, const uint8_t *data_b, size_t data_b_len,
                              const uint8_t *mac_b, size_t mac_b_len);

/*
 * Party B, from the stored @verifier (checked as by ls_sespake_verifier_check(), whose errors it
 * returns) and the two IDs (copied; 0..LS_SESPAKE_ID_MAX bytes).  Cheap: no PBKDF2.
 * On success *@out owns a new context; on failure *@out is untouched.
 */
int ls_sespake_server_new(const ls_sespake_verifier *verifier, const uint8_t *id_a, size_t id_a_len,
                          const uint8_t *id_b, size_t id_b_len, ls_sespake_ctx **out);

/*
 * B, step 1: takes the client's u1, draws beta, derives K and writes u2 to @u2_out (@u2_cap
 * bytes); *@u2_len gets the length.
 * Errors: LS_ERR_STATE; LS_ERR_BAD_LENGTH (u1 length, @u2_cap too small); LS_ERR_BAD_POINT (u1);
 * LS_ERR_RANDOM; LS_ERR_CRYPTO.
 */
int ls_sespake_server_respond(ls_sespake_ctx *ctx, const uint8_t *u1, size_t u1_len,
                              uint8_t *u2_out, size_t u2_cap, size_t *u2_len);

/*
 * B, step 2: checks the client's DATA_A and MAC_A (@mac_a_len must be 32) first; only when it
 * verifies, writes MAC_B over DATA_A || @data_b (0..LS_SESPAKE_DATA_MAX bytes) to @mac_b_out.
 * On LS_OK the exchange is complete for B and ls_sespake_key() gives K; the caller records the
 * success in its counters before sending MAC_B.
 * Errors: LS_ERR_STATE; LS_ERR_BAD_LENGTH (DATA too long, MAC length); LS_ERR_AUTH_FAILED
 * (MAC_A wrong: wrong password, tampering, or a degenerate exchange) - nothing is written then.
 */
int ls_sespake_server_confirm(ls_sespake_ctx *ctx, const uint8_t *data_a, size_t data_a_len,
                              const uint8_t *mac_a, size_t mac_a_len, const uint8_t *data_b,
                              size_t data_b_len, uint8_t mac_b_out[static LS_SESPAKE_MAC_SIZE]);

/*
 * Copies K (32 bytes) to @key_out.  Only after a successful ls_sespake_client_confirm() or
 * ls_sespake_server_confirm(): LS_ERR_STATE before that or after a failure.  The caller owns the
 * copy and wipes it (ls_wipe()) when done.
 */
int ls_sespake_key(const ls_sespake_ctx *ctx, uint8_t key_out[static LS_SESPAKE_KEY_SIZE]);

/* Wipes every secret of @ctx and frees it.  NULL is accepted. */
void ls_sespake_free(ls_sespake_ctx *ctx);

/* ---------------------------------------------------------------------------------------------
 * RFC 8133 attempt counters (section 3.2 and protocol steps 1, 2, 6, 7)
 *
 * Each side keeps, per password (per account on the server), three counters that the CALLER
 * persists; these functions only do the arithmetic:
 *   C1 - attempts left before consecutive failures block the password (reset on success),
 *   C2 - failures left over the password's lifetime (each attempt takes one, a success gives it
 *        back),
 *   C3 - runs left with this password (never given back: at 0 the password must be changed).
 * Protocol for the caller:
 *   1. at registration / password change: ls_sespake_counters_init(); persist.
 *   2. before every exchange: ls_sespake_counters_begin(); on LS_ERR_ATTEMPTS_EXHAUSTED stop
 *      (the server answers as for a failure); on LS_OK PERSIST THE DECREMENTED COUNTERS (durably,
 *      e.g. a committed transaction) BEFORE sending or processing any SESPAKE message.  Thus a
 *      crash, a dropped connection or a wrong MAC leaves the attempt counted, and nothing needs
 *      doing on failure.
 *   3. after a successful confirm (server: MAC_A verified, before MAC_B goes out; client: MAC_B
 *      verified): ls_sespake_counters_success(); persist.
 * Which counter reached zero tells why: C3 = 0 means the password expired, otherwise the account
 * is locked (an administrator re-runs ls_sespake_counters_init()).
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	uint32_t clim1; /* 3..5 */
	uint32_t clim2; /* 7..20 */
	uint32_t clim3; /* 1000..100000 */
} ls_sespake_limits;

#define LS_SESPAKE_LIMITS_DEFAULT ((ls_sespake_limits){.clim1 = 3, .clim2 = 7, .clim3 = 10000})

typedef struct {
	uint32_t c1;
	uint32_t c2;
	uint32_t c3;
} ls_sespake_counters;

/* LS_OK when every limit is in its RFC 8133 range, LS_ERR_INVALID_ARG otherwise. */
int ls_sespake_limits_check(const ls_sespake_limits *limits);

/* Sets C1..C3 to CLim1..CLim3.  LS_ERR_INVALID_ARG (limits out of range) leaves *@out untouched. */
int ls_sespake_counters_init(const ls_sespake_limits *limits, ls_sespake_counters *out);

/*
 * Starts an attempt: LS_ERR_ATTEMPTS_EXHAUSTED when any counter is 0, else decrements all three.
 * LS_ERR_INVALID_ARG for limits out of range or a counter above its limit (corrupt storage, or
 * limits lowered: re-init).  *@c changes only on LS_OK.
 */
int ls_sespake_counters_begin(const ls_sespake_limits *limits, ls_sespake_counters *c);

/*
 * Records a successful exchange: C1 := CLim1, C2 := C2 + 1 (never above CLim2).  C3 is unchanged.
 * LS_ERR_INVALID_ARG as for ls_sespake_counters_begin(); *@c changes only on LS_OK.
 */
int ls_sespake_counters_success(const ls_sespake_limits *limits, ls_sespake_counters *c);

/* ---------------------------------------------------------------------------------------------
 * Test hooks: compiled only into the test variant of the core library (LS11_TEST_HOOKS)
 * ------------------------------------------------------------------------------------------- */
#ifdef LS11_TEST_HOOKS
/*
 * Fixes alpha (client) or beta (server) to @scalar_le (little-endian, ls_curve_size() bytes,
 * 1 <= value < q) instead of drawing it.  Only before ls_sespake_client_start() /
 * ls_sespake_server_respond(): LS_ERR_STATE after.  LS_ERR_BAD_LENGTH, LS_ERR_INVALID_ARG.
 */
int ls_sespake_test_set_scalar(ls_sespake_ctx *ctx, const uint8_t *scalar_le, size_t len);

/* True when the context holds no secret bytes any more (after a failure). */
bool ls_sespake_test_is_wiped(const ls_sespake_ctx *ctx);

/*
 * Runs @count constant-time scalar multiplications of a random scalar by the base point of
 * @curve, on the same group objects SESPAKE uses: the raw baseline of bench/bench-sespake.c.
 */
int ls_sespake_test_point_mul(ls_curve curve, unsigned count);
#endif

#endif /* LS11_CORE_SESPAKE_H */
