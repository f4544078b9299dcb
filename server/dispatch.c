/*
 * LS11CLOUD - the RPC dispatcher: one decoded request (core/rpc.h) -> the ls_token_* call of
 * the connection's application (token/token.h) or an account operation -> the response.
 *
 * Every handle goes to the engine as the client sent it: the engine looks it up in the
 * application's own tables, so a handle of another application or another account is simply
 * unknown there (CKR_SESSION_HANDLE_INVALID / CKR_OBJECT_HANDLE_INVALID).  No pointer ever
 * comes from the wire.
 *
 * Order of the checks, each answered with its own CK_RV and a log line:
 *   1. a request that does not decode: CKR_ARGUMENTS_BAD, then the connection closes (the
 *      protocol says so; nothing ran); an unknown call id: CKR_FUNCTION_NOT_SUPPORTED, and the
 *      connection carries on;
 *   2. a connection over an account limit at login: CKR_DEVICE_MEMORY, then it closes;
 *   3. an application taken over by a resumption elsewhere: CKR_DEVICE_REMOVED, then close;
 *   4. an account whose password must change: CKR_PIN_EXPIRED for everything but
 *      AccountChangePassword and AccountStatus;
 *   5. a state-changing request whose id this application already answered: the recorded
 *      answer again (resumption after a drop), never a second execution.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "server-private.h"

typedef struct {
	lsd_conn *c;
	lsd_app *app;
	ls_token_app *tapp;
	ls_rpc_msg *msg;
	const ls_rpc_call *call;
	ls_rpc_value out[LS_RPC_MAX_ARGS];
	size_t nout;
	bool bad;         /* an item was not what the table says: a bug */
	bool close_after;
	uint64_t signatures; /* made by this request (added to the application's count) */
	/* Storage for the values of the response. */
	CK_TOKEN_INFO token_info;
	CK_SESSION_INFO session_info;
	CK_MECHANISM_INFO mech_info;
	CK_ULONG ul[2];
	ls_rpc_account_status status;
	uint8_t resume[LS_RPC_RESUME_TOKEN_SIZE];
} req;

static const ls_rpc_value zero_value;

static const ls_rpc_value *
arg(req *r, size_t i, char kind)
{
	const ls_rpc_value *v = ls_rpc_msg_arg(r->msg, i, kind);

	if (v == NULL) {
		r->bad = true;
		return &zero_value;
	}
	return v;
}

static CK_ULONG
ul(req *r, size_t i)
{
	return arg(r, i, 'u')->ul;
}

static CK_ULONG
hd(req *r, size_t i)
{
	return arg(r, i, 'h')->ul;
}

static void
put(req *r, ls_rpc_value v)
{
	if (r->nout < LS_RPC_MAX_ARGS)
		r->out[r->nout++] = v;
	else
		r->bad = true;
}

/* The 'O' answer to an 'o' request: data with CKR_OK and a buffer, otherwise the length. */
static void
put_output(req *r, CK_RV rv, const ls_rpc_value *o, CK_ULONG len)
{
	if (rv == CKR_OK && o->out.buf != NULL)
		put(r, LS_RPC_OUTPUT(o->out.buf, len));
	else
		put(r, LS_RPC_OUTPUT(NULL, len));
}

static void *
scratch(req *r, size_t n)
{
	void *p = ls_rpc_msg_alloc(r->msg, n == 0 ? 1 : n);

	if (p == NULL)
		r->bad = true;
	return p;
}

