#!/usr/bin/env python3
"""Compare diskdb-server with redis-server using redis-benchmark.

For each durability pairing both servers are started on free loopback ports in fresh temp dirs,
then every (test, client config) is run R rounds, alternating DiskDB and Redis so that machine
noise hits both alike; the median of the rounds is reported as a markdown table.

    cargo build --release -p diskdb-server
    python3 benches/compare.py --pairings always --tests set,get --rounds 3 --memory
    python3 benches/compare.py --pairings always --keys 2850000 --value-size 100   # scale mode

Scale mode (--keys N): both servers first get the same N keys ("key:%012d", --value-size bytes,
loaded with redis-cli --pipe); then each scale test runs over that keyspace (-r N), alternating
the servers, and the table gives ops/s, p50 / p99 / p99.9 / max latency, and RSS and disk bytes
per key after the load and after the tests.

Standard library only (Python 3.11). Progress goes to stderr, tables to stdout (and --out).
"""

import argparse
import csv
import datetime
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
KEYSPACE = 100_000  # redis-benchmark -r: keys are "key:%012d" % rand(0..KEYSPACE)

PAIRINGS = {
    "always": (["--durability", "always"], ["--appendonly", "yes", "--appendfsync", "always"]),
    "everysec": (["--durability", "everysec"], ["--appendonly", "yes", "--appendfsync", "everysec"]),
    "no": (["--durability", "no"], ["--appendonly", "no"]),
}
CONFIGS = {"c1": ["-c", "1"], "c50": ["-c", "50"], "c50p16": ["-c", "50", "-P", "16"]}
CONFIG_LABEL = {"c1": "1", "c50": "50", "c50p16": "50, -P 16"}
ALL_TESTS = "set,get,incr,lpush,rpop,sadd,hset,zadd,lrange_100,mset"

# One command per test, as redis-benchmark sends it: tried once with redis-cli before the
# benchmark, because a command DiskDB lacks would otherwise only show up as a failed run.
PROBES = {
    "set": [["SET", "key:probe", "xxx"]],
    "get": [["GET", "key:probe"]],
    "incr": [["INCR", "counter:probe"]],
    "lpush": [["LPUSH", "mylist", "xxx"]],
    "rpop": [["RPOP", "mylist"]],
    "sadd": [["SADD", "myset", "element:probe"]],
    "hset": [["HSET", "myhash", "element:probe", "xxx"]],
    "zadd": [["ZADD", "myzset", "0", "element:probe"]],
    "lrange_100": [["LPUSH", "mylist", "xxx"], ["LRANGE", "mylist", "0", "99"]],
    "mset": [["MSET", "key:probe1", "xxx", "key:probe2", "xxx"]],
}


# Scale mode: redis-benchmark arguments per test. Collections spread over N keys, as an
# application's hashes, sorted sets and lists are, rather than one big collection.
SCALE_TESTS = {
    "set": ["-t", "set"],
    "get": ["-t", "get"],
    "incr": ["INCR", "counter:__rand_int__"],  # the loaded values are not numbers
    "hset": ["HSET", "hash:__rand_int__", "f", "v"],
    "zadd": ["ZADD", "zset:__rand_int__", "1", "m"],
    "lpush": ["LPUSH", "list:__rand_int__", "v"],
}
SCALE_ALL = ",".join(SCALE_TESTS)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def resp(argv):
    """Encode one command in RESP, for redis-cli --pipe."""
    out = [b"*%d\r\n" % len(argv)]
    for a in argv:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(port, *args, timeout=120):
    r = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                       timeout=timeout)
    return r.stdout.strip()


def is_error(reply):
    # redis-cli prints an error reply as "ERR ..." (or "(error) ERR ..." on a tty); none of the
    # probes' normal replies (OK, integers, "xxx", nil) starts with an upper-case word and a space.
    return bool(re.match(r"(\(error\) )?[A-Z]+ ", reply))


