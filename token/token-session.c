/*
 * LS11CLOUD - the token engine: sessions, login state, PINs and the PIN policy.
 *
 * Login state is per application: every session of one ls_token_app shares it, and another
 * application of the same token is unaffected (its own handles, its own login).
 *
 * PIN policy.  A PIN is never compared in clear: it is right when it unwraps the master key
 * (the MGM tag of token/protect.h decides).  Every check is counted BEFORE it is made: one
 * write transaction adds a failure to the role's counter (refusing with CKR_PIN_LOCKED at the
 * limit), then PBKDF2 runs with no engine lock held, then a second transaction resets the
 * counter on success (and applies the change the call makes) or, on a wrong PIN, leaves the
 * failure counted and marks the role locked at the limit.  So a crash, a kill or any number of
 * parallel guesses can never test more PINs than the limit allows.  A PIN whose length is
 * outside [pin_min_len, pin_max_len] cannot be the PIN: it is refused (CKR_PIN_INCORRECT) without
 * being counted, as the range is public.  The attempt that reaches the limit answers
 * CKR_PIN_INCORRECT; every later one CKR_PIN_LOCKED, also with the right PIN.  C_InitPIN by the
 * SO unlocks the user.  C_GetTokenInfo shows attempts in flight as not failed (yet).
 *
 * C_LoginUser: this token has no user names; a NULL or empty name logs in like C_Login, a
 * non-empty one is refused with CKR_ARGUMENTS_BAD (nothing is counted).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "token-private.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"

/* ---------------------------------------------------------------------------------------------
 * Session references
 * ------------------------------------------------------------------------------------------- */

void
ls_sop_end(ls_sop *sop)
{
	ls_op_free(sop->op);
	if (sop->has_key)
		ls_object_key_clear(&sop->key);
	memset(sop, 0, sizeof(*sop));
}

void
ls_session_end_ops(ls_session *s)
{
	size_t i;

	for (i = 0; i < LS_SOP_COUNT; i++)
		ls_sop_end(&s->ops[i]);
	free(s->found);
	s->found = NULL;
	s->found_count = s->found_pos = 0;
	s->find_active = false;
}

