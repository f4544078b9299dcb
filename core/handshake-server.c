/*
 * LS11CLOUD - the server side of the handshake: hello, then SESPAKE as party B (session) with
 * the unknown-nickname rule and the RFC 8133 counters, or the signed hello and the
 * registration request (register).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "handshake-private.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

int
ls_handshake_server_new(const ls_handshake_server_config *c, ls_handshake **out)
{
	ls_handshake *hs;
	ls_curve fake_curve;
	unsigned fake_ind;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(c != NULL && c->secret != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(c->lookup != NULL && c->begin_attempt != NULL &&
	                      c->record_success != NULL, LS_ERR_INVALID_ARG);
	if (c->identity != NULL) {
		ls_return_val_if_fail(ls_gost_key_has_private(c->identity), LS_ERR_INVALID_ARG);
		ls_return_val_if_fail(hs_identity_curve_ok(ls_gost_key_curve(c->identity)),
		                      LS_ERR_INVALID_ARG);
	}
	if (c->secret_len < LS_HANDSHAKE_SECRET_MIN || c->secret_len > LS_HANDSHAKE_SECRET_MAX)
		return LS_ERR_BAD_LENGTH;
	fake_curve = c->fake_curve != 0 ? c->fake_curve : LS_HANDSHAKE_DEFAULT_CURVE;
	fake_ind = c->fake_ind != 0 ? c->fake_ind : LS_HANDSHAKE_DEFAULT_IND;
	if (ls_sespake_point_size(fake_curve) == 0)
		return LS_ERR_UNSUPPORTED;
	if (fake_ind < 1 || fake_ind > LS_SESPAKE_NUM_POINTS)
		return LS_ERR_INVALID_ARG;

	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		return LS_ERR_NOMEM;
	hs->server = true;
	hs->state = HS_SERVER_WAIT_CH;
	hs->my_min = LS_HANDSHAKE_VERSION_MIN;
	hs->my_max = LS_HANDSHAKE_VERSION_MAX;
	ls_buf_init(&hs->ch, LS_HANDSHAKE_MAX_MESSAGE);
	hs->identity = c->identity;
	hs->identity_fn = c->current_identity;
	memcpy(hs->secret, c->secret, c->secret_len);
	hs->secret_len = c->secret_len;
	hs->fake_curve = fake_curve;
	hs->fake_ind = fake_ind;
	hs->lookup = c->lookup;
	hs->begin = c->begin_attempt;
	hs->success = c->record_success;
	hs->reg = c->register_account;
	hs->user_data = c->user_data;
	*out = hs;
	return LS_OK;
}

/* ---- unknown nicknames -------------------------------------------------------------------- */

/* HMAC-Streebog(@secret, @label || [@counter] || @nickname) into @out (32 or 64 bytes). */
static int
fake_hmac(const ls_handshake *hs, const char *label, int counter, uint8_t *out, size_t out_len)
{
	ls_hmac_ctx *h = NULL;
	uint8_t c = (uint8_t)counter;
	int r;

	r = ls_hmac_new(out_len == 32 ? LS_MD_STREEBOG256 : LS_MD_STREEBOG512, hs->secret,
	                hs->secret_len, &h);
	if (r != LS_OK)
		return r;
	if ((r = ls_hmac_update(h, label, strlen(label))) == LS_OK &&
	    (counter < 0 || (r = ls_hmac_update(h, &c, 1)) == LS_OK) &&
	    (r = ls_hmac_update(h, hs->nickname, strlen(hs->nickname))) == LS_OK)
		r = ls_hmac_final(h, out, out_len);
	ls_hmac_free(h);
	return r;
}

/*
 * The parameters an unknown nickname gets, always the same for one nickname and server secret:
 *   salt = HMAC-Streebog-256(secret, "...fake salt" || nickname)            (32 bytes)
 *   d    = HMAC-Streebog-512(secret, "...fake Q_PW" || counter || nickname), first curve-size
 *          bytes little-endian with the top 3 bits cleared (so 0 < d < q on every curve)
 *   Q_PW = d * P, on the configured curve and ind.
 * Q_PW is never sent; it only has to be a valid point nobody knows the password of.  The
 * server computes these for every session hello, known nickname or not, so that both take the
 * same time.
 */
