/*
 * LS11CLOUD - the SQLite backend of the token store.
 *
 * Schema (docs/storage.md has the full description):
 *   schema_migrations(version, applied_at)  one row per applied migration; version = max
 *   tokens(id, label, serial, flags, user_failures, so_failures, format_version,
 *          user_wrap, so_wrap)
 *   objects(id, token_id -> tokens ON DELETE CASCADE, class, key_type, ck_id, label, attrs)
 *     with indexes (token_id, class), (token_id, key_type), (token_id, ck_id), (token_id, label)
 *   sequences(name, value)                   the object id counter ('object')
 *   accounts(id, nickname UNIQUE, verifier, state, c1, c2, c3, token_id -> tokens UNIQUE,
 *            created_at, updated_at, password_changed_at, last_login_at,
 *            last_login_from)                                             (version 2)
 *   audit(id, account_id -> accounts ON DELETE CASCADE, at, event, count, source, detail)
 *     with index (account_id, id)                                         (version 2)
 *   settings(name PRIMARY KEY, value, updated_at)  the server's live settings    (version 3)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store-sqlite.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"

/* ---------------------------------------------------------------------------------------------
 * Schema and migrations
 *
 * migrations[i] brings a database at version i to version i + 1, inside one transaction.  A
 * released migration is never edited; a change of schema is a new entry (the account layer
 * adds its tables that way).
 * ------------------------------------------------------------------------------------------- */

static const char *const migrations[] = {
	/* 0 -> 1: tokens and objects */
	"CREATE TABLE tokens ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" label BLOB NOT NULL CHECK (length(label) = 32),"
	" serial BLOB NOT NULL CHECK (length(serial) = 16),"
	" flags INTEGER NOT NULL,"
	" user_failures INTEGER NOT NULL DEFAULT 0,"
	" so_failures INTEGER NOT NULL DEFAULT 0,"
	" format_version INTEGER NOT NULL,"
	" user_wrap BLOB,"
	" so_wrap BLOB"
	");"
	"CREATE TABLE objects ("
	" id INTEGER PRIMARY KEY,"
	" token_id INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,"
	" class INTEGER NOT NULL,"
	" key_type INTEGER,"
	" ck_id BLOB NOT NULL DEFAULT x'',"
	" label BLOB NOT NULL DEFAULT x'',"
	" attrs BLOB NOT NULL DEFAULT x''"
	");"
	"CREATE INDEX objects_class ON objects (token_id, class);"
	"CREATE INDEX objects_key_type ON objects (token_id, key_type);"
	"CREATE INDEX objects_ck_id ON objects (token_id, ck_id);"
	"CREATE INDEX objects_label ON objects (token_id, label);"
	"CREATE TABLE sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO sequences (name, value) VALUES ('object', 0);",

	/* 1 -> 2: the server's accounts (one token each) and their audit log */
	"CREATE TABLE accounts ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" nickname TEXT NOT NULL UNIQUE CHECK (length(nickname) BETWEEN 1 AND 64),"
	" verifier BLOB NOT NULL CHECK (length(verifier) = 196),"
	" state INTEGER NOT NULL,"
	" c1 INTEGER NOT NULL,"
	" c2 INTEGER NOT NULL,"
	" c3 INTEGER NOT NULL,"
	" token_id INTEGER NOT NULL UNIQUE REFERENCES tokens (id),"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" password_changed_at INTEGER NOT NULL,"
	" last_login_at INTEGER NOT NULL DEFAULT 0,"
	" last_login_from TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,"
	" at INTEGER NOT NULL,"
	" event TEXT NOT NULL,"
	" count INTEGER NOT NULL DEFAULT 0,"
	" source TEXT NOT NULL DEFAULT '',"
	" detail TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX audit_account ON audit (account_id, id);",

	/* 2 -> 3: settings the operator changes while the server runs (ls11cloud-admin) */
	"CREATE TABLE settings ("
	" name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),"
	" value TEXT NOT NULL CHECK (length(value) <= 1024),"
	" updated_at INTEGER NOT NULL"
	") WITHOUT ROWID;",
};

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

_Static_assert(N_MIGRATIONS == LS_STORE_SQLITE_SCHEMA_VERSION,
               "one migration per schema version");

/* ---------------------------------------------------------------------------------------------
 * Statements: constant text, prepared once per connection on first use
 * ------------------------------------------------------------------------------------------- */

enum stmt_id {
	ST_BEGIN_READ,
	ST_BEGIN_WRITE,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SCHEMA_VERSION,
	ST_TOKEN_INSERT,
	ST_TOKEN_GET,
	ST_TOKEN_UPDATE,
	ST_TOKEN_DELETE,
	ST_TOKEN_LIST,
	ST_TOKEN_EXISTS,
	ST_OBJECT_ID_NEXT,
	ST_OBJECT_PUT,
	ST_OBJECT_GET,
	ST_OBJECT_DELETE,
	ST_OBJECT_COUNT,
	ST_ACCOUNT_INSERT,
	ST_ACCOUNT_GET,
	ST_ACCOUNT_FIND,
	ST_ACCOUNT_UPDATE,
	ST_ACCOUNT_DELETE,
	ST_ACCOUNT_LIST,
	ST_AUDIT_INSERT,
	ST_AUDIT_PRUNE,
	ST_AUDIT_LIST,
	ST_AUDIT_COUNT,
	ST_SETTING_GET,
	ST_SETTING_SET,
	ST_SETTING_DELETE,
	ST_COUNT
};

#define TOKEN_COLUMNS                                                                             \
	"id, label, serial, flags, user_failures, so_failures, format_version, user_wrap, so_wrap"
