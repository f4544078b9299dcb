/*
 * LS11CLOUD - the RPC layer: one message table and the codec checked against it
 * (ARCHITECTURE.md section 4 item 6 and section 5; docs/protocol-rpc.md has the bytes).
 *
 * Every RPC message is the plaintext of one channel data record:
 *
 *   request  = call id (u16) | request id (u64) | body (the call's request signature)
 *   response = request id (u64) | CK_RV (u64)   | body (the call's response signature)
 *
 * The client picks request ids (requests may be pipelined; a response names its request).  The
 * layout of every body is a signature string in the one table below, LS_RPC_CALLS: one letter
 * per item (see "Signature letters").  The encoders and decoders walk that string, so a call
 * cannot be encoded one way and decoded another, and a value of the wrong kind is refused.
 *
 * Versioning (LS_RPC_VERSION, negotiated in the hello): the encoding of a released version
 * never changes - not the table, not the letters, not the attribute-kind or parameter-kind
 * tables.  New calls get new ids; an id the server does not know is answered with
 * CKR_FUNCTION_NOT_SUPPORTED and the connection carries on.  Anything else the decoders
 * refuse is a protocol violation: the receiver closes the connection, and since a request is
 * decoded completely before it is dispatched, a refused request changes no state.
 *
 * Errors: request encoding is the client checking the application's arguments, so it returns
 * the CK_RV the module hands back to the application (CKR_MECHANISM_PARAM_INVALID for a
 * mechanism parameter the protocol does not model, CKR_ATTRIBUTE_VALUE_INVALID, CKR_DATA_LEN_RANGE
 * for data that cannot fit one message, ...).  Everything else speaks LS_OK / LS_ERR_*.
 *
 * Memory: a decoded message (ls_rpc_msg) owns everything it points to, in one arena with one
 * lifetime: the CK_MECHANISM and its rebuilt parameter structure, templates, byte strings,
 * the output buffers a server fills in.  ls_rpc_msg_free() wipes all of it (PINs, key values
 * in templates, plaintext) and frees it in one call.  Every length and count is checked
 * against its cap before anything is allocated for it; nested items are parsed as bounded
 * sub-buffers; every message and every nested blob must be consumed exactly.
 *
 * Thread-safety: the table is read-only; a message belongs to one thread at a time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_RPC_H
#define LS11_CORE_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buffer.h"
#include "channel.h"
#include "errors.h"
#include "pkcs11x.h"
#include "sespake.h"

/* p11-kit's compatibility field-name macros that its header leaves defined (see token/mech.h). */
#undef iv_ptr
#undef iv_len
#undef iv_bits
#undef aad_ptr
#undef aad_len
#undef tag_bits
#undef counter_bits
#undef hash_alg
#undef s_len
#undef source_data
#undef source_data_len
#undef shared_data
#undef shared_data_len
#undef public_data
#undef public_data_len
#undef string_data
#undef string_data_len
#undef data_params

/* The protocol version this table describes. */
#define LS_RPC_VERSION 1

#define LS_RPC_REQUEST_HEADER_SIZE  10 /* call id + request id */
#define LS_RPC_RESPONSE_HEADER_SIZE 16 /* request id + CK_RV */

/* ---------------------------------------------------------------------------------------------
 * Limits (part of the protocol version: a decoder refuses more, an encoder never sends more)
 * ------------------------------------------------------------------------------------------- */

/* A message fills at most one channel record. */
#define LS_RPC_MAX_MESSAGE LS_CHANNEL_MAX_PLAINTEXT
/* A byte string of data (C_Sign's input, ...): bounded only by the message. */
#define LS_RPC_MAX_DATA LS_RPC_MAX_MESSAGE
/*
 * Output a request may ask room for: the capacity of one output buffer ('o'), and the sum of
 * the capacities of one C_GetAttributeValue ('A').  Leaves room for the response's own
 * overhead within LS_RPC_MAX_MESSAGE.  Larger outputs are split into multi-part calls by the
 * module.
 */
#define LS_RPC_MAX_OUTPUT ((size_t)960 * 1024)
#define LS_RPC_MAX_PIN          256  /* a PIN or a user name ('p') */
#define LS_RPC_MAX_TEXT         1024 /* a text string ('z'), e.g. a log line */
#define LS_RPC_MAX_PARAM_BYTES  1024 /* an IV, UKM, OID, public value, KDF label or seed */
#define LS_RPC_MAX_ATTRS        256  /* attributes of one template */
#define LS_RPC_MAX_NESTED_ATTRS 32   /* attributes of a template inside an attribute */
#define LS_RPC_MAX_ATTRS_TOTAL  1024 /* attributes of one message, nested ones included */
#define LS_RPC_MAX_ULONGS       4096 /* a list of handles or mechanism types ('U') */
#define LS_RPC_MAX_MECHANISMS   1024 /* entries of a mechanism-info list ('W') */
#define LS_RPC_MAX_LOG_ENTRIES  256  /* entries of one page of the account log ('E') */
/* All memory one decoded message may hold (its arena). */
#define LS_RPC_ARENA_MAX ((size_t)8 << 20)

