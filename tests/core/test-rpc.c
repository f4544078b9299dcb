/*
 * core/rpc.c: the message table and its codec.
 *
 *  - the table: ids in order and unique, every PKCS#11 call the token engine serves, flags
 *    that agree with the signatures, and docs/protocol-rpc.md listing every row exactly;
 *  - every call, request and response, round-trips with representative values (several per
 *    letter: empty, NULL, maximal) to equal C values and re-encodes to the same bytes;
 *    responses with CKR_OK, CKR_BUFFER_TOO_SMALL, partial C_GetAttributeValue results and
 *    errors (empty body);
 *  - the bytes of a few messages, pinned (docs/protocol-rpc.md shows the same);
 *  - every mechanism parameter kind rebuilds an identical C structure; an unmodelled
 *    parameter is refused client-side with CKR_MECHANISM_PARAM_INVALID; a well-formed
 *    parameter of the wrong kind, and an unknown call id, are answered, not fatal;
 *  - hostile input: every truncation, trailing bytes, every flag out of range, oversized
 *    counts and lengths refused before any allocation (counted through the buffer's test
 *    allocator), a template of 10^6 attributes, nested templates too deep, a NUL in text;
 *  - output-buffer and C_GetAttributeValue semantics reproduced on the client; contract
 *    violations of a server caught;
 *  - client-side refusals with the CK_RV the module returns, leaving the buffer untouched;
 *  - every block of memory the codec gives back has been wiped;
 *  - open session + login + find a key by CKA_ID + sign in 4 round trips over an in-process
 *    transport, and pipelined responses out of order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "log.h"
#include "rpc.h"
#include "transport.h"
#include "test-util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- every allocation of the codec goes through ls_buf: count it, check it is wiped ------ */

static size_t alloc_bytes, alloc_blocks, released_blocks, released_dirty;

static void *
count_alloc(size_t n)
{
	if (n > ((size_t)1 << 30))
		return NULL;
	alloc_bytes += n;
	alloc_blocks++;
	return calloc(1, n);
}

static void
count_release(void *p, size_t n)
{
	const uint8_t *b = p;

	released_blocks++;
	for (size_t i = 0; i < n; i++) {
		if (b[i] != 0) {
			released_dirty++;
			break;
		}
	}
}

static void
reset_counts(void)
{
	alloc_bytes = alloc_blocks = 0;
}

static void
setup(void)
{
	alloc_bytes = alloc_blocks = released_blocks = released_dirty = 0;
	ls_buf_test_set_allocator(count_alloc, count_release);
	ls_log_set_level(LS_LOG_ERROR);
}

static void
teardown(void)
{
	ls_buf_test_set_allocator(NULL, NULL);
	cr_expect_eq(released_dirty, 0, "%zu blocks were given back without being wiped",
	             released_dirty);
}

TestSuite(rpc, .init = setup, .fini = teardown);

/* ---- sample values ----------------------------------------------------------------------- */

static CK_BYTE s_data[] = "hello, wire";
static CK_BYTE s_big[4096];
static CK_ULONG s_ulongs_big[LS_RPC_MAX_ULONGS];
static CK_ULONG s_class = CKO_SECRET_KEY, s_key_type = CKK_KUZNYECHIK;
static CK_MECHANISM_TYPE s_allowed[] = { CKM_KUZNYECHIK_MGM, CKM_KUZNYECHIK_CTR_ACPKM,
	                                 CKM_KUZNYECHIK_MAC };
static CK_BBOOL s_true = CK_TRUE;
static CK_BYTE s_keyval[32] = { 0x8a, 0x11, 0x42, 0x07, 0xd1, 0x33, 0x9b, 0x5e };
static CK_BYTE s_label[] = "wire key";
static CK_BYTE s_date[] = "20240101";
static CK_ATTRIBUTE s_wrap_inner[] = {
	{ CKA_CLASS, &s_class, sizeof(s_class) },
	{ CKA_EXTRACTABLE, &s_true, sizeof(s_true) },
	{ CKA_ALLOWED_MECHANISMS, s_allowed, sizeof(s_allowed) },
};
static CK_ATTRIBUTE s_template[] = {
	{ CKA_CLASS, &s_class, sizeof(s_class) },
	{ CKA_KEY_TYPE, &s_key_type, sizeof(s_key_type) },
	{ CKA_TOKEN, &s_true, sizeof(s_true) },
	{ CKA_LABEL, s_label, 8 },
	{ CKA_VALUE, s_keyval, sizeof(s_keyval) },
	{ CKA_ALLOWED_MECHANISMS, s_allowed, sizeof(s_allowed) },
	{ CKA_WRAP_TEMPLATE, s_wrap_inner, sizeof(s_wrap_inner) },
	{ CKA_START_DATE, s_date, 8 },
};
static CK_ATTRIBUTE s_template_empty_values[] = {
	{ CKA_LABEL, NULL, 0 },
	{ CKA_ID, NULL, 0 },
	{ CKA_ALLOWED_MECHANISMS, NULL, 0 },
	{ CKA_DERIVE_TEMPLATE, NULL, 0 },
};

/* C_GetAttributeValue: what an application asks ... */
static CK_ULONG q_class;
static CK_BYTE q_value[64], q_inner_buf[16];
static CK_MECHANISM_TYPE q_mechs[3];
static CK_ATTRIBUTE q_inner[] = {
	{ CKA_CLASS, NULL, 0 },
	{ CKA_LABEL, q_inner_buf, sizeof(q_inner_buf) },
};
static CK_ATTRIBUTE q_template[] = {
	{ CKA_CLASS, &q_class, sizeof(q_class) },
	{ CKA_LABEL, NULL, 0 },
	{ CKA_VALUE, q_value, sizeof(q_value) },
	{ CKA_WRAP_TEMPLATE, q_inner, sizeof(q_inner) },
	{ CKA_ALLOWED_MECHANISMS, q_mechs, sizeof(q_mechs) },
};
static CK_ATTRIBUTE q_template_nested_len[] = {
	{ CKA_WRAP_TEMPLATE, NULL, 0 },
	{ CKA_VALUE, q_value, 0 },
};

/* ... and what a token answers. */
static CK_ULONG r_class = CKO_PRIVATE_KEY;
static CK_BYTE r_in[] = "in";
static CK_ATTRIBUTE r_inner[] = {
	{ CKA_CLASS, NULL, sizeof(CK_ULONG) },
	{ CKA_LABEL, r_in, 2 },
	{ CKA_ID, NULL, CK_UNAVAILABLE_INFORMATION },
};
static CK_ATTRIBUTE r_results[] = {
	{ CKA_CLASS, &r_class, sizeof(r_class) },
	{ CKA_LABEL, NULL, 5 },
	{ CKA_VALUE, q_value, CK_UNAVAILABLE_INFORMATION },
	{ CKA_WRAP_TEMPLATE, r_inner, sizeof(r_inner) },
	{ CKA_ALLOWED_MECHANISMS, s_allowed, sizeof(s_allowed) },
};
static CK_ATTRIBUTE r_results_edge[] = {
	{ CKA_LABEL, s_label, 0 },
	{ CKA_DERIVE_TEMPLATE, r_inner, 0 },
	{ CKA_WRAP_TEMPLATE, NULL, 3 * sizeof(CK_ATTRIBUTE) },
};

/* Mechanisms: one of each parameter kind, and the edges. */
static CK_BYTE m_iv16[16] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x00, 0x99, 0xaa };
static CK_BYTE m_aad[10] = { 'a', 'd', 'd', 'i', 't', 'i', 'o', 'n', 'a', 'l' };
static CK_BYTE m_pub64[64] = { 0x01, 0x02, 0x03 };
static CK_BYTE m_pub128[128] = { 0xfe, 0xfd };
static CK_BYTE m_ukm8[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static CK_BYTE m_ukm32[32] = { 0x32 };
static CK_BYTE m_label[] = "kdf tree label";
static CK_BYTE m_seed[24] = { 0x5e, 0xed };
static CK_BYTE m_oid[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1f, 0x01 };
static CK_BYTE m_iv8[8] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7 };
static CK_GCM_PARAMS m_gcm = { m_iv16, sizeof(m_iv16), 128, m_aad, sizeof(m_aad), 128 };
static CK_GCM_PARAMS m_gcm_empty = { NULL, 0, 0, NULL, 0, 64 };
static CK_GOSTR3410_DERIVE_PARAMS m_derive = { CKD_CPDIVERSIFY_KDF, m_pub64, sizeof(m_pub64),
	                                       m_ukm8, sizeof(m_ukm8) };
static CK_VENDOR_GOST_KEG_PARAMS m_keg = { m_pub128, sizeof(m_pub128), m_ukm32, sizeof(m_ukm32) };
static CK_KDF_TREE_GOST_PARAMS m_tree = {
	sizeof(m_label) - 1, m_label, sizeof(m_seed), m_seed, 1, 512, 32
};
static CK_GOSTR3410_KEY_WRAP_PARAMS m_wrap = { m_oid, sizeof(m_oid), m_ukm8, sizeof(m_ukm8), 77 };

static CK_MECHANISM s_mechs[] = {
	{ CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0 },
	{ CKM_KUZNYECHIK_MGM, &m_gcm, sizeof(m_gcm) },
	{ CKM_GOSTR3410_12_DERIVE, &m_derive, sizeof(m_derive) },
	{ CKM_GOST_KEG, &m_keg, sizeof(m_keg) },
	{ CKM_KDF_TREE_GOSTR3411_2012_256, &m_tree, sizeof(m_tree) },
	{ CKM_GOSTR3410_KEY_WRAP, &m_wrap, sizeof(m_wrap) },
	{ CKM_KUZNYECHIK_CTR_ACPKM, m_iv8, sizeof(m_iv8) },
	{ CKM_VENDOR_DEFINED | 0x1234, NULL, 0 },
	{ CKM_GOST28147_KEY_WRAP, m_ukm8, sizeof(m_ukm8) },
	{ CKM_MAGMA_MGM, &m_gcm_empty, sizeof(m_gcm_empty) },
	{ CKM_GOSTR3411, m_oid, sizeof(m_oid) },
	{ CKM_VKO_GOSTR3410_2012_512, &m_derive, sizeof(m_derive) },
};
#define N_VARIANTS_M N_ELEMS(s_mechs)

static CK_UTF8CHAR s_token_label[32] = "LS11CLOUD wire token           ";
static ls_sespake_verifier s_verifier;
static uint8_t s_resume[LS_RPC_RESUME_TOKEN_SIZE] = { 0xee, 0xdd, 0xcc, 0xbb };
static CK_ULONG s_handles[] = { 0x700, 0x701, 0xffffffff00000001ul };
static CK_TOKEN_INFO s_token_info = {
	.label = "LS11CLOUD wire token           ",
	.manufacturerID = "LS11CLOUD                       ",
	.model = "LS11TOKEN       ",
	.serialNumber = "0123456789abcdef",
	.flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED,
	.ulMaxSessionCount = CK_EFFECTIVELY_INFINITE,
	.ulSessionCount = CK_UNAVAILABLE_INFORMATION,
	.ulMaxRwSessionCount = 1024,
	.ulRwSessionCount = 2,
	.ulMaxPinLen = 64,
	.ulMinPinLen = 6,
	.ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION,
	.ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION,
	.ulTotalPrivateMemory = 1 << 20,
	.ulFreePrivateMemory = 1 << 19,
	.hardwareVersion = { 1, 2 },
	.firmwareVersion = { 3, 4 },
	.utcTime = "2024010112000000",
};
static CK_SESSION_INFO s_session_info = { 0, CKS_RW_USER_FUNCTIONS,
	                                  CKF_SERIAL_SESSION | CKF_RW_SESSION, 0x42 };
static CK_MECHANISM_INFO s_mech_info = { 256, 512, CKF_SIGN | CKF_VERIFY | CKF_HW };
static ls_rpc_mech_entry s_mech_list[] = {
	{ CKM_GOSTR3410_KEY_PAIR_GEN, { 256, 256, CKF_GENERATE_KEY_PAIR } },
	{ CKM_KUZNYECHIK_MGM, { 32, 32, CKF_ENCRYPT | CKF_DECRYPT } },
	{ CKM_GOST_KEG, { 256, 512, CKF_DERIVE } },
};
static ls_rpc_account_status s_status = {
	.nickname = "alice",
	.flags = LS_RPC_ACCOUNT_TOKEN_INITIALIZED,
	.created = 1700000000,
	.password_changed = 1700000500,
	.last_login = 1700001000,
	.last_login_from = "192.0.2.7",
	.failed_logins = 3,
	.connections = 2,
	.log_entries = 118,
};
static ls_rpc_log_entry s_log[] = {
	{ 116, 1700000900, 3, "login from 192.0.2.7" },
	{ 117, 1700001000, 5, "" },
};
static char s_text_max[LS_RPC_MAX_TEXT + 1];

static void
init_samples(void)
{
	for (size_t i = 0; i < sizeof(s_big); i++)
		s_big[i] = (CK_BYTE)(i * 7 + 3);
	for (size_t i = 0; i < N_ELEMS(s_ulongs_big); i++)
		s_ulongs_big[i] = (CK_ULONG)i * 0x10001;
	memset(s_text_max, 'x', LS_RPC_MAX_TEXT);
	s_verifier.version = LS_SESPAKE_VERIFIER_VERSION;
	s_verifier.curve = 1;
	s_verifier.ind = 2;
	s_verifier.salt_len = 32;
	for (size_t i = 0; i < 32; i++)
		s_verifier.salt[i] = (uint8_t)(0x40 + i);
	for (size_t i = 0; i < 64; i++)
		s_verifier.q_pw[i] = (uint8_t)(0x80 + i);
}

