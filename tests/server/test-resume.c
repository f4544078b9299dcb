/*
 * Resumption after a network drop: the application (sessions, handles, login state) outlives
 * its connection for the lease; a new connection presents the resume token and carries on;
 * a request that was in flight at the drop is answered from the record and never run twice;
 * after the lease the application is gone; tokens serve once and only their own account.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "server-util.h"

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

TestSuite(resume, .init = setup, .fini = teardown);

#define PW "password of alice"
#define USER_PIN "123456"

static void
lease_new(ts_client *c, uint8_t token[LS_RPC_RESUME_TOKEN_SIZE], uint64_t *lease_ms)
{
	ls_rpc_msg *m = NULL;

	cr_assert_eq(TS_CALL0(c, LS_RPC_LeaseNew, &m), CKR_OK);
	memcpy(token, ls_rpc_msg_arg(m, 0, 'K')->bytes.ptr, LS_RPC_RESUME_TOKEN_SIZE);
	if (lease_ms != NULL)
		*lease_ms = ls_rpc_msg_arg(m, 1, 'u')->ul;
	ls_rpc_msg_free(m);
}

/* LeaseResume: the state, and the next token in @token. */
static CK_ULONG
lease_resume(ts_client *c, uint8_t token[LS_RPC_RESUME_TOKEN_SIZE])
{
	ls_rpc_msg *m = NULL;
	CK_ULONG state;

	cr_assert_eq(TS_CALL(c, LS_RPC_LeaseResume, &m, LS_RPC_RESUME_TOKEN(token)), CKR_OK);
	state = ls_rpc_msg_arg(m, 0, 'u')->ul;
	cr_assert_neq(memcmp(token, ls_rpc_msg_arg(m, 2, 'K')->bytes.ptr, LS_RPC_RESUME_TOKEN_SIZE),
	              0, "each token serves once: a new one comes back");
	memcpy(token, ls_rpc_msg_arg(m, 2, 'K')->bytes.ptr, LS_RPC_RESUME_TOKEN_SIZE);
	ls_rpc_msg_free(m);
	return state;
}

static CK_SESSION_HANDLE
logged_in_session(ts_client *c)
{
	CK_SESSION_HANDLE h;

	ts_init_token(c, USER_PIN);
	h = ts_open_session(c);
	cr_assert_eq(TS_CALL(c, LS_RPC_C_Login, NULL, LS_RPC_HANDLE(h), LS_RPC_ULONG(CKU_USER),
	                     LS_RPC_PIN(USER_PIN, 6)),
	             CKR_OK);
	return h;
}

static CK_STATE
session_state(ts_client *c, CK_SESSION_HANDLE h, CK_RV *rv)
{
	ls_rpc_msg *m = NULL;
	CK_STATE st = (CK_STATE)-1;

	*rv = TS_CALL(c, LS_RPC_C_GetSessionInfo, &m, LS_RPC_HANDLE(h));
	if (*rv == CKR_OK)
		st = ls_rpc_msg_arg(m, 0, 'S')->session_info->state;
	ls_rpc_msg_free(m);
	return st;
}

