/*
 * LS11CLOUD - the memory pair and the socket transport.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "transport.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "crypto.h"
#include "frame.h"
#include "log.h"

static int64_t deadline_of(int timeout_ms);
static int ms_left(int64_t deadline);

/* ---------------------------------------------------------------------------------------------
 * Generic entry points
 * ------------------------------------------------------------------------------------------- */

int
ls_transport_send(ls_transport *t, const void *data, size_t len, int timeout_ms)
{
	ls_return_val_if_fail(t != NULL && t->ops != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data != NULL || len == 0, LS_ERR_INVALID_ARG);
	if (len == 0)
		return LS_ERR_MALFORMED;
	if (len > t->max_frame)
		return LS_ERR_TOO_LARGE;
	return t->ops->send(t, data, len, timeout_ms);
}

void
ls_transport_set_spin(ls_transport *t, int us)
{
	if (t == NULL)
		return;
	t->spin_us = us < 0 ? 0 : us > LS_TRANSPORT_SPIN_MAX_US ? LS_TRANSPORT_SPIN_MAX_US : us;
}

int
ls_transport_sendv(ls_transport *t, const ls_transport_frame *frames, size_t n, int timeout_ms)
{
	int64_t deadline;
	size_t i, k;
	int r;

	ls_return_val_if_fail(t != NULL && t->ops != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(frames != NULL || n == 0, LS_ERR_INVALID_ARG);
	for (i = 0; i < n; i++) {
		ls_return_val_if_fail(frames[i].data != NULL || frames[i].len == 0,
		                      LS_ERR_INVALID_ARG);
		if (frames[i].len == 0)
			return LS_ERR_MALFORMED;
		if (frames[i].len > t->max_frame)
			return LS_ERR_TOO_LARGE;
	}
	deadline = deadline_of(timeout_ms);
	for (i = 0; i < n; i += k) {
		int left = deadline < 0 ? LS_TRANSPORT_FOREVER : ms_left(deadline);

		k = n - i < LS_TRANSPORT_SENDV_MAX ? n - i : LS_TRANSPORT_SENDV_MAX;
		if (t->ops->sendv != NULL) {
			r = t->ops->sendv(t, frames + i, k, left);
		} else {
			k = 1;
			r = t->ops->send(t, frames[i].data, frames[i].len, left);
		}
		if (r != LS_OK)
			return r;
	}
	return LS_OK;
}

int
ls_transport_recv(ls_transport *t, ls_buf *out, int timeout_ms)
{
	ls_return_val_if_fail(t != NULL && t->ops != NULL && out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(ls_buf_max(out) >= t->max_frame, LS_ERR_INVALID_ARG);
	ls_buf_reset(out);
	return t->ops->recv(t, out, timeout_ms);
}

void
ls_transport_close(ls_transport *t)
{
	if (t != NULL && t->ops != NULL)
		t->ops->close(t);
}

void
ls_transport_free(ls_transport *t)
{
	if (t == NULL)
		return;
	if (t->ops != NULL) {
		t->ops->close(t);
		t->ops->destroy(t);
	}
}

size_t
ls_transport_max_frame(const ls_transport *t)
{
	ls_return_val_if_fail(t != NULL, 0);
	return t->max_frame;
}

/* ---------------------------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------------------------- */

/* A deadline for @timeout_ms, or -1 for none. */
static int64_t
deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : ls_now_ms() + timeout_ms;
}

/* Milliseconds left until @deadline, for poll(): -1 for none, 0 once it passed. */
static int
ms_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - ls_now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* ---------------------------------------------------------------------------------------------
 * Memory pair
 * ------------------------------------------------------------------------------------------- */

struct mem_frame {
	struct mem_frame *next;
	size_t len;
	uint8_t data[];
};

struct mem_shared {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct mem_frame *head[2], *tail[2]; /* frames waiting for endpoint i */
	bool closed[2];
	int refs;
};

struct mem_transport {
	ls_transport base;
	struct mem_shared *sh;
	int side;
};

static void
mem_frame_free(struct mem_frame *f)
{
	if (f == NULL)
		return;
	ls_wipe(f->data, f->len);
	free(f);
}

static int
mem_send(ls_transport *t, const uint8_t *data, size_t len, int timeout_ms)
{
	struct mem_transport *m = (struct mem_transport *)t;
	struct mem_shared *sh = m->sh;
	int peer = 1 - m->side;
	struct mem_frame *f;
	int r = LS_OK;

	if ((f = malloc(sizeof(*f) + len)) == NULL)
		return LS_ERR_NOMEM;
	f->next = NULL;
	f->len = len;
	memcpy(f->data, data, len);

	pthread_mutex_lock(&sh->lock);
	if (sh->closed[m->side] || sh->closed[peer]) {
		r = LS_ERR_EOF;
	} else {
		if (sh->tail[peer] != NULL)
			sh->tail[peer]->next = f;
		else
			sh->head[peer] = f;
		sh->tail[peer] = f;
		f = NULL;
		pthread_cond_broadcast(&sh->cond);
	}
	pthread_mutex_unlock(&sh->lock);
	mem_frame_free(f);
	return r;
}

static int
mem_recv(ls_transport *t, ls_buf *out, int timeout_ms)
{
	struct mem_transport *m = (struct mem_transport *)t;
	struct mem_shared *sh = m->sh;
	struct mem_frame *f = NULL;
	struct timespec until;
	int side = m->side, r = LS_OK;
	bool expired = false;

	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
	}

	pthread_mutex_lock(&sh->lock);
	for (;;) {
		if (sh->closed[side]) {
			r = LS_ERR_EOF;
			break;
		}
		if (sh->head[side] != NULL) {
			f = sh->head[side];
			sh->head[side] = f->next;
			if (sh->head[side] == NULL)
				sh->tail[side] = NULL;
			break;
		}
		if (sh->closed[1 - side]) {
			r = LS_ERR_EOF;
			break;
		}
		if (timeout_ms == 0 || expired) {
			r = LS_ERR_TIMEOUT;
			break;
		}
		if (timeout_ms < 0)
			pthread_cond_wait(&sh->cond, &sh->lock);
		else if (pthread_cond_timedwait(&sh->cond, &sh->lock, &until) == ETIMEDOUT)
			expired = true; /* one more look: a frame may have come with the timeout */
	}
	pthread_mutex_unlock(&sh->lock);

	if (f != NULL) {
		ls_buf_add(out, f->data, f->len);
		r = ls_buf_status(out);
		mem_frame_free(f);
	}
	return r;
}

