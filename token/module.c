/*
 * LS11CLOUD - libls11token.so: the token engine as a local, in-process PKCS#11 module.
 *
 * One slot (LS_MODULE_SLOT_ID) holding one token that lives in a local SQLite database; the
 * process is one PKCS#11 application of that token (one ls_token_app).  The C_* functions are a
 * thin boundary (STYLE.md 18): they check the library state and their own pointer arguments,
 * take the state lock for reading, and call the matching ls_token_* function, which returns the
 * CK_RV the specification prescribes.  Only C_GetFunctionList, C_GetInterface and
 * C_GetInterfaceList are exported (token/module.map); every other entry point is reached
 * through the function lists.
 *
 * Where the database is: $LS11TOKEN_DB, else "database = PATH" in the configuration file
 * ($LS11TOKEN_CONF, else $XDG_CONFIG_HOME/ls11cloud/ls11token.conf), else
 * $XDG_DATA_HOME/ls11cloud/token.db (directories created 0700).  The token is the first token
 * of the database; a new database gets one (ls_token_create) at the first C_Initialize.  When
 * the database cannot be opened, C_Initialize still succeeds (an application must not fail to
 * start because of a token) and the slot shows no token; the reason goes to the log.
 *
 * Threads: C_Initialize and C_Finalize take the state lock for writing, every other call takes
 * it for reading, so calls run side by side (the engine is thread-safe) and C_Finalize waits for
 * the calls in flight.  No application-supplied mutexes are used (see ls_C_Initialize).
 *
 * fork(): the prepare handler waits until no call is in flight, so the child inherits the
 * state between two calls, never in the middle of a SQLite transaction.  In the child the
 * library is then not initialised: every call answers CKR_CRYPTOKI_NOT_INITIALIZED until the
 * child calls C_Initialize, which first closes the inherited handles (the child's copies: the
 * parent's sessions and logins are untouched) and then opens the database afresh.  This is the
 * classic PKCS#11 fork rule, not the v3.0 "fork tolerant" one, so no interface carries
 * CKF_INTERFACE_FORK_SAFE.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "crypto.h"
#include "errors.h"
#include "log.h"
#include "p11-entry.h"
#include "pkcs11x.h"
#include "store-sqlite.h"
#include "token.h"

#define LS_EXPORT __attribute__((visibility("default")))

/* The one slot.  1 rather than 0, so that a zero-initialised variable never names it. */
#define LS_MODULE_SLOT_ID ((CK_SLOT_ID)1)

#define LS_MODULE_MANUFACTURER "LS11CLOUD"
#define LS_MODULE_DESCRIPTION "LS11CLOUD local GOST token"
#define LS_MODULE_SLOT_DESCRIPTION "LS11CLOUD local token (SQLite database)"

/* The library version, from the project version "MAJOR.MINOR.PATCH". */
#define LS_MODULE_VERSION_MAJOR 0
#define LS_MODULE_VERSION_MINOR 1

#define LS_ENV_DB "LS11TOKEN_DB"
#define LS_ENV_CONF "LS11TOKEN_CONF"
#define LS_CONF_RELATIVE "ls11cloud/ls11token.conf"
#define LS_DB_RELATIVE "ls11cloud/token.db"

/* A configuration line longer than this is refused (and logged). */
#define LS_CONF_LINE_MAX 4096

/* ---------------------------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	ls_store *store;
	ls_token *token;   /* NULL: no token (the database could not be opened) */
	ls_token_app *app; /* the process's PKCS#11 application; set together with token */
} module_handles;

static struct {
	bool initialized;
	module_handles h;
	/* Handles inherited across fork(), closed by the child's next C_Initialize. */
	module_handles stale;
} mod;

static pthread_rwlock_t mod_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_once_t mod_once = PTHREAD_ONCE_INIT;

/*
 * A writer-preferring lock: a stream of readers (signatures on several threads) must not starve
 * C_Finalize or fork().  No code path takes the read lock twice in one thread, which is what
 * this kind of lock forbids.
 */
static void
lock_init(void)
{
	pthread_rwlockattr_t attr;

	if (pthread_rwlockattr_init(&attr) != 0)
		return;
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (pthread_rwlock_init(&mod_lock, &attr) != 0)
		mod_lock = (pthread_rwlock_t)PTHREAD_RWLOCK_INITIALIZER;
	pthread_rwlockattr_destroy(&attr);
}

/* fork(): no call is in flight while the process is copied. */
static void
atfork_prepare(void)
{
	pthread_rwlock_wrlock(&mod_lock);
}

static void
atfork_parent(void)
{
	pthread_rwlock_unlock(&mod_lock);
}

