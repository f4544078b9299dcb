/*
 * Fuzz target: the RPC decoders of every call (core/rpc.c), requests and responses.
 *
 * Input: byte 0 bit 0 picks a request (0) or a response (1).  A request is the rest of the
 * input (it names its own call).  For a response, byte 1 picks the call (an index into the
 * table, modulo its length) and the rest is the message.
 *
 * Checked beyond "no crash, no sanitizer report":
 *  - what decodes re-encodes to exactly the input (the encoding is canonical: one way to say
 *    each thing), and the re-encoding decodes again to the same bytes;
 *  - a request refused with LS_ERR_UNSUPPORTED carries CKR_FUNCTION_NOT_SUPPORTED or
 *    CKR_MECHANISM_PARAM_INVALID and no items; every other error is one of the documented
 *    ones and leaves no message;
 *  - the client helpers run over every decoded response without reading or writing out of
 *    bounds.
 *
 * The seed corpus (fuzz/corpus/rpc) is written by fuzz_rpc_write_seeds() below, called from
 * fuzz/gen-corpus.c: every call's request and responses with representative values.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "fuzz-common.h"
#include "log.h"
#include "rpc.h"

int fuzz_rpc_write_seeds(const char *dir);

static bool
documented_error(int r)
{
	return r == LS_ERR_TRUNCATED || r == LS_ERR_TRAILING_DATA || r == LS_ERR_TOO_LARGE ||
	       r == LS_ERR_MALFORMED;
}

/* @again must hold exactly @len bytes at @data. */
static void
check_same(const ls_buf *again, const uint8_t *data, size_t len)
{
	FUZZ_CHECK(ls_buf_len(again) == len);
	FUZZ_CHECK(len == 0 || memcmp(ls_buf_data(again), data, len) == 0);
}

static void
fuzz_request(const uint8_t *data, size_t size)
{
	const ls_rpc_value *args;
	ls_rpc_msg *msg = NULL, *msg2 = NULL;
	ls_buf in, again, again2;
	size_t nargs, nargs2;
	int r;

	ls_buf_init_view(&in, data, size);
	r = ls_rpc_request_decode(&in, &msg);
	if (r == LS_ERR_UNSUPPORTED) {
		FUZZ_CHECK(msg != NULL);
		FUZZ_CHECK(ls_rpc_msg_rv(msg) == CKR_FUNCTION_NOT_SUPPORTED ||
		           ls_rpc_msg_rv(msg) == CKR_MECHANISM_PARAM_INVALID);
		ls_rpc_msg_args(msg, &nargs);
		FUZZ_CHECK(nargs == 0);
		ls_rpc_msg_free(msg);
		return;
	}
	if (r != LS_OK) {
		FUZZ_CHECK(msg == NULL);
		FUZZ_CHECK(documented_error(r));
		return;
	}
	FUZZ_CHECK(ls_buf_remaining(&in) == 0);
	args = ls_rpc_msg_args(msg, &nargs);
	ls_buf_init(&again, LS_RPC_MAX_MESSAGE);
	FUZZ_CHECK(ls_rpc_request_encode(&again, ls_rpc_msg_call(msg), ls_rpc_msg_request_id(msg),
	                                 args, nargs) == CKR_OK);
	check_same(&again, data, size);

	/* Once more from the re-encoding. */
	ls_buf_init_view(&in, ls_buf_data(&again), ls_buf_len(&again));
	FUZZ_CHECK(ls_rpc_request_decode(&in, &msg2) == LS_OK);
	args = ls_rpc_msg_args(msg2, &nargs2);
	FUZZ_CHECK(nargs2 == nargs);
	ls_buf_init(&again2, LS_RPC_MAX_MESSAGE);
	FUZZ_CHECK(ls_rpc_request_encode(&again2, ls_rpc_msg_call(msg2),
	                                 ls_rpc_msg_request_id(msg2), args, nargs2) == CKR_OK);
	check_same(&again2, data, size);

	ls_buf_clear(&again2);
	ls_buf_clear(&again);
	ls_rpc_msg_free(msg2);
	ls_rpc_msg_free(msg);
}

/* Scratch for the client helpers: an application's buffers. */
static CK_BYTE scratch[1 << 16];
static CK_ATTRIBUTE inner_scratch[LS_RPC_MAX_ATTRS][LS_RPC_MAX_NESTED_ATTRS];

