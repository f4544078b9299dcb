/*
 * LS11CLOUD - ls11cloud-admin: the cloud operator's tool (docs/server.md, "Administration").
 *
 *   ls11cloud-admin [--state-dir DIR] user add NICK [--password-file F | --generate] [--active]
 *   ls11cloud-admin [--state-dir DIR] user password NICK [--password-file F | --generate]
 *                                     [--active]
 *   ls11cloud-admin [--state-dir DIR] user import FILE [--active]
 *   ls11cloud-admin [--state-dir DIR] user list
 *   ls11cloud-admin [--state-dir DIR] user show|log|lock|unlock|delete NICK
 *   ls11cloud-admin [--state-dir DIR] user reset-counters NICK
 *   ls11cloud-admin [--state-dir DIR] token wipe NICK
 *   ls11cloud-admin [--state-dir DIR] registration [open|closed|code [CODE]|default]
 *   ls11cloud-admin [--state-dir DIR] server-key show|rotate
 *   ls11cloud-admin [--state-dir DIR] fingerprint          (= server-key show)
 *
 * Accounts made here (the seed's corporate flow) must change their password at their first
 * login (--active makes one that need not).  A password is read from a file (its first line;
 * "-" is standard input) so that it never appears in a process list, or generated (--generate:
 * 20 letters and digits from the crypto RNG, printed on standard output); only its SESPAKE
 * verifier reaches the store.  user import reads "nick" or "nick,password" lines and creates
 * all of them or none.
 *
 * Everything here is safe while ls11cloudd runs: both open the same SQLite store (WAL, busy
 * timeout).  The server reads the registration policy from the store at each registration,
 * notices a wiped token or a deleted account within a second (its open applications then get
 * CKR_DEVICE_REMOVED) and at the next login, and loads a rotated identity key at its next
 * registration handshake.
 *
 * Exit status: 0 done, 1 the operation failed (nothing changed unless said), 2 usage error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "config.h"
#include "crypto.h"
#include "handshake.h"
#include "i18n.h"
#include "password.h"
#include "log.h"
#include "sespake.h"
#include "token.h"

#define DEFAULT_STATE_DIR      "/var/lib/ls11cloud"
#define PASSWORD_MAX           LS_TOOLS_PASSWORD_MAX
#define GENERATED_PASSWORD_LEN 20
#define GENERATED_CODE_LEN     24
#define IMPORT_LINE_MAX        1024
#define IMPORT_MAX_LINES       100000
/* A reason sentence (check_password, lsd_nickname_check): room for a translation in UTF-8. */
#define WHY_SIZE               512

#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

#define SOURCE "ls11cloud-admin"

static const char *prog = "ls11cloud-admin";

static void __attribute__((format(printf, 1, 2)))
msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *f)
{
	fprintf(f, _("usage: %s [--state-dir DIR] COMMAND [ARGS]\n"), prog);
	fprintf(f, "\n");
	fprintf(f, _("Accounts:\n"));
	fprintf(f,
	        _("  user add NICK [--password-file F | --generate] [--active]\n"
	          "                      create an account; its password must be changed at the\n"
	          "                      first login unless --active\n"));
	fprintf(f, _("  user password NICK [--password-file F | --generate] [--active]\n"
	             "                      set a new password (to be changed unless --active)\n"));
	fprintf(f,
	        _("  user import FILE [--active]\n"
	          "                      create the accounts of a CSV file (\"nick\" or\n"
	          "                      \"nick,password\" lines, \"-\": standard input): all or\n"
	          "                      none; prints \"nick,password\" for generated "
	          "passwords\n"));
	fprintf(f, _("  user list           list the accounts\n"));
	fprintf(f, _("  user show NICK      show one account (state, counters, token)\n"));
	fprintf(f, _("  user log NICK       print the account's audit log\n"));
	fprintf(f, _("  user lock NICK      refuse every login of the account\n"));
	fprintf(f, _("  user unlock NICK    allow logins again and reset the attempt counters\n"));
	fprintf(f, _("  user reset-counters NICK\n"
	             "                      reset the attempt counters (a locked account stays\n"
	             "                      locked: use unlock)\n"));
	fprintf(f, _("  user delete NICK    delete the account, its token and its log\n"));
	fprintf(f,
	        _("  token wipe NICK     give the account a new, empty, uninitialised token (its\n"
	          "                      objects and PINs are gone)\n"));
	fprintf(f, "\n");
	fprintf(f, _("Server:\n"));
	fprintf(f, _("  registration        print the self-registration policy\n"));
	fprintf(f, _("  registration open|closed\n"
	             "                      let anyone register, or nobody\n"));
	fprintf(f, _("  registration code [CODE]\n"
	             "                      require a registration code (generated and printed\n"
	             "                      when CODE is not given)\n"));
	fprintf(f,
	        _("  registration default\n"
	          "                      forget the policy set here: the server's configuration\n"
	          "                      (registration, registration-code) applies again\n"));
	fprintf(f, _("  server-key show     print the identity key's fingerprint (for pinning)\n"));
	fprintf(f, _("  server-key rotate   replace the identity key (the old one is kept as\n"
	             "                      identity.key.old); clients that pinned the old\n"
	             "                      fingerprint must register again\n"));
	fprintf(f, _("  fingerprint         the same as server-key show\n"));
	fprintf(f, "\n");
	fprintf(f, _("Options:\n"));
	fprintf(f, _("  --state-dir DIR     the server's state directory (default %s)\n"),
	        DEFAULT_STATE_DIR);
	fprintf(f, _("  --password-file F   the password is the first line of F (\"-\": standard "
	             "input)\n"));
	fprintf(f, _("  --generate          generate a strong password and print it\n"));
	fprintf(f, _("  --active            the account need not change its password\n"));
	fprintf(f, _("  --help, --version\n"));
	fprintf(f, "\n");
	fprintf(f,
	        _("A nickname is 3 to 64 ASCII letters, digits and . _ - @; a password 6 to %d\n"
	          "printable ASCII characters of at least two kinds (lower case, upper case,\n"
	          "digits, punctuation).  Safe to run while ls11cloudd runs.\n"),
	        PASSWORD_MAX);
	fprintf(f, _("Exit status: 0 done, 1 failed, 2 usage error.\n"));
}

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fprintf(stderr, _("Try '%s --help'.\n"), prog);
	return EXIT_USAGE;
}

