/*
 * Benchmark of the cloud: libls11cloud.so against a real ls11cloudd on 127.0.0.1 (port 0, a
 * temporary state directory on /dev/shm, accounts made with ls11cloud-admin, a temporary
 * LS11CLOUD_CONFIG_DIR), every figure beside a baseline measured in the same run:
 *
 *  1. per-call overhead, us per call (wall): C_GetSessionInfo (answered locally by our module)
 *     and C_GenerateRandom(32) (crosses the wire) through libls11cloud.so, against the same
 *     calls through p11-kit's remoting of SoftHSMv2 (p11-kit server + p11-kit-client.so, a unix
 *     socket, no encryption);
 *  2. remote C_Sign, CKM_GOSTR3410 (raw, 32-byte digest) with a tc26-256-A session key, at 1, 4
 *     and 16 client threads (one session each, one process), against ls_gost_sign_digest in
 *     process: one-core rate (thread CPU time) for 1 thread, two threads for 4 and 16;
 *  3. connection set-up (TCP + SESPAKE + channel, core/handshake.h's client driver over a TCP
 *     transport): client CPU of this thread and server CPU (/proc/PID/stat utime+stime) per
 *     connection, against one PBKDF2-2000 run;
 *  4. idle authenticated connections: ls11cloudd's RSS per connection (VmRSS before and after),
 *     up to 10,000 connections within a time budget (the count reached is reported).
 *
 * Client and server share the machine's cores: every remote figure includes both.
 * Needs the whole build tree (ninja -C build) and the Debian packages p11-kit and softhsm2
 * (without them the p11-kit baselines are reported as null).  Prints one JSON object.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "crypto.h"
#include "handshake.h"
#include "pkcs11x.h"
#include "sespake.h"
#include "transport.h"

#define ROUNDS 3
#define CALL_ROUND_S 0.3
#define SIGN_ROUND_S 0.5
#define SETUP_CONNS 100
#define MEM_CONNS_MAX 10000
#define MEM_CONNS_PER_ACCOUNT 2500 /* RFC 8133 C3 allows 10,000 attempts per account */
#define MEM_ACCOUNTS (MEM_CONNS_MAX / MEM_CONNS_PER_ACCOUNT)
#define MEM_BUDGET_S 75.0
#define MAX_THREADS 16

static char tmpdir[PATH_MAX], build_root[PATH_MAX];
static pid_t server_pid = -1, p11kit_pid = -1;
static int server_port;
static bool first = true;

static void
cleanup(void)
{
	char cmd[PATH_MAX + 16];

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
	if (p11kit_pid > 0) {
		kill(p11kit_pid, SIGTERM);
		waitpid(p11kit_pid, NULL, 0);
		p11kit_pid = -1;
	}
	if (tmpdir[0] != '\0' && getenv("LS11_BENCH_CLOUD_KEEP") != NULL) {
		fprintf(stderr, "bench-cloud: kept %s\n", tmpdir);
	} else if (tmpdir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench-cloud: could not remove %s\n", tmpdir);
		tmpdir[0] = '\0';
	}
}

static void
die(const char *what, long code)
{
	fprintf(stderr, "bench-cloud: %s (%ld)\n", what, code);
	cleanup();
	exit(1);
}

static void
check(int rc, const char *what)
{
	if (rc != LS_OK) {
		fprintf(stderr, "bench-cloud: %s: %s\n", what, ls_strerror(rc));
		cleanup();
		exit(1);
	}
}

static void
ckr(CK_RV rv, const char *what)
{
	if (rv != CKR_OK)
		die(what, (long)rv);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) != 0)
		die(path, errno);
}

