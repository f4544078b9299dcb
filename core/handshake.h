/*
 * LS11CLOUD - the connection handshake (ARCHITECTURE.md section 4 items 2, 3 and 5;
 * docs/protocol-handshake.md has every message byte by byte).
 *
 * Two message-oriented state machines, one per role, and a thin blocking driver for each.
 * A connection starts with plaintext messages, one per frame:
 *
 *   purpose "session" (also what `duplicate` does; a password change is an RPC afterwards):
 *     C -> S  CLIENT_HELLO  magic, version range, client nonce, purpose, nickname
 *     S -> C  SERVER_HELLO  chosen version, server nonce, SESPAKE (curve, ind, salt)
 *     C -> S  U1            SESPAKE u1
 *     S -> C  U2            SESPAKE u2
 *     C -> S  MAC_A         DATA_A = transcript hash, MAC_A
 *     S -> C  MAC_B         DATA_B = transcript hash, MAC_B
 *   then both ends hold an ls_channel keyed from the SESPAKE key K and both nonces.
 *
 *   purpose "register":
 *     C -> S  CLIENT_HELLO
 *     S -> C  SERVER_HELLO  chosen version, server nonce, identity key, signature of the hellos
 *     C -> S  REG_REQUEST   ephemeral key, then a channel record (ephemeral-static VKO):
 *                           nickname, SESPAKE verifier, registration code
 *     S -> C  REG_RESULT    a channel record: the server's decision
 *
 * Either side may answer with an ERROR message instead (version mismatch, malformed message,
 * busy, authentication failed, ...), after which the connection is over.
 *
 * Using it: create a handshake for a role, then call ls_handshake_step() with each message
 * received (a client's first call has no input); send what it leaves in @out; stop when *@done.
 * Nothing here does I/O except the two drivers at the end.
 *
 * Unknown nicknames and locked accounts.  The server gives an unknown nickname plausible
 * parameters derived from its secret (always the same for one nickname) and a fake verifier,
 * runs SESPAKE to the end and fails at MAC_A exactly as for a wrong password.  A locked account
 * (RFC 8133 counters exhausted) fails the same way, even with the right password: the client
 * cannot tell "wrong password", "no such account" and "locked" apart, by design (telling would
 * let anyone probe which nicknames exist and which accounts are locked).  The server side knows
 * the precise reason (ls_handshake_get_reason()).
 *
 * Errors: every function returns LS_OK or a negative LS_ERR_* code (core/errors.h), and the
 * handshake keeps a reason that names the cause precisely (ls_handshake_get_reason(),
 * ls_handshake_reason_string()).  A failed step ends the handshake for good: later steps
 * return LS_ERR_STATE.  A malformed or unexpected message ends it before any callback that
 * changes state (counters, store) is called.
 *
 * Secrets: the password (client), the SESPAKE state, the key K, the ephemeral key and the
 * server secret are wiped as soon as they are no longer needed and when the handshake is freed.
 *
 * Threads: a handshake is used by one thread at a time; different handshakes are independent.
 * Callbacks run inside ls_handshake_step(), on its thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_HANDSHAKE_H
#define LS11_CORE_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "channel.h"
#include "crypto.h"
#include "errors.h"
#include "sespake.h"
#include "transport.h"

#define LS_HANDSHAKE_MAGIC "LS11"
#define LS_HANDSHAKE_MAGIC_SIZE 4
/* Protocol versions this implementation speaks. */
#define LS_HANDSHAKE_VERSION_MIN 1
#define LS_HANDSHAKE_VERSION_MAX 1
#define LS_HANDSHAKE_NONCE_SIZE 32
#define LS_HANDSHAKE_NICKNAME_MIN 3
#define LS_HANDSHAKE_NICKNAME_MAX 64
/* Largest handshake message (a frame payload); anything longer is refused unread. */
#define LS_HANDSHAKE_MAX_MESSAGE 4096
/* Hello extensions: empty in version 1, up to this many bytes accepted (and authenticated). */
#define LS_HANDSHAKE_EXT_MAX 256
/* Registration code: 0..LS_HANDSHAKE_CODE_MAX bytes. */
#define LS_HANDSHAKE_CODE_MAX 128
/* The server secret behind the unknown-nickname parameters. */
#define LS_HANDSHAKE_SECRET_MIN 32
#define LS_HANDSHAKE_SECRET_MAX 64
/* Streebog-256 of curve id || LE(x) || LE(y) of the server identity key. */
#define LS_HANDSHAKE_FINGERPRINT_SIZE 32
/* Salt length of the verifiers our client makes, and of the unknown-nickname parameters. */
#define LS_HANDSHAKE_SALT_SIZE 32
/* Curve and point index of the verifiers our client makes, and of unknown nicknames. */
#define LS_HANDSHAKE_DEFAULT_CURVE LS_CURVE_TC26_256_A
#define LS_HANDSHAKE_DEFAULT_IND 1

