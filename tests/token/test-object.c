/*
 * token/object*.c: the attribute model and its rules, with the exact return codes.  Required
 * attributes, defaults, read-only attributes at creation and at change, the one-way flags,
 * CKA_ALWAYS_SENSITIVE/CKA_NEVER_EXTRACTABLE, COPYABLE/MODIFIABLE/DESTROYABLE,
 * CKA_ALLOWED_MECHANISMS, C_GetAttributeValue partial results, both OID families of the GOST
 * curves, key value lengths, generated keys and key pairs, matching, the store encoding with
 * sealed values opened later (and tampered ones refused), and the template caps.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "object.h"
#include "store-sqlite.h"
#include "test-util.h"

static CK_BBOOL yes = CK_TRUE;
static CK_BBOOL no = CK_FALSE;

static CK_OBJECT_CLASS c_data = CKO_DATA;
static CK_OBJECT_CLASS c_cert = CKO_CERTIFICATE;
static CK_OBJECT_CLASS c_pub = CKO_PUBLIC_KEY;
static CK_OBJECT_CLASS c_priv = CKO_PRIVATE_KEY;
static CK_OBJECT_CLASS c_secret = CKO_SECRET_KEY;

static CK_KEY_TYPE k_gost = CKK_GOSTR3410;
static CK_KEY_TYPE k_gost512 = CKK_GOSTR3410_512;
static CK_KEY_TYPE k_kuz = CKK_KUZNYECHIK;
static CK_KEY_TYPE k_magma = CKK_MAGMA;
static CK_KEY_TYPE k_gost89 = CKK_GOST28147;
static CK_KEY_TYPE k_generic = CKK_GENERIC_SECRET;
static CK_KEY_TYPE k_twin = CKK_KUZNYECHIK_TWIN_KEY;

/* DER OIDs (shared/reference/gost-pkcs11.md section 2). */
static const uint8_t oid_cp_a[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x01 };
static const uint8_t oid_xch_a[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x24, 0x00 };
static const uint8_t oid_tc26_256_a[] = { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01,
	                                  0x02, 0x01, 0x01, 0x01 };
static const uint8_t oid_tc26_256_b[] = { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01,
	                                  0x02, 0x01, 0x01, 0x02 };
static const uint8_t oid_tc26_512_a[] = { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01,
	                                  0x02, 0x01, 0x02, 0x01 };
static const uint8_t oid_streebog256[] = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07,
	                                   0x01, 0x01, 0x02, 0x02 };
static const uint8_t oid_streebog512[] = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07,
	                                   0x01, 0x01, 0x02, 0x03 };
static const uint8_t oid_gost94_cp[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01 };
static const uint8_t oid_gost89_z[] = { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01,
	                                0x02, 0x05, 0x01, 0x01 };
static const uint8_t oid_bogus[] = { 0x06, 0x03, 0x2a, 0x03, 0x04 };
static const uint8_t oid_broken[] = { 0x06, 0x05, 0x2a, 0x03 };

#define A(t, v) { (t), (void *)&(v), sizeof(v) }
#define AB(t, p, n) { (t), (void *)(p), (n) }
#define N(tmpl) ((CK_ULONG)(sizeof(tmpl) / sizeof((tmpl)[0])))

static const ls_object_ctx create_user = { .op = LS_OBJECT_OP_CREATE, .who = LS_OBJECT_USER };
static const ls_object_ctx create_so = { .op = LS_OBJECT_OP_CREATE, .who = LS_OBJECT_SO };

static const uint8_t kuz_value[32] = { 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
	                               0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	                               0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
	                               0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */

static void
gost_pair(ls_curve curve, uint8_t *pub, size_t pub_len, uint8_t *priv, size_t priv_len)
{
	ls_gost_key *k = NULL;

	cr_assert_eq(ls_gost_key_generate(curve, &k), LS_OK);
	cr_assert_eq(ls_gost_key_public(k, pub, pub_len), LS_OK);
	cr_assert_eq(ls_gost_key_private(k, priv, priv_len), LS_OK);
	ls_gost_key_free(k);
}

static CK_RV
create(const CK_ATTRIBUTE *tmpl, CK_ULONG count, ls_object **out)
{
	return ls_object_create(&create_user, tmpl, count, out);
}

static ls_object *
must_create(const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	ls_object *o = NULL;
	CK_RV rv = create(tmpl, count, &o);

	cr_assert_eq(rv, CKR_OK, "create: 0x%lx", (unsigned long)rv);
	cr_assert_not_null(o);
	return o;
}

/* A Kuznyechik key with the given sensitivity, extractability and token flag. */
static ls_object *
kuz_key(CK_BBOOL *sensitive, CK_BBOOL *extractable, CK_BBOOL *token)
{
	CK_ATTRIBUTE t[] = {
		A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_kuz), AB(CKA_VALUE, kuz_value, 32),
		A(CKA_SENSITIVE, *sensitive), A(CKA_EXTRACTABLE, *extractable), A(CKA_TOKEN, *token),
		AB(CKA_LABEL, "kuz", 3), AB(CKA_ID, "\x01\x02\x03", 3),
	};

	return must_create(t, N(t));
}

static CK_BBOOL
get_bool(ls_object *o, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = 0xff;
	CK_ATTRIBUTE t = { type, &v, sizeof(v) };

	cr_assert_eq(ls_object_get_attributes(o, NULL, &t, 1), CKR_OK, "get 0x%lx",
	             (unsigned long)type);
	cr_assert_eq(t.ulValueLen, 1);
	return v;
}

static CK_ULONG
get_ulong(ls_object *o, CK_ATTRIBUTE_TYPE type)
{
	CK_ULONG v = 0;
	CK_ATTRIBUTE t = { type, &v, sizeof(v) };

	cr_assert_eq(ls_object_get_attributes(o, NULL, &t, 1), CKR_OK);
	cr_assert_eq(t.ulValueLen, sizeof(CK_ULONG));
	return v;
}

/* The value of @type into @buf; returns its length. */
static size_t
get_bytes(ls_object *o, const ls_protect_key *key, CK_ATTRIBUTE_TYPE type, uint8_t *buf,
          size_t size)
{
	CK_ATTRIBUTE t = { type, buf, size };
	CK_RV rv = ls_object_get_attributes(o, key, &t, 1);

	cr_assert_eq(rv, CKR_OK, "get 0x%lx: 0x%lx", (unsigned long)type, (unsigned long)rv);
	return t.ulValueLen;
}

static CK_RV
set1(ls_object **o, ls_object_who who, CK_ATTRIBUTE *t)
{
	ls_object *n = NULL;
	CK_RV rv = ls_object_set_attributes(*o, who, t, 1, &n);

	if (rv == CKR_OK) {
		cr_assert_not_null(n);
		ls_object_unref(*o);
		*o = n;
	} else {
		cr_assert_null(n);
	}
	return rv;
}

static ls_protect_key *
master_key(uint64_t token_id)
{
	TEST_HEX(mk, "00112233 44556677 8899aabb ccddeeff 0f1e2d3c 4b5a6978 8796a5b4 c3d2e1f0");
	ls_protect_key *key = NULL;

	cr_assert_eq(ls_protect_key_import(token_id, mk, &key), LS_OK);
	return key;
}

static bool
contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++) {
		if (memcmp(hay + i, needle, m) == 0)
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------------------------------------
 * Creation: classes, required attributes, defaults
 * ------------------------------------------------------------------------------------------- */

Test(object, data_object_defaults_and_unique_id)
{
	CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data), AB(CKA_LABEL, "note", 4),
		             AB(CKA_VALUE, "hello", 5) };
	ls_object *o = must_create(t, N(t));
	uint8_t buf[64];
	uint32_t f = ls_object_flags(o);

	cr_assert_eq(ls_object_class(o), CKO_DATA);
	cr_assert_eq(ls_object_key_type(o), CK_UNAVAILABLE_INFORMATION);
	cr_assert(!(f & LS_OBJECT_F_TOKEN) && !(f & LS_OBJECT_F_PRIVATE));
	cr_assert((f & LS_OBJECT_F_MODIFIABLE) && (f & LS_OBJECT_F_COPYABLE) &&
	          (f & LS_OBJECT_F_DESTROYABLE));
	cr_assert_eq(get_bool(o, CKA_TOKEN), CK_FALSE);
	cr_assert_eq(get_bool(o, CKA_MODIFIABLE), CK_TRUE);
	cr_assert_eq(get_bytes(o, NULL, CKA_APPLICATION, buf, sizeof(buf)), 0);
	cr_assert_eq(get_bytes(o, NULL, CKA_VALUE, buf, sizeof(buf)), 5);
	cr_assert_arr_eq(buf, "hello", 5);
	cr_assert_eq(get_bytes(o, NULL, CKA_UNIQUE_ID, buf, sizeof(buf)), 25);
	cr_assert_eq(buf[0], 's', "a session object's unique id");
	cr_assert_eq(ls_object_store_id(o), 0);
	cr_assert_eq(ls_object_check_destroy(o), CKR_OK);
	ls_object_unref(o);
}

Test(object, key_defaults)
{
	uint8_t pub[64], priv[32];
	CK_ATTRIBUTE tp[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_gost),
		              AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
		              AB(CKA_VALUE, pub, 64) };
	CK_ATTRIBUTE tq[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_gost),
		              AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
		              AB(CKA_VALUE, priv, 32) };
	ls_object *p, *q, *s;
	CK_BBOOL f = CK_FALSE, t = CK_TRUE;
	uint8_t buf[16];

	gost_pair(LS_CURVE_CP_A, pub, 64, priv, 32);
	p = must_create(tp, N(tp));
	q = must_create(tq, N(tq));
	s = kuz_key(&t, &f, &f);

	cr_assert_eq(get_bool(p, CKA_PRIVATE), CK_FALSE);
	cr_assert_eq(get_bool(p, CKA_VERIFY), CK_TRUE);
	cr_assert_eq(get_bool(p, CKA_ENCRYPT), CK_FALSE);
	cr_assert_eq(get_bool(p, CKA_TRUSTED), CK_FALSE);
	cr_assert_eq(get_bool(p, CKA_LOCAL), CK_FALSE);
	cr_assert_eq(get_ulong(p, CKA_KEY_GEN_MECHANISM), CK_UNAVAILABLE_INFORMATION);
	cr_assert_eq(get_bool(q, CKA_PRIVATE), CK_TRUE);
	cr_assert_eq(get_bool(q, CKA_SENSITIVE), CK_TRUE);
	cr_assert_eq(get_bool(q, CKA_EXTRACTABLE), CK_FALSE);
	cr_assert_eq(get_bool(q, CKA_SIGN), CK_TRUE);
	cr_assert_eq(get_bool(q, CKA_DECRYPT), CK_FALSE);
	cr_assert_eq(get_bool(q, CKA_DERIVE), CK_FALSE);
	cr_assert_eq(get_bool(q, CKA_ALWAYS_AUTHENTICATE), CK_FALSE);
	/* Imported keys were known outside the token. */
	cr_assert_eq(get_bool(q, CKA_ALWAYS_SENSITIVE), CK_FALSE);
	cr_assert_eq(get_bool(q, CKA_NEVER_EXTRACTABLE), CK_FALSE);
	/* CKA_GOSTR3411_PARAMS defaults to Streebog by curve size. */
	cr_assert_eq(get_bytes(q, NULL, CKA_GOSTR3411_PARAMS, buf, sizeof(buf)),
	             sizeof(oid_streebog256));
	cr_assert_arr_eq(buf, oid_streebog256, sizeof(oid_streebog256));
	cr_assert_eq(ls_object_curve(q), LS_CURVE_CP_A);
	cr_assert_eq(get_bool(s, CKA_ENCRYPT), CK_TRUE);
	cr_assert_eq(get_bool(s, CKA_WRAP), CK_FALSE);
	cr_assert_eq(get_ulong(s, CKA_VALUE_LEN), 32);
	ls_object_unref(p);
	ls_object_unref(q);
	ls_object_unref(s);
}