/* Runs @argv with stdout to @out_fd (-1: /dev/null) and stderr to @err_path; returns the pid. */
static pid_t
spawn(char *const argv[], int out_fd, const char *err_path)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		int err = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(nul, 0);
		dup2(out_fd >= 0 ? out_fd : nul, 1);
		dup2(err >= 0 ? err : nul, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int
run(char *const argv[], const char *err_path)
{
	int status;
	pid_t pid = spawn(argv, -1, err_path);

	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* utime + stime of a process in seconds (clock ticks). */
static double
proc_cpu(pid_t pid)
{
	double t = bench_proc_cpu(pid);

	if (t < 0)
		die("reading /proc/PID/stat", pid);
	return t;
}

/* VmRSS of a process in bytes. */
static double
proc_rss(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		die("reading /proc/PID/status", errno);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return (double)kb * 1024.0;
}

/* Open file descriptors of a process. */
static int
proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
emit(const char *name, const char *unit, double value, double baseline, const char *baseline_name,
     double ratio, const char *goal, const char *extra)
{
	printf("%s{\"name\":\"%s\",\"unit\":\"%s\",\"value\":%.3f,", first ? "" : ",", name, unit,
	       value);
	if (baseline > 0)
		printf("\"baseline\":%.3f,\"ratio\":%.3f,", baseline, ratio);
	else
		printf("\"baseline\":null,\"ratio\":null,");
	printf("\"baseline_name\":\"%s\",\"goal\":\"%s\"%s%s}", baseline_name, goal,
	       extra[0] != '\0' ? "," : "", extra);
	first = false;
	fflush(stdout);
}

/* ---------------------------------------------------------------------------------------------
 * The world: accounts, the server, SoftHSM behind p11-kit
 * ------------------------------------------------------------------------------------------- */

static const char password[] = "bench-cloud-password";

static void
add_account(const char *nick)
{
	char admin[PATH_MAX + 32], state[PATH_MAX + 16], pw[PATH_MAX + 16], log[PATH_MAX + 16];
	char *argv[] = {admin, "--state-dir", state, "user", "add", (char *)nick, "--password-file",
	                pw, "--active", NULL};

	snprintf(admin, sizeof(admin), "%s/tools/ls11cloud-admin", build_root);
	snprintf(state, sizeof(state), "%s/state", tmpdir);
	snprintf(pw, sizeof(pw), "%s/admin.pw", tmpdir);
	snprintf(log, sizeof(log), "%s/admin.log", tmpdir);
	if (run(argv, log) != 0)
		die("ls11cloud-admin user add failed (see its log)", 0);
}

static void
start_server(void)
{
	char prog[PATH_MAX + 32], state[PATH_MAX + 16], conf[PATH_MAX + 16], log[PATH_MAX + 16];
	char *argv[] = {prog, "--listen", "127.0.0.1:0", "--state-dir", state, "--config", conf,
	                NULL};
	char line[256], text[2048];
	const char *extra;
	int fds[2];
	FILE *out;

	snprintf(prog, sizeof(prog), "%s/server/ls11cloudd", build_root);
	snprintf(state, sizeof(state), "%s/state", tmpdir);
	snprintf(conf, sizeof(conf), "%s/ls11cloudd.conf", tmpdir);
	snprintf(log, sizeof(log), "%s/server.log", tmpdir);
	/* LS11_BENCH_CLOUD_SERVER_CONF: more settings, one per line (e.g. "workers = 3"). */
	extra = getenv("LS11_BENCH_CLOUD_SERVER_CONF");
	snprintf(text, sizeof(text),
	         "# bench-cloud: limits high enough for the idle-connection benchmark\n"
	         "log-level = warning\n"
	         "max-connections = 20000\n"
	         "max-connections-per-source = 20000\n"
	         "max-connections-per-account = 20000\n"
	         "max-applications = 20000\n"
	         "idle-timeout = 0\n"
	         "%s\n",
	         extra != NULL ? extra : "");
	write_file(conf, text, 0600);
	if (pipe(fds) != 0)
		die("pipe", errno);
	server_pid = spawn(argv, fds[1], log);
	close(fds[1]);
	out = fdopen(fds[0], "r");
	while (out != NULL && fgets(line, sizeof(line), out) != NULL) {
		char *p = strstr(line, "listening on ");

		if (p != NULL && (p = strrchr(p, ':')) != NULL) {
			server_port = atoi(p + 1);
			break;
		}
	}
	if (out != NULL)
		fclose(out);
	if (server_port <= 0)
		die("ls11cloudd did not start (see server.log)", 0);
}

static void
write_client_config(void)
{
	char path[PATH_MAX + 64], text[512];

	snprintf(path, sizeof(path), "%s/config", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/config/accounts", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/config/accounts/bench.conf", tmpdir);
	snprintf(text, sizeof(text),
	         "number = 10\nhost = 127.0.0.1\nport = %d\nnickname = bench\n"
	         "password-store = file\n",
	         server_port);
	write_file(path, text, 0600);
	snprintf(path, sizeof(path), "%s/config/accounts/bench.password", tmpdir);
	snprintf(text, sizeof(text), "%s\n", password);
	write_file(path, text, 0600);
	snprintf(path, sizeof(path), "%s/config", tmpdir);
	setenv("LS11CLOUD_CONFIG_DIR", path, 1);
	setenv("LS11CLOUD_TIMEOUT_MS", "20000", 1);
	if (getenv("LS11CLOUD_LOG") == NULL)
		setenv("LS11CLOUD_LOG", "error", 1);
}

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define P11KIT_CLIENT "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"

/* SoftHSM token "bench" served by `p11-kit server`; false when the packages are missing. */
static bool
start_p11kit(void)
{
	char conf[PATH_MAX + 32], tokens[PATH_MAX + 32], text[PATH_MAX + 128], sock[PATH_MAX + 32];
	char addr[PATH_MAX + 64], log[PATH_MAX + 32];
	char *init[] = {"/usr/bin/softhsm2-util", "--init-token", "--free", "--label", "bench",
	                "--so-pin", "12345678", "--pin", "123456", NULL};
	char *srv[] = {"/usr/bin/p11-kit", "server", "-f", "-n", sock, "--provider", SOFTHSM,
	               "pkcs11:token=bench", NULL};
	struct stat st;

	if (access(SOFTHSM, R_OK) != 0 || access(P11KIT_CLIENT, R_OK) != 0 ||
	    access(init[0], X_OK) != 0 || access(srv[0], X_OK) != 0)
		return false;
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", tmpdir);
	snprintf(tokens, sizeof(tokens), "%s/softhsm", tmpdir);
	snprintf(sock, sizeof(sock), "%s/p11-kit.sock", tmpdir);
	snprintf(log, sizeof(log), "%s/p11-kit.log", tmpdir);
	mkdir(tokens, 0700);
	snprintf(text, sizeof(text), "directories.tokendir = %s\nobjectstore.backend = file\n",
	         tokens);
	write_file(conf, text, 0600);
	setenv("SOFTHSM2_CONF", conf, 1);
	if (run(init, log) != 0)
		return false;
	p11kit_pid = spawn(srv, -1, log);
	for (int i = 0; i < 500 && stat(sock, &st) != 0; i++)
		usleep(10000);
	if (stat(sock, &st) != 0)
		return false;
	snprintf(addr, sizeof(addr), "unix:path=%s", sock);
	setenv("P11_KIT_SERVER_ADDRESS", addr, 1);
	return true;
}

static CK_FUNCTION_LIST_PTR
load_module(const char *path)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_FUNCTION_LIST_PTR f = NULL;
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (dl == NULL) {
		fprintf(stderr, "bench-cloud: %s\n", dlerror());
		return NULL;
	}
	get = (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&f) != CKR_OK || f->C_Initialize(&args) != CKR_OK)
		return NULL;
	return f;
}

