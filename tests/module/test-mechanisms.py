#!/usr/bin/python3
"""Every mechanism of C_GetMechanismList through libls11token.so with PyKCS11: a round trip
for each, known answers where the reference vectors have them (shared/reference/
gost-vectors.txt: Streebog, HMAC, KDF, KDF_TREE, Kuznyechik/Magma ECB, CTR, CMAC, MGM, VKO),
the openssl command with the gost engine as the second opinion where they do not (GOST R 34.11-94,
GOST 28147-89 CFB), and the error a damaged input must give.  A mechanism of the list without a
check here is itself a failure, so the list and this test cannot drift apart.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import subprocess
import sys

import PyKCS11
from PyKCS11 import (CKA_CLASS, CKA_DECRYPT, CKA_DERIVE, CKA_ENCRYPT, CKA_EXTRACTABLE,
                     CKA_KEY_TYPE, CKA_LABEL, CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN, CKA_TOKEN,
                     CKA_UNWRAP, CKA_VALUE, CKA_VALUE_LEN, CKA_VERIFY, CKA_WRAP, CKO_PRIVATE_KEY,
                     CKO_PUBLIC_KEY, CKO_SECRET_KEY, CK_FALSE, CK_TRUE, ckbytelist)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p11test as t  # noqa: E402
from p11test import CKM  # noqa: E402

CKR_SIGNATURE_INVALID = 0xC0
CKR_SIGNATURE_LEN_RANGE = 0xC1
CKR_DATA_LEN_RANGE = 0x21
CKR_ENCRYPTED_DATA_INVALID = 0x40
CKR_WRAPPED_KEY_INVALID = 0x110
CKR_OPERATION_NOT_INITIALIZED = 0x91

X = bytes.fromhex
M1 = b"012345678901234567890123456789012345678901234567890123456789012"
K32 = X("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
KUZ_K = X("8899aabbccddeeff0011223344556677fedcba98765432100123456789abcdef")
KUZ_P = X("1122334455667700ffeeddccbbaa9988 00112233445566778899aabbcceeff0a"
          "112233445566778899aabbcceeff0a00 2233445566778899aabbcceeff0a0011")
MAG_K = X("ffeeddccbbaa99887766554433221100f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
MAG_P = X("92def06b3c130a59 db54c704f8189d20 4a98fb2e67a8024c 8912409b17b57e41")

CURVES_256 = ["tc26_256_a", "tc26_256_b", "tc26_256_c", "tc26_256_d", "cp_a", "cp_b", "cp_c",
              "xch_a", "xch_b"]
CURVES_512 = ["tc26_512_a", "tc26_512_b", "tc26_512_c"]


class Ctx:
    def __init__(self, h, s):
        self.h = h
        self.s = s
        self.lib = s.lib
        self.sess = s.session
        self.covered = set()
        self.keys = {}

    # -- objects --------------------------------------------------------------------------

    def secret(self, key_type, value, label="k", **extra):
        tmpl = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, key_type), (CKA_TOKEN, CK_FALSE),
                (CKA_SENSITIVE, CK_FALSE), (CKA_EXTRACTABLE, CK_TRUE), (CKA_ENCRYPT, CK_TRUE),
                (CKA_DECRYPT, CK_TRUE), (CKA_SIGN, CK_TRUE), (CKA_VERIFY, CK_TRUE),
                (CKA_WRAP, CK_TRUE), (CKA_UNWRAP, CK_TRUE), (CKA_DERIVE, CK_TRUE),
                (CKA_LABEL, label), (CKA_VALUE, value)]
        tmpl += list(extra.get("more", []))
        return self.s.createObject(tmpl)

    def value(self, obj):
        return t.attr_bytes(self.s, obj, CKA_VALUE)

    def keypair(self, curve):
        big = curve.startswith("tc26_512")
        mech = CKM["GOSTR3410_512_KEY_PAIR_GEN" if big else "GOSTR3410_KEY_PAIR_GEN"]
        ktype = t.CKK_GOSTR3410_512 if big else t.CKK_GOSTR3410
        params = [(CKA_KEY_TYPE, ktype), (t.CKA_GOSTR3410_PARAMS, t.OID[curve]),
                  (t.CKA_GOSTR3411_PARAMS, t.OID["streebog512" if big else "streebog256"]),
                  (CKA_TOKEN, CK_FALSE)]
        pub = params + [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_VERIFY, CK_TRUE),
                        (CKA_DERIVE, CK_TRUE)]
        priv = params + [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_SIGN, CK_TRUE), (CKA_DERIVE, CK_TRUE),
                         (CKA_PRIVATE, CK_TRUE), (CKA_SENSITIVE, CK_TRUE)]
        pu, pr = self.s.generateKeyPair(pub, priv, t.mech(mech))
        self.covered.add(mech)
        return pu, pr

    def derived_template(self, length=None, key_type=t.CKK_GENERIC_SECRET):
        tmpl = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, key_type), (CKA_TOKEN, CK_FALSE),
                (CKA_SENSITIVE, CK_FALSE), (CKA_EXTRACTABLE, CK_TRUE), (CKA_ENCRYPT, CK_TRUE),
                (CKA_DECRYPT, CK_TRUE), (CKA_SIGN, CK_TRUE), (CKA_VERIFY, CK_TRUE),
                (CKA_WRAP, CK_TRUE), (CKA_UNWRAP, CK_TRUE), (CKA_DERIVE, CK_TRUE)]
        if length is not None:
            tmpl.append((CKA_VALUE_LEN, length))
        return tmpl

    def derive(self, base, mechanism, param, length=None, key_type=t.CKK_GENERIC_SECRET):
        k = self.s.deriveKey(base, self.derived_template(length, key_type),
                             t.mech(mechanism, param))
        return self.value(k)

    # -- multi-part calls through the low level (size query, then the call) ----------------

    def _out(self, fn, *args):
        """An output call as PyKCS11 makes them: a length query, then the call."""
        out = ckbytelist()
        for _ in range(2):
            rv = fn(self.sess, *args, out)
            if rv != 0:
                raise PyKCS11.PyKCS11Error(rv)
        return bytes(out)

    def _check(self, rv):
        if rv != 0:
            raise PyKCS11.PyKCS11Error(rv)

    def multi_crypt(self, encrypt, key, m, parts):
        init = self.lib.C_EncryptInit if encrypt else self.lib.C_DecryptInit
        update = self.lib.C_EncryptUpdate if encrypt else self.lib.C_DecryptUpdate
        final = self.lib.C_EncryptFinal if encrypt else self.lib.C_DecryptFinal
        self._check(init(self.sess, m.to_native(), key))
        out = b""
        for p in parts:
            buf = ckbytelist([0] * (len(p) + 64))
            self._check(update(self.sess, ckbytelist(p), buf))
            out += bytes(buf)
        # A buffer, not a length query: PyKCS11 turns an empty list into NULL, and a final
        # block of 0 bytes would then be asked for forever.
        buf = ckbytelist([0] * 64)
        self._check(final(self.sess, buf))
        return out + bytes(buf)

    def multi_sign(self, key, m, parts):
        self._check(self.lib.C_SignInit(self.sess, m.to_native(), key))
        for p in parts:
            self._check(self.lib.C_SignUpdate(self.sess, ckbytelist(p)))
        return self._out(self.lib.C_SignFinal)

    def multi_verify(self, key, m, parts, sig):
        self._check(self.lib.C_VerifyInit(self.sess, m.to_native(), key))
        for p in parts:
            self._check(self.lib.C_VerifyUpdate(self.sess, ckbytelist(p)))
        return self.lib.C_VerifyFinal(self.sess, ckbytelist(sig))

    def multi_digest(self, m, parts):
        d = self.s.digestSession(m)
        for p in parts:
            d.update(p)
        return bytes(d.final())

    def verify_rv(self, key, m, data, sig):
        self._check(self.lib.C_VerifyInit(self.sess, m.to_native(), key))
        return self.lib.C_Verify(self.sess, ckbytelist(data), ckbytelist(sig))


def openssl(args, data=None, crypt_params=None):
    env = dict(os.environ)
    if crypt_params:
        env["CRYPT_PARAMS"] = crypt_params   # the gost engine's GOST 28147-89 S-box
    r = subprocess.run(["openssl"] + args, input=data, capture_output=True, timeout=60, env=env)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r.stdout


def chunks(data, *sizes):
    out, i = [], 0
    for n in sizes:
        out.append(data[i:i + n])
        i += n
    out.append(data[i:])
    return out


# ---------------------------------------------------------------------------------------------
# Digests and HMAC
# ---------------------------------------------------------------------------------------------


def digests(c):
    h, s = c.h, c.s
    kat = {
        "GOSTR3411_12_256": X("9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"),
        "GOSTR3411_12_512": X("1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa"
                              "00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"),
    }
    for name, want in kat.items():
        m = t.mech(CKM[name])
        h.eq(bytes(s.digest(M1, m)), want, "%s of RFC 6986 M1" % name)
        h.eq(c.multi_digest(m, chunks(M1, 1, 30)), want, "%s multi-part" % name)
        c.covered.add(CKM[name])
    gost94 = openssl(["dgst", "-md_gost94", "-binary"], M1)
    m = t.mech(CKM["GOSTR3411"])
    h.eq(bytes(s.digest(M1, m)), gost94, "GOSTR3411 (34.11-94) as the openssl engine computes")
    h.eq(bytes(s.digest(M1, t.mech(CKM["GOSTR3411"], t.OID["gost94_cp"]))), gost94,
         "GOSTR3411 with the CryptoPro parameter OID")
    h.eq(c.multi_digest(m, chunks(M1, 7)), gost94, "GOSTR3411 multi-part")
    c.covered.add(CKM["GOSTR3411"])


def hmacs(c):
    h, s = c.h, c.s
    msg = X("0126bdb87800af214341456563780100")
    kat = {
        "GOSTR3411_12_256_HMAC": X("a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9"),
        "GOSTR3411_12_512_HMAC": X("a59bab22ecae19c65fbde6e5f4e9f5d8549d31f037f9df9b905500e171923a77"
                                   "3d5f1530f2ed7e964cb2eedc29e9ad2f3afe93b2814f79f5000ffc0366c251e6"),
    }
    key = c.secret(t.CKK_GENERIC_SECRET, K32, "hmac key")
    for name, want in kat.items():
        m = t.mech(CKM[name])
        mac = bytes(s.sign(key, msg, m))
        h.eq(mac, want, "%s of the RFC 7836 example" % name)
        h.eq(c.multi_sign(key, m, chunks(msg, 3)), want, "%s multi-part" % name)
        h.ok(s.verify(key, msg, mac, m), "%s verifies" % name)
        bad = bytes([mac[0] ^ 1]) + mac[1:]
        h.eq(c.verify_rv(key, m, msg, bad), CKR_SIGNATURE_INVALID, "%s: a changed MAC" % name)
        c.covered.add(CKM[name])
    want94 = openssl(["dgst", "-md_gost94", "-mac", "hmac", "-macopt", "hexkey:" + K32.hex(),
                      "-binary"], msg)
    m = t.mech(CKM["GOSTR3411_HMAC"])
    h.eq(bytes(s.sign(key, msg, m)), want94, "GOSTR3411_HMAC as the openssl engine computes")
    h.ok(s.verify(key, msg, want94, m), "GOSTR3411_HMAC verifies")
    c.covered.add(CKM["GOSTR3411_HMAC"])


# ---------------------------------------------------------------------------------------------
# Block ciphers, MACs, MGM
# ---------------------------------------------------------------------------------------------


def roundtrip(c, name, key, m, plain, want=None, parts=(5, 16, 3)):
    h, s = c.h, c.s
    ct = bytes(s.encrypt(key, plain, m))
    if want is not None:
        h.eq(ct[:len(want)], want, "%s known answer" % name)
    h.ok(ct != plain, "%s changes the data" % name)
    h.eq(bytes(s.decrypt(key, ct, m)), plain, "%s decrypts back" % name)
    if parts:
        h.eq(c.multi_crypt(True, key, m, chunks(plain, *parts)), ct,
             "%s multi-part = single-part" % name)
        h.eq(c.multi_crypt(False, key, m, chunks(ct, *parts)), plain,
             "%s multi-part decryption" % name)
    return ct


def ciphers(c):
    h = c.h
    kuz = c.secret(t.CKK_KUZNYECHIK, KUZ_K, "kuz")
    mag = c.secret(t.CKK_MAGMA, MAG_K, "magma")

    roundtrip(c, "KUZNYECHIK_ECB", kuz, t.mech(CKM["KUZNYECHIK_ECB"]), KUZ_P,
              X("7f679d90bebc24305a468d42b9d4edcd b429912c6e0032f9285452d76718d08b"
                "f0ca33549d247ceef3f5a5313bd4b157 d0b09ccde830b9eb3a02c4c5aa8ada98"), (16, 32))
    roundtrip(c, "MAGMA_ECB", mag, t.mech(CKM["MAGMA_ECB"]), MAG_P,
              X("2b073f0494f372a0 de70e715d3556e48 11d8d9e9eacfbc1e 7c68260996c67efb"), (8, 16))
    # CTR-ACPKM: its first section is plain CTR, so the CTR example's first block holds.
    roundtrip(c, "KUZNYECHIK_CTR_ACPKM", kuz, t.mech(CKM["KUZNYECHIK_CTR_ACPKM"],
                                                     X("1234567890abcef0")),
              KUZ_P + bytes(range(77)), X("f195d8bec10ed1dbd57b5fa240bda1b8"))
    roundtrip(c, "MAGMA_CTR_ACPKM", mag, t.mech(CKM["MAGMA_CTR_ACPKM"], X("12345678")),
              MAG_P + bytes(range(45)), X("4e98110c97b7b93c"))
    c.covered.update(CKM[n] for n in ("KUZNYECHIK_ECB", "MAGMA_ECB", "KUZNYECHIK_CTR_ACPKM",
                                      "MAGMA_CTR_ACPKM"))

    for name, key, want in (("KUZNYECHIK_MAC", kuz, X("336f4d296059fbe34ddeb35b37749c67")),
                            ("MAGMA_MAC", mag, X("154e72102030c5bb"))):
        m = t.mech(CKM[name])
        data = KUZ_P if name.startswith("KUZ") else MAG_P
        mac = bytes(c.s.sign(key, data, m))
        h.eq(mac, want, "%s (CMAC) known answer" % name)
        h.eq(c.multi_sign(key, m, chunks(data, 3, 17)), want, "%s multi-part" % name)
        h.ok(c.s.verify(key, data, mac, m), "%s verifies" % name)
        h.eq(c.verify_rv(key, m, data, bytes([mac[0] ^ 0x80]) + mac[1:]), CKR_SIGNATURE_INVALID,
             "%s: a changed tag" % name)
        c.covered.add(CKM[name])

    mgm = [("KUZNYECHIK_MGM", kuz, X("1122334455667700ffeeddccbbaa9988"), 128,
            X("0202020202020202010101010101010104040404040404040303030303030303ea0505050505050505"),
            X("1122334455667700ffeeddccbbaa998800112233445566778899aabbcceeff0a112233445566778899"
              "aabbcceeff0a002233445566778899aabbcceeff0a0011aabbcc"),
            X("a9757b8147956e9055b8a33de89f42fc8075d2212bf9fd5bd3f7069aadc16b39497ab15915a6ba8593"
              "6b5d0ea9f6851cc60c14d4d3f883d0ab94420695c76deb2c7552"),
            X("cf5d656f40c34f5c46e8bb0e29fcdb4c")),
           ("MAGMA_MGM", mag, X("12def06b3c130a59"), 64,
            X("01010101010101010202020202020202030303030303030304040404040404040505050505050505ea"),
            X("ffeeddccbbaa998811223344556677008899aabbcceeff0a001122334455667799aabbcceeff0a0011"
              "22334455667788aabbcceeff0a00112233445566778899aabbcc"),
            X("c795066c5f9ea03b85113342459185ae1f2e00d6bf2b785d940470b8bb9c8e7d9a5dd3731f7ddc70ec"
              "27cb0ace6fa57670f65c646abb75d547aa37c3bcb5c34e03bb9c"),
            X("a7928069aa10fd10"))]
    for name, key, nonce, tag_bits, aad, plain, want_c, want_t in mgm:
        m = t.mech(CKM[name], t.mgm_params(nonce, aad, tag_bits))
        out = bytes(c.s.encrypt(key, plain, m))
        h.eq(out, want_c + want_t, "%s RFC 9058 example: C || T" % name)
        h.eq(bytes(c.s.decrypt(key, out, m)), plain, "%s decrypts and authenticates" % name)
        bad = out[:10] + bytes([out[10] ^ 1]) + out[11:]
        h.rv(lambda: c.s.decrypt(key, bad, m), CKR_ENCRYPTED_DATA_INVALID,
             "%s: a changed ciphertext byte is refused" % name)
        bad_aad = t.mech(CKM[name], t.mgm_params(nonce, aad[:-1] + b"\x00", tag_bits))
        h.rv(lambda: c.s.decrypt(key, out, bad_aad), CKR_ENCRYPTED_DATA_INVALID,
             "%s: a changed AAD is refused" % name)
        c.covered.add(CKM[name])


def gost28147(c):
    h, s = c.h, c.s
    key = c.secret(t.CKK_GOST28147, MAG_K, "gost89",
                   more=[(t.CKA_GOST28147_PARAMS, t.OID["gost89_cp_a"])])
    plain = bytes(range(64))
    ct = roundtrip(c, "GOST28147_ECB", key, t.mech(CKM["GOST28147_ECB"]), plain, None, (8, 24))
    same = bytes(s.encrypt(key, plain[:8] * 2, t.mech(CKM["GOST28147_ECB"])))
    h.eq(same[:8], same[8:], "GOST28147_ECB: equal blocks, equal ciphertext")
    iv = X("0102030405060708")
    cfb = roundtrip(c, "GOST28147 (CFB)", key, t.mech(CKM["GOST28147"], iv), plain + b"xyz")
    m = t.mech(CKM["GOST28147_MAC"])
    mac = bytes(s.sign(key, plain, m))
    h.eq(len(mac), 4, "GOST28147_MAC is 4 bytes")
    h.ok(s.verify(key, plain, mac, m), "GOST28147_MAC verifies")
    h.eq(c.verify_rv(key, m, plain, bytes([mac[0] ^ 1]) + mac[1:]), CKR_SIGNATURE_INVALID,
         "GOST28147_MAC: a changed MAC")

    # The S-box of CKA_GOST28147_PARAMS, against the engine told the same parameter set
    # (CRYPT_PARAMS: without it the 3.0.1 engine's gost89 cipher uses TC26 Z, not CryptoPro-A).
    keyz = c.secret(t.CKK_GOST28147, MAG_K, "gost89 z",
                    more=[(t.CKA_GOST28147_PARAMS, t.OID["gost89_z"])])
    for name, k, params, macname in ((
            "CryptoPro-A", key, "id-Gost28147-89-CryptoPro-A-ParamSet", "gost-mac"),
            ("TC26 Z", keyz, "id-tc26-gost-28147-param-Z", "gost-mac-12")):
        want = openssl(["enc", "-gost89", "-K", MAG_K.hex(), "-iv", iv.hex(), "-nopad"],
                       plain + b"xyz", params)
        h.eq(bytes(s.encrypt(k, plain + b"xyz", t.mech(CKM["GOST28147"], iv))), want,
             "GOST28147 (CFB) with the %s S-box as the openssl engine computes" % name)
        want = openssl(["dgst", "-mac", macname, "-macopt", "hexkey:" + MAG_K.hex(), "-binary"],
                       plain)
        h.eq(bytes(s.sign(k, plain, m)), want,
             "GOST28147_MAC with the %s S-box as the openssl engine computes" % name)
    h.ok(cfb != bytes(s.encrypt(keyz, plain + b"xyz", t.mech(CKM["GOST28147"], iv))),
         "the two S-boxes give different ciphertexts")
    c.covered.update(CKM[n] for n in ("GOST28147_ECB", "GOST28147", "GOST28147_MAC"))


# ---------------------------------------------------------------------------------------------
# Key generation, wrapping
# ---------------------------------------------------------------------------------------------


def keygen(c):
    h, s = c.h, c.s
    for name, ktype, length in (("KUZNYECHIK_KEY_GEN", t.CKK_KUZNYECHIK, 32),
                                ("MAGMA_KEY_GEN", t.CKK_MAGMA, 32),
                                ("GOST28147_KEY_GEN", t.CKK_GOST28147, 32),
                                ("GENERIC_SECRET_KEY_GEN", t.CKK_GENERIC_SECRET, 48)):
        tmpl = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_TOKEN, CK_FALSE), (CKA_SENSITIVE, CK_FALSE),
                (CKA_EXTRACTABLE, CK_TRUE), (CKA_ENCRYPT, CK_TRUE), (CKA_DECRYPT, CK_TRUE),
                (CKA_SIGN, CK_TRUE), (CKA_VERIFY, CK_TRUE), (CKA_WRAP, CK_TRUE),
                (CKA_UNWRAP, CK_TRUE), (CKA_DERIVE, CK_TRUE)]
        if ktype == t.CKK_GENERIC_SECRET:
            tmpl.append((CKA_VALUE_LEN, length))
        k1 = s.generateKey(tmpl, t.mech(CKM[name]))
        k2 = s.generateKey(tmpl, t.mech(CKM[name]))
        v1, v2 = c.value(k1), c.value(k2)
        h.eq(len(v1), length, "%s: %d-byte value" % (name, length))
        h.ok(v1 != v2, "%s: two keys differ" % name)
        h.eq(s.getAttributeValue(k1, [CKA_KEY_TYPE])[0], ktype, "%s: key type" % name)
        c.keys[name] = k1
        c.covered.add(CKM[name])


def wrapping(c):
    h, s = c.h, c.s
    target = c.secret(t.CKK_KUZNYECHIK, KUZ_K, "to wrap")
    unwrap_tmpl = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, t.CKK_KUZNYECHIK),
                   (CKA_TOKEN, CK_FALSE), (CKA_SENSITIVE, CK_FALSE), (CKA_EXTRACTABLE, CK_TRUE),
                   (CKA_ENCRYPT, CK_TRUE)]
    for name, twin, iv in (("KUZNYECHIK_KEXP_15_WRAP", t.CKK_KUZNYECHIK_TWIN_KEY, X("0102030405060708")),
                           ("MAGMA_KEXP_15_WRAP", t.CKK_MAGMA_TWIN_KEY, X("01020304"))):
        kek = c.secret(twin, bytes(range(64)), "twin")
        m = t.mech(CKM[name], iv)
        wrapped = bytes(s.wrapKey(kek, target, m))
        h.ok(KUZ_K not in wrapped, "%s: the key is not in the clear" % name)
        u = s.unwrapKey(kek, wrapped, unwrap_tmpl, m)
        h.eq(c.value(u), KUZ_K, "%s: unwrap gives the key back" % name)
        bad = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
        h.rv(lambda: s.unwrapKey(kek, bad, unwrap_tmpl, m), CKR_WRAPPED_KEY_INVALID,
             "%s: a changed byte is refused" % name)
        c.covered.add(CKM[name])

    kek = c.secret(t.CKK_GOST28147, MAG_K, "kek89")
    key89 = c.secret(t.CKK_GOST28147, KUZ_K, "cek89")
    m = t.mech(CKM["GOST28147_KEY_WRAP"], X("0011223344556677"))
    wrapped = bytes(s.wrapKey(kek, key89, m))
    h.eq(len(wrapped), 36, "GOST28147_KEY_WRAP: 32 bytes + 4-byte MAC")
    tmpl89 = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, t.CKK_GOST28147), (CKA_TOKEN, CK_FALSE),
              (CKA_SENSITIVE, CK_FALSE), (CKA_EXTRACTABLE, CK_TRUE)]
    u = s.unwrapKey(kek, wrapped, tmpl89, m)
    h.eq(c.value(u), KUZ_K, "GOST28147_KEY_WRAP: unwrap gives the key back")
    bad = wrapped[:5] + bytes([wrapped[5] ^ 1]) + wrapped[6:]
    h.rv(lambda: s.unwrapKey(kek, bad, tmpl89, m), CKR_WRAPPED_KEY_INVALID,
         "GOST28147_KEY_WRAP: a changed byte is refused")
    c.covered.add(CKM["GOST28147_KEY_WRAP"])


# ---------------------------------------------------------------------------------------------
# Signatures on every curve
# ---------------------------------------------------------------------------------------------


def signatures(c):
    h, s = c.h, c.s
    data = b"LS11CLOUD module test message " * 40   # > 1 KiB: a real multi-part input
    for curve in CURVES_256 + CURVES_512:
        big = curve.startswith("tc26_512")
        pub, priv = c.keypair(curve)
        c.keys[curve] = (pub, priv)
        n = 64 if big else 32
        dmech = t.mech(CKM["GOSTR3411_12_512" if big else "GOSTR3411_12_256"])
        hmech = t.mech(CKM["GOSTR3410_WITH_GOSTR3411_12_512" if big
                           else "GOSTR3410_WITH_GOSTR3411_12_256"])
        rmech = t.mech(CKM["GOSTR3410_512" if big else "GOSTR3410"])
        digest = bytes(s.digest(data, dmech))

        value = t.attr_bytes(s, pub, CKA_VALUE)
        h.eq(len(value), 2 * n, "%s: public CKA_VALUE is LE(x)||LE(y)" % curve)
        sig = bytes(s.sign(priv, data, hmech))
        h.eq(len(sig), 2 * n, "%s: hash-and-sign signature length" % curve)
        h.ok(s.verify(pub, data, sig, hmech), "%s: hash-and-sign verifies" % curve)
        h.eq(c.verify_rv(pub, rmech, digest, sig), 0,
             "%s: the hash-and-sign signature verifies raw on the digest" % curve)
        msig = c.multi_sign(priv, hmech, chunks(data, 100, 500))
        h.eq(c.multi_verify(pub, hmech, chunks(data, 1, 1000), msig), 0,
             "%s: multi-part sign and verify" % curve)
        rsig = bytes(s.sign(priv, digest, rmech))
        h.ok(s.verify(pub, digest, rsig, rmech), "%s: raw signature verifies" % curve)
        h.eq(c.verify_rv(pub, hmech, data, rsig), 0,
             "%s: the raw signature verifies as hash-and-sign" % curve)
        h.ok(sig != rsig, "%s: signatures are randomised" % curve)
        bad = sig[:5] + bytes([sig[5] ^ 4]) + sig[6:]
        h.eq(c.verify_rv(pub, hmech, data, bad), CKR_SIGNATURE_INVALID,
             "%s: a changed signature" % curve)
        h.eq(c.verify_rv(pub, hmech, data + b".", sig), CKR_SIGNATURE_INVALID,
             "%s: changed data" % curve)
        h.eq(c.verify_rv(pub, hmech, data, sig[:-1]), CKR_SIGNATURE_LEN_RANGE,
             "%s: a short signature" % curve)
        h.rv(lambda: s.sign(priv, digest[:-1], rmech), CKR_DATA_LEN_RANGE,
             "%s: a raw digest of the wrong length is refused (no abort)" % curve)
        c.covered.update(m.to_native().mechanism for m in (hmech, rmech))

        if not big:
            m94 = t.mech(CKM["GOSTR3410_WITH_GOSTR3411"])
            sig94 = bytes(s.sign(priv, data, m94))
            h.ok(s.verify(pub, data, sig94, m94), "%s: GOSTR3410_WITH_GOSTR3411 (94)" % curve)
            d94 = bytes(s.digest(data, t.mech(CKM["GOSTR3411"])))
            h.eq(c.verify_rv(pub, rmech, d94, sig94), 0,
                 "%s: ... is a signature of the 34.11-94 digest" % curve)
            c.covered.add(CKM["GOSTR3410_WITH_GOSTR3411"])


# ---------------------------------------------------------------------------------------------
# Derivation
# ---------------------------------------------------------------------------------------------

# RFC 7836 / R 50.1.113-2016 VKO example on tc26-512-A (gost-vectors.txt 9): Q_A = x_A * P.
VKO_XA = X("c990ecd972fce84ec4db022778f50fcac726f46708384b8d458304962d7147f8"
           "c2db41cef22c90b102f2968404f9b9be6d47c79692d81826b32b8daca43cb667")
VKO_QA = X("aab0eda4abff21208d18799fb9a8556654ba783070eba10cb9abb253ec56dcf5"
           "d3ccba6192e464e6e5bcb6dea137792f2431f6c897eb1b3c0cc14327b1adc0a7"
           "914613a3074e363aedb204d38d3563971bd8758e878c9db11403721b48002d38"
           "461f92472d40ea92f9958c0ffa4c93756401b97f89fdbe0b5e46e4a4631cdb5a")
VKO_XB = X("48c859f7b6f11585887cc05ec6ef1390cfea739b1a18c0d4662293ef63b79e3b"
           "8014070b44918590b4b996acfea4edfbbbcccc8c06edd8bf5bda92a51392d0db")
VKO_QB = X("192fe183b9713a077253c72c8735de2ea42a3dbc66ea317838b65fa32523cd5e"
           "fca974eda7c863f4954d1147f1f2b25c395fce1c129175e876d132e94ed5a651"
           "04883b414c9b592ec4dc84826f07d0b6d9006dda176ce48c391e3f97d102e03b"
           "b598bf132a228a45f7201aba08fc524a2d77e43a362ab022ad4028f75bde3b79")
VKO_UKM = X("1d80603c8544c727")


def derivation(c):
    h, s = c.h, c.s

    # The RFC 7836 example on tc26-512-A: x_A with Q_B and x_B with Q_A give the same key.
    def private(value):
        return s.createObject([
            (CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, t.CKK_GOSTR3410_512),
            (t.CKA_GOSTR3410_PARAMS, t.OID["tc26_512_a"]),
            (t.CKA_GOSTR3411_PARAMS, t.OID["streebog512"]), (CKA_TOKEN, CK_FALSE),
            (CKA_PRIVATE, CK_TRUE), (CKA_SENSITIVE, CK_TRUE), (CKA_DERIVE, CK_TRUE),
            (CKA_SIGN, CK_TRUE), (CKA_VALUE, value)])
    a, b = private(VKO_XA), private(VKO_XB)
    for name, want in (("GOSTR3410_12_DERIVE",
                        X("c9a9a77320e2cc559ed72dce6f47e2192ccea95fa648670582c054c0ef36c221")),
                       ("VKO_GOSTR3410_2012_512",
                        X("79f002a96940ce7bde3259a52e015297adaad84597a0d205b50e3e1719f97bfa"
                          "7ee1d2661fa9979a5aa235b558a7e6d9f88f982dd63fc35a8ec0dd5e242d3bdf"))):
        got_a = c.derive(a, CKM[name], t.derive_params(VKO_QB, VKO_UKM))
        got_b = c.derive(b, CKM[name], t.derive_params(VKO_QA, VKO_UKM))
        h.eq(got_a, want, "%s: the RFC 7836 example" % name)
        h.eq(got_a, got_b, "%s: both parties derive the same key" % name)
        c.covered.add(CKM[name])

    # Two fresh key pairs per curve size: VKO (2001-style and 2012), with and without the
    # CryptoPro KDF, and KEG; both sides must agree.
    for curve in ("tc26_256_a", "cp_a", "tc26_512_c"):
        big = curve.startswith("tc26_512")
        p1, k1 = c.keys.get(curve) or c.keypair(curve)
        p2, k2 = c.keypair(curve)
        q1, q2 = t.attr_bytes(s, p1, CKA_VALUE), t.attr_bytes(s, p2, CKA_VALUE)
        ukm8 = os.urandom(8)
        mechs = [("GOSTR3410_12_DERIVE", CKD_NULL)]
        if not big:
            mechs += [("GOSTR3410_DERIVE", CKD_NULL), ("GOSTR3410_DERIVE", CKD_CPDIVERSIFY_KDF)]
        else:
            mechs += [("VKO_GOSTR3410_2012_512", CKD_NULL)]
        for name, kdf in mechs:
            v1 = c.derive(k1, CKM[name], t.derive_params(q2, ukm8, kdf))
            v2 = c.derive(k2, CKM[name], t.derive_params(q1, ukm8, kdf))
            h.ok(len(v1) in (32, 64) and v1 == v2,
                 "%s on %s (kdf %d): both sides agree" % (name, curve, kdf))
            c.covered.add(CKM[name])
        ukm32 = os.urandom(32)
        v1 = c.derive(k1, CKM["GOST_KEG"], t.keg_params(q2, ukm32), None,
                      t.CKK_KUZNYECHIK_TWIN_KEY)
        v2 = c.derive(k2, CKM["GOST_KEG"], t.keg_params(q1, ukm32), None,
                      t.CKK_KUZNYECHIK_TWIN_KEY)
        h.ok(len(v1) == 64 and v1 == v2, "GOST_KEG on %s: both sides agree on a twin key" % curve)
        c.covered.add(CKM["GOST_KEG"])

    base = c.secret(t.CKK_GENERIC_SECRET, K32, "kdf base")
    got = c.derive(base, CKM["KDF_GOSTR3411_2012_256"],
                   t.kdf_tree_params(X("26bdb878"), X("af21434145656378")))
    h.eq(got, X("a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9"),
         "KDF_GOSTR3411_2012_256: the RFC 7836 example")
    got = c.derive(base, CKM["KDF_TREE_GOSTR3411_2012_256"],
                   t.kdf_tree_params(X("26bdb878"), X("af21434145656378"), 1, 512), 64)
    h.eq(got, X("22b6837845c6bef65ea71672b265831086d3c76aebe6dae91cad51d83f79d16b"
                "074c9330599d7f8d712fca54392f4ddde93751206b3584c8f43f9e6dc51531f9"),
         "KDF_TREE_GOSTR3411_2012_256: the RFC 7836 example (L = 512)")
    got = c.derive(base, CKM["KDF_TREE_GOSTR3411_2012_256"],
                   t.kdf_tree_params(X("26bdb878"), X("af21434145656378"), 1, 512, 32), 32)
    h.eq(got, X("074c9330599d7f8d712fca54392f4ddde93751206b3584c8f43f9e6dc51531f9"),
         "KDF_TREE_GOSTR3411_2012_256: ulOffset picks the second key")
    c.covered.update((CKM["KDF_GOSTR3411_2012_256"], CKM["KDF_TREE_GOSTR3411_2012_256"]))

    # A derived key that is a cipher key works as one.
    kz1 = c.s.deriveKey(base, c.derived_template(None, t.CKK_KUZNYECHIK),
                        t.mech(CKM["KDF_GOSTR3411_2012_256"],
                               t.kdf_tree_params(b"label", b"seed")))
    kz2 = c.s.deriveKey(base, c.derived_template(None, t.CKK_KUZNYECHIK),
                        t.mech(CKM["KDF_GOSTR3411_2012_256"],
                               t.kdf_tree_params(b"label", b"seed")))
    m = t.mech(CKM["KUZNYECHIK_ECB"])
    h.eq(bytes(s.encrypt(kz1, bytes(16), m)), bytes(s.encrypt(kz2, bytes(16), m)),
         "derived Kuznyechik keys encrypt alike")


CKD_NULL = t.CKD_NULL
CKD_CPDIVERSIFY_KDF = t.CKD_CPDIVERSIFY_KDF


def state_machine(c):
    h, s, lib, sess = c.h, c.s, c.lib, c.sess
    m = t.mech(CKM["GOSTR3411_12_256"]).to_native()
    c._check(lib.C_DigestInit(sess, m))
    c._check(lib.C_DigestUpdate(sess, ckbytelist(b"abc")))
    out = ckbytelist([0] * 32)
    h.eq(lib.C_Digest(sess, ckbytelist(b"abc"), out), 0x90,
         "C_Digest after C_DigestUpdate: CKR_OPERATION_ACTIVE")
    h.eq(lib.C_DigestInit(sess, m), 0x90, "C_DigestInit while one runs: CKR_OPERATION_ACTIVE")
    d = c._out(lib.C_DigestFinal)
    h.eq(d, bytes(s.digest(b"abc", t.mech(CKM["GOSTR3411_12_256"]))),
         "... and the digest is still right")
    h.eq(lib.C_DigestFinal(sess, ckbytelist([0] * 32)), CKR_OPERATION_NOT_INITIALIZED,
         "C_DigestFinal after the end: CKR_OPERATION_NOT_INITIALIZED")


def mechanism_info(c, slot, lib):
    h = c.h
    flags_for = {
        "GOSTR3410_KEY_PAIR_GEN": PyKCS11.CKF_GENERATE_KEY_PAIR,
        "GOSTR3410_WITH_GOSTR3411_12_256": PyKCS11.CKF_SIGN | PyKCS11.CKF_VERIFY,
        "GOSTR3411_12_256": PyKCS11.CKF_DIGEST,
        "KUZNYECHIK_MGM": PyKCS11.CKF_ENCRYPT | PyKCS11.CKF_DECRYPT,
        "GOST_KEG": PyKCS11.CKF_DERIVE,
        "KUZNYECHIK_KEXP_15_WRAP": PyKCS11.CKF_WRAP | PyKCS11.CKF_UNWRAP,
    }
    for name, want in flags_for.items():
        info = PyKCS11.LowLevel.CK_MECHANISM_INFO()
        rv = lib.lib.C_GetMechanismInfo(slot, CKM[name], info)
        h.ok(rv == 0 and info.flags & want == want, "C_GetMechanismInfo(%s) flags" % name,
             "rv 0x%x flags 0x%x" % (rv, info.flags))
    info = PyKCS11.LowLevel.CK_MECHANISM_INFO()
    h.eq(lib.lib.C_GetMechanismInfo(slot, 0x1, info), PyKCS11.CKR_MECHANISM_INVALID,
         "C_GetMechanismInfo of an unknown mechanism: CKR_MECHANISM_INVALID")


def main():
    h = t.Harness("module/pykcs11-mechanisms")
    lib = t.load(h)
    slot = t.init_token(lib)
    s = t.user_session(lib, slot)
    c = Ctx(h, s)
    listed = _mech_list(lib, slot)
    h.ok(len(listed) > 0, "C_GetMechanismList lists %d mechanisms" % len(listed))
    h.run("mechanism info", lambda: mechanism_info(c, slot, lib))
    for name, fn in (("digests", digests), ("hmac", hmacs), ("ciphers", ciphers),
                     ("gost 28147-89", gost28147), ("key generation", keygen),
                     ("wrapping", wrapping), ("signatures", signatures),
                     ("derivation", derivation), ("operation state", state_machine)):
        h.run(name, lambda fn=fn: fn(c))
    for m in listed:
        h.ok(m in c.covered, "round trip of %s" % t.CKM_NAME.get(m, hex(m)))
    s.closeSession()
    h.summary()


def _mech_list(lib, slot):
    out = PyKCS11.LowLevel.ckintlist()
    rv = lib.lib.C_GetMechanismList(slot, out)
    if rv != 0:
        raise PyKCS11.PyKCS11Error(rv)
    return [int(m) & 0xFFFFFFFFFFFFFFFF for m in out]


if __name__ == "__main__":
    main()
