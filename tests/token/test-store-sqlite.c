/*
 * token/store-sqlite.c through the token/store.h interface: schema and settings, token and
 * object CRUD, find by each indexed field, transactions, isolation of tokens, persistence,
 * refusal of foreign or newer files, limits, threads, and (with 100k objects) that find by
 * CKA_ID is answered from its index.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-sqlite.h"
#include "test-util.h"

static char dir[64];
static char path[128];
static ls_store *store;

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ls11-store-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token.db", dir);
	cr_assert_eq(ls_store_sqlite_open(path, NULL, &store), LS_OK);
}

static void
remove_db(const char *p)
{
	char side[160];

	unlink(p);
	snprintf(side, sizeof(side), "%s-wal", p);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", p);
	unlink(side);
}

static void
teardown(void)
{
	char other[128];

	ls_store_close(store);
	store = NULL;
	remove_db(path);
	snprintf(other, sizeof(other), "%s/other.db", dir);
	remove_db(other);
	rmdir(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

/* ---- helpers ----------------------------------------------------------------------------- */

static void
padded(uint8_t *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	memset(dst, ' ', size);
	memcpy(dst, s, n < size ? n : size);
}

static ls_store_token
token_record(const char *label, const char *serial)
{
	ls_store_token t;

	memset(&t, 0, sizeof(t));
	padded(t.label, sizeof(t.label), label);
	padded(t.serial, sizeof(t.serial), serial);
	t.flags = 0x400; /* CKF_TOKEN_INITIALIZED */
	t.format_version = 1;
	return t;
}

static uint64_t
new_token(const char *label)
{
	ls_store_token t = token_record(label, "0001");
	ls_store_txn *txn;
	uint64_t id = 0;

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_token_create(txn, &t, &id), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	cr_assert_neq(id, 0);
	return id;
}

static ls_store_object
object_value(uint64_t id, uint64_t cls, uint64_t key_type, const char *ck_id, const char *label,
             const char *attrs)
{
	ls_store_object o = {
		.id = id,
		.cls = cls,
		.key_type = key_type,
		.ck_id = (uint8_t *)ck_id,
		.ck_id_len = ck_id != NULL ? strlen(ck_id) : 0,
		.label = (uint8_t *)label,
		.label_len = label != NULL ? strlen(label) : 0,
		.attrs = (uint8_t *)attrs,
		.attrs_len = attrs != NULL ? strlen(attrs) : 0,
	};
	return o;
}

/* Allocates an id and stores an object in its own transaction; returns the id. */
static uint64_t
add_object(uint64_t token, uint64_t cls, uint64_t key_type, const char *ck_id, const char *label,
           const char *attrs)
{
	ls_store_txn *txn;
	ls_store_object o;
	uint64_t id;

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_object_id_new(txn, token, &id), LS_OK);
	o = object_value(id, cls, key_type, ck_id, label, attrs);
	cr_assert_eq(ls_store_object_put(txn, token, &o), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	return id;
}

static void
assert_bytes(const uint8_t *p, size_t n, const char *want)
{
	size_t wn = want != NULL ? strlen(want) : 0;

	cr_assert_eq(n, wn, "length %zu, expected %zu", n, wn);
	if (wn > 0)
		cr_assert_arr_eq(p, want, wn);
}

struct collect {
	uint64_t ids[64];
	size_t n;
	size_t stop_after;
	int fail_with;
};

static int
collect_cb(void *ctx, const ls_store_object *o)
{
	struct collect *c = ctx;

	if (c->fail_with != 0)
		return c->fail_with;
	cr_assert_lt(c->n, 64);
	c->ids[c->n++] = o->id;
	if (c->stop_after != 0 && c->n == c->stop_after)
		return 1;
	return LS_OK;
}

static struct collect
find(uint64_t token, const ls_store_query *q)
{
	struct collect c = { .n = 0 };
	ls_store_txn *txn;

	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_object_find(txn, token, q, collect_cb, &c), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	return c;
}

static void
assert_ids(const struct collect *c, size_t n, const uint64_t *want)
{
	cr_assert_eq(c->n, n, "found %zu objects, expected %zu", c->n, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(c->ids[i], want[i], "result %zu is %llu, expected %llu", i,
		             (unsigned long long)c->ids[i], (unsigned long long)want[i]);
}

static int
object_status(uint64_t token, uint64_t id)
{
	ls_store_object o;
	ls_store_txn *txn;
	int r;

	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	r = ls_store_object_get(txn, token, id, &o);
	ls_store_object_clear(&o);
	ls_store_rollback(txn);
	return r;
}

/* ---- schema, settings ---------------------------------------------------------------------- */

Test(store, new_database_has_schema_and_durable_settings)
{
	ls_store_txn *txn;
	uint32_t version = 0;
	int64_t v = -1;
	sqlite3 *db;
	sqlite3_stmt *st;

	cr_assert_str_eq(ls_store_backend(store), "sqlite");
	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_schema_version(txn, &version), LS_OK);
	cr_assert_eq(version, LS_STORE_SQLITE_SCHEMA_VERSION);
	ls_store_rollback(txn);

	cr_assert_eq(ls_store_sqlite_setting(store, "synchronous", &v), LS_OK);
	cr_assert_eq(v, 2, "synchronous=FULL: a commit is fsync'ed before it returns");
	cr_assert_eq(ls_store_sqlite_setting(store, "foreign_keys", &v), LS_OK);
	cr_assert_eq(v, 1);
	cr_assert_eq(ls_store_sqlite_setting(store, "busy_timeout", &v), LS_OK);
	cr_assert_eq(v, LS_STORE_SQLITE_DEFAULT_BUSY_TIMEOUT_MS);
	cr_assert_eq(ls_store_sqlite_setting(store, "secure_delete", &v), LS_OK);
	cr_assert_eq(v, 1);
	cr_assert_eq(ls_store_sqlite_setting(store, "application_id", &v), LS_OK);
	cr_assert_eq(v, LS_STORE_SQLITE_APPLICATION_ID);
	cr_assert_eq(ls_store_sqlite_setting(store, "journal_mode; DROP TABLE tokens", &v),
	             LS_ERR_INVALID_ARG, "only known setting names, never SQL");
	cr_assert_eq(ls_store_check_integrity(store), LS_OK);

	/* WAL is a property of the file: a second, plain connection sees it. */
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_migrations", -1, &st,
	                                NULL),
	             SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(st, 0), LS_STORE_SQLITE_SCHEMA_VERSION);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* ---- tokens -------------------------------------------------------------------------------- */

