#!/usr/bin/env bash
# redis-cli drives DiskDB through a leaderboard on sorted sets: 10 000 scores loaded with
# `--pipe` mass insertion, then the queries a game backend runs. Usage: leaderboard.sh PORT
set -euo pipefail
port=$1
cli() { redis-cli -p "$port" "$@"; }
checks=0
check() { # expected actual what
  if [ "$1" != "$2" ]; then echo "leaderboard failed: $3: expected [$1], got [$2]" >&2; exit 1; fi
  checks=$((checks + 1))
}
cli DEL board >/dev/null
python3 - <<'PY' | redis-cli -p "$port" --pipe > /tmp/diskdb-pipe-$$.txt
import sys
out = sys.stdout
for i in range(10000):
    member = f"player:{i}"
    score = str((i * 7919) % 100000)
    args = ["ZADD", "board", score, member]
    out.write(f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args))
PY
grep -q "errors: 0, replies: 10000" /tmp/diskdb-pipe-$$.txt || { cat /tmp/diskdb-pipe-$$.txt; exit 1; }
rm -f /tmp/diskdb-pipe-$$.txt
check 10000 "$(cli ZCARD board)" "ZCARD after --pipe"
top=$(cli ZREVRANGE board 0 2 WITHSCORES | tr '\n' ' ')
check "player:5531 99989 player:4988 99972 player:4445 99955 " "$top" "top 3"
check 0 "$(cli ZREVRANK board player:5531)" "rank of the leader"
check 99989 "$(cli ZSCORE board player:5531)" "leader's score"
cli ZINCRBY board 5 player:0 >/dev/null
check 5 "$(cli ZSCORE board player:0)" "ZINCRBY"
check 102 "$(cli ZCOUNT board 0 999)" "players scoring below 1000"
check "player:0" "$(cli ZRANGEBYSCORE board 5 5)" "ZRANGEBYSCORE"
echo "redis-cli leaderboard: $checks passed, 0 failed"
