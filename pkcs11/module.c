/*
 * LS11CLOUD - libls11cloud.so: the client PKCS#11 module.
 *
 * One slot per account of the user's configuration (account.h); the slot ID is the account's
 * stored number, so it never changes.  Each slot has one connection to its server (conn.h) that
 * carries this process's PKCS#11 application; the C_* functions are a thin boundary (STYLE.md
 * 18): check the library state and the pointer arguments, find the session, then either answer
 * locally or make one remote call (core/rpc.h) and map its answer.
 *
 * What is answered without the network (ARCHITECTURE.md section 5, docs/client-module.md):
 * library, slot and session info; token info for LSC_TOKEN_INFO_TTL_MS after the last look
 * (dropped at once by anything that changes it); the mechanism list and every mechanism's info
 * (one GetMechanismInfoAll per connection); output-length queries whose size is known
 * (signatures, HMACs, digests); immutable attributes of objects already seen; digests with the
 * GOST hash mechanisms (core's Streebog and GOST R 34.11-94); C_FindObjects and
 * C_FindObjectsFinal when C_FindObjectsInit's reply carried every match.  XInit of a one-shot
 * operation (sign, verify, encrypt, decrypt) is checked here and sent with the first X call as
 * one compound request (SignOneShot, ...), so open session + login + find a key + sign is four
 * round trips.  The cost of deferring: an XInit error (a key that cannot sign, ...) is reported
 * by the X call that follows.
 *
 * A single-part call over more input than one message carries goes as its multi-part equivalent
 * (XUpdate pieces + XFinal, op_carry) for the mechanisms the engine runs multi-part.
 *
 * C_Initialize never fails because a server is down or a keyring is locked: the slot then shows
 * no token, and C_WaitForSlotEvent reports when it appears.
 *
 * Threads: C_Initialize and C_Finalize take the state lock for writing, every other call for
 * reading; C_Finalize first stops the connections, so that calls waiting on the network return
 * CKR_CRYPTOKI_NOT_INITIALIZED at once.  Calls in one session are serialised by the session's
 * lock; calls in different sessions run side by side, pipelined over the slot's connection.
 *
 * fork(): the child is not initialised.  Its C_Initialize closes the inherited sockets (close,
 * never shutdown: the parent's connections go on) and starts afresh; the parent's memory is left
 * alone in the child (its threads may have been anywhere in it).  Classic PKCS#11 fork rule, so
 * no interface carries CKF_INTERFACE_FORK_SAFE.
 *
 * Exports: C_GetFunctionList, C_GetInterface, C_GetInterfaceList (module.map).  The interfaces
 * are PKCS#11 3.0 (default), 2.40, and "Vendor LS11CLOUD" (the round-trip counters).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h" /* the build configuration */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "clock.h"
#include "conn.h"
#include "crypto.h"
#include "errors.h"
#include "log.h"
#include "module-private.h"
#include "p11-entry.h"
#include "pkcs11x.h"
#include "rpc.h"
#include "secret.h"

#define LS_EXPORT __attribute__((visibility("default")))

#define LSC_MANUFACTURER "LS11CLOUD"
#define LSC_DESCRIPTION "LS11CLOUD cloud token"
#define LSC_VERSION_MAJOR 0
#define LSC_VERSION_MINOR 1

#define LSC_ENV_STATS "LS11CLOUD_STATS"
/* Input of one update call at most (larger inputs go in several). */
#define LSC_UPDATE_CHUNK ((size_t)512 * 1024)
/*
 * Input of one single-part call at most (it and its output fit one message).  A larger C_Sign,
 * C_Verify, C_Digest, C_Encrypt or C_Decrypt goes as its multi-part equivalent (op_carry).
 */
#define LSC_SINGLE_MAX ((size_t)768 * 1024)

/* ---------------------------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------------------------- */

static struct {
	bool initialized;
	bool finalizing; /* under ev_lock: C_WaitForSlotEvent returns */
	lsc_account **accs;
	size_t naccs;
	lsc_slot *slots;
	size_t nslots;
	/* What a fork left behind: the child's C_Initialize closes its sockets. */
	lsc_slot *stale_slots;
	size_t nstale;
} mod;

/* C_Initialize / C_Finalize / fork() against one another. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
/* Every call against C_Initialize / C_Finalize. */
static pthread_rwlock_t mod_lock = PTHREAD_RWLOCK_INITIALIZER;
/* Slot events. */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t mod_once = PTHREAD_ONCE_INIT;

static void
lock_init(void)
{
	pthread_rwlockattr_t attr;

	if (pthread_rwlockattr_init(&attr) != 0)
		return;
	/* A stream of readers must not starve C_Finalize; no path takes the read lock twice. */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (pthread_rwlock_init(&mod_lock, &attr) != 0)
		mod_lock = (pthread_rwlock_t)PTHREAD_RWLOCK_INITIALIZER;
	pthread_rwlockattr_destroy(&attr);
}

static void
atfork_prepare(void)
{
	pthread_mutex_lock(&init_lock);
}

static void
atfork_parent(void)
{
	pthread_mutex_unlock(&init_lock);
}

/*
 * The child: only the forking thread exists.  Every lock may have been held by a thread that is
 * gone, so each is made anew; the state is set aside for C_Initialize to close its sockets.
 */
static void
atfork_child(void)
{
	if (mod.initialized) {
		mod.stale_slots = mod.slots;
		mod.nstale = mod.nslots;
		mod.slots = NULL;
		mod.nslots = 0;
		mod.accs = NULL;
		mod.naccs = 0;
		mod.initialized = false;
	}
	mod.finalizing = false;
	init_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	ev_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	ev_cond = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	lock_init();
	lsc_sessions_forget();
}

/*
 * The process ends without C_Finalize (many applications just exit): the connections' threads
 * are stopped and joined before libcrypto's own exit handler frees what they use.  Registered
 * after the first ls_crypto_init(), so it runs before that handler (atexit order is reverse).
 */
#define EXIT_JOIN_MS 1000

static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

static void
module_atexit(void)
{
	if (!mod.initialized)
		return;
	for (size_t i = 0; i < mod.nslots; i++)
		lsc_conn_stop(mod.slots[i].conn, CKR_CRYPTOKI_NOT_INITIALIZED);
	for (size_t i = 0; i < mod.nslots; i++)
		if (!lsc_conn_join(mod.slots[i].conn, EXIT_JOIN_MS))
			ls_debug("libls11cloud: a connection thread did not end in time at exit");
}

/*
 * atexit() in a shared object is __cxa_atexit() with the object's handle, so that an unload
 * runs the handler and drops it; called by name it keeps that tie also where atexit() is
 * intercepted (ThreadSanitizer's loses it, and calls an unloaded module's handler at exit).
 */
extern void *__dso_handle;
extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);

static void
module_atexit_cb(void *arg)
{
	(void)arg;
	module_atexit();
}

static void
register_atexit(void)
{
	if (__cxa_atexit(module_atexit_cb, NULL, &__dso_handle) != 0)
		ls_warning("libls11cloud: atexit failed; call C_Finalize before exit()");
}

static void
module_once(void)
{
	lock_init();
	if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0)
		ls_warning("libls11cloud: pthread_atfork failed; do not use the module after fork()");
}

/* ---------------------------------------------------------------------------------------------
 * Slot events (from the connections' threads)
 * ------------------------------------------------------------------------------------------- */

