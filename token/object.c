/*
 * LS11CLOUD - the object layer: the attribute table, templates, rules and the key view.
 *
 * Every attribute an object can have is one row of attr_table[]: the classes (and key types)
 * that have it, its value type, and its rules after the footnotes of the specification's
 * tables (required or refused per operation, modifiable, sensitive, one-way, SO-only).  An
 * object always holds every attribute its class and key type have (defaults filled in), so
 * "the object has no such attribute" and "the table has no such row" are the same question.
 *
 * Values are kept in the native PKCS#11 layout (CK_BBOOL, CK_ULONG, byte strings).  The
 * store encoding (object-store.c) normalises the integer ones.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "object-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* DER OIDs this layer needs by value. */
static const uint8_t oid_streebog256[] = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07,
	                                   0x01, 0x01, 0x02, 0x02 };
static const uint8_t oid_streebog512[] = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07,
	                                   0x01, 0x01, 0x02, 0x03 };
static const uint8_t oid_gost94_cp[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01 };
static const uint8_t oid_gost94[] = { 0x06, 0x06, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x09 };
static const uint8_t oid_gost89_cp_a[] = { 0x06, 0x07, 0x2a, 0x85, 0x03,
	                                   0x02, 0x02, 0x1f, 0x01 };

/* Read-only everywhere: the token sets it. */
#define R_TOKEN_SETS (R_NO_CREATE | R_NO_GEN | R_NO_UNWRAP)

const attr_desc attr_table[] = {
	/* Common object and storage attributes (v2.40 4.4, 4.5; v3.0 CKA_UNIQUE_ID). */
	{ CKA_CLASS, CL_ALL, 0, T_ULONG, R_REQ_CREATE },
	{ CKA_TOKEN, CL_ALL, 0, T_BOOL, R_COPY },
	{ CKA_PRIVATE, CL_ALL, 0, T_BOOL, R_COPY },
	{ CKA_MODIFIABLE, CL_ALL, 0, T_BOOL, R_COPY },
	{ CKA_COPYABLE, CL_ALL, 0, T_BOOL, R_COPY | R_SET | R_STICKY_FALSE },
	{ CKA_DESTROYABLE, CL_ALL, 0, T_BOOL, R_COPY },
	{ CKA_LABEL, CL_ALL, 0, T_BYTES, R_SET },
	{ CKA_UNIQUE_ID, CL_ALL, 0, T_BYTES, R_TOKEN_SETS },

	/* Data objects (4.5). */
	{ CKA_APPLICATION, CL_DATA, 0, T_BYTES, R_SET },
	{ CKA_OBJECT_ID, CL_DATA, 0, T_BYTES, R_SET },
	{ CKA_VALUE, CL_DATA, 0, T_BYTES, R_SET },

	/* Certificates (4.6) and X.509 public key certificates (4.6.3). */
	{ CKA_CERTIFICATE_TYPE, CL_CERT, 0, T_ULONG, R_REQ_CREATE },
	{ CKA_TRUSTED, CL_CERT, 0, T_BOOL, R_SO_TRUE },
	{ CKA_CERTIFICATE_CATEGORY, CL_CERT, 0, T_ULONG, 0 },
	{ CKA_CHECK_VALUE, CL_CERT, 0, T_BYTES, 0 },
	{ CKA_START_DATE, CL_CERT, 0, T_DATE, R_SET },
	{ CKA_END_DATE, CL_CERT, 0, T_DATE, R_SET },
	{ CKA_PUBLIC_KEY_INFO, CL_CERT, 0, T_BYTES, 0 },
	{ CKA_SUBJECT, CL_CERT, 0, T_BYTES, R_REQ_CREATE },
	{ CKA_ID, CL_CERT, 0, T_BYTES, R_SET },
	{ CKA_ISSUER, CL_CERT, 0, T_BYTES, R_SET },
	{ CKA_SERIAL_NUMBER, CL_CERT, 0, T_BYTES, R_SET },
	{ CKA_VALUE, CL_CERT, 0, T_BYTES, 0 }, /* required unless CKA_URL: checked by hand */
	{ CKA_URL, CL_CERT, 0, T_BYTES, 0 },
	{ CKA_HASH_OF_SUBJECT_PUBLIC_KEY, CL_CERT, 0, T_BYTES, 0 },
	{ CKA_HASH_OF_ISSUER_PUBLIC_KEY, CL_CERT, 0, T_BYTES, 0 },
	{ CKA_JAVA_MIDP_SECURITY_DOMAIN, CL_CERT, 0, T_ULONG, 0 },
	{ CKA_NAME_HASH_ALGORITHM, CL_CERT, 0, T_ULONG, 0 },

	/* Common key attributes (4.7). */
	{ CKA_KEY_TYPE, CL_KEY, 0, T_ULONG, R_REQ_CREATE | R_REQ_UNWRAP },
	{ CKA_ID, CL_KEY, 0, T_BYTES, R_SET },
	{ CKA_START_DATE, CL_KEY, 0, T_DATE, R_SET },
	{ CKA_END_DATE, CL_KEY, 0, T_DATE, R_SET },
	{ CKA_DERIVE, CL_KEY, 0, T_BOOL, R_SET },
	{ CKA_LOCAL, CL_KEY, 0, T_BOOL, R_TOKEN_SETS },
	{ CKA_KEY_GEN_MECHANISM, CL_KEY, 0, T_ULONG, R_TOKEN_SETS },
	{ CKA_ALLOWED_MECHANISMS, CL_KEY, 0, T_MECHS, 0 },

	/* Public keys (4.8). */
	{ CKA_SUBJECT, CL_PUB | CL_PRIV, 0, T_BYTES, R_SET },
	{ CKA_ENCRYPT, CL_PUB | CL_SECRET, 0, T_BOOL, R_SET },
	{ CKA_VERIFY, CL_PUB | CL_SECRET, 0, T_BOOL, R_SET },
	{ CKA_VERIFY_RECOVER, CL_PUB, 0, T_BOOL, R_SET },
	{ CKA_WRAP, CL_PUB | CL_SECRET, 0, T_BOOL, R_SET },
	{ CKA_TRUSTED, CL_PUB | CL_SECRET, 0, T_BOOL, R_SO_TRUE },
	{ CKA_PUBLIC_KEY_INFO, CL_PUB | CL_PRIV, 0, T_BYTES, 0 },

	/* Private keys (4.9) and secret keys (4.10). */
	{ CKA_SENSITIVE, CL_PRIV | CL_SECRET, 0, T_BOOL, R_SET | R_STICKY_TRUE },
	{ CKA_DECRYPT, CL_PRIV | CL_SECRET, 0, T_BOOL, R_SET },
	{ CKA_SIGN, CL_PRIV | CL_SECRET, 0, T_BOOL, R_SET },
	{ CKA_SIGN_RECOVER, CL_PRIV, 0, T_BOOL, R_SET },
	{ CKA_UNWRAP, CL_PRIV | CL_SECRET, 0, T_BOOL, R_SET },
	{ CKA_EXTRACTABLE, CL_PRIV | CL_SECRET, 0, T_BOOL, R_SET | R_STICKY_FALSE },
	{ CKA_ALWAYS_SENSITIVE, CL_PRIV | CL_SECRET, 0, T_BOOL, R_TOKEN_SETS },
	{ CKA_NEVER_EXTRACTABLE, CL_PRIV | CL_SECRET, 0, T_BOOL, R_TOKEN_SETS },
	{ CKA_WRAP_WITH_TRUSTED, CL_PRIV | CL_SECRET, 0, T_BOOL, R_SET | R_STICKY_TRUE },
	{ CKA_ALWAYS_AUTHENTICATE, CL_PRIV, 0, T_BOOL, 0 },
	{ CKA_CHECK_VALUE, CL_SECRET, 0, T_BYTES, 0 }, /* computed, or compared when given */

	/* Key values and domain parameters per key type (v2.40 mechanisms 2.50-2.53; TC26). */
	{ CKA_VALUE, CL_PUB, KF_GOST3410, T_BYTES, R_REQ_CREATE | R_NO_GEN },
	{ CKA_VALUE, CL_PRIV, KF_GOST3410, T_BYTES,
	  R_REQ_CREATE | R_NO_GEN | R_NO_UNWRAP | R_SECRET },
	{ CKA_VALUE, CL_SECRET, 0, T_BYTES, R_REQ_CREATE | R_NO_GEN | R_NO_UNWRAP | R_SECRET },
	{ CKA_GOSTR3410_PARAMS, CL_PUB | CL_PRIV, KF_GOST3410, T_OID,
	  R_REQ_CREATE | R_REQ_GEN | R_REQ_UNWRAP },
	{ CKA_GOSTR3411_PARAMS, CL_PUB | CL_PRIV, KF_GOST3410, T_OID, R_SET },
	{ CKA_GOST28147_PARAMS, CL_PUB | CL_PRIV, KF_GOST3410, T_OID, R_SET },
	{ CKA_GOST28147_PARAMS, CL_SECRET, KF_GOST89, T_OID, 0 },
	{ CKA_VALUE_LEN, CL_SECRET, 0, T_ULONG, 0 }, /* the length; checked by hand */
};

