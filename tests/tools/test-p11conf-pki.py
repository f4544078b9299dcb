#!/usr/bin/python3
# p11conf's GOST key, request and certificate commands (--generate-key, --request,
# --import-cert, --import-p12) on libls11token.so (a temporary LS11TOKEN_DB), on libls11cloud.so
# through a real ls11cloudd (tests/cloud/cloudenv.py) and on SoftHSMv2, which has no GOST
# mechanism and must say so (CKR_MECHANISM_INVALID).  openssl with the gost engine
# (tests/data/gost-engine.cnf) is the second opinion throughout:
#  - a key pair for every parameter set, with the attributes the issue asks for (token objects,
#    private + sensitive + not extractable private key, GOST parameter OIDs, label, CKA_ID =
#    Streebog-256 of the public key value as `openssl dgst` computes it), and --id;
#  - requests signed on the token (256 and 512 bits, key chosen by label or by CKA_ID, PEM and
#    DER) that `openssl req -verify` accepts, with the token's public key and the subject given;
#  - the certificate a CA made with openssl issues for such a request, imported with the key
#    pair's CKA_ID and label and the right subject, issuer, serial number and value;
#  - PKCS#12 files made by `openssl pkcs12 -export` (GOST 28147-89 PBES2 with Streebog-256 and
#    -512 MACs, and the AES/SHA-256 defaults): the wrong password first (a precise error,
#    nothing created), then the right one; the imported key signs on the token (pkcs11-tool)
#    and openssl verifies the signature with the certificate's public key;
#  - damaged files, bad subjects, unknown parameter sets and a missing password.
#
# usage: test-p11conf-pki.py P11CONF LS11TOKEN_MODULE [LS11CLOUD_MODULE]
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import checks  # noqa: E402
from checks import ok  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
ENGINE_CONF = os.path.join(HERE, "..", "data", "gost-engine.cnf")
SO_PIN = "87654321"
USER_PIN = "123456"

STREEBOG256 = "06082a85030701010202"
STREEBOG512 = "06082a85030701010203"
PARAMSETS = [
    ("tc26-256-A", 256, "06092a8503070102010101"),
    ("tc26-256-B", 256, "06092a8503070102010102"),
    ("tc26-256-C", 256, "06092a8503070102010103"),
    ("tc26-256-D", 256, "06092a8503070102010104"),
    ("cp-A", 256, "06072a850302022301"),
    ("cp-B", 256, "06072a850302022302"),
    ("cp-C", 256, "06072a850302022303"),
    ("cp-XchA", 256, "06072a850302022400"),
    ("cp-XchB", 256, "06072a850302022401"),
    ("tc26-512-A", 512, "06092a8503070102010201"),
    ("tc26-512-B", 512, "06092a8503070102010202"),
    ("tc26-512-C", 512, "06092a8503070102010203"),
]

def p11conf_env(env):
    if "ASAN_OPTIONS" in env:
        # p11conf and the module each load gostprov: see lsan-gostprov.supp.
        env = dict(env)
        env["ASAN_OPTIONS"] += ":fast_unwind_on_malloc=0"
        env["LSAN_OPTIONS"] = "suppressions=" + os.path.join(HERE, "lsan-gostprov.supp")
    return env


def run(args, env, stdin="", no_tty=False):
    cmd = [P11CONF] + args
    env = p11conf_env(env)
    if no_tty:
        cmd = ["setsid", "-w"] + cmd
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, cwd=WORK,
                       start_new_session=True, timeout=180)
    return p.returncode, p.stdout, p.stderr


