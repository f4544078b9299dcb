#!/usr/bin/python3
# Real clients beyond OpenSC against both modules: NSS (modutil/certutil, the library Firefox
# uses; `modutil -add` is what "install the module into a profile" does) and GnuTLS
# (p11tool/certtool), on libls11token.so (a temporary LS11TOKEN_DB) and on libls11cloud.so
# through a real ls11cloudd (tests/cloud/cloudenv.py).  On each, a token initialised with
# p11conf holds a GOST key pair generated on it and the certificate a CA made with openssl (gost
# engine) issued for the key's request.  First C_Initialize with the flags these loaders pass
# (CKF_LIBRARY_CANT_CREATE_OS_THREADS included) must succeed.  Then:
#  - NSS: a fresh database, the module added, listed with our slot, token and manufacturer;
#    the certificate listed under its nickname, exported (PIN typed at certutil's prompt, then
#    without a PIN once the module is marked FRIENDLY) with the very DER imported; `certutil -K`
#    lists the key with type "null" (NSS has no GOST key type, it does not fail); a wrong PIN
#    file gives SEC_ERROR_BAD_PASSWORD; `modutil -delete` removes the module;
#  - GnuTLS 3.7.9: the token (label, manufacturer, serial), the GOST mechanisms, the objects
#    with their pkcs11: URLs, the certificate exported and another one written and deleted.
#    GnuTLS has GOST in software but its PKCS#11 layer has no GOST key type: generating a GOST
#    key pair on a token is refused before any PKCS#11 call, and loading the token's private
#    key refuses CKK_GOSTR3410 ("algorithm unknown"); both are asserted as they are.
#
# usage: test-clients.py LS11CLOUD_MODULE LS11TOKEN_MODULE P11CONF
#
# Copyright (C) 2026 LS11CLOUD developers
# SPDX-License-Identifier: LGPL-2.1-or-later
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import checks  # noqa: E402
from checks import ok  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cloudenv  # noqa: E402

ENGINE_CONF = os.path.join(HERE, "..", "data", "gost-engine.cnf")
SO_PIN = "87654321"
USER_PIN = "123456"
KEY_ID = "0a0b0c"

def show(r):
    return "rc=%d\nstdout:\n%s\nstderr:\n%s" % (r[0], r[1][-3000:], r[2][-3000:])