static void
slot_notify(void *user_data, bool present, uint32_t generation)
{
	lsc_slot *slot = user_data;

	/* Sessions of an application the server has forgotten are gone. */
	lsc_session_remove_slot(slot, !present, generation);
	pthread_mutex_lock(&slot->lock);
	slot->ti_valid = false;
	slot->mech_valid = false;
	slot->login_user = LSC_NOBODY;
	lsc_attr_cache_clear(slot);
	pthread_mutex_unlock(&slot->lock);

	pthread_mutex_lock(&ev_lock);
	slot->event = true;
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
	ls_info("libls11cloud: slot %lu (account %s): token %s", slot->id, slot->acc->id,
	        present ? "present" : "removed");
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

static lsc_slot *
slot_find(CK_SLOT_ID id)
{
	for (size_t i = 0; i < mod.nslots; i++)
		if (mod.slots[i].id == id)
			return &mod.slots[i];
	return NULL;
}

/* A call naming a slot: CKR_SLOT_ID_INVALID, or the slot (present or not). */
static CK_RV
enter_slot(CK_SLOT_ID id, lsc_slot **out)
{
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	if ((*out = slot_find(id)) == NULL) {
		leave();
		return CKR_SLOT_ID_INVALID;
	}
	return CKR_OK;
}

/* A call naming a slot that needs its token. */
static CK_RV
enter_token(CK_SLOT_ID id, lsc_slot **out)
{
	CK_RV rv = enter_slot(id, out);

	if (rv != CKR_OK)
		return rv;
	lsc_conn_wait_first((*out)->conn);
	if (!lsc_conn_present((*out)->conn)) {
		leave();
		return CKR_TOKEN_NOT_PRESENT;
	}
	return CKR_OK;
}

/* A call naming a session: the session, referenced and locked. */
static CK_RV
enter_session(CK_SESSION_HANDLE h, lsc_session **out)
{
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	if ((rv = lsc_session_get(h, out)) != CKR_OK) {
		leave();
		return rv;
	}
	pthread_mutex_lock(&(*out)->lock);
	if ((*out)->closed) {
		pthread_mutex_unlock(&(*out)->lock);
		lsc_session_put(*out);
		leave();
		return CKR_SESSION_HANDLE_INVALID;
	}
	return CKR_OK;
}

static void
leave_session(lsc_session *s)
{
	pthread_mutex_unlock(&s->lock);
	lsc_session_put(s);
	leave();
}

static void
pad(CK_UTF8CHAR *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', size);
	memcpy(dst, src, n < size ? n : size);
}

static void
count_local(void)
{
	lsc_stats_add(LSC_STAT_LOCAL, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Remote calls
 * ------------------------------------------------------------------------------------------- */

/* Item @i of a response's body, or NULL when the body has none of @kind there. */
static const ls_rpc_value *
resp_arg(const ls_rpc_msg *msg, size_t i, char kind)
{
	const ls_rpc_value *v;
	size_t n = 0;

	if (msg == NULL || (v = ls_rpc_msg_args(msg, &n)) == NULL || i >= n || v[i].kind != kind)
		return NULL;
	return &v[i];
}

/* A slot-wide call: the server's CK_RV, or why none came; *@msg is set when it answered. */
static CK_RV
call_slot(lsc_slot *slot, uint16_t call, const ls_rpc_value *args, size_t n, ls_rpc_msg **msg)
{
	CK_RV rv = lsc_conn_call(slot->conn, call, args, n, 0, msg);

	return rv != CKR_OK ? rv : ls_rpc_msg_rv(*msg);
}

/*
 * A call in session @s (args[0] is its remote handle).  The server is the judge of a session:
 * one it calls invalid is invalid here too from now on.
 */
static CK_RV
call_session(lsc_session *s, uint16_t call, const ls_rpc_value *args, size_t n,
             ls_rpc_msg **msg)
{
	CK_RV rv = lsc_conn_call(s->slot->conn, call, args, n, s->gen, msg);

	if (rv == CKR_OK)
		rv = ls_rpc_msg_rv(*msg);
	if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED)
		lsc_session_remove(s);
	return rv;
}

/* An 'O' item delivered to the application's buffer, as the C_ function returns it. */
static CK_RV
deliver_out(const ls_rpc_msg *msg, size_t i, CK_RV rv, CK_BYTE *buf, CK_ULONG *len)
{
	const ls_rpc_value *o;

	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		return rv;
	if ((o = resp_arg(msg, i, 'O')) == NULL) {
		ls_warning("libls11cloud: %s: the answer has no output", ls_rpc_call_name(
		                                                              ls_rpc_msg_call(msg)));
		return CKR_DEVICE_ERROR;
	}
	return ls_rpc_output_deliver(o, rv, buf, len);
}

/* A handle item of a response (CKR_DEVICE_ERROR when absent). */
static CK_RV
resp_handle(const ls_rpc_msg *msg, size_t i, CK_ULONG *out)
{
	const ls_rpc_value *v = resp_arg(msg, i, 'h');

	if (v == NULL) {
		ls_warning("libls11cloud: %s: the answer has no handle",
		           ls_rpc_call_name(ls_rpc_msg_call(msg)));
		return CKR_DEVICE_ERROR;
	}
	*out = v->ul;
	return CKR_OK;
}

/* An object handle of the application to the server's form for session @s. */
static CK_RV
obj_in(const lsc_session *s, CK_OBJECT_HANDLE h, CK_ULONG *remote, CK_RV bad)
{
	return lsc_obj_in(s->gen, h, remote) ? CKR_OK : bad;
}

static CK_RV
check_template(const CK_ATTRIBUTE *t, CK_ULONG count)
{
	if (!IN_OK(t, count))
		return CKR_ARGUMENTS_BAD;
	for (CK_ULONG i = 0; i < count; i++)
		if (!IN_OK(t[i].pValue, t[i].ulValueLen))
			return CKR_ARGUMENTS_BAD;
	return CKR_OK;
}

static CK_RV
check_mechanism(const CK_MECHANISM *m)
{
	if (m == NULL)
		return CKR_ARGUMENTS_BAD;
	if (!IN_OK(m->pParameter, m->ulParameterLen))
		return CKR_MECHANISM_PARAM_INVALID;
	/* Refused here, before a round trip, when the protocol cannot carry it. */
	return ls_rpc_mechanism_check(m);
}

/*
 * A mechanism whose parameter holds an object handle (CK_GOSTR3410_KEY_WRAP_PARAMS.hKey)
 * carries it in the server's form: @copy is filled in when a translation is needed and @out
 * points to the mechanism to send.
 */
static CK_RV
mech_in(const lsc_session *s, const CK_MECHANISM *m, CK_MECHANISM *copy,
        CK_GOSTR3410_KEY_WRAP_PARAMS *params, const CK_MECHANISM **out)
{
	*out = m;
	if (ls_rpc_mechanism_param_kind(m->mechanism) == LS_RPC_PARAM_GOST_KEY_WRAP &&
	    m->ulParameterLen == sizeof(*params) && m->pParameter != NULL) {
		CK_ULONG remote;

		memcpy(params, m->pParameter, sizeof(*params));
		if (!lsc_obj_in(s->gen, params->hKey, &remote))
			return CKR_KEY_HANDLE_INVALID;
		params->hKey = remote;
		*copy = *m;
		copy->pParameter = params;
		*out = copy;
	}
	return CKR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * General purpose
 * ------------------------------------------------------------------------------------------- */

static void
slot_clear(lsc_slot *slot)
{
	lsc_attr_cache_clear(slot);
	free(slot->mechs);
	pthread_mutex_destroy(&slot->lock);
}

/* Frees what C_Initialize built (the connections are stopped and freed first). */
static void
state_free(void)
{
	for (size_t i = 0; i < mod.nslots; i++)
		lsc_conn_free(mod.slots[i].conn);
	lsc_sessions_clear();
	for (size_t i = 0; i < mod.nslots; i++)
		slot_clear(&mod.slots[i]);
	free(mod.slots);
	lsc_accounts_free(mod.accs, mod.naccs);
	mod.slots = NULL;
	mod.nslots = 0;
	mod.accs = NULL;
	mod.naccs = 0;
}

static CK_RV
state_open(void)
{
	char *dir = lsc_config_dir();
	CK_RV rv = CKR_OK;
	int err;

	if (ls_crypto_init() != LS_OK)
		ls_warning("libls11cloud: the GOST crypto backend failed; digests go to the server");
	if (dir == NULL) {
		ls_warning("libls11cloud: no configuration directory (set %s or HOME): no slots",
		           LSC_ENV_CONFIG_DIR);
		return CKR_OK;
	}
	err = lsc_accounts_load(dir, &mod.accs, &mod.naccs);
	if (err != LS_OK) {
		ls_error("libls11cloud: cannot read the accounts in %s: %s", dir, ls_strerror(err));
		free(dir);
		return err == LS_ERR_NOMEM ? CKR_HOST_MEMORY : CKR_OK;
	}
	ls_debug("libls11cloud: %zu account(s) in %s", mod.naccs, dir);
	free(dir);
	if (mod.naccs == 0)
		return CKR_OK;
	if ((mod.slots = calloc(mod.naccs, sizeof(*mod.slots))) == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < mod.naccs; i++) {
		lsc_slot *slot = &mod.slots[i];

		slot->id = mod.accs[i]->number;
		slot->acc = mod.accs[i];
		slot->login_user = LSC_NOBODY;
		if (pthread_mutex_init(&slot->lock, NULL) != 0) {
			rv = CKR_HOST_MEMORY;
			break;
		}
		mod.nslots++;
		rv = lsc_conn_start(slot->acc, slot_notify, slot, &slot->conn);
		if (rv != CKR_OK)
			break;
	}
	return rv;
}

/*
 * CK_C_INITIALIZE_ARGS (PKCS#11 v2.40 5.4, 5.5) as the local module takes them.  The module
 * needs its own threads (one per account) and starts them even when the application sets
 * CKF_LIBRARY_CANT_CREATE_OS_THREADS: NSS, p11-kit (so GnuTLS) and OpenSC's tools all set it
 * on their first C_Initialize.  Answering CKR_NEED_TO_CREATE_THREADS made p11-kit and GnuTLS
 * fail, and NSS and OpenSC retry with NULL arguments, NSS then serialising every call to a
 * module it takes as not thread-safe (docs/client-module.md).
 */
static CK_RV
ls_C_Initialize(CK_VOID_PTR init_args)
{
	const CK_C_INITIALIZE_ARGS *args = init_args;
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

	pthread_mutex_lock(&init_lock);
	if (mod.initialized) {
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
		goto out;
	}
	for (size_t i = 0; i < mod.nstale; i++)
		lsc_conn_forget_after_fork(mod.stale_slots[i].conn);
	mod.stale_slots = NULL;
	mod.nstale = 0;

	pthread_rwlock_wrlock(&mod_lock);
	rv = state_open();
	if (rv != CKR_OK)
		state_free();
	else
		mod.initialized = true;
	pthread_rwlock_unlock(&mod_lock);
	if (rv == CKR_OK)
		pthread_once(&atexit_once, register_atexit);
out:
	pthread_mutex_unlock(&init_lock);
	return rv;
}

static CK_RV
ls_C_Finalize(CK_VOID_PTR reserved)
{
	if (reserved != NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_once(&mod_once, module_once);
	pthread_mutex_lock(&init_lock);
	if (!mod.initialized) {
		pthread_mutex_unlock(&init_lock);
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	/* First wake every call that waits: on the network, or for a slot event. */
	pthread_mutex_lock(&ev_lock);
	mod.finalizing = true;
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
	for (size_t i = 0; i < mod.nslots; i++)
		lsc_conn_stop(mod.slots[i].conn, CKR_CRYPTOKI_NOT_INITIALIZED);

	pthread_rwlock_wrlock(&mod_lock);
	state_free();
	mod.initialized = false;
	pthread_mutex_lock(&ev_lock);
	mod.finalizing = false;
	pthread_mutex_unlock(&ev_lock);
	pthread_rwlock_unlock(&mod_lock);
	pthread_mutex_unlock(&init_lock);

	if (secure_getenv(LSC_ENV_STATS) != NULL && strcmp(secure_getenv(LSC_ENV_STATS), "1") == 0)
		lsc_stats_print();
	return CKR_OK;
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
		pad(info->manufacturerID, sizeof(info->manufacturerID), LSC_MANUFACTURER);
		pad(info->libraryDescription, sizeof(info->libraryDescription), LSC_DESCRIPTION);
		info->libraryVersion.major = LSC_VERSION_MAJOR;
		info->libraryVersion.minor = LSC_VERSION_MINOR;
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
	CK_ULONG n = 0;
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	if (count == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	for (size_t i = 0; i < mod.nslots; i++) {
		if (token_present) {
			lsc_conn_wait_first(mod.slots[i].conn);
			if (!lsc_conn_present(mod.slots[i].conn))
				continue;
		}
		if (list != NULL && n < *count)
			list[n] = mod.slots[i].id;
		n++;
	}
	if (list != NULL && *count < n)
		rv = CKR_BUFFER_TOO_SMALL;
	*count = n;
out:
	leave();
	return rv;
}

static CK_RV
ls_C_GetSlotInfo(CK_SLOT_ID id, CK_SLOT_INFO_PTR info)
{
	lsc_slot *slot;
	char desc[128];
	CK_RV rv = enter_slot(id, &slot);

	if (rv != CKR_OK)
		return rv;
	if (info == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		memset(info, 0, sizeof(*info));
		if (slot->acc->label != NULL)
			snprintf(desc, sizeof(desc), "%s", slot->acc->label);
		else
			snprintf(desc, sizeof(desc), "LS11CLOUD %s@%s:%u", slot->acc->nickname,
			         slot->acc->host, (unsigned)slot->acc->port);
		pad(info->slotDescription, sizeof(info->slotDescription), desc);
		pad(info->manufacturerID, sizeof(info->manufacturerID), LSC_MANUFACTURER);
		lsc_conn_wait_first(slot->conn);
		info->flags = CKF_REMOVABLE_DEVICE |
		              (lsc_conn_present(slot->conn) ? CKF_TOKEN_PRESENT : 0);
		info->hardwareVersion.major = LSC_VERSION_MAJOR;
		info->hardwareVersion.minor = LSC_VERSION_MINOR;
		info->firmwareVersion.major = LSC_VERSION_MAJOR;
		info->firmwareVersion.minor = LSC_VERSION_MINOR;
	}
	leave();
	return rv;
}

/* Anything that may change the token info: the next C_GetTokenInfo asks the server. */
static void
token_info_invalidate(lsc_slot *slot)
{
	pthread_mutex_lock(&slot->lock);
	slot->ti_valid = false;
	pthread_mutex_unlock(&slot->lock);
}

static CK_RV
ls_C_GetTokenInfo(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info)
{
	ls_rpc_msg *msg = NULL;
	const ls_rpc_value *v;
	uint32_t gen;
	lsc_slot *slot;
	CK_RV rv = enter_token(id, &slot);

	if (rv != CKR_OK)
		return rv;
	if (info == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	gen = lsc_conn_generation(slot->conn);
	pthread_mutex_lock(&slot->lock);
	if (slot->ti_valid && slot->ti_gen == gen &&
	    ls_now_ms() - slot->ti_time < LSC_TOKEN_INFO_TTL_MS) {
		*info = slot->ti;
		pthread_mutex_unlock(&slot->lock);
		count_local();
		goto out;
	}
	pthread_mutex_unlock(&slot->lock);

	rv = call_slot(slot, LS_RPC_C_GetTokenInfo, NULL, 0, &msg);
	if (rv == CKR_OK) {
		if ((v = resp_arg(msg, 0, 'I')) == NULL || v->token_info == NULL) {
			rv = CKR_DEVICE_ERROR;
			goto out;
		}
		*info = *v->token_info;
		pthread_mutex_lock(&slot->lock);
		slot->ti = *info;
		slot->ti_valid = true;
		slot->ti_gen = gen;
		slot->ti_time = ls_now_ms();
		pthread_mutex_unlock(&slot->lock);
	}
out:
	ls_rpc_msg_free(msg);
	leave();
	return rv;
}

/*
 * Waits for a token to appear or disappear.  Without CKF_DONT_BLOCK the call blocks until an
 * event or C_Finalize (then CKR_CRYPTOKI_NOT_INITIALIZED, as PKCS#11 says).
 */
static CK_RV
ls_C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
	CK_RV rv = enter();

	if (rv != CKR_OK)
		return rv;
	if (slot == NULL || reserved != NULL) {
		leave();
		return CKR_ARGUMENTS_BAD;
	}
	pthread_mutex_lock(&ev_lock);
	for (;;) {
		size_t i;

		if (mod.finalizing) {
			rv = CKR_CRYPTOKI_NOT_INITIALIZED;
			break;
		}
		for (i = 0; i < mod.nslots; i++)
			if (mod.slots[i].event)
				break;
		if (i < mod.nslots) {
			mod.slots[i].event = false;
			*slot = mod.slots[i].id;
			rv = CKR_OK;
			break;
		}
		if (flags & CKF_DONT_BLOCK) {
			rv = CKR_NO_EVENT;
			break;
		}
		pthread_cond_wait(&ev_cond, &ev_lock);
	}
	pthread_mutex_unlock(&ev_lock);
	leave();
	return rv;
}

/* The mechanism cache of @slot, filled by one GetMechanismInfoAll; slot->lock held on success. */
static CK_RV
mechanisms_lock(lsc_slot *slot)
{
	uint32_t gen = lsc_conn_generation(slot->conn);
	ls_rpc_msg *msg = NULL;
	const ls_rpc_value *v;
	ls_rpc_mech_entry *copy = NULL;
	CK_RV rv;

	pthread_mutex_lock(&slot->lock);
	if (slot->mech_valid && slot->mech_gen == gen) {
		count_local();
		return CKR_OK;
	}
	pthread_mutex_unlock(&slot->lock);

	rv = call_slot(slot, LS_RPC_GetMechanismInfoAll, NULL, 0, &msg);
	if (rv != CKR_OK)
		goto out;
	if ((v = resp_arg(msg, 0, 'W')) == NULL) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	if (v->mechs.n > 0) {
		if ((copy = malloc(v->mechs.n * sizeof(*copy))) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		memcpy(copy, v->mechs.v, v->mechs.n * sizeof(*copy));
	}
	pthread_mutex_lock(&slot->lock);
	free(slot->mechs);
	slot->mechs = copy;
	slot->nmechs = v->mechs.n;
	slot->mech_valid = true;
	slot->mech_gen = gen;
	ls_rpc_msg_free(msg);
	return CKR_OK;
out:
	ls_rpc_msg_free(msg);
	return rv;
}

static CK_RV
ls_C_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	lsc_slot *slot;
	CK_RV rv = enter_token(id, &slot);

	if (rv != CKR_OK)
		return rv;
	if (count == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else if ((rv = mechanisms_lock(slot)) == CKR_OK) {
		if (list != NULL && *count < slot->nmechs) {
			rv = CKR_BUFFER_TOO_SMALL;
		} else if (list != NULL) {
			for (CK_ULONG i = 0; i < slot->nmechs; i++)
				list[i] = slot->mechs[i].type;
		}
		*count = slot->nmechs;
		pthread_mutex_unlock(&slot->lock);
	}
	leave();
	return rv;
}

static CK_RV
ls_C_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	lsc_slot *slot;
	CK_RV rv = enter_token(id, &slot);

	if (rv != CKR_OK)
		return rv;
	if (info == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else if ((rv = mechanisms_lock(slot)) == CKR_OK) {
		rv = CKR_MECHANISM_INVALID;
		for (CK_ULONG i = 0; i < slot->nmechs; i++) {
			if (slot->mechs[i].type == type) {
				*info = slot->mechs[i].info;
				rv = CKR_OK;
				break;
			}
		}
		pthread_mutex_unlock(&slot->lock);
	}
	leave();
	return rv;
}

static CK_RV
ls_C_InitToken(CK_SLOT_ID id, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label)
{
	ls_rpc_msg *msg = NULL;
	lsc_slot *slot;
	CK_RV rv = enter_token(id, &slot);

	if (rv != CKR_OK)
		return rv;
	/* No protected authentication path: the SO PIN comes with the call. */
	if (pin == NULL || label == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		ls_rpc_value args[] = {LS_RPC_PIN(pin, pin_len), LS_RPC_LABEL(label)};

		rv = call_slot(slot, LS_RPC_C_InitToken, args, 2, &msg);
		token_info_invalidate(slot);
		if (rv == CKR_OK) {
			pthread_mutex_lock(&slot->lock);
			slot->login_user = LSC_NOBODY;
			lsc_attr_cache_clear(slot);
			pthread_mutex_unlock(&slot->lock);
		}
	}
	ls_rpc_msg_free(msg);
	leave();
	return rv;
}

static CK_RV
ls_C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	ls_rpc_msg *msg = NULL;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (pin == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_PIN(pin, pin_len)};

		rv = call_session(s, LS_RPC_C_InitPIN, args, 2, &msg);
		token_info_invalidate(s->slot);
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
            CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
	ls_rpc_msg *msg = NULL;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (old_pin == NULL || new_pin == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_PIN(old_pin, old_len),
		                       LS_RPC_PIN(new_pin, new_len)};

		rv = call_session(s, LS_RPC_C_SetPIN, args, 3, &msg);
		token_info_invalidate(s->slot);
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Sessions and login
 * ------------------------------------------------------------------------------------------- */

/* The notification callback is never called: no operation of ours surrenders control. */
static CK_RV
ls_C_OpenSession(CK_SLOT_ID id, CK_FLAGS flags, CK_VOID_PTR application, CK_NOTIFY notify,
                 CK_SESSION_HANDLE_PTR h)
{
	ls_rpc_msg *msg = NULL;
	lsc_session *s = NULL;
	CK_ULONG remote = 0;
	lsc_slot *slot;
	CK_RV rv = enter_token(id, &slot);

	if (rv != CKR_OK)
		return rv;
	if (h == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		ls_rpc_value args[] = {LS_RPC_ULONG(flags)};

		rv = call_slot(slot, LS_RPC_C_OpenSession, args, 1, &msg);
		if (rv == CKR_OK)
			rv = resp_handle(msg, 0, &remote);
		if (rv == CKR_OK && (s = calloc(1, sizeof(*s))) == NULL)
			rv = CKR_HOST_MEMORY;
		if (rv == CKR_OK) {
			s->slot = slot;
			s->remote = remote;
			s->gen = lsc_conn_generation(slot->conn);
			s->flags = flags;
			rv = lsc_session_add(s);
			if (rv == CKR_OK) {
				*h = s->handle;
				s = NULL;
			}
		}
		free(s);
	}
	ls_rpc_msg_free(msg);
	leave();
	return rv;
}

/* After the last session of @slot closed: the application is logged out (PKCS#11 5.6). */
static void
slot_sessions_gone(lsc_slot *slot)
{
	pthread_mutex_lock(&slot->lock);
	slot->login_user = LSC_NOBODY;
	lsc_attr_cache_forget_session_objects(slot);
	lsc_attr_cache_forget_private(slot);
	slot->ti_valid = false;
	pthread_mutex_unlock(&slot->lock);
}

static CK_RV
ls_C_CloseSession(CK_SESSION_HANDLE h)
{
	ls_rpc_msg *msg = NULL;
	lsc_session *s;
	lsc_slot *slot;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	slot = s->slot;
	{
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote)};

		rv = call_session(s, LS_RPC_C_CloseSession, args, 1, &msg);
	}
	/* Closed on the server, or unreachable there: either way gone for the application. */
	if (rv == CKR_OK || rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT)
		lsc_session_remove(s);
	if (rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT)
		rv = CKR_OK;
	if (rv == CKR_OK && lsc_session_count(slot) == 0)
		slot_sessions_gone(slot);
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_CloseAllSessions(CK_SLOT_ID id)
{
	ls_rpc_msg *msg = NULL;
	lsc_slot *slot;
	CK_RV rv = enter_slot(id, &slot);

	if (rv != CKR_OK)
		return rv;
	if (lsc_session_count(slot) == 0) {
		/* Nothing to close: no need to ask (and it works without a token too). */
		count_local();
		rv = lsc_conn_present(slot->conn) ? CKR_OK : CKR_TOKEN_NOT_PRESENT;
	} else {
		rv = call_slot(slot, LS_RPC_C_CloseAllSessions, NULL, 0, &msg);
		if (rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT)
			rv = CKR_OK;
		if (rv == CKR_OK) {
			lsc_session_remove_slot(slot, true, 0);
			slot_sessions_gone(slot);
		}
	}
	ls_rpc_msg_free(msg);
	leave();
	return rv;
}

/* Computed here: the application's login state is tracked by the module (one per slot). */
static CK_RV
ls_C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
	lsc_session *s;
	CK_ULONG user;
	bool rw;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (info == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		pthread_mutex_lock(&s->slot->lock);
		user = s->slot->login_gen == s->gen ? s->slot->login_user : LSC_NOBODY;
		pthread_mutex_unlock(&s->slot->lock);
		rw = (s->flags & CKF_RW_SESSION) != 0;
		memset(info, 0, sizeof(*info));
		info->slotID = s->slot->id;
		info->flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
		if (user == CKU_SO)
			info->state = CKS_RW_SO_FUNCTIONS;
		else if (user == CKU_USER)
			info->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
		else
			info->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
		info->ulDeviceError = 0;
		count_local();
	}
	leave_session(s);
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Operations: what the module keeps per session and kind
 * ------------------------------------------------------------------------------------------- */

static const struct {
	uint16_t init, oneshot, single, update, final;
} op_calls[LSC_OP_KINDS] = {
	[LSC_OP_ENCRYPT] = {LS_RPC_C_EncryptInit, LS_RPC_EncryptOneShot, LS_RPC_C_Encrypt,
	                    LS_RPC_C_EncryptUpdate, LS_RPC_C_EncryptFinal},
	[LSC_OP_DECRYPT] = {LS_RPC_C_DecryptInit, LS_RPC_DecryptOneShot, LS_RPC_C_Decrypt,
	                    LS_RPC_C_DecryptUpdate, LS_RPC_C_DecryptFinal},
	[LSC_OP_DIGEST] = {LS_RPC_C_DigestInit, 0, LS_RPC_C_Digest, LS_RPC_C_DigestUpdate,
	                   LS_RPC_C_DigestFinal},
	[LSC_OP_SIGN] = {LS_RPC_C_SignInit, LS_RPC_SignOneShot, LS_RPC_C_Sign, LS_RPC_C_SignUpdate,
	                 LS_RPC_C_SignFinal},
	[LSC_OP_VERIFY] = {LS_RPC_C_VerifyInit, LS_RPC_VerifyOneShot, LS_RPC_C_Verify,
	                   LS_RPC_C_VerifyUpdate, LS_RPC_C_VerifyFinal},
};

/* The output length of the running operation of @kind when the module knows it, else 0. */
static CK_ULONG
op_known_length(const lsc_op *op, lsc_op_kind kind)
{
	if (op->state == LSC_OPS_NONE)
		return 0;
	if (kind == LSC_OP_SIGN)
		return lsc_sign_length(op->mech);
	if (kind == LSC_OP_DIGEST)
		return lsc_digest_length(op->mech);
	return 0;
}

/* After an X or XFinal call: the server keeps the operation only for a length answer. */
static void
op_after(lsc_op *op, CK_RV rv, bool length_query)
{
	if (rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && length_query)) {
		if (op->state == LSC_OPS_DEFERRED) {
			CK_MECHANISM_TYPE m = op->mech;

			lsc_op_clear(op);
			op->mech = m;
		}
		op->state = LSC_OPS_REMOTE;
	} else {
		lsc_op_clear(op);
	}
}

/* Sends a deferred XInit on its own: before an update, a final, or an operation-state call. */
static CK_RV
op_flush(lsc_session *s, lsc_op_kind kind)
{
	lsc_op *op = &s->ops[kind];
	ls_rpc_msg *msg = NULL;
	CK_MECHANISM_TYPE m;
	CK_RV rv;

	if (op->state != LSC_OPS_DEFERRED)
		return CKR_OK;
	{
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_MECHANISM(&op->mechanism),
		                       LS_RPC_HANDLE(op->key)};

		rv = call_session(s, op_calls[kind].init, args, 3, &msg);
	}
	ls_rpc_msg_free(msg);
	m = op->mech;
	lsc_op_clear(op);
	if (rv == CKR_OK) {
		op->state = LSC_OPS_REMOTE;
		op->mech = m;
	}
	return rv;
}

/* XInit.  @key is ignored for digests. */
static CK_RV
op_init(lsc_session *s, lsc_op_kind kind, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	lsc_op *op = &s->ops[kind];
	CK_GOSTR3410_KEY_WRAP_PARAMS wp;
	const CK_MECHANISM *send;
	CK_MECHANISM copy;
	ls_rpc_msg *msg = NULL;
	CK_ULONG rkey = 0;
	int md;
	CK_RV rv;

	if (op->state == LSC_OPS_DEFERRED || op->state == LSC_OPS_LOCAL)
		return CKR_OPERATION_ACTIVE;
	if ((rv = check_mechanism(mech)) != CKR_OK)
		return rv;

	if (kind == LSC_OP_DIGEST && op->state == LSC_OPS_NONE &&
	    (md = lsc_local_digest(mech)) != 0 && ls_md_new((ls_md_alg)md, &op->md) == LS_OK) {
		op->state = LSC_OPS_LOCAL;
		op->mech = mech->mechanism;
		op->updated = false;
		count_local();
		return CKR_OK;
	}
	if (kind != LSC_OP_DIGEST && (rv = obj_in(s, key, &rkey, CKR_KEY_HANDLE_INVALID)) != CKR_OK)
		return rv;

	/* Kept here and sent with the first X call (one round trip for XInit + X). */
	if (kind != LSC_OP_DIGEST && op->state == LSC_OPS_NONE &&
	    (mech->ulParameterLen == 0 ||
	     ls_rpc_mechanism_param_kind(mech->mechanism) == LS_RPC_PARAM_BYTES)) {
		op->mechanism = *mech;
		op->mechanism.pParameter = NULL;
		if (mech->ulParameterLen > 0) {
			if ((op->param = malloc(mech->ulParameterLen)) == NULL)
				return CKR_HOST_MEMORY;
			memcpy(op->param, mech->pParameter, mech->ulParameterLen);
			op->mechanism.pParameter = op->param;
		}
		op->key = rkey;
		op->mech = mech->mechanism;
		op->state = LSC_OPS_DEFERRED;
		count_local();
		return CKR_OK;
	}

	if ((rv = mech_in(s, mech, &copy, &wp, &send)) != CKR_OK)
		return rv;
	if (kind == LSC_OP_DIGEST) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_MECHANISM(send)};

		rv = call_session(s, op_calls[kind].init, args, 2, &msg);
	} else {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_MECHANISM(send),
		                       LS_RPC_HANDLE(rkey)};

		rv = call_session(s, op_calls[kind].init, args, 3, &msg);
	}
	ls_rpc_msg_free(msg);
	ls_wipe(&wp, sizeof(wp));
	if (rv == CKR_OK) {
		op->state = LSC_OPS_REMOTE;
		op->mech = mech->mechanism;
	}
	return rv;
}

/* A local digest's final: @data (may be NULL) then the value, with PKCS#11's length rules. */
static CK_RV
op_local_digest(lsc_op *op, const CK_BYTE *data, CK_ULONG len, CK_BYTE *out, CK_ULONG *out_len)
{
	uint8_t md[LS_MD_MAX_SIZE];
	CK_ULONG size = lsc_digest_length(op->mech);

	count_local();
	if (out == NULL) {
		*out_len = size;
		return CKR_OK;
	}
	if (*out_len < size) {
		*out_len = size;
		return CKR_BUFFER_TOO_SMALL;
	}
	if ((len > 0 && ls_md_update(op->md, data, len) != LS_OK) ||
	    ls_md_final(op->md, md, sizeof(md)) != LS_OK) {
		lsc_op_clear(op);
		return CKR_FUNCTION_FAILED;
	}
	memcpy(out, md, size);
	*out_len = size;
	ls_wipe(md, sizeof(md));
	lsc_op_clear(op);
	return CKR_OK;
}

static CK_RV op_update(lsc_session *s, lsc_op_kind kind, const CK_BYTE *part, CK_ULONG len);
static CK_RV op_final(lsc_session *s, lsc_op_kind kind, CK_BYTE *out, CK_ULONG *out_len);

/*
 * Whether a single-part operation of @kind with @mech over @len bytes can go as its multi-part
 * equivalent, and then in *@need the exact length of its output.  Not for the single-part-only
 * mechanisms (MGM, raw CKM_GOSTR3410 on a digest) nor for those the engine does not list: such
 * a large input keeps the length error of its single call.
 */
static bool
op_carry_length(lsc_op_kind kind, CK_MECHANISM_TYPE mech, CK_ULONG len, CK_ULONG *need)
{
	switch (kind) {
	case LSC_OP_ENCRYPT:
	case LSC_OP_DECRYPT:
		switch (mech) {
		case CKM_KUZNYECHIK_ECB:
		case CKM_MAGMA_ECB:
		case CKM_GOST28147_ECB:
		case CKM_KUZNYECHIK_CTR_ACPKM:
		case CKM_MAGMA_CTR_ACPKM:
		case CKM_GOST28147:
			/* ECB, counter and CFB modes: the output is as long as the input. */
			*need = len;
			return true;
		default:
			return false;
		}
	case LSC_OP_SIGN:
	case LSC_OP_VERIFY:
		switch (mech) {
		case CKM_GOSTR3410:
		case CKM_GOSTR3410_512:
			return false;
		case CKM_KUZNYECHIK_MAC:
			*need = 16;
			return true;
		case CKM_MAGMA_MAC:
			*need = 8;
			return true;
		case CKM_GOST28147_MAC:
			*need = 4;
			return true;
		default:
			*need = lsc_sign_length(mech);
			return *need != 0;
		}
	case LSC_OP_DIGEST:
		*need = lsc_digest_length(mech);
		return *need != 0;
	default:
		return false;
	}
}

/*
 * A single-part X over more than one message carries: XUpdate in pieces, then XFinal, with the
 * single call's rules.  The length query and CKR_BUFFER_TOO_SMALL are answered here and keep the
 * operation; any other error ends the operation (the server ended its part with it).
 */
static CK_RV
op_carry(lsc_session *s, lsc_op_kind kind, const CK_BYTE *data, CK_ULONG len, CK_BYTE *out,
         CK_ULONG *out_len, CK_ULONG need)
{
	lsc_op *op = &s->ops[kind];
	CK_ULONG done = 0;
	CK_RV rv;

	if (out == NULL || *out_len < need) {
		count_local();
		*out_len = need;
		return out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
	}
	if (kind != LSC_OP_ENCRYPT && kind != LSC_OP_DECRYPT) {
		if ((rv = op_update(s, kind, data, len)) != CKR_OK)
			return rv;
		return op_final(s, kind, out, out_len);
	}
	if ((rv = op_flush(s, kind)) != CKR_OK)
		return rv;
	while (rv == CKR_OK && len > 0) {
		CK_ULONG n = len > LSC_UPDATE_CHUNK ? (CK_ULONG)LSC_UPDATE_CHUNK : len;
		CK_ULONG got = *out_len - done;
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_BYTES(data, n),
		                       LS_RPC_OUT(out + done, got)};
		ls_rpc_msg *msg = NULL;

		rv = call_session(s, op_calls[kind].update, args, 3, &msg);
		rv = deliver_out(msg, 0, rv, out + done, &got);
		ls_rpc_msg_free(msg);
		if (rv == CKR_OK)
			done += got;
		data += n;
		len -= n;
	}
	if (rv == CKR_OK) {
		CK_ULONG got = *out_len - done;
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_OUT(out + done, got)};
		ls_rpc_msg *msg = NULL;

		rv = call_session(s, op_calls[kind].final, args, 2, &msg);
		rv = deliver_out(msg, 0, rv, out + done, &got);
		ls_rpc_msg_free(msg);
		if (rv == CKR_OK)
			done += got;
	}
	if (rv == CKR_BUFFER_TOO_SMALL) {
		/* The output is never longer than op_carry_length said: the server disagrees. */
		ls_warning("libls11cloud: %s: the output of %lu bytes is longer than expected",
		           ls_rpc_call_name(op_calls[kind].update), (unsigned long)len);
		rv = CKR_DEVICE_ERROR;
	}
	if (rv == CKR_OK)
		*out_len = done;
	lsc_op_clear(op);
	return rv;
}

