"""ls11cloud_config on a terminal and with the desktop keyring (registration open).

    test-config-interactive.py LS11CLOUD_CONFIG

A pseudo-terminal: register asks the password twice without echo, shows the server key's
fingerprint and registers once the user trusts it; a refusal sends nothing.  The keyring (in a
private D-Bus session with gnome-keyring; a failure when those are not installed): register with
the default store, status from the keyring, change_pswd updates the item, unregister clears it.
Ends with "N passed, N failed".

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cloud"))
import cloudenv  # noqa: E402

TOOL = os.path.abspath(sys.argv[1])
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + ("\n     " + detail.replace("\n", "\n     ") if detail else ""))


def on_tty(env, args, answers):
    """Runs the tool on a pseudo-terminal, answering each prompt; returns (rc, transcript)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(TOOL, [TOOL] + args, env)
    out = b""
    mark = 0  # prompts are looked for after the last answer (TCSAFLUSH drops early input)
    answers = list(answers)
    deadline = time.time() + 60
    while True:
        if not select.select([fd], [], [], max(0, deadline - time.time()))[0]:
            os.kill(pid, signal.SIGKILL)
            out += b"\n(no progress within 60 s: killed)"
            break
        try:
            d = os.read(fd, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
        if answers and answers[0][0] in out[mark:]:
            os.write(fd, answers.pop(0)[1])
            mark = len(out)
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(st), out.decode(errors="replace")


def main():
    cloud = cloudenv.Cloud(nicknames=(), prefix="ls11-config-tty",
                           server_args=["--registration", "open", "--resume-lease", "0"])
    try:
        fp = subprocess.run([cloudenv.ADMIN, "--state-dir", cloud.state, "fingerprint"],
                            check=True, capture_output=True, text=True).stdout.strip()
        env = cloud.env(DBUS_SESSION_BUS_ADDRESS=None)
        port = str(cloud.port)
        conf = os.path.join(cloud.config, "accounts", "carol.conf")

        rc, out = on_tty(env, ["register", "127.0.0.1", port, "carol", "--store=file"],
                         [(b"Enter the password", b"Carol-pw1\n"),
                          (b"Repeat the password", b"Carol-pw1\n"), (b"[y/N]", b"n\n")])
        check("tty: refusing the server key registers nothing",
              rc == 1 and fp in out and not os.path.exists(conf), out)
        rc, out = on_tty(env, ["register", "127.0.0.1", port, "carol", "--store=file"],
                         [(b"Enter the password", b"Carol-pw1\n"),
                          (b"Repeat the password", b"Carol-pw2\n"),
                          (b"Enter the password", b"Carol-pw1\n"),
                          (b"Repeat the password", b"Carol-pw1\n"), (b"[y/N]", b"y\n")])
        check("tty: passwords asked twice without echo, fingerprint trusted",
              rc == 0 and "differ" in out and "Carol-pw" not in out and fp in out
              and ("server-key = " + fp) in open(conf).read(), out)

        rc = subprocess.run([TOOL, "register", "127.0.0.1", port, "dave", "-p", "Dave-pw-1",
                             "--fingerprint", fp], env=env, capture_output=True, text=True,
                            start_new_session=True)
        check("no Secret Service: the default store is refused, --store=file suggested",
              rc.returncode == 1 and "--store=file" in rc.stderr, rc.stderr)

        progs = ("dbus-run-session", "gnome-keyring-daemon", "secret-tool")
        if not all(shutil.which(p) for p in progs):
            check("the keyring programs are installed (scripts/deps.sh)", False,
                  ", ".join(p for p in progs if not shutil.which(p)))
        else:
            home = tempfile.mkdtemp(dir=cloud.tmp)
            kenv = cloud.env(HOME=home, XDG_DATA_HOME=os.path.join(home, "data"),
                             XDG_RUNTIME_DIR=home, DBUS_SESSION_BUS_ADDRESS=None)
            look = ("secret-tool lookup xdg:schema org.ls11cloud.Password host 127.0.0.1 "
                    "port %s nickname dave" % port)
            sh = ("printf %%s keyring-pass | gnome-keyring-daemon --unlock --components=secrets "
                  ">/dev/null 2>&1\n"
                  "T=%s\n"
                  "$T register 127.0.0.1 %s dave -p Dave-pw-1 --fingerprint %s || exit 10\n"
                  "echo \"A=$(%s)\"\n"
                  "$T status --account dave | grep -q active || exit 11\n"
                  "$T change_pswd --account dave -p Dave-pw-1 -n Dave-pw-2 || exit 12\n"
                  "echo \"B=$(%s)\"\n"
                  "$T status --account dave | grep -q active || exit 13\n"
                  "$T unregister --account dave --yes || exit 14\n"
                  "%s >/dev/null 2>&1 && exit 15\n"
                  "exit 0\n" % (TOOL, port, fp, look, look, look))
            p = subprocess.run(["dbus-run-session", "--", "sh", "-c", sh], env=kenv,
                               capture_output=True, text=True, start_new_session=True,
                               timeout=180)
            check("keyring: stored, used, updated and cleared",
                  p.returncode == 0 and "A=Dave-pw-1" in p.stdout and "B=Dave-pw-2" in p.stdout,
                  "rc %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
    finally:
        if failed:
            sys.stdout.write(cloud.server_log()[-3000:])
        cloud.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
