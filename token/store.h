/*
 * LS11CLOUD - the token store: persistent tokens and objects behind one interface.
 *
 * One store holds many tokens (the server keeps every user's token in one database); every
 * call names the token it works on, and an object is only ever reached through its token, so a
 * guessed object id of another token is simply "not found".
 *
 * The interface is a vtable (ls_store_ops) so that a PostgreSQL backend can follow the SQLite
 * one (token/store-sqlite.h): nothing here names a backend type, every call returns LS_OK or a
 * negative LS_ERR_* code (core/errors.h), and all work happens inside explicit transactions.
 *
 * Transactions: one PKCS#11 change is one transaction.  ls_store_begin() hands out a
 * transaction; every data call takes it; ls_store_commit() makes all of it durable at once
 * (with the SQLite backend: written and fsync'ed before commit returns) or nothing of it,
 * ls_store_rollback() forgets all of it.  A transaction belongs to the thread that began it
 * until it ends; other threads calling ls_store_begin() on the same store wait for it (see the
 * backend's header for its thread model).  Read transactions see one consistent snapshot.
 *
 * What the store does not do: it does not interpret attributes.  An object is a few indexed
 * columns (class, key type, CKA_ID, CKA_LABEL) plus one opaque attribute blob that the token
 * engine encodes (with sensitive values sealed by token/protect.h before they get here).  Find
 * narrows by the indexed fields; the caller filters the rest of a template itself.
 *
 * Error codes used by every backend:
 *   LS_ERR_INVALID_ARG  a NULL where a value is needed, id 0, a field over its limit
 *   LS_ERR_TOO_LARGE    a blob over its limit
 *   LS_ERR_NOT_FOUND    no such token / object (in this token)
 *   LS_ERR_STATE        a write in a read transaction, a call on an ended transaction
 *   LS_ERR_TIMEOUT      the database stayed locked by someone else for the whole busy timeout
 *   LS_ERR_IO           the backend failed to read or write (logged with its own message)
 *   LS_ERR_MALFORMED    the stored data is not what this code wrote (corruption, foreign file)
 *   LS_ERR_UNSUPPORTED  the database was written by a newer version of the schema
 *   LS_ERR_NOMEM        out of memory
 *   LS_ERR_STATE        also: an account nickname that is already taken
 *
 * Accounts (the server's account layer, schema version 2) live in the same store: one account
 * owns one token, and the audit log rows of an account are deleted with it.  Settings (schema
 * version 3) are named text values the server reads while it runs and the operator's tool
 * writes (the registration policy): the store does not interpret them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TOKEN_STORE_H
#define LS11_TOKEN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* Fixed sizes of the token record (the CK_TOKEN_INFO fields, blank-padded, not terminated). */
#define LS_STORE_LABEL_SIZE 32
#define LS_STORE_SERIAL_SIZE 16
/* Largest wrapped master-key blob a token record holds (token/protect.h blobs are 88 bytes). */
#define LS_STORE_WRAP_MAX 256

/* Limits of the object columns, checked before anything is written. */
#define LS_STORE_CKA_ID_MAX 1024
#define LS_STORE_LABEL_MAX 1024
#define LS_STORE_ATTRS_MAX (1024 * 1024)

/*
 * A token record.  @flags holds the CKF_ token flags the engine persists (CKF_TOKEN_INITIALIZED,
 * CKF_USER_PIN_INITIALIZED, CKF_*_PIN_LOCKED, CKF_*_PIN_TO_BE_CHANGED, ...); the store keeps
 * them as they are.  The failure counters count consecutive wrong PINs since the last success;
 * the engine derives CKF_*_COUNT_LOW / FINAL_TRY from them and its limit.  A wrap blob of length
 * 0 means "not set" (no user PIN yet).  @format_version is the token/protect.h format of this
 * token's blobs.  A plain value: no pointers, nothing to free.
 */
typedef struct {
	uint64_t id; /* assigned by ls_store_token_create(), never reused */
	uint8_t label[LS_STORE_LABEL_SIZE];
	uint8_t serial[LS_STORE_SERIAL_SIZE];
	uint64_t flags;
	uint32_t user_failures;
	uint32_t so_failures;
	uint32_t format_version;
	uint8_t user_wrap[LS_STORE_WRAP_MAX];
	size_t user_wrap_len;
	uint8_t so_wrap[LS_STORE_WRAP_MAX];
	size_t so_wrap_len;
} ls_store_token;

