/*
 * LS11CLOUD - ls11cloudd's settings.
 *
 * A small parser of its own rather than GKeyFile: the file is a flat list of keys, and the
 * server then needs no GLib at all.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "channel.h"
#include "crypto.h"
#include "frame.h"

const char *const lsd_config_keys[] = {
	"listen", "state-dir", "log", "log-level", "workers", "max-frame", "max-connections",
	"max-connections-per-source", "max-connections-per-account", "max-handshakes",
	"max-inflight", "max-sessions", "max-objects", "max-applications", "handshake-timeout",
	"idle-timeout", "resume-lease", "throttle-failures", "throttle-window",
	"pbkdf2-iterations", "max-pin-failures", "registration", "registration-code",
	"loop-scheduling", NULL,
};

void
lsd_config_init(lsd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->state_dir = strdup(LSD_DEFAULT_STATE_DIR);
	cfg->log_target = LSD_LOG_STDERR;
	cfg->log_level = LS_LOG_INFO;
	cfg->workers = 0;
	cfg->max_frame = LS_FRAME_DEFAULT_MAX;
	cfg->max_connections = 1024;
	cfg->max_conn_per_source = 64;
	cfg->max_conn_per_account = 16;
	cfg->max_handshakes = 64;
	cfg->max_inflight = 32;
	cfg->max_sessions = 64;
	cfg->max_objects = 10000;
	cfg->max_apps = 32;
	cfg->handshake_timeout = 30;
	cfg->idle_timeout = 3600;
	cfg->resume_lease = 60;
	cfg->throttle_failures = 20;
	cfg->throttle_window = 60;
	cfg->pbkdf2_iterations = 0;
	cfg->max_pin_failures = 10;
	cfg->registration = LSD_REG_CLOSED;
	cfg->loop_batch = true;
}

void
lsd_config_reset_listen(lsd_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_listen; i++) {
		free(cfg->listen[i]);
		cfg->listen[i] = NULL;
	}
	cfg->n_listen = 0;
}

void
lsd_config_clear(lsd_config *cfg)
{
	if (cfg == NULL)
		return;
	lsd_config_reset_listen(cfg);
	free(cfg->state_dir);
	if (cfg->registration_code != NULL) {
		ls_wipe(cfg->registration_code, strlen(cfg->registration_code));
		free(cfg->registration_code);
	}
	memset(cfg, 0, sizeof(*cfg));
}

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return -1;
}

/* A decimal number in [lo, hi]. */
static int
parse_uint(const char *key, const char *value, unsigned long long lo, unsigned long long hi,
           unsigned long long *out, char *err, size_t err_size)
{
	unsigned long long v;
	char *end;

	if (value[0] == '\0' || !isdigit((unsigned char)value[0]))
		return fail(err, err_size, "%s: '%s' is not a number", key, value);
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0')
		return fail(err, err_size, "%s: '%s' is not a number", key, value);
	if (v < lo || v > hi)
		return fail(err, err_size, "%s: %llu is out of range (%llu..%llu)", key, v, lo, hi);
	*out = v;
	return 0;
}