static void
mem_close(ls_transport *t)
{
	struct mem_transport *m = (struct mem_transport *)t;

	pthread_mutex_lock(&m->sh->lock);
	m->sh->closed[m->side] = true;
	pthread_cond_broadcast(&m->sh->cond);
	pthread_mutex_unlock(&m->sh->lock);
}

static void
mem_shared_free(struct mem_shared *sh)
{
	for (int i = 0; i < 2; i++) {
		while (sh->head[i] != NULL) {
			struct mem_frame *f = sh->head[i];

			sh->head[i] = f->next;
			mem_frame_free(f);
		}
	}
	pthread_cond_destroy(&sh->cond);
	pthread_mutex_destroy(&sh->lock);
	free(sh);
}

static void
mem_destroy(ls_transport *t)
{
	struct mem_transport *m = (struct mem_transport *)t;
	struct mem_shared *sh = m->sh;
	bool last;

	pthread_mutex_lock(&sh->lock);
	last = --sh->refs == 0;
	pthread_mutex_unlock(&sh->lock);
	if (last)
		mem_shared_free(sh);
	free(m);
}

static const ls_transport_ops mem_ops = {
	.send = mem_send,
	.recv = mem_recv,
	.close = mem_close,
	.destroy = mem_destroy,
};

int
ls_transport_memory_pair(size_t max_frame, ls_transport **a, ls_transport **b)
{
	struct mem_transport *ends[2] = { NULL, NULL };
	struct mem_shared *sh = NULL;
	pthread_condattr_t attr;
	int r = LS_ERR_NOMEM;

	ls_return_val_if_fail(a != NULL && b != NULL, LS_ERR_INVALID_ARG);
	*a = *b = NULL;
	if (max_frame == 0)
		max_frame = LS_FRAME_DEFAULT_MAX;
	if (max_frame > LS_FRAME_MAX_LIMIT)
		return LS_ERR_INVALID_ARG;

	if ((sh = calloc(1, sizeof(*sh))) == NULL)
		goto out;
	if (pthread_mutex_init(&sh->lock, NULL) != 0) {
		free(sh);
		sh = NULL;
		goto out;
	}
	if (pthread_condattr_init(&attr) != 0) {
		pthread_mutex_destroy(&sh->lock);
		free(sh);
		sh = NULL;
		goto out;
	}
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (pthread_cond_init(&sh->cond, &attr) != 0) {
		pthread_condattr_destroy(&attr);
		pthread_mutex_destroy(&sh->lock);
		free(sh);
		sh = NULL;
		goto out;
	}
	pthread_condattr_destroy(&attr);

	for (int i = 0; i < 2; i++) {
		if ((ends[i] = calloc(1, sizeof(*ends[i]))) == NULL)
			goto out;
		ends[i]->base.ops = &mem_ops;
		ends[i]->base.max_frame = max_frame;
		ends[i]->sh = sh;
		ends[i]->side = i;
	}
	sh->refs = 2;
	*a = &ends[0]->base;
	*b = &ends[1]->base;
	ends[0] = ends[1] = NULL;
	sh = NULL;
	r = LS_OK;
out:
	free(ends[0]);
	free(ends[1]);
	if (sh != NULL)
		mem_shared_free(sh);
	return r;
}

