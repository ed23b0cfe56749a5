#!/usr/bin/env bash
# The WebAssembly tests. Installs what is missing (idempotent): the wasm Rust targets, clang-19,
# PyPI wasmtime, Debian chromium, npm playwright-core and typescript (in a cache directory),
# wasm-bindgen-cli at the pinned version. Then:
#   1. the WASI build under wasmtime, twice on one preopened directory, then the native server
#      on that directory (wasi_test.py);
#   2. conformance.txt against the native server, the WASI build, the npm package in Node.js
#      (and real redis-server 7.0 when installed, which checks the expectations);
#   3. the packed npm tarball installed in a fresh directory: TypeScript types, the Node.js
#      scenario over every data type, its export opened by the native server;
#   4. headless Chromium: OPFS write, reload, read back, second handle refused, restart; its
#      export opened by the native server;
#   5. figures: execute() ops/s in Node.js against the native core, OPFS write latency (step 4).
# Usage: wasm/tests/run.sh [--no-browser] [--no-figures]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
tests=$root/wasm/tests
browser=1
figures=1
for arg in "$@"; do
  case $arg in
    --no-browser) browser=0 ;;
    --no-figures) figures=0 ;;
    *) echo "usage: $0 [--no-browser] [--no-figures]" >&2; exit 2 ;;
  esac
done
target_dir=${CARGO_TARGET_DIR:-$root/target}
export DISKDB_REQUIRE_C_PARSER=1
cache=${XDG_CACHE_HOME:-$HOME/.cache}/diskdb-wasm-tests
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

step() { echo; echo "=== wasm: $* ==="; }

step "setup"
installed=$(rustup target list --installed)
for target in wasm32-unknown-unknown wasm32-wasip1; do
  grep -qx "$target" <<<"$installed" || rustup target add "$target"
done
need_apt=()
command -v clang-19 >/dev/null || need_apt+=(clang-19)
command -v llvm-ar-19 >/dev/null || need_apt+=(llvm-19)
[ "$browser" = 0 ] || [ -x /usr/bin/chromium ] || need_apt+=(chromium)
if ((${#need_apt[@]})); then
  echo "installing ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
python3 -c 'import wasmtime' 2>/dev/null || python3 -m pip install -q --root-user-action=ignore wasmtime
mkdir -p "$cache"
if [ ! -d "$cache/node_modules/playwright-core" ] || [ ! -d "$cache/node_modules/typescript" ]; then
  (cd "$cache" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --silent --no-audit --no-fund playwright-core typescript)
fi
echo "setup: ok"

step "build: native server, WASI command, npm package"
cargo build -q --release -p diskdb-server
cargo build -q --release -p diskdb-wasm --bin diskdb --target wasm32-wasip1
server="$target_dir/release/diskdb-server"
wasi="$target_dir/wasm32-wasip1/release/diskdb.wasm"
python3 "$root/scripts/wasm_imports.py" "$wasi" --forbid env >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/diskdb-wasm-tests.XXXXXX")
trap 'rm -rf "$work"' EXIT
bash "$root/wasm/npm/build.sh" --pack "$work"
# A fresh directory, as a user would have: the tarball installed, nothing from the repository.
app="$work/app"
mkdir "$app"
(cd "$app" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "$work"/diskdb-*.tgz)
cp "$tests"/{canon.mjs,conformance.mjs,node_scenario.mjs,bench.mjs,browser.html,browser.mjs,dataset.json,types_check.mts} "$app/"
echo "packed $(basename "$work"/diskdb-*.tgz), installed in a fresh directory"

step "WASI build under wasmtime (two runs, then the native server, on one directory)"
python3 "$tests/wasi_test.py" "$wasi" "$server"

step "conformance: native server, WASI, Node.js"
redis=()
command -v redis-server >/dev/null && redis=(--redis)
python3 "$tests/conformance.py" --server "$server" --wasi "$wasi" "${redis[@]}" --write-raw "$work/native.raw"
(cd "$app" && node conformance.mjs "$tests/conformance.txt" "$work/native.raw")

step "npm package in Node.js (types, scenario over every data type, export to the native server)"
(cd "$app" && node "$cache/node_modules/typescript/bin/tsc" --noEmit --strict --target es2022 \
  --module nodenext --moduleResolution nodenext --skipLibCheck false types_check.mts)
echo "TypeScript: types_check.mts compiles against the package's index.d.ts"
(cd "$app" && node node_scenario.mjs dataset.json "$work/node-export.redb")
python3 "$tests/open_export.py" "$work/node-export.redb" "$server" "the Node.js export"

if [ "$browser" = 1 ]; then
  step "headless Chromium: OPFS store"
  cp "$tests/browser_test.mjs" "$app/"
  (cd "$app" && node browser_test.mjs "$cache/node_modules/playwright-core" "$app" "$work/browser-export.redb")
  python3 "$tests/open_export.py" "$work/browser-export.redb" "$server" "the Chromium OPFS export"
fi

if [ "$figures" = 1 ]; then
  step "figures: execute() in Node.js against the native core (memory store, one command per call)"
  (cd "$app" && node bench.mjs 100000)
  cargo run -q --release -p diskdb-wasm --example core_ops 100000
fi

echo
echo "wasm tests: ok"
