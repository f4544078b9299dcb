/*
 * LS11CLOUD - the secure channel (ARCHITECTURE.md section 4 item 4; docs/channel.md).
 *
 * Keyed from the 32-byte SESPAKE key K and both hello nonces, the channel turns plaintext into
 * records and back: Kuznyechik-CTR then Kuznyechik-OMAC (encrypt-then-MAC), one implicit 64-bit
 * sequence number per direction that is never sent but feeds the CTR IV and the MAC, and a
 * fresh pair of record keys for every epoch of 2^epoch_bits records (derived with
 * KDF_TREE_GOSTR3411_2012_256 from the direction key, as RFC 9189's TLSTREE does).
 *
 * Record (version 1), carried as the payload of one frame:
 *
 *   version (1 byte, 0x01) | type (1 byte) | ciphertext (n bytes) | tag (16 bytes)
 *   tag = OMAC(K_mac[epoch], seq (8 bytes, big-endian) | version | type | ciphertext)
 *   ciphertext = CTR(K_enc[epoch], IV = seq (8 bytes, big-endian), plaintext)
 *
 * Failure is final: the first record that fails (bad tag - which is what a tampered, replayed,
 * reordered, dropped or cut record gives -, bad length, unknown version or type) closes the
 * channel for good.  That call returns LS_ERR_RECORD_AUTH (LS_ERR_SEQ_EXHAUSTED / the backend's
 * code for those causes) and every later call LS_ERR_CHANNEL_CLOSED; ls_channel_fault() names
 * the cause precisely (a replayed record and an out-of-order one are told apart from a forged
 * one by trying the neighbouring sequence numbers, only once the channel is already dead).
 *
 * Threads: a channel may be sealed in one thread while it is opened in another (the two
 * directions share only the atomic failure state); otherwise one thread at a time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_CHANNEL_H
#define LS11_CORE_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "errors.h"
#include "frame.h"
#include "transport.h"

#define LS_CHANNEL_KEY_SIZE 32
#define LS_CHANNEL_NONCE_MIN 16
#define LS_CHANNEL_NONCE_MAX 32
#define LS_CHANNEL_VERSION 0x01
#define LS_CHANNEL_HEADER_SIZE 2
#define LS_CHANNEL_TAG_SIZE 16
#define LS_CHANNEL_OVERHEAD (LS_CHANNEL_HEADER_SIZE + LS_CHANNEL_TAG_SIZE)
/* A record fills at most one default-size frame. */
#define LS_CHANNEL_MAX_RECORD LS_FRAME_DEFAULT_MAX
#define LS_CHANNEL_MAX_PLAINTEXT (LS_CHANNEL_MAX_RECORD - LS_CHANNEL_OVERHEAD)
/* Records per key epoch = 2^LS_CHANNEL_DEFAULT_EPOCH_BITS (docs/channel.md explains the choice). */
#define LS_CHANNEL_DEFAULT_EPOCH_BITS 10

typedef enum {
	LS_CHANNEL_CLIENT = 1,
	LS_CHANNEL_SERVER = 2,
} ls_channel_role;

typedef enum {
	LS_RECORD_DATA = 0x01,  /* application data, 0..LS_CHANNEL_MAX_PLAINTEXT bytes */
	LS_RECORD_CLOSE = 0x02, /* orderly end of this direction; empty */
} ls_record_type;

/* Why a channel closed; LS_CHANNEL_FAULT_NONE while it works or after an orderly close. */
typedef enum {
	LS_CHANNEL_FAULT_NONE = 0,
	LS_CHANNEL_FAULT_BAD_TAG,          /* tag does not verify at this or a nearby seq: tampered/forged */
	LS_CHANNEL_FAULT_REPLAYED,         /* the record verifies at an earlier seq: a replay */
	LS_CHANNEL_FAULT_OUT_OF_ORDER,     /* it verifies at a later seq: records dropped or reordered */
	LS_CHANNEL_FAULT_TRUNCATED,        /* shorter than header + tag */
	LS_CHANNEL_FAULT_OVERSIZE,         /* longer than LS_CHANNEL_MAX_RECORD */
	LS_CHANNEL_FAULT_BAD_VERSION,      /* authentic, but an unknown version byte */
	LS_CHANNEL_FAULT_BAD_TYPE,         /* authentic, but an unknown record type */
	LS_CHANNEL_FAULT_BAD_CLOSE,        /* authentic close record with content */
	LS_CHANNEL_FAULT_STREAM_TRUNCATED, /* the transport ended without a close record */
	LS_CHANNEL_FAULT_SEQ_EXHAUSTED,    /* 2^64 - 1 records went one way */
	LS_CHANNEL_FAULT_TRANSPORT,        /* the transport failed (its error was returned) */
	LS_CHANNEL_FAULT_INTERNAL,          /* a local failure: crypto backend, memory */
} ls_channel_fault;

typedef struct ls_channel ls_channel;