static void
audit(req *r, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
audit(req *r, const char *event, const char *fmt, ...)
{
	char detail[LS_STORE_AUDIT_DETAIL_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	lsd_audit(r->c->srv->store, r->app->acct->id, event, 0, r->c->addr, "%s", detail);
}

static const char *
user_name(CK_USER_TYPE u)
{
	return u == CKU_SO ? "SO" : u == CKU_USER ? "user" : u == CKU_CONTEXT_SPECIFIC ? "context" : "?";
}

static void
audit_login(req *r, CK_RV rv, CK_USER_TYPE user)
{
	if (rv == CKR_OK)
		audit(r, "login", "%s PIN accepted", user_name(user));
	else if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED)
		audit(r, "login-failed", "%s PIN %s", user_name(user),
		      rv == CKR_PIN_LOCKED ? "locked" : "incorrect");
}

static void
count_signature(req *r, CK_RV rv, const ls_rpc_value *o)
{
	if (rv == CKR_OK && o->out.buf != NULL)
		r->signatures++;
}

/* ---------------------------------------------------------------------------------------------
 * PKCS#11 calls
 * ------------------------------------------------------------------------------------------- */

typedef CK_RV (*init_fn)(ls_token_app *, CK_SESSION_HANDLE, const CK_MECHANISM *, CK_OBJECT_HANDLE);
typedef CK_RV (*data_fn)(ls_token_app *, CK_SESSION_HANDLE, const CK_BYTE *, CK_ULONG, CK_BYTE *,
                         CK_ULONG *);
typedef CK_RV (*update_fn)(ls_token_app *, CK_SESSION_HANDLE, const CK_BYTE *, CK_ULONG);
typedef CK_RV (*final_fn)(ls_token_app *, CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG *);

/* "hMh" */
static CK_RV
do_init(req *r, init_fn fn)
{
	return fn(r->tapp, hd(r, 0), arg(r, 1, 'M')->mech, hd(r, 2));
}

/* "hyo" -> "O" */
static CK_RV
do_data(req *r, data_fn fn)
{
	const ls_rpc_value *d = arg(r, 1, 'y'), *o = arg(r, 2, 'o');
	CK_ULONG len = o->out.len;
	CK_RV rv;

	rv = fn(r->tapp, hd(r, 0), d->bytes.ptr, d->bytes.len, o->out.buf, &len);
	put_output(r, rv, o, len);
	return rv;
}

/* "hy" */
static CK_RV
do_update(req *r, update_fn fn)
{
	const ls_rpc_value *d = arg(r, 1, 'y');

	return fn(r->tapp, hd(r, 0), d->bytes.ptr, d->bytes.len);
}

/* "ho" -> "O" */
static CK_RV
do_final(req *r, final_fn fn)
{
	const ls_rpc_value *o = arg(r, 1, 'o');
	CK_ULONG len = o->out.len;
	CK_RV rv;

	rv = fn(r->tapp, hd(r, 0), o->out.buf, &len);
	put_output(r, rv, o, len);
	return rv;
}

/* "hMhyo" -> "O": XInit then X in one round trip. */
static CK_RV
do_one_shot(req *r, init_fn init, data_fn fn)
{
	const ls_rpc_value *d = arg(r, 3, 'y'), *o = arg(r, 4, 'o');
	CK_ULONG len = o->out.len;
	CK_RV rv;

	rv = init(r->tapp, hd(r, 0), arg(r, 1, 'M')->mech, hd(r, 2));
	if (rv != CKR_OK)
		return rv;
	rv = fn(r->tapp, hd(r, 0), d->bytes.ptr, d->bytes.len, o->out.buf, &len);
	put_output(r, rv, o, len);
	return rv;
}

static CK_RV
do_mechanism_list(req *r, ls_token *token)
{
	CK_ULONG n = 0;
	CK_MECHANISM_TYPE *list;
	CK_RV rv;

	if ((rv = ls_token_get_mechanism_list(token, NULL, &n)) != CKR_OK)
		return rv;
	if ((list = scratch(r, n * sizeof(*list))) == NULL)
		return CKR_HOST_MEMORY;
	if ((rv = ls_token_get_mechanism_list(token, list, &n)) == CKR_OK)
		put(r, LS_RPC_ULONGS(list, n));
	return rv;
}

static CK_RV
do_mechanism_info_all(req *r, ls_token *token)
{
	CK_ULONG n = 0, i;
	CK_MECHANISM_TYPE *list;
	ls_rpc_mech_entry *v;
	CK_RV rv;

	if ((rv = ls_token_get_mechanism_list(token, NULL, &n)) != CKR_OK)
		return rv;
	if (n > LS_RPC_MAX_MECHANISMS)
		n = LS_RPC_MAX_MECHANISMS;
	list = scratch(r, n * sizeof(*list));
	v = scratch(r, n * sizeof(*v));
	if (list == NULL || v == NULL)
		return CKR_HOST_MEMORY;
	if ((rv = ls_token_get_mechanism_list(token, list, &n)) != CKR_OK)
		return rv;
	for (i = 0; i < n; i++) {
		v[i].type = list[i];
		if ((rv = ls_token_get_mechanism_info(token, list[i], &v[i].info)) != CKR_OK)
			return rv;
	}
	put(r, LS_RPC_MECH_LIST(v, n));
	return CKR_OK;
}

/* "hTu" -> "Ub": the first handles come with the init; a search that fits is ended here. */
static CK_RV
do_find_init(req *r)
{
	const ls_rpc_value *t = arg(r, 1, 'T');
	CK_SESSION_HANDLE h = hd(r, 0);
	CK_ULONG want = ul(r, 2), count = 0;
	CK_OBJECT_HANDLE *found = NULL;
	bool all = false;
	CK_RV rv;

	rv = ls_token_find_objects_init(r->tapp, h, t->attrs.v, t->attrs.n);
	if (rv != CKR_OK)
		return rv;
	if (want > LS_RPC_MAX_ULONGS)
		want = LS_RPC_MAX_ULONGS;
	if (want > 0) {
		if ((found = scratch(r, want * sizeof(*found))) == NULL)
			return CKR_HOST_MEMORY;
		rv = ls_token_find_objects(r->tapp, h, found, want, &count);
		if (rv != CKR_OK) {
			/* The init failed as far as the client knows: leave no search behind. */
			ls_token_find_objects_final(r->tapp, h);
			return rv;
		}
		if (count < want) {
			all = true;
			rv = ls_token_find_objects_final(r->tapp, h);
			if (rv != CKR_OK)
				return rv;
		}
	}
	put(r, LS_RPC_ULONGS(found, count));
	put(r, LS_RPC_BOOL(all));
	return CKR_OK;
}

static CK_RV
do_find(req *r)
{
	CK_ULONG want = ul(r, 1), count = 0;
	CK_OBJECT_HANDLE *found = NULL;
	CK_RV rv;

	if (want > LS_RPC_MAX_ULONGS)
		want = LS_RPC_MAX_ULONGS;
	if (want > 0 && (found = scratch(r, want * sizeof(*found))) == NULL)
		return CKR_HOST_MEMORY;
	rv = ls_token_find_objects(r->tapp, hd(r, 0), found, want, &count);
	if (rv == CKR_OK)
		put(r, LS_RPC_ULONGS(found, count));
	return rv;
}

static CK_RV
do_generate_random(req *r)
{
	CK_ULONG len = ul(r, 1);
	CK_BYTE *buf;
	CK_RV rv;

	/* The module splits larger requests; more than one answer holds is a broken client. */
	if (len > LS_RPC_MAX_OUTPUT)
		return CKR_ARGUMENTS_BAD;
	if ((buf = scratch(r, len)) == NULL)
		return CKR_HOST_MEMORY;
	rv = ls_token_generate_random(r->tapp, hd(r, 0), buf, len);
	if (rv == CKR_OK)
		put(r, LS_RPC_BYTES(len > 0 ? buf : NULL, len));
	return rv;
}

static CK_RV
run_pkcs11(req *r)
{
	ls_token_app *a = r->tapp;
	ls_token *token = ls_token_app_token(a);
	const ls_rpc_value *v1, *v2, *v3;
	CK_ULONG handle = 0, handle2 = 0, len;
	CK_RV rv;

	switch (r->call->id) {
	case LS_RPC_C_GetTokenInfo:
		rv = ls_token_get_token_info(token, &r->token_info);
		put(r, LS_RPC_TOKEN_INFO(&r->token_info));
		return rv;
	case LS_RPC_C_GetMechanismList:
		return do_mechanism_list(r, token);
	case LS_RPC_C_GetMechanismInfo:
		rv = ls_token_get_mechanism_info(token, ul(r, 0), &r->mech_info);
		put(r, LS_RPC_MECH_INFO(&r->mech_info));
		return rv;
	case LS_RPC_GetMechanismInfoAll:
		return do_mechanism_info_all(r, token);
	case LS_RPC_C_InitToken:
		v1 = arg(r, 0, 'p');
		v2 = arg(r, 1, 'L');
		rv = ls_token_init_token(a, v1->bytes.ptr, v1->bytes.len, v2->bytes.ptr);
		if (rv == CKR_OK)
			audit(r, "token-initialized", "C_InitToken");
		else if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED)
			audit_login(r, rv, CKU_SO);
		return rv;
	case LS_RPC_C_InitPIN:
		v1 = arg(r, 1, 'p');
		rv = ls_token_init_pin(a, hd(r, 0), v1->bytes.ptr, v1->bytes.len);
		if (rv == CKR_OK)
			audit(r, "pin-initialized", "user PIN set by the SO");
		return rv;
	case LS_RPC_C_SetPIN:
		v1 = arg(r, 1, 'p');
		v2 = arg(r, 2, 'p');
		rv = ls_token_set_pin(a, hd(r, 0), v1->bytes.ptr, v1->bytes.len, v2->bytes.ptr,
		                      v2->bytes.len);
		if (rv == CKR_OK)
			audit(r, "pin-changed", "C_SetPIN");
		else if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED)
			audit(r, "login-failed", "C_SetPIN: old PIN %s",
			      rv == CKR_PIN_LOCKED ? "locked" : "incorrect");
		return rv;
	case LS_RPC_C_OpenSession:
		rv = ls_token_open_session(a, ul(r, 0), &handle);
		put(r, LS_RPC_HANDLE(handle));
		return rv;
	case LS_RPC_C_CloseSession:
		return ls_token_close_session(a, hd(r, 0));
	case LS_RPC_C_CloseAllSessions:
		return ls_token_close_all_sessions(a);
	case LS_RPC_C_GetSessionInfo:
		rv = ls_token_get_session_info(a, hd(r, 0), &r->session_info);
		put(r, LS_RPC_SESSION_INFO(&r->session_info));
		return rv;
	case LS_RPC_C_GetOperationState:
		v1 = arg(r, 1, 'o');
		len = v1->out.len;
		rv = ls_token_get_operation_state(a, hd(r, 0), v1->out.buf, &len);
		put_output(r, rv, v1, len);
		return rv;
	case LS_RPC_C_SetOperationState:
		v1 = arg(r, 1, 'y');
		return ls_token_set_operation_state(a, hd(r, 0), v1->bytes.ptr, v1->bytes.len,
		                                    hd(r, 2), hd(r, 3));
	case LS_RPC_C_Login:
		v1 = arg(r, 2, 'p');
		rv = ls_token_login(a, hd(r, 0), ul(r, 1), v1->bytes.ptr, v1->bytes.len);
		audit_login(r, rv, ul(r, 1));
		return rv;
	case LS_RPC_C_LoginUser:
		v1 = arg(r, 2, 'p');
		v2 = arg(r, 3, 'p');
		rv = ls_token_login_user(a, hd(r, 0), ul(r, 1), v1->bytes.ptr, v1->bytes.len,
		                         v2->bytes.ptr, v2->bytes.len);
		audit_login(r, rv, ul(r, 1));
		return rv;
	case LS_RPC_C_Logout:
		return ls_token_logout(a, hd(r, 0));
	case LS_RPC_C_SessionCancel:
		return ls_token_session_cancel(a, hd(r, 0), ul(r, 1));

	case LS_RPC_C_CreateObject:
		v1 = arg(r, 1, 'T');
		rv = ls_token_create_object(a, hd(r, 0), v1->attrs.v, v1->attrs.n, &handle);
		put(r, LS_RPC_HANDLE(handle));
		return rv;
	case LS_RPC_C_CopyObject:
		v1 = arg(r, 2, 'T');
		rv = ls_token_copy_object(a, hd(r, 0), hd(r, 1), v1->attrs.v, v1->attrs.n, &handle);
		put(r, LS_RPC_HANDLE(handle));
		return rv;
	case LS_RPC_C_DestroyObject:
		rv = ls_token_destroy_object(a, hd(r, 0), hd(r, 1));
		if (rv == CKR_OK)
			audit(r, "object-deleted", "object handle %lu", (unsigned long)hd(r, 1));
		return rv;
	case LS_RPC_C_GetObjectSize:
		rv = ls_token_get_object_size(a, hd(r, 0), hd(r, 1), &r->ul[0]);
		put(r, LS_RPC_ULONG(r->ul[0]));
		return rv;
	case LS_RPC_C_GetAttributeValue:
		v1 = arg(r, 2, 'A');
		rv = ls_token_get_attribute_value(a, hd(r, 0), hd(r, 1), v1->attrs.v, v1->attrs.n);
		put(r, LS_RPC_RESULTS(v1->attrs.v, v1->attrs.n));
		return rv;
	case LS_RPC_C_SetAttributeValue:
		v1 = arg(r, 2, 'T');
		return ls_token_set_attribute_value(a, hd(r, 0), hd(r, 1), v1->attrs.v, v1->attrs.n);
	case LS_RPC_C_FindObjectsInit:
		return do_find_init(r);
	case LS_RPC_C_FindObjects:
		return do_find(r);
	case LS_RPC_C_FindObjectsFinal:
		return ls_token_find_objects_final(a, hd(r, 0));

	case LS_RPC_C_EncryptInit:
		return do_init(r, ls_token_encrypt_init);
	case LS_RPC_C_Encrypt:
		return do_data(r, ls_token_encrypt);
	case LS_RPC_C_EncryptUpdate:
		return do_data(r, ls_token_encrypt_update);
	case LS_RPC_C_EncryptFinal:
		return do_final(r, ls_token_encrypt_final);
	case LS_RPC_C_DecryptInit:
		return do_init(r, ls_token_decrypt_init);
	case LS_RPC_C_Decrypt:
		return do_data(r, ls_token_decrypt);
	case LS_RPC_C_DecryptUpdate:
		return do_data(r, ls_token_decrypt_update);
	case LS_RPC_C_DecryptFinal:
		return do_final(r, ls_token_decrypt_final);
	case LS_RPC_C_DigestInit:
		return ls_token_digest_init(a, hd(r, 0), arg(r, 1, 'M')->mech);
	case LS_RPC_C_Digest:
		return do_data(r, ls_token_digest);
	case LS_RPC_C_DigestUpdate:
		return do_update(r, ls_token_digest_update);
	case LS_RPC_C_DigestKey:
		return ls_token_digest_key(a, hd(r, 0), hd(r, 1));
	case LS_RPC_C_DigestFinal:
		return do_final(r, ls_token_digest_final);
	case LS_RPC_C_SignInit:
		return do_init(r, ls_token_sign_init);
	case LS_RPC_C_Sign:
		rv = do_data(r, ls_token_sign);
		count_signature(r, rv, arg(r, 2, 'o'));
		return rv;
	case LS_RPC_C_SignUpdate:
		return do_update(r, ls_token_sign_update);
	case LS_RPC_C_SignFinal:
		rv = do_final(r, ls_token_sign_final);
		count_signature(r, rv, arg(r, 1, 'o'));
		return rv;
	case LS_RPC_C_SignRecoverInit:
		return do_init(r, ls_token_sign_recover_init);
	case LS_RPC_C_SignRecover:
		rv = do_data(r, ls_token_sign_recover);
		count_signature(r, rv, arg(r, 2, 'o'));
		return rv;
	case LS_RPC_C_VerifyInit:
		return do_init(r, ls_token_verify_init);
	case LS_RPC_C_Verify:
		v1 = arg(r, 1, 'y');
		v2 = arg(r, 2, 'y');
		return ls_token_verify(a, hd(r, 0), v1->bytes.ptr, v1->bytes.len, v2->bytes.ptr,
		                       v2->bytes.len);
	case LS_RPC_C_VerifyUpdate:
		return do_update(r, ls_token_verify_update);
	case LS_RPC_C_VerifyFinal:
		v1 = arg(r, 1, 'y');
		return ls_token_verify_final(a, hd(r, 0), v1->bytes.ptr, v1->bytes.len);
	case LS_RPC_C_VerifyRecoverInit:
		return do_init(r, ls_token_verify_recover_init);
	case LS_RPC_C_VerifyRecover:
		return do_data(r, ls_token_verify_recover);

	case LS_RPC_C_GenerateKey:
		v1 = arg(r, 1, 'M');
		v2 = arg(r, 2, 'T');
		rv = ls_token_generate_key(a, hd(r, 0), v1->mech, v2->attrs.v, v2->attrs.n, &handle);
		if (rv == CKR_OK)
			audit(r, "keygen", "secret key, mechanism 0x%lx",
			      (unsigned long)v1->mech->mechanism);
		put(r, LS_RPC_HANDLE(handle));
		return rv;
	case LS_RPC_C_GenerateKeyPair:
		v1 = arg(r, 1, 'M');
		v2 = arg(r, 2, 'T');
		v3 = arg(r, 3, 'T');
		rv = ls_token_generate_key_pair(a, hd(r, 0), v1->mech, v2->attrs.v, v2->attrs.n,
		                                v3->attrs.v, v3->attrs.n, &handle, &handle2);
		if (rv == CKR_OK)
			audit(r, "keygen", "key pair, mechanism 0x%lx",
			      (unsigned long)v1->mech->mechanism);
		put(r, LS_RPC_HANDLE(handle));
		put(r, LS_RPC_HANDLE(handle2));
		return rv;
	case LS_RPC_C_WrapKey:
		v1 = arg(r, 4, 'o');
		len = v1->out.len;
		rv = ls_token_wrap_key(a, hd(r, 0), arg(r, 1, 'M')->mech, hd(r, 2), hd(r, 3),
		                       v1->out.buf, &len);
		put_output(r, rv, v1, len);
		return rv;
	case LS_RPC_C_UnwrapKey:
		v1 = arg(r, 3, 'y');
		v2 = arg(r, 4, 'T');
		rv = ls_token_unwrap_key(a, hd(r, 0), arg(r, 1, 'M')->mech, hd(r, 2), v1->bytes.ptr,
		                         v1->bytes.len, v2->attrs.v, v2->attrs.n, &handle);
		put(r, LS_RPC_HANDLE(handle));
		return rv;
	case LS_RPC_C_DeriveKey:
		v1 = arg(r, 3, 'T');
		rv = ls_token_derive_key(a, hd(r, 0), arg(r, 1, 'M')->mech, hd(r, 2), v1->attrs.v,
		                         v1->attrs.n, &handle);
		put(r, LS_RPC_HANDLE(handle));
		return rv;
	case LS_RPC_C_SeedRandom:
		return do_update(r, ls_token_seed_random);
	case LS_RPC_C_GenerateRandom:
		return do_generate_random(r);

	case LS_RPC_SignOneShot:
		rv = do_one_shot(r, ls_token_sign_init, ls_token_sign);
		count_signature(r, rv, arg(r, 4, 'o'));
		return rv;
	case LS_RPC_VerifyOneShot:
		v1 = arg(r, 3, 'y');
		v2 = arg(r, 4, 'y');
		rv = ls_token_verify_init(a, hd(r, 0), arg(r, 1, 'M')->mech, hd(r, 2));
		if (rv != CKR_OK)
			return rv;
		return ls_token_verify(a, hd(r, 0), v1->bytes.ptr, v1->bytes.len, v2->bytes.ptr,
		                       v2->bytes.len);
	case LS_RPC_EncryptOneShot:
		return do_one_shot(r, ls_token_encrypt_init, ls_token_encrypt);
	case LS_RPC_DecryptOneShot:
		return do_one_shot(r, ls_token_decrypt_init, ls_token_decrypt);
	default:
		/* Every PKCS#11 row of the table is handled above: a new row needs its case. */
		ls_error("dispatch: the RPC table's %s has no handler in the server", r->call->name);
		return CKR_GENERAL_ERROR;
	}
}

