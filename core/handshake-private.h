/*
 * LS11CLOUD - what the handshake sources share: the state, the wire constants and the message
 * codec (core/handshake-msg.c).  Private to core/handshake-*.c and the fuzz target.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_HANDSHAKE_PRIVATE_H
#define LS11_CORE_HANDSHAKE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "channel.h"
#include "crypto.h"
#include "handshake.h"
#include "sespake.h"

/* Message types: the first byte of every message but the client hello (which starts "LS11"). */
enum {
	HS_MSG_SERVER_HELLO = 0x02,
	HS_MSG_U1 = 0x03,
	HS_MSG_U2 = 0x04,
	HS_MSG_MAC_A = 0x05,
	HS_MSG_MAC_B = 0x06,
	HS_MSG_REG_REQUEST = 0x07,
	HS_MSG_REG_RESULT = 0x08,
	HS_MSG_ERROR = 0x0f,
};

/* Codes of the ERROR message. */
enum {
	HS_ERROR_MALFORMED = 1,
	HS_ERROR_VERSION_MISMATCH = 2,
	HS_ERROR_BAD_NICKNAME = 3,
	HS_ERROR_PURPOSE_UNSUPPORTED = 4,
	HS_ERROR_BUSY = 5,
	HS_ERROR_INTERNAL = 6,
	HS_ERROR_AUTH_FAILED = 7,
	HS_ERROR_UNEXPECTED = 8,
	HS_ERROR_ABORTED = 9,
};

/* type, code, server version min, max */
#define HS_ERROR_SIZE 6
/* type, DATA, MAC */
#define HS_MAC_MSG_SIZE (1 + 32 + LS_SESPAKE_MAC_SIZE)
#define HS_TH_SIZE 32
/* ID_B of SESPAKE (ID_A is the nickname). */
#define HS_ID_B "LS11CLOUD"

/* Labels (docs/protocol-handshake.md section 3). */
#define HS_LABEL_TRANSCRIPT "LS11CLOUD handshake v1 transcript"
#define HS_LABEL_SIGNATURE "LS11CLOUD handshake v1 server signature"
#define HS_LABEL_UKM "LS11CLOUD handshake v1 register ukm"
#define HS_LABEL_REGISTER "LS11CLOUD handshake v1 register key"
#define HS_LABEL_FAKE_SALT "LS11CLOUD handshake v1 fake salt"
#define HS_LABEL_FAKE_QPW "LS11CLOUD handshake v1 fake Q_PW"

#define HS_UKM_SIZE 16

enum hs_state {
	HS_CLIENT_START,
	HS_CLIENT_WAIT_SH,
	HS_CLIENT_WAIT_U2,
	HS_CLIENT_WAIT_MAC_B,
	HS_CLIENT_WAIT_RESULT,
	HS_SERVER_WAIT_CH,
	HS_SERVER_WAIT_U1,
	HS_SERVER_WAIT_MAC_A,
	HS_SERVER_WAIT_REG,
	HS_DONE,
	HS_FAILED,
};

struct ls_handshake {
	bool server;
	enum hs_state state;
	int status;                 /* LS_OK or the error that ended it */
	ls_handshake_reason reason; /* LS_HS_NONE or why it ended */
	ls_handshake_purpose purpose;
	char nickname[LS_HANDSHAKE_NICKNAME_MAX + 1];
	unsigned my_min, my_max;     /* versions we speak */
	unsigned peer_min, peer_max; /* the peer's, when peer_versions */
	bool peer_versions;
	unsigned version; /* negotiated, 0 before */
	uint8_t cn[LS_HANDSHAKE_NONCE_SIZE];
	uint8_t sn[LS_HANDSHAKE_NONCE_SIZE];
	bool nonce_fixed; /* test hook: our nonce is already in cn/sn */
	ls_buf ch;        /* the client hello, kept until the transcript hash */
	uint8_t th[HS_TH_SIZE];
	ls_sespake_ctx *sp;
	ls_channel *channel; /* session: after success; registration: during */
	bool channel_taken;
	ls_sespake_verifier verifier; /* client: made for registration; server: the account's */
	void *user_data;

	/* Client. */
	uint8_t *password;
	size_t password_len;
	uint8_t code[LS_HANDSHAKE_CODE_MAX];
	size_t code_len;
	uint8_t pinned[LS_HANDSHAKE_FINGERPRINT_SIZE];
	bool has_pin;
	uint8_t fingerprint[LS_HANDSHAKE_FINGERPRINT_SIZE];
	bool has_fingerprint;
	ls_handshake_trust_fn trust;
	ls_handshake_client_counter_fn client_begin;
	ls_handshake_client_counter_fn client_success;

	/* Server. */
	const ls_gost_key *identity;
	ls_handshake_identity_fn identity_fn;
	uint8_t secret[LS_HANDSHAKE_SECRET_MAX];
	size_t secret_len;
	ls_curve fake_curve;
	unsigned fake_ind;
	bool known;      /* the lookup found the nickname */
	bool attempt_ok; /* begin_attempt allowed this attempt */
	ls_handshake_lookup_fn lookup;
	ls_handshake_begin_fn begin;
	ls_handshake_success_fn success;
	ls_handshake_register_fn reg;

#ifdef LS11_TEST_HOOKS
	uint8_t test_scalar[64];
	size_t test_scalar_len;
#endif
};

/* ---- decoded messages --------------------------------------------------------------------- */

struct hs_client_hello {
	unsigned ver_min, ver_max;
	uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE];
	uint8_t purpose;
	char nickname[LS_HANDSHAKE_NICKNAME_MAX + 1];
};

