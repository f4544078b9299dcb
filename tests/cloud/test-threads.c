/*
 * libls11cloud.so from several threads at once (run under tests/cloud/cloudenv.py): one
 * application, one connection, calls pipelined by request id.
 *
 *  - THREADS threads, each with its own session, sign ROUNDS times with one key and verify each
 *    signature, and draw random bytes: every call succeeds and every answer is the caller's own
 *    (a signature of that thread's message verifies; a response delivered to the wrong thread
 *    would not);
 *  - meanwhile another thread polls C_GetSessionInfo and C_GetTokenInfo;
 *  - then C_Finalize with every thread done, and a second C_Initialize works.
 *
 * Prints "N passed, N failed".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11x.h"

#define THREADS 6
#define ROUNDS 40

static CK_FUNCTION_LIST_PTR f;
static CK_SLOT_ID slot;
static CK_OBJECT_HANDLE priv, pub;
static atomic_int failures;
static int passed, failed;

static void
check(int ok, const char *what)
{
	if (ok) {
		passed++;
		printf("ok   %s\n", what);
	} else {
		failed++;
		printf("FAIL %s\n", what);
	}
	fflush(stdout);
}

static const char so_pin[] = "87654321", user_pin[] = "123456";

static void *
worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	CK_SESSION_HANDLE s;
	CK_MECHANISM m = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};

	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK) {
		atomic_fetch_add(&failures, 1);
		return NULL;
	}
	for (int i = 0; i < ROUNDS; i++) {
		char msg[64];
		CK_BYTE sig[64], rnd[32];
		CK_ULONG sig_len = sizeof(sig);
		CK_RV rv;

		snprintf(msg, sizeof(msg), "thread %d round %d", id, i);
		rv = f->C_SignInit(s, &m, priv);
		if (rv == CKR_OK)
			rv = f->C_Sign(s, (CK_BYTE_PTR)msg, strlen(msg), sig, &sig_len);
		if (rv == CKR_OK)
			rv = f->C_VerifyInit(s, &m, pub);
		if (rv == CKR_OK)
			rv = f->C_Verify(s, (CK_BYTE_PTR)msg, strlen(msg), sig, sig_len);
		if (rv == CKR_OK)
			rv = f->C_GenerateRandom(s, rnd, sizeof(rnd));
		if (rv != CKR_OK) {
			fprintf(stderr, "thread %d round %d: CK_RV 0x%lx\n", id, i, (unsigned long)rv);
			atomic_fetch_add(&failures, 1);
			break;
		}
	}
	f->C_CloseSession(s);
	return NULL;
}

static atomic_bool stop_poll;

static void *
poller(void *arg)
{
	CK_SESSION_HANDLE s;
	(void)arg;

	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
		atomic_fetch_add(&failures, 1);
		return NULL;
	}
	while (!atomic_load(&stop_poll)) {
		CK_SESSION_INFO si;
		CK_TOKEN_INFO ti;

		if (f->C_GetSessionInfo(s, &si) != CKR_OK || f->C_GetTokenInfo(slot, &ti) != CKR_OK) {
			atomic_fetch_add(&failures, 1);
			break;
		}
	}
	f->C_CloseSession(s);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const CK_BYTE oid_a[] = {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x01, 0x01};
	static const CK_BYTE oid_h[] = {0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x02};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_KEY_TYPE kt = CKK_GOSTR3410;
	CK_ATTRIBUTE pt[] = {{CKA_KEY_TYPE, &kt, sizeof(kt)},
	                     {CKA_GOSTR3410_PARAMS, (void *)oid_a, sizeof(oid_a)},
	                     {CKA_GOSTR3411_PARAMS, (void *)oid_h, sizeof(oid_h)},
	                     {CKA_TOKEN, &no, sizeof(no)},
	                     {CKA_VERIFY, &yes, sizeof(yes)}};
	CK_ATTRIBUTE kt2[] = {{CKA_KEY_TYPE, &kt, sizeof(kt)},
	                      {CKA_GOSTR3410_PARAMS, (void *)oid_a, sizeof(oid_a)},
	                      {CKA_GOSTR3411_PARAMS, (void *)oid_h, sizeof(oid_h)},
	                      {CKA_TOKEN, &no, sizeof(no)},
	                      {CKA_SIGN, &yes, sizeof(yes)}};
	CK_MECHANISM gen = {CKM_GOSTR3410_KEY_PAIR_GEN, NULL, 0};
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE s;
	CK_ULONG n = 1;
	pthread_t th[THREADS], pt_poll;
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	void *dl;

	if (argc < 2) {
		fprintf(stderr, "usage: %s MODULE\n", argv[0]);
		return 2;
	}
	dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL || (get = (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(dl, "C_GetFunctionList")) == NULL ||
	    get(&f) != CKR_OK) {
		fprintf(stderr, "cannot load %s\n", argv[1]);
		return 1;
	}
	check(f->C_Initialize(&args) == CKR_OK, "C_Initialize (CKF_OS_LOCKING_OK)");
	check(f->C_GetSlotList(CK_TRUE, &slot, &n) == CKR_OK && n == 1, "one slot with a token");
	memset(label, ' ', sizeof(label));
	memcpy(label, "threads", 7);
	check(f->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, 8, label) == CKR_OK, "C_InitToken");
	check(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) == CKR_OK &&
	              f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, 8) == CKR_OK &&
	              f->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin, 6) == CKR_OK &&
	              f->C_Logout(s) == CKR_OK &&
	              f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, 6) == CKR_OK,
	      "the user logs in");
	check(f->C_GenerateKeyPair(s, &gen, pt, 5, kt2, 5, &pub, &priv) == CKR_OK,
	      "a session key pair");

	pthread_create(&pt_poll, NULL, poller, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&stop_poll, true);
	pthread_join(pt_poll, NULL);
	check(atomic_load(&failures) == 0,
	      "6 threads x 40 rounds of sign + verify + random, and a poller: every call succeeds "
	      "and every signature verifies");

	check(f->C_CloseSession(s) == CKR_OK, "C_CloseSession");
	check(f->C_Finalize(NULL) == CKR_OK, "C_Finalize");
	check(f->C_Initialize(NULL) == CKR_OK, "C_Initialize again");
	n = 1;
	check(f->C_GetSlotList(CK_TRUE, &slot, &n) == CKR_OK && n == 1, "... the token is there");
	check(f->C_Finalize(NULL) == CKR_OK, "C_Finalize");
	dlclose(dl);
	printf("cloud/threads: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
