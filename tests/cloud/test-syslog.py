#!/usr/bin/python3
"""ls11cloudd with `log = syslog`: what reaches syslog, at which priority, under which name.

No syslog daemon is needed and none is touched: the server runs in a private mount namespace
(`unshare --mount`; as a user without the right, in a user namespace too) where /dev is a copy
of the few device nodes it needs plus /dev/log, which is a datagram socket this test bound and
reads.  glibc's syslog() therefore sends its real RFC 3164 datagrams to the test:
"<PRI>Mmm dd hh:mm:ss ls11cloudd[PID]: message".

- selected by the settings file (`log = syslog`), facility daemon, ident ls11cloudd with the
  server's PID;
- start-up and "listening on" at info (priority 30), a wrong cloud password at warning (28),
  a second server on a port in use at error (27); debug lines absent at log-level info;
- nothing goes to standard error meanwhile;
- no password or PIN of the session (token init, PIN init, wrong and right logins) appears in
  any datagram.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloudenv  # noqa: E402
import cloudtest as ct  # noqa: E402
from cloudenv import Cloud  # noqa: E402
from p11test import Harness  # noqa: E402

SO_PIN = "87654321"
USER_PIN = "user-pin-4711"
WRONG_PIN = "wrong-pin-0815"

# The namespace: /dev replaced by a directory holding bind mounts of the usual nodes and of
# the test's socket as /dev/log; then the server, exec'ed (same PID as the one we started).
WRAPPER = r"""#!/bin/sh
set -e
d=$(mktemp -d %(dev)s/run.XXXXXX)
for n in null zero full random urandom; do
	: > "$d/$n"
	mount --bind "/dev/$n" "$d/$n"
