/*
 * LS11CLOUD - the token engine: tokens, applications, token and mechanism information, and the
 * one mapping of LS_ERR_* codes to CK_RV.
 *
 * A fresh token (ls_token_create) has no master key and no PIN wraps: its SO PIN is the
 * documented default LS_TOKEN_DEFAULT_SO_PIN, which is public, so it is compared in constant
 * time instead of being wrapped (no PBKDF2 at account creation, and a token row is complete
 * in one transaction).  C_InitToken creates the master key and wraps it under the SO PIN.
 *
 * Sessions, login and PINs: token-session.c.  Objects: token-object.c.  Operations:
 * token-crypto.c.  Structures and the lock order: token-private.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "token-private.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "log.h"

#define MANUFACTURER "LS11CLOUD"
#define DEFAULT_MODEL "LS11TOKEN"

void
ls_token_config_init(ls_token_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->pin_min_len = 6;
	cfg->pin_max_len = 64;
	cfg->max_pin_failures = 10;
	cfg->pbkdf2_iterations = 0;
	cfg->max_sessions = 1024;
	cfg->max_objects = 100000;
	cfg->model = DEFAULT_MODEL;
}

CK_RV
ls_token_rv(int err)
{
	switch (err) {
	case LS_OK:
		return CKR_OK;
	case LS_ERR_NOMEM:
		return CKR_HOST_MEMORY;
	case LS_ERR_NOT_FOUND:
		return CKR_TOKEN_NOT_PRESENT;
	case LS_ERR_TOO_LARGE:
	case LS_ERR_BUFFER_FULL:
		return CKR_DEVICE_MEMORY;
	case LS_ERR_IO:
	case LS_ERR_MALFORMED:
	case LS_ERR_UNSUPPORTED:
	case LS_ERR_TIMEOUT:
		return CKR_DEVICE_ERROR;
	case LS_ERR_INVALID_ARG:
	case LS_ERR_BAD_LENGTH:
		return CKR_ARGUMENTS_BAD;
	default:
		return CKR_FUNCTION_FAILED;
	}
}

/* ---------------------------------------------------------------------------------------------
 * The master-key holder
 * ------------------------------------------------------------------------------------------- */

ls_token_mk *
ls_token_mk_new(ls_protect_key *key)
{
	ls_token_mk *mk = calloc(1, sizeof(*mk));

	if (mk == NULL) {
		ls_protect_key_free(key);
		return NULL;
	}
	atomic_init((_Atomic unsigned *)&mk->refs, 1);
	mk->key = key;
	return mk;
}

ls_token_mk *
ls_token_mk_ref(ls_token_mk *mk)
{
	if (mk != NULL)
		atomic_fetch_add((_Atomic unsigned *)&mk->refs, 1);
	return mk;
}

void
ls_token_mk_unref(ls_token_mk *mk)
{
	if (mk == NULL)
		return;
	if (atomic_fetch_sub((_Atomic unsigned *)&mk->refs, 1) != 1)
		return;
	ls_protect_key_free(mk->key);
	free(mk);
}

/* ---------------------------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------------------------- */

static void
pad(uint8_t *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	memset(dst, ' ', size);
	memcpy(dst, s, n < size ? n : size);
}

