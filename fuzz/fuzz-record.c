/*
 * Fuzz target: channel records, opened by the server end of a channel keyed with the fixed key
 * of fuzz-common.h (epochs of 4 records).
 *
 * Input: a stream of frames (4-byte length + record), as a client would send them.  Checked:
 * an opened record gives exactly its length minus the overhead, of a known type, and moves the
 * sequence number by one; the first failure is final (every later open: LS_ERR_CHANNEL_CLOSED)
 * and leaves a fault; the server also seals a reply to each record so that sealing runs too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "channel.h"
#include "frame.h"
#include "fuzz-common.h"
#include "log.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ls_frame_decoder *dec = NULL;
	ls_channel *ch = NULL;
	ls_buf frame, out, reply;
	bool failed = false, closed = false;
	size_t off = 0;

	/* Every refused record logs a warning: keep stderr (and the fuzzer) quiet. */
	ls_log_set_level(LS_LOG_ERROR);
	FUZZ_CHECK(ls_channel_new(LS_CHANNEL_SERVER, fuzz_record_key, fuzz_client_nonce,
	                          sizeof(fuzz_client_nonce), fuzz_server_nonce,
	                          sizeof(fuzz_server_nonce), &ch) == LS_OK);
	FUZZ_CHECK(ls_channel_set_epoch_bits(ch, FUZZ_RECORD_EPOCH_BITS) == LS_OK);
	FUZZ_CHECK(ls_frame_decoder_new(LS_CHANNEL_MAX_RECORD, &dec) == LS_OK);
	ls_buf_init(&frame, LS_CHANNEL_MAX_RECORD);
	ls_buf_init(&out, LS_CHANNEL_MAX_PLAINTEXT);
	ls_buf_init(&reply, LS_CHANNEL_MAX_RECORD);

	while (off < size) {
		ls_record_type type = 0;
		uint64_t seq = ls_channel_recv_seq(ch);
		bool complete = false;
		size_t used = 0;
		int r;

		if (ls_frame_decoder_feed(dec, data + off, size - off, &used, &frame, &complete) !=
		    LS_OK)
			break;
		off += used;
		if (!complete)
			break;
		ls_buf_reset(&out);
		r = ls_channel_open(ch, ls_buf_data(&frame), ls_buf_len(&frame), &out, &type);
		if (failed || closed) {
			FUZZ_CHECK(r == LS_ERR_CHANNEL_CLOSED);
			continue;
		}
		if (r != LS_OK) {
			FUZZ_CHECK(r == LS_ERR_RECORD_AUTH || r == LS_ERR_SEQ_EXHAUSTED);
			FUZZ_CHECK(ls_channel_get_fault(ch) != LS_CHANNEL_FAULT_NONE);
			FUZZ_CHECK(ls_channel_recv_seq(ch) == seq);
			FUZZ_CHECK(ls_buf_len(&out) == 0);
			failed = true;
			continue;
		}
		FUZZ_CHECK(type == LS_RECORD_DATA || type == LS_RECORD_CLOSE);
		FUZZ_CHECK(ls_buf_len(&out) + LS_CHANNEL_OVERHEAD == ls_buf_len(&frame));
		FUZZ_CHECK(ls_channel_recv_seq(ch) == seq + 1);
		if (type == LS_RECORD_CLOSE) {
			FUZZ_CHECK(ls_buf_len(&out) == 0);
			closed = true;
		}
		ls_buf_reset(&reply);
		FUZZ_CHECK(ls_channel_seal(ch, LS_RECORD_DATA, ls_buf_data(&out), ls_buf_len(&out),
		                           &reply) == LS_OK);
		FUZZ_CHECK(ls_buf_len(&reply) == ls_buf_len(&out) + LS_CHANNEL_OVERHEAD);
	}

	ls_buf_clear(&frame);
	ls_buf_clear(&out);
	ls_buf_clear(&reply);
	ls_frame_decoder_free(dec);
	ls_channel_free(ch);
	return 0;
}
