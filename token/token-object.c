/*
 * LS11CLOUD - the token engine: object handles, the token-object cache, and the object calls
 * (C_CreateObject, C_CopyObject, C_DestroyObject, C_GetObjectSize, C_Get/SetAttributeValue,
 * C_FindObjects*).
 *
 * Handles.  Each application numbers its objects from its own counter; a handle names either
 * a token object by its store id (the same store id always gets the same handle in one
 * application, so a handle is stable while the application lives) or a session object (held
 * by the handle).  A handle of another application is unknown here: CKR_OBJECT_HANDLE_INVALID.
 * Private objects are invisible (CKR_OBJECT_HANDLE_INVALID, never found) unless the
 * application is logged in as the user; the SO sees public objects only.
 *
 * Token objects.  Every change is one store transaction.  Decoded objects are cached per token
 * (store id -> ls_object), so a signature does not decode or rebuild its key; an object never
 * changes once shared (C_SetAttributeValue stores a new version and swaps it in), so a call
 * that holds a reference goes on undisturbed.  The cache is this process's: another process
 * writing the same token's objects is not noticed until the entry is evicted (the server is
 * one process per database; the local module's processes each see their own writes).
 *
 * Find.  C_FindObjectsInit asks the store for the rows whose indexed columns (class, key type,
 * CKA_ID, label) match the template, decodes only those, filters them with the object layer's
 * match, and keeps the matching handles; C_FindObjects hands them out.  A find by CKA_ID among
 * 100,000 objects thus decodes one row (ls_token_get_stats() counts the decodes).
 *
 * Limit: max_objects counts the token's stored objects plus its live session objects.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "token-private.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---------------------------------------------------------------------------------------------
 * The token-object cache
 * ------------------------------------------------------------------------------------------- */

/* Inserts @obj (a new reference) for @id, evicting an entry when full.  token->lock held. */
static void
cache_put_locked(ls_token *token, uint64_t id, ls_object *obj)
{
	ls_object *old;
	size_t iter = 0;
	uint64_t key;
	void *val;

	old = ls_tmap_get(&token->cache, id);
	if (old == NULL && token->cache.count >= LS_TOKEN_CACHE_MAX &&
	    ls_tmap_next(&token->cache, &iter, &key, &val)) {
		ls_tmap_remove(&token->cache, key);
		ls_object_unref(val);
	}
	if (ls_tmap_put(&token->cache, id, ls_object_ref(obj)) != LS_OK) {
		ls_object_unref(obj); /* not cached: it is only slower */
		if (old != NULL) {
			ls_tmap_remove(&token->cache, id);
			ls_object_unref(old);
		}
		return;
	}
	ls_object_unref(old);
}

/* Drops the entry of @id (a changed or destroyed object).  token->lock held. */
static void
cache_drop_locked(ls_token *token, uint64_t id)
{
	ls_object_unref(ls_tmap_remove(&token->cache, id));
	token->cache_gen++;
}

void
ls_token_cache_flush(ls_token *token)
{
	size_t iter = 0;
	void *val;

	pthread_mutex_lock(&token->lock);
	while (ls_tmap_next(&token->cache, &iter, NULL, &val))
		ls_object_unref(val);
	ls_tmap_clear(&token->cache);
	token->cache_gen++;
	token->token_objects = -1;
	pthread_mutex_unlock(&token->lock);
}

void
ls_token_cache_forget_secrets(ls_token *token)
{
	size_t iter = 0;
	void *val;

	pthread_mutex_lock(&token->lock);
	/* Another application may have logged in meanwhile: then keep what it may use. */
	if (token->user_logins == 0) {
		while (ls_tmap_next(&token->cache, &iter, NULL, &val))
			ls_object_forget_secrets(val);
	}
	pthread_mutex_unlock(&token->lock);
}

