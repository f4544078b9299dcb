#!/usr/bin/python3
# p11conf against three modules: our libls11token.so (a temporary LS11TOKEN_DB), our
# libls11cloud.so through a real ls11cloudd (tests/cloud/cloudenv.py: a server on 127.0.0.1, an
# account, its client configuration) and Debian's SoftHSMv2 (a temporary SOFTHSM2_CONF with its
# own tokens directory).  The same commands run on all three: usage, library/slot/token info, token initialisation with a label (p11conf -I
# itself), user PIN initialisation, user and SO PIN changes (old PIN refused, new accepted),
# objects (a data object and a certificate written by pkcs11-tool) enumerated, dumped, written
# to DER, removed one by one with prompts and all at once; and the errors: wrong PIN, missing
# -A, unknown option, -I without -c, a bad library path, no terminal and no PIN.
#
# usage: test-p11conf.py P11CONF LS11TOKEN_MODULE [LS11CLOUD_MODULE]
#
# Copyright (C) 2026 LS11CLOUD developers
# SPDX-License-Identifier: LGPL-2.1-or-later
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import checks  # noqa: E402
from checks import ok  # noqa: E402

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
SO_PIN = "87654321"
USER_PIN = "123456"

def run(args, stdin="", env=None, no_tty=False):
    cmd = [P11CONF] + args
    if no_tty:
        cmd = ["setsid", "-w"] + cmd
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                       cwd=WORK, start_new_session=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def show(r):
    return "rc=%d\nstdout:\n%s\nstderr:\n%s" % r


def token_slot(module, env, label):
    rc, out, err = run(["-t", "-A", module], env=env)
    slot = None
    cur = None
    for line in out.splitlines():
        m = re.match(r"Token in slot (\d+) ", line)
        if m:
            cur = int(m.group(1))
        m = re.match(r"\s+Label:\s+(.*)$", line)
        if m and m.group(1).strip() == label and cur is not None:
            slot = cur
    return slot


def client_env(env):
    """The environment of programs not ours (pkcs11-tool) that load the module."""
    cenv = dict(env)
    if cenv.get("LS11_CLIENT_PRELOAD"):
        cenv["LD_PRELOAD"] = cenv["LS11_CLIENT_PRELOAD"]
        cenv["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0"
    return cenv


def make_cert(tmp):
    key = os.path.join(tmp, "k.pem")
    der = os.path.join(tmp, "c.der")
    env = dict(os.environ)
    env.pop("OPENSSL_CONF", None)
    env.pop("LD_PRELOAD", None)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", der,
                    "-outform", "DER", "-subj", "/CN=p11conf test", "-days", "2"],
                   check=True, capture_output=True, env=env)
    with open(der, "rb") as f:
        return der, f.read()