/*
 * After a single call over an input no message carries (CKR_DATA_LEN_RANGE or
 * CKR_ENCRYPTED_DATA_LEN_RANGE from the encoder: nothing was sent) for a mechanism that is
 * single-part only: the error ends the operation, so the server's must end too.  An empty
 * update does it (the engine answers a single-part-only mechanism's update with
 * CKR_FUNCTION_NOT_SUPPORTED and ends the operation); its answer is not the caller's.
 */
static void
op_end_remote(lsc_session *s, lsc_op_kind kind)
{
	CK_BYTE none = 0;
	ls_rpc_msg *msg = NULL;

	if (kind == LSC_OP_ENCRYPT || kind == LSC_OP_DECRYPT) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_BYTES(&none, 0),
		                       LS_RPC_OUT(&none, 0)};

		(void)call_session(s, op_calls[kind].update, args, 3, &msg);
	} else {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_BYTES(&none, 0)};

		(void)call_session(s, op_calls[kind].update, args, 2, &msg);
	}
	ls_rpc_msg_free(msg);
}

/* X: single-part Encrypt, Decrypt, Digest, Sign. */
static CK_RV
op_single(lsc_session *s, lsc_op_kind kind, const CK_BYTE *data, CK_ULONG len, CK_BYTE *out,
          CK_ULONG *out_len)
{
	lsc_op *op = &s->ops[kind];
	ls_rpc_msg *msg = NULL;
	CK_ULONG known;
	CK_RV rv;

	switch (op->state) {
	case LSC_OPS_NONE:
		count_local();
		return CKR_OPERATION_NOT_INITIALIZED;
	default:
		break;
	}
	/* After an update, a single-part call is refused and the operation goes on (the engine's
	 * rule, kept here so the module's state stays the server's). */
	if (op->updated) {
		count_local();
		return CKR_OPERATION_ACTIVE;
	}
	if (op->state == LSC_OPS_LOCAL)
		return op_local_digest(op, data, len, out, out_len);
	if (len > LSC_SINGLE_MAX && op_carry_length(kind, op->mech, len, &known))
		return op_carry(s, kind, data, len, out, out_len, known);

	known = op_known_length(op, kind);
	if (known != 0 && (out == NULL || *out_len < known)) {
		count_local();
		*out_len = known;
		return out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
	}
	if (op->state == LSC_OPS_DEFERRED) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_MECHANISM(&op->mechanism),
		                       LS_RPC_HANDLE(op->key), LS_RPC_BYTES(data, len),
		                       LS_RPC_OUT(out, *out_len)};

		rv = call_session(s, op_calls[kind].oneshot, args, 5, &msg);
	} else {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_BYTES(data, len),
		                       LS_RPC_OUT(out, *out_len)};

		rv = call_session(s, op_calls[kind].single, args, 3, &msg);
		if (len > LSC_SINGLE_MAX &&
		    (rv == CKR_DATA_LEN_RANGE || rv == CKR_ENCRYPTED_DATA_LEN_RANGE))
			op_end_remote(s, kind);
	}
	rv = deliver_out(msg, 0, rv, out, out_len);
	op_after(op, rv, out == NULL);
	ls_rpc_msg_free(msg);
	return rv;
}

