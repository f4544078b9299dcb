/*
 * LS11CLOUD - the account layer over the store.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "account.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "handshake.h"
#include "log.h"
#include "rpc.h"
#include "store-sqlite.h"
#include "token.h"

_Static_assert(sizeof(ls_sespake_verifier) == LS_STORE_VERIFIER_SIZE,
               "the store keeps a verifier as its bytes");
_Static_assert(LS_HANDSHAKE_NICKNAME_MAX <= LS_STORE_NICK_MAX, "a nickname fits the store");

const char *
lsd_account_state_name(uint32_t state)
{
	switch (state) {
	case LSD_ACCOUNT_ACTIVE:
		return "active";
	case LSD_ACCOUNT_MUST_CHANGE_PASSWORD:
		return "must-change-password";
	case LSD_ACCOUNT_LOCKED:
		return "locked";
	default:
		return "unknown";
	}
}

uint64_t
lsd_audit_event_code(const char *event)
{
	return ls_rpc_audit_event_code(event);
}

int
lsd_nickname_check(const char *nickname, char *buf, size_t buf_size)
{
	size_t i, n;
	int r;

	if (buf != NULL && buf_size > 0)
		buf[0] = '\0';
	r = ls_handshake_nickname_check(nickname);
	if (r == LS_OK || buf == NULL || buf_size == 0)
		return r;
	if (nickname == NULL) {
		snprintf(buf, buf_size, "no nickname given");
		return r;
	}
	n = strlen(nickname);
	if (n < LS_HANDSHAKE_NICKNAME_MIN || n > LS_HANDSHAKE_NICKNAME_MAX) {
		snprintf(buf, buf_size, "a nickname has %d to %d characters, this one has %zu",
		         LS_HANDSHAKE_NICKNAME_MIN, LS_HANDSHAKE_NICKNAME_MAX, n);
		return r;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)nickname[i];

		if (isascii(c) && (isalnum(c) || strchr("._-@", c) != NULL))
			continue;
		if (isascii(c) && isprint(c))
			snprintf(buf, buf_size,
			         "the character '%c' at position %zu is not allowed (only ASCII letters, "
			         "digits and . _ - @)",
			         c, i + 1);
		else
			snprintf(buf, buf_size,
			         "the byte 0x%02x at position %zu is not allowed (only ASCII letters, "
			         "digits and . _ - @)",
			         c, i + 1);
		return r;
	}
	snprintf(buf, buf_size, "the nickname is not valid");
	return r;
}

int
lsd_store_open(const char *state_dir, ls_store **out)
{
	char path[4096];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", state_dir, LSD_STORE_FILE);
	if (n < 0 || (size_t)n >= sizeof(path))
		return LS_ERR_BAD_LENGTH;
	return ls_store_sqlite_open(path, NULL, out);
}

static int
init_counters(ls_store_account *a, const ls_sespake_limits *limits)
{
	ls_sespake_limits def = LS_SESPAKE_LIMITS_DEFAULT;
	ls_sespake_counters c;
	int r;

	if ((r = ls_sespake_counters_init(limits != NULL ? limits : &def, &c)) != LS_OK)
		return r;
	a->c1 = c.c1;
	a->c2 = c.c2;
	a->c3 = c.c3;
	return LS_OK;
}

/* Runs @fn inside one write transaction of @store and commits when it returns LS_OK. */
static int
in_write_txn(ls_store *store, int (*fn)(ls_store_txn *txn, void *ctx), void *ctx)
{
	ls_store_txn *txn = NULL;
	int r;

	if ((r = ls_store_begin(store, true, &txn)) != LS_OK)
		return r;
	if ((r = fn(txn, ctx)) != LS_OK) {
		ls_store_rollback(txn);
		return r;
	}
	return ls_store_commit(txn);
}

static void
audit_row(ls_store_audit *row, const char *event, uint64_t count, const char *source,
          const char *fmt, va_list ap)
{
	memset(row, 0, sizeof(*row));
	snprintf(row->event, sizeof(row->event), "%s", event);
	row->count = count;
	snprintf(row->source, sizeof(row->source), "%s", source != NULL ? source : "");
	if (fmt != NULL)
		vsnprintf(row->detail, sizeof(row->detail), fmt, ap);
}

