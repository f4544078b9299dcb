/*
 * LS11CLOUD - the server's side of the handshake: account lookup, RFC 8133 counters,
 * registration policy (callbacks of core/handshake.h, run on worker threads).
 *
 * The registration policy is read from the store at each registration attempt (ls11cloud-admin
 * registration writes it there while the server runs); the configuration's registration and
 * registration-code apply only when the store has no policy.  The identity key a registration
 * is answered with is the current identity.key (server/state.c).
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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "crypto.h"
#include "log.h"
#include "server-private.h"

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

/*
 * Enters @c's attempt for @nickname among those in flight; returns its record (it lives until
 * the last attempt of the nickname ends), or NULL when it cannot be kept (out of memory).
 */
static lsd_attempt *
attempt_enter(lsd_conn *c, const char *nickname)
{
	lsd_server *srv = c->srv;
	lsd_attempt *a;

	pthread_mutex_lock(&srv->reg_lock);
	for (a = srv->attempts; a != NULL; a = a->next) {
		if (strcmp(a->nickname, nickname) == 0)
			break;
	}
	if (a == NULL && (a = calloc(1, sizeof(*a))) != NULL) {
		pthread_mutex_init(&a->begin, NULL);
		snprintf(a->nickname, sizeof(a->nickname), "%s", nickname);
		a->next = srv->attempts;
		srv->attempts = a;
	}
	if (a != NULL) {
		a->n++;
		c->attempt_pending = true;
		c->attempt_counted = false;
	}
	pthread_mutex_unlock(&srv->reg_lock);
	return a;
}

static void
attempt_free(lsd_attempt *a)
{
	pthread_mutex_destroy(&a->begin);
	free(a);
}

void
lsd_auth_attempt_end(lsd_conn *c)
{
	lsd_server *srv = c->srv;
	lsd_attempt **pp, *a;

	if (!c->attempt_pending)
		return;
	c->attempt_pending = false;
	pthread_mutex_lock(&srv->reg_lock);
	for (pp = &srv->attempts; (a = *pp) != NULL; pp = &a->next) {
		if (strcmp(a->nickname, c->nickname) == 0)
			break;
	}
	if (a != NULL && c->attempt_counted && --a->counted == 0)
		a->waited = 0; /* the episode is over: what comes next is counted or locks */
	c->attempt_counted = false;
	if (a != NULL && --a->n == 0) {
		*pp = a->next;
		attempt_free(a);
	}
	pthread_mutex_unlock(&srv->reg_lock);
}

void
lsd_auth_free_all(lsd_server *srv)
{
	lsd_attempt *a, *next;

	for (a = srv->attempts; a != NULL; a = next) {
		next = a->next;
		attempt_free(a);
	}
	srv->attempts = NULL;
}

/*
 * RFC 8133 step 2.  The begin steps of one nickname run one at a time (a->begin), and each
 * decides from the attempts counted before it whether a counter at 0 means "locked" or "the
 * others may still succeed": deciding from those merely entered would let an attempt whose
 * transaction comes after later ones' lock the account under a user's own concurrent logins,
 * and let a guesser who always keeps one attempt in flight run uncounted for ever.  An unknown
 * nickname goes through the same lock and sleeps for what a real write costs, so that neither
 * one attempt nor several at once tell it from a known one.
 */
static int
cb_begin(void *user_data, const char *nickname, bool known)
{
	lsd_conn *c = user_data;
	lsd_server *srv = c->srv;
	_Atomic int64_t *cost = &srv->attempt_cost_us;
	int64_t t0, spent, mean = atomic_load(cost);
	bool overlap = false, uncounted = false;
	lsd_attempt *a;
	int r;

	/* c->nickname is @nickname (cb_lookup); lsd_auth_attempt_end() finds it by that. */
	a = attempt_enter(c, nickname); /* NULL (out of memory): counted as if alone */
	if (a != NULL) {
		pthread_mutex_lock(&a->begin);
		pthread_mutex_lock(&srv->reg_lock);
		overlap = a->counted > 0 && a->waited < LSD_ATTEMPT_OVERLAP_MAX;
		pthread_mutex_unlock(&srv->reg_lock);
	}
	if (!known) {
		sleep_us(mean);
		r = LS_OK;
	} else {
		t0 = ls_now_us();
		r = lsd_account_begin_attempt(srv->store, nickname, &srv->limits, c->addr, overlap,
		                              &uncounted);
		spent = ls_now_us() - t0;
		if (r == LS_OK)
			atomic_store(cost, mean + (spent - mean) / 8);
		else if (r == LS_ERR_ATTEMPTS_EXHAUSTED)
			sleep_us(mean - spent); /* a locked account writes nothing: not faster */
	}
	if (a != NULL) {
		if (known && r == LS_OK) {
			pthread_mutex_lock(&srv->reg_lock);
			if (uncounted) {
				a->waited++;
			} else {
				a->counted++;
				c->attempt_counted = true;
			}
			pthread_mutex_unlock(&srv->reg_lock);
		}
		pthread_mutex_unlock(&a->begin);
	}
	if (r != LS_OK)
		lsd_auth_attempt_end(c);
	if (uncounted)
		ls_info("%s: '%s': a counter is at 0 with other attempts in flight: this one "
		        "waits for their outcome, uncounted",
		        c->peer, nickname);
	if (r == LS_ERR_ATTEMPTS_EXHAUSTED)
		ls_warning("%s: '%s' is locked (attempt counters exhausted); the login will fail",
		           c->peer, nickname);
	else if (r != LS_OK)
		ls_error("%s: cannot count the attempt of '%s': %s", c->peer, nickname,
		         ls_strerror(r));
	return r;
}

