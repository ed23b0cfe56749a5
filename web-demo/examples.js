// Example scripts: each runs in the console as one pipeline. Lines starting with # are shown as
// comments and not sent.

export const EXAMPLES = {
  leaderboard: `# Leaderboard: a sorted set ordered by score
DEL leaderboard
ZADD leaderboard 120 alice 95 bob 150 carol 80 dave
ZINCRBY leaderboard 40 bob
# The top three, best first, with their scores
ZREVRANGE leaderboard 0 2 WITHSCORES
# bob's rank (0 is first) and carol's score
ZREVRANK leaderboard bob
ZSCORE leaderboard carol`,

  ratelimit: `# Rate limiter: at most 5 requests per user per minute (a fixed window)
# Each request: SET ... NX EX 60 opens the window once, INCR counts; above 5 means refuse
DEL rate:alice
SET rate:alice 0 NX EX 60
INCR rate:alice
INCR rate:alice
INCR rate:alice
INCR rate:alice
INCR rate:alice
SET rate:alice 0 NX EX 60
INCR rate:alice
# The 6th request got 6: refuse it. The window ends when the key expires:
TTL rate:alice`,

  jobqueue: `# Job queue: producers push job ids, a worker claims one atomically with LMOVE
DEL jobs:pending jobs:processing
HSET job:1 kind email to ada@example.com status queued
HSET job:2 kind thumbnail image cat.png status queued
HSET job:3 kind report month 2024-05 status queued
LPUSH jobs:pending 1 2 3
# A worker claims the oldest job: it moves to jobs:processing in one step
LMOVE jobs:pending jobs:processing RIGHT LEFT
HSET job:1 status running
# ... the work is done: remove it from processing and record the result
LREM jobs:processing 1 1
HSET job:1 status done
LRANGE jobs:pending 0 -1
HGETALL job:1`,
};
