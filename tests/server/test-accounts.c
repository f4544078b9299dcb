/*
 * Accounts end to end: ls11cloud-admin against the state directory (also while the server
 * runs), the SESPAKE login through core/handshake.h's client driver, unknown nicknames that
 * look like wrong passwords, the RFC 8133 counters that lock an account, per-source
 * throttling, the "must change password" state, registration under each policy, and the
 * audit log read over the channel.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "server-util.h"

#include <pthread.h>

static ts_server srv;

static void
setup(void)
{
	ts_prepare(&srv);
}

static void
teardown(void)
{
	ts_cleanup(&srv);
}

TestSuite(accounts, .init = setup, .fini = teardown);

static void
write_pw(const char *name, const char *pw, char *path, size_t size)
{
	FILE *f;

	snprintf(path, size, "%s/%s", srv.dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(pw, f);
	fclose(f);
}

Test(accounts, admin_add_list_show_delete)
{
	char out[4096], pw[128], shortpw[128];
	const char *list[] = { "user", "list", NULL };
	const char *show[] = { "user", "show", "alice", NULL };
	const char *del[] = { "user", "delete", "alice", NULL };
	const char *show_gone[] = { "user", "show", "nobody", NULL };

	write_pw("pw", "initial password\n", pw, sizeof(pw));
	write_pw("short", "abc\n", shortpw, sizeof(shortpw));
	{
		const char *add[] = { "user", "add", "alice", "--password-file", pw, NULL };
		const char *bad_nick[] = { "user", "add", "al ice", "--password-file", pw, NULL };
		const char *bad_pw[] = { "user", "add", "bob", "--password-file", shortpw, NULL };
		const char *no_pw[] = { "user", "add", "bob", NULL };

		cr_assert_eq(ts_admin(&srv, out, sizeof(out), add), 0, "%s", out);
		cr_assert(strstr(out, "must be changed") != NULL, "%s", out);
		cr_assert_eq(ts_admin(&srv, out, sizeof(out), add), 1);
		cr_assert(strstr(out, "'alice' is taken") != NULL, "%s", out);
		cr_assert_eq(ts_admin(&srv, out, sizeof(out), bad_nick), 1);
		cr_assert(strstr(out, "the character ' ' at position 3 is not allowed") != NULL,
		          "%s", out);
		cr_assert_eq(ts_admin(&srv, out, sizeof(out), bad_pw), 1);
		cr_assert(strstr(out, "shorter than 6") != NULL, "%s", out);
		cr_assert_eq(ts_admin(&srv, out, sizeof(out), no_pw), 2);
		cr_assert(strstr(out, "--password-file") != NULL, "%s", out);
	}
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), list), 0, "%s", out);
	cr_assert(strstr(out, "alice") != NULL && strstr(out, "must-change-password") != NULL,
	          "%s", out);
	cr_assert(strstr(out, "bob") == NULL, "%s", out);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), show), 0, "%s", out);
	cr_assert(strstr(out, "C1=3 C2=7 C3=10000") != NULL, "%s", out);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), show_gone), 1);
	cr_assert(strstr(out, "no account 'nobody'") != NULL, "%s", out);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), del), 0, "%s", out);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), list), 0, "%s", out);
	cr_assert(strstr(out, "alice") == NULL, "%s", out);
}

Test(accounts, unknown_nickname_fails_exactly_like_a_wrong_password)
{
	ts_client c;
	char out[8192];
	const char *log[] = { "user", "log", "alice", NULL };

	ts_add_user(&srv, "alice", "correct horse", true);
	ts_start(&srv);
	cr_assert_eq(ts_login(&c, srv.port, "alice", "wrong horse"), LS_ERR_AUTH_FAILED);
	cr_assert_eq(c.reason, LS_HS_AUTH_FAILED);
	ts_close(&c);
	cr_assert_eq(ts_login(&c, srv.port, "mallory", "wrong horse"), LS_ERR_AUTH_FAILED);
	cr_assert_eq(c.reason, LS_HS_AUTH_FAILED, "the client cannot tell the two apart: %s",
	             ls_handshake_reason_string(c.reason));
	ts_close(&c);
	ts_login_ok(&c, srv.port, "alice", "correct horse");
	cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetTokenInfo, NULL), CKR_OK);
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);

	cr_assert_eq(ts_admin(&srv, out, sizeof(out), log), 0, "%s", out);
	cr_assert(strstr(out, "auth-failed") != NULL, "the wrong password is audited: %s", out);
	cr_assert(strstr(out, "connect") != NULL && strstr(out, "from 127.0.0.1") != NULL, "%s",
	          out);
	cr_assert(strstr(out, "disconnect") != NULL, "%s", out);
}

Test(accounts, admin_works_while_the_server_runs)
{
	ts_client c;

	ts_start(&srv);
	cr_assert_neq(ts_login(&c, srv.port, "carol", "carol's password"), LS_OK);
	ts_close(&c);
	ts_add_user(&srv, "carol", "carol's password", true);
	ts_login_ok(&c, srv.port, "carol", "carol's password");
	cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetTokenInfo, NULL), CKR_OK);
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(accounts, counters_lock_the_account_until_unlocked)
{
	ts_client c;
	char out[4096];
	const char *show[] = { "user", "show", "alice", NULL };
	const char *unlock[] = { "user", "unlock", "alice", NULL };
	int i;

	ts_add_user(&srv, "alice", "correct horse", true);
	ts_start(&srv);
	for (i = 0; i < 3; i++) { /* CLim1 = 3 consecutive failures */
		cr_assert_eq(ts_login(&c, srv.port, "alice", "wrong"), LS_ERR_AUTH_FAILED);
		ts_close(&c);
	}
	cr_assert_eq(ts_login(&c, srv.port, "alice", "correct horse"), LS_ERR_AUTH_FAILED,
	             "locked: even the right password fails, and looks like a wrong one");
	cr_assert_eq(c.reason, LS_HS_AUTH_FAILED);
	ts_close(&c);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), show), 0, "%s", out);
	cr_assert(strstr(out, "locked") != NULL, "%s", out);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), unlock), 0, "%s", out);
	ts_login_ok(&c, srv.port, "alice", "correct horse");
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

