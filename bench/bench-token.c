/*
 * Benchmark of the local module libls11token.so, used the way an application uses it: dlopen(),
 * C_GetFunctionList, and calls through the function list.  Each figure has a baseline measured
 * in the same run:
 *
 *  - sign: C_SignInit + C_Sign with the raw mechanism (CKM_GOSTR3410 / CKM_GOSTR3410_512) on a
 *    digest, per parameter set (tc26-256-A, cp-A, tc26-512-A, tc26-512-C), against
 *    ls_gost_sign_digest() of core/ on the SAME key (the private key is created in the token
 *    with C_CreateObject from the scalar of a core key).  Best of 3 alternating rounds of ~0.3 s,
 *    rate over the thread's CPU time (as bench-sign.c).  Goal: ratio >= 0.9.
 *  - find: C_FindObjectsInit({CKA_ID}) + C_FindObjects + C_FindObjectsFinal in a token holding
 *    100,000 objects, against the raw SQLite lookup by the same index (SELECT ... WHERE token_id
 *    = ? AND ck_id = ?, reading the attribute blob) on the same file.  Goal: < 1 ms per find.
 *    Measured in the application that created the objects and in a fresh one (C_Finalize,
 *    C_Initialize, login) on the same token.
 *    The 100,000 certificate objects are created through the module, one C_CreateObject each:
 *    the engine has no batch call, so each is its own transaction with its fsync; the database
 *    lives on tmpfs (/dev/shm) when there is one, so the fsyncs cost little (the creation rate
 *    is reported, with the file system).
 *  - login: C_Login at the default PBKDF2 iteration count, against one
 *    ls_pbkdf2_streebog512() run of the same count.
 *
 * The raw SQLite side reaches libsqlite3 through dlopen() as well: it is the very library the
 * module links, and the benchmark programs link only core/.
 *
 * usage: bench-token [MODULE]   (default: $LS11TOKEN_MODULE, else ../token/libls11token.so next
 * to this program).  Prints one JSON object on stdout; progress goes to stderr.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "../token/protect.h" /* LS_PROTECT_DEFAULT_ITERATIONS, the engine's login cost */
#include "crypto.h"
#include "pkcs11x.h"

#define ROUNDS 3
#define ROUND_SECONDS 0.3
#define N_OBJECTS 100000
#define N_FINDS 2000
#define N_LOGINS 6

#define SO_PIN "87654321"
#define USER_PIN "bench-pin"
#define TMPFS_MAGIC 0x01021994

static CK_FUNCTION_LIST *p11;
static CK_SESSION_HANDLE session;
static char dir[PATH_MAX];
static char db[PATH_MAX + 16];

static const struct {
	ls_curve curve;
	const char *name;
} curves[] = {
	{ LS_CURVE_TC26_256_A, "tc26-256-A" },
	{ LS_CURVE_CP_A, "cp-A" },
	{ LS_CURVE_TC26_512_A, "tc26-512-A" },
	{ LS_CURVE_TC26_512_C, "tc26-512-C" },
};

static double
now_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench-token: %s\n", what);
	exit(1);
}

static void
ck(CK_RV rv, const char *what)
{
	if (rv != CKR_OK) {
		fprintf(stderr, "bench-token: %s: CK_RV 0x%lx\n", what, (unsigned long)rv);
		exit(1);
	}
}

static void
check(int rc, const char *what)
{
	if (rc != LS_OK) {
		fprintf(stderr, "bench-token: %s: %s\n", what, ls_strerror(rc));
		exit(1);
	}
}

/* ---------------------------------------------------------------------------------------------
 * Set-up
 * ------------------------------------------------------------------------------------------- */

static const char *
module_path(int argc, char **argv)
{
	static char buf[PATH_MAX];
	const char *env = getenv("LS11TOKEN_MODULE");
	char *slash;
	ssize_t n;

	if (argc > 1)
		return argv[1];
	if (env != NULL && env[0] != '\0')
		return env;
	n = readlink("/proc/self/exe", buf, sizeof(buf) - 32);
	if (n <= 0)
		die("cannot find the module: pass its path");
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL)
		die("cannot find the module: pass its path");
	strcpy(slash, "/../token/libls11token.so");
	return buf;
}

