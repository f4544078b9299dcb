/*
 * core/transport.c: the memory pair (ordering, timeouts, EOF, close waking a blocked reader,
 * threads), the socket transport over real TCP on 127.0.0.1 (frames both ways between threads,
 * 1 MiB frames through a tiny socket buffer, timeouts that keep a partial frame, EOF, EOF inside
 * a frame, hostile lengths, EINTR, close from another thread, many frames in one read, batches
 * of frames sent through a socket that takes each only in part), and a vtable-built transport to
 * show the generic entry points check arguments before the implementation sees them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"
#include "frame.h"
#include "clock.h"
#include "transport.h"
#include "test-util.h"

static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (uint8_t)(seed >> 24);
	}
}

static bool
check_fill(const uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		if (p[i] != (uint8_t)(seed >> 24))
			return false;
	}
	return true;
}

/* Sends a frame of @n bytes filled from @seed. */
static int
send_pattern(ls_transport *t, size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);
	int r;

	cr_assert_not_null(p);
	fill(p, n, seed);
	r = ls_transport_send(t, p, n, 10000);
	free(p);
	return r;
}

/* ---- TCP plumbing: a connected pair of sockets over 127.0.0.1, ephemeral port ------------ */

static void
tcp_pair(int fds[2])
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int lfd;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(lfd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fds[0], 0);
	cr_assert_eq(connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
	fds[1] = accept(lfd, NULL, NULL);
	cr_assert_geq(fds[1], 0);
	close(lfd);
}

static void
tcp_transports(ls_transport **a, ls_transport **b)
{
	int fds[2];

	tcp_pair(fds);
	cr_assert_eq(ls_transport_socket_new(fds[0], 0, a), LS_OK);
	cr_assert_eq(ls_transport_socket_new(fds[1], 0, b), LS_OK);
}

/* One end of a TCP transport, the other a raw socket the test writes bytes to. */
static int
tcp_raw(ls_transport **t)
{
	int fds[2];

	tcp_pair(fds);
	cr_assert_eq(ls_transport_socket_new(fds[0], 0, t), LS_OK);
	return fds[1];
}

static void
write_all(int fd, const void *p, size_t n)
{
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
}

/* ---- the same behaviour from both implementations ---------------------------------------- */

typedef void (*pair_fn)(ls_transport **a, ls_transport **b);

static void
mem_transports(ls_transport **a, ls_transport **b)
{
	cr_assert_eq(ls_transport_memory_pair(0, a, b), LS_OK);
}

static void
check_both_ways_in_order(pair_fn make)
{
	static const size_t sizes[] = { 1, 2, 3, 100, 4096, 65536, 1 << 20, 17 };
	ls_transport *a = NULL, *b = NULL;
	ls_buf in;
	size_t i;

	make(&a, &b);
	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	for (i = 0; i < 8; i++)
		cr_assert_eq(send_pattern(a, sizes[i], (uint32_t)i), LS_OK);
	cr_assert_eq(send_pattern(b, 5, 99), LS_OK);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(ls_transport_recv(b, &in, 10000), LS_OK);
		cr_assert_eq(ls_buf_len(&in), sizes[i]);
		cr_assert(check_fill(ls_buf_data(&in), sizes[i], (uint32_t)i));
	}
	cr_assert_eq(ls_transport_recv(a, &in, 10000), LS_OK);
	cr_assert(check_fill(ls_buf_data(&in), 5, 99));
	cr_assert_eq(ls_transport_recv(a, &in, 0), LS_ERR_TIMEOUT, "nothing more is there");

	ls_transport_free(a);
	cr_assert_eq(ls_transport_recv(b, &in, 10000), LS_ERR_EOF, "the peer went away");
	cr_assert_eq(ls_transport_recv(b, &in, 10000), LS_ERR_EOF, "and stays gone");
	ls_transport_free(b);
	ls_buf_clear(&in);
}

