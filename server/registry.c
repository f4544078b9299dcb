/*
 * LS11CLOUD - the registry: which accounts are in use (each with its one open ls_token), the
 * applications (one ls_token_app each), which connection each application is attached to,
 * resume tokens and leases.
 *
 * An application is born when a session handshake succeeds.  When its connection goes, it is
 * kept for resume-lease seconds if the client asked for a resume token (LeaseNew), otherwise
 * freed at once.  A new connection of the same account presents the token (LeaseResume) and
 * takes the application over - sessions, handles, login state, operations and the record of
 * its last answers - and gets the next token (each token serves once).  An application whose
 * lease ran out is freed by the once-a-second sweep: its sessions close and its session
 * objects go, as PKCS#11 prescribes for an application that ends.
 *
 * ls11cloud-admin writes the same store while the server runs.  When it gives an open account
 * a new token (token wipe) or deletes it, the runtime account becomes stale: the next login
 * notices (the store names another token) and gets a fresh runtime account on the new token,
 * and the once-a-second sweep notices too (PRAGMA data_version tells that another process
 * committed; then the open accounts are compared with the store), so the stale account's
 * applications get CKR_DEVICE_REMOVED at their next request instead of serving a token that
 * no longer exists.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "server-private.h"
#include "store-sqlite.h"

/* ---- accounts (reg_lock held) ---------------------------------------------------------- */

static lsd_acct *
acct_find_locked(lsd_server *srv, uint64_t id)
{
	lsd_acct *a;

	for (a = srv->accts; a != NULL; a = a->next) {
		if (a->id == id && !a->deleted && !a->stale)
			return a;
	}
	return NULL;
}

/* The store gave account @a another token or deleted it: nothing joins it any more. */
static void
acct_mark_stale_locked(lsd_acct *a, const char *why)
{
	if (a->stale)
		return;
	a->stale = true;
	ls_warning("'%s': %s (ls11cloud-admin); its %u application(s) on the old token end at "
	           "their next request",
	           a->nickname, why, a->apps);
}

/* Drops a reference; the last one unlinks the account and hands back its token to close. */
static lsd_acct *
acct_unref_locked(lsd_server *srv, lsd_acct *acct)
{
	lsd_acct **pp;

	if (--acct->refs > 0)
		return NULL;
	for (pp = &srv->accts; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == acct) {
			*pp = acct->next;
			break;
		}
	}
	return acct;
}

static void
acct_free(lsd_acct *acct)
{
	if (acct == NULL)
		return;
	if (acct->token != NULL)
		ls_token_close(acct->token);
	free(acct);
}

/* ---- applications ---------------------------------------------------------------------- */

static void
replay_clear(lsd_app *app)
{
	unsigned i;

	for (i = 0; i < LSD_REPLAY_SLOTS; i++) {
		ls_wipe(app->replay[i].data, app->replay[i].len);
		free(app->replay[i].data);
		memset(&app->replay[i], 0, sizeof(app->replay[i]));
	}
	app->replay_bytes = 0;
	app->seen_count = 0;
	app->seen_next = 0;
}

/* Frees an application nobody references any more (outside every lock). */
static void
app_free(lsd_server *srv, lsd_app *app)
{
	lsd_acct *acct = app->acct, *gone;

	if (app->signatures > 0 && !acct->deleted)
		lsd_audit(srv->store, acct->id, "sign", app->signatures, NULL,
		          "signatures by application #%llu", (unsigned long long)app->serial);
	if (app->tapp != NULL)
		ls_token_app_free(app->tapp);
	replay_clear(app);
	ls_wipe(app->resume, sizeof(app->resume));
	pthread_mutex_destroy(&app->lock);
	pthread_cond_destroy(&app->idle);
	pthread_rwlock_destroy(&app->exec);
	pthread_mutex_lock(&srv->reg_lock);
	acct->apps--;
	gone = acct_unref_locked(srv, acct);
	pthread_mutex_unlock(&srv->reg_lock);
	acct_free(gone);
	free(app);
}

static void
app_unlink_locked(lsd_server *srv, lsd_app *app)
{
	lsd_app **pp;

	for (pp = &srv->apps; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == app) {
			*pp = app->next;
			break;
		}
	}
	app->next = NULL;
	app->in_registry = false;
	app->refs--;
}

