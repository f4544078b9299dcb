/*
 * LS11CLOUD - ls11cloudd's settings: defaults, the configuration file, the command line.
 *
 * The file (/etc/ls11cloud/ls11cloudd.conf by default, or --config FILE) holds `key = value`
 * lines, optionally under one `[ls11cloudd]` group; `#` and `;` start comments.  Every key of
 * the file is also a long option of the command line (--listen, --state-dir, ...); the command
 * line wins.  docs/server.md lists every key with its default and range.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_SERVER_SETTINGS_H
#define LS11_SERVER_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define LSD_DEFAULT_CONFIG "/etc/ls11cloud/ls11cloudd.conf"
#define LSD_DEFAULT_STATE_DIR "/var/lib/ls11cloud"
#define LSD_DEFAULT_PORT "4444"
#define LSD_MAX_LISTEN 16

typedef enum {
	LSD_REG_CLOSED = 0, /* accounts come only from ls11cloud-admin */
	LSD_REG_OPEN = 1,   /* anyone may register a free nickname */
	LSD_REG_CODE = 2,   /* registration needs the configured code */
} lsd_reg_policy;

typedef enum {
	LSD_LOG_STDERR = 0,
	LSD_LOG_SYSLOG = 1,
} lsd_log_target;

typedef struct {
	char *listen[LSD_MAX_LISTEN]; /* "HOST:PORT", "[V6]:PORT" */
	size_t n_listen;
	char *state_dir;
	lsd_log_target log_target;
	ls_log_level log_level;

	unsigned workers;                /* worker threads; 0 = number of CPUs (at least 2) */
	bool loop_batch;                 /* the event loop thread under SCHED_BATCH (default) */
	size_t max_frame;                /* bytes per frame payload */
	unsigned max_connections;        /* in total */
	unsigned max_conn_per_source;    /* per client IP address */
	unsigned max_conn_per_account;   /* authenticated connections per account */
	unsigned max_handshakes;         /* handshakes in progress at once */
	unsigned max_inflight;           /* requests queued or running per connection */
	unsigned max_sessions;           /* PKCS#11 sessions per application */
	unsigned max_objects;            /* objects per token */
	unsigned max_apps;               /* applications (live or leased) per account */
	unsigned handshake_timeout;      /* seconds a handshake may take */
	unsigned idle_timeout;           /* seconds without a request before a drop; 0 = never */
	unsigned resume_lease;           /* seconds an application outlives its connection */
	unsigned throttle_failures;      /* failed logins per source per window before refusal */
	unsigned throttle_window;        /* seconds */
	unsigned pbkdf2_iterations;      /* token PIN wraps; 0 = the engine's default */
	unsigned max_pin_failures;       /* token PIN lockout */
	lsd_reg_policy registration;
	char *registration_code;         /* for LSD_REG_CODE */
} lsd_config;

/* Fills @cfg with the defaults (no listen address yet: see lsd_config_finish()). */
void lsd_config_init(lsd_config *cfg);
/* Frees what @cfg owns (the code is wiped).  NULL is accepted. */
void lsd_config_clear(lsd_config *cfg);

/*
 * Sets @key (a file key or a long option's name) to @value.  Returns 0, or -1 with a sentence
 * for the user in @err (@err_size bytes) for an unknown key or a value out of its range.
 * "listen" appends an address (up to LSD_MAX_LISTEN).
 */
int lsd_config_set(lsd_config *cfg, const char *key, const char *value, char *err,
                   size_t err_size);

/*
 * Reads the file @path into @cfg.  @must_exist false: a missing file is not an error (the
 * default path).  Returns 0, or -1 with "FILE:LINE: why" in @err.
 */
int lsd_config_load(lsd_config *cfg, const char *path, bool must_exist, char *err,
                    size_t err_size);

/* Forgets the listen addresses (the command line's replace the file's). */
void lsd_config_reset_listen(lsd_config *cfg);

/*
 * Final checks and defaults: no listen address means 0.0.0.0:4444 and [::]:4444; a "code"
 * policy needs a code.  Returns 0 or -1 with @err.
 */
int lsd_config_finish(lsd_config *cfg, char *err, size_t err_size);

/* The names of the keys, NULL-terminated (for --help and docs). */
extern const char *const lsd_config_keys[];

#endif /* LS11_SERVER_SETTINGS_H */