/* ---------------------------------------------------------------------------------------------
 * 1. Per-call overhead
 * ------------------------------------------------------------------------------------------- */

enum call { CALL_SESSION_INFO, CALL_RANDOM };

static CK_FUNCTION_LIST_PTR cloud; /* libls11cloud.so */

struct call_rate {
	double wall_us, cpu_us;
	double proc_cpu_us;   /* all threads of this process (the module's own included) */
	double server_cpu_us; /* ls11cloudd's utime + stime (ours only; 10 ms ticks) */
	double server_cs;     /* ls11cloudd's context switches (all threads) */
};

/* Voluntary + involuntary context switches of this process (ended threads included). */
static double
self_switches(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_nvcsw + (double)ru.ru_nivcsw;
}

/* Voluntary + involuntary context switches of every thread of @pid. */
static double
proc_switches(pid_t pid)
{
	char path[320], line[256];
	double total = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		FILE *fp;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL) {
			unsigned long v;

			if (sscanf(line, "voluntary_ctxt_switches: %lu", &v) == 1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %lu", &v) == 1)
				total += (double)v;
		}
		fclose(fp);
	}
	closedir(d);
	return total;
}

static void
one_call(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, enum call c)
{
	CK_SESSION_INFO si;
	CK_BYTE rnd[32];

	if (c == CALL_SESSION_INFO)
		ckr(f->C_GetSessionInfo(s, &si), "C_GetSessionInfo");
	else
		ckr(f->C_GenerateRandom(s, rnd, sizeof(rnd)), "C_GenerateRandom");
}

static struct call_rate
call_round(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, enum call c)
{
	double wall0 = now_s(CLOCK_MONOTONIC), cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID), wall;
	double pcpu0 = now_s(CLOCK_PROCESS_CPUTIME_ID), scpu0 = 0, scs0 = 0;
	bool ours = f == cloud;
	long n = 0;
	struct call_rate r;

	if (ours) {
		scpu0 = proc_cpu(server_pid);
		scs0 = proc_switches(server_pid);
	}
	do {
		for (int i = 0; i < 16; i++)
			one_call(f, s, c);
		n += 16;
	} while ((wall = now_s(CLOCK_MONOTONIC) - wall0) < CALL_ROUND_S && n < 50000000);
	r.wall_us = wall * 1e6 / (double)n;
	r.cpu_us = (now_s(CLOCK_THREAD_CPUTIME_ID) - cpu0) * 1e6 / (double)n;
	r.proc_cpu_us = (now_s(CLOCK_PROCESS_CPUTIME_ID) - pcpu0) * 1e6 / (double)n;
	r.server_cpu_us = ours ? (proc_cpu(server_pid) - scpu0) * 1e6 / (double)n : 0;
	r.server_cs = ours ? (proc_switches(server_pid) - scs0) / (double)n : 0;
	return r;
}

