/*
 * LS11CLOUD - the object layer of the token engine: the PKCS#11 attribute model and every
 * attribute rule (PKCS#11 v2.40 sections 4.4-4.10 and 5.7, v3.0 CKA_UNIQUE_ID, the TC26 GOST
 * attributes).
 *
 * An ls_object is one PKCS#11 object in memory: its attributes (type -> value bytes), with the
 * class, key type and boolean flags kept decoded for the hot paths.  This layer knows templates,
 * defaults, which attributes exist for which class, which are read-only, modifiable, sensitive,
 * and how an object is encoded into the store (token/store.h) with its secret values sealed
 * (token/protect.h).  It knows nothing of sessions, handles or locks of the engine: the engine
 * decides who may see an object (CKA_PRIVATE vs. login state), whether a session may write a
 * token object, and passes in who is logged in where a rule depends on it (CKA_TRUSTED).
 *
 * Life cycle and sharing.  Objects are reference counted.  ls_object_create() & co. return an
 * object with one reference, owned by the caller; ls_object_ref() adds one, ls_object_unref()
 * drops one and frees (wiping every value) at the last.  An object may be set up (owner, store
 * id) only before it is shared; after that its attributes never change: C_SetAttributeValue is
 * ls_object_set_attributes(), which returns a NEW object with the changes (same store id, same
 * CKA_UNIQUE_ID) that the engine persists and then swaps in for the old one, so an operation
 * that holds the old object goes on with it undisturbed.  What does change inside a shared
 * object (the plaintext of sealed values opened on demand, the cached ls_gost_key) is guarded
 * by the object's own mutex, so every function here may be called from many threads at once on
 * one object.  The engine can thus look an object up under its lock, take a reference, drop the
 * lock and use the object.
 *
 * Sealed values.  The CKA_VALUE of private and secret keys (the only attributes that must not
 * be stored in clear) is sealed with ls_protect_seal() bound to (store id, attribute type) when
 * a token object is encoded for the store.  An object read from the store holds only the sealed
 * bytes; functions that need the plaintext (ls_object_get_attributes() for an extractable,
 * non-sensitive value, ls_object_copy(), ls_object_key_init(), ls_object_match() on the value)
 * take the token's master key (NULL when nobody is logged in) and open the value on demand
 * (the plaintext is then kept in the object until ls_object_forget_secrets()).  A value that
 * is needed while still sealed and no key is given gives CKR_USER_NOT_LOGGED_IN; a sealed value
 * that fails to open (tampered, moved, wrong token) gives CKR_DEVICE_ERROR with a log line,
 * never a wrong value.  Stored objects with secret values also carry a sealed digest of all
 * their clear attributes, checked before their first secret is opened: a CKA_SENSITIVE or
 * CKA_EXTRACTABLE flipped in the database gives CKR_DEVICE_ERROR, not the secret (see
 * object-store.c).  Session objects and not-yet-stored objects hold their values in clear (in
 * memory only, wiped on free).
 *
 * Error currency: CK_RV with the exact codes of PKCS#11 v2.40/3.0.  Template errors:
 *   CKR_ATTRIBUTE_TYPE_INVALID    an attribute that this class/key type does not have, or one
 *                                 this token does not support (CKA_WRAP_TEMPLATE,
 *                                 CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE)
 *   CKR_ATTRIBUTE_VALUE_INVALID   a bad value: wrong length for a CK_BBOOL/CK_ULONG/CK_DATE, an
 *                                 unknown OID, a key value of the wrong length, a value over
 *                                 its cap
 *   CKR_ATTRIBUTE_READ_ONLY       an attribute the caller may not set in this operation
 *   CKR_TEMPLATE_INCOMPLETE       a required attribute is missing
 *   CKR_TEMPLATE_INCONSISTENT     attributes that contradict each other or the operation, the
 *                                 same attribute twice, too many attributes or bytes in total
 *   CKR_ARGUMENTS_BAD             NULL template with a count, NULL pValue with a length
 *   CKR_HOST_MEMORY               out of memory
 * The first error found is returned (the specification does not order them); nothing is
 * created or changed on any error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TOKEN_OBJECT_H
#define LS11_TOKEN_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "mech.h"
#include "pkcs11x.h"
#include "protect.h"
#include "store.h"

/* ---------------------------------------------------------------------------------------------
 * Caps, checked before anything is allocated
 * ------------------------------------------------------------------------------------------- */

