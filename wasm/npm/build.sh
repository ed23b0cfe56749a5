#!/usr/bin/env bash
# Builds the npm package `diskdb` in wasm/npm: compiles diskdb-wasm for wasm32-unknown-unknown
# (Rust parser), runs wasm-bindgen (--target web: one ES module for browsers, workers and, with
# the bytes read by index.js, Node.js) into dist/. `npm pack` in wasm/npm then makes the tarball.
# wasm-bindgen-cli must be exactly the crate's pinned wasm-bindgen version; it is installed if
# missing (about 3 minutes). Usage: build.sh [--pack DIR]  (--pack: also write the tarball to DIR)
set -euo pipefail
cd "$(dirname "$0")"
npm_dir=$PWD
root=$(cd ../.. && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
# The pinned version, read from the crate's manifest so the two cannot drift apart.
version=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' "$root/wasm/Cargo.toml")
[ -n "$version" ] || { echo "build.sh: no pinned wasm-bindgen in wasm/Cargo.toml" >&2; exit 1; }

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
  echo "installing wasm-bindgen-cli $version (a few minutes)"
  # Without --locked: its lock file pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$version"
fi
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown

(cd "$root" && cargo build --release -p diskdb-wasm --lib --target wasm32-unknown-unknown)
module="$target_dir/wasm32-unknown-unknown/release/diskdb_wasm.wasm"
# A module importing from `env` (libc symbols left by C code) cannot load in Node or browsers.
python3 "$root/scripts/wasm_imports.py" "$module" --forbid env > /dev/null

rm -rf dist
wasm-bindgen --target web --out-dir dist --out-name diskdb_wasm "$module"
rm -f dist/*_bg.wasm.d.ts
echo "built $(du -h dist/diskdb_wasm_bg.wasm | cut -f1) dist/diskdb_wasm_bg.wasm"

if [ "${1:-}" = "--pack" ]; then
  out=$(cd "${2:?--pack needs a directory}" && pwd)
  (cd "$npm_dir" && npm pack --silent --pack-destination "$out" >/dev/null)
fi
