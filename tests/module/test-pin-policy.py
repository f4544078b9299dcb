#!/usr/bin/python3
"""PIN policy and session state machine through libls11token.so with PyKCS11: the default SO
PIN of a fresh token and CKF_SO_PIN_TO_BE_CHANGED, CKF_USER_PIN_TO_BE_CHANGED after C_InitPIN,
the retry counter (COUNT_LOW, FINAL_TRY, LOCKED after 10 wrong PINs, kept across processes),
unlocking by the SO, and the errors of calls made in the wrong state.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import subprocess
import sys

import PyKCS11
from PyKCS11 import CKF_RW_SESSION, CKF_SERIAL_SESSION, CKU_SO, CKU_USER

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p11test as t  # noqa: E402

F = PyKCS11
CKR = dict(
    PIN_INCORRECT=0xA0, PIN_LEN_RANGE=0xA2, PIN_LOCKED=0xA4, SESSION_EXISTS=0xB6,
    SESSION_READ_ONLY_EXISTS=0xB7, SESSION_PARALLEL_NOT_SUPPORTED=0xB4,
    SESSION_HANDLE_INVALID=0xB3, USER_ALREADY_LOGGED_IN=0x100, USER_NOT_LOGGED_IN=0x101,
    USER_ANOTHER_ALREADY_LOGGED_IN=0x104, OPERATION_ACTIVE=0x90,
    OPERATION_NOT_INITIALIZED=0x91, USER_TYPE_INVALID=0x103, PIN_EXPIRED=0xA3,
)
NEW_SO_PIN = "so-secret-1"
NEW_USER_PIN = "user-pin-2"


def flags(lib, slot):
    return lib.getTokenInfo(slot).flags


def has(lib, slot, flag):
    return bool(flags(lib, slot) & flag)


def fresh_token(h, lib, slot):
    h.ok(not has(lib, slot, F.CKF_TOKEN_INITIALIZED), "a new database holds an uninitialised token")
    h.rv(lambda: lib.initToken(slot, "12345678", t.label32("wrong so")), CKR["PIN_INCORRECT"],
         "C_InitToken of a fresh token needs the default SO PIN 87654321")
    lib.initToken(slot, t.SO_PIN, t.label32("pin policy"))
    h.ok(has(lib, slot, F.CKF_TOKEN_INITIALIZED), "C_InitToken: CKF_TOKEN_INITIALIZED")
    h.ok(has(lib, slot, F.CKF_SO_PIN_TO_BE_CHANGED),
         "the default SO PIN: CKF_SO_PIN_TO_BE_CHANGED")
    h.ok(not has(lib, slot, F.CKF_USER_PIN_INITIALIZED), "no user PIN yet")

    s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    s.login(t.SO_PIN, CKU_SO)
    h.rv(lambda: s.initPin("123"), CKR["PIN_LEN_RANGE"], "C_InitPIN with a 3-character PIN")
    s.initPin(t.USER_PIN)
    h.ok(has(lib, slot, F.CKF_USER_PIN_INITIALIZED), "C_InitPIN: CKF_USER_PIN_INITIALIZED")
    h.ok(has(lib, slot, F.CKF_USER_PIN_TO_BE_CHANGED),
         "a PIN set by the SO: CKF_USER_PIN_TO_BE_CHANGED")
    h.ok(has(lib, slot, F.CKF_SO_PIN_TO_BE_CHANGED), "the SO PIN still is the default")
    s.setPin(t.SO_PIN, NEW_SO_PIN)
    h.ok(not has(lib, slot, F.CKF_SO_PIN_TO_BE_CHANGED),
         "the SO changed the PIN: CKF_SO_PIN_TO_BE_CHANGED clear")
    s.logout()
    h.rv(lambda: s.login(t.SO_PIN, CKU_SO), CKR["PIN_INCORRECT"], "the old SO PIN is refused")
    s.login(NEW_SO_PIN, CKU_SO)
    s.logout()

    s.login(t.USER_PIN)
    s.setPin(t.USER_PIN, NEW_USER_PIN)
    h.ok(not has(lib, slot, F.CKF_USER_PIN_TO_BE_CHANGED),
         "the user changed the PIN: CKF_USER_PIN_TO_BE_CHANGED clear")
    s.logout()
    h.rv(lambda: s.login(t.USER_PIN), CKR["PIN_INCORRECT"], "the old user PIN is refused")
    s.login(NEW_USER_PIN)
    s.logout()
    s.closeSession()


def counter_resets(h, lib, slot):
    s = lib.openSession(slot, CKF_SERIAL_SESSION)
    for _ in range(3):
        h.rv(lambda: s.login("wrong-pin"), CKR["PIN_INCORRECT"], "a wrong user PIN")
    h.ok(has(lib, slot, F.CKF_USER_PIN_COUNT_LOW), "after a failure: CKF_USER_PIN_COUNT_LOW")
    s.login(NEW_USER_PIN)
    h.ok(not has(lib, slot, F.CKF_USER_PIN_COUNT_LOW),
         "a right PIN resets the counter: CKF_USER_PIN_COUNT_LOW clear")
    s.logout()
    s.closeSession()


TOKEN_FLAGS = r"""
import sys, PyKCS11
lib = PyKCS11.PyKCS11Lib(); lib.load(sys.argv[1])
slot = lib.getSlotList(tokenPresent=True)[0]
print(lib.getTokenInfo(slot).flags)
s = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)
try:
    s.login(sys.argv[2]); print("login ok")