struct hs_server_hello {
	unsigned version;
	uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE];
	uint8_t purpose;
	uint8_t curve;
	/* session */
	uint8_t ind;
	uint8_t salt[LS_SESPAKE_SALT_MAX];
	size_t salt_len;
	/* register */
	uint8_t key[LS_SESPAKE_MAX_POINT];
	size_t key_len;
	uint8_t sig[LS_SESPAKE_MAX_POINT];
	size_t sig_len;
	size_t signed_len; /* bytes of the message before the signature field */
};

struct hs_error_msg {
	uint8_t code;
	unsigned ver_min, ver_max;
};

/* The plaintext of the REG_REQUEST record. */
struct hs_reg_request {
	char nickname[LS_HANDSHAKE_NICKNAME_MAX + 1];
	ls_sespake_verifier verifier; /* structure checked; the point is not */
	uint8_t code[LS_HANDSHAKE_CODE_MAX];
	size_t code_len;
};

/* ---- codec (core/handshake-msg.c) ----------------------------------------------------------
 * Decoders read one whole message from a view, require full consumption, and on failure
 * return the LS_ERR code and set *why to the precise reason.  Encoders append to @out and
 * leave its status to check.
 */

/* Nickname check on @len bytes (may contain NULs, which are refused). */
int hs_nickname_check(const uint8_t *p, size_t len);

/*
 * The client hello in two parts: the prefix (magic, version range) never changes across
 * versions; the rest is read only when a common version exists.
 */
int hs_decode_client_hello_prefix(ls_buf *b, struct hs_client_hello *ch, ls_handshake_reason *why);
int hs_decode_client_hello_rest(ls_buf *b, struct hs_client_hello *ch, ls_handshake_reason *why);
void hs_encode_client_hello(ls_buf *out, unsigned ver_min, unsigned ver_max,
                            const uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE], uint8_t purpose,
                            const char *nickname);

/*
 * Checks every field: the purpose is @purpose (before the purpose-specific part is read), curve
 * known, ind, salt length, key and signature lengths.  Not the version (the caller's range).
 */
int hs_decode_server_hello(const uint8_t *p, size_t n, uint8_t purpose,
                           struct hs_server_hello *sh, ls_handshake_reason *why);
void hs_encode_server_hello_session(ls_buf *out, unsigned version,
                                    const uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE],
                                    const ls_sespake_verifier *v);
/* Everything but the signature field, which the caller appends (ls_buf_add_string). */
void hs_encode_server_hello_register(ls_buf *out, unsigned version,
                                     const uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE], uint8_t curve,
                                     const uint8_t *key, size_t key_len);

int hs_decode_error(const uint8_t *p, size_t n, struct hs_error_msg *e, ls_handshake_reason *why);
void hs_encode_error(ls_buf *out, uint8_t code, unsigned ver_min, unsigned ver_max);

/* Checks the structure and the ranges (curve, ind, salt, point size, code), not the point. */
int hs_decode_reg_request(const uint8_t *p, size_t n, struct hs_reg_request *req,
                          ls_handshake_reason *why);
void hs_encode_reg_request(ls_buf *out, const char *nickname, const ls_sespake_verifier *v,
                           const uint8_t *code, size_t code_len);

/* True for the curves an identity key may use (all GOST R 34.10-2012 ones but the test curves). */
bool hs_identity_curve_ok(ls_curve curve);

/*
 * Streebog over @label || BE32(len a) || a || BE32(len b) || b, 32 or 64 bytes (@out_len
 * chooses Streebog-256 or -512).
 */
int hs_hash2(const char *label, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
             uint8_t *out, size_t out_len);

/* ---- shared by the two roles (core/handshake.c) ------------------------------------------- */

/* Streebog-256(@curve || @key): the fingerprint of an identity key as it travels. */
int hs_fingerprint(uint8_t curve, const uint8_t *key, size_t key_len,
                   uint8_t out[static LS_HANDSHAKE_FINGERPRINT_SIZE]);

/*
 * Ends @hs with @err and @why: wipes every secret and, when @code is not 0, leaves the ERROR
 * message of that code in @out (after emptying it).  Returns @err.
 */
int hs_fail(ls_handshake *hs, ls_buf *out, int err, ls_handshake_reason why, uint8_t code);
/* Frees the SESPAKE state, the password, the verifier copy and the server secret. */
void hs_wipe_secrets(ls_handshake *hs);
/* Maps the peer's ERROR message to our reason. */
ls_handshake_reason hs_reason_of_error(uint8_t code);
/* Our nonce: random, or the test's. */
int hs_make_nonce(ls_handshake *hs, uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE]);
/* Applies the test scalar to a fresh SESPAKE context (no-op in products). */
int hs_apply_test_scalar(ls_handshake *hs, ls_curve curve);

/*
 * The registration channel key: KDF_TREE(VKO(@priv, @peer_pub, UKM), label, TH || @eph_pub),
 * UKM = the first 16 bytes of Streebog-256(label || cn || sn).  The client passes its ephemeral
 * key and the server's identity key, the server the reverse; @eph_pub is the client's.
 */
int hs_register_key(const ls_handshake *hs, const ls_gost_key *priv, const uint8_t *peer_pub,
                    const uint8_t *eph_pub, size_t n2, uint8_t key[static LS_CHANNEL_KEY_SIZE]);

int hs_client_step(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out);
int hs_server_step(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out);

#endif /* LS11_CORE_HANDSHAKE_PRIVATE_H */
