/*
 * LS11CLOUD - the token engine: cryptographic operations, key management and randomness.
 *
 * One active operation per kind (encrypt, decrypt, digest, sign, verify) per session.  The
 * lifetime rules of PKCS#11 v2.40 section 5.2: a length query (output pointer NULL) and
 * CKR_BUFFER_TOO_SMALL keep the operation; a one-shot or final call that produces its output
 * ends it, and so does every other error.  A one-shot call after an update answers
 * CKR_OPERATION_ACTIVE and leaves the multi-part operation running.
 *
 * The key of an operation is a private copy (ls_object_key) taken at init, so the operation
 * is independent of the object's later fate; an operation on a private key dies with the
 * user's login (the next call answers CKR_USER_NOT_LOGGED_IN).  A key with
 * CKA_ALWAYS_AUTHENTICATE needs a CKU_CONTEXT_SPECIFIC login on the session after the init and
 * before the first use; without it the call answers CKR_USER_NOT_LOGGED_IN and the operation
 * ends.
 *
 * Calls on one session are serialised by the session's lock; calls on different sessions (of
 * one or many applications) run in parallel, and a signature holds no engine-wide lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "token-private.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"

/* Key values produced by generation, derivation and unwrap are at most this long here. */
#define KEY_BUF_SIZE 1024

/* ---------------------------------------------------------------------------------------------
 * Operation set-up and use
 * ------------------------------------------------------------------------------------------- */

/* Replaces CKR_OBJECT_HANDLE_INVALID by the code the call prescribes for its key. */
static CK_RV
key_rv(CK_RV rv, CK_RV invalid)
{
	return rv == CKR_OBJECT_HANDLE_INVALID ? invalid : rv;
}

static CK_RV
op_init(ls_token_app *app, CK_SESSION_HANDLE h, int kind, ls_op_kind opk, CK_ATTRIBUTE_TYPE usage,
        const CK_MECHANISM *mech, bool with_key, CK_OBJECT_HANDLE key)
{
	ls_token_mk *mk = NULL;
	ls_session *s = NULL;
	ls_object *obj = NULL;
	CK_USER_TYPE user;
	uint64_t gen;
	ls_sop *sop;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_enter(app, h, &s)) != CKR_OK)
		return rv;
	sop = &s->ops[kind];
	if (sop->op != NULL) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	if (mech == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	user = ls_app_user(app, &mk, &gen);
	if (with_key) {
		rv = ls_app_object(app, key, user, &obj);
		if (rv != CKR_OK) {
			rv = key_rv(rv, CKR_KEY_HANDLE_INVALID);
			goto out;
		}
		if ((rv = ls_object_check_usage(obj, usage, mech->mechanism)) != CKR_OK)
			goto out;
		sop->has_key = true; /* clearing is safe on what a failed init leaves */
		rv = ls_object_key_init(obj, mk != NULL ? mk->key : NULL, &sop->key);
		if (rv != CKR_OK)
			goto out;
		sop->needs_user = ls_object_is_private(obj);
		sop->login_gen = gen;
		sop->needs_auth = (ls_object_flags(obj) & LS_OBJECT_F_ALWAYS_AUTHENTICATE) != 0;
	}
	rv = ls_op_new(opk, mech, sop->has_key ? &sop->key.key : NULL, &sop->op);
out:
	if (rv != CKR_OK && s != NULL && (rv != CKR_OPERATION_ACTIVE))
		ls_sop_end(&s->ops[kind]);
	ls_object_unref(obj);
	ls_token_mk_unref(mk);
	ls_session_leave(app, s);
	return rv;
}

/*
 * Enters a call on the running operation of @kind: CKR_OPERATION_NOT_INITIALIZED when none;
 * ends it with CKR_USER_NOT_LOGGED_IN when its login went or its context login is due.
 * On CKR_OK the caller holds the session (ls_session_leave()).
 */
