"""The world of an end-to-end test of libls11cloud.so (run by /usr/bin/python3).

A real ls11cloudd on 127.0.0.1, port 0 (the port comes from its "listening on" line), with a
temporary state directory; accounts made with `ls11cloud-admin user add --active`; a temporary
LS11CLOUD_CONFIG_DIR with one accounts/<id>.conf per account and a 0600 password file each.

As a library: Cloud(...) starts it all, .env() is the environment a client process needs,
.stop_server() / .start_server() take the server away and bring it back on the same port,
.close() ends everything.  As a program it runs another program in that world:

    cloudenv.py [--accounts N] [--keep] -- PROGRAM ARGS...

so the real-client tests of the local module (tests/module/*.py, written for one slot with a
token) run unchanged through the cloud.  Its exit status is the program's.

Where the programs are: $LS11CLOUDD and $LS11CLOUD_ADMIN (set by tests/cloud/meson.build), else
the build tree of $LS11_BUILD_ROOT.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def _program(env, rel):
    p = os.environ.get(env)
    if p:
        return p
    root = os.environ.get("LS11_BUILD_ROOT", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build"))
    return os.path.join(root, rel)


# $LS11_TEST_SERVER: another build of the server (test.sh's ThreadSanitizer run).
LS11CLOUDD = os.environ.get("LS11_TEST_SERVER") or _program("LS11CLOUDD", "server/ls11cloudd")
ADMIN = _program("LS11CLOUD_ADMIN", "tools/ls11cloud-admin")


class Cloud:
    """A server, its accounts and a client configuration directory."""

    def __init__(self, nicknames=("alice",), prefix="ls11-cloud", server_args=(), start=True,
                 port=0):
        self.tmp = tempfile.mkdtemp(prefix=prefix + "-")
        self.state = os.path.join(self.tmp, "state")
        self.config = os.path.join(self.tmp, "config")
        os.makedirs(self.state, mode=0o700)
        os.makedirs(os.path.join(self.config, "accounts"), mode=0o700)
        self.server_args = list(server_args)
        self.proc = None
        self.log_path = os.path.join(self.tmp, "server.log")
        self.port = port or self._free_port()
        self.accounts = []
        for i, nick in enumerate(nicknames):
            self.add_account(nick, number=10 + i)
        if start:
            self.start_server()

    @staticmethod
    def _free_port():
        """A port the kernel considers free now (for a server that must come back on it)."""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    # -- accounts ----------------------------------------------------------------------------

    def add_account(self, nick, number, password=None, store="file", write_config=True):
        password = password or ("pw-%s-%d" % (nick, number))
        pwfile = os.path.join(self.tmp, "admin-%s.pw" % nick)
        with open(pwfile, "w") as f:
            f.write(password + "\n")
        os.chmod(pwfile, 0o600)
        subprocess.run([ADMIN, "--state-dir", self.state, "user", "add", nick, "--password-file",
                        pwfile, "--active"], check=True, stdout=subprocess.DEVNULL)
        acc = dict(nick=nick, number=number, password=password,
                   pwfile=os.path.join(self.config, "accounts", "%s.password" % nick))
        self.accounts.append(acc)
        if write_config:
            self.write_account(acc, store=store)
        return acc

    def write_account(self, acc, store="file", port=None, extra=""):
        path = os.path.join(self.config, "accounts", "%s.conf" % acc["nick"])
        with open(path, "w") as f:
            f.write("# written by tests/cloud/cloudenv.py\n"
                    "number = %d\nhost = 127.0.0.1\nport = %d\nnickname = %s\n"
                    "password-store = %s\n%s" % (acc["number"], port or self.port, acc["nick"],
                                                 store, extra))
        fd = os.open(acc["pwfile"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, acc["password"].encode() + b"\n")
        os.close(fd)
        os.chmod(acc["pwfile"], 0o600)

    # -- the server --------------------------------------------------------------------------

    def start_server(self, timeout=30):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [LS11CLOUDD, "--listen", "127.0.0.1:%d" % self.port, "--state-dir", self.state,
             "--log-level", "info"] + self.server_args,
            stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on \S+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                return self.port
        self.stop_server()
        raise RuntimeError("ls11cloudd did not start; its log:\n" + self.server_log())

    def stop_server(self, sig=signal.SIGTERM):
        if self.proc is None:
            return
        try:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def server_log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    # -- clients -----------------------------------------------------------------------------

    def env(self, **extra):
        e = dict(os.environ)
        e["LS11CLOUD_CONFIG_DIR"] = self.config
        e.setdefault("LS11CLOUD_TIMEOUT_MS", "20000")
        e.setdefault("LS11CLOUD_RETRY_MAX_MS", "500")
        # For tests that stop the server under their client (tests/cloud/test-stall.c).
        if self.proc is not None:
            e["LS11_TEST_SERVER_PID"] = str(self.proc.pid)
            e["LS11_TEST_SERVER_PORT"] = str(self.port)
        for k, v in extra.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = str(v)
        return e

    def close(self, keep=False):
        self.stop_server()
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main(argv):
    n = 1
    keep = False
    while argv and argv[0] != "--":
        a = argv.pop(0)
        if a == "--accounts":
            n = int(argv.pop(0))
        elif a == "--keep":
            keep = True
        else:
            print("usage: cloudenv.py [--accounts N] [--keep] -- PROGRAM ARGS...", file=sys.stderr)
            return 2
    if not argv:
        print("usage: cloudenv.py [--accounts N] [--keep] -- PROGRAM ARGS...", file=sys.stderr)
        return 2
    argv.pop(0)
    names = ["alice", "bob", "carol", "dave"][:n]
    cloud = Cloud(names)
    rc = 1
    try:
        rc = subprocess.call(argv, env=cloud.env())
    finally:
        if rc != 0:
            print("(cloud kept in %s; server log follows)" % cloud.tmp)
            sys.stdout.write(cloud.server_log()[-4000:])
        cloud.close(keep=keep or rc != 0)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