lsd_app *
lsd_app_get(lsd_conn *c)
{
	lsd_app *app;

	pthread_mutex_lock(&c->srv->reg_lock);
	app = c->app;
	if (app != NULL && app->acct->stale) {
		ls_warning("%s: '%s': the token of this application was wiped or its account "
		           "deleted by the operator",
		           c->peer, app->acct->nickname);
		app = NULL;
	}
	if (app != NULL)
		app->refs++;
	pthread_mutex_unlock(&c->srv->reg_lock);
	return app;
}

void
lsd_app_put(lsd_server *srv, lsd_app *app)
{
	bool last;

	if (app == NULL)
		return;
	pthread_mutex_lock(&srv->reg_lock);
	last = --app->refs == 0;
	pthread_mutex_unlock(&srv->reg_lock);
	if (last)
		app_free(srv, app);
}

/* The oldest leased application of @acct that no job uses, unlinked; NULL if none. */
static lsd_app *
evict_leased_locked(lsd_server *srv, lsd_acct *acct)
{
	lsd_app *app, *oldest = NULL;

	for (app = srv->apps; app != NULL; app = app->next) {
		if (app->acct == acct && app->conn == NULL && app->refs == 1 &&
		    (oldest == NULL || app->detached_at < oldest->detached_at))
			oldest = app;
	}
	if (oldest != NULL)
		app_unlink_locked(srv, oldest);
	return oldest;
}