const size_t attr_table_len = sizeof(attr_table) / sizeof(attr_table[0]);

/* ---------------------------------------------------------------------------------------------
 * Classes, key types, the table
 * ------------------------------------------------------------------------------------------- */

unsigned
obj_class_bit(CK_OBJECT_CLASS cls)
{
	switch (cls) {
	case CKO_DATA:
		return CL_DATA;
	case CKO_CERTIFICATE:
		return CL_CERT;
	case CKO_PUBLIC_KEY:
		return CL_PUB;
	case CKO_PRIVATE_KEY:
		return CL_PRIV;
	case CKO_SECRET_KEY:
		return CL_SECRET;
	default:
		return 0;
	}
}

/* The family of a key type this token supports, whatever the class; 0 when unknown. */
static unsigned
key_family(CK_KEY_TYPE kt)
{
	switch (kt) {
	case CKK_GOSTR3410:
	case CKK_GOSTR3410_512:
		return KF_GOST3410;
	case CKK_GOST28147:
		return KF_GOST89;
	case CKK_KUZNYECHIK:
	case CKK_MAGMA:
		return KF_BLOCK;
	case CKK_KUZNYECHIK_TWIN_KEY:
	case CKK_MAGMA_TWIN_KEY:
		return KF_TWIN;
	case CKK_GENERIC_SECRET:
		return KF_GENERIC;
	default:
		return 0;
	}
}

/*
 * The family of @kt for class bit @cl: CKR_OK, CKR_ATTRIBUTE_VALUE_INVALID for a key type this
 * token does not know, CKR_TEMPLATE_INCONSISTENT for one that does not fit the class.
 */
CK_RV
obj_key_family(unsigned cl, CK_KEY_TYPE kt, unsigned *kf)
{
	unsigned f = key_family(kt);

	*kf = 0;
	if (f == 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((f == KF_GOST3410) != ((cl & (CL_PUB | CL_PRIV)) != 0))
		return CKR_TEMPLATE_INCONSISTENT;
	*kf = f;
	return CKR_OK;
}

const attr_desc *
obj_desc(unsigned cl, unsigned kf, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < attr_table_len; i++) {
		const attr_desc *d = &attr_table[i];

		if (d->type != type || (d->classes & cl) == 0)
			continue;
		if (d->families != 0 && (d->families & kf) == 0)
			continue;
		return d;
	}
	return NULL;
}

/* The key length fixed by a secret key type, 0 for generic secrets. */
size_t
obj_fixed_secret_len(CK_KEY_TYPE kt)
{
	switch (kt) {
	case CKK_GOST28147:
	case CKK_KUZNYECHIK:
	case CKK_MAGMA:
		return 32;
	case CKK_KUZNYECHIK_TWIN_KEY:
	case CKK_MAGMA_TWIN_KEY:
		return 64;
	default:
		return 0;
	}
}

bool
obj_der_oid_ok(const uint8_t *p, size_t n)
{
	/* 06 len body, short-form length, a body whose last byte ends a sub-identifier. */
	return p != NULL && n >= 3 && n <= 129 && p[0] == 0x06 && p[1] == n - 2 && p[1] < 0x80 &&
	       (p[n - 1] & 0x80) == 0;
}