def suite(name, module, env, free_slot):
    t = name + ": "
    r = run(["-h"], env=env)
    ok(r[0] == 0 and "usage:" in r[1] and "-e -r remove enumerated objects with prompt" in r[1]
       and "Copyright (C) 2026 LS11CLOUD developers" in r[1], t + "-h", show(r))

    r = run(["-i", "-A", module], env=env)
    ok(r[0] == 0 and "Cryptoki version:" in r[1] and "Library description:" in r[1],
       t + "-i", show(r))

    r = run(["-s", "-A", module], env=env)
    ok(r[0] == 0 and re.search(r"^Slot \d+ \(0x[0-9a-f]+\):", r[1], re.M) and
       "CKF_TOKEN_PRESENT" in r[1], t + "-s", show(r))

    r = run(["-t", "-A", module], env=env)
    ok(r[0] == 0 and "Token in slot" in r[1] and "CKF_TOKEN_INITIALIZED" not in r[1],
       t + "-t before -I: not initialised", show(r))

    r = run(["-I", "-c", str(free_slot), "-S", SO_PIN, "-L", "p11conf-" + name,
             "-A", module], env=env)
    ok(r[0] == 0 and "initialised" in r[1], t + "-I with a label", show(r))

    slot = token_slot(module, env, "p11conf-" + name)
    if not ok(slot is not None, t + "-t after -I shows the label"):
        return
    s = str(slot)
    r = run(["-t", "-c", s, "-A", module], env=env)
    ok(r[0] == 0 and "CKF_TOKEN_INITIALIZED" in r[1] and
       "CKF_USER_PIN_INITIALIZED" not in r[1], t + "-t -c after -I: flags by name", show(r))
    r = run(["-s", "-c", s, "-A", module], env=env)
    ok(r[0] == 0 and ("Slot %s " % s) in r[1], t + "-s -c", show(r))

    r = run(["-u", "-c", s, "-S", SO_PIN, "-n", "1111111", "-A", module], env=env)
    ok(r[0] == 0 and "CKF_USER_PIN_INITIALIZED" in run(["-t", "-c", s, "-A", module],
                                                       env=env)[1], t + "-u", show(r))

    r = run(["-p", "-c", s, "-U", "1111111", "-n", USER_PIN, "-A", module], env=env)
    ok(r[0] == 0 and "User PIN changed" in r[1], t + "-p", show(r))
    r = run(["-e", "-c", s, "-U", "1111111", "-A", module], env=env)
    ok(r[0] == 1 and "CKR_PIN_INCORRECT" in r[2], t + "-p: old user PIN refused, exit 1, "
       "CKR_PIN_INCORRECT", show(r))
    r = run(["-e", "-c", s, "-U", USER_PIN, "-A", module], env=env)
    ok(r[0] == 0 and "Objects: 0" in r[1], t + "-p: new user PIN accepted", show(r))

    r = run(["-P", "-c", s, "-S", SO_PIN, "-n", "99999999", "-A", module], env=env)
    ok(r[0] == 0 and "SO PIN changed" in r[1], t + "-P", show(r))
    r = run(["-u", "-c", s, "-S", SO_PIN, "-n", USER_PIN, "-A", module], env=env)
    ok(r[0] == 1 and "C_Login" in r[2] and "CKR_PIN_INCORRECT" in r[2],
       t + "-P: old SO PIN refused", show(r))
    r = run(["-u", "-c", s, "-S", "99999999", "-n", USER_PIN, "-A", module], env=env)
    ok(r[0] == 0, t + "-P: new SO PIN accepted", show(r))

    r = run(["-m", "-c", s, "-A", module], env=env)
    ok(r[0] == 0 and re.search(r"^  CKM_\w+ \(0x[0-9a-f]{8}\): key size \d+\.\.\d+, flags 0x",
                               r[1], re.M), t + "-m: names, key sizes, flags", show(r))
    if name in ("ls11token", "ls11cloud"):
        ok("CKM_KUZNYECHIK_MGM" in r[1] and "CKM_GOSTR3410_WITH_GOSTR3411_12_256" in r[1] and
           "CKM_GOSTR3410_KEY_PAIR_GEN" in r[1], t + "-m shows the TC26 names", show(r))

    # Objects, written by pkcs11-tool.
    der_path, der = CERT
    for args in (["--write-object", der_path, "--type", "cert", "--label", "mycert",
                  "--id", "01"],
                 ["--write-object", DATA, "--type", "data", "--label", "mydata"]):
        w = subprocess.run(["pkcs11-tool", "--module", module, "--slot", s, "--login",
                            "--pin", USER_PIN] + args, capture_output=True, text=True,
                           env=client_env(env))
        ok(w.returncode == 0, t + "pkcs11-tool " + args[3], w.stdout + w.stderr)

    r = run(["-e", "-c", s, "-A", module], env=env)
    ok(r[0] == 0 and "Objects: 2" in r[1] and 'CKO_CERTIFICATE, label "mycert", id 01' in r[1]
       and 'CKO_DATA, label "mydata"' in r[1], t + "-e", show(r))
    r = run(["-e", "-d", "-c", s, "-U", USER_PIN, "-A", module], env=env)
    ok(r[0] == 0 and "CKA_CLASS: CKO_CERTIFICATE" in r[1] and
       "CKA_CERTIFICATE_TYPE: CKC_X_509" in r[1] and "CKA_TOKEN: CK_TRUE" in r[1] and
       ("CKA_VALUE: %s" % der.hex()) in r[1], t + "-e -d dumps the attributes", show(r))

    out = os.path.join(WORK, "mycert.der")
    if os.path.exists(out):
        os.unlink(out)
    r = run(["-f", "-c", s, "-A", module], stdin="n\n", env=env)
    ok(r[0] == 0 and "Certificates: 1" in r[1] and not os.path.exists(out),
       t + "-f answered n writes nothing", show(r))
    r = run(["-f", "-d", "-c", s, "-A", module], stdin="y\n", env=env)
    ok(r[0] == 0 and "CKA_CLASS: CKO_CERTIFICATE" in r[1] and os.path.exists(out) and
       open(out, "rb").read() == der, t + "-f -d answered y writes the DER", show(r))
    os.unlink(out)

    # -e -r: keep the first object, remove the second.
    r = run(["-e", "-r", "-c", s, "-U", USER_PIN, "-A", module], stdin="n\ny\n", env=env)
    ok(r[0] == 0 and r[1].count("Remove this object?") == 2 and "Objects removed: 1" in r[1],
       t + "-e -r with prompts", show(r))
    r = run(["-e", "-c", s, "-U", USER_PIN, "-A", module], env=env)
    ok(r[0] == 0 and "Objects: 1" in r[1], t + "-e -r removed only the answered one", show(r))

    # Another object, then -r removes everything without asking.
    subprocess.run(["pkcs11-tool", "--module", module, "--slot", s, "--login", "--pin",
                    USER_PIN, "--write-object", DATA, "--type", "data", "--label", "more",
                    "--private"], capture_output=True, env=client_env(env))
    r = run(["-r", "-c", s, "-U", USER_PIN, "-A", module], env=env)
    ok(r[0] == 0 and "Objects removed: 2" in r[1] and "?" not in r[1], t + "-r", show(r))
    r = run(["-e", "-c", s, "-U", USER_PIN, "-A", module], env=env)
    ok(r[0] == 0 and "Objects: 0" in r[1], t + "-r left no object", show(r))

    # Errors.
    r = run(["-e", "-c", s, "-U", "000000", "-A", module], env=env)
    ok(r[0] == 1 and "CKR_PIN_INCORRECT" in r[2], t + "wrong PIN: exit 1, CKR_PIN_INCORRECT",
       show(r))
    r = run(["-r", "-c", s, "-A", module], env=env, no_tty=True)
    ok(r[0] == 2 and "user PIN is needed: give it with -U" in r[2] and "/dev/tty" in r[2],
       t + "no terminal and no PIN: precise error", show(r))
    r = run(["-P", "-c", s, "-S", "99999999", "-A", module], env=env, no_tty=True)
    ok(r[0] == 2 and "new PIN is needed: give it with -n" in r[2],
       t + "no terminal and no new PIN", show(r))