/* A representative value for @letter; @v picks one of several (typical, empty/NULL, edge). */
static ls_rpc_value
sample(char letter, unsigned v)
{
	unsigned w = v % 3;

	switch (letter) {
	case 'u': {
		static const CK_ULONG u[] = { 0x0123456789abcdeful, 0, CK_UNAVAILABLE_INFORMATION };
		return LS_RPC_ULONG(u[w]);
	}
	case 'h': {
		static const CK_ULONG h[] = { 42, 1, 0xffffffff00000001ul };
		return LS_RPC_HANDLE(h[w]);
	}
	case 'b': return LS_RPC_BOOL(w == 0);
	case 'y':
		if (w == 0)
			return LS_RPC_BYTES(s_data, sizeof(s_data) - 1);
		if (w == 1)
			return LS_RPC_BYTES(NULL, 0);
		return LS_RPC_BYTES(s_big, sizeof(s_big));
	case 'p':
		if (w == 0)
			return LS_RPC_PIN("123456", 6);
		if (w == 1)
			return LS_RPC_PIN(NULL, 0);
		return LS_RPC_PIN("", 0);
	case 'z':
		return w == 0   ? LS_RPC_TEXT("a log line")
		       : w == 1 ? LS_RPC_TEXT("")
		                : LS_RPC_TEXT(s_text_max);
	case 'L': return LS_RPC_LABEL(s_token_label);
	case 'V': return LS_RPC_VERIFIER(&s_verifier);
	case 'K': return LS_RPC_RESUME_TOKEN(s_resume);
	case 'M': return LS_RPC_MECHANISM(&s_mechs[v % N_VARIANTS_M]);
	case 'T':
		if (w == 0)
			return LS_RPC_TEMPLATE(s_template, N_ELEMS(s_template));
		if (w == 1)
			return LS_RPC_TEMPLATE(NULL, 0);
		return LS_RPC_TEMPLATE(s_template_empty_values, N_ELEMS(s_template_empty_values));
	case 'A':
		if (w == 0)
			return LS_RPC_QUERY(q_template, N_ELEMS(q_template));
		if (w == 1)
			return LS_RPC_QUERY(NULL, 0);
		return LS_RPC_QUERY(q_template_nested_len, N_ELEMS(q_template_nested_len));
	case 'R':
		if (w == 0)
			return LS_RPC_RESULTS(r_results, N_ELEMS(r_results));
		if (w == 1)
			return LS_RPC_RESULTS(NULL, 0);
		return LS_RPC_RESULTS(r_results_edge, N_ELEMS(r_results_edge));
	case 'o':
		if (w == 0)
			return LS_RPC_OUT(q_value, 64);
		if (w == 1)
			return LS_RPC_OUT(NULL, 0);
		return LS_RPC_OUT(q_value, 0);
	case 'O':
		if (w == 0)
			return LS_RPC_OUTPUT(s_big, 64);
		if (w == 1)
			return LS_RPC_OUTPUT(NULL, 64);
		return LS_RPC_OUTPUT(s_big, 0);
	case 'U':
		if (w == 0)
			return LS_RPC_ULONGS(s_handles, N_ELEMS(s_handles));
		if (w == 1)
			return LS_RPC_ULONGS(NULL, 0);
		return LS_RPC_ULONGS(s_ulongs_big, N_ELEMS(s_ulongs_big));
	case 'I': return LS_RPC_TOKEN_INFO(&s_token_info);
	case 'S': return LS_RPC_SESSION_INFO(&s_session_info);
	case 'N': return LS_RPC_MECH_INFO(&s_mech_info);
	case 'W':
		return w == 1 ? LS_RPC_MECH_LIST(NULL, 0)
		              : LS_RPC_MECH_LIST(s_mech_list, N_ELEMS(s_mech_list));
	case 'Z': return LS_RPC_STATUS(&s_status);
	case 'E': return w == 1 ? LS_RPC_LOG(NULL, 0) : LS_RPC_LOG(s_log, N_ELEMS(s_log));
	}
	cr_assert_fail("no sample for letter '%c'", letter);
	return LS_RPC_ULONG(0);
}

static size_t
samples_for(const char *sig, unsigned v, ls_rpc_value *args)
{
	size_t n = strlen(sig);

	cr_assert_leq(n, LS_RPC_MAX_ARGS);
	for (size_t i = 0; i < n; i++)
		args[i] = sample(sig[i], v);
	return n;
}

static unsigned
variants_for(const char *sig)
{
	return strchr(sig, 'M') != NULL ? (unsigned)N_VARIANTS_M : 3;
}

/* ---- deep comparison of a value built by the caller and the decoded one ------------------ */

static void
expect_bytes(const void *want, CK_ULONG want_len, const void *got, CK_ULONG got_len,
             bool null_iff_empty, const char *what)
{
	cr_assert_eq(got_len, want_len, "%s: length %lu, want %lu", what, got_len, want_len);
	if (null_iff_empty)
		cr_assert_eq(got == NULL, want_len == 0, "%s: NULL iff empty", what);
	if (want_len > 0)
		cr_assert_eq(memcmp(got, want, want_len), 0, "%s: bytes differ", what);
}

static void
expect_mechanism(const CK_MECHANISM *want, const CK_MECHANISM *got)
{
	ls_rpc_param_kind kind = want->ulParameterLen == 0
	                                 ? LS_RPC_PARAM_NONE
	                                 : ls_rpc_mechanism_param_kind(want->mechanism);

	cr_assert_not_null(got);
	cr_assert_eq(got->mechanism, want->mechanism);
	cr_assert_eq(got->ulParameterLen, want->ulParameterLen, "mechanism 0x%lx: parameter length",
	             want->mechanism);
	switch (kind) {
	case LS_RPC_PARAM_NONE: cr_assert_null(got->pParameter); break;
	case LS_RPC_PARAM_BYTES:
		expect_bytes(want->pParameter, want->ulParameterLen, got->pParameter,
		             got->ulParameterLen, true, "bytes parameter");
		break;
	case LS_RPC_PARAM_GCM: {
		const CK_GCM_PARAMS *w = want->pParameter, *g = got->pParameter;

		expect_bytes(w->pIv, w->ulIvLen, g->pIv, g->ulIvLen, true, "GCM IV");
		cr_assert_eq(g->ulIvBits, w->ulIvBits);
		expect_bytes(w->pAAD, w->ulAADLen, g->pAAD, g->ulAADLen, true, "GCM AAD");
		cr_assert_eq(g->ulTagBits, w->ulTagBits);
		break;
	}
	case LS_RPC_PARAM_GOST_DERIVE: {
		const CK_GOSTR3410_DERIVE_PARAMS *w = want->pParameter, *g = got->pParameter;

		cr_assert_eq(g->kdf, w->kdf);
		expect_bytes(w->pPublicData, w->ulPublicDataLen, g->pPublicData, g->ulPublicDataLen,
		             true, "derive public data");
		expect_bytes(w->pUKM, w->ulUKMLen, g->pUKM, g->ulUKMLen, true, "derive UKM");
		break;
	}
	case LS_RPC_PARAM_GOST_KEG: {
		const CK_VENDOR_GOST_KEG_PARAMS *w = want->pParameter, *g = got->pParameter;

		expect_bytes(w->pPublicData, w->ulPublicDataLen, g->pPublicData, g->ulPublicDataLen,
		             true, "KEG public data");
		expect_bytes(w->pUKM, w->ulUKMLen, g->pUKM, g->ulUKMLen, true, "KEG UKM");
		break;
	}
	case LS_RPC_PARAM_KDF_TREE: {
		const CK_KDF_TREE_GOST_PARAMS *w = want->pParameter, *g = got->pParameter;

		expect_bytes(w->pLabel, w->ulLabelLength, g->pLabel, g->ulLabelLength, true,
		             "KDF_TREE label");
		expect_bytes(w->pSeed, w->ulSeedLength, g->pSeed, g->ulSeedLength, true,
		             "KDF_TREE seed");
		cr_assert_eq(g->ulR, w->ulR);
		cr_assert_eq(g->ulL, w->ulL);
		cr_assert_eq(g->ulOffset, w->ulOffset);
		break;
	}
	case LS_RPC_PARAM_GOST_KEY_WRAP: {
		const CK_GOSTR3410_KEY_WRAP_PARAMS *w = want->pParameter, *g = got->pParameter;

		expect_bytes(w->pWrapOID, w->ulWrapOIDLen, g->pWrapOID, g->ulWrapOIDLen, true,
		             "wrap OID");
		expect_bytes(w->pUKM, w->ulUKMLen, g->pUKM, g->ulUKMLen, true, "wrap UKM");
		cr_assert_eq(g->hKey, w->hKey);
		break;
	}
	}
}

static void
expect_template(const CK_ATTRIBUTE *want, CK_ULONG n, const CK_ATTRIBUTE *got, CK_ULONG got_n)
{
	cr_assert_eq(got_n, n, "template of %lu attributes, want %lu", got_n, n);
	cr_assert_eq(got == NULL, n == 0);
	for (CK_ULONG i = 0; i < n; i++) {
		const CK_ATTRIBUTE *w = &want[i], *g = &got[i];

		cr_assert_eq(g->type, w->type);
		cr_assert_eq(g->ulValueLen, w->ulValueLen, "attribute 0x%lx: length", w->type);
		if (ls_rpc_attribute_kind(w->type) == LS_RPC_ATTR_TEMPLATE)
			expect_template(w->pValue, w->ulValueLen / sizeof(CK_ATTRIBUTE), g->pValue,
			                g->ulValueLen / sizeof(CK_ATTRIBUTE));
		else
			expect_bytes(w->pValue, w->ulValueLen, g->pValue, g->ulValueLen, true,
			             "attribute value");
	}
}

static void
expect_query(const CK_ATTRIBUTE *want, CK_ULONG n, const CK_ATTRIBUTE *got, CK_ULONG got_n)
{
	cr_assert_eq(got_n, n);
	for (CK_ULONG i = 0; i < n; i++) {
		const CK_ATTRIBUTE *w = &want[i], *g = &got[i];

		cr_assert_eq(g->type, w->type);
		cr_assert_eq(g->pValue == NULL, w->pValue == NULL, "attribute 0x%lx: length query",
		             w->type);
		if (w->pValue == NULL)
			continue;
		cr_assert_eq(g->ulValueLen, w->ulValueLen, "attribute 0x%lx: capacity", w->type);
		if (ls_rpc_attribute_kind(w->type) == LS_RPC_ATTR_TEMPLATE)
			expect_query(w->pValue, w->ulValueLen / sizeof(CK_ATTRIBUTE), g->pValue,
			             g->ulValueLen / sizeof(CK_ATTRIBUTE));
		else
			for (CK_ULONG j = 0; j < g->ulValueLen; j++)
				cr_assert_eq(((const CK_BYTE *)g->pValue)[j], 0,
				             "buffers are zeroed");
	}
}

static void
expect_results(const CK_ATTRIBUTE *want, CK_ULONG n, const CK_ATTRIBUTE *got, CK_ULONG got_n)
{
	cr_assert_eq(got_n, n);
	for (CK_ULONG i = 0; i < n; i++) {
		const CK_ATTRIBUTE *w = &want[i], *g = &got[i];

		cr_assert_eq(g->type, w->type);
		cr_assert_eq(g->ulValueLen, w->ulValueLen, "result 0x%lx: length", w->type);
		if (w->ulValueLen == CK_UNAVAILABLE_INFORMATION) {
			cr_assert_null(g->pValue);
			continue;
		}
		cr_assert_eq(g->pValue == NULL, w->pValue == NULL, "result 0x%lx: value or length",
		             w->type);
		if (w->pValue == NULL)
			continue;
		if (ls_rpc_attribute_kind(w->type) == LS_RPC_ATTR_TEMPLATE)
			expect_results(w->pValue, w->ulValueLen / sizeof(CK_ATTRIBUTE), g->pValue,
			               g->ulValueLen / sizeof(CK_ATTRIBUTE));
		else
			expect_bytes(w->pValue, w->ulValueLen, g->pValue, g->ulValueLen, false,
			             "result value");
	}
}

static void
expect_token_info(const CK_TOKEN_INFO *w, const CK_TOKEN_INFO *g)
{
	cr_assert_not_null(g);
	cr_assert_eq(memcmp(g->label, w->label, 32), 0);
	cr_assert_eq(memcmp(g->manufacturerID, w->manufacturerID, 32), 0);
	cr_assert_eq(memcmp(g->model, w->model, 16), 0);
	cr_assert_eq(memcmp(g->serialNumber, w->serialNumber, 16), 0);
	cr_assert_eq(g->flags, w->flags);
	cr_assert_eq(g->ulMaxSessionCount, w->ulMaxSessionCount);
	cr_assert_eq(g->ulSessionCount, w->ulSessionCount);
	cr_assert_eq(g->ulMaxRwSessionCount, w->ulMaxRwSessionCount);
	cr_assert_eq(g->ulRwSessionCount, w->ulRwSessionCount);
	cr_assert_eq(g->ulMaxPinLen, w->ulMaxPinLen);
	cr_assert_eq(g->ulMinPinLen, w->ulMinPinLen);
	cr_assert_eq(g->ulTotalPublicMemory, w->ulTotalPublicMemory);
	cr_assert_eq(g->ulFreePublicMemory, w->ulFreePublicMemory);
	cr_assert_eq(g->ulTotalPrivateMemory, w->ulTotalPrivateMemory);
	cr_assert_eq(g->ulFreePrivateMemory, w->ulFreePrivateMemory);
	cr_assert_eq(g->hardwareVersion.major, w->hardwareVersion.major);
	cr_assert_eq(g->hardwareVersion.minor, w->hardwareVersion.minor);
	cr_assert_eq(g->firmwareVersion.major, w->firmwareVersion.major);
	cr_assert_eq(g->firmwareVersion.minor, w->firmwareVersion.minor);
	cr_assert_eq(memcmp(g->utcTime, w->utcTime, 16), 0);
}

static void
expect_value(const ls_rpc_value *w, const ls_rpc_value *g, CK_RV rv)
{
	cr_assert_eq(g->kind, w->kind);
	switch (w->kind) {
	case 'u':
	case 'h': cr_assert_eq(g->ul, w->ul); break;
	case 'b': cr_assert_eq(g->b, w->b ? CK_TRUE : CK_FALSE); break;
	case 'y':
		expect_bytes(w->bytes.ptr, w->bytes.len, g->bytes.ptr, g->bytes.len, true, "bytes");
		break;
	case 'p':
		cr_assert_eq(g->bytes.ptr == NULL, w->bytes.ptr == NULL, "PIN NULL-ness");
		if (w->bytes.ptr != NULL)
			expect_bytes(w->bytes.ptr, w->bytes.len, g->bytes.ptr, g->bytes.len, false,
			             "PIN");
		break;
	case 'z':
		expect_bytes(w->bytes.ptr, w->bytes.len, g->bytes.ptr, g->bytes.len, false, "text");
		cr_assert_eq(g->bytes.ptr[g->bytes.len], '\0', "text is NUL-terminated");
		break;
	case 'L':
	case 'V':
	case 'K':
		expect_bytes(w->bytes.ptr, w->bytes.len, g->bytes.ptr, g->bytes.len, true, "fixed");
		break;
	case 'M': expect_mechanism(w->mech, g->mech); break;
	case 'T': expect_template(w->attrs.v, w->attrs.n, g->attrs.v, g->attrs.n); break;
	case 'A': expect_query(w->attrs.v, w->attrs.n, g->attrs.v, g->attrs.n); break;
	case 'R': expect_results(w->attrs.v, w->attrs.n, g->attrs.v, g->attrs.n); break;
	case 'o':
		cr_assert_eq(g->out.buf == NULL, w->out.buf == NULL, "length query");
		if (w->out.buf != NULL)
			cr_assert_eq(g->out.len, w->out.len);
		break;
	case 'O':
		cr_assert_eq(g->output.len, w->output.len);
		if (w->output.data != NULL && rv == CKR_OK)
			expect_bytes(w->output.data, w->output.len, g->output.data, g->output.len,
			             false, "output");
		else
			cr_assert_null(g->output.data, "length only");
		break;
	case 'U':
		cr_assert_eq(g->ulongs.n, w->ulongs.n);
		for (CK_ULONG i = 0; i < w->ulongs.n; i++)
			cr_assert_eq(g->ulongs.v[i], w->ulongs.v[i]);
		break;
	case 'I': expect_token_info(w->token_info, g->token_info); break;
	case 'S':
		cr_assert_eq(g->session_info->state, w->session_info->state);
		cr_assert_eq(g->session_info->flags, w->session_info->flags);
		cr_assert_eq(g->session_info->ulDeviceError, w->session_info->ulDeviceError);
		cr_assert_eq(g->session_info->slotID, 0, "the slot is the client's business");
		break;
	case 'N':
		cr_assert_eq(g->mech_info->ulMinKeySize, w->mech_info->ulMinKeySize);
		cr_assert_eq(g->mech_info->ulMaxKeySize, w->mech_info->ulMaxKeySize);
		cr_assert_eq(g->mech_info->flags, w->mech_info->flags);
		break;
	case 'W':
		cr_assert_eq(g->mechs.n, w->mechs.n);
		for (CK_ULONG i = 0; i < w->mechs.n; i++) {
			cr_assert_eq(g->mechs.v[i].type, w->mechs.v[i].type);
			cr_assert_eq(g->mechs.v[i].info.ulMinKeySize,
			             w->mechs.v[i].info.ulMinKeySize);
			cr_assert_eq(g->mechs.v[i].info.ulMaxKeySize,
			             w->mechs.v[i].info.ulMaxKeySize);
			cr_assert_eq(g->mechs.v[i].info.flags, w->mechs.v[i].info.flags);
		}
		break;
	case 'Z':
		cr_assert_str_eq(g->status->nickname, w->status->nickname);
		cr_assert_eq(g->status->flags, w->status->flags);
		cr_assert_eq(g->status->created, w->status->created);
		cr_assert_eq(g->status->password_changed, w->status->password_changed);
		cr_assert_eq(g->status->last_login, w->status->last_login);
		cr_assert_str_eq(g->status->last_login_from, w->status->last_login_from);
		cr_assert_eq(g->status->failed_logins, w->status->failed_logins);
		cr_assert_eq(g->status->connections, w->status->connections);
		cr_assert_eq(g->status->log_entries, w->status->log_entries);
		break;
	case 'E':
		cr_assert_eq(g->log.n, w->log.n);
		for (CK_ULONG i = 0; i < w->log.n; i++) {
			cr_assert_eq(g->log.v[i].seq, w->log.v[i].seq);
			cr_assert_eq(g->log.v[i].time, w->log.v[i].time);
			cr_assert_eq(g->log.v[i].event, w->log.v[i].event);
			cr_assert_str_eq(g->log.v[i].text, w->log.v[i].text);
		}
		break;
	default: cr_assert_fail("unknown letter '%c'", w->kind);
	}
}