static int __attribute__((format(printf, 6, 7)))
audit_in(ls_store_txn *txn, uint64_t id, const char *event, uint64_t count, const char *source,
         const char *fmt, ...)
{
	ls_store_audit row;
	va_list ap;

	va_start(ap, fmt);
	audit_row(&row, event, count, source, fmt, ap);
	va_end(ap);
	return ls_store_audit_append(txn, id, &row, NULL);
}

int
lsd_audit(ls_store *store, uint64_t id, const char *event, uint64_t count, const char *source,
          const char *fmt, ...)
{
	ls_store_audit row;
	ls_store_txn *txn = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	audit_row(&row, event, count, source, fmt, ap);
	va_end(ap);
	if ((r = ls_store_begin(store, true, &txn)) == LS_OK) {
		if ((r = ls_store_audit_append(txn, id, &row, NULL)) == LS_OK)
			r = ls_store_commit(txn);
		else
			ls_store_rollback(txn);
	}
	if (r != LS_OK)
		ls_warning("audit log of account %llu: cannot append '%s': %s",
		           (unsigned long long)id, event, ls_strerror(r));
	return r;
}

struct create_ctx {
	ls_store_account acct;
	const char *source;
	uint64_t id;
};

static int
create_in(ls_store_txn *txn, void *ctx)
{
	struct create_ctx *c = ctx;
	int r;

	if ((r = ls_store_account_create(txn, &c->acct, &c->id)) != LS_OK)
		return r;
	return audit_in(txn, c->id, "created", 0, c->source, "account created (%s)",
	                lsd_account_state_name(c->acct.state));
}

static int
nickname_taken(ls_store *store, const char *nickname)
{
	ls_store_account a;
	int r = lsd_account_find(store, nickname, &a);

	ls_wipe(&a, sizeof(a));
	if (r == LS_OK)
		return LS_ERR_STATE;
	return r == LS_ERR_NOT_FOUND ? LS_OK : r;
}

int
lsd_account_create(ls_store *store, const char *nickname, const ls_sespake_verifier *verifier,
                   lsd_account_state state, const ls_sespake_limits *limits, const char *source,
                   uint64_t *id)
{
	struct create_ctx c;
	uint64_t token_id = 0;
	CK_RV rv;
	int r;

	if (id != NULL)
		*id = 0;
	ls_return_val_if_fail(store != NULL && verifier != NULL, LS_ERR_INVALID_ARG);
	if ((r = lsd_nickname_check(nickname, NULL, 0)) != LS_OK ||
	    (r = ls_sespake_verifier_check(verifier)) != LS_OK)
		return r;
	/* Refuse a taken name before making a token for it (the row insert re-checks). */
	if ((r = nickname_taken(store, nickname)) != LS_OK)
		return r;

	memset(&c, 0, sizeof(c));
	snprintf(c.acct.nickname, sizeof(c.acct.nickname), "%s", nickname);
	memcpy(c.acct.verifier, verifier, sizeof(c.acct.verifier));
	c.acct.state = state;
	c.source = source;
	if ((r = init_counters(&c.acct, limits)) != LS_OK)
		goto out;
	/* The token engine makes its own record (a random serial, the default SO PIN). */
	if ((rv = ls_token_create(store, &token_id)) != CKR_OK) {
		ls_warning("account %s: cannot create its token (CK_RV 0x%lx)", nickname,
		           (unsigned long)rv);
		r = rv == CKR_DEVICE_MEMORY || rv == CKR_HOST_MEMORY ? LS_ERR_NOMEM : LS_ERR_IO;
		goto out;
	}
	c.acct.token_id = token_id;
	if ((r = in_write_txn(store, create_in, &c)) != LS_OK) {
		/* A racing creation of the same name, or a store failure: drop the token again. */
		ls_token_destroy(store, token_id);
		goto out;
	}
	if (id != NULL)
		*id = c.id;
out:
	ls_wipe(&c, sizeof(c));
	return r;
}

static int
read_one(ls_store *store, const char *nickname, uint64_t id, ls_store_account *out)
{
	ls_store_txn *txn = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ls_store_begin(store, false, &txn)) != LS_OK)
		return r;
	r = nickname != NULL ? ls_store_account_find(txn, nickname, out)
	                     : ls_store_account_get(txn, id, out);
	ls_store_rollback(txn);
	return r;
}

