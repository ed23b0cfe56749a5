// ioredis drives DiskDB through two scenarios a Node backend runs: a job queue (producers LPUSH,
// workers block on BRPOP) and a pub/sub chat. Usage: node ioredis_scenario.mjs PORT
import Redis from "ioredis";

const port = Number(process.argv[2]);
const connect = () => new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1 });
let checks = 0;
function check(cond, what) {
  if (!cond) {
    console.error(`ioredis scenario failed: ${what}`);
    process.exit(1);
  }
  checks += 1;
}

// --- Job queue: 2 workers block on BRPOP; a producer pushes 50 jobs; each runs exactly once. ---
const producer = connect();
await producer.del("jobs", "done");
const done = [];
async function worker(name) {
  const conn = connect();
  for (;;) {
    const job = await conn.brpop("jobs", 1);
    if (job === null) break; // queue drained: the 1-second timeout returns null
    check(job[0] === "jobs", "BRPOP names the list");
    done.push(job[1]);
    await conn.rpush("done", `${job[1]}:${name}`);
  }
  conn.disconnect();
}
const workers = [worker("w1"), worker("w2")];
await new Promise((r) => setTimeout(r, 200)); // both workers are blocked now
for (let i = 0; i < 50; i++) await producer.lpush("jobs", `job-${i}`);
await Promise.all(workers);
check(done.length === 50, `50 jobs done, got ${done.length}`);
check(new Set(done).size === 50, "no job ran twice");
check((await producer.llen("done")) === 50, "completion log has 50 entries");
check((await producer.llen("jobs")) === 0, "queue empty");
check(done.slice(0, 3).join() === "job-0,job-1,job-2", `FIFO order: ${done.slice(0, 3)}`);

// --- Pub/sub chat: two members subscribe; messages arrive in order, with the pattern ones. ---
const alice = connect();
const bob = connect();
const got = { alice: [], bob: [] };
alice.on("message", (channel, message) => got.alice.push(`${channel}:${message}`));
bob.on("pmessage", (pattern, channel, message) => got.bob.push(`${pattern}|${channel}:${message}`));
await alice.subscribe("room:general");
await bob.psubscribe("room:*");
check((await producer.publish("room:general", "hello")) === 2, "two receivers");
check((await producer.publish("room:random", "hi")) === 1, "pattern receiver only");
await producer.publish("room:general", "bye");
await new Promise((r) => setTimeout(r, 200));
check(got.alice.join() === "room:general:hello,room:general:bye", `alice got ${got.alice}`);
check(got.bob.length === 3 && got.bob[1] === "room:*|room:random:hi", `bob got ${got.bob}`);
const numsub = await producer.pubsub("NUMSUB", "room:general");
check(numsub[1] === 1, `NUMSUB ${numsub}`);

// --- defineCommand: a custom command that is EVALSHA, with EVAL after NOSCRIPT. ---
producer.defineCommand("incrCapped", {
  numberOfKeys: 1,
  lua: `local v = redis.call('INCR', KEYS[1])
        if v > tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]); return tonumber(ARGV[1]) end
        return v`,
});
await producer.script("FLUSH");
const capped = [];
for (let i = 0; i < 4; i++) capped.push(await producer.incrCapped("capped", 3));
check(capped.join() === "1,2,3,3", `defineCommand results ${capped}`);
const piped = await producer.pipeline().incrCapped("capped2", 1).incrCapped("capped2", 1).exec();
check(piped.map(([, v]) => v).join() === "1,1", `defineCommand in a pipeline ${JSON.stringify(piped)}`);
for (const c of [alice, bob, producer]) c.disconnect();

console.log(`ioredis: ${checks} passed, 0 failed`);
