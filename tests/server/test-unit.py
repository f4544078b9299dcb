#!/usr/bin/python3
"""data/ls11cloudd.service: the systemd unit of ls11cloudd, checked by systemd's own tools.

    test-unit.py UNIT SYSUSERS LS11CLOUDD

- `systemd-analyze verify` of a copy whose ExecStart names the built server passes without a
  single message (and, so that "no message" means something, a copy with a misspelt key does
  not pass silently);
- the hardening a network daemon that needs only its state directory and AF_INET / AF_INET6 /
  AF_UNIX sockets should have is all there;
- `systemd-analyze security --offline=true` rates the unit's exposure at most 2.0 ("OK");
- the sysusers file creates the unit's user (systemd-sysusers --dry-run into an empty root),
  with the state directory as its home.

No systemd needs to be running.  Each check prints "ok" or "FAIL"; the exit status is 1 when one
failed.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import checks  # noqa: E402
from checks import ok  # noqa: E402

def unit_settings(text):
    """The [Service] section as a list of (key, value), in order (keys may repeat)."""
    section = None
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section == "Service" and "=" in line:
            k, v = line.split("=", 1)
            out.append((k.strip(), v.strip()))
    return out


def verify(path):
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", path], capture_output=True,
                       text=True, timeout=120)
    return p.returncode, (p.stdout + p.stderr).strip()


def main():
    if len(sys.argv) != 4:
        print("usage: test-unit.py UNIT SYSUSERS LS11CLOUDD", file=sys.stderr)
        sys.exit(2)
    unit, sysusers, server = (os.path.abspath(a) for a in sys.argv[1:])
    for prog in ("systemd-analyze", "systemd-sysusers"):
        if not ok(shutil.which(prog) is not None, "%s is installed (Debian: systemd)" % prog):
            sys.exit(1)
    with open(unit) as f:
        text = f.read()
    tmp = tempfile.mkdtemp(prefix="ls11-unit-")
    try:
        # The installed path is /usr/sbin; the copy runs the server just built.
        m = re.search(r"^ExecStart=(\S+)", text, re.M)
        ok(m is not None and m.group(1) == "/usr/sbin/ls11cloudd", "ExecStart runs "
           "/usr/sbin/ls11cloudd", m.group(1) if m else "no ExecStart")
        copy = os.path.join(tmp, "ls11cloudd.service")
        with open(copy, "w") as f:
            f.write(text.replace("ExecStart=/usr/sbin/ls11cloudd", "ExecStart=" + server, 1))
        rc, msgs = verify(copy)
        ok(rc == 0 and msgs == "", "systemd-analyze verify: no error, no warning",
           "rc %d: %s" % (rc, msgs))

        # The checker does see mistakes (so its silence above means something).
        bad = os.path.join(tmp, "bad", "ls11cloudd.service")
        os.makedirs(os.path.dirname(bad))
        with open(bad, "w") as f:
            f.write(text.replace("ExecStart=/usr/sbin/ls11cloudd", "ExecStart=" + server, 1)
                    .replace("ProtectHome=", "ProtectHomes=", 1))
        rc, msgs = verify(bad)
        ok("ProtectHomes" in msgs, "... and a misspelt key in a copy is reported", msgs)

        # The hardening.
        settings = unit_settings(text)
        have = {}
        for k, v in settings:
            have.setdefault(k, []).append(v)
        want = {
            "Type": "exec",
            "User": "ls11cloud",
            "Group": "ls11cloud",
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "PrivateDevices": "yes",
            "DevicePolicy": "closed",
            "PrivateUsers": "yes",
            "PrivateMounts": "yes",
            "PrivateIPC": "yes",
            "StateDirectory": "ls11cloud",
            "StateDirectoryMode": "0700",
            "ConfigurationDirectory": "ls11cloud",
            "CapabilityBoundingSet": "",
            "AmbientCapabilities": "",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "RestrictNamespaces": "yes",
            "RestrictRealtime": "yes",
            "RestrictSUIDSGID": "yes",
            "MemoryDenyWriteExecute": "yes",
            "LockPersonality": "yes",
            "UMask": "0077",
            "ProtectKernelTunables": "yes",
            "ProtectKernelModules": "yes",
            "ProtectKernelLogs": "yes",
            "ProtectControlGroups": "yes",
            "ProtectClock": "yes",
            "ProtectHostname": "yes",
            "ProtectProc": "invisible",
            "ProcSubset": "pid",
            "RemoveIPC": "yes",
            "SystemCallArchitectures": "native",
            "KillSignal": "SIGTERM",
        }
        for k, v in want.items():
            ok(have.get(k) == [v], "%s=%s" % (k, v), "unit has %r" % (have.get(k),))
        filters = have.get("SystemCallFilter", [])
        ok("@system-service" in filters, "SystemCallFilter=@system-service", repr(filters))
        ok(any(f.startswith("~") and "@privileged" in f and "@resources" in f for f in filters),
           "SystemCallFilter=~@privileged @resources", repr(filters))
        ok(any(k == "ExecStart" and "--state-dir /var/lib/ls11cloud" in v for k, v in settings),
           "the state directory of ExecStart is StateDirectory's")

        # systemd's own rating.
        p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", copy],
                           capture_output=True, text=True, timeout=120)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\S+)", p.stdout)
        if ok(m is not None, "systemd-analyze security --offline=true rates the unit",
              (p.stdout + p.stderr)[-2000:]):
            level = float(m.group(1))
            ok(level <= 2.0 and m.group(2) == "OK",
               "exposure level %.1f %s (at most 2.0, OK)" % (level, m.group(2)))

        # The user comes from the sysusers file, its home is the state directory.
        root = os.path.join(tmp, "root")
        os.makedirs(os.path.join(root, "etc"))
        p = subprocess.run(["systemd-sysusers", "--dry-run", "--root=" + root, sysusers],
                           capture_output=True, text=True, timeout=60)
        out = p.stdout + p.stderr
        ok(p.returncode == 0 and "Creating user 'ls11cloud'" in out,
           "systemd-sysusers --dry-run creates the user ls11cloud", out)
        with open(sysusers) as f:
            lines = [ln.split() for ln in f if ln.strip() and not ln.startswith("#")]
        ok(len(lines) == 1 and lines[0][0] == "u" and lines[0][1] == "ls11cloud" and
           lines[0][-1] == "/var/lib/ls11cloud", "the sysusers entry: user ls11cloud, home "
           "/var/lib/ls11cloud", repr(lines))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(checks.summary("server/systemd-unit"))


if __name__ == "__main__":
    main()