/* Concurrent logins: one thread each, released together by a barrier. */
#define BURST 8

struct burst {
	pthread_barrier_t *go;
	const char *password;
	int rounds;
	int failures;
};

static void *
burst_thread(void *arg)
{
	struct burst *b = arg;
	ts_client c;
	int i;

	for (i = 0; i < b->rounds; i++) {
		pthread_barrier_wait(b->go);
		if (ts_login(&c, srv.port, "alice", b->password) != LS_OK)
			b->failures++;
		ts_close(&c);
	}
	return NULL;
}

static int
burst(const char *password, int rounds)
{
	pthread_barrier_t go;
	pthread_t th[BURST];
	struct burst b[BURST];
	int i, failures = 0;

	pthread_barrier_init(&go, NULL, BURST);
	for (i = 0; i < BURST; i++) {
		b[i] = (struct burst){ .go = &go, .password = password, .rounds = rounds };
		cr_assert_eq(pthread_create(&th[i], NULL, burst_thread, &b[i]), 0);
	}
	for (i = 0; i < BURST; i++) {
		pthread_join(th[i], NULL);
		failures += b[i].failures;
	}
	pthread_barrier_destroy(&go);
	return failures;
}

Test(accounts, concurrent_logins_of_one_account_do_not_lock_it)
{
	char out[4096];
	const char *show[] = { "user", "show", "alice", NULL };
	ts_client c;

	/* C1 = 3: eight applications of one user logging in at once must not look like three
	 * failures in a row, whatever order the server counts them in. */
	ts_add_user(&srv, "alice", "correct horse", true);
	ts_start(&srv);
	cr_assert_eq(burst("correct horse", 4), 0, "every concurrent login succeeds");
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), show), 0, "%s", out);
	cr_assert(strstr(out, "state:           active") != NULL, "%s", out);
	cr_assert(strstr(out, "C1=3 C2=7") != NULL, "the counters are back: %s", out);
	ts_login_ok(&c, srv.port, "alice", "correct horse");
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(accounts, a_concurrent_guessing_burst_still_locks_the_account)
{
	char out[4096];
	const char *show[] = { "user", "show", "alice", NULL };
	ts_client c;

	ts_add_user(&srv, "alice", "correct horse", true);
	ts_start(&srv);
	cr_assert_eq(burst("wrong guess", 1), BURST, "every guess fails");
	/* The attempts past the exhausted counter only waited for the others' outcome: once all
	 * have failed, the account locks, and the right password no longer opens it. */
	cr_assert_eq(ts_login(&c, srv.port, "alice", "correct horse"), LS_ERR_AUTH_FAILED);
	ts_close(&c);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), show), 0, "%s", out);
	cr_assert(strstr(out, "state:           locked") != NULL, "%s", out);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(accounts, a_source_that_fails_too_often_is_throttled)
{
	const char *extra[] = { "--throttle-failures", "3", "--throttle-window", "60", NULL };
	ts_client c;
	int i;

	ts_add_user(&srv, "alice", "correct horse", true);
	ts_start_args(&srv, extra);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(ts_login(&c, srv.port, "nobody", "guess"), LS_ERR_AUTH_FAILED);
		ts_close(&c);
	}
	cr_assert_neq(ts_login(&c, srv.port, "alice", "correct horse"), LS_OK);
	cr_assert_eq(c.reason, LS_HS_PEER_BUSY, "refused before any SESPAKE: %s",
	             ls_handshake_reason_string(c.reason));
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