static bool
bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* 32 for Streebog-256 and the 34.11-94 OIDs, 64 for Streebog-512, 0 when unknown. */
static size_t
hash_oid_curve_size(const uint8_t *p, size_t n)
{
	if (bytes_eq(p, n, oid_streebog512, sizeof(oid_streebog512)))
		return 64;
	if (bytes_eq(p, n, oid_streebog256, sizeof(oid_streebog256)) ||
	    bytes_eq(p, n, oid_gost94_cp, sizeof(oid_gost94_cp)) ||
	    bytes_eq(p, n, oid_gost94, sizeof(oid_gost94)))
		return 32;
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Attribute storage
 * ------------------------------------------------------------------------------------------- */

ls_object *
obj_alloc(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, unsigned cl, unsigned kf)
{
	ls_object *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	if (pthread_mutex_init(&o->lock, NULL) != 0) {
		free(o);
		return NULL;
	}
	atomic_init(&o->refs, 1);
	o->cls = cls;
	o->key_type = cl & CL_KEY ? kt : CK_UNAVAILABLE_INFORMATION;
	o->cl = cl;
	o->kf = kf;
	return o;
}

static void
attr_clear(obj_attr *a)
{
	if (a->value != NULL) {
		ls_wipe(a->value, a->len);
		free(a->value);
	}
	if (a->sealed != NULL) {
		ls_wipe(a->sealed, a->sealed_len);
		free(a->sealed);
	}
	memset(a, 0, sizeof(*a));
}

void
obj_gost_unref(obj_gost *g)
{
	if (g == NULL)
		return;
	if (atomic_fetch_sub(&g->refs, 1) == 1) {
		ls_gost_key_free(g->key);
		free(g);
	}
}

static void
obj_free(ls_object *o)
{
	for (size_t i = 0; i < o->n_attrs; i++)
		attr_clear(&o->attrs[i]);
	free(o->attrs);
	free(o->integrity);
	free(o->prev_integrity);
	obj_gost_unref(o->gost);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

ls_object *
ls_object_ref(ls_object *obj)
{
	if (obj != NULL)
		atomic_fetch_add(&obj->refs, 1);
	return obj;
}

void
ls_object_unref(ls_object *obj)
{
	if (obj == NULL)
		return;
	if (atomic_fetch_sub(&obj->refs, 1) == 1)
		obj_free(obj);
}

obj_attr *
obj_find(const ls_object *o, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < o->n_attrs; i++) {
		if (o->attrs[i].type == type)
			return &o->attrs[i];
	}
	return NULL;
}

/* Sets attribute @d of @o to a plaintext copy of @len bytes at @v (replacing any old value). */
CK_RV
obj_put(ls_object *o, const attr_desc *d, const void *v, size_t len)
{
	obj_attr *a = obj_find(o, d->type);
	uint8_t *copy = NULL;

	if (len > 0) {
		copy = malloc(len);
		if (copy == NULL)
			return CKR_HOST_MEMORY;
		memcpy(copy, v, len);
	}
	if (a == NULL) {
		if (o->n_attrs == o->cap_attrs) {
			size_t cap = o->cap_attrs ? o->cap_attrs * 2 : 32;
			obj_attr *grown = realloc(o->attrs, cap * sizeof(*grown));

			if (grown == NULL) {
				free(copy);
				return CKR_HOST_MEMORY;
			}
			o->attrs = grown;
			o->cap_attrs = cap;
		}
		a = &o->attrs[o->n_attrs++];
		memset(a, 0, sizeof(*a));
	} else {
		attr_clear(a);
	}
	a->type = d->type;
	a->desc = d;
	a->value = copy;
	a->len = len;
	a->plain = true;
	return CKR_OK;
}

CK_RV
obj_put_bool(ls_object *o, CK_ATTRIBUTE_TYPE type, bool v)
{
	const attr_desc *d = obj_desc(o->cl, o->kf, type);
	CK_BBOOL b = v ? CK_TRUE : CK_FALSE;

	if (d == NULL)
		return CKR_GENERAL_ERROR;
	return obj_put(o, d, &b, sizeof(b));
}

CK_RV
obj_put_ulong(ls_object *o, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	const attr_desc *d = obj_desc(o->cl, o->kf, type);

	if (d == NULL)
		return CKR_GENERAL_ERROR;
	return obj_put(o, d, &v, sizeof(v));
}

bool
obj_bool(const ls_object *o, CK_ATTRIBUTE_TYPE type)
{
	const obj_attr *a = obj_find(o, type);

	return a != NULL && a->plain && a->len == sizeof(CK_BBOOL) && a->value[0] == CK_TRUE;
}

CK_ULONG
obj_ulong(const ls_object *o, CK_ATTRIBUTE_TYPE type, CK_ULONG def)
{
	const obj_attr *a = obj_find(o, type);
	CK_ULONG v;

	if (a == NULL || !a->plain || a->len != sizeof(CK_ULONG))
		return def;
	memcpy(&v, a->value, sizeof(v));
	return v;
}

/* The default of a boolean attribute (the token-specific ones are this token's choice). */
static bool
default_bool(unsigned cl, CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_MODIFIABLE:
	case CKA_COPYABLE:
	case CKA_DESTROYABLE:
		return true;
	case CKA_PRIVATE:
	case CKA_SENSITIVE:
		return (cl & (CL_PRIV | CL_SECRET)) != 0;
	case CKA_SIGN:
		return (cl & (CL_PRIV | CL_SECRET)) != 0;
	case CKA_VERIFY:
		return (cl & (CL_PUB | CL_SECRET)) != 0;
	case CKA_ENCRYPT:
	case CKA_DECRYPT:
		return cl == CL_SECRET;
	default:
		return false;
	}
}

/* Gives @o every attribute of its class and key type, at its default value. */
CK_RV
obj_add_defaults(ls_object *o)
{
	CK_RV rv = CKR_OK;

	for (size_t i = 0; i < attr_table_len && rv == CKR_OK; i++) {
		const attr_desc *d = &attr_table[i];
		CK_ULONG ul = 0;
		CK_BBOOL b;

		if (obj_desc(o->cl, o->kf, d->type) != d || obj_find(o, d->type) != NULL)
			continue;
		switch (d->kind) {
		case T_BOOL:
			b = default_bool(o->cl, d->type) ? CK_TRUE : CK_FALSE;
			rv = obj_put(o, d, &b, sizeof(b));
			break;
		case T_ULONG:
			if (d->type == CKA_CLASS)
				ul = o->cls;
			else if (d->type == CKA_KEY_TYPE)
				ul = o->key_type;
			else if (d->type == CKA_CERTIFICATE_TYPE)
				ul = CKC_X_509;
			else if (d->type == CKA_KEY_GEN_MECHANISM)
				ul = CK_UNAVAILABLE_INFORMATION;
			else if (d->type == CKA_NAME_HASH_ALGORITHM)
				ul = CKM_SHA_1;
			rv = obj_put(o, d, &ul, sizeof(ul));
			break;
		default:
			if (d->type == CKA_GOST28147_PARAMS && o->kf == KF_GOST89)
				rv = obj_put(o, d, oid_gost89_cp_a, sizeof(oid_gost89_cp_a));
			else
				rv = obj_put(o, d, NULL, 0);
			break;
		}
	}
	return rv;
}

static const struct {
	CK_ATTRIBUTE_TYPE type;
	uint32_t flag;
} flag_map[] = {
	{ CKA_TOKEN, LS_OBJECT_F_TOKEN },
	{ CKA_PRIVATE, LS_OBJECT_F_PRIVATE },
	{ CKA_MODIFIABLE, LS_OBJECT_F_MODIFIABLE },
	{ CKA_COPYABLE, LS_OBJECT_F_COPYABLE },
	{ CKA_DESTROYABLE, LS_OBJECT_F_DESTROYABLE },
	{ CKA_SENSITIVE, LS_OBJECT_F_SENSITIVE },
	{ CKA_EXTRACTABLE, LS_OBJECT_F_EXTRACTABLE },
	{ CKA_ALWAYS_SENSITIVE, LS_OBJECT_F_ALWAYS_SENSITIVE },
	{ CKA_NEVER_EXTRACTABLE, LS_OBJECT_F_NEVER_EXTRACTABLE },
	{ CKA_LOCAL, LS_OBJECT_F_LOCAL },
	{ CKA_TRUSTED, LS_OBJECT_F_TRUSTED },
	{ CKA_WRAP_WITH_TRUSTED, LS_OBJECT_F_WRAP_WITH_TRUSTED },
	{ CKA_ALWAYS_AUTHENTICATE, LS_OBJECT_F_ALWAYS_AUTHENTICATE },
	{ CKA_ENCRYPT, LS_OBJECT_F_ENCRYPT },
	{ CKA_DECRYPT, LS_OBJECT_F_DECRYPT },
	{ CKA_SIGN, LS_OBJECT_F_SIGN },
	{ CKA_SIGN_RECOVER, LS_OBJECT_F_SIGN_RECOVER },
	{ CKA_VERIFY, LS_OBJECT_F_VERIFY },
	{ CKA_VERIFY_RECOVER, LS_OBJECT_F_VERIFY_RECOVER },
	{ CKA_WRAP, LS_OBJECT_F_WRAP },
	{ CKA_UNWRAP, LS_OBJECT_F_UNWRAP },
	{ CKA_DERIVE, LS_OBJECT_F_DERIVE },
};