done
mkdir -p "$d/shm"
[ -d /dev/shm ] && mount --bind /dev/shm "$d/shm"
ln -sf /proc/self/fd "$d/fd"
: > "$d/log"
mount --bind %(sock)s "$d/log"
mount --rbind "$d" /dev
exec %(server)s "$@"
"""

LINE = re.compile(r"^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) ([^\[: ]+)\[(\d+)\]: (.*)$",
                  re.S)


def unshare_args():
    if os.geteuid() == 0:
        return ["unshare", "--mount", "--propagation", "private"]
    return ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]


def drain(sock, until=None, timeout=10.0):
    """Datagrams received within @timeout, or until one contains @until."""
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        got.append(data.decode("utf-8", "replace"))
        if until is not None and until in got[-1]:
            break
    return got


def main():
    h = Harness("cloud/syslog")
    tmp = tempfile.mkdtemp(prefix="ls11-syslog-")
    cloud = None
    sock = None
    try:
        probe = subprocess.run(unshare_args() + ["true"], capture_output=True, text=True)
        if not h.ok(probe.returncode == 0, "a private mount namespace can be made (%s)" %
                    " ".join(unshare_args()), probe.stderr):
            h.summary()
        dev = os.path.join(tmp, "dev")
        os.makedirs(dev)
        sock_path = os.path.join(tmp, "log.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        os.chmod(sock_path, 0o666)
        inner = os.path.join(tmp, "ls11cloudd-ns")
        with open(inner, "w") as f:
            f.write(WRAPPER % dict(dev=dev, sock=sock_path, server=cloudenv.LS11CLOUDD))
        # The server is `wrapper ARGS`: it execs unshare, which execs the inner script, which
        # execs the server, so the PID Popen knows is the server's.
        wrapper = os.path.join(tmp, "ls11cloudd")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec %s %s "$@"\n' % (" ".join(unshare_args()), inner))
        for path in (inner, wrapper):
            os.chmod(path, 0o755)
        conf = os.path.join(tmp, "ls11cloudd.conf")
        with open(conf, "w") as f:
            f.write("[ls11cloudd]\nlog = syslog\nlog-level = info\n")
        cloudenv.LS11CLOUDD = wrapper
        cloud = Cloud(("alice", "bob"), server_args=["--config", conf])
        pid = cloud.proc.pid
        start = drain(sock, until="listening on")

        # bob's client has the wrong password; alice's does the PIN dance.
        bob = cloud.accounts[1]
        bob_wrong = "not-" + bob["password"]
        fd = os.open(bob["pwfile"], os.O_WRONLY | os.O_TRUNC)
        os.write(fd, bob_wrong.encode() + b"\n")
        os.close(fd)
        code = """
            lib = load()
            slots = list(lib.getSlotList(tokenPresent=True))
            out(present=slots)
            lib.initToken(10, %(so)r, "syslog".ljust(32))  # 32 bytes, as C_InitToken reads
            s = lib.openSession(10, CKF_SERIAL_SESSION | CKF_RW_SESSION)
            s.login(%(so)r, CKU_SO)
            s.initPin(%(user)r)
            s.logout()
            out(wrong=rv_of(lambda: s.login(%(wrong)r)))
            s.login(%(user)r)
            s.logout()
            s.closeSession()
            out(done=True)
        """ % dict(so=SO_PIN, user=USER_PIN, wrong=WRONG_PIN)
        rc, res, err = ct.client(h.module, code, cloud.env(LS11CLOUD_LOG="warning"))
        r = ct.merged(res)
        h.eq(r.get("present"), [10], "alice's token is present, bob's is not (wrong password)")
        h.eq(r.get("wrong"), PyKCS11_CKR_PIN_INCORRECT, "a wrong PIN is refused")
        h.ok(r.get("done"), "token init, PIN init and logins through the server", err[-2000:])
        session = drain(sock, timeout=3.0)

        # A second server on the same port: an error, to syslog as well.
        state2 = os.path.join(tmp, "state2")
        os.makedirs(state2, mode=0o700)
        p2 = subprocess.run([wrapper, "--listen", "127.0.0.1:%d" % cloud.port,
                                              "--state-dir", state2, "--config", conf],
                            capture_output=True, text=True, timeout=60)
        second = drain(sock, timeout=1.0)  # it has exited: all of it is queued
        h.ok(p2.returncode == 1, "a second server on a port in use exits 1", p2.stderr)

        cloud.stop_server()
        stop = drain(sock, timeout=1.0)
        everything = start + session + second + stop

        parsed = [LINE.match(d) for d in everything]
        h.ok(len(everything) > 0 and all(parsed), "every datagram is RFC 3164: <PRI>time "
             "ident[pid]: text", [d for d, m in zip(everything, parsed) if not m][:3])
        ok_lines = [m for m in parsed if m]
        h.ok(all(m.group(3) == "ls11cloudd" for m in ok_lines), "the ident is ls11cloudd")
        h.ok(all(int(m.group(1)) >> 3 == 3 for m in ok_lines), "the facility is daemon (3)")
        mine = [m for m in ok_lines if int(m.group(4)) == pid]
        own = [LINE.match(d) for d in start + stop]
        h.ok(own and all(m and int(m.group(4)) == pid for m in own) and
             len({m.group(4) for m in ok_lines}) == 2, "the PID is the server's (%d); the "
             "second server has its own" % pid, sorted({m.group(4) for m in ok_lines}))

        def prio_of(needle, lines):
            return [int(m.group(1)) & 7 for m in lines if needle in m.group(5)]

        h.eq(prio_of("listening on 127.0.0.1:%d" % cloud.port, mine), [6],
             "'listening on' at info (<30>)")
        h.eq(prio_of("stopped", mine), [6], "'stopped' at info")
        failed = [m for m in mine if "'bob'" in m.group(5) and "failed" in m.group(5)]
        print("   (e.g. %s)" % (failed[0].group(0) if failed else "-"))
        h.ok(len(failed) >= 1 and all(int(m.group(1)) == 28 for m in failed),
             "bob's wrong password: a warning (<28>) naming the account",
             [m.group(0) for m in mine][-10:])
        h.ok(any("alice" in m.group(5) and "logged in" in m.group(5) and int(m.group(1)) == 30
                 for m in mine), "alice's connection: info")
        errs = [m for m in ok_lines if int(m.group(4)) != pid]
        h.ok(any(int(m.group(1)) == 27 and "bind" in m.group(5) for m in errs),
             "the second server's bind failure: error (<27>)", [m.group(0) for m in errs])
        h.ok(not any(int(m.group(1)) & 7 == 7 for m in ok_lines), "no debug line at level info")

        secrets = [SO_PIN, USER_PIN, WRONG_PIN, bob["password"], bob_wrong,
                   cloud.accounts[0]["password"]]
        leaked = [s for s in secrets if any(s in d for d in everything)]
        h.eq(leaked, [], "no password or PIN in any datagram")
        log = cloud.server_log()
        h.eq(log.strip(), "", "nothing on standard error while logging to syslog")
        h.eq(p2.stderr.strip(), "", "... also for the failing second server")
    finally:
        if sock is not None:
            sock.close()
        if cloud is not None:
            cloud.close(keep=h.failed > 0)
        shutil.rmtree(tmp, ignore_errors=True)
    h.summary()


PyKCS11_CKR_PIN_INCORRECT = 0xA0

if __name__ == "__main__":
    main()
