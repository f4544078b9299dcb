/*
 * LS11CLOUD - connections: accept with limits, frames in, one job at a time on the workers
 * (handshake step or one RPC request), frames out, timeouts, teardown.
 *
 * A connection moves through two states.  HANDSHAKE: plaintext messages of core/handshake.h,
 * at most LS_HANDSHAKE_MAX_MESSAGE bytes each, strictly one at a time (reading pauses while a
 * step runs, so a client that does not wait for the answer gains nothing).  CHANNEL: records
 * of core/channel.h carrying RPC messages (core/rpc.h), up to max-frame bytes; requests may
 * be pipelined.  The loop thread opens the records that arrived, in order (the receiving
 * direction of the channel; records larger than INLINE_OPEN_MAX in all go to one job at a time
 * instead); the requests then run concurrently on the workers, ordered per session with
 * "barrier" calls alone (docs/server.md, "Concurrent requests"), and the worker that ran a
 * request seals its answer and writes it to the socket itself, under the connection's out_lock
 * (the sending direction; what the socket does not take waits for the loop to flush it).  When
 * other short requests of the connection are still on the workers, an answer is sealed but
 * held, and the last of them writes all the held answers in one system call (out_hold()).  A
 * request thus costs one hand-over to a worker and none back before its answer leaves; a lone
 * short request of a session runs on the loop thread itself (inline_ok()), with none.  The
 * ones that arrive while max-inflight are waiting are answered with CKR_DEVICE_MEMORY without
 * being run, and reading pauses at twice that many.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "server-private.h"

/* The output of one job: a response record and a close record at most. */
#define JOB_OUT_MAX (3 * (LS_CHANNEL_MAX_RECORD + LS_FRAME_HEADER_SIZE))
/* Scratch buffers larger than this are released after the job rather than kept. */
#define KEEP_SCRATCH ((size_t)64 << 10)
/*
 * Received records up to this many bytes in all are opened on the loop thread (checking and
 * decrypting 16 KiB takes about 0.2 ms); more go to a worker, so that one client's large
 * records never hold up the others.
 */
#define INLINE_OPEN_MAX ((size_t)16 << 10)
/*
 * A request may run on the loop thread itself, with no hand-over at all, when it is the only
 * request of its connection, the workers are idle, it is a computation on a session (the list
 * in inline_call()) of at most INLINE_RUN_BYTES, and that call has taken less than
 * INLINE_RUN_MAX_NS on average so far.  Anything else, and everything that can take long
 * (PBKDF2, key generation, store writes), runs on a worker.  (Such a request can still wait on
 * the loop in one rare case: just after a resumption, for a request of the old connection that
 * holds the application or the same request id.)
 */
#define INLINE_RUN_BYTES 4096
#define INLINE_RUN_MAX_NS 100000
/*
 * Held answers (out_hold()) go out at the latest when this many, or this many bytes, wait.
 */
#define OUT_HOLD_MAX 16
#define OUT_HOLD_BYTES ((size_t)64 << 10)
/* The running mean of each call's cost, in ns (indexed like ls_rpc_calls()). */
#define COST_SLOTS 128
static _Atomic uint32_t call_cost_ns[COST_SLOTS];

static void conn_pump(lsd_conn *c);
static void conn_schedule(lsd_conn *c);
static void conn_drop(lsd_conn *c, const char *why);
static bool conn_run_reqs(lsd_conn *c);
static void conn_progress(lsd_conn *c);
static bool conn_start_req(lsd_conn *c, lsd_req *q);
static int conn_send(lsd_conn *c, ls_record_type type, const ls_buf *plain, lsd_req *q);
static bool inline_call(uint16_t call);

static void
frame_free(lsd_frame *f)
{
	if (f == NULL)
		return;
	ls_wipe(f->data, f->len);
	free(f->data);
	free(f);
}

static void
addr_of(const struct sockaddr *sa, char *addr, size_t addr_size, char *peer, size_t peer_size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		/* An IPv4 client of a dual-stack socket counts as its IPv4 address. */
		if (strncmp(host, "::ffff:", 7) == 0 && strchr(host + 7, '.') != NULL)
			memmove(host, host + 7, strlen(host + 7) + 1);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
	}
	snprintf(addr, addr_size, "%s", host);
	if (strchr(host, ':') != NULL)
		snprintf(peer, peer_size, "[%s]:%u", host, port);
	else
		snprintf(peer, peer_size, "%s:%u", host, port);
}

/* Refuses a connection before any state exists for it: the handshake's "busy" message. */
static void
refuse(int fd, const char *peer, const char *why)
{
	uint8_t hdr[LS_FRAME_HEADER_SIZE];
	ls_buf msg;

	ls_warning("%s: connection refused: %s", peer, why);
	ls_buf_init(&msg, LS_HANDSHAKE_MAX_MESSAGE);
	if (ls_handshake_busy_message(&msg) == LS_OK &&
	    ls_frame_header(ls_buf_len(&msg), 0, hdr) == LS_OK) {
		struct iovec iov[2] = {
			{ hdr, sizeof(hdr) },
			{ (void *)ls_buf_data(&msg), ls_buf_len(&msg) },
		};
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

		/* Best effort: a few bytes into an empty socket buffer. */
		if (sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			ls_debug("%s: the refusal was not sent: %s", peer, strerror(errno));
	}
	ls_buf_clear(&msg);
	shutdown(fd, SHUT_RDWR);
	close(fd);
}

/* ---------------------------------------------------------------------------------------------
 * The sending direction of the channel (any thread, out_lock)
 * ------------------------------------------------------------------------------------------- */

static void scratch_done(ls_buf *b);

/* out_lock held: writes the sealed frames of c->sealed, queueing what the socket does not take. */
static int
out_flush(lsd_conn *c)
{
	const uint8_t *data = ls_buf_data(&c->sealed);
	size_t total = ls_buf_len(&c->sealed), done = 0;
	int r = LS_OK;

	c->out_held = 0;
	if (total == 0)
		return LS_OK;
	if (c->out_direct && evbuffer_get_length(c->wq) == 0) {
		ssize_t n;

		do
			n = send(c->out_fd, data, total, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				ls_debug("%s: send: %s", c->peer, strerror(errno));
				c->out_failed = true;
				r = LS_ERR_IO;
				goto out;
			}
			n = 0;
		}
		done = (size_t)n;
	}
	if (done < total && evbuffer_add(c->wq, data + done, total - done) != 0) {
		ls_error("%s: cannot queue %zu bytes of output", c->peer, total - done);
		c->out_failed = true;
		r = LS_ERR_NOMEM;
	}
out:
	scratch_done(&c->sealed);
	return r;
}