static void
bench_calls(CK_FUNCTION_LIST_PTR ours, CK_SESSION_HANDLE s_ours, CK_FUNCTION_LIST_PTR p11,
            CK_SESSION_HANDLE s_p11)
{
	static const char *const names[] = {"C_GetSessionInfo", "C_GenerateRandom(32)"};
	static const char *const notes[] = {
		"answered locally by libls11cloud.so (no round trip); p11-kit forwards it to the "
		"server over its unix socket",
		"crosses the wire: TCP loopback, channel records (Kuznyechik-CTR + OMAC) both ways, "
		"server worker; p11-kit: unix socket, no encryption; client and server share 2 cores",
	};

	for (int c = CALL_SESSION_INFO; c <= CALL_RANDOM; c++) {
		struct call_rate best_o = {1e30, 1e30, 0, 0, 0}, best_p = {1e30, 1e30, 0, 0, 0}, r;
		char extra[512], name[64];

		one_call(ours, s_ours, (enum call)c);
		if (p11 != NULL)
			one_call(p11, s_p11, (enum call)c);
		for (int round = 0; round < ROUNDS; round++) {
			r = call_round(ours, s_ours, (enum call)c);
			if (r.wall_us < best_o.wall_us)
				best_o = r;
			if (p11 != NULL) {
				r = call_round(p11, s_p11, (enum call)c);
				if (r.wall_us < best_p.wall_us)
					best_p = r;
			}
		}
		snprintf(name, sizeof(name), "call %s", names[c]);
		if (p11 != NULL)
			snprintf(extra, sizeof(extra),
			         "\"client_cpu_us\":%.3f,\"baseline_client_cpu_us\":%.3f,"
			         "\"client_process_cpu_us\":%.3f,\"baseline_client_process_cpu_us\":%.3f,"
			         "\"server_cpu_us\":%.3f,\"server_context_switches\":%.2f,\"notes\":\"%s\"",
			         best_o.cpu_us, best_p.cpu_us, best_o.proc_cpu_us, best_p.proc_cpu_us,
			         best_o.server_cpu_us, best_o.server_cs, notes[c]);
		else
			snprintf(extra, sizeof(extra),
			         "\"client_cpu_us\":%.3f,\"notes\":\"%s; p11-kit/softhsm2 not "
			         "installed, no baseline\"",
			         best_o.cpu_us, notes[c]);
		emit(name, "us/call (wall, best of 3)", best_o.wall_us,
		     p11 != NULL ? best_p.wall_us : 0, "p11-kit client -> p11-kit server -> SoftHSMv2",
		     p11 != NULL ? best_o.wall_us / best_p.wall_us : 0, "ratio <= 1.0", extra);
	}
}

/* ---------------------------------------------------------------------------------------------
 * 2. Remote C_Sign against in-process signatures
 * ------------------------------------------------------------------------------------------- */

static CK_SLOT_ID cloud_slot;
static CK_OBJECT_HANDLE sign_key;
static CK_MECHANISM_TYPE sign_mech = CKM_GOSTR3410;
static bench_round rounds;
static atomic_long sign_errors;
static ls_gost_key *local_key;

static void *
remote_signer(void *arg)
{
	CK_SESSION_HANDLE s = *(CK_SESSION_HANDLE *)arg;
	CK_MECHANISM m = {sign_mech, NULL, 0};
	CK_BYTE digest[32], sig[64];
	long n = 0;
	CK_RV rv;

	memset(digest, 0x5a, sizeof(digest));
	pthread_barrier_wait(&rounds.start);
	while (!atomic_load(&rounds.stop)) {
		CK_ULONG len = sizeof(sig);

		digest[0] = (CK_BYTE)n;
		if ((rv = cloud->C_SignInit(s, &m, sign_key)) != CKR_OK) {
			if (atomic_fetch_add(&sign_errors, 1) < 5)
				fprintf(stderr, "bench-cloud: remote C_SignInit: 0x%lx\n",
				        (unsigned long)rv);
			if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED)
				break;
			continue;
		}
		if ((rv = cloud->C_Sign(s, digest, sizeof(digest), sig, &len)) != CKR_OK) {
			if (atomic_fetch_add(&sign_errors, 1) < 5)
				fprintf(stderr, "bench-cloud: remote C_Sign: 0x%lx\n",
				        (unsigned long)rv);
			if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED)
				break;
			continue;
		}
		n++;
	}
	atomic_fetch_add(&rounds.ops, n);
	return NULL;
}

/* Total ops/s (wall) of @threads threads running @fn(&@sessions[i]) for SIGN_ROUND_S. */
static double
threaded_rate(void *(*fn)(void *), int threads, CK_SESSION_HANDLE *sessions)
{
	double r = bench_round_rate(&rounds, fn, sessions, sizeof(sessions[0]), threads,
	                            SIGN_ROUND_S, NULL);

	if (r < 0)
		die("pthread_create", threads);
	return r;
}

/* One-core rate: ops over this thread's CPU time in a fixed wall round, best of 3. */
static double
one_core_rate(void)
{
	uint8_t digest[32], sig[64];
	double best = 0;

	memset(digest, 0x5a, sizeof(digest));
	for (int round = 0; round < ROUNDS; round++) {
		double wall0 = now_s(CLOCK_MONOTONIC), cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID), r;
		long n = 0;

		do {
			for (int i = 0; i < 16; i++)
				check(ls_gost_sign_digest(local_key, digest, 32, sig, sizeof(sig)),
				      "sign");
			n += 16;
		} while (now_s(CLOCK_MONOTONIC) - wall0 < 0.3);
		r = (double)n / (now_s(CLOCK_THREAD_CPUTIME_ID) - cpu0);
		if (r > best)
			best = r;
	}
	return best;
}

/* LS11_BENCH_CLOUD_THREADS=N runs the threaded entries for N threads only (profiling). */
static bool
threads_wanted(int n)
{
	const char *only = getenv("LS11_BENCH_CLOUD_THREADS");

	return only == NULL || atoi(only) == n;
}

static CK_FUNCTION_LIST_PTR random_module;