static int
cb_success(void *user_data, const char *nickname)
{
	lsd_conn *c = user_data;
	int r;

	r = lsd_account_record_success(c->srv->store, nickname, &c->srv->limits, c->addr);
	lsd_auth_attempt_end(c);
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

/*
 * The policy in force: the store's (ls11cloud-admin registration), else the configuration's.
 * @code_buf (LSD_REG_CODE_MAX + 1 bytes) may receive the code; *@want points to the code to
 * compare with (NULL: none, every code is wrong).  -1 when the store cannot be read.
 */
static int
current_policy(lsd_server *srv, lsd_reg_policy *policy, char *code_buf, const char **want)
{
	char word[16];
	int r;

	*policy = srv->cfg->registration;
	*want = srv->cfg->registration_code;
	r = lsd_registration_get(srv->store, word, sizeof(word), code_buf, LSD_REG_CODE_MAX + 1);
	if (r == LS_ERR_NOT_FOUND)
		return 0;
	if (r != LS_OK) {
		ls_error("the registration policy cannot be read from the store: %s",
		         ls_strerror(r));
		return -1;
	}
	if (strcmp(word, "open") == 0) {
		*policy = LSD_REG_OPEN;
	} else if (strcmp(word, "code") == 0) {
		*policy = LSD_REG_CODE;
		/* A policy "code" without its code falls back to the configured code. */
		if (code_buf[0] != '\0')
			*want = code_buf;
	} else {
		*policy = LSD_REG_CLOSED;
	}
	return 0;
}

static ls_handshake_reg_status
cb_register(void *user_data, const char *nickname, const ls_sespake_verifier *verifier,
            const uint8_t *code, size_t code_len)
{
	lsd_conn *c = user_data;
	char code_buf[LSD_REG_CODE_MAX + 1];
	const char *want = NULL;
	lsd_reg_policy policy;
	uint64_t id = 0;
	bool match;
	int r;

	snprintf(c->nickname, sizeof(c->nickname), "%s", nickname);
	if (current_policy(c->srv, &policy, code_buf, &want) != 0) {
		ls_wipe(code_buf, sizeof(code_buf));
		return LS_HANDSHAKE_REG_SERVER_ERROR;
	}
	if (policy == LSD_REG_CLOSED) {
		ls_wipe(code_buf, sizeof(code_buf));
		ls_warning("%s: registration of '%s' refused: registration is closed", c->peer,
		           nickname);
		return LS_HANDSHAKE_REG_CLOSED;
	}
	match = policy != LSD_REG_CODE ||
	        (want != NULL && code_matches(want, code, code_len));
	ls_wipe(code_buf, sizeof(code_buf));
	if (!match) {
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

static const ls_gost_key *
cb_identity(void *user_data)
{
	lsd_conn *c = user_data;

	return lsd_state_identity(c->srv);
}

void
lsd_auth_setup(lsd_server *srv)
{
	ls_handshake_server_config *h = &srv->hs_config;
	char word[16], code[LSD_REG_CODE_MAX + 1];

	memset(h, 0, sizeof(*h));
	h->identity = srv->identity;
	h->secret = srv->secret;
	h->secret_len = sizeof(srv->secret);
	h->lookup = cb_lookup;
	h->begin_attempt = cb_begin;
	h->record_success = cb_success;
	h->register_account = cb_register;
	h->current_identity = cb_identity;
	if (lsd_registration_get(srv->store, word, sizeof(word), code, sizeof(code)) == LS_OK)
		ls_info("registration policy '%s' from the store (set with ls11cloud-admin "
		        "registration): it overrides the configuration's",
		        word);
	ls_wipe(code, sizeof(code));
	/* A first guess of a counter write; the real writes correct it. */
	srv->attempt_cost_us = 2000;
}
