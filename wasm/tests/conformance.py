#!/usr/bin/env python3
"""Runs conformance.txt against the native server and the WASI build (and, with --redis, a real
redis-server 7.0, which checks the expectations themselves). The Node.js side is
conformance.mjs. Each case's command is sent as an inline request, which the servers split with
the same rules as redis-cli (and execute() in Node.js).

Usage: conformance.py [--server DISKDB_SERVER] [--wasi DISKDB_WASM] [--redis]
       [--write-raw FILE]  (the native server's raw RESP replies, for conformance.mjs to compare)
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import NativeServer, Wasi, decode_all, free_port, is_unknown_command, load_cases, matches, \
    parse_expected, show


def report(target, cases, answers, missing):
    failures, skipped, passed = [], 0, 0
    for (no, command, expected_text, requires), actual in zip(cases, answers):
        if any(r in missing for r in requires):
            skipped += 1
            continue
        expected = parse_expected(expected_text)
        if matches(actual, expected):
            passed += 1
        else:
            failures.append(f"  conformance.txt:{no}: {command}\n    got  {show(actual)}\n    want {show(expected)}")
    note = f", {skipped} skipped (no {', '.join(sorted(c.upper() for c in missing))} yet)" if skipped else ""
    print(f"{target}: {passed} passed, {len(failures)} failed{note}")
    for f in failures:
        print(f)
    return not failures


class Redis(NativeServer):
    """A real redis-server on a free port, through the same client."""

    def __init__(self):
        import socket
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""


def run_server(server, cases, probes, raw=None):
    missing = {p for p in probes if is_unknown_command(server.inline(p))}
    server.inline("FLUSHALL")
    answers = []
    for _, command, _, _ in cases:
        answers.append(server.inline(command))
        if raw is not None:
            raw.append(server.last_raw)
    return answers, missing


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server")
    parser.add_argument("--wasi")
    parser.add_argument("--redis", action="store_true")
    parser.add_argument("--write-raw")
    opts = parser.parse_args()
    cases = load_cases()
    probes = sorted({r for *_, rs in cases for r in rs})
    ok = True
    with tempfile.TemporaryDirectory(prefix="diskdb-conformance-") as tmp:
        if opts.server:
            raw = []
            with NativeServer(opts.server, Path(tmp) / "native") as server:
                answers, missing = run_server(server, cases, probes, raw)
            ok &= report("native server", cases, answers, missing)
            if opts.write_raw:
                Path(opts.write_raw).write_bytes(b"".join(raw))
        if opts.wasi:
            wasi = Wasi(opts.wasi)
            code, out, err = wasi.run(["--storage", "memory"], "".join(p + "\n" for p in probes).encode())
            missing = {p for p, r in zip(probes, decode_all(out)) if is_unknown_command(r)}
            data = Path(tmp) / "wasi"
            data.mkdir()
            stdin = "".join(command + "\n" for _, command, _, _ in cases).encode()
            code, out, err = wasi.run(["--dir", "/data"], stdin, preopen=data)
            if code != 0:
                print(f"WASI: exit {code}: {err.decode()}")
                ok = False
            ok &= report("WASI (wasmtime)", cases, decode_all(out), missing)
        if opts.redis:
            if shutil.which("redis-server") is None:
                print("redis-server: not installed, skipped")
            else:
                with Redis() as server:
                    answers, missing = run_server(server, cases, probes)
                ok &= report("redis-server (checks the expectations)", cases, answers, missing)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