static void *
random_caller(void *arg)
{
	CK_SESSION_HANDLE s = *(CK_SESSION_HANDLE *)arg;
	CK_BYTE rnd[32];
	long n = 0;

	pthread_barrier_wait(&rounds.start);
	while (!atomic_load(&rounds.stop)) {
		CK_RV rv = random_module->C_GenerateRandom(s, rnd, sizeof(rnd));

		if (rv != CKR_OK) {
			if (atomic_fetch_add(&sign_errors, 1) < 5)
				fprintf(stderr, "bench-cloud: C_GenerateRandom: 0x%lx\n",
				        (unsigned long)rv);
			break;
		}
		n++;
	}
	atomic_fetch_add(&rounds.ops, n);
	return NULL;
}

/*
 * The per-call cost of the wire under load: C_GenerateRandom(32) (a call with next to no
 * work at the server) from CALLS_THREADS threads, one session each, through our module and
 * through p11-kit.  What a remote signature costs beyond the signature itself.
 */
#define CALLS_THREADS 16
static void
bench_calls_threaded(CK_FUNCTION_LIST_PTR ours, CK_FUNCTION_LIST_PTR p11)
{
	CK_SESSION_HANDLE s_o[CALLS_THREADS], s_p[CALLS_THREADS];
	CK_SLOT_ID p11_slot;
	CK_ULONG one = 1;
	double best_o = 0, best_p = 0, ops = 0, ccpu0, scpu0, scs0, ccs0;
	char extra[768];

	if (!threads_wanted(CALLS_THREADS))
		return;
	for (int i = 0; i < CALLS_THREADS; i++)
		ckr(ours->C_OpenSession(cloud_slot, CKF_SERIAL_SESSION, NULL, NULL, &s_o[i]),
		    "C_OpenSession");
	if (p11 != NULL && p11->C_GetSlotList(CK_TRUE, &p11_slot, &one) == CKR_OK) {
		for (int i = 0; i < CALLS_THREADS; i++)
			ckr(p11->C_OpenSession(p11_slot, CKF_SERIAL_SESSION, NULL, NULL, &s_p[i]),
			    "p11-kit C_OpenSession");
	} else {
		p11 = NULL;
	}
	atomic_store(&sign_errors, 0);
	ccpu0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	scpu0 = proc_cpu(server_pid);
	scs0 = proc_switches(server_pid);
	ccs0 = self_switches();
	random_module = ours;
	for (int round = 0; round < ROUNDS; round++) {
		double r = threaded_rate(random_caller, CALLS_THREADS, s_o);

		ops += (double)atomic_load(&rounds.ops);
		if (r > best_o)
			best_o = r;
	}
	snprintf(extra, sizeof(extra),
	         "\"threads\":%d,\"client_process_cpu_us\":%.2f,\"server_cpu_us\":%.2f,"
	         "\"server_context_switches\":%.2f,\"client_context_switches\":%.2f,"
	         "\"failed_calls\":%ld,",
	         CALLS_THREADS, (now_s(CLOCK_PROCESS_CPUTIME_ID) - ccpu0) * 1e6 / ops,
	         (proc_cpu(server_pid) - scpu0) * 1e6 / ops, (proc_switches(server_pid) - scs0) / ops,
	         (self_switches() - ccs0) / ops, atomic_load(&sign_errors));
	if (p11 != NULL) {
		random_module = p11;
		for (int round = 0; round < ROUNDS; round++) {
			double r = threaded_rate(random_caller, CALLS_THREADS, s_p);

			if (r > best_p)
				best_p = r;
		}
		for (int i = 0; i < CALLS_THREADS; i++)
			p11->C_CloseSession(s_p[i]);
	}
	snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
	         "\"notes\":\"%d threads in one process, one session each; ours: one connection, "
	         "pipelined, channel records both ways; p11-kit: unix socket, no encryption; client "
	         "and server share the 2 cores; the CPU figures are per call, both ends%s\"",
	         CALLS_THREADS, p11 != NULL ? "" : "; p11-kit/softhsm2 not installed, no baseline");
	emit("calls C_GenerateRandom(32), 16 threads", "calls/s (wall, best of 3 rounds of 0.5 s)",
	     best_o, best_p, "p11-kit client -> p11-kit server -> SoftHSMv2, 16 threads",
	     best_p > 0 ? best_o / best_p : 0, "-", extra);
	for (int i = 0; i < CALLS_THREADS; i++)
		ours->C_CloseSession(s_o[i]);
}

