#!/usr/bin/python3
"""libls11cloud.so: the cloud password from the desktop keyring (Secret Service, libsecret).

In a private D-Bus session (dbus-run-session) with gnome-keyring-daemon and a fresh keyring in a
temporary HOME, never the user's:

- password-store = keyring with the item stored by secret-tool under the schema
  org.ls11cloud.Password (host, port, nickname): the token is present;
- no item for that account: no token, and a log line says no password is in the keyring;
- no Secret Service at all (no D-Bus session): no token, a log line says so, and C_Initialize
  still succeeds;
- the item in a LOCKED collection (locked through the Secret Service's Lock): C_Initialize
  succeeds, the slot is listed without a token, a log line says the keyring is locked, and no
  unlock prompt is ever asked for (the bus would start gnome-keyring's SystemPrompter); once
  the collection is unlocked with its password (gnome-keyring's UnlockWithMasterPassword,
  tests/cloud/keyring-ctl.py), C_WaitForSlotEvent reports the slot, the token is present and
  C_InitToken + C_Login work.

A module built without libsecret fails the test: the keyring is what it is about.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloudtest as ct  # noqa: E402
from cloudenv import Cloud  # noqa: E402
from p11test import Harness  # noqa: E402

CLIENT = """
lib = load()
out(present=list(lib.getSlotList(tokenPresent=True)))
"""

KEYRING_CTL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keyring-ctl.py")

# The collection is locked before C_Initialize, unlocked while the application runs.
LOCKED_CLIENT = """
import subprocess
lib = load()
out(all0=list(lib.getSlotList()), present0=list(lib.getSlotList(tokenPresent=True)))
time.sleep(1.5)  # several attempts (retry-max 500 ms) with the keyring still locked
out(present1=list(lib.getSlotList(tokenPresent=True)))
sys.stderr.write("--- unlocking ---\\n")
sys.stderr.flush()
p = subprocess.run([%(python)r, %(ctl)r, "unlock", "keyring-pass"], capture_output=True, text=True)
out(unlock=p.returncode, unlock_out=p.stdout + p.stderr)
slot = lib.waitForSlotEvent()
out(event=slot, present2=list(lib.getSlotList(tokenPresent=True)))
lib.initToken(10, "87654321", "keyring".ljust(32))  # 32 bytes, as C_InitToken reads
s = lib.openSession(10, CKF_SERIAL_SESSION | CKF_RW_SESSION)
s.login("87654321", CKU_SO)
out(login=True)
s.logout()
s.closeSession()
lib.closeAllSessions(10)
"""


def run_in_session(h, cloud, store_nick, home, client=CLIENT, lock=False):
    """Runs @client in a D-Bus session whose keyring holds the password of @store_nick (in a
    locked collection when @lock)."""
    acc = cloud.accounts[0]
    env = cloud.env(HOME=home, XDG_DATA_HOME=os.path.join(home, "data"),
                    XDG_RUNTIME_DIR=os.path.join(home, "run"), LS11CLOUD_LOG="warning",
                    DBUS_SESSION_BUS_ADDRESS=None)
    prog = ct.PRELUDE % dict(module=h.module, module_tests=os.path.join(ct.HERE, "..", "module"))
    script = os.path.join(home, "client.py")
    with open(script, "w") as f:
        f.write(prog + client)
    shell = (
        'printf %%s keyring-pass | gnome-keyring-daemon --unlock --components=secrets '
        '>/dev/null 2>&1\n'
        'printf %%s "$PW" | timeout 20 secret-tool store --label="LS11CLOUD test" '
        'xdg:schema org.ls11cloud.Password host 127.0.0.1 port %d nickname %s || exit 3\n'
        '%s'
        'env LD_PRELOAD="$CLIENT_PRELOAD" timeout 60 %s %s\n' % (
            cloud.port, store_nick,
            "%s %s lock || exit 4\n" % (ct.PYTHON, KEYRING_CTL) if lock else "",
            ct.PYTHON, script))
    env["PW"] = acc["password"]
    # The sanitizer runtime is for the client only, not for D-Bus and the keyring daemon.
    env["CLIENT_PRELOAD"] = env.pop("LD_PRELOAD", "")
    # Its own process group: on a timeout the bus, the keyring daemon and the client all go.
    p = subprocess.Popen(["dbus-run-session", "--", "sh", "-c", shell], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    return p.returncode, ct.merged(ct._json_lines(out)), err


def main():
    h = Harness("cloud/keyring")
    if subprocess.run(["sh", "-c", "nm -D '%s' | grep -q ' U secret_service_search_sync'"
                       % h.module]).returncode != 0:
        h.ok(False, "the module is built with libsecret (scripts/deps.sh: libsecret-1-dev; "
                    "without it the keyring cannot be tested)")
        h.summary()
    for prog in ("dbus-run-session", "gnome-keyring-daemon", "secret-tool"):
        if shutil.which(prog) is None:
            h.ok(False, "%s is installed (scripts/deps.sh: dbus, gnome-keyring, "
                        "libsecret-tools)" % prog)
            h.summary()
    cloud = Cloud(("alice",))
    home = tempfile.mkdtemp(prefix="ls11-keyring-home-")
    try:
        for d in ("data", "run"):
            os.makedirs(os.path.join(home, d), mode=0o700)
        cloud.write_account(cloud.accounts[0], store="keyring")
        os.unlink(cloud.accounts[0]["pwfile"])

        rc, r, err = run_in_session(h, cloud, "alice", home)
        h.eq(r.get("present"), [10], "the password from the keyring: the token is present")
        if r.get("present") != [10]:
            print(err[-3000:])

        shutil.rmtree(os.path.join(home, "data"))
        os.makedirs(os.path.join(home, "data"), mode=0o700)
        rc, r, err = run_in_session(h, cloud, "somebody-else", home)
        h.eq(r.get("present"), [], "no keyring item for the account: no token")
        h.ok("no password in the keyring" in err, "... and a log line says so", err[-2000:])

        env = cloud.env(HOME=home, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent/bus",
                        LS11CLOUD_LOG="warning")
        rc, res, err = ct.client(h.module, CLIENT, env)
        h.eq(ct.merged(res).get("present"), [],
             "no Secret Service: C_Initialize succeeds, no token")
        h.ok("keyring" in err and "not available" in err, "... and a log line says so",
             err[-2000:])

        shutil.rmtree(os.path.join(home, "data"))
        os.makedirs(os.path.join(home, "data"), mode=0o700)
        client = LOCKED_CLIENT % dict(python=ct.PYTHON, ctl=KEYRING_CTL)
        rc, r, err = run_in_session(h, cloud, "alice", home, client=client, lock=True)
        before, _, after = err.partition("--- unlocking ---")
        h.eq((r.get("all0"), r.get("present0")), ([10], []),
             "locked collection: C_Initialize succeeds, the slot is listed without a token")
        h.eq(r.get("present1"), [], "... and stays without one while the keyring is locked")
        h.ok("the keyring is locked" in before, "... a log line says the keyring is locked",
             err[-3000:])
        h.ok("SystemPrompter" not in err and "prompt" not in err.lower(),
             "... and no unlock prompt was asked for", err[-3000:])
        h.eq(r.get("unlock"), 0, "the collection is unlocked with its password (%s)"
             % r.get("unlock_out", "").strip())
        h.eq((r.get("event"), r.get("present2")), (10, [10]),
             "C_WaitForSlotEvent reports the slot and the token is present")
        h.ok(r.get("login"), "C_InitToken and C_Login work on it", err[-3000:])
        h.ok("locked" not in after, "no 'locked' line after the unlock", after[-2000:])
    finally:
        shutil.rmtree(home, ignore_errors=True)
        cloud.close(keep=h.failed > 0)
    h.summary()


if __name__ == "__main__":
    main()
