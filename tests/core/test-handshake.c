/*
 * core/handshake*.c: full session handshakes on every SESPAKE curve over the in-memory
 * transport and over TCP between two threads, with channel round trips both ways; wrong
 * password; the unknown-nickname rule (same wire shapes, same errors, same salt every time);
 * the RFC 8133 counters through the store callbacks (locked even with the right password,
 * success resets); version negotiation; registration (TOFU, pinning, policies, the stored
 * verifier serves a session) with the key schedule, the transcript hash and the server
 * signature recomputed independently from docs/protocol-handshake.md; hostile input (every
 * field, truncation at each byte, oversize, tampered hellos, replay, random bytes, out of
 * order), each refused with its precise reason and without touching the store.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buffer.h"
#include "channel.h"
#include "crypto.h"
#include "handshake.h"
#include "sespake.h"
#include "transport.h"
#include "test-util.h"

/* The constants of docs/protocol-handshake.md, written out again on purpose. */
static const char LABEL_TRANSCRIPT[] = "LS11CLOUD handshake v1 transcript";
static const char LABEL_SIGNATURE[] = "LS11CLOUD handshake v1 server signature";
static const char LABEL_UKM[] = "LS11CLOUD handshake v1 register ukm";
static const char LABEL_REGISTER[] = "LS11CLOUD handshake v1 register key";
enum {
	MSG_SERVER_HELLO = 0x02,
	MSG_U1 = 0x03,
	MSG_U2 = 0x04,
	MSG_MAC_A = 0x05,
	MSG_MAC_B = 0x06,
	MSG_REG_REQUEST = 0x07,
	MSG_REG_RESULT = 0x08,
	MSG_ERROR = 0x0f,
};
enum {
	ERR_MALFORMED = 1,
	ERR_VERSION_MISMATCH = 2,
	ERR_BAD_NICKNAME = 3,
	ERR_PURPOSE_UNSUPPORTED = 4,
	ERR_BUSY = 5,
	ERR_INTERNAL = 6,
	ERR_AUTH_FAILED = 7,
	ERR_UNEXPECTED = 8,
	ERR_ABORTED = 9,
};

static const ls_curve all_curves[] = {
	LS_CURVE_CP_A,       LS_CURVE_CP_B,       LS_CURVE_CP_C,       LS_CURVE_TC26_256_A,
	LS_CURVE_TC26_512_A, LS_CURVE_TC26_512_B, LS_CURVE_TC26_512_C,
};
#define N_CURVES (sizeof(all_curves) / sizeof(all_curves[0]))

static const uint8_t server_secret[32] = "LS11CLOUD test server secret 01";

/* ---- a store of accounts, as the server's would be ----------------------------------------- */

#define MAX_ACCOUNTS 8

struct account {
	bool used;
	char nick[LS_HANDSHAKE_NICKNAME_MAX + 1];
	ls_sespake_verifier v;
	ls_sespake_counters c;
};

enum reg_policy { REG_OPEN, REG_CLOSED, REG_CODE };

struct store {
	struct account acc[MAX_ACCOUNTS];
	ls_sespake_limits limits;
	enum reg_policy policy;
	const char *code;
	bool storage_broken; /* register answers SERVER_ERROR */
	int fail_lookup, fail_begin, fail_success; /* codes to return instead, 0: none */
	int lookups, begins, begins_unknown, successes, registrations;
	bool last_begin_known;
};

static void
store_init(struct store *st)
{
	memset(st, 0, sizeof(*st));
	st->limits = LS_SESPAKE_LIMITS_DEFAULT;
}

static struct account *
store_find(struct store *st, const char *nick)
{
	for (int i = 0; i < MAX_ACCOUNTS; i++) {
		if (st->acc[i].used && strcmp(st->acc[i].nick, nick) == 0)
			return &st->acc[i];
	}
	return NULL;
}

static struct account *
store_put(struct store *st, const char *nick, const ls_sespake_verifier *v)
{
	for (int i = 0; i < MAX_ACCOUNTS; i++) {
		struct account *a = &st->acc[i];

		if (a->used)
			continue;
		a->used = true;
		strcpy(a->nick, nick);
		a->v = *v;
		cr_assert_eq(ls_sespake_counters_init(&st->limits, &a->c), LS_OK);
		return a;
	}
	cr_assert_fail("store full");
	return NULL;
}

/* An account as registration would make it: a verifier with a fresh 32-byte salt. */
static struct account *
store_add(struct store *st, const char *nick, const char *pw, ls_curve curve, unsigned ind)
{
	ls_sespake_verifier v;

	cr_assert_eq(ls_sespake_verifier_make(curve, ind, NULL, LS_HANDSHAKE_SALT_SIZE, pw,
	                                      strlen(pw), &v), LS_OK);
	return store_put(st, nick, &v);
}

static int
cb_lookup(void *user, const char *nick, ls_sespake_verifier *out)
{
	struct store *st = user;
	struct account *a;

	st->lookups++;
	if (st->fail_lookup != 0)
		return st->fail_lookup;
	if ((a = store_find(st, nick)) == NULL)
		return LS_ERR_NOT_FOUND;
	*out = a->v;
	return LS_OK;
}

static int
cb_begin(void *user, const char *nick, bool known)
{
	struct store *st = user;
	struct account *a = store_find(st, nick);

	st->begins++;
	st->last_begin_known = known;
	if (!known) {
		st->begins_unknown++;
		return LS_OK;
	}
	if (st->fail_begin != 0)
		return st->fail_begin;
	cr_assert_not_null(a);
	return ls_sespake_counters_begin(&st->limits, &a->c);
}

static int
cb_success(void *user, const char *nick)
{
	struct store *st = user;
	struct account *a = store_find(st, nick);

	st->successes++;
	if (st->fail_success != 0)
		return st->fail_success;
	cr_assert_not_null(a);
	return ls_sespake_counters_success(&st->limits, &a->c);
}

static ls_handshake_reg_status
cb_register(void *user, const char *nick, const ls_sespake_verifier *v, const uint8_t *code,
            size_t code_len)
{
	struct store *st = user;

	st->registrations++;
	cr_assert_eq(ls_sespake_verifier_check(v), LS_OK, "only valid verifiers reach the store");
	cr_assert(code != NULL || code_len == 0);
	if (st->policy == REG_CLOSED)
		return LS_HANDSHAKE_REG_CLOSED;
	if (st->policy == REG_CODE &&
	    (code_len != strlen(st->code) || !ls_ct_equal(code, st->code, code_len)))
		return LS_HANDSHAKE_REG_CODE_INVALID;
	if (store_find(st, nick) != NULL)
		return LS_HANDSHAKE_REG_NICKNAME_TAKEN;
	if (st->storage_broken)
		return LS_HANDSHAKE_REG_SERVER_ERROR;
	store_put(st, nick, v);
	return LS_HANDSHAKE_REG_OK;
}

/* ---- handshakes --------------------------------------------------------------------------- */

static ls_gost_key *
identity_key(ls_curve curve)
{
	static ls_gost_key *keys[16];
	ls_gost_key **k = &keys[curve];

	if (*k == NULL)
		cr_assert_eq(ls_gost_key_generate(curve, k), LS_OK);
	return *k;
}

static ls_handshake_server_config
server_config(struct store *st)
{
	ls_handshake_server_config c;

	memset(&c, 0, sizeof(c));
	c.identity = identity_key(LS_CURVE_TC26_256_A);
	c.secret = server_secret;
	c.secret_len = sizeof(server_secret);
	c.lookup = cb_lookup;
	c.begin_attempt = cb_begin;
	c.record_success = cb_success;
	c.register_account = cb_register;
	c.user_data = st;
	return c;
}

static ls_handshake *
server_new(struct store *st)
{
	ls_handshake_server_config c = server_config(st);
	ls_handshake *hs = NULL;

	cr_assert_eq(ls_handshake_server_new(&c, &hs), LS_OK);
	return hs;
}

static ls_handshake *
client_session(const char *nick, const char *pw)
{
	ls_handshake_client_params p;
	ls_handshake *hs = NULL;

	memset(&p, 0, sizeof(p));
	p.purpose = LS_HANDSHAKE_SESSION;
	p.nickname = nick;
	p.password = pw;
	p.password_len = strlen(pw);
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_OK);
	return hs;
}

/* What the trust callback saw and answers. */
struct trust {
	bool answer;
	int calls;
	ls_curve curve;
	uint8_t fp[LS_HANDSHAKE_FINGERPRINT_SIZE];
	bool had_pin;
	uint8_t pinned[LS_HANDSHAKE_FINGERPRINT_SIZE];
};

static bool
cb_trust(void *user, ls_curve curve, const uint8_t fp[LS_HANDSHAKE_FINGERPRINT_SIZE],
         const uint8_t *pinned)
{
	struct trust *t = user;

	t->calls++;
	t->curve = curve;
	memcpy(t->fp, fp, sizeof(t->fp));
	t->had_pin = pinned != NULL;
	if (pinned != NULL)
		memcpy(t->pinned, pinned, sizeof(t->pinned));
	return t->answer;
}

static ls_handshake *
client_register(const char *nick, const char *pw, struct trust *t, const uint8_t *pin,
                const char *code)
{
	ls_handshake_client_params p;
	ls_handshake *hs = NULL;

	memset(&p, 0, sizeof(p));
	p.purpose = LS_HANDSHAKE_REGISTER;
	p.nickname = nick;
	p.password = pw;
	p.password_len = strlen(pw);
	p.pinned_fingerprint = pin;
	p.trust_server_key = t != NULL ? cb_trust : NULL;
	p.user_data = t;
	if (code != NULL) {
		p.code = (const uint8_t *)code;
		p.code_len = strlen(code);
	}
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_OK);
	return hs;
}

/* ---- stepping two handshakes against each other, in process ------------------------------- */

#define WIRE_MAX 12
#define MSG_CAP (LS_HANDSHAKE_MAX_MESSAGE + 512)

struct wire {
	int n;
	bool from_client[WIRE_MAX];
	size_t len[WIRE_MAX];
	uint8_t msg[WIRE_MAX][MSG_CAP];
	/* Changes message number @index (0: the client hello) in flight. */
	void (*tamper)(struct wire *w, int index, uint8_t *p, size_t *len);
	size_t arg;
};

static void
pump(ls_handshake *c, ls_handshake *s, struct wire *w)
{
	static struct wire scratch;
	bool done, from_client = true;
	ls_buf a, b, t;

	if (w == NULL) {
		memset(&scratch, 0, sizeof(scratch));
		w = &scratch;
	}
	ls_buf_init(&a, LS_HANDSHAKE_MAX_MESSAGE);
	ls_buf_init(&b, LS_HANDSHAKE_MAX_MESSAGE);
	cr_assert_eq(ls_handshake_step(c, NULL, 0, &a, &done), LS_OK);
	while (ls_buf_len(&a) > 0) {
		ls_handshake *to = from_client ? s : c;
		static uint8_t m[MSG_CAP];
		size_t n = ls_buf_len(&a);

		memcpy(m, ls_buf_data(&a), n);
		if (w->tamper != NULL)
			w->tamper(w, w->n, m, &n);
		if (w->n < WIRE_MAX) {
			w->from_client[w->n] = from_client;
			w->len[w->n] = n;
			memcpy(w->msg[w->n], m, n);
			w->n++;
		}
		if (ls_handshake_done(to))
			break;
		ls_handshake_step(to, m, n, &b, &done);
		t = a;
		a = b;
		b = t;
		from_client = !from_client;
	}
	ls_buf_clear(&a);
	ls_buf_clear(&b);
}

static void
assert_failed(const ls_handshake *hs, int err, ls_handshake_reason why, const char *who)
{
	cr_assert(ls_handshake_done(hs), "%s: not done", who);
	cr_assert_eq(ls_handshake_status(hs), err, "%s: status %s, expected %s", who,
	             ls_strerror(ls_handshake_status(hs)), ls_strerror(err));
	cr_assert_eq(ls_handshake_get_reason(hs), why, "%s: reason \"%s\", expected \"%s\"", who,
	             ls_handshake_reason_string(ls_handshake_get_reason(hs)),
	             ls_handshake_reason_string(why));
	cr_assert(ls_handshake_test_is_wiped(hs), "%s: secrets left after failure", who);
}

static void
assert_ok(const ls_handshake *hs, const char *who)
{
	cr_assert(ls_handshake_done(hs), "%s: not done", who);
	cr_assert_eq(ls_handshake_status(hs), LS_OK, "%s: %s (%s)", who,
	             ls_strerror(ls_handshake_status(hs)),
	             ls_handshake_reason_string(ls_handshake_get_reason(hs)));
	cr_assert_eq(ls_handshake_get_reason(hs), LS_HS_NONE);
	cr_assert(ls_handshake_test_is_wiped(hs), "%s: secrets left after success", who);
}

/* Seals @len bytes one way and opens them the other way. */
static void
channel_round_trip(ls_channel *from, ls_channel *to, const char *text)
{
	ls_record_type type;
	ls_buf rec, pt;

	ls_buf_init(&rec, LS_CHANNEL_MAX_RECORD);
	ls_buf_init(&pt, LS_CHANNEL_MAX_PLAINTEXT);
	cr_assert_eq(ls_channel_seal(from, LS_RECORD_DATA, text, strlen(text), &rec), LS_OK);
	cr_assert_eq(ls_channel_open(to, ls_buf_data(&rec), ls_buf_len(&rec), &pt, &type), LS_OK);
	cr_assert_eq(ls_buf_len(&pt), strlen(text));
	cr_assert(memcmp(ls_buf_data(&pt), text, strlen(text)) == 0);
	ls_buf_clear(&rec);
	ls_buf_clear(&pt);
}

static void
assert_channels_work(ls_handshake *c, ls_handshake *s)
{
	ls_channel *cc = NULL, *sc = NULL;

	cr_assert_eq(ls_handshake_take_channel(c, &cc), LS_OK);
	cr_assert_eq(ls_handshake_take_channel(s, &sc), LS_OK);
	cr_assert_eq(ls_handshake_take_channel(c, &cc), LS_ERR_STATE, "taken once only");
	channel_round_trip(cc, sc, "client to server");
	channel_round_trip(sc, cc, "server to client");
	channel_round_trip(cc, sc, "and back again");
	ls_channel_free(cc);
	ls_channel_free(sc);
}

/* ---- over transports, with the server in a thread ----------------------------------------- */

struct server_thread {
	ls_handshake *hs;
	ls_transport *t;
	int result;
	int echoed;
};

/* Runs the handshake, greets the client through the channel, then echoes until it closes. */
static void *
server_main(void *arg)
{
	struct server_thread *st = arg;
	ls_channel *ch = NULL;
	ls_buf in;
	int r;

	ls_buf_init(&in, LS_CHANNEL_MAX_PLAINTEXT);
	st->result = ls_handshake_server_run(st->hs, st->t, 20000);
	if (st->result == LS_OK)
		st->result = ls_handshake_take_channel(st->hs, &ch);
	if (st->result == LS_OK)
		st->result = ls_channel_send(ch, st->t, "welcome", 7, 10000);
	while (st->result == LS_OK) {
		r = ls_channel_recv(ch, st->t, &in, 10000);
		if (r == LS_ERR_EOF) {
			st->result = ls_channel_send_close(ch, st->t, 10000);
			break;
		}
		if (r == LS_OK)
			r = ls_channel_send(ch, st->t, ls_buf_data(&in), ls_buf_len(&in), 10000);
		if (r != LS_OK)
			st->result = r;
		else
			st->echoed++;
	}
	ls_channel_free(ch);
	ls_buf_clear(&in);
	return NULL;
}

