#!/usr/bin/env bash
# Runs DiskDB's libFuzzer targets (fuzz/) for a bounded time each and fails on the first crash,
# leak, timeout or out-of-memory. Stable Rust: cargo-fuzz needs nightly flags, which
# RUSTC_BOOTSTRAP=1 allows. The C parser is compiled with clang-19, AddressSanitizer, UBSan
# (trapping, no runtime needed) and libFuzzer's coverage, so the fuzzer sees inside it too.
#
#   bash scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 45) each
#   bash scripts/fuzz.sh commands 600    # one target, ten minutes
#
# A crash leaves its input in fuzz/artifacts/<target>/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-...
# New inputs go to a scratch corpus; the committed seeds (fuzz/corpus/<target>/) stay as they are.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(parser_c parser_diff commands)
if (($# > 0)); then targets=("$1"); fi
seconds="${2:-${FUZZ_SECONDS:-45}}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
triple="$(rustc -vV | sed -n 's/^host: //p')"
triple_env="${triple//-/_}"

export RUSTC_BOOTSTRAP=1
export DISKDB_REQUIRE_C_PARSER=1
export "CC_${triple_env}=clang-19"
coverage="-fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp"

# The parser targets run the C code under AddressSanitizer (Rust's and C's) and trapping UBSan.
# The command target touches no C code and no unsafe code of ours: without a sanitizer it runs
# about seven times as many scripts in the same time. Different flags, so separate build dirs.
build() {
  local t=$1 log="${TMPDIR:-/tmp}/diskdb-fuzz-build-$1.log"
  local args=(--target-dir "$target_dir/asan")
  local cflags="-fsanitize=address -fsanitize=undefined -fsanitize-trap=undefined $coverage"
  if [ "$t" = commands ]; then
    args=(--target-dir "$target_dir/plain" --sanitizer none)
    cflags="$coverage"
  fi
  if ! env "CFLAGS_${triple_env}=$cflags" nice cargo fuzz build "${args[@]}" "$t" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz: building $t failed"
    exit 1
  fi
  run_args=("${args[@]}")
  run_env=("CFLAGS_${triple_env}=$cflags")
}

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "fuzz/artifacts/$t"
  dict=()
  [ "$t" = commands ] && dict=(-dict=fuzz/commands.dict)
  log="$scratch/$t.log"
  echo "fuzz: $t for ${seconds}s"
  build "$t"
  if ! env "${run_env[@]}" cargo fuzz run "${run_args[@]}" "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $t FAILED; the input is in fuzz/artifacts/$t/"
    exit 1
  fi
  # libFuzzer's last status line: "#N DONE cov: C ft: F corp: ... exec/s: R ..."
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")"
  summary+=("$t: ${execs:-?} execs in ${seconds}s (${rate:-?}/s), coverage ${cov:-?} edges, no crash")
  echo "fuzz: ${summary[-1]}"
done
echo
printf 'fuzz: %s\n' "${summary[@]}"
