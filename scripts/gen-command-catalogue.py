#!/usr/bin/env python3
"""Writes core/src/commands/redis-commands.resp: what redis-server 7.0 answers to COMMAND INFO
and COMMAND DOCS for each of its commands, in RESP3, so that DiskDB's COMMAND replies are
Redis's own (flags, ACL categories, tips, key specs, subcommands, arguments, history).

Usage: python3 scripts/gen-command-catalogue.py [--port P]   (starts redis-server when no port)

The file is a RESP3 stream, one entry per top-level command, sorted by name:
    *3 <name as bulk> <COMMAND INFO's element for it> <COMMAND DOCS's value for it>
Redis 7.0 is BSD-3-Clause licensed; this is its command metadata, as its server reports it.
"""
import argparse
import os
import socket
import subprocess
import sys
import time

OUT = os.path.join(os.path.dirname(__file__), "..", "core", "src", "commands", "redis-commands.resp")


def send(sock, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)


def read(f):
    """One reply's raw bytes."""
    line = f.readline()
    kind, raw = line[:1], line
    if kind in b"+-:_,#(":
        return raw
    n = int(line[1:-2])
    if n < 0:
        return raw
    if kind in b"$=!":
        return raw + f.read(n + 2)
    if kind in b"*~>":
        return raw + b"".join(read(f) for _ in range(n))
    if kind in b"%|":
        return raw + b"".join(read(f) for _ in range(2 * n))
    raise ValueError(line)


def strip_header(reply):
    """The first element of a one-element array or one-entry map reply."""
    head, _, rest = reply.partition(b"\r\n")
    assert head in (b"*1", b"%1"), head
    return rest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    opts = ap.parse_args()
    server = None
    port = opts.port
    if port is None:
        port = 7399
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(0.5)
    try:
        sock = socket.create_connection(("127.0.0.1", port))
        f = sock.makefile("rb")
        send(sock, "HELLO", "3")
        hello = read(f)
        if b"7.0." not in hello:
            sys.exit("redis-server 7.0 expected")
        send(sock, "COMMAND", "LIST")
        names = sorted(
            x.decode() for x in read(f).split(b"\r\n")[2::2] if x and b"|" not in x
        )
        out = bytearray()
        for name in names:
            send(sock, "COMMAND", "INFO", name)
            info = strip_header(read(f))
            send(sock, "COMMAND", "DOCS", name)
            docs = strip_header(read(f))
            key = b"$%d\r\n%s\r\n" % (len(name), name.encode())
            assert docs.startswith(key), name
            out += b"*3\r\n" + key + info + docs[len(key):]
        with open(OUT, "wb") as fh:
            fh.write(out)
        print(f"{len(names)} commands, {len(out)} bytes -> {os.path.normpath(OUT)}")
    finally:
        if server:
            server.terminate()


if __name__ == "__main__":
    main()
