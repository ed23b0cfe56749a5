#!/usr/bin/env python3
"""Differential compatibility harness: DiskDB against a real redis-server, byte for byte.

    harness.py cases [FILE ...]             run case files (default: cases/*.txt)
    harness.py random --seed N --count M    run M seeded random commands
    harness.py random --seed N --count M --dump   print them in case-file syntax, run nothing
    options: --verbose (transcript of Redis's replies), cases --keep-going (do not skip the rest
    of a scenario after a mismatch), --max-failures N, --redis PATH, --diskdb PATH

Both servers are started fresh on free loopback ports and stopped at the end, whatever happens.
Every command goes to both; the two raw replies must be identical bytes, except for the few
commands listed in deviations.json (each with the rule applied and the reason).

Case files: one command per line, split like a shell (shlex), so quotes work; inside a word
`\\xHH` stands for the byte HH (the only escape: write a backslash itself as \\x5c). Lines starting
with `#` are comments. Blank lines separate independent scenarios: both servers get FLUSHALL and
SELECT 0 in between. `@sleep MS` pauses (to let keys expire). After QUIT both connections are
reopened.

Random mode: a reproducible stream over the implemented commands on keys a-d (hash commands also
on h and i) in a few DBs, with edge values, options, wrong arities and whole MULTI blocks. After a mismatch both servers are
reset (FLUSHALL) and the stream goes on.

Standard library only, so CI needs nothing beyond python3.
"""

import argparse
import glob
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


# --- RESP -----------------------------------------------------------------------------------


def encode(argv):
    """A command as a RESP multibulk request (what every client library sends)."""
    out = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class NeedMore(Exception):
    pass


def parse(buf, pos=0):
    """One RESP2/RESP3 reply at buf[pos:] as ((type byte, value), end); NeedMore if incomplete.

    The value is only used by the normalisation rules; comparison is on the raw bytes.
    """
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        raise NeedMore
    kind, line, pos = buf[pos : pos + 1], buf[pos + 1 : nl], nl + 2
    if kind in (b"+", b"-", b"(", b",", b"#"):  # simple, error, big number, double, boolean
        return (kind, line), pos
    if kind == b":":
        return (kind, int(line)), pos
    if kind == b"_":  # RESP3 null
        return (kind, None), pos
    if kind in (b"$", b"!", b"="):  # bulk string, bulk error, verbatim string
        n = int(line)
        if n < 0:
            return (kind, None), pos
        if len(buf) < pos + n + 2:
            raise NeedMore
        return (kind, buf[pos : pos + n]), pos + n + 2
    if kind in (b"*", b"~", b">", b"%", b"|"):  # array, set, push, map, attribute
        n = int(line)
        if n < 0:
            return (kind, None), pos
        items = []
        for _ in range(n * 2 if kind in (b"%", b"|") else n):
            item, pos = parse(buf, pos)
            items.append(item)
        if kind == b"|":  # an attribute decorates the reply that follows it
            return parse(buf, pos)
        return (kind, items), pos
    raise ValueError("not RESP: %r" % buf[pos - len(line) - 3 : pos + 40])


class Conn:
    """One client connection; reads exactly one complete reply per command."""

    def __init__(self, port):
        self.port = port
        self.connect()

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.buf = b""

    def send(self, argv):
        self.sock.sendall(encode(argv))

    def read(self):
        """(raw bytes, parsed value) of the next reply."""
        while True:
            try:
                value, end = parse(self.buf)
            except NeedMore:
                data = self.sock.recv(1 << 16)
                if not data:
                    raise ConnectionError("server on port %d closed the connection" % self.port)
                self.buf += data
                continue
            raw, self.buf = self.buf[:end], self.buf[end:]
            return raw, value

    def call(self, argv):
        self.send(argv)
        return self.read()


# --- servers --------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name, argv_for_port, workdir):
        self.name, self.workdir = name, workdir
        self.log = open(os.path.join(workdir, name + ".log"), "wb")
        self.port = free_port()
        self.proc = subprocess.Popen(argv_for_port(self.port), stdout=self.log, stderr=self.log)

    def wait_ready(self, seconds=15):
        """True once the port accepts connections; False if the process died first."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("%s did not start listening within %ds" % (self.name, seconds))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def log_tail(self):
        with open(self.log.name, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")


def start_servers(workdir, redis_bin, diskdb_bin, started):
    """Starts both; appends each to `started` at once, so the caller can always stop them."""
    rdir, ddir = os.path.join(workdir, "redis"), os.path.join(workdir, "diskdb")
    os.makedirs(rdir)
    os.makedirs(ddir)
    redis = Server(
        "redis",
        lambda p: [redis_bin, "--port", str(p), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", rdir],
        workdir,
    )
    started.append(redis)
    # In-memory storage keeps the run fast; an older build without --storage exits at once.
    diskdb = Server("diskdb", lambda p: [diskdb_bin, "--port", str(p), "--dir", ddir,
                                         "--storage", "memory"], workdir)
    started.append(diskdb)
    if not diskdb.wait_ready():
        diskdb.stop()
        diskdb = Server("diskdb", lambda p: [diskdb_bin, "--port", str(p), "--dir", ddir], workdir)
        started.append(diskdb)
        if not diskdb.wait_ready():
            raise RuntimeError("diskdb-server exited:\n" + diskdb.log_tail())
    if not redis.wait_ready():
        raise RuntimeError("redis-server exited:\n" + redis.log_tail())
    return redis, diskdb


# --- comparison -----------------------------------------------------------------------------


def load_deviations(path):
    """deviations.json: {"deviations": [{"command", "rule", "reason", ...}]} keyed by command."""
    with open(path) as f:
        entries = json.load(f)["deviations"]
    rules = {}
    for e in entries:
        if e["rule"] not in RULES:
            raise SystemExit("%s: unknown rule %r for %s" % (path, e["rule"], e["command"]))
        rules[e["command"].upper()] = e
    return rules


def rule_sort_array(dev, argv, r, d, pair):
    """Same multiset of elements, in any order (arrays, and RESP3 sets)."""
    (rk, rv), (dk, dv) = r[1], d[1]
    if rk == dk and rk in (b"*", b"~") and rv is not None and dv is not None:
        return None if sorted(rv) == sorted(dv) else "arrays differ after sorting"
    return exact(r, d)


def flat_strings(value):
    """The bulk strings of a reply: one bulk string, or a flat array of them."""
    kind, v = value
    if kind == b"$":
        return [v]
    return [item for _, item in v]


def rule_random_members(dev, argv, r, d, pair):
    """SRANDMEMBER, ZRANDMEMBER, SPOP: nil/empty/errors exactly; otherwise as many picks on
    both, distinct unless the count is negative, each a member (with its score) on its own
    server; when a positive count covers the whole set, the same elements. SPOP's picks are
    gone by then: the rule checks they are gone, then makes DiskDB's set equal to Redis's again
    (SADD what only DiskDB popped, SREM what only Redis popped) so the run can go on."""
    (rk, rv), (dk, dv) = r[1], d[1]
    if exact(r, d) is None or rk != dk or rk not in (b"$", b"*", b"~") or rv is None or dv is None:
        return exact(r, d)
    name, key = argv[0].upper(), argv[1]
    try:
        count = int(argv[2]) if len(argv) > 2 else None
    except ValueError:
        return exact(r, d)
    rl, dl = flat_strings(r[1]), flat_strings(d[1])
    if len(rl) != len(dl):
        return "%d picks on redis, %d on diskdb" % (len(rl), len(dl))
    width = 2 if len(argv) > 3 else 1  # ZRANDMEMBER ... WITHSCORES: member, score pairs
    picks = {"redis": [tuple(rl[i:i + width]) for i in range(0, len(rl), width)],
             "diskdb": [tuple(dl[i:i + width]) for i in range(0, len(dl), width)]}
    for side, items in picks.items():
        members = [p[0] for p in items]
        if (count is None or count >= 0) and len(set(members)) != len(members):
            return "%s returned a member twice: %r" % (side, members)
    if name == b"SPOP":
        for side, conn in (("redis", pair.redis), ("diskdb", pair.diskdb)):
            for (member,) in picks[side]:
                if conn.call([b"SISMEMBER", key, member])[0] != b":0\r\n":
                    return "%s popped %r but still holds it" % (side, member)
        rset, dset = {p[0] for p in picks["redis"]}, {p[0] for p in picks["diskdb"]}
        if dset - rset:
            pair.diskdb.call([b"SADD", key] + sorted(dset - rset))
        if rset - dset:
            pair.diskdb.call([b"SREM", key] + sorted(rset - dset))
        return None
    card = b"SCARD" if name == b"SRANDMEMBER" else b"ZCARD"
    size = pair.redis.call([card, key])[1][1]
    if count is not None and count > 0 and count >= size:
        return None if sorted(picks["redis"]) == sorted(picks["diskdb"]) else "whole set differs"
    for side, conn in (("redis", pair.redis), ("diskdb", pair.diskdb)):
        for p in picks[side]:
            if name == b"SRANDMEMBER":
                if conn.call([b"SISMEMBER", key, p[0]])[0] != b":1\r\n":
                    return "%s picked %r, not a member" % (side, p[0])
            else:
                score = conn.call([b"ZSCORE", key, p[0]])[1]
                if score[0] != b"$" or score[1] is None or (width == 2 and score[1] != p[1]):
                    return "%s picked %r, not a member with that score" % (side, p)
    return None


def elem_scan_all(conn, argv, width):
    """Every item (or member/score pair) of a full SSCAN/ZSCAN iteration of argv's key."""
    items, cursor = set(), b"0"
    for _ in range(100000):
        raw, (kind, value) = conn.call(argv[:2] + [cursor] + argv[3:])
        if kind != b"*" or len(value) != 2 or value[0][0] != b"$" or value[1][0] != b"*":
            return "malformed reply %r" % raw
        cursor = value[0][1]
        vals = [v for _, v in value[1][1]]
        items.update(tuple(vals[i:i + width]) for i in range(0, len(vals), width))
        if cursor == b"0":
            return sorted(items)
    return "never returned cursor 0"


