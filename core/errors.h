/*
 * LS11CLOUD - core error codes.
 *
 * core/ speaks one error currency: 0 for success, a negative LS_ERR_* code for failure.
 * Other layers convert at exactly one boundary (the PKCS#11 module maps to CK_RV in one
 * function).  ls_strerror() never returns NULL.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_ERRORS_H
#define LS11_CORE_ERRORS_H

enum {
	LS_OK = 0,
	LS_ERR_INTERNAL = -1,          /* a bug or an unexpected backend state */
	LS_ERR_NOMEM = -2,             /* allocation failed */
	LS_ERR_INVALID_ARG = -3,       /* argument out of its domain (NULL, unknown enum, ...) */
	LS_ERR_BAD_LENGTH = -4,        /* an input has a length the operation does not accept */
	LS_ERR_CRYPTO = -5,            /* the crypto backend failed; details went to the log */
	LS_ERR_VERIFY_FAILED = -6,     /* signature or MAC/tag does not verify */
	LS_ERR_BAD_POINT = -7,         /* point not on the curve, identity, or badly encoded */
	LS_ERR_UNSUPPORTED = -8,       /* algorithm/parameter set/mode not supported */
	LS_ERR_BUFFER_FULL = -9,       /* a bounded buffer would exceed its cap */
	LS_ERR_TRUNCATED = -10,        /* input ended before a complete item */
	LS_ERR_MALFORMED = -11,        /* input is syntactically invalid */
	LS_ERR_TOO_LARGE = -12,        /* a declared length exceeds the configured cap */
	LS_ERR_TRAILING_DATA = -13,    /* input has bytes after a complete item */
	LS_ERR_RECORD_AUTH = -14,      /* a channel record failed authentication (tamper/replay/reorder) */
	LS_ERR_CHANNEL_CLOSED = -15,   /* the channel was closed after an error or by the peer */
	LS_ERR_SEQ_EXHAUSTED = -16,    /* the record sequence space is used up */
	LS_ERR_IO = -17,               /* a transport read/write failed (errno logged) */
	LS_ERR_EOF = -18,              /* the peer closed the transport */
	LS_ERR_TIMEOUT = -19,          /* a transport wait timed out */
	LS_ERR_AUTH_FAILED = -20,      /* SESPAKE: the peer's MAC did not verify (wrong password) */
	LS_ERR_ATTEMPTS_EXHAUSTED = -21, /* SESPAKE: an RFC 8133 attempt counter reached zero */
	LS_ERR_STATE = -22,            /* call made in the wrong protocol/operation state */
	LS_ERR_RANDOM = -23,           /* the DRBG could not produce bytes */
	LS_ERR_NOT_FOUND = -24,        /* a looked-up item does not exist */
	LS_ERR_REFUSED = -25,          /* the peer or a policy refused (the handshake's reason says why) */
};

/* A static English description of @err; never NULL, also for unknown codes. */
const char *ls_strerror(int err);

#endif /* LS11_CORE_ERRORS_H */
