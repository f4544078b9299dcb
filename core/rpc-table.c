/*
 * LS11CLOUD - the RPC tables: calls (from LS_RPC_CALLS in rpc.h), mechanism parameter kinds
 * and attribute value kinds.  All three are part of the protocol version: rows are added with a
 * new version, never changed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "rpc.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---------------------------------------------------------------------------------------------
 * Calls
 * ------------------------------------------------------------------------------------------- */

#define AS_ROW(nm, i, req, resp, fl)                                                               \
	{ .id = i, .name = #nm, .request = req, .response = resp, .flags = fl },
static const ls_rpc_call call_table[] = { LS_RPC_CALLS(AS_ROW) };
#undef AS_ROW

#define CALL_COUNT (sizeof(call_table) / sizeof(call_table[0]))

const ls_rpc_call *
ls_rpc_calls(size_t *count)
{
	if (count != NULL)
		*count = CALL_COUNT;
	return call_table;
}

const ls_rpc_call *
ls_rpc_call_find(uint16_t id)
{
	size_t lo = 0, hi = CALL_COUNT;

	/* The table is in id order (tests/core/test-rpc.c checks it). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (call_table[mid].id == id)
			return &call_table[mid];
		if (call_table[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *
ls_rpc_call_name(uint16_t id)
{
	const ls_rpc_call *c = ls_rpc_call_find(id);

	return c != NULL ? c->name : "unknown";
}

bool
ls_rpc_response_has_body(const ls_rpc_call *call, CK_RV rv)
{
	if (call == NULL)
		return false;
	if (rv == CKR_OK)
		return true;
	if ((call->flags & LS_RPC_F_OUTPUT) != 0 && rv == CKR_BUFFER_TOO_SMALL)
		return true;
	if ((call->flags & LS_RPC_F_ATTRS) != 0)
		return rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
		       rv == CKR_BUFFER_TOO_SMALL;
	return false;
}

/* ---------------------------------------------------------------------------------------------
 * Mechanism parameter kinds
 *
 * Every mechanism of token/mech.h with the parameter it accepts there, plus
 * CKM_GOSTR3410_KEY_WRAP (gost-pkcs11.md 1.1).  A mechanism listed with NONE takes no
 * parameter; one that is not listed crosses only without a parameter.
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	CK_MECHANISM_TYPE type;
	ls_rpc_param_kind kind;
} mech_row;

static const mech_row mech_table[] = {
	/* GOST R 34.10-2001/2012 signatures, digests and HMAC */
	{ CKM_GOSTR3410_KEY_PAIR_GEN, LS_RPC_PARAM_NONE },
	{ CKM_GOSTR3410_512_KEY_PAIR_GEN, LS_RPC_PARAM_NONE },
	{ CKM_GOSTR3410, LS_RPC_PARAM_NONE },
	{ CKM_GOSTR3410_512, LS_RPC_PARAM_NONE },
	{ CKM_GOSTR3410_WITH_GOSTR3411, LS_RPC_PARAM_BYTES }, /* optional 34.11-94 param OID */
	{ CKM_GOSTR3410_WITH_GOSTR3411_12_256, LS_RPC_PARAM_NONE },
	{ CKM_GOSTR3410_WITH_GOSTR3411_12_512, LS_RPC_PARAM_NONE },
	{ CKM_GOSTR3411, LS_RPC_PARAM_BYTES },      /* optional OID */
	{ CKM_GOSTR3411_HMAC, LS_RPC_PARAM_BYTES }, /* optional OID */
	{ CKM_GOSTR3411_12_256, LS_RPC_PARAM_NONE },
	{ CKM_GOSTR3411_12_512, LS_RPC_PARAM_NONE },
	{ CKM_GOSTR3411_12_256_HMAC, LS_RPC_PARAM_NONE },
	{ CKM_GOSTR3411_12_512_HMAC, LS_RPC_PARAM_NONE },
	/* key agreement and derivation */
	{ CKM_GOSTR3410_DERIVE, LS_RPC_PARAM_GOST_DERIVE },
	{ CKM_GOSTR3410_12_DERIVE, LS_RPC_PARAM_GOST_DERIVE },
	{ CKM_VKO_GOSTR3410_2012_512, LS_RPC_PARAM_GOST_DERIVE },
	{ CKM_GOST_KEG, LS_RPC_PARAM_GOST_KEG },
	{ CKM_KDF_GOSTR3411_2012_256, LS_RPC_PARAM_KDF_TREE },
	{ CKM_KDF_TREE_GOSTR3411_2012_256, LS_RPC_PARAM_KDF_TREE },
	{ CKM_GOSTR3410_KEY_WRAP, LS_RPC_PARAM_GOST_KEY_WRAP },
	/* GOST R 34.12-2015 ciphers */
	{ CKM_KUZNYECHIK_KEY_GEN, LS_RPC_PARAM_NONE },
	{ CKM_KUZNYECHIK_ECB, LS_RPC_PARAM_NONE },
	{ CKM_KUZNYECHIK_CTR_ACPKM, LS_RPC_PARAM_BYTES }, /* half-block IV */
	{ CKM_KUZNYECHIK_MAC, LS_RPC_PARAM_NONE },
	{ CKM_KUZNYECHIK_MGM, LS_RPC_PARAM_GCM },
	{ CKM_KUZNYECHIK_KEXP_15_WRAP, LS_RPC_PARAM_BYTES }, /* half-block IV */
	{ CKM_MAGMA_KEY_GEN, LS_RPC_PARAM_NONE },
	{ CKM_MAGMA_ECB, LS_RPC_PARAM_NONE },
	{ CKM_MAGMA_CTR_ACPKM, LS_RPC_PARAM_BYTES },
	{ CKM_MAGMA_MAC, LS_RPC_PARAM_NONE },
	{ CKM_MAGMA_MGM, LS_RPC_PARAM_GCM },
	{ CKM_MAGMA_KEXP_15_WRAP, LS_RPC_PARAM_BYTES },
	/* GOST 28147-89 */
	{ CKM_GOST28147_KEY_GEN, LS_RPC_PARAM_NONE },
	{ CKM_GOST28147_ECB, LS_RPC_PARAM_NONE },
	{ CKM_GOST28147, LS_RPC_PARAM_BYTES },          /* optional 8-byte IV */
	{ CKM_GOST28147_MAC, LS_RPC_PARAM_BYTES },      /* optional 8-byte IV */
	{ CKM_GOST28147_KEY_WRAP, LS_RPC_PARAM_BYTES }, /* 8-byte UKM */
	{ CKM_GENERIC_SECRET_KEY_GEN, LS_RPC_PARAM_NONE },
};

ls_rpc_param_kind
ls_rpc_mechanism_param_kind(CK_MECHANISM_TYPE type)
{
	size_t i;

	for (i = 0; i < sizeof(mech_table) / sizeof(mech_table[0]); i++)
		if (mech_table[i].type == type)
			return mech_table[i].kind;
	return LS_RPC_PARAM_NONE;
}

/* Event names and their wire codes: append only, never renumber. */
static const char *const audit_events[] = {
	NULL,                /* 0: unknown */
	"created",           /* 1 */
	"connect",           /* 2 */
	"disconnect",        /* 3 */
	"auth-failed",       /* 4 */
	"locked",            /* 5 */
	"login",             /* 6 */
	"login-failed",      /* 7 */
	"pin-changed",       /* 8 */
	"pin-initialized",   /* 9 */
	"token-initialized", /* 10 */
	"keygen",            /* 11 */
	"sign",              /* 12 */
	"object-deleted",    /* 13 */
	"password-changed",  /* 14 */
	"state-changed",     /* 15 */
	"token-recreated",   /* 16 */
	"resume",            /* 17 */
	"refused",           /* 18 */
	"logout",            /* 19 */
	"counters-reset",    /* 20 */
};

const char *
ls_rpc_audit_event_name(uint64_t code)
{
	return code < sizeof(audit_events) / sizeof(audit_events[0]) ? audit_events[code] : NULL;
}

uint64_t
ls_rpc_audit_event_code(const char *name)
{
	size_t i;

	for (i = 1; name != NULL && i < sizeof(audit_events) / sizeof(audit_events[0]); i++) {
		if (strcmp(name, audit_events[i]) == 0)
			return i;
	}
	return 0;
}

const char *
ls_rpc_param_kind_name(ls_rpc_param_kind kind)
{
	switch (kind) {
	case LS_RPC_PARAM_NONE: return "none";
	case LS_RPC_PARAM_BYTES: return "bytes";
	case LS_RPC_PARAM_GCM: return "CK_GCM_PARAMS";
	case LS_RPC_PARAM_GOST_DERIVE: return "CK_GOSTR3410_DERIVE_PARAMS";
	case LS_RPC_PARAM_GOST_KEG: return "CK_VENDOR_GOST_KEG_PARAMS";
	case LS_RPC_PARAM_KDF_TREE: return "CK_KDF_TREE_GOST_PARAMS";
	case LS_RPC_PARAM_GOST_KEY_WRAP: return "CK_GOSTR3410_KEY_WRAP_PARAMS";
	}
	return "unknown";
}

/* ---------------------------------------------------------------------------------------------
 * Attribute value kinds (PKCS#11 v2.40 and v3.0: every attribute whose value is a CK_ULONG or
 * an array; all others are bytes)
 * ------------------------------------------------------------------------------------------- */

static const CK_ATTRIBUTE_TYPE ulong_attrs[] = {
	CKA_CLASS,
	CKA_CERTIFICATE_TYPE,
	CKA_CERTIFICATE_CATEGORY,
	CKA_JAVA_MIDP_SECURITY_DOMAIN,
	CKA_NAME_HASH_ALGORITHM,
	CKA_KEY_TYPE,
	CKA_MODULUS_BITS,
	CKA_PRIME_BITS,
	CKA_SUB_PRIME_BITS,
	CKA_VALUE_BITS,
	CKA_VALUE_LEN,
	CKA_KEY_GEN_MECHANISM,
	CKA_AUTH_PIN_FLAGS,
	CKA_OTP_FORMAT,
	CKA_OTP_LENGTH,
	CKA_OTP_TIME_INTERVAL,
	CKA_OTP_CHALLENGE_REQUIREMENT,
	CKA_OTP_TIME_REQUIREMENT,
	CKA_OTP_COUNTER_REQUIREMENT,
	CKA_OTP_PIN_REQUIREMENT,
	CKA_HW_FEATURE_TYPE,
	CKA_PIXEL_X,
	CKA_PIXEL_Y,
	CKA_RESOLUTION,
	CKA_CHAR_ROWS,
	CKA_CHAR_COLUMNS,
	CKA_BITS_PER_PIXEL,
	CKA_MECHANISM_TYPE,
	CKA_PROFILE_ID,
};

ls_rpc_attr_kind
ls_rpc_attribute_kind(CK_ATTRIBUTE_TYPE type)
{
	size_t i;

	switch (type) {
	case CKA_WRAP_TEMPLATE:
	case CKA_UNWRAP_TEMPLATE:
	case CKA_DERIVE_TEMPLATE: return LS_RPC_ATTR_TEMPLATE;
	case CKA_ALLOWED_MECHANISMS: return LS_RPC_ATTR_ULONGS;
	default: break;
	}
	for (i = 0; i < sizeof(ulong_attrs) / sizeof(ulong_attrs[0]); i++)
		if (ulong_attrs[i] == type)
			return LS_RPC_ATTR_ULONG;
	return LS_RPC_ATTR_BYTES;
}
