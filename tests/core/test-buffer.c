/*
 * core/buffer.c: caps, sticky failure, cursor reads that move only on success, strings with
 * NULs, sub-buffers, views, steal/take, and wipe-on-release observed through the test
 * allocator hook.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "crypto.h"
#include "test-util.h"

/* ---- a recording allocator: every block given back must have been wiped ----------------- */

static size_t released_blocks;
static size_t released_dirty;
static int alloc_budget = -1; /* allocations left before failing; -1 = unlimited */

static void *
rec_alloc(size_t n)
{
	/* Refuse what the machine cannot have (ASan would abort on the real calloc). */
	if (alloc_budget == 0 || n > ((size_t)1 << 30))
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	return calloc(1, n);
}

static void
rec_release(void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	released_blocks++;
	for (i = 0; i < n; i++) {
		if (b[i] != 0) {
			released_dirty++;
			break;
		}
	}
}

static void
rec_setup(void)
{
	released_blocks = released_dirty = 0;
	alloc_budget = -1;
	ls_buf_test_set_allocator(rec_alloc, rec_release);
}

static void
rec_teardown(void)
{
	ls_buf_test_set_allocator(NULL, NULL);
}

TestSuite(buffer, .init = rec_setup, .fini = rec_teardown);

/* ---- writes ------------------------------------------------------------------------------ */

Test(buffer, integers_are_big_endian)
{
	TEST_HEX(want, "ab 1234 deadbeef 0102030405060708 00000003 616263 00000000");
	ls_buf b;

	ls_buf_init(&b, 64);
	cr_assert_eq(ls_buf_len(&b), 0);
	cr_assert_null(ls_buf_data(&b), "nothing is allocated before the first write");
	ls_buf_add_u8(&b, 0xab);
	ls_buf_add_u16(&b, 0x1234);
	ls_buf_add_u32(&b, 0xdeadbeef);
	ls_buf_add_u64(&b, 0x0102030405060708ull);
	ls_buf_add_cstring(&b, "abc");
	ls_buf_add_string(&b, NULL, 0);
	cr_assert_eq(ls_buf_status(&b), LS_OK);
	cr_assert_eq(ls_buf_len(&b), want_len);
	cr_assert_arr_eq(ls_buf_data(&b), want, want_len);
	ls_buf_clear(&b);
}

