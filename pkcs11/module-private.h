/*
 * LS11CLOUD - libls11cloud.so: what the units of the module share (not a public interface).
 *
 * module.c     the C_* boundary, library and slot state, slot events, fork handling, the
 *              function lists and the three exported entry points;
 * session.c    the session table (local handles for remote sessions), the per-session state
 *              the module keeps (deferred one-shot operations, local digests, search results)
 *              and the caches of a slot (token info, mechanisms, immutable attributes);
 * conn.c       one account's connection: handshake, pipelining, resumption (conn.h);
 * account.c, secret.c  the configuration and the passwords.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_PKCS11_MODULE_PRIVATE_H
#define LS11_PKCS11_MODULE_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "account.h"
#include "conn.h"
#include "crypto.h"
#include "pkcs11x.h"
#include "rpc.h"

/* Token info is asked again after this long (other applications may change the token). */
#define LSC_TOKEN_INFO_TTL_MS 1000
/* FindObjectsInit asks for this many handles with its reply. */
#define LSC_FIND_BATCH 256
/* Attributes cached per slot, at most (then the cache starts over). */
#define LSC_ATTR_CACHE_MAX 4096

/* The kinds of operation a session may run side by side (one of each). */
typedef enum {
	LSC_OP_ENCRYPT = 0,
	LSC_OP_DECRYPT,
	LSC_OP_DIGEST,
	LSC_OP_SIGN,
	LSC_OP_VERIFY,
	LSC_OP_KINDS,
} lsc_op_kind;

typedef enum {
	LSC_OPS_NONE = 0, /* certainly no operation of this kind */
	LSC_OPS_DEFERRED, /* XInit was checked and kept here; it goes with the first X call */
	LSC_OPS_REMOTE,   /* running on the server (or may be: the server decides) */
	LSC_OPS_LOCAL,    /* a digest computed here */
} lsc_op_state;

typedef struct {
	lsc_op_state state;
	CK_MECHANISM_TYPE mech;  /* of the operation (DEFERRED, REMOTE, LOCAL) */
	CK_MECHANISM mechanism;  /* DEFERRED: a copy; its parameter (raw bytes only) in param */
	uint8_t *param;
	CK_OBJECT_HANDLE key;    /* DEFERRED: the remote key handle */
	ls_md_ctx *md;           /* LOCAL */
	bool updated;            /* an update was made (a single-part call is refused then) */
} lsc_op;

typedef struct lsc_attr_entry lsc_attr_entry;

typedef struct {
	CK_SLOT_ID id;
	lsc_account *acc;
	lsc_conn *conn;

	pthread_mutex_t lock; /* everything below */
	bool event;           /* a slot event not yet reported by C_WaitForSlotEvent */
	bool ti_valid;
	int64_t ti_time;
	uint32_t ti_gen;
	CK_TOKEN_INFO ti;
	bool mech_valid;
	uint32_t mech_gen;
	ls_rpc_mech_entry *mechs;
	CK_ULONG nmechs;
	uint32_t login_gen;   /* the generation login_user belongs to */
	CK_ULONG login_user;  /* CKU_USER, CKU_SO, or LSC_NOBODY */
	unsigned long nsessions;
	lsc_attr_entry *attrs; /* the immutable-attribute cache */
	size_t nattrs;
} lsc_slot;

#define LSC_NOBODY ((CK_ULONG)-1)

typedef struct lsc_session {
	CK_SESSION_HANDLE handle; /* the application's (local) handle */
	lsc_slot *slot;
	CK_SESSION_HANDLE remote;
	uint32_t gen;
	CK_FLAGS flags;

	/* Owned by the table: */
	int refs;
	bool closed;

	/* Held for the whole of a call in the session (PKCS#11 serialises a session anyway). */
	pthread_mutex_t lock;
	lsc_op ops[LSC_OP_KINDS];
	bool find_active;
	bool find_remote;       /* the server still has the search (C_FindObjectsFinal goes there) */
	bool find_more;         /* the server may have more handles */
	CK_OBJECT_HANDLE *found; /* local handles */
	CK_ULONG nfound, found_pos;
} lsc_session;

/* ---------------------------------------------------------------------------------------------
 * session.c
 * ------------------------------------------------------------------------------------------- */

void lsc_sessions_init(void);
/* Frees every session (C_Finalize; no call is running). */
void lsc_sessions_clear(void);
/* Forgets the table without touching it (the child after fork: locks may be held). */
void lsc_sessions_forget(void);

/* Adds a session; its local handle is set in @s.  CKR_HOST_MEMORY. */
CK_RV lsc_session_add(lsc_session *s);
/* Looks @h up and takes a reference: CKR_SESSION_HANDLE_INVALID when unknown or closed. */
CK_RV lsc_session_get(CK_SESSION_HANDLE h, lsc_session **out);
/* Drops a reference (frees the last one). */
void lsc_session_put(lsc_session *s);
/* Removes @s from the table (its handle is invalid from now on). */
void lsc_session_remove(lsc_session *s);
/* Removes every session of @slot (all of them, or those of another generation than @keep_gen). */
void lsc_session_remove_slot(lsc_slot *slot, bool all, uint32_t keep_gen);
/* The sessions of @slot now in the table. */
unsigned long lsc_session_count(lsc_slot *slot);

/* Ends the local state of one operation (frees a digest, a deferred mechanism). */
void lsc_op_clear(lsc_op *op);

/* Known output lengths (0: not known here). */
CK_ULONG lsc_sign_length(CK_MECHANISM_TYPE mech);
CK_ULONG lsc_digest_length(CK_MECHANISM_TYPE mech);
/* The local digest algorithm for @mech, or 0 when the server must compute it. */
int lsc_local_digest(const CK_MECHANISM *mech);

/* Object handles: the application's form of a server handle of generation @gen, and back. */
CK_OBJECT_HANDLE lsc_obj_out(uint32_t gen, CK_ULONG remote);
bool lsc_obj_in(uint32_t gen, CK_OBJECT_HANDLE local, CK_ULONG *remote);

/* The immutable-attribute cache (slot->lock held). */
bool lsc_attr_cache_answer(lsc_slot *slot, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE *tmpl,
                           CK_ULONG count);
void lsc_attr_cache_store(lsc_slot *slot, CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE *tmpl,
                          CK_ULONG count);
/* Forgets one object, the objects that may be private (logout), or all but token objects. */
void lsc_attr_cache_forget(lsc_slot *slot, CK_OBJECT_HANDLE obj);
void lsc_attr_cache_forget_private(lsc_slot *slot);
void lsc_attr_cache_forget_session_objects(lsc_slot *slot);
void lsc_attr_cache_clear(lsc_slot *slot);

#endif /* LS11_PKCS11_MODULE_PRIVATE_H */
