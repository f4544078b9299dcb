/*
 * Fuzz target: the connection handshake (core/handshake*.c), both roles, and its codec.
 *
 * Input: byte 0 picks the mode, the rest is a stream of frames (4-byte big-endian length +
 * message), each handed to ls_handshake_step() until the handshake is done:
 *   0  a server (session purpose expected): the frames are what a client sends
 *   1  the same server, for registration requests (both modes: the store's answer to a
 *      registration is byte 0 / 5 % 5, so 1 accepts, 6 closes, 11 wants a code, ...)
 *   2  a session client: the frames are what the server sends (after its hello)
 *   3  a registering client (slow: its verifier costs one PBKDF2 per input)
 *   4  the codec alone: the rest, unframed, through every decoder
 * Nonces and SESPAKE / ephemeral scalars are fixed through the test hooks and the server's
 * account, secret and identity key are constants, so a seed recorded from a real exchange
 * (fuzz/corpus/handshake, written by the generator at the end of this file) carries valid
 * MACs, signatures and sealed records into the deep states.
 *
 * Checked beyond "no crash, no sanitizer report": a step returns LS_OK or a negative code; a
 * failure ends the handshake with a reason, wipes its secrets and makes every later step
 * LS_ERR_STATE; no message out is longer than LS_HANDSHAKE_MAX_MESSAGE; the store's callbacks
 * run in protocol order (begin once, at most, and only after a hello; success only after a
 * begin that allowed it, and then the handshake succeeds); a registration reaches the store
 * only with a valid verifier; a success yields a channel; the decoders never accept what the
 * encoders would not write back the same.
 *
 * Regenerating the seeds (deterministic except for the server's signatures):
 *   cc -std=c17 -D_GNU_SOURCE -DLS11_TEST_HOOKS=1 -DLS11_FUZZ_GEN -Icore -Ibuild -Ifuzz \
 *      fuzz/fuzz-handshake.c build/core/libls11core-testing.a -lcrypto -lpthread -o /tmp/gen
 *   /tmp/gen fuzz/corpus/handshake
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "crypto.h"
#include "frame.h"
#include "fuzz-common.h"
#include "handshake-private.h"
#include "handshake.h"
#include "log.h"
#include "sespake.h"

enum { MODE_SERVER, MODE_SERVER_REG, MODE_CLIENT, MODE_CLIENT_REG, MODE_CODEC, MODES };

#define FUZZ_NICK "fuzzer"
#define FUZZ_PASSWORD "fuzz password"
#define FUZZ_TAKEN "taken.user"

static const uint8_t fuzz_secret[32] = "LS11CLOUD fuzz server secret...";
static const uint8_t fuzz_salt[16] = "fixed fuzz salt";
static const uint8_t fuzz_cnonce[LS_HANDSHAKE_NONCE_SIZE] = "client nonce of the fuzz target";
static const uint8_t fuzz_snonce[LS_HANDSHAKE_NONCE_SIZE] = "server nonce of the fuzz target";

/* alpha, beta, the ephemeral and the identity key: below q on every curve (top bytes 1). */
static void
fuzz_scalar(uint8_t s[64], uint8_t seed)
{
	for (int i = 0; i < 64; i++)
		s[i] = (uint8_t)(seed + 7 * i);
	s[31] = 0x01;
	s[63] = 0x01;
}

static ls_gost_key *
fuzz_identity(void)
{
	static ls_gost_key *key;
	uint8_t d[64];

	if (key == NULL) {
		fuzz_scalar(d, 0x33);
		FUZZ_CHECK(ls_gost_key_from_private(LS_HANDSHAKE_DEFAULT_CURVE, d, 32, &key) ==
		           LS_OK);
	}
	return key;
}

static const ls_sespake_verifier *
fuzz_verifier(void)
{
	static ls_sespake_verifier v;
	static bool made;

	if (!made) {
		FUZZ_CHECK(ls_sespake_verifier_make(LS_HANDSHAKE_DEFAULT_CURVE, 1, fuzz_salt,
		                                    sizeof(fuzz_salt), FUZZ_PASSWORD,
		                                    strlen(FUZZ_PASSWORD), &v) == LS_OK);
		made = true;
	}
	return &v;
}