/* ---------------------------------------------------------------------------------------------
 * Account operations
 * ------------------------------------------------------------------------------------------- */

static uint32_t
account_state(lsd_conn *c)
{
	uint32_t s;

	pthread_mutex_lock(&c->srv->reg_lock);
	s = c->acct != NULL ? c->acct->state : LSD_ACCOUNT_ACTIVE;
	pthread_mutex_unlock(&c->srv->reg_lock);
	return s;
}

static CK_RV
do_change_password(req *r)
{
	const ls_rpc_value *v = arg(r, 0, 'V');
	ls_sespake_verifier ver;
	lsd_conn *c = r->c;
	int e;

	if (v->bytes.len != sizeof(ver))
		return CKR_ARGUMENTS_BAD;
	memcpy(&ver, v->bytes.ptr, sizeof(ver));
	if ((e = ls_sespake_verifier_check(&ver)) != LS_OK) {
		ls_warning("%s: '%s': the new verifier is not valid: %s", c->peer, c->nickname,
		           ls_strerror(e));
		ls_wipe(&ver, sizeof(ver));
		return CKR_ARGUMENTS_BAD;
	}
	e = lsd_account_set_verifier(c->srv->store, r->app->acct->id, &ver, &c->srv->limits,
	                             c->addr);
	ls_wipe(&ver, sizeof(ver));
	if (e != LS_OK) {
		ls_error("%s: '%s': the password cannot be changed: %s", c->peer, c->nickname,
		         ls_strerror(e));
		return CKR_DEVICE_ERROR;
	}
	pthread_mutex_lock(&c->srv->reg_lock);
	r->app->acct->state = LSD_ACCOUNT_ACTIVE;
	pthread_mutex_unlock(&c->srv->reg_lock);
	ls_info("%s: '%s' changed the password", c->peer, c->nickname);
	return CKR_OK;
}