def main():
    global P11CONF, WORK, CERT, DATA
    if len(sys.argv) not in (3, 4):
        print("usage: test-p11conf.py P11CONF LS11TOKEN_MODULE [LS11CLOUD_MODULE]",
              file=sys.stderr)
        sys.exit(2)
    P11CONF = os.path.abspath(sys.argv[1])
    ours = os.path.abspath(sys.argv[2])
    WORK = tempfile.mkdtemp(prefix="ls11-p11conf-")
    CERT = make_cert(WORK)
    DATA = os.path.join(WORK, "data.bin")
    with open(DATA, "wb") as f:
        f.write(b"p11conf data object\n")

    env = dict(os.environ)
    env["LS11TOKEN_DB"] = os.path.join(WORK, "token.db")
    env.pop("LS11TOKEN_CONF", None)
    env.setdefault("LS11CLOUD_LOG", "error")

    # Usage errors need no module.
    r = run(["-i"], env=env)
    ok(r[0] == 2 and "-A" in r[2], "missing -A: exit 2", show(r))
    r = run(["-x", "-A", ours], env=env)
    ok(r[0] == 2 and "unknown option -x" in r[2], "unknown option: exit 2", show(r))
    r = run(["-I", "-S", SO_PIN, "-L", "x", "-A", ours], env=env)
    ok(r[0] == 2 and "-c slotID" in r[2], "-I without -c: exit 2", show(r))
    r = run(["-d", "-c", "1", "-A", ours], env=env)
    ok(r[0] == 2, "-d alone: exit 2", show(r))
    r = run([], env=env)
    ok(r[0] == 2 and "usage:" in r[2], "no option: usage, exit 2", show(r))
    r = run(["-i", "-A", os.path.join(WORK, "no-such-module.so")], env=env)
    ok(r[0] == 1 and "cannot load the PKCS#11 library" in r[2] and "no-such-module.so" in r[2],
       "bad module path: exit 1 with the dlopen error", show(r))

    suite("ls11token", ours, env, 1)

    if len(sys.argv) == 4:
        # The account's token is slot 10 (cloudenv numbers accounts from 10), fresh and
        # uninitialised with the default SO PIN, like a new local token.
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "cloud"))
        import cloudenv
        cloud = cloudenv.Cloud(nicknames=("alice",), prefix="ls11-p11conf")
        try:
            cenv = cloud.env()
            for k in ("LS11CLOUD_LOG", "LS11_CLIENT_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
                if k in env:
                    cenv[k] = env[k]
            suite("ls11cloud", os.path.abspath(sys.argv[3]), cenv, 10)
        finally:
            cloud.close()

    if os.path.exists(SOFTHSM) and shutil.which("softhsm2-util"):
        henv = dict(env)
        tokens = os.path.join(WORK, "softhsm-tokens")
        os.mkdir(tokens)
        conf = os.path.join(WORK, "softhsm2.conf")
        with open(conf, "w") as f:
            f.write("directories.tokendir = %s\nobjectstore.backend = file\n"
                    "log.level = ERROR\n" % tokens)
        henv["SOFTHSM2_CONF"] = conf
        suite("softhsm", SOFTHSM, henv, 0)
    else:
        ok(False, "SoftHSMv2 is missing (install softhsm2)")

    shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(checks.summary())


if __name__ == "__main__":
    main()
