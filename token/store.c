/*
 * LS11CLOUD - the token store's front: argument checks every backend shares, then dispatch.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"

void
ls_store_close(ls_store *store)
{
	if (store == NULL)
		return;
	store->ops->close(store);
}

const char *
ls_store_backend(const ls_store *store)
{
	ls_return_val_if_fail(store != NULL, "none");
	return store->ops->name;
}

int
ls_store_begin(ls_store *store, bool write, ls_store_txn **out)
{
	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	ls_return_val_if_fail(store != NULL, LS_ERR_INVALID_ARG);
	return store->ops->begin(store, write, out);
}

int
ls_store_commit(ls_store_txn *txn)
{
	ls_return_val_if_fail(txn != NULL, LS_ERR_INVALID_ARG);
	return txn->store->ops->commit(txn);
}

void
ls_store_rollback(ls_store_txn *txn)
{
	if (txn == NULL)
		return;
	txn->store->ops->rollback(txn);
}

int
ls_store_schema_version(ls_store_txn *txn, uint32_t *version)
{
	ls_return_val_if_fail(txn != NULL && version != NULL, LS_ERR_INVALID_ARG);
	*version = 0;
	return txn->store->ops->schema_version(txn, version);
}

int
ls_store_check_integrity(ls_store *store)
{
	ls_return_val_if_fail(store != NULL, LS_ERR_INVALID_ARG);
	return store->ops->check_integrity(store);
}

/* ------------------------------------------------------------------------------------------- */

static int
check_write(const ls_store_txn *txn)
{
	if (!txn->write) {
		ls_warning("store: a write in a read-only transaction");
		return LS_ERR_STATE;
	}
	return LS_OK;
}

static int
check_token(const ls_store_token *tok)
{
	if (tok->user_wrap_len > LS_STORE_WRAP_MAX || tok->so_wrap_len > LS_STORE_WRAP_MAX)
		return LS_ERR_TOO_LARGE;
	return LS_OK;
}

int
ls_store_token_create(ls_store_txn *txn, const ls_store_token *tok, uint64_t *id)
{
	int r;

	ls_return_val_if_fail(id != NULL, LS_ERR_INVALID_ARG);
	*id = 0;
	ls_return_val_if_fail(txn != NULL && tok != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_write(txn)) != LS_OK || (r = check_token(tok)) != LS_OK)
		return r;
	return txn->store->ops->token_create(txn, tok, id);
}

int
ls_store_token_get(ls_store_txn *txn, uint64_t token_id, ls_store_token *out)
{
	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	memset(out, 0, sizeof(*out));
	ls_return_val_if_fail(txn != NULL, LS_ERR_INVALID_ARG);
	if (token_id == 0)
		return LS_ERR_NOT_FOUND;
	return txn->store->ops->token_get(txn, token_id, out);
}

int
ls_store_token_update(ls_store_txn *txn, const ls_store_token *tok)
{
	int r;

	ls_return_val_if_fail(txn != NULL && tok != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_write(txn)) != LS_OK || (r = check_token(tok)) != LS_OK)
		return r;
	if (tok->id == 0)
		return LS_ERR_NOT_FOUND;
	return txn->store->ops->token_update(txn, tok);
}

int
ls_store_token_delete(ls_store_txn *txn, uint64_t token_id)
{
	int r;

	ls_return_val_if_fail(txn != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_write(txn)) != LS_OK)
		return r;
	if (token_id == 0)
		return LS_ERR_NOT_FOUND;
	return txn->store->ops->token_delete(txn, token_id);
}

int
ls_store_token_list(ls_store_txn *txn, ls_store_token_cb cb, void *ctx)
{
	ls_return_val_if_fail(txn != NULL && cb != NULL, LS_ERR_INVALID_ARG);
	return txn->store->ops->token_list(txn, cb, ctx);
}

/* ------------------------------------------------------------------------------------------- */

int
ls_store_object_id_new(ls_store_txn *txn, uint64_t token_id, uint64_t *id)
{
	int r;

	ls_return_val_if_fail(id != NULL, LS_ERR_INVALID_ARG);
	*id = 0;
	ls_return_val_if_fail(txn != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_write(txn)) != LS_OK)
		return r;
	if (token_id == 0)
		return LS_ERR_NOT_FOUND;
	return txn->store->ops->object_id_new(txn, token_id, id);
}

