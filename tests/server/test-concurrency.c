/*
 * Concurrent requests on one connection: several sessions with pipelined signatures run on
 * more than one worker at once, every answer matches its request id and every signature
 * verifies, and the requests of one session keep their order (a pipelined multi-part
 * C_SignInit / C_SignUpdate / C_SignFinal sequence, and C_SignInit + C_Sign pairs); and the
 * answers the workers write themselves wait, whole and in order, for a client that does not
 * read them at once.
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

TestSuite(concurrency, .init = setup, .fini = teardown);

#define USER_PIN "123456"
#define SESSIONS 8
#define PER_SESSION 8
#define ROUNDS 4
#define MAX_REQS (SESSIONS * (PER_SESSION + 1))

typedef struct {
	uint16_t call;
	CK_SESSION_HANDLE h;
	char data[64];
	bool answered;
	bool heavy;       /* over big[]: checked for its length only */
	CK_RV rv;
	uint8_t sig[64];
	CK_ULONG sig_len;
} expect;

static ls_buf reqs[MAX_REQS];
static expect want[MAX_REQS];
static size_t nreq;
static uint64_t id_base = 1000;

/* Data long enough that hashing it keeps a worker busy for a few milliseconds. */
static uint8_t big[256 << 10];

static CK_MECHANISM sign_mech = { CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0 };

static void
add(uint16_t call, CK_SESSION_HANDLE h, const char *data, const ls_rpc_value *args, size_t n)
{
	cr_assert_lt(nreq, MAX_REQS);
	ls_buf_init(&reqs[nreq], LS_RPC_MAX_MESSAGE);
	cr_assert_eq(ls_rpc_request_encode(&reqs[nreq], call, id_base + nreq, args, n), CKR_OK);
	want[nreq].call = call;
	want[nreq].h = h;
	snprintf(want[nreq].data, sizeof(want[nreq].data), "%s", data != NULL ? data : "");
	nreq++;
}

static void
add_one_shot(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, const char *data)
{
	ls_rpc_value a[] = { LS_RPC_HANDLE(h), LS_RPC_MECHANISM(&sign_mech), LS_RPC_HANDLE(key),
		             LS_RPC_BYTES(data, strlen(data)), LS_RPC_OUT(NULL, 64) };

	a[4].out.buf = want[nreq].sig; /* only "a buffer is offered" travels */
	add(LS_RPC_SignOneShot, h, data, a, 5);
}

static void
add_heavy(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	ls_rpc_value a[] = { LS_RPC_HANDLE(h), LS_RPC_MECHANISM(&sign_mech), LS_RPC_HANDLE(key),
		             LS_RPC_BYTES(big, sizeof(big)), LS_RPC_OUT(NULL, 64) };

	a[4].out.buf = want[nreq].sig;
	want[nreq].heavy = true;
	add(LS_RPC_SignOneShot, h, NULL, a, 5);
}

/* The log line the server writes when a connection closes: the most requests of one
 * connection handed to the workers at once, and the most running at the same instant. */
static void
max_at_once(const char *log_path, unsigned *handed, unsigned *running)
{
	char line[512];
	unsigned a = 0, b = 0;
	FILE *f = fopen(log_path, "r");

	*handed = *running = 0;
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, "requests answered, at most ");

		if (p != NULL &&
		    sscanf(p, "requests answered, at most %u handed to the workers and %u running",
		           &a, &b) == 2) {
			*handed = a > *handed ? a : *handed;
			*running = b > *running ? b : *running;
		}
	}
	fclose(f);
}

