/*
 * LS11CLOUD - the object layer's private structures, shared by token/object*.c only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TOKEN_OBJECT_PRIVATE_H
#define LS11_TOKEN_OBJECT_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>

#include "object.h"

/* Class bits of the attribute table. */
enum {
	CL_DATA = 1u << 0,
	CL_CERT = 1u << 1,
	CL_PUB = 1u << 2,
	CL_PRIV = 1u << 3,
	CL_SECRET = 1u << 4,
	CL_KEY = CL_PUB | CL_PRIV | CL_SECRET,
	CL_ALL = CL_DATA | CL_CERT | CL_KEY,
};

/* Key type families of the attribute table (0 in a row: every key type of its classes). */
enum {
	KF_GOST3410 = 1u << 0, /* CKK_GOSTR3410, CKK_GOSTR3410_512 */
	KF_GOST89 = 1u << 1,   /* CKK_GOST28147 */
	KF_BLOCK = 1u << 2,    /* CKK_KUZNYECHIK, CKK_MAGMA */
	KF_TWIN = 1u << 3,     /* CKK_KUZNYECHIK_TWIN_KEY, CKK_MAGMA_TWIN_KEY */
	KF_GENERIC = 1u << 4,  /* CKK_GENERIC_SECRET */
};

/* Value types. */
enum {
	T_BOOL = 1, /* CK_BBOOL, CK_TRUE or CK_FALSE */
	T_ULONG,    /* CK_ULONG */
	T_BYTES,    /* a byte string (also RFC 2279 strings) */
	T_DATE,     /* CK_DATE or empty */
	T_OID,      /* a DER OID */
	T_MECHS,    /* an array of CK_MECHANISM_TYPE */
};

/* Rules of an attribute, after the footnotes of the specification's tables. */
enum {
	R_REQ_CREATE = 1u << 0,    /* 1: required by C_CreateObject */
	R_NO_CREATE = 1u << 1,     /* 2: refused by C_CreateObject */
	R_REQ_GEN = 1u << 2,       /* 3: required by C_GenerateKey(Pair) */
	R_NO_GEN = 1u << 3,        /* 4: refused by C_GenerateKey(Pair) and C_DeriveKey */
	R_REQ_UNWRAP = 1u << 4,    /* 5: required by C_UnwrapKey */
	R_NO_UNWRAP = 1u << 5,     /* 6: refused by C_UnwrapKey and C_DeriveKey */
	R_SECRET = 1u << 6,        /* 7: hidden when sensitive or unextractable; sealed at rest */
	R_SET = 1u << 7,           /* 8: C_SetAttributeValue and C_CopyObject may change it */
	R_COPY = 1u << 8,          /* C_CopyObject (only) may change it */
	R_SO_TRUE = 1u << 9,       /* 10: only the SO sets it to CK_TRUE */
	R_STICKY_TRUE = 1u << 10,  /* 11: read-only once CK_TRUE */
	R_STICKY_FALSE = 1u << 11, /* 12: read-only once CK_FALSE */
};

typedef struct {
	CK_ATTRIBUTE_TYPE type;
	uint8_t classes;
	uint8_t families;
	uint8_t kind;
	uint16_t rules;
} attr_desc;

extern const attr_desc attr_table[];
extern const size_t attr_table_len;

/* C_GenerateKeyPair, internally (the public ls_object_op has no value for it). */
#define OBJ_OP_PAIR ((ls_object_op)100)

/*
 * One attribute.  @len is the plaintext length, known also while only the sealed bytes are
 * held.  Only R_SECRET attributes are ever sealed; their value/plain/sealed fields are guarded
 * by the object's lock once it is shared.
 */
typedef struct {
	CK_ATTRIBUTE_TYPE type;
	const attr_desc *desc;
	uint8_t *value; /* plaintext in the native layout; NULL when empty or not opened */
	size_t len;
	bool plain;     /* @value holds the plaintext */
	uint8_t *sealed;
	size_t sealed_len;
} obj_attr;

/* The cached GOST key, shared by the object and the ls_object_key views made from it. */
typedef struct ls_object_gost {
	atomic_uint refs;
	ls_gost_key *key;
} obj_gost;

struct ls_object {
	atomic_uint refs;
	pthread_mutex_t lock; /* the sealed values' plaintext and @gost */

	/* Fixed once shared. */
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE key_type; /* CK_UNAVAILABLE_INFORMATION for non-keys */
	unsigned cl;          /* CL_ bit */
	unsigned kf;          /* KF_ bit, 0 for non-keys */
	uint32_t flags;       /* LS_OBJECT_F_ */
	ls_curve curve;
	ls_gost89_param sbox;
	uint64_t store_id;
	uint64_t owner;
	obj_attr *attrs;
	size_t n_attrs;
	size_t cap_attrs;