/*
 * A login held half-way: the server has counted it (RFC 8133 step 2 comes before u2) and
 * waits for MAC_A, which the test sends when it chooses - the attempts of a guesser who keeps
 * some in flight, or of applications that log in at the same moment.
 */
typedef struct {
	ls_transport *t;
	ls_handshake *hs;
	ls_buf mac_a;
} half_login;

static void
half_begin(half_login *h, const char *password)
{
	ls_handshake_client_params p;
	ls_buf in;
	bool done = false;
	int i;

	memset(&p, 0, sizeof(p));
	p.purpose = LS_HANDSHAKE_SESSION;
	p.nickname = "alice";
	p.password = password;
	p.password_len = strlen(password);
	h->t = ts_connect(srv.port);
	cr_assert_eq(ls_handshake_client_new(&p, &h->hs), LS_OK);
	ls_buf_init(&h->mac_a, LS_HANDSHAKE_MAX_MESSAGE);
	ls_buf_init(&in, ls_transport_max_frame(h->t));
	cr_assert_eq(ls_handshake_step(h->hs, NULL, 0, &h->mac_a, &done), LS_OK); /* hello */
	for (i = 0; i < 2; i++) { /* server hello -> u1; u2 (the attempt is counted) -> MAC_A */
		cr_assert_eq(ls_transport_send(h->t, ls_buf_data(&h->mac_a), ls_buf_len(&h->mac_a),
		                               TS_TIMEOUT_MS),
		             LS_OK);
		cr_assert_eq(ls_transport_recv(h->t, &in, TS_TIMEOUT_MS), LS_OK);
		cr_assert_eq(ls_handshake_step(h->hs, ls_buf_data(&in), ls_buf_len(&in), &h->mac_a,
		                               &done),
		             LS_OK, "%s", ls_handshake_reason_string(ls_handshake_get_reason(h->hs)));
		cr_assert(!done);
	}
	ls_buf_clear(&in);
}

/* Sends the held MAC_A and runs the handshake to its end; returns its status. */
static int
half_finish(half_login *h)
{
	int r;

	cr_assert_eq(ls_transport_send(h->t, ls_buf_data(&h->mac_a), ls_buf_len(&h->mac_a),
	                               TS_TIMEOUT_MS),
	             LS_OK);
	r = ls_handshake_client_run(h->hs, h->t, TS_TIMEOUT_MS);
	ls_buf_clear(&h->mac_a);
	ls_handshake_free(h->hs);
	ls_transport_free(h->t);
	return r;
}

static bool
alice_is(const char *state)
{
	const char *show[] = { "user", "show", "alice", NULL };
	char out[4096], want[64];

	cr_assert_eq(ts_admin(&srv, out, sizeof(out), show), 0, "%s", out);
	snprintf(want, sizeof(want), "state:           %s", state);
	return strstr(out, want) != NULL;
}