#define ACCOUNT_COLUMNS                                                                           \
	"id, nickname, verifier, state, c1, c2, c3, token_id, created_at, updated_at,"           \
	" password_changed_at, last_login_at, last_login_from"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN_READ] = "BEGIN DEFERRED",
	[ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SCHEMA_VERSION] = "SELECT max(version) FROM schema_migrations",
	[ST_TOKEN_INSERT] = "INSERT INTO tokens (label, serial, flags, user_failures, so_failures,"
	                    " format_version, user_wrap, so_wrap)"
	                    " VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
	[ST_TOKEN_GET] = "SELECT " TOKEN_COLUMNS " FROM tokens WHERE id = ?1",
	[ST_TOKEN_UPDATE] = "UPDATE tokens SET label = ?2, serial = ?3, flags = ?4,"
	                    " user_failures = ?5, so_failures = ?6, format_version = ?7,"
	                    " user_wrap = ?8, so_wrap = ?9 WHERE id = ?1",
	[ST_TOKEN_DELETE] = "DELETE FROM tokens WHERE id = ?1",
	[ST_TOKEN_LIST] = "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY id",
	[ST_TOKEN_EXISTS] = "SELECT 1 FROM tokens WHERE id = ?1",
	[ST_OBJECT_ID_NEXT] = "UPDATE sequences SET value = value + 1 WHERE name = 'object'"
	                      " RETURNING value",
	/*
	 * Insert or replace, but only for an id the counter has handed out, and never across
	 * tokens: the conflict update is skipped when the id belongs to another token.  Either
	 * case changes no row, which the caller reports as "not found".
	 */
	[ST_OBJECT_PUT] = "INSERT INTO objects (id, token_id, class, key_type, ck_id, label, attrs)"
	                  " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7"
	                  " WHERE ?1 <= (SELECT value FROM sequences WHERE name = 'object')"
	                  " ON CONFLICT (id) DO UPDATE SET class = excluded.class,"
	                  " key_type = excluded.key_type, ck_id = excluded.ck_id,"
	                  " label = excluded.label, attrs = excluded.attrs"
	                  " WHERE objects.token_id = excluded.token_id",
	[ST_OBJECT_GET] = "SELECT id, class, key_type, ck_id, label, attrs FROM objects"
	                  " WHERE token_id = ?1 AND id = ?2",
	[ST_OBJECT_DELETE] = "DELETE FROM objects WHERE token_id = ?1 AND id = ?2",
	[ST_OBJECT_COUNT] = "SELECT count(*) FROM objects WHERE token_id = ?1",
	[ST_ACCOUNT_INSERT] = "INSERT INTO accounts (nickname, verifier, state, c1, c2, c3, token_id,"
	                      " created_at, updated_at, password_changed_at, last_login_at,"
	                      " last_login_from)"
	                      " VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
	                      " RETURNING id",
	[ST_ACCOUNT_GET] = "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id = ?1",
	[ST_ACCOUNT_FIND] = "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE nickname = ?1",
	/* ?2 (nickname) and ?9 (created_at) are bound but never change. */
	[ST_ACCOUNT_UPDATE] = "UPDATE accounts SET verifier = ?3, state = ?4, c1 = ?5, c2 = ?6,"
	                      " c3 = ?7, token_id = ?8, updated_at = ?10,"
	                      " password_changed_at = ?11, last_login_at = ?12,"
	                      " last_login_from = ?13"
	                      " WHERE id = ?1 AND ?2 IS NOT NULL AND ?9 IS NOT NULL",
	[ST_ACCOUNT_DELETE] = "DELETE FROM accounts WHERE id = ?1 RETURNING token_id",
	[ST_ACCOUNT_LIST] = "SELECT " ACCOUNT_COLUMNS " FROM accounts ORDER BY id",
	[ST_AUDIT_INSERT] = "INSERT INTO audit (account_id, at, event, count, source, detail)"
	                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
	[ST_AUDIT_PRUNE] = "DELETE FROM audit WHERE account_id = ?1 AND id <="
	                   " (SELECT id FROM audit WHERE account_id = ?1"
	                   " ORDER BY id DESC LIMIT 1 OFFSET ?2)",
	[ST_AUDIT_LIST] = "SELECT id, at, event, count, source, detail FROM audit"
	                  " WHERE account_id = ?1 AND id >= ?2 ORDER BY id LIMIT ?3",
	[ST_AUDIT_COUNT] = "SELECT count(*) FROM audit WHERE account_id = ?1",
	[ST_SETTING_GET] = "SELECT value FROM settings WHERE name = ?1",
	[ST_SETTING_SET] = "INSERT INTO settings (name, value, updated_at) VALUES (?1, ?2, ?3)"
	                   " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
	                   " updated_at = excluded.updated_at",
	[ST_SETTING_DELETE] = "DELETE FROM settings WHERE name = ?1",
};

/* Find: one statement per combination of query fields, built from these constant fragments. */
#define FIND_HEAD "SELECT id, class, key_type, ck_id, label, attrs FROM objects WHERE token_id = ?1"
#define FIND_TAIL " ORDER BY id"
static const char *const find_fragment[4] = {
	" AND class = ?2",
	" AND key_type IS ?3", /* IS: NULL (no key type) matches NULL */
	" AND ck_id = ?4",
	" AND label = ?5",
};

#define N_FIND (LS_STORE_Q_ALL + 1)

typedef struct {
	ls_store base;
	ls_store_txn txn;
	sqlite3 *db;
	char *path;
	pthread_mutex_t lock;
	bool lock_ready;
	bool in_txn;
	pthread_t owner; /* the thread of the open transaction */
	sqlite3_stmt *stmt[ST_COUNT];
	sqlite3_stmt *find[N_FIND];
} sq_store;

static const ls_store_ops sq_ops;

static inline sq_store *
sq_of_txn(ls_store_txn *txn)
{
	return (sq_store *)txn->store;
}

/*
 * The handle's lock is an error-checking mutex: a thread that already holds a transaction and
 * asks for the lock again gets LS_ERR_STATE instead of waiting for itself forever.
 */
static int
sq_lock(sq_store *s)
{
	int rc = pthread_mutex_lock(&s->lock);

	if (rc == 0)
		return LS_OK;
	ls_warning("sqlite store %s: %s", s->path,
	           rc == EDEADLK ? "this thread already holds a transaction of this store"
	                         : "cannot take the store's lock");
	return rc == EDEADLK ? LS_ERR_STATE : LS_ERR_INTERNAL;
}

/* Maps an SQLite result code to ours, logging what failed (never the values involved). */
static int
sq_error(sq_store *s, int rc, const char *what)
{
	int err;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		err = LS_ERR_TIMEOUT;
		break;
	case SQLITE_NOMEM:
		err = LS_ERR_NOMEM;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
	case SQLITE_MISMATCH:
		err = LS_ERR_MALFORMED;
		break;
	case SQLITE_TOOBIG:
		err = LS_ERR_TOO_LARGE;
		break;
	case SQLITE_CONSTRAINT:
		err = rc == SQLITE_CONSTRAINT_FOREIGNKEY ? LS_ERR_NOT_FOUND : LS_ERR_INVALID_ARG;
		break;
	case SQLITE_RANGE:
	case SQLITE_MISUSE:
		err = LS_ERR_INTERNAL;
		break;
	default:
		err = LS_ERR_IO;
		break;
	}
	ls_warning("sqlite store %s: %s: %s (%s)", s->path, what,
	           s->db != NULL ? sqlite3_errmsg(s->db) : "-", sqlite3_errstr(rc));
	return err;
}

static int
sq_stmt(sq_store *s, enum stmt_id id, sqlite3_stmt **out)
{
	int rc;

	if (s->stmt[id] == NULL) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		                        &s->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			s->stmt[id] = NULL;
			return sq_error(s, rc, "preparing a statement");
		}
	}
	*out = s->stmt[id];
	return LS_OK;
}

static void
find_sql(unsigned fields, char *buf, size_t size)
{
	size_t i;

	snprintf(buf, size, "%s", FIND_HEAD);
	for (i = 0; i < 4; i++) {
		if (fields & (1u << i))
			strncat(buf, find_fragment[i], size - strlen(buf) - 1);
	}
	strncat(buf, FIND_TAIL, size - strlen(buf) - 1);
}

static int
sq_find_stmt(sq_store *s, unsigned fields, sqlite3_stmt **out)
{
	char sql[512];
	int rc;

	if (s->find[fields] == NULL) {
		find_sql(fields, sql, sizeof(sql));
		rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->find[fields],
		                        NULL);
		if (rc != SQLITE_OK) {
			s->find[fields] = NULL;
			return sq_error(s, rc, "preparing a find statement");
		}
	}
	*out = s->find[fields];
	return LS_OK;
}

