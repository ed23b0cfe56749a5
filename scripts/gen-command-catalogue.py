#!/usr/bin/env python3
"""Writes core/src/commands/redis-commands.resp: what redis-server 7.0 answers to COMMAND INFO
and COMMAND DOCS for each of its commands, in RESP3, so that DiskDB's COMMAND replies are
Redis's own (flags, ACL categories, tips, key specs, subcommands, arguments, history).

Usage: python3 scripts/gen-command-catalogue.py [--port P]   (starts redis-server when no port)

The file is a RESP3 stream, one entry per top-level command, sorted by name (subcommands too):
    *3 <name as bulk> <COMMAND INFO's element for it> <COMMAND DOCS's value for it>
--check compares instead of writing (the test command runs it).
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


def parse(buf, pos=0):
    """One RESP3 element of `buf` at `pos` as (type byte, header line, children or body), end."""
    nl = buf.index(b"\r\n", pos)
    kind, line, pos = buf[pos:pos + 1], buf[pos:nl + 2], nl + 2
    if kind in b"+-:_,#(":
        return (kind, line, None), pos
    n = int(line[1:-2])
    if kind in b"$=!":
        return (kind, line, buf[pos:pos + n + 2] if n >= 0 else b""), pos + max(n, 0) + (2 if n >= 0 else 0)
    count = 2 * n if kind in b"%|" else n
    items = []
    for _ in range(max(count, 0)):
        item, pos = parse(buf, pos)
        items.append(item)
    return (kind, line, items), pos


def dump(node):
    kind, line, body = node
    if body is None:
        return line
    if isinstance(body, bytes):
        return line + body
    return line + b"".join(dump(c) for c in body)


def name_of(node):
    """A bulk string's text."""
    return node[2][:-2]


def sorted_subcommands(info, docs):
    """INFO's subcommand rows and DOCS's subcommands map in name order: Redis lists them in a
    hash order seeded at random when it starts, which would make every run of this script
    write a different file."""
    kind, line, items = info
    if len(items) == 10 and items[9][2]:
        rows = sorted(items[9][2], key=lambda row: name_of(row[2][0]))
        items = items[:9] + [(items[9][0], items[9][1], rows)]
    info = (kind, line, items)
    kind, line, items = docs
    pairs = [items[i:i + 2] for i in range(0, len(items), 2)]
    out = []
    for key, value in pairs:
        if name_of(key) == b"subcommands":
            subs = [value[2][i:i + 2] for i in range(0, len(value[2]), 2)]
            subs.sort(key=lambda kv: name_of(kv[0]))
            value = (value[0], value[1], [x for kv in subs for x in kv])
        out += [key, value]
    return info, (kind, line, out)


def strip_header(reply):
    """The first element of a one-element array or one-entry map reply."""
    head, _, rest = reply.partition(b"\r\n")
    assert head in (b"*1", b"%1"), head
    return rest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--check", action="store_true",
                    help="compare with the file in the tree instead of writing it")
    opts = ap.parse_args()
    server = None
    port = opts.port
    if port is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
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
            info_tree, _ = parse(info)
            docs_tree, _ = parse(docs[len(key):])
            info_tree, docs_tree = sorted_subcommands(info_tree, docs_tree)
            out += b"*3\r\n" + key + dump(info_tree) + dump(docs_tree)
        if opts.check:
            with open(OUT, "rb") as fh:
                same = fh.read() == bytes(out)
            print(f"{os.path.normpath(OUT)}: {'matches' if same else 'DIFFERS from'} redis-server")
            sys.exit(0 if same else 1)
        with open(OUT, "wb") as fh:
            fh.write(out)
        print(f"{len(names)} commands, {len(out)} bytes -> {os.path.normpath(OUT)}")
    finally:
        if server:
            server.terminate()


if __name__ == "__main__":
    main()
