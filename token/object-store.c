/*
 * LS11CLOUD - the object layer: encoding objects for the store (token/store.h).
 *
 * An object goes into the store as its indexed columns (CKA_CLASS, CKA_KEY_TYPE, CKA_ID,
 * CKA_LABEL) and one attribute blob with everything else.  CKA_UNIQUE_ID is not stored: it
 * follows from the store id, so it cannot change.
 *
 * Attribute blob, version 1 (LS_OBJECT_BLOB_VERSION), all integers big-endian:
 *
 *   u8  version
 *   u32 count
 *   count times:
 *     u64 attribute type
 *     u8  form: 0 = clear, 1 = sealed (token/protect.h, bound to the object id and the type)
 *     u32 length, then the bytes: clear values in a portable layout (CK_BBOOL one byte;
 *         CK_ULONG and each element of a mechanism list eight bytes; the rest as they are)
 *
 * Secret values (R_SECRET: CKA_VALUE of private and secret keys) are always sealed, other values
 * never: a blob that says otherwise, names an attribute its class does not have, repeats one,
 * has trailing bytes or breaks a rule between attributes is refused as corrupt.
 *
 * Objects with secret values also carry an integrity record, last in the blob: type
 * OBJ_INTEGRITY_TYPE, sealed like a secret value, holding the Streebog-256 digest of every
 * other attribute of the object (obj_digest(): class, key type, and each clear attribute of
 * the table in table order, indexed columns included).  The seal binds it to the token and the
 * object; the digest binds the clear attributes, so flipping CKA_SENSITIVE or CKA_EXTRACTABLE,
 * or swapping CKA_ALLOWED_MECHANISMS, in the database makes the object's secret refuse to open
 * (the record is checked before the first secret value of a loaded object is opened).
 * Objects without secrets (data, certificates, public keys) carry no record: nobody may need
 * the master key to store them, and their attributes are public anyway; a writer of the
 * database can change them (see the report on the token record, which is not MACed either).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "log.h"
#include "object-private.h"

#define FORM_CLEAR 0
#define FORM_SEALED 1

/* Attributes kept out of the blob: the store's columns, and the id-derived CKA_UNIQUE_ID. */
static bool
not_in_blob(CK_ATTRIBUTE_TYPE type)
{
	return type == CKA_CLASS || type == CKA_KEY_TYPE || type == CKA_ID || type == CKA_LABEL ||
	       type == CKA_UNIQUE_ID;
}

static CK_RV
seal_attr(ls_object *o, obj_attr *a, const ls_protect_key *key)
{
	size_t size, n = 0;
	uint8_t *buf;
	int err;

	if (a->sealed != NULL)
		return CKR_OK;
	if (!a->plain)
		return CKR_GENERAL_ERROR;
	if (key == NULL)
		return CKR_USER_NOT_LOGGED_IN;
	size = ls_protect_sealed_size(a->len);
	buf = malloc(size);
	if (buf == NULL)
		return CKR_HOST_MEMORY;
	err = ls_protect_seal(key, o->store_id, a->type, a->value, a->len, buf, size, &n);
	if (err != LS_OK) {
		ls_error("object %llu: sealing attribute 0x%lx failed: %s",
		         (unsigned long long)o->store_id, (unsigned long)a->type, ls_strerror(err));
		free(buf);
		return CKR_FUNCTION_FAILED;
	}
	a->sealed = buf;
	a->sealed_len = n;
	return CKR_OK;
}

static void
put_clear(ls_buf *b, const obj_attr *a)
{
	CK_ULONG v;

	switch (a->desc->kind) {
	case T_BOOL:
		ls_buf_add_u32(b, 1);
		ls_buf_add_u8(b, a->value[0]);
		break;
	case T_ULONG:
	case T_MECHS:
		if (a->len / sizeof(CK_ULONG) * 8 > UINT32_MAX) {
			ls_buf_fail(b, LS_ERR_TOO_LARGE);
			break;
		}
		ls_buf_add_u32(b, (uint32_t)(a->len / sizeof(CK_ULONG) * 8));
		for (size_t off = 0; off < a->len; off += sizeof(v)) {
			memcpy(&v, a->value + off, sizeof(v));
			ls_buf_add_u64(b, v);
		}
		break;
	default:
		ls_buf_add_string(b, a->value, a->len);
		break;
	}
}

bool
obj_has_secrets(const ls_object *o)
{
	return (o->cl & (CL_PRIV | CL_SECRET)) != 0;
}

