"""redis-py drives DiskDB through two scenarios a web backend runs: a fixed-window rate limiter
and a session store with sliding TTLs. Usage: redis_py_scenario.py PORT"""
import sys
import time

import redis

r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), decode_responses=True)
checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise SystemExit(f"redis-py scenario failed: {what}")
    checks += 1


# --- Rate limiter: at most 5 requests per user per 1-second window (INCR + EXPIRE NX). ---
def allowed(user, limit=5, window=1):
    key = f"rate:{user}:{int(time.time() // window)}"
    pipe = r.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, window * 2, nx=True)
    count, _ = pipe.execute()
    return count <= limit


# Start at the beginning of a window so all 8 calls land in it.
time.sleep(1 - time.time() % 1 + 0.01)
results = [allowed("alice") for _ in range(8)]
check(results == [True] * 5 + [False] * 3, f"limiter let through {results}")
check(allowed("bob"), "another user has their own budget")
window_keys = r.keys("rate:alice:*")
check(len(window_keys) == 1, f"one window key, got {window_keys}")
ttl = r.ttl(window_keys[0])
check(0 < ttl <= 2, f"window key TTL {ttl}")
time.sleep(1.05)
check(allowed("alice"), "a new window resets the budget")

# --- Session store: a hash per session, a TTL refreshed on each access. ---
sid = "session:7f3a"
r.hset(sid, mapping={"user": "alice", "cart": "3", "theme": "dark"})
r.expire(sid, 30)
check(r.hgetall(sid) == {"user": "alice", "cart": "3", "theme": "dark"}, "session fields")
r.hincrby(sid, "cart", 2)
check(r.hget(sid, "cart") == "5", "cart incremented")
check(25 <= r.ttl(sid) <= 30, "session TTL set")
r.pexpire(sid, 300)  # the user logs out soon: short grace period
check(0 < r.pttl(sid) <= 300, "short TTL")
time.sleep(0.4)
check(r.exists(sid) == 0, "session expired")
check(r.hgetall(sid) == {}, "expired session reads as empty")

# Sliding expiry: each access pushes the deadline.
r.hset("session:b", "user", "bob")
r.expire("session:b", 1)
for _ in range(3):
    time.sleep(0.5)
    check(r.hget("session:b", "user") == "bob", "session alive while used")
    r.expire("session:b", 1)
check(r.persist("session:b"), "PERSIST keeps a session")
check(r.ttl("session:b") == -1, "no TTL after PERSIST")

print(f"redis-py: {checks} passed, 0 failed")