/* XUpdate without output (Digest, Sign, Verify), in pieces that fit a message. */
static CK_RV
op_update(lsc_session *s, lsc_op_kind kind, const CK_BYTE *part, CK_ULONG len)
{
	lsc_op *op = &s->ops[kind];
	CK_RV rv;

	switch (op->state) {
	case LSC_OPS_NONE:
		count_local();
		return CKR_OPERATION_NOT_INITIALIZED;
	case LSC_OPS_LOCAL:
		count_local();
		op->updated = true;
		if (len > 0 && ls_md_update(op->md, part, len) != LS_OK) {
			lsc_op_clear(op);
			return CKR_FUNCTION_FAILED;
		}
		return CKR_OK;
	default:
		break;
	}
	if ((rv = op_flush(s, kind)) != CKR_OK)
		return rv;
	do {
		CK_ULONG n = len > LSC_UPDATE_CHUNK ? (CK_ULONG)LSC_UPDATE_CHUNK : len;
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_BYTES(part, n)};
		ls_rpc_msg *msg = NULL;

		rv = call_session(s, op_calls[kind].update, args, 2, &msg);
		ls_rpc_msg_free(msg);
		part += n;
		len -= n;
	} while (rv == CKR_OK && len > 0);
	if (rv != CKR_OK)
		lsc_op_clear(op);
	else
		op->updated = true;
	return rv;
}