static int
fake_verifier(const ls_handshake *hs, ls_sespake_verifier *v)
{
	size_t size = ls_curve_size(hs->fake_curve);
	uint8_t mac[64];
	ls_gost_key *key = NULL;
	int r = LS_ERR_INTERNAL, counter;

	memset(v, 0, sizeof(*v));
	v->version = LS_SESPAKE_VERIFIER_VERSION;
	v->curve = (uint8_t)hs->fake_curve;
	v->ind = (uint8_t)hs->fake_ind;
	v->salt_len = LS_HANDSHAKE_SALT_SIZE;
	if ((r = fake_hmac(hs, HS_LABEL_FAKE_SALT, -1, mac, 32)) != LS_OK)
		goto out;
	memcpy(v->salt, mac, LS_HANDSHAKE_SALT_SIZE);
	/* d = 0 has probability 2^-250: try the next counter. */
	for (counter = 0; counter < 4; counter++) {
		if ((r = fake_hmac(hs, HS_LABEL_FAKE_QPW, counter, mac, 64)) != LS_OK)
			goto out;
		mac[size - 1] &= 0x1f;
		r = ls_gost_key_from_private(hs->fake_curve, mac, size, &key);
		if (r != LS_ERR_INVALID_ARG)
			break;
	}
	if (r != LS_OK)
		goto out;
	r = ls_gost_key_public(key, v->q_pw, 2 * size);
out:
	ls_wipe(mac, sizeof(mac));
	ls_gost_key_free(key);
	if (r != LS_OK)
		ls_wipe(v, sizeof(*v));
	return r;
}

/* ---- steps -------------------------------------------------------------------------------- */

static int
server_hello_session(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	ls_sespake_verifier fake;
	int r;

	if ((r = fake_verifier(hs, &fake)) != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, HS_ERROR_INTERNAL);
	r = hs->lookup(hs->user_data, hs->nickname, &hs->verifier);
	if (r == LS_OK) {
		hs->known = true;
		if ((r = ls_sespake_verifier_check(&hs->verifier)) != LS_OK)
			ls_error("handshake: the store holds an invalid verifier for '%s': %s",
			         hs->nickname, ls_strerror(r));
	} else if (r == LS_ERR_NOT_FOUND) {
		hs->known = false;
		hs->verifier = fake;
		r = LS_OK;
	}
	ls_wipe(&fake, sizeof(fake));
	if (r != LS_OK)
		return hs_fail(hs, out, r, LS_HS_CALLBACK, HS_ERROR_INTERNAL);
	/* The secret served its purpose. */
	ls_wipe(hs->secret, sizeof(hs->secret));
	hs->secret_len = 0;

	r = ls_sespake_server_new(&hs->verifier, (const uint8_t *)hs->nickname,
	                          strlen(hs->nickname), (const uint8_t *)HS_ID_B,
	                          sizeof(HS_ID_B) - 1, &hs->sp);
	if (r == LS_OK)
		r = hs_apply_test_scalar(hs, (ls_curve)hs->verifier.curve);
	if (r != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, HS_ERROR_INTERNAL);
	hs_encode_server_hello_session(out, hs->version, hs->sn, &hs->verifier);
	if ((r = ls_buf_status(out)) != LS_OK ||
	    (r = hs_hash2(HS_LABEL_TRANSCRIPT, in, in_len, ls_buf_data(out), ls_buf_len(out),
	                  hs->th, sizeof(hs->th))) != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, HS_ERROR_INTERNAL);
	hs->state = HS_SERVER_WAIT_U1;
	return LS_OK;
}

static int
server_hello_register(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	uint8_t pub[LS_SESPAKE_MAX_POINT], digest[64], sig[LS_SESPAKE_MAX_POINT];
	ls_curve curve;
	size_t size, n2;
	int r;

	if (hs->identity == NULL || hs->reg == NULL)
		return hs_fail(hs, out, LS_ERR_REFUSED, LS_HS_PURPOSE_UNSUPPORTED,
		               HS_ERROR_PURPOSE_UNSUPPORTED);
	if (hs->identity_fn != NULL) {
		const ls_gost_key *now = hs->identity_fn(hs->user_data);

		/* The same checks as the configured key had at ls_handshake_server_new(). */
		if (now != NULL && ls_gost_key_has_private(now) &&
		    hs_identity_curve_ok(ls_gost_key_curve(now)))
			hs->identity = now;
	}
	ls_wipe(hs->secret, sizeof(hs->secret));
	hs->secret_len = 0;
	curve = ls_gost_key_curve(hs->identity);
	size = ls_curve_size(curve);
	n2 = 2 * size;
	if ((r = ls_gost_key_public(hs->identity, pub, n2)) != LS_OK)
		goto out;
	hs_encode_server_hello_register(out, hs->version, hs->sn, (uint8_t)curve, pub, n2);
	/* The transcript and the signed digest cover the hellos up to the signature itself. */
	if ((r = ls_buf_status(out)) != LS_OK ||
	    (r = hs_hash2(HS_LABEL_SIGNATURE, in, in_len, ls_buf_data(out), ls_buf_len(out), digest,
	                  size)) != LS_OK ||
	    (r = hs_hash2(HS_LABEL_TRANSCRIPT, in, in_len, ls_buf_data(out), ls_buf_len(out),
	                  hs->th, sizeof(hs->th))) != LS_OK ||
	    (r = ls_gost_sign_digest(hs->identity, digest, size, sig, n2)) != LS_OK)
		goto out;
	ls_buf_add_string(out, sig, n2);
	r = ls_buf_status(out);
out:
	if (r != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, HS_ERROR_INTERNAL);
	hs->state = HS_SERVER_WAIT_REG;
	return LS_OK;
}