/*
 * out_lock held: whether the answer just sealed may wait for the others of the connection
 * still on the workers (one write for them all).  Only while every one of those is a short
 * computation (lsd_req.cheap), the pool's queue holds no more jobs than they are (so hardly any
 * other connection's job runs before them), and at most OUT_HOLD_MAX answers or OUT_HOLD_BYTES
 * wait.
 */
static bool
out_hold(lsd_conn *c)
{
	unsigned unsent = atomic_load(&c->out_unsent);
	size_t queued;

	if (unsent == 0 || atomic_load(&c->out_unsent_slow) > 0 || c->out_held >= OUT_HOLD_MAX ||
	    ls_buf_len(&c->sealed) >= OUT_HOLD_BYTES)
		return false;
	queued = lsd_pool_queued(c->srv->pool);
	return queued >= 1 && queued <= unsent;
}

/*
 * Seals @plain (a DATA record; NULL for a CLOSE record) as a frame after those held in
 * c->sealed, in the order of the sequence numbers, and writes them all unless @q (the request
 * answered, when a worker sends its answer) lets it hold them (out_hold()).  Any thread,
 * channel state.  Once the socket is gone or the connection closes, nothing goes out (LS_OK); a
 * failure marks the connection for the loop to drop.
 */
static int
conn_send(lsd_conn *c, ls_record_type type, const ls_buf *plain, lsd_req *q)
{
	size_t len = plain != NULL ? ls_buf_len(plain) : 0, start;
	uint8_t hdr[LS_FRAME_HEADER_SIZE];
	bool hold = false;
	int r;

	pthread_mutex_lock(&c->out_lock);
	if (q != NULL) {
		/* Its answer is being sealed: the others may now hold theirs for it no more. */
		if (!q->cheap)
			atomic_fetch_sub(&c->out_unsent_slow, 1);
		atomic_fetch_sub(&c->out_unsent, 1);
	}
	if (c->out_fd < 0 || c->out_stop || c->out_failed) {
		r = c->out_failed ? LS_ERR_IO : LS_OK;
		c->out_held = 0;
		ls_buf_reset(&c->sealed);
		pthread_mutex_unlock(&c->out_lock);
		return r;
	}
	start = ls_buf_len(&c->sealed);
	r = ls_frame_header(len + LS_CHANNEL_OVERHEAD, LS_FRAME_DEFAULT_MAX, hdr);
	if (r == LS_OK) {
		ls_buf_add(&c->sealed, hdr, sizeof(hdr));
		r = ls_buf_status(&c->sealed);
	}
	if (r == LS_OK)
		r = ls_channel_seal(c->ch, type, plain != NULL ? ls_buf_data(plain) : NULL, len,
		                    &c->sealed);
	if (r != LS_OK) {
		ls_error("%s: cannot seal a record: %s", c->peer, ls_strerror(r));
		ls_buf_truncate(&c->sealed, start);
		c->out_failed = true;
		(void)out_flush(c); /* what was sealed before still goes, in order */
	} else {
		c->out_held++;
		if (q == NULL || !(hold = out_hold(c)))
			r = out_flush(c);
	}
	pthread_mutex_unlock(&c->out_lock);
	return r;
}

/* Counts @q as given to a worker (or run on the loop): its answer is not sealed yet. */
static void
out_expect(lsd_conn *c, lsd_req *q)
{
	if (!q->cheap)
		atomic_fetch_add(&c->out_unsent_slow, 1);
	atomic_fetch_add(&c->out_unsent, 1);
}

/* Takes back out_expect() for a request that will not run; writes what was held for it. */
static void
out_unexpect(lsd_conn *c, lsd_req *q)
{
	pthread_mutex_lock(&c->out_lock);
	if (!q->cheap)
		atomic_fetch_sub(&c->out_unsent_slow, 1);
	atomic_fetch_sub(&c->out_unsent, 1);
	if (c->out_held > 0 && c->out_fd >= 0 && !out_hold(c))
		(void)out_flush(c);
	pthread_mutex_unlock(&c->out_lock);
}

/* ---------------------------------------------------------------------------------------------
 * The jobs (worker threads)
 * ------------------------------------------------------------------------------------------- */

static void
out_frame(lsd_conn *c, const ls_buf *payload)
{
	if (ls_buf_len(payload) == 0)
		return;
	if (ls_frame_encode(&c->job_out, ls_buf_data(payload), ls_buf_len(payload),
	                    LS_FRAME_DEFAULT_MAX) != LS_OK) {
		ls_error("%s: cannot queue %zu bytes of output", c->peer, ls_buf_len(payload));
		c->job_close = true;
	}
}

static bool
is_login_failure(ls_handshake_reason reason)
{
	switch (reason) {
	case LS_HS_AUTH_FAILED:
	case LS_HS_UNKNOWN_ACCOUNT:
	case LS_HS_ACCOUNT_LOCKED:
	case LS_HS_TRANSCRIPT_MISMATCH:
	case LS_HS_REGISTRATION_CODE:
		return true;
	default:
		return false;
	}
}