typedef enum {
	LS_HANDSHAKE_SESSION = 1,  /* SESPAKE login: the module, `duplicate`, account RPCs */
	LS_HANDSHAKE_REGISTER = 2, /* create an account: send a verifier to the server */
} ls_handshake_purpose;

/* The server's answer to a registration request (on the wire as one byte). */
typedef enum {
	LS_HANDSHAKE_REG_OK = 0,             /* the account exists now */
	LS_HANDSHAKE_REG_CLOSED = 1,         /* registration is closed on this server */
	LS_HANDSHAKE_REG_CODE_INVALID = 2,   /* a registration code is required, or it is wrong */
	LS_HANDSHAKE_REG_NICKNAME_TAKEN = 3, /* an account of that nickname exists */
	LS_HANDSHAKE_REG_SERVER_ERROR = 4,   /* the server could not store the account */
} ls_handshake_reg_status;

/* Why a handshake failed: precise, for logs and for the messages users read. */
typedef enum {
	LS_HS_NONE = 0, /* running, or succeeded */

	/* A message of the peer was refused (a broken or hostile peer, or altered bytes). */
	LS_HS_MALFORMED,     /* truncated, trailing bytes, a length or value out of range */
	LS_HS_TOO_LARGE,     /* longer than LS_HANDSHAKE_MAX_MESSAGE */
	LS_HS_UNEXPECTED,    /* not the message expected at this point (out of order) */
	LS_HS_BAD_MAGIC,     /* the client hello does not start with "LS11" */
	LS_HS_BAD_VERSION,   /* a range with min 0 or min > max; a chosen version not offered */
	LS_HS_BAD_NICKNAME,  /* not 3..64 of ASCII letters, digits, '.', '_', '-', '@' */
	LS_HS_BAD_PURPOSE,   /* unknown purpose, or the server's echo differs from ours */
	LS_HS_UNKNOWN_CURVE, /* a curve id we do not know or do not accept (test curves) */
	LS_HS_BAD_IND,       /* SESPAKE point index not 1..3 */
	LS_HS_BAD_SALT,      /* salt length not 16..64 */
	LS_HS_BAD_POINT,     /* a point (u1, u2, identity key, ephemeral key) not on the curve */
	LS_HS_BAD_SIGNATURE, /* the server's signature of the hellos does not verify */
	LS_HS_BAD_VERIFIER,  /* registration: the verifier sent is not valid */
	LS_HS_BAD_RECORD,    /* registration: the channel record does not open (tampered) */

	/* Negotiation and authentication. */
	LS_HS_VERSION_MISMATCH,    /* no common version (see ls_handshake_peer_versions()) */
	LS_HS_AUTH_FAILED,         /* wrong password, unknown nickname or locked account */
	LS_HS_SERVER_AUTH_FAILED,  /* client: MAC_B wrong - the server does not hold our verifier */
	LS_HS_TRANSCRIPT_MISMATCH, /* server: the client saw other hellos (altered in flight) */
	LS_HS_UNKNOWN_ACCOUNT,     /* server: no account of that nickname */
	LS_HS_ACCOUNT_LOCKED,      /* server: the account's attempt counters are exhausted */
	LS_HS_LOCAL_LOCKED,        /* client: our own RFC 8133 counters are exhausted */

	/* Trust and policy. */
	LS_HS_SERVER_KEY_REFUSED,  /* the trust callback refused the server's identity key */
	LS_HS_SERVER_KEY_MISMATCH, /* the server's key is not the pinned one */
	LS_HS_REGISTRATION_CLOSED,
	LS_HS_REGISTRATION_CODE,   /* registration code required or wrong */
	LS_HS_NICKNAME_TAKEN,
	LS_HS_REGISTRATION_ERROR,  /* the server could not store the account */
	LS_HS_PURPOSE_UNSUPPORTED, /* the server does not offer this purpose (registration) */

	/* The peer's ERROR message. */
	LS_HS_PEER_MALFORMED,  /* the peer refused one of our messages as malformed */
	LS_HS_PEER_UNEXPECTED, /* the peer received one of our messages out of order */
	LS_HS_PEER_BUSY,       /* the server is overloaded: try again later */
	LS_HS_PEER_INTERNAL,   /* the server failed internally */
	LS_HS_PEER_ABORTED,    /* server: the client gave up (it refused our key, for instance) */
	LS_HS_PEER_ERROR,      /* an error code this version does not know */

	/* Local. */
	LS_HS_CALLBACK,  /* a callback failed (store, counters); its code is the status */
	LS_HS_TRANSPORT, /* the driver's transport failed or timed out; the status says how */
	LS_HS_INTERNAL,  /* crypto backend or memory; the status says which */
} ls_handshake_reason;