/*
 * The child: not initialised.  The inherited handles are not freed here (only async-signal-safe
 * work belongs in this handler); C_Initialize closes them.  The lock was held by the forking
 * thread, which is the child's only thread: a fresh lock replaces it.
 */
static void
atfork_child(void)
{
	if (mod.initialized) {
		mod.stale = mod.h;
		memset(&mod.h, 0, sizeof(mod.h));
		mod.initialized = false;
	}
	lock_init();
}

static void
module_once(void)
{
	lock_init();
	if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0)
		ls_warning("libls11token: pthread_atfork failed; do not use the module after fork()");
}

static void
handles_close(module_handles *h)
{
	ls_token_app_free(h->app);
	if (h->token != NULL)
		ls_token_close(h->token);
	ls_store_close(h->store);
	memset(h, 0, sizeof(*h));
}

/* ---------------------------------------------------------------------------------------------
 * Where the database is
 * ------------------------------------------------------------------------------------------- */

/* $HOME, else the password database's home directory; NULL when neither is absolute. */
static char *
home_dir(void)
{
	const char *home = secure_getenv("HOME");
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (home != NULL && home[0] == '/')
		return strdup(home);
	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) != 0 || res == NULL ||
	    pw.pw_dir == NULL || pw.pw_dir[0] != '/')
		return NULL;
	return strdup(pw.pw_dir);
}

/* An XDG base directory: $@env when absolute (the XDG rule), else $HOME/@fallback. */
static char *
xdg_dir(const char *env, const char *fallback)
{
	const char *v = secure_getenv(env);
	char *home, *out = NULL;

	if (v != NULL && v[0] == '/')
		return strdup(v);
	home = home_dir();
	if (home != NULL && asprintf(&out, "%s/%s", home, fallback) < 0)
		out = NULL;
	free(home);
	return out;
}

static char *
path_join(const char *dir, const char *rel)
{
	char *out = NULL;

	if (dir == NULL || asprintf(&out, "%s/%s", dir, rel) < 0)
		return NULL;
	return out;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/*
 * Reads "database = PATH" from the configuration file @path.  Lines are "key = value", blank,
 * or comments starting with '#' or ';'; a "~/" at the start of the path means $HOME.  Unknown
 * keys and malformed lines are logged and skipped.  Returns the path (malloc'ed) or NULL.
 */
static char *
conf_database(const char *path)
{
	FILE *f;
	char line[LS_CONF_LINE_MAX];
	char *db = NULL;
	unsigned n = 0;

	f = fopen(path, "re");
	if (f == NULL) {
		if (errno != ENOENT)
			ls_warning("libls11token: cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *key, *value, *eq;

		n++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			int c;

			ls_warning("libls11token: %s:%u: line too long, ignored", path, n);
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		key = trim(line);
		if (key[0] == '\0' || key[0] == '#' || key[0] == ';')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			ls_warning("libls11token: %s:%u: expected \"key = value\"", path, n);
			continue;
		}
		*eq = '\0';
		value = trim(eq + 1);
		key = trim(key);
		if (strcmp(key, "database") != 0) {
			ls_warning("libls11token: %s:%u: unknown key \"%s\"", path, n, key);
			continue;
		}
		if (value[0] == '\0') {
			ls_warning("libls11token: %s:%u: empty database path", path, n);
			continue;
		}
		free(db);
		db = NULL;
		if (value[0] == '~' && value[1] == '/') {
			char *home = home_dir();

			if (home != NULL && asprintf(&db, "%s/%s", home, value + 2) < 0)
				db = NULL;
			free(home);
		} else {
			db = strdup(value);
		}
	}
	fclose(f);
	return db;
}

/* mkdir -p of the directories above @path (not @path itself), each 0700. */
static int
make_parents(const char *path)
{
	char *p = strdup(path);
	char *s;
	int err = LS_OK;

	if (p == NULL)
		return LS_ERR_NOMEM;
	for (s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			ls_error("libls11token: cannot create %s: %s", p, strerror(errno));
			err = LS_ERR_IO;
			break;
		}
		*s = '/';
	}
	free(p);
	return err;
}