static int
check_object(const ls_store_object *obj)
{
	ls_return_val_if_fail(obj->ck_id != NULL || obj->ck_id_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(obj->label != NULL || obj->label_len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(obj->attrs != NULL || obj->attrs_len == 0, LS_ERR_INVALID_ARG);
	if (obj->id == 0)
		return LS_ERR_INVALID_ARG;
	if (obj->ck_id_len > LS_STORE_CKA_ID_MAX || obj->label_len > LS_STORE_LABEL_MAX ||
	    obj->attrs_len > LS_STORE_ATTRS_MAX)
		return LS_ERR_TOO_LARGE;
	return LS_OK;
}

int
ls_store_object_put(ls_store_txn *txn, uint64_t token_id, const ls_store_object *obj)
{
	int r;

	ls_return_val_if_fail(txn != NULL && obj != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_write(txn)) != LS_OK || (r = check_object(obj)) != LS_OK)
		return r;
	if (token_id == 0)
		return LS_ERR_NOT_FOUND;
	return txn->store->ops->object_put(txn, token_id, obj);
}

int
ls_store_object_get(ls_store_txn *txn, uint64_t token_id, uint64_t object_id,
                    ls_store_object *out)
{
	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	memset(out, 0, sizeof(*out));
	ls_return_val_if_fail(txn != NULL, LS_ERR_INVALID_ARG);
	if (token_id == 0 || object_id == 0)
		return LS_ERR_NOT_FOUND;
	return txn->store->ops->object_get(txn, token_id, object_id, out);
}

int
ls_store_object_delete(ls_store_txn *txn, uint64_t token_id, uint64_t object_id)
{
	int r;

	ls_return_val_if_fail(txn != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_write(txn)) != LS_OK)
		return r;
	if (token_id == 0 || object_id == 0)
		return LS_ERR_NOT_FOUND;
	return txn->store->ops->object_delete(txn, token_id, object_id);
}

int
ls_store_object_find(ls_store_txn *txn, uint64_t token_id, const ls_store_query *q,
                     ls_store_object_cb cb, void *ctx)
{
	static const ls_store_query all = { 0 };

	ls_return_val_if_fail(txn != NULL && cb != NULL, LS_ERR_INVALID_ARG);
	if (q == NULL)
		q = &all;
	ls_return_val_if_fail((q->fields & ~(unsigned)LS_STORE_Q_ALL) == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(!(q->fields & LS_STORE_Q_CKA_ID) || q->ck_id != NULL ||
	                              q->ck_id_len == 0,
	                      LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(!(q->fields & LS_STORE_Q_LABEL) || q->label != NULL ||
	                              q->label_len == 0,
	                      LS_ERR_INVALID_ARG);
	/* A value longer than anything storable matches nothing; no need to ask the backend. */
	if (((q->fields & LS_STORE_Q_CKA_ID) && q->ck_id_len > LS_STORE_CKA_ID_MAX) ||
	    ((q->fields & LS_STORE_Q_LABEL) && q->label_len > LS_STORE_LABEL_MAX))
		return LS_OK;
	return txn->store->ops->object_find(txn, token_id, q, cb, ctx);
}

int
ls_store_object_count(ls_store_txn *txn, uint64_t token_id, uint64_t *count)
{
	ls_return_val_if_fail(count != NULL, LS_ERR_INVALID_ARG);
	*count = 0;
	ls_return_val_if_fail(txn != NULL, LS_ERR_INVALID_ARG);
	return txn->store->ops->object_count(txn, token_id, count);
}

void
ls_store_object_clear(ls_store_object *obj)
{
	if (obj == NULL)
		return;
	ls_wipe(obj->ck_id, obj->ck_id_len);
	ls_wipe(obj->label, obj->label_len);
	ls_wipe(obj->attrs, obj->attrs_len);
	free(obj->ck_id);
	free(obj->label);
	free(obj->attrs);
	memset(obj, 0, sizeof(*obj));
}

/* ---------------------------------------------------------------------------------------------
 * Accounts and the audit log
 * ------------------------------------------------------------------------------------------- */

static int
check_account(const ls_store_account *acct)
{
	size_t n = strnlen(acct->nickname, sizeof(acct->nickname));

	if (n == 0 || n > LS_STORE_NICK_MAX)
		return LS_ERR_INVALID_ARG;
	if (strnlen(acct->last_login_from, sizeof(acct->last_login_from)) >
	    LS_STORE_AUDIT_SOURCE_MAX)
		return LS_ERR_INVALID_ARG;
	if (acct->token_id == 0)
		return LS_ERR_NOT_FOUND;
	return LS_OK;
}

int
ls_store_account_create(ls_store_txn *txn, const ls_store_account *acct, uint64_t *id)
{
	int r;

	ls_return_val_if_fail(id != NULL, LS_ERR_INVALID_ARG);
	*id = 0;
	ls_return_val_if_fail(txn != NULL && acct != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_write(txn)) != LS_OK || (r = check_account(acct)) != LS_OK)
		return r;
	return txn->store->ops->account_create(txn, acct, id);
}

int
ls_store_account_get(ls_store_txn *txn, uint64_t account_id, ls_store_account *out)
{
	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	memset(out, 0, sizeof(*out));
	ls_return_val_if_fail(txn != NULL, LS_ERR_INVALID_ARG);
	if (account_id == 0)
		return LS_ERR_NOT_FOUND;
	return txn->store->ops->account_get(txn, account_id, out);
}

int
ls_store_account_find(ls_store_txn *txn, const char *nickname, ls_store_account *out)
{
	size_t n;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	memset(out, 0, sizeof(*out));
	ls_return_val_if_fail(txn != NULL && nickname != NULL, LS_ERR_INVALID_ARG);
	n = strnlen(nickname, LS_STORE_NICK_MAX + 1);
	/* A name no account can have is simply not there. */
	if (n == 0 || n > LS_STORE_NICK_MAX)
		return LS_ERR_NOT_FOUND;
	return txn->store->ops->account_find(txn, nickname, out);
}

int
ls_store_account_update(ls_store_txn *txn, const ls_store_account *acct)
{
	int r;

	ls_return_val_if_fail(txn != NULL && acct != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_write(txn)) != LS_OK)
		return r;
	if (acct->id == 0 || acct->token_id == 0)
		return LS_ERR_NOT_FOUND;
	if (strnlen(acct->last_login_from, sizeof(acct->last_login_from)) >
	    LS_STORE_AUDIT_SOURCE_MAX)
		return LS_ERR_INVALID_ARG;
	return txn->store->ops->account_update(txn, acct);
}

