#!/usr/bin/python3
"""libls11cloud.so: surviving network loss (ARCHITECTURE.md section 5), with a TCP proxy
(tests/cloud/proxy.py, its own process) between the module and ls11cloudd.

- The connection is cut in the middle of a session: the application's next calls succeed with
  the same session and object handles and the same login state (the module reconnected, ran
  SESPAKE again and resumed its application with the resume token).
- The connection is cut while C_GenerateKeyPair is in flight (the server ran it, its answer is
  lost): the call still succeeds, and exactly one key pair exists (the module sent the request
  again with the same request id; the server answered from its record).
- The server stays out of reach longer than its lease (--resume-lease 1): the token is removed
  (a slot event), the old session handle is invalid, and once the server is back the token
  returns as a new application in which a new session works and token objects are still there.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import subprocess
import sys
import time

import PyKCS11
from PyKCS11 import (CKA_CLASS, CKA_ID, CKA_KEY_TYPE, CKA_LABEL, CKA_PRIVATE, CKA_SIGN,
                     CKA_TOKEN, CKA_VALUE, CKA_VERIFY, CKO_DATA, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY,
                     CK_FALSE, CK_TRUE)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cloudtest as ct  # noqa: E402
import p11test as t  # noqa: E402
from cloudenv import Cloud  # noqa: E402
from p11test import CKM, Harness  # noqa: E402

CKR_SESSION_HANDLE_INVALID = 0xB3


class Proxy:
    def __init__(self, target):
        self.p = subprocess.Popen([ct.PYTHON, os.path.join(HERE, "proxy.py"), str(target)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.p.stdout.readline().split()[1])

    def cmd(self, c):
        self.p.stdin.write(c + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def wait_line(self):
        return self.p.stdout.readline().strip()

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()


def keypair_templates(label, token=True):
    common = [(CKA_TOKEN, CK_TRUE if token else CK_FALSE), (CKA_LABEL, label),
              (CKA_KEY_TYPE, t.CKK_GOSTR3410), (t.CKA_GOSTR3410_PARAMS, t.OID["tc26_256_a"]),
              (t.CKA_GOSTR3411_PARAMS, t.OID["streebog256"])]
    return (common + [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_VERIFY, CK_TRUE)],
            common + [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_SIGN, CK_TRUE), (CKA_PRIVATE, CK_TRUE)])


SIGN = t.mech(CKM["GOSTR3410_WITH_GOSTR3411_12_256"])
GEN = t.mech(CKM["GOSTR3410_KEY_PAIR_GEN"])


def cut_mid_session(h, lib, stats, slot, proxy):
    s = t.user_session(lib, slot)
    pub, priv = s.generateKeyPair(*keypair_templates("before-cut"), GEN)
    obj = s.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, CK_FALSE), (CKA_LABEL, "session-obj"),
                          (CKA_VALUE, b"kept across the cut")])
    handle = t.session_handle(s)
    before = stats.get()
    h.eq(proxy.cmd("cut"), "ok", "the proxy cut the connection")
    sig = bytes(s.sign(priv, b"after the cut", SIGN))
    h.ok(s.verify(pub, b"after the cut", sig, SIGN),
         "the next call signs with the same session and key handles (still logged in)")
    h.eq(t.session_handle(s), handle, "... the session handle did not change")
    val = bytes(s.getAttributeValue(obj, [CKA_VALUE], allAsBinary=True)[0])
    h.eq(val, b"kept across the cut", "... a session object made before the cut is still there")
    h.eq(s.getSessionInfo().state, PyKCS11.CKS_RW_USER_FUNCTIONS, "... the login state too")
    after = stats.get()
    h.eq(after["drops"] - before["drops"], 1, "the module counted one drop")
    h.eq(after["resumes"] - before["resumes"], 1, "... and one resumption")
    return s


def cut_in_flight(h, lib, stats, slot, proxy, s):
    before = stats.get()
    h.eq(proxy.cmd("arm"), "armed", "the proxy drops the next answer and cuts")
    pub, priv = s.generateKeyPair(*keypair_templates("in-flight"), GEN)
    h.eq(proxy.wait_line(), "cut", "... it did, during C_GenerateKeyPair")
    after = stats.get()
    h.ok(after["resent"] - before["resent"] >= 1,
         "the request was sent again after the resumption (%d)" % (after["resent"] -
                                                                 before["resent"]))
    found = s.findObjects([(CKA_LABEL, "in-flight")])
    h.eq(len(found), 2, "exactly one key pair exists (2 objects with its label)")
    sig = bytes(s.sign(priv, b"x", SIGN))
    h.ok(s.verify(pub, b"x", sig, SIGN), "... and the handles returned are the pair's")


def lease_expiry(h):
    cloud = Cloud(("bob",), prefix="ls11-cloud-lease", server_args=["--resume-lease", "1"])
    proxy = Proxy(cloud.port)
    cloud.write_account(cloud.accounts[0], port=proxy.port)
    try:
        p = ct.spawn(h.module, """
            from p11test import init_token, user_session, SO_PIN, USER_PIN
            lib = load()
            slot = init_token(lib, "lease")
            s = user_session(lib, slot)
            s.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, CK_TRUE), (CKA_LABEL, "tok"),
                            (CKA_VALUE, b"on the token")])
            while rv_of(lambda: lib.waitForSlotEvent(CKF_DONT_BLOCK)) == 0:
                pass                                 # the token's arrival at start
            out(ready=1)
            wait_line()
            ev = lib.waitForSlotEvent()          # removed
            out(removed=ev, present=list(lib.getSlotList(tokenPresent=True)),
                old=rv_of(lambda: s.getSessionInfo()))
            wait_line()
            deadline = time.time() + 30
            while time.time() < deadline and not lib.getSlotList(tokenPresent=True):
                time.sleep(0.1)
            s2 = user_session(lib, slot)
            found = s2.findObjects([(CKA_LABEL, "tok")])
            out(back=list(lib.getSlotList(tokenPresent=True)), found=len(found),
                old_after=rv_of(lambda: s.getSessionInfo()))
        """, cloud.env(LS11CLOUD_LOG="error"))
        ct.read_json(p)
        h.eq(proxy.cmd("down"), "ok", "the server is out of reach (connections refused)")
        p.stdin.write("go\n")
        p.stdin.flush()
        r = ct.read_json(p)
        h.eq(r["removed"], 10, "after the lease: a slot event for the removed token")
        h.eq(r["present"], [], "... no token")
        h.eq(r["old"], CKR_SESSION_HANDLE_INVALID, "... the old session is invalid")
        h.eq(proxy.cmd("up"), "ok", "the server is back")
        p.stdin.write("go\n")
        p.stdin.flush()
        r = ct.read_json(p)
        h.eq(r["back"], [10], "the token is present again (a new application)")
        h.eq(r["found"], 1, "... a new session logs in and finds the token object")
        h.eq(r["old_after"], CKR_SESSION_HANDLE_INVALID, "... the old session stays invalid")
        p.wait(timeout=60)
        h.ok(p.returncode == 0, "the client ends cleanly", p.stderr.read())
    finally:
        proxy.close()
        cloud.close(keep=h.failed > 0)


def main():
    h = Harness("cloud/resume")
    cloud = Cloud(("alice",))
    proxy = Proxy(cloud.port)
    cloud.write_account(cloud.accounts[0], port=proxy.port)
    for k, v in cloud.env(LS11CLOUD_LOG="error").items():
        os.environ[k] = v
    try:
        lib = t.load(h)
        stats = ct.Stats(h.module)
        slot = t.init_token(lib, "resume")
        state = {}
        h.run("a cut in the middle of a session",
              lambda: state.update(s=cut_mid_session(h, lib, stats, slot, proxy)))
        if "s" in state:
            h.run("a cut with C_GenerateKeyPair in flight",
                  lambda: cut_in_flight(h, lib, stats, slot, proxy, state["s"]))
        h.run("the lease expires", lambda: lease_expiry(h))
    finally:
        proxy.close()
        cloud.close(keep=h.failed > 0)
    h.summary()


if __name__ == "__main__":
    main()
