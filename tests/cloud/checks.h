/*
 * The C cloud tests' harness: check() counts a check and prints "ok   WHAT" or "FAIL WHAT";
 * the program ends with its "N passed, N failed" line (./test.sh adds those up).  One
 * translation unit per test program includes it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LS11_TESTS_CLOUD_CHECKS_H
#define LS11_TESTS_CLOUD_CHECKS_H

#include <stdio.h>

static int passed, failed;

static void
check(int ok, const char *what)
{
	if (ok) {
		passed++;
		printf("ok   %s\n", what);
	} else {
		failed++;
		printf("FAIL %s\n", what);
	}
	fflush(stdout);
}

#endif /* LS11_TESTS_CLOUD_CHECKS_H */