CK_RV
ls_token_create(ls_store *store, uint64_t *token_id)
{
	ls_store_token rec;
	ls_store_txn *txn = NULL;
	uint8_t rnd[LS_STORE_SERIAL_SIZE / 2];
	static const char hex[] = "0123456789ABCDEF";
	uint64_t id = 0;
	size_t i;
	int r;

	ls_return_val_if_fail(store != NULL && token_id != NULL, CKR_ARGUMENTS_BAD);
	memset(&rec, 0, sizeof(rec));
	pad(rec.label, sizeof(rec.label), "");
	/* A random serial, stable for the token's life (re-initialisation keeps it). */
	if ((r = ls_random_bytes(rnd, sizeof(rnd))) != LS_OK)
		return ls_token_rv(r);
	for (i = 0; i < sizeof(rnd); i++) {
		rec.serial[2 * i] = (uint8_t)hex[rnd[i] >> 4];
		rec.serial[2 * i + 1] = (uint8_t)hex[rnd[i] & 0xf];
	}
	rec.flags = CKF_SO_PIN_TO_BE_CHANGED;
	rec.format_version = LS_PROTECT_FORMAT_VERSION;

	if ((r = ls_store_begin(store, true, &txn)) != LS_OK)
		return ls_token_rv(r);
	if ((r = ls_store_token_create(txn, &rec, &id)) != LS_OK) {
		ls_store_rollback(txn);
		return ls_token_rv(r);
	}
	if ((r = ls_store_commit(txn)) != LS_OK)
		return ls_token_rv(r);
	*token_id = id;
	return CKR_OK;
}

CK_RV
ls_token_open(ls_store *store, uint64_t token_id, const ls_token_config *cfg, ls_token **out)
{
	ls_token *token = NULL;
	ls_store_txn *txn = NULL;
	CK_RV rv;
	int r;

	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	*out = NULL;
	ls_return_val_if_fail(store != NULL, CKR_ARGUMENTS_BAD);

	token = calloc(1, sizeof(*token));
	if (token == NULL)
		return CKR_HOST_MEMORY;
	token->store = store;
	token->id = token_id;
	if (cfg != NULL)
		token->cfg = *cfg;
	else
		ls_token_config_init(&token->cfg);
	if (token->cfg.pin_min_len == 0)
		token->cfg.pin_min_len = 1;
	if (token->cfg.pin_max_len < token->cfg.pin_min_len)
		token->cfg.pin_max_len = token->cfg.pin_min_len;
	if (token->cfg.max_pin_failures == 0)
		token->cfg.max_pin_failures = 10;
	if (token->cfg.max_sessions == 0)
		token->cfg.max_sessions = 1024;
	if (token->cfg.max_objects == 0)
		token->cfg.max_objects = 100000;
	snprintf(token->model, sizeof(token->model), "%s",
	         token->cfg.model != NULL ? token->cfg.model : DEFAULT_MODEL);
	token->cfg.model = token->model;
	token->next_app_id = 1;
	token->token_objects = -1;
	ls_tmap_init(&token->cache);
	pthread_mutex_init(&token->lock, NULL);
	pthread_mutex_init(&token->write_lock, NULL);
	pthread_cond_init(&token->cond, NULL);

	if ((r = ls_store_begin(store, false, &txn)) != LS_OK) {
		rv = ls_token_rv(r);
		goto out;
	}
	r = ls_store_token_get(txn, token_id, &token->rec);
	ls_store_rollback(txn);
	if (r != LS_OK) {
		rv = r == LS_ERR_NOT_FOUND ? CKR_TOKEN_NOT_PRESENT : ls_token_rv(r);
		goto out;
	}
	*out = token;
	token = NULL;
	rv = CKR_OK;
out:
	if (token != NULL) {
		pthread_cond_destroy(&token->cond);
		pthread_mutex_destroy(&token->write_lock);
		pthread_mutex_destroy(&token->lock);
		free(token);
	}
	return rv;
}

void
ls_token_close(ls_token *token)
{
	if (token == NULL)
		return;
	if (token->apps != NULL)
		ls_warning("ls_token_close: token %llu still has applications",
		           (unsigned long long)token->id);
	ls_token_cache_flush(token);
	ls_tmap_clear(&token->cache);
	ls_wipe(&token->rec, sizeof(token->rec));
	pthread_cond_destroy(&token->cond);
	pthread_mutex_destroy(&token->write_lock);
	pthread_mutex_destroy(&token->lock);
	free(token);
}