#define LS_RPC_LABEL_SIZE        32 /* CK_TOKEN_INFO.label, C_InitToken's label ('L') */
#define LS_RPC_RESUME_TOKEN_SIZE 32 /* 'K' */

/* ---------------------------------------------------------------------------------------------
 * Signature letters: wire form -> C form (member of ls_rpc_value)
 *
 *   u  CK_ULONG                 u64                                       .ul
 *   h  handle (session/object)  u64                                       .ul
 *   b  CK_BBOOL                 u8, 0 or 1                                .b
 *   y  byte string              u32 n + n bytes (n <= LS_RPC_MAX_DATA)    .bytes (ptr NULL iff n 0)
 *   p  PIN / user name          u8 0 (NULL pointer) | u8 1 + u32 n + n    .bytes (ptr NULL = NULL)
 *   z  text                     u32 n + n bytes, no NUL (<= MAX_TEXT)     .bytes (NUL-terminated)
 *   L  32-byte blank-padded label, raw                                    .bytes (len 32)
 *   V  SESPAKE verifier, 196 bytes raw (ls_sespake_verifier)              .bytes (len 196)
 *   K  resume token, 32 bytes raw                                         .bytes (len 32)
 *   M  CK_MECHANISM             u64 type | u8 parameter kind | u32 n + parameter blob  .mech
 *   T  template                 u32 count | count x (u64 type | u32 n + value blob)    .attrs
 *   A  attribute queries        u32 count | count x (u64 type | u8 mode | ...)         .attrs
 *   R  attribute results        u32 count | count x (u64 type | u8 state | ...)        .attrs
 *   o  output buffer offered    u8 0 (length query) | u8 1 + u64 capacity              .out
 *   O  output returned          u8 0 + u64 length | u8 1 + u32 n + n bytes (CKR_OK)    .output
 *   U  CK_ULONG list            u32 count | count x u64                              .ulongs
 *   I  CK_TOKEN_INFO, S  CK_SESSION_INFO (no slot id), N  CK_MECHANISM_INFO
 *   W  mechanism-info list      u32 count | count x (u64 type | N)                    .mechs
 *   Z  account status (ls_rpc_account_status)                                     .status
 *   E  account log page         u32 count | count x (u64 seq | u64 time | u64 event | z)  .log
 *
 * CK_ULONG travels as u64 (CK_UNAVAILABLE_INFORMATION as all ones on every platform).
 * Attribute values travel by the kind of their type (ls_rpc_attribute_kind): a CK_ULONG as a
 * u64, CKA_ALLOWED_MECHANISMS as u64s, CKA_WRAP/UNWRAP/DERIVE_TEMPLATE as a nested template
 * (one level), everything else as bytes.  docs/protocol-rpc.md gives every layout byte by byte.
 * ------------------------------------------------------------------------------------------- */

/* Call flags. */
#define LS_RPC_F_OUTPUT   0x01u /* the body also comes with CKR_BUFFER_TOO_SMALL (length only) */
#define LS_RPC_F_ATTRS    0x02u /* the body also comes with CKR_ATTRIBUTE_SENSITIVE,
                                 * CKR_ATTRIBUTE_TYPE_INVALID and CKR_BUFFER_TOO_SMALL */
#define LS_RPC_F_READONLY 0x04u /* changes no state: safe to repeat after a reconnect */
#define LS_RPC_F_FAST     0x08u /* a compound fast-path call (ARCHITECTURE.md section 5) */
#define LS_RPC_F_ACCOUNT  0x10u /* an account operation, not PKCS#11 */

/*
 * THE table: name, id, request signature, response signature (the body with CKR_OK), flags.
 * Ids never change and are never reused.  0x01xx token/session/login, 0x02xx objects,
 * 0x03xx cryptographic operations, 0x04xx keys and random, 0x05xx PKCS#11 v3.0, 0x06xx fast
 * paths, 0x07xx account operations.
 */
