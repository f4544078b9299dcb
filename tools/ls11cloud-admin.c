/*
 * LS11CLOUD - ls11cloud-admin: the cloud operator's account tool (docs/server.md).
 *
 *   ls11cloud-admin [--state-dir DIR] user add NICK --password-file FILE [--active]
 *   ls11cloud-admin [--state-dir DIR] user password NICK --password-file FILE [--active]
 *   ls11cloud-admin [--state-dir DIR] user list
 *   ls11cloud-admin [--state-dir DIR] user show NICK
 *   ls11cloud-admin [--state-dir DIR] user log NICK
 *   ls11cloud-admin [--state-dir DIR] user lock|unlock NICK
 *   ls11cloud-admin [--state-dir DIR] user delete NICK
 *   ls11cloud-admin [--state-dir DIR] fingerprint
 *
 * Accounts made here (the seed's corporate flow) must change their password at their first
 * login (--active makes one that need not).  The password is read from a file (the first line;
 * "-" is standard input) so that it never appears in a process list; only its SESPAKE verifier
 * reaches the store.  Safe to run while ls11cloudd runs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "config.h"
#include "crypto.h"
#include "handshake.h"
#include "i18n.h"
#include "log.h"
#include "sespake.h"

#define DEFAULT_STATE_DIR "/var/lib/ls11cloud"
#define PASSWORD_MIN 6
#define PASSWORD_MAX 256

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: ls11cloud-admin [--state-dir DIR] COMMAND\n"
	        "\n"
	        "Commands:\n"
	        "  user add NICK --password-file FILE [--active]\n"
	        "                     create an account with an initial password (it must be\n"
	        "                     changed at the first login unless --active)\n"
	        "  user password NICK --password-file FILE [--active]\n"
	        "                     set a new password (to be changed unless --active)\n"
	        "  user list          list the accounts\n"
	        "  user show NICK     show one account\n"
	        "  user log NICK      print the account's audit log\n"
	        "  user lock NICK     refuse every login of the account\n"
	        "  user unlock NICK   allow logins again and reset the attempt counters\n"
	        "  user delete NICK   delete the account, its token and its log\n"
	        "  fingerprint        print the server identity key's fingerprint (for pinning)\n"
	        "\n"
	        "  --state-dir DIR    the server's state directory (default %s)\n"
	        "  --password-file F  the password is the first line of F (\"-\": standard input)\n"
	        "\n"
	        "A nickname is 3 to 64 ASCII letters, digits and . _ - @; a password 6 to %d\n"
	        "printable ASCII characters.\n",
	        DEFAULT_STATE_DIR, PASSWORD_MAX);
}

static void
log_handler(ls_log_level level, const char *message, void *user_data)
{
	(void)user_data;
	if (level <= LS_LOG_WARNING)
		fprintf(stderr, "ls11cloud-admin: %s\n", message);
}

/* Reads the first line of @path; 0, or -1 after saying why. */
static int
read_password(const char *path, char *pw, size_t size, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	size_t n, i;

	*len = 0;
	if (f == NULL) {
		fprintf(stderr, "ls11cloud-admin: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fgets(pw, (int)size, f) == NULL) {
		fprintf(stderr, "ls11cloud-admin: %s: no password in it\n", path);
		if (f != stdin)
			fclose(f);
		return -1;
	}
	if (f != stdin)
		fclose(f);
	n = strcspn(pw, "\r\n");
	if (pw[n] == '\0' && n == size - 1) {
		fprintf(stderr, "ls11cloud-admin: the password is longer than %d characters\n",
		        PASSWORD_MAX);
		return -1;
	}
	pw[n] = '\0';
	if (n < PASSWORD_MIN) {
		fprintf(stderr, "ls11cloud-admin: the password has %zu characters; at least %d "
		                "are needed\n",
		        n, PASSWORD_MIN);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)pw[i] < 0x20 || (unsigned char)pw[i] > 0x7e) {
			fprintf(stderr, "ls11cloud-admin: the password has a character that is not "
			                "printable ASCII at position %zu (non-Latin letters cause "
			                "encoding problems between systems)\n",
			        i + 1);
			return -1;
		}
	}
	*len = n;
	return 0;
}

