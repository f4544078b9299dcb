/*
 * LS11CLOUD - ls11cloudd's internals: the structures its units share.
 *
 * Threads and ownership (docs/server.md, "Inside"):
 *  - The event loop's thread owns the listeners, the connections' sockets, buffers and queues,
 *    the per-source table and the timers.
 *  - A connection's handshake state belongs to the one handshake job of that connection that
 *    runs on a worker at a time (lsd_conn.busy).  In the channel state, the job that opens
 *    records (the loop thread itself for small records, else one job at a time,
 *    lsd_conn.busy) owns the receiving direction of the channel; the requests it opens then
 *    run concurrently on the workers (lsd_conn.running of them, each with its own buffers, see
 *    lsd_req), and each worker seals and writes its own response under lsd_conn.out_lock (the
 *    sending direction; the loop takes the same lock for the records it sends).  The worker
 *    pool's mutex orders the hand-over both ways.
 *  - srv->reg_lock guards the registry: the runtime accounts (lsd_acct: the open ls_token and
 *    the counts), the applications (lsd_app) with their resume tokens and leases, and the link
 *    between a connection and its application (conn->app, app->conn).
 *  - app->exec orders the requests of one application: ordinary requests hold it shared, the
 *    "barrier" calls (which change the application as a whole) exclusively.  app->lock guards
 *    the record of answers for resumption and the ids being run (app->inprog); a barrier call
 *    holds it for its whole run as well.  Lock order: app->exec, app->lock, then reg_lock;
 *    never the other way.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_SERVER_PRIVATE_H
#define LS11_SERVER_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "account.h"
#include "buffer.h"
#include "channel.h"
#include "clock.h"
#include "settings.h"
#include "frame.h"
#include "handshake.h"
#include "pool.h"
#include "rpc.h"
#include "store.h"
#include "token.h"

struct event_base;
struct event;
struct evbuffer;
struct evconnlistener;
struct bufferevent;

typedef struct lsd_server lsd_server;
typedef struct lsd_conn lsd_conn;
typedef struct lsd_acct lsd_acct;
typedef struct lsd_app lsd_app;
typedef struct lsd_source lsd_source;

/* Bytes of answers an application keeps for resumption, and how many. */
#define LSD_REPLAY_SLOTS 16
#define LSD_REPLAY_BYTES ((size_t)4 << 20)
/* Request ids of executed state-changing requests remembered per application. */
#define LSD_SEEN_IDS 256
/* Unsent output above which a connection stops taking requests until the peer reads. */
#define LSD_OUTPUT_HIGH ((size_t)4 << 20)

/* ---- per client address (loop thread) --------------------------------------------------- */

struct lsd_source {
	lsd_source *next;
	char addr[64];
	unsigned conns;         /* open connections from this address */
	unsigned failures;      /* failed logins in the current window */
	time_t window_start;
	time_t blocked_until;   /* refused until then (throttled) */
};

/* ---- runtime accounts (reg_lock) -------------------------------------------------------- */

struct lsd_acct {
	lsd_acct *next;
	uint64_t id;
	char nickname[LS_STORE_NICK_MAX + 1];
	uint64_t token_id;
	ls_token *token;
	unsigned refs;  /* authenticated connections + applications */
	unsigned conns; /* authenticated connections */
	unsigned apps;  /* applications, live or leased */
	uint32_t state; /* lsd_account_state, as of the last login or change */
	bool deleted;   /* unregistered: its token is gone */
	bool stale;     /* the store no longer gives the account this token (ls11cloud-admin
	                 * wiped it or deleted the account): no application joins it, and its
	                 * applications' requests are refused (CKR_DEVICE_REMOVED) */
};

/* ---- applications (reg_lock, and app->lock where noted) -------------------------------- */

typedef struct {
	uint64_t request_id;
	uint8_t *data; /* the response plaintext */
	size_t len;
} lsd_replay;

struct lsd_app {
	lsd_app *next;
	lsd_server *srv;
	uint64_t serial;          /* for logs */
	lsd_acct *acct;           /* holds a reference */
	unsigned refs;            /* the registry's + one per job using it */
	bool in_registry;
	lsd_conn *conn;           /* the connection it is attached to, or NULL (leased) */
	bool has_resume;
	uint8_t resume[LS_RPC_RESUME_TOKEN_SIZE];
	int64_t lease_until;      /* monotonic ms, when leased */
	int64_t detached_at;      /* monotonic ms of the detach (oldest goes first) */

