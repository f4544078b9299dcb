/*
 * LS11CLOUD - the state directory: the store, the long-term identity key, the server secret.
 *
 *   DIR/ls11cloud.db      the store (token/store-sqlite.h), with its -wal and -shm files
 *   DIR/identity.key      the GOST R 34.10-2012 identity key, PKCS#8 DER, 0600
 *   DIR/server.secret     32 random bytes behind the unknown-nickname parameters, 0600
 *
 * Both files are made at the first start (written to a temporary name, fsync'ed, then linked
 * into place, so a crash never leaves half a key) and only read afterwards - except that
 * ls11cloud-admin server-key rotate may replace identity.key (server/identity.c): the server
 * stats it at each registration handshake and loads the new key for that handshake and the
 * following ones.  Keys loaded are kept until shutdown, since a handshake borrows its key.
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

#include "crypto.h"
#include "log.h"
#include "server-private.h"

#define IDENTITY_FILE LSD_IDENTITY_FILE
#define SECRET_FILE "server.secret"
#define KEY_FILE_MAX 4096

static int
path_in(const lsd_server *srv, const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", srv->cfg->state_dir, name);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Reads a whole small file; LS_ERR_NOT_FOUND when it does not exist. */
static int
read_secret_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return LS_ERR_NOT_FOUND;
		ls_error("%s: %s", path, strerror(errno));
		return LS_ERR_IO;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
		ls_warning("%s: readable by others (mode %04o); it should be 0600", path,
		           (unsigned)(st.st_mode & 07777));
	while (got < cap && (n = read(fd, buf + got, cap - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ls_error("%s: %s", path, strerror(errno));
			close(fd);
			return LS_ERR_IO;
		}
		got += (size_t)n;
	}
	close(fd);
	if (got == cap) {
		ls_error("%s: larger than %zu bytes", path, cap - 1);
		ls_wipe(buf, cap);
		return LS_ERR_TOO_LARGE;
	}
	*len = got;
	return LS_OK;
}