Test(concurrency, sessions_of_one_connection_run_in_parallel_in_order_per_session)
{
	static const char *parts[] = { "first part, ", "second part, ", "third part" };
	char log_path[128], whole[64] = "";
	CK_SESSION_HANDLE h[SESSIONS];
	CK_OBJECT_HANDLE pub, priv;
	ls_buf in;
	ts_client c;
	size_t i, k, multi_final = 0;
	int log_fd, saved;
	unsigned handed, running, round;
	int r;

	snprintf(log_path, sizeof(log_path), "%s/server.log", srv.dir);
	ts_config(&srv, "workers = 4\nmax-inflight = 256\n");
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(log_fd, 0);
	saved = dup(2);
	dup2(log_fd, 2); /* the server inherits this stderr: its log goes to the file */
	ts_start(&srv);
	dup2(saved, 2);
	close(saved);
	close(log_fd);

	ts_add_user(&srv, "alice", "password of someone", true);
	ts_login_ok(&c, srv.port, "alice", "password of someone");
	ts_init_token(&c, USER_PIN);
	for (i = 0; i < SESSIONS; i++)
		h[i] = ts_open_session(&c);
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_Login, NULL, LS_RPC_HANDLE(h[0]), LS_RPC_ULONG(CKU_USER),
	                     LS_RPC_PIN(USER_PIN, 6)),
	             CKR_OK);
	ts_key_pair(&c, h[0], &pub, &priv);

	/* Rounds of the same burst: the first one's signatures are checked; the others make it
	 * (near) certain that two workers were inside requests of this connection at the same
	 * instant, whatever the scheduling of the machine. */
	for (round = 0; round < ROUNDS; round++) {
	nreq = 0;
	id_base = 1000 + (uint64_t)round * 1000;
	whole[0] = '\0';
	/* Round robin over the sessions: session 0 gets a multi-part signature, session 1
	 * C_SignInit + C_Sign pairs, the others one-shot signatures. */
	for (k = 0; k < PER_SESSION; k++) {
		for (i = 0; i < SESSIONS; i++) {
			char data[32];

			snprintf(data, sizeof(data), "s%zu-k%zu", i, k);
			if (i == 0 && k < 5) {
				if (k == 0) {
					add(LS_RPC_C_SignInit, h[0], NULL,
					    (ls_rpc_value[]){ LS_RPC_HANDLE(h[0]),
					                      LS_RPC_MECHANISM(&sign_mech),
					                      LS_RPC_HANDLE(priv) },
					    3);
				} else if (k <= 3) {
					add(LS_RPC_C_SignUpdate, h[0], NULL,
					    (ls_rpc_value[]){ LS_RPC_HANDLE(h[0]),
					                      LS_RPC_BYTES(parts[k - 1],
					                                   strlen(parts[k - 1])) },
					    2);
					strcat(whole, parts[k - 1]);
				} else {
					ls_rpc_value a[] = { LS_RPC_HANDLE(h[0]), LS_RPC_OUT(NULL, 64) };

					a[1].out.buf = want[nreq].sig;
					multi_final = nreq;
					add(LS_RPC_C_SignFinal, h[0], whole, a, 2);
				}
			} else if (i == 1 && k % 2 == 0) {
				add(LS_RPC_C_SignInit, h[1], NULL,
				    (ls_rpc_value[]){ LS_RPC_HANDLE(h[1]),
				                      LS_RPC_MECHANISM(&sign_mech),
				                      LS_RPC_HANDLE(priv) },
				    3);
			} else if (i == 1) {
				ls_rpc_value a[] = { LS_RPC_HANDLE(h[1]), LS_RPC_BYTES(data, strlen(data)),
					             LS_RPC_OUT(NULL, 64) };

				a[2].out.buf = want[nreq].sig;
				snprintf(want[nreq].data, sizeof(want[nreq].data), "%s", data);
				add(LS_RPC_C_Sign, h[1], data, a, 3);
			} else {
				add_one_shot(h[i], priv, data);
			}
		}
	}
	/* One long request per session as well, side by side. */
	for (i = 0; i < SESSIONS; i++)
		add_heavy(h[i], priv);
	ts_write_burst(&c, reqs, nreq);

	/* The answers come as they complete: match them by request id. */
	ls_buf_init(&in, LS_CHANNEL_MAX_PLAINTEXT);
	for (k = 0; k < nreq; k++) {
		uint64_t id = 0;
		ls_rpc_msg *m = NULL;
		expect *e;

		ls_buf_reset(&in);
		r = ls_channel_recv(c.ch, c.t, &in, TS_TIMEOUT_MS);
		cr_assert_eq(r, LS_OK, "round %u, answer %zu: %s", round, k, ls_strerror(r));
		cr_assert_eq(ls_rpc_response_peek(&in, &id), LS_OK);
		cr_assert(id >= id_base && id < id_base + nreq, "an answer to an unknown id %llu",
		          (unsigned long long)id);
		e = &want[id - id_base];
		cr_assert(!e->answered, "request %llu answered twice", (unsigned long long)id);
		e->answered = true;
		cr_assert_eq(ls_rpc_response_decode(&in, e->call, &m), LS_OK);
		e->rv = ls_rpc_msg_rv(m);
		cr_assert_eq(e->rv, CKR_OK, "%s (request %llu) failed: 0x%lx: out of order?",
		             ls_rpc_call_name(e->call), (unsigned long long)id,
		             (unsigned long)e->rv);
		if (e->call == LS_RPC_SignOneShot || e->call == LS_RPC_C_Sign ||
		    e->call == LS_RPC_C_SignFinal) {
			e->sig_len = 64;
			cr_assert_eq(ls_rpc_output_deliver(ls_rpc_msg_arg(m, 0, 'O'), e->rv, e->sig,
			                                   &e->sig_len),
			             CKR_OK);
			cr_assert_eq(e->sig_len, 64);
		}
		ls_rpc_msg_free(m);
	}
	ls_buf_clear(&in);
	cr_assert_eq(want[multi_final].call, LS_RPC_C_SignFinal);

	/* Every signature verifies over its own data (the multi-part one over all the parts). */
	c.next_id = 100000 + (uint64_t)round * 1000;
	for (k = 0; k < nreq; k++) {
		if (round == 0 && want[k].sig_len == 64 && !want[k].heavy)
			ts_verify_outside(&c, h[0], pub, want[k].data, strlen(want[k].data),
			                  want[k].sig);
		ls_buf_clear(&reqs[k]);
		memset(&want[k], 0, sizeof(want[k]));
	}
	}
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
	max_at_once(log_path, &handed, &running);
	cr_assert_geq(handed, SESSIONS - 1, "requests of several sessions handed to the workers "
	                                   "at once (at most %u)",
	              handed);
	cr_assert_geq(running, 2, "the requests of one connection ran on more than one worker "
	                          "at the same time (at most %u, %u handed)",
	              running, handed);
}