def rule_elem_scan_full(dev, argv, r, d, pair):
    """Errors exactly; otherwise a complete iteration from cursor 0 with the same options must
    return the same set of items (pairs for ZSCAN)."""
    if r[1][0] == b"-" or d[1][0] == b"-":
        return exact(r, d)
    width = dev.get("width", 1)
    ritems, ditems = elem_scan_all(pair.redis, argv, width), elem_scan_all(pair.diskdb, argv, width)
    if ritems != ditems:
        return "full iteration: redis %r, diskdb %r" % (ritems, ditems)
    return None


def scan_all(conn, argv, at=1, pairs=False):
    """Everything a full *SCAN iteration returns, with the same options as `argv` (whose cursor
    is argv[at]): sorted keys, or sorted (field, value) pairs for HSCAN."""
    items, cursor = set(), b"0"
    for _ in range(100000):
        raw, (kind, value) = conn.call(argv[:at] + [cursor] + argv[at + 1:])
        if kind != b"*" or len(value) != 2 or value[0][0] != b"$" or value[1][0] != b"*":
            return "malformed %s reply %r" % (argv[0].decode("latin-1"), raw)
        cursor = value[0][1]
        flat = [v for _, v in value[1][1]]
        items.update(zip(flat[::2], flat[1::2]) if pairs else flat)
        if cursor == b"0":
            return sorted(items)
    return "%s never returned cursor 0" % argv[0].decode("latin-1")


def rule_scan_full(dev, argv, r, d, pair):
    """Errors compared exactly; otherwise the sorted set of keys of a complete iteration."""
    if r[1][0] == b"-" or d[1][0] == b"-":
        return exact(r, d)
    rkeys, dkeys = scan_all(pair.redis, argv), scan_all(pair.diskdb, argv)
    if rkeys != dkeys:
        return "full SCAN iteration: redis %r, diskdb %r" % (rkeys, dkeys)
    return None


def rule_hscan_full(dev, argv, r, d, pair):
    """Errors compared exactly; otherwise the sorted (field, value) pairs of a full iteration."""
    if r[1][0] == b"-" or d[1][0] == b"-":
        return exact(r, d)
    rpairs = scan_all(pair.redis, argv, at=2, pairs=True)
    dpairs = scan_all(pair.diskdb, argv, at=2, pairs=True)
    if rpairs != dpairs:
        return "full HSCAN iteration: redis %r, diskdb %r" % (rpairs, dpairs)
    return None


def rule_sort_pairs(dev, argv, r, d, pair):
    """A flat field/value array (HGETALL in RESP2): the same pairs, in any order."""
    (rk, rv), (dk, dv) = r[1], d[1]
    if rk == dk == b"*" and rv is not None and dv is not None:
        def pairs(items):
            flat = [v for _, v in items]
            return sorted(zip(flat[::2], flat[1::2]))
        if len(rv) == len(dv) and pairs(rv) == pairs(dv):
            return None
        return "field/value pairs differ"
    return exact(r, d)


def hash_of(conn, key):
    """{field: value} of a hash, from HGETALL."""
    raw, (kind, items) = conn.call([b"HGETALL", key])
    flat = [v for _, v in items] if kind == b"*" else []
    return dict(zip(flat[::2], flat[1::2]))


def rule_randfield(dev, argv, r, d, pair):
    """HRANDFIELD key [count [WITHVALUES]]: errors, nil and empty arrays exactly; otherwise each
    server's reply must be drawn from its own hash: the right number of fields (distinct for a
    non-negative count), each with its value under WITHVALUES."""
    (rk, rv), (dk, dv) = r[1], d[1]
    if exact(r, d) is None or rk != dk or rk not in (b"$", b"*") or rv is None or dv is None:
        return exact(r, d)
    if len(argv) < 3:  # one field
        for conn, field in ((pair.redis, rv), (pair.diskdb, dv)):
            if field not in hash_of(conn, argv[1]):
                return "HRANDFIELD returned %r, not a field" % field
        return None
    count = int(argv[2])
    with_values = len(argv) > 3
    for conn, items in ((pair.redis, rv), (pair.diskdb, dv)):
        h = hash_of(conn, argv[1])
        flat = [v for _, v in items]
        fields = flat[::2] if with_values else flat
        if with_values and any(h.get(f) != v for f, v in zip(flat[::2], flat[1::2])):
            return "HRANDFIELD WITHVALUES returned a wrong value: %r" % flat
        want = min(count, len(h)) if count >= 0 else -count
        if len(fields) != want or any(f not in h for f in fields):
            return "HRANDFIELD returned %r, want %d fields of %r" % (fields, want, sorted(h))
        if count >= 0 and len(set(fields)) != len(fields):
            return "HRANDFIELD with a positive count repeated a field: %r" % fields
    return None


def rule_collection_encoding(dev, argv, r, d, pair):
    """OBJECT ENCODING: strings and errors exactly. For a collection, Redis's reply must be one
    of its encodings for that type (dev["redis"]) and DiskDB's the one it reports for every
    size (dev["diskdb"])."""
    if exact(r, d) is None or r[1][0] != b"$" or d[1][0] != b"$" or len(argv) != 3:
        return exact(r, d)
    kind = pair.redis.call([b"TYPE", argv[2]])[1][1].decode("latin-1")
    if kind not in dev["diskdb"]:
        return exact(r, d)
    if r[1][1].decode() in dev["redis"][kind] and d[1][1].decode() == dev["diskdb"][kind]:
        return None
    return "%s encoding: redis %r, diskdb %r" % (kind, r[1][1], d[1][1])


