// conformance.txt against the npm package in Node.js, through execute() (redis-cli quoting and
// the JS reply values are part of what is checked). With a file of the native server's raw RESP
// replies to the same cases (conformance.py --write-raw), executeResp() must produce the same
// bytes. Run from a directory where the packed `diskdb` tarball is installed.
// Usage: node conformance.mjs CONFORMANCE_TXT [NATIVE_RAW_FILE]
import { readFileSync } from "node:fs";
import { open } from "diskdb";
import { isUnknownCommand, matches, parseCases, parseExpected, run, show } from "./canon.mjs";

const [casesPath, rawPath] = process.argv.slice(2);
const cases = parseCases(readFileSync(casesPath, "utf8"));
const db = await open({ storage: "memory" });
const probes = [...new Set(cases.flatMap((c) => c.requires))].sort();
const missing = new Set();
for (const p of probes) if (isUnknownCommand(await run(db, p))) missing.add(p);

let passed = 0;
let skipped = 0;
const failures = [];
for (const c of cases) {
  if (c.requires.some((r) => missing.has(r))) {
    skipped++;
    continue;
  }
  const actual = await run(db, c.command);
  const expected = parseExpected(c.expected);
  if (matches(actual, expected)) passed++;
  else failures.push(`  conformance.txt:${c.no}: ${c.command}\n    got  ${show(actual)}\n    want ${c.expected.trim()}`);
}
const note = skipped ? `, ${skipped} skipped (no ${[...missing].map((m) => m.toUpperCase()).join(", ")} yet)` : "";
console.log(`Node.js (npm package, execute()): ${passed} passed, ${failures.length} failed${note}`);
for (const f of failures) console.log(f);
await db.close();

if (rawPath) {
  // The same inline requests through executeResp, one at a time, as the native server got them.
  const raw = await open({ storage: "memory" });
  const enc = new TextEncoder();
  for (const p of probes) await raw.executeResp(enc.encode(p + "\r\n"));
  await raw.executeResp(enc.encode("FLUSHALL\r\n"));
  const chunks = [];
  for (const c of cases) chunks.push(await raw.executeResp(enc.encode(c.command + "\r\n")));
  const ours = Buffer.concat(chunks);
  const native = readFileSync(rawPath);
  if (Buffer.compare(ours, native) === 0) {
    console.log(`Node.js (npm package, executeResp()): the same ${ours.length} bytes of RESP as the native server`);
  } else {
    let at = 0;
    while (at < ours.length && ours[at] === native[at]) at++;
    failures.push("executeResp differs");
    console.log(`Node.js executeResp(): differs from the native server at byte ${at}:`);
    console.log(`  ours   ${JSON.stringify(ours.subarray(at, at + 80).toString("latin1"))}`);
    console.log(`  native ${JSON.stringify(native.subarray(at, at + 80).toString("latin1"))}`);
  }
  await raw.close();
}
process.exit(failures.length ? 1 : 0);
