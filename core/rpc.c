/*
 * LS11CLOUD - the RPC codec: encoders and decoders driven by the signatures of the one table
 * (rpc.h, docs/protocol-rpc.md).
 *
 * The habits of p11-kit's rpc-message.c (a signature per call, every read and write checked
 * against it) without its trust in the peer: every count and length is checked against its
 * cap (and against the bytes actually left) before anything is allocated for it, nested items
 * are read as bounded sub-buffers that must be consumed exactly, and the encoding is
 * canonical - anything the decoder accepts re-encodes to the same bytes (fuzz/fuzz-rpc.c
 * checks that), so there is exactly one way to say each thing.
 *
 * A decoded message keeps all its memory in one arena made of ls_buf chunks: one lifetime, one
 * wipe, and the buffer's test allocator sees every byte of it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "rpc.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"

/* ---------------------------------------------------------------------------------------------
 * CK_ULONG on the wire: u64, CK_UNAVAILABLE_INFORMATION as all ones whatever its width
 * ------------------------------------------------------------------------------------------- */

static uint64_t
ulong_to_wire(CK_ULONG v)
{
#if ULONG_MAX < UINT64_MAX
	if (v == (CK_ULONG)-1)
		return UINT64_MAX;
#endif
	return (uint64_t)v;
}