/* Ends a statement's use: it holds no lock and no bound pointer afterwards. */
static void
sq_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* A blob parameter; length 0 binds an empty blob (not NULL, which would compare unequal). */
static int
bind_blob(sqlite3_stmt *st, int idx, const uint8_t *p, size_t len)
{
	if (len == 0)
		return sqlite3_bind_zeroblob(st, idx, 0);
	return sqlite3_bind_blob(st, idx, p, (int)len, SQLITE_STATIC);
}

static int
bind_u64(sqlite3_stmt *st, int idx, uint64_t v)
{
	/* Stored as the same 64 bits, signed: CK_ULONG values above 2^63 survive the trip. */
	return sqlite3_bind_int64(st, idx, (sqlite3_int64)v);
}

/* Runs a statement that returns no row (or whose rows are ignored) to completion. */
static int
sq_exec(sq_store *s, sqlite3_stmt *st, const char *what)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sq_done(st);
	return rc == SQLITE_DONE ? LS_OK : sq_error(s, rc, what);
}

static int
sq_exec_id(sq_store *s, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = sq_stmt(s, id, &st)) != LS_OK)
		return r;
	return sq_exec(s, st, what);
}

/* ---------------------------------------------------------------------------------------------
 * Opening: connection settings, file identity, migrations
 * ------------------------------------------------------------------------------------------- */

/* Runs a constant PRAGMA that returns one value and gives it as an integer or text. */
static int
sq_pragma(sq_store *s, const char *sql, int64_t *ival, char *text, size_t text_size)
{
	sqlite3_stmt *st = NULL;
	int rc, r = LS_OK;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_error(s, rc, sql);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (ival != NULL)
			*ival = sqlite3_column_int64(st, 0);
		if (text != NULL && text_size > 0) {
			const unsigned char *t = sqlite3_column_text(st, 0);

			snprintf(text, text_size, "%s", t != NULL ? (const char *)t : "");
		}
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		r = sq_error(s, rc, sql);
	sqlite3_finalize(st);
	return r;
}

static int
sq_configure(sq_store *s, unsigned busy_timeout_ms)
{
	char mode[16];
	int rc, r;

	sqlite3_extended_result_codes(s->db, 1);
	/* Refuse schema tricks from a hostile file: no writable_schema, no untrusted functions. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	rc = sqlite3_busy_timeout(s->db, (int)busy_timeout_ms);
	if (rc != SQLITE_OK)
		return sq_error(s, rc, "setting the busy timeout");

	if ((r = sq_pragma(s, "PRAGMA foreign_keys = ON", NULL, NULL, 0)) != LS_OK ||
	    (r = sq_pragma(s, "PRAGMA secure_delete = ON", NULL, NULL, 0)) != LS_OK ||
	    (r = sq_pragma(s, "PRAGMA journal_mode = WAL", NULL, mode, sizeof(mode))) != LS_OK ||
	    (r = sq_pragma(s, "PRAGMA synchronous = FULL", NULL, NULL, 0)) != LS_OK)
		return r;
	if (strcmp(mode, "wal") != 0) {
		ls_warning("sqlite store %s: journal mode is '%s', WAL is required", s->path, mode);
		return LS_ERR_IO;
	}
	return LS_OK;
}

/* A file that is not empty and not marked as ours is somebody else's: do not touch it. */
static int
sq_check_identity(sq_store *s)
{
	int64_t app_id = 0, n_tables = 0;
	int r;

	if ((r = sq_pragma(s, "PRAGMA application_id", &app_id, NULL, 0)) != LS_OK)
		return r;
	if (app_id == LS_STORE_SQLITE_APPLICATION_ID)
		return LS_OK;
	if (app_id == 0) {
		r = sq_pragma(s,
		              "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'",
		              &n_tables, NULL, 0);
		if (r != LS_OK)
			return r;
		if (n_tables == 0)
			return LS_OK;
	}
	ls_warning("sqlite store %s: not an LS11CLOUD token store (application_id 0x%llx)",
	           s->path, (unsigned long long)app_id);
	return LS_ERR_MALFORMED;
}

static int
sq_migrate(sq_store *s)
{
	int64_t version = 0;
	char *msg = NULL;
	size_t v;
	int rc, r;

	if ((r = sq_exec_id(s, ST_BEGIN_WRITE, "starting the migration")) != LS_OK)
		return r;
	rc = sqlite3_exec(s->db,
	                  "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                  " version INTEGER PRIMARY KEY,"
	                  " applied_at INTEGER NOT NULL"
	                  " DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)))",
	                  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = sq_error(s, rc, "creating schema_migrations");
		goto out;
	}
	r = sq_pragma(s, "SELECT coalesce(max(version), 0) FROM schema_migrations", &version,
	              NULL, 0);
	if (r != LS_OK)
		goto out;
	if (version < 0 || version > (int64_t)N_MIGRATIONS) {
		ls_warning("sqlite store %s: schema version %lld is newer than this program's %zu",
		           s->path, (long long)version, N_MIGRATIONS);
		r = LS_ERR_UNSUPPORTED;
		goto out;
	}
	for (v = (size_t)version; v < N_MIGRATIONS; v++) {
		char record[96];

		rc = sqlite3_exec(s->db, migrations[v], NULL, NULL, &msg);
		if (rc == SQLITE_OK) {
			/* v is a number of ours, not input: formatting it into SQL is safe. */
			snprintf(record, sizeof(record),
			         "INSERT INTO schema_migrations (version) VALUES (%zu)", v + 1);
			rc = sqlite3_exec(s->db, record, NULL, NULL, &msg);
		}
		if (rc != SQLITE_OK) {
			ls_warning("sqlite store %s: migration to version %zu: %s", s->path, v + 1,
			           msg != NULL ? msg : sqlite3_errstr(rc));
			sqlite3_free(msg);
			r = sq_error(s, rc, "migrating the schema");
			goto out;
		}
		ls_info("sqlite store %s: schema migrated to version %zu", s->path, v + 1);
	}
	if (version == 0) {
		r = sq_pragma(s, "PRAGMA application_id = 0x4c533131", NULL, NULL, 0);
		if (r != LS_OK)
			goto out;
	}
	r = sq_exec_id(s, ST_COMMIT, "committing the migration");
out:
	if (r != LS_OK && !sqlite3_get_autocommit(s->db))
		sq_exec_id(s, ST_ROLLBACK, "rolling back the migration");
	return r;
}

static void
sq_free(sq_store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	for (i = 0; i < N_FIND; i++)
		sqlite3_finalize(s->find[i]);
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		ls_warning("sqlite store %s: close: %s", s->path, sqlite3_errmsg(s->db));
	if (s->lock_ready)
		pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

int
ls_store_sqlite_open(const char *path, const ls_store_sqlite_options *opts, ls_store **out)
{
	ls_store_sqlite_options def = { .create = true };
	pthread_mutexattr_t attr;
	sq_store *s = NULL;
	int flags, rc, r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	ls_return_val_if_fail(path != NULL, LS_ERR_INVALID_ARG);
	if (opts == NULL)
		opts = &def;
	if (sqlite3_threadsafe() == 0) {
		ls_warning("sqlite store: libsqlite3 is built without thread support");
		return LS_ERR_UNSUPPORTED;
	}
	if (!opts->create && access(path, F_OK) != 0)
		return LS_ERR_NOT_FOUND;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return LS_ERR_NOMEM;
	s->base.ops = &sq_ops;
	s->txn.store = &s->base;
	if ((s->path = strdup(path)) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	if (pthread_mutexattr_init(&attr) != 0) {
		r = LS_ERR_INTERNAL;
		goto out;
	}
	rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	if (rc == 0)
		rc = pthread_mutex_init(&s->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc != 0) {
		r = LS_ERR_INTERNAL;
		goto out;
	}
	s->lock_ready = true;

	/* NOMUTEX: our own lock serialises every use of the connection (see the header). */
	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	if (opts->create)
		flags |= SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &s->db, flags, NULL);
	if (rc != SQLITE_OK) {
		r = sq_error(s, rc, "opening");
		goto out;
	}
	r = sq_configure(s, opts->busy_timeout_ms != 0 ? opts->busy_timeout_ms
	                                               : LS_STORE_SQLITE_DEFAULT_BUSY_TIMEOUT_MS);
	if (r != LS_OK)
		goto out;
	if ((r = sq_check_identity(s)) != LS_OK || (r = sq_migrate(s)) != LS_OK)
		goto out;

	*out = &s->base;
	s = NULL;
	r = LS_OK;
out:
	sq_free(s);
	return r;
}

static void
sq_close(ls_store *store)
{
	sq_store *s = (sq_store *)store;

	/* Only the thread that holds the open transaction may close the store, so no lock here. */
	if (s->in_txn) {
		ls_warning("sqlite store %s: closed with a transaction open; rolling it back",
		           s->path);
		if (!sqlite3_get_autocommit(s->db))
			sq_exec_id(s, ST_ROLLBACK, "rolling back at close");
		s->in_txn = false;
		pthread_mutex_unlock(&s->lock);
	}
	sq_free(s);
}

/* ---------------------------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------------------------- */

static int
sq_begin(ls_store *store, bool write, ls_store_txn **out)
{
	sq_store *s = (sq_store *)store;
	int r;

	if ((r = sq_lock(s)) != LS_OK)
		return r;
	r = sq_exec_id(s, write ? ST_BEGIN_WRITE : ST_BEGIN_READ, "starting a transaction");
	if (r != LS_OK) {
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	s->in_txn = true;
	s->owner = pthread_self();
	s->txn.write = write;
	*out = &s->txn;
	return LS_OK;
}

static void
sq_end(sq_store *s)
{
	s->in_txn = false;
	pthread_mutex_unlock(&s->lock);
}

static int
sq_check_txn(sq_store *s)
{
	if (!s->in_txn || !pthread_equal(s->owner, pthread_self())) {
		ls_warning("sqlite store %s: call on an ended transaction or from another thread",
		           s->path);
		return LS_ERR_STATE;
	}
	return LS_OK;
}

static void
sq_rollback(ls_store_txn *txn)
{
	sq_store *s = sq_of_txn(txn);

	if (sq_check_txn(s) != LS_OK)
		return;
	/* SQLite may have rolled back already (a failed write on a full disk, say). */
	if (!sqlite3_get_autocommit(s->db))
		sq_exec_id(s, ST_ROLLBACK, "rolling back");
	sq_end(s);
}

static int
sq_commit(ls_store_txn *txn)
{
	sq_store *s = sq_of_txn(txn);
	int r;

	if ((r = sq_check_txn(s)) != LS_OK)
		return r;
	if (sqlite3_get_autocommit(s->db)) {
		/* An error inside the transaction made SQLite roll it back: nothing to commit. */
		ls_warning("sqlite store %s: commit after the transaction was rolled back",
		           s->path);
		r = LS_ERR_IO;
	} else {
		r = sq_exec_id(s, ST_COMMIT, "committing");
		if (r != LS_OK && !sqlite3_get_autocommit(s->db))
			sq_exec_id(s, ST_ROLLBACK, "rolling back a failed commit");
	}
	sq_end(s);
	return r;
}

static int
sq_schema_version(ls_store_txn *txn, uint32_t *version)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_SCHEMA_VERSION, &st)) != LS_OK)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sqlite3_int64 v = sqlite3_column_int64(st, 0);

		*version = v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
		r = LS_OK;
	} else {
		r = sq_error(s, rc, "reading the schema version");
	}
	sq_done(st);
	return r;
}

