/*
 * libls11token.so through dlopen(), as an application sees it: the three exported entry
 * points and the two interfaces, the C_Initialize/C_Finalize rules of PKCS#11, the library
 * state checks of every function, the slot calls, the module's own argument checks, where the
 * database is found, the behaviour without a database, fork() and threads.
 *
 * The module path comes from LS11TOKEN_MODULE (set by meson); every test gets a fresh
 * temporary directory and LS11TOKEN_DB inside it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11x.h"

#define SLOT ((CK_SLOT_ID)1)
#define SO_PIN "87654321"
#define USER_PIN "123456"

static void *lib;
static CK_FUNCTION_LIST_3_0 *f;   /* the v3.0 list */
static CK_FUNCTION_LIST *f2;      /* the v2.40 list */
static char dir[64];
static char db[160];

static void
rmtree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[512];
	struct stat st;

	if (d == NULL) {
		unlink(path);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			rmtree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	rmdir(path);
}

static void
setup(void)
{
	const char *path = getenv("LS11TOKEN_MODULE");
	CK_C_GetInterface get_interface;
	CK_C_GetFunctionList get_function_list;
	CK_INTERFACE_PTR iface = NULL;
	CK_VERSION v3 = {3, 0};

	cr_assert_not_null(path, "LS11TOKEN_MODULE is not set");
	snprintf(dir, sizeof(dir), "/tmp/ls11-module-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/token.db", dir);
	setenv("LS11TOKEN_DB", db, 1);
	unsetenv("LS11TOKEN_CONF");

	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(lib, "dlopen(%s): %s", path, dlerror());
	get_interface = (CK_C_GetInterface)dlsym(lib, "C_GetInterface");
	get_function_list = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	cr_assert_not_null(get_interface);
	cr_assert_not_null(get_function_list);
	cr_assert_eq(get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v3, &iface, 0), CKR_OK);
	f = iface->pFunctionList;
	cr_assert_eq(get_function_list(&f2), CKR_OK);
}

static void
teardown(void)
{
	if (f != NULL)
		f->C_Finalize(NULL);
	if (lib != NULL)
		dlclose(lib);
	rmtree(dir);
}

TestSuite(module, .init = setup, .fini = teardown, .timeout = 120);