static void
bench_sign(void)
{
	static const int counts[] = {1, 4, 16};
	CK_SESSION_HANDLE sessions[MAX_THREADS];
	double one_core, two_core = 0;
	char extra[512];

	check(ls_gost_key_generate(LS_CURVE_TC26_256_A, &local_key), "generate");
	one_core = one_core_rate();
	for (int round = 0; round < ROUNDS; round++) {
		bench_signer local = { .round = &rounds, .key = local_key };
		double r = bench_round_rate(&rounds, bench_sign_thread, &local, 0, 2, SIGN_ROUND_S,
		                            NULL);

		if (r < 0 || atomic_load(&local.failures) != 0)
			die("the in-process signers", (long)atomic_load(&local.failures));

		if (r > two_core)
			two_core = r;
	}
	for (int i = 0; i < MAX_THREADS; i++)
		ckr(cloud->C_OpenSession(cloud_slot, CKF_SERIAL_SESSION, NULL, NULL, &sessions[i]),
		    "C_OpenSession");
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		int n = counts[k];
		double best = 0, base = n == 1 ? one_core : two_core;

		if (!threads_wanted(n))
			continue;
		char name[64];
		const char *goal = n == 1 ? ">= 0.4" : n == 16 ? ">= 0.6" : "-";

		double ccpu0 = now_s(CLOCK_PROCESS_CPUTIME_ID), scpu0 = proc_cpu(server_pid);
		double scs0 = proc_switches(server_pid), ccs0 = self_switches(), ops = 0;

		atomic_store(&sign_errors, 0);
		for (int round = 0; round < ROUNDS; round++) {
			double r = threaded_rate(remote_signer, n, sessions);

			ops += (double)atomic_load(&rounds.ops);
			if (r > best)
				best = r;
		}
		snprintf(name, sizeof(name), "remote C_Sign, %d thread%s", n, n == 1 ? "" : "s");
		snprintf(extra, sizeof(extra),
		         "\"curve\":\"tc26-256-A\",\"mechanism\":\"%s\",\"threads\":%d,"
		         "\"client_process_cpu_us\":%.2f,\"server_cpu_us\":%.2f,"
		         "\"server_context_switches\":%.2f,\"client_context_switches\":%.2f,"
		         "\"failed_calls\":%ld,\"notes\":\"one process, one session per thread, one connection; rate over "
		         "wall time, best of 3 rounds of %.1f s; client and server share the 2 "
		         "cores\"",
		         sign_mech == CKM_GOSTR3410 ? "CKM_GOSTR3410 (raw, 32-byte digest)"
		                                    : "CKM_GOSTR3410_WITH_GOSTR3411_12_256 (32 bytes)",
		         n, (now_s(CLOCK_PROCESS_CPUTIME_ID) - ccpu0) * 1e6 / ops,
		         (proc_cpu(server_pid) - scpu0) * 1e6 / ops,
		         (proc_switches(server_pid) - scs0) / ops,
		         (self_switches() - ccs0) / ops, atomic_load(&sign_errors),
		         SIGN_ROUND_S);
		emit(name, "ops/s", best, base,
		     n == 1 ? "ls_gost_sign_digest, one core (thread CPU time)"
		            : "ls_gost_sign_digest, 2 threads in process (two-core rate, wall)",
		     best / base, goal, extra);
	}
	for (int i = 0; i < MAX_THREADS; i++)
		cloud->C_CloseSession(sessions[i]);
	ls_gost_key_free(local_key);
}

/* ---------------------------------------------------------------------------------------------
 * 3 and 4. Connections through core/handshake.h's client driver
 * ------------------------------------------------------------------------------------------- */

/*
 * A TCP connection authenticated as @nick: its transport (frame cap 4096, the handshake's; the
 * channel is dropped), or NULL with *@err set.
 */
static ls_transport *
connect_auth(const char *nick, int *err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port)};
	ls_handshake_client_params p = {.purpose = LS_HANDSHAKE_SESSION,
	                                .nickname = nick,
	                                .password = password,
	                                .password_len = sizeof(password) - 1};
	ls_handshake *hs = NULL;
	ls_transport *t = NULL;
	int fd, rc;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		*err = errno;
		close(fd);
		return NULL;
	}
	if ((rc = ls_transport_socket_new(fd, LS_HANDSHAKE_MAX_MESSAGE, &t)) != LS_OK) {
		*err = rc;
		close(fd);
		return NULL;
	}
	rc = ls_handshake_client_new(&p, &hs);
	if (rc == LS_OK)
		rc = ls_handshake_client_run(hs, t, 20000);
	if (rc != LS_OK && hs != NULL)
		fprintf(stderr, "bench-cloud: handshake: %s\n",
		        ls_handshake_reason_string(ls_handshake_get_reason(hs)));
	ls_handshake_free(hs);
	if (rc != LS_OK) {
		ls_transport_free(t);
		*err = rc;
		return NULL;
	}
	return t;
}

static double
pbkdf2_ms(void)
{
	static const uint8_t salt[16] = {0x29, 0x23, 0xbe, 0x84};
	uint8_t out[64];
	double best = 1e30;

	for (int i = 0; i < ROUNDS; i++) {
		double t = now_s(CLOCK_THREAD_CPUTIME_ID);

		for (int j = 0; j < 10; j++)
			check(ls_pbkdf2_streebog512(password, sizeof(password) - 1, salt, sizeof(salt),
			                            LS_SESPAKE_ITERATIONS, out, sizeof(out)),
			      "PBKDF2");
		t = (now_s(CLOCK_THREAD_CPUTIME_ID) - t) * 1000.0 / 10;
		if (t < best)
			best = t;
	}
	return best;
}