static void
session_free(ls_session *s)
{
	ls_session_end_ops(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

CK_RV
ls_session_get(ls_token_app *app, CK_SESSION_HANDLE h, ls_session **out)
{
	ls_session *s;

	*out = NULL;
	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	pthread_mutex_lock(&app->lock);
	s = ls_tmap_get(&app->sessions, h);
	if (s != NULL)
		s->refs++;
	pthread_mutex_unlock(&app->lock);
	if (s == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	*out = s;
	return CKR_OK;
}

void
ls_session_put(ls_token_app *app, ls_session *s)
{
	bool last;

	if (s == NULL)
		return;
	pthread_mutex_lock(&app->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&app->lock);
	if (last)
		session_free(s);
}

CK_RV
ls_session_enter(ls_token_app *app, CK_SESSION_HANDLE h, ls_session **out)
{
	ls_session *s;
	bool closed;
	CK_RV rv;

	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	pthread_mutex_lock(&s->lock);
	pthread_mutex_lock(&app->lock);
	closed = s->closed;
	pthread_mutex_unlock(&app->lock);
	if (closed) {
		/* Closed by another thread while this call waited for the session. */
		pthread_mutex_unlock(&s->lock);
		ls_session_put(app, s);
		return CKR_SESSION_CLOSED;
	}
	*out = s;
	return CKR_OK;
}

void
ls_session_leave(ls_token_app *app, ls_session *s)
{
	if (s == NULL)
		return;
	pthread_mutex_unlock(&s->lock);
	ls_session_put(app, s);
}

CK_USER_TYPE
ls_app_user(ls_token_app *app, ls_token_mk **mk, uint64_t *gen)
{
	CK_USER_TYPE user;

	pthread_mutex_lock(&app->lock);
	user = app->user;
	if (mk != NULL)
		*mk = ls_token_mk_ref(app->mk);
	if (gen != NULL)
		*gen = app->login_gen;
	pthread_mutex_unlock(&app->lock);
	return user;
}

/*
 * Logs @app out (app->lock held): returns the master key to release outside the lock, and
 * whether the token has no logged-in user left (its cached secrets are then forgotten).
 */
static ls_token_mk *
app_logout_locked(ls_token_app *app, bool *last_user)
{
	ls_token *token = app->token;
	ls_token_mk *mk = app->mk;

	*last_user = false;
	if (app->user == CKU_USER) {
		pthread_mutex_lock(&token->lock);
		*last_user = --token->user_logins == 0;
		pthread_mutex_unlock(&token->lock);
	}
	app->user = LS_TOKEN_NOBODY;
	app->mk = NULL;
	app->login_gen++;
	return mk;
}

static void
app_logout_finish(ls_token_app *app, ls_token_mk *mk, bool last_user)
{
	ls_token_mk_unref(mk);
	if (last_user)
		ls_token_cache_forget_secrets(app->token);
}

/* ---------------------------------------------------------------------------------------------
 * Sessions
 * ------------------------------------------------------------------------------------------- */

CK_RV
ls_token_open_session(ls_token_app *app, CK_FLAGS flags, CK_SESSION_HANDLE *h)
{
	ls_token *token;
	ls_session *s = NULL;
	CK_RV rv;
	int r;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if (h == NULL)
		return CKR_ARGUMENTS_BAD;
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	token = app->token;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CKR_HOST_MEMORY;
	s->flags = CKF_SERIAL_SESSION | (flags & CKF_RW_SESSION);
	s->refs = 1; /* the table's */
	pthread_mutex_init(&s->lock, NULL);

	for (;;) {
		pthread_mutex_lock(&app->lock);
		pthread_mutex_lock(&token->lock);
		if (!token->initializing)
			break;
		/* C_InitToken runs: wait for it without holding the application's lock. */
		pthread_mutex_unlock(&app->lock);
		while (token->initializing)
			pthread_cond_wait(&token->cond, &token->lock);
		pthread_mutex_unlock(&token->lock);
	}
	if (!(token->rec.flags & CKF_TOKEN_INITIALIZED)) {
		rv = CKR_TOKEN_NOT_RECOGNIZED;
	} else if (app->user == CKU_SO && !(flags & CKF_RW_SESSION)) {
		rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
	} else if (app->sessions.count >= token->cfg.max_sessions) {
		rv = CKR_SESSION_COUNT;
	} else {
		s->handle = app->next_session;
		r = ls_tmap_put(&app->sessions, s->handle, s);
		if (r == LS_OK) {
			app->next_session++;
			token->session_count++;
			if (s->flags & CKF_RW_SESSION) {
				token->rw_session_count++;
				app->rw_sessions++;
			}
			*h = s->handle;
			s = NULL;
			rv = CKR_OK;
		} else {
			rv = ls_token_rv(r);
		}
	}
	pthread_mutex_unlock(&token->lock);
	pthread_mutex_unlock(&app->lock);
	if (s != NULL)
		session_free(s);
	return rv;
}

/* Takes @s out of the tables (app->lock held); the caller drops the table's reference. */
static void
session_unlink_locked(ls_token_app *app, ls_session *s)
{
	ls_token *token = app->token;

	ls_tmap_remove(&app->sessions, s->handle);
	s->closed = true;
	pthread_mutex_lock(&token->lock);
	token->session_count--;
	if (s->flags & CKF_RW_SESSION) {
		token->rw_session_count--;
		app->rw_sessions--;
	}
	pthread_mutex_unlock(&token->lock);
}

CK_RV
ls_token_close_session(ls_token_app *app, CK_SESSION_HANDLE h)
{
	ls_session *s;
	ls_token_mk *mk = NULL;
	bool last = false, last_user = false;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	pthread_mutex_lock(&app->lock);
	s = ls_tmap_get(&app->sessions, h);
	if (s == NULL) {
		pthread_mutex_unlock(&app->lock);
		return CKR_SESSION_HANDLE_INVALID;
	}
	session_unlink_locked(app, s);
	if (app->sessions.count == 0) {
		/* The last session: the application returns to the public state. */
		last = true;
		mk = app_logout_locked(app, &last_user);
	}
	pthread_mutex_unlock(&app->lock);

	ls_app_destroy_session_objects(app, h);
	if (last)
		app_logout_finish(app, mk, last_user);
	ls_session_put(app, s);
	return CKR_OK;
}

CK_RV
ls_token_close_all_sessions(ls_token_app *app)
{
	ls_session **all = NULL;
	ls_token_mk *mk;
	size_t n = 0, iter = 0, i;
	bool last_user = false;
	void *val;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	pthread_mutex_lock(&app->lock);
	if (app->sessions.count > 0) {
		all = calloc(app->sessions.count, sizeof(*all));
		if (all == NULL) {
			pthread_mutex_unlock(&app->lock);
			return CKR_HOST_MEMORY;
		}
		while (ls_tmap_next(&app->sessions, &iter, NULL, &val))
			all[n++] = val;
		for (i = 0; i < n; i++)
			session_unlink_locked(app, all[i]);
	}
	mk = app_logout_locked(app, &last_user);
	pthread_mutex_unlock(&app->lock);

	ls_app_destroy_session_objects(app, 0);
	app_logout_finish(app, mk, last_user);
	for (i = 0; i < n; i++)
		ls_session_put(app, all[i]);
	free(all);
	return CKR_OK;
}

static CK_STATE
session_state(CK_USER_TYPE user, CK_FLAGS flags)
{
	bool rw = (flags & CKF_RW_SESSION) != 0;

	if (user == CKU_SO)
		return CKS_RW_SO_FUNCTIONS;
	if (user == CKU_USER)
		return rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
	return rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
}

CK_RV
ls_token_get_session_info(ls_token_app *app, CK_SESSION_HANDLE h, CK_SESSION_INFO *info)
{
	ls_session *s;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	if (info == NULL) {
		ls_session_put(app, s);
		return CKR_ARGUMENTS_BAD;
	}
	memset(info, 0, sizeof(*info));
	info->slotID = 0; /* the module maps its slot */
	info->state = session_state(ls_app_user(app, NULL, NULL), s->flags);
	info->flags = s->flags;
	info->ulDeviceError = 0;
	ls_session_put(app, s);
	return CKR_OK;
}

static bool
session_has_op(ls_session *s)
{
	size_t i;

	for (i = 0; i < LS_SOP_COUNT; i++) {
		if (s->ops[i].op != NULL)
			return true;
	}
	return s->find_active;
}

CK_RV
ls_token_get_operation_state(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *state,
                             CK_ULONG *state_len)
{
	ls_session *s;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_enter(app, h, &s)) != CKR_OK)
		return rv;
	if (state_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (!session_has_op(s))
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else
		rv = CKR_STATE_UNSAVEABLE; /* keys and digest states never leave the token */
	ls_session_leave(app, s);
	return rv;
}

CK_RV
ls_token_set_operation_state(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *state,
                             CK_ULONG state_len, CK_OBJECT_HANDLE enc_key,
                             CK_OBJECT_HANDLE auth_key)
{
	ls_session *s;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	ls_session_put(app, s);
	if (state == NULL)
		return CKR_ARGUMENTS_BAD;
	/* We never hand out a state, so no state can be ours. */
	return CKR_SAVED_STATE_INVALID;
}

CK_RV
ls_token_session_cancel(ls_token_app *app, CK_SESSION_HANDLE h, CK_FLAGS flags)
{
	static const struct {
		CK_FLAGS flag;
		int kind;
	} kinds[] = {
		{CKF_ENCRYPT, LS_SOP_ENCRYPT}, {CKF_DECRYPT, LS_SOP_DECRYPT},
		{CKF_DIGEST, LS_SOP_DIGEST},   {CKF_SIGN, LS_SOP_SIGN},
		{CKF_VERIFY, LS_SOP_VERIFY},
	};
	ls_session *s;
	size_t i;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_enter(app, h, &s)) != CKR_OK)
		return rv;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (flags & kinds[i].flag)
			ls_sop_end(&s->ops[kinds[i].kind]);
	}
	if (flags & CKF_FIND_OBJECTS) {
		free(s->found);
		s->found = NULL;
		s->found_count = s->found_pos = 0;
		s->find_active = false;
	}
	ls_session_leave(app, s);
	return CKR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * PIN attempts
 * ------------------------------------------------------------------------------------------- */

