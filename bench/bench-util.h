/*
 * LS11CLOUD - what the threaded benchmarks (bench-cloud, bench-floor) share: clocks, the CPU
 * time of another process, rounds of N threads started together and stopped after a fixed
 * wall time, and the in-process signer their baselines run.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_BENCH_UTIL_H
#define LS11_BENCH_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"

#define BENCH_THREADS_MAX 64

/* Seconds of @clock. */
static inline double
now_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* utime + stime of process @pid in seconds (clock ticks, 10 ms); -1 if /proc does not say. */
static inline double
bench_proc_cpu(pid_t pid)
{
	char path[64], buf[4096], *p;
	unsigned long ut = 0, st = 0;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* after "comm) ": state(3) ... utime(14) stime(15) */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * A round: the threads wait on @start, work until @stop and add what they did to @ops
 * (bench_round_rate() resets both).  Thread bodies take their bench_round through their
 * argument or a global, as the program likes.
 */
typedef struct {
	atomic_bool stop;
	atomic_long ops;
	pthread_barrier_t start;
} bench_round;

/*
 * Runs @threads threads of @fn for @seconds of wall time; thread i gets @args + i * @arg_size
 * (@arg_size 0: all get @args).  Returns ops/s over the wall time from the common start to the
 * last join; *@ops gets the ops (may be NULL).  -1 if a thread could not start, and then the
 * caller must exit (the threads that did start wait for the others).
 */
static inline double
bench_round_rate(bench_round *r, void *(*fn)(void *), void *args, size_t arg_size, int threads,
                 double seconds, long *ops)
{
	pthread_t th[BENCH_THREADS_MAX];
	double t0, t1;
	int started = 0;

	if (threads < 1 || threads > BENCH_THREADS_MAX)
		return -1;
	atomic_store(&r->stop, false);
	atomic_store(&r->ops, 0);
	if (pthread_barrier_init(&r->start, NULL, (unsigned)threads + 1) != 0)
		return -1;
	for (; started < threads; started++) {
		void *a = args != NULL ? (char *)args + (size_t)started * arg_size : NULL;

		if (pthread_create(&th[started], NULL, fn, a) != 0)
			break;
	}
	if (started < threads)
		return -1; /* the started ones wait on the barrier for ever: the caller exits */
	pthread_barrier_wait(&r->start);
	t0 = now_s(CLOCK_MONOTONIC);
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&r->stop, true);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	t1 = now_s(CLOCK_MONOTONIC);
	pthread_barrier_destroy(&r->start);
	if (ops != NULL)
		*ops = atomic_load(&r->ops);
	return (double)atomic_load(&r->ops) / (t1 - t0);
}

/* The baselines' in-process signer: signs a 32-byte digest with @key until the round stops. */
typedef struct {
	bench_round *round;
	const ls_gost_key *key;
	atomic_long failures;
} bench_signer;

static inline void *
bench_sign_thread(void *arg)
{
	bench_signer *s = arg;
	uint8_t dg[32], sig[64];
	long n = 0;

	memset(dg, 0x5a, sizeof(dg));
	pthread_barrier_wait(&s->round->start);
	while (!atomic_load(&s->round->stop)) {
		dg[0] = (uint8_t)n;
		if (ls_gost_sign_digest(s->key, dg, sizeof(dg), sig, sizeof(sig)) != LS_OK) {
			atomic_fetch_add(&s->failures, 1);
			break;
		}
		n++;
	}
	atomic_fetch_add(&s->round->ops, n);
	return NULL;
}

#endif /* LS11_BENCH_UTIL_H */