/* A fresh database directory, on tmpfs when the machine has one; returns the file system. */
static const char *
make_dir(void)
{
	struct statfs sf;
	const char *base = statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC ? "/dev/shm"
	                                                                            : "/tmp";

	snprintf(dir, sizeof(dir), "%s/ls11-bench-token-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(db, sizeof(db), "%s/token.db", dir);
	setenv("LS11TOKEN_DB", db, 1);
	unsetenv("LS11TOKEN_CONF");
	return strcmp(base, "/dev/shm") == 0 ? "tmpfs" : "disk (/tmp)";
}

static void
remove_dir(void)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char path[PATH_MAX + 32];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void
open_token(const char *path)
{
	CK_C_GetFunctionList get;
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE so;
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		fprintf(stderr, "bench-token: dlopen(%s): %s\n", path, dlerror());
		exit(1);
	}
	get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	if (get == NULL)
		die("C_GetFunctionList is not exported");
	ck(get(&p11), "C_GetFunctionList");
	ck(p11->C_Initialize(NULL), "C_Initialize");
	memset(label, ' ', sizeof(label));
	memcpy(label, "bench-token", 11);
	ck(p11->C_InitToken(1, (CK_UTF8CHAR_PTR)SO_PIN, 8, label), "C_InitToken");
	ck(p11->C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &so),
	   "C_OpenSession");
	ck(p11->C_Login(so, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 8), "C_Login (SO)");
	ck(p11->C_InitPIN(so, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)), "C_InitPIN");
	ck(p11->C_Logout(so), "C_Logout");
	ck(p11->C_CloseSession(so), "C_CloseSession");
	ck(p11->C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session),
	   "C_OpenSession");
	ck(p11->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)),
	   "C_Login");
}

/* ---------------------------------------------------------------------------------------------
 * Signatures
 * ------------------------------------------------------------------------------------------- */

struct sign_case {
	ls_gost_key *key;
	CK_OBJECT_HANDLE obj;
	CK_MECHANISM mech;
	size_t n;
	uint8_t digest[64], sig[128];
};

static void
sign_module(struct sign_case *c)
{
	CK_ULONG len = sizeof(c->sig);

	ck(p11->C_SignInit(session, &c->mech, c->obj), "C_SignInit");
	ck(p11->C_Sign(session, c->digest, c->n, c->sig, &len), "C_Sign");
}

static void
sign_raw(struct sign_case *c)
{
	check(ls_gost_sign_digest(c->key, c->digest, c->n, c->sig, 2 * c->n),
	      "ls_gost_sign_digest");
}

static double
rate(struct sign_case *c, void (*op)(struct sign_case *))
{
	double wall0 = now_s(CLOCK_MONOTONIC), cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID);
	long n = 0;

	do {
		for (int i = 0; i < 16; i++)
			op(c);
		n += 16;
	} while (now_s(CLOCK_MONOTONIC) - wall0 < ROUND_SECONDS);
	return (double)n / (now_s(CLOCK_THREAD_CPUTIME_ID) - cpu0);
}

/* The private key of @c->key as a session object of the token. */
static void
import_key(struct sign_case *c, ls_curve curve)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE type = c->n == 64 ? CKK_GOSTR3410_512 : CKK_GOSTR3410;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	static const uint8_t streebog256[] = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01,
		                               0x02, 0x02 };
	static const uint8_t streebog512[] = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01,
		                               0x02, 0x03 };
	const uint8_t *oid;
	size_t oid_len;
	uint8_t d[64];

	check(ls_curve_oid(curve, &oid, &oid_len), "ls_curve_oid");
	check(ls_gost_key_private(c->key, d, c->n), "ls_gost_key_private");
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_GOSTR3410_PARAMS, (void *)oid, oid_len },
		{ CKA_GOSTR3411_PARAMS, (void *)(c->n == 64 ? streebog512 : streebog256),
		  c->n == 64 ? sizeof(streebog512) : sizeof(streebog256) },
		{ CKA_VALUE, d, c->n },
	};
	ck(p11->C_CreateObject(session, t, sizeof(t) / sizeof(t[0]), &c->obj), "C_CreateObject");
	ls_wipe(d, sizeof(d));
}

