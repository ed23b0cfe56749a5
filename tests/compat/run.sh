#!/usr/bin/env bash
# Differential compatibility run: every case file, then five seeded random streams, each compared
# byte for byte with a real redis-server. Exits non-zero on any mismatch.
#   bash tests/compat/run.sh            (builds the release server first; cargo skips it if fresh)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

cargo build -q --release -p diskdb-server || exit 1
command -v redis-server >/dev/null || { echo "compat: redis-server not found" >&2; exit 1; }

# The COMMAND catalogue must be what this redis-server says about its commands.
python3 scripts/gen-command-catalogue.py --check || exit 1

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
python3 "$here/harness.py" cases 2>&1 | tee -a "$log" || status=1
for seed in 1 2 3 4 5; do
  python3 "$here/harness.py" random --seed "$seed" --count 2000 2>&1 | tee -a "$log" || status=1
done
# One closing line over all runs (each run printed its own "compat: N passed, M failed").
awk '/^compat: [0-9]+ passed/ {p += $2; f += $4} END {printf "compat total: %d passed, %d failed\n", p, f}' "$log"
exit "$status"
