/*
 * LS11CLOUD - the handshake: what both roles share (life cycle, failure, accessors), the
 * blocking drivers and the test hooks.  The client's steps are in handshake-client.c, the
 * server's in handshake-server.c, the message codec in handshake-msg.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "handshake-private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

const char *
ls_handshake_reason_string(ls_handshake_reason reason)
{
	switch (reason) {
	case LS_HS_NONE: return "no failure";
	case LS_HS_MALFORMED: return "malformed handshake message (truncated, trailing bytes or a field out of range)";
	case LS_HS_TOO_LARGE: return "handshake message larger than the limit";
	case LS_HS_UNEXPECTED: return "handshake message out of order";
	case LS_HS_BAD_MAGIC: return "not an LS11CLOUD client (wrong magic)";
	case LS_HS_BAD_VERSION: return "invalid protocol version field";
	case LS_HS_BAD_NICKNAME: return "invalid nickname (3 to 64 of ASCII letters, digits, '.', '_', '-', '@')";
	case LS_HS_BAD_PURPOSE: return "invalid or mismatched connection purpose";
	case LS_HS_UNKNOWN_CURVE: return "unknown or unacceptable elliptic curve";
	case LS_HS_BAD_IND: return "SESPAKE point index out of range (1..3)";
	case LS_HS_BAD_SALT: return "SESPAKE salt length out of range (16..64 bytes)";
	case LS_HS_BAD_POINT: return "invalid elliptic curve point";
	case LS_HS_BAD_SIGNATURE: return "the server's signature of the handshake does not verify";
	case LS_HS_BAD_VERIFIER: return "invalid password verifier in the registration request";
	case LS_HS_BAD_RECORD: return "registration record failed authentication (tampered)";
	case LS_HS_VERSION_MISMATCH: return "no protocol version in common with the peer";
	case LS_HS_AUTH_FAILED: return "authentication failed: wrong password or nickname, or the account is locked after too many failed attempts";
	case LS_HS_SERVER_AUTH_FAILED: return "the server failed to prove it holds this account's password verifier (impostor or tampering)";
	case LS_HS_TRANSCRIPT_MISMATCH: return "authentication failed: the client saw different hello messages (altered in transit)";
	case LS_HS_UNKNOWN_ACCOUNT: return "authentication failed: no account of this nickname";
	case LS_HS_ACCOUNT_LOCKED: return "authentication refused: the account's attempt counters are exhausted (locked)";
	case LS_HS_LOCAL_LOCKED: return "this client's attempt counters for the password are exhausted";
	case LS_HS_SERVER_KEY_REFUSED: return "the server's identity key was not accepted";
	case LS_HS_SERVER_KEY_MISMATCH: return "the server's identity key does not match the pinned fingerprint";
	case LS_HS_REGISTRATION_CLOSED: return "registration is closed on this server";
	case LS_HS_REGISTRATION_CODE: return "a registration code is required, or the one given is wrong";
	case LS_HS_NICKNAME_TAKEN: return "this nickname is already registered";
	case LS_HS_REGISTRATION_ERROR: return "the server could not store the new account";
	case LS_HS_PURPOSE_UNSUPPORTED: return "the server does not offer registration";
	case LS_HS_PEER_MALFORMED: return "the peer refused one of our handshake messages as malformed";
	case LS_HS_PEER_UNEXPECTED: return "the peer received one of our handshake messages out of order";
	case LS_HS_PEER_BUSY: return "the server is busy: try again later";
	case LS_HS_PEER_INTERNAL: return "the server had an internal error";
	case LS_HS_PEER_ABORTED: return "the client abandoned the handshake";
	case LS_HS_PEER_ERROR: return "the peer reported an error unknown to this version";
	case LS_HS_CALLBACK: return "a callback (store or counters) failed";
	case LS_HS_TRANSPORT: return "the connection failed or timed out during the handshake";
	case LS_HS_INTERNAL: return "local failure (crypto backend or memory)";
	}
	return "unknown handshake failure";
}

ls_handshake_reason
hs_reason_of_error(uint8_t code)
{
	switch (code) {
	case HS_ERROR_MALFORMED: return LS_HS_PEER_MALFORMED;
	case HS_ERROR_VERSION_MISMATCH: return LS_HS_VERSION_MISMATCH;
	case HS_ERROR_BAD_NICKNAME: return LS_HS_BAD_NICKNAME;
	case HS_ERROR_PURPOSE_UNSUPPORTED: return LS_HS_PURPOSE_UNSUPPORTED;
	case HS_ERROR_BUSY: return LS_HS_PEER_BUSY;
	case HS_ERROR_INTERNAL: return LS_HS_PEER_INTERNAL;
	case HS_ERROR_AUTH_FAILED: return LS_HS_AUTH_FAILED;
	case HS_ERROR_UNEXPECTED: return LS_HS_PEER_UNEXPECTED;
	case HS_ERROR_ABORTED: return LS_HS_PEER_ABORTED;
	default: return LS_HS_PEER_ERROR;
	}
}

void
hs_wipe_secrets(ls_handshake *hs)
{
	ls_sespake_free(hs->sp);
	hs->sp = NULL;
	if (hs->password != NULL) {
		ls_wipe(hs->password, hs->password_len);
		free(hs->password);
		hs->password = NULL;
		hs->password_len = 0;
	}
	ls_wipe(&hs->verifier, sizeof(hs->verifier));
	ls_wipe(hs->secret, sizeof(hs->secret));
	hs->secret_len = 0;
	ls_wipe(hs->code, sizeof(hs->code));
	hs->code_len = 0;
	ls_buf_clear(&hs->ch);
#ifdef LS11_TEST_HOOKS
	ls_wipe(hs->test_scalar, sizeof(hs->test_scalar));
	hs->test_scalar_len = 0;
#endif
}

int
hs_fail(ls_handshake *hs, ls_buf *out, int err, ls_handshake_reason why, uint8_t code)
{
	hs_wipe_secrets(hs);
	if (!hs->channel_taken)
		ls_channel_free(hs->channel);
	hs->channel = NULL;
	hs->state = HS_FAILED;
	hs->status = err;
	hs->reason = why;
	if (out != NULL) {
		ls_buf_reset(out);
		if (code != 0)
			hs_encode_error(out, code, hs->my_min, hs->my_max);
	}
	ls_info("handshake (%s%s%s): %s (%s)", hs->server ? "server" : "client",
	        hs->nickname[0] != '\0' ? ", " : "", hs->nickname, ls_handshake_reason_string(why),
	        ls_strerror(err));
	return err;
}

int
hs_make_nonce(ls_handshake *hs, uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE])
{
	if (hs->nonce_fixed)
		return LS_OK;
	return ls_random_bytes(nonce, LS_HANDSHAKE_NONCE_SIZE);
}

int
hs_apply_test_scalar(ls_handshake *hs, ls_curve curve)
{
#ifdef LS11_TEST_HOOKS
	size_t n = ls_curve_size(curve);

	if (hs->test_scalar_len == 0 || hs->sp == NULL)
		return LS_OK;
	if (hs->test_scalar_len < n)
		return LS_ERR_BAD_LENGTH;
	return ls_sespake_test_set_scalar(hs->sp, hs->test_scalar, n);
#else
	(void)hs;
	(void)curve;
	return LS_OK;
#endif
}

int
ls_handshake_step(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out, bool *done)
{
	int r;

	ls_return_val_if_fail(done != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(hs != NULL && out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(in != NULL || in_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(ls_buf_max(out) >= LS_HANDSHAKE_MAX_MESSAGE, LS_ERR_INVALID_ARG);
	/* The client's first call writes the hello: it has no input. */
	ls_return_val_if_fail(hs->state != HS_CLIENT_START || in_len == 0, LS_ERR_INVALID_ARG);
	*done = hs->state == HS_DONE || hs->state == HS_FAILED;
	if (*done)
		return LS_ERR_STATE;
	ls_buf_reset(out);
	if (in_len > LS_HANDSHAKE_MAX_MESSAGE)
		r = hs_fail(hs, out, LS_ERR_TOO_LARGE, LS_HS_TOO_LARGE, HS_ERROR_MALFORMED);
	else if (hs->server)
		r = hs_server_step(hs, in, in_len, out);
	else
		r = hs_client_step(hs, in, in_len, out);
	*done = hs->state == HS_DONE || hs->state == HS_FAILED;
	return r;
}

