/*
 * LS11CLOUD - a fixed pool of worker threads for ls11cloudd's event loop.
 *
 * Work that takes milliseconds (SESPAKE steps, PBKDF2 at C_Login, signatures, any store write)
 * runs here so that one client never stalls the others.  A job is two functions: @work runs
 * on a worker thread, then @done runs on the event loop's thread (posted back through an
 * eventfd), in the order the jobs finished.  Nothing here knows what a job does.
 *
 * Threads: lsd_pool_submit() and lsd_pool_drain() only on the loop's thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_SERVER_POOL_H
#define LS11_SERVER_POOL_H

#include <stddef.h>

struct event_base;

typedef struct lsd_pool lsd_pool;

typedef void (*lsd_work_fn)(void *arg);
typedef void (*lsd_done_fn)(void *arg);

/*
 * Starts @threads workers (at least 1) whose results come back on @base's thread.
 * Returns LS_OK or LS_ERR_NOMEM / LS_ERR_INTERNAL (thread or eventfd creation failed).
 */
int lsd_pool_new(struct event_base *base, unsigned threads, lsd_pool **out);

/*
 * Queues a job.  @done may be NULL.  LS_ERR_NOMEM (then nothing runs), LS_ERR_STATE after the
 * pool began to stop.
 */
int lsd_pool_submit(lsd_pool *pool, lsd_work_fn work, lsd_done_fn done, void *arg);

/* Jobs queued or running (for limits and tests). */
size_t lsd_pool_pending(lsd_pool *pool);

/* Jobs queued and not yet taken by a worker; lock-free, so only a hint. */
size_t lsd_pool_queued(lsd_pool *pool);

/*
 * Blocks until every queued job has run, then runs the @done functions of all of them on the
 * calling (loop) thread.  For shutdown.
 */
void lsd_pool_drain(lsd_pool *pool);

/* Drains, stops the workers and frees the pool.  NULL is accepted. */
void lsd_pool_free(lsd_pool *pool);

#endif /* LS11_SERVER_POOL_H */