/* Collects the rows of a check PRAGMA; any row other than a single "ok" is a finding. */
static int
sq_check_pragma(sq_store *s, const char *sql, bool ok_row)
{
	sqlite3_stmt *st = NULL;
	int rc, r = LS_OK, rows = 0;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_error(s, rc, sql);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		rows++;
		if (ok_row && rows == 1 && t != NULL && strcmp((const char *)t, "ok") == 0)
			continue;
		if (rows <= 20)
			ls_warning("sqlite store %s: %s: %s", s->path, sql,
			           t != NULL ? (const char *)t : "(row)");
		r = LS_ERR_MALFORMED;
	}
	if (rc != SQLITE_DONE)
		r = sq_error(s, rc, sql);
	else if (ok_row && rows == 0)
		r = LS_ERR_MALFORMED;
	sqlite3_finalize(st);
	return r;
}

static int
sq_check_integrity(ls_store *store)
{
	sq_store *s = (sq_store *)store;
	int r;

	if ((r = sq_lock(s)) != LS_OK)
		return r;
	r = sq_check_pragma(s, "PRAGMA integrity_check", true);
	if (r == LS_OK)
		r = sq_check_pragma(s, "PRAGMA foreign_key_check", false);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---------------------------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------------------------- */

static int
bind_token(sqlite3_stmt *st, const ls_store_token *tok)
{
	int rc;

	rc = sqlite3_bind_blob(st, 2, tok->label, LS_STORE_LABEL_SIZE, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(st, 3, tok->serial, LS_STORE_SERIAL_SIZE, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = bind_u64(st, 4, tok->flags);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 5, tok->user_failures);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 6, tok->so_failures);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 7, tok->format_version);
	/* An unset wrap is NULL in the table. */
	if (rc == SQLITE_OK)
		rc = tok->user_wrap_len == 0 ? sqlite3_bind_null(st, 8)
		                             : bind_blob(st, 8, tok->user_wrap, tok->user_wrap_len);
	if (rc == SQLITE_OK)
		rc = tok->so_wrap_len == 0 ? sqlite3_bind_null(st, 9)
		                           : bind_blob(st, 9, tok->so_wrap, tok->so_wrap_len);
	return rc;
}

static bool
column_u32(sqlite3_stmt *st, int col, uint32_t *v)
{
	sqlite3_int64 x = sqlite3_column_int64(st, col);

	if (sqlite3_column_type(st, col) != SQLITE_INTEGER || x < 0 || x > UINT32_MAX)
		return false;
	*v = (uint32_t)x;
	return true;
}

static bool
column_fixed(sqlite3_stmt *st, int col, uint8_t *out, size_t size)
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	if (p == NULL || n < 0 || (size_t)n != size)
		return false;
	memcpy(out, p, size);
	return true;
}

/* A wrap column: NULL is "not set", otherwise at most LS_STORE_WRAP_MAX bytes. */
static bool
column_wrap(sqlite3_stmt *st, int col, uint8_t *out, size_t *len)
{
	const void *p;
	int n;

	*len = 0;
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return true;
	p = sqlite3_column_blob(st, col);
	n = sqlite3_column_bytes(st, col);
	if (p == NULL || n <= 0 || n > LS_STORE_WRAP_MAX)
		return false;
	memcpy(out, p, (size_t)n);
	*len = (size_t)n;
	return true;
}

