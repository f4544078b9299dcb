/*
 * libls11cloud.so from several threads at once (run under tests/cloud/cloudenv.py): one
 * application, one connection, calls pipelined by request id.
 *
 *  - THREADS threads, each with its own session, sign ROUNDS times with one key and verify each
 *    signature, and draw random bytes: every call succeeds and every answer is the caller's own
 *    (a signature of that thread's message verifies; a response delivered to the wrong thread
 *    would not);
 *  - meanwhile another thread polls C_GetSessionInfo and C_GetTokenInfo;
 *  - STRESS_THREADS threads x STRESS_ROUNDS calls of C_GenerateRandom (each thread its own
 *    length) and signatures of the thread's own message, verified: callers take turns reading
 *    the connection (leader/follower) and each answer still reaches its own caller;
 *  - a slow call in one session (a tc26-512-B key pair, about a millisecond of the server's
 *    CPU) does not hold up fast calls in another: their median time stays far below it;
 *  - large records (hash-and-sign of SLOW_BYTES, records the server opens on a worker) among
 *    small ones of another session: every answer right;
 *  - another process pipelining calls from 8 threads over its own connection is killed with
 *    SIGKILL while this one's threads call: every call here succeeds, before and after;
 *  - then C_Finalize with every thread done, and a second C_Initialize works.
 *
 * Prints "N passed, N failed".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "clock.h"
#include "pkcs11x.h"

#define THREADS 6
#define ROUNDS 40
#define STRESS_THREADS 16
#define STRESS_ROUNDS 150
#define SLOW_BYTES ((size_t)256 << 10)
#define SLOW_CALLS 8
#define SLOW_TRIES 3
#define BIG_CALLS 4
#define FAST_MAX 4096
#define KILLED_THREADS 8

static CK_FUNCTION_LIST_PTR f;
static CK_SLOT_ID slot;
static CK_OBJECT_HANDLE priv, pub;
static atomic_int failures;

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

/* Many callers at once: distinct random lengths and signed messages per thread. */
static void *
stresser(void *arg)
{
	int id = (int)(intptr_t)arg;
	CK_SESSION_HANDLE s;
	CK_MECHANISM m = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};

	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
		atomic_fetch_add(&failures, 1);
		return NULL;
	}
	for (int i = 0; i < STRESS_ROUNDS; i++) {
		char msg[64];
		CK_BYTE sig[64], rnd[64];
		CK_ULONG sig_len = sizeof(sig), want = (CK_ULONG)(1 + (id * 7 + i) % 64);
		CK_RV rv;

		memset(rnd, 0, sizeof(rnd));
		rv = f->C_GenerateRandom(s, rnd, want);
		if (rv == CKR_OK && i % 5 == 0) {
			snprintf(msg, sizeof(msg), "stress %d round %d", id, i);
			rv = f->C_SignInit(s, &m, priv);
			if (rv == CKR_OK)
				rv = f->C_Sign(s, (CK_BYTE_PTR)msg, strlen(msg), sig, &sig_len);
			if (rv == CKR_OK)
				rv = f->C_VerifyInit(s, &m, pub);
			if (rv == CKR_OK)
				rv = f->C_Verify(s, (CK_BYTE_PTR)msg, strlen(msg), sig, sig_len);
		}
		if (rv != CKR_OK) {
			fprintf(stderr, "stress %d round %d: CK_RV 0x%lx\n", id, i, (unsigned long)rv);
			atomic_fetch_add(&failures, 1);
			break;
		}
	}
	f->C_CloseSession(s);
	return NULL;
}

static double
now_s(void)
{
	return (double)ls_now_ns() / 1e9;
}

static atomic_bool slow_done;
static double slow_time; /* seconds per slow call */