typedef enum {
	ATTEMPT_OK,     /* the PIN was right: reset the counter, apply the change */
	ATTEMPT_FAILED, /* the PIN was wrong: the failure stays counted */
	ATTEMPT_VOID,   /* no verdict (an error): take the counted failure back */
} attempt_result;

/* A change made in the transaction that closes a successful attempt. */
typedef int (*attempt_apply)(ls_store_txn *txn, ls_store_token *rec, void *ctx);

static uint32_t *
failures_of(ls_store_token *rec, ls_protect_role role)
{
	return role == LS_PROTECT_SO ? &rec->so_failures : &rec->user_failures;
}

static CK_FLAGS
locked_flag(ls_protect_role role)
{
	return role == LS_PROTECT_SO ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
}

/* Updates the cached record (@rec NULL: keeps it) and the count of attempts in flight. */
static void
cache_record(ls_token *token, const ls_store_token *rec, int attempts_delta,
             ls_protect_role role)
{
	pthread_mutex_lock(&token->lock);
	if (rec != NULL)
		token->rec = *rec;
	if (role == LS_PROTECT_SO)
		token->so_attempts += attempts_delta;
	else
		token->user_attempts += attempts_delta;
	pthread_mutex_unlock(&token->lock);
}

/*
 * Counts a failure of @role in advance and hands out the role's wrap blob (@wrap holds
 * LS_STORE_WRAP_MAX bytes).  CKR_PIN_LOCKED at the limit; CKR_USER_PIN_NOT_INITIALIZED for a
 * user without a PIN.
 */
