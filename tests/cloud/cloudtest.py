"""Helpers of the cloud's own tests (run by /usr/bin/python3).

The harness is the local module's (tests/module/p11test.py: checks counted, "N passed, N
failed", exit status).  Each scenario that needs a fresh C_Initialize runs in a child process
(`client()`), a small Python program that loads the module with PyKCS11 in the environment the
scenario builds, talks over stdin/stdout when it must be driven step by step, and prints JSON.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import ctypes
import json
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "module"))

import cloudenv  # noqa: E402,F401
import p11test  # noqa: E402,F401

PYTHON = "/usr/bin/python3"

# Code every child program starts with: PyKCS11, the module path, helpers.
PRELUDE = textwrap.dedent("""
    import ctypes, json, os, sys, time
    sys.path.insert(0, %(module_tests)r)
    import PyKCS11
    from PyKCS11 import *
    MODULE = %(module)r

    def out(**kw):
        print(json.dumps(kw), flush=True)

    def rv_of(fn):
        try:
            fn()
            return 0
        except PyKCS11.PyKCS11Error as e:
            return e.value

    def wait_line():
        return sys.stdin.readline().strip()

    def load():
        lib = PyKCS11.PyKCS11Lib()
        lib.load(MODULE)
        return lib
""")


def client(module, code, env, stdin=None, timeout=120):
    """Runs @code (after PRELUDE) in a child; returns (exit status, JSON lines, stderr)."""
    prog = PRELUDE % dict(module=module, module_tests=os.path.join(HERE, "..", "module")) + \
        textwrap.dedent(code)
    p = subprocess.run([PYTHON, "-c", prog], env=env, input=stdin, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, _json_lines(p.stdout), p.stderr


def spawn(module, code, env):
    """A child driven step by step: returns the Popen (stdin/stdout pipes, text mode)."""
    prog = PRELUDE % dict(module=module, module_tests=os.path.join(HERE, "..", "module")) + \
        textwrap.dedent(code)
    return subprocess.Popen([PYTHON, "-c", prog], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_json(p):
    line = p.stdout.readline()
    if not line:
        raise RuntimeError("the child ended early: " + p.stderr.read())
    return json.loads(line)


def _json_lines(text):
    res = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                res.append(json.loads(line))
            except ValueError:
                pass
    return res


def merged(lines):
    d = {}
    for x in lines:
        d.update(x)
    return d


# ---------------------------------------------------------------------------------------------
# The vendor interface (the module's counters), through ctypes in the same process
# ---------------------------------------------------------------------------------------------

class CK_INTERFACE(ctypes.Structure):
    _fields_ = [("pInterfaceName", ctypes.c_char_p), ("pFunctionList", ctypes.c_void_p),
                ("flags", ctypes.c_ulong)]


class VendorFunctions(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte),
                ("GetStats", ctypes.c_void_p), ("GetCallStats", ctypes.c_void_p),
                ("ResetStats", ctypes.c_void_p)]


STAT_NAMES = ["round_trips", "local", "connects", "resumes", "resent", "drops"]


class Stats:
    """The counters of the module loaded at @module (the same instance PyKCS11 loaded)."""

    def __init__(self, module):
        self.dll = ctypes.CDLL(module)
        iface = ctypes.POINTER(CK_INTERFACE)()
        self.dll.C_GetInterface.argtypes = [ctypes.c_char_p, ctypes.c_void_p,
                                            ctypes.POINTER(ctypes.POINTER(CK_INTERFACE)),
                                            ctypes.c_ulong]
        rv = self.dll.C_GetInterface(b"Vendor LS11CLOUD", None, ctypes.byref(iface), 0)
        assert rv == 0, "C_GetInterface(Vendor LS11CLOUD): 0x%x" % rv
        fl = ctypes.cast(iface.contents.pFunctionList, ctypes.POINTER(VendorFunctions)).contents
        self._get = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                                     ctypes.POINTER(ctypes.c_ulong))(fl.GetStats)
        self._call = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_char_p,
                                      ctypes.POINTER(ctypes.c_ulong))(fl.GetCallStats)
        self._reset = ctypes.CFUNCTYPE(ctypes.c_ulong)(fl.ResetStats)

    def get(self):
        vals = (ctypes.c_ulong * 16)()
        n = ctypes.c_ulong(16)
        rv = self._get(vals, ctypes.byref(n))
        assert rv == 0
        return dict(zip(STAT_NAMES, vals[:n.value]))

    def call(self, name):
        v = ctypes.c_ulong(0)
        rv = self._call(name.encode(), ctypes.byref(v))
        assert rv == 0, "no call %s" % name
        return v.value

    def reset(self):
        self._reset()