/* SLOW_CALLS session key pairs on tc26-512-B: small records, a long computation each. */
static void *
slow_caller(void *arg)
{
	static const CK_BYTE oid_b[] = {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01,
	                                0x02, 0x01, 0x02, 0x02};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &no, sizeof(no)},
	                     {CKA_GOSTR3410_PARAMS, (void *)oid_b, sizeof(oid_b)},
	                     {CKA_VERIFY, &yes, sizeof(yes)}};
	CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &no, sizeof(no)}, {CKA_SIGN, &yes, sizeof(yes)}};
	CK_MECHANISM m = {CKM_GOSTR3410_512_KEY_PAIR_GEN, NULL, 0};
	CK_SESSION_HANDLE s;
	double t0;

	(void)arg;
	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
		atomic_fetch_add(&failures, 1);
		atomic_store(&slow_done, true);
		return NULL;
	}
	t0 = now_s();
	for (int i = 0; i < SLOW_CALLS; i++) {
		CK_OBJECT_HANDLE kpub, kpriv;
		CK_RV rv = f->C_GenerateKeyPair(s, &m, pt, 3, kt, 2, &kpub, &kpriv);

		if (rv != CKR_OK) {
			fprintf(stderr, "slow call %d: CK_RV 0x%lx\n", i, (unsigned long)rv);
			atomic_fetch_add(&failures, 1);
			break;
		}
	}
	slow_time = (now_s() - t0) / SLOW_CALLS;
	f->C_CloseSession(s); /* destroys the session keys */
	atomic_store(&slow_done, true);
	return NULL;
}

/* Hash-and-sign of SLOW_BYTES, verified, BIG_CALLS times: records the server opens on a worker. */
static void *
big_caller(void *arg)
{
	CK_MECHANISM m = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};
	CK_SESSION_HANDLE s;
	CK_BYTE *data = malloc(SLOW_BYTES), sig[64];

	(void)arg;
	if (data == NULL || f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
		atomic_fetch_add(&failures, 1);
		free(data);
		atomic_store(&slow_done, true);
		return NULL;
	}
	memset(data, 0xa5, SLOW_BYTES);
	for (int i = 0; i < BIG_CALLS; i++) {
		CK_ULONG sig_len = sizeof(sig);
		CK_RV rv;

		data[0] = (CK_BYTE)i;
		rv = f->C_SignInit(s, &m, priv);
		if (rv == CKR_OK)
			rv = f->C_Sign(s, data, SLOW_BYTES, sig, &sig_len);
		if (rv == CKR_OK)
			rv = f->C_VerifyInit(s, &m, pub);
		if (rv == CKR_OK)
			rv = f->C_Verify(s, data, SLOW_BYTES, sig, sig_len);
		if (rv != CKR_OK) {
			fprintf(stderr, "big call %d: CK_RV 0x%lx\n", i, (unsigned long)rv);
			atomic_fetch_add(&failures, 1);
			break;
		}
	}
	f->C_CloseSession(s);
	free(data);
	atomic_store(&slow_done, true);
	return NULL;
}

static double fast_times[FAST_MAX];
static int fast_n;

/* C_GenerateRandom in its own session while the slow caller runs; each call timed. */
static void *
fast_caller(void *arg)
{
	CK_SESSION_HANDLE s;

	(void)arg;
	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
		atomic_fetch_add(&failures, 1);
		return NULL;
	}
	while (!atomic_load(&slow_done) && fast_n < FAST_MAX) {
		CK_BYTE rnd[16];
		double t0 = now_s();

		if (f->C_GenerateRandom(s, rnd, sizeof(rnd)) != CKR_OK) {
			atomic_fetch_add(&failures, 1);
			break;
		}
		fast_times[fast_n++] = now_s() - t0;
	}
	f->C_CloseSession(s);
	return NULL;
}