Test(store, token_create_get_update_delete)
{
	ls_store_token t = token_record("alice", "0000000000000042"), got;
	ls_store_txn *txn;
	uint64_t id;

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_token_create(txn, &t, &id), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);

	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_token_get(txn, id, &got), LS_OK);
	ls_store_rollback(txn);
	cr_assert_eq(got.id, id);
	cr_assert_arr_eq(got.label, t.label, sizeof(t.label));
	cr_assert_arr_eq(got.serial, t.serial, sizeof(t.serial));
	cr_assert_eq(got.flags, t.flags);
	cr_assert_eq(got.user_wrap_len, 0, "no user PIN yet");
	cr_assert_eq(got.so_wrap_len, 0);

	/* Every field changes and comes back, including 64-bit flags and full wrap blobs. */
	t = got;
	t.flags = 0x8000000000000401ull;
	t.user_failures = 3;
	t.so_failures = UINT32_MAX;
	t.format_version = 7;
	memset(t.user_wrap, 0xa1, LS_STORE_WRAP_MAX);
	t.user_wrap_len = LS_STORE_WRAP_MAX;
	memset(t.so_wrap, 0xb2, 88);
	t.so_wrap_len = 88;
	padded(t.label, sizeof(t.label), "renamed");
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_token_update(txn, &t), LS_OK);
	cr_assert_eq(ls_store_token_get(txn, id, &got), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	cr_assert_eq(memcmp(&got, &t, sizeof(t)), 0, "the record comes back byte for byte");

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	t.user_wrap_len = LS_STORE_WRAP_MAX + 1;
	cr_assert_eq(ls_store_token_update(txn, &t), LS_ERR_TOO_LARGE);
	t.user_wrap_len = 0;
	t.id = id + 100;
	cr_assert_eq(ls_store_token_update(txn, &t), LS_ERR_NOT_FOUND);
	cr_assert_eq(ls_store_token_delete(txn, id + 100), LS_ERR_NOT_FOUND);
	cr_assert_eq(ls_store_token_delete(txn, id), LS_OK);
	cr_assert_eq(ls_store_token_get(txn, id, &got), LS_ERR_NOT_FOUND);
	cr_assert_eq(ls_store_token_delete(txn, id), LS_ERR_NOT_FOUND);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
}

static int
count_tokens(void *ctx, const ls_store_token *t)
{
	uint64_t *last = ctx;

	cr_assert_gt(t->id, *last, "tokens come in id order");
	*last = t->id;
	return LS_OK;
}

Test(store, token_ids_never_reused_and_listed_in_order)
{
	uint64_t a = new_token("a"), b = new_token("b"), c, last = 0;
	ls_store_txn *txn;

	cr_assert_gt(b, a);
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_token_delete(txn, b), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	c = new_token("c");
	cr_assert_gt(c, b, "a deleted token's id is not handed out again");

	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_token_list(txn, count_tokens, &last), LS_OK);
	ls_store_rollback(txn);
	cr_assert_eq(last, c);
}

/* ---- objects ------------------------------------------------------------------------------- */

Test(store, object_put_get_replace_delete)
{
	uint64_t tok = new_token("t"), id;
	ls_store_object o, got;
	ls_store_txn *txn;

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_object_id_new(txn, tok, &id), LS_OK);
	o = object_value(id, 0xD4321003ull, 0x30, "key-1", "My key", "attribute blob");
	cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_OK);
	cr_assert_eq(ls_store_object_get(txn, tok, id, &got), LS_OK,
	             "visible inside its transaction");
	ls_store_object_clear(&got);
	cr_assert_eq(ls_store_commit(txn), LS_OK);

	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_object_get(txn, tok, id, &got), LS_OK);
	ls_store_rollback(txn);
	cr_assert_eq(got.id, id);
	cr_assert_eq(got.cls, 0xD4321003ull);
	cr_assert_eq(got.key_type, 0x30);
	assert_bytes(got.ck_id, got.ck_id_len, "key-1");
	assert_bytes(got.label, got.label_len, "My key");
	assert_bytes(got.attrs, got.attrs_len, "attribute blob");
	ls_store_object_clear(&got);
	cr_assert_null(got.attrs, "clear leaves an empty object");

	/* Replace: empty CKA_ID and label, no key type, a class above 2^63. */
	o = object_value(id, UINT64_MAX - 1, LS_STORE_NO_KEY_TYPE, NULL, NULL, "v2");
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_OK);
	cr_assert_eq(ls_store_object_get(txn, tok, id, &got), LS_OK);
	cr_assert_eq(got.cls, UINT64_MAX - 1);
	cr_assert_eq(got.key_type, LS_STORE_NO_KEY_TYPE);
	cr_assert_eq(got.ck_id_len, 0);
	cr_assert_eq(got.label_len, 0);
	assert_bytes(got.attrs, got.attrs_len, "v2");
	ls_store_object_clear(&got);

	cr_assert_eq(ls_store_object_delete(txn, tok, id), LS_OK);
	cr_assert_eq(ls_store_object_get(txn, tok, id, &got), LS_ERR_NOT_FOUND);
	cr_assert_eq(ls_store_object_delete(txn, tok, id), LS_ERR_NOT_FOUND);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
}

Test(store, object_ids_come_from_the_counter_only)
{
	uint64_t tok = new_token("t"), a, b;
	ls_store_object o;
	ls_store_txn *txn;

	a = add_object(tok, 3, 0x30, "a", "a", "a");
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_object_delete(txn, tok, a), LS_OK);
	cr_assert_eq(ls_store_object_id_new(txn, tok, &b), LS_OK);
	cr_assert_gt(b, a, "a deleted object's id is not handed out again");

	o = object_value(b + 1000, 3, 0x30, "x", "x", "x");
	cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_ERR_NOT_FOUND,
	             "an id the counter did not hand out is refused");
	o.id = 0;
	cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_store_object_id_new(txn, tok + 77, &b), LS_ERR_NOT_FOUND,
	             "no ids for a token that does not exist");
	cr_assert_eq(ls_store_commit(txn), LS_OK);
}

