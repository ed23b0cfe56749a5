#!/usr/bin/env python3
"""The WASI build under a real wasmtime engine (PyPI `wasmtime`):

1. run 1 writes the dataset (every data type the engine has) into a preopened directory;
2. run 2, a new instance on the same directory, reads every key back and writes one more;
3. the native diskdb-server opens the same directory and finds every key, then writes one that
   a third WASI run reads (same engine, same files, both directions);
4. the command-line surface: `--text`, a command given as arguments, QUIT, a truncated request.

Usage: wasi_test.py DISKDB_WASM DISKDB_SERVER
"""
import json
import sys
import tempfile
from pathlib import Path

from common import NativeServer, Wasi, decode_all, encode, is_unknown_command, load_dataset, matches, \
    parse_expected, show

failures = []


def check(label, actual, expected_text):
    expected = parse_expected(expected_text)
    if not matches(actual, expected):
        failures.append(f"{label}: got {show(actual)}, want {show(expected)}")


def main():
    wasm, server_bin = Path(sys.argv[1]), Path(sys.argv[2])
    wasi = Wasi(wasm)
    groups = load_dataset()
    with tempfile.TemporaryDirectory(prefix="diskdb-wasi-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()

        # Run 1: the writes.
        writes = [argv for g in groups for argv in g["writes"]]
        code, out, err = wasi.run(["--dir", "/data"], b"".join(encode(a) for a in writes), preopen=data)
        assert code == 0, f"run 1 exited {code}: {err.decode()}"
        replies = decode_all(out)
        assert len(replies) == len(writes), f"run 1: {len(replies)} replies for {len(writes)} writes"
        it = iter(replies)
        active = []
        for g in groups:
            got = [next(it) for _ in g["writes"]]
            if any(is_unknown_command(r) for r in got):
                print(f"  (skipped: {g['type']} — this engine has no {g['requires'].upper()} yet)")
                continue
            for argv, r in zip(g["writes"], got):
                if isinstance(r, dict) and "error" in r:
                    failures.append(f"run 1 {argv}: {r['error']}")
            active.append(g)
        print(f"  run 1: wrote {len(writes)} commands; groups: {', '.join(g['type'] for g in active)}")
        assert (data / "diskdb.redb").exists(), "no diskdb.redb in the preopened directory"

        checks = [(argv, want) for g in active for argv, want in g["checks"]]
        keys = sorted(k for g in active for k in g["keys"])

        def verify(label, run_argv):
            for argv, want in checks:
                check(f"{label} {argv}", run_argv(argv), want)
            check(f"{label} KEYS *", run_argv(["KEYS", "*"]), "~" + json.dumps(keys))
            check(f"{label} DBSIZE", run_argv(["DBSIZE"]), str(len(keys)))

        # Run 2: a fresh instance sees run 1's data.
        requests = [a for a, _ in checks] + [["KEYS", "*"], ["DBSIZE"], ["SET", "wasi:run2", "second run"]]
        code, out, err = wasi.run(["--dir", "/data"], b"".join(encode(a) for a in requests), preopen=data)
        assert code == 0, f"run 2 exited {code}: {err.decode()}"
        # verify() asks in the same order as `requests`: hand it the replies one by one.
        answers = iter(decode_all(out))
        verify("wasi run 2", lambda argv: next(answers, None))
        check("wasi run 2 SET", next(answers, None), '"OK"')
        print(f"  run 2: {len(checks) + 2} reads checked on the same directory")
        keys.append("wasi:run2")
        checks.append((["GET", "wasi:run2"], '"second run"'))

        # The native server on the same directory.
        with NativeServer(server_bin, data) as server:
            verify("native server", server.run)
            check("native SET", server.run(["SET", "native:key", "from the server"]), '"OK"')
        print(f"  native diskdb-server: all {len(keys)} keys present with their values")

        # And back: WASI reads what the server wrote.
        code, out, err = wasi.run(["--dir", "/data", "GET", "native:key"], preopen=data)
        check("wasi after server", decode_all(out)[0] if out else None, '"from the server"')

        # The command-line surface.
        code, out, _ = wasi.run(["--dir", "/data", "--text"],
                                b'HMGET hash:user name nope\nGET "str:with space"\nNOPE\nDBSIZE', preopen=data)
        text = out.decode()
        want_text = '1) "Ada"\n2) (nil)\n"quoted \\"value\\"\\nand a newline"\n' \
                    "(error) ERR unknown command 'NOPE', with args beginning with: \n" \
                    f"(integer) {len(keys) + 1}\n"
        if code != 0 or text != want_text:
            failures.append(f"--text: exit {code}, got {text!r}, want {want_text!r}")
        code, out, _ = wasi.run(["--storage", "memory"], b"PING\r\nQUIT\r\nPING\r\n")
        if (code, out) != (0, b"+PONG\r\n+OK\r\n"):
            failures.append(f"QUIT: exit {code}, got {out!r}")
        code, out, err = wasi.run(["--storage", "memory"], b"PING\r\n*2\r\n$3\r\nGET")
        if code == 0 or out != b"+PONG\r\n" or b"ended inside a request" not in err:
            failures.append(f"truncated input: exit {code}, out {out!r}, err {err!r}")
        code, out, err = wasi.run(["--dir", "/elsewhere"], b"PING\r\n")
        if code == 0 or not err:
            failures.append(f"an unopenable directory should fail: exit {code}, err {err!r}")
        print("  command line: --text, arguments, QUIT, truncated input, bad directory")

    if failures:
        print("\n".join("FAIL " + f for f in failures))
        sys.exit(1)
    print("wasi: ok")


if __name__ == "__main__":
    main()
