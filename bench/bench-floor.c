/*
 * LS11CLOUD - the floor of remote signing on this machine: what the plainest remote signer
 * reaches with 16 client threads, against two threads signing in process, in the same run.
 * Prints one JSON object on stdout:
 *
 *   {"benchmark":"floor","cpus":2,"results":[{"name":"plain remote signer, 16 threads",
 *     "unit":"ops/s","value":..,"baseline":..,"ratio":..,"client_process_cpu_us":..,
 *     "server_cpu_us":..}, {"name":"sealed remote signer, 16 threads", ...}]}
 *
 * No RPC, no PKCS#11, no state: a child process serves 16 TCP loopback connections with one
 * thread per online CPU (each polls its share of the connections with epoll); a request is a
 * 32-byte digest read with one recv(), signed with ls_gost_sign_digest() on a tc26-256-A key,
 * and the 64-byte signature is sent back with one send().  Each of 16 client threads owns one
 * connection and sends, then blocks in recv() for its answer.  "sealed" adds the channel's
 * cryptography at both ends (core/channel.h: every request and answer a record sealed with
 * Kuznyechik-CTR and OMAC and opened on the other side), which any design that encrypts pays.
 *
 * This is the remote C_Sign at 16 threads of bench-cloud with everything but the signature,
 * the system calls, the wake-ups and (sealed) the channel taken away: a bound for that entry
 * on the same machine, to read its goal (>= 0.6 of the two-core rate) against.  The baseline
 * is the two-core in-process rate, measured in rounds alternating with the remote ones.
 * Figures are the best of 3 rounds of 0.5 s of wall time; CPU per operation (client process,
 * server process from /proc, 10 ms ticks) is over all rounds.  About 10 s.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "buffer.h"
#include "channel.h"
#include "crypto.h"
#include "errors.h"

#define CLIENTS 16
#define SERVER_THREADS_MAX 64
#define ROUNDS 3
#define ROUND_S 0.5
#define DIGEST 32
#define SIG 64
#define REQ_RECORD (DIGEST + LS_CHANNEL_OVERHEAD)
#define ANS_RECORD (SIG + LS_CHANNEL_OVERHEAD)

/* Both ends key their channels alike: the figure is the cryptography, not the key exchange. */
static const uint8_t chan_key[LS_CHANNEL_KEY_SIZE] = { 0x4c, 0x53, 0x31, 0x31 };
static const uint8_t nonce_c[LS_CHANNEL_NONCE_MIN] = { 1 };
static const uint8_t nonce_s[LS_CHANNEL_NONCE_MIN] = { 2 };

typedef struct {
	int fd;
	ls_channel *ch; /* NULL: plain */
} link_end;

static ls_gost_key *key;
static link_end client_end[CLIENTS];
static pid_t server_pid;
static bench_round rounds;

static void
die(const char *what, long detail)
{
	fprintf(stderr, "bench-floor: %s failed (%ld, %s)\n", what, detail, strerror(errno));
	exit(1);
}

static void
check(int r, const char *what)
{
	if (r != LS_OK) {
		fprintf(stderr, "bench-floor: %s failed: %s\n", what, ls_strerror(r));
		exit(1);
	}
}

/* Seconds of CPU (user + system) the server process has used. */
static double
server_cpu(void)
{
	double t = bench_proc_cpu(server_pid);

	if (t < 0)
		die("read /proc/PID/stat", server_pid);
	return t;
}

static void
read_all(int fd, uint8_t *p, size_t len)
{
	ssize_t n = recv(fd, p, len, MSG_WAITALL);

	if (n != (ssize_t)len)
		die("recv", (long)n);
}

static void
write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

	if (n != (ssize_t)len)
		die("send", (long)n);
}

