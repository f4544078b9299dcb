#!/usr/bin/python3
"""At-rest protection through libls11token.so: keys with KNOWN values are created sensitive and
private through C_CreateObject; then

  * the database, its -wal and -shm files hold none of their bytes (nor the PINs), whole or in
    8-byte pieces, while the module has the file open and after it closed it;
  * without the right PIN nothing opens: a wrong PIN is refused and the keys cannot be found
    or used;
  * flipping one byte of a key's stored sealed value (located by comparing the attribute blobs
    of two keys that differ only in their value) makes every use of that key fail with an
    error, never give a wrong result; with the byte restored, the key works again.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import sqlite3
import sys

import PyKCS11
from PyKCS11 import (CKA_CLASS, CKA_DECRYPT, CKA_ENCRYPT, CKA_EXTRACTABLE, CKA_KEY_TYPE,
                     CKA_LABEL, CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN, CKA_TOKEN, CKA_VALUE,
                     CKF_RW_SESSION, CKF_SERIAL_SESSION, CKO_PRIVATE_KEY, CKO_SECRET_KEY,
                     CK_FALSE, CK_TRUE)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p11test as t  # noqa: E402

SECRET_A = os.urandom(32)
SECRET_B = os.urandom(32)
# A tc26-256-A private scalar below q (q = 0x4000...; little-endian, so the last byte is the top).
GOST_D = os.urandom(31) + b"\x1f"
ECB = t.CKM["KUZNYECHIK_ECB"]
SIGN = t.CKM["GOSTR3410_WITH_GOSTR3411_12_256"]


def db_files(h):
    return [p for p in (h.db, h.db + "-wal", h.db + "-shm") if os.path.exists(p)]


def scan(h, when):
    blobs = {p: open(p, "rb").read() for p in db_files(h)}
    h.ok(h.db in blobs, "%s: the database file exists" % when)
    secrets = {"secret key A": SECRET_A, "secret key B": SECRET_B, "GOST private key": GOST_D,
               "user PIN": t.USER_PIN.encode(), "SO PIN": t.SO_PIN.encode()}
    for name, value in secrets.items():
        pieces = [value] if len(value) < 16 else [value[i:i + 8] for i in range(0, len(value) - 7)]
        found = [p for p, b in blobs.items() for piece in pieces if piece in b]
        h.ok(not found, "%s: no byte run of the %s in %s" % (when, name,
                                                               ", ".join(os.path.basename(p) for p in blobs)),
             "found in %s" % sorted(set(found)))


def create_keys(h, lib, slot):
    s = t.user_session(lib, slot)
    common = [(CKA_TOKEN, CK_TRUE), (CKA_PRIVATE, CK_TRUE), (CKA_SENSITIVE, CK_TRUE),
              (CKA_EXTRACTABLE, CK_FALSE)]
    for label, value in (("at-rest A", SECRET_A), ("at-rest B", SECRET_B)):
        s.createObject([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, t.CKK_KUZNYECHIK),
                        (CKA_ENCRYPT, CK_TRUE), (CKA_DECRYPT, CK_TRUE), (CKA_LABEL, label),
                        (CKA_VALUE, value)] + common)
    s.createObject([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, t.CKK_GOSTR3410),
                    (t.CKA_GOSTR3410_PARAMS, t.OID["tc26_256_a"]),
                    (t.CKA_GOSTR3411_PARAMS, t.OID["streebog256"]), (CKA_SIGN, CK_TRUE),
                    (CKA_LABEL, "at-rest gost"), (CKA_VALUE, GOST_D)] + common)
    return s


def use(lib, slot, label, pin=t.USER_PIN):
    """Encrypts a zero block (secret keys) or signs (the GOST key) in a fresh application.

    Returns ("ok", output) or ("error", reason)."""
    lib.lib.C_Finalize()
    rv = lib.lib.C_Initialize()
    if rv != 0:
        return "error", "C_Initialize " + t.ckr(rv)
    s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    try:
        s.login(pin)
        objs = s.findObjects([(CKA_LABEL, label)])
        if len(objs) != 1:
            return "error", "found %d objects" % len(objs)
        if label == "at-rest gost":
            return "ok", bytes(s.sign(objs[0], b"message", t.mech(SIGN)))
        return "ok", bytes(s.encrypt(objs[0], bytes(16), t.mech(ECB)))
    except PyKCS11.PyKCS11Error as e:
        return "error", t.ckr(e.value)
    finally:
        s.closeSession()


def wrong_pin(h, lib, slot):
    lib.lib.C_Finalize()
    lib.lib.C_Initialize()
    s = lib.openSession(slot, CKF_SERIAL_SESSION)
    h.rv(lambda: s.login("not-the-pin"), 0xA0, "a wrong PIN is refused")
    for label in ("at-rest A", "at-rest gost"):
        h.eq(len(s.findObjects([(CKA_LABEL, label)])), 0,
             "without a login the private key '%s' is not even found" % label)
    s.closeSession()
    status, why = use(lib, slot, "at-rest A", pin="not-the-pin")
    h.eq(status, "error", "with a wrong PIN the key cannot be used (%s)" % why)


def attrs_of(label):
    with sqlite3.connect("file:%s?mode=ro" % DB, uri=True) as c:
        return c.execute("SELECT id, attrs FROM objects WHERE label = ?",
                         (label.encode(),)).fetchone()


def write_attrs(obj_id, blob):
    c = sqlite3.connect(DB)
    c.execute("UPDATE objects SET attrs = ? WHERE id = ?", (blob, obj_id))
    c.commit()
    c.close()


def sealed_region(a, b):
    """The widest cluster of differing bytes of two attribute blobs of the same length.

    Nonce, ciphertext and tag of the two sealed values differ except where a byte matches by
    chance (1 in 256 per byte), so differing positions less than 4 apart are one cluster."""
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    best, lo = (0, 0), None
    for j, i in enumerate(diff):
        if lo is None:
            lo = i
        if j + 1 == len(diff) or diff[j + 1] - i > 3:
            if i + 1 - lo > best[1] - best[0]:
                best = (lo, i + 1)
            lo = None
    return best


def tamper(h, lib, slot):
    ref = {}
    for label in ("at-rest A", "at-rest gost"):
        status, out = use(lib, slot, label)
        h.eq(status, "ok", "'%s' works before any change" % label)
        ref[label] = out
    lib.lib.C_Finalize()

    id_a, blob_a = attrs_of("at-rest A")
    id_b, blob_b = attrs_of("at-rest B")
    h.eq(len(blob_a), len(blob_b), "two keys that differ in value have blobs of one length")
    lo, hi = sealed_region(blob_a, blob_b)
    # Nonce (16) + ciphertext (32) + tag (16) differ; a byte may match by chance at either end.
    h.ok(hi - lo >= 60, "the sealed value is found in the attribute blob (bytes %d..%d of %d)"
         % (lo, hi, len(blob_a)))
    positions = {"the nonce": lo + 2, "the ciphertext": lo + 30, "the tag": hi - 3,
                 "the header (format/kind)": lo - 1}
    for where, pos in positions.items():
        if pos < 0 or pos >= len(blob_a):
            continue
        bad = bytearray(blob_a)
        bad[pos] ^= 0x01
        write_attrs(id_a, bytes(bad))
        status, why = use(lib, slot, "at-rest A")
        h.ok(status == "error" or why == ref["at-rest A"],
             "a flipped byte in %s: an error, never a wrong result" % where,
             "%s %r" % (status, why))
        h.eq(status, "error", "a flipped byte in %s: the key is unusable (%s)" % (where, why))
        lib.lib.C_Finalize()
    write_attrs(id_a, blob_a)
    status, out = use(lib, slot, "at-rest A")
    h.eq((status, out), ("ok", ref["at-rest A"]), "restored: the key works again, same result")

    # The GOST private key: its sealed scalar is located the same way against a twin.
    lib.lib.C_Finalize()
    lib.lib.C_Initialize()
    s = t.user_session(lib, slot)
    s.createObject([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, t.CKK_GOSTR3410),
                    (t.CKA_GOSTR3410_PARAMS, t.OID["tc26_256_a"]),
                    (t.CKA_GOSTR3411_PARAMS, t.OID["streebog256"]), (CKA_SIGN, CK_TRUE),
                    (CKA_LABEL, "at-rest gosu"), (CKA_VALUE, os.urandom(31) + b"\x1e"),
                    (CKA_TOKEN, CK_TRUE), (CKA_PRIVATE, CK_TRUE), (CKA_SENSITIVE, CK_TRUE),
                    (CKA_EXTRACTABLE, CK_FALSE)])
    s.closeSession()
    lib.lib.C_Finalize()
    id_g, blob_g = attrs_of("at-rest gost")
    _, blob_u = attrs_of("at-rest gosu")
    if len(blob_g) == len(blob_u):
        lo, hi = sealed_region(blob_g, blob_u)
        bad = bytearray(blob_g)
        bad[(lo + hi) // 2] ^= 0x80
        write_attrs(id_g, bytes(bad))
        status, why = use(lib, slot, "at-rest gost")
        h.eq(status, "error", "a flipped byte in the GOST key's sealed scalar: unusable (%s)" % why)
        lib.lib.C_Finalize()
        write_attrs(id_g, blob_g)
        status, _ = use(lib, slot, "at-rest gost")
        h.eq(status, "ok", "restored: the GOST key signs again")
    else:
        h.ok(False, "the two GOST key blobs have one length", "%d / %d" % (len(blob_g), len(blob_u)))


DB = None


def main():
    global DB
    h = t.Harness("module/pykcs11-at-rest")
    DB = h.db
    lib = t.load(h)
    slot = t.init_token(lib)
    s = None

    def created():
        nonlocal s
        s = create_keys(h, lib, slot)
    h.run("create keys with known values", created)
    h.run("scan while the module has the database open", lambda: scan(h, "open"))
    if s is not None:
        s.closeSession()
    lib.lib.C_Finalize()
    h.run("scan after C_Finalize", lambda: scan(h, "closed"))
    lib.lib.C_Initialize()
    h.run("a wrong PIN", lambda: wrong_pin(h, lib, slot))
    h.run("tampering", lambda: tamper(h, lib, slot))
    lib.lib.C_Finalize()
    lib.lib.C_Initialize()
    h.run("scan at the end", lambda: scan(h, "end"))
    h.summary()


if __name__ == "__main__":
    main()