static void
check_argument_rules(pair_fn make)
{
	ls_transport *a = NULL, *b = NULL;
	uint8_t big[8] = { 0 };
	ls_buf small;

	make(&a, &b);
	cr_assert_eq(ls_transport_max_frame(a), LS_FRAME_DEFAULT_MAX);
	cr_assert_eq(ls_transport_send(a, big, 0, 0), LS_ERR_MALFORMED, "no empty frames");
	cr_assert_eq(ls_transport_send(a, big, LS_FRAME_DEFAULT_MAX + 1, 0), LS_ERR_TOO_LARGE);
	ls_buf_init(&small, 64);
	cr_assert_eq(ls_transport_recv(b, &small, 0), LS_ERR_INVALID_ARG,
	             "the receive buffer must hold a frame of the cap");
	ls_transport_free(a);
	ls_transport_free(b);
}

static void
check_timeout(pair_fn make)
{
	ls_transport *a = NULL, *b = NULL;
	int64_t t0;
	ls_buf in;

	make(&a, &b);
	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	t0 = ls_now_ms();
	cr_assert_eq(ls_transport_recv(b, &in, 150), LS_ERR_TIMEOUT);
	cr_assert_geq(ls_now_ms() - t0, 140, "waited the timeout");
	cr_assert_lt(ls_now_ms() - t0, 3000);
	cr_assert_eq(send_pattern(a, 10, 1), LS_OK);
	cr_assert_eq(ls_transport_recv(b, &in, 1000), LS_OK, "still usable after a timeout");
	cr_assert(check_fill(ls_buf_data(&in), 10, 1));
	ls_transport_free(a);
	ls_transport_free(b);
	ls_buf_clear(&in);
}

struct reader {
	ls_transport *t;
	int result;
	int64_t returned_at;
};

static void *
blocked_reader(void *arg)
{
	struct reader *rd = arg;
	ls_buf in;

	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	rd->result = ls_transport_recv(rd->t, &in, LS_TRANSPORT_FOREVER);
	rd->returned_at = ls_now_ms();
	ls_buf_clear(&in);
	return NULL;
}

static void
check_close_wakes_reader(pair_fn make)
{
	ls_transport *a = NULL, *b = NULL;
	struct reader rd = { 0 };
	pthread_t th;
	int64_t closed_at;

	make(&a, &b);
	rd.t = b;
	cr_assert_eq(pthread_create(&th, NULL, blocked_reader, &rd), 0);
	usleep(100 * 1000);
	closed_at = ls_now_ms();
	ls_transport_close(b);
	pthread_join(th, NULL);
	cr_assert_eq(rd.result, LS_ERR_EOF);
	cr_assert_lt(rd.returned_at - closed_at, 2000, "woken by the close, not by chance");
	cr_assert_eq(send_pattern(b, 3, 0), LS_ERR_EOF, "a closed end cannot send");
	ls_transport_free(a);
	ls_transport_free(b);
}

Test(memory, both_ways_in_order)
{
	check_both_ways_in_order(mem_transports);
}

Test(memory, argument_rules)
{
	check_argument_rules(mem_transports);
}

Test(memory, timeout)
{
	check_timeout(mem_transports);
}

Test(memory, close_wakes_a_blocked_reader)
{
	check_close_wakes_reader(mem_transports);
}

Test(memory, frames_queued_before_close_are_delivered)
{
	ls_transport *a = NULL, *b = NULL;
	ls_buf in;

	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	cr_assert_eq(ls_transport_memory_pair(32, &a, &b), LS_OK);
	cr_assert_eq(ls_transport_send(a, "one", 3, 0), LS_OK);
	cr_assert_eq(ls_transport_send(a, "two", 3, 0), LS_OK);
	cr_assert_eq(ls_transport_send(a, "x", 33, 0), LS_ERR_TOO_LARGE, "the pair's own cap");
	ls_transport_close(a);
	cr_assert_eq(ls_transport_send(b, "late", 4, 0), LS_ERR_EOF, "the peer is gone");
	cr_assert_eq(ls_transport_recv(b, &in, 0), LS_OK);
	cr_assert_arr_eq(ls_buf_data(&in), "one", 3);
	cr_assert_eq(ls_transport_recv(b, &in, 0), LS_OK);
	cr_assert_arr_eq(ls_buf_data(&in), "two", 3);
	cr_assert_eq(ls_transport_recv(b, &in, 0), LS_ERR_EOF);
	/* Freed in the other order, with a frame still queued: no leak (ASan checks). */
	cr_assert_eq(ls_transport_send(b, "x", 1, 0), LS_ERR_EOF);
	ls_transport_free(b);
	ls_transport_free(a);
	ls_buf_clear(&in);
}