static void
bench_sign(FILE *out)
{
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		struct sign_case c = { 0 };
		double best_module = 0, best_raw = 0;

		fprintf(stderr, "bench-token: sign %s\n", curves[i].name);
		check(ls_gost_key_generate(curves[i].curve, &c.key), "ls_gost_key_generate");
		c.n = ls_curve_size(curves[i].curve);
		c.mech.mechanism = c.n == 64 ? CKM_GOSTR3410_512 : CKM_GOSTR3410;
		check(ls_random_bytes(c.digest, c.n), "ls_random_bytes");
		import_key(&c, curves[i].curve);
		sign_module(&c); /* warm both paths */
		sign_raw(&c);
		for (int r = 0; r < ROUNDS; r++) {
			double m = rate(&c, sign_module), w = rate(&c, sign_raw);

			best_module = m > best_module ? m : best_module;
			best_raw = w > best_raw ? w : best_raw;
		}
		fprintf(out, "%s\"%s\":{\"module_per_s\":%.0f,\"raw_per_s\":%.0f,\"ratio\":%.3f}",
		        i == 0 ? "" : ",", curves[i].name, best_module, best_raw,
		        best_module / best_raw);
		ck(p11->C_DestroyObject(session, c.obj), "C_DestroyObject");
		ls_gost_key_free(c.key);
	}
}

/* ---------------------------------------------------------------------------------------------
 * Finding one object among 100,000
 * ------------------------------------------------------------------------------------------- */

static void
ck_id_of(unsigned i, char buf[16])
{
	snprintf(buf, 16, "obj-%06u", i);
}

/* Token certificate objects obj-000000 ... through C_CreateObject; returns how many. */
static unsigned
create_objects(double *seconds)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ctype = CKC_X_509;
	CK_BBOOL yes = CK_TRUE;
	static const uint8_t subject[] = { 0x30, 0x00 };
	uint8_t value[64];
	char id[16];
	CK_OBJECT_HANDLE h;
	double t0 = now_s(CLOCK_MONOTONIC);
	unsigned i;

	memset(value, 0x5a, sizeof(value));
	for (i = 0; i < N_OBJECTS; i++) {
		CK_ATTRIBUTE t[] = {
			{ CKA_CLASS, &cls, sizeof(cls) },
			{ CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_ID, id, 10 },
			{ CKA_SUBJECT, (void *)subject, sizeof(subject) },
			{ CKA_VALUE, value, sizeof(value) },
		};
		CK_RV rv;

		ck_id_of(i, id);
		memcpy(value, id, 10);
		rv = p11->C_CreateObject(session, t, sizeof(t) / sizeof(t[0]), &h);
		if (rv != CKR_OK) {
			fprintf(stderr, "bench-token: object %u: C_CreateObject: CK_RV 0x%lx\n", i,
			        (unsigned long)rv);
			break;
		}
		if (i % 10000 == 9999)
			fprintf(stderr, "bench-token: %u objects\n", i + 1);
	}
	*seconds = now_s(CLOCK_MONOTONIC) - t0;
	return i;
}

static double
find_module(unsigned n_objects, unsigned seed, unsigned *misses)
{
	char id[16];
	CK_OBJECT_HANDLE found[4];
	CK_ULONG count;
	double t0 = now_s(CLOCK_MONOTONIC);

	*misses = 0;
	for (unsigned k = 0; k < N_FINDS; k++) {
		CK_ATTRIBUTE t = { CKA_ID, id, 10 };

		ck_id_of((seed + k * 7919u) % n_objects, id);
		ck(p11->C_FindObjectsInit(session, &t, 1), "C_FindObjectsInit");
		ck(p11->C_FindObjects(session, found, 4, &count), "C_FindObjects");
		ck(p11->C_FindObjectsFinal(session), "C_FindObjectsFinal");
		*misses += count != 1;
	}
	return (now_s(CLOCK_MONOTONIC) - t0) / N_FINDS;
}

