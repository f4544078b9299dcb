/*
 * core/channel.c: round trips of every interesting size both ways; the record bytes against an
 * independent computation of the documented construction (KDF_TREE, CTR with IV = seq, OMAC
 * over seq || header || ciphertext); epoch changes with a tiny epoch; fresh keystream per
 * record; one test each for a tampered (every bit), replayed, reordered, truncated and dropped
 * record, each named precisely; authentic records with a bad version/type/close; the end of
 * the sequence space; permanent closure after a failure; broken transports; no allocation per
 * record in steady state; and a channel over real TCP between two threads.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buffer.h"
#include "channel.h"
#include "crypto.h"
#include "transport.h"
#include "test-util.h"

/* The protocol constants of docs/channel.md, written out again on purpose. */
static const char LABEL_C2S[] = "LS11CLOUD channel v1 client to server";
static const char LABEL_S2C[] = "LS11CLOUD channel v1 server to client";
static const char LABEL_EPOCH[] = "LS11CLOUD channel v1 record keys";

struct keys {
	uint8_t k[32];
	uint8_t cn[32];
	size_t cn_len;
	uint8_t sn[16];
	size_t sn_len;
};

static void
keys_random(struct keys *ks)
{
	cr_assert_eq(ls_random_bytes(ks->k, sizeof(ks->k)), LS_OK);
	cr_assert_eq(ls_random_bytes(ks->cn, sizeof(ks->cn)), LS_OK);
	cr_assert_eq(ls_random_bytes(ks->sn, sizeof(ks->sn)), LS_OK);
	ks->cn_len = sizeof(ks->cn);
	ks->sn_len = sizeof(ks->sn);
}

static ls_channel *
chan(const struct keys *ks, ls_channel_role role, unsigned epoch_bits)
{
	ls_channel *ch = NULL;

	cr_assert_eq(ls_channel_new(role, ks->k, ks->cn, ks->cn_len, ks->sn, ks->sn_len, &ch),
	             LS_OK);
	if (epoch_bits != LS_CHANNEL_DEFAULT_EPOCH_BITS)
		cr_assert_eq(ls_channel_set_epoch_bits(ch, epoch_bits), LS_OK);
	return ch;
}

static void
pair(struct keys *ks, ls_channel **c, ls_channel **s, unsigned epoch_bits)
{
	keys_random(ks);
	*c = chan(ks, LS_CHANNEL_CLIENT, epoch_bits);
	*s = chan(ks, LS_CHANNEL_SERVER, epoch_bits);
}

static uint8_t *
pattern(size_t n, uint8_t seed)
{
	uint8_t *p = malloc(n ? n : 1);

	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 8));
	return p;
}

/* Seals @len bytes from @from and opens them at @to; checks the plaintext comes back. */
static void
round_trip(ls_channel *from, ls_channel *to, size_t len, uint8_t seed)
{
	uint8_t *pt = pattern(len, seed);
	ls_record_type type = 0;
	ls_buf rec, out;

	ls_buf_init(&rec, LS_CHANNEL_MAX_RECORD);
	ls_buf_init(&out, LS_CHANNEL_MAX_PLAINTEXT);
	cr_assert_eq(ls_channel_seal(from, LS_RECORD_DATA, pt, len, &rec), LS_OK, "seal %zu", len);
	cr_assert_eq(ls_buf_len(&rec), len + LS_CHANNEL_OVERHEAD);
	cr_assert_eq(ls_channel_open(to, ls_buf_data(&rec), ls_buf_len(&rec), &out, &type), LS_OK,
	             "open %zu", len);
	cr_assert_eq(type, LS_RECORD_DATA);
	cr_assert_eq(ls_buf_len(&out), len);
	if (len > 0)
		cr_assert(memcmp(ls_buf_data(&out), pt, len) == 0, "plaintext of %zu bytes", len);
	ls_buf_clear(&rec);
	ls_buf_clear(&out);
	free(pt);
}

/* One sealed record in its own malloc'd copy. */
struct rec {
	uint8_t *p;
	size_t n;
};

static struct rec
seal(ls_channel *ch, const void *pt, size_t len)
{
	struct rec r;
	ls_buf b;

	ls_buf_init(&b, LS_CHANNEL_MAX_RECORD);
	cr_assert_eq(ls_channel_seal(ch, LS_RECORD_DATA, pt, len, &b), LS_OK);
	r.p = ls_buf_steal(&b, &r.n);
	cr_assert_not_null(r.p);
	return r;
}

static int
open_rec(ls_channel *ch, const uint8_t *p, size_t n)
{
	ls_record_type type;
	ls_buf out;
	int r;

	ls_buf_init(&out, LS_CHANNEL_MAX_PLAINTEXT);
	r = ls_channel_open(ch, p, n, &out, &type);
	ls_buf_clear(&out);
	return r;
}

/* ---- independent computation of a record (docs/channel.md) -------------------------------- */