/* Attributes in one template (more: CKR_TEMPLATE_INCONSISTENT). */
#define LS_OBJECT_MAX_TEMPLATE 256
/* Bytes of one attribute value (more: CKR_ATTRIBUTE_VALUE_INVALID). */
#define LS_OBJECT_MAX_VALUE (64 * 1024)
/* Bytes of a certificate's CKA_VALUE (more: CKR_ATTRIBUTE_VALUE_INVALID). */
#define LS_OBJECT_MAX_CERT_VALUE (32 * 1024)
/* Bytes of all values of one object (more: CKR_TEMPLATE_INCONSISTENT); under the store's cap. */
#define LS_OBJECT_MAX_TOTAL (256 * 1024)

/* The first byte of the attribute blob this code writes and reads. */
#define LS_OBJECT_BLOB_VERSION 1

typedef struct ls_object ls_object;

/* Who is logged in to the token, for the rules that depend on it (CKA_TRUSTED: SO only). */
typedef enum {
	LS_OBJECT_NOBODY = 0,
	LS_OBJECT_USER = 1,
	LS_OBJECT_SO = 2,
} ls_object_who;

/* Which call a template comes from: decides the defaults, the read-only set, the derived flags. */
typedef enum {
	LS_OBJECT_OP_CREATE = 1, /* C_CreateObject: everything from the template */
	LS_OBJECT_OP_GENERATE,   /* C_GenerateKey: a secret key, value from the mechanism */
	LS_OBJECT_OP_UNWRAP,     /* C_UnwrapKey: value from the wrapped bytes */
	LS_OBJECT_OP_DERIVE,     /* C_DeriveKey: value from the base key */
} ls_object_op;

/* The context of a template (ls_object_create(), ls_object_new_key(), ls_object_copy()). */
typedef struct {
	ls_object_op op;
	ls_object_who who;
	/* C_GenerateKey/C_GenerateKeyPair: the generation mechanism (it implies the key type and
	 * becomes CKA_KEY_GEN_MECHANISM); C_UnwrapKey/C_DeriveKey: the mechanism used (logs). */
	CK_MECHANISM_TYPE mechanism;
	/* C_DeriveKey: the base key, for CKA_ALWAYS_SENSITIVE/CKA_NEVER_EXTRACTABLE; else NULL. */
	const ls_object *base;
	/* C_UnwrapKey/C_DeriveKey: the key type when the template has none, or
	 * CK_UNAVAILABLE_INFORMATION to require CKA_KEY_TYPE (CKR_TEMPLATE_INCOMPLETE). */
	CK_KEY_TYPE default_key_type;
} ls_object_ctx;

/* ---------------------------------------------------------------------------------------------
 * Life cycle
 * ------------------------------------------------------------------------------------------- */

/* Adds a reference; returns @obj.  NULL accepted. */
ls_object *ls_object_ref(ls_object *obj);
/* Drops a reference; the last one wipes every value, frees the cached key and the object. */
void ls_object_unref(ls_object *obj);

/*
 * C_CreateObject: a complete object from @tmpl (every class rule, defaults, value formats,
 * CKA_CHECK_VALUE of secret keys computed and compared if given).  The object is a session
 * object until ls_object_set_store_id(); its CKA_UNIQUE_ID is a fresh random one meanwhile.
 * *@out (one reference) only on success.  @ctx->op must be LS_OBJECT_OP_CREATE.
 */
CK_RV ls_object_create(const ls_object_ctx *ctx, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                       ls_object **out);

