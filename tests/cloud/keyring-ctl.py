#!/usr/bin/python3
"""Locks or unlocks gnome-keyring's login collection, without a prompt (tests only).

    keyring-ctl.py lock
    keyring-ctl.py unlock PASSWORD

In the D-Bus session of $DBUS_SESSION_BUS_ADDRESS.  Locking is the Secret Service's own
Service.Lock.  Unlocking a collection through the Secret Service asks a prompt, which a test
cannot answer; gnome-keyring's org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface
.UnlockWithMasterPassword takes the password instead, as a Secret (a "plain" session opened on
the same connection).  Prints "locked True|False" at the end; exit status 1 on a D-Bus error
(a wrong password is org.gnome.keyring.Error.Denied).

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import sys

import dbus

COLLECTION = "/org/freedesktop/secrets/collection/login"


def main(argv):
    if not argv or argv[0] not in ("lock", "unlock") or \
            (argv[0] == "unlock") != (len(argv) == 2):
        print("usage: keyring-ctl.py lock | unlock PASSWORD", file=sys.stderr)
        return 2
    bus = dbus.SessionBus()
    obj = bus.get_object("org.freedesktop.secrets", "/org/freedesktop/secrets")
    service = dbus.Interface(obj, "org.freedesktop.Secret.Service")
    coll = dbus.ObjectPath(COLLECTION)
    try:
        if argv[0] == "lock":
            service.Lock([coll])
        else:
            _, session = service.OpenSession("plain", dbus.String("", variant_level=1))
            internal = dbus.Interface(
                obj, "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface")
            secret = dbus.Struct((session, dbus.ByteArray(b""), dbus.ByteArray(argv[1].encode()),
                                  "text/plain"), signature="oayays")
            internal.UnlockWithMasterPassword(coll, secret)
        props = dbus.Interface(bus.get_object("org.freedesktop.secrets", coll),
                               "org.freedesktop.DBus.Properties")
        locked = bool(props.Get("org.freedesktop.Secret.Collection", "Locked"))
    except dbus.exceptions.DBusException as e:
        print("keyring-ctl.py: %s: %s" % (e.get_dbus_name(), e.get_dbus_message()),
              file=sys.stderr)
        return 1
    print("locked %s" % locked)
    return 0 if locked == (argv[0] == "lock") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