Test(object, required_attributes_per_class)
{
	CK_CERTIFICATE_TYPE x509 = CKC_X_509, attr_cert = CKC_X_509_ATTR_CERT;
	CK_OBJECT_CLASS hw = CKO_HW_FEATURE;
	CK_KEY_TYPE rsa = CKK_RSA;
	uint8_t pub[64];
	ls_object *o = NULL;

	memset(pub, 0, sizeof(pub));
	{
		CK_ATTRIBUTE t[] = { AB(CKA_LABEL, "x", 1) };
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCOMPLETE, "no CKA_CLASS");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, hw) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), AB(CKA_SUBJECT, "s", 1),
			             AB(CKA_VALUE, "c", 1) };
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCOMPLETE, "no certificate type");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
			             AB(CKA_VALUE, "c", 1) };
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCOMPLETE, "no subject");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
			             AB(CKA_SUBJECT, "s", 1) };
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCOMPLETE, "no value, no URL");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, attr_cert),
			             AB(CKA_SUBJECT, "s", 1), AB(CKA_VALUE, "c", 1) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
			             AB(CKA_SUBJECT, "s", 1), AB(CKA_URL, "http://x", 8) };
		cr_assert_eq(create(t, N(t), &o), CKR_OK, "a URL instead of the value");
		ls_object_unref(o);
		o = NULL;
	}
	{
		/*
		 * The certificate check value: the first 3 bytes of SHA-1(CKA_VALUE).  With the value
		 * "abc", FIPS 180's example: SHA-1("abc") = a9993e36...
		 */
		static const uint8_t sha1_abc[3] = { 0xa9, 0x99, 0x3e };
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
			             AB(CKA_SUBJECT, "s", 1), AB(CKA_VALUE, "abc", 3),
			             AB(CKA_CHECK_VALUE, "abc", 3) };
		uint8_t cv[4];

		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "a wrong one given");
		t[4].pValue = (void *)sha1_abc;
		cr_assert_eq(create(t, N(t), &o), CKR_OK, "the right one given");
		ls_object_unref(o);
		o = NULL;
		cr_assert_eq(create(t, N(t) - 1, &o), CKR_OK);
		cr_assert_eq(get_bytes(o, NULL, CKA_CHECK_VALUE, cv, sizeof(cv)), 3, "computed");
		cr_assert_arr_eq(cv, sha1_abc, 3);
		ls_object_unref(o);
		o = NULL;
		t[4].ulValueLen = 0;
		cr_assert_eq(create(t, N(t), &o), CKR_OK);
		cr_assert_eq(get_bytes(o, NULL, CKA_CHECK_VALUE, cv, sizeof(cv)), 0, "none wanted");
		ls_object_unref(o);
		o = NULL;
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_pub),
			             AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
			             AB(CKA_VALUE, pub, 64) };
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCOMPLETE, "no key type");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_gost),
			             AB(CKA_VALUE, pub, 64) };
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCOMPLETE, "no curve");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_gost),
			             AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)) };
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCOMPLETE, "no value");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_kuz) };
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCOMPLETE, "no secret value");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, rsa) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "unsupported type");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_kuz) };
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCONSISTENT, "secret type, pub");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_gost),
			             AB(CKA_VALUE, kuz_value, 32) };
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCONSISTENT, "GOST type, secret");
	}
	cr_assert_null(o);
}

Test(object, invalid_types_and_values)
{
	CK_ULONG big = 1;
	uint16_t short_ulong = 1;
	uint8_t two = 2;
	ls_object *o = NULL;

	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data), A(CKA_SIGN, yes) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_TYPE_INVALID, "sign on data");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_kuz),
			             AB(CKA_VALUE, kuz_value, 32), AB(CKA_WRAP_TEMPLATE, NULL, 0) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_TYPE_INVALID, "unsupported");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_kuz),
			             AB(CKA_VALUE, kuz_value, 32), A(CKA_MODULUS_BITS, big) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_TYPE_INVALID, "RSA attribute");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data), A(CKA_TOKEN, short_ulong) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "bool of 2 bytes");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data), A(CKA_TOKEN, two) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "bool of value 2");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, short_ulong) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "short class");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_kuz),
			             AB(CKA_VALUE, kuz_value, 32), AB(CKA_START_DATE, "2024ab01", 8) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "bad date");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_kuz),
			             AB(CKA_VALUE, kuz_value, 32), AB(CKA_START_DATE, "20240201", 8),
			             AB(CKA_END_DATE, "", 0) };
		cr_assert_eq(create(t, N(t), &o), CKR_OK, "good and empty dates");
		ls_object_unref(o);
		o = NULL;
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data), AB(CKA_LABEL, NULL, 3) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "NULL with length");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_kuz),
			             AB(CKA_VALUE, kuz_value, 32), AB(CKA_ALLOWED_MECHANISMS, "abc", 3) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "mechanism list");
	}
	cr_assert_eq(ls_object_create(&create_user, NULL, 2, &o), CKR_ARGUMENTS_BAD);
	cr_assert_null(o);
}

Test(object, duplicates_are_inconsistent)
{
	ls_object *o = NULL;
	CK_ATTRIBUTE same[] = { A(CKA_CLASS, c_data), A(CKA_CLASS, c_data) };
	CK_ATTRIBUTE differ[] = { A(CKA_CLASS, c_data), AB(CKA_LABEL, "a", 1),
		                  AB(CKA_LABEL, "b", 1) };

	cr_assert_eq(create(same, N(same), &o), CKR_TEMPLATE_INCONSISTENT);
	cr_assert_eq(create(differ, N(differ), &o), CKR_TEMPLATE_INCONSISTENT);
	cr_assert_null(o);
}

Test(object, read_only_attributes_at_creation)
{
	static const CK_ATTRIBUTE_TYPE token_sets[] = { CKA_LOCAL, CKA_ALWAYS_SENSITIVE,
		                                        CKA_NEVER_EXTRACTABLE };
	CK_MECHANISM_TYPE m = CKM_KUZNYECHIK_KEY_GEN;
	ls_object *o = NULL;

	for (size_t i = 0; i < sizeof(token_sets) / sizeof(token_sets[0]); i++) {
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_kuz),
			             AB(CKA_VALUE, kuz_value, 32), A(token_sets[i], no) };

		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_READ_ONLY, "0x%lx",
		             (unsigned long)token_sets[i]);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_kuz),
			             AB(CKA_VALUE, kuz_value, 32), A(CKA_KEY_GEN_MECHANISM, m) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_READ_ONLY);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data), AB(CKA_UNIQUE_ID, "7", 1) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_READ_ONLY);
	}
	/* CKA_TRUSTED: only the SO sets it to CK_TRUE; CK_FALSE is anyone's. */
	{
		CK_CERTIFICATE_TYPE x509 = CKC_X_509;
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
			             AB(CKA_SUBJECT, "s", 1), AB(CKA_VALUE, "c", 1),
			             A(CKA_TRUSTED, yes) };

		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_READ_ONLY);
		cr_assert_eq(ls_object_create(&create_so, t, N(t), &o), CKR_OK);
		cr_assert(ls_object_flags(o) & LS_OBJECT_F_TRUSTED);
		ls_object_unref(o);
		t[4].pValue = &no;
		cr_assert_eq(create(t, N(t), &o), CKR_OK);
		ls_object_unref(o);
	}
}

Test(object, template_caps)
{
	CK_ATTRIBUTE *many = calloc(LS_OBJECT_MAX_TEMPLATE + 1, sizeof(*many));
	uint8_t *big = calloc(1, LS_OBJECT_MAX_VALUE + 1);
	CK_CERTIFICATE_TYPE x509 = CKC_X_509;
	ls_object *o = NULL;

	cr_assert_not_null(many);
	cr_assert_not_null(big);
	many[0] = (CK_ATTRIBUTE)A(CKA_CLASS, c_data);
	for (size_t i = 1; i <= LS_OBJECT_MAX_TEMPLATE; i++)
		many[i] = (CK_ATTRIBUTE){ CKA_VENDOR_DEFINED + i, NULL, 0 };
	cr_assert_eq(create(many, LS_OBJECT_MAX_TEMPLATE + 1, &o), CKR_TEMPLATE_INCONSISTENT);
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data), AB(CKA_VALUE, big, LS_OBJECT_MAX_VALUE + 1) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data), AB(CKA_VALUE, big, LS_OBJECT_MAX_VALUE) };
		cr_assert_eq(create(t, N(t), &o), CKR_OK, "exactly the cap");
		ls_object_unref(o);
		o = NULL;
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
			             AB(CKA_SUBJECT, "s", 1),
			             AB(CKA_VALUE, big, LS_OBJECT_MAX_CERT_VALUE + 1) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "certificate cap");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data), AB(CKA_LABEL, big, LS_STORE_LABEL_MAX + 1) };
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "label cap");
	}
	{
		/* Five values under the per-value cap, over the total. */
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data), AB(CKA_VALUE, big, LS_OBJECT_MAX_VALUE),
			             AB(CKA_APPLICATION, big, LS_OBJECT_MAX_VALUE),
			             AB(CKA_OBJECT_ID, big, LS_OBJECT_MAX_VALUE),
			             AB(CKA_LABEL, big, 1000),
			             AB(CKA_VENDOR_DEFINED, big, LS_OBJECT_MAX_VALUE),
			             AB(CKA_VENDOR_DEFINED + 1, big, LS_OBJECT_MAX_VALUE) };
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCONSISTENT, "total cap");
	}
	cr_assert_null(o);
	{
		/* Changes add up: the total cap holds for C_SetAttributeValue too. */
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
			             AB(CKA_SUBJECT, big, LS_OBJECT_MAX_VALUE),
			             AB(CKA_VALUE, big, LS_OBJECT_MAX_CERT_VALUE),
			             AB(CKA_ISSUER, big, LS_OBJECT_MAX_VALUE),
			             AB(CKA_URL, big, LS_OBJECT_MAX_VALUE) };
		CK_ATTRIBUTE a = AB(CKA_SERIAL_NUMBER, big, LS_OBJECT_MAX_VALUE);

		o = must_create(t, N(t));
		cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_TEMPLATE_INCONSISTENT);
		a.ulValueLen = 100;
		cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_OK);
		ls_object_unref(o);
	}
	free(many);
	free(big);
}

/* ---------------------------------------------------------------------------------------------
 * Key values and GOST parameters
 * ------------------------------------------------------------------------------------------- */

