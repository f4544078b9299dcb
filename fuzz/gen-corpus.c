/*
 * Writes the seed corpora of the fuzz targets: `fuzz-gen-corpus fuzz/corpus` fills
 * fuzz/corpus/frame and fuzz/corpus/record.  Deterministic: the same files on every run (the
 * records are sealed with the fixed key of fuzz-common.h).  Run it again after changing the
 * frame or record format, the fixed key or the labels; the files are committed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buffer.h"
#include "channel.h"
#include "crypto.h"
#include "frame.h"
#include "fuzz-common.h"

/* fuzz/fuzz-rpc.c: every call's request and responses. */
int fuzz_rpc_write_seeds(const char *dir);

static const char *outdir;
static int failures;

static void
put(const char *target, const char *name, const ls_buf *b)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	if (ls_buf_status(b) != LS_OK || (f = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "%s: cannot write\n", path);
		failures++;
		return;
	}
	if (ls_buf_len(b) > 0 && fwrite(ls_buf_data(b), 1, ls_buf_len(b), f) != ls_buf_len(b))
		failures++;
	if (fclose(f) != 0)
		failures++;
}

/* ---- frame ------------------------------------------------------------------------------- */

static void
frame_seed(ls_buf *b, uint8_t chunk, uint8_t cap)
{
	ls_buf_init(b, 1 << 16);
	ls_buf_add_u8(b, chunk);
	ls_buf_add_u8(b, cap);
}

/* A frame around the message being built in @msg. */
static void
add_frame(ls_buf *b, const ls_buf *msg)
{
	ls_buf_add_u32(b, (uint32_t)ls_buf_len(msg));
	ls_buf_add(b, ls_buf_data(msg), ls_buf_len(msg));
}