/* ls_store_object.key_type of an object without CKA_KEY_TYPE (CK_UNAVAILABLE_INFORMATION). */
#define LS_STORE_NO_KEY_TYPE UINT64_MAX

/*
 * An object.  @id is stable for the object's life and never reused by the store (it is bound
 * into the sealed attributes).  @cls/@key_type are CK_OBJECT_CLASS / CK_KEY_TYPE; @ck_id and
 * @label are CKA_ID and CKA_LABEL (an empty value and an absent one are the same: length 0);
 * @attrs is everything else, opaque to the store.
 *
 * Objects filled by ls_store_object_get() own their buffers: release with
 * ls_store_object_clear().  Objects handed to a find callback borrow the backend's buffers,
 * valid only during the callback.  Objects passed to ls_store_object_put() are only read.
 */
typedef struct {
	uint64_t id;
	uint64_t cls;
	uint64_t key_type;
	uint8_t *ck_id;
	size_t ck_id_len;
	uint8_t *label;
	size_t label_len;
	uint8_t *attrs;
	size_t attrs_len;
} ls_store_object;

/* Which indexed fields of an ls_store_query take part (a bit set). */
enum {
	LS_STORE_Q_CLASS = 1u << 0,
	LS_STORE_Q_KEY_TYPE = 1u << 1,
	LS_STORE_Q_CKA_ID = 1u << 2,
	LS_STORE_Q_LABEL = 1u << 3,
	LS_STORE_Q_ALL = 0xfu,
};

/* Objects of one token whose named fields equal the given values; fields == 0 lists them all. */
typedef struct {
	unsigned fields;
	uint64_t cls;
	uint64_t key_type;
	const uint8_t *ck_id;
	size_t ck_id_len;
	const uint8_t *label;
	size_t label_len;
} ls_store_query;

/*
 * Called once per matching object, in ascending id order.  Return LS_OK to go on, a positive
 * value to stop early (the find then returns LS_OK), or a negative LS_ERR_* to stop and have the
 * find return it.  The callback must not call the store.
 */
typedef int (*ls_store_object_cb)(void *ctx, const ls_store_object *obj);
/* The same for tokens (ls_store_token_list()), in ascending id order. */
typedef int (*ls_store_token_cb)(void *ctx, const ls_store_token *tok);

/* ---------------------------------------------------------------------------------------------
 * Accounts and their audit log (the server's; schema version 2)
 * ------------------------------------------------------------------------------------------- */

/* A nickname is 1..LS_STORE_NICK_MAX bytes (the server's rules are stricter: server/account.h). */
#define LS_STORE_NICK_MAX 64
/* The SESPAKE verifier, stored as the opaque bytes of core/sespake.h's ls_sespake_verifier. */
#define LS_STORE_VERIFIER_SIZE 196
/* Audit rows: the event name, the source address and the free text, each bounded. */
#define LS_STORE_AUDIT_EVENT_MAX 32
#define LS_STORE_AUDIT_SOURCE_MAX 64
#define LS_STORE_AUDIT_DETAIL_MAX 256
/* Rows kept per account: appending beyond it drops the oldest. */
#define LS_STORE_AUDIT_KEEP 10000

/*
 * An account record: a plain value, no pointers.  @state is the account layer's (active, must
 * change password, locked: the store keeps the number as it is); @c1..@c3 are the RFC 8133
 * attempt counters; times are Unix seconds (0: never).  @nickname is NUL-terminated ASCII.
 */
typedef struct {
	uint64_t id; /* assigned by ls_store_account_create(), never reused */
	char nickname[LS_STORE_NICK_MAX + 1];
	uint8_t verifier[LS_STORE_VERIFIER_SIZE];
	uint32_t state;
	uint32_t c1, c2, c3;
	uint64_t token_id; /* the account's token; unique over the accounts */
	int64_t created_at;
	int64_t updated_at;
	int64_t password_changed_at;
	int64_t last_login_at;
	char last_login_from[LS_STORE_AUDIT_SOURCE_MAX + 1]; /* the client's address, or "" */
} ls_store_account;