static void
be64(uint8_t b[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

static size_t
reference_record(const struct keys *ks, bool c2s, unsigned epoch_bits, uint64_t seq,
                 uint8_t version, uint8_t type, const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t seed[64], dkey[32], ek[64], seqb[8], eseed[8];
	ls_cipher_params cp = { 0 };
	ls_mac_ctx *mac = NULL;

	memcpy(seed, ks->cn, ks->cn_len);
	memcpy(seed + ks->cn_len, ks->sn, ks->sn_len);
	cr_assert_eq(ls_kdf_tree_gostr3411_2012_256(
	                     ks->k, (const uint8_t *)(c2s ? LABEL_C2S : LABEL_S2C),
	                     strlen(c2s ? LABEL_C2S : LABEL_S2C), seed, ks->cn_len + ks->sn_len, 1,
	                     dkey, 32),
	             LS_OK);
	be64(eseed, seq >> epoch_bits);
	cr_assert_eq(ls_kdf_tree_gostr3411_2012_256(dkey, (const uint8_t *)LABEL_EPOCH,
	                                            strlen(LABEL_EPOCH), eseed, 8, 1, ek, 64),
	             LS_OK);
	be64(seqb, seq);
	out[0] = version;
	out[1] = type;
	cp.alg = LS_CIPHER_KUZNYECHIK;
	cp.mode = LS_MODE_CTR;
	cp.encrypt = true;
	cp.key = ek;
	cp.iv = seqb;
	cp.iv_len = 8;
	if (len > 0)
		cr_assert_eq(ls_cipher(&cp, pt, len, out + 2), LS_OK);
	cr_assert_eq(ls_mac_new(LS_CIPHER_KUZNYECHIK, 0, ek + 32, &mac), LS_OK);
	cr_assert_eq(ls_mac_update(mac, seqb, 8), LS_OK);
	cr_assert_eq(ls_mac_update(mac, out, 2 + len), LS_OK);
	cr_assert_eq(ls_mac_final(mac, out + 2 + len, 16), LS_OK);
	ls_mac_free(mac);
	return len + 18;
}

/* ---- round trips ------------------------------------------------------------------------- */

Test(channel, round_trips_of_every_size_both_ways)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 31, 32, 33, 1000, 65536,
		                        LS_CHANNEL_MAX_PLAINTEXT };
	ls_channel *c, *s;
	struct keys ks;
	uint8_t seed = 0;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		round_trip(c, s, sizes[i], seed++);
		round_trip(s, c, sizes[i], seed++);
		round_trip(s, c, sizes[i], seed++);
		round_trip(c, s, sizes[i], seed++);
	}
	cr_assert_eq(ls_channel_send_seq(c), 22);
	cr_assert_eq(ls_channel_recv_seq(s), 22);
	cr_assert_eq(ls_channel_get_fault(c), LS_CHANNEL_FAULT_NONE);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(channel, plaintext_cap_is_refused_without_harm)
{
	uint8_t *big = pattern(LS_CHANNEL_MAX_PLAINTEXT + 1, 1);
	ls_channel *c, *s;
	struct keys ks;
	ls_buf rec;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	ls_buf_init(&rec, 2 * LS_CHANNEL_MAX_RECORD);
	cr_assert_eq(ls_channel_seal(c, LS_RECORD_DATA, big, LS_CHANNEL_MAX_PLAINTEXT + 1, &rec),
	             LS_ERR_TOO_LARGE);
	cr_assert_eq(ls_buf_len(&rec), 0);
	cr_assert_eq(ls_channel_send_seq(c), 0, "no sequence number spent");
	cr_assert_eq(LS_CHANNEL_MAX_PLAINTEXT + LS_CHANNEL_OVERHEAD, 1u << 20,
	             "the largest record fills a 1 MiB frame exactly");
	round_trip(c, s, LS_CHANNEL_MAX_PLAINTEXT, 2);
	ls_buf_clear(&rec);
	ls_channel_free(c);
	ls_channel_free(s);
	free(big);
}

Test(channel, records_match_the_documented_construction)
{
	static const size_t sizes[] = { 0, 1, 16, 17, 100 };
	uint8_t want[200], *pt = pattern(100, 7);
	ls_channel *c, *s;
	struct keys ks;
	uint64_t seq = 0;
	ls_buf rec;

	pair(&ks, &c, &s, 1); /* epochs of 2 records: seqs 0..4 cross two key changes */
	ls_buf_init(&rec, 4096);
	for (size_t i = 0; i < 5; i++, seq++) {
		size_t n = reference_record(&ks, true, 1, seq, 1, 1, pt, sizes[i], want);

		ls_buf_reset(&rec);
		cr_assert_eq(ls_channel_seal(c, LS_RECORD_DATA, pt, sizes[i], &rec), LS_OK);
		cr_assert_eq(ls_buf_len(&rec), n);
		cr_assert_arr_eq(ls_buf_data(&rec), want, n, "client record %llu",
		                 (unsigned long long)seq);

		n = reference_record(&ks, false, 1, seq, 1, 1, pt, sizes[i], want);
		ls_buf_reset(&rec);
		cr_assert_eq(ls_channel_seal(s, LS_RECORD_DATA, pt, sizes[i], &rec), LS_OK);
		cr_assert_arr_eq(ls_buf_data(&rec), want, n, "server record %llu",
		                 (unsigned long long)seq);
	}
	/* The close record: type 2, no ciphertext, just the tag. */
	reference_record(&ks, true, 1, seq, 1, 2, NULL, 0, want);
	ls_buf_reset(&rec);
	cr_assert_eq(ls_channel_seal(c, LS_RECORD_CLOSE, NULL, 0, &rec), LS_OK);
	cr_assert_eq(ls_buf_len(&rec), 18);
	cr_assert_arr_eq(ls_buf_data(&rec), want, 18);
	ls_buf_clear(&rec);
	ls_channel_free(c);
	ls_channel_free(s);
	free(pt);
}

Test(channel, successive_records_of_the_same_plaintext_differ)
{
	uint8_t pt[64] = { 0 };
	struct rec a, b, other;
	ls_channel *c, *s;
	struct keys ks;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	a = seal(c, pt, sizeof(pt));
	b = seal(c, pt, sizeof(pt));
	other = seal(s, pt, sizeof(pt));
	cr_assert_eq(a.n, b.n);
	cr_assert_arr_eq(a.p, b.p, 2, "same header");
	cr_assert(memcmp(a.p + 2, b.p + 2, 64) != 0, "but a fresh keystream (IV = seq)");
	cr_assert(memcmp(a.p + 66, b.p + 66, 16) != 0, "and a different tag");
	cr_assert(memcmp(a.p + 2, other.p + 2, 64) != 0, "the directions have their own keys");
	/* Over an all-zero plaintext the ciphertext is the keystream: no block repeats. */
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			cr_assert(memcmp(a.p + 2 + 16 * i, b.p + 2 + 16 * j, 16) != 0);
	cr_assert_eq(open_rec(s, a.p, a.n), LS_OK);
	cr_assert_eq(open_rec(s, b.p, b.n), LS_OK);
	free(a.p);
	free(b.p);
	free(other.p);
	ls_channel_free(c);
	ls_channel_free(s);
}

/* ---- epochs ------------------------------------------------------------------------------ */

