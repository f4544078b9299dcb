/*
 * LS11CLOUD - the token engine's private structures, shared by token/token*.c only.
 *
 * Lock order (a thread takes them in this order, never the reverse):
 *
 *   app->login_lock -> session->lock -> token->write_lock -> store transaction
 *                   -> app->lock -> token->lock
 *
 * and never calls the store while it holds app->lock or token->lock (a find callback, which
 * runs inside a store transaction, may take token->lock: store -> token is the one nesting).
 *
 *  - token->lock: short sections only; the application list, session counts, the cached token
 *    record, the token-object cache, the PIN attempts in flight.
 *  - token->write_lock: serialises this process's read-modify-write of token objects (C_SetAttr,
 *    C_DestroyObject) so two changes of one object cannot lose one; held over a store commit,
 *    never over PBKDF2 or a signature.
 *  - app->lock: short sections; the application's handle tables and login state.
 *  - app->login_lock: serialises C_Login/C_Logout/C_CloseAllSessions of one application (a
 *    login runs PBKDF2 holding only this and its session's lock).
 *  - session->lock: serialises the calls on one session (concurrent calls on the same session
 *    run one after the other; a session is never used by two threads at once).
 *
 * Sessions, the master-key holder and objects are reference counted, so a session closed by
 * one thread while another is inside a call on it stays valid until that call returns.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TOKEN_TOKEN_PRIVATE_H
#define LS11_TOKEN_TOKEN_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "mech.h"
#include "object.h"
#include "protect.h"
#include "store.h"
#include "token.h"

/* ---------------------------------------------------------------------------------------------
 * A hash map from non-zero 64-bit keys to non-NULL pointers (token-map.c)
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	uint64_t *keys; /* 0: empty slot */
	void **vals;
	size_t cap;   /* a power of two, or 0 */
	size_t used;  /* slots with a key (live or tombstone) */
	size_t count; /* live entries */
} ls_tmap;

void ls_tmap_init(ls_tmap *m);
/* Frees the table (not the values). */
void ls_tmap_clear(ls_tmap *m);
void *ls_tmap_get(const ls_tmap *m, uint64_t key);
/* Inserts or replaces.  LS_ERR_NOMEM, LS_ERR_INVALID_ARG (key 0, val NULL). */
int ls_tmap_put(ls_tmap *m, uint64_t key, void *val);
/* Removes and returns the value, or NULL. */
void *ls_tmap_remove(ls_tmap *m, uint64_t key);
/* Iterates: start with *@iter = 0; false at the end.  No put/remove during the walk. */
bool ls_tmap_next(const ls_tmap *m, size_t *iter, uint64_t *key, void **val);

/* ---------------------------------------------------------------------------------------------
 * Structures
 * ------------------------------------------------------------------------------------------- */

/* Nobody is logged in (the CKU_ values are 0, 1, 2). */
#define LS_TOKEN_NOBODY ((CK_USER_TYPE)~0UL)

/* Token objects decoded and kept in memory per token (the cache evicts beyond this). */
#define LS_TOKEN_CACHE_MAX 8192

/* The CKF_ flags kept in the store record (the others are derived). */
#define LS_TOKEN_PERSISTED_FLAGS                                                                  \
	(CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_USER_PIN_LOCKED |                 \
	 CKF_SO_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED | CKF_SO_PIN_TO_BE_CHANGED)

/* The master key of a token, shared by reference while an application is logged in. */
typedef struct {
	unsigned refs; /* atomic */
	ls_protect_key *key;
} ls_token_mk;

ls_token_mk *ls_token_mk_new(ls_protect_key *key); /* takes @key, also on failure */
ls_token_mk *ls_token_mk_ref(ls_token_mk *mk);
void ls_token_mk_unref(ls_token_mk *mk);

struct ls_token {
	ls_store *store;
	uint64_t id;
	ls_token_config cfg;
	char model[17];

	pthread_mutex_t lock;
	pthread_cond_t cond;        /* signalled when @initializing ends */
	pthread_mutex_t write_lock;
	bool initializing;          /* C_InitToken runs: no session may open */
	ls_store_token rec;         /* the record as of our last transaction */
	ls_token_app *apps;         /* every application (linked through app->next) */
	uint64_t next_app_id;
	CK_ULONG session_count;     /* over all applications */
	CK_ULONG rw_session_count;
	CK_ULONG session_objects;   /* over all applications, for max_objects */
	unsigned user_attempts;     /* PIN checks in flight (already counted as failures) */
	unsigned so_attempts;
	unsigned user_logins;       /* applications logged in as the user */
	ls_tmap cache;              /* store id -> ls_object (one reference each) */
	uint64_t cache_gen;         /* bumped when a token object changes or goes */
	int64_t token_objects;      /* objects in the store (-1: not counted yet) */
	uint64_t objects_loaded;    /* objects decoded from the store, for ls_token_get_stats */
};