Test(resume, sessions_handles_and_login_survive_a_drop)
{
	uint8_t token[LS_RPC_RESUME_TOKEN_SIZE], sig[64];
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE h;
	uint64_t lease = 0;
	CK_RV rv;
	ts_client c;

	ts_add_user(&srv, "alice", PW, true);
	ts_start(&srv);
	ts_login_ok(&c, srv.port, "alice", PW);
	lease_new(&c, token, &lease);
	cr_assert_eq(lease, 60000, "the default lease is 60 s");
	h = logged_in_session(&c);
	ts_key_pair(&c, h, &pub, &priv);
	ts_drop(&c);
	usleep(200000); /* the server sees the drop and leases the application */

	ts_login_ok(&c, srv.port, "alice", PW);
	c.next_id = 1000;
	cr_assert_eq(lease_resume(&c, token), LS_RPC_LEASE_RESUMED);
	cr_assert_eq(session_state(&c, h, &rv), CKS_RW_USER_FUNCTIONS,
	             "the same session handle, still logged in");
	cr_assert_eq(ts_sign(&c, h, priv, "after the drop", 14, sig), CKR_OK);
	ts_verify_outside(&c, h, pub, "after the drop", 14, sig);

	/* Once more: the token returned by the last resumption works, the old one does not. */
	ts_drop(&c);
	usleep(200000);
	ts_login_ok(&c, srv.port, "alice", PW);
	c.next_id = 2000;
	cr_assert_eq(lease_resume(&c, token), LS_RPC_LEASE_RESUMED);
	cr_assert_eq(session_state(&c, h, &rv), CKS_RW_USER_FUNCTIONS);
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(resume, a_request_in_flight_at_the_drop_runs_once)
{
	uint8_t token[LS_RPC_RESUME_TOKEN_SIZE];
	CK_OBJECT_CLASS data = CKO_DATA;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &data, sizeof(data) },
		{ CKA_LABEL, "once", 4 },
	};
	CK_ATTRIBUTE find[] = { { CKA_LABEL, "once", 4 } };
	const ls_rpc_value args[] = { LS_RPC_HANDLE(0), LS_RPC_TEMPLATE(t, 2) };
	ls_rpc_value a[2];
	CK_SESSION_HANDLE h;
	ls_rpc_msg *m = NULL, *again = NULL;
	ts_client c;

	ts_add_user(&srv, "alice", PW, true);
	ts_start(&srv);
	ts_login_ok(&c, srv.port, "alice", PW);
	lease_new(&c, token, NULL);
	h = logged_in_session(&c);
	memcpy(a, args, sizeof(a));
	a[0] = LS_RPC_HANDLE(h);
	/* The request goes out; the connection dies before its answer is read. */
	ts_send_request(&c, LS_RPC_C_CreateObject, 500, a, 2);
	usleep(300000);
	ts_drop(&c);
	usleep(200000);

	ts_login_ok(&c, srv.port, "alice", PW);
	c.next_id = 501;
	cr_assert_eq(lease_resume(&c, token), LS_RPC_LEASE_RESUMED);
	/* The module sends the unanswered request again, with its request id. */
	ts_send_request(&c, LS_RPC_C_CreateObject, 500, a, 2);
	cr_assert_eq(ts_recv_response(&c, LS_RPC_C_CreateObject, &again), LS_OK);
	cr_assert_eq(ls_rpc_msg_request_id(again), 500);
	cr_assert_eq(ls_rpc_msg_rv(again), CKR_OK);
	/* And once more on the same connection: the same answer, the same handle. */
	ts_send_request(&c, LS_RPC_C_CreateObject, 500, a, 2);
	cr_assert_eq(ts_recv_response(&c, LS_RPC_C_CreateObject, &m), LS_OK);
	cr_assert_eq(ls_rpc_msg_arg(m, 0, 'h')->ul, ls_rpc_msg_arg(again, 0, 'h')->ul);
	ls_rpc_msg_free(m);
	ls_rpc_msg_free(again);

	cr_assert_eq(TS_CALL(&c, LS_RPC_C_FindObjectsInit, &m, LS_RPC_HANDLE(h),
	                     LS_RPC_TEMPLATE(find, 1), LS_RPC_ULONG(16)),
	             CKR_OK);
	cr_assert_eq(ls_rpc_msg_arg(m, 0, 'U')->ulongs.n, 1,
	             "the object exists once: the request was not run twice");
	ls_rpc_msg_free(m);
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(resume, after_the_lease_the_application_is_gone)
{
	const char *extra[] = { "--resume-lease", "1", NULL };
	uint8_t token[LS_RPC_RESUME_TOKEN_SIZE];
	CK_SESSION_HANDLE h;
	uint64_t lease = 0;
	CK_RV rv;
	ts_client c;

	ts_add_user(&srv, "alice", PW, true);
	ts_start_args(&srv, extra);
	ts_login_ok(&c, srv.port, "alice", PW);
	lease_new(&c, token, &lease);
	cr_assert_eq(lease, 1000);
	h = logged_in_session(&c);
	ts_drop(&c);
	usleep(2600000);

	ts_login_ok(&c, srv.port, "alice", PW);
	cr_assert_eq(lease_resume(&c, token), LS_RPC_LEASE_EXPIRED);
	session_state(&c, h, &rv);
	cr_assert_eq(rv, CKR_SESSION_HANDLE_INVALID, "a new application: the old handles are gone");
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(resume, tokens_are_bound_to_their_account_and_to_a_lease)
{
	uint8_t token[LS_RPC_RESUME_TOKEN_SIZE], stale[LS_RPC_RESUME_TOKEN_SIZE];
	uint8_t random_token[LS_RPC_RESUME_TOKEN_SIZE], copy[LS_RPC_RESUME_TOKEN_SIZE];
	CK_SESSION_HANDLE h;
	CK_RV rv;
	ts_client c, b;

	ts_add_user(&srv, "alice", PW, true);
	ts_add_user(&srv, "bob", "password of bob", true);
	ts_start(&srv);
	ts_login_ok(&c, srv.port, "alice", PW);
	lease_new(&c, token, NULL);
	memcpy(stale, token, sizeof(token));
	h = logged_in_session(&c);
	ts_drop(&c);
	usleep(200000);

	/* Bob holds alice's token: it means nothing for bob's account. */
	memcpy(copy, token, sizeof(token));
	ts_login_ok(&b, srv.port, "bob", "password of bob");
	cr_assert_eq(lease_resume(&b, copy), LS_RPC_LEASE_EXPIRED);
	ts_close(&b);

	/* A token nobody issued. */
	memset(random_token, 0x5a, sizeof(random_token));
	ts_login_ok(&c, srv.port, "alice", PW);
	cr_assert_eq(lease_resume(&c, random_token), LS_RPC_LEASE_EXPIRED);
	ts_close(&c);

	/* Alice's own token still works after bob's try, once. */
	ts_login_ok(&c, srv.port, "alice", PW);
	c.next_id = 100;
	cr_assert_eq(lease_resume(&c, token), LS_RPC_LEASE_RESUMED);
	cr_assert_eq(session_state(&c, h, &rv), CKS_RW_USER_FUNCTIONS);
	ts_drop(&c);
	usleep(200000);
	ts_login_ok(&c, srv.port, "alice", PW);
	cr_assert_eq(lease_resume(&c, stale), LS_RPC_LEASE_EXPIRED, "a used token is spent");
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(resume, a_connection_not_yet_seen_dead_loses_its_application_to_the_resumption)
{
	uint8_t token[LS_RPC_RESUME_TOKEN_SIZE];
	ls_rpc_msg *m = NULL;
	CK_SESSION_HANDLE h;
	CK_RV rv;
	ts_client old, c;

	ts_add_user(&srv, "alice", PW, true);
	ts_start(&srv);
	ts_login_ok(&old, srv.port, "alice", PW);
	lease_new(&old, token, NULL);
	h = logged_in_session(&old);

	/* The client believes the old connection dead and reconnects; the server does not know. */
	ts_login_ok(&c, srv.port, "alice", PW);
	c.next_id = 100;
	cr_assert_eq(lease_resume(&c, token), LS_RPC_LEASE_RESUMED);
	cr_assert_eq(session_state(&c, h, &rv), CKS_RW_USER_FUNCTIONS);
	cr_assert_eq(TS_CALL0(&old, LS_RPC_C_GetTokenInfo, &m), CKR_DEVICE_REMOVED);
	ls_rpc_msg_free(m);
	ts_close(&old);
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(resume, without_a_lease_token_the_application_ends_with_its_connection)
{
	uint8_t token[LS_RPC_RESUME_TOKEN_SIZE];
	CK_SESSION_HANDLE h;
	CK_RV rv;
	ts_client c;

	ts_add_user(&srv, "alice", PW, true);
	ts_start(&srv);
	ts_login_ok(&c, srv.port, "alice", PW);
	h = logged_in_session(&c);
	ts_drop(&c);
	usleep(200000);
	ts_login_ok(&c, srv.port, "alice", PW);
	memset(token, 0, sizeof(token));
	cr_assert_eq(lease_resume(&c, token), LS_RPC_LEASE_EXPIRED);
	session_state(&c, h, &rv);
	cr_assert_eq(rv, CKR_SESSION_HANDLE_INVALID);
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}
