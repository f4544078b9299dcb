/*
 * LS11CLOUD - ls11cloudd: set-up, listeners, signals, the once-a-second sweep, shutdown.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "settings.h"
#include "config.h"
#include "crypto.h"
#include "log.h"
#include "server-private.h"

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
          void *arg)
{
	(void)l;
	lsd_conn_accept(arg, fd, sa, salen);
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	(void)l;
	(void)arg;
	/* EMFILE and friends: log and go on; the listener stays. */
	ls_warning("accept: %s", evutil_socket_error_to_string(err));
}

/* "HOST:PORT" -> an address (numeric, or a name resolved once at start). */
static int
resolve(const char *spec, struct sockaddr_storage *ss, int *sslen)
{
	struct addrinfo hints, *res = NULL;
	char host[256];
	const char *colon = strrchr(spec, ':');
	size_t hl;
	int len = (int)sizeof(*ss), rc;

	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)ss, &len) == 0) {
		*sslen = len;
		return 0;
	}
	if (colon == NULL)
		return -1;
	hl = (size_t)(colon - spec);
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0 || res == NULL) {
		ls_error("listen %s: cannot resolve '%s': %s", spec, host, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = (int)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void
format_addr(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(s4->sin_port));
	}
}

/* Binds one configured address; 1 when skipped (IPv6 missing on this host), 0, or -1. */
static int
open_listener(lsd_server *srv, const char *spec, char *bound, size_t bound_size)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int sslen = 0, fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (resolve(spec, &ss, &sslen) != 0) {
		ls_error("listen: '%s' is not an address this host can listen on", spec);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		if (ss.ss_family == AF_INET6 && errno == EAFNOSUPPORT) {
			ls_warning("listen %s: IPv6 is not available on this host; skipped", spec);
			return 1;
		}
		ls_error("listen %s: socket: %s", spec, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::] and 0.0.0.0 side by side, each for its own family. */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) != 0) {
		int err = errno;

		close(fd);
		if (ss.ss_family == AF_INET6 && err == EADDRNOTAVAIL) {
			ls_warning("listen %s: IPv6 is not available on this host; skipped", spec);
			return 1;
		}
		ls_error("listen %s: bind: %s", spec, strerror(err));
		return -1;
	}
	srv->listeners[srv->n_listeners] =
		evconnlistener_new(srv->base, on_accept, srv,
		                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128, fd);
	if (srv->listeners[srv->n_listeners] == NULL) {
		ls_error("listen %s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(srv->listeners[srv->n_listeners], on_accept_error);
	srv->n_listeners++;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		ls_error("listen %s: getsockname: %s", spec, strerror(errno));
		return -1;
	}
	format_addr((struct sockaddr *)&ss, bound, bound_size);
	return 0;
}

static void
stop_listening(lsd_server *srv)
{
	size_t i;

	for (i = 0; i < srv->n_listeners; i++)
		evconnlistener_free(srv->listeners[i]);
	srv->n_listeners = 0;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	lsd_server *srv = arg;

	(void)what;
	if (srv->stopping)
		return;
	ls_info("%s received: stopping (%u connections open)",
	        sig == SIGTERM ? "SIGTERM" : "SIGINT", srv->n_conns);
	srv->stopping = true;
	stop_listening(srv);
	lsd_conn_close_all(srv);
	event_base_loopbreak(srv->base);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	lsd_server *srv = arg;

	(void)fd;
	(void)what;
	lsd_conn_sweep(srv);
	lsd_registry_sweep(srv);
	lsd_source_sweep(srv);
}

static unsigned
worker_count(const lsd_config *cfg)
{
	long n;

	if (cfg->workers != 0)
		return cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 2 ? 2 : (unsigned)n;
}