def pipe(port, commands):
    """Send many commands fast through redis-cli --pipe (exact keys, unlike random -r)."""
    data = b"".join(resp(c) for c in commands)
    t0 = time.monotonic()
    r = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=data, capture_output=True,
                       timeout=1800)
    if r.returncode != 0 or b"errors: 0," not in r.stdout:
        raise RuntimeError(f"redis-cli --pipe failed on port {port}: {r.stdout[-300:]!r}")
    return time.monotonic() - t0  # the server's part only: encoding above is excluded


class Server:
    def __init__(self, name, argv_for, workdir):
        self.name, self.port = name, free_port()
        self.dir = workdir / name.lower()  # the data dir, measured by --memory: nothing else in it
        self.dir.mkdir()
        self.logpath = workdir / f"{name.lower()}.log"
        argv = argv_for(self.port, self.dir)
        # Own session: Ctrl-C reaches only this script, which then stops the servers in order.
        self.proc = subprocess.Popen(argv, stdout=open(self.logpath, "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            self.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer PING on port {self.port}")
            time.sleep(0.05)

    def check_alive(self):
        if self.proc.poll() is not None:
            tail = self.logpath.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")

    def rss_bytes(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def disk_bytes(self):
        # Apparent sizes: DiskDB's write-ahead log is preallocated, so it counts in full.
        return sum(p.stat().st_size for p in self.dir.rglob("*") if p.is_file())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # both shut down gracefully on SIGTERM
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_pair(pairing, args, workdir):
    dflags, rflags = PAIRINGS[pairing]
    dflags = [*dflags, *args.diskdb_args.split()]
    servers = []
    try:
        servers.append(Server("DiskDB", lambda port, d: [
            args.diskdb, "--port", str(port), "--dir", str(d), "--loglevel", "warn", *dflags],
            workdir))
        servers.append(Server("Redis", lambda port, d: [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
            "--save", "", *rflags], workdir))
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return servers


def prepare(server, test, requests):
    """Flush, then fill what the test reads, so both servers start each run from the same data."""
    cli(server.port, "FLUSHALL")
    if test == "get":  # GET on an empty keyspace would only measure misses
        pipe(server.port, (["SET", "key:%012d" % i, "xxx"] for i in range(KEYSPACE)))
    elif test == "rpop":  # one element per request, so every RPOP pops something
        pipe(server.port, (["LPUSH", "mylist", "xxx"] for _ in range(requests)))


def probe(server, test):
    """None if the test's commands work on this server, else the first error reply."""
    cli(server.port, "FLUSHALL")
    for cmd in PROBES.get(test, []):
        reply = cli(server.port, *cmd)
        if is_error(reply):
            return reply.splitlines()[0]
    return None


def bench(server, test, config, requests):
    """One redis-benchmark run: (ops/s, p50 ms, p99 ms), or a string saying why it failed."""
    server.check_alive()
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-t", test,
            "-n", str(requests), *CONFIGS[config], "--csv", "-r", str(KEYSPACE)]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return "n/a (timeout)"
    # redis-benchmark 7 exits at the first error reply ("Error from server: ...").
    if r.returncode != 0 or "Error from server" in r.stderr + r.stdout:
        log(f"    {server.name} {test}: {(r.stderr or r.stdout).strip()[-300:]}")
        return "n/a (errors)"
    rows = [row for row in csv.reader(r.stdout.splitlines()) if row and row[0] != "test"]
    if not rows:
        return "n/a (no output)"
    # The last row is the test itself: lrange_100 is preceded by "LPUSH (needed to benchmark LRANGE)".
    row = rows[-1]
    return float(row[1]), float(row[4]), float(row[6])


def median_result(results):
    failed = [r for r in results if isinstance(r, str)]
    if failed:
        return failed[0]
    return tuple(statistics.median(r[i] for r in results) for i in range(3))


def run_pairing(pairing, args, workdir):
    servers = start_pair(pairing, args, workdir)
    rows = []
    try:
        for test in args.tests:
            broken = {s.name: probe(s, test) for s in servers}
            for s in servers:
                if broken[s.name]:
                    log(f"[{pairing}] {test}: {s.name} replies {broken[s.name]!r}, skipped")
            for config in args.configs:
                n = args.requests_c1 if config == "c1" else args.requests
                results = {s.name: [] for s in servers}
                for rnd in range(args.rounds):
                    for s in servers:  # alternating: DiskDB, Redis, DiskDB, Redis, ...
                        if broken[s.name]:
                            results[s.name].append("n/a (errors)")
                            continue
                        prepare(s, test, n)
                        res = bench(s, test, config, n)
                        results[s.name].append(res)
                        shown = res if isinstance(res, str) else f"{res[0]:,.0f} ops/s"
                        log(f"[{pairing}] {test} {config} n={n} round {rnd + 1}/{args.rounds} "
                            f"{s.name}: {shown}")
                rows.append((test, config, median_result(results["DiskDB"]),
                             median_result(results["Redis"])))
    finally:
        for s in servers:
            s.stop()
    return rows


def run_memory(pairing, args, workdir, keys=1_000_000):
    """Load `keys` exact keys (16-byte values) into fresh servers; report RSS and disk use."""
    servers = start_pair(pairing, args, workdir)
    rows = []
    try:
        value = b"v" * 16
        for s in servers:
            empty = s.rss_bytes()
            log(f"[{pairing}] memory: loading {keys:,} keys into {s.name}")
            secs = pipe(s.port, (["SET", b"key:%012d" % i, value] for i in range(keys)))
            time.sleep(2.5)  # let everysec fsyncs and DiskDB's 1 s checkpoint settle the files
            dbsize = int(cli(s.port, "DBSIZE"))
            rss = s.rss_bytes()
            has_disk = not (s.name == "Redis" and pairing == "no")  # no AOF, no RDB: nothing
            disk = s.disk_bytes() if has_disk else None
            files = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB"
                              for p in sorted(s.dir.rglob("*")) if p.is_file()) or "none"
            rows.append((s.name, dbsize, empty, rss, disk, files, secs))
    finally:
        for s in servers:
            s.stop()
    return rows