#define LS_RPC_CALLS(X)                                                                           \
	X(C_GetTokenInfo, 0x0101, "", "I", LS_RPC_F_READONLY)                                     \
	X(C_GetMechanismList, 0x0102, "", "U", LS_RPC_F_READONLY)                                 \
	X(C_GetMechanismInfo, 0x0103, "u", "N", LS_RPC_F_READONLY)                                \
	X(C_InitToken, 0x0104, "pL", "", 0)                                                       \
	X(C_InitPIN, 0x0105, "hp", "", 0)                                                         \
	X(C_SetPIN, 0x0106, "hpp", "", 0)                                                         \
	X(C_OpenSession, 0x0107, "u", "h", 0)                                                     \
	X(C_CloseSession, 0x0108, "h", "", 0)                                                     \
	X(C_CloseAllSessions, 0x0109, "", "", 0)                                                  \
	X(C_GetSessionInfo, 0x010A, "h", "S", LS_RPC_F_READONLY)                                  \
	X(C_GetOperationState, 0x010B, "ho", "O", LS_RPC_F_OUTPUT | LS_RPC_F_READONLY)           \
	X(C_SetOperationState, 0x010C, "hyhh", "", 0)                                             \
	X(C_Login, 0x010D, "hup", "", 0)                                                          \
	X(C_Logout, 0x010E, "h", "", 0)                                                           \
	X(C_CreateObject, 0x0201, "hT", "h", 0)                                                   \
	X(C_CopyObject, 0x0202, "hhT", "h", 0)                                                    \
	X(C_DestroyObject, 0x0203, "hh", "", 0)                                                   \
	X(C_GetObjectSize, 0x0204, "hh", "u", LS_RPC_F_READONLY)                                  \
	X(C_GetAttributeValue, 0x0205, "hhA", "R", LS_RPC_F_ATTRS | LS_RPC_F_READONLY)           \
	X(C_SetAttributeValue, 0x0206, "hhT", "", 0)                                              \
	X(C_FindObjectsInit, 0x0207, "hTu", "Ub", LS_RPC_F_FAST)                                  \
	X(C_FindObjects, 0x0208, "hu", "U", 0)                                                    \
	X(C_FindObjectsFinal, 0x0209, "h", "", 0)                                                 \
	X(C_EncryptInit, 0x0301, "hMh", "", 0)                                                    \
	X(C_Encrypt, 0x0302, "hyo", "O", LS_RPC_F_OUTPUT)                                         \
	X(C_EncryptUpdate, 0x0303, "hyo", "O", LS_RPC_F_OUTPUT)                                   \
	X(C_EncryptFinal, 0x0304, "ho", "O", LS_RPC_F_OUTPUT)                                     \
	X(C_DecryptInit, 0x0305, "hMh", "", 0)                                                    \
	X(C_Decrypt, 0x0306, "hyo", "O", LS_RPC_F_OUTPUT)                                         \
	X(C_DecryptUpdate, 0x0307, "hyo", "O", LS_RPC_F_OUTPUT)                                   \
	X(C_DecryptFinal, 0x0308, "ho", "O", LS_RPC_F_OUTPUT)                                     \
	X(C_DigestInit, 0x0309, "hM", "", 0)                                                      \
	X(C_Digest, 0x030A, "hyo", "O", LS_RPC_F_OUTPUT)                                          \
	X(C_DigestUpdate, 0x030B, "hy", "", 0)                                                    \
	X(C_DigestKey, 0x030C, "hh", "", 0)                                                       \
	X(C_DigestFinal, 0x030D, "ho", "O", LS_RPC_F_OUTPUT)                                      \
	X(C_SignInit, 0x030E, "hMh", "", 0)                                                       \
	X(C_Sign, 0x030F, "hyo", "O", LS_RPC_F_OUTPUT)                                            \
	X(C_SignUpdate, 0x0310, "hy", "", 0)                                                      \
	X(C_SignFinal, 0x0311, "ho", "O", LS_RPC_F_OUTPUT)                                        \
	X(C_SignRecoverInit, 0x0312, "hMh", "", 0)                                                \
	X(C_SignRecover, 0x0313, "hyo", "O", LS_RPC_F_OUTPUT)                                     \
	X(C_VerifyInit, 0x0314, "hMh", "", 0)                                                     \
	X(C_Verify, 0x0315, "hyy", "", 0)                                                         \
	X(C_VerifyUpdate, 0x0316, "hy", "", 0)                                                    \
	X(C_VerifyFinal, 0x0317, "hy", "", 0)                                                     \
	X(C_VerifyRecoverInit, 0x0318, "hMh", "", 0)                                              \
	X(C_VerifyRecover, 0x0319, "hyo", "O", LS_RPC_F_OUTPUT)                                   \
	X(C_GenerateKey, 0x0401, "hMT", "h", 0)                                                   \
	X(C_GenerateKeyPair, 0x0402, "hMTT", "hh", 0)                                             \
	X(C_WrapKey, 0x0403, "hMhho", "O", LS_RPC_F_OUTPUT)                                       \
	X(C_UnwrapKey, 0x0404, "hMhyT", "h", 0)                                                   \
	X(C_DeriveKey, 0x0405, "hMhT", "h", 0)                                                    \
	X(C_SeedRandom, 0x0406, "hy", "", 0)                                                      \
	X(C_GenerateRandom, 0x0407, "hu", "y", 0)                                                 \
	X(C_LoginUser, 0x0501, "hupp", "", 0)                                                     \
	X(C_SessionCancel, 0x0502, "hu", "", 0)                                                   \
	X(SignOneShot, 0x0601, "hMhyo", "O", LS_RPC_F_OUTPUT | LS_RPC_F_FAST)                     \
	X(VerifyOneShot, 0x0602, "hMhyy", "", LS_RPC_F_FAST)                                      \
	X(EncryptOneShot, 0x0603, "hMhyo", "O", LS_RPC_F_OUTPUT | LS_RPC_F_FAST)                  \
	X(DecryptOneShot, 0x0604, "hMhyo", "O", LS_RPC_F_OUTPUT | LS_RPC_F_FAST)                  \
	X(GetMechanismInfoAll, 0x0605, "", "W", LS_RPC_F_READONLY | LS_RPC_F_FAST)               \
	X(AccountChangePassword, 0x0701, "V", "", LS_RPC_F_ACCOUNT)                               \
	X(AccountStatus, 0x0702, "", "Z", LS_RPC_F_ACCOUNT | LS_RPC_F_READONLY)                   \
	X(AccountReadLog, 0x0703, "uu", "Eub", LS_RPC_F_ACCOUNT | LS_RPC_F_READONLY)              \
	X(AccountRecreateToken, 0x0704, "", "", LS_RPC_F_ACCOUNT)                                 \
	X(AccountUnregister, 0x0705, "", "", LS_RPC_F_ACCOUNT)                                    \
	X(LeaseNew, 0x0706, "", "Ku", LS_RPC_F_ACCOUNT)                                           \
	X(LeaseResume, 0x0707, "K", "uuK", LS_RPC_F_ACCOUNT)