int
lsd_server_new(lsd_config *cfg, lsd_server **out)
{
	static const struct timeval second = { 1, 0 };
	char bound[LSD_MAX_LISTEN][96];
	lsd_server *srv;
	unsigned workers = worker_count(cfg);
	size_t i, n_bound = 0;
	int r;

	*out = NULL;
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		ls_error("out of memory");
		return -1;
	}
	srv->cfg = cfg;
	pthread_mutex_init(&srv->reg_lock, NULL);
	srv->limits = LS_SESPAKE_LIMITS_DEFAULT;
	ls_token_config_init(&srv->token_config);
	srv->token_config.max_sessions = cfg->max_sessions;
	srv->token_config.max_objects = cfg->max_objects;
	srv->token_config.pbkdf2_iterations = cfg->pbkdf2_iterations;
	srv->token_config.max_pin_failures = cfg->max_pin_failures;
	srv->token_config.model = "LS11CLOUD";

	if ((r = ls_crypto_init()) != LS_OK) {
		ls_error("the GOST crypto backend cannot start: %s", ls_strerror(r));
		goto fail;
	}
	if (lsd_state_prepare(srv) != 0)
		goto fail;
	lsd_auth_setup(srv);

	srv->base = event_base_new();
	if (srv->base == NULL) {
		ls_error("cannot create the event loop");
		goto fail;
	}
	if ((r = lsd_pool_new(srv->base, workers, &srv->pool)) != LS_OK) {
		ls_error("cannot start %u worker threads: %s", workers, ls_strerror(r));
		goto fail;
	}
	signal(SIGPIPE, SIG_IGN);
	srv->sig_term = evsignal_new(srv->base, SIGTERM, on_signal, srv);
	srv->sig_int = evsignal_new(srv->base, SIGINT, on_signal, srv);
	srv->tick = event_new(srv->base, -1, EV_PERSIST, on_tick, srv);
	if (srv->sig_term == NULL || srv->sig_int == NULL || srv->tick == NULL ||
	    evsignal_add(srv->sig_term, NULL) != 0 || evsignal_add(srv->sig_int, NULL) != 0 ||
	    evtimer_add(srv->tick, &second) != 0) {
		ls_error("cannot set up signals and timers");
		goto fail;
	}

	for (i = 0; i < cfg->n_listen; i++) {
		r = open_listener(srv, cfg->listen[i], bound[n_bound], sizeof(bound[0]));
		if (r < 0)
			goto fail;
		if (r == 0)
			n_bound++;
	}
	if (n_bound == 0) {
		ls_error("no address to listen on");
		goto fail;
	}
	/*
	 * The loop wakes for every burst of requests and every batch of finished jobs.  Under
	 * SCHED_BATCH such a wake-up does not preempt a worker in the middle of a signature: the
	 * loop runs when a CPU comes free or at the next tick, which costs a busy server far less
	 * than two context switches per wake-up (docs/benchmarks.md).  An idle CPU still runs it at
	 * once.  The workers, started already, keep the normal policy.  Set
	 * before "listening on": the thread that makes the server is the one that runs its loop.
	 */
	if (cfg->loop_batch) {
		struct sched_param sp = { .sched_priority = 0 };
		int rc = pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);

		if (rc != 0)
			ls_warning("the event loop keeps the normal scheduling policy: %s",
			           strerror(rc));
	}
	ls_info("ls11cloudd %s: state in %s, %u workers, registration %s, resume lease %u s",
	        PACKAGE_VERSION, cfg->state_dir, workers,
	        cfg->registration == LSD_REG_OPEN   ? "open"
	        : cfg->registration == LSD_REG_CODE ? "by code"
	                                            : "closed",
	        cfg->resume_lease);
	for (i = 0; i < n_bound; i++) {
		ls_info("listening on %s", bound[i]);
		/* The line tests and scripts wait for (with the real port when 0 was asked). */
		printf("listening on %s\n", bound[i]);
	}
	fflush(stdout);
	*out = srv;
	return 0;
fail:
	lsd_server_free(srv);
	return -1;
}

/* After the loop has handled something, how long it looks for more before it sleeps. */
#define LOOP_SPIN_US 50

/*
 * The event loop.  After each round that handled events it keeps looking (no timeout) for
 * LOOP_SPIN_US before it sleeps again: a client that answers at once sends its next request
 * within a loopback round trip, and waking from epoll_wait costs more than that on a busy
 * machine (docs/benchmarks.md).  Idle, or with work on the pool's threads, it sleeps as before.
 */
int
lsd_server_run(lsd_server *srv)
{
	for (;;) {
		int64_t end;

		if (event_base_loop(srv->base, EVLOOP_ONCE) != 0 || event_base_got_break(srv->base))
			break;
		/* Workers busy: the CPU is theirs (and the clients'), and they will wake the loop. */
		if (lsd_pool_pending(srv->pool) != 0)
			continue;
		end = ls_now_us() + LOOP_SPIN_US;
		while (ls_now_us() < end) {
			if (event_base_loop(srv->base, EVLOOP_NONBLOCK) != 0 ||
			    event_base_got_break(srv->base))
				return 0;
			if (lsd_pool_pending(srv->pool) != 0)
				break;
		}
	}
	return 0;
}

void
lsd_server_free(lsd_server *srv)
{
	if (srv == NULL)
		return;
	srv->stopping = true;
	stop_listening(srv);
	if (srv->base != NULL)
		lsd_conn_close_all(srv);
	/* Running jobs finish; their connections are then released (more jobs, drained too). */
	lsd_pool_free(srv->pool);
	srv->pool = NULL;
	lsd_registry_free_all(srv);
	lsd_source_free_all(srv);
	if (srv->tick != NULL)
		event_free(srv->tick);
	if (srv->sig_term != NULL)
		event_free(srv->sig_term);
	if (srv->sig_int != NULL)
		event_free(srv->sig_int);
	if (srv->base != NULL)
		event_base_free(srv->base);
	ls_store_close(srv->store);
	lsd_state_free(srv);
	ls_wipe(srv->secret, sizeof(srv->secret));
	lsd_auth_free_all(srv);
	pthread_mutex_destroy(&srv->reg_lock);
	if (srv->n_conns == 0)
		ls_info("stopped");
	free(srv);
}
