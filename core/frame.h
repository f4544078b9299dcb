/*
 * LS11CLOUD - framing: a 4-byte big-endian payload length, then the payload.
 *
 * Every length is checked against a cap before a single byte is allocated for it (the default
 * cap is 1 MiB; each decoder has its own).  A frame always carries at least one byte: no
 * message of the protocol is empty, so a zero length is LS_ERR_MALFORMED (it would otherwise be
 * a free keep-alive that lets a peer hold a connection without ever sending a message).
 *
 * The decoder is incremental: it accepts bytes in chunks of any size, as an event loop reads
 * them, and yields whole frames.  Its errors are sticky: after one, the stream can no longer be
 * framed and the connection must be dropped.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_FRAME_H
#define LS11_CORE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "errors.h"

#define LS_FRAME_HEADER_SIZE 4
/* The default cap on a payload. */
#define LS_FRAME_DEFAULT_MAX ((size_t)1 << 20)
/* The largest cap a decoder accepts (the header is 32 bits). */
#define LS_FRAME_MAX_LIMIT ((size_t)UINT32_MAX)

/*
 * Writes the header of a @len-byte payload to @hdr.  @max 0 means LS_FRAME_DEFAULT_MAX.
 * LS_ERR_MALFORMED for @len 0, LS_ERR_TOO_LARGE above the cap.
 */
int ls_frame_header(size_t len, size_t max, uint8_t hdr[static LS_FRAME_HEADER_SIZE]);

/*
 * Appends the frame (header + @len bytes of @payload) to @out.  Errors as ls_frame_header()
 * (then @out is untouched), or the status of @out if it fails (and is marked failed).
 */
int ls_frame_encode(ls_buf *out, const void *payload, size_t len, size_t max);

typedef struct ls_frame_decoder ls_frame_decoder;

/*
 * A decoder for payloads of at most @max bytes (0: LS_FRAME_DEFAULT_MAX; more than
 * LS_FRAME_MAX_LIMIT: LS_ERR_INVALID_ARG).  *@out is set only on success.
 */
int ls_frame_decoder_new(size_t max, ls_frame_decoder **out);
/* NULL is accepted. */
void ls_frame_decoder_free(ls_frame_decoder *dec);

/*
 * Feeds @len bytes of @data.  The decoder consumes bytes only up to the end of the current
 * frame and reports in *@consumed how many it took; the caller feeds the rest afterwards.
 *
 * The payload of the frame in progress accumulates in @frame, which the caller passes on every
 * call (normally one buffer per connection, reused: it keeps its allocation across frames).
 * When a frame's header is complete the decoder resets @frame (wiping the previous frame).
 * When its last byte arrives *@complete is set and @frame holds exactly the payload; handle it
 * before feeding more.  @frame's own cap must be at least the decoder's.
 *
 * Errors, sticky (every later call returns the same one and consumes nothing):
 *  - LS_ERR_TOO_LARGE: the declared length exceeds the cap.  Detected as soon as the 4 header
 *    bytes are in, before anything is allocated for the payload.
 *  - LS_ERR_MALFORMED: a zero length.
 *  - LS_ERR_BUFFER_FULL / LS_ERR_NOMEM: @frame could not hold the payload.
 * Feeding zero bytes is allowed and does nothing.
 */
int ls_frame_decoder_feed(ls_frame_decoder *dec, const void *data, size_t len, size_t *consumed,
                          ls_buf *frame, bool *complete);

/*
 * To call at end of input: LS_OK when the stream ended between frames, LS_ERR_TRUNCATED when it
 * ended inside a header or a payload, or the decoder's sticky error.
 */
int ls_frame_decoder_finish(const ls_frame_decoder *dec);

/* True between frames (no byte of a next frame seen) and not failed. */
bool ls_frame_decoder_idle(const ls_frame_decoder *dec);

/* The cap of @dec. */
size_t ls_frame_decoder_max(const ls_frame_decoder *dec);

#endif /* LS11_CORE_FRAME_H */