typedef struct ls_handshake ls_handshake;

/* ---------------------------------------------------------------------------------------------
 * Client
 * ------------------------------------------------------------------------------------------- */

/*
 * Registration: decides whether to trust the server's identity key.  @fingerprint is the key's
 * (LS_HANDSHAKE_FINGERPRINT_SIZE bytes); @pinned is the pinned fingerprint of the parameters, or
 * NULL when none was given (trust on first use: show the fingerprint to the user).  Return true
 * to accept.  A pinned fingerprint that differs refuses the key whatever this returns (the
 * callback is still called, so that it can show both).
 */
typedef bool (*ls_handshake_trust_fn)(void *user_data, ls_curve curve,
                                      const uint8_t fingerprint[LS_HANDSHAKE_FINGERPRINT_SIZE],
                                      const uint8_t *pinned);

/*
 * Optional RFC 8133 client-side counters (ls_sespake_counters_*; the caller persists them).
 * begin: called before U1 is sent; LS_OK lets the attempt go on, LS_ERR_ATTEMPTS_EXHAUSTED stops
 * it (reason LS_HS_LOCAL_LOCKED), any other code fails the handshake (LS_HS_CALLBACK).
 * success: called once MAC_B verified, before the handshake reports success.
 */
typedef int (*ls_handshake_client_counter_fn)(void *user_data);

typedef struct {
	ls_handshake_purpose purpose;
	const char *nickname;   /* copied; checked by ls_handshake_nickname_check() */
	const void *password;   /* 1..LS_SESPAKE_PW_MAX bytes; copied, wiped once used */
	size_t password_len;

	/* Registration only. */
	ls_curve curve;                    /* of the new verifier; 0: LS_HANDSHAKE_DEFAULT_CURVE */
	unsigned ind;                      /* 1..3; 0: LS_HANDSHAKE_DEFAULT_IND */
	const uint8_t *code;               /* registration code, 0..LS_HANDSHAKE_CODE_MAX bytes */
	size_t code_len;
	const uint8_t *pinned_fingerprint; /* LS_HANDSHAKE_FINGERPRINT_SIZE bytes, or NULL */
	ls_handshake_trust_fn trust_server_key; /* required unless a fingerprint is pinned */

	/* Session only, optional (both or neither). */
	ls_handshake_client_counter_fn begin_attempt;
	ls_handshake_client_counter_fn record_success;

	void *user_data; /* passed to the callbacks */
} ls_handshake_client_params;