def scale_bench(server, test, config, args):
    """One scale run: (ops/s, p50, p99, p99.9, max ms) or why it failed."""
    server.check_alive()
    spec = SCALE_TESTS[test]
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-n",
            str(args.scale_requests), *CONFIGS[config], "-r", str(args.keys),
            "-d", str(args.value_size)]
    argv += spec
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        return "n/a (timeout)"
    out = (r.stdout + r.stderr).replace("\r", "\n")
    if r.returncode != 0 or "Error from server" in out:
        log(f"    {server.name} {test}: {out.strip()[-300:]}")
        return "n/a (errors)"
    ops = re.search(r"throughput summary: ([0-9.]+) requests per second", out)
    summary = re.search(r"latency summary \(msec\):\s+avg\s+min\s+p50\s+p95\s+p99\s+max\s+"
                        r"([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)",
                        out)
    if not ops or not summary:
        return "n/a (no output)"
    p999 = None
    for m in re.finditer(r"([0-9.]+)% <= ([0-9.]+) milliseconds", out):
        if float(m.group(1)) >= 99.9:
            p999 = float(m.group(2))
            break
    _, _, p50, _, p99, mx = (float(x) for x in summary.groups())
    return float(ops.group(1)), p50, p99, p999 if p999 is not None else mx, mx


def run_scale(pairing, args, workdir):
    """Loads args.keys keys into both servers, then runs the scale tests over them."""
    servers = start_pair(pairing, args, workdir)
    rows, usage, empties = [], [], {}
    try:
        value = b"v" * args.value_size
        for s in servers:
            empty = empties[s.name] = s.rss_bytes()
            log(f"[{pairing}] scale: loading {args.keys:,} keys of {args.value_size} bytes "
                f"into {s.name}")
            secs = pipe(s.port, (["SET", b"key:%012d" % i, value] for i in range(args.keys)))
            time.sleep(2.5)
            usage.append((s.name, "after load", int(cli(s.port, "DBSIZE")), empty,
                          s.rss_bytes(), s.disk_bytes(), secs))
        for test in args.scale_tests:
            for config in args.configs:
                if config == "c1":
                    continue
                results = {}
                for s in servers:  # alternating, DiskDB first
                    res = scale_bench(s, test, config, args)
                    results[s.name] = res
                    shown = res if isinstance(res, str) else (
                        f"{res[0]:,.0f} ops/s, max {res[4]:.1f} ms")
                    log(f"[{pairing}] scale {test} {config} {s.name}: {shown}")
                rows.append((test, config, results["DiskDB"], results["Redis"]))
        time.sleep(2.5)
        for s in servers:
            usage.append((s.name, "after the tests", int(cli(s.port, "DBSIZE")), empties[s.name],
                          s.rss_bytes(), s.disk_bytes(), None))
    finally:
        for s in servers:
            s.stop()
    return rows, usage