/* Runs @caller in one session and fast_caller() in another until @caller is done. */
static void
beside_fast_calls(void *(*caller)(void *))
{
	pthread_t slow, fast;

	atomic_store(&slow_done, false);
	fast_n = 0;
	pthread_create(&slow, NULL, caller, NULL);
	pthread_create(&fast, NULL, fast_caller, NULL);
	pthread_join(slow, NULL);
	pthread_join(fast, NULL);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The process that is killed: its own application over its own connection, KILLED_THREADS
 * threads calling without a pause.  Writes one byte to @fd once every thread has been answered.
 */
static atomic_int child_ready;

static void *
child_caller(void *arg)
{
	CK_SESSION_HANDLE s;
	bool counted = false;

	(void)arg;
	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		_exit(3);
	for (;;) {
		CK_BYTE rnd[32];

		if (f->C_GenerateRandom(s, rnd, sizeof(rnd)) != CKR_OK)
			_exit(4);
		if (!counted) {
			counted = true;
			atomic_fetch_add(&child_ready, 1);
		}
	}
	return NULL;
}

static int
child_main(const char *module, int fd)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	pthread_t th[KILLED_THREADS];
	CK_ULONG n = 1;
	void *dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);

	if (dl == NULL || (get = (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(dl, "C_GetFunctionList")) == NULL ||
	    get(&f) != CKR_OK || f->C_Initialize(&args) != CKR_OK ||
	    f->C_GetSlotList(CK_TRUE, &slot, &n) != CKR_OK || n != 1)
		return 2;
	for (int i = 0; i < KILLED_THREADS; i++)
		pthread_create(&th[i], NULL, child_caller, NULL);
	while (atomic_load(&child_ready) < KILLED_THREADS)
		usleep(1000);
	if (write(fd, "r", 1) != 1)
		return 2;
	for (;;)
		pause(); /* until SIGKILL */
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

	if (argc == 4 && strcmp(argv[2], "--child") == 0)
		return child_main(argv[1], atoi(argv[3]));
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

	/* Many callers taking turns at reading the connection. */
	{
		pthread_t st[STRESS_THREADS];

		for (int i = 0; i < STRESS_THREADS; i++)
			pthread_create(&st[i], NULL, stresser, (void *)(intptr_t)i);
		for (int i = 0; i < STRESS_THREADS; i++)
			pthread_join(st[i], NULL);
		check(atomic_load(&failures) == 0,
		      "16 threads x 150 calls (random of each thread's own length, signatures of its "
		      "own messages verified): every answer reaches its caller");
	}

	/*
	 * A slow session beside a fast one.  Held up, the fast calls would wait for the slow ones
	 * (about one each, their median near the slow call's time); a loaded machine can make a
	 * fast call take as long as a key pair for a while, so a measurement that looks held up
	 * is taken again, up to SLOW_TRIES times: a real hold-up shows in every one.
	 */
	{
		double median = 0;
		bool free_running = false;

		for (int tries = 0; tries < SLOW_TRIES && !free_running; tries++) {
			beside_fast_calls(slow_caller);
			qsort(fast_times, (size_t)fast_n, sizeof(double), cmp_double);
			median = fast_n > 0 ? fast_times[fast_n / 2] : 1e9;
			printf("     slow call %.2f ms, %d fast calls meanwhile, median %.3f ms\n",
			       slow_time * 1e3, fast_n, median * 1e3);
			free_running = fast_n >= 2 * SLOW_CALLS && median < slow_time / 2;
		}
		check(atomic_load(&failures) == 0 && free_running,
		      "a slow call (a tc26-512-B key pair) does not hold up fast calls in another "
		      "session");

		beside_fast_calls(big_caller);
		check(atomic_load(&failures) == 0 && fast_n > 0,
		      "256 KiB records (hash-and-sign, verified) among small ones of another session: "
		      "every answer right");
	}

	/* Another client process killed in the middle of its pipelined calls. */
	{
		int pfd[2];
		pid_t pid;
		pthread_t wt[THREADS];
		char fdarg[16], byte = 0;
		CK_BYTE rnd[32];
		int status = 0;

		if (pipe(pfd) != 0) {
			check(0, "pipe");
		} else if ((pid = fork()) == 0) {
			close(pfd[0]);
			snprintf(fdarg, sizeof(fdarg), "%d", pfd[1]);
			execl(argv[0], argv[0], argv[1], "--child", fdarg, (char *)NULL);
			_exit(127);
		} else {
			close(pfd[1]);
			for (int i = 0; i < THREADS; i++)
				pthread_create(&wt[i], NULL, worker, (void *)(intptr_t)(100 + i));
			if (read(pfd[0], &byte, 1) == 1)
				kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(pfd[0]);
			for (int i = 0; i < THREADS; i++)
				pthread_join(wt[i], NULL);
			check(byte == 'r' && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			      "another process pipelines calls from 8 threads and is killed (SIGKILL)");
			check(atomic_load(&failures) == 0 &&
			              f->C_GenerateRandom(s, rnd, sizeof(rnd)) == CKR_OK,
			      "... every call of this process succeeds meanwhile and after");
		}
	}

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
