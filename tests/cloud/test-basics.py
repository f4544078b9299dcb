#!/usr/bin/python3
"""libls11cloud.so: accounts, slots, starting without a server, passwords, slot events.

- Slots come from accounts/<id>.conf, with the stored number as slot ID whatever the file order;
  a file without a number, or with a number already taken, is skipped (and logged).
- No configuration at all: C_Initialize succeeds with no slot.
- The server is down at C_Initialize: it succeeds, the slot shows no token (CKF_TOKEN_PRESENT
  clear, C_OpenSession CKR_TOKEN_NOT_PRESENT); the server starts: C_WaitForSlotEvent reports
  the slot and the token is there.
- A password file readable by others is refused with a log line naming its mode (no token); once
  it is 0600 the token appears without restarting the application.
- A wrong password: a log line "password rejected", no token, and the module does not try the
  same password again (the server's attempt counter moves by one only).
- A pre-registered account whose password must change first: no token, one log line that says
  so (the module does not retry until the password changes).
- C_Finalize while another thread waits in C_WaitForSlotEvent: that call returns
  CKR_CRYPTOKI_NOT_INITIALIZED.
- LS11CLOUD_STATS=1: the counters on stderr at C_Finalize.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloudtest as ct  # noqa: E402
from cloudenv import ADMIN, Cloud  # noqa: E402
from p11test import Harness  # noqa: E402

CKF_TOKEN_PRESENT = 1
CKR_TOKEN_NOT_PRESENT = 0xE0
CKR_CRYPTOKI_NOT_INITIALIZED = 0x190


def slots_from_config(h):
    cloud = Cloud(("alice", "bob"), start=False)
    try:
        accdir = os.path.join(cloud.config, "accounts")
        # Numbers in the other order than the file names; a broken file; a duplicate.
        cloud.write_account(cloud.accounts[0], extra="")
        with open(os.path.join(accdir, "alice.conf"), "a") as f:
            f.write("number = 42\n")
        with open(os.path.join(accdir, "0-broken.conf"), "w") as f:
            f.write("host = 127.0.0.1\nnickname = carol\n")
        with open(os.path.join(accdir, "zz-dup.conf"), "w") as f:
            f.write("number = 42\nhost = 127.0.0.1\nnickname = dave\n")
        rc, res, err = ct.client(h.module, """
            lib = load()
            ids = list(lib.getSlotList(tokenPresent=False))
            desc = {i: lib.getSlotInfo(i).slotDescription.strip() for i in ids}
            out(ids=ids, desc=desc)
        """, cloud.env(LS11CLOUD_LOG="warning"))
        r = ct.merged(res)
        h.eq(r.get("ids"), [11, 42], "slot IDs are the accounts' numbers, sorted (11 bob, 42 alice)")
        h.ok("alice@127.0.0.1" in r.get("desc", {}).get("42", ""),
             "slot 42 describes alice@127.0.0.1", r.get("desc"))
        h.ok("0-broken.conf" in err and "number" in err,
             "a file without a number is skipped with a log line", err)
        h.ok("zz-dup.conf" in err and "already" in err,
             "a duplicate number is refused with a log line", err)
    finally:
        cloud.close()


def no_config(h):
    env = dict(os.environ, LS11CLOUD_CONFIG_DIR="/nonexistent/ls11cloud-test")
    rc, res, err = ct.client(h.module, """
        lib = load()
        out(n=len(lib.getSlotList(tokenPresent=False)))
    """, env)
    h.eq(ct.merged(res).get("n"), 0, "no configuration: C_Initialize succeeds, no slot")


def server_down_then_up(h):
    cloud = Cloud(("alice",), start=False)
    try:
        p = ct.spawn(h.module, """
            lib = load()
            info = lib.getSlotInfo(10)
            out(all=list(lib.getSlotList(tokenPresent=False)),
                present=list(lib.getSlotList(tokenPresent=True)),
                flags=info.flags,
                open_rv=rv_of(lambda: lib.openSession(10)))
            wait_line()
            slot = lib.waitForSlotEvent()
            out(event=slot, present_after=list(lib.getSlotList(tokenPresent=True)),
                label=lib.getTokenInfo(10).label.strip())
        """, cloud.env())
        r = ct.read_json(p)
        h.eq(r["all"], [10], "server down: C_Initialize succeeds and the slot is listed")
        h.eq(r["present"], [], "... without a token (C_GetSlotList(CK_TRUE) is empty)")
        h.ok(not r["flags"] & CKF_TOKEN_PRESENT, "... CKF_TOKEN_PRESENT is clear")
        h.eq(r["open_rv"], CKR_TOKEN_NOT_PRESENT, "... C_OpenSession: CKR_TOKEN_NOT_PRESENT")
        cloud.start_server()
        p.stdin.write("go\n")
        p.stdin.flush()
        r = ct.read_json(p)
        h.eq(r["event"], 10, "server started: C_WaitForSlotEvent reports slot 10")
        h.eq(r["present_after"], [10], "... and the token is present")
        h.ok(isinstance(r["label"], str), "... C_GetTokenInfo answers")
        p.wait(timeout=60)
        h.ok(p.returncode == 0, "the client ends cleanly", p.stderr.read())
    finally:
        cloud.close()


def password_file_mode(h):
    cloud = Cloud(("alice",))
    try:
        acc = cloud.accounts[0]
        os.chmod(acc["pwfile"], 0o644)
        p = ct.spawn(h.module, """
            lib = load()
            out(present=list(lib.getSlotList(tokenPresent=True)))
            wait_line()
            deadline = time.time() + 20
            while time.time() < deadline and not lib.getSlotList(tokenPresent=True):
                time.sleep(0.1)
            out(present_after=list(lib.getSlotList(tokenPresent=True)))
        """, cloud.env(LS11CLOUD_LOG="warning"))
        r = ct.read_json(p)
        h.eq(r["present"], [], "a password file of mode 0644: no token")
        os.chmod(acc["pwfile"], 0o600)
        p.stdin.write("go\n")
        p.stdin.flush()
        r = ct.read_json(p)
        p.wait(timeout=60)
        err = p.stderr.read()
        h.ok("0644" in err and "refused" in err, "... refused with a log line naming the mode",
             err)
        h.eq(r["present_after"], [10], "chmod 600: the token appears (same application)")
        h.eq(err.count("has mode 0644"), 1, "... the refusal was logged once, not at every retry")
    finally:
        cloud.close()


def attempt_counters(cloud, nick):
    out = subprocess.run([ADMIN, "--state-dir", cloud.state, "user", "show", nick],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("attempt counters"):
            return line.split(None, 2)[2]
    return out


def wrong_password(h):
    cloud = Cloud(("alice",))
    try:
        acc = cloud.accounts[0]
        before = attempt_counters(cloud, "alice")
        with open(acc["pwfile"], "w") as f:
            f.write("not-the-password\n")
        rc, res, err = ct.client(h.module, """
            lib = load()
            out(present=list(lib.getSlotList(tokenPresent=True)))
            time.sleep(2.5)   # several retry periods (LS11CLOUD_RETRY_MAX_MS=500)
            out(present_later=list(lib.getSlotList(tokenPresent=True)))
        """, cloud.env(LS11CLOUD_LOG="warning"))
        r = ct.merged(res)
        h.eq(r.get("present"), [], "a wrong password: no token")
        h.ok("password rejected" in err, "... a log line says the password was rejected", err)
        after = attempt_counters(cloud, "alice")
        h.ok(before.startswith("C1=3") and after.startswith("C1=2"),
             "... one attempt spent, not one per retry (%s -> %s)" % (before, after))
        h.eq(r.get("present_later"), [], "... and still no token later")
    finally:
        cloud.close()


def must_change(h):
    cloud = Cloud((), start=True)
    try:
        pw = os.path.join(cloud.tmp, "carol.pw")
        with open(pw, "w") as f:
            f.write("initial-pass\n")
        os.chmod(pw, 0o600)
        subprocess.run([ADMIN, "--state-dir", cloud.state, "user", "add", "carol",
                        "--password-file", pw], check=True, stdout=subprocess.DEVNULL)
        acc = dict(nick="carol", number=5, password="initial-pass",
                   pwfile=os.path.join(cloud.config, "accounts", "carol.password"))
        cloud.write_account(acc)
        rc, res, err = ct.client(h.module, """
            lib = load()
            out(present=list(lib.getSlotList(tokenPresent=True)))
            time.sleep(1.5)
        """, cloud.env(LS11CLOUD_LOG="warning"))
        h.eq(ct.merged(res).get("present"), [],
             "a pre-registered account whose password must change: no token")
        h.ok("must be changed" in err, "... and a log line says what to do", err)
        h.eq(err.count("must be changed"), 1, "... once, not at every retry")
    finally:
        cloud.close()


def finalize_wakes_waiter(h):
    cloud = Cloud(("alice",), start=False)
    try:
        rc, res, err = ct.client(h.module, """
            import threading
            from p11test import Raw, CK_ULONG
            raw = Raw(MODULE)
            init = raw.fn("Initialize", ctypes.c_void_p)
            fin = raw.fn("Finalize", ctypes.c_void_p)
            wait = raw.fn("WaitForSlotEvent", CK_ULONG, ctypes.POINTER(CK_ULONG), ctypes.c_void_p)
            out(init=init(None))
            got = {}
            def waiter():
                s = CK_ULONG(0)
                got["rv"] = wait(0, ctypes.byref(s), None)
            t = threading.Thread(target=waiter)
            t.start()
            time.sleep(0.5)
            out(waiting=t.is_alive())
            out(fin=fin(None))
            t.join(10)
            out(joined=not t.is_alive(), rv=got.get("rv"))
        """, cloud.env())
        r = ct.merged(res)
        h.eq(r.get("init"), 0, "C_Initialize with the server down")
        h.ok(r.get("waiting"), "C_WaitForSlotEvent blocks while nothing happens")
        h.eq(r.get("fin"), 0, "C_Finalize from another thread")
        h.ok(r.get("joined"), "... wakes the waiting thread")
        h.eq(r.get("rv"), CKR_CRYPTOKI_NOT_INITIALIZED, "... which gets CKR_CRYPTOKI_NOT_INITIALIZED")
    finally:
        cloud.close()


def stats_env(h):
    cloud = Cloud(("alice",))
    try:
        rc, res, err = ct.client(h.module, """
            lib = load()
            lib.getTokenInfo(10)
            lib.getTokenInfo(10)
        """, cloud.env(LS11CLOUD_STATS="1", LS11CLOUD_LOG="error"))
        line = [x for x in err.splitlines() if "stats:" in x]
        h.ok(line and "round-trips=" in line[0] and "C_GetTokenInfo=1" in line[0],
             "LS11CLOUD_STATS=1 prints the counters at C_Finalize (token info asked once)", err)
    finally:
        cloud.close()


def main():
    h = Harness("cloud/basics")
    h.run("slots from the configuration", lambda: slots_from_config(h))
    h.run("no configuration", lambda: no_config(h))
    h.run("server down at C_Initialize", lambda: server_down_then_up(h))
    h.run("password file mode", lambda: password_file_mode(h))
    h.run("wrong password", lambda: wrong_password(h))
    h.run("password must change", lambda: must_change(h))
    h.run("C_Finalize wakes C_WaitForSlotEvent", lambda: finalize_wakes_waiter(h))
    h.run("LS11CLOUD_STATS", lambda: stats_env(h))
    h.summary()


if __name__ == "__main__":
    main()