int
lsd_registry_login(lsd_conn *c)
{
	lsd_server *srv = c->srv;
	const lsd_config *cfg = srv->cfg;
	lsd_app *app = NULL, *evicted = NULL;
	ls_store_account a;
	lsd_acct *acct;
	ls_token_app *tapp = NULL;
	CK_RV rv;
	int r;

	if ((r = lsd_account_get(srv->store, c->account_id, &a)) != LS_OK) {
		ls_error("%s: account %llu: %s", c->peer, (unsigned long long)c->account_id,
		         ls_strerror(r));
		return r;
	}
	if ((app = calloc(1, sizeof(*app))) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	pthread_mutex_init(&app->lock, NULL);
	pthread_cond_init(&app->idle, NULL);
	pthread_rwlock_init(&app->exec, NULL);

	pthread_mutex_lock(&srv->reg_lock);
	acct = acct_find_locked(srv, a.id);
	if (acct != NULL && acct->token_id != a.token_id) {
		ls_store_account now;

		/* Read again under the lock: a recreate by the client itself changes both. */
		if (lsd_account_get(srv->store, a.id, &now) == LS_OK &&
		    now.token_id != acct->token_id)
			acct_mark_stale_locked(acct, "its token was replaced");
		if (acct->stale) {
			acct = NULL;
			a.token_id = now.token_id;
		}
		ls_wipe(&now, sizeof(now));
	}
	if (acct == NULL) {
		if ((acct = calloc(1, sizeof(*acct))) == NULL) {
			pthread_mutex_unlock(&srv->reg_lock);
			r = LS_ERR_NOMEM;
			goto out;
		}
		acct->id = a.id;
		acct->token_id = a.token_id;
		snprintf(acct->nickname, sizeof(acct->nickname), "%s", a.nickname);
		rv = ls_token_open(srv->store, a.token_id, &srv->token_config, &acct->token);
		if (rv != CKR_OK) {
			pthread_mutex_unlock(&srv->reg_lock);
			ls_error("%s: the token of '%s' cannot be opened (CK_RV 0x%lx)", c->peer,
			         a.nickname, (unsigned long)rv);
			free(acct);
			r = LS_ERR_IO;
			goto out;
		}
		acct->next = srv->accts;
		srv->accts = acct;
	}
	acct->state = a.state;
	acct->refs++;
	c->acct = acct;
	if (acct->conns >= cfg->max_conn_per_account) {
		c->refused = "too many connections for this account (max-connections-per-account)";
	} else {
		if (acct->apps >= cfg->max_apps)
			evicted = evict_leased_locked(srv, acct);
		if (acct->apps - (evicted != NULL ? 1 : 0) >= cfg->max_apps)
			c->refused = "too many applications for this account (max-applications)";
	}
	if (c->refused == NULL) {
		rv = ls_token_app_new(acct->token, &tapp);
		if (rv != CKR_OK) {
			c->refused = "the token refused a new application";
		} else {
			acct->conns++;
			acct->apps++;
			acct->refs++;
			app->srv = srv;
			app->acct = acct;
			app->tapp = tapp;
			app->serial = ++srv->next_app_serial;
			app->refs = 1;
			app->in_registry = true;
			app->conn = c;
			app->next = srv->apps;
			srv->apps = app;
			c->app = app;
			app = NULL;
		}
	}
	pthread_mutex_unlock(&srv->reg_lock);
	if (evicted != NULL) {
		ls_info("'%s': leased application #%llu dropped for a new one (max-applications)",
		        a.nickname, (unsigned long long)evicted->serial);
		app_free(srv, evicted);
	}
	if (c->refused != NULL) {
		ls_warning("%s: '%s' refused: %s", c->peer, a.nickname, c->refused);
		lsd_audit(srv->store, a.id, "refused", 0, c->addr, "%s", c->refused);
	} else {
		ls_info("%s: '%s' logged in (application #%llu)", c->peer, a.nickname,
		        (unsigned long long)c->app->serial);
		lsd_audit(srv->store, a.id, "connect", 0, c->addr, "application #%llu",
		          (unsigned long long)c->app->serial);
	}
	r = LS_OK;
out:
	if (app != NULL) {
		pthread_mutex_destroy(&app->lock);
		pthread_cond_destroy(&app->idle);
		pthread_rwlock_destroy(&app->exec);
		free(app);
	}
	ls_wipe(&a, sizeof(a));
	return r;
}

void
lsd_registry_logout(lsd_conn *c)
{
	lsd_server *srv = c->srv;
	lsd_app *app, *to_free = NULL;
	lsd_acct *acct, *gone = NULL;
	uint64_t account_id = 0, serial = 0;
	bool leased = false, deleted = false;

	pthread_mutex_lock(&srv->reg_lock);
	app = c->app;
	c->app = NULL;
	if (app != NULL && app->conn == c) {
		app->conn = NULL;
		serial = app->serial;
		if (app->has_resume && srv->cfg->resume_lease > 0 && !app->acct->deleted &&
		    !app->acct->stale &&
		    !srv->stopping) {
			app->detached_at = ls_now_ms();
			app->lease_until = app->detached_at + (int64_t)srv->cfg->resume_lease * 1000;
			leased = true;
		} else {
			app_unlink_locked(srv, app);
			if (app->refs == 0)
				to_free = app;
		}
	}
	acct = c->acct;
	c->acct = NULL;
	if (acct != NULL) {
		account_id = acct->id;
		deleted = acct->deleted;
		if (c->refused == NULL)
			acct->conns--;
		gone = acct_unref_locked(srv, acct);
	}
	pthread_mutex_unlock(&srv->reg_lock);

	if (account_id != 0 && !deleted)
		lsd_audit(srv->store, account_id, "disconnect", c->requests, c->addr,
		          "%llu requests%s", (unsigned long long)c->requests,
		          leased ? ", application kept for resumption" : "");
	if (leased)
		ls_debug("%s: application #%llu leased for %u s", c->peer,
		         (unsigned long long)serial, srv->cfg->resume_lease);
	if (to_free != NULL)
		app_free(srv, to_free);
	acct_free(gone);
}

int
lsd_app_new_resume(lsd_server *srv, lsd_app *app, uint8_t out[LS_RPC_RESUME_TOKEN_SIZE])
{
	uint8_t tok[LS_RPC_RESUME_TOKEN_SIZE];
	int r;

	if ((r = ls_random_bytes(tok, sizeof(tok))) != LS_OK)
		return r;
	pthread_mutex_lock(&srv->reg_lock);
	memcpy(app->resume, tok, sizeof(tok));
	app->has_resume = true;
	pthread_mutex_unlock(&srv->reg_lock);
	memcpy(out, tok, sizeof(tok));
	ls_wipe(tok, sizeof(tok));
	return LS_OK;
}

int
lsd_app_resume(lsd_conn *c, lsd_app *cur, const uint8_t token[LS_RPC_RESUME_TOKEN_SIZE],
               bool *resumed, uint64_t *left_ms, uint8_t out[LS_RPC_RESUME_TOKEN_SIZE])
{
	lsd_server *srv = c->srv;
	uint8_t next[LS_RPC_RESUME_TOKEN_SIZE];
	lsd_app *app, *target = NULL;
	lsd_conn *old = NULL;
	int64_t now = ls_now_ms();
	int r;

	*resumed = false;
	*left_ms = (uint64_t)srv->cfg->resume_lease * 1000;
	if ((r = ls_random_bytes(next, sizeof(next))) != LS_OK)
		return r;
	pthread_mutex_lock(&srv->reg_lock);
	/* Every candidate is compared in full, in constant time. */
	for (app = srv->apps; app != NULL; app = app->next) {
		bool match = ls_ct_equal(app->resume, token, LS_RPC_RESUME_TOKEN_SIZE);

		if (match && app->has_resume && app != cur && app->acct == cur->acct &&
		    (app->conn != NULL || app->lease_until > now))
			target = app;
	}
	if (target != NULL) {
		old = target->conn;
		if (old != NULL)
			old->app = NULL; /* the old connection lost the race: it is left without */
		target->conn = c;
		target->lease_until = 0;
		memcpy(target->resume, next, sizeof(next));
		c->app = target;
		/* The fresh application of this connection goes (the job's reference frees it). */
		cur->conn = NULL;
		if (cur->in_registry)
			app_unlink_locked(srv, cur);
		*resumed = true;
	} else {
		memcpy(cur->resume, next, sizeof(next));
		cur->has_resume = true;
	}
	pthread_mutex_unlock(&srv->reg_lock);
	memcpy(out, next, sizeof(next));
	ls_wipe(next, sizeof(next));
	if (target != NULL) {
		ls_info("%s: '%s' resumed application #%llu%s", c->peer, c->nickname,
		        (unsigned long long)target->serial,
		        old != NULL ? " (taken from a connection not yet seen closed)" : "");
		lsd_audit(srv->store, target->acct->id, "resume", 0, c->addr,
		          "application #%llu", (unsigned long long)target->serial);
	}
	return LS_OK;
}

static void
app_free_work(void *arg)
{
	lsd_app *app = arg;

	app_free(app->srv, app);
}

typedef struct {
	uint64_t id, token_id;
} acct_ref;

/* Worker: compares the open accounts with the store when another process committed. */
static void
store_check_work(void *arg)
{
	lsd_server *srv = arg;
	ls_store_account a;
	acct_ref *refs = NULL, *grown;
	size_t n = 0, cap = 0, i;
	uint64_t version = 0;
	lsd_acct *acct;
	int r;

	if (ls_store_sqlite_data_version(srv->store, &version) != LS_OK)
		return;
	if (srv->store_version_known && version == srv->store_version)
		return;
	srv->store_version_known = true;
	srv->store_version = version;
	pthread_mutex_lock(&srv->reg_lock);
	for (acct = srv->accts; acct != NULL; acct = acct->next) {
		if (acct->deleted || acct->stale)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 16 : 2 * cap;
			if ((grown = realloc(refs, cap * sizeof(*refs))) == NULL)
				break;
			refs = grown;
		}
		refs[n].id = acct->id;
		refs[n].token_id = acct->token_id;
		n++;
	}
	pthread_mutex_unlock(&srv->reg_lock);
	for (i = 0; i < n; i++) {
		r = lsd_account_get(srv->store, refs[i].id, &a);
		if (r == LS_OK && a.token_id == refs[i].token_id) {
			ls_wipe(&a, sizeof(a));
			continue;
		}
		ls_wipe(&a, sizeof(a));
		if (r != LS_OK && r != LS_ERR_NOT_FOUND)
			continue;
		pthread_mutex_lock(&srv->reg_lock);
		for (acct = srv->accts; acct != NULL; acct = acct->next) {
			if (acct->id == refs[i].id && acct->token_id == refs[i].token_id &&
			    !acct->deleted)
				acct_mark_stale_locked(acct, r == LS_OK
				                                     ? "its token was replaced"
				                                     : "the account was deleted");
		}
		pthread_mutex_unlock(&srv->reg_lock);
	}
	free(refs);
}

