// The npm package in Node.js, installed from its packed tarball in a fresh directory: a
// scenario over every data type the engine has (dataset.json), the three ways to send commands,
// replies as JS values, errors, expiry on the real clock, export/import, and close.
// Usage: node node_scenario.mjs DATASET_JSON [EXPORT_FILE]  (EXPORT_FILE: where to write the
// exported database for the native server to open)
import { readFileSync, writeFileSync } from "node:fs";
import assert from "node:assert/strict";
import { open } from "diskdb";
import { canon, isUnknownCommand, matches, parseExpected, run, show } from "./canon.mjs";

const [datasetPath, exportPath] = process.argv.slice(2);
const groups = JSON.parse(readFileSync(datasetPath, "utf8")).groups;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const failures = [];
function check(label, actual, expectedText) {
  const expected = parseExpected(expectedText);
  if (!matches(actual, expected)) failures.push(`${label}: got ${show(actual)}, want ${expectedText}`);
}

const db = await open({ storage: "memory" });
assert.equal(db.storage, "memory");

// Every data type: written with executeArgs, read back with both execute() and executeArgs().
const active = [];
for (const g of groups) {
  const replies = [];
  for (const argv of g.writes) replies.push(await run(db, argv));
  if (replies.some(isUnknownCommand)) {
    console.log(`  (skipped: ${g.type} — no ${g.requires.toUpperCase()} in this engine yet)`);
    continue;
  }
  replies.forEach((r, i) => {
    if (r && typeof r === "object" && "error" in r) failures.push(`${JSON.stringify(g.writes[i])}: ${r.error}`);
  });
  active.push(g);
}
const quote = (arg) => `"${arg.replace(/[\\"]/g, "\\$&").replace(/\n/g, "\\n")}"`;
async function verify(label, handle) {
  for (const g of active) {
    for (const [argv, want] of g.checks) {
      check(`${label} executeArgs ${JSON.stringify(argv)}`, await run(handle, argv), want);
      check(`${label} execute ${argv.map(quote).join(" ")}`, await run(handle, argv.map(quote).join(" ")), want);
    }
  }
  const keys = active.flatMap((g) => g.keys);
  check(`${label} KEYS *`, await run(handle, "KEYS *"), "~" + JSON.stringify(keys));
  check(`${label} DBSIZE`, await run(handle, "DBSIZE"), String(keys.length));
}
await verify("memory", db);
console.log(`  data types: ${active.map((g) => g.type).join(", ")}`);

// Reply values.
assert.equal(await db.execute("SET n 10"), "OK");
assert.equal(await db.execute("INCR n"), 11);
assert.equal(await db.execute("INCRBY huge 9007199254740993"), 9007199254740993n);
assert.equal(await db.execute("GET nothing"), null);
assert.deepEqual(await db.execute("MGET n nothing"), ["11", null]);
assert.deepEqual(await db.execute(""), null);
await db.executeArgs(["SET", new Uint8Array([0xff, 0x00, 0x01]), new Uint8Array([0xc3, 0x28])]);
assert.deepEqual(await db.executeArgs(["GET", new Uint8Array([0xff, 0x00, 0x01])]), new Uint8Array([0xc3, 0x28]));
assert.equal(await db.executeArgs(["SET", "num", 42]), "OK");
assert.equal(await db.execute("GET num"), "42");
assert.equal(await db.execute("ECHO 'it\\'s'"), "it's");
assert.deepEqual(await db.execute('ECHO "a\\tb"'), "a\tb");
// EXEC: an error inside the array is an Error element, not a rejection.
await db.execute("MULTI");
await db.execute("INCR n");
await db.execute("HSET n f v");
const exec = await db.execute("EXEC");
assert.equal(exec[0], 12);
assert.ok(exec[1] instanceof Error && exec[1].message.startsWith("WRONGTYPE"));
// RESP3: maps become objects.
assert.equal((await db.execute("HELLO 3")).proto, 3);
await db.execute("HSET h3 a 1");
assert.deepEqual(await db.execute("HGETALL h3"), { a: "1" });
await db.execute("HELLO 2");
assert.deepEqual(await db.execute("HGETALL h3"), ["a", "1"]);