Test(accounts, a_guesser_keeping_one_attempt_in_flight_is_still_counted)
{
	half_login h[12];
	int i;

	/* Each guess starts before the previous one has failed.  Three of them take C1 (3) to 0;
	 * the next may wait for the third's outcome, uncounted, but once the third has failed
	 * nothing counted is in flight, and the account locks - even though an attempt of the
	 * guesser is always in flight. */
	ts_add_user(&srv, "alice", "correct horse", true);
	ts_start(&srv);
	half_begin(&h[0], "wrong 0");
	for (i = 1; i < 12; i++) {
		char guess[32];

		snprintf(guess, sizeof(guess), i == 11 ? "correct horse" : "wrong %d", i);
		half_begin(&h[i], guess);
		cr_assert_eq(half_finish(&h[i - 1]), LS_ERR_AUTH_FAILED, "guess %d", i - 1);
	}
	cr_assert_eq(half_finish(&h[11]), LS_ERR_AUTH_FAILED,
	             "the right password after the counter ran out: refused");
	cr_assert(alice_is("locked"));
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(accounts, attempts_past_an_exhausted_counter_are_capped_while_others_hang)
{
	half_login held[3], h;
	ts_client c;
	int i;

	/* Three guesses take C1 to 0 and are kept in flight (up to the handshake timeout).  The
	 * attempts that may run meanwhile uncounted are capped (LSD_ATTEMPT_OVERLAP_MAX, 8): the
	 * ninth is counted, finds the counter at 0 and locks, right password or not. */
	ts_add_user(&srv, "alice", "correct horse", true);
	ts_start(&srv);
	for (i = 0; i < 3; i++)
		half_begin(&held[i], "wrong");
	for (i = 0; i < 8; i++) {
		half_begin(&h, "still wrong");
		cr_assert_eq(half_finish(&h), LS_ERR_AUTH_FAILED);
	}
	cr_assert(alice_is("active"), "not locked while the first three may still succeed");
	cr_assert_eq(ts_login(&c, srv.port, "alice", "correct horse"), LS_ERR_AUTH_FAILED,
	             "the ninth: counted, and the counter is at 0");
	ts_close(&c);
	cr_assert(alice_is("locked"));
	for (i = 0; i < 3; i++)
		cr_assert_eq(half_finish(&held[i]), LS_ERR_AUTH_FAILED);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(accounts, applications_logging_in_together_past_the_counter_all_get_in)
{
	half_login held[3];
	ts_client c;
	int i;

	/* The user's own applications: three take C1 to 0 and are still in flight when a fourth
	 * logs in - it waits on their outcome uncounted, and gets in; so do they. */
	ts_add_user(&srv, "alice", "correct horse", true);
	ts_start(&srv);
	for (i = 0; i < 3; i++)
		half_begin(&held[i], "correct horse");
	ts_login_ok(&c, srv.port, "alice", "correct horse");
	ts_close(&c);
	for (i = 0; i < 3; i++)
		cr_assert_eq(half_finish(&held[i]), LS_OK);
	cr_assert(alice_is("active"));
	cr_assert_eq(ts_stop(&srv), 0);
}

static ls_sespake_verifier
verifier_of(const char *pw)
{
	ls_sespake_verifier v;

	cr_assert_eq(ls_sespake_verifier_make(LS_HANDSHAKE_DEFAULT_CURVE, LS_HANDSHAKE_DEFAULT_IND,
	                                      NULL, 32, pw, strlen(pw), &v),
	             LS_OK);
	return v;
}

Test(accounts, must_change_password_allows_only_the_change)
{
	ls_sespake_verifier v = verifier_of("my own password");
	ls_rpc_msg *m = NULL;
	const ls_rpc_value *st;
	ts_client c;

	ts_add_user(&srv, "alice", "given by admin", false);
	ts_start(&srv);
	ts_login_ok(&c, srv.port, "alice", "given by admin");
	cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetTokenInfo, NULL), CKR_PIN_EXPIRED);
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_OpenSession, NULL, LS_RPC_ULONG(CKF_SERIAL_SESSION)),
	             CKR_PIN_EXPIRED);
	cr_assert_eq(TS_CALL0(&c, LS_RPC_LeaseNew, NULL), CKR_PIN_EXPIRED);
	cr_assert_eq(TS_CALL0(&c, LS_RPC_AccountStatus, &m), CKR_OK);
	st = ls_rpc_msg_arg(m, 0, 'Z');
	cr_assert_str_eq(st->status->nickname, "alice");
	cr_assert(st->status->flags & LS_RPC_ACCOUNT_PASSWORD_MUST_CHANGE);
	ls_rpc_msg_free(m);
	cr_assert_eq(TS_CALL(&c, LS_RPC_AccountChangePassword, NULL, LS_RPC_VERIFIER(&v)), CKR_OK);
	cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetTokenInfo, NULL), CKR_OK,
	             "once changed, the same connection may do everything");
	ts_close(&c);

	cr_assert_eq(ts_login(&c, srv.port, "alice", "given by admin"), LS_ERR_AUTH_FAILED);
	ts_close(&c);
	ts_login_ok(&c, srv.port, "alice", "my own password");
	cr_assert_eq(TS_CALL0(&c, LS_RPC_AccountStatus, &m), CKR_OK);
	st = ls_rpc_msg_arg(m, 0, 'Z');
	cr_assert_eq(st->status->flags & LS_RPC_ACCOUNT_PASSWORD_MUST_CHANGE, 0);
	cr_assert_eq(st->status->connections, 1);
	cr_assert_str_eq(st->status->last_login_from, "127.0.0.1");
	ls_rpc_msg_free(m);
	/* A broken verifier is refused and changes nothing. */
	v.ind = 9;
	cr_assert_eq(TS_CALL(&c, LS_RPC_AccountChangePassword, NULL, LS_RPC_VERIFIER(&v)),
	             CKR_ARGUMENTS_BAD);
	ts_close(&c);
	ts_login_ok(&c, srv.port, "alice", "my own password");
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(accounts, registration_closed_by_default)
{
	ls_handshake_reason why;
	ts_client c;

	ts_start(&srv);
	cr_assert_neq(ts_register(srv.port, "newbie", "newbie's password", NULL, &why), LS_OK);
	cr_assert_eq(why, LS_HS_REGISTRATION_CLOSED, "%s", ls_handshake_reason_string(why));
	cr_assert_neq(ts_login(&c, srv.port, "newbie", "newbie's password"), LS_OK);
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(accounts, registration_open)
{
	const char *extra[] = { "--registration", "open", NULL };
	ls_handshake_reason why;
	ts_client c;

	ts_start_args(&srv, extra);
	cr_assert_eq(ts_register(srv.port, "newbie", "newbie's password", NULL, &why), LS_OK,
	             "%s", ls_handshake_reason_string(why));
	cr_assert_neq(ts_register(srv.port, "newbie", "another password", NULL, &why), LS_OK);
	cr_assert_eq(why, LS_HS_NICKNAME_TAKEN, "%s", ls_handshake_reason_string(why));
	ts_login_ok(&c, srv.port, "newbie", "newbie's password");
	cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetTokenInfo, NULL), CKR_OK,
	             "a registered account is active at once");
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(accounts, registration_by_code)
{
	ls_handshake_reason why;
	ts_client c;

	ts_config(&srv, "registration = code\nregistration-code = let me in\n");
	ts_start(&srv);
	cr_assert_neq(ts_register(srv.port, "newbie", "newbie's password", NULL, &why), LS_OK);
	cr_assert_eq(why, LS_HS_REGISTRATION_CODE, "%s", ls_handshake_reason_string(why));
	cr_assert_neq(ts_register(srv.port, "newbie", "newbie's password", "let me", &why), LS_OK);
	cr_assert_eq(why, LS_HS_REGISTRATION_CODE, "a prefix of the code is not the code");
	cr_assert_eq(ts_register(srv.port, "newbie", "newbie's password", "let me in", &why), LS_OK,
	             "%s", ls_handshake_reason_string(why));
	ts_login_ok(&c, srv.port, "newbie", "newbie's password");
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

/* ls11cloud-admin registration: the store's policy wins over the file, at the next attempt. */
Test(accounts, registration_policy_from_the_store_while_running)
{
	const char *open_[] = { "registration", "open", NULL };
	const char *code[] = { "registration", "code", "store code", NULL };
	const char *closed[] = { "registration", "closed", NULL };
	const char *dflt[] = { "registration", "default", NULL };
	char out[1024];
	ls_handshake_reason why;

	ts_config(&srv, "registration = code\nregistration-code = file code\n");
	ts_start(&srv);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), open_), 0, "%s", out);
	cr_assert_eq(ts_register(srv.port, "reg-a", "reg-a's password", NULL, &why), LS_OK,
	             "open: no code needed (%s)", ls_handshake_reason_string(why));
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), code), 0, "%s", out);
	cr_assert_neq(ts_register(srv.port, "reg-b", "reg-b's password", "file code", &why), LS_OK);
	cr_assert_eq(why, LS_HS_REGISTRATION_CODE, "the file's code is not the store's");
	cr_assert_eq(ts_register(srv.port, "reg-b", "reg-b's password", "store code", &why), LS_OK,
	             "%s", ls_handshake_reason_string(why));
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), closed), 0, "%s", out);
	cr_assert_neq(ts_register(srv.port, "reg-c", "reg-c's password", "store code", &why),
	              LS_OK);
	cr_assert_eq(why, LS_HS_REGISTRATION_CLOSED, "%s", ls_handshake_reason_string(why));
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), dflt), 0, "%s", out);
	cr_assert_eq(ts_register(srv.port, "reg-c", "reg-c's password", "file code", &why), LS_OK,
	             "the file's policy again: %s", ls_handshake_reason_string(why));
	cr_assert_eq(ts_stop(&srv), 0);
}

