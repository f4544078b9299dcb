/*
 * LS11CLOUD - the PKCS#11 token engine.
 *
 * One ls_token per token (a store plus a token id); many tokens live in one process (the server
 * holds every user's).  Each PKCS#11 application that uses a token gets its own ls_token_app:
 * its own session and object handles, its own login state, its own operations, exactly as
 * PKCS#11 defines an application.  Token objects, PINs and the PIN policy state are shared by
 * all applications of the token (and persisted); session objects belong to the application
 * whose session created them.
 *
 * The functions mirror the PKCS#11 API one to one, minus the slot: ls_token_<name> is C_<Name>
 * with an application (or a token, for the calls that need no application) in front.  They
 * return the exact CK_RV the specification prescribes, so the local module's C_* functions and
 * the server's RPC dispatcher only check their own arguments, map the slot and call in.
 *
 * Handles: session and object handles are drawn per application from counters, never pointers,
 * never reused while the ls_token_app lives; a handle of another application is simply unknown
 * (CKR_SESSION_HANDLE_INVALID / CKR_OBJECT_HANDLE_INVALID).
 *
 * Threads: every function may be called from many threads at once, on one or several
 * applications of one or several tokens.  Long operations (PBKDF2 at login, signatures) do not
 * hold a token-wide lock, so two applications' signatures proceed in parallel.  Calls on the
 * SAME session are serialised: they run one after the other (never CKR_OPERATION_ACTIVE for
 * that reason); a session closed by another thread meanwhile answers CKR_SESSION_CLOSED.
 * C_OpenSession waits while a C_InitToken of the token runs.
 *
 * Blocking: C_Login/C_InitToken/C_InitPIN/C_SetPIN run PBKDF2 (~50 ms at the default count).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TOKEN_TOKEN_H
#define LS11_TOKEN_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "pkcs11x.h"
#include "store.h"

typedef struct ls_token ls_token;
typedef struct ls_token_app ls_token_app;

/* The fresh-token SO PIN the seed article documents. */
#define LS_TOKEN_DEFAULT_SO_PIN "87654321"

typedef struct {
	CK_ULONG pin_min_len;        /* default 6 */
	CK_ULONG pin_max_len;        /* default 64 */
	CK_ULONG max_pin_failures;   /* lockout after this many failures, default 10 */
	uint32_t pbkdf2_iterations;  /* 0: LS_PROTECT_DEFAULT_ITERATIONS */
	CK_ULONG max_sessions;       /* per application, default 1024 */
	CK_ULONG max_objects;        /* token + session objects per token, default 100000 */
	const char *model;           /* CK_TOKEN_INFO.model, default "LS11TOKEN" */
} ls_token_config;

/* Fills @cfg with the defaults above. */
void ls_token_config_init(ls_token_config *cfg);

/*
 * Creates a new, uninitialised token in @store (its SO PIN is LS_TOKEN_DEFAULT_SO_PIN and
 * CKF_TOKEN_INITIALIZED is clear) and returns its id.  One transaction, no PBKDF2: a fresh token
 * has no master key yet; its SO PIN, being the published default, is checked by a constant-time
 * comparison (and counted like any PIN check) until C_InitToken creates the master key and
 * wraps it under the SO PIN.  Sessions cannot be opened on it (CKR_TOKEN_NOT_RECOGNIZED) until
 * then.  The serial number (16 hex digits) is random, fixed at creation.
 */
CK_RV ls_token_create(ls_store *store, uint64_t *token_id);
/*
 * Opens token @token_id of @store.  @store must outlive the token; @cfg is copied (NULL for
 * defaults).  CKR_TOKEN_NOT_PRESENT when the id does not exist.
 */
CK_RV ls_token_open(ls_store *store, uint64_t token_id, const ls_token_config *cfg,
                    ls_token **out);
/* Closes the token; every application must have been freed first. */
void ls_token_close(ls_token *token);
/* Removes the token and all its objects from the store (for the account layer). */
CK_RV ls_token_destroy(ls_store *store, uint64_t token_id);

/*
 * Counters for tests and diagnostics (an addition to the PKCS#11 mirror): @objects_loaded
 * counts the token objects decoded from the store since the token was opened (a find by an
 * indexed attribute decodes only the rows the store's index returns), @objects_cached the
 * token objects held decoded in memory, @session_objects the live session objects.
 */
typedef struct {
	uint64_t objects_loaded;
	uint64_t objects_cached;
	uint64_t session_objects;
} ls_token_stats;