/* ---- round-trip helpers ------------------------------------------------------------------- */

#define REQ_ID 0x1122334455667788ull

static void
view_of(ls_buf *view, const ls_buf *b)
{
	ls_buf_init_view(view, ls_buf_data(b), ls_buf_len(b));
}

static ls_rpc_msg *
decode_request_ok(const ls_buf *wire)
{
	ls_rpc_msg *msg = NULL;
	ls_buf view;
	int r;

	view_of(&view, wire);
	r = ls_rpc_request_decode(&view, &msg);
	cr_assert_eq(r, LS_OK, "request decode: %s", ls_strerror(r));
	cr_assert_not_null(msg);
	return msg;
}

static ls_rpc_msg *
decode_response_ok(const ls_buf *wire, uint16_t call)
{
	ls_rpc_msg *msg = NULL;
	ls_buf view;
	int r;

	view_of(&view, wire);
	r = ls_rpc_response_decode(&view, call, &msg);
	cr_assert_eq(r, LS_OK, "response decode (%s): %s", ls_rpc_call_name(call), ls_strerror(r));
	return msg;
}

static int
decode_request_err(const uint8_t *p, size_t n)
{
	ls_rpc_msg *msg = NULL;
	ls_buf view;
	int r;

	ls_buf_init_view(&view, p, n);
	r = ls_rpc_request_decode(&view, &msg);
	if (r != LS_OK && r != LS_ERR_UNSUPPORTED)
		cr_assert_null(msg, "no message after an error");
	ls_rpc_msg_free(msg);
	return r;
}

static int
decode_response_err(const uint8_t *p, size_t n, uint16_t call)
{
	ls_rpc_msg *msg = NULL;
	ls_buf view;
	int r;

	ls_buf_init_view(&view, p, n);
	r = ls_rpc_response_decode(&view, call, &msg);
	if (r != LS_OK)
		cr_assert_null(msg);
	ls_rpc_msg_free(msg);
	return r;
}

/* Encodes a request, decodes it, compares, re-encodes the decoded values: same bytes. */
static void
round_trip_request(const ls_rpc_call *c, const ls_rpc_value *args, size_t n, ls_buf *wire)
{
	const ls_rpc_value *got;
	ls_rpc_msg *msg;
	size_t got_n;
	ls_buf again;
	CK_RV rv;

	ls_buf_init(wire, LS_RPC_MAX_MESSAGE);
	rv = ls_rpc_request_encode(wire, c->id, REQ_ID, args, n);
	cr_assert_eq(rv, CKR_OK, "%s: request encode: 0x%lx", c->name, rv);
	msg = decode_request_ok(wire);
	cr_assert_eq(ls_rpc_msg_call(msg), c->id);
	cr_assert_eq(ls_rpc_msg_request_id(msg), REQ_ID);
	cr_assert_eq(ls_rpc_msg_rv(msg), CKR_OK);
	got = ls_rpc_msg_args(msg, &got_n);
	cr_assert_eq(got_n, n, "%s: %zu items decoded, want %zu", c->name, got_n, n);
	for (size_t i = 0; i < n; i++) {
		expect_value(&args[i], &got[i], CKR_OK);
		cr_assert_eq(ls_rpc_msg_arg(msg, i, c->request[i]), &got[i]);
	}
	ls_buf_init(&again, LS_RPC_MAX_MESSAGE);
	cr_assert_eq(ls_rpc_request_encode(&again, c->id, REQ_ID, got, got_n), CKR_OK);
	cr_assert_eq(ls_buf_len(&again), ls_buf_len(wire), "%s: re-encoding changes the length",
	             c->name);
	cr_assert_eq(memcmp(ls_buf_data(&again), ls_buf_data(wire), ls_buf_len(wire)), 0,
	             "%s: re-encoding changes the bytes", c->name);
	ls_buf_clear(&again);
	ls_rpc_msg_free(msg);
}

static void
round_trip_response(const ls_rpc_call *c, CK_RV rv, const ls_rpc_value *args, size_t n,
                    ls_buf *wire)
{
	bool body = ls_rpc_response_has_body(c, rv);
	const ls_rpc_value *got;
	ls_rpc_msg *msg;
	size_t got_n;
	uint64_t peek;
	ls_buf again, view;
	int r;

	ls_buf_init(wire, LS_RPC_MAX_MESSAGE);
	r = ls_rpc_response_encode(wire, c->id, REQ_ID, rv, args, n);
	cr_assert_eq(r, LS_OK, "%s: response encode: %s", c->name, ls_strerror(r));
	if (!body)
		cr_assert_eq(ls_buf_len(wire), LS_RPC_RESPONSE_HEADER_SIZE, "no body with 0x%lx",
		             rv);
	view_of(&view, wire);
	cr_assert_eq(ls_rpc_response_peek(&view, &peek), LS_OK);
	cr_assert_eq(peek, REQ_ID);
	cr_assert_eq(ls_buf_remaining(&view), ls_buf_len(wire), "peek consumes nothing");
	msg = decode_response_ok(wire, c->id);
	cr_assert_eq(ls_rpc_msg_request_id(msg), REQ_ID);
	cr_assert_eq(ls_rpc_msg_rv(msg), rv);
	got = ls_rpc_msg_args(msg, &got_n);
	cr_assert_eq(got_n, body ? n : 0);
	for (size_t i = 0; i < got_n; i++)
		expect_value(&args[i], &got[i], rv);
	ls_buf_init(&again, LS_RPC_MAX_MESSAGE);
	cr_assert_eq(ls_rpc_response_encode(&again, c->id, REQ_ID, rv, got, got_n), LS_OK);
	cr_assert_eq(ls_buf_len(&again), ls_buf_len(wire));
	cr_assert_eq(memcmp(ls_buf_data(&again), ls_buf_data(wire), ls_buf_len(wire)), 0,
	             "%s: re-encoding the response changes the bytes", c->name);
	ls_buf_clear(&again);
	ls_rpc_msg_free(msg);
}

/* The CK_RVs whose responses to @c carry a body, and one error that does not. */
static size_t
rvs_for(const ls_rpc_call *c, CK_RV *rvs)
{
	size_t n = 0;

	rvs[n++] = CKR_OK;
	if (c->flags & LS_RPC_F_OUTPUT)
		rvs[n++] = CKR_BUFFER_TOO_SMALL;
	if (c->flags & LS_RPC_F_ATTRS) {
		rvs[n++] = CKR_ATTRIBUTE_SENSITIVE;
		rvs[n++] = CKR_ATTRIBUTE_TYPE_INVALID;
		rvs[n++] = CKR_BUFFER_TOO_SMALL;
	}
	rvs[n++] = CKR_SESSION_HANDLE_INVALID;
	rvs[n++] = CKR_VENDOR_DEFINED | 0x77;
	return n;
}

/* ---- the table ---------------------------------------------------------------------------- */

Test(rpc, table_is_ordered_unique_and_well_formed)
{
	const ls_rpc_call *t;
	size_t n;

	t = ls_rpc_calls(&n);
	cr_assert_gt(n, 60);
	for (size_t i = 0; i < n; i++) {
		const char *sigs[2] = { t[i].request, t[i].response };
		bool has_O = strchr(t[i].response, 'O') != NULL;
		bool has_R = strchr(t[i].response, 'R') != NULL;

		if (i > 0)
			cr_assert_gt(t[i].id, t[i - 1].id, "ids ascend: %s", t[i].name);
		cr_assert_eq(ls_rpc_call_find(t[i].id), &t[i]);
		cr_assert_str_eq(ls_rpc_call_name(t[i].id), t[i].name);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(t[j].name, t[i].name);
		for (int s = 0; s < 2; s++) {
			cr_assert_leq(strlen(sigs[s]), LS_RPC_MAX_ARGS);
			for (const char *p = sigs[s]; *p; p++)
				cr_assert_not_null(strchr("uhbypzLVKMTARoOUISNWZE", *p),
				                   "%s: letter '%c'", t[i].name, *p);
		}
		/* 'o' and 'A' are requests' letters, 'O' and 'R' responses'. */
		cr_assert_null(strpbrk(t[i].request, "ORISNWZE"), "%s", t[i].name);
		cr_assert_null(strpbrk(t[i].response, "oAMTpLV"), "%s", t[i].name);
		cr_assert_eq(has_O, (t[i].flags & LS_RPC_F_OUTPUT) != 0, "%s: F_OUTPUT", t[i].name);
		cr_assert_eq(has_O, strchr(t[i].request, 'o') != NULL, "%s: 'o' <-> 'O'",
		             t[i].name);
		cr_assert_eq(has_R, (t[i].flags & LS_RPC_F_ATTRS) != 0, "%s: F_ATTRS", t[i].name);
		cr_assert_eq(has_R, strchr(t[i].request, 'A') != NULL, "%s: 'A' <-> 'R'",
		             t[i].name);
	}
	cr_assert_null(ls_rpc_call_find(0));
	cr_assert_null(ls_rpc_call_find(0xffff));
	cr_assert_str_eq(ls_rpc_call_name(0x7777), "unknown");
}

Test(rpc, table_covers_the_token_surface)
{
	static const char *const need[] = {
		"C_GetTokenInfo",
		"C_GetMechanismList",
		"C_GetMechanismInfo",
		"C_InitToken",
		"C_InitPIN",
		"C_SetPIN",
		"C_OpenSession",
		"C_CloseSession",
		"C_CloseAllSessions",
		"C_GetSessionInfo",
		"C_GetOperationState",
		"C_SetOperationState",
		"C_Login",
		"C_Logout",
		"C_CreateObject",
		"C_CopyObject",
		"C_DestroyObject",
		"C_GetObjectSize",
		"C_GetAttributeValue",
		"C_SetAttributeValue",
		"C_FindObjectsInit",
		"C_FindObjects",
		"C_FindObjectsFinal",
		"C_EncryptInit",
		"C_Encrypt",
		"C_EncryptUpdate",
		"C_EncryptFinal",
		"C_DecryptInit",
		"C_Decrypt",
		"C_DecryptUpdate",
		"C_DecryptFinal",
		"C_DigestInit",
		"C_Digest",
		"C_DigestUpdate",
		"C_DigestKey",
		"C_DigestFinal",
		"C_SignInit",
		"C_Sign",
		"C_SignUpdate",
		"C_SignFinal",
		"C_SignRecoverInit",
		"C_SignRecover",
		"C_VerifyInit",
		"C_Verify",
		"C_VerifyUpdate",
		"C_VerifyFinal",
		"C_VerifyRecoverInit",
		"C_VerifyRecover",
		"C_GenerateKey",
		"C_GenerateKeyPair",
		"C_WrapKey",
		"C_UnwrapKey",
		"C_DeriveKey",
		"C_SeedRandom",
		"C_GenerateRandom",
		"C_LoginUser",
		"C_SessionCancel",
		"SignOneShot",
		"VerifyOneShot",
		"EncryptOneShot",
		"DecryptOneShot",
		"GetMechanismInfoAll",
		"AccountChangePassword",
		"AccountStatus",
		"AccountReadLog",
		"AccountRecreateToken",
		"AccountUnregister",
		"LeaseNew",
		"LeaseResume",
	};
	const ls_rpc_call *t;
	size_t n, found = 0;

	t = ls_rpc_calls(&n);
	for (size_t i = 0; i < N_ELEMS(need); i++) {
		bool ok = false;

		for (size_t j = 0; j < n; j++)
			ok = ok || strcmp(t[j].name, need[i]) == 0;
		cr_expect(ok, "%s is missing from the table", need[i]);
		found += ok;
	}
	cr_assert_eq(found, N_ELEMS(need));
	cr_assert_eq(n, N_ELEMS(need), "a call the tests do not know about");
}

Test(rpc, docs_list_every_row_of_the_table)
{
	const char *data = getenv("LS11_TEST_DATA");
	char path[4096], row[256];
	const ls_rpc_call *t;
	size_t n, len = 0;
	char *doc;
	FILE *f;

	cr_assert_not_null(data, "LS11_TEST_DATA is not set");
	snprintf(path, sizeof(path), "%s/../../docs/protocol-rpc.md", data);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	doc = calloc(1, 1 << 20);
	len = fread(doc, 1, (1 << 20) - 1, f);
	fclose(f);
	cr_assert_gt(len, 0);
	t = ls_rpc_calls(&n);
	for (size_t i = 0; i < n; i++) {
		snprintf(row, sizeof(row), "| 0x%04X | %s | %s | %s |", t[i].id, t[i].name,
		         t[i].request[0] ? t[i].request : "-",
		         t[i].response[0] ? t[i].response : "-");
		cr_expect_not_null(strstr(doc, row), "docs/protocol-rpc.md lacks the row \"%s\"",
		                   row);
	}
	snprintf(row, sizeof(row), "LS_RPC_VERSION = %d", LS_RPC_VERSION);
	cr_expect_not_null(strstr(doc, row), "the docs name the protocol version");
	free(doc);
}

