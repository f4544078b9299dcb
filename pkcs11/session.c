/*
 * LS11CLOUD - libls11cloud.so: the session table, per-session state and the slot caches.
 *
 * Session handles are the module's own: a counter that never repeats within the life of the
 * process, mapped to (slot, server generation, server handle).  The server's handles are per
 * application, so two accounts would otherwise hand out the same numbers, and a new application
 * after a lost lease would reuse the old ones.
 *
 * Object handles are the server's, with the generation of the application that issued them in
 * bits 40 and up (64-bit CK_ULONG; the first generation's handles are the server's own): a
 * handle from an application the server has forgotten is refused instead of naming whatever the
 * new application gave the same number.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "module-private.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---------------------------------------------------------------------------------------------
 * The table: sorted by handle (handles only grow, so an append keeps it sorted)
 * ------------------------------------------------------------------------------------------- */

static pthread_mutex_t sess_lock = PTHREAD_MUTEX_INITIALIZER;
static lsc_session **sess_v;
static size_t sess_n, sess_cap;
static CK_SESSION_HANDLE sess_next = 1;

void
lsc_sessions_init(void)
{
	/* Handles are not reset: an application that finalizes and initializes again must not
	 * see an old handle come back to life. */
}

void
lsc_sessions_forget(void)
{
	sess_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	sess_v = NULL;
	sess_n = sess_cap = 0;
}

void
lsc_op_clear(lsc_op *op)
{
	ls_md_free(op->md);
	if (op->param != NULL) {
		ls_wipe(op->param, op->mechanism.ulParameterLen);
		free(op->param);
	}
	memset(op, 0, sizeof(*op));
}

