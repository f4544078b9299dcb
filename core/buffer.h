/*
 * LS11CLOUD - the one bounded buffer type for everything that encodes or decodes.
 *
 * An ls_buf is a byte string with an absolute size cap fixed when it is set up, a read cursor
 * and a sticky failure status:
 *
 *  - Writes append.  The buffer grows on demand up to its cap; a write that would pass the cap
 *    (or an allocation that fails) marks the buffer failed, and every later write is a no-op.
 *    A run of writes is therefore checked once, at the end, with ls_buf_status().
 *  - Reads (ls_buf_get_*) consume from the cursor.  They return LS_OK or a negative LS_ERR_*
 *    code and advance the cursor only on success; on failure their out-parameters are cleared.
 *    Reads never touch the write status.
 *  - Owned storage is wiped whenever it is released: by ls_buf_clear(), ls_buf_free(),
 *    ls_buf_reset(), ls_buf_truncate() (the dropped tail) and when growth moves the bytes.
 *    Bytes between the length and the allocation are always zero.
 *  - A view (ls_buf_init_view(), ls_buf_get_sub()) reads caller memory without copying.  It is
 *    read-only (writes fail the view) and never wipes or frees that memory, which must outlive it.
 *
 * The struct is public so that buffers and views can live on the stack or inside other structs
 * without an allocation of their own (the channel decodes records with no allocation per
 * record); its fields are private: use the functions.
 *
 * Not thread-safe: one buffer belongs to one thread at a time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_CORE_BUFFER_H
#define LS11_CORE_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* A sensible default cap for buffers that hold one protocol message. */
#define LS_BUF_DEFAULT_MAX ((size_t)1 << 20)

typedef struct ls_buf {
	uint8_t *data;  /* storage; caller memory for a view */
	size_t len;     /* bytes written */
	size_t alloc;   /* bytes allocated (0 for a view) */
	size_t off;     /* read cursor, <= len */
	size_t max;     /* absolute cap on len */
	int status;     /* LS_OK or the first write error, sticky */
	unsigned flags; /* private */
} ls_buf;

/* ---------------------------------------------------------------------------------------------
 * Life cycle
 * ------------------------------------------------------------------------------------------- */

/* Sets up an empty, growable buffer capped at @max bytes.  Allocates nothing until written. */
void ls_buf_init(ls_buf *buf, size_t max);

/*
 * Sets up a read-only view of the @len bytes at @data (NULL only with @len 0).  Nothing is copied;
 * @data must stay valid and unchanged while the view is used.  Its cap is @len.
 */
void ls_buf_init_view(ls_buf *buf, const void *data, size_t len);

/*
 * Wipes and frees the storage of @buf and leaves it an empty buffer with the same cap (a view
 * becomes an empty view).  NULL is accepted.
 */
void ls_buf_clear(ls_buf *buf);

/* Allocates an empty buffer capped at @max.  *@out is set only on success; free with ls_buf_free. */
int ls_buf_new(size_t max, ls_buf **out);

/* Wipes, frees the storage and frees a buffer from ls_buf_new().  NULL is accepted. */
void ls_buf_free(ls_buf *buf);

/*
 * Empties @buf for reuse: wipes the written bytes, rewinds the cursor, clears the failure and
 * keeps the allocation (so a buffer reused per message allocates nothing in steady state).
 * On a view it only rewinds the cursor and clears the status.
 */
void ls_buf_reset(ls_buf *buf);

/*
 * Hands the written bytes to the caller: returns malloc'd storage holding ls_buf_len() bytes
 * (the length in *@len) and leaves @buf empty with the same cap.  The caller wipes and frees it
 * (ls_free_secret(p, len)).  Returns NULL (and *@len = 0) for a failed buffer, a view, or an
 * empty buffer.
 */
uint8_t *ls_buf_steal(ls_buf *buf, size_t *len);

/*
 * Replaces the contents of @buf with @len bytes at @data, malloc'd storage that @buf takes over
 * (it will wipe and free it).  The cursor rewinds and the status clears.  LS_ERR_TOO_LARGE if
 * @len exceeds the cap and LS_ERR_INVALID_ARG for a view; on failure @data stays the caller's.
 */
int ls_buf_take(ls_buf *buf, void *data, size_t len);

/* ---------------------------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------------------------- */

/* LS_OK, or the first write error (LS_ERR_BUFFER_FULL, LS_ERR_NOMEM, ...) since set-up/reset. */
int ls_buf_status(const ls_buf *buf);
/* True after a failed write. */
bool ls_buf_failed(const ls_buf *buf);
/* Marks @buf failed with @err (a negative code) unless it already failed: for encoders. */
void ls_buf_fail(ls_buf *buf, int err);

/* The written bytes (NULL when nothing was ever allocated) and their count. */
const uint8_t *ls_buf_data(const ls_buf *buf);
size_t ls_buf_len(const ls_buf *buf);
/* The cap given at set-up. */
size_t ls_buf_max(const ls_buf *buf);
/* Unread bytes from the cursor to the end, and a pointer to them. */
size_t ls_buf_remaining(const ls_buf *buf);
const uint8_t *ls_buf_cursor(const ls_buf *buf);