def scale_table(pairing, rows, usage, args):
    dflags, rflags = PAIRINGS[pairing]
    dflags = [*dflags, *args.diskdb_args.split()]
    out = [f"### Scale, durability `{pairing}`: {args.keys:,} keys of {args.value_size} bytes, "
           f"`diskdb-server {' '.join(dflags)}` vs `redis-server --save '' {' '.join(rflags)}`",
           "",
           f"{args.scale_requests:,} requests per run over the loaded keyspace (-r {args.keys:,}); "
           "one run each, alternating. Latencies in ms.", "",
           "| test | clients | DiskDB ops/s | Redis ops/s | ratio | DiskDB p50 / p99 / p99.9 / max "
           "| Redis p50 / p99 / p99.9 / max |",
           "|---|---|---:|---:|---:|---:|---:|"]
    lat = lambda r: "n/a" if isinstance(r, str) else " / ".join(f"{x:.2f}" for x in r[1:])
    for test, config, d, r in rows:
        ratio = "n/a" if isinstance(d, str) or isinstance(r, str) else f"{d[0] / r[0]:.2f}"
        out.append(f"| {test} | {CONFIG_LABEL[config]} | {fmt_ops(d)} | {fmt_ops(r)} | {ratio} "
                   f"| {lat(d)} | {lat(r)} |")
    out += ["", "| server | when | keys | RSS MB | RSS bytes/key | disk MB | disk bytes/key | load s |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, when, keys, empty, rss, disk, secs in usage:
        per = (rss - empty) / keys if keys else 0
        load = "" if secs is None else f"{secs:.1f}"
        out.append(f"| {name} | {when} | {keys:,} | {rss / 1e6:.1f} | {per:.0f} | {disk / 1e6:.1f} "
                   f"| {disk / max(keys, 1):.0f} | {load} |")
    return "\n".join(out)


def machine_line(diskdb):
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                  if l.startswith("model name")), platform.processor() or "unknown CPU")
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    redis = subprocess.run(["redis-server", "--version"], capture_output=True,
                           text=True).stdout.split()[2].removeprefix("v=")
    # The tree's commit need not be what the binary was built from: give the build time too.
    built = datetime.datetime.fromtimestamp(os.path.getmtime(diskdb)).strftime("%Y-%m-%d %H:%M")
    return (f"Machine: {os.cpu_count()} × {model}, Linux {platform.release()}; "
            f"{datetime.date.today().isoformat()}; DiskDB {commit or '?'} (binary built {built}), "
            f"Redis {redis}")


def fmt_ops(r):
    return r if isinstance(r, str) else f"{r[0]:,.0f}"


def fmt_lat(r):
    return "n/a" if isinstance(r, str) else f"{r[1]:.3f} / {r[2]:.3f}"


