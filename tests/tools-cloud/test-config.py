"""ls11cloud_config against a real ls11cloudd (registration open), through libls11cloud.so.

    test-config.py LS11CLOUD_CONFIG LIBLS11CLOUD

Every client runs in a new session (no controlling terminal), so nothing can prompt.
Ends with "N passed, N failed".

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import socket
import sqlite3
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cloud"))
import cloudenv  # noqa: E402

TOOL = sys.argv[1]
MODULE = sys.argv[2]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + ("\n     " + detail.replace("\n", "\n     ") if detail else ""))


def run(cloud, *args):
    p = subprocess.run([TOOL] + list(args), env=cloud.env(), capture_output=True, text=True,
                       start_new_session=True, stdin=subprocess.DEVNULL, timeout=120)
    return p.returncode, p.stdout, p.stderr


def slots(cloud):
    p = subprocess.run(["pkcs11-tool", "--module", MODULE, "--list-slots"], env=cloud.env(),
                       capture_output=True, text=True, timeout=120)
    return p.stdout + p.stderr


def conf(cloud, nick):
    return os.path.join(cloud.config, "accounts", nick + ".conf")


def store_rows(cloud, nick, ids=None):
    """Rows the server's SQLite store holds for @nick (or for the account/token @ids)."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(cloud.state, "ls11cloud.db"),
                         uri=True, timeout=30)
    try:
        if ids is None:
            row = db.execute("SELECT id, token_id FROM accounts WHERE nickname = ?",
                             (nick,)).fetchone()
            ids = row if row else (-1, -1)
        acct, tok = ids
        q = {
            "accounts": ("SELECT count(*) FROM accounts WHERE id = ? OR nickname = ?",
                         (acct, nick)),
            "tokens": ("SELECT count(*) FROM tokens WHERE id = ?", (tok,)),
            "objects": ("SELECT count(*) FROM objects WHERE token_id = ?", (tok,)),
            "audit": ("SELECT count(*) FROM audit WHERE account_id = ?", (acct,)),
        }
        out = {k: db.execute(sql, args).fetchone()[0] for k, (sql, args) in q.items()}
        out["ids"] = ids
        return out
    finally:
        db.close()


