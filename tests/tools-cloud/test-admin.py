"""ls11cloud-admin against one running ls11cloudd, end to end (run by /usr/bin/python3).

    test-admin.py LS11CLOUD_CONFIG LIBLS11CLOUD

Every command while the SAME server process keeps running: usage errors; user add --generate
and the corporate flow (duplicate forces the change, the token is then initialised through
libls11cloud.so); user import (all or nothing, generated passwords that log in); registration
closed / open / code / default seen by ls11cloud_config register at once; reset-counters after
failed logins; token wipe (a new login sees an uninitialised token, and an application that had
the old token open is not served it any more); server-key rotate (a client pinning the old
fingerprint is refused with both fingerprints shown, the new one works).  Ends with
"N passed, N failed".

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import re
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cloud"))
import cloudenv  # noqa: E402
import cloudtest  # noqa: E402

TOOL = sys.argv[1]
MODULE = sys.argv[2]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + ("\n     " + detail.replace("\n", "\n     ") if detail else ""))


class World:
    def __init__(self):
        self.cloud = cloudenv.Cloud(nicknames=(), prefix="ls11-admin",
                                    server_args=["--registration", "closed",
                                                 "--resume-lease", "0"])
        self.port = str(self.cloud.port)
        self.pid = self.cloud.proc.pid

    def admin(self, *args, stdin=None):
        p = subprocess.run([cloudenv.ADMIN, "--state-dir", self.cloud.state] + list(args),
                           capture_output=True, text=True, input=stdin, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def cfgdir(self, name):
        """A client configuration directory of its own (one account in it)."""
        d = os.path.join(self.cloud.tmp, "cfg-" + name)
        os.makedirs(os.path.join(d, "accounts"), mode=0o700, exist_ok=True)
        return d

    def env(self, name):
        return self.cloud.env(LS11CLOUD_CONFIG_DIR=self.cfgdir(name))

    def config(self, name, *args):
        p = subprocess.run([TOOL] + list(args), env=self.env(name), capture_output=True,
                           text=True, start_new_session=True, stdin=subprocess.DEVNULL,
                           timeout=120)
        return p.returncode, p.stdout, p.stderr

    def register(self, name, nick, *extra):
        return self.config(name, "register", "127.0.0.1", self.port, nick, "-p", "Reg-pass-77",
                           "--store=file", *extra)

    def duplicate(self, name, nick, pw, *extra):
        return self.config(name, "duplicate", "127.0.0.1", self.port, nick, "-p", pw,
                           "--store=file", *extra)

    def client(self, name, code):
        return cloudtest.client(MODULE, code, self.env(name))

    def show(self, nick):
        return self.admin("user", "show", nick)[1]

    def same_server(self):
        return self.cloud.proc is not None and self.cloud.proc.poll() is None and \
            self.cloud.proc.pid == self.pid


def counters(show_out):
    m = re.search(r"C1=(\d+) C2=(\d+) C3=(\d+)", show_out)
    return tuple(int(x) for x in m.groups()) if m else None


# A client that initialises the token, sets the user PIN and stores a data object.
INIT_AND_STORE = """
    lib = load()
    slot = lib.getSlotList(tokenPresent=True)[0]
    lib.initToken(slot, "87654321", "corp-token".ljust(32))
    s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    s.login("87654321", CKU_SO)
    s.initPin("123456")
    s.logout()
    s.login("123456")
    s.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, True), (CKA_PRIVATE, False),
                    (CKA_LABEL, "kept-data"), (CKA_VALUE, b"hello")])
    found = s.findObjects([(CKA_LABEL, "kept-data")])
    info = lib.getTokenInfo(slot)
    out(objects=len(found), label=info.label.strip(),
        initialized=bool(info.flags & CKF_TOKEN_INITIALIZED))
"""

TOKEN_INFO = """
    lib = load()
    slot = lib.getSlotList(tokenPresent=True)[0]
    info = lib.getTokenInfo(slot)
    out(initialized=bool(info.flags & CKF_TOKEN_INITIALIZED), label=info.label.strip())