/* One audit log row; the strings are NUL-terminated, printable ASCII/UTF-8 (not checked). */
typedef struct {
	uint64_t id; /* ascending in time, never reused */
	int64_t at;  /* Unix seconds */
	char event[LS_STORE_AUDIT_EVENT_MAX + 1];
	uint64_t count; /* for aggregated events (signatures in one connection), else 0 */
	char source[LS_STORE_AUDIT_SOURCE_MAX + 1];
	char detail[LS_STORE_AUDIT_DETAIL_MAX + 1];
} ls_store_audit;

/* A setting's name is 1..LS_STORE_SETTING_NAME_MAX bytes, its value text of at most
 * LS_STORE_SETTING_VALUE_MAX bytes without NUL (schema version 3). */
#define LS_STORE_SETTING_NAME_MAX 64
#define LS_STORE_SETTING_VALUE_MAX 1024

/* Called per account (ascending id) / per audit row; the same rules as ls_store_object_cb. */
typedef int (*ls_store_account_cb)(void *ctx, const ls_store_account *acct);
typedef int (*ls_store_audit_cb)(void *ctx, const ls_store_audit *row);

typedef struct ls_store ls_store;
typedef struct ls_store_txn ls_store_txn;

/*
 * The backend vtable.  Callers use the ls_store_*() functions below, which check arguments
 * common to every backend and then dispatch here; a backend can rely on non-NULL pointers,
 * valid lengths, and (for writes) a write transaction.
 */
typedef struct {
	const char *name;
	void (*close)(ls_store *store);
	int (*begin)(ls_store *store, bool write, ls_store_txn **out);
	int (*commit)(ls_store_txn *txn);
	void (*rollback)(ls_store_txn *txn);
	int (*schema_version)(ls_store_txn *txn, uint32_t *version);
	int (*check_integrity)(ls_store *store);

	int (*token_create)(ls_store_txn *txn, const ls_store_token *tok, uint64_t *id);
	int (*token_get)(ls_store_txn *txn, uint64_t token_id, ls_store_token *out);
	int (*token_update)(ls_store_txn *txn, const ls_store_token *tok);
	int (*token_delete)(ls_store_txn *txn, uint64_t token_id);
	int (*token_list)(ls_store_txn *txn, ls_store_token_cb cb, void *ctx);

	int (*object_id_new)(ls_store_txn *txn, uint64_t token_id, uint64_t *id);
	int (*object_put)(ls_store_txn *txn, uint64_t token_id, const ls_store_object *obj);
	int (*object_get)(ls_store_txn *txn, uint64_t token_id, uint64_t object_id,
	                  ls_store_object *out);
	int (*object_delete)(ls_store_txn *txn, uint64_t token_id, uint64_t object_id);
	int (*object_find)(ls_store_txn *txn, uint64_t token_id, const ls_store_query *q,
	                   ls_store_object_cb cb, void *ctx);
	int (*object_count)(ls_store_txn *txn, uint64_t token_id, uint64_t *count);

	int (*account_create)(ls_store_txn *txn, const ls_store_account *acct, uint64_t *id);
	int (*account_get)(ls_store_txn *txn, uint64_t account_id, ls_store_account *out);
	int (*account_find)(ls_store_txn *txn, const char *nickname, ls_store_account *out);
	int (*account_update)(ls_store_txn *txn, const ls_store_account *acct);
	int (*account_delete)(ls_store_txn *txn, uint64_t account_id);
	int (*account_list)(ls_store_txn *txn, ls_store_account_cb cb, void *ctx);
	int (*audit_append)(ls_store_txn *txn, uint64_t account_id, const ls_store_audit *row,
	                    uint64_t *id);
	int (*audit_list)(ls_store_txn *txn, uint64_t account_id, uint64_t first_id,
	                  uint32_t limit, ls_store_audit_cb cb, void *ctx);
	int (*audit_count)(ls_store_txn *txn, uint64_t account_id, uint64_t *count);

	int (*setting_get)(ls_store_txn *txn, const char *name, char *value, size_t size);
	int (*setting_set)(ls_store_txn *txn, const char *name, const char *value);
} ls_store_ops;

/* The common head of every backend's store and transaction structures. */
struct ls_store {
	const ls_store_ops *ops;
};

struct ls_store_txn {
	ls_store *store;
	bool write;
};

