/*
 * LS11CLOUD - per-source limits: connections per client address and throttling of addresses
 * that fail to log in too often (loop thread only).
 *
 * An address with throttle-failures failed handshakes within throttle-window seconds is refused
 * (with the handshake's "busy" message) for the rest of the window, so password guessing from
 * one address costs at least throttle-window seconds per throttle-failures guesses, on top of
 * the per-account RFC 8133 counters.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server-private.h"

lsd_source *
lsd_source_get(lsd_server *srv, const char *addr)
{
	lsd_source *s;

	for (s = srv->sources; s != NULL; s = s->next) {
		if (strcmp(s->addr, addr) == 0)
			return s;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	s->window_start = time(NULL);
	s->next = srv->sources;
	srv->sources = s;
	return s;
}

const char *
lsd_source_refusal(lsd_server *srv, lsd_source *src)
{
	time_t now = time(NULL);

	if (src->blocked_until > now)
		return "throttled after too many failed logins";
	if (src->conns >= srv->cfg->max_conn_per_source)
		return "too many connections from this address";
	return NULL;
}

void
lsd_source_failure(lsd_server *srv, lsd_source *src)
{
	time_t now = time(NULL);

	if (now - src->window_start >= (time_t)srv->cfg->throttle_window) {
		src->window_start = now;
		src->failures = 0;
	}
	src->failures++;
	if (src->failures >= srv->cfg->throttle_failures && src->blocked_until <= now) {
		src->blocked_until = src->window_start + (time_t)srv->cfg->throttle_window;
		if (src->blocked_until <= now)
			src->blocked_until = now + 1;
		ls_warning("%s: %u failed logins in %u s: refused for %ld s", src->addr,
		           src->failures, srv->cfg->throttle_window, (long)(src->blocked_until - now));
	}
}

void
lsd_source_sweep(lsd_server *srv)
{
	time_t now = time(NULL);
	lsd_source **pp = &srv->sources, *s;

	while ((s = *pp) != NULL) {
		if (s->conns == 0 && s->blocked_until <= now &&
		    now - s->window_start >= (time_t)srv->cfg->throttle_window) {
			*pp = s->next;
			free(s);
			continue;
		}
		pp = &s->next;
	}
}

void
lsd_source_free_all(lsd_server *srv)
{
	lsd_source *s;

	while ((s = srv->sources) != NULL) {
		srv->sources = s->next;
		free(s);
	}
}