static int
server_on_client_hello(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	ls_handshake_reason why;
	struct hs_client_hello ch;
	unsigned lo, hi;
	uint8_t code;
	ls_buf b;
	int r;

	ls_buf_init_view(&b, in, in_len);
	if ((r = hs_decode_client_hello_prefix(&b, &ch, &why)) != LS_OK)
		return hs_fail(hs, out, r, why, HS_ERROR_MALFORMED);
	hs->peer_min = ch.ver_min;
	hs->peer_max = ch.ver_max;
	hs->peer_versions = true;
	lo = ch.ver_min > hs->my_min ? ch.ver_min : hs->my_min;
	hi = ch.ver_max < hs->my_max ? ch.ver_max : hs->my_max;
	if (lo > hi)
		return hs_fail(hs, out, LS_ERR_REFUSED, LS_HS_VERSION_MISMATCH,
		               HS_ERROR_VERSION_MISMATCH);
	if ((r = hs_decode_client_hello_rest(&b, &ch, &why)) != LS_OK) {
		code = why == LS_HS_BAD_NICKNAME ? HS_ERROR_BAD_NICKNAME : HS_ERROR_MALFORMED;
		return hs_fail(hs, out, r, why, code);
	}
	hs->version = hi;
	hs->purpose = (ls_handshake_purpose)ch.purpose;
	memcpy(hs->cn, ch.nonce, sizeof(hs->cn));
	memcpy(hs->nickname, ch.nickname, sizeof(hs->nickname));
	if ((r = hs_make_nonce(hs, hs->sn)) != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, HS_ERROR_INTERNAL);
	if (hs->purpose == LS_HANDSHAKE_SESSION)
		return server_hello_session(hs, in, in_len, out);
	return server_hello_register(hs, in, in_len, out);
}

/*
 * Common to every state after the hello: the client's ERROR ends the handshake, an empty
 * message or one of another type is refused.  Returns 1 when @in is a message of @type.
 */
static int
server_expect(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out, uint8_t type)
{
	ls_handshake_reason why;
	struct hs_error_msg e;
	int r;

	if (in_len == 0)
		return hs_fail(hs, out, LS_ERR_MALFORMED, LS_HS_MALFORMED, HS_ERROR_MALFORMED);
	if (in[0] == HS_MSG_ERROR) {
		if ((r = hs_decode_error(in, in_len, &e, &why)) != LS_OK)
			return hs_fail(hs, out, r, why, 0);
		return hs_fail(hs, out, LS_ERR_REFUSED, hs_reason_of_error(e.code), 0);
	}
	if (in[0] != type)
		return hs_fail(hs, out, LS_ERR_MALFORMED, LS_HS_UNEXPECTED, HS_ERROR_UNEXPECTED);
	return 1;
}