/*
 * A channel for @role keyed from the SESPAKE key @key and the hello nonces (16..32 bytes each,
 * LS_ERR_BAD_LENGTH otherwise).  Both ends call it with the same arguments but opposite roles.
 * Derives the two direction keys (RFC 7836 KDF_TREE, labels per direction, seed = client nonce
 * || server nonce); the caller should wipe @key afterwards.  *@out is set only on success.
 */
int ls_channel_new(ls_channel_role role, const uint8_t key[static LS_CHANNEL_KEY_SIZE],
                   const uint8_t *client_nonce, size_t client_nonce_len,
                   const uint8_t *server_nonce, size_t server_nonce_len, ls_channel **out);

/*
 * Sets the epoch length to 2^@bits records (0..63; default LS_CHANNEL_DEFAULT_EPOCH_BITS).  Both
 * ends must agree.  Only before the first record either way (LS_ERR_STATE after).  For tests
 * that force many re-keyings; production uses the default.
 */
int ls_channel_set_epoch_bits(ls_channel *ch, unsigned bits);

/*
 * Seals @len bytes of @data (not inside @out) as one record of @type and appends it to @out.
 * LS_RECORD_CLOSE takes no data and ends this direction (later seals: LS_ERR_CHANNEL_CLOSED).
 * Errors that leave the channel as it was: LS_ERR_TOO_LARGE (@len over
 * LS_CHANNEL_MAX_PLAINTEXT), LS_ERR_INVALID_ARG, and @out's failure (LS_ERR_BUFFER_FULL,
 * LS_ERR_NOMEM: nothing appended).  LS_ERR_SEQ_EXHAUSTED or a backend error close it.  No
 * allocation in steady state (one context pair per epoch).
 */
int ls_channel_seal(ls_channel *ch, ls_record_type type, const void *data, size_t len,
                    ls_buf *out);

/*
 * Opens the record @rec[@len] (the payload of one frame): checks its length and its tag (in
 * constant time) before looking at anything else, then decrypts and appends the plaintext to
 * @out and sets *@type.  A close record ends the peer's direction: it returns LS_OK with
 * *@type = LS_RECORD_CLOSE, later opens return LS_ERR_CHANNEL_CLOSED.  If @out cannot take the
 * plaintext its error is returned and nothing changes (the record can be opened again).  Every
 * other failure closes the channel (see the top of this file).
 */
int ls_channel_open(ls_channel *ch, const uint8_t *rec, size_t len, ls_buf *out,
                    ls_record_type *type);

/*
 * Seals @data as a data record and sends it as one frame on @t.  Any transport error is
 * returned and closes the channel (the sequence numbers are out of step once a record is lost).
 */
int ls_channel_send(ls_channel *ch, ls_transport *t, const void *data, size_t len,
                    int timeout_ms);

/*
 * Seals the @n messages @msgs[] (data records, in order) and sends them as @n frames with as
 * few system calls as the transport allows (ls_transport_sendv(): one for up to
 * LS_TRANSPORT_SENDV_MAX records and LS_CHANNEL_BATCH_BYTES).  The lengths are checked before
 * any record is sealed; a transport error closes the channel, as in ls_channel_send().
 */
#define LS_CHANNEL_BATCH_BYTES ((size_t)256 << 10)
int ls_channel_send_batch(ls_channel *ch, ls_transport *t, const ls_transport_frame *msgs,
                          size_t n, int timeout_ms);

/* Sends a close record; after it this end can still receive. */
int ls_channel_send_close(ls_channel *ch, ls_transport *t, int timeout_ms);

/*
 * Receives one frame from @t and opens it into @out (reset first; its cap must be at least
 * LS_CHANNEL_MAX_PLAINTEXT, LS_ERR_INVALID_ARG otherwise).  LS_OK: @out holds a data
 * record's plaintext.  LS_ERR_EOF: the peer sent its close record (orderly end).
 * LS_ERR_TIMEOUT: nothing arrived in time; nothing changed.  LS_ERR_RECORD_AUTH: the record
 * failed, or the transport ended without a close record (fault STREAM_TRUNCATED).  Other
 * transport errors are returned as they are (fault TRANSPORT).  All but LS_ERR_TIMEOUT close.
 */
int ls_channel_recv(ls_channel *ch, ls_transport *t, ls_buf *out, int timeout_ms);

/* Why the channel closed (LS_CHANNEL_FAULT_NONE if it did not fail). */
ls_channel_fault ls_channel_get_fault(const ls_channel *ch);
/* A static English description of @fault. */
const char *ls_channel_fault_string(ls_channel_fault fault);

/* Sequence numbers of the next record to seal and to open (for logs and tests). */
uint64_t ls_channel_send_seq(const ls_channel *ch);
uint64_t ls_channel_recv_seq(const ls_channel *ch);

/* Wipes the keys and frees @ch.  NULL is accepted. */
void ls_channel_free(ls_channel *ch);

#ifdef LS11_TEST_HOOKS
/* Test-only: jumps both sequence numbers (to reach the end of the sequence space). */
void ls_channel_test_set_seq(ls_channel *ch, uint64_t send_seq, uint64_t recv_seq);
#endif

#endif /* LS11_CORE_CHANNEL_H */