Test(object, key_value_lengths)
{
	uint8_t pub[128], priv[64], v64[64];
	ls_object *o = NULL;

	memset(v64, 0x5a, sizeof(v64));
	gost_pair(LS_CURVE_TC26_512_A, pub, 128, priv, 64);
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_gost512),
			             AB(CKA_GOSTR3410_PARAMS, oid_tc26_512_a, sizeof(oid_tc26_512_a)),
			             AB(CKA_VALUE, pub, 128) };

		cr_assert_eq(create(t, N(t), &o), CKR_OK, "512-bit public, 128 bytes");
		cr_assert_eq(get_bytes(o, NULL, CKA_GOSTR3411_PARAMS, v64, sizeof(v64)),
		             sizeof(oid_streebog512));
		cr_assert_arr_eq(v64, oid_streebog512, sizeof(oid_streebog512));
		ls_object_unref(o);
		t[3].ulValueLen = 127;
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "127 bytes");
		t[3].ulValueLen = 64;
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "64 bytes");
		t[1].pValue = &k_gost;
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCONSISTENT, "256 type, 512 curve");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_gost512),
			             AB(CKA_GOSTR3410_PARAMS, oid_tc26_512_a, sizeof(oid_tc26_512_a)),
			             AB(CKA_VALUE, priv, 64) };

		cr_assert_eq(create(t, N(t), &o), CKR_OK, "512-bit private, 64 bytes");
		ls_object_unref(o);
		t[3].ulValueLen = 32;
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "32 bytes");
	}
	{
		/* A point off the curve, and a zero scalar. */
		uint8_t zero[32] = { 0 };
		CK_ATTRIBUTE tp[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_gost),
			              AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
			              AB(CKA_VALUE, v64, 64) };
		CK_ATTRIBUTE tq[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_gost),
			              AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
			              AB(CKA_VALUE, zero, 32) };

		cr_assert_eq(create(tp, N(tp), &o), CKR_ATTRIBUTE_VALUE_INVALID);
		cr_assert_eq(create(tq, N(tq), &o), CKR_ATTRIBUTE_VALUE_INVALID);
	}
	{
		CK_KEY_TYPE types[] = { CKK_KUZNYECHIK, CKK_MAGMA, CKK_GOST28147 };

		for (size_t i = 0; i < 3; i++) {
			CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, types[i]),
				             AB(CKA_VALUE, v64, 32) };

			cr_assert_eq(create(t, N(t), &o), CKR_OK);
			ls_object_unref(o);
			t[2].ulValueLen = 31;
			cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
			t[2].ulValueLen = 64;
			cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
		}
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_twin),
			             AB(CKA_VALUE, v64, 64) };

		cr_assert_eq(create(t, N(t), &o), CKR_OK, "twin key, 64 bytes");
		ls_object_unref(o);
		t[2].ulValueLen = 32;
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
	}
	{
		CK_ULONG len = 20, wrong = 21;
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_generic),
			             AB(CKA_VALUE, v64, 20), A(CKA_VALUE_LEN, len) };

		cr_assert_eq(create(t, N(t), &o), CKR_OK, "generic secret with its length");
		cr_assert_eq(get_ulong(o, CKA_VALUE_LEN), 20);
		ls_object_unref(o);
		t[3].pValue = &wrong;
		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCONSISTENT);
		t[2].ulValueLen = 0;
		cr_assert_eq(create(t, 3, &o), CKR_ATTRIBUTE_VALUE_INVALID, "empty generic secret");
	}
}

Test(object, both_oid_families_and_bogus_oids)
{
	uint8_t pub[64], priv[32], buf[16];
	const uint8_t *same_curve[] = { oid_cp_a, oid_tc26_256_b, oid_xch_a };
	const size_t lens[] = { sizeof(oid_cp_a), sizeof(oid_tc26_256_b), sizeof(oid_xch_a) };
	ls_object *o = NULL;

	gost_pair(LS_CURVE_CP_A, pub, 64, priv, 32);
	for (size_t i = 0; i < 3; i++) {
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_gost),
			             AB(CKA_GOSTR3410_PARAMS, same_curve[i], lens[i]),
			             AB(CKA_VALUE, priv, 32) };

		cr_assert_eq(create(t, N(t), &o), CKR_OK, "alias %zu", i);
		cr_assert_eq(ls_object_curve(o), LS_CURVE_CP_A);
		/* The OID reads back as it was given. */
		cr_assert_eq(get_bytes(o, NULL, CKA_GOSTR3410_PARAMS, buf, sizeof(buf)), lens[i]);
		cr_assert_arr_eq(buf, same_curve[i], lens[i]);
		ls_object_unref(o);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_gost),
			             AB(CKA_GOSTR3410_PARAMS, oid_bogus, sizeof(oid_bogus)),
			             AB(CKA_VALUE, pub, 64) };

		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "unknown OID");
		t[2] = (CK_ATTRIBUTE)AB(CKA_GOSTR3410_PARAMS, oid_broken, sizeof(oid_broken));
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "broken DER");
		t[2] = (CK_ATTRIBUTE)AB(CKA_GOSTR3410_PARAMS, oid_streebog256,
		                        sizeof(oid_streebog256));
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "a hash OID");
		t[2] = (CK_ATTRIBUTE)AB(CKA_GOSTR3410_PARAMS, oid_tc26_256_a, sizeof(oid_tc26_256_a));
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID,
		             "a CP-A point is not on tc26-256-A");
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_gost),
			             AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
			             AB(CKA_VALUE, pub, 64),
			             AB(CKA_GOSTR3411_PARAMS, oid_streebog512, sizeof(oid_streebog512)) };

		cr_assert_eq(create(t, N(t), &o), CKR_TEMPLATE_INCONSISTENT, "512 hash, 256 key");
		t[4] = (CK_ATTRIBUTE)AB(CKA_GOSTR3411_PARAMS, oid_gost94_cp, sizeof(oid_gost94_cp));
		cr_assert_eq(create(t, N(t), &o), CKR_OK, "2001-style hash parameters");
		ls_object_unref(o);
		t[4] = (CK_ATTRIBUTE)AB(CKA_GOSTR3411_PARAMS, oid_bogus, sizeof(oid_bogus));
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
		t[4] = (CK_ATTRIBUTE)AB(CKA_GOST28147_PARAMS, oid_bogus, sizeof(oid_bogus));
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_gost89),
			             AB(CKA_VALUE, kuz_value, 32),
			             AB(CKA_GOST28147_PARAMS, oid_gost89_z, sizeof(oid_gost89_z)) };

		cr_assert_eq(create(t, 3, &o), CKR_OK);
		cr_assert_eq(ls_object_gost89_param(o), LS_GOST89_PARAM_CPA, "default S-box");
		ls_object_unref(o);
		cr_assert_eq(create(t, N(t), &o), CKR_OK);
		cr_assert_eq(ls_object_gost89_param(o), LS_GOST89_PARAM_Z);
		ls_object_unref(o);
		t[3] = (CK_ATTRIBUTE)AB(CKA_GOST28147_PARAMS, oid_cp_a, sizeof(oid_cp_a));
		cr_assert_eq(create(t, N(t), &o), CKR_ATTRIBUTE_VALUE_INVALID, "a curve OID");
	}
}

Test(object, secret_key_check_value)
{
	ls_mech_key mk = { .cls = CKO_SECRET_KEY, .key_type = CKK_KUZNYECHIK, .value = kuz_value,
		           .value_len = 32 };
	uint8_t want[3], buf[8], wrong[3] = { 1, 2, 3 };
	CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_kuz),
		             AB(CKA_VALUE, kuz_value, 32), AB(CKA_CHECK_VALUE, want, 3) };
	ls_object *o;

	cr_assert_eq(ls_mech_check_value(&mk, want), CKR_OK);
	o = must_create(t, 3);
	cr_assert_eq(get_bytes(o, NULL, CKA_CHECK_VALUE, buf, sizeof(buf)), 3);
	cr_assert_arr_eq(buf, want, 3);
	ls_object_unref(o);
	o = must_create(t, 4); /* the right one given */
	ls_object_unref(o);
	t[3].ulValueLen = 0; /* none wanted */
	o = must_create(t, 4);
	cr_assert_eq(get_bytes(o, NULL, CKA_CHECK_VALUE, buf, sizeof(buf)), 0);
	ls_object_unref(o);
	t[3] = (CK_ATTRIBUTE)AB(CKA_CHECK_VALUE, wrong, 3);
	o = NULL;
	cr_assert_eq(create(t, 4, &o), CKR_ATTRIBUTE_VALUE_INVALID);
	cr_assert_null(o);
	{
		/* Generic secrets: the first 3 bytes of SHA-1(CKA_VALUE); FIPS 180's "abc" example. */
		static const uint8_t sha1_abc[3] = { 0xa9, 0x99, 0x3e };
		CK_ATTRIBUTE g[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_generic),
			             AB(CKA_VALUE, "abc", 3) };

		o = must_create(g, N(g));
		cr_assert_eq(get_bytes(o, NULL, CKA_CHECK_VALUE, buf, sizeof(buf)), 3);
		cr_assert_arr_eq(buf, sha1_abc, 3);
		ls_object_unref(o);
	}
}

/* ---------------------------------------------------------------------------------------------
 * C_SetAttributeValue, C_CopyObject, one-way flags
 * ------------------------------------------------------------------------------------------- */

Test(object, set_attribute_rules)
{
	CK_BBOOL f = CK_FALSE, t = CK_TRUE;
	ls_object *o = kuz_key(&f, &t, &f), *old;
	uint8_t uid[64], uid2[64], buf[8];
	size_t uid_len = get_bytes(o, NULL, CKA_UNIQUE_ID, uid, sizeof(uid));
	CK_ATTRIBUTE a;

	old = ls_object_ref(o);
	a = (CK_ATTRIBUTE)AB(CKA_LABEL, "renamed", 7);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_OK);
	cr_assert_neq(o, old, "a new object");
	cr_assert_eq(get_bytes(old, NULL, CKA_LABEL, uid2, sizeof(uid2)), 3, "old one unchanged");
	cr_assert_eq(get_bytes(o, NULL, CKA_LABEL, buf, sizeof(buf)), 7);
	cr_assert_eq(get_bytes(o, NULL, CKA_UNIQUE_ID, uid2, sizeof(uid2)), uid_len);
	cr_assert_arr_eq(uid, uid2, uid_len, "same CKA_UNIQUE_ID");
	ls_object_unref(old);

	a = (CK_ATTRIBUTE)A(CKA_CLASS, c_data);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY);
	a = (CK_ATTRIBUTE)A(CKA_CLASS, c_secret);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_OK, "the same value is no change");
	a = (CK_ATTRIBUTE)A(CKA_KEY_TYPE, k_magma);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY);
	a = (CK_ATTRIBUTE)AB(CKA_VALUE, kuz_value, 32);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY, "never compared");
	a = (CK_ATTRIBUTE)A(CKA_TOKEN, yes);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY, "copy only");
	a = (CK_ATTRIBUTE)A(CKA_PRIVATE, no);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY, "copy only");
	a = (CK_ATTRIBUTE)A(CKA_DESTROYABLE, no);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY, "copy only");
	a = (CK_ATTRIBUTE)A(CKA_LOCAL, yes);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY);
	a = (CK_ATTRIBUTE)A(CKA_ALWAYS_SENSITIVE, yes);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY);
	a = (CK_ATTRIBUTE)AB(CKA_UNIQUE_ID, "x", 1);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY);
	a = (CK_ATTRIBUTE)A(CKA_MODULUS_BITS, c_data);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_TYPE_INVALID);
	a = (CK_ATTRIBUTE)AB(CKA_ENCRYPT, "\x02", 1);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_VALUE_INVALID);
	a = (CK_ATTRIBUTE)A(CKA_ENCRYPT, no);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_OK);
	cr_assert_eq(ls_object_check_usage(o, CKA_ENCRYPT, CKM_KUZNYECHIK_ECB),
	             CKR_KEY_FUNCTION_NOT_PERMITTED);

	/* One-way flags. */
	a = (CK_ATTRIBUTE)A(CKA_SENSITIVE, yes);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_OK, "FALSE -> TRUE");
	a = (CK_ATTRIBUTE)A(CKA_SENSITIVE, no);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY, "TRUE -> FALSE");
	a = (CK_ATTRIBUTE)A(CKA_EXTRACTABLE, no);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_OK, "TRUE -> FALSE");
	a = (CK_ATTRIBUTE)A(CKA_EXTRACTABLE, yes);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY, "FALSE -> TRUE");
	a = (CK_ATTRIBUTE)A(CKA_WRAP_WITH_TRUSTED, yes);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_OK, "FALSE -> TRUE");
	a = (CK_ATTRIBUTE)A(CKA_WRAP_WITH_TRUSTED, no);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY, "TRUE -> FALSE");
	a = (CK_ATTRIBUTE)A(CKA_COPYABLE, no);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_OK, "TRUE -> FALSE");
	a = (CK_ATTRIBUTE)A(CKA_COPYABLE, yes);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY, "FALSE -> TRUE");
	/* Sensitivity changed after creation: never "always sensitive". */
	cr_assert_eq(get_bool(o, CKA_ALWAYS_SENSITIVE), CK_FALSE);
	cr_assert_eq(get_bool(o, CKA_NEVER_EXTRACTABLE), CK_FALSE);

	/* CKA_TRUSTED: the SO only. */
	a = (CK_ATTRIBUTE)A(CKA_TRUSTED, yes);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY);
	cr_assert_eq(set1(&o, LS_OBJECT_SO, &a), CKR_OK);
	cr_assert(ls_object_flags(o) & LS_OBJECT_F_TRUSTED);
	a = (CK_ATTRIBUTE)A(CKA_TRUSTED, no);
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY);

	/* CKA_MODIFIABLE false: nothing changes, not even the label. */
	{
		CK_ATTRIBUTE t2[] = { A(CKA_CLASS, c_data), A(CKA_MODIFIABLE, no) };
		ls_object *ro = must_create(t2, N(t2));

		a = (CK_ATTRIBUTE)AB(CKA_LABEL, "x", 1);
		cr_assert_eq(set1(&ro, LS_OBJECT_USER, &a), CKR_ACTION_PROHIBITED);
		ls_object_unref(ro);
	}
	ls_object_unref(o);
}