/* ---- every call round-trips ---------------------------------------------------------------- */

Test(rpc, every_request_round_trips)
{
	const ls_rpc_call *t;
	size_t n;

	init_samples();
	t = ls_rpc_calls(&n);
	for (size_t i = 0; i < n; i++) {
		unsigned nv = variants_for(t[i].request);

		for (unsigned v = 0; v < nv; v++) {
			ls_rpc_value args[LS_RPC_MAX_ARGS];
			size_t na = samples_for(t[i].request, v, args);
			ls_buf wire;

			round_trip_request(&t[i], args, na, &wire);
			ls_buf_clear(&wire);
		}
	}
}

Test(rpc, every_response_round_trips_with_each_kind_of_rv)
{
	const ls_rpc_call *t;
	size_t n;

	init_samples();
	t = ls_rpc_calls(&n);
	for (size_t i = 0; i < n; i++) {
		CK_RV rvs[8];
		size_t nrv = rvs_for(&t[i], rvs);

		for (size_t k = 0; k < nrv; k++)
			for (unsigned v = 0; v < 3; v++) {
				ls_rpc_value args[LS_RPC_MAX_ARGS];
				size_t na = samples_for(t[i].response, v, args);
				ls_buf wire;

				round_trip_response(&t[i], rvs[k], args, na, &wire);
				ls_buf_clear(&wire);
			}
	}
}

Test(rpc, an_error_response_is_the_header_only_and_any_client_reads_it)
{
	const ls_rpc_call *t;
	ls_rpc_msg *msg;
	ls_buf wire;
	size_t n, na;

	t = ls_rpc_calls(&n);
	ls_buf_init(&wire, 64);
	cr_assert_eq(ls_rpc_response_encode_error(&wire, 99, CKR_PIN_INCORRECT), LS_OK);
	cr_assert_eq(ls_buf_len(&wire), LS_RPC_RESPONSE_HEADER_SIZE);
	for (size_t i = 0; i < n; i++) {
		msg = decode_response_ok(&wire, t[i].id);
		cr_assert_eq(ls_rpc_msg_rv(msg), CKR_PIN_INCORRECT);
		cr_assert_eq(ls_rpc_msg_request_id(msg), 99);
		ls_rpc_msg_args(msg, &na);
		cr_assert_eq(na, 0);
		cr_assert_null(ls_rpc_msg_arg(msg, 0, 'O'));
		ls_rpc_msg_free(msg);
	}
	ls_buf_clear(&wire);
}

/* ---- pinned bytes --------------------------------------------------------------------------- */

static void
expect_wire(const ls_buf *b, const char *hex)
{
	uint8_t want[512];
	size_t n = test_unhex(hex, want, sizeof(want));

	cr_assert_eq(ls_buf_len(b), n, "length %zu, want %zu", ls_buf_len(b), n);
	cr_assert_eq(memcmp(ls_buf_data(b), want, n), 0, "bytes differ");
}

Test(rpc, bytes_of_sign_requests_and_responses)
{
	CK_BYTE sig[64];
	ls_buf b;

	ls_buf_init(&b, 512);
	cr_assert_eq(
	        ls_rpc_request_encode(&b, LS_RPC_C_Sign, 7,
	                              (ls_rpc_value[]){ LS_RPC_HANDLE(0x11), LS_RPC_BYTES("abc", 3),
	                                                LS_RPC_OUT(sig, 64) },
	                              3),
	        CKR_OK);
	expect_wire(&b,
	            "030f 0000000000000007 0000000000000011 00000003 616263 01 0000000000000040");
	ls_buf_reset(&b);
	cr_assert_eq(
	        ls_rpc_request_encode(&b, LS_RPC_C_Sign, 8,
	                              (ls_rpc_value[]){ LS_RPC_HANDLE(0x11), LS_RPC_BYTES("abc", 3),
	                                                LS_RPC_OUT(NULL, 0) },
	                              3),
	        CKR_OK);
	expect_wire(&b, "030f 0000000000000008 0000000000000011 00000003 616263 00");
	ls_buf_reset(&b);
	cr_assert_eq(ls_rpc_response_encode(&b, LS_RPC_C_Sign, 7, CKR_OK,
	                                    (ls_rpc_value[]){ LS_RPC_OUTPUT("sig!", 4) }, 1),
	             LS_OK);
	expect_wire(&b, "0000000000000007 0000000000000000 01 00000004 73696721");
	ls_buf_reset(&b);
	cr_assert_eq(ls_rpc_response_encode(&b, LS_RPC_C_Sign, 7, CKR_BUFFER_TOO_SMALL,
	                                    (ls_rpc_value[]){ LS_RPC_OUTPUT(sig, 0x150) }, 1),
	             LS_OK);
	expect_wire(&b, "0000000000000007 0000000000000150 00 0000000000000150");
	ls_buf_reset(&b);
	cr_assert_eq(ls_rpc_response_encode(&b, LS_RPC_C_Sign, 7, CKR_KEY_HANDLE_INVALID,
	                                    (ls_rpc_value[]){ LS_RPC_OUTPUT(sig, 64) }, 1),
	             LS_OK);
	expect_wire(&b, "0000000000000007 0000000000000060");
	ls_buf_clear(&b);
}

Test(rpc, bytes_of_login_mechanisms_and_templates)
{
	CK_BYTE iv[] = { 0xaa, 0xbb }, aad[] = { 0xcc };
	CK_GCM_PARAMS gcm = { iv, 2, 16, aad, 1, 64 };
	CK_MECHANISM mgm = { CKM_KUZNYECHIK_MGM, &gcm, sizeof(gcm) };
	CK_ULONG cls = CKO_PRIVATE_KEY;
	CK_BYTE id[] = { 0x01, 0x02 };
	CK_ATTRIBUTE find[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, id, 2 } };
	ls_buf b;

	ls_buf_init(&b, 512);
	cr_assert_eq(
	        ls_rpc_request_encode(&b, LS_RPC_C_Login, 1,
	                              (ls_rpc_value[]){ LS_RPC_HANDLE(5), LS_RPC_ULONG(CKU_USER),
	                                                LS_RPC_PIN("1234", 4) },
	                              3),
	        CKR_OK);
	expect_wire(&b,
	            "010d 0000000000000001 0000000000000005 0000000000000001 01 00000004 31323334");
	ls_buf_reset(&b);
	cr_assert_eq(ls_rpc_mechanism_encode(&b, &mgm), CKR_OK);
	expect_wire(&b, "00000000d432102d 02 0000001b"
	                " 00000002 aabb 0000000000000010 00000001 cc 0000000000000040");
	ls_buf_reset(&b);
	cr_assert_eq(
	        ls_rpc_request_encode(&b, LS_RPC_C_FindObjectsInit, 2,
	                              (ls_rpc_value[]){ LS_RPC_HANDLE(5), LS_RPC_TEMPLATE(find, 2),
	                                                LS_RPC_ULONG(16) },
	                              3),
	        CKR_OK);
	expect_wire(&b, "0207 0000000000000002 0000000000000005 00000002"
	                " 0000000000000000 00000008 0000000000000003"
	                " 0000000000000102 00000002 0102 0000000000000010");
	ls_buf_clear(&b);
}

/* ---- mechanisms ------------------------------------------------------------------------------ */

Test(rpc, every_parameter_kind_rebuilds_the_same_structure)
{
	bool seen[LS_RPC_PARAM_KIND_MAX + 1] = { false };

	for (size_t i = 0; i < N_VARIANTS_M; i++) {
		const ls_rpc_call *c = ls_rpc_call_find(LS_RPC_C_DeriveKey);
		ls_rpc_value args[] = { LS_RPC_HANDLE(1), LS_RPC_MECHANISM(&s_mechs[i]),
			                LS_RPC_HANDLE(2), LS_RPC_TEMPLATE(NULL, 0) };
		ls_rpc_msg *msg;
		ls_buf wire;

		cr_assert_eq(ls_rpc_mechanism_check(&s_mechs[i]), CKR_OK, "sample %zu", i);
		seen[s_mechs[i].ulParameterLen == 0
		             ? LS_RPC_PARAM_NONE
		             : ls_rpc_mechanism_param_kind(s_mechs[i].mechanism)] = true;
		round_trip_request(c, args, N_ELEMS(args), &wire);
		msg = decode_request_ok(&wire);
		/* The rebuilt parameter lives in the message's arena, not in the wire buffer. */
		if (s_mechs[i].ulParameterLen > 0) {
			const CK_MECHANISM *m = ls_rpc_msg_arg(msg, 1, 'M')->mech;
			const uint8_t *w = ls_buf_data(&wire);

			cr_assert((const uint8_t *)m->pParameter < w ||
			          (const uint8_t *)m->pParameter >= w + ls_buf_len(&wire));
		}
		ls_rpc_msg_free(msg);
		ls_buf_clear(&wire);
	}
	for (int k = 0; k <= LS_RPC_PARAM_KIND_MAX; k++)
		cr_assert(seen[k], "parameter kind %s not exercised",
		          ls_rpc_param_kind_name((ls_rpc_param_kind)k));
}

Test(rpc, the_mechanism_table_models_every_gost_parameter)
{
	static const struct {
		CK_MECHANISM_TYPE type;
		ls_rpc_param_kind kind;
	} want[] = {
		{ CKM_KUZNYECHIK_MGM, LS_RPC_PARAM_GCM },
		{ CKM_MAGMA_MGM, LS_RPC_PARAM_GCM },
		{ CKM_GOSTR3410_DERIVE, LS_RPC_PARAM_GOST_DERIVE },
		{ CKM_GOSTR3410_12_DERIVE, LS_RPC_PARAM_GOST_DERIVE },
		{ CKM_VKO_GOSTR3410_2012_512, LS_RPC_PARAM_GOST_DERIVE },
		{ CKM_GOST_KEG, LS_RPC_PARAM_GOST_KEG },
		{ CKM_KDF_TREE_GOSTR3411_2012_256, LS_RPC_PARAM_KDF_TREE },
		{ CKM_KDF_GOSTR3411_2012_256, LS_RPC_PARAM_KDF_TREE },
		{ CKM_GOSTR3410_KEY_WRAP, LS_RPC_PARAM_GOST_KEY_WRAP },
		{ CKM_GOST28147, LS_RPC_PARAM_BYTES },
		{ CKM_GOST28147_MAC, LS_RPC_PARAM_BYTES },
		{ CKM_GOST28147_KEY_WRAP, LS_RPC_PARAM_BYTES },
		{ CKM_KUZNYECHIK_CTR_ACPKM, LS_RPC_PARAM_BYTES },
		{ CKM_MAGMA_CTR_ACPKM, LS_RPC_PARAM_BYTES },
		{ CKM_KUZNYECHIK_KEXP_15_WRAP, LS_RPC_PARAM_BYTES },
		{ CKM_MAGMA_KEXP_15_WRAP, LS_RPC_PARAM_BYTES },
		{ CKM_GOSTR3410_WITH_GOSTR3411, LS_RPC_PARAM_BYTES },
		{ CKM_GOSTR3411, LS_RPC_PARAM_BYTES },
		{ CKM_GOSTR3411_HMAC, LS_RPC_PARAM_BYTES },
		{ CKM_GOSTR3410_WITH_GOSTR3411_12_256, LS_RPC_PARAM_NONE },
		{ CKM_GOSTR3410_512, LS_RPC_PARAM_NONE },
		{ CKM_KUZNYECHIK_ECB, LS_RPC_PARAM_NONE },
	};

	for (size_t i = 0; i < N_ELEMS(want); i++)
		cr_assert_eq(ls_rpc_mechanism_param_kind(want[i].type), want[i].kind,
		             "mechanism 0x%lx", want[i].type);
}

Test(rpc, parameterless_mechanisms_always_pass)
{
	CK_MECHANISM_TYPE types[] = { CKM_RSA_PKCS,
		                      CKM_AES_GCM,
		                      CKM_VENDOR_DEFINED | 0xabc,
		                      CKM_KUZNYECHIK_MGM,
		                      CKM_GOSTR3410_KEY_WRAP,
		                      0 };
	CK_BYTE dummy;

	for (size_t i = 0; i < N_ELEMS(types); i++) {
		CK_MECHANISM m = { types[i], NULL, 0 };
		CK_MECHANISM m2 = { types[i], &dummy,
			            0 }; /* a pointer with length 0: no parameter */

		cr_assert_eq(ls_rpc_mechanism_check(&m), CKR_OK);
		cr_assert_eq(ls_rpc_mechanism_check(&m2), CKR_OK);
	}
}

Test(rpc, unmodelled_parameters_are_refused_client_side)
{
	CK_GCM_PARAMS gcm = { m_iv16, 16, 128, NULL, 0, 128 };
	CK_BYTE big[LS_RPC_MAX_PARAM_BYTES + 1] = { 0 };
	CK_BYTE oid[] = { 0x06, 0x01, 0x00 };
	CK_GOSTR3410_DERIVE_PARAMS bad_derive = { CKD_NULL, NULL, 64, m_ukm8, 8 };
	CK_KDF_TREE_GOST_PARAMS bad_tree = {
		4, m_label, LS_RPC_MAX_PARAM_BYTES + 1, big, 1, 256, 0
	};
	CK_GCM_PARAMS bad_gcm = { NULL, 12, 96, NULL, 0, 128 };
	const CK_MECHANISM bad[] = {
		/* a structure the protocol does not model (AES-GCM is not in the table) */
		{ CKM_AES_GCM, &gcm, sizeof(gcm) },
		/* PBKDF2 parameters: unmodelled */
		{ CKM_PKCS5_PBKD2, big, 40 },
		/* a parameter for a mechanism that takes none */
		{ CKM_GOSTR3410_WITH_GOSTR3411_12_256, oid, sizeof(oid) },
		{ CKM_KUZNYECHIK_ECB, m_iv16, 16 },
		/* the right kind with the wrong size */
		{ CKM_KUZNYECHIK_MGM, &gcm, sizeof(gcm) - 1 },
		{ CKM_GOST_KEG, &m_derive, sizeof(m_derive) },
		/* bytes over the cap */
		{ CKM_GOST28147, big, sizeof(big) },
		/* a NULL pointer with a length, outside or inside */
		{ CKM_GOST28147, NULL, 8 },
		{ CKM_GOSTR3410_12_DERIVE, &bad_derive, sizeof(bad_derive) },
		{ CKM_MAGMA_MGM, &bad_gcm, sizeof(bad_gcm) },
		{ CKM_KDF_TREE_GOSTR3411_2012_256, &bad_tree, sizeof(bad_tree) },
	};
	ls_buf b;

	ls_buf_init(&b, 4096);
	ls_buf_add(&b, "prefix", 6);
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		cr_assert_eq(ls_rpc_mechanism_check(&bad[i]), CKR_MECHANISM_PARAM_INVALID,
		             "case %zu", i);
		cr_assert_eq(ls_rpc_mechanism_encode(&b, &bad[i]), CKR_MECHANISM_PARAM_INVALID,
		             "case %zu", i);
		cr_assert_eq(ls_rpc_request_encode(&b, LS_RPC_C_SignInit, 1,
		                                   (ls_rpc_value[]){ LS_RPC_HANDLE(1),
		                                                     LS_RPC_MECHANISM(&bad[i]),
		                                                     LS_RPC_HANDLE(2) },
		                                   3),
		             CKR_MECHANISM_PARAM_INVALID, "case %zu", i);
		cr_assert_eq(ls_buf_len(&b), 6, "nothing written");
		cr_assert_eq(ls_buf_status(&b), LS_OK, "the buffer stays usable");
	}
	cr_assert_eq(memcmp(ls_buf_data(&b), "prefix", 6), 0);
	cr_assert_eq(ls_rpc_mechanism_check(NULL), CKR_ARGUMENTS_BAD);
	ls_buf_clear(&b);
}

