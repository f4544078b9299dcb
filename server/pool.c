/*
 * LS11CLOUD - the worker pool: a locked FIFO of jobs, N threads, and an eventfd that wakes the
 * event loop when jobs finish.
 *
 * A worker that has just finished a job and finds the queue empty looks for the next one for up
 * to SPIN_US, yielding the CPU between looks, before it sleeps on the condition variable.  Jobs
 * come in bursts (a client's pipelined requests): sleeping between two of them costs a wake-up,
 * and on a virtual machine whose idle CPUs halt at once a wake-up of another CPU costs 15-30 us
 * (docs/benchmarks.md), as much as the signature the job is.  sched_yield() lets whatever else
 * is runnable on that CPU (the loop, a client on the same machine) go first; only an otherwise
 * idle CPU spins.
 *
 * The workers block the asynchronous signals (termination, hang-up, user, child, pipe): SIGTERM
 * and SIGINT reach the loop's thread, whose handler (libevent's) stops the server, and never a
 * worker asleep on the condition variable.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "pool.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "log.h"

/* How long a worker looks for more work after a job before it sleeps (module comment). */
#define SPIN_US 30

typedef struct job {
	struct job *next;
	lsd_work_fn work;
	lsd_done_fn done;
	void *arg;
} job;

struct lsd_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;    /* a job was queued, or stop */
	pthread_cond_t idle;    /* a job finished */
	job *head, *tail;       /* queued */
	job *done_head, *done_tail; /* finished, waiting for the loop */
	_Atomic size_t pending; /* queued + running + finished-not-collected (read without the lock) */
	_Atomic size_t queued;  /* queued, not yet taken by a worker (read without the lock) */
	bool stopping;
	pthread_t *threads;
	unsigned n_threads;
	int efd;
	struct event *ev;
};

/* pool->lock held, the queue empty, a job just done: waits up to SPIN_US for the next one. */
static void
spin_for_work(lsd_pool *pool)
{
	int64_t end = ls_now_us() + SPIN_US;

	pthread_mutex_unlock(&pool->lock);
	while (atomic_load(&pool->queued) == 0 && ls_now_us() < end)
		sched_yield();
	pthread_mutex_lock(&pool->lock);
}

static void *
worker_main(void *arg)
{
	lsd_pool *pool = arg;
	uint64_t one = 1;
	bool worked = false;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		bool notify;
		job *j;

		if (worked && pool->head == NULL && !pool->stopping)
			spin_for_work(pool);
		worked = false;
		while (pool->head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->head == NULL)
			break;
		j = pool->head;
		pool->head = j->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		atomic_fetch_sub(&pool->queued, 1);
		pthread_mutex_unlock(&pool->lock);

		j->work(j->arg);
		worked = true;

		pthread_mutex_lock(&pool->lock);
		j->next = NULL;
		/*
		 * The loop takes the whole list after each wake-up: a job joining a list that is
		 * not empty was announced already, and needs no write (nor a wake-up) of its own.
		 */
		notify = pool->done_head == NULL;
		if (pool->done_tail != NULL)
			pool->done_tail->next = j;
		else
			pool->done_head = j;
		pool->done_tail = j;
		pthread_cond_broadcast(&pool->idle);
		/* A failed write only means the counter is already non-zero: the loop will wake. */
		if (notify && write(pool->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			ls_warning("worker pool: eventfd write: %s", strerror(errno));
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Runs the done functions of the finished jobs, on the loop's thread. */
static void
collect(lsd_pool *pool)
{
	job *list, *j;

	pthread_mutex_lock(&pool->lock);
	list = pool->done_head;
	pool->done_head = pool->done_tail = NULL;
	pthread_mutex_unlock(&pool->lock);
	while ((j = list) != NULL) {
		list = j->next;
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
		atomic_fetch_sub(&pool->pending, 1);
	}
}

static void
on_eventfd(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		ls_warning("worker pool: eventfd read: %s", strerror(errno));
	collect(arg);
}

int
lsd_pool_new(struct event_base *base, unsigned threads, lsd_pool **out)
{
	static const int async_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1,
		                              SIGUSR2, SIGCHLD, SIGPIPE, SIGALRM };
	sigset_t async, old;
	lsd_pool *pool;
	unsigned i;

	ls_return_val_if_fail(base != NULL && out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	if (threads == 0)
		threads = 1;
	if ((pool = calloc(1, sizeof(*pool))) == NULL)
		return LS_ERR_NOMEM;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->idle, NULL);
	pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pool->threads = calloc(threads, sizeof(pthread_t));
	if (pool->efd < 0 || pool->threads == NULL) {
		int r = pool->efd < 0 ? LS_ERR_INTERNAL : LS_ERR_NOMEM;

		ls_error("worker pool: %s", pool->efd < 0 ? strerror(errno) : "out of memory");
		lsd_pool_free(pool);
		return r;
	}
	pool->ev = event_new(base, pool->efd, EV_READ | EV_PERSIST, on_eventfd, pool);
	if (pool->ev == NULL || event_add(pool->ev, NULL) != 0) {
		lsd_pool_free(pool);
		return LS_ERR_NOMEM;
	}
	/* The threads start with the asynchronous signals blocked (the mask is inherited). */
	sigemptyset(&async);
	for (i = 0; i < sizeof(async_signals) / sizeof(async_signals[0]); i++)
		sigaddset(&async, async_signals[i]);
	pthread_sigmask(SIG_BLOCK, &async, &old);
	for (i = 0; i < threads; i++) {
		int rc = pthread_create(&pool->threads[i], NULL, worker_main, pool);

		if (rc != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			ls_error("worker pool: cannot start thread %u: %s", i, strerror(rc));
			lsd_pool_free(pool);
			return LS_ERR_INTERNAL;
		}
		pool->n_threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	*out = pool;
	return LS_OK;
}

int
lsd_pool_submit(lsd_pool *pool, lsd_work_fn work, lsd_done_fn done, void *arg)
{
	job *j;

	ls_return_val_if_fail(pool != NULL && work != NULL, LS_ERR_INVALID_ARG);
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return LS_ERR_NOMEM;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&pool->lock);
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		free(j);
		return LS_ERR_STATE;
	}
	if (pool->tail != NULL)
		pool->tail->next = j;
	else
		pool->head = j;
	pool->tail = j;
	atomic_fetch_add(&pool->pending, 1);
	atomic_fetch_add(&pool->queued, 1);
	pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	return LS_OK;
}

size_t
lsd_pool_queued(lsd_pool *pool)
{
	return atomic_load(&pool->queued);
}

size_t
lsd_pool_pending(lsd_pool *pool)
{
	return atomic_load(&pool->pending);
}

void
lsd_pool_drain(lsd_pool *pool)
{
	if (pool == NULL)
		return;
	/* A done function may submit more work: loop until nothing is left at all. */
	for (;;) {
		pthread_mutex_lock(&pool->lock);
		while (pool->head != NULL || pool->pending > 0) {
			if (pool->done_head != NULL)
				break;
			pthread_cond_wait(&pool->idle, &pool->lock);
		}
		if (pool->pending == 0) {
			pthread_mutex_unlock(&pool->lock);
			return;
		}
		pthread_mutex_unlock(&pool->lock);
		collect(pool);
	}
}

void
lsd_pool_free(lsd_pool *pool)
{
	unsigned i;

	if (pool == NULL)
		return;
	lsd_pool_drain(pool);
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);
	if (pool->ev != NULL)
		event_free(pool->ev);
	if (pool->efd >= 0)
		close(pool->efd);
	free(pool->threads);
	pthread_cond_destroy(&pool->idle);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}