/* ---- the server's store: one account, counters in memory ---------------------------------- */

struct store {
	ls_sespake_limits limits;
	ls_sespake_counters counters;
	int lookups, begins, successes, registrations;
	bool allowed;                  /* the last begin let the attempt go on */
	ls_handshake_reg_status reply; /* of the register callback */
};

static int
cb_lookup(void *user, const char *nick, ls_sespake_verifier *out)
{
	struct store *st = user;

	st->lookups++;
	FUZZ_CHECK(ls_handshake_nickname_check(nick) == LS_OK);
	if (strcmp(nick, FUZZ_NICK) != 0)
		return LS_ERR_NOT_FOUND;
	*out = *fuzz_verifier();
	return LS_OK;
}

static int
cb_begin(void *user, const char *nick, bool known)
{
	struct store *st = user;
	int r;

	FUZZ_CHECK(st->lookups == 1 && st->begins == 0);
	st->begins++;
	if (!known)
		return LS_OK;
	FUZZ_CHECK(strcmp(nick, FUZZ_NICK) == 0);
	r = ls_sespake_counters_begin(&st->limits, &st->counters);
	st->allowed = r == LS_OK;
	return r;
}

static int
cb_success(void *user, const char *nick)
{
	struct store *st = user;

	FUZZ_CHECK(st->begins == 1 && st->allowed && st->successes == 0);
	FUZZ_CHECK(strcmp(nick, FUZZ_NICK) == 0);
	st->successes++;
	return ls_sespake_counters_success(&st->limits, &st->counters);
}

static ls_handshake_reg_status
cb_register(void *user, const char *nick, const ls_sespake_verifier *v, const uint8_t *code,
            size_t code_len)
{
	struct store *st = user;

	FUZZ_CHECK(st->registrations == 0);
	FUZZ_CHECK(ls_handshake_nickname_check(nick) == LS_OK);
	FUZZ_CHECK(ls_sespake_verifier_check(v) == LS_OK);
	FUZZ_CHECK(code_len <= LS_HANDSHAKE_CODE_MAX && (code != NULL || code_len == 0));
	st->registrations++;
	if (strcmp(nick, FUZZ_TAKEN) == 0)
		return LS_HANDSHAKE_REG_NICKNAME_TAKEN;
	return st->reply;
}

static void
store_init(struct store *st)
{
	memset(st, 0, sizeof(*st));
	st->limits = LS_SESPAKE_LIMITS_DEFAULT;
	FUZZ_CHECK(ls_sespake_counters_init(&st->limits, &st->counters) == LS_OK);
	st->reply = LS_HANDSHAKE_REG_OK;
}

static ls_handshake *
fuzz_server(struct store *st)
{
	ls_handshake_server_config c;
	ls_handshake *hs = NULL;
	uint8_t s[64];

	memset(&c, 0, sizeof(c));
	c.identity = fuzz_identity();
	c.secret = fuzz_secret;
	c.secret_len = sizeof(fuzz_secret);
	c.lookup = cb_lookup;
	c.begin_attempt = cb_begin;
	c.record_success = cb_success;
	c.register_account = cb_register;
	c.user_data = st;
	FUZZ_CHECK(ls_handshake_server_new(&c, &hs) == LS_OK);
	fuzz_scalar(s, 0x42);
	FUZZ_CHECK(ls_handshake_test_set_nonce(hs, fuzz_snonce) == LS_OK);
	FUZZ_CHECK(ls_handshake_test_set_scalar(hs, s, sizeof(s)) == LS_OK);
	return hs;
}

static bool
cb_trust(void *user, ls_curve curve, const uint8_t fp[LS_HANDSHAKE_FINGERPRINT_SIZE],
         const uint8_t *pinned)
{
	(void)user;
	(void)fp;
	FUZZ_CHECK(pinned == NULL && hs_identity_curve_ok(curve));
	return true;
}