static CK_RV
attempt_begin(ls_token *token, ls_protect_role role, uint8_t *wrap, size_t *wrap_len,
              bool *initialized)
{
	ls_store_token rec;
	ls_store_txn *txn = NULL;
	uint32_t *failures;
	int delta = 0;
	CK_RV rv;
	int r;

	memset(&rec, 0, sizeof(rec));
	if ((r = ls_store_begin(token->store, true, &txn)) != LS_OK)
		return ls_token_rv(r);
	if ((r = ls_store_token_get(txn, token->id, &rec)) != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	failures = failures_of(&rec, role);
	*initialized = (rec.flags & CKF_TOKEN_INITIALIZED) != 0;
	if ((rec.flags & locked_flag(role)) || *failures >= token->cfg.max_pin_failures) {
		rv = CKR_PIN_LOCKED;
		goto out;
	}
	if (role == LS_PROTECT_USER &&
	    (rec.user_wrap_len == 0 || !(rec.flags & CKF_USER_PIN_INITIALIZED))) {
		rv = CKR_USER_PIN_NOT_INITIALIZED;
		goto out;
	}
	if (role == LS_PROTECT_SO) {
		memcpy(wrap, rec.so_wrap, rec.so_wrap_len);
		*wrap_len = rec.so_wrap_len;
	} else {
		memcpy(wrap, rec.user_wrap, rec.user_wrap_len);
		*wrap_len = rec.user_wrap_len;
	}
	(*failures)++;
	if ((r = ls_store_token_update(txn, &rec)) != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	r = ls_store_commit(txn);
	txn = NULL;
	if (r != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	delta = 1;
	rv = CKR_OK;
out:
	ls_store_rollback(txn);
	/* The record as read (refusals) or as written (a counted attempt) is the current one. */
	if (rv == CKR_OK || rv == CKR_PIN_LOCKED || rv == CKR_USER_PIN_NOT_INITIALIZED)
		cache_record(token, &rec, delta, role);
	ls_wipe(&rec, sizeof(rec));
	return rv;
}

/* Closes an attempt opened by attempt_begin() (always: the in-flight count drops). */
static CK_RV
attempt_end(ls_token *token, ls_protect_role role, attempt_result result, attempt_apply apply,
            void *ctx)
{
	ls_store_token rec;
	ls_store_txn *txn = NULL;
	uint32_t *failures;
	bool stored = false;
	CK_RV rv;
	int r;

	memset(&rec, 0, sizeof(rec));
	if ((r = ls_store_begin(token->store, true, &txn)) != LS_OK) {
		txn = NULL;
		rv = ls_token_rv(r);
		goto out;
	}
	if ((r = ls_store_token_get(txn, token->id, &rec)) != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	failures = failures_of(&rec, role);
	switch (result) {
	case ATTEMPT_OK:
		*failures = 0;
		if (apply != NULL && (r = apply(txn, &rec, ctx)) != LS_OK) {
			rv = ls_token_rv(r);
			goto out;
		}
		break;
	case ATTEMPT_FAILED:
		if (*failures >= token->cfg.max_pin_failures)
			rec.flags |= locked_flag(role);
		break;
	case ATTEMPT_VOID:
		if (*failures > 0)
			(*failures)--;
		break;
	}
	if ((r = ls_store_token_update(txn, &rec)) != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	r = ls_store_commit(txn);
	txn = NULL;
	if (r != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	stored = true;
	rv = CKR_OK;
out:
	ls_store_rollback(txn);
	cache_record(token, stored ? &rec : NULL, -1, role);
	ls_wipe(&rec, sizeof(rec));
	return rv;
}

static bool
pin_len_ok(const ls_token *token, CK_ULONG len)
{
	return len >= token->cfg.pin_min_len && len <= token->cfg.pin_max_len;
}

static bool
is_default_so_pin(const CK_UTF8CHAR *pin, CK_ULONG len)
{
	static const char def[] = LS_TOKEN_DEFAULT_SO_PIN;

	return len == sizeof(def) - 1 && ls_ct_equal(pin, def, len);
}

/*
 * Checks @pin against the role's wrap (PBKDF2, no lock held).  *@key gets the master key, or
 * NULL for the SO of a fresh token (no wrap yet: its PIN is the public default).  Returns
 * ATTEMPT_OK, ATTEMPT_FAILED, or ATTEMPT_VOID with *@rv set.
 */
static attempt_result
pin_check(ls_token *token, ls_protect_role role, const uint8_t *wrap, size_t wrap_len,
          bool initialized, const CK_UTF8CHAR *pin, CK_ULONG len, ls_protect_key **key,
          CK_RV *rv)
{
	int r;

	*key = NULL;
	*rv = CKR_OK;
	if (wrap_len == 0) {
		if (role == LS_PROTECT_SO && !initialized)
			return is_default_so_pin(pin, len) ? ATTEMPT_OK : ATTEMPT_FAILED;
		ls_error("token %llu: no wrap of the master key for the %s",
		         (unsigned long long)token->id, role == LS_PROTECT_SO ? "SO" : "user");
		*rv = CKR_DEVICE_ERROR;
		return ATTEMPT_VOID;
	}
	r = ls_protect_unwrap(token->id, role, wrap, wrap_len, pin, len, key);
	if (r == LS_OK)
		return ATTEMPT_OK;
	if (r == LS_ERR_AUTH_FAILED)
		return ATTEMPT_FAILED;
	ls_error("token %llu: the %s wrap of the master key does not open: %s",
	         (unsigned long long)token->id, role == LS_PROTECT_SO ? "SO" : "user",
	         ls_strerror(r));
	*rv = r == LS_ERR_NOMEM ? CKR_HOST_MEMORY : CKR_DEVICE_ERROR;
	return ATTEMPT_VOID;
}

/*
 * One whole PIN verification: count, check, settle.  On CKR_OK *@key has the master key (NULL
 * for a fresh token's SO).  @apply runs in the settling transaction of a right PIN.
 */
static CK_RV
pin_verify(ls_token *token, ls_protect_role role, const CK_UTF8CHAR *pin, CK_ULONG len,
           attempt_apply apply, void *ctx, ls_protect_key **key)
{
	uint8_t wrap[LS_STORE_WRAP_MAX];
	size_t wrap_len = 0;
	attempt_result res;
	bool initialized = false;
	CK_RV rv, rv2;

	*key = NULL;
	if ((rv = attempt_begin(token, role, wrap, &wrap_len, &initialized)) != CKR_OK)
		return rv;
	res = pin_check(token, role, wrap, wrap_len, initialized, pin, len, key, &rv);
	rv2 = attempt_end(token, role, res, res == ATTEMPT_OK ? apply : NULL, ctx);
	if (res == ATTEMPT_FAILED)
		rv = CKR_PIN_INCORRECT;
	else if (rv == CKR_OK)
		rv = rv2;
	if (rv != CKR_OK) {
		ls_protect_key_free(*key);
		*key = NULL;
	}
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Login
 * ------------------------------------------------------------------------------------------- */

/*
 * After a successful login: a wrap made with fewer PBKDF2 iterations than this token's setting
 * is made again with the setting (with the PIN at hand), so raising the setting strengthens
 * existing tokens.  Best effort: a failure is logged and the old wrap stays.
 */
static void
rewrap_if_weak(ls_token *token, ls_protect_role role, const ls_protect_key *key,
               const CK_UTF8CHAR *pin, CK_ULONG len)
{
	uint32_t target = token->cfg.pbkdf2_iterations != 0 ? token->cfg.pbkdf2_iterations
	                                                     : LS_PROTECT_DEFAULT_ITERATIONS;
	uint8_t old[LS_STORE_WRAP_MAX], fresh[LS_PROTECT_WRAP_SIZE];
	size_t old_len, fresh_len = 0;
	ls_store_token rec;
	ls_store_txn *txn = NULL;
	uint32_t iterations = 0;
	uint8_t *cur;
	size_t *cur_len;
	int r;

	memset(&rec, 0, sizeof(rec));
	pthread_mutex_lock(&token->lock);
	old_len = role == LS_PROTECT_SO ? token->rec.so_wrap_len : token->rec.user_wrap_len;
	memcpy(old, role == LS_PROTECT_SO ? token->rec.so_wrap : token->rec.user_wrap, old_len);
	pthread_mutex_unlock(&token->lock);
	if (ls_protect_wrap_iterations(old, old_len, &iterations) != LS_OK || iterations >= target)
		return;
	r = ls_protect_wrap(key, role, pin, len, target, fresh, sizeof(fresh), &fresh_len);
	if (r == LS_OK)
		r = ls_store_begin(token->store, true, &txn);
	if (r == LS_OK)
		r = ls_store_token_get(txn, token->id, &rec);
	if (r == LS_OK) {
		cur = role == LS_PROTECT_SO ? rec.so_wrap : rec.user_wrap;
		cur_len = role == LS_PROTECT_SO ? &rec.so_wrap_len : &rec.user_wrap_len;
		/* Only if nobody changed the PIN meanwhile. */
		if (*cur_len == old_len && memcmp(cur, old, old_len) == 0) {
			memcpy(cur, fresh, fresh_len);
			*cur_len = fresh_len;
			r = ls_store_token_update(txn, &rec);
			if (r == LS_OK) {
				r = ls_store_commit(txn);
				txn = NULL;
				if (r == LS_OK)
					cache_record(token, &rec, 0, role);
			}
		}
	}
	ls_store_rollback(txn);
	if (r != LS_OK)
		ls_warning("token %llu: could not strengthen the %s PIN wrap: %s",
		           (unsigned long long)token->id, role == LS_PROTECT_SO ? "SO" : "user",
		           ls_strerror(r));
	ls_wipe(&rec, sizeof(rec));
	ls_wipe(old, sizeof(old));
	ls_wipe(fresh, sizeof(fresh));
}

static CK_RV
login_context_specific(ls_token_app *app, CK_SESSION_HANDLE h, const CK_UTF8CHAR *pin,
                       CK_ULONG len)
{
	ls_protect_key *key = NULL;
	ls_session *s;
	bool pending = false;
	size_t i;
	CK_RV rv;

	if ((rv = ls_session_enter(app, h, &s)) != CKR_OK)
		return rv;
	for (i = 0; i < LS_SOP_COUNT; i++)
		pending |= s->ops[i].op != NULL && s->ops[i].needs_auth;
	if (!pending) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	if (pin == NULL && len > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (!pin_len_ok(app->token, len)) {
		rv = CKR_PIN_INCORRECT;
		goto out;
	}
	rv = pin_verify(app->token, LS_PROTECT_USER, pin, len, NULL, NULL, &key);
	ls_protect_key_free(key);
	if (rv == CKR_OK) {
		for (i = 0; i < LS_SOP_COUNT; i++)
			s->ops[i].needs_auth = false;
	}
out:
	ls_session_leave(app, s);
	return rv;
}

CK_RV
ls_token_login(ls_token_app *app, CK_SESSION_HANDLE h, CK_USER_TYPE user, const CK_UTF8CHAR *pin,
               CK_ULONG pin_len)
{
	ls_protect_key *key = NULL;
	ls_token_mk *mk = NULL;
	ls_session *s = NULL;
	ls_token *token;
	ls_protect_role role;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if (user == CKU_CONTEXT_SPECIFIC)
		return login_context_specific(app, h, pin, pin_len);
	token = app->token;

	pthread_mutex_lock(&app->login_lock);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		goto out;
	if (user != CKU_USER && user != CKU_SO) {
		rv = CKR_USER_TYPE_INVALID;
		goto out;
	}
	if (pin == NULL && pin_len > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	pthread_mutex_lock(&app->lock);
	if (app->user == user)
		rv = CKR_USER_ALREADY_LOGGED_IN;
	else if (app->user != LS_TOKEN_NOBODY)
		rv = CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
	else if (user == CKU_SO && app->rw_sessions < app->sessions.count)
		rv = CKR_SESSION_READ_ONLY_EXISTS;
	pthread_mutex_unlock(&app->lock);
	if (rv != CKR_OK)
		goto out;
	if (!pin_len_ok(token, pin_len)) {
		rv = CKR_PIN_INCORRECT;
		goto out;
	}

	role = user == CKU_SO ? LS_PROTECT_SO : LS_PROTECT_USER;
	if ((rv = pin_verify(token, role, pin, pin_len, NULL, NULL, &key)) != CKR_OK)
		goto out;
	if (key == NULL) {
		/* Sessions only open on an initialised token, whose SO PIN wraps the key. */
		rv = CKR_GENERAL_ERROR;
		goto out;
	}
	rewrap_if_weak(token, role, key, pin, pin_len);
	mk = ls_token_mk_new(key);
	key = NULL;
	if (mk == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}

	pthread_mutex_lock(&app->lock);
	if (s->closed) {
		rv = CKR_SESSION_CLOSED;
	} else {
		app->user = user;
		app->mk = mk;
		mk = NULL;
		if (user == CKU_USER) {
			pthread_mutex_lock(&token->lock);
			token->user_logins++;
			pthread_mutex_unlock(&token->lock);
		}
	}
	pthread_mutex_unlock(&app->lock);
out:
	ls_token_mk_unref(mk);
	ls_protect_key_free(key);
	ls_session_put(app, s);
	pthread_mutex_unlock(&app->login_lock);
	return rv;
}

CK_RV
ls_token_login_user(ls_token_app *app, CK_SESSION_HANDLE h, CK_USER_TYPE user,
                    const CK_UTF8CHAR *pin, CK_ULONG pin_len, const CK_UTF8CHAR *username,
                    CK_ULONG username_len)
{
	ls_session *s;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	ls_session_put(app, s);
	if (username == NULL && username_len > 0)
		return CKR_ARGUMENTS_BAD;
	if (username_len > 0)
		return CKR_ARGUMENTS_BAD; /* no user names on this token */
	return ls_token_login(app, h, user, pin, pin_len);
}

CK_RV
ls_token_logout(ls_token_app *app, CK_SESSION_HANDLE h)
{
	ls_session *s = NULL;
	ls_token_mk *mk = NULL;
	bool last_user = false, was_in = false;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	pthread_mutex_lock(&app->login_lock);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		goto out;
	pthread_mutex_lock(&app->lock);
	if (app->user == LS_TOKEN_NOBODY) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else {
		mk = app_logout_locked(app, &last_user);
		was_in = true;
	}
	pthread_mutex_unlock(&app->lock);
	if (was_in)
		app_logout_finish(app, mk, last_user);
out:
	ls_session_put(app, s);
	pthread_mutex_unlock(&app->login_lock);
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * C_InitToken, C_InitPIN, C_SetPIN
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	ls_token *token;
	const CK_UTF8CHAR *label;
	bool default_pin;
	uint8_t wrap[LS_PROTECT_WRAP_SIZE];
	size_t wrap_len;
} init_token_ctx;

static int
collect_id(void *ctx, const ls_store_object *obj)
{
	struct {
		uint64_t *ids;
		size_t n, cap;
	} *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap == 0 ? 256 : c->cap * 2;
		uint64_t *ids = realloc(c->ids, cap * sizeof(*ids));

		if (ids == NULL)
			return LS_ERR_NOMEM;
		c->ids = ids;
		c->cap = cap;
	}
	c->ids[c->n++] = obj->id;
	return LS_OK;
}

/* In the settling transaction of C_InitToken: every object goes, the new wrap comes in. */
static int
init_token_apply(ls_store_txn *txn, ls_store_token *rec, void *vctx)
{
	init_token_ctx *ctx = vctx;
	struct {
		uint64_t *ids;
		size_t n, cap;
	} c = {NULL, 0, 0};
	size_t i;
	int r;

	r = ls_store_object_find(txn, ctx->token->id, NULL, collect_id, &c);
	for (i = 0; r == LS_OK && i < c.n; i++)
		r = ls_store_object_delete(txn, ctx->token->id, c.ids[i]);
	free(c.ids);
	if (r != LS_OK)
		return r;
	memcpy(rec->label, ctx->label, LS_STORE_LABEL_SIZE);
	rec->flags &= ~(CK_FLAGS)(CKF_USER_PIN_INITIALIZED | CKF_USER_PIN_LOCKED |
	                          CKF_USER_PIN_TO_BE_CHANGED | CKF_SO_PIN_LOCKED |
	                          CKF_SO_PIN_TO_BE_CHANGED);
	rec->flags |= CKF_TOKEN_INITIALIZED;
	if (ctx->default_pin)
		rec->flags |= CKF_SO_PIN_TO_BE_CHANGED;
	rec->user_failures = 0;
	rec->so_failures = 0;
	ls_wipe(rec->user_wrap, sizeof(rec->user_wrap));
	rec->user_wrap_len = 0;
	memcpy(rec->so_wrap, ctx->wrap, ctx->wrap_len);
	rec->so_wrap_len = ctx->wrap_len;
	rec->format_version = LS_PROTECT_FORMAT_VERSION;
	return LS_OK;
}

CK_RV
ls_token_init_token(ls_token_app *app, const CK_UTF8CHAR *so_pin, CK_ULONG so_pin_len,
                    const CK_UTF8CHAR *label)
{
	init_token_ctx ctx;
	ls_protect_key *old = NULL, *fresh = NULL;
	ls_token *token;
	uint8_t wrap[LS_STORE_WRAP_MAX];
	size_t wrap_len = 0;
	attempt_result res;
	bool initialized = false;
	CK_RV rv, rv2;
	int r;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((so_pin == NULL && so_pin_len > 0) || label == NULL)
		return CKR_ARGUMENTS_BAD;
	token = app->token;
	if (!pin_len_ok(token, so_pin_len))
		return CKR_PIN_INCORRECT;

	pthread_mutex_lock(&token->lock);
	while (token->initializing)
		pthread_cond_wait(&token->cond, &token->lock);
	if (token->session_count > 0) {
		pthread_mutex_unlock(&token->lock);
		return CKR_SESSION_EXISTS;
	}
	token->initializing = true;
	pthread_mutex_unlock(&token->lock);

	memset(&ctx, 0, sizeof(ctx));
	ctx.token = token;
	ctx.label = label;
	ctx.default_pin = is_default_so_pin(so_pin, so_pin_len);

	if ((rv = attempt_begin(token, LS_PROTECT_SO, wrap, &wrap_len, &initialized)) != CKR_OK)
		goto out;
	res = pin_check(token, LS_PROTECT_SO, wrap, wrap_len, initialized, so_pin, so_pin_len,
	                &old, &rv);
	if (res == ATTEMPT_OK) {
		/* A new master key: nothing sealed under the old one survives (objects go). */
		r = ls_protect_key_generate(token->id, &fresh);
		if (r == LS_OK)
			r = ls_protect_wrap(fresh, LS_PROTECT_SO, so_pin, so_pin_len,
			                    token->cfg.pbkdf2_iterations, ctx.wrap, sizeof(ctx.wrap),
			                    &ctx.wrap_len);
		if (r != LS_OK) {
			res = ATTEMPT_VOID;
			rv = ls_token_rv(r);
		}
	}
	rv2 = attempt_end(token, LS_PROTECT_SO, res, res == ATTEMPT_OK ? init_token_apply : NULL,
	                  &ctx);
	if (res == ATTEMPT_FAILED)
		rv = CKR_PIN_INCORRECT;
	else if (rv == CKR_OK)
		rv = rv2;
	if (rv == CKR_OK)
		ls_token_cache_flush(token);
out:
	ls_protect_key_free(old);
	ls_protect_key_free(fresh);
	ls_wipe(&ctx, sizeof(ctx));
	ls_wipe(wrap, sizeof(wrap));
	pthread_mutex_lock(&token->lock);
	token->initializing = false;
	pthread_cond_broadcast(&token->cond);
	pthread_mutex_unlock(&token->lock);
	return rv;
}

CK_RV
ls_token_init_pin(ls_token_app *app, CK_SESSION_HANDLE h, const CK_UTF8CHAR *pin,
                  CK_ULONG pin_len)
{
	ls_store_token rec;
	ls_store_txn *txn = NULL;
	ls_token_mk *mk = NULL;
	ls_session *s = NULL;
	ls_token *token;
	uint8_t wrap[LS_PROTECT_WRAP_SIZE];
	size_t wrap_len = 0;
	CK_USER_TYPE user;
	CK_RV rv;
	int r;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	token = app->token;
	memset(&rec, 0, sizeof(rec));
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	user = ls_app_user(app, &mk, NULL);
	if (user != CKU_SO || mk == NULL) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	if (!(s->flags & CKF_RW_SESSION)) {
		rv = CKR_SESSION_READ_ONLY;
		goto out;
	}
	if (pin == NULL && pin_len > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (!pin_len_ok(token, pin_len)) {
		rv = CKR_PIN_LEN_RANGE;
		goto out;
	}
	r = ls_protect_wrap(mk->key, LS_PROTECT_USER, pin, pin_len, token->cfg.pbkdf2_iterations,
	                    wrap, sizeof(wrap), &wrap_len);
	if (r != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	if ((r = ls_store_begin(token->store, true, &txn)) != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	r = ls_store_token_get(txn, token->id, &rec);
	if (r == LS_OK) {
		memcpy(rec.user_wrap, wrap, wrap_len);
		rec.user_wrap_len = wrap_len;
		rec.user_failures = 0;
		rec.flags &= ~(CK_FLAGS)CKF_USER_PIN_LOCKED;
		rec.flags |= CKF_USER_PIN_INITIALIZED | CKF_USER_PIN_TO_BE_CHANGED;
		r = ls_store_token_update(txn, &rec);
	}
	if (r != LS_OK) {
		ls_store_rollback(txn);
		rv = ls_token_rv(r);
		goto out;
	}
	if ((r = ls_store_commit(txn)) != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	pthread_mutex_lock(&token->lock);
	token->rec = rec;
	pthread_mutex_unlock(&token->lock);
	rv = CKR_OK;
out:
	ls_wipe(&rec, sizeof(rec));
	ls_wipe(wrap, sizeof(wrap));
	ls_token_mk_unref(mk);
	ls_session_put(app, s);
	return rv;
}

typedef struct {
	ls_protect_role role;
	bool default_pin;
	uint8_t wrap[LS_PROTECT_WRAP_SIZE];
	size_t wrap_len;
} set_pin_ctx;

static int
set_pin_apply(ls_store_txn *txn, ls_store_token *rec, void *vctx)
{
	set_pin_ctx *ctx = vctx;

	if (ctx->role == LS_PROTECT_SO) {
		memcpy(rec->so_wrap, ctx->wrap, ctx->wrap_len);
		rec->so_wrap_len = ctx->wrap_len;
		if (ctx->default_pin)
			rec->flags |= CKF_SO_PIN_TO_BE_CHANGED;
		else
			rec->flags &= ~(CK_FLAGS)CKF_SO_PIN_TO_BE_CHANGED;
	} else {
		memcpy(rec->user_wrap, ctx->wrap, ctx->wrap_len);
		rec->user_wrap_len = ctx->wrap_len;
		rec->flags &= ~(CK_FLAGS)CKF_USER_PIN_TO_BE_CHANGED;
	}
	return LS_OK;
}

CK_RV
ls_token_set_pin(ls_token_app *app, CK_SESSION_HANDLE h, const CK_UTF8CHAR *old_pin,
                 CK_ULONG old_len, const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	set_pin_ctx ctx;
	ls_protect_key *key = NULL;
	ls_session *s = NULL;
	ls_token *token;
	uint8_t wrap[LS_STORE_WRAP_MAX];
	size_t wrap_len = 0;
	attempt_result res;
	bool initialized = false;
	CK_RV rv, rv2;
	int r;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	token = app->token;
	memset(&ctx, 0, sizeof(ctx));
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	if (!(s->flags & CKF_RW_SESSION)) {
		rv = CKR_SESSION_READ_ONLY;
		goto out;
	}
	if ((old_pin == NULL && old_len > 0) || (new_pin == NULL && new_len > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	/* The SO changes the SO PIN; the user, or anyone in a public session, the user PIN. */
	ctx.role = ls_app_user(app, NULL, NULL) == CKU_SO ? LS_PROTECT_SO : LS_PROTECT_USER;
	ctx.default_pin = is_default_so_pin(new_pin, new_len);
	if (!pin_len_ok(token, new_len)) {
		rv = CKR_PIN_LEN_RANGE;
		goto out;
	}
	if (!pin_len_ok(token, old_len)) {
		rv = CKR_PIN_INCORRECT;
		goto out;
	}

	if ((rv = attempt_begin(token, ctx.role, wrap, &wrap_len, &initialized)) != CKR_OK)
		goto out;
	res = pin_check(token, ctx.role, wrap, wrap_len, initialized, old_pin, old_len, &key,
	                &rv);
	if (res == ATTEMPT_OK) {
		r = key == NULL ? LS_ERR_INTERNAL
		                : ls_protect_wrap(key, ctx.role, new_pin, new_len,
		                                  token->cfg.pbkdf2_iterations, ctx.wrap,
		                                  sizeof(ctx.wrap), &ctx.wrap_len);
		if (r != LS_OK) {
			res = ATTEMPT_VOID;
			rv = ls_token_rv(r);
		}
	}
	rv2 = attempt_end(token, ctx.role, res, res == ATTEMPT_OK ? set_pin_apply : NULL, &ctx);
	if (res == ATTEMPT_FAILED)
		rv = CKR_PIN_INCORRECT;
	else if (rv == CKR_OK)
		rv = rv2;
out:
	ls_protect_key_free(key);
	ls_wipe(&ctx, sizeof(ctx));
	ls_wipe(wrap, sizeof(wrap));
	ls_session_put(app, s);
	return rv;
}