static int
make_verifier(const char *password_file, ls_sespake_verifier *v)
{
	char pw[PASSWORD_MAX + 2];
	size_t len = 0;
	int r;

	if (password_file == NULL) {
		fprintf(stderr, "ls11cloud-admin: --password-file FILE is required\n");
		return -1;
	}
	if (read_password(password_file, pw, sizeof(pw), &len) != 0) {
		ls_wipe(pw, sizeof(pw));
		return -1;
	}
	r = ls_sespake_verifier_make(LS_HANDSHAKE_DEFAULT_CURVE, LS_HANDSHAKE_DEFAULT_IND, NULL,
	                             LS_HANDSHAKE_SALT_SIZE, pw, len, v);
	ls_wipe(pw, sizeof(pw));
	if (r != LS_OK) {
		fprintf(stderr, "ls11cloud-admin: cannot make the password's verifier: %s\n",
		        ls_strerror(r));
		return -1;
	}
	return 0;
}

static const char *
when(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0)
		return "never";
	localtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static int
find(ls_store *store, const char *nick, ls_store_account *a)
{
	int r = lsd_account_find(store, nick, a);

	if (r == LS_ERR_NOT_FOUND)
		fprintf(stderr, "ls11cloud-admin: no account '%s'\n", nick);
	else if (r != LS_OK)
		fprintf(stderr, "ls11cloud-admin: cannot read the account '%s': %s\n", nick,
		        ls_strerror(r));
	return r == LS_OK ? 0 : -1;
}

static int
list_cb(void *ctx, const ls_store_account *a)
{
	char t1[32], t2[32];

	(void)ctx;
	printf("%-24s %-21s created %s  last login %s\n", a->nickname,
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
		printf(" from %s", row->source);
	if (row->detail[0] != '\0')
		printf(": %s", row->detail);
	printf("\n");
	return LS_OK;
}

static int
cmd_user(ls_store *store, int argc, char **argv, const char *password_file, bool active)
{
	const char *verb = argc > 0 ? argv[0] : "";
	const char *nick = argc > 1 ? argv[1] : NULL;
	ls_sespake_verifier v;
	ls_store_account a;
	ls_store_txn *txn = NULL;
	char why[200], t[32];
	uint64_t id = 0, last;
	int r;

	if (strcmp(verb, "list") == 0 && argc == 1) {
		if ((r = ls_store_begin(store, false, &txn)) == LS_OK) {
			r = ls_store_account_list(txn, list_cb, NULL);
			ls_store_rollback(txn);
		}
		if (r != LS_OK)
			fprintf(stderr, "ls11cloud-admin: cannot list the accounts: %s\n",
			        ls_strerror(r));
		return r == LS_OK ? 0 : 1;
	}
	if (nick == NULL || argc != 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(verb, "add") == 0) {
		if (lsd_nickname_check(nick, why, sizeof(why)) != LS_OK) {
			fprintf(stderr, "ls11cloud-admin: '%s' cannot be a nickname: %s\n", nick, why);
			return 1;
		}
		if (make_verifier(password_file, &v) != 0)
			return 1;
		r = lsd_account_create(store, nick, &v,
		                       active ? LSD_ACCOUNT_ACTIVE : LSD_ACCOUNT_MUST_CHANGE_PASSWORD,
		                       NULL, "ls11cloud-admin", &id);
		ls_wipe(&v, sizeof(v));
		if (r == LS_ERR_STATE) {
			fprintf(stderr, "ls11cloud-admin: the nickname '%s' is taken\n", nick);
			return 1;
		}
		if (r != LS_OK) {
			fprintf(stderr, "ls11cloud-admin: cannot create '%s': %s\n", nick,
			        ls_strerror(r));
			return 1;
		}
		printf("account '%s' created%s\n", nick,
		       active ? "" : " (the password must be changed at the first login)");
		return 0;
	}
	if (find(store, nick, &a) != 0)
		return 1;
	if (strcmp(verb, "show") == 0) {
		printf("nickname:        %s\n", a.nickname);
		printf("state:           %s\n", lsd_account_state_name(a.state));
		printf("created:         %s\n", when(a.created_at, t, sizeof(t)));
		printf("password set:    %s\n", when(a.password_changed_at, t, sizeof(t)));
		printf("last login:      %s%s%s\n", when(a.last_login_at, t, sizeof(t)),
		       a.last_login_from[0] != '\0' ? " from " : "", a.last_login_from);
		printf("attempt counters C1=%u C2=%u C3=%u\n", a.c1, a.c2, a.c3);
		printf("token:           %llu\n", (unsigned long long)a.token_id);
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
		if (make_verifier(password_file, &v) != 0) {
			ls_wipe(&a, sizeof(a));
			return 1;
		}
		r = lsd_account_set_verifier(store, a.id, &v, NULL, "ls11cloud-admin");
		ls_wipe(&v, sizeof(v));
		if (r == LS_OK && !active)
			r = lsd_account_set_state(store, a.id, LSD_ACCOUNT_MUST_CHANGE_PASSWORD, NULL,
			                          "ls11cloud-admin");
		if (r == LS_OK)
			printf("password of '%s' set%s\n", nick,
			       active ? "" : " (to be changed at the next login)");
	} else if (strcmp(verb, "lock") == 0) {
		r = lsd_account_set_state(store, a.id, LSD_ACCOUNT_LOCKED, NULL, "ls11cloud-admin");
		if (r == LS_OK)
			printf("account '%s' locked\n", nick);
	} else if (strcmp(verb, "unlock") == 0) {
		r = lsd_account_set_state(store, a.id, LSD_ACCOUNT_ACTIVE, NULL, "ls11cloud-admin");
		if (r == LS_OK)
			printf("account '%s' unlocked; its attempt counters are reset\n", nick);
	} else if (strcmp(verb, "delete") == 0) {
		r = lsd_account_delete(store, a.id);
		if (r == LS_OK)
			printf("account '%s' deleted with its token and log\n", nick);
	} else {
		ls_wipe(&a, sizeof(a));
		usage(stderr);
		return 2;
	}
	ls_wipe(&a, sizeof(a));
	if (r != LS_OK) {
		fprintf(stderr, "ls11cloud-admin: user %s %s: %s\n", verb, nick, ls_strerror(r));
		return 1;
	}
	return 0;
}

static int
cmd_fingerprint(const char *state_dir)
{
	uint8_t der[4097], fp[LS_HANDSHAKE_FINGERPRINT_SIZE];
	char path[4096];
	ls_gost_key *key = NULL;
	size_t n, i;
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/identity.key", state_dir);
	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "ls11cloud-admin: %s: %s (ls11cloudd makes it at its first start)\n",
		        path, strerror(errno));
		return 1;
	}
	n = fread(der, 1, sizeof(der), f);
	fclose(f);
	r = n < sizeof(der) ? ls_gost_key_from_pkcs8(der, n, &key) : LS_ERR_TOO_LARGE;
	ls_wipe(der, sizeof(der));
	if (r == LS_OK)
		r = ls_handshake_key_fingerprint(key, fp);
	ls_gost_key_free(key);
	if (r != LS_OK) {
		fprintf(stderr, "ls11cloud-admin: %s: %s\n", path, ls_strerror(r));
		return 1;
	}
	for (i = 0; i < sizeof(fp); i++)
		printf("%02x", fp[i]);
	printf("\n");
	return 0;
}

