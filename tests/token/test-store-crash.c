/*
 * Crash safety of the SQLite store: an acknowledged change survives kill -9.
 *
 * A child process writes in a loop, one transaction per step: a new object whose content is a
 * function of its id, and the token's failure counter set to the step number (the shape of the
 * PIN retry counter, whose loss on a crash would hand an attacker free guesses).  Only AFTER
 * ls_store_commit() returned does it report (object id, step) to the parent through a pipe.
 * The parent SIGKILLs the child after a random delay, about 30 times over the same database,
 * and after each kill reopens the store and checks that every reported object is there, intact,
 * that the counter is at least the last reported step, and that PRAGMA integrity_check is ok.
 *
 * What this does and does not prove: it kills the process, not the machine, so it proves that
 * the store never acknowledges a change it has not handed to the operating system and that
 * the file stays consistent when a writer dies at any point (in a commit, mid-WAL-append, in a
 * checkpoint).  That a commit is also on the disk when it returns rests on synchronous=FULL,
 * which test-store-sqlite.c checks is set.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store-sqlite.h"

#define REPETITIONS 30
#define MAX_REPORTS 100000

struct report {
	uint64_t object_id;
	uint64_t step;
};

static char dir[64];
static char path[128];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ls11-crash-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token.db", dir);
}

static void
teardown(void)
{
	char side[160];

	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	rmdir(dir);
}

TestSuite(crash, .init = setup, .fini = teardown);

/* The object content is derived from its id, so the parent can check every byte. */
static size_t
content_for(uint64_t id, uint8_t *buf, size_t size)
{
	size_t n = 32 + (size_t)(id * 7919 % 3000);
	uint64_t x = id * 0x9E3779B97F4A7C15ull + 1;

	if (n > size)
		n = size;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	return n;
}

static bool
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		b += w;
		n -= (size_t)w;
	}
	return true;
}

/* The child: write and report until killed.  Never returns. */
static void
child_writer(int fd, uint64_t token, uint64_t first_step)
{
	static uint8_t content[4096];
	ls_store *store = NULL;
	uint64_t step = first_step;

	if (ls_store_sqlite_open(path, NULL, &store) != LS_OK)
		_exit(2);
	/* A report with object id 0: "opened, writing from now on". */
	if (!write_all(fd, &(struct report){ 0, 0 }, sizeof(struct report)))
		_exit(2);
	for (;;) {
		ls_store_txn *txn;
		ls_store_token tok;
		ls_store_object o = { .cls = 3, .key_type = 0x30 };
		struct report rep;

		step++;
		if (ls_store_begin(store, true, &txn) != LS_OK)
			_exit(3);
		if (ls_store_object_id_new(txn, token, &o.id) != LS_OK)
			_exit(4);
		o.attrs = content;
		o.attrs_len = content_for(o.id, content, sizeof(content));
		o.ck_id = (uint8_t *)&o.id;
		o.ck_id_len = sizeof(o.id);
		if (ls_store_object_put(txn, token, &o) != LS_OK)
			_exit(5);
		if (ls_store_token_get(txn, token, &tok) != LS_OK)
			_exit(6);
		tok.user_failures = (uint32_t)step;
		if (ls_store_token_update(txn, &tok) != LS_OK)
			_exit(7);
		if (ls_store_commit(txn) != LS_OK)
			_exit(8);
		/* Acknowledged: only now does anyone learn about it. */
		rep.object_id = o.id;
		rep.step = step;
		if (!write_all(fd, &rep, sizeof(rep)))
			_exit(9);
	}
}

static size_t
read_reports(int fd, struct report *reps, size_t have, size_t cap)
{
	uint8_t *p = (uint8_t *)(reps + have);
	size_t got = 0, want = (cap - have) * sizeof(*reps);

	for (;;) {
		ssize_t n = read(fd, p + got, want - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == want)
			break;
	}
	/* A partial record is a write the kill interrupted: it was never fully reported. */
	got /= sizeof(*reps);
	/* Drop the "opened" markers. */
	for (size_t i = have; i < have + got;) {
		if (reps[i].object_id == 0) {
			memmove(&reps[i], &reps[i + 1], (have + got - i - 1) * sizeof(*reps));
			got--;
		} else {
			i++;
		}
	}
	return have + got;
}