/* The database path (malloc'ed), creating the default location's directories. */
static char *
database_path(void)
{
	const char *env = secure_getenv(LS_ENV_DB);
	const char *conf_env = secure_getenv(LS_ENV_CONF);
	char *conf, *db;

	if (env != NULL && env[0] != '\0')
		return strdup(env);

	if (conf_env != NULL && conf_env[0] != '\0') {
		conf = strdup(conf_env);
	} else {
		char *dir = xdg_dir("XDG_CONFIG_HOME", ".config");
		conf = path_join(dir, LS_CONF_RELATIVE);
		free(dir);
	}
	if (conf != NULL) {
		db = conf_database(conf);
		free(conf);
		if (db != NULL)
			return db;
	}

	char *dir = xdg_dir("XDG_DATA_HOME", ".local/share");
	db = path_join(dir, LS_DB_RELATIVE);
	free(dir);
	if (db == NULL) {
		ls_error("libls11token: no database path: set " LS_ENV_DB " or HOME");
		return NULL;
	}
	if (make_parents(db) != LS_OK) {
		free(db);
		return NULL;
	}
	return db;
}

/*
 * A new database file gets mode 0600 before SQLite sees it (SQLite would create it 0644 and its
 * -wal/-shm files take the database file's mode).  An empty file is a new database to the store.
 */
static void
create_private_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
}

/* ---------------------------------------------------------------------------------------------
 * Opening the token
 * ------------------------------------------------------------------------------------------- */

static int
first_token_cb(void *ctx, const ls_store_token *tok)
{
	*(uint64_t *)ctx = tok->id;
	return 1;
}

static int
first_token(ls_store *store, uint64_t *id)
{
	ls_store_txn *txn = NULL;
	int err;

	*id = 0;
	err = ls_store_begin(store, false, &txn);
	if (err != LS_OK)
		return err;
	err = ls_store_token_list(txn, first_token_cb, id);
	ls_store_rollback(txn);
	return err;
}

/*
 * The module's token is the first token of the database.  Two processes that open a new
 * database at once may both create one; both then take the lowest id and the other one's
 * creator removes its own, so they agree without a lock.
 */
static CK_RV
find_or_create_token(ls_store *store, uint64_t *out)
{
	uint64_t id, created;
	CK_RV rv;
	int err;

	err = first_token(store, &id);
	if (err != LS_OK) {
		ls_error("libls11token: cannot list the tokens: %s", ls_strerror(err));
		return CKR_DEVICE_ERROR;
	}
	if (id != 0) {
		*out = id;
		return CKR_OK;
	}
	rv = ls_token_create(store, &created);
	if (rv != CKR_OK) {
		ls_error("libls11token: cannot create the token (CK_RV 0x%lx)", (unsigned long)rv);
		return rv;
	}
	err = first_token(store, &id);
	if (err != LS_OK || id == 0) {
		ls_error("libls11token: the new token is not in the database");
		return CKR_DEVICE_ERROR;
	}
	if (id != created)
		ls_token_destroy(store, created);
	*out = id;
	return CKR_OK;
}

/* Opens the store, the token and the application into @h; logs and leaves @h empty on failure. */
static void
handles_open(module_handles *h)
{
	ls_store_sqlite_options opts = {.create = true};
	ls_token_config cfg;
	uint64_t token_id;
	char *path;
	CK_RV rv;
	int err;

	memset(h, 0, sizeof(*h));
	err = ls_crypto_init();
	if (err != LS_OK) {
		ls_error("libls11token: the GOST crypto backend failed: %s", ls_strerror(err));
		return;
	}
	path = database_path();
	if (path == NULL)
		return;
	create_private_file(path);
	err = ls_store_sqlite_open(path, &opts, &h->store);
	if (err != LS_OK) {
		ls_error("libls11token: cannot open the database %s: %s", path, ls_strerror(err));
		goto out;
	}
	rv = find_or_create_token(h->store, &token_id);
	if (rv != CKR_OK)
		goto out;
	ls_token_config_init(&cfg);
	rv = ls_token_open(h->store, token_id, &cfg, &h->token);
	if (rv != CKR_OK) {
		ls_error("libls11token: cannot open token %llu of %s (CK_RV 0x%lx)",
		         (unsigned long long)token_id, path, (unsigned long)rv);
		goto out;
	}
	rv = ls_token_app_new(h->token, &h->app);
	if (rv != CKR_OK) {
		ls_error("libls11token: cannot start the application (CK_RV 0x%lx)",
		         (unsigned long)rv);
		goto out;
	}
	ls_debug("libls11token: token %llu of %s", (unsigned long long)token_id, path);
out:
	if (h->app == NULL)
		handles_close(h);
	free(path);
}

/* ---------------------------------------------------------------------------------------------
 * Entering and leaving a call
 * ------------------------------------------------------------------------------------------- */

/* An input buffer: a pointer, or nothing to point at. */
#define IN_OK(p, n) ((p) != NULL || (n) == 0)

