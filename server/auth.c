/*
 * LS11CLOUD - the server's side of the handshake: account lookup, RFC 8133 counters,
 * registration policy (callbacks of core/handshake.h, run on worker threads).
 *
 * An unknown nickname must cost what a known one costs.  A known one's attempt is a committed
 * store write (the decremented counters, fsync'ed) that takes a few milliseconds; for an
 * unknown one nothing is written, so its begin step sleeps for the running mean of the real
 * writes instead.  Everything else (fake SESPAKE parameters, the failure at MAC_A) is the
 * handshake's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "log.h"
#include "server-private.h"

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cb_lookup(void *user_data, const char *nickname, ls_sespake_verifier *out)
{
	lsd_conn *c = user_data;
	ls_store_account a;
	int r;

	snprintf(c->nickname, sizeof(c->nickname), "%s", nickname);
	r = lsd_account_find(c->srv->store, nickname, &a);
	if (r == LS_OK) {
		memcpy(out, a.verifier, sizeof(*out));
		c->known_account = true;
		c->account_id = a.id;
		c->account_state = a.state;
	} else if (r != LS_ERR_NOT_FOUND) {
		ls_error("%s: looking up '%s': %s", c->peer, nickname, ls_strerror(r));
	}
	ls_wipe(&a, sizeof(a));
	return r;
}

static void
sleep_us(int64_t us)
{
	struct timespec ts;

	if (us <= 0)
		return;
	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

static int
cb_begin(void *user_data, const char *nickname, bool known)
{
	lsd_conn *c = user_data;
	_Atomic int64_t *cost = &c->srv->attempt_cost_us;
	int64_t t0, spent, mean = atomic_load(cost);
	int r;

	if (!known) {
		sleep_us(mean);
		return LS_OK;
	}
	t0 = now_us();
	r = lsd_account_begin_attempt(c->srv->store, nickname, &c->srv->limits, c->addr);
	spent = now_us() - t0;
	if (r == LS_OK) {
		atomic_store(cost, mean + (spent - mean) / 8);
	} else if (r == LS_ERR_ATTEMPTS_EXHAUSTED) {
		/* A locked account writes nothing: it must not answer faster than an open one. */
		sleep_us(mean - spent);
		ls_warning("%s: '%s' is locked (attempt counters exhausted); the login will fail",
		           c->peer, nickname);
	} else {
		ls_error("%s: cannot count the attempt of '%s': %s", c->peer, nickname,
		         ls_strerror(r));
	}
	return r;
}

static int
cb_success(void *user_data, const char *nickname)
{
	lsd_conn *c = user_data;
	int r;

	r = lsd_account_record_success(c->srv->store, nickname, &c->srv->limits, c->addr);
	if (r != LS_OK)
		ls_error("%s: cannot record the login of '%s': %s", c->peer, nickname,
		         ls_strerror(r));
	return r;
}

/* Constant time in the code's content (lengths up to the cap). */
static bool
code_matches(const char *want, const uint8_t *code, size_t code_len)
{
	uint8_t a[LS_HANDSHAKE_CODE_MAX] = { 0 }, b[LS_HANDSHAKE_CODE_MAX] = { 0 };
	size_t want_len = strlen(want);
	bool eq;

	if (want_len > sizeof(a) || code_len > sizeof(b))
		return false;
	memcpy(a, want, want_len);
	if (code_len > 0)
		memcpy(b, code, code_len);
	eq = ls_ct_equal(a, b, sizeof(a));
	eq = eq && want_len == code_len;
	ls_wipe(a, sizeof(a));
	ls_wipe(b, sizeof(b));
	return eq;
}

static ls_handshake_reg_status
cb_register(void *user_data, const char *nickname, const ls_sespake_verifier *verifier,
            const uint8_t *code, size_t code_len)
{
	lsd_conn *c = user_data;
	const lsd_config *cfg = c->srv->cfg;
	uint64_t id = 0;
	int r;

	snprintf(c->nickname, sizeof(c->nickname), "%s", nickname);
	if (cfg->registration == LSD_REG_CLOSED) {
		ls_warning("%s: registration of '%s' refused: registration is closed", c->peer,
		           nickname);
		return LS_HANDSHAKE_REG_CLOSED;
	}
	if (cfg->registration == LSD_REG_CODE &&
	    !code_matches(cfg->registration_code, code, code_len)) {
		ls_warning("%s: registration of '%s' refused: %s registration code", c->peer,
		           nickname, code_len == 0 ? "no" : "a wrong");
		return LS_HANDSHAKE_REG_CODE_INVALID;
	}
	r = lsd_account_create(c->srv->store, nickname, verifier, LSD_ACCOUNT_ACTIVE,
	                       &c->srv->limits, c->addr, &id);
	if (r == LS_ERR_STATE) {
		ls_warning("%s: registration of '%s' refused: the nickname is taken", c->peer,
		           nickname);
		return LS_HANDSHAKE_REG_NICKNAME_TAKEN;
	}
	if (r != LS_OK) {
		ls_error("%s: registration of '%s' failed: %s", c->peer, nickname, ls_strerror(r));
		return LS_HANDSHAKE_REG_SERVER_ERROR;
	}
	ls_info("%s: registered '%s' (account %llu)", c->peer, nickname, (unsigned long long)id);
	return LS_HANDSHAKE_REG_OK;
}

void
lsd_auth_setup(lsd_server *srv)
{
	ls_handshake_server_config *h = &srv->hs_config;

	memset(h, 0, sizeof(*h));
	h->identity = srv->identity;
	h->secret = srv->secret;
	h->secret_len = sizeof(srv->secret);
	h->lookup = cb_lookup;
	h->begin_attempt = cb_begin;
	h->record_success = cb_success;
	h->register_account = cb_register;
	/* A first guess of a counter write; the real writes correct it. */
	srv->attempt_cost_us = 2000;
}
