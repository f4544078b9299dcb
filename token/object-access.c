/*
 * LS11CLOUD - the object layer: copying, changing, reading and matching objects, the rules the
 * engine checks before it acts, and the key view for the mechanism layer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "object-private.h"

/* ---------------------------------------------------------------------------------------------
 * Cloning, C_CopyObject, C_SetAttributeValue
 * ------------------------------------------------------------------------------------------- */

/*
 * A new object with the attributes of @src.  With @keep_sealed it is the same stored object
 * (store id, owner and sealed bytes carried over, plaintext copied where opened); without, the
 * sealed values are opened with @key and only their plaintext is copied (a new object).
 */
CK_RV
obj_clone(ls_object *src, bool keep_sealed, const ls_protect_key *key, ls_object **out)
{
	ls_object *dst;
	CK_RV rv = CKR_OK;

	*out = NULL;
	dst = obj_alloc(src->cls, src->key_type, src->cl, src->kf);
	if (dst == NULL)
		return CKR_HOST_MEMORY;
	pthread_mutex_lock(&src->lock);
	for (size_t i = 0; i < src->n_attrs && rv == CKR_OK; i++) {
		obj_attr *a = &src->attrs[i], *b;

		if (!keep_sealed && !a->plain)
			rv = obj_open(src, a, key);
		if (rv == CKR_OK)
			rv = obj_put(dst, a->desc, a->plain ? a->value : NULL, a->plain ? a->len : 0);
		if (rv != CKR_OK || !keep_sealed || a->sealed == NULL)
			continue;
		b = obj_find(dst, a->type);
		if (!a->plain) {
			b->plain = false;
			b->len = a->len;
		}
		b->sealed = malloc(a->sealed_len);
		if (b->sealed == NULL) {
			rv = CKR_HOST_MEMORY;
			continue;
		}
		memcpy(b->sealed, a->sealed, a->sealed_len);
		b->sealed_len = a->sealed_len;
	}
	if (rv == CKR_OK && src->gost != NULL) {
		atomic_fetch_add(&src->gost->refs, 1);
		dst->gost = src->gost;
	}
	/*
	 * The clone's attributes will differ, so it needs a new integrity record; one made over
	 * attributes nobody checked would launder a change made in the database, so an
	 * unchecked source hands its record and digest on for ls_object_to_store() to check.
	 */
	dst->verified = src->verified || src->integrity == NULL;
	if (rv == CKR_OK && keep_sealed && !dst->verified) {
		rv = obj_digest(src, dst->prev_digest);
		if (rv == CKR_OK) {
			dst->prev_integrity = malloc(src->integrity_len);
			if (dst->prev_integrity == NULL)
				rv = CKR_HOST_MEMORY;
		}
		if (rv == CKR_OK) {
			memcpy(dst->prev_integrity, src->integrity, src->integrity_len);
			dst->prev_integrity_len = src->integrity_len;
		}
	}
	pthread_mutex_unlock(&src->lock);
	if (rv != CKR_OK) {
		ls_object_unref(dst);
		return rv;
	}
	if (keep_sealed) {
		dst->store_id = src->store_id;
		dst->owner = src->owner;
	}
	obj_refresh(dst);
	*out = dst;
	return CKR_OK;
}

/*
 * Applies @tmpl to @o under the rules of C_CopyObject (@copy) or C_SetAttributeValue.  A value
 * equal to the current one is no change and always accepted, except for secret values (which
 * are never compared: that would be an oracle on them).
 */
