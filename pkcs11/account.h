/*
 * LS11CLOUD - libls11cloud.so: the accounts of the user's configuration directory.
 *
 * The directory is $LS11CLOUD_CONFIG_DIR, else $XDG_CONFIG_HOME/ls11cloud, else
 * ~/.config/ls11cloud.  Each account is one file accounts/<id>.conf of "key = value" lines
 * (docs/client-module.md lists the keys).  Its "number" is the slot ID: chosen once when the
 * account is added and stored, so slot IDs never depend on the order of files or on which
 * accounts exist.  A file that cannot be used (no number, a number already taken, no host or
 * nickname, a bad value) is skipped with a log line that names the file and the line; the other
 * accounts still load.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_PKCS11_ACCOUNT_H
#define LS11_PKCS11_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

#define LSC_ENV_CONFIG_DIR "LS11CLOUD_CONFIG_DIR"
/* Overrides every account's timeout-ms (one network wait). */
#define LSC_ENV_TIMEOUT "LS11CLOUD_TIMEOUT_MS"
/* Overrides every account's connect-timeout-ms. */
#define LSC_ENV_CONNECT_TIMEOUT "LS11CLOUD_CONNECT_TIMEOUT_MS"

#define LSC_DEFAULT_PORT 4444
#define LSC_DEFAULT_TIMEOUT_MS 30000
#define LSC_DEFAULT_CONNECT_TIMEOUT_MS 5000
/* The largest slot number an account may have (slot IDs stay below 2^32 on every platform). */
#define LSC_ACCOUNT_NUMBER_MAX 0xFFFFFFFFUL

typedef enum {
	LSC_PW_KEYRING = 1, /* the desktop keyring (Secret Service through libsecret) */
	LSC_PW_FILE = 2,    /* a file of mode 0600 the user chose when adding the account */
} lsc_pw_store;

typedef struct {
	char *id;             /* the file name without ".conf" */
	char *path;           /* the account file */
	unsigned long number; /* the slot ID, 1..LSC_ACCOUNT_NUMBER_MAX */
	char *host;
	uint16_t port;
	char *nickname;
	char *server_key;     /* pinned server key fingerprint (lower-case hex), or NULL */
	char *label;          /* the slot description, or NULL for "LS11CLOUD <nickname>@<host>" */
	lsc_pw_store pw_store;
	char *pw_file;        /* absolute; for LSC_PW_FILE */
	int timeout_ms;       /* one network wait of a call */
	int connect_timeout_ms;
} lsc_account;

/* The configuration directory (malloc'ed), or NULL when neither variable nor HOME is usable. */
char *lsc_config_dir(void);

/*
 * Reads one account file.  Returns LS_OK and a new account in *@out, or a negative LS_ERR_*
 * (LS_ERR_MALFORMED for a file that cannot be used, with the reason logged).
 */
int lsc_account_load(const char *path, lsc_account **out);

/* NULL is accepted. */
void lsc_account_free(lsc_account *acc);

/*
 * Loads every accounts/<id>.conf of @dir, sorted by number, duplicates refused (the file whose
 * name sorts first keeps the number).  An absent directory is no accounts (LS_OK, *@n = 0).
 * *@out is a malloc'ed array (free with lsc_accounts_free), NULL when there are none.
 */
int lsc_accounts_load(const char *dir, lsc_account ***out, size_t *n);

void lsc_accounts_free(lsc_account **accs, size_t n);

#endif /* LS11_PKCS11_ACCOUNT_H */