/* The client half: handshake, then the greeting, three echoes and an orderly close. */
static void
client_talks(ls_handshake *c, ls_transport *t)
{
	static const char *const msgs[] = { "one", "two two", "three three three" };
	ls_channel *ch = NULL;
	ls_buf in;

	cr_assert_eq(ls_handshake_client_run(c, t, 20000), LS_OK, "client: %s",
	             ls_handshake_reason_string(ls_handshake_get_reason(c)));
	cr_assert_eq(ls_handshake_take_channel(c, &ch), LS_OK);
	ls_buf_init(&in, LS_CHANNEL_MAX_PLAINTEXT);
	cr_assert_eq(ls_channel_recv(ch, t, &in, 10000), LS_OK);
	cr_assert_eq(ls_buf_len(&in), 7);
	cr_assert(memcmp(ls_buf_data(&in), "welcome", 7) == 0, "server to client");
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(ls_channel_send(ch, t, msgs[i], strlen(msgs[i]), 10000), LS_OK);
		cr_assert_eq(ls_channel_recv(ch, t, &in, 10000), LS_OK);
		cr_assert_eq(ls_buf_len(&in), strlen(msgs[i]));
		cr_assert(memcmp(ls_buf_data(&in), msgs[i], strlen(msgs[i])) == 0);
	}
	cr_assert_eq(ls_channel_send_close(ch, t, 10000), LS_OK);
	cr_assert_eq(ls_channel_recv(ch, t, &in, 10000), LS_ERR_EOF, "the server closed in turn");
	ls_channel_free(ch);
	ls_buf_clear(&in);
}

static void
tcp_pair(int *cfd, int *sfd)
{
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(lfd, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&addr, &alen), 0);
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(*cfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	*sfd = accept(lfd, NULL, NULL);
	cr_assert_geq(*sfd, 0);
	close(lfd);
}

static void
session_over(bool tcp, ls_curve curve, unsigned ind)
{
	struct server_thread sth = { 0 };
	ls_transport *ct = NULL;
	struct store st;
	struct account *a;
	ls_handshake *c;
	pthread_t th;

	store_init(&st);
	a = store_add(&st, "alice@example.org", "correct horse", curve, ind);
	a->c.c1 = 1; /* one failure away from locked: the success must reset it */
	if (tcp) {
		int cfd, sfd;

		tcp_pair(&cfd, &sfd);
		cr_assert_eq(ls_transport_socket_new(cfd, 0, &ct), LS_OK);
		cr_assert_eq(ls_transport_socket_new(sfd, 0, &sth.t), LS_OK);
	} else {
		cr_assert_eq(ls_transport_memory_pair(0, &ct, &sth.t), LS_OK);
	}
	sth.hs = server_new(&st);
	c = client_session("alice@example.org", "correct horse");
	cr_assert_eq(pthread_create(&th, NULL, server_main, &sth), 0);
	client_talks(c, ct);
	pthread_join(th, NULL);
	cr_assert_eq(sth.result, LS_OK, "server on %s: %s (%s)", ls_curve_name(curve),
	             ls_strerror(sth.result),
	             ls_handshake_reason_string(ls_handshake_get_reason(sth.hs)));
	cr_assert_eq(sth.echoed, 3);
	assert_ok(c, "client");
	assert_ok(sth.hs, "server");
	cr_assert_eq(ls_handshake_version(c), 1);
	cr_assert_eq(ls_handshake_version(sth.hs), 1);
	cr_assert_str_eq(ls_handshake_nickname(sth.hs), "alice@example.org");
	cr_assert_eq(ls_handshake_purpose_of(sth.hs), LS_HANDSHAKE_SESSION);
	cr_assert_eq(st.lookups, 1);
	cr_assert_eq(st.begins, 1);
	cr_assert_eq(st.successes, 1);
	cr_assert_eq(a->c.c1, st.limits.clim1, "a success resets C1");
	cr_assert_eq(a->c.c3, st.limits.clim3 - 1, "C3 counts every run");
	ls_handshake_free(c);
	ls_handshake_free(sth.hs);
	ls_transport_free(ct);
	ls_transport_free(sth.t);
}

Test(session, every_curve_over_the_memory_transport)
{
	for (size_t i = 0; i < N_CURVES; i++)
		session_over(false, all_curves[i], 1 + (unsigned)i % 3);
}

Test(session, every_curve_over_tcp_between_two_threads)
{
	for (size_t i = 0; i < N_CURVES; i++)
		session_over(true, all_curves[i], 3 - (unsigned)i % 3);
}

Test(session, in_process_steps_and_channels)
{
	struct store st;
	ls_handshake *c, *s;
	struct wire w = { 0 };

	store_init(&st);
	store_add(&st, "bob", "hunter2", LS_HANDSHAKE_DEFAULT_CURVE, 2);
	c = client_session("bob", "hunter2");
	s = server_new(&st);
	pump(c, s, &w);
	assert_ok(c, "client");
	assert_ok(s, "server");
	cr_assert_eq(w.n, 6, "hello, hello, u1, u2, MAC_A, MAC_B");
	assert_channels_work(c, s);
	ls_handshake_free(c);
	ls_handshake_free(s);
}

/* The documented transcript hash is what DATA_A and DATA_B carry. */
Test(session, transcript_hash_is_the_documented_one)
{
	uint8_t th[32], len[4];
	struct store st;
	ls_handshake *c, *s;
	struct wire w = { 0 };
	ls_md_ctx *md;

	store_init(&st);
	store_add(&st, "carol", "pw", LS_CURVE_CP_B, 1);
	c = client_session("carol", "pw");
	s = server_new(&st);
	pump(c, s, &w);
	assert_ok(c, "client");
	cr_assert_eq(ls_md_new(LS_MD_STREEBOG256, &md), LS_OK);
	cr_assert_eq(ls_md_update(md, LABEL_TRANSCRIPT, strlen(LABEL_TRANSCRIPT)), LS_OK);
	for (int i = 0; i < 2; i++) {
		len[0] = (uint8_t)(w.len[i] >> 24);
		len[1] = (uint8_t)(w.len[i] >> 16);
		len[2] = (uint8_t)(w.len[i] >> 8);
		len[3] = (uint8_t)w.len[i];
		cr_assert_eq(ls_md_update(md, len, 4), LS_OK);
		cr_assert_eq(ls_md_update(md, w.msg[i], w.len[i]), LS_OK);
	}
	cr_assert_eq(ls_md_final(md, th, sizeof(th)), LS_OK);
	ls_md_free(md);
	cr_assert_eq(w.msg[4][0], MSG_MAC_A);
	cr_assert_eq(w.len[4], 65);
	cr_assert(memcmp(w.msg[4] + 1, th, 32) == 0, "DATA_A = transcript hash");
	cr_assert_eq(w.msg[5][0], MSG_MAC_B);
	cr_assert(memcmp(w.msg[5] + 1, th, 32) == 0, "DATA_B = transcript hash");
	/* The hello layout: magic, versions, nonce, purpose, nickname, empty extensions. */
	cr_assert(memcmp(w.msg[0], "LS11\x00\x01\x00\x01", 8) == 0);
	cr_assert_eq(w.msg[0][40], LS_HANDSHAKE_SESSION);
	cr_assert_eq(w.len[0], 41 + 4 + 5 + 4);
	cr_assert_eq(w.msg[1][0], MSG_SERVER_HELLO);
	cr_assert_eq(w.msg[1][35], LS_HANDSHAKE_SESSION);
	cr_assert_eq(w.msg[1][36], LS_CURVE_CP_B);
	cr_assert_eq(w.msg[1][37], 1);
	cr_assert_eq(w.len[1], 38 + 4 + 32 + 4);
	cr_assert_eq(w.len[2], 1 + 64);
	cr_assert_eq(w.len[3], 1 + 64);
	ls_handshake_free(c);
	ls_handshake_free(s);
}

Test(session, wrong_password_fails_on_both_sides)
{
	struct store st;
	struct account *a;
	ls_handshake *c, *s;
	ls_channel *ch = NULL;

	store_init(&st);
	a = store_add(&st, "dave", "right", LS_HANDSHAKE_DEFAULT_CURVE, 1);
	c = client_session("dave", "wrong");
	s = server_new(&st);
	pump(c, s, NULL);
	assert_failed(c, LS_ERR_AUTH_FAILED, LS_HS_AUTH_FAILED, "client");
	assert_failed(s, LS_ERR_AUTH_FAILED, LS_HS_AUTH_FAILED, "server");
	cr_assert_eq(ls_handshake_take_channel(c, &ch), LS_ERR_STATE);
	cr_assert_eq(ls_handshake_take_channel(s, &ch), LS_ERR_STATE);
	cr_assert_null(ch);
	cr_assert_eq(st.successes, 0);
	cr_assert_eq(a->c.c1, st.limits.clim1 - 1, "the failure stays counted");
	ls_handshake_free(c);
	ls_handshake_free(s);
}

/* ---- unknown nicknames -------------------------------------------------------------------- */

/* Message types and sizes of a run; the client's verdict. */
static void
assert_same_shape(const struct wire *a, const struct wire *b)
{
	cr_assert_eq(a->n, b->n, "as many messages (%d, %d)", a->n, b->n);
	for (int i = 0; i < a->n; i++) {
		cr_assert_eq(a->from_client[i], b->from_client[i]);
		cr_assert_eq(a->len[i], b->len[i], "message %d: %zu and %zu bytes", i, a->len[i],
		             b->len[i]);
		if (i > 0)
			cr_assert_eq(a->msg[i][0], b->msg[i][0], "message %d: same type", i);
	}
}

Test(unknown, indistinguishable_from_a_wrong_password)
{
	struct wire wk = { 0 }, wu = { 0 };
	struct store st;
	ls_handshake *c, *s;
	int known_begins;

	store_init(&st);
	store_add(&st, "erin", "secret", LS_HANDSHAKE_DEFAULT_CURVE, LS_HANDSHAKE_DEFAULT_IND);

	c = client_session("erin", "guess");
	s = server_new(&st);
	pump(c, s, &wk);
	assert_failed(c, LS_ERR_AUTH_FAILED, LS_HS_AUTH_FAILED, "client, wrong password");
	assert_failed(s, LS_ERR_AUTH_FAILED, LS_HS_AUTH_FAILED, "server, wrong password");
	cr_assert(st.last_begin_known);
	known_begins = st.begins;
	ls_handshake_free(c);
	ls_handshake_free(s);

	c = client_session("ezra", "guess"); /* as long as "erin": same hello sizes */
	s = server_new(&st);
	pump(c, s, &wu);
	assert_failed(c, LS_ERR_AUTH_FAILED, LS_HS_AUTH_FAILED, "client, unknown nickname");
	assert_failed(s, LS_ERR_AUTH_FAILED, LS_HS_UNKNOWN_ACCOUNT, "server, unknown nickname");
	cr_assert_eq(st.begins, known_begins + 1, "begin_attempt runs for unknown nicknames too");
	cr_assert(!st.last_begin_known);
	cr_assert_eq(st.successes, 0);
	ls_handshake_free(c);
	ls_handshake_free(s);

	/* hello, hello, u1, u2, MAC_A, ERROR: same sizes, same types, same final bytes. */
	cr_assert_eq(wk.n, 6);
	assert_same_shape(&wk, &wu);
	cr_assert_eq(wk.msg[1][36], wu.msg[1][36], "same curve");
	cr_assert_eq(wk.msg[1][37], wu.msg[1][37], "same ind");
	cr_assert(memcmp(wk.msg[1] + 38, wu.msg[1] + 38, 4) == 0, "same salt length");
	cr_assert_eq(wk.msg[5][0], MSG_ERROR);
	cr_assert_eq(wk.len[5], wu.len[5]);
	cr_assert(memcmp(wk.msg[5], wu.msg[5], wk.len[5]) == 0, "the same ERROR message");
	cr_assert_eq(wk.msg[5][1], ERR_AUTH_FAILED);
}