Test(buffer, cap_is_absolute_and_failure_is_sticky)
{
	uint8_t ten[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	ls_buf b;

	ls_buf_init(&b, 12);
	ls_buf_add(&b, ten, 10);
	ls_buf_add_u16(&b, 0x0b0c);
	cr_assert_eq(ls_buf_status(&b), LS_OK, "filling exactly to the cap is fine");
	cr_assert_eq(ls_buf_len(&b), 12);

	ls_buf_add_u8(&b, 0xff);
	cr_assert_eq(ls_buf_status(&b), LS_ERR_BUFFER_FULL);
	cr_assert(ls_buf_failed(&b));
	cr_assert_eq(ls_buf_len(&b), 12, "a failed write writes nothing");

	/* Make room: truncation does not clear the failure, so later writes stay no-ops. */
	ls_buf_truncate(&b, 4);
	ls_buf_add_u8(&b, 0xee);
	cr_assert_eq(ls_buf_len(&b), 4, "writes after a failure are no-ops even when they would fit");
	cr_assert_null(ls_buf_append(&b, 1));
	ls_buf_fail(&b, LS_ERR_MALFORMED);
	cr_assert_eq(ls_buf_status(&b), LS_ERR_BUFFER_FULL, "the first error is the one reported");

	ls_buf_reset(&b);
	cr_assert_eq(ls_buf_status(&b), LS_OK, "reset clears the failure");
	ls_buf_add_u8(&b, 0xee);
	cr_assert_eq(ls_buf_len(&b), 1);
	cr_assert_eq(ls_buf_data(&b)[0], 0xee);
	ls_buf_clear(&b);
}

Test(buffer, zero_cap_refuses_every_byte)
{
	ls_buf b;

	ls_buf_init(&b, 0);
	ls_buf_add(&b, NULL, 0);
	cr_assert_eq(ls_buf_status(&b), LS_OK, "an empty write fits in an empty cap");
	cr_assert_not_null(ls_buf_append(&b, 0), "a zero-length append succeeds");
	ls_buf_add_u8(&b, 0);
	cr_assert_eq(ls_buf_status(&b), LS_ERR_BUFFER_FULL);
	ls_buf_clear(&b);
}

Test(buffer, huge_write_does_not_wrap_the_cap_check)
{
	ls_buf b;

	ls_buf_init(&b, SIZE_MAX);
	ls_buf_add_u8(&b, 1);
	cr_assert_null(ls_buf_append(&b, SIZE_MAX));
	cr_assert_eq(ls_buf_status(&b), LS_ERR_BUFFER_FULL);
	ls_buf_clear(&b);

	ls_buf_init(&b, SIZE_MAX);
	cr_assert_null(ls_buf_append(&b, SIZE_MAX / 2), "an impossible allocation fails cleanly");
	cr_assert_eq(ls_buf_status(&b), LS_ERR_NOMEM);
	ls_buf_clear(&b);
}

Test(buffer, string_prefix_is_not_written_without_room_for_the_body)
{
	ls_buf b;

	ls_buf_init(&b, 8);
	ls_buf_add_string(&b, "12345", 5);
	cr_assert_eq(ls_buf_status(&b), LS_ERR_BUFFER_FULL);
	cr_assert_eq(ls_buf_len(&b), 0, "no dangling length prefix");
	ls_buf_clear(&b);

	ls_buf_init(&b, 8);
	ls_buf_add_cstring(&b, NULL);
	cr_assert_eq(ls_buf_status(&b), LS_ERR_INVALID_ARG);
	ls_buf_clear(&b);
}

Test(buffer, growth_keeps_every_byte_up_to_the_cap)
{
	const size_t n = 100000;
	ls_buf b;
	size_t i;

	ls_buf_init(&b, n);
	for (i = 0; i < n; i++)
		ls_buf_add_u8(&b, (uint8_t)(i * 7));
	cr_assert_eq(ls_buf_status(&b), LS_OK);
	ls_buf_add_u8(&b, 0);
	cr_assert_eq(ls_buf_status(&b), LS_ERR_BUFFER_FULL);
	cr_assert_eq(ls_buf_len(&b), n);
	for (i = 0; i < n; i++)
		cr_assert_eq(ls_buf_data(&b)[i], (uint8_t)(i * 7));
	cr_assert_eq(b.alloc, n, "the allocation never exceeds the cap");
	ls_buf_clear(&b);
}

Test(buffer, append_and_reserve)
{
	uint8_t *p;
	ls_buf b;

	ls_buf_init(&b, 4096);
	cr_assert_eq(ls_buf_reserve(&b, 3000), LS_OK);
	p = ls_buf_append(&b, 3000);
	cr_assert_not_null(p);
	for (size_t i = 0; i < 3000; i++)
		cr_assert_eq(p[i], 0, "appended bytes start zeroed");
	memset(p, 0x5a, 3000);
	cr_assert_eq(released_blocks, 0, "the reservation made the append allocation-free");
	cr_assert_eq(ls_buf_reserve(&b, 2000), LS_ERR_BUFFER_FULL, "reserving past the cap fails");
	cr_assert(ls_buf_failed(&b));
	ls_buf_clear(&b);
}

Test(buffer, allocation_failure_is_sticky_nomem)
{
	ls_buf b;

	ls_buf_init(&b, 1 << 20);
	alloc_budget = 1;
	ls_buf_add(&b, "x", 1); /* first block: BUF_MIN_ALLOC */
	cr_assert_eq(ls_buf_status(&b), LS_OK);
	cr_assert_null(ls_buf_append(&b, 10000), "growth fails when the allocator does");
	cr_assert_eq(ls_buf_status(&b), LS_ERR_NOMEM);
	cr_assert_eq(ls_buf_len(&b), 1, "the old contents survive a failed growth");
	cr_assert_eq(ls_buf_data(&b)[0], 'x');
	alloc_budget = -1;
	ls_buf_add_u8(&b, 1);
	cr_assert_eq(ls_buf_len(&b), 1, "still failed after the allocator recovers");
	ls_buf_clear(&b);
}

/* ---- reads ------------------------------------------------------------------------------- */

Test(buffer, reads_advance_only_on_success)
{
	TEST_HEX(bytes, "0102 03");
	uint32_t v32 = 0xdeadbeef;
	uint64_t v64 = 1;
	uint16_t v16 = 0;
	uint8_t v8 = 0, two[2] = { 0xaa, 0xbb }, four[4] = { 9, 9, 9, 9 };
	const uint8_t *p = bytes;
	ls_buf b;

	ls_buf_init_view(&b, bytes, bytes_len);
	cr_assert_eq(ls_buf_get_u32(&b, &v32), LS_ERR_TRUNCATED);
	cr_assert_eq(v32, 0, "the out-parameter is cleared on failure");
	cr_assert_eq(ls_buf_get_u64(&b, &v64), LS_ERR_TRUNCATED);
	cr_assert_eq(v64, 0);
	cr_assert_eq(ls_buf_get_bytes(&b, four, 4), LS_ERR_TRUNCATED);
	cr_assert_arr_eq(four, ((uint8_t[4]){ 0 }), 4);
	cr_assert_eq(ls_buf_get_ptr(&b, 4, &p), LS_ERR_TRUNCATED);
	cr_assert_null(p);
	cr_assert_eq(ls_buf_skip(&b, 4), LS_ERR_TRUNCATED);
	cr_assert_eq(ls_buf_remaining(&b), 3, "none of the failures moved the cursor");

	cr_assert_eq(ls_buf_get_u16(&b, &v16), LS_OK);
	cr_assert_eq(v16, 0x0102);
	cr_assert_eq(ls_buf_expect_end(&b), LS_ERR_TRAILING_DATA);
	cr_assert_eq(ls_buf_get_bytes(&b, two, 2), LS_ERR_TRUNCATED);
	cr_assert_eq(ls_buf_get_u8(&b, &v8), LS_OK);
	cr_assert_eq(v8, 3);
	cr_assert_eq(ls_buf_expect_end(&b), LS_OK);
	cr_assert_eq(ls_buf_get_u8(&b, &v8), LS_ERR_TRUNCATED);
	cr_assert_eq(ls_buf_get_bytes(&b, NULL, 0), LS_OK, "reading nothing at the end is fine");
}

Test(buffer, read_back_what_was_written)
{
	uint8_t v8, raw[3];
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;
	const uint8_t *p;
	size_t n;
	ls_buf b;

	ls_buf_init(&b, 256);
	ls_buf_add_u8(&b, 0x80);
	ls_buf_add_u16(&b, 0xfffe);
	ls_buf_add_u32(&b, 0x80000001u);
	ls_buf_add_u64(&b, UINT64_MAX - 1);
	ls_buf_add(&b, "xyz", 3);
	ls_buf_add_string(&b, "hello", 5);
	cr_assert_eq(ls_buf_status(&b), LS_OK);

	cr_assert_eq(ls_buf_get_u8(&b, &v8), LS_OK);
	cr_assert_eq(v8, 0x80);
	cr_assert_eq(ls_buf_get_u16(&b, &v16), LS_OK);
	cr_assert_eq(v16, 0xfffe);
	cr_assert_eq(ls_buf_get_u32(&b, &v32), LS_OK);
	cr_assert_eq(v32, 0x80000001u);
	cr_assert_eq(ls_buf_get_u64(&b, &v64), LS_OK);
	cr_assert_eq(v64, UINT64_MAX - 1);
	cr_assert_eq(ls_buf_get_bytes(&b, raw, 3), LS_OK);
	cr_assert_arr_eq(raw, "xyz", 3);
	cr_assert_eq(ls_buf_get_string(&b, 5, &p, &n), LS_OK);
	cr_assert_eq(n, 5);
	cr_assert_arr_eq(p, "hello", 5);
	cr_assert_eq(p, ls_buf_data(&b) + ls_buf_len(&b) - 5, "strings are borrowed, not copied");
	cr_assert_eq(ls_buf_expect_end(&b), LS_OK);

	ls_buf_reset(&b);
	cr_assert_eq(ls_buf_len(&b), 0);
	cr_assert_eq(ls_buf_remaining(&b), 0);
	ls_buf_clear(&b);
}

Test(buffer, string_length_checked_against_cap_then_data)
{
	TEST_HEX(hostile, "ffffffff 41");
	TEST_HEX(short_body, "00000005 414243");
	TEST_HEX(ok, "00000003 414243 00000000");
	const uint8_t *p = hostile;
	size_t n = 99;
	ls_buf b;

	ls_buf_init_view(&b, hostile, hostile_len);
	cr_assert_eq(ls_buf_get_string(&b, 1 << 20, &p, &n), LS_ERR_TOO_LARGE);
	cr_assert_null(p);
	cr_assert_eq(n, 0);
	cr_assert_eq(ls_buf_remaining(&b), hostile_len);
	cr_assert_eq(ls_buf_get_string(&b, SIZE_MAX, &p, &n), LS_ERR_TRUNCATED,
	             "without a cap the length is still bounded by the data");
	cr_assert_eq(ls_buf_remaining(&b), hostile_len);

	ls_buf_init_view(&b, short_body, short_body_len);
	cr_assert_eq(ls_buf_get_string(&b, 5, &p, &n), LS_ERR_TRUNCATED);
	cr_assert_eq(ls_buf_get_string(&b, 4, &p, &n), LS_ERR_TOO_LARGE, "the cap is checked first");
	cr_assert_eq(ls_buf_remaining(&b), short_body_len);

	ls_buf_init_view(&b, ok, ok_len);
	cr_assert_eq(ls_buf_get_string(&b, 2, &p, &n), LS_ERR_TOO_LARGE);
	cr_assert_eq(ls_buf_get_string(&b, 3, &p, &n), LS_OK);
	cr_assert_eq(n, 3);
	cr_assert_arr_eq(p, "ABC", 3);
	cr_assert_eq(ls_buf_get_string(&b, 0, &p, &n), LS_OK, "an empty string fits any cap");
	cr_assert_eq(n, 0);
	cr_assert_null(p);
	cr_assert_eq(ls_buf_expect_end(&b), LS_OK);

	ls_buf_init_view(&b, ok, 3);
	cr_assert_eq(ls_buf_get_string(&b, 3, &p, &n), LS_ERR_TRUNCATED, "a partial length prefix");
}

Test(buffer, cstrings_reject_embedded_nul)
{
	TEST_HEX(nul, "00000004 61620063");
	TEST_HEX(trailing_nul, "00000003 616200");
	TEST_HEX(good, "00000002 6869 00000000");
	char *s = (char *)1;
	size_t n = 7;
	ls_buf b;

	ls_buf_init_view(&b, nul, nul_len);
	cr_assert_eq(ls_buf_get_cstring(&b, 64, &s, &n), LS_ERR_MALFORMED);
	cr_assert_null(s);
	cr_assert_eq(n, 0);
	cr_assert_eq(ls_buf_remaining(&b), nul_len, "a refused string leaves the cursor alone");

	ls_buf_init_view(&b, trailing_nul, trailing_nul_len);
	cr_assert_eq(ls_buf_get_cstring(&b, 64, &s, NULL), LS_ERR_MALFORMED,
	             "a NUL at the end counts too");

	ls_buf_init_view(&b, good, good_len);
	cr_assert_eq(ls_buf_get_cstring(&b, 1, &s, &n), LS_ERR_TOO_LARGE);
	cr_assert_eq(ls_buf_get_cstring(&b, 2, &s, &n), LS_OK);
	cr_assert_str_eq(s, "hi");
	cr_assert_eq(n, 2);
	free(s);
	cr_assert_eq(ls_buf_get_cstring(&b, 2, &s, &n), LS_OK);
	cr_assert_str_eq(s, "", "an empty string is a valid C string");
	free(s);
	cr_assert_eq(ls_buf_expect_end(&b), LS_OK);
}

Test(buffer, sub_buffers_bound_nested_blobs)
{
	uint8_t v8;
	uint16_t v16;
	ls_buf b, sub, inner;

	ls_buf_init(&b, 128);
	ls_buf_add_u32(&b, 5); /* outer blob: u16, then a nested blob of 1 byte would need 5 more */
	ls_buf_add_u16(&b, 0x1111);
	ls_buf_add_u8(&b, 0x22);
	ls_buf_add_u16(&b, 0x3333);
	ls_buf_add_u8(&b, 0x44); /* after the blob, in the parent */
	cr_assert_eq(ls_buf_status(&b), LS_OK);

	cr_assert_eq(ls_buf_get_sub(&b, 4, &sub), LS_ERR_TOO_LARGE);
	cr_assert_eq(ls_buf_remaining(&sub), 0, "a failed sub-buffer is an empty view");
	cr_assert_eq(ls_buf_get_sub(&b, 5, &sub), LS_OK);
	cr_assert_eq(ls_buf_remaining(&sub), 5);
	cr_assert_eq(ls_buf_remaining(&b), 1, "the parent moved past the whole blob");

	cr_assert_eq(ls_buf_get_u16(&sub, &v16), LS_OK);
	cr_assert_eq(v16, 0x1111);
	cr_assert_eq(ls_buf_get_u8(&sub, &v8), LS_OK);
	cr_assert_eq(ls_buf_expect_end(&sub), LS_ERR_TRAILING_DATA, "the blob is not consumed yet");
	cr_assert_eq(ls_buf_get_bytes(&sub, (uint8_t[3]){ 0 }, 3), LS_ERR_TRUNCATED,
	             "a sub-buffer cannot read into its parent's bytes");
	cr_assert_eq(ls_buf_get_u16(&sub, &v16), LS_OK);
	cr_assert_eq(ls_buf_expect_end(&sub), LS_OK);

	/* A sub-buffer is a read-only view: it cannot scribble over its parent. */
	ls_buf_add_u8(&sub, 0x99);
	cr_assert_eq(ls_buf_status(&sub), LS_ERR_INVALID_ARG);
	cr_assert_eq(ls_buf_data(&b)[9], 0x44);

	/* A truncated nested blob inside a sub-buffer. */
	ls_buf_init_view(&sub, (const uint8_t[]){ 0, 0, 0, 9, 1, 2 }, 6);
	cr_assert_eq(ls_buf_get_sub(&sub, 100, &inner), LS_ERR_TRUNCATED);
	cr_assert_eq(ls_buf_remaining(&sub), 6);

	cr_assert_eq(ls_buf_get_u8(&b, &v8), LS_OK);
	cr_assert_eq(v8, 0x44);
	cr_assert_eq(ls_buf_expect_end(&b), LS_OK);
	ls_buf_clear(&b);
}

Test(buffer, views_are_read_only_and_never_wipe)
{
	uint8_t mem[4] = { 1, 2, 3, 4 };
	size_t n;
	ls_buf v;

	ls_buf_init_view(&v, mem, sizeof(mem));
	cr_assert_eq(ls_buf_max(&v), 4);
	cr_assert_eq(ls_buf_data(&v), mem, "a view does not copy");
	cr_assert_null(ls_buf_append(&v, 0));
	cr_assert_eq(ls_buf_status(&v), LS_ERR_INVALID_ARG);
	cr_assert_null(ls_buf_steal(&v, &n));
	cr_assert_eq(ls_buf_take(&v, mem, 1), LS_ERR_INVALID_ARG, "a view adopts nothing");
	ls_buf_truncate(&v, 0);
	cr_assert_eq(ls_buf_len(&v), 4, "truncate leaves caller memory alone");
	ls_buf_reset(&v);
	cr_assert_eq(ls_buf_status(&v), LS_OK);
	cr_assert_eq(ls_buf_remaining(&v), 4);
	ls_buf_clear(&v);
	cr_assert_arr_eq(mem, ((uint8_t[]){ 1, 2, 3, 4 }), 4, "clearing a view keeps caller memory");
	cr_assert_eq(released_blocks, 0);
}

/* ---- ownership and wiping ---------------------------------------------------------------- */

Test(buffer, every_release_is_wiped)
{
	uint8_t secret[300];
	ls_buf *b = NULL;
	ls_buf s;

	memset(secret, 0xc3, sizeof(secret));

	/* Growth: the old block (256 bytes, full of secret) goes back wiped. */
	ls_buf_init(&s, 4096);
	ls_buf_add(&s, secret, 200);
	ls_buf_add(&s, secret, 200);
	cr_assert_eq(released_blocks, 1, "growing from 256 bytes released one block");
	cr_assert_eq(released_dirty, 0, "and it was wiped");

	/* Truncate wipes the dropped tail, reset wipes what was written but keeps the block. */
	const uint8_t *data = ls_buf_data(&s);
	ls_buf_truncate(&s, 10);
	for (size_t i = 10; i < 400; i++)
		cr_assert_eq(data[i], 0);
	ls_buf_reset(&s);
	cr_assert_eq(ls_buf_data(&s), data, "reset keeps the allocation");
	for (size_t i = 0; i < 10; i++)
		cr_assert_eq(data[i], 0);
	ls_buf_add(&s, secret, 300);
	ls_buf_clear(&s);
	cr_assert_eq(released_blocks, 2);
	cr_assert_eq(released_dirty, 0);

	/* Heap buffers and failed buffers. */
	cr_assert_eq(ls_buf_new(64, &b), LS_OK);
	ls_buf_add(b, secret, 64);
	ls_buf_add(b, secret, 1); /* fails: over the cap */
	cr_assert(ls_buf_failed(b));
	ls_buf_free(b);
	ls_buf_free(NULL);
	ls_buf_clear(NULL);
	cr_assert_eq(released_blocks, 3);
	cr_assert_eq(released_dirty, 0);
}

Test(buffer, steal_hands_over_and_take_adopts)
{
	uint8_t *p, *q;
	size_t n = 0;
	ls_buf b;

	ls_buf_init(&b, 64);
	cr_assert_null(ls_buf_steal(&b, &n), "nothing to steal from an empty buffer");
	ls_buf_add(&b, "secret", 6);
	p = ls_buf_steal(&b, &n);
	cr_assert_not_null(p);
	cr_assert_eq(n, 6);
	cr_assert_arr_eq(p, "secret", 6);
	cr_assert_eq(ls_buf_len(&b), 0, "the buffer is empty after a steal");
	cr_assert_null(ls_buf_data(&b));
	cr_assert_eq(ls_buf_max(&b), 64, "and keeps its cap");
	cr_assert_eq(released_blocks, 0, "a steal does not release the block");
	ls_buf_add(&b, "again", 5);
	cr_assert_eq(ls_buf_status(&b), LS_OK, "a stolen-from buffer is usable again");
	ls_buf_clear(&b);
	ls_free_secret(p, n);

	ls_buf_add_u8(&b, 1);
	ls_buf_add(&b, NULL, 1); /* programmer error: fails the buffer */
	cr_assert_null(ls_buf_steal(&b, &n), "a failed buffer hands out nothing");
	cr_assert_eq(n, 0);
	ls_buf_clear(&b);

	q = malloc(8);
	memcpy(q, "adopted!", 8);
	ls_buf_init(&b, 4);
	cr_assert_eq(ls_buf_take(&b, q, 8), LS_ERR_TOO_LARGE, "take respects the cap");
	ls_buf_init(&b, 8);
	cr_assert_eq(ls_buf_take(&b, q, 8), LS_OK);
	cr_assert_eq(ls_buf_data(&b), q);
	cr_assert_eq(ls_buf_remaining(&b), 8);
	ls_buf_add_u8(&b, 0);
	cr_assert_eq(ls_buf_status(&b), LS_ERR_BUFFER_FULL);
	released_blocks = 0;
	ls_buf_clear(&b);
	cr_assert_eq(released_blocks, 1, "the adopted block is released by the buffer");
	cr_assert_eq(released_dirty, 0, "wiped");
}