/* XUpdate with output (Encrypt, Decrypt). */
static CK_RV
op_update_out(lsc_session *s, lsc_op_kind kind, const CK_BYTE *part, CK_ULONG len, CK_BYTE *out,
              CK_ULONG *out_len)
{
	lsc_op *op = &s->ops[kind];
	ls_rpc_msg *msg = NULL;
	CK_RV rv;

	if (op->state == LSC_OPS_NONE) {
		count_local();
		return CKR_OPERATION_NOT_INITIALIZED;
	}
	if ((rv = op_flush(s, kind)) != CKR_OK)
		return rv;
	{
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_BYTES(part, len),
		                       LS_RPC_OUT(out, *out_len)};

		rv = call_session(s, op_calls[kind].update, args, 3, &msg);
	}
	rv = deliver_out(msg, 0, rv, out, out_len);
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		lsc_op_clear(op);
	else if (rv == CKR_OK)
		op->updated = true;
	ls_rpc_msg_free(msg);
	return rv;
}

/* XFinal with output (Encrypt, Decrypt, Digest, Sign). */
static CK_RV
op_final(lsc_session *s, lsc_op_kind kind, CK_BYTE *out, CK_ULONG *out_len)
{
	lsc_op *op = &s->ops[kind];
	ls_rpc_msg *msg = NULL;
	CK_ULONG known;
	CK_RV rv;

	switch (op->state) {
	case LSC_OPS_NONE:
		count_local();
		return CKR_OPERATION_NOT_INITIALIZED;
	case LSC_OPS_LOCAL:
		return op_local_digest(op, NULL, 0, out, out_len);
	default:
		break;
	}
	known = op_known_length(op, kind);
	if (known != 0 && (out == NULL || *out_len < known)) {
		count_local();
		*out_len = known;
		return out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
	}
	if ((rv = op_flush(s, kind)) != CKR_OK)
		return rv;
	{
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_OUT(out, *out_len)};

		rv = call_session(s, op_calls[kind].final, args, 2, &msg);
	}
	rv = deliver_out(msg, 0, rv, out, out_len);
	op_after(op, rv, out == NULL);
	ls_rpc_msg_free(msg);
	return rv;
}

/* C_Verify and C_VerifyFinal: the operation ends whatever the answer. */
static CK_RV
op_verify(lsc_session *s, bool final, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
          CK_ULONG sig_len)
{
	lsc_op *op = &s->ops[LSC_OP_VERIFY];
	ls_rpc_msg *msg = NULL;
	CK_ULONG need;
	CK_RV rv;

	if (op->state == LSC_OPS_NONE) {
		count_local();
		return CKR_OPERATION_NOT_INITIALIZED;
	}
	if (!final && op->updated) {
		count_local();
		return CKR_OPERATION_ACTIVE;
	}
	if (!final && len > LSC_SINGLE_MAX && op_carry_length(LSC_OP_VERIFY, op->mech, len, &need)) {
		/* Carried as C_VerifyUpdate in pieces + C_VerifyFinal. */
		if ((rv = op_update(s, LSC_OP_VERIFY, data, len)) != CKR_OK)
			return rv;
		final = true;
	}
	if (!final && op->state == LSC_OPS_DEFERRED) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_MECHANISM(&op->mechanism),
		                       LS_RPC_HANDLE(op->key), LS_RPC_BYTES(data, len),
		                       LS_RPC_BYTES(sig, sig_len)};

		rv = call_session(s, LS_RPC_VerifyOneShot, args, 5, &msg);
	} else if ((rv = op_flush(s, LSC_OP_VERIFY)) != CKR_OK) {
		return rv;
	} else if (final) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_BYTES(sig, sig_len)};

		rv = call_session(s, LS_RPC_C_VerifyFinal, args, 2, &msg);
	} else {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_BYTES(data, len),
		                       LS_RPC_BYTES(sig, sig_len)};

		rv = call_session(s, LS_RPC_C_Verify, args, 3, &msg);
	}
	lsc_op_clear(op);
	ls_rpc_msg_free(msg);
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Operation state, login
 * ------------------------------------------------------------------------------------------- */

