/*
 * LS11CLOUD - the account layer: accounts, their tokens and their audit log in the store.
 *
 * An account is a nickname, the SESPAKE verifier of its cloud password (never the password),
 * a state, the RFC 8133 attempt counters and one token (token/token.h) that it owns.  This
 * unit is shared by ls11cloudd and ls11cloud-admin (both open the same SQLite file; WAL and
 * the busy timeout let them work at the same time).  Every function is blocking (store I/O,
 * fsync on commit): the server calls them on its worker threads, never on the event loop.
 *
 * Errors are LS_ERR_* codes (core/errors.h); with @why they also give a sentence for people.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_SERVER_ACCOUNT_H
#define LS11_SERVER_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "crypto.h"
#include "sespake.h"
#include "store.h"

typedef enum {
	LSD_ACCOUNT_ACTIVE = 0,
	LSD_ACCOUNT_MUST_CHANGE_PASSWORD = 1, /* admin-made: may only change its password */
	LSD_ACCOUNT_LOCKED = 2,               /* refused at the handshake like a wrong password */
} lsd_account_state;

/* The SQLite file of the store inside a state directory. */
#define LSD_STORE_FILE "ls11cloud.db"

/* "active", "must-change-password", "locked", or "unknown". */
const char *lsd_account_state_name(uint32_t state);

/*
 * LS_OK when @nickname is 3..64 characters of ASCII letters, digits and "._-@"; otherwise
 * LS_ERR_BAD_LENGTH / LS_ERR_MALFORMED / LS_ERR_INVALID_ARG and *@why (if not NULL) says which
 * rule it breaks, e.g. "the character ' ' (0x20) at position 4 is not allowed".  @why points
 * into @buf (@buf_size bytes).
 */
int lsd_nickname_check(const char *nickname, char *buf, size_t buf_size);

/* Opens (creating if needed) the store of @state_dir.  Errors as ls_store_sqlite_open(). */
int lsd_store_open(const char *state_dir, ls_store **out);

/*
 * Creates an account: a fresh token (ls_token_create) and the account row owning it, with
 * @verifier (checked with ls_sespake_verifier_check()), @state and counters initialised from
 * @limits (NULL: LS_SESPAKE_LIMITS_DEFAULT), plus an audit row "created" with @source.
 * LS_ERR_STATE when the nickname is taken (nothing is left behind), nickname errors as
 * lsd_nickname_check(), the verifier's errors, store errors.  *@id (may be NULL) gets the id.
 */
int lsd_account_create(ls_store *store, const char *nickname,
                       const ls_sespake_verifier *verifier, lsd_account_state state,
                       const ls_sespake_limits *limits, const char *source, uint64_t *id);

/* Reads the account named @nickname.  LS_ERR_NOT_FOUND. */
int lsd_account_find(ls_store *store, const char *nickname, ls_store_account *out);

/* Reads account @id.  LS_ERR_NOT_FOUND. */
int lsd_account_get(ls_store *store, uint64_t id, ls_store_account *out);

/* Deletes the account, its audit log, its token and all the token's objects.  LS_ERR_NOT_FOUND. */
int lsd_account_delete(ls_store *store, uint64_t id);

/*
 * Replaces the verifier (a password change), re-initialises the counters and makes the
 * account active; audits "password-changed".  LS_ERR_NOT_FOUND, the verifier's errors.
 */
int lsd_account_set_verifier(ls_store *store, uint64_t id, const ls_sespake_verifier *verifier,
                             const ls_sespake_limits *limits, const char *source);

/* Sets the state (lock/unlock); unlocking also re-initialises the counters. */
int lsd_account_set_state(ls_store *store, uint64_t id, lsd_account_state state,
                          const ls_sespake_limits *limits, const char *source);

/*
 * Puts the RFC 8133 counters back to their initial values (from @limits, NULL: the defaults)
 * without touching the state: a locked account stays locked (lsd_account_set_state() to
 * ACTIVE unlocks); audits "counters-reset".  LS_ERR_NOT_FOUND.
 */
int lsd_account_reset_counters(ls_store *store, uint64_t id, const ls_sespake_limits *limits,
                               const char *source);

/*
 * Gives the account a new, empty token and deletes the old one with all its objects, in one
 * transaction after the new token exists.  *@token_id (may be NULL) gets the new token's id.
 * Another process may have the old token open: ls11cloudd notices that the account names
 * another token (server/registry.c) and stops serving the old one.
 */
int lsd_account_recreate_token(ls_store *store, uint64_t id, const char *source,
                               uint64_t *token_id);