static CK_RV
enter(void)
{
	pthread_rwlock_rdlock(&mod_lock);
	if (!mod.initialized) {
		pthread_rwlock_unlock(&mod_lock);
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	return CKR_OK;
}

static void
leave(void)
{
	pthread_rwlock_unlock(&mod_lock);
}

/* A call naming a slot: our slot, with a token in it. */
static CK_RV
enter_slot(CK_SLOT_ID slot, ls_token **token)
{
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	if (slot != LS_MODULE_SLOT_ID) {
		rv = CKR_SLOT_ID_INVALID;
	} else if (mod.h.token == NULL) {
		rv = CKR_TOKEN_NOT_PRESENT;
	} else {
		*token = mod.h.token;
		return CKR_OK;
	}
	leave();
	return rv;
}

/* A call naming a session: without a token there is no session to name. */
static CK_RV
enter_app(ls_token_app **app)
{
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	if (mod.h.app == NULL) {
		leave();
		return CKR_SESSION_HANDLE_INVALID;
	}
	*app = mod.h.app;
	return CKR_OK;
}

static CK_RV
check_mechanism(const CK_MECHANISM *m)
{
	if (m == NULL)
		return CKR_ARGUMENTS_BAD;
	if (!IN_OK(m->pParameter, m->ulParameterLen))
		return CKR_MECHANISM_PARAM_INVALID;
	return CKR_OK;
}

/* A template the call reads: every value with a length has a pointer. */
static CK_RV
check_template(const CK_ATTRIBUTE *t, CK_ULONG count)
{
	CK_ULONG i;

	if (!IN_OK(t, count))
		return CKR_ARGUMENTS_BAD;
	for (i = 0; i < count; i++)
		if (!IN_OK(t[i].pValue, t[i].ulValueLen))
			return CKR_ARGUMENTS_BAD;
	return CKR_OK;
}

static void
pad(CK_UTF8CHAR *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', size);
	memcpy(dst, src, n < size ? n : size);
}

/* ---------------------------------------------------------------------------------------------
 * General purpose
 * ------------------------------------------------------------------------------------------- */

/*
 * CK_C_INITIALIZE_ARGS, as PKCS#11 v2.40 5.4 and 5.5 say:
 *  - pReserved must be NULL (CKR_ARGUMENTS_BAD);
 *  - the four mutex callbacks come all or none (CKR_ARGUMENTS_BAD);
 *  - CKF_OS_LOCKING_OK (with or without callbacks): we use our pthread locks;
 *  - neither flag nor callbacks: the application promises single-threaded use; our locks are
 *    harmless then;
 *  - callbacks without CKF_OS_LOCKING_OK: the application demands that we lock with its
 *    mutexes only.  The engine locks with pthreads internally and cannot take callbacks, so
 *    this is CKR_CANT_LOCK;
 *  - CKF_LIBRARY_CANT_CREATE_OS_THREADS: fine, the module creates no threads.
 */
static CK_RV
ls_C_Initialize(CK_VOID_PTR init_args)
{
	const CK_C_INITIALIZE_ARGS *args = init_args;
	module_handles stale;
	CK_RV rv = CKR_OK;

	if (args != NULL) {
		int n = (args->CreateMutex != NULL) + (args->DestroyMutex != NULL) +
		        (args->LockMutex != NULL) + (args->UnlockMutex != NULL);

		if (args->pReserved != NULL || (n != 0 && n != 4))
			return CKR_ARGUMENTS_BAD;
		if (n == 4 && !(args->flags & CKF_OS_LOCKING_OK))
			return CKR_CANT_LOCK;
	}
	pthread_once(&mod_once, module_once);

	pthread_rwlock_wrlock(&mod_lock);
	if (mod.initialized) {
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
		goto out;
	}
	/* What a fork left behind: no call was in flight when it was copied (atfork_prepare). */
	stale = mod.stale;
	memset(&mod.stale, 0, sizeof(mod.stale));
	handles_close(&stale);

	handles_open(&mod.h);
	mod.initialized = true;
out:
	pthread_rwlock_unlock(&mod_lock);
	return rv;
}

static CK_RV
ls_C_Finalize(CK_VOID_PTR reserved)
{
	CK_RV rv = CKR_OK;

	if (reserved != NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_once(&mod_once, module_once);
	pthread_rwlock_wrlock(&mod_lock);
	if (!mod.initialized) {
		rv = CKR_CRYPTOKI_NOT_INITIALIZED;
	} else {
		handles_close(&mod.h);
		mod.initialized = false;
	}
	pthread_rwlock_unlock(&mod_lock);
	return rv;
}

static CK_RV
ls_C_GetInfo(CK_INFO_PTR info)
{
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	if (info == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		memset(info, 0, sizeof(*info));
		info->cryptokiVersion.major = 3;
		info->cryptokiVersion.minor = 0;
		pad(info->manufacturerID, sizeof(info->manufacturerID), LS_MODULE_MANUFACTURER);
		info->flags = 0;
		pad(info->libraryDescription, sizeof(info->libraryDescription),
		    LS_MODULE_DESCRIPTION);
		info->libraryVersion.major = LS_MODULE_VERSION_MAJOR;
		info->libraryVersion.minor = LS_MODULE_VERSION_MINOR;
	}
	leave();
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Slot and token management
 * ------------------------------------------------------------------------------------------- */

static CK_RV
ls_C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	CK_ULONG n;
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	if (count == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	n = (token_present && mod.h.token == NULL) ? 0 : 1;
	if (list == NULL) {
		*count = n;
	} else if (*count < n) {
		*count = n;
		rv = CKR_BUFFER_TOO_SMALL;
	} else {
		if (n == 1)
			list[0] = LS_MODULE_SLOT_ID;
		*count = n;
	}
out:
	leave();
	return rv;
}

static CK_RV
ls_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	if (slot != LS_MODULE_SLOT_ID) {
		rv = CKR_SLOT_ID_INVALID;
	} else if (info == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		memset(info, 0, sizeof(*info));
		pad(info->slotDescription, sizeof(info->slotDescription),
		    LS_MODULE_SLOT_DESCRIPTION);
		pad(info->manufacturerID, sizeof(info->manufacturerID), LS_MODULE_MANUFACTURER);
		info->flags = mod.h.token != NULL ? CKF_TOKEN_PRESENT : 0;
		info->hardwareVersion.major = LS_MODULE_VERSION_MAJOR;
		info->hardwareVersion.minor = LS_MODULE_VERSION_MINOR;
		info->firmwareVersion.major = LS_MODULE_VERSION_MAJOR;
		info->firmwareVersion.minor = LS_MODULE_VERSION_MINOR;
	}
	leave();
	return rv;
}

static CK_RV
ls_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	ls_token *token;
	CK_RV rv = enter_slot(slot, &token);

	if (rv != CKR_OK)
		return rv;
	rv = info == NULL ? CKR_ARGUMENTS_BAD : ls_token_get_token_info(token, info);
	leave();
	return rv;
}

/*
 * A local token is always present: there are no slot events.  Without CKF_DONT_BLOCK the
 * answer is CKR_FUNCTION_NOT_SUPPORTED rather than a wait that could only end at C_Finalize:
 * NSS, for one, then polls instead of keeping a thread blocked in the module.
 */
static CK_RV
ls_C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	if (slot == NULL || reserved != NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (flags & CKF_DONT_BLOCK)
		rv = CKR_NO_EVENT;
	else
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	leave();
	return rv;
}

static CK_RV
ls_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	ls_token *token;
	CK_RV rv = enter_slot(slot, &token);

	if (rv != CKR_OK)
		return rv;
	rv = count == NULL ? CKR_ARGUMENTS_BAD : ls_token_get_mechanism_list(token, list, count);
	leave();
	return rv;
}