/* ---------------------------------------------------------------------------------------------
 * Socket transport
 * ------------------------------------------------------------------------------------------- */

#define SOCK_READ_CHUNK 16384

struct sock_transport {
	ls_transport base;
	int fd;
	atomic_bool closed;
	/* receive side */
	ls_frame_decoder *dec;
	ls_buf frame;           /* the frame being assembled, kept across timeouts */
	int recv_error;         /* sticky */
	size_t rpos, rlen;      /* unconsumed bytes in rbuf */
	unsigned chunk_frames;  /* frames completed from the current rbuf */
	bool eager;             /* the stream is busy: recv() before poll() (sock_recv) */
	uint8_t rbuf[SOCK_READ_CHUNK];
	/* send side */
	bool send_broken;       /* a send stopped in the middle of a frame */
};

static int
sock_io_error(const char *op, int err)
{
	ls_warning("transport: %s: %s", op, strerror(err));
	return LS_ERR_IO;
}

/*
 * Looks for data on @s for up to its spin budget without sleeping (poll with no timeout); true
 * when some came.  Between looks it yields: another runnable thread on this CPU (a caller with
 * its answer, the server's worker on the same machine) goes first, and only an otherwise idle
 * CPU spins.
 */
static bool
sock_spin(struct sock_transport *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	int64_t end = ls_now_us() + s->base.spin_us;

	do {
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) > 0)
			return true;
		sched_yield();
	} while (ls_now_us() < end && !atomic_load(&s->closed));
	return false;
}

/* Waits until @fd is ready for @events or the deadline passes. */
static int
sock_wait(struct sock_transport *s, short events, int64_t deadline)
{
	struct pollfd pfd;
	int n;

	if (events == POLLIN && s->base.spin_us > 0 && sock_spin(s))
		return LS_OK;
	for (;;) {
		if (atomic_load(&s->closed))
			return LS_ERR_EOF;
		pfd.fd = s->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, ms_left(deadline));
		if (n > 0)
			return LS_OK; /* ready, or POLLHUP/POLLERR that the next call will report */
		if (n == 0)
			return LS_ERR_TIMEOUT;
		if (errno != EINTR)
			return sock_io_error("poll", errno);
	}
}

/*
 * Sends the @n frames (their headers in @hdrs) from byte @sent of the whole on: one sendmsg()
 * for everything the socket takes, waiting for room until @deadline.
 */
static int
sock_send_frames(struct sock_transport *s, const ls_transport_frame *frames,
                 uint8_t (*hdrs)[LS_FRAME_HEADER_SIZE], size_t n, int64_t deadline)
{
	struct iovec iov[2 * LS_TRANSPORT_SENDV_MAX];
	size_t total = 0, sent = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		total += LS_FRAME_HEADER_SIZE + frames[i].len;
	while (sent < total) {
		struct msghdr msg;
		size_t skip = sent, cnt = 0;
		ssize_t got;

		/* Headers and payloads in place, from the first byte not yet sent. */
		for (size_t i = 0; i < n; i++) {
			const uint8_t *part[2] = { hdrs[i], frames[i].data };
			size_t plen[2] = { LS_FRAME_HEADER_SIZE, frames[i].len };

			for (int j = 0; j < 2; j++) {
				if (skip >= plen[j]) {
					skip -= plen[j];
					continue;
				}
				iov[cnt].iov_base = (void *)(part[j] + skip);
				iov[cnt++].iov_len = plen[j] - skip;
				skip = 0;
			}
		}
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = cnt;
		got = sendmsg(s->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (got > 0) {
			sent += (size_t)got;
			continue;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((r = sock_wait(s, POLLOUT, deadline)) == LS_OK)
				continue;
		} else if (got < 0 && errno == EPIPE) {
			ls_debug("transport: send: the peer closed the connection");
			r = LS_ERR_EOF;
		} else {
			r = sock_io_error("sendmsg", got < 0 ? errno : EIO);
		}
		if (sent > 0)
			s->send_broken = true;
		return r;
	}
	return LS_OK;
}

static int
sock_sendv(ls_transport *t, const ls_transport_frame *frames, size_t n, int timeout_ms)
{
	struct sock_transport *s = (struct sock_transport *)t;
	uint8_t hdrs[LS_TRANSPORT_SENDV_MAX][LS_FRAME_HEADER_SIZE];
	int r;

	if (atomic_load(&s->closed))
		return LS_ERR_EOF;
	if (s->send_broken)
		return LS_ERR_IO;
	if (n > LS_TRANSPORT_SENDV_MAX)
		return LS_ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++) {
		if ((r = ls_frame_header(frames[i].len, t->max_frame, hdrs[i])) != LS_OK)
			return r;
	}
	return sock_send_frames(s, frames, hdrs, n, deadline_of(timeout_ms));
}

