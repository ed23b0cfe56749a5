#!/usr/bin/env bash
# Instructions per request of DiskDB's C and Rust parsers and of the redis-protocol crate on each
# benchmark fixture, by callgrind:
# exact and unaffected by other load, unlike timings on a shared machine.
# Usage: bash benches/instructions.sh [iterations]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
cargo build -q --release -p diskdb-benches --example parse_loop
bin="${CARGO_TARGET_DIR:-target}/release/examples/parse_loop"
ir() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
echo "| request | C instr/request | Rust instr/request | redis-protocol instr/request | Rust/C | redis-protocol/C |"
echo "|---|---:|---:|---:|---:|---:|"
for fixture in GET SET16 SET1K ZADD5 LPUSH5 PIPELINE100; do
  requests=1
  [ "$fixture" = PIPELINE100 ] && requests=100
  c=$(( ($(ir c "$fixture" "$n") - $(ir c "$fixture" 0)) / (n * requests) ))
  r=$(( ($(ir rust "$fixture" "$n") - $(ir rust "$fixture" 0)) / (n * requests) ))
  p=$(( ($(ir redis-protocol "$fixture" "$n") - $(ir redis-protocol "$fixture" 0)) / (n * requests) ))
  echo "| $fixture | $c | $r | $p | $(python3 -c "print(f'{$r / $c:.2f} | {$p / $c:.2f}')") |"
done
