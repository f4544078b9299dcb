/*
 * LS11CLOUD - framing.
 *
 * OpenSSH caps every packet before allocating (PACKET_MAX_SIZE); p11-kit's transport trusts
 * the peer's length.  We do the former: the cap is checked when the 4th header byte arrives,
 * and the payload buffer then grows only as payload bytes actually arrive, so a peer that
 * announces 1 MiB and sends nothing costs no memory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

struct ls_frame_decoder {
	size_t max;
	uint8_t hdr[LS_FRAME_HEADER_SIZE];
	size_t hdr_have; /* header bytes seen of the frame in progress */
	size_t need;     /* payload bytes still to come, once the header is complete */
	int error;       /* sticky */
};

int
ls_frame_header(size_t len, size_t max, uint8_t hdr[static LS_FRAME_HEADER_SIZE])
{
	ls_return_val_if_fail(hdr != NULL, LS_ERR_INVALID_ARG);
	if (max == 0)
		max = LS_FRAME_DEFAULT_MAX;
	if (len == 0)
		return LS_ERR_MALFORMED;
	if (len > max || len > LS_FRAME_MAX_LIMIT)
		return LS_ERR_TOO_LARGE;
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	return LS_OK;
}

int
ls_frame_encode(ls_buf *out, const void *payload, size_t len, size_t max)
{
	uint8_t hdr[LS_FRAME_HEADER_SIZE];
	int r;

	ls_return_val_if_fail(out != NULL && payload != NULL, LS_ERR_INVALID_ARG);
	if ((r = ls_frame_header(len, max, hdr)) != LS_OK)
		return r;
	/* Room for the whole frame first, so a failure leaves no orphan header. */
	if ((r = ls_buf_reserve(out, LS_FRAME_HEADER_SIZE + len)) != LS_OK)
		return r;
	ls_buf_add(out, hdr, sizeof(hdr));
	ls_buf_add(out, payload, len);
	return ls_buf_status(out);
}

int
ls_frame_decoder_new(size_t max, ls_frame_decoder **out)
{
	ls_frame_decoder *dec;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	if (max == 0)
		max = LS_FRAME_DEFAULT_MAX;
	if (max > LS_FRAME_MAX_LIMIT)
		return LS_ERR_INVALID_ARG;
	if ((dec = calloc(1, sizeof(*dec))) == NULL)
		return LS_ERR_NOMEM;
	dec->max = max;
	*out = dec;
	return LS_OK;
}

void
ls_frame_decoder_free(ls_frame_decoder *dec)
{
	free(dec);
}

static int
decoder_fail(ls_frame_decoder *dec, int err)
{
	dec->error = err;
	return err;
}

int
ls_frame_decoder_feed(ls_frame_decoder *dec, const void *data, size_t len, size_t *consumed,
                      ls_buf *frame, bool *complete)
{
	const uint8_t *in = data;
	size_t used = 0, n;
	int r = LS_OK;

	ls_return_val_if_fail(consumed != NULL && complete != NULL, LS_ERR_INVALID_ARG);
	*consumed = 0;
	*complete = false;
	ls_return_val_if_fail(dec != NULL && frame != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data != NULL || len == 0, LS_ERR_INVALID_ARG);
	if (dec->error != LS_OK)
		return dec->error;

	while (used < len) {
		if (dec->hdr_have < LS_FRAME_HEADER_SIZE) {
			size_t plen;

			n = LS_FRAME_HEADER_SIZE - dec->hdr_have;
			if (n > len - used)
				n = len - used;
			memcpy(dec->hdr + dec->hdr_have, in + used, n);
			dec->hdr_have += n;
			used += n;
			if (dec->hdr_have < LS_FRAME_HEADER_SIZE)
				break;
			plen = (size_t)dec->hdr[0] << 24 | (size_t)dec->hdr[1] << 16 |
			       (size_t)dec->hdr[2] << 8 | dec->hdr[3];
			if (plen == 0) {
				r = decoder_fail(dec, LS_ERR_MALFORMED);
				break;
			}
			if (plen > dec->max) {
				ls_debug("frame: declared length %zu exceeds the cap %zu", plen,
				         dec->max);
				r = decoder_fail(dec, LS_ERR_TOO_LARGE);
				break;
			}
			ls_buf_reset(frame);
			if (plen > ls_buf_max(frame)) {
				ls_warning("frame: a %zu-byte payload does not fit the caller's buffer",
				           plen);
				r = decoder_fail(dec, LS_ERR_BUFFER_FULL);
				break;
			}
			dec->need = plen;
			continue;
		}

		n = dec->need;
		if (n > len - used)
			n = len - used;
		ls_buf_add(frame, in + used, n);
		if ((r = ls_buf_status(frame)) != LS_OK) {
			decoder_fail(dec, r);
			break;
		}
		used += n;
		dec->need -= n;
		if (dec->need == 0) {
			dec->hdr_have = 0;
			*complete = true;
			break;
		}
	}
	*consumed = used;
	return r;
}

int
ls_frame_decoder_finish(const ls_frame_decoder *dec)
{
	ls_return_val_if_fail(dec != NULL, LS_ERR_INVALID_ARG);
	if (dec->error != LS_OK)
		return dec->error;
	return dec->hdr_have == 0 ? LS_OK : LS_ERR_TRUNCATED;
}

bool
ls_frame_decoder_idle(const ls_frame_decoder *dec)
{
	return dec != NULL && dec->error == LS_OK && dec->hdr_have == 0;
}

size_t
ls_frame_decoder_max(const ls_frame_decoder *dec)
{
	ls_return_val_if_fail(dec != NULL, 0);
	return dec->max;
}
