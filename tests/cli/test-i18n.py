#!/usr/bin/python3
# The tools' translations, run from the build tree (docs/i18n.md): po/ru.po passes
# `msgfmt --check`, has no untranslated or fuzzy entry and covers every _() string of the
# sources in po/POTFILES; under LANGUAGE=ru in the ru_RU.UTF-8 locale ls11cloud_config,
# p11conf and ls11cloud-admin speak Russian (unknown commands and options, the usage texts
# with their columns, "no account", an invalid nickname, the status and "user show" labels
# aligned by display width); under LANG=C, or without LS11CLOUD_LOCALEDIR pointing at the
# built catalogues, they speak English.
#
# usage: test-i18n.py SOURCE_ROOT LOCALEDIR LS11CLOUD_CONFIG P11CONF LS11CLOUD_ADMIN
#
# Copyright (C) 2026 LS11CLOUD developers
# SPDX-License-Identifier: LGPL-2.1-or-later
import os
import re
import subprocess
import sys
import tempfile
import unicodedata

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import checks  # noqa: E402
from checks import ok  # noqa: E402

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
    src, localedir, config, p11conf, admin = sys.argv[1:6]
    po = os.path.join(src, "po", "ru.po")

    # -- the catalogue itself ---------------------------------------------------------------
    p = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull, po],
                       capture_output=True, text=True)
    ok(p.returncode == 0, "msgfmt --check po/ru.po", p.stderr)
    # "N translated messages." and nothing else: no fuzzy, no untranslated entry.
    stats = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
    m = re.fullmatch(r"(\d+) translated messages?\.", stats)
    ok(m is not None and int(m.group(1)) > 0,
       "po/ru.po is complete: no fuzzy, no untranslated entry", repr(stats))
    for what, flag in (("untranslated", "--untranslated"), ("fuzzy", "--only-fuzzy")):
        p = subprocess.run(["msgattrib", flag, "--no-obsolete", po], capture_output=True,
                           text=True)
        left = [l for l in p.stdout.splitlines() if l.startswith("#:")]
        ok(p.returncode == 0 and not left, "no %s message in po/ru.po" % what,
           "\n".join(left))
    with open(po, encoding="utf-8") as f:
        text = f.read()
    ok("#~" not in text, "no obsolete (#~) entry in po/ru.po")
    for tool in ("ls11cloud_config.c", "p11conf.c", "ls11cloud-admin.c"):
        ok("#: tools/" + tool in text, "po/ru.po has the messages of tools/" + tool)

    # Every _() and N_() string of today's sources has a translation, not only those of the
    # committed template: a message added without updating po/ stops the test.
    with tempfile.TemporaryDirectory(prefix="ls11-pot-") as tmp:
        with open(os.path.join(src, "po", "POTFILES")) as f:
            files = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        pot = os.path.join(tmp, "now.pot")
        p = subprocess.run(["xgettext", "--from-code=UTF-8", "--language=C", "--keyword=_",
                            "--keyword=N_", "-o", pot] + files, cwd=src, capture_output=True,
                           text=True)
        ok(p.returncode == 0 and os.path.isfile(pot), "xgettext on po/POTFILES", p.stderr)
        merged = os.path.join(tmp, "ru.po")
        p = subprocess.run(["msgmerge", "--quiet", "--no-fuzzy-matching", "-o", merged, po,
                            pot], capture_output=True, text=True)
        ok(p.returncode == 0 and os.path.isfile(merged), "msgmerge po/ru.po with it", p.stderr)
        p = subprocess.run(["msgattrib", "--untranslated", "--no-obsolete", merged],
                           capture_output=True, text=True)
        left = [l for l in p.stdout.splitlines() if l.startswith("#:")]
        ok(p.returncode == 0 and not left,
           "po/ru.po translates every message of the sources (else: ninja -C build "
           "ls11cloud-update-po and translate)", "\n".join(left))
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

    # The key, request and import options: usage lines and errors.
    rc, out, err = run(p11conf, ["-h"], ru_env)
    ok(rc == 0 and
       "--generate-key PARAMSET  создать на токене ключевую пару ГОСТ Р 34.10-2012;\n" in out and
       "    cp-A, cp-B, cp-C, cp-XchA, cp-XchB (256 бит),\n" in out and
       "--request SUBJECT --out FILE [--der]  записать запрос PKCS#10 для ключа\n" in out and
       "--import-cert FILE  импортировать сертификат X.509 (DER или PEM) с CKA_ID\n" in out and
       "--import-p12 FILE [--p12-password PASSWORD]  импортировать ключи ГОСТ\n" in out and
       "--label LABEL  метка объекта" in out and "--id HEX  CKA_ID объекта" in out,
       "p11conf -h: key, request and import options in Russian", out)
    ok(all(width(l) <= 80 for l in out.splitlines()), "p11conf -h in Russian: lines <= 80",
       out)
    rc, out, err = run(p11conf, ["-A", "/nonexistent.so", "--generate-key", "tc26-256-A"],
                       ru_env)
    ok(rc == 2 and "--generate-key, --request, --import-cert и --import-p12 требуют -c slotID"
       in err, "p11conf --generate-key without -c, in Russian", err)
    rc, out, err = run(p11conf, ["-A", "/nonexistent.so", "-c", "0", "--generate-key", "frob"],
                       ru_env)
    ok(rc == 2 and "неизвестный набор параметров для --generate-key (см. -h)" in err,
       "p11conf unknown parameter set, in Russian", err)
    rc, out, err = run(p11conf, ["-A", "/x.so", "-c", "0", "--request", "/CN=a"], ru_env)
    ok(rc == 2 and "--request SUBJECT используется вместе с --out FILE (и --der)" in err,
       "p11conf --request without --out, in Russian", err)
    rc, out, err = run(p11conf, ["--bogus"], ru_env)
    ok(rc == 2 and "неизвестный параметр --bogus" in err, "p11conf unknown long option, in "
       "Russian", err)
    rc, out, err = run(p11conf, ["--import-p12"], ru_env)
    ok(rc == 2 and "параметру --import-p12 нужен аргумент" in err,
       "p11conf long option without its argument, in Russian", err)
    rc, out, err = run(p11conf, ["-h"], env_for("C", "ru", localedir))
    ok(rc == 0 and "--generate-key PARAMSET  generate a GOST R 34.10-2012 key pair" in out,
       "p11conf -h LANG=C: English", out)

    # -- ls11cloud-admin --------------------------------------------------------------------
    rc, out, err = run(admin, ["--help"], ru_env)
    lines = out.splitlines()
    ok(rc == 0 and lines and
       lines[0] == "использование: %s [--state-dir DIR] КОМАНДА [АРГУМЕНТЫ]" %
       os.path.basename(admin) and "Учётные записи:" in lines and "Сервер:" in lines and
       "Параметры:" in lines and
       "  user list           перечислить учётные записи" in lines and
       "  token wipe NICK     дать учётной записи новый, пустой, неинициализированный" in lines
       and "Код возврата: 0 - выполнено, 1 - ошибка, 2 - неверный вызов." in lines,
       "ls11cloud-admin --help in Russian", out)
    # Descriptions start in column 22, after the command or on a line of their own.
    entries = ("user list", "user show NICK", "user log NICK", "user lock NICK",
               "user unlock NICK", "user delete NICK", "token wipe NICK", "registration",
               "server-key show", "server-key rotate", "fingerprint", "--state-dir DIR",
               "--password-file F", "--generate", "--active")
    bad = []
    for e in entries:
        row = [l for l in lines if l[:22].rstrip() == "  " + e and len(l) > 22]
        if len(row) != 1 or not re.match("[а-яА-ЯёЁ]", row[0][22]):
            bad.append((e, row))
    cont = [l for l in lines if l.startswith("    ")]
    bad += [l for l in cont if not l.startswith(" " * 22) or l[22] == " "]
    bad += [l for l in lines if width(l) > 80]
    ok(not bad and cont, "ls11cloud-admin --help in Russian: one column, lines <= 80",
       repr(bad))
    rc, out, err = run(admin, ["frob"], ru_env)
    ok(rc == 2 and "неизвестная команда «frob»" in err and
       "Справка: «%s --help»." % os.path.basename(admin) in err,
       "ls11cloud-admin unknown command in Russian", err)
    rc, out, err = run(admin, ["--bogus"], ru_env)
    ok(rc == 2 and "неизвестный параметр или нет значения: --bogus" in err,
       "ls11cloud-admin unknown option in Russian", err)
    rc, out, err = run(admin, ["user"], ru_env)
    ok(rc == 2 and "user: нужна подкоманда (см. --help)" in err,
       "ls11cloud-admin missing subcommand in Russian", err)

    with tempfile.TemporaryDirectory(prefix="ls11-i18n-admin-") as tmp:
        state = os.path.join(tmp, "state")
        os.mkdir(state, 0o700)
        st = ["--state-dir", state]
        rc, out, err = run(admin, st + ["user", "add", "a b", "--generate"], ru_env)
        ok(rc == 1 and "«a b» не может быть ником: " in err and out == "",
           "ls11cloud-admin invalid nickname in Russian", err)
        pwfile = os.path.join(tmp, "pw")
        with open(pwfile, "w") as f:
            f.write("ab1\n")
        rc, out, err = run(admin, st + ["user", "add", "bob", "--password-file", pwfile],
                           ru_env)
        ok(rc == 1 and "пароль отклонён: он короче 6 символов" in err,
           "ls11cloud-admin short password in Russian", err)
        # A non-ASCII character at position 101: the Russian reason takes 200 bytes and a NUL.
        with open(pwfile, "w", encoding="utf-8") as f:
            f.write("Pw-1" * 25 + "\u00e9x\n")
        rc, out, err = run(admin, st + ["user", "add", "bob", "--password-file", pwfile],
                           ru_env)
        # The whole reason arrives: the translation is longer than the English in bytes.
        ok(rc == 1 and err.rstrip().endswith(
           "в нём есть нелатинские (не ASCII) символы: используйте только латинские буквы, "
           "цифры и знаки препинания"),
           "ls11cloud-admin non-ASCII password, whole reason in Russian", err)
        rc, out, err = run(admin, st + ["user", "add", "alice", "--generate"], ru_env)
        ok(rc == 0 and "учётная запись «alice» создана (пароль нужно сменить при первом "
           "входе)" in err and len(out.strip()) == 20,
           "ls11cloud-admin user add in Russian", err)
        rc, out, err = run(admin, st + ["user", "show", "alice"], ru_env)
        rows = out.splitlines()
        labels = ["ник:", "состояние:", "создана:", "пароль задан:", "последний вход:",
                  "токен:"]
        starts = set()
        for lab in labels:
            r = [l for l in rows if l.startswith(lab + " ")]
            if r:
                starts.add(width(r[0]) - width(r[0][len(lab):].lstrip()))
        ok(rc == 0 and all(any(l.startswith(lab + " ") for l in rows) for lab in labels) and
           len(starts) == 1 and "ник:             alice" in rows and
           "последний вход:  никогда" in rows and
           any(l.startswith("счётчики попыток C1=") for l in rows) and
           any("не инициализирован, объектов: 0" in l for l in rows),
           "ls11cloud-admin user show in Russian, values in one column", out)
        rc, out, err = run(admin, st + ["user", "lock", "alice"], ru_env)
        ok(rc == 0 and out == "учётная запись «alice» заблокирована\n",
           "ls11cloud-admin user lock in Russian", out + err)
        rc, out, err = run(admin, st + ["registration", "frob"], ru_env)
        ok(rc == 2 and "registration: ожидается open, closed, code или default, а не «frob»"
           in err, "ls11cloud-admin registration error in Russian", err)

        # -- English ------------------------------------------------------------------------
        c_env = env_for("C", "ru", localedir)
        rc, out, err = run(admin, ["--help"], c_env)
        ok(rc == 0 and out.startswith("usage: ") and "Accounts:\n" in out and
           "  user list           list the accounts\n" in out,
           "ls11cloud-admin --help LANG=C: English", out)
        rc, out, err = run(admin, ["frob"], c_env)
        ok(rc == 2 and "unknown command 'frob'" in err and "Try '" in err,
           "ls11cloud-admin LANG=C: English", err)
        rc, out, err = run(admin, st + ["user", "add", "a b", "--generate"], c_env)
        ok(rc == 1 and "'a b' cannot be a nickname: " in err,
           "ls11cloud-admin invalid nickname, LANG=C: English", err)
        rc, out, err = run(admin, st + ["user", "show", "alice"], env_for(ru, "ru", tmp))
        ok(rc == 0 and "nickname:        alice\n" in out and "state:           locked\n" in out,
           "ls11cloud-admin, no catalogue in LS11CLOUD_LOCALEDIR: English", out)

    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
