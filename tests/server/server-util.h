/*
 * Helpers of the server tests: start the real ls11cloudd (and ls11cloud-admin) on a temporary
 * state directory and an ephemeral 127.0.0.1 port, and talk to it as a client does, with the
 * core pieces only (socket transport, core/handshake.h's blocking client driver, the channel,
 * core/rpc.h).  Header-only so that each test program stays one file.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TEST_SERVER_UTIL_H
#define LS11_TEST_SERVER_UTIL_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "crypto.h"
#include "handshake.h"
#include "rpc.h"
#include "transport.h"

#define TS_TIMEOUT_MS 30000

typedef struct {
	pid_t pid;
	int port;
	char dir[64];
	char conf[96];
} ts_server;

static inline const char *
ts_env(const char *name)
{
	const char *v = getenv(name);

	cr_assert_not_null(v, "%s is not set (run the tests through meson)", name);
	return v;
}

/*
 * The server program: $LS11CLOUDD (set by meson), unless $LS11_TEST_SERVER names another build
 * of it (test.sh runs the server and cloud suites once more with a ThreadSanitizer build).
 */
static inline const char *
ts_server_program(void)
{
	const char *v = getenv("LS11_TEST_SERVER");

	return v != NULL && v[0] != '\0' ? v : ts_env("LS11CLOUDD");
}

static inline int
ts_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* A fresh state directory for one server. */
static inline void
ts_prepare(ts_server *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/ls11-server-XXXXXX");
	cr_assert_not_null(mkdtemp(s->dir));
	snprintf(s->conf, sizeof(s->conf), "%s/ls11cloudd.conf", s->dir);
}

/* Writes the settings file the server reads (see ts_start). */
static inline void
ts_config(ts_server *s, const char *text)
{
	FILE *f = fopen(s->conf, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/*
 * Starts ls11cloudd on 127.0.0.1:0 with state in s->dir/state and the settings file s->conf
 * (empty unless ts_config() wrote it), plus @extra (NULL-terminated), and waits for its
 * "listening on" line.  Returns with s->port set.
 */
static inline void
ts_start_args(ts_server *s, const char *const *extra)
{
	char state[96], line[256];
	const char *argv[48];
	int out[2], n = 0, i;
	FILE *f;

	snprintf(state, sizeof(state), "%s/state", s->dir);
	if (access(s->conf, F_OK) != 0)
		ts_config(s, "# empty\n");
	argv[n++] = ts_server_program();
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--state-dir";
	argv[n++] = state;
	argv[n++] = "--config";
	argv[n++] = s->conf;
	argv[n++] = "--pbkdf2-iterations";
	argv[n++] = "1000";
	for (i = 0; extra != NULL && extra[i] != NULL && n < 46; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	cr_assert_eq(pipe(out), 0);
	s->pid = fork();
	cr_assert_geq(s->pid, 0);
	if (s->pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	cr_assert_not_null(f);
	s->port = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "listening on 127.0.0.1:%d", &s->port) == 1)
			break;
	}
	fclose(f);
	cr_assert_gt(s->port, 0, "ls11cloudd did not print its 'listening on' line");
}

static inline void
ts_start(ts_server *s)
{
	ts_start_args(s, NULL);
}

/* SIGTERM, then the exit status (waits at most 20 s, then kills). */
static inline int
ts_stop(ts_server *s)
{
	int status = 0, i;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	for (i = 0; i < 2000; i++) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid)
			break;
		usleep(10000);
	}
	if (i == 2000) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &status, 0);
		s->pid = 0;
		return -2;
	}
	s->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static inline void