except PyKCS11.PyKCS11Error as e:
    print("login 0x%x" % e.value)
"""


def lockout(h, lib, slot):
    s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    results = []
    for i in range(10):
        try:
            s.login("wrong-%d" % i)
            results.append(0)
        except PyKCS11.PyKCS11Error as e:
            results.append(e.value)
        if i == 8:
            h.ok(has(lib, slot, F.CKF_USER_PIN_FINAL_TRY),
                 "after 9 failures: CKF_USER_PIN_FINAL_TRY")
    h.ok(all(r == CKR["PIN_INCORRECT"] for r in results[:9]),
         "wrong PINs 1-9: CKR_PIN_INCORRECT", [t.ckr(r) for r in results])
    h.ok(results[9] in (CKR["PIN_INCORRECT"], CKR["PIN_LOCKED"]),
         "wrong PIN 10: CKR_PIN_INCORRECT or CKR_PIN_LOCKED", t.ckr(results[9]))
    h.ok(has(lib, slot, F.CKF_USER_PIN_LOCKED), "after 10 failures: CKF_USER_PIN_LOCKED")
    h.rv(lambda: s.login(NEW_USER_PIN), CKR["PIN_LOCKED"], "the right PIN is refused now")
    h.rv(lambda: s.login("wrong-again"), CKR["PIN_LOCKED"], "and so is a wrong one")

    # The lock is in the database: another process sees it.
    out = subprocess.run([sys.executable, "-c", TOKEN_FLAGS, h.module, NEW_USER_PIN],
                         capture_output=True, text=True, timeout=120)
    lines = out.stdout.split()
    h.ok(out.returncode == 0 and int(lines[0]) & F.CKF_USER_PIN_LOCKED,
         "another process sees CKF_USER_PIN_LOCKED", out.stdout + out.stderr)
    h.ok("login 0x%x" % CKR["PIN_LOCKED"] in out.stdout, "and cannot log in either", out.stdout)

    # The SO unlocks by setting a new user PIN.
    s.login(NEW_SO_PIN, CKU_SO)
    s.initPin(t.USER_PIN)
    s.logout()
    h.ok(not has(lib, slot, F.CKF_USER_PIN_LOCKED), "C_InitPIN by the SO unlocks")
    h.ok(not has(lib, slot, F.CKF_USER_PIN_COUNT_LOW), "... and resets the counter")
    s.login(t.USER_PIN)
    h.ok(True, "the new user PIN works")
    s.logout()
    s.closeSession()


def so_lockout_is_separate(h, lib, slot):
    s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    h.rv(lambda: s.login("wrong-so", CKU_SO), CKR["PIN_INCORRECT"], "a wrong SO PIN")
    h.ok(has(lib, slot, F.CKF_SO_PIN_COUNT_LOW), "CKF_SO_PIN_COUNT_LOW")
    h.ok(not has(lib, slot, F.CKF_USER_PIN_COUNT_LOW), "the user's counter is separate")
    s.login(NEW_SO_PIN, CKU_SO)
    h.ok(not has(lib, slot, F.CKF_SO_PIN_COUNT_LOW), "a right SO PIN resets it")
    s.logout()
    s.closeSession()


def state_errors(h, lib, slot):
    s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    h.rv(lambda: s.logout(), CKR["USER_NOT_LOGGED_IN"], "C_Logout without a login")
    s.login(t.USER_PIN)
    h.rv(lambda: s.login(t.USER_PIN), CKR["USER_ALREADY_LOGGED_IN"], "a second C_Login")
    h.rv(lambda: s.login(NEW_SO_PIN, CKU_SO), CKR["USER_ANOTHER_ALREADY_LOGGED_IN"],
         "the SO while the user is logged in")
    s.logout()
    h.rv(lambda: s.logout(), CKR["USER_NOT_LOGGED_IN"], "a second C_Logout")
    h.rv(lambda: s.login(t.USER_PIN, 7), CKR["USER_TYPE_INVALID"], "an unknown user type")

    ro = lib.openSession(slot, CKF_SERIAL_SESSION)
    h.rv(lambda: s.login(NEW_SO_PIN, CKU_SO), CKR["SESSION_READ_ONLY_EXISTS"],
         "the SO with a read-only session open")
    h.rv(lambda: lib.initToken(slot, NEW_SO_PIN, t.label32("again")), CKR["SESSION_EXISTS"],
         "C_InitToken with sessions open")
    ro.closeSession()

    m = t.mech(t.CKM["GOSTR3411_12_256"]).to_native()
    lib_ll, sess = s.lib, s.session
    h.eq(lib_ll.C_DigestInit(sess, m), 0, "C_DigestInit")
    h.eq(lib_ll.C_DigestUpdate(sess, PyKCS11.ckbytelist(b"part")), 0, "C_DigestUpdate")
    h.eq(lib_ll.C_Digest(sess, PyKCS11.ckbytelist(b"x"), PyKCS11.ckbytelist([0] * 32)),
         CKR["OPERATION_ACTIVE"], "C_Digest after C_DigestUpdate: CKR_OPERATION_ACTIVE")
    h.eq(lib_ll.C_DigestFinal(sess, PyKCS11.ckbytelist([0] * 32)), 0,
         "C_DigestFinal still finishes it")
    h.eq(lib_ll.C_SignFinal(sess, PyKCS11.ckbytelist([0] * 64)), CKR["OPERATION_NOT_INITIALIZED"],
         "C_SignFinal without C_SignInit")
    s.closeSession()

    h.eq(lib.lib.C_CloseSession(s.session), CKR["SESSION_HANDLE_INVALID"],
         "a closed session's handle is invalid")
    out = PyKCS11.LowLevel.CK_SESSION_HANDLE()
    h.eq(lib.lib.C_OpenSession(slot, 0, out), CKR["SESSION_PARALLEL_NOT_SUPPORTED"],
         "C_OpenSession without CKF_SERIAL_SESSION")


def logout_is_per_application(h, lib, slot):
    a = lib.openSession(slot, CKF_SERIAL_SESSION)
    b = lib.openSession(slot, CKF_SERIAL_SESSION)
    a.login(t.USER_PIN)
    h.eq(b.getSessionInfo().state, F.CKS_RO_USER_FUNCTIONS,
         "a login holds for every session of the application")
    b.logout()
    h.eq(a.getSessionInfo().state, F.CKS_RO_PUBLIC_SESSION, "and so does a logout")
    a.closeSession()
    b.closeSession()


def main():
    h = t.Harness("module/pykcs11-pin-policy")
    lib = t.load(h)
    slot = t.slot_of(lib)
    h.run("a fresh token and its PINs", lambda: fresh_token(h, lib, slot))
    h.run("a right PIN resets the counter", lambda: counter_resets(h, lib, slot))
    h.run("lockout and unlock", lambda: lockout(h, lib, slot))
    h.run("the SO counter", lambda: so_lockout_is_separate(h, lib, slot))
    h.run("state errors", lambda: state_errors(h, lib, slot))
    h.run("login state per application", lambda: logout_is_per_application(h, lib, slot))
    h.summary()


if __name__ == "__main__":
    main()