/* The server hello of @nick from a server of @st with @secret: its salt, curve and ind. */
static void
hello_salt(struct store *st, const char *nick, const uint8_t *secret, uint8_t salt[32],
           uint8_t curve_ind[2])
{
	ls_handshake_server_config cfg = server_config(st);
	ls_handshake *c, *s;
	ls_buf a, b;
	bool done;

	cfg.secret = secret;
	cr_assert_eq(ls_handshake_server_new(&cfg, &s), LS_OK);
	c = client_session(nick, "pw");
	ls_buf_init(&a, LS_HANDSHAKE_MAX_MESSAGE);
	ls_buf_init(&b, LS_HANDSHAKE_MAX_MESSAGE);
	cr_assert_eq(ls_handshake_step(c, NULL, 0, &a, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(s, ls_buf_data(&a), ls_buf_len(&a), &b, &done), LS_OK);
	cr_assert_eq(ls_buf_len(&b), 38 + 4 + 32 + 4);
	memcpy(salt, ls_buf_data(&b) + 42, 32);
	curve_ind[0] = ls_buf_data(&b)[36];
	curve_ind[1] = ls_buf_data(&b)[37];
	ls_buf_clear(&a);
	ls_buf_clear(&b);
	ls_handshake_free(c);
	ls_handshake_free(s);
}

Test(unknown, the_same_salt_for_every_hello_of_one_nickname)
{
	uint8_t s1[32], s2[32], s3[32], s4[32], ci[2];
	uint8_t other_secret[32];
	struct store st;
	struct account *a;

	store_init(&st);
	a = store_add(&st, "grace", "pw", LS_CURVE_CP_C, 3);
	memset(other_secret, 0x5a, sizeof(other_secret));
	hello_salt(&st, "nobody", server_secret, s1, ci);
	cr_assert_eq(ci[0], LS_HANDSHAKE_DEFAULT_CURVE);
	cr_assert_eq(ci[1], LS_HANDSHAKE_DEFAULT_IND);
	hello_salt(&st, "nobody", server_secret, s2, ci);
	cr_assert(memcmp(s1, s2, 32) == 0, "repeated hellos give the same salt");
	hello_salt(&st, "nobody2", server_secret, s3, ci);
	cr_assert(memcmp(s1, s3, 32) != 0, "another nickname, another salt");
	hello_salt(&st, "nobody", other_secret, s4, ci);
	cr_assert(memcmp(s1, s4, 32) != 0, "another server secret, another salt");
	/* A real account's hello carries its stored parameters. */
	hello_salt(&st, "grace", server_secret, s2, ci);
	cr_assert(memcmp(s2, a->v.salt, 32) == 0);
	cr_assert_eq(ci[0], LS_CURVE_CP_C);
	cr_assert_eq(ci[1], 3);
	cr_assert_eq(st.begins, 0, "a hello alone counts no attempt");
}

Test(unknown, fake_parameters_follow_the_server_config)
{
	ls_handshake_server_config cfg;
	struct store st;
	ls_handshake *c, *s;
	struct wire w = { 0 };

	store_init(&st);
	cfg = server_config(&st);
	cfg.fake_curve = LS_CURVE_TC26_512_B;
	cfg.fake_ind = 3;
	cr_assert_eq(ls_handshake_server_new(&cfg, &s), LS_OK);
	c = client_session("heidi", "pw");
	pump(c, s, &w);
	cr_assert_eq(w.msg[1][36], LS_CURVE_TC26_512_B);
	cr_assert_eq(w.msg[1][37], 3);
	cr_assert_eq(w.len[2], 1 + 128, "the client ran SESPAKE on the fake curve");
	assert_failed(c, LS_ERR_AUTH_FAILED, LS_HS_AUTH_FAILED, "client");
	assert_failed(s, LS_ERR_AUTH_FAILED, LS_HS_UNKNOWN_ACCOUNT, "server");
	ls_handshake_free(c);
	ls_handshake_free(s);
}

/* ---- RFC 8133 counters -------------------------------------------------------------------- */

static void
run_session(struct store *st, const char *nick, const char *pw, struct wire *w, int *cerr,
            ls_handshake_reason *swhy)
{
	ls_handshake *c = client_session(nick, pw), *s = server_new(st);

	pump(c, s, w);
	*cerr = ls_handshake_status(c);
	*swhy = ls_handshake_get_reason(s);
	if (*cerr == LS_OK)
		assert_channels_work(c, s);
	ls_handshake_free(c);
	ls_handshake_free(s);
}

Test(counters, exhausted_refuses_even_the_right_password)
{
	struct wire wrong = { 0 }, locked = { 0 };
	ls_handshake_reason why;
	struct store st;
	struct account *a;
	int err;

	store_init(&st);
	a = store_add(&st, "ivan", "letmein", LS_HANDSHAKE_DEFAULT_CURVE, 1);
	for (uint32_t i = 0; i < st.limits.clim1; i++) {
		memset(&wrong, 0, sizeof(wrong));
		run_session(&st, "ivan", "nope", &wrong, &err, &why);
		cr_assert_eq(err, LS_ERR_AUTH_FAILED);
		cr_assert_eq(why, LS_HS_AUTH_FAILED);
	}
	cr_assert_eq(a->c.c1, 0, "C1 exhausted");
	run_session(&st, "ivan", "letmein", &locked, &err, &why);
	cr_assert_eq(err, LS_ERR_AUTH_FAILED, "the client cannot tell locked from wrong");
	cr_assert_eq(why, LS_HS_ACCOUNT_LOCKED, "the server knows");
	assert_same_shape(&wrong, &locked);
	cr_assert(memcmp(wrong.msg[5], locked.msg[5], wrong.len[5]) == 0);
	cr_assert_eq(a->c.c1, 0);
	cr_assert_eq(st.successes, 0, "no success was recorded");

	/* An administrator re-initialises the counters: the right password works again. */
	cr_assert_eq(ls_sespake_counters_init(&st.limits, &a->c), LS_OK);
	run_session(&st, "ivan", "letmein", NULL, &err, &why);
	cr_assert_eq(err, LS_OK);
}

Test(counters, success_resets_consecutive_failures)
{
	ls_handshake_reason why;
	struct store st;
	struct account *a;
	int err;

	store_init(&st);
	a = store_add(&st, "judy", "pw", LS_HANDSHAKE_DEFAULT_CURVE, 1);
	for (int round = 0; round < 3; round++) {
		for (uint32_t i = 0; i + 1 < st.limits.clim1; i++) {
			run_session(&st, "judy", "bad", NULL, &err, &why);
			cr_assert_eq(err, LS_ERR_AUTH_FAILED);
		}
		cr_assert_eq(a->c.c1, 1);
		run_session(&st, "judy", "pw", NULL, &err, &why);
		cr_assert_eq(err, LS_OK, "round %d", round);
		cr_assert_eq(a->c.c1, st.limits.clim1, "C1 reset by the success");
	}
	/* C2: each attempt took one, each success gave one back. */
	cr_assert_eq(a->c.c2, st.limits.clim2 - 3 * (st.limits.clim1 - 1));
	cr_assert_eq(a->c.c3, st.limits.clim3 - 3 * st.limits.clim1);
}

struct client_counters {
	ls_sespake_limits limits;
	ls_sespake_counters c;
	int begins, successes;
};

static int
cc_begin(void *user)
{
	struct client_counters *cc = user;

	cc->begins++;
	return ls_sespake_counters_begin(&cc->limits, &cc->c);
}

static int
cc_success(void *user)
{
	struct client_counters *cc = user;

	cc->successes++;
	return ls_sespake_counters_success(&cc->limits, &cc->c);
}

static ls_handshake *
client_counted(const char *nick, const char *pw, struct client_counters *cc)
{
	ls_handshake_client_params p;
	ls_handshake *hs = NULL;

	memset(&p, 0, sizeof(p));
	p.purpose = LS_HANDSHAKE_SESSION;
	p.nickname = nick;
	p.password = pw;
	p.password_len = strlen(pw);
	p.begin_attempt = cc_begin;
	p.record_success = cc_success;
	p.user_data = cc;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_OK);
	return hs;
}

Test(counters, client_side_counters)
{
	struct client_counters cc = { .limits = LS_SESPAKE_LIMITS_DEFAULT };
	struct store st;
	ls_handshake *c, *s;
	struct wire w = { 0 };

	store_init(&st);
	store_add(&st, "kate", "pw", LS_HANDSHAKE_DEFAULT_CURVE, 1);
	cr_assert_eq(ls_sespake_counters_init(&cc.limits, &cc.c), LS_OK);
	cc.c.c1 = 1;
	c = client_counted("kate", "pw", &cc);
	s = server_new(&st);
	pump(c, s, NULL);
	assert_ok(c, "client");
	cr_assert_eq(cc.begins, 1);
	cr_assert_eq(cc.successes, 1);
	cr_assert_eq(cc.c.c1, cc.limits.clim1);
	ls_handshake_free(c);
	ls_handshake_free(s);

	/* Exhausted locally: the client stops before u1 and tells the server it gave up. */
	cc.c.c1 = 0;
	c = client_counted("kate", "pw", &cc);
	s = server_new(&st);
	pump(c, s, &w);
	assert_failed(c, LS_ERR_ATTEMPTS_EXHAUSTED, LS_HS_LOCAL_LOCKED, "client");
	assert_failed(s, LS_ERR_REFUSED, LS_HS_PEER_ABORTED, "server");
	cr_assert_eq(w.n, 3);
	cr_assert_eq(w.msg[2][0], MSG_ERROR);
	cr_assert_eq(w.msg[2][1], ERR_ABORTED);
	cr_assert_eq(st.begins, 1, "the server never started an attempt for it");
	ls_handshake_free(c);
	ls_handshake_free(s);
}

Test(counters, failing_callbacks_end_the_handshake)
{
	struct store st;
	ls_handshake *c, *s;
	struct account *a;

	store_init(&st);
	a = store_add(&st, "leo", "pw", LS_HANDSHAKE_DEFAULT_CURVE, 1);

	st.fail_lookup = LS_ERR_IO;
	c = client_session("leo", "pw");
	s = server_new(&st);
	pump(c, s, NULL);
	assert_failed(c, LS_ERR_REFUSED, LS_HS_PEER_INTERNAL, "client, lookup");
	assert_failed(s, LS_ERR_IO, LS_HS_CALLBACK, "server, lookup");
	cr_assert_eq(st.begins, 0);
	ls_handshake_free(c);
	ls_handshake_free(s);
	st.fail_lookup = 0;

	st.fail_begin = LS_ERR_IO;
	c = client_session("leo", "pw");
	s = server_new(&st);
	pump(c, s, NULL);
	assert_failed(c, LS_ERR_REFUSED, LS_HS_PEER_INTERNAL, "client, begin");
	assert_failed(s, LS_ERR_IO, LS_HS_CALLBACK, "server, begin");
	ls_handshake_free(c);
	ls_handshake_free(s);
	st.fail_begin = 0;

	st.fail_success = LS_ERR_IO;
	c = client_session("leo", "pw");
	s = server_new(&st);
	pump(c, s, NULL);
	assert_failed(c, LS_ERR_REFUSED, LS_HS_PEER_INTERNAL, "client, success");
	assert_failed(s, LS_ERR_IO, LS_HS_CALLBACK, "server, success");
	cr_assert_eq(a->c.c1, st.limits.clim1 - 1, "no MAC_B without a recorded success");
	ls_handshake_free(c);
	ls_handshake_free(s);

	/* A corrupt verifier in the store is the store's failure, not the client's. */
	st.fail_success = 0;
	a->v.ind = 9;
	c = client_session("leo", "pw");
	s = server_new(&st);
	pump(c, s, NULL);
	assert_failed(c, LS_ERR_REFUSED, LS_HS_PEER_INTERNAL, "client, corrupt store");
	assert_failed(s, LS_ERR_MALFORMED, LS_HS_CALLBACK, "server, corrupt store");
	ls_handshake_free(c);
	ls_handshake_free(s);
}

/* ---- versions ----------------------------------------------------------------------------- */

static void
versions(unsigned cmin, unsigned cmax, unsigned smin, unsigned smax, ls_handshake **c,
         ls_handshake **s, struct store *st)
{
	store_init(st);
	store_add(st, "mallory", "pw", LS_HANDSHAKE_DEFAULT_CURVE, 1);
	*c = client_session("mallory", "pw");
	*s = server_new(st);
	cr_assert_eq(ls_handshake_test_set_versions(*c, cmin, cmax), LS_OK);
	cr_assert_eq(ls_handshake_test_set_versions(*s, smin, smax), LS_OK);
}

Test(version, overlap_chooses_the_highest_common)
{
	static const unsigned cases[][5] = {
		{ 1, 3, 2, 5, 3 }, { 2, 5, 1, 3, 3 }, { 1, 1, 1, 9, 1 }, { 4, 9, 1, 4, 4 },
		{ 7, 7, 7, 7, 7 }, { 1, 65535, 300, 301, 301 },
	};
	struct store st;
	ls_handshake *c, *s;
	unsigned lo, hi;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		versions(cases[i][0], cases[i][1], cases[i][2], cases[i][3], &c, &s, &st);
		pump(c, s, NULL);
		assert_ok(c, "client");
		assert_ok(s, "server");
		cr_assert_eq(ls_handshake_version(c), cases[i][4], "case %zu", i);
		cr_assert_eq(ls_handshake_version(s), cases[i][4], "case %zu", i);
		cr_assert_eq(ls_handshake_peer_versions(s, &lo, &hi), LS_OK);
		cr_assert_eq(lo, cases[i][0]);
		cr_assert_eq(hi, cases[i][1]);
		ls_handshake_free(c);
		ls_handshake_free(s);
	}
}

Test(version, no_overlap_is_a_precise_error_on_the_client)
{
	struct store st;
	ls_handshake *c, *s;
	struct wire w = { 0 };
	unsigned lo, hi;

	versions(4, 6, 1, 3, &c, &s, &st);
	cr_assert_eq(ls_handshake_peer_versions(c, &lo, &hi), LS_ERR_STATE);
	pump(c, s, &w);
	assert_failed(c, LS_ERR_REFUSED, LS_HS_VERSION_MISMATCH, "client");
	assert_failed(s, LS_ERR_REFUSED, LS_HS_VERSION_MISMATCH, "server");
	cr_assert_eq(ls_handshake_peer_versions(c, &lo, &hi), LS_OK);
	cr_assert_eq(lo, 1, "the client learns what the server speaks");
	cr_assert_eq(hi, 3);
	cr_assert_eq(w.n, 2);
	cr_assert_eq(w.len[1], 6);
	cr_assert(memcmp(w.msg[1], "\x0f\x02\x00\x01\x00\x03", 6) == 0);
	cr_assert_eq(st.lookups, 0, "nothing looked up");
	ls_handshake_free(c);
	ls_handshake_free(s);

	/* The other way round. */
	versions(1, 2, 3, 3, &c, &s, &st);
	pump(c, s, NULL);
	assert_failed(c, LS_ERR_REFUSED, LS_HS_VERSION_MISMATCH, "client");
	cr_assert_eq(ls_handshake_peer_versions(c, &lo, &hi), LS_OK);
	cr_assert_eq(lo, 3);
	cr_assert_eq(hi, 3);
	ls_handshake_free(c);
	ls_handshake_free(s);
}

/* A future client's hello: its version range is read before the rest, which may differ. */
Test(version, mismatch_is_answered_before_the_rest_is_read)
{
	static const uint8_t future[] = "LS11\x00\x07\x00\x09 whatever a version 7 hello holds";
	struct store st;
	ls_handshake *s;
	ls_buf out;
	bool done;

	store_init(&st);
	s = server_new(&st);
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	cr_assert_eq(ls_handshake_step(s, future, sizeof(future) - 1, &out, &done),
	             LS_ERR_REFUSED);
	cr_assert(done);
	cr_assert_eq(ls_handshake_get_reason(s), LS_HS_VERSION_MISMATCH);
	cr_assert_eq(ls_buf_len(&out), 6);
	cr_assert(memcmp(ls_buf_data(&out), "\x0f\x02\x00\x01\x00\x01", 6) == 0);
	ls_buf_clear(&out);
	ls_handshake_free(s);
}

/* A man in the middle lowers the client's maximum: the transcript catches it. */
static void
tamper_version_max(struct wire *w, int index, uint8_t *p, size_t *len)
{
	if (index == 0)
		p[7] = 1; /* ver_max, low byte */
}

Test(version, downgrade_in_flight_fails_authentication)
{
	struct store st;
	ls_handshake *c, *s;
	struct wire w = { 0 };

	versions(1, 2, 1, 2, &c, &s, &st);
	w.tamper = tamper_version_max;
	pump(c, s, &w);
	cr_assert_eq(ls_handshake_version(s), 1, "the server was fooled into version 1");
	assert_failed(c, LS_ERR_AUTH_FAILED, LS_HS_AUTH_FAILED, "client");
	assert_failed(s, LS_ERR_AUTH_FAILED, LS_HS_TRANSCRIPT_MISMATCH, "server");
	ls_handshake_free(c);
	ls_handshake_free(s);
}

/* ---- registration ------------------------------------------------------------------------- */

static void
register_and_login(ls_handshake *c, struct store *st, const char *nick, const char *pw)
{
	ls_handshake_reason why;
	ls_handshake *s = server_new(st);
	int err;

	pump(c, s, NULL);
	assert_ok(c, "registering client");
	assert_ok(s, "registering server");
	cr_assert_eq(ls_handshake_purpose_of(s), LS_HANDSHAKE_REGISTER);
	ls_channel *ch = NULL;
	cr_assert_eq(ls_handshake_take_channel(c, &ch), LS_ERR_STATE, "a registration ends there");
	cr_assert_eq(ls_handshake_take_channel(s, &ch), LS_ERR_STATE);
	ls_handshake_free(s);
	cr_assert_not_null(store_find(st, nick), "the server stored the account");
	run_session(st, nick, pw, NULL, &err, &why);
	cr_assert_eq(err, LS_OK, "a session with the new password: %s",
	             ls_handshake_reason_string(why));
	run_session(st, nick, "not it", NULL, &err, &why);
	cr_assert_eq(err, LS_ERR_AUTH_FAILED);
}