static void
frames(void)
{
	ls_buf b, m, inner;
	int i;

	frame_seed(&b, 0, 0x80);
	ls_frame_encode(&b, "A", 1, 0);
	put("frame", "one-byte", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 0, 0x80);
	ls_frame_encode(&b, "abc", 3, 0);
	ls_frame_encode(&b, "d", 1, 0);
	ls_frame_encode(&b, "efgh", 4, 0);
	put("frame", "three-frames", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 1, 0x80);
	ls_frame_encode(&b, "byte by byte", 12, 0);
	ls_frame_encode(&b, "!", 1, 0);
	put("frame", "chunk-1", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 7, 0x80);
	for (i = 1; i < 20; i += 3)
		ls_frame_encode(&b, "0123456789abcdefghij", (size_t)i, 0);
	put("frame", "chunk-7", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 3, 0x80);
	for (i = 0; i < 100; i++)
		ls_frame_encode(&b, "x", 1, 0);
	put("frame", "many-tiny", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 0, 0x00); /* cap 1 */
	ls_frame_encode(&b, "z", 1, 1);
	put("frame", "at-cap-1", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 0, 0x00);
	ls_buf_add_u32(&b, 2);
	ls_buf_add(&b, "zz", 2);
	put("frame", "over-cap-1", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 5, 0x01); /* cap 38 */
	ls_frame_encode(&b, "01234567890123456789012345678901234567", 38, 38);
	ls_buf_add_u32(&b, 39);
	put("frame", "at-and-over-cap-38", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 0, 0x80);
	ls_buf_add_u32(&b, 0xffffffffu);
	ls_buf_add(&b, "junk", 4);
	put("frame", "hostile-ffffffff", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 2, 0x80);
	ls_buf_add_u32(&b, (uint32_t)LS_FRAME_DEFAULT_MAX + 1);
	put("frame", "hostile-1mib-plus-1", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 0, 0x80);
	ls_buf_add_u32(&b, (uint32_t)LS_FRAME_DEFAULT_MAX);
	ls_buf_add(&b, "only the start of a 1 MiB frame", 31);
	put("frame", "max-default-truncated", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 0, 0x80);
	ls_buf_add_u32(&b, 0);
	put("frame", "zero-length", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 4, 0x80);
	ls_frame_encode(&b, "ok", 2, 0);
	ls_buf_add_u32(&b, 0);
	ls_frame_encode(&b, "never", 5, 0);
	put("frame", "zero-after-valid", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 0, 0x80);
	ls_frame_encode(&b, "ok", 2, 0);
	ls_buf_add_u16(&b, 0);
	put("frame", "truncated-header", &b);
	ls_buf_clear(&b);

	frame_seed(&b, 0, 0x80);
	ls_buf_add_u32(&b, 16);
	ls_buf_add(&b, "abcd", 4);
	put("frame", "truncated-payload", &b);
	ls_buf_clear(&b);

	/* Payloads in the little message grammar of fuzz-frame.c (op % 10 picks the item). */
	ls_buf_init(&m, 4096);
	ls_buf_add_u8(&m, 0);
	ls_buf_add_u8(&m, 0xaa);
	ls_buf_add_u8(&m, 1);
	ls_buf_add_u16(&m, 0xbbcc);
	ls_buf_add_u8(&m, 2);
	ls_buf_add_u32(&m, 0xddeeff00);
	ls_buf_add_u8(&m, 3);
	ls_buf_add_u64(&m, 0x0102030405060708ull);
	ls_buf_add_u8(&m, 14); /* bytes, 14 % 17 = 14 of them */
	ls_buf_add(&m, "fourteen bytes", 14);
	ls_buf_add_u8(&m, 8 + 10 * 2); /* skip 28 % 5 = 3 */
	ls_buf_add(&m, "sss", 3);
	ls_buf_add_u8(&m, 9);
	frame_seed(&b, 0, 0x80);
	add_frame(&b, &m);
	put("frame", "msg-integers", &b);
	ls_buf_clear(&b);
	ls_buf_reset(&m);

	ls_buf_add_u8(&m, 5);
	ls_buf_add_string(&m, "hello", 5);
	ls_buf_add_u8(&m, 6);
	ls_buf_add_cstring(&m, "world");
	ls_buf_add_u8(&m, 6);
	ls_buf_add_string(&m, "nul\0inside", 10);
	frame_seed(&b, 0, 0x80);
	add_frame(&b, &m);
	put("frame", "msg-strings", &b);
	ls_buf_clear(&b);
	ls_buf_reset(&m);

	ls_buf_add_u8(&m, 5);
	ls_buf_add_u32(&m, 0xffffffffu);
	frame_seed(&b, 0, 0x80);
	add_frame(&b, &m);
	put("frame", "msg-hostile-string", &b);
	ls_buf_clear(&b);
	ls_buf_reset(&m);

	ls_buf_add_u8(&m, 6);
	ls_buf_add_u32(&m, 65);
	ls_buf_add(&m, "a string of 65 characters, one more than the cap of the harness..", 65);
	frame_seed(&b, 0, 0x80);
	add_frame(&b, &m);
	put("frame", "msg-cstring-over-cap", &b);
	ls_buf_clear(&b);
	ls_buf_reset(&m);

	/* Nested blobs, ten deep (the harness stops at eight). */
	ls_buf_init(&inner, 4096);
	ls_buf_add_u8(&inner, 1);
	ls_buf_add_u16(&inner, 7);
	for (i = 0; i < 10; i++) {
		ls_buf_reset(&m);
		ls_buf_add_u8(&m, 7);
		ls_buf_add_string(&m, ls_buf_data(&inner), ls_buf_len(&inner));
		ls_buf_add_u8(&m, 0);
		ls_buf_add_u8(&m, (uint8_t)i);
		ls_buf_reset(&inner);
		ls_buf_add(&inner, ls_buf_data(&m), ls_buf_len(&m));
	}
	frame_seed(&b, 0, 0x80);
	add_frame(&b, &m);
	put("frame", "msg-nested", &b);
	ls_buf_clear(&b);

	ls_buf_reset(&m);
	ls_buf_add_u8(&m, 7);
	ls_buf_add_u32(&m, 50); /* a blob longer than what follows */
	ls_buf_add(&m, "short", 5);
	frame_seed(&b, 0, 0x80);
	add_frame(&b, &m);
	put("frame", "msg-truncated-sub", &b);
	ls_buf_clear(&b);

	ls_buf_clear(&inner);
	ls_buf_clear(&m);
}

/* ---- record ------------------------------------------------------------------------------ */

static ls_channel *
client(void)
{
	ls_channel *ch = NULL;

	if (ls_channel_new(LS_CHANNEL_CLIENT, fuzz_record_key, fuzz_client_nonce,
	                   sizeof(fuzz_client_nonce), fuzz_server_nonce, sizeof(fuzz_server_nonce),
	                   &ch) != LS_OK ||
	    ls_channel_set_epoch_bits(ch, FUZZ_RECORD_EPOCH_BITS) != LS_OK) {
		fprintf(stderr, "cannot make the channel\n");
		exit(1);
	}
	return ch;
}

/* Seals records of @sizes in order; record i lands in recs[i]. */
static void
seal_all(ls_channel *ch, const size_t *sizes, size_t n, ls_buf *recs)
{
	static uint8_t pt[2048];
	size_t i;

	for (i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < n; i++) {
		ls_buf_init(&recs[i], LS_CHANNEL_MAX_RECORD);
		if (ls_channel_seal(ch, LS_RECORD_DATA, pt, sizes[i], &recs[i]) != LS_OK)
			failures++;
	}
}

