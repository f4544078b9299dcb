/*
 * core/frame.c: encoding, incremental decoding in chunks of every size (down to one byte),
 * the cap checked on the 4th header byte before any allocation, zero lengths, truncation at
 * end of input, and sticky errors.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "frame.h"
#include "test-util.h"

static size_t allocations;

static void *
count_alloc(size_t n)
{
	allocations++;
	return calloc(1, n);
}

static void
setup(void)
{
	allocations = 0;
	ls_buf_test_set_allocator(count_alloc, NULL);
}

static void
teardown(void)
{
	ls_buf_test_set_allocator(NULL, NULL);
}

TestSuite(frame, .init = setup, .fini = teardown);

/* A stream of frames whose payload sizes are @sizes, payload byte i of frame f = f * 31 + i. */
static void
make_stream(ls_buf *out, const size_t *sizes, size_t count)
{
	for (size_t f = 0; f < count; f++) {
		uint8_t *p = malloc(sizes[f]);

		cr_assert_not_null(p);
		for (size_t i = 0; i < sizes[f]; i++)
			p[i] = (uint8_t)(f * 31 + i);
		cr_assert_eq(ls_frame_encode(out, p, sizes[f], 0), LS_OK);
		free(p);
	}
}

static void
check_payload(const ls_buf *frame, size_t f, size_t size)
{
	cr_assert_eq(ls_buf_len(frame), size, "frame %zu: %zu bytes, want %zu", f,
	             ls_buf_len(frame), size);
	for (size_t i = 0; i < size; i++) {
		if (ls_buf_data(frame)[i] != (uint8_t)(f * 31 + i))
			cr_assert_fail("frame %zu: byte %zu differs", f, i);
	}
}

/* Decodes @stream fed in chunks of @chunk bytes (0: pseudo-random sizes 1..4099). */
static void
decode_stream(const ls_buf *stream, size_t chunk, const size_t *sizes, size_t count)
{
	ls_frame_decoder *dec = NULL;
	const uint8_t *p = ls_buf_data(stream);
	size_t left = ls_buf_len(stream), got = 0;
	uint32_t rnd = 12345;
	ls_buf frame;

	cr_assert_eq(ls_frame_decoder_new(0, &dec), LS_OK);
	ls_buf_init(&frame, LS_FRAME_DEFAULT_MAX);
	while (left > 0) {
		size_t n = chunk, off = 0;

		if (n == 0) {
			rnd = rnd * 1103515245u + 12345u;
			n = 1 + (rnd >> 8) % 4099;
		}
		if (n > left)
			n = left;
		while (off < n) {
			size_t used;
			bool complete;

			cr_assert_eq(ls_frame_decoder_feed(dec, p + off, n - off, &used, &frame,
			                                   &complete),
			             LS_OK);
			cr_assert(used > 0, "progress on every call");
			off += used;
			if (complete) {
				cr_assert_lt(got, count);
				check_payload(&frame, got, sizes[got]);
				got++;
				cr_assert(ls_frame_decoder_idle(dec));
			} else {
				cr_assert_eq(off, n, "the decoder stops early only at a frame end");
			}
		}
		p += n;
		left -= n;
	}
	cr_assert_eq(got, count);
	cr_assert_eq(ls_frame_decoder_finish(dec), LS_OK, "the stream ended between frames");
	ls_buf_clear(&frame);
	ls_frame_decoder_free(dec);
}

Test(frame, header_and_encode)
{
	TEST_HEX(want, "00000003 616263");
	uint8_t hdr[4];
	ls_buf b;

	cr_assert_eq(ls_frame_header(0x01020304, 0x01020304, hdr), LS_OK);
	cr_assert_arr_eq(hdr, ((uint8_t[]){ 1, 2, 3, 4 }), 4);
	cr_assert_eq(ls_frame_header(0, 0, hdr), LS_ERR_MALFORMED, "no empty frames");
	cr_assert_eq(ls_frame_header(LS_FRAME_DEFAULT_MAX, 0, hdr), LS_OK);
	cr_assert_eq(ls_frame_header(LS_FRAME_DEFAULT_MAX + 1, 0, hdr), LS_ERR_TOO_LARGE);
	cr_assert_eq(ls_frame_header(17, 16, hdr), LS_ERR_TOO_LARGE);
	cr_assert_eq(ls_frame_header((size_t)UINT32_MAX + 1, SIZE_MAX, hdr), LS_ERR_TOO_LARGE,
	             "the 32-bit header bounds any cap");

	ls_buf_init(&b, 7);
	cr_assert_eq(ls_frame_encode(&b, "abc", 3, 0), LS_OK);
	cr_assert_arr_eq(ls_buf_data(&b), want, want_len);
	cr_assert_eq(ls_frame_encode(&b, "x", 1, 0), LS_ERR_BUFFER_FULL);
	cr_assert_eq(ls_buf_len(&b), 7, "no orphan header after a failed encode");
	ls_buf_clear(&b);
}