Test(register, trust_on_first_use_then_a_session)
{
	uint8_t fp[LS_HANDSHAKE_FINGERPRINT_SIZE], got[LS_HANDSHAKE_FINGERPRINT_SIZE];
	struct trust t = { .answer = true };
	struct store st;
	struct account *a;
	ls_sespake_verifier v;
	ls_handshake *c;

	store_init(&st);
	c = client_register("newbie", "first password", &t, NULL, NULL);
	cr_assert_eq(ls_handshake_server_fingerprint(c, got), LS_ERR_STATE);
	register_and_login(c, &st, "newbie", "first password");
	cr_assert_eq(t.calls, 1);
	cr_assert(!t.had_pin);
	cr_assert_eq(t.curve, LS_CURVE_TC26_256_A);
	cr_assert_eq(ls_handshake_key_fingerprint(identity_key(LS_CURVE_TC26_256_A), fp), LS_OK);
	cr_assert(memcmp(t.fp, fp, sizeof(fp)) == 0, "the callback saw the key's fingerprint");
	cr_assert_eq(ls_handshake_server_fingerprint(c, got), LS_OK);
	cr_assert(memcmp(got, fp, sizeof(fp)) == 0);
	cr_assert_eq(st.registrations, 1);
	ls_handshake_free(c);

	/* The stored verifier is the password's, with the defaults, and its salt. */
	a = store_find(&st, "newbie");
	cr_assert_eq(a->v.curve, LS_HANDSHAKE_DEFAULT_CURVE);
	cr_assert_eq(a->v.ind, LS_HANDSHAKE_DEFAULT_IND);
	cr_assert_eq(a->v.salt_len, LS_HANDSHAKE_SALT_SIZE);
	cr_assert_eq(ls_sespake_verifier_make(LS_HANDSHAKE_DEFAULT_CURVE, LS_HANDSHAKE_DEFAULT_IND,
	                                      a->v.salt, a->v.salt_len, "first password", 14, &v),
	             LS_OK);
	cr_assert(memcmp(&v, &a->v, sizeof(v)) == 0);
}

/* What the current_identity callback answers (NULL: keep the configured key). */
static const ls_gost_key *current_key;

static const ls_gost_key *
cb_current_identity(void *user)
{
	(void)user;
	return current_key;
}

/* One registration with the callback set; the fingerprint the client saw goes to @got. */
static void
register_with_current(struct store *st, const char *nick,
                      uint8_t got[LS_HANDSHAKE_FINGERPRINT_SIZE])
{
	ls_handshake_server_config cfg = server_config(st);
	struct trust t = { .answer = true };
	ls_handshake *c, *s = NULL;

	cfg.current_identity = cb_current_identity;
	cr_assert_eq(ls_handshake_server_new(&cfg, &s), LS_OK);
	c = client_register(nick, "rotating pw", &t, NULL, NULL);
	pump(c, s, NULL);
	assert_ok(c, "registering client");
	assert_ok(s, "registering server");
	cr_assert_eq(ls_handshake_server_fingerprint(c, got), LS_OK);
	cr_assert(memcmp(t.fp, got, LS_HANDSHAKE_FINGERPRINT_SIZE) == 0);
	ls_handshake_free(c);
	ls_handshake_free(s);
}

/* A server that changed its key while running answers with the key of the moment. */
Test(register, current_identity_callback_gives_the_key_of_the_moment)
{
	uint8_t got[LS_HANDSHAKE_FINGERPRINT_SIZE], want[LS_HANDSHAKE_FINGERPRINT_SIZE];
	ls_gost_key *pub_only = NULL;
	uint8_t pub[128];
	struct store st;

	store_init(&st);
	current_key = identity_key(LS_CURVE_TC26_512_A);
	register_with_current(&st, "rotated1", got);
	cr_assert_eq(ls_handshake_key_fingerprint(current_key, want), LS_OK);
	cr_assert(memcmp(got, want, sizeof(want)) == 0, "the callback's key, not the configured");

	/* NULL, or a key that could not have been configured: the configured key stays. */
	cr_assert_eq(ls_handshake_key_fingerprint(identity_key(LS_CURVE_TC26_256_A), want), LS_OK);
	current_key = NULL;
	register_with_current(&st, "rotated2", got);
	cr_assert(memcmp(got, want, sizeof(want)) == 0);
	cr_assert_eq(ls_gost_key_public(identity_key(LS_CURVE_CP_A), pub, 64), LS_OK);
	cr_assert_eq(ls_gost_key_from_public(LS_CURVE_CP_A, pub, 64, &pub_only), LS_OK);
	current_key = pub_only;
	register_with_current(&st, "rotated3", got);
	cr_assert(memcmp(got, want, sizeof(want)) == 0, "a public-only key is not used");
	current_key = NULL;
	ls_gost_key_free(pub_only);
}

/* The fingerprint is Streebog-256(curve id || LE(x) || LE(y)), as documented. */
Test(register, fingerprint_is_the_documented_one)
{
	uint8_t buf[1 + 128], fp[32], want[32];

	for (size_t i = 0; i < N_CURVES; i++) {
		ls_gost_key *k = identity_key(all_curves[i]);
		size_t n2 = 2 * ls_curve_size(all_curves[i]);

		buf[0] = (uint8_t)all_curves[i];
		cr_assert_eq(ls_gost_key_public(k, buf + 1, n2), LS_OK);
		cr_assert_eq(ls_md(LS_MD_STREEBOG256, buf, 1 + n2, want, 32), LS_OK);
		cr_assert_eq(ls_handshake_key_fingerprint(k, fp), LS_OK);
		cr_assert(memcmp(fp, want, 32) == 0);
	}
}

Test(register, pinned_fingerprint_that_matches)
{
	uint8_t fp[LS_HANDSHAKE_FINGERPRINT_SIZE];
	struct trust t = { .answer = true };
	struct store st;
	ls_handshake *c;

	store_init(&st);
	cr_assert_eq(ls_handshake_key_fingerprint(identity_key(LS_CURVE_TC26_256_A), fp), LS_OK);
	c = client_register("pinned1", "pw one", NULL, fp, NULL);
	register_and_login(c, &st, "pinned1", "pw one");
	ls_handshake_free(c);

	c = client_register("pinned2", "pw two", &t, fp, NULL);
	register_and_login(c, &st, "pinned2", "pw two");
	cr_assert_eq(t.calls, 1);
	cr_assert(t.had_pin);
	cr_assert(memcmp(t.pinned, fp, sizeof(fp)) == 0);
	cr_assert(memcmp(t.fp, fp, sizeof(fp)) == 0);
	ls_handshake_free(c);
}

Test(register, pinned_fingerprint_that_differs_is_refused)
{
	uint8_t pin[LS_HANDSHAKE_FINGERPRINT_SIZE], fp[LS_HANDSHAKE_FINGERPRINT_SIZE];
	struct trust t = { .answer = true }; /* the callback would accept: the pin wins */
	struct store st;
	ls_handshake *c, *s;
	struct wire w = { 0 };

	store_init(&st);
	cr_assert_eq(ls_handshake_key_fingerprint(identity_key(LS_CURVE_TC26_256_A), fp), LS_OK);
	memcpy(pin, fp, sizeof(pin));
	pin[31] ^= 1;
	c = client_register("pinned3", "pw", &t, pin, NULL);
	s = server_new(&st);
	pump(c, s, &w);
	assert_failed(c, LS_ERR_REFUSED, LS_HS_SERVER_KEY_MISMATCH, "client");
	assert_failed(s, LS_ERR_REFUSED, LS_HS_PEER_ABORTED, "server");
	cr_assert_eq(t.calls, 1, "the callback saw both fingerprints");
	cr_assert(t.had_pin);
	cr_assert(memcmp(t.fp, fp, sizeof(fp)) == 0, "the presented one");
	cr_assert(memcmp(t.pinned, pin, sizeof(pin)) == 0, "the pinned one");
	cr_assert_eq(w.n, 3);
	cr_assert_eq(w.msg[2][0], MSG_ERROR);
	cr_assert_eq(w.msg[2][1], ERR_ABORTED);
	cr_assert_eq(st.registrations, 0);
	cr_assert_null(store_find(&st, "pinned3"));
	ls_handshake_free(c);
	ls_handshake_free(s);

	/* Without a callback as well. */
	c = client_register("pinned4", "pw", NULL, pin, NULL);
	s = server_new(&st);
	pump(c, s, NULL);
	assert_failed(c, LS_ERR_REFUSED, LS_HS_SERVER_KEY_MISMATCH, "client");
	ls_handshake_free(c);
	ls_handshake_free(s);
}

Test(register, refused_by_the_trust_callback)
{
	struct trust t = { .answer = false };
	struct store st;
	ls_handshake *c, *s;

	store_init(&st);
	c = client_register("wary", "pw", &t, NULL, NULL);
	s = server_new(&st);
	pump(c, s, NULL);
	assert_failed(c, LS_ERR_REFUSED, LS_HS_SERVER_KEY_REFUSED, "client");
	assert_failed(s, LS_ERR_REFUSED, LS_HS_PEER_ABORTED, "server");
	cr_assert_eq(t.calls, 1);
	cr_assert_eq(st.registrations, 0);
	ls_handshake_free(c);
	ls_handshake_free(s);
}

static void
register_expect(struct store *st, const char *nick, const char *code, ls_handshake_reason why)
{
	struct trust t = { .answer = true };
	ls_handshake *c = client_register(nick, "pw", &t, NULL, code), *s = server_new(st);
	struct wire w = { 0 };

	pump(c, s, &w);
	if (why == LS_HS_NONE) {
		assert_ok(c, "client");
		assert_ok(s, "server");
	} else {
		assert_failed(c, LS_ERR_REFUSED, why, "client");
		assert_failed(s, LS_ERR_REFUSED, why, "server");
	}
	cr_assert_eq(w.n, 4);
	cr_assert_eq(w.msg[3][0], MSG_REG_RESULT, "the answer is sealed in the channel");
	cr_assert_eq(w.len[3], 1 + 1 + LS_CHANNEL_OVERHEAD);
	ls_handshake_free(c);
	ls_handshake_free(s);
}

Test(register, server_policies)
{
	struct store st;

	store_init(&st);
	st.policy = REG_CLOSED;
	register_expect(&st, "pp1", NULL, LS_HS_REGISTRATION_CLOSED);
	register_expect(&st, "pp1", "anything", LS_HS_REGISTRATION_CLOSED);
	cr_assert_null(store_find(&st, "pp1"));

	st.policy = REG_CODE;
	st.code = "XK-2291-QQ";
	register_expect(&st, "pp2", NULL, LS_HS_REGISTRATION_CODE);
	register_expect(&st, "pp2", "XK-2291-QX", LS_HS_REGISTRATION_CODE);
	register_expect(&st, "pp2", "XK-2291-QQ ", LS_HS_REGISTRATION_CODE);
	cr_assert_null(store_find(&st, "pp2"));
	register_expect(&st, "pp2", "XK-2291-QQ", LS_HS_NONE);
	cr_assert_not_null(store_find(&st, "pp2"));

	st.policy = REG_OPEN;
	register_expect(&st, "pp3", NULL, LS_HS_NONE);
	register_expect(&st, "pp3", NULL, LS_HS_NICKNAME_TAKEN);
	register_expect(&st, "pp2", NULL, LS_HS_NICKNAME_TAKEN);
	st.storage_broken = true;
	register_expect(&st, "pp4", NULL, LS_HS_REGISTRATION_ERROR);
	cr_assert_eq(st.registrations, 10);
}

Test(register, a_server_without_registration)
{
	ls_handshake_server_config cfg;
	struct trust t = { .answer = true };
	struct store st;
	ls_handshake *c, *s;
	struct wire w = { 0 };

	store_init(&st);
	cfg = server_config(&st);
	cfg.identity = NULL;
	cr_assert_eq(ls_handshake_server_new(&cfg, &s), LS_OK);
	c = client_register("nope", "pw", &t, NULL, NULL);
	pump(c, s, &w);
	assert_failed(c, LS_ERR_REFUSED, LS_HS_PURPOSE_UNSUPPORTED, "client");
	assert_failed(s, LS_ERR_REFUSED, LS_HS_PURPOSE_UNSUPPORTED, "server");
	cr_assert_eq(w.msg[1][1], ERR_PURPOSE_UNSUPPORTED);
	cr_assert_eq(t.calls, 0);
	ls_handshake_free(c);
	ls_handshake_free(s);
}

Test(register, every_identity_curve_and_verifier_curve)
{
	struct trust t = { .answer = true };
	ls_handshake_server_config cfg;
	ls_handshake_client_params p;
	struct store st;
	char nick[16];
	ls_handshake *c, *s;
	struct wire w = { 0 };

	store_init(&st);
	for (size_t i = 0; i < N_CURVES; i++) {
		size_t n2 = 2 * ls_curve_size(all_curves[i]);

		cfg = server_config(&st);
		cfg.identity = identity_key(all_curves[i]);
		cr_assert_eq(ls_handshake_server_new(&cfg, &s), LS_OK);
		snprintf(nick, sizeof(nick), "curve%zu", i);
		memset(&p, 0, sizeof(p));
		p.purpose = LS_HANDSHAKE_REGISTER;
		p.nickname = nick;
		p.password = "pw";
		p.password_len = 2;
		p.curve = all_curves[N_CURVES - 1 - i];
		p.ind = 1 + (unsigned)i % 3;
		p.trust_server_key = cb_trust;
		p.user_data = &t;
		cr_assert_eq(ls_handshake_client_new(&p, &c), LS_OK);
		memset(&w, 0, sizeof(w));
		pump(c, s, &w);
		assert_ok(c, ls_curve_name(all_curves[i]));
		assert_ok(s, ls_curve_name(all_curves[i]));
		cr_assert_eq(t.curve, all_curves[i]);
		cr_assert_eq(w.len[1], 37 + 4 + n2 + 4 + 4 + n2, "hello with key and signature");
		cr_assert_eq(w.msg[2][0], MSG_REG_REQUEST);
		cr_assert_eq(store_find(&st, nick)->v.curve, p.curve);
		cr_assert_eq(store_find(&st, nick)->v.ind, p.ind);
		ls_handshake_free(c);
		ls_handshake_free(s);
	}
}

/* The password never travels: not in any message, and the request is sealed. */
Test(register, the_password_never_leaves_the_client)
{
	static const char pw[] = "a very recognisable password";
	struct trust t = { .answer = true };
	struct store st;
	ls_handshake *c, *s;
	struct wire w = { 0 };

	store_init(&st);
	c = client_register("quiet", pw, &t, NULL, "code-in-clear?");
	s = server_new(&st);
	pump(c, s, &w);
	assert_ok(c, "client");
	for (int i = 0; i < w.n; i++) {
		cr_assert_null(memmem(w.msg[i], w.len[i], pw, 8), "message %d", i);
		cr_assert_null(memmem(w.msg[i], w.len[i], "code-in-clear?", 14), "message %d", i);
		cr_assert_null(memmem(w.msg[i], w.len[i], store_find(&st, "quiet")->v.salt, 16),
		               "the verifier's salt travels sealed (message %d)", i);
	}
	ls_handshake_free(c);
	ls_handshake_free(s);
}