/* The call ids: LS_RPC_C_Sign, LS_RPC_SignOneShot, ... */
enum {
#define LS_RPC_ENUM_(name, id, req, resp, flags) LS_RPC_##name = id,
	LS_RPC_CALLS(LS_RPC_ENUM_)
#undef LS_RPC_ENUM_
};

/*
 * What the items of some calls mean (beyond the PKCS#11 argument they carry):
 *
 *   C_GetMechanismList     the whole list; the module answers length queries from it.
 *   C_OpenSession          u = flags (CKF_SERIAL_SESSION | CKF_RW_SESSION); callbacks stay local.
 *   C_FindObjectsInit      u = the most handles to return at once (0: none, plain PKCS#11);
 *                          reply U = the first handles found, b = 1 when U holds every match
 *                          and the server has already ended the search (the module then
 *                          answers C_FindObjects and C_FindObjectsFinal itself).
 *   C_FindObjects          u = ulMaxObjectCount (the server returns at most LS_RPC_MAX_ULONGS).
 *   C_GenerateRandom       u = the length; the reply carries exactly that many bytes.
 *   *OneShot               XInit + X in one round trip; a length query or CKR_BUFFER_TOO_SMALL
 *                          leaves the operation active on the server, as C_X would.
 *   GetMechanismInfoAll    every (type, CK_MECHANISM_INFO) of the token: the module's cache.
 *   AccountReadLog         u = first sequence number wanted, u = most entries (capped at
 *                          LS_RPC_MAX_LOG_ENTRIES); reply: entries, the next sequence number,
 *                          b = 1 when more entries follow.
 *   LeaseNew               reply: the resume token of this connection's application and the
 *                          lease in milliseconds.
 *   LeaseResume            K = a resume token; reply: u = ls_rpc_lease_state, u = lease left
 *                          in milliseconds, K = the next resume token.
 */

typedef enum {
	LS_RPC_LEASE_RESUMED = 1, /* the sessions, handles and login state are back */
	LS_RPC_LEASE_EXPIRED = 2, /* gone (or an unknown token): this is a new application */
} ls_rpc_lease_state;

/* One row of the table. */
typedef struct {
	uint16_t id;
	const char *name;     /* "C_Sign", "SignOneShot", ... */
	const char *request;  /* signature of the request body */
	const char *response; /* signature of the response body */
	unsigned flags;       /* LS_RPC_F_* */
} ls_rpc_call;

/* The table, in id order; *@count gets its length. */
const ls_rpc_call *ls_rpc_calls(size_t *count);
/* The row of @id, or NULL for an id this version does not know. */
const ls_rpc_call *ls_rpc_call_find(uint16_t id);
/* The name of @id ("C_Sign"), or "unknown" - for logs. */
const char *ls_rpc_call_name(uint16_t id);
/*
 * Whether a response to @call with @rv carries the body: always with CKR_OK; also with
 * CKR_BUFFER_TOO_SMALL for LS_RPC_F_OUTPUT calls, and with CKR_ATTRIBUTE_SENSITIVE,
 * CKR_ATTRIBUTE_TYPE_INVALID and CKR_BUFFER_TOO_SMALL for LS_RPC_F_ATTRS calls.  Otherwise the
 * body is empty.
 */