static void
job_handshake(lsd_conn *c)
{
	lsd_frame *f = c->job_frame;
	ls_handshake_reason reason;
	bool done = false;
	int r;

	ls_buf_reset(&c->resp);
	r = ls_handshake_step(c->hs, f->data, f->len, &c->resp, &done);
	out_frame(c, &c->resp);
	if (!done)
		return;
	lsd_auth_attempt_end(c);
	reason = ls_handshake_get_reason(c->hs);
	if (r == LS_OK && ls_handshake_purpose_of(c->hs) == LS_HANDSHAKE_SESSION) {
		r = ls_handshake_take_channel(c->hs, &c->ch);
		ls_handshake_free(c->hs);
		c->hs = NULL;
		if (r != LS_OK || lsd_registry_login(c) != LS_OK) {
			ls_error("%s: %s: the session cannot be set up", c->peer, c->nickname);
			c->job_close = true;
			return;
		}
		c->job_hs_success = true;
		return;
	}
	c->job_close = true;
	if (r == LS_OK) /* a registration ran to its end; its callback logged the outcome */
		return;
	if (is_login_failure(reason)) {
		c->job_auth_failed = true;
		ls_warning("%s: %s '%s' failed: %s", c->peer,
		           ls_handshake_purpose_of(c->hs) == LS_HANDSHAKE_REGISTER ? "registration of"
		                                                                 : "login as",
		           ls_handshake_nickname(c->hs), ls_handshake_reason_string(reason));
		if (c->known_account && reason != LS_HS_REGISTRATION_CODE)
			c->job_audit_failure = ls_handshake_reason_string(reason);
	} else {
		ls_warning("%s: handshake failed: %s (%s)", c->peer,
		           ls_handshake_reason_string(reason), ls_strerror(r));
	}
}

static void
req_free(lsd_req *q)
{
	if (q == NULL)
		return;
	ls_buf_clear(&q->plain); /* ls_buf_clear wipes */
	ls_buf_clear(&q->resp);
	free(q);
}

static void
req_free_list(lsd_req *q)
{
	lsd_req *next;

	for (; q != NULL; q = next) {
		next = q->next;
		req_free(q);
	}
}

/* Opens the frames of c->job_frame in order into requests (c->job_reqs). */
static void
job_open(lsd_conn *c)
{
	lsd_req *head = NULL, **tail = &head;
	lsd_frame *f;

	while ((f = c->job_frame) != NULL) {
		ls_record_type type = LS_RECORD_DATA;
		bool over = f->over_limit;
		lsd_req *q;
		int r;

		c->job_frame = f->next;
		if (c->job_close || (q = calloc(1, sizeof(*q))) == NULL) {
			if (!c->job_close)
				ls_error("%s: out of memory for a request, closing", c->peer);
			c->job_close = true;
			frame_free(f);
			continue;
		}
		q->c = c;
		ls_buf_init(&q->plain, LS_CHANNEL_MAX_PLAINTEXT);
		ls_buf_init(&q->resp, LS_RPC_MAX_MESSAGE);
		r = ls_channel_open(c->ch, f->data, f->len, &q->plain, &type);
		frame_free(f);
		if (r != LS_OK) {
			ls_warning("%s: record refused, closing: %s", c->peer,
			           ls_channel_fault_string(ls_channel_get_fault(c->ch)));
			c->job_close = true;
			req_free(q);
			continue;
		}
		if (type == LS_RECORD_CLOSE) {
			ls_info("%s: the client closed the channel", c->peer);
			c->job_close = true;
			c->job_close_record = true;
			req_free(q);
			continue;
		}
		if (over) {
			ls_buf head_view;
			uint16_t call = 0;
			uint64_t id = 0;

			ls_buf_init_view(&head_view, ls_buf_cursor(&q->plain),
			                 ls_buf_remaining(&q->plain));
			if (ls_buf_get_u16(&head_view, &call) != LS_OK ||
			    ls_buf_get_u64(&head_view, &id) != LS_OK) {
				ls_warning("%s: a request too short for its header: closing", c->peer);
				c->job_close = true;
				req_free(q);
				continue;
			}
			ls_warning("%s: %s refused: more than %u requests in flight on this "
			           "connection",
			           c->peer, ls_rpc_call_name(call), c->srv->cfg->max_inflight);
			ls_rpc_response_encode_error(&q->resp, id, CKR_DEVICE_MEMORY);
			q->kind = LSD_REQ_ANSWERED;
		} else {
			q->kind = lsd_req_classify(&q->plain, &q->session);
		}
		*tail = q;
		tail = &q->next;
	}
	c->job_reqs = head;
}

/* The slot of a request's call in call_cost_ns[], or -1. */
static int
cost_slot(const lsd_req *q)
{
	const uint8_t *p = ls_buf_cursor(&q->plain);
	const ls_rpc_call *all, *row;
	size_t n;

	if (ls_buf_remaining(&q->plain) < 2)
		return -1;
	all = ls_rpc_calls(&n);
	row = ls_rpc_call_find((uint16_t)(p[0] << 8 | p[1]));
	if (row == NULL || row < all || row - all >= COST_SLOTS)
		return -1;
	return (int)(row - all);
}