static int
server_on_u1(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	uint8_t u2[LS_SESPAKE_MAX_POINT];
	size_t u2_len;
	int r;

	if ((r = server_expect(hs, in, in_len, out, HS_MSG_U1)) != 1)
		return r;
	/* u1 is checked (length, on the curve) before any counter moves. */
	r = ls_sespake_server_respond(hs->sp, in + 1, in_len - 1, u2, sizeof(u2), &u2_len);
	if (r == LS_ERR_BAD_LENGTH || r == LS_ERR_BAD_POINT)
		return hs_fail(hs, out, r, LS_HS_BAD_POINT, HS_ERROR_MALFORMED);
	if (r != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, HS_ERROR_INTERNAL);
	/* RFC 8133 step 2: the attempt is counted (and persisted) before u2 goes out. */
	r = hs->begin(hs->user_data, hs->nickname, hs->known);
	if (r == LS_OK)
		hs->attempt_ok = true;
	else if (r == LS_ERR_ATTEMPTS_EXHAUSTED)
		hs->attempt_ok = false; /* locked: fail at MAC_A, as for a wrong password */
	else
		return hs_fail(hs, out, r, LS_HS_CALLBACK, HS_ERROR_INTERNAL);
	ls_buf_add_u8(out, HS_MSG_U2);
	ls_buf_add(out, u2, u2_len);
	if ((r = ls_buf_status(out)) != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, HS_ERROR_INTERNAL);
	hs->state = HS_SERVER_WAIT_MAC_A;
	return LS_OK;
}

static int
server_on_mac_a(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	uint8_t mac_b[LS_SESPAKE_MAC_SIZE], k[LS_SESPAKE_KEY_SIZE];
	ls_handshake_reason why;
	bool data_ok, mac_ok;
	int r;

	if ((r = server_expect(hs, in, in_len, out, HS_MSG_MAC_A)) != 1)
		return r;
	if (in_len != HS_MAC_MSG_SIZE)
		return hs_fail(hs, out, LS_ERR_BAD_LENGTH, LS_HS_MALFORMED, HS_ERROR_MALFORMED);
	/*
	 * Every check runs whatever the others give, and the MAC is computed over OUR transcript
	 * hash: an unknown nickname, a locked account, altered hellos and a wrong password cost
	 * the same and give the client the same answer.
	 */
	data_ok = ls_ct_equal(in + 1, hs->th, sizeof(hs->th));
	r = ls_sespake_server_confirm(hs->sp, hs->th, sizeof(hs->th), in + 1 + HS_TH_SIZE,
	                              LS_SESPAKE_MAC_SIZE, hs->th, sizeof(hs->th), mac_b);
	if (r != LS_OK && r != LS_ERR_AUTH_FAILED)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, HS_ERROR_INTERNAL);
	mac_ok = r == LS_OK;
	if (!(mac_ok & data_ok & hs->known & hs->attempt_ok)) {
		ls_wipe(mac_b, sizeof(mac_b));
		if (!hs->known)
			why = LS_HS_UNKNOWN_ACCOUNT;
		else if (!hs->attempt_ok)
			why = LS_HS_ACCOUNT_LOCKED;
		else if (!data_ok)
			why = LS_HS_TRANSCRIPT_MISMATCH;
		else
			why = LS_HS_AUTH_FAILED;
		return hs_fail(hs, out, LS_ERR_AUTH_FAILED, why, HS_ERROR_AUTH_FAILED);
	}
	if ((r = hs->success(hs->user_data, hs->nickname)) != LS_OK) {
		ls_wipe(mac_b, sizeof(mac_b));
		return hs_fail(hs, out, r, LS_HS_CALLBACK, HS_ERROR_INTERNAL);
	}
	if ((r = ls_sespake_key(hs->sp, k)) == LS_OK)
		r = ls_channel_new(LS_CHANNEL_SERVER, k, hs->cn, sizeof(hs->cn), hs->sn,
		                   sizeof(hs->sn), &hs->channel);
	ls_wipe(k, sizeof(k));
	if (r == LS_OK) {
		ls_buf_add_u8(out, HS_MSG_MAC_B);
		ls_buf_add(out, hs->th, sizeof(hs->th));
		ls_buf_add(out, mac_b, sizeof(mac_b));
		r = ls_buf_status(out);
	}
	ls_wipe(mac_b, sizeof(mac_b));
	if (r != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, HS_ERROR_INTERNAL);
	hs_wipe_secrets(hs);
	hs->state = HS_DONE;
	return LS_OK;
}

static ls_handshake_reason
reason_of_status(ls_handshake_reg_status status)
{
	switch (status) {
	case LS_HANDSHAKE_REG_CLOSED: return LS_HS_REGISTRATION_CLOSED;
	case LS_HANDSHAKE_REG_CODE_INVALID: return LS_HS_REGISTRATION_CODE;
	case LS_HANDSHAKE_REG_NICKNAME_TAKEN: return LS_HS_NICKNAME_TAKEN;
	default: return LS_HS_REGISTRATION_ERROR;
	}
}

