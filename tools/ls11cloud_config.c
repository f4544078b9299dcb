/*
 * LS11CLOUD - ls11cloud_config: the user's account tool (docs/ls11cloud_config.md).
 *
 *   ls11cloud_config <command> [-p <password>] [-n <new password>] [options]
 *
 * register, duplicate, change_pswd, status, log, recreate, unregister.  It writes exactly the
 * account files and password stores libls11cloud.so reads: it links the module's own account
 * and password code (pkcs11/account.c, pkcs11/secret.c) to read them back, and writes them in
 * the format docs/client-module.md describes.  Only SESPAKE verifiers leave the machine.
 *
 * Exit status: 0 done, 1 the operation failed, 2 usage error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#ifdef LSC_HAVE_LIBSECRET
#include <libsecret/secret.h>
#endif

#include "account.h"
#include "clock.h"
#include "crypto.h"
#include "errors.h"
#include "handshake.h"
#include "i18n.h"
#include "password.h"
#include "log.h"
#include "rpc.h"
#include "secret.h"
#include "sespake.h"
#include "transport.h"


#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define PW_MAX LS_TOOLS_PASSWORD_MAX
#define CONNECT_TIMEOUT_MS 10000
#define HANDSHAKE_TIMEOUT_MS 20000
#define RPC_TIMEOUT_MS 30000

static const char *prog = "ls11cloud_config";

/* Command-line options. */
static struct {
	const char *password;     /* -p */
	const char *new_password; /* -n */
	const char *fingerprint;  /* --fingerprint */
	const char *code;         /* --code */
	const char *store;        /* --store */
	const char *account;      /* --account */
	bool yes;                 /* -y, --yes */
} opt;

/* ---------------------------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------------------------- */

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The module code's log lines, as our own messages (its prefix dropped). */
static void
log_handler(ls_log_level level, const char *message, void *user_data)
{
	static const char prefix[] = "libls11cloud: ";

	(void)user_data;
	if (level > LS_LOG_WARNING)
		return;
	if (strncmp(message, prefix, sizeof(prefix) - 1) == 0)
		message += sizeof(prefix) - 1;
	msg("%s", message);
}

static void
usage(FILE *f)
{
	fprintf(f, _("LS11CLOUD User Utility\n"));
	fprintf(f, _("usage: %s <command> [-p <password>] [-n <new password>]\n"), prog);
	fprintf(f, _("Commands:\n"));
	fprintf(f, _("register <host> <port> <id> - register new user on the server\n"));
	fprintf(f, _("duplicate <host> <port> <id> - duplicate user account on other computer\n"));
	fprintf(f, _("change_pswd - change SESPAKE authentication password\n"));
	fprintf(f, _("status - display current configuration data\n"));
	fprintf(f, _("log - display server log file\n"));
	fprintf(f, _("recreate - re-create token to initial empty state\n"));
	fprintf(f, _("unregister - remove all user files from the server\n"));
	fprintf(f, _("Options:\n"));
	fprintf(f, _("--fingerprint HEX - the server key fingerprint to pin (register)\n"));
	fprintf(f, _("--code CODE - registration code (register)\n"));
	fprintf(f, _("--store=file|keyring - where to keep the password (register, duplicate)\n"));
	fprintf(f, _("--account ID - the account to use when there are several\n"));
	fprintf(f, _("-y, --yes - do not ask for confirmation (recreate, unregister)\n"));
	fprintf(f, _("NB: Don't use non-latin letters to avoid encoding problems!\n"));
	fprintf(f, _("Copyright (C) 2026 LS11CLOUD developers\n"));
}

/* ---------------------------------------------------------------------------------------------
 * The terminal
 * ------------------------------------------------------------------------------------------- */

/* Reads one line from /dev/tty after @prompt, without echo when @hidden.  NULL: no terminal. */
static char *
tty_read(const char *prompt, bool hidden)
{
	struct termios old, raw;
	char buf[PW_MAX + 2];
	bool restore = false;
	FILE *tty;
	char *out = NULL;

	if ((tty = fopen("/dev/tty", "r+e")) == NULL)
		return NULL;
	/* Echo off before the prompt shows, so that nothing typed after it is flushed. */
	if (hidden && tcgetattr(fileno(tty), &old) == 0) {
		raw = old;
		raw.c_lflag &= ~(tcflag_t)ECHO;
		raw.c_lflag |= ECHONL;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &raw) == 0;
	}
	fputs(prompt, tty);
	fflush(tty);
	if (fgets(buf, sizeof(buf), tty) != NULL) {
		buf[strcspn(buf, "\r\n")] = '\0';
		out = strdup(buf);
	}
	if (restore)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	ls_wipe(buf, sizeof(buf));
	fclose(tty);
	return out;
}

static bool
have_tty(void)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A yes/no question on the terminal; false without one. */
static bool
confirm(const char *question)
{
	char *a = tty_read(question, false);
	bool yes = a != NULL && (strcmp(a, "y") == 0 || strcmp(a, "Y") == 0 ||
	                         strcmp(a, "yes") == 0);

	free(a);
	return yes;
}

static void
pw_free(char *pw)
{
	if (pw != NULL) {
		ls_wipe(pw, strlen(pw));
		free(pw);
	}
}

/* ---------------------------------------------------------------------------------------------
 * Checks
 * ------------------------------------------------------------------------------------------- */

/* Explains why @nick is not a valid nickname; true when it is valid. */
static bool
nickname_ok(const char *nick)
{
	size_t n = strlen(nick);

	if (n < LS_HANDSHAKE_NICKNAME_MIN || n > LS_HANDSHAKE_NICKNAME_MAX) {
		msg(_("invalid nickname \"%s\": it must be 3 to 64 characters long (it has %zu)"), nick,
		    n);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)nick[i];

		if (c >= 0x80 || !(isalnum(c) || strchr("._-@", c) != NULL)) {
			if (c >= 0x80)
				msg(_("invalid nickname \"%s\": character %zu is not Latin (non-ASCII); "
				      "use letters a-z A-Z, digits and . _ - @"),
				    nick, i + 1);
			else
				msg(_("invalid nickname \"%s\": character %zu ('%c') is not allowed; use "
				      "letters a-z A-Z, digits and . _ - @"),
				    nick, i + 1, c);
			return false;
		}
	}
	return ls_handshake_nickname_check(nick) == LS_OK;
}