static int
sock_send(ls_transport *t, const uint8_t *data, size_t len, int timeout_ms)
{
	ls_transport_frame f = { data, len };

	return sock_sendv(t, &f, 1, timeout_ms);
}

static int
sock_recv(ls_transport *t, ls_buf *out, int timeout_ms)
{
	struct sock_transport *s = (struct sock_transport *)t;
	int64_t deadline = deadline_of(timeout_ms);
	int r;

	if (s->recv_error != LS_OK)
		return s->recv_error;
	for (;;) {
		ssize_t n;

		while (s->rpos < s->rlen) {
			size_t used;
			bool complete;

			r = ls_frame_decoder_feed(s->dec, s->rbuf + s->rpos, s->rlen - s->rpos, &used,
			                          &s->frame, &complete);
			s->rpos += used;
			if (r != LS_OK)
				return s->recv_error = r;
			if (complete) {
				/* Several frames in one read: the peer is busy, read first next time. */
				if (++s->chunk_frames > 1)
					s->eager = true;
				ls_buf_add(out, ls_buf_data(&s->frame), ls_buf_len(&s->frame));
				ls_buf_reset(&s->frame);
				return ls_buf_status(out);
			}
		}
		ls_wipe(s->rbuf, s->rlen);
		s->rpos = s->rlen = 0;

		if (atomic_load(&s->closed))
			return LS_ERR_EOF;
		/*
		 * On a busy stream (the last read found data at once, filled rbuf or held several
		 * frames) read first and wait only when nothing is there: a poll() before it would be
		 * a system call for nothing.  On a quiet one (a lone caller that just sent its
		 * request) the answer is not there yet, and a recv() first would be the wasted call.
		 * One recv takes every frame that fits in rbuf.
		 */
		if (!s->eager && (r = sock_wait(s, POLLIN, deadline)) != LS_OK) {
			if (r != LS_ERR_TIMEOUT)
				s->recv_error = r;
			return r;
		}
		n = recv(s->fd, s->rbuf, sizeof(s->rbuf), MSG_DONTWAIT);
		if (n > 0) {
			s->rlen = (size_t)n;
			s->chunk_frames = 0;
			if ((size_t)n == sizeof(s->rbuf))
				s->eager = true; /* more is surely waiting */
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			s->eager = false; /* poll() on the next round */
		} else if (n == 0) {
			if (atomic_load(&s->closed))
				return s->recv_error = LS_ERR_EOF;
			r = ls_frame_decoder_finish(s->dec);
			if (r == LS_OK)
				r = LS_ERR_EOF;
			else
				ls_debug("transport: the peer closed the connection inside a frame");
			return s->recv_error = r;
		} else if (errno != EINTR) {
			return s->recv_error = sock_io_error("recv", errno);
		}
	}
}

static void
sock_close(ls_transport *t)
{
	struct sock_transport *s = (struct sock_transport *)t;

	if (!atomic_exchange(&s->closed, true)) {
		/* Wakes a poll() in another thread; the fd itself stays valid until destroy. */
		if (shutdown(s->fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
			ls_debug("transport: shutdown: %s", strerror(errno));
	}
}

static void
sock_destroy(ls_transport *t)
{
	struct sock_transport *s = (struct sock_transport *)t;

	close(s->fd);
	ls_frame_decoder_free(s->dec);
	ls_buf_clear(&s->frame);
	ls_wipe(s->rbuf, sizeof(s->rbuf));
	free(s);
}

static const ls_transport_ops sock_ops = {
	.send = sock_send,
	.sendv = sock_sendv,
	.recv = sock_recv,
	.close = sock_close,
	.destroy = sock_destroy,
};

int
ls_transport_socket_new(int fd, size_t max_frame, ls_transport **out)
{
	struct sock_transport *s;
	int one = 1, r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	ls_return_val_if_fail(fd >= 0, LS_ERR_INVALID_ARG);
	if (max_frame == 0)
		max_frame = LS_FRAME_DEFAULT_MAX;
	if (max_frame > LS_FRAME_MAX_LIMIT)
		return LS_ERR_INVALID_ARG;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return LS_ERR_NOMEM;
	if ((r = ls_frame_decoder_new(max_frame, &s->dec)) != LS_OK) {
		free(s);
		return r;
	}
	ls_buf_init(&s->frame, max_frame);
	s->base.ops = &sock_ops;
	s->base.max_frame = max_frame;
	s->fd = fd;
	atomic_init(&s->closed, false);
	/* Requests and replies are small and latency-bound; a Unix socket just refuses this. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out = &s->base;
	return LS_OK;
}