static CK_RV
ls_C_GetOperationState(CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG_PTR state_len)
{
	ls_rpc_msg *msg = NULL;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (state_len == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	/* A digest computed here has no state the token could take back. */
	if (s->ops[LSC_OP_DIGEST].state == LSC_OPS_LOCAL) {
		rv = CKR_STATE_UNSAVEABLE;
		goto out;
	}
	for (int k = 0; k < LSC_OP_KINDS && rv == CKR_OK; k++)
		rv = op_flush(s, (lsc_op_kind)k);
	if (rv == CKR_OK) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_OUT(state, *state_len)};

		rv = call_session(s, LS_RPC_C_GetOperationState, args, 2, &msg);
		rv = deliver_out(msg, 0, rv, state, state_len);
	}
out:
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_SetOperationState(CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG state_len,
                       CK_OBJECT_HANDLE enc_key, CK_OBJECT_HANDLE auth_key)
{
	ls_rpc_msg *msg = NULL;
	CK_ULONG renc = 0, rauth = 0;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (state == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else if ((rv = obj_in(s, enc_key, &renc, CKR_KEY_HANDLE_INVALID)) == CKR_OK &&
	           (rv = obj_in(s, auth_key, &rauth, CKR_KEY_HANDLE_INVALID)) == CKR_OK) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_BYTES(state, state_len),
		                       LS_RPC_HANDLE(renc), LS_RPC_HANDLE(rauth)};

		rv = call_session(s, LS_RPC_C_SetOperationState, args, 4, &msg);
		if (rv == CKR_OK) {
			/* Whatever ran is replaced by what the state holds: the server knows. */
			for (int k = 0; k < LSC_OP_KINDS; k++) {
				lsc_op_clear(&s->ops[k]);
				s->ops[k].state = LSC_OPS_REMOTE;
			}
		}
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static void
login_done(lsc_session *s, CK_USER_TYPE user, CK_RV rv)
{
	lsc_slot *slot = s->slot;

	pthread_mutex_lock(&slot->lock);
	slot->ti_valid = false;
	if (rv == CKR_OK && (user == CKU_USER || user == CKU_SO)) {
		slot->login_user = user;
		slot->login_gen = s->gen;
	}
	pthread_mutex_unlock(&slot->lock);
}

static CK_RV
ls_C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	ls_rpc_msg *msg = NULL;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (pin == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_ULONG(user),
		                       LS_RPC_PIN(pin, pin_len)};

		rv = call_session(s, LS_RPC_C_Login, args, 3, &msg);
		login_done(s, user, rv);
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_LoginUser(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
               CK_UTF8CHAR_PTR username, CK_ULONG username_len)
{
	ls_rpc_msg *msg = NULL;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (pin == NULL || !IN_OK(username, username_len)) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_ULONG(user),
		                       LS_RPC_PIN(pin, pin_len), LS_RPC_PIN(username, username_len)};

		rv = call_session(s, LS_RPC_C_LoginUser, args, 4, &msg);
		login_done(s, user, rv);
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_Logout(CK_SESSION_HANDLE h)
{
	ls_rpc_msg *msg = NULL;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	{
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote)};

		rv = call_session(s, LS_RPC_C_Logout, args, 1, &msg);
	}
	if (rv == CKR_OK || rv == CKR_USER_NOT_LOGGED_IN) {
		pthread_mutex_lock(&s->slot->lock);
		s->slot->login_user = LSC_NOBODY;
		s->slot->ti_valid = false;
		lsc_attr_cache_forget_private(s->slot);
		pthread_mutex_unlock(&s->slot->lock);
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static const CK_FLAGS op_flags[LSC_OP_KINDS] = {
	[LSC_OP_ENCRYPT] = CKF_ENCRYPT, [LSC_OP_DECRYPT] = CKF_DECRYPT,
	[LSC_OP_DIGEST] = CKF_DIGEST,   [LSC_OP_SIGN] = CKF_SIGN,
	[LSC_OP_VERIFY] = CKF_VERIFY,
};

static CK_RV
ls_C_SessionCancel(CK_SESSION_HANDLE h, CK_FLAGS flags)
{
	ls_rpc_msg *msg = NULL;
	bool remote = false;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	for (int k = 0; k < LSC_OP_KINDS; k++)
		if ((flags & op_flags[k]) && s->ops[k].state == LSC_OPS_REMOTE)
			remote = true;
	if ((flags & CKF_FIND_OBJECTS) && s->find_remote)
		remote = true;
	/* Operations the server knows nothing of end here; others (and other flags) go there. */
	if (remote || (flags & ~(CKF_ENCRYPT | CKF_DECRYPT | CKF_DIGEST | CKF_SIGN | CKF_VERIFY |
	                         CKF_FIND_OBJECTS)) != 0) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_ULONG(flags)};

		rv = call_session(s, LS_RPC_C_SessionCancel, args, 2, &msg);
	} else {
		count_local();
	}
	if (rv == CKR_OK) {
		for (int k = 0; k < LSC_OP_KINDS; k++)
			if (flags & op_flags[k])
				lsc_op_clear(&s->ops[k]);
		if (flags & CKF_FIND_OBJECTS) {
			free(s->found);
			s->found = NULL;
			s->nfound = s->found_pos = 0;
			s->find_active = s->find_remote = s->find_more = false;
		}
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Objects
 * ------------------------------------------------------------------------------------------- */

/* A call whose reply is one new object handle (args[0] the session). */
static CK_RV
call_new_object(lsc_session *s, uint16_t call, const ls_rpc_value *args, size_t n,
                CK_OBJECT_HANDLE *out)
{
	ls_rpc_msg *msg = NULL;
	CK_ULONG remote = 0;
	CK_RV rv = call_session(s, call, args, n, &msg);

	if (rv == CKR_OK)
		rv = resp_handle(msg, 0, &remote);
	if (rv == CKR_OK)
		*out = lsc_obj_out(s->gen, remote);
	ls_rpc_msg_free(msg);
	return rv;
}

static CK_RV
ls_C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                  CK_OBJECT_HANDLE_PTR obj)
{
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (obj == NULL || check_template(tmpl, count) != CKR_OK) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_TEMPLATE(tmpl, count)};

		rv = call_new_object(s, LS_RPC_C_CreateObject, args, 2, obj);
	}
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_CopyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                CK_ULONG count, CK_OBJECT_HANDLE_PTR new_obj)
{
	CK_ULONG robj = 0;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (new_obj == NULL || check_template(tmpl, count) != CKR_OK) {
		rv = CKR_ARGUMENTS_BAD;
	} else if ((rv = obj_in(s, obj, &robj, CKR_OBJECT_HANDLE_INVALID)) == CKR_OK) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_HANDLE(robj),
		                       LS_RPC_TEMPLATE(tmpl, count)};

		rv = call_new_object(s, LS_RPC_C_CopyObject, args, 3, new_obj);
	}
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
	ls_rpc_msg *msg = NULL;
	CK_ULONG robj = 0;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if ((rv = obj_in(s, obj, &robj, CKR_OBJECT_HANDLE_INVALID)) == CKR_OK) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_HANDLE(robj)};

		rv = call_session(s, LS_RPC_C_DestroyObject, args, 2, &msg);
		if (rv == CKR_OK || rv == CKR_OBJECT_HANDLE_INVALID) {
			pthread_mutex_lock(&s->slot->lock);
			lsc_attr_cache_forget(s->slot, obj);
			pthread_mutex_unlock(&s->slot->lock);
		}
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_GetObjectSize(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG_PTR size)
{
	ls_rpc_msg *msg = NULL;
	const ls_rpc_value *v;
	CK_ULONG robj = 0;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (size == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else if ((rv = obj_in(s, obj, &robj, CKR_OBJECT_HANDLE_INVALID)) == CKR_OK) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_HANDLE(robj)};

		rv = call_session(s, LS_RPC_C_GetObjectSize, args, 2, &msg);
		if (rv == CKR_OK) {
			if ((v = resp_arg(msg, 0, 'u')) != NULL)
				*size = v->ul;
			else
				rv = CKR_DEVICE_ERROR;
		}
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                       CK_ULONG count)
{
	ls_rpc_msg *msg = NULL;
	CK_ULONG robj = 0;
	lsc_session *s;
	bool cached;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	/* The values are outputs here: a NULL pValue asks for the length. */
	if (!IN_OK(tmpl, count)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = obj_in(s, obj, &robj, CKR_OBJECT_HANDLE_INVALID)) != CKR_OK)
		goto out;
	pthread_mutex_lock(&s->slot->lock);
	cached = lsc_attr_cache_answer(s->slot, obj, tmpl, count);
	pthread_mutex_unlock(&s->slot->lock);
	if (cached) {
		count_local();
		goto out;
	}
	{
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_HANDLE(robj),
		                       LS_RPC_QUERY(tmpl, count)};

		rv = call_session(s, LS_RPC_C_GetAttributeValue, args, 3, &msg);
	}
	if (rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    rv == CKR_BUFFER_TOO_SMALL) {
		const ls_rpc_value *res = resp_arg(msg, 0, 'R');

		if (res == NULL) {
			rv = CKR_DEVICE_ERROR;
			goto out;
		}
		rv = ls_rpc_attrs_deliver(res, rv, tmpl, count);
		if (rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE ||
		    rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL) {
			pthread_mutex_lock(&s->slot->lock);
			lsc_attr_cache_store(s->slot, obj, tmpl, count);
			pthread_mutex_unlock(&s->slot->lock);
		}
	}
out:
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                       CK_ULONG count)
{
	ls_rpc_msg *msg = NULL;
	CK_ULONG robj = 0;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if ((rv = check_template(tmpl, count)) == CKR_OK &&
	    (rv = obj_in(s, obj, &robj, CKR_OBJECT_HANDLE_INVALID)) == CKR_OK) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_HANDLE(robj),
		                       LS_RPC_TEMPLATE(tmpl, count)};

		rv = call_session(s, LS_RPC_C_SetAttributeValue, args, 3, &msg);
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static void
find_clear(lsc_session *s)
{
	free(s->found);
	s->found = NULL;
	s->nfound = s->found_pos = 0;
	s->find_active = s->find_remote = s->find_more = false;
}