static void
store_check_done(void *arg)
{
	lsd_server *srv = arg;

	srv->store_check_queued = false;
}

void
lsd_registry_sweep(lsd_server *srv)
{
	int64_t now = ls_now_ms();
	lsd_app *app, *next, *expired = NULL;

	pthread_mutex_lock(&srv->reg_lock);
	for (app = srv->apps; app != NULL; app = next) {
		next = app->next;
		if (app->conn != NULL || app->lease_until == 0 || now < app->lease_until ||
		    app->refs != 1)
			continue;
		app_unlink_locked(srv, app);
		app->next = expired;
		expired = app;
	}
	pthread_mutex_unlock(&srv->reg_lock);
	while ((app = expired) != NULL) {
		expired = app->next;
		app->next = NULL;
		ls_info("'%s': the lease of application #%llu ran out; its sessions are closed",
		        app->acct->nickname, (unsigned long long)app->serial);
		if (lsd_pool_submit(srv->pool, app_free_work, NULL, app) != LS_OK)
			app_free(srv, app);
	}
	if (!srv->store_check_queued && !srv->stopping &&
	    lsd_pool_submit(srv->pool, store_check_work, store_check_done, srv) == LS_OK)
		srv->store_check_queued = true;
}

/*
 * Applications of @app's account besides @app - live, leased, or still being freed (an
 * application leaves the count only once its ls_token_app is gone) - and connections besides
 * its own.
 */