/*
 * C_GenerateKey / C_UnwrapKey / C_DeriveKey, phase 1: checks @tmpl for @ctx->op and returns a
 * PENDING key object without a value.  The engine reads what the mechanism needs
 * (ls_object_key_type(), ls_object_value_len(), ls_object_gost89_param()), produces the value,
 * then completes the object with ls_object_complete().  A pending object is only good for
 * those calls and for ls_object_unref().  Class: CKO_SECRET_KEY unless the template says
 * otherwise (unwrap may produce a CKO_PRIVATE_KEY); a class the operation cannot produce gives
 * CKR_TEMPLATE_INCONSISTENT; a key type that contradicts the generation mechanism gives
 * CKR_TEMPLATE_INCONSISTENT; a generation mechanism this layer does not know gives
 * CKR_MECHANISM_INVALID.  CKA_VALUE in the template: CKR_ATTRIBUTE_READ_ONLY.
 */
CK_RV ls_object_new_key(const ls_object_ctx *ctx, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                        ls_object **out);

/*
 * C_GenerateKeyPair, phase 1: two pending objects, public and private, for @mech
 * (CKM_GOSTR3410_KEY_PAIR_GEN or CKM_GOSTR3410_512_KEY_PAIR_GEN).  CKA_GOSTR3410_PARAMS is
 * required in the public template (CKR_TEMPLATE_INCOMPLETE) and copied to the private one when
 * absent there (CKR_TEMPLATE_INCONSISTENT when the private template names another curve);
 * CKA_GOSTR3411_PARAMS likewise, defaulting to Streebog-256/512 by curve size; a curve of the
 * wrong size for @mech gives CKR_TEMPLATE_INCONSISTENT.  The curve for the mechanism is
 * ls_object_curve(*@pub).  Complete both with ls_object_complete().  @ctx->op is ignored;
 * another @ctx->mechanism gives CKR_MECHANISM_INVALID.  Class and key type in the templates,
 * when given, must be the mechanism's (CKR_TEMPLATE_INCONSISTENT).
 */
CK_RV ls_object_new_key_pair(const ls_object_ctx *ctx, const CK_ATTRIBUTE *pub_tmpl,
                             CK_ULONG pub_count, const CK_ATTRIBUTE *priv_tmpl,
                             CK_ULONG priv_count, ls_object **pub, ls_object **priv);

/*
 * Phase 2: gives a pending key its CKA_VALUE (plaintext, copied) and sets what follows from it
 * (CKA_VALUE_LEN and CKA_CHECK_VALUE of secret keys; CKA_LOCAL, CKA_KEY_GEN_MECHANISM,
 * CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE by the operation).  @gost (may be NULL) is the
 * built key of a GOST R 34.10 key, for the cache: *@gost is taken over (set to NULL) on success
 * only; without it the key is built here, which validates the value.
 * CKR_ATTRIBUTE_VALUE_INVALID when the length does not fit the key type or the template's
 * CKA_VALUE_LEN, or a GOST scalar/point is invalid (the object then stays pending, without a
 * value); CKR_GENERAL_ERROR on an object that is not pending.
 */
CK_RV ls_object_complete(ls_object *obj, const uint8_t *value, size_t len, ls_gost_key **gost);

/*
 * C_CopyObject: a new object from @src with @tmpl applied.  CKA_COPYABLE false on @src:
 * CKR_ACTION_PROHIBITED.  The template may change CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE,
 * CKA_DESTROYABLE and what C_SetAttributeValue may change, under the same one-way rules;
 * anything else: CKR_ATTRIBUTE_READ_ONLY unless given with its current value.
 * CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE and CKA_LOCAL are the original's.  @ctx->who
 * is used (CKA_TRUSTED), @ctx->op ignored.  @key opens @src's sealed values (see above).  The
 * copy has no store id and no owner, and a fresh CKA_UNIQUE_ID; a copy with CKA_TOKEN true is
 * then given its store id with ls_object_set_store_id().
 */
CK_RV ls_object_copy(ls_object *src, const ls_object_ctx *ctx, const ls_protect_key *key,
                     const CK_ATTRIBUTE *tmpl, CK_ULONG count, ls_object **out);

