/*
 * LS11CLOUD - the client side of the handshake: hello, then SESPAKE as party A (session) or
 * the ephemeral-static VKO and the registration request (register).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "handshake-private.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

int
ls_handshake_client_new(const ls_handshake_client_params *p, ls_handshake **out)
{
	ls_handshake *hs = NULL;
	ls_curve curve;
	unsigned ind;
	size_t nick_len;
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(p != NULL && p->nickname != NULL && p->password != NULL,
	                      LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(p->purpose == LS_HANDSHAKE_SESSION ||
	                      p->purpose == LS_HANDSHAKE_REGISTER, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail((p->begin_attempt == NULL) == (p->record_success == NULL),
	                      LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(p->code != NULL || p->code_len == 0, LS_ERR_INVALID_ARG);
	if ((r = ls_handshake_nickname_check(p->nickname)) != LS_OK)
		return r;
	if (p->password_len < 1 || p->password_len > LS_SESPAKE_PW_MAX)
		return LS_ERR_BAD_LENGTH;
	curve = p->curve != 0 ? p->curve : LS_HANDSHAKE_DEFAULT_CURVE;
	ind = p->ind != 0 ? p->ind : LS_HANDSHAKE_DEFAULT_IND;
	if (p->purpose == LS_HANDSHAKE_REGISTER) {
		ls_return_val_if_fail(p->trust_server_key != NULL || p->pinned_fingerprint != NULL,
		                      LS_ERR_INVALID_ARG);
		if (p->code_len > LS_HANDSHAKE_CODE_MAX)
			return LS_ERR_BAD_LENGTH;
		if (ls_sespake_point_size(curve) == 0)
			return LS_ERR_UNSUPPORTED;
		if (ind < 1 || ind > LS_SESPAKE_NUM_POINTS)
			return LS_ERR_INVALID_ARG;
	}

	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		return LS_ERR_NOMEM;
	hs->server = false;
	hs->state = HS_CLIENT_START;
	hs->purpose = p->purpose;
	hs->my_min = LS_HANDSHAKE_VERSION_MIN;
	hs->my_max = LS_HANDSHAKE_VERSION_MAX;
	hs->user_data = p->user_data;
	ls_buf_init(&hs->ch, LS_HANDSHAKE_MAX_MESSAGE);
	nick_len = strlen(p->nickname);
	memcpy(hs->nickname, p->nickname, nick_len + 1);

	if (p->purpose == LS_HANDSHAKE_SESSION) {
		if ((hs->password = malloc(p->password_len)) == NULL) {
			r = LS_ERR_NOMEM;
			goto out;
		}
		memcpy(hs->password, p->password, p->password_len);
		hs->password_len = p->password_len;
		hs->client_begin = p->begin_attempt;
		hs->client_success = p->record_success;
	} else {
		/* The password is used here, once, and never kept. */
		r = ls_sespake_verifier_make(curve, ind, NULL, LS_HANDSHAKE_SALT_SIZE, p->password,
		                             p->password_len, &hs->verifier);
		if (r != LS_OK)
			goto out;
		if (p->code_len > 0)
			memcpy(hs->code, p->code, p->code_len);
		hs->code_len = p->code_len;
		if (p->pinned_fingerprint != NULL) {
			memcpy(hs->pinned, p->pinned_fingerprint, LS_HANDSHAKE_FINGERPRINT_SIZE);
			hs->has_pin = true;
		}
		hs->trust = p->trust_server_key;
	}
	*out = hs;
	hs = NULL;
	r = LS_OK;
out:
	ls_handshake_free(hs);
	return r;
}

/* ---- steps -------------------------------------------------------------------------------- */

static int
client_hello(ls_handshake *hs, ls_buf *out)
{
	int r;

	if ((r = hs_make_nonce(hs, hs->cn)) != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, 0);
	hs_encode_client_hello(out, hs->my_min, hs->my_max, hs->cn, (uint8_t)hs->purpose,
	                       hs->nickname);
	ls_buf_add(&hs->ch, ls_buf_data(out), ls_buf_len(out));
	if ((r = ls_buf_status(out)) != LS_OK || (r = ls_buf_status(&hs->ch)) != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, 0);
	hs->state = HS_CLIENT_WAIT_SH;
	return LS_OK;
}