static int
read_token(sq_store *s, sqlite3_stmt *st, ls_store_token *tok)
{
	memset(tok, 0, sizeof(*tok));
	tok->id = (uint64_t)sqlite3_column_int64(st, 0);
	tok->flags = (uint64_t)sqlite3_column_int64(st, 3);
	if (!column_fixed(st, 1, tok->label, LS_STORE_LABEL_SIZE) ||
	    !column_fixed(st, 2, tok->serial, LS_STORE_SERIAL_SIZE) ||
	    !column_u32(st, 4, &tok->user_failures) || !column_u32(st, 5, &tok->so_failures) ||
	    !column_u32(st, 6, &tok->format_version) ||
	    !column_wrap(st, 7, tok->user_wrap, &tok->user_wrap_len) ||
	    !column_wrap(st, 8, tok->so_wrap, &tok->so_wrap_len)) {
		ls_warning("sqlite store %s: token %llu has a malformed column", s->path,
		           (unsigned long long)tok->id);
		ls_wipe(tok, sizeof(*tok));
		return LS_ERR_MALFORMED;
	}
	return LS_OK;
}

static int
sq_token_create(ls_store_txn *txn, const ls_store_token *tok, uint64_t *id)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_TOKEN_INSERT, &st)) != LS_OK)
		return r;
	rc = bind_token(st, tok);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = (uint64_t)sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	r = rc == SQLITE_DONE ? LS_OK : sq_error(s, rc, "creating a token");
	sq_done(st);
	if (r != LS_OK)
		*id = 0;
	return r;
}

static int
sq_token_get(ls_store_txn *txn, uint64_t token_id, ls_store_token *out)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_TOKEN_GET, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, token_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = read_token(s, st, out);
	else if (rc == SQLITE_DONE)
		r = LS_ERR_NOT_FOUND;
	else
		r = sq_error(s, rc, "reading a token");
	sq_done(st);
	return r;
}

/* Runs a statement with parameter 1 (and 2) bound to ids; *@changed = rows it changed. */
static int
sq_change(sq_store *s, sqlite3_stmt *st, const char *what, int *changed)
{
	int r;

	*changed = 0;
	if ((r = sq_exec(s, st, what)) != LS_OK)
		return r;
	*changed = sqlite3_changes(s->db);
	return LS_OK;
}

static int
sq_token_update(ls_store_txn *txn, const ls_store_token *tok)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int rc, r, changed;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_TOKEN_UPDATE, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, tok->id);
	if (rc == SQLITE_OK)
		rc = bind_token(st, tok);
	if (rc != SQLITE_OK) {
		sq_done(st);
		return sq_error(s, rc, "binding a token");
	}
	if ((r = sq_change(s, st, "updating a token", &changed)) != LS_OK)
		return r;
	return changed == 1 ? LS_OK : LS_ERR_NOT_FOUND;
}

static int
sq_token_delete(ls_store_txn *txn, uint64_t token_id)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int rc, r, changed;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_TOKEN_DELETE, &st)) != LS_OK)
		return r;
	if ((rc = bind_u64(st, 1, token_id)) != SQLITE_OK) {
		sq_done(st);
		return sq_error(s, rc, "binding a token id");
	}
	if ((r = sq_change(s, st, "deleting a token", &changed)) != LS_OK)
		return r;
	return changed == 1 ? LS_OK : LS_ERR_NOT_FOUND;
}

static int
sq_token_list(ls_store_txn *txn, ls_store_token_cb cb, void *ctx)
{
	sq_store *s = sq_of_txn(txn);
	ls_store_token tok;
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_TOKEN_LIST, &st)) != LS_OK)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = read_token(s, st, &tok)) != LS_OK)
			break;
		r = cb(ctx, &tok);
		if (r != LS_OK)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = sq_error(s, rc, "listing tokens");
	sq_done(st);
	ls_wipe(&tok, sizeof(tok));
	return r > 0 ? LS_OK : r;
}

/* ---------------------------------------------------------------------------------------------
 * Objects
 * ------------------------------------------------------------------------------------------- */

static int
sq_token_exists(sq_store *s, uint64_t token_id)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_stmt(s, ST_TOKEN_EXISTS, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, token_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = LS_OK;
	else if (rc == SQLITE_DONE)
		r = LS_ERR_NOT_FOUND;
	else
		r = sq_error(s, rc, "looking up a token");
	sq_done(st);
	return r;
}

static int
sq_object_id_new(ls_store_txn *txn, uint64_t token_id, uint64_t *id)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	sqlite3_int64 v = 0;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_token_exists(s, token_id)) != LS_OK ||
	    (r = sq_stmt(s, ST_OBJECT_ID_NEXT, &st)) != LS_OK)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		v = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		r = sq_error(s, rc, "taking an object id");
	else if (v <= 0)
		r = LS_ERR_MALFORMED; /* the counter row is missing or wrapped */
	sq_done(st);
	if (r == LS_OK)
		*id = (uint64_t)v;
	return r;
}

static int
sq_object_put(ls_store_txn *txn, uint64_t token_id, const ls_store_object *obj)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int rc, r, changed;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_OBJECT_PUT, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, obj->id);
	if (rc == SQLITE_OK)
		rc = bind_u64(st, 2, token_id);
	if (rc == SQLITE_OK)
		rc = bind_u64(st, 3, obj->cls);
	if (rc == SQLITE_OK)
		rc = obj->key_type == LS_STORE_NO_KEY_TYPE ? sqlite3_bind_null(st, 4)
		                                          : bind_u64(st, 4, obj->key_type);
	if (rc == SQLITE_OK)
		rc = bind_blob(st, 5, obj->ck_id, obj->ck_id_len);
	if (rc == SQLITE_OK)
		rc = bind_blob(st, 6, obj->label, obj->label_len);
	if (rc == SQLITE_OK)
		rc = bind_blob(st, 7, obj->attrs, obj->attrs_len);
	if (rc != SQLITE_OK) {
		sq_done(st);
		return sq_error(s, rc, "binding an object");
	}
	if ((r = sq_change(s, st, "writing an object", &changed)) != LS_OK)
		return r;
	return changed == 1 ? LS_OK : LS_ERR_NOT_FOUND;
}