Test(store, limits_are_checked_before_writing)
{
	uint64_t tok = new_token("t"), id, count = 9;
	static uint8_t big[LS_STORE_ATTRS_MAX + 1];
	ls_store_object o;
	ls_store_txn *txn;

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_object_id_new(txn, tok, &id), LS_OK);
	o = object_value(id, 3, 0x30, "i", "l", "a");
	o.ck_id = big;
	o.ck_id_len = LS_STORE_CKA_ID_MAX + 1;
	cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_ERR_TOO_LARGE);
	o.ck_id_len = LS_STORE_CKA_ID_MAX;
	o.label = big;
	o.label_len = LS_STORE_LABEL_MAX + 1;
	cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_ERR_TOO_LARGE);
	o.label_len = LS_STORE_LABEL_MAX;
	o.attrs = big;
	o.attrs_len = LS_STORE_ATTRS_MAX + 1;
	cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_ERR_TOO_LARGE);
	o.attrs_len = LS_STORE_ATTRS_MAX;
	cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_OK, "exactly at every limit is fine");
	o.attrs = NULL;
	cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_ERR_INVALID_ARG, "NULL with a length");
	cr_assert_eq(ls_store_object_count(txn, tok, &count), LS_OK);
	cr_assert_eq(count, 1);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
}

/* ---- find ---------------------------------------------------------------------------------- */

Test(store, find_by_each_indexed_field)
{
	uint64_t tok = new_token("t");
	/* class 3 = private key, 2 = public key, 1 = certificate; 0x30 = GOST R 34.10 */
	uint64_t priv1 = add_object(tok, 3, 0x30, "id1", "sign key", "p1");
	uint64_t pub1 = add_object(tok, 2, 0x30, "id1", "sign key", "q1");
	uint64_t priv2 = add_object(tok, 3, 0xD4321003ull, "id2", "other", "p2");
	uint64_t cert = add_object(tok, 1, LS_STORE_NO_KEY_TYPE, "id1", "", "c");
	uint64_t anon = add_object(tok, 0, LS_STORE_NO_KEY_TYPE, "", "data", "d");
	ls_store_query q = { 0 };
	struct collect c;

	c = find(tok, NULL);
	assert_ids(&c, 5, (uint64_t[]){ priv1, pub1, priv2, cert, anon });

	q = (ls_store_query){ .fields = LS_STORE_Q_CLASS, .cls = 3 };
	c = find(tok, &q);
	assert_ids(&c, 2, (uint64_t[]){ priv1, priv2 });

	q = (ls_store_query){ .fields = LS_STORE_Q_KEY_TYPE, .key_type = 0x30 };
	c = find(tok, &q);
	assert_ids(&c, 2, (uint64_t[]){ priv1, pub1 });
	q.key_type = LS_STORE_NO_KEY_TYPE;
	c = find(tok, &q);
	assert_ids(&c, 2, (uint64_t[]){ cert, anon });

	q = (ls_store_query){ .fields = LS_STORE_Q_CKA_ID, .ck_id = (const uint8_t *)"id1",
		              .ck_id_len = 3 };
	c = find(tok, &q);
	assert_ids(&c, 3, (uint64_t[]){ priv1, pub1, cert });
	q.ck_id_len = 0;
	c = find(tok, &q);
	assert_ids(&c, 1, (uint64_t[]){ anon });
	q.ck_id_len = 2; /* "id": a prefix is not a match */
	c = find(tok, &q);
	assert_ids(&c, 0, NULL);

	q = (ls_store_query){ .fields = LS_STORE_Q_LABEL, .label = (const uint8_t *)"sign key",
		              .label_len = 8 };
	c = find(tok, &q);
	assert_ids(&c, 2, (uint64_t[]){ priv1, pub1 });
	q.label_len = 0;
	c = find(tok, &q);
	assert_ids(&c, 1, (uint64_t[]){ cert });

	q = (ls_store_query){ .fields = LS_STORE_Q_ALL, .cls = 3, .key_type = 0x30,
		              .ck_id = (const uint8_t *)"id1", .ck_id_len = 3,
		              .label = (const uint8_t *)"sign key", .label_len = 8 };
	c = find(tok, &q);
	assert_ids(&c, 1, (uint64_t[]){ priv1 });
	q.cls = 2;
	c = find(tok, &q);
	assert_ids(&c, 1, (uint64_t[]){ pub1 });
	q.key_type = 0x31;
	c = find(tok, &q);
	assert_ids(&c, 0, NULL);
}

Test(store, find_callback_stops_and_fails)
{
	uint64_t tok = new_token("t");
	struct collect c = { .stop_after = 2 };
	ls_store_txn *txn;

	for (int i = 0; i < 5; i++)
		add_object(tok, 3, 0x30, "x", "y", "z");
	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_object_find(txn, tok, NULL, collect_cb, &c), LS_OK);
	cr_assert_eq(c.n, 2, "a positive return stops the walk");
	c = (struct collect){ .fail_with = LS_ERR_NOMEM };
	cr_assert_eq(ls_store_object_find(txn, tok, NULL, collect_cb, &c), LS_ERR_NOMEM,
	             "a negative return is the find's result");
	c = (struct collect){ .n = 0 };
	cr_assert_eq(ls_store_object_find(txn, tok, NULL, collect_cb, &c), LS_OK,
	             "the statement was reset after the early stops");
	cr_assert_eq(c.n, 5);
	ls_store_rollback(txn);
}

/* ---- transactions -------------------------------------------------------------------------- */