Test(channel, epochs_of_four_records_stay_in_step)
{
	ls_channel *c, *s;
	struct keys ks;

	pair(&ks, &c, &s, 2);
	for (int i = 0; i < 50; i++) {
		round_trip(c, s, (size_t)(i * 37) % 300, (uint8_t)i);
		if (i % 3 == 0)
			round_trip(s, c, (size_t)i, (uint8_t)i);
		if (i % 7 == 0) {
			round_trip(c, s, 1, 0);
			round_trip(c, s, 2, 0);
		}
	}
	cr_assert_eq(ls_channel_get_fault(c), LS_CHANNEL_FAULT_NONE);
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_NONE);
	cr_assert_geq(ls_channel_send_seq(c), 50, "more than a dozen epochs went by");
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(channel, epoch_keys_really_change)
{
	uint8_t pt[8] = { 0 };
	ls_channel *c, *s;
	struct keys ks;

	/* Same K and nonces but a different epoch length: equal keys for records 0..3 only. */
	keys_random(&ks);
	c = chan(&ks, LS_CHANNEL_CLIENT, 2);
	s = chan(&ks, LS_CHANNEL_SERVER, 3);
	for (int i = 0; i < 4; i++) {
		struct rec r = seal(c, pt, sizeof(pt));

		cr_assert_eq(open_rec(s, r.p, r.n), LS_OK, "record %d is in epoch 0 for both", i);
		free(r.p);
	}
	struct rec r = seal(c, pt, sizeof(pt));
	cr_assert_eq(open_rec(s, r.p, r.n), LS_ERR_RECORD_AUTH, "record 4 opens epoch 1 at one end");
	free(r.p);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(channel, epoch_length_rules)
{
	ls_channel *c, *s;
	struct keys ks;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	cr_assert_eq(ls_channel_set_epoch_bits(c, 64), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_channel_set_epoch_bits(c, 0), LS_OK, "a key per record is allowed");
	cr_assert_eq(ls_channel_set_epoch_bits(s, 0), LS_OK);
	round_trip(c, s, 10, 0);
	round_trip(c, s, 10, 0);
	cr_assert_eq(ls_channel_set_epoch_bits(c, 5), LS_ERR_STATE, "not once records flowed");
	cr_assert_eq(ls_channel_set_epoch_bits(s, 5), LS_ERR_STATE);
	ls_channel_free(c);
	ls_channel_free(s);
}

/* ---- failures, one test each ------------------------------------------------------------- */

static void
assert_closed_for_good(ls_channel *ch, const struct rec *good)
{
	uint8_t pt[1] = { 0 };
	ls_buf b;

	cr_assert_eq(open_rec(ch, good->p, good->n), LS_ERR_CHANNEL_CLOSED,
	             "even a genuine record is refused afterwards");
	cr_assert_eq(open_rec(ch, good->p, good->n), LS_ERR_CHANNEL_CLOSED);
	ls_buf_init(&b, 64);
	cr_assert_eq(ls_channel_seal(ch, LS_RECORD_DATA, pt, 1, &b), LS_ERR_CHANNEL_CLOSED,
	             "and nothing more is sealed");
	cr_assert_eq(ls_buf_len(&b), 0);
	ls_buf_clear(&b);
}

Test(channel, tampered_record_every_bit)
{
	uint8_t pt[24];
	struct keys ks;
	ls_channel *c, *s;
	struct rec good;

	memset(pt, 0x42, sizeof(pt));
	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	round_trip(c, s, 5, 1); /* so the record under test is not the first */
	good = seal(c, pt, sizeof(pt));
	ls_channel_free(s);

	for (size_t bit = 0; bit < good.n * 8; bit++) {
		uint8_t *bad = malloc(good.n);

		memcpy(bad, good.p, good.n);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		s = chan(&ks, LS_CHANNEL_SERVER, LS_CHANNEL_DEFAULT_EPOCH_BITS);
		ls_channel_test_set_seq(s, 0, 1);
		cr_assert_eq(open_rec(s, bad, good.n), LS_ERR_RECORD_AUTH, "bit %zu (%s)", bit,
		             bit < 8 ? "version" : bit < 16 ? "type" :
		             bit < 8 * (good.n - 16) ? "ciphertext" : "tag");
		cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_BAD_TAG, "bit %zu: %s", bit,
		             ls_channel_fault_string(ls_channel_get_fault(s)));
		if (bit % 61 == 0)
			assert_closed_for_good(s, &good);
		ls_channel_free(s);
		free(bad);
	}
	s = chan(&ks, LS_CHANNEL_SERVER, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	ls_channel_test_set_seq(s, 0, 1);
	cr_assert_eq(open_rec(s, good.p, good.n), LS_OK, "the untouched record still opens");
	ls_channel_free(s);
	ls_channel_free(c);
	free(good.p);
}

Test(channel, replayed_record)
{
	struct rec a, b;
	ls_channel *c, *s;
	struct keys ks;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	a = seal(c, "first", 5);
	b = seal(c, "second", 6);
	cr_assert_eq(open_rec(s, a.p, a.n), LS_OK);
	cr_assert_eq(open_rec(s, a.p, a.n), LS_ERR_RECORD_AUTH);
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_REPLAYED, "%s",
	             ls_channel_fault_string(ls_channel_get_fault(s)));
	assert_closed_for_good(s, &b);
	free(a.p);
	free(b.p);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(channel, reordered_records)
{
	struct rec a, b;
	ls_channel *c, *s;
	struct keys ks;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	a = seal(c, "first", 5);
	b = seal(c, "second", 6);
	cr_assert_eq(open_rec(s, b.p, b.n), LS_ERR_RECORD_AUTH);
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_OUT_OF_ORDER, "%s",
	             ls_channel_fault_string(ls_channel_get_fault(s)));
	assert_closed_for_good(s, &a);
	free(a.p);
	free(b.p);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(channel, truncated_record)
{
	struct rec a;
	ls_channel *c, *s;
	struct keys ks;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	a = seal(c, "a record that will lose its end", 31);

	/* Cut short but still longer than header + tag: the tag no longer matches. */
	cr_assert_eq(open_rec(s, a.p, a.n - 1), LS_ERR_RECORD_AUTH);
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_BAD_TAG);
	assert_closed_for_good(s, &a);
	ls_channel_free(s);

	/* Shorter than header + tag: refused on its length alone. */
	s = chan(&ks, LS_CHANNEL_SERVER, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	cr_assert_eq(open_rec(s, a.p, LS_CHANNEL_OVERHEAD - 1), LS_ERR_RECORD_AUTH);
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_TRUNCATED);
	assert_closed_for_good(s, &a);
	ls_channel_free(s);

	s = chan(&ks, LS_CHANNEL_SERVER, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	cr_assert_eq(open_rec(s, a.p, 0), LS_ERR_RECORD_AUTH, "an empty record");
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_TRUNCATED);
	ls_channel_free(s);
	free(a.p);
	ls_channel_free(c);
}