/* One request, concurrently with the others of its connection that conn_run_reqs() let go. */
static void
req_work(void *arg)
{
	lsd_req *q = arg;
	lsd_conn *c = q->c;
	unsigned now = atomic_fetch_add(&c->exec_now, 1) + 1;
	unsigned max = atomic_load(&c->exec_max);
	int slot = cost_slot(q);
	int64_t t0 = ls_now_ns(), took;

	while (now > max && !atomic_compare_exchange_weak(&c->exec_max, &max, now))
		;
	lsd_dispatch(c, &q->plain, &q->resp, &q->close_after);
	atomic_fetch_sub(&c->exec_now, 1);
	if (slot >= 0) {
		/* A running mean over about eight calls (a lost update between threads is fine). */
		int64_t mean = atomic_load(&call_cost_ns[slot]);

		took = ls_now_ns() - t0;
		mean += (took - mean) / 8;
		atomic_store(&call_cost_ns[slot],
		             (uint32_t)(mean > UINT32_MAX ? UINT32_MAX : mean));
	}
	/*
	 * The answer leaves from this thread (now, or with the next of the connection's answers
	 * when out_hold() lets it wait); req_done() only does the bookkeeping.
	 */
	if (ls_buf_len(&q->resp) > 0) {
		(void)conn_send(c, LS_RECORD_DATA, &q->resp, q);
		q->sent = true;
	} else {
		out_unexpect(c, q);
	}
}

static void
scratch_done(ls_buf *b)
{
	if (ls_buf_len(b) > KEEP_SCRATCH)
		ls_buf_clear(b);
	else
		ls_buf_reset(b);
}

static void
conn_work(void *arg)
{
	lsd_conn *c = arg;

	c->job_close = false;
	c->job_auth_failed = false;
	c->job_hs_success = false;
	c->job_audit_failure = NULL;
	c->job_close_record = false;
	if (c->state == LSD_CONN_HANDSHAKE) {
		job_handshake(c);
		scratch_done(&c->resp);
	} else {
		/* c->sealed and c->job_out belong to the loop thread in the channel state. */
		job_open(c);
	}
}

typedef struct {
	lsd_server *srv;
	uint64_t account_id;
	char addr[64];
	const char *why; /* static */
} audit_later;

static void
audit_later_work(void *arg)
{
	audit_later *a = arg;

	lsd_audit(a->srv->store, a->account_id, "auth-failed", 0, a->addr, "%s", a->why);
}

static void
audit_later_done(void *arg)
{
	free(arg);
}

static void
audit_failure_later(lsd_conn *c)
{
	audit_later *a;

	if (c->job_audit_failure == NULL || (a = calloc(1, sizeof(*a))) == NULL)
		return;
	a->srv = c->srv;
	a->account_id = c->account_id;
	a->why = c->job_audit_failure;
	snprintf(a->addr, sizeof(a->addr), "%s", c->addr);
	c->job_audit_failure = NULL;
	if (lsd_pool_submit(c->srv->pool, audit_later_work, audit_later_done, a) != LS_OK) {
		audit_later_work(a);
		free(a);
	}
}

/* The last job of a connection: release its application, account and secrets. */
static void
conn_finish_work(void *arg)
{
	lsd_conn *c = arg;

	lsd_registry_logout(c);
	lsd_auth_attempt_end(c); /* a handshake abandoned half-way */
	ls_handshake_free(c->hs);
	c->hs = NULL;
	ls_channel_free(c->ch);
	c->ch = NULL;
	ls_buf_clear(&c->plain);
	ls_buf_clear(&c->resp);
	ls_buf_clear(&c->sealed);
	ls_buf_clear(&c->job_out);
	if (c->wq != NULL)
		evbuffer_free(c->wq);
	c->wq = NULL;
	req_free_list(c->job_reqs);
	c->job_reqs = NULL;
}

static void
conn_finish_done(void *arg)
{
	lsd_conn *c = arg;

	ls_frame_decoder_free(c->dec);
	ls_buf_clear(&c->cur);
	pthread_mutex_destroy(&c->out_lock);
	free(c);
}

/* ---------------------------------------------------------------------------------------------
 * The loop side
 * ------------------------------------------------------------------------------------------- */

static void
conn_release(lsd_conn *c)
{
	if (lsd_pool_submit(c->srv->pool, conn_finish_work, conn_finish_done, c) != LS_OK) {
		conn_finish_work(c);
		conn_finish_done(c);
	}
}

/* Frees the requests that wait (not running); the running ones stay in the list. */
static void
reqs_drop_waiting(lsd_conn *c)
{
	lsd_req **pp = &c->reqs, *q;

	c->reqs_tail = NULL;
	while ((q = *pp) != NULL) {
		if (q->running) {
			c->reqs_tail = q;
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		c->n_queued--;
		req_free(q);
	}
}

static void
reqs_remove(lsd_conn *c, lsd_req *q)
{
	lsd_req **pp, *prev = NULL;

	for (pp = &c->reqs; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			if (c->reqs_tail == q)
				c->reqs_tail = prev;
			q->next = NULL;
			return;
		}
	}
}

static void
conn_drop(lsd_conn *c, const char *why)
{
	lsd_server *srv = c->srv;
	lsd_frame *f;

	if (c->dead)
		return;
	c->dead = true;
	if (why != NULL)
		ls_info("%s: connection closed: %s", c->peer, why);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->n_conns--;
	if (c->src != NULL)
		c->src->conns--;
	if (c->in_handshake_count) {
		srv->n_handshakes--;
		c->in_handshake_count = false;
	}
	/* No worker writes to the descriptor once it is closed (its number may be reused). */
	pthread_mutex_lock(&c->out_lock);
	c->out_fd = -1;
	pthread_mutex_unlock(&c->out_lock);
	if (c->wev != NULL)
		event_free(c->wev);
	c->wev = NULL;
	bufferevent_free(c->bev);
	c->bev = NULL;
	while ((f = c->q_head) != NULL) {
		c->q_head = f->next;
		frame_free(f);
	}
	c->q_tail = NULL;
	reqs_drop_waiting(c);
	if (c->requests > 0)
		ls_info("%s: %llu requests answered, at most %u handed to the workers and %u "
		        "running at once",
		        c->peer, (unsigned long long)c->requests, c->running_max,
		        atomic_load(&c->exec_max));
	if (!c->busy && c->running == 0)
		conn_release(c);
}

