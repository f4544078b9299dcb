/*
 * LS11CLOUD - libls11cloud.so: one account's connection (conn.h says what it does).
 *
 * Locks: c->lock guards the state (presence, generation, the pending list, the link's "up"
 * flag, the reader role); c->send_lock guards the link itself (channel and transport) for
 * senders.  The order is lock, then send_lock; no code takes lock while it holds send_lock.
 * Only the connection's thread creates and frees the link (under send_lock), and only while
 * nobody holds the reader role.  c->out_lock (a leaf: nothing else is taken under it) guards
 * the outbox.
 *
 * Sending (combining): a caller puts its request in the outbox; if no one is sending, it
 * becomes the sender, takes send_lock and seals and writes everything in the outbox, in one
 * sendmsg() per batch, until the outbox is empty (ls_channel_send_batch()).  Callers that come
 * while a sender works only queue: the sender takes their requests with its own, so N threads
 * calling at once cost about one system call, not N.  A request stays the caller's memory; a
 * caller leaving early (a timeout) takes it out of the outbox, or waits while it is being
 * sealed (outbox_forget()).
 *
 * Reading (leader/follower): the thread that holds the reader role (c->reading) reads the link
 * without a lock and hands each response to the caller whose request id it names.  A caller
 * waiting for its answer takes the role itself when nobody has it, so a lone caller sends,
 * reads and decodes its answer on its own thread, with no other thread woken.  When its own
 * answer has come, the reader passes the role on by waking the oldest caller still waiting.
 * The connection's thread takes the role only when the link has been idle for IDLE_WATCH_MS
 * and the socket has something to read (a close record, the end of the stream), and notices a
 * link that a caller found broken (c->link_err), which it then drops and resumes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "clock.h"
#include "crypto.h"
#include "handshake.h"
#include "log.h"
#include "secret.h"
#include "transport.h"

#define BACKOFF_FIRST_MS 250
/* How long the goodbye (a close record) may take at C_Finalize. */
#define GOODBYE_TIMEOUT_MS 200
/*
 * The thread reads with this timeout and looks at the stop flag in between: closing the
 * transport under a read would end the channel as if the stream had been cut.
 */
#define READ_POLL_MS 100
/*
 * A reader that is the connection's only caller looks for its answer this long before it
 * sleeps: a loopback round trip with a signature fits, and waking from poll() costs more than
 * the look (docs/benchmarks.md).  With other callers it looks for SPIN_SHARED_US only: the
 * look yields the CPU between polls (ls_transport_set_spin()), so the other callers and the
 * server run first, but a reader that sleeps at once leaves the next burst of answers waiting
 * for a wake-up, which on a virtual machine whose idle CPUs halt costs 15-30 us.
 */
#define SPIN_US 100
#define SPIN_SHARED_US 30
/* Without a call for this long, the connection's thread watches the socket itself. */
#define IDLE_WATCH_MS 100
/* The connection's thread, reading what arrived on an idle link: at most this long. */
#define IDLE_READ_MS 10

/* Why the last attempt failed: a failure already reported is logged again only at debug level. */
typedef enum {
	FAIL_NONE = 0,
	FAIL_PASSWORD,    /* no password (keyring, file) */
	FAIL_KEYRING_LOCKED,
	FAIL_PASSWORD_UNCHANGED, /* the password the server rejected, still the same */
	FAIL_UNREACHABLE,
	FAIL_HANDSHAKE,
	FAIL_AUTH,
	FAIL_LEASE,
	FAIL_MUST_CHANGE, /* a pre-registered account whose password must be changed first */
} fail_kind;

typedef struct lsc_req {
	struct lsc_req *next;
	uint64_t id;
	uint16_t call;
	ls_buf msg;        /* the encoded request, kept for a re-send */
	struct lsc_req *out_next; /* in the outbox (out_lock) */
	atomic_bool queued;  /* in the outbox (written under out_lock) */
	atomic_bool sealing; /* taken by a sender, not yet sealed (written under out_lock) */
	ls_rpc_msg *resp;  /* set with done and CKR_OK */
	CK_RV rv;          /* set with done: CKR_OK or why no response came */
	bool done;
	/*
	 * The caller sleeps on this futex word; whoever wakes it (done, or the reader role is
	 * free) bumps it first.  A waker that does so after dropping c->lock counts itself in
	 * waking, and the caller does not leave (its stack holds the request) before that is 0.
	 */
	_Atomic uint32_t seq;
	atomic_int waking;
} lsc_req;

struct lsc_conn {
	const lsc_account *acc;
	lsc_conn_notify_fn notify;
	void *user_data;
	int retry_max_ms;

	pthread_t thread;
	bool thread_started;
	atomic_bool astop; /* stopping, readable without the lock */

	pthread_mutex_t lock;
	pthread_cond_t cond; /* state changes: first attempt, presence, stop */
	bool stopping;
	CK_RV stop_rv;
	bool first_done;
	bool present;
	bool up;             /* a link is installed and may carry requests */
	bool reading;        /* someone holds the reader role (module comment) */
	bool thread_waits;   /* the connection's thread waits for the reader role to be free */
	int link_err;        /* a reader found the link broken: the thread drops it */
	int64_t last_call;   /* monotonic ms of the last request sent */
	uint32_t generation; /* 0 until the first application */
	_Atomic uint64_t next_id;
	lsc_req *pending, *pending_tail;
	int64_t lease_deadline; /* after a drop: when the server forgets the application */

	/* The thread's own. */
	uint8_t resume_token[LS_RPC_RESUME_TOKEN_SIZE];
	bool have_token;
	uint64_t lease_ms;
	uint8_t rejected_pw[LS_MD_MAX_SIZE]; /* Streebog-256 of a password the server rejected */
	bool have_rejected_pw;
	fail_kind last_fail;
	ls_buf rx;           /* the reader role's */

	/* The link. */
	pthread_mutex_t send_lock;
	ls_channel *ch;
	ls_transport *t;
	ls_transport *hs_t; /* the transport of a handshake in progress (a stop closes it) */
	atomic_int fd;

	/* The outbox (module comment, "Sending"). */
	pthread_mutex_t out_lock;
	pthread_cond_t out_cond; /* a batch was sealed */
	lsc_req *out_head, *out_tail;
	bool out_sending;        /* a sender drains the outbox */
	int out_waiters;         /* callers waiting in outbox_forget() */