struct pinger {
	ls_transport *t;
	int count;
	int failures;
};

static void *
echo_loop(void *arg)
{
	struct pinger *p = arg;
	ls_buf in;

	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	for (int i = 0; i < p->count; i++) {
		if (ls_transport_recv(p->t, &in, 10000) != LS_OK ||
		    ls_transport_send(p->t, ls_buf_data(&in), ls_buf_len(&in), 10000) != LS_OK)
			p->failures++;
	}
	ls_buf_clear(&in);
	return NULL;
}

static void
check_ping_pong(pair_fn make, int count)
{
	ls_transport *a = NULL, *b = NULL;
	struct pinger p = { 0 };
	pthread_t th;
	ls_buf in;

	make(&a, &b);
	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	p.t = b;
	p.count = count;
	cr_assert_eq(pthread_create(&th, NULL, echo_loop, &p), 0);
	for (int i = 0; i < count; i++) {
		size_t n = 1 + (size_t)(i * 977) % 5000;

		cr_assert_eq(send_pattern(a, n, (uint32_t)i), LS_OK);
		cr_assert_eq(ls_transport_recv(a, &in, 10000), LS_OK);
		cr_assert_eq(ls_buf_len(&in), n);
		cr_assert(check_fill(ls_buf_data(&in), n, (uint32_t)i));
	}
	pthread_join(th, NULL);
	cr_assert_eq(p.failures, 0);
	ls_transport_free(a);
	ls_transport_free(b);
	ls_buf_clear(&in);
}

Test(memory, ping_pong_between_threads)
{
	check_ping_pong(mem_transports, 2000);
}

/* ---- TCP --------------------------------------------------------------------------------- */

Test(tcp, both_ways_in_order)
{
	check_both_ways_in_order(tcp_transports);
}

Test(tcp, argument_rules)
{
	check_argument_rules(tcp_transports);
}

Test(tcp, timeout)
{
	check_timeout(tcp_transports);
}

Test(tcp, close_wakes_a_blocked_reader)
{
	check_close_wakes_reader(tcp_transports);
}

Test(tcp, ping_pong_between_threads)
{
	check_ping_pong(tcp_transports, 2000);
}

/* Full duplex: each end has a sender and a receiver thread moving big frames at once. */
struct duplex {
	ls_transport *t;
	uint32_t seed_out, seed_in;
	int frames;
	int send_fail, recv_fail;
};

static void *
duplex_send(void *arg)
{
	struct duplex *d = arg;

	for (int i = 0; i < d->frames; i++) {
		size_t n = i % 3 == 0 ? LS_FRAME_DEFAULT_MAX : 1 + (size_t)i * 4099 % 200000;
		uint8_t *p = malloc(n);

		fill(p, n, d->seed_out + (uint32_t)i);
		if (ls_transport_send(d->t, p, n, 20000) != LS_OK)
			d->send_fail++;
		free(p);
	}
	return NULL;
}

static void *
duplex_recv(void *arg)
{
	struct duplex *d = arg;
	ls_buf in;

	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	for (int i = 0; i < d->frames; i++) {
		size_t n = i % 3 == 0 ? LS_FRAME_DEFAULT_MAX : 1 + (size_t)i * 4099 % 200000;

		if (ls_transport_recv(d->t, &in, 20000) != LS_OK || ls_buf_len(&in) != n ||
		    !check_fill(ls_buf_data(&in), n, d->seed_in + (uint32_t)i))
			d->recv_fail++;
	}
	ls_buf_clear(&in);
	return NULL;
}