def client_env(env):
    """Programs not ours load the module: no leak reports from them in the ASan build.

    LC_ALL=C: the messages asserted are the untranslated ones.  With the AddressSanitizer
    runtime preloaded, p11tool hangs at exit in p11-kit's destructor (freelocale() waiting for
    glibc's locale lock; with any module, SoftHSM's too) unless P11_KIT_DEBUG is set, even
    empty (no debug output then)."""
    e = dict(env)
    e["LC_ALL"] = "C"
    if "LD_PRELOAD" in e:
        e["P11_KIT_DEBUG"] = ""
        e["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0"
    return e


def run(cmd, env, stdin="", cwd=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                       cwd=cwd or WORK, timeout=120)
    return p.returncode, p.stdout, p.stderr


def p11conf(args, env):
    e = dict(env)
    if "ASAN_OPTIONS" in e:
        # p11conf and the module each load gostprov: see tests/tools/lsan-gostprov.supp.
        e["ASAN_OPTIONS"] += ":fast_unwind_on_malloc=0"
        e["LSAN_OPTIONS"] = "suppressions=" + os.path.join(HERE, "..", "tools",
                                                           "lsan-gostprov.supp")
    return run([P11CONF] + args, e)


def run_pty(cmd, env, prompt, answer, cwd):
    """@cmd on a pseudo-terminal: waits for @prompt, types @answer; returns (status, output)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execvpe(cmd[0], cmd, env)
    out = b""
    try:
        while prompt not in out:
            ready, _, _ = select.select([fd], [], [], 60)
            if not ready:
                break
            out += os.read(fd, 4096)
        # Type only once the program has turned echo off: NSS prints its prompt first, and
        # keys typed before that would be echoed (the test asserts the PIN never shows).
        for _ in range(500):
            if not termios.tcgetattr(fd)[3] & termios.ECHO:
                break
            time.sleep(0.01)
        os.write(fd, answer + b"\n")
        while True:
            ready, _, _ = select.select([fd], [], [], 60)
            if not ready:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def openssl(*args):
    env = dict(os.environ)
    env["OPENSSL_CONF"] = ENGINE_CONF
    env.pop("LD_PRELOAD", None)
    p = subprocess.run(["openssl"] + list(args), capture_output=True, env=env, cwd=WORK,
                       timeout=120)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


def pem_der(pem_text):
    path = os.path.join(WORK, "conv.pem")
    with open(path, "w") as f:
        f.write(pem_text)
    return openssl("x509", "-in", path, "-outform", "DER")


def token_info(module, env, label):
    """(slot, serial) of the token labelled @label, from `p11conf -t`."""
    r = p11conf(["-t", "-A", module], env)
    slot = cur = None
    serial = None
    for line in r[1].splitlines():
        m = re.match(r"Token in slot (\d+) ", line)
        if m:
            cur = int(m.group(1))
        m = re.match(r"\s+Label:\s+(.*)$", line)
        if m and m.group(1).strip() == label:
            slot = cur
        m = re.match(r"\s+Serial number:\s+(\S+)", line)
        if m and slot == cur and slot is not None and serial is None:
            serial = m.group(1)
    return slot, serial


def count_objects(module, env, slot):
    r = p11conf(["-e", "-c", str(slot), "-U", USER_PIN, "-A", module], env)
    m = re.search(r"^Objects: (\d+)", r[1], re.M)
    return int(m.group(1)) if m else -1


def prepare(t, module, env, free_slot, label, d):
    """A token with a GOST key pair and its certificate; returns (slot, serial, cert DER)."""
    r = p11conf(["-I", "-c", str(free_slot), "-S", SO_PIN, "-L", label, "-A", module], env)
    ok(r[0] == 0, t + "p11conf: token initialised", show(r))
    slot, serial = token_info(module, env, label)
    if not ok(slot is not None and serial, t + "p11conf: the token's slot and serial"):
        return None
    r = p11conf(["-u", "-c", str(slot), "-S", SO_PIN, "-n", USER_PIN, "-A", module], env)
    ok(r[0] == 0, t + "p11conf: user PIN set", show(r))
    r = p11conf(["-c", str(slot), "-U", USER_PIN, "--generate-key", "tc26-256-A", "--label",
                 "nsskey", "--id", KEY_ID, "-A", module], env)
    ok(r[0] == 0, t + "p11conf: GOST key pair generated on the token", show(r))
    req = os.path.join(d, "req.pem")
    r = p11conf(["-c", str(slot), "-U", USER_PIN, "--request", "/CN=Client Test/O=Org/C=RU",
                 "--out", req, "--label", "nsskey", "-A", module], env)
    ok(r[0] == 0, t + "p11conf: certificate request signed on the token", show(r))
    user = os.path.join(d, "user.pem")
    openssl("x509", "-req", "-in", req, "-CA", CA_PEM, "-CAkey", CA_KEY, "-md_gost12_256",
            "-set_serial", "0x4242", "-days", "2", "-out", user)
    der = openssl("x509", "-in", user, "-outform", "DER")
    r = p11conf(["-c", str(slot), "-U", USER_PIN, "--import-cert", user, "-A", module], env)
    ok(r[0] == 0 and "id " + KEY_ID in r[1], t + "p11conf: certificate imported with the key's id",
       show(r))
    return slot, serial, der


def nss(t, module, env, label, slot_desc, d):
    db = "sql:" + os.path.join(d, "nssdb")
    os.mkdir(os.path.join(d, "nssdb"))
    pin = os.path.join(d, "pin.txt")
    bad = os.path.join(d, "bad.txt")
    with open(pin, "w") as f:
        f.write(USER_PIN + "\n")
    with open(bad, "w") as f:
        f.write("999999\n")
    cenv = client_env(env)
    r = run(["certutil", "-N", "--empty-password", "-d", db], cenv)
    ok(r[0] == 0, t + "NSS: certutil -N makes a fresh database", show(r))
    r = run(["modutil", "-dbdir", db, "-add", "LS11CLOUD", "-libfile", module, "-force"], cenv)
    ok(r[0] == 0 and 'Module "LS11CLOUD" added' in r[1], t + "NSS: modutil -add loads the module",
       show(r))
    r = run(["modutil", "-dbdir", db, "-list"], cenv)
    ok(r[0] == 0 and re.search(r"LS11CLOUD\n\s+library name: " + re.escape(module), r[1]) and
       re.search(r"slot: " + re.escape(slot_desc) + r"\s*\n\s+token: " + re.escape(label) +
                 r"\s*\n\s+uri: pkcs11:token=" + re.escape(label) + ";manufacturer=LS11CLOUD;",
                 r[1]),
       t + "NSS: modutil -list shows our module, slot and token", show(r))
    r = run(["modutil", "-dbdir", db, "-list", "LS11CLOUD"], cenv)
    ok(r[0] == 0 and re.search(r"Manufacturer: LS11CLOUD", r[1]) and
       re.search(r"Slot: " + re.escape(slot_desc), r[1]) and
       re.search(r"Token Name: " + re.escape(label) + r"\s*\n", r[1]) and
       "Token Manufacturer: LS11CLOUD" in r[1] and "User Pin: Initialized" in r[1] and
       "Login Type: Login required" in r[1],
       t + "NSS: modutil -list LS11CLOUD: manufacturer, slot, token, login", show(r))
    r = run(["certutil", "-U", "-d", db], cenv)
    ok(r[0] == 0 and re.search(r"token: " + re.escape(label) + r"\s*\n\s+uri: pkcs11:token=" +
                               re.escape(label) + r";manufacturer=LS11CLOUD;serial=", r[1]),
       t + "NSS: certutil -U lists the token", show(r))
    nick = label + ":nsskey"
    r = run(["certutil", "-L", "-d", db, "-h", label, "-f", pin], cenv)
    ok(r[0] == 0 and re.search(r"^" + re.escape(nick) + r"\s+u,u,u$", r[1], re.M),
       t + "NSS: certutil -L -h lists the certificate as " + nick + " (with its key: u,u,u)",
       show(r))
    # certutil looks a nickname up without its -f password: a token that is not "friendly"
    # (certificates readable without login, NSS's default for modules) asks on the terminal.
    rc, out = run_pty(["certutil", "-L", "-d", db, "-n", nick, "-a", "-f", pin], cenv,
                      ('Enter Password or Pin for "%s":' % label).encode(), USER_PIN.encode(), d)
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    ok(rc == 0 and m and pem_der(m.group(0)) == DER[label] and USER_PIN not in out,
       t + "NSS: certutil -L -n -a (PIN typed at the prompt) exports the imported DER", out)
    r = run(["modutil", "-dbdir", db, "-default", "LS11CLOUD", "-mechanisms", "FRIENDLY",
             "-force"], cenv)
    ok(r[0] == 0, t + "NSS: modutil -default -mechanisms FRIENDLY", show(r))
    p = subprocess.run(["certutil", "-L", "-d", db, "-n", nick, "-r"], capture_output=True,
                       env=cenv, cwd=d, timeout=120, stdin=subprocess.DEVNULL)
    ok(p.returncode == 0 and p.stdout == DER[label],
       t + "NSS: a FRIENDLY token exports the certificate without a PIN (-r: the same DER)",
       show((p.returncode, repr(p.stdout[:64]), p.stderr.decode(errors="replace"))))
    r = run(["certutil", "-K", "-d", db, "-h", label, "-f", pin], cenv)
    ok(r[0] == 0 and re.search(r"^<\s*0> null\s+" + KEY_ID + r"\s+nsskey$", r[1], re.M),
       t + "NSS: certutil -K lists the GOST key as type \"null\" with its CKA_ID and label",
       show(r))
    r = run(["certutil", "-K", "-d", db, "-h", label, "-f", bad], cenv)
    ok(r[0] != 0 and "SEC_ERROR_BAD_PASSWORD" in r[2] and "nsskey" not in r[1],
       t + "NSS: a wrong PIN file: SEC_ERROR_BAD_PASSWORD", show(r))
    # -K logs in (-L would not: the token is FRIENDLY now); the failure count starts again.
    r = run(["certutil", "-K", "-d", db, "-h", label, "-f", pin], cenv)
    r2 = p11conf(["-t", "-A", module], env)
    ok(r[0] == 0 and "nsskey" in r[1] and "CKF_USER_PIN_COUNT_LOW" not in r2[1],
       t + "NSS: the right PIN works again after the wrong one, failures forgotten",
       show(r) + show(r2))
    r = run(["modutil", "-dbdir", db, "-delete", "LS11CLOUD", "-force"], cenv)
    ok(r[0] == 0 and 'Module "LS11CLOUD" deleted' in r[1], t + "NSS: modutil -delete", show(r))
    r = run(["modutil", "-dbdir", db, "-list"], cenv)
    ok(r[0] == 0 and "LS11CLOUD" not in r[1] and label not in r[1],
       t + "NSS: the module is gone from the database", show(r))


def gnutls(t, module, env, label, serial, slot, d):
    cenv = client_env(env)
    cenv["GNUTLS_PIN"] = USER_PIN
    tok = "pkcs11:token=" + label
    r = run(["p11tool", "--provider", module, "--list-tokens"], cenv)
    ok(r[0] == 0 and re.search(r"Label: %s\n\s+Type: .*\n\s+Flags: .*Requires login.*\n"
                               r"\s+Manufacturer: LS11CLOUD\n\s+Model: .*\n\s+Serial: %s\n"
                               % (re.escape(label), re.escape(serial)), r[1]),
       t + "GnuTLS: p11tool --list-tokens: label, manufacturer, serial", show(r))
    r = run(["p11tool", "--provider", module, "--list-mechanisms", tok], cenv)
    ok(r[0] == 0 and "CKM_GOSTR3410_KEY_PAIR_GEN" in r[1] and
       "CKM_GOSTR3410_WITH_GOSTR3411" in r[1] and "CKM_GOSTR3411" in r[1] and
       "[0xd4321008] UNKNOWN keysize range (256, 256) sign verify" in r[1],
       t + "GnuTLS: p11tool --list-mechanisms: GOST by name, TC26 ones by number", show(r))
    r = run(["p11tool", "--provider", module, "--login", "--list-all", tok], cenv)
    idu = "".join("%%%s" % KEY_ID[i:i + 2] for i in range(0, len(KEY_ID), 2))
    base = "token=%s;id=%s;object=nsskey;type=" % (label, idu.upper())
    ok(r[0] == 0 and (base + "private") in r[1] and (base + "cert") in r[1] and
       "Type: X.509 Certificate" in r[1] and "CKA_SENSITIVE" in r[1],
       t + "GnuTLS: p11tool --login --list-all: the private key and certificate URLs", show(r))
    # GnuTLS's PKCS#11 layer maps CKK_RSA/DSA/EC(/EC_EDWARDS) only: a public key of type
    # CKK_GOSTR3410 is left out of the list (the private key is shown without its algorithm).
    ok(r[0] == 0 and "type=public" not in r[1] and re.search(r"Type: Private key\n", r[1]),
       t + "GnuTLS: the GOST public key is not listed, the private key has no algorithm", show(r))
    cert_url = [u for u in re.findall(r"URL: (\S+)", r[1]) if u.endswith(base + "cert")]
    r = run(["p11tool", "--provider", module, "--export", cert_url[0] if cert_url else tok],
            cenv)
    ok(r[0] == 0 and pem_der(r[1]) == DER[label] if r[0] == 0 else False,
       t + "GnuTLS: p11tool --export gives the imported certificate", show(r))
    before = count_objects(module, env, slot)
    r = run(["p11tool", "--provider", module, "--login", "--write", "--load-certificate", CA_PEM,
             "--label", "gnutls-ca", tok], cenv)
    url = "pkcs11:token=%s;object=gnutls-ca;type=cert" % label
    r2 = run(["p11tool", "--provider", module, "--export", url], cenv)
    ok(r[0] == 0 and r2[0] == 0 and count_objects(module, env, slot) == before + 1 and
       pem_der(r2[1]) == openssl("x509", "-in", CA_PEM, "-outform", "DER"),
       t + "GnuTLS: p11tool --write a certificate, read back by --export", show(r) + show(r2))
    r = run(["p11tool", "--provider", module, "--login", "--batch", "--delete", url], cenv)
    ok(r[0] == 0 and count_objects(module, env, slot) == before,
       t + "GnuTLS: p11tool --delete removes it", show(r))
    # GnuTLS has GOST in software (gnutls-cli --list) but not in its PKCS#11 layer.
    r = run(["p11tool", "--provider", module, "--login", "--generate-privkey", "GOST12-256",
             "--label", "gnutls-key", "--outfile", os.path.join(d, "gk.pub"), tok], cenv)
    ok(r[0] != 0 and "Generating an GOST R 34.10-2012-256 key" in r[1] + r[2] and
       "The request is invalid" in r[2] and count_objects(module, env, slot) == before,
       t + "GnuTLS: --generate-privkey GOST12-256 refused by GnuTLS itself, nothing made",
       show(r))
    tmpl = os.path.join(d, "tmpl")
    with open(tmpl, "w") as f:
        f.write('cn = "GnuTLS on token"\nexpiration_days = 2\n')
    r = run(["certtool", "--provider", module, "--generate-self-signed", "--load-privkey",
             base.replace("token=", "pkcs11:token=", 1) + "private", "--template", tmpl,
             "--outfile", os.path.join(d, "gc.pem")], cenv)
    ok(r[0] != 0 and "The specified algorithm or protocol is unknown" in r[1] + r[2] and
       not os.path.exists(os.path.join(d, "gc.pem")),
       t + "GnuTLS: certtool cannot load a CKK_GOSTR3410 key from a token", show(r))


# C_Initialize with the arguments NSS, p11-kit (GnuTLS) and pkcs11-tool pass first, as a child
# that prints the CK_RV of C_Initialize and of C_Finalize.
INIT_PROGRAM = r"""
import ctypes, sys
class Args(ctypes.Structure):
    _fields_ = [("create", ctypes.c_void_p), ("destroy", ctypes.c_void_p),
                ("lock", ctypes.c_void_p), ("unlock", ctypes.c_void_p),
                ("flags", ctypes.c_ulong), ("reserved", ctypes.c_void_p)]
FN = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)
class Functions(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte),
                ("C_Initialize", FN), ("C_Finalize", FN)]