/* LS_OK when every byte has been read, LS_ERR_TRAILING_DATA otherwise. */
int ls_buf_expect_end(const ls_buf *buf);

/* ---------------------------------------------------------------------------------------------
 * Writes: sticky failure, no return value; check ls_buf_status() once after a run of writes
 * ------------------------------------------------------------------------------------------- */

/*
 * Grows the allocation so that @n more bytes fit without reallocating.  Fails the buffer
 * (LS_ERR_BUFFER_FULL) when @n more bytes would pass the cap.  Returns ls_buf_status().
 */
int ls_buf_reserve(ls_buf *buf, size_t n);

/*
 * Appends @n zero bytes and returns a pointer to them for the caller to fill in place, or NULL
 * when the buffer failed (now or before).  The pointer is valid until the next write.
 */
uint8_t *ls_buf_append(ls_buf *buf, size_t n);

/* Appends @n bytes from @data (NULL only with @n 0). */
void ls_buf_add(ls_buf *buf, const void *data, size_t n);
void ls_buf_add_u8(ls_buf *buf, uint8_t v);
/* Big-endian. */
void ls_buf_add_u16(ls_buf *buf, uint16_t v);
void ls_buf_add_u32(ls_buf *buf, uint32_t v);
void ls_buf_add_u64(ls_buf *buf, uint64_t v);
/* A byte string: 4-byte big-endian length, then the bytes.  Fails the buffer if @n > UINT32_MAX. */
void ls_buf_add_string(ls_buf *buf, const void *data, size_t n);
/* A C string as a byte string without its NUL.  NULL fails the buffer (LS_ERR_INVALID_ARG). */
void ls_buf_add_cstring(ls_buf *buf, const char *str);

/*
 * Shortens the written bytes to @len (no-op if @len >= ls_buf_len()), wiping the dropped tail
 * and pulling the cursor back if needed.  Does not clear a failure.  For undoing a partly
 * written message.
 */
void ls_buf_truncate(ls_buf *buf, size_t len);

/* ---------------------------------------------------------------------------------------------
 * Reads: from the cursor; advance only on success; out-parameters cleared on failure.
 * LS_ERR_TRUNCATED when fewer bytes remain than the item needs.
 * ------------------------------------------------------------------------------------------- */

int ls_buf_get_u8(ls_buf *buf, uint8_t *v);
/* Big-endian. */
int ls_buf_get_u16(ls_buf *buf, uint16_t *v);
int ls_buf_get_u32(ls_buf *buf, uint32_t *v);
int ls_buf_get_u64(ls_buf *buf, uint64_t *v);

/* Copies the next @n bytes to @out. */
int ls_buf_get_bytes(ls_buf *buf, void *out, size_t n);
/* Borrows the next @n bytes: *@p points into @buf, valid while @buf's storage is. */
int ls_buf_get_ptr(ls_buf *buf, size_t n, const uint8_t **p);
/* Skips @n bytes. */
int ls_buf_skip(ls_buf *buf, size_t n);

/*
 * Borrows a byte string (4-byte big-endian length + bytes).  LS_ERR_TOO_LARGE when the length
 * exceeds @cap (checked before anything else is looked at), LS_ERR_TRUNCATED when fewer bytes
 * follow.  *@p is NULL for an empty string.
 */
int ls_buf_get_string(ls_buf *buf, size_t cap, const uint8_t **p, size_t *len);

/*
 * Reads a byte string as a C string: *@str is a malloc'd NUL-terminated copy (free with free(),
 * or ls_free_secret() for a secret), *@len (may be NULL) its length.  LS_ERR_MALFORMED when the
 * bytes contain a NUL; LS_ERR_TOO_LARGE / LS_ERR_TRUNCATED as ls_buf_get_string();
 * LS_ERR_NOMEM.
 */
int ls_buf_get_cstring(ls_buf *buf, size_t cap, char **str, size_t *len);

/*
 * Reads a nested blob (a byte string) as a read-only view @sub over @buf's storage, so the
 * nested item is parsed with its own bounds and its own "fully consumed" check.  @sub must not
 * outlive @buf's storage.  Errors as ls_buf_get_string(); on failure @sub is an empty view.
 */
int ls_buf_get_sub(ls_buf *buf, size_t cap, ls_buf *sub);

#ifdef LS11_TEST_HOOKS
/*
 * Test-only: replaces the allocator of owned storage.  @alloc returns zeroed memory of @n bytes
 * (or NULL to simulate exhaustion); @release gets storage of @n bytes just before it is given
 * back (after the wipe, so a test can check it is all zero).  Storage must be free()-compatible
 * (ls_buf_steal hands it out).  NULL functions restore calloc/free.  Not thread-safe.
 */
void ls_buf_test_set_allocator(void *(*alloc)(size_t n), void (*release)(void *p, size_t n));
#endif

#endif /* LS11_CORE_BUFFER_H */