int
ls_store_account_delete(ls_store_txn *txn, uint64_t account_id)
{
	int r;

	ls_return_val_if_fail(txn != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_write(txn)) != LS_OK)
		return r;
	if (account_id == 0)
		return LS_ERR_NOT_FOUND;
	return txn->store->ops->account_delete(txn, account_id);
}

int
ls_store_account_list(ls_store_txn *txn, ls_store_account_cb cb, void *ctx)
{
	ls_return_val_if_fail(txn != NULL && cb != NULL, LS_ERR_INVALID_ARG);
	return txn->store->ops->account_list(txn, cb, ctx);
}

int
ls_store_audit_append(ls_store_txn *txn, uint64_t account_id, const ls_store_audit *row,
                      uint64_t *id)
{
	uint64_t dummy;
	int r;

	if (id == NULL)
		id = &dummy;
	*id = 0;
	ls_return_val_if_fail(txn != NULL && row != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_write(txn)) != LS_OK)
		return r;
	if (strnlen(row->event, sizeof(row->event)) > LS_STORE_AUDIT_EVENT_MAX ||
	    row->event[0] == '\0' ||
	    strnlen(row->source, sizeof(row->source)) > LS_STORE_AUDIT_SOURCE_MAX ||
	    strnlen(row->detail, sizeof(row->detail)) > LS_STORE_AUDIT_DETAIL_MAX)
		return LS_ERR_INVALID_ARG;
	if (account_id == 0)
		return LS_ERR_NOT_FOUND;
	return txn->store->ops->audit_append(txn, account_id, row, id);
}

int
ls_store_audit_list(ls_store_txn *txn, uint64_t account_id, uint64_t first_id, uint32_t limit,
                    ls_store_audit_cb cb, void *ctx)
{
	ls_return_val_if_fail(txn != NULL && cb != NULL, LS_ERR_INVALID_ARG);
	if (limit == 0 || limit > LS_STORE_AUDIT_KEEP)
		return LS_ERR_INVALID_ARG;
	if (account_id == 0)
		return LS_OK;
	return txn->store->ops->audit_list(txn, account_id, first_id, limit, cb, ctx);
}

int
ls_store_audit_count(ls_store_txn *txn, uint64_t account_id, uint64_t *count)
{
	ls_return_val_if_fail(count != NULL, LS_ERR_INVALID_ARG);
	*count = 0;
	ls_return_val_if_fail(txn != NULL, LS_ERR_INVALID_ARG);
	if (account_id == 0)
		return LS_OK;
	return txn->store->ops->audit_count(txn, account_id, count);
}

static bool
setting_name_ok(const char *name)
{
	size_t n = strnlen(name, LS_STORE_SETTING_NAME_MAX + 1);

	return n > 0 && n <= LS_STORE_SETTING_NAME_MAX;
}

int
ls_store_setting_get(ls_store_txn *txn, const char *name, char *value, size_t size)
{
	ls_return_val_if_fail(value != NULL && size > 0, LS_ERR_INVALID_ARG);
	value[0] = '\0';
	ls_return_val_if_fail(txn != NULL && name != NULL, LS_ERR_INVALID_ARG);
	if (!setting_name_ok(name))
		return LS_ERR_INVALID_ARG;
	return txn->store->ops->setting_get(txn, name, value, size);
}

int
ls_store_setting_set(ls_store_txn *txn, const char *name, const char *value)
{
	int r;

	ls_return_val_if_fail(txn != NULL && name != NULL, LS_ERR_INVALID_ARG);
	if ((r = check_write(txn)) != LS_OK)
		return r;
	if (!setting_name_ok(name))
		return LS_ERR_INVALID_ARG;
	if (value != NULL &&
	    strnlen(value, LS_STORE_SETTING_VALUE_MAX + 1) > LS_STORE_SETTING_VALUE_MAX)
		return LS_ERR_TOO_LARGE;
	return txn->store->ops->setting_set(txn, name, value);
}