/* Appends the handles of a 'U' item to the session's search results. */
static CK_RV
find_append(lsc_session *s, const ls_rpc_value *v)
{
	CK_OBJECT_HANDLE *found;

	if (v == NULL)
		return CKR_DEVICE_ERROR;
	if (v->ulongs.n == 0)
		return CKR_OK;
	/* What was handed out is dropped, so the list holds only what is still to come. */
	if (s->found_pos > 0) {
		memmove(s->found, s->found + s->found_pos,
		        (s->nfound - s->found_pos) * sizeof(*s->found));
		s->nfound -= s->found_pos;
		s->found_pos = 0;
	}
	found = realloc(s->found, (s->nfound + v->ulongs.n) * sizeof(*found));
	if (found == NULL)
		return CKR_HOST_MEMORY;
	s->found = found;
	for (CK_ULONG i = 0; i < v->ulongs.n; i++)
		s->found[s->nfound++] = lsc_obj_out(s->gen, v->ulongs.v[i]);
	return CKR_OK;
}

/* The reply brings the first LSC_FIND_BATCH handles; with all of them the search is over there. */
static CK_RV
ls_C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
	ls_rpc_msg *msg = NULL;
	const ls_rpc_value *all;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if ((rv = check_template(tmpl, count)) != CKR_OK)
		goto out;
	if (s->find_active) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	{
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_TEMPLATE(tmpl, count),
		                       LS_RPC_ULONG(LSC_FIND_BATCH)};

		rv = call_session(s, LS_RPC_C_FindObjectsInit, args, 3, &msg);
	}
	if (rv != CKR_OK)
		goto out;
	s->find_active = true;
	all = resp_arg(msg, 1, 'b');
	s->find_remote = all == NULL || !all->b;
	s->find_more = s->find_remote;
	rv = find_append(s, resp_arg(msg, 0, 'U'));
	if (rv != CKR_OK) {
		/* The server's search, if it still runs, ends with the session's next search. */
		find_clear(s);
	}
out:
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR objs, CK_ULONG max,
                 CK_ULONG_PTR count)
{
	lsc_session *s;
	bool asked = false;
	CK_ULONG n = 0;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (count == NULL || !IN_OK(objs, max)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (!s->find_active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	while (n < max) {
		if (s->found_pos < s->nfound) {
			objs[n++] = s->found[s->found_pos++];
			continue;
		}
		if (!s->find_more || asked)
			break;
		{
			ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_ULONG(max - n)};
			ls_rpc_msg *msg = NULL;
			const ls_rpc_value *v;

			rv = call_session(s, LS_RPC_C_FindObjects, args, 2, &msg);
			asked = true;
			if (rv == CKR_OK) {
				v = resp_arg(msg, 0, 'U');
				if (v != NULL && v->ulongs.n == 0)
					s->find_more = false;
				rv = find_append(s, v);
			}
			ls_rpc_msg_free(msg);
			if (rv != CKR_OK)
				goto out;
		}
	}
	if (!asked)
		count_local();
	*count = n;
out:
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
	ls_rpc_msg *msg = NULL;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (!s->find_active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
	} else if (s->find_remote) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote)};

		rv = call_session(s, LS_RPC_C_FindObjectsFinal, args, 1, &msg);
		find_clear(s);
	} else {
		count_local();
		find_clear(s);
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Encryption, decryption, digests, signatures
 * ------------------------------------------------------------------------------------------- */

#define SESSION_CALL(h, body)                                                                     \
	do {                                                                                      \
		lsc_session *s;                                                                   \
		CK_RV rv = enter_session((h), &s);                                                \
		if (rv != CKR_OK)                                                                 \
			return rv;                                                                \
		body;                                                                             \
		leave_session(s);                                                                 \
		return rv;                                                                        \
	} while (0)

static CK_RV
ls_C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	SESSION_CALL(h, rv = op_init(s, LSC_OP_ENCRYPT, mech, key));
}

static CK_RV
ls_C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
             CK_ULONG_PTR out_len)
{
	SESSION_CALL(h, rv = (!IN_OK(data, len) || out_len == NULL)
	                             ? CKR_ARGUMENTS_BAD
	                             : op_single(s, LSC_OP_ENCRYPT, data, len, out, out_len));
}

static CK_RV
ls_C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len, CK_BYTE_PTR out,
                   CK_ULONG_PTR out_len)
{
	SESSION_CALL(h, rv = (!IN_OK(part, len) || out_len == NULL)
	                             ? CKR_ARGUMENTS_BAD
	                             : op_update_out(s, LSC_OP_ENCRYPT, part, len, out, out_len));
}

static CK_RV
ls_C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	SESSION_CALL(h, rv = out_len == NULL ? CKR_ARGUMENTS_BAD
	                                     : op_final(s, LSC_OP_ENCRYPT, out, out_len));
}

static CK_RV
ls_C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	SESSION_CALL(h, rv = op_init(s, LSC_OP_DECRYPT, mech, key));
}

static CK_RV
ls_C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
             CK_ULONG_PTR out_len)
{
	SESSION_CALL(h, rv = (!IN_OK(data, len) || out_len == NULL)
	                             ? CKR_ARGUMENTS_BAD
	                             : op_single(s, LSC_OP_DECRYPT, data, len, out, out_len));
}

static CK_RV
ls_C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len, CK_BYTE_PTR out,
                   CK_ULONG_PTR out_len)
{
	SESSION_CALL(h, rv = (!IN_OK(part, len) || out_len == NULL)
	                             ? CKR_ARGUMENTS_BAD
	                             : op_update_out(s, LSC_OP_DECRYPT, part, len, out, out_len));
}

static CK_RV
ls_C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	SESSION_CALL(h, rv = out_len == NULL ? CKR_ARGUMENTS_BAD
	                                     : op_final(s, LSC_OP_DECRYPT, out, out_len));
}

static CK_RV
ls_C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech)
{
	SESSION_CALL(h, rv = op_init(s, LSC_OP_DIGEST, mech, CK_INVALID_HANDLE));
}

static CK_RV
ls_C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
            CK_ULONG_PTR out_len)
{
	SESSION_CALL(h, rv = (!IN_OK(data, len) || out_len == NULL)
	                             ? CKR_ARGUMENTS_BAD
	                             : op_single(s, LSC_OP_DIGEST, data, len, out, out_len));
}

static CK_RV
ls_C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len)
{
	SESSION_CALL(h, rv = !IN_OK(part, len) ? CKR_ARGUMENTS_BAD
	                                       : op_update(s, LSC_OP_DIGEST, part, len));
}

/*
 * A digest computed here takes the key's value from the server (CKA_VALUE), which works for a
 * key that may be read; a sensitive key is CKR_KEY_INDIGESTIBLE then.  A digest running on the
 * server digests the key there.
 */
static CK_RV
digest_key(lsc_session *s, CK_OBJECT_HANDLE key)
{
	lsc_op *op = &s->ops[LSC_OP_DIGEST];
	ls_rpc_msg *msg = NULL;
	CK_ULONG rkey = 0;
	CK_RV rv;

	if (op->state == LSC_OPS_NONE)
		return CKR_OPERATION_NOT_INITIALIZED;
	if ((rv = obj_in(s, key, &rkey, CKR_KEY_HANDLE_INVALID)) != CKR_OK)
		return rv;
	if (op->state == LSC_OPS_LOCAL) {
		CK_BYTE value[1024];
		CK_ATTRIBUTE a = {CKA_VALUE, value, sizeof(value)};
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_HANDLE(rkey),
		                       LS_RPC_QUERY(&a, 1)};

		rv = call_session(s, LS_RPC_C_GetAttributeValue, args, 3, &msg);
		if (rv == CKR_OK)
			rv = ls_rpc_attrs_deliver(resp_arg(msg, 0, 'R'), rv, &a, 1);
		if (rv == CKR_OK && ls_md_update(op->md, value, a.ulValueLen) != LS_OK)
			rv = CKR_FUNCTION_FAILED;
		ls_wipe(value, sizeof(value));
		if (rv == CKR_OBJECT_HANDLE_INVALID)
			rv = CKR_KEY_HANDLE_INVALID;
		else if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
		         rv == CKR_BUFFER_TOO_SMALL)
			rv = CKR_KEY_INDIGESTIBLE;
		if (rv == CKR_OK)
			op->updated = true;
		else if (rv != CKR_KEY_HANDLE_INVALID && rv != CKR_KEY_INDIGESTIBLE)
			lsc_op_clear(op);
	} else {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_HANDLE(rkey)};

		rv = call_session(s, LS_RPC_C_DigestKey, args, 2, &msg);
		if (rv == CKR_OK)
			op->updated = true;
		else if (rv != CKR_KEY_HANDLE_INVALID && rv != CKR_KEY_INDIGESTIBLE)
			lsc_op_clear(op);
	}
	ls_rpc_msg_free(msg);
	return rv;
}

static CK_RV
ls_C_DigestKey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	SESSION_CALL(h, rv = digest_key(s, key));
}

static CK_RV
ls_C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	SESSION_CALL(h, rv = out_len == NULL ? CKR_ARGUMENTS_BAD
	                                     : op_final(s, LSC_OP_DIGEST, out, out_len));
}

static CK_RV
ls_C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	SESSION_CALL(h, rv = op_init(s, LSC_OP_SIGN, mech, key));
}

static CK_RV
ls_C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
          CK_ULONG_PTR sig_len)
{
	SESSION_CALL(h, rv = (!IN_OK(data, len) || sig_len == NULL)
	                             ? CKR_ARGUMENTS_BAD
	                             : op_single(s, LSC_OP_SIGN, data, len, sig, sig_len));
}

static CK_RV
ls_C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len)
{
	SESSION_CALL(h, rv = !IN_OK(part, len) ? CKR_ARGUMENTS_BAD
	                                       : op_update(s, LSC_OP_SIGN, part, len));
}

static CK_RV
ls_C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	SESSION_CALL(h, rv = sig_len == NULL ? CKR_ARGUMENTS_BAD
	                                     : op_final(s, LSC_OP_SIGN, sig, sig_len));
}

static CK_RV
ls_C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	SESSION_CALL(h, rv = op_init(s, LSC_OP_VERIFY, mech, key));
}

static CK_RV
ls_C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
            CK_ULONG sig_len)
{
	SESSION_CALL(h, rv = (!IN_OK(data, len) || !IN_OK(sig, sig_len))
	                             ? CKR_ARGUMENTS_BAD
	                             : op_verify(s, false, data, len, sig, sig_len));
}

static CK_RV
ls_C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len)
{
	SESSION_CALL(h, rv = !IN_OK(part, len) ? CKR_ARGUMENTS_BAD
	                                       : op_update(s, LSC_OP_VERIFY, part, len));
}

static CK_RV
ls_C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	SESSION_CALL(h, rv = !IN_OK(sig, sig_len) ? CKR_ARGUMENTS_BAD
	                                          : op_verify(s, true, NULL, 0, sig, sig_len));
}