bool ls_rpc_response_has_body(const ls_rpc_call *call, CK_RV rv);

/* ---------------------------------------------------------------------------------------------
 * Mechanism parameters and attribute kinds
 * ------------------------------------------------------------------------------------------- */

/*
 * The parameter kinds the protocol models (one byte on the wire; new kinds get new numbers in
 * a new protocol version - international algorithms' structures will go there).
 */
typedef enum {
	LS_RPC_PARAM_NONE = 0,          /* ulParameterLen 0 */
	LS_RPC_PARAM_BYTES = 1,         /* raw bytes: an IV, a UKM, an OID (1..MAX_PARAM_BYTES) */
	LS_RPC_PARAM_GCM = 2,           /* CK_GCM_PARAMS layout (MGM) */
	LS_RPC_PARAM_GOST_DERIVE = 3,   /* CK_GOSTR3410_DERIVE_PARAMS */
	LS_RPC_PARAM_GOST_KEG = 4,      /* CK_VENDOR_GOST_KEG_PARAMS */
	LS_RPC_PARAM_KDF_TREE = 5,      /* CK_KDF_TREE_GOST_PARAMS */
	LS_RPC_PARAM_GOST_KEY_WRAP = 6, /* CK_GOSTR3410_KEY_WRAP_PARAMS */
} ls_rpc_param_kind;
#define LS_RPC_PARAM_KIND_MAX LS_RPC_PARAM_GOST_KEY_WRAP

/*
 * The parameter kind @type takes, from the table of mechanisms (every GOST mechanism of
 * token/mech.h and gost-pkcs11.md 1.1/1.2); LS_RPC_PARAM_NONE for a mechanism without a
 * parameter and for every mechanism the table does not list.
 */
ls_rpc_param_kind ls_rpc_mechanism_param_kind(CK_MECHANISM_TYPE type);
/* "CK_GCM_PARAMS", ... for logs and docs. */
const char *ls_rpc_param_kind_name(ls_rpc_param_kind kind);

/*
 * Whether @mech can cross the wire: CKR_OK when it has no parameter (ulParameterLen 0; always,
 * whatever the type), or a parameter of the kind the table gives its type, of the right size
 * (sizeof the structure) with inner lengths within their caps and no NULL pointer with a
 * non-zero length.  Otherwise CKR_MECHANISM_PARAM_INVALID (an unmodelled parameter is refused
 * here, client-side); CKR_ARGUMENTS_BAD for a NULL @mech.
 */
CK_RV ls_rpc_mechanism_check(const CK_MECHANISM *mech);

/* Appends the wire form of @mech to @out.  Errors as ls_rpc_mechanism_check(), plus
 * CKR_HOST_MEMORY / CKR_DATA_LEN_RANGE when @out fails (then @out is as it was). */
CK_RV ls_rpc_mechanism_encode(ls_buf *out, const CK_MECHANISM *mech);

/* How an attribute's value travels. */
typedef enum {
	LS_RPC_ATTR_BYTES = 0,    /* raw bytes (CK_BBOOL, CK_DATE, strings, keys, ...) */
	LS_RPC_ATTR_ULONG = 1,    /* one CK_ULONG (CKA_CLASS, CKA_KEY_TYPE, CKA_VALUE_LEN, ...) */
	LS_RPC_ATTR_ULONGS = 2,   /* an array of CK_ULONG (CKA_ALLOWED_MECHANISMS) */
	LS_RPC_ATTR_TEMPLATE = 3, /* an array of CK_ATTRIBUTE (CKA_WRAP/UNWRAP/DERIVE_TEMPLATE) */
} ls_rpc_attr_kind;

/* The kind of @type's value (part of the protocol version). */
ls_rpc_attr_kind ls_rpc_attribute_kind(CK_ATTRIBUTE_TYPE type);

/* ---------------------------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	CK_MECHANISM_TYPE type;
	CK_MECHANISM_INFO info;
} ls_rpc_mech_entry;

/* Account status flags. */
#define LS_RPC_ACCOUNT_PASSWORD_MUST_CHANGE 0x1u /* pre-registered: change_pswd first */
#define LS_RPC_ACCOUNT_LOCKED               0x2u
#define LS_RPC_ACCOUNT_TOKEN_INITIALIZED    0x4u

typedef struct {
	const char *nickname;        /* text */
	uint64_t flags;              /* LS_RPC_ACCOUNT_* */
	uint64_t created;            /* Unix time, seconds */
	uint64_t password_changed;   /* Unix time, seconds */
	uint64_t last_login;         /* Unix time, seconds; 0: never */
	const char *last_login_from; /* text, e.g. "192.0.2.7"; "" when unknown */
	uint64_t failed_logins;      /* failed SESPAKE runs since the last success */
	uint64_t connections;        /* connections open now */
	uint64_t log_entries;        /* entries in the account log */
} ls_rpc_account_status;

