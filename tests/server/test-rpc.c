/*
 * The PKCS#11 API through ls11cloudd: every call is decoded, dispatched into the account's
 * token and answered.  A GOST key made and used on the server verifies with core's own code;
 * accounts and applications are isolated; limits answer with their error; hostile input of
 * every kind gets an error or a closed connection while a well-behaved client, in parallel,
 * keeps signing without a single failure.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pthread.h>

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

TestSuite(rpc, .init = setup, .fini = teardown);

#define USER_PIN "123456"

/* A logged-in user session on an initialised token, with a key pair. */
static CK_SESSION_HANDLE
ready(ts_client *c, const char *nick, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_SESSION_HANDLE h;

	ts_add_user(&srv, nick, "password of " "someone", true);
	ts_login_ok(c, srv.port, nick, "password of someone");
	ts_init_token(c, USER_PIN);
	h = ts_open_session(c);
	cr_assert_eq(TS_CALL(c, LS_RPC_C_Login, NULL, LS_RPC_HANDLE(h), LS_RPC_ULONG(CKU_USER),
	                     LS_RPC_PIN(USER_PIN, 6)),
	             CKR_OK);
	if (pub != NULL)
		ts_key_pair(c, h, pub, priv);
	return h;
}

Test(rpc, keygen_sign_verify_end_to_end)
{
	static const char msg[] = "a document to sign";
	CK_MECHANISM sm = { CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0 };
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE h;
	CK_ULONG sig_len = 0;
	CK_ULONG i;
	uint8_t sig[64], sig2[64];
	ls_rpc_msg *m = NULL;
	const ls_rpc_value *v;
	bool has_keygen = false;
	ts_client c;

	ts_start(&srv);
	h = ready(&c, "alice", &pub, &priv);

	/* The fast path: init and sign in one round trip. */
	cr_assert_eq(ts_sign(&c, h, priv, msg, strlen(msg), sig), CKR_OK);
	ts_verify_outside(&c, h, pub, msg, strlen(msg), sig);

	/* The classic way: length query, then the signature. */
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_SignInit, NULL, LS_RPC_HANDLE(h), LS_RPC_MECHANISM(&sm),
	                     LS_RPC_HANDLE(priv)),
	             CKR_OK);
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_Sign, &m, LS_RPC_HANDLE(h), LS_RPC_BYTES(msg, strlen(msg)),
	                     LS_RPC_OUT(NULL, 0)),
	             CKR_OK);
	cr_assert_eq(ls_rpc_output_deliver(ls_rpc_msg_arg(m, 0, 'O'), CKR_OK, NULL, &sig_len),
	             CKR_OK);
	cr_assert_eq(sig_len, 64);
	ls_rpc_msg_free(m);
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_Sign, &m, LS_RPC_HANDLE(h), LS_RPC_BYTES(msg, strlen(msg)),
	                     LS_RPC_OUT(sig2, 64)),
	             CKR_OK);
	cr_assert_eq(ls_rpc_output_deliver(ls_rpc_msg_arg(m, 0, 'O'), CKR_OK, sig2, &sig_len),
	             CKR_OK);
	ls_rpc_msg_free(m);
	ts_verify_outside(&c, h, pub, msg, strlen(msg), sig2);

	/* The server verifies too, and refuses a changed message. */
	cr_assert_eq(TS_CALL(&c, LS_RPC_VerifyOneShot, NULL, LS_RPC_HANDLE(h), LS_RPC_MECHANISM(&sm),
	                     LS_RPC_HANDLE(pub), LS_RPC_BYTES(msg, strlen(msg)),
	                     LS_RPC_BYTES(sig, 64)),
	             CKR_OK);
	cr_assert_eq(TS_CALL(&c, LS_RPC_VerifyOneShot, NULL, LS_RPC_HANDLE(h), LS_RPC_MECHANISM(&sm),
	                     LS_RPC_HANDLE(pub), LS_RPC_BYTES("another", 7), LS_RPC_BYTES(sig, 64)),
	             CKR_SIGNATURE_INVALID);

	/* The mechanism list is not filtered: GOST key generation is in it. */
	cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetMechanismList, &m), CKR_OK);
	v = ls_rpc_msg_arg(m, 0, 'U');
	for (i = 0; i < v->ulongs.n; i++)
		has_keygen |= v->ulongs.v[i] == CKM_GOSTR3410_KEY_PAIR_GEN;
	cr_assert(has_keygen);
	cr_assert_gt(v->ulongs.n, 10);
	ls_rpc_msg_free(m);
	cr_assert_eq(TS_CALL0(&c, LS_RPC_GetMechanismInfoAll, &m), CKR_OK);
	cr_assert_gt(ls_rpc_msg_arg(m, 0, 'W')->mechs.n, 10);
	ls_rpc_msg_free(m);

	/* Find with the first handles in the reply; a search that fits is over already. */
	{
		CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
		CK_ATTRIBUTE t = { CKA_CLASS, &cls, sizeof(cls) };

		cr_assert_eq(TS_CALL(&c, LS_RPC_C_FindObjectsInit, &m, LS_RPC_HANDLE(h),
		                     LS_RPC_TEMPLATE(&t, 1), LS_RPC_ULONG(16)),
		             CKR_OK);
		v = ls_rpc_msg_arg(m, 0, 'U');
		cr_assert_eq(v->ulongs.n, 1);
		cr_assert_eq(v->ulongs.v[0], priv);
		cr_assert_eq(ls_rpc_msg_arg(m, 1, 'b')->b, CK_TRUE);
		ls_rpc_msg_free(m);
		cr_assert_eq(TS_CALL(&c, LS_RPC_C_FindObjects, NULL, LS_RPC_HANDLE(h),
		                     LS_RPC_ULONG(16)),
		             CKR_OPERATION_NOT_INITIALIZED, "the server ended that search itself");
	}
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_GenerateRandom, &m, LS_RPC_HANDLE(h), LS_RPC_ULONG(100)),
	             CKR_OK);
	cr_assert_eq(ls_rpc_msg_arg(m, 0, 'y')->bytes.len, 100);
	ls_rpc_msg_free(m);
	{
		CK_SESSION_INFO *si;

		cr_assert_eq(TS_CALL(&c, LS_RPC_C_GetSessionInfo, &m, LS_RPC_HANDLE(h)), CKR_OK);
		si = ls_rpc_msg_arg(m, 0, 'S')->session_info;
		cr_assert_eq(si->state, CKS_RW_USER_FUNCTIONS);
		ls_rpc_msg_free(m);
	}
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_Logout, NULL, LS_RPC_HANDLE(h)), CKR_OK);
	cr_assert_eq(ts_sign(&c, h, priv, msg, strlen(msg), sig), CKR_KEY_HANDLE_INVALID,
	             "after logout the private key is out of reach");
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(rpc, two_accounts_never_reach_each_other)
{
	CK_OBJECT_HANDLE pub, priv, bpub, bpriv;
	CK_SESSION_HANDLE ha, hb;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t = { CKA_CLASS, &cls, sizeof(cls) };
	uint8_t sig[64];
	ls_rpc_msg *m = NULL;
	ts_client a, b;

	ts_start(&srv);
	ha = ready(&a, "alice", &pub, &priv);
	hb = ready(&b, "bob", NULL, NULL);
	(void)ha;
	/* Bob's token has no key: alice's handle means nothing in bob's application. */
	cr_assert_eq(ts_sign(&b, hb, priv, "x", 1, sig), CKR_KEY_HANDLE_INVALID);
	cr_assert_eq(TS_CALL(&b, LS_RPC_C_FindObjectsInit, &m, LS_RPC_HANDLE(hb),
	                     LS_RPC_TEMPLATE(&t, 1), LS_RPC_ULONG(16)),
	             CKR_OK);
	cr_assert_eq(ls_rpc_msg_arg(m, 0, 'U')->ulongs.n, 0, "bob sees none of alice's keys");
	ls_rpc_msg_free(m);
	/* Bob's own key gets bob's own handles. */
	ts_key_pair(&b, hb, &bpub, &bpriv);
	cr_assert_eq(ts_sign(&b, hb, bpriv, "x", 1, sig), CKR_OK);
	ts_verify_outside(&b, hb, bpub, "x", 1, sig);
	cr_assert_eq(ts_sign(&a, ha, priv, "x", 1, sig), CKR_OK);
	ts_verify_outside(&a, ha, pub, "x", 1, sig);
	ts_close(&a);
	ts_close(&b);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(rpc, two_applications_of_one_account_have_their_own_handles_and_login)
{
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE ha, hb;
	CK_SESSION_INFO *si;
	ls_rpc_msg *m = NULL;
	uint8_t sig[64];
	ts_client a, b;

	ts_start(&srv);
	ha = ready(&a, "alice", &pub, &priv);
	ts_login_ok(&b, srv.port, "alice", "password of someone");
	/* B has no sessions: A's handle is unknown to it. */
	cr_assert_eq(TS_CALL(&b, LS_RPC_C_GetSessionInfo, NULL, LS_RPC_HANDLE(ha)),
	             CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(TS_CALL(&b, LS_RPC_C_CloseSession, NULL, LS_RPC_HANDLE(ha)),
	             CKR_SESSION_HANDLE_INVALID);
	hb = ts_open_session(&b);
	/* A logged in; B, another application, did not. */
	cr_assert_eq(TS_CALL(&b, LS_RPC_C_GetSessionInfo, &m, LS_RPC_HANDLE(hb)), CKR_OK);
	si = ls_rpc_msg_arg(m, 0, 'S')->session_info;
	cr_assert_eq(si->state, CKS_RW_PUBLIC_SESSION, "login state is per application");
	ls_rpc_msg_free(m);
	cr_assert_eq(ts_sign(&b, hb, priv, "x", 1, sig), CKR_KEY_HANDLE_INVALID);
	cr_assert_eq(TS_CALL(&b, LS_RPC_C_CloseAllSessions, NULL), CKR_OK);
	/* A is untouched by B's CloseAllSessions. */
	cr_assert_eq(ts_sign(&a, ha, priv, "x", 1, sig), CKR_OK);
	ts_close(&a);
	ts_close(&b);
	cr_assert_eq(ts_stop(&srv), 0);
}

/* ---- hostile input while a good client works ---------------------------------------------- */

struct worker {
	int port;
	int signed_ok;
	int failures;
	volatile bool stop;
};

static void *
good_client(void *arg)
{
	struct worker *w = arg;
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE h;
	uint8_t sig[64];
	char msg[32];
	ts_client c;
	int i;

	ts_login_ok(&c, w->port, "alice", "password of someone");
	h = ts_open_session(&c);
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_Login, NULL, LS_RPC_HANDLE(h), LS_RPC_ULONG(CKU_USER),
	                     LS_RPC_PIN(USER_PIN, 6)),
	             CKR_OK);
	ts_key_pair(&c, h, &pub, &priv);
	for (i = 0; !w->stop || i < 20; i++) {
		snprintf(msg, sizeof(msg), "message %d", i);
		if (ts_sign(&c, h, priv, msg, strlen(msg), sig) == CKR_OK) {
			ts_verify_outside(&c, h, pub, msg, strlen(msg), sig);
			w->signed_ok++;
		} else {
			w->failures++;
		}
	}
	ts_close(&c);
	return NULL;
}