Test(object, set_gost_hash_parameters)
{
	uint8_t pub[64], priv[32];
	CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_gost),
		             AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
		             AB(CKA_VALUE, pub, 64) };
	ls_object *o;
	CK_ATTRIBUTE a;

	gost_pair(LS_CURVE_CP_A, pub, 64, priv, 32);
	o = must_create(t, N(t));
	a = (CK_ATTRIBUTE)AB(CKA_GOSTR3411_PARAMS, oid_streebog512, sizeof(oid_streebog512));
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_TEMPLATE_INCONSISTENT);
	a = (CK_ATTRIBUTE)AB(CKA_GOSTR3411_PARAMS, oid_gost94_cp, sizeof(oid_gost94_cp));
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_OK);
	a = (CK_ATTRIBUTE)AB(CKA_GOSTR3410_PARAMS, oid_tc26_256_b, sizeof(oid_tc26_256_b));
	cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY, "the curve stays");
	ls_object_unref(o);
}

Test(object, copy_rules)
{
	CK_BBOOL f = CK_FALSE, t = CK_TRUE;
	ls_object *src = kuz_key(&f, &t, &f), *c = NULL;
	uint8_t a_uid[64], b_uid[64], buf[64];
	size_t a_len, b_len;
	const ls_object_ctx ctx = { .who = LS_OBJECT_USER };

	{
		CK_ATTRIBUTE tmpl[] = { A(CKA_TOKEN, yes), A(CKA_PRIVATE, no), AB(CKA_ID, "new", 3),
			                A(CKA_SENSITIVE, yes), A(CKA_EXTRACTABLE, no),
			                A(CKA_MODIFIABLE, no), A(CKA_DESTROYABLE, no) };

		cr_assert_eq(ls_object_copy(src, &ctx, NULL, tmpl, N(tmpl), &c), CKR_OK);
	}
	cr_assert(ls_object_is_token(c));
	cr_assert(!ls_object_is_private(c));
	cr_assert_eq(ls_object_store_id(c), 0);
	cr_assert_eq(get_bool(c, CKA_SENSITIVE), CK_TRUE);
	cr_assert_eq(get_bool(c, CKA_ALWAYS_SENSITIVE), CK_FALSE, "kept from the original");
	cr_assert_eq(get_bool(c, CKA_NEVER_EXTRACTABLE), CK_FALSE, "kept from the original");
	cr_assert_eq(ls_object_check_destroy(c), CKR_ACTION_PROHIBITED);
	a_len = get_bytes(src, NULL, CKA_UNIQUE_ID, a_uid, sizeof(a_uid));
	b_len = get_bytes(c, NULL, CKA_UNIQUE_ID, b_uid, sizeof(b_uid));
	cr_assert(a_len != b_len || memcmp(a_uid, b_uid, a_len) != 0, "a new CKA_UNIQUE_ID");
	/* The original is still extractable and readable; the copy's value is the same. */
	cr_assert_eq(get_bytes(src, NULL, CKA_VALUE, buf, sizeof(buf)), 32);
	cr_assert_arr_eq(buf, kuz_value, 32);
	ls_object_unref(c);
	c = NULL;

	{
		CK_ATTRIBUTE tmpl[] = { AB(CKA_VALUE, kuz_value, 32) };
		cr_assert_eq(ls_object_copy(src, &ctx, NULL, tmpl, 1, &c), CKR_ATTRIBUTE_READ_ONLY);
	}
	{
		CK_ATTRIBUTE tmpl[] = { A(CKA_KEY_GEN_MECHANISM, c_data) };
		cr_assert_eq(ls_object_copy(src, &ctx, NULL, tmpl, 1, &c), CKR_ATTRIBUTE_READ_ONLY);
	}
	{
		CK_ATTRIBUTE tmpl[] = { A(CKA_COPYABLE, no) };
		ls_object *nocopy = NULL;

		cr_assert_eq(ls_object_copy(src, &ctx, NULL, tmpl, 1, &nocopy), CKR_OK);
		cr_assert_eq(ls_object_copy(nocopy, &ctx, NULL, NULL, 0, &c), CKR_ACTION_PROHIBITED);
		ls_object_unref(nocopy);
	}
	{
		/* A read-only object can be copied into a modifiable one (if it is copyable). */
		CK_ATTRIBUTE t2[] = { A(CKA_CLASS, c_data), A(CKA_MODIFIABLE, no) };
		CK_ATTRIBUTE tmpl[] = { A(CKA_MODIFIABLE, yes) };
		ls_object *ro = must_create(t2, N(t2));

		cr_assert_eq(ls_object_copy(ro, &ctx, NULL, tmpl, 1, &c), CKR_OK);
		cr_assert(ls_object_flags(c) & LS_OBJECT_F_MODIFIABLE);
		ls_object_unref(ro);
		ls_object_unref(c);
		c = NULL;
	}
	cr_assert_null(c);
	ls_object_unref(src);
}

/* ---------------------------------------------------------------------------------------------
 * Generated, derived, unwrapped keys
 * ------------------------------------------------------------------------------------------- */

Test(object, generate_secret_key)
{
	ls_object_ctx ctx = { .op = LS_OBJECT_OP_GENERATE, .who = LS_OBJECT_USER,
		              .mechanism = CKM_KUZNYECHIK_KEY_GEN };
	ls_object *o = NULL;
	CK_ULONG twenty = 20, sixteen = 16;
	uint8_t buf[8];
	CK_ATTRIBUTE g;

	cr_assert_eq(ls_object_new_key(&ctx, NULL, 0, &o), CKR_OK);
	cr_assert_eq(ls_object_key_type(o), CKK_KUZNYECHIK);
	cr_assert_eq(ls_object_class(o), CKO_SECRET_KEY);
	g = (CK_ATTRIBUTE)AB(CKA_LABEL, buf, sizeof(buf));
	cr_assert_eq(ls_object_get_attributes(o, NULL, &g, 1), CKR_GENERAL_ERROR, "pending");
	cr_assert_eq(ls_object_complete(o, kuz_value, 31, NULL), CKR_ATTRIBUTE_VALUE_INVALID);
	cr_assert_eq(ls_object_complete(o, kuz_value, 32, NULL), CKR_OK);
	cr_assert_eq(ls_object_complete(o, kuz_value, 32, NULL), CKR_GENERAL_ERROR, "not pending");
	cr_assert_eq(get_bool(o, CKA_LOCAL), CK_TRUE);
	cr_assert_eq(get_ulong(o, CKA_KEY_GEN_MECHANISM), CKM_KUZNYECHIK_KEY_GEN);
	cr_assert_eq(get_bool(o, CKA_ALWAYS_SENSITIVE), CK_TRUE);
	cr_assert_eq(get_bool(o, CKA_NEVER_EXTRACTABLE), CK_TRUE);
	cr_assert_eq(get_bytes(o, NULL, CKA_CHECK_VALUE, buf, sizeof(buf)), 3);
	ls_object_unref(o);
	o = NULL;

	{
		CK_ATTRIBUTE t[] = { A(CKA_SENSITIVE, no), A(CKA_EXTRACTABLE, yes) };

		cr_assert_eq(ls_object_new_key(&ctx, t, N(t), &o), CKR_OK);
		cr_assert_eq(ls_object_complete(o, kuz_value, 32, NULL), CKR_OK);
		cr_assert_eq(get_bool(o, CKA_ALWAYS_SENSITIVE), CK_FALSE);
		cr_assert_eq(get_bool(o, CKA_NEVER_EXTRACTABLE), CK_FALSE);
		{
			CK_ATTRIBUTE a = A(CKA_SENSITIVE, yes);
			cr_assert_eq(set1(&o, LS_OBJECT_USER, &a), CKR_OK);
		}
		cr_assert_eq(get_bool(o, CKA_ALWAYS_SENSITIVE), CK_FALSE, "stays false");
		ls_object_unref(o);
		o = NULL;
	}
	{
		CK_ATTRIBUTE t[] = { AB(CKA_VALUE, kuz_value, 32) };
		cr_assert_eq(ls_object_new_key(&ctx, t, 1, &o), CKR_ATTRIBUTE_READ_ONLY);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_LOCAL, yes) };
		cr_assert_eq(ls_object_new_key(&ctx, t, 1, &o), CKR_ATTRIBUTE_READ_ONLY);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_KEY_TYPE, k_magma) };
		cr_assert_eq(ls_object_new_key(&ctx, t, 1, &o), CKR_TEMPLATE_INCONSISTENT);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_priv) };
		cr_assert_eq(ls_object_new_key(&ctx, t, 1, &o), CKR_TEMPLATE_INCONSISTENT);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_VALUE_LEN, sixteen) };
		cr_assert_eq(ls_object_new_key(&ctx, t, 1, &o), CKR_TEMPLATE_INCONSISTENT,
		             "Kuznyechik keys are 32 bytes");
	}
	ctx.mechanism = CKM_GENERIC_SECRET_KEY_GEN;
	cr_assert_eq(ls_object_new_key(&ctx, NULL, 0, &o), CKR_TEMPLATE_INCOMPLETE, "no length");
	{
		CK_ATTRIBUTE t[] = { A(CKA_VALUE_LEN, twenty), A(CKA_SIGN, yes) };

		cr_assert_eq(ls_object_new_key(&ctx, t, N(t), &o), CKR_OK);
		cr_assert_eq(ls_object_key_type(o), CKK_GENERIC_SECRET);
		cr_assert_eq(ls_object_value_len(o), 20);
		cr_assert_eq(ls_object_complete(o, kuz_value, 21, NULL), CKR_ATTRIBUTE_VALUE_INVALID);
		cr_assert_eq(ls_object_complete(o, kuz_value, 20, NULL), CKR_OK);
		cr_assert_eq(get_ulong(o, CKA_VALUE_LEN), 20);
		ls_object_unref(o);
		o = NULL;
	}
	ctx.mechanism = CKM_AES_KEY_GEN;
	cr_assert_eq(ls_object_new_key(&ctx, NULL, 0, &o), CKR_MECHANISM_INVALID);
	ctx.mechanism = CKM_GOSTR3410_KEY_PAIR_GEN;
	cr_assert_eq(ls_object_new_key(&ctx, NULL, 0, &o), CKR_MECHANISM_INVALID);
	cr_assert_null(o);
}