static int
set_string(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

/* "HOST:PORT" or "[V6]:PORT" with a numeric port; the host is resolved at bind time. */
static int
check_listen(const char *value, char *err, size_t err_size)
{
	const char *colon = strrchr(value, ':');
	unsigned long long port;

	if (colon == NULL || colon == value)
		return fail(err, err_size, "listen: '%s' is not HOST:PORT", value);
	if (value[0] == '[' && colon[-1] != ']')
		return fail(err, err_size, "listen: '%s' is not [ADDRESS]:PORT", value);
	return parse_uint("listen port", colon + 1, 0, 65535, &port, err, err_size);
}

typedef struct {
	const char *key;
	size_t offset;
	unsigned long long lo, hi;
	bool is_size;
} uint_key;

#define UK(k, field, lo, hi) { k, offsetof(lsd_config, field), lo, hi, false }

static const uint_key uint_keys[] = {
	UK("workers", workers, 0, 256),
	UK("max-connections", max_connections, 1, 1000000),
	UK("max-connections-per-source", max_conn_per_source, 1, 1000000),
	UK("max-connections-per-account", max_conn_per_account, 1, 100000),
	UK("max-handshakes", max_handshakes, 1, 100000),
	UK("max-inflight", max_inflight, 1, 4096),
	UK("max-sessions", max_sessions, 1, 100000),
	UK("max-objects", max_objects, 1, 10000000),
	UK("max-applications", max_apps, 1, 100000),
	UK("handshake-timeout", handshake_timeout, 1, 3600),
	UK("idle-timeout", idle_timeout, 0, 7 * 86400),
	UK("resume-lease", resume_lease, 0, 86400),
	UK("throttle-failures", throttle_failures, 1, 1000000),
	UK("throttle-window", throttle_window, 1, 86400),
	UK("pbkdf2-iterations", pbkdf2_iterations, 0, 10000000),
	UK("max-pin-failures", max_pin_failures, 1, 1000),
};

int
lsd_config_set(lsd_config *cfg, const char *key, const char *value, char *err, size_t err_size)
{
	unsigned long long v;
	size_t i;

	for (i = 0; i < sizeof(uint_keys) / sizeof(uint_keys[0]); i++) {
		if (strcmp(key, uint_keys[i].key) != 0)
			continue;
		if (parse_uint(key, value, uint_keys[i].lo, uint_keys[i].hi, &v, err, err_size) != 0)
			return -1;
		*(unsigned *)((char *)cfg + uint_keys[i].offset) = (unsigned)v;
		return 0;
	}
	if (strcmp(key, "max-frame") == 0) {
		/* At least one handshake message; at most one record of the channel. */
		if (parse_uint(key, value, 4096, LS_CHANNEL_MAX_RECORD, &v, err, err_size) != 0)
			return -1;
		cfg->max_frame = (size_t)v;
		return 0;
	}
	if (strcmp(key, "listen") == 0) {
		if (check_listen(value, err, err_size) != 0)
			return -1;
		if (cfg->n_listen == LSD_MAX_LISTEN)
			return fail(err, err_size, "listen: at most %d addresses", LSD_MAX_LISTEN);
		if ((cfg->listen[cfg->n_listen] = strdup(value)) == NULL)
			return fail(err, err_size, "out of memory");
		cfg->n_listen++;
		return 0;
	}
	if (strcmp(key, "state-dir") == 0) {
		if (value[0] != '/')
			return fail(err, err_size, "state-dir: '%s' is not an absolute path", value);
		return set_string(&cfg->state_dir, value) == 0 ? 0
		                                                : fail(err, err_size, "out of memory");
	}
	if (strcmp(key, "log") == 0) {
		if (strcmp(value, "stderr") == 0)
			cfg->log_target = LSD_LOG_STDERR;
		else if (strcmp(value, "syslog") == 0)
			cfg->log_target = LSD_LOG_SYSLOG;
		else
			return fail(err, err_size, "log: '%s' is neither stderr nor syslog", value);
		return 0;
	}
	if (strcmp(key, "log-level") == 0) {
		static const char *const names[] = { "error", "warning", "info", "debug" };

		for (i = 0; i < 4; i++) {
			if (strcasecmp(value, names[i]) == 0) {
				cfg->log_level = (ls_log_level)i;
				return 0;
			}
		}
		return fail(err, err_size, "log-level: '%s' is not error, warning, info or debug",
		            value);
	}
	if (strcmp(key, "registration") == 0) {
		if (strcmp(value, "closed") == 0)
			cfg->registration = LSD_REG_CLOSED;
		else if (strcmp(value, "open") == 0)
			cfg->registration = LSD_REG_OPEN;
		else if (strcmp(value, "code") == 0)
			cfg->registration = LSD_REG_CODE;
		else
			return fail(err, err_size, "registration: '%s' is not open, closed or code",
			            value);
		return 0;
	}
	if (strcmp(key, "loop-scheduling") == 0) {
		if (strcmp(value, "batch") == 0)
			cfg->loop_batch = true;
		else if (strcmp(value, "normal") == 0)
			cfg->loop_batch = false;
		else
			return fail(err, err_size, "loop-scheduling: '%s' is neither batch nor normal",
			            value);
		return 0;
	}
	if (strcmp(key, "registration-code") == 0) {
		size_t n = strlen(value);

		if (n == 0 || n > 128)
			return fail(err, err_size, "registration-code: 1..128 characters");
		if (cfg->registration_code != NULL)
			ls_wipe(cfg->registration_code, strlen(cfg->registration_code));
		return set_string(&cfg->registration_code, value) == 0
		               ? 0
		               : fail(err, err_size, "out of memory");
	}
	return fail(err, err_size, "unknown setting '%s'", key);
}

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int
lsd_config_load(lsd_config *cfg, const char *path, bool must_exist, char *err, size_t err_size)
{
	char line[1024], why[512];
	unsigned lineno = 0;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return fail(err, err_size, "%s: %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p, *eq, *key, *value;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			r = fail(err, err_size, "%s:%u: line too long", path, lineno);
			break;
		}
		p = trim(line);
		if (*p == '\0' || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			if (strcmp(p, "[ls11cloudd]") != 0) {
				r = fail(err, err_size, "%s:%u: unknown group %s (only [ls11cloudd])",
				         path, lineno, p);
				break;
			}
			continue;
		}
		eq = strchr(p, '=');
		if (eq == NULL) {
			r = fail(err, err_size, "%s:%u: expected 'key = value'", path, lineno);
			break;
		}
		*eq = '\0';
		key = trim(p);
		value = trim(eq + 1);
		/* "listen" may list several addresses, separated by commas or blanks. */
		if (strcmp(key, "listen") == 0) {
			char *save = NULL, *tok;

			for (tok = strtok_r(value, ", \t", &save); tok != NULL;
			     tok = strtok_r(NULL, ", \t", &save)) {
				if (lsd_config_set(cfg, key, tok, why, sizeof(why)) != 0) {
					r = -1;
					break;
				}
			}
		} else {
			r = lsd_config_set(cfg, key, value, why, sizeof(why));
		}
		if (r != 0) {
			fail(err, err_size, "%s:%u: %s", path, lineno, why);
			break;
		}
	}
	if (r == 0 && ferror(f))
		r = fail(err, err_size, "%s: read error", path);
	ls_wipe(line, sizeof(line));
	fclose(f);
	return r;
}

int
lsd_config_finish(lsd_config *cfg, char *err, size_t err_size)
{
	if (cfg->n_listen == 0) {
		if (lsd_config_set(cfg, "listen", "0.0.0.0:" LSD_DEFAULT_PORT, err, err_size) != 0 ||
		    lsd_config_set(cfg, "listen", "[::]:" LSD_DEFAULT_PORT, err, err_size) != 0)
			return -1;
	}
	if (cfg->state_dir == NULL)
		return fail(err, err_size, "out of memory");
	if (cfg->registration == LSD_REG_CODE && cfg->registration_code == NULL)
		return fail(err, err_size,
		            "registration = code needs registration-code (or use open or closed)");
	return 0;
}