/* Fills @obj from the current row, pointing into SQLite's memory (valid until the next step). */
static int
borrow_object(sq_store *s, sqlite3_stmt *st, ls_store_object *obj)
{
	memset(obj, 0, sizeof(*obj));
	obj->id = (uint64_t)sqlite3_column_int64(st, 0);
	obj->cls = (uint64_t)sqlite3_column_int64(st, 1);
	obj->key_type = sqlite3_column_type(st, 2) == SQLITE_NULL
	                        ? LS_STORE_NO_KEY_TYPE
	                        : (uint64_t)sqlite3_column_int64(st, 2);
	/* Blob before bytes, as SQLite's documentation asks; a zero-length blob is NULL. */
	obj->ck_id = (uint8_t *)sqlite3_column_blob(st, 3);
	obj->ck_id_len = (size_t)sqlite3_column_bytes(st, 3);
	obj->label = (uint8_t *)sqlite3_column_blob(st, 4);
	obj->label_len = (size_t)sqlite3_column_bytes(st, 4);
	obj->attrs = (uint8_t *)sqlite3_column_blob(st, 5);
	obj->attrs_len = (size_t)sqlite3_column_bytes(st, 5);
	if ((obj->ck_id == NULL && obj->ck_id_len != 0) ||
	    (obj->label == NULL && obj->label_len != 0) ||
	    (obj->attrs == NULL && obj->attrs_len != 0)) {
		if (sqlite3_errcode(s->db) == SQLITE_NOMEM)
			return LS_ERR_NOMEM;
		return LS_ERR_MALFORMED;
	}
	if (obj->ck_id_len > LS_STORE_CKA_ID_MAX || obj->label_len > LS_STORE_LABEL_MAX ||
	    obj->attrs_len > LS_STORE_ATTRS_MAX) {
		ls_warning("sqlite store %s: object %llu has an oversized column", s->path,
		           (unsigned long long)obj->id);
		return LS_ERR_MALFORMED;
	}
	return LS_OK;
}

static int
dup_bytes(const uint8_t *p, size_t len, uint8_t **out)
{
	*out = NULL;
	if (len == 0)
		return LS_OK;
	if ((*out = malloc(len)) == NULL)
		return LS_ERR_NOMEM;
	memcpy(*out, p, len);
	return LS_OK;
}

static int
sq_object_get(ls_store_txn *txn, uint64_t token_id, uint64_t object_id, ls_store_object *out)
{
	sq_store *s = sq_of_txn(txn);
	ls_store_object b, o = { 0 };
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_OBJECT_GET, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, token_id);
	if (rc == SQLITE_OK)
		rc = bind_u64(st, 2, object_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = LS_ERR_NOT_FOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = sq_error(s, rc, "reading an object");
		goto out;
	}
	if ((r = borrow_object(s, st, &b)) != LS_OK)
		goto out;
	o.id = b.id;
	o.cls = b.cls;
	o.key_type = b.key_type;
	o.ck_id_len = b.ck_id_len;
	o.label_len = b.label_len;
	o.attrs_len = b.attrs_len;
	if ((r = dup_bytes(b.ck_id, b.ck_id_len, &o.ck_id)) != LS_OK ||
	    (r = dup_bytes(b.label, b.label_len, &o.label)) != LS_OK ||
	    (r = dup_bytes(b.attrs, b.attrs_len, &o.attrs)) != LS_OK)
		goto out;
	*out = o;
	memset(&o, 0, sizeof(o));
out:
	sq_done(st);
	ls_store_object_clear(&o);
	return r;
}

static int
sq_object_delete(ls_store_txn *txn, uint64_t token_id, uint64_t object_id)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int rc, r, changed;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_OBJECT_DELETE, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, token_id);
	if (rc == SQLITE_OK)
		rc = bind_u64(st, 2, object_id);
	if (rc != SQLITE_OK) {
		sq_done(st);
		return sq_error(s, rc, "binding an object id");
	}
	if ((r = sq_change(s, st, "deleting an object", &changed)) != LS_OK)
		return r;
	return changed == 1 ? LS_OK : LS_ERR_NOT_FOUND;
}

static int
bind_query(sqlite3_stmt *st, uint64_t token_id, const ls_store_query *q)
{
	int rc = bind_u64(st, 1, token_id);

	if (rc == SQLITE_OK && (q->fields & LS_STORE_Q_CLASS))
		rc = bind_u64(st, 2, q->cls);
	if (rc == SQLITE_OK && (q->fields & LS_STORE_Q_KEY_TYPE))
		rc = q->key_type == LS_STORE_NO_KEY_TYPE ? sqlite3_bind_null(st, 3)
		                                        : bind_u64(st, 3, q->key_type);
	if (rc == SQLITE_OK && (q->fields & LS_STORE_Q_CKA_ID))
		rc = bind_blob(st, 4, q->ck_id, q->ck_id_len);
	if (rc == SQLITE_OK && (q->fields & LS_STORE_Q_LABEL))
		rc = bind_blob(st, 5, q->label, q->label_len);
	return rc;
}

static int
sq_object_find(ls_store_txn *txn, uint64_t token_id, const ls_store_query *q,
               ls_store_object_cb cb, void *ctx)
{
	sq_store *s = sq_of_txn(txn);
	ls_store_object obj;
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_find_stmt(s, q->fields, &st)) != LS_OK)
		return r;
	if ((rc = bind_query(st, token_id, q)) != SQLITE_OK) {
		sq_done(st);
		return sq_error(s, rc, "binding a query");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = borrow_object(s, st, &obj)) != LS_OK)
			break;
		if ((r = cb(ctx, &obj)) != LS_OK)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = sq_error(s, rc, "finding objects");
	sq_done(st);
	return r > 0 ? LS_OK : r;
}

static int
sq_object_count(ls_store_txn *txn, uint64_t token_id, uint64_t *count)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_OBJECT_COUNT, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, token_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*count = (uint64_t)sqlite3_column_int64(st, 0);
		r = LS_OK;
	} else {
		r = sq_error(s, rc, "counting objects");
	}
	sq_done(st);
	return r;
}

/* ---------------------------------------------------------------------------------------------
 * Accounts and the audit log
 * ------------------------------------------------------------------------------------------- */

static int64_t
now_seconds(void)
{
	return (int64_t)time(NULL);
}

/* Binds parameters 2..13 of ST_ACCOUNT_INSERT / ST_ACCOUNT_UPDATE. */
static int
bind_account(sqlite3_stmt *st, const ls_store_account *a)
{
	int rc;

	rc = sqlite3_bind_text(st, 2, a->nickname, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(st, 3, a->verifier, LS_STORE_VERIFIER_SIZE, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, a->state);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 5, a->c1);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 6, a->c2);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 7, a->c3);
	if (rc == SQLITE_OK)
		rc = bind_u64(st, 8, a->token_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 9, a->created_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 10, a->updated_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 11, a->password_changed_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 12, a->last_login_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 13, a->last_login_from, -1, SQLITE_STATIC);
	return rc;
}

/* Copies a text column of at most @max bytes into @out (@max + 1 bytes). */
static bool
column_text(sqlite3_stmt *st, int col, char *out, size_t max)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);

	out[0] = '\0';
	if (t == NULL)
		return n == 0 && sqlite3_column_type(st, col) != SQLITE_NULL;
	if (n < 0 || (size_t)n > max || memchr(t, '\0', (size_t)n) != NULL)
		return false;
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
	return true;
}

static int
read_account(sq_store *s, sqlite3_stmt *st, ls_store_account *a)
{
	memset(a, 0, sizeof(*a));
	a->id = (uint64_t)sqlite3_column_int64(st, 0);
	a->token_id = (uint64_t)sqlite3_column_int64(st, 7);
	a->created_at = sqlite3_column_int64(st, 8);
	a->updated_at = sqlite3_column_int64(st, 9);
	a->password_changed_at = sqlite3_column_int64(st, 10);
	a->last_login_at = sqlite3_column_int64(st, 11);
	if (!column_text(st, 1, a->nickname, LS_STORE_NICK_MAX) || a->nickname[0] == '\0' ||
	    !column_text(st, 12, a->last_login_from, LS_STORE_AUDIT_SOURCE_MAX) ||
	    !column_fixed(st, 2, a->verifier, LS_STORE_VERIFIER_SIZE) ||
	    !column_u32(st, 3, &a->state) || !column_u32(st, 4, &a->c1) ||
	    !column_u32(st, 5, &a->c2) || !column_u32(st, 6, &a->c3)) {
		ls_warning("sqlite store %s: account %llu has a malformed column", s->path,
		           (unsigned long long)a->id);
		ls_wipe(a, sizeof(*a));
		return LS_ERR_MALFORMED;
	}
	return LS_OK;
}