/*
 * A client that pipelines requests with large answers and does not read them for a while: the
 * workers' answers fill the socket, wait in the connection's queue (partial writes included)
 * and go out when the client reads, every one whole, in order per session and matched by id.
 */
#define SLOW_READER_REQS 24
#define SLOW_READER_LEN ((CK_ULONG)512 << 10)

Test(concurrency, answers_wait_whole_and_in_order_for_a_client_that_does_not_read)
{
	ls_buf burst[SLOW_READER_REQS], in;
	bool seen[SLOW_READER_REQS] = { false };
	uint64_t last[2] = { 0, 0 };
	CK_SESSION_HANDLE h[2];
	ts_client c;
	size_t i;

	ts_config(&srv, "workers = 2\n");
	ts_start(&srv);
	ts_add_user(&srv, "alice", "password of someone", true);
	ts_login_ok(&c, srv.port, "alice", "password of someone");
	ts_init_token(&c, USER_PIN);
	h[0] = ts_open_session(&c);
	h[1] = ts_open_session(&c);
	for (i = 0; i < SLOW_READER_REQS; i++) {
		const ls_rpc_value args[] = { LS_RPC_HANDLE(h[i % 2]), LS_RPC_ULONG(SLOW_READER_LEN) };

		ls_buf_init(&burst[i], LS_RPC_MAX_MESSAGE);
		cr_assert_eq(ls_rpc_request_encode(&burst[i], LS_RPC_C_GenerateRandom, 5000 + i, args,
		                                   2),
		             CKR_OK);
	}
	ts_write_burst(&c, burst, SLOW_READER_REQS);
	usleep(1000 * 1000); /* 12 MiB of answers: far more than the socket takes */

	ls_buf_init(&in, LS_CHANNEL_MAX_PLAINTEXT);
	for (i = 0; i < SLOW_READER_REQS; i++) {
		ls_rpc_msg *m = NULL;
		const ls_rpc_value *v;
		uint64_t id;
		size_t k;

		cr_assert_eq(ls_channel_recv(c.ch, c.t, &in, TS_TIMEOUT_MS), LS_OK, "answer %zu", i);
		cr_assert_eq(ls_rpc_response_decode(&in, LS_RPC_C_GenerateRandom, &m), LS_OK);
		id = ls_rpc_msg_request_id(m);
		cr_assert(id >= 5000 && id < 5000 + SLOW_READER_REQS, "request id %llu",
		          (unsigned long long)id);
		k = (size_t)(id - 5000);
		cr_assert_not(seen[k], "request %llu answered twice", (unsigned long long)id);
		seen[k] = true;
		cr_assert_gt(id, last[k % 2], "the answers of one session keep its order");
		last[k % 2] = id;
		cr_assert_eq(ls_rpc_msg_rv(m), CKR_OK);
		v = ls_rpc_msg_arg(m, 0, 'y');
		cr_assert(v != NULL && v->bytes.len == SLOW_READER_LEN, "a whole answer");
		ls_rpc_msg_free(m);
		ls_buf_clear(&burst[k]);
	}
	ls_buf_clear(&in);
	c.next_id = 9000;
	cr_assert_eq(TS_CALL(&c, LS_RPC_C_GenerateRandom, NULL, LS_RPC_HANDLE(h[0]),
	                     LS_RPC_ULONG(32)),
	             CKR_OK, "the connection goes on");
	ts_close(&c);
	cr_assert_eq(ts_stop(&srv), 0);
}