static ls_handshake *
fuzz_client(ls_handshake_purpose purpose, const char *nick, const char *password)
{
	ls_handshake_client_params p;
	ls_handshake *hs = NULL;
	uint8_t s[64];

	memset(&p, 0, sizeof(p));
	p.purpose = purpose;
	p.nickname = nick;
	p.password = password;
	p.password_len = strlen(password);
	p.trust_server_key = cb_trust;
	FUZZ_CHECK(ls_handshake_client_new(&p, &hs) == LS_OK);
	fuzz_scalar(s, 0x24);
	FUZZ_CHECK(ls_handshake_test_set_nonce(hs, fuzz_cnonce) == LS_OK);
	FUZZ_CHECK(ls_handshake_test_set_scalar(hs, s, sizeof(s)) == LS_OK);
	return hs;
}

/* ---- one step under watch ----------------------------------------------------------------- */

static int
checked_step(ls_handshake *hs, const uint8_t *in, size_t len, ls_buf *out, bool *done)
{
	bool again;
	int r;

	r = ls_handshake_step(hs, in, len, out, done);
	FUZZ_CHECK(r <= 0);
	FUZZ_CHECK(ls_buf_len(out) <= LS_HANDSHAKE_MAX_MESSAGE);
	FUZZ_CHECK(*done == ls_handshake_done(hs));
	FUZZ_CHECK(ls_handshake_status(hs) == r);
	if (r != LS_OK) {
		FUZZ_CHECK(*done);
		FUZZ_CHECK(ls_handshake_get_reason(hs) != LS_HS_NONE);
		FUZZ_CHECK(ls_handshake_test_is_wiped(hs));
		FUZZ_CHECK(ls_handshake_step(hs, in, len, out, &again) == LS_ERR_STATE && again);
		FUZZ_CHECK(ls_handshake_status(hs) == r);
	} else {
		FUZZ_CHECK(ls_handshake_get_reason(hs) == LS_HS_NONE);
	}
	return r;
}

/* Feeds the frames of @data to @hs until it is done or the frames run out. */
static int
feed(ls_handshake *hs, const uint8_t *data, size_t size, bool *done)
{
	ls_frame_decoder *dec = NULL;
	ls_buf frame, out;
	size_t off = 0;
	int r = LS_OK;

	FUZZ_CHECK(ls_frame_decoder_new(LS_HANDSHAKE_MAX_MESSAGE + 1, &dec) == LS_OK);
	ls_buf_init(&frame, LS_HANDSHAKE_MAX_MESSAGE + 1);
	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	while (off < size && !*done) {
		bool complete = false;
		size_t used = 0;

		if (ls_frame_decoder_feed(dec, data + off, size - off, &used, &frame, &complete) !=
		    LS_OK)
			break;
		off += used;
		if (!complete)
			break;
		r = checked_step(hs, ls_buf_data(&frame), ls_buf_len(&frame), &out, done);
	}
	ls_buf_clear(&frame);
	ls_buf_clear(&out);
	ls_frame_decoder_free(dec);
	return r;
}

static void
check_outcome(ls_handshake *hs, int r, bool done, ls_handshake_purpose purpose)
{
	ls_channel *ch = NULL;

	if (!(done && r == LS_OK)) {
		FUZZ_CHECK(ls_handshake_take_channel(hs, &ch) == LS_ERR_STATE);
		return;
	}
	FUZZ_CHECK(ls_handshake_test_is_wiped(hs));
	if (purpose == LS_HANDSHAKE_SESSION) {
		FUZZ_CHECK(ls_handshake_take_channel(hs, &ch) == LS_OK && ch != NULL);
		ls_channel_free(ch);
	} else {
		FUZZ_CHECK(ls_handshake_take_channel(hs, &ch) == LS_ERR_STATE);
	}
}