/* A C_DigestInit request (session 1) with a hand-made mechanism. */
static void
digest_init_with(ls_buf *b, uint64_t type, uint8_t kind, const void *blob, uint32_t blob_len)
{
	ls_buf_init(b, 4096);
	ls_buf_add_u16(b, LS_RPC_C_DigestInit);
	ls_buf_add_u64(b, 31);
	ls_buf_add_u64(b, 1);
	ls_buf_add_u64(b, type);
	ls_buf_add_u8(b, kind);
	ls_buf_add_string(b, blob, blob_len);
	cr_assert_eq(ls_buf_status(b), LS_OK);
}

Test(rpc, a_parameter_of_the_wrong_kind_is_answered_not_fatal)
{
	static const struct {
		uint64_t type;
		uint8_t kind;
	} cases[] = {
		{ CKM_KUZNYECHIK_MGM, LS_RPC_PARAM_BYTES },
		{ CKM_GOSTR3410_WITH_GOSTR3411_12_256, LS_RPC_PARAM_BYTES },
		{ CKM_AES_GCM, LS_RPC_PARAM_GCM },
		{ CKM_GOST_KEG, LS_RPC_PARAM_GOST_DERIVE },
		{ CKM_GOST28147, LS_RPC_PARAM_KDF_TREE },
	};
	uint8_t blob[] = { 1, 2, 3 };

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		ls_rpc_msg *msg = NULL;
		size_t na;
		ls_buf b, view;

		digest_init_with(&b, cases[i].type, cases[i].kind, blob, sizeof(blob));
		view_of(&view, &b);
		cr_assert_eq(ls_rpc_request_decode(&view, &msg), LS_ERR_UNSUPPORTED, "case %zu", i);
		cr_assert_not_null(msg);
		cr_assert_eq(ls_rpc_msg_rv(msg), CKR_MECHANISM_PARAM_INVALID);
		cr_assert_eq(ls_rpc_msg_request_id(msg), 31);
		cr_assert_eq(ls_rpc_msg_call(msg), LS_RPC_C_DigestInit);
		ls_rpc_msg_args(msg, &na);
		cr_assert_eq(na, 0, "a refused request hands nothing to the token");
		cr_assert_eq(ls_buf_remaining(&view), 0);
		ls_rpc_msg_free(msg);
		ls_buf_clear(&b);
	}
}

Test(rpc, malformed_mechanisms_are_protocol_violations)
{
	uint8_t one = 1;
	ls_buf b;

	/* an unknown parameter kind */
	digest_init_with(&b, CKM_GOSTR3411_12_256, LS_RPC_PARAM_KIND_MAX + 1, &one, 1);
	cr_assert_eq(decode_request_err(ls_buf_data(&b), ls_buf_len(&b)), LS_ERR_MALFORMED);
	ls_buf_clear(&b);
	/* "none" with bytes */
	digest_init_with(&b, CKM_GOSTR3411_12_256, LS_RPC_PARAM_NONE, &one, 1);
	cr_assert_eq(decode_request_err(ls_buf_data(&b), ls_buf_len(&b)), LS_ERR_MALFORMED);
	ls_buf_clear(&b);
	/* empty bytes (that is "none") */
	digest_init_with(&b, CKM_GOSTR3411, LS_RPC_PARAM_BYTES, NULL, 0);
	cr_assert_eq(decode_request_err(ls_buf_data(&b), ls_buf_len(&b)), LS_ERR_MALFORMED);
	ls_buf_clear(&b);
	/* bytes over the cap */
	{
		static uint8_t big[LS_RPC_MAX_PARAM_BYTES + 1];

		digest_init_with(&b, CKM_GOSTR3411, LS_RPC_PARAM_BYTES, big, sizeof(big));
		cr_assert_eq(decode_request_err(ls_buf_data(&b), ls_buf_len(&b)), LS_ERR_TOO_LARGE);
		ls_buf_clear(&b);
	}
	/* a structure with bytes left over inside its blob, and one cut short */
	{
		uint8_t keg[4 + 2 + 4 + 1 + 1] = { 0, 0, 0, 2, 0xaa, 0xbb, 0, 0, 0, 1, 0xcc, 0xdd };

		digest_init_with(&b, CKM_GOST_KEG, LS_RPC_PARAM_GOST_KEG, keg, sizeof(keg));
		cr_assert_eq(decode_request_err(ls_buf_data(&b), ls_buf_len(&b)),
		             LS_ERR_TRAILING_DATA);
		ls_buf_clear(&b);
		digest_init_with(&b, CKM_GOST_KEG, LS_RPC_PARAM_GOST_KEG, keg, sizeof(keg) - 3);
		cr_assert_eq(decode_request_err(ls_buf_data(&b), ls_buf_len(&b)), LS_ERR_TRUNCATED);
		ls_buf_clear(&b);
	}
}

/* ---- unknown calls --------------------------------------------------------------------------- */

