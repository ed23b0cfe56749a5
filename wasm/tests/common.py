"""Shared helpers for the WebAssembly tests: RESP encoding and decoding, the conformance
notation, the dataset, a runner for the WASI build under a real wasmtime engine (PyPI
`wasmtime`), and the native server as a subprocess.

The conformance notation (conformance.txt, dataset.json) writes a reply as JSON: simple and bulk
strings as strings, integers as numbers, nil as null, arrays as arrays; a bulk string that is
not UTF-8 as {"hex": "..."}; `!TEXT` is an error reply, {"error": TEXT} one inside an array;
`~[...]` an array whose order does not matter.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


# --- RESP ---------------------------------------------------------------------------------

def encode(argv):
    """A RESP multibulk request."""
    out = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        if isinstance(arg, str):
            arg = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class Incomplete(Exception):
    pass


def decode(buf, pos=0):
    """Decodes one reply at `pos` into the canonical form; returns (value, next_pos)."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    kind, head = buf[pos:pos + 1], buf[pos + 1:end]
    pos = end + 2
    if kind == b"+":
        return head.decode("utf-8", "replace"), pos
    if kind == b"-":
        return {"error": head.decode("utf-8", "replace")}, pos
    if kind == b":":
        return int(head), pos
    if kind == b"$":
        n = int(head)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete
        data = buf[pos:pos + n]
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            value = {"hex": data.hex()}
        return value, pos + n + 2
    if kind == b"*":
        n = int(head)
        if n < 0:
            return None, pos
        items = []
        for _ in range(n):
            item, pos = decode(buf, pos)
            items.append(item)
        return items, pos
    raise ValueError(f"unexpected RESP type {kind!r} at {pos}")


def decode_all(buf):
    values, pos = [], 0
    while pos < len(buf):
        value, pos = decode(buf, pos)
        values.append(value)
    return values


# --- the notation -------------------------------------------------------------------------

class Unordered:
    def __init__(self, items):
        self.items = items


def parse_expected(text):
    # Only leading space is dropped: Redis error texts can end with a space.
    text = text.lstrip()
    if text.startswith("!"):
        return {"error": text[1:]}
    if text.startswith("~"):
        return Unordered(json.loads(text[1:]))
    return json.loads(text)


def _key(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def matches(actual, expected):
    if isinstance(expected, Unordered):
        return isinstance(actual, list) and sorted(map(_key, actual)) == sorted(map(_key, expected.items))
    # JSON text keeps 1 and true, "1" and 1 apart.
    return _key(actual) == _key(expected)


def show(value):
    if isinstance(value, Unordered):
        return "~" + json.dumps(value.items, ensure_ascii=False)
    if isinstance(value, dict) and set(value) == {"error"}:
        return "!" + value["error"]
    return json.dumps(value, ensure_ascii=False)


def load_cases(path=HERE / "conformance.txt"):
    """[(line_no, command, expected_text, requires)] from the conformance file; `requires` is a
    tuple of command names (empty: always runs)."""
    cases, requires = [], ()
    for no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("# requires:"):
            requires = tuple(stripped.split(":", 1)[1].lower().split())
            continue
        if stripped == "# end":
            requires = ()
            continue
        if not stripped or stripped.startswith("#"):
            continue
        command, sep, expected = line.partition(" => ")
        if not sep:
            raise SystemExit(f"conformance.txt:{no}: no ' => ' in {line!r}")
        cases.append((no, command, expected, requires))
    return cases


def load_dataset(path=HERE / "dataset.json"):
    return json.loads(Path(path).read_text(encoding="utf-8"))["groups"]


def is_unknown_command(value):
    return isinstance(value, dict) and value.get("error", "").startswith("ERR unknown command")


# --- WASI under wasmtime --------------------------------------------------------------------

class Wasi:
    """Runs the `diskdb` WASI command under wasmtime with a preopened directory."""

    def __init__(self, wasm_path):
        import wasmtime

        self.wasmtime = wasmtime
        config = wasmtime.Config()
        try:
            config.cache = True  # compiling the module takes seconds; reuse it across runs
        except Exception:
            pass
        self.engine = wasmtime.Engine(config)
        self.module = wasmtime.Module.from_file(self.engine, str(wasm_path))

    def run(self, args, stdin=b"", preopen=None, guest_dir="/data"):
        """Returns (exit_code, stdout, stderr)."""
        wt = self.wasmtime
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "in").write_bytes(stdin)
            linker = wt.Linker(self.engine)
            linker.define_wasi()
            store = wt.Store(self.engine)
            wasi = wt.WasiConfig()
            wasi.argv = ["diskdb", *args]
            if preopen is not None:
                wasi.preopen_dir(str(preopen), guest_dir)
            wasi.stdin_file = str(tmp / "in")
            wasi.stdout_file = str(tmp / "out")
            wasi.stderr_file = str(tmp / "err")
            store.set_wasi(wasi)
            instance = linker.instantiate(store, self.module)
            code = 0
            try:
                instance.exports(store)["_start"](store)
            except wt.ExitTrap as exit_trap:
                code = exit_trap.code
            return code, (tmp / "out").read_bytes(), (tmp / "err").read_bytes()


# --- the native server -----------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NativeServer:
    """`diskdb-server --dir DIR --port P` as a subprocess, with a one-connection client."""

    def __init__(self, binary, data_dir, extra=()):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [str(binary), "--dir", str(data_dir), "--port", str(self.port), "--loglevel", "warn", *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 30
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"diskdb-server exited: {self.proc.stderr.read().decode()}")
                if time.time() > deadline:
                    raise RuntimeError("diskdb-server did not start")
                time.sleep(0.05)
        self.buf = b""

    def send(self, request):
        """Sends raw request bytes and returns the next reply."""
        self.sock.sendall(request)
        return self.reply()

    def reply(self):
        while True:
            try:
                value, pos = decode(self.buf)
                raw = self.buf[:pos]
                self.buf = self.buf[pos:]
                self.last_raw = raw
                return value
            except Incomplete:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise RuntimeError("diskdb-server closed the connection")
                self.buf += chunk

    def run(self, argv):
        return self.send(encode(argv))

    def inline(self, line):
        return self.send(line.encode() + b"\r\n")

    def stop(self):
        try:
            self.sock.close()
        finally:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