/* Reads one request on @e, signs it and sends the answer (the server's side). */
static void
serve_one(const link_end *e)
{
	uint8_t rec[REQ_RECORD], sig[SIG];
	ls_buf plain, out;
	ls_record_type type;

	if (e->ch == NULL) {
		read_all(e->fd, rec, DIGEST);
		check(ls_gost_sign_digest(key, rec, DIGEST, sig, SIG), "sign");
		write_all(e->fd, sig, SIG);
		return;
	}
	read_all(e->fd, rec, REQ_RECORD);
	ls_buf_init(&plain, DIGEST);
	ls_buf_init(&out, ANS_RECORD);
	check(ls_channel_open(e->ch, rec, REQ_RECORD, &plain, &type), "ls_channel_open");
	if (type != LS_RECORD_DATA || ls_buf_len(&plain) != DIGEST)
		die("request record", (long)ls_buf_len(&plain));
	check(ls_gost_sign_digest(key, ls_buf_data(&plain), DIGEST, sig, SIG), "sign");
	check(ls_channel_seal(e->ch, LS_RECORD_DATA, sig, SIG, &out), "ls_channel_seal");
	write_all(e->fd, ls_buf_data(&out), ls_buf_len(&out));
	ls_buf_clear(&plain);
	ls_buf_clear(&out);
}

static void *
server_thread(void *arg)
{
	int ep = *(int *)arg;
	struct epoll_event ev[CLIENTS];

	for (;;) {
		int n = epoll_wait(ep, ev, CLIENTS, -1);

		if (n < 0 && errno != EINTR)
			die("epoll_wait", n);
		for (int i = 0; i < n; i++)
			serve_one(ev[i].data.ptr);
	}
	return NULL;
}