Test(frame, byte_by_byte)
{
	static const size_t sizes[] = { 1, 2, 3, 4, 5, 255, 256, 257, 1000, 65536, 1 };
	const size_t count = sizeof(sizes) / sizeof(sizes[0]);
	ls_buf stream;

	ls_buf_init(&stream, 1 << 22);
	make_stream(&stream, sizes, count);
	decode_stream(&stream, 1, sizes, count);
	ls_buf_clear(&stream);
}

Test(frame, chunks_of_every_shape)
{
	static const size_t sizes[] = { 7, 1, 4096, 3, LS_FRAME_DEFAULT_MAX, 12, 100000, 1 };
	static const size_t chunks[] = { 2, 3, 4, 5, 7, 64, 4096, 1 << 20, 1 << 22, 0 };
	const size_t count = sizeof(sizes) / sizeof(sizes[0]);
	ls_buf stream;

	ls_buf_init(&stream, 1 << 22);
	make_stream(&stream, sizes, count);
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
		decode_stream(&stream, chunks[c], sizes, count);
	ls_buf_clear(&stream);
}

Test(frame, feed_stops_at_the_end_of_a_frame)
{
	TEST_HEX(two, "00000002 aabb 00000001 cc");
	ls_frame_decoder *dec = NULL;
	bool complete;
	size_t used;
	ls_buf frame;

	cr_assert_eq(ls_frame_decoder_new(0, &dec), LS_OK);
	ls_buf_init(&frame, 16);
	cr_assert_eq(ls_frame_decoder_feed(dec, two, two_len, &used, &frame, &complete), LS_OK);
	cr_assert(complete);
	cr_assert_eq(used, 6);
	cr_assert_arr_eq(ls_buf_data(&frame), ((uint8_t[]){ 0xaa, 0xbb }), 2);
	cr_assert_eq(ls_frame_decoder_feed(dec, two + 6, 0, &used, &frame, &complete), LS_OK,
	             "feeding nothing is fine");
	cr_assert_eq(used, 0);
	cr_assert_not(complete);
	cr_assert_eq(ls_buf_len(&frame), 2, "and leaves the last frame in place");
	cr_assert_eq(ls_frame_decoder_feed(dec, two + 6, 5, &used, &frame, &complete), LS_OK);
	cr_assert(complete);
	cr_assert_eq(used, 5);
	cr_assert_eq(ls_buf_len(&frame), 1);
	cr_assert_eq(ls_buf_data(&frame)[0], 0xcc);
	ls_buf_clear(&frame);
	ls_frame_decoder_free(dec);
}

Test(frame, hostile_length_refused_after_four_bytes_without_allocating)
{
	TEST_HEX(hostile, "ffffffff 00");
	ls_frame_decoder *dec = NULL;
	bool complete;
	size_t used;
	ls_buf frame;

	cr_assert_eq(ls_frame_decoder_new(0, &dec), LS_OK);
	ls_buf_init(&frame, SIZE_MAX);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(ls_frame_decoder_feed(dec, hostile + i, 1, &used, &frame, &complete),
		             LS_OK);
		cr_assert_eq(used, 1);
		cr_assert_not(complete);
	}
	cr_assert_eq(ls_frame_decoder_feed(dec, hostile + 3, 2, &used, &frame, &complete),
	             LS_ERR_TOO_LARGE);
	cr_assert_not(complete);
	cr_assert_eq(allocations, 0, "nothing was allocated for the payload");
	cr_assert_null(ls_buf_data(&frame));
	cr_assert_eq(ls_frame_decoder_feed(dec, hostile + 4, 1, &used, &frame, &complete),
	             LS_ERR_TOO_LARGE, "the error is sticky");
	cr_assert_eq(used, 0);
	cr_assert_eq(ls_frame_decoder_finish(dec), LS_ERR_TOO_LARGE);
	cr_assert_not(ls_frame_decoder_idle(dec));
	ls_frame_decoder_free(dec);
}

