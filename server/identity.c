/*
 * LS11CLOUD - the identity key file of the state directory: reading it, its fingerprint, and
 * its rotation (ls11cloud-admin server-key rotate).  Shared by ls11cloudd and the admin tool.
 *
 * A rotation never leaves the directory without a whole key: the new key goes to a temporary
 * file that is fsync'ed, the old one is hard-linked to identity.key.old, and only then is the
 * new file renamed over identity.key (atomic), the directory fsync'ed last.  The running server
 * compares the file's identity (device, inode, size, mtime) at each registration handshake and
 * loads the new key when it changed (server/state.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "crypto.h"
#include "handshake.h"
#include "log.h"

int
lsd_identity_read(const char *path, ls_gost_key **out, struct stat *st)
{
	uint8_t buf[LSD_IDENTITY_FILE_MAX + 1];
	struct stat sb;
	size_t got = 0;
	ssize_t n;
	int fd, r, saved;

	ls_return_val_if_fail(path != NULL && out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? LS_ERR_NOT_FOUND : LS_ERR_IO;
	if (fstat(fd, &sb) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return LS_ERR_IO;
	}
	while (got < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			ls_wipe(buf, sizeof(buf));
			errno = saved;
			return LS_ERR_IO;
		}
		got += (size_t)n;
	}
	close(fd);
	r = got == sizeof(buf) ? LS_ERR_TOO_LARGE : ls_gost_key_from_pkcs8(buf, got, out);
	ls_wipe(buf, sizeof(buf));
	if (r == LS_OK && st != NULL)
		*st = sb;
	return r;
}

int
lsd_identity_fingerprint_hex(const ls_gost_key *key, char hex[65])
{
	uint8_t fp[LS_HANDSHAKE_FINGERPRINT_SIZE];
	size_t i;
	int r;

	_Static_assert(2 * LS_HANDSHAKE_FINGERPRINT_SIZE + 1 == 65, "64 hex digits");
	hex[0] = '\0';
	if ((r = ls_handshake_key_fingerprint(key, fp)) != LS_OK)
		return r;
	for (i = 0; i < sizeof(fp); i++)
		snprintf(hex + 2 * i, 3, "%02x", fp[i]);
	return LS_OK;
}

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int
path_of(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
lsd_identity_rotate(const char *state_dir, ls_gost_key **old_out, ls_gost_key **new_out)
{
	char path[4096], old_path[4096], tmp[4096];
	ls_gost_key *old = NULL, *key = NULL;
	struct stat st;
	uint8_t *der = NULL;
	size_t der_len = 0;
	int fd = -1, r;

	if (old_out != NULL)
		*old_out = NULL;
	if (new_out != NULL)
		*new_out = NULL;
	ls_return_val_if_fail(state_dir != NULL, LS_ERR_INVALID_ARG);
	if (path_of(path, sizeof(path), state_dir, LSD_IDENTITY_FILE) != 0 ||
	    path_of(old_path, sizeof(old_path), state_dir, LSD_IDENTITY_OLD_FILE) != 0 ||
	    path_of(tmp, sizeof(tmp), state_dir, LSD_IDENTITY_FILE ".rotate") != 0)
		return LS_ERR_BAD_LENGTH;
	/* The current key must be whole and ours: a rotation never loses it. */
	if ((r = lsd_identity_read(path, &old, &st)) != LS_OK) {
		/* A missing key is the caller's to explain (ls11cloudd makes it at first start). */
		if (r == LS_ERR_IO)
			ls_error("%s: %s", path, strerror(errno));
		else if (r != LS_ERR_NOT_FOUND)
			ls_error("%s: %s", path, ls_strerror(r));
		return r;
	}
	if ((r = ls_gost_key_generate(LS_HANDSHAKE_DEFAULT_CURVE, &key)) != LS_OK ||
	    (r = ls_gost_key_to_pkcs8(key, &der, &der_len)) != LS_OK) {
		ls_error("cannot make a new identity key: %s", ls_strerror(r));
		goto out;
	}
	r = LS_ERR_IO;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ls_error("%s: %s", tmp, strerror(errno));
		goto out;
	}
	/* Keep the owner of the key it replaces (root rotating the service's key, say). */
	if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(fd, st.st_uid, st.st_gid) != 0) {
		ls_error("%s: cannot give it the owner of %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	if (write_all(fd, der, der_len) != 0 || fsync(fd) != 0) {
		ls_error("%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		ls_error("%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	/* The old key stays reachable as identity.key.old (an older one there is replaced). */
	if (unlink(old_path) != 0 && errno != ENOENT) {
		ls_error("%s: %s", old_path, strerror(errno));
		goto out;
	}
	if (link(path, old_path) != 0) {
		ls_error("%s: %s", old_path, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		ls_error("%s: %s", path, strerror(errno));
		goto out;
	}
	if (fsync_dir(state_dir) != 0)
		ls_warning("%s: fsync: %s", state_dir, strerror(errno));
	r = LS_OK;
out:
	if (fd >= 0)
		close(fd);
	if (r != LS_OK)
		unlink(tmp);
	ls_free_secret(der, der_len);
	if (r == LS_OK && old_out != NULL) {
		*old_out = old;
		old = NULL;
	}
	if (r == LS_OK && new_out != NULL) {
		*new_out = key;
		key = NULL;
	}
	ls_gost_key_free(old);
	ls_gost_key_free(key);
	return r;
}
