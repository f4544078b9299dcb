/*
 * LS11CLOUD - the handshake messages on the wire (docs/protocol-handshake.md section 2).
 *
 * Every message goes through the bounded buffer: decoders read from a view in a fixed order,
 * check each field as it comes, and require the whole message to be consumed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "handshake-private.h"

#include <string.h>

#include "log.h"

static bool
nick_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '@';
}

int
hs_nickname_check(const uint8_t *p, size_t len)
{
	size_t i;

	if (len < LS_HANDSHAKE_NICKNAME_MIN || len > LS_HANDSHAKE_NICKNAME_MAX)
		return LS_ERR_BAD_LENGTH;
	for (i = 0; i < len; i++) {
		if (!nick_char_ok(p[i]))
			return LS_ERR_MALFORMED;
	}
	return LS_OK;
}

bool
hs_identity_curve_ok(ls_curve curve)
{
	switch (curve) {
	case LS_CURVE_CP_A:
	case LS_CURVE_CP_B:
	case LS_CURVE_CP_C:
	case LS_CURVE_TC26_256_A:
	case LS_CURVE_TC26_512_A:
	case LS_CURVE_TC26_512_B:
	case LS_CURVE_TC26_512_C:
		return true;
	default:
		return false;
	}
}

/* Reads a nickname string into @nick (NUL-terminated). */
static int
get_nickname(ls_buf *b, char nick[static LS_HANDSHAKE_NICKNAME_MAX + 1], ls_handshake_reason *why)
{
	const uint8_t *p;
	size_t len;
	int r;

	r = ls_buf_get_string(b, LS_HANDSHAKE_NICKNAME_MAX, &p, &len);
	if (r == LS_ERR_TOO_LARGE) {
		*why = LS_HS_BAD_NICKNAME;
		return LS_ERR_BAD_LENGTH;
	}
	if (r != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	if ((r = hs_nickname_check(p, len)) != LS_OK) {
		*why = LS_HS_BAD_NICKNAME;
		return r;
	}
	memcpy(nick, p, len);
	nick[len] = '\0';
	return LS_OK;
}

/* Reads the extensions field: up to LS_HANDSHAKE_EXT_MAX bytes, ignored in version 1. */
static int
get_extensions(ls_buf *b, ls_handshake_reason *why)
{
	const uint8_t *p;
	size_t len;
	int r;

	if ((r = ls_buf_get_string(b, LS_HANDSHAKE_EXT_MAX, &p, &len)) != LS_OK)
		*why = LS_HS_MALFORMED;
	return r;
}

static int
expect_end(const ls_buf *b, ls_handshake_reason *why)
{
	int r = ls_buf_expect_end(b);

	if (r != LS_OK)
		*why = LS_HS_MALFORMED;
	return r;
}

/* ---- client hello ------------------------------------------------------------------------- */

int
hs_decode_client_hello_prefix(ls_buf *b, struct hs_client_hello *ch, ls_handshake_reason *why)
{
	uint8_t magic[LS_HANDSHAKE_MAGIC_SIZE];
	uint16_t lo, hi;
	int r;

	memset(ch, 0, sizeof(*ch));
	if ((r = ls_buf_get_bytes(b, magic, sizeof(magic))) != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	if (memcmp(magic, LS_HANDSHAKE_MAGIC, LS_HANDSHAKE_MAGIC_SIZE) != 0) {
		*why = LS_HS_BAD_MAGIC;
		return LS_ERR_MALFORMED;
	}
	if ((r = ls_buf_get_u16(b, &lo)) != LS_OK || (r = ls_buf_get_u16(b, &hi)) != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	if (lo == 0 || lo > hi) {
		*why = LS_HS_BAD_VERSION;
		return LS_ERR_MALFORMED;
	}
	ch->ver_min = lo;
	ch->ver_max = hi;
	return LS_OK;
}

int
hs_decode_client_hello_rest(ls_buf *b, struct hs_client_hello *ch, ls_handshake_reason *why)
{
	int r;

	if ((r = ls_buf_get_bytes(b, ch->nonce, sizeof(ch->nonce))) != LS_OK ||
	    (r = ls_buf_get_u8(b, &ch->purpose)) != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	if (ch->purpose != LS_HANDSHAKE_SESSION && ch->purpose != LS_HANDSHAKE_REGISTER) {
		*why = LS_HS_BAD_PURPOSE;
		return LS_ERR_MALFORMED;
	}
	if ((r = get_nickname(b, ch->nickname, why)) != LS_OK ||
	    (r = get_extensions(b, why)) != LS_OK)
		return r;
	return expect_end(b, why);
}

void
hs_encode_client_hello(ls_buf *out, unsigned ver_min, unsigned ver_max,
                       const uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE], uint8_t purpose,
                       const char *nickname)
{
	ls_buf_add(out, LS_HANDSHAKE_MAGIC, LS_HANDSHAKE_MAGIC_SIZE);
	ls_buf_add_u16(out, (uint16_t)ver_min);
	ls_buf_add_u16(out, (uint16_t)ver_max);
	ls_buf_add(out, nonce, LS_HANDSHAKE_NONCE_SIZE);
	ls_buf_add_u8(out, purpose);
	ls_buf_add_cstring(out, nickname);
	ls_buf_add_string(out, NULL, 0); /* extensions */
}

/* ---- server hello ------------------------------------------------------------------------- */

static int
decode_sh_session(ls_buf *b, struct hs_server_hello *sh, ls_handshake_reason *why)
{
	const uint8_t *p;
	int r;

	if ((r = ls_buf_get_u8(b, &sh->curve)) != LS_OK ||
	    (r = ls_buf_get_u8(b, &sh->ind)) != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	if (ls_sespake_point_size((ls_curve)sh->curve) == 0) {
		*why = LS_HS_UNKNOWN_CURVE;
		return LS_ERR_UNSUPPORTED;
	}
	if (sh->ind < 1 || sh->ind > LS_SESPAKE_NUM_POINTS) {
		*why = LS_HS_BAD_IND;
		return LS_ERR_MALFORMED;
	}
	r = ls_buf_get_string(b, LS_SESPAKE_SALT_MAX, &p, &sh->salt_len);
	if (r == LS_ERR_TOO_LARGE || (r == LS_OK && sh->salt_len < LS_SESPAKE_SALT_MIN)) {
		*why = LS_HS_BAD_SALT;
		return LS_ERR_BAD_LENGTH;
	}
	if (r != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	memcpy(sh->salt, p, sh->salt_len);
	return LS_OK;
}

static int
decode_sh_register(ls_buf *b, size_t n, struct hs_server_hello *sh, ls_handshake_reason *why)
{
	const uint8_t *p;
	size_t n2;
	int r;

	if ((r = ls_buf_get_u8(b, &sh->curve)) != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	if (!hs_identity_curve_ok((ls_curve)sh->curve)) {
		*why = LS_HS_UNKNOWN_CURVE;
		return LS_ERR_UNSUPPORTED;
	}
	n2 = 2 * ls_curve_size((ls_curve)sh->curve);
	r = ls_buf_get_string(b, LS_SESPAKE_MAX_POINT, &p, &sh->key_len);
	if (r == LS_ERR_TOO_LARGE || (r == LS_OK && sh->key_len != n2)) {
		*why = LS_HS_BAD_POINT;
		return LS_ERR_BAD_LENGTH;
	}
	if (r != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	memcpy(sh->key, p, n2);
	if ((r = get_extensions(b, why)) != LS_OK)
		return r;
	sh->signed_len = n - ls_buf_remaining(b);
	r = ls_buf_get_string(b, LS_SESPAKE_MAX_POINT, &p, &sh->sig_len);
	if (r == LS_ERR_TOO_LARGE || (r == LS_OK && sh->sig_len != n2)) {
		*why = LS_HS_BAD_SIGNATURE;
		return LS_ERR_BAD_LENGTH;
	}
	if (r != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	memcpy(sh->sig, p, n2);
	return LS_OK;
}

int
hs_decode_server_hello(const uint8_t *p, size_t n, uint8_t purpose, struct hs_server_hello *sh,
                       ls_handshake_reason *why)
{
	uint8_t type;
	uint16_t version;
	ls_buf b;
	int r;

	memset(sh, 0, sizeof(*sh));
	ls_buf_init_view(&b, p, n);
	if ((r = ls_buf_get_u8(&b, &type)) != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	if (type != HS_MSG_SERVER_HELLO) {
		*why = LS_HS_UNEXPECTED;
		return LS_ERR_MALFORMED;
	}
	if ((r = ls_buf_get_u16(&b, &version)) != LS_OK ||
	    (r = ls_buf_get_bytes(&b, sh->nonce, sizeof(sh->nonce))) != LS_OK ||
	    (r = ls_buf_get_u8(&b, &sh->purpose)) != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	sh->version = version;
	/* The purpose decides the layout of the rest: it must be ours before the rest is read. */
	if (sh->purpose != purpose) {
		*why = LS_HS_BAD_PURPOSE;
		return LS_ERR_MALFORMED;
	}
	if (sh->purpose == LS_HANDSHAKE_SESSION) {
		if ((r = decode_sh_session(&b, sh, why)) != LS_OK ||
		    (r = get_extensions(&b, why)) != LS_OK)
			return r;
	} else if (sh->purpose == LS_HANDSHAKE_REGISTER) {
		if ((r = decode_sh_register(&b, n, sh, why)) != LS_OK)
			return r;
	} else {
		*why = LS_HS_BAD_PURPOSE;
		return LS_ERR_MALFORMED;
	}
	return expect_end(&b, why);
}

void
hs_encode_server_hello_session(ls_buf *out, unsigned version,
                               const uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE],
                               const ls_sespake_verifier *v)
{
	ls_buf_add_u8(out, HS_MSG_SERVER_HELLO);
	ls_buf_add_u16(out, (uint16_t)version);
	ls_buf_add(out, nonce, LS_HANDSHAKE_NONCE_SIZE);
	ls_buf_add_u8(out, LS_HANDSHAKE_SESSION);
	ls_buf_add_u8(out, v->curve);
	ls_buf_add_u8(out, v->ind);
	ls_buf_add_string(out, v->salt, v->salt_len);
	ls_buf_add_string(out, NULL, 0); /* extensions */
}

void
hs_encode_server_hello_register(ls_buf *out, unsigned version,
                                const uint8_t nonce[LS_HANDSHAKE_NONCE_SIZE], uint8_t curve,
                                const uint8_t *key, size_t key_len)
{
	ls_buf_add_u8(out, HS_MSG_SERVER_HELLO);
	ls_buf_add_u16(out, (uint16_t)version);
	ls_buf_add(out, nonce, LS_HANDSHAKE_NONCE_SIZE);
	ls_buf_add_u8(out, LS_HANDSHAKE_REGISTER);
	ls_buf_add_u8(out, curve);
	ls_buf_add_string(out, key, key_len);
	ls_buf_add_string(out, NULL, 0); /* extensions */
}

/* ---- error -------------------------------------------------------------------------------- */

int
hs_decode_error(const uint8_t *p, size_t n, struct hs_error_msg *e, ls_handshake_reason *why)
{
	uint8_t type;
	uint16_t lo, hi;
	ls_buf b;
	int r;

	memset(e, 0, sizeof(*e));
	ls_buf_init_view(&b, p, n);
	if ((r = ls_buf_get_u8(&b, &type)) != LS_OK || (r = ls_buf_get_u8(&b, &e->code)) != LS_OK ||
	    (r = ls_buf_get_u16(&b, &lo)) != LS_OK || (r = ls_buf_get_u16(&b, &hi)) != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	if (type != HS_MSG_ERROR) {
		*why = LS_HS_UNEXPECTED;
		return LS_ERR_MALFORMED;
	}
	e->ver_min = lo;
	e->ver_max = hi;
	return expect_end(&b, why);
}

void
hs_encode_error(ls_buf *out, uint8_t code, unsigned ver_min, unsigned ver_max)
{
	ls_buf_add_u8(out, HS_MSG_ERROR);
	ls_buf_add_u8(out, code);
	ls_buf_add_u16(out, (uint16_t)ver_min);
	ls_buf_add_u16(out, (uint16_t)ver_max);
}

/* ---- registration request ----------------------------------------------------------------- */

int
hs_decode_reg_request(const uint8_t *p, size_t n, struct hs_reg_request *req,
                      ls_handshake_reason *why)
{
	ls_sespake_verifier *v = &req->verifier;
	const uint8_t *q;
	size_t len, n2;
	ls_buf b;
	int r;

	memset(req, 0, sizeof(*req));
	ls_buf_init_view(&b, p, n);
	if ((r = get_nickname(&b, req->nickname, why)) != LS_OK)
		return r;
	if ((r = ls_buf_get_u8(&b, &v->curve)) != LS_OK ||
	    (r = ls_buf_get_u8(&b, &v->ind)) != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	v->version = LS_SESPAKE_VERIFIER_VERSION;
	if ((n2 = ls_sespake_point_size((ls_curve)v->curve)) == 0) {
		*why = LS_HS_UNKNOWN_CURVE;
		return LS_ERR_UNSUPPORTED;
	}
	if (v->ind < 1 || v->ind > LS_SESPAKE_NUM_POINTS) {
		*why = LS_HS_BAD_IND;
		return LS_ERR_MALFORMED;
	}
	r = ls_buf_get_string(&b, LS_SESPAKE_SALT_MAX, &q, &len);
	if (r == LS_ERR_TOO_LARGE || (r == LS_OK && len < LS_SESPAKE_SALT_MIN)) {
		*why = LS_HS_BAD_SALT;
		return LS_ERR_BAD_LENGTH;
	}
	if (r != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	v->salt_len = (uint8_t)len;
	memcpy(v->salt, q, len);
	r = ls_buf_get_string(&b, LS_SESPAKE_MAX_POINT, &q, &len);
	if (r == LS_ERR_TOO_LARGE || (r == LS_OK && len != n2)) {
		*why = LS_HS_BAD_POINT;
		return LS_ERR_BAD_LENGTH;
	}
	if (r != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	memcpy(v->q_pw, q, n2);
	r = ls_buf_get_string(&b, LS_HANDSHAKE_CODE_MAX, &q, &req->code_len);
	if (r != LS_OK) {
		*why = LS_HS_MALFORMED;
		return r;
	}
	if (req->code_len > 0)
		memcpy(req->code, q, req->code_len);
	return expect_end(&b, why);
}

void
hs_encode_reg_request(ls_buf *out, const char *nickname, const ls_sespake_verifier *v,
                      const uint8_t *code, size_t code_len)
{
	ls_buf_add_cstring(out, nickname);
	ls_buf_add_u8(out, v->curve);
	ls_buf_add_u8(out, v->ind);
	ls_buf_add_string(out, v->salt, v->salt_len);
	ls_buf_add_string(out, v->q_pw, ls_sespake_point_size((ls_curve)v->curve));
	ls_buf_add_string(out, code, code_len);
}

/* ---- hashing ------------------------------------------------------------------------------ */

static void
put_be32(uint8_t b[4], size_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

int
hs_hash2(const char *label, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
         uint8_t *out, size_t out_len)
{
	ls_md_ctx *md = NULL;
	uint8_t la[4], lb[4];
	int r;

	if (out_len != 32 && out_len != 64)
		return LS_ERR_BAD_LENGTH;
	put_be32(la, a_len);
	put_be32(lb, b_len);
	if ((r = ls_md_new(out_len == 32 ? LS_MD_STREEBOG256 : LS_MD_STREEBOG512, &md)) != LS_OK)
		return r;
	if ((r = ls_md_update(md, label, strlen(label))) != LS_OK ||
	    (r = ls_md_update(md, la, sizeof(la))) != LS_OK ||
	    (r = ls_md_update(md, a, a_len)) != LS_OK ||
	    (r = ls_md_update(md, lb, sizeof(lb))) != LS_OK ||
	    (r = ls_md_update(md, b, b_len)) != LS_OK)
		goto out;
	r = ls_md_final(md, out, out_len);
out:
	ls_md_free(md);
	return r;
}