static CK_RV
ls_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	ls_token *token;
	CK_RV rv = enter_slot(slot, &token);

	if (rv != CKR_OK)
		return rv;
	rv = info == NULL ? CKR_ARGUMENTS_BAD : ls_token_get_mechanism_info(token, type, info);
	leave();
	return rv;
}

static CK_RV
ls_C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label)
{
	ls_token *token;
	CK_RV rv = enter_slot(slot, &token);

	if (rv != CKR_OK)
		return rv;
	/* No protected authentication path: the SO PIN comes with the call. */
	if (pin == NULL || label == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_init_token(mod.h.app, pin, pin_len, label);
	leave();
	return rv;
}

static CK_RV
ls_C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = pin == NULL ? CKR_ARGUMENTS_BAD : ls_token_init_pin(app, h, pin, pin_len);
	leave();
	return rv;
}

static CK_RV
ls_C_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
            CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (old_pin == NULL || new_pin == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_set_pin(app, h, old_pin, old_len, new_pin, new_len);
	leave();
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Sessions and login
 * ------------------------------------------------------------------------------------------- */

/* The notification callback is never called: no operation of ours surrenders control. */
static CK_RV
ls_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR application, CK_NOTIFY notify,
                 CK_SESSION_HANDLE_PTR h)
{
	ls_token *token;
	CK_RV rv = enter_slot(slot, &token);

	if (rv != CKR_OK)
		return rv;
	rv = h == NULL ? CKR_ARGUMENTS_BAD : ls_token_open_session(mod.h.app, flags, h);
	leave();
	return rv;
}

