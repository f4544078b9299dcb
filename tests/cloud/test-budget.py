#!/usr/bin/python3
"""libls11cloud.so: the round-trip budget of ARCHITECTURE.md section 5, from the module's own
counters (the "Vendor LS11CLOUD" interface, read with ctypes in the same process).

- open session + login + find a key by CKA_ID + sign (PyKCS11: C_SignInit, a C_Sign length
  query, C_Sign) takes at most 4 round trips - exactly: C_OpenSession, C_Login,
  C_FindObjectsInit (which brings every match), SignOneShot;
- answered without the network: session info, token info asked again within its TTL, the
  mechanism list and info after the first look, immutable attributes already read, digests
  (Streebog), output-length queries of signatures, C_FindObjects/C_FindObjectsFinal of a search
  the first reply completed;
- the signature made through the budget path verifies.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import sys

import PyKCS11
from PyKCS11 import (CKA_CLASS, CKA_ID, CKA_KEY_TYPE, CKA_LABEL, CKA_PRIVATE, CKA_SIGN,
                     CKA_TOKEN, CKA_VERIFY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CK_TRUE)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloudtest as ct  # noqa: E402
import p11test as t  # noqa: E402
from cloudenv import Cloud  # noqa: E402
from p11test import CKM, Harness  # noqa: E402


def keypair(s, key_id):
    common = [(CKA_TOKEN, CK_TRUE), (CKA_ID, key_id), (CKA_LABEL, "budget"),
              (CKA_KEY_TYPE, t.CKK_GOSTR3410), (t.CKA_GOSTR3410_PARAMS, t.OID["tc26_256_a"]),
              (t.CKA_GOSTR3411_PARAMS, t.OID["streebog256"])]
    return s.generateKeyPair(common + [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_VERIFY, CK_TRUE)],
                             common + [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_SIGN, CK_TRUE),
                                       (CKA_PRIVATE, CK_TRUE)],
                             t.mech(CKM["GOSTR3410_KEY_PAIR_GEN"]))


def budget(h, lib, stats, slot):
    data = b"the round-trip budget" * 10
    mech = t.mech(CKM["GOSTR3410_WITH_GOSTR3411_12_256"])
    stats.reset()
    s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    s.login(t.USER_PIN)
    keys = s.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_ID, b"\x42")])
    h.eq(len(keys), 1, "the key is found by CKA_ID")
    sig = bytes(s.sign(keys[0], data, mech))
    st = stats.get()
    h.ok(st["round_trips"] <= 4,
         "open session + login + find by CKA_ID + sign: %d round trips (at most 4)"
         % st["round_trips"])
    for name in ("C_OpenSession", "C_Login", "C_FindObjectsInit", "SignOneShot"):
        h.eq(stats.call(name), 1, "... one %s" % name)
    for name in ("C_SignInit", "C_Sign", "C_FindObjects", "C_FindObjectsFinal"):
        h.eq(stats.call(name), 0, "... no %s on the wire" % name)
    h.eq(len(sig), 64, "the signature has 64 bytes")
    pub = s.findObjects([(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_ID, b"\x42")])[0]
    h.ok(s.verify(pub, data, sig, mech), "... and verifies")
    return s


def local_answers(h, lib, stats, slot, s):
    stats.reset()
    s.getSessionInfo()
    lib.getTokenInfo(slot)
    h.eq(stats.get()["round_trips"], 1, "token info: one round trip")
    lib.getTokenInfo(slot)
    lib.getTokenInfo(slot)
    h.eq(stats.get()["round_trips"], 1, "... asked again at once: none; session info: none")

    stats.reset()
    mechs = lib.getMechanismList(slot)
    for m in mechs:
        lib.getMechanismInfo(slot, m)
    lib.getMechanismList(slot)
    h.ok(stats.get()["round_trips"] <= 1,
         "the mechanism list and %d infos: %d round trip(s)" % (len(mechs),
                                                               stats.get()["round_trips"]))

    key = s.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_ID, b"\x42")])[0]
    s.getAttributeValue(key, [CKA_CLASS, CKA_KEY_TYPE, t.CKA_GOSTR3410_PARAMS])
    stats.reset()
    v = s.getAttributeValue(key, [CKA_CLASS, CKA_KEY_TYPE, t.CKA_GOSTR3410_PARAMS])
    h.eq(stats.get()["round_trips"], 0, "immutable attributes already read: no round trip")
    h.eq(v[0], CKO_PRIVATE_KEY, "... and the cached class is right")
    s.getAttributeValue(key, [CKA_LABEL])
    h.ok(stats.get()["round_trips"] >= 1, "a label (it may change) is asked every time")

    stats.reset()
    d = bytes(s.digest(b"abc", t.mech(CKM["GOSTR3411_12_256"])))
    d2 = bytes(s.digest(b"abc" * 1000, t.mech(CKM["GOSTR3411_12_512"])))
    h.eq(stats.get()["round_trips"], 0, "Streebog-256 and -512 digests: no round trip")
    h.eq(d.hex(), "4e2919cf137ed41ec4fb6270c61826cc4fffb660341e0af3688cd0626d23b481",
         "... Streebog-256(\"abc\") is right")
    h.eq(len(d2), 64, "... Streebog-512 has 64 bytes")
    h.ok(stats.get()["local"] >= 2, "... counted as local answers (%d)" % stats.get()["local"])

    stats.reset()
    rv = t.Raw(h.module)
    h.eq(stats.get()["round_trips"], 0, "(ctypes access adds nothing)")
    del rv


def main():
    h = Harness("cloud/budget")
    cloud = Cloud(("alice",))
    for k, v in cloud.env().items():
        os.environ[k] = v
    try:
        lib = t.load(h)
        stats = ct.Stats(h.module)
        slot = t.init_token(lib, "budget")
        s0 = t.user_session(lib, slot)
        keypair(s0, b"\x42")
        s0.logout()
        s0.closeSession()
        state = {}
        h.run("the budget", lambda: state.update(s=budget(h, lib, stats, slot)))
        if "s" in state:
            h.run("local answers", lambda: local_answers(h, lib, stats, slot, state["s"]))
    finally:
        cloud.close(keep=h.failed > 0)
    h.summary()


if __name__ == "__main__":
    main()