/* Bytes of output not yet taken by the socket (loop thread). */
static size_t
conn_out_pending(lsd_conn *c)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (c->wq != NULL) {
		pthread_mutex_lock(&c->out_lock);
		n += evbuffer_get_length(c->wq);
		pthread_mutex_unlock(&c->out_lock);
	}
	return n;
}

/*
 * After records were sent (by a worker or the loop): makes the loop flush what the socket did
 * not take.  False when a write failed and the connection was dropped (it may be gone).
 */
static bool
conn_out_kick(lsd_conn *c)
{
	bool failed, waiting;

	if (c->wq == NULL)
		return true;
	pthread_mutex_lock(&c->out_lock);
	failed = c->out_failed;
	waiting = c->out_direct && evbuffer_get_length(c->wq) > 0;
	pthread_mutex_unlock(&c->out_lock);
	if (failed) {
		conn_drop(c, "cannot send an answer");
		return false;
	}
	if (waiting && !event_pending(c->wev, EV_WRITE, NULL))
		event_add(c->wev, NULL);
	return true;
}

static void
conn_close_soon(lsd_conn *c)
{
	c->closing = true;
	pthread_mutex_lock(&c->out_lock);
	c->out_stop = true;
	pthread_mutex_unlock(&c->out_lock);
	bufferevent_disable(c->bev, EV_READ);
	/* What workers queued goes out first; on_wq_writable() closes then. */
	if (conn_out_pending(c) == 0)
		conn_drop(c, "done");
	else
		(void)conn_out_kick(c);
}

/* The loop's own records (refusals, the close record).  Not LS_OK: drop the connection. */
static int
send_record(lsd_conn *c, ls_record_type type, const ls_buf *plain)
{
	int r = conn_send(c, type, plain, NULL);

	if (r == LS_OK && c->wq != NULL) {
		pthread_mutex_lock(&c->out_lock);
		if (evbuffer_get_length(c->wq) > 0 && c->out_direct &&
		    !event_pending(c->wev, EV_WRITE, NULL))
			event_add(c->wev, NULL);
		pthread_mutex_unlock(&c->out_lock);
	}
	return r;
}

/* The loop: the socket takes more of c->wq. */
static void
on_wq_writable(evutil_socket_t fd, short what, void *arg)
{
	lsd_conn *c = arg;
	bool failed = false;
	size_t left;
	int n;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&c->out_lock);
	n = evbuffer_write(c->wq, c->out_fd);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		failed = c->out_failed = true;
	left = evbuffer_get_length(c->wq);
	pthread_mutex_unlock(&c->out_lock);
	if (failed) {
		char why[128];

		snprintf(why, sizeof(why), "socket error: %s", strerror(errno));
		conn_drop(c, why);
		return;
	}
	if (left > 0) {
		event_add(c->wev, NULL);
		return;
	}
	if (c->closing) {
		if (conn_out_pending(c) == 0)
			conn_drop(c, "done");
		return;
	}
	conn_progress(c);
}

/* No more requests are taken; the ones opened are answered, then a close record goes. */
static void
conn_close_pending(lsd_conn *c)
{
	lsd_frame *f;

	c->close_pending = true;
	c->paused = true;
	bufferevent_disable(c->bev, EV_READ);
	while ((f = c->q_head) != NULL) {
		c->q_head = f->next;
		frame_free(f);
		c->n_queued--;
	}
	c->q_tail = NULL;
}

/* After a job of the channel state: close, resume reading, start more. */
static void
conn_progress(lsd_conn *c)
{
	lsd_server *srv = c->srv;

	if (c->close_pending) {
		if (conn_out_pending(c) <= LSD_OUTPUT_HIGH && !conn_run_reqs(c))
			return;
		if (c->reqs != NULL || c->busy)
			return;
		if (send_record(c, LS_RECORD_CLOSE, NULL) != LS_OK) {
			conn_drop(c, "cannot send the close record");
			return;
		}
		conn_close_soon(c);
		return;
	}
	if (c->paused && c->n_queued < 2 * srv->cfg->max_inflight) {
		c->paused = false;
		bufferevent_enable(c->bev, EV_READ);
	}
	conn_pump(c);
}

static void
req_done(void *arg)
{
	lsd_req *q = arg;
	lsd_conn *c = q->c;

	q->running = false;
	c->running--;
	c->n_queued--;
	reqs_remove(c, q);
	if (c->dead) {
		req_free(q);
		if (!c->busy && c->running == 0)
			conn_release(c);
		return;
	}
	if (c->closing) { /* closing already (a bad record): nothing more goes out */
		req_free(q);
		return;
	}
	c->requests++;
	c->deadline = c->srv->cfg->idle_timeout != 0
	                      ? ls_now_ms() + (int64_t)c->srv->cfg->idle_timeout * 1000
	                      : 0;
	if (!q->sent && ls_buf_len(&q->resp) > 0 &&
	    send_record(c, LS_RECORD_DATA, &q->resp) != LS_OK) {
		req_free(q);
		conn_drop(c, "cannot send an answer");
		return;
	}
	if (!conn_out_kick(c)) {
		req_free(q);
		return;
	}
	if (q->close_after) {
		reqs_drop_waiting(c);
		conn_close_pending(c);
	}
	req_free(q);
	conn_progress(c);
}

/* The end of the job that opened records. */
static void
conn_open_done(lsd_conn *c)
{
	lsd_req *reqs = c->job_reqs, *q;

	c->busy = false;
	c->job_reqs = NULL;
	for (q = reqs; q != NULL; q = q->next)
		c->job_nframes--;
	c->n_queued -= c->job_nframes; /* frames that made no request */
	c->job_nframes = 0;
	if (c->dead) {
		req_free_list(reqs);
		if (c->running == 0)
			conn_release(c);
		return;
	}
	if (c->closing || (c->job_close && !c->job_close_record)) {
		while ((q = reqs) != NULL) {
			reqs = q->next;
			c->n_queued--;
			req_free(q);
		}
		if (!c->closing)
			conn_close_soon(c);
		return;
	}
	while ((q = reqs) != NULL) {
		reqs = q->next;
		q->next = NULL;
		if (c->reqs_tail != NULL)
			c->reqs_tail->next = q;
		else
			c->reqs = q;
		c->reqs_tail = q;
	}
	if (c->job_close_record)
		conn_close_pending(c);
	conn_progress(c);
}