static CK_RV
op_enter(ls_token_app *app, CK_SESSION_HANDLE h, int kind, ls_session **out, ls_sop **sop_out)
{
	ls_session *s;
	ls_sop *sop;
	CK_USER_TYPE user;
	uint64_t gen;
	CK_RV rv;

	*out = NULL;
	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_enter(app, h, &s)) != CKR_OK)
		return rv;
	sop = &s->ops[kind];
	if (sop->op == NULL) {
		ls_session_leave(app, s);
		return CKR_OPERATION_NOT_INITIALIZED;
	}
	if (sop->needs_user) {
		user = ls_app_user(app, NULL, &gen);
		if (user != CKU_USER || gen != sop->login_gen) {
			ls_sop_end(sop);
			ls_session_leave(app, s);
			return CKR_USER_NOT_LOGGED_IN;
		}
	}
	if (sop->needs_auth) {
		ls_sop_end(sop);
		ls_session_leave(app, s);
		return CKR_USER_NOT_LOGGED_IN;
	}
	*out = s;
	*sop_out = sop;
	return CKR_OK;
}

/* Ends the call: the operation lives on after a length query or CKR_BUFFER_TOO_SMALL only. */
static CK_RV
op_leave(ls_token_app *app, ls_session *s, ls_sop *sop, CK_RV rv, bool query)
{
	if (!(rv == CKR_OK && query) && rv != CKR_BUFFER_TOO_SMALL)
		ls_sop_end(sop);
	ls_session_leave(app, s);
	return rv;
}

/* C_Encrypt, C_Decrypt, C_Digest, C_Sign. */
static CK_RV
op_oneshot(ls_token_app *app, CK_SESSION_HANDLE h, int kind, const CK_BYTE *in, CK_ULONG in_len,
           CK_BYTE *out, CK_ULONG *out_len)
{
	ls_session *s;
	ls_sop *sop;
	CK_RV rv;

	if ((rv = op_enter(app, h, kind, &s, &sop)) != CKR_OK)
		return rv;
	if (sop->updated) {
		ls_session_leave(app, s);
		return CKR_OPERATION_ACTIVE;
	}
	if ((in == NULL && in_len > 0) || out_len == NULL)
		return op_leave(app, s, sop, CKR_ARGUMENTS_BAD, false);
	rv = ls_op_oneshot(sop->op, in, in_len, out, out_len);
	return op_leave(app, s, sop, rv, out == NULL);
}

/* C_EncryptUpdate, C_DecryptUpdate (output) and C_DigestUpdate, C_SignUpdate, C_VerifyUpdate. */
static CK_RV
op_update(ls_token_app *app, CK_SESSION_HANDLE h, int kind, const CK_BYTE *in, CK_ULONG in_len,
          CK_BYTE *out, CK_ULONG *out_len, bool has_output)
{
	ls_session *s;
	ls_sop *sop;
	CK_RV rv;

	if ((rv = op_enter(app, h, kind, &s, &sop)) != CKR_OK)
		return rv;
	if ((in == NULL && in_len > 0) || (has_output && out_len == NULL))
		return op_leave(app, s, sop, CKR_ARGUMENTS_BAD, false);
	if (has_output) {
		rv = ls_op_update(sop->op, in, in_len, out, out_len);
		if (rv == CKR_OK && out != NULL)
			sop->updated = true;
		return op_leave(app, s, sop, rv, true);
	}
	rv = ls_op_update(sop->op, in, in_len, NULL, NULL);
	if (rv == CKR_OK)
		sop->updated = true;
	return op_leave(app, s, sop, rv, true);
}

/* C_EncryptFinal, C_DecryptFinal, C_DigestFinal, C_SignFinal. */
static CK_RV
op_final(ls_token_app *app, CK_SESSION_HANDLE h, int kind, CK_BYTE *out, CK_ULONG *out_len)
{
	ls_session *s;
	ls_sop *sop;
	CK_RV rv;

	if ((rv = op_enter(app, h, kind, &s, &sop)) != CKR_OK)
		return rv;
	if (out_len == NULL)
		return op_leave(app, s, sop, CKR_ARGUMENTS_BAD, false);
	rv = ls_op_final(sop->op, out, out_len);
	return op_leave(app, s, sop, rv, out == NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Encrypt, decrypt
 * ------------------------------------------------------------------------------------------- */

CK_RV
ls_token_encrypt_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                      CK_OBJECT_HANDLE key)
{
	return op_init(app, h, LS_SOP_ENCRYPT, LS_OP_ENCRYPT, CKA_ENCRYPT, mech, true, key);
}

CK_RV
ls_token_encrypt(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data, CK_ULONG len,
                 CK_BYTE *out, CK_ULONG *out_len)
{
	return op_oneshot(app, h, LS_SOP_ENCRYPT, data, len, out, out_len);
}

CK_RV
ls_token_encrypt_update(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *part,
                        CK_ULONG len, CK_BYTE *out, CK_ULONG *out_len)
{
	return op_update(app, h, LS_SOP_ENCRYPT, part, len, out, out_len, true);
}

CK_RV
ls_token_encrypt_final(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *out, CK_ULONG *out_len)
{
	return op_final(app, h, LS_SOP_ENCRYPT, out, out_len);
}

CK_RV
ls_token_decrypt_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                      CK_OBJECT_HANDLE key)
{
	return op_init(app, h, LS_SOP_DECRYPT, LS_OP_DECRYPT, CKA_DECRYPT, mech, true, key);
}