/* The server sent ERROR: the handshake ends with the reason it gives. */
static int
client_on_error(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	ls_handshake_reason why;
	struct hs_error_msg e;
	int r;

	if ((r = hs_decode_error(in, in_len, &e, &why)) != LS_OK)
		return hs_fail(hs, out, r, why, 0);
	why = hs_reason_of_error(e.code);
	if (why == LS_HS_VERSION_MISMATCH && e.ver_min >= 1 && e.ver_min <= e.ver_max) {
		hs->peer_min = e.ver_min;
		hs->peer_max = e.ver_max;
		hs->peer_versions = true;
	}
	return hs_fail(hs, out, why == LS_HS_AUTH_FAILED ? LS_ERR_AUTH_FAILED : LS_ERR_REFUSED, why,
	               0);
}

/*
 * Common to every state after the hello: an ERROR ends the handshake, an empty message or one
 * of another type is refused.  Returns 1 when @in is a message of @type to handle.
 */
static int
client_expect(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out, uint8_t type)
{
	if (in_len == 0)
		return hs_fail(hs, out, LS_ERR_MALFORMED, LS_HS_MALFORMED, HS_ERROR_MALFORMED);
	if (in[0] == HS_MSG_ERROR)
		return client_on_error(hs, in, in_len, out);
	if (in[0] != type)
		return hs_fail(hs, out, LS_ERR_MALFORMED, LS_HS_UNEXPECTED, HS_ERROR_UNEXPECTED);
	return 1;
}

static int
client_start_sespake(ls_handshake *hs, const struct hs_server_hello *sh, ls_buf *out)
{
	uint8_t u1[LS_SESPAKE_MAX_POINT];
	size_t u1_len;
	int r;

	if (hs->client_begin != NULL) {
		r = hs->client_begin(hs->user_data);
		if (r == LS_ERR_ATTEMPTS_EXHAUSTED)
			return hs_fail(hs, out, r, LS_HS_LOCAL_LOCKED, HS_ERROR_ABORTED);
		if (r != LS_OK)
			return hs_fail(hs, out, r, LS_HS_CALLBACK, HS_ERROR_ABORTED);
	}
	r = ls_sespake_client_new((ls_curve)sh->curve, sh->ind, sh->salt, sh->salt_len,
	                          hs->password, hs->password_len, (const uint8_t *)hs->nickname,
	                          strlen(hs->nickname), (const uint8_t *)HS_ID_B,
	                          sizeof(HS_ID_B) - 1, &hs->sp);
	ls_wipe(hs->password, hs->password_len);
	free(hs->password);
	hs->password = NULL;
	hs->password_len = 0;
	if (r == LS_OK)
		r = hs_apply_test_scalar(hs, (ls_curve)sh->curve);
	if (r == LS_OK)
		r = ls_sespake_client_start(hs->sp, u1, sizeof(u1), &u1_len);
	if (r != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, HS_ERROR_ABORTED);
	ls_buf_add_u8(out, HS_MSG_U1);
	ls_buf_add(out, u1, u1_len);
	if ((r = ls_buf_status(out)) != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, 0);
	hs->state = HS_CLIENT_WAIT_U2;
	return LS_OK;
}