int
ls_handshake_take_channel(ls_handshake *hs, ls_channel **out)
{
	ls_return_val_if_fail(hs != NULL && out != NULL, LS_ERR_INVALID_ARG);
	if (hs->state != HS_DONE || hs->channel == NULL || hs->channel_taken)
		return LS_ERR_STATE;
	*out = hs->channel;
	hs->channel = NULL;
	hs->channel_taken = true;
	return LS_OK;
}

int
ls_handshake_status(const ls_handshake *hs)
{
	ls_return_val_if_fail(hs != NULL, LS_ERR_INVALID_ARG);
	return hs->status;
}

ls_handshake_reason
ls_handshake_get_reason(const ls_handshake *hs)
{
	ls_return_val_if_fail(hs != NULL, LS_HS_INTERNAL);
	return hs->reason;
}

bool
ls_handshake_done(const ls_handshake *hs)
{
	ls_return_val_if_fail(hs != NULL, true);
	return hs->state == HS_DONE || hs->state == HS_FAILED;
}

const char *
ls_handshake_nickname(const ls_handshake *hs)
{
	ls_return_val_if_fail(hs != NULL, "");
	return hs->nickname;
}

ls_handshake_purpose
ls_handshake_purpose_of(const ls_handshake *hs)
{
	ls_return_val_if_fail(hs != NULL, (ls_handshake_purpose)0);
	return hs->purpose;
}