/* ls11cloud-admin token wipe of a token in use: the server stops serving the old token. */
Test(accounts, token_wipe_while_the_token_is_open)
{
	const char *wipe[] = { "token", "wipe", "erin", NULL };
	const char *show[] = { "user", "show", "erin", NULL };
	const CK_TOKEN_INFO *ti;
	ls_rpc_msg *m = NULL;
	char out[2048];
	ts_client c, d;
	CK_RV rv = CKR_OK;
	int i;

	ts_start(&srv);
	ts_add_user(&srv, "erin", "erin's password", true);
	ts_login_ok(&c, srv.port, "erin", "erin's password");
	ts_init_token(&c, "123456");
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), wipe), 0, "%s", out);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), show), 0, "%s", out);
	cr_assert(strstr(out, "not initialized, 0 objects") != NULL, "%s", out);
	/* The open connection: answered from the old token until the server notices (~1 s). */
	for (i = 0; i < 50; i++) {
		rv = TS_CALL0(&c, LS_RPC_C_GetTokenInfo, NULL);
		if (rv != CKR_OK)
			break;
		usleep(100000);
	}
	cr_assert_eq(rv, CKR_DEVICE_REMOVED, "rv 0x%lx after %d tries", (unsigned long)rv, i);
	ts_close(&c);
	/* A new login gets the new, uninitialised token. */
	ts_login_ok(&d, srv.port, "erin", "erin's password");
	cr_assert_eq(TS_CALL0(&d, LS_RPC_C_GetTokenInfo, &m), CKR_OK);
	ti = ls_rpc_msg_arg(m, 0, 'I')->token_info;
	cr_assert_eq(ti->flags & CKF_TOKEN_INITIALIZED, 0, "the wiped token is uninitialised");
	ls_rpc_msg_free(m);
	ts_init_token(&d, "654321");
	ts_close(&d);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(accounts, audit_log_over_the_channel_pages_forward)
{
	ls_rpc_msg *m = NULL;
	const ls_rpc_value *e, *next, *more;
	ts_client c, bad;
	uint64_t seq = 0;
	bool seen_created = false, seen_failure = false;
	int pages = 0;

	ts_add_user(&srv, "alice", "correct horse", true);
	ts_start(&srv);
	cr_assert_neq(ts_login(&bad, srv.port, "alice", "wrong"), LS_OK);
	ts_close(&bad);
	ts_login_ok(&c, srv.port, "alice", "correct horse");
	do {
		cr_assert_eq(TS_CALL(&c, LS_RPC_AccountReadLog, &m, LS_RPC_ULONG(seq), LS_RPC_ULONG(1)),
		             CKR_OK);
		e = ls_rpc_msg_arg(m, 0, 'E');
		next = ls_rpc_msg_arg(m, 1, 'u');
		more = ls_rpc_msg_arg(m, 2, 'b');
		cr_assert_leq(e->log.n, 1);
		if (e->log.n == 1) {
			cr_assert_geq(e->log.v[0].seq, seq);
			if (e->log.v[0].event == 1) /* created */
				seen_created = true;
			if (e->log.v[0].event == 4) { /* auth-failed */
				seen_failure = true;
				cr_assert(strstr(e->log.v[0].text, "from 127.0.0.1") != NULL, "%s",
				          e->log.v[0].text);
			}
			cr_assert_gt(e->log.v[0].time, 0);
		}
		seq = next->ul;
		pages++;
		bool go_on = more->b;
		ls_rpc_msg_free(m);
		if (!go_on)
			break;
	} while (pages < 50);
	cr_assert_geq(pages, 3, "created, auth-failed, connect: one page each");
	cr_assert(seen_created && seen_failure);
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}
