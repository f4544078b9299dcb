#!/usr/bin/python3
"""libls11cloud.so: single-part calls over large inputs, carried as their multi-part equivalent.

One message carries about 1 MiB; a C_Sign, C_Verify, C_Digest, C_Encrypt or C_Decrypt over more
goes as XUpdate pieces + XFinal, with the single call's rules.  Through a real ls11cloudd, and
against the local module libls11token.so (and openssl with the gost engine) for the results:

- a 5 MiB hash-and-sign (CKM_GOSTR3410_WITH_GOSTR3411_12_256): the length query with a NULL
  buffer and CKR_BUFFER_TOO_SMALL keep the operation, the signature verifies with
  `openssl dgst -md_gost12_256 -verify`, the operation then ends; C_Verify over 5 MiB through
  the cloud accepts it and refuses changed data; the pieces went as C_SignUpdate;
- 3 MiB: Streebog-256/512 digests (= the local module = openssl), HMAC and Kuznyechik MAC
  (= the local module), Kuznyechik CTR-ACPKM and Magma ECB encryption (= the local module, with
  the length rules) and decryption back;
- an error ends the operation (ECB over a length that is not whole blocks: the local module's
  CK_RV, then CKR_OPERATION_NOT_INITIALIZED, and a new init works);
- a single-part-only mechanism (MGM) over 3 MiB keeps a precise CKR_DATA_LEN_RANGE;
- a single-part call after an update is CKR_OPERATION_ACTIVE, as the engine says, and the
  multi-part operation goes on.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import ctypes
import importlib.util
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloudtest as ct  # noqa: E402
from cloudenv import Cloud  # noqa: E402
import p11test as t  # noqa: E402
from p11test import Harness  # noqa: E402
import PyKCS11  # noqa: E402
from PyKCS11 import (  # noqa: E402
    CKA_CLASS, CKA_DECRYPT, CKA_ENCRYPT, CKA_ID, CKA_KEY_TYPE, CKA_LABEL, CKA_PRIVATE,
    CKA_SENSITIVE, CKA_SIGN, CKA_TOKEN, CKA_VALUE, CKA_VERIFY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY,
    CKO_SECRET_KEY, CK_FALSE, CK_TRUE)

CKM = t.CKM
CKR_OK = 0
CKR_BUFFER_TOO_SMALL = 0x150
CKR_DATA_LEN_RANGE = 0x21
CKR_OPERATION_ACTIVE = 0x90
CKR_OPERATION_NOT_INITIALIZED = 0x91
CKR_SIGNATURE_INVALID = 0xC0

MIB = 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))


def local_module():
    root = os.environ.get("LS11_BUILD_ROOT", os.path.join(HERE, "..", "..", "build"))
    return os.path.join(root, "token", "libls11token.so")


def spki_module():
    spec = importlib.util.spec_from_file_location(
        "gost_spki", os.path.join(HERE, "..", "module", "gost-spki.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class CK_MECHANISM(ctypes.Structure):
    _fields_ = [("mechanism", ctypes.c_ulong), ("pParameter", ctypes.c_void_p),
                ("ulParameterLen", ctypes.c_ulong)]


class Side:
    """One module, one user session, through PyKCS11 and through its function list."""

    def __init__(self, path):
        self.lib = PyKCS11.PyKCS11Lib()
        self.lib.load(path)
        self.slot = t.init_token(self.lib, "large")
        self.s = t.user_session(self.lib, self.slot)
        self.h = t.session_handle(self.s)
        self.raw = t.Raw(path)
        P = ctypes.POINTER
        self.f = {}
        for op in ("Sign", "Encrypt", "Decrypt", "Digest"):
            self.f[op] = self.raw.fn(op, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong,
                                     ctypes.c_void_p, P(ctypes.c_ulong))
        for op in ("SignInit", "VerifyInit", "EncryptInit", "DecryptInit"):
            self.f[op] = self.raw.fn(op, ctypes.c_ulong, P(CK_MECHANISM), ctypes.c_ulong)
        self.f["DigestInit"] = self.raw.fn("DigestInit", ctypes.c_ulong, P(CK_MECHANISM))
        self.f["SignUpdate"] = self.raw.fn("SignUpdate", ctypes.c_ulong, ctypes.c_char_p,
                                           ctypes.c_ulong)
        self.f["SignFinal"] = self.raw.fn("SignFinal", ctypes.c_ulong, ctypes.c_void_p,
                                          P(ctypes.c_ulong))
        self.f["Verify"] = self.raw.fn("Verify", ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong,
                                       ctypes.c_char_p, ctypes.c_ulong)

    def secret(self, key_type, value):
        return self.s.createObject([
            (CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, key_type), (CKA_TOKEN, CK_FALSE),
            (CKA_SENSITIVE, CK_TRUE), (CKA_ENCRYPT, CK_TRUE), (CKA_DECRYPT, CK_TRUE),
            (CKA_SIGN, CK_TRUE), (CKA_VERIFY, CK_TRUE), (CKA_LABEL, "k"), (CKA_VALUE, value)])

    def init(self, op, mech, param=b"", key=None):
        self._param = ctypes.create_string_buffer(param, max(1, len(param)))
        m = CK_MECHANISM(mech, ctypes.cast(self._param, ctypes.c_void_p) if param else None,
                         len(param))
        if op == "DigestInit":
            return self.f[op](self.h, ctypes.byref(m))
        return self.f[op](self.h, ctypes.byref(m), t.hv(key))

    def out(self, op, data, size):
        """C_Sign / C_Encrypt / ... with an output buffer of @size bytes (None: NULL).
        Returns (rv, *pulLen, output bytes)."""
        n = ctypes.c_ulong(size or 0)
        buf = ctypes.create_string_buffer(size) if size is not None else None
        rv = self.f[op](self.h, data, len(data),
                        ctypes.cast(buf, ctypes.c_void_p) if buf is not None else None,
                        ctypes.byref(n))
        return rv, n.value, (buf.raw[:n.value] if buf is not None and rv == CKR_OK else None)

    def whole(self, op, init, mech, data, param=b"", key=None):
        """Init, length query, call: (rv, output)."""
        rv = self.init(init, mech, param, key)
        if rv != CKR_OK:
            return rv, None
        rv, n, _ = self.out(op, data, None)
        if rv != CKR_OK:
            return rv, None
        rv, n, res = self.out(op, data, n)
        return rv, res


def openssl(args, data=None):
    r = subprocess.run(["openssl"] + args, input=data, capture_output=True, timeout=300)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def main():
    h = Harness("cloud/large")
    cloud = Cloud(("alice",))
    os.environ.update(cloud.env())
    try:
        cl = Side(h.module)
        lo = Side(local_module())
        stats = ct.Stats(h.module)
        d5 = os.urandom(5 * MIB + 123)
        d3 = os.urandom(3 * MIB)

        # -- a 5 MiB hash-and-sign, verified by openssl ---------------------------------------
        params = [(CKA_KEY_TYPE, t.CKK_GOSTR3410), (t.CKA_GOSTR3410_PARAMS, t.OID["tc26_256_a"]),
                  (t.CKA_GOSTR3411_PARAMS, t.OID["streebog256"]), (CKA_TOKEN, CK_FALSE),
                  (CKA_ID, b"\x42")]
        pub, priv = cl.s.generateKeyPair(
            params + [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_VERIFY, CK_TRUE)],
            params + [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_SIGN, CK_TRUE), (CKA_PRIVATE, CK_TRUE),
                      (CKA_SENSITIVE, CK_TRUE)],
            t.mech(CKM["GOSTR3410_KEY_PAIR_GEN"]))
        hs = CKM["GOSTR3410_WITH_GOSTR3411_12_256"]
        stats.reset()
        h.eq(cl.init("SignInit", hs, key=priv), CKR_OK, "5 MiB: C_SignInit")
        rv, n, _ = cl.out("Sign", d5, None)
        h.eq((rv, n), (CKR_OK, 64), "5 MiB: C_Sign with a NULL buffer gives the length, 64")
        rv, n, _ = cl.out("Sign", d5, 10)
        h.eq((rv, n), (CKR_BUFFER_TOO_SMALL, 64), "... a 10-byte buffer: CKR_BUFFER_TOO_SMALL")
        rv, n, sig = cl.out("Sign", d5, 64)
        h.eq((rv, n), (CKR_OK, 64), "... the operation was kept: C_Sign signs 5 MiB")
        h.ok(stats.call("C_SignUpdate") >= 10 and stats.call("C_SignFinal") == 1,
             "... carried as C_SignUpdate pieces + C_SignFinal",
             "%d updates, %d finals" % (stats.call("C_SignUpdate"), stats.call("C_SignFinal")))
        rv, n, _ = cl.out("Sign", d5, 64)
        h.eq(rv, CKR_OPERATION_NOT_INITIALIZED, "... and the operation has ended")
        if sig is not None:
            spki = spki_module()
            value = t.attr_bytes(cl.s, pub, CKA_VALUE)
            der = spki.spki(value, t.OID["tc26_256_a"], t.OID["streebog256"])
            files = {k: os.path.join(cloud.tmp, k) for k in ("pub.der", "pub.pem", "data",
                                                              "sig", "bad.sig")}
            for k, v in (("pub.der", der), ("data", d5), ("sig", sig),
                         ("bad.sig", sig[:7] + bytes([sig[7] ^ 1]) + sig[8:])):
                with open(files[k], "wb") as f:
                    f.write(v)
            rc, _, err = openssl(["pkey", "-pubin", "-inform", "DER", "-in", files["pub.der"],
                                  "-out", files["pub.pem"]])
            h.eq(rc, 0, "the public key as PEM (%s)" % err.strip())
            rc, out, err = openssl(["dgst", "-md_gost12_256", "-verify", files["pub.pem"],
                                    "-signature", files["sig"], files["data"]])
            h.ok(rc == 0 and b"Verified OK" in out,
                 "openssl dgst -md_gost12_256 -verify accepts the 5 MiB signature", err)
            rc, out, err = openssl(["dgst", "-md_gost12_256", "-verify", files["pub.pem"],
                                    "-signature", files["bad.sig"], files["data"]])
            h.ok(rc != 0, "... and refuses a damaged one")
            h.ok(cl.s.verify(pub, d5, sig, t.mech(hs)), "C_Verify of 5 MiB through the cloud")
            bad = bytearray(d5)
            bad[4 * MIB] ^= 1
            h.eq(cl.init("VerifyInit", hs, key=pub), CKR_OK, "C_VerifyInit")
            h.eq(cl.f["Verify"](cl.h, bytes(bad), len(bad), sig, len(sig)), CKR_SIGNATURE_INVALID,
                 "... changed data: CKR_SIGNATURE_INVALID")

        # -- 3 MiB digests, MACs, ciphers against the local module ------------------------------
        for name, size in (("GOSTR3411_12_256", 32), ("GOSTR3411_12_512", 64)):
            rv, dc = cl.whole("Digest", "DigestInit", CKM[name], d3)
            rv2, dl = lo.whole("Digest", "DigestInit", CKM[name], d3)
            md = "-md_gost12_%d" % (8 * size)
            rc, ossl, err = openssl(["dgst", md, "-binary"], d3)
            h.ok(rv == CKR_OK and dc == dl == ossl and len(dc) == size,
                 "3 MiB C_Digest %s = the local module = openssl" % name,
                 "rv 0x%x / 0x%x %s" % (rv, rv2, err))

        kuz = bytes(range(32))
        mag = bytes(range(100, 132))
        hk = os.urandom(32)
        keys = {side: dict(kuz=side.secret(t.CKK_KUZNYECHIK, kuz),
                           mag=side.secret(t.CKK_MAGMA, mag),
                           hmac=side.secret(t.CKK_GENERIC_SECRET, hk)) for side in (cl, lo)}
        for name, k, size in (("GOSTR3411_12_256_HMAC", "hmac", 32),
                              ("KUZNYECHIK_MAC", "kuz", 16), ("MAGMA_MAC", "mag", 8)):
            h.eq(cl.init("SignInit", CKM[name], key=keys[cl][k]), CKR_OK, "%s: C_SignInit" % name)
            rv, n, _ = cl.out("Sign", d3, None)
            h.eq((rv, n), (CKR_OK, size), "3 MiB %s: the length query says %d" % (name, size))
            rv, n, mc = cl.out("Sign", d3, n)
            rv2, ml = lo.whole("Sign", "SignInit", CKM[name], d3, key=keys[lo][k])
            h.ok(rv == rv2 == CKR_OK and mc == ml, "3 MiB %s = the local module" % name,
                 "rv 0x%x / 0x%x" % (rv, rv2))

        iv = bytes.fromhex("1234567890abcef0")
        ctr = CKM["KUZNYECHIK_CTR_ACPKM"]
        h.eq(cl.init("EncryptInit", ctr, iv, keys[cl]["kuz"]), CKR_OK, "CTR-ACPKM: C_EncryptInit")
        rv, n, _ = cl.out("Encrypt", d3, None)
        h.eq((rv, n), (CKR_OK, len(d3)), "3 MiB CTR-ACPKM: C_Encrypt(NULL) gives 3 MiB")
        rv, n, _ = cl.out("Encrypt", d3, 1000)
        h.eq((rv, n), (CKR_BUFFER_TOO_SMALL, len(d3)), "... a small buffer: CKR_BUFFER_TOO_SMALL")
        rv, n, ec = cl.out("Encrypt", d3, len(d3))
        rv2, el = lo.whole("Encrypt", "EncryptInit", ctr, d3, iv, keys[lo]["kuz"])
        h.ok(rv == rv2 == CKR_OK and ec == el and ec != d3,
             "... kept: the ciphertext = the local module's", "rv 0x%x / 0x%x" % (rv, rv2))
        rv, back = cl.whole("Decrypt", "DecryptInit", ctr, ec or b"", iv, keys[cl]["kuz"])
        h.ok(rv == CKR_OK and back == d3, "... and C_Decrypt through the cloud gives 3 MiB back",
             "rv 0x%x" % rv)

        ecb = CKM["MAGMA_ECB"]
        rv, ec = cl.whole("Encrypt", "EncryptInit", ecb, d3, key=keys[cl]["mag"])
        rv2, el = lo.whole("Encrypt", "EncryptInit", ecb, d3, key=keys[lo]["mag"])
        h.ok(rv == rv2 == CKR_OK and ec == el, "3 MiB Magma ECB = the local module",
             "rv 0x%x / 0x%x" % (rv, rv2))
        rv, back = cl.whole("Decrypt", "DecryptInit", ecb, ec or b"", key=keys[cl]["mag"])
        h.ok(rv == CKR_OK and back == d3, "... and back", "rv 0x%x" % rv)

        # -- errors ------------------------------------------------------------------------------
        odd = d3 + b"abc"
        h.eq(cl.init("EncryptInit", ecb, key=keys[cl]["mag"]), CKR_OK, "ECB: C_EncryptInit")
        rv, _, _ = cl.out("Encrypt", odd, len(odd))
        lo.init("EncryptInit", ecb, key=keys[lo]["mag"])
        rv2, _, _ = lo.out("Encrypt", odd, len(odd))
        h.ok(rv == rv2 and rv not in (CKR_OK, CKR_BUFFER_TOO_SMALL),
             "ECB over 3 MiB + 3 bytes: the local module's error (0x%x)" % rv2, "got 0x%x" % rv)
        rv, _, _ = cl.out("Encrypt", odd, len(odd))
        h.eq(rv, CKR_OPERATION_NOT_INITIALIZED, "... the error ended the operation")
        h.eq(cl.init("EncryptInit", ecb, key=keys[cl]["mag"]), CKR_OK,
             "... on the server too: a new C_EncryptInit works")
        cl.out("Encrypt", d3[:16], 16)

        mgm = CKM["KUZNYECHIK_MGM"]
        param = t.mgm_params(bytes.fromhex("1122334455667700ffeeddccbbaa9988"), b"aad", 128)
        h.eq(cl.init("EncryptInit", mgm, param, keys[cl]["kuz"]), CKR_OK, "MGM: C_EncryptInit")
        rv, _, _ = cl.out("Encrypt", d3, len(d3) + 16)
        h.eq(rv, CKR_DATA_LEN_RANGE, "3 MiB MGM (single-part only): CKR_DATA_LEN_RANGE")
        rv2, res = lo.whole("Encrypt", "EncryptInit", mgm, d3, param, keys[lo]["kuz"])
        h.ok(rv2 == CKR_OK and len(res) == len(d3) + 16,
             "... (the local module, without a wire, does it)")
        h.eq(cl.init("EncryptInit", mgm, param, keys[cl]["kuz"]), CKR_OK,
             "... and the operation ended: a new C_EncryptInit works")
        rv, _, small = cl.out("Encrypt", d3[:100], 116)
        h.eq(rv, CKR_OK, "... and a small MGM encryption works")

        hm = CKM["GOSTR3411_12_256_HMAC"]
        for side in (cl, lo):
            side.init("SignInit", hm, key=keys[side]["hmac"])
            side.f["SignUpdate"](side.h, d3[:1000], 1000)
        rv, _, _ = cl.out("Sign", d3, 32)
        rv2, _, _ = lo.out("Sign", d3, 32)
        h.eq((rv, rv2), (CKR_OPERATION_ACTIVE, CKR_OPERATION_ACTIVE),
             "C_Sign of 3 MiB after C_SignUpdate: CKR_OPERATION_ACTIVE (as the local module)")
        finals = []
        for side in (cl, lo):
            n = ctypes.c_ulong(32)
            buf = ctypes.create_string_buffer(32)
            rv = side.f["SignFinal"](side.h, ctypes.cast(buf, ctypes.c_void_p), ctypes.byref(n))
            finals.append((rv, buf.raw[:n.value]))
        h.ok(finals[0] == finals[1] and finals[0][0] == CKR_OK,
             "... the multi-part operation went on: C_SignFinal = the local module's")
    finally:
        cloud.close(keep=h.failed > 0)
    h.summary()


if __name__ == "__main__":
    main()
