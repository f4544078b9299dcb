/*
 * libls11cloud.so when the server stops answering but keeps the connection (run under
 * tests/cloud/cloudenv.py, which names the server's process in LS11_TEST_SERVER_PID): the
 * server is stopped with SIGSTOP while STALL_THREADS threads each make one call.
 *
 *  - every call ends with CKR_DEVICE_ERROR after about the configured timeout
 *    (LS11CLOUD_TIMEOUT_MS), none sooner and none hanging: the caller that holds the reader
 *    role waits in poll(), the others on their request's futex with the same deadline;
 *  - the module says why in one log line per call: "no answer from 127.0.0.1:PORT within N ms";
 *  - after SIGCONT the server answers the requests it had queued, which nobody waits for any
 *    more: they are dropped, and every thread's next calls succeed with answers of their own
 *    (random bytes of each thread's own length);
 *  - a stall while one thread alone calls (the lone-caller path, which looks for its answer
 *    before it sleeps) ends the same way.
 *
 * Prints "N passed, N failed".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"
#include "clock.h"
#include "pkcs11x.h"

#define STALL_THREADS 8
#define TIMEOUT_MS 1500
/* How late past the timeout a call may end: poll slices, a loaded CI machine. */
#define SLACK_MS 3000

static CK_FUNCTION_LIST_PTR f;
static CK_SLOT_ID slot;
static CK_SESSION_HANDLE sessions[STALL_THREADS];

static double
now_ms(void)
{
	return (double)ls_now_ns() / 1e6;
}

typedef struct {
	int id;
	CK_RV rv;
	double took_ms;
	bool own_answer; /* for a successful call: the length asked for came back */
} call_result;

static pthread_barrier_t barrier;

/* One C_GenerateRandom of the thread's own length (its answer would show whose it is). */
static void
one_call(call_result *r)
{
	CK_BYTE rnd[64];
	CK_ULONG want = (CK_ULONG)(8 + r->id);
	double t0 = now_ms();

	memset(rnd, 0, sizeof(rnd));
	r->rv = f->C_GenerateRandom(sessions[r->id], rnd, want);
	r->took_ms = now_ms() - t0;
	r->own_answer = false;
	if (r->rv == CKR_OK) {
		/* 8 + id random bytes are very unlikely to end in a zero run past their length */
		CK_ULONG zeros = 0;

		for (CK_ULONG i = 0; i < want; i++)
			zeros += rnd[i] == 0;
		r->own_answer = zeros < want && rnd[want] == 0;
	}
}

static void *
caller(void *arg)
{
	call_result *r = arg;

	pthread_barrier_wait(&barrier);
	one_call(r);
	return NULL;
}