static bool
closed_by_server(int fd)
{
	uint8_t buf[4096];
	ssize_t n;

	/* Whatever the server still sends (an error answer, a close record), then the end. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

Test(rpc, hostile_input_gets_errors_while_a_good_client_keeps_working)
{
	struct worker w = { .port = 0 };
	pthread_t th;
	ts_client c, setup_client;
	ls_rpc_msg *m = NULL;
	ls_buf req;
	uint8_t junk[2048];
	int fd;
	size_t i;

	ts_start(&srv);
	ready(&setup_client, "alice", NULL, NULL);
	ts_close(&setup_client);
	w.port = srv.port;
	cr_assert_eq(pthread_create(&th, NULL, good_client, &w), 0);

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 97 + 13);

	/* 1. Random bytes instead of a hello. */
	fd = ts_connect_fd(srv.port);
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	cr_assert(closed_by_server(fd));
	close(fd);

	/* 2. An unknown call id inside a valid channel: refused, the connection goes on. */
	ts_login_ok(&c, srv.port, "alice", "password of someone");
	{
		uint8_t unknown[10] = { 0x77, 0x77, 0, 0, 0, 0, 0, 0, 0, 42 };

		cr_assert_eq(ts_send_plain(&c, unknown, sizeof(unknown)), LS_OK);
		cr_assert_eq(ts_recv_response(&c, LS_RPC_C_GetTokenInfo, &m), LS_OK);
		cr_assert_eq(ls_rpc_msg_request_id(m), 42);
		cr_assert_eq(ls_rpc_msg_rv(m), CKR_FUNCTION_NOT_SUPPORTED);
		ls_rpc_msg_free(m);
	}
	cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetTokenInfo, NULL), CKR_OK);

	/* 3. Handles nobody gave this application. */
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_GetSessionInfo, NULL, LS_RPC_HANDLE(1)),
	             CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_GetSessionInfo, NULL, LS_RPC_HANDLE(0xdeadbeef)),
	             CKR_SESSION_HANDLE_INVALID);
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_DestroyObject, NULL, LS_RPC_HANDLE(1), LS_RPC_HANDLE(1)),
	             CKR_SESSION_HANDLE_INVALID);

	/* 4. A malformed body (a template count far past its cap): an error, then the end. */
	ls_buf_init(&req, 64);
	ls_buf_add_u16(&req, LS_RPC_C_CreateObject);
	ls_buf_add_u64(&req, 77);
	ls_buf_add_u64(&req, 1);          /* session handle */
	ls_buf_add_u32(&req, 0x7fffffff); /* attribute count */
	cr_assert_eq(ts_send_plain(&c, ls_buf_data(&req), ls_buf_len(&req)), LS_OK);
	ls_buf_clear(&req);
	cr_assert_eq(ts_recv_response(&c, LS_RPC_C_CreateObject, &m), LS_OK);
	cr_assert_eq(ls_rpc_msg_request_id(m), 77);
	cr_assert_eq(ls_rpc_msg_rv(m), CKR_ARGUMENTS_BAD);
	ls_rpc_msg_free(m);
	cr_assert_neq(ts_recv_response(&c, LS_RPC_C_GetTokenInfo, &m), LS_OK,
	              "after a protocol violation the server closes the channel");
	ts_close(&c);

	/* 5. Trailing bytes after a valid request. */
	ts_login_ok(&c, srv.port, "alice", "password of someone");
	ls_buf_init(&req, 64);
	ls_buf_add_u16(&req, LS_RPC_C_GetTokenInfo);
	ls_buf_add_u64(&req, 5);
	ls_buf_add_u8(&req, 0);
	cr_assert_eq(ts_send_plain(&c, ls_buf_data(&req), ls_buf_len(&req)), LS_OK);
	ls_buf_clear(&req);
	cr_assert_eq(ts_recv_response(&c, LS_RPC_C_GetTokenInfo, &m), LS_OK);
	cr_assert_eq(ls_rpc_msg_rv(m), CKR_ARGUMENTS_BAD);
	ls_rpc_msg_free(m);
	ts_close(&c);

	/* 6. A request shorter than its header: closed without an answer. */
	ts_login_ok(&c, srv.port, "alice", "password of someone");
	cr_assert_eq(ts_send_plain(&c, "\x01", 1), LS_OK);
	cr_assert_neq(ts_recv_response(&c, LS_RPC_C_GetTokenInfo, &m), LS_OK);
	ts_close(&c);

	/* 7. A tampered record: the channel refuses it and the connection ends. */
	ts_login_ok(&c, srv.port, "alice", "password of someone");
	{
		ls_buf rec, frame;
		uint8_t body[10] = { 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 1 };

		ls_buf_init(&rec, 4096);
		ls_buf_init(&frame, 4096);
		cr_assert_eq(ls_channel_seal(c.ch, LS_RECORD_DATA, body, sizeof(body), &rec), LS_OK);
		cr_assert_eq(ls_frame_encode(&frame, ls_buf_data(&rec), ls_buf_len(&rec), 0), LS_OK);
		memcpy(junk, ls_buf_data(&frame), ls_buf_len(&frame));
		junk[8] ^= 0x01; /* a ciphertext bit */
		cr_assert_eq(write(c.fd, junk, ls_buf_len(&frame)), (ssize_t)ls_buf_len(&frame));
		cr_assert(closed_by_server(c.fd));
		ls_buf_clear(&rec);
		ls_buf_clear(&frame);
	}
	ts_close(&c);

	/* 8. A frame over max-frame after the handshake. */
	ts_login_ok(&c, srv.port, "alice", "password of someone");
	{
		uint8_t hdr[4] = { 0x01, 0x00, 0x00, 0x00 }; /* 16 MiB */

		cr_assert_eq(write(c.fd, hdr, 4), 4);
		cr_assert(closed_by_server(c.fd));
	}
	ts_close(&c);

	w.stop = true;
	pthread_join(th, NULL);
	cr_assert_eq(w.failures, 0, "the good client never failed");
	cr_assert_geq(w.signed_ok, 20);
	cr_assert_eq(ts_stop(&srv), 0);
}