/* The few SQLite entry points the baseline needs, from the same libsqlite3 the module uses. */
struct sqlite_api {
	int (*open_v2)(const char *, void **, int, const char *);
	int (*prepare_v2)(void *, const char *, int, void **, const char **);
	int (*bind_int64)(void *, int, long long);
	int (*bind_blob)(void *, int, const void *, int, void (*)(void *));
	int (*step)(void *);
	long long (*column_int64)(void *, int);
	const void *(*column_blob)(void *, int);
	int (*column_bytes)(void *, int);
	int (*reset)(void *);
	int (*finalize)(void *);
	int (*close)(void *);
};

#define SQLITE_OPEN_READONLY 0x1
#define SQLITE_ROW 100

static void *
sym(void *lib, const char *name)
{
	void *p = dlsym(lib, name);

	if (p == NULL)
		die("libsqlite3 lacks a symbol");
	return p;
}

static double
find_raw_sqlite(unsigned n_objects, unsigned seed, unsigned *misses)
{
	struct sqlite_api s;
	void *lib = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_LOCAL);
	void *conn = NULL, *tok = NULL, *st = NULL;
	long long token_id;
	char id[16];
	double t0, dt;

	if (lib == NULL)
		die("dlopen(libsqlite3.so.0)");
	*(void **)&s.open_v2 = sym(lib, "sqlite3_open_v2");
	*(void **)&s.prepare_v2 = sym(lib, "sqlite3_prepare_v2");
	*(void **)&s.bind_int64 = sym(lib, "sqlite3_bind_int64");
	*(void **)&s.bind_blob = sym(lib, "sqlite3_bind_blob");
	*(void **)&s.step = sym(lib, "sqlite3_step");
	*(void **)&s.column_int64 = sym(lib, "sqlite3_column_int64");
	*(void **)&s.column_blob = sym(lib, "sqlite3_column_blob");
	*(void **)&s.column_bytes = sym(lib, "sqlite3_column_bytes");
	*(void **)&s.reset = sym(lib, "sqlite3_reset");
	*(void **)&s.finalize = sym(lib, "sqlite3_finalize");
	*(void **)&s.close = sym(lib, "sqlite3_close");

	if (s.open_v2(db, &conn, SQLITE_OPEN_READONLY, NULL) != 0)
		die("sqlite3_open_v2");
	if (s.prepare_v2(conn, "SELECT id FROM tokens ORDER BY id LIMIT 1", -1, &tok, NULL) != 0 ||
	    s.step(tok) != SQLITE_ROW)
		die("reading the token id");
	token_id = s.column_int64(tok, 0);
	s.finalize(tok);
	if (s.prepare_v2(conn,
	                 "SELECT id, class, key_type, ck_id, label, attrs FROM objects"
	                 " WHERE token_id = ?1 AND ck_id = ?2 ORDER BY id",
	                 -1, &st, NULL) != 0)
		die("sqlite3_prepare_v2");

	*misses = 0;
	t0 = now_s(CLOCK_MONOTONIC);
	for (unsigned k = 0; k < N_FINDS; k++) {
		int rows = 0;

		ck_id_of((seed + k * 7919u) % n_objects, id);
		s.bind_int64(st, 1, token_id);
		s.bind_blob(st, 2, id, 10, NULL);
		while (s.step(st) == SQLITE_ROW) {
			/* What the store hands the engine: the attribute blob. */
			if (s.column_blob(st, 5) == NULL && s.column_bytes(st, 5) != 0)
				die("reading the attribute blob");
			rows++;
		}
		s.reset(st);
		*misses += rows != 1;
	}
	dt = (now_s(CLOCK_MONOTONIC) - t0) / N_FINDS;
	s.finalize(st);
	s.close(conn);
	dlclose(lib);
	return dt;
}

/* A new application on the same token: C_Finalize, C_Initialize, a session, the login. */
static void
restart_application(void)
{
	ck(p11->C_Finalize(NULL), "C_Finalize");
	ck(p11->C_Initialize(NULL), "C_Initialize");
	ck(p11->C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session),
	   "C_OpenSession");
	ck(p11->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)),
	   "C_Login");
}