	pthread_rwlock_t exec;    /* shared: ordinary requests; exclusive: barrier calls */
	pthread_mutex_t lock;     /* guards what follows */
	pthread_cond_t idle;      /* an id left inprog */
	struct lsd_inprog *inprog; /* replayable request ids being run now */
	ls_token_app *tapp;
	lsd_replay replay[LSD_REPLAY_SLOTS];
	unsigned replay_next;
	size_t replay_bytes;
	uint64_t seen[LSD_SEEN_IDS];
	unsigned seen_next, seen_count;
	uint64_t signatures;      /* signing operations since the last audit row */
};

/*
 * Login attempts of one nickname in flight (auth.c).  n, counted and waited are under
 * srv->reg_lock; @begin serialises the begin steps of the nickname, so that what an attempt
 * knows of the others (counted) matches the counters its store transaction reads.
 */
typedef struct lsd_attempt {
	struct lsd_attempt *next;
	pthread_mutex_t begin;
	unsigned n;       /* entered and not ended */
	unsigned counted; /* of those, the ones whose begin decremented the counters */
	unsigned waited;  /* attempts let through uncounted while counted > 0 (this episode) */
	char nickname[LS_STORE_NICK_MAX + 1];
} lsd_attempt;

/*
 * How many attempts of one account may run past an exhausted counter while the attempts that
 * exhausted it are in flight, waiting for their outcome (server/account.h,
 * lsd_account_begin_attempt): room for a user's applications logging in together, not for a
 * guessing burst.  Counted per episode (until no counted attempt is in flight), not at once.
 */
#define LSD_ATTEMPT_OVERLAP_MAX 8

/* ---- connections ------------------------------------------------------------------------ */

typedef struct lsd_frame {
	struct lsd_frame *next;
	uint8_t *data;
	size_t len;
	bool over_limit; /* arrived with max_inflight requests already waiting */
} lsd_frame;

/* A replayable request id being run (lives on the running worker's stack). */
typedef struct lsd_inprog {
	struct lsd_inprog *next;
	uint64_t id;
} lsd_inprog;

/* How a request is ordered against the others of its connection. */
typedef enum {
	LSD_REQ_SESSION = 0, /* after the earlier requests of the same session and barriers */
	LSD_REQ_BARRIER = 1, /* alone: after everything earlier, before everything later */
	LSD_REQ_ANSWERED = 2, /* answered when opened (refused over the in-flight limit) */
} lsd_req_kind;

/* One opened request of the channel (loop thread, except while its job runs). */
typedef struct lsd_req {
	struct lsd_req *next;     /* lsd_conn.reqs, in order of arrival */
	lsd_conn *c;
	ls_buf plain;             /* the request plaintext */
	ls_buf resp;              /* the response plaintext */
	lsd_req_kind kind;
	uint64_t session;         /* LSD_REQ_SESSION: the session handle */
	bool running;             /* its job is queued or running */
	bool close_after;         /* close the connection once it is answered */
	bool sent;                /* its worker sealed and sent (or queued) the response */
	bool cheap;               /* a short computation: others' answers may wait for it */
} lsd_req;

typedef enum {
	LSD_CONN_HANDSHAKE = 0,
	LSD_CONN_CHANNEL = 1,
} lsd_conn_state;

struct lsd_conn {
	lsd_server *srv;
	lsd_conn *prev, *next;    /* srv->conns (loop) */
	uint64_t serial;          /* for logs */

	/* Loop thread. */
	struct bufferevent *bev;
	char addr[64];            /* the client's IP address */
	char peer[80];            /* "addr:port", for logs */
	lsd_source *src;
	ls_frame_decoder *dec;
	ls_buf cur;               /* the frame being received */
	lsd_frame *q_head, *q_tail;
	unsigned n_queued;        /* received, not yet answered (the running one included) */
	bool busy;                /* its handshake or record-opening job is queued or running */
	bool paused;              /* reading stopped (lockstep handshake, backpressure) */
	bool closing;             /* close once the output is sent */
	bool dead;                /* socket gone; freed once no job runs */
	bool in_handshake_count;
	lsd_conn_state state;
	int64_t deadline;         /* monotonic ms: handshake timeout, then idle timeout */

	/* Channel requests (loop thread). */
	lsd_req *reqs, *reqs_tail; /* opened, not yet answered, in order of arrival */
	lsd_req *job_reqs;        /* the ones the running open job produced */
	unsigned job_nframes;     /* frames handed to the running open job */
	unsigned running;         /* request jobs queued or running */
	unsigned running_max;     /* the most at once (tests, logs) */
	bool close_pending;       /* answer what runs, then send a close record and close */
	bool job_close_record;    /* the open job met the client's close record */
	/* Requests executing on workers right now, and the most at once (tests, logs). */
	_Atomic unsigned exec_now, exec_max;