static void
bench_setup(void)
{
	double pb = pbkdf2_ms(), cpu0, wall0, srv0, client_ms, server_ms, wall_ms;
	char extra[512];
	ls_transport *t;
	int err = 0;

	/* warm-up */
	if ((t = connect_auth("setup", &err)) == NULL)
		die("connection set-up", err);
	ls_transport_free(t);
	usleep(200000);
	srv0 = proc_cpu(server_pid);
	wall0 = now_s(CLOCK_MONOTONIC);
	cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID);
	for (int i = 0; i < SETUP_CONNS; i++) {
		if ((t = connect_auth("setup", &err)) == NULL)
			die("connection set-up", err);
		ls_transport_free(t);
	}
	client_ms = (now_s(CLOCK_THREAD_CPUTIME_ID) - cpu0) * 1000.0 / SETUP_CONNS;
	wall_ms = (now_s(CLOCK_MONOTONIC) - wall0) * 1000.0 / SETUP_CONNS;
	usleep(300000); /* let the server see the last close */
	server_ms = (proc_cpu(server_pid) - srv0) * 1000.0 / SETUP_CONNS;
	snprintf(extra, sizeof(extra),
	         "\"connections\":%d,\"wall_ms\":%.3f,\"notes\":\"TCP + SESPAKE (tc26-256-A) + "
	         "channel through ls_handshake_client_run, then close; client CPU of this "
	         "thread\"",
	         SETUP_CONNS, wall_ms);
	emit("connection set-up, client CPU", "ms/connection", client_ms, pb,
	     "PBKDF2-HMAC-Streebog-512, 2000 iterations", client_ms / pb, "-", extra);
	snprintf(extra, sizeof(extra),
	         "\"connections\":%d,\"notes\":\"utime+stime of ls11cloudd from /proc/PID/stat "
	         "(clock ticks of %ld ms) over the connections, their closes included; counters "
	         "committed to a state dir on tmpfs\"",
	         SETUP_CONNS, 1000 / sysconf(_SC_CLK_TCK));
	emit("connection set-up, server CPU", "ms/connection", server_ms, pb,
	     "PBKDF2-HMAC-Streebog-512, 2000 iterations", server_ms / pb, "-", extra);
}

static ls_transport **mem_conns;
static atomic_int mem_next, mem_opened, mem_failed;
static double mem_deadline;

static void *
mem_opener(void *arg)
{
	char nick[32];

	(void)arg;
	while (now_s(CLOCK_MONOTONIC) < mem_deadline) {
		int i = atomic_fetch_add(&mem_next, 1), err = 0;
		ls_transport *t;

		if (i >= MEM_CONNS_MAX)
			break;
		snprintf(nick, sizeof(nick), "mem%d", i / MEM_CONNS_PER_ACCOUNT);
		t = connect_auth(nick, &err);
		mem_conns[i] = t;
		if (t == NULL) {
			fprintf(stderr, "bench-cloud: idle connection %d: %d\n", i, err);
			atomic_fetch_add(&mem_failed, 1);
			if (atomic_load(&mem_failed) > 10)
				break;
			continue;
		}
		atomic_fetch_add(&mem_opened, 1);
	}
	return NULL;
}

static void
bench_memory(void)
{
	pthread_t th[2];
	double rss0, rss1, rss2, per, t0;
	char extra[768];
	const char *budget_env = getenv("LS11_BENCH_CLOUD_MEM_SECONDS");
	double budget = budget_env != NULL ? atof(budget_env) : MEM_BUDGET_S;
	int n, tried, fds0, fds1;

	if (budget <= 0 || budget > MEM_BUDGET_S)
		budget = MEM_BUDGET_S;
	mem_conns = calloc(MEM_CONNS_MAX, sizeof(*mem_conns));
	if (mem_conns == NULL)
		die("calloc", 0);
	usleep(300000);
	rss0 = proc_rss(server_pid);
	fds0 = proc_fds(server_pid);
	t0 = now_s(CLOCK_MONOTONIC);
	mem_deadline = t0 + budget;
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, mem_opener, NULL) != 0)
			die("pthread_create", i);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	t0 = now_s(CLOCK_MONOTONIC) - t0;
	n = atomic_load(&mem_opened);
	tried = atomic_load(&mem_next);
	if (tried > MEM_CONNS_MAX)
		tried = MEM_CONNS_MAX;
	usleep(500000);
	rss1 = proc_rss(server_pid);
	fds1 = proc_fds(server_pid);
	for (int i = 0; i < tried; i++)
		ls_transport_free(mem_conns[i]);
	usleep(1000000);
	rss2 = proc_rss(server_pid);
	free(mem_conns);
	if (n == 0)
		die("no idle connection could be opened", 0);
	per = (rss1 - rss0) / n;
	snprintf(extra, sizeof(extra),
	         "\"connections\":%d,\"failed\":%d,\"open_seconds\":%.1f,\"rss_before\":%.0f,"
	         "\"rss_after\":%.0f,\"rss_after_close\":%.0f,\"server_fds_added\":%d,\"notes\":\"ls11cloudd VmRSS delta "
	         "/ authenticated idle connections (%d accounts, client-side core/handshake "
	         "driver, 2 threads; the count is what %.0f s allowed, at most %d)\"",
	         n, atomic_load(&mem_failed), t0, rss0, rss1, rss2, fds1 - fds0, MEM_ACCOUNTS, budget,
	         MEM_CONNS_MAX);
	emit("idle authenticated connection, server memory", "bytes/connection", per, 65536.0,
	     "the goal, 64 KiB", per / 65536.0, "<= 65536 (ratio <= 1.0)", extra);
}

