"""The harness of the Python tests that need nothing but the standard library.

ok() counts a check and prints "ok   WHAT" or "FAIL WHAT DETAIL" (the detail on lines of its
own when it has several); summary() prints the closing "N passed, N failed" line that ./test.sh
adds up, and gives the exit status.  (The PyKCS11 tests have tests/module/p11test.py.)

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import sys

passed = 0
failed = 0


def ok(cond, what, detail=""):
    """Counts one check; returns whether it held."""
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        sep = "\n" if "\n" in str(detail) else " "
        print("FAIL %s%s%s" % (what, sep if detail else "", detail))
    sys.stdout.flush()
    return bool(cond)


def summary(prefix=""):
    """Prints "[PREFIX: ]N passed, N failed"; returns the exit status (1 on any failure)."""
    print("%s%d passed, %d failed" % (prefix + ": " if prefix else "", passed, failed))
    sys.stdout.flush()
    return 1 if failed else 0