static void
session_free(lsc_session *s)
{
	for (int k = 0; k < LSC_OP_KINDS; k++)
		lsc_op_clear(&s->ops[k]);
	free(s->found);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void
lsc_sessions_clear(void)
{
	pthread_mutex_lock(&sess_lock);
	for (size_t i = 0; i < sess_n; i++) {
		sess_v[i]->closed = true;
		if (--sess_v[i]->refs == 0)
			session_free(sess_v[i]);
	}
	free(sess_v);
	sess_v = NULL;
	sess_n = sess_cap = 0;
	pthread_mutex_unlock(&sess_lock);
}

CK_RV
lsc_session_add(lsc_session *s)
{
	CK_RV rv = CKR_OK;

	if (pthread_mutex_init(&s->lock, NULL) != 0)
		return CKR_HOST_MEMORY;
	pthread_mutex_lock(&sess_lock);
	if (sess_n == sess_cap) {
		size_t cap = sess_cap ? sess_cap * 2 : 16;
		lsc_session **v = realloc(sess_v, cap * sizeof(*v));

		if (v == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		sess_v = v;
		sess_cap = cap;
	}
	s->handle = sess_next++;
	s->refs = 1;
	sess_v[sess_n++] = s;
out:
	pthread_mutex_unlock(&sess_lock);
	if (rv != CKR_OK)
		pthread_mutex_destroy(&s->lock);
	return rv;
}

/* sess_lock held: the index of @h, or sess_n. */
static size_t
find_index(CK_SESSION_HANDLE h)
{
	size_t lo = 0, hi = sess_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sess_v[mid]->handle < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sess_n && sess_v[lo]->handle == h ? lo : sess_n;
}

CK_RV
lsc_session_get(CK_SESSION_HANDLE h, lsc_session **out)
{
	CK_RV rv = CKR_SESSION_HANDLE_INVALID;
	size_t i;

	pthread_mutex_lock(&sess_lock);
	i = find_index(h);
	if (i < sess_n && !sess_v[i]->closed) {
		sess_v[i]->refs++;
		*out = sess_v[i];
		rv = CKR_OK;
	}
	pthread_mutex_unlock(&sess_lock);
	return rv;
}

void
lsc_session_put(lsc_session *s)
{
	bool last;

	if (s == NULL)
		return;
	pthread_mutex_lock(&sess_lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&sess_lock);
	if (last)
		session_free(s);
}

/* sess_lock held. */
static void
remove_at(size_t i)
{
	lsc_session *s = sess_v[i];

	memmove(sess_v + i, sess_v + i + 1, (sess_n - i - 1) * sizeof(*sess_v));
	sess_n--;
	s->closed = true;
	if (--s->refs == 0)
		session_free(s);
}

void
lsc_session_remove(lsc_session *s)
{
	size_t i;

	pthread_mutex_lock(&sess_lock);
	i = find_index(s->handle);
	if (i < sess_n && sess_v[i] == s)
		remove_at(i);
	pthread_mutex_unlock(&sess_lock);
}

void
lsc_session_remove_slot(lsc_slot *slot, bool all, uint32_t keep_gen)
{
	pthread_mutex_lock(&sess_lock);
	for (size_t i = sess_n; i-- > 0;) {
		if (sess_v[i]->slot == slot && (all || sess_v[i]->gen != keep_gen))
			remove_at(i);
	}
	pthread_mutex_unlock(&sess_lock);
}

unsigned long
lsc_session_count(lsc_slot *slot)
{
	unsigned long n = 0;

	pthread_mutex_lock(&sess_lock);
	for (size_t i = 0; i < sess_n; i++)
		if (sess_v[i]->slot == slot)
			n++;
	pthread_mutex_unlock(&sess_lock);
	return n;
}

/* ---------------------------------------------------------------------------------------------
 * What the module knows without asking
 * ------------------------------------------------------------------------------------------- */

CK_ULONG
lsc_sign_length(CK_MECHANISM_TYPE mech)
{
	switch (mech) {
	case CKM_GOSTR3410:
	case CKM_GOSTR3410_WITH_GOSTR3411:
	case CKM_GOSTR3410_WITH_GOSTR3411_12_256:
		return 64;
	case CKM_GOSTR3410_512:
	case CKM_GOSTR3410_WITH_GOSTR3411_12_512:
		return 128;
	case CKM_GOSTR3411_HMAC:
	case CKM_GOSTR3411_12_256_HMAC:
		return 32;
	case CKM_GOSTR3411_12_512_HMAC:
		return 64;
	default:
		return 0;
	}
}

CK_ULONG
lsc_digest_length(CK_MECHANISM_TYPE mech)
{
	switch (mech) {
	case CKM_GOSTR3411:
	case CKM_GOSTR3411_12_256:
		return 32;
	case CKM_GOSTR3411_12_512:
		return 64;
	default:
		return 0;
	}
}

int
lsc_local_digest(const CK_MECHANISM *mech)
{
	static const uint8_t oid_gost94_cp[] = { 0x06, 0x07, 0x2a, 0x85, 0x03,
		                                 0x02, 0x02, 0x1e, 0x01 };

	switch (mech->mechanism) {
	case CKM_GOSTR3411_12_256:
		return mech->ulParameterLen == 0 ? LS_MD_STREEBOG256 : 0;
	case CKM_GOSTR3411_12_512:
		return mech->ulParameterLen == 0 ? LS_MD_STREEBOG512 : 0;
	case CKM_GOSTR3411:
		if (mech->ulParameterLen == 0)
			return LS_MD_GOST94;
		if (mech->pParameter != NULL && mech->ulParameterLen == sizeof(oid_gost94_cp) &&
		    memcmp(mech->pParameter, oid_gost94_cp, sizeof(oid_gost94_cp)) == 0)
			return LS_MD_GOST94;
		return 0;
	default:
		return 0;
	}
}

/* ---------------------------------------------------------------------------------------------
 * Object handles
 * ------------------------------------------------------------------------------------------- */

#define OBJ_GEN_SHIFT 40

CK_OBJECT_HANDLE
lsc_obj_out(uint32_t gen, CK_ULONG remote)
{
#if ULONG_MAX > 0xFFFFFFFFUL
	if (gen > 1)
		return remote | ((CK_ULONG)(gen - 1) << OBJ_GEN_SHIFT);
#else
	(void)gen;
#endif
	return remote;
}

bool
lsc_obj_in(uint32_t gen, CK_OBJECT_HANDLE local, CK_ULONG *remote)
{
#if ULONG_MAX > 0xFFFFFFFFUL
	CK_ULONG want = gen > 1 ? (CK_ULONG)(gen - 1) : 0;

	if (local == CK_INVALID_HANDLE) {
		*remote = CK_INVALID_HANDLE;
		return true;
	}
	if ((local >> OBJ_GEN_SHIFT) != want)
		return false;
	*remote = local & (((CK_ULONG)1 << OBJ_GEN_SHIFT) - 1);
#else
	(void)gen;
	*remote = local;
#endif
	return true;
}

/* ---------------------------------------------------------------------------------------------
 * The immutable-attribute cache
 * ------------------------------------------------------------------------------------------- */

struct lsc_attr_entry {
	CK_OBJECT_HANDLE obj;
	CK_ATTRIBUTE_TYPE type;
	CK_ULONG len;
	uint8_t *value; /* len bytes (NULL for 0) */
};

/* Attributes no one can change once the object exists (token/object.c: no R_SET). */
static bool
immutable(CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_CLASS:
	case CKA_TOKEN:
	case CKA_PRIVATE:
	case CKA_MODIFIABLE:
	case CKA_DESTROYABLE:
	case CKA_UNIQUE_ID:
	case CKA_CERTIFICATE_TYPE:
	case CKA_KEY_TYPE:
	case CKA_LOCAL:
	case CKA_KEY_GEN_MECHANISM:
	case CKA_GOSTR3410_PARAMS:
	case CKA_VALUE_LEN:
		return true;
	default:
		return false;
	}
}

static lsc_attr_entry *
cache_find(lsc_slot *slot, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < slot->nattrs; i++)
		if (slot->attrs[i].obj == obj && slot->attrs[i].type == type)
			return &slot->attrs[i];
	return NULL;
}