/*
 * A client handshake.  Everything in @params is checked and copied (callbacks and user_data are
 * kept as they are).  For registration the SESPAKE verifier is computed now, with a fresh
 * random salt (one PBKDF2 run, ~8 ms), and the password is wiped at once.
 * Errors (nothing allocated then): LS_ERR_INVALID_ARG (NULL, unknown purpose, ind out of range,
 * no trust decision possible, only one of the two counter callbacks); LS_ERR_MALFORMED /
 * LS_ERR_BAD_LENGTH (nickname, see ls_handshake_nickname_check()); LS_ERR_BAD_LENGTH (password,
 * code); LS_ERR_UNSUPPORTED (curve); LS_ERR_NOMEM; the verifier's errors.
 */
int ls_handshake_client_new(const ls_handshake_client_params *params, ls_handshake **out);

/* ---------------------------------------------------------------------------------------------
 * Server
 * ------------------------------------------------------------------------------------------- */

/*
 * Looks @nickname up in the store: LS_OK with *@out filled (the account's verifier);
 * LS_ERR_NOT_FOUND for no such account (the handshake then goes on with fake parameters); any
 * other code fails the handshake (the client gets an "internal error" message).  Called once
 * per session hello, for known and unknown nicknames alike.
 */
typedef int (*ls_handshake_lookup_fn)(void *user_data, const char *nickname,
                                      ls_sespake_verifier *out);

/*
 * Begins an RFC 8133 attempt: called when a well-formed U1 arrived, before U2 is sent, with
 * @known false for a nickname the lookup did not find (nothing to count; do the same work, e.g.
 * per-source throttling, so that both cases take the same time).  For a known account: run
 * ls_sespake_counters_begin() and PERSIST the decremented counters before returning LS_OK.
 * LS_ERR_ATTEMPTS_EXHAUSTED: locked - the exchange goes on and fails at MAC_A as for a wrong
 * password.  Any other code fails the handshake at once (the client gets "internal error").
 */
typedef int (*ls_handshake_begin_fn)(void *user_data, const char *nickname, bool known);

/*
 * Records a success (ls_sespake_counters_success(), persisted): called when MAC_A verified,
 * before MAC_B is sent.  A code other than LS_OK fails the handshake (no MAC_B goes out).
 */
typedef int (*ls_handshake_success_fn)(void *user_data, const char *nickname);

/*
 * Registration: decides on a request whose verifier is valid (ls_sespake_verifier_check()
 * passed) and stores the account when it accepts (with fresh counters).  @code is the client's
 * registration code (@code_len 0..LS_HANDSHAKE_CODE_MAX bytes, NULL when empty): compare it in
 * constant time.  The answer goes to the client as it is.
 */
typedef ls_handshake_reg_status (*ls_handshake_register_fn)(void *user_data, const char *nickname,
                                                            const ls_sespake_verifier *verifier,
                                                            const uint8_t *code, size_t code_len);

/*
 * The identity key to answer a registration hello with, asked once per registration handshake
 * on the thread that runs that step (so a server can change its key while it runs).  Returns a
 * key with the same requirements as ls_handshake_server_config.identity that outlives the
 * handshake, or NULL to keep the configured one.
 */
typedef const ls_gost_key *(*ls_handshake_identity_fn)(void *user_data);