CK_RV
ls_token_destroy(ls_store *store, uint64_t token_id)
{
	ls_store_txn *txn = NULL;
	int r;

	ls_return_val_if_fail(store != NULL, CKR_ARGUMENTS_BAD);
	if ((r = ls_store_begin(store, true, &txn)) != LS_OK)
		return ls_token_rv(r);
	if ((r = ls_store_token_delete(txn, token_id)) != LS_OK) {
		ls_store_rollback(txn);
		return r == LS_ERR_NOT_FOUND ? CKR_TOKEN_NOT_PRESENT : ls_token_rv(r);
	}
	return ls_token_rv(ls_store_commit(txn));
}

void
ls_token_get_stats(ls_token *token, ls_token_stats *stats)
{
	if (token == NULL || stats == NULL)
		return;
	memset(stats, 0, sizeof(*stats));
	pthread_mutex_lock(&token->lock);
	stats->objects_loaded = token->objects_loaded;
	stats->objects_cached = token->cache.count;
	stats->session_objects = token->session_objects;
	pthread_mutex_unlock(&token->lock);
}

/* ---------------------------------------------------------------------------------------------
 * Applications
 * ------------------------------------------------------------------------------------------- */

CK_RV
ls_token_app_new(ls_token *token, ls_token_app **out)
{
	ls_token_app *app;

	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	*out = NULL;
	ls_return_val_if_fail(token != NULL, CKR_ARGUMENTS_BAD);

	app = calloc(1, sizeof(*app));
	if (app == NULL)
		return CKR_HOST_MEMORY;
	app->token = token;
	app->user = LS_TOKEN_NOBODY;
	app->next_session = 1;
	app->next_object = 1;
	ls_tmap_init(&app->sessions);
	ls_tmap_init(&app->handles);
	ls_tmap_init(&app->by_store_id);
	ls_tmap_init(&app->session_objs);
	pthread_mutex_init(&app->login_lock, NULL);
	pthread_mutex_init(&app->lock, NULL);

	pthread_mutex_lock(&token->lock);
	app->id = token->next_app_id++;
	app->next = token->apps;
	token->apps = app;
	pthread_mutex_unlock(&token->lock);
	*out = app;
	return CKR_OK;
}

void
ls_token_app_free(ls_token_app *app)
{
	ls_token *token;
	ls_token_app **pp;
	size_t iter = 0;
	void *val;

	if (app == NULL)
		return;
	token = app->token;
	ls_token_close_all_sessions(app);

	pthread_mutex_lock(&app->lock);
	while (ls_tmap_next(&app->handles, &iter, NULL, &val)) {
		ls_handle *hd = val;

		ls_object_unref(hd->obj);
		free(hd);
	}
	ls_tmap_clear(&app->handles);
	ls_tmap_clear(&app->by_store_id);
	ls_tmap_clear(&app->session_objs);
	ls_tmap_clear(&app->sessions);
	pthread_mutex_unlock(&app->lock);

	pthread_mutex_lock(&token->lock);
	for (pp = &token->apps; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == app) {
			*pp = app->next;
			break;
		}
	}
	pthread_mutex_unlock(&token->lock);

	pthread_mutex_destroy(&app->lock);
	pthread_mutex_destroy(&app->login_lock);
	free(app);
}

ls_token *
ls_token_app_token(const ls_token_app *app)
{
	ls_return_val_if_fail(app != NULL, NULL);
	return app->token;
}

/* ---------------------------------------------------------------------------------------------
 * Information
 * ------------------------------------------------------------------------------------------- */

/* The CKF_ PIN-state flags of one role from its failure count and the limit. */
static CK_FLAGS
pin_flags(uint32_t failures, CK_ULONG max, bool locked, CK_FLAGS count_low, CK_FLAGS final_try,
          CK_FLAGS locked_flag)
{
	CK_FLAGS f = 0;

	if (locked || failures >= max)
		return locked_flag | (failures > 0 ? count_low : 0);
	if (failures > 0)
		f |= count_low;
	if (failures + 1 == max)
		f |= final_try;
	return f;
}