ts_cleanup(ts_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	if (s->dir[0] != '\0')
		nftw(s->dir, ts_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs ls11cloud-admin with the server's state dir; returns its exit status, output in @out. */
static inline int
ts_admin(ts_server *s, char *out, size_t out_size, const char *const *args)
{
	char state[96];
	const char *argv[24];
	int pipefd[2], status = 0, n = 0, i;
	size_t used = 0;
	ssize_t got;
	pid_t pid;

	snprintf(state, sizeof(state), "%s/state", s->dir);
	argv[n++] = ts_env("LS11CLOUD_ADMIN");
	argv[n++] = "--state-dir";
	argv[n++] = state;
	for (i = 0; args[i] != NULL && n < 22; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		close(pipefd[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (out != NULL && used + 1 < out_size &&
	       (got = read(pipefd[0], out + used, out_size - used - 1)) > 0)
		used += (size_t)got;
	if (out != NULL)
		out[used] = '\0';
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Creates an account with ls11cloud-admin (@active: no forced password change). */
static inline void
ts_add_user(ts_server *s, const char *nick, const char *password, bool active)
{
	char pwfile[128], out[1024];
	FILE *f;

	snprintf(pwfile, sizeof(pwfile), "%s/pw-%s", s->dir, nick);
	f = fopen(pwfile, "w");
	cr_assert_not_null(f);
	fprintf(f, "%s\n", password);
	fclose(f);
	const char *args[] = { "user", "add", nick, "--password-file", pwfile,
		               active ? "--active" : NULL, NULL };
	cr_assert_eq(ts_admin(s, out, sizeof(out), args), 0, "user add %s: %s", nick, out);
}

/* ---- the client side --------------------------------------------------------------------- */

static inline int
ts_connect_fd(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
	             strerror(errno));
	return fd;
}

static inline ls_transport *
ts_connect(int port)
{
	ls_transport *t = NULL;

	cr_assert_eq(ls_transport_socket_new(ts_connect_fd(port), 0, &t), LS_OK);
	return t;
}

typedef struct {
	ls_transport *t;
	int fd; /* a duplicate of the transport's socket, for raw writes and abrupt drops */
	ls_channel *ch;
	uint64_t next_id;
	ls_handshake_reason reason; /* of the last failed handshake */
	int status;
} ts_client;

/* Runs a session handshake; LS_OK with c->ch set, or the error with c->reason. */
static inline int
ts_login(ts_client *c, int port, const char *nick, const char *password)
{
	ls_handshake_client_params p;
	ls_handshake *hs = NULL;
	int r;

	int sock;

	memset(c, 0, sizeof(*c));
	c->next_id = 1;
	sock = ts_connect_fd(port);
	c->fd = dup(sock);
	cr_assert_eq(ls_transport_socket_new(sock, 0, &c->t), LS_OK);
	memset(&p, 0, sizeof(p));
	p.purpose = LS_HANDSHAKE_SESSION;
	p.nickname = nick;
	p.password = password;
	p.password_len = strlen(password);
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_OK);
	r = ls_handshake_client_run(hs, c->t, TS_TIMEOUT_MS);
	c->reason = ls_handshake_get_reason(hs);
	if (r == LS_OK)
		cr_assert_eq(ls_handshake_take_channel(hs, &c->ch), LS_OK);
	ls_handshake_free(hs);
	c->status = r;
	return r;
}

static inline void
ts_login_ok(ts_client *c, int port, const char *nick, const char *password)
{
	int r = ts_login(c, port, nick, password);

	cr_assert_eq(r, LS_OK, "login as %s: %s (%s)", nick, ls_strerror(r),
	             ls_handshake_reason_string(c->reason));
}

static inline bool
ts_trust_all(void *user_data, ls_curve curve, const uint8_t fp[LS_HANDSHAKE_FINGERPRINT_SIZE],
             const uint8_t *pinned)
{
	(void)user_data;
	(void)curve;
	(void)fp;
	(void)pinned;
	return true;
}

/* Registration over the handshake; returns its status, the reason in *@reason. */
static inline int
ts_register(int port, const char *nick, const char *password, const char *code,
            ls_handshake_reason *reason)
{
	ls_handshake_client_params p;
	ls_handshake *hs = NULL;
	ls_transport *t = ts_connect(port);
	int r;

	memset(&p, 0, sizeof(p));
	p.purpose = LS_HANDSHAKE_REGISTER;
	p.nickname = nick;
	p.password = password;
	p.password_len = strlen(password);
	p.code = (const uint8_t *)code;
	p.code_len = code != NULL ? strlen(code) : 0;
	p.trust_server_key = ts_trust_all;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_OK);
	r = ls_handshake_client_run(hs, t, TS_TIMEOUT_MS);
	*reason = ls_handshake_get_reason(hs);
	ls_handshake_free(hs);
	ls_transport_free(t);
	return r;
}

static inline void
ts_close(ts_client *c)
{
	ls_channel_free(c->ch);
	ls_transport_free(c->t);
	if (c->fd > 0)
		close(c->fd);
	memset(c, 0, sizeof(*c));
}

/* Cuts the connection without a close record, as a network drop does. */
static inline void
ts_drop(ts_client *c)
{
	shutdown(c->fd, SHUT_RDWR);
	ts_close(c);
}

/* Seals the requests as records and writes all their frames at once. */
static inline void
ts_write_burst(ts_client *c, const ls_buf *requests, size_t n)
{
	ls_buf rec, all;
	size_t i;

	ls_buf_init(&rec, LS_CHANNEL_MAX_RECORD);
	ls_buf_init(&all, 16 << 20);
	for (i = 0; i < n; i++) {
		ls_buf_reset(&rec);
		cr_assert_eq(ls_channel_seal(c->ch, LS_RECORD_DATA, ls_buf_data(&requests[i]),
		                             ls_buf_len(&requests[i]), &rec),
		             LS_OK);
		cr_assert_eq(ls_frame_encode(&all, ls_buf_data(&rec), ls_buf_len(&rec), 0), LS_OK);
	}
	cr_assert_eq(write(c->fd, ls_buf_data(&all), ls_buf_len(&all)), (ssize_t)ls_buf_len(&all));
	ls_buf_clear(&rec);
	ls_buf_clear(&all);
}

/* Sends one plaintext message through the channel. */
static inline int
ts_send_plain(ts_client *c, const void *data, size_t len)
{
	return ls_channel_send(c->ch, c->t, data, len, TS_TIMEOUT_MS);
}

/* Sends the request for @call with request id @id (no wait). */
static inline void
ts_send_request(ts_client *c, uint16_t call, uint64_t id, const ls_rpc_value *args, size_t n)
{
	ls_buf req;

	ls_buf_init(&req, LS_RPC_MAX_MESSAGE);
	cr_assert_eq(ls_rpc_request_encode(&req, call, id, args, n), CKR_OK, "encode %s",
	             ls_rpc_call_name(call));
	cr_assert_eq(ts_send_plain(c, ls_buf_data(&req), ls_buf_len(&req)), LS_OK);
	ls_buf_clear(&req);
}

/* Receives one response to @call; returns the transport/channel error or LS_OK. */
static inline int
ts_recv_response(ts_client *c, uint16_t call, ls_rpc_msg **out)
{
	ls_buf in;
	int r;

	*out = NULL;
	ls_buf_init(&in, LS_CHANNEL_MAX_PLAINTEXT);
	r = ls_channel_recv(c->ch, c->t, &in, TS_TIMEOUT_MS);
	if (r == LS_OK)
		r = ls_rpc_response_decode(&in, call, out);
	ls_buf_clear(&in);
	return r;
}

/*
 * One call, request then response: returns the CK_RV; *@out (may be NULL) keeps the decoded
 * response for the caller to read and free.  A transport failure fails the test.
 */
static inline CK_RV
ts_call(ts_client *c, uint16_t call, const ls_rpc_value *args, size_t n, ls_rpc_msg **out)
{
	uint64_t id = c->next_id++;
	ls_rpc_msg *msg = NULL;
	CK_RV rv;
	int r;

	ts_send_request(c, call, id, args, n);
	r = ts_recv_response(c, call, &msg);
	cr_assert_eq(r, LS_OK, "%s: no response: %s", ls_rpc_call_name(call), ls_strerror(r));
	cr_assert_eq(ls_rpc_msg_request_id(msg), id);
	rv = ls_rpc_msg_rv(msg);
	if (out != NULL)
		*out = msg;
	else
		ls_rpc_msg_free(msg);
	return rv;
}

#define TS_CALL(c, call, out, ...)                                                                \
	ts_call((c), (call), (const ls_rpc_value[]){ __VA_ARGS__ },                               \
	        sizeof((const ls_rpc_value[]){ __VA_ARGS__ }) / sizeof(ls_rpc_value), (out))
#define TS_CALL0(c, call, out) ts_call((c), (call), NULL, 0, (out))

/* ---- PKCS#11 conveniences ------------------------------------------------------------------ */

static const CK_BBOOL ts_yes = CK_TRUE;
static const uint8_t ts_oid_tc26_256_a[] = { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01,
	                                     0x02, 0x01, 0x01, 0x01 };

static inline CK_SESSION_HANDLE
ts_open_session(ts_client *c)
{
	ls_rpc_msg *m = NULL;
	CK_SESSION_HANDLE h;

	cr_assert_eq(TS_CALL(c, LS_RPC_C_OpenSession, &m,
	                     LS_RPC_ULONG(CKF_SERIAL_SESSION | CKF_RW_SESSION)),
	             CKR_OK);
	h = ls_rpc_msg_arg(m, 0, 'h')->ul;
	ls_rpc_msg_free(m);
	return h;
}

static inline void
ts_label(CK_UTF8CHAR label[32], const char *s)
{
	size_t n = strlen(s);

	memset(label, ' ', 32);
	memcpy(label, s, n < 32 ? n : 32);
}

/* C_InitToken with the default SO PIN, then the user PIN: a token ready for the user. */
static inline void
ts_init_token(ts_client *c, const char *user_pin)
{
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE h;

	ts_label(label, "test token");
	cr_assert_eq(TS_CALL(c, LS_RPC_C_InitToken, NULL, LS_RPC_PIN("87654321", 8),
	                     LS_RPC_LABEL(label)),
	             CKR_OK);
	h = ts_open_session(c);
	cr_assert_eq(TS_CALL(c, LS_RPC_C_Login, NULL, LS_RPC_HANDLE(h), LS_RPC_ULONG(CKU_SO),
	                     LS_RPC_PIN("87654321", 8)),
	             CKR_OK);
	cr_assert_eq(TS_CALL(c, LS_RPC_C_InitPIN, NULL, LS_RPC_HANDLE(h),
	                     LS_RPC_PIN(user_pin, strlen(user_pin))),
	             CKR_OK);
	cr_assert_eq(TS_CALL(c, LS_RPC_C_Logout, NULL, LS_RPC_HANDLE(h)), CKR_OK);
	cr_assert_eq(TS_CALL(c, LS_RPC_C_CloseSession, NULL, LS_RPC_HANDLE(h)), CKR_OK);
}

/* A GOST R 34.10-2012 256-bit key pair (tc26-256-A) on the token. */
static inline void
ts_key_pair(ts_client *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM mech = { CKM_GOSTR3410_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = {
		{ CKA_TOKEN, (void *)&ts_yes, sizeof(ts_yes) },
		{ CKA_GOSTR3410_PARAMS, (void *)ts_oid_tc26_256_a, sizeof(ts_oid_tc26_256_a) },
		{ CKA_VERIFY, (void *)&ts_yes, sizeof(ts_yes) },
	};
	CK_ATTRIBUTE kt[] = {
		{ CKA_TOKEN, (void *)&ts_yes, sizeof(ts_yes) },
		{ CKA_PRIVATE, (void *)&ts_yes, sizeof(ts_yes) },
		{ CKA_SIGN, (void *)&ts_yes, sizeof(ts_yes) },
	};
	ls_rpc_msg *m = NULL;

	cr_assert_eq(TS_CALL(c, LS_RPC_C_GenerateKeyPair, &m, LS_RPC_HANDLE(h),
	                     LS_RPC_MECHANISM(&mech), LS_RPC_TEMPLATE(pt, 3),
	                     LS_RPC_TEMPLATE(kt, 3)),
	             CKR_OK);
	*pub = ls_rpc_msg_arg(m, 0, 'h')->ul;
	*priv = ls_rpc_msg_arg(m, 1, 'h')->ul;
	ls_rpc_msg_free(m);
}

/* SignOneShot with GOST R 34.10-2012 over Streebog-256: 64 bytes into @sig. */
static inline CK_RV
ts_sign(ts_client *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, const void *data, size_t len,
        uint8_t sig[64])
{
	CK_MECHANISM mech = { CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0 };
	CK_ULONG sig_len = 64;
	ls_rpc_msg *m = NULL;
	CK_RV rv;

	rv = TS_CALL(c, LS_RPC_SignOneShot, &m, LS_RPC_HANDLE(h), LS_RPC_MECHANISM(&mech),
	             LS_RPC_HANDLE(key), LS_RPC_BYTES(data, len), LS_RPC_OUT(sig, 64));
	if (rv == CKR_OK)
		cr_assert_eq(ls_rpc_output_deliver(ls_rpc_msg_arg(m, 0, 'O'), rv, sig, &sig_len),
		             CKR_OK);
	ls_rpc_msg_free(m);
	return rv;
}

/* Checks @sig with the public key object's CKA_VALUE, outside the server (core/crypto.h). */
static inline void
ts_verify_outside(ts_client *c, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub, const void *data,
                  size_t len, const uint8_t sig[64])
{
	uint8_t xy[64], digest[32];
	CK_ATTRIBUTE q = { CKA_VALUE, xy, sizeof(xy) };
	ls_gost_key *k = NULL;
	ls_rpc_msg *m = NULL;

	cr_assert_eq(TS_CALL(c, LS_RPC_C_GetAttributeValue, &m, LS_RPC_HANDLE(h),
	                     LS_RPC_HANDLE(pub), LS_RPC_QUERY(&q, 1)),
	             CKR_OK);
	cr_assert_eq(ls_rpc_attrs_deliver(ls_rpc_msg_arg(m, 0, 'R'), CKR_OK, &q, 1), CKR_OK);
	ls_rpc_msg_free(m);
	cr_assert_eq(q.ulValueLen, 64);
	cr_assert_eq(ls_gost_key_from_public(LS_CURVE_TC26_256_A, xy, 64, &k), LS_OK);
	cr_assert_eq(ls_md(LS_MD_STREEBOG256, data, len, digest, sizeof(digest)), LS_OK);
	cr_assert_eq(ls_gost_verify_digest(k, digest, 32, sig, 64), LS_OK,
	             "the signature made by the server verifies with core's GOST code");
	ls_gost_key_free(k);
}

#endif /* LS11_TEST_SERVER_UTIL_H */