/* ---- limits ------------------------------------------------------------------------------- */

Test(rpc, requests_over_max_inflight_are_refused_and_the_connection_goes_on)
{
	const char *extra[] = { "--max-inflight", "2", NULL };
	ls_buf reqs[8];
	ls_rpc_msg *m = NULL;
	ts_client c;
	int ok = 0, refused = 0;
	size_t i;

	ts_start_args(&srv, extra);
	ts_add_user(&srv, "alice", "password of someone", true);
	ts_login_ok(&c, srv.port, "alice", "password of someone");
	for (i = 0; i < 8; i++) {
		ls_buf_init(&reqs[i], 64);
		cr_assert_eq(ls_rpc_request_encode(&reqs[i], LS_RPC_C_GetTokenInfo, 100 + i, NULL, 0),
		             CKR_OK);
	}
	ts_write_burst(&c, reqs, 8);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(ts_recv_response(&c, LS_RPC_C_GetTokenInfo, &m), LS_OK);
		cr_assert_eq(ls_rpc_msg_request_id(m), 100 + i, "answered in order");
		if (ls_rpc_msg_rv(m) == CKR_OK)
			ok++;
		else if (ls_rpc_msg_rv(m) == CKR_DEVICE_MEMORY)
			refused++;
		ls_rpc_msg_free(m);
		ls_buf_clear(&reqs[i]);
	}
	cr_assert_eq(ok + refused, 8);
	cr_assert_geq(ok, 2);
	cr_assert_geq(refused, 2, "%d refused", refused);
	c.next_id = 200;
	cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetTokenInfo, NULL), CKR_OK);
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(rpc, sessions_objects_and_connections_per_account_are_limited)
{
	const char *extra[] = { "--max-sessions", "2", "--max-objects", "4",
		                "--max-connections-per-account", "2", NULL };
	CK_OBJECT_CLASS data = CKO_DATA;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &data, sizeof(data) } };
	CK_SESSION_HANDLE h;
	ts_client c, c2, c3;
	ls_rpc_msg *m = NULL;
	CK_RV rv = CKR_OK;
	int created = 0;

	ts_start_args(&srv, extra);
	h = ready(&c, "alice", NULL, NULL);
	ts_open_session(&c);
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_OpenSession, NULL, LS_RPC_ULONG(CKF_SERIAL_SESSION)),
	             CKR_SESSION_COUNT, "the third session of one application");
	while (created < 10 &&
	       (rv = TS_CALL(&c, LS_RPC_C_CreateObject, NULL, LS_RPC_HANDLE(h),
	                     LS_RPC_TEMPLATE(t, 1))) == CKR_OK)
		created++;
	cr_assert_eq(created, 4);
	cr_assert_eq(rv, CKR_DEVICE_MEMORY, "objects per token: 0x%lx", (unsigned long)rv);

	ts_login_ok(&c2, srv.port, "alice", "password of someone");
	cr_assert_eq(TS_CALL0(&c2, LS_RPC_C_GetTokenInfo, NULL), CKR_OK);
	ts_login_ok(&c3, srv.port, "alice", "password of someone");
	cr_assert_eq(TS_CALL0(&c3, LS_RPC_C_GetTokenInfo, NULL), CKR_DEVICE_MEMORY,
	             "the third connection of the account");
	cr_assert_neq(ts_recv_response(&c3, LS_RPC_C_GetTokenInfo, &m), LS_OK, "then closed");
	ts_close(&c3);
	cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetTokenInfo, NULL), CKR_OK, "the others go on");
	ts_close(&c2);
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}