/* The client helpers over a decoded response, as a module would run them. */
static void
exercise_helpers(const ls_rpc_msg *msg)
{
	const ls_rpc_value *args;
	size_t nargs, i;

	args = ls_rpc_msg_args(msg, &nargs);
	for (i = 0; i < nargs; i++) {
		if (args[i].kind == 'O') {
			CK_ULONG len = sizeof(scratch);

			/* Data is delivered only when it fits (a needed length may be anything). */
			if (ls_rpc_output_deliver(&args[i], ls_rpc_msg_rv(msg), scratch, &len) ==
			    CKR_OK)
				FUZZ_CHECK(len <= sizeof(scratch));
			len = 0;
			(void)ls_rpc_output_deliver(&args[i], ls_rpc_msg_rv(msg), NULL, &len);
		} else if (args[i].kind == 'R') {
			static CK_ATTRIBUTE tmpl[LS_RPC_MAX_ATTRS];
			CK_ULONG n = args[i].attrs.n, j, k;

			FUZZ_CHECK(n <= LS_RPC_MAX_ATTRS);
			/* As length queries, then with buffers of a fixed size. */
			for (j = 0; j < n; j++) {
				tmpl[j].type = args[i].attrs.v[j].type;
				tmpl[j].pValue = NULL;
				tmpl[j].ulValueLen = 0;
			}
			(void)ls_rpc_attrs_deliver(&args[i], ls_rpc_msg_rv(msg), tmpl, n);
			for (j = 0; j < n; j++) {
				tmpl[j].type = args[i].attrs.v[j].type;
				if (ls_rpc_attribute_kind(tmpl[j].type) == LS_RPC_ATTR_TEMPLATE) {
					for (k = 0; k < LS_RPC_MAX_NESTED_ATTRS; k++) {
						inner_scratch[j][k].type = 0;
						inner_scratch[j][k].pValue = scratch;
						inner_scratch[j][k].ulValueLen = 64;
					}
					tmpl[j].pValue = inner_scratch[j];
					tmpl[j].ulValueLen = sizeof(inner_scratch[j]);
				} else {
					tmpl[j].pValue = scratch;
					tmpl[j].ulValueLen = 64;
				}
			}
			(void)ls_rpc_attrs_deliver(&args[i], ls_rpc_msg_rv(msg), tmpl, n);
		}
	}
}

static void
fuzz_response(uint16_t call, const uint8_t *data, size_t size)
{
	const ls_rpc_value *args;
	ls_rpc_msg *msg = NULL, *msg2 = NULL;
	ls_buf in, again;
	size_t nargs;
	uint64_t id = 0;
	int r;

	ls_buf_init_view(&in, data, size);
	r = ls_rpc_response_peek(&in, &id);
	FUZZ_CHECK(r == LS_OK || (r == LS_ERR_TRUNCATED && size < LS_RPC_RESPONSE_HEADER_SIZE));
	r = ls_rpc_response_decode(&in, call, &msg);
	if (r != LS_OK) {
		FUZZ_CHECK(msg == NULL);
		FUZZ_CHECK(documented_error(r));
		return;
	}
	FUZZ_CHECK(ls_rpc_msg_request_id(msg) == id);
	args = ls_rpc_msg_args(msg, &nargs);
	ls_buf_init(&again, LS_RPC_MAX_MESSAGE);
	FUZZ_CHECK(ls_rpc_response_encode(&again, call, ls_rpc_msg_request_id(msg),
	                                  ls_rpc_msg_rv(msg), args, nargs) == LS_OK);
	check_same(&again, data, size);

	ls_buf_init_view(&in, ls_buf_data(&again), ls_buf_len(&again));
	FUZZ_CHECK(ls_rpc_response_decode(&in, call, &msg2) == LS_OK);
	args = ls_rpc_msg_args(msg2, &nargs);
	ls_buf_reset(&again);
	FUZZ_CHECK(ls_rpc_response_encode(&again, call, ls_rpc_msg_request_id(msg2),
	                                  ls_rpc_msg_rv(msg2), args, nargs) == LS_OK);
	check_same(&again, data, size);

	exercise_helpers(msg);
	ls_buf_clear(&again);
	ls_rpc_msg_free(msg2);
	ls_rpc_msg_free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ls_rpc_call *calls;
	size_t ncalls;

	if (size < 1)
		return 0;
	ls_log_set_level(LS_LOG_ERROR);
	if ((data[0] & 1) == 0) {
		fuzz_request(data + 1, size - 1);
		return 0;
	}
	if (size < 2)
		return 0;
	calls = ls_rpc_calls(&ncalls);
	fuzz_response(calls[data[1] % ncalls].id, data + 2, size - 2);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The seed corpus
 * ------------------------------------------------------------------------------------------- */

static int seed_failures;

static void
put_seed(const char *dir, const char *name, const uint8_t *prefix, size_t prefix_len,
         const ls_buf *msg)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "%s: cannot write\n", path);
		seed_failures++;
		return;
	}
	if (fwrite(prefix, 1, prefix_len, f) != prefix_len ||
	    (ls_buf_len(msg) > 0 &&
	     fwrite(ls_buf_data(msg), 1, ls_buf_len(msg), f) != ls_buf_len(msg)))
		seed_failures++;
	if (fclose(f) != 0)
		seed_failures++;
}