static CK_RV
ls_C_CloseSession(CK_SESSION_HANDLE h)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = ls_token_close_session(app, h);
	leave();
	return rv;
}

static CK_RV
ls_C_CloseAllSessions(CK_SLOT_ID slot)
{
	ls_token *token;
	CK_RV rv = enter_slot(slot, &token);

	if (rv != CKR_OK)
		return rv;
	rv = ls_token_close_all_sessions(mod.h.app);
	leave();
	return rv;
}

static CK_RV
ls_C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (info == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		rv = ls_token_get_session_info(app, h, info);
		/* The engine knows no slots; the module names its own. */
		if (rv == CKR_OK)
			info->slotID = LS_MODULE_SLOT_ID;
	}
	leave();
	return rv;
}

static CK_RV
ls_C_GetOperationState(CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG_PTR state_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = state_len == NULL ? CKR_ARGUMENTS_BAD
	                       : ls_token_get_operation_state(app, h, state, state_len);
	leave();
	return rv;
}

static CK_RV
ls_C_SetOperationState(CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG state_len,
                       CK_OBJECT_HANDLE enc_key, CK_OBJECT_HANDLE auth_key)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (state == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_set_operation_state(app, h, state, state_len, enc_key, auth_key);
	leave();
	return rv;
}

static CK_RV
ls_C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = pin == NULL ? CKR_ARGUMENTS_BAD : ls_token_login(app, h, user, pin, pin_len);
	leave();
	return rv;
}

static CK_RV
ls_C_LoginUser(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
               CK_UTF8CHAR_PTR username, CK_ULONG username_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (pin == NULL || !IN_OK(username, username_len))
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_login_user(app, h, user, pin, pin_len, username, username_len);
	leave();
	return rv;
}

static CK_RV
ls_C_Logout(CK_SESSION_HANDLE h)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = ls_token_logout(app, h);
	leave();
	return rv;
}

static CK_RV
ls_C_SessionCancel(CK_SESSION_HANDLE h, CK_FLAGS flags)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = ls_token_session_cancel(app, h, flags);
	leave();
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Objects
 * ------------------------------------------------------------------------------------------- */

static CK_RV
ls_C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                  CK_OBJECT_HANDLE_PTR obj)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (obj == NULL || check_template(tmpl, count) != CKR_OK)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_create_object(app, h, tmpl, count, obj);
	leave();
	return rv;
}

static CK_RV
ls_C_CopyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                CK_ULONG count, CK_OBJECT_HANDLE_PTR new_obj)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (new_obj == NULL || check_template(tmpl, count) != CKR_OK)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_copy_object(app, h, obj, tmpl, count, new_obj);
	leave();
	return rv;
}

static CK_RV
ls_C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = ls_token_destroy_object(app, h, obj);
	leave();
	return rv;
}

static CK_RV
ls_C_GetObjectSize(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG_PTR size)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = size == NULL ? CKR_ARGUMENTS_BAD : ls_token_get_object_size(app, h, obj, size);
	leave();
	return rv;
}

static CK_RV
ls_C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                       CK_ULONG count)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	/* The values are outputs here: a NULL pValue asks for the length. */
	if (!IN_OK(tmpl, count))
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_get_attribute_value(app, h, obj, tmpl, count);
	leave();
	return rv;
}

static CK_RV
ls_C_SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                       CK_ULONG count)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_template(tmpl, count);
	if (rv == CKR_OK)
		rv = ls_token_set_attribute_value(app, h, obj, tmpl, count);
	leave();
	return rv;
}

static CK_RV
ls_C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_template(tmpl, count);
	if (rv == CKR_OK)
		rv = ls_token_find_objects_init(app, h, tmpl, count);
	leave();
	return rv;
}

static CK_RV
ls_C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR objs, CK_ULONG max,
                 CK_ULONG_PTR count)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (count == NULL || !IN_OK(objs, max))
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_find_objects(app, h, objs, max, count);
	leave();
	return rv;
}

static CK_RV
ls_C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = ls_token_find_objects_final(app, h);
	leave();
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Encryption and decryption
 * ------------------------------------------------------------------------------------------- */

static CK_RV
ls_C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK)
		rv = ls_token_encrypt_init(app, h, mech, key);
	leave();
	return rv;
}

static CK_RV
ls_C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
             CK_ULONG_PTR out_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (!IN_OK(data, len) || out_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_encrypt(app, h, data, len, out, out_len);
	leave();
	return rv;
}

static CK_RV
ls_C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len, CK_BYTE_PTR out,
                   CK_ULONG_PTR out_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (!IN_OK(part, len) || out_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_encrypt_update(app, h, part, len, out, out_len);
	leave();
	return rv;
}