int
lsd_account_find(ls_store *store, const char *nickname, ls_store_account *out)
{
	ls_return_val_if_fail(store != NULL && nickname != NULL && out != NULL,
	                      LS_ERR_INVALID_ARG);
	return read_one(store, nickname, 0, out);
}

int
lsd_account_get(ls_store *store, uint64_t id, ls_store_account *out)
{
	ls_return_val_if_fail(store != NULL && out != NULL, LS_ERR_INVALID_ARG);
	return read_one(store, NULL, id, out);
}

static int
delete_in(ls_store_txn *txn, void *ctx)
{
	return ls_store_account_delete(txn, *(uint64_t *)ctx);
}

int
lsd_account_delete(ls_store *store, uint64_t id)
{
	ls_return_val_if_fail(store != NULL, LS_ERR_INVALID_ARG);
	return in_write_txn(store, delete_in, &id);
}

struct update_ctx {
	uint64_t id;
	const ls_sespake_verifier *verifier; /* NULL: keep */
	int state;                           /* -1: keep */
	bool reset_counters;
	const ls_sespake_limits *limits;
	const char *source;
	const char *event;
};

static int
update_in(ls_store_txn *txn, void *ctx)
{
	struct update_ctx *u = ctx;
	ls_store_account a;
	int r;

	if ((r = ls_store_account_get(txn, u->id, &a)) != LS_OK)
		goto out;
	if (u->verifier != NULL) {
		memcpy(a.verifier, u->verifier, sizeof(a.verifier));
		a.password_changed_at = (int64_t)time(NULL);
	}
	if (u->state >= 0)
		a.state = (uint32_t)u->state;
	if (u->reset_counters && (r = init_counters(&a, u->limits)) != LS_OK)
		goto out;
	a.updated_at = 0; /* now */
	if ((r = ls_store_account_update(txn, &a)) != LS_OK)
		goto out;
	r = audit_in(txn, u->id, u->event, 0, u->source, "%s", lsd_account_state_name(a.state));
out:
	ls_wipe(&a, sizeof(a));
	return r;
}

int
lsd_account_set_verifier(ls_store *store, uint64_t id, const ls_sespake_verifier *verifier,
                         const ls_sespake_limits *limits, const char *source)
{
	struct update_ctx u = {
		.id = id,
		.verifier = verifier,
		.state = LSD_ACCOUNT_ACTIVE,
		.reset_counters = true,
		.limits = limits,
		.source = source,
		.event = "password-changed",
	};
	int r;

	ls_return_val_if_fail(store != NULL && verifier != NULL, LS_ERR_INVALID_ARG);
	if ((r = ls_sespake_verifier_check(verifier)) != LS_OK)
		return r;
	return in_write_txn(store, update_in, &u);
}

