#!/usr/bin/python3
"""A TCP proxy on 127.0.0.1 that cuts connections on command (for the network-drop tests).

    proxy.py TARGET_PORT

prints "port N" (its own port) and then reads commands on standard input, one per line, each
answered with one line:

    cut     close every connection now (both sides)                      -> "ok"
    arm     the next bytes the server sends are dropped, and at that moment
            every connection is cut (a request is then in flight: the server ran it, the
            client never saw the answer)                                 -> "armed", later "cut"
    down    refuse new connections (accept and close at once)            -> "ok"
    up      accept them again                                            -> "ok"
    count   how many connections were accepted so far                    -> "N"
    quit    end                                                          -> (nothing)

One thread, select(); only 127.0.0.1.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import select
import socket
import sys


def main():
    target = int(sys.argv[1])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    print("port %d" % lsock.getsockname()[1], flush=True)

    pairs = {}  # socket -> its peer socket
    upstream = set()  # the sockets towards the server
    armed = False
    down = False
    accepted = 0

    def close_all():
        for s in list(pairs):
            try:
                s.close()
            except OSError:
                pass
        pairs.clear()
        upstream.clear()

    def close_pair(s):
        peer = pairs.pop(s, None)
        upstream.discard(s)
        s.close()
        if peer is not None:
            pairs.pop(peer, None)
            upstream.discard(peer)
            peer.close()

    while True:
        rlist = [lsock, sys.stdin] + list(pairs)
        ready, _, _ = select.select(rlist, [], [])
        for s in ready:
            if s is sys.stdin:
                cmd = sys.stdin.readline().strip()
                if cmd in ("", "quit"):
                    close_all()
                    return
                if cmd == "cut":
                    close_all()
                    print("ok", flush=True)
                elif cmd == "arm":
                    armed = True
                    print("armed", flush=True)
                elif cmd == "down":
                    down = True
                    close_all()
                    print("ok", flush=True)
                elif cmd == "up":
                    down = False
                    print("ok", flush=True)
                elif cmd == "count":
                    print("%d" % accepted, flush=True)
                else:
                    print("unknown", flush=True)
            elif s is lsock:
                c, _ = lsock.accept()
                if down:
                    c.close()
                    continue
                u = socket.create_connection(("127.0.0.1", target))
                pairs[c] = u
                pairs[u] = c
                upstream.add(u)
                accepted += 1
            elif s in pairs:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    close_pair(s)
                    continue
                if armed and s in upstream:
                    armed = False
                    close_all()
                    print("cut", flush=True)
                    break
                try:
                    pairs[s].sendall(data)
                except OSError:
                    close_pair(s)


if __name__ == "__main__":
    main()
