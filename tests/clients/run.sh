#!/usr/bin/env bash
# Real client libraries against a real diskdb-server: redis-py (rate limiter, session store,
# Lock and scripts), limits and a Celery worker (frameworks_py.py),
# ioredis (job queue with BRPOP, pub/sub chat), redis-cli (leaderboard with --pipe).
# Expects the release binary built and the client libraries installed (scripts/setup.sh does).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
server_bin="${1:-${CARGO_TARGET_DIR:-$here/../../target}/release/diskdb-server}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
"$server_bin" --port "$port" --dir "$dir" 2>"$dir/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
python3 "$here/redis_py_scenario.py" "$port"
python3 "$here/redis_py_scripts.py" "$port"
python3 "$here/frameworks_py.py" "$port"
node "$here/ioredis_scenario.mjs" "$port"
bash "$here/leaderboard.sh" "$port"