	/* Pending keys (ls_object_new_key/_pair until ls_object_complete). */
	ls_object_op pending; /* 0: complete */
	CK_MECHANISM_TYPE mechanism;
	CK_ULONG want_len;
	bool check_given;     /* the template had CKA_CHECK_VALUE */
	bool has_base;
	uint32_t base_flags;

	/*
	 * Objects with secret values (private and secret keys): the sealed digest of all their
	 * other attributes (obj_digest()), so that a stored object whose clear attributes were
	 * changed outside the token (CKA_SENSITIVE flipped in the database) never yields its
	 * secret.  @verified once the record was checked (or made) against the attributes; a
	 * C_SetAttributeValue result carries its source's record and digest in @prev_* until
	 * ls_object_to_store() checks them and seals a new record.  Guarded by @lock.
	 */
	uint8_t *integrity;
	size_t integrity_len;
	bool verified;
	uint8_t *prev_integrity;
	size_t prev_integrity_len;
	uint8_t prev_digest[32];

	obj_gost *gost;
};

/* The sealed-attribute type of the integrity record (not an attribute anyone can name). */
#define OBJ_INTEGRITY_TYPE ((CK_ATTRIBUTE_TYPE)(CKA_VENDOR_DEFINED | 0x4c530001UL))
#define OBJ_DIGEST_SIZE 32

unsigned obj_class_bit(CK_OBJECT_CLASS cls);
CK_RV obj_key_family(unsigned cl, CK_KEY_TYPE kt, unsigned *kf);
const attr_desc *obj_desc(unsigned cl, unsigned kf, CK_ATTRIBUTE_TYPE type);
size_t obj_fixed_secret_len(CK_KEY_TYPE kt);
bool obj_der_oid_ok(const uint8_t *p, size_t n);

ls_object *obj_alloc(CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, unsigned cl, unsigned kf);
void obj_gost_unref(obj_gost *g);
obj_attr *obj_find(const ls_object *o, CK_ATTRIBUTE_TYPE type);
CK_RV obj_put(ls_object *o, const attr_desc *d, const void *v, size_t len);
CK_RV obj_put_bool(ls_object *o, CK_ATTRIBUTE_TYPE type, bool v);
CK_RV obj_put_ulong(ls_object *o, CK_ATTRIBUTE_TYPE type, CK_ULONG v);
bool obj_bool(const ls_object *o, CK_ATTRIBUTE_TYPE type);
CK_ULONG obj_ulong(const ls_object *o, CK_ATTRIBUTE_TYPE type, CK_ULONG def);
CK_RV obj_add_defaults(ls_object *o);
void obj_refresh(ls_object *o);
CK_RV obj_new_unique_id(ls_object *o);
CK_RV obj_store_unique_id(ls_object *o);
bool obj_hides_secrets(const ls_object *o);
CK_RV obj_open(ls_object *o, obj_attr *a, const ls_protect_key *key);
CK_RV obj_clone(ls_object *src, bool keep_sealed, const ls_protect_key *key, ls_object **out);
bool obj_has_secrets(const ls_object *o);
CK_RV obj_digest(const ls_object *o, uint8_t out[OBJ_DIGEST_SIZE]);
CK_RV obj_verify_record(ls_object *o, const uint8_t *record, size_t record_len,
                        const uint8_t digest[OBJ_DIGEST_SIZE], const ls_protect_key *key);

CK_RV obj_check_shape(const CK_ATTRIBUTE *tmpl, CK_ULONG count);
const CK_ATTRIBUTE *obj_tmpl_find(const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                                  CK_ATTRIBUTE_TYPE type);
CK_RV obj_tmpl_ulong(const CK_ATTRIBUTE *a, CK_ULONG *v);
CK_RV obj_check_value(const attr_desc *d, unsigned cl, const CK_ATTRIBUTE *a);
CK_RV obj_apply_initial(ls_object *o, ls_object_op op, ls_object_who who,
                        const CK_ATTRIBUTE *tmpl, CK_ULONG count);
CK_RV obj_check_required(const ls_object *o, ls_object_op op, const CK_ATTRIBUTE *tmpl,
                         CK_ULONG count);
CK_RV obj_check_consistency(ls_object *o, bool with_value);
CK_RV obj_build_gost(const ls_object *o, const uint8_t *value, size_t len, ls_gost_key **out);
CK_RV obj_set_gost(ls_object *o, ls_gost_key *key);

#endif /* LS11_TOKEN_OBJECT_PRIVATE_H */