static CK_RV
do_status(req *r)
{
	lsd_conn *c = r->c;
	ls_rpc_account_status *s = &r->status;
	ls_store_account a;
	ls_store_txn *txn = NULL;
	CK_TOKEN_INFO ti;
	uint64_t entries = 0;
	char *nick, *from;
	int e;

	if ((e = lsd_account_get(c->srv->store, r->app->acct->id, &a)) != LS_OK)
		return e == LS_ERR_NOT_FOUND ? CKR_DEVICE_REMOVED : CKR_DEVICE_ERROR;
	if ((e = ls_store_begin(c->srv->store, false, &txn)) == LS_OK) {
		e = ls_store_audit_count(txn, a.id, &entries);
		ls_store_rollback(txn);
	}
	nick = scratch(r, strlen(a.nickname) + 1);
	from = scratch(r, strlen(a.last_login_from) + 1);
	if (e != LS_OK || nick == NULL || from == NULL) {
		ls_wipe(&a, sizeof(a));
		return e != LS_OK ? CKR_DEVICE_ERROR : CKR_HOST_MEMORY;
	}
	memcpy(nick, a.nickname, strlen(a.nickname) + 1);
	memcpy(from, a.last_login_from, strlen(a.last_login_from) + 1);
	memset(s, 0, sizeof(*s));
	s->nickname = nick;
	s->last_login_from = from;
	if (a.state == LSD_ACCOUNT_MUST_CHANGE_PASSWORD)
		s->flags |= LS_RPC_ACCOUNT_PASSWORD_MUST_CHANGE;
	if (a.state == LSD_ACCOUNT_LOCKED)
		s->flags |= LS_RPC_ACCOUNT_LOCKED;
	if (r->tapp != NULL && ls_token_get_token_info(ls_token_app_token(r->tapp), &ti) == CKR_OK &&
	    (ti.flags & CKF_TOKEN_INITIALIZED))
		s->flags |= LS_RPC_ACCOUNT_TOKEN_INITIALIZED;
	s->created = (uint64_t)a.created_at;
	s->password_changed = (uint64_t)a.password_changed_at;
	s->last_login = (uint64_t)a.last_login_at;
	s->failed_logins = c->srv->limits.clim1 > a.c1 ? c->srv->limits.clim1 - a.c1 : 0;
	s->connections = lsd_registry_account_conns(c);
	s->log_entries = entries;
	put(r, LS_RPC_STATUS(s));
	ls_wipe(&a, sizeof(a));
	return CKR_OK;
}