/* Token object @id, from the cache or the store.  CKR_OBJECT_HANDLE_INVALID when gone. */
static CK_RV
token_object_load(ls_token *token, uint64_t id, ls_object **out)
{
	ls_store_object so;
	ls_store_txn *txn = NULL;
	ls_object *obj;
	uint64_t gen;
	CK_RV rv;
	int r;

	*out = NULL;
	pthread_mutex_lock(&token->lock);
	obj = ls_object_ref(ls_tmap_get(&token->cache, id));
	gen = token->cache_gen;
	pthread_mutex_unlock(&token->lock);
	if (obj != NULL) {
		*out = obj;
		return CKR_OK;
	}

	memset(&so, 0, sizeof(so));
	if ((r = ls_store_begin(token->store, false, &txn)) != LS_OK)
		return ls_token_rv(r);
	r = ls_store_object_get(txn, token->id, id, &so);
	ls_store_rollback(txn);
	if (r == LS_ERR_NOT_FOUND)
		return CKR_OBJECT_HANDLE_INVALID;
	if (r != LS_OK)
		return ls_token_rv(r);
	rv = ls_object_from_store(&so, &obj);
	ls_store_object_clear(&so);
	if (rv != CKR_OK)
		return rv;

	pthread_mutex_lock(&token->lock);
	token->objects_loaded++;
	if (token->cache_gen == gen) {
		ls_object *cached = ls_tmap_get(&token->cache, id);

		if (cached != NULL) {
			ls_object_unref(obj);
			obj = ls_object_ref(cached);
		} else {
			cache_put_locked(token, id, obj);
		}
	}
	/* else: the object changed or went while we read it; use what we read, cache nothing. */
	pthread_mutex_unlock(&token->lock);
	*out = obj;
	return CKR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Handles
 * ------------------------------------------------------------------------------------------- */

ls_object_who
ls_app_who(CK_USER_TYPE user)
{
	if (user == CKU_USER)
		return LS_OBJECT_USER;
	if (user == CKU_SO)
		return LS_OBJECT_SO;
	return LS_OBJECT_NOBODY;
}

static bool
visible(const ls_object *obj, CK_USER_TYPE user)
{
	return !ls_object_is_private(obj) || user == CKU_USER;
}

/* A handle for token object @id in @app (the existing one, or a new one).  app->lock held. */
static CK_RV
handle_for_store_id_locked(ls_token_app *app, uint64_t id, CK_OBJECT_HANDLE *out)
{
	ls_handle *hd = ls_tmap_get(&app->by_store_id, id);

	if (hd == NULL) {
		hd = calloc(1, sizeof(*hd));
		if (hd == NULL)
			return CKR_HOST_MEMORY;
		hd->handle = app->next_object;
		hd->store_id = id;
		if (ls_tmap_put(&app->handles, hd->handle, hd) != LS_OK) {
			free(hd);
			return CKR_HOST_MEMORY;
		}
		if (ls_tmap_put(&app->by_store_id, id, hd) != LS_OK) {
			ls_tmap_remove(&app->handles, hd->handle);
			free(hd);
			return CKR_HOST_MEMORY;
		}
		app->next_object++;
	}
	*out = hd->handle;
	return CKR_OK;
}

CK_RV
ls_app_object(ls_token_app *app, CK_OBJECT_HANDLE h, CK_USER_TYPE user, ls_object **out)
{
	ls_handle *hd;
	ls_object *obj = NULL;
	uint64_t id = 0;
	CK_RV rv;

	*out = NULL;
	pthread_mutex_lock(&app->lock);
	hd = ls_tmap_get(&app->handles, h);
	if (hd != NULL) {
		obj = ls_object_ref(hd->obj);
		id = hd->store_id;
	}
	pthread_mutex_unlock(&app->lock);
	if (hd == NULL)
		return CKR_OBJECT_HANDLE_INVALID;
	if (obj == NULL && (rv = token_object_load(app->token, id, &obj)) != CKR_OK)
		return rv;
	if (!visible(obj, user)) {
		ls_object_unref(obj);
		return CKR_OBJECT_HANDLE_INVALID;
	}
	*out = obj;
	return CKR_OK;
}

/* The number of token objects in the store, counted once and then kept up to date. */
static CK_RV
token_object_count(ls_token *token, ls_store_txn *txn, int64_t *count)
{
	ls_store_txn *own = NULL;
	uint64_t n = 0;
	int r;

	pthread_mutex_lock(&token->lock);
	*count = token->token_objects;
	pthread_mutex_unlock(&token->lock);
	if (*count >= 0)
		return CKR_OK;
	if (txn == NULL) {
		if ((r = ls_store_begin(token->store, false, &own)) != LS_OK)
			return ls_token_rv(r);
		txn = own;
	}
	r = ls_store_object_count(txn, token->id, &n);
	ls_store_rollback(own);
	if (r != LS_OK)
		return ls_token_rv(r);
	pthread_mutex_lock(&token->lock);
	token->token_objects = (int64_t)n;
	pthread_mutex_unlock(&token->lock);
	*count = (int64_t)n;
	return CKR_OK;
}

/* Persists a new token object: a store id, the encoding, one transaction. */
static CK_RV
store_new_object(ls_token *token, ls_object *obj, const ls_token_mk *mk)
{
	ls_store_object so;
	ls_store_txn *txn = NULL;
	uint64_t id = 0;
	int64_t count;
	CK_ULONG sess;
	CK_RV rv;
	int r;

	memset(&so, 0, sizeof(so));
	if ((r = ls_store_begin(token->store, true, &txn)) != LS_OK)
		return ls_token_rv(r);
	if ((rv = token_object_count(token, txn, &count)) != CKR_OK)
		goto out;
	pthread_mutex_lock(&token->lock);
	sess = token->session_objects;
	pthread_mutex_unlock(&token->lock);
	if ((uint64_t)count + sess >= token->cfg.max_objects) {
		rv = CKR_DEVICE_MEMORY;
		goto out;
	}
	if ((r = ls_store_object_id_new(txn, token->id, &id)) != LS_OK) {
		rv = r == LS_ERR_NOT_FOUND ? CKR_TOKEN_NOT_PRESENT : ls_token_rv(r);
		goto out;
	}
	if ((rv = ls_object_set_store_id(obj, id)) != CKR_OK)
		goto out;
	if ((rv = ls_object_to_store(obj, mk != NULL ? mk->key : NULL, &so)) != CKR_OK)
		goto out;
	if ((r = ls_store_object_put(txn, token->id, &so)) != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	r = ls_store_commit(txn);
	txn = NULL;
	if (r != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	pthread_mutex_lock(&token->lock);
	if (token->token_objects >= 0)
		token->token_objects++;
	cache_put_locked(token, id, obj);
	pthread_mutex_unlock(&token->lock);
	rv = CKR_OK;
out:
	ls_store_object_clear(&so);
	ls_store_rollback(txn);
	return rv;
}

CK_RV
ls_app_add_object(ls_token_app *app, ls_session *s, ls_object *obj, const ls_token_mk *mk,
                  CK_OBJECT_HANDLE *out)
{
	ls_token *token = app->token;
	ls_handle *hd;
	int64_t count;
	CK_RV rv;

	if (ls_object_is_token(obj)) {
		if ((rv = store_new_object(token, obj, mk)) != CKR_OK)
			return rv;
		pthread_mutex_lock(&app->lock);
		rv = handle_for_store_id_locked(app, ls_object_store_id(obj), out);
		pthread_mutex_unlock(&app->lock);
		return rv;
	}

	if ((rv = token_object_count(token, NULL, &count)) != CKR_OK)
		return rv;
	hd = calloc(1, sizeof(*hd));
	if (hd == NULL)
		return CKR_HOST_MEMORY;
	ls_object_set_owner(obj, app->id);
	hd->obj = ls_object_ref(obj);
	hd->creator = s->handle;

	pthread_mutex_lock(&app->lock);
	pthread_mutex_lock(&token->lock);
	if ((uint64_t)count + token->session_objects >= token->cfg.max_objects) {
		rv = CKR_DEVICE_MEMORY;
	} else if (s->closed) {
		rv = CKR_SESSION_CLOSED;
	} else {
		hd->handle = app->next_object;
		if (ls_tmap_put(&app->handles, hd->handle, hd) != LS_OK) {
			rv = CKR_HOST_MEMORY;
		} else if (ls_tmap_put(&app->session_objs, hd->handle, hd) != LS_OK) {
			ls_tmap_remove(&app->handles, hd->handle);
			rv = CKR_HOST_MEMORY;
		} else {
			app->next_object++;
			token->session_objects++;
			*out = hd->handle;
			hd = NULL;
			rv = CKR_OK;
		}
	}
	pthread_mutex_unlock(&token->lock);
	pthread_mutex_unlock(&app->lock);
	if (hd != NULL) {
		ls_object_unref(hd->obj);
		free(hd);
	}
	return rv;
}

void
ls_app_destroy_session_objects(ls_token_app *app, CK_SESSION_HANDLE h)
{
	ls_handle **gone = NULL;
	size_t n = 0, cap = 0, iter = 0, i;
	void *val;

	pthread_mutex_lock(&app->lock);
	while (ls_tmap_next(&app->session_objs, &iter, NULL, &val)) {
		ls_handle *hd = val;

		if (hd->obj == NULL || (h != 0 && hd->creator != h))
			continue;
		if (n == cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			ls_handle **g = realloc(gone, ncap * sizeof(*g));

			if (g == NULL)
				break; /* the rest goes with the application */
			gone = g;
			cap = ncap;
		}
		gone[n++] = hd;
	}
	for (i = 0; i < n; i++) {
		ls_tmap_remove(&app->handles, gone[i]->handle);
		ls_tmap_remove(&app->session_objs, gone[i]->handle);
	}
	pthread_mutex_unlock(&app->lock);

	if (n > 0) {
		pthread_mutex_lock(&app->token->lock);
		app->token->session_objects -= n;
		pthread_mutex_unlock(&app->token->lock);
	}
	for (i = 0; i < n; i++) {
		ls_object_unref(gone[i]->obj);
		free(gone[i]);
	}
	free(gone);
}

/* ---------------------------------------------------------------------------------------------
 * Object calls
 * ------------------------------------------------------------------------------------------- */

/* Whether a session of @flags may create/change @obj for @user. */
static CK_RV
check_write(const ls_object *obj, CK_FLAGS flags, CK_USER_TYPE user)
{
	if (ls_object_is_token(obj) && !(flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	if (ls_object_is_private(obj) && user != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return CKR_OK;
}

CK_RV
ls_token_create_object(ls_token_app *app, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *tmpl,
                       CK_ULONG count, CK_OBJECT_HANDLE *obj)
{
	ls_object_ctx ctx;
	ls_token_mk *mk = NULL;
	ls_session *s = NULL;
	ls_object *o = NULL;
	CK_USER_TYPE user;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	if (obj == NULL || (tmpl == NULL && count > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	user = ls_app_user(app, &mk, NULL);
	memset(&ctx, 0, sizeof(ctx));
	ctx.op = LS_OBJECT_OP_CREATE;
	ctx.who = ls_app_who(user);
	ctx.default_key_type = CK_UNAVAILABLE_INFORMATION;
	if ((rv = ls_object_create(&ctx, tmpl, count, &o)) != CKR_OK)
		goto out;
	if ((rv = check_write(o, s->flags, user)) != CKR_OK)
		goto out;
	rv = ls_app_add_object(app, s, o, mk, obj);
out:
	ls_object_unref(o);
	ls_token_mk_unref(mk);
	ls_session_put(app, s);
	return rv;
}

CK_RV
ls_token_copy_object(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                     const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *new_obj)
{
	ls_object_ctx ctx;
	ls_token_mk *mk = NULL;
	ls_session *s = NULL;
	ls_object *src = NULL, *o = NULL;
	CK_USER_TYPE user;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	if (new_obj == NULL || (tmpl == NULL && count > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	user = ls_app_user(app, &mk, NULL);
	if ((rv = ls_app_object(app, obj, user, &src)) != CKR_OK)
		goto out;
	memset(&ctx, 0, sizeof(ctx));
	ctx.op = LS_OBJECT_OP_CREATE;
	ctx.who = ls_app_who(user);
	ctx.default_key_type = CK_UNAVAILABLE_INFORMATION;
	rv = ls_object_copy(src, &ctx, mk != NULL ? mk->key : NULL, tmpl, count, &o);
	if (rv != CKR_OK)
		goto out;
	if ((rv = check_write(o, s->flags, user)) != CKR_OK)
		goto out;
	rv = ls_app_add_object(app, s, o, mk, new_obj);
out:
	ls_object_unref(src);
	ls_object_unref(o);
	ls_token_mk_unref(mk);
	ls_session_put(app, s);
	return rv;
}

CK_RV
ls_token_destroy_object(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
	ls_token *token;
	ls_store_txn *txn = NULL;
	ls_session *s = NULL;
	ls_object *o = NULL;
	ls_handle *hd;
	CK_USER_TYPE user;
	uint64_t id;
	CK_RV rv;
	int r;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	token = app->token;
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	user = ls_app_user(app, NULL, NULL);
	if ((rv = ls_app_object(app, obj, user, &o)) != CKR_OK)
		goto out;
	if ((rv = ls_object_check_destroy(o)) != CKR_OK)
		goto out;
	if ((rv = check_write(o, s->flags, user)) != CKR_OK)
		goto out;

	id = ls_object_store_id(o);
	if (id != 0) {
		pthread_mutex_lock(&token->write_lock);
		r = ls_store_begin(token->store, true, &txn);
		if (r == LS_OK) {
			r = ls_store_object_delete(txn, token->id, id);
			if (r == LS_OK)
				r = ls_store_commit(txn);
			else
				ls_store_rollback(txn);
		}
		if (r == LS_OK || r == LS_ERR_NOT_FOUND) {
			pthread_mutex_lock(&token->lock);
			cache_drop_locked(token, id);
			if (r == LS_OK && token->token_objects > 0)
				token->token_objects--;
			pthread_mutex_unlock(&token->lock);
		}
		pthread_mutex_unlock(&token->write_lock);
		if (r != LS_OK) {
			rv = r == LS_ERR_NOT_FOUND ? CKR_OBJECT_HANDLE_INVALID : ls_token_rv(r);
			goto out;
		}
		pthread_mutex_lock(&app->lock);
		hd = ls_tmap_remove(&app->by_store_id, id);
		if (hd != NULL)
			ls_tmap_remove(&app->handles, hd->handle);
		pthread_mutex_unlock(&app->lock);
		free(hd);
	} else {
		pthread_mutex_lock(&app->lock);
		hd = ls_tmap_get(&app->handles, obj);
		if (hd != NULL && hd->obj == o) {
			ls_tmap_remove(&app->handles, obj);
			ls_tmap_remove(&app->session_objs, obj);
		} else {
			hd = NULL;
		}
		pthread_mutex_unlock(&app->lock);
		if (hd == NULL) {
			rv = CKR_OBJECT_HANDLE_INVALID; /* destroyed by another thread meanwhile */
			goto out;
		}
		pthread_mutex_lock(&token->lock);
		token->session_objects--;
		pthread_mutex_unlock(&token->lock);
		ls_object_unref(hd->obj);
		free(hd);
	}
out:
	ls_object_unref(o);
	ls_session_put(app, s);
	return rv;
}

CK_RV
ls_token_get_object_size(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                         CK_ULONG *size)
{
	ls_session *s = NULL;
	ls_object *o = NULL;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	if ((rv = ls_app_object(app, obj, ls_app_user(app, NULL, NULL), &o)) != CKR_OK)
		goto out;
	if (size == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	rv = ls_object_get_size(o, size);
out:
	ls_object_unref(o);
	ls_session_put(app, s);
	return rv;
}

CK_RV
ls_token_get_attribute_value(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                             CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	ls_token_mk *mk = NULL;
	ls_session *s = NULL;
	ls_object *o = NULL;
	CK_USER_TYPE user;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	user = ls_app_user(app, &mk, NULL);
	if ((rv = ls_app_object(app, obj, user, &o)) != CKR_OK)
		goto out;
	if (tmpl == NULL && count > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	rv = ls_object_get_attributes(o, mk != NULL ? mk->key : NULL, tmpl, count);
out:
	ls_object_unref(o);
	ls_token_mk_unref(mk);
	ls_session_put(app, s);
	return rv;
}

/* C_SetAttributeValue on a token object: the latest version, changed, stored, swapped in. */
static CK_RV
set_token_object(ls_token *token, uint64_t id, ls_object_who who, const ls_token_mk *mk,
                 const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	ls_store_object so, cur;
	ls_store_txn *txn = NULL;
	ls_object *o = NULL, *n = NULL;
	CK_RV rv;
	int r;

	memset(&so, 0, sizeof(so));
	memset(&cur, 0, sizeof(cur));
	pthread_mutex_lock(&token->write_lock);
	if ((rv = token_object_load(token, id, &o)) != CKR_OK)
		goto out;
	if ((rv = ls_object_set_attributes(o, who, tmpl, count, &n)) != CKR_OK)
		goto out;
	if ((rv = ls_object_to_store(n, mk != NULL ? mk->key : NULL, &so)) != CKR_OK)
		goto out;
	if ((r = ls_store_begin(token->store, true, &txn)) != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	/* A put would re-create an object another process destroyed: check it is still there. */
	r = ls_store_object_get(txn, token->id, id, &cur);
	ls_store_object_clear(&cur);
	if (r == LS_OK)
		r = ls_store_object_put(txn, token->id, &so);
	if (r != LS_OK) {
		ls_store_rollback(txn);
		rv = r == LS_ERR_NOT_FOUND ? CKR_OBJECT_HANDLE_INVALID : ls_token_rv(r);
		goto out;
	}
	if ((r = ls_store_commit(txn)) != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	pthread_mutex_lock(&token->lock);
	cache_drop_locked(token, id);
	cache_put_locked(token, id, n);
	pthread_mutex_unlock(&token->lock);
	rv = CKR_OK;
out:
	pthread_mutex_unlock(&token->write_lock);
	ls_store_object_clear(&so);
	ls_object_unref(o);
	ls_object_unref(n);
	return rv;
}

CK_RV
ls_token_set_attribute_value(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                             const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	ls_token_mk *mk = NULL;
	ls_session *s = NULL;
	ls_object *o = NULL, *n = NULL;
	ls_handle *hd;
	CK_USER_TYPE user;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_get(app, h, &s)) != CKR_OK)
		return rv;
	user = ls_app_user(app, &mk, NULL);
	if ((rv = ls_app_object(app, obj, user, &o)) != CKR_OK)
		goto out;
	if (tmpl == NULL && count > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = check_write(o, s->flags, user)) != CKR_OK)
		goto out;
	if (ls_object_store_id(o) != 0) {
		rv = set_token_object(app->token, ls_object_store_id(o), ls_app_who(user), mk, tmpl,
		                      count);
		goto out;
	}
	if ((rv = ls_object_set_attributes(o, ls_app_who(user), tmpl, count, &n)) != CKR_OK)
		goto out;
	pthread_mutex_lock(&app->lock);
	hd = ls_tmap_get(&app->handles, obj);
	if (hd != NULL && hd->obj == o) {
		hd->obj = n;
		n = o; /* the table's old reference, dropped below */
	} else {
		rv = CKR_OBJECT_HANDLE_INVALID;
	}
	pthread_mutex_unlock(&app->lock);
out:
	ls_object_unref(n);
	ls_object_unref(o);
	ls_token_mk_unref(mk);
	ls_session_put(app, s);
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Find
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	ls_found *v;
	size_t n, cap;
} found_list;

static int
found_add(found_list *l, CK_OBJECT_HANDLE h, bool private_obj)
{
	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 32 : l->cap * 2;
		ls_found *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return LS_ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].handle = h;
	l->v[l->n].private_obj = private_obj;
	l->n++;
	return LS_OK;
}

typedef struct {
	ls_token *token;
	const CK_ATTRIBUTE *tmpl;
	CK_ULONG count;
	CK_USER_TYPE user;
	found_list ids; /* .handle holds the store id until the handles are given */
	CK_RV rv;
} find_ctx;

/* Store callback (store lock held; may take token->lock, never the store). */
static int
find_row(void *vctx, const ls_store_object *row)
{
	find_ctx *ctx = vctx;
	ls_token *token = ctx->token;
	ls_object *obj;
	CK_RV rv;
	int r = LS_OK;

	pthread_mutex_lock(&token->lock);
	obj = ls_object_ref(ls_tmap_get(&token->cache, row->id));
	pthread_mutex_unlock(&token->lock);
	if (obj == NULL) {
		rv = ls_object_from_store(row, &obj);
		pthread_mutex_lock(&token->lock);
		token->objects_loaded++;
		pthread_mutex_unlock(&token->lock);
		if (rv != CKR_OK)
			return LS_OK; /* a row we cannot read is logged and not found */
	}
	if (visible(obj, ctx->user) && ls_object_match(obj, ctx->tmpl, ctx->count))
		r = found_add(&ctx->ids, row->id, ls_object_is_private(obj));
	ls_object_unref(obj);
	if (r != LS_OK)
		ctx->rv = CKR_HOST_MEMORY;
	return r;
}

CK_RV
ls_token_find_objects_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *tmpl,
                           CK_ULONG count)
{
	find_ctx ctx;
	found_list res = {NULL, 0, 0};
	ls_store_query q;
	ls_store_txn *txn = NULL;
	ls_session *s = NULL;
	size_t iter = 0, i;
	void *val;
	CK_RV rv;
	int r;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	memset(&ctx, 0, sizeof(ctx));
	if ((rv = ls_session_enter(app, h, &s)) != CKR_OK)
		return rv;
	if (s->find_active) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	if (tmpl == NULL && count > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	ctx.token = app->token;
	ctx.tmpl = tmpl;
	ctx.count = count;
	ctx.user = ls_app_user(app, NULL, NULL);
	ctx.rv = CKR_OK;

	/* Token objects: the store narrows by its indexes, the object layer filters the rest. */
	memset(&q, 0, sizeof(q));
	if (ls_object_find_query(tmpl, count, &q)) {
		if ((r = ls_store_begin(app->token->store, false, &txn)) != LS_OK) {
			rv = ls_token_rv(r);
			goto out;
		}
		r = ls_store_object_find(txn, app->token->id, &q, find_row, &ctx);
		ls_store_rollback(txn);
		if (r != LS_OK) {
			rv = ctx.rv != CKR_OK ? ctx.rv : ls_token_rv(r);
			goto out;
		}
	}

	pthread_mutex_lock(&app->lock);
	for (i = 0; i < ctx.ids.n && rv == CKR_OK; i++) {
		CK_OBJECT_HANDLE oh = 0;

		rv = handle_for_store_id_locked(app, ctx.ids.v[i].handle, &oh);
		if (rv == CKR_OK && found_add(&res, oh, ctx.ids.v[i].private_obj) != LS_OK)
			rv = CKR_HOST_MEMORY;
	}
	/* Session objects of this application. */
	while (rv == CKR_OK && ls_tmap_next(&app->session_objs, &iter, NULL, &val)) {
		ls_handle *hd = val;

		if (hd->obj == NULL || !visible(hd->obj, ctx.user) ||
		    !ls_object_match(hd->obj, tmpl, count))
			continue;
		if (found_add(&res, hd->handle, ls_object_is_private(hd->obj)) != LS_OK)
			rv = CKR_HOST_MEMORY;
	}
	pthread_mutex_unlock(&app->lock);
	if (rv != CKR_OK)
		goto out;

	s->found = res.v;
	s->found_count = res.n;
	s->found_pos = 0;
	s->find_active = true;
	res.v = NULL;
out:
	free(res.v);
	free(ctx.ids.v);
	ls_session_leave(app, s);
	return rv;
}

CK_RV
ls_token_find_objects(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *objs,
                      CK_ULONG max, CK_ULONG *count)
{
	ls_session *s = NULL;
	CK_USER_TYPE user;
	CK_ULONG n = 0;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_enter(app, h, &s)) != CKR_OK)
		return rv;
	if (!s->find_active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	if (count == NULL || (objs == NULL && max > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	/* A logout since the init hides the private objects found before it. */
	user = ls_app_user(app, NULL, NULL);
	while (n < max && s->found_pos < s->found_count) {
		const ls_found *f = &s->found[s->found_pos++];

		if (f->private_obj && user != CKU_USER)
			continue;
		objs[n++] = f->handle;
	}
	*count = n;
out:
	ls_session_leave(app, s);
	return rv;
}

CK_RV
ls_token_find_objects_final(ls_token_app *app, CK_SESSION_HANDLE h)
{
	ls_session *s = NULL;
	CK_RV rv;

	ls_return_val_if_fail(app != NULL, CKR_ARGUMENTS_BAD);
	if ((rv = ls_session_enter(app, h, &s)) != CKR_OK)
		return rv;
	if (!s->find_active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
	} else {
		free(s->found);
		s->found = NULL;
		s->found_count = s->found_pos = 0;
		s->find_active = false;
	}
	ls_session_leave(app, s);
	return rv;
}