Test(store, rollback_forgets_everything_of_the_transaction)
{
	uint64_t tok = new_token("t"), a, b;
	ls_store_token t;
	ls_store_object o;
	ls_store_txn *txn;

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_object_id_new(txn, tok, &a), LS_OK);
	o = object_value(a, 3, 0x30, "a", "a", "a");
	cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_OK);
	cr_assert_eq(ls_store_token_get(txn, tok, &t), LS_OK);
	t.user_failures = 5;
	cr_assert_eq(ls_store_token_update(txn, &t), LS_OK);
	/* The second half of the change fails: the engine rolls the whole change back. */
	o.id = a;
	cr_assert_eq(ls_store_object_put(txn, tok + 1, &o), LS_ERR_NOT_FOUND);
	ls_store_rollback(txn);

	cr_assert_eq(object_status(tok, a), LS_ERR_NOT_FOUND, "the first put is gone");
	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_token_get(txn, tok, &t), LS_OK);
	cr_assert_eq(t.user_failures, 0, "the counter update is gone");
	ls_store_rollback(txn);

	b = add_object(tok, 3, 0x30, "b", "b", "b");
	cr_assert_eq(object_status(tok, b), LS_OK, "a committed change stays");
}

Test(store, read_transactions_refuse_writes)
{
	uint64_t tok = new_token("t"), id = 1;
	ls_store_token t = token_record("x", "y");
	ls_store_object o = object_value(1, 3, 0x30, "a", "a", "a");
	ls_store_txn *txn;

	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_token_create(txn, &t, &id), LS_ERR_STATE);
	cr_assert_eq(id, 0);
	cr_assert_eq(ls_store_object_id_new(txn, tok, &id), LS_ERR_STATE);
	cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_ERR_STATE);
	cr_assert_eq(ls_store_object_delete(txn, tok, 1), LS_ERR_STATE);
	cr_assert_eq(ls_store_token_delete(txn, tok), LS_ERR_STATE);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_ERR_STATE, "an ended transaction is refused");
}

static void *
use_foreign_txn(void *arg)
{
	uint64_t n;

	return (void *)(intptr_t)ls_store_object_count(arg, 1, &n);
}

Test(store, transactions_do_not_nest)
{
	ls_store_txn *txn, *inner = (ls_store_txn *)1;

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_begin(store, false, &inner), LS_ERR_STATE,
	             "a second begin in the same thread fails instead of waiting for itself");
	cr_assert_null(inner);
	cr_assert_eq(ls_store_check_integrity(store), LS_ERR_STATE);

	pthread_t th;
	void *ret;
	cr_assert_eq(pthread_create(&th, NULL, use_foreign_txn, txn), 0);
	cr_assert_eq(pthread_join(th, &ret), 0);
	cr_assert_eq((intptr_t)ret, LS_ERR_STATE, "another thread cannot use this transaction");
	ls_store_rollback(txn);
	cr_assert_eq(ls_store_begin(store, false, &inner), LS_OK, "the lock was released");
	ls_store_rollback(inner);
}

Test(store, two_tokens_are_isolated)
{
	uint64_t t1 = new_token("one"), t2 = new_token("two"), n = 0;
	uint64_t a = add_object(t1, 3, 0x30, "same-id", "same label", "secret of one");
	uint64_t b = add_object(t2, 3, 0x30, "same-id", "same label", "secret of two");
	ls_store_query q = { .fields = LS_STORE_Q_CKA_ID, .ck_id = (const uint8_t *)"same-id",
		             .ck_id_len = 7 };
	ls_store_object o, got;
	ls_store_txn *txn;
	struct collect c;

	c = find(t1, &q);
	assert_ids(&c, 1, (uint64_t[]){ a });
	c = find(t2, &q);
	assert_ids(&c, 1, (uint64_t[]){ b });
	c = find(t2 + 100, NULL);
	assert_ids(&c, 0, NULL);

	cr_assert_eq(object_status(t2, a), LS_ERR_NOT_FOUND, "token two cannot read one's object");
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	o = object_value(a, 3, 0x30, "stolen", "stolen", "overwritten by two");
	cr_assert_eq(ls_store_object_put(txn, t2, &o), LS_ERR_NOT_FOUND,
	             "nor overwrite it by naming its id");
	cr_assert_eq(ls_store_object_delete(txn, t2, a), LS_ERR_NOT_FOUND, "nor delete it");
	cr_assert_eq(ls_store_object_get(txn, t1, a, &got), LS_OK);
	assert_bytes(got.attrs, got.attrs_len, "secret of one");
	ls_store_object_clear(&got);
	cr_assert_eq(ls_store_object_count(txn, t1, &n), LS_OK);
	cr_assert_eq(n, 1);

	/* Deleting token one takes its objects along and leaves two's alone. */
	cr_assert_eq(ls_store_token_delete(txn, t1), LS_OK);
	cr_assert_eq(ls_store_object_count(txn, t1, &n), LS_OK);
	cr_assert_eq(n, 0);
	cr_assert_eq(ls_store_object_count(txn, t2, &n), LS_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	cr_assert_eq(ls_store_check_integrity(store), LS_OK, "no orphaned objects");
}

/* ---- files --------------------------------------------------------------------------------- */

Test(store, reopen_keeps_everything)
{
	uint64_t tok = new_token("persist"), id;
	ls_store_token t;
	ls_store_object got;
	ls_store_txn *txn;
	uint32_t version;

	id = add_object(tok, 3, 0x30, "k", "persisted", "blob");
	ls_store_close(store);
	store = NULL;

	ls_store_sqlite_options opts = { .create = false, .busy_timeout_ms = 250 };
	cr_assert_eq(ls_store_sqlite_open(path, &opts, &store), LS_OK);
	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_schema_version(txn, &version), LS_OK);
	cr_assert_eq(version, LS_STORE_SQLITE_SCHEMA_VERSION);
	cr_assert_eq(ls_store_token_get(txn, tok, &t), LS_OK);
	cr_assert_eq(ls_store_object_get(txn, tok, id, &got), LS_OK);
	ls_store_rollback(txn);
	assert_bytes(got.label, got.label_len, "persisted");
	assert_bytes(got.attrs, got.attrs_len, "blob");
	ls_store_object_clear(&got);

	int64_t v;
	cr_assert_eq(ls_store_sqlite_setting(store, "busy_timeout", &v), LS_OK);
	cr_assert_eq(v, 250);
	cr_assert_gt(add_object(tok, 3, 0x30, "k2", "", ""), id, "the counter survives too");
}

