#!/usr/bin/env python3
"""Lists a WebAssembly module's imports and fails if any comes from the module `env`.

A wasm32-unknown-unknown module that imports from `env` (for example `env.memchr`, left by C code
that expected a libc) cannot be instantiated in Node.js or a browser.
Usage: wasm_imports.py MODULE.wasm [--forbid env]
"""
import sys


def leb(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def imports(path):
    data = open(path, "rb").read()
    if data[:4] != b"\0asm":
        raise SystemExit(f"{path}: not a WebAssembly module")
    pos = 8
    found = []
    while pos < len(data):
        section, pos = data[pos], pos + 1
        size, pos = leb(data, pos)
        end = pos + size
        if section == 2:
            count, p = leb(data, pos)
            for _ in range(count):
                n, p = leb(data, p)
                module = data[p:p + n].decode()
                p += n
                n, p = leb(data, p)
                name = data[p:p + n].decode()
                p += n
                kind, p = data[p], p + 1
                if kind == 0:  # function: type index
                    _, p = leb(data, p)
                elif kind == 1:  # table: reftype + limits
                    p += 1
                    flags, p = leb(data, p)
                    _, p = leb(data, p)
                    if flags & 1:
                        _, p = leb(data, p)
                elif kind == 2:  # memory: limits
                    flags, p = leb(data, p)
                    _, p = leb(data, p)
                    if flags & 1:
                        _, p = leb(data, p)
                elif kind == 3:  # global: valtype + mutability
                    p += 2
                else:
                    _, p = leb(data, p)
                found.append((module, name))
        pos = end
    return found


def main():
    path = sys.argv[1]
    forbid = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--forbid" else None
    found = imports(path)
    for module, name in found:
        print(f"import {module}.{name}")
    bad = [f"{m}.{n}" for m, n in found if m == forbid]
    if bad:
        raise SystemExit(f"{path}: forbidden imports from '{forbid}': {', '.join(bad)}")
    print(f"{path}: {len(found)} import(s), none from '{forbid}'" if forbid else f"{len(found)} import(s)")


if __name__ == "__main__":
    main()