int
main(int argc, char **argv)
{
	enum { OPT_STATE_DIR = 1000, OPT_PASSWORD_FILE, OPT_ACTIVE, OPT_HELP, OPT_VERSION };
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
		{ "active", no_argument, NULL, OPT_ACTIVE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = DEFAULT_STATE_DIR, *password_file = NULL;
	struct stat st;
	ls_store *store = NULL;
	bool active = false;
	int c, r, status;

	ls_tools_i18n_init();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE_DIR:
			state_dir = optarg;
			break;
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_ACTIVE:
			active = true;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("ls11cloud-admin %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	ls_log_set_handler(log_handler, NULL);
	if (strcmp(argv[0], "fingerprint") == 0 && argc == 1)
		return cmd_fingerprint(state_dir);
	if (strcmp(argv[0], "user") != 0 || argc < 2) {
		usage(stderr);
		return 2;
	}
	umask(077);
	if (stat(state_dir, &st) != 0) {
		if (mkdir(state_dir, 0700) != 0 || stat(state_dir, &st) != 0) {
			fprintf(stderr, "ls11cloud-admin: %s: %s\n", state_dir, strerror(errno));
			return 1;
		}
	}
	/* Files root made (the WAL, a new store) would lock the server's own user out. */
	if (geteuid() != st.st_uid) {
		fprintf(stderr,
		        "ls11cloud-admin: %s belongs to uid %u: run this as that user (for the "
		        "service: sudo -u ls11cloud ls11cloud-admin ...)\n",
		        state_dir, (unsigned)st.st_uid);
		return 1;
	}
	if ((r = lsd_store_open(state_dir, &store)) != LS_OK) {
		fprintf(stderr, "ls11cloud-admin: the store in %s cannot be opened: %s\n", state_dir,
		        ls_strerror(r));
		return 1;
	}
	status = cmd_user(store, argc - 1, argv + 1, password_file, active);
	ls_store_close(store);
	return status;
}