/* C_Initialize(NULL), one session, the SO's initialisation and a user PIN. */
static void
init_token(void)
{
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE h;

	memset(label, ' ', sizeof(label));
	memcpy(label, "module-api", 10);
	cr_assert_eq(f->C_Initialize(NULL), CKR_OK);
	cr_assert_eq(f->C_InitToken(SLOT, (CK_UTF8CHAR_PTR)SO_PIN, 8, label), CKR_OK);
	cr_assert_eq(f->C_OpenSession(SLOT, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	             CKR_OK);
	cr_assert_eq(f->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 8), CKR_OK);
	cr_assert_eq(f->C_InitPIN(h, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	cr_assert_eq(f->C_Logout(h), CKR_OK);
	cr_assert_eq(f->C_CloseSession(h), CKR_OK);
}

static CK_SESSION_HANDLE
user_session(void)
{
	CK_SESSION_HANDLE h;
	CK_RV rv;

	cr_assert_eq(f->C_OpenSession(SLOT, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	             CKR_OK);
	rv = f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6);
	cr_assert(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN, "C_Login: 0x%lx", rv);
	return h;
}

/* ---------------------------------------------------------------------------------------------
 * Entry points and interfaces
 * ------------------------------------------------------------------------------------------- */

Test(module, exports_only_the_three_entry_points)
{
	static const char *const hidden[] = {
		"C_Initialize", "C_Finalize", "C_Sign", "C_LoginUser", "ls_token_open",
		"ls_store_sqlite_open", "ls_crypto_init", "ls_log", "sqlite3_open_v2",
	};
	size_t i;

	cr_assert_not_null(dlsym(lib, "C_GetFunctionList"));
	cr_assert_not_null(dlsym(lib, "C_GetInterface"));
	cr_assert_not_null(dlsym(lib, "C_GetInterfaceList"));
	for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		void *sym;

		/* Only what the module itself defines counts; sqlite3 is a dependency. */
		sym = dlsym(lib, hidden[i]);
		if (sym != NULL) {
			Dl_info info;

			cr_assert(dladdr(sym, &info) != 0);
			cr_assert(strstr(info.dli_fname, "ls11token") == NULL,
			          "%s is exported by the module", hidden[i]);
		}
	}
}

Test(module, function_lists_and_interfaces)
{
	CK_C_GetInterfaceList get_list = (CK_C_GetInterfaceList)dlsym(lib, "C_GetInterfaceList");
	CK_C_GetInterface get = (CK_C_GetInterface)dlsym(lib, "C_GetInterface");
	CK_INTERFACE list[4];
	CK_INTERFACE_PTR it = NULL;
	CK_ULONG n = 0;
	CK_VERSION v240 = {2, 40}, v220 = {2, 20}, v30 = {3, 0};

	cr_assert_eq(f2->version.major, 2);
	cr_assert_eq(f2->version.minor, 40);
	cr_assert_eq(f->version.major, 3);
	cr_assert_eq(f->version.minor, 0);
	cr_assert_eq((void *)f->C_GetInterface, (void *)get);
	cr_assert_eq((void *)f->C_GetInterfaceList, (void *)get_list);
	cr_assert_eq((void *)f->C_GetFunctionList, dlsym(lib, "C_GetFunctionList"));
	cr_assert_eq((void *)f2->C_GetFunctionList, dlsym(lib, "C_GetFunctionList"));
	/* The v3.0 list starts with the v2.40 list, member for member. */
	cr_assert_eq((void *)f->C_Sign, (void *)f2->C_Sign);
	cr_assert_eq((void *)f->C_WaitForSlotEvent, (void *)f2->C_WaitForSlotEvent);
	cr_assert_eq(f2->C_GetFunctionList(NULL), CKR_ARGUMENTS_BAD);

	cr_assert_eq(get_list(NULL, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(get_list(NULL, &n), CKR_OK);
	cr_assert_eq(n, 2);
	n = 1;
	cr_assert_eq(get_list(list, &n), CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(n, 2);
	n = 4;
	cr_assert_eq(get_list(list, &n), CKR_OK);
	cr_assert_eq(n, 2);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_VERSION *v = list[i].pFunctionList;

		cr_assert_str_eq((char *)list[i].pInterfaceName, "PKCS 11");
		/* The child of a fork() starts over, so "fork tolerant" would be untrue. */
		cr_assert_eq(list[i].flags, 0);
		cr_assert((v->major == 3 && v->minor == 0) || (v->major == 2 && v->minor == 40));
	}

	cr_assert_eq(get(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
	cr_assert_eq(get(NULL, NULL, &it, 0), CKR_OK);
	cr_assert_eq(((CK_VERSION *)it->pFunctionList)->major, 3, "the default is v3.0");
	cr_assert_eq(get((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &it, 0), CKR_OK);
	cr_assert_eq(it->pFunctionList, (void *)f2);
	cr_assert_eq(get((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &it, 0), CKR_OK);
	cr_assert_eq(it->pFunctionList, (void *)f);
	cr_assert_eq(get((CK_UTF8CHAR_PTR) "PKCS 11", &v220, &it, 0), CKR_FUNCTION_FAILED);
	cr_assert_eq(get((CK_UTF8CHAR_PTR) "Vendor LS11CLOUD", NULL, &it, 0),
	             CKR_FUNCTION_FAILED);
	cr_assert_eq(get(NULL, NULL, &it, CKF_INTERFACE_FORK_SAFE), CKR_FUNCTION_FAILED);
}

/* ---------------------------------------------------------------------------------------------
 * C_Initialize / C_Finalize and the library state
 * ------------------------------------------------------------------------------------------- */

static CK_RV
cb_create(CK_VOID_PTR_PTR m)
{
	*m = NULL;
	return CKR_OK;
}

static CK_RV
cb_mutex(CK_VOID_PTR m)
{
	return CKR_OK;
}

Test(module, initialize_arguments)
{
	CK_C_INITIALIZE_ARGS a;
	int mask;

	memset(&a, 0, sizeof(a));
	a.pReserved = &a;
	cr_assert_eq(f->C_Initialize(&a), CKR_ARGUMENTS_BAD);

	/* Some but not all of the four callbacks, with or without the flag. */
	for (mask = 1; mask < 15; mask++) {
		memset(&a, 0, sizeof(a));
		a.CreateMutex = (mask & 1) ? cb_create : NULL;
		a.DestroyMutex = (mask & 2) ? cb_mutex : NULL;
		a.LockMutex = (mask & 4) ? cb_mutex : NULL;
		a.UnlockMutex = (mask & 8) ? cb_mutex : NULL;
		cr_assert_eq(f->C_Initialize(&a), CKR_ARGUMENTS_BAD, "callbacks %d", mask);
		a.flags = CKF_OS_LOCKING_OK;
		cr_assert_eq(f->C_Initialize(&a), CKR_ARGUMENTS_BAD, "callbacks %d + flag", mask);
	}

	/* All four without CKF_OS_LOCKING_OK: only the application's mutexes would do. */
	memset(&a, 0, sizeof(a));
	a.CreateMutex = cb_create;
	a.DestroyMutex = cb_mutex;
	a.LockMutex = cb_mutex;
	a.UnlockMutex = cb_mutex;
	cr_assert_eq(f->C_Initialize(&a), CKR_CANT_LOCK);
	cr_assert_eq(f->C_GetInfo(&(CK_INFO){0}), CKR_CRYPTOKI_NOT_INITIALIZED,
	             "a refused C_Initialize leaves the library uninitialised");

	/* All four with the flag: our own locks. */
	a.flags = CKF_OS_LOCKING_OK;
	cr_assert_eq(f->C_Initialize(&a), CKR_OK);
	cr_assert_eq(f->C_Initialize(&a), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	cr_assert_eq(f->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	cr_assert_eq(f->C_Finalize(&a), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_Finalize(NULL), CKR_OK);
	cr_assert_eq(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);

	/* The flag alone; no flag and no callbacks; "cannot create threads"; NULL. */
	memset(&a, 0, sizeof(a));
	a.flags = CKF_OS_LOCKING_OK;
	cr_assert_eq(f->C_Initialize(&a), CKR_OK);
	cr_assert_eq(f->C_Finalize(NULL), CKR_OK);
	memset(&a, 0, sizeof(a));
	cr_assert_eq(f->C_Initialize(&a), CKR_OK);
	cr_assert_eq(f->C_Finalize(NULL), CKR_OK);
	a.flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS;
	cr_assert_eq(f->C_Initialize(&a), CKR_OK);
	cr_assert_eq(f->C_Finalize(NULL), CKR_OK);
	cr_assert_eq(f2->C_Initialize(NULL), CKR_OK);
	cr_assert_eq(f2->C_Finalize(NULL), CKR_OK);
}

/* Every function but the four that may come first answers CKR_CRYPTOKI_NOT_INITIALIZED. */
static void
assert_all_not_initialized(void)
{
	CK_ULONG n = 0;
	CK_BYTE b[8];
	CK_INFO info;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_MECHANISM_INFO mi;
	CK_SESSION_INFO ses;
	CK_SESSION_HANDLE h = 0;
	CK_OBJECT_HANDLE o = 0, o2 = 0;
	CK_SLOT_ID slot = 0;
	CK_MECHANISM m = {CKM_GOSTR3411_12_256, NULL, 0};
	CK_MECHANISM_TYPE mt[4];
	CK_RV e = CKR_CRYPTOKI_NOT_INITIALIZED;

	cr_assert_eq(f->C_GetInfo(&info), e);
	cr_assert_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), e);
	cr_assert_eq(f->C_GetSlotInfo(SLOT, &si), e);
	cr_assert_eq(f->C_GetTokenInfo(SLOT, &ti), e);
	cr_assert_eq(f->C_GetMechanismList(SLOT, mt, &n), e);
	cr_assert_eq(f->C_GetMechanismInfo(SLOT, CKM_GOSTR3411_12_256, &mi), e);
	cr_assert_eq(f->C_InitToken(SLOT, b, 8, b), e);
	cr_assert_eq(f->C_InitPIN(1, b, 6), e);
	cr_assert_eq(f->C_SetPIN(1, b, 6, b, 6), e);
	cr_assert_eq(f->C_OpenSession(SLOT, CKF_SERIAL_SESSION, NULL, NULL, &h), e);
	cr_assert_eq(f->C_CloseSession(1), e);
	cr_assert_eq(f->C_CloseAllSessions(SLOT), e);
	cr_assert_eq(f->C_GetSessionInfo(1, &ses), e);
	cr_assert_eq(f->C_GetOperationState(1, NULL, &n), e);
	cr_assert_eq(f->C_SetOperationState(1, b, 8, 0, 0), e);
	cr_assert_eq(f->C_Login(1, CKU_USER, b, 6), e);
	cr_assert_eq(f->C_Logout(1), e);
	cr_assert_eq(f->C_CreateObject(1, NULL, 0, &o), e);
	cr_assert_eq(f->C_CopyObject(1, 1, NULL, 0, &o2), e);
	cr_assert_eq(f->C_DestroyObject(1, 1), e);
	cr_assert_eq(f->C_GetObjectSize(1, 1, &n), e);
	cr_assert_eq(f->C_GetAttributeValue(1, 1, NULL, 0), e);
	cr_assert_eq(f->C_SetAttributeValue(1, 1, NULL, 0), e);
	cr_assert_eq(f->C_FindObjectsInit(1, NULL, 0), e);
	cr_assert_eq(f->C_FindObjects(1, &o, 1, &n), e);
	cr_assert_eq(f->C_FindObjectsFinal(1), e);
	cr_assert_eq(f->C_EncryptInit(1, &m, 1), e);
	cr_assert_eq(f->C_Encrypt(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_EncryptUpdate(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_EncryptFinal(1, b, &n), e);
	cr_assert_eq(f->C_DecryptInit(1, &m, 1), e);
	cr_assert_eq(f->C_Decrypt(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_DecryptUpdate(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_DecryptFinal(1, b, &n), e);
	cr_assert_eq(f->C_DigestInit(1, &m), e);
	cr_assert_eq(f->C_Digest(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_DigestUpdate(1, b, 8), e);
	cr_assert_eq(f->C_DigestKey(1, 1), e);
	cr_assert_eq(f->C_DigestFinal(1, b, &n), e);
	cr_assert_eq(f->C_SignInit(1, &m, 1), e);
	cr_assert_eq(f->C_Sign(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_SignUpdate(1, b, 8), e);
	cr_assert_eq(f->C_SignFinal(1, b, &n), e);
	cr_assert_eq(f->C_SignRecoverInit(1, &m, 1), e);
	cr_assert_eq(f->C_SignRecover(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_VerifyInit(1, &m, 1), e);
	cr_assert_eq(f->C_Verify(1, b, 8, b, 8), e);
	cr_assert_eq(f->C_VerifyUpdate(1, b, 8), e);
	cr_assert_eq(f->C_VerifyFinal(1, b, 8), e);
	cr_assert_eq(f->C_VerifyRecoverInit(1, &m, 1), e);
	cr_assert_eq(f->C_VerifyRecover(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_DigestEncryptUpdate(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_DecryptDigestUpdate(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_SignEncryptUpdate(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_DecryptVerifyUpdate(1, b, 8, b, &n), e);
	cr_assert_eq(f->C_GenerateKey(1, &m, NULL, 0, &o), e);
	cr_assert_eq(f->C_GenerateKeyPair(1, &m, NULL, 0, NULL, 0, &o, &o2), e);
	cr_assert_eq(f->C_WrapKey(1, &m, 1, 2, b, &n), e);
	cr_assert_eq(f->C_UnwrapKey(1, &m, 1, b, 8, NULL, 0, &o), e);
	cr_assert_eq(f->C_DeriveKey(1, &m, 1, NULL, 0, &o), e);
	cr_assert_eq(f->C_SeedRandom(1, b, 8), e);
	cr_assert_eq(f->C_GenerateRandom(1, b, 8), e);
	cr_assert_eq(f->C_GetFunctionStatus(1), e);
	cr_assert_eq(f->C_CancelFunction(1), e);
	cr_assert_eq(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), e);
	cr_assert_eq(f->C_LoginUser(1, CKU_USER, b, 6, b, 4), e);
	cr_assert_eq(f->C_SessionCancel(1, CKF_SIGN), e);
	cr_assert_eq(f->C_MessageEncryptInit(1, &m, 1), e);
	cr_assert_eq(f->C_EncryptMessage(1, NULL, 0, NULL, 0, b, 8, b, &n), e);
	cr_assert_eq(f->C_EncryptMessageBegin(1, NULL, 0, NULL, 0), e);
	cr_assert_eq(f->C_EncryptMessageNext(1, NULL, 0, b, 8, b, &n, 0), e);
	cr_assert_eq(f->C_MessageEncryptFinal(1), e);
	cr_assert_eq(f->C_MessageDecryptInit(1, &m, 1), e);
	cr_assert_eq(f->C_DecryptMessage(1, NULL, 0, NULL, 0, b, 8, b, &n), e);
	cr_assert_eq(f->C_DecryptMessageBegin(1, NULL, 0, NULL, 0), e);
	cr_assert_eq(f->C_DecryptMessageNext(1, NULL, 0, b, 8, b, &n, 0), e);
	cr_assert_eq(f->C_MessageDecryptFinal(1), e);
	cr_assert_eq(f->C_MessageSignInit(1, &m, 1), e);
	cr_assert_eq(f->C_SignMessage(1, NULL, 0, b, 8, b, &n), e);
	cr_assert_eq(f->C_SignMessageBegin(1, NULL, 0), e);
	cr_assert_eq(f->C_SignMessageNext(1, NULL, 0, b, 8, b, &n), e);
	cr_assert_eq(f->C_MessageSignFinal(1), e);
	cr_assert_eq(f->C_MessageVerifyInit(1, &m, 1), e);
	cr_assert_eq(f->C_VerifyMessage(1, NULL, 0, b, 8, b, 8), e);
	cr_assert_eq(f->C_VerifyMessageBegin(1, NULL, 0), e);
	cr_assert_eq(f->C_VerifyMessageNext(1, NULL, 0, b, 8, b, 8), e);
	cr_assert_eq(f->C_MessageVerifyFinal(1), e);
}

Test(module, every_call_before_initialize_and_after_finalize)
{
	assert_all_not_initialized();
	cr_assert_eq(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	cr_assert_eq(f->C_Initialize(NULL), CKR_OK);
	cr_assert_eq(f->C_Finalize(NULL), CKR_OK);
	assert_all_not_initialized();
}

/* ---------------------------------------------------------------------------------------------
 * Library and slot information
 * ------------------------------------------------------------------------------------------- */

Test(module, library_and_slot_info)
{
	CK_INFO info;
	CK_SLOT_INFO si;
	CK_SLOT_ID slots[2];
	CK_ULONG n;

	cr_assert_eq(f->C_Initialize(NULL), CKR_OK);
	cr_assert_eq(f->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GetInfo(&info), CKR_OK);
	cr_assert_eq(info.cryptokiVersion.major, 3);
	cr_assert_eq(info.cryptokiVersion.minor, 0);
	cr_assert(memcmp(info.manufacturerID, "LS11CLOUD                       ", 32) == 0);
	cr_assert_eq(info.flags, 0);
	cr_assert(memchr(info.libraryDescription, '\0', 32) == NULL, "blank padded, no NUL");

	cr_assert_eq(f->C_GetSlotList(CK_FALSE, NULL, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	cr_assert_eq(n, 1);
	n = 0;
	cr_assert_eq(f->C_GetSlotList(CK_FALSE, slots, &n), CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(n, 1);
	n = 2;
	cr_assert_eq(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(slots[0], SLOT);

	cr_assert_eq(f->C_GetSlotInfo(SLOT, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GetSlotInfo(SLOT, &si), CKR_OK);
	cr_assert(si.flags & CKF_TOKEN_PRESENT);
	cr_assert(!(si.flags & CKF_REMOVABLE_DEVICE));
	cr_assert(memcmp(si.manufacturerID, "LS11CLOUD ", 10) == 0);

	cr_assert_eq(f->C_GetSlotInfo(0, &si), CKR_SLOT_ID_INVALID);
	cr_assert_eq(f->C_GetSlotInfo(2, &si), CKR_SLOT_ID_INVALID);
}

Test(module, other_slots_are_invalid)
{
	CK_TOKEN_INFO ti;
	CK_MECHANISM_INFO mi;
	CK_ULONG n = 0;
	CK_SESSION_HANDLE h;

	cr_assert_eq(f->C_Initialize(NULL), CKR_OK);
	cr_assert_eq(f->C_GetTokenInfo(0, &ti), CKR_SLOT_ID_INVALID);
	cr_assert_eq(f->C_GetMechanismList(0, NULL, &n), CKR_SLOT_ID_INVALID);
	cr_assert_eq(f->C_GetMechanismInfo(7, CKM_GOSTR3411_12_256, &mi), CKR_SLOT_ID_INVALID);
	cr_assert_eq(f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_SLOT_ID_INVALID);
	cr_assert_eq(f->C_CloseAllSessions(2), CKR_SLOT_ID_INVALID);
	cr_assert_eq(f->C_InitToken(3, (CK_UTF8CHAR_PTR)SO_PIN, 8,
	                            (CK_UTF8CHAR_PTR) "                                "),
	             CKR_SLOT_ID_INVALID);
}

Test(module, slot_events)
{
	CK_SLOT_ID slot = 99;

	cr_assert_eq(f->C_Initialize(NULL), CKR_OK);
	cr_assert_eq(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_NO_EVENT);
	cr_assert_eq(f->C_WaitForSlotEvent(0, &slot, NULL), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, &slot), CKR_ARGUMENTS_BAD);
}

Test(module, unsupported_functions)
{
	CK_BYTE b[16];
	CK_ULONG n = sizeof(b);
	CK_MECHANISM m = {CKM_KUZNYECHIK_MGM, NULL, 0};

	cr_assert_eq(f->C_Initialize(NULL), CKR_OK);
	cr_assert_eq(f->C_DigestEncryptUpdate(1, b, 8, b, &n), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(f->C_DecryptDigestUpdate(1, b, 8, b, &n), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(f->C_SignEncryptUpdate(1, b, 8, b, &n), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(f->C_DecryptVerifyUpdate(1, b, 8, b, &n), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(f->C_MessageEncryptInit(1, &m, 1), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(f->C_EncryptMessage(1, NULL, 0, NULL, 0, b, 8, b, &n),
	             CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(f->C_MessageDecryptInit(1, &m, 1), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(f->C_MessageSignInit(1, &m, 1), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(f->C_MessageVerifyInit(1, &m, 1), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(f->C_GetFunctionStatus(1), CKR_FUNCTION_NOT_PARALLEL);
	cr_assert_eq(f->C_CancelFunction(1), CKR_FUNCTION_NOT_PARALLEL);
}

/* ---------------------------------------------------------------------------------------------
 * The module's own argument checks (before any engine work)
 * ------------------------------------------------------------------------------------------- */

Test(module, pointer_arguments)
{
	CK_BYTE b[64];
	CK_ULONG n = sizeof(b);
	CK_OBJECT_HANDLE o, o2;
	CK_MECHANISM m = {CKM_GOSTR3411_12_256, NULL, 0};
	CK_MECHANISM bad_param = {CKM_KUZNYECHIK_CTR_ACPKM, NULL, 8};
	CK_ATTRIBUTE bad_value = {CKA_LABEL, NULL, 4};
	CK_SESSION_HANDLE h;

	init_token();
	h = user_session();

	cr_assert_eq(f->C_OpenSession(SLOT, CKF_SERIAL_SESSION, NULL, NULL, NULL),
	             CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GetTokenInfo(SLOT, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GetMechanismList(SLOT, NULL, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GetMechanismInfo(SLOT, CKM_GOSTR3411_12_256, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_InitToken(SLOT, (CK_UTF8CHAR_PTR)SO_PIN, 8, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_InitToken(SLOT, NULL, 8, b), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_Login(h, CKU_USER, NULL, 6), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_InitPIN(h, NULL, 6), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_SetPIN(h, NULL, 6, b, 6), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GetSessionInfo(h, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GetOperationState(h, b, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_CreateObject(h, NULL, 1, &o), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_CreateObject(h, &bad_value, 1, &o), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_CreateObject(h, NULL, 0, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_CopyObject(h, 1, NULL, 0, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GetObjectSize(h, 1, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GetAttributeValue(h, 1, NULL, 2), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_SetAttributeValue(h, 1, &bad_value, 1), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_FindObjectsInit(h, NULL, 1), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_FindObjects(h, NULL, 4, &n), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_FindObjects(h, &o, 1, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_EncryptInit(h, NULL, 1), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_EncryptInit(h, &bad_param, 1), CKR_MECHANISM_PARAM_INVALID);
	cr_assert_eq(f->C_Encrypt(h, NULL, 5, b, &n), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_Encrypt(h, b, 5, b, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_DecryptInit(h, NULL, 1), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_DecryptFinal(h, b, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_DigestInit(h, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_Digest(h, b, 1, b, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_DigestUpdate(h, NULL, 3), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_DigestFinal(h, b, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_SignInit(h, NULL, 1), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_Sign(h, b, 32, b, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_SignUpdate(h, NULL, 1), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_SignFinal(h, b, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_VerifyInit(h, NULL, 1), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_Verify(h, b, 32, NULL, 64), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_VerifyFinal(h, NULL, 64), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GenerateKey(h, &m, NULL, 0, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GenerateKeyPair(h, &m, NULL, 0, NULL, 0, &o, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GenerateKeyPair(h, &m, NULL, 0, NULL, 0, NULL, &o2), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_WrapKey(h, &m, 1, 2, b, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_UnwrapKey(h, &m, 1, NULL, 8, NULL, 0, &o), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_UnwrapKey(h, &m, 1, b, 8, NULL, 0, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_DeriveKey(h, &m, 1, NULL, 0, NULL), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_DeriveKey(h, NULL, 1, NULL, 0, &o), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_SeedRandom(h, NULL, 4), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_GenerateRandom(h, NULL, 4), CKR_ARGUMENTS_BAD);
	cr_assert_eq(f->C_LoginUser(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6, NULL, 3),
	             CKR_ARGUMENTS_BAD);

	/* Nothing above disturbed the session. */
	cr_assert_eq(f->C_GenerateRandom(h, b, 32), CKR_OK);
}

/* ---------------------------------------------------------------------------------------------
 * The token, its database, and no database
 * ------------------------------------------------------------------------------------------- */

Test(module, session_info_names_the_slot)
{
	CK_SESSION_HANDLE h;
	CK_SESSION_INFO si;

	init_token();
	h = user_session();
	cr_assert_eq(f->C_GetSessionInfo(h, &si), CKR_OK);
	cr_assert_eq(si.slotID, SLOT);
	cr_assert_eq(si.state, CKS_RW_USER_FUNCTIONS);
}

Test(module, the_token_is_remembered)
{
	CK_TOKEN_INFO a, b;
	struct stat st;

	cr_assert_eq(f->C_Initialize(NULL), CKR_OK);
	cr_assert_eq(f->C_GetTokenInfo(SLOT, &a), CKR_OK);
	cr_assert(!(a.flags & CKF_TOKEN_INITIALIZED), "a new database holds a fresh token");
	cr_assert_eq(f->C_Finalize(NULL), CKR_OK);

	cr_assert_eq(stat(db, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "the database is private: %o", st.st_mode & 0777);

	init_token();
	cr_assert_eq(f->C_GetTokenInfo(SLOT, &b), CKR_OK);
	cr_assert(memcmp(a.serialNumber, b.serialNumber, 16) == 0, "the same token again");
	cr_assert(b.flags & CKF_TOKEN_INITIALIZED);
	cr_assert(memcmp(b.label, "module-api ", 11) == 0);
	cr_assert_eq(f->C_Finalize(NULL), CKR_OK);
	cr_assert_eq(f->C_Initialize(NULL), CKR_OK);
	cr_assert_eq(f->C_GetTokenInfo(SLOT, &a), CKR_OK);
	cr_assert(memcmp(a.serialNumber, b.serialNumber, 16) == 0);
	cr_assert(a.flags & CKF_TOKEN_INITIALIZED);
	cr_assert(a.flags & CKF_USER_PIN_INITIALIZED);
}

Test(module, no_database_no_token)
{
	CK_SLOT_ID slots[1];
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_MECHANISM_INFO mi;
	CK_SESSION_HANDLE h;
	CK_ULONG n = 1;
	char bad[200];

	/* A path under a regular file cannot be created. */
	snprintf(bad, sizeof(bad), "%s/file", dir);
	fclose(fopen(bad, "w"));
	strcat(bad, "/token.db");
	setenv("LS11TOKEN_DB", bad, 1);

	cr_assert_eq(f->C_Initialize(NULL), CKR_OK, "the application still starts");
	cr_assert_eq(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	cr_assert_eq(n, 0);
	n = 1;
	cr_assert_eq(f->C_GetSlotList(CK_FALSE, slots, &n), CKR_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(f->C_GetSlotInfo(SLOT, &si), CKR_OK);
	cr_assert(!(si.flags & CKF_TOKEN_PRESENT));
	cr_assert_eq(f->C_GetTokenInfo(SLOT, &ti), CKR_TOKEN_NOT_PRESENT);
	cr_assert_eq(f->C_GetMechanismInfo(SLOT, CKM_GOSTR3411_12_256, &mi),
	             CKR_TOKEN_NOT_PRESENT);
	cr_assert_eq(f->C_OpenSession(SLOT, CKF_SERIAL_SESSION, NULL, NULL, &h),
	             CKR_TOKEN_NOT_PRESENT);
	cr_assert_eq(f->C_CloseSession(1), CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(f->C_Finalize(NULL), CKR_OK);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
	fputs(text, fp);
	fclose(fp);
}

static void
assert_creates(const char *path)
{
	struct stat st;

	cr_assert_neq(stat(path, &st), 0, "%s exists before C_Initialize", path);
	cr_assert_eq(f->C_Initialize(NULL), CKR_OK);
	cr_assert_eq(f->C_GetSlotInfo(SLOT, &(CK_SLOT_INFO){0}), CKR_OK);
	cr_assert_eq(f->C_GetTokenInfo(SLOT, &(CK_TOKEN_INFO){0}), CKR_OK);
	cr_assert_eq(f->C_Finalize(NULL), CKR_OK);
	cr_assert_eq(stat(path, &st), 0, "%s was not created", path);
}

Test(module, configuration_file)
{
	char conf[200], text[400], want[200];

	unsetenv("LS11TOKEN_DB");
	snprintf(conf, sizeof(conf), "%s/my.conf", dir);
	snprintf(want, sizeof(want), "%s/from-conf.db", dir);
	snprintf(text, sizeof(text),
	         "# LS11CLOUD local token\n"
	         "\n"
	         "  ; another comment\n"
	         "unknown = 1\n"
	         "no equals sign\n"
	         "database =   %s   \n",
	         want);
	write_file(conf, text);
	setenv("LS11TOKEN_CONF", conf, 1);
	assert_creates(want);
}

Test(module, xdg_locations)
{
	char cfg[200], data[200], conf[260], want[260], text[300];
	struct stat st;

	unsetenv("LS11TOKEN_DB");
	unsetenv("LS11TOKEN_CONF");
	snprintf(cfg, sizeof(cfg), "%s/config", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	setenv("XDG_CONFIG_HOME", cfg, 1);
	setenv("XDG_DATA_HOME", data, 1);

	/* No configuration file: the data directory, created 0700. */
	snprintf(want, sizeof(want), "%s/ls11cloud/token.db", data);
	assert_creates(want);
	snprintf(want, sizeof(want), "%s/ls11cloud", data);
	cr_assert_eq(stat(want, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "%s: %o", want, st.st_mode & 0777);

	/* $XDG_CONFIG_HOME/ls11cloud/ls11token.conf names another one. */
	mkdir(cfg, 0700);
	snprintf(conf, sizeof(conf), "%s/ls11cloud", cfg);
	mkdir(conf, 0700);
	strcat(conf, "/ls11token.conf");
	snprintf(want, sizeof(want), "%s/elsewhere.db", dir);
	snprintf(text, sizeof(text), "database=%s\n", want);
	write_file(conf, text);
	assert_creates(want);

	/* $LS11TOKEN_DB wins over both. */
	setenv("LS11TOKEN_DB", db, 1);
	assert_creates(db);
}

/* ---------------------------------------------------------------------------------------------
 * fork() and threads
 * ------------------------------------------------------------------------------------------- */

static CK_RV
digest_once(CK_SESSION_HANDLE h)
{
	CK_MECHANISM m = {CKM_GOSTR3411_12_256, NULL, 0};
	CK_BYTE out[32];
	CK_ULONG n = sizeof(out);
	CK_RV rv = f->C_DigestInit(h, &m);

	if (rv != CKR_OK)
		return rv;
	return f->C_Digest(h, (CK_BYTE_PTR) "abc", 3, out, &n);
}

/* The child's side: uninitialised, then a fresh C_Initialize that works.  Exit code = step. */
static int
child_after_fork(void)
{
	CK_ULONG n = 0;
	CK_SESSION_HANDLE h;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_TOKEN, &yes, sizeof(yes)},
		{CKA_LABEL, "from the child", 14},
	};
	CK_OBJECT_HANDLE o;

	if (f->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
		return 1;
	if (f->C_GetSessionInfo(1, &(CK_SESSION_INFO){0}) != CKR_CRYPTOKI_NOT_INITIALIZED)
		return 2;
	if (f->C_Finalize(NULL) != CKR_CRYPTOKI_NOT_INITIALIZED)
		return 3;
	if (f->C_Initialize(NULL) != CKR_OK)
		return 4;
	if (f->C_OpenSession(SLOT, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h) != CKR_OK)
		return 5;
	if (f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6) != CKR_OK)
		return 6;
	if (digest_once(h) != CKR_OK)
		return 7;
	if (f->C_CreateObject(h, t, 3, &o) != CKR_OK)
		return 8;
	if (f->C_Finalize(NULL) != CKR_OK)
		return 9;
	return 0;
}

Test(module, fork_child_starts_over)
{
	CK_SESSION_HANDLE h;
	CK_SESSION_INFO si;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_LABEL, "from the child", 14},
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	int status;
	pid_t pid;

	init_token();
	h = user_session();
	cr_assert_eq(digest_once(h), CKR_OK);

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(child_after_fork());
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died: status %d", status);
	cr_assert_eq(WEXITSTATUS(status), 0, "the child failed at step %d", WEXITSTATUS(status));

	/* The parent's application is untouched and sees what the child stored. */
	cr_assert_eq(f->C_GetSessionInfo(h, &si), CKR_OK);
	cr_assert_eq(si.state, CKS_RW_USER_FUNCTIONS);
	cr_assert_eq(digest_once(h), CKR_OK);
	cr_assert_eq(f->C_FindObjectsInit(h, t, 2), CKR_OK);
	cr_assert_eq(f->C_FindObjects(h, found, 2, &n), CKR_OK);
	cr_assert_eq(f->C_FindObjectsFinal(h), CKR_OK);
	cr_assert_eq(n, 1);
}

struct worker {
	CK_SESSION_HANDLE h;
	volatile int *stop;
	int failures;
	long calls;
};

static void *
digest_loop(void *arg)
{
	struct worker *w = arg;

	while (!*w->stop) {
		if (digest_once(w->h) != CKR_OK)
			w->failures++;
		w->calls++;
	}
	return NULL;
}

/* fork() while other threads are inside calls: no deadlock, and the child still starts over. */
Test(module, fork_while_other_threads_call)
{
	struct worker w[2];
	pthread_t th[2];
	volatile int stop = 0;
	int i, status;

	init_token();
	for (i = 0; i < 2; i++) {
		w[i] = (struct worker){.h = user_session(), .stop = &stop};
		cr_assert_eq(pthread_create(&th[i], NULL, digest_loop, &w[i]), 0);
	}
	for (i = 0; i < 5; i++) {
		pid_t pid;

		usleep(20000);
		pid = fork();
		cr_assert_neq(pid, -1);
		if (pid == 0) {
			alarm(60);
			_exit(child_after_fork());
		}
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status), "child %d died: status %d", i, status);
		cr_assert_eq(WEXITSTATUS(status), 0, "child %d failed at step %d", i,
		             WEXITSTATUS(status));
	}
	stop = 1;
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(w[i].failures, 0);
		cr_assert_gt(w[i].calls, 0);
	}
}

/* C_Finalize waits for the calls in flight; the threads then see an uninitialised library. */
static void *
digest_until_finalized(void *arg)
{
	struct worker *w = arg;
	CK_RV rv;

	for (;;) {
		rv = digest_once(w->h);
		if (rv == CKR_CRYPTOKI_NOT_INITIALIZED)
			return NULL;
		if (rv != CKR_OK)
			w->failures++;
		w->calls++;
	}
}

Test(module, finalize_with_threads)
{
	struct worker w[2];
	pthread_t th[2];
	int i;

	init_token();
	for (i = 0; i < 2; i++) {
		w[i] = (struct worker){.h = user_session()};
		cr_assert_eq(pthread_create(&th[i], NULL, digest_until_finalized, &w[i]), 0);
	}
	usleep(100000);
	cr_assert_eq(f->C_Finalize(NULL), CKR_OK);
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(w[i].failures, 0, "a call failed with something else than "
		                               "CKR_CRYPTOKI_NOT_INITIALIZED");
		cr_assert_gt(w[i].calls, 0);
	}
}