static int
ulong_from_wire(uint64_t w, CK_ULONG *v)
{
#if ULONG_MAX < UINT64_MAX
	if (w > ULONG_MAX) {
		if (w != UINT64_MAX) {
			*v = 0;
			return LS_ERR_TOO_LARGE;
		}
		*v = (CK_ULONG)-1;
		return LS_OK;
	}
#endif
	*v = (CK_ULONG)w;
	return LS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The arena: a chain of ls_buf chunks; each chunk starts with the ls_buf of the one before
 * ------------------------------------------------------------------------------------------- */

#define ARENA_ALIGN       16
#define ARENA_FIRST_CHUNK 4096
#define ARENA_CHUNK_MAX   65536
#define CHUNK_HEADER      ((sizeof(ls_buf) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN)

typedef struct {
	ls_buf cur;   /* the chunk being filled */
	size_t total; /* bytes of all chunks */
	size_t next;  /* size of the next ordinary chunk */
	int err;      /* why the last allocation failed */
} arena;

static void
arena_init(arena *a)
{
	ls_buf_init(&a->cur, 0);
	a->total = 0;
	a->next = ARENA_FIRST_CHUNK;
	a->err = LS_OK;
}

/* @n zeroed bytes aligned to 16, never NULL on success (also for @n 0). */
static void *
arena_alloc(arena *a, size_t n)
{
	size_t need, size;
	ls_buf chunk;
	uint8_t *p;

	if (n > LS_RPC_ARENA_MAX) {
		a->err = LS_ERR_TOO_LARGE;
		return NULL;
	}
	need = n == 0 ? ARENA_ALIGN : (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (ls_buf_max(&a->cur) - ls_buf_len(&a->cur) >= need)
		return ls_buf_append(&a->cur, need);

	size = CHUNK_HEADER + need;
	if (size <= a->next) {
		size = a->next;
		if (a->next < ARENA_CHUNK_MAX)
			a->next *= 2;
	}
	if (size > LS_RPC_ARENA_MAX - a->total) {
		a->err = LS_ERR_TOO_LARGE;
		return NULL;
	}
	ls_buf_init(&chunk, size);
	/* The whole chunk at once (cap == size), so appends never move it. */
	if (ls_buf_reserve(&chunk, size) != LS_OK) {
		a->err = ls_buf_status(&chunk);
		ls_buf_clear(&chunk);
		return NULL;
	}
	p = ls_buf_append(&chunk, CHUNK_HEADER);
	memcpy(p, &a->cur, sizeof(a->cur));
	a->cur = chunk;
	a->total += size;
	return ls_buf_append(&a->cur, need);
}

/* Wipes and frees every chunk. */
static void
arena_clear(arena *a)
{
	while (ls_buf_data(&a->cur) != NULL) {
		ls_buf prev;

		memcpy(&prev, ls_buf_data(&a->cur), sizeof(prev));
		ls_buf_clear(&a->cur);
		a->cur = prev;
	}
	arena_init(a);
}

/* ---------------------------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------------------------- */

struct ls_rpc_msg {
	uint16_t call_id;
	const ls_rpc_call *call;
	uint64_t request_id;
	CK_RV rv;
	size_t nargs;
	ls_rpc_value args[LS_RPC_MAX_ARGS];
	arena mem;
};

static ls_rpc_msg *
msg_new(void)
{
	ls_rpc_msg *msg = calloc(1, sizeof(*msg));

	if (msg != NULL)
		arena_init(&msg->mem);
	return msg;
}

void
ls_rpc_msg_free(ls_rpc_msg *msg)
{
	if (msg == NULL)
		return;
	arena_clear(&msg->mem);
	ls_wipe(msg, sizeof(*msg));
	free(msg);
}

uint16_t
ls_rpc_msg_call(const ls_rpc_msg *msg)
{
	ls_return_val_if_fail(msg != NULL, 0);
	return msg->call_id;
}

uint64_t
ls_rpc_msg_request_id(const ls_rpc_msg *msg)
{
	ls_return_val_if_fail(msg != NULL, 0);
	return msg->request_id;
}

CK_RV
ls_rpc_msg_rv(const ls_rpc_msg *msg)
{
	ls_return_val_if_fail(msg != NULL, CKR_GENERAL_ERROR);
	return msg->rv;
}

const ls_rpc_value *
ls_rpc_msg_args(const ls_rpc_msg *msg, size_t *nargs)
{
	ls_return_val_if_fail(msg != NULL && nargs != NULL, NULL);
	*nargs = msg->nargs;
	return msg->args;
}

const ls_rpc_value *
ls_rpc_msg_arg(const ls_rpc_msg *msg, size_t i, char kind)
{
	ls_return_val_if_fail(msg != NULL, NULL);
	if (i >= msg->nargs || msg->args[i].kind != kind) {
		ls_warning("rpc: %s has no item %zu of kind '%c'", ls_rpc_call_name(msg->call_id),
		           i, kind);
		return NULL;
	}
	return &msg->args[i];
}

void *
ls_rpc_msg_alloc(ls_rpc_msg *msg, size_t n)
{
	ls_return_val_if_fail(msg != NULL, NULL);
	return arena_alloc(&msg->mem, n);
}

/* ---------------------------------------------------------------------------------------------
 * Encoding
 *
 * The encoder keeps its own sticky error (like ls_buf's) and checks the room left before
 * every write, so a message too large for @out fails the encoder, not @out: on any failure
 * the caller's buffer is truncated back to where it was and stays usable.
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	ls_buf *b;
	uint16_t call;
	bool request;
	CK_RV rv;           /* a response's CK_RV */
	int err;            /* first failure, LS_ERR_* */
	CK_RV ckr;          /* the same failure as a request encoder reports it */
	size_t attrs_total; /* attributes written, nested included */
	size_t used;        /* output capacity asked for so far (requests) */
} enc;

/* The CK_RV of a request that does not fit one message, as the call would report it. */
static CK_RV
limit_rv(uint16_t call)
{
	const ls_rpc_call *c;

	switch (call) {
	case LS_RPC_C_Decrypt:
	case LS_RPC_C_DecryptUpdate:
	case LS_RPC_DecryptOneShot: return CKR_ENCRYPTED_DATA_LEN_RANGE;
	case LS_RPC_C_UnwrapKey: return CKR_WRAPPED_KEY_LEN_RANGE;
	default: break;
	}
	c = ls_rpc_call_find(call);
	if (c != NULL && strchr(c->request, 'y') != NULL)
		return CKR_DATA_LEN_RANGE;
	return CKR_DEVICE_MEMORY;
}

static void
enc_fail(enc *e, int err, CK_RV ckr)
{
	if (e->err != LS_OK)
		return;
	e->err = err;
	e->ckr = ckr;
}

/* A caller's value the protocol cannot carry. */
static void
enc_bad(enc *e, CK_RV ckr)
{
	enc_fail(e, LS_ERR_INVALID_ARG, ckr);
}

/* Over a cap of the protocol, or of @out. */
static void
enc_too_large(enc *e)
{
	enc_fail(e, LS_ERR_BUFFER_FULL, limit_rv(e->call));
}

static bool
enc_room(enc *e, size_t n)
{
	if (e->err != LS_OK)
		return false;
	if (n > ls_buf_max(e->b) - ls_buf_len(e->b)) {
		enc_too_large(e);
		return false;
	}
	return true;
}

static void
enc_check_buf(enc *e)
{
	if (e->err == LS_OK && ls_buf_failed(e->b))
		enc_fail(e, ls_buf_status(e->b),
		         ls_buf_status(e->b) == LS_ERR_NOMEM ? CKR_HOST_MEMORY : limit_rv(e->call));
}

static void
enc_raw(enc *e, const void *p, size_t n)
{
	if (!enc_room(e, n))
		return;
	ls_buf_add(e->b, p, n);
	enc_check_buf(e);
}

static void
enc_u8(enc *e, uint8_t v)
{
	enc_raw(e, &v, 1);
}

static void
enc_u32(enc *e, uint32_t v)
{
	if (!enc_room(e, 4))
		return;
	ls_buf_add_u32(e->b, v);
	enc_check_buf(e);
}

static void
enc_u64(enc *e, uint64_t v)
{
	if (!enc_room(e, 8))
		return;
	ls_buf_add_u64(e->b, v);
	enc_check_buf(e);
}

static void
enc_ulong(enc *e, CK_ULONG v)
{
	enc_u64(e, ulong_to_wire(v));
}

/* u32 length + bytes; @cap is the decoder's cap for the field. */
static void
enc_string(enc *e, const void *p, size_t n, size_t cap, CK_RV too_long)
{
	if (p == NULL && n > 0) {
		enc_bad(e, CKR_ARGUMENTS_BAD);
		return;
	}
	if (n > cap) {
		enc_fail(e, LS_ERR_TOO_LARGE, too_long);
		return;
	}
	if (!enc_room(e, 4 + n))
		return;
	ls_buf_add_u32(e->b, (uint32_t)n);
	ls_buf_add(e->b, p, n);
	enc_check_buf(e);
}

static void
enc_text(enc *e, const char *s)
{
	if (s == NULL) {
		enc_bad(e, CKR_ARGUMENTS_BAD);
		return;
	}
	enc_string(e, s, strlen(s), LS_RPC_MAX_TEXT, CKR_ARGUMENTS_BAD);
}

/* ---- mechanisms ---------------------------------------------------------------------------- */

/* A pointer/length pair of a parameter structure. */
static bool
param_bytes_ok(const void *p, CK_ULONG len, size_t cap)
{
	return (p != NULL || len == 0) && len <= cap;
}

CK_RV
ls_rpc_mechanism_check(const CK_MECHANISM *mech)
{
	ls_rpc_param_kind kind;
	CK_ULONG len;

	if (mech == NULL)
		return CKR_ARGUMENTS_BAD;
	len = mech->ulParameterLen;
	if (len == 0)
		return CKR_OK;
	if (mech->pParameter == NULL)
		return CKR_MECHANISM_PARAM_INVALID;

	kind = ls_rpc_mechanism_param_kind(mech->mechanism);
	switch (kind) {
	case LS_RPC_PARAM_NONE: break;
	case LS_RPC_PARAM_BYTES:
		if (len <= LS_RPC_MAX_PARAM_BYTES)
			return CKR_OK;
		break;
	case LS_RPC_PARAM_GCM: {
		CK_GCM_PARAMS p;

		if (len != sizeof(p))
			break;
		memcpy(&p, mech->pParameter, sizeof(p));
		if (param_bytes_ok(p.pIv, p.ulIvLen, LS_RPC_MAX_PARAM_BYTES) &&
		    param_bytes_ok(p.pAAD, p.ulAADLen, LS_RPC_MAX_DATA))
			return CKR_OK;
		break;
	}
	case LS_RPC_PARAM_GOST_DERIVE: {
		CK_GOSTR3410_DERIVE_PARAMS p;

		if (len != sizeof(p))
			break;
		memcpy(&p, mech->pParameter, sizeof(p));
		if (param_bytes_ok(p.pPublicData, p.ulPublicDataLen, LS_RPC_MAX_PARAM_BYTES) &&
		    param_bytes_ok(p.pUKM, p.ulUKMLen, LS_RPC_MAX_PARAM_BYTES))
			return CKR_OK;
		break;
	}
	case LS_RPC_PARAM_GOST_KEG: {
		CK_VENDOR_GOST_KEG_PARAMS p;

		if (len != sizeof(p))
			break;
		memcpy(&p, mech->pParameter, sizeof(p));
		if (param_bytes_ok(p.pPublicData, p.ulPublicDataLen, LS_RPC_MAX_PARAM_BYTES) &&
		    param_bytes_ok(p.pUKM, p.ulUKMLen, LS_RPC_MAX_PARAM_BYTES))
			return CKR_OK;
		break;
	}
	case LS_RPC_PARAM_KDF_TREE: {
		CK_KDF_TREE_GOST_PARAMS p;

		if (len != sizeof(p))
			break;
		memcpy(&p, mech->pParameter, sizeof(p));
		if (param_bytes_ok(p.pLabel, p.ulLabelLength, LS_RPC_MAX_PARAM_BYTES) &&
		    param_bytes_ok(p.pSeed, p.ulSeedLength, LS_RPC_MAX_PARAM_BYTES))
			return CKR_OK;
		break;
	}
	case LS_RPC_PARAM_GOST_KEY_WRAP: {
		CK_GOSTR3410_KEY_WRAP_PARAMS p;

		if (len != sizeof(p))
			break;
		memcpy(&p, mech->pParameter, sizeof(p));
		if (param_bytes_ok(p.pWrapOID, p.ulWrapOIDLen, LS_RPC_MAX_PARAM_BYTES) &&
		    param_bytes_ok(p.pUKM, p.ulUKMLen, LS_RPC_MAX_PARAM_BYTES))
			return CKR_OK;
		break;
	}
	}
	ls_debug("rpc: mechanism 0x%lx: a %lu-byte parameter the protocol does not model (%s)",
	         (unsigned long)mech->mechanism, (unsigned long)len, ls_rpc_param_kind_name(kind));
	return CKR_MECHANISM_PARAM_INVALID;
}

/* The parameter blob of a checked mechanism: its size, then its bytes. */
static size_t
param_blob_size(ls_rpc_param_kind kind, const void *param, CK_ULONG len)
{
	switch (kind) {
	case LS_RPC_PARAM_NONE: return 0;
	case LS_RPC_PARAM_BYTES: return len;
	case LS_RPC_PARAM_GCM: {
		CK_GCM_PARAMS p;

		memcpy(&p, param, sizeof(p));
		return 4 + p.ulIvLen + 8 + 4 + p.ulAADLen + 8;
	}
	case LS_RPC_PARAM_GOST_DERIVE: {
		CK_GOSTR3410_DERIVE_PARAMS p;

		memcpy(&p, param, sizeof(p));
		return 8 + 4 + p.ulPublicDataLen + 4 + p.ulUKMLen;
	}
	case LS_RPC_PARAM_GOST_KEG: {
		CK_VENDOR_GOST_KEG_PARAMS p;

		memcpy(&p, param, sizeof(p));
		return 4 + p.ulPublicDataLen + 4 + p.ulUKMLen;
	}
	case LS_RPC_PARAM_KDF_TREE: {
		CK_KDF_TREE_GOST_PARAMS p;

		memcpy(&p, param, sizeof(p));
		return 4 + p.ulLabelLength + 4 + p.ulSeedLength + 3 * 8;
	}
	case LS_RPC_PARAM_GOST_KEY_WRAP: {
		CK_GOSTR3410_KEY_WRAP_PARAMS p;

		memcpy(&p, param, sizeof(p));
		return 4 + p.ulWrapOIDLen + 4 + p.ulUKMLen + 8;
	}
	}
	return 0;
}

static void
enc_param_bytes(enc *e, const void *p, CK_ULONG len, size_t cap)
{
	enc_string(e, p, len, cap, CKR_MECHANISM_PARAM_INVALID);
}

static void
enc_mechanism(enc *e, const CK_MECHANISM *mech)
{
	ls_rpc_param_kind kind = LS_RPC_PARAM_NONE;
	CK_RV rv;

	if (e->err != LS_OK)
		return;
	if ((rv = ls_rpc_mechanism_check(mech)) != CKR_OK) {
		enc_bad(e, rv);
		return;
	}
	if (mech->ulParameterLen != 0)
		kind = ls_rpc_mechanism_param_kind(mech->mechanism);
	enc_ulong(e, mech->mechanism);
	enc_u8(e, (uint8_t)kind);
	enc_u32(e, (uint32_t)param_blob_size(kind, mech->pParameter, mech->ulParameterLen));

	switch (kind) {
	case LS_RPC_PARAM_NONE: break;
	case LS_RPC_PARAM_BYTES: enc_raw(e, mech->pParameter, mech->ulParameterLen); break;
	case LS_RPC_PARAM_GCM: {
		CK_GCM_PARAMS p;

		memcpy(&p, mech->pParameter, sizeof(p));
		enc_param_bytes(e, p.pIv, p.ulIvLen, LS_RPC_MAX_PARAM_BYTES);
		enc_ulong(e, p.ulIvBits);
		enc_param_bytes(e, p.pAAD, p.ulAADLen, LS_RPC_MAX_DATA);
		enc_ulong(e, p.ulTagBits);
		break;
	}
	case LS_RPC_PARAM_GOST_DERIVE: {
		CK_GOSTR3410_DERIVE_PARAMS p;

		memcpy(&p, mech->pParameter, sizeof(p));
		enc_ulong(e, p.kdf);
		enc_param_bytes(e, p.pPublicData, p.ulPublicDataLen, LS_RPC_MAX_PARAM_BYTES);
		enc_param_bytes(e, p.pUKM, p.ulUKMLen, LS_RPC_MAX_PARAM_BYTES);
		break;
	}
	case LS_RPC_PARAM_GOST_KEG: {
		CK_VENDOR_GOST_KEG_PARAMS p;

		memcpy(&p, mech->pParameter, sizeof(p));
		enc_param_bytes(e, p.pPublicData, p.ulPublicDataLen, LS_RPC_MAX_PARAM_BYTES);
		enc_param_bytes(e, p.pUKM, p.ulUKMLen, LS_RPC_MAX_PARAM_BYTES);
		break;
	}
	case LS_RPC_PARAM_KDF_TREE: {
		CK_KDF_TREE_GOST_PARAMS p;

		memcpy(&p, mech->pParameter, sizeof(p));
		enc_param_bytes(e, p.pLabel, p.ulLabelLength, LS_RPC_MAX_PARAM_BYTES);
		enc_param_bytes(e, p.pSeed, p.ulSeedLength, LS_RPC_MAX_PARAM_BYTES);
		enc_ulong(e, p.ulR);
		enc_ulong(e, p.ulL);
		enc_ulong(e, p.ulOffset);
		break;
	}
	case LS_RPC_PARAM_GOST_KEY_WRAP: {
		CK_GOSTR3410_KEY_WRAP_PARAMS p;

		memcpy(&p, mech->pParameter, sizeof(p));
		enc_param_bytes(e, p.pWrapOID, p.ulWrapOIDLen, LS_RPC_MAX_PARAM_BYTES);
		enc_param_bytes(e, p.pUKM, p.ulUKMLen, LS_RPC_MAX_PARAM_BYTES);
		enc_ulong(e, p.hKey);
		break;
	}
	}
}

/* Runs @e over @out and undoes a partial write on failure. */
static void
enc_begin(enc *e, ls_buf *out, uint16_t call, bool request, CK_RV rv)
{
	memset(e, 0, sizeof(*e));
	e->b = out;
	e->call = call;
	e->request = request;
	e->rv = rv;
	e->err = LS_OK;
	e->ckr = CKR_OK;
	if (ls_buf_failed(out))
		enc_fail(e, ls_buf_status(out), CKR_GENERAL_ERROR);
}

static void
enc_end(enc *e, size_t start)
{
	if (e->err != LS_OK && !ls_buf_failed(e->b))
		ls_buf_truncate(e->b, start);
}

CK_RV
ls_rpc_mechanism_encode(ls_buf *out, const CK_MECHANISM *mech)
{
	size_t start;
	enc e;

	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	start = ls_buf_len(out);
	enc_begin(&e, out, 0, true, CKR_OK);
	enc_mechanism(&e, mech);
	enc_end(&e, start);
	return e.ckr;
}

/* ---- attributes ------------------------------------------------------------------------------ */

/* Native bytes per wire unit of an attribute value of @kind. */
static size_t
attr_unit(ls_rpc_attr_kind kind)
{
	switch (kind) {
	case LS_RPC_ATTR_ULONG:
	case LS_RPC_ATTR_ULONGS: return sizeof(CK_ULONG);
	case LS_RPC_ATTR_TEMPLATE: return sizeof(CK_ATTRIBUTE);
	case LS_RPC_ATTR_BYTES: break;
	}
	return 1;
}

/* Wire bytes per unit of capacity (what the output budget counts). */
static size_t
attr_wire_unit(ls_rpc_attr_kind kind)
{
	return kind == LS_RPC_ATTR_BYTES ? 1 : 8;
}

static CK_ULONG
read_ulong(const void *p)
{
	CK_ULONG v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Checks the attribute count of one template level; @depth 0 is the top. */
static bool
enc_attr_count(enc *e, const CK_ATTRIBUTE *attrs, CK_ULONG n, int depth, CK_RV bad)
{
	size_t cap = depth == 0 ? LS_RPC_MAX_ATTRS : LS_RPC_MAX_NESTED_ATTRS;

	if (n > 0 && attrs == NULL) {
		enc_bad(e, depth == 0 ? CKR_ARGUMENTS_BAD : bad);
		return false;
	}
	if (n > cap || n > LS_RPC_MAX_ATTRS_TOTAL - e->attrs_total) {
		if (depth == 0)
			enc_fail(e, LS_ERR_TOO_LARGE, limit_rv(e->call));
		else
			enc_bad(e, bad);
		return false;
	}
	e->attrs_total += n;
	return e->err == LS_OK;
}

/* Size of a template value blob of a (non-template) attribute in a nested template. */
static size_t
tmpl_value_size(const CK_ATTRIBUTE *a)
{
	switch (ls_rpc_attribute_kind(a->type)) {
	case LS_RPC_ATTR_ULONG: return 8;
	case LS_RPC_ATTR_ULONGS: return a->ulValueLen / sizeof(CK_ULONG) * 8;
	case LS_RPC_ATTR_BYTES:
	case LS_RPC_ATTR_TEMPLATE: break;
	}
	return a->ulValueLen;
}

static void enc_template(enc *e, const CK_ATTRIBUTE *attrs, CK_ULONG n, int depth);

static void
enc_template_value(enc *e, const CK_ATTRIBUTE *a, int depth)
{
	const CK_RV bad = CKR_ATTRIBUTE_VALUE_INVALID;
	ls_rpc_attr_kind kind = ls_rpc_attribute_kind(a->type);
	CK_ULONG i, n;

	if (a->pValue == NULL && a->ulValueLen > 0) {
		enc_bad(e, bad);
		return;
	}
	switch (kind) {
	case LS_RPC_ATTR_BYTES:
		enc_string(e, a->pValue, a->ulValueLen, LS_RPC_MAX_DATA, limit_rv(e->call));
		break;
	case LS_RPC_ATTR_ULONG:
		if (a->ulValueLen != sizeof(CK_ULONG)) {
			enc_bad(e, bad);
			return;
		}
		enc_u32(e, 8);
		enc_ulong(e, read_ulong(a->pValue));
		break;
	case LS_RPC_ATTR_ULONGS:
		if (a->ulValueLen % sizeof(CK_ULONG) != 0) {
			enc_bad(e, bad);
			return;
		}
		n = a->ulValueLen / sizeof(CK_ULONG);
		if (n > LS_RPC_MAX_ULONGS) {
			enc_fail(e, LS_ERR_TOO_LARGE, limit_rv(e->call));
			return;
		}
		enc_u32(e, (uint32_t)(n * 8));
		for (i = 0; i < n; i++)
			enc_ulong(e, read_ulong((const CK_BYTE *)a->pValue + i * sizeof(CK_ULONG)));
		break;
	case LS_RPC_ATTR_TEMPLATE: {
		const CK_ATTRIBUTE *inner = a->pValue;
		size_t size = 4;

		if (depth > 0 || a->ulValueLen % sizeof(CK_ATTRIBUTE) != 0) {
			enc_bad(e, bad);
			return;
		}
		n = a->ulValueLen / sizeof(CK_ATTRIBUTE);
		for (i = 0; i < n && n <= LS_RPC_MAX_NESTED_ATTRS; i++)
			size += 12 + tmpl_value_size(&inner[i]);
		enc_u32(e, (uint32_t)size);
		enc_template(e, inner, n, depth + 1);
		break;
	}
	}
}

static void
enc_template(enc *e, const CK_ATTRIBUTE *attrs, CK_ULONG n, int depth)
{
	CK_ULONG i;

	if (!enc_attr_count(e, attrs, n, depth, CKR_ATTRIBUTE_VALUE_INVALID))
		return;
	enc_u32(e, (uint32_t)n);
	for (i = 0; i < n && e->err == LS_OK; i++) {
		enc_ulong(e, attrs[i].type);
		enc_template_value(e, &attrs[i], depth);
	}
}

/* C_GetAttributeValue's template as queries, capacities clamped to the output budget. */
static void
enc_query(enc *e, const CK_ATTRIBUTE *attrs, CK_ULONG n, int depth)
{
	CK_ULONG i;

	if (!enc_attr_count(e, attrs, n, depth, CKR_ARGUMENTS_BAD))
		return;
	enc_u32(e, (uint32_t)n);
	for (i = 0; i < n && e->err == LS_OK; i++) {
		const CK_ATTRIBUTE *a = &attrs[i];
		ls_rpc_attr_kind kind = ls_rpc_attribute_kind(a->type);

		enc_ulong(e, a->type);
		if (a->pValue == NULL) {
			enc_u8(e, 0);
		} else if (kind == LS_RPC_ATTR_TEMPLATE) {
			CK_ULONG inner = a->ulValueLen / sizeof(CK_ATTRIBUTE);
			size_t size;

			if (depth > 0) {
				enc_bad(e, CKR_ARGUMENTS_BAD);
				return;
			}
			if (inner > LS_RPC_MAX_NESTED_ATTRS)
				inner = LS_RPC_MAX_NESTED_ATTRS;
			/* Inner items are 9 bytes (length only) or 17 (a capacity). */
			size = 4;
			for (CK_ULONG j = 0; j < inner; j++)
				size += ((const CK_ATTRIBUTE *)a->pValue)[j].pValue == NULL ? 9
				                                                            : 17;
			enc_u8(e, 1);
			enc_u32(e, (uint32_t)size);
			enc_query(e, a->pValue, inner, depth + 1);
		} else {
			size_t wunit = attr_wire_unit(kind);
			CK_ULONG units = a->ulValueLen / attr_unit(kind);
			size_t left = (LS_RPC_MAX_OUTPUT - e->used) / wunit;

			if (units > left)
				units = (CK_ULONG)left;
			e->used += units * wunit;
			enc_u8(e, 1);
			enc_ulong(e, units);
		}
	}
}

/* Wire length units of a result of @kind whose native length is @len (rounded up). */
static CK_ULONG
result_units(ls_rpc_attr_kind kind, CK_ULONG len)
{
	size_t unit = attr_unit(kind);

	return len / unit + (len % unit != 0);
}

/* Wire size of a result inside a nested template (not itself a template), type included. */
static size_t
result_item_size(const CK_ATTRIBUTE *a)
{
	if (a->ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return 9;
	if (a->pValue == NULL)
		return 17;
	return 13 + tmpl_value_size(a);
}

static void
enc_results(enc *e, const CK_ATTRIBUTE *attrs, CK_ULONG n, int depth)
{
	CK_ULONG i;

	if (!enc_attr_count(e, attrs, n, depth, CKR_GENERAL_ERROR))
		return;
	enc_u32(e, (uint32_t)n);
	for (i = 0; i < n && e->err == LS_OK; i++) {
		const CK_ATTRIBUTE *a = &attrs[i];
		ls_rpc_attr_kind kind = ls_rpc_attribute_kind(a->type);
		CK_ULONG units, j;

		enc_ulong(e, a->type);
		if (a->ulValueLen == CK_UNAVAILABLE_INFORMATION) {
			enc_u8(e, 0);
			continue;
		}
		if (a->pValue == NULL) {
			units = result_units(kind, a->ulValueLen);
			if (units > UINT32_MAX) {
				enc_bad(e, CKR_GENERAL_ERROR);
				return;
			}
			enc_u8(e, 1);
			enc_ulong(e, units);
			continue;
		}
		enc_u8(e, 2);
		switch (kind) {
		case LS_RPC_ATTR_BYTES:
			enc_string(e, a->pValue, a->ulValueLen, LS_RPC_MAX_DATA, CKR_GENERAL_ERROR);
			break;
		case LS_RPC_ATTR_ULONG:
			if (a->ulValueLen != sizeof(CK_ULONG)) {
				enc_bad(e, CKR_GENERAL_ERROR);
				return;
			}
			enc_u32(e, 8);
			enc_ulong(e, read_ulong(a->pValue));
			break;
		case LS_RPC_ATTR_ULONGS:
			units = a->ulValueLen / sizeof(CK_ULONG);
			if (a->ulValueLen % sizeof(CK_ULONG) != 0 || units > LS_RPC_MAX_ULONGS) {
				enc_bad(e, CKR_GENERAL_ERROR);
				return;
			}
			enc_u32(e, (uint32_t)(units * 8));
			for (j = 0; j < units; j++)
				enc_ulong(e, read_ulong((const CK_BYTE *)a->pValue +
				                        j * sizeof(CK_ULONG)));
			break;
		case LS_RPC_ATTR_TEMPLATE: {
			const CK_ATTRIBUTE *inner = a->pValue;
			size_t size = 4;

			units = a->ulValueLen / sizeof(CK_ATTRIBUTE);
			if (depth > 0 || a->ulValueLen % sizeof(CK_ATTRIBUTE) != 0) {
				enc_bad(e, CKR_GENERAL_ERROR);
				return;
			}
			for (j = 0; j < units && units <= LS_RPC_MAX_NESTED_ATTRS; j++)
				size += result_item_size(&inner[j]);
			enc_u32(e, (uint32_t)size);
			enc_results(e, inner, units, depth + 1);
			break;
		}
		}
	}
}

/* ---- the other letters ----------------------------------------------------------------------- */

static void
enc_fixed(enc *e, const ls_rpc_value *v, size_t size)
{
	if (v->bytes.ptr == NULL) {
		enc_bad(e, CKR_ARGUMENTS_BAD);
		return;
	}
	if (v->bytes.len != size) {
		enc_bad(e, CKR_GENERAL_ERROR);
		return;
	}
	enc_raw(e, v->bytes.ptr, size);
}

static void
enc_version(enc *e, CK_VERSION v)
{
	enc_u8(e, v.major);
	enc_u8(e, v.minor);
}

static void
enc_token_info(enc *e, const CK_TOKEN_INFO *t)
{
	if (t == NULL) {
		enc_bad(e, CKR_GENERAL_ERROR);
		return;
	}
	enc_raw(e, t->label, sizeof(t->label));
	enc_raw(e, t->manufacturerID, sizeof(t->manufacturerID));
	enc_raw(e, t->model, sizeof(t->model));
	enc_raw(e, t->serialNumber, sizeof(t->serialNumber));
	enc_ulong(e, t->flags);
	enc_ulong(e, t->ulMaxSessionCount);
	enc_ulong(e, t->ulSessionCount);
	enc_ulong(e, t->ulMaxRwSessionCount);
	enc_ulong(e, t->ulRwSessionCount);
	enc_ulong(e, t->ulMaxPinLen);
	enc_ulong(e, t->ulMinPinLen);
	enc_ulong(e, t->ulTotalPublicMemory);
	enc_ulong(e, t->ulFreePublicMemory);
	enc_ulong(e, t->ulTotalPrivateMemory);
	enc_ulong(e, t->ulFreePrivateMemory);
	enc_version(e, t->hardwareVersion);
	enc_version(e, t->firmwareVersion);
	enc_raw(e, t->utcTime, sizeof(t->utcTime));
}

static void
enc_mech_info(enc *e, const CK_MECHANISM_INFO *m)
{
	if (m == NULL) {
		enc_bad(e, CKR_GENERAL_ERROR);
		return;
	}
	enc_ulong(e, m->ulMinKeySize);
	enc_ulong(e, m->ulMaxKeySize);
	enc_ulong(e, m->flags);
}

/* A list's count: @p may be NULL only when empty. */
static bool
enc_count(enc *e, const void *p, CK_ULONG n, size_t cap)
{
	if (n > 0 && p == NULL) {
		enc_bad(e, CKR_ARGUMENTS_BAD);
		return false;
	}
	if (n > cap) {
		enc_fail(e, LS_ERR_TOO_LARGE, limit_rv(e->call));
		return false;
	}
	enc_u32(e, (uint32_t)n);
	return e->err == LS_OK;
}

static void
enc_value(enc *e, const ls_rpc_value *v)
{
	CK_ULONG i;

	switch (v->kind) {
	case 'u':
	case 'h': enc_ulong(e, v->ul); break;
	case 'b': enc_u8(e, v->b != CK_FALSE); break;
	case 'y':
		enc_string(e, v->bytes.ptr, v->bytes.len, LS_RPC_MAX_DATA, limit_rv(e->call));
		break;
	case 'p':
		if (v->bytes.ptr == NULL) {
			enc_u8(e, 0);
			break;
		}
		enc_u8(e, 1);
		enc_string(e, v->bytes.ptr, v->bytes.len, LS_RPC_MAX_PIN,
		           e->call == LS_RPC_C_Login || e->call == LS_RPC_C_LoginUser
		                   ? CKR_PIN_INCORRECT
		                   : CKR_PIN_LEN_RANGE);
		break;
	case 'z':
		if (v->bytes.ptr != NULL && memchr(v->bytes.ptr, '\0', v->bytes.len) != NULL) {
			enc_bad(e, CKR_ARGUMENTS_BAD);
			break;
		}
		enc_string(e, v->bytes.ptr, v->bytes.len, LS_RPC_MAX_TEXT, CKR_ARGUMENTS_BAD);
		break;
	case 'L': enc_fixed(e, v, LS_RPC_LABEL_SIZE); break;
	case 'V': enc_fixed(e, v, sizeof(ls_sespake_verifier)); break;
	case 'K': enc_fixed(e, v, LS_RPC_RESUME_TOKEN_SIZE); break;
	case 'M': enc_mechanism(e, v->mech); break;
	case 'T': enc_template(e, v->attrs.v, v->attrs.n, 0); break;
	case 'A': enc_query(e, v->attrs.v, v->attrs.n, 0); break;
	case 'R': enc_results(e, v->attrs.v, v->attrs.n, 0); break;
	case 'o':
		if (v->out.buf == NULL) {
			enc_u8(e, 0);
		} else {
			CK_ULONG cap = v->out.len;

			if (cap > LS_RPC_MAX_OUTPUT - e->used)
				cap = (CK_ULONG)(LS_RPC_MAX_OUTPUT - e->used);
			e->used += cap;
			enc_u8(e, 1);
			enc_ulong(e, cap);
		}
		break;
	case 'O':
		if (v->output.data != NULL && e->rv == CKR_OK) {
			enc_u8(e, 1);
			enc_string(e, v->output.data, v->output.len, LS_RPC_MAX_OUTPUT,
			           CKR_GENERAL_ERROR);
		} else {
			enc_u8(e, 0);
			enc_ulong(e, v->output.len);
		}
		break;
	case 'U':
		if (enc_count(e, v->ulongs.v, v->ulongs.n, LS_RPC_MAX_ULONGS))
			for (i = 0; i < v->ulongs.n; i++)
				enc_ulong(e, v->ulongs.v[i]);
		break;
	case 'I': enc_token_info(e, v->token_info); break;
	case 'S':
		if (v->session_info == NULL) {
			enc_bad(e, CKR_GENERAL_ERROR);
			break;
		}
		enc_ulong(e, v->session_info->state);
		enc_ulong(e, v->session_info->flags);
		enc_ulong(e, v->session_info->ulDeviceError);
		break;
	case 'N': enc_mech_info(e, v->mech_info); break;
	case 'W':
		if (enc_count(e, v->mechs.v, v->mechs.n, LS_RPC_MAX_MECHANISMS))
			for (i = 0; i < v->mechs.n; i++) {
				enc_ulong(e, v->mechs.v[i].type);
				enc_mech_info(e, &v->mechs.v[i].info);
			}
		break;
	case 'Z': {
		const ls_rpc_account_status *s = v->status;

		if (s == NULL) {
			enc_bad(e, CKR_GENERAL_ERROR);
			break;
		}
		enc_text(e, s->nickname);
		enc_u64(e, s->flags);
		enc_u64(e, s->created);
		enc_u64(e, s->password_changed);
		enc_u64(e, s->last_login);
		enc_text(e, s->last_login_from);
		enc_u64(e, s->failed_logins);
		enc_u64(e, s->connections);
		enc_u64(e, s->log_entries);
		break;
	}
	case 'E':
		if (enc_count(e, v->log.v, v->log.n, LS_RPC_MAX_LOG_ENTRIES))
			for (i = 0; i < v->log.n; i++) {
				enc_u64(e, v->log.v[i].seq);
				enc_u64(e, v->log.v[i].time);
				enc_u64(e, v->log.v[i].event);
				enc_text(e, v->log.v[i].text);
			}
		break;
	default:
		ls_warning("rpc: unknown signature letter '%c'", v->kind);
		enc_bad(e, CKR_GENERAL_ERROR);
		break;
	}
}

/* The items of @args must spell @sig exactly. */
static void
enc_body(enc *e, const char *sig, const ls_rpc_value *args, size_t nargs)
{
	size_t i, n = strlen(sig);

	if (nargs != n || (n > 0 && args == NULL)) {
		ls_warning("rpc: %s: %zu items given for the signature \"%s\"",
		           ls_rpc_call_name(e->call), nargs, sig);
		enc_bad(e, CKR_GENERAL_ERROR);
		return;
	}
	for (i = 0; i < n && e->err == LS_OK; i++) {
		if (args[i].kind != sig[i]) {
			ls_warning("rpc: %s: item %zu is '%c', the signature \"%s\" says '%c'",
			           ls_rpc_call_name(e->call), i, args[i].kind, sig, sig[i]);
			enc_bad(e, CKR_GENERAL_ERROR);
			return;
		}
		enc_value(e, &args[i]);
	}
}

CK_RV
ls_rpc_request_encode(ls_buf *out, uint16_t call, uint64_t request_id, const ls_rpc_value *args,
                      size_t nargs)
{
	const ls_rpc_call *c = ls_rpc_call_find(call);
	size_t start;
	enc e;

	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	if (c == NULL) {
		ls_warning("rpc: request for the unknown call 0x%04x", call);
		return CKR_GENERAL_ERROR;
	}
	start = ls_buf_len(out);
	enc_begin(&e, out, call, true, CKR_OK);
	if (!enc_room(&e, LS_RPC_REQUEST_HEADER_SIZE))
		goto out;
	ls_buf_add_u16(out, call);
	ls_buf_add_u64(out, request_id);
	enc_check_buf(&e);
	enc_body(&e, c->request, args, nargs);
out:
	enc_end(&e, start);
	return e.ckr;
}

int
ls_rpc_response_encode(ls_buf *out, uint16_t call, uint64_t request_id, CK_RV rv,
                       const ls_rpc_value *args, size_t nargs)
{
	const ls_rpc_call *c = ls_rpc_call_find(call);
	size_t start;
	enc e;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	if (c == NULL) {
		ls_warning("rpc: response for the unknown call 0x%04x", call);
		return LS_ERR_INVALID_ARG;
	}
	start = ls_buf_len(out);
	enc_begin(&e, out, call, false, rv);
	enc_u64(&e, request_id);
	enc_ulong(&e, rv);
	if (ls_rpc_response_has_body(c, rv))
		enc_body(&e, c->response, args, nargs);
	enc_end(&e, start);
	return e.err;
}

int
ls_rpc_response_encode_error(ls_buf *out, uint64_t request_id, CK_RV rv)
{
	size_t start;
	enc e;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	start = ls_buf_len(out);
	enc_begin(&e, out, 0, false, rv);
	enc_u64(&e, request_id);
	enc_ulong(&e, rv);
	enc_end(&e, start);
	return e.err;
}

/* ---------------------------------------------------------------------------------------------
 * Decoding
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	arena *mem;
	CK_RV rv;           /* a response's CK_RV */
	CK_RV refusal;      /* a well-formed request we answer with an error */
	size_t attrs_total; /* attributes decoded, nested included */
	size_t used;        /* output capacity allocated (requests) */
} dec;

#define TRY(expr)                                                                                  \
	do {                                                                                       \
		int try_r_ = (expr);                                                               \
		if (try_r_ != LS_OK)                                                               \
			return try_r_;                                                             \
	} while (0)

static int
dec_alloc(dec *d, size_t n, void *out)
{
	void *p = arena_alloc(d->mem, n);

	if (p == NULL)
		return d->mem->err != LS_OK ? d->mem->err : LS_ERR_NOMEM;
	memcpy(out, &p, sizeof(p));
	return LS_OK;
}

/* A copy of @n bytes at @src in the arena (a non-NULL pointer also for @n 0). */
static int
dec_copy(dec *d, const uint8_t *src, size_t n, void *out)
{
	uint8_t *p;

	TRY(dec_alloc(d, n, &p));
	if (n > 0)
		memcpy(p, src, n);
	memcpy(out, &p, sizeof(p));
	return LS_OK;
}

static int
dec_ulong(ls_buf *in, CK_ULONG *v)
{
	uint64_t w;

	*v = 0;
	TRY(ls_buf_get_u64(in, &w));
	return ulong_from_wire(w, v);
}

static int
dec_u8_flag(ls_buf *in, uint8_t max, uint8_t *v)
{
	TRY(ls_buf_get_u8(in, v));
	return *v <= max ? LS_OK : LS_ERR_MALFORMED;
}

/* A byte string copied into the arena; *@p NULL iff empty unless @keep_empty. */
static int
dec_string(dec *d, ls_buf *in, size_t cap, bool keep_empty, const CK_BYTE **p, CK_ULONG *len)
{
	const uint8_t *src;
	size_t n;

	*p = NULL;
	*len = 0;
	TRY(ls_buf_get_string(in, cap, &src, &n));
	if (n > 0 || keep_empty)
		TRY(dec_copy(d, src, n, p));
	*len = (CK_ULONG)n;
	return LS_OK;
}

/* Text: no NUL inside; NUL-terminated in the arena. */
static int
dec_text(dec *d, ls_buf *in, const char **s, size_t *len)
{
	const uint8_t *src;
	size_t n;
	char *p;

	*s = NULL;
	TRY(ls_buf_get_string(in, LS_RPC_MAX_TEXT, &src, &n));
	if (n > 0 && memchr(src, '\0', n) != NULL)
		return LS_ERR_MALFORMED;
	TRY(dec_alloc(d, n + 1, &p));
	if (n > 0)
		memcpy(p, src, n);
	p[n] = '\0';
	*s = p;
	if (len != NULL)
		*len = n;
	return LS_OK;
}

/* A u32 count of items at least @item_size bytes each, with its cap, checked before any
 * allocation: over the cap LS_ERR_TOO_LARGE, more than the bytes left LS_ERR_TRUNCATED. */
static int
dec_count(ls_buf *in, size_t cap, size_t item_size, uint32_t *n)
{
	TRY(ls_buf_get_u32(in, n));
	if (*n > cap)
		return LS_ERR_TOO_LARGE;
	if ((size_t)*n * item_size > ls_buf_remaining(in))
		return LS_ERR_TRUNCATED;
	return LS_OK;
}

/* ---- mechanisms ---------------------------------------------------------------------------- */

static int
dec_param_bytes(dec *d, ls_buf *in, size_t cap, CK_BYTE_PTR *p, CK_ULONG *len)
{
	const CK_BYTE *q;

	TRY(dec_string(d, in, cap, false, &q, len));
	*p = (CK_BYTE_PTR)q;
	return LS_OK;
}

static int
dec_param(dec *d, ls_buf *sub, ls_rpc_param_kind kind, CK_MECHANISM *m)
{
	switch (kind) {
	case LS_RPC_PARAM_NONE: return ls_buf_expect_end(sub) == LS_OK ? LS_OK : LS_ERR_MALFORMED;
	case LS_RPC_PARAM_BYTES: {
		size_t n = ls_buf_remaining(sub);

		if (n == 0)
			return LS_ERR_MALFORMED; /* that is NONE */
		if (n > LS_RPC_MAX_PARAM_BYTES)
			return LS_ERR_TOO_LARGE;
		TRY(dec_copy(d, ls_buf_cursor(sub), n, &m->pParameter));
		TRY(ls_buf_skip(sub, n));
		m->ulParameterLen = (CK_ULONG)n;
		return LS_OK;
	}
	case LS_RPC_PARAM_GCM: {
		CK_GCM_PARAMS *p;

		TRY(dec_alloc(d, sizeof(*p), &p));
		TRY(dec_param_bytes(d, sub, LS_RPC_MAX_PARAM_BYTES, &p->pIv, &p->ulIvLen));
		TRY(dec_ulong(sub, &p->ulIvBits));
		TRY(dec_param_bytes(d, sub, LS_RPC_MAX_DATA, &p->pAAD, &p->ulAADLen));
		TRY(dec_ulong(sub, &p->ulTagBits));
		m->pParameter = p;
		m->ulParameterLen = sizeof(*p);
		break;
	}
	case LS_RPC_PARAM_GOST_DERIVE: {
		CK_GOSTR3410_DERIVE_PARAMS *p;

		TRY(dec_alloc(d, sizeof(*p), &p));
		TRY(dec_ulong(sub, &p->kdf));
		TRY(dec_param_bytes(d, sub, LS_RPC_MAX_PARAM_BYTES, &p->pPublicData,
		                    &p->ulPublicDataLen));
		TRY(dec_param_bytes(d, sub, LS_RPC_MAX_PARAM_BYTES, &p->pUKM, &p->ulUKMLen));
		m->pParameter = p;
		m->ulParameterLen = sizeof(*p);
		break;
	}
	case LS_RPC_PARAM_GOST_KEG: {
		CK_VENDOR_GOST_KEG_PARAMS *p;

		TRY(dec_alloc(d, sizeof(*p), &p));
		TRY(dec_param_bytes(d, sub, LS_RPC_MAX_PARAM_BYTES, &p->pPublicData,
		                    &p->ulPublicDataLen));
		TRY(dec_param_bytes(d, sub, LS_RPC_MAX_PARAM_BYTES, &p->pUKM, &p->ulUKMLen));
		m->pParameter = p;
		m->ulParameterLen = sizeof(*p);
		break;
	}
	case LS_RPC_PARAM_KDF_TREE: {
		CK_KDF_TREE_GOST_PARAMS *p;

		TRY(dec_alloc(d, sizeof(*p), &p));
		TRY(dec_param_bytes(d, sub, LS_RPC_MAX_PARAM_BYTES, &p->pLabel, &p->ulLabelLength));
		TRY(dec_param_bytes(d, sub, LS_RPC_MAX_PARAM_BYTES, &p->pSeed, &p->ulSeedLength));
		TRY(dec_ulong(sub, &p->ulR));
		TRY(dec_ulong(sub, &p->ulL));
		TRY(dec_ulong(sub, &p->ulOffset));
		m->pParameter = p;
		m->ulParameterLen = sizeof(*p);
		break;
	}
	case LS_RPC_PARAM_GOST_KEY_WRAP: {
		CK_GOSTR3410_KEY_WRAP_PARAMS *p;

		TRY(dec_alloc(d, sizeof(*p), &p));
		TRY(dec_param_bytes(d, sub, LS_RPC_MAX_PARAM_BYTES, &p->pWrapOID,
		                    &p->ulWrapOIDLen));
		TRY(dec_param_bytes(d, sub, LS_RPC_MAX_PARAM_BYTES, &p->pUKM, &p->ulUKMLen));
		TRY(dec_ulong(sub, &p->hKey));
		m->pParameter = p;
		m->ulParameterLen = sizeof(*p);
		break;
	}
	}
	return ls_buf_expect_end(sub);
}

static int
dec_mechanism(dec *d, ls_buf *in, CK_MECHANISM **out)
{
	CK_MECHANISM *m;
	uint8_t kind;
	ls_buf sub;

	*out = NULL;
	TRY(dec_alloc(d, sizeof(*m), &m));
	TRY(dec_ulong(in, &m->mechanism));
	TRY(ls_buf_get_u8(in, &kind));
	TRY(ls_buf_get_sub(in, LS_RPC_MAX_DATA, &sub));
	if (kind > LS_RPC_PARAM_KIND_MAX)
		return LS_ERR_MALFORMED;
	*out = m;
	if (kind != LS_RPC_PARAM_NONE && kind != ls_rpc_mechanism_param_kind(m->mechanism)) {
		/* Well-formed, but not what the table gives this mechanism: refuse it politely. */
		ls_debug("rpc: mechanism 0x%lx with a %s parameter refused",
		         (unsigned long)m->mechanism, ls_rpc_param_kind_name(kind));
		if (d->refusal == CKR_OK)
			d->refusal = CKR_MECHANISM_PARAM_INVALID;
		return LS_OK;
	}
	return dec_param(d, &sub, (ls_rpc_param_kind)kind, m);
}

/* ---- attributes ------------------------------------------------------------------------------ */

static int
dec_attr_count(dec *d, ls_buf *in, int depth, size_t item_size, uint32_t *n)
{
	TRY(dec_count(in, depth == 0 ? LS_RPC_MAX_ATTRS : LS_RPC_MAX_NESTED_ATTRS, item_size, n));
	if (*n > LS_RPC_MAX_ATTRS_TOTAL - d->attrs_total)
		return LS_ERR_TOO_LARGE;
	d->attrs_total += *n;
	return LS_OK;
}

/* @n u64s of @sub into CK_ULONGs (*@out NULL for none unless @keep_empty). */
static int
dec_ulong_array(dec *d, ls_buf *sub, size_t n, bool keep_empty, CK_ULONG **out)
{
	CK_ULONG *v = NULL;
	size_t i;

	*out = NULL;
	if (n > 0 || keep_empty)
		TRY(dec_alloc(d, n * sizeof(*v), &v));
	for (i = 0; i < n; i++)
		TRY(dec_ulong(sub, &v[i]));
	*out = v;
	return LS_OK;
}

static int dec_template(dec *d, ls_buf *in, int depth, CK_ATTRIBUTE **out, CK_ULONG *n);

/* A template value blob of @a's kind (@keep_empty: a non-NULL pointer also when empty). */
static int
dec_value_blob(dec *d, ls_buf *sub, bool keep_empty, CK_ATTRIBUTE *a)
{
	size_t n = ls_buf_remaining(sub);
	CK_ULONG *v;

	switch (ls_rpc_attribute_kind(a->type)) {
	case LS_RPC_ATTR_BYTES:
		if (n > 0 || keep_empty)
			TRY(dec_copy(d, ls_buf_cursor(sub), n, &a->pValue));
		TRY(ls_buf_skip(sub, n));
		a->ulValueLen = (CK_ULONG)n;
		break;
	case LS_RPC_ATTR_ULONG:
		if (n != 8)
			return LS_ERR_MALFORMED;
		TRY(dec_ulong_array(d, sub, 1, true, &v));
		a->pValue = v;
		a->ulValueLen = sizeof(CK_ULONG);
		break;
	case LS_RPC_ATTR_ULONGS:
		if (n % 8 != 0)
			return LS_ERR_MALFORMED;
		if (n / 8 > LS_RPC_MAX_ULONGS)
			return LS_ERR_TOO_LARGE;
		TRY(dec_ulong_array(d, sub, n / 8, keep_empty, &v));
		a->pValue = v;
		a->ulValueLen = (CK_ULONG)(n / 8 * sizeof(CK_ULONG));
		break;
	case LS_RPC_ATTR_TEMPLATE: return LS_ERR_INTERNAL; /* the callers handle templates */
	}
	return ls_buf_expect_end(sub);
}

static int
dec_template(dec *d, ls_buf *in, int depth, CK_ATTRIBUTE **out, CK_ULONG *out_n)
{
	CK_ATTRIBUTE *attrs = NULL;
	uint32_t n, i;

	*out = NULL;
	*out_n = 0;
	TRY(dec_attr_count(d, in, depth, 12, &n));
	if (n > 0)
		TRY(dec_alloc(d, n * sizeof(*attrs), &attrs));
	for (i = 0; i < n; i++) {
		CK_ATTRIBUTE *a = &attrs[i];
		ls_buf sub;

		TRY(dec_ulong(in, &a->type));
		TRY(ls_buf_get_sub(in, LS_RPC_MAX_DATA, &sub));
		if (ls_rpc_attribute_kind(a->type) == LS_RPC_ATTR_TEMPLATE) {
			CK_ATTRIBUTE *inner;
			CK_ULONG inner_n;

			if (depth > 0)
				return LS_ERR_MALFORMED; /* nested deeper than one level */
			TRY(dec_template(d, &sub, depth + 1, &inner, &inner_n));
			TRY(ls_buf_expect_end(&sub));
			a->pValue = inner;
			a->ulValueLen = inner_n * sizeof(CK_ATTRIBUTE);
		} else {
			TRY(dec_value_blob(d, &sub, false, a));
		}
	}
	*out = attrs;
	*out_n = n;
	return LS_OK;
}

/* C_GetAttributeValue's queries, with the buffers of the requested capacities. */
static int
dec_query(dec *d, ls_buf *in, int depth, CK_ATTRIBUTE **out, CK_ULONG *out_n)
{
	CK_ATTRIBUTE *attrs = NULL;
	uint32_t n, i;

	*out = NULL;
	*out_n = 0;
	TRY(dec_attr_count(d, in, depth, 9, &n));
	if (n > 0)
		TRY(dec_alloc(d, n * sizeof(*attrs), &attrs));
	for (i = 0; i < n; i++) {
		CK_ATTRIBUTE *a = &attrs[i];
		ls_rpc_attr_kind kind;
		uint8_t mode;

		TRY(dec_ulong(in, &a->type));
		TRY(dec_u8_flag(in, 1, &mode));
		if (mode == 0)
			continue;
		kind = ls_rpc_attribute_kind(a->type);
		if (kind == LS_RPC_ATTR_TEMPLATE) {
			CK_ATTRIBUTE *inner;
			CK_ULONG inner_n;
			ls_buf sub;

			if (depth > 0)
				return LS_ERR_MALFORMED;
			TRY(ls_buf_get_sub(in, LS_RPC_MAX_DATA, &sub));
			TRY(dec_query(d, &sub, depth + 1, &inner, &inner_n));
			TRY(ls_buf_expect_end(&sub));
			if (inner == NULL)
				TRY(dec_alloc(d, 0, &inner));
			a->pValue = inner;
			a->ulValueLen = inner_n * sizeof(CK_ATTRIBUTE);
		} else {
			size_t wunit = attr_wire_unit(kind);
			CK_ULONG units;

			TRY(dec_ulong(in, &units));
			if (units > (LS_RPC_MAX_OUTPUT - d->used) / wunit)
				return LS_ERR_TOO_LARGE;
			d->used += units * wunit;
			TRY(dec_alloc(d, units * attr_unit(kind), &a->pValue));
			a->ulValueLen = (CK_ULONG)(units * attr_unit(kind));
		}
	}
	*out = attrs;
	*out_n = n;
	return LS_OK;
}

/* C_GetAttributeValue's results: unavailable, a length, or a value. */
static int
dec_results(dec *d, ls_buf *in, int depth, CK_ATTRIBUTE **out, CK_ULONG *out_n)
{
	CK_ATTRIBUTE *attrs = NULL;
	uint32_t n, i;

	*out = NULL;
	*out_n = 0;
	TRY(dec_attr_count(d, in, depth, 9, &n));
	if (n > 0)
		TRY(dec_alloc(d, n * sizeof(*attrs), &attrs));
	for (i = 0; i < n; i++) {
		CK_ATTRIBUTE *a = &attrs[i];
		ls_rpc_attr_kind kind;
		CK_ULONG units;
		uint8_t state;
		ls_buf sub;

		TRY(dec_ulong(in, &a->type));
		TRY(dec_u8_flag(in, 2, &state));
		kind = ls_rpc_attribute_kind(a->type);
		if (state == 0) {
			a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			continue;
		}
		if (state == 1) {
			TRY(dec_ulong(in, &units));
			/* Keeps the product below CK_UNAVAILABLE_INFORMATION on every platform. */
			if (units > UINT32_MAX || units > ((CK_ULONG)-2) / attr_unit(kind))
				return LS_ERR_TOO_LARGE;
			a->ulValueLen = units * attr_unit(kind);
			continue;
		}
		TRY(ls_buf_get_sub(in, LS_RPC_MAX_DATA, &sub));
		if (kind == LS_RPC_ATTR_TEMPLATE) {
			CK_ATTRIBUTE *inner;
			CK_ULONG inner_n;

			if (depth > 0)
				return LS_ERR_MALFORMED;
			TRY(dec_results(d, &sub, depth + 1, &inner, &inner_n));
			TRY(ls_buf_expect_end(&sub));
			if (inner == NULL)
				TRY(dec_alloc(d, 0, &inner));
			a->pValue = inner;
			a->ulValueLen = inner_n * sizeof(CK_ATTRIBUTE);
		} else {
			TRY(dec_value_blob(d, &sub, true, a));
		}
	}
	*out = attrs;
	*out_n = n;
	return LS_OK;
}

/* ---- the other letters ----------------------------------------------------------------------- */

static int
dec_fixed(dec *d, ls_buf *in, size_t size, ls_rpc_value *v)
{
	const uint8_t *p;

	TRY(ls_buf_get_ptr(in, size, &p));
	TRY(dec_copy(d, p, size, &v->bytes.ptr));
	v->bytes.len = (CK_ULONG)size;
	return LS_OK;
}

static int
dec_version(ls_buf *in, CK_VERSION *v)
{
	TRY(ls_buf_get_u8(in, &v->major));
	return ls_buf_get_u8(in, &v->minor);
}

static int
dec_token_info(dec *d, ls_buf *in, CK_TOKEN_INFO **out)
{
	CK_TOKEN_INFO *t;

	TRY(dec_alloc(d, sizeof(*t), &t));
	TRY(ls_buf_get_bytes(in, t->label, sizeof(t->label)));
	TRY(ls_buf_get_bytes(in, t->manufacturerID, sizeof(t->manufacturerID)));
	TRY(ls_buf_get_bytes(in, t->model, sizeof(t->model)));
	TRY(ls_buf_get_bytes(in, t->serialNumber, sizeof(t->serialNumber)));
	TRY(dec_ulong(in, &t->flags));
	TRY(dec_ulong(in, &t->ulMaxSessionCount));
	TRY(dec_ulong(in, &t->ulSessionCount));
	TRY(dec_ulong(in, &t->ulMaxRwSessionCount));
	TRY(dec_ulong(in, &t->ulRwSessionCount));
	TRY(dec_ulong(in, &t->ulMaxPinLen));
	TRY(dec_ulong(in, &t->ulMinPinLen));
	TRY(dec_ulong(in, &t->ulTotalPublicMemory));
	TRY(dec_ulong(in, &t->ulFreePublicMemory));
	TRY(dec_ulong(in, &t->ulTotalPrivateMemory));
	TRY(dec_ulong(in, &t->ulFreePrivateMemory));
	TRY(dec_version(in, &t->hardwareVersion));
	TRY(dec_version(in, &t->firmwareVersion));
	TRY(ls_buf_get_bytes(in, t->utcTime, sizeof(t->utcTime)));
	*out = t;
	return LS_OK;
}

static int
dec_mech_info(ls_buf *in, CK_MECHANISM_INFO *m)
{
	TRY(dec_ulong(in, &m->ulMinKeySize));
	TRY(dec_ulong(in, &m->ulMaxKeySize));
	return dec_ulong(in, &m->flags);
}

static int
dec_value(dec *d, ls_buf *in, char kind, ls_rpc_value *v)
{
	uint32_t n, i;
	uint8_t flag;

	memset(v, 0, sizeof(*v));
	v->kind = kind;
	switch (kind) {
	case 'u':
	case 'h': return dec_ulong(in, &v->ul);
	case 'b':
		TRY(dec_u8_flag(in, 1, &flag));
		v->b = flag;
		return LS_OK;
	case 'y': return dec_string(d, in, LS_RPC_MAX_DATA, false, &v->bytes.ptr, &v->bytes.len);
	case 'p':
		TRY(dec_u8_flag(in, 1, &flag));
		if (flag == 0)
			return LS_OK;
		return dec_string(d, in, LS_RPC_MAX_PIN, true, &v->bytes.ptr, &v->bytes.len);
	case 'z': {
		const char *s;
		size_t len;

		TRY(dec_text(d, in, &s, &len));
		v->bytes.ptr = (const CK_BYTE *)s;
		v->bytes.len = (CK_ULONG)len;
		return LS_OK;
	}
	case 'L': return dec_fixed(d, in, LS_RPC_LABEL_SIZE, v);
	case 'V': return dec_fixed(d, in, sizeof(ls_sespake_verifier), v);
	case 'K': return dec_fixed(d, in, LS_RPC_RESUME_TOKEN_SIZE, v);
	case 'M': return dec_mechanism(d, in, &v->mech);
	case 'T': return dec_template(d, in, 0, &v->attrs.v, &v->attrs.n);
	case 'A': return dec_query(d, in, 0, &v->attrs.v, &v->attrs.n);
	case 'R': return dec_results(d, in, 0, &v->attrs.v, &v->attrs.n);
	case 'o': {
		CK_ULONG cap;

		TRY(dec_u8_flag(in, 1, &flag));
		if (flag == 0)
			return LS_OK;
		TRY(dec_ulong(in, &cap));
		if (cap > LS_RPC_MAX_OUTPUT - d->used)
			return LS_ERR_TOO_LARGE;
		d->used += cap;
		TRY(dec_alloc(d, cap, &v->out.buf));
		v->out.len = cap;
		return LS_OK;
	}
	case 'O':
		TRY(dec_u8_flag(in, 1, &flag));
		if (flag == 0)
			return dec_ulong(in, &v->output.len);
		if (d->rv != CKR_OK)
			return LS_ERR_MALFORMED; /* data comes only with CKR_OK */
		return dec_string(d, in, LS_RPC_MAX_OUTPUT, true, &v->output.data, &v->output.len);
	case 'U':
		TRY(dec_count(in, LS_RPC_MAX_ULONGS, 8, &n));
		v->ulongs.n = n;
		return dec_ulong_array(d, in, n, false, &v->ulongs.v);
	case 'I': return dec_token_info(d, in, &v->token_info);
	case 'S':
		TRY(dec_alloc(d, sizeof(CK_SESSION_INFO), &v->session_info));
		TRY(dec_ulong(in, &v->session_info->state));
		TRY(dec_ulong(in, &v->session_info->flags));
		return dec_ulong(in, &v->session_info->ulDeviceError);
	case 'N':
		TRY(dec_alloc(d, sizeof(CK_MECHANISM_INFO), &v->mech_info));
		return dec_mech_info(in, v->mech_info);
	case 'W':
		TRY(dec_count(in, LS_RPC_MAX_MECHANISMS, 32, &n));
		if (n > 0)
			TRY(dec_alloc(d, n * sizeof(ls_rpc_mech_entry), &v->mechs.v));
		for (i = 0; i < n; i++) {
			TRY(dec_ulong(in, &v->mechs.v[i].type));
			TRY(dec_mech_info(in, &v->mechs.v[i].info));
		}
		v->mechs.n = n;
		return LS_OK;
	case 'Z': {
		ls_rpc_account_status *s;

		TRY(dec_alloc(d, sizeof(*s), &s));
		TRY(dec_text(d, in, &s->nickname, NULL));
		TRY(ls_buf_get_u64(in, &s->flags));
		TRY(ls_buf_get_u64(in, &s->created));
		TRY(ls_buf_get_u64(in, &s->password_changed));
		TRY(ls_buf_get_u64(in, &s->last_login));
		TRY(dec_text(d, in, &s->last_login_from, NULL));
		TRY(ls_buf_get_u64(in, &s->failed_logins));
		TRY(ls_buf_get_u64(in, &s->connections));
		TRY(ls_buf_get_u64(in, &s->log_entries));
		v->status = s;
		return LS_OK;
	}
	case 'E':
		TRY(dec_count(in, LS_RPC_MAX_LOG_ENTRIES, 28, &n));
		if (n > 0)
			TRY(dec_alloc(d, n * sizeof(ls_rpc_log_entry), &v->log.v));
		for (i = 0; i < n; i++) {
			ls_rpc_log_entry *le = &v->log.v[i];

			TRY(ls_buf_get_u64(in, &le->seq));
			TRY(ls_buf_get_u64(in, &le->time));
			TRY(ls_buf_get_u64(in, &le->event));
			TRY(dec_text(d, in, &le->text, NULL));
		}
		v->log.n = n;
		return LS_OK;
	}
	ls_warning("rpc: unknown signature letter '%c'", kind);
	return LS_ERR_INTERNAL;
}

static int
dec_body(dec *d, ls_buf *in, const char *sig, ls_rpc_msg *msg)
{
	size_t i;

	for (i = 0; sig[i] != '\0'; i++) {
		if (i >= LS_RPC_MAX_ARGS)
			return LS_ERR_INTERNAL;
		TRY(dec_value(d, in, sig[i], &msg->args[i]));
		msg->nargs = i + 1;
	}
	return ls_buf_expect_end(in);
}

static void
dec_begin(dec *d, ls_rpc_msg *msg, CK_RV rv)
{
	memset(d, 0, sizeof(*d));
	d->mem = &msg->mem;
	d->rv = rv;
	d->refusal = CKR_OK;
}

int
ls_rpc_request_decode(ls_buf *in, ls_rpc_msg **out)
{
	ls_rpc_msg *msg = NULL;
	uint64_t request_id;
	uint16_t call;
	dec d;
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	ls_return_val_if_fail(in != NULL, LS_ERR_INVALID_ARG);
	if (ls_buf_remaining(in) < LS_RPC_REQUEST_HEADER_SIZE)
		return LS_ERR_TRUNCATED;
	if ((r = ls_buf_get_u16(in, &call)) != LS_OK ||
	    (r = ls_buf_get_u64(in, &request_id)) != LS_OK)
		return r;
	if ((msg = msg_new()) == NULL)
		return LS_ERR_NOMEM;
	msg->call_id = call;
	msg->request_id = request_id;
	msg->call = ls_rpc_call_find(call);
	if (msg->call == NULL) {
		/* A newer client's call: answer it, never parse its body. */
		ls_debug("rpc: request %llu: unknown call 0x%04x", (unsigned long long)request_id,
		         call);
		(void)ls_buf_skip(in, ls_buf_remaining(in));
		msg->rv = CKR_FUNCTION_NOT_SUPPORTED;
		r = LS_ERR_UNSUPPORTED;
		goto out;
	}
	dec_begin(&d, msg, CKR_OK);
	if ((r = dec_body(&d, in, msg->call->request, msg)) != LS_OK)
		goto out;
	if (d.refusal != CKR_OK) {
		msg->rv = d.refusal;
		msg->nargs = 0;
		r = LS_ERR_UNSUPPORTED;
	}
out:
	if (r != LS_OK && r != LS_ERR_UNSUPPORTED) {
		ls_debug("rpc: request %llu (%s) refused: %s", (unsigned long long)request_id,
		         ls_rpc_call_name(call), ls_strerror(r));
		ls_rpc_msg_free(msg);
		return r;
	}
	*out = msg;
	return r;
}

int
ls_rpc_response_peek(const ls_buf *in, uint64_t *request_id)
{
	const uint8_t *p;
	int i;

	ls_return_val_if_fail(request_id != NULL, LS_ERR_INVALID_ARG);
	*request_id = 0;
	ls_return_val_if_fail(in != NULL, LS_ERR_INVALID_ARG);
	if (ls_buf_remaining(in) < LS_RPC_RESPONSE_HEADER_SIZE)
		return LS_ERR_TRUNCATED;
	p = ls_buf_cursor(in);
	for (i = 0; i < 8; i++)
		*request_id = *request_id << 8 | p[i];
	return LS_OK;
}

int
ls_rpc_response_decode(ls_buf *in, uint16_t call, ls_rpc_msg **out)
{
	const ls_rpc_call *c = ls_rpc_call_find(call);
	ls_rpc_msg *msg = NULL;
	uint64_t request_id;
	CK_RV rv;
	dec d;
	int r;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	ls_return_val_if_fail(in != NULL, LS_ERR_INVALID_ARG);
	if (c == NULL) {
		ls_warning("rpc: decoding a response to the unknown call 0x%04x", call);
		return LS_ERR_INVALID_ARG;
	}
	if (ls_buf_remaining(in) < LS_RPC_RESPONSE_HEADER_SIZE)
		return LS_ERR_TRUNCATED;
	if ((r = ls_buf_get_u64(in, &request_id)) != LS_OK || (r = dec_ulong(in, &rv)) != LS_OK)
		return r;
	if ((msg = msg_new()) == NULL)
		return LS_ERR_NOMEM;
	msg->call_id = call;
	msg->call = c;
	msg->request_id = request_id;
	msg->rv = rv;
	dec_begin(&d, msg, rv);
	if (ls_rpc_response_has_body(c, rv))
		r = dec_body(&d, in, c->response, msg);
	else
		r = ls_buf_expect_end(in);
	if (r != LS_OK) {
		ls_debug("rpc: response %llu (%s) refused: %s", (unsigned long long)request_id,
		         c->name, ls_strerror(r));
		ls_rpc_msg_free(msg);
		return r;
	}
	*out = msg;
	return LS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Client helpers
 * ------------------------------------------------------------------------------------------- */

static CK_RV
contract_broken(const char *what)
{
	ls_warning("rpc: the server broke the protocol: %s", what);
	return CKR_DEVICE_ERROR;
}

CK_RV
ls_rpc_output_deliver(const ls_rpc_value *output, CK_RV rv, CK_BYTE *buf, CK_ULONG *buf_len)
{
	ls_return_val_if_fail(buf_len != NULL, CKR_ARGUMENTS_BAD);
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		return rv;
	if (output == NULL || output->kind != 'O')
		return contract_broken("no output item");
	if (rv == CKR_BUFFER_TOO_SMALL) {
		if (buf == NULL)
			return contract_broken("CKR_BUFFER_TOO_SMALL for a length query");
		*buf_len = output->output.len;
		return rv;
	}
	if (output->output.data == NULL) {
		if (buf != NULL)
			return contract_broken("a length where the output was expected");
		*buf_len = output->output.len;
		return CKR_OK;
	}
	if (buf == NULL)
		return contract_broken("output for a length query");
	if (output->output.len > *buf_len)
		return contract_broken("more output than the buffer offered");
	if (output->output.len > 0)
		memcpy(buf, output->output.data, output->output.len);
	*buf_len = output->output.len;
	return CKR_OK;
}

/* One result into the application's attribute @dst (asked with @dst's pValue/ulValueLen). */
static CK_RV
deliver_attr(const CK_ATTRIBUTE *res, CK_ATTRIBUTE *dst, int depth)
{
	ls_rpc_attr_kind kind = ls_rpc_attribute_kind(res->type);
	CK_ULONG i, n;

	if (res->ulValueLen == CK_UNAVAILABLE_INFORMATION) {
		dst->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		return CKR_OK;
	}
	if (res->pValue == NULL) {
		if (dst->pValue != NULL)
			return contract_broken("a length where a value was asked for");
		dst->ulValueLen = res->ulValueLen;
		return CKR_OK;
	}
	if (dst->pValue == NULL)
		return contract_broken("a value where a length was asked for");
	if (kind != LS_RPC_ATTR_TEMPLATE) {
		if (res->ulValueLen > dst->ulValueLen)
			return contract_broken("an attribute value larger than the buffer");
		if (res->ulValueLen > 0)
			memcpy(dst->pValue, res->pValue, res->ulValueLen);
		dst->ulValueLen = res->ulValueLen;
		return CKR_OK;
	}
	n = res->ulValueLen / sizeof(CK_ATTRIBUTE);
	if (depth > 0 || res->ulValueLen > dst->ulValueLen)
		return contract_broken("a nested template larger than the array offered");
	for (i = 0; i < n; i++) {
		const CK_ATTRIBUTE *ir = &((const CK_ATTRIBUTE *)res->pValue)[i];
		CK_ATTRIBUTE *id = &((CK_ATTRIBUTE *)dst->pValue)[i];
		CK_RV rv;

		id->type = ir->type;
		if ((rv = deliver_attr(ir, id, depth + 1)) != CKR_OK)
			return rv;
	}
	dst->ulValueLen = n * sizeof(CK_ATTRIBUTE);
	return CKR_OK;
}

CK_RV
ls_rpc_attrs_deliver(const ls_rpc_value *results, CK_RV rv, CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	CK_ULONG i;

	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_SENSITIVE && rv != CKR_ATTRIBUTE_TYPE_INVALID &&
	    rv != CKR_BUFFER_TOO_SMALL)
		return rv;
	ls_return_val_if_fail(tmpl != NULL || count == 0, CKR_ARGUMENTS_BAD);
	if (results == NULL || results->kind != 'R')
		return contract_broken("no attribute results");
	if (results->attrs.n != count)
		return contract_broken("a different number of attributes than asked for");
	for (i = 0; i < count; i++) {
		CK_RV r;

		if (results->attrs.v[i].type != tmpl[i].type)
			return contract_broken("attribute results out of order");
		if ((r = deliver_attr(&results->attrs.v[i], &tmpl[i], 0)) != CKR_OK)
			return r;
	}
	return rv;
}