def rule_integer_tolerance(dev, argv, r, d, pair):
    """-2/-1 exactly; other integers within dev["tolerance"]."""
    (rk, rv), (dk, dv) = r[1], d[1]
    if rk == dk == b":" and rv not in (-1, -2) and dv not in (-1, -2):
        if abs(rv - dv) <= dev["tolerance"]:
            return None
        return "differ by more than %d" % dev["tolerance"]
    return exact(r, d)


def rule_any_integer(dev, argv, r, d, pair):
    """Both non-negative integers, whatever their values; anything else exactly."""
    (rk, rv), (dk, dv) = r[1], d[1]
    if rk == dk == b":" and rv >= 0 and dv >= 0:
        return None
    return exact(r, d)


def rule_randomkey(dev, argv, r, d, pair):
    """Both nil, or both a key that exists on its own server."""
    (rk, rv), (dk, dv) = r[1], d[1]
    if rk == dk == b"$" and rv is not None and dv is not None:
        for conn, key in ((pair.redis, rv), (pair.diskdb, dv)):
            if conn.call([b"EXISTS", key])[0] != b":1\r\n":
                return "RANDOMKEY returned %r, which does not exist" % key
        return None
    return exact(r, d)


def rule_dbsize_reclaim(dev, argv, r, d, pair):
    """Equal; or equal again once a full SCAN on both has reclaimed expired keys in Redis."""
    if exact(r, d) is None or r[1][0] != b":" or d[1][0] != b":":
        return exact(r, d)
    for conn in (pair.redis, pair.diskdb):
        scan_all(conn, [b"SCAN", b"0"])
    again = pair.both(argv)
    return None if exact(*again) is None else "differ even after a full SCAN: %r, %r" % (
        again[0][0], again[1][0])


def _subcommands_sorted(value):
    """A COMMAND INFO element or COMMAND DOCS map with its subcommands in name order."""
    kind, v = value
    if kind == b"*" and v and len(v) == 10 and v[9][0] == b"*" and v[9][1]:
        subs = sorted((_subcommands_sorted(s) for s in v[9][1]), key=repr)
        return (kind, v[:9] + [(b"*", subs)])
    if kind == b"%" or (kind == b"*" and v and len(v) % 2 == 0 and v[0][0] == b"$"):
        pairs = [(v[i], v[i + 1]) for i in range(0, len(v), 2)]
        out = []
        for key, val in pairs:
            if key == (b"$", b"subcommands") and val[1]:
                inner = [(val[1][i], _subcommands_sorted(val[1][i + 1]))
                         for i in range(0, len(val[1]), 2)]
                inner.sort(key=repr)
                val = (val[0], [x for kv in inner for x in kv])
            else:
                val = _subcommands_sorted(val)
            out += [key, val]
        return (kind, out)
    return value


def rule_command_subcommands(dev, argv, r, d, pair):
    """COMMAND INFO / DOCS: the same replies once each container's subcommands are in name
    order (Redis lists them in its subcommand dictionary's order, seeded at random at start)."""
    (rk, rv), (dk, dv) = r[1], d[1]
    if exact(r, d) is None or rk != dk or rk not in (b"*", b"%") or rv is None or dv is None:
        return exact(r, d)
    if rk == b"*":
        same = [_subcommands_sorted(x) for x in rv] == [_subcommands_sorted(x) for x in dv]
    else:
        same = _subcommands_sorted((b"%", rv)) == _subcommands_sorted((b"%", dv))
    return None if same else "differ after ordering subcommands by name"


RULES = {
    "command-subcommands": rule_command_subcommands,
    "dbsize-reclaim": rule_dbsize_reclaim,
    "sort-array": rule_sort_array,
    "sort-pairs": rule_sort_pairs,
    "scan-full": rule_scan_full,
    "hscan-full": rule_hscan_full,
    "randfield": rule_randfield,
    "collection-encoding": rule_collection_encoding,
    "integer-tolerance": rule_integer_tolerance,
    "randomkey": rule_randomkey,
    "any-integer": rule_any_integer,
    "random-members": rule_random_members,
    "elem-scan-full": rule_elem_scan_full,
}


def exact(r, d):
    return None if r[0] == d[0] else "bytes differ"


class Pair:
    """Both servers' connections, driven in lockstep."""

    def __init__(self, redis_port, diskdb_port, deviations):
        self.redis, self.diskdb = Conn(redis_port), Conn(diskdb_port)
        self.deviations = deviations
        # Inside MULTI commands are only queued (+QUEUED): no rule applies, and the rules' own
        # extra commands (SCAN, EXISTS) must not be sent. The EXEC array is compared exactly.
        self.in_multi = False

    def both(self, argv):
        # Send to both before reading either, so the two servers see the command at nearly the
        # same instant (TTL-like replies then differ by well under a millisecond).
        self.redis.send(argv)
        self.diskdb.send(argv)
        return self.redis.read(), self.diskdb.read()

    def compare(self, argv):
        """(redis reply, diskdb reply, None or why they differ)."""
        r, d = self.both(argv)
        name = argv[0].decode("latin-1").upper() if argv else ""
        # A deviation may name a subcommand ("OBJECT IDLETIME"); that wins over the command.
        sub = name + " " + argv[1].decode("latin-1").upper() if len(argv) > 1 else None
        dev = self.deviations.get(sub) or self.deviations.get(name)
        if self.in_multi:
            dev = None
        why = RULES[dev["rule"]](dev, argv, r, d, self) if dev else exact(r, d)
        # Follow Redis, the reference: MULTI opens on +OK; any EXEC ends it (Redis 7.0 aborts the
        # transaction even when it rejects EXEC itself); DISCARD ends it on +OK.
        if name == "MULTI" and r[0] == b"+OK\r\n":
            self.in_multi = True
        elif name == "EXEC" or (name == "DISCARD" and r[0] == b"+OK\r\n"):
            self.in_multi = False
        if name == "QUIT":  # both servers close the connection after replying
            self.reconnect()
        return r, d, why

    def reconnect(self):
        for conn in (self.redis, self.diskdb):
            conn.sock.close()
            conn.connect()
        self.in_multi = False

    def reset(self):
        """Independent scenarios: out of any MULTI, every DB empty, back in DB 0."""
        if self.in_multi:
            self.both([b"DISCARD"])
            self.in_multi = False
        if getattr(self, "resp3", False):
            self.both([b"HELLO", b"2"])
            self.resp3 = False
        for argv in ([b"FLUSHALL"], [b"SELECT", b"0"]):
            r, d = self.both(argv)
            if r[0] != b"+OK\r\n" or d[0] != b"+OK\r\n":
                raise RuntimeError("reset %r failed: redis %r, diskdb %r" % (argv, r[0], d[0]))


# --- case-file syntax -----------------------------------------------------------------------


def parse_words(line):
    """shlex words as bytes, with \\xHH decoded."""
    return [
        re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), w.encode())
        for w in shlex.split(line)
    ]


def format_argv(argv):
    """The inverse of parse_words, for messages and --dump."""
    words = []
    for arg in argv:
        if arg and re.fullmatch(rb"[A-Za-z0-9_.:*?+\-\[\]^{}=/,!@]+", arg):
            words.append(arg.decode())
            continue
        text = "".join(
            chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else "\\x%02x" % b for b in arg
        )
        words.append('"%s"' % text)
    return " ".join(words)


def read_scenarios(path):
    """[(first line number, [(line number, words)])], split at blank lines."""
    scenarios, current = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            text = line.strip()
            if not text:
                if current:
                    scenarios.append(current)
                current = []
            elif not text.startswith("#"):
                try:
                    current.append((n, parse_words(text)))
                except ValueError as e:
                    raise SystemExit("%s:%d: %s" % (path, n, e))
    if current:
        scenarios.append(current)
    return scenarios


