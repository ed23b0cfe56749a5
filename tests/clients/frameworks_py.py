"""Python frameworks that use Redis scripting, unchanged, against a server on PORT:
`limits` (the library behind Flask-Limiter) with its moving-window and fixed-window strategies,
and a Celery worker with the Redis broker and result backend completing task round trips.
Usage: frameworks_py.py PORT"""
import os
import subprocess
import sys
import time

from limits import RateLimitItemPerMinute, storage, strategies

port = int(sys.argv[1])
url = f"redis://127.0.0.1:{port}/0"
checks = 0
run = str(time.time_ns())  # fresh rate-limit keys even on a server with earlier data


def check(cond, what):
    global checks
    if not cond:
        raise SystemExit(f"framework scenario failed: {what}")
    checks += 1


# --- limits: the moving window is a Lua script over a list (LRANGE, LPUSH, LTRIM, EXPIRE). ---
store = storage.storage_from_string(url)
check(store.check(), "limits storage check")
moving = strategies.MovingWindowRateLimiter(store)
item = RateLimitItemPerMinute(5)
hits = [moving.hit(item, run + "alice") for _ in range(7)]
check(hits == [True] * 5 + [False] * 2, f"moving window hits {hits}")
stats = moving.get_window_stats(item, run + "alice")
check(stats[1] == 0, f"moving window remaining {stats}")
check(moving.test(item, run + "bob"), "another key has its own window")
fixed = strategies.FixedWindowRateLimiter(store)
hits = [fixed.hit(item, run + "carol") for _ in range(6)]
check(hits == [True] * 5 + [False], f"fixed window hits {hits}")
moving.clear(item, run + "alice")
check(moving.hit(item, run + "alice"), "cleared window admits again")

# --- Celery: a worker process, tasks sent from here, results read back. ---
here = os.path.dirname(os.path.abspath(__file__))
env = dict(os.environ, DISKDB_URL=url, PYTHONPATH=here)
worker = subprocess.Popen(
    [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=solo",
     "--concurrency=1", "--loglevel=WARNING", "--without-gossip", "--without-mingle"],
    cwd=here, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
)
try:
    sys.path.insert(0, here)
    os.environ["DISKDB_URL"] = url
    from celery_app import add, flaky  # noqa: E402

    results = [add.delay(i, i) for i in range(5)]
    got = [r.get(timeout=30) for r in results]
    check(got == [0, 2, 4, 6, 8], f"celery results {got}")
    check(flaky.delay(21).get(timeout=30) == 42, "celery retry")
    check(worker.poll() is None, "worker still running")
finally:
    worker.terminate()
    try:
        out, _ = worker.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        out, _ = worker.communicate()
    if checks < 9:
        print(out[-4000:])
print(f"python frameworks: {checks} checks passed")
