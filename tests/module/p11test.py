"""Shared helpers of the real-client tests of libls11token.so (run by /usr/bin/python3).

A tiny harness (checks counted, a closing "N passed, N failed" line, non-zero exit on any
failure), a temporary LS11TOKEN_DB per test program, the TC26 constants PyKCS11 does not know,
ctypes images of the GOST mechanism parameter structures (PyKCS11 passes a mechanism parameter
as raw bytes, so a structure with pointers is built with ctypes and handed over as its bytes,
with the buffers it points to kept alive), and direct ctypes calls for what PyKCS11 1.5 lacks
(C_CopyObject, exact CK_RV of C_GetAttributeValue, the v3.0 interface).

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import ctypes
import os
import shutil
import sys
import tempfile
import traceback

import PyKCS11
from PyKCS11 import LowLevel

# ---------------------------------------------------------------------------------------------
# Constants (core/pkcs11x.h, shared/reference/gost-pkcs11.md 1.1-1.2)
# ---------------------------------------------------------------------------------------------

TC26 = 0xD4321000
CKK_GOSTR3410 = 0x30
CKK_GOST28147 = 0x32
CKK_GOSTR3410_512 = TC26 | 0x003
CKK_KUZNYECHIK = TC26 | 0x004
CKK_MAGMA = TC26 | 0x005
CKK_KUZNYECHIK_TWIN_KEY = TC26 | 0x006
CKK_MAGMA_TWIN_KEY = TC26 | 0x007
CKK_GENERIC_SECRET = 0x10

CKA_GOSTR3410_PARAMS = 0x250
CKA_GOSTR3411_PARAMS = 0x251
CKA_GOST28147_PARAMS = 0x252
CKA_COPYABLE = 0x171
CKA_DESTROYABLE = 0x172

CKM = dict(
    GOSTR3410_KEY_PAIR_GEN=0x1200, GOSTR3410=0x1201, GOSTR3410_WITH_GOSTR3411=0x1202,
    GOSTR3410_KEY_WRAP=0x1203, GOSTR3410_DERIVE=0x1204, GOSTR3411=0x1210,
    GOSTR3411_HMAC=0x1211, GOST28147_KEY_GEN=0x1220, GOST28147_ECB=0x1221, GOST28147=0x1222,
    GOST28147_MAC=0x1223, GOST28147_KEY_WRAP=0x1224, GENERIC_SECRET_KEY_GEN=0x350,
    GOSTR3410_512_KEY_PAIR_GEN=TC26 | 0x005, GOSTR3410_512=TC26 | 0x006,
    GOSTR3410_12_DERIVE=TC26 | 0x007, GOSTR3410_WITH_GOSTR3411_12_256=TC26 | 0x008,
    GOSTR3410_WITH_GOSTR3411_12_512=TC26 | 0x009, GOSTR3410_PUBLIC_KEY_DERIVE=TC26 | 0x00A,
    GOSTR3410_512_PUBLIC_KEY_DERIVE=TC26 | 0x00B, GOSTR3411_12_256=TC26 | 0x012,
    GOSTR3411_12_512=TC26 | 0x013, GOSTR3411_12_256_HMAC=TC26 | 0x014,
    GOSTR3411_12_512_HMAC=TC26 | 0x015, TLS_GOST_PRF_2012_256=TC26 | 0x016,
    TLS_GOST_PRF_2012_512=TC26 | 0x017, TLS_GOST_MASTER_KEY_DERIVE_2012_256=TC26 | 0x018,
    KDF_4357=TC26 | 0x025, KDF_GOSTR3411_2012_256=TC26 | 0x026,
    KDF_HMAC3411_2012_256=TC26 | 0x028, KDF_TREE_GOSTR3411_2012_256=TC26 | 0x02A,
    KUZNYECHIK_KEXP_15_WRAP=TC26 | 0x02B, MAGMA_KEXP_15_WRAP=TC26 | 0x02C,
    KUZNYECHIK_MGM=TC26 | 0x02D, MAGMA_MGM=TC26 | 0x02E, KUZNYECHIK_KEY_GEN=TC26 | 0x030,
    KUZNYECHIK_ECB=TC26 | 0x031, KUZNYECHIK_CTR_ACPKM=TC26 | 0x032,
    KUZNYECHIK_MAC=TC26 | 0x033, MAGMA_KEY_GEN=TC26 | 0x034, MAGMA_ECB=TC26 | 0x035,
    MAGMA_CTR_ACPKM=TC26 | 0x036, MAGMA_MAC=TC26 | 0x037, VKO_GOSTR3410_2012_512=TC26 | 0x038,
    GOST_KEG=TC26 | 0x039,
)
CKM_NAME = {v: k for k, v in CKM.items()}
CKD_NULL = 1
CKD_CPDIVERSIFY_KDF = 9

# DER OIDs (gost-pkcs11.md 2)
OID = dict(
    cp_a=bytes.fromhex("06072a850302022301"), cp_b=bytes.fromhex("06072a850302022302"),
    cp_c=bytes.fromhex("06072a850302022303"), xch_a=bytes.fromhex("06072a850302022400"),
    xch_b=bytes.fromhex("06072a850302022401"),
    tc26_256_a=bytes.fromhex("06092a8503070102010101"),
    tc26_256_b=bytes.fromhex("06092a8503070102010102"),
    tc26_256_c=bytes.fromhex("06092a8503070102010103"),
    tc26_256_d=bytes.fromhex("06092a8503070102010104"),
    tc26_512_a=bytes.fromhex("06092a8503070102010201"),
    tc26_512_b=bytes.fromhex("06092a8503070102010202"),
    tc26_512_c=bytes.fromhex("06092a8503070102010203"),
    streebog256=bytes.fromhex("06082a85030701010202"),
    streebog512=bytes.fromhex("06082a85030701010203"),
    gost94_cp=bytes.fromhex("06072a850302021e01"),
    gost89_cp_a=bytes.fromhex("06072a850302021f01"),
    gost89_z=bytes.fromhex("06092a8503070102050101"),
)

SO_PIN = "87654321"
USER_PIN = "123456"

# ---------------------------------------------------------------------------------------------
# The harness
# ---------------------------------------------------------------------------------------------


class Harness:
    """Counts checks; every failure is printed with its detail; summary() exits."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.tmp = tempfile.mkdtemp(prefix="ls11-%s-" % name.replace("/", "-"))
        self.db = os.path.join(self.tmp, "token.db")
        os.environ["LS11TOKEN_DB"] = self.db
        os.environ.pop("LS11TOKEN_CONF", None)
        here = os.path.dirname(os.path.abspath(__file__))
        os.environ.setdefault("OPENSSL_CONF", os.path.join(here, "..", "data", "gost-engine.cnf"))
        if len(sys.argv) < 2:
            print("usage: %s MODULE [ARGS]" % sys.argv[0], file=sys.stderr)
            sys.exit(2)
        self.module = os.path.abspath(sys.argv[1])

    def ok(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok   %s" % what)
        else:
            self.failed += 1
            print("FAIL %s %s" % (what, detail))
        sys.stdout.flush()
        return bool(cond)

    def eq(self, got, want, what):
        if isinstance(got, (list, tuple, PyKCS11.ckbytelist)) and isinstance(want, bytes):
            got = bytes(got)
        return self.ok(got == want, what, "got %r, want %r" % (_show(got), _show(want)))

    def rv(self, fn, want, what):
        """Calls fn(); checks that it raises PyKCS11Error with @want (or succeeds: want=0)."""
        try:
            fn()
            got = 0
        except PyKCS11.PyKCS11Error as e:
            got = e.value
        return self.ok(got == want, what, "got %s, want %s" % (ckr(got), ckr(want)))

    def run(self, what, fn):
        """Runs a group of checks; an exception is one failure, the other groups go on."""
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every error is a failed check here
            self.failed += 1
            print("FAIL %s: exception %s" % (what, e))
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()

    def summary(self):
        if self.failed == 0:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("(database kept in %s)" % self.tmp)
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        sys.exit(1 if self.failed else 0)


def _show(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    return v


def ckr(v):
    if v == 0:
        return "CKR_OK"
    return "%s (0x%x)" % (PyKCS11.CKR.get(v, "?"), v) if v >= 0 else str(v)


# ---------------------------------------------------------------------------------------------
# The module through PyKCS11
# ---------------------------------------------------------------------------------------------


def load(h):
    lib = PyKCS11.PyKCS11Lib()
    lib.load(h.module)
    return lib


def slot_of(lib):
    slots = lib.getSlotList(tokenPresent=True)
    assert len(slots) == 1, "one slot with a token, got %r" % (slots,)
    return slots[0]


def label32(label):
    """A token label as C_InitToken takes it: 32 bytes, blank padded.

    PyKCS11 1.5 hands the label string to C_InitToken as it is, while the specification (and
    the module) read 32 bytes: a shorter string is a read past its end (AddressSanitizer
    catches it in the sanitizer build), so the tests always pass 32 characters."""
    return label.ljust(32)[:32]


def init_token(lib, label="ls11-test", so_pin=SO_PIN, user_pin=USER_PIN):
    """C_InitToken with the default SO PIN, and a user PIN set by the SO."""
    slot = slot_of(lib)
    lib.initToken(slot, so_pin, label32(label))
    s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    s.login(so_pin, PyKCS11.CKU_SO)
    s.initPin(user_pin)
    s.logout()
    s.closeSession()
    return slot


def user_session(lib, slot, pin=USER_PIN):
    s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    s.login(pin)
    return s


def mech(m, param=None):
    return PyKCS11.Mechanism(m, param)


def attr_bytes(s, obj, attr):
    return bytes(s.getAttributeValue(obj, [attr], allAsBinary=True)[0])


# ---------------------------------------------------------------------------------------------
# Mechanism parameter structures as bytes
# ---------------------------------------------------------------------------------------------

CK_ULONG = ctypes.c_ulong
CK_PTR = ctypes.c_void_p


class _Params:
    """Holds the ctypes buffers a parameter structure points to, for as long as it lives."""

    keep = []

    @classmethod
    def buf(cls, data):
        if data is None or len(data) == 0:
            return None, 0
        b = ctypes.create_string_buffer(bytes(data), len(data))
        cls.keep.append(b)
        return ctypes.cast(b, CK_PTR), len(data)


class CK_GOSTR3410_DERIVE_PARAMS(ctypes.Structure):
    _fields_ = [("kdf", CK_ULONG), ("pPublicData", CK_PTR), ("ulPublicDataLen", CK_ULONG),
                ("pUKM", CK_PTR), ("ulUKMLen", CK_ULONG)]


class CK_VENDOR_GOST_KEG_PARAMS(ctypes.Structure):
    _fields_ = [("pPublicData", CK_PTR), ("ulPublicDataLen", CK_ULONG), ("pUKM", CK_PTR),
                ("ulUKMLen", CK_ULONG)]


class CK_KDF_TREE_GOST_PARAMS(ctypes.Structure):
    _fields_ = [("ulLabelLength", CK_ULONG), ("pLabel", CK_PTR), ("ulSeedLength", CK_ULONG),
                ("pSeed", CK_PTR), ("ulR", CK_ULONG), ("ulL", CK_ULONG), ("ulOffset", CK_ULONG)]


class CK_GCM_PARAMS(ctypes.Structure):
    _fields_ = [("pIv", CK_PTR), ("ulIvLen", CK_ULONG), ("ulIvBits", CK_ULONG),
                ("pAAD", CK_PTR), ("ulAADLen", CK_ULONG), ("ulTagBits", CK_ULONG)]


def derive_params(public, ukm, kdf=CKD_NULL):
    p, n = _Params.buf(public)
    u, m = _Params.buf(ukm)
    return bytes(CK_GOSTR3410_DERIVE_PARAMS(kdf, p, n, u, m))


def keg_params(public, ukm):
    p, n = _Params.buf(public)
    u, m = _Params.buf(ukm)
    return bytes(CK_VENDOR_GOST_KEG_PARAMS(p, n, u, m))


def kdf_tree_params(label, seed, r=1, l_bits=256, offset=0):
    lp, ln = _Params.buf(label)
    sp, sn = _Params.buf(seed)
    return bytes(CK_KDF_TREE_GOST_PARAMS(ln, lp, sn, sp, r, l_bits, offset))


def mgm_params(nonce, aad, tag_bits):
    n, nl = _Params.buf(nonce)
    a, al = _Params.buf(aad)
    return bytes(CK_GCM_PARAMS(n, nl, 8 * nl, a, al, tag_bits))


# ---------------------------------------------------------------------------------------------
# Direct calls through the function list, for exact return values
# ---------------------------------------------------------------------------------------------

_V240_NAMES = """Initialize Finalize GetInfo GetFunctionList GetSlotList GetSlotInfo GetTokenInfo
GetMechanismList GetMechanismInfo InitToken InitPIN SetPIN OpenSession CloseSession
CloseAllSessions GetSessionInfo GetOperationState SetOperationState Login Logout CreateObject
CopyObject DestroyObject GetObjectSize GetAttributeValue SetAttributeValue FindObjectsInit
FindObjects FindObjectsFinal EncryptInit Encrypt EncryptUpdate EncryptFinal DecryptInit Decrypt
DecryptUpdate DecryptFinal DigestInit Digest DigestUpdate DigestKey DigestFinal SignInit Sign
SignUpdate SignFinal SignRecoverInit SignRecover VerifyInit Verify VerifyUpdate VerifyFinal
VerifyRecoverInit VerifyRecover DigestEncryptUpdate DecryptDigestUpdate SignEncryptUpdate
DecryptVerifyUpdate GenerateKey GenerateKeyPair WrapKey UnwrapKey DeriveKey SeedRandom
GenerateRandom GetFunctionStatus CancelFunction WaitForSlotEvent""".split()


class CK_VERSION(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


class CK_FUNCTION_LIST(ctypes.Structure):
    _fields_ = [("version", CK_VERSION)] + [("C_" + n, CK_PTR) for n in _V240_NAMES]


class CK_ATTRIBUTE(ctypes.Structure):
    _fields_ = [("type", CK_ULONG), ("pValue", CK_PTR), ("ulValueLen", CK_ULONG)]


class Raw:
    """The module's v2.40 function list through ctypes (same process, same application)."""

    def __init__(self, module):
        self.dll = ctypes.CDLL(module)
        fl = ctypes.POINTER(CK_FUNCTION_LIST)()
        rv = self.dll.C_GetFunctionList(ctypes.byref(fl))
        assert rv == 0, "C_GetFunctionList: 0x%x" % rv
        self.fl = fl.contents

    def fn(self, name, *argtypes):
        proto = ctypes.CFUNCTYPE(CK_ULONG, *argtypes)
        return proto(getattr(self.fl, "C_" + name))

    def copy_object(self, h, obj, template):
        """C_CopyObject with a template of (type, bytes); returns (rv, new handle)."""
        arr, _keep = self.template(template)
        out = CK_ULONG(0)
        f = self.fn("CopyObject", CK_ULONG, CK_ULONG, ctypes.POINTER(CK_ATTRIBUTE), CK_ULONG,
                    ctypes.POINTER(CK_ULONG))
        rv = f(h, obj, arr, len(template), ctypes.byref(out))
        return rv, out.value

    def get_attribute(self, h, obj, attr, size=4096):
        """C_GetAttributeValue of one attribute: (rv, bytes or None, ulValueLen)."""
        buf = ctypes.create_string_buffer(size)
        a = (CK_ATTRIBUTE * 1)(CK_ATTRIBUTE(attr, ctypes.cast(buf, CK_PTR), size))
        f = self.fn("GetAttributeValue", CK_ULONG, CK_ULONG, ctypes.POINTER(CK_ATTRIBUTE),
                    CK_ULONG)
        rv = f(h, obj, a, 1)
        n = a[0].ulValueLen
        val = buf.raw[:n] if rv == 0 and n != CK_ULONG(-1).value else None
        return rv, val, n

    def call(self, name, *args):
        """A call whose arguments are all CK_ULONG-sized (handles, flags, lengths, pointers)."""
        f = self.fn(name, *([CK_ULONG] * len(args)))
        return f(*args)

    @staticmethod
    def template(template):
        arr = (CK_ATTRIBUTE * max(1, len(template)))()
        keep = []
        for i, (t, v) in enumerate(template):
            b = ctypes.create_string_buffer(bytes(v), max(1, len(v)))
            keep.append(b)
            arr[i] = CK_ATTRIBUTE(t, ctypes.cast(b, CK_PTR), len(v))
        return arr, keep


def ulong(v):
    """A CK_ULONG attribute value as bytes (for raw templates)."""
    return bytes(CK_ULONG(v))


def session_handle(s):
    """The CK_SESSION_HANDLE of a PyKCS11 session, as a number."""
    return s.session.value()


def hv(o):
    """The number of a PyKCS11 object handle (PyKCS11 wants its handle objects back)."""
    return o.value() if hasattr(o, "value") else int(o)


def handle(n):
    """A PyKCS11 object handle for the number @n (from a direct ctypes call)."""
    o = LowLevel.CK_OBJECT_HANDLE()
    o.assign(n)
    return o