static void
make_foreign_db(const char *p, const char *sql)
{
	sqlite3 *db;

	cr_assert_eq(sqlite3_open(p, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

Test(store, foreign_newer_and_missing_files_are_refused)
{
	ls_store_sqlite_options no_create = { .create = false };
	char other[128];
	ls_store *s2 = (ls_store *)1;
	FILE *f;

	snprintf(other, sizeof(other), "%s/other.db", dir);
	cr_assert_eq(ls_store_sqlite_open(other, &no_create, &s2), LS_ERR_NOT_FOUND);
	cr_assert_null(s2);

	make_foreign_db(other, "CREATE TABLE accounts_of_someone_else (x)");
	cr_assert_eq(ls_store_sqlite_open(other, NULL, &s2), LS_ERR_MALFORMED,
	             "a database that is not ours is not touched");
	remove_db(other);

	f = fopen(other, "w");
	cr_assert_not_null(f);
	fputs("this is not a database at all, just a text file of some length.......\n", f);
	fclose(f);
	cr_assert_eq(ls_store_sqlite_open(other, NULL, &s2), LS_ERR_MALFORMED);
	remove_db(other);

	/* Our own database, written by a newer program. */
	ls_store_close(store);
	store = NULL;
	make_foreign_db(path, "INSERT INTO schema_migrations (version) VALUES (99)");
	cr_assert_eq(ls_store_sqlite_open(path, NULL, &store), LS_ERR_UNSUPPORTED);
	cr_assert_null(store);
}

Test(store, corruption_is_detected)
{
	uint64_t tok = new_token("t");
	ls_store_txn *txn;
	ls_store_object o;
	char attrs[300];
	uint8_t junk[4096];
	FILE *f;
	long size;
	int r;

	memset(attrs, 'a', sizeof(attrs) - 1);
	attrs[sizeof(attrs) - 1] = '\0';
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	for (int i = 0; i < 2000; i++) {
		uint64_t id;
		char ckid[16];

		snprintf(ckid, sizeof(ckid), "%08d", i);
		cr_assert_eq(ls_store_object_id_new(txn, tok, &id), LS_OK);
		o = object_value(id, 3, 0x30, ckid, "label", attrs);
		cr_assert_eq(ls_store_object_put(txn, tok, &o), LS_OK);
	}
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	ls_store_close(store); /* the last connection checkpoints the WAL into the file */
	store = NULL;

	f = fopen(path, "r+b");
	cr_assert_not_null(f);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	cr_assert_gt(size, 20 * 4096L);
	memset(junk, 0x5a, sizeof(junk));
	/* Scribble over pages in the middle (the objects' b-trees), leave the header alone. */
	for (long page = size / 4096 / 2; page < size / 4096 / 2 + 3; page++) {
		cr_assert_eq(fseek(f, page * 4096, SEEK_SET), 0);
		cr_assert_eq(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	}
	fclose(f);

	r = ls_store_sqlite_open(path, NULL, &store);
	if (r == LS_OK)
		r = ls_store_check_integrity(store);
	cr_assert_eq(r, LS_ERR_MALFORMED, "a corrupt file is reported, got %d", r);
}

/* ---- threads ------------------------------------------------------------------------------- */

struct worker {
	ls_store *s;
	uint64_t token;
	int n;
	int failures;
};

static void *
writer(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < w->n; i++) {
		ls_store_txn *txn;
		ls_store_object o;
		uint64_t id;

		if (ls_store_begin(w->s, true, &txn) != LS_OK) {
			w->failures++;
			continue;
		}
		o = object_value(0, 3, 0x30, "t", "t", "threaded");
		if (ls_store_object_id_new(txn, w->token, &id) != LS_OK) {
			ls_store_rollback(txn);
			w->failures++;
			continue;
		}
		o.id = id;
		if (ls_store_object_put(txn, w->token, &o) != LS_OK) {
			ls_store_rollback(txn);
			w->failures++;
			continue;
		}
		if (ls_store_commit(txn) != LS_OK)
			w->failures++;
	}
	return NULL;
}

Test(store, threads_share_a_handle_and_handles_share_a_file)
{
	uint64_t tok = new_token("t"), n = 0;
	struct worker w[6];
	pthread_t th[6];
	ls_store *second = NULL;
	ls_store_txn *txn;

	/* Four threads on this handle, two on a second handle of the same file. */
	cr_assert_eq(ls_store_sqlite_open(path, NULL, &second), LS_OK);
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){ .s = i < 4 ? store : second, .token = tok, .n = 40 };
		cr_assert_eq(pthread_create(&th[i], NULL, writer, &w[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(pthread_join(th[i], NULL), 0);
		cr_assert_eq(w[i].failures, 0, "worker %d had %d failures", i, w[i].failures);
	}
	ls_store_close(second);
	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_object_count(txn, tok, &n), LS_OK);
	ls_store_rollback(txn);
	cr_assert_eq(n, 6 * 40);
}

/* ---- scale: find by CKA_ID among 100k objects uses the index -------------------------------- */

Test(store, find_among_100k_objects_uses_the_indexes)
{
	uint64_t tok = new_token("big"), other = new_token("other"), want = 0;
	char plan[1024], ckid[16], label[32];
	ls_store_query q;
	ls_store_object o;
	ls_store_txn *txn;
	struct collect c;

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	for (int i = 0; i < 100000; i++) {
		uint64_t id, t = i % 10 == 0 ? other : tok;

		snprintf(ckid, sizeof(ckid), "%08x", i);
		snprintf(label, sizeof(label), "object %d", i);
		cr_assert_eq(ls_store_object_id_new(txn, t, &id), LS_OK);
		o = object_value(id, (uint64_t)(i % 4), i % 3 ? 0x30 : LS_STORE_NO_KEY_TYPE, ckid,
		                 label, "attributes");
		cr_assert_eq(ls_store_object_put(txn, t, &o), LS_OK);
		if (i == 77777)
			want = id;
	}
	cr_assert_eq(ls_store_commit(txn), LS_OK);

	q = (ls_store_query){ .fields = LS_STORE_Q_CKA_ID, .ck_id = (const uint8_t *)"00012fd1",
		              .ck_id_len = 8 };
	c = find(tok, &q);
	assert_ids(&c, 1, &want);

	cr_assert_eq(ls_store_sqlite_query_plan(store, &q, plan, sizeof(plan)), LS_OK);
	cr_log_info("find by CKA_ID: %s", plan);
	cr_assert_not_null(
	        strstr(plan, "SEARCH objects USING INDEX objects_ck_id (token_id=? AND ck_id=?)"),
	        "plan: %s", plan);
	cr_assert_null(strstr(plan, "TEMP B-TREE"), "no sort step: %s", plan);

	q = (ls_store_query){ .fields = LS_STORE_Q_LABEL, .label = (const uint8_t *)"x",
		              .label_len = 1 };
	cr_assert_eq(ls_store_sqlite_query_plan(store, &q, plan, sizeof(plan)), LS_OK);
	cr_assert_not_null(strstr(plan, "USING INDEX objects_label (token_id=? AND label=?)"),
	                   "plan: %s", plan);
	q = (ls_store_query){ .fields = LS_STORE_Q_CLASS, .cls = 3 };
	cr_assert_eq(ls_store_sqlite_query_plan(store, &q, plan, sizeof(plan)), LS_OK);
	cr_assert_not_null(strstr(plan, "USING INDEX objects_class (token_id=? AND class=?)"),
	                   "plan: %s", plan);
	q = (ls_store_query){ .fields = LS_STORE_Q_KEY_TYPE, .key_type = 0x30 };
	cr_assert_eq(ls_store_sqlite_query_plan(store, &q, plan, sizeof(plan)), LS_OK);
	cr_assert_not_null(strstr(plan, "USING INDEX objects_key_type (token_id=? AND key_type=?)"),
	                   "plan: %s", plan);
	q = (ls_store_query){ .fields = 0 };
	cr_assert_eq(ls_store_sqlite_query_plan(store, &q, plan, sizeof(plan)), LS_OK);
	cr_log_info("list a token: %s", plan);
	cr_assert_not_null(strstr(plan, "(token_id=?)"),
	                   "listing one token reads only its rows: %s", plan);
}

/* ---- accounts and the audit log (schema version 2) ------------------------------------------ */

static ls_store_account
account_record(const char *nick, uint64_t token)
{
	ls_store_account a;

	memset(&a, 0, sizeof(a));
	snprintf(a.nickname, sizeof(a.nickname), "%s", nick);
	for (size_t i = 0; i < sizeof(a.verifier); i++)
		a.verifier[i] = (uint8_t)(i * 7 + nick[0]);
	a.state = 1;
	a.c1 = 3;
	a.c2 = 7;
	a.c3 = 10000;
	a.token_id = token;
	return a;
}

static uint64_t
new_account(const char *nick, uint64_t token)
{
	ls_store_account a = account_record(nick, token);
	ls_store_txn *txn;
	uint64_t id = 0;

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_account_create(txn, &a, &id), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	cr_assert_neq(id, 0);
	return id;
}

static int
count_accounts_cb(void *ctx, const ls_store_account *a)
{
	(void)a;
	(*(int *)ctx)++;
	return LS_OK;
}

Test(store, account_create_find_update_list)
{
	uint64_t t1 = new_token("alice"), t2 = new_token("bob"), t3 = new_token("spare");
	uint64_t a1 = new_account("alice", t1), id = 0;
	ls_store_account a, got;
	ls_store_txn *txn;
	int n = 0;

	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_account_find(txn, "alice", &got), LS_OK);
	cr_assert_eq(got.id, a1);
	cr_assert_eq(got.token_id, t1);
	cr_assert_eq(got.state, 1);
	cr_assert_eq(got.c3, 10000);
	cr_assert_gt(got.created_at, 0, "creation time filled in");
	a = account_record("alice", t1);
	cr_assert_arr_eq(got.verifier, a.verifier, sizeof(a.verifier));
	cr_assert_eq(ls_store_account_find(txn, "Alice", &got), LS_ERR_NOT_FOUND,
	             "nicknames are exact");
	cr_assert_eq(ls_store_account_find(txn, "", &got), LS_ERR_NOT_FOUND);
	cr_assert_eq(ls_store_account_get(txn, a1 + 100, &got), LS_ERR_NOT_FOUND);
	ls_store_rollback(txn);

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	/* The same nickname again, a token another account owns, a token that does not exist. */
	a = account_record("alice", t2);
	cr_assert_eq(ls_store_account_create(txn, &a, &id), LS_ERR_STATE);
	a = account_record("bob", t1);
	cr_assert_eq(ls_store_account_create(txn, &a, &id), LS_ERR_INVALID_ARG);
	a = account_record("bob", t3 + 1000);
	cr_assert_eq(ls_store_account_create(txn, &a, &id), LS_ERR_NOT_FOUND);
	memset(a.nickname, 'x', sizeof(a.nickname)); /* not terminated within the limit */
	a.token_id = t2;
	cr_assert_eq(ls_store_account_create(txn, &a, &id), LS_ERR_INVALID_ARG);
	a = account_record("bob", t2);
	cr_assert_eq(ls_store_account_create(txn, &a, &id), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);

	/* Update: counters, state, verifier, token; the nickname stays. */
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_account_get(txn, a1, &a), LS_OK);
	a.c1 = 2;
	a.c2 = 6;
	a.c3 = 9999;
	a.state = 0;
	a.verifier[0] ^= 0xff;
	a.token_id = t3;
	a.last_login_at = 12345;
	snprintf(a.last_login_from, sizeof(a.last_login_from), "192.0.2.7");
	snprintf(a.nickname, sizeof(a.nickname), "mallory");
	cr_assert_eq(ls_store_account_update(txn, &a), LS_OK);
	a.token_id = t3 + 1000;
	cr_assert_eq(ls_store_account_update(txn, &a), LS_ERR_NOT_FOUND);
	cr_assert_eq(ls_store_commit(txn), LS_OK);

	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_account_get(txn, a1, &got), LS_OK);
	cr_assert_str_eq(got.nickname, "alice");
	cr_assert_eq(got.c1, 2);
	cr_assert_eq(got.c2, 6);
	cr_assert_eq(got.c3, 9999);
	cr_assert_eq(got.state, 0);
	cr_assert_eq(got.token_id, t3);
	cr_assert_eq(got.last_login_at, 12345);
	cr_assert_str_eq(got.last_login_from, "192.0.2.7");
	cr_assert_eq(got.password_changed_at, got.created_at);
	cr_assert_eq(got.verifier[0], (uint8_t)(a.verifier[0]));
	cr_assert_eq(ls_store_account_list(txn, count_accounts_cb, &n), LS_OK);
	cr_assert_eq(n, 2);
	/* Writes in a read transaction are refused. */
	cr_assert_eq(ls_store_account_update(txn, &got), LS_ERR_STATE);
	ls_store_rollback(txn);
}