/*
 * C_SetAttributeValue: a new object equal to @obj with @tmpl applied, all or nothing (same
 * store id, owner and CKA_UNIQUE_ID; sealed values carried over as they are, so the engine can
 * re-encode it without the master key).  CKA_MODIFIABLE false: CKR_ACTION_PROHIBITED.
 * Read-only attributes (CKA_CLASS, CKA_KEY_TYPE, the curve, CKA_VALUE of keys, CKA_LOCAL,
 * CKA_ALLOWED_MECHANISMS, ...) and the copy-only CKA_TOKEN/CKA_PRIVATE/CKA_MODIFIABLE/
 * CKA_DESTROYABLE: CKR_ATTRIBUTE_READ_ONLY, unless given with their current value (no change;
 * secret values are never compared and always read-only).  One-way flags: CKA_SENSITIVE only
 * FALSE->TRUE, CKA_EXTRACTABLE and CKA_COPYABLE only TRUE->FALSE, CKA_WRAP_WITH_TRUSTED only
 * FALSE->TRUE (else CKR_ATTRIBUTE_READ_ONLY); CKA_TRUSTED changes only for the SO.  The result
 * is checked as a whole (CKR_TEMPLATE_INCONSISTENT, e.g. a Streebog-512 CKA_GOSTR3411_PARAMS on
 * a 256-bit key).  ALWAYS_SENSITIVE/NEVER_EXTRACTABLE never become true later.
 */
CK_RV ls_object_set_attributes(const ls_object *obj, ls_object_who who,
                               const CK_ATTRIBUTE *tmpl, CK_ULONG count, ls_object **out);

/*
 * C_GetAttributeValue with the specification's semantics.  For each attribute:
 *  - unknown to this object: ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_TYPE_INVALID;
 *  - a sensitive value (private/secret key value with CKA_SENSITIVE true or CKA_EXTRACTABLE
 *    false): ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_SENSITIVE;
 *  - pValue NULL: ulValueLen = the length;
 *  - pValue too small: ulValueLen = CK_UNAVAILABLE_INFORMATION, CKR_BUFFER_TOO_SMALL;
 *  - otherwise the value is copied and ulValueLen set.
 * Every attribute is processed; the return value is CKR_OK or one of the three codes, by the
 * precedence CKR_ATTRIBUTE_SENSITIVE > CKR_ATTRIBUTE_TYPE_INVALID > CKR_BUFFER_TOO_SMALL (the
 * specification lets any of them be returned; this is the order of its list of cases).  Other
 * results (CKR_USER_NOT_LOGGED_IN for a sealed value without @key, CKR_DEVICE_ERROR,
 * CKR_ARGUMENTS_BAD) stop the call.
 */
CK_RV ls_object_get_attributes(ls_object *obj, const ls_protect_key *key, CK_ATTRIBUTE *tmpl,
                               CK_ULONG count);

/* C_GetObjectSize: an approximation of the bytes the object takes (its encoded size). */
CK_RV ls_object_get_size(const ls_object *obj, CK_ULONG *size);

/* ---------------------------------------------------------------------------------------------
 * Identity and the flags read often (fixed once the object is shared)
 * ------------------------------------------------------------------------------------------- */

enum {
	LS_OBJECT_F_TOKEN = 1u << 0,
	LS_OBJECT_F_PRIVATE = 1u << 1,
	LS_OBJECT_F_MODIFIABLE = 1u << 2,
	LS_OBJECT_F_COPYABLE = 1u << 3,
	LS_OBJECT_F_DESTROYABLE = 1u << 4,
	LS_OBJECT_F_SENSITIVE = 1u << 5,
	LS_OBJECT_F_EXTRACTABLE = 1u << 6,
	LS_OBJECT_F_ALWAYS_SENSITIVE = 1u << 7,
	LS_OBJECT_F_NEVER_EXTRACTABLE = 1u << 8,
	LS_OBJECT_F_LOCAL = 1u << 9,
	LS_OBJECT_F_TRUSTED = 1u << 10,
	LS_OBJECT_F_WRAP_WITH_TRUSTED = 1u << 11,
	/* The engine must require a CKU_CONTEXT_SPECIFIC login before each use of such a key. */
	LS_OBJECT_F_ALWAYS_AUTHENTICATE = 1u << 12,
	LS_OBJECT_F_ENCRYPT = 1u << 13,
	LS_OBJECT_F_DECRYPT = 1u << 14,
	LS_OBJECT_F_SIGN = 1u << 15,
	LS_OBJECT_F_SIGN_RECOVER = 1u << 16,
	LS_OBJECT_F_VERIFY = 1u << 17,
	LS_OBJECT_F_VERIFY_RECOVER = 1u << 18,
	LS_OBJECT_F_WRAP = 1u << 19,
	LS_OBJECT_F_UNWRAP = 1u << 20,
	LS_OBJECT_F_DERIVE = 1u << 21,
};