static CK_BYTE sd_data[] = "seed data";
static CK_ULONG sd_class = CKO_PRIVATE_KEY, sd_type = CKK_GOSTR3410;
static CK_MECHANISM_TYPE sd_mechs[] = { CKM_GOSTR3410_WITH_GOSTR3411_12_256, CKM_GOSTR3410 };
static CK_BBOOL sd_true = CK_TRUE;
static CK_BYTE sd_id[] = { 0x01, 0x02, 0x03 };
static CK_BYTE sd_buf[64];
static CK_ATTRIBUTE sd_inner[] = {
	{ CKA_CLASS, &sd_class, sizeof(sd_class) },
	{ CKA_SIGN, &sd_true, sizeof(sd_true) },
};
static CK_ATTRIBUTE sd_template[] = {
	{ CKA_CLASS, &sd_class, sizeof(sd_class) },
	{ CKA_KEY_TYPE, &sd_type, sizeof(sd_type) },
	{ CKA_ID, sd_id, sizeof(sd_id) },
	{ CKA_ALLOWED_MECHANISMS, sd_mechs, sizeof(sd_mechs) },
	{ CKA_DERIVE_TEMPLATE, sd_inner, sizeof(sd_inner) },
};
static CK_ATTRIBUTE sd_query_inner[] = { { CKA_CLASS, NULL, 0 }, { CKA_SIGN, sd_buf, 1 } };
static CK_ATTRIBUTE sd_query[] = {
	{ CKA_CLASS, &sd_class, sizeof(sd_class) },
	{ CKA_LABEL, NULL, 0 },
	{ CKA_VALUE, sd_buf, sizeof(sd_buf) },
	{ CKA_WRAP_TEMPLATE, sd_query_inner, sizeof(sd_query_inner) },
	{ CKA_ALLOWED_MECHANISMS, sd_mechs, sizeof(sd_mechs) },
};
static CK_ATTRIBUTE sd_res_inner[] = {
	{ CKA_CLASS, NULL, sizeof(CK_ULONG) },
	{ CKA_SIGN, &sd_true, 1 },
	{ CKA_ID, NULL, CK_UNAVAILABLE_INFORMATION },
};
static CK_ATTRIBUTE sd_results[] = {
	{ CKA_CLASS, &sd_class, sizeof(sd_class) },
	{ CKA_LABEL, NULL, 12 },
	{ CKA_VALUE, NULL, CK_UNAVAILABLE_INFORMATION },
	{ CKA_WRAP_TEMPLATE, sd_res_inner, sizeof(sd_res_inner) },
	{ CKA_ALLOWED_MECHANISMS, sd_mechs, sizeof(sd_mechs) },
};
static CK_BYTE sd_iv16[16] = { 1 }, sd_pub[64] = { 2 }, sd_ukm[8] = { 3 };
static CK_BYTE sd_oid[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1f, 0x01 };
static CK_GCM_PARAMS sd_gcm = { sd_iv16, 16, 128, sd_data, 9, 128 };
static CK_GOSTR3410_DERIVE_PARAMS sd_derive = { CKD_NULL, sd_pub, 64, sd_ukm, 8 };
static CK_VENDOR_GOST_KEG_PARAMS sd_keg = { sd_pub, 64, sd_iv16, 16 };
static CK_KDF_TREE_GOST_PARAMS sd_tree = { 9, sd_data, 8, sd_ukm, 1, 256, 0 };
static CK_GOSTR3410_KEY_WRAP_PARAMS sd_wrap = { sd_oid, sizeof(sd_oid), sd_ukm, 8, 5 };
static CK_MECHANISM sd_mech[] = {
	{ CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0 },
	{ CKM_KUZNYECHIK_MGM, &sd_gcm, sizeof(sd_gcm) },
	{ CKM_GOSTR3410_12_DERIVE, &sd_derive, sizeof(sd_derive) },
	{ CKM_GOST_KEG, &sd_keg, sizeof(sd_keg) },
	{ CKM_KDF_TREE_GOSTR3411_2012_256, &sd_tree, sizeof(sd_tree) },
	{ CKM_GOSTR3410_KEY_WRAP, &sd_wrap, sizeof(sd_wrap) },
	{ CKM_GOST28147, sd_ukm, sizeof(sd_ukm) },
};
#define SEED_VARIANTS (sizeof(sd_mech) / sizeof(sd_mech[0]))
static CK_ULONG sd_handles[] = { 0x700, 0x701 };
static CK_TOKEN_INFO sd_token_info = {
	.label = "seed token                      ",
	.flags = CKF_TOKEN_INITIALIZED,
	.ulMaxSessionCount = CK_EFFECTIVELY_INFINITE,
	.ulSessionCount = CK_UNAVAILABLE_INFORMATION,
	.ulMaxPinLen = 64,
	.ulMinPinLen = 6,
};
static CK_SESSION_INFO sd_session_info = { 0, CKS_RW_USER_FUNCTIONS, CKF_SERIAL_SESSION, 0 };
static CK_MECHANISM_INFO sd_mech_info = { 256, 512, CKF_SIGN | CKF_VERIFY };
static ls_rpc_mech_entry sd_mech_list[] = { { CKM_GOST_KEG, { 256, 512, CKF_DERIVE } } };
static ls_rpc_account_status sd_status = { "alice", 1, 2, 3, 4, "192.0.2.7", 5, 6, 7 };
static ls_rpc_log_entry sd_log[] = { { 1, 2, 3, "registered" } };
static ls_sespake_verifier sd_verifier = { .version = 1, .curve = 1, .ind = 1, .salt_len = 16 };
static uint8_t sd_resume[LS_RPC_RESUME_TOKEN_SIZE] = { 0x5e };
static CK_UTF8CHAR sd_label[32] = "seed label                      ";

