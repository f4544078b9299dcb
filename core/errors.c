/*
 * LS11CLOUD - core error strings.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "errors.h"

const char *
ls_strerror(int err)
{
	switch (err) {
	case LS_OK: return "success";
	case LS_ERR_INTERNAL: return "internal error";
	case LS_ERR_NOMEM: return "out of memory";
	case LS_ERR_INVALID_ARG: return "invalid argument";
	case LS_ERR_BAD_LENGTH: return "input has a length the operation does not accept";
	case LS_ERR_CRYPTO: return "cryptographic backend failure";
	case LS_ERR_VERIFY_FAILED: return "signature or authentication tag does not verify";
	case LS_ERR_BAD_POINT: return "point is not on the curve, is the identity or is badly encoded";
	case LS_ERR_UNSUPPORTED: return "algorithm or parameter not supported";
	case LS_ERR_BUFFER_FULL: return "buffer would exceed its size limit";
	case LS_ERR_TRUNCATED: return "input is truncated";
	case LS_ERR_MALFORMED: return "input is malformed";
	case LS_ERR_TOO_LARGE: return "declared length exceeds the limit";
	case LS_ERR_TRAILING_DATA: return "unexpected bytes after the end of the message";
	case LS_ERR_RECORD_AUTH: return "record failed authentication (tampered, replayed, reordered or truncated)";
	case LS_ERR_CHANNEL_CLOSED: return "secure channel is closed";
	case LS_ERR_SEQ_EXHAUSTED: return "record sequence numbers exhausted";
	case LS_ERR_IO: return "input/output error";
	case LS_ERR_EOF: return "connection closed by peer";
	case LS_ERR_TIMEOUT: return "operation timed out";
	case LS_ERR_AUTH_FAILED: return "authentication failed (wrong password)";
	case LS_ERR_ATTEMPTS_EXHAUSTED: return "authentication attempt limit reached";
	case LS_ERR_STATE: return "call made in the wrong state";
	case LS_ERR_RANDOM: return "random number generator failure";
	case LS_ERR_NOT_FOUND: return "not found";
	case LS_ERR_REFUSED: return "refused by the peer or by policy";
	}
	return "unknown error";
}