/*
 * A registration request built by hand from docs/protocol-handshake.md: the signature over the
 * hellos, UKM, VKO, KDF_TREE, the record.  The server accepts what the document describes and
 * refuses each broken variant with its precise reason.
 */
struct hand_reg {
	uint8_t ch[256];
	size_t ch_len;
	uint8_t sh[1024];
	size_t sh_len;
	uint8_t cn[32], sn[32], th[32];
	ls_curve curve;
	uint8_t key[128];
	size_t n2;
	ls_channel *channel;
	uint8_t eph_pub[128];
};

static void
be32(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
hash2(const char *label, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
      uint8_t *out, size_t out_len)
{
	uint8_t l[4];
	ls_md_ctx *md;

	cr_assert_eq(ls_md_new(out_len == 32 ? LS_MD_STREEBOG256 : LS_MD_STREEBOG512, &md), LS_OK);
	cr_assert_eq(ls_md_update(md, label, strlen(label)), LS_OK);
	be32(l, a_len);
	cr_assert_eq(ls_md_update(md, l, 4), LS_OK);
	cr_assert_eq(ls_md_update(md, a, a_len), LS_OK);
	be32(l, b_len);
	cr_assert_eq(ls_md_update(md, l, 4), LS_OK);
	cr_assert_eq(ls_md_update(md, b, b_len), LS_OK);
	cr_assert_eq(ls_md_final(md, out, out_len), LS_OK);
	ls_md_free(md);
}

/* Client hello (register) by hand, the server's hello checked by hand, the channel keyed. */
static void
hand_reg_start(ls_handshake *s, struct hand_reg *h, const char *nick)
{
	uint8_t digest[64], ukm[32], kvko[32], seed[32 + 128], k[32];
	ls_gost_key *server_key, *eph;
	size_t off, n = strlen(nick), size;
	ls_buf out;
	bool done;

	memset(h, 0, sizeof(*h));
	cr_assert_eq(ls_random_bytes(h->cn, 32), LS_OK);
	memcpy(h->ch, "LS11\x00\x01\x00\x01", 8);
	memcpy(h->ch + 8, h->cn, 32);
	h->ch[40] = LS_HANDSHAKE_REGISTER;
	be32(h->ch + 41, n);
	memcpy(h->ch + 45, nick, n);
	be32(h->ch + 45 + n, 0);
	h->ch_len = 49 + n;
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	cr_assert_eq(ls_handshake_step(s, h->ch, h->ch_len, &out, &done), LS_OK);
	h->sh_len = ls_buf_len(&out);
	memcpy(h->sh, ls_buf_data(&out), h->sh_len);
	ls_buf_clear(&out);

	/* type, version, nonce, purpose, curve, key, extensions, signature */
	cr_assert_eq(h->sh[0], MSG_SERVER_HELLO);
	cr_assert(memcmp(h->sh + 1, "\x00\x01", 2) == 0);
	memcpy(h->sn, h->sh + 3, 32);
	cr_assert_eq(h->sh[35], LS_HANDSHAKE_REGISTER);
	h->curve = (ls_curve)h->sh[36];
	size = ls_curve_size(h->curve);
	h->n2 = 2 * size;
	cr_assert(memcmp(h->sh + 37, "\x00\x00", 2) == 0);
	cr_assert_eq((size_t)(h->sh[39] << 8 | h->sh[40]), h->n2);
	memcpy(h->key, h->sh + 41, h->n2);
	off = 41 + h->n2;
	cr_assert(memcmp(h->sh + off, "\x00\x00\x00\x00", 4) == 0, "empty extensions");
	off += 4;
	cr_assert_eq((size_t)(h->sh[off + 2] << 8 | h->sh[off + 3]), h->n2);
	cr_assert_eq(h->sh_len, off + 4 + h->n2);

	/* signature = sign(Streebog(label || BE32 |CH| || CH || BE32 |SH'| || SH')) */
	cr_assert_eq(ls_gost_key_from_public(h->curve, h->key, h->n2, &server_key), LS_OK);
	hash2(LABEL_SIGNATURE, h->ch, h->ch_len, h->sh, off, digest, size);
	cr_assert_eq(ls_gost_verify_digest(server_key, digest, size, h->sh + off + 4, h->n2), LS_OK,
	             "the server signed the documented digest");
	ls_gost_key_free(server_key);

	/* A registration's transcript hash stops before the signature, as the signed digest. */
	hash2(LABEL_TRANSCRIPT, h->ch, h->ch_len, h->sh, off, h->th, 32);
	hash2(LABEL_UKM, h->cn, 32, h->sn, 32, ukm, 32);
	cr_assert_eq(ls_gost_key_generate(h->curve, &eph), LS_OK);
	cr_assert_eq(ls_gost_key_public(eph, h->eph_pub, h->n2), LS_OK);
	cr_assert_eq(ls_gost_vko(eph, h->key, h->n2, LS_VKO_2012_256, ukm, 16, kvko, 32), LS_OK);
	memcpy(seed, h->th, 32);
	memcpy(seed + 32, h->eph_pub, h->n2);
	cr_assert_eq(ls_kdf_tree_gostr3411_2012_256(kvko, (const uint8_t *)LABEL_REGISTER,
	                                            strlen(LABEL_REGISTER), seed, 32 + h->n2, 1, k,
	                                            32), LS_OK);
	cr_assert_eq(ls_channel_new(LS_CHANNEL_CLIENT, k, h->cn, 32, h->sn, 32, &h->channel),
	             LS_OK);
	ls_gost_key_free(eph);
}

/* Sends the request plaintext @pt; returns the server's step result and the answer's status. */
static int
hand_reg_send(ls_handshake *s, struct hand_reg *h, const ls_buf *pt, int *status)
{
	ls_record_type type;
	ls_buf msg, out, ans;
	bool done;
	int r;

	ls_buf_init(&msg, LS_HANDSHAKE_MAX_MESSAGE);
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	ls_buf_init(&ans, 64);
	ls_buf_add_u8(&msg, MSG_REG_REQUEST);
	ls_buf_add(&msg, h->eph_pub, h->n2);
	cr_assert_eq(ls_channel_seal(h->channel, LS_RECORD_DATA, ls_buf_data(pt), ls_buf_len(pt),
	                             &msg), LS_OK);
	r = ls_handshake_step(s, ls_buf_data(&msg), ls_buf_len(&msg), &out, &done);
	cr_assert(done);
	*status = -1;
	if (ls_buf_len(&out) > 0 && ls_buf_data(&out)[0] == MSG_REG_RESULT) {
		const uint8_t *rec = ls_buf_data(&out) + 1;

		cr_assert_eq(ls_channel_open(h->channel, rec, ls_buf_len(&out) - 1, &ans, &type),
		             LS_OK);
		cr_assert_eq(ls_buf_len(&ans), 1);
		*status = ls_buf_data(&ans)[0];
	} else if (ls_buf_len(&out) > 0) {
		cr_assert_eq(ls_buf_len(&out), 6);
		cr_assert_eq(ls_buf_data(&out)[0], MSG_ERROR);
		*status = 100 + ls_buf_data(&out)[1];
	}
	ls_buf_clear(&msg);
	ls_buf_clear(&out);
	ls_buf_clear(&ans);
	ls_channel_free(h->channel);
	h->channel = NULL;
	return r;
}

/* The request plaintext: nickname, curve, ind, salt, Q_PW, code. */
static void
request_plain(ls_buf *pt, const char *nick, const ls_sespake_verifier *v, size_t qpw_len,
              const char *code)
{
	ls_buf_init(pt, LS_HANDSHAKE_MAX_MESSAGE);
	ls_buf_add_cstring(pt, nick);
	ls_buf_add_u8(pt, v->curve);
	ls_buf_add_u8(pt, v->ind);
	ls_buf_add_string(pt, v->salt, v->salt_len);
	ls_buf_add_string(pt, v->q_pw, qpw_len);
	ls_buf_add_cstring(pt, code);
	cr_assert_eq(ls_buf_status(pt), LS_OK);
}

Test(register, request_built_from_the_documentation)
{
	struct {
		const char *what;
		int mutate; /* 0 valid, 1 point off the curve, 2 other nickname, 3 trailing byte,
		             * 4 unknown curve, 5 ind 4, 6 salt of 15, 7 short Q_PW, 8 long code */
		int err;
		ls_handshake_reason why;
		int status;
	} cases[] = {
		{ "bad point", 1, LS_ERR_BAD_POINT, LS_HS_BAD_VERIFIER, 100 + ERR_MALFORMED },
		{ "other nickname", 2, LS_ERR_MALFORMED, LS_HS_BAD_NICKNAME, 100 + ERR_MALFORMED },
		{ "trailing byte", 3, LS_ERR_TRAILING_DATA, LS_HS_MALFORMED, 100 + ERR_MALFORMED },
		{ "unknown curve", 4, LS_ERR_UNSUPPORTED, LS_HS_UNKNOWN_CURVE,
		  100 + ERR_MALFORMED },
		{ "ind 4", 5, LS_ERR_MALFORMED, LS_HS_BAD_IND, 100 + ERR_MALFORMED },
		{ "salt of 15", 6, LS_ERR_BAD_LENGTH, LS_HS_BAD_SALT, 100 + ERR_MALFORMED },
		{ "short Q_PW", 7, LS_ERR_BAD_LENGTH, LS_HS_BAD_POINT, 100 + ERR_MALFORMED },
		{ "long code", 8, LS_ERR_TOO_LARGE, LS_HS_MALFORMED, 100 + ERR_MALFORMED },
		{ "valid", 0, LS_OK, LS_HS_NONE, LS_HANDSHAKE_REG_OK },
	};
	char long_code[LS_HANDSHAKE_CODE_MAX + 2];
	ls_sespake_verifier v;
	struct hand_reg h;
	struct store st;
	ls_handshake *s;
	int status;
	ls_buf pt;

	memset(long_code, 'c', sizeof(long_code) - 1);
	long_code[sizeof(long_code) - 1] = '\0';
	store_init(&st);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t qlen = 64;

		cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_A, 2, NULL, 16, "by hand", 7, &v),
		             LS_OK);
		s = server_new(&st);
		hand_reg_start(s, &h, "byhand");
		switch (cases[i].mutate) {
		case 1: v.q_pw[0] ^= 1; break;
		case 4: v.curve = 6; break;
		case 5: v.ind = 4; break;
		case 6: v.salt_len = 15; break;
		case 7: qlen = 63; break;
		default: break;
		}
		request_plain(&pt, cases[i].mutate == 2 ? "byhand2" : "byhand", &v, qlen,
		              cases[i].mutate == 8 ? long_code : "");
		if (cases[i].mutate == 3)
			ls_buf_add_u8(&pt, 0);
		cr_assert_eq(hand_reg_send(s, &h, &pt, &status), cases[i].err, "%s: %s",
		             cases[i].what, ls_strerror(ls_handshake_status(s)));
		cr_assert_eq(ls_handshake_get_reason(s), cases[i].why, "%s: %s", cases[i].what,
		             ls_handshake_reason_string(ls_handshake_get_reason(s)));
		cr_assert_eq(status, cases[i].status, "%s", cases[i].what);
		cr_assert_eq(st.registrations, cases[i].mutate == 0 ? 1 : 0, "%s", cases[i].what);
		ls_buf_clear(&pt);
		ls_handshake_free(s);
	}
	cr_assert_eq(memcmp(&store_find(&st, "byhand")->v, &v, sizeof(v)), 0);
}

Test(register, hostile_request_messages)
{
	uint8_t copy[512];
	ls_sespake_verifier v;
	struct hand_reg h;
	struct store st;
	ls_handshake *s;
	ls_buf msg, out;
	bool done;

	store_init(&st);
	ls_buf_init(&msg, LS_HANDSHAKE_MAX_MESSAGE);
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	cr_assert_eq(ls_sespake_verifier_make(LS_CURVE_CP_A, 1, NULL, 16, "x", 1, &v), LS_OK);

	/* An ephemeral key off the curve. */
	s = server_new(&st);
	hand_reg_start(s, &h, "hostile");
	ls_buf_add_u8(&msg, MSG_REG_REQUEST);
	h.eph_pub[5] ^= 1;
	ls_buf_add(&msg, h.eph_pub, h.n2);
	ls_buf_add(&msg, "0123456789abcdefghij", 20);
	cr_assert_eq(ls_handshake_step(s, ls_buf_data(&msg), ls_buf_len(&msg), &out, &done),
	             LS_ERR_BAD_POINT);
	cr_assert_eq(ls_handshake_get_reason(s), LS_HS_BAD_POINT);
	cr_assert_eq(ls_buf_data(&out)[1], ERR_MALFORMED);
	ls_channel_free(h.channel);
	ls_handshake_free(s);

	/* A tampered record. */
	s = server_new(&st);
	hand_reg_start(s, &h, "hostile");
	ls_buf_reset(&msg);
	ls_buf_add_u8(&msg, MSG_REG_REQUEST);
	ls_buf_add(&msg, h.eph_pub, h.n2);
	cr_assert_eq(ls_channel_seal(h.channel, LS_RECORD_DATA, "whatever", 8, &msg), LS_OK);
	memcpy(copy, ls_buf_data(&msg), ls_buf_len(&msg));
	copy[ls_buf_len(&msg) - 1] ^= 0x80;
	cr_assert_eq(ls_handshake_step(s, copy, ls_buf_len(&msg), &out, &done),
	             LS_ERR_RECORD_AUTH);
	cr_assert_eq(ls_handshake_get_reason(s), LS_HS_BAD_RECORD);
	ls_channel_free(h.channel);
	ls_handshake_free(s);

	/* Too short for a key and a record, at every seventh length. */
	for (size_t n = 1; n < 1 + h.n2 + LS_CHANNEL_OVERHEAD; n += 7) {
		ls_handshake *s2 = server_new(&st);
		struct hand_reg h2;

		hand_reg_start(s2, &h2, "hostile");
		ls_buf_reset(&msg);
		ls_buf_add_u8(&msg, MSG_REG_REQUEST);
		ls_buf_add(&msg, h2.eph_pub, h2.n2);
		ls_buf_add(&msg, "0123456789abcdefghij", 20);
		cr_assert_eq(ls_handshake_step(s2, ls_buf_data(&msg), n, &out, &done),
		             LS_ERR_TRUNCATED, "%zu bytes", n);
		cr_assert_eq(ls_handshake_get_reason(s2), LS_HS_MALFORMED);
		ls_channel_free(h2.channel);
		ls_handshake_free(s2);
	}
	cr_assert_eq(st.registrations, 0);
	ls_buf_clear(&msg);
	ls_buf_clear(&out);
}

/* ---- hostile input to the server ---------------------------------------------------------- */

/* A client hello by hand. */
struct ch_spec {
	const char *magic;
	unsigned vmin, vmax;
	int purpose;
	const char *nick;
	size_t nick_len; /* 0: strlen */
	size_t ext_len;
	size_t nick_len_field_delta; /* added to the declared nickname length */
	bool trailing;
};