/* Recomputes the decoded fields (flags, curve, S-box) from the attributes. */
void
obj_refresh(ls_object *o)
{
	const obj_attr *a;

	o->flags = 0;
	for (size_t i = 0; i < sizeof(flag_map) / sizeof(flag_map[0]); i++) {
		if (obj_bool(o, flag_map[i].type))
			o->flags |= flag_map[i].flag;
	}
	o->curve = 0;
	o->sbox = 0;
	if (o->kf == KF_GOST3410) {
		ls_curve c;

		a = obj_find(o, CKA_GOSTR3410_PARAMS);
		if (a != NULL && a->len > 0 && ls_curve_from_oid(a->value, a->len, &c) == LS_OK)
			o->curve = c;
	} else if (o->kf == KF_GOST89) {
		ls_gost89_param p;

		a = obj_find(o, CKA_GOST28147_PARAMS);
		if (a != NULL && a->len > 0 &&
		    ls_mech_gost89_param_from_oid(a->value, a->len, &p) == CKR_OK)
			o->sbox = p;
	}
}

/* Gives a session object a fresh CKA_UNIQUE_ID: "s" and 24 random hex digits. */
CK_RV
obj_new_unique_id(ls_object *o)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[12];
	char id[1 + 2 * sizeof(rnd)];

	if (ls_random_bytes(rnd, sizeof(rnd)) != LS_OK)
		return CKR_FUNCTION_FAILED;
	id[0] = 's';
	for (size_t i = 0; i < sizeof(rnd); i++) {
		id[1 + 2 * i] = hex[rnd[i] >> 4];
		id[2 + 2 * i] = hex[rnd[i] & 0xf];
	}
	return obj_put(o, obj_desc(o->cl, o->kf, CKA_UNIQUE_ID), id, sizeof(id));
}

/* The CKA_UNIQUE_ID of a token object: the decimal store id. */
CK_RV
obj_store_unique_id(ls_object *o)
{
	char id[24];
	int n = snprintf(id, sizeof(id), "%llu", (unsigned long long)o->store_id);

	return obj_put(o, obj_desc(o->cl, o->kf, CKA_UNIQUE_ID), id, (size_t)n);
}

/* True when R_SECRET values of @o must not be revealed (footnote 7). */
bool
obj_hides_secrets(const ls_object *o)
{
	return (o->flags & LS_OBJECT_F_SENSITIVE) != 0 ||
	       (o->flags & LS_OBJECT_F_EXTRACTABLE) == 0;
}

/*
 * Makes the plaintext of @a available, opening its sealed bytes with @key if needed; the first
 * opening of a stored object checks its integrity record.  Caller holds @o->lock.
 */