static int
server_on_reg_request(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	ls_curve curve = ls_gost_key_curve(hs->identity);
	size_t n2 = 2 * ls_curve_size(curve);
	uint8_t key[LS_CHANNEL_KEY_SIZE], st;
	ls_handshake_reason why = LS_HS_INTERNAL;
	uint8_t code = HS_ERROR_INTERNAL;
	ls_handshake_reg_status status;
	struct hs_reg_request *req = NULL;
	ls_record_type type;
	ls_buf pt;
	int r;

	if ((r = server_expect(hs, in, in_len, out, HS_MSG_REG_REQUEST)) != 1)
		return r;
	ls_buf_init(&pt, LS_HANDSHAKE_MAX_MESSAGE);
	if (in_len < 1 + n2 + LS_CHANNEL_OVERHEAD) {
		r = LS_ERR_TRUNCATED;
		why = LS_HS_MALFORMED;
		code = HS_ERROR_MALFORMED;
		goto out;
	}
	r = hs_register_key(hs, hs->identity, in + 1, in + 1, n2, key);
	if (r == LS_ERR_BAD_POINT) {
		why = LS_HS_BAD_POINT;
		code = HS_ERROR_MALFORMED;
	}
	if (r != LS_OK ||
	    (r = ls_channel_new(LS_CHANNEL_SERVER, key, hs->cn, sizeof(hs->cn), hs->sn,
	                        sizeof(hs->sn), &hs->channel)) != LS_OK)
		goto out;
	if ((r = ls_channel_open(hs->channel, in + 1 + n2, in_len - 1 - n2, &pt, &type)) != LS_OK) {
		why = LS_HS_BAD_RECORD;
		code = HS_ERROR_MALFORMED;
		goto out;
	}
	why = LS_HS_MALFORMED;
	code = HS_ERROR_MALFORMED;
	if (type != LS_RECORD_DATA) {
		r = LS_ERR_MALFORMED;
		goto out;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL) {
		r = LS_ERR_NOMEM;
		why = LS_HS_INTERNAL;
		code = HS_ERROR_INTERNAL;
		goto out;
	}
	if ((r = hs_decode_reg_request(ls_buf_data(&pt), ls_buf_len(&pt), req, &why)) != LS_OK)
		goto out;
	if (strcmp(req->nickname, hs->nickname) != 0) {
		r = LS_ERR_MALFORMED;
		why = LS_HS_BAD_NICKNAME;
		goto out;
	}
	if ((r = ls_sespake_verifier_check(&req->verifier)) != LS_OK) {
		why = LS_HS_BAD_VERIFIER;
		goto out;
	}

	status = hs->reg(hs->user_data, hs->nickname, &req->verifier,
	                 req->code_len > 0 ? req->code : NULL, req->code_len);
	if ((unsigned)status > LS_HANDSHAKE_REG_SERVER_ERROR)
		status = LS_HANDSHAKE_REG_SERVER_ERROR;
	st = (uint8_t)status;
	ls_buf_add_u8(out, HS_MSG_REG_RESULT);
	why = LS_HS_INTERNAL;
	code = HS_ERROR_INTERNAL;
	if ((r = ls_buf_status(out)) != LS_OK ||
	    (r = ls_channel_seal(hs->channel, LS_RECORD_DATA, &st, 1, out)) != LS_OK)
		goto out;
	ls_channel_free(hs->channel);
	hs->channel = NULL;
	if (status != LS_HANDSHAKE_REG_OK) {
		/* The answer in @out goes to the client all the same. */
		r = LS_ERR_REFUSED;
		why = reason_of_status(status);
		code = 0;
		goto out;
	}
	hs_wipe_secrets(hs);
	hs->state = HS_DONE;
out:
	ls_wipe(key, sizeof(key));
	ls_buf_clear(&pt);
	if (req != NULL) {
		ls_wipe(req, sizeof(*req));
		free(req);
	}
	if (r != LS_OK)
		return hs_fail(hs, code != 0 ? out : NULL, r, why, code);
	return LS_OK;
}

int
hs_server_step(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	switch (hs->state) {
	case HS_SERVER_WAIT_CH: return server_on_client_hello(hs, in, in_len, out);
	case HS_SERVER_WAIT_U1: return server_on_u1(hs, in, in_len, out);
	case HS_SERVER_WAIT_MAC_A: return server_on_mac_a(hs, in, in_len, out);
	case HS_SERVER_WAIT_REG: return server_on_reg_request(hs, in, in_len, out);
	default: return LS_ERR_STATE;
	}
}