/* ---- account operations ------------------------------------------------------------------- */

Test(rpc, recreate_and_unregister)
{
	CK_OBJECT_HANDLE pub, priv;
	CK_TOKEN_INFO *ti;
	ls_rpc_msg *m = NULL;
	ts_client c, other;
	char out[1024];
	const char *list[] = { "user", "list", NULL };
	CK_RV rv = CKR_OK;
	int i;

	ts_start(&srv);
	ready(&c, "alice", &pub, &priv);
	ts_login_ok(&other, srv.port, "alice", "password of someone");
	cr_assert_eq(TS_CALL0(&c, LS_RPC_AccountRecreateToken, NULL), CKR_SESSION_EXISTS,
	             "not while another application uses the token");
	cr_assert_eq(TS_CALL0(&c, LS_RPC_AccountUnregister, NULL), CKR_SESSION_EXISTS);
	ts_close(&other);
	/* Once the server has seen the other connection go, the token is this one's alone. */
	for (i = 0; i < 100 && (rv = TS_CALL0(&c, LS_RPC_AccountRecreateToken, NULL)) ==
	                               CKR_SESSION_EXISTS;
	     i++)
		usleep(100000);
	cr_assert_eq(rv, CKR_OK);
	cr_assert_eq(TS_CALL0(&c, LS_RPC_C_GetTokenInfo, &m), CKR_OK);
	ti = ls_rpc_msg_arg(m, 0, 'I')->token_info;
	cr_assert_eq(ti->flags & CKF_TOKEN_INITIALIZED, 0, "an empty, uninitialised token");
	ls_rpc_msg_free(m);
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_OpenSession, NULL, LS_RPC_ULONG(CKF_SERIAL_SESSION)),
	             CKR_TOKEN_NOT_RECOGNIZED);
	ts_init_token(&c, USER_PIN);

	cr_assert_eq(TS_CALL0(&c, LS_RPC_AccountUnregister, NULL), CKR_OK);
	cr_assert_neq(ts_recv_response(&c, LS_RPC_C_GetTokenInfo, &m), LS_OK,
	              "the connection ends with the account");
	ts_close(&c);
	cr_assert_eq(ts_login(&c, srv.port, "alice", "password of someone"), LS_ERR_AUTH_FAILED);
	ts_close(&c);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), list), 0);
	cr_assert(strstr(out, "alice") == NULL, "%s", out);
	cr_assert_eq(ts_stop(&srv), 0);
}

Test(rpc, audit_log_records_keygen_login_and_signatures)
{
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE h;
	uint8_t sig[64];
	ts_client c;
	char out[16384];
	const char *log[] = { "user", "log", "alice", NULL };
	int i;

	ts_start(&srv);
	h = ready(&c, "alice", &pub, &priv);
	for (i = 0; i < 3; i++)
		cr_assert_eq(ts_sign(&c, h, priv, "x", 1, sig), CKR_OK);
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_Login, NULL, LS_RPC_HANDLE(h), LS_RPC_ULONG(CKU_SO),
	                     LS_RPC_PIN("00000000", 8)),
	             CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	ts_close(&c);
	usleep(300000);
	cr_assert_eq(ts_stop(&srv), 0);
	cr_assert_eq(ts_admin(&srv, out, sizeof(out), log), 0);
	cr_assert(strstr(out, "token-initialized") != NULL, "%s", out);
	cr_assert(strstr(out, "pin-initialized") != NULL, "%s", out);
	cr_assert(strstr(out, "login") != NULL, "%s", out);
	cr_assert(strstr(out, "keygen") != NULL, "%s", out);
	cr_assert(strstr(out, "sign              3") != NULL, "three signatures counted: %s", out);
}
