/*
 * LS11CLOUD - libls11cloud.so: account files.
 *
 * A small "key = value" parser in the habit of token/module.c rather than GKeyFile: the module
 * must not need GLib when it is built without libsecret, and the format has no sections.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "account.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"

#define CONF_LINE_MAX 4096
#define CONF_SUFFIX ".conf"

/* ---------------------------------------------------------------------------------------------
 * Where
 * ------------------------------------------------------------------------------------------- */

static char *
home_dir(void)
{
	const char *home = secure_getenv("HOME");
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (home != NULL && home[0] == '/')
		return strdup(home);
	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) != 0 || res == NULL ||
	    pw.pw_dir == NULL || pw.pw_dir[0] != '/')
		return NULL;
	return strdup(pw.pw_dir);
}

char *
lsc_config_dir(void)
{
	const char *env = secure_getenv(LSC_ENV_CONFIG_DIR);
	const char *xdg = secure_getenv("XDG_CONFIG_HOME");
	char *home, *out = NULL;

	if (env != NULL && env[0] != '\0')
		return strdup(env);
	if (xdg != NULL && xdg[0] == '/') {
		if (asprintf(&out, "%s/ls11cloud", xdg) < 0)
			return NULL;
		return out;
	}
	home = home_dir();
	if (home != NULL && asprintf(&out, "%s/.config/ls11cloud", home) < 0)
		out = NULL;
	free(home);
	return out;
}

/* ---------------------------------------------------------------------------------------------
 * One file
 * ------------------------------------------------------------------------------------------- */

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* A decimal number in [lo, hi]: the whole string, no sign, no spaces. */
static bool
parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return false;
	*out = (unsigned long)v;
	return true;
}