/* The LS_OBJECT_F_* bits that are set. */
uint32_t ls_object_flags(const ls_object *obj);
static inline bool ls_object_is_token(const ls_object *obj)
{
	return (ls_object_flags(obj) & LS_OBJECT_F_TOKEN) != 0;
}
static inline bool ls_object_is_private(const ls_object *obj)
{
	return (ls_object_flags(obj) & LS_OBJECT_F_PRIVATE) != 0;
}

CK_OBJECT_CLASS ls_object_class(const ls_object *obj);
/* CKA_KEY_TYPE, or CK_UNAVAILABLE_INFORMATION for an object that is not a key. */
CK_KEY_TYPE ls_object_key_type(const ls_object *obj);
/* GOST R 34.10 keys: the curve of CKA_GOSTR3410_PARAMS; 0 for other objects. */
ls_curve ls_object_curve(const ls_object *obj);
/* GOST 28147-89 keys: the S-box of CKA_GOST28147_PARAMS (CryptoPro-A by default); 0 otherwise. */
ls_gost89_param ls_object_gost89_param(const ls_object *obj);
/* The key length in bytes the template asked for (CKA_VALUE_LEN), 0 when it did not. */
CK_ULONG ls_object_value_len(const ls_object *obj);

/* The store id of a token object, 0 for a session object. */
uint64_t ls_object_store_id(const ls_object *obj);
/*
 * Makes @obj a token object with store id @id (from ls_store_object_id_new()): sets its
 * CKA_UNIQUE_ID from the id.  Only before the object is shared, only for an object whose
 * CKA_TOKEN is true and which has no store id yet (else CKR_GENERAL_ERROR).
 */
CK_RV ls_object_set_store_id(ls_object *obj, uint64_t id);

/* The application that owns a session object (the engine's id; 0 when unset). */
uint64_t ls_object_owner(const ls_object *obj);
/* Sets the owner of a session object; only before the object is shared. */
void ls_object_set_owner(ls_object *obj, uint64_t app_id);

/* ---------------------------------------------------------------------------------------------
 * Rules checked by the engine before it acts
 * ------------------------------------------------------------------------------------------- */

/* C_DestroyObject: CKR_ACTION_PROHIBITED when CKA_DESTROYABLE is false, else CKR_OK. */
CK_RV ls_object_check_destroy(const ls_object *obj);

/*
 * Whether @obj may be used with @mech for @usage (CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN,
 * CKA_SIGN_RECOVER, CKA_VERIFY, CKA_VERIFY_RECOVER, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE, or
 * CKA_VALUE for C_DigestKey):
 *   CKR_KEY_TYPE_INCONSISTENT     not a key, or a class that has no such usage (CKA_SIGN on a
 *                                 public key)
 *   CKR_KEY_FUNCTION_NOT_PERMITTED the usage attribute is false
 *   CKR_MECHANISM_INVALID         CKA_ALLOWED_MECHANISMS is set and does not list @mech
 *   CKR_KEY_INDIGESTIBLE          C_DigestKey (@usage CKA_VALUE) on a key that is not a secret
 *                                 key, or is sensitive or unextractable (a digest of the value
 *                                 would be an oracle on it)
 * The mechanism's own key type rules are the mechanism layer's (ls_op_new()).
 */
CK_RV ls_object_check_usage(const ls_object *obj, CK_ATTRIBUTE_TYPE usage,
                            CK_MECHANISM_TYPE mech);

/*
 * C_WrapKey, on the key to be wrapped: CKR_KEY_UNEXTRACTABLE when its CKA_EXTRACTABLE is false,
 * CKR_KEY_NOT_WRAPPABLE when its CKA_WRAP_WITH_TRUSTED is true and @wrapping's CKA_TRUSTED is
 * not, or when it is not a secret or private key.  (@wrapping's own CKA_WRAP is checked with
 * ls_object_check_usage().)
 */