static void
conn_done(void *arg)
{
	lsd_conn *c = arg;
	lsd_server *srv = c->srv;

	if (c->state == LSD_CONN_CHANNEL) {
		conn_open_done(c);
		return;
	}
	c->busy = false;
	frame_free(c->job_frame);
	c->job_frame = NULL;
	c->n_queued--;
	if (c->dead) {
		ls_buf_reset(&c->job_out);
		audit_failure_later(c);
		conn_release(c);
		return;
	}
	if (c->job_auth_failed && c->src != NULL)
		lsd_source_failure(srv, c->src);
	if (ls_buf_len(&c->job_out) > 0) {
		if (bufferevent_write(c->bev, ls_buf_data(&c->job_out), ls_buf_len(&c->job_out)) !=
		    0) {
			ls_buf_reset(&c->job_out);
			conn_drop(c, "out of memory for output");
			return;
		}
		scratch_done(&c->job_out);
	}
	audit_failure_later(c);
	if (c->job_hs_success) {
		ls_frame_decoder *dec = NULL;

		/* Reading paused after MAC_A, so the small handshake decoder is between frames. */
		if (!ls_frame_decoder_idle(c->dec) ||
		    ls_frame_decoder_new(srv->cfg->max_frame, &dec) != LS_OK) {
			conn_drop(c, "cannot switch to the channel");
			return;
		}
		c->wq = evbuffer_new();
		c->wev = event_new(srv->base, bufferevent_getfd(c->bev), EV_WRITE, on_wq_writable, c);
		if (c->wq == NULL || c->wev == NULL) {
			ls_frame_decoder_free(dec);
			conn_drop(c, "out of memory");
			return;
		}
		ls_frame_decoder_free(c->dec);
		c->dec = dec;
		ls_buf_clear(&c->cur);
		ls_buf_init(&c->cur, srv->cfg->max_frame);
		pthread_mutex_lock(&c->out_lock);
		c->out_fd = bufferevent_getfd(c->bev);
		c->out_direct = evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
		pthread_mutex_unlock(&c->out_lock);
		c->state = LSD_CONN_CHANNEL;
		if (c->in_handshake_count) {
			srv->n_handshakes--;
			c->in_handshake_count = false;
		}
	}
	if (c->job_close) {
		conn_close_soon(c);
		return;
	}
	if (c->state == LSD_CONN_CHANNEL)
		c->deadline = srv->cfg->idle_timeout != 0
		                      ? ls_now_ms() + (int64_t)srv->cfg->idle_timeout * 1000
		                      : 0;
	if (c->paused &&
	    (c->state == LSD_CONN_HANDSHAKE || c->n_queued < 2 * srv->cfg->max_inflight)) {
		c->paused = false;
		bufferevent_enable(c->bev, EV_READ);
	}
	conn_pump(c);
}

/* The calls that may run on the loop thread (INLINE_RUN_MAX_NS): a session's computation on
 * keys in memory, no store write, no PBKDF2. */
static bool
inline_call(uint16_t call)
{
	switch (call) {
	case LS_RPC_C_GenerateRandom:
	case LS_RPC_C_SeedRandom:
	case LS_RPC_C_GetSessionInfo:
	case LS_RPC_C_SignInit:
	case LS_RPC_C_Sign:
	case LS_RPC_C_SignUpdate:
	case LS_RPC_C_SignFinal:
	case LS_RPC_SignOneShot:
	case LS_RPC_C_VerifyInit:
	case LS_RPC_C_Verify:
	case LS_RPC_C_VerifyUpdate:
	case LS_RPC_C_VerifyFinal:
	case LS_RPC_VerifyOneShot:
	case LS_RPC_C_DigestInit:
	case LS_RPC_C_Digest:
	case LS_RPC_C_DigestUpdate:
	case LS_RPC_C_DigestFinal:
	case LS_RPC_C_EncryptInit:
	case LS_RPC_C_Encrypt:
	case LS_RPC_C_EncryptUpdate:
	case LS_RPC_C_EncryptFinal:
	case LS_RPC_EncryptOneShot:
	case LS_RPC_C_DecryptInit:
	case LS_RPC_C_Decrypt:
	case LS_RPC_C_DecryptUpdate:
	case LS_RPC_C_DecryptFinal:
	case LS_RPC_DecryptOneShot:
		return true;
	default:
		return false;
	}
}

/* Whether @q is a short computation on a session (inline_call(), INLINE_RUN_MAX_NS so far). */
static bool
req_cheap(const lsd_req *q)
{
	const uint8_t *p = ls_buf_cursor(&q->plain);
	int slot;

	if (q->kind != LSD_REQ_SESSION || ls_buf_remaining(&q->plain) < 2 ||
	    !inline_call((uint16_t)(p[0] << 8 | p[1])))
		return false;
	return (slot = cost_slot(q)) >= 0 && atomic_load(&call_cost_ns[slot]) <= INLINE_RUN_MAX_NS;
}