static void
add_rec(ls_buf *stream, const ls_buf *rec)
{
	if (ls_frame_encode(stream, ls_buf_data(rec), ls_buf_len(rec), 0) != LS_OK)
		failures++;
}

/* The record construction of docs/channel.md, done by hand for authentic-but-invalid records. */
static void
forge_authentic(uint64_t seq, uint8_t version, uint8_t type, const char *pt, size_t len,
                ls_buf *out)
{
	static const char label[] = "LS11CLOUD channel v1 client to server";
	static const char label_epoch[] = "LS11CLOUD channel v1 record keys";
	uint8_t seed[32], dkey[32], keys[64], seqb[8], eb[8], *p;
	ls_cipher_params cp = { 0 };
	int i;

	ls_buf_init(out, 4096);
	memcpy(seed, fuzz_client_nonce, 16);
	memcpy(seed + 16, fuzz_server_nonce, 16);
	for (i = 0; i < 8; i++) {
		seqb[i] = (uint8_t)(seq >> (56 - 8 * i));
		eb[i] = (uint8_t)((seq >> FUZZ_RECORD_EPOCH_BITS) >> (56 - 8 * i));
	}
	if (ls_kdf_tree_gostr3411_2012_256(fuzz_record_key, (const uint8_t *)label,
	                                   sizeof(label) - 1, seed, 32, 1, dkey, 32) != LS_OK ||
	    ls_kdf_tree_gostr3411_2012_256(dkey, (const uint8_t *)label_epoch,
	                                   sizeof(label_epoch) - 1, eb, 8, 1, keys, 64) != LS_OK) {
		failures++;
		return;
	}
	p = ls_buf_append(out, len + LS_CHANNEL_OVERHEAD);
	if (p == NULL) {
		failures++;
		return;
	}
	p[0] = version;
	p[1] = type;
	cp.alg = LS_CIPHER_KUZNYECHIK;
	cp.mode = LS_MODE_CTR;
	cp.encrypt = true;
	cp.key = keys;
	cp.iv = seqb;
	cp.iv_len = 8;
	if ((len > 0 && ls_cipher(&cp, (const uint8_t *)pt, len, p + 2) != LS_OK)) {
		failures++;
		return;
	}
	{
		ls_mac_ctx *mac = NULL;

		if (ls_mac_new(LS_CIPHER_KUZNYECHIK, 0, keys + 32, &mac) != LS_OK ||
		    ls_mac_update(mac, seqb, 8) != LS_OK || ls_mac_update(mac, p, 2 + len) != LS_OK ||
		    ls_mac_final(mac, p + 2 + len, 16) != LS_OK)
			failures++;
		ls_mac_free(mac);
	}
}

static void
one_stream(const char *name, const ls_buf *recs, const int *order, size_t n)
{
	ls_buf s;
	size_t i;

	ls_buf_init(&s, 1 << 20);
	for (i = 0; i < n; i++)
		add_rec(&s, &recs[order[i]]);
	put("record", name, &s);
	ls_buf_clear(&s);
}