Test(channel, dropped_record_fails_the_next_one)
{
	struct rec a, b, c3;
	ls_channel *c, *s;
	struct keys ks;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	a = seal(c, "one", 3);
	b = seal(c, "two", 3); /* lost on the way */
	c3 = seal(c, "three", 5);
	cr_assert_eq(open_rec(s, a.p, a.n), LS_OK);
	cr_assert_eq(open_rec(s, c3.p, c3.n), LS_ERR_RECORD_AUTH);
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_OUT_OF_ORDER);
	assert_closed_for_good(s, &b);
	free(a.p);
	free(b.p);
	free(c3.p);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(channel, reflected_record_and_wrong_keys)
{
	struct keys ks, other;
	ls_channel *c, *s, *s2;
	struct rec a;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	a = seal(c, "hello", 5);
	cr_assert_eq(open_rec(c, a.p, a.n), LS_ERR_RECORD_AUTH,
	             "a record sent back to its sender does not open (direction keys differ)");
	cr_assert_eq(ls_channel_get_fault(c), LS_CHANNEL_FAULT_BAD_TAG);

	other = ks;
	other.sn[0] ^= 1;
	s2 = chan(&other, LS_CHANNEL_SERVER, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	cr_assert_eq(open_rec(s2, a.p, a.n), LS_ERR_RECORD_AUTH, "another server nonce");
	ls_channel_free(s2);
	other = ks;
	other.k[31] ^= 0x80;
	s2 = chan(&other, LS_CHANNEL_SERVER, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	cr_assert_eq(open_rec(s2, a.p, a.n), LS_ERR_RECORD_AUTH, "another K");
	ls_channel_free(s2);
	cr_assert_eq(open_rec(s, a.p, a.n), LS_OK);
	free(a.p);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(channel, oversize_record)
{
	uint8_t *big = calloc(1, LS_CHANNEL_MAX_RECORD + 1);
	ls_channel *c, *s;
	struct keys ks;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	cr_assert_eq(open_rec(s, big, LS_CHANNEL_MAX_RECORD + 1), LS_ERR_RECORD_AUTH);
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_OVERSIZE);
	ls_channel_free(c);
	ls_channel_free(s);
	free(big);
}

Test(channel, authentic_but_invalid_records)
{
	static const struct {
		uint8_t version, type;
		size_t len;
		ls_channel_fault fault;
	} cases[] = {
		{ 2, 1, 4, LS_CHANNEL_FAULT_BAD_VERSION },
		{ 0, 1, 4, LS_CHANNEL_FAULT_BAD_VERSION },
		{ 1, 0, 4, LS_CHANNEL_FAULT_BAD_TYPE },
		{ 1, 3, 0, LS_CHANNEL_FAULT_BAD_TYPE },
		{ 1, 2, 1, LS_CHANNEL_FAULT_BAD_CLOSE },
	};
	uint8_t rec[64];
	struct keys ks;
	ls_channel *s;

	keys_random(&ks);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = reference_record(&ks, true, LS_CHANNEL_DEFAULT_EPOCH_BITS, 0,
		                            cases[i].version, cases[i].type,
		                            (const uint8_t *)"data", cases[i].len, rec);

		s = chan(&ks, LS_CHANNEL_SERVER, LS_CHANNEL_DEFAULT_EPOCH_BITS);
		cr_assert_eq(open_rec(s, rec, n), LS_ERR_RECORD_AUTH, "case %zu", i);
		cr_assert_eq(ls_channel_get_fault(s), cases[i].fault, "case %zu: %s", i,
		             ls_channel_fault_string(ls_channel_get_fault(s)));
		ls_channel_free(s);
	}
}

Test(channel, out_buffer_too_small_changes_nothing)
{
	ls_record_type type;
	ls_channel *c, *s;
	struct keys ks;
	struct rec a;
	ls_buf small, big;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	a = seal(c, "0123456789", 10);
	ls_buf_init(&small, 4);
	ls_buf_init(&big, 64);
	ls_buf_add(&big, "kept:", 5);
	cr_assert_eq(ls_channel_open(s, a.p, a.n, &small, &type), LS_ERR_BUFFER_FULL);
	cr_assert_eq(ls_channel_recv_seq(s), 0);
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_NONE);
	cr_assert_eq(ls_channel_open(s, a.p, a.n, &big, &type), LS_OK, "the record opens later");
	cr_assert_eq(ls_buf_len(&big), 15, "plaintext is appended");
	cr_assert_arr_eq(ls_buf_data(&big), "kept:0123456789", 15);
	ls_buf_clear(&small);
	ls_buf_clear(&big);
	free(a.p);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(channel, sequence_space_ends)
{
	ls_channel *c, *s;
	struct keys ks;
	struct rec a;
	ls_buf b;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	ls_channel_test_set_seq(c, UINT64_MAX - 2, UINT64_MAX - 2);
	ls_channel_test_set_seq(s, UINT64_MAX - 2, UINT64_MAX - 2);
	round_trip(c, s, 3, 0);
	round_trip(c, s, 3, 1); /* seq 2^64 - 2: the last one */
	round_trip(s, c, 3, 2);
	cr_assert_eq(ls_channel_send_seq(c), UINT64_MAX);
	ls_buf_init(&b, 64);
	cr_assert_eq(ls_channel_seal(c, LS_RECORD_DATA, "x", 1, &b), LS_ERR_SEQ_EXHAUSTED);
	cr_assert_eq(ls_buf_len(&b), 0);
	cr_assert_eq(ls_channel_get_fault(c), LS_CHANNEL_FAULT_SEQ_EXHAUSTED);
	cr_assert_eq(ls_channel_seal(c, LS_RECORD_DATA, "x", 1, &b), LS_ERR_CHANNEL_CLOSED);
	ls_buf_clear(&b);

	/* The failed end refuses what its peer still sends. */
	a = seal(s, "y", 1);
	cr_assert_eq(open_rec(c, a.p, a.n), LS_ERR_CHANNEL_CLOSED);
	free(a.p);
	ls_channel_free(c);
	ls_channel_free(s);

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	ls_channel_test_set_seq(c, UINT64_MAX - 1, 0);
	ls_channel_test_set_seq(s, 0, UINT64_MAX);
	a = seal(c, "z", 1);
	cr_assert_eq(open_rec(s, a.p, a.n), LS_ERR_SEQ_EXHAUSTED, "the receiver stops there too");
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_SEQ_EXHAUSTED);
	free(a.p);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(channel, close_record_ends_one_direction)
{
	ls_record_type type = 0;
	ls_channel *c, *s;
	struct keys ks;
	ls_buf rec, out;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	ls_buf_init(&rec, 256);
	ls_buf_init(&out, 256);
	cr_assert_eq(ls_channel_seal(c, LS_RECORD_CLOSE, "x", 1, &rec), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_channel_seal(c, 7, NULL, 0, &rec), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_channel_seal(c, LS_RECORD_CLOSE, NULL, 0, &rec), LS_OK);
	cr_assert_eq(ls_channel_seal(c, LS_RECORD_DATA, "x", 1, &rec), LS_ERR_CHANNEL_CLOSED);
	cr_assert_eq(ls_channel_open(s, ls_buf_data(&rec), ls_buf_len(&rec), &out, &type), LS_OK);
	cr_assert_eq(type, LS_RECORD_CLOSE);
	cr_assert_eq(ls_buf_len(&out), 0);
	cr_assert_eq(ls_channel_open(s, ls_buf_data(&rec), ls_buf_len(&rec), &out, &type),
	             LS_ERR_CHANNEL_CLOSED);
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_NONE, "an orderly close is no fault");
	round_trip(s, c, 10, 3); /* the other direction still works */
	ls_buf_clear(&rec);
	ls_buf_clear(&out);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(channel, argument_rules)
{
	uint8_t k[32] = { 0 }, n16[16] = { 0 }, n33[33] = { 0 };
	ls_channel *ch = (ls_channel *)1;

	cr_assert_eq(ls_channel_new(LS_CHANNEL_CLIENT, k, n16, 15, n16, 16, &ch), LS_ERR_BAD_LENGTH);
	cr_assert_null(ch);
	cr_assert_eq(ls_channel_new(LS_CHANNEL_CLIENT, k, n16, 16, n33, 33, &ch), LS_ERR_BAD_LENGTH);
	cr_assert_eq(ls_channel_new(3, k, n16, 16, n16, 16, &ch), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_channel_new(LS_CHANNEL_SERVER, k, n16, 16, n33, 32, &ch), LS_OK);
	ls_channel_free(ch);
	ls_channel_free(NULL);
}

/* ---- no allocation per record ----------------------------------------------------------- */

#if !defined(__SANITIZE_ADDRESS__) && !defined(__has_feature)
#define COUNT_MALLOC 1
#elif defined(__has_feature)
#if !__has_feature(address_sanitizer)
#define COUNT_MALLOC 1
#endif
#endif

#ifdef COUNT_MALLOC
/* glibc: the executable's malloc family wins; forward to the real one and count. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static volatile size_t malloc_calls;

void *malloc(size_t n);
void *calloc(size_t a, size_t b);
void *realloc(void *p, size_t n);

void *
malloc(size_t n)
{
	malloc_calls++;
	return __libc_malloc(n);
}

void *
calloc(size_t a, size_t b)
{
	malloc_calls++;
	return __libc_calloc(a, b);
}

void *
realloc(void *p, size_t n)
{
	malloc_calls++;
	return __libc_realloc(p, n);
}

Test(channel, no_allocation_per_record_in_steady_state)
{
	uint8_t pt[1000];
	ls_record_type type;
	ls_channel *c, *s;
	struct keys ks;
	size_t before, after;
	int bad = 0;
	ls_buf rec, out;

	memset(pt, 7, sizeof(pt));
	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	ls_buf_init(&rec, LS_CHANNEL_MAX_RECORD);
	ls_buf_init(&out, LS_CHANNEL_MAX_PLAINTEXT);
	/* Warm up: first epoch keys and buffer growth. */
	bad |= ls_channel_seal(c, LS_RECORD_DATA, pt, sizeof(pt), &rec);
	bad |= ls_channel_open(s, ls_buf_data(&rec), ls_buf_len(&rec), &out, &type);
	before = malloc_calls;
	for (int i = 0; i < 500; i++) {
		ls_buf_reset(&rec);
		ls_buf_reset(&out);
		bad |= ls_channel_seal(c, LS_RECORD_DATA, pt, (size_t)(i % 1000), &rec);
		bad |= ls_channel_open(s, ls_buf_data(&rec), ls_buf_len(&rec), &out, &type);
	}
	after = malloc_calls;
	cr_assert_eq(bad, 0);
	cr_assert_eq(after - before, 0, "%zu allocations in 500 seal+open", after - before);

	/* The counter works: an epoch change does allocate (a new context pair). */
	ls_channel_test_set_seq(c, (uint64_t)1 << LS_CHANNEL_DEFAULT_EPOCH_BITS, 0);
	ls_buf_reset(&rec);
	before = malloc_calls;
	cr_assert_eq(ls_channel_seal(c, LS_RECORD_DATA, pt, 10, &rec), LS_OK);
	cr_assert_gt(malloc_calls - before, 0);
	ls_buf_clear(&rec);
	ls_buf_clear(&out);
	ls_channel_free(c);
	ls_channel_free(s);
}
#endif

