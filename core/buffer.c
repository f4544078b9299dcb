/*
 * LS11CLOUD - the bounded buffer.
 *
 * The habits of p11-kit's common/buffer.c (sticky failure flag, one check after a run of
 * writes) and OpenSSH's sshbuf (absolute cap, cursor reads that move only on success, nested
 * blobs as bounded sub-buffers, strings with a NUL rejected), plus wipe-on-release everywhere.
 *
 * Invariants: off <= len <= alloc, len <= max; the bytes in [len, alloc) are zero; a view has
 * alloc == 0 and never writes, wipes or frees its data.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "buffer.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"

#define BUF_VIEW 0x1u

/* ls_return_val_if_fail() for void functions (log.h has no such macro yet). */
#define return_if_fail(expr)                                                                      \
	do {                                                                                      \
		if (!(expr)) {                                                                    \
			ls_warning("%s: check failed: %s", __func__, #expr);                      \
			return;                                                                   \
		}                                                                                 \
	} while (0)

/* Growth starts here and doubles, so a message of n bytes costs O(log n) allocations once. */
#define BUF_MIN_ALLOC 256

static uint8_t empty_append;

static void *
default_alloc(size_t n)
{
	return calloc(1, n);
}

static void *(*buf_alloc)(size_t n) = default_alloc;
static void (*buf_release)(void *p, size_t n);

static void
storage_free(uint8_t *p, size_t alloc, size_t used)
{
	if (p == NULL)
		return;
	ls_wipe(p, used);
	if (buf_release != NULL)
		buf_release(p, alloc);
	free(p);
}

#ifdef LS11_TEST_HOOKS
void
ls_buf_test_set_allocator(void *(*alloc)(size_t n), void (*release)(void *p, size_t n))
{
	buf_alloc = alloc != NULL ? alloc : default_alloc;
	buf_release = release;
}
#endif

static inline bool
is_view(const ls_buf *buf)
{
	return (buf->flags & BUF_VIEW) != 0;
}

/* ------------------------------------------------------------------------------------------- */

void
ls_buf_init(ls_buf *buf, size_t max)
{
	return_if_fail(buf != NULL);
	memset(buf, 0, sizeof(*buf));
	buf->max = max;
	buf->status = LS_OK;
}

void
ls_buf_init_view(ls_buf *buf, const void *data, size_t len)
{
	return_if_fail(buf != NULL);
	memset(buf, 0, sizeof(*buf));
	buf->flags = BUF_VIEW;
	buf->status = LS_OK;
	if (data == NULL && len > 0) {
		ls_warning("ls_buf_init_view: NULL data with length %zu", len);
		return;
	}
	/* A view never writes through this pointer: is_view() guards every write. */
	buf->data = (uint8_t *)data;
	buf->len = len;
	buf->max = len;
}

void
ls_buf_clear(ls_buf *buf)
{
	if (buf == NULL)
		return;
	if (is_view(buf)) {
		ls_buf_init_view(buf, NULL, 0);
		return;
	}
	storage_free(buf->data, buf->alloc, buf->len);
	buf->data = NULL;
	buf->len = buf->alloc = buf->off = 0;
	buf->status = LS_OK;
}

int
ls_buf_new(size_t max, ls_buf **out)
{
	ls_buf *buf;

	ls_return_val_if_fail(out != NULL, LS_ERR_INVALID_ARG);
	*out = NULL;
	if ((buf = malloc(sizeof(*buf))) == NULL)
		return LS_ERR_NOMEM;
	ls_buf_init(buf, max);
	*out = buf;
	return LS_OK;
}

void
ls_buf_free(ls_buf *buf)
{
	if (buf == NULL)
		return;
	ls_buf_clear(buf);
	free(buf);
}

void
ls_buf_reset(ls_buf *buf)
{
	if (buf == NULL)
		return;
	if (!is_view(buf)) {
		ls_wipe(buf->data, buf->len);
		buf->len = 0;
	}
	buf->off = 0;
	buf->status = LS_OK;
}

uint8_t *
ls_buf_steal(ls_buf *buf, size_t *len)
{
	uint8_t *p;

	ls_return_val_if_fail(buf != NULL && len != NULL, NULL);
	*len = 0;
	if (is_view(buf) || buf->status != LS_OK || buf->len == 0)
		return NULL;
	p = buf->data;
	*len = buf->len;
	buf->data = NULL;
	buf->len = buf->alloc = buf->off = 0;
	return p;
}

int
ls_buf_take(ls_buf *buf, void *data, size_t len)
{
	ls_return_val_if_fail(buf != NULL, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(data != NULL || len == 0, LS_ERR_INVALID_ARG);
	ls_return_val_if_fail(!is_view(buf), LS_ERR_INVALID_ARG);
	if (len > buf->max)
		return LS_ERR_TOO_LARGE;
	storage_free(buf->data, buf->alloc, buf->len);
	buf->data = data;
	buf->len = buf->alloc = len;
	buf->off = 0;
	buf->status = LS_OK;
	return LS_OK;
}

/* ------------------------------------------------------------------------------------------- */

int
ls_buf_status(const ls_buf *buf)
{
	ls_return_val_if_fail(buf != NULL, LS_ERR_INVALID_ARG);
	return buf->status;
}

bool
ls_buf_failed(const ls_buf *buf)
{
	return buf == NULL || buf->status != LS_OK;
}

void
ls_buf_fail(ls_buf *buf, int err)
{
	return_if_fail(buf != NULL);
	if (buf->status == LS_OK)
		buf->status = err < 0 ? err : LS_ERR_INTERNAL;
}

const uint8_t *
ls_buf_data(const ls_buf *buf)
{
	ls_return_val_if_fail(buf != NULL, NULL);
	return buf->data;
}

size_t
ls_buf_len(const ls_buf *buf)
{
	ls_return_val_if_fail(buf != NULL, 0);
	return buf->len;
}

size_t
ls_buf_max(const ls_buf *buf)
{
	ls_return_val_if_fail(buf != NULL, 0);
	return buf->max;
}

size_t
ls_buf_remaining(const ls_buf *buf)
{
	ls_return_val_if_fail(buf != NULL, 0);
	return buf->len - buf->off;
}

const uint8_t *
ls_buf_cursor(const ls_buf *buf)
{
	ls_return_val_if_fail(buf != NULL, NULL);
	return buf->data != NULL ? buf->data + buf->off : NULL;
}

int
ls_buf_expect_end(const ls_buf *buf)
{
	ls_return_val_if_fail(buf != NULL, LS_ERR_INVALID_ARG);
	return buf->off == buf->len ? LS_OK : LS_ERR_TRAILING_DATA;
}

/* ------------------------------------------------------------------------------------------- */

/* Makes room for @n more bytes, or fails the buffer.  The single gate of every write. */
static bool
buf_grow(ls_buf *buf, size_t n)
{
	size_t need, want;
	uint8_t *p;

	if (buf->status != LS_OK)
		return false;
	if (is_view(buf)) {
		ls_warning("ls_buf: write to a read-only view");
		buf->status = LS_ERR_INVALID_ARG;
		return false;
	}
	if (n > buf->max - buf->len) {
		buf->status = LS_ERR_BUFFER_FULL;
		return false;
	}
	need = buf->len + n;
	if (need <= buf->alloc)
		return true;

	want = buf->alloc < BUF_MIN_ALLOC ? BUF_MIN_ALLOC : buf->alloc;
	while (want < need && want <= SIZE_MAX / 2)
		want *= 2;
	if (want < need)
		want = need;
	if (want > buf->max)
		want = buf->max;

	/* Not realloc(): the old block must be wiped before it goes back to the allocator. */
	if ((p = buf_alloc(want)) == NULL) {
		buf->status = LS_ERR_NOMEM;
		return false;
	}
	if (buf->len > 0)
		memcpy(p, buf->data, buf->len);
	storage_free(buf->data, buf->alloc, buf->len);
	buf->data = p;
	buf->alloc = want;
	return true;
}

int
ls_buf_reserve(ls_buf *buf, size_t n)
{
	ls_return_val_if_fail(buf != NULL, LS_ERR_INVALID_ARG);
	buf_grow(buf, n);
	return buf->status;
}

uint8_t *
ls_buf_append(ls_buf *buf, size_t n)
{
	uint8_t *p;

	ls_return_val_if_fail(buf != NULL, NULL);
	if (!buf_grow(buf, n))
		return NULL;
	/* A zero-length append to an unallocated buffer still succeeds: NULL means failure. */
	if (buf->data == NULL)
		return &empty_append;
	p = buf->data + buf->len;
	buf->len += n;
	return p;
}

void
ls_buf_add(ls_buf *buf, const void *data, size_t n)
{
	uint8_t *p;

	return_if_fail(buf != NULL);
	if (data == NULL && n > 0) {
		ls_warning("ls_buf_add: NULL data with length %zu", n);
		ls_buf_fail(buf, LS_ERR_INVALID_ARG);
		return;
	}
	if (n == 0)
		return;
	if ((p = ls_buf_append(buf, n)) != NULL)
		memcpy(p, data, n);
}

void
ls_buf_add_u8(ls_buf *buf, uint8_t v)
{
	ls_buf_add(buf, &v, 1);
}

void
ls_buf_add_u16(ls_buf *buf, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	ls_buf_add(buf, b, sizeof(b));
}

void
ls_buf_add_u32(ls_buf *buf, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	ls_buf_add(buf, b, sizeof(b));
}

void
ls_buf_add_u64(ls_buf *buf, uint64_t v)
{
	ls_buf_add_u32(buf, (uint32_t)(v >> 32));
	ls_buf_add_u32(buf, (uint32_t)v);
}

void
ls_buf_add_string(ls_buf *buf, const void *data, size_t n)
{
	return_if_fail(buf != NULL);
	if (n > UINT32_MAX) {
		ls_buf_fail(buf, LS_ERR_TOO_LARGE);
		return;
	}
	/* Check the room for both parts first, so a failure never leaves a dangling length. */
	if (!buf_grow(buf, n + 4))
		return;
	ls_buf_add_u32(buf, (uint32_t)n);
	ls_buf_add(buf, data, n);
}

void
ls_buf_add_cstring(ls_buf *buf, const char *str)
{
	return_if_fail(buf != NULL);
	if (str == NULL) {
		ls_warning("ls_buf_add_cstring: NULL string");
		ls_buf_fail(buf, LS_ERR_INVALID_ARG);
		return;
	}
	ls_buf_add_string(buf, str, strlen(str));
}

void
ls_buf_truncate(ls_buf *buf, size_t len)
{
	return_if_fail(buf != NULL);
	if (is_view(buf) || len >= buf->len)
		return;
	ls_wipe(buf->data + len, buf->len - len);
	buf->len = len;
	if (buf->off > len)
		buf->off = len;
}

/* ------------------------------------------------------------------------------------------- */

/* Borrows @n bytes at the cursor and advances, or leaves everything as it was. */
static int
buf_take_bytes(ls_buf *buf, size_t n, const uint8_t **p)
{
	*p = NULL;
	if (n > buf->len - buf->off)
		return LS_ERR_TRUNCATED;
	if (n > 0)
		*p = buf->data + buf->off;
	buf->off += n;
	return LS_OK;
}

int
ls_buf_get_u8(ls_buf *buf, uint8_t *v)
{
	const uint8_t *p;
	int r;

	ls_return_val_if_fail(buf != NULL && v != NULL, LS_ERR_INVALID_ARG);
	*v = 0;
	if ((r = buf_take_bytes(buf, 1, &p)) != LS_OK)
		return r;
	*v = p[0];
	return LS_OK;
}

int
ls_buf_get_u16(ls_buf *buf, uint16_t *v)
{
	const uint8_t *p;
	int r;

	ls_return_val_if_fail(buf != NULL && v != NULL, LS_ERR_INVALID_ARG);
	*v = 0;
	if ((r = buf_take_bytes(buf, 2, &p)) != LS_OK)
		return r;
	*v = (uint16_t)(p[0] << 8 | p[1]);
	return LS_OK;
}

int
ls_buf_get_u32(ls_buf *buf, uint32_t *v)
{
	const uint8_t *p;
	int r;

	ls_return_val_if_fail(buf != NULL && v != NULL, LS_ERR_INVALID_ARG);
	*v = 0;
	if ((r = buf_take_bytes(buf, 4, &p)) != LS_OK)
		return r;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return LS_OK;
}

int
ls_buf_get_u64(ls_buf *buf, uint64_t *v)
{
	const uint8_t *p;
	uint64_t x = 0;
	int r, i;

	ls_return_val_if_fail(buf != NULL && v != NULL, LS_ERR_INVALID_ARG);
	*v = 0;
	if ((r = buf_take_bytes(buf, 8, &p)) != LS_OK)
		return r;
	for (i = 0; i < 8; i++)
		x = x << 8 | p[i];
	*v = x;
	return LS_OK;
}

int
ls_buf_get_bytes(ls_buf *buf, void *out, size_t n)
{
	const uint8_t *p;
	int r;

	ls_return_val_if_fail(buf != NULL && (out != NULL || n == 0), LS_ERR_INVALID_ARG);
	if ((r = buf_take_bytes(buf, n, &p)) != LS_OK) {
		if (n > 0)
			memset(out, 0, n);
		return r;
	}
	if (n > 0)
		memcpy(out, p, n);
	return LS_OK;
}

int
ls_buf_get_ptr(ls_buf *buf, size_t n, const uint8_t **p)
{
	ls_return_val_if_fail(buf != NULL && p != NULL, LS_ERR_INVALID_ARG);
	return buf_take_bytes(buf, n, p);
}

int
ls_buf_skip(ls_buf *buf, size_t n)
{
	const uint8_t *p;

	ls_return_val_if_fail(buf != NULL, LS_ERR_INVALID_ARG);
	return buf_take_bytes(buf, n, &p);
}

int
ls_buf_get_string(ls_buf *buf, size_t cap, const uint8_t **p, size_t *len)
{
	const uint8_t *hdr;
	uint32_t n;

	ls_return_val_if_fail(buf != NULL && p != NULL && len != NULL, LS_ERR_INVALID_ARG);
	*p = NULL;
	*len = 0;
	if (buf->len - buf->off < 4)
		return LS_ERR_TRUNCATED;
	hdr = buf->data + buf->off;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (n > cap)
		return LS_ERR_TOO_LARGE;
	if (n > buf->len - buf->off - 4)
		return LS_ERR_TRUNCATED;
	buf->off += 4;
	*len = n;
	if (n > 0)
		*p = buf->data + buf->off;
	buf->off += n;
	return LS_OK;
}

int
ls_buf_get_cstring(ls_buf *buf, size_t cap, char **str, size_t *len)
{
	const uint8_t *p;
	size_t n, save;
	char *s;
	int r;

	ls_return_val_if_fail(buf != NULL && str != NULL, LS_ERR_INVALID_ARG);
	*str = NULL;
	if (len != NULL)
		*len = 0;
	/* A C string cannot be SIZE_MAX long: keep n + 1 from wrapping. */
	if (cap >= SIZE_MAX)
		cap = SIZE_MAX - 1;
	save = buf->off;
	if ((r = ls_buf_get_string(buf, cap, &p, &n)) != LS_OK)
		return r;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		buf->off = save;
		return LS_ERR_MALFORMED;
	}
	if ((s = malloc(n + 1)) == NULL) {
		buf->off = save;
		return LS_ERR_NOMEM;
	}
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	*str = s;
	if (len != NULL)
		*len = n;
	return LS_OK;
}

int
ls_buf_get_sub(ls_buf *buf, size_t cap, ls_buf *sub)
{
	const uint8_t *p;
	size_t n;
	int r;

	ls_return_val_if_fail(buf != NULL && sub != NULL, LS_ERR_INVALID_ARG);
	ls_buf_init_view(sub, NULL, 0);
	if ((r = ls_buf_get_string(buf, cap, &p, &n)) != LS_OK)
		return r;
	ls_buf_init_view(sub, p, n);
	return LS_OK;
}