typedef struct {
	req *r;
	ls_rpc_log_entry *v;
	CK_ULONG n, cap;
	uint64_t last;
	bool more;
} log_page;

static int
log_row(void *ctx, const ls_store_audit *row)
{
	log_page *p = ctx;
	ls_rpc_log_entry *e;
	char text[LS_RPC_MAX_TEXT];
	char *copy;
	int n;

	if (p->n == p->cap) {
		p->more = true;
		return 1;
	}
	e = &p->v[p->n];
	n = snprintf(text, sizeof(text), "%s%s%s%s%s", row->event,
	             row->source[0] != '\0' ? " from " : "", row->source,
	             row->detail[0] != '\0' ? ": " : "", row->detail);
	if (row->count > 0 && n > 0 && (size_t)n < sizeof(text))
		snprintf(text + n, sizeof(text) - (size_t)n, " (%llu)",
		         (unsigned long long)row->count);
	if ((copy = scratch(p->r, strlen(text) + 1)) == NULL)
		return LS_ERR_NOMEM;
	memcpy(copy, text, strlen(text) + 1);
	e->seq = row->id;
	e->time = (uint64_t)row->at;
	e->event = lsd_audit_event_code(row->event);
	e->text = copy;
	p->last = row->id;
	p->n++;
	return LS_OK;
}