static CK_RV
ls_C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = out_len == NULL ? CKR_ARGUMENTS_BAD : ls_token_encrypt_final(app, h, out, out_len);
	leave();
	return rv;
}

static CK_RV
ls_C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK)
		rv = ls_token_decrypt_init(app, h, mech, key);
	leave();
	return rv;
}

static CK_RV
ls_C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
             CK_ULONG_PTR out_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (!IN_OK(data, len) || out_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_decrypt(app, h, data, len, out, out_len);
	leave();
	return rv;
}

static CK_RV
ls_C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len, CK_BYTE_PTR out,
                   CK_ULONG_PTR out_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (!IN_OK(part, len) || out_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_decrypt_update(app, h, part, len, out, out_len);
	leave();
	return rv;
}

static CK_RV
ls_C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = out_len == NULL ? CKR_ARGUMENTS_BAD : ls_token_decrypt_final(app, h, out, out_len);
	leave();
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Digests
 * ------------------------------------------------------------------------------------------- */

static CK_RV
ls_C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK)
		rv = ls_token_digest_init(app, h, mech);
	leave();
	return rv;
}

static CK_RV
ls_C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
            CK_ULONG_PTR out_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (!IN_OK(data, len) || out_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_digest(app, h, data, len, out, out_len);
	leave();
	return rv;
}

static CK_RV
ls_C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = !IN_OK(part, len) ? CKR_ARGUMENTS_BAD : ls_token_digest_update(app, h, part, len);
	leave();
	return rv;
}

static CK_RV
ls_C_DigestKey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = ls_token_digest_key(app, h, key);
	leave();
	return rv;
}

static CK_RV
ls_C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = out_len == NULL ? CKR_ARGUMENTS_BAD : ls_token_digest_final(app, h, out, out_len);
	leave();
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Signatures and MACs
 * ------------------------------------------------------------------------------------------- */

static CK_RV
ls_C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK)
		rv = ls_token_sign_init(app, h, mech, key);
	leave();
	return rv;
}

static CK_RV
ls_C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
          CK_ULONG_PTR sig_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (!IN_OK(data, len) || sig_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_sign(app, h, data, len, sig, sig_len);
	leave();
	return rv;
}

static CK_RV
ls_C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = !IN_OK(part, len) ? CKR_ARGUMENTS_BAD : ls_token_sign_update(app, h, part, len);
	leave();
	return rv;
}

static CK_RV
ls_C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = sig_len == NULL ? CKR_ARGUMENTS_BAD : ls_token_sign_final(app, h, sig, sig_len);
	leave();
	return rv;
}

static CK_RV
ls_C_SignRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK)
		rv = ls_token_sign_recover_init(app, h, mech, key);
	leave();
	return rv;
}

static CK_RV
ls_C_SignRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
                 CK_ULONG_PTR sig_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (!IN_OK(data, len) || sig_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_sign_recover(app, h, data, len, sig, sig_len);
	leave();
	return rv;
}

static CK_RV
ls_C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK)
		rv = ls_token_verify_init(app, h, mech, key);
	leave();
	return rv;
}

static CK_RV
ls_C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
            CK_ULONG sig_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (!IN_OK(data, len) || !IN_OK(sig, sig_len))
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_verify(app, h, data, len, sig, sig_len);
	leave();
	return rv;
}

static CK_RV
ls_C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = !IN_OK(part, len) ? CKR_ARGUMENTS_BAD : ls_token_verify_update(app, h, part, len);
	leave();
	return rv;
}

static CK_RV
ls_C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = !IN_OK(sig, sig_len) ? CKR_ARGUMENTS_BAD : ls_token_verify_final(app, h, sig, sig_len);
	leave();
	return rv;
}

static CK_RV
ls_C_VerifyRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK)
		rv = ls_token_verify_recover_init(app, h, mech, key);
	leave();
	return rv;
}

static CK_RV
ls_C_VerifyRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len, CK_BYTE_PTR data,
                   CK_ULONG_PTR data_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	if (!IN_OK(sig, sig_len) || data_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ls_token_verify_recover(app, h, sig, sig_len, data, data_len);
	leave();
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Dual-function calls and the v3.0 message-based functions
 *
 * The engine has neither (token.h): one operation per session and kind, and no message
 * interface, so these answer CKR_FUNCTION_NOT_SUPPORTED, the answer PKCS#11 prescribes for
 * a function a library does not implement.  CK_TOKEN_INFO does not set
 * CKF_DUAL_CRYPTO_OPERATIONS, and no mechanism has a CKF_MESSAGE_* flag, so no application is
 * told otherwise.
 * ------------------------------------------------------------------------------------------- */

/* The library state still comes first: CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize. */
static CK_RV
unsupported(void)
{
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	leave();
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* The dual-function and message-based functions: CKR_FUNCTION_NOT_SUPPORTED. */
#include "p11-unsupported.h"

/* ---------------------------------------------------------------------------------------------
 * Keys and random numbers
 * ------------------------------------------------------------------------------------------- */

static CK_RV
ls_C_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl,
                 CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK && (key == NULL || check_template(tmpl, count) != CKR_OK))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = ls_token_generate_key(app, h, mech, tmpl, count, key);
	leave();
	return rv;
}