/* Runs a statement that selects at most one account (parameter 1 bound by the caller). */
static int
sq_account_one(sq_store *s, sqlite3_stmt *st, int rc, ls_store_account *out, const char *what)
{
	int r;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = read_account(s, st, out);
	else if (rc == SQLITE_DONE)
		r = LS_ERR_NOT_FOUND;
	else
		r = sq_error(s, rc, what);
	sq_done(st);
	return r;
}

static int
sq_account_get(ls_store_txn *txn, uint64_t account_id, ls_store_account *out)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_ACCOUNT_GET, &st)) != LS_OK)
		return r;
	return sq_account_one(s, st, bind_u64(st, 1, account_id), out, "reading an account");
}

static int
sq_account_find(ls_store_txn *txn, const char *nickname, ls_store_account *out)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_ACCOUNT_FIND, &st)) != LS_OK)
		return r;
	return sq_account_one(s, st, sqlite3_bind_text(st, 1, nickname, -1, SQLITE_STATIC), out,
	                      "looking up an account");
}

static int
sq_account_create(ls_store_txn *txn, const ls_store_account *acct, uint64_t *id)
{
	sq_store *s = sq_of_txn(txn);
	ls_store_account a = *acct, existing;
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK)
		goto out;
	r = sq_account_find(txn, a.nickname, &existing);
	ls_wipe(&existing, sizeof(existing));
	if (r == LS_OK) {
		r = LS_ERR_STATE;
		goto out;
	}
	if (r != LS_ERR_NOT_FOUND || (r = sq_token_exists(s, a.token_id)) != LS_OK ||
	    (r = sq_stmt(s, ST_ACCOUNT_INSERT, &st)) != LS_OK)
		goto out;
	if (a.created_at == 0)
		a.created_at = now_seconds();
	if (a.updated_at == 0)
		a.updated_at = a.created_at;
	if (a.password_changed_at == 0)
		a.password_changed_at = a.created_at;
	rc = bind_account(st, &a);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = (uint64_t)sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	r = rc == SQLITE_DONE ? LS_OK : sq_error(s, rc, "creating an account");
	sq_done(st);
	if (r != LS_OK)
		*id = 0;
out:
	ls_wipe(&a, sizeof(a));
	return r;
}

static int
sq_account_update(ls_store_txn *txn, const ls_store_account *acct)
{
	sq_store *s = sq_of_txn(txn);
	ls_store_account a = *acct;
	sqlite3_stmt *st = NULL;
	int rc, r, changed = 0;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_token_exists(s, a.token_id)) != LS_OK ||
	    (r = sq_stmt(s, ST_ACCOUNT_UPDATE, &st)) != LS_OK)
		goto out;
	if (a.updated_at == 0)
		a.updated_at = now_seconds();
	rc = bind_u64(st, 1, a.id);
	if (rc == SQLITE_OK)
		rc = bind_account(st, &a);
	if (rc != SQLITE_OK) {
		sq_done(st);
		r = sq_error(s, rc, "binding an account");
		goto out;
	}
	if ((r = sq_change(s, st, "updating an account", &changed)) == LS_OK && changed != 1)
		r = LS_ERR_NOT_FOUND;
out:
	ls_wipe(&a, sizeof(a));
	return r;
}

static int
sq_account_delete(ls_store_txn *txn, uint64_t account_id)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	sqlite3_int64 token_id = 0;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_ACCOUNT_DELETE, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, account_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		token_id = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
		r = rc == SQLITE_DONE ? LS_OK : sq_error(s, rc, "deleting an account");
	} else if (rc == SQLITE_DONE) {
		r = LS_ERR_NOT_FOUND;
	} else {
		r = sq_error(s, rc, "deleting an account");
	}
	sq_done(st);
	if (r != LS_OK)
		return r;
	/* The audit rows went with the account (cascade); the token and its objects go now. */
	r = sq_token_delete(txn, (uint64_t)token_id);
	return r == LS_ERR_NOT_FOUND ? LS_ERR_MALFORMED : r;
}

static int
sq_account_list(ls_store_txn *txn, ls_store_account_cb cb, void *ctx)
{
	sq_store *s = sq_of_txn(txn);
	ls_store_account a;
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_ACCOUNT_LIST, &st)) != LS_OK)
		return r;
	memset(&a, 0, sizeof(a));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = read_account(s, st, &a)) != LS_OK)
			break;
		if ((r = cb(ctx, &a)) != LS_OK)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = sq_error(s, rc, "listing accounts");
	sq_done(st);
	ls_wipe(&a, sizeof(a));
	return r > 0 ? LS_OK : r;
}

static int
sq_account_exists(sq_store *s, uint64_t account_id)
{
	ls_store_account a;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = sq_stmt(s, ST_ACCOUNT_GET, &st)) != LS_OK)
		return r;
	r = sq_account_one(s, st, bind_u64(st, 1, account_id), &a, "looking up an account");
	ls_wipe(&a, sizeof(a));
	return r;
}

static int
sq_audit_append(ls_store_txn *txn, uint64_t account_id, const ls_store_audit *row, uint64_t *id)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int rc, r, changed;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_account_exists(s, account_id)) != LS_OK ||
	    (r = sq_stmt(s, ST_AUDIT_INSERT, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, account_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, row->at != 0 ? row->at : now_seconds());
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 3, row->event, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = bind_u64(st, 4, row->count);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 5, row->source, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 6, row->detail, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = (uint64_t)sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	r = rc == SQLITE_DONE ? LS_OK : sq_error(s, rc, "appending an audit row");
	sq_done(st);
	if (r != LS_OK) {
		*id = 0;
		return r;
	}
	/* Trim the oldest rows now and then: the subquery walks LS_STORE_AUDIT_KEEP index rows. */
	if (*id % 64 != 0)
		return LS_OK;
	if ((r = sq_stmt(s, ST_AUDIT_PRUNE, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, account_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, LS_STORE_AUDIT_KEEP);
	if (rc != SQLITE_OK) {
		sq_done(st);
		return sq_error(s, rc, "binding the audit trim");
	}
	return sq_change(s, st, "trimming the audit log", &changed);
}

static int
sq_audit_list(ls_store_txn *txn, uint64_t account_id, uint64_t first_id, uint32_t limit,
              ls_store_audit_cb cb, void *ctx)
{
	sq_store *s = sq_of_txn(txn);
	ls_store_audit row;
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_AUDIT_LIST, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, account_id);
	if (first_id > INT64_MAX) /* no row has such an id */
		first_id = INT64_MAX;
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, (int64_t)first_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, limit);
	if (rc != SQLITE_OK) {
		sq_done(st);
		return sq_error(s, rc, "binding an audit query");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		row.id = (uint64_t)sqlite3_column_int64(st, 0);
		row.at = sqlite3_column_int64(st, 1);
		row.count = (uint64_t)sqlite3_column_int64(st, 3);
		if (!column_text(st, 2, row.event, LS_STORE_AUDIT_EVENT_MAX) ||
		    !column_text(st, 4, row.source, LS_STORE_AUDIT_SOURCE_MAX) ||
		    !column_text(st, 5, row.detail, LS_STORE_AUDIT_DETAIL_MAX)) {
			ls_warning("sqlite store %s: audit row %llu has a malformed column",
			           s->path, (unsigned long long)row.id);
			r = LS_ERR_MALFORMED;
			break;
		}
		if ((r = cb(ctx, &row)) != LS_OK)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = sq_error(s, rc, "listing the audit log");
	sq_done(st);
	return r > 0 ? LS_OK : r;
}

static int
sq_audit_count(ls_store_txn *txn, uint64_t account_id, uint64_t *count)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int rc, r;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_AUDIT_COUNT, &st)) != LS_OK)
		return r;
	rc = bind_u64(st, 1, account_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*count = (uint64_t)sqlite3_column_int64(st, 0);
		r = LS_OK;
	} else {
		r = sq_error(s, rc, "counting audit rows");
	}
	sq_done(st);
	return r;
}