/* Variant 0: typical values; 1: empty / NULL / length queries; the mechanism cycles. */
static ls_rpc_value
seed_value(char letter, unsigned v)
{
	bool empty = v == 1;

	switch (letter) {
	case 'u': return LS_RPC_ULONG(empty ? 0 : 0x1234);
	case 'h': return LS_RPC_HANDLE(empty ? 1 : 0x51);
	case 'b': return LS_RPC_BOOL(!empty);
	case 'y': return empty ? LS_RPC_BYTES(NULL, 0) : LS_RPC_BYTES(sd_data, 9);
	case 'p': return empty ? LS_RPC_PIN(NULL, 0) : LS_RPC_PIN("123456", 6);
	case 'z': return LS_RPC_TEXT(empty ? "" : "text");
	case 'L': return LS_RPC_LABEL(sd_label);
	case 'V': return LS_RPC_VERIFIER(&sd_verifier);
	case 'K': return LS_RPC_RESUME_TOKEN(sd_resume);
	case 'M': return LS_RPC_MECHANISM(&sd_mech[v % SEED_VARIANTS]);
	case 'T': return empty ? LS_RPC_TEMPLATE(NULL, 0) : LS_RPC_TEMPLATE(sd_template, 5);
	case 'A': return empty ? LS_RPC_QUERY(NULL, 0) : LS_RPC_QUERY(sd_query, 5);
	case 'R': return empty ? LS_RPC_RESULTS(NULL, 0) : LS_RPC_RESULTS(sd_results, 5);
	case 'o': return empty ? LS_RPC_OUT(NULL, 0) : LS_RPC_OUT(sd_buf, 64);
	case 'O': return empty ? LS_RPC_OUTPUT(NULL, 64) : LS_RPC_OUTPUT(sd_buf, 64);
	case 'U': return empty ? LS_RPC_ULONGS(NULL, 0) : LS_RPC_ULONGS(sd_handles, 2);
	case 'I': return LS_RPC_TOKEN_INFO(&sd_token_info);
	case 'S': return LS_RPC_SESSION_INFO(&sd_session_info);
	case 'N': return LS_RPC_MECH_INFO(&sd_mech_info);
	case 'W': return empty ? LS_RPC_MECH_LIST(NULL, 0) : LS_RPC_MECH_LIST(sd_mech_list, 1);
	case 'Z': return LS_RPC_STATUS(&sd_status);
	case 'E': return empty ? LS_RPC_LOG(NULL, 0) : LS_RPC_LOG(sd_log, 1);
	}
	return LS_RPC_ULONG(0);
}

static size_t
seed_args(const char *sig, unsigned v, ls_rpc_value *args)
{
	size_t i;

	for (i = 0; sig[i] != '\0' && i < LS_RPC_MAX_ARGS; i++)
		args[i] = seed_value(sig[i], v);
	return i;
}