typedef struct {
	/*
	 * The long-term identity key (GOST R 34.10-2012, with its private part, any curve but the
	 * test ones): borrowed, must outlive every handshake made with this config.  NULL: this
	 * server offers no registration.
	 */
	const ls_gost_key *identity;
	/* Optional: the current identity key (see ls_handshake_identity_fn); NULL: @identity. */
	ls_handshake_identity_fn current_identity;
	/* The secret the unknown-nickname parameters derive from (copied). */
	const uint8_t *secret;
	size_t secret_len; /* LS_HANDSHAKE_SECRET_MIN..LS_HANDSHAKE_SECRET_MAX */
	/* Parameters of unknown nicknames: make them what real accounts mostly use. */
	ls_curve fake_curve; /* 0: LS_HANDSHAKE_DEFAULT_CURVE */
	unsigned fake_ind;   /* 0: LS_HANDSHAKE_DEFAULT_IND */

	ls_handshake_lookup_fn lookup;           /* required */
	ls_handshake_begin_fn begin_attempt;     /* required */
	ls_handshake_success_fn record_success;  /* required */
	ls_handshake_register_fn register_account; /* NULL: no registration */
	void *user_data;
} ls_handshake_server_config;

/*
 * A server handshake.  Errors (nothing allocated then): LS_ERR_INVALID_ARG (NULL, a missing
 * callback, a public-only or test-curve identity key, fake_ind out of range), LS_ERR_BAD_LENGTH
 * (secret), LS_ERR_UNSUPPORTED (fake_curve), LS_ERR_NOMEM.
 */
int ls_handshake_server_new(const ls_handshake_server_config *config, ls_handshake **out);

/* ---------------------------------------------------------------------------------------------
 * Running it
 * ------------------------------------------------------------------------------------------- */

/*
 * Advances the handshake with one received message @in[@in_len] (a frame payload; NULL and 0
 * for the client's first call, which writes the hello).  @out is emptied, then receives the one
 * message to send, if any (its cap must be at least LS_HANDSHAKE_MAX_MESSAGE); send it as one
 * frame.  *@done becomes true when nothing more is to be received: after success, and after a
 * failure.
 *
 * Returns LS_OK while the handshake runs or when it has just succeeded (*@done true), or the
 * error that ended it; then @out may still hold a final message for the peer (an ERROR, or a
 * registration refusal): send it before closing.  Errors: LS_ERR_MALFORMED, LS_ERR_TRUNCATED,
 * LS_ERR_TRAILING_DATA, LS_ERR_TOO_LARGE (a bad message), LS_ERR_UNSUPPORTED (curve),
 * LS_ERR_BAD_POINT, LS_ERR_VERIFY_FAILED (server signature), LS_ERR_AUTH_FAILED,
 * LS_ERR_ATTEMPTS_EXHAUSTED (client counters), LS_ERR_RECORD_AUTH, LS_ERR_REFUSED (version
 * mismatch, trust refusal, registration refused, the peer's ERROR message), a callback's code,
 * LS_ERR_NOMEM / LS_ERR_CRYPTO / LS_ERR_RANDOM.  The reason says which exactly.
 * LS_ERR_STATE after the end; LS_ERR_INVALID_ARG for bad arguments (nothing changes then).
 */
int ls_handshake_step(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out,
                      bool *done);

/*
 * After a successful session handshake: hands the channel to the caller (free it with
 * ls_channel_free()).  LS_ERR_STATE before success, for a registration, or when already taken.
 */
int ls_handshake_take_channel(ls_handshake *hs, ls_channel **out);

/* LS_OK while running or after success; the error that ended the handshake otherwise. */
int ls_handshake_status(const ls_handshake *hs);
/* The precise reason of a failure (LS_HS_NONE otherwise). */
ls_handshake_reason ls_handshake_get_reason(const ls_handshake *hs);
/* A static English sentence for @reason; never NULL. */
const char *ls_handshake_reason_string(ls_handshake_reason reason);
/* True once the handshake ended, successfully or not. */
bool ls_handshake_done(const ls_handshake *hs);

/* The nickname (client: ours; server: the client's, once its hello was read; "" before). */
const char *ls_handshake_nickname(const ls_handshake *hs);
/* The purpose (server: 0 until the hello was read). */
ls_handshake_purpose ls_handshake_purpose_of(const ls_handshake *hs);
/* The negotiated version, 0 before it is known. */
unsigned ls_handshake_version(const ls_handshake *hs);
/*
 * The peer's version range: on the client after LS_HS_VERSION_MISMATCH, the server's; on the
 * server once the hello was read, the client's.  LS_ERR_STATE when not known.
 */