int
hs_register_key(const ls_handshake *hs, const ls_gost_key *priv, const uint8_t *peer_pub,
                const uint8_t *eph_pub, size_t n2, uint8_t key[static LS_CHANNEL_KEY_SIZE])
{
	uint8_t ukm[32], kvko[32], seed[HS_TH_SIZE + LS_SESPAKE_MAX_POINT];
	int r;

	if ((r = hs_hash2(HS_LABEL_UKM, hs->cn, sizeof(hs->cn), hs->sn, sizeof(hs->sn), ukm,
	                  sizeof(ukm))) != LS_OK)
		goto out;
	if ((r = ls_gost_vko(priv, peer_pub, n2, LS_VKO_2012_256, ukm, HS_UKM_SIZE, kvko,
	                     sizeof(kvko))) != LS_OK)
		goto out;
	memcpy(seed, hs->th, HS_TH_SIZE);
	memcpy(seed + HS_TH_SIZE, eph_pub, n2);
	r = ls_kdf_tree_gostr3411_2012_256(kvko, (const uint8_t *)HS_LABEL_REGISTER,
	                                   sizeof(HS_LABEL_REGISTER) - 1, seed, HS_TH_SIZE + n2, 1,
	                                   key, LS_CHANNEL_KEY_SIZE);
out:
	ls_wipe(kvko, sizeof(kvko));
	return r;
}

static int
client_ephemeral(ls_handshake *hs, ls_curve curve, ls_gost_key **eph)
{
#ifdef LS11_TEST_HOOKS
	if (hs->test_scalar_len > 0) {
		size_t n = ls_curve_size(curve);

		if (hs->test_scalar_len < n)
			return LS_ERR_BAD_LENGTH;
		return ls_gost_key_from_private(curve, hs->test_scalar, n, eph);
	}
#else
	(void)hs;
#endif
	return ls_gost_key_generate(curve, eph);
}

static int
client_register(ls_handshake *hs, const struct hs_server_hello *sh, const uint8_t *in,
                ls_buf *out)
{
	uint8_t digest[64], eph_pub[LS_SESPAKE_MAX_POINT], key[LS_CHANNEL_KEY_SIZE];
	ls_curve curve = (ls_curve)sh->curve;
	ls_gost_key *server_key = NULL, *eph = NULL;
	ls_handshake_reason why = LS_HS_INTERNAL;
	size_t size = ls_curve_size(curve), n2 = 2 * size;
	uint8_t code = HS_ERROR_ABORTED;
	bool accepted, match;
	ls_buf pt;
	int r;

	ls_buf_init(&pt, LS_HANDSHAKE_MAX_MESSAGE);
	if ((r = ls_gost_key_from_public(curve, sh->key, sh->key_len, &server_key)) != LS_OK) {
		why = r == LS_ERR_BAD_POINT ? LS_HS_BAD_POINT : LS_HS_INTERNAL;
		code = HS_ERROR_MALFORMED;
		goto out;
	}
	if ((r = hs_hash2(HS_LABEL_SIGNATURE, ls_buf_data(&hs->ch), ls_buf_len(&hs->ch), in,
	                  sh->signed_len, digest, size)) != LS_OK)
		goto out;
	if ((r = ls_gost_verify_digest(server_key, digest, size, sh->sig, sh->sig_len)) != LS_OK) {
		why = r == LS_ERR_VERIFY_FAILED ? LS_HS_BAD_SIGNATURE : LS_HS_INTERNAL;
		goto out;
	}
	if ((r = hs_fingerprint(sh->curve, sh->key, sh->key_len, hs->fingerprint)) != LS_OK)
		goto out;
	hs->has_fingerprint = true;

	/* A pin that differs refuses the key whatever the callback says; it still sees both. */
	match = hs->has_pin && ls_ct_equal(hs->fingerprint, hs->pinned, sizeof(hs->pinned));
	accepted = hs->trust == NULL || hs->trust(hs->user_data, curve, hs->fingerprint,
	                                          hs->has_pin ? hs->pinned : NULL);
	if (hs->has_pin && !match) {
		r = LS_ERR_REFUSED;
		why = LS_HS_SERVER_KEY_MISMATCH;
		goto out;
	}
	if (!accepted) {
		r = LS_ERR_REFUSED;
		why = LS_HS_SERVER_KEY_REFUSED;
		goto out;
	}

	if ((r = client_ephemeral(hs, curve, &eph)) != LS_OK ||
	    (r = ls_gost_key_public(eph, eph_pub, n2)) != LS_OK ||
	    (r = hs_register_key(hs, eph, sh->key, eph_pub, n2, key)) != LS_OK ||
	    (r = ls_channel_new(LS_CHANNEL_CLIENT, key, hs->cn, sizeof(hs->cn), hs->sn,
	                        sizeof(hs->sn), &hs->channel)) != LS_OK)
		goto out;
	hs_encode_reg_request(&pt, hs->nickname, &hs->verifier, hs->code, hs->code_len);
	if ((r = ls_buf_status(&pt)) != LS_OK)
		goto out;
	ls_buf_add_u8(out, HS_MSG_REG_REQUEST);
	ls_buf_add(out, eph_pub, n2);
	if ((r = ls_buf_status(out)) != LS_OK ||
	    (r = ls_channel_seal(hs->channel, LS_RECORD_DATA, ls_buf_data(&pt), ls_buf_len(&pt),
	                         out)) != LS_OK)
		goto out;
	/* The verifier and the code are on their way: nothing secret is needed any more. */
	hs_wipe_secrets(hs);
	hs->state = HS_CLIENT_WAIT_RESULT;
out:
	ls_wipe(key, sizeof(key));
	ls_buf_clear(&pt);
	ls_gost_key_free(server_key);
	ls_gost_key_free(eph);
	if (r != LS_OK)
		return hs_fail(hs, out, r, why, code);
	return LS_OK;
}