static size_t
build_ch(uint8_t *p, const struct ch_spec *s)
{
	size_t n = s->nick_len ? s->nick_len : strlen(s->nick), off = 0;

	memcpy(p, s->magic, 4);
	p[4] = (uint8_t)(s->vmin >> 8);
	p[5] = (uint8_t)s->vmin;
	p[6] = (uint8_t)(s->vmax >> 8);
	p[7] = (uint8_t)s->vmax;
	memset(p + 8, 0xab, 32);
	p[40] = (uint8_t)s->purpose;
	be32(p + 41, n + s->nick_len_field_delta);
	memcpy(p + 45, s->nick, n);
	off = 45 + n;
	be32(p + off, s->ext_len);
	memset(p + off + 4, 'e', s->ext_len);
	off += 4 + s->ext_len;
	if (s->trailing)
		p[off++] = 0;
	return off;
}

static const struct ch_spec good_ch = {
	.magic = "LS11", .vmin = 1, .vmax = 1, .purpose = 1, .nick = "oscar", .ext_len = 0,
};

/* Feeds @p to a fresh server: checks the outcome, the ERROR sent and that nothing was touched. */
static void
server_refuses(const uint8_t *p, size_t n, int err, ls_handshake_reason why, int code,
               const char *what)
{
	struct store st;
	ls_handshake *s;
	ls_buf out;
	bool done = false;

	store_init(&st);
	s = server_new(&st);
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	cr_assert_eq(ls_handshake_step(s, p, n, &out, &done), err, "%s: %s", what,
	             ls_strerror(ls_handshake_status(s)));
	cr_assert(done, "%s", what);
	cr_assert_eq(ls_handshake_get_reason(s), why, "%s: \"%s\"", what,
	             ls_handshake_reason_string(ls_handshake_get_reason(s)));
	cr_assert_eq(ls_buf_len(&out), 6, "%s: an ERROR message", what);
	cr_assert_eq(ls_buf_data(&out)[0], MSG_ERROR);
	cr_assert_eq(ls_buf_data(&out)[1], code, "%s", what);
	cr_assert_eq(st.lookups + st.begins + st.successes + st.registrations, 0,
	             "%s: no callback ran", what);
	cr_assert(ls_handshake_test_is_wiped(s));
	cr_assert_eq(ls_handshake_step(s, p, n, &out, &done), LS_ERR_STATE, "over for good");
	ls_buf_clear(&out);
	ls_handshake_free(s);
}

