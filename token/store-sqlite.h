/*
 * LS11CLOUD - the SQLite backend of the token store (token/store.h).
 *
 * Durability: WAL journal, synchronous=FULL: when ls_store_commit() returns LS_OK the change is
 * in the WAL file and fsync'ed, so it survives a kill -9 of the process and a power cut.
 *
 * Thread model: one handle is one SQLite connection, guarded by one mutex.  ls_store_begin()
 * takes the mutex and the transaction holds it until commit or rollback, so a handle may be
 * shared by many threads: they take turns, one transaction at a time.  For reads that run side
 * by side, open more handles on the same file (WAL lets readers and one writer work at once; a
 * writer waits for another handle's or process's write for at most the busy timeout).  A handle
 * must not be used in a child after fork(): the child opens its own.
 *
 * Safety against SQL injection by construction: every statement is a constant string of this
 * file (find's WHERE clause is assembled from constant fragments only), and every value reaches
 * SQLite as a bound parameter.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TOKEN_STORE_SQLITE_H
#define LS11_TOKEN_STORE_SQLITE_H

#include <stdint.h>

#include "store.h"

/* The schema this code writes; migrations bring older databases up to it at open. */
#define LS_STORE_SQLITE_SCHEMA_VERSION 3

/* 'LS11' in PRAGMA application_id: marks the file as ours. */
#define LS_STORE_SQLITE_APPLICATION_ID 0x4c533131

#define LS_STORE_SQLITE_DEFAULT_BUSY_TIMEOUT_MS 5000

typedef struct {
	/* Create the database file when it does not exist (otherwise LS_ERR_NOT_FOUND). */
	bool create;
	/* How long to wait for another connection's write lock; 0 = the default. */
	unsigned busy_timeout_ms;
} ls_store_sqlite_options;

/*
 * Opens (and with @opts->create, creates) the store at @path, applies pending schema
 * migrations, and returns a handle in *@out (only on success).  @opts NULL = create, default
 * timeout.  Errors: LS_ERR_NOT_FOUND (no file and !create), LS_ERR_MALFORMED (not an LS11CLOUD
 * store, or corrupt), LS_ERR_UNSUPPORTED (schema newer than this code), LS_ERR_TIMEOUT,
 * LS_ERR_IO.  Blocking (file I/O).
 */
int ls_store_sqlite_open(const char *path, const ls_store_sqlite_options *opts, ls_store **out);

/*
 * Diagnostics for tests and the admin tool.
 *
 * ls_store_sqlite_query_plan() writes the EXPLAIN QUERY PLAN of the exact statement
 * ls_store_object_find() runs for @q (one line per plan step, NUL-terminated, truncated to
 * @size) into @buf.
 *
 * ls_store_sqlite_setting() reads one of the connection settings this backend relies on:
 * "synchronous" (2 = FULL), "foreign_keys" (1), "busy_timeout" (ms), "secure_delete" (1),
 * "application_id".  Any other name gives LS_ERR_INVALID_ARG (names never reach SQL).
 */
int ls_store_sqlite_query_plan(ls_store *store, const ls_store_query *q, char *buf, size_t size);
int ls_store_sqlite_setting(ls_store *store, const char *name, int64_t *value);

/*
 * SQLite's PRAGMA data_version of this handle: it changes when another connection (another
 * handle, another process such as ls11cloud-admin) commits to the database, and only then, so
 * a long-lived handle learns cheaply whether someone else wrote.  Not inside a transaction of
 * this thread (LS_ERR_STATE).
 */
int ls_store_sqlite_data_version(ls_store *store, uint64_t *version);

#endif /* LS11_TOKEN_STORE_SQLITE_H */