/* ---------------------------------------------------------------------------------------------
 * The store and its transactions
 * ------------------------------------------------------------------------------------------- */

/* Closes @store (NULL accepted); a transaction still open is rolled back first. */
void ls_store_close(ls_store *store);

/* The backend's name ("sqlite"). */
const char *ls_store_backend(const ls_store *store);

/*
 * Starts a transaction: @write true for one that changes something (taken at once, so it
 * cannot fail half-way for lack of a lock), false for a read-only snapshot.  Blocks while
 * another transaction of this store is open, and for at most the backend's busy timeout while
 * another process or handle writes (then LS_ERR_TIMEOUT).  A thread that already holds a
 * transaction of this store gets LS_ERR_STATE (transactions do not nest).  *@out is set only on
 * success.
 */
int ls_store_begin(ls_store *store, bool write, ls_store_txn **out);

/*
 * Makes everything done in @txn durable, and ends it.  On failure nothing of @txn is kept
 * (it is rolled back) and the transaction has ended all the same.
 */
int ls_store_commit(ls_store_txn *txn);

/* Forgets everything done in @txn and ends it.  NULL accepted. */
void ls_store_rollback(ls_store_txn *txn);

/* The schema version of the database (LS_STORE_SQLITE_SCHEMA_VERSION for SQLite today). */
int ls_store_schema_version(ls_store_txn *txn, uint32_t *version);

/*
 * Checks the database's structure (SQLite: PRAGMA integrity_check and foreign_key_check).
 * LS_OK when sound, LS_ERR_MALFORMED with the findings logged otherwise.  Takes the store's
 * lock like a transaction (so LS_ERR_STATE inside one); may take long on a large database.
 */
int ls_store_check_integrity(ls_store *store);

/* ---------------------------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------------------------- */

/* Adds a token (@tok->id is ignored) and returns its new id.  Write transaction. */
int ls_store_token_create(ls_store_txn *txn, const ls_store_token *tok, uint64_t *id);

/* Reads a token record into *@out.  LS_ERR_NOT_FOUND if there is none with that id. */
int ls_store_token_get(ls_store_txn *txn, uint64_t token_id, ls_store_token *out);

/* Replaces every field of the token @tok->id.  LS_ERR_NOT_FOUND if absent.  Write transaction. */
int ls_store_token_update(ls_store_txn *txn, const ls_store_token *tok);

/* Deletes a token and all its objects.  LS_ERR_NOT_FOUND if absent.  Write transaction. */
int ls_store_token_delete(ls_store_txn *txn, uint64_t token_id);

/* Calls @cb for every token. */
int ls_store_token_list(ls_store_txn *txn, ls_store_token_cb cb, void *ctx);

/* ---------------------------------------------------------------------------------------------
 * Objects
 * ------------------------------------------------------------------------------------------- */

/*
 * Hands out a new object id for token @token_id (LS_ERR_NOT_FOUND if no such token).  Ids are
 * unique in the whole store and never handed out twice, even after a delete; an id taken in a
 * transaction that rolls back may be handed out again.  Write transaction.
 */
int ls_store_object_id_new(ls_store_txn *txn, uint64_t token_id, uint64_t *id);

/*
 * Creates or replaces object @obj->id of token @token_id.  The id must come from
 * ls_store_object_id_new() for this token; an id that belongs to another token gives
 * LS_ERR_NOT_FOUND and changes nothing.  Write transaction.
 */
int ls_store_object_put(ls_store_txn *txn, uint64_t token_id, const ls_store_object *obj);

/*
 * Reads object @object_id of token @token_id into *@out (cleared first; owns its buffers on
 * success, release with ls_store_object_clear()).  LS_ERR_NOT_FOUND if the token has no such
 * object.
 */
int ls_store_object_get(ls_store_txn *txn, uint64_t token_id, uint64_t object_id,
                        ls_store_object *out);

/* Deletes an object of a token.  LS_ERR_NOT_FOUND if it has none with that id.  Write txn. */
int ls_store_object_delete(ls_store_txn *txn, uint64_t token_id, uint64_t object_id);

/* Calls @cb for every object of @token_id matching @q (NULL: every object, in id order). */
int ls_store_object_find(ls_store_txn *txn, uint64_t token_id, const ls_store_query *q,
                         ls_store_object_cb cb, void *ctx);