struct audit_rows {
	uint64_t ids[64];
	char events[64][LS_STORE_AUDIT_EVENT_MAX + 1];
	size_t n;
};

static int
audit_cb(void *ctx, const ls_store_audit *row)
{
	struct audit_rows *c = ctx;

	cr_assert_lt(c->n, 64);
	c->ids[c->n] = row->id;
	snprintf(c->events[c->n], sizeof(c->events[0]), "%s", row->event);
	c->n++;
	return LS_OK;
}

static void
audit_add(uint64_t account, const char *event, uint64_t count)
{
	ls_store_audit row;
	ls_store_txn *txn;

	memset(&row, 0, sizeof(row));
	snprintf(row.event, sizeof(row.event), "%s", event);
	snprintf(row.source, sizeof(row.source), "127.0.0.1");
	snprintf(row.detail, sizeof(row.detail), "detail of %s", event);
	row.count = count;
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_audit_append(txn, account, &row, NULL), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
}

Test(store, audit_log_pages_newest_first_and_goes_with_its_account)
{
	uint64_t t1 = new_token("a"), t2 = new_token("b");
	uint64_t a1 = new_account("alice", t1), a2 = new_account("bob", t2);
	struct audit_rows rows = { .n = 0 };
	ls_store_audit bad;
	ls_store_txn *txn;
	ls_store_token tok;
	uint64_t count = 99;

	audit_add(a1, "connect", 0);
	audit_add(a1, "login", 0);
	audit_add(a2, "connect", 0);
	audit_add(a1, "sign", 42);
	add_object(t1, 3, 0x30, "k", "key", "attrs");

	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_audit_list(txn, a1, 0, 2, audit_cb, &rows), LS_OK);
	cr_assert_eq(rows.n, 2);
	cr_assert_str_eq(rows.events[0], "connect");
	cr_assert_str_eq(rows.events[1], "login");
	cr_assert_eq(ls_store_audit_list(txn, a1, rows.ids[1] + 1, 10, audit_cb, &rows), LS_OK);
	cr_assert_eq(rows.n, 3, "the next page holds the newest row only (bob's is not there)");
	cr_assert_str_eq(rows.events[2], "sign");
	cr_assert_eq(ls_store_audit_list(txn, a1, 0, 0, audit_cb, &rows), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_store_audit_count(txn, a1, &count), LS_OK);
	cr_assert_eq(count, 3);
	ls_store_rollback(txn);

	/* Bounded strings; an unknown account. */
	memset(&bad, 0, sizeof(bad));
	memset(bad.event, 'e', sizeof(bad.event));
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_audit_append(txn, a1, &bad, NULL), LS_ERR_INVALID_ARG);
	memset(&bad, 0, sizeof(bad));
	cr_assert_eq(ls_store_audit_append(txn, a1, &bad, NULL), LS_ERR_INVALID_ARG,
	             "an empty event name");
	snprintf(bad.event, sizeof(bad.event), "x");
	cr_assert_eq(ls_store_audit_append(txn, a2 + 100, &bad, NULL), LS_ERR_NOT_FOUND);
	/* Deleting the account takes its log, its token and the token's objects along. */
	cr_assert_eq(ls_store_account_delete(txn, a1), LS_OK);
	cr_assert_eq(ls_store_account_delete(txn, a1), LS_ERR_NOT_FOUND);
	cr_assert_eq(ls_store_commit(txn), LS_OK);

	rows.n = 0;
	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_audit_list(txn, a1, 0, 10, audit_cb, &rows), LS_OK);
	cr_assert_eq(rows.n, 0);
	cr_assert_eq(ls_store_token_get(txn, t1, &tok), LS_ERR_NOT_FOUND);
	cr_assert_eq(ls_store_audit_list(txn, a2, 0, 10, audit_cb, &rows), LS_OK);
	cr_assert_eq(rows.n, 1, "the other account keeps its log");
	cr_assert_eq(ls_store_token_get(txn, t2, &tok), LS_OK);
	ls_store_rollback(txn);
	cr_assert_eq(ls_store_check_integrity(store), LS_OK);
}