/* Runs one call in each of @n threads at once. */
static void
calls_at_once(call_result *res, int n)
{
	pthread_t th[STALL_THREADS];

	pthread_barrier_init(&barrier, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		res[i].id = i;
		pthread_create(&th[i], NULL, caller, &res[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
}

/* Counts the lines of @path holding @needle. */
static int
count_lines(const char *path, const char *needle)
{
	char line[1024];
	int n = 0;
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(fp);
	return n;
}

/* Stops the server, runs @n callers, lets it go on; checks that every call timed out. */
static void
stalled_round(pid_t server, int n, const char *log_path, int port, const char *what)
{
	call_result res[STALL_THREADS];
	char needle[128], msg[256];
	int timed_out = 0, in_time = 0, lines_before, lines_after;
	double slowest = 0, fastest = 1e9;

	snprintf(needle, sizeof(needle), "no answer from 127.0.0.1:%d within %d ms", port,
	         TIMEOUT_MS);
	lines_before = count_lines(log_path, needle);
	check(kill(server, SIGSTOP) == 0, "the server is stopped (SIGSTOP)");
	calls_at_once(res, n);
	check(kill(server, SIGCONT) == 0, "the server goes on (SIGCONT)");
	for (int i = 0; i < n; i++) {
		timed_out += res[i].rv == CKR_DEVICE_ERROR;
		in_time += res[i].took_ms >= TIMEOUT_MS - 50 && res[i].took_ms <= TIMEOUT_MS + SLACK_MS;
		if (res[i].took_ms > slowest)
			slowest = res[i].took_ms;
		if (res[i].took_ms < fastest)
			fastest = res[i].took_ms;
		if (res[i].rv != CKR_DEVICE_ERROR)
			fprintf(stderr, "stalled call %d: CK_RV 0x%lx after %.0f ms\n", i,
			        (unsigned long)res[i].rv, res[i].took_ms);
	}
	snprintf(msg, sizeof(msg), "%s: all %d calls end with CKR_DEVICE_ERROR (%d did)", what, n,
	         timed_out);
	check(timed_out == n, msg);
	snprintf(msg, sizeof(msg),
	         "%s: each after the %d ms timeout, none hanging (%.0f..%.0f ms)", what,
	         TIMEOUT_MS, fastest, slowest);
	check(in_time == n, msg);
	lines_after = count_lines(log_path, needle);
	snprintf(msg, sizeof(msg), "%s: one log line per call names the server and the timeout "
	         "(%d new)", what, lines_after - lines_before);
	check(lines_before >= 0 && lines_after - lines_before == n, msg);

	/* The queued requests are answered now; nobody waits for them.  The next calls work. */
	for (int round = 0; round < 3; round++) {
		int ok = 0;

		calls_at_once(res, STALL_THREADS);
		for (int i = 0; i < STALL_THREADS; i++)
			ok += res[i].rv == CKR_OK && res[i].own_answer;
		snprintf(msg, sizeof(msg),
		         "%s: afterwards, round %d: %d threads each get their own answer (%d did)",
		         what, round + 1, STALL_THREADS, ok);
		check(ok == STALL_THREADS, msg);
	}
}

int
main(int argc, char **argv)
{
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_ULONG n = 1;
	CK_UTF8CHAR label[32];
	const char *pid_env = getenv("LS11_TEST_SERVER_PID");
	const char *port_env = getenv("LS11_TEST_SERVER_PORT");
	char log_path[] = "/tmp/ls11-stall-log-XXXXXX", timeout[16];
	int log_fd, port = 0;
	pid_t server;
	void *dl;

	if (argc < 2 || pid_env == NULL || port_env == NULL) {
		fprintf(stderr, "usage: LS11_TEST_SERVER_PID=PID LS11_TEST_SERVER_PORT=PORT %s MODULE "
		        "(run it under cloudenv.py)\n", argv[0]);
		return 2;
	}
	server = (pid_t)atoi(pid_env);
	port = atoi(port_env);
	/* The module's log (stderr) goes to a file this test reads. */
	if ((log_fd = mkstemp(log_path)) < 0 || dup2(log_fd, 2) < 0) {
		perror("log file");
		return 1;
	}
	close(log_fd);
	snprintf(timeout, sizeof(timeout), "%d", TIMEOUT_MS);
	setenv("LS11CLOUD_TIMEOUT_MS", timeout, 1);
	setenv("LS11CLOUD_LOG", "warning", 1);

	dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL ||
	    (get = (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(dl, "C_GetFunctionList")) == NULL ||
	    get(&f) != CKR_OK) {
		printf("FAIL cannot load %s\n", argv[1]);
		return 1;
	}
	check(f->C_Initialize(&args) == CKR_OK, "C_Initialize");
	check(f->C_GetSlotList(CK_TRUE, &slot, &n) == CKR_OK && n == 1, "one slot with a token");
	memset(label, ' ', sizeof(label));
	memcpy(label, "stall", 5);
	check(f->C_InitToken(slot, (CK_UTF8CHAR_PTR)"87654321", 8, label) == CKR_OK, "C_InitToken");
	for (int i = 0; i < STALL_THREADS; i++)
		if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &sessions[i]) != CKR_OK)
			sessions[i] = CK_INVALID_HANDLE;
	{
		call_result res[STALL_THREADS];
		int ok = 0;

		calls_at_once(res, STALL_THREADS);
		for (int i = 0; i < STALL_THREADS; i++)
			ok += res[i].rv == CKR_OK && res[i].own_answer;
		check(ok == STALL_THREADS, "8 sessions, one call each at once: every answer its own");
	}

	stalled_round(server, STALL_THREADS, log_path, port, "8 threads during a stall");
	stalled_round(server, 1, log_path, port, "a lone caller during a stall");

	for (int i = 0; i < STALL_THREADS; i++)
		f->C_CloseSession(sessions[i]);
	check(f->C_Finalize(NULL) == CKR_OK, "C_Finalize");
	if (failed != 0) {
		FILE *fp = fopen(log_path, "r");
		char line[1024];

		printf("--- the module's log:\n");
		while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
			fputs(line, stdout);
		if (fp != NULL)
			fclose(fp);
	}
	unlink(log_path);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