Test(rpc, an_unknown_call_is_answered_with_function_not_supported)
{
	uint8_t wire[] = { 0x7e, 0x57, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef };
	ls_rpc_msg *msg = NULL, *resp;
	ls_buf view, out;

	ls_buf_init_view(&view, wire, sizeof(wire));
	cr_assert_eq(ls_rpc_request_decode(&view, &msg), LS_ERR_UNSUPPORTED);
	cr_assert_not_null(msg);
	cr_assert_eq(ls_rpc_msg_call(msg), 0x7e57);
	cr_assert_eq(ls_rpc_msg_request_id(msg), 0x1234);
	cr_assert_eq(ls_rpc_msg_rv(msg), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(ls_buf_remaining(&view), 0, "the body is skipped, whatever it holds");
	ls_buf_init(&out, 64);
	cr_assert_eq(
	        ls_rpc_response_encode_error(&out, ls_rpc_msg_request_id(msg), ls_rpc_msg_rv(msg)),
	        LS_OK);
	resp = decode_response_ok(&out, LS_RPC_C_GetTokenInfo);
	cr_assert_eq(ls_rpc_msg_rv(resp), CKR_FUNCTION_NOT_SUPPORTED);
	cr_assert_eq(ls_rpc_msg_request_id(resp), 0x1234);
	ls_rpc_msg_free(resp);
	ls_rpc_msg_free(msg);
	ls_buf_clear(&out);

	/* Id 0 is unknown too; the encoders refuse unknown ids. */
	wire[0] = wire[1] = 0;
	cr_assert_eq(decode_request_err(wire, sizeof(wire)), LS_ERR_UNSUPPORTED);
	ls_buf_init(&out, 64);
	cr_assert_eq(ls_rpc_request_encode(&out, 0x7e57, 1, NULL, 0), CKR_GENERAL_ERROR);
	cr_assert_eq(ls_rpc_response_encode(&out, 0x7e57, 1, CKR_OK, NULL, 0), LS_ERR_INVALID_ARG);
	cr_assert_eq(decode_response_err(wire, sizeof(wire), 0x7e57), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_buf_len(&out), 0);
	ls_buf_clear(&out);
}

/* ---- hostile input ----------------------------------------------------------------------------
 */

Test(rpc, every_truncation_and_every_trailing_byte_is_refused)
{
	const ls_rpc_call *t;
	size_t n;

	init_samples();
	t = ls_rpc_calls(&n);
	for (size_t i = 0; i < n; i++) {
		for (unsigned v = 0; v < variants_for(t[i].request); v++) {
			ls_rpc_value args[LS_RPC_MAX_ARGS];
			size_t na = samples_for(t[i].request, v, args), len, step;
			ls_buf wire, more;

			if (v % 3 == 2 && strpbrk(t[i].request, "yzU") != NULL)
				continue; /* the big samples: covered below, sparsely */
			ls_buf_init(&wire, LS_RPC_MAX_MESSAGE);
			cr_assert_eq(ls_rpc_request_encode(&wire, t[i].id, 5, args, na), CKR_OK);
			len = ls_buf_len(&wire);
			step = len > 2048 ? 97 : 1;
			for (size_t cut = 0; cut < len; cut += step)
				cr_assert_eq(decode_request_err(ls_buf_data(&wire), cut),
				             LS_ERR_TRUNCATED, "%s variant %u cut at %zu of %zu",
				             t[i].name, v, cut, len);
			ls_buf_init(&more, len + 1);
			ls_buf_add(&more, ls_buf_data(&wire), len);
			ls_buf_add_u8(&more, 0);
			cr_assert_eq(decode_request_err(ls_buf_data(&more), len + 1),
			             LS_ERR_TRAILING_DATA, "%s", t[i].name);
			ls_buf_clear(&more);
			ls_buf_clear(&wire);
		}
		for (unsigned v = 0; v < 3; v++) {
			CK_RV rvs[8];
			size_t nrv = rvs_for(&t[i], rvs);

			for (size_t k = 0; k < nrv; k++) {
				ls_rpc_value args[LS_RPC_MAX_ARGS];
				size_t na = samples_for(t[i].response, v, args), len, step;
				ls_buf wire, more;

				ls_buf_init(&wire, LS_RPC_MAX_MESSAGE);
				cr_assert_eq(
				        ls_rpc_response_encode(&wire, t[i].id, 5, rvs[k], args, na),
				        LS_OK);
				len = ls_buf_len(&wire);
				step = len > 2048 ? 211 : 1;
				for (size_t cut = 0; cut < len; cut += step)
					cr_assert_eq(decode_response_err(ls_buf_data(&wire), cut,
					                                 t[i].id),
					             LS_ERR_TRUNCATED, "%s response cut at %zu",
					             t[i].name, cut);
				ls_buf_init(&more, len + 1);
				ls_buf_add(&more, ls_buf_data(&wire), len);
				ls_buf_add_u8(&more, 0x5a);
				cr_assert_eq(
				        decode_response_err(ls_buf_data(&more), len + 1, t[i].id),
				        LS_ERR_TRAILING_DATA, "%s response", t[i].name);
				ls_buf_clear(&more);
				ls_buf_clear(&wire);
			}
		}
	}
}

/* A request header for @call, then whatever the test appends. */
static void
hostile(ls_buf *b, uint16_t call, size_t cap)
{
	ls_buf_init(b, cap);
	ls_buf_add_u16(b, call);
	ls_buf_add_u64(b, 1);
}

static int
decode_hostile(ls_buf *b)
{
	int r;

	cr_assert_eq(ls_buf_status(b), LS_OK);
	reset_counts();
	r = decode_request_err(ls_buf_data(b), ls_buf_len(b));
	ls_buf_clear(b);
	return r;
}

Test(rpc, a_template_of_a_million_attributes_allocates_nothing)
{
	ls_buf b;

	/* The count alone, and then the count followed by a full megabyte of attributes. */
	hostile(&b, LS_RPC_C_CreateObject, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u32(&b, 1000000);
	cr_assert_eq(decode_hostile(&b), LS_ERR_TOO_LARGE);
	cr_assert_eq(alloc_bytes, 0, "%zu bytes allocated for a refused count", alloc_bytes);

	hostile(&b, LS_RPC_C_FindObjectsInit, LS_RPC_MAX_MESSAGE);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u32(&b, 1000000);
	while (ls_buf_len(&b) + 12 <= LS_RPC_MAX_MESSAGE - 8) {
		ls_buf_add_u64(&b, CKA_LABEL);
		ls_buf_add_u32(&b, 0);
	}
	ls_buf_add_u64(&b, 0);
	reset_counts();
	cr_assert_eq(decode_hostile(&b), LS_ERR_TOO_LARGE);
	cr_assert_eq(alloc_bytes, 0);

	/* Just over the cap, with the attributes present. */
	hostile(&b, LS_RPC_C_CreateObject, 1 << 16);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u32(&b, LS_RPC_MAX_ATTRS + 1);
	for (int i = 0; i <= LS_RPC_MAX_ATTRS; i++) {
		ls_buf_add_u64(&b, CKA_LABEL);
		ls_buf_add_u32(&b, 0);
	}
	cr_assert_eq(decode_hostile(&b), LS_ERR_TOO_LARGE);
	cr_assert_eq(alloc_bytes, 0);

	/* A count the bytes cannot back: truncated, still nothing allocated. */
	hostile(&b, LS_RPC_C_CreateObject, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u32(&b, LS_RPC_MAX_ATTRS);
	cr_assert_eq(decode_hostile(&b), LS_ERR_TRUNCATED);
	cr_assert_eq(alloc_bytes, 0);
}

Test(rpc, a_million_attributes_are_refused_client_side_too)
{
	CK_ATTRIBUTE *many = calloc(1000000, sizeof(*many));
	ls_buf b;

	cr_assert_not_null(many);
	for (size_t i = 0; i < 1000000; i++)
		many[i].type = CKA_LABEL;
	ls_buf_init(&b, LS_RPC_MAX_MESSAGE);
	cr_assert_eq(ls_rpc_request_encode(
	                     &b, LS_RPC_C_CreateObject, 1,
	                     (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_TEMPLATE(many, 1000000) },
	                     2),
	             CKR_DEVICE_MEMORY);
	cr_assert_eq(ls_buf_len(&b), 0);
	cr_assert_eq(ls_rpc_request_encode(&b, LS_RPC_C_GetAttributeValue, 1,
	                                   (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_HANDLE(2),
	                                                     LS_RPC_QUERY(many, 1000000) },
	                                   3),
	             CKR_DEVICE_MEMORY);
	cr_assert_eq(ls_buf_len(&b), 0);
	ls_buf_clear(&b);
	free(many);
}

Test(rpc, oversized_lengths_and_counts_are_refused_before_allocation)
{
	ls_buf b;

	/* byte strings */
	hostile(&b, LS_RPC_C_Sign, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u32(&b, 0xffffffff);
	ls_buf_add(&b, "x", 1);
	cr_assert_eq(decode_hostile(&b), LS_ERR_TOO_LARGE);
	cr_assert_eq(alloc_bytes, 0);

	hostile(&b, LS_RPC_C_Login, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u64(&b, CKU_USER);
	ls_buf_add_u8(&b, 1);
	ls_buf_add_u32(&b, LS_RPC_MAX_PIN + 1);
	cr_assert_eq(decode_hostile(&b), LS_ERR_TOO_LARGE);
	cr_assert_eq(alloc_bytes, 0);

	/* an output capacity over what one response carries */
	hostile(&b, LS_RPC_C_Sign, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_string(&b, "d", 1);
	ls_buf_add_u8(&b, 1);
	ls_buf_add_u64(&b, LS_RPC_MAX_OUTPUT + 1);
	cr_assert_eq(decode_hostile(&b), LS_ERR_TOO_LARGE);
	cr_assert_leq(alloc_bytes, 4096, "only the first chunk, for the small data item: %zu",
	              alloc_bytes);

	hostile(&b, LS_RPC_C_Sign, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_string(&b, "d", 1);
	ls_buf_add_u8(&b, 1);
	ls_buf_add_u64(&b, UINT64_MAX);
	cr_assert_eq(decode_hostile(&b), LS_ERR_TOO_LARGE);

	/* the largest capacity is granted, and costs what it says and no more */
	hostile(&b, LS_RPC_C_Sign, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_string(&b, "d", 1);
	ls_buf_add_u8(&b, 1);
	ls_buf_add_u64(&b, LS_RPC_MAX_OUTPUT);
	cr_assert_eq(decode_hostile(&b), LS_OK);
	cr_assert_leq(alloc_bytes, LS_RPC_MAX_OUTPUT + 8192);

	/* C_GetAttributeValue capacities that add up to more than a response carries */
	hostile(&b, LS_RPC_C_GetAttributeValue, 256);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u64(&b, 2);
	ls_buf_add_u32(&b, 3);
	for (int i = 0; i < 3; i++) {
		ls_buf_add_u64(&b, CKA_VALUE);
		ls_buf_add_u8(&b, 1);
		ls_buf_add_u64(&b, LS_RPC_MAX_OUTPUT / 2);
	}
	cr_assert_eq(decode_hostile(&b), LS_ERR_TOO_LARGE);
	cr_assert_leq(alloc_bytes, LS_RPC_MAX_OUTPUT + 8192);

	/* lists over their caps */
	{
		static const struct {
			uint16_t call;
			const char *prefix; /* items before the list: 'h' */
			uint32_t count;
			bool response;
		} lists[] = {
			{ LS_RPC_C_FindObjects, "", LS_RPC_MAX_ULONGS + 1, true },
			{ LS_RPC_C_GetMechanismList, "", 0xffffffff, true },
			{ LS_RPC_GetMechanismInfoAll, "", LS_RPC_MAX_MECHANISMS + 1, true },
			{ LS_RPC_AccountReadLog, "", LS_RPC_MAX_LOG_ENTRIES + 1, true },
		};

		for (size_t i = 0; i < N_ELEMS(lists); i++) {
			ls_buf_init(&b, 64);
			ls_buf_add_u64(&b, 1);
			ls_buf_add_u64(&b, CKR_OK);
			ls_buf_add_u32(&b, lists[i].count);
			reset_counts();
			cr_assert_eq(
			        decode_response_err(ls_buf_data(&b), ls_buf_len(&b), lists[i].call),
			        LS_ERR_TOO_LARGE, "%s", ls_rpc_call_name(lists[i].call));
			cr_assert_eq(alloc_bytes, 0);
			ls_buf_clear(&b);
		}
	}

	/* an output over the cap in a response */
	ls_buf_init(&b, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u64(&b, CKR_OK);
	ls_buf_add_u8(&b, 1);
	ls_buf_add_u32(&b, LS_RPC_MAX_OUTPUT + 1);
	reset_counts();
	cr_assert_eq(decode_response_err(ls_buf_data(&b), ls_buf_len(&b), LS_RPC_C_Sign),
	             LS_ERR_TOO_LARGE);
	cr_assert_eq(alloc_bytes, 0);
	ls_buf_clear(&b);
}

Test(rpc, too_many_attributes_in_one_message_are_refused)
{
	/* C_GenerateKeyPair: two full templates, each attribute a nested template of 32. */
	ls_buf b;

	hostile(&b, LS_RPC_C_GenerateKeyPair, LS_RPC_MAX_MESSAGE);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u64(&b, CKM_GOSTR3410_KEY_PAIR_GEN);
	ls_buf_add_u8(&b, 0);
	ls_buf_add_u32(&b, 0);
	for (int t = 0; t < 2; t++) {
		ls_buf_add_u32(&b, 16);
		for (int i = 0; i < 16; i++) {
			ls_buf_add_u64(&b, CKA_WRAP_TEMPLATE);
			ls_buf_add_u32(&b, 4 + LS_RPC_MAX_NESTED_ATTRS * 12);
			ls_buf_add_u32(&b, LS_RPC_MAX_NESTED_ATTRS);
			for (int j = 0; j < LS_RPC_MAX_NESTED_ATTRS; j++) {
				ls_buf_add_u64(&b, CKA_LABEL);
				ls_buf_add_u32(&b, 0);
			}
		}
	}
	/* 2 * 16 * (1 + 32) = 1056 > LS_RPC_MAX_ATTRS_TOTAL */
	cr_assert_eq(decode_hostile(&b), LS_ERR_TOO_LARGE);
}

Test(rpc, nested_templates_too_deep_are_refused)
{
	CK_ULONG cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE deep_inner[] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_ATTRIBUTE inner[] = { { CKA_DERIVE_TEMPLATE, deep_inner, sizeof(deep_inner) } };
	CK_ATTRIBUTE outer[] = { { CKA_WRAP_TEMPLATE, inner, sizeof(inner) } };
	CK_ATTRIBUTE q_inner_deep[] = { { CKA_UNWRAP_TEMPLATE, deep_inner, sizeof(deep_inner) } };
	CK_ATTRIBUTE q_outer[] = { { CKA_WRAP_TEMPLATE, q_inner_deep, sizeof(q_inner_deep) } };
	ls_buf b;

	/* client side */
	ls_buf_init(&b, 4096);
	cr_assert_eq(ls_rpc_request_encode(
	                     &b, LS_RPC_C_CreateObject, 1,
	                     (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_TEMPLATE(outer, 1) }, 2),
	             CKR_ATTRIBUTE_VALUE_INVALID);
	cr_assert_eq(ls_rpc_request_encode(&b, LS_RPC_C_GetAttributeValue, 1,
	                                   (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_HANDLE(2),
	                                                     LS_RPC_QUERY(q_outer, 1) },
	                                   3),
	             CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_buf_len(&b), 0);
	ls_buf_clear(&b);

	/* server side: a template in a template in a template */
	hostile(&b, LS_RPC_C_CreateObject, 256);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u32(&b, 1);
	ls_buf_add_u64(&b, CKA_WRAP_TEMPLATE);
	ls_buf_add_u32(&b, 4 + 12 + 4 + 20);
	ls_buf_add_u32(&b, 1);
	ls_buf_add_u64(&b, CKA_DERIVE_TEMPLATE);
	ls_buf_add_u32(&b, 4 + 20);
	ls_buf_add_u32(&b, 1);
	ls_buf_add_u64(&b, CKA_CLASS);
	ls_buf_add_u32(&b, 8);
	ls_buf_add_u64(&b, CKO_DATA);
	cr_assert_eq(decode_hostile(&b), LS_ERR_MALFORMED);

	/* ... in a query */
	hostile(&b, LS_RPC_C_GetAttributeValue, 256);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u64(&b, 2);
	ls_buf_add_u32(&b, 1);
	ls_buf_add_u64(&b, CKA_WRAP_TEMPLATE);
	ls_buf_add_u8(&b, 1);
	ls_buf_add_u32(&b, 4 + 9 + 4 + 4);
	ls_buf_add_u32(&b, 1);
	ls_buf_add_u64(&b, CKA_DERIVE_TEMPLATE);
	ls_buf_add_u8(&b, 1);
	ls_buf_add_u32(&b, 4);
	ls_buf_add_u32(&b, 0);
	cr_assert_eq(decode_hostile(&b), LS_ERR_MALFORMED);

	/* ... and in results */
	ls_buf_init(&b, 256);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u64(&b, CKR_OK);
	ls_buf_add_u32(&b, 1);
	ls_buf_add_u64(&b, CKA_WRAP_TEMPLATE);
	ls_buf_add_u8(&b, 2);
	ls_buf_add_u32(&b, 4 + 13 + 4);
	ls_buf_add_u32(&b, 1);
	ls_buf_add_u64(&b, CKA_DERIVE_TEMPLATE);
	ls_buf_add_u8(&b, 2);
	ls_buf_add_u32(&b, 4);
	ls_buf_add_u32(&b, 0);
	cr_assert_eq(
	        decode_response_err(ls_buf_data(&b), ls_buf_len(&b), LS_RPC_C_GetAttributeValue),
	        LS_ERR_MALFORMED);
	ls_buf_clear(&b);
}

Test(rpc, flags_and_modes_out_of_range_are_malformed)
{
	ls_buf b;

	/* 'p' */
	hostile(&b, LS_RPC_C_Login, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u64(&b, CKU_USER);
	ls_buf_add_u8(&b, 2);
	cr_assert_eq(decode_hostile(&b), LS_ERR_MALFORMED);
	/* 'o' */
	hostile(&b, LS_RPC_C_Sign, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_string(&b, "d", 1);
	ls_buf_add_u8(&b, 2);
	cr_assert_eq(decode_hostile(&b), LS_ERR_MALFORMED);
	/* 'A' mode */
	hostile(&b, LS_RPC_C_GetAttributeValue, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u64(&b, 2);
	ls_buf_add_u32(&b, 1);
	ls_buf_add_u64(&b, CKA_LABEL);
	ls_buf_add_u8(&b, 3);
	cr_assert_eq(decode_hostile(&b), LS_ERR_MALFORMED);
	/* a CK_ULONG attribute of 4 bytes */
	hostile(&b, LS_RPC_C_CreateObject, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u32(&b, 1);
	ls_buf_add_u64(&b, CKA_CLASS);
	ls_buf_add_string(&b, "\0\0\0\4", 4);
	cr_assert_eq(decode_hostile(&b), LS_ERR_MALFORMED);
	/* CKA_ALLOWED_MECHANISMS of 12 bytes */
	hostile(&b, LS_RPC_C_CreateObject, 64);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u32(&b, 1);
	ls_buf_add_u64(&b, CKA_ALLOWED_MECHANISMS);
	ls_buf_add_string(&b, "abcdefghijkl", 12);
	cr_assert_eq(decode_hostile(&b), LS_ERR_MALFORMED);

	/* responses: 'b', 'O' data with an error, 'R' state, a NUL in a text */
	{
		struct {
			uint16_t call;
			uint64_t rv;
			const char *hex;
		} cases[] = {
			{ LS_RPC_C_FindObjectsInit, CKR_OK, "00000000 02" },
			{ LS_RPC_C_Sign, CKR_BUFFER_TOO_SMALL, "01 00000001 00" },
			{ LS_RPC_C_Sign, CKR_OK, "02" },
			{ LS_RPC_C_GetAttributeValue, CKR_OK, "00000001 0000000000000003 03" },
			{ LS_RPC_AccountReadLog, CKR_OK,
			  "00000001 0000000000000001 0000000000000002 0000000000000003 00000003 "
			  "610062"
			  " 0000000000000004 00" },
			{ LS_RPC_AccountStatus, CKR_OK,
			  "00000002 6100 0000000000000000 0000000000000000 0000000000000000"
			  " 0000000000000000 00000000 0000000000000000 0000000000000000"
			  " 0000000000000000" },
		};

		for (size_t i = 0; i < N_ELEMS(cases); i++) {
			uint8_t body[256];
			size_t n = test_unhex(cases[i].hex, body, sizeof(body));

			ls_buf_init(&b, 512);
			ls_buf_add_u64(&b, 1);
			ls_buf_add_u64(&b, cases[i].rv);
			ls_buf_add(&b, body, n);
			cr_assert_eq(
			        decode_response_err(ls_buf_data(&b), ls_buf_len(&b), cases[i].call),
			        LS_ERR_MALFORMED, "case %zu", i);
			ls_buf_clear(&b);
		}
	}
}

/* ---- output buffers: the module reproduces local semantics ---------------------------------- */

/* What a token does with an output buffer of capacity @cap (NULL: query) for @need bytes. */
static CK_RV
fake_output(CK_BYTE *buf, CK_ULONG *len, CK_ULONG need)
{
	if (buf == NULL) {
		*len = need;
		return CKR_OK;
	}
	if (*len < need) {
		*len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	for (CK_ULONG i = 0; i < need; i++)
		buf[i] = (CK_BYTE)(0xc0 + i);
	*len = need;
	return CKR_OK;
}

/* Client C_Sign(buf, *len) -> wire -> server -> wire -> client; returns the client's CK_RV. */
static CK_RV
sign_through_the_wire(CK_BYTE *buf, CK_ULONG *len, CK_ULONG need)
{
	ls_rpc_value args[] = { LS_RPC_HANDLE(3), LS_RPC_BYTES("m", 1), LS_RPC_OUT(buf, *len) };
	const ls_rpc_value *o;
	ls_rpc_msg *req, *resp;
	ls_buf wire;
	CK_ULONG out_len;
	CK_RV rv;

	ls_buf_init(&wire, LS_RPC_MAX_MESSAGE);
	cr_assert_eq(ls_rpc_request_encode(&wire, LS_RPC_C_Sign, 9, args, 3), CKR_OK);
	req = decode_request_ok(&wire);
	o = ls_rpc_msg_arg(req, 2, 'o');
	cr_assert_not_null(o);
	out_len = o->out.len;
	rv = fake_output(o->out.buf, &out_len, need);
	ls_buf_reset(&wire);
	cr_assert_eq(ls_rpc_response_encode(&wire, LS_RPC_C_Sign, 9, rv,
	                                    (ls_rpc_value[]){ LS_RPC_OUTPUT(o->out.buf, out_len) },
	                                    1),
	             LS_OK);
	resp = decode_response_ok(&wire, LS_RPC_C_Sign);
	rv = ls_rpc_output_deliver(ls_rpc_msg_arg(resp, 0, 'O'), ls_rpc_msg_rv(resp), buf, len);
	ls_rpc_msg_free(resp);
	ls_rpc_msg_free(req);
	ls_buf_clear(&wire);
	return rv;
}

Test(rpc, output_buffers_behave_as_locally)
{
	CK_BYTE buf[128];
	CK_ULONG len;

	/* length query */
	len = 999;
	cr_assert_eq(sign_through_the_wire(NULL, &len, 64), CKR_OK);
	cr_assert_eq(len, 64);
	/* too small: the length needed, the buffer untouched */
	memset(buf, 0xee, sizeof(buf));
	len = 10;
	cr_assert_eq(sign_through_the_wire(buf, &len, 64), CKR_BUFFER_TOO_SMALL);
	cr_assert_eq(len, 64);
	cr_assert_eq(buf[0], 0xee);
	/* just enough */
	len = 64;
	cr_assert_eq(sign_through_the_wire(buf, &len, 64), CKR_OK);
	cr_assert_eq(len, 64);
	cr_assert_eq(buf[0], 0xc0);
	cr_assert_eq(buf[63], 0xc0 + 63);
	cr_assert_eq(buf[64], 0xee);
	/* empty output */
	len = sizeof(buf);
	cr_assert_eq(sign_through_the_wire(buf, &len, 0), CKR_OK);
	cr_assert_eq(len, 0);
}

Test(rpc, output_capacity_is_clamped_to_what_a_response_carries)
{
	static CK_BYTE huge[1];
	ls_rpc_msg *req;
	ls_buf wire;

	ls_buf_init(&wire, LS_RPC_MAX_MESSAGE);
	cr_assert_eq(ls_rpc_request_encode(&wire, LS_RPC_C_Encrypt, 1,
	                                   (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_BYTES("p", 1),
	                                                     LS_RPC_OUT(huge, 100ul << 20) },
	                                   3),
	             CKR_OK);
	req = decode_request_ok(&wire);
	cr_assert_eq(ls_rpc_msg_arg(req, 2, 'o')->out.len, LS_RPC_MAX_OUTPUT);
	ls_rpc_msg_free(req);
	ls_buf_clear(&wire);
}

Test(rpc, a_server_that_breaks_the_output_contract_is_caught)
{
	CK_BYTE buf[8];
	CK_ULONG len = sizeof(buf);
	ls_rpc_value data = LS_RPC_OUTPUT("0123456789", 10), length = LS_RPC_OUTPUT(NULL, 10);
	ls_rpc_value wrong = LS_RPC_ULONG(1);

	cr_assert_eq(ls_rpc_output_deliver(&data, CKR_OK, buf, &len), CKR_DEVICE_ERROR,
	             "more than the buffer");
	cr_assert_eq(len, sizeof(buf));
	cr_assert_eq(ls_rpc_output_deliver(&data, CKR_OK, NULL, &len), CKR_DEVICE_ERROR,
	             "data for a length query");
	cr_assert_eq(ls_rpc_output_deliver(&length, CKR_OK, buf, &len), CKR_DEVICE_ERROR,
	             "a length for a buffer");
	cr_assert_eq(ls_rpc_output_deliver(&length, CKR_BUFFER_TOO_SMALL, NULL, &len),
	             CKR_DEVICE_ERROR, "too small for a length query");
	cr_assert_eq(ls_rpc_output_deliver(&wrong, CKR_OK, buf, &len), CKR_DEVICE_ERROR);
	cr_assert_eq(ls_rpc_output_deliver(NULL, CKR_OK, buf, &len), CKR_DEVICE_ERROR);
	/* errors pass through untouched */
	cr_assert_eq(ls_rpc_output_deliver(NULL, CKR_KEY_HANDLE_INVALID, buf, &len),
	             CKR_KEY_HANDLE_INVALID);
	cr_assert_eq(len, sizeof(buf));
}

/* ---- C_GetAttributeValue end to end ---------------------------------------------------------- */

/* A token's C_GetAttributeValue over the decoded query (PKCS#11 v2.40 5.7 rules). */
static CK_RV
fake_get_attributes(CK_ATTRIBUTE *t, CK_ULONG n, int depth)
{
	static CK_ULONG cls = CKO_SECRET_KEY;
	static CK_BYTE label[] = "cloud key";
	static CK_BYTE value[40] = { 0x77 };
	CK_RV rv = CKR_OK;

	for (CK_ULONG i = 0; i < n; i++) {
		const void *src = NULL;
		CK_ULONG need = 0;

		switch (t[i].type) {
		case CKA_CLASS:
			src = &cls;
			need = sizeof(cls);
			break;
		case CKA_LABEL:
			src = label;
			need = sizeof(label) - 1;
			break;
		case CKA_VALUE:
			src = value;
			need = sizeof(value);
			break;
		case CKA_ALLOWED_MECHANISMS:
			src = s_allowed;
			need = sizeof(s_allowed);
			break;
		case CKA_PRIVATE_EXPONENT:
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_SENSITIVE;
			continue;
		case CKA_WRAP_TEMPLATE:
			if (depth == 0) {
				CK_ULONG have = t[i].ulValueLen / sizeof(CK_ATTRIBUTE);

				if (t[i].pValue == NULL) {
					t[i].ulValueLen = 2 * sizeof(CK_ATTRIBUTE);
				} else if (have < 2) {
					t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
					rv = CKR_BUFFER_TOO_SMALL;
				} else {
					CK_ATTRIBUTE *inner = t[i].pValue;

					inner[0].type = CKA_CLASS;
					inner[1].type = CKA_LABEL;
					fake_get_attributes(inner, 2, 1);
					t[i].ulValueLen = 2 * sizeof(CK_ATTRIBUTE);
				}
				continue;
			}
			__attribute__((fallthrough));
		default:
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
			continue;
		}
		if (t[i].pValue == NULL) {
			t[i].ulValueLen = need;
		} else if (t[i].ulValueLen < need) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_BUFFER_TOO_SMALL;
		} else {
			memcpy(t[i].pValue, src, need);
			t[i].ulValueLen = need;
		}
	}
	return rv;
}

static CK_RV
get_attributes_through_the_wire(CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	const ls_rpc_value *q;
	ls_rpc_msg *req, *resp;
	ls_buf wire;
	CK_RV rv;

	ls_buf_init(&wire, LS_RPC_MAX_MESSAGE);
	cr_assert_eq(ls_rpc_request_encode(&wire, LS_RPC_C_GetAttributeValue, 4,
	                                   (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_HANDLE(9),
	                                                     LS_RPC_QUERY(tmpl, n) },
	                                   3),
	             CKR_OK);
	req = decode_request_ok(&wire);
	q = ls_rpc_msg_arg(req, 2, 'A');
	cr_assert_not_null(q);
	rv = fake_get_attributes(q->attrs.v, q->attrs.n, 0);
	ls_buf_reset(&wire);
	cr_assert_eq(ls_rpc_response_encode(
	                     &wire, LS_RPC_C_GetAttributeValue, 4, rv,
	                     (ls_rpc_value[]){ LS_RPC_RESULTS(q->attrs.v, q->attrs.n) }, 1),
	             LS_OK);
	resp = decode_response_ok(&wire, LS_RPC_C_GetAttributeValue);
	rv = ls_rpc_attrs_deliver(ls_rpc_msg_arg(resp, 0, 'R'), ls_rpc_msg_rv(resp), tmpl, n);
	ls_rpc_msg_free(resp);
	ls_rpc_msg_free(req);
	ls_buf_clear(&wire);
	return rv;
}

Test(rpc, get_attribute_value_partial_results_reach_the_application)
{
	CK_ULONG cls = 0;
	CK_BYTE label[32], small[4], inner_label[16];
	CK_MECHANISM_TYPE mechs[8];
	CK_ATTRIBUTE inner[2] = { { 0, NULL, 0 }, { 0, inner_label, sizeof(inner_label) } };
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, NULL, 0 },              /* length only */
		{ CKA_VALUE, small, sizeof(small) }, /* too small */
		{ CKA_PRIVATE_EXPONENT, label, 32 }, /* sensitive */
		{ CKA_MODULUS, NULL, 0 },            /* not there */
		{ CKA_WRAP_TEMPLATE, inner, sizeof(inner) },
		{ CKA_ALLOWED_MECHANISMS, mechs, sizeof(mechs) },
	};
	CK_RV rv;

	memset(small, 0xee, sizeof(small));
	rv = get_attributes_through_the_wire(t, N_ELEMS(t));
	/* The token reports the last of its errors; the module passes on whatever came. */
	cr_assert(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	                  rv == CKR_BUFFER_TOO_SMALL,
	          "rv 0x%lx", rv);
	cr_assert_eq(cls, CKO_SECRET_KEY);
	cr_assert_eq(t[0].ulValueLen, sizeof(CK_ULONG));
	cr_assert_eq(t[1].ulValueLen, 9);
	cr_assert_null(t[1].pValue);
	cr_assert_eq(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	cr_assert_eq(small[0], 0xee, "a too-small buffer is not written");
	cr_assert_eq(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	cr_assert_eq(t[4].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	cr_assert_eq(t[5].ulValueLen, 2 * sizeof(CK_ATTRIBUTE));
	cr_assert_eq(inner[0].type, CKA_CLASS);
	cr_assert_eq(inner[0].ulValueLen, sizeof(CK_ULONG), "a nested length query");
	cr_assert_eq(inner[1].type, CKA_LABEL);
	cr_assert_eq(inner[1].ulValueLen, 9);
	cr_assert_eq(memcmp(inner_label, "cloud key", 9), 0);
	cr_assert_eq(t[6].ulValueLen, sizeof(s_allowed));
	cr_assert_eq(memcmp(mechs, s_allowed, sizeof(s_allowed)), 0);

	/* And all of it at once with CKR_OK. */
	{
		CK_ATTRIBUTE ok[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, label, 32 } };

		cr_assert_eq(get_attributes_through_the_wire(ok, 2), CKR_OK);
		cr_assert_eq(ok[1].ulValueLen, 9);
		cr_assert_eq(memcmp(label, "cloud key", 9), 0);
	}
}

Test(rpc, attribute_results_that_do_not_answer_the_query_are_caught)
{
	CK_ULONG cls = CKO_DATA;
	CK_BYTE buf[4];
	CK_ATTRIBUTE res[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, "toolong", 7 } };
	CK_ATTRIBUTE asked[] = { { CKA_CLASS, &cls, sizeof(cls) },
		                 { CKA_LABEL, buf, sizeof(buf) } };
	CK_ATTRIBUTE asked_len[] = { { CKA_CLASS, NULL, 0 }, { CKA_LABEL, NULL, 0 } };
	CK_ATTRIBUTE swapped[] = { { CKA_LABEL, buf, 4 }, { CKA_CLASS, &cls, sizeof(cls) } };
	ls_rpc_value r = LS_RPC_RESULTS(res, 2), r1 = LS_RPC_RESULTS(res, 1);

	cr_assert_eq(ls_rpc_attrs_deliver(&r, CKR_OK, asked, 2), CKR_DEVICE_ERROR, "too long");
	cr_assert_eq(ls_rpc_attrs_deliver(&r, CKR_OK, asked_len, 2), CKR_DEVICE_ERROR,
	             "a value for a length query");
	cr_assert_eq(ls_rpc_attrs_deliver(&r, CKR_OK, swapped, 2), CKR_DEVICE_ERROR, "order");
	cr_assert_eq(ls_rpc_attrs_deliver(&r1, CKR_OK, asked, 2), CKR_DEVICE_ERROR, "count");
	cr_assert_eq(ls_rpc_attrs_deliver(NULL, CKR_OBJECT_HANDLE_INVALID, asked, 2),
	             CKR_OBJECT_HANDLE_INVALID);
}

/* ---- client-side refusals ------------------------------------------------------------------- */

static void
expect_refused(uint16_t call, const ls_rpc_value *args, size_t n, CK_RV want)
{
	ls_buf b;
	CK_RV rv;

	ls_buf_init(&b, LS_RPC_MAX_MESSAGE);
	ls_buf_add(&b, "keep", 4);
	rv = ls_rpc_request_encode(&b, call, 1, args, n);
	cr_assert_eq(rv, want, "%s: 0x%lx, want 0x%lx", ls_rpc_call_name(call), rv, want);
	cr_assert_eq(ls_buf_len(&b), 4, "%s: the buffer is as it was", ls_rpc_call_name(call));
	cr_assert_eq(ls_buf_status(&b), LS_OK);
	cr_assert_eq(memcmp(ls_buf_data(&b), "keep", 4), 0);
	ls_buf_clear(&b);
}

Test(rpc, requests_that_cannot_cross_are_refused_with_the_right_ckr)
{
	static CK_BYTE huge[LS_RPC_MAX_MESSAGE];
	CK_BYTE pin[LS_RPC_MAX_PIN + 1];
	CK_ULONG cls = CKO_DATA;
	int cls32 = CKO_DATA;
	CK_BYTE sig[64];
	CK_ATTRIBUTE short_ulong[] = { { CKA_CLASS, &cls32, sizeof(cls32) } };
	CK_ATTRIBUTE null_value[] = { { CKA_LABEL, NULL, 5 } };
	CK_ATTRIBUTE odd_mechs[] = { { CKA_ALLOWED_MECHANISMS, &cls, 5 } };
	CK_ATTRIBUTE odd_tmpl[] = { { CKA_WRAP_TEMPLATE, short_ulong, 5 } };
	CK_ATTRIBUTE ok[] = { { CKA_CLASS, &cls, sizeof(cls) } };

	memset(pin, '1', sizeof(pin));
	expect_refused(LS_RPC_C_CreateObject,
	               (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_TEMPLATE(short_ulong, 1) }, 2,
	               CKR_ATTRIBUTE_VALUE_INVALID);
	expect_refused(LS_RPC_C_CreateObject,
	               (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_TEMPLATE(null_value, 1) }, 2,
	               CKR_ATTRIBUTE_VALUE_INVALID);
	expect_refused(LS_RPC_C_CreateObject,
	               (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_TEMPLATE(odd_mechs, 1) }, 2,
	               CKR_ATTRIBUTE_VALUE_INVALID);
	expect_refused(LS_RPC_C_CreateObject,
	               (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_TEMPLATE(odd_tmpl, 1) }, 2,
	               CKR_ATTRIBUTE_VALUE_INVALID);
	expect_refused(LS_RPC_C_CreateObject,
	               (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_TEMPLATE(NULL, 1) }, 2,
	               CKR_ARGUMENTS_BAD);
	expect_refused(LS_RPC_C_Sign,
	               (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_BYTES(huge, sizeof(huge)),
	                                 LS_RPC_OUT(sig, 64) },
	               3, CKR_DATA_LEN_RANGE);
	expect_refused(LS_RPC_C_Decrypt,
	               (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_BYTES(huge, sizeof(huge)),
	                                 LS_RPC_OUT(sig, 64) },
	               3, CKR_ENCRYPTED_DATA_LEN_RANGE);
	expect_refused(LS_RPC_C_UnwrapKey,
	               (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_MECHANISM(&s_mechs[0]),
	                                 LS_RPC_HANDLE(2), LS_RPC_BYTES(huge, sizeof(huge)),
	                                 LS_RPC_TEMPLATE(ok, 1) },
	               5, CKR_WRAPPED_KEY_LEN_RANGE);
	expect_refused(
	        LS_RPC_C_Sign,
	        (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_BYTES(NULL, 3), LS_RPC_OUT(sig, 64) }, 3,
	        CKR_ARGUMENTS_BAD);
	expect_refused(LS_RPC_C_InitPIN,
	               (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_PIN(pin, sizeof(pin)) }, 2,
	               CKR_PIN_LEN_RANGE);
	expect_refused(LS_RPC_C_Login,
	               (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_ULONG(CKU_USER),
	                                 LS_RPC_PIN(pin, sizeof(pin)) },
	               3, CKR_PIN_INCORRECT);
	expect_refused(LS_RPC_C_InitToken,
	               (ls_rpc_value[]){ LS_RPC_PIN("x", 1), LS_RPC_LABEL(NULL) }, 2,
	               CKR_ARGUMENTS_BAD);
	/* items that do not spell the signature: a bug in the caller */
	expect_refused(LS_RPC_C_Sign, (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_BYTES("a", 1) }, 2,
	               CKR_GENERAL_ERROR);
	expect_refused(
	        LS_RPC_C_Sign,
	        (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_OUT(sig, 64), LS_RPC_BYTES("a", 1) }, 3,
	        CKR_GENERAL_ERROR);
}

Test(rpc, response_items_that_do_not_match_are_refused)
{
	ls_buf b;

	ls_buf_init(&b, 256);
	cr_assert_eq(ls_rpc_response_encode(&b, LS_RPC_C_OpenSession, 1, CKR_OK,
	                                    (ls_rpc_value[]){ LS_RPC_ULONG(1) }, 1),
	             LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_rpc_response_encode(&b, LS_RPC_C_OpenSession, 1, CKR_OK, NULL, 0),
	             LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_rpc_response_encode(&b, LS_RPC_C_GetTokenInfo, 1, CKR_OK,
	                                    (ls_rpc_value[]){ LS_RPC_TOKEN_INFO(NULL) }, 1),
	             LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_buf_len(&b), 0);
	/* no body with an error: the items are not looked at */
	cr_assert_eq(ls_rpc_response_encode(&b, LS_RPC_C_OpenSession, 1, CKR_PIN_EXPIRED, NULL, 0),
	             LS_OK);
	cr_assert_eq(ls_buf_len(&b), LS_RPC_RESPONSE_HEADER_SIZE);
	/* a response that does not fit the caller's buffer leaves it as it was */
	ls_buf_reset(&b);
	cr_assert_eq(ls_rpc_response_encode(&b, LS_RPC_C_GenerateRandom, 1, CKR_OK,
	                                    (ls_rpc_value[]){ LS_RPC_BYTES(s_big, sizeof(s_big)) },
	                                    1),
	             LS_ERR_BUFFER_FULL);
	cr_assert_eq(ls_buf_len(&b), 0);
	cr_assert_eq(ls_buf_status(&b), LS_OK);
	ls_buf_clear(&b);
}

/* ---- secrets ----------------------------------------------------------------------------------
 */

Test(rpc, secrets_are_wiped_when_the_message_is_freed)
{
	static const char pin[] = "PIN-secret-1234";
	CK_BYTE key[32];
	CK_ATTRIBUTE t[] = { { CKA_VALUE, key, sizeof(key) } };
	ls_rpc_msg *msg;
	ls_buf wire;

	memset(key, 0xa5, sizeof(key));
	released_dirty = released_blocks = 0;
	ls_buf_init(&wire, 4096);
	cr_assert_eq(
	        ls_rpc_request_encode(&wire, LS_RPC_C_Login, 1,
	                              (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_ULONG(CKU_USER),
	                                                LS_RPC_PIN(pin, strlen(pin)) },
	                              3),
	        CKR_OK);
	msg = decode_request_ok(&wire);
	cr_assert_eq(memcmp(ls_rpc_msg_arg(msg, 2, 'p')->bytes.ptr, pin, strlen(pin)), 0);
	ls_rpc_msg_free(msg);
	ls_buf_reset(&wire);
	cr_assert_eq(ls_rpc_request_encode(
	                     &wire, LS_RPC_C_CreateObject, 2,
	                     (ls_rpc_value[]){ LS_RPC_HANDLE(1), LS_RPC_TEMPLATE(t, 1) }, 2),
	             CKR_OK);
	msg = decode_request_ok(&wire);
	ls_rpc_msg_free(msg);
	ls_buf_clear(&wire);
	cr_assert_gt(released_blocks, 0);
	cr_assert_eq(released_dirty, 0, "every block given back was wiped first");
}

/* ---- the round-trip budget, over an in-process transport ------------------------------------ */

static const CK_BYTE key_id[] = "key-1";

/* One step of a server: receive a request, answer it like a token would. */
static void
serve_one(ls_transport *t)
{
	const ls_rpc_value *a;
	ls_rpc_msg *req = NULL;
	ls_buf in, out;
	CK_RV rv = CKR_OK;
	uint16_t call;
	int r;

	ls_buf_init(&in, LS_FRAME_DEFAULT_MAX);
	ls_buf_init(&out, LS_RPC_MAX_MESSAGE);
	cr_assert_eq(ls_transport_recv(t, &in, 1000), LS_OK);
	r = ls_rpc_request_decode(&in, &req);
	if (r == LS_ERR_UNSUPPORTED) {
		cr_assert_eq(ls_rpc_response_encode_error(&out, ls_rpc_msg_request_id(req),
		                                          ls_rpc_msg_rv(req)),
		             LS_OK);
		goto send;
	}
	cr_assert_eq(r, LS_OK);
	call = ls_rpc_msg_call(req);
	switch (call) {
	case LS_RPC_C_OpenSession:
		cr_assert_eq(ls_rpc_msg_arg(req, 0, 'u')->ul, CKF_SERIAL_SESSION | CKF_RW_SESSION);
		r = ls_rpc_response_encode(&out, call, ls_rpc_msg_request_id(req), CKR_OK,
		                           (ls_rpc_value[]){ LS_RPC_HANDLE(0x51) }, 1);
		break;
	case LS_RPC_C_Login:
		a = ls_rpc_msg_arg(req, 2, 'p');
		if (a->bytes.len != 6 || memcmp(a->bytes.ptr, "123456", 6) != 0)
			rv = CKR_PIN_INCORRECT;
		r = ls_rpc_response_encode(&out, call, ls_rpc_msg_request_id(req), rv, NULL, 0);
		break;
	case LS_RPC_C_FindObjectsInit: {
		CK_ULONG found[] = { 0x700 };
		CK_ULONG nfound = 0;

		a = ls_rpc_msg_arg(req, 1, 'T');
		if (a->attrs.n == 1 && a->attrs.v[0].type == CKA_ID &&
		    a->attrs.v[0].ulValueLen == sizeof(key_id) - 1 &&
		    memcmp(a->attrs.v[0].pValue, key_id, sizeof(key_id) - 1) == 0)
			nfound = 1;
		/* Every match fits the first batch: the search is over on the server. */
		cr_assert_gt(ls_rpc_msg_arg(req, 2, 'u')->ul, nfound);
		r = ls_rpc_response_encode(
		        &out, call, ls_rpc_msg_request_id(req), CKR_OK,
		        (ls_rpc_value[]){ LS_RPC_ULONGS(found, nfound), LS_RPC_BOOL(true) }, 2);
		break;
	}
	case LS_RPC_SignOneShot: {
		const ls_rpc_value *o = ls_rpc_msg_arg(req, 4, 'o');
		CK_ULONG len = o->out.len;

		cr_assert_eq(ls_rpc_msg_arg(req, 1, 'M')->mech->mechanism,
		             CKM_GOSTR3410_WITH_GOSTR3411_12_256);
		cr_assert_eq(ls_rpc_msg_arg(req, 2, 'h')->ul, 0x700);
		rv = fake_output(o->out.buf, &len, 64);
		r = ls_rpc_response_encode(&out, call, ls_rpc_msg_request_id(req), rv,
		                           (ls_rpc_value[]){ LS_RPC_OUTPUT(o->out.buf, len) }, 1);
		break;
	}
	default:
		r = ls_rpc_response_encode_error(&out, ls_rpc_msg_request_id(req),
		                                 CKR_FUNCTION_NOT_SUPPORTED);
		break;
	}
	cr_assert_eq(r, LS_OK);
send:
	cr_assert_eq(ls_transport_send(t, ls_buf_data(&out), ls_buf_len(&out), 1000), LS_OK);
	ls_rpc_msg_free(req);
	ls_buf_clear(&in);
	ls_buf_clear(&out);
}

typedef struct {
	ls_transport *client, *server;
	uint64_t next_id;
	unsigned round_trips;
} loop;

/* One round trip: send the request, let the server answer, decode the answer. */
static ls_rpc_msg *
call_server(loop *l, uint16_t call, const ls_rpc_value *args, size_t n)
{
	uint64_t id = ++l->next_id;
	ls_rpc_msg *resp;
	ls_buf b;

	ls_buf_init(&b, LS_FRAME_DEFAULT_MAX);
	cr_assert_eq(ls_rpc_request_encode(&b, call, id, args, n), CKR_OK);
	cr_assert_eq(ls_transport_send(l->client, ls_buf_data(&b), ls_buf_len(&b), 1000), LS_OK);
	serve_one(l->server);
	cr_assert_eq(ls_transport_recv(l->client, &b, 1000), LS_OK);
	resp = decode_response_ok(&b, call);
	cr_assert_eq(ls_rpc_msg_request_id(resp), id);
	ls_buf_clear(&b);
	l->round_trips++;
	return resp;
}

Test(rpc, open_login_find_and_sign_take_four_round_trips)
{
	CK_MECHANISM mech = { CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0 };
	CK_ATTRIBUTE find[] = { { CKA_ID, (void *)key_id, sizeof(key_id) - 1 } };
	CK_BYTE sig[64];
	CK_ULONG sig_len = sizeof(sig), session, key;
	const ls_rpc_value *u;
	ls_rpc_msg *resp;
	loop l = { 0 };

	cr_assert_eq(ls_transport_memory_pair(0, &l.client, &l.server), LS_OK);

	/* C_OpenSession */
	resp = call_server(&l, LS_RPC_C_OpenSession,
	                   (ls_rpc_value[]){ LS_RPC_ULONG(CKF_SERIAL_SESSION | CKF_RW_SESSION) },
	                   1);
	cr_assert_eq(ls_rpc_msg_rv(resp), CKR_OK);
	session = ls_rpc_msg_arg(resp, 0, 'h')->ul;
	ls_rpc_msg_free(resp);

	/* C_Login */
	resp = call_server(&l, LS_RPC_C_Login,
	                   (ls_rpc_value[]){ LS_RPC_HANDLE(session), LS_RPC_ULONG(CKU_USER),
	                                     LS_RPC_PIN("123456", 6) },
	                   3);
	cr_assert_eq(ls_rpc_msg_rv(resp), CKR_OK);
	ls_rpc_msg_free(resp);

	/* C_FindObjectsInit with the first batch; C_FindObjects and C_FindObjectsFinal local */
	resp = call_server(&l, LS_RPC_C_FindObjectsInit,
	                   (ls_rpc_value[]){ LS_RPC_HANDLE(session), LS_RPC_TEMPLATE(find, 1),
	                                     LS_RPC_ULONG(16) },
	                   3);
	cr_assert_eq(ls_rpc_msg_rv(resp), CKR_OK);
	u = ls_rpc_msg_arg(resp, 0, 'U');
	cr_assert_eq(u->ulongs.n, 1);
	key = u->ulongs.v[0];
	cr_assert_eq(ls_rpc_msg_arg(resp, 1, 'b')->b, CK_TRUE, "the search is complete");
	ls_rpc_msg_free(resp);

	/* C_SignInit (deferred by the module) + C_Sign */
	resp = call_server(&l, LS_RPC_SignOneShot,
	                   (ls_rpc_value[]){ LS_RPC_HANDLE(session), LS_RPC_MECHANISM(&mech),
	                                     LS_RPC_HANDLE(key), LS_RPC_BYTES("to be signed", 12),
	                                     LS_RPC_OUT(sig, sig_len) },
	                   5);
	cr_assert_eq(ls_rpc_output_deliver(ls_rpc_msg_arg(resp, 0, 'O'), ls_rpc_msg_rv(resp), sig,
	                                   &sig_len),
	             CKR_OK);
	cr_assert_eq(sig_len, 64);
	ls_rpc_msg_free(resp);

	cr_assert_eq(l.round_trips, 4, "the budget of ARCHITECTURE.md section 5");
	ls_transport_free(l.client);
	ls_transport_free(l.server);
}

Test(rpc, pipelined_requests_are_matched_by_request_id)
{
	ls_rpc_msg *r1, *r2, *req;
	ls_buf b1, b2, view;
	uint64_t id;

	/* Two requests in flight; the answers come back in the other order. */
	ls_buf_init(&b1, 4096);
	ls_buf_init(&b2, 4096);
	cr_assert_eq(ls_rpc_request_encode(&b1, LS_RPC_C_GetTokenInfo, 100, NULL, 0), CKR_OK);
	cr_assert_eq(ls_rpc_request_encode(&b2, LS_RPC_C_GetSessionInfo, 101,
	                                   (ls_rpc_value[]){ LS_RPC_HANDLE(0x51) }, 1),
	             CKR_OK);
	req = decode_request_ok(&b2);
	ls_buf_reset(&b2);
	cr_assert_eq(ls_rpc_response_encode(
	                     &b2, ls_rpc_msg_call(req), ls_rpc_msg_request_id(req), CKR_OK,
	                     (ls_rpc_value[]){ LS_RPC_SESSION_INFO(&s_session_info) }, 1),
	             LS_OK);
	ls_rpc_msg_free(req);
	req = decode_request_ok(&b1);
	ls_buf_reset(&b1);
	cr_assert_eq(ls_rpc_response_encode(
	                     &b1, ls_rpc_msg_call(req), ls_rpc_msg_request_id(req), CKR_OK,
	                     (ls_rpc_value[]){ LS_RPC_TOKEN_INFO(&s_token_info) }, 1),
	             LS_OK);
	ls_rpc_msg_free(req);

	view_of(&view, &b2);
	cr_assert_eq(ls_rpc_response_peek(&view, &id), LS_OK);
	cr_assert_eq(id, 101);
	r2 = decode_response_ok(&b2, LS_RPC_C_GetSessionInfo);
	view_of(&view, &b1);
	cr_assert_eq(ls_rpc_response_peek(&view, &id), LS_OK);
	cr_assert_eq(id, 100);
	r1 = decode_response_ok(&b1, LS_RPC_C_GetTokenInfo);
	expect_token_info(&s_token_info, ls_rpc_msg_arg(r1, 0, 'I')->token_info);
	cr_assert_eq(ls_rpc_msg_arg(r2, 0, 'S')->session_info->state, CKS_RW_USER_FUNCTIONS);
	/* A response read as the wrong call is refused (the body does not fit). */
	cr_assert_neq(
	        decode_response_err(ls_buf_data(&b1), ls_buf_len(&b1), LS_RPC_C_GetSessionInfo),
	        LS_OK);
	view_of(&view, &b1);
	ls_buf_init_view(&view, ls_buf_data(&b1), 15);
	cr_assert_eq(ls_rpc_response_peek(&view, &id), LS_ERR_TRUNCATED);
	ls_rpc_msg_free(r1);
	ls_rpc_msg_free(r2);
	ls_buf_clear(&b1);
	ls_buf_clear(&b2);
}

Test(rpc, msg_arg_is_checked_against_the_table)
{
	ls_rpc_msg *msg;
	ls_buf wire;
	void *p;

	ls_buf_init(&wire, 256);
	cr_assert_eq(ls_rpc_request_encode(&wire, LS_RPC_C_CloseSession, 1,
	                                   (ls_rpc_value[]){ LS_RPC_HANDLE(7) }, 1),
	             CKR_OK);
	msg = decode_request_ok(&wire);
	cr_assert_not_null(ls_rpc_msg_arg(msg, 0, 'h'));
	cr_assert_null(ls_rpc_msg_arg(msg, 0, 'u'), "wrong kind");
	cr_assert_null(ls_rpc_msg_arg(msg, 1, 'h'), "past the items");
	p = ls_rpc_msg_alloc(msg, 100);
	cr_assert_not_null(p);
	memset(p, 0x5a, 100);
	cr_assert_null(ls_rpc_msg_alloc(msg, LS_RPC_ARENA_MAX + 1));
	ls_rpc_msg_free(msg);
	ls_buf_clear(&wire);
}