def bench_table(pairing, rows, args):
    dflags, rflags = PAIRINGS[pairing]
    out = [f"### Durability `{pairing}`: `diskdb-server {' '.join(dflags)}` vs "
           f"`redis-server --save '' {' '.join(rflags)}`", "",
           f"{args.requests:,} requests ({args.requests_c1:,} with 1 client), -r {KEYSPACE:,}, "
           f"median of {args.rounds} round(s).", "",
           "| test | clients | DiskDB ops/s | Redis ops/s | ratio DiskDB/Redis "
           "| DiskDB p50 / p99 ms | Redis p50 / p99 ms |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for test, config, d, r in rows:
        ratio = "n/a" if isinstance(d, str) or isinstance(r, str) else f"{d[0] / r[0]:.2f}"
        out.append(f"| {test} | {CONFIG_LABEL[config]} | {fmt_ops(d)} | {fmt_ops(r)} | {ratio} "
                   f"| {fmt_lat(d)} | {fmt_lat(r)} |")
    return "\n".join(out)


def memory_table(mem):
    out = ["### Memory and disk, 1,000,000 keys (SET key:%012d, 16-byte values)", "",
           "| pairing | server | keys | RSS empty → loaded MB | RSS bytes/key | on-disk MB "
           "| disk bytes/key | files | load s |",
           "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for pairing, rows in mem:
        for name, keys, empty, rss, disk, files, secs in rows:
            d_mb = "n/a" if disk is None else f"{disk / 1e6:.1f}"
            d_key = "n/a" if disk is None else f"{disk / keys:.0f}"
            out.append(f"| {pairing} | {name} | {keys:,} | {empty / 1e6:.1f} → {rss / 1e6:.1f} "
                       f"| {(rss - empty) / keys:.0f} | {d_mb} | {d_key} | {files} | {secs:.1f} |")
    return "\n".join(out)


def csv_list(choices):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if choices is not None and t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {sorted(choices)}")
        return items
    return parse


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairings", type=csv_list(PAIRINGS), default=["always", "everysec", "no"])
    p.add_argument("--tests", type=csv_list(None), default=ALL_TESTS.split(","),
                   help=f"redis-benchmark -t names (default {ALL_TESTS})")
    p.add_argument("--configs", type=csv_list(CONFIGS), default=list(CONFIGS),
                   help="c1 = -c 1, c50 = -c 50, c50p16 = -c 50 -P 16")
    p.add_argument("--requests", type=int, default=100_000)
    p.add_argument("--requests-c1", type=int, help="requests with one client (default N/5)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--diskdb", default=str(TARGET / "release" / "diskdb-server"))
    p.add_argument("--memory", action="store_true", help="also load 1M keys, report RSS and disk")
    p.add_argument("--out", help="also write the markdown to this file")
    p.add_argument("--keys", type=int, help="scale mode: load this many keys first (see above)")
    p.add_argument("--value-size", type=int, default=100, help="scale mode: value bytes")
    p.add_argument("--scale-tests", type=csv_list(SCALE_TESTS), default=SCALE_ALL.split(","))
    p.add_argument("--scale-requests", type=int, default=500_000)
    p.add_argument("--diskdb-args", default="", help="extra diskdb-server flags, e.g. "
                   "'--cache-size 16mb'")
    args = p.parse_args()
    args.requests_c1 = args.requests_c1 or max(1, args.requests // 5)
    if not os.access(args.diskdb, os.X_OK):
        sys.exit(f"{args.diskdb} not found: cargo build --release -p diskdb-server")
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install redis-server redis-tools)")

    # SIGTERM becomes an exception, so the finally blocks stop the servers and remove temp dirs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parts = [machine_line(args.diskdb)]
    print(parts[0] + "\n", flush=True)
    mem = []
    started = time.monotonic()
    for pairing in args.pairings:
        if args.keys:
            with tempfile.TemporaryDirectory(prefix=f"diskdb-scale-{pairing}-") as tmp:
                rows, usage = run_scale(pairing, args, Path(tmp))
            parts.append(scale_table(pairing, rows, usage, args))
            print(parts[-1] + "\n", flush=True)
            continue
        with tempfile.TemporaryDirectory(prefix=f"diskdb-compare-{pairing}-") as tmp:
            rows = run_pairing(pairing, args, Path(tmp))
        parts.append(bench_table(pairing, rows, args))
        print(parts[-1] + "\n", flush=True)
        if args.memory:
            with tempfile.TemporaryDirectory(prefix=f"diskdb-compare-mem-{pairing}-") as tmp:
                mem.append((pairing, run_memory(pairing, args, Path(tmp))))
    if mem:
        parts.append(memory_table(mem))
        print(parts[-1] + "\n", flush=True)
    log(f"done in {time.monotonic() - started:.0f} s")
    if args.out:
        Path(args.out).write_text("\n\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