Test(store, token_of_an_account_cannot_be_deleted_alone)
{
	uint64_t t1 = new_token("a");
	ls_store_txn *txn;

	new_account("alice", t1);
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_neq(ls_store_token_delete(txn, t1), LS_OK,
	              "an account never points at a missing token");
	ls_store_rollback(txn);
}

Test(store, audit_log_keeps_a_bounded_number_of_rows)
{
	uint64_t a1 = new_account("alice", new_token("a"));
	ls_store_audit row;
	ls_store_txn *txn;
	sqlite3 *db;
	sqlite3_stmt *st;

	memset(&row, 0, sizeof(row));
	snprintf(row.event, sizeof(row.event), "connect");
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	for (int i = 0; i < LS_STORE_AUDIT_KEEP + 200; i++)
		cr_assert_eq(ls_store_audit_append(txn, a1, &row, NULL), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);

	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit", -1, &st, NULL),
	             SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_leq(sqlite3_column_int(st, 0), LS_STORE_AUDIT_KEEP + 64);
	cr_assert_geq(sqlite3_column_int(st, 0), LS_STORE_AUDIT_KEEP);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* A database written by the version-1 code (tokens and objects only) is brought up to date. */
Test(store, version_1_database_migrates_and_keeps_its_tokens)
{
	static const char v1[] =
		"CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
		" applied_at INTEGER NOT NULL DEFAULT 0);"
		"CREATE TABLE tokens (id INTEGER PRIMARY KEY AUTOINCREMENT,"
		" label BLOB NOT NULL CHECK (length(label) = 32),"
		" serial BLOB NOT NULL CHECK (length(serial) = 16), flags INTEGER NOT NULL,"
		" user_failures INTEGER NOT NULL DEFAULT 0, so_failures INTEGER NOT NULL DEFAULT 0,"
		" format_version INTEGER NOT NULL, user_wrap BLOB, so_wrap BLOB);"
		"CREATE TABLE objects (id INTEGER PRIMARY KEY,"
		" token_id INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,"
		" class INTEGER NOT NULL, key_type INTEGER, ck_id BLOB NOT NULL DEFAULT x'',"
		" label BLOB NOT NULL DEFAULT x'', attrs BLOB NOT NULL DEFAULT x'');"
		"CREATE TABLE sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
		"INSERT INTO sequences (name, value) VALUES ('object', 0);"
		"INSERT INTO tokens (label, serial, flags, format_version) VALUES"
		" (zeroblob(32), zeroblob(16), 1024, 1);"
		"INSERT INTO schema_migrations (version) VALUES (1);"
		"PRAGMA application_id = 0x4c533131;";
	ls_store_account a;
	ls_store_token tok;
	ls_store_txn *txn;
	uint32_t version = 0;
	uint64_t id;

	ls_store_close(store);
	store = NULL;
	remove_db(path);
	make_foreign_db(path, v1);
	cr_assert_eq(ls_store_sqlite_open(path, NULL, &store), LS_OK);
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_schema_version(txn, &version), LS_OK);
	cr_assert_eq(version, LS_STORE_SQLITE_SCHEMA_VERSION);
	cr_assert_eq(ls_store_token_get(txn, 1, &tok), LS_OK);
	cr_assert_eq(tok.flags, 1024);
	a = account_record("alice", 1);
	cr_assert_eq(ls_store_account_create(txn, &a, &id), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	cr_assert_eq(ls_store_check_integrity(store), LS_OK);
}

/* ---- settings (schema version 3) --------------------------------------------------------- */

Test(store, settings_set_get_replace_remove_and_persist)
{
	char value[LS_STORE_SETTING_VALUE_MAX + 1], big[LS_STORE_SETTING_VALUE_MAX + 2], small[4];
	ls_store_txn *txn;

	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_setting_get(txn, "registration", value, sizeof(value)),
	             LS_ERR_NOT_FOUND);
	cr_assert_str_empty(value);
	cr_assert_eq(ls_store_setting_set(txn, "registration", "open"), LS_OK);
	cr_assert_eq(ls_store_setting_get(txn, "registration", value, sizeof(value)), LS_OK);
	cr_assert_str_eq(value, "open");
	cr_assert_eq(ls_store_setting_set(txn, "registration", "code"), LS_OK);
	cr_assert_eq(ls_store_setting_set(txn, "registration-code", "Xy7-secret"), LS_OK);
	cr_assert_eq(ls_store_setting_set(txn, "empty", ""), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);

	/* Limits: names 1..64, values up to 1024, a too small buffer copies nothing. */
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_setting_get(txn, "registration-code", small, sizeof(small)),
	             LS_ERR_BAD_LENGTH);
	cr_assert_str_empty(small);
	cr_assert_eq(ls_store_setting_set(txn, "", "x"), LS_ERR_INVALID_ARG);
	memset(big, 'n', 65);
	big[65] = '\0';
	cr_assert_eq(ls_store_setting_set(txn, big, "x"), LS_ERR_INVALID_ARG);
	big[64] = '\0';
	cr_assert_eq(ls_store_setting_set(txn, big, "64 is fine"), LS_OK);
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(ls_store_setting_set(txn, "big", big), LS_ERR_TOO_LARGE);
	big[LS_STORE_SETTING_VALUE_MAX] = '\0';
	cr_assert_eq(ls_store_setting_set(txn, "big", big), LS_OK);
	cr_assert_eq(ls_store_setting_get(txn, "big", value, sizeof(value)), LS_OK);
	cr_assert_eq(strlen(value), LS_STORE_SETTING_VALUE_MAX);
	ls_store_rollback(txn);

	/* A write needs a write transaction. */
	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_setting_set(txn, "registration", "closed"), LS_ERR_STATE);
	cr_assert_eq(ls_store_setting_get(txn, "big", value, sizeof(value)), LS_ERR_NOT_FOUND);
	ls_store_rollback(txn);

	/* What was committed survives a reopen; removal is final and idempotent. */
	ls_store_close(store);
	cr_assert_eq(ls_store_sqlite_open(path, NULL, &store), LS_OK);
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_setting_get(txn, "registration", value, sizeof(value)), LS_OK);
	cr_assert_str_eq(value, "code");
	cr_assert_eq(ls_store_setting_get(txn, "registration-code", value, sizeof(value)), LS_OK);
	cr_assert_str_eq(value, "Xy7-secret");
	cr_assert_eq(ls_store_setting_get(txn, "empty", value, sizeof(value)), LS_OK);
	cr_assert_str_empty(value);
	cr_assert_eq(ls_store_setting_set(txn, "registration-code", NULL), LS_OK);
	cr_assert_eq(ls_store_setting_set(txn, "registration-code", NULL), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	cr_assert_eq(ls_store_setting_get(txn, "registration-code", value, sizeof(value)),
	             LS_ERR_NOT_FOUND);
	ls_store_rollback(txn);
}

Test(store, another_handles_commit_changes_the_data_version)
{
	ls_store *other = NULL;
	ls_store_txn *txn;
	uint64_t v0 = 0, v1 = 0, v2 = 0;

	cr_assert_eq(ls_store_sqlite_open(path, NULL, &other), LS_OK);
	cr_assert_eq(ls_store_sqlite_data_version(store, &v0), LS_OK);
	/* This handle's own commit does not count as someone else's. */
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_setting_set(txn, "registration", "open"), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	cr_assert_eq(ls_store_sqlite_data_version(store, &v1), LS_OK);
	cr_assert_eq(v1, v0);
	/* The other handle's (ls11cloud-admin's, say) does; and the value is seen at once. */
	cr_assert_eq(ls_store_begin(other, true, &txn), LS_OK);
	cr_assert_eq(ls_store_setting_set(txn, "registration", "closed"), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	cr_assert_eq(ls_store_sqlite_data_version(store, &v2), LS_OK);
	cr_assert_neq(v2, v1);
	ls_store_close(other);
}