	atomic_int callers;      /* threads in lsc_conn_call() now (the spin rule, SPIN_US) */
};

/* ---------------------------------------------------------------------------------------------
 * Counters
 * ------------------------------------------------------------------------------------------- */

#define STATS_CALLS 128

static atomic_ulong stats[LSC_STAT_COUNT];
static atomic_ulong stats_calls[STATS_CALLS];

static int
call_index(uint16_t call)
{
	size_t n;
	const ls_rpc_call *all = ls_rpc_calls(&n);
	const ls_rpc_call *row = ls_rpc_call_find(call);

	if (row == NULL || row < all || (size_t)(row - all) >= STATS_CALLS)
		return -1;
	return (int)(row - all);
}

void
lsc_stats_add(lsc_stat which, unsigned long n)
{
	if ((unsigned)which < LSC_STAT_COUNT)
		atomic_fetch_add(&stats[which], n);
}

unsigned long
lsc_stats_get(lsc_stat which)
{
	return (unsigned)which < LSC_STAT_COUNT ? atomic_load(&stats[which]) : 0;
}

unsigned long
lsc_stats_call(uint16_t call)
{
	int i = call_index(call);

	return i < 0 ? 0 : atomic_load(&stats_calls[i]);
}

void
lsc_stats_reset(void)
{
	for (int i = 0; i < LSC_STAT_COUNT; i++)
		atomic_store(&stats[i], 0);
	for (int i = 0; i < STATS_CALLS; i++)
		atomic_store(&stats_calls[i], 0);
}

void
lsc_stats_print(void)
{
	static const char *const names[LSC_STAT_COUNT] = {
		"round-trips", "local", "connects", "resumes", "resent", "drops",
	};
	char line[4096];
	size_t n, used = 0;
	const ls_rpc_call *all = ls_rpc_calls(&n);

	for (int i = 0; i < LSC_STAT_COUNT && used < sizeof(line); i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s=%lu",
		                         i ? " " : "", names[i], atomic_load(&stats[i]));
	for (size_t i = 0; i < n && i < STATS_CALLS && used < sizeof(line); i++) {
		unsigned long v = atomic_load(&stats_calls[i]);

		if (v != 0)
			used += (size_t)snprintf(line + used, sizeof(line) - used, " %s=%lu",
			                         all[i].name, v);
	}
	fprintf(stderr, "ls11cloud: stats: %s\n", line);
}

/* ---------------------------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------------------------- */

static struct timespec
abstime(int64_t deadline_ms)
{
	struct timespec ts;

	ts.tv_sec = deadline_ms / 1000;
	ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000;
	return ts;
}

static int
cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int r;

	if (pthread_condattr_init(&attr) != 0)
		return -1;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	r = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return r;
}

/* Waits on @cond until @deadline_ms (monotonic); false when it passed. */
static bool
cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline_ms)
{
	struct timespec ts = abstime(deadline_ms);

	return pthread_cond_timedwait(cond, lock, &ts) != ETIMEDOUT;
}

/*
 * Sleeps while *@word is @val, until woken or @deadline_ms (monotonic); may return early (a
 * spurious wake-up), the caller looks again.  A futex rather than a condition variable: the
 * thread that hands over an answer wakes its caller after dropping c->lock, so the caller does
 * not wake up only to wait for that lock.
 */