static bool
parse_port(const char *s, uint16_t *out)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static bool
host_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (; *s != '\0'; s++)
		if (!isgraph((unsigned char)*s) || (unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* Hex (':' and spaces ignored) to a fingerprint; false when it is not one. */
static bool
parse_fingerprint(const char *s, uint8_t out[LS_HANDSHAKE_FINGERPRINT_SIZE])
{
	size_t n = 0;
	int hi = -1;

	for (; *s != '\0'; s++) {
		int v;

		if (*s == ':' || *s == ' ')
			continue;
		if (!isxdigit((unsigned char)*s))
			return false;
		v = isdigit((unsigned char)*s) ? *s - '0' : tolower((unsigned char)*s) - 'a' + 10;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == LS_HANDSHAKE_FINGERPRINT_SIZE)
			return false;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 && n == LS_HANDSHAKE_FINGERPRINT_SIZE;
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---------------------------------------------------------------------------------------------
 * Local configuration
 * ------------------------------------------------------------------------------------------- */

static int
mkdir_p(const char *dir)
{
	char *tmp = strdup(dir);

	if (tmp == NULL)
		return -1;
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
			free(tmp);
			return -1;
		}
		*p = '/';
	}
	free(tmp);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Writes @data to @path atomically with mode 0600. */
static int
write_file(const char *path, const char *data, size_t len)
{
	char *tmp = NULL;
	int fd, err = 0;

	if (asprintf(&tmp, "%s.tmp-%ld", path, (long)getpid()) < 0)
		return ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = errno;
		free(tmp);
		return err;
	}
	if (fchmod(fd, 0600) != 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
		err = errno ? errno : EIO;
	if (close(fd) != 0 && err == 0)
		err = errno;
	if (err == 0 && rename(tmp, path) != 0)
		err = errno;
	if (err != 0)
		unlink(tmp);
	free(tmp);
	return err;
}

static char *
accounts_dir(void)
{
	char *dir = lsc_config_dir(), *out = NULL;

	if (dir == NULL) {
		msg(_("no configuration directory: set LS11CLOUD_CONFIG_DIR or HOME"));
		return NULL;
	}
	if (asprintf(&out, "%s/accounts", dir) < 0)
		out = NULL;
	free(dir);
	return out;
}

/* The account chosen by --account, or the only one.  Returns an exit code. */
static int
choose_account(lsc_account **out)
{
	lsc_account **accs = NULL;
	char *dir = lsc_config_dir();
	size_t n = 0;
	int rc = EXIT_FAIL;

	*out = NULL;
	if (dir == NULL) {
		msg(_("no configuration directory: set LS11CLOUD_CONFIG_DIR or HOME"));
		return EXIT_FAIL;
	}
	if (lsc_accounts_load(dir, &accs, &n) != LS_OK) {
		msg(_("cannot read the accounts in %s"), dir);
		goto out;
	}
	if (n == 0) {
		msg(_("no account is configured in %s/accounts (register or duplicate one first)"),
		    dir);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (opt.account != NULL ? strcmp(accs[i]->id, opt.account) == 0 : n == 1) {
			*out = accs[i];
			accs[i] = NULL;
			rc = EXIT_OK;
			goto out;
		}
	}
	if (opt.account != NULL) {
		msg(_("no account \"%s\" in %s/accounts"), opt.account, dir);
	} else {
		msg(_("there are several accounts; choose one with --account ID:"));
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "  %s (%s@%s:%u)\n", accs[i]->id, accs[i]->nickname,
			        accs[i]->host, (unsigned)accs[i]->port);
		rc = EXIT_USAGE;
	}
out:
	for (size_t i = 0; i < n; i++)
		lsc_account_free(accs[i]);
	free(accs);
	free(dir);
	return rc;
}

/* The next free stable slot number. */
static unsigned long
next_number(void)
{
	lsc_account **accs = NULL;
	char *dir = lsc_config_dir();
	unsigned long max = 0;
	size_t n = 0;

	if (dir != NULL && lsc_accounts_load(dir, &accs, &n) == LS_OK)
		for (size_t i = 0; i < n; i++)
			if (accs[i]->number > max)
				max = accs[i]->number;
	lsc_accounts_free(accs, n);
	free(dir);
	return max + 1;
}

#ifdef LSC_HAVE_LIBSECRET
static const SecretSchema schema = {
	LSC_SECRET_SCHEMA,
	SECRET_SCHEMA_NONE,
	{
		{"host", SECRET_SCHEMA_ATTRIBUTE_STRING},
		{"port", SECRET_SCHEMA_ATTRIBUTE_STRING},
		{"nickname", SECRET_SCHEMA_ATTRIBUTE_STRING},
		{NULL, 0},
	},
	0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};
#endif

/* Whether a Secret Service answers; @why gets the reason when not. */
static bool
keyring_reachable(char *why, size_t len)
{
#ifdef LSC_HAVE_LIBSECRET
	SecretService *s;
	GError *error = NULL;
	const char *bus = getenv("DBUS_SESSION_BUS_ADDRESS");

	if (bus == NULL || bus[0] == '\0') {
		snprintf(why, len, "%s", _("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"));
		return false;
	}
	s = secret_service_open_sync(SECRET_TYPE_SERVICE, NULL, SECRET_SERVICE_OPEN_SESSION, NULL,
	                             &error);
	if (s == NULL) {
		snprintf(why, len, "%s", error != NULL ? error->message : _("unknown error"));
		g_clear_error(&error);
		return false;
	}
	g_object_unref(s);
	return true;
#else
	snprintf(why, len, "%s", _("this program was built without libsecret"));
	return false;
#endif
}

/* Stores @pw for @acc where its password-store says; false (with a message) on failure. */
static bool
password_store(const lsc_account *acc, const char *pw)
{
	if (acc->pw_store == LSC_PW_FILE) {
		size_t n = strlen(pw);
		char *data = malloc(n + 2);
		int err;

		if (data == NULL)
			return false;
		memcpy(data, pw, n);
		data[n] = '\n';
		data[n + 1] = '\0';
		err = write_file(acc->pw_file, data, n + 1);
		ls_wipe(data, n + 2);
		free(data);
		if (err != 0) {
			msg(_("cannot write the password file %s: %s"), acc->pw_file, strerror(err));
			return false;
		}
		return true;
	}
#ifdef LSC_HAVE_LIBSECRET
	{
		GError *error = NULL;
		char port[8], *label = NULL;
		gboolean ok;

		snprintf(port, sizeof(port), "%u", (unsigned)acc->port);
		if (asprintf(&label, "LS11CLOUD %s@%s:%s", acc->nickname, acc->host, port) < 0)
			return false;
		ok = secret_password_store_sync(&schema, SECRET_COLLECTION_DEFAULT, label, pw, NULL,
		                                &error, "host", acc->host, "port", port, "nickname",
		                                acc->nickname, NULL);
		free(label);
		if (!ok) {
			msg(_("cannot store the password in the keyring: %s"),
			    error != NULL ? error->message : _("unknown error"));
			g_clear_error(&error);
			return false;
		}
		return true;
	}
#else
	msg(_("cannot store the password in the keyring: built without libsecret"));
	return false;
#endif
}

static void
password_remove(const lsc_account *acc)
{
	if (acc->pw_store == LSC_PW_FILE) {
		if (unlink(acc->pw_file) != 0 && errno != ENOENT)
			msg(_("cannot remove %s: %s"), acc->pw_file, strerror(errno));
		return;
	}
#ifdef LSC_HAVE_LIBSECRET
	{
		GError *error = NULL;
		char port[8];

		snprintf(port, sizeof(port), "%u", (unsigned)acc->port);
		secret_password_clear_sync(&schema, NULL, &error, "host", acc->host, "port", port,
		                           "nickname", acc->nickname, NULL);
		if (error != NULL) {
			msg(_("cannot remove the password from the keyring: %s"), error->message);
			g_clear_error(&error);
		}
	}
#endif
}

/*
 * A new account in memory for @host, @port, @nick (id = the nickname), with the store chosen
 * by --store.  NULL (with a message) when it cannot be added.
 */
static lsc_account *
account_new(const char *host, uint16_t port, const char *nick)
{
	lsc_account *acc = calloc(1, sizeof(*acc));
	char *adir = accounts_dir();
	struct stat st;

	if (acc == NULL || adir == NULL)
		goto fail;
	acc->port = port;
	acc->number = next_number();
	if ((acc->id = strdup(nick)) == NULL || (acc->host = strdup(host)) == NULL ||
	    (acc->nickname = strdup(nick)) == NULL ||
	    asprintf(&acc->path, "%s/%s.conf", adir, nick) < 0 ||
	    asprintf(&acc->pw_file, "%s/%s.password", adir, nick) < 0)
		goto fail;
	if (stat(acc->path, &st) == 0) {
		msg(_("an account \"%s\" is already configured on this computer (%s)"), nick,
		    acc->path);
		goto fail;
	}
	if (opt.store != NULL && strcmp(opt.store, "file") == 0) {
		acc->pw_store = LSC_PW_FILE;
	} else {
		char why[512];

		acc->pw_store = LSC_PW_KEYRING;
		if (!keyring_reachable(why, sizeof(why))) {
			msg(_("the desktop keyring (Secret Service) cannot be used: %s; keep the password "
			      "in a 0600 file with --store=file"),
			    why);
			goto fail;
		}
	}
	free(adir);
	return acc;
fail:
	free(adir);
	lsc_account_free(acc);
	return NULL;
}

/* Writes @acc's account file (and makes the directory).  False with a message on failure. */
static bool
account_write(const lsc_account *acc)
{
	char *adir = accounts_dir(), *data = NULL;
	int err, n;

	if (adir == NULL)
		return false;
	if (mkdir_p(adir) != 0) {
		msg(_("cannot create %s: %s"), adir, strerror(errno));
		free(adir);
		return false;
	}
	free(adir);
	n = asprintf(&data,
	             "# written by ls11cloud_config\n"
	             "number = %lu\nhost = %s\nport = %u\nnickname = %s\npassword-store = %s\n"
	             "%s%s%s",
	             acc->number, acc->host, (unsigned)acc->port, acc->nickname,
	             acc->pw_store == LSC_PW_FILE ? "file" : "keyring",
	             acc->server_key != NULL ? "server-key = " : "",
	             acc->server_key != NULL ? acc->server_key : "",
	             acc->server_key != NULL ? "\n" : "");
	if (n < 0)
		return false;
	err = write_file(acc->path, data, (size_t)n);
	free(data);
	if (err != 0) {
		msg(_("cannot write %s: %s"), acc->path, strerror(err));
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------------------------------------
 * Passwords from options or the terminal
 * ------------------------------------------------------------------------------------------- */

/* The current password: -p, else the terminal, else (when @acc) the account's store. */
static char *
current_password(const lsc_account *acc, const char *prompt)
{
	char *pw;

	if (opt.password != NULL)
		return strdup(opt.password);
	if (have_tty() && (acc == NULL || prompt != NULL))
		return tty_read(prompt != NULL ? prompt : _("Password: "), true);
	if (acc != NULL) {
		lsc_password p;

		if (lsc_password_get(acc, &p, LS_LOG_ERROR) != LS_OK)
			return NULL;
		pw = strdup(p.data);
		lsc_password_free(&p);
		return pw;
	}
	msg(_("no terminal to ask the password: give it with -p"));
	return NULL;
}

/* A new password: @given (-p or -n), else asked twice; checked for strength. */
static char *
new_password(const char *given, const char *what)
{
	char *a, *b, prompt[128];
	const char *weak;

	if (given != NULL) {
		if ((weak = ls_tools_password_weakness(given, strlen(given))) != NULL) {
			msg(_("the %s is refused: %s"), what, weak);
			return NULL;
		}
		return strdup(given);
	}
	if (!have_tty()) {
		msg(_("no terminal to ask the %s: give it with %s"), what,
		    strcmp(what, _("new password")) == 0 ? "-n" : "-p");
		return NULL;
	}
	for (int tries = 0; tries < 3; tries++) {
		snprintf(prompt, sizeof(prompt), _("Enter the %s: "), what);
		if ((a = tty_read(prompt, true)) == NULL)
			return NULL;
		if ((weak = ls_tools_password_weakness(a, strlen(a))) != NULL) {
			msg(_("the %s is refused: %s"), what, weak);
			pw_free(a);
			continue;
		}
		snprintf(prompt, sizeof(prompt), _("Repeat the %s: "), what);
		if ((b = tty_read(prompt, true)) == NULL) {
			pw_free(a);
			return NULL;
		}
		if (strcmp(a, b) == 0) {
			pw_free(b);
			return a;
		}
		msg(_("the two entries differ; try again"));
		pw_free(a);
		pw_free(b);
	}
	return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The network
 * ------------------------------------------------------------------------------------------- */

/* A TCP connection to @host:@port; -1 with a message naming the server on failure. */
static int
tcp_connect(const char *host, uint16_t port)
{
	struct addrinfo hints, *res = NULL, *ai;
	int64_t deadline = ls_now_ms() + CONNECT_TIMEOUT_MS;
	char sport[8];
	int fd = -1, err = ETIMEDOUT, gai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	snprintf(sport, sizeof(sport), "%u", (unsigned)port);
	gai = getaddrinfo(host, sport, &hints, &res);
	if (gai != 0) {
		msg(_("server unreachable: cannot resolve %s: %s"), host, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t len = sizeof(err);
		int left, n;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		if (err == EINPROGRESS) {
			do {
				left = (int)(deadline - ls_now_ms());
				pfd.fd = fd;
				pfd.events = POLLOUT;
				pfd.revents = 0;
				n = poll(&pfd, 1, left < 0 ? 0 : left);
			} while (n < 0 && errno == EINTR);
			if (n == 0)
				err = ETIMEDOUT;
			else if (n < 0)
				err = errno;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
				err = errno;
			if (err == 0)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		msg(_("server unreachable: %s:%u: %s"), host, (unsigned)port, strerror(err));
	return fd;
}

/* Explains a failed handshake to the user. */
static void
handshake_failed(const ls_handshake *hs, int r, const char *host, uint16_t port,
                 const char *nick)
{
	switch (ls_handshake_get_reason(hs)) {
	case LS_HS_AUTH_FAILED:
	case LS_HS_SERVER_AUTH_FAILED:
		msg(_("password rejected by %s:%u for \"%s\" (wrong password, unknown nickname, or "
		      "account locked)"),
		    host, (unsigned)port, nick);
		break;
	case LS_HS_TRANSPORT:
		msg(_("server unreachable: %s:%u: %s"), host, (unsigned)port, ls_strerror(r));
		break;
	case LS_HS_REGISTRATION_CLOSED:
		msg(_("%s:%u does not accept registrations (registration closed); ask the operator"),
		    host, (unsigned)port);
		break;
	case LS_HS_REGISTRATION_CODE:
		msg(_("%s:%u requires a registration code, or the code given is wrong (--code)"), host,
		    (unsigned)port);
		break;
	case LS_HS_NICKNAME_TAKEN:
		msg(_("the nickname \"%s\" is taken on %s:%u; choose another"), nick, host,
		    (unsigned)port);
		break;
	case LS_HS_SERVER_KEY_MISMATCH:
	case LS_HS_SERVER_KEY_REFUSED:
		msg(_("the server key of %s:%u was not accepted; nothing was sent"), host,
		    (unsigned)port);
		break;
	case LS_HS_PURPOSE_UNSUPPORTED:
		msg(_("%s:%u offers no registration"), host, (unsigned)port);
		break;
	default:
		msg(_("handshake with %s:%u failed: %s (%s)"), host, (unsigned)port,
		    ls_handshake_reason_string(ls_handshake_get_reason(hs)), ls_strerror(r));
		break;
	}
}

typedef struct {
	ls_transport *t;
	ls_channel *ch;
	uint64_t next_id;
	const char *host;
	uint16_t port;
} session;

static void
session_close(session *s)
{
	if (s->ch != NULL && s->t != NULL)
		ls_channel_send_close(s->ch, s->t, 1000);
	ls_channel_free(s->ch);
	ls_transport_free(s->t);
	memset(s, 0, sizeof(*s));
}

/* A SESSION handshake for @nick with @pw; false with a message on failure. */
static bool
session_open(session *s, const char *host, uint16_t port, const char *nick, const char *pw)
{
	ls_handshake_client_params params;
	ls_handshake *hs = NULL;
	int fd, r;

	memset(s, 0, sizeof(*s));
	s->host = host;
	s->port = port;
	s->next_id = 1;
	if ((fd = tcp_connect(host, port)) < 0)
		return false;
	if ((r = ls_transport_socket_new(fd, 0, &s->t)) != LS_OK) {
		close(fd);
		msg(_("cannot use the connection: %s"), ls_strerror(r));
		return false;
	}
	memset(&params, 0, sizeof(params));
	params.purpose = LS_HANDSHAKE_SESSION;
	params.nickname = nick;
	params.password = pw;
	params.password_len = strlen(pw);
	if ((r = ls_handshake_client_new(&params, &hs)) != LS_OK) {
		msg(_("cannot start the handshake: %s"), ls_strerror(r));
		session_close(s);
		return false;
	}
	r = ls_handshake_client_run(hs, s->t, HANDSHAKE_TIMEOUT_MS);
	if (r == LS_OK)
		r = ls_handshake_take_channel(hs, &s->ch);
	if (r != LS_OK) {
		handshake_failed(hs, r, host, port, nick);
		ls_handshake_free(hs);
		session_close(s);
		return false;
	}
	ls_handshake_free(hs);
	return true;
}

/* One request and its answer; *@rv gets the CK_RV.  False (message) on a protocol failure. */
static bool
session_call(session *s, uint16_t call, const ls_rpc_value *args, size_t nargs, CK_RV *rv,
             ls_rpc_msg **resp)
{
	ls_buf out, in;
	uint64_t id = s->next_id++;
	bool ok = false;
	int r;

	*resp = NULL;
	ls_buf_init(&out, LS_RPC_MAX_MESSAGE);
	ls_buf_init(&in, LS_CHANNEL_MAX_PLAINTEXT);
	*rv = ls_rpc_request_encode(&out, call, id, args, nargs);
	if (*rv != CKR_OK) {
		msg(_("%s: cannot encode the request (CK_RV 0x%lx)"), ls_rpc_call_name(call),
		    (unsigned long)*rv);
		goto out;
	}
	r = ls_channel_send(s->ch, s->t, ls_buf_data(&out), ls_buf_len(&out), RPC_TIMEOUT_MS);
	if (r == LS_OK)
		r = ls_channel_recv(s->ch, s->t, &in, RPC_TIMEOUT_MS);
	if (r == LS_OK)
		r = ls_rpc_response_decode(&in, call, resp);
	if (r == LS_OK && ls_rpc_msg_request_id(*resp) != id)
		r = LS_ERR_MALFORMED;
	if (r != LS_OK) {
		msg(_("%s:%u: %s failed: %s"), s->host, (unsigned)s->port, ls_rpc_call_name(call),
		    ls_strerror(r));
		ls_rpc_msg_free(*resp);
		*resp = NULL;
		goto out;
	}
	*rv = ls_rpc_msg_rv(*resp);
	ok = true;
out:
	ls_buf_clear(&out);
	ls_buf_clear(&in);
	return ok;
}

static const char *
rv_text(CK_RV rv)
{
	switch (rv) {
	case CKR_PIN_EXPIRED:
		return _("the account's password must be changed first (ls11cloud_config change_pswd)");
	case CKR_SESSION_EXISTS:
		return _("other connections or applications of this account are open (close the "
		         "programs that use the token and try again)");
	case CKR_DEVICE_MEMORY:
		return _("the server refused: a limit was reached");
	case CKR_FUNCTION_NOT_SUPPORTED:
		return _("the server does not support this operation");
	default:
		return _("the server refused the request");
	}
}

/* AccountStatus; false with a message on failure.  *@resp holds the status. */
static bool
get_status(session *s, ls_rpc_msg **resp, const ls_rpc_account_status **st)
{
	const ls_rpc_value *v;
	CK_RV rv;

	if (!session_call(s, LS_RPC_AccountStatus, NULL, 0, &rv, resp))
		return false;
	if (rv != CKR_OK || (v = ls_rpc_msg_arg(*resp, 0, 'Z')) == NULL) {
		msg(_("account status: %s (CK_RV 0x%lx)"), rv_text(rv), (unsigned long)rv);
		ls_rpc_msg_free(*resp);
		*resp = NULL;
		return false;
	}
	*st = v->status;
	return true;
}

/* AccountChangePassword to @pw; false with a message on failure. */
static bool
change_password(session *s, const char *pw)
{
	ls_sespake_verifier v;
	ls_rpc_value arg;
	ls_rpc_msg *resp = NULL;
	CK_RV rv;
	bool ok;
	int r;

	r = ls_sespake_verifier_make(LS_HANDSHAKE_DEFAULT_CURVE, LS_HANDSHAKE_DEFAULT_IND, NULL,
	                             LS_HANDSHAKE_SALT_SIZE, pw, strlen(pw), &v);
	if (r != LS_OK) {
		msg(_("cannot compute the password verifier: %s"), ls_strerror(r));
		return false;
	}
	arg = LS_RPC_VERIFIER(&v);
	ok = session_call(s, LS_RPC_AccountChangePassword, &arg, 1, &rv, &resp);
	ls_wipe(&v, sizeof(v));
	ls_rpc_msg_free(resp);
	if (ok && rv != CKR_OK) {
		msg(_("the password change was refused: %s (CK_RV 0x%lx)"), rv_text(rv),
		    (unsigned long)rv);
		ok = false;
	}
	return ok;
}

/* ---------------------------------------------------------------------------------------------
 * Commands
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	const uint8_t *pinned;
	bool asked;
} trust_ctx;

static bool
trust_key(void *user_data, ls_curve curve, const uint8_t fp[LS_HANDSHAKE_FINGERPRINT_SIZE],
          const uint8_t *pinned)
{
	trust_ctx *t = user_data;
	char shown[2 * LS_HANDSHAKE_FINGERPRINT_SIZE + 1], want[2 * LS_HANDSHAKE_FINGERPRINT_SIZE + 1];

	(void)curve;
	hex(fp, LS_HANDSHAKE_FINGERPRINT_SIZE, shown);
	if (pinned != NULL) {
		if (memcmp(pinned, fp, LS_HANDSHAKE_FINGERPRINT_SIZE) == 0)
			return true;
		hex(pinned, LS_HANDSHAKE_FINGERPRINT_SIZE, want);
		msg(_("the server's key fingerprint does not match the one given with --fingerprint:"));
		fprintf(stderr, _("  server:   %s\n  expected: %s\n"), shown, want);
		return false;
	}
	t->asked = true;
	fprintf(stderr, _("The server's identity key fingerprint is\n  %s\n"), shown);
	if (!have_tty()) {
		msg(_("no terminal to confirm the server key: compare the fingerprint with the one the "
		      "operator published (ls11cloud-admin fingerprint) and give it with "
		      "--fingerprint"));
		return false;
	}
	return confirm(_("Compare it with the fingerprint the operator gave you. Trust this server? "
	                 "[y/N] "));
}

static int
cmd_register(char **args)
{
	uint8_t pinned[LS_HANDSHAKE_FINGERPRINT_SIZE], fp[LS_HANDSHAKE_FINGERPRINT_SIZE];
	char fphex[2 * LS_HANDSHAKE_FINGERPRINT_SIZE + 1];
	ls_handshake_client_params params;
	ls_handshake *hs = NULL;
	ls_transport *t = NULL;
	lsc_account *acc = NULL;
	trust_ctx tc = {NULL, false};
	char *pw = NULL;
	uint16_t port;
	int fd, r, rc = EXIT_FAIL;

	if (!host_ok(args[0])) {
		msg(_("invalid host \"%s\""), args[0]);
		return EXIT_USAGE;
	}
	if (!parse_port(args[1], &port)) {
		msg(_("invalid port \"%s\": it must be 1..65535"), args[1]);
		return EXIT_USAGE;
	}
	if (!nickname_ok(args[2]))
		return EXIT_USAGE;
	if (opt.fingerprint != NULL) {
		if (!parse_fingerprint(opt.fingerprint, pinned)) {
			msg(_("invalid --fingerprint: it must be 64 hexadecimal digits"));
			return EXIT_USAGE;
		}
		tc.pinned = pinned;
	}
	if (opt.code != NULL && strlen(opt.code) > LS_HANDSHAKE_CODE_MAX) {
		msg(_("the registration code is too long (at most 128 characters)"));
		return EXIT_USAGE;
	}
	if ((acc = account_new(args[0], port, args[2])) == NULL)
		return EXIT_FAIL;
	if ((pw = new_password(opt.password, _("password"))) == NULL)
		goto out;

	if ((fd = tcp_connect(args[0], port)) < 0)
		goto out;
	if ((r = ls_transport_socket_new(fd, 0, &t)) != LS_OK) {
		close(fd);
		msg(_("cannot use the connection: %s"), ls_strerror(r));
		goto out;
	}
	memset(&params, 0, sizeof(params));
	params.purpose = LS_HANDSHAKE_REGISTER;
	params.nickname = acc->nickname;
	params.password = pw;
	params.password_len = strlen(pw);
	params.code = (const uint8_t *)opt.code;
	params.code_len = opt.code != NULL ? strlen(opt.code) : 0;
	params.pinned_fingerprint = tc.pinned;
	params.trust_server_key = trust_key;
	params.user_data = &tc;
	if ((r = ls_handshake_client_new(&params, &hs)) != LS_OK) {
		msg(_("cannot start the registration: %s"), ls_strerror(r));
		goto out;
	}
	r = ls_handshake_client_run(hs, t, HANDSHAKE_TIMEOUT_MS);
	if (r != LS_OK) {
		handshake_failed(hs, r, acc->host, port, acc->nickname);
		goto out;
	}
	if (ls_handshake_server_fingerprint(hs, fp) != LS_OK) {
		msg(_("internal error: no server fingerprint after registration"));
		goto out;
	}
	hex(fp, sizeof(fp), fphex);
	if ((acc->server_key = strdup(fphex)) == NULL)
		goto out;
	msg(_("\"%s\" is registered on %s:%u"), acc->nickname, acc->host, (unsigned)port);
	if (!account_write(acc))
		goto out;
	if (!password_store(acc, pw)) {
		unlink(acc->path);
		msg(_("the account exists on the server, but this computer could not keep it: add it "
		      "again with ls11cloud_config duplicate"));
		goto out;
	}
	msg(_("account %s added as slot %lu (%s); password kept in %s"), acc->id, acc->number,
	    acc->path, acc->pw_store == LSC_PW_FILE ? acc->pw_file : _("the desktop keyring"));
	rc = EXIT_OK;
out:
	ls_handshake_free(hs);
	ls_transport_free(t);
	pw_free(pw);
	lsc_account_free(acc);
	return rc;
}

static int
cmd_duplicate(char **args)
{
	const ls_rpc_account_status *st;
	ls_rpc_msg *resp = NULL;
	lsc_account *acc = NULL;
	session s = {0};
	char *pw = NULL, *npw = NULL;
	uint16_t port;
	int rc = EXIT_FAIL;

	if (!host_ok(args[0])) {
		msg(_("invalid host \"%s\""), args[0]);
		return EXIT_USAGE;
	}
	if (!parse_port(args[1], &port)) {
		msg(_("invalid port \"%s\": it must be 1..65535"), args[1]);
		return EXIT_USAGE;
	}
	if (!nickname_ok(args[2]))
		return EXIT_USAGE;
	if ((acc = account_new(args[0], port, args[2])) == NULL)
		return EXIT_FAIL;
	if ((pw = current_password(NULL, NULL)) == NULL)
		goto out;
	if (!session_open(&s, acc->host, port, acc->nickname, pw))
		goto out;
	if (!get_status(&s, &resp, &st))
		goto out;
	if (st->flags & LS_RPC_ACCOUNT_PASSWORD_MUST_CHANGE) {
		msg(_("the password of \"%s\" must be changed now"), acc->nickname);
		if ((npw = new_password(opt.new_password, _("new password"))) == NULL)
			goto out;
		if (!change_password(&s, npw))
			goto out;
		msg(_("password changed"));
		pw_free(pw);
		pw = npw;
		npw = NULL;
	}
	if (!account_write(acc))
		goto out;
	if (!password_store(acc, pw)) {
		unlink(acc->path);
		goto out;
	}
	msg(_("account %s added as slot %lu (%s); password kept in %s"), acc->id, acc->number,
	    acc->path, acc->pw_store == LSC_PW_FILE ? acc->pw_file : _("the desktop keyring"));
	rc = EXIT_OK;
out:
	ls_rpc_msg_free(resp);
	session_close(&s);
	pw_free(pw);
	pw_free(npw);
	lsc_account_free(acc);
	return rc;
}

/* Opens a session for the chosen account: its password from -p or its store. */
static int
account_session(lsc_account **acc, session *s, char **pw_out)
{
	char *pw;
	int rc;

	if ((rc = choose_account(acc)) != EXIT_OK)
		return rc;
	if ((pw = current_password(*acc, NULL)) == NULL)
		return EXIT_FAIL;
	if (!session_open(s, (*acc)->host, (*acc)->port, (*acc)->nickname, pw)) {
		pw_free(pw);
		return EXIT_FAIL;
	}
	if (pw_out != NULL)
		*pw_out = pw;
	else
		pw_free(pw);
	return EXIT_OK;
}

/*
 * @s padded with spaces to 18 columns, counted in characters: a translated label's bytes are
 * not its width.  A static buffer: one use per printf().
 */
static const char *
padded(const char *s)
{
	static char buf[256];
	wchar_t w[64];
	size_t n = mbstowcs(w, s, sizeof(w) / sizeof(w[0]));
	int cols = n == (size_t)-1 ? -1 : wcswidth(w, n);

	if (cols < 0)
		cols = (int)strlen(s);
	snprintf(buf, sizeof(buf), "%s%*s", s, cols < 18 ? 18 - cols : 0, "");
	return buf;
}

static void
print_time(const char *what, uint64_t t)
{
	char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0) {
		printf("  %s %s\n", padded(what), _("never"));
		return;
	}
	localtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	printf("  %s %s\n", padded(what), buf);
}

static int
cmd_status(void)
{
	const ls_rpc_account_status *st;
	ls_rpc_msg *resp = NULL;
	lsc_account *acc = NULL;
	session s = {0};
	char *pw = NULL;
	int rc;

	if ((rc = choose_account(&acc)) != EXIT_OK)
		return rc;
	printf(_("Account %s (%s)\n"), acc->id, acc->path);
	printf("  %s %lu\n", padded(_("slot")), acc->number);
	printf("  %s %s\n", padded(_("host")), acc->host);
	printf("  %s %u\n", padded(_("port")), (unsigned)acc->port);
	printf("  %s %s\n", padded(_("nickname")), acc->nickname);
	printf("  %s %s\n", padded(_("server key")),
	       acc->server_key != NULL ? acc->server_key : _("(not recorded)"));
	printf("  %s %s\n", padded(_("password kept in")),
	       acc->pw_store == LSC_PW_FILE ? acc->pw_file : _("the desktop keyring"));
	fflush(stdout);
	rc = EXIT_FAIL;
	if ((pw = current_password(acc, NULL)) == NULL)
		goto out;
	if (!session_open(&s, acc->host, acc->port, acc->nickname, pw))
		goto out;
	if (!get_status(&s, &resp, &st))
		goto out;
	printf(_("Server view\n"));
	printf("  %s %s\n", padded(_("state")),
	       (st->flags & LS_RPC_ACCOUNT_LOCKED) ? _("locked")
	       : (st->flags & LS_RPC_ACCOUNT_PASSWORD_MUST_CHANGE) ? _("password must change")
	                                                           : _("active"));
	printf("  %s %s\n", padded(_("token")),
	       (st->flags & LS_RPC_ACCOUNT_TOKEN_INITIALIZED) ? _("initialized")
	                                                      : _("not initialized"));
	print_time(_("created"), st->created);
	print_time(_("password changed"), st->password_changed);
	print_time(_("last login"), st->last_login);
	if (st->last_login_from != NULL && st->last_login_from[0] != '\0')
		printf("  %s %s\n", padded(_("last login from")), st->last_login_from);
	printf("  %s %llu\n", padded(_("failed logins")), (unsigned long long)st->failed_logins);
	printf("  %s %llu\n", padded(_("connections")), (unsigned long long)st->connections);
	printf("  %s %llu\n", padded(_("log entries")), (unsigned long long)st->log_entries);
	rc = EXIT_OK;
out:
	ls_rpc_msg_free(resp);
	session_close(&s);
	pw_free(pw);
	lsc_account_free(acc);
	return rc;
}

static int
cmd_change_pswd(void)
{
	lsc_account *acc = NULL;
	session s = {0};
	char *pw = NULL, *npw = NULL;
	int rc;

	if ((rc = choose_account(&acc)) != EXIT_OK)
		return rc;
	rc = EXIT_FAIL;
	if ((pw = current_password(acc, _("Current password: "))) == NULL)
		goto out;
	if ((npw = new_password(opt.new_password, _("new password"))) == NULL)
		goto out;
	if (!session_open(&s, acc->host, acc->port, acc->nickname, pw))
		goto out;
	if (!change_password(&s, npw))
		goto out;
	if (!password_store(acc, npw)) {
		msg(_("the server has the new password, but it could not be kept on this computer"));
		goto out;
	}
	msg(_("password changed"));
	rc = EXIT_OK;
out:
	session_close(&s);
	pw_free(pw);
	pw_free(npw);
	lsc_account_free(acc);
	return rc;
}

static int
cmd_log(void)
{
	lsc_account *acc = NULL;
	session s = {0};
	uint64_t next = 0;
	bool more = true;
	int rc;

	if ((rc = account_session(&acc, &s, NULL)) != EXIT_OK)
		goto out;
	rc = EXIT_FAIL;
	while (more) {
		ls_rpc_value args[2] = {LS_RPC_ULONG(next), LS_RPC_ULONG(LS_RPC_MAX_LOG_ENTRIES)};
		const ls_rpc_value *e, *n, *b;
		ls_rpc_msg *resp = NULL;
		CK_RV rv;

		if (!session_call(&s, LS_RPC_AccountReadLog, args, 2, &rv, &resp))
			goto out;
		if (rv != CKR_OK || (e = ls_rpc_msg_arg(resp, 0, 'E')) == NULL ||
		    (n = ls_rpc_msg_arg(resp, 1, 'u')) == NULL ||
		    (b = ls_rpc_msg_arg(resp, 2, 'b')) == NULL) {
			msg(_("reading the log failed: %s (CK_RV 0x%lx)"), rv_text(rv),
			    (unsigned long)rv);
			ls_rpc_msg_free(resp);
			goto out;
		}
		for (CK_ULONG i = 0; i < e->log.n; i++) {
			const ls_rpc_log_entry *en = &e->log.v[i];
			time_t tt = (time_t)en->time;
			const char *name = ls_rpc_audit_event_name(en->event);
			struct tm tm;
			char buf[64], unknown[32];

			if (name == NULL) {
				/* A newer server's event: its number, rather than nothing. */
				snprintf(unknown, sizeof(unknown), "event-%llu",
				         (unsigned long long)en->event);
				name = unknown;
			}
			localtime_r(&tt, &tm);
			strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
			printf("%s  %-17s %s\n", buf, name, en->text != NULL ? en->text : "");
		}
		more = b->b && n->ul > next;
		next = n->ul;
		ls_rpc_msg_free(resp);
	}
	rc = EXIT_OK;
out:
	session_close(&s);
	lsc_account_free(acc);
	return rc;
}

/* Asks before a destructive operation unless --yes. */
static bool
destructive_ok(const char *question)
{
	if (opt.yes)
		return true;
	if (!have_tty()) {
		msg(_("no terminal to confirm: add --yes"));
		return false;
	}
	return confirm(question);
}

static int
cmd_recreate(void)
{
	lsc_account *acc = NULL;
	ls_rpc_msg *resp = NULL;
	session s = {0};
	CK_RV rv;
	int rc;

	if ((rc = choose_account(&acc)) != EXIT_OK)
		return rc;
	lsc_account_free(acc);
	acc = NULL;
	rc = EXIT_FAIL;
	if (!destructive_ok(_("Re-create the token? Every object on it is destroyed and it becomes "
	                      "uninitialised. [y/N] "))) {
		msg(_("nothing done"));
		return EXIT_FAIL;
	}
	if (account_session(&acc, &s, NULL) != EXIT_OK)
		goto out;
	if (!session_call(&s, LS_RPC_AccountRecreateToken, NULL, 0, &rv, &resp))
		goto out;
	if (rv != CKR_OK) {
		msg(_("re-creating the token failed: %s (CK_RV 0x%lx)"), rv_text(rv),
		    (unsigned long)rv);
		goto out;
	}
	msg(_("the token of %s is empty and uninitialised now (SO PIN 87654321)"), acc->nickname);
	rc = EXIT_OK;
out:
	ls_rpc_msg_free(resp);
	session_close(&s);
	lsc_account_free(acc);
	return rc;
}

static int
cmd_unregister(void)
{
	lsc_account *acc = NULL;
	ls_rpc_msg *resp = NULL;
	session s = {0};
	CK_RV rv;
	int rc;

	if ((rc = choose_account(&acc)) != EXIT_OK)
		return rc;
	lsc_account_free(acc);
	acc = NULL;
	if (!destructive_ok(_("Remove the account from the server? Its token, keys and log are "
	                      "deleted for good. [y/N] "))) {
		msg(_("nothing done"));
		return EXIT_FAIL;
	}
	rc = EXIT_FAIL;
	if (account_session(&acc, &s, NULL) != EXIT_OK)
		goto out;
	if (!session_call(&s, LS_RPC_AccountUnregister, NULL, 0, &rv, &resp))
		goto out;
	if (rv != CKR_OK) {
		msg(_("unregistering failed: %s (CK_RV 0x%lx)"), rv_text(rv), (unsigned long)rv);
		goto out;
	}
	msg(_("\"%s\" is removed from %s:%u"), acc->nickname, acc->host, (unsigned)acc->port);
	password_remove(acc);
	if (unlink(acc->path) != 0 && errno != ENOENT) {
		msg(_("cannot remove %s: %s"), acc->path, strerror(errno));
		goto out;
	}
	rc = EXIT_OK;
out:
	ls_rpc_msg_free(resp);
	session_close(&s);
	lsc_account_free(acc);
	return rc;
}

/* ---------------------------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------------------------- */

static const struct {
	const char *name;
	int nargs;
} commands[] = {
	{"register", 3}, {"duplicate", 3}, {"change_pswd", 0}, {"status", 0},
	{"log", 0},      {"recreate", 0},  {"unregister", 0},
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"password", required_argument, NULL, 'p'},
		{"new-password", required_argument, NULL, 'n'},
		{"fingerprint", required_argument, NULL, 'F'},
		{"code", required_argument, NULL, 'C'},
		{"store", required_argument, NULL, 'S'},
		{"account", required_argument, NULL, 'A'},
		{"yes", no_argument, NULL, 'y'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cmd;
	char **args;
	int c, nargs = -1, r;

	ls_tools_i18n_init();
	if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0')
		prog = argv[0];
	ls_log_set_handler(log_handler, NULL);
	while ((c = getopt_long(argc, argv, "p:n:yh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': opt.password = optarg; break;
		case 'n': opt.new_password = optarg; break;
		case 'F': opt.fingerprint = optarg; break;
		case 'C': opt.code = optarg; break;
		case 'S': opt.store = optarg; break;
		case 'A': opt.account = optarg; break;
		case 'y': opt.yes = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (opt.store != NULL && strcmp(opt.store, "file") != 0 &&
	    strcmp(opt.store, "keyring") != 0) {
		msg(_("--store must be file or keyring"));
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	args = argv + optind + 1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			nargs = commands[i].nargs;
	if (nargs < 0) {
		msg(_("unknown command \"%s\""), cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (argc - optind - 1 != nargs) {
		if (nargs == 3)
			msg(_("usage: %s %s <host> <port> <id>"), prog, cmd);
		else
			msg(_("%s takes no arguments"), cmd);
		return EXIT_USAGE;
	}
	if ((r = ls_crypto_init()) != LS_OK) {
		msg(_("the crypto library cannot start: %s"), ls_strerror(r));
		return EXIT_FAIL;
	}
	if (strcmp(cmd, "register") == 0)
		return cmd_register(args);
	if (strcmp(cmd, "duplicate") == 0)
		return cmd_duplicate(args);
	if (strcmp(cmd, "change_pswd") == 0)
		return cmd_change_pswd();
	if (strcmp(cmd, "status") == 0)
		return cmd_status();
	if (strcmp(cmd, "log") == 0)
		return cmd_log();
	if (strcmp(cmd, "recreate") == 0)
		return cmd_recreate();
	return cmd_unregister();
}