Test(object, derived_and_unwrapped_keys)
{
	ls_object_ctx gen = { .op = LS_OBJECT_OP_GENERATE, .who = LS_OBJECT_USER,
		              .mechanism = CKM_KUZNYECHIK_KEY_GEN };
	ls_object_ctx derive = { .op = LS_OBJECT_OP_DERIVE, .who = LS_OBJECT_USER,
		                 .mechanism = CKM_KDF_GOSTR3411_2012_256,
		                 .default_key_type = CK_UNAVAILABLE_INFORMATION };
	ls_object_ctx unwrap = { .op = LS_OBJECT_OP_UNWRAP, .who = LS_OBJECT_USER,
		                 .mechanism = CKM_KUZNYECHIK_KEXP_15_WRAP,
		                 .default_key_type = CK_UNAVAILABLE_INFORMATION };
	CK_ATTRIBUTE kt_magma[] = { A(CKA_KEY_TYPE, k_magma) };
	CK_ATTRIBUTE kt_magma_open[] = { A(CKA_KEY_TYPE, k_magma), A(CKA_SENSITIVE, no),
		                         A(CKA_EXTRACTABLE, yes) };
	ls_object *base = NULL, *o = NULL;

	cr_assert_eq(ls_object_new_key(&gen, NULL, 0, &base), CKR_OK);
	cr_assert_eq(ls_object_complete(base, kuz_value, 32, NULL), CKR_OK);
	derive.base = base;

	cr_assert_eq(ls_object_new_key(&derive, NULL, 0, &o), CKR_TEMPLATE_INCOMPLETE,
	             "no key type and no default");
	cr_assert_eq(ls_object_new_key(&derive, kt_magma, 1, &o), CKR_OK);
	cr_assert_eq(ls_object_complete(o, kuz_value, 32, NULL), CKR_OK);
	cr_assert_eq(get_bool(o, CKA_LOCAL), CK_FALSE);
	cr_assert_eq(get_ulong(o, CKA_KEY_GEN_MECHANISM), CK_UNAVAILABLE_INFORMATION);
	cr_assert_eq(get_bool(o, CKA_ALWAYS_SENSITIVE), CK_TRUE, "inherited from the base");
	cr_assert_eq(get_bool(o, CKA_NEVER_EXTRACTABLE), CK_TRUE, "inherited from the base");
	ls_object_unref(o);
	cr_assert_eq(ls_object_new_key(&derive, kt_magma_open, N(kt_magma_open), &o), CKR_OK);
	cr_assert_eq(ls_object_complete(o, kuz_value, 32, NULL), CKR_OK);
	cr_assert_eq(get_bool(o, CKA_ALWAYS_SENSITIVE), CK_FALSE);
	cr_assert_eq(get_bool(o, CKA_NEVER_EXTRACTABLE), CK_FALSE);
	ls_object_unref(o);
	{
		CK_ATTRIBUTE t[] = { A(CKA_KEY_TYPE, k_magma), AB(CKA_VALUE, kuz_value, 32) };
		cr_assert_eq(ls_object_new_key(&derive, t, N(t), &o), CKR_ATTRIBUTE_READ_ONLY);
	}
	derive.default_key_type = CKK_GENERIC_SECRET;
	cr_assert_eq(ls_object_new_key(&derive, NULL, 0, &o), CKR_OK, "the caller's default");
	cr_assert_eq(ls_object_key_type(o), CKK_GENERIC_SECRET);
	cr_assert_eq(ls_object_complete(o, kuz_value, 32, NULL), CKR_OK);
	ls_object_unref(o);
	cr_assert_eq(ls_object_new_key(&derive, kt_magma, 1, &o), CKR_OK, "a default only");
	ls_object_unref(o);

	cr_assert_eq(ls_object_new_key(&unwrap, kt_magma, 1, &o), CKR_OK);
	cr_assert_eq(ls_object_complete(o, kuz_value, 32, NULL), CKR_OK);
	cr_assert_eq(get_bool(o, CKA_SENSITIVE), CK_TRUE);
	cr_assert_eq(get_bool(o, CKA_ALWAYS_SENSITIVE), CK_FALSE, "it was outside the token");
	cr_assert_eq(get_bool(o, CKA_NEVER_EXTRACTABLE), CK_FALSE);
	cr_assert_eq(get_bool(o, CKA_LOCAL), CK_FALSE);
	ls_object_unref(o);
	{
		/* An unwrapped GOST private key names its curve. */
		uint8_t pub[64], priv[32];
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_gost),
			             AB(CKA_GOSTR3410_PARAMS, oid_tc26_256_b, sizeof(oid_tc26_256_b)) };

		gost_pair(LS_CURVE_CP_A, pub, 64, priv, 32);
		cr_assert_eq(ls_object_new_key(&unwrap, t, 2, &o), CKR_TEMPLATE_INCOMPLETE);
		cr_assert_eq(ls_object_new_key(&unwrap, t, 3, &o), CKR_OK);
		cr_assert_eq(ls_object_curve(o), LS_CURVE_CP_A);
		cr_assert_eq(ls_object_complete(o, priv, 31, NULL), CKR_ATTRIBUTE_VALUE_INVALID);
		cr_assert_eq(ls_object_complete(o, priv, 32, NULL), CKR_OK);
		ls_object_unref(o);
		cr_assert_eq(ls_object_new_key(&derive, t, 3, &o), CKR_TEMPLATE_INCONSISTENT,
		             "derive makes secret keys");
	}
	ls_object_unref(base);
}

Test(object, key_pair_like_pkcs11_tool)
{
	ls_object_ctx ctx = { .who = LS_OBJECT_USER, .mechanism = CKM_GOSTR3410_KEY_PAIR_GEN };
	uint8_t pubv[64], privv[32];
	ls_object *pub = NULL, *priv = NULL;
	ls_object_key view;
	CK_ATTRIBUTE tp[] = { A(CKA_KEY_TYPE, k_gost),
		              AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
		              AB(CKA_GOSTR3411_PARAMS, oid_streebog256, sizeof(oid_streebog256)),
		              A(CKA_VERIFY, yes), A(CKA_TOKEN, yes) };
	CK_ATTRIBUTE tq[] = { A(CKA_KEY_TYPE, k_gost),
		              AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
		              AB(CKA_GOSTR3411_PARAMS, oid_streebog256, sizeof(oid_streebog256)),
		              A(CKA_SIGN, yes), A(CKA_TOKEN, yes), A(CKA_PRIVATE, yes) };
	ls_gost_key *k = NULL;

	cr_assert_eq(ls_object_new_key_pair(&ctx, tp, N(tp), tq, N(tq), &pub, &priv), CKR_OK);
	cr_assert_eq(ls_object_curve(pub), LS_CURVE_CP_A);
	cr_assert_eq(ls_object_curve(priv), LS_CURVE_CP_A);
	cr_assert(ls_object_is_token(pub) && ls_object_is_token(priv));
	cr_assert_eq(ls_gost_key_generate(LS_CURVE_CP_A, &k), LS_OK);
	cr_assert_eq(ls_gost_key_public(k, pubv, 64), LS_OK);
	cr_assert_eq(ls_gost_key_private(k, privv, 32), LS_OK);
	cr_assert_eq(ls_object_complete(pub, pubv, 64, NULL), CKR_OK);
	cr_assert_eq(ls_object_complete(priv, privv, 32, &k), CKR_OK);
	cr_assert_null(k, "the built key was taken over");
	cr_assert_eq(get_bool(pub, CKA_LOCAL), CK_TRUE);
	cr_assert_eq(get_ulong(priv, CKA_KEY_GEN_MECHANISM), CKM_GOSTR3410_KEY_PAIR_GEN);
	cr_assert_eq(get_bool(priv, CKA_ALWAYS_SENSITIVE), CK_TRUE);
	cr_assert_eq(get_bool(priv, CKA_NEVER_EXTRACTABLE), CK_TRUE);
	cr_assert_eq(ls_object_key_init(priv, NULL, &view), CKR_OK);
	cr_assert_not_null(view.key.gost);
	cr_assert_eq(view.key.curve, LS_CURVE_CP_A);
	cr_assert_eq(view.key.value_len, 32);
	cr_assert_arr_eq(view.key.value, privv, 32);
	ls_object_key_clear(&view);
	ls_object_unref(pub);
	ls_object_unref(priv);
	pub = priv = NULL;

	/* The private template without domain parameters takes the public one's. */
	cr_assert_eq(ls_object_new_key_pair(&ctx, tp, N(tp), &tq[3], 3, &pub, &priv), CKR_OK);
	cr_assert_eq(ls_object_curve(priv), LS_CURVE_CP_A);
	ls_object_unref(pub);
	ls_object_unref(priv);
	pub = priv = NULL;
	{
		/* Another alias of the same curve in the private template is fine. */
		CK_ATTRIBUTE q2[] = { AB(CKA_GOSTR3410_PARAMS, oid_tc26_256_b,
			                 sizeof(oid_tc26_256_b)) };
		CK_ATTRIBUTE q3[] = { AB(CKA_GOSTR3410_PARAMS, oid_tc26_256_a,
			                 sizeof(oid_tc26_256_a)) };

		cr_assert_eq(ls_object_new_key_pair(&ctx, tp, N(tp), q2, 1, &pub, &priv), CKR_OK);
		ls_object_unref(pub);
		ls_object_unref(priv);
		pub = priv = NULL;
		cr_assert_eq(ls_object_new_key_pair(&ctx, tp, N(tp), q3, 1, &pub, &priv),
		             CKR_TEMPLATE_INCONSISTENT, "another curve");
	}
	cr_assert_eq(ls_object_new_key_pair(&ctx, &tp[2], 3, tq, N(tq), &pub, &priv),
	             CKR_TEMPLATE_INCOMPLETE, "no curve in the public template");
	{
		CK_ATTRIBUTE p512[] = { AB(CKA_GOSTR3410_PARAMS, oid_tc26_512_a,
			                   sizeof(oid_tc26_512_a)) };

		cr_assert_eq(ls_object_new_key_pair(&ctx, p512, 1, NULL, 0, &pub, &priv),
		             CKR_TEMPLATE_INCONSISTENT, "512-bit curve, 256-bit mechanism");
		ctx.mechanism = CKM_GOSTR3410_512_KEY_PAIR_GEN;
		cr_assert_eq(ls_object_new_key_pair(&ctx, p512, 1, NULL, 0, &pub, &priv), CKR_OK);
		cr_assert_eq(ls_object_key_type(priv), CKK_GOSTR3410_512);
		cr_assert_eq(ls_object_class(priv), CKO_PRIVATE_KEY);
		cr_assert_eq(ls_object_complete(priv, privv, 32, NULL), CKR_ATTRIBUTE_VALUE_INVALID,
		             "a 256-bit scalar for a 512-bit key");
		ls_object_unref(pub);
		ls_object_unref(priv);
		pub = priv = NULL;
		ctx.mechanism = CKM_GOSTR3410_KEY_PAIR_GEN;
	}
	{
		CK_ATTRIBUTE withv[] = { AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
			                 AB(CKA_VALUE, pubv, 64) };
		CK_ATTRIBUTE cls[] = { A(CKA_CLASS, c_secret) };

		cr_assert_eq(ls_object_new_key_pair(&ctx, withv, 2, NULL, 0, &pub, &priv),
		             CKR_ATTRIBUTE_READ_ONLY);
		cr_assert_eq(ls_object_new_key_pair(&ctx, withv, 1, cls, 1, &pub, &priv),
		             CKR_TEMPLATE_INCONSISTENT);
	}
	ctx.mechanism = CKM_KUZNYECHIK_KEY_GEN;
	cr_assert_eq(ls_object_new_key_pair(&ctx, tp, N(tp), tq, N(tq), &pub, &priv),
	             CKR_MECHANISM_INVALID);
	cr_assert_null(pub);
	cr_assert_null(priv);
}

/* ---------------------------------------------------------------------------------------------
 * Rules the engine checks: destroy, usage, wrap
 * ------------------------------------------------------------------------------------------- */

