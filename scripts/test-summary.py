#!/usr/bin/python3
"""Adds up the results of one or more `meson test` runs into the closing line
'N passed, N failed' (Criterion programs count their individual tests; other test
programs count as one each).  Exits 1 when anything failed or nothing ran.

    test-summary.py [--reports DIR] TESTLOG.json...

--reports DIR: sanitizer reports written there (log_path) by programs the tests started;
each one is printed and counts as a failure."""
import json
import os
import re
import sys

SYNTH = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)")

passed = failed = 0
args = sys.argv[1:]
if args[:1] == ["--reports"]:
    reports = args[1]
    args = args[2:]
    for name in sorted(os.listdir(reports)):
        with open(os.path.join(reports, name), encoding="utf-8", errors="replace") as f:
            print(f"== {name}\n{f.read()}")
        failed += 1
for log in args:
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            t = json.loads(line)
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            m = SYNTH.findall(out)
            ok = t.get("result") == "OK"
            if m:
                _, p, fl, cr = (int(x) for x in m[-1])
                passed += p
                failed += fl + cr
                if not ok and fl + cr == 0:
                    failed += 1  # the program failed outside its tests (sanitizer at exit, ...)
            elif ok:
                passed += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or passed == 0 else 0)
