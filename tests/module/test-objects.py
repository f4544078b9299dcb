#!/usr/bin/python3
"""Object life cycle through libls11token.so with PyKCS11: data objects, certificates and
secret keys are created, found by class/label/id, read, changed, copied and destroyed; sensitive
values are refused; private objects need a login; token objects outlive the process and session
objects do not.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import subprocess
import sys

import PyKCS11
from PyKCS11 import (CKA_APPLICATION, CKA_CERTIFICATE_TYPE, CKA_CHECK_VALUE, CKA_CLASS,
                     CKA_DECRYPT, CKA_ENCRYPT, CKA_EXTRACTABLE, CKA_ID, CKA_ISSUER, CKA_KEY_TYPE,
                     CKA_LABEL, CKA_MODIFIABLE, CKA_PRIVATE, CKA_SENSITIVE, CKA_SERIAL_NUMBER,
                     CKA_SUBJECT, CKA_TOKEN, CKA_VALUE, CKA_VALUE_LEN, CKC_X_509, CKO_CERTIFICATE,
                     CKO_DATA, CKO_SECRET_KEY, CK_FALSE, CK_TRUE)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p11test as t  # noqa: E402

CKR_ATTRIBUTE_SENSITIVE = 0x11
CKR_ATTRIBUTE_READ_ONLY = 0x10
CKR_OBJECT_HANDLE_INVALID = 0x82
CKR_SESSION_READ_ONLY = 0xB5
CKR_USER_NOT_LOGGED_IN = 0x101
CK_UNAVAILABLE = (1 << (8 * t.ctypes.sizeof(t.CK_ULONG))) - 1

KUZ_KEY = bytes.fromhex("8899aabbccddeeff0011223344556677fedcba98765432100123456789abcdef")
KUZ_ZERO_BLOCK_CT = None  # computed through the token


def find(s, template):
    return [t.hv(o) for o in s.findObjects(template)]


def make_certificate(h):
    """A real self-signed GOST certificate from the openssl command (DER), or fixed bytes."""
    key = os.path.join(h.tmp, "ca.key")
    crt = os.path.join(h.tmp, "ca.der")
    try:
        subprocess.run(["openssl", "genpkey", "-algorithm", "gost2012_256", "-pkeyopt",
                        "paramset:A", "-out", key], check=True, capture_output=True)
        subprocess.run(["openssl", "req", "-x509", "-new", "-key", key, "-subj",
                        "/CN=ls11 module test", "-days", "1", "-md_gost12_256", "-outform",
                        "DER", "-out", crt], check=True, capture_output=True)
        with open(crt, "rb") as f:
            return f.read()
    except (OSError, subprocess.CalledProcessError) as e:
        print("note: no openssl certificate (%s); using fixed bytes" % e)
        return bytes.fromhex("3082010a") + bytes(range(256))[:266]


def data_objects(h, s):
    h.rv(lambda: s.createObject([(CKA_CLASS, CKO_DATA), (CKA_ID, b"\x01")]), 0x12,
         "CKA_ID is no data object attribute: CKR_ATTRIBUTE_TYPE_INVALID")
    tmpl = [(CKA_CLASS, CKO_DATA), (CKA_TOKEN, CK_TRUE), (CKA_PRIVATE, CK_FALSE),
            (CKA_LABEL, "data one"), (CKA_APPLICATION, "ls11 tests"),
            (CKA_VALUE, b"hello, token")]
    o = s.createObject(tmpl)
    h.ok(t.hv(o) != 0, "C_CreateObject of a data object gives a handle")
    h.eq(find(s, [(CKA_CLASS, CKO_DATA), (CKA_LABEL, "data one")]), [t.hv(o)], "found by class+label")
    h.eq(find(s, [(CKA_LABEL, "no such label")]), [], "a label that is not there finds nothing")
    vals = s.getAttributeValue(o, [CKA_LABEL, CKA_APPLICATION, CKA_TOKEN, CKA_PRIVATE])
    h.eq(vals[0], "data one", "CKA_LABEL reads back")
    h.eq(vals[1], "ls11 tests", "CKA_APPLICATION reads back")
    h.eq(vals[2], True, "CKA_TOKEN reads back")
    h.eq(vals[3], False, "CKA_PRIVATE reads back")
    h.eq(t.attr_bytes(s, o, CKA_VALUE), b"hello, token", "CKA_VALUE reads back")

    s.setAttributeValue(o, [(CKA_LABEL, "data renamed"), (CKA_VALUE, b"new value")])
    h.eq(find(s, [(CKA_LABEL, "data renamed")]), [t.hv(o)], "C_SetAttributeValue: found by new label")
    h.eq(find(s, [(CKA_LABEL, "data one")]), [], "... and not by the old one")
    h.eq(t.attr_bytes(s, o, CKA_VALUE), b"new value", "CKA_VALUE changed")

    # A session object next to it, and a second token object with the same label.
    so = s.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, CK_FALSE),
                             (CKA_LABEL, "data renamed"), (CKA_VALUE, b"session")])
    h.eq(sorted(find(s, [(CKA_LABEL, "data renamed")])), sorted([t.hv(o), t.hv(so)]),
         "token and session objects found together")
    h.eq(find(s, [(CKA_LABEL, "data renamed"), (CKA_TOKEN, CK_FALSE)]), [t.hv(so)],
         "CKA_TOKEN narrows the search")
    return o


def certificates(h, s):
    der = make_certificate(h)
    tmpl = [(CKA_CLASS, CKO_CERTIFICATE), (CKA_CERTIFICATE_TYPE, CKC_X_509),
            (CKA_TOKEN, CK_TRUE), (CKA_LABEL, "my certificate"), (CKA_ID, b"\xc0\xde"),
            (CKA_SUBJECT, b"\x30\x00"), (CKA_ISSUER, b"\x30\x00"),
            (CKA_SERIAL_NUMBER, b"\x02\x01\x01"), (CKA_VALUE, der)]
    c = s.createObject(tmpl)
    h.eq(find(s, [(CKA_CLASS, CKO_CERTIFICATE)]), [t.hv(c)], "certificate found by class")
    h.eq(find(s, [(CKA_ID, b"\xc0\xde")]), [t.hv(c)], "certificate found by CKA_ID alone")
    h.eq(find(s, [(CKA_CLASS, CKO_CERTIFICATE), (CKA_CERTIFICATE_TYPE, CKC_X_509),
                  (CKA_ID, b"\xc0\xde")]), [t.hv(c)], "certificate found by type and id")
    h.eq(t.attr_bytes(s, c, CKA_VALUE), der, "the certificate DER reads back whole")
    h.eq(s.getAttributeValue(c, [CKA_CERTIFICATE_TYPE])[0], CKC_X_509, "CKA_CERTIFICATE_TYPE")
    return c


def secret_keys(h, s, raw):
    sess = t.session_handle(s)
    tmpl = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, t.CKK_KUZNYECHIK), (CKA_TOKEN, CK_TRUE),
            (CKA_PRIVATE, CK_TRUE), (CKA_SENSITIVE, CK_TRUE), (CKA_EXTRACTABLE, CK_FALSE),
            (CKA_ENCRYPT, CK_TRUE), (CKA_DECRYPT, CK_TRUE), (CKA_LABEL, "kuz secret"),
            (CKA_ID, b"\x51"), (CKA_VALUE, KUZ_KEY)]
    k = s.createObject(tmpl)
    h.ok(t.hv(k) != 0, "C_CreateObject of a sensitive Kuznyechik key")
    h.eq(find(s, [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, t.CKK_KUZNYECHIK)]), [t.hv(k)],
         "secret key found by class and key type")
    h.eq(find(s, [(CKA_ID, b"\x51"), (CKA_LABEL, "kuz secret")]), [t.hv(k)],
         "secret key found by CKA_ID and label")

    rv, val, n = raw.get_attribute(sess, t.hv(k), CKA_VALUE)
    h.eq(rv, CKR_ATTRIBUTE_SENSITIVE, "CKA_VALUE of a sensitive key: CKR_ATTRIBUTE_SENSITIVE")
    h.eq(n, CK_UNAVAILABLE, "... with ulValueLen = CK_UNAVAILABLE_INFORMATION")
    rv, val, n = raw.get_attribute(sess, t.hv(k), CKA_VALUE_LEN)
    h.eq((rv, t.CK_ULONG.from_buffer_copy(val).value if val else None), (0, 32),
         "CKA_VALUE_LEN is readable: 32")

    h.rv(lambda: s.setAttributeValue(k, [(CKA_SENSITIVE, CK_FALSE)]), CKR_ATTRIBUTE_READ_ONLY,
         "CKA_SENSITIVE cannot go back to false")
    h.rv(lambda: s.setAttributeValue(k, [(CKA_EXTRACTABLE, CK_TRUE)]), CKR_ATTRIBUTE_READ_ONLY,
         "CKA_EXTRACTABLE cannot go back to true")

    # The key works: the RFC 7801 block, and CKA_CHECK_VALUE = E(0)[0:3].
    ct = bytes(s.encrypt(k, bytes.fromhex("1122334455667700ffeeddccbbaa9988"),
                         t.mech(t.CKM["KUZNYECHIK_ECB"])))
    h.eq(ct, bytes.fromhex("7f679d90bebc24305a468d42b9d4edcd"), "the stored key encrypts the KAT")
    zero = bytes(s.encrypt(k, bytes(16), t.mech(t.CKM["KUZNYECHIK_ECB"])))
    rv, cv, n = raw.get_attribute(sess, t.hv(k), CKA_CHECK_VALUE)
    h.eq((rv, cv), (0, zero[:3]), "CKA_CHECK_VALUE is the first 3 bytes of E(0)")

    # A non-sensitive, extractable key gives its value.
    k2 = s.createObject([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, t.CKK_MAGMA),
                             (CKA_TOKEN, CK_FALSE), (CKA_SENSITIVE, CK_FALSE),
                             (CKA_EXTRACTABLE, CK_TRUE), (CKA_ENCRYPT, CK_TRUE),
                             (CKA_VALUE, bytes(range(32)))])
    h.eq(t.attr_bytes(s, k2, CKA_VALUE), bytes(range(32)), "a non-sensitive key's CKA_VALUE")
    s.setAttributeValue(k2, [(CKA_SENSITIVE, CK_TRUE)])
    rv, _, _ = raw.get_attribute(sess, t.hv(k2), CKA_VALUE)
    h.eq(rv, CKR_ATTRIBUTE_SENSITIVE, "CKA_SENSITIVE false -> true is allowed and then holds")
    return k


def copies(h, s, raw, data, key):
    sess = t.session_handle(s)
    rv, n = raw.copy_object(sess, t.hv(data), [(CKA_LABEL, b"data copy")])
    h.eq(rv, 0, "C_CopyObject of the data object")
    h.ok(n not in (0, t.hv(data)), "the copy has its own handle")
    c = t.handle(n)
    h.eq(t.attr_bytes(s, c, CKA_VALUE), b"new value", "the copy has the value")
    h.eq(s.getAttributeValue(c, [CKA_LABEL])[0], "data copy", "the copy has the new label")
    h.eq(s.getAttributeValue(data, [CKA_LABEL])[0], "data renamed", "the original is unchanged")

    rv, _ = raw.copy_object(sess, t.hv(key), [(CKA_SENSITIVE, b"\x00")])
    h.eq(rv, CKR_ATTRIBUTE_READ_ONLY, "a copy cannot make a sensitive key readable")
    rv, n = raw.copy_object(sess, t.hv(key), [(CKA_TOKEN, b"\x00"), (CKA_LABEL, b"session copy")])
    h.eq(rv, 0, "a session copy of the sensitive key")
    kc = t.handle(n)
    m = t.mech(t.CKM["KUZNYECHIK_ECB"])
    h.eq(bytes(s.encrypt(kc, bytes(16), m)), bytes(s.encrypt(key, bytes(16), m)),
         "the copy encrypts like the original")
    rv, _, _ = raw.get_attribute(sess, n, CKA_VALUE)
    h.eq(rv, CKR_ATTRIBUTE_SENSITIVE, "the copy is sensitive too")
    return c


def read_only_session(h, lib, slot):
    ro = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)
    h.rv(lambda: ro.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, CK_TRUE),
                                  (CKA_LABEL, "ro")]), CKR_SESSION_READ_ONLY,
         "a token object cannot be created in a read-only session")
    o = ro.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, CK_FALSE), (CKA_LABEL, "ro")])
    h.ok(t.hv(o) != 0, "a session object can")
    ro.closeSession()


def private_objects(h, lib, slot, s):
    o = s.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, CK_TRUE), (CKA_PRIVATE, CK_TRUE),
                        (CKA_LABEL, "private data"), (CKA_VALUE, b"secret data")])
    pub = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    h.eq(find(pub, [(CKA_LABEL, "private data")]), [t.hv(o)], "logged in: the private object is found")
    s.logout()
    h.eq(find(pub, [(CKA_LABEL, "private data")]), [], "logged out: it is not")
    h.rv(lambda: pub.createObject([(CKA_CLASS, CKO_DATA), (CKA_PRIVATE, CK_TRUE),
                                   (CKA_LABEL, "x")]), CKR_USER_NOT_LOGGED_IN,
         "a private object needs a login")
    s.login(t.USER_PIN)
    h.eq(find(pub, [(CKA_LABEL, "private data")]), [t.hv(o)], "logged in again: found")
    pub.closeSession()


def destroy(h, s, obj):
    s.destroyObject(obj)
    h.eq(find(s, [(CKA_LABEL, "data copy")]), [], "C_DestroyObject: gone from searches")
    h.rv(lambda: s.getAttributeValue(obj, [CKA_LABEL]), CKR_OBJECT_HANDLE_INVALID,
         "... and its handle is invalid")


PERSIST = r"""
import sys, PyKCS11
lib = PyKCS11.PyKCS11Lib(); lib.load(sys.argv[1])
slot = lib.getSlotList(tokenPresent=True)[0]
s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION); s.login("123456")
for label in ("data renamed", "my certificate", "kuz secret", "private data", "ro"):
    print(label, len(s.findObjects([(PyKCS11.CKA_LABEL, label)])))