/* Number of objects of @token_id (for the engine's per-token object limit). */
int ls_store_object_count(ls_store_txn *txn, uint64_t token_id, uint64_t *count);

/* Wipes and frees the buffers of an object filled by ls_store_object_get().  NULL accepted. */
void ls_store_object_clear(ls_store_object *obj);

/* ---------------------------------------------------------------------------------------------
 * Accounts
 * ------------------------------------------------------------------------------------------- */

/*
 * Adds an account (@acct->id is ignored) owning the existing token @acct->token_id, and returns
 * its new id.  LS_ERR_STATE when the nickname is taken, LS_ERR_NOT_FOUND when the token does
 * not exist, LS_ERR_INVALID_ARG for an empty or too long nickname or a token that another
 * account owns.  Write transaction.
 */
int ls_store_account_create(ls_store_txn *txn, const ls_store_account *acct, uint64_t *id);

/* Reads account @account_id into *@out.  LS_ERR_NOT_FOUND if there is none. */
int ls_store_account_get(ls_store_txn *txn, uint64_t account_id, ls_store_account *out);

/* Reads the account named @nickname (exact, case-sensitive) into *@out.  LS_ERR_NOT_FOUND. */
int ls_store_account_find(ls_store_txn *txn, const char *nickname, ls_store_account *out);

/*
 * Replaces every field of account @acct->id except its nickname and creation time (verifier,
 * state, counters, token, the times, last_login_from; updated_at 0 means now).  LS_ERR_NOT_FOUND if absent,
 * LS_ERR_NOT_FOUND too when @acct->token_id names no token.  Write transaction.
 */
int ls_store_account_update(ls_store_txn *txn, const ls_store_account *acct);

/*
 * Deletes an account, its audit rows, and its token with all the token's objects, at once.
 * LS_ERR_NOT_FOUND if absent.  Write transaction.
 */
int ls_store_account_delete(ls_store_txn *txn, uint64_t account_id);

/* Calls @cb for every account, in ascending id order. */
int ls_store_account_list(ls_store_txn *txn, ls_store_account_cb cb, void *ctx);

/*
 * Appends an audit row for @account_id (@row->id is ignored; @row->at 0 means now) and returns
 * its id in *@id (may be NULL).  Strings longer than their limits give LS_ERR_INVALID_ARG.
 * Keeps at most LS_STORE_AUDIT_KEEP rows per account (the oldest go).  LS_ERR_NOT_FOUND when
 * the account does not exist.  Write transaction.
 */
int ls_store_audit_append(ls_store_txn *txn, uint64_t account_id, const ls_store_audit *row,
                          uint64_t *id);

/*
 * Calls @cb for at most @limit (1..LS_STORE_AUDIT_KEEP) audit rows of @account_id whose id is
 * at least @first_id, oldest first: page forwards by passing the last id seen plus one.  An
 * account without rows (or no such account) gives no calls and LS_OK.
 */
int ls_store_audit_list(ls_store_txn *txn, uint64_t account_id, uint64_t first_id,
                        uint32_t limit, ls_store_audit_cb cb, void *ctx);

/* The number of audit rows @account_id has (0 for no such account). */
int ls_store_audit_count(ls_store_txn *txn, uint64_t account_id, uint64_t *count);

/* ---------------------------------------------------------------------------------------------
 * Settings
 * ------------------------------------------------------------------------------------------- */

/*
 * Reads setting @name into @value (@size bytes, NUL-terminated; emptied first).
 * LS_ERR_NOT_FOUND when the store has no value for it, LS_ERR_BAD_LENGTH when @size is too
 * small for the value (nothing copied), LS_ERR_INVALID_ARG for an empty or too long name,
 * LS_ERR_MALFORMED for a stored value this code did not write.
 */
int ls_store_setting_get(ls_store_txn *txn, const char *name, char *value, size_t size);

/*
 * Sets setting @name to @value, or removes it when @value is NULL (removing one that has no
 * value is LS_OK).  LS_ERR_INVALID_ARG for an empty or too long name, LS_ERR_TOO_LARGE for a
 * value over LS_STORE_SETTING_VALUE_MAX.  Write transaction.
 */
int ls_store_setting_set(ls_store_txn *txn, const char *name, const char *value);

#endif /* LS11_TOKEN_STORE_H */