def run_pty(args, env, answers):
    """p11conf on a pseudo-terminal: waits for each prompt, then types its answer."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(WORK)
        os.execve(P11CONF, [P11CONF] + args, p11conf_env(env))
    out = b""
    try:
        for prompt, answer in answers:
            while prompt not in out:
                ready, _, _ = select.select([fd], [], [], 60)
                if not ready:
                    raise TimeoutError("no prompt %r in %r" % (prompt, out))
                out += os.read(fd, 4096)
            os.write(fd, answer + b"\n")
        while True:
            ready, _, _ = select.select([fd], [], [], 120)
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            out += chunk
    except (OSError, TimeoutError):
        pass
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def show(r):
    return "rc=%d\nstdout:\n%s\nstderr:\n%s" % r


def ossl_env():
    env = dict(os.environ)
    env["OPENSSL_CONF"] = ENGINE_CONF
    env.pop("LD_PRELOAD", None)
    return env


def openssl(*args, check=True):
    p = subprocess.run(["openssl"] + list(args), capture_output=True, env=ossl_env(), cwd=WORK,
                       timeout=120)
    if check and p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), p.stderr.decode()))
    return p


def streebog256(data):
    path = os.path.join(WORK, "dgst.in")
    with open(path, "wb") as f:
        f.write(data)
    return openssl("dgst", "-md_gost12_256", "-binary", path).stdout


def client_env(env):
    """The environment of programs not ours (pkcs11-tool) that load the module."""
    cenv = dict(env)
    if cenv.get("LS11_CLIENT_PRELOAD"):
        cenv["LD_PRELOAD"] = cenv["LS11_CLIENT_PRELOAD"]
        cenv["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0"
    return cenv


def dump(module, env, slot):
    """The objects of `p11conf -e -d` as dicts of attribute name -> printed value."""
    r = run(["-e", "-d", "-c", str(slot), "-U", USER_PIN, "-A", module], env)
    objs = []
    for line in r[1].splitlines():
        if line.startswith("Object "):
            objs.append({})
            continue
        m = re.match(r"^    (CKA_\w+): (.*?)(?: \(\d+ bytes\))?$", line)
        if m and objs:
            objs[-1][m.group(1)] = m.group(2)
    return objs


def find(objs, **want):
    return [o for o in objs if all(o.get(k) == v for k, v in want.items())]


def count(module, env, slot):
    r = run(["-e", "-c", str(slot), "-U", USER_PIN, "-A", module], env)
    m = re.search(r"^Objects: (\d+)", r[1], re.M)
    return int(m.group(1)) if m else -1


def spki_value(pem_pubkey_args):
    """The DER SubjectPublicKeyInfo of a key openssl prints as PEM."""
    pem = openssl(*pem_pubkey_args).stdout
    path = os.path.join(WORK, "spki.pem")
    with open(path, "wb") as f:
        f.write(pem)
    return openssl("pkey", "-pubin", "-in", path, "-outform", "DER").stdout


def token_slot(module, env, label):
    r = run(["-t", "-A", module], env)
    slot = cur = None
    for line in r[1].splitlines():
        m = re.match(r"Token in slot (\d+) ", line)
        if m:
            cur = int(m.group(1))
        m = re.match(r"\s+Label:\s+(.*)$", line)
        if m and m.group(1).strip() == label and cur is not None:
            slot = cur
    return slot


def init_token(t, module, env, free_slot, label):
    r = run(["-I", "-c", str(free_slot), "-S", SO_PIN, "-L", label, "-A", module], env)
    ok(r[0] == 0, t + "token initialised", show(r))
    slot = token_slot(module, env, label)
    if slot is None:
        ok(False, t + "the token's slot")
        return None
    r = run(["-u", "-c", str(slot), "-S", SO_PIN, "-n", USER_PIN, "-A", module], env)
    ok(r[0] == 0, t + "user PIN initialised", show(r))
    return slot


def make_key(name, alg, paramset):
    key = os.path.join(WORK, name + ".key")
    openssl("genpkey", "-algorithm", alg, "-pkeyopt", "paramset:" + paramset, "-out", key)
    return key


def generation(t, module, env, s):
    for ps, bits, oid in PARAMSETS:
        r = run(["-c", s, "-U", USER_PIN, "--generate-key", ps, "--label", "gen-" + ps,
                 "-A", module], env)
        ok(r[0] == 0 and ("Key pair generated: %s (%d bits)" % (ps, bits)) in r[1],
           t + "--generate-key " + ps, show(r))
    objs = dump(module, env, s)
    for ps, bits, oid in PARAMSETS:
        label = '"gen-%s"' % ps
        pub = find(objs, CKA_CLASS="CKO_PUBLIC_KEY", CKA_LABEL=label)
        priv = find(objs, CKA_CLASS="CKO_PRIVATE_KEY", CKA_LABEL=label)
        if not ok(len(pub) == 1 and len(priv) == 1, t + ps + ": one public and one private key",
                  repr(objs)[:2000]):
            continue
        pub, priv = pub[0], priv[0]
        kt = "CKK_GOSTR3410" if bits == 256 else "CKK_GOSTR3410_512"
        md = STREEBOG256 if bits == 256 else STREEBOG512
        value = bytes.fromhex(pub.get("CKA_VALUE", ""))
        ok(pub.get("CKA_KEY_TYPE") == kt and priv.get("CKA_KEY_TYPE") == kt and
           pub.get("CKA_GOSTR3410_PARAMS") == oid and priv.get("CKA_GOSTR3410_PARAMS") == oid and
           pub.get("CKA_GOSTR3411_PARAMS") == md and priv.get("CKA_GOSTR3411_PARAMS") == md,
           t + ps + ": key type and parameter OIDs", repr((pub, priv)))
        ok(pub.get("CKA_TOKEN") == "CK_TRUE" and priv.get("CKA_TOKEN") == "CK_TRUE" and
           pub.get("CKA_PRIVATE") == "CK_FALSE" and priv.get("CKA_PRIVATE") == "CK_TRUE" and
           priv.get("CKA_SENSITIVE") == "CK_TRUE" and priv.get("CKA_EXTRACTABLE") == "CK_FALSE"
           and priv.get("CKA_VALUE") == "<sensitive>" and priv.get("CKA_SIGN") == "CK_TRUE",
           t + ps + ": token objects, private key private and sensitive", repr(priv))
        ok(len(value) == bits // 4 and
           pub.get("CKA_ID") == priv.get("CKA_ID") == streebog256(value).hex(),
           t + ps + ": CKA_ID = Streebog-256 of the public key value", repr(pub))

    r = run(["-c", s, "-U", USER_PIN, "--generate-key", "tc26-256-a", "--id", "0A0b0c",
             "--label", "with-id", "-A", module], env)
    objs = dump(module, env, s)
    ok(r[0] == 0 and "id 0a0b0c" in r[1] and
       len(find(objs, CKA_ID="0a0b0c", CKA_LABEL='"with-id"')) == 2,
       t + "--generate-key with --id (parameter set names in any case)", show(r))


def requests(t, module, env, s):
    objs = dump(module, env, s)
    for ps, how, der in (("tc26-256-A", "label", False), ("tc26-512-B", "id", True),
                         ("cp-C", "label", True), ("tc26-512-C", "id", False)):
        pub = find(objs, CKA_CLASS="CKO_PUBLIC_KEY", CKA_LABEL='"gen-%s"' % ps)[0]
        sel = ["--label", "gen-" + ps] if how == "label" else ["--id", pub["CKA_ID"]]
        out = os.path.join(WORK, "req-%s.%s" % (ps, "der" if der else "pem"))
        subject = "/CN=Ivan Petrov/O=Org/C=RU" if how == "label" else "CN=Ivan,O=Org,C=RU"
        r = run(["-c", s, "-U", USER_PIN, "--request", subject, "--out", out] + sel +
                (["--der"] if der else []) + ["-A", module], env)
        if not ok(r[0] == 0 and os.path.exists(out) and "written to" in r[1],
                  t + "--request for %s (key by %s, %s)" % (ps, how, "DER" if der else "PEM"),
                  show(r)):
            continue
        form = ["-inform", "DER"] if der else []
        v = openssl("req", "-verify", "-noout", "-in", out, *form, check=False)
        ok(b"verify OK" in v.stderr + v.stdout,
           t + ps + ": openssl req -verify accepts the token's signature",
           (v.stdout + v.stderr).decode())
        spki = spki_value(["req", "-pubkey", "-noout", "-in", out] + form)
        ok(spki.endswith(bytes.fromhex(pub["CKA_VALUE"])),
           t + ps + ": the request's public key is the token's", spki.hex())
        subj = openssl("req", "-noout", "-subject", "-nameopt", "RFC2253", "-in", out,
                       *form).stdout.decode().strip()
        want = "C=RU,O=Org,CN=Ivan Petrov" if how == "label" else "C=RU,O=Org,CN=Ivan"
        ok(subj == "subject=" + want, t + ps + ": subject as given", subj)
    # A changed signature is refused: the check above is not a rubber stamp.
    bad = bytearray(open(os.path.join(WORK, "req-tc26-512-B.der"), "rb").read())
    bad[-3] ^= 0x01
    with open(os.path.join(WORK, "bad.der"), "wb") as f:
        f.write(bad)
    v = openssl("req", "-verify", "-noout", "-in", "bad.der", "-inform", "DER", check=False)
    ok(b"verify failure" in v.stderr + v.stdout, t + "a changed request signature is refused")

    r = run(["-c", s, "-U", USER_PIN, "--request", "/CN=x/XYZZY=1", "--out", "x.pem",
             "--label", "gen-cp-A", "-A", module], env)
    ok(r[0] == 2 and "invalid subject" in r[2] and not os.path.exists(os.path.join(WORK, "x.pem")),
       t + "--request with a bad subject: exit 2, nothing written", show(r))
    r = run(["-c", s, "-U", USER_PIN, "--request", "/CN=x", "--out", "x.pem", "--label",
             "no-such-key", "-A", module], env)
    ok(r[0] == 1 and "no GOST private key on the token matches" in r[2],
       t + "--request for a missing key", show(r))
    r = run(["-c", s, "-U", USER_PIN, "--request", "/CN=x", "--out", "x.pem", "-A", module],
            env)
    ok(r[0] == 1 and "several GOST private keys match" in r[2],
       t + "--request without --label/--id on a token with many keys", show(r))


def certificates(t, module, env, s):
    ca_key = make_key("ca", "gost2012_256", "TCA")
    openssl("req", "-new", "-x509", "-key", ca_key, "-md_gost12_256", "-days", "2", "-subj",
            "/CN=p11conf test CA/O=Org/C=RU", "-out", "ca.pem")
    openssl("x509", "-req", "-in", "req-tc26-256-A.pem", "-CA", "ca.pem", "-CAkey", ca_key,
            "-md_gost12_256", "-set_serial", "0x1234", "-days", "2", "-out", "user.pem")
    openssl("x509", "-in", "user.pem", "-outform", "DER", "-out", "user.der")
    user_der = open(os.path.join(WORK, "user.der"), "rb").read()
    before = count(module, env, s)
    r = run(["-c", s, "-U", USER_PIN, "--import-cert", "user.pem", "-A", module], env)
    objs = dump(module, env, s)
    key = find(objs, CKA_CLASS="CKO_PUBLIC_KEY", CKA_LABEL='"gen-tc26-256-A"')[0]
    cert = find(objs, CKA_CLASS="CKO_CERTIFICATE", CKA_ID=key["CKA_ID"])
    ok(r[0] == 0 and "Certificate imported" in r[1] and len(cert) == 1,
       t + "--import-cert (PEM) takes the key pair's CKA_ID", show(r))
    if cert:
        c = cert[0]
        ok(c.get("CKA_CERTIFICATE_TYPE") == "CKC_X_509" and c.get("CKA_TOKEN") == "CK_TRUE" and
           c.get("CKA_LABEL") == '"gen-tc26-256-A"' and c.get("CKA_VALUE") == user_der.hex() and
           c.get("CKA_SERIAL_NUMBER") == "02021234",
           t + "certificate: type, label of the key, value, serial number", repr(c))
        subj = bytes.fromhex(c.get("CKA_SUBJECT", ""))
        issuer = bytes.fromhex(c.get("CKA_ISSUER", ""))
        ok(subj != issuer and subj in user_der and issuer in user_der and b"Ivan Petrov" in subj
           and b"p11conf test CA" in issuer, t + "certificate: CKA_SUBJECT and CKA_ISSUER",
           repr(c))
    r = run(["-c", s, "-U", USER_PIN, "--import-cert", "user.der", "--label", "again",
             "--id", "77", "-A", module], env)
    objs = dump(module, env, s)
    ok(r[0] == 0 and len(find(objs, CKA_CLASS="CKO_CERTIFICATE", CKA_ID="77",
                              CKA_LABEL='"again"', CKA_VALUE=user_der.hex())) == 1,
       t + "--import-cert (DER) with --label and --id", show(r))
    r = run(["-c", s, "-U", USER_PIN, "--import-cert", "ca.pem", "-A", module], env)
    ok(r[0] == 0 and "no CKA_ID" in r[1], t + "--import-cert of a CA without its key", show(r))
    ok(count(module, env, s) == before + 3, t + "three certificates created")

    with open(os.path.join(WORK, "cut.der"), "wb") as f:
        f.write(user_der[:len(user_der) // 2])
    before = count(module, env, s)
    for name, why in (("cut.der", "not a valid file"), ("ca.key", "not a valid file"),
                      ("no-such.pem", "No such file")):
        r = run(["-c", s, "-U", USER_PIN, "--import-cert", name, "-A", module], env)
        ok(r[0] == 1 and why in r[2], t + "--import-cert of %s: precise error" % name, show(r))
    ok(count(module, env, s) == before, t + "damaged certificates create nothing")


def pkcs12(t, module, env, s):
    cases = [("gost2012_256", "TCB", 256, ["-keypbe", "gost89", "-certpbe", "gost89",
                                           "-macalg", "md_gost12_256"]),
             ("gost2012_512", "A", 512, ["-keypbe", "gost89", "-certpbe", "gost89",
                                         "-macalg", "md_gost12_512"]),
             ("gost2012_256", "TCA", 256, [])]
    for i, (alg, paramset, bits, opts) in enumerate(cases):
        what = "PKCS#12 %d-bit %s (%s)" % (bits, paramset, " ".join(opts) or "defaults")
        key = make_key("p12-%d" % i, alg, paramset)
        cert = "p12-%d.pem" % i
        p12 = "p12-%d.p12" % i
        md = "-md_gost12_%d" % bits
        openssl("req", "-new", "-x509", "-key", key, md, "-days", "2", "-subj",
                "/CN=PKCS12 owner %d" % i, "-out", cert)
        openssl("pkcs12", "-export", "-inkey", key, "-in", cert, "-name", "p12-%d" % i,
                "-passout", "pass:Pass-%d" % i, "-out", p12, *opts)
        before = count(module, env, s)
        r = run(["-c", s, "-U", USER_PIN, "--import-p12", p12, "--p12-password", "Wrong",
                 "-A", module], env)
        ok(r[0] == 1 and "wrong password" in r[2] and count(module, env, s) == before,
           t + what + ": wrong password: precise error, nothing created", show(r))
        r = run(["-c", s, "-U", USER_PIN, "--import-p12", p12, "--p12-password",
                 "Pass-%d" % i, "-A", module], env)
        ok(r[0] == 0 and "1 private key(s), 1 certificate(s)" in r[1] and
           count(module, env, s) == before + 3, t + what + ": imported", show(r))
        objs = dump(module, env, s)
        label = '"p12-%d"' % i
        priv = find(objs, CKA_CLASS="CKO_PRIVATE_KEY", CKA_LABEL=label)
        pub = find(objs, CKA_CLASS="CKO_PUBLIC_KEY", CKA_LABEL=label)
        crt = find(objs, CKA_CLASS="CKO_CERTIFICATE", CKA_LABEL=label)
        if not ok(len(priv) == len(pub) == len(crt) == 1, t + what + ": three objects"):
            continue
        priv, pub, crt = priv[0], pub[0], crt[0]
        kt = "CKK_GOSTR3410" if bits == 256 else "CKK_GOSTR3410_512"
        spki = spki_value(["x509", "-pubkey", "-noout", "-in", cert])
        ok(priv.get("CKA_KEY_TYPE") == kt and priv.get("CKA_SENSITIVE") == "CK_TRUE" and
           priv.get("CKA_VALUE") == "<sensitive>" and priv.get("CKA_PRIVATE") == "CK_TRUE" and
           pub.get("CKA_GOSTR3410_PARAMS") == priv.get("CKA_GOSTR3410_PARAMS") and
           pub.get("CKA_GOSTR3411_PARAMS") == (STREEBOG256 if bits == 256 else STREEBOG512),
           t + what + ": private key type, sensitive, parameters", repr(priv))
        ok(spki.endswith(bytes.fromhex(pub.get("CKA_VALUE", "00"))) and
           priv.get("CKA_ID") == pub.get("CKA_ID") == crt.get("CKA_ID") ==
           streebog256(bytes.fromhex(pub["CKA_VALUE"])).hex(),
           t + what + ": public key of the certificate, one CKA_ID for all three", repr(pub))
        # The imported key signs on the token; openssl checks with the certificate's key.
        data = os.path.join(WORK, "data.bin")
        with open(data, "wb") as f:
            f.write(b"signed by an imported PKCS#12 key\n" * 5)
        sig = os.path.join(WORK, "p12-%d.sig" % i)
        mech = "GOSTR3410-WITH-GOSTR3411-12-%d" % bits
        w = subprocess.run(["pkcs11-tool", "--module", module, "--slot", s, "--login", "--pin",
                            USER_PIN, "--sign", "-m", mech, "--id", priv["CKA_ID"], "-i", data,
                            "-o", sig], capture_output=True, text=True, env=client_env(env),
                           timeout=120)
        ok(w.returncode == 0, t + what + ": pkcs11-tool signs with the imported key",
           w.stdout + w.stderr)
        certpub = os.path.join(WORK, "certpub.pem")
        with open(certpub, "wb") as f:
            f.write(openssl("x509", "-pubkey", "-noout", "-in", cert).stdout)
        v = openssl("dgst", md, "-verify", certpub, "-signature", sig, data, check=False)
        ok(v.returncode == 0 and b"Verified OK" in v.stdout,
           t + what + ": openssl verifies the token's signature with the certificate",
           (v.stdout + v.stderr).decode())

    # Damaged containers and a missing password.
    good = open(os.path.join(WORK, "p12-0.p12"), "rb").read()
    with open(os.path.join(WORK, "cut.p12"), "wb") as f:
        f.write(good[:len(good) // 2])
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x20
    with open(os.path.join(WORK, "flip.p12"), "wb") as f:
        f.write(flipped)
    before = count(module, env, s)
    r = run(["-c", s, "-U", USER_PIN, "--import-p12", "cut.p12", "--p12-password", "Pass-0",
             "-A", module], env)
    ok(r[0] == 1 and "not a valid file" in r[2], t + "cut PKCS#12: precise error", show(r))
    r = run(["-c", s, "-U", USER_PIN, "--import-p12", "flip.p12", "--p12-password", "Pass-0",
             "-A", module], env)
    ok(r[0] == 1 and ("wrong password" in r[2] or "not a valid file" in r[2]),
       t + "PKCS#12 with a changed byte: refused (its MAC)", show(r))
    r = run(["-c", s, "-U", USER_PIN, "--import-p12", "ca.pem", "--p12-password", "x",
             "-A", module], env)
    ok(r[0] == 1 and "not a valid file" in r[2], t + "a certificate given as PKCS#12", show(r))
    r = run(["-c", s, "-U", USER_PIN, "--import-p12", "p12-0.p12", "-A", module], env,
            no_tty=True)
    ok(r[0] == 2 and "PKCS#12 password is needed" in r[2], t + "no terminal, no password",
       show(r))
    ok(count(module, env, s) == before, t + "the refused containers created nothing")

    # Asked on the terminal, without echo: the PKCS#12 password (the file is opened before the
    # token is touched), then the user PIN.
    r = run(["-c", s, "-U", USER_PIN, "--import-p12", "p12-0.p12", "--p12-password", "Pass-0",
             "--id", "01", "-A", module], env)
    ok(r[0] == 0 and count(module, env, s) == before + 3 and
       len(find(dump(module, env, s), CKA_ID="01")) == 3, t + "--import-p12 with --id", show(r))
    rc, out = run_pty(["-c", s, "--import-p12", "p12-1.p12", "--label", "typed", "-A", module],
                      env, [(b"Enter PKCS#12 password: ", b"Pass-1"),
                            (b"Enter user PIN: ", USER_PIN.encode())])
    ok(rc == 0 and "PKCS#12 imported" in out and "Pass-1" not in out and USER_PIN not in out
       and len(find(dump(module, env, s), CKA_LABEL='"typed"')) == 3,
       t + "PIN and PKCS#12 password asked on the terminal without echo", out)


def gost_suite(name, module, env, free_slot):
    t = name + ": "
    slot = init_token(t, module, env, free_slot, "pki-" + name)
    if slot is None:
        return
    s = str(slot)
    generation(t, module, env, s)
    requests(t, module, env, s)
    certificates(t, module, env, s)
    pkcs12(t, module, env, s)


def softhsm_suite(env):
    t = "softhsm: "
    henv = dict(env)
    tokens = os.path.join(WORK, "softhsm-tokens")
    os.mkdir(tokens)
    conf = os.path.join(WORK, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
                % tokens)
    henv["SOFTHSM2_CONF"] = conf
    slot = init_token(t, SOFTHSM, henv, 0, "pki-softhsm")
    if slot is None:
        return
    s = str(slot)
    r = run(["-c", s, "-U", USER_PIN, "--generate-key", "tc26-256-A", "-A", SOFTHSM], henv)
    ok(r[0] == 1 and "C_GenerateKeyPair failed: CKR_MECHANISM_INVALID" in r[2],
       t + "--generate-key: CKR_MECHANISM_INVALID", show(r))
    r = run(["-c", s, "-U", USER_PIN, "--generate-key", "tc26-512-C", "-A", SOFTHSM], henv)
    ok(r[0] == 1 and "CKR_MECHANISM_INVALID" in r[2], t + "--generate-key 512: "
       "CKR_MECHANISM_INVALID", show(r))
    r = run(["-c", s, "-U", USER_PIN, "--request", "/CN=x", "--out", "x.pem", "-A", SOFTHSM],
            henv)
    ok(r[0] == 1 and "CKM_GOSTR3410_WITH_GOSTR3411_12_256) failed: CKR_MECHANISM_INVALID"
       in r[2], t + "--request: CKR_MECHANISM_INVALID", show(r))
    r = run(["-c", s, "-U", USER_PIN, "--import-p12", "p12-1.p12", "--p12-password", "Pass-1",
             "-A", SOFTHSM], henv)
    ok(r[0] == 1 and "CKM_GOSTR3410_512) failed: CKR_MECHANISM_INVALID" in r[2],
       t + "--import-p12 of a GOST key: CKR_MECHANISM_INVALID", show(r))
    ok(count(SOFTHSM, henv, s) == 0, t + "nothing created")
    # A certificate is only data: the same command works.
    r = run(["-c", s, "-U", USER_PIN, "--import-cert", "user.pem", "--label", "gost cert",
             "-A", SOFTHSM], henv)
    objs = dump(SOFTHSM, henv, s)
    ok(r[0] == 0 and len(find(objs, CKA_CLASS="CKO_CERTIFICATE", CKA_LABEL='"gost cert"')) == 1,
       t + "--import-cert of a GOST certificate works", show(r))


def usage_errors(module, env):
    r = run(["-c", "1", "--generate-key", "tc26-256-Z", "-A", module], env)
    ok(r[0] == 2 and "unknown parameter set" in r[2], "unknown parameter set: exit 2", show(r))
    r = run(["--generate-key", "tc26-256-A", "-A", module], env)
    ok(r[0] == 2 and "need -c slotID" in r[2], "--generate-key without -c: exit 2", show(r))
    r = run(["-c", "1", "--request", "/CN=x", "-A", module], env)
    ok(r[0] == 2 and "--out" in r[2], "--request without --out: exit 2", show(r))
    r = run(["-c", "1", "--import-cert", "x", "--id", "abc", "-A", module], env)
    ok(r[0] == 2 and "--id needs" in r[2], "--id with odd hex: exit 2", show(r))
    r = run(["-c", "1", "--generate-key", "-A", module], env)
    ok(r[0] != 0, "--generate-key without its argument", show(r))
    r = run(["-c", "1", "--frobnicate", "-A", module], env)
    ok(r[0] == 2 and "unknown option --frobnicate" in r[2], "unknown long option", show(r))
    r = run(["-h"], env)
    ok(r[0] == 0 and "--generate-key PARAMSET" in r[1] and "--import-p12 FILE" in r[1] and
       "tc26-512-C" in r[1], "-h lists the GOST commands", show(r))


def main():
    global P11CONF, WORK
    if len(sys.argv) not in (3, 4):
        print("usage: test-p11conf-pki.py P11CONF LS11TOKEN_MODULE [LS11CLOUD_MODULE]",
              file=sys.stderr)
        sys.exit(2)
    P11CONF = os.path.abspath(sys.argv[1])
    token = os.path.abspath(sys.argv[2])
    WORK = tempfile.mkdtemp(prefix="ls11-p11conf-pki-")
    env = dict(os.environ)
    env["LS11TOKEN_DB"] = os.path.join(WORK, "token.db")
    env.pop("LS11TOKEN_CONF", None)
    env.setdefault("LS11CLOUD_LOG", "error")

    usage_errors(token, env)
    gost_suite("ls11token", token, env, 1)

    if len(sys.argv) == 4:
        sys.path.insert(0, os.path.join(HERE, "..", "cloud"))
        import cloudenv
        cloud = cloudenv.Cloud(nicknames=("alice",), prefix="ls11-p11conf-pki")
        try:
            cenv = cloud.env()
            for k in ("LS11CLOUD_LOG", "LS11_CLIENT_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
                if k in env:
                    cenv[k] = env[k]
            gost_suite("ls11cloud", os.path.abspath(sys.argv[3]), cenv, 10)
        finally:
            cloud.close()

    if os.path.exists(SOFTHSM):
        softhsm_suite(env)
    else:
        ok(False, "SoftHSMv2 is missing (install softhsm2)")

    shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(checks.summary())


if __name__ == "__main__":
    main()