CK_RV
ls_token_decrypt(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data, CK_ULONG len,
                 CK_BYTE *out, CK_ULONG *out_len)
{
	return op_oneshot(app, h, LS_SOP_DECRYPT, data, len, out, out_len);
}

CK_RV
ls_token_decrypt_update(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *part,
                        CK_ULONG len, CK_BYTE *out, CK_ULONG *out_len)
{
	return op_update(app, h, LS_SOP_DECRYPT, part, len, out, out_len, true);
}

CK_RV
ls_token_decrypt_final(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *out, CK_ULONG *out_len)
{
	return op_final(app, h, LS_SOP_DECRYPT, out, out_len);
}

/* ---------------------------------------------------------------------------------------------
 * Digest
 * ------------------------------------------------------------------------------------------- */

CK_RV
ls_token_digest_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech)
{
	return op_init(app, h, LS_SOP_DIGEST, LS_OP_DIGEST, 0, mech, false, 0);
}

CK_RV
ls_token_digest(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data, CK_ULONG len,
                CK_BYTE *out, CK_ULONG *out_len)
{
	return op_oneshot(app, h, LS_SOP_DIGEST, data, len, out, out_len);
}

CK_RV
ls_token_digest_update(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *part, CK_ULONG len)
{
	return op_update(app, h, LS_SOP_DIGEST, part, len, NULL, NULL, false);
}

CK_RV
ls_token_digest_key(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	ls_object_key view;
	ls_token_mk *mk = NULL;
	ls_object *obj = NULL;
	ls_session *s;
	ls_sop *sop;
	CK_USER_TYPE user;
	CK_RV rv;

	memset(&view, 0, sizeof(view));
	if ((rv = op_enter(app, h, LS_SOP_DIGEST, &s, &sop)) != CKR_OK)
		return rv;
	user = ls_app_user(app, &mk, NULL);
	rv = ls_app_object(app, key, user, &obj);
	if (rv != CKR_OK) {
		rv = key_rv(rv, CKR_KEY_HANDLE_INVALID);
		goto out;
	}
	rv = ls_object_check_usage(obj, CKA_VALUE, ls_op_mechanism(sop->op));
	if (rv == CKR_OK)
		rv = ls_object_key_init(obj, mk != NULL ? mk->key : NULL, &view);
	if (rv == CKR_OK)
		rv = ls_op_digest_key(sop->op, &view.key);
	if (rv == CKR_OK)
		sop->updated = true;
out:
	ls_object_key_clear(&view);
	ls_object_unref(obj);
	ls_token_mk_unref(mk);
	return op_leave(app, s, sop, rv, true);
}

CK_RV
ls_token_digest_final(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *out, CK_ULONG *out_len)
{
	return op_final(app, h, LS_SOP_DIGEST, out, out_len);
}

/* ---------------------------------------------------------------------------------------------
 * Sign, verify
 * ------------------------------------------------------------------------------------------- */

CK_RV
ls_token_sign_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                   CK_OBJECT_HANDLE key)
{
	return op_init(app, h, LS_SOP_SIGN, LS_OP_SIGN, CKA_SIGN, mech, true, key);
}

CK_RV
ls_token_sign(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data, CK_ULONG len,
              CK_BYTE *sig, CK_ULONG *sig_len)
{
	return op_oneshot(app, h, LS_SOP_SIGN, data, len, sig, sig_len);
}

CK_RV
ls_token_sign_update(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *part, CK_ULONG len)
{
	return op_update(app, h, LS_SOP_SIGN, part, len, NULL, NULL, false);
}