static int
client_on_server_hello(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	ls_handshake_reason why;
	struct hs_server_hello sh;
	int r;

	if (in_len > 0 && in[0] == HS_MSG_ERROR)
		return client_on_error(hs, in, in_len, out);
	if ((r = hs_decode_server_hello(in, in_len, (uint8_t)hs->purpose, &sh, &why)) != LS_OK)
		return hs_fail(hs, out, r, why,
		               why == LS_HS_UNEXPECTED ? HS_ERROR_UNEXPECTED : HS_ERROR_MALFORMED);
	if (sh.version < hs->my_min || sh.version > hs->my_max)
		return hs_fail(hs, out, LS_ERR_MALFORMED, LS_HS_BAD_VERSION, HS_ERROR_MALFORMED);
	hs->version = sh.version;
	memcpy(hs->sn, sh.nonce, sizeof(hs->sn));
	/* A registration's transcript stops before the (randomized) signature it carries. */
	if ((r = hs_hash2(HS_LABEL_TRANSCRIPT, ls_buf_data(&hs->ch), ls_buf_len(&hs->ch), in,
	                  sh.purpose == LS_HANDSHAKE_REGISTER ? sh.signed_len : in_len, hs->th,
	                  sizeof(hs->th))) != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, 0);
	if (sh.purpose == LS_HANDSHAKE_SESSION) {
		ls_buf_clear(&hs->ch);
		r = client_start_sespake(hs, &sh, out);
	} else {
		r = client_register(hs, &sh, in, out);
	}
	ls_wipe(&sh, sizeof(sh));
	return r;
}

static int
client_on_u2(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	uint8_t mac_a[LS_SESPAKE_MAC_SIZE];
	int r;

	if ((r = client_expect(hs, in, in_len, out, HS_MSG_U2)) != 1)
		return r;
	r = ls_sespake_client_finish(hs->sp, in + 1, in_len - 1, hs->th, sizeof(hs->th), mac_a);
	if (r == LS_ERR_BAD_LENGTH || r == LS_ERR_BAD_POINT)
		return hs_fail(hs, out, r, LS_HS_BAD_POINT, HS_ERROR_MALFORMED);
	if (r != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, HS_ERROR_ABORTED);
	ls_buf_add_u8(out, HS_MSG_MAC_A);
	ls_buf_add(out, hs->th, sizeof(hs->th));
	ls_buf_add(out, mac_a, sizeof(mac_a));
	ls_wipe(mac_a, sizeof(mac_a));
	if ((r = ls_buf_status(out)) != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, 0);
	hs->state = HS_CLIENT_WAIT_MAC_B;
	return LS_OK;
}