static CK_RV
apply_changes(ls_object *o, bool copy, ls_object_who who, const CK_ATTRIBUTE *tmpl,
              CK_ULONG count)
{
	for (CK_ULONG i = 0; i < count; i++) {
		const CK_ATTRIBUTE *t = &tmpl[i];
		const attr_desc *d = obj_desc(o->cl, o->kf, t->type);
		const obj_attr *a;
		bool allowed, newv, oldv;
		CK_RV rv;

		if (d == NULL)
			return CKR_ATTRIBUTE_TYPE_INVALID;
		rv = obj_check_value(d, o->cl, t);
		if (rv != CKR_OK)
			return rv;
		if (d->rules & R_SECRET)
			return CKR_ATTRIBUTE_READ_ONLY;
		a = obj_find(o, t->type);
		if (a->len == t->ulValueLen && (a->len == 0 || memcmp(a->value, t->pValue, a->len) == 0))
			continue;
		allowed = (d->rules & R_SET) || (copy && (d->rules & R_COPY)) ||
		          ((d->rules & R_SO_TRUE) && who == LS_OBJECT_SO);
		if (!allowed)
			return CKR_ATTRIBUTE_READ_ONLY;
		if (d->kind == T_BOOL) {
			newv = *(const CK_BBOOL *)t->pValue == CK_TRUE;
			oldv = a->value[0] == CK_TRUE;
			if ((d->rules & R_SO_TRUE) && newv && who != LS_OBJECT_SO)
				return CKR_ATTRIBUTE_READ_ONLY;
			if ((d->rules & R_STICKY_TRUE) && oldv)
				return CKR_ATTRIBUTE_READ_ONLY;
			if ((d->rules & R_STICKY_FALSE) && !oldv)
				return CKR_ATTRIBUTE_READ_ONLY;
		}
		rv = obj_put(o, d, t->pValue, t->ulValueLen);
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

CK_RV
ls_object_copy(ls_object *src, const ls_object_ctx *ctx, const ls_protect_key *key,
               const CK_ATTRIBUTE *tmpl, CK_ULONG count, ls_object **out)
{
	ls_object *o = NULL;
	CK_RV rv;

	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	*out = NULL;
	ls_return_val_if_fail(src != NULL && ctx != NULL, CKR_ARGUMENTS_BAD);
	if (src->pending)
		return CKR_GENERAL_ERROR;
	rv = obj_check_shape(tmpl, count);
	if (rv != CKR_OK)
		return rv;
	if ((src->flags & LS_OBJECT_F_COPYABLE) == 0)
		return CKR_ACTION_PROHIBITED;
	rv = obj_clone(src, false, key, &o);
	if (rv == CKR_OK)
		rv = apply_changes(o, true, ctx->who, tmpl, count);
	if (rv == CKR_OK)
		rv = obj_new_unique_id(o);
	if (rv == CKR_OK)
		rv = obj_check_consistency(o, true);
	if (rv != CKR_OK)
		goto out;
	obj_refresh(o);
	*out = o;
	o = NULL;
out:
	ls_object_unref(o);
	return rv;
}

CK_RV
ls_object_set_attributes(const ls_object *obj, ls_object_who who, const CK_ATTRIBUTE *tmpl,
                         CK_ULONG count, ls_object **out)
{
	/* The lock is taken to read the sealed values; the object itself does not change. */
	ls_object *src = (ls_object *)obj;
	ls_object *o = NULL;
	CK_RV rv;

	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	*out = NULL;
	ls_return_val_if_fail(obj != NULL, CKR_ARGUMENTS_BAD);
	if (obj->pending)
		return CKR_GENERAL_ERROR;
	rv = obj_check_shape(tmpl, count);
	if (rv != CKR_OK)
		return rv;
	if ((obj->flags & LS_OBJECT_F_MODIFIABLE) == 0)
		return CKR_ACTION_PROHIBITED;
	rv = obj_clone(src, true, NULL, &o);
	if (rv == CKR_OK)
		rv = apply_changes(o, false, who, tmpl, count);
	if (rv == CKR_OK)
		rv = obj_check_consistency(o, false);
	if (rv != CKR_OK)
		goto out;
	obj_refresh(o);
	*out = o;
	o = NULL;
out:
	ls_object_unref(o);
	return rv;
}

/* ---------------------------------------------------------------------------------------------
 * C_GetAttributeValue, C_GetObjectSize
 * ------------------------------------------------------------------------------------------- */

CK_RV
ls_object_get_attributes(ls_object *obj, const ls_protect_key *key, CK_ATTRIBUTE *tmpl,
                         CK_ULONG count)
{
	bool sensitive = false, invalid = false, small = false;
	CK_RV rv = CKR_OK;

	ls_return_val_if_fail(obj != NULL, CKR_ARGUMENTS_BAD);
	if (count > 0 && tmpl == NULL)
		return CKR_ARGUMENTS_BAD;
	if (obj->pending)
		return CKR_GENERAL_ERROR;
	pthread_mutex_lock(&obj->lock);
	for (CK_ULONG i = 0; i < count; i++) {
		CK_ATTRIBUTE *t = &tmpl[i];
		obj_attr *a = obj_find(obj, t->type);

		if (a == NULL) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			invalid = true;
		} else if ((a->desc->rules & R_SECRET) && obj_hides_secrets(obj)) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			sensitive = true;
		} else if (t->pValue == NULL) {
			t->ulValueLen = a->len;
		} else if (t->ulValueLen < a->len) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			small = true;
		} else {
			rv = obj_open(obj, a, key);
			if (rv != CKR_OK)
				break;
			if (a->len > 0)
				memcpy(t->pValue, a->value, a->len);
			t->ulValueLen = a->len;
		}
	}
	pthread_mutex_unlock(&obj->lock);
	if (rv != CKR_OK)
		return rv;
	if (sensitive)
		return CKR_ATTRIBUTE_SENSITIVE;
	if (invalid)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	return small ? CKR_BUFFER_TOO_SMALL : CKR_OK;
}