/* ---- over transports --------------------------------------------------------------------- */

Test(transport, send_recv_close_over_a_memory_pair)
{
	ls_transport *ta, *tb;
	ls_channel *c, *s;
	struct keys ks;
	ls_buf out;

	pair(&ks, &c, &s, 2);
	cr_assert_eq(ls_transport_memory_pair(0, &ta, &tb), LS_OK);
	ls_buf_init(&out, LS_CHANNEL_MAX_PLAINTEXT);
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(ls_channel_send(c, ta, "ping", 4, 1000), LS_OK);
		cr_assert_eq(ls_channel_recv(s, tb, &out, 1000), LS_OK);
		cr_assert_arr_eq(ls_buf_data(&out), "ping", 4);
		cr_assert_eq(ls_channel_send(s, tb, "pong!", 5, 1000), LS_OK);
		cr_assert_eq(ls_channel_recv(c, ta, &out, 1000), LS_OK);
		cr_assert_eq(ls_buf_len(&out), 5);
	}
	cr_assert_eq(ls_channel_recv(s, tb, &out, 0), LS_ERR_TIMEOUT, "nothing waiting");
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_NONE, "a timeout changes nothing");
	cr_assert_eq(ls_channel_send_close(c, ta, 1000), LS_OK);
	cr_assert_eq(ls_channel_recv(s, tb, &out, 1000), LS_ERR_EOF, "orderly close");
	cr_assert_eq(ls_channel_recv(s, tb, &out, 1000), LS_ERR_CHANNEL_CLOSED);
	cr_assert_eq(ls_channel_send(c, ta, "late", 4, 1000), LS_ERR_CHANNEL_CLOSED);
	ls_transport_free(ta);
	ls_transport_free(tb);
	ls_buf_clear(&out);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(transport, end_of_stream_without_close_is_truncation)
{
	ls_transport *ta, *tb;
	ls_channel *c, *s;
	struct keys ks;
	ls_buf out;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	cr_assert_eq(ls_transport_memory_pair(0, &ta, &tb), LS_OK);
	ls_buf_init(&out, LS_CHANNEL_MAX_PLAINTEXT);
	cr_assert_eq(ls_channel_send(c, ta, "data", 4, 1000), LS_OK);
	ls_transport_free(ta);
	cr_assert_eq(ls_channel_recv(s, tb, &out, 1000), LS_OK);
	cr_assert_eq(ls_channel_recv(s, tb, &out, 1000), LS_ERR_RECORD_AUTH);
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_STREAM_TRUNCATED);
	cr_assert_eq(ls_channel_recv(s, tb, &out, 1000), LS_ERR_CHANNEL_CLOSED);
	ls_transport_free(tb);
	ls_buf_clear(&out);
	ls_channel_free(c);
	ls_channel_free(s);
}