	/* The running job (the handshake step, or opening records: one at a time). */
	ls_handshake *hs;
	ls_channel *ch;
	lsd_frame *job_frame;     /* the frame (handshake) or frames (channel) it works on */
	ls_buf job_out;           /* frames to send */
	bool job_close;           /* close after sending job_out */
	bool job_auth_failed;     /* count a failed login for throttling */
	bool job_hs_success;
	const char *job_audit_failure; /* a failed login of a known account, audited after the
	                                * answer went out (so both kinds of failure take as long) */
	bool known_account;       /* the hello named an existing account */
	uint64_t account_id;
	uint32_t account_state;
	char nickname[LS_STORE_NICK_MAX + 1];
	lsd_acct *acct;           /* after a session handshake (a reference, counted in conns) */
	lsd_app *app;             /* reg_lock */
	const char *refused;      /* over a limit at login: the first request is refused, then close */
	ls_buf plain;             /* an opened record */
	ls_buf resp;              /* a response plaintext */
	uint64_t requests;        /* answered on this connection */
	bool attempt_pending;     /* a login attempt entered in srv->attempts (auth.c) */
	bool attempt_counted;     /* ... and its begin step decremented the counters */

	/*
	 * The sending direction in the channel state (out_lock): whichever thread has a record to
	 * send - the worker that ran a request, or the loop (refusals, the close record) - seals
	 * it and writes it to the socket itself, so the sequence numbers follow the order on the
	 * wire.  What the socket does not take waits in wq, which the loop flushes (wev).
	 */
	pthread_mutex_t out_lock;
	int out_fd;               /* the socket; -1 once it is gone (nothing more is written) */
	bool out_direct;          /* the bufferevent's output (the handshake's) has drained */
	bool out_failed;          /* a write failed: the loop drops the connection */
	bool out_stop;            /* closing: no further record is sealed */
	ls_buf sealed;            /* sealed frames (header and record) not yet written */
	unsigned out_held;        /* answers in sealed, held for one write with the next */
	/* Requests of this connection given to workers whose answers are not sealed yet. */
	_Atomic unsigned out_unsent, out_unsent_slow;
	struct evbuffer *wq;      /* sealed frames waiting for the socket (in order) */
	struct event *wev;        /* the loop's write event for wq */
};

/* ---- the server ------------------------------------------------------------------------- */

struct lsd_server {
	lsd_config *cfg;
	struct event_base *base;
	lsd_pool *pool;
	ls_store *store;
	ls_gost_key *identity;
	uint8_t secret[LS_HANDSHAKE_SECRET_MIN];
	ls_handshake_server_config hs_config;
	ls_token_config token_config;
	ls_sespake_limits limits;

	struct evconnlistener *listeners[LSD_MAX_LISTEN];
	size_t n_listeners;
	struct event *sig_term, *sig_int, *sig_pipe, *tick;
	_Atomic bool stopping; /* set by the loop at SIGTERM, read by workers too */

	/* Loop thread. */
	lsd_conn *conns;
	unsigned n_conns;
	unsigned n_handshakes;
	lsd_source *sources;
	uint64_t next_conn_serial;

	/* reg_lock. */
	pthread_mutex_t reg_lock;
	lsd_acct *accts;
	lsd_app *apps;
	uint64_t next_app_serial;

	/* Unknown-nickname timing: mean cost of a counter write, microseconds. */
	_Atomic int64_t attempt_cost_us;

	/* Login attempts between their counted begin and their end, per nickname (reg_lock). */
	lsd_attempt *attempts;

	/* state.c: the identity key registrations use now (identity_lock): identity.key's stat
	 * when it was loaded, and every key loaded since the start (handshakes may still hold
	 * one; freed at shutdown).  hs_config.identity stays the key of the start. */
	pthread_mutex_t identity_lock;
	bool identity_lock_ready;
	struct stat identity_st;
	const ls_gost_key *identity_now;
	struct lsd_key *identity_loaded;

	/* registry.c: checking open accounts against the store after another process wrote. */
	bool store_check_queued;  /* loop thread */
	bool store_version_known; /* the check job (one at a time) */
	uint64_t store_version;
};