/* ---------------------------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------------------------- */

static void
cloud_token_setup(void)
{
	static const CK_BYTE oid_a[] = {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01,
	                                0x02, 0x01, 0x01, 0x01};
	static const CK_BYTE oid_h[] = {0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x02};
	static const char so_pin[] = "87654321", user_pin[] = "123456";
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
	CK_MECHANISM m = {CKM_GOSTR3410, NULL, 0};
	CK_OBJECT_HANDLE pub;
	CK_SESSION_HANDLE s;
	CK_UTF8CHAR label[32];
	CK_BYTE digest[32] = {1}, sig[64];
	CK_ULONG n = 1, len = sizeof(sig);

	ckr(cloud->C_GetSlotList(CK_TRUE, &cloud_slot, &n), "C_GetSlotList");
	memset(label, ' ', sizeof(label));
	memcpy(label, "bench", 5);
	ckr(cloud->C_InitToken(cloud_slot, (CK_UTF8CHAR_PTR)so_pin, 8, label), "C_InitToken");
	ckr(cloud->C_OpenSession(cloud_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
	    "C_OpenSession");
	ckr(cloud->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, 8), "C_Login SO");
	ckr(cloud->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin, 6), "C_InitPIN");
	ckr(cloud->C_Logout(s), "C_Logout");
	ckr(cloud->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, 6), "C_Login");
	ckr(cloud->C_GenerateKeyPair(s, &gen, pt, 5, kt2, 5, &pub, &sign_key),
	    "C_GenerateKeyPair");
	if (cloud->C_SignInit(s, &m, sign_key) != CKR_OK ||
	    cloud->C_Sign(s, digest, sizeof(digest), sig, &len) != CKR_OK)
		sign_mech = CKM_GOSTR3410_WITH_GOSTR3411_12_256;
	/* @s stays open: the login and the session key live as long as it does */
}

int
main(int argc, char **argv)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	CK_FUNCTION_LIST_PTR p11 = NULL;
	CK_SESSION_HANDLE s_ours, s_p11 = 0;
	struct rlimit rl = {MEM_CONNS_MAX + 4096, MEM_CONNS_MAX + 4096};
	ssize_t len;

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	if (getenv("LS11_BUILD_ROOT") != NULL) {
		snprintf(build_root, sizeof(build_root), "%s", getenv("LS11_BUILD_ROOT"));
	} else {
		if ((len = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
			die("readlink /proc/self/exe", errno);
		exe[len] = '\0';
		snprintf(build_root, sizeof(build_root), "%s", dirname(dirname(exe)));
	}
	snprintf(path, sizeof(path), "%s/server/ls11cloudd", build_root);
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "bench-cloud: %s missing: build everything first (ninja -C build)\n",
		        path);
		return 1;
	}
	/* File descriptors for the idle connections, inherited by the server. */
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	check(ls_crypto_init(), "ls_crypto_init");

	snprintf(tmpdir, sizeof(tmpdir), "%s/ls11-bench-cloud-XXXXXX",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		die("mkdtemp", errno);
	snprintf(path, sizeof(path), "%s/state", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/admin.pw", tmpdir);
	snprintf(exe, sizeof(exe), "%s\n", password);
	write_file(path, exe, 0600);
	add_account("bench");
	add_account("setup");
	for (int i = 0; i < MEM_ACCOUNTS; i++) {
		char nick[16];

		snprintf(nick, sizeof(nick), "mem%d", i);
		add_account(nick);
	}
	start_server();
	write_client_config();

	printf("{\"benchmark\":\"cloud\",\"results\":[");
	fflush(stdout);

	/* 1 and 2: through the modules */
	snprintf(path, sizeof(path), "%s/pkcs11/libls11cloud.so", build_root);
	if ((cloud = load_module(path)) == NULL)
		die("loading libls11cloud.so", 0);
	cloud_token_setup();
	ckr(cloud->C_OpenSession(cloud_slot, CKF_SERIAL_SESSION, NULL, NULL, &s_ours),
	    "C_OpenSession");
	if (start_p11kit() && (p11 = load_module(P11KIT_CLIENT)) != NULL) {
		CK_SLOT_ID slot;
		CK_ULONG n = 1;

		if (p11->C_GetSlotList(CK_TRUE, &slot, &n) != CKR_OK || n < 1 ||
		    p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s_p11) != CKR_OK) {
			fprintf(stderr, "bench-cloud: no token through p11-kit; no baseline\n");
			p11 = NULL;
		}
	} else {
		fprintf(stderr, "bench-cloud: p11-kit/softhsm2 unavailable; no baseline\n");
		p11 = NULL;
	}
	bench_calls(cloud, s_ours, p11, s_p11);
	bench_calls_threaded(cloud, p11);
	if (p11 != NULL)
		p11->C_Finalize(NULL);
	bench_sign();
	cloud->C_Finalize(NULL);

	/* 3 and 4: connections (LS11_BENCH_CLOUD_CALLS_ONLY=1 skips them, for quick runs) */
	if (getenv("LS11_BENCH_CLOUD_CALLS_ONLY") == NULL) {
		bench_setup();
		bench_memory();
	}

	printf("]}\n");
	cleanup();
	return 0;
}
