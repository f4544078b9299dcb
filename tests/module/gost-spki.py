#!/usr/bin/python3
"""Writes the DER SubjectPublicKeyInfo of the GOST public key with CKA_ID = ID (hex) of the
token behind MODULE, built from its CKA_VALUE (LE(x) || LE(y)), CKA_GOSTR3410_PARAMS and
CKA_GOSTR3411_PARAMS, the way gost-engine encodes one (gost-pkcs11.md 5.3; gost-vectors.txt 8):

  SEQUENCE { SEQUENCE { id-tc26-gost3410-12-256 | -512,
                        SEQUENCE { paramset OID [, digest OID] } },
             BIT STRING { OCTET STRING { LE(x) || LE(y) } } }

The digest OID is left out for the tc26 256-bit parameter sets, as the engine does.

usage: gost-spki.py MODULE ID PIN > key.der

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import sys

import PyKCS11
from PyKCS11 import CKA_CLASS, CKA_ID, CKA_VALUE, CKF_SERIAL_SESSION, CKO_PUBLIC_KEY

CKA_GOSTR3410_PARAMS = 0x250
CKA_GOSTR3411_PARAMS = 0x251
ALG_256 = bytes.fromhex("06082a85030701010101")
ALG_512 = bytes.fromhex("06082a85030701010102")
TC26_256_PREFIX = bytes.fromhex("06092a85030701020101")


def der(tag, body):
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    elif n < 0x100:
        head = bytes([0x81, n])
    else:
        head = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + head + body


def spki(value, params, digest):
    alg = ALG_512 if len(value) == 128 else ALG_256
    oids = params if params.startswith(TC26_256_PREFIX) else params + digest
    algid = der(0x30, alg + der(0x30, oids))
    return der(0x30, algid + der(0x03, b"\x00" + der(0x04, value)))


def main():
    module, ck_id, pin = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]
    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    slot = lib.getSlotList(tokenPresent=True)[0]
    s = lib.openSession(slot, CKF_SERIAL_SESSION)
    s.login(pin)
    objs = s.findObjects([(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_ID, ck_id)])
    if len(objs) != 1:
        sys.exit("gost-spki.py: %d public keys with id %s" % (len(objs), ck_id.hex()))
    value, params, digest = (bytes(v) for v in s.getAttributeValue(
        objs[0], [CKA_VALUE, CKA_GOSTR3410_PARAMS, CKA_GOSTR3411_PARAMS], allAsBinary=True))
    if len(value) not in (64, 128):
        sys.exit("gost-spki.py: CKA_VALUE of %d bytes" % len(value))
    sys.stdout.buffer.write(spki(value, params, digest))
    s.logout()
    s.closeSession()


if __name__ == "__main__":
    main()
