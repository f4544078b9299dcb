#!/usr/bin/python3
# The tools' translations, run from the build tree (docs/i18n.md): po/ru.po passes
# `msgfmt --check` and every ls11cloud_config entry in it is translated; under LANGUAGE=ru in the
# ru_RU.UTF-8 locale ls11cloud_config and p11conf speak Russian (an unknown command or option,
# the usage text, "no account", the status labels aligned by display width); under LANG=C, or
# without LS11CLOUD_LOCALEDIR pointing at the built catalogues, they speak English.
#
# usage: test-i18n.py SOURCE_ROOT LOCALEDIR LS11CLOUD_CONFIG P11CONF
#
# Copyright (C) 2026 LS11CLOUD developers
# SPDX-License-Identifier: LGPL-2.1-or-later
import os
import subprocess
import sys
import tempfile
import unicodedata

passed = 0
failed = 0


def ok(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s %s" % (what, detail))
    sys.stdout.flush()
    return bool(cond)


def locale_exists(name):
    want = name.lower().replace("utf-8", "utf8")
    out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout
    return want in [l.strip().lower() for l in out.splitlines()]


def env_for(lang, language=None, localedir=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and
           k not in ("LANG", "LANGUAGE", "LS11CLOUD_LOCALEDIR")}
    env["LANG"] = lang
    if language is not None:
        env["LANGUAGE"] = language
    if localedir is not None:
        env["LS11CLOUD_LOCALEDIR"] = localedir
    env.update(extra)
    return env


def run(prog, args, env):
    p = subprocess.run([prog] + args, capture_output=True, env=env, stdin=subprocess.DEVNULL,
                       start_new_session=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def width(s):
    return sum(0 if unicodedata.combining(c) else 1 for c in s)


def main():
    src, localedir, config, p11conf = sys.argv[1:5]
    po = os.path.join(src, "po", "ru.po")

    # -- the catalogue itself ---------------------------------------------------------------
    p = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull, po],
                       capture_output=True, text=True)
    ok(p.returncode == 0, "msgfmt --check po/ru.po", p.stderr)
    for what, flag in (("untranslated", "--untranslated"), ("fuzzy", "--only-fuzzy")):
        p = subprocess.run(["msgattrib", flag, "--no-obsolete", po], capture_output=True,
                           text=True)
        left = [l for l in p.stdout.splitlines()
                if l.startswith("#:") and "tools/ls11cloud_config.c" in l]
        ok(p.returncode == 0 and not left,
           "no %s ls11cloud_config message in po/ru.po" % what, "\n".join(left))
    mo = os.path.join(localedir, "ru", "LC_MESSAGES", "ls11cloud.mo")
    ok(os.path.isfile(mo), "the build tree has %s" % mo)

    # -- Russian ----------------------------------------------------------------------------
    ru = "ru_RU.UTF-8"
    if not locale_exists(ru):
        # glibc ignores LANGUAGE only in the "C" locale, not in C.UTF-8.
        print("note: no %s locale (scripts/deps.sh generates it as root); using C.UTF-8" % ru)
        ru = "C.UTF-8"
    ru_env = env_for(ru, "ru", localedir)
    rc, out, err = run(config, ["frob"], ru_env)
    ok(rc == 2 and "неизвестная команда «frob»" in err, "ls11cloud_config frob in Russian",
       err)
    ok("использование:" in err and "register <хост> <порт> <id>" in err and
       "-y, --yes - не спрашивать подтверждения" in err,
       "ls11cloud_config usage text in Russian", err)
    rc, out, err = run(config, ["--help"], ru_env)
    ok(rc == 0 and out.startswith("Утилита пользователя LS11CLOUD\n"),
       "ls11cloud_config --help in Russian", out)
    rc, out, err = run(config, ["status", "extra"], ru_env)
    ok(rc == 2 and "status не принимает аргументов" in err, "argument count error in Russian",
       err)

    with tempfile.TemporaryDirectory(prefix="ls11-i18n-") as tmp:
        cfg = os.path.join(tmp, "cfg")
        os.makedirs(os.path.join(cfg, "accounts"))
        rc, out, err = run(config, ["status"], env_for(ru, "ru", localedir,
                                                       LS11CLOUD_CONFIG_DIR=cfg))
        ok(rc == 1 and "нет ни одной учётной записи" in err and cfg in err,
           "no account, in Russian", err)
        # An account whose server does not answer: status prints the local part first.
        with open(os.path.join(cfg, "accounts", "alice.conf"), "w") as f:
            f.write("number = 1\nhost = 127.0.0.1\nport = 1\nnickname = alice\n"
                    "password-store = file\n")
        rc, out, err = run(config, ["status", "-p", "Secret-pw1"],
                           env_for(ru, "ru", localedir, LS11CLOUD_CONFIG_DIR=cfg))
        ok(rc == 1 and "сервер недоступен: 127.0.0.1:1" in err, "unreachable server, in Russian",
           err)
        rows = [l for l in out.splitlines() if l.startswith("  ")]
        labels = ["слот", "хост", "порт", "ник", "ключ сервера", "пароль хранится в"]
        ok(out.startswith("Учётная запись alice (") and
           all(any(r.startswith("  " + lab + " ") for r in rows) for lab in labels),
           "status labels in Russian", out)
        # The values start in one column: the labels are padded by characters, not bytes.
        cols = set()
        for r in rows:
            for value in ("1", "127.0.0.1", "alice"):
                if r.endswith(" " + value):
                    cols.add(width(r) - width(value))
        ok(len(cols) == 1 and rows, "status values aligned in one column", repr(out))

        # -- English ------------------------------------------------------------------------
        rc, out, err = run(config, ["frob"], env_for("C", "ru", localedir))
        ok(rc == 2 and 'unknown command "frob"' in err and "usage:" in err,
           "LANG=C: English (LANGUAGE ignored in the C locale)", err)
        rc, out, err = run(config, ["frob"], env_for(ru, "ru", tmp))
        ok(rc == 2 and 'unknown command "frob"' in err,
           "no catalogue in LS11CLOUD_LOCALEDIR: English", err)
        rc, out, err = run(config, ["status"], env_for("C.UTF-8", None, localedir,
                                                       LS11CLOUD_CONFIG_DIR=cfg, HOME=tmp))
        ok(rc == 1 and "Account alice (" in out and "  slot               1" in out,
           "C.UTF-8 without LANGUAGE: English status", out)

    # -- p11conf ----------------------------------------------------------------------------
    rc, out, err = run(p11conf, ["-Z"], ru_env)
    ok(rc == 2 and "неизвестный параметр -Z" in err and "Справка: «p11conf -h»." in err,
       "p11conf unknown option in Russian", err)
    rc, out, err = run(p11conf, ["-h"], ru_env)
    ok(rc == 0 and "-h показать справку" in out and "использование: p11conf" in out,
       "p11conf -h in Russian", out)
    rc, out, err = run(p11conf, ["-i"], ru_env)
    ok(rc == 2 and "нужен -A APIpath" in err, "p11conf missing -A in Russian", err)
    rc, out, err = run(p11conf, ["-Z"], env_for("C", "ru", localedir))
    ok(rc == 2 and "unknown option -Z" in err, "p11conf LANG=C: English", err)

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
