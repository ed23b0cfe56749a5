// execute() throughput in Node.js (memory store): the same commands as the native baseline
// (`cargo run --release -p diskdb-wasm --example core_ops`), one await per command.
// Usage: node bench.mjs [N]
import { open } from "diskdb";

const n = Number(process.argv[2] ?? 200000);
const db = await open({ storage: "memory" });
for (const [name, make] of [
  ["SET", (i) => `SET key:${i % 10000} value-${i % 10000}`],
  ["GET", (i) => `GET key:${i % 10000}`],
]) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await db.execute(make(i));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`node execute() ${name}: ${Math.round(n / secs)} ops/s (${n} ops)`);
}
await db.close();
