#!/usr/bin/env bash
# Installs what DiskDB's tests need on a fresh Debian 12 machine with Rust, gcc, Python and Node.
# Idempotent and quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v clang-19 >/dev/null || need_apt+=(clang-19)
command -v llvm-ar-19 >/dev/null || need_apt+=(llvm-19)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v redis-cli >/dev/null || need_apt+=(redis-tools)
# The security tests: a network namespace (ip netns) and a TLS certificate (openssl).
command -v ip >/dev/null || need_apt+=(iproute2)
command -v openssl >/dev/null || need_apt+=(openssl)
# hiredis's reply reader is a peer in the parser benchmark (benches/, linked there only).
[ -f /usr/include/hiredis/read.h ] || need_apt+=(libhiredis-dev)
# The WebAssembly and web-demo tests drive headless Chromium.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Debian starts a redis-server service on install; tests start their own, so stop it if running.
if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
  systemctl stop redis-server || true
fi

installed=$(rustup target list --installed)
for target in wasm32-unknown-unknown wasm32-wasip1; do
  grep -qx "$target" <<<"$installed" || rustup target add "$target"
done
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
# cargo-fuzz for the fuzz step (scripts/fuzz.sh); CI keeps ~/.cargo/bin between runs.
command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked
# Client libraries for the scenario tests (tests/clients).
python3 -c 'import redis, celery, kombu, limits' 2>/dev/null || python3 -m pip install -q --root-user-action=ignore -r tests/clients/requirements.txt
[ -d tests/clients/node_modules/ioredis ] || (cd tests/clients && npm ci --silent --no-audit --no-fund)
# The WebAssembly tests (wasm/tests/run.sh, web-demo/tests/run.sh): wasmtime's Python API,
# playwright-core and typescript in a shared cache, and the wasm-bindgen-cli pinned in
# wasm/Cargo.toml. Those scripts check again when run alone; here they are installed first.
python3 -c 'import wasmtime' 2>/dev/null || python3 -m pip install -q --root-user-action=ignore wasmtime
cache=${XDG_CACHE_HOME:-$HOME/.cache}/diskdb-wasm-tests
mkdir -p "$cache"
if [ ! -d "$cache/node_modules/playwright-core" ] || [ ! -d "$cache/node_modules/typescript" ]; then
  (cd "$cache" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --silent --no-audit --no-fund playwright-core typescript)
fi
bindgen=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' wasm/Cargo.toml)
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen" ]; then
  echo "setup: installing wasm-bindgen-cli $bindgen (a few minutes)"
  # Without --locked: its lock file pins a crate version the registry no longer serves.
  cargo install -q wasm-bindgen-cli --version "$bindgen"
fi
echo "setup: ok"