static void
run_server(const uint8_t *data, size_t size, ls_handshake_reg_status reply)
{
	struct store st;
	ls_handshake *hs;
	bool done = false;
	int r;

	store_init(&st);
	st.reply = reply;
	hs = fuzz_server(&st);
	r = feed(hs, data, size, &done);
	FUZZ_CHECK(st.lookups <= 1 && st.begins <= 1 && st.successes <= 1);
	if (st.successes == 1)
		FUZZ_CHECK(done && r == LS_OK &&
		           ls_handshake_purpose_of(hs) == LS_HANDSHAKE_SESSION);
	if (done && r == LS_OK && ls_handshake_purpose_of(hs) == LS_HANDSHAKE_SESSION)
		FUZZ_CHECK(st.successes == 1);
	if (done && r == LS_OK && ls_handshake_purpose_of(hs) == LS_HANDSHAKE_REGISTER)
		FUZZ_CHECK(st.registrations == 1);
	check_outcome(hs, r, done, ls_handshake_purpose_of(hs));
	ls_handshake_free(hs);
}

static void
run_client(const uint8_t *data, size_t size, ls_handshake_purpose purpose)
{
	ls_handshake *hs = fuzz_client(purpose, FUZZ_NICK, FUZZ_PASSWORD);
	bool done = false;
	ls_buf out;
	int r;

	ls_buf_init(&out, LS_HANDSHAKE_MAX_MESSAGE);
	FUZZ_CHECK(checked_step(hs, NULL, 0, &out, &done) == LS_OK && !done);
	ls_buf_clear(&out);
	r = feed(hs, data, size, &done);
	check_outcome(hs, r, done, purpose);
	ls_handshake_free(hs);
}

/* ---- the codec ---------------------------------------------------------------------------- */