Test(hostile, every_field_of_the_client_hello)
{
	uint8_t p[1024];
	struct ch_spec s;
	char longnick[66];
	struct store st;
	ls_handshake *srv;
	ls_buf out;
	bool done;
	size_t n;

#define CH_CASE(field_set, err, why, code)                                                         \
	do {                                                                                       \
		s = good_ch;                                                                       \
		field_set;                                                                         \
		n = build_ch(p, &s);                                                               \
		server_refuses(p, n, err, why, code, #field_set);                                  \
	} while (0)

	CH_CASE(s.magic = "LS12", LS_ERR_MALFORMED, LS_HS_BAD_MAGIC, ERR_MALFORMED);
	CH_CASE(s.magic = "GET ", LS_ERR_MALFORMED, LS_HS_BAD_MAGIC, ERR_MALFORMED);
	CH_CASE(s.vmin = 0, LS_ERR_MALFORMED, LS_HS_BAD_VERSION, ERR_MALFORMED);
	CH_CASE((s.vmin = 3, s.vmax = 2), LS_ERR_MALFORMED, LS_HS_BAD_VERSION, ERR_MALFORMED);
	CH_CASE((s.vmin = 2, s.vmax = 2), LS_ERR_REFUSED, LS_HS_VERSION_MISMATCH,
	        ERR_VERSION_MISMATCH);
	CH_CASE(s.purpose = 0, LS_ERR_MALFORMED, LS_HS_BAD_PURPOSE, ERR_MALFORMED);
	CH_CASE(s.purpose = 3, LS_ERR_MALFORMED, LS_HS_BAD_PURPOSE, ERR_MALFORMED);
	CH_CASE(s.purpose = 255, LS_ERR_MALFORMED, LS_HS_BAD_PURPOSE, ERR_MALFORMED);
	CH_CASE(s.nick = "ab", LS_ERR_BAD_LENGTH, LS_HS_BAD_NICKNAME, ERR_BAD_NICKNAME);
	CH_CASE(s.nick = "", LS_ERR_BAD_LENGTH, LS_HS_BAD_NICKNAME, ERR_BAD_NICKNAME);
	memset(longnick, 'n', 65);
	longnick[65] = '\0';
	CH_CASE(s.nick = longnick, LS_ERR_BAD_LENGTH, LS_HS_BAD_NICKNAME, ERR_BAD_NICKNAME);
	CH_CASE(s.nick = "with space", LS_ERR_MALFORMED, LS_HS_BAD_NICKNAME, ERR_BAD_NICKNAME);
	CH_CASE(s.nick = "slash/ed", LS_ERR_MALFORMED, LS_HS_BAD_NICKNAME, ERR_BAD_NICKNAME);
	CH_CASE(s.nick = "caf\xc3\xa9", LS_ERR_MALFORMED, LS_HS_BAD_NICKNAME, ERR_BAD_NICKNAME);
	CH_CASE((s.nick = "nul\0led", s.nick_len = 7), LS_ERR_MALFORMED, LS_HS_BAD_NICKNAME,
	        ERR_BAD_NICKNAME);
	CH_CASE(s.nick_len_field_delta = 0x10000000, LS_ERR_BAD_LENGTH, LS_HS_BAD_NICKNAME,
	        ERR_BAD_NICKNAME);
	CH_CASE(s.nick_len_field_delta = 30, LS_ERR_TRUNCATED, LS_HS_MALFORMED, ERR_MALFORMED);
	CH_CASE(s.ext_len = LS_HANDSHAKE_EXT_MAX + 1, LS_ERR_TOO_LARGE, LS_HS_MALFORMED,
	        ERR_MALFORMED);
	CH_CASE(s.trailing = true, LS_ERR_TRAILING_DATA, LS_HS_MALFORMED, ERR_MALFORMED);
#undef CH_CASE

	/* What is allowed: every nickname character, both lengths at the limits, extensions. */
	static const char *const ok[] = {
		"abc", "A.b_c-d@e", "0123456789", NULL,
	};
	memset(longnick, 'N', 64);
	longnick[64] = '\0';
	for (int i = 0; i < 5; i++) {
		store_init(&st);
		srv = server_new(&st);
		s = good_ch;
		s.nick = i < 3 ? ok[i] : longnick;
		s.ext_len = i == 4 ? LS_HANDSHAKE_EXT_MAX : 0;
		n = build_ch(p, &s);
		ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
		cr_assert_eq(ls_handshake_step(srv, p, n, &out, &done), LS_OK, "case %d", i);
		cr_assert_eq(ls_buf_data(&out)[0], MSG_SERVER_HELLO);
		cr_assert_str_eq(ls_handshake_nickname(srv), s.nick);
		ls_buf_clear(&out);
		ls_handshake_free(srv);
	}
}

Test(hostile, client_hello_truncated_at_each_byte)
{
	uint8_t p[256];
	size_t n = build_ch(p, &good_ch);

	for (size_t cut = 0; cut < n; cut++)
		server_refuses(p, cut, LS_ERR_TRUNCATED, LS_HS_MALFORMED, ERR_MALFORMED,
		               "truncated hello");
}

Test(hostile, oversized_messages)
{
	uint8_t *big = calloc(1, LS_HANDSHAKE_MAX_MESSAGE + 1);
	struct server_thread sth = { 0 };
	ls_transport *ct;
	struct store st;
	ls_handshake *c;
	ls_buf out;
	bool done;
	size_t n;

	cr_assert_not_null(big);
	n = build_ch(big, &good_ch);
	(void)n;
	server_refuses(big, LS_HANDSHAKE_MAX_MESSAGE + 1, LS_ERR_TOO_LARGE, LS_HS_TOO_LARGE,
	               ERR_MALFORMED, "a hello of 4097 bytes");

	/* To the client too, after its hello. */
	c = client_session("peggy", "pw");
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	cr_assert_eq(ls_handshake_step(c, NULL, 0, &out, &done), LS_OK);
	big[0] = MSG_SERVER_HELLO;
	cr_assert_eq(ls_handshake_step(c, big, LS_HANDSHAKE_MAX_MESSAGE + 1, &out, &done),
	             LS_ERR_TOO_LARGE);
	cr_assert_eq(ls_handshake_get_reason(c), LS_HS_TOO_LARGE);
	ls_handshake_free(c);
	ls_buf_clear(&out);

	/* Through the driver: a 100 KiB frame where a hello should be. */
	store_init(&st);
	cr_assert_eq(ls_transport_memory_pair(0, &ct, &sth.t), LS_OK);
	sth.hs = server_new(&st);
	free(big);
	big = calloc(1, 100 << 10);
	cr_assert_eq(ls_transport_send(ct, big, 100 << 10, 1000), LS_OK);
	cr_assert_eq(ls_handshake_server_run(sth.hs, sth.t, 5000), LS_ERR_TOO_LARGE);
	cr_assert_eq(ls_handshake_get_reason(sth.hs), LS_HS_TOO_LARGE);
	ls_buf_init(&out, LS_FRAME_DEFAULT_MAX);
	cr_assert_eq(ls_transport_recv(ct, &out, 1000), LS_OK, "the ERROR was sent");
	cr_assert_eq(ls_buf_data(&out)[0], MSG_ERROR);
	ls_buf_clear(&out);
	cr_assert_eq(st.lookups, 0);
	ls_handshake_free(sth.hs);
	ls_transport_free(ct);
	ls_transport_free(sth.t);
	free(big);
}

/* Flips one byte of message @arg (a hello) in flight, at a position that keeps it parseable. */
static void
tamper_hello(struct wire *w, int index, uint8_t *p, size_t *len)
{
	if (index == 0 && w->arg == 0)
		p[20] ^= 0x01; /* the client nonce */
	if (index == 0 && w->arg == 1)
		p[45] ^= 0x20; /* the nickname's first letter: changes case, still valid */
	if (index == 1 && w->arg == 2)
		p[10] ^= 0x01; /* the server nonce */
	if (index == 1 && w->arg == 3)
		p[50] ^= 0x01; /* the salt */
}

Test(hostile, a_tampered_hello_fails_authentication)
{
	static const ls_handshake_reason server_why[] = {
		LS_HS_TRANSCRIPT_MISMATCH, LS_HS_UNKNOWN_ACCOUNT, LS_HS_TRANSCRIPT_MISMATCH,
		LS_HS_TRANSCRIPT_MISMATCH,
	};
	struct store st;
	struct account *a;
	ls_handshake *c, *s;

	store_init(&st);
	a = store_add(&st, "quentin", "pw", LS_HANDSHAKE_DEFAULT_CURVE, 1);
	for (size_t i = 0; i < 4; i++) {
		struct wire w = { .tamper = tamper_hello, .arg = i };

		c = client_session("quentin", "pw");
		s = server_new(&st);
		pump(c, s, &w);
		assert_failed(c, LS_ERR_AUTH_FAILED, LS_HS_AUTH_FAILED, "client");
		assert_failed(s, LS_ERR_AUTH_FAILED, server_why[i], "server");
		cr_assert_eq(w.n, 6, "the exchange ran to MAC_A (%zu)", i);
		ls_handshake_free(c);
		ls_handshake_free(s);
	}
	cr_assert_eq(st.successes, 0);
	cr_assert_eq(a->c.c1, 0, "three counted failures (a fourth was another nickname)");
}

/* The client's hostile server: replays from an earlier run, out of order, a bad u1. */
Test(hostile, replayed_u1_and_mac_a_from_an_earlier_handshake)
{
	struct wire first = { 0 };
	struct store st;
	struct account *a;
	ls_handshake *c, *s;
	ls_buf out;
	bool done;
	int r;

	store_init(&st);
	a = store_add(&st, "rupert", "pw", LS_HANDSHAKE_DEFAULT_CURVE, 1);
	c = client_session("rupert", "pw");
	s = server_new(&st);
	pump(c, s, &first);
	assert_ok(s, "first run");
	ls_handshake_free(c);
	ls_handshake_free(s);

	/* An eavesdropper replays the client's three messages to a new server handshake. */
	s = server_new(&st);
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	cr_assert_eq(ls_handshake_step(s, first.msg[0], first.len[0], &out, &done), LS_OK);
	cr_assert(memcmp(ls_buf_data(&out) + 3, first.msg[1] + 3, 32) != 0, "a fresh nonce");
	cr_assert_eq(ls_handshake_step(s, first.msg[2], first.len[2], &out, &done), LS_OK);
	r = ls_handshake_step(s, first.msg[4], first.len[4], &out, &done);
	cr_assert_eq(r, LS_ERR_AUTH_FAILED);
	cr_assert_eq(ls_handshake_get_reason(s), LS_HS_TRANSCRIPT_MISMATCH);
	cr_assert_eq(ls_buf_data(&out)[1], ERR_AUTH_FAILED);
	cr_assert_eq(a->c.c1, st.limits.clim1 - 1, "the replay cost an attempt, no more");
	ls_buf_clear(&out);
	ls_handshake_free(s);
}

Test(hostile, messages_out_of_order)
{
	struct wire ok = { 0 };
	struct store st;
	ls_handshake *c, *s;
	ls_buf out;
	bool done;

	store_init(&st);
	store_add(&st, "sybil", "pw", LS_HANDSHAKE_DEFAULT_CURVE, 1);
	c = client_session("sybil", "pw");
	s = server_new(&st);
	pump(c, s, &ok);
	assert_ok(c, "reference run");
	ls_handshake_free(c);
	ls_handshake_free(s);
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);

	/* Server: MAC_A where u1 belongs - no attempt is begun. */
	s = server_new(&st);
	cr_assert_eq(ls_handshake_step(s, ok.msg[0], ok.len[0], &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(s, ok.msg[4], ok.len[4], &out, &done), LS_ERR_MALFORMED);
	cr_assert_eq(ls_handshake_get_reason(s), LS_HS_UNEXPECTED);
	cr_assert_eq(ls_buf_data(&out)[1], ERR_UNEXPECTED);
	cr_assert_eq(st.begins, 1, "only the reference run began an attempt");
	ls_handshake_free(s);

	/* Server: a second hello, and u1 twice. */
	s = server_new(&st);
	cr_assert_eq(ls_handshake_step(s, ok.msg[0], ok.len[0], &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(s, ok.msg[0], ok.len[0], &out, &done), LS_ERR_MALFORMED);
	cr_assert_eq(ls_handshake_get_reason(s), LS_HS_UNEXPECTED);
	ls_handshake_free(s);
	s = server_new(&st);
	cr_assert_eq(ls_handshake_step(s, ok.msg[0], ok.len[0], &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(s, ok.msg[2], ok.len[2], &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(s, ok.msg[2], ok.len[2], &out, &done), LS_ERR_MALFORMED);
	cr_assert_eq(ls_handshake_get_reason(s), LS_HS_UNEXPECTED);
	ls_handshake_free(s);

	/* Server: u1 as the first message (it is not a hello). */
	s = server_new(&st);
	cr_assert_eq(ls_handshake_step(s, ok.msg[2], ok.len[2], &out, &done), LS_ERR_MALFORMED);
	cr_assert_eq(ls_handshake_get_reason(s), LS_HS_BAD_MAGIC);
	ls_handshake_free(s);

	/* Client: u2 where the server hello belongs, MAC_B where u2 belongs. */
	c = client_session("sybil", "pw");
	cr_assert_eq(ls_handshake_step(c, NULL, 0, &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(c, ok.msg[3], ok.len[3], &out, &done), LS_ERR_MALFORMED);
	cr_assert_eq(ls_handshake_get_reason(c), LS_HS_UNEXPECTED);
	cr_assert_eq(ls_buf_data(&out)[1], ERR_UNEXPECTED);
	ls_handshake_free(c);
	c = client_session("sybil", "pw");
	cr_assert_eq(ls_handshake_step(c, NULL, 0, &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(c, ok.msg[1], ok.len[1], &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(c, ok.msg[5], ok.len[5], &out, &done), LS_ERR_MALFORMED);
	cr_assert_eq(ls_handshake_get_reason(c), LS_HS_UNEXPECTED);
	ls_handshake_free(c);

	/* A registration request to a session handshake. */
	s = server_new(&st);
	cr_assert_eq(ls_handshake_step(s, ok.msg[0], ok.len[0], &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(s, (const uint8_t *)"\x07xyz", 4, &out, &done),
	             LS_ERR_MALFORMED);
	cr_assert_eq(ls_handshake_get_reason(s), LS_HS_UNEXPECTED);
	ls_handshake_free(s);
	ls_buf_clear(&out);
}

Test(hostile, bad_points_change_nothing)
{
	uint8_t bad[1 + 64];
	struct wire ok = { 0 };
	struct store st;
	ls_handshake *c, *s;
	ls_buf out;
	bool done;

	store_init(&st);
	store_add(&st, "trent", "pw", LS_HANDSHAKE_DEFAULT_CURVE, 1);
	c = client_session("trent", "pw");
	s = server_new(&st);
	pump(c, s, &ok);
	ls_handshake_free(c);
	ls_handshake_free(s);
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	st.begins = 0;

	/* u1 off the curve, too short, too long: refused before any counter moves. */
	memcpy(bad, ok.msg[2], 65);
	bad[10] ^= 1;
	for (int i = 0; i < 3; i++) {
		s = server_new(&st);
		cr_assert_eq(ls_handshake_step(s, ok.msg[0], ok.len[0], &out, &done), LS_OK);
		cr_assert_eq(ls_handshake_step(s, i == 0 ? bad : ok.msg[2],
		                               i == 0 ? 65 : (i == 1 ? 64 : 66), &out, &done),
		             i == 0 ? LS_ERR_BAD_POINT : LS_ERR_BAD_LENGTH, "case %d", i);
		cr_assert_eq(ls_handshake_get_reason(s), LS_HS_BAD_POINT);
		cr_assert_eq(ls_buf_data(&out)[1], ERR_MALFORMED);
		ls_handshake_free(s);
	}
	cr_assert_eq(st.begins, 0, "counters untouched");

	/* u2 off the curve, at the client. */
	c = client_session("trent", "pw");
	cr_assert_eq(ls_handshake_step(c, NULL, 0, &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(c, ok.msg[1], ok.len[1], &out, &done), LS_OK);
	memcpy(bad, ok.msg[3], 65);
	bad[40] ^= 1;
	cr_assert_eq(ls_handshake_step(c, bad, 65, &out, &done), LS_ERR_BAD_POINT);
	cr_assert_eq(ls_handshake_get_reason(c), LS_HS_BAD_POINT);
	cr_assert(ls_handshake_test_is_wiped(c));
	ls_handshake_free(c);

	/* MAC_A of the wrong length: an attempt was begun, and the answer is the generic one. */
	s = server_new(&st);
	cr_assert_eq(ls_handshake_step(s, ok.msg[0], ok.len[0], &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(s, ok.msg[2], ok.len[2], &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(s, ok.msg[4], 64, &out, &done), LS_ERR_BAD_LENGTH);
	cr_assert_eq(ls_handshake_get_reason(s), LS_HS_MALFORMED);
	ls_handshake_free(s);
	ls_buf_clear(&out);
}

Test(hostile, random_bytes_at_every_state)
{
	struct wire ok = { 0 };
	uint8_t rnd[512];
	struct store st;
	ls_handshake *c, *s;
	ls_buf out;
	bool done;

	store_init(&st);
	store_add(&st, "ursula", "pw", LS_HANDSHAKE_DEFAULT_CURVE, 1);
	c = client_session("ursula", "pw");
	s = server_new(&st);
	pump(c, s, &ok);
	ls_handshake_free(c);
	ls_handshake_free(s);
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);

	for (int i = 0; i < 150; i++) {
		size_t n = 1 + (size_t)i * 7 % sizeof(rnd);
		int depth = i % 3;

		cr_assert_eq(ls_random_bytes(rnd, n), LS_OK);
		s = server_new(&st);
		for (int d = 0; d < depth; d++)
			cr_assert_eq(ls_handshake_step(s, ok.msg[2 * d], ok.len[2 * d], &out,
			                               &done), LS_OK);
		cr_assert_neq(ls_handshake_step(s, rnd, n, &out, &done), LS_OK);
		cr_assert(done);
		cr_assert_neq(ls_handshake_get_reason(s), LS_HS_NONE);
		ls_handshake_free(s);

		c = client_session("ursula", "pw");
		cr_assert_eq(ls_handshake_step(c, NULL, 0, &out, &done), LS_OK);
		for (int d = 0; d < depth; d++)
			cr_assert_eq(ls_handshake_step(c, ok.msg[2 * d + 1], ok.len[2 * d + 1], &out,
			                               &done), LS_OK);
		cr_assert_neq(ls_handshake_step(c, rnd, n, &out, &done), LS_OK);
		cr_assert(done);
		cr_assert(ls_handshake_test_is_wiped(c));
		ls_handshake_free(c);
	}
	cr_assert_eq(st.successes, 1, "only the reference run succeeded");
	ls_buf_clear(&out);
}

/* ---- hostile input to the client ---------------------------------------------------------- */

struct sh_spec {
	uint8_t type;
	unsigned version;
	uint8_t purpose;
	uint8_t curve;
	uint8_t ind;
	size_t salt_len;
	size_t ext_len;
	bool trailing;
};

static size_t
build_sh(uint8_t *p, const struct sh_spec *s)
{
	size_t off;

	p[0] = s->type;
	p[1] = (uint8_t)(s->version >> 8);
	p[2] = (uint8_t)s->version;
	memset(p + 3, 0x77, 32);
	p[35] = s->purpose;
	p[36] = s->curve;
	p[37] = s->ind;
	be32(p + 38, s->salt_len);
	memset(p + 42, 0x5a, s->salt_len);
	off = 42 + s->salt_len;
	be32(p + off, s->ext_len);
	off += 4;
	memset(p + off, 'x', s->ext_len);
	off += s->ext_len;
	if (s->trailing)
		p[off++] = 0;
	return off;
}

static const struct sh_spec good_sh = {
	.type = MSG_SERVER_HELLO, .version = 1, .purpose = LS_HANDSHAKE_SESSION,
	.curve = LS_CURVE_CP_A, .ind = 1, .salt_len = 32,
};

/* A session client after its hello receives @p: the outcome and the ERROR it answers. */
static void
client_refuses(const uint8_t *p, size_t n, ls_handshake_purpose purpose, int err,
               ls_handshake_reason why, int code, const char *what)
{
	struct trust t = { .answer = true };
	ls_handshake *c = purpose == LS_HANDSHAKE_SESSION
	                          ? client_session("victor", "pw")
	                          : client_register("victor", "pw", &t, NULL, NULL);
	ls_buf out;
	bool done;

	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	cr_assert_eq(ls_handshake_step(c, NULL, 0, &out, &done), LS_OK);
	cr_assert_eq(ls_handshake_step(c, p, n, &out, &done), err, "%s: %s", what,
	             ls_strerror(ls_handshake_status(c)));
	cr_assert(done);
	cr_assert_eq(ls_handshake_get_reason(c), why, "%s: \"%s\"", what,
	             ls_handshake_reason_string(ls_handshake_get_reason(c)));
	if (code == 0) {
		cr_assert_eq(ls_buf_len(&out), 0, "%s: nothing sent", what);
	} else {
		cr_assert_eq(ls_buf_len(&out), 6, "%s", what);
		cr_assert_eq(ls_buf_data(&out)[1], code, "%s", what);
	}
	cr_assert(ls_handshake_test_is_wiped(c));
	cr_assert_eq(t.calls, 0, "%s: no trust decision on a bad hello", what);
	ls_buf_clear(&out);
	ls_handshake_free(c);
}

Test(hostile, every_field_of_the_server_hello)
{
	uint8_t p[512];
	struct sh_spec s;
	size_t n;

#define SH_CASE(field_set, err, why, code)                                                         \
	do {                                                                                       \
		s = good_sh;                                                                       \
		field_set;                                                                         \
		n = build_sh(p, &s);                                                               \
		client_refuses(p, n, LS_HANDSHAKE_SESSION, err, why, code, #field_set);            \
	} while (0)

	SH_CASE(s.type = MSG_U2, LS_ERR_MALFORMED, LS_HS_UNEXPECTED, ERR_UNEXPECTED);
	SH_CASE(s.type = 0x42, LS_ERR_MALFORMED, LS_HS_UNEXPECTED, ERR_UNEXPECTED);
	SH_CASE(s.version = 0, LS_ERR_MALFORMED, LS_HS_BAD_VERSION, ERR_MALFORMED);
	SH_CASE(s.version = 2, LS_ERR_MALFORMED, LS_HS_BAD_VERSION, ERR_MALFORMED);
	SH_CASE(s.purpose = LS_HANDSHAKE_REGISTER, LS_ERR_MALFORMED, LS_HS_BAD_PURPOSE,
	        ERR_MALFORMED);
	SH_CASE(s.purpose = 9, LS_ERR_MALFORMED, LS_HS_BAD_PURPOSE, ERR_MALFORMED);
	SH_CASE(s.curve = 0, LS_ERR_UNSUPPORTED, LS_HS_UNKNOWN_CURVE, ERR_MALFORMED);
	SH_CASE(s.curve = LS_CURVE_TEST_256, LS_ERR_UNSUPPORTED, LS_HS_UNKNOWN_CURVE,
	        ERR_MALFORMED);
	SH_CASE(s.curve = LS_CURVE_TEST_512, LS_ERR_UNSUPPORTED, LS_HS_UNKNOWN_CURVE,
	        ERR_MALFORMED);
	SH_CASE(s.curve = 10, LS_ERR_UNSUPPORTED, LS_HS_UNKNOWN_CURVE, ERR_MALFORMED);
	SH_CASE(s.curve = 255, LS_ERR_UNSUPPORTED, LS_HS_UNKNOWN_CURVE, ERR_MALFORMED);
	SH_CASE(s.ind = 0, LS_ERR_MALFORMED, LS_HS_BAD_IND, ERR_MALFORMED);
	SH_CASE(s.ind = 4, LS_ERR_MALFORMED, LS_HS_BAD_IND, ERR_MALFORMED);
	SH_CASE(s.salt_len = 0, LS_ERR_BAD_LENGTH, LS_HS_BAD_SALT, ERR_MALFORMED);
	SH_CASE(s.salt_len = 15, LS_ERR_BAD_LENGTH, LS_HS_BAD_SALT, ERR_MALFORMED);
	SH_CASE(s.salt_len = 65, LS_ERR_BAD_LENGTH, LS_HS_BAD_SALT, ERR_MALFORMED);
	SH_CASE(s.ext_len = LS_HANDSHAKE_EXT_MAX + 1, LS_ERR_TOO_LARGE, LS_HS_MALFORMED,
	        ERR_MALFORMED);
	SH_CASE(s.trailing = true, LS_ERR_TRAILING_DATA, LS_HS_MALFORMED, ERR_MALFORMED);
#undef SH_CASE

	/* The server's hello to a registering client must be a registration hello. */
	n = build_sh(p, &good_sh);
	client_refuses(p, n, LS_HANDSHAKE_REGISTER, LS_ERR_MALFORMED, LS_HS_BAD_PURPOSE,
	               ERR_MALFORMED, "session hello to a registering client");

	/* ERROR messages: malformed ones, and each code's reason. */
	client_refuses((const uint8_t *)"\x0f\x07\x00\x01\x00", 5, LS_HANDSHAKE_SESSION,
	               LS_ERR_TRUNCATED, LS_HS_MALFORMED, 0, "short ERROR");
	client_refuses((const uint8_t *)"\x0f\x07\x00\x01\x00\x01\x00", 7, LS_HANDSHAKE_SESSION,
	               LS_ERR_TRAILING_DATA, LS_HS_MALFORMED, 0, "long ERROR");
	client_refuses((const uint8_t *)"\x0f\x05\x00\x01\x00\x01", 6, LS_HANDSHAKE_SESSION,
	               LS_ERR_REFUSED, LS_HS_PEER_BUSY, 0, "busy");
	client_refuses((const uint8_t *)"\x0f\x06\x00\x01\x00\x01", 6, LS_HANDSHAKE_SESSION,
	               LS_ERR_REFUSED, LS_HS_PEER_INTERNAL, 0, "internal");
	client_refuses((const uint8_t *)"\x0f\x01\x00\x01\x00\x01", 6, LS_HANDSHAKE_SESSION,
	               LS_ERR_REFUSED, LS_HS_PEER_MALFORMED, 0, "malformed");
	client_refuses((const uint8_t *)"\x0f\x03\x00\x01\x00\x01", 6, LS_HANDSHAKE_SESSION,
	               LS_ERR_REFUSED, LS_HS_BAD_NICKNAME, 0, "bad nickname");
	client_refuses((const uint8_t *)"\x0f\x08\x00\x01\x00\x01", 6, LS_HANDSHAKE_SESSION,
	               LS_ERR_REFUSED, LS_HS_PEER_UNEXPECTED, 0, "unexpected");
	client_refuses((const uint8_t *)"\x0f\xee\x00\x01\x00\x01", 6, LS_HANDSHAKE_SESSION,
	               LS_ERR_REFUSED, LS_HS_PEER_ERROR, 0, "an unknown code");
	client_refuses((const uint8_t *)"", 0, LS_HANDSHAKE_SESSION, LS_ERR_TRUNCATED,
	               LS_HS_MALFORMED, ERR_MALFORMED, "empty message");
}

Test(hostile, server_hello_truncated_at_each_byte)
{
	struct wire w = { 0 };
	struct trust t = { .answer = true };
	struct store st;
	ls_handshake *c, *s;

	store_init(&st);
	store_add(&st, "victor", "pw", LS_CURVE_TC26_512_A, 1);
	c = client_session("victor", "pw");
	s = server_new(&st);
	pump(c, s, &w);
	ls_handshake_free(c);
	ls_handshake_free(s);
	for (size_t cut = 1; cut < w.len[1]; cut++)
		client_refuses(w.msg[1], cut, LS_HANDSHAKE_SESSION, LS_ERR_TRUNCATED,
		               LS_HS_MALFORMED, ERR_MALFORMED, "truncated session hello");

	memset(&w, 0, sizeof(w));
	c = client_register("victor", "pw", &t, NULL, NULL);
	s = server_new(&st);
	pump(c, s, &w);
	ls_handshake_free(c);
	ls_handshake_free(s);
	for (size_t cut = 1; cut < w.len[1]; cut++)
		client_refuses(w.msg[1], cut, LS_HANDSHAKE_REGISTER, LS_ERR_TRUNCATED,
		               LS_HS_MALFORMED, ERR_MALFORMED, "truncated registration hello");
}

static void
tamper_register_hello(struct wire *w, int index, uint8_t *p, size_t *len)
{
	if (index != 1)
		return;
	switch (w->arg) {
	case 0: p[41 + 3] ^= 1; break;   /* the key: off the curve */
	case 1: p[*len - 5] ^= 1; break; /* the signature */
	case 2: p[20] ^= 1; break;       /* the nonce: the signature no longer covers it */
	case 3: p[36] = LS_CURVE_TEST_256; break;
	case 4: p[40] = 63; break;       /* key length */
	case 5: p[*len - 64 - 1] = 63; break; /* signature length */
	}
}

Test(hostile, registration_hello_fields)
{
	static const struct {
		int err;
		ls_handshake_reason why;
		int code;
	} want[] = {
		{ LS_ERR_BAD_POINT, LS_HS_BAD_POINT, ERR_MALFORMED },
		{ LS_ERR_VERIFY_FAILED, LS_HS_BAD_SIGNATURE, ERR_ABORTED },
		{ LS_ERR_VERIFY_FAILED, LS_HS_BAD_SIGNATURE, ERR_ABORTED },
		{ LS_ERR_UNSUPPORTED, LS_HS_UNKNOWN_CURVE, ERR_MALFORMED },
		{ LS_ERR_BAD_LENGTH, LS_HS_BAD_POINT, ERR_MALFORMED },
		{ LS_ERR_BAD_LENGTH, LS_HS_BAD_SIGNATURE, ERR_MALFORMED },
	};
	struct store st;

	store_init(&st);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct wire w = { .tamper = tamper_register_hello, .arg = i };
		struct trust t = { .answer = true };
		ls_handshake *c = client_register("walter", "pw", &t, NULL, NULL);
		ls_handshake *s = server_new(&st);

		pump(c, s, &w);
		assert_failed(c, want[i].err, want[i].why, "client");
		cr_assert_eq(w.n, 3, "case %zu", i);
		cr_assert_eq(w.msg[2][1], want[i].code, "case %zu", i);
		assert_failed(s, LS_ERR_REFUSED,
		              want[i].code == ERR_ABORTED ? LS_HS_PEER_ABORTED
		                                          : LS_HS_PEER_MALFORMED,
		              "server");
		cr_assert_eq(t.calls, 0, "no trust decision for a key that failed its checks");
		ls_handshake_free(c);
		ls_handshake_free(s);
	}
	cr_assert_eq(st.registrations, 0);
}

/* ---- API rules ---------------------------------------------------------------------------- */

Test(api, client_parameters)
{
	uint8_t code[LS_HANDSHAKE_CODE_MAX + 1];
	ls_handshake_client_params p;
	ls_handshake *hs = NULL;
	char longnick[70];

	memset(&p, 0, sizeof(p));
	p.purpose = LS_HANDSHAKE_SESSION;
	p.nickname = "xavier";
	p.password = "pw";
	p.password_len = 2;
	cr_assert_eq(ls_handshake_client_new(&p, NULL), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_handshake_client_new(NULL, &hs), LS_ERR_INVALID_ARG);
	p.nickname = "xa";
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_ERR_BAD_LENGTH);
	memset(longnick, 'x', sizeof(longnick) - 1);
	longnick[sizeof(longnick) - 1] = '\0';
	p.nickname = longnick;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_ERR_BAD_LENGTH);
	p.nickname = "x avier";
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_ERR_MALFORMED);
	p.nickname = "xavier";
	p.password_len = 0;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_ERR_BAD_LENGTH);
	p.password_len = LS_SESPAKE_PW_MAX + 1;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_ERR_BAD_LENGTH);
	p.password_len = 2;
	p.purpose = 3;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_ERR_INVALID_ARG);
	p.purpose = LS_HANDSHAKE_SESSION;
	p.begin_attempt = cc_begin;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_ERR_INVALID_ARG, "both or neither");
	p.begin_attempt = NULL;

	p.purpose = LS_HANDSHAKE_REGISTER;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_ERR_INVALID_ARG, "no trust decision");
	p.trust_server_key = cb_trust;
	p.curve = LS_CURVE_TEST_256;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_ERR_UNSUPPORTED);
	p.curve = 0;
	p.ind = 4;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_ERR_INVALID_ARG);
	p.ind = 0;
	memset(code, 'k', sizeof(code));
	p.code = code;
	p.code_len = LS_HANDSHAKE_CODE_MAX + 1;
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_ERR_BAD_LENGTH);
	p.code_len = LS_HANDSHAKE_CODE_MAX;
	cr_assert_null(hs, "nothing came out of the failures");
	cr_assert_eq(ls_handshake_client_new(&p, &hs), LS_OK);
	cr_assert(ls_handshake_test_is_wiped(hs) == false, "the verifier waits to be sent");
	ls_handshake_free(hs);
	ls_handshake_free(NULL);

	cr_assert_eq(ls_handshake_nickname_check(NULL), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_handshake_nickname_check("ok_nick"), LS_OK);
}