void ls_token_get_stats(ls_token *token, ls_token_stats *stats);

/* A new PKCS#11 application on @token. */
CK_RV ls_token_app_new(ls_token *token, ls_token_app **out);
/* Ends the application: closes its sessions, destroys its session objects, logs it out. */
void ls_token_app_free(ls_token_app *app);
ls_token *ls_token_app_token(const ls_token_app *app);

/* ---------------------------------------------------------------------------------------------
 * Token and mechanism information (no application needed)
 * ------------------------------------------------------------------------------------------- */

CK_RV ls_token_get_token_info(ls_token *token, CK_TOKEN_INFO *info);
CK_RV ls_token_get_mechanism_list(ls_token *token, CK_MECHANISM_TYPE *list, CK_ULONG *count);
CK_RV ls_token_get_mechanism_info(ls_token *token, CK_MECHANISM_TYPE type,
                                  CK_MECHANISM_INFO *info);

/* ---------------------------------------------------------------------------------------------
 * Token administration, sessions, login
 * ------------------------------------------------------------------------------------------- */

CK_RV ls_token_init_token(ls_token_app *app, const CK_UTF8CHAR *so_pin, CK_ULONG so_pin_len,
                          const CK_UTF8CHAR *label /* 32 bytes, blank padded */);
CK_RV ls_token_init_pin(ls_token_app *app, CK_SESSION_HANDLE h, const CK_UTF8CHAR *pin,
                        CK_ULONG pin_len);
CK_RV ls_token_set_pin(ls_token_app *app, CK_SESSION_HANDLE h, const CK_UTF8CHAR *old_pin,
                       CK_ULONG old_len, const CK_UTF8CHAR *new_pin, CK_ULONG new_len);

CK_RV ls_token_open_session(ls_token_app *app, CK_FLAGS flags, CK_SESSION_HANDLE *h);
CK_RV ls_token_close_session(ls_token_app *app, CK_SESSION_HANDLE h);
CK_RV ls_token_close_all_sessions(ls_token_app *app);
CK_RV ls_token_get_session_info(ls_token_app *app, CK_SESSION_HANDLE h, CK_SESSION_INFO *info);
CK_RV ls_token_get_operation_state(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *state,
                                   CK_ULONG *state_len);
CK_RV ls_token_set_operation_state(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *state,
                                   CK_ULONG state_len, CK_OBJECT_HANDLE enc_key,
                                   CK_OBJECT_HANDLE auth_key);
CK_RV ls_token_login(ls_token_app *app, CK_SESSION_HANDLE h, CK_USER_TYPE user,
                     const CK_UTF8CHAR *pin, CK_ULONG pin_len);
CK_RV ls_token_login_user(ls_token_app *app, CK_SESSION_HANDLE h, CK_USER_TYPE user,
                          const CK_UTF8CHAR *pin, CK_ULONG pin_len, const CK_UTF8CHAR *username,
                          CK_ULONG username_len);
CK_RV ls_token_logout(ls_token_app *app, CK_SESSION_HANDLE h);
CK_RV ls_token_session_cancel(ls_token_app *app, CK_SESSION_HANDLE h, CK_FLAGS flags);

/* ---------------------------------------------------------------------------------------------
 * Objects
 * ------------------------------------------------------------------------------------------- */

CK_RV ls_token_create_object(ls_token_app *app, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *tmpl,
                             CK_ULONG count, CK_OBJECT_HANDLE *obj);
CK_RV ls_token_copy_object(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                           const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *new_obj);
CK_RV ls_token_destroy_object(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj);
CK_RV ls_token_get_object_size(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                               CK_ULONG *size);
/* PKCS#11 semantics: partial results, CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_SENSITIVE, ... */
CK_RV ls_token_get_attribute_value(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                                   CK_ATTRIBUTE *tmpl, CK_ULONG count);
CK_RV ls_token_set_attribute_value(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                                   const CK_ATTRIBUTE *tmpl, CK_ULONG count);
CK_RV ls_token_find_objects_init(ls_token_app *app, CK_SESSION_HANDLE h,
                                 const CK_ATTRIBUTE *tmpl, CK_ULONG count);
CK_RV ls_token_find_objects(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *objs,
                            CK_ULONG max, CK_ULONG *count);
CK_RV ls_token_find_objects_final(ls_token_app *app, CK_SESSION_HANDLE h);