Test(object, usage_and_allowed_mechanisms)
{
	uint8_t pub[64], priv[32];
	CK_MECHANISM_TYPE allowed[] = { CKM_GOSTR3410_WITH_GOSTR3411_12_256, CKM_GOSTR3410 };
	CK_ATTRIBUTE tq[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_gost),
		              AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
		              AB(CKA_VALUE, priv, 32), AB(CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed)) };
	CK_ATTRIBUTE tp[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_gost),
		              AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
		              AB(CKA_VALUE, pub, 64) };
	CK_ATTRIBUTE td[] = { A(CKA_CLASS, c_data) };
	ls_object *p, *q, *d, *s, *open;
	CK_BBOOL f = CK_FALSE, t = CK_TRUE;
	uint8_t buf[64];

	gost_pair(LS_CURVE_CP_A, pub, 64, priv, 32);
	q = must_create(tq, N(tq));
	p = must_create(tp, N(tp));
	d = must_create(td, N(td));
	s = kuz_key(&t, &f, &f);
	open = kuz_key(&f, &t, &f);

	cr_assert_eq(ls_object_check_usage(q, CKA_SIGN, CKM_GOSTR3410_WITH_GOSTR3411_12_256),
	             CKR_OK);
	cr_assert_eq(ls_object_check_usage(q, CKA_SIGN, CKM_GOSTR3410), CKR_OK);
	cr_assert_eq(ls_object_check_usage(q, CKA_SIGN, CKM_GOSTR3410_WITH_GOSTR3411_12_512),
	             CKR_MECHANISM_INVALID, "not in CKA_ALLOWED_MECHANISMS");
	cr_assert_eq(ls_object_check_usage(q, CKA_DERIVE, CKM_GOSTR3410_12_DERIVE),
	             CKR_KEY_FUNCTION_NOT_PERMITTED);
	cr_assert_eq(ls_object_check_usage(q, CKA_VERIFY, CKM_GOSTR3410), CKR_KEY_TYPE_INCONSISTENT);
	cr_assert_eq(ls_object_check_usage(p, CKA_SIGN, CKM_GOSTR3410), CKR_KEY_TYPE_INCONSISTENT);
	cr_assert_eq(ls_object_check_usage(p, CKA_VERIFY, CKM_GOSTR3410), CKR_OK,
	             "no list: every mechanism");
	cr_assert_eq(ls_object_check_usage(p, CKA_ENCRYPT, CKM_GOSTR3410),
	             CKR_KEY_FUNCTION_NOT_PERMITTED);
	cr_assert_eq(ls_object_check_usage(d, CKA_SIGN, CKM_GOSTR3410), CKR_KEY_TYPE_INCONSISTENT);
	cr_assert_eq(ls_object_check_usage(s, CKA_ENCRYPT, CKM_KUZNYECHIK_ECB), CKR_OK);
	cr_assert_eq(ls_object_check_usage(s, CKA_WRAP, CKM_KUZNYECHIK_KEXP_15_WRAP),
	             CKR_KEY_FUNCTION_NOT_PERMITTED);
	/* C_DigestKey. */
	cr_assert_eq(ls_object_check_usage(s, CKA_VALUE, CKM_GOSTR3411_12_256), CKR_KEY_INDIGESTIBLE);
	cr_assert_eq(ls_object_check_usage(open, CKA_VALUE, CKM_GOSTR3411_12_256), CKR_OK);
	cr_assert_eq(ls_object_check_usage(q, CKA_VALUE, CKM_GOSTR3411_12_256), CKR_KEY_INDIGESTIBLE);
	cr_assert_eq(get_bytes(q, NULL, CKA_ALLOWED_MECHANISMS, buf, sizeof(buf)), sizeof(allowed));
	cr_assert_arr_eq(buf, allowed, sizeof(allowed));
	{
		CK_ATTRIBUTE a = AB(CKA_ALLOWED_MECHANISMS, allowed, sizeof(CK_MECHANISM_TYPE));
		cr_assert_eq(set1(&q, LS_OBJECT_USER, &a), CKR_ATTRIBUTE_READ_ONLY);
	}

	/* C_WrapKey on the key to be wrapped. */
	cr_assert_eq(ls_object_check_wrap(s, open), CKR_KEY_UNEXTRACTABLE);
	cr_assert_eq(ls_object_check_wrap(open, s), CKR_OK);
	cr_assert_eq(ls_object_check_wrap(p, s), CKR_KEY_NOT_WRAPPABLE);
	{
		CK_ATTRIBUTE a = A(CKA_WRAP_WITH_TRUSTED, yes), tr = A(CKA_TRUSTED, yes);

		cr_assert_eq(set1(&open, LS_OBJECT_USER, &a), CKR_OK);
		cr_assert_eq(ls_object_check_wrap(open, s), CKR_KEY_NOT_WRAPPABLE);
		cr_assert_eq(set1(&s, LS_OBJECT_SO, &tr), CKR_OK);
		cr_assert_eq(ls_object_check_wrap(open, s), CKR_OK, "a trusted wrapping key");
	}
	ls_object_unref(p);
	ls_object_unref(q);
	ls_object_unref(d);
	ls_object_unref(s);
	ls_object_unref(open);
}

/* ---------------------------------------------------------------------------------------------
 * C_GetAttributeValue, C_GetObjectSize
 * ------------------------------------------------------------------------------------------- */