/*
 * RFC 8133 counters (core/sespake.h), persisted before returning:
 * begin: LS_ERR_ATTEMPTS_EXHAUSTED when the account is locked or a counter is 0 (the state
 * becomes locked and an audit row "locked" is written the first time), LS_OK after the
 * decremented counters were committed.  success: resets C1/C2 and records the login time and
 * @source.
 *
 * @overlap: other attempts of this account whose begin decremented the counters are in flight
 * on this server (committed before this call, not yet ended).  Their decrements may be what
 * exhausted a counter, and they may still succeed (the user's several applications logging in
 * at once): then a counter at 0 neither locks the account nor is this attempt refused; it runs
 * without a decrement (*@uncounted is set).  The lock comes at the first begin with a counter
 * at 0 and no such attempt in flight, that is once those that took the counter down have all
 * failed.  The caller serialises the begins of one nickname and bounds the uncounted ones
 * (server/auth.c, LSD_ATTEMPT_OVERLAP_MAX).
 */
int lsd_account_begin_attempt(ls_store *store, const char *nickname,
                              const ls_sespake_limits *limits, const char *source, bool overlap,
                              bool *uncounted);
int lsd_account_record_success(ls_store *store, const char *nickname,
                               const ls_sespake_limits *limits, const char *source);

/*
 * Appends an audit row to account @id: @event is a short name ("connect", "login-failed",
 * "sign", ...), @count a number for aggregated events, @source the client's address (may be
 * NULL), then a printf detail (may be NULL).  Failures are logged and returned, never fatal.
 */
int lsd_audit(ls_store *store, uint64_t id, const char *event, uint64_t count,
              const char *source, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * The number an audit event name has on the wire (AccountReadLog's event codes, listed in
 * docs/server.md); 0 for a name this version does not know.
 */
uint64_t lsd_audit_event_code(const char *event);

/*
 * The registration policy the operator set in the store (ls11cloud-admin registration); the
 * server's configuration applies when the store has none.  Setting names in the store:
 * LSD_SETTING_REGISTRATION holds "open", "closed" or "code", LSD_SETTING_REGISTRATION_CODE the
 * code (1..LS_HANDSHAKE_CODE_MAX printable ASCII characters).
 */
#define LSD_SETTING_REGISTRATION "registration"
#define LSD_SETTING_REGISTRATION_CODE "registration-code"
#define LSD_REG_CODE_MAX 128

/*
 * Reads the policy into @policy (@policy_size bytes, e.g. 16) and the code (if any; "" when
 * none) into @code (@code_size bytes, at least LSD_REG_CODE_MAX + 1), in one read transaction.
 * LS_ERR_NOT_FOUND when the store has no policy (the configuration applies); LS_ERR_MALFORMED
 * for a stored policy that is not one of the three words.
 */
int lsd_registration_get(ls_store *store, char *policy, size_t policy_size, char *code,
                         size_t code_size);

/*
 * Sets the policy ("open", "closed", "code"; NULL removes it so that the configuration applies
 * again) in one write transaction.  "code" needs @code (checked: 1..LSD_REG_CODE_MAX printable
 * ASCII, no spaces at either end); the other policies remove any stored code.
 */
int lsd_registration_set(ls_store *store, const char *policy, const char *code);

/* LS_OK when @code can be a registration code (see above); otherwise LS_ERR_BAD_LENGTH or
 * LS_ERR_MALFORMED. */
int lsd_registration_code_check(const char *code);

/* ---- the identity key file (state directory) ------------------------------------------- */

#define LSD_IDENTITY_FILE "identity.key"
#define LSD_IDENTITY_OLD_FILE "identity.key.old"
#define LSD_IDENTITY_FILE_MAX 4096

/*
 * Reads the PKCS#8 identity key at @path (no symlink followed, at most LSD_IDENTITY_FILE_MAX
 * bytes) into *@out, and (if @st is not NULL) the file's stat as it was read.  LS_ERR_NOT_FOUND
 * when the file does not exist, LS_ERR_IO (errno kept), LS_ERR_TOO_LARGE, the key's errors.
 */
int lsd_identity_read(const char *path, ls_gost_key **out, struct stat *st);

/* The fingerprint clients pin, as 64 lowercase hexadecimal digits. */
int lsd_identity_fingerprint_hex(const ls_gost_key *key, char hex[65]);

/*
 * Replaces DIR/identity.key by a new key made like the first one (LS_HANDSHAKE_DEFAULT_CURVE),
 * atomically: written to a temporary file (0600, the directory owner's), fsync'ed, the old
 * key hard-linked to DIR/identity.key.old (replacing an older one), then renamed over
 * identity.key and the directory fsync'ed.  *@old_out / *@new_out (may be NULL) get the keys.
 * A running ls11cloudd notices the new file at its next registration handshake.
 */
int lsd_identity_rotate(const char *state_dir, ls_gost_key **old_out, ls_gost_key **new_out);

#endif /* LS11_SERVER_ACCOUNT_H */