static void
records(void)
{
	static const size_t single[] = { 0, 1, 15, 16, 17, 100, 1000 };
	static const size_t mixed[] = { 5, 0, 64, 17, 300, 1, 2, 3, 4, 33 };
	ls_buf recs[10], s, r;
	ls_channel *ch;
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		ch = client();
		seal_all(ch, &single[i], 1, recs);
		snprintf(name, sizeof(name), "valid-%zu", single[i]);
		one_stream(name, recs, (const int[]){ 0 }, 1);
		ls_buf_clear(&recs[0]);
		ls_channel_free(ch);
	}

	ch = client();
	seal_all(ch, mixed, 10, recs);
	one_stream("ten-records-three-epochs", recs, (const int[]){ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 },
	           10);
	one_stream("replayed", recs, (const int[]){ 0, 1, 1, 2 }, 4);
	one_stream("replayed-first", recs, (const int[]){ 0, 0 }, 2);
	one_stream("reordered", recs, (const int[]){ 1, 0 }, 2);
	one_stream("dropped", recs, (const int[]){ 0, 1, 3, 4 }, 4);
	one_stream("dropped-across-epoch", recs, (const int[]){ 0, 1, 2, 4 }, 4);
	one_stream("replayed-across-epoch", recs, (const int[]){ 0, 1, 2, 3, 4, 3 }, 6);
	one_stream("far-future", recs, (const int[]){ 9 }, 1);

	/* Damaged copies of record 0 (5 bytes of plaintext: 23 bytes). */
	{
		static const struct {
			const char *name;
			size_t at;
		} flips[] = { { "tampered-version", 0 }, { "tampered-type", 1 },
			      { "tampered-ciphertext", 4 }, { "tampered-tag", 22 } };

		for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
			ls_buf_init(&r, 64);
			ls_buf_add(&r, ls_buf_data(&recs[0]), ls_buf_len(&recs[0]));
			((uint8_t *)ls_buf_data(&r))[flips[i].at] ^= 0x01;
			ls_buf_init(&s, 256);
			add_rec(&s, &r);
			put("record", flips[i].name, &s);
			ls_buf_clear(&s);
			ls_buf_clear(&r);
		}
	}
	ls_buf_init(&s, 256);
	ls_buf_add_u32(&s, (uint32_t)ls_buf_len(&recs[0]) - 1);
	ls_buf_add(&s, ls_buf_data(&recs[0]), ls_buf_len(&recs[0]) - 1);
	put("record", "truncated-by-one", &s);
	ls_buf_reset(&s);
	ls_buf_add_u32(&s, LS_CHANNEL_OVERHEAD - 1);
	ls_buf_add(&s, ls_buf_data(&recs[0]), LS_CHANNEL_OVERHEAD - 1);
	put("record", "shorter-than-overhead", &s);
	ls_buf_reset(&s);
	ls_buf_add_u32(&s, 0);
	put("record", "empty-frame", &s);
	ls_buf_reset(&s);
	ls_buf_add_u32(&s, (uint32_t)LS_CHANNEL_MAX_RECORD + 1);
	ls_buf_add(&s, "x", 1);
	put("record", "oversize-declared", &s);
	ls_buf_reset(&s);
	ls_buf_add_u32(&s, 40);
	for (i = 0; i < 40; i++)
		ls_buf_add_u8(&s, (uint8_t)(i * 73 + 5));
	put("record", "garbage", &s);
	ls_buf_clear(&s);
	for (i = 0; i < 10; i++)
		ls_buf_clear(&recs[i]);
	ls_channel_free(ch);

	/* A close record, and data after it. */
	ch = client();
	seal_all(ch, (const size_t[]){ 3 }, 1, recs);
	ls_buf_init(&recs[1], 64);
	if (ls_channel_seal(ch, LS_RECORD_CLOSE, NULL, 0, &recs[1]) != LS_OK)
		failures++;
	one_stream("data-then-close", recs, (const int[]){ 0, 1 }, 2);
	ls_buf_clear(&recs[0]);
	ls_buf_clear(&recs[1]);
	ls_channel_free(ch);

	forge_authentic(0, LS_CHANNEL_VERSION, LS_RECORD_CLOSE, NULL, 0, &recs[0]);
	forge_authentic(1, LS_CHANNEL_VERSION, LS_RECORD_DATA, "after close", 11, &recs[1]);
	one_stream("close-then-data", recs, (const int[]){ 0, 1 }, 2);
	ls_buf_clear(&recs[0]);
	ls_buf_clear(&recs[1]);

	/* Authentic records that break the format after the tag check. */
	forge_authentic(0, 2, LS_RECORD_DATA, "v2", 2, &recs[0]);
	one_stream("authentic-bad-version", recs, (const int[]){ 0 }, 1);
	ls_buf_clear(&recs[0]);
	forge_authentic(0, LS_CHANNEL_VERSION, 3, "t3", 2, &recs[0]);
	one_stream("authentic-bad-type", recs, (const int[]){ 0 }, 1);
	ls_buf_clear(&recs[0]);
	forge_authentic(0, LS_CHANNEL_VERSION, LS_RECORD_CLOSE, "bye", 3, &recs[0]);
	one_stream("authentic-close-with-content", recs, (const int[]){ 0 }, 1);
	ls_buf_clear(&recs[0]);

	/* A record the server itself sealed, reflected back at it. */
	if (ls_channel_new(LS_CHANNEL_SERVER, fuzz_record_key, fuzz_client_nonce, 16,
	                   fuzz_server_nonce, 16, &ch) != LS_OK)
		exit(1);
	ls_channel_set_epoch_bits(ch, FUZZ_RECORD_EPOCH_BITS);
	seal_all(ch, (const size_t[]){ 9 }, 1, recs);
	one_stream("reflected", recs, (const int[]){ 0 }, 1);
	ls_buf_clear(&recs[0]);
	ls_channel_free(ch);
}

int
main(int argc, char **argv)
{
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-ROOT (e.g. fuzz/corpus)\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	snprintf(path, sizeof(path), "%s/frame", outdir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/record", outdir);
	mkdir(path, 0755);
	frames();
	records();
	snprintf(path, sizeof(path), "%s/rpc", outdir);
	mkdir(path, 0755);
	failures += fuzz_rpc_write_seeds(path);
	if (failures > 0)
		fprintf(stderr, "%d failures\n", failures);
	return failures > 0;
}