CK_RV
ls_token_get_token_info(ls_token *token, CK_TOKEN_INFO *info)
{
	ls_store_token rec;
	uint32_t user_failures, so_failures;
	CK_ULONG sessions, rw_sessions;
	struct tm tm;
	time_t now;
	char utc[17];

	ls_return_val_if_fail(token != NULL, CKR_ARGUMENTS_BAD);
	if (info == NULL)
		return CKR_ARGUMENTS_BAD;

	pthread_mutex_lock(&token->lock);
	rec = token->rec;
	/* Attempts in flight are counted in the store already; they are not failures (yet). */
	user_failures = rec.user_failures > token->user_attempts
	                        ? rec.user_failures - token->user_attempts
	                        : 0;
	so_failures = rec.so_failures > token->so_attempts ? rec.so_failures - token->so_attempts
	                                                    : 0;
	sessions = token->session_count;
	rw_sessions = token->rw_session_count;
	pthread_mutex_unlock(&token->lock);

	memset(info, 0, sizeof(*info));
	memcpy(info->label, rec.label, sizeof(info->label));
	pad(info->manufacturerID, sizeof(info->manufacturerID), MANUFACTURER);
	pad(info->model, sizeof(info->model), token->model);
	memcpy(info->serialNumber, rec.serial, sizeof(info->serialNumber));

	info->flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_CLOCK_ON_TOKEN |
	              (rec.flags & (CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED |
	                            CKF_USER_PIN_TO_BE_CHANGED | CKF_SO_PIN_TO_BE_CHANGED));
	if (rec.flags & CKF_USER_PIN_INITIALIZED)
		info->flags |= pin_flags(user_failures, token->cfg.max_pin_failures,
		                         (rec.flags & CKF_USER_PIN_LOCKED) != 0,
		                         CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
		                         CKF_USER_PIN_LOCKED);
	info->flags |= pin_flags(so_failures, token->cfg.max_pin_failures,
	                         (rec.flags & CKF_SO_PIN_LOCKED) != 0, CKF_SO_PIN_COUNT_LOW,
	                         CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);

	info->ulMaxSessionCount = token->cfg.max_sessions;
	info->ulSessionCount = sessions;
	info->ulMaxRwSessionCount = token->cfg.max_sessions;
	info->ulRwSessionCount = rw_sessions;
	info->ulMaxPinLen = token->cfg.pin_max_len;
	info->ulMinPinLen = token->cfg.pin_min_len;
	info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->hardwareVersion.major = 1;
	info->hardwareVersion.minor = 0;
	info->firmwareVersion.major = 0;
	info->firmwareVersion.minor = 1;

	now = time(NULL);
	if (gmtime_r(&now, &tm) != NULL &&
	    snprintf(utc, sizeof(utc), "%04d%02d%02d%02d%02d%02d00", (tm.tm_year + 1900) % 10000,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec) == 16)
		memcpy(info->utcTime, utc, sizeof(info->utcTime));
	else
		memset(info->utcTime, '0', sizeof(info->utcTime));
	return CKR_OK;
}

CK_RV
ls_token_get_mechanism_list(ls_token *token, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	const ls_mech_info *table;
	size_t n, i;

	ls_return_val_if_fail(token != NULL, CKR_ARGUMENTS_BAD);
	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	table = ls_mech_table(&n);
	if (list == NULL) {
		*count = n;
		return CKR_OK;
	}
	if (*count < n) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	for (i = 0; i < n; i++)
		list[i] = table[i].type;
	*count = n;
	return CKR_OK;
}

CK_RV
ls_token_get_mechanism_info(ls_token *token, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	const ls_mech_info *m;

	ls_return_val_if_fail(token != NULL, CKR_ARGUMENTS_BAD);
	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	m = ls_mech_find(type);
	if (m == NULL)
		return CKR_MECHANISM_INVALID;
	info->ulMinKeySize = m->min_key_size;
	info->ulMaxKeySize = m->max_key_size;
	info->flags = m->flags;
	return CKR_OK;
}