/* A host name or address: printable, no spaces, at most 253 characters. */
static bool
valid_host(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (; *s != '\0'; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

/* A nickname as the handshake takes it: 3..64 of ASCII letters, digits, '.', '_', '-', '@'. */
static bool
valid_nickname(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 64)
		return false;
	for (; *s != '\0'; s++)
		if (!isascii((unsigned char)*s) ||
		    !(isalnum((unsigned char)*s) || strchr("._-@", *s) != NULL))
			return false;
	return true;
}

/* A fingerprint: hex digits, optionally grouped with ':'; stored lower-case without ':'. */
static char *
parse_fingerprint(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n + 1);

	if (out == NULL)
		return NULL;
	for (; *s != '\0'; s++) {
		if (*s == ':')
			continue;
		if (!isxdigit((unsigned char)*s)) {
			free(out);
			return NULL;
		}
		out[o++] = (char)tolower((unsigned char)*s);
	}
	out[o] = '\0';
	if (o < 16 || o % 2 != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The directory part of @path ("." when there is none). */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* @value resolved against the account file's directory; "~/" is the home directory. */
static char *
resolve_path(const char *conf_path, const char *value)
{
	char *out = NULL, *base;

	if (value[0] == '/')
		return strdup(value);
	if (value[0] == '~' && value[1] == '/') {
		base = home_dir();
		if (base != NULL && asprintf(&out, "%s/%s", base, value + 2) < 0)
			out = NULL;
		free(base);
		return out;
	}
	base = dir_of(conf_path);
	if (base != NULL && asprintf(&out, "%s/%s", base, value) < 0)
		out = NULL;
	free(base);
	return out;
}

void
lsc_account_free(lsc_account *acc)
{
	if (acc == NULL)
		return;
	free(acc->id);
	free(acc->path);
	free(acc->host);
	free(acc->nickname);
	free(acc->server_key);
	free(acc->label);
	free(acc->pw_file);
	free(acc);
}

static char *
id_of(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base != NULL ? base + 1 : path;
	n = strlen(base);
	if (n > strlen(CONF_SUFFIX) && strcmp(base + n - strlen(CONF_SUFFIX), CONF_SUFFIX) == 0)
		n -= strlen(CONF_SUFFIX);
	return strndup(base, n);
}

/* Applies one "key = value"; false (and a log line) for a bad value. */
static bool
account_set(lsc_account *acc, const char *path, unsigned line, const char *key,
            const char *value, bool *have_number)
{
	unsigned long v;

#define SET_STR(field)                                                                            \
	do {                                                                                      \
		free(acc->field);                                                                 \
		if ((acc->field = strdup(value)) == NULL)                                         \
			return false;                                                             \
	} while (0)

	if (strcmp(key, "number") == 0) {
		if (!parse_ulong(value, 1, LSC_ACCOUNT_NUMBER_MAX, &v)) {
			ls_error("libls11cloud: %s:%u: number must be 1..%lu", path, line,
			         LSC_ACCOUNT_NUMBER_MAX);
			return false;
		}
		acc->number = v;
		*have_number = true;
	} else if (strcmp(key, "host") == 0) {
		if (!valid_host(value)) {
			ls_error("libls11cloud: %s:%u: bad host", path, line);
			return false;
		}
		SET_STR(host);
	} else if (strcmp(key, "port") == 0) {
		if (!parse_ulong(value, 1, 65535, &v)) {
			ls_error("libls11cloud: %s:%u: port must be 1..65535", path, line);
			return false;
		}
		acc->port = (uint16_t)v;
	} else if (strcmp(key, "nickname") == 0) {
		if (!valid_nickname(value)) {
			ls_error("libls11cloud: %s:%u: bad nickname", path, line);
			return false;
		}
		SET_STR(nickname);
	} else if (strcmp(key, "server-key") == 0) {
		free(acc->server_key);
		acc->server_key = NULL;
		if (value[0] != '\0' && (acc->server_key = parse_fingerprint(value)) == NULL) {
			ls_error("libls11cloud: %s:%u: server-key must be a hex fingerprint", path,
			         line);
			return false;
		}
	} else if (strcmp(key, "label") == 0) {
		SET_STR(label);
	} else if (strcmp(key, "password-store") == 0) {
		if (strcmp(value, "keyring") == 0) {
			acc->pw_store = LSC_PW_KEYRING;
		} else if (strcmp(value, "file") == 0) {
			acc->pw_store = LSC_PW_FILE;
		} else {
			ls_error("libls11cloud: %s:%u: password-store must be keyring or file", path,
			         line);
			return false;
		}
	} else if (strcmp(key, "password-file") == 0) {
		char *p = value[0] != '\0' ? resolve_path(path, value) : NULL;

		if (p == NULL) {
			ls_error("libls11cloud: %s:%u: bad password-file", path, line);
			return false;
		}
		free(acc->pw_file);
		acc->pw_file = p;
	} else if (strcmp(key, "timeout-ms") == 0 || strcmp(key, "connect-timeout-ms") == 0) {
		if (!parse_ulong(value, 1, 3600000, &v)) {
			ls_error("libls11cloud: %s:%u: %s must be 1..3600000", path, line, key);
			return false;
		}
		if (key[0] == 't')
			acc->timeout_ms = (int)v;
		else
			acc->connect_timeout_ms = (int)v;
	} else {
		/* A newer tool may write keys this module does not know: not an error. */
		ls_info("libls11cloud: %s:%u: unknown key \"%s\" ignored", path, line, key);
	}
	return true;
#undef SET_STR
}

/* A timeout from the environment, or @def. */
static int
env_timeout(const char *name, int def)
{
	const char *s = secure_getenv(name);
	unsigned long v;

	if (s == NULL || s[0] == '\0')
		return def;
	if (!parse_ulong(s, 1, 3600000, &v)) {
		ls_warning("libls11cloud: %s must be 1..3600000 (milliseconds); ignored", name);
		return def;
	}
	return (int)v;
}

int
lsc_account_load(const char *path, lsc_account **out)
{
	char line[CONF_LINE_MAX];
	lsc_account *acc;
	bool have_number = false, ok = true;
	unsigned n = 0;
	FILE *f;

	*out = NULL;
	if ((acc = calloc(1, sizeof(*acc))) == NULL)
		return LS_ERR_NOMEM;
	acc->port = LSC_DEFAULT_PORT;
	acc->pw_store = LSC_PW_KEYRING;
	acc->timeout_ms = LSC_DEFAULT_TIMEOUT_MS;
	acc->connect_timeout_ms = LSC_DEFAULT_CONNECT_TIMEOUT_MS;
	if ((acc->path = strdup(path)) == NULL || (acc->id = id_of(path)) == NULL) {
		lsc_account_free(acc);
		return LS_ERR_NOMEM;
	}

	if ((f = fopen(path, "re")) == NULL) {
		ls_error("libls11cloud: cannot read the account file %s: %s", path, strerror(errno));
		lsc_account_free(acc);
		return LS_ERR_IO;
	}
	while (ok && fgets(line, sizeof(line), f) != NULL) {
		char *key, *value, *eq;

		n++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			ls_error("libls11cloud: %s:%u: line too long", path, n);
			ok = false;
			break;
		}
		key = trim(line);
		if (key[0] == '\0' || key[0] == '#' || key[0] == ';' || key[0] == '[')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			ls_error("libls11cloud: %s:%u: expected \"key = value\"", path, n);
			ok = false;
			break;
		}
		*eq = '\0';
		value = trim(eq + 1);
		key = trim(key);
		ok = account_set(acc, path, n, key, value, &have_number);
	}
	fclose(f);

	if (ok && !have_number) {
		ls_error("libls11cloud: %s: no \"number\" (the stable slot number)", path);
		ok = false;
	}
	if (ok && (acc->host == NULL || acc->nickname == NULL)) {
		ls_error("libls11cloud: %s: \"host\" and \"nickname\" are required", path);
		ok = false;
	}
	if (ok && acc->pw_store == LSC_PW_FILE && acc->pw_file == NULL) {
		char *def = NULL;

		if (asprintf(&def, "%s.password", acc->id) < 0 ||
		    (acc->pw_file = resolve_path(path, def)) == NULL)
			ok = false;
		free(def);
	}
	if (!ok) {
		lsc_account_free(acc);
		return LS_ERR_MALFORMED;
	}
	acc->timeout_ms = env_timeout(LSC_ENV_TIMEOUT, acc->timeout_ms);
	acc->connect_timeout_ms = env_timeout(LSC_ENV_CONNECT_TIMEOUT, acc->connect_timeout_ms);
	*out = acc;
	return LS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The directory
 * ------------------------------------------------------------------------------------------- */

void
lsc_accounts_free(lsc_account **accs, size_t n)
{
	if (accs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		lsc_account_free(accs[i]);
	free(accs);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_number(const void *a, const void *b)
{
	const lsc_account *x = *(lsc_account *const *)a, *y = *(lsc_account *const *)b;

	return x->number < y->number ? -1 : x->number > y->number;
}

/* At most this many account files are read (a slot list is not a directory listing). */
#define ACCOUNTS_MAX 256

int
lsc_accounts_load(const char *dir, lsc_account ***out, size_t *count)
{
	char *adir = NULL, *names[ACCOUNTS_MAX];
	lsc_account **accs = NULL;
	size_t nnames = 0, n = 0;
	struct dirent *de;
	DIR *d;
	int err = LS_OK;

	*out = NULL;
	*count = 0;
	if (asprintf(&adir, "%s/accounts", dir) < 0)
		return LS_ERR_NOMEM;
	if ((d = opendir(adir)) == NULL) {
		if (errno == ENOENT)
			ls_info("libls11cloud: no accounts (%s does not exist)", adir);
		else
			ls_error("libls11cloud: cannot read %s: %s", adir, strerror(errno));
		free(adir);
		return LS_OK;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= strlen(CONF_SUFFIX) ||
		    strcmp(de->d_name + len - strlen(CONF_SUFFIX), CONF_SUFFIX) != 0)
			continue;
		if (nnames == ACCOUNTS_MAX) {
			ls_warning("libls11cloud: more than %d accounts in %s; the rest ignored",
			           ACCOUNTS_MAX, adir);
			break;
		}
		if ((names[nnames] = strdup(de->d_name)) == NULL) {
			err = LS_ERR_NOMEM;
			break;
		}
		nnames++;
	}
	closedir(d);
	qsort(names, nnames, sizeof(names[0]), cmp_name);

	if (err == LS_OK && nnames > 0 && (accs = calloc(nnames, sizeof(*accs))) == NULL)
		err = LS_ERR_NOMEM;
	for (size_t i = 0; err == LS_OK && i < nnames; i++) {
		char *path = NULL;
		lsc_account *acc = NULL;
		bool dup = false;

		if (asprintf(&path, "%s/%s", adir, names[i]) < 0) {
			err = LS_ERR_NOMEM;
			break;
		}
		if (lsc_account_load(path, &acc) == LS_OK) {
			for (size_t j = 0; j < n; j++) {
				if (accs[j]->number == acc->number) {
					ls_error("libls11cloud: %s: number %lu is already the slot of "
					         "%s; this account is ignored",
					         path, acc->number, accs[j]->path);
					dup = true;
					break;
				}
			}
			if (dup)
				lsc_account_free(acc);
			else
				accs[n++] = acc;
		}
		free(path);
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(adir);
	if (err != LS_OK) {
		lsc_accounts_free(accs, n);
		return err;
	}
	if (n == 0) {
		free(accs);
		return LS_OK;
	}
	qsort(accs, n, sizeof(accs[0]), cmp_number);
	*out = accs;
	*count = n;
	return LS_OK;
}