int
lsd_account_set_state(ls_store *store, uint64_t id, lsd_account_state state,
                      const ls_sespake_limits *limits, const char *source)
{
	struct update_ctx u = {
		.id = id,
		.state = (int)state,
		.reset_counters = state != LSD_ACCOUNT_LOCKED,
		.limits = limits,
		.source = source,
		.event = state == LSD_ACCOUNT_LOCKED ? "locked" : "state-changed",
	};

	ls_return_val_if_fail(store != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(state <= LSD_ACCOUNT_LOCKED, LS_ERR_INVALID_ARG);
	return in_write_txn(store, update_in, &u);
}

int
lsd_account_reset_counters(ls_store *store, uint64_t id, const ls_sespake_limits *limits,
                           const char *source)
{
	struct update_ctx u = {
		.id = id,
		.state = -1,
		.reset_counters = true,
		.limits = limits,
		.source = source,
		.event = "counters-reset",
	};

	ls_return_val_if_fail(store != NULL, LS_ERR_INVALID_ARG);
	return in_write_txn(store, update_in, &u);
}

struct recreate_ctx {
	uint64_t id;
	uint64_t new_token;
	const char *source;
};

static int
recreate_in(ls_store_txn *txn, void *ctx)
{
	struct recreate_ctx *c = ctx;
	ls_store_account a;
	uint64_t old;
	int r;

	if ((r = ls_store_account_get(txn, c->id, &a)) != LS_OK)
		goto out;
	old = a.token_id;
	a.token_id = c->new_token;
	a.updated_at = 0;
	if ((r = ls_store_account_update(txn, &a)) != LS_OK ||
	    (r = ls_store_token_delete(txn, old)) != LS_OK)
		goto out;
	r = audit_in(txn, c->id, "token-recreated", 0, c->source, "the token is empty again");
out:
	ls_wipe(&a, sizeof(a));
	return r;
}

int
lsd_account_recreate_token(ls_store *store, uint64_t id, const char *source, uint64_t *token_id)
{
	struct recreate_ctx c = { .id = id, .source = source };
	CK_RV rv;
	int r;

	ls_return_val_if_fail(store != NULL, LS_ERR_INVALID_ARG);
	if ((rv = ls_token_create(store, &c.new_token)) != CKR_OK) {
		ls_warning("account %llu: cannot create a new token (CK_RV 0x%lx)",
		           (unsigned long long)id, (unsigned long)rv);
		return LS_ERR_IO;
	}
	if ((r = in_write_txn(store, recreate_in, &c)) != LS_OK) {
		ls_token_destroy(store, c.new_token);
		return r;
	}
	if (token_id != NULL)
		*token_id = c.new_token;
	return LS_OK;
}

struct attempt_ctx {
	const char *nickname;
	const ls_sespake_limits *limits;
	const char *source;
	bool success;
	bool overlap;    /* other attempts of the account are in flight */
	bool uncounted;  /* set by the begin step: exhausted, but run on the others' account */
	bool now_locked; /* set by the begin step: report after the commit */
};

static int
attempt_in(ls_store_txn *txn, void *ctx)
{
	struct attempt_ctx *c = ctx;
	ls_sespake_limits def = LS_SESPAKE_LIMITS_DEFAULT;
	const ls_sespake_limits *limits = c->limits != NULL ? c->limits : &def;
	ls_sespake_counters cnt;
	ls_store_account a;
	int r;

	if ((r = ls_store_account_find(txn, c->nickname, &a)) != LS_OK)
		goto out;
	cnt.c1 = a.c1;
	cnt.c2 = a.c2;
	cnt.c3 = a.c3;
	if (c->success) {
		r = ls_sespake_counters_success(limits, &cnt);
		a.last_login_at = (int64_t)time(NULL);
		snprintf(a.last_login_from, sizeof(a.last_login_from), "%s",
		         c->source != NULL ? c->source : "");
	} else if (a.state == LSD_ACCOUNT_LOCKED) {
		r = LS_ERR_ATTEMPTS_EXHAUSTED;
		goto out;
	} else {
		r = ls_sespake_counters_begin(limits, &cnt);
		if (r == LS_ERR_INVALID_ARG) {
			/* Limits lowered since the counters were set: start them afresh. */
			ls_info("account %s: attempt counters above the configured limits, reset",
			        c->nickname);
			if ((r = ls_sespake_counters_init(limits, &cnt)) == LS_OK)
				r = ls_sespake_counters_begin(limits, &cnt);
		}
		if (r == LS_ERR_ATTEMPTS_EXHAUSTED && c->overlap) {
			/* The attempts in flight took the counter down; wait for their outcome. */
			c->uncounted = true;
			r = LS_OK;
			goto out;
		}
		if (r == LS_ERR_ATTEMPTS_EXHAUSTED) {
			/* Persist the lock so that the state is visible (admin, audit). */
			a.state = LSD_ACCOUNT_LOCKED;
			c->now_locked = true;
			r = ls_store_account_update(txn, &a);
			if (r == LS_OK)
				r = audit_in(txn, a.id, "locked", 0, c->source,
				             "attempt counters exhausted (C1=%u C2=%u C3=%u)", cnt.c1,
				             cnt.c2, cnt.c3);
			if (r == LS_OK)
				r = LS_ERR_ATTEMPTS_EXHAUSTED;
			goto out;
		}
	}
	if (r != LS_OK)
		goto out;
	a.c1 = cnt.c1;
	a.c2 = cnt.c2;
	a.c3 = cnt.c3;
	a.updated_at = 0;
	r = ls_store_account_update(txn, &a);
out:
	ls_wipe(&a, sizeof(a));
	return r;
}

int
lsd_account_begin_attempt(ls_store *store, const char *nickname, const ls_sespake_limits *limits,
                          const char *source, bool overlap, bool *uncounted)
{
	struct attempt_ctx c = {
		.nickname = nickname, .limits = limits, .source = source, .overlap = overlap
	};
	ls_store_txn *txn = NULL;
	int r;

	ls_return_val_if_fail(store != NULL && nickname != NULL, LS_ERR_INVALID_ARG);
	if ((r = ls_store_begin(store, true, &txn)) != LS_OK)
		return r;
	r = attempt_in(txn, &c);
	if (uncounted != NULL)
		*uncounted = c.uncounted;
	if (c.uncounted) {
		ls_store_rollback(txn); /* nothing written */
		return r;
	}
	/* The lock itself is committed even though the attempt is refused. */
	if (r == LS_OK || (r == LS_ERR_ATTEMPTS_EXHAUSTED && c.now_locked)) {
		int rc = ls_store_commit(txn);

		if (rc != LS_OK)
			return rc;
		if (c.now_locked)
			ls_warning("account %s locked: its SESPAKE attempt counters are exhausted",
			           nickname);
		return r;
	}
	ls_store_rollback(txn);
	return r;
}

int
lsd_account_record_success(ls_store *store, const char *nickname, const ls_sespake_limits *limits,
                           const char *source)
{
	struct attempt_ctx c = {
		.nickname = nickname, .limits = limits, .source = source, .success = true
	};

	ls_return_val_if_fail(store != NULL && nickname != NULL, LS_ERR_INVALID_ARG);
	return in_write_txn(store, attempt_in, &c);
}

/* ---- the registration policy in the store ---------------------------------------------- */

_Static_assert(LSD_REG_CODE_MAX == LS_HANDSHAKE_CODE_MAX, "a code fits the handshake");

static bool
policy_known(const char *policy)
{
	return strcmp(policy, "open") == 0 || strcmp(policy, "closed") == 0 ||
	       strcmp(policy, "code") == 0;
}

int
lsd_registration_code_check(const char *code)
{
	size_t n, i;

	ls_return_val_if_fail(code != NULL, LS_ERR_INVALID_ARG);
	n = strlen(code);
	if (n == 0 || n > LSD_REG_CODE_MAX)
		return LS_ERR_BAD_LENGTH;
	for (i = 0; i < n; i++) {
		if ((unsigned char)code[i] < 0x20 || (unsigned char)code[i] > 0x7e)
			return LS_ERR_MALFORMED;
	}
	if (code[0] == ' ' || code[n - 1] == ' ')
		return LS_ERR_MALFORMED;
	return LS_OK;
}

int
lsd_registration_get(ls_store *store, char *policy, size_t policy_size, char *code,
                     size_t code_size)
{
	ls_store_txn *txn = NULL;
	int r;

	ls_return_val_if_fail(store != NULL && policy != NULL && policy_size > 0 && code != NULL &&
	                          code_size > 0,
	                      LS_ERR_INVALID_ARG);
	policy[0] = '\0';
	code[0] = '\0';
	if ((r = ls_store_begin(store, false, &txn)) != LS_OK)
		return r;
	r = ls_store_setting_get(txn, LSD_SETTING_REGISTRATION, policy, policy_size);
	if (r == LS_OK) {
		r = ls_store_setting_get(txn, LSD_SETTING_REGISTRATION_CODE, code, code_size);
		if (r == LS_ERR_NOT_FOUND)
			r = LS_OK;
	}
	ls_store_rollback(txn);
	if (r == LS_OK && !policy_known(policy))
		r = LS_ERR_MALFORMED;
	if (r != LS_OK) {
		policy[0] = '\0';
		ls_wipe(code, code_size);
	}
	return r;
}

int
lsd_registration_set(ls_store *store, const char *policy, const char *code)
{
	ls_store_txn *txn = NULL;
	int r;

	ls_return_val_if_fail(store != NULL, LS_ERR_INVALID_ARG);
	if (policy != NULL && !policy_known(policy))
		return LS_ERR_INVALID_ARG;
	if (policy != NULL && strcmp(policy, "code") == 0 &&
	    (r = lsd_registration_code_check(code)) != LS_OK)
		return r;
	if ((r = ls_store_begin(store, true, &txn)) != LS_OK)
		return r;
	r = ls_store_setting_set(txn, LSD_SETTING_REGISTRATION, policy);
	if (r == LS_OK)
		r = ls_store_setting_set(txn, LSD_SETTING_REGISTRATION_CODE,
		                         policy != NULL && strcmp(policy, "code") == 0 ? code
		                                                                       : NULL);
	if (r != LS_OK) {
		ls_store_rollback(txn);
		return r;
	}
	return ls_store_commit(txn);
}