/*
 * A deliberately broken transport wrapping one end of a memory pair: it can corrupt, drop,
 * duplicate, swap or cut frames on their way out.
 */
enum sabotage { PASS, CORRUPT, DROP, DUPLICATE, SWAP, CUT };

struct evil {
	ls_transport base;
	ls_transport *inner;
	enum sabotage what;
	int at;      /* the frame number to sabotage */
	int count;   /* frames seen */
	uint8_t *held;
	size_t held_len;
};

static int
evil_send(ls_transport *t, const uint8_t *data, size_t len, int timeout_ms)
{
	struct evil *e = (struct evil *)t;
	int n = e->count++, r;

	if (n != e->at || e->what == PASS)
		return ls_transport_send(e->inner, data, len, timeout_ms);
	switch (e->what) {
	case CORRUPT: {
		uint8_t *copy = malloc(len);

		memcpy(copy, data, len);
		copy[len / 2] ^= 0x01;
		r = ls_transport_send(e->inner, copy, len, timeout_ms);
		free(copy);
		return r;
	}
	case DROP:
		return LS_OK;
	case DUPLICATE:
		if ((r = ls_transport_send(e->inner, data, len, timeout_ms)) != LS_OK)
			return r;
		return ls_transport_send(e->inner, data, len, timeout_ms);
	case SWAP:
		/* Hold this frame and send it after the next one. */
		e->held = malloc(len);
		memcpy(e->held, data, len);
		e->held_len = len;
		e->at++;
		e->what = PASS;
		return LS_OK;
	case CUT:
		return ls_transport_send(e->inner, data, len - 1, timeout_ms);
	case PASS:
		break;
	}
	return LS_ERR_INTERNAL;
}

static int
evil_send_held(struct evil *e)
{
	int r = ls_transport_send(e->inner, e->held, e->held_len, 1000);

	free(e->held);
	e->held = NULL;
	return r;
}

static int
evil_recv(ls_transport *t, ls_buf *out, int timeout_ms)
{
	return ls_transport_recv(((struct evil *)t)->inner, out, timeout_ms);
}

static void
evil_close(ls_transport *t)
{
	ls_transport_close(((struct evil *)t)->inner);
}

static void
evil_destroy(ls_transport *t)
{
	struct evil *e = (struct evil *)t;

	ls_transport_free(e->inner);
	free(e->held);
}

static const ls_transport_ops evil_ops = {
	.send = evil_send,
	.recv = evil_recv,
	.close = evil_close,
	.destroy = evil_destroy,
};