/* Writes @data to @path (which must not exist) with mode 0600, all or nothing. */
static int
write_secret_file(const char *path, const uint8_t *data, size_t len)
{
	char tmp[4200];
	size_t done = 0;
	int fd, r = LS_ERR_IO;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return LS_ERR_BAD_LENGTH;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ls_error("%s: %s", tmp, strerror(errno));
		return LS_ERR_IO;
	}
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ls_error("%s: %s", tmp, strerror(errno));
			goto out;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0) {
		ls_error("%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	/* link() refuses to replace: two servers starting at once keep the first one's key. */
	if (link(tmp, path) != 0) {
		ls_error("%s: %s", path, strerror(errno));
		goto out;
	}
	r = LS_OK;
out:
	close(fd);
	unlink(tmp);
	return r;
}

static int
load_identity(lsd_server *srv)
{
	uint8_t buf[KEY_FILE_MAX + 1], fp[LS_HANDSHAKE_FINGERPRINT_SIZE];
	char path[4096], hex[2 * LS_HANDSHAKE_FINGERPRINT_SIZE + 1];
	uint8_t *der = NULL;
	size_t len = 0, der_len = 0, i;
	int r;

	if (path_in(srv, IDENTITY_FILE, path, sizeof(path)) != 0)
		return -1;
	r = read_secret_file(path, buf, sizeof(buf), &len);
	if (r == LS_ERR_NOT_FOUND) {
		ls_gost_key *key = NULL;

		if ((r = ls_gost_key_generate(LS_HANDSHAKE_DEFAULT_CURVE, &key)) != LS_OK ||
		    (r = ls_gost_key_to_pkcs8(key, &der, &der_len)) != LS_OK) {
			ls_gost_key_free(key);
			ls_error("cannot make the identity key: %s", ls_strerror(r));
			return -1;
		}
		ls_gost_key_free(key);
		r = write_secret_file(path, der, der_len);
		ls_free_secret(der, der_len);
		if (r != LS_OK)
			return -1;
		ls_info("made a new identity key: %s", path);
		if ((r = read_secret_file(path, buf, sizeof(buf), &len)) != LS_OK)
			return -1;
	} else if (r != LS_OK) {
		return -1;
	}
	r = ls_gost_key_from_pkcs8(buf, len, &srv->identity);
	ls_wipe(buf, sizeof(buf));
	if (r != LS_OK) {
		ls_error("%s: not a GOST R 34.10-2012 private key (%s)", path, ls_strerror(r));
		return -1;
	}
	if (stat(path, &srv->identity_st) != 0)
		memset(&srv->identity_st, 0, sizeof(srv->identity_st));
	srv->identity_now = srv->identity;
	if ((r = ls_handshake_key_fingerprint(srv->identity, fp)) == LS_OK) {
		for (i = 0; i < sizeof(fp); i++)
			snprintf(hex + 2 * i, 3, "%02x", fp[i]);
		ls_info("identity key %s, fingerprint %s", ls_curve_name(ls_gost_key_curve(srv->identity)),
		        hex);
	}
	return 0;
}

static int
load_secret(lsd_server *srv)
{
	uint8_t buf[LS_HANDSHAKE_SECRET_MAX + 1];
	char path[4096];
	size_t len = 0;
	int r;

	if (path_in(srv, SECRET_FILE, path, sizeof(path)) != 0)
		return -1;
	r = read_secret_file(path, buf, sizeof(buf), &len);
	if (r == LS_ERR_NOT_FOUND) {
		if ((r = ls_random_bytes(buf, sizeof(srv->secret))) != LS_OK ||
		    (r = write_secret_file(path, buf, sizeof(srv->secret))) != LS_OK) {
			ls_wipe(buf, sizeof(buf));
			ls_error("cannot make the server secret: %s", ls_strerror(r));
			return -1;
		}
		len = sizeof(srv->secret);
	} else if (r != LS_OK) {
		return -1;
	}
	if (len != sizeof(srv->secret)) {
		ls_wipe(buf, sizeof(buf));
		ls_error("%s: %zu bytes, expected %zu", path, len, sizeof(srv->secret));
		return -1;
	}
	memcpy(srv->secret, buf, sizeof(srv->secret));
	ls_wipe(buf, sizeof(buf));
	return 0;
}

struct lsd_key {
	struct lsd_key *next;
	ls_gost_key *key;
};

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

const ls_gost_key *
lsd_state_identity(lsd_server *srv)
{
	char path[4096], hex[65];
	struct lsd_key *k;
	ls_gost_key *key = NULL;
	const ls_gost_key *now;
	struct stat st, got;
	int r, err;

	if (!srv->identity_lock_ready || path_in(srv, IDENTITY_FILE, path, sizeof(path)) != 0)
		return srv->identity;
	pthread_mutex_lock(&srv->identity_lock);
	if (stat(path, &st) == 0 && !same_file(&st, &srv->identity_st)) {
		r = lsd_identity_read(path, &key, &got);
		err = errno;
		if (r == LS_OK && (k = calloc(1, sizeof(*k))) == NULL)
			r = LS_ERR_NOMEM;
		if (r == LS_OK) {
			k->key = key;
			k->next = srv->identity_loaded;
			srv->identity_loaded = k;
			srv->identity_now = key;
			srv->identity_st = got;
			if (lsd_identity_fingerprint_hex(key, hex) == LS_OK)
				ls_info("%s changed: registrations now use the key with "
				        "fingerprint %s",
				        path, hex);
		} else {
			/* Keep the key in use; say so once per version of the file. */
			ls_gost_key_free(key);
			srv->identity_st = st;
			ls_error("%s changed but cannot be used (%s); registrations keep the "
			         "previous key",
			         path, r == LS_ERR_IO ? strerror(err) : ls_strerror(r));
		}
	}
	now = srv->identity_now;
	pthread_mutex_unlock(&srv->identity_lock);
	return now;
}

void
lsd_state_free(lsd_server *srv)
{
	struct lsd_key *k;

	while ((k = srv->identity_loaded) != NULL) {
		srv->identity_loaded = k->next;
		ls_gost_key_free(k->key);
		free(k);
	}
	ls_gost_key_free(srv->identity);
	srv->identity = NULL;
	srv->identity_now = NULL;
	if (srv->identity_lock_ready)
		pthread_mutex_destroy(&srv->identity_lock);
	srv->identity_lock_ready = false;
}

int
lsd_state_prepare(lsd_server *srv)
{
	const char *dir = srv->cfg->state_dir;
	struct stat st;
	int r;

	if (pthread_mutex_init(&srv->identity_lock, NULL) != 0) {
		ls_error("cannot set up the identity key's lock");
		return -1;
	}
	srv->identity_lock_ready = true;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		ls_error("state directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ls_error("state directory %s: not a directory", dir);
		return -1;
	}
	if ((st.st_mode & 007) != 0)
		ls_warning("state directory %s is open to every user (mode %04o)", dir,
		           (unsigned)(st.st_mode & 07777));
	if ((r = lsd_store_open(dir, &srv->store)) != LS_OK) {
		ls_error("the store in %s cannot be opened: %s", dir, ls_strerror(r));
		return -1;
	}
	if (load_identity(srv) != 0 || load_secret(srv) != 0)
		return -1;
	return 0;
}