/* Sign/verify with recovery: no GOST mechanism has it; the server says so. */
static CK_RV
recover_init(lsc_session *s, uint16_t call, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	CK_GOSTR3410_KEY_WRAP_PARAMS wp;
	const CK_MECHANISM *send;
	ls_rpc_msg *msg = NULL;
	CK_MECHANISM copy;
	CK_ULONG rkey = 0;
	CK_RV rv;

	if ((rv = check_mechanism(mech)) != CKR_OK ||
	    (rv = obj_in(s, key, &rkey, CKR_KEY_HANDLE_INVALID)) != CKR_OK ||
	    (rv = mech_in(s, mech, &copy, &wp, &send)) != CKR_OK)
		return rv;
	{
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_MECHANISM(send),
		                       LS_RPC_HANDLE(rkey)};

		rv = call_session(s, call, args, 3, &msg);
	}
	ls_rpc_msg_free(msg);
	return rv;
}

static CK_RV
recover(lsc_session *s, uint16_t call, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
        CK_ULONG *out_len)
{
	ls_rpc_msg *msg = NULL;
	ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_BYTES(in, in_len),
	                       LS_RPC_OUT(out, *out_len)};
	CK_RV rv = call_session(s, call, args, 3, &msg);

	rv = deliver_out(msg, 0, rv, out, out_len);
	ls_rpc_msg_free(msg);
	return rv;
}

static CK_RV
ls_C_SignRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	SESSION_CALL(h, rv = recover_init(s, LS_RPC_C_SignRecoverInit, mech, key));
}

static CK_RV
ls_C_SignRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
                 CK_ULONG_PTR sig_len)
{
	SESSION_CALL(h, rv = (!IN_OK(data, len) || sig_len == NULL)
	                             ? CKR_ARGUMENTS_BAD
	                             : recover(s, LS_RPC_C_SignRecover, data, len, sig, sig_len));
}

static CK_RV
ls_C_VerifyRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	SESSION_CALL(h, rv = recover_init(s, LS_RPC_C_VerifyRecoverInit, mech, key));
}

static CK_RV
ls_C_VerifyRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len, CK_BYTE_PTR data,
                   CK_ULONG_PTR data_len)
{
	SESSION_CALL(h, rv = (!IN_OK(sig, sig_len) || data_len == NULL)
	                             ? CKR_ARGUMENTS_BAD
	                             : recover(s, LS_RPC_C_VerifyRecover, sig, sig_len, data,
	                                       data_len));
}

/* ---------------------------------------------------------------------------------------------
 * Dual-function calls and the v3.0 message-based functions: not in the protocol (the engine
 * has neither), so CKR_FUNCTION_NOT_SUPPORTED, as the local module answers.
 * ------------------------------------------------------------------------------------------- */

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
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK && (key == NULL || check_template(tmpl, count) != CKR_OK))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_MECHANISM(mech),
		                       LS_RPC_TEMPLATE(tmpl, count)};

		rv = call_new_object(s, LS_RPC_C_GenerateKey, args, 3, key);
	}
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_tmpl,
                     CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                     CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
	ls_rpc_msg *msg = NULL;
	CK_ULONG rpub = 0, rpriv = 0;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK && (pub == NULL || priv == NULL ||
	                     check_template(pub_tmpl, pub_count) != CKR_OK ||
	                     check_template(priv_tmpl, priv_count) != CKR_OK))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_MECHANISM(mech),
		                       LS_RPC_TEMPLATE(pub_tmpl, pub_count),
		                       LS_RPC_TEMPLATE(priv_tmpl, priv_count)};

		rv = call_session(s, LS_RPC_C_GenerateKeyPair, args, 4, &msg);
		if (rv == CKR_OK)
			rv = resp_handle(msg, 0, &rpub);
		if (rv == CKR_OK)
			rv = resp_handle(msg, 1, &rpriv);
		if (rv == CKR_OK) {
			*pub = lsc_obj_out(s->gen, rpub);
			*priv = lsc_obj_out(s->gen, rpriv);
		}
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE wrapping,
             CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	CK_GOSTR3410_KEY_WRAP_PARAMS wp;
	const CK_MECHANISM *send;
	ls_rpc_msg *msg = NULL;
	CK_ULONG rwrap = 0, rkey = 0;
	CK_MECHANISM copy;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK && out_len == NULL)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = obj_in(s, wrapping, &rwrap, CKR_WRAPPING_KEY_HANDLE_INVALID);
	if (rv == CKR_OK)
		rv = obj_in(s, key, &rkey, CKR_KEY_HANDLE_INVALID);
	if (rv == CKR_OK)
		rv = mech_in(s, mech, &copy, &wp, &send);
	if (rv == CKR_OK) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_MECHANISM(send),
		                       LS_RPC_HANDLE(rwrap), LS_RPC_HANDLE(rkey),
		                       LS_RPC_OUT(out, *out_len)};

		rv = call_session(s, LS_RPC_C_WrapKey, args, 5, &msg);
		rv = deliver_out(msg, 0, rv, out, out_len);
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE unwrapping,
               CK_BYTE_PTR wrapped, CK_ULONG len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
               CK_OBJECT_HANDLE_PTR key)
{
	CK_GOSTR3410_KEY_WRAP_PARAMS wp;
	const CK_MECHANISM *send;
	CK_ULONG runwrap = 0;
	CK_MECHANISM copy;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK && (key == NULL || !IN_OK(wrapped, len) ||
	                     check_template(tmpl, count) != CKR_OK))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = obj_in(s, unwrapping, &runwrap, CKR_UNWRAPPING_KEY_HANDLE_INVALID);
	if (rv == CKR_OK)
		rv = mech_in(s, mech, &copy, &wp, &send);
	if (rv == CKR_OK) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_MECHANISM(send),
		                       LS_RPC_HANDLE(runwrap), LS_RPC_BYTES(wrapped, len),
		                       LS_RPC_TEMPLATE(tmpl, count)};

		rv = call_new_object(s, LS_RPC_C_UnwrapKey, args, 5, key);
	}
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_DeriveKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base,
               CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	CK_GOSTR3410_KEY_WRAP_PARAMS wp;
	const CK_MECHANISM *send;
	CK_ULONG rbase = 0;
	CK_MECHANISM copy;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(mech);
	if (rv == CKR_OK && (key == NULL || check_template(tmpl, count) != CKR_OK))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = obj_in(s, base, &rbase, CKR_KEY_HANDLE_INVALID);
	if (rv == CKR_OK)
		rv = mech_in(s, mech, &copy, &wp, &send);
	if (rv == CKR_OK) {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_MECHANISM(send),
		                       LS_RPC_HANDLE(rbase), LS_RPC_TEMPLATE(tmpl, count)};

		rv = call_new_object(s, LS_RPC_C_DeriveKey, args, 4, key);
	}
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len)
{
	ls_rpc_msg *msg = NULL;
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (!IN_OK(seed, len)) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_BYTES(seed, len)};

		rv = call_session(s, LS_RPC_C_SeedRandom, args, 2, &msg);
	}
	ls_rpc_msg_free(msg);
	leave_session(s);
	return rv;
}

static CK_RV
ls_C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
	lsc_session *s;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (!IN_OK(out, len)) {
		rv = CKR_ARGUMENTS_BAD;
		goto done;
	}
	/* One reply carries at most LS_RPC_MAX_OUTPUT bytes; more is asked for in pieces. */
	do {
		CK_ULONG n = len > LS_RPC_MAX_OUTPUT ? (CK_ULONG)LS_RPC_MAX_OUTPUT : len;
		ls_rpc_value args[] = {LS_RPC_HANDLE(s->remote), LS_RPC_ULONG(n)};
		ls_rpc_msg *msg = NULL;
		const ls_rpc_value *v;

		rv = call_session(s, LS_RPC_C_GenerateRandom, args, 2, &msg);
		if (rv == CKR_OK) {
			v = resp_arg(msg, 0, 'y');
			if (v == NULL || v->bytes.len != n) {
				rv = CKR_DEVICE_ERROR;
			} else {
				if (n > 0)
					memcpy(out, v->bytes.ptr, n);
				out += n;
				len -= n;
			}
		}
		ls_rpc_msg_free(msg);
	} while (rv == CKR_OK && len > 0);
done:
	leave_session(s);
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
 * The vendor interface "Vendor LS11CLOUD": the module's counters (docs/client-module.md)
 * ------------------------------------------------------------------------------------------- */

/*
 * C_LS11CLOUD_GetStats: the counters in lsc_stat order (round trips, local answers, connects,
 * resumes, requests re-sent, drops).  @values NULL asks for the count.
 */
static CK_RV
ls_GetStats(CK_ULONG_PTR values, CK_ULONG_PTR count)
{
	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	if (values == NULL) {
		*count = LSC_STAT_COUNT;
		return CKR_OK;
	}
	if (*count < LSC_STAT_COUNT) {
		*count = LSC_STAT_COUNT;
		return CKR_BUFFER_TOO_SMALL;
	}
	for (int i = 0; i < LSC_STAT_COUNT; i++)
		values[i] = lsc_stats_get((lsc_stat)i);
	*count = LSC_STAT_COUNT;
	return CKR_OK;
}

/* C_LS11CLOUD_GetCallStats: the round trips of one RPC call, by name ("C_Sign", "SignOneShot"). */
static CK_RV
ls_GetCallStats(CK_UTF8CHAR_PTR name, CK_ULONG_PTR value)
{
	size_t n;
	const ls_rpc_call *all = ls_rpc_calls(&n);

	if (name == NULL || value == NULL)
		return CKR_ARGUMENTS_BAD;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(all[i].name, (const char *)name) == 0) {
			*value = lsc_stats_call(all[i].id);
			return CKR_OK;
		}
	}
	return CKR_ARGUMENTS_BAD;
}

static CK_RV
ls_ResetStats(void)
{
	lsc_stats_reset();
	return CKR_OK;
}

typedef struct {
	CK_VERSION version;
	CK_RV (*C_LS11CLOUD_GetStats)(CK_ULONG_PTR values, CK_ULONG_PTR count);
	CK_RV (*C_LS11CLOUD_GetCallStats)(CK_UTF8CHAR_PTR name, CK_ULONG_PTR value);
	CK_RV (*C_LS11CLOUD_ResetStats)(void);
} lsc_vendor_functions;

static const lsc_vendor_functions vendor_functions = {
	{1, 0},
	ls_GetStats,
	ls_GetCallStats,
	ls_ResetStats,
};

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
	{(CK_CHAR *)"Vendor LS11CLOUD", (CK_VOID_PTR)&vendor_functions, 0},
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