static int
client_on_mac_b(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	uint8_t k[LS_SESPAKE_KEY_SIZE];
	bool data_ok;
	int r;

	if ((r = client_expect(hs, in, in_len, out, HS_MSG_MAC_B)) != 1)
		return r;
	if (in_len != HS_MAC_MSG_SIZE)
		return hs_fail(hs, out, LS_ERR_BAD_LENGTH, LS_HS_MALFORMED, 0);
	/* MAC_B covers our transcript hash; the DATA_B sent must be it too. */
	data_ok = ls_ct_equal(in + 1, hs->th, sizeof(hs->th));
	r = ls_sespake_client_confirm(hs->sp, hs->th, sizeof(hs->th), in + 1 + HS_TH_SIZE,
	                              LS_SESPAKE_MAC_SIZE);
	if (r == LS_OK && !data_ok)
		r = LS_ERR_AUTH_FAILED;
	if (r == LS_ERR_AUTH_FAILED)
		return hs_fail(hs, out, r, LS_HS_SERVER_AUTH_FAILED, 0);
	if (r != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, 0);
	if (hs->client_success != NULL && (r = hs->client_success(hs->user_data)) != LS_OK)
		return hs_fail(hs, out, r, LS_HS_CALLBACK, 0);
	if ((r = ls_sespake_key(hs->sp, k)) == LS_OK)
		r = ls_channel_new(LS_CHANNEL_CLIENT, k, hs->cn, sizeof(hs->cn), hs->sn,
		                   sizeof(hs->sn), &hs->channel);
	ls_wipe(k, sizeof(k));
	if (r != LS_OK)
		return hs_fail(hs, out, r, LS_HS_INTERNAL, 0);
	hs_wipe_secrets(hs);
	hs->state = HS_DONE;
	return LS_OK;
}

static int
client_on_result(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	ls_handshake_reason why;
	ls_record_type type;
	uint8_t status = 0;
	ls_buf pt;
	int r;

	if ((r = client_expect(hs, in, in_len, out, HS_MSG_REG_RESULT)) != 1)
		return r;
	ls_buf_init(&pt, LS_HANDSHAKE_MAX_MESSAGE);
	r = ls_channel_open(hs->channel, in + 1, in_len - 1, &pt, &type);
	if (r != LS_OK) {
		ls_buf_clear(&pt);
		return hs_fail(hs, out, r, LS_HS_BAD_RECORD, 0);
	}
	if (type != LS_RECORD_DATA || ls_buf_get_u8(&pt, &status) != LS_OK ||
	    ls_buf_expect_end(&pt) != LS_OK) {
		ls_buf_clear(&pt);
		return hs_fail(hs, out, LS_ERR_MALFORMED, LS_HS_MALFORMED, 0);
	}
	ls_buf_clear(&pt);
	switch (status) {
	case LS_HANDSHAKE_REG_OK:
		ls_channel_free(hs->channel);
		hs->channel = NULL;
		hs->state = HS_DONE;
		return LS_OK;
	case LS_HANDSHAKE_REG_CLOSED: why = LS_HS_REGISTRATION_CLOSED; break;
	case LS_HANDSHAKE_REG_CODE_INVALID: why = LS_HS_REGISTRATION_CODE; break;
	case LS_HANDSHAKE_REG_NICKNAME_TAKEN: why = LS_HS_NICKNAME_TAKEN; break;
	case LS_HANDSHAKE_REG_SERVER_ERROR: why = LS_HS_REGISTRATION_ERROR; break;
	default: why = LS_HS_PEER_ERROR; break;
	}
	return hs_fail(hs, out, LS_ERR_REFUSED, why, 0);
}

int
hs_client_step(ls_handshake *hs, const uint8_t *in, size_t in_len, ls_buf *out)
{
	switch (hs->state) {
	case HS_CLIENT_START: return client_hello(hs, out);
	case HS_CLIENT_WAIT_SH: return client_on_server_hello(hs, in, in_len, out);
	case HS_CLIENT_WAIT_U2: return client_on_u2(hs, in, in_len, out);
	case HS_CLIENT_WAIT_MAC_B: return client_on_mac_b(hs, in, in_len, out);
	case HS_CLIENT_WAIT_RESULT: return client_on_result(hs, in, in_len, out);
	default: return LS_ERR_STATE;
	}
}
