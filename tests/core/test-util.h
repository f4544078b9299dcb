/*
 * Helpers shared by the Criterion tests.  Header-only so each test program stays one file.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TEST_UTIL_H
#define LS11_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline int
test_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes @hex (spaces allowed) into @out; aborts the test on a malformed literal. */
static inline size_t
test_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *hex; hex++) {
		int v;

		if (*hex == ' ')
			continue;
		v = test_hexval(*hex);
		cr_assert(v >= 0, "bad hex digit '%c' in a test vector", *hex);
		if (hi < 0) {
			hi = v;
		} else {
			cr_assert(n < cap, "test vector longer than its buffer");
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	cr_assert(hi < 0, "odd number of hex digits in a test vector");
	return n;
}

/* Declares `uint8_t name[]` and `size_t name_len` holding the bytes of a hex string literal. */
#define TEST_HEX(name, hex)                                                                        \
	uint8_t name[(sizeof(hex) - 1) / 2 + 1];                                                   \
	__attribute__((unused)) size_t name##_len = test_unhex((hex), name, sizeof(name))

/* Reverses @n bytes in place (GOST texts print numbers; the wire carries little-endian). */
static inline void
test_reverse(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t t = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

#endif /* LS11_TEST_UTIL_H */