static void
log_handler(ls_log_level level, const char *message, void *user_data)
{
	(void)user_data;
	if (level <= LS_LOG_WARNING)
		msg("%s", message);
}

/* ---------------------------------------------------------------------------------------------
 * Passwords and codes
 * ------------------------------------------------------------------------------------------- */

/* LS_OK when @pw[@len] can be a cloud password (tools/password.h); otherwise a sentence in @why. */
static int
check_password(const char *pw, size_t len, char *why, size_t why_size)
{
	const char *weak = ls_tools_password_weakness(pw, len);

	if (weak == NULL)
		return LS_OK;
	snprintf(why, why_size, _("the password is refused: %s"), weak);
	return LS_ERR_INVALID_ARG;
}

/* @len letters and digits from the crypto RNG (uniform: bytes >= 248 are drawn again). */
static int
generate_secret(char *out, size_t len)
{
	static const char alphabet[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t buf[64];
	size_t got = 0, i;
	int r;

	while (got < len) {
		if ((r = ls_random_bytes(buf, sizeof(buf))) != LS_OK) {
			ls_wipe(buf, sizeof(buf));
			return r;
		}
		for (i = 0; i < sizeof(buf) && got < len; i++) {
			if (buf[i] < 248)
				out[got++] = alphabet[buf[i] % 62];
		}
	}
	out[len] = '\0';
	ls_wipe(buf, sizeof(buf));
	return LS_OK;
}

/* Reads the first line of @path; 0, or -1 after saying why. */
static int
read_password(const char *path, char *pw, size_t size, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char why[WHY_SIZE];
	size_t n;

	*len = 0;
	if (f == NULL) {
		msg("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fgets(pw, (int)size, f) == NULL) {
		msg(_("%s: no password in it"), path);
		if (f != stdin)
			fclose(f);
		return -1;
	}
	if (f != stdin)
		fclose(f);
	n = strcspn(pw, "\r\n");
	if (pw[n] == '\0' && n == size - 1) {
		msg(_("the password is longer than %d characters"), PASSWORD_MAX);
		return -1;
	}
	pw[n] = '\0';
	if (check_password(pw, n, why, sizeof(why)) != LS_OK) {
		msg("%s", why);
		return -1;
	}
	*len = n;
	return 0;
}

static int
verifier_of(const char *pw, size_t len, ls_sespake_verifier *v)
{
	int r = ls_sespake_verifier_make(LS_HANDSHAKE_DEFAULT_CURVE, LS_HANDSHAKE_DEFAULT_IND, NULL,
	                                 LS_HANDSHAKE_SALT_SIZE, pw, len, v);

	if (r != LS_OK)
		msg(_("cannot make the password's verifier: %s"), ls_strerror(r));
	return r == LS_OK ? 0 : -1;
}

/*
 * The verifier of the password from --password-file or --generate; @generated (at least
 * GENERATED_PASSWORD_LEN + 1 bytes) receives a generated one.
 */
static int
make_verifier(const char *password_file, bool generate, ls_sespake_verifier *v, char *generated)
{
	char pw[PASSWORD_MAX + 2];
	size_t len = 0;
	int r;

	generated[0] = '\0';
	if (generate) {
		if ((r = generate_secret(generated, GENERATED_PASSWORD_LEN)) != LS_OK) {
			msg(_("cannot generate a password: %s"), ls_strerror(r));
			return -1;
		}
		return verifier_of(generated, GENERATED_PASSWORD_LEN, v);
	}
	if (read_password(password_file, pw, sizeof(pw), &len) != 0) {
		ls_wipe(pw, sizeof(pw));
		return -1;
	}
	r = verifier_of(pw, len, v);
	ls_wipe(pw, sizeof(pw));
	return r;
}

/* ---------------------------------------------------------------------------------------------
 * Accounts
 * ------------------------------------------------------------------------------------------- */

static const char *
when(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0)
		return _("never");
	localtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static int
find(ls_store *store, const char *nick, ls_store_account *a)
{
	int r = lsd_account_find(store, nick, a);

	if (r == LS_ERR_NOT_FOUND)
		msg(_("no account '%s'"), nick);
	else if (r != LS_OK)
		msg(_("cannot read the account '%s': %s"), nick, ls_strerror(r));
	return r == LS_OK ? 0 : -1;
}

static int
list_cb(void *ctx, const ls_store_account *a)
{
	char t1[32], t2[32];

	(void)ctx;
	printf(_("%-24s %-21s created %s  last login %s\n"), a->nickname,
	       lsd_account_state_name(a->state), when(a->created_at, t1, sizeof(t1)),
	       when(a->last_login_at, t2, sizeof(t2)));
	return LS_OK;
}

static int
log_cb(void *ctx, const ls_store_audit *row)
{
	char t[32];

	*(uint64_t *)ctx = row->id;
	printf("%s  %-17s", when(row->at, t, sizeof(t)), row->event);
	if (row->count > 0)
		printf(" %llu", (unsigned long long)row->count);
	if (row->source[0] != '\0')
		printf(_(" from %s"), row->source);
	if (row->detail[0] != '\0')
		printf(": %s", row->detail);
	printf("\n");
	return LS_OK;
}

/* The token line of user show: initialised or not, its label, its objects. */
static void
show_token(ls_store *store, uint64_t token_id)
{
	ls_store_txn *txn = NULL;
	ls_store_token tok;
	uint64_t count = 0;
	int r, n;

	memset(&tok, 0, sizeof(tok));
	if ((r = ls_store_begin(store, false, &txn)) == LS_OK) {
		r = ls_store_token_get(txn, token_id, &tok);
		if (r == LS_OK)
			r = ls_store_object_count(txn, token_id, &count);
		ls_store_rollback(txn);
	}
	if (r != LS_OK) {
		printf(_("token:           %llu (cannot be read: %s)\n"),
		       (unsigned long long)token_id, ls_strerror(r));
		return;
	}
	if (!(tok.flags & CKF_TOKEN_INITIALIZED)) {
		printf(_("token:           %llu, not initialized, %llu objects\n"),
		       (unsigned long long)token_id, (unsigned long long)count);
	} else {
		for (n = LS_STORE_LABEL_SIZE; n > 0 && tok.label[n - 1] == ' '; n--)
			;
		printf(_("token:           %llu, initialized, label \"%.*s\", %llu objects\n"),
		       (unsigned long long)token_id, n, (const char *)tok.label,
		       (unsigned long long)count);
	}
	ls_wipe(&tok, sizeof(tok));
}

static int
create_account(ls_store *store, const char *nick, const ls_sespake_verifier *v, bool active)
{
	int r = lsd_account_create(store, nick, v,
	                           active ? LSD_ACCOUNT_ACTIVE : LSD_ACCOUNT_MUST_CHANGE_PASSWORD,
	                           NULL, SOURCE, NULL);

	if (r == LS_ERR_STATE)
		msg(_("the nickname '%s' is taken"), nick);
	else if (r != LS_OK)
		msg(_("cannot create '%s': %s"), nick, ls_strerror(r));
	return r == LS_OK ? 0 : -1;
}

static int
cmd_user_add(ls_store *store, const char *nick, const char *password_file, bool generate,
             bool active)
{
	char why[WHY_SIZE], generated[GENERATED_PASSWORD_LEN + 1];
	ls_sespake_verifier v;
	int rc;

	if (lsd_nickname_check(nick, why, sizeof(why)) != LS_OK) {
		msg(_("'%s' cannot be a nickname: %s"), nick, why);
		return EXIT_FAIL;
	}
	if (make_verifier(password_file, generate, &v, generated) != 0) {
		ls_wipe(generated, sizeof(generated));
		return EXIT_FAIL;
	}
	rc = create_account(store, nick, &v, active) == 0 ? EXIT_OK : EXIT_FAIL;
	ls_wipe(&v, sizeof(v));
	if (rc == EXIT_OK) {
		/* Standard output carries only the generated password, for scripts. */
		if (generate)
			printf("%s\n", generated);
		msg(active ? _("account '%s' created")
		           : _("account '%s' created (the password must be changed at the first "
		               "login)"),
		    nick);
	}
	ls_wipe(generated, sizeof(generated));
	return rc;
}

static int
cmd_user_password(ls_store *store, const ls_store_account *a, const char *password_file,
                  bool generate, bool active)
{
	char generated[GENERATED_PASSWORD_LEN + 1];
	ls_sespake_verifier v;
	int r;

	if (make_verifier(password_file, generate, &v, generated) != 0) {
		ls_wipe(generated, sizeof(generated));
		return EXIT_FAIL;
	}
	r = lsd_account_set_verifier(store, a->id, &v, NULL, SOURCE);
	ls_wipe(&v, sizeof(v));
	if (r == LS_OK && !active)
		r = lsd_account_set_state(store, a->id, LSD_ACCOUNT_MUST_CHANGE_PASSWORD, NULL,
		                          SOURCE);
	if (r != LS_OK) {
		ls_wipe(generated, sizeof(generated));
		msg(_("user password %s: %s"), a->nickname, ls_strerror(r));
		return EXIT_FAIL;
	}
	if (generate)
		printf("%s\n", generated);
	ls_wipe(generated, sizeof(generated));
	msg(active ? _("password of '%s' set")
	           : _("password of '%s' set (to be changed at the "
	               "next login)"),
	    a->nickname);
	return EXIT_OK;
}

/* ---- user import ------------------------------------------------------------------------ */

typedef struct {
	unsigned line;
	char nick[LS_STORE_NICK_MAX + 1];
	char pw[PASSWORD_MAX + 1];
	bool generated;
	bool created;
} import_row;

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

static bool
is_header(const char *nick, const char *pw)
{
	return (strcasecmp(nick, "nick") == 0 || strcasecmp(nick, "nickname") == 0) &&
	       (pw == NULL || strcasecmp(pw, "password") == 0);
}

static void
import_free(import_row *rows, size_t n)
{
	if (rows == NULL)
		return;
	ls_wipe(rows, n * sizeof(*rows));
	free(rows);
}

/* Reads and checks every line of @path; 0, or -1 after naming every bad line. */
static int
import_read(ls_store *store, const char *path, import_row **out, size_t *n_out)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char line[IMPORT_LINE_MAX + 2], why[WHY_SIZE];
	import_row *rows = NULL, *grown;
	size_t n = 0, cap = 0, i;
	unsigned lineno = 0, bad = 0;
	bool first = true;
	ls_store_account a;
	int r;

	*out = NULL;
	*n_out = 0;
	if (f == NULL) {
		msg("%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p, *comma, *nick, *pw = NULL;
		size_t len = strlen(line);

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			msg(_("%s:%u: the line is longer than %d characters"), path, lineno,
			    IMPORT_LINE_MAX);
			bad++;
			/* Skip the rest of it. */
			while (fgets(line, sizeof(line), f) != NULL && strchr(line, '\n') == NULL)
				;
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((comma = strchr(p, ',')) != NULL) {
			*comma = '\0';
			pw = trim(comma + 1);
		}
		nick = trim(p);
		if (first) {
			first = false;
			if (is_header(nick, pw))
				continue;
		}
		if (n >= IMPORT_MAX_LINES) {
			msg(_("%s:%u: more than %d accounts in one import"), path, lineno,
			    IMPORT_MAX_LINES);
			bad++;
			break;
		}
		if (lsd_nickname_check(nick, why, sizeof(why)) != LS_OK) {
			msg(_("%s:%u: '%s' cannot be a nickname: %s"), path, lineno, nick, why);
			bad++;
			continue;
		}
		for (i = 0; i < n && strcmp(rows[i].nick, nick) != 0; i++)
			;
		if (i < n) {
			msg(_("%s:%u: the nickname '%s' is already on line %u"), path, lineno, nick,
			    rows[i].line);
			bad++;
			continue;
		}
		r = lsd_account_find(store, nick, &a);
		ls_wipe(&a, sizeof(a));
		if (r == LS_OK) {
			msg(_("%s:%u: the nickname '%s' is taken"), path, lineno, nick);
			bad++;
			continue;
		}
		if (r != LS_ERR_NOT_FOUND) {
			msg(_("%s:%u: cannot look '%s' up: %s"), path, lineno, nick,
			    ls_strerror(r));
			bad++;
			continue;
		}
		if (pw != NULL && *pw != '\0' &&
		    check_password(pw, strlen(pw), why, sizeof(why)) != LS_OK) {
			msg(_("%s:%u: '%s': %s"), path, lineno, nick, why);
			bad++;
			continue;
		}
		if (n == cap) {
			cap = cap == 0 ? 64 : 2 * cap;
			if ((grown = calloc(cap, sizeof(*rows))) == NULL) {
				msg(_("out of memory"));
				bad++;
				break;
			}
			if (rows != NULL)
				memcpy(grown, rows, n * sizeof(*rows));
			import_free(rows, n);
			rows = grown;
		}
		rows[n].line = lineno;
		snprintf(rows[n].nick, sizeof(rows[n].nick), "%s", nick);
		if (pw != NULL && *pw != '\0') {
			snprintf(rows[n].pw, sizeof(rows[n].pw), "%s", pw);
		} else if ((r = generate_secret(rows[n].pw, GENERATED_PASSWORD_LEN)) != LS_OK) {
			msg(_("cannot generate a password: %s"), ls_strerror(r));
			bad++;
			break;
		} else {
			rows[n].generated = true;
		}
		n++;
	}
	if (ferror(f)) {
		msg("%s: %s", path, strerror(errno));
		bad++;
	}
	if (f != stdin)
		fclose(f);
	ls_wipe(line, sizeof(line));
	if (bad == 0 && n == 0) {
		msg(_("%s: no account in it"), path);
		bad++;
	}
	if (bad > 0) {
		import_free(rows, n);
		return -1;
	}
	*out = rows;
	*n_out = n;
	return 0;
}

static int
cmd_user_import(ls_store *store, const char *path, bool active)
{
	import_row *rows = NULL;
	ls_sespake_verifier v;
	ls_store_account a;
	size_t n = 0, i, generated = 0;
	int rc = EXIT_OK;

	if (import_read(store, path, &rows, &n) != 0) {
		msg(_("nothing was created"));
		return EXIT_FAIL;
	}
	for (i = 0; i < n; i++) {
		if (verifier_of(rows[i].pw, strlen(rows[i].pw), &v) != 0 ||
		    create_account(store, rows[i].nick, &v, active) != 0) {
			msg(_("%s:%u: '%s' could not be created"), path, rows[i].line,
			    rows[i].nick);
			rc = EXIT_FAIL;
			break;
		}
		rows[i].created = true;
		ls_wipe(&v, sizeof(v));
	}
	ls_wipe(&v, sizeof(v));
	if (rc != EXIT_OK) {
		/* All or nothing: take back what this import made. */
		for (i = 0; i < n; i++) {
			if (!rows[i].created)
				continue;
			if (lsd_account_find(store, rows[i].nick, &a) != LS_OK ||
			    lsd_account_delete(store, a.id) != LS_OK)
				msg(_("'%s' was created but cannot be deleted again: delete it "
				      "with "
				      "'%s user delete %s'"),
				    rows[i].nick, prog, rows[i].nick);
			ls_wipe(&a, sizeof(a));
		}
		msg(_("nothing was created"));
		import_free(rows, n);
		return rc;
	}
	for (i = 0; i < n; i++) {
		if (rows[i].generated) {
			printf("%s,%s\n", rows[i].nick, rows[i].pw);
			generated++;
		}
	}
	msg(_("%zu account(s) created, %zu with a generated password%s"), n, generated,
	    active ? "" : _("; every password must be changed at the first login"));
	import_free(rows, n);
	return rc;
}

static int
cmd_user(ls_store *store, int argc, char **argv, const char *password_file, bool generate,
         bool active)
{
	const char *verb = argv[0];
	const char *nick = argc > 1 ? argv[1] : NULL;
	ls_sespake_limits limits = LS_SESPAKE_LIMITS_DEFAULT;
	ls_store_account a;
	ls_store_txn *txn = NULL;
	char t[32];
	uint64_t id = 0, last;
	int r;

	if (strcmp(verb, "list") == 0) {
		if (argc != 1)
			return usage_error(_("user list takes no argument"));
		if ((r = ls_store_begin(store, false, &txn)) == LS_OK) {
			r = ls_store_account_list(txn, list_cb, NULL);
			ls_store_rollback(txn);
		}
		if (r != LS_OK)
			msg(_("cannot list the accounts: %s"), ls_strerror(r));
		return r == LS_OK ? EXIT_OK : EXIT_FAIL;
	}
	if (strcmp(verb, "add") != 0 && strcmp(verb, "import") != 0 && strcmp(verb, "show") != 0 &&
	    strcmp(verb, "log") != 0 && strcmp(verb, "password") != 0 &&
	    strcmp(verb, "lock") != 0 && strcmp(verb, "unlock") != 0 &&
	    strcmp(verb, "reset-counters") != 0 && strcmp(verb, "delete") != 0)
		return usage_error(_("unknown user command '%s'"), verb);
	if (nick == NULL || argc != 2)
		return usage_error(_("user %s: one argument is needed (see --help)"), verb);
	if (strcmp(verb, "add") == 0)
		return cmd_user_add(store, nick, password_file, generate, active);
	if (strcmp(verb, "import") == 0)
		return cmd_user_import(store, nick, active);
	if (find(store, nick, &a) != 0)
		return EXIT_FAIL;
	if (strcmp(verb, "show") == 0) {
		printf(_("nickname:        %s\n"), a.nickname);
		printf(_("state:           %s\n"), lsd_account_state_name(a.state));
		printf(_("created:         %s\n"), when(a.created_at, t, sizeof(t)));
		printf(_("password set:    %s\n"), when(a.password_changed_at, t, sizeof(t)));
		printf(_("last login:      %s%s%s\n"), when(a.last_login_at, t, sizeof(t)),
		       a.last_login_from[0] != '\0' ? _(" from ") : "", a.last_login_from);
		printf(_("attempt counters C1=%u C2=%u C3=%u (initial C1=%u C2=%u C3=%u)\n"), a.c1,
		       a.c2, a.c3, limits.clim1, limits.clim2, limits.clim3);
		show_token(store, a.token_id);
		r = LS_OK;
	} else if (strcmp(verb, "log") == 0) {
		last = 0;
		do {
			id = last;
			if ((r = ls_store_begin(store, false, &txn)) != LS_OK)
				break;
			r = ls_store_audit_list(txn, a.id, last + 1, 500, log_cb, &last);
			ls_store_rollback(txn);
		} while (r == LS_OK && last != id);
	} else if (strcmp(verb, "password") == 0) {
		r = cmd_user_password(store, &a, password_file, generate, active);
		ls_wipe(&a, sizeof(a));
		return r;
	} else if (strcmp(verb, "lock") == 0) {
		r = lsd_account_set_state(store, a.id, LSD_ACCOUNT_LOCKED, NULL, SOURCE);
		if (r == LS_OK)
			printf(_("account '%s' locked\n"), nick);
	} else if (strcmp(verb, "unlock") == 0) {
		r = lsd_account_set_state(store, a.id, LSD_ACCOUNT_ACTIVE, NULL, SOURCE);
		if (r == LS_OK)
			printf(_("account '%s' unlocked; its attempt counters are reset\n"), nick);
	} else if (strcmp(verb, "reset-counters") == 0) {
		r = lsd_account_reset_counters(store, a.id, NULL, SOURCE);
		if (r == LS_OK)
			printf(_("attempt counters of '%s' reset to C1=%u C2=%u C3=%u\n"), nick,
			       limits.clim1, limits.clim2, limits.clim3);
		if (r == LS_OK && a.state == LSD_ACCOUNT_LOCKED)
			printf(_("'%s' stays locked: '%s user unlock %s' unlocks it\n"), nick, prog,
			       nick);
	} else if (strcmp(verb, "delete") == 0) {
		r = lsd_account_delete(store, a.id);
		if (r == LS_OK)
			printf(_("account '%s' deleted with its token and log\n"), nick);
	} else {
		ls_wipe(&a, sizeof(a));
		return usage_error(_("unknown user command '%s'"), verb);
	}
	ls_wipe(&a, sizeof(a));
	if (r != LS_OK) {
		msg(_("user %s %s: %s"), verb, nick, ls_strerror(r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int
cmd_token(ls_store *store, int argc, char **argv)
{
	ls_store_account a;
	uint64_t token_id = 0;
	int r;

	if (strcmp(argv[0], "wipe") != 0)
		return usage_error(_("unknown token command '%s'"), argv[0]);
	if (argc != 2)
		return usage_error(_("token wipe: the account's nickname is needed"));
	if (find(store, argv[1], &a) != 0)
		return EXIT_FAIL;
	r = lsd_account_recreate_token(store, a.id, SOURCE, &token_id);
	ls_wipe(&a, sizeof(a));
	if (r != LS_OK) {
		msg(_("token wipe %s: %s"), argv[1], ls_strerror(r));
		return EXIT_FAIL;
	}
	printf(_("the token of '%s' is new and empty (token %llu); its objects and PINs are "
	         "gone\n"),
	       argv[1], (unsigned long long)token_id);
	msg(_("a running ls11cloudd ends the applications that still use the old token within a "
	      "second; the user initialises the token again (SO PIN %s)"),
	    LS_TOKEN_DEFAULT_SO_PIN);
	return EXIT_OK;
}

/* ---- registration ----------------------------------------------------------------------- */

static int
cmd_registration(ls_store *store, int argc, char **argv)
{
	char policy[16], code[LSD_REG_CODE_MAX + 1];
	const char *want;
	int r;

	if (argc == 0) {
		r = lsd_registration_get(store, policy, sizeof(policy), code, sizeof(code));
		if (r == LS_ERR_NOT_FOUND) {
			printf(_(
			        "registration: not set here; ls11cloudd's configuration applies "
			        "(registration and registration-code in its file or on its command "
			        "line; closed by default)\n"));
			return EXIT_OK;
		}
		if (r != LS_OK) {
			msg(_("cannot read the registration policy: %s"), ls_strerror(r));
			return EXIT_FAIL;
		}
		printf(_("registration: %s\n"), policy);
		if (strcmp(policy, "code") == 0)
			printf(_("code: %s\n"), code[0] != '\0' ? code : _("(the configured one)"));
		ls_wipe(code, sizeof(code));
		return EXIT_OK;
	}
	want = argv[0];
	if (strcmp(want, "code") == 0) {
		if (argc > 2)
			return usage_error(_("registration code takes at most one code"));
		if (argc == 2) {
			r = lsd_registration_code_check(argv[1]);
			if (r != LS_OK) {
				msg(_("a registration code is 1 to %d printable ASCII characters, "
				      "without spaces at either end"),
				    LSD_REG_CODE_MAX);
				return EXIT_FAIL;
			}
			snprintf(code, sizeof(code), "%s", argv[1]);
		} else if ((r = generate_secret(code, GENERATED_CODE_LEN)) != LS_OK) {
			msg(_("cannot generate a code: %s"), ls_strerror(r));
			return EXIT_FAIL;
		}
		r = lsd_registration_set(store, "code", code);
		if (r == LS_OK && argc == 1) {
			printf("%s\n", code);
			msg(_("registration now needs this code (ls11cloud_config register ... "
			      "--code "
			      "CODE)"));
		} else if (r == LS_OK) {
			printf(_("registration now needs the code given\n"));
		}
		ls_wipe(code, sizeof(code));
	} else if (strcmp(want, "open") == 0 || strcmp(want, "closed") == 0 ||
	           strcmp(want, "default") == 0) {
		if (argc != 1)
			return usage_error(_("registration %s takes no argument"), want);
		r = lsd_registration_set(store, strcmp(want, "default") == 0 ? NULL : want, NULL);
		if (r == LS_OK && strcmp(want, "default") == 0)
			printf(_("registration: ls11cloudd's configuration applies again\n"));
		else if (r == LS_OK)
			printf(_("registration is now %s\n"), want);
	} else {
		return usage_error(_("registration: '%s' is not open, closed, code or default"),
		                   want);
	}
	if (r != LS_OK) {
		msg(_("cannot set the registration policy: %s"), ls_strerror(r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* ---- the identity key ------------------------------------------------------------------- */

static int
cmd_server_key_show(const char *state_dir)
{
	char path[4096], hex[65];
	ls_gost_key *key = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/%s", state_dir, LSD_IDENTITY_FILE);
	r = lsd_identity_read(path, &key, NULL);
	if (r == LS_ERR_NOT_FOUND) {
		msg(_("%s: no such file (ls11cloudd makes it at its first start)"), path);
		return EXIT_FAIL;
	}
	if (r == LS_OK)
		r = lsd_identity_fingerprint_hex(key, hex);
	ls_gost_key_free(key);
	if (r != LS_OK) {
		msg("%s: %s", path, r == LS_ERR_IO ? strerror(errno) : ls_strerror(r));
		return EXIT_FAIL;
	}
	printf("%s\n", hex);
	return EXIT_OK;
}

static int
cmd_server_key_rotate(const char *state_dir)
{
	ls_gost_key *old = NULL, *key = NULL;
	char old_hex[65], new_hex[65];
	int r;

	if ((r = lsd_identity_rotate(state_dir, &old, &key)) != LS_OK) {
		if (r == LS_ERR_NOT_FOUND)
			msg(_("%s/%s: no such file (ls11cloudd makes it at its first start)"),
			    state_dir, LSD_IDENTITY_FILE);
		msg(_("the identity key was not changed: %s"), ls_strerror(r));
		return EXIT_FAIL;
	}
	r = lsd_identity_fingerprint_hex(old, old_hex);
	if (r == LS_OK)
		r = lsd_identity_fingerprint_hex(key, new_hex);
	ls_gost_key_free(old);
	ls_gost_key_free(key);
	if (r != LS_OK) {
		msg(_("the key was rotated but its fingerprint cannot be computed: %s"),
		    ls_strerror(r));
		return EXIT_FAIL;
	}
	printf(_("old fingerprint: %s\n"), old_hex);
	printf(_("new fingerprint: %s\n"), new_hex);
	msg(_("warning: every client that pinned the old fingerprint will refuse this server until "
	      "it registers again with the new one (ls11cloud_config register ... --fingerprint "
	      "NEW); publish the new fingerprint"));
	msg(_("the old key is kept in %s/%s; a running ls11cloudd uses the new key from its next "
	      "registration"),
	    state_dir, LSD_IDENTITY_OLD_FILE);
	return EXIT_OK;
}

/* ---------------------------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------------------------- */

/* The state directory must be the invoking user's: files root made would lock the server out. */
static int
check_state_dir(const char *state_dir, bool create)
{
	struct stat st;

	if (stat(state_dir, &st) != 0) {
		if (!create || errno != ENOENT || mkdir(state_dir, 0700) != 0 ||
		    stat(state_dir, &st) != 0) {
			msg("%s: %s", state_dir, strerror(errno));
			return -1;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		msg(_("%s: not a directory"), state_dir);
		return -1;
	}
	if (geteuid() != st.st_uid) {
		msg(_("%s belongs to uid %u: run this as that user (for the service: sudo -u "
		      "ls11cloud %s ...)"),
		    state_dir, (unsigned)st.st_uid, prog);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	enum {
		OPT_STATE_DIR = 1000,
		OPT_PASSWORD_FILE,
		OPT_GENERATE,
		OPT_ACTIVE,
		OPT_HELP,
		OPT_VERSION
	};
	static const struct option opts[] = {
	        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
	        {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	        {"generate", no_argument, NULL, OPT_GENERATE},
	        {"active", no_argument, NULL, OPT_ACTIVE},
	        {"help", no_argument, NULL, OPT_HELP},
	        {"version", no_argument, NULL, OPT_VERSION},
	        {NULL, 0, NULL, 0},
	};
	const char *state_dir = DEFAULT_STATE_DIR, *password_file = NULL, *cmd;
	ls_store *store = NULL;
	bool active = false, generate = false, password_cmd;
	int c, r, status;

	ls_tools_i18n_init();
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE_DIR: state_dir = optarg; break;
		case OPT_PASSWORD_FILE: password_file = optarg; break;
		case OPT_GENERATE: generate = true; break;
		case OPT_ACTIVE: active = true; break;
		case OPT_HELP: usage(stdout); return EXIT_OK;
		case OPT_VERSION: printf("ls11cloud-admin %s\n", PACKAGE_VERSION); return EXIT_OK;
		default:
			return usage_error(_("unknown option or missing value: %s"),
			                   argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return usage_error(_("a command is needed"));
	cmd = argv[0];
	ls_log_set_handler(log_handler, NULL);

	/* Options that only some commands take. */
	password_cmd = strcmp(cmd, "user") == 0 && argc >= 2 &&
	               (strcmp(argv[1], "add") == 0 || strcmp(argv[1], "password") == 0);
	if ((password_file != NULL || generate) && !password_cmd)
		return usage_error(_("--password-file and --generate go with user add and user "
		                     "password only"));
	if (password_cmd && password_file != NULL && generate)
		return usage_error(_("give either --password-file or --generate, not both"));
	if (password_cmd && password_file == NULL && !generate)
		return usage_error(_("user %s needs --password-file FILE or --generate"), argv[1]);
	if (active && !(password_cmd ||
	                (strcmp(cmd, "user") == 0 && argc >= 2 && strcmp(argv[1], "import") == 0)))
		return usage_error(_("--active goes with user add, user password and user import "
		                     "only"));

	if ((r = ls_crypto_init()) != LS_OK) {
		msg(_("the GOST crypto backend cannot start: %s"), ls_strerror(r));
		return EXIT_FAIL;
	}
	if (strcmp(cmd, "fingerprint") == 0 ||
	    (strcmp(cmd, "server-key") == 0 && argc == 2 && strcmp(argv[1], "show") == 0)) {
		if (argc != (strcmp(cmd, "fingerprint") == 0 ? 1 : 2))
			return usage_error(_("fingerprint takes no argument"));
		return cmd_server_key_show(state_dir);
	}
	if (strcmp(cmd, "server-key") == 0) {
		if (argc != 2 || strcmp(argv[1], "rotate") != 0)
			return usage_error(_("server-key: show or rotate"));
		umask(077);
		if (check_state_dir(state_dir, false) != 0)
			return EXIT_FAIL;
		return cmd_server_key_rotate(state_dir);
	}
	if (strcmp(cmd, "user") != 0 && strcmp(cmd, "token") != 0 &&
	    strcmp(cmd, "registration") != 0)
		return usage_error(_("unknown command '%s'"), cmd);
	if (strcmp(cmd, "registration") != 0 && argc < 2)
		return usage_error(_("%s: a subcommand is needed (see --help)"), cmd);

	umask(077);
	if (check_state_dir(state_dir, true) != 0)
		return EXIT_FAIL;
	if ((r = lsd_store_open(state_dir, &store)) != LS_OK) {
		msg(_("the store in %s cannot be opened: %s"), state_dir, ls_strerror(r));
		return EXIT_FAIL;
	}
	if (strcmp(cmd, "user") == 0)
		status = cmd_user(store, argc - 1, argv + 1, password_file, generate, active);
	else if (strcmp(cmd, "token") == 0)
		status = cmd_token(store, argc - 1, argv + 1);
	else
		status = cmd_registration(store, argc - 1, argv + 1);
	ls_store_close(store);
	return status;
}