CK_RV
obj_digest(const ls_object *o, uint8_t out[OBJ_DIGEST_SIZE])
{
	CK_RV rv = CKR_OK;
	ls_buf b;

	ls_buf_init(&b, 2 * LS_STORE_ATTRS_MAX);
	ls_buf_add_cstring(&b, "LS11CLOUD object digest v1");
	ls_buf_add_u64(&b, o->cls);
	ls_buf_add_u64(&b, (o->cl & CL_KEY) ? o->key_type : LS_STORE_NO_KEY_TYPE);
	for (size_t i = 0; i < attr_table_len; i++) {
		const attr_desc *d = &attr_table[i];
		const obj_attr *a;

		if (obj_desc(o->cl, o->kf, d->type) != d || (d->rules & R_SECRET) ||
		    d->type == CKA_UNIQUE_ID)
			continue;
		a = obj_find(o, d->type);
		if (a == NULL)
			continue;
		ls_buf_add_u64(&b, d->type);
		put_clear(&b, a);
	}
	if (ls_buf_failed(&b))
		rv = ls_buf_status(&b) == LS_ERR_NOMEM ? CKR_HOST_MEMORY : CKR_GENERAL_ERROR;
	else if (ls_md(LS_MD_STREEBOG256, ls_buf_data(&b), ls_buf_len(&b), out, OBJ_DIGEST_SIZE) !=
	         LS_OK)
		rv = CKR_FUNCTION_FAILED;
	ls_buf_clear(&b);
	return rv;
}