"""

# Keeps a session with the object open across the wipe, then looks again.
HOLD_OPEN = """
    lib = load()
    slot = lib.getSlotList(tokenPresent=True)[0]
    s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    s.login("123456")
    out(before=len(s.findObjects([(CKA_LABEL, "kept-data")])))
    wait_line()
    # Until the server notices (it checks once a second), or 15 s.
    res = {}
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            res["after"] = len(s.findObjects([(CKA_LABEL, "kept-data")]))
        except PyKCS11.PyKCS11Error as e:
            res["error"] = str(e)
            res["waited"] = round(15 - (deadline - time.time()), 1)
            break
        time.sleep(0.2)
    out(**res)
"""


def usage_errors(w):
    rc, out, err = w.admin()
    check("no command: exit 2, usage hint", rc == 2 and "--help" in err, err)
    rc, out, err = w.admin("--help")
    check("--help: every command on stdout, exit 0",
          rc == 0 and all(x in out for x in ("user import", "reset-counters", "token wipe",
                                             "registration code", "server-key rotate",
                                             "--generate", "Exit status")), out)
    rc, out, err = w.admin("frobnicate")
    check("unknown command: exit 2", rc == 2 and "unknown command 'frobnicate'" in err, err)
    rc, out, err = w.admin("user", "frobnicate", "x")
    check("unknown user command: exit 2", rc == 2 and "frobnicate" in err, err)
    rc, out, err = w.admin("user", "show")
    check("missing argument: exit 2", rc == 2 and "argument" in err, err)
    rc, out, err = w.admin("user", "add", "zed")
    check("user add without a password source: exit 2",
          rc == 2 and "--password-file" in err and "--generate" in err, err)
    rc, out, err = w.admin("user", "add", "zed", "--generate", "--password-file", "/dev/null")
    check("--password-file and --generate together: exit 2", rc == 2 and "not both" in err, err)
    rc, out, err = w.admin("user", "add", "al ice", "--generate")
    check("invalid nickname: exit 1, says why",
          rc == 1 and "'al ice' cannot be a nickname" in err and "position 3" in err
          and out == "", out + err)
    rc, out, err = w.admin("user", "show", "nobody")
    check("unknown account: exit 1", rc == 1 and "no account 'nobody'" in err, err)
    rc, out, err = w.admin("token", "wipe", "nobody")
    check("token wipe of an unknown account: exit 1", rc == 1 and "no account 'nobody'" in err,
          err)
    rc, out, err = w.admin("user", "reset-counters", "nobody")
    check("reset-counters of an unknown account: exit 1", rc == 1 and "nobody" in err, err)
    rc, out, err = w.admin("token", "wipe")
    check("token wipe without nickname: exit 2", rc == 2, err)
    rc, out, err = w.admin("registration", "sometimes")
    check("unknown registration policy: exit 2", rc == 2 and "sometimes" in err, err)
    rc, out, err = w.admin("registration", "code", " spaced ")
    check("a code with spaces at the ends: exit 1", rc == 1 and "printable" in err, err)
    rc, out, err = w.admin("server-key", "frob")
    check("unknown server-key command: exit 2", rc == 2, err)
    rc, out, err = w.admin("user", "list", "--generate")
    check("--generate with another command: exit 2", rc == 2, err)


def corporate_flow(w, fp):
    rc, out, err = w.admin("user", "add", "corp", "--generate")
    gen = out.strip()
    check("user add --generate prints a strong password",
          rc == 0 and re.fullmatch(r"[A-Za-z0-9]{16,}", gen) is not None
          and "must be changed" in err, out + err)
    check("the account must change its password", "must-change-password" in w.show("corp"))
    rc, out, err = w.duplicate("corp", "corp", gen)
    check("duplicate without -n: the change is forced (refused)",
          rc == 1 and "must be changed" in err, err)
    rc, out, err = w.duplicate("corp", "corp", gen, "-n", "Corp-new-pw5", "--fingerprint", fp)
    check("duplicate -n changes the generated password", rc == 0 and "password changed" in err,
          err)
    check("the account is active now", "state:           active" in w.show("corp"),
          w.show("corp"))
    rc, res, err = w.client("corp", INIT_AND_STORE)
    r = cloudtest.merged(res)
    check("the token through libls11cloud.so: initialised, an object stored",
          rc == 0 and r.get("initialized") is True and r.get("objects") == 1
          and r.get("label") == "corp-token", str(res) + err)
    show = w.show("corp")
    check("user show: the token is initialised with its object",
          'initialized, label "corp-token", 1 objects' in show, show)


def user_import(w):
    bad = ("# accounts of the accounting department\n"
           "nickname,password\n"
           "imp-ok\n"
           "bad nick\n"
           "imp-ok,Another-pw1\n"
           "corp\n"
           "imp-weak,abc\n"
           "imp-cyr,\u043f\u0430\u0440\u043e\u043b\u044c123\n")
    path = os.path.join(w.cloud.tmp, "bad.csv")
    with open(path, "w") as f:
        f.write(bad)
    rc, out, err = w.admin("user", "import", path)
    check("import with bad lines: exit 1, nothing printed", rc == 1 and out == "", out + err)
    for n, what in ((4, "'bad nick' cannot be a nickname"), (5, "already on line 3"),
                    (6, "'corp' is taken"), (7, "shorter than 6"), (8, "non-Latin")):
        check("import: line %d reported (%s)" % (n, what), "bad.csv:%d:" % n in err
              and what in err, err)
    check("import: 'nothing was created'", "nothing was created" in err, err)
    rc, out, err = w.admin("user", "list")
    check("import: no account of the bad file exists", "imp-ok" not in out, out)

    good = "nick,password\n# two accounts\nimp-gen\nimp-given , Given-pw-42\n\n"
    rc, out, err = w.admin("user", "import", "-", stdin=good)
    lines = out.splitlines()
    m = re.fullmatch(r"imp-gen,([A-Za-z0-9]{16,})", lines[0]) if len(lines) == 1 else None
    check("import from stdin: one generated password printed as nick,password",
          rc == 0 and m is not None and "Given-pw-42" not in out, out + err)
    rc, out, err = w.admin("user", "list")
    check("import: both accounts exist, must change their password",
          out.count("must-change-password") >= 2 and "imp-gen" in out and "imp-given" in out,
          out)
    if m:
        rc, out, err = w.duplicate("impgen", "imp-gen", m.group(1), "-n", "Imp-gen-new-1")
        check("the generated password of the import logs in", rc == 0, err)
    rc, out, err = w.duplicate("impgiven", "imp-given", "Given-pw-42", "-n", "Imp-given-new-2")
    check("the given password of the import logs in", rc == 0, err)

    rc, out, err = w.admin("user", "import", "-", "--active", stdin="imp-act,Active-pw-31\n")
    check("import --active: nothing generated, nothing printed", rc == 0 and out == "",
          out + err)
    check("import --active: the account is active", "state:           active"
          in w.show("imp-act"), w.show("imp-act"))

    rc, out, err = w.admin("user", "password", "imp-given", "--generate")
    gen = out.strip()
    check("user password --generate prints the new password, to be changed",
          rc == 0 and re.fullmatch(r"[A-Za-z0-9]{16,}", gen) is not None
          and "must-change-password" in w.show("imp-given"), out + err)
    rc, out, err = w.duplicate("impgiven2", "imp-given", gen, "-n", "Imp-given-new-3")
    check("... and it logs in (the change forced again)",
          rc == 0 and "password changed" in err, err)


def registration(w):
    fp = w.admin("server-key", "show")[1].strip()
    rc, out, err = w.admin("registration")
    check("registration: not set in the store at first", rc == 0 and "not set" in out, out)
    rc, out, err = w.register("r1", "reg-one", "--fingerprint", fp)
    check("closed (the server's configuration): register refused",
          rc == 1 and "does not accept registrations" in err, err)
    rc, out, err = w.admin("registration", "open")
    check("registration open", rc == 0 and "open" in out, out + err)
    rc, out, err = w.admin("registration")
    check("registration shows open", out.strip() == "registration: open", out)
    rc, out, err = w.register("r1", "reg-one", "--fingerprint", fp)
    check("open: register works", rc == 0 and "registered" in err, err)
    rc, out, err = w.admin("registration", "code")
    code = out.strip()
    check("registration code: a generated code printed",
          rc == 0 and re.fullmatch(r"[A-Za-z0-9]{16,}", code) is not None, out + err)
    rc, out, err = w.admin("registration")
    check("registration shows the policy and the code",
          "registration: code" in out and "code: " + code in out, out)
    rc, out, err = w.register("r2", "reg-two", "--fingerprint", fp)
    check("code: register without --code refused",
          rc == 1 and "requires a registration code" in err, err)
    rc, out, err = w.register("r2", "reg-two", "--fingerprint", fp, "--code", code + "x")
    check("code: a wrong code refused", rc == 1 and "requires a registration code" in err, err)
    rc, out, err = w.register("r2", "reg-two", "--fingerprint", fp, "--code", code)
    check("code: the right code registers", rc == 0, err)
    rc, out, err = w.admin("registration", "code", "Team-code-2026")
    check("registration code CODE", rc == 0, out + err)
    rc, out, err = w.register("r3", "reg-three", "--fingerprint", fp, "--code", code)
    check("the previous code no longer works", rc == 1, err)
    rc, out, err = w.register("r3", "reg-three", "--fingerprint", fp, "--code",
                              "Team-code-2026")
    check("the given code works", rc == 0, err)
    rc, out, err = w.admin("registration", "closed")
    rc, out, err = w.register("r4", "reg-four", "--fingerprint", fp)
    check("closed again: refused", rc == 1 and "does not accept registrations" in err, err)
    rc, out, err = w.admin("registration", "open")
    rc, out, err = w.admin("registration", "default")
    check("registration default", rc == 0 and "configuration applies" in out, out + err)
    rc, out, err = w.register("r4", "reg-four", "--fingerprint", fp)
    check("default: the configuration's 'closed' applies again",
          rc == 1 and "does not accept registrations" in err, err)
    check("all of it with the same server process", w.same_server())


def reset_counters(w):
    pw = os.path.join(w.cloud.tmp, "ctr.pw")
    with open(pw, "w") as f:
        f.write("Counter-pw-8\n")
    rc, out, err = w.admin("user", "add", "ctr", "--password-file", pw, "--active")
    check("user add --password-file --active", rc == 0 and out == "" and "created" in err,
          out + err)
    rc, out, err = w.duplicate("ctr", "ctr", "Counter-pw-8")
    check("ctr logs in", rc == 0, err)
    initial = counters(w.show("ctr"))
    for i in range(2):
        rc, out, err = w.config("ctr", "status", "-p", "Wrong-pass-%d" % i)
    after = counters(w.show("ctr"))
    check("two wrong passwords: counters decremented",
          initial is not None and initial[:2] == (3, 7) and after is not None
          and after == (1, 5, initial[2] - 2), "%s -> %s" % (initial, after))
    rc, out, err = w.admin("user", "reset-counters", "ctr")
    check("reset-counters", rc == 0 and "C1=3 C2=7 C3=10000" in out, out + err)
    show = w.show("ctr")
    check("user show: counters back to C1=3 C2=7 C3=10000, still active",
          counters(show) == (3, 7, 10000) and "state:           active" in show, show)
    w.admin("user", "lock", "ctr")
    for i in range(1):
        w.config("ctr", "status", "-p", "Wrong-pass-x")
    rc, out, err = w.admin("user", "reset-counters", "ctr")
    show = w.show("ctr")
    check("reset-counters of a locked account: it stays locked and says how to unlock",
          rc == 0 and "stays locked" in out and "user unlock ctr" in out
          and "state:           locked" in show and counters(show) == (3, 7, 10000),
          out + show)
    rc, out, err = w.config("ctr", "status")
    check("... and logins are still refused", rc == 1, err)
    w.admin("user", "unlock", "ctr")
    rc, out, err = w.config("ctr", "status")
    check("unlock: the login works again", rc == 0, err)
    rc, out, err = w.admin("user", "log", "ctr")
    check("the audit log records counters-reset", "counters-reset" in out, out)
    rc, out, err = w.config("ctr", "log")
    check("ls11cloud_config log names the event too", rc == 0 and "counters-reset" in out
          and "?" not in out.split(), out + err)


def token_wipe(w):
    holder = cloudtest.spawn(MODULE, HOLD_OPEN, w.env("corp"))
    try:
        before = cloudtest.read_json(holder)
        check("an application holds the token open with its object",
              before.get("before") == 1, str(before))
        rc, out, err = w.admin("token", "wipe", "corp")
        check("token wipe while the server runs", rc == 0 and "new and empty" in out,
              out + err)
        show = w.show("corp")
        check("user show: the token is not initialised and empty",
              "not initialized, 0 objects" in show, show)
        # No other login in between: the server's once-a-second check must notice alone.
        holder.stdin.write("go\n")
        holder.stdin.flush()
        after = cloudtest.read_json(holder)
        check("the application that had the old token open gets CKR_DEVICE_REMOVED",
              "CKR_DEVICE_REMOVED" in after.get("error", "") and after.get("waited", 99) < 5,
              str(after))
        rc, res, err = w.client("corp", TOKEN_INFO)
        r = cloudtest.merged(res)
        check("a new login sees an uninitialised token through the module",
              rc == 0 and r.get("initialized") is False, str(res) + err)
        holder.wait(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    log = w.cloud.server_log()
    check("the server says why", "its token was replaced" in log, log[-2000:])
    rc, res, err = w.client("corp", INIT_AND_STORE)
    r = cloudtest.merged(res)
    check("the wiped token can be initialised again", rc == 0 and r.get("objects") == 1,
          str(res) + err)


def server_key(w):
    rc, old, err = w.admin("server-key", "show")
    old = old.strip()
    rc2, alias, err2 = w.admin("fingerprint")
    check("server-key show = fingerprint, 64 hex digits",
          rc == 0 and rc2 == 0 and re.fullmatch(r"[0-9a-f]{64}", old) is not None
          and alias.strip() == old, old + err + alias + err2)
    rc, out, err = w.admin("server-key", "rotate")
    m_old = re.search(r"old fingerprint: ([0-9a-f]{64})", out)
    m_new = re.search(r"new fingerprint: ([0-9a-f]{64})", out)
    new = m_new.group(1) if m_new else ""
    check("rotate prints the old and the new fingerprint",
          rc == 0 and m_old is not None and m_old.group(1) == old and new and new != old,
          out + err)
    check("rotate warns about pinned clients", "pinned" in err and "register" in err, err)
    key = os.path.join(w.cloud.state, "identity.key")
    oldkey = os.path.join(w.cloud.state, "identity.key.old")
    check("identity.key and identity.key.old are 0600",
          os.path.exists(oldkey) and stat.S_IMODE(os.stat(key).st_mode) == 0o600
          and stat.S_IMODE(os.stat(oldkey).st_mode) == 0o600)
    check("server-key show gives the new fingerprint",
          w.admin("server-key", "show")[1].strip() == new)
    w.admin("registration", "open")
    rc, out, err = w.register("k1", "key-one", "--fingerprint", old)
    check("a client pinning the old fingerprint is refused, both fingerprints shown",
          rc == 1 and "does not match" in err and new in err and old in err, err)
    rc, out, err = w.register("k1", "key-one", "--fingerprint", new)
    check("register --fingerprint NEW works without a restart", rc == 0, err)
    rc, out, err = w.config("ctr", "status")
    check("logins of existing accounts are not affected", rc == 0, err)
    check("the same server process throughout", w.same_server())


def main():
    w = World()
    try:
        fp = w.admin("fingerprint")[1].strip()
        usage_errors(w)
        corporate_flow(w, fp)
        user_import(w)
        registration(w)
        reset_counters(w)
        token_wipe(w)
        server_key(w)
        rc, out, err = w.admin("user", "delete", "imp-gen")
        check("user delete", rc == 0 and "imp-gen" not in w.admin("user", "list")[1], err)
    finally:
        if failed:
            sys.stdout.write(w.cloud.server_log()[-3000:])
        w.cloud.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
