#!/usr/bin/python3
"""Crash safety through libls11token.so: a writer process creates token objects through the
module (certificate objects, and every fourth one a sensitive secret key) and prints each object's
CKA_ID only after C_CreateObject returned CKR_OK.  It is SIGKILLed at a random moment, 24
times over the same database; after each kill the database is reopened through the module and
every reported object must be there exactly once and intact (the certificate value byte for byte, the
secret key encrypting as its value should), and PRAGMA integrity_check must say ok.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import PyKCS11
from PyKCS11 import (CKA_CLASS, CKA_ENCRYPT, CKA_ID, CKA_KEY_TYPE, CKA_TOKEN, CKA_VALUE,
                     CKO_SECRET_KEY, CK_FALSE, CK_TRUE)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p11test as t  # noqa: E402

REPETITIONS = 24

WRITER = r"""
import hashlib, sys, PyKCS11
from PyKCS11 import *
sys.path.insert(0, sys.argv[3])
import p11test as t
lib = PyKCS11.PyKCS11Lib(); lib.load(sys.argv[1])
rep = sys.argv[2]
slot = lib.getSlotList(tokenPresent=True)[0]
s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
s.login(t.USER_PIN)
print("ready", flush=True)
i = 0
while True:
    ck_id = ("%s-%d" % (rep, i)).encode()
    value = hashlib.sha256(ck_id).digest()
    if i % 4 == 3:
        s.createObject([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, t.CKK_KUZNYECHIK),
                        (CKA_TOKEN, CK_TRUE), (CKA_PRIVATE, CK_TRUE), (CKA_SENSITIVE, CK_TRUE),
                        (CKA_EXTRACTABLE, CK_FALSE), (CKA_ENCRYPT, CK_TRUE),
                        (CKA_ID, ck_id), (CKA_LABEL, "crash key"), (CKA_VALUE, value)])
    else:
        s.createObject([(CKA_CLASS, CKO_CERTIFICATE), (CKA_CERTIFICATE_TYPE, CKC_X_509),
                        (CKA_TOKEN, CK_TRUE), (CKA_ID, ck_id), (CKA_LABEL, "crash cert"),
                        (CKA_SUBJECT, b"\x30\x00"), (CKA_VALUE, value * 4)])
    print(ck_id.decode(), flush=True)
    i += 1
"""


def run_writer(h, rep, delay):
    p = subprocess.Popen([sys.executable, "-c", WRITER, h.module, str(rep),
                          os.path.dirname(os.path.abspath(__file__))],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if line != "ready":
        p.kill()
        p.wait()
        raise RuntimeError("the writer did not start: %r %s" % (line, p.stderr.read()))
    time.sleep(delay)
    os.kill(p.pid, signal.SIGKILL)
    out, err = p.communicate()
    p.wait()
    if p.returncode != -signal.SIGKILL:
        print(err)
    reported = [x for x in out.split("\n") if x.strip()]
    # The last line may have been cut by the kill before its newline: not reported.
    if out and not out.endswith("\n") and reported:
        reported.pop()
    return reported, p.returncode


def expected_ct(s, ck_id):
    """What a Kuznyechik key with value sha256(ck_id) gives for a zero block (a session key)."""
    k = s.createObject([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, t.CKK_KUZNYECHIK),
                        (CKA_TOKEN, CK_FALSE), (CKA_ENCRYPT, CK_TRUE),
                        (CKA_VALUE, hashlib.sha256(ck_id).digest())])
    ct = bytes(s.encrypt(k, bytes(16), t.mech(t.CKM["KUZNYECHIK_ECB"])))
    s.destroyObject(k)
    return ct


def verify(h, lib, slot, reported, rep):
    lib.lib.C_Finalize()
    rv = lib.lib.C_Initialize()
    if not h.eq(rv, 0, "rep %d: the module reopens the database" % rep):
        return
    s = t.user_session(lib, slot)
    missing, damaged = [], []
    for ck in reported:
        ck_id = ck.encode()
        objs = s.findObjects([(CKA_ID, ck_id)])
        if len(objs) != 1:
            missing.append((ck, len(objs)))
            continue
        o = objs[0]
        value = hashlib.sha256(ck_id).digest()
        if int(ck.rsplit("-", 1)[1]) % 4 == 3:
            try:
                ct = bytes(s.encrypt(o, bytes(16), t.mech(t.CKM["KUZNYECHIK_ECB"])))
            except PyKCS11.PyKCS11Error as e:
                damaged.append((ck, t.ckr(e.value)))
                continue
            if ct != expected_ct(s, ck_id):
                damaged.append((ck, "wrong ciphertext"))
        elif t.attr_bytes(s, o, CKA_VALUE) != value * 4:
            damaged.append((ck, "wrong value"))
    h.ok(not missing, "rep %d: all %d reported objects are there, once each" % (rep, len(reported)),
         "missing %s" % missing[:5])
    h.ok(not damaged, "rep %d: and intact" % rep, "damaged %s" % damaged[:5])
    s.closeSession()
    lib.lib.C_Finalize()
    with sqlite3.connect("file:%s?mode=ro" % h.db, uri=True) as c:
        res = c.execute("PRAGMA integrity_check").fetchall()
    h.eq(res, [("ok",)], "rep %d: PRAGMA integrity_check" % rep)
    lib.lib.C_Initialize()


def main():
    h = t.Harness("module/pykcs11-crash")
    lib = t.load(h)
    slot = t.init_token(lib)
    rng = random.Random(os.environ.get("LS11_TEST_SEED", str(time.time())))
    total = 0
    for rep in range(REPETITIONS):
        delay = rng.uniform(0.05, 0.6)
        try:
            reported, code = run_writer(h, rep, delay)
        except RuntimeError as e:
            h.ok(False, "rep %d: the writer runs" % rep, str(e))
            break
        h.eq(code, -signal.SIGKILL, "rep %d: the writer was killed after %.2f s, %d objects "
             "acknowledged" % (rep, delay, len(reported)))
        if code != -signal.SIGKILL:
            break
        total += len(reported)
        verify(h, lib, slot, reported, rep)
    h.ok(total >= REPETITIONS, "the writers acknowledged %d objects in all" % total)
    h.summary()


if __name__ == "__main__":
    main()