// Errors: thrown with Redis's text.
await assert.rejects(db.execute("GET"), { message: "ERR wrong number of arguments for 'get' command" });
await assert.rejects(db.execute("HGET n f"), { message: "WRONGTYPE Operation against a key holding the wrong kind of value" });
await assert.rejects(db.execute('SET "unbalanced'), { message: "ERR Protocol error: unbalanced quotes in request" });
await assert.rejects(db.executeArgs([{}]), /executeArgs takes/);
await assert.rejects(db.execute(42), TypeError);

// executeResp: a pipeline in, the raw replies out; a request split across calls.
const enc = new TextEncoder();
const dec = new TextDecoder();
let pipeline = "";
for (let i = 0; i < 1000; i++) pipeline += `*3\r\n$3\r\nSET\r\n$${`p:${i}`.length}\r\np:${i}\r\n$1\r\nx\r\n`;
const out = dec.decode(await db.executeResp(enc.encode(pipeline + "GET p:999\r\n*2\r\n$3\r\nGET\r\n$3\r\np:1")));
assert.equal(out, "+OK\r\n".repeat(1000) + "$1\r\nx\r\n");
assert.equal(dec.decode(await db.executeResp(enc.encode("\r\n"))), "$1\r\nx\r\n");
assert.equal(dec.decode(await db.executeResp(enc.encode("*1\r\nbad\r\nPING\r\n"))), "-ERR Protocol error: expected '$', got 'b'\r\n");
assert.equal(dec.decode(await db.executeResp(enc.encode("PING\r\n"))), "+PONG\r\n");
await db.execute("DEL " + Array.from({ length: 1000 }, (_, i) => `p:${i}`).join(" "));

// Expiry on the real clock (Date.now()): lazy on access, and active for keys nobody reads.
assert.equal(await db.execute("SET brief v PX 100"), "OK");
assert.ok((await db.execute("PTTL brief")) > 0);
await sleep(150);
assert.equal(await db.execute("GET brief"), null);
for (let i = 0; i < 50; i++) await db.execute(`SET vol:${i} v PX 50`);
const before = await db.execute("DBSIZE");
await sleep(200);
await db.execute("PING"); // the next command runs the due active-expiry pass first
const after = await db.execute("DBSIZE");
assert.equal(before - after, 50, `active expiry removed ${before - after} of 50 keys`);
console.log("  reply values, errors, executeResp pipelines, expiry (lazy and active): ok");

// Export and import: the file opens elsewhere with every key present.
for (const k of ["n", "huge", "num", "h3", "nothing"]) await db.execute(`DEL ${k}`);
await db.executeArgs(["DEL", new Uint8Array([0xff, 0x00, 0x01])]);
const file = await db.export();
assert.ok(file instanceof Uint8Array && file.length > 0);
await verify("after export", db); // the handle stays usable
const copy = await open({ storage: "memory", data: file });
await verify("opened from export", copy);
const other = await open({ storage: "memory" });
await other.execute("SET replaced soon");
await other.import(file);
await verify("imported", other);
await assert.rejects(other.import(new Uint8Array(64 * 1024)), /not a DiskDB database/);
await verify("after a refused import", other);
if (exportPath) writeFileSync(exportPath, file);
console.log(`  export (${file.length} bytes) / import: every key present`);

// Close, and the browser-only store.
await db.close();
await assert.rejects(db.execute("PING"), /closed/);
// SHUTDOWN closes the database too (no reply, as in Redis); close() then releases the store.
await assert.rejects(copy.execute("SHUTDOWN ABORT"), { message: "ERR No shutdown in progress." });
assert.equal(await copy.execute("SHUTDOWN"), null);
await assert.rejects(copy.execute("PING"), /closed/);
await copy.close();
await assert.rejects(open({ storage: "opfs", name: "x" }), /needs a browser/);
await assert.rejects(open({ storage: "disk" }), /unknown storage/);
await assert.rejects(open({ name: "../x" }), /invalid database name/);

if (failures.length) {
  for (const f of failures) console.log("FAIL " + f);
  process.exit(1);
}
console.log("node scenario: ok");