static unsigned
others_locked(const lsd_app *app)
{
	const lsd_acct *acct = app->acct;

	return (acct->apps > 1 ? acct->apps - 1 : 0) + (acct->conns > 1 ? acct->conns - 1 : 0);
}

CK_RV
lsd_registry_recreate(lsd_conn *c, lsd_app *app)
{
	lsd_server *srv = c->srv;
	lsd_acct *acct = app->acct;
	uint64_t token_id = 0;
	CK_RV rv = CKR_OK;
	int r;

	pthread_mutex_lock(&srv->reg_lock);
	if (others_locked(app) > 0) {
		pthread_mutex_unlock(&srv->reg_lock);
		return CKR_SESSION_EXISTS;
	}
	/* Nothing else uses the token: close it, replace it in the store, open the new one. */
	ls_token_app_free(app->tapp);
	app->tapp = NULL;
	ls_token_close(acct->token);
	acct->token = NULL;
	r = lsd_account_recreate_token(srv->store, acct->id, c->addr, &token_id);
	if (r != LS_OK) {
		ls_error("%s: '%s': the token cannot be re-created: %s", c->peer, acct->nickname,
		         ls_strerror(r));
		token_id = acct->token_id;
		rv = CKR_DEVICE_ERROR;
	}
	acct->token_id = token_id;
	if (ls_token_open(srv->store, token_id, &srv->token_config, &acct->token) != CKR_OK ||
	    ls_token_app_new(acct->token, &app->tapp) != CKR_OK) {
		ls_error("%s: '%s': the token cannot be opened again", c->peer, acct->nickname);
		rv = CKR_DEVICE_ERROR;
	}
	pthread_mutex_unlock(&srv->reg_lock);
	replay_clear(app);
	if (rv == CKR_OK)
		ls_info("%s: '%s' re-created the token (now token %llu)", c->peer, acct->nickname,
		        (unsigned long long)token_id);
	return rv;
}

CK_RV
lsd_registry_unregister(lsd_conn *c, lsd_app *app)
{
	lsd_server *srv = c->srv;
	lsd_acct *acct = app->acct;
	int r;

	pthread_mutex_lock(&srv->reg_lock);
	if (others_locked(app) > 0) {
		pthread_mutex_unlock(&srv->reg_lock);
		return CKR_SESSION_EXISTS;
	}
	ls_token_app_free(app->tapp);
	app->tapp = NULL;
	ls_token_close(acct->token);
	acct->token = NULL;
	r = lsd_account_delete(srv->store, acct->id);
	if (r == LS_OK)
		acct->deleted = true;
	app->has_resume = false;
	pthread_mutex_unlock(&srv->reg_lock);
	if (r != LS_OK) {
		ls_error("%s: '%s' cannot be deleted: %s", c->peer, acct->nickname, ls_strerror(r));
		return CKR_DEVICE_ERROR;
	}
	ls_info("%s: '%s' unregistered: the account, its token and its log are deleted",
	        c->peer, acct->nickname);
	return CKR_OK;
}

unsigned
lsd_registry_account_conns(lsd_conn *c)
{
	unsigned n;

	pthread_mutex_lock(&c->srv->reg_lock);
	n = c->acct != NULL ? c->acct->conns : 0;
	pthread_mutex_unlock(&c->srv->reg_lock);
	return n;
}

void
lsd_registry_free_all(lsd_server *srv)
{
	lsd_app *app;
	lsd_acct *acct;

	for (;;) {
		pthread_mutex_lock(&srv->reg_lock);
		app = srv->apps;
		if (app != NULL)
			app_unlink_locked(srv, app);
		pthread_mutex_unlock(&srv->reg_lock);
		if (app == NULL)
			break;
		if (app->refs == 0)
			app_free(srv, app);
	}
	while ((acct = srv->accts) != NULL) {
		ls_warning("account '%s' still referenced at shutdown", acct->nickname);
		srv->accts = acct->next;
		acct_free(acct);
	}
}
