/*
 * LS11CLOUD - the secure channel: Kuznyechik-CTR + Kuznyechik-OMAC records with implicit
 * sequence numbers and per-epoch keys.  The format and the key schedule are in docs/channel.md.
 *
 * Key schedule:
 *   seed          = client nonce || server nonce
 *   K_dir         = KDF_TREE(K, label_dir, seed, R = 1, L = 256)   (one per direction)
 *   K_enc || K_mac = KDF_TREE(K_dir, label_epoch, BE64(epoch), R = 1, L = 512)
 *   epoch         = seq >> epoch_bits
 *
 * Steady state costs no allocation: the record keys of the current epoch sit in one CTR
 * context and one OMAC context per direction, restarted per record (ls_cipher_reset with the
 * new IV, ls_mac_reset); only an epoch change builds a new pair.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "channel.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"

static const char label_c2s[] = "LS11CLOUD channel v1 client to server";
static const char label_s2c[] = "LS11CLOUD channel v1 server to client";
static const char label_epoch[] = "LS11CLOUD channel v1 record keys";

/*
 * After a tag failure, the record is tried at this many sequence numbers on each side to tell
 * a replay or an out-of-order record from a forgery.  Only records up to DIAG_MAX_RECORD bytes
 * are tried, so a hostile peer cannot buy more than a few small MACs with its one failure.
 */
#define DIAG_WINDOW 4
#define DIAG_MAX_RECORD (((size_t)64 << 10) + LS_CHANNEL_OVERHEAD)

struct dir {
	uint8_t key[LS_CHANNEL_KEY_SIZE]; /* the direction key K_dir */
	uint64_t seq;                     /* of the next record */
	uint64_t epoch;                   /* of the contexts below, when keyed */
	bool keyed;
	bool used;                        /* a record went (or was tried) this way */
	bool closed;                      /* a close record went this way */
	ls_cipher_ctx *cipher;
	ls_mac_ctx *mac;
};

struct ls_channel {
	ls_channel_role role;
	unsigned epoch_bits;
	atomic_int fault; /* ls_channel_fault; the first one sticks */
	struct dir tx, rx;
	ls_buf tx_rec; /* record scratch of ls_channel_send() */
	ls_buf tx_batch; /* records of ls_channel_send_batch() */
	ls_buf rx_rec; /* frame scratch of ls_channel_recv() */
};