# --- reporting ------------------------------------------------------------------------------


class Tally:
    def __init__(self, max_failures, verbose):
        self.passed = self.failed = 0
        self.max_failures, self.verbose = max_failures, verbose

    def check(self, pair, argv, where, context):
        """Runs one command on both servers; prints a report on mismatch. True if equal."""
        r, d, why = pair.compare(argv)
        if self.verbose:  # a transcript, to check that a case file does what it means to
            print("%-40s %r" % (format_argv(argv)[:200], r[0][:200]))
        if why is None:
            self.passed += 1
            return True
        self.failed += 1
        print("MISMATCH at %s: %s" % (where, why))
        print("  scenario:")
        for line in context:
            print("    " + line)
        print("  command: " + format_argv(argv))
        print("  redis:   %r" % r[0])
        print("  diskdb:  %r" % d[0])
        print()
        return False

    def done(self):
        return self.max_failures and self.failed >= self.max_failures

    def close(self):
        print("compat: %d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def run_cases(pair, files, tally, keep_going):
    for path in files:
        rel = os.path.relpath(path, HERE)
        for scenario in read_scenarios(path):
            pair.reset()
            context = []
            for n, words in scenario:
                if words and words[0] == b"@sleep":
                    time.sleep(int(words[1]) / 1000)
                    context.append("@sleep " + words[1].decode())
                    continue
                if words and words[0] == b"@resp3":  # HELLO 3 on both (its reply has the client id)
                    pair.both([b"HELLO", b"3"])
                    pair.resp3 = True
                    context.append("@resp3")
                    continue
                context.append(format_argv(words))
                if not tally.check(pair, words, "%s:%d" % (rel, n), context[:-1]):
                    if tally.done():
                        return
                    if not keep_going:  # the rest of this scenario would start from other state
                        break


# --- random mode ----------------------------------------------------------------------------

KEYS = [b"a", b"b", b"c", b"d"]
VALUES = [
    b"0", b"1", b"-1", b"", b"hello", b"a", b"9223372036854775807", b"-9223372036854775808",
    b"9223372036854775808", b"01", b"+1", b" 1", b"-0", b"3.14", b"1e3", b"x" * 20,
    b"1" * 20, b"x" * 44, b"y" * 45, b"\x00\xff\r\n", b"caf\xc3\xa9",
]


# Relative times are far in the future or in the past: a key expiring during the run would expire
# between the two servers' copies of some command and produce a spurious mismatch. Future ones
# are drawn from a wide range: two equal relative times a millisecond apart make GT/LT racy
# (equal times are tested with absolute ones, which are exact).
def rel_seconds(r, past=True):
    if past and r.random() < 0.3:
        return r.choice([b"0", b"-1", b"-100"])
    return b"%d" % r.randint(100, 10**7)


def rel_millis(r, past=True):
    if past and r.random() < 0.3:
        return r.choice([b"0", b"-5"])
    return b"%d" % r.randint(10**5, 10**10)


UNIX_S = [b"1", b"1000000000", b"4102444800"]  # past, past, year 2100
UNIX_MS = [b"1", b"1000000000000", b"4102444800000"]
BAD_TIMES = [
    b"abc", b"", b"1.5", b" 1", b"9223372036854775807", b"9223372036854775",
    b"-9223372036854775808", b"9223372036854775806",
]
PATTERNS = [b"*", b"a", b"?", b"[a-c]", b"[^a]", b"*a*", b"\\a", b"[", b"a*", b"x", b"[b-a]"]
CURSORS = [b"0", b"0", b"0", b"abc", b"-1", b"", b"18446744073709551616"]
AMOUNTS = [b"1", b"-1", b"0", b"100", b"9223372036854775807", b"-9223372036854775808",
           b"-9223372036854775807", b"abc", b"", b"1.5", b" 1", b"01"]
FLOATS = [b"0.1", b"-0.1", b"1.5", b"1e3", b"5.0e3", b"-2.5E-3", b"1e20", b"1e-20", b"3", b"-7",
          b"0", b"-0", b"inf", b"-inf", b"nan", b"abc", b"", b" 1", b"1 ", b"0x10", b"1.1e4932",
          b"123456789.123456789", b".5", b"1.", b"9223372036854775807"]
INDEXES = [b"0", b"1", b"2", b"-1", b"-2", b"5", b"-5", b"100", b"-100", b"9223372036854775807",
           b"-9223372036854775808", b"abc", b""]
# No offset that makes a 512 MB string (536870911 with a value would).
OFFSETS = [b"0", b"1", b"3", b"20", b"100", b"-1", b"abc", b"536870912", b"9223372036854775807"]
FIELDS = [b"f", b"f", b"g", b"h", b"1", b"", b"x" * 70]
HASH_KEYS = [b"a", b"b", b"h", b"h", b"i", b"i"]
# No large negative count: Redis would try to build that many replies and never answer.
RANDFIELD_COUNTS = [b"0", b"1", b"2", b"3", b"5", b"-1", b"-2", b"-5", b"10", b"abc", b"",
                    b"-9223372036854775808", b"9223372036854775807"]
# Replies that differ between the servers for allowed reasons: inside MULTI they would land in
# the EXEC array, where no rule applies.
RACY_IN_MULTI = {b"KEYS", b"SCAN", b"RANDOMKEY", b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME",
                 b"OBJECT", b"DBSIZE", b"MULTI", b"unknown", b"HGETALL", b"HKEYS", b"HVALS",
                 b"HRANDFIELD", b"HSCAN", b"SMEMBERS", b"SINTER", b"SUNION",
                 b"SDIFF", b"SPOP", b"SRANDMEMBER", b"ZRANDMEMBER", b"SSCAN", b"ZSCAN"}
DBS = [b"0", b"0", b"1", b"2", b"15", b"16", b"-1", b"abc", b""]
# List items come from a small pool so LREM, LPOS and LINSERT find matches.
LIST_ITEMS = [b"a", b"b", b"c", b"a", b"1", b"", b"x" * 20, b"\x00\xff"]
LIST_INDEXES = [b"0", b"1", b"2", b"-1", b"-2", b"-3", b"4", b"-5", b"100", b"-100",
                b"9223372036854775807", b"-9223372036854775808", b"abc", b"", b"1.5"]
LIST_COUNTS = [b"0", b"1", b"1", b"2", b"3", b"10", b"-1", b"abc", b"9223372036854775807",
               b"-9223372036854775808"]
# Set and sorted-set members: integers (intset), strings, the empty string, binary. Sorted sets
# get no member over 64 bytes here: a skiplist's answer to a lexicographic range over mixed
# scores depends on its random levels (cases/zsets.txt covers skiplists deterministically).
MEMBERS = [b"a", b"b", b"c", b"d", b"1", b"2", b"3", b"-1", b"10", b"01", b"", b"caf\xc3\xa9",
           b"\x00z"]
SET_MEMBERS = MEMBERS + [b"x" * 70]
SCORES = [b"0", b"1", b"2", b"-1", b"1.5", b"-0", b"3", b"inf", b"-inf", b"+inf", b"1e3",
          b"0.1", b"0x10", b"10", b"2.5e-5"]
BAD_SCORES = [b"abc", b"nan", b"", b" 1", b"1e400"]
SCORE_BOUNDS = [b"-inf", b"+inf", b"0", b"(0", b"1", b"(1", b"1.5", b"(2", b"2", b"abc", b"(",
                b"", b"inf", b"(inf", b"-1", b"nan"]
LEX_BOUNDS = [b"-", b"+", b"[a", b"(a", b"[b", b"(c", b"[1", b"[", b"(", b"a", b"", b"[d", b"(z"]
INDEXES = [b"0", b"1", b"-1", b"2", b"-2", b"3", b"10", b"-10", b"abc", b"9223372036854775807",
           b"-9223372036854775808"]
PICK_COUNTS = [b"0", b"1", b"2", b"3", b"-1", b"-3", b"5", b"100", b"abc", b"-9223372036854775808"]


def generators():
    """{name: (weight, function(rng) -> argv)} over the commands DiskDB implements."""

    def key(r):
        return r.choice(KEYS)

    def keys(r):
        return [key(r) for _ in range(r.randint(1, 4))]

    def t(r, good):  # good: a list, or a function of the generator
        if r.random() < 0.15:
            return r.choice(BAD_TIMES)
        return good(r) if callable(good) else r.choice(good)

    def case(r, word):  # names and options are case-insensitive in Redis
        return bytes(c ^ 0x20 if chr(c).isascii() and chr(c).isalpha() and r.random() < 0.3
                     else c for c in word)

    def set_(r):
        pool = [[b"NX"], [b"XX"], [b"GET"], [b"KEEPTTL"], [b"EX", t(r, lambda r: rel_seconds(r, past=False))],
                [b"PX", t(r, lambda r: rel_millis(r, past=False))], [b"EXAT", t(r, UNIX_S)], [b"PXAT", t(r, UNIX_MS)],
                [b"EX"], [b"FOO"]]
        argv = [b"SET", key(r), r.choice(VALUES)]
        for opt in r.sample(pool, r.choice([0, 0, 1, 1, 1, 2, 2, 3])):
            argv += [case(r, opt[0])] + opt[1:]
        return argv

    def expire(name, good):
        def gen(r):
            argv = [name, key(r), t(r, good)]
            for _ in range(r.choice([0, 0, 1, 1, 2])):
                argv.append(case(r, r.choice([b"NX", b"XX", b"GT", b"LT", b"FOO"])))
            return argv
        return gen

    def scan(r):
        argv = [b"SCAN", r.choice(CURSORS)]
        pool = [[b"MATCH", r.choice(PATTERNS)], [b"COUNT", r.choice([b"1", b"2", b"10", b"0",
                b"-1", b"abc", b"1000"])], [b"TYPE", r.choice([b"string", b"STRING", b"list",
                b"nosuchtype", b"set", b"zset"])], [b"MATCH"], [b"FOO", b"bar"]]
        for opt in r.sample(pool, r.choice([0, 1, 1, 2, 3])):
            argv += [case(r, opt[0])] + opt[1:]
        return argv

    def copy(r):
        argv = [b"COPY", key(r), key(r)]
        pool = [[b"REPLACE"], [b"DB", r.choice(DBS)], [b"DB"], [b"FOO"]]
        for opt in r.sample(pool, r.choice([0, 1, 1, 2])):
            argv += opt
        return argv

    def object_(r):
        sub = r.choice([b"ENCODING", b"ENCODING", b"FREQ", b"IDLETIME", b"REFCOUNT", b"HELP",
                        b"NOPE"])
        return [b"OBJECT", case(r, sub)] + ([] if sub == b"HELP" else [key(r)])

    def flush(name):
        return lambda r: [name] + r.choice([[], [], [b"ASYNC"], [b"sync"], [b"FOO"]])

    def counter(name, amounts):
        return lambda r: [name, key(r)] + ([r.choice(amounts)] if amounts else [])

    def mset(name):
        def gen(r):
            argv = [name]
            for _ in range(r.randint(1, 3)):
                argv += [key(r), r.choice(VALUES)]
            return argv if r.random() < 0.9 else argv + [key(r)]  # odd count: an arity error
        return gen

    def options(r, pool, counts):
        """A sample of option groups from `pool`, their names in random case."""
        argv = []
        for opt in r.sample(pool, r.choice(counts)):
            argv += [case(r, opt[0])] + opt[1:]
        return argv

    def getex(r):
        good = [[b"EX", t(r, rel_seconds)], [b"PX", t(r, rel_millis)], [b"EXAT", t(r, UNIX_S)],
                [b"PXAT", t(r, UNIX_MS)], [b"PERSIST"]]
        argv = [b"GETEX", key(r)] + options(r, good, [0, 1, 1, 1])
        if r.random() < 0.15:  # a second option, a bad one, or one without its argument
            argv += options(r, good + [[b"EX"], [b"KEEPTTL"], [b"FOO"]], [1])
        return argv

    def setex(name, good):
        return lambda r: [name, key(r), t(r, good), r.choice(VALUES)]

    def amount(r):  # a float increment: an edge value or a random one
        if r.random() < 0.6:
            return r.choice(FLOATS)
        return b"%.*f" % (r.randint(0, 20), r.uniform(-1e6, 1e6))

    def lcs(r):
        good = [[b"LEN"], [b"IDX"], [b"IDX"], [b"WITHMATCHLEN"], [b"MINMATCHLEN",
                r.choice([b"0", b"1", b"2", b"-1", b"abc"])]]
        argv = [b"LCS", key(r), key(r)] + options(r, good, [0, 1, 1, 2, 3])
        if r.random() < 0.1:
            argv += r.choice([[b"FOO"], [b"MINMATCHLEN"]])
        return argv

    def hkey(r):  # "h" and "i" only ever hold hashes (or nothing); "a" and "b" anything
        return r.choice(HASH_KEYS)

    def field(r):
        return r.choice(FIELDS)

    def fields(r):
        return [field(r) for _ in range(r.randint(1, 3))]

    def hset(name):
        def gen(r):
            argv = [name, hkey(r)]
            for _ in range(r.randint(1, 3)):
                argv += [field(r), r.choice(VALUES)]
            return argv if r.random() < 0.9 else argv + [field(r)]  # odd count: an arity error
        return gen

    def hrandfield(r):
        argv = [b"HRANDFIELD", hkey(r)]
        if r.random() < 0.7:
            argv.append(r.choice(RANDFIELD_COUNTS))
            if r.random() < 0.5:
                argv.append(case(r, r.choice([b"WITHVALUES", b"WITHVALUES", b"FOO"])))
        return argv

    def hscan(r):
        pool = [[b"MATCH", r.choice(PATTERNS)], [b"COUNT", r.choice([b"1", b"2", b"10", b"0",
                b"-1", b"abc"])], [b"MATCH"], [b"FOO", b"bar"]]
        return [b"HSCAN", hkey(r), r.choice(CURSORS)] + options(r, pool, [0, 1, 1, 2])

    def multi(r):
        """A whole MULTI block, or one of its misuses, as a list of commands."""
        safe = [n for n in gens if n not in RACY_IN_MULTI]
        body = [gens[n][1](r) for n in r.choices(safe, [gens[n][0] for n in safe], k=r.randint(0, 4))]
        if r.random() < 0.1:
            body.insert(r.randint(0, len(body)), r.choice([[b"MULTI"], [b"GET"], [b"NOSUCH"]]))
        end = r.choice([[b"EXEC"]] * 4 + [[b"DISCARD"]])
        if r.random() < 0.05:
            return [r.choice([[b"EXEC"], [b"DISCARD"]])]  # without MULTI
        return [[b"MULTI"]] + body + [end]

    def item(r):
        return r.choice(LIST_ITEMS)

    def push(name):
        return lambda r: [name, key(r)] + [item(r) for _ in range(r.randint(1, 4))]

    def pop(name):
        return lambda r: [name, key(r)] + ([r.choice(LIST_COUNTS)] if r.random() < 0.4 else [])

    def end(r):
        return case(r, r.choice([b"LEFT", b"RIGHT", b"LEFT", b"RIGHT", b"UP"]))

    def lpos(r):
        argv = [b"LPOS", key(r), item(r)]
        pool = [[b"RANK", r.choice([b"1", b"2", b"-1", b"-2", b"0", b"abc",
                                    b"-9223372036854775808"])],
                [b"COUNT", r.choice([b"0", b"1", b"2", b"-1", b"abc"])],
                [b"MAXLEN", r.choice([b"0", b"1", b"3", b"-1", b"abc"])], [b"RANK"], [b"FOO"]]
        for opt in r.sample(pool, r.choice([0, 1, 1, 2, 3])):
            argv += [case(r, opt[0])] + opt[1:]
        return argv

    def lmpop(r):
        n = r.randint(1, 3)
        argv = [b"LMPOP", r.choice([b"%d" % n] * 8 + [b"0", b"-1", b"abc", b"%d" % (n + 1)])]
        argv += [key(r) for _ in range(n)] + [end(r)]
        if r.random() < 0.5:
            argv += [case(r, b"COUNT"), r.choice(LIST_COUNTS)]
        return argv

    def unknown(r):
        return [r.choice([b"NOSUCH", b"", b"x" * 200, b"\x00bin"]), r.choice(VALUES), b"z" * 150]

    def smembers_of(r, pool=SET_MEMBERS):
        return [r.choice(pool) for _ in range(r.randint(1, 4))]

    def numkeys(r, ks):
        """A numkeys argument: usually right, sometimes wrong."""
        roll = r.random()
        if roll < 0.85:
            return b"%d" % len(ks)
        return r.choice([b"0", b"-1", b"abc", b"%d" % (len(ks) + 1), b"1"])

    def sintercard(r):
        ks = keys(r)
        argv = [b"SINTERCARD", numkeys(r, ks)] + ks
        if r.random() < 0.4:
            argv += [case(r, b"LIMIT"), r.choice([b"0", b"1", b"2", b"-1", b"abc"])]
        return argv

    def pick(name):
        def gen(r):
            argv = [name, key(r)]
            if r.random() < 0.7:
                argv.append(r.choice(PICK_COUNTS))
            return argv
        return gen

    def spop(r):
        argv = [b"SPOP", key(r)]
        if r.random() < 0.5:  # counts that keep clear of Redis's rebuild-the-set strategy
            argv.append(r.choice([b"0", b"1", b"2", b"3", b"100", b"-1", b"abc"]))
        return argv

    def elem_scan(name):
        def gen(r):
            argv = [name, key(r), r.choice(CURSORS)]
            pool = [[b"MATCH", r.choice(PATTERNS)], [b"COUNT", r.choice([b"1", b"2", b"10",
                    b"0", b"abc"])], [b"MATCH"], [b"FOO", b"bar"]]
            for opt in r.sample(pool, r.choice([0, 1, 1, 2])):
                argv += [case(r, opt[0])] + opt[1:]
            return argv
        return gen

    def score(r):
        return r.choice(BAD_SCORES) if r.random() < 0.05 else r.choice(SCORES)

    def zadd(r):
        opts = [o for o in [b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"] if r.random() < 0.12]
        pairs = []
        for _ in range(1 if b"INCR" in opts and r.random() < 0.8 else r.randint(1, 3)):
            pairs += [score(r), r.choice(MEMBERS)]
        if r.random() < 0.03:
            pairs.pop()
        return [b"ZADD", key(r)] + [case(r, o) for o in opts] + pairs

    def zrange(name, kind):
        """kind: rank, score, lex, or any (ZRANGE / ZRANGESTORE with BY* options)."""
        def gen(r):
            argv = [name] + ([key(r)] if name == b"ZRANGESTORE" else []) + [key(r)]
            k = kind if kind != "any" else r.choice(["rank", "rank", "score", "lex"])
            pool = {"rank": INDEXES, "score": SCORE_BOUNDS, "lex": LEX_BOUNDS}[k]
            argv += [r.choice(pool), r.choice(pool)]
            if kind == "any" and k != "rank":
                argv.append(case(r, b"BYSCORE" if k == "score" else b"BYLEX"))
            if kind == "any" and r.random() < 0.3:
                argv.append(case(r, b"REV"))
            if r.random() < (0.3 if k != "rank" else 0.05):
                argv += [case(r, b"LIMIT"), r.choice([b"0", b"1", b"2", b"-1"]),
                         r.choice([b"0", b"1", b"2", b"-1", b"10"])]
            if name != b"ZRANGESTORE" and r.random() < (0.4 if k != "lex" else 0.05):
                argv.append(case(r, b"WITHSCORES"))
            return argv
        return gen

    def zbounds(name, pool):
        return lambda r: [name, key(r), r.choice(pool), r.choice(pool)]

    def zpop(name):
        def gen(r):
            argv = [name, key(r)]
            if r.random() < 0.5:
                argv.append(r.choice([b"0", b"1", b"2", b"10", b"-1", b"abc"]))
            return argv
        return gen

    def zmpop(r):
        ks = keys(r)
        argv = [b"ZMPOP", numkeys(r, ks)] + ks + [case(r, r.choice([b"MIN", b"MAX", b"MAX",
                                                                    b"MIN", b"FOO"]))]
        if r.random() < 0.5:
            argv += [case(r, b"COUNT"), r.choice([b"1", b"2", b"10", b"0", b"-1", b"abc"])]
        return argv

    def zsetop(name):
        def gen(r):
            ks = keys(r)
            store = name.endswith(b"STORE")
            argv = [name] + ([key(r)] if store else []) + [numkeys(r, ks)] + ks
            diff = name.startswith(b"ZDIFF")
            card = name == b"ZINTERCARD"
            if not diff and not card and r.random() < 0.3:
                argv += [case(r, b"WEIGHTS")] + [r.choice([b"1", b"2", b"-1", b"0", b"0.5", b"inf",
                                                           b"abc"]) for _ in ks]
            if not diff and not card and r.random() < 0.3:
                argv += [case(r, b"AGGREGATE"), case(r, r.choice([b"SUM", b"MIN", b"MAX", b"AVG"]))]
            if card and r.random() < 0.4:
                argv += [case(r, b"LIMIT"), r.choice([b"0", b"1", b"2", b"-1"])]
            if not store and not card and r.random() < 0.5:
                argv.append(case(r, b"WITHSCORES"))
            return argv
        return gen

    def zrandmember(r):
        argv = [b"ZRANDMEMBER", key(r)]
        if r.random() < 0.7:
            argv.append(r.choice(PICK_COUNTS))
            if r.random() < 0.4:
                argv.append(case(r, b"WITHSCORES"))
        return argv

    one = lambda name: (lambda r: [name, key(r)])  # noqa: E731
    hone = lambda name: (lambda r: [name, hkey(r)])  # noqa: E731
    many = lambda name: (lambda r: [name] + keys(r))  # noqa: E731
    scripts = [
        b"return redis.call('GET', KEYS[1])",
        b"return redis.call('INCR', KEYS[1])",
        b"return redis.pcall('INCR', KEYS[1])",
        b"return redis.call('SET', KEYS[1], ARGV[1])",
        b"return redis.call('LPUSH', KEYS[1], ARGV[1])",
        b"return redis.call('LRANGE', KEYS[1], 0, -1)",
        b"return redis.call('TYPE', KEYS[1])",
        b"return redis.call('EXISTS', KEYS[1])",
        b"return redis.call('DEL', KEYS[1])",
        b"return redis.call('ZADD', KEYS[1], 1, ARGV[1])",
        b"return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')",
        b"return redis.call('SADD', KEYS[1], ARGV[1])",
        b"return redis.call('SCARD', KEYS[1])",
        b"return redis.call('HSET', KEYS[1], 'f', ARGV[1])",
        b"return redis.call('HGET', KEYS[1], 'f')",
        b"return {KEYS[1], ARGV[1], 1.5, true, false, 7}",
        b"return redis.status_reply('FINE')",
        b"return redis.error_reply('custom failure')",
        b"return redis.call('NOSUCH', KEYS[1])",
        b"return nosuchglobal",
        b"redis.setresp(3); return redis.call('ZSCORE', KEYS[1], ARGV[1])",
        b"redis.setresp(3); return redis.call('GET', KEYS[1])",
        b"local v = redis.call('GET', KEYS[1]); if v then return redis.call('APPEND', KEYS[1], ARGV[1]) end return 0",
        b"return tonumber(ARGV[1])",
        b"return cjson.encode({KEYS[1], ARGV[1]})",
    ]

    def eval_(name):
        def gen(r):
            numkeys = r.choice([b"1", b"1", b"1", b"1", b"2", b"0", b"-1", b"x", b"5"])
            argv = [name, r.choice(scripts), numkeys, key(r)]
            if numkeys == b"2":
                argv.append(key(r))
            argv.append(r.choice(VALUES))
            return argv
        return gen

    gens = {
        b"SET": (30, set_),
        b"GET": (12, one(b"GET")),
        b"DEL": (4, many(b"DEL")),
        b"UNLINK": (2, many(b"UNLINK")),
        b"EXISTS": (6, many(b"EXISTS")),
        b"TOUCH": (2, many(b"TOUCH")),
        b"TYPE": (4, one(b"TYPE")),
        b"RENAME": (4, lambda r: [b"RENAME", key(r), key(r)]),
        b"RENAMENX": (3, lambda r: [b"RENAMENX", key(r), key(r)]),
        b"KEYS": (4, lambda r: [b"KEYS", r.choice(PATTERNS)]),
        b"SCAN": (4, scan),
        b"RANDOMKEY": (2, lambda r: [b"RANDOMKEY"]),
        b"DBSIZE": (3, lambda r: [b"DBSIZE"]),
        b"FLUSHDB": (0.3, flush(b"FLUSHDB")),
        b"FLUSHALL": (0.2, flush(b"FLUSHALL")),
        b"SELECT": (4, lambda r: [b"SELECT", r.choice(DBS)]),
        b"SWAPDB": (1, lambda r: [b"SWAPDB", r.choice(DBS), r.choice(DBS)]),
        b"MOVE": (3, lambda r: [b"MOVE", key(r), r.choice(DBS)]),
        b"COPY": (4, copy),
        b"OBJECT": (4, object_),
        b"EXPIRE": (5, expire(b"EXPIRE", rel_seconds)),
        b"PEXPIRE": (3, expire(b"PEXPIRE", rel_millis)),
        b"EXPIREAT": (3, expire(b"EXPIREAT", UNIX_S)),
        b"PEXPIREAT": (3, expire(b"PEXPIREAT", UNIX_MS)),
        b"TTL": (4, one(b"TTL")),
        b"PTTL": (3, one(b"PTTL")),
        b"EXPIRETIME": (2, one(b"EXPIRETIME")),
        b"PEXPIRETIME": (2, one(b"PEXPIRETIME")),
        b"PERSIST": (3, one(b"PERSIST")),
        b"PING": (1, lambda r: [b"PING"] + r.sample([b"hi", b""], r.randint(0, 1))),
        b"ECHO": (1, lambda r: [b"ECHO", r.choice(VALUES)]),
        b"INCR": (3, counter(b"INCR", None)),
        b"DECR": (2, counter(b"DECR", None)),
        b"INCRBY": (3, counter(b"INCRBY", AMOUNTS)),
        b"DECRBY": (2, counter(b"DECRBY", AMOUNTS)),
        b"APPEND": (4, lambda r: [b"APPEND", key(r), r.choice(VALUES)]),
        b"STRLEN": (3, one(b"STRLEN")),
        b"MGET": (3, many(b"MGET")),
        b"MSET": (3, mset(b"MSET")),
        b"MSETNX": (2, mset(b"MSETNX")),
        b"SETNX": (2, lambda r: [b"SETNX", key(r), r.choice(VALUES)]),
        b"SETEX": (2, setex(b"SETEX", rel_seconds)),
        b"PSETEX": (2, setex(b"PSETEX", rel_millis)),
        b"GETSET": (2, lambda r: [b"GETSET", key(r), r.choice(VALUES)]),
        b"GETDEL": (2, one(b"GETDEL")),
        b"EVAL": (4, eval_(b"EVAL")),
        b"EVAL_RO": (1, eval_(b"EVAL_RO")),
        b"GETEX": (4, getex),
        b"INCRBYFLOAT": (5, lambda r: [b"INCRBYFLOAT", key(r), amount(r)]),
        b"GETRANGE": (3, lambda r: [b"GETRANGE", key(r), r.choice(INDEXES), r.choice(INDEXES)]),
        b"SUBSTR": (1, lambda r: [b"SUBSTR", key(r), r.choice(INDEXES), r.choice(INDEXES)]),
        b"SETRANGE": (3, lambda r: [b"SETRANGE", key(r), r.choice(OFFSETS), r.choice(VALUES)]),
        b"LCS": (2, lcs),
        b"HSET": (10, hset(b"HSET")),
        b"HMSET": (2, hset(b"HMSET")),
        b"HSETNX": (2, lambda r: [b"HSETNX", hkey(r), field(r), r.choice(VALUES)]),
        b"HGET": (5, lambda r: [b"HGET", hkey(r), field(r)]),
        b"HMGET": (3, lambda r: [b"HMGET", hkey(r)] + fields(r)),
        b"HDEL": (4, lambda r: [b"HDEL", hkey(r)] + fields(r)),
        b"HLEN": (2, hone(b"HLEN")),
        b"HSTRLEN": (2, lambda r: [b"HSTRLEN", hkey(r), field(r)]),
        b"HEXISTS": (2, lambda r: [b"HEXISTS", hkey(r), field(r)]),
        b"HKEYS": (2, hone(b"HKEYS")),
        b"HVALS": (2, hone(b"HVALS")),
        b"HGETALL": (3, hone(b"HGETALL")),
        b"HINCRBY": (3, lambda r: [b"HINCRBY", hkey(r), field(r), r.choice(AMOUNTS)]),
        b"HINCRBYFLOAT": (4, lambda r: [b"HINCRBYFLOAT", hkey(r), field(r), amount(r)]),
        b"HRANDFIELD": (3, hrandfield),
        b"HSCAN": (3, hscan),
        b"unknown": (1, unknown),
        b"LPUSH": (8, push(b"LPUSH")),
        b"RPUSH": (8, push(b"RPUSH")),
        b"LPUSHX": (2, push(b"LPUSHX")),
        b"RPUSHX": (2, push(b"RPUSHX")),
        b"LPOP": (5, pop(b"LPOP")),
        b"RPOP": (5, pop(b"RPOP")),
        b"LLEN": (3, one(b"LLEN")),
        b"LRANGE": (6, lambda r: [b"LRANGE", key(r), r.choice(LIST_INDEXES),
                                  r.choice(LIST_INDEXES)]),
        b"LINDEX": (4, lambda r: [b"LINDEX", key(r), r.choice(LIST_INDEXES)]),
        b"LSET": (3, lambda r: [b"LSET", key(r), r.choice(LIST_INDEXES), item(r)]),
        b"LINSERT": (4, lambda r: [b"LINSERT", key(r), case(r, r.choice([b"BEFORE", b"AFTER",
                                   b"BEFORE", b"AFTER", b"MIDDLE"])), item(r), item(r)]),
        b"LREM": (3, lambda r: [b"LREM", key(r), r.choice(LIST_COUNTS + [b"-2"]), item(r)]),
        b"LTRIM": (2, lambda r: [b"LTRIM", key(r), r.choice(LIST_INDEXES),
                                 r.choice(LIST_INDEXES)]),
        b"LPOS": (4, lpos),
        b"LMOVE": (4, lambda r: [b"LMOVE", key(r), key(r), end(r), end(r)]),
        b"RPOPLPUSH": (2, lambda r: [b"RPOPLPUSH", key(r), key(r)]),
        b"LMPOP": (3, lmpop),
        # Sets.
        b"SADD": (12, lambda r: [b"SADD", key(r)] + smembers_of(r)),
        b"SREM": (5, lambda r: [b"SREM", key(r)] + smembers_of(r)),
        b"SMEMBERS": (3, one(b"SMEMBERS")),
        b"SISMEMBER": (3, lambda r: [b"SISMEMBER", key(r), r.choice(SET_MEMBERS)]),
        b"SMISMEMBER": (2, lambda r: [b"SMISMEMBER", key(r)] + smembers_of(r)),
        b"SCARD": (3, one(b"SCARD")),
        b"SPOP": (3, spop),
        b"SRANDMEMBER": (3, pick(b"SRANDMEMBER")),
        b"SMOVE": (3, lambda r: [b"SMOVE", key(r), key(r), r.choice(SET_MEMBERS)]),
        b"SINTER": (2, many(b"SINTER")),
        b"SUNION": (2, many(b"SUNION")),
        b"SDIFF": (2, many(b"SDIFF")),
        b"SINTERSTORE": (2, lambda r: [b"SINTERSTORE", key(r)] + keys(r)),
        b"SUNIONSTORE": (2, lambda r: [b"SUNIONSTORE", key(r)] + keys(r)),
        b"SDIFFSTORE": (2, lambda r: [b"SDIFFSTORE", key(r)] + keys(r)),
        b"SINTERCARD": (2, sintercard),
        b"SSCAN": (2, elem_scan(b"SSCAN")),
        # Sorted sets.
        b"ZADD": (16, zadd),
        b"ZINCRBY": (3, lambda r: [b"ZINCRBY", key(r), score(r), r.choice(MEMBERS)]),
        b"ZREM": (4, lambda r: [b"ZREM", key(r)] + smembers_of(r, MEMBERS)),
        b"ZCARD": (3, one(b"ZCARD")),
        b"ZSCORE": (3, lambda r: [b"ZSCORE", key(r), r.choice(MEMBERS)]),
        b"ZMSCORE": (2, lambda r: [b"ZMSCORE", key(r)] + smembers_of(r, MEMBERS)),
        b"ZRANK": (2, lambda r: [b"ZRANK", key(r), r.choice(MEMBERS)]),
        b"ZREVRANK": (2, lambda r: [b"ZREVRANK", key(r), r.choice(MEMBERS)]),
        b"ZCOUNT": (2, zbounds(b"ZCOUNT", SCORE_BOUNDS)),
        b"ZLEXCOUNT": (2, zbounds(b"ZLEXCOUNT", LEX_BOUNDS)),
        b"ZRANGE": (6, zrange(b"ZRANGE", "any")),
        b"ZRANGESTORE": (2, zrange(b"ZRANGESTORE", "any")),
        b"ZREVRANGE": (2, zrange(b"ZREVRANGE", "rank")),
        b"ZRANGEBYSCORE": (3, zrange(b"ZRANGEBYSCORE", "score")),
        b"ZREVRANGEBYSCORE": (2, zrange(b"ZREVRANGEBYSCORE", "score")),
        b"ZRANGEBYLEX": (2, zrange(b"ZRANGEBYLEX", "lex")),
        b"ZREVRANGEBYLEX": (2, zrange(b"ZREVRANGEBYLEX", "lex")),
        b"ZPOPMIN": (2, zpop(b"ZPOPMIN")),
        b"ZPOPMAX": (2, zpop(b"ZPOPMAX")),
        b"ZMPOP": (2, zmpop),
        b"ZREMRANGEBYRANK": (1, zbounds(b"ZREMRANGEBYRANK", INDEXES)),
        b"ZREMRANGEBYSCORE": (1, zbounds(b"ZREMRANGEBYSCORE", SCORE_BOUNDS)),
        b"ZREMRANGEBYLEX": (1, zbounds(b"ZREMRANGEBYLEX", LEX_BOUNDS)),
        b"ZUNION": (2, zsetop(b"ZUNION")),
        b"ZINTER": (2, zsetop(b"ZINTER")),
        b"ZDIFF": (2, zsetop(b"ZDIFF")),
        b"ZUNIONSTORE": (2, zsetop(b"ZUNIONSTORE")),
        b"ZINTERSTORE": (2, zsetop(b"ZINTERSTORE")),
        b"ZDIFFSTORE": (2, zsetop(b"ZDIFFSTORE")),
        b"ZINTERCARD": (2, zsetop(b"ZINTERCARD")),
        b"ZRANDMEMBER": (2, zrandmember),
        b"ZSCAN": (2, elem_scan(b"ZSCAN")),
    }
    gens[b"MULTI"] = (2, multi)  # added last: it draws its body from the others
    return gens, case


def random_commands(seed, count):
    """A reproducible command list; it does not depend on the replies."""
    r = random.Random(seed)
    gens, case = generators()
    names = list(gens)
    weights = [gens[n][0] for n in names]
    out = []
    while len(out) < count:
        name = r.choices(names, weights)[0]
        block = gens[name][1](r)
        for argv in block if name == b"MULTI" else [block]:
            roll = r.random()
            if argv[0] in (b"MULTI", b"EXEC", b"DISCARD"):
                pass  # a block's frame stays intact (its misuses are generated on purpose)
            elif roll < 0.03 and len(argv) > 1:  # too few arguments
                argv = argv[: r.randrange(1, len(argv))]
            elif roll < 0.05:  # one too many
                argv = argv + [b"extra"]
            argv[0] = case(r, argv[0])
            out.append(argv)
    return out[:count]


def run_random(pair, seed, count, tally):
    history = []
    for i, argv in enumerate(random_commands(seed, count)):
        history.append(format_argv(argv))
        if not tally.check(pair, argv, "seed %d, command %d" % (seed, i + 1), history[-16:-1]):
            if tally.done():
                return
            pair.reset()  # start both from the same (empty) state again
            history.append("(FLUSHALL, SELECT 0: state reset after the mismatch)")


# --- main -----------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--redis", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    ap.add_argument("--diskdb", default=os.path.join(target, "release", "diskdb-server"))
    ap.add_argument("--deviations", default=os.path.join(HERE, "deviations.json"))
    ap.add_argument("--verbose", action="store_true", help="print every command and Redis's reply")
    ap.add_argument("--max-failures", type=int, default=50, help="stop after this many (0: never)")
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("cases")
    c.add_argument("files", nargs="*")
    c.add_argument("--keep-going", action="store_true",
                   help="continue a scenario after a mismatch instead of skipping to the next")
    rnd = sub.add_parser("random")
    rnd.add_argument("--seed", type=int, required=True)
    rnd.add_argument("--count", type=int, default=1000)
    rnd.add_argument("--dump", action="store_true", help="print the commands; run nothing")
    args = ap.parse_args()

    if args.mode == "random" and args.dump:
        for argv in random_commands(args.seed, args.count):
            print(format_argv(argv))
        return 0

    deviations = load_deviations(args.deviations)
    # SIGTERM (e.g. a CI timeout) must still run the finally below, which stops both servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = tempfile.mkdtemp(prefix="diskdb-compat-")
    started = []
    try:
        redis, diskdb = start_servers(workdir, args.redis, args.diskdb, started)
        pair = Pair(redis.port, diskdb.port, deviations)
        tally = Tally(args.max_failures, args.verbose)
        if args.mode == "cases":
            files = args.files or sorted(glob.glob(os.path.join(HERE, "cases", "*.txt")))
            run_cases(pair, files, tally, args.keep_going)
        else:
            pair.reset()
            run_random(pair, args.seed, args.count, tally)
        return tally.close()
    finally:
        for server in started:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