typedef struct {
	uint64_t seq;     /* sequence number in the account log */
	uint64_t time;    /* Unix time, seconds */
	uint64_t event;   /* event code: ls_rpc_audit_event_name() */
	const char *text; /* text */
} ls_rpc_log_entry;

/*
 * The account log's event codes (docs/server.md lists them): the short name of @code
 * ("created", "login-failed", ...) or NULL for a code this version does not know; the code of
 * @name, 0 when unknown.  One table for the server that writes them and the tools that read.
 */
const char *ls_rpc_audit_event_name(uint64_t code);
uint64_t ls_rpc_audit_event_code(const char *name);

/*
 * One item of a message: @kind is its signature letter, and the member named in the table of
 * letters above holds the C value.  Pointers in a value the caller builds are borrowed (the
 * encoder only reads them); pointers in a decoded value point into the message's arena.
 */
typedef struct ls_rpc_value {
	char kind;
	union {
		CK_ULONG ul;
		CK_BBOOL b;
		struct {
			const CK_BYTE *ptr;
			CK_ULONG len;
		} bytes;
		CK_MECHANISM *mech;
		struct {
			CK_ATTRIBUTE *v;
			CK_ULONG n;
		} attrs;
		struct {
			CK_BYTE *buf; /* NULL: a length query */
			CK_ULONG len; /* the capacity */
		} out;
		struct {
			const CK_BYTE *data; /* NULL: the length only */
			CK_ULONG len;
		} output;
		struct {
			CK_ULONG *v;
			CK_ULONG n;
		} ulongs;
		CK_TOKEN_INFO *token_info;
		CK_SESSION_INFO *session_info;
		CK_MECHANISM_INFO *mech_info;
		struct {
			ls_rpc_mech_entry *v;
			CK_ULONG n;
		} mechs;
		ls_rpc_account_status *status;
		struct {
			ls_rpc_log_entry *v;
			CK_ULONG n;
		} log;
	};
} ls_rpc_value;

/* Builders for the items of a message, e.g.
 *   ls_rpc_value v[] = { LS_RPC_HANDLE(h), LS_RPC_BYTES(data, len), LS_RPC_OUT(sig, *sig_len) };
 */
#define LS_RPC_ULONG(x)  ((ls_rpc_value){ .kind = 'u', .ul = (CK_ULONG)(x) })
#define LS_RPC_HANDLE(x) ((ls_rpc_value){ .kind = 'h', .ul = (CK_ULONG)(x) })
#define LS_RPC_BOOL(x)   ((ls_rpc_value){ .kind = 'b', .b = (CK_BBOOL)((x) ? CK_TRUE : CK_FALSE) })
#define LS_RPC_BYTES(p, n)                                                                        \
	((ls_rpc_value){ .kind = 'y', .bytes = { (const CK_BYTE *)(p), (CK_ULONG)(n) } })
/* A PIN or user name; @p NULL is sent as a NULL pointer (protected authentication path). */
#define LS_RPC_PIN(p, n)                                                                          \
	((ls_rpc_value){ .kind = 'p', .bytes = { (const CK_BYTE *)(p), (CK_ULONG)(n) } })
/* A NUL-terminated C string. */
#define LS_RPC_TEXT(s)                                                                            \
	((ls_rpc_value){ .kind = 'z', .bytes = { (const CK_BYTE *)(s), (CK_ULONG)strlen(s) } })
#define LS_RPC_LABEL(p)                                                                           \
	((ls_rpc_value){ .kind = 'L', .bytes = { (const CK_BYTE *)(p), LS_RPC_LABEL_SIZE } })
#define LS_RPC_VERIFIER(p)                                                                        \
	((ls_rpc_value){ .kind = 'V',                                                             \
	                 .bytes = { (const CK_BYTE *)(p), sizeof(ls_sespake_verifier) } })
#define LS_RPC_RESUME_TOKEN(p)                                                                    \
	((ls_rpc_value){ .kind = 'K', .bytes = { (const CK_BYTE *)(p), LS_RPC_RESUME_TOKEN_SIZE } })
#define LS_RPC_MECHANISM(m) ((ls_rpc_value){ .kind = 'M', .mech = (CK_MECHANISM *)(m) })
#define LS_RPC_TEMPLATE(t, n)                                                                     \
	((ls_rpc_value){ .kind = 'T', .attrs = { (CK_ATTRIBUTE *)(t), (CK_ULONG)(n) } })
/* C_GetAttributeValue's template as the application passed it (pValue NULL: length only). */
#define LS_RPC_QUERY(t, n)                                                                        \
	((ls_rpc_value){ .kind = 'A', .attrs = { (CK_ATTRIBUTE *)(t), (CK_ULONG)(n) } })