CK_RV
ls_token_sign_final(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *sig, CK_ULONG *sig_len)
{
	return op_final(app, h, LS_SOP_SIGN, sig, sig_len);
}

CK_RV
ls_token_verify_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                     CK_OBJECT_HANDLE key)
{
	return op_init(app, h, LS_SOP_VERIFY, LS_OP_VERIFY, CKA_VERIFY, mech, true, key);
}

CK_RV
ls_token_verify(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data, CK_ULONG len,
                const CK_BYTE *sig, CK_ULONG sig_len)
{
	ls_session *s;
	ls_sop *sop;
	CK_RV rv;

	if ((rv = op_enter(app, h, LS_SOP_VERIFY, &s, &sop)) != CKR_OK)
		return rv;
	if (sop->updated) {
		ls_session_leave(app, s);
		return CKR_OPERATION_ACTIVE;
	}
	if ((data == NULL && len > 0) || (sig == NULL && sig_len > 0))
		return op_leave(app, s, sop, CKR_ARGUMENTS_BAD, false);
	rv = ls_op_verify(sop->op, data, len, sig, sig_len);
	return op_leave(app, s, sop, rv, false);
}

CK_RV
ls_token_verify_update(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *part, CK_ULONG len)
{
	return op_update(app, h, LS_SOP_VERIFY, part, len, NULL, NULL, false);
}

CK_RV
ls_token_verify_final(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *sig,
                      CK_ULONG sig_len)
{
	ls_session *s;
	ls_sop *sop;
	CK_RV rv;

	if ((rv = op_enter(app, h, LS_SOP_VERIFY, &s, &sop)) != CKR_OK)
		return rv;
	if (sig == NULL && sig_len > 0)
		return op_leave(app, s, sop, CKR_ARGUMENTS_BAD, false);
	rv = ls_op_verify_final(sop->op, sig, sig_len);
	return op_leave(app, s, sop, rv, false);
}

/*
 * Signatures with message recovery: no GOST mechanism has them, so every init is
 * CKR_MECHANISM_INVALID (after the session, arguments and key are checked) and no such
 * operation is ever running.
 */
static CK_RV
recover_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
             CK_OBJECT_HANDLE key)
{
	ls_session *s = NULL;
	ls_object *obj = NULL;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	if (mech == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = ls_app_object(app, key, ls_app_user(app, NULL, NULL), &obj)) != CKR_OK)
		rv = key_rv(rv, CKR_KEY_HANDLE_INVALID);
	else
		rv = CKR_MECHANISM_INVALID;
	ls_object_unref(obj);
	ls_session_put(app, s);
	return rv;
}

static CK_RV
recover_call(ls_token_app *app, CK_SESSION_HANDLE h)
{
	ls_session *s = NULL;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	ls_session_put(app, s);
	return CKR_OPERATION_NOT_INITIALIZED;
}

CK_RV
ls_token_sign_recover_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                           CK_OBJECT_HANDLE key)
{
	return recover_init(app, h, mech, key);
}

CK_RV
ls_token_sign_recover(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data, CK_ULONG len,
                      CK_BYTE *sig, CK_ULONG *sig_len)
{
	return recover_call(app, h);
}

CK_RV
ls_token_verify_recover_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                             CK_OBJECT_HANDLE key)
{
	return recover_init(app, h, mech, key);
}

CK_RV
ls_token_verify_recover(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *sig,
                        CK_ULONG sig_len, CK_BYTE *data, CK_ULONG *data_len)
{
	return recover_call(app, h);
}

/* ---------------------------------------------------------------------------------------------
 * Key management
 * ------------------------------------------------------------------------------------------- */

/* The state a key-management call starts from. */
typedef struct {
	ls_session *s;
	ls_token_mk *mk;
	CK_USER_TYPE user;
} km_call;

static CK_RV
km_begin(ls_token_app *app, CK_SESSION_HANDLE h, km_call *c)
{
	memset(c, 0, sizeof(*c));
	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	return ls_session_get(app, h, &c->s);
}

static void
km_end(ls_token_app *app, km_call *c)
{
	ls_token_mk_unref(c->mk);
	ls_session_put(app, c->s);
}

