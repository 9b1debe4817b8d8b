#!/usr/bin/env python3
"""Open many connections to a server at once and hold them.

Used by the fault tests to check that a burst of idle or half-open
connections neither crashes the server nor leaks its descriptors.
Connections are opened one after another (a count, not a rate), each
connect bounded by --connect-timeout, then all of them are held for up
to --hold seconds while the script records which ones the server closed.
At the end every connection still open is closed and one JSON line is
printed:

  {"requested": N, "opened": N, "connect_failed": N,
   "closed_by_server": N, "open_at_end": N, "seconds": S}

Only loopback addresses and Unix sockets are accepted as targets.
"""

import argparse
import json
import selectors
import socket
import ssl
import sys
import time

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--unix", metavar="PATH", help="Unix stream socket to connect to")
    target.add_argument("--tcp", nargs=2, metavar=("HOST", "PORT"),
                        help="loopback TCP address to connect to")
    p.add_argument("--count", type=int, required=True,
                   help="connections to open (1 to 5000)")
    p.add_argument("--tls", action="store_true",
                   help="complete a TLS handshake on each TCP connection, then idle")
    p.add_argument("--send-hex", default="",
                   help="bytes sent on each connection after connecting, as hex")
    p.add_argument("--hold", type=float, default=5.0,
                   help="seconds to hold the connections open (default 5)")
    p.add_argument("--until-closed", action="store_true",
                   help="stop holding as soon as the server has closed every connection")
    p.add_argument("--connect-timeout", type=float, default=10.0,
                   help="seconds allowed per connect and handshake (default 10)")
    args = p.parse_args()
    if not 1 <= args.count <= 5000:
        p.error("--count must be between 1 and 5000")
    if args.tcp and args.tcp[0] not in LOOPBACK:
        p.error("--tcp HOST must be a loopback address")
    if args.tls and not args.tcp:
        p.error("--tls needs --tcp")
    return args


def connect_unix(path, timeout):
    """Connect to a Unix socket, retrying while its backlog is full (EAGAIN)."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def open_one(args, payload, tls_context):
    """Return a connected socket (a TLS socket with --tls), or None when it failed."""
    try:
        if args.unix:
            s = connect_unix(args.unix, args.connect_timeout)
        else:
            s = socket.create_connection((args.tcp[0], int(args.tcp[1])),
                                         timeout=args.connect_timeout)
            if tls_context is not None:
                s = tls_context.wrap_socket(s, server_hostname=None)
        if payload:
            s.sendall(payload)
        s.setblocking(False)
        return s
    except (OSError, ssl.SSLError):
        return None


def server_closed(s):
    """Read what is pending; return True when the server has closed s."""
    try:
        data = s.recv(4096)
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
        return False
    except (OSError, ssl.SSLError):
        return True
    return data == b""


def main():
    args = parse_args()
    payload = bytes.fromhex(args.send_hex)
    tls_context = None
    if args.tls:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls_context.check_hostname = False
        tls_context.verify_mode = ssl.CERT_NONE

    start = time.monotonic()
    sel = selectors.DefaultSelector()
    opened = failed = closed = 0
    for _ in range(args.count):
        s = open_one(args, payload, tls_context)
        if s is None:
            failed += 1
            continue
        opened += 1
        sel.register(s, selectors.EVENT_READ)

    deadline = time.monotonic() + args.hold
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, min(0.5, deadline - time.monotonic()))):
            if server_closed(key.fileobj):
                sel.unregister(key.fileobj)
                key.fileobj.close()
                closed += 1
        if args.until_closed and not sel.get_map():
            break

    still_open = len(sel.get_map())
    for key in list(sel.get_map().values()):
        sel.unregister(key.fileobj)
        key.fileobj.close()
    print(json.dumps({
        "requested": args.count,
        "opened": opened,
        "connect_failed": failed,
        "closed_by_server": closed,
        "open_at_end": still_open,
        "seconds": round(time.monotonic() - start, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
