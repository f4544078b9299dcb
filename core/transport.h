/*
 * LS11CLOUD - transports: something that carries frames (core/frame.h) between two ends.
 *
 * A transport is a vtable (p11-kit rpc.h style) so that tests wire a client to a server in one
 * process, and build deliberately broken transports of their own.  Two implementations:
 *
 *  - a memory pair: two connected endpoints in one process, frames passed through two
 *    thread-safe queues;
 *  - a socket transport over a connected stream socket (TCP or Unix): partial writes, EINTR,
 *    MSG_NOSIGNAL, poll()-based timeouts.  It reads first and polls only when nothing has
 *    arrived, takes as many frames as have arrived (up to 16 KiB) in one recv(), and sends a
 *    batch of frames in one sendmsg().
 *
 * Frames carry 1..max_frame bytes (a transport's cap, LS_FRAME_DEFAULT_MAX by default).
 *
 * Threads: send and recv of one transport may run at the same time in two threads (one sender,
 * one receiver); neither may run concurrently with itself.  ls_transport_close() may be called
 * from any thread and wakes a blocked send or recv.  ls_transport_free() only when nothing else
 * runs on the transport.
 *
 * Errors: LS_ERR_TIMEOUT (the wait expired; nothing was lost, call again), LS_ERR_EOF (the peer
 * closed between frames, or this end was closed), LS_ERR_TRUNCATED (the peer closed in the
 * middle of a frame), LS_ERR_TOO_LARGE / LS_ERR_MALFORMED (a frame over the cap or empty),
 * LS_ERR_IO (a system call failed; errno is logged).  After any error other than
 * LS_ERR_TIMEOUT the connection is finished: drop it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_TRANSPORT_H
#define LS11_CORE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "errors.h"

/* timeout_ms value: wait as long as it takes. */
#define LS_TRANSPORT_FOREVER (-1)

typedef struct ls_transport ls_transport;

/* One frame's payload, for ls_transport_sendv(). */
typedef struct {
	const void *data;
	size_t len;
} ls_transport_frame;

/* At most this many frames go to the system in one ls_transport_sendv() call. */
#define LS_TRANSPORT_SENDV_MAX 64

/*
 * What an implementation provides.  The public functions below check the arguments (frame
 * length 1..max_frame, @out able to hold max_frame bytes) before calling these.
 */
typedef struct {
	/* Sends one frame with payload @data[@len]. */
	int (*send)(ls_transport *t, const uint8_t *data, size_t len, int timeout_ms);
	/*
	 * Sends @n frames (1..LS_TRANSPORT_SENDV_MAX, lengths checked) in order, as few system
	 * calls as the peer takes; NULL: the frames go one by one through send.
	 */
	int (*sendv)(ls_transport *t, const ls_transport_frame *frames, size_t n, int timeout_ms);
	/* Receives one frame: @out is reset, then holds exactly the payload. */
	int (*recv)(ls_transport *t, ls_buf *out, int timeout_ms);
	/* Shuts the connection down; idempotent; wakes blocked callers. */
	void (*close)(ls_transport *t);
	/* Releases the transport (close has been called). */
	void (*destroy)(ls_transport *t);
} ls_transport_ops;

/* The common head of every transport; implementations embed it as their first member. */
struct ls_transport {
	const ls_transport_ops *ops;
	size_t max_frame;
	int spin_us; /* ls_transport_set_spin() */
};

/*
 * Before a receive on a socket sleeps until data comes, it looks for the data for up to @us
 * microseconds (LS_TRANSPORT_SPIN_MAX_US at most; 0, the default, sleeps at once).  For a
 * caller whose answer is due within one loopback round trip, the wake-up from a sleep costs
 * more than the wait.  The look yields the CPU between polls (sched_yield()), so it costs
 * CPU time only when nothing else wants that CPU.  Only the thread that receives may call it.
 */
#define LS_TRANSPORT_SPIN_MAX_US 200
void ls_transport_set_spin(ls_transport *t, int us);

/*
 * Sends @len bytes as one frame.  Blocks until the whole frame is handed to the system (or the
 * peer's queue) or @timeout_ms expires (LS_TRANSPORT_FOREVER: no limit).  A timeout before the
 * first byte left leaves the transport usable; one in the middle of a frame breaks it (later
 * sends fail with LS_ERR_IO).
 */
int ls_transport_send(ls_transport *t, const void *data, size_t len, int timeout_ms);

/*
 * Sends @n frames in order, with the timeout and breakage rules of ls_transport_send() (a
 * timeout or a failure after the first byte of the first frame breaks the transport).  The
 * socket transport hands them to the kernel in one sendmsg() per LS_TRANSPORT_SENDV_MAX frames
 * when the socket takes them all.  Every length is checked (1..max_frame) before anything is
 * sent.  @n 0 sends nothing.
 */
int ls_transport_sendv(ls_transport *t, const ls_transport_frame *frames, size_t n,
                       int timeout_ms);

/*
 * Receives one frame into @out, which is reset first and must be able to hold max_frame bytes
 * (LS_ERR_INVALID_ARG otherwise).  Waits at most @timeout_ms (0: only what has arrived).  On a
 * timeout a partly received frame is kept by the transport and completed by the next call.
 */
int ls_transport_recv(ls_transport *t, ls_buf *out, int timeout_ms);

/* Shuts the connection down (the peer sees EOF); later calls on this end give LS_ERR_EOF. */
void ls_transport_close(ls_transport *t);

/* Closes and frees @t.  NULL is accepted. */
void ls_transport_free(ls_transport *t);

/* The frame cap of @t. */
size_t ls_transport_max_frame(const ls_transport *t);

/*
 * Two connected in-memory endpoints: what one sends, the other receives, in order.  @max_frame
 * 0 means LS_FRAME_DEFAULT_MAX.  Sending never blocks (the queues are unbounded: for tests and
 * in-process use).  Each endpoint is freed on its own; closing one makes the other see EOF after
 * the frames already queued for it.  *@a and *@b are set only on success.
 */
int ls_transport_memory_pair(size_t max_frame, ls_transport **a, ls_transport **b);

/*
 * A transport over the connected stream socket @fd (blocking or not; TCP gets TCP_NODELAY).
 * On success the transport owns @fd and closes it when freed; on failure @fd stays the
 * caller's.  @max_frame 0 means LS_FRAME_DEFAULT_MAX.
 */
int ls_transport_socket_new(int fd, size_t max_frame, ls_transport **out);

#endif /* LS11_CORE_TRANSPORT_H */