static void
put_be64(uint8_t b[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
}

const char *
ls_channel_fault_string(ls_channel_fault fault)
{
	switch (fault) {
	case LS_CHANNEL_FAULT_NONE: return "no fault";
	case LS_CHANNEL_FAULT_BAD_TAG: return "record tag does not verify (tampered or forged record)";
	case LS_CHANNEL_FAULT_REPLAYED: return "replayed record (it verifies at an earlier sequence number)";
	case LS_CHANNEL_FAULT_OUT_OF_ORDER: return "record out of order (one or more records were dropped or reordered)";
	case LS_CHANNEL_FAULT_TRUNCATED: return "truncated record (shorter than header and tag)";
	case LS_CHANNEL_FAULT_OVERSIZE: return "record larger than the maximum";
	case LS_CHANNEL_FAULT_BAD_VERSION: return "authentic record with an unknown version";
	case LS_CHANNEL_FAULT_BAD_TYPE: return "authentic record with an unknown type";
	case LS_CHANNEL_FAULT_BAD_CLOSE: return "close record with content";
	case LS_CHANNEL_FAULT_STREAM_TRUNCATED: return "connection ended without a close record (truncation)";
	case LS_CHANNEL_FAULT_SEQ_EXHAUSTED: return "record sequence numbers exhausted";
	case LS_CHANNEL_FAULT_TRANSPORT: return "transport failure";
	case LS_CHANNEL_FAULT_INTERNAL: return "local failure (crypto backend or memory)";
	}
	return "unknown fault";
}

/* Closes @ch for good with @fault (the first fault wins) and returns @err. */
static int
channel_fail(ls_channel *ch, ls_channel_fault fault, int err, uint64_t seq)
{
	int none = LS_CHANNEL_FAULT_NONE;

	if (atomic_compare_exchange_strong(&ch->fault, &none, (int)fault))
		ls_warning("channel: closed at record %llu: %s", (unsigned long long)seq,
		           ls_channel_fault_string(fault));
	return err;
}

static bool
channel_failed(const ls_channel *ch)
{
	return atomic_load(&((ls_channel *)ch)->fault) != LS_CHANNEL_FAULT_NONE;
}

/* ---------------------------------------------------------------------------------------------
 * Keys
 * ------------------------------------------------------------------------------------------- */

/* K_enc || K_mac of @epoch under the direction key @dkey. */
static int
derive_epoch_keys(const uint8_t dkey[LS_CHANNEL_KEY_SIZE], uint64_t epoch, uint8_t keys[64])
{
	uint8_t seed[8];

	put_be64(seed, epoch);
	return ls_kdf_tree_gostr3411_2012_256(dkey, (const uint8_t *)label_epoch,
	                                      sizeof(label_epoch) - 1, seed, sizeof(seed), 1, keys,
	                                      64);
}

/* Makes the contexts of @d hold the keys of the epoch of its next sequence number. */
static int
dir_rekey(const ls_channel *ch, struct dir *d, bool encrypt)
{
	static const uint8_t zero_iv[8];
	uint64_t epoch = d->seq >> ch->epoch_bits;
	ls_cipher_ctx *cipher = NULL;
	ls_mac_ctx *mac = NULL;
	ls_cipher_params params;
	uint8_t keys[64];
	int r;

	if (d->keyed && d->epoch == epoch)
		return LS_OK;
	if ((r = derive_epoch_keys(d->key, epoch, keys)) != LS_OK)
		goto out;
	memset(&params, 0, sizeof(params));
	params.alg = LS_CIPHER_KUZNYECHIK;
	params.mode = LS_MODE_CTR;
	params.encrypt = encrypt;
	params.key = keys;
	params.iv = zero_iv;
	params.iv_len = sizeof(zero_iv);
	if ((r = ls_cipher_new(&params, &cipher)) != LS_OK)
		goto out;
	if ((r = ls_mac_new(LS_CIPHER_KUZNYECHIK, 0, keys + 32, &mac)) != LS_OK)
		goto out;
	ls_cipher_free(d->cipher);
	ls_mac_free(d->mac);
	d->cipher = cipher;
	d->mac = mac;
	cipher = NULL;
	mac = NULL;
	d->epoch = epoch;
	d->keyed = true;
out:
	ls_cipher_free(cipher);
	ls_mac_free(mac);
	ls_wipe(keys, sizeof(keys));
	return r;
}

/* tag = OMAC(seq || @hdr_ct[@len]) */
static int
record_tag(ls_mac_ctx *mac, const uint8_t seq[8], const uint8_t *hdr_ct, size_t len,
           uint8_t tag[LS_CHANNEL_TAG_SIZE])
{
	int r;

	if ((r = ls_mac_reset(mac)) != LS_OK || (r = ls_mac_update(mac, seq, 8)) != LS_OK ||
	    (r = ls_mac_update(mac, hdr_ct, len)) != LS_OK)
		return r;
	return ls_mac_final(mac, tag, LS_CHANNEL_TAG_SIZE);
}

/* ---------------------------------------------------------------------------------------------
 * Life cycle
 * ------------------------------------------------------------------------------------------- */

int
ls_channel_new(ls_channel_role role, const uint8_t key[static LS_CHANNEL_KEY_SIZE],
               const uint8_t *client_nonce, size_t client_nonce_len,
               const uint8_t *server_nonce, size_t server_nonce_len, ls_channel **out)
{
	uint8_t seed[2 * LS_CHANNEL_NONCE_MAX], k_c2s[LS_CHANNEL_KEY_SIZE], k_s2c[LS_CHANNEL_KEY_SIZE];
	ls_channel *ch = NULL;
	size_t seed_len;
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	ls_return_val_if_fail(key != NULL && client_nonce != NULL && server_nonce != NULL,
	                      LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(role == LS_CHANNEL_CLIENT || role == LS_CHANNEL_SERVER,
	                      LS_ERR_INVALID_ARG);
	if (client_nonce_len < LS_CHANNEL_NONCE_MIN || client_nonce_len > LS_CHANNEL_NONCE_MAX ||
	    server_nonce_len < LS_CHANNEL_NONCE_MIN || server_nonce_len > LS_CHANNEL_NONCE_MAX)
		return LS_ERR_BAD_LENGTH;

	memcpy(seed, client_nonce, client_nonce_len);
	memcpy(seed + client_nonce_len, server_nonce, server_nonce_len);
	seed_len = client_nonce_len + server_nonce_len;

	if ((ch = calloc(1, sizeof(*ch))) == NULL) {
		r = LS_ERR_NOMEM;
		goto out;
	}
	ch->role = role;
	ch->epoch_bits = LS_CHANNEL_DEFAULT_EPOCH_BITS;
	atomic_init(&ch->fault, LS_CHANNEL_FAULT_NONE);
	ls_buf_init(&ch->tx_rec, LS_CHANNEL_MAX_RECORD);
	/* One large record alone, or small ones up to LS_CHANNEL_BATCH_BYTES. */
	ls_buf_init(&ch->tx_batch, LS_CHANNEL_BATCH_BYTES + LS_CHANNEL_MAX_RECORD);
	/* As large as any transport's frames: the transport's own cap is what bounds it. */
	ls_buf_init(&ch->rx_rec, LS_FRAME_MAX_LIMIT);

	if ((r = ls_kdf_tree_gostr3411_2012_256(key, (const uint8_t *)label_c2s,
	                                        sizeof(label_c2s) - 1, seed, seed_len, 1, k_c2s,
	                                        sizeof(k_c2s))) != LS_OK ||
	    (r = ls_kdf_tree_gostr3411_2012_256(key, (const uint8_t *)label_s2c,
	                                        sizeof(label_s2c) - 1, seed, seed_len, 1, k_s2c,
	                                        sizeof(k_s2c))) != LS_OK)
		goto out;
	memcpy(ch->tx.key, role == LS_CHANNEL_CLIENT ? k_c2s : k_s2c, LS_CHANNEL_KEY_SIZE);
	memcpy(ch->rx.key, role == LS_CHANNEL_CLIENT ? k_s2c : k_c2s, LS_CHANNEL_KEY_SIZE);
	*out = ch;
	ch = NULL;
	r = LS_OK;
out:
	ls_wipe(k_c2s, sizeof(k_c2s));
	ls_wipe(k_s2c, sizeof(k_s2c));
	ls_channel_free(ch);
	return r;
}

int
ls_channel_set_epoch_bits(ls_channel *ch, unsigned bits)
{
	ls_return_val_if_fail(ch != NULL, LS_ERR_INVALID_ARG);
	if (bits > 63)
		return LS_ERR_INVALID_ARG;
	if (ch->tx.used || ch->rx.used)
		return LS_ERR_STATE;
	ch->epoch_bits = bits;
	ch->tx.keyed = ch->rx.keyed = false;
	return LS_OK;
}

static void
dir_clear(struct dir *d)
{
	ls_cipher_free(d->cipher);
	ls_mac_free(d->mac);
	ls_wipe(d, sizeof(*d));
}

void
ls_channel_free(ls_channel *ch)
{
	if (ch == NULL)
		return;
	dir_clear(&ch->tx);
	dir_clear(&ch->rx);
	ls_buf_clear(&ch->tx_rec);
	ls_buf_clear(&ch->tx_batch);
	ls_buf_clear(&ch->rx_rec);
	ls_wipe(ch, sizeof(*ch));
	free(ch);
}

#ifdef LS11_TEST_HOOKS
void
ls_channel_test_set_seq(ls_channel *ch, uint64_t send_seq, uint64_t recv_seq)
{
	if (ch == NULL)
		return;
	ch->tx.seq = send_seq;
	ch->rx.seq = recv_seq;
	ch->tx.keyed = ch->rx.keyed = false;
}
#endif

ls_channel_fault
ls_channel_get_fault(const ls_channel *ch)
{
	ls_return_val_if_fail(ch != NULL, LS_CHANNEL_FAULT_NONE);
	return (ls_channel_fault)atomic_load(&((ls_channel *)ch)->fault);
}

uint64_t
ls_channel_send_seq(const ls_channel *ch)
{
	ls_return_val_if_fail(ch != NULL, 0);
	return ch->tx.seq;
}

uint64_t
ls_channel_recv_seq(const ls_channel *ch)
{
	ls_return_val_if_fail(ch != NULL, 0);
	return ch->rx.seq;
}

/* ---------------------------------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------------------------------- */

/* True when @p lies inside the storage of @buf (sealing from it would read freed memory). */
static bool
inside(const ls_buf *buf, const void *p)
{
	uintptr_t a = (uintptr_t)ls_buf_data(buf), x = (uintptr_t)p;

	return a != 0 && x >= a && x < a + buf->alloc;
}

int
ls_channel_seal(ls_channel *ch, ls_record_type type, const void *data, size_t len, ls_buf *out)
{
	uint8_t seq[8], *p;
	struct dir *d;
	size_t start, n;
	int r;

	ls_return_val_if_fail(ch != NULL && out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data != NULL || len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(type == LS_RECORD_DATA || type == LS_RECORD_CLOSE, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(type == LS_RECORD_DATA || len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(len == 0 || !inside(out, data), LS_ERR_INVALID_ARG);
	d = &ch->tx;
	if (channel_failed(ch) || d->closed)
		return LS_ERR_CHANNEL_CLOSED;
	if (len > LS_CHANNEL_MAX_PLAINTEXT)
		return LS_ERR_TOO_LARGE;
	if (d->seq == UINT64_MAX)
		return channel_fail(ch, LS_CHANNEL_FAULT_SEQ_EXHAUSTED, LS_ERR_SEQ_EXHAUSTED, d->seq);
	d->used = true;
	if ((r = dir_rekey(ch, d, true)) != LS_OK)
		return channel_fail(ch, LS_CHANNEL_FAULT_INTERNAL, r, d->seq);

	start = ls_buf_len(out);
	if ((p = ls_buf_append(out, LS_CHANNEL_OVERHEAD + len)) == NULL)
		return ls_buf_status(out);
	p[0] = LS_CHANNEL_VERSION;
	p[1] = (uint8_t)type;
	put_be64(seq, d->seq);
	if ((len > 0 && ((r = ls_cipher_reset(d->cipher, seq, sizeof(seq))) != LS_OK ||
	                 (r = ls_cipher_update(d->cipher, data, len, p + LS_CHANNEL_HEADER_SIZE,
	                                       &n)) != LS_OK)) ||
	    (r = record_tag(d->mac, seq, p, LS_CHANNEL_HEADER_SIZE + len,
	                    p + LS_CHANNEL_HEADER_SIZE + len)) != LS_OK) {
		ls_buf_truncate(out, start);
		return channel_fail(ch, LS_CHANNEL_FAULT_INTERNAL, r, d->seq);
	}
	d->seq++;
	if (type == LS_RECORD_CLOSE)
		d->closed = true;
	return LS_OK;
}

/* Does @rec carry a valid tag for sequence number @seq?  Only for diagnosing a dead channel. */
static bool
tag_valid_at(const ls_channel *ch, const struct dir *d, uint64_t seq, const uint8_t *rec,
             size_t len)
{
	uint8_t keys[64], seqb[8], tag[LS_CHANNEL_TAG_SIZE];
	ls_mac_ctx *mac = d->mac, *tmp = NULL;
	bool valid = false;

	if (d->keyed && seq >> ch->epoch_bits == d->epoch) {
		mac = d->mac;
	} else {
		if (derive_epoch_keys(d->key, seq >> ch->epoch_bits, keys) != LS_OK ||
		    ls_mac_new(LS_CIPHER_KUZNYECHIK, 0, keys + 32, &tmp) != LS_OK)
			goto out;
		mac = tmp;
	}
	put_be64(seqb, seq);
	valid = record_tag(mac, seqb, rec, len - LS_CHANNEL_TAG_SIZE, tag) == LS_OK &&
	        ls_ct_equal(tag, rec + len - LS_CHANNEL_TAG_SIZE, LS_CHANNEL_TAG_SIZE);
out:
	ls_mac_free(tmp);
	ls_wipe(keys, sizeof(keys));
	return valid;
}

/* Names the cause of a tag failure at d->seq: a replay, an out-of-order record, or a forgery. */
static ls_channel_fault
diagnose(const ls_channel *ch, const struct dir *d, const uint8_t *rec, size_t len)
{
	uint64_t delta;

	if (len > DIAG_MAX_RECORD)
		return LS_CHANNEL_FAULT_BAD_TAG;
	for (delta = 1; delta <= DIAG_WINDOW; delta++) {
		if (d->seq >= delta && tag_valid_at(ch, d, d->seq - delta, rec, len))
			return LS_CHANNEL_FAULT_REPLAYED;
		if (d->seq < UINT64_MAX - delta && tag_valid_at(ch, d, d->seq + delta, rec, len))
			return LS_CHANNEL_FAULT_OUT_OF_ORDER;
	}
	return LS_CHANNEL_FAULT_BAD_TAG;
}

int
ls_channel_open(ls_channel *ch, const uint8_t *rec, size_t len, ls_buf *out,
                ls_record_type *type)
{
	uint8_t seq[8], tag[LS_CHANNEL_TAG_SIZE], *p;
	size_t ptlen, start, n;
	struct dir *d;
	int r;

	ls_return_val_if_fail(type != NULL, LS_ERR_INVALID_ARG);
	*type = 0;
	ls_return_val_if_fail(ch != NULL && out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(rec != NULL || len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(len == 0 || !inside(out, rec), LS_ERR_INVALID_ARG);
	d = &ch->rx;
	if (channel_failed(ch) || d->closed)
		return LS_ERR_CHANNEL_CLOSED;
	d->used = true;

	/* Only the length (the frame's, not the record's) is looked at before the tag. */
	if (len < LS_CHANNEL_OVERHEAD)
		return channel_fail(ch, LS_CHANNEL_FAULT_TRUNCATED, LS_ERR_RECORD_AUTH, d->seq);
	if (len > LS_CHANNEL_MAX_RECORD)
		return channel_fail(ch, LS_CHANNEL_FAULT_OVERSIZE, LS_ERR_RECORD_AUTH, d->seq);
	if (d->seq == UINT64_MAX)
		return channel_fail(ch, LS_CHANNEL_FAULT_SEQ_EXHAUSTED, LS_ERR_SEQ_EXHAUSTED, d->seq);
	if ((r = dir_rekey(ch, d, false)) != LS_OK)
		return channel_fail(ch, LS_CHANNEL_FAULT_INTERNAL, r, d->seq);

	put_be64(seq, d->seq);
	if ((r = record_tag(d->mac, seq, rec, len - LS_CHANNEL_TAG_SIZE, tag)) != LS_OK)
		return channel_fail(ch, LS_CHANNEL_FAULT_INTERNAL, r, d->seq);
	if (!ls_ct_equal(tag, rec + len - LS_CHANNEL_TAG_SIZE, LS_CHANNEL_TAG_SIZE))
		return channel_fail(ch, diagnose(ch, d, rec, len), LS_ERR_RECORD_AUTH, d->seq);

	/* Authentic from here on. */
	ptlen = len - LS_CHANNEL_OVERHEAD;
	if (rec[0] != LS_CHANNEL_VERSION)
		return channel_fail(ch, LS_CHANNEL_FAULT_BAD_VERSION, LS_ERR_RECORD_AUTH, d->seq);
	if (rec[1] != LS_RECORD_DATA && rec[1] != LS_RECORD_CLOSE)
		return channel_fail(ch, LS_CHANNEL_FAULT_BAD_TYPE, LS_ERR_RECORD_AUTH, d->seq);
	if (rec[1] == LS_RECORD_CLOSE && ptlen != 0)
		return channel_fail(ch, LS_CHANNEL_FAULT_BAD_CLOSE, LS_ERR_RECORD_AUTH, d->seq);

	start = ls_buf_len(out);
	if ((p = ls_buf_append(out, ptlen)) == NULL)
		return ls_buf_status(out);
	if (ptlen > 0 && ((r = ls_cipher_reset(d->cipher, seq, sizeof(seq))) != LS_OK ||
	                  (r = ls_cipher_update(d->cipher, rec + LS_CHANNEL_HEADER_SIZE, ptlen, p,
	                                        &n)) != LS_OK)) {
		ls_buf_truncate(out, start);
		return channel_fail(ch, LS_CHANNEL_FAULT_INTERNAL, r, d->seq);
	}
	d->seq++;
	*type = (ls_record_type)rec[1];
	if (*type == LS_RECORD_CLOSE)
		d->closed = true;
	return LS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Over a transport
 * ------------------------------------------------------------------------------------------- */

static int
channel_send_record(ls_channel *ch, ls_transport *t, ls_record_type type, const void *data,
                    size_t len, int timeout_ms)
{
	int r;

	ls_return_val_if_fail(ch != NULL && t != NULL, LS_ERR_INVALID_ARG);
	/* Refuse what the transport would refuse before a sequence number is spent on it. */
	if (len > LS_CHANNEL_MAX_PLAINTEXT || len + LS_CHANNEL_OVERHEAD > ls_transport_max_frame(t))
		return LS_ERR_TOO_LARGE;
	ls_buf_reset(&ch->tx_rec);
	if ((r = ls_channel_seal(ch, type, data, len, &ch->tx_rec)) != LS_OK)
		return r;
	r = ls_transport_send(t, ls_buf_data(&ch->tx_rec), ls_buf_len(&ch->tx_rec), timeout_ms);
	if (r != LS_OK)
		return channel_fail(ch, LS_CHANNEL_FAULT_TRANSPORT, r, ch->tx.seq - 1);
	return LS_OK;
}

int
ls_channel_send(ls_channel *ch, ls_transport *t, const void *data, size_t len, int timeout_ms)
{
	return channel_send_record(ch, t, LS_RECORD_DATA, data, len, timeout_ms);
}

int
ls_channel_send_batch(ls_channel *ch, ls_transport *t, const ls_transport_frame *msgs, size_t n,
                      int timeout_ms)
{
	ls_transport_frame frames[LS_TRANSPORT_SENDV_MAX];
	size_t offs[LS_TRANSPORT_SENDV_MAX];
	size_t i = 0, k;
	int r;

	ls_return_val_if_fail(ch != NULL && t != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(msgs != NULL || n == 0, LS_ERR_INVALID_ARG);
	for (k = 0; k < n; k++) {
		ls_return_val_if_fail(msgs[k].data != NULL || msgs[k].len == 0, LS_ERR_INVALID_ARG);
		if (msgs[k].len > LS_CHANNEL_MAX_PLAINTEXT ||
		    msgs[k].len + LS_CHANNEL_OVERHEAD > ls_transport_max_frame(t))
			return LS_ERR_TOO_LARGE;
	}
	while (i < n) {
		/* Seal a run of records into one buffer (the first always fits), then send it. */
		ls_buf_reset(&ch->tx_batch);
		for (k = 0; i + k < n && k < LS_TRANSPORT_SENDV_MAX; k++) {
			size_t len = msgs[i + k].len + LS_CHANNEL_OVERHEAD;

			if (k > 0 && ls_buf_len(&ch->tx_batch) + len > LS_CHANNEL_BATCH_BYTES)
				break;
			offs[k] = ls_buf_len(&ch->tx_batch);
			if ((r = ls_channel_seal(ch, LS_RECORD_DATA, msgs[i + k].data, msgs[i + k].len,
			                         &ch->tx_batch)) != LS_OK) {
				/* Sealed but unsent records leave the sequence out of step: fatal. */
				if (k > 0 || i > 0)
					return channel_fail(ch, LS_CHANNEL_FAULT_INTERNAL, r, ch->tx.seq);
				return r;
			}
		}
		for (size_t j = 0; j < k; j++) {
			size_t end = j + 1 < k ? offs[j + 1] : ls_buf_len(&ch->tx_batch);

			frames[j].data = ls_buf_data(&ch->tx_batch) + offs[j];
			frames[j].len = end - offs[j];
		}
		r = ls_transport_sendv(t, frames, k, timeout_ms);
		if (ch->tx_batch.alloc > LS_CHANNEL_BATCH_BYTES)
			ls_buf_clear(&ch->tx_batch); /* a rare large batch: do not keep its storage */
		else
			ls_buf_reset(&ch->tx_batch);
		if (r != LS_OK)
			return channel_fail(ch, LS_CHANNEL_FAULT_TRANSPORT, r, ch->tx.seq - 1);
		i += k;
	}
	return LS_OK;
}

int
ls_channel_send_close(ls_channel *ch, ls_transport *t, int timeout_ms)
{
	return channel_send_record(ch, t, LS_RECORD_CLOSE, NULL, 0, timeout_ms);
}

int
ls_channel_recv(ls_channel *ch, ls_transport *t, ls_buf *out, int timeout_ms)
{
	ls_record_type type;
	int r;

	ls_return_val_if_fail(ch != NULL && t != NULL && out != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(ls_buf_max(out) >= LS_CHANNEL_MAX_PLAINTEXT, LS_ERR_INVALID_ARG);
	ls_buf_reset(out);
	if (channel_failed(ch) || ch->rx.closed)
		return LS_ERR_CHANNEL_CLOSED;
	r = ls_transport_recv(t, &ch->rx_rec, timeout_ms);
	switch (r) {
	case LS_OK:
		break;
	case LS_ERR_TIMEOUT:
		return r;
	case LS_ERR_EOF:
	case LS_ERR_TRUNCATED:
		return channel_fail(ch, LS_CHANNEL_FAULT_STREAM_TRUNCATED, LS_ERR_RECORD_AUTH,
		                    ch->rx.seq);
	case LS_ERR_TOO_LARGE:
		return channel_fail(ch, LS_CHANNEL_FAULT_OVERSIZE, LS_ERR_RECORD_AUTH, ch->rx.seq);
	case LS_ERR_MALFORMED:
		return channel_fail(ch, LS_CHANNEL_FAULT_TRUNCATED, LS_ERR_RECORD_AUTH, ch->rx.seq);
	default:
		return channel_fail(ch, LS_CHANNEL_FAULT_TRANSPORT, r, ch->rx.seq);
	}
	r = ls_channel_open(ch, ls_buf_data(&ch->rx_rec), ls_buf_len(&ch->rx_rec), out, &type);
	/* The frame is gone: a record that could not be stored (no memory) is a lost record. */
	if (r != LS_OK && !channel_failed(ch))
		return channel_fail(ch, LS_CHANNEL_FAULT_INTERNAL, r, ch->rx.seq);
	if (r != LS_OK)
		return r;
	return type == LS_RECORD_CLOSE ? LS_ERR_EOF : LS_OK;
}