CK_RV ls_object_check_wrap(const ls_object *key, const ls_object *wrapping);

/* ---------------------------------------------------------------------------------------------
 * Key material for the mechanism layer
 * ------------------------------------------------------------------------------------------- */

/*
 * An ls_mech_key view of a key object that lives on its own: the value is a private copy
 * (wiped by ls_object_key_clear()) and the cached ls_gost_key is held by a reference, so the
 * view stays valid after the object is unreferenced or its secrets forgotten.  Pass &k->key to
 * the mechanism layer; clear after ls_op_free().
 */
typedef struct {
	ls_mech_key key;
	/* private */
	uint8_t *value_copy;
	size_t value_size;
	struct ls_object_gost *gost_ref;
} ls_object_key;

/*
 * Fills @out for @obj (a public, private or secret key): the value (opened with @key when
 * sealed, see above), the curve, the S-box and, for GOST R 34.10 keys, the built ls_gost_key
 * (built once per object and cached: signing does not rebuild it).  CKR_KEY_TYPE_INCONSISTENT
 * for an object that is not a key; CKR_USER_NOT_LOGGED_IN / CKR_DEVICE_ERROR as above.
 * Usage attributes are NOT checked here (ls_object_check_usage()).
 */
CK_RV ls_object_key_init(ls_object *obj, const ls_protect_key *key, ls_object_key *out);
/* Wipes and releases what ls_object_key_init() filled in.  Safe on a zeroed struct. */
void ls_object_key_clear(ls_object_key *k);

/*
 * Forgets the plaintext of values that are also held sealed, and drops the object's reference
 * on its cached ls_gost_key (views keep theirs): for the engine at logout.
 */
void ls_object_forget_secrets(ls_object *obj);

/* ---------------------------------------------------------------------------------------------
 * C_FindObjects
 * ------------------------------------------------------------------------------------------- */

/*
 * True when @obj has every attribute of @tmpl with an equal value.  Sensitive values never
 * match (no oracle); a value still sealed never matches.  An empty template matches all.
 */
bool ls_object_match(const ls_object *obj, const CK_ATTRIBUTE *tmpl, CK_ULONG count);

/*
 * Fills @q with the indexed fields of a find template (CKA_CLASS, CKA_KEY_TYPE, CKA_ID,
 * CKA_LABEL) for ls_store_object_find(); @q borrows @tmpl's memory.  Returns false when the
 * template cannot match any object (an indexed attribute given twice with different values, a
 * CKA_CLASS of the wrong length, a label over the store's limit, ...); the engine then finds
 * nothing without asking the store.  The objects the store returns must still be filtered
 * with ls_object_match().
 */
bool ls_object_find_query(const CK_ATTRIBUTE *tmpl, CK_ULONG count, ls_store_query *q);

/* ---------------------------------------------------------------------------------------------
 * Store encoding
 * ------------------------------------------------------------------------------------------- */

/*
 * Encodes a token object (its store id set) into @out: the indexed fields and the versioned
 * attribute blob, with every secret value and the integrity record sealed under @key.  Seals
 * already made are reused, so objects without secrets (data, certificates, public keys) and
 * unchanged stored keys need no key; a new key object, or one changed by
 * ls_object_set_attributes(), needs @key (else CKR_USER_NOT_LOGGED_IN), and the record of the
 * object it was changed from is checked first (CKR_DEVICE_ERROR if the database had been
 * altered).  @out owns its buffers on success: release with ls_store_object_clear().
 * Not for pending objects or objects without a store id (CKR_GENERAL_ERROR).
 */
CK_RV ls_object_to_store(ls_object *obj, const ls_protect_key *key, ls_store_object *out);

/*
 * Decodes an object read from the store; sealed values stay closed until needed.  A blob that
 * does not parse, has an unknown version, or contradicts the indexed fields gives
 * CKR_DEVICE_ERROR with a log line.  *@out (one reference) only on success.
 */
CK_RV ls_object_from_store(const ls_store_object *sobj, ls_object **out);

#endif /* LS11_TOKEN_OBJECT_H */