static void
verify(uint64_t token, const struct report *reps, size_t n, uint64_t *last_step)
{
	static uint8_t want[4096];
	ls_store *store = NULL;
	ls_store_txn *txn;
	ls_store_token tok;
	sqlite3 *db;
	sqlite3_stmt *st;
	uint64_t max_step = 0;

	cr_assert_eq(ls_store_sqlite_open(path, NULL, &store), LS_OK, "the store reopens");
	cr_assert_eq(ls_store_check_integrity(store), LS_OK);
	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	for (size_t i = 0; i < n; i++) {
		ls_store_object o;
		size_t len = content_for(reps[i].object_id, want, sizeof(want));

		cr_assert_eq(ls_store_object_get(txn, token, reps[i].object_id, &o), LS_OK,
		             "reported object %llu (step %llu) is missing",
		             (unsigned long long)reps[i].object_id,
		             (unsigned long long)reps[i].step);
		cr_assert_eq(o.attrs_len, len);
		cr_assert_arr_eq(o.attrs, want, len, "object %llu is damaged",
		                 (unsigned long long)reps[i].object_id);
		ls_store_object_clear(&o);
		if (reps[i].step > max_step)
			max_step = reps[i].step;
	}
	cr_assert_eq(ls_store_token_get(txn, token, &tok), LS_OK);
	cr_assert_geq(tok.user_failures, max_step, "the counter went back from %llu to %u",
	              (unsigned long long)max_step, tok.user_failures);
	*last_step = tok.user_failures;
	ls_store_rollback(txn);
	ls_store_close(store);

	/* And SQLite's own opinion, from a plain connection. */
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

Test(crash, acknowledged_writes_survive_sigkill)
{
	struct report *reps = calloc(MAX_REPORTS, sizeof(*reps));
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	ls_store_token t = { .format_version = 1 };
	ls_store *store = NULL;
	ls_store_txn *txn;
	uint64_t token, last_step = 0;
	size_t total = 0;
	int kills_mid_write = 0;

	cr_assert_not_null(reps);
	cr_log_info("crash test seed %u", seed);
	srand(seed);

	memset(t.label, ' ', sizeof(t.label));
	memset(t.serial, ' ', sizeof(t.serial));
	cr_assert_eq(ls_store_sqlite_open(path, NULL, &store), LS_OK);
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_token_create(txn, &t, &token), LS_OK);
	cr_assert_eq(ls_store_commit(txn), LS_OK);
	ls_store_close(store);

	for (int rep = 0; rep < REPETITIONS; rep++) {
		size_t before = total;
		int fds[2], status;
		pid_t pid;

		cr_assert_eq(pipe(fds), 0);
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			child_writer(fds[1], token, last_step);
		}
		close(fds[1]);
		/*
		 * Two kills in three wait for the child's first acknowledged write and then 0-60 ms,
		 * landing mid-stream (in a commit, a WAL append, a checkpoint) however slowly a loaded
		 * machine lets the child start; the third counts 0-60 ms from the fork, so it may
		 * also land while the child opens the store.
		 */
		if (rep % 3 != 2) {
			struct report ready;

			cr_assert_eq(read(fds[0], &ready, sizeof(ready)), (ssize_t)sizeof(ready));
			cr_assert_eq(ready.object_id, 0);
			cr_assert_eq(read(fds[0], &reps[total], sizeof(reps[total])),
			             (ssize_t)sizeof(reps[total]));
			cr_assert_neq(reps[total].object_id, 0);
			total++;
		}
		usleep((useconds_t)(rand() % 60000));
		cr_assert_eq(kill(pid, SIGKILL), 0);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		          "the child stopped by itself (status 0x%x): it failed a store call",
		          status);
		total = read_reports(fds[0], reps, total, MAX_REPORTS);
		close(fds[0]);
		if (total > before)
			kills_mid_write++;

		verify(token, reps, total, &last_step);
	}
	/* At least two kills in three land mid-stream by construction (above). */
	cr_log_info("%zu acknowledged transactions over %d kills (%d while writing)", total,
	            REPETITIONS, kills_mid_write);
	free(reps);
}