Test(tcp, full_duplex_big_frames_through_small_socket_buffers)
{
	struct duplex da = { 0 }, db = { 0 };
	ls_transport *a = NULL, *b = NULL;
	pthread_t th[4];
	int fds[2], small = 32768;

	tcp_pair(fds);
	/* Small kernel buffers force partial writes and many poll() rounds (much smaller and
	 * loopback TCP crawls on delayed ACKs). */
	for (int i = 0; i < 2; i++) {
		setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	/* One end non-blocking, one blocking: both work. */
	fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
	cr_assert_eq(ls_transport_socket_new(fds[0], 0, &a), LS_OK);
	cr_assert_eq(ls_transport_socket_new(fds[1], 0, &b), LS_OK);

	da = (struct duplex){ .t = a, .seed_out = 1000, .seed_in = 2000, .frames = 12 };
	db = (struct duplex){ .t = b, .seed_out = 2000, .seed_in = 1000, .frames = 12 };
	pthread_create(&th[0], NULL, duplex_send, &da);
	pthread_create(&th[1], NULL, duplex_recv, &da);
	pthread_create(&th[2], NULL, duplex_send, &db);
	pthread_create(&th[3], NULL, duplex_recv, &db);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(da.send_fail + da.recv_fail + db.send_fail + db.recv_fail, 0);
	ls_transport_free(a);
	ls_transport_free(b);
}

Test(tcp, timeout_mid_frame_keeps_the_partial_frame)
{
	TEST_HEX(head, "0000000a 0001020304");
	TEST_HEX(tail, "0506070809 00000001 ff");
	ls_transport *t = NULL;
	ls_buf in;
	int fd;

	fd = tcp_raw(&t);
	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	write_all(fd, head, head_len);
	cr_assert_eq(ls_transport_recv(t, &in, 100), LS_ERR_TIMEOUT);
	cr_assert_eq(ls_buf_len(&in), 0, "no partial frame is handed out");
	write_all(fd, tail, tail_len);
	cr_assert_eq(ls_transport_recv(t, &in, 1000), LS_OK);
	cr_assert_eq(ls_buf_len(&in), 10);
	cr_assert_arr_eq(ls_buf_data(&in), ((uint8_t[]){ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }), 10);
	cr_assert_eq(ls_transport_recv(t, &in, 0), LS_OK, "the next frame was already read");
	cr_assert_eq(ls_buf_data(&in)[0], 0xff);
	ls_transport_free(t);
	ls_buf_clear(&in);
	close(fd);
}

Test(tcp, eof_between_frames_and_inside_one)
{
	TEST_HEX(whole, "00000002 aabb");
	TEST_HEX(part, "00000004 aabb");
	ls_transport *t = NULL;
	ls_buf in;
	int fd;

	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	fd = tcp_raw(&t);
	write_all(fd, whole, whole_len);
	close(fd);
	cr_assert_eq(ls_transport_recv(t, &in, 1000), LS_OK);
	cr_assert_eq(ls_transport_recv(t, &in, 1000), LS_ERR_EOF);
	cr_assert_eq(ls_transport_recv(t, &in, 1000), LS_ERR_EOF, "EOF is sticky");
	ls_transport_free(t);

	fd = tcp_raw(&t);
	write_all(fd, part, part_len);
	close(fd);
	cr_assert_eq(ls_transport_recv(t, &in, 1000), LS_ERR_TRUNCATED);
	ls_transport_free(t);

	fd = tcp_raw(&t);
	write_all(fd, part, 2);
	close(fd);
	cr_assert_eq(ls_transport_recv(t, &in, 1000), LS_ERR_TRUNCATED, "EOF inside the header");
	ls_transport_free(t);
	ls_buf_clear(&in);
}

Test(tcp, hostile_and_empty_frames)
{
	TEST_HEX(hostile, "7fffffff");
	TEST_HEX(empty, "00000000");
	ls_transport *t = NULL;
	ls_buf in;
	int fd;

	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	fd = tcp_raw(&t);
	write_all(fd, hostile, hostile_len);
	cr_assert_eq(ls_transport_recv(t, &in, 1000), LS_ERR_TOO_LARGE);
	cr_assert_eq(ls_transport_recv(t, &in, 1000), LS_ERR_TOO_LARGE, "sticky");
	ls_transport_free(t);
	close(fd);

	fd = tcp_raw(&t);
	write_all(fd, empty, empty_len);
	cr_assert_eq(ls_transport_recv(t, &in, 1000), LS_ERR_MALFORMED);
	ls_transport_free(t);
	close(fd);
	ls_buf_clear(&in);
}

Test(tcp, send_to_a_closed_peer_fails_cleanly)
{
	uint8_t *p = calloc(1, 65536);
	ls_transport *t = NULL;
	int fd, r = LS_OK, i;

	fd = tcp_raw(&t);
	close(fd);
	/* The first sends may still land in the kernel; the peer's RST soon makes one fail. */
	for (i = 0; i < 1000 && r == LS_OK; i++)
		r = ls_transport_send(t, p, 65536, 1000);
	cr_assert(r == LS_ERR_EOF || r == LS_ERR_IO, "got %d (%s)", r, ls_strerror(r));
	cr_assert_neq(ls_transport_send(t, p, 1, 1000), LS_OK);
	ls_transport_free(t);
	free(p);
}

Test(tcp, send_timeout_when_the_peer_does_not_read)
{
	uint8_t *p = calloc(1, LS_FRAME_DEFAULT_MAX);
	ls_transport *t = NULL;
	int fd, r, small = 4096;
	int64_t t0;

	fd = tcp_raw(&t);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	t0 = ls_now_ms();
	r = LS_OK;
	for (int i = 0; i < 64 && r == LS_OK; i++)
		r = ls_transport_send(t, p, LS_FRAME_DEFAULT_MAX, 200);
	cr_assert_eq(r, LS_ERR_TIMEOUT);
	cr_assert_lt(ls_now_ms() - t0, 20000);
	cr_assert_eq(ls_transport_send(t, p, 1, 200), LS_ERR_IO,
	             "a frame cut by a timeout breaks the stream for good");
	ls_transport_free(t);
	close(fd);
	free(p);
}

static void
on_usr1(int sig)
{
	(void)sig;
}

Test(tcp, signals_do_not_break_a_wait)
{
	struct sigaction sa;
	ls_transport *a = NULL, *b = NULL;
	struct reader rd = { 0 };
	pthread_t th;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1; /* no SA_RESTART: poll() returns EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	tcp_transports(&a, &b);
	rd.t = b;
	rd.result = 1;
	cr_assert_eq(pthread_create(&th, NULL, blocked_reader, &rd), 0);
	for (int i = 0; i < 5; i++) {
		usleep(20 * 1000);
		pthread_kill(th, SIGUSR1);
	}
	usleep(20 * 1000);
	cr_assert_eq(rd.result, 1, "the reader is still waiting after EINTR");
	cr_assert_eq(send_pattern(a, 7, 7), LS_OK);
	pthread_join(th, NULL);
	cr_assert_eq(rd.result, LS_OK);
	ls_transport_free(a);
	ls_transport_free(b);
}

Test(tcp, socket_new_rules)
{
	ls_transport *t = (ls_transport *)1;

	cr_assert_eq(ls_transport_socket_new(-1, 0, &t), LS_ERR_INVALID_ARG);
	cr_assert_null(t);
	cr_assert_eq(ls_transport_socket_new(0, LS_FRAME_MAX_LIMIT + 1, &t), LS_ERR_INVALID_ARG);
	cr_assert_null(t, "and fd 0 was not taken over");
	ls_transport_free(NULL);
}

/* ---- a transport built by hand from the vtable ------------------------------------------- */

struct counting {
	ls_transport base;
	int sends, recvs, closes, destroys;
};

static struct counting *last_counting;

static int
counting_send(ls_transport *t, const uint8_t *data, size_t len, int timeout_ms)
{
	((struct counting *)t)->sends++;
	return LS_ERR_IO;
}

static int
counting_recv(ls_transport *t, ls_buf *out, int timeout_ms)
{
	((struct counting *)t)->recvs++;
	ls_buf_add(out, "short", 5);
	return LS_OK;
}

static void
counting_close(ls_transport *t)
{
	((struct counting *)t)->closes++;
}

static void
counting_destroy(ls_transport *t)
{
	((struct counting *)t)->destroys++;
}

static const ls_transport_ops counting_ops = {
	.send = counting_send,
	.recv = counting_recv,
	.close = counting_close,
	.destroy = counting_destroy,
};

Test(vtable, generic_layer_checks_before_dispatch)
{
	struct counting c = { .base = { .ops = &counting_ops, .max_frame = 16 } };
	ls_buf in;

	last_counting = &c;
	cr_assert_eq(ls_transport_send(&c.base, "x", 0, 0), LS_ERR_MALFORMED);
	cr_assert_eq(ls_transport_send(&c.base, "0123456789abcdefg", 17, 0), LS_ERR_TOO_LARGE);
	cr_assert_eq(c.sends, 0, "bad frames never reach the implementation");
	cr_assert_eq(ls_transport_send(&c.base, "x", 1, 0), LS_ERR_IO);
	cr_assert_eq(c.sends, 1);

	ls_buf_init(&in, 16);
	ls_buf_add(&in, "stale", 5);
	cr_assert_eq(ls_transport_recv(&c.base, &in, 0), LS_OK);
	cr_assert_eq(ls_buf_len(&in), 5, "the buffer was reset before the implementation wrote");
	ls_buf_clear(&in);

	ls_transport_free(&c.base);
	cr_assert_eq(c.closes, 1);
	cr_assert_eq(c.destroys, 1);
}

/* ---- batches: many frames per recv(), many per sendmsg() --------------------------------- */

/* Appends the frame of @n pattern bytes from @seed (header and payload) to @wire. */
static void
wire_frame(ls_buf *wire, size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);

	cr_assert_not_null(p);
	fill(p, n, seed);
	cr_assert_eq(ls_frame_encode(wire, p, n, LS_FRAME_DEFAULT_MAX), LS_OK);
	free(p);
}

Test(tcp, many_frames_arriving_in_one_write_come_out_one_by_one)
{
	/* Forty small frames, then one that straddles the transport's 16 KiB read chunk, then
	 * small ones again: all written by one write(), read back in order and intact. */
	static const size_t sizes[] = { 1, 7, 100, 300, 16000, 5, 33, 4096, 2 };
	ls_transport *t = NULL;
	ls_buf wire, in;
	size_t nsizes = sizeof(sizes) / sizeof(sizes[0]);
	int fd = tcp_raw(&t), total = 0;

	ls_buf_init(&wire, 1 << 20);
	for (int i = 0; i < 40; i++)
		wire_frame(&wire, 1 + (size_t)i * 13 % 97, 500 + (uint32_t)i);
	for (size_t i = 0; i < nsizes; i++)
		wire_frame(&wire, sizes[i], 900 + (uint32_t)i);
	write_all(fd, ls_buf_data(&wire), ls_buf_len(&wire));

	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	for (int i = 0; i < 40; i++, total++) {
		size_t n = 1 + (size_t)i * 13 % 97;

		cr_assert_eq(ls_transport_recv(t, &in, 5000), LS_OK, "frame %d", i);
		cr_assert_eq(ls_buf_len(&in), n);
		cr_assert(check_fill(ls_buf_data(&in), n, 500 + (uint32_t)i), "frame %d intact", i);
	}
	for (size_t i = 0; i < nsizes; i++, total++) {
		cr_assert_eq(ls_transport_recv(t, &in, 5000), LS_OK, "frame of %zu", sizes[i]);
		cr_assert_eq(ls_buf_len(&in), sizes[i]);
		cr_assert(check_fill(ls_buf_data(&in), sizes[i], 900 + (uint32_t)i));
	}
	/* Nothing more: a read that finds nothing waits its timeout and keeps the stream. */
	cr_assert_eq(ls_transport_recv(t, &in, 50), LS_ERR_TIMEOUT);
	ls_buf_reset(&wire);
	wire_frame(&wire, 3, 77);
	write_all(fd, ls_buf_data(&wire), ls_buf_len(&wire));
	cr_assert_eq(ls_transport_recv(t, &in, 5000), LS_OK);
	cr_assert(ls_buf_len(&in) == 3 && check_fill(ls_buf_data(&in), 3, 77));
	cr_assert_eq(total, 40 + (int)nsizes);
	close(fd);
	cr_assert_eq(ls_transport_recv(t, &in, 5000), LS_ERR_EOF, "EOF between frames after all");
	ls_buf_clear(&in);
	ls_buf_clear(&wire);
	ls_transport_free(t);
}

struct batch_reader {
	ls_transport *t;
	int frames;
	int bad;
};

static void *
batch_read(void *arg)
{
	struct batch_reader *r = arg;
	ls_buf in;

	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	for (int i = 0; i < r->frames; i++) {
		size_t n = 1000 + (size_t)i * 577 % 9000;

		/* A slow reader: the sender's batch meets a full socket again and again. */
		if (i % 16 == 0)
			usleep(2000);
		if (ls_transport_recv(r->t, &in, 20000) != LS_OK || ls_buf_len(&in) != n ||
		    !check_fill(ls_buf_data(&in), n, 3000 + (uint32_t)i))
			r->bad++;
	}
	ls_buf_clear(&in);
	return NULL;
}

Test(tcp, a_batch_larger_than_the_socket_buffer_goes_out_whole_and_in_order)
{
	/* 200 frames (more than LS_TRANSPORT_SENDV_MAX, so several sendmsg batches) of 1-10 KB
	 * through 32 KiB-requested socket buffers: every sendmsg is accepted only in part, and
	 * the rest must follow from the right byte, headers included. */
	enum { N = 200 };
	ls_transport_frame frames[N];
	uint8_t *bufs[N];
	struct batch_reader rd = { 0 };
	ls_transport *a = NULL, *b = NULL;
	pthread_t th;
	int fds[2], small = 32768;

	tcp_pair(fds);
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	cr_assert_eq(ls_transport_socket_new(fds[0], 0, &a), LS_OK);
	cr_assert_eq(ls_transport_socket_new(fds[1], 0, &b), LS_OK);
	for (int i = 0; i < N; i++) {
		size_t n = 1000 + (size_t)i * 577 % 9000;

		bufs[i] = malloc(n);
		cr_assert_not_null(bufs[i]);
		fill(bufs[i], n, 3000 + (uint32_t)i);
		frames[i].data = bufs[i];
		frames[i].len = n;
	}
	rd = (struct batch_reader){ .t = b, .frames = N };
	pthread_create(&th, NULL, batch_read, &rd);
	cr_assert_eq(ls_transport_sendv(a, frames, N, 20000), LS_OK);
	pthread_join(th, NULL);
	cr_assert_eq(rd.bad, 0, "every frame arrived whole and in order");
	for (int i = 0; i < N; i++)
		free(bufs[i]);
	ls_transport_free(a);
	ls_transport_free(b);
}

Test(tcp, a_batch_with_a_bad_frame_sends_nothing)
{
	ls_transport_frame frames[3] = { { "abc", 3 }, { "", 0 }, { "def", 3 } };
	ls_transport *t = NULL;
	uint8_t byte;
	int fd = tcp_raw(&t);

	cr_assert_eq(ls_transport_sendv(t, frames, 3, 1000), LS_ERR_MALFORMED);
	cr_assert_eq(recv(fd, &byte, 1, MSG_DONTWAIT), -1, "no byte of the good frames left");
	cr_assert_eq(errno, EAGAIN);
	/* Lengths over the cap likewise; then a good batch goes out whole. */
	frames[1].len = LS_FRAME_DEFAULT_MAX + 1;
	frames[1].data = "";
	cr_assert_eq(ls_transport_sendv(t, frames, 3, 1000), LS_ERR_TOO_LARGE);
	frames[1].data = "x";
	frames[1].len = 1;
	cr_assert_eq(ls_transport_sendv(t, frames, 3, 1000), LS_OK);
	{
		uint8_t got[64];
		static const uint8_t want[] = { 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 1, 'x',
		                                0, 0, 0, 3, 'd', 'e', 'f' };
		size_t have = 0;

		while (have < sizeof(want)) {
			ssize_t n = recv(fd, got + have, sizeof(got) - have, 0);

			cr_assert_gt(n, 0);
			have += (size_t)n;
		}
		cr_assert_eq(have, sizeof(want));
		cr_assert_arr_eq(got, want, sizeof(want), "three frames, headers and payloads");
	}
	close(fd);
	ls_transport_free(t);
}

Test(memory, a_batch_goes_frame_by_frame)
{
	ls_transport_frame frames[LS_TRANSPORT_SENDV_MAX + 5];
	uint8_t bytes[LS_TRANSPORT_SENDV_MAX + 5];
	ls_transport *a = NULL, *b = NULL;
	ls_buf in;

	cr_assert_eq(ls_transport_memory_pair(0, &a, &b), LS_OK);
	for (size_t i = 0; i < sizeof(bytes); i++) {
		bytes[i] = (uint8_t)i;
		frames[i].data = &bytes[i];
		frames[i].len = 1;
	}
	cr_assert_eq(ls_transport_sendv(a, frames, sizeof(bytes), 1000), LS_OK);
	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	for (size_t i = 0; i < sizeof(bytes); i++) {
		cr_assert_eq(ls_transport_recv(b, &in, 0), LS_OK);
		cr_assert(ls_buf_len(&in) == 1 && ls_buf_data(&in)[0] == (uint8_t)i);
	}
	cr_assert_eq(ls_transport_recv(b, &in, 0), LS_ERR_TIMEOUT);
	ls_buf_clear(&in);
	ls_transport_free(a);
	ls_transport_free(b);
}

/* A thread that sends one frame after a delay (the spin test's peer). */
struct late_send {
	ls_transport *t;
	int delay_us;
};

static void *
late_send_thread(void *arg)
{
	struct late_send *ls = arg;
	struct timespec ts = { 0, (long)ls->delay_us * 1000 };

	nanosleep(&ts, NULL);
	ls_transport_send(ls->t, "late", 4, 1000);
	return NULL;
}

Test(tcp, spinning_receive_gets_early_data_and_keeps_its_timeout)
{
	ls_transport *a = NULL, *b = NULL;
	struct late_send ls;
	pthread_t th;
	ls_buf in;
	struct timespec t0, t1;
	long ms;

	tcp_transports(&a, &b);
	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	ls_transport_set_spin(b, 1000000);
	cr_assert_eq(b->spin_us, LS_TRANSPORT_SPIN_MAX_US, "the budget is capped");
	ls_transport_set_spin(b, -5);
	cr_assert_eq(b->spin_us, 0);
	ls_transport_set_spin(b, LS_TRANSPORT_SPIN_MAX_US);

	/* Data that comes during the spin, and data that comes after it (the sleep takes over). */
	for (int delay = 20; delay <= 20000; delay *= 1000) {
		ls = (struct late_send){ .t = a, .delay_us = delay };
		cr_assert_eq(pthread_create(&th, NULL, late_send_thread, &ls), 0);
		cr_assert_eq(ls_transport_recv(b, &in, 2000), LS_OK, "delay %d us", delay);
		cr_assert(ls_buf_len(&in) == 4 && memcmp(ls_buf_data(&in), "late", 4) == 0);
		pthread_join(th, NULL);
	}
	/* Nothing comes: the timeout still holds, spin or not. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(ls_transport_recv(b, &in, 50), LS_ERR_TIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert(ms >= 45 && ms < 1000, "waited %ld ms", ms);
	ls_buf_clear(&in);
	ls_transport_free(a);
	ls_transport_free(b);
}