int ls_handshake_peer_versions(const ls_handshake *hs, unsigned *min, unsigned *max);
/* Client, registration: the server key's fingerprint once its hello came; LS_ERR_STATE before. */
int ls_handshake_server_fingerprint(const ls_handshake *hs,
                                    uint8_t out[static LS_HANDSHAKE_FINGERPRINT_SIZE]);

/* Wipes every secret and frees @hs (and a channel not taken).  NULL is accepted. */
void ls_handshake_free(ls_handshake *hs);

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */

/*
 * LS_OK when @nickname is 3..64 characters of ASCII letters, digits, '.', '_', '-' and '@';
 * LS_ERR_BAD_LENGTH for a length out of range, LS_ERR_MALFORMED for another character,
 * LS_ERR_INVALID_ARG for NULL.  Nicknames are compared exactly (case matters).
 */
int ls_handshake_nickname_check(const char *nickname);

/*
 * The fingerprint of an identity key as clients see it: Streebog-256(curve id || LE(x) || LE(y)),
 * the bytes of the server hello's key fields.  For the operator to publish (pinning).
 */
int ls_handshake_key_fingerprint(const ls_gost_key *key,
                                 uint8_t out[static LS_HANDSHAKE_FINGERPRINT_SIZE]);

/*
 * Writes the ERROR "busy" message to @out (emptied first): for a server that refuses a
 * connection before creating a handshake (too many handshakes at once, per-source throttling).
 */
int ls_handshake_busy_message(ls_buf *out);

/* ---------------------------------------------------------------------------------------------
 * Blocking drivers
 * ------------------------------------------------------------------------------------------- */

/*
 * Run the whole handshake over @t: send, receive and step until done, within @timeout_ms for the
 * whole exchange (LS_TRANSPORT_FOREVER: no limit).  Frames longer than LS_HANDSHAKE_MAX_MESSAGE
 * are refused (LS_HS_TOO_LARGE; the transport's own cap bounds what is read).  On failure the
 * final message, if any, is sent (best effort).  Returns what the last step returned, or the
 * transport's error (LS_ERR_TIMEOUT, LS_ERR_EOF, LS_ERR_IO, ...; reason LS_HS_TRANSPORT).  The
 * transport stays the caller's: on success the channel continues on it.
 * LS_ERR_INVALID_ARG when the handshake is of the other role.
 */
int ls_handshake_client_run(ls_handshake *hs, ls_transport *t, int timeout_ms);
int ls_handshake_server_run(ls_handshake *hs, ls_transport *t, int timeout_ms);

/* ---------------------------------------------------------------------------------------------
 * Test hooks: compiled only into the test variant of the core library (LS11_TEST_HOOKS)
 * ------------------------------------------------------------------------------------------- */
#ifdef LS11_TEST_HOOKS
/*
 * Makes @hs claim to speak versions @min..@max (1..65535) instead of LS_HANDSHAKE_VERSION_MIN..
 * MAX, all encoded as version 1: for negotiation tests.  Before the first step only.
 */
int ls_handshake_test_set_versions(ls_handshake *hs, unsigned min, unsigned max);
/* Fixes our nonce (instead of a random one).  Before the first step only. */
int ls_handshake_test_set_nonce(ls_handshake *hs, const uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE]);
/*
 * Fixes our SESPAKE scalar (alpha or beta, as ls_sespake_test_set_scalar()) and, on a
 * registering client, the ephemeral VKO private key (little-endian, curve size bytes; the
 * first bytes are used on a 256-bit curve).  Before the first step only.
 */
int ls_handshake_test_set_scalar(ls_handshake *hs, const uint8_t *scalar_le, size_t len);
/* True when @hs holds no password, SESPAKE state, key or ephemeral key any more. */
bool ls_handshake_test_is_wiped(const ls_handshake *hs);
#endif

#endif /* LS11_CORE_HANDSHAKE_H */