static CK_RV
ls_C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_tmpl,
                     CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                     CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK && (pub == NULL || priv == NULL ||
	                     check_template(pub_tmpl, pub_count) != CKR_OK ||
	                     check_template(priv_tmpl, priv_count) != CKR_OK))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = ls_token_generate_key_pair(app, h, mech, pub_tmpl, pub_count, priv_tmpl,
		                                priv_count, pub, priv);
	leave();
	return rv;
}

static CK_RV
ls_C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE wrapping,
             CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK && out_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = ls_token_wrap_key(app, h, mech, wrapping, key, out, out_len);
	leave();
	return rv;
}

static CK_RV
ls_C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE unwrapping,
               CK_BYTE_PTR wrapped, CK_ULONG len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
               CK_OBJECT_HANDLE_PTR key)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK && (key == NULL || !IN_OK(wrapped, len) ||
	                     check_template(tmpl, count) != CKR_OK))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = ls_token_unwrap_key(app, h, mech, unwrapping, wrapped, len, tmpl, count, key);
	leave();
	return rv;
}

static CK_RV
ls_C_DeriveKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base,
               CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK && (key == NULL || check_template(tmpl, count) != CKR_OK))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = ls_token_derive_key(app, h, mech, base, tmpl, count, key);
	leave();
	return rv;
}

static CK_RV
ls_C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = !IN_OK(seed, len) ? CKR_ARGUMENTS_BAD : ls_token_seed_random(app, h, seed, len);
	leave();
	return rv;
}

static CK_RV
ls_C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
	ls_token_app *app;
	CK_RV rv = enter_app(&app);

	if (rv != CKR_OK)
		return rv;
	rv = !IN_OK(out, len) ? CKR_ARGUMENTS_BAD : ls_token_generate_random(app, h, out, len);
	leave();
	return rv;
}

/* Legacy parallel-function management: always CKR_FUNCTION_NOT_PARALLEL (v2.40 5.17). */
static CK_RV
ls_C_GetFunctionStatus(CK_SESSION_HANDLE h)
{
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	leave();
	return CKR_FUNCTION_NOT_PARALLEL;
}

static CK_RV
ls_C_CancelFunction(CK_SESSION_HANDLE h)
{
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	leave();
	return CKR_FUNCTION_NOT_PARALLEL;
}

/* ---------------------------------------------------------------------------------------------
 * The function lists and the exported entry points
 * ------------------------------------------------------------------------------------------- */

LS_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);
LS_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR list, CK_ULONG_PTR count);
LS_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
                               CK_INTERFACE_PTR_PTR iface, CK_FLAGS flags);

static const CK_FUNCTION_LIST functions_2_40 = {
	.version = {2, 40},
	LS_FUNCTIONS_2_40,
};

static const CK_FUNCTION_LIST_3_0 functions_3_0 = {
	.version = {3, 0},
	LS_FUNCTIONS_2_40,
	LS_FUNCTIONS_3_0_ADDED,
};

/* The default (first) interface is v3.0; flags 0: see the fork note at the top. */
static const CK_INTERFACE interfaces[] = {
	{(CK_CHAR *)"PKCS 11", (CK_VOID_PTR)&functions_3_0, 0},
	{(CK_CHAR *)"PKCS 11", (CK_VOID_PTR)&functions_2_40, 0},
};

#define N_INTERFACES (sizeof(interfaces) / sizeof(interfaces[0]))

LS_EXPORT CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	*list = (CK_FUNCTION_LIST_PTR)&functions_2_40;
	return CKR_OK;
}

LS_EXPORT CK_RV
C_GetInterfaceList(CK_INTERFACE_PTR list, CK_ULONG_PTR count)
{
	return ls_p11_interface_list(interfaces, N_INTERFACES, list, count);
}

LS_EXPORT CK_RV
C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, CK_INTERFACE_PTR_PTR iface,
               CK_FLAGS flags)
{
	return ls_p11_interface_find(interfaces, N_INTERFACES, name, version, iface, flags);
}