/* Whether @q (the connection's only request, a session request) runs on the loop thread. */
static bool
inline_ok(lsd_conn *c, lsd_req *q)
{
	const uint8_t *p = ls_buf_cursor(&q->plain);
	int slot;

	if (q->kind != LSD_REQ_SESSION || c->running != 0 ||
	    ls_buf_remaining(&q->plain) > INLINE_RUN_BYTES || ls_buf_remaining(&q->plain) < 2 ||
	    !inline_call((uint16_t)(p[0] << 8 | p[1])))
		return false;
	if ((slot = cost_slot(q)) < 0 || atomic_load(&call_cost_ns[slot]) > INLINE_RUN_MAX_NS)
		return false;
	/* Busy workers mean other connections have work: the loop stays free for their I/O. */
	return lsd_pool_pending(c->srv->pool) == 0;
}

/* Runs @q here and now, then what follows its answer (req_done() may free c). */
static void
conn_run_inline(lsd_conn *c, lsd_req *q)
{
	q->cheap = true;
	out_expect(c, q);
	q->running = true;
	if (++c->running > c->running_max)
		c->running_max = c->running;
	req_work(q);
	req_done(q);
}

/* Starts the requests that may run now (docs/server.md, "Concurrent requests").  False when
 * the caller must not go on: the connection was dropped (it may be gone), or a request ran on
 * the loop thread and everything after it was done already. */
static bool
conn_run_reqs(lsd_conn *c)
{
	lsd_req *q, *p;

	/* Refusals go out in their turn, once everything earlier is answered. */
	while ((q = c->reqs) != NULL && q->kind == LSD_REQ_ANSWERED) {
		c->reqs = q->next;
		if (c->reqs == NULL)
			c->reqs_tail = NULL;
		c->n_queued--;
		c->requests++;
		if (send_record(c, LS_RECORD_DATA, &q->resp) != LS_OK) {
			req_free(q);
			conn_drop(c, "cannot send an answer");
			return false;
		}
		req_free(q);
	}
	for (q = c->reqs; q != NULL; q = q->next) {
		if (q->kind == LSD_REQ_ANSWERED)
			continue;
		if (q->kind == LSD_REQ_BARRIER) {
			/* Alone: once everything earlier is answered; nothing later passes it. */
			if (q == c->reqs && !q->running)
				break;
			return true;
		}
		if (q->running)
			continue;
		for (p = c->reqs; p != q; p = p->next) {
			if (p->kind == LSD_REQ_SESSION && p->session == q->session)
				break;
		}
		if (p != q)
			continue; /* an earlier request of its session is not answered yet */
		if (q == c->reqs && q->next == NULL && inline_ok(c, q)) {
			conn_run_inline(c, q);
			return false; /* it went on in req_done(); c may be gone */
		}
		if (!conn_start_req(c, q))
			return false;
	}
	if (q != NULL && !conn_start_req(c, q)) /* the barrier at the head */
		return false;
	return true;
}

static void
conn_schedule(lsd_conn *c)
{
	if (c->dead || c->closing)
		return;
	if (c->state == LSD_CONN_CHANNEL) {
		lsd_frame *f;

		size_t bytes = 0;

		/* A client that does not read its answers gets no more until it does. */
		if (conn_out_pending(c) > LSD_OUTPUT_HIGH)
			return;
		if (!conn_run_reqs(c))
			return;
		if (c->busy || c->q_head == NULL || c->close_pending)
			return;
		/* Everything received is opened in order: here when small, else by one job. */
		c->job_frame = c->q_head;
		c->job_nframes = 0;
		for (f = c->q_head; f != NULL; f = f->next) {
			c->job_nframes++;
			bytes += f->len;
		}
		c->q_head = c->q_tail = NULL;
		c->busy = true;
		if (bytes <= INLINE_OPEN_MAX) {
			conn_work(c);
			conn_done(c); /* may free c */
			return;
		}
		if (lsd_pool_submit(c->srv->pool, conn_work, conn_done, c) != LS_OK) {
			c->busy = false;
			while ((f = c->job_frame) != NULL) {
				c->job_frame = f->next;
				frame_free(f);
			}
			conn_drop(c, "the server is stopping");
		}
		return;
	}
	if (c->busy || c->q_head == NULL)
		return;
	/* A client that does not read its answers gets no more until it does. */
	if (conn_out_pending(c) > LSD_OUTPUT_HIGH)
		return;
	c->job_frame = c->q_head;
	c->q_head = c->q_head->next;
	if (c->q_head == NULL)
		c->q_tail = NULL;
	c->job_frame->next = NULL;
	c->busy = true;
	if (lsd_pool_submit(c->srv->pool, conn_work, conn_done, c) != LS_OK) {
		c->busy = false;
		frame_free(c->job_frame);
		c->job_frame = NULL;
		conn_drop(c, "the server is stopping");
	}
}

static bool
conn_start_req(lsd_conn *c, lsd_req *q)
{
	q->running = true;
	if (++c->running > c->running_max)
		c->running_max = c->running;
	q->cheap = req_cheap(q);
	out_expect(c, q);
	if (lsd_pool_submit(c->srv->pool, req_work, req_done, q) != LS_OK) {
		out_unexpect(c, q);
		q->running = false;
		c->running--;
		conn_drop(c, "the server is stopping");
		return false;
	}
	return true;
}

static const char *
frame_error(int r)
{
	switch (r) {
	case LS_ERR_TOO_LARGE:
		return "a frame longer than the limit";
	case LS_ERR_MALFORMED:
		return "an empty frame";
	default:
		return ls_strerror(r);
	}
}