static const ls_protect_key *
km_key(const km_call *c)
{
	return c->mk != NULL ? c->mk->key : NULL;
}

/* The table entry for @mech when it allows @flag, else CKR_MECHANISM_INVALID. */
static CK_RV
mech_allows(const CK_MECHANISM *mech, CK_FLAGS flag)
{
	const ls_mech_info *m = ls_mech_find(mech->mechanism);

	return m != NULL && (m->flags & flag) ? CKR_OK : CKR_MECHANISM_INVALID;
}

static CK_RV
check_new(const ls_object *obj, CK_FLAGS session_flags, CK_USER_TYPE user)
{
	if (ls_object_is_token(obj) && !(session_flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	if (ls_object_is_private(obj) && user != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return CKR_OK;
}

CK_RV
ls_token_generate_key(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                      const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *key)
{
	ls_object_ctx ctx;
	ls_object *obj = NULL;
	uint8_t buf[KEY_BUF_SIZE];
	size_t len = 0;
	CK_KEY_TYPE kt = 0;
	km_call c;
	CK_RV rv;

	if ((rv = km_begin(app, h, &c)) != CKR_OK)
		return rv;
	if (mech == NULL || key == NULL || (tmpl == NULL && count > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = mech_allows(mech, CKF_GENERATE)) != CKR_OK)
		goto out;
	c.user = ls_app_user(app, &c.mk, NULL);
	memset(&ctx, 0, sizeof(ctx));
	ctx.op = LS_OBJECT_OP_GENERATE;
	ctx.who = ls_app_who(c.user);
	ctx.mechanism = mech->mechanism;
	ctx.default_key_type = CK_UNAVAILABLE_INFORMATION;
	if ((rv = ls_object_new_key(&ctx, tmpl, count, &obj)) != CKR_OK)
		goto out;
	if ((rv = check_new(obj, c.s->flags, c.user)) != CKR_OK)
		goto out;
	rv = ls_mech_generate_key(mech, ls_object_value_len(obj), &kt, buf, sizeof(buf), &len);
	if (rv != CKR_OK)
		goto out;
	if ((rv = ls_object_complete(obj, buf, len, NULL)) != CKR_OK)
		goto out;
	rv = ls_app_add_object(app, c.s, obj, c.mk, key);
out:
	ls_wipe(buf, sizeof(buf));
	ls_object_unref(obj);
	km_end(app, &c);
	return rv;
}

/* Removes a just-created object again (the second half of a key pair failed). */
static void
undo_object(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh)
{
	if (ls_token_destroy_object(app, h, oh) != CKR_OK)
		ls_warning("C_GenerateKeyPair: could not remove the half-made key pair's object");
}

CK_RV
ls_token_generate_key_pair(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                           const CK_ATTRIBUTE *pub_tmpl, CK_ULONG pub_count,
                           const CK_ATTRIBUTE *priv_tmpl, CK_ULONG priv_count,
                           CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	ls_object_ctx ctx;
	ls_object *po = NULL, *ko = NULL;
	ls_gost_key *gost = NULL;
	uint8_t pub_buf[2 * 64], priv_buf[64];
	size_t pub_len = 0, priv_len = 0;
	CK_OBJECT_HANDLE ph = 0;
	km_call c;
	CK_RV rv;

	if ((rv = km_begin(app, h, &c)) != CKR_OK)
		return rv;
	if (mech == NULL || pub == NULL || priv == NULL || (pub_tmpl == NULL && pub_count > 0) ||
	    (priv_tmpl == NULL && priv_count > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = mech_allows(mech, CKF_GENERATE_KEY_PAIR)) != CKR_OK)
		goto out;
	c.user = ls_app_user(app, &c.mk, NULL);
	memset(&ctx, 0, sizeof(ctx));
	ctx.op = LS_OBJECT_OP_GENERATE;
	ctx.who = ls_app_who(c.user);
	ctx.mechanism = mech->mechanism;
	ctx.default_key_type = CK_UNAVAILABLE_INFORMATION;
	rv = ls_object_new_key_pair(&ctx, pub_tmpl, pub_count, priv_tmpl, priv_count, &po, &ko);
	if (rv != CKR_OK)
		goto out;
	if ((rv = check_new(po, c.s->flags, c.user)) != CKR_OK ||
	    (rv = check_new(ko, c.s->flags, c.user)) != CKR_OK)
		goto out;
	rv = ls_mech_generate_key_pair(mech, ls_object_curve(po), pub_buf, sizeof(pub_buf),
	                               &pub_len, priv_buf, sizeof(priv_buf), &priv_len, &gost);
	if (rv != CKR_OK)
		goto out;
	if ((rv = ls_object_complete(po, pub_buf, pub_len, NULL)) != CKR_OK)
		goto out;
	if ((rv = ls_object_complete(ko, priv_buf, priv_len, &gost)) != CKR_OK)
		goto out;
	if ((rv = ls_app_add_object(app, c.s, po, c.mk, &ph)) != CKR_OK)
		goto out;
	if ((rv = ls_app_add_object(app, c.s, ko, c.mk, priv)) != CKR_OK) {
		undo_object(app, h, ph);
		goto out;
	}
	*pub = ph;
out:
	ls_wipe(priv_buf, sizeof(priv_buf));
	ls_gost_key_free(gost);
	ls_object_unref(po);
	ls_object_unref(ko);
	km_end(app, &c);
	return rv;
}

CK_RV
ls_token_wrap_key(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                  CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, CK_BYTE *out,
                  CK_ULONG *out_len)
{
	ls_object_key wview, kview;
	ls_object *wo = NULL, *ko = NULL;
	km_call c;
	CK_RV rv;

	memset(&wview, 0, sizeof(wview));
	memset(&kview, 0, sizeof(kview));
	if ((rv = km_begin(app, h, &c)) != CKR_OK)
		return rv;
	if (mech == NULL || out_len == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	c.user = ls_app_user(app, &c.mk, NULL);
	if ((rv = ls_app_object(app, wrapping, c.user, &wo)) != CKR_OK) {
		rv = key_rv(rv, CKR_WRAPPING_KEY_HANDLE_INVALID);
		goto out;
	}
	if ((rv = ls_app_object(app, key, c.user, &ko)) != CKR_OK) {
		rv = key_rv(rv, CKR_KEY_HANDLE_INVALID);
		goto out;
	}
	rv = ls_object_check_usage(wo, CKA_WRAP, mech->mechanism);
	if (rv == CKR_KEY_TYPE_INCONSISTENT)
		rv = CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
	if (rv != CKR_OK)
		goto out;
	if ((rv = ls_object_check_wrap(ko, wo)) != CKR_OK)
		goto out;
	if ((rv = ls_object_key_init(wo, km_key(&c), &wview)) != CKR_OK)
		goto out;
	if ((rv = ls_object_key_init(ko, km_key(&c), &kview)) != CKR_OK)
		goto out;
	rv = ls_mech_wrap(mech, &wview.key, &kview.key, out, out_len);
out:
	ls_object_key_clear(&wview);
	ls_object_key_clear(&kview);
	ls_object_unref(wo);
	ls_object_unref(ko);
	km_end(app, &c);
	return rv;
}

CK_RV
ls_token_unwrap_key(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                    CK_OBJECT_HANDLE unwrapping, const CK_BYTE *wrapped, CK_ULONG len,
                    const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *key)
{
	ls_object_ctx ctx;
	ls_object_key uview;
	ls_object *uo = NULL, *obj = NULL;
	uint8_t buf[KEY_BUF_SIZE];
	size_t n = 0;
	km_call c;
	CK_RV rv;

	memset(&uview, 0, sizeof(uview));
	if ((rv = km_begin(app, h, &c)) != CKR_OK)
		return rv;
	if (mech == NULL || key == NULL || (wrapped == NULL && len > 0) ||
	    (tmpl == NULL && count > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	c.user = ls_app_user(app, &c.mk, NULL);
	if ((rv = ls_app_object(app, unwrapping, c.user, &uo)) != CKR_OK) {
		rv = key_rv(rv, CKR_UNWRAPPING_KEY_HANDLE_INVALID);
		goto out;
	}
	rv = ls_object_check_usage(uo, CKA_UNWRAP, mech->mechanism);
	if (rv == CKR_KEY_TYPE_INCONSISTENT)
		rv = CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
	if (rv != CKR_OK)
		goto out;
	memset(&ctx, 0, sizeof(ctx));
	ctx.op = LS_OBJECT_OP_UNWRAP;
	ctx.who = ls_app_who(c.user);
	ctx.mechanism = mech->mechanism;
	ctx.default_key_type = CK_UNAVAILABLE_INFORMATION;
	if ((rv = ls_object_new_key(&ctx, tmpl, count, &obj)) != CKR_OK)
		goto out;
	if ((rv = check_new(obj, c.s->flags, c.user)) != CKR_OK)
		goto out;
	if ((rv = ls_object_key_init(uo, km_key(&c), &uview)) != CKR_OK)
		goto out;
	rv = ls_mech_unwrap(mech, &uview.key, wrapped, len, ls_object_key_type(obj), buf,
	                    sizeof(buf), &n);
	if (rv != CKR_OK)
		goto out;
	if ((rv = ls_object_complete(obj, buf, n, NULL)) != CKR_OK)
		goto out;
	rv = ls_app_add_object(app, c.s, obj, c.mk, key);
out:
	ls_wipe(buf, sizeof(buf));
	ls_object_key_clear(&uview);
	ls_object_unref(uo);
	ls_object_unref(obj);
	km_end(app, &c);
	return rv;
}

CK_RV
ls_token_derive_key(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                    CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                    CK_OBJECT_HANDLE *key)
{
	ls_object_ctx ctx;
	ls_object_key bview;
	ls_object *bo = NULL, *obj = NULL;
	uint8_t buf[KEY_BUF_SIZE];
	size_t n = 0;
	km_call c;
	CK_RV rv;

	memset(&bview, 0, sizeof(bview));
	if ((rv = km_begin(app, h, &c)) != CKR_OK)
		return rv;
	if (mech == NULL || key == NULL || (tmpl == NULL && count > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	c.user = ls_app_user(app, &c.mk, NULL);
	if ((rv = ls_app_object(app, base, c.user, &bo)) != CKR_OK) {
		rv = key_rv(rv, CKR_KEY_HANDLE_INVALID);
		goto out;
	}
	if ((rv = ls_object_check_usage(bo, CKA_DERIVE, mech->mechanism)) != CKR_OK)
		goto out;
	memset(&ctx, 0, sizeof(ctx));
	ctx.op = LS_OBJECT_OP_DERIVE;
	ctx.who = ls_app_who(c.user);
	ctx.mechanism = mech->mechanism;
	ctx.base = bo;
	ctx.default_key_type = CKK_GENERIC_SECRET;
	if ((rv = ls_object_new_key(&ctx, tmpl, count, &obj)) != CKR_OK)
		goto out;
	if ((rv = check_new(obj, c.s->flags, c.user)) != CKR_OK)
		goto out;
	if ((rv = ls_object_key_init(bo, km_key(&c), &bview)) != CKR_OK)
		goto out;
	rv = ls_mech_derive(mech, &bview.key, ls_object_key_type(obj), ls_object_value_len(obj),
	                    buf, sizeof(buf), &n);
	if (rv != CKR_OK)
		goto out;
	if ((rv = ls_object_complete(obj, buf, n, NULL)) != CKR_OK)
		goto out;
	rv = ls_app_add_object(app, c.s, obj, c.mk, key);
out:
	ls_wipe(buf, sizeof(buf));
	ls_object_key_clear(&bview);
	ls_object_unref(bo);
	ls_object_unref(obj);
	km_end(app, &c);
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Randomness
 * ------------------------------------------------------------------------------------------- */

CK_RV
ls_token_seed_random(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *seed, CK_ULONG len)
{
	ls_session *s;
	CK_RV rv;
	int r;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	ls_session_put(app, s);
	if (seed == NULL && len > 0)
		return CKR_ARGUMENTS_BAD;
	if (len == 0)
		return CKR_OK;
	r = ls_random_seed(seed, len);
	return r == LS_OK ? CKR_OK : CKR_FUNCTION_FAILED;
}

CK_RV
ls_token_generate_random(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *out, CK_ULONG len)
{
	ls_session *s;
	CK_RV rv;
	int r;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	ls_session_put(app, s);
	if (out == NULL && len > 0)
		return CKR_ARGUMENTS_BAD;
	if (len == 0)
		return CKR_OK;
	r = ls_random_bytes(out, len);
	return r == LS_OK ? CKR_OK : CKR_FUNCTION_FAILED;
}
