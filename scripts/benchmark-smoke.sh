#!/usr/bin/env bash
# Starts diskdb-server on a free port and runs redis-benchmark's SET and GET against it; fails if
# redis-benchmark reports any error.
set -euo pipefail
server_bin=$1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
"$server_bin" --port "$port" --dir "$dir" 2>"$dir/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
out=$(redis-benchmark -p "$port" -t set,get -n 100000 -q 2>&1 | tr '\r' '\n' | grep -v 'rps=' || true)
echo "$out"
if grep -qi 'error' <<<"$out" || ! grep -q '^GET: ' <<<"$out" || ! grep -q '^SET: ' <<<"$out"; then
  echo "redis-benchmark reported errors or did not finish" >&2
  exit 1
fi