Test(api, server_parameters)
{
	ls_handshake_server_config cfg;
	struct store st;
	ls_handshake *hs = NULL;
	ls_gost_key *pub = NULL, *test_key = NULL;
	uint8_t xy[64];

	store_init(&st);
	cfg = server_config(&st);
	cfg.secret_len = 31;
	cr_assert_eq(ls_handshake_server_new(&cfg, &hs), LS_ERR_BAD_LENGTH);
	cfg.secret_len = 65;
	cr_assert_eq(ls_handshake_server_new(&cfg, &hs), LS_ERR_BAD_LENGTH);
	cfg = server_config(&st);
	cfg.lookup = NULL;
	cr_assert_eq(ls_handshake_server_new(&cfg, &hs), LS_ERR_INVALID_ARG);
	cfg = server_config(&st);
	cfg.fake_curve = LS_CURVE_TEST_512;
	cr_assert_eq(ls_handshake_server_new(&cfg, &hs), LS_ERR_UNSUPPORTED);
	cfg = server_config(&st);
	cfg.fake_ind = 4;
	cr_assert_eq(ls_handshake_server_new(&cfg, &hs), LS_ERR_INVALID_ARG);
	cfg = server_config(&st);
	cr_assert_eq(ls_gost_key_public(cfg.identity, xy, 64), LS_OK);
	cr_assert_eq(ls_gost_key_from_public(LS_CURVE_TC26_256_A, xy, 64, &pub), LS_OK);
	cfg.identity = pub;
	cr_assert_eq(ls_handshake_server_new(&cfg, &hs), LS_ERR_INVALID_ARG, "no private key");
	cr_assert_eq(ls_gost_key_generate(LS_CURVE_TEST_256, &test_key), LS_OK);
	cfg.identity = test_key;
	cr_assert_eq(ls_handshake_server_new(&cfg, &hs), LS_ERR_INVALID_ARG, "a test curve");
	cr_assert_null(hs);
	ls_gost_key_free(pub);
	ls_gost_key_free(test_key);
}

Test(api, step_rules)
{
	struct store st;
	ls_handshake *c, *s;
	ls_channel *ch = NULL;
	ls_buf out, small;
	bool done;

	store_init(&st);
	c = client_session("yvonne", "pw");
	s = server_new(&st);
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	ls_buf_init(&small, LS_HANDSHAKE_MAX_MESSAGE - 1);
	cr_assert_eq(ls_handshake_step(c, NULL, 0, &small, &done), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_handshake_step(c, (const uint8_t *)"x", 1, &out, &done),
	             LS_ERR_INVALID_ARG, "the client speaks first");
	cr_assert_eq(ls_handshake_step(c, NULL, 1, &out, &done), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_handshake_step(c, NULL, 0, NULL, &done), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_handshake_step(c, NULL, 0, &out, NULL), LS_ERR_INVALID_ARG);
	cr_assert(!ls_handshake_done(c), "bad arguments change nothing");
	cr_assert_eq(ls_handshake_take_channel(c, &ch), LS_ERR_STATE);
	cr_assert_eq(ls_handshake_status(c), LS_OK);
	cr_assert_eq(ls_handshake_get_reason(c), LS_HS_NONE);
	cr_assert_str_eq(ls_handshake_nickname(s), "");
	cr_assert_eq(ls_handshake_version(s), 0);
	cr_assert_eq(ls_handshake_client_run(s, NULL, 0), LS_ERR_INVALID_ARG);
	pump(c, s, NULL);
	cr_assert_eq(ls_handshake_step(c, NULL, 0, &out, &done), LS_ERR_STATE);
	cr_assert(done);
	cr_assert_eq(ls_handshake_step(s, (const uint8_t *)"x", 1, &out, &done), LS_ERR_STATE);
	cr_assert_eq(ls_handshake_status(s), LS_ERR_AUTH_FAILED, "the state stays as it was");
	ls_buf_clear(&out);
	ls_buf_clear(&small);
	ls_handshake_free(c);
	ls_handshake_free(s);

	cr_assert_eq(ls_handshake_busy_message(&out), LS_OK);
	cr_assert_eq(ls_buf_len(&out), 6);
	cr_assert(memcmp(ls_buf_data(&out), "\x0f\x05\x00\x01\x00\x01", 6) == 0);
	ls_buf_clear(&out);

	for (int r = LS_HS_NONE; r <= LS_HS_INTERNAL; r++)
		cr_assert_str_neq(ls_handshake_reason_string((ls_handshake_reason)r),
		                  "unknown handshake failure");
	cr_assert_str_eq(ls_handshake_reason_string((ls_handshake_reason)999),
	                 "unknown handshake failure");
	cr_assert_str_eq(ls_strerror(LS_ERR_REFUSED), "refused by the peer or by policy");
}

/* ---- the drivers -------------------------------------------------------------------------- */

Test(driver, busy_server_and_timeouts)
{
	ls_transport *ct, *stp;
	struct store st;
	ls_handshake *c, *s;
	ls_buf busy;

	/* A busy server answers before creating a handshake. */
	cr_assert_eq(ls_transport_memory_pair(0, &ct, &stp), LS_OK);
	ls_buf_init(&busy, LS_HANDSHAKE_MAX_MESSAGE);
	cr_assert_eq(ls_handshake_busy_message(&busy), LS_OK);
	cr_assert_eq(ls_transport_send(stp, ls_buf_data(&busy), ls_buf_len(&busy), 1000), LS_OK);
	c = client_session("zelda", "pw");
	cr_assert_eq(ls_handshake_client_run(c, ct, 5000), LS_ERR_REFUSED);
	cr_assert_eq(ls_handshake_get_reason(c), LS_HS_PEER_BUSY);
	ls_handshake_free(c);
	ls_buf_clear(&busy);

	/* Silence: the whole exchange is bounded by the timeout. */
	c = client_session("zelda", "pw");
	cr_assert_eq(ls_handshake_client_run(c, ct, 100), LS_ERR_TIMEOUT);
	cr_assert_eq(ls_handshake_get_reason(c), LS_HS_TRANSPORT);
	ls_handshake_free(c);
	store_init(&st);
	s = server_new(&st);
	cr_assert_eq(ls_handshake_server_run(s, ct, 100), LS_ERR_TIMEOUT, "nothing more comes");
	ls_handshake_free(s);

	/* The peer goes away. */
	ls_transport_close(stp);
	c = client_session("zelda", "pw");
	cr_assert_eq(ls_handshake_client_run(c, ct, 1000), LS_ERR_EOF);
	cr_assert_eq(ls_handshake_get_reason(c), LS_HS_TRANSPORT);
	cr_assert(ls_handshake_test_is_wiped(c));
	ls_handshake_free(c);
	ls_transport_free(ct);
	ls_transport_free(stp);
}

struct reg_thread {
	ls_handshake *hs;
	ls_transport *t;
	int result;
};

static void *
reg_server_main(void *arg)
{
	struct reg_thread *rt = arg;

	rt->result = ls_handshake_server_run(rt->hs, rt->t, 20000);
	return NULL;
}

Test(driver, registration_over_tcp_then_a_session)
{
	struct trust t = { .answer = true };
	struct reg_thread rt = { 0 };
	struct server_thread sth = { 0 };
	ls_transport *ct = NULL;
	struct store st;
	ls_handshake *c;
	pthread_t th;
	int cfd, sfd;

	store_init(&st);
	tcp_pair(&cfd, &sfd);
	cr_assert_eq(ls_transport_socket_new(cfd, 0, &ct), LS_OK);
	cr_assert_eq(ls_transport_socket_new(sfd, 0, &rt.t), LS_OK);
	rt.hs = server_new(&st);
	c = client_register("tcp.user", "over the wire", &t, NULL, NULL);
	cr_assert_eq(pthread_create(&th, NULL, reg_server_main, &rt), 0);
	cr_assert_eq(ls_handshake_client_run(c, ct, 20000), LS_OK, "%s",
	             ls_handshake_reason_string(ls_handshake_get_reason(c)));
	pthread_join(th, NULL);
	cr_assert_eq(rt.result, LS_OK);
	ls_handshake_free(c);
	ls_handshake_free(rt.hs);
	ls_transport_free(ct);
	ls_transport_free(rt.t);

	tcp_pair(&cfd, &sfd);
	cr_assert_eq(ls_transport_socket_new(cfd, 0, &ct), LS_OK);
	cr_assert_eq(ls_transport_socket_new(sfd, 0, &sth.t), LS_OK);
	sth.hs = server_new(&st);
	c = client_session("tcp.user", "over the wire");
	cr_assert_eq(pthread_create(&th, NULL, server_main, &sth), 0);
	client_talks(c, ct);
	pthread_join(th, NULL);
	cr_assert_eq(sth.result, LS_OK);
	ls_handshake_free(c);
	ls_handshake_free(sth.hs);
	ls_transport_free(ct);
	ls_transport_free(sth.t);
}

Test(driver, wrong_password_over_the_memory_transport)
{
	struct reg_thread rt = { 0 };
	ls_transport *ct = NULL;
	struct store st;
	ls_handshake *c;
	pthread_t th;

	store_init(&st);
	store_add(&st, "memo", "right", LS_HANDSHAKE_DEFAULT_CURVE, 1);
	cr_assert_eq(ls_transport_memory_pair(0, &ct, &rt.t), LS_OK);
	rt.hs = server_new(&st);
	c = client_session("memo", "wrong");
	cr_assert_eq(pthread_create(&th, NULL, reg_server_main, &rt), 0);
	cr_assert_eq(ls_handshake_client_run(c, ct, 20000), LS_ERR_AUTH_FAILED);
	pthread_join(th, NULL);
	cr_assert_eq(rt.result, LS_ERR_AUTH_FAILED);
	cr_assert_eq(ls_handshake_get_reason(c), LS_HS_AUTH_FAILED);
	cr_assert_eq(ls_handshake_get_reason(rt.hs), LS_HS_AUTH_FAILED);
	ls_handshake_free(c);
	ls_handshake_free(rt.hs);
	ls_transport_free(ct);
	ls_transport_free(rt.t);
}