Test(frame, cap_is_per_decoder_and_inclusive)
{
	TEST_HEX(at_cap, "00000010 000102030405060708090a0b0c0d0e0f");
	TEST_HEX(over_cap, "00000011");
	TEST_HEX(max_default, "00100000");
	TEST_HEX(over_default, "00100001");
	ls_frame_decoder *dec = NULL;
	bool complete;
	size_t used;
	ls_buf frame;

	ls_buf_init(&frame, LS_FRAME_DEFAULT_MAX);
	cr_assert_eq(ls_frame_decoder_new(16, &dec), LS_OK);
	cr_assert_eq(ls_frame_decoder_max(dec), 16);
	cr_assert_eq(ls_frame_decoder_feed(dec, at_cap, at_cap_len, &used, &frame, &complete),
	             LS_OK);
	cr_assert(complete);
	cr_assert_eq(ls_buf_len(&frame), 16);
	cr_assert_eq(ls_frame_decoder_feed(dec, over_cap, 4, &used, &frame, &complete),
	             LS_ERR_TOO_LARGE);
	ls_frame_decoder_free(dec);

	cr_assert_eq(ls_frame_decoder_new(0, &dec), LS_OK);
	cr_assert_eq(ls_frame_decoder_max(dec), LS_FRAME_DEFAULT_MAX);
	allocations = 0;
	cr_assert_eq(ls_frame_decoder_feed(dec, max_default, 4, &used, &frame, &complete), LS_OK,
	             "1 MiB exactly is accepted");
	cr_assert_eq(allocations, 0, "and the payload buffer grows only as bytes arrive");
	ls_frame_decoder_free(dec);

	cr_assert_eq(ls_frame_decoder_new(0, &dec), LS_OK);
	cr_assert_eq(ls_frame_decoder_feed(dec, over_default, 4, &used, &frame, &complete),
	             LS_ERR_TOO_LARGE);
	ls_frame_decoder_free(dec);

	cr_assert_eq(ls_frame_decoder_new(LS_FRAME_MAX_LIMIT + 1, &dec), LS_ERR_INVALID_ARG);
	cr_assert_null(dec);
	ls_buf_clear(&frame);
}

Test(frame, zero_length_is_malformed)
{
	TEST_HEX(zero, "00000000 00000001 aa");
	ls_frame_decoder *dec = NULL;
	bool complete;
	size_t used;
	ls_buf frame;

	ls_buf_init(&frame, 64);
	cr_assert_eq(ls_frame_decoder_new(0, &dec), LS_OK);
	cr_assert_eq(ls_frame_decoder_feed(dec, zero, zero_len, &used, &frame, &complete),
	             LS_ERR_MALFORMED);
	cr_assert_not(complete);
	cr_assert_eq(ls_frame_decoder_feed(dec, zero + 4, 5, &used, &frame, &complete),
	             LS_ERR_MALFORMED, "nothing after it is decoded");
	ls_frame_decoder_free(dec);
	ls_buf_clear(&frame);
}

Test(frame, truncation_at_end_of_input)
{
	TEST_HEX(stream, "00000003 616263");
	ls_frame_decoder *dec = NULL;
	bool complete;
	size_t used, cut;
	ls_buf frame;

	ls_buf_init(&frame, 64);
	for (cut = 0; cut <= stream_len; cut++) {
		cr_assert_eq(ls_frame_decoder_new(0, &dec), LS_OK);
		cr_assert_eq(ls_frame_decoder_feed(dec, stream, cut, &used, &frame, &complete),
		             LS_OK);
		cr_assert_eq(used, cut);
		cr_assert_eq(complete, cut == stream_len);
		cr_assert_eq(ls_frame_decoder_finish(dec),
		             cut == 0 || cut == stream_len ? LS_OK : LS_ERR_TRUNCATED,
		             "EOF after %zu of %zu bytes", cut, stream_len);
		ls_frame_decoder_free(dec);
	}
	ls_buf_clear(&frame);
}

Test(frame, payload_must_fit_the_callers_buffer)
{
	TEST_HEX(stream, "00000009 00");
	ls_frame_decoder *dec = NULL;
	bool complete;
	size_t used;
	ls_buf frame;

	ls_buf_init(&frame, 8);
	cr_assert_eq(ls_frame_decoder_new(0, &dec), LS_OK);
	cr_assert_eq(ls_frame_decoder_feed(dec, stream, stream_len, &used, &frame, &complete),
	             LS_ERR_BUFFER_FULL);
	cr_assert_eq(ls_frame_decoder_finish(dec), LS_ERR_BUFFER_FULL);
	ls_frame_decoder_free(dec);
	ls_buf_clear(&frame);
}

Test(frame, frame_buffer_is_reused_without_allocating)
{
	static const size_t sizes[] = { 3000, 2000, 3000, 1, 2999 };
	ls_frame_decoder *dec = NULL;
	const uint8_t *p;
	size_t left, used, got = 0;
	bool complete;
	ls_buf stream, frame;

	ls_buf_init(&stream, 1 << 16);
	make_stream(&stream, sizes, 5);
	ls_buf_init(&frame, 1 << 16);
	cr_assert_eq(ls_frame_decoder_new(0, &dec), LS_OK);
	p = ls_buf_data(&stream);
	left = ls_buf_len(&stream);
	allocations = 0;
	while (left > 0) {
		cr_assert_eq(ls_frame_decoder_feed(dec, p, left, &used, &frame, &complete), LS_OK);
		p += used;
		left -= used;
		if (complete) {
			check_payload(&frame, got, sizes[got]);
			got++;
		}
	}
	cr_assert_eq(got, 5);
	cr_assert_leq(allocations, 5, "growth to 4 KiB once, then none: %zu", allocations);
	ls_frame_decoder_free(dec);
	ls_buf_clear(&frame);
	ls_buf_clear(&stream);
}