static void
check_sabotage(enum sabotage what, int refused_at, ls_channel_fault want)
{
	struct evil e = { .base = { .ops = &evil_ops, .max_frame = LS_FRAME_DEFAULT_MAX } };
	ls_transport *tb;
	ls_channel *c, *s;
	struct keys ks;
	ls_buf out;
	int r = LS_OK, i;

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	cr_assert_eq(ls_transport_memory_pair(0, &e.inner, &tb), LS_OK);
	e.what = what;
	e.at = 2;
	ls_buf_init(&out, LS_CHANNEL_MAX_PLAINTEXT);
	for (i = 0; i < 5; i++)
		cr_assert_eq(ls_channel_send(c, &e.base, "record", 6, 1000), LS_OK);
	if (e.held != NULL)
		cr_assert_eq(evil_send_held(&e), LS_OK);
	for (i = 0; i < 6 && r == LS_OK; i++)
		r = ls_channel_recv(s, tb, &out, 1000);
	cr_assert_eq(r, LS_ERR_RECORD_AUTH, "sabotage %d", what);
	cr_assert_eq(i, refused_at, "record %d is the first refused (sabotage %d)", i, what);
	cr_assert_eq(ls_channel_get_fault(s), want, "sabotage %d: %s", what,
	             ls_channel_fault_string(ls_channel_get_fault(s)));
	cr_assert_eq(ls_channel_recv(s, tb, &out, 1000), LS_ERR_CHANNEL_CLOSED);
	ls_transport_free(&e.base);
	ls_transport_free(tb);
	ls_buf_clear(&out);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(transport, broken_transport_corrupts)
{
	check_sabotage(CORRUPT, 3, LS_CHANNEL_FAULT_BAD_TAG);
}

Test(transport, broken_transport_drops)
{
	check_sabotage(DROP, 3, LS_CHANNEL_FAULT_OUT_OF_ORDER);
}

Test(transport, broken_transport_duplicates)
{
	check_sabotage(DUPLICATE, 4, LS_CHANNEL_FAULT_REPLAYED);
}

Test(transport, broken_transport_swaps)
{
	check_sabotage(SWAP, 3, LS_CHANNEL_FAULT_OUT_OF_ORDER);
}

Test(transport, broken_transport_cuts)
{
	check_sabotage(CUT, 3, LS_CHANNEL_FAULT_BAD_TAG);
}

Test(transport, failed_send_closes_the_channel)
{
	struct evil e = { .base = { .ops = &evil_ops, .max_frame = 64 } };
	ls_transport *tb;
	ls_channel *c, *s;
	struct keys ks;
	uint8_t big[100] = { 0 };

	pair(&ks, &c, &s, LS_CHANNEL_DEFAULT_EPOCH_BITS);
	cr_assert_eq(ls_transport_memory_pair(64, &e.inner, &tb), LS_OK);
	cr_assert_eq(ls_channel_send(c, &e.base, big, 47, 1000), LS_ERR_TOO_LARGE,
	             "a record over the transport's cap is refused before sealing");
	cr_assert_eq(ls_channel_get_fault(c), LS_CHANNEL_FAULT_NONE);
	cr_assert_eq(ls_channel_send(c, &e.base, big, 46, 1000), LS_OK);
	ls_transport_close(tb);
	cr_assert_eq(ls_channel_send(c, &e.base, big, 1, 1000), LS_ERR_EOF);
	cr_assert_eq(ls_channel_get_fault(c), LS_CHANNEL_FAULT_TRANSPORT);
	cr_assert_eq(ls_channel_send(c, &e.base, big, 1, 1000), LS_ERR_CHANNEL_CLOSED);
	ls_transport_free(&e.base);
	ls_transport_free(tb);
	ls_channel_free(c);
	ls_channel_free(s);
}

/* ---- a channel over real TCP between two threads ----------------------------------------- */

static const size_t tcp_sizes[] = { 0, 1, 15, 16, 17, 1000, 65536, LS_CHANNEL_MAX_PLAINTEXT, 3 };
#define TCP_ROUNDS 3

struct server_arg {
	int fd;
	const struct keys *ks;
	int result;
	int echoed;
};

static void *
tcp_server(void *arg)
{
	struct server_arg *sa = arg;
	ls_transport *t = NULL;
	ls_channel *ch = NULL;
	ls_buf in;
	int r;

	ls_buf_init(&in, LS_CHANNEL_MAX_PLAINTEXT);
	sa->result = ls_transport_socket_new(sa->fd, 0, &t);
	if (sa->result == LS_OK)
		sa->result = ls_channel_new(LS_CHANNEL_SERVER, sa->ks->k, sa->ks->cn, sa->ks->cn_len,
		                            sa->ks->sn, sa->ks->sn_len, &ch);
	if (sa->result == LS_OK)
		sa->result = ls_channel_set_epoch_bits(ch, 3);
	while (sa->result == LS_OK) {
		r = ls_channel_recv(ch, t, &in, 10000);
		if (r == LS_ERR_EOF) {
			sa->result = ls_channel_send_close(ch, t, 10000);
			break;
		}
		if (r == LS_OK)
			r = ls_channel_send(ch, t, ls_buf_data(&in), ls_buf_len(&in), 10000);
		if (r != LS_OK)
			sa->result = r;
		else
			sa->echoed++;
	}
	ls_channel_free(ch);
	ls_transport_free(t);
	ls_buf_clear(&in);
	return NULL;
}

Test(tcp, channel_between_two_threads)
{
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	struct server_arg sa = { 0 };
	ls_transport *t = NULL;
	ls_channel *ch;
	struct keys ks;
	pthread_t th;
	int lfd, cfd;
	ls_buf in;

	keys_random(&ks); /* stands in for the SESPAKE key and the hello nonces */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&addr, &alen), 0);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(cfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	sa.fd = accept(lfd, NULL, NULL);
	cr_assert_geq(sa.fd, 0);
	close(lfd);
	sa.ks = &ks;
	cr_assert_eq(pthread_create(&th, NULL, tcp_server, &sa), 0);

	cr_assert_eq(ls_transport_socket_new(cfd, 0, &t), LS_OK);
	ch = chan(&ks, LS_CHANNEL_CLIENT, 3);
	ls_buf_init(&in, LS_CHANNEL_MAX_PLAINTEXT);
	for (int round = 0; round < TCP_ROUNDS; round++) {
		for (size_t i = 0; i < sizeof(tcp_sizes) / sizeof(tcp_sizes[0]); i++) {
			uint8_t *p = pattern(tcp_sizes[i], (uint8_t)(round * 16 + i));

			cr_assert_eq(ls_channel_send(ch, t, p, tcp_sizes[i], 10000), LS_OK);
			cr_assert_eq(ls_channel_recv(ch, t, &in, 10000), LS_OK);
			cr_assert_eq(ls_buf_len(&in), tcp_sizes[i]);
			if (tcp_sizes[i] > 0)
				cr_assert(memcmp(ls_buf_data(&in), p, tcp_sizes[i]) == 0);
			free(p);
		}
	}
	cr_assert_eq(ls_channel_send_close(ch, t, 10000), LS_OK);
	cr_assert_eq(ls_channel_recv(ch, t, &in, 10000), LS_ERR_EOF, "the server closed in turn");
	pthread_join(th, NULL);
	cr_assert_eq(sa.result, LS_OK, "server: %s", ls_strerror(sa.result));
	cr_assert_eq(sa.echoed, TCP_ROUNDS * (int)(sizeof(tcp_sizes) / sizeof(tcp_sizes[0])));
	cr_assert_gt(ls_channel_send_seq(ch) >> 3, 2, "several epochs went by");
	ls_buf_clear(&in);
	ls_channel_free(ch);
	ls_transport_free(t);
}