unsigned
ls_handshake_version(const ls_handshake *hs)
{
	ls_return_val_if_fail(hs != NULL, 0);
	return hs->version;
}

int
ls_handshake_peer_versions(const ls_handshake *hs, unsigned *min, unsigned *max)
{
	ls_return_val_if_fail(hs != NULL && min != NULL && max != NULL, LS_ERR_INVALID_ARG);
	if (!hs->peer_versions)
		return LS_ERR_STATE;
	*min = hs->peer_min;
	*max = hs->peer_max;
	return LS_OK;
}

int
ls_handshake_server_fingerprint(const ls_handshake *hs,
                                uint8_t out[static LS_HANDSHAKE_FINGERPRINT_SIZE])
{
	ls_return_val_if_fail(hs != NULL && out != NULL, LS_ERR_INVALID_ARG);
	if (!hs->has_fingerprint)
		return LS_ERR_STATE;
	memcpy(out, hs->fingerprint, LS_HANDSHAKE_FINGERPRINT_SIZE);
	return LS_OK;
}

void
ls_handshake_free(ls_handshake *hs)
{
	if (hs == NULL)
		return;
	hs_wipe_secrets(hs);
	if (!hs->channel_taken)
		ls_channel_free(hs->channel);
	ls_wipe(hs, sizeof(*hs));
	free(hs);
}

/* ---- helpers ------------------------------------------------------------------------------ */

int
ls_handshake_nickname_check(const char *nickname)
{
	ls_return_val_if_fail(nickname != NULL, LS_ERR_INVALID_ARG);
	return hs_nickname_check((const uint8_t *)nickname,
	                         strnlen(nickname, LS_HANDSHAKE_NICKNAME_MAX + 1));
}

int
hs_fingerprint(uint8_t curve, const uint8_t *key, size_t key_len,
               uint8_t out[static LS_HANDSHAKE_FINGERPRINT_SIZE])
{
	uint8_t buf[1 + LS_SESPAKE_MAX_POINT];

	if (key_len > LS_SESPAKE_MAX_POINT)
		return LS_ERR_BAD_LENGTH;
	buf[0] = curve;
	memcpy(buf + 1, key, key_len);
	return ls_md(LS_MD_STREEBOG256, buf, 1 + key_len, out, LS_HANDSHAKE_FINGERPRINT_SIZE);
}

int
ls_handshake_key_fingerprint(const ls_gost_key *key,
                             uint8_t out[static LS_HANDSHAKE_FINGERPRINT_SIZE])
{
	uint8_t pub[LS_SESPAKE_MAX_POINT];
	ls_curve curve;
	size_t n2;
	int r;

	ls_return_val_if_fail(key != NULL && out != NULL, LS_ERR_INVALID_ARG);
	curve = ls_gost_key_curve(key);
	n2 = 2 * ls_curve_size(curve);
	if ((r = ls_gost_key_public(key, pub, n2)) != LS_OK)
		return r;
	return hs_fingerprint((uint8_t)curve, pub, n2, out);
}

int
ls_handshake_busy_message(ls_buf *out)
{
	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	ls_buf_reset(out);
	hs_encode_error(out, HS_ERROR_BUSY, LS_HANDSHAKE_VERSION_MIN, LS_HANDSHAKE_VERSION_MAX);
	return ls_buf_status(out);
}

/* ---- blocking drivers --------------------------------------------------------------------- */