/* ---------------------------------------------------------------------------------------------
 * Cryptographic operations (one active operation per kind per session)
 * ------------------------------------------------------------------------------------------- */

CK_RV ls_token_encrypt_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                            CK_OBJECT_HANDLE key);
CK_RV ls_token_encrypt(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data,
                       CK_ULONG len, CK_BYTE *out, CK_ULONG *out_len);
CK_RV ls_token_encrypt_update(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *part,
                              CK_ULONG len, CK_BYTE *out, CK_ULONG *out_len);
CK_RV ls_token_encrypt_final(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *out,
                             CK_ULONG *out_len);
CK_RV ls_token_decrypt_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                            CK_OBJECT_HANDLE key);
CK_RV ls_token_decrypt(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data,
                       CK_ULONG len, CK_BYTE *out, CK_ULONG *out_len);
CK_RV ls_token_decrypt_update(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *part,
                              CK_ULONG len, CK_BYTE *out, CK_ULONG *out_len);
CK_RV ls_token_decrypt_final(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *out,
                             CK_ULONG *out_len);
CK_RV ls_token_digest_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech);
CK_RV ls_token_digest(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data, CK_ULONG len,
                      CK_BYTE *out, CK_ULONG *out_len);
CK_RV ls_token_digest_update(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *part,
                             CK_ULONG len);
CK_RV ls_token_digest_key(ls_token_app *app, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key);
CK_RV ls_token_digest_final(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *out,
                            CK_ULONG *out_len);
CK_RV ls_token_sign_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                         CK_OBJECT_HANDLE key);
CK_RV ls_token_sign(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data, CK_ULONG len,
                    CK_BYTE *sig, CK_ULONG *sig_len);
CK_RV ls_token_sign_update(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *part,
                           CK_ULONG len);
CK_RV ls_token_sign_final(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *sig,
                          CK_ULONG *sig_len);
CK_RV ls_token_sign_recover_init(ls_token_app *app, CK_SESSION_HANDLE h,
                                 const CK_MECHANISM *mech, CK_OBJECT_HANDLE key);
CK_RV ls_token_sign_recover(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data,
                            CK_ULONG len, CK_BYTE *sig, CK_ULONG *sig_len);
CK_RV ls_token_verify_init(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                           CK_OBJECT_HANDLE key);
CK_RV ls_token_verify(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *data, CK_ULONG len,
                      const CK_BYTE *sig, CK_ULONG sig_len);
CK_RV ls_token_verify_update(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *part,
                             CK_ULONG len);
CK_RV ls_token_verify_final(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *sig,
                            CK_ULONG sig_len);
CK_RV ls_token_verify_recover_init(ls_token_app *app, CK_SESSION_HANDLE h,
                                   const CK_MECHANISM *mech, CK_OBJECT_HANDLE key);
CK_RV ls_token_verify_recover(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *sig,
                              CK_ULONG sig_len, CK_BYTE *data, CK_ULONG *data_len);
/* The dual-function calls (C_DigestEncryptUpdate, ...): CKR_FUNCTION_NOT_SUPPORTED is honest. */

CK_RV ls_token_generate_key(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                            const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *key);
CK_RV ls_token_generate_key_pair(ls_token_app *app, CK_SESSION_HANDLE h,
                                 const CK_MECHANISM *mech, const CK_ATTRIBUTE *pub_tmpl,
                                 CK_ULONG pub_count, const CK_ATTRIBUTE *priv_tmpl,
                                 CK_ULONG priv_count, CK_OBJECT_HANDLE *pub,
                                 CK_OBJECT_HANDLE *priv);
CK_RV ls_token_wrap_key(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                        CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, CK_BYTE *out,
                        CK_ULONG *out_len);
CK_RV ls_token_unwrap_key(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                          CK_OBJECT_HANDLE unwrapping, const CK_BYTE *wrapped, CK_ULONG len,
                          const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *key);
CK_RV ls_token_derive_key(ls_token_app *app, CK_SESSION_HANDLE h, const CK_MECHANISM *mech,
                          CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                          CK_OBJECT_HANDLE *key);
CK_RV ls_token_seed_random(ls_token_app *app, CK_SESSION_HANDLE h, const CK_BYTE *seed,
                           CK_ULONG len);
CK_RV ls_token_generate_random(ls_token_app *app, CK_SESSION_HANDLE h, CK_BYTE *out,
                               CK_ULONG len);

#endif /* LS11_TOKEN_TOKEN_H */