Test(object, get_attribute_value_partial_results)
{
	CK_BBOOL f = CK_FALSE, t = CK_TRUE;
	ls_object *o = kuz_key(&t, &f, &f), *open = kuz_key(&f, &t, &f);
	uint8_t label[16], value[32], id1[1], cv[8];
	CK_ULONG size = 0;
	CK_ATTRIBUTE tmpl[] = {
		AB(CKA_LABEL, label, sizeof(label)),  /* valid */
		AB(CKA_VALUE, value, sizeof(value)),  /* sensitive */
		AB(CKA_MODULUS, value, sizeof(value)), /* not an attribute of the object */
		AB(CKA_ID, id1, sizeof(id1)),          /* too small: the ID has 3 bytes */
		AB(CKA_CHECK_VALUE, NULL, 0),          /* length only */
	};

	memset(label, 0, sizeof(label));
	cr_assert_eq(ls_object_get_attributes(o, NULL, tmpl, N(tmpl)), CKR_ATTRIBUTE_SENSITIVE);
	cr_assert_eq(tmpl[0].ulValueLen, 3);
	cr_assert_arr_eq(label, "kuz", 3);
	cr_assert_eq(tmpl[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	cr_assert_eq(tmpl[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	cr_assert_eq(tmpl[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	cr_assert_eq(tmpl[4].ulValueLen, 3);

	/* Without the sensitive one: the invalid type wins over the small buffer. */
	tmpl[1] = (CK_ATTRIBUTE)AB(CKA_LABEL, label, sizeof(label));
	tmpl[2].ulValueLen = sizeof(value);
	tmpl[3].ulValueLen = sizeof(id1);
	{
		CK_ATTRIBUTE two[] = { tmpl[2], tmpl[3], tmpl[4] };

		cr_assert_eq(ls_object_get_attributes(o, NULL, two, 3), CKR_ATTRIBUTE_TYPE_INVALID);
		cr_assert_eq(two[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
		two[1].ulValueLen = sizeof(id1);
		cr_assert_eq(ls_object_get_attributes(o, NULL, &two[1], 2), CKR_BUFFER_TOO_SMALL);
		cr_assert_eq(two[2].ulValueLen, 3);
	}
	{
		uint8_t exact[3];
		CK_ATTRIBUTE one[] = { AB(CKA_ID, exact, 3), AB(CKA_CHECK_VALUE, cv, sizeof(cv)) };

		cr_assert_eq(ls_object_get_attributes(o, NULL, one, 2), CKR_OK, "an exact buffer");
		cr_assert_arr_eq(exact, "\x01\x02\x03", 3);
		cr_assert_eq(one[1].ulValueLen, 3);
	}
	/* Both hiding reasons, one at a time; and a value that may be read. */
	cr_assert_eq(get_bytes(open, NULL, CKA_VALUE, value, sizeof(value)), 32);
	cr_assert_arr_eq(value, kuz_value, 32);
	{
		CK_ATTRIBUTE a = A(CKA_EXTRACTABLE, no);
		CK_ATTRIBUTE g = AB(CKA_VALUE, value, sizeof(value));

		cr_assert_eq(set1(&open, LS_OBJECT_USER, &a), CKR_OK);
		cr_assert_eq(ls_object_get_attributes(open, NULL, &g, 1), CKR_ATTRIBUTE_SENSITIVE,
		             "not sensitive, but unextractable");
		cr_assert_eq(g.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	}
	cr_assert_eq(ls_object_get_attributes(o, NULL, NULL, 1), CKR_ARGUMENTS_BAD);
	cr_assert_eq(ls_object_get_size(o, &size), CKR_OK);
	cr_assert_gt(size, 32);
	ls_object_unref(o);
	ls_object_unref(open);
}

/* ---------------------------------------------------------------------------------------------
 * C_FindObjects
 * ------------------------------------------------------------------------------------------- */

Test(object, match_and_find_query)
{
	CK_BBOOL f = CK_FALSE, t = CK_TRUE;
	ls_object *hidden = kuz_key(&t, &f, &f), *open = kuz_key(&f, &t, &f);
	ls_store_query q;

	{
		CK_ATTRIBUTE m[] = { A(CKA_CLASS, c_secret), AB(CKA_LABEL, "kuz", 3),
			             A(CKA_KEY_TYPE, k_kuz), A(CKA_ENCRYPT, yes) };

		cr_assert(ls_object_match(hidden, m, N(m)));
		cr_assert(ls_object_match(hidden, NULL, 0), "an empty template matches all");
		m[1].ulValueLen = 2;
		cr_assert(!ls_object_match(hidden, m, N(m)));
		m[1].ulValueLen = 3;
		m[3].pValue = &no;
		cr_assert(!ls_object_match(hidden, m, N(m)));
	}
	{
		CK_ATTRIBUTE m[] = { AB(CKA_VALUE, kuz_value, 32) };

		cr_assert(!ls_object_match(hidden, m, 1), "sensitive values never match");
		cr_assert(ls_object_match(open, m, 1));
	}
	{
		CK_ATTRIBUTE m[] = { A(CKA_MODULUS_BITS, c_data) };
		cr_assert(!ls_object_match(open, m, 1), "an attribute the object lacks");
	}
	{
		CK_ATTRIBUTE m[] = { A(CKA_CLASS, c_secret), AB(CKA_LABEL, "kuz", 3),
			             AB(CKA_ID, "\x01\x02\x03", 3), A(CKA_KEY_TYPE, k_kuz),
			             A(CKA_SIGN, yes) };

		cr_assert(ls_object_find_query(m, N(m), &q));
		cr_assert_eq(q.fields, LS_STORE_Q_ALL);
		cr_assert_eq(q.cls, CKO_SECRET_KEY);
		cr_assert_eq(q.key_type, CKK_KUZNYECHIK);
		cr_assert_eq(q.ck_id_len, 3);
		cr_assert_eq(q.label_len, 3);
		cr_assert(ls_object_find_query(&m[4], 1, &q));
		cr_assert_eq(q.fields, 0, "nothing indexed");
	}
	{
		uint16_t short_cls = 4;
		CK_ATTRIBUTE bad[] = { A(CKA_CLASS, short_cls) };
		CK_ATTRIBUTE twice[] = { A(CKA_CLASS, c_secret), A(CKA_CLASS, c_data) };
		CK_ATTRIBUTE same[] = { AB(CKA_LABEL, "a", 1), AB(CKA_LABEL, "a", 1) };

		cr_assert(!ls_object_find_query(bad, 1, &q), "a class of the wrong size");
		cr_assert(!ls_object_find_query(twice, 2, &q), "two classes");
		cr_assert(ls_object_find_query(same, 2, &q));
		cr_assert_eq(q.fields, LS_STORE_Q_LABEL);
	}
	ls_object_unref(hidden);
	ls_object_unref(open);
}

/* ---------------------------------------------------------------------------------------------
 * Store encoding and sealed values
 * ------------------------------------------------------------------------------------------- */

/* A token private key, stored under id 77 of token 5. */
static ls_object *
stored_private_key(ls_protect_key *mk, uint8_t priv[32], ls_store_object *so)
{
	uint8_t pub[64];
	CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_gost), A(CKA_TOKEN, yes),
		             AB(CKA_GOSTR3410_PARAMS, oid_tc26_256_b, sizeof(oid_tc26_256_b)),
		             AB(CKA_VALUE, priv, 32), AB(CKA_LABEL, "signing key", 11),
		             AB(CKA_ID, "\xaa\xbb", 2), A(CKA_DERIVE, yes) };
	ls_object *o;

	gost_pair(LS_CURVE_CP_A, pub, 64, priv, 32);
	o = must_create(t, N(t));
	cr_assert_eq(ls_object_to_store(o, mk, so), CKR_GENERAL_ERROR, "no store id yet");
	cr_assert_eq(ls_object_set_store_id(o, 77), CKR_OK);
	cr_assert_eq(ls_object_set_store_id(o, 78), CKR_GENERAL_ERROR, "only once");
	cr_assert_eq(ls_object_to_store(o, NULL, so), CKR_USER_NOT_LOGGED_IN);
	cr_assert_eq(ls_object_to_store(o, mk, so), CKR_OK);
	return o;
}

Test(object, store_round_trip_with_sealed_values)
{
	ls_protect_key *mk = master_key(5), *other = master_key(6);
	ls_store_object so, so2;
	ls_object *o, *back = NULL, *changed = NULL;
	ls_object_key view, view2;
	uint8_t priv[32], buf[64];

	o = stored_private_key(mk, priv, &so);
	cr_assert_eq(so.id, 77);
	cr_assert_eq(so.cls, CKO_PRIVATE_KEY);
	cr_assert_eq(so.key_type, CKK_GOSTR3410);
	cr_assert_eq(so.ck_id_len, 2);
	cr_assert_arr_eq(so.ck_id, "\xaa\xbb", 2);
	cr_assert_eq(so.label_len, 11);
	cr_assert_eq(so.attrs[0], LS_OBJECT_BLOB_VERSION);
	cr_assert(!contains(so.attrs, so.attrs_len, priv, 8), "no plaintext in the blob");
	cr_assert_eq(get_bytes(o, NULL, CKA_UNIQUE_ID, buf, sizeof(buf)), 2);
	cr_assert_arr_eq(buf, "77", 2);

	cr_assert_eq(ls_object_from_store(&so, &back), CKR_OK);
	cr_assert(ls_object_is_token(back) && ls_object_is_private(back));
	cr_assert_eq(ls_object_store_id(back), 77);
	cr_assert_eq(ls_object_curve(back), LS_CURVE_CP_A);
	cr_assert_eq(get_bool(back, CKA_DERIVE), CK_TRUE);
	cr_assert_eq(get_bytes(back, NULL, CKA_LABEL, buf, sizeof(buf)), 11);
	cr_assert_eq(get_bytes(back, NULL, CKA_GOSTR3410_PARAMS, buf, sizeof(buf)),
	             sizeof(oid_tc26_256_b));
	cr_assert_eq(get_bytes(back, NULL, CKA_UNIQUE_ID, buf, sizeof(buf)), 2);
	cr_assert_eq(get_ulong(back, CKA_KEY_GEN_MECHANISM), CK_UNAVAILABLE_INFORMATION);
	{
		CK_ATTRIBUTE g = AB(CKA_VALUE, NULL, 0);

		cr_assert_eq(ls_object_get_attributes(back, mk, &g, 1), CKR_ATTRIBUTE_SENSITIVE);
	}
	/* The sealed value opens only with the master key, and only this token's. */
	cr_assert_eq(ls_object_key_init(back, NULL, &view), CKR_USER_NOT_LOGGED_IN);
	cr_assert_eq(ls_object_key_init(back, other, &view), CKR_DEVICE_ERROR);
	cr_assert_eq(ls_object_key_init(back, mk, &view), CKR_OK);
	cr_assert_eq(view.key.value_len, 32);
	cr_assert_arr_eq(view.key.value, priv, 32);
	cr_assert_not_null(view.key.gost);
	cr_assert_eq(view.key.curve, LS_CURVE_CP_A);
	cr_assert_eq(ls_object_key_init(back, NULL, &view2), CKR_OK, "opened: cached");
	cr_assert_eq(view2.key.gost, view.key.gost, "one built key per object");
	ls_object_key_clear(&view2);

	/* At logout the plaintext goes; views made before keep working. */
	ls_object_forget_secrets(back);
	cr_assert_eq(ls_object_key_init(back, NULL, &view2), CKR_USER_NOT_LOGGED_IN);
	{
		uint8_t digest[32], sig[64];

		memset(digest, 0x42, sizeof(digest));
		cr_assert_eq(ls_gost_sign_digest(view.key.gost, digest, 32, sig, 64), LS_OK);
	}
	ls_object_key_clear(&view);
	ls_object_key_clear(&view); /* cleared twice: harmless */

	/* A changed key object is re-encoded with the master key; its value's seal is reused. */
	{
		CK_ATTRIBUTE a = AB(CKA_LABEL, "renamed", 7);

		cr_assert_eq(ls_object_set_attributes(back, LS_OBJECT_USER, &a, 1, &changed), CKR_OK);
		cr_assert_eq(ls_object_store_id(changed), 77);
		cr_assert_eq(ls_object_to_store(changed, NULL, &so2), CKR_USER_NOT_LOGGED_IN,
		             "a changed key needs a new integrity record");
		cr_assert_eq(ls_object_to_store(changed, mk, &so2), CKR_OK);
		cr_assert_eq(so2.label_len, 7);
		ls_store_object_clear(&so2);
		cr_assert_eq(ls_object_key_init(changed, mk, &view), CKR_OK);
		cr_assert_arr_eq(view.key.value, priv, 32);
		ls_object_key_clear(&view);
	}
	/* A copy opens the value (with the key) and is a new object. */
	{
		const ls_object_ctx ctx = { .who = LS_OBJECT_USER };
		ls_object *c = NULL;

		cr_assert_eq(ls_object_copy(back, &ctx, NULL, NULL, 0, &c), CKR_USER_NOT_LOGGED_IN);
		cr_assert_eq(ls_object_copy(back, &ctx, mk, NULL, 0, &c), CKR_OK);
		cr_assert_eq(ls_object_store_id(c), 0);
		cr_assert_eq(ls_object_set_store_id(c, 78), CKR_OK);
		cr_assert_eq(ls_object_to_store(c, mk, &so2), CKR_OK);
		ls_store_object_clear(&so2);
		ls_object_unref(c);
	}
	cr_assert_eq(ls_object_to_store(o, mk, &so2), CKR_OK, "encode twice: the same seal");
	cr_assert_eq(so2.attrs_len, so.attrs_len);
	cr_assert_arr_eq(so2.attrs, so.attrs, so.attrs_len);
	ls_store_object_clear(&so2);

	ls_object_unref(changed);
	ls_object_unref(back);
	ls_object_unref(o);
	ls_store_object_clear(&so);
	ls_protect_key_free(mk);
	ls_protect_key_free(other);
}

Test(object, extractable_value_read_after_load)
{
	ls_protect_key *mk = master_key(5);
	CK_BBOOL f = CK_FALSE, t = CK_TRUE;
	ls_object *o = kuz_key(&f, &t, &t), *back = NULL;
	CK_ATTRIBUTE g;
	ls_store_object so;
	uint8_t buf[32];

	cr_assert_eq(ls_object_set_store_id(o, 9), CKR_OK);
	cr_assert_eq(ls_object_to_store(o, mk, &so), CKR_OK);
	cr_assert(!contains(so.attrs, so.attrs_len, kuz_value, 8));
	cr_assert_eq(ls_object_from_store(&so, &back), CKR_OK);
	g = (CK_ATTRIBUTE)AB(CKA_VALUE, NULL, 0);
	cr_assert_eq(ls_object_get_attributes(back, NULL, &g, 1), CKR_OK, "the length is known");
	cr_assert_eq(g.ulValueLen, 32);
	g = (CK_ATTRIBUTE)AB(CKA_VALUE, buf, sizeof(buf));
	cr_assert_eq(ls_object_get_attributes(back, NULL, &g, 1), CKR_USER_NOT_LOGGED_IN);
	{
		CK_ATTRIBUTE m = AB(CKA_VALUE, kuz_value, 32);
		cr_assert(!ls_object_match(back, &m, 1), "a sealed value does not match");
	}
	cr_assert_eq(get_bytes(back, mk, CKA_VALUE, buf, sizeof(buf)), 32);
	cr_assert_arr_eq(buf, kuz_value, 32);
	cr_assert_eq(get_bytes(back, NULL, CKA_CHECK_VALUE, buf, sizeof(buf)), 3);
	ls_object_unref(back);
	ls_object_unref(o);
	ls_store_object_clear(&so);
	ls_protect_key_free(mk);
}

Test(object, tampered_blobs_and_seals_are_refused)
{
	ls_protect_key *mk = master_key(5);
	ls_store_object so, bad;
	ls_object *o, *back = NULL;
	ls_object_key view;
	uint8_t priv[32];
	size_t sealed_at = 0;

	o = stored_private_key(mk, priv, &so);
	bad = so;
	/*
	 * Every bit of the blob changed, one at a time: refused at load, or (a flag or an OID
	 * that still parses) when the key is first opened.  Never the key.
	 */
	for (size_t i = 0; i < 8 * so.attrs_len; i++) {
		uint8_t *copy = malloc(so.attrs_len);
		CK_RV rv;

		memcpy(copy, so.attrs, so.attrs_len);
		copy[i / 8] ^= (uint8_t)(1u << (i % 8));
		bad.attrs = copy;
		rv = ls_object_from_store(&bad, &back);
		if (rv == CKR_OK) {
			rv = ls_object_key_init(back, mk, &view);
			cr_assert_eq(rv, CKR_DEVICE_ERROR, "bit %zu: 0x%lx", i, (unsigned long)rv);
			cr_assert_null(view.key.value);
			ls_object_unref(back);
			back = NULL;
			sealed_at++;
		} else {
			cr_assert_eq(rv, CKR_DEVICE_ERROR, "bit %zu: 0x%lx", i, (unsigned long)rv);
		}
		free(copy);
	}
	cr_assert_gt(sealed_at, 8 * (32 + 2 * LS_PROTECT_SEAL_OVERHEAD + 32),
	             "the seals and the flags are checked when opened");
	/* The indexed columns are covered as well. */
	bad = so;
	bad.label = (uint8_t *)"signing kez";
	cr_assert_eq(ls_object_from_store(&bad, &back), CKR_OK);
	cr_assert_eq(ls_object_key_init(back, mk, &view), CKR_DEVICE_ERROR);
	ls_object_unref(back);

	/* Truncated, trailing bytes, another version. */
	bad = so;
	bad.attrs_len = so.attrs_len - 1;
	cr_assert_eq(ls_object_from_store(&bad, &back), CKR_DEVICE_ERROR);
	{
		uint8_t *longer = calloc(1, so.attrs_len + 1);

		memcpy(longer, so.attrs, so.attrs_len);
		bad.attrs = longer;
		bad.attrs_len = so.attrs_len + 1;
		cr_assert_eq(ls_object_from_store(&bad, &back), CKR_DEVICE_ERROR);
		longer[0] = LS_OBJECT_BLOB_VERSION + 1;
		bad.attrs_len = so.attrs_len;
		cr_assert_eq(ls_object_from_store(&bad, &back), CKR_DEVICE_ERROR);
		free(longer);
	}
	/* The indexed fields must fit the blob. */
	bad = so;
	bad.cls = CKO_SECRET_KEY;
	cr_assert_eq(ls_object_from_store(&bad, &back), CKR_DEVICE_ERROR);
	bad = so;
	bad.key_type = CKK_KUZNYECHIK;
	cr_assert_eq(ls_object_from_store(&bad, &back), CKR_DEVICE_ERROR);
	bad = so;
	bad.key_type = CKK_GOSTR3410_512;
	cr_assert_eq(ls_object_from_store(&bad, &back), CKR_DEVICE_ERROR, "curve of 256 bits");
	/* The blob of object 77 moved to object 78: its seal does not open there. */
	bad = so;
	bad.id = 78;
	cr_assert_eq(ls_object_from_store(&bad, &back), CKR_OK);
	cr_assert_eq(ls_object_key_init(back, mk, &view), CKR_DEVICE_ERROR);
	ls_object_unref(back);
	cr_assert_null(view.gost_ref);

	ls_object_unref(o);
	ls_store_object_clear(&so);
	ls_protect_key_free(mk);
}

/* The offset of the clear CK_BBOOL attribute @type in a blob (type, form 0, length 1, value). */
static size_t
find_bool(const ls_store_object *so, CK_ATTRIBUTE_TYPE type)
{
	uint8_t pat[14] = { 0 };

	for (int i = 0; i < 8; i++)
		pat[7 - i] = (uint8_t)(type >> (8 * i));
	pat[8] = 0;   /* form: clear */
	pat[12] = 1;  /* length */
	for (size_t i = 1; i + sizeof(pat) < so->attrs_len; i++) {
		if (memcmp(so->attrs + i, pat, 13) == 0)
			return i + 13;
	}
	cr_assert_fail("attribute 0x%lx not found in the blob", (unsigned long)type);
	return 0;
}

Test(object, flags_changed_in_the_database_never_reveal_a_secret)
{
	ls_protect_key *mk = master_key(5);
	CK_BBOOL f = CK_FALSE, t = CK_TRUE;
	ls_object *o = kuz_key(&t, &t, &t), *back = NULL, *changed = NULL;
	ls_store_object so, so2;
	uint8_t buf[32];
	size_t at;

	cr_assert_eq(ls_object_set_store_id(o, 9), CKR_OK);
	cr_assert_eq(ls_object_to_store(o, mk, &so), CKR_OK);
	at = find_bool(&so, CKA_SENSITIVE);
	cr_assert_eq(so.attrs[at], CK_TRUE);
	so.attrs[at] = CK_FALSE; /* someone with write access to the database */
	cr_assert_eq(ls_object_from_store(&so, &back), CKR_OK, "it parses");
	cr_assert(!(ls_object_flags(back) & LS_OBJECT_F_SENSITIVE));
	{
		CK_ATTRIBUTE g = AB(CKA_VALUE, buf, sizeof(buf));

		memset(buf, 0, sizeof(buf));
		cr_assert_eq(ls_object_get_attributes(back, mk, &g, 1), CKR_DEVICE_ERROR);
		cr_assert(!contains(buf, sizeof(buf), kuz_value, 4), "nothing of the value");
	}
	/* Nor can a change through the token launder it into a fresh record. */
	{
		CK_ATTRIBUTE a = AB(CKA_LABEL, "x", 1);

		cr_assert_eq(ls_object_set_attributes(back, LS_OBJECT_USER, &a, 1, &changed), CKR_OK);
		cr_assert_eq(ls_object_to_store(changed, mk, &so2), CKR_DEVICE_ERROR);
		cr_assert_null(so2.attrs);
		ls_object_unref(changed);
	}
	ls_object_unref(back);
	/* Untouched, the same blob reads fine. */
	so.attrs[at] = CK_TRUE;
	cr_assert_eq(ls_object_from_store(&so, &back), CKR_OK);
	{
		CK_ATTRIBUTE g = AB(CKA_VALUE, buf, sizeof(buf));
		CK_ATTRIBUTE a = A(CKA_SENSITIVE, f);

		cr_assert_eq(ls_object_get_attributes(back, mk, &g, 1), CKR_ATTRIBUTE_SENSITIVE);
		cr_assert_eq(ls_object_set_attributes(back, LS_OBJECT_USER, &a, 1, &changed),
		             CKR_ATTRIBUTE_READ_ONLY);
		a = (CK_ATTRIBUTE)AB(CKA_LABEL, "y", 1);
		cr_assert_eq(ls_object_set_attributes(back, LS_OBJECT_USER, &a, 1, &changed), CKR_OK);
		cr_assert_eq(ls_object_to_store(changed, mk, &so2), CKR_OK, "checked, then resealed");
		ls_object_unref(changed);
		ls_object_unref(back);
		back = NULL;
		cr_assert_eq(ls_object_from_store(&so2, &back), CKR_OK);
		{
			ls_object_key view;

			cr_assert_eq(ls_object_key_init(back, mk, &view), CKR_OK);
			cr_assert_arr_eq(view.key.value, kuz_value, 32);
			ls_object_key_clear(&view);
		}
		ls_store_object_clear(&so2);
	}
	ls_object_unref(back);
	ls_object_unref(o);
	ls_store_object_clear(&so);
	ls_protect_key_free(mk);
}

Test(object, session_objects_are_not_stored)
{
	ls_protect_key *mk = master_key(5);
	CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_data) };
	ls_object *o = must_create(t, 1);
	ls_store_object so;

	cr_assert_eq(ls_object_set_store_id(o, 3), CKR_GENERAL_ERROR);
	cr_assert_eq(ls_object_to_store(o, mk, &so), CKR_GENERAL_ERROR);
	cr_assert_null(so.attrs);
	ls_object_set_owner(o, 12);
	cr_assert_eq(ls_object_owner(o), 12);
	ls_object_unref(o);
	ls_protect_key_free(mk);
}

/* Every class through a real SQLite store and back. */
Test(object, sqlite_round_trip_of_every_class)
{
	char dir[] = "/tmp/ls11-object-XXXXXX", path[64], side[80];
	CK_CERTIFICATE_TYPE x509 = CKC_X_509;
	CK_ULONG cat = 2;
	uint8_t pub[64], priv[32];
	CK_ATTRIBUTE data[] = { A(CKA_CLASS, c_data), A(CKA_TOKEN, yes), AB(CKA_LABEL, "d", 1),
		                AB(CKA_APPLICATION, "app", 3), AB(CKA_VALUE, "v", 1) };
	CK_ATTRIBUTE cert[] = { A(CKA_CLASS, c_cert), A(CKA_TOKEN, yes),
		                A(CKA_CERTIFICATE_TYPE, x509), AB(CKA_SUBJECT, "subj", 4),
		                AB(CKA_VALUE, "\x30\x03\x02\x01\x01", 5), AB(CKA_ID, "\x01", 1),
		                A(CKA_CERTIFICATE_CATEGORY, cat) };
	CK_ATTRIBUTE pubk[] = { A(CKA_CLASS, c_pub), A(CKA_KEY_TYPE, k_gost), A(CKA_TOKEN, yes),
		                AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
		                AB(CKA_VALUE, pub, 64), AB(CKA_ID, "\x01", 1) };
	CK_ATTRIBUTE privk[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_gost), A(CKA_TOKEN, yes),
		                 AB(CKA_GOSTR3410_PARAMS, oid_cp_a, sizeof(oid_cp_a)),
		                 AB(CKA_VALUE, priv, 32), AB(CKA_ID, "\x01", 1) };
	CK_MECHANISM_TYPE allowed[] = { CKM_KUZNYECHIK_ECB, CKM_KUZNYECHIK_MAC };
	CK_ATTRIBUTE secret[] = { A(CKA_CLASS, c_secret), A(CKA_KEY_TYPE, k_kuz), A(CKA_TOKEN, yes),
		                  AB(CKA_VALUE, kuz_value, 32),
		                  AB(CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed)) };
	struct {
		CK_ATTRIBUTE *t;
		CK_ULONG n;
	} all[] = { { data, N(data) }, { cert, N(cert) }, { pubk, N(pubk) },
		    { privk, N(privk) }, { secret, N(secret) } };
	CK_ATTRIBUTE_TYPE probe[] = { CKA_CLASS, CKA_LABEL, CKA_ID, CKA_APPLICATION, CKA_SUBJECT,
		                      CKA_CERTIFICATE_CATEGORY, CKA_VALUE, CKA_GOSTR3410_PARAMS,
		                      CKA_GOSTR3411_PARAMS, CKA_ALLOWED_MECHANISMS, CKA_CHECK_VALUE,
		                      CKA_VALUE_LEN, CKA_SENSITIVE, CKA_KEY_TYPE, CKA_START_DATE };
	ls_store_token tok = { 0 };
	ls_protect_key *mk;
	ls_store *store = NULL;
	ls_store_txn *txn;
	uint64_t token_id, ids[5];

	gost_pair(LS_CURVE_CP_A, pub, 64, priv, 32);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.db", dir);
	cr_assert_eq(ls_store_sqlite_open(path, NULL, &store), LS_OK);
	cr_assert_eq(ls_store_begin(store, true, &txn), LS_OK);
	cr_assert_eq(ls_store_token_create(txn, &tok, &token_id), LS_OK);
	mk = master_key(token_id);
	for (size_t i = 0; i < 5; i++) {
		ls_object *o = must_create(all[i].t, all[i].n);
		ls_store_object so;

		cr_assert_eq(ls_store_object_id_new(txn, token_id, &ids[i]), LS_OK);
		cr_assert_eq(ls_object_set_store_id(o, ids[i]), CKR_OK);
		cr_assert_eq(ls_object_to_store(o, mk, &so), CKR_OK);
		cr_assert_eq(ls_store_object_put(txn, token_id, &so), LS_OK);
		ls_store_object_clear(&so);
		ls_object_unref(o);
	}
	cr_assert_eq(ls_store_commit(txn), LS_OK);

	cr_assert_eq(ls_store_begin(store, false, &txn), LS_OK);
	for (size_t i = 0; i < 5; i++) {
		ls_object *orig = must_create(all[i].t, all[i].n), *back = NULL;
		ls_store_object so;

		cr_assert_eq(ls_store_object_get(txn, token_id, ids[i], &so), LS_OK);
		cr_assert_eq(ls_object_from_store(&so, &back), CKR_OK);
		cr_assert_eq(ls_object_flags(back), ls_object_flags(orig) & ~0u);
		for (size_t j = 0; j < sizeof(probe) / sizeof(probe[0]); j++) {
			uint8_t a[256], b[256];
			CK_ATTRIBUTE ga = AB(probe[j], a, sizeof(a)), gb = AB(probe[j], b, sizeof(b));
			CK_RV ra = ls_object_get_attributes(orig, NULL, &ga, 1);
			CK_RV rb = ls_object_get_attributes(back, mk, &gb, 1);

			cr_assert_eq(ra, rb, "object %zu attribute 0x%lx", i, (unsigned long)probe[j]);
			cr_assert_eq(ga.ulValueLen, gb.ulValueLen);
			if (ra == CKR_OK)
				cr_assert_arr_eq(a, b, ga.ulValueLen);
		}
		ls_store_object_clear(&so);
		ls_object_unref(orig);
		ls_object_unref(back);
	}
	ls_store_rollback(txn);
	ls_store_close(store);
	ls_protect_key_free(mk);
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	rmdir(dir);
}

/* ---------------------------------------------------------------------------------------------
 * Threads: one shared object, views, reads and forgets at once
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	ls_object *obj;
	ls_protect_key *mk;
	const uint8_t *priv;
} thread_arg;

static void *
hammer(void *p)
{
	thread_arg *a = p;

	for (int i = 0; i < 200; i++) {
		ls_object_key view;
		uint8_t label[32];
		CK_ATTRIBUTE g = AB(CKA_LABEL, label, sizeof(label));

		if (ls_object_key_init(a->obj, a->mk, &view) == CKR_OK) {
			if (memcmp(view.key.value, a->priv, 32) != 0 || view.key.gost == NULL)
				return (void *)1;
			ls_object_key_clear(&view);
		}
		if (ls_object_get_attributes(a->obj, NULL, &g, 1) != CKR_OK)
			return (void *)1;
		if (i % 7 == 0)
			ls_object_forget_secrets(a->obj);
		ls_object_unref(ls_object_ref(a->obj));
	}
	return NULL;
}

Test(object, one_object_many_threads)
{
	ls_protect_key *mk = master_key(5);
	ls_store_object so;
	ls_object *o, *back = NULL;
	uint8_t priv[32];
	pthread_t th[4];
	thread_arg arg;

	o = stored_private_key(mk, priv, &so);
	cr_assert_eq(ls_object_from_store(&so, &back), CKR_OK);
	arg = (thread_arg){ back, mk, priv };
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, hammer, &arg), 0);
	for (int i = 0; i < 4; i++) {
		void *r;

		cr_assert_eq(pthread_join(th[i], &r), 0);
		cr_assert_null(r);
	}
	ls_object_unref(back);
	ls_object_unref(o);
	ls_store_object_clear(&so);
	ls_protect_key_free(mk);
}