/* The child: accepts CLIENTS connections on @ls and serves them until killed. */
static void
server_main(int ls, bool sealed)
{
	static link_end ends[CLIENTS];
	static int eps[SERVER_THREADS_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t th;
	int one = 1;

	if (cpus < 1)
		cpus = 1;
	if (cpus > SERVER_THREADS_MAX)
		cpus = SERVER_THREADS_MAX;
	for (long t = 0; t < cpus; t++)
		if ((eps[t] = epoll_create1(EPOLL_CLOEXEC)) < 0)
			die("epoll_create1", t);
	for (int i = 0; i < CLIENTS; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &ends[i] };

		if ((ends[i].fd = accept(ls, NULL, NULL)) < 0)
			die("accept", i);
		setsockopt(ends[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (sealed)
			check(ls_channel_new(LS_CHANNEL_SERVER, chan_key, nonce_c, sizeof(nonce_c),
			                     nonce_s, sizeof(nonce_s), &ends[i].ch),
			      "ls_channel_new");
		if (epoll_ctl(eps[i % cpus], EPOLL_CTL_ADD, ends[i].fd, &e) < 0)
			die("epoll_ctl", i);
	}
	for (long t = 1; t < cpus; t++)
		if (pthread_create(&th, NULL, server_thread, &eps[t]) != 0)
			die("pthread_create", t);
	server_thread(&eps[0]);
}

static void *
client_thread(void *arg)
{
	const link_end *e = arg;
	uint8_t digest[DIGEST], rec[ANS_RECORD];
	ls_buf req, ans;
	ls_record_type type;
	long n = 0;

	memset(digest, 0x5a, sizeof(digest));
	ls_buf_init(&req, REQ_RECORD);
	ls_buf_init(&ans, SIG);
	pthread_barrier_wait(&rounds.start);
	while (!atomic_load(&rounds.stop)) {
		digest[0] = (uint8_t)n;
		if (e->ch == NULL) {
			write_all(e->fd, digest, DIGEST);
			read_all(e->fd, rec, SIG);
		} else {
			ls_buf_reset(&req);
			ls_buf_reset(&ans);
			check(ls_channel_seal(e->ch, LS_RECORD_DATA, digest, DIGEST, &req),
			      "ls_channel_seal");
			write_all(e->fd, ls_buf_data(&req), ls_buf_len(&req));
			read_all(e->fd, rec, ANS_RECORD);
			check(ls_channel_open(e->ch, rec, ANS_RECORD, &ans, &type),
			      "ls_channel_open");
			if (type != LS_RECORD_DATA || ls_buf_len(&ans) != SIG)
				die("answer record", (long)ls_buf_len(&ans));
		}
		n++;
	}
	ls_buf_clear(&req);
	ls_buf_clear(&ans);
	atomic_fetch_add(&rounds.ops, n);
	return NULL;
}

/* Runs one variant: a server child, the connections, alternating rounds; prints its entry. */
static void
bench_variant(bool sealed, bool first)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	double best = 0, base = 0, ccpu = 0, scpu = 0;
	long total = 0;
	int ls, one = 1;

	if ((ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, CLIENTS) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0)
		die("listen on 127.0.0.1:0", 0);
	/* Forked before any thread exists here; the child uses only what it creates itself. */
	if ((server_pid = fork()) < 0)
		die("fork", 0);
	if (server_pid == 0) {
		server_main(ls, sealed);
		_exit(0);
	}
	close(ls);
	for (int i = 0; i < CLIENTS; i++) {
		if ((client_end[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    connect(client_end[i].fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			die("connect", i);
		setsockopt(client_end[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		client_end[i].ch = NULL;
		if (sealed)
			check(ls_channel_new(LS_CHANNEL_CLIENT, chan_key, nonce_c, sizeof(nonce_c),
			                     nonce_s, sizeof(nonce_s), &client_end[i].ch),
			      "ls_channel_new");
	}
	for (int round = 0; round < ROUNDS; round++) {
		bench_signer local = { .round = &rounds, .key = key };
		double c0, s0, r;
		long n;

		r = bench_round_rate(&rounds, bench_sign_thread, &local, 0, 2, ROUND_S, NULL);
		if (r < 0 || atomic_load(&local.failures) != 0)
			die("the in-process signers", (long)atomic_load(&local.failures));
		if (r > base)
			base = r;
		c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
		s0 = server_cpu();
		r = bench_round_rate(&rounds, client_thread, client_end, sizeof(client_end[0]),
		                     CLIENTS, ROUND_S, &n);
		if (r < 0)
			die("starting the client threads", 0);
		if (r > best)
			best = r;
		ccpu += now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
		scpu += server_cpu() - s0;
		total += n;
	}
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
	for (int i = 0; i < CLIENTS; i++) {
		close(client_end[i].fd);
		ls_channel_free(client_end[i].ch);
	}
	printf("%s{\"name\":\"%s remote signer, %d threads\",\"unit\":\"ops/s\",\"value\":%.0f,"
	       "\"baseline\":%.0f,\"ratio\":%.3f,\"baseline_name\":\"ls_gost_sign_digest, 2 threads"
	       " in process (two-core rate, wall)\",\"curve\":\"tc26-256-A\","
	       "\"client_process_cpu_us\":%.2f,\"server_cpu_us\":%.2f,\"notes\":\"%s\"}",
	       first ? "" : ",", sealed ? "sealed" : "plain", CLIENTS, best, base, best / base,
	       ccpu / (double)total * 1e6, scpu / (double)total * 1e6,
	       sealed ? "one TCP connection per thread; digest and signature each one channel "
	                "record (Kuznyechik-CTR + OMAC) sealed and opened at the two ends"
	              : "one TCP connection per thread; a 32-byte digest in, a 64-byte signature "
	                "out, nothing else");
	fflush(stdout);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	check(ls_crypto_init(), "ls_crypto_init");
	check(ls_gost_key_generate(LS_CURVE_TC26_256_A, &key), "ls_gost_key_generate");
	printf("{\"benchmark\":\"floor\",\"cpus\":%ld,\"results\":[",
	       sysconf(_SC_NPROCESSORS_ONLN));
	bench_variant(false, true);
	bench_variant(true, false);
	printf("]}\n");
	ls_gost_key_free(key);
	return 0;
}