/* The same template after the token filled it in. */
#define LS_RPC_RESULTS(t, n)                                                                      \
	((ls_rpc_value){ .kind = 'R', .attrs = { (CK_ATTRIBUTE *)(t), (CK_ULONG)(n) } })
/* The caller's output buffer (NULL: a length query) and its capacity. */
#define LS_RPC_OUT(buf, len)                                                                      \
	((ls_rpc_value){ .kind = 'o', .out = { (CK_BYTE *)(buf), (CK_ULONG)(len) } })
/* What the call produced: @data with CKR_OK, or NULL for the length only. */
#define LS_RPC_OUTPUT(data, len)                                                                  \
	((ls_rpc_value){ .kind = 'O', .output = { (const CK_BYTE *)(data), (CK_ULONG)(len) } })
#define LS_RPC_ULONGS(p, n)                                                                       \
	((ls_rpc_value){ .kind = 'U', .ulongs = { (CK_ULONG *)(p), (CK_ULONG)(n) } })
#define LS_RPC_TOKEN_INFO(p)   ((ls_rpc_value){ .kind = 'I', .token_info = (p) })
#define LS_RPC_SESSION_INFO(p) ((ls_rpc_value){ .kind = 'S', .session_info = (p) })
#define LS_RPC_MECH_INFO(p)    ((ls_rpc_value){ .kind = 'N', .mech_info = (p) })
#define LS_RPC_MECH_LIST(p, n)                                                                    \
	((ls_rpc_value){ .kind = 'W', .mechs = { (ls_rpc_mech_entry *)(p), (CK_ULONG)(n) } })
#define LS_RPC_STATUS(p) ((ls_rpc_value){ .kind = 'Z', .status = (p) })
#define LS_RPC_LOG(p, n)                                                                          \
	((ls_rpc_value){ .kind = 'E', .log = { (ls_rpc_log_entry *)(p), (CK_ULONG)(n) } })

/* The most items a signature has. */
#define LS_RPC_MAX_ARGS 8

/* ---------------------------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------------------------- */

typedef struct ls_rpc_msg ls_rpc_msg;

/*
 * Client: appends the request for @call with @request_id and the @nargs items of @args (their
 * kinds must spell the call's request signature) to @out, whose cap should be
 * LS_RPC_MAX_MESSAGE.  On failure @out is left as it was and the CK_RV says why, as the
 * module should report it: CKR_MECHANISM_PARAM_INVALID (ls_rpc_mechanism_check()),
 * CKR_ATTRIBUTE_VALUE_INVALID (a CK_ULONG-valued attribute whose length is not
 * sizeof(CK_ULONG), a NULL pValue with a length, a template nested deeper than one level),
 * CKR_ARGUMENTS_BAD (a NULL pointer with a length), the call's length error when the request
 * cannot fit one message or a field its cap (CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_LEN_RANGE,
 * CKR_WRAPPED_KEY_LEN_RANGE; CKR_PIN_LEN_RANGE or CKR_PIN_INCORRECT for a PIN; CKR_DEVICE_MEMORY
 * for templates and the rest), CKR_HOST_MEMORY, CKR_GENERAL_ERROR for an unknown call or items
 * that do not match the signature (a bug, logged).
 *
 * Output capacities ('o', and the buffers of an 'A' query) are clamped to what one response
 * carries (LS_RPC_MAX_OUTPUT in total), which changes nothing for outputs that can cross.
 */
CK_RV ls_rpc_request_encode(ls_buf *out, uint16_t call, uint64_t request_id,
                            const ls_rpc_value *args, size_t nargs);

/*
 * Server: decodes the request in @in (from its cursor to its end; all of it must be used).
 * *@out is a new message (free with ls_rpc_msg_free()) on LS_OK, and also on
 * LS_ERR_UNSUPPORTED, which means: well-formed, but refused with the CK_RV of ls_rpc_msg_rv()
 * - CKR_FUNCTION_NOT_SUPPORTED for a call id this version does not know (its body is not
 * looked at), CKR_MECHANISM_PARAM_INVALID for a parameter of another kind than the table
 * gives the mechanism.  Answer those with ls_rpc_response_encode_error() and carry on.
 * Any other error (*@out NULL) is a protocol violation - close the connection:
 * LS_ERR_TRUNCATED, LS_ERR_TRAILING_DATA, LS_ERR_TOO_LARGE (a count or length over its cap,
 * seen before any allocation), LS_ERR_MALFORMED (a flag or mode out of range, a NUL in a
 * text, a nested template too deep, a non-canonical form), LS_ERR_NOMEM.
 *
 * The decoded values are the real C structures: CK_MECHANISM with its parameter structure,
 * CK_ATTRIBUTE arrays, and for 'o' and 'A' the zeroed output buffers of the requested
 * capacity, ready to hand to the token (and then to ls_rpc_response_encode()).
 */