/* Whether the cached CKA_CLASS of @obj is @cls. */
static bool
cached_class_is(lsc_slot *slot, CK_OBJECT_HANDLE obj, CK_OBJECT_CLASS cls)
{
	lsc_attr_entry *e = cache_find(slot, obj, CKA_CLASS);
	CK_OBJECT_CLASS v;

	if (e == NULL || e->len != sizeof(v))
		return false;
	memcpy(&v, e->value, sizeof(v));
	return v == cls;
}

static bool
cacheable(lsc_slot *slot, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	if (immutable(type))
		return true;
	/* The value of a public key or a certificate cannot change either. */
	return type == CKA_VALUE && (cached_class_is(slot, obj, CKO_PUBLIC_KEY) ||
	                             cached_class_is(slot, obj, CKO_CERTIFICATE));
}

bool
lsc_attr_cache_answer(lsc_slot *slot, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	CK_ULONG i;

	if (count == 0)
		return false;
	for (i = 0; i < count; i++) {
		lsc_attr_entry *e = cache_find(slot, obj, tmpl[i].type);

		if (e == NULL || !cacheable(slot, obj, tmpl[i].type))
			return false;
		/* A buffer too small: the server's answer (CKR_BUFFER_TOO_SMALL) is the rule. */
		if (tmpl[i].pValue != NULL && tmpl[i].ulValueLen < e->len)
			return false;
	}
	for (i = 0; i < count; i++) {
		lsc_attr_entry *e = cache_find(slot, obj, tmpl[i].type);

		if (tmpl[i].pValue != NULL && e->len > 0)
			memcpy(tmpl[i].pValue, e->value, e->len);
		tmpl[i].ulValueLen = e->len;
	}
	return true;
}

