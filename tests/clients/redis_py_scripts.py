"""redis-py's scripting users against DiskDB: `Lock` (acquire, extend, reacquire, release, all
EVALSHA with a NOSCRIPT retry), `register_script` after SCRIPT FLUSH, a script in a MULTI
pipeline, a script write that breaks another client's WATCH, and a script's error reply.
Usage: redis_py_scripts.py PORT"""
import sys

import redis
from redis.exceptions import LockNotOwnedError, ResponseError, WatchError

port = int(sys.argv[1])
r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
other = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise SystemExit(f"redis-py scripts failed: {what}")
    checks += 1


# --- Lock: the scripts behind acquire/extend/release are EVALSHA with a NOSCRIPT fallback. ---
r.script_flush()
lock = r.lock("resource", timeout=10)
check(lock.acquire(blocking=False), "first acquire")
check(not r.lock("resource", timeout=10).acquire(blocking=False), "second holder refused")
check(lock.extend(5), "extend")
check(9 < r.pttl("resource") / 1000 <= 15, f"extended TTL {r.pttl('resource')}")
check(lock.reacquire(), "reacquire")
lock.release()
check(r.get("resource") is None, "released")
stolen = r.lock("resource", timeout=10)
check(stolen.acquire(blocking=False), "acquire again")
r.set("resource", "someone else's token")
try:
    stolen.release()
    check(False, "releasing a lock another client took over raises")
except LockNotOwnedError:
    check(r.get("resource") == "someone else's token", "the other owner's lock stays")
with r.lock("ctx", timeout=5):
    check(r.exists("ctx") == 1, "held in the with block")
check(r.exists("ctx") == 0, "released after the with block")

# --- register_script: EVALSHA, NOSCRIPT after a flush, then EVAL reloads it. ---
transfer = r.register_script(
    """
    local from = tonumber(redis.call('GET', KEYS[1]) or '0')
    local amount = tonumber(ARGV[1])
    if from < amount then return redis.error_reply('INSUFFICIENT funds') end
    redis.call('DECRBY', KEYS[1], amount)
    return redis.call('INCRBY', KEYS[2], amount)
    """
)
r.set("acct:a", 100)
check(transfer(keys=["acct:a", "acct:b"], args=[30]) == 30, "transfer")
r.script_flush()
check(transfer(keys=["acct:a", "acct:b"], args=[30]) == 60, "transfer after SCRIPT FLUSH")
try:
    transfer(keys=["acct:a", "acct:b"], args=[1000])
    check(False, "an error reply raises")
except ResponseError as e:
    check(str(e) == "INSUFFICIENT funds", f"error text {e!r}")
check(r.mget("acct:a", "acct:b") == ["40", "60"], "no partial transfer")

# --- A script inside MULTI, and a script's write breaking another client's WATCH. ---
pipe = r.pipeline(transaction=True)
pipe.set("m", 1)
pipe.eval("return redis.call('INCR', KEYS[1])", 1, "m")
pipe.get("m")
check(pipe.execute() == [True, 2, "2"], "EVAL inside MULTI")
with other.pipeline(transaction=True) as p:
    p.watch("w")
    r.eval("return redis.call('SET', KEYS[1], 'x')", 1, "w")
    p.multi()
    p.set("w", "y")
    try:
        p.execute()
        check(False, "WATCH should fail after a script wrote the key")
    except WatchError:
        check(True, "")
check(r.get("w") == "x", "the script's write stands")

# --- Scripts see RESP3 types when they ask, and return tables. ---
check(
    r.eval("redis.setresp(3); return redis.call('HGETALL', KEYS[1])", 1, "nohash") == [],
    "empty map under RESP3",
)
check(r.eval("return {1, 'two', {3}}", 0) == [1, "two", [3]], "nested table")
print(f"redis-py scripts: {checks} checks passed")