static CK_RV
do_read_log(req *r)
{
	lsd_conn *c = r->c;
	CK_ULONG first = ul(r, 0), want = ul(r, 1);
	log_page p = { .r = r };
	ls_store_txn *txn = NULL;
	int e;

	if (want == 0 || want > LS_RPC_MAX_LOG_ENTRIES)
		want = LS_RPC_MAX_LOG_ENTRIES;
	p.cap = want;
	p.last = first > 0 ? first - 1 : 0;
	if ((p.v = scratch(r, want * sizeof(*p.v))) == NULL)
		return CKR_HOST_MEMORY;
	if ((e = ls_store_begin(c->srv->store, false, &txn)) != LS_OK)
		return CKR_DEVICE_ERROR;
	/* One row more than asked tells whether more follow. */
	e = ls_store_audit_list(txn, r->app->acct->id, first, (uint32_t)want + 1, log_row, &p);
	ls_store_rollback(txn);
	if (e != LS_OK)
		return e == LS_ERR_NOMEM ? CKR_HOST_MEMORY : CKR_DEVICE_ERROR;
	put(r, LS_RPC_LOG(p.v, p.n));
	put(r, LS_RPC_ULONG(p.n > 0 ? p.last + 1 : first));
	put(r, LS_RPC_BOOL(p.more));
	return CKR_OK;
}

static CK_RV
run_account(req *r)
{
	lsd_conn *c = r->c;
	uint64_t left = 0;
	bool resumed = false;
	CK_RV rv;

	switch (r->call->id) {
	case LS_RPC_AccountChangePassword:
		return do_change_password(r);
	case LS_RPC_AccountStatus:
		return do_status(r);
	case LS_RPC_AccountReadLog:
		return do_read_log(r);
	case LS_RPC_AccountRecreateToken:
		rv = lsd_registry_recreate(c, r->app);
		if (rv == CKR_SESSION_EXISTS)
			ls_warning("%s: '%s': token re-creation refused: other applications are "
			           "connected",
			           c->peer, c->nickname);
		r->tapp = r->app->tapp;
		return rv;
	case LS_RPC_AccountUnregister:
		rv = lsd_registry_unregister(c, r->app);
		if (rv == CKR_SESSION_EXISTS)
			ls_warning("%s: '%s': unregistration refused: other applications are "
			           "connected",
			           c->peer, c->nickname);
		if (rv == CKR_OK)
			r->close_after = true;
		r->tapp = NULL;
		return rv;
	case LS_RPC_LeaseNew:
		if (lsd_app_new_resume(c->srv, r->app, r->resume) != LS_OK)
			return CKR_FUNCTION_FAILED;
		put(r, LS_RPC_RESUME_TOKEN(r->resume));
		put(r, LS_RPC_ULONG((CK_ULONG)c->srv->cfg->resume_lease * 1000));
		return CKR_OK;
	case LS_RPC_LeaseResume:
		if (lsd_app_resume(c, r->app, arg(r, 0, 'K')->bytes.ptr, &resumed, &left,
		                   r->resume) != LS_OK)
			return CKR_FUNCTION_FAILED;
		put(r, LS_RPC_ULONG(resumed ? LS_RPC_LEASE_RESUMED : LS_RPC_LEASE_EXPIRED));
		put(r, LS_RPC_ULONG(left));
		put(r, LS_RPC_RESUME_TOKEN(r->resume));
		return CKR_OK;
	default:
		ls_error("dispatch: the RPC table's %s has no handler in the server", r->call->name);
		return CKR_GENERAL_ERROR;
	}
}