/*
 * Two module figures: in the application that created the objects (it holds a handle for each
 * of them), and in a new application that opens the full token, the common case.
 */
static void
bench_find(FILE *out, const char *fs)
{
	unsigned n, miss[3];
	double create_s, creator_s, module_s, raw_s;

	fprintf(stderr, "bench-token: creating %d objects\n", N_OBJECTS);
	n = create_objects(&create_s);
	if (n == 0)
		die("no object could be created");
	fprintf(stderr, "bench-token: finding\n");
	find_module(n, 1, &miss[0]); /* warm: the statement cache, the file's pages */
	creator_s = find_module(n, 12345, &miss[0]);
	restart_application();
	find_module(n, 2, &miss[1]);
	module_s = find_module(n, 54321, &miss[1]);
	find_raw_sqlite(n, 1, &miss[2]);
	raw_s = find_raw_sqlite(n, 54321, &miss[2]);
	fprintf(out,
	        "{\"objects\":%u,\"created_through\":\"C_CreateObject, one transaction and fsync "
	        "each, database on %s\",\"create_s\":%.2f,\"create_per_s\":%.0f,"
	        "\"finds\":%d,\"module_find_us\":%.1f,\"module_find_us_in_creating_app\":%.1f,"
	        "\"raw_sqlite_find_us\":%.1f,\"ratio\":%.2f,\"misses\":%u,\"goal_us\":1000}",
	        n, fs, create_s, n / create_s, N_FINDS, module_s * 1e6, creator_s * 1e6,
	        raw_s * 1e6, module_s / raw_s, miss[0] + miss[1] + miss[2]);
}

/* ---------------------------------------------------------------------------------------------
 * Login
 * ------------------------------------------------------------------------------------------- */

static void
bench_login(FILE *out)
{
	uint8_t salt[16], key[32];
	double t0, module_s, pbkdf2_s;

	fprintf(stderr, "bench-token: login\n");
	ck(p11->C_Logout(session), "C_Logout");
	t0 = now_s(CLOCK_MONOTONIC);
	for (int i = 0; i < N_LOGINS; i++) {
		ck(p11->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)),
		   "C_Login");
		ck(p11->C_Logout(session), "C_Logout");
	}
	module_s = (now_s(CLOCK_MONOTONIC) - t0) / N_LOGINS;

	check(ls_random_bytes(salt, sizeof(salt)), "ls_random_bytes");
	t0 = now_s(CLOCK_MONOTONIC);
	for (int i = 0; i < N_LOGINS; i++)
		check(ls_pbkdf2_streebog512(USER_PIN, strlen(USER_PIN), salt, sizeof(salt),
		                            LS_PROTECT_DEFAULT_ITERATIONS, key, sizeof(key)),
		      "ls_pbkdf2_streebog512");
	pbkdf2_s = (now_s(CLOCK_MONOTONIC) - t0) / N_LOGINS;
	fprintf(out,
	        "{\"iterations\":%d,\"logins\":%d,\"module_login_ms\":%.1f,\"pbkdf2_ms\":%.1f,"
	        "\"ratio\":%.2f}",
	        LS_PROTECT_DEFAULT_ITERATIONS, N_LOGINS, module_s * 1e3, pbkdf2_s * 1e3,
	        module_s / pbkdf2_s);
}

int
main(int argc, char **argv)
{
	const char *path = module_path(argc, argv);
	double t0 = now_s(CLOCK_MONOTONIC);
	const char *fs;

	check(ls_crypto_init(), "ls_crypto_init");
	fs = make_dir();
	open_token(path);

	printf("{\"benchmark\":\"token\",\"module\":\"%s\",\"sign\":{", path);
	bench_sign(stdout);
	printf("},\"sign_goal_ratio\":0.9,\"find\":");
	bench_find(stdout, fs);
	printf(",\"login\":");
	bench_login(stdout);
	ck(p11->C_CloseSession(session), "C_CloseSession");
	ck(p11->C_Finalize(NULL), "C_Finalize");
	remove_dir();
	printf(",\"total_s\":%.1f}\n", now_s(CLOCK_MONOTONIC) - t0);
	return 0;
}
