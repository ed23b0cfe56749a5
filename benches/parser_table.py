#!/usr/bin/env python3
"""Prints the parser benchmark's last results as the markdown tables of BENCHMARKS.md.

Reads criterion's files under <target dir>/criterion/{parse,parse_bytes}/ (written by
`cargo bench -p diskdb-benches --bench parser`) and uses each benchmark's median time per
iteration, which resists the outliers a shared machine produces. Ratios come from one run; the
`parse_bytes` group only supplies each fixture's size.

Usage: python3 benches/parser_table.py [target dir]   (default: $CARGO_TARGET_DIR or ./target)
"""

import json
import os
import sys
from pathlib import Path

PARSERS = ["C", "Rust", "redis-protocol", "hiredis"]
FIXTURES = ["GET", "SET16", "SET1K", "ZADD5", "LPUSH5", "PIPELINE100"]
LABELS = {
    "GET": "GET",
    "SET16": "SET, 16-byte value",
    "SET1K": "SET, 1 KB value",
    "ZADD5": "ZADD, 5 members",
    "LPUSH5": "LPUSH, 5 items",
    "PIPELINE100": "pipeline of 100 mixed",
}


def load(root, group):
    """(fixture, parser) -> (median ns per iteration, throughput units per iteration)."""
    out = {}
    base = root / "criterion" / group
    if not base.is_dir():
        return out
    for bench in base.iterdir():
        meta, est = bench / "new" / "benchmark.json", bench / "new" / "estimates.json"
        if not meta.is_file():
            continue
        meta = json.loads(meta.read_text())
        fixture, parser = meta["function_id"].split("/", 1)
        units = next(iter(meta["throughput"].values()))
        median = json.loads(est.read_text())["median"]["point_estimate"]
        out[(fixture, parser)] = (median, units)
    return out


def rate(value):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} "


def main():
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", "target")
    root = Path(target)
    requests, volume = load(root, "parse"), load(root, "parse_bytes")
    if not requests:
        sys.exit(f"no results under {root}/criterion/parse: run the parser bench first")

    print("Requests per second (ratios from the same run: time of the other / time of C):\n")
    print("| request | C | Rust | redis-protocol | hiredis | Rust/C | redis-protocol/C | hiredis/C |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for fixture in FIXTURES:
        if (fixture, "C") not in requests:
            continue
        cells, times = [], {}
        for parser in PARSERS:
            ns, n = requests[(fixture, parser)]
            times[parser] = ns
            cells.append(f"{rate(n / ns * 1e9)}/s")
        ratios = [f"{times[p] / times['C']:.2f}" for p in PARSERS[1:]]
        print(f"| {LABELS[fixture]} | " + " | ".join(cells + ratios) + " |")

    # Bytes per second from the same measurement as the requests (the `parse_bytes` group does the
    # same work, measured again, and would carry a different moment's load on a shared machine).
    print("\nBytes per second (same measurement: requests/s times the fixture's size):\n")
    print("| request | bytes | C | Rust | redis-protocol | hiredis |")
    print("|---|---:|---:|---:|---:|---:|")
    for fixture in FIXTURES:
        if (fixture, "C") not in requests or (fixture, "C") not in volume:
            continue
        size = volume[(fixture, "C")][1]
        cells = [f"{rate(size / requests[(fixture, p)][0] * 1e9)}B/s" for p in PARSERS]
        print(f"| {LABELS[fixture]} | {size} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