void
lsc_attr_cache_store(lsc_slot *slot, CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE *tmpl,
                     CK_ULONG count)
{
	/* The class first, so that the value of a public key can follow it in one template. */
	for (int pass = 0; pass < 2; pass++) {
		for (CK_ULONG i = 0; i < count; i++) {
			const CK_ATTRIBUTE *a = &tmpl[i];
			lsc_attr_entry *e, *v;

			if ((pass == 0) != (a->type == CKA_CLASS))
				continue;
			if (a->pValue == NULL || a->ulValueLen == CK_UNAVAILABLE_INFORMATION ||
			    a->ulValueLen > 65536 || !cacheable(slot, obj, a->type) ||
			    cache_find(slot, obj, a->type) != NULL)
				continue;
			if (slot->nattrs >= LSC_ATTR_CACHE_MAX)
				lsc_attr_cache_clear(slot);
			v = realloc(slot->attrs, (slot->nattrs + 1) * sizeof(*v));
			if (v == NULL)
				return;
			slot->attrs = v;
			e = &v[slot->nattrs];
			e->obj = obj;
			e->type = a->type;
			e->len = a->ulValueLen;
			e->value = NULL;
			if (e->len > 0) {
				if ((e->value = malloc(e->len)) == NULL)
					return;
				memcpy(e->value, a->pValue, e->len);
			}
			slot->nattrs++;
		}
	}
}

/* Removes the entries for which @drop(obj) says so. */
static void
cache_filter(lsc_slot *slot, bool (*drop)(lsc_slot *, CK_OBJECT_HANDLE, void *), void *arg)
{
	size_t o = 0;

	/* First decide per object (the decision may read the cache), then compact. */
	bool *gone = calloc(slot->nattrs ? slot->nattrs : 1, sizeof(*gone));

	if (gone == NULL) {
		lsc_attr_cache_clear(slot);
		return;
	}
	for (size_t i = 0; i < slot->nattrs; i++)
		gone[i] = drop(slot, slot->attrs[i].obj, arg);
	for (size_t i = 0; i < slot->nattrs; i++) {
		if (gone[i])
			free(slot->attrs[i].value);
		else
			slot->attrs[o++] = slot->attrs[i];
	}
	slot->nattrs = o;
	free(gone);
}

static bool
drop_one(lsc_slot *slot, CK_OBJECT_HANDLE obj, void *arg)
{
	(void)slot;
	return obj == *(CK_OBJECT_HANDLE *)arg;
}

static bool
bool_attr_is(lsc_slot *slot, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, CK_BBOOL want)
{
	lsc_attr_entry *e = cache_find(slot, obj, type);

	return e != NULL && e->len == sizeof(CK_BBOOL) && *(CK_BBOOL *)e->value == want;
}

static bool
drop_private(lsc_slot *slot, CK_OBJECT_HANDLE obj, void *arg)
{
	(void)arg;
	return !bool_attr_is(slot, obj, CKA_PRIVATE, CK_FALSE);
}

static bool
drop_session_object(lsc_slot *slot, CK_OBJECT_HANDLE obj, void *arg)
{
	(void)arg;
	return !bool_attr_is(slot, obj, CKA_TOKEN, CK_TRUE);
}

void
lsc_attr_cache_forget(lsc_slot *slot, CK_OBJECT_HANDLE obj)
{
	cache_filter(slot, drop_one, &obj);
}

void
lsc_attr_cache_forget_private(lsc_slot *slot)
{
	cache_filter(slot, drop_private, NULL);
}

void
lsc_attr_cache_forget_session_objects(lsc_slot *slot)
{
	cache_filter(slot, drop_session_object, NULL);
}

void
lsc_attr_cache_clear(lsc_slot *slot)
{
	for (size_t i = 0; i < slot->nattrs; i++)
		free(slot->attrs[i].value);
	free(slot->attrs);
	slot->attrs = NULL;
	slot->nattrs = 0;
}
