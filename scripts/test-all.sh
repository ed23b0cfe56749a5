#!/usr/bin/env bash
# Runs every DiskDB test: installs what is missing, then the C parser's own tests (also under
# ASan/UBSan), formatting and lints, the Rust test suites (unit, differential parser property
# tests, the real server driven by real clients, crash and fault tests), bounded fuzzing of the
# parsers and the command layer, the wasm builds and their import check, a redis-benchmark smoke
# run, the web demo in headless Chromium, and the differential harness against a real redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
# CI clones afresh each run: keep compiled dependencies in a cache outside the clone.
if [ "${CI:-}" = true ] && [ -z "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR="$HOME/.cache/diskdb/target"
fi
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export DISKDB_REQUIRE_C_PARSER=1

passed=0
step() { echo; echo "=== $* ==="; }
ok() { passed=$((passed + 1)); }

step "C parser: table tests, sanitizers, freestanding wasm compile"
make -s -C csrc test sanitize wasm-check
ok

step "cargo fmt, clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
ok

step "Rust tests (unit, parser differential, zero allocations, server integration)"
cargo test --workspace
ok

step "fuzzing: C parser, C vs Rust parser, command layer (FUZZ_SECONDS=${FUZZ_SECONDS:-45} each)"
bash scripts/fuzz.sh
ok

step "diskdb-core for wasm32-wasip1 (C parser) and wasm32-unknown-unknown (Rust parser)"
cargo build -q -p diskdb-core --target wasm32-wasip1
cargo build -q -p diskdb-wasm --release --target wasm32-wasip1
DISKDB_REQUIRE_C_PARSER=0 cargo build -q -p diskdb-core --target wasm32-unknown-unknown
DISKDB_REQUIRE_C_PARSER=0 cargo build -q -p diskdb-wasm --release --target wasm32-unknown-unknown
python3 scripts/wasm_imports.py "$target_dir/wasm32-unknown-unknown/release/diskdb_wasm.wasm" --forbid env
python3 scripts/wasm_imports.py "$target_dir/wasm32-wasip1/release/diskdb_wasm.wasm" --forbid env
ok

step "redis-benchmark against the real server"
cargo build -q --release -p diskdb-server
bash scripts/benchmark-smoke.sh "$target_dir/release/diskdb-server"
ok

step "real clients: redis-py, ioredis, redis-cli scenarios"
bash tests/clients/run.sh "$target_dir/release/diskdb-server"
ok

step "WebAssembly: WASI under wasmtime, the npm package in Node.js, OPFS in headless Chromium"
bash wasm/tests/run.sh --no-figures
ok

step "web demo: reply rendering against redis-cli, the page end to end in headless Chromium"
bash web-demo/tests/run.sh
ok

step "differential compatibility: DiskDB and redis-server 7.0, byte for byte"
bash tests/compat/run.sh
ok

echo
echo "test-all: $passed passed, 0 failed"