static void
futex_wait_until(_Atomic uint32_t *word, uint32_t val, int64_t deadline_ms)
{
	int64_t left = deadline_ms - ls_now_ms();
	struct timespec ts;

	if (left <= 0)
		return;
	ts.tv_sec = (time_t)(left / 1000);
	ts.tv_nsec = (long)(left % 1000) * 1000000L;
	(void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

/* Wakes the caller of @req: c->lock held, or req->waking counted (lsc_req). */
static void
req_wake(lsc_req *req)
{
	atomic_fetch_add(&req->seq, 1);
	(void)syscall(SYS_futex, (uint32_t *)&req->seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* ---------------------------------------------------------------------------------------------
 * The pending list (c->lock held)
 * ------------------------------------------------------------------------------------------- */

static void
pending_add(lsc_conn *c, lsc_req *req)
{
	req->next = NULL;
	if (c->pending_tail != NULL)
		c->pending_tail->next = req;
	else
		c->pending = req;
	c->pending_tail = req;
}

static void
pending_remove(lsc_conn *c, lsc_req *req)
{
	lsc_req **pp, *prev = NULL;

	for (pp = &c->pending; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		if (*pp == req) {
			*pp = req->next;
			if (c->pending_tail == req)
				c->pending_tail = prev;
			req->next = NULL;
			return;
		}
	}
}

static lsc_req *
pending_find(lsc_conn *c, uint64_t id)
{
	for (lsc_req *r = c->pending; r != NULL; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

/* Ends every pending request with @rv. */
static void
pending_fail_all(lsc_conn *c, CK_RV rv)
{
	while (c->pending != NULL) {
		lsc_req *r = c->pending;

		c->pending = r->next;
		r->next = NULL;
		r->rv = rv;
		r->done = true;
		req_wake(r);
	}
	c->pending_tail = NULL;
}

/*
 * c->lock held: when nobody reads, wakes the oldest caller still waiting so that it takes the
 * reader role (and the connection's thread when it waits for the role).
 */
static void
wake_next_reader(lsc_conn *c)
{
	if (c->reading)
		return;
	if (c->pending != NULL)
		req_wake(c->pending);
	if (c->thread_waits)
		pthread_cond_broadcast(&c->cond);
}

/* ---------------------------------------------------------------------------------------------
 * The link
 * ------------------------------------------------------------------------------------------- */

/*
 * Sends @req on the current link, if there is one, together with whatever other callers queued
 * meanwhile; or only queues it when another thread is sending (it takes it along).  A failure
 * breaks the link (the thread sees).
 */
static void
link_send(lsc_conn *c, lsc_req *req)
{
	lsc_req *batch[LS_TRANSPORT_SENDV_MAX];
	ls_transport_frame msgs[LS_TRANSPORT_SENDV_MAX];
	size_t n;
	int r;

	pthread_mutex_lock(&c->out_lock);
	req->out_next = NULL;
	atomic_store(&req->queued, true);
	if (c->out_tail != NULL)
		c->out_tail->out_next = req;
	else
		c->out_head = req;
	c->out_tail = req;
	if (c->out_sending) {
		pthread_mutex_unlock(&c->out_lock);
		return;
	}
	c->out_sending = true;
	pthread_mutex_unlock(&c->out_lock);

	pthread_mutex_lock(&c->send_lock);
	for (;;) {
		pthread_mutex_lock(&c->out_lock);
		for (n = 0; n < LS_TRANSPORT_SENDV_MAX && c->out_head != NULL; n++) {
			lsc_req *q = c->out_head;

			c->out_head = q->out_next;
			q->out_next = NULL;
			/* In this order: outbox_forget() looks at them without the lock. */
			atomic_store(&q->sealing, true);
			atomic_store(&q->queued, false);
			batch[n] = q;
		}
		if (c->out_head == NULL)
			c->out_tail = NULL;
		if (n == 0)
			c->out_sending = false;
		pthread_mutex_unlock(&c->out_lock);
		if (n == 0)
			break;

		for (size_t i = 0; i < n; i++) {
			msgs[i].data = ls_buf_data(&batch[i]->msg);
			msgs[i].len = ls_buf_len(&batch[i]->msg);
		}
		if (c->ch != NULL && c->t != NULL) {
			r = ls_channel_send_batch(c->ch, c->t, msgs, n, c->acc->timeout_ms);
			if (r != LS_OK) {
				ls_debug("libls11cloud: account %s: send failed: %s", c->acc->id,
				         ls_strerror(r));
				ls_transport_close(c->t);
			}
		}

		pthread_mutex_lock(&c->out_lock);
		for (size_t i = 0; i < n; i++)
			atomic_store(&batch[i]->sealing, false);
		if (c->out_waiters > 0)
			pthread_cond_broadcast(&c->out_cond);
		pthread_mutex_unlock(&c->out_lock);
	}
	pthread_mutex_unlock(&c->send_lock);
}

/* Before @req's memory goes: takes it out of the outbox, or waits until it has been sealed. */
static void
outbox_forget(lsc_conn *c, lsc_req *req)
{
	/* Neither queued nor being sealed: no sender will touch it again (link_send()). */
	if (!atomic_load(&req->queued) && !atomic_load(&req->sealing))
		return;
	pthread_mutex_lock(&c->out_lock);
	if (atomic_load(&req->queued)) {
		lsc_req **pp = &c->out_head, *prev = NULL;

		while (*pp != req) {
			prev = *pp;
			pp = &(*pp)->out_next;
		}
		*pp = req->out_next;
		if (c->out_tail == req)
			c->out_tail = prev;
		atomic_store(&req->queued, false);
	}
	while (atomic_load(&req->sealing)) {
		c->out_waiters++;
		pthread_cond_wait(&c->out_cond, &c->out_lock);
		c->out_waiters--;
	}
	pthread_mutex_unlock(&c->out_lock);
}

/* send_lock held, a new link installed: what waits in the outbox belongs to the old one. */
static void
outbox_drop(lsc_conn *c)
{
	pthread_mutex_lock(&c->out_lock);
	while (c->out_head != NULL) {
		lsc_req *q = c->out_head;

		c->out_head = q->out_next;
		q->out_next = NULL;
		q->queued = false;
	}
	c->out_tail = NULL;
	pthread_mutex_unlock(&c->out_lock);
}

/* The thread: drops the link (under send_lock), saying goodbye first when @goodbye. */
static void
link_free(lsc_conn *c, bool goodbye)
{
	pthread_mutex_lock(&c->send_lock);
	if (goodbye && c->ch != NULL && c->t != NULL)
		(void)ls_channel_send_close(c->ch, c->t, GOODBYE_TIMEOUT_MS);
	ls_channel_free(c->ch);
	c->ch = NULL;
	ls_transport_free(c->t);
	c->t = NULL;
	atomic_store(&c->fd, -1);
	pthread_mutex_unlock(&c->send_lock);
}

/* A TCP connection to the account's server within connect-timeout-ms; -1 (logged) on failure. */
static int
tcp_connect(lsc_conn *c, ls_log_level level)
{
	const lsc_account *acc = c->acc;
	struct addrinfo hints, *res = NULL, *ai;
	int64_t deadline = ls_now_ms() + acc->connect_timeout_ms;
	char port[8];
	int fd = -1, err = 0, gai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%u", (unsigned)acc->port);
	gai = getaddrinfo(acc->host, port, &hints, &res);
	if (gai != 0) {
		ls_log(level, "libls11cloud: account %s: server unreachable: cannot resolve %s: %s",
		       acc->id, acc->host, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t len = sizeof(err);
		int left, n;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		if (err == EINPROGRESS) {
			/* In slices, so that a stop (C_Finalize, exit) is not held up. */
			do {
				left = (int)(deadline - ls_now_ms());
				if (left < 0)
					left = 0;
				if (left > READ_POLL_MS)
					left = READ_POLL_MS;
				pfd.fd = fd;
				pfd.events = POLLOUT;
				pfd.revents = 0;
				n = poll(&pfd, 1, left);
			} while ((n < 0 && errno == EINTR) ||
			         (n == 0 && ls_now_ms() < deadline && !atomic_load(&c->astop)));
			if (n == 0) {
				err = ETIMEDOUT;
			} else if (n < 0) {
				err = errno;
			} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
				err = errno;
			}
			if (err == 0)
				break;
		}
		close(fd);
		fd = -1;
		if (ls_now_ms() >= deadline)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		ls_log(level, "libls11cloud: account %s: server unreachable: %s:%u: %s", acc->id,
		       acc->host, (unsigned)acc->port, strerror(err ? err : ETIMEDOUT));
	return fd;
}

/* One synchronous exchange on a link that carries nothing else yet (the lease calls). */
static CK_RV
link_exchange(lsc_conn *c, ls_channel *ch, ls_transport *t, uint16_t call,
              const ls_rpc_value *args, size_t nargs, ls_rpc_msg **resp)
{
	ls_buf msg, in;
	uint64_t id;
	CK_RV rv;
	int r;

	id = atomic_fetch_add(&c->next_id, 1);

	ls_buf_init(&msg, LS_RPC_MAX_MESSAGE);
	ls_buf_init(&in, LS_CHANNEL_MAX_PLAINTEXT);
	rv = ls_rpc_request_encode(&msg, call, id, args, nargs);
	if (rv != CKR_OK)
		goto out;
	rv = CKR_DEVICE_ERROR;
	r = ls_channel_send(ch, t, ls_buf_data(&msg), ls_buf_len(&msg), c->acc->connect_timeout_ms);
	if (r == LS_OK)
		r = ls_channel_recv(ch, t, &in, c->acc->connect_timeout_ms);
	if (r == LS_OK)
		r = ls_rpc_response_decode(&in, call, resp);
	if (r != LS_OK) {
		ls_warning("libls11cloud: account %s: %s failed: %s", c->acc->id,
		           ls_rpc_call_name(call), ls_strerror(r));
		goto out;
	}
	if (ls_rpc_msg_request_id(*resp) != id) {
		ls_warning("libls11cloud: account %s: %s: the answer names another request",
		           c->acc->id, ls_rpc_call_name(call));
		ls_rpc_msg_free(*resp);
		*resp = NULL;
		goto out;
	}
	lsc_stats_add(LSC_STAT_ROUND_TRIPS, 1);
	rv = CKR_OK;
out:
	ls_buf_clear(&msg);
	ls_buf_clear(&in);
	return rv;
}

/*
 * The lease of the new link: LeaseResume with our token, else LeaseNew.  *@resumed tells
 * whether the server handed back our application.  A server without leases is fine (no resume).
 */
static int
link_lease(lsc_conn *c, ls_channel *ch, ls_transport *t, bool *resumed)
{
	ls_rpc_msg *resp = NULL;
	const ls_rpc_value *v;
	ls_rpc_value arg;
	CK_RV rv;

	*resumed = false;
	if (c->have_token) {
		arg = LS_RPC_RESUME_TOKEN(c->resume_token);
		rv = link_exchange(c, ch, t, LS_RPC_LeaseResume, &arg, 1, &resp);
		if (rv != CKR_OK)
			return LS_ERR_IO;
		if (ls_rpc_msg_rv(resp) == CKR_OK) {
			const ls_rpc_value *state = ls_rpc_msg_arg(resp, 0, 'u');
			const ls_rpc_value *left = ls_rpc_msg_arg(resp, 1, 'u');

			v = ls_rpc_msg_arg(resp, 2, 'K');
			if (state != NULL && v != NULL && left != NULL &&
			    state->ul == LS_RPC_LEASE_RESUMED) {
				memcpy(c->resume_token, v->bytes.ptr, LS_RPC_RESUME_TOKEN_SIZE);
				*resumed = true;
				ls_rpc_msg_free(resp);
				return LS_OK;
			}
		}
		ls_info("libls11cloud: account %s: the server no longer has our application "
		        "(lease expired); starting a new one",
		        c->acc->id);
		ls_rpc_msg_free(resp);
		resp = NULL;
		c->have_token = false;
	}
	rv = link_exchange(c, ch, t, LS_RPC_LeaseNew, NULL, 0, &resp);
	if (rv != CKR_OK)
		return LS_ERR_IO;
	if (ls_rpc_msg_rv(resp) == CKR_PIN_EXPIRED) {
		/* The server serves such an account nothing but the password change. */
		ls_rpc_msg_free(resp);
		return LS_ERR_REFUSED;
	}
	if (ls_rpc_msg_rv(resp) == CKR_OK && (v = ls_rpc_msg_arg(resp, 0, 'K')) != NULL) {
		const ls_rpc_value *ms = ls_rpc_msg_arg(resp, 1, 'u');

		memcpy(c->resume_token, v->bytes.ptr, LS_RPC_RESUME_TOKEN_SIZE);
		c->have_token = true;
		c->lease_ms = ms != NULL ? ms->ul : LSC_DEFAULT_LEASE_MS;
	} else {
		ls_info("libls11cloud: account %s: the server offers no lease (CK_RV 0x%lx): "
		        "a dropped connection will not resume",
		        c->acc->id, (unsigned long)ls_rpc_msg_rv(resp));
		c->lease_ms = 0;
	}
	ls_rpc_msg_free(resp);
	return LS_OK;
}

static void
log_handshake_failure(lsc_conn *c, ls_handshake *hs, int r, ls_log_level level)
{
	const lsc_account *acc = c->acc;
	ls_handshake_reason why = ls_handshake_get_reason(hs);
	unsigned lo = 0, hi = 0;

	switch (why) {
	case LS_HS_AUTH_FAILED:
	case LS_HS_SERVER_AUTH_FAILED:
		ls_log(level, "libls11cloud: account %s: password rejected by %s:%u for \"%s\" (wrong "
		       "password, unknown nickname, or account locked); not retried until the "
		       "password changes",
		       acc->id, acc->host, (unsigned)acc->port, acc->nickname);
		break;
	case LS_HS_LOCAL_LOCKED:
		ls_log(level, "libls11cloud: account %s: account locked (attempt limit reached)",
		       acc->id);
		break;
	case LS_HS_VERSION_MISMATCH:
		if (ls_handshake_peer_versions(hs, &lo, &hi) == LS_OK)
			ls_log(level, "libls11cloud: account %s: protocol version mismatch: the server "
			       "speaks %u..%u, this module %u..%u",
			       acc->id, lo, hi, LS_HANDSHAKE_VERSION_MIN, LS_HANDSHAKE_VERSION_MAX);
		else
			ls_log(level, "libls11cloud: account %s: protocol version mismatch", acc->id);
		break;
	case LS_HS_PEER_BUSY:
		ls_log(level, "libls11cloud: account %s: the server %s:%u refused the connection: "
		       "limit reached (busy or too many connections); retrying",
		       acc->id, acc->host, (unsigned)acc->port);
		break;
	case LS_HS_TRANSPORT:
		ls_log(level, "libls11cloud: account %s: server unreachable: the handshake with %s:%u "
		       "failed: %s",
		       acc->id, acc->host, (unsigned)acc->port,
		       r == LS_ERR_TIMEOUT ? "no answer in time" : ls_strerror(r));
		break;
	default:
		ls_log(level, "libls11cloud: account %s: handshake with %s:%u failed: %s (%s)",
		       acc->id, acc->host, (unsigned)acc->port, ls_handshake_reason_string(why),
		       ls_strerror(r));
		break;
	}
}

/* The level of a failure's log line: a failure already reported repeats at debug level. */
static ls_log_level
fail_level(lsc_conn *c, fail_kind kind)
{
	if (atomic_load(&c->astop))
		return LS_LOG_DEBUG;
	return c->last_fail == kind ? LS_LOG_DEBUG : LS_LOG_WARNING;
}

/* The transport of the handshake in progress, for lsc_conn_stop() to close (NULL: none). */
static void
set_hs_transport(lsc_conn *c, ls_transport *t)
{
	pthread_mutex_lock(&c->send_lock);
	c->hs_t = t;
	if (t != NULL && atomic_load(&c->astop))
		ls_transport_close(t);
	pthread_mutex_unlock(&c->send_lock);
}

/*
 * The thread: a new link - password, TCP, handshake, lease.  On success the link is installed
 * and the state updated; returns LS_OK.  On failure returns an error, with *@kind set.
 */
static int
link_establish(lsc_conn *c, fail_kind *kind)
{
	const lsc_account *acc = c->acc;
	ls_handshake_client_params params;
	ls_handshake *hs = NULL;
	ls_transport *t = NULL;
	ls_channel *ch = NULL;
	lsc_password pw = {NULL, 0};
	uint8_t pw_hash[LS_MD_MAX_SIZE];
	bool resumed = false, notify_present = false;
	uint32_t gen = 0;
	int fd = -1, r;

	/* The password first: no connection is worth opening without one. */
	r = lsc_password_get(acc, &pw, fail_level(c, FAIL_PASSWORD));
	if (r != LS_OK) {
		*kind = r == LS_ERR_STATE ? FAIL_KEYRING_LOCKED : FAIL_PASSWORD;
		return r;
	}
	r = ls_md(LS_MD_STREEBOG256, pw.data, pw.len, pw_hash, sizeof(pw_hash));
	if (r == LS_OK && c->have_rejected_pw && ls_ct_equal(pw_hash, c->rejected_pw, 32)) {
		ls_log(LS_LOG_DEBUG,
		       "libls11cloud: account %s: the password the server refused has not changed; "
		       "not trying it again",
		       acc->id);
		*kind = FAIL_PASSWORD_UNCHANGED;
		r = LS_ERR_AUTH_FAILED;
		goto out;
	}

	fd = tcp_connect(c, fail_level(c, FAIL_UNREACHABLE));
	if (fd < 0) {
		*kind = FAIL_UNREACHABLE;
		r = LS_ERR_IO;
		goto out;
	}
	if ((r = ls_transport_socket_new(fd, 0, &t)) != LS_OK) {
		close(fd);
		*kind = FAIL_UNREACHABLE;
		goto out;
	}
	set_hs_transport(c, t);
	memset(&params, 0, sizeof(params));
	params.purpose = LS_HANDSHAKE_SESSION;
	params.nickname = acc->nickname;
	params.password = pw.data;
	params.password_len = pw.len;
	r = ls_handshake_client_new(&params, &hs);
	lsc_password_free(&pw);
	if (r != LS_OK) {
		ls_error("libls11cloud: account %s: cannot start the handshake: %s", acc->id,
		         ls_strerror(r));
		*kind = FAIL_HANDSHAKE;
		goto out;
	}
	r = ls_handshake_client_run(hs, t, acc->connect_timeout_ms);
	if (r == LS_OK)
		r = ls_handshake_take_channel(hs, &ch);
	if (r != LS_OK) {
		ls_handshake_reason why = ls_handshake_get_reason(hs);

		if (why == LS_HS_AUTH_FAILED || why == LS_HS_SERVER_AUTH_FAILED) {
			*kind = FAIL_AUTH;
			memcpy(c->rejected_pw, pw_hash, sizeof(c->rejected_pw));
			c->have_rejected_pw = true;
		} else {
			*kind = why == LS_HS_TRANSPORT ? FAIL_UNREACHABLE : FAIL_HANDSHAKE;
		}
		log_handshake_failure(c, hs, r, fail_level(c, *kind));
		goto out;
	}
	c->have_rejected_pw = false;
	ls_handshake_free(hs);
	hs = NULL;

	if ((r = link_lease(c, ch, t, &resumed)) != LS_OK) {
		*kind = r == LS_ERR_REFUSED ? FAIL_MUST_CHANGE : FAIL_LEASE;
		if (r == LS_ERR_REFUSED) {
			ls_log(fail_level(c, FAIL_MUST_CHANGE),
			       "libls11cloud: account %s: the account's password must be changed before "
			       "it can be used (ls11cloud_config change_pswd); the token stays absent "
			       "until then",
			       acc->id);
			/* Not tried again until the password changes. */
			memcpy(c->rejected_pw, pw_hash, sizeof(c->rejected_pw));
			c->have_rejected_pw = true;
		}
		goto out;
	}

	/* Installed: from now on senders may use it. */
	pthread_mutex_lock(&c->send_lock);
	c->hs_t = NULL;
	c->ch = ch;
	c->t = t;
	atomic_store(&c->fd, fd);
	/* Requests queued for the old link are pending: the resumption below sends them. */
	outbox_drop(c);
	pthread_mutex_unlock(&c->send_lock);
	ch = NULL;
	t = NULL;
	lsc_stats_add(LSC_STAT_CONNECTS, 1);

	pthread_mutex_lock(&c->lock);
	if (resumed) {
		unsigned long n = 0;

		/* In id order, with their ids: the server answers those it ran from its record. */
		for (lsc_req *q = c->pending; q != NULL; q = q->next) {
			link_send(c, q);
			n++;
		}
		lsc_stats_add(LSC_STAT_RESUMES, 1);
		lsc_stats_add(LSC_STAT_RESENT, n);
		ls_info("libls11cloud: account %s: resumed after a drop (%lu requests sent again)",
		        acc->id, n);
	} else {
		if (c->generation != 0)
			pending_fail_all(c, CKR_DEVICE_REMOVED);
		c->generation++;
		notify_present = true;
	}
	if (!c->present)
		notify_present = true;
	c->present = true;
	c->up = true;
	c->link_err = LS_OK;
	c->first_done = true;
	wake_next_reader(c); /* the callers whose requests went again read their answers */
	c->lease_deadline = 0;
	gen = c->generation;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (c->last_fail != FAIL_NONE)
		ls_info("libls11cloud: account %s: connected to %s:%u", acc->id, acc->host,
		        (unsigned)acc->port);
	if (notify_present && c->notify != NULL)
		c->notify(c->user_data, true, gen);
	r = LS_OK;
out:
	if (t != NULL)
		set_hs_transport(c, NULL);
	lsc_password_free(&pw);
	ls_wipe(pw_hash, sizeof(pw_hash));
	ls_handshake_free(hs);
	ls_channel_free(ch);
	ls_transport_free(t);
	return r;
}

/* The thread: the link broke (@err); requests in flight stay pending for the resumption. */
static void
link_dropped(lsc_conn *c, int err)
{
	const lsc_account *acc = c->acc;
	bool absent = false;
	uint32_t gen;

	if (err == LS_ERR_RECORD_AUTH || err == LS_ERR_CHANNEL_CLOSED)
		ls_warning("libls11cloud: account %s: connection to %s:%u lost: %s", acc->id,
		           acc->host, (unsigned)acc->port,
		           c->ch != NULL ? ls_channel_fault_string(ls_channel_get_fault(c->ch))
		                         : ls_strerror(err));
	else
		ls_warning("libls11cloud: account %s: connection to %s:%u lost: %s; %s", acc->id,
		           acc->host, (unsigned)acc->port, ls_strerror(err),
		           c->have_token ? "resuming" : "reconnecting");
	link_free(c, false);
	lsc_stats_add(LSC_STAT_DROPS, 1);

	pthread_mutex_lock(&c->lock);
	c->up = false;
	if (c->have_token && c->lease_ms > 0) {
		c->lease_deadline = ls_now_ms() + (int64_t)c->lease_ms;
	} else {
		/* Nothing to resume: the application is gone with the connection. */
		absent = c->present;
		c->present = false;
		pending_fail_all(c, CKR_DEVICE_REMOVED);
	}
	gen = c->generation;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	c->last_fail = FAIL_NONE;
	if (absent && c->notify != NULL)
		c->notify(c->user_data, false, gen);
}

/* The holder of the reader role: a response arrived in c->rx. */
static void
link_dispatch(lsc_conn *c)
{
	ls_rpc_msg *msg = NULL;
	uint16_t call = 0;
	lsc_req *req;
	uint64_t id;
	int r;

	if ((r = ls_rpc_response_peek(&c->rx, &id)) != LS_OK) {
		ls_warning("libls11cloud: account %s: a malformed answer from the server: %s",
		           c->acc->id, ls_strerror(r));
		goto broken;
	}
	pthread_mutex_lock(&c->lock);
	req = pending_find(c, id);
	if (req == NULL) {
		/* Its caller gave up (timeout), or a re-sent request was answered twice. */
		pthread_mutex_unlock(&c->lock);
		ls_debug("libls11cloud: account %s: an answer to request %llu nobody waits for",
		         c->acc->id, (unsigned long long)id);
		return;
	}
	call = req->call;
	r = ls_rpc_response_decode(&c->rx, call, &msg);
	if (r == LS_OK) {
		pending_remove(c, req);
		req->resp = msg;
		req->rv = CKR_OK;
		req->done = true;
		atomic_fetch_add(&req->waking, 1);
	}
	pthread_mutex_unlock(&c->lock);
	if (r == LS_OK) {
		req_wake(req);
		atomic_fetch_sub(&req->waking, 1);
		return;
	}
	ls_warning("libls11cloud: account %s: the server's answer to %s does not decode: %s",
	           c->acc->id, ls_rpc_call_name(call), ls_strerror(r));
broken:
	pthread_mutex_lock(&c->send_lock);
	if (c->t != NULL)
		ls_transport_close(c->t);
	pthread_mutex_unlock(&c->send_lock);
}

/* The thread: after a failed attempt. */
static void
attempt_failed(lsc_conn *c)
{
	bool absent = false;
	uint32_t gen;

	pthread_mutex_lock(&c->lock);
	c->first_done = true;
	if (c->present && c->lease_deadline != 0 && ls_now_ms() >= c->lease_deadline) {
		ls_warning("libls11cloud: account %s: the server stayed out of reach for the whole "
		           "lease; the token is removed and its sessions are gone",
		           c->acc->id);
		c->present = false;
		c->have_token = false;
		c->lease_deadline = 0;
		pending_fail_all(c, CKR_DEVICE_REMOVED);
		absent = true;
	}
	gen = c->generation;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (absent && c->notify != NULL)
		c->notify(c->user_data, false, gen);
}

/*
 * The connection's thread while the link is up: LS_OK or LS_ERR_TIMEOUT to go on, another error
 * when the link broke (no one holds the reader role then).  Callers read their own answers;
 * this thread reads only what arrives on a link idle for IDLE_WATCH_MS.
 */
static int
thread_watch(lsc_conn *c)
{
	struct pollfd pfd;
	int64_t now = ls_now_ms();
	int r;

	pthread_mutex_lock(&c->lock);
	if (c->stopping) {
		pthread_mutex_unlock(&c->lock);
		return LS_OK;
	}
	if (c->link_err != LS_OK) {
		/* A caller found the link broken; wait until nobody reads it any more. */
		while (c->reading && !c->stopping) {
			c->thread_waits = true;
			cond_wait_until(&c->cond, &c->lock, ls_now_ms() + READ_POLL_MS);
		}
		c->thread_waits = false;
		r = c->stopping ? LS_OK : c->link_err;
		c->link_err = LS_OK;
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	if (c->reading || c->pending != NULL || now < c->last_call + IDLE_WATCH_MS) {
		int64_t until = c->pending != NULL || c->reading ? now + READ_POLL_MS
		                                                 : c->last_call + IDLE_WATCH_MS;

		/* Busy: callers read.  Woken by a broken link, a stop, or the time. */
		cond_wait_until(&c->cond, &c->lock, until);
		pthread_mutex_unlock(&c->lock);
		return LS_OK;
	}
	pthread_mutex_unlock(&c->lock);

	pfd.fd = atomic_load(&c->fd);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, READ_POLL_MS) <= 0)
		return LS_OK;

	pthread_mutex_lock(&c->lock);
	if (c->reading || c->pending != NULL || c->stopping || c->link_err != LS_OK) {
		pthread_mutex_unlock(&c->lock); /* a caller reads it */
		return LS_OK;
	}
	c->reading = true;
	pthread_mutex_unlock(&c->lock);
	r = ls_channel_recv(c->ch, c->t, &c->rx, IDLE_READ_MS);
	if (r == LS_OK)
		link_dispatch(c);
	pthread_mutex_lock(&c->lock);
	c->reading = false;
	if (r != LS_OK && r != LS_ERR_TIMEOUT)
		c->up = false; /* nobody reads it again: link_dropped() frees it */
	else
		wake_next_reader(c);
	pthread_mutex_unlock(&c->lock);
	return r;
}

static void *
conn_thread(void *arg)
{
	lsc_conn *c = arg;
	int backoff = 0;

	for (;;) {
		bool stop;
		int r;

		pthread_mutex_lock(&c->lock);
		stop = c->stopping;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;

		if (c->ch == NULL) {
			fail_kind kind = FAIL_NONE;
			int64_t until;

			if (link_establish(c, &kind) == LS_OK) {
				c->last_fail = FAIL_NONE;
				backoff = 0;
				continue;
			}
			c->last_fail = kind;
			attempt_failed(c);
			backoff = backoff == 0 ? BACKOFF_FIRST_MS : backoff * 2;
			if (backoff > c->retry_max_ms)
				backoff = c->retry_max_ms;
			until = ls_now_ms() + backoff;
			pthread_mutex_lock(&c->lock);
			if (c->lease_deadline != 0 && c->present && c->lease_deadline < until)
				until = c->lease_deadline;
			while (!c->stopping && ls_now_ms() < until)
				cond_wait_until(&c->cond, &c->lock, until);
			pthread_mutex_unlock(&c->lock);
			continue;
		}

		r = thread_watch(c);
		if (r == LS_OK || r == LS_ERR_TIMEOUT)
			continue;
		pthread_mutex_lock(&c->lock);
		stop = c->stopping;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		link_dropped(c, r);
	}
	/* The link goes only once no caller reads it. */
	pthread_mutex_lock(&c->lock);
	while (c->reading) {
		c->thread_waits = true;
		pthread_cond_wait(&c->cond, &c->lock);
	}
	c->thread_waits = false;
	pthread_mutex_unlock(&c->lock);
	link_free(c, true);
	return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Life cycle
 * ------------------------------------------------------------------------------------------- */

static int
env_retry_max(void)
{
	const char *s = secure_getenv(LSC_ENV_RETRY_MAX);
	char *end;
	long v;

	if (s == NULL || s[0] == '\0')
		return LSC_DEFAULT_RETRY_MAX_MS;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 10 || v > 3600000) {
		ls_warning("libls11cloud: %s must be 10..3600000 (milliseconds); ignored",
		           LSC_ENV_RETRY_MAX);
		return LSC_DEFAULT_RETRY_MAX_MS;
	}
	return (int)v;
}

CK_RV
lsc_conn_start(const lsc_account *acc, lsc_conn_notify_fn notify, void *user_data,
               lsc_conn **out)
{
	sigset_t all, old;
	lsc_conn *c;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CKR_HOST_MEMORY;
	c->acc = acc;
	c->notify = notify;
	c->user_data = user_data;
	c->retry_max_ms = env_retry_max();
	atomic_store(&c->next_id, 1);
	c->lease_ms = LSC_DEFAULT_LEASE_MS;
	atomic_init(&c->fd, -1);
	atomic_init(&c->astop, false);
	ls_buf_init(&c->rx, LS_CHANNEL_MAX_PLAINTEXT);
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return CKR_HOST_MEMORY;
	}
	if (pthread_mutex_init(&c->send_lock, NULL) != 0) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return CKR_HOST_MEMORY;
	}
	if (cond_init(&c->cond) != 0) {
		pthread_mutex_destroy(&c->send_lock);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return CKR_HOST_MEMORY;
	}
	if (pthread_mutex_init(&c->out_lock, NULL) != 0) {
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->send_lock);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return CKR_HOST_MEMORY;
	}
	if (pthread_cond_init(&c->out_cond, NULL) != 0) {
		pthread_mutex_destroy(&c->out_lock);
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->send_lock);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return CKR_HOST_MEMORY;
	}
	/* The host's signals are delivered to its own threads, never to ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&c->thread, NULL, conn_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		ls_error("libls11cloud: account %s: cannot start the connection thread: %s", acc->id,
		         strerror(r));
		pthread_cond_destroy(&c->out_cond);
		pthread_mutex_destroy(&c->out_lock);
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->send_lock);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return CKR_NEED_TO_CREATE_THREADS;
	}
	c->thread_started = true;
	*out = c;
	return CKR_OK;
}

void
lsc_conn_stop(lsc_conn *c, CK_RV rv)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	if (!c->stopping) {
		c->stopping = true;
		c->stop_rv = rv;
	}
	atomic_store(&c->astop, true);
	pending_fail_all(c, c->stop_rv);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	/* A handshake in progress ends now; a link is read in slices of READ_POLL_MS. */
	pthread_mutex_lock(&c->send_lock);
	if (c->hs_t != NULL)
		ls_transport_close(c->hs_t);
	pthread_mutex_unlock(&c->send_lock);
}

bool
lsc_conn_join(lsc_conn *c, int timeout_ms)
{
	struct timespec ts;

	if (c == NULL || !c->thread_started)
		return true;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	if (pthread_timedjoin_np(c->thread, NULL, &ts) != 0)
		return false;
	c->thread_started = false;
	return true;
}

void
lsc_conn_free(lsc_conn *c)
{
	if (c == NULL)
		return;
	lsc_conn_stop(c, CKR_CRYPTOKI_NOT_INITIALIZED);
	if (c->thread_started)
		pthread_join(c->thread, NULL);
	link_free(c, false);
	ls_buf_clear(&c->rx);
	ls_wipe(c->resume_token, sizeof(c->resume_token));
	ls_wipe(c->rejected_pw, sizeof(c->rejected_pw));
	pthread_cond_destroy(&c->out_cond);
	pthread_mutex_destroy(&c->out_lock);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->send_lock);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void
lsc_conn_forget_after_fork(lsc_conn *c)
{
	int fd;

	if (c == NULL)
		return;
	/* close(), never shutdown(): the socket is shared with the parent, whose link goes on. */
	fd = atomic_exchange(&c->fd, -1);
	if (fd >= 0)
		close(fd);
	ls_wipe(c->resume_token, sizeof(c->resume_token));
}

bool
lsc_conn_present(lsc_conn *c)
{
	bool present;

	pthread_mutex_lock(&c->lock);
	present = c->present;
	pthread_mutex_unlock(&c->lock);
	return present;
}

uint32_t
lsc_conn_generation(lsc_conn *c)
{
	uint32_t gen;

	pthread_mutex_lock(&c->lock);
	gen = c->generation;
	pthread_mutex_unlock(&c->lock);
	return gen;
}

void
lsc_conn_wait_first(lsc_conn *c)
{
	int64_t deadline = ls_now_ms() + c->acc->connect_timeout_ms;

	pthread_mutex_lock(&c->lock);
	while (!c->first_done && !c->stopping && ls_now_ms() < deadline)
		cond_wait_until(&c->cond, &c->lock, deadline);
	pthread_mutex_unlock(&c->lock);
}

bool
lsc_conn_wait_present(lsc_conn *c, int timeout_ms)
{
	int64_t deadline = ls_now_ms() + timeout_ms;
	bool present;

	pthread_mutex_lock(&c->lock);
	while (!c->present && !c->stopping && ls_now_ms() < deadline)
		cond_wait_until(&c->cond, &c->lock, deadline);
	present = c->present;
	pthread_mutex_unlock(&c->lock);
	return present;
}

/* c->lock held: CKR_OK when a call may go ahead (waiting for the first attempt if need be). */
static CK_RV
call_admissible(lsc_conn *c, uint32_t generation, int64_t deadline)
{
	while (!c->first_done && !c->stopping && ls_now_ms() < deadline)
		cond_wait_until(&c->cond, &c->lock, deadline);
	if (c->stopping)
		return c->stop_rv;
	if (!c->present)
		return generation != 0 ? CKR_DEVICE_REMOVED : CKR_TOKEN_NOT_PRESENT;
	if (generation != 0 && generation != c->generation)
		return CKR_SESSION_HANDLE_INVALID;
	return CKR_OK;
}

CK_RV
lsc_conn_call(lsc_conn *c, uint16_t call, const ls_rpc_value *args, size_t nargs,
              uint32_t generation, ls_rpc_msg **resp)
{
	int64_t deadline = ls_now_ms() + c->acc->timeout_ms;
	lsc_req req;
	bool send_now;
	CK_RV rv;
	int i;

	*resp = NULL;
	memset(&req, 0, sizeof(req));
	req.call = call;
	ls_buf_init(&req.msg, LS_RPC_MAX_MESSAGE);
	atomic_fetch_add(&c->callers, 1);

	/* An id that may go unused (a call refused below): ids only need to be unique. */
	req.id = atomic_fetch_add(&c->next_id, 1);
	rv = ls_rpc_request_encode(&req.msg, call, req.id, args, nargs);
	if (rv != CKR_OK)
		goto out;

	pthread_mutex_lock(&c->lock);
	rv = call_admissible(c, generation, deadline);
	if (rv == CKR_OK)
		pending_add(c, &req);
	send_now = c->up;
	c->last_call = ls_now_ms();
	pthread_mutex_unlock(&c->lock);
	if (rv != CKR_OK)
		goto out;

	/* Not up: the request waits in the list, and the resumption sends it. */
	if (send_now)
		link_send(c, &req);

	pthread_mutex_lock(&c->lock);
	while (!req.done) {
		int64_t left;
		int r;

		if (c->reading || !c->up || c->link_err != LS_OK || c->stopping) {
			/* Someone else reads (and hands over our answer), or the link is down. */
			uint32_t seq = atomic_load(&req.seq);

			pthread_mutex_unlock(&c->lock);
			futex_wait_until(&req.seq, seq, deadline);
			pthread_mutex_lock(&c->lock);
			if (!req.done && ls_now_ms() >= deadline)
				break;
			continue;
		}
		left = deadline - ls_now_ms();
		if (left <= 0)
			break;
		/* Nobody reads: this thread does, until its own answer comes.  A lone request's
		 * answer is due within a round trip: look for it before sleeping (SPIN_US). */
		c->reading = true;
		ls_transport_set_spin(c->t, atomic_load(&c->callers) == 1 && c->pending == &req &&
		                                    req.next == NULL
		                            ? SPIN_US
		                            : SPIN_SHARED_US);
		pthread_mutex_unlock(&c->lock);
		r = ls_channel_recv(c->ch, c->t, &c->rx, left < READ_POLL_MS ? (int)left : READ_POLL_MS);
		if (r == LS_OK)
			link_dispatch(c);
		pthread_mutex_lock(&c->lock);
		c->reading = false;
		if (r != LS_OK && r != LS_ERR_TIMEOUT) {
			/* The connection's thread drops the link and resumes; we wait for that. */
			if (c->link_err == LS_OK)
				c->link_err = r;
			c->up = false;
			pthread_cond_broadcast(&c->cond);
		}
	}
	if (!req.done) {
		pending_remove(c, &req);
		ls_warning("libls11cloud: account %s: %s: no answer from %s:%u within %d ms%s",
		           c->acc->id, ls_rpc_call_name(call), c->acc->host, (unsigned)c->acc->port,
		           c->acc->timeout_ms, c->up ? "" : " (server unreachable; still retrying)");
		rv = CKR_DEVICE_ERROR;
	} else {
		rv = req.rv;
		*resp = req.resp;
		req.resp = NULL;
	}
	wake_next_reader(c);
	pthread_mutex_unlock(&c->lock);
	if (rv == CKR_OK) {
		lsc_stats_add(LSC_STAT_ROUND_TRIPS, 1);
		if ((i = call_index(call)) >= 0)
			atomic_fetch_add(&stats_calls[i], 1);
	}
out:
	outbox_forget(c, &req);
	/* The reader that handed over the answer may still be waking us (lsc_req). */
	while (atomic_load(&req.waking) != 0)
		sched_yield();
	ls_rpc_msg_free(req.resp);
	ls_buf_clear(&req.msg);
	atomic_fetch_sub(&c->callers, 1);
	return rv;
}