def main():
    cloud = cloudenv.Cloud(nicknames=(), prefix="ls11-config",
                           server_args=["--registration", "open", "--resume-lease", "0"])
    try:
        fp = subprocess.run([cloudenv.ADMIN, "--state-dir", cloud.state, "fingerprint"],
                            check=True, capture_output=True, text=True).stdout.strip()
        port = str(cloud.port)

        # -- usage --------------------------------------------------------------------------
        rc, out, err = run(cloud)
        check("no arguments: usage, exit 2", rc == 2 and "LS11CLOUD User Utility" in err
              and "Copyright (C) 2026 LS11CLOUD developers" in err, err)
        rc, out, err = run(cloud, "-h")
        check("-h: usage on stdout, exit 0", rc == 0 and "register <host> <port> <id>" in out)
        rc, out, err = run(cloud, "frobnicate")
        check("unknown command: exit 2", rc == 2 and "unknown command" in err, err)
        rc, out, err = run(cloud, "register", "127.0.0.1", port)
        check("missing argument: exit 2", rc == 2, err)

        # -- register: refusals ------------------------------------------------------------
        rc, out, err = run(cloud, "register", "127.0.0.1", port, "al ice", "-p", "Secret-pw1",
                           "--store=file", "--fingerprint", fp)
        check("invalid nickname: exit 2, says why", rc == 2 and "character 3" in err, err)
        rc, out, err = run(cloud, "register", "127.0.0.1", port, "alice", "-p", "abcdefgh",
                           "--store=file", "--fingerprint", fp)
        check("weak password refused with the reason", rc != 0 and "one kind" in err, err)
        rc, out, err = run(cloud, "register", "127.0.0.1", port, "alice", "-p", "ab1",
                           "--store=file", "--fingerprint", fp)
        check("short password refused", rc != 0 and "shorter than 6" in err, err)
        rc, out, err = run(cloud, "register", "127.0.0.1", port, "alice", "-p",
                           "\u043f\u0430\u0440\u043e\u043b\u044c123", "--store=file",
                           "--fingerprint", fp)
        check("non-Latin password refused", rc != 0 and "non-Latin" in err, err)
        wrong = "00" * 32
        rc, out, err = run(cloud, "register", "127.0.0.1", port, "alice", "-p", "Secret-pw1",
                           "--store=file", "--fingerprint", wrong)
        check("wrong fingerprint refused, both shown",
              rc == 1 and fp in err and wrong in err and not os.path.exists(conf(cloud, "alice")),
              err)
        rc, out, err = run(cloud, "register", "127.0.0.1", port, "alice", "-p", "Secret-pw1",
                           "--store=file")
        check("no terminal and no --fingerprint: refused, fingerprint shown",
              rc == 1 and "--fingerprint" in err and fp in err
              and not os.path.exists(conf(cloud, "alice")), err)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = str(s.getsockname()[1])
        s.close()
        rc, out, err = run(cloud, "register", "127.0.0.1", dead, "alice", "-p", "Secret-pw1",
                           "--store=file", "--fingerprint", fp)
        check("server unreachable: exit 1, names it",
              rc == 1 and "unreachable" in err and "127.0.0.1:" + dead in err, err)

        # -- register ------------------------------------------------------------------------
        rc, out, err = run(cloud, "register", "127.0.0.1", port, "alice", "-p", "Secret-pw1",
                           "--store=file", "--fingerprint", fp)
        check("register alice", rc == 0, err)
        text = open(conf(cloud, "alice")).read() if os.path.exists(conf(cloud, "alice")) else ""
        check("account file written", "nickname = alice" in text and "server-key = " + fp in text
              and "number = 1" in text and "password-store = file" in text, text)
        pwf = os.path.join(cloud.config, "accounts", "alice.password")
        check("password file 0600", os.path.exists(pwf)
              and stat.S_IMODE(os.stat(pwf).st_mode) == 0o600)
        rc, out, err = run(cloud, "register", "127.0.0.1", port, "alice", "-p", "Secret-pw1",
                           "--store=file", "--fingerprint", fp)
        check("registering an existing account refused", rc == 1 and "already" in err, err)
        listing = slots(cloud)
        check("the token through libls11cloud.so", "alice" in listing, listing)

        # -- status, wrong password -------------------------------------------------------
        rc, out, err = run(cloud, "status")
        check("status", rc == 0 and fp in out and "127.0.0.1" in out and "active" in out
              and "alice.password" in out, out + err)
        rc, out, err = run(cloud, "status", "-p", "Wrong-pw9")
        check("wrong password: exit 1, password rejected",
              rc == 1 and "password rejected" in err, err)

        # -- change_pswd -------------------------------------------------------------------
        rc, out, err = run(cloud, "change_pswd", "-p", "Secret-pw1", "-n", "New-pw-22")
        check("change_pswd", rc == 0, err)
        rc, out, err = run(cloud, "status", "-p", "Secret-pw1")
        check("the old password fails", rc == 1 and "password rejected" in err, err)
        rc, out, err = run(cloud, "status", "-p", "New-pw-22")
        check("the new password works", rc == 0, err)
        rc, out, err = run(cloud, "status")
        check("the stored password is the new one", rc == 0, err)
        rc, out, err = run(cloud, "change_pswd", "-p", "New-pw-22", "-n", "aaaaaaaa")
        check("change_pswd refuses a weak new password", rc == 1 and "one kind" in err, err)

        # -- log -----------------------------------------------------------------------------
        rc, out, err = run(cloud, "log")
        lines = out.splitlines()
        check("log, oldest first", rc == 0 and lines and "created" in lines[0]
              and "password-changed" in out, out + err)

        # -- recreate ------------------------------------------------------------------------
        p = subprocess.run(["pkcs11-tool", "--module", MODULE, "--init-token", "--so-pin",
                            "87654321", "--label", "mytoken"], env=cloud.env(),
                           capture_output=True, text=True, timeout=120)
        rc, out, err = run(cloud, "status")
        check("token initialised", "initialized" in out and "not initialized" not in out,
              p.stdout + p.stderr + out + err)
        rc, out, err = run(cloud, "recreate")
        check("recreate without a terminal or --yes: refused", rc == 1 and "--yes" in err, err)
        rc, out, err = run(cloud, "recreate", "--yes")
        check("recreate --yes", rc == 0, err)
        rc, out, err = run(cloud, "status")
        check("the token is uninitialised", "not initialized" in out, out + err)

        # -- duplicate of an admin-made account ----------------------------------------------
        adminpw = os.path.join(cloud.tmp, "bob.pw")
        with open(adminpw, "w") as f:
            f.write("Initial-pw1\n")
        subprocess.run([cloudenv.ADMIN, "--state-dir", cloud.state, "user", "add", "bob",
                        "--password-file", adminpw], check=True, stdout=subprocess.DEVNULL)
        rc, out, err = run(cloud, "duplicate", "127.0.0.1", port, "bob", "-p", "Initial-pw1",
                           "--store=file")
        check("duplicate must-change without -n nor terminal: refused",
              rc == 1 and "must be changed" in err and not os.path.exists(conf(cloud, "bob")),
              err)
        rc, out, err = run(cloud, "duplicate", "127.0.0.1", port, "bob", "-p", "Initial-pw1",
                           "-n", "Bobs-new-pw3", "--store=file")
        check("duplicate forces the change", rc == 0 and "password changed" in err, err)
        rc, out, err = run(cloud, "status")
        check("several accounts: --account needed (exit 2)", rc == 2 and "--account" in err, err)
        rc, out, err = run(cloud, "status", "--account", "bob")
        check("bob is active with the new password", rc == 0 and "active" in out
              and "must change" not in out, out + err)
        rc, out, err = run(cloud, "status", "--account", "bob", "-p", "Initial-pw1")
        check("bob's initial password fails", rc == 1, err)
        listing = slots(cloud)
        check("both slots through libls11cloud.so", "alice" in listing and "bob" in listing,
              listing)

        # -- an account on a second server, beside the first server's ------------------------
        other = cloudenv.Cloud(nicknames=(), prefix="ls11-config-2",
                               server_args=["--registration", "open", "--resume-lease", "0"])
        try:
            fp2 = subprocess.run([cloudenv.ADMIN, "--state-dir", other.state, "fingerprint"],
                                 check=True, capture_output=True, text=True).stdout.strip()
            rc, out, err = run(cloud, "register", "127.0.0.1", str(other.port), "carol", "-p",
                               "Carols-pw-4", "--fingerprint", fp2, "--store=file")
            check("register carol on a second server", rc == 0, err)
            rc, out, err = run(cloud, "status", "--account", "carol")
            check("carol's status comes from the second server",
                  rc == 0 and str(other.port) in out and fp2 in out and "active" in out,
                  out + err)
            listing = slots(cloud)
            check("three slots over two servers through libls11cloud.so",
                  all(n in listing for n in ("alice", "bob", "carol")), listing)
            p = subprocess.run([cloudenv.ADMIN, "--state-dir", other.state, "user", "list"],
                               capture_output=True, text=True)
            check("carol lives on the second server only",
                  "carol" in p.stdout and "alice" not in p.stdout, p.stdout + p.stderr)
            rc, out, err = run(cloud, "unregister", "--account", "carol", "--yes")
            check("unregister carol", rc == 0 and not os.path.exists(conf(cloud, "carol")), err)
        finally:
            other.close()

        # -- unregister ----------------------------------------------------------------------
        before = store_rows(cloud, "alice")
        check("alice has rows in the store (account, token, audit)",
              before["accounts"] == 1 and before["tokens"] == 1 and before["audit"] > 0, before)
        rc, out, err = run(cloud, "unregister", "--account", "alice", "--yes")
        check("unregister --yes", rc == 0, err)
        after = store_rows(cloud, "alice", before["ids"])
        check("no row of alice left in the store (accounts, tokens, objects, audit)",
              not any(after[t] for t in ("accounts", "tokens", "objects", "audit")), after)
        check("no local files left", not os.path.exists(conf(cloud, "alice"))
              and not os.path.exists(pwf))
        p = subprocess.run([cloudenv.ADMIN, "--state-dir", cloud.state, "user", "list"],
                           capture_output=True, text=True)
        check("the server forgot alice", "alice" not in p.stdout and "bob" in p.stdout,
              p.stdout + p.stderr)
    finally:
        if failed:
            sys.stdout.write(cloud.server_log()[-3000:])
        cloud.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