/* ---------------------------------------------------------------------------------------------
 * Settings
 * ------------------------------------------------------------------------------------------- */

static int
sq_setting_get(ls_store_txn *txn, const char *name, char *value, size_t size)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	const unsigned char *text;
	int rc, r, n;

	if ((r = sq_check_txn(s)) != LS_OK || (r = sq_stmt(s, ST_SETTING_GET, &st)) != LS_OK)
		return r;
	rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		text = sqlite3_column_text(st, 0);
		n = sqlite3_column_bytes(st, 0);
		if (text == NULL || n < 0 || n > LS_STORE_SETTING_VALUE_MAX ||
		    memchr(text, '\0', (size_t)n) != NULL) {
			ls_warning("sqlite store %s: the setting '%s' has a malformed value",
			           s->path, name);
			r = LS_ERR_MALFORMED;
		} else if ((size_t)n >= size) {
			r = LS_ERR_BAD_LENGTH;
		} else {
			memcpy(value, text, (size_t)n);
			value[n] = '\0';
			r = LS_OK;
		}
	} else if (rc == SQLITE_DONE) {
		r = LS_ERR_NOT_FOUND;
	} else {
		r = sq_error(s, rc, "reading a setting");
	}
	sq_done(st);
	return r;
}

static int
sq_setting_set(ls_store_txn *txn, const char *name, const char *value)
{
	sq_store *s = sq_of_txn(txn);
	sqlite3_stmt *st = NULL;
	int rc, r, changed;

	if ((r = sq_check_txn(s)) != LS_OK ||
	    (r = sq_stmt(s, value != NULL ? ST_SETTING_SET : ST_SETTING_DELETE, &st)) != LS_OK)
		return r;
	rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && value != NULL)
		rc = sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && value != NULL)
		rc = sqlite3_bind_int64(st, 3, now_seconds());
	if (rc != SQLITE_OK) {
		sq_done(st);
		return sq_error(s, rc, "binding a setting");
	}
	return sq_change(s, st, value != NULL ? "writing a setting" : "removing a setting",
	                 &changed);
}

/* ---------------------------------------------------------------------------------------------
 * Diagnostics
 * ------------------------------------------------------------------------------------------- */

int
ls_store_sqlite_data_version(ls_store *store, uint64_t *version)
{
	sq_store *s = (sq_store *)store;
	int64_t v = 0;
	int r;

	ls_return_val_if_fail(store != NULL && store->ops == &sq_ops, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(version != NULL, LS_ERR_INVALID_ARG);
	*version = 0;
	if ((r = sq_lock(s)) != LS_OK)
		return r;
	r = sq_pragma(s, "PRAGMA data_version", &v, NULL, 0);
	pthread_mutex_unlock(&s->lock);
	*version = (uint64_t)v;
	return r;
}

int
ls_store_sqlite_query_plan(ls_store *store, const ls_store_query *q, char *buf, size_t size)
{
	sq_store *s = (sq_store *)store;
	char sql[600];
	sqlite3_stmt *st = NULL;
	size_t used = 0;
	int rc, r = LS_OK;

	ls_return_val_if_fail(store != NULL && store->ops == &sq_ops, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(q != NULL && (q->fields & ~(unsigned)LS_STORE_Q_ALL) == 0,
	                      LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(buf != NULL && size > 0, LS_ERR_INVALID_ARG);
	buf[0] = '\0';
	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN ");
	find_sql(q->fields, sql + strlen(sql), sizeof(sql) - strlen(sql));

	if ((r = sq_lock(s)) != LS_OK)
		return r;
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		r = sq_error(s, rc, "preparing EXPLAIN QUERY PLAN");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *detail = sqlite3_column_text(st, 3);
		int n = snprintf(buf + used, size - used, "%s%s", used > 0 ? "\n" : "",
		                 detail != NULL ? (const char *)detail : "");

		if (n < 0 || (size_t)n >= size - used) {
			used = size - 1;
			break;
		}
		used += (size_t)n;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = sq_error(s, rc, "EXPLAIN QUERY PLAN");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int
ls_store_sqlite_setting(ls_store *store, const char *name, int64_t *value)
{
	static const struct {
		const char *name;
		const char *sql;
	} settings[] = {
		{ "synchronous", "PRAGMA synchronous" },
		{ "foreign_keys", "PRAGMA foreign_keys" },
		{ "busy_timeout", "PRAGMA busy_timeout" },
		{ "secure_delete", "PRAGMA secure_delete" },
		{ "application_id", "PRAGMA application_id" },
	};
	sq_store *s = (sq_store *)store;
	size_t i;
	int r;

	ls_return_val_if_fail(store != NULL && store->ops == &sq_ops, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(name != NULL && value != NULL, LS_ERR_INVALID_ARG);
	*value = 0;
	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		if (strcmp(settings[i].name, name) == 0)
			break;
	}
	if (i == sizeof(settings) / sizeof(settings[0]))
		return LS_ERR_INVALID_ARG;
	if ((r = sq_lock(s)) != LS_OK)
		return r;
	r = sq_pragma(s, settings[i].sql, value, NULL, 0);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static const ls_store_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.schema_version = sq_schema_version,
	.check_integrity = sq_check_integrity,
	.token_create = sq_token_create,
	.token_get = sq_token_get,
	.token_update = sq_token_update,
	.token_delete = sq_token_delete,
	.token_list = sq_token_list,
	.object_id_new = sq_object_id_new,
	.object_put = sq_object_put,
	.object_get = sq_object_get,
	.object_delete = sq_object_delete,
	.object_find = sq_object_find,
	.object_count = sq_object_count,
	.account_create = sq_account_create,
	.account_get = sq_account_get,
	.account_find = sq_account_find,
	.account_update = sq_account_update,
	.account_delete = sq_account_delete,
	.account_list = sq_account_list,
	.audit_append = sq_audit_append,
	.audit_list = sq_audit_list,
	.audit_count = sq_audit_count,
	.setting_get = sq_setting_get,
	.setting_set = sq_setting_set,
};
