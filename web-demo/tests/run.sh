#!/usr/bin/env bash
# The web demo's tests. Installs what is missing (idempotent): Debian chromium, npm
# playwright-core (in the cache directory the wasm tests share). Builds the npm package, then:
#   1. resp.js (line splitting, reply rendering) against the real redis-cli;
#   2. the page end to end in headless Chromium, served by the README's command; it saves a
#      screenshot (default: $CARGO_TARGET_DIR or target/, under web-demo/e2e.png) and prints
#      its path.
# Usage: web-demo/tests/run.sh [SCREENSHOT_PATH]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-$root/target}
screenshot=${1:-$target_dir/web-demo/e2e.png}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/diskdb-wasm-tests
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
mkdir -p "$cache"
if [ ! -d "$cache/node_modules/playwright-core" ]; then
  (cd "$cache" && { [ -f package.json ] || npm init -y >/dev/null; } \
    && npm install --silent --no-audit --no-fund playwright-core)
fi

# The page serves wasm/npm as it is: build it so it matches the sources.
bash wasm/npm/build.sh

echo "--- web demo: reply rendering against redis-cli"
node web-demo/tests/render_test.mjs
echo "--- web demo: end to end in headless Chromium"
node web-demo/tests/e2e.mjs "$cache/node_modules/playwright-core" "$screenshot"