CK_RV
obj_verify_record(ls_object *o, const uint8_t *record, size_t record_len,
                  const uint8_t digest[OBJ_DIGEST_SIZE], const ls_protect_key *key)
{
	uint8_t got[OBJ_DIGEST_SIZE];
	size_t n = 0;
	int err;

	if (record == NULL) {
		ls_error("object %llu: no integrity record", (unsigned long long)o->store_id);
		return CKR_DEVICE_ERROR;
	}
	err = ls_protect_open(key, o->store_id, OBJ_INTEGRITY_TYPE, record, record_len, got,
	                      sizeof(got), &n);
	if (err != LS_OK || n != sizeof(got) || !ls_ct_equal(got, digest, sizeof(got))) {
		ls_error("object %llu: attributes changed outside the token (%s)",
		         (unsigned long long)o->store_id,
		         err != LS_OK ? ls_strerror(err) : "digest differs");
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

/* Makes @o's integrity record if it has none (after checking the one it replaces). */
static CK_RV
make_record(ls_object *o, const ls_protect_key *key)
{
	uint8_t digest[OBJ_DIGEST_SIZE];
	size_t size = ls_protect_sealed_size(OBJ_DIGEST_SIZE), n = 0;
	uint8_t *rec;
	CK_RV rv;
	int err;

	if (!obj_has_secrets(o) || o->integrity != NULL)
		return CKR_OK;
	if (key == NULL)
		return CKR_USER_NOT_LOGGED_IN;
	if (o->prev_integrity != NULL) {
		rv = obj_verify_record(o, o->prev_integrity, o->prev_integrity_len, o->prev_digest,
		                       key);
		if (rv != CKR_OK)
			return rv;
		free(o->prev_integrity);
		o->prev_integrity = NULL;
		o->prev_integrity_len = 0;
	}
	rv = obj_digest(o, digest);
	if (rv != CKR_OK)
		return rv;
	rec = malloc(size);
	if (rec == NULL)
		return CKR_HOST_MEMORY;
	err = ls_protect_seal(key, o->store_id, OBJ_INTEGRITY_TYPE, digest, sizeof(digest), rec,
	                      size, &n);
	if (err != LS_OK) {
		ls_error("object %llu: sealing the integrity record failed: %s",
		         (unsigned long long)o->store_id, ls_strerror(err));
		free(rec);
		return CKR_FUNCTION_FAILED;
	}
	o->integrity = rec;
	o->integrity_len = n;
	o->verified = true;
	return CKR_OK;
}

static uint8_t *
dup_bytes(const uint8_t *p, size_t n, CK_RV *rv)
{
	uint8_t *d;

	if (n == 0)
		return NULL;
	d = malloc(n);
	if (d == NULL) {
		*rv = CKR_HOST_MEMORY;
		return NULL;
	}
	memcpy(d, p, n);
	return d;
}

CK_RV
ls_object_to_store(ls_object *obj, const ls_protect_key *key, ls_store_object *out)
{
	const obj_attr *id, *label;
	uint32_t count = 0;
	CK_RV rv = CKR_OK;
	ls_buf b;

	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	memset(out, 0, sizeof(*out));
	ls_return_val_if_fail(obj != NULL, CKR_ARGUMENTS_BAD);
	if (obj->pending || obj->store_id == 0 || (obj->flags & LS_OBJECT_F_TOKEN) == 0)
		return CKR_GENERAL_ERROR;

	ls_buf_init(&b, LS_STORE_ATTRS_MAX);
	pthread_mutex_lock(&obj->lock);
	rv = make_record(obj, key);
	for (size_t i = 0; i < obj->n_attrs; i++)
		count += !not_in_blob(obj->attrs[i].type);
	count += obj_has_secrets(obj);
	ls_buf_add_u8(&b, LS_OBJECT_BLOB_VERSION);
	ls_buf_add_u32(&b, count);
	for (size_t i = 0; i < obj->n_attrs && rv == CKR_OK; i++) {
		obj_attr *a = &obj->attrs[i];

		if (not_in_blob(a->type))
			continue;
		ls_buf_add_u64(&b, a->type);
		if (a->desc->rules & R_SECRET) {
			rv = seal_attr(obj, a, key);
			ls_buf_add_u8(&b, FORM_SEALED);
			ls_buf_add_string(&b, a->sealed, a->sealed_len);
		} else {
			ls_buf_add_u8(&b, FORM_CLEAR);
			put_clear(&b, a);
		}
	}
	if (rv == CKR_OK && obj_has_secrets(obj)) {
		ls_buf_add_u64(&b, OBJ_INTEGRITY_TYPE);
		ls_buf_add_u8(&b, FORM_SEALED);
		ls_buf_add_string(&b, obj->integrity, obj->integrity_len);
	}
	if (rv == CKR_OK && ls_buf_failed(&b))
		rv = ls_buf_status(&b) == LS_ERR_NOMEM ? CKR_HOST_MEMORY : CKR_GENERAL_ERROR;
	if (rv == CKR_OK) {
		id = obj_find(obj, CKA_ID);
		label = obj_find(obj, CKA_LABEL);
		out->id = obj->store_id;
		out->cls = obj->cls;
		out->key_type = (obj->cl & CL_KEY) ? obj->key_type : LS_STORE_NO_KEY_TYPE;
		if (id != NULL) {
			out->ck_id = dup_bytes(id->value, id->len, &rv);
			out->ck_id_len = out->ck_id != NULL ? id->len : 0;
		}
		out->label = dup_bytes(label->value, label->len, &rv);
		out->label_len = out->label != NULL ? label->len : 0;
		out->attrs = ls_buf_steal(&b, &out->attrs_len);
		if (out->attrs == NULL)
			rv = CKR_HOST_MEMORY;
	}
	pthread_mutex_unlock(&obj->lock);
	ls_buf_clear(&b);
	if (rv != CKR_OK)
		ls_store_object_clear(out);
	return rv;
}

/* Decodes one clear value of row @d into its native layout; false when it is malformed. */
static bool
get_clear(ls_object *o, const attr_desc *d, const uint8_t *p, size_t n, CK_RV *rv)
{
	CK_ULONG one;

	switch (d->kind) {
	case T_BOOL:
		if (n != 1 || (p[0] != CK_TRUE && p[0] != CK_FALSE))
			return false;
		*rv = obj_put(o, d, p, 1);
		return true;
	case T_ULONG:
	case T_MECHS: {
		size_t count = n / 8;
		CK_ULONG *v;

		if (n % 8 != 0 || (d->kind == T_ULONG && n != 8))
			return false;
		if (count == 0) {
			*rv = obj_put(o, d, NULL, 0);
			return true;
		}
		v = calloc(count, sizeof(*v));
		if (v == NULL) {
			*rv = CKR_HOST_MEMORY;
			return true;
		}
		for (size_t i = 0; i < count; i++) {
			uint64_t x = 0;

			for (size_t j = 0; j < 8; j++)
				x = x << 8 | p[8 * i + j];
			one = (CK_ULONG)x;
			if ((uint64_t)one != x) {
				free(v);
				return false;
			}
			v[i] = one;
		}
		*rv = obj_put(o, d, v, count * sizeof(*v));
		free(v);
		return true;
	}
	default:
		*rv = obj_put(o, d, p, n);
		return true;
	}
}

static CK_RV
corrupt(const ls_store_object *s, const char *what)
{
	ls_error("object %llu: stored attributes are corrupt: %s", (unsigned long long)s->id, what);
	return CKR_DEVICE_ERROR;
}

/* Parses the attribute blob into @o (which has its kind set). */
static CK_RV
parse_blob(ls_object *o, const ls_store_object *s)
{
	uint32_t count;
	uint8_t version;
	ls_buf b;

	ls_buf_init_view(&b, s->attrs, s->attrs_len);
	if (ls_buf_get_u8(&b, &version) != LS_OK)
		return corrupt(s, "empty blob");
	if (version != LS_OBJECT_BLOB_VERSION)
		return corrupt(s, "unknown blob version");
	if (ls_buf_get_u32(&b, &count) != LS_OK || count > attr_table_len + 1)
		return corrupt(s, "bad attribute count");
	for (uint32_t i = 0; i < count; i++) {
		const attr_desc *d;
		const uint8_t *p;
		uint64_t type;
		uint8_t form;
		CK_RV rv = CKR_OK;
		obj_attr *a;
		size_t n;

		if (ls_buf_get_u64(&b, &type) != LS_OK || ls_buf_get_u8(&b, &form) != LS_OK ||
		    ls_buf_get_string(&b, LS_OBJECT_MAX_VALUE + LS_PROTECT_SEAL_OVERHEAD, &p, &n) !=
		            LS_OK)
			return corrupt(s, "truncated attribute");
		if (type == OBJ_INTEGRITY_TYPE) {
			if (!obj_has_secrets(o) || o->integrity != NULL || form != FORM_SEALED ||
			    n != ls_protect_sealed_size(OBJ_DIGEST_SIZE))
				return corrupt(s, "bad integrity record");
			o->integrity = malloc(n);
			if (o->integrity == NULL)
				return CKR_HOST_MEMORY;
			memcpy(o->integrity, p, n);
			o->integrity_len = n;
			continue;
		}
		d = obj_desc(o->cl, o->kf, (CK_ATTRIBUTE_TYPE)type);
		if (d == NULL || d->type != type || not_in_blob(d->type))
			return corrupt(s, "attribute the class does not have");
		if (obj_find(o, d->type) != NULL)
			return corrupt(s, "attribute twice");
		if (form == FORM_SEALED && (d->rules & R_SECRET)) {
			if (n < LS_PROTECT_SEAL_OVERHEAD)
				return corrupt(s, "short sealed value");
			rv = obj_put(o, d, NULL, 0);
			if (rv != CKR_OK)
				return rv;
			a = obj_find(o, d->type);
			a->sealed = malloc(n);
			if (a->sealed == NULL)
				return CKR_HOST_MEMORY;
			memcpy(a->sealed, p, n);
			a->sealed_len = n;
			a->len = n - LS_PROTECT_SEAL_OVERHEAD;
			a->plain = false;
		} else if (form == FORM_CLEAR && !(d->rules & R_SECRET)) {
			if (!get_clear(o, d, p, n, &rv))
				return corrupt(s, "malformed value");
			if (rv != CKR_OK)
				return rv;
		} else {
			return corrupt(s, "secret value in clear, or a clear one sealed");
		}
	}
	if (ls_buf_expect_end(&b) != LS_OK)
		return corrupt(s, "trailing bytes");
	if (obj_has_secrets(o) && o->integrity == NULL)
		return corrupt(s, "no integrity record");
	return CKR_OK;
}

CK_RV
ls_object_from_store(const ls_store_object *sobj, ls_object **out)
{
	ls_object *o = NULL;
	unsigned cl, kf = 0;
	CK_RV rv;

	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	*out = NULL;
	ls_return_val_if_fail(sobj != NULL && sobj->id != 0, CKR_ARGUMENTS_BAD);
	cl = obj_class_bit(sobj->cls);
	if (cl == 0)
		return corrupt(sobj, "unknown class");
	if (cl & CL_KEY) {
		if (obj_key_family(cl, sobj->key_type, &kf) != CKR_OK)
			return corrupt(sobj, "key type does not fit the class");
	} else if (sobj->key_type != LS_STORE_NO_KEY_TYPE) {
		return corrupt(sobj, "key type on an object that is not a key");
	}
	if (sobj->ck_id_len > 0 && (cl & (CL_CERT | CL_KEY)) == 0)
		return corrupt(sobj, "CKA_ID on an object that has none");
	if (sobj->ck_id_len > LS_STORE_CKA_ID_MAX || sobj->label_len > LS_STORE_LABEL_MAX)
		return corrupt(sobj, "indexed field over its limit");

	o = obj_alloc(sobj->cls, sobj->key_type, cl, kf);
	if (o == NULL)
		return CKR_HOST_MEMORY;
	o->store_id = sobj->id;
	rv = parse_blob(o, sobj);
	if (rv == CKR_OK && (cl & (CL_CERT | CL_KEY)))
		rv = obj_put(o, obj_desc(cl, kf, CKA_ID), sobj->ck_id, sobj->ck_id_len);
	if (rv == CKR_OK)
		rv = obj_put(o, obj_desc(cl, kf, CKA_LABEL), sobj->label, sobj->label_len);
	if (rv == CKR_OK)
		rv = obj_add_defaults(o);
	if (rv == CKR_OK)
		rv = obj_store_unique_id(o);
	if (rv != CKR_OK)
		goto out;
	obj_refresh(o);
	if ((o->flags & LS_OBJECT_F_TOKEN) == 0) {
		rv = corrupt(sobj, "a session object");
		goto out;
	}
	if (obj_check_consistency(o, true) != CKR_OK) {
		rv = corrupt(sobj, "attributes contradict each other");
		goto out;
	}
	obj_refresh(o);
	*out = o;
	o = NULL;
out:
	ls_object_unref(o);
	return rv;
}