/* state.c: the state directory, the identity key and the server secret. */
int lsd_state_prepare(lsd_server *srv);
/*
 * The identity key for a registration handshake now: identity.key is stat'ed and, when it is
 * another file than the one loaded (ls11cloud-admin server-key rotate), loaded.  Any thread.
 */
const ls_gost_key *lsd_state_identity(lsd_server *srv);
/* Frees the identity keys and what lsd_state_prepare() set up (shutdown). */
void lsd_state_free(lsd_server *srv);

/* source.c: per-address counting and throttling (loop thread). */
lsd_source *lsd_source_get(lsd_server *srv, const char *addr);
/* NULL when the address may connect, else why not (for the log). */
const char *lsd_source_refusal(lsd_server *srv, lsd_source *src);
void lsd_source_failure(lsd_server *srv, lsd_source *src);
void lsd_source_sweep(lsd_server *srv);
void lsd_source_free_all(lsd_server *srv);

/* auth.c: the handshake's callbacks (worker threads). */
void lsd_auth_setup(lsd_server *srv);
/* The login attempt of @c (if one is counted) has ended: succeeded, failed or abandoned.
 * Idempotent; called when a handshake ends and when the connection goes.  Worker. */
void lsd_auth_attempt_end(lsd_conn *c);
/* Shutdown: forgets the attempts still counted. */
void lsd_auth_free_all(lsd_server *srv);

/* registry.c: runtime accounts, applications, leases (any thread unless noted). */
/*
 * After a session handshake: attaches @c to its account (opening the token if needed) and
 * gives it a fresh application.  Sets c->refused when a limit is in the way.  Worker.
 */
int lsd_registry_login(lsd_conn *c);
/* Detaches @c: its application is leased (resume token issued) or freed, its account released.
 * Worker (it may free an application or close a token). */
void lsd_registry_logout(lsd_conn *c);
/* The application of @c with a reference (NULL if it has none any more). */
lsd_app *lsd_app_get(lsd_conn *c);
void lsd_app_put(lsd_server *srv, lsd_app *app);
/* LeaseNew: a fresh resume token for @app. */
int lsd_app_new_resume(lsd_server *srv, lsd_app *app, uint8_t out[LS_RPC_RESUME_TOKEN_SIZE]);
/*
 * LeaseResume: when @token names a leased (or still attached) application of @c's account,
 * @c takes it over (its current application is freed) and *@resumed is set; otherwise @c keeps
 * its own.  Either way @out gets the next resume token of @c's application and *@left_ms the
 * lease.  Called with @cur (c's current app) locked.  Worker.
 */
int lsd_app_resume(lsd_conn *c, lsd_app *cur, const uint8_t token[LS_RPC_RESUME_TOKEN_SIZE],
                   bool *resumed, uint64_t *left_ms, uint8_t out[LS_RPC_RESUME_TOKEN_SIZE]);
/* Frees leases that ran out (loop thread: hands the work to the pool). */
void lsd_registry_sweep(lsd_server *srv);
/*
 * Replaces the account's token by a new one (recreate) / deletes the account (unregister),
 * when @app (locked by the caller) is the account's only application and its connection the
 * only one; CKR_SESSION_EXISTS otherwise.
 */
CK_RV lsd_registry_recreate(lsd_conn *c, lsd_app *app);
CK_RV lsd_registry_unregister(lsd_conn *c, lsd_app *app);
/* Connections of @c's account now. */
unsigned lsd_registry_account_conns(lsd_conn *c);
/* Shutdown: frees every application and account (no job runs any more). */
void lsd_registry_free_all(lsd_server *srv);

/* dispatch.c: one request of the channel.  Worker.  Appends the response plaintext to @resp;
 * sets *@close_after for a request after which the connection ends (unregister, refusal).
 * Requests of one connection may run concurrently (conn.c orders them, lsd_req_classify). */
void lsd_dispatch(lsd_conn *c, ls_buf *plain, ls_buf *resp, bool *close_after);
/* The ordering class of a request plaintext (header peeked, nothing decoded); *@session gets
 * the session handle of a LSD_REQ_SESSION request. */
lsd_req_kind lsd_req_classify(const ls_buf *plain, uint64_t *session);
/* Calls that change the application as a whole: exclusive on app->exec. */
bool lsd_call_is_barrier(const ls_rpc_call *call);

/* conn.c */
void lsd_conn_accept(lsd_server *srv, int fd, const struct sockaddr *sa, int salen);
void lsd_conn_sweep(lsd_server *srv);
void lsd_conn_close_all(lsd_server *srv);

#endif /* LS11_SERVER_PRIVATE_H */
