#!/usr/bin/python3
# The manual pages in data/: groff formats each with every warning on (-ww) and says nothing,
# each has the usual sections, and everything a tool's own usage text lists - its long options,
# its commands, p11conf's single-letter options - appears in its page, so the two cannot drift
# apart.  A page with a mistake in it must make groff warn (the check can fail).
#
# usage: test-man.py SOURCE_ROOT [PROGRAM HELP_OPTION PAGE]...
#
# Copyright (C) 2026 LS11CLOUD developers
# SPDX-License-Identifier: LGPL-2.1-or-later
import glob
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import checks  # noqa: E402
from checks import ok  # noqa: E402

def groff_warnings(page):
    env = dict(os.environ, LC_ALL="C.UTF-8")
    try:
        p = subprocess.run(["groff", "-man", "-ww", "-z", "-Kutf8", page], capture_output=True,
                           text=True, env=env)
    except FileNotFoundError:
        return 127, "groff is not installed (Debian package groff-base)"
    return p.returncode, p.stderr.strip()


def plain(page):
    """The page's source with the font changes and escapes that hide words removed."""
    with open(page, encoding="utf-8") as f:
        s = f.read()
    s = re.sub(r"\\f[BIRP]|\\f\(..|\\f\[[A-Z]*\]", "", s)
    s = s.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")
    # .BR a b c / .IR ...: the alternating-font macros join their arguments.
    out = []
    for line in s.splitlines():
        m = re.match(r"\.(BR|RB|IR|RI|BI|IB)\s+(.*)", line)
        if m:
            args = re.findall(r'"([^"]*)"|(\S+)', m.group(2))
            line = "".join(a or b for a, b in args)
        out.append(line)
    return "\n".join(out)


def mentioned(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def usage_items(text, prog):
    """What the usage text promises: long options, commands, single-letter options."""
    items = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
    for line in text.splitlines():
        # ls11cloud_config: "register <host> <port> <id> - register new user ..."
        m = re.match(r"^([a-z][a-z_]+)( .*)? - ", line)
        if m:
            items.add(m.group(1))
        # ls11cloud-admin: "  user add NICK ...", "  server-key show|rotate", "  fingerprint  ..."
        m = re.match(r"^\s+(user|token|registration|server-key)\s+([a-z|-]+)", line)
        if m:
            items.add(m.group(1))
            items.update(w for w in m.group(2).split("|") if len(w) > 1)
        m = re.match(r"^  ([a-z][a-z-]+)\s{2,}\S", line)
        if m:
            items.add(m.group(1))
        # p11conf: "-h display usage"
        m = re.match(r"^(-[A-Za-z]) ", line)
        if m and prog == "p11conf":
            items.add(m.group(1))
    return sorted(items)


def main():
    src = sys.argv[1]
    triples = sys.argv[2:]
    pages = sorted(glob.glob(os.path.join(src, "data", "*.[1-8]")))
    ok(len(pages) >= 3, "data/ has the manual pages", repr(pages))

    for page in pages:
        name = os.path.basename(page)
        rc, err = groff_warnings(page)
        ok(rc == 0 and err == "", "%s: groff -man -ww is silent" % name, err)
        text = plain(page)
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS"):
            ok(re.search(r"^\.SH \"?%s\"?$" % section, text, re.M),
               "%s: has the %s section" % (name, section))
        th = re.search(r"^\.TH (\S+) (\d)", text, re.M)
        ok(th and name.endswith("." + th.group(2)) and
           th.group(1).lower() == name.rsplit(".", 1)[0].lower(),
           "%s: .TH names the page and its section" % name, th.group(0) if th else "")

    # The checker itself: an undefined macro and a bad escape must be reported.
    with tempfile.TemporaryDirectory(prefix="ls11-man-") as tmp:
        bad = os.path.join(tmp, "bad.1")
        with open(bad, "w") as f:
            f.write('.TH BAD 1\n.SH NAME\nbad \\- bad\n.SH DESCRIPTION\n.XQ oops\n\\*[nosuch]\n')
        rc, err = groff_warnings(bad)
        ok(rc != 127 and err != "", "a page with mistakes makes groff warn", err)

    for i in range(0, len(triples), 3):
        exe, helpopt, page = triples[i:i + 3]
        prog = os.path.basename(exe)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
        env.update(LANG="C", LANGUAGE="")
        p = subprocess.run([exe, helpopt], capture_output=True, text=True, env=env,
                           stdin=subprocess.DEVNULL, timeout=60)
        usage = p.stdout + p.stderr
        items = usage_items(usage, prog)
        ok(p.returncode == 0 and len(items) >= 3, "%s %s prints its usage" % (prog, helpopt),
           usage)
        text = plain(page)
        missing = [w for w in items if not mentioned(text, w)]
        ok(not missing, "%s: everything %s %s lists is in %s (%d items)" %
           (prog, prog, helpopt, os.path.basename(page), len(items)),
           "missing: %s" % " ".join(missing))

    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