CK_RV
obj_open(ls_object *o, obj_attr *a, const ls_protect_key *key)
{
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int err;

	CK_RV rv;

	if (a->plain)
		return CKR_OK;
	if (a->sealed == NULL)
		return CKR_GENERAL_ERROR;
	if (key == NULL)
		return CKR_USER_NOT_LOGGED_IN;
	if (!o->verified) {
		uint8_t digest[OBJ_DIGEST_SIZE];

		rv = obj_digest(o, digest);
		if (rv == CKR_OK)
			rv = obj_verify_record(o, o->integrity, o->integrity_len, digest, key);
		if (rv != CKR_OK)
			return rv;
		o->verified = true;
	}
	if (a->len > 0) {
		plain = malloc(a->len);
		if (plain == NULL)
			return CKR_HOST_MEMORY;
	}
	err = ls_protect_open(key, o->store_id, a->type, a->sealed, a->sealed_len, plain, a->len,
	                      &plain_len);
	if (err != LS_OK || plain_len != a->len) {
		ls_error("object %llu: attribute 0x%lx does not open: %s",
		         (unsigned long long)o->store_id, (unsigned long)a->type,
		         err != LS_OK ? ls_strerror(err) : "wrong length");
		ls_wipe(plain, a->len);
		free(plain);
		return CKR_DEVICE_ERROR;
	}
	a->value = plain;
	a->plain = true;
	return CKR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Template checks
 * ------------------------------------------------------------------------------------------- */

/* Count, pointers, caps and duplicates of a template, before anything is allocated. */
CK_RV
obj_check_shape(const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	size_t total = 0;

	if (count > 0 && tmpl == NULL)
		return CKR_ARGUMENTS_BAD;
	if (count > LS_OBJECT_MAX_TEMPLATE)
		return CKR_TEMPLATE_INCONSISTENT;
	for (CK_ULONG i = 0; i < count; i++) {
		if (tmpl[i].pValue == NULL && tmpl[i].ulValueLen != 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if (tmpl[i].ulValueLen > LS_OBJECT_MAX_VALUE)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		total += tmpl[i].ulValueLen;
		if (total > LS_OBJECT_MAX_TOTAL)
			return CKR_TEMPLATE_INCONSISTENT;
		for (CK_ULONG j = 0; j < i; j++) {
			if (tmpl[j].type == tmpl[i].type)
				return CKR_TEMPLATE_INCONSISTENT;
		}
	}
	return CKR_OK;
}

const CK_ATTRIBUTE *
obj_tmpl_find(const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ATTRIBUTE_TYPE type)
{
	for (CK_ULONG i = 0; i < count; i++) {
		if (tmpl[i].type == type)
			return &tmpl[i];
	}
	return NULL;
}

/* A CK_ULONG attribute of a template: CKR_ATTRIBUTE_VALUE_INVALID when it has another size. */
CK_RV
obj_tmpl_ulong(const CK_ATTRIBUTE *a, CK_ULONG *v)
{
	if (a->ulValueLen != sizeof(CK_ULONG))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	memcpy(v, a->pValue, sizeof(*v));
	return CKR_OK;
}

static bool
date_ok(const uint8_t *p, size_t n)
{
	if (n == 0)
		return true;
	if (n != sizeof(CK_DATE))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
	}
	return true;
}

/* The value of template attribute @a against row @d: CKR_ATTRIBUTE_VALUE_INVALID when bad. */
CK_RV
obj_check_value(const attr_desc *d, unsigned cl, const CK_ATTRIBUTE *a)
{
	const uint8_t *p = a->pValue;
	size_t n = a->ulValueLen;
	CK_ULONG ul;

	switch (d->kind) {
	case T_BOOL:
		if (n != sizeof(CK_BBOOL) || (p[0] != CK_TRUE && p[0] != CK_FALSE))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return CKR_OK;
	case T_ULONG:
		if (n != sizeof(CK_ULONG))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		memcpy(&ul, p, sizeof(ul));
		switch (d->type) {
		case CKA_CERTIFICATE_TYPE:
			return ul == CKC_X_509 ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
		case CKA_CERTIFICATE_CATEGORY:
		case CKA_JAVA_MIDP_SECURITY_DOMAIN:
			return ul <= 3 ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
		case CKA_VALUE_LEN:
			return ul > 0 && ul <= LS_OBJECT_MAX_VALUE ? CKR_OK
			                                           : CKR_ATTRIBUTE_VALUE_INVALID;
		default:
			return CKR_OK;
		}
	case T_DATE:
		return date_ok(p, n) ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
	case T_MECHS:
		return n % sizeof(CK_MECHANISM_TYPE) == 0 ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
	case T_OID:
		if (!obj_der_oid_ok(p, n))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if (d->type == CKA_GOSTR3410_PARAMS) {
			ls_curve c;

			if (ls_curve_from_oid(p, n, &c) != LS_OK)
				return CKR_ATTRIBUTE_VALUE_INVALID;
		} else if (d->type == CKA_GOSTR3411_PARAMS) {
			if (hash_oid_curve_size(p, n) == 0)
				return CKR_ATTRIBUTE_VALUE_INVALID;
		} else if (d->type == CKA_GOST28147_PARAMS) {
			ls_gost89_param s;

			if (ls_mech_gost89_param_from_oid(p, n, &s) != CKR_OK)
				return CKR_ATTRIBUTE_VALUE_INVALID;
		}
		return CKR_OK;
	default:
		if (cl == CL_CERT && d->type == CKA_VALUE && n > LS_OBJECT_MAX_CERT_VALUE)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		/* The store's indexed columns have their own limits. */
		if ((d->type == CKA_ID && n > LS_STORE_CKA_ID_MAX) ||
		    (d->type == CKA_LABEL && n > LS_STORE_LABEL_MAX))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return CKR_OK;
	}
}

/* Whether template attribute @a of row @d may be given to an object-making operation @op. */
static CK_RV
check_initial(ls_object_op op, ls_object_who who, const attr_desc *d, const CK_ATTRIBUTE *a)
{
	bool gen = op == LS_OBJECT_OP_GENERATE || op == OBJ_OP_PAIR || op == LS_OBJECT_OP_DERIVE;
	bool unwrap = op == LS_OBJECT_OP_UNWRAP || op == LS_OBJECT_OP_DERIVE;

	if ((d->rules & R_NO_CREATE) && op == LS_OBJECT_OP_CREATE)
		return CKR_ATTRIBUTE_READ_ONLY;
	if ((d->rules & R_NO_GEN) && gen)
		return CKR_ATTRIBUTE_READ_ONLY;
	if ((d->rules & R_NO_UNWRAP) && unwrap)
		return CKR_ATTRIBUTE_READ_ONLY;
	if ((d->rules & R_SO_TRUE) && who != LS_OBJECT_SO && *(const CK_BBOOL *)a->pValue)
		return CKR_ATTRIBUTE_READ_ONLY;
	return CKR_OK;
}

/*
 * Applies the attributes of a template to a new object being made by @op (CKA_CLASS and
 * CKA_KEY_TYPE were consumed by the caller).
 */
CK_RV
obj_apply_initial(ls_object *o, ls_object_op op, ls_object_who who, const CK_ATTRIBUTE *tmpl,
                  CK_ULONG count)
{
	for (CK_ULONG i = 0; i < count; i++) {
		const CK_ATTRIBUTE *a = &tmpl[i];
		const attr_desc *d;
		CK_RV rv;

		if (a->type == CKA_CLASS || (a->type == CKA_KEY_TYPE && (o->cl & CL_KEY)))
			continue;
		d = obj_desc(o->cl, o->kf, a->type);
		if (d == NULL)
			return CKR_ATTRIBUTE_TYPE_INVALID;
		rv = obj_check_value(d, o->cl, a);
		if (rv == CKR_OK)
			rv = check_initial(op, who, d, a);
		if (rv == CKR_OK)
			rv = obj_put(o, d, a->pValue, a->ulValueLen);
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

/* The attributes an operation requires, present in the template (or supplied by the caller). */
CK_RV
obj_check_required(const ls_object *o, ls_object_op op, const CK_ATTRIBUTE *tmpl,
                   CK_ULONG count)
{
	unsigned need = op == LS_OBJECT_OP_CREATE ? R_REQ_CREATE
	                : op == LS_OBJECT_OP_UNWRAP ? R_REQ_UNWRAP
	                : op == LS_OBJECT_OP_DERIVE ? 0
	                                            : R_REQ_GEN;

	for (size_t i = 0; i < attr_table_len; i++) {
		const attr_desc *d = &attr_table[i];

		if ((d->rules & need) == 0 || d->type == CKA_CLASS || d->type == CKA_KEY_TYPE)
			continue;
		if (obj_desc(o->cl, o->kf, d->type) != d)
			continue;
		if (obj_tmpl_find(tmpl, count, d->type) == NULL)
			return CKR_TEMPLATE_INCOMPLETE;
	}
	if (o->cl == CL_CERT && op == LS_OBJECT_OP_CREATE) {
		const obj_attr *value = obj_find(o, CKA_VALUE), *url = obj_find(o, CKA_URL);

		if (value->len == 0 && url->len == 0)
			return CKR_TEMPLATE_INCOMPLETE;
	}
	if (o->kf == KF_GENERIC && op == LS_OBJECT_OP_GENERATE &&
	    obj_tmpl_find(tmpl, count, CKA_VALUE_LEN) == NULL)
		return CKR_TEMPLATE_INCOMPLETE;
	return CKR_OK;
}

/*
 * Rules between attributes and the total size, on a complete or pending object; key value
 * lengths are checked only when @with_value.  Also fills CKA_GOSTR3411_PARAMS by curve size
 * when it is empty.
 */
CK_RV
obj_check_consistency(ls_object *o, bool with_value)
{
	const obj_attr *a;
	size_t total = 0;

	for (size_t i = 0; i < o->n_attrs; i++)
		total += o->attrs[i].len;
	if (total > LS_OBJECT_MAX_TOTAL)
		return CKR_TEMPLATE_INCONSISTENT;

	if (o->kf == KF_GOST3410) {
		size_t size, hsize;
		ls_curve c;

		a = obj_find(o, CKA_GOSTR3410_PARAMS);
		if (a->len == 0 || ls_curve_from_oid(a->value, a->len, &c) != LS_OK)
			return CKR_TEMPLATE_INCOMPLETE;
		size = ls_curve_size(c);
		if ((o->key_type == CKK_GOSTR3410) != (size == 32))
			return CKR_TEMPLATE_INCONSISTENT;
		a = obj_find(o, CKA_GOSTR3411_PARAMS);
		if (a->len == 0) {
			const uint8_t *def = size == 64 ? oid_streebog512 : oid_streebog256;
			CK_RV rv = obj_put(o, a->desc, def, sizeof(oid_streebog256));

			if (rv != CKR_OK)
				return rv;
			a = obj_find(o, CKA_GOSTR3411_PARAMS);
		}
		hsize = hash_oid_curve_size(a->value, a->len);
		if (hsize != size)
			return CKR_TEMPLATE_INCONSISTENT;
		if (with_value) {
			a = obj_find(o, CKA_VALUE);
			if (a->len != (o->cl == CL_PUB ? 2 * size : size))
				return CKR_ATTRIBUTE_VALUE_INVALID;
		}
	} else if (o->cl == CL_SECRET && with_value) {
		size_t fixed = obj_fixed_secret_len(o->key_type);

		a = obj_find(o, CKA_VALUE);
		if (fixed != 0 ? a->len != fixed : a->len == 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if (obj_ulong(o, CKA_VALUE_LEN, 0) != a->len)
			return CKR_TEMPLATE_INCONSISTENT;
	}
	if (o->cl == CL_CERT) {
		if (obj_find(o, CKA_VALUE)->len == 0 && obj_find(o, CKA_URL)->len == 0)
			return CKR_TEMPLATE_INCOMPLETE;
	}
	return CKR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Values: validation, the GOST key cache, check values
 * ------------------------------------------------------------------------------------------- */

/*
 * Builds the ls_gost_key of a GOST R 34.10 key from its plaintext value (which also validates
 * it: a point on the curve, a scalar in range).  CKR_ATTRIBUTE_VALUE_INVALID when it does not
 * build.
 */
CK_RV
obj_build_gost(const ls_object *o, const uint8_t *value, size_t len, ls_gost_key **out)
{
	int err;

	*out = NULL;
	if (o->curve == 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (o->cl == CL_PRIV)
		err = ls_gost_key_from_private(o->curve, value, len, out);
	else
		err = ls_gost_key_from_public(o->curve, value, len, out);
	if (err == LS_ERR_NOMEM)
		return CKR_HOST_MEMORY;
	return err == LS_OK ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

/* Takes over @key as the cached GOST key of @o (which must have none). */
CK_RV
obj_set_gost(ls_object *o, ls_gost_key *key)
{
	obj_gost *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return CKR_HOST_MEMORY;
	atomic_init(&g->refs, 1);
	g->key = key;
	o->gost = g;
	return CKR_OK;
}

/*
 * Sets CKA_VALUE_LEN and CKA_CHECK_VALUE of a secret key from its value.  A check value the
 * template gave (o->check_given; its bytes are in the attribute) must equal the computed one
 * (CKR_ATTRIBUTE_VALUE_INVALID), and an empty one asks for none.  A key type whose check value
 * the mechanism layer cannot compute keeps an empty one.
 */
static CK_RV
secret_derived(ls_object *o)
{
	const attr_desc *cvd = obj_desc(o->cl, o->kf, CKA_CHECK_VALUE);
	const obj_attr *v = obj_find(o, CKA_VALUE), *given = obj_find(o, CKA_CHECK_VALUE);
	ls_mech_key mk = { 0 };
	uint8_t cv[3];
	CK_RV rv;

	if (obj_ulong(o, CKA_VALUE_LEN, 0) != 0 && obj_ulong(o, CKA_VALUE_LEN, 0) != v->len)
		return CKR_TEMPLATE_INCONSISTENT;
	rv = obj_put_ulong(o, CKA_VALUE_LEN, v->len);
	if (rv != CKR_OK)
		return rv;
	mk.cls = o->cls;
	mk.key_type = o->key_type;
	mk.value = v->value;
	mk.value_len = v->len;
	mk.sbox = o->sbox != 0 ? o->sbox : LS_GOST89_PARAM_CPA;
	rv = ls_mech_check_value(&mk, cv);
	if (o->check_given && given->len > 0) {
		if (rv != CKR_OK || given->len != sizeof(cv) || memcmp(given->value, cv, sizeof(cv)))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return CKR_OK;
	}
	if (o->check_given || rv != CKR_OK) {
		if (rv != CKR_OK)
			ls_debug("no check value for key type 0x%lx", (unsigned long)o->key_type);
		return obj_put(o, cvd, NULL, 0);
	}
	return obj_put(o, cvd, cv, sizeof(cv));
}

/* The attributes the token sets on a new key, by how it came to be (@o->pending). */
static CK_RV
key_origin(ls_object *o, ls_object_op op)
{
	bool local = op == LS_OBJECT_OP_GENERATE || op == OBJ_OP_PAIR;
	bool sensitive = obj_bool(o, CKA_SENSITIVE), extractable = obj_bool(o, CKA_EXTRACTABLE);
	bool always = false, never = false;
	CK_RV rv;

	if (local) {
		always = sensitive;
		never = !extractable;
	} else if (op == LS_OBJECT_OP_DERIVE && o->has_base) {
		always = (o->base_flags & LS_OBJECT_F_ALWAYS_SENSITIVE) && sensitive;
		never = (o->base_flags & LS_OBJECT_F_NEVER_EXTRACTABLE) && !extractable;
	}
	rv = obj_put_bool(o, CKA_LOCAL, local);
	if (rv == CKR_OK)
		rv = obj_put_ulong(o, CKA_KEY_GEN_MECHANISM,
		                   local ? o->mechanism : CK_UNAVAILABLE_INFORMATION);
	if (rv == CKR_OK && (o->cl & (CL_PRIV | CL_SECRET))) {
		rv = obj_put_bool(o, CKA_ALWAYS_SENSITIVE, always);
		if (rv == CKR_OK)
			rv = obj_put_bool(o, CKA_NEVER_EXTRACTABLE, never);
	}
	return rv;
}

/*
 * Everything that follows from a key's value once it is set, for a key made by @op:
 * validation (GOST keys are built, which checks the point or the scalar, and cached),
 * CKA_VALUE_LEN and CKA_CHECK_VALUE of secret keys, and the origin attributes.  @gost, when
 * given and set, is the already built key, taken over on success.
 */
static CK_RV
key_finish(ls_object *o, ls_object_op op, ls_gost_key **gost)
{
	const obj_attr *v = obj_find(o, CKA_VALUE);
	ls_gost_key *built = NULL;
	CK_RV rv;

	obj_refresh(o);
	if (o->cl == CL_SECRET) {
		size_t fixed = obj_fixed_secret_len(o->key_type);

		if (fixed != 0 ? v->len != fixed : v->len == 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		rv = secret_derived(o);
		if (rv != CKR_OK)
			return rv;
	}
	rv = obj_check_consistency(o, true);
	if (rv != CKR_OK)
		return rv;
	if (o->kf == KF_GOST3410 && (gost == NULL || *gost == NULL)) {
		rv = obj_build_gost(o, v->value, v->len, &built);
		if (rv != CKR_OK)
			return rv;
	}
	rv = key_origin(o, op);
	if (rv == CKR_OK && o->kf == KF_GOST3410) {
		rv = obj_set_gost(o, built != NULL ? built : *gost);
		if (rv == CKR_OK) {
			if (built == NULL)
				*gost = NULL;
			built = NULL;
		}
	}
	ls_gost_key_free(built);
	obj_refresh(o);
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * Making objects
 * ------------------------------------------------------------------------------------------- */

/*
 * The class and key type of a template.  @def_cls / @def_kt apply when the template has none
 * (CK_UNAVAILABLE_INFORMATION: it must have one); with @implied, a key type the template
 * gives must equal @def_kt (the generation mechanism fixes it).
 */
static CK_RV
template_kind(const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_CLASS def_cls,
              CK_KEY_TYPE def_kt, bool implied, CK_OBJECT_CLASS *cls, CK_KEY_TYPE *kt,
              unsigned *cl, unsigned *kf)
{
	const CK_ATTRIBUTE *a;
	CK_RV rv;

	*cls = def_cls;
	*kt = def_kt;
	*cl = 0;
	*kf = 0;
	a = obj_tmpl_find(tmpl, count, CKA_CLASS);
	if (a != NULL) {
		rv = obj_tmpl_ulong(a, cls);
		if (rv != CKR_OK)
			return rv;
	} else if (def_cls == CK_UNAVAILABLE_INFORMATION) {
		return CKR_TEMPLATE_INCOMPLETE;
	}
	*cl = obj_class_bit(*cls);
	if (*cl == 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((*cl & CL_KEY) == 0) {
		*kt = CK_UNAVAILABLE_INFORMATION;
		return CKR_OK;
	}
	a = obj_tmpl_find(tmpl, count, CKA_KEY_TYPE);
	if (a != NULL) {
		CK_KEY_TYPE given;

		rv = obj_tmpl_ulong(a, &given);
		if (rv != CKR_OK)
			return rv;
		if (implied && given != def_kt && key_family(given) != 0)
			return CKR_TEMPLATE_INCONSISTENT;
		*kt = given;
	} else if (def_kt == CK_UNAVAILABLE_INFORMATION) {
		return CKR_TEMPLATE_INCOMPLETE;
	}
	return obj_key_family(*cl, *kt, kf);
}

/*
 * A certificate's CKA_CHECK_VALUE: the first three bytes of the SHA-1 of CKA_VALUE (PKCS#11
 * v2.40 4.6.3).  One the template gave (@given) must match (CKR_ATTRIBUTE_VALUE_INVALID); an
 * empty one asks for none.  CKA_VALUE cannot change after creation, so neither can this.
 */
static CK_RV
cert_check_value(ls_object *o, bool given)
{
	const attr_desc *cvd = obj_desc(o->cl, o->kf, CKA_CHECK_VALUE);
	const obj_attr *v = obj_find(o, CKA_VALUE), *g = obj_find(o, CKA_CHECK_VALUE);
	uint8_t h[20];

	if (v == NULL || v->len == 0) {
		if (given && g != NULL && g->len > 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return CKR_OK;
	}
	if (ls_md(LS_MD_SHA1, v->value, v->len, h, sizeof(h)) != LS_OK)
		return CKR_FUNCTION_FAILED;
	if (given && g != NULL) {
		if (g->len == 0)
			return CKR_OK;
		if (g->len != 3 || memcmp(g->value, h, 3) != 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return CKR_OK;
	}
	return obj_put(o, cvd, h, 3);
}

/* A new object of the given kind, with defaults, a session CKA_UNIQUE_ID and @tmpl applied. */
static CK_RV
make(const ls_object_ctx *ctx, ls_object_op op, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, unsigned cl,
     unsigned kf, const CK_ATTRIBUTE *tmpl, CK_ULONG count, ls_object **out)
{
	ls_object *o = NULL;
	CK_RV rv;

	*out = NULL;
	o = obj_alloc(cls, kt, cl, kf);
	if (o == NULL)
		return CKR_HOST_MEMORY;
	rv = obj_add_defaults(o);
	if (rv == CKR_OK)
		rv = obj_apply_initial(o, op, ctx->who, tmpl, count);
	if (rv == CKR_OK)
		rv = obj_check_required(o, op, tmpl, count);
	if (rv == CKR_OK)
		rv = obj_new_unique_id(o);
	if (rv != CKR_OK)
		goto out;
	o->check_given = (cl == CL_SECRET && obj_tmpl_find(tmpl, count, CKA_CHECK_VALUE) != NULL);
	o->mechanism = ctx->mechanism;
	obj_refresh(o);
	*out = o;
	o = NULL;
out:
	ls_object_unref(o);
	return rv;
}

static bool
ctx_ok(const ls_object_ctx *ctx)
{
	return ctx != NULL && ctx->who >= LS_OBJECT_NOBODY && ctx->who <= LS_OBJECT_SO;
}

CK_RV
ls_object_create(const ls_object_ctx *ctx, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                 ls_object **out)
{
	ls_object *o = NULL;
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE kt;
	unsigned cl, kf;
	CK_RV rv;

	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	*out = NULL;
	ls_return_val_if_fail(ctx_ok(ctx) && ctx->op == LS_OBJECT_OP_CREATE, CKR_ARGUMENTS_BAD);
	rv = obj_check_shape(tmpl, count);
	if (rv == CKR_OK)
		rv = template_kind(tmpl, count, CK_UNAVAILABLE_INFORMATION,
		                   CK_UNAVAILABLE_INFORMATION, false, &cls, &kt, &cl, &kf);
	if (rv == CKR_OK)
		rv = make(ctx, LS_OBJECT_OP_CREATE, cls, kt, cl, kf, tmpl, count, &o);
	if (rv != CKR_OK)
		goto out;
	if (cl & CL_KEY) {
		rv = key_finish(o, LS_OBJECT_OP_CREATE, NULL);
	} else {
		rv = obj_check_consistency(o, true);
		if (rv == CKR_OK && cl == CL_CERT)
			rv = cert_check_value(o, obj_tmpl_find(tmpl, count, CKA_CHECK_VALUE) != NULL);
		obj_refresh(o);
	}
	if (rv != CKR_OK)
		goto out;
	*out = o;
	o = NULL;
out:
	ls_object_unref(o);
	return rv;
}

/* The key type a generation mechanism makes, CK_UNAVAILABLE_INFORMATION when unknown. */
static CK_KEY_TYPE
keygen_key_type(CK_MECHANISM_TYPE mech)
{
	switch (mech) {
	case CKM_GOST28147_KEY_GEN:
		return CKK_GOST28147;
	case CKM_KUZNYECHIK_KEY_GEN:
		return CKK_KUZNYECHIK;
	case CKM_MAGMA_KEY_GEN:
		return CKK_MAGMA;
	case CKM_GENERIC_SECRET_KEY_GEN:
		return CKK_GENERIC_SECRET;
	case CKM_GOSTR3410_KEY_PAIR_GEN:
		return CKK_GOSTR3410;
	case CKM_GOSTR3410_512_KEY_PAIR_GEN:
		return CKK_GOSTR3410_512;
	default:
		return CK_UNAVAILABLE_INFORMATION;
	}
}

CK_RV
ls_object_new_key(const ls_object_ctx *ctx, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                  ls_object **out)
{
	CK_KEY_TYPE def_kt = CK_UNAVAILABLE_INFORMATION, kt;
	ls_object *o = NULL;
	CK_OBJECT_CLASS cls;
	unsigned cl, kf;
	CK_RV rv;

	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	*out = NULL;
	ls_return_val_if_fail(ctx_ok(ctx), CKR_ARGUMENTS_BAD);
	ls_return_val_if_fail(ctx->op == LS_OBJECT_OP_GENERATE || ctx->op == LS_OBJECT_OP_UNWRAP ||
	                              ctx->op == LS_OBJECT_OP_DERIVE,
	                      CKR_ARGUMENTS_BAD);
	rv = obj_check_shape(tmpl, count);
	if (rv != CKR_OK)
		return rv;
	if (ctx->op == LS_OBJECT_OP_GENERATE) {
		def_kt = keygen_key_type(ctx->mechanism);
		if (def_kt == CK_UNAVAILABLE_INFORMATION || key_family(def_kt) == KF_GOST3410)
			return CKR_MECHANISM_INVALID;
	} else {
		def_kt = ctx->default_key_type;
	}
	rv = template_kind(tmpl, count, CKO_SECRET_KEY, def_kt, ctx->op == LS_OBJECT_OP_GENERATE,
	                   &cls, &kt, &cl, &kf);
	if (rv != CKR_OK)
		return rv;
	if (cl != CL_SECRET && !(ctx->op == LS_OBJECT_OP_UNWRAP && cl == CL_PRIV))
		return CKR_TEMPLATE_INCONSISTENT;
	rv = make(ctx, ctx->op, cls, kt, cl, kf, tmpl, count, &o);
	if (rv != CKR_OK)
		goto out;
	if (cl == CL_SECRET) {
		size_t fixed = obj_fixed_secret_len(kt);

		o->want_len = obj_ulong(o, CKA_VALUE_LEN, 0);
		if (fixed != 0 && o->want_len != 0 && o->want_len != fixed) {
			rv = CKR_TEMPLATE_INCONSISTENT;
			goto out;
		}
	} else {
		rv = obj_check_consistency(o, false);
		if (rv != CKR_OK)
			goto out;
	}
	obj_refresh(o);
	o->pending = ctx->op;
	o->base_flags = ctx->base != NULL ? ctx->base->flags : 0;
	o->has_base = ctx->base != NULL;
	*out = o;
	o = NULL;
out:
	ls_object_unref(o);
	return rv;
}

/* One half of a key pair template: class and key type must agree with the mechanism. */
static CK_RV
pair_kind(const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_CLASS want, CK_KEY_TYPE kt)
{
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE got;
	unsigned cl, kf;
	CK_RV rv;

	rv = template_kind(tmpl, count, want, kt, true, &cls, &got, &cl, &kf);
	if (rv != CKR_OK)
		return rv;
	return cls == want && got == kt ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
}

CK_RV
ls_object_new_key_pair(const ls_object_ctx *ctx, const CK_ATTRIBUTE *pub_tmpl,
                       CK_ULONG pub_count, const CK_ATTRIBUTE *priv_tmpl, CK_ULONG priv_count,
                       ls_object **pub, ls_object **priv)
{
	static const CK_ATTRIBUTE_TYPE inherited[] = { CKA_GOSTR3410_PARAMS, CKA_GOSTR3411_PARAMS,
		                                       CKA_GOST28147_PARAMS };
	CK_ATTRIBUTE ext[LS_OBJECT_MAX_TEMPLATE + 3];
	ls_object_ctx pctx;
	ls_object *p = NULL, *q = NULL;
	CK_ULONG ext_count;
	CK_KEY_TYPE kt;
	ls_curve pc, qc;
	CK_RV rv;

	ls_return_val_if_fail(pub != NULL && priv != NULL, CKR_ARGUMENTS_BAD);
	*pub = NULL;
	*priv = NULL;
	ls_return_val_if_fail(ctx_ok(ctx), CKR_ARGUMENTS_BAD);
	kt = keygen_key_type(ctx->mechanism);
	if (key_family(kt) != KF_GOST3410)
		return CKR_MECHANISM_INVALID;
	rv = obj_check_shape(pub_tmpl, pub_count);
	if (rv == CKR_OK)
		rv = obj_check_shape(priv_tmpl, priv_count);
	if (rv == CKR_OK)
		rv = pair_kind(pub_tmpl, pub_count, CKO_PUBLIC_KEY, kt);
	if (rv == CKR_OK)
		rv = pair_kind(priv_tmpl, priv_count, CKO_PRIVATE_KEY, kt);
	if (rv != CKR_OK)
		return rv;

	/* The private key takes the public template's domain parameters it does not name. */
	if (priv_count > 0)
		memcpy(ext, priv_tmpl, priv_count * sizeof(*ext));
	ext_count = priv_count;
	for (size_t i = 0; i < sizeof(inherited) / sizeof(inherited[0]); i++) {
		const CK_ATTRIBUTE *a = obj_tmpl_find(pub_tmpl, pub_count, inherited[i]);

		if (a != NULL && obj_tmpl_find(priv_tmpl, priv_count, inherited[i]) == NULL)
			ext[ext_count++] = *a;
	}

	pctx = *ctx;
	pctx.op = OBJ_OP_PAIR;
	rv = make(&pctx, OBJ_OP_PAIR, CKO_PUBLIC_KEY, kt, CL_PUB, KF_GOST3410, pub_tmpl, pub_count,
	          &p);
	if (rv == CKR_OK)
		rv = obj_check_consistency(p, false);
	if (rv == CKR_OK)
		rv = make(&pctx, OBJ_OP_PAIR, CKO_PRIVATE_KEY, kt, CL_PRIV, KF_GOST3410, ext,
		          ext_count, &q);
	if (rv == CKR_OK)
		rv = obj_check_consistency(q, false);
	if (rv != CKR_OK)
		goto out;
	obj_refresh(p);
	obj_refresh(q);
	pc = p->curve;
	qc = q->curve;
	if (pc != qc) {
		rv = CKR_TEMPLATE_INCONSISTENT;
		goto out;
	}
	if (!bytes_eq(obj_find(p, CKA_GOSTR3411_PARAMS)->value,
	              obj_find(p, CKA_GOSTR3411_PARAMS)->len,
	              obj_find(q, CKA_GOSTR3411_PARAMS)->value,
	              obj_find(q, CKA_GOSTR3411_PARAMS)->len) &&
	    obj_tmpl_find(priv_tmpl, priv_count, CKA_GOSTR3411_PARAMS) != NULL &&
	    obj_tmpl_find(pub_tmpl, pub_count, CKA_GOSTR3411_PARAMS) != NULL) {
		rv = CKR_TEMPLATE_INCONSISTENT;
		goto out;
	}
	p->pending = OBJ_OP_PAIR;
	q->pending = OBJ_OP_PAIR;
	*pub = p;
	*priv = q;
	p = NULL;
	q = NULL;
out:
	ls_object_unref(p);
	ls_object_unref(q);
	return rv;
}

CK_RV
ls_object_complete(ls_object *obj, const uint8_t *value, size_t len, ls_gost_key **gost)
{
	const attr_desc *vd;
	CK_RV rv;

	ls_return_val_if_fail(obj != NULL && (value != NULL || len == 0), CKR_ARGUMENTS_BAD);
	if (obj->pending == 0)
		return CKR_GENERAL_ERROR;
	if (len > LS_OBJECT_MAX_VALUE)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (obj->cl == CL_SECRET && obj->want_len != 0 && len != obj->want_len)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	vd = obj_desc(obj->cl, obj->kf, CKA_VALUE);
	rv = obj_put(obj, vd, value, len);
	if (rv == CKR_OK)
		rv = key_finish(obj, obj->pending, gost);
	if (rv != CKR_OK) {
		/* Stays pending, without the value. */
		obj_put(obj, vd, NULL, 0);
		return rv;
	}
	obj->pending = 0;
	return CKR_OK;
}