lib = ctypes.CDLL(sys.argv[1])
fl = ctypes.POINTER(Functions)()
assert lib.C_GetFunctionList(ctypes.byref(fl)) == 0
args = Args(flags=3)  # CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK
rv = fl.contents.C_Initialize(ctypes.addressof(args))
print("%d %d" % (rv, fl.contents.C_Finalize(None) if rv == 0 else -1))
"""


def init_flags(t, module, env):
    r = run(["/usr/bin/python3", "-c", INIT_PROGRAM, module], client_env(env))
    ok(r[0] == 0 and r[1].split() == ["0", "0"],
       t + "C_Initialize with CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK: CKR_OK",
       show(r))


def suite(name, module, env, free_slot, slot_desc):
    t = name + ": "
    label = "clients-" + name
    d = os.path.join(WORK, name)
    os.mkdir(d)
    init_flags(t, module, env)
    res = prepare(t, module, env, free_slot, label, d)
    if res is None:
        return
    slot, serial, der = res
    DER[label] = der
    nss(t, module, env, label, slot_desc(slot), d)
    gnutls(t, module, env, label, serial, slot, d)


def main():
    global P11CONF, WORK, CA_KEY, CA_PEM, DER
    if len(sys.argv) != 4:
        print("usage: test-clients.py LS11CLOUD_MODULE LS11TOKEN_MODULE P11CONF", file=sys.stderr)
        sys.exit(2)
    cloudmod = os.path.abspath(sys.argv[1])
    local = os.path.abspath(sys.argv[2])
    P11CONF = os.path.abspath(sys.argv[3])
    for prog in ("certutil", "modutil", "p11tool", "certtool"):
        if shutil.which(prog) is None:
            ok(False, "%s is missing (install libnss3-tools and gnutls-bin)" % prog)
    if checks.failed:
        sys.exit(checks.summary())
    WORK = tempfile.mkdtemp(prefix="ls11-clients-")
    DER = {}
    CA_KEY = os.path.join(WORK, "ca.key")
    CA_PEM = os.path.join(WORK, "ca.pem")
    # CryptoPro-A: of the 256-bit GOST curves GnuTLS 3.7.9 (nettle) knows CryptoPro-A/XchA and
    # TC26-256-B, not TC26-256-A, so this certificate is one p11tool --write can parse.
    openssl("genpkey", "-algorithm", "gost2012_256", "-pkeyopt", "paramset:A", "-out", CA_KEY)
    openssl("req", "-new", "-x509", "-key", CA_KEY, "-md_gost12_256", "-days", "2", "-subj",
            "/CN=clients test CA/O=Org/C=RU", "-out", CA_PEM)

    env = dict(os.environ)
    env["LS11TOKEN_DB"] = os.path.join(WORK, "token.db")
    env.pop("LS11TOKEN_CONF", None)
    env.setdefault("LS11CLOUD_LOG", "error")
    suite("ls11token", local, env, 1, lambda slot: "LS11CLOUD local token (SQLite database)")

    cloud = cloudenv.Cloud(nicknames=("alice",), prefix="ls11-clients",
                           server_args=["--resume-lease", "0"])
    try:
        cenv = cloud.env()
        suite("ls11cloud", cloudmod, cenv, 10,
              lambda slot: "LS11CLOUD alice@127.0.0.1:%d" % cloud.port)
    finally:
        if checks.failed:
            sys.stdout.write(cloud.server_log()[-3000:])
        cloud.close()

    shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(checks.summary())


if __name__ == "__main__":
    main()