/* One active operation of one kind in a session. */
typedef struct {
	ls_op *op;
	ls_object_key key;      /* the key view the operation uses (zeroed for digests) */
	bool has_key;
	bool updated;           /* a C_*Update came: the one-shot call is CKR_OPERATION_ACTIVE */
	bool needs_user;        /* the key is private: the op dies with the user's login */
	uint64_t login_gen;     /* app->login_gen when the op started */
	bool needs_auth;        /* CKA_ALWAYS_AUTHENTICATE: a context-specific login is due */
} ls_sop;

enum {
	LS_SOP_ENCRYPT,
	LS_SOP_DECRYPT,
	LS_SOP_DIGEST,
	LS_SOP_SIGN,
	LS_SOP_VERIFY,
	LS_SOP_COUNT
};

/* A found handle, with what decides whether it may still be shown. */
typedef struct {
	CK_OBJECT_HANDLE handle;
	bool private_obj;
} ls_found;

typedef struct ls_session {
	CK_SESSION_HANDLE handle;
	CK_FLAGS flags;             /* CKF_SERIAL_SESSION | CKF_RW_SESSION */
	unsigned refs;              /* under app->lock */
	bool closed;                /* out of the table; under app->lock */
	pthread_mutex_t lock;
	ls_sop ops[LS_SOP_COUNT];
	bool find_active;
	ls_found *found;
	size_t found_count, found_pos;
} ls_session;

/* An object handle of an application: a token object (by store id) or a session object. */
typedef struct {
	CK_OBJECT_HANDLE handle;
	uint64_t store_id;          /* token objects */
	ls_object *obj;             /* session objects (one reference) */
	CK_SESSION_HANDLE creator;  /* session objects: the session that created it */
} ls_handle;

struct ls_token_app {
	ls_token *token;
	ls_token_app *next;
	uint64_t id;

	pthread_mutex_t login_lock;
	pthread_mutex_t lock;
	CK_USER_TYPE user;          /* LS_TOKEN_NOBODY, CKU_USER or CKU_SO */
	ls_token_mk *mk;            /* while logged in */
	uint64_t login_gen;         /* bumped at every logout */
	CK_SESSION_HANDLE next_session;
	CK_OBJECT_HANDLE next_object;
	ls_tmap sessions;           /* handle -> ls_session */
	CK_ULONG rw_sessions;
	ls_tmap handles;            /* object handle -> ls_handle */
	ls_tmap by_store_id;        /* store id -> ls_handle (token objects) */
	ls_tmap session_objs;       /* object handle -> ls_handle (session objects only: the same
	                             * entries as in handles, so a find walks these, not every
	                             * handle the application holds) */
};

/* ---------------------------------------------------------------------------------------------
 * Shared helpers
 * ------------------------------------------------------------------------------------------- */

/* The one mapping of LS_ERR_* to CK_RV (token.c). */
CK_RV ls_token_rv(int err);

/* Session references (token-session.c).  get: CKR_SESSION_HANDLE_INVALID when unknown. */
CK_RV ls_session_get(ls_token_app *app, CK_SESSION_HANDLE h, ls_session **out);
void ls_session_put(ls_token_app *app, ls_session *s);
/* Takes the session reference and its lock (the usual start of a call). */
CK_RV ls_session_enter(ls_token_app *app, CK_SESSION_HANDLE h, ls_session **out);
/* Unlocks and drops the reference. */
void ls_session_leave(ls_token_app *app, ls_session *s);
/* Ends every operation and the find of a session (its lock held or the session unshared). */
void ls_session_end_ops(ls_session *s);
void ls_sop_end(ls_sop *sop);

/* The login state of @app as seen now (app->lock taken inside). */
CK_USER_TYPE ls_app_user(ls_token_app *app, ls_token_mk **mk, uint64_t *gen);

/* Object handles and the token-object cache (token-object.c). */
ls_object_who ls_app_who(CK_USER_TYPE user);
/*
 * Resolves an object handle of @app to a referenced object visible to @user (private objects
 * only for CKU_USER).  CKR_OBJECT_HANDLE_INVALID when unknown, gone or invisible.
 */
CK_RV ls_app_object(ls_token_app *app, CK_OBJECT_HANDLE h, CK_USER_TYPE user, ls_object **out);
/* Gives a new object a handle in @app (and, for token objects, persists it first). */
CK_RV ls_app_add_object(ls_token_app *app, ls_session *s, ls_object *obj,
                        const ls_token_mk *mk, CK_OBJECT_HANDLE *out);
/* Destroys the session objects created by session @h (or every one with @h == 0). */
void ls_app_destroy_session_objects(ls_token_app *app, CK_SESSION_HANDLE h);
/* Drops every cached token object (C_InitToken) or forgets their secrets (last logout). */
void ls_token_cache_flush(ls_token *token);
void ls_token_cache_forget_secrets(ls_token *token);

#endif /* LS11_TOKEN_TOKEN_PRIVATE_H */
