/*
 * LS11CLOUD - libls11cloud.so: the connection of one account (one slot).
 *
 * One TCP connection per account and process, carrying one PKCS#11 application on the server.
 * Calls from any number of threads are pipelined over it: each request has its own request
 * id, and a thread seals and sends its request itself (under a short send lock).  Then, if no
 * other thread is reading the connection, it reads it itself (leader/follower): it hands every
 * answer of another thread to that thread (woken on its own condition variable) and, once its
 * own answer has come, passes the reading on to the oldest thread still waiting.  A lone caller
 * thus makes its round trip without waking any other thread; threads never queue behind one
 * another's round trips; and the server sees one application with one set of handles and one
 * login state, as a local token would give.
 *
 * The connection's thread connects: fetch the password (lsc_password_get), TCP connect
 * within connect-timeout-ms, the SESPAKE handshake (core/handshake.h), then LeaseNew - or, after
 * a drop, LeaseResume with the resume token, so that the server hands back the sessions,
 * handles and login state of this application.  Requests that were in flight at the drop are
 * sent again with the same request ids; the server answers them from its record and never runs
 * one twice.  Failures retry with an exponential backoff (250 ms doubling to retry-max-ms),
 * except that a password the server rejected is not tried again until it changes (each try
 * would cost one of the account's RFC 8133 attempts).
 *
 * The token is present while the connection works, and after a drop for as long as the server
 * keeps the application (the lease); calls made meanwhile wait for the resumption, each within
 * its own timeout.  When the lease has passed, or a resumption finds the application gone,
 * the token is absent (or present anew with a new generation: every earlier session handle is
 * then invalid) and the requests in flight fail with CKR_DEVICE_REMOVED.
 *
 * Every wait is bounded: connect and handshake by connect-timeout-ms, each call by timeout-ms.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_PKCS11_CONN_H
#define LS11_PKCS11_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "account.h"
#include "pkcs11x.h"
#include "rpc.h"

/* Overrides retry-max-ms: the longest pause between two connection attempts. */
#define LSC_ENV_RETRY_MAX "LS11CLOUD_RETRY_MAX_MS"
#define LSC_DEFAULT_RETRY_MAX_MS 10000
/* The lease assumed when the server names none (it does in LeaseNew). */
#define LSC_DEFAULT_LEASE_MS 60000

typedef struct lsc_conn lsc_conn;

/*
 * Called from the connection's thread, with no lock of the connection held, whenever the token
 * appears or disappears, or reappears as a new application (@generation changed).
 */
typedef void (*lsc_conn_notify_fn)(void *user_data, bool present, uint32_t generation);

/*
 * Starts the connection of @acc (borrowed: it must outlive the connection) and its thread.
 * Returns CKR_OK, CKR_HOST_MEMORY or CKR_NEED_TO_CREATE_THREADS (thread creation failed).
 */
CK_RV lsc_conn_start(const lsc_account *acc, lsc_conn_notify_fn notify, void *user_data,
                     lsc_conn **out);

/*
 * Begins to stop: the thread ends, and every call waiting now or made later returns @rv
 * (CKR_CRYPTOKI_NOT_INITIALIZED at C_Finalize).  Does not block.
 */
void lsc_conn_stop(lsc_conn *c, CK_RV rv);

/*
 * Waits at most @timeout_ms for the thread of a stopped connection to end: true when it has.
 * For the process's exit without C_Finalize (nothing is freed).
 */
bool lsc_conn_join(lsc_conn *c, int timeout_ms);

/* Stops (if not yet), waits for the thread, says goodbye to the server, frees.  NULL is fine. */
void lsc_conn_free(lsc_conn *c);

/*
 * In the child of a fork(): closes the inherited socket without a word to the server (the
 * parent's connection goes on) and forgets the connection; its memory is left as it is, since
 * the parent's threads may have been anywhere in it.
 */
void lsc_conn_forget_after_fork(lsc_conn *c);

/* Whether the token is present now. */
bool lsc_conn_present(lsc_conn *c);

/*
 * Waits (at most connect-timeout-ms) until the first connection attempt has ended, so that an
 * application that asks for the slot list right after C_Initialize sees a server that is up.
 */
void lsc_conn_wait_first(lsc_conn *c);

/* The generation of the server application: it changes when a new application replaces one. */
uint32_t lsc_conn_generation(lsc_conn *c);

/*
 * Waits until the token is present or @timeout_ms passed: true when present.
 */
bool lsc_conn_wait_present(lsc_conn *c, int timeout_ms);

/*
 * One remote call: encodes @call with @args, sends it, waits for the response (at most the
 * account's timeout-ms), and hands the decoded response to *@resp (free with
 * ls_rpc_msg_free()).  Returns CKR_OK when *@resp is set - the call's own CK_RV is then
 * ls_rpc_msg_rv(*@resp) - or the error that kept the call from being answered:
 *  - the encoder's CK_RV (the application's arguments cannot cross the wire);
 *  - CKR_TOKEN_NOT_PRESENT when the token is absent (for @generation 0, a slot-wide call) and
 *    CKR_DEVICE_REMOVED for a call in a session (@generation: the session's);
 *  - CKR_SESSION_HANDLE_INVALID when @generation is not the current one (the session belonged
 *    to an application the server has forgotten);
 *  - CKR_DEVICE_ERROR when no response came in time (logged);
 *  - the stop code after lsc_conn_stop().
 * Counts one round trip for @call.
 */
CK_RV lsc_conn_call(lsc_conn *c, uint16_t call, const ls_rpc_value *args, size_t nargs,
                    uint32_t generation, ls_rpc_msg **resp);

/* ---------------------------------------------------------------------------------------------
 * Counters (LS11CLOUD_STATS=1 prints them at C_Finalize; the vendor interface reads them)
 * ------------------------------------------------------------------------------------------- */

typedef enum {
	LSC_STAT_ROUND_TRIPS = 0, /* calls answered by the server (requests and their responses) */
	LSC_STAT_LOCAL,           /* calls answered by the module without the network */
	LSC_STAT_CONNECTS,        /* successful handshakes */
	LSC_STAT_RESUMES,         /* applications resumed after a drop */
	LSC_STAT_RESENT,          /* requests sent again after a resumption */
	LSC_STAT_DROPS,           /* connections lost */
	LSC_STAT_COUNT,
} lsc_stat;

void lsc_stats_add(lsc_stat which, unsigned long n);
unsigned long lsc_stats_get(lsc_stat which);
/* Round trips of one call id so far. */
unsigned long lsc_stats_call(uint16_t call);
void lsc_stats_reset(void);
/* Prints every non-zero counter to stderr, one line. */
void lsc_stats_print(void);

#endif /* LS11_PKCS11_CONN_H */