"""


def persistence(h):
    out = subprocess.run([sys.executable, "-c", PERSIST, h.module], capture_output=True,
                         text=True, timeout=120)
    h.eq(out.returncode, 0, "another process opens the same database (%s)" % out.stderr.strip())
    counts = dict(line.rsplit(" ", 1) for line in out.stdout.splitlines())
    h.eq(counts.get("data renamed"), "1", "the token data object persists, the session one not")
    h.eq(counts.get("my certificate"), "1", "the certificate persists")
    h.eq(counts.get("kuz secret"), "1", "the secret key persists")
    h.eq(counts.get("private data"), "1", "the private object persists")
    h.eq(counts.get("ro"), "0", "session objects do not")


def main():
    h = t.Harness("module/pykcs11-objects")
    lib = t.load(h)
    raw = t.Raw(h.module)
    slot = t.init_token(lib)
    s = t.user_session(lib, slot)
    state = {}
    h.run("data objects", lambda: state.update(data=data_objects(h, s)))
    h.run("certificates", lambda: certificates(h, s))
    h.run("secret keys", lambda: state.update(key=secret_keys(h, s, raw)))
    if "data" in state and "key" in state:
        h.run("copies", lambda: state.update(copy=copies(h, s, raw, state["data"], state["key"])))
    h.run("read-only sessions", lambda: read_only_session(h, lib, slot))
    h.run("private objects", lambda: private_objects(h, lib, slot, s))
    if "copy" in state:
        h.run("destroy", lambda: destroy(h, s, state["copy"]))
    s.closeSession()
    h.run("persistence", lambda: persistence(h))
    h.summary()


if __name__ == "__main__":
    main()