int
fuzz_rpc_write_seeds(const char *dir)
{
	const ls_rpc_call *calls;
	ls_rpc_value args[LS_RPC_MAX_ARGS];
	char name[128];
	size_t ncalls, i, n;
	uint8_t prefix[2];
	ls_buf b;

	calls = ls_rpc_calls(&ncalls);
	ls_buf_init(&b, LS_RPC_MAX_MESSAGE);
	for (i = 0; i < ncalls; i++) {
		const ls_rpc_call *c = &calls[i];
		unsigned nv = strchr(c->request, 'M') != NULL ? SEED_VARIANTS : 2, v;
		const CK_RV rvs[] = { CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_ATTRIBUTE_SENSITIVE,
			              CKR_SESSION_HANDLE_INVALID };

		prefix[0] = 0;
		for (v = 0; v < nv; v++) {
			n = seed_args(c->request, v, args);
			ls_buf_reset(&b);
			if (ls_rpc_request_encode(&b, c->id, 1000 + i, args, n) != CKR_OK) {
				fprintf(stderr, "%s: cannot encode the request\n", c->name);
				seed_failures++;
				continue;
			}
			snprintf(name, sizeof(name), "req-%s-%u", c->name, v);
			put_seed(dir, name, prefix, 1, &b);
		}
		prefix[0] = 1;
		prefix[1] = (uint8_t)i;
		for (size_t k = 0; k < sizeof(rvs) / sizeof(rvs[0]); k++) {
			if (k > 0 && k < 3 && !ls_rpc_response_has_body(c, rvs[k]))
				continue;
			for (v = 0; v < 2; v++) {
				if (v > 0 && !ls_rpc_response_has_body(c, rvs[k]))
					break;
				n = seed_args(c->response, v, args);
				ls_buf_reset(&b);
				if (ls_rpc_response_encode(&b, c->id, 1000 + i, rvs[k], args, n) !=
				    LS_OK) {
					fprintf(stderr, "%s: cannot encode a response\n", c->name);
					seed_failures++;
					continue;
				}
				snprintf(name, sizeof(name), "resp-%s-%lx-%u", c->name,
				         (unsigned long)rvs[k], v);
				put_seed(dir, name, prefix, 2, &b);
			}
		}
	}

	/* Hostile seeds: an unknown call, a wrong parameter kind, caps, depth, truncation. */
	prefix[0] = 0;
	ls_buf_reset(&b);
	ls_buf_add_u16(&b, 0x7e57);
	ls_buf_add_u64(&b, 1);
	ls_buf_add(&b, "body", 4);
	put_seed(dir, "hostile-unknown-call", prefix, 1, &b);

	ls_buf_reset(&b);
	ls_buf_add_u16(&b, LS_RPC_C_EncryptInit);
	ls_buf_add_u64(&b, 2);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u64(&b, CKM_KUZNYECHIK_MGM);
	ls_buf_add_u8(&b, LS_RPC_PARAM_BYTES);
	ls_buf_add_string(&b, "iv", 2);
	ls_buf_add_u64(&b, 3);
	put_seed(dir, "hostile-wrong-param-kind", prefix, 1, &b);

	ls_buf_reset(&b);
	ls_buf_add_u16(&b, LS_RPC_C_CreateObject);
	ls_buf_add_u64(&b, 3);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u32(&b, 1000000);
	put_seed(dir, "hostile-million-attributes", prefix, 1, &b);

	ls_buf_reset(&b);
	ls_buf_add_u16(&b, LS_RPC_C_CreateObject);
	ls_buf_add_u64(&b, 4);
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
	put_seed(dir, "hostile-nested-too-deep", prefix, 1, &b);

	ls_buf_reset(&b);
	ls_buf_add_u16(&b, LS_RPC_C_Sign);
	ls_buf_add_u64(&b, 5);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_u32(&b, 0xffffffff);
	put_seed(dir, "hostile-huge-length", prefix, 1, &b);

	ls_buf_reset(&b);
	ls_buf_add_u16(&b, LS_RPC_C_Sign);
	ls_buf_add_u64(&b, 6);
	ls_buf_add_u64(&b, 1);
	ls_buf_add_string(&b, "d", 1);
	ls_buf_add_u8(&b, 1);
	ls_buf_add_u64(&b, LS_RPC_MAX_OUTPUT + 1);
	put_seed(dir, "hostile-capacity-over-cap", prefix, 1, &b);

	ls_buf_reset(&b);
	ls_buf_add_u16(&b, LS_RPC_C_Login);
	put_seed(dir, "hostile-short-header", prefix, 1, &b);

	ls_buf_clear(&b);
	return seed_failures;
}