static void
run_codec(const uint8_t *data, size_t size)
{
	struct hs_client_hello ch;
	struct hs_server_hello sh;
	struct hs_error_msg e;
	struct hs_reg_request *req;
	ls_handshake_reason why;
	ls_buf b, enc;

	ls_buf_init(&enc, 2 * LS_HANDSHAKE_MAX_MESSAGE);

	ls_buf_init_view(&b, data, size);
	if (hs_decode_client_hello_prefix(&b, &ch, &why) == LS_OK &&
	    hs_decode_client_hello_rest(&b, &ch, &why) == LS_OK) {
		/* Re-encoded with empty extensions: the same bytes up to the extensions field. */
		hs_encode_client_hello(&enc, ch.ver_min, ch.ver_max, ch.nonce, ch.purpose,
		                       ch.nickname);
		FUZZ_CHECK(ls_buf_status(&enc) == LS_OK && ls_buf_len(&enc) <= size);
		FUZZ_CHECK(memcmp(ls_buf_data(&enc), data, ls_buf_len(&enc) - 4) == 0);
		FUZZ_CHECK(ls_handshake_nickname_check(ch.nickname) == LS_OK);
	}

	for (uint8_t purpose = 1; purpose <= 2; purpose++) {
		if (hs_decode_server_hello(data, size, purpose, &sh, &why) != LS_OK)
			continue;
		FUZZ_CHECK(sh.purpose == purpose);
		if (purpose == LS_HANDSHAKE_SESSION) {
			ls_sespake_verifier v;

			FUZZ_CHECK(ls_sespake_point_size((ls_curve)sh.curve) != 0);
			memset(&v, 0, sizeof(v));
			v.curve = sh.curve;
			v.ind = sh.ind;
			v.salt_len = (uint8_t)sh.salt_len;
			memcpy(v.salt, sh.salt, sh.salt_len);
			ls_buf_reset(&enc);
			hs_encode_server_hello_session(&enc, sh.version, sh.nonce, &v);
			FUZZ_CHECK(ls_buf_status(&enc) == LS_OK && ls_buf_len(&enc) <= size);
			FUZZ_CHECK(memcmp(ls_buf_data(&enc), data, ls_buf_len(&enc) - 4) == 0);
		} else {
			FUZZ_CHECK(hs_identity_curve_ok((ls_curve)sh.curve));
			FUZZ_CHECK(sh.key_len == 2 * ls_curve_size((ls_curve)sh.curve));
			FUZZ_CHECK(sh.sig_len == sh.key_len && sh.signed_len < size);
		}
	}

	if (hs_decode_error(data, size, &e, &why) == LS_OK) {
		FUZZ_CHECK(size == HS_ERROR_SIZE);
		ls_buf_reset(&enc);
		hs_encode_error(&enc, e.code, e.ver_min, e.ver_max);
		FUZZ_CHECK(ls_buf_len(&enc) == size && memcmp(ls_buf_data(&enc), data, size) == 0);
	}

	req = calloc(1, sizeof(*req));
	FUZZ_CHECK(req != NULL);
	if (hs_decode_reg_request(data, size, req, &why) == LS_OK) {
		ls_buf_reset(&enc);
		hs_encode_reg_request(&enc, req->nickname, &req->verifier,
		                      req->code_len > 0 ? req->code : NULL, req->code_len);
		FUZZ_CHECK(ls_buf_len(&enc) == size && memcmp(ls_buf_data(&enc), data, size) == 0);
		/* The point itself is the verifier check's business. */
		(void)ls_sespake_verifier_check(&req->verifier);
	}
	free(req);
	ls_buf_clear(&enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Every refused message logs: keep stderr (and the fuzzer) quiet. */
	ls_log_set_level(LS_LOG_ERROR);
	if (size < 1)
		return 0;
	switch (data[0] % MODES) {
	case MODE_SERVER:
	case MODE_SERVER_REG:
		/* The register callback's answer: from the mode byte's high part (1: accepted). */
		run_server(data + 1, size - 1, (ls_handshake_reg_status)(data[0] / MODES % 5));
		break;
	case MODE_CLIENT: run_client(data + 1, size - 1, LS_HANDSHAKE_SESSION); break;
	case MODE_CLIENT_REG: run_client(data + 1, size - 1, LS_HANDSHAKE_REGISTER); break;
	case MODE_CODEC: run_codec(data + 1, size - 1); break;
	}
	return 0;
}

/* ---- the seed generator ------------------------------------------------------------------- */
#ifdef LS11_FUZZ_GEN
#include <stdio.h>

static const char *outdir;
static int failures;

/* Writes mode byte || frames of the messages @from_client (or the server's) of a recorded run. */
struct rec {
	int n;
	bool from_client[16];
	ls_buf msg[16];
};

static void
put(const char *name, uint8_t mode, const struct rec *rec, bool client_side, int limit)
{
	char path[4096];
	ls_buf b;
	FILE *f;
	int k = 0;

	ls_buf_init(&b, 1 << 16);
	ls_buf_add_u8(&b, mode);
	for (int i = 0; i < rec->n && k < limit; i++) {
		if (rec->from_client[i] != client_side)
			continue;
		ls_frame_encode(&b, ls_buf_data(&rec->msg[i]), ls_buf_len(&rec->msg[i]),
		                LS_HANDSHAKE_MAX_MESSAGE + 1);
		k++;
	}
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	if (ls_buf_status(&b) != LS_OK || (f = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "%s: cannot write\n", path);
		failures++;
		ls_buf_clear(&b);
		return;
	}
	if (fwrite(ls_buf_data(&b), 1, ls_buf_len(&b), f) != ls_buf_len(&b))
		failures++;
	if (fclose(f) != 0)
		failures++;
	ls_buf_clear(&b);
}

static void
put_raw(const char *name, uint8_t mode, const void *p, size_t n, bool framed)
{
	struct rec r = { .n = 1, .from_client = { true } };

	if (framed) {
		ls_buf_init(&r.msg[0], LS_HANDSHAKE_MAX_MESSAGE + 1);
		ls_buf_add(&r.msg[0], p, n);
		put(name, mode, &r, true, 1);
		ls_buf_clear(&r.msg[0]);
	} else {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", outdir, name);
		if ((f = fopen(path, "wb")) == NULL) {
			failures++;
			return;
		}
		fputc(mode, f);
		if (n > 0 && fwrite(p, 1, n, f) != n)
			failures++;
		fclose(f);
	}
}

/* Steps @c against @s, recording every message. */
static void
record(ls_handshake *c, ls_handshake *s, struct rec *rec)
{
	bool done, from_client = true;
	ls_buf a, b, t;

	memset(rec, 0, sizeof(*rec));
	ls_buf_init(&a, LS_HANDSHAKE_MAX_MESSAGE);
	ls_buf_init(&b, LS_HANDSHAKE_MAX_MESSAGE);
	ls_handshake_step(c, NULL, 0, &a, &done);
	while (ls_buf_len(&a) > 0 && rec->n < 16) {
		ls_handshake *to = from_client ? s : c;

		rec->from_client[rec->n] = from_client;
		ls_buf_init(&rec->msg[rec->n], LS_HANDSHAKE_MAX_MESSAGE);
		ls_buf_add(&rec->msg[rec->n], ls_buf_data(&a), ls_buf_len(&a));
		rec->n++;
		if (ls_handshake_done(to))
			break;
		ls_handshake_step(to, ls_buf_data(&a), ls_buf_len(&a), &b, &done);
		t = a;
		a = b;
		b = t;
		from_client = !from_client;
	}
	ls_buf_clear(&a);
	ls_buf_clear(&b);
}

static void
rec_clear(struct rec *rec)
{
	for (int i = 0; i < rec->n; i++)
		ls_buf_clear(&rec->msg[i]);
}

static void
run_pair(const char *name, ls_handshake_purpose purpose, const char *nick, const char *pw,
         ls_handshake_reg_status reply, struct rec *rec)
{
	struct store st;
	ls_handshake *c = fuzz_client(purpose, nick, pw), *s;

	store_init(&st);
	st.reply = reply;
	s = fuzz_server(&st);
	record(c, s, rec);
	fprintf(stderr, "%s: client %s, server %s\n", name,
	        ls_handshake_reason_string(ls_handshake_get_reason(c)),
	        ls_handshake_reason_string(ls_handshake_get_reason(s)));
	ls_handshake_free(c);
	ls_handshake_free(s);
}

int
main(int argc, char **argv)
{
	static const uint8_t err_aborted[] = { HS_MSG_ERROR, HS_ERROR_ABORTED, 0, 1, 0, 1 };
	static const uint8_t err_auth[] = { HS_MSG_ERROR, HS_ERROR_AUTH_FAILED, 0, 1, 0, 1 };
	static const uint8_t err_version[] = { HS_MSG_ERROR, HS_ERROR_VERSION_MISMATCH, 0, 2,
		                               0, 3 };
	static const uint8_t err_busy[] = { HS_MSG_ERROR, HS_ERROR_BUSY, 0, 1, 0, 1 };
	struct rec rec;
	ls_buf b;

	if (argc != 2) {
		fprintf(stderr, "usage: %s fuzz/corpus/handshake\n", argv[0]);
		return 2;
	}
	outdir = argv[1];

	/* Sessions: the server's seeds are the client's messages, the client's the server's. */
	run_pair("session-ok", LS_HANDSHAKE_SESSION, FUZZ_NICK, FUZZ_PASSWORD, 0, &rec);
	put("server-session-ok", MODE_SERVER, &rec, true, 16);
	put("server-session-hello-u1", MODE_SERVER, &rec, true, 2);
	put("client-session-ok", MODE_CLIENT, &rec, false, 16);
	put("client-session-hello-only", MODE_CLIENT, &rec, false, 1);
	put_raw("codec-client-hello", MODE_CODEC, ls_buf_data(&rec.msg[0]),
	        ls_buf_len(&rec.msg[0]), false);
	put_raw("codec-server-hello-session", MODE_CODEC, ls_buf_data(&rec.msg[1]),
	        ls_buf_len(&rec.msg[1]), false);
	/* Out of order: MAC_A right after the hello, u1 twice. */
	{
		struct rec o = { .n = 2, .from_client = { true, true } };

		o.msg[0] = rec.msg[0];
		o.msg[1] = rec.msg[4];
		put("server-session-out-of-order", MODE_SERVER, &o, true, 2);
		o.n = 3;
		o.msg[1] = rec.msg[2];
		o.msg[2] = rec.msg[2];
		put("server-session-u1-twice", MODE_SERVER, &o, true, 3);
		o.n = 2;
		o.msg[0] = rec.msg[0];
		o.msg[1] = rec.msg[0];
		o.from_client[0] = o.from_client[1] = true;
		put("server-session-hello-twice", MODE_SERVER, &o, true, 2);
	}
	rec_clear(&rec);

	run_pair("session-wrong-password", LS_HANDSHAKE_SESSION, FUZZ_NICK, "not the password", 0,
	         &rec);
	put("server-session-wrong-password", MODE_SERVER, &rec, true, 16);
	put("client-session-auth-failed", MODE_CLIENT, &rec, false, 16);
	rec_clear(&rec);

	run_pair("session-unknown", LS_HANDSHAKE_SESSION, "nobody@nowhere", FUZZ_PASSWORD, 0, &rec);
	put("server-session-unknown", MODE_SERVER, &rec, true, 16);
	rec_clear(&rec);

	/* Registration. */
	run_pair("register-ok", LS_HANDSHAKE_REGISTER, FUZZ_NICK, "new password",
	         LS_HANDSHAKE_REG_OK, &rec);
	put("server-register-ok", MODE_SERVER_REG, &rec, true, 16);
	put("client-register-ok", MODE_CLIENT_REG, &rec, false, 16);
	put_raw("codec-server-hello-register", MODE_CODEC, ls_buf_data(&rec.msg[1]),
	        ls_buf_len(&rec.msg[1]), false);
	rec_clear(&rec);
	run_pair("register-closed", LS_HANDSHAKE_REGISTER, FUZZ_NICK, "new password",
	         LS_HANDSHAKE_REG_CLOSED, &rec);
	put("client-register-closed", MODE_CLIENT_REG, &rec, false, 16);
	rec_clear(&rec);
	run_pair("register-taken", LS_HANDSHAKE_REGISTER, FUZZ_TAKEN, "new password",
	         LS_HANDSHAKE_REG_OK, &rec);
	put("server-register-taken", MODE_SERVER_REG, &rec, true, 16);
	rec_clear(&rec);

	/* ERROR messages both ways. */
	run_pair("session-ok-again", LS_HANDSHAKE_SESSION, FUZZ_NICK, FUZZ_PASSWORD, 0, &rec);
	ls_buf_reset(&rec.msg[2]);
	ls_buf_add(&rec.msg[2], err_aborted, sizeof(err_aborted));
	put("server-session-client-aborts", MODE_SERVER, &rec, true, 2);
	ls_buf_reset(&rec.msg[5]);
	ls_buf_add(&rec.msg[5], err_auth, sizeof(err_auth));
	put("client-session-error-auth", MODE_CLIENT, &rec, false, 3);
	rec_clear(&rec);
	put_raw("client-version-mismatch", MODE_CLIENT, err_version, sizeof(err_version), true);
	put_raw("client-busy", MODE_CLIENT, err_busy, sizeof(err_busy), true);
	put_raw("codec-error", MODE_CODEC, err_version, sizeof(err_version), false);

	/* Hostile hellos. */
	put_raw("server-bad-magic", MODE_SERVER, "GET / HTTP/1.1\r\n\r\n", 18, true);
	put_raw("server-future-version", MODE_SERVER, "LS11\x00\x07\x00\x09 future", 15, true);
	put_raw("server-empty", MODE_SERVER, "", 0, false);

	/* A registration request plaintext for the codec. */
	ls_buf_init(&b, LS_HANDSHAKE_MAX_MESSAGE);
	hs_encode_reg_request(&b, "codec.user", fuzz_verifier(), (const uint8_t *)"code", 4);
	put_raw("codec-reg-request", MODE_CODEC, ls_buf_data(&b), ls_buf_len(&b), false);
	ls_buf_clear(&b);
	return failures == 0 ? 0 : 1;
}
#endif