CK_RV
ls_object_get_size(const ls_object *obj, CK_ULONG *size)
{
	CK_ULONG n = 0;

	ls_return_val_if_fail(obj != NULL && size != NULL, CKR_ARGUMENTS_BAD);
	/* Lengths never change once the object is shared, sealed or not. */
	for (size_t i = 0; i < obj->n_attrs; i++)
		n += 13 + obj->attrs[i].len; /* as encoded: type, form, length, value */
	*size = n;
	return CKR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Identity and flags
 * ------------------------------------------------------------------------------------------- */

uint32_t
ls_object_flags(const ls_object *obj)
{
	ls_return_val_if_fail(obj != NULL, 0);
	return obj->flags;
}

CK_OBJECT_CLASS
ls_object_class(const ls_object *obj)
{
	ls_return_val_if_fail(obj != NULL, CK_UNAVAILABLE_INFORMATION);
	return obj->cls;
}

CK_KEY_TYPE
ls_object_key_type(const ls_object *obj)
{
	ls_return_val_if_fail(obj != NULL, CK_UNAVAILABLE_INFORMATION);
	return obj->key_type;
}

ls_curve
ls_object_curve(const ls_object *obj)
{
	ls_return_val_if_fail(obj != NULL, 0);
	return obj->curve;
}

ls_gost89_param
ls_object_gost89_param(const ls_object *obj)
{
	ls_return_val_if_fail(obj != NULL, 0);
	return obj->sbox;
}

CK_ULONG
ls_object_value_len(const ls_object *obj)
{
	ls_return_val_if_fail(obj != NULL, 0);
	return obj->want_len;
}

uint64_t
ls_object_store_id(const ls_object *obj)
{
	ls_return_val_if_fail(obj != NULL, 0);
	return obj->store_id;
}

CK_RV
ls_object_set_store_id(ls_object *obj, uint64_t id)
{
	ls_return_val_if_fail(obj != NULL && id != 0, CKR_ARGUMENTS_BAD);
	if (obj->store_id != 0 || (obj->flags & LS_OBJECT_F_TOKEN) == 0)
		return CKR_GENERAL_ERROR;
	obj->store_id = id;
	return obj_store_unique_id(obj);
}

uint64_t
ls_object_owner(const ls_object *obj)
{
	ls_return_val_if_fail(obj != NULL, 0);
	return obj->owner;
}

void
ls_object_set_owner(ls_object *obj, uint64_t app_id)
{
	if (obj != NULL)
		obj->owner = app_id;
}

/* ---------------------------------------------------------------------------------------------
 * Rules checked by the engine
 * ------------------------------------------------------------------------------------------- */

CK_RV
ls_object_check_destroy(const ls_object *obj)
{
	ls_return_val_if_fail(obj != NULL, CKR_ARGUMENTS_BAD);
	return (obj->flags & LS_OBJECT_F_DESTROYABLE) ? CKR_OK : CKR_ACTION_PROHIBITED;
}

static const struct {
	CK_ATTRIBUTE_TYPE usage;
	unsigned classes;
	uint32_t flag;
} usage_map[] = {
	{ CKA_ENCRYPT, CL_PUB | CL_SECRET, LS_OBJECT_F_ENCRYPT },
	{ CKA_DECRYPT, CL_PRIV | CL_SECRET, LS_OBJECT_F_DECRYPT },
	{ CKA_SIGN, CL_PRIV | CL_SECRET, LS_OBJECT_F_SIGN },
	{ CKA_SIGN_RECOVER, CL_PRIV, LS_OBJECT_F_SIGN_RECOVER },
	{ CKA_VERIFY, CL_PUB | CL_SECRET, LS_OBJECT_F_VERIFY },
	{ CKA_VERIFY_RECOVER, CL_PUB, LS_OBJECT_F_VERIFY_RECOVER },
	{ CKA_WRAP, CL_PUB | CL_SECRET, LS_OBJECT_F_WRAP },
	{ CKA_UNWRAP, CL_PRIV | CL_SECRET, LS_OBJECT_F_UNWRAP },
	{ CKA_DERIVE, CL_KEY, LS_OBJECT_F_DERIVE },
};

static bool
mechanism_allowed(const ls_object *obj, CK_MECHANISM_TYPE mech)
{
	const obj_attr *a = obj_find(obj, CKA_ALLOWED_MECHANISMS);
	CK_MECHANISM_TYPE m;

	if (a == NULL || a->len == 0)
		return true;
	for (size_t off = 0; off + sizeof(m) <= a->len; off += sizeof(m)) {
		memcpy(&m, a->value + off, sizeof(m));
		if (m == mech)
			return true;
	}
	return false;
}

CK_RV
ls_object_check_usage(const ls_object *obj, CK_ATTRIBUTE_TYPE usage, CK_MECHANISM_TYPE mech)
{
	ls_return_val_if_fail(obj != NULL, CKR_ARGUMENTS_BAD);
	if (obj->pending)
		return CKR_GENERAL_ERROR;
	if (usage == CKA_VALUE) {
		/* C_DigestKey */
		if (obj->cl != CL_SECRET || obj_hides_secrets(obj))
			return CKR_KEY_INDIGESTIBLE;
		return CKR_OK;
	}
	if ((obj->cl & CL_KEY) == 0)
		return CKR_KEY_TYPE_INCONSISTENT;
	for (size_t i = 0; i < sizeof(usage_map) / sizeof(usage_map[0]); i++) {
		if (usage_map[i].usage != usage)
			continue;
		if ((usage_map[i].classes & obj->cl) == 0)
			return CKR_KEY_TYPE_INCONSISTENT;
		if ((obj->flags & usage_map[i].flag) == 0)
			return CKR_KEY_FUNCTION_NOT_PERMITTED;
		return mechanism_allowed(obj, mech) ? CKR_OK : CKR_MECHANISM_INVALID;
	}
	ls_warning("%s: not a usage attribute: 0x%lx", __func__, (unsigned long)usage);
	return CKR_GENERAL_ERROR;
}

CK_RV
ls_object_check_wrap(const ls_object *key, const ls_object *wrapping)
{
	ls_return_val_if_fail(key != NULL && wrapping != NULL, CKR_ARGUMENTS_BAD);
	if ((key->cl & (CL_PRIV | CL_SECRET)) == 0 || key->pending)
		return CKR_KEY_NOT_WRAPPABLE;
	if ((key->flags & LS_OBJECT_F_EXTRACTABLE) == 0)
		return CKR_KEY_UNEXTRACTABLE;
	if ((key->flags & LS_OBJECT_F_WRAP_WITH_TRUSTED) &&
	    (wrapping->flags & LS_OBJECT_F_TRUSTED) == 0)
		return CKR_KEY_NOT_WRAPPABLE;
	return CKR_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The key view
 * ------------------------------------------------------------------------------------------- */

CK_RV
ls_object_key_init(ls_object *obj, const ls_protect_key *key, ls_object_key *out)
{
	obj_attr *v;
	CK_RV rv;

	ls_return_val_if_fail(out != NULL, CKR_ARGUMENTS_BAD);
	memset(out, 0, sizeof(*out));
	ls_return_val_if_fail(obj != NULL, CKR_ARGUMENTS_BAD);
	if (obj->pending)
		return CKR_GENERAL_ERROR;
	if ((obj->cl & CL_KEY) == 0)
		return CKR_KEY_TYPE_INCONSISTENT;
	pthread_mutex_lock(&obj->lock);
	v = obj_find(obj, CKA_VALUE);
	rv = obj_open(obj, v, key);
	if (rv != CKR_OK)
		goto out;
	if (obj->kf == KF_GOST3410 && obj->gost == NULL) {
		ls_gost_key *built = NULL;

		rv = obj_build_gost(obj, v->value, v->len, &built);
		if (rv == CKR_ATTRIBUTE_VALUE_INVALID) {
			ls_error("object %llu: the stored GOST key does not build",
			         (unsigned long long)obj->store_id);
			rv = CKR_DEVICE_ERROR;
		}
		if (rv == CKR_OK) {
			rv = obj_set_gost(obj, built);
			if (rv != CKR_OK)
				ls_gost_key_free(built);
		}
		if (rv != CKR_OK)
			goto out;
	}
	if (v->len > 0) {
		out->value_copy = malloc(v->len);
		if (out->value_copy == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		memcpy(out->value_copy, v->value, v->len);
		out->value_size = v->len;
	}
	if (obj->gost != NULL) {
		atomic_fetch_add(&obj->gost->refs, 1);
		out->gost_ref = obj->gost;
		out->key.gost = obj->gost->key;
	}
	out->key.cls = obj->cls;
	out->key.key_type = obj->key_type;
	out->key.value = out->value_copy;
	out->key.value_len = out->value_size;
	out->key.curve = obj->curve;
	out->key.sbox = obj->kf == KF_GOST89 ? obj->sbox : 0;
out:
	pthread_mutex_unlock(&obj->lock);
	return rv;
}

void
ls_object_key_clear(ls_object_key *k)
{
	if (k == NULL)
		return;
	if (k->value_copy != NULL) {
		ls_wipe(k->value_copy, k->value_size);
		free(k->value_copy);
	}
	obj_gost_unref(k->gost_ref);
	memset(k, 0, sizeof(*k));
}

void
ls_object_forget_secrets(ls_object *obj)
{
	if (obj == NULL)
		return;
	pthread_mutex_lock(&obj->lock);
	for (size_t i = 0; i < obj->n_attrs; i++) {
		obj_attr *a = &obj->attrs[i];

		if (a->sealed == NULL || !a->plain)
			continue;
		if (a->value != NULL) {
			ls_wipe(a->value, a->len);
			free(a->value);
			a->value = NULL;
		}
		a->plain = false;
	}
	obj_gost_unref(obj->gost);
	obj->gost = NULL;
	pthread_mutex_unlock(&obj->lock);
}

/* ---------------------------------------------------------------------------------------------
 * C_FindObjects
 * ------------------------------------------------------------------------------------------- */

bool
ls_object_match(const ls_object *obj, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	ls_object *o = (ls_object *)obj; /* the lock only */
	bool match = true;

	ls_return_val_if_fail(obj != NULL, false);
	if (obj->pending || (count > 0 && tmpl == NULL))
		return false;
	pthread_mutex_lock(&o->lock);
	for (CK_ULONG i = 0; i < count && match; i++) {
		const CK_ATTRIBUTE *t = &tmpl[i];
		const obj_attr *a = obj_find(obj, t->type);

		if (a == NULL || (t->pValue == NULL && t->ulValueLen != 0))
			match = false;
		else if ((a->desc->rules & R_SECRET) && (obj_hides_secrets(obj) || !a->plain))
			match = false;
		else
			match = a->len == t->ulValueLen &&
			        (a->len == 0 || memcmp(a->value, t->pValue, a->len) == 0);
	}
	pthread_mutex_unlock(&o->lock);
	return match;
}

/* One indexed field of a find template; false when two values for it cannot both match. */
static bool
query_bytes(unsigned *fields, unsigned bit, const CK_ATTRIBUTE *t, size_t max,
            const uint8_t **p, size_t *len)
{
	if (t->ulValueLen > max || (t->pValue == NULL && t->ulValueLen != 0))
		return false;
	if (*fields & bit)
		return *len == t->ulValueLen && (*len == 0 || memcmp(*p, t->pValue, *len) == 0);
	*fields |= bit;
	*p = t->ulValueLen ? t->pValue : NULL;
	*len = t->ulValueLen;
	return true;
}

static bool
query_ulong(unsigned *fields, unsigned bit, const CK_ATTRIBUTE *t, uint64_t *v)
{
	CK_ULONG u;

	if (t->pValue == NULL || t->ulValueLen != sizeof(CK_ULONG))
		return false;
	memcpy(&u, t->pValue, sizeof(u));
	if (*fields & bit)
		return *v == u;
	*fields |= bit;
	*v = u;
	return true;
}

bool
ls_object_find_query(const CK_ATTRIBUTE *tmpl, CK_ULONG count, ls_store_query *q)
{
	ls_return_val_if_fail(q != NULL, false);
	memset(q, 0, sizeof(*q));
	if (count > 0 && tmpl == NULL)
		return false;
	for (CK_ULONG i = 0; i < count; i++) {
		const CK_ATTRIBUTE *t = &tmpl[i];
		bool ok = true;

		switch (t->type) {
		case CKA_CLASS:
			ok = query_ulong(&q->fields, LS_STORE_Q_CLASS, t, &q->cls);
			break;
		case CKA_KEY_TYPE:
			ok = query_ulong(&q->fields, LS_STORE_Q_KEY_TYPE, t, &q->key_type);
			break;
		case CKA_ID:
			ok = query_bytes(&q->fields, LS_STORE_Q_CKA_ID, t, LS_STORE_CKA_ID_MAX,
			                 &q->ck_id, &q->ck_id_len);
			break;
		case CKA_LABEL:
			ok = query_bytes(&q->fields, LS_STORE_Q_LABEL, t, LS_STORE_LABEL_MAX,
			                 &q->label, &q->label_len);
			break;
		default:
			break;
		}
		if (!ok) {
			memset(q, 0, sizeof(*q));
			return false;
		}
	}
	return true;
}