int ls_rpc_request_decode(ls_buf *in, ls_rpc_msg **out);

/*
 * Server: appends the response to @call (a known id) with @request_id and @rv.  When @rv
 * carries a body (ls_rpc_response_has_body()) the @nargs items of @args must spell the call's
 * response signature; otherwise they are ignored (may be NULL/0) and the body is empty.
 * Errors (then @out is left as it was): LS_ERR_INVALID_ARG (unknown call, items that do not
 * match, a value the protocol cannot carry), LS_ERR_TOO_LARGE (a count or length over its
 * cap), LS_ERR_BUFFER_FULL (the response does not fit @out's cap), LS_ERR_NOMEM.  The server
 * then answers with an error response instead (e.g. CKR_DEVICE_MEMORY).
 */
int ls_rpc_response_encode(ls_buf *out, uint16_t call, uint64_t request_id, CK_RV rv,
                           const ls_rpc_value *args, size_t nargs);

/* Server: appends a response with @rv and an empty body (refusals, errors). */
int ls_rpc_response_encode_error(ls_buf *out, uint64_t request_id, CK_RV rv);

/*
 * Client: the request id of the response in @in (from its cursor), without consuming it, to
 * find the call it answers.  LS_ERR_TRUNCATED when @in is shorter than the header.
 */
int ls_rpc_response_peek(const ls_buf *in, uint64_t *request_id);

/*
 * Client: decodes the response in @in (all of it) to a request for @call.  *@out is set only
 * on LS_OK.  Errors as ls_rpc_request_decode() (LS_ERR_INVALID_ARG for an unknown @call);
 * any of them means the server broke the protocol: close the connection.
 */
int ls_rpc_response_decode(ls_buf *in, uint16_t call, ls_rpc_msg **out);

/* Wipes everything @msg holds and frees it.  NULL is accepted. */
void ls_rpc_msg_free(ls_rpc_msg *msg);

/* The call id (also an unknown one), the request id, and the CK_RV (of a response, or the
 * refusal of a request decoded with LS_ERR_UNSUPPORTED; CKR_OK otherwise). */
uint16_t ls_rpc_msg_call(const ls_rpc_msg *msg);
uint64_t ls_rpc_msg_request_id(const ls_rpc_msg *msg);
CK_RV ls_rpc_msg_rv(const ls_rpc_msg *msg);

/* The decoded items (none for a body-less response or a refused request). */
const ls_rpc_value *ls_rpc_msg_args(const ls_rpc_msg *msg, size_t *nargs);
/*
 * Item @i, checked against the table: NULL (and a log line) when @i is past the items or the
 * item is not of @kind.  Pointers in it may be written through (output buffers, 'A' queries).
 */
const ls_rpc_value *ls_rpc_msg_arg(const ls_rpc_msg *msg, size_t i, char kind);

/*
 * @n zeroed bytes in @msg's arena, wiped and freed with it (for the server's own scratch of
 * one request, e.g. C_GenerateRandom's output).  NULL when the arena cap is reached or memory
 * is short.
 */
void *ls_rpc_msg_alloc(ls_rpc_msg *msg, size_t n);

/* ---------------------------------------------------------------------------------------------
 * Client helpers: reproduce local PKCS#11 semantics from a decoded response
 * ------------------------------------------------------------------------------------------- */

/*
 * Delivers an 'O' item of a response with @rv to the application's @buf / *@buf_len (the
 * same arguments the request's LS_RPC_OUT was built from) and returns what the C_ function
 * returns: @rv unchanged unless it is CKR_OK or CKR_BUFFER_TOO_SMALL (then nothing is
 * touched); *@buf_len = the length for a length query and for CKR_BUFFER_TOO_SMALL; the data
 * copied and *@buf_len set otherwise.  CKR_DEVICE_ERROR (logged) when the server broke the
 * contract: data for a length query, no data for a buffer, more data than the buffer holds.
 */
CK_RV ls_rpc_output_deliver(const ls_rpc_value *output, CK_RV rv, CK_BYTE *buf,
                            CK_ULONG *buf_len);

/*
 * Delivers an 'R' item (@results may be NULL when @rv carries no body) into the application's
 * C_GetAttributeValue template @tmpl[@count] (the one the request's LS_RPC_QUERY was built
 * from): per attribute the length or CK_UNAVAILABLE_INFORMATION, and the value where one came,
 * nested templates included.  Returns @rv, or CKR_DEVICE_ERROR when the results do not answer
 * the template (count, types, a value where a length was asked or that does not fit).
 */
CK_RV ls_rpc_attrs_deliver(const ls_rpc_value *results, CK_RV rv, CK_ATTRIBUTE *tmpl,
                           CK_ULONG count);

#endif /* LS11_CORE_RPC_H */