/* One channel sealed by one thread while another thread opens: the directions are independent. */
struct duplex_arg {
	ls_channel *ch;
	ls_transport *t;
	int count;
	int result;
};

static void *
duplex_sender(void *arg)
{
	struct duplex_arg *d = arg;

	for (int i = 0; i < d->count && d->result == LS_OK; i++) {
		uint8_t *p = pattern((size_t)i % 3000, (uint8_t)i);

		d->result = ls_channel_send(d->ch, d->t, p, (size_t)i % 3000, 10000);
		free(p);
	}
	return NULL;
}

static void *
duplex_echo(void *arg)
{
	struct duplex_arg *d = arg;
	ls_buf in;

	ls_buf_init(&in, LS_CHANNEL_MAX_PLAINTEXT);
	for (int i = 0; i < d->count && d->result == LS_OK; i++) {
		d->result = ls_channel_recv(d->ch, d->t, &in, 10000);
		if (d->result == LS_OK)
			d->result = ls_channel_send(d->ch, d->t, ls_buf_data(&in), ls_buf_len(&in),
			                            10000);
	}
	ls_buf_clear(&in);
	return NULL;
}

Test(transport, seal_and_open_in_two_threads)
{
	struct duplex_arg snd = { 0 }, echo = { 0 };
	ls_transport *ta, *tb;
	ls_channel *c, *s;
	struct keys ks;
	pthread_t th[2];
	ls_buf in;
	int bad = 0;

	pair(&ks, &c, &s, 3);
	cr_assert_eq(ls_transport_memory_pair(0, &ta, &tb), LS_OK);
	snd = (struct duplex_arg){ .ch = c, .t = ta, .count = 2000 };
	echo = (struct duplex_arg){ .ch = s, .t = tb, .count = 2000 };
	pthread_create(&th[0], NULL, duplex_sender, &snd);
	pthread_create(&th[1], NULL, duplex_echo, &echo);
	ls_buf_init(&in, LS_CHANNEL_MAX_PLAINTEXT);
	for (int i = 0; i < 2000; i++) {
		uint8_t *p = pattern((size_t)i % 3000, (uint8_t)i);

		if (ls_channel_recv(c, ta, &in, 10000) != LS_OK || ls_buf_len(&in) != (size_t)i % 3000 ||
		    (ls_buf_len(&in) > 0 && memcmp(ls_buf_data(&in), p, ls_buf_len(&in)) != 0))
			bad++;
		free(p);
	}
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	cr_assert_eq(bad, 0);
	cr_assert_eq(snd.result, LS_OK);
	cr_assert_eq(echo.result, LS_OK);
	ls_buf_clear(&in);
	ls_transport_free(ta);
	ls_transport_free(tb);
	ls_channel_free(c);
	ls_channel_free(s);
}

Test(transport, a_batch_of_records_opens_in_order_across_epochs)
{
	/* 150 messages in one call: three sendv runs of 64, 64 and 22 records, over epochs of 4
	 * records (a re-key inside each run), then an ordinary record after them; a batch too
	 * large for the plaintext cap is refused whole, before any sequence number is spent. */
	enum { N = 150 };
	ls_transport_frame msgs[N];
	uint8_t *bufs[N];
	ls_transport *ta, *tb;
	ls_channel *c, *s;
	struct keys ks;
	ls_buf out;

	pair(&ks, &c, &s, 2);
	cr_assert_eq(ls_transport_memory_pair(0, &ta, &tb), LS_OK);
	for (int i = 0; i < N; i++) {
		size_t n = (size_t)i * 37 % 3000; /* empty messages among them */

		bufs[i] = pattern(n, (uint8_t)i);
		msgs[i].data = bufs[i];
		msgs[i].len = n;
	}
	msgs[7].len = LS_CHANNEL_MAX_PLAINTEXT + 1;
	cr_assert_eq(ls_channel_send_batch(c, ta, msgs, N, 1000), LS_ERR_TOO_LARGE);
	cr_assert_eq(ls_channel_send_seq(c), 0, "nothing sealed");
	msgs[7].len = 7 * 37;
	cr_assert_eq(ls_channel_send_batch(c, ta, msgs, N, 1000), LS_OK);
	cr_assert_eq(ls_channel_send(c, ta, "after", 5, 1000), LS_OK);
	ls_buf_init(&out, LS_CHANNEL_MAX_PLAINTEXT);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(ls_channel_recv(s, tb, &out, 1000), LS_OK, "record %d", i);
		cr_assert_eq(ls_buf_len(&out), msgs[i].len);
		if (msgs[i].len > 0)
			cr_assert_arr_eq(ls_buf_data(&out), bufs[i], msgs[i].len, "record %d", i);
	}
	cr_assert_eq(ls_channel_recv(s, tb, &out, 1000), LS_OK);
	cr_assert(ls_buf_len(&out) == 5 && memcmp(ls_buf_data(&out), "after", 5) == 0);
	cr_assert_eq(ls_channel_recv_seq(s), N + 1);
	cr_assert_eq(ls_channel_get_fault(s), LS_CHANNEL_FAULT_NONE);
	for (int i = 0; i < N; i++)
		free(bufs[i]);
	ls_buf_clear(&out);
	ls_transport_free(ta);
	ls_transport_free(tb);
	ls_channel_free(c);
	ls_channel_free(s);
}