static void
conn_pump(lsd_conn *c)
{
	lsd_server *srv = c->srv;
	struct evbuffer *in;

	if (c->dead || c->closing)
		return;
	in = bufferevent_get_input(c->bev);
	while (!c->paused) {
		struct evbuffer_iovec v;
		size_t used = 0;
		bool complete = false;
		lsd_frame *f;
		int r;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		r = ls_frame_decoder_feed(c->dec, v.iov_base, v.iov_len, &used, &c->cur, &complete);
		evbuffer_drain(in, used);
		if (r != LS_OK) {
			char why[160];

			snprintf(why, sizeof(why), "%s (%zu bytes%s)", frame_error(r),
			         ls_frame_decoder_max(c->dec),
			         c->state == LSD_CONN_HANDSHAKE ? " during the handshake" : "");
			ls_warning("%s: refused: %s", c->peer, why);
			conn_drop(c, why);
			return;
		}
		if (!complete)
			continue;
		if ((f = calloc(1, sizeof(*f))) == NULL) {
			conn_drop(c, "out of memory");
			return;
		}
		f->data = ls_buf_steal(&c->cur, &f->len);
		if (f->data == NULL) {
			free(f);
			conn_drop(c, "out of memory");
			return;
		}
		f->over_limit = c->state == LSD_CONN_CHANNEL && c->n_queued >= srv->cfg->max_inflight;
		if (c->q_tail != NULL)
			c->q_tail->next = f;
		else
			c->q_head = f;
		c->q_tail = f;
		c->n_queued++;
		if (c->state == LSD_CONN_HANDSHAKE || c->n_queued >= 2 * srv->cfg->max_inflight) {
			c->paused = true;
			bufferevent_disable(c->bev, EV_READ);
		}
	}
	conn_schedule(c);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_pump(arg);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	lsd_conn *c = arg;

	(void)bev;
	if (c->closing) {
		if (conn_out_pending(c) == 0)
			conn_drop(c, "done");
		return;
	}
	if (c->state == LSD_CONN_CHANNEL && !c->dead) {
		if (!c->out_direct) {
			/* The handshake's last bytes are out: records may go straight to the socket. */
			pthread_mutex_lock(&c->out_lock);
			c->out_direct = true;
			pthread_mutex_unlock(&c->out_lock);
			if (!conn_out_kick(c))
				return;
		}
		conn_progress(c);
	} else {
		conn_schedule(c);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	lsd_conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF) {
		int r = ls_frame_decoder_finish(c->dec);

		conn_drop(c, r == LS_OK ? "the client disconnected"
		                        : "the client disconnected in the middle of a frame");
	} else if (what & BEV_EVENT_ERROR) {
		char why[128];

		snprintf(why, sizeof(why), "socket error: %s",
		         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_drop(c, why);
	}
}

void
lsd_conn_accept(lsd_server *srv, int fd, const struct sockaddr *sa, int salen)
{
	ls_handshake_server_config hcfg = srv->hs_config;
	char addr[64], peer[80];
	const char *why = NULL;
	lsd_source *src;
	lsd_conn *c;
	int r;

	(void)salen;
	addr_of(sa, addr, sizeof(addr), peer, sizeof(peer));
	src = lsd_source_get(srv, addr);
	if (srv->stopping)
		why = "the server is stopping";
	else if (srv->n_conns >= srv->cfg->max_connections)
		why = "the server has max-connections connections";
	else if (src == NULL)
		why = "out of memory";
	else if ((why = lsd_source_refusal(srv, src)) != NULL)
		;
	else if (srv->n_handshakes >= srv->cfg->max_handshakes)
		why = "the server has max-handshakes handshakes in progress";
	if (why != NULL) {
		refuse(fd, peer, why);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		refuse(fd, peer, "out of memory");
		return;
	}
	/* Answers are single small records: none should wait for the previous one's ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	if (pthread_mutex_init(&c->out_lock, NULL) != 0) {
		free(c);
		refuse(fd, peer, "out of memory");
		return;
	}
	c->out_fd = -1;
	c->srv = srv;
	c->serial = ++srv->next_conn_serial;
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	ls_buf_init(&c->cur, LS_HANDSHAKE_MAX_MESSAGE);
	ls_buf_init(&c->plain, LS_CHANNEL_MAX_PLAINTEXT);
	ls_buf_init(&c->resp, LS_RPC_MAX_MESSAGE);
	/* Held answers up to OUT_HOLD_BYTES, then one more record of any size. */
	ls_buf_init(&c->sealed, OUT_HOLD_BYTES + LS_FRAME_HEADER_SIZE + LS_CHANNEL_MAX_RECORD);
	ls_buf_init(&c->job_out, JOB_OUT_MAX);
	hcfg.user_data = c;
	if ((r = ls_frame_decoder_new(LS_HANDSHAKE_MAX_MESSAGE, &c->dec)) != LS_OK ||
	    (r = ls_handshake_server_new(&hcfg, &c->hs)) != LS_OK) {
		ls_error("%s: cannot start a handshake: %s", peer, ls_strerror(r));
		ls_frame_decoder_free(c->dec);
		pthread_mutex_destroy(&c->out_lock);
		free(c);
		refuse(fd, peer, "internal error");
		return;
	}
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		ls_handshake_free(c->hs);
		ls_frame_decoder_free(c->dec);
		pthread_mutex_destroy(&c->out_lock);
		free(c);
		refuse(fd, peer, "out of memory");
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->src = src;
	src->conns++;
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	srv->n_handshakes++;
	c->in_handshake_count = true;
	c->state = LSD_CONN_HANDSHAKE;
	c->deadline = ls_now_ms() + (int64_t)srv->cfg->handshake_timeout * 1000;
	ls_debug("%s: connected (%u connections)", peer, srv->n_conns);
}

void
lsd_conn_sweep(lsd_server *srv)
{
	int64_t now = ls_now_ms();
	lsd_conn *c, *next;

	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->busy || c->running > 0 || c->deadline == 0 || now < c->deadline)
			continue;
		if (c->state == LSD_CONN_HANDSHAKE) {
			ls_warning("%s: the handshake took longer than %u s", c->peer,
			           srv->cfg->handshake_timeout);
			conn_drop(c, "handshake timeout");
		} else {
			conn_drop(c, "idle timeout");
		}
	}
}

void
lsd_conn_close_all(lsd_server *srv)
{
	while (srv->conns != NULL)
		conn_drop(srv->conns, "the server is stopping");
}
