/*
 * Fuzz target: the frame decoder fed in chunks, and the buffer readers over each payload.
 *
 * Input: byte 0 picks the chunk size (0: everything at once), byte 1 the decoder's cap; the
 * rest is the stream.  Checked: every frame is 1..cap bytes; re-encoding the frames gives back
 * exactly the bytes the decoder consumed; finish() agrees with where the stream stopped; and
 * the payload, read as a little message grammar, never moves a cursor on a failed read.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "frame.h"
#include "fuzz-common.h"

/* Reads @b as: op (1 byte), then the item op names, until the end or a failed read. */
static void
parse_message(ls_buf *b, int depth)
{
	while (ls_buf_remaining(b) > 0) {
		size_t before, n;
		const uint8_t *p;
		uint8_t op, v8, tmp[16];
		uint16_t v16;
		uint32_t v32;
		uint64_t v64;
		char *s;
		ls_buf sub;
		int r;

		if (ls_buf_get_u8(b, &op) != LS_OK)
			return;
		before = ls_buf_remaining(b);
		switch (op % 10) {
		case 0: r = ls_buf_get_u8(b, &v8); break;
		case 1: r = ls_buf_get_u16(b, &v16); break;
		case 2: r = ls_buf_get_u32(b, &v32); break;
		case 3: r = ls_buf_get_u64(b, &v64); break;
		case 4: r = ls_buf_get_bytes(b, tmp, op % 17); break;
		case 5:
			r = ls_buf_get_string(b, 64, &p, &n);
			FUZZ_CHECK(r != LS_OK || n <= 64);
			FUZZ_CHECK(r != LS_OK || (n == 0) == (p == NULL));
			if (r == LS_OK && n > 0)
				memcpy(tmp, p, n < sizeof(tmp) ? n : sizeof(tmp));
			break;
		case 6:
			r = ls_buf_get_cstring(b, 64, &s, &n);
			FUZZ_CHECK(r != LS_OK || (s != NULL && strlen(s) == n));
			free(s);
			break;
		case 7:
			r = ls_buf_get_sub(b, 1024, &sub);
			if (r == LS_OK && depth < 8) {
				parse_message(&sub, depth + 1);
				(void)ls_buf_expect_end(&sub);
			}
			break;
		case 8: r = ls_buf_skip(b, op % 5); break;
		default:
			r = ls_buf_expect_end(b);
			FUZZ_CHECK((r == LS_OK) == (ls_buf_remaining(b) == 0));
			continue;
		}
		if (r != LS_OK) {
			FUZZ_CHECK(ls_buf_remaining(b) == before);
			return;
		}
		FUZZ_CHECK(ls_buf_remaining(b) < before || op % 10 == 4 || op % 10 == 8);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ls_frame_decoder *dec = NULL;
	size_t chunk, cap, off = 0, framed = 0;
	ls_buf frame, again, view;
	int r = LS_OK;

	if (size < 2)
		return 0;
	chunk = data[0];
	cap = data[1] >= 0x80 ? LS_FRAME_DEFAULT_MAX : 1 + (size_t)data[1] * 37;
	data += 2;
	size -= 2;
	if (chunk == 0)
		chunk = size;

	FUZZ_CHECK(ls_frame_decoder_new(cap, &dec) == LS_OK);
	ls_buf_init(&frame, cap);
	ls_buf_init(&again, size + 16);
	while (off < size && r == LS_OK) {
		size_t n = size - off < chunk ? size - off : chunk, used = 0;

		while (n > 0) {
			bool complete = false;

			r = ls_frame_decoder_feed(dec, data + off, n, &used, &frame, &complete);
			FUZZ_CHECK(used <= n);
			off += used;
			n -= used;
			if (r != LS_OK) {
				FUZZ_CHECK(!complete);
				break;
			}
			if (complete) {
				FUZZ_CHECK(ls_buf_len(&frame) >= 1 && ls_buf_len(&frame) <= cap);
				FUZZ_CHECK(ls_frame_encode(&again, ls_buf_data(&frame), ls_buf_len(&frame),
				                           cap) == LS_OK);
				framed = off;
				ls_buf_init_view(&view, ls_buf_data(&frame), ls_buf_len(&frame));
				parse_message(&view, 0);
			} else {
				FUZZ_CHECK(n == 0);
			}
		}
	}
	/* What was framed re-encodes to exactly the bytes it came from. */
	FUZZ_CHECK(ls_buf_len(&again) == framed);
	FUZZ_CHECK(framed == 0 || memcmp(ls_buf_data(&again), data, framed) == 0);
	if (r == LS_OK)
		FUZZ_CHECK((ls_frame_decoder_finish(dec) == LS_OK) == (framed == size));
	else
		FUZZ_CHECK(ls_frame_decoder_finish(dec) == r);
	FUZZ_CHECK(r == LS_OK || r == LS_ERR_TOO_LARGE || r == LS_ERR_MALFORMED);

	ls_buf_clear(&frame);
	ls_buf_clear(&again);
	ls_frame_decoder_free(dec);
	return 0;
}