/* Milliseconds left before @deadline (-1: none), 0 when it passed. */
static int
remaining(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return LS_TRANSPORT_FOREVER;
	left = deadline - ls_now_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* The transport failed: the handshake is over. */
static int
transport_fail(ls_handshake *hs, int err)
{
	if (hs->state == HS_FAILED)
		return hs->status;
	return hs_fail(hs, NULL, err, LS_HS_TRANSPORT, 0);
}

static int
run(ls_handshake *hs, ls_transport *t, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : ls_now_ms() + timeout_ms;
	bool done = false;
	ls_buf in, out;
	int r, s;

	ls_buf_init(&in, ls_transport_max_frame(t));
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	if (!hs->server && hs->state == HS_CLIENT_START) {
		r = ls_handshake_step(hs, NULL, 0, &out, &done);
		if (r == LS_OK && (s = ls_transport_send(t, ls_buf_data(&out), ls_buf_len(&out),
		                                          remaining(deadline))) != LS_OK)
			r = transport_fail(hs, s);
	} else {
		r = ls_handshake_done(hs) ? LS_ERR_STATE : LS_OK;
	}
	while (r == LS_OK && !done) {
		int left = remaining(deadline);

		if (left == 0) {
			r = transport_fail(hs, LS_ERR_TIMEOUT);
			break;
		}
		if ((s = ls_transport_recv(t, &in, left)) != LS_OK) {
			r = transport_fail(hs, s);
			break;
		}
		r = ls_handshake_step(hs, ls_buf_data(&in), ls_buf_len(&in), &out, &done);
		if (ls_buf_len(&out) > 0) {
			/* After a failure the last message goes if it can; nothing hangs on it. */
			s = ls_transport_send(t, ls_buf_data(&out), ls_buf_len(&out),
			                      remaining(deadline));
			if (s != LS_OK && r == LS_OK)
				r = transport_fail(hs, s);
		}
	}
	ls_buf_clear(&in);
	ls_buf_clear(&out);
	return r;
}

int
ls_handshake_client_run(ls_handshake *hs, ls_transport *t, int timeout_ms)
{
	ls_return_val_if_fail(hs != NULL && t != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(!hs->server, LS_ERR_INVALID_ARG);
	return run(hs, t, timeout_ms);
}

int
ls_handshake_server_run(ls_handshake *hs, ls_transport *t, int timeout_ms)
{
	ls_return_val_if_fail(hs != NULL && t != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(hs->server, LS_ERR_INVALID_ARG);
	return run(hs, t, timeout_ms);
}

/* ---- test hooks --------------------------------------------------------------------------- */

#ifdef LS11_TEST_HOOKS
static bool
fresh(const ls_handshake *hs)
{
	return hs->state == HS_CLIENT_START || hs->state == HS_SERVER_WAIT_CH;
}

int
ls_handshake_test_set_versions(ls_handshake *hs, unsigned min, unsigned max)
{
	ls_return_val_if_fail(hs != NULL, LS_ERR_INVALID_ARG);
	if (!fresh(hs))
		return LS_ERR_STATE;
	if (min < 1 || min > max || max > UINT16_MAX)
		return LS_ERR_INVALID_ARG;
	hs->my_min = min;
	hs->my_max = max;
	return LS_OK;
}

int
ls_handshake_test_set_nonce(ls_handshake *hs, const uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE])
{
	ls_return_val_if_fail(hs != NULL && nonce != NULL, LS_ERR_INVALID_ARG);
	if (!fresh(hs))
		return LS_ERR_STATE;
	memcpy(hs->server ? hs->sn : hs->cn, nonce, LS_HANDSHAKE_NONCE_SIZE);
	hs->nonce_fixed = true;
	return LS_OK;
}

int
ls_handshake_test_set_scalar(ls_handshake *hs, const uint8_t *scalar_le, size_t len)
{
	ls_return_val_if_fail(hs != NULL && scalar_le != NULL, LS_ERR_INVALID_ARG);
	if (!fresh(hs))
		return LS_ERR_STATE;
	if (len < 32 || len > sizeof(hs->test_scalar))
		return LS_ERR_BAD_LENGTH;
	memcpy(hs->test_scalar, scalar_le, len);
	hs->test_scalar_len = len;
	return LS_OK;
}

static bool
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

bool
ls_handshake_test_is_wiped(const ls_handshake *hs)
{
	if (hs == NULL)
		return true;
	return hs->sp == NULL && hs->password == NULL &&
	       all_zero(&hs->verifier, sizeof(hs->verifier)) &&
	       all_zero(hs->secret, sizeof(hs->secret)) && all_zero(hs->code, sizeof(hs->code)) &&
	       all_zero(hs->test_scalar, sizeof(hs->test_scalar)) && ls_buf_len(&hs->ch) == 0 &&
	       (hs->state != HS_FAILED || hs->channel == NULL);
}
#endif
