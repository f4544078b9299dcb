/*
 * LS11CLOUD - libls11cloud.so: where an account's cloud password comes from.
 *
 * The desktop keyring (Secret Service through libsecret, when the module was built with it) or,
 * only if the account says "password-store = file", a file that only its owner can read.  The
 * password lives in memory only while a handshake runs: the caller wipes it (lsc_password_free)
 * as soon as SESPAKE has consumed it.
 *
 * Keyring items use the schema LSC_SECRET_SCHEMA with the string attributes "host", "port" and
 * "nickname" (docs/client-module.md); `secret-tool store --label=... host H port P nickname N`
 * with xdg:schema LSC_SECRET_SCHEMA stores one.  Locked items are never unlocked from here (no
 * prompt can appear inside an application that loaded the module): a locked keyring is
 * LS_ERR_STATE and the connection thread tries again later.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_PKCS11_SECRET_H
#define LS11_PKCS11_SECRET_H

#include <stddef.h>

#include "account.h"
#include "log.h"

#define LSC_SECRET_SCHEMA "org.ls11cloud.Password"
#define LSC_PASSWORD_MAX 4096

typedef struct {
	char *data; /* NUL-terminated; wiped on free */
	size_t len;
} lsc_password;

/*
 * Fetches the password of @acc.  Blocks (D-Bus for the keyring).  On LS_OK *@out holds it.
 * Errors, each with a log line at @level (the connection thread lowers it for a failure
 * it already reported) that names the cause:
 *  - LS_ERR_NOT_FOUND: no such keyring item, or no password file;
 *  - LS_ERR_STATE: the keyring is locked (try again later);
 *  - LS_ERR_INVALID_ARG: the password file is not a regular file of ours with mode 0600 or
 *    stricter (refused, whatever it contains);
 *  - LS_ERR_UNSUPPORTED: password-store = keyring in a module built without libsecret;
 *  - LS_ERR_BAD_LENGTH: empty or longer than LSC_PASSWORD_MAX;
 *  - LS_ERR_IO: the keyring service or the file could not be read.
 */
int lsc_password_get(const lsc_account *acc, lsc_password *out, ls_log_level level);

/* Wipes and frees; the struct is left empty.  NULL and an empty struct are accepted. */
void lsc_password_free(lsc_password *pw);

/* True when the module was built with libsecret. */
int lsc_secret_have_keyring(void);

#endif /* LS11_PKCS11_SECRET_H */