/* ---------------------------------------------------------------------------------------------
 * The record of answers (resumption)
 * ------------------------------------------------------------------------------------------- */

static bool
replayable(const ls_rpc_call *call)
{
	return (call->flags & (LS_RPC_F_READONLY | LS_RPC_F_ACCOUNT)) == 0;
}

static const lsd_replay *
replay_find(const lsd_app *app, uint64_t id)
{
	unsigned i;

	for (i = 0; i < LSD_REPLAY_SLOTS; i++) {
		if (app->replay[i].data != NULL && app->replay[i].request_id == id)
			return &app->replay[i];
	}
	return NULL;
}

static bool
seen(const lsd_app *app, uint64_t id)
{
	unsigned i;

	for (i = 0; i < app->seen_count; i++) {
		if (app->seen[i] == id)
			return true;
	}
	return false;
}

static void
replay_record(lsd_app *app, uint64_t id, const ls_buf *resp)
{
	lsd_replay *slot;
	size_t len = ls_buf_len(resp);
	uint8_t *copy;
	unsigned i;

	app->seen[app->seen_next] = id;
	app->seen_next = (app->seen_next + 1) % LSD_SEEN_IDS;
	if (app->seen_count < LSD_SEEN_IDS)
		app->seen_count++;
	if (len > LSD_REPLAY_BYTES || (copy = malloc(len)) == NULL)
		return;
	memcpy(copy, ls_buf_data(resp), len);
	/* Make room: the next slot in turn, then the oldest until the bytes fit. */
	for (i = 0; i <= LSD_REPLAY_SLOTS; i++) {
		slot = &app->replay[(app->replay_next + i) % LSD_REPLAY_SLOTS];
		if (i > 0 && app->replay_bytes + len <= LSD_REPLAY_BYTES)
			break;
		if (slot->data != NULL) {
			app->replay_bytes -= slot->len;
			ls_wipe(slot->data, slot->len);
			free(slot->data);
			slot->data = NULL;
			slot->len = 0;
		}
	}
	slot = &app->replay[app->replay_next];
	slot->request_id = id;
	slot->data = copy;
	slot->len = len;
	app->replay_bytes += len;
	app->replay_next = (app->replay_next + 1) % LSD_REPLAY_SLOTS;
}

static bool
inprog_has(const lsd_app *app, uint64_t id)
{
	const lsd_inprog *p;

	for (p = app->inprog; p != NULL; p = p->next) {
		if (p->id == id)
			return true;
	}
	return false;
}

static void
inprog_remove(lsd_app *app, lsd_inprog *me)
{
	lsd_inprog **pp;

	for (pp = &app->inprog; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == me) {
			*pp = me->next;
			break;
		}
	}
}

/* ---------------------------------------------------------------------------------------------
 * Ordering (docs/server.md, "Concurrent requests")
 * ------------------------------------------------------------------------------------------- */

bool
lsd_call_is_barrier(const ls_rpc_call *call)
{
	if ((call->flags & LS_RPC_F_ACCOUNT) != 0 || call->request[0] != 'h')
		return true; /* account operations, leases, session-less calls */
	switch (call->id) {
	case LS_RPC_C_CloseSession:
	case LS_RPC_C_Login:
	case LS_RPC_C_LoginUser:
	case LS_RPC_C_Logout:
	case LS_RPC_C_InitPIN:
	case LS_RPC_C_SetPIN:
		return true; /* they change the application's login state or its sessions */
	default:
		return false;
	}
}

lsd_req_kind
lsd_req_classify(const ls_buf *plain, uint64_t *session)
{
	const ls_rpc_call *call;
	ls_buf head;
	uint16_t call_id = 0;
	uint64_t id = 0, h = 0;

	ls_buf_init_view(&head, ls_buf_cursor(plain), ls_buf_remaining(plain));
	if (ls_buf_get_u16(&head, &call_id) != LS_OK || ls_buf_get_u64(&head, &id) != LS_OK ||
	    (call = ls_rpc_call_find(call_id)) == NULL || lsd_call_is_barrier(call) ||
	    ls_buf_get_u64(&head, &h) != LS_OK)
		return LSD_REQ_BARRIER;
	*session = h;
	return LSD_REQ_SESSION;
}

/* ---------------------------------------------------------------------------------------------
 * The entry point
 * ------------------------------------------------------------------------------------------- */

static void
answer_error(ls_buf *resp, uint64_t id, CK_RV rv)
{
	ls_buf_reset(resp);
	ls_rpc_response_encode_error(resp, id, rv);
}

