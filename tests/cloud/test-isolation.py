#!/usr/bin/python3
"""libls11cloud.so: isolation (ARCHITECTURE.md section 5) - two accounts, two applications
(processes) each, all through one server.

- Login state is per application: one application's login, logout or wrong PIN never changes
  another's, of the same account or not.
- Objects: a session object of one application is invisible to the other application of the
  same account; private token objects need that application's own login; another account's
  objects are never found.
- Handles do not cross: an object handle number of one application is invalid in another (of
  the same account and of the other account), and a session handle number that is not the
  application's own is CKR_SESSION_HANDLE_INVALID.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloudtest as ct  # noqa: E402
from cloudenv import Cloud  # noqa: E402
from p11test import Harness  # noqa: E402

CKR_OBJECT_HANDLE_INVALID = 0x82
CKR_PIN_INCORRECT = 0xA0
CKR_SESSION_HANDLE_INVALID = 0xB3
CKS_RW_PUBLIC_SESSION = 2
CKS_RW_USER_FUNCTIONS = 3

# An application: runs the Python statements it is sent (one JSON string per line) and answers
# {"r": <the variable r>} or {"err": <CK_RV>}.
WORKER = """
    from p11test import SO_PIN, USER_PIN, label32, hv, handle, session_handle
    lib = load()
    ns = dict(globals())
    RW = CKF_SERIAL_SESSION | CKF_RW_SESSION
    ns.update(lib=lib, RW=RW)
    for line in sys.stdin:
        ns["r"] = None
        try:
            exec(json.loads(line), ns)
            out(r=ns["r"])
        except PyKCS11.PyKCS11Error as e:
            out(err=e.value)
"""


class App:
    def __init__(self, h, env, name):
        self.name = name
        self.p = ct.spawn(h.module, WORKER, env)

    def run(self, code):
        self.p.stdin.write(json.dumps(code) + "\n")
        self.p.stdin.flush()
        return ct.read_json(self.p)

    def r(self, code):
        res = self.run(code)
        if "err" in res:
            raise RuntimeError("%s: %s -> CK_RV 0x%x" % (self.name, code, res["err"]))
        return res["r"]

    def rv(self, code):
        return self.run(code).get("err", 0)

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.p.kill()


def init_token(app, slot):
    app.r("""
lib.initToken(%d, SO_PIN, label32("iso-%d"))
s = lib.openSession(%d, RW); s.login(SO_PIN, CKU_SO); s.initPin(USER_PIN); s.logout(); s.closeSession()
""" % (slot, slot, slot))


def find(label, cls=None):
    t = "[(CKA_LABEL, %r)]" % label
    return "r = [hv(o) for o in s.findObjects(%s)]" % t


def scenario(h, a1, a2, b1, b2):
    init_token(a1, 10)
    init_token(b1, 11)
    a1.r("s = lib.openSession(10, RW); s.login(USER_PIN)")
    a_priv = a1.r("""
o = s.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, CK_TRUE), (CKA_PRIVATE, CK_TRUE),
                    (CKA_LABEL, "alice-secret"), (CKA_VALUE, b"alice's")])
r = hv(o)""")
    a_sess = a1.r("""
o = s.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, CK_FALSE), (CKA_LABEL, "a1-session"),
                    (CKA_VALUE, b"only a1")])
r = hv(o)""")
    a1_session = a1.r("r = session_handle(s)")

    # The second application of the same account.
    a2.r("s = lib.openSession(10, RW)")
    h.eq(a2.r("r = s.getSessionInfo().state"), CKS_RW_PUBLIC_SESSION,
         "alice app 2: public session although app 1 is logged in")
    h.eq(a2.r(find("alice-secret")), [], "... the private token object is not found")
    h.eq(a2.r(find("a1-session")), [], "... app 1's session object is not found")
    h.eq(a2.rv("r = s.getAttributeValue(handle(%d), [CKA_VALUE])" % a_priv),
         CKR_OBJECT_HANDLE_INVALID, "... app 1's private object handle is invalid here")
    h.eq(a2.rv("r = s.getAttributeValue(handle(%d), [CKA_VALUE])" % a_sess),
         CKR_OBJECT_HANDLE_INVALID, "... and so is its session object handle")

    h.eq(a2.rv("s.login('999999')"), CKR_PIN_INCORRECT, "alice app 2: a wrong PIN is refused")
    h.eq(a2.r("r = s.getSessionInfo().state"), CKS_RW_PUBLIC_SESSION,
         "... app 2 stays public")
    h.eq(a1.r("r = s.getSessionInfo().state"), CKS_RW_USER_FUNCTIONS,
         "... app 1 is still logged in")
    h.eq(a1.r("r = bytes(s.getAttributeValue(handle(%d), [CKA_VALUE], True)[0]).decode()"
              % a_priv), "alice's", "... and still reads its private object")

    a2.r("s.login(USER_PIN)")
    h.eq(len(a2.r(find("alice-secret"))), 1, "alice app 2 logged in: finds the token object")
    h.eq(a2.r(find("a1-session")), [], "... but never app 1's session object")
    a2.r("s.logout()")
    h.eq(a1.r("r = s.getSessionInfo().state"), CKS_RW_USER_FUNCTIONS,
         "alice app 2 logs out: app 1 stays logged in")

    # The other account.
    b1.r("s = lib.openSession(11, RW); s.login(USER_PIN)")
    b2.r("s = lib.openSession(11, RW)")
    h.eq(b1.r(find("alice-secret")), [], "bob (logged in) never finds alice's objects")
    h.eq(b1.rv("r = s.getAttributeValue(handle(%d), [CKA_VALUE])" % a_priv),
         CKR_OBJECT_HANDLE_INVALID, "... alice's object handle is invalid in bob's application")
    h.eq(b2.rv("s.login('999999')"), CKR_PIN_INCORRECT, "bob app 2: a wrong PIN")
    h.eq(a1.r("r = s.getSessionInfo().state"), CKS_RW_USER_FUNCTIONS,
         "... alice app 1 is still logged in")
    h.eq(b1.r("r = s.getSessionInfo().state"), CKS_RW_USER_FUNCTIONS,
         "... bob app 1 is still logged in")

    # Session handles: one that is not the application's own.
    a2.r("s.closeSession()")
    h.eq(a2.r("from p11test import Raw; r = Raw(MODULE).call('CloseSession', %d)" % a1_session),
         CKR_SESSION_HANDLE_INVALID,
         "alice app 2: app 1's session handle number is CKR_SESSION_HANDLE_INVALID")
    h.eq(a1.r("r = s.getSessionInfo().state"), CKS_RW_USER_FUNCTIONS,
         "... and app 1's session is untouched")


def main():
    h = Harness("cloud/isolation")
    cloud = Cloud(("alice", "bob"))
    apps = []
    try:
        env = cloud.env()
        apps = [App(h, env, n) for n in ("alice-1", "alice-2", "bob-1", "bob-2")]
        h.run("isolation", lambda: scenario(h, *apps))
    finally:
        for a in apps:
            a.close()
        cloud.close(keep=h.failed > 0)
    h.summary()


if __name__ == "__main__":
    main()
