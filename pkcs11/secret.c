/*
 * LS11CLOUD - libls11cloud.so: the cloud password from the keyring or a 0600 file.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h" /* the build configuration */

#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef LSC_HAVE_LIBSECRET
#include <libsecret/secret.h>
#endif

#include "crypto.h"
#include "errors.h"
#include "log.h"

void
lsc_password_free(lsc_password *pw)
{
	if (pw == NULL || pw->data == NULL)
		return;
	ls_wipe(pw->data, pw->len + 1);
	free(pw->data);
	pw->data = NULL;
	pw->len = 0;
}

/* Takes @len bytes at @data as the password, without one trailing newline. */
static int
password_set(lsc_password *out, const char *data, size_t len, const char *where,
             ls_log_level level)
{
	if (len > 0 && data[len - 1] == '\n')
		len--;
	if (len > 0 && data[len - 1] == '\r')
		len--;
	if (len == 0 || len > LSC_PASSWORD_MAX) {
		ls_log(level, "libls11cloud: the password in %s is %s", where,
		         len == 0 ? "empty" : "too long");
		return LS_ERR_BAD_LENGTH;
	}
	if (memchr(data, '\0', len) != NULL) {
		ls_log(level, "libls11cloud: the password in %s contains a NUL byte", where);
		return LS_ERR_BAD_LENGTH;
	}
	if ((out->data = malloc(len + 1)) == NULL)
		return LS_ERR_NOMEM;
	memcpy(out->data, data, len);
	out->data[len] = '\0';
	out->len = len;
	return LS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The file
 * ------------------------------------------------------------------------------------------- */

static int
password_from_file(const lsc_account *acc, lsc_password *out, ls_log_level level)
{
	char buf[LSC_PASSWORD_MAX + 3];
	size_t have = 0;
	struct stat st;
	int fd, err;

	fd = open(acc->pw_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		ls_log(level, "libls11cloud: account %s: cannot open the password file %s: %s", acc->id,
		         acc->pw_file, strerror(e));
		return e == ENOENT ? LS_ERR_NOT_FOUND : LS_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		ls_log(level, "libls11cloud: account %s: cannot stat %s: %s", acc->id, acc->pw_file,
		         strerror(errno));
		close(fd);
		return LS_ERR_IO;
	}
	/* Checked on the open file, so the file read is the file checked. */
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		if (!S_ISREG(st.st_mode))
			ls_log(level, "libls11cloud: account %s: the password file %s is not a regular "
			         "file; refused",
			         acc->id, acc->pw_file);
		else if (st.st_uid != geteuid())
			ls_log(level, "libls11cloud: account %s: the password file %s belongs to uid %lu, "
			         "not to this user; refused",
			         acc->id, acc->pw_file, (unsigned long)st.st_uid);
		else
			ls_log(level, "libls11cloud: account %s: the password file %s has mode %04o: "
			         "others can read it, refused (chmod 600 %s)",
			         acc->id, acc->pw_file, (unsigned)(st.st_mode & 07777), acc->pw_file);
		close(fd);
		return LS_ERR_INVALID_ARG;
	}
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ls_log(level, "libls11cloud: account %s: cannot read %s: %s", acc->id,
			         acc->pw_file, strerror(errno));
			close(fd);
			ls_wipe(buf, have);
			return LS_ERR_IO;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if (have == sizeof(buf))
			break;
	}
	close(fd);
	err = password_set(out, buf, have, acc->pw_file, level);
	ls_wipe(buf, sizeof(buf));
	return err;
}

/* ---------------------------------------------------------------------------------------------
 * The keyring
 * ------------------------------------------------------------------------------------------- */

#ifdef LSC_HAVE_LIBSECRET

static const SecretSchema lsc_schema = {
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

int
lsc_secret_have_keyring(void)
{
	return 1;
}

static int
password_from_keyring(const lsc_account *acc, lsc_password *out, ls_log_level level)
{
	SecretService *service = NULL;
	GHashTable *attrs = NULL;
	GList *items = NULL, *l;
	GError *error = NULL;
	char port[8];
	bool locked = false;
	int err = LS_ERR_NOT_FOUND;

	snprintf(port, sizeof(port), "%u", (unsigned)acc->port);
	/*
	 * A private connection to the service each time: the shared one would be the parent's
	 * after a fork(), and the cost is one D-Bus connection per handshake.
	 */
	service = secret_service_open_sync(SECRET_TYPE_SERVICE, NULL, SECRET_SERVICE_OPEN_SESSION,
	                                   NULL, &error);
	if (service == NULL) {
		ls_log(level, "libls11cloud: account %s: the desktop keyring (Secret Service) is not "
		         "available: %s",
		         acc->id, error != NULL ? error->message : "unknown error");
		g_clear_error(&error);
		return LS_ERR_IO;
	}
	attrs = secret_attributes_build(&lsc_schema, "host", acc->host, "port", port, "nickname",
	                                acc->nickname, NULL);
	/* No SECRET_SEARCH_UNLOCK: a prompt must never appear from inside an application. */
	items = secret_service_search_sync(service, &lsc_schema, attrs,
	                                   SECRET_SEARCH_LOAD_SECRETS | SECRET_SEARCH_ALL, NULL,
	                                   &error);
	if (error != NULL) {
		ls_log(level, "libls11cloud: account %s: keyring search failed: %s", acc->id,
		         error->message);
		g_clear_error(&error);
		err = LS_ERR_IO;
		goto out;
	}
	for (l = items; l != NULL; l = l->next) {
		SecretItem *item = l->data;
		SecretValue *value;
		const char *data;
		gsize len = 0;

		if (secret_item_get_locked(item)) {
			locked = true;
			continue;
		}
		if ((value = secret_item_get_secret(item)) == NULL)
			continue;
		data = secret_value_get(value, &len);
		err = password_set(out, data, len, "the keyring item", level);
		secret_value_unref(value);
		goto out;
	}
	if (locked) {
		ls_log(level, "libls11cloud: account %s: the keyring is locked; the token appears once "
		           "it is unlocked",
		           acc->id);
		err = LS_ERR_STATE;
	} else {
		ls_log(level, "libls11cloud: account %s: no password in the keyring for %s@%s:%s",
		         acc->id, acc->nickname, acc->host, port);
	}
out:
	g_list_free_full(items, g_object_unref);
	if (attrs != NULL)
		g_hash_table_unref(attrs);
	g_object_unref(service);
	return err;
}

#else

int
lsc_secret_have_keyring(void)
{
	return 0;
}

static int
password_from_keyring(const lsc_account *acc, lsc_password *out, ls_log_level level)
{
	(void)out;
	ls_log(level, "libls11cloud: account %s: password-store = keyring, but this module was built "
	         "without libsecret; add the password as a 0600 file (password-store = file)",
	         acc->id);
	return LS_ERR_UNSUPPORTED;
}

#endif

int
lsc_password_get(const lsc_account *acc, lsc_password *out, ls_log_level level)
{
	ls_return_val_if_fail(acc != NULL && out != NULL, LS_ERR_INVALID_ARG);
	out->data = NULL;
	out->len = 0;
	if (acc->pw_store == LSC_PW_FILE)
		return password_from_file(acc, out, level);
	return password_from_keyring(acc, out, level);
}