void
lsd_dispatch(lsd_conn *c, ls_buf *plain, ls_buf *resp, bool *close_after)
{
	req r;
	ls_buf head;
	uint16_t call_id = 0;
	uint64_t id = 0;
	const lsd_replay *rec;
	lsd_inprog running = { 0 };
	bool barrier;
	CK_RV rv;
	int e;

	memset(&r, 0, sizeof(r));
	r.c = c;
	*close_after = false;
	ls_buf_init_view(&head, ls_buf_cursor(plain), ls_buf_remaining(plain));
	if (ls_buf_get_u16(&head, &call_id) != LS_OK || ls_buf_get_u64(&head, &id) != LS_OK) {
		ls_warning("%s: a request of %zu bytes, shorter than its header: closing", c->peer,
		           ls_buf_remaining(plain));
		*close_after = true;
		return;
	}
	e = ls_rpc_request_decode(plain, &r.msg);
	if (e == LS_ERR_UNSUPPORTED) {
		rv = ls_rpc_msg_rv(r.msg);
		ls_warning("%s: request %llu refused: %s (call 0x%04x, CK_RV 0x%lx)", c->peer,
		           (unsigned long long)id,
		           rv == CKR_FUNCTION_NOT_SUPPORTED ? "unknown call id"
		                                            : "a mechanism parameter of the wrong kind",
		           call_id, (unsigned long)rv);
		answer_error(resp, id, rv);
		goto out;
	}
	if (e != LS_OK) {
		ls_warning("%s: malformed %s request %llu: %s: closing", c->peer,
		           ls_rpc_call_name(call_id), (unsigned long long)id, ls_strerror(e));
		answer_error(resp, id, CKR_ARGUMENTS_BAD);
		*close_after = true;
		goto out;
	}
	r.call = ls_rpc_call_find(call_id);
	if (r.call == NULL) { /* decode refuses unknown ids: cannot happen */
		answer_error(resp, id, CKR_FUNCTION_NOT_SUPPORTED);
		goto out;
	}
	if (c->refused != NULL) {
		ls_warning("%s: %s refused: %s", c->peer, r.call->name, c->refused);
		answer_error(resp, id, CKR_DEVICE_MEMORY);
		*close_after = true;
		goto out;
	}
	if ((r.app = lsd_app_get(c)) == NULL) {
		ls_warning("%s: %s refused: this connection's application was resumed elsewhere",
		           c->peer, r.call->name);
		answer_error(resp, id, CKR_DEVICE_REMOVED);
		*close_after = true;
		goto out;
	}
	barrier = lsd_call_is_barrier(r.call);
	if (barrier)
		pthread_rwlock_wrlock(&r.app->exec);
	else
		pthread_rwlock_rdlock(&r.app->exec);
	pthread_mutex_lock(&r.app->lock);
	/* The same id still running (sent again after a drop while the old connection's job
	 * runs): wait for it, then answer from the record below. */
	while (replayable(r.call) && inprog_has(r.app, id))
		pthread_cond_wait(&r.app->idle, &r.app->lock);
	r.tapp = r.app->tapp;
	if (replayable(r.call) && (rec = replay_find(r.app, id)) != NULL) {
		ls_info("%s: %s request %llu answered again from the record (not run twice)",
		        c->peer, r.call->name, (unsigned long long)id);
		ls_buf_reset(resp);
		ls_buf_add(resp, rec->data, rec->len);
		goto unlock;
	}
	if (replayable(r.call) && seen(r.app, id)) {
		ls_warning("%s: %s request %llu was already run and its answer is no longer kept",
		           c->peer, r.call->name, (unsigned long long)id);
		answer_error(resp, id, CKR_FUNCTION_FAILED);
		goto unlock;
	}
	if (account_state(c) == LSD_ACCOUNT_MUST_CHANGE_PASSWORD &&
	    r.call->id != LS_RPC_AccountChangePassword && r.call->id != LS_RPC_AccountStatus) {
		ls_warning("%s: %s refused: '%s' must change the password first", c->peer,
		           r.call->name, c->nickname);
		answer_error(resp, id, CKR_PIN_EXPIRED);
		goto unlock;
	}
	if (r.tapp == NULL && (r.call->flags & LS_RPC_F_ACCOUNT) == 0) {
		answer_error(resp, id, CKR_DEVICE_REMOVED);
		goto unlock;
	}
	if (replayable(r.call)) {
		running.id = id;
		running.next = r.app->inprog;
		r.app->inprog = &running;
	}
	/* Ordinary requests run side by side: the engine serialises calls on one session. */
	if (!barrier)
		pthread_mutex_unlock(&r.app->lock);
	rv = (r.call->flags & LS_RPC_F_ACCOUNT) ? run_account(&r) : run_pkcs11(&r);
	if (r.bad) {
		ls_error("%s: %s: internal mismatch with the RPC table", c->peer, r.call->name);
		rv = CKR_GENERAL_ERROR;
		r.nout = 0;
	}
	ls_buf_reset(resp);
	e = ls_rpc_response_encode(resp, r.call->id, id, rv, r.out, r.nout);
	if (e != LS_OK) {
		ls_error("%s: the answer to %s cannot be encoded: %s", c->peer, r.call->name,
		         ls_strerror(e));
		answer_error(resp, id, CKR_GENERAL_ERROR);
	}
	if (ls_log_enabled(LS_LOG_DEBUG))
		ls_debug("%s: %s -> 0x%lx", c->peer, r.call->name, (unsigned long)rv);
	if (!barrier)
		pthread_mutex_lock(&r.app->lock);
	r.app->signatures += r.signatures;
	if (replayable(r.call)) {
		replay_record(r.app, id, resp);
		inprog_remove(r.app, &running);
		pthread_cond_broadcast(&r.app->idle);
	}
	*close_after = r.close_after;
unlock:
	pthread_mutex_unlock(&r.app->lock);
	pthread_rwlock_unlock(&r.app->exec);
	lsd_app_put(c->srv, r.app);
out:
	ls_rpc_msg_free(r.msg);
}
